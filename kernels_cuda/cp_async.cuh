/* cp_async.cuh — asynchronous global-to-shared copies (sm_80+), shared by the kernels that
 * stage tiles through shared memory (matmul_q.cu's prefill GEMM, attention.cu). */
#ifndef QUANTA_KERNELS_CUDA_CP_ASYNC_CUH
#define QUANTA_KERNELS_CUDA_CP_ASYNC_CUH

#include <stdint.h>

/* The shared-memory address of a generic pointer into shared memory. */
__device__ __forceinline__ uint32_t qn_smem_u32(const void *p) { return (uint32_t)__cvta_generic_to_shared(p); }

/* 16-byte async copy; with valid = false the destination is zero-filled (0 source bytes), so
 * rows outside a matrix or sequence, stale or unwritten memory (possibly NaN) never reach the
 * products. */
__device__ __forceinline__ void qn_cp_async16(uint32_t dst, const void *src, bool valid) {
    const int n = valid ? 16 : 0;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(n) : "memory");
}
__device__ __forceinline__ void qn_cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
/* Waits until at most N committed groups are still in flight. */
template <int N> __device__ __forceinline__ void qn_cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

#endif
