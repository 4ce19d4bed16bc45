/* cuda_common.cuh — device helpers shared by the CUDA kernels: dtype-generic loads and
 * stores (activations arrive as f32, f16 or bf16; the dtype is a kernel argument because a
 * uniform branch costs little next to a memory access), launch-error capture, grid sizing. */
#ifndef QUANTA_KERNELS_CUDA_COMMON_CUH
#define QUANTA_KERNELS_CUDA_COMMON_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "cuda_kernels.h" /* and through it formats/layout.h: dtype codes, format constants */

/* The NF4 code book (layout.h's QN_NF4_BOOK_INIT), one copy per kernel file that decodes NF4. */
static __constant__ float qn_nf4_book_dev[16] = QN_NF4_BOOK_INIT;

__device__ __forceinline__ float qn_ld(int dt, const void *p, int64_t i) {
    if (dt == QN_DT_F32) return ((const float *)p)[i];
    if (dt == QN_DT_F16) return __half2float(((const __half *)p)[i]);
    return __bfloat162float(((const __nv_bfloat16 *)p)[i]);
}

__device__ __forceinline__ void qn_st(int dt, void *p, int64_t i, float v) {
    if (dt == QN_DT_F32)
        ((float *)p)[i] = v;
    else if (dt == QN_DT_F16)
        ((__half *)p)[i] = __float2half_rn(v);
    else
        ((__nv_bfloat16 *)p)[i] = __float2bfloat16_rn(v);
}

static inline int qn_cu_launch_status(void) { return (int)cudaGetLastError(); }

static inline unsigned qn_cu_blocks(int64_t n, int threads, unsigned cap) {
    int64_t b = (n + threads - 1) / threads;
    if (b < 1) b = 1;
    if (b > (int64_t)cap) b = cap;
    return (unsigned)b;
}

/* Block-wide sum of a float over blockDim.x threads (a multiple of 32, at most 1024). */
__device__ __forceinline__ float qn_block_sum(float v, float *sh) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    const int w = threadIdx.x >> 5, l = threadIdx.x & 31, nw = blockDim.x >> 5;
    __syncthreads();
    if (l == 0) sh[w] = v;
    __syncthreads();
    float t = l < nw ? sh[l] : 0.0f;
    for (int o = 16; o > 0; o >>= 1) t += __shfl_xor_sync(0xffffffffu, t, o);
    return t;
}

__device__ __forceinline__ float qn_block_max(float v, float *sh) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    const int w = threadIdx.x >> 5, l = threadIdx.x & 31, nw = blockDim.x >> 5;
    __syncthreads();
    if (l == 0) sh[w] = v;
    __syncthreads();
    float t = l < nw ? sh[l] : -INFINITY;
    for (int o = 16; o > 0; o >>= 1) t = fmaxf(t, __shfl_xor_sync(0xffffffffu, t, o));
    return t;
}

#endif
