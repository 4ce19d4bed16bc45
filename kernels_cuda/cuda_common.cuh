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

/* f(v) of a unary op (QN_UNARY_*): the unary and glu kernels and the ggml GEMV's fused glu. */
__device__ __forceinline__ float qn_act(int op, float v, float s) {
    switch (op) {
    case QN_UNARY_SILU: return v / (1.0f + expf(-v));
    /* 1 + erf(u) = erfc(-u) and 1 + tanh(u) = 2 / (1 + e^(-2u)): no cancellation for v << 0, where the
     * sum form loses every digit (a conformance case at v ~ -6 had relative error 1) */
    case QN_UNARY_GELU: return 0.5f * v * erfcf(-v * QN_F32(QN_SQRT1_2));
    case QN_UNARY_GELU_TANH:
        return v / (1.0f + expf(-2.0f * QN_F32(QN_GELU_SQRT_2_OVER_PI) * (v + QN_F32(QN_GELU_CUBIC) * v * v * v)));
    case QN_UNARY_SCALE: return v * s;
    default: return v;
    }
}

/* ---------------------------------------------------------------- programmatic dependent launch
 * A decode step is hundreds of small dependent kernels; on sm_90 a kernel launched through
 * qn_launch may be scheduled while the kernel before it in the stream is still running (its
 * blocks' launch overlaps the predecessor's tail). Every kernel launched so calls qn_pdl_begin()
 * before it reads or writes global memory: griddepcontrol.wait returns once the predecessor
 * grid has completed and its writes are visible, so results do not change; launch_dependents
 * then lets the next kernel's blocks be scheduled early. Older GPUs ignore both. A kernel
 * launched with <<<>>> is fully serialized as before. qn_cuda_pdl_on (set by the backend at
 * init: sm_90 or newer, and QUANTA_CUDA_PDL not 0) adds the launch attribute. */
extern "C" int qn_cuda_pdl_on;

__device__ __forceinline__ void qn_pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}
__device__ __forceinline__ void qn_pdl_launch() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}
__device__ __forceinline__ void qn_pdl_begin() {
    qn_pdl_wait();
    qn_pdl_launch();
}
/* A kernel may read what no kernel of the step writes (weights) before qn_pdl_wait: the ggml GEMV
 * issues its first weight loads before it, so they overlap the predecessor's tail. Waiting twice is
 * harmless (the second returns at once). */

template <typename... P, typename... A>
static inline int qn_launch(void (*kernel)(P...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream, A... args) {
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = grid;
    cfg.blockDim = block;
    cfg.dynamicSmemBytes = smem;
    cfg.stream = stream;
    cudaLaunchAttribute at = {};
    at.id = cudaLaunchAttributeProgrammaticStreamSerialization;
    at.val.programmaticStreamSerializationAllowed = 1;
    cfg.attrs = &at;
    cfg.numAttrs = qn_cuda_pdl_on ? 1 : 0;
    const cudaError_t e = cudaLaunchKernelEx(&cfg, kernel, ((P)args)...);
    return e != cudaSuccess ? (int)e : (int)cudaGetLastError();
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
