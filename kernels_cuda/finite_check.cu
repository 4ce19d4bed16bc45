/* finite_check.cu — whether any of n f32 values is Inf or NaN, on the device, for a decode step's logits check
 * (engine/cuda/cuda_backend.c read_view_f32_checked): the logits are hot in L2 right after the head GEMV wrote them
 * (Gemma 3's 262144-entry vocabulary: 1 MiB, ~1-3 us here), where the host's scan of the page-locked copy reads
 * cold lines (67 us a Gemma step on the H100 host; bench/NOTES.md section 6, flag12).
 *
 * The test is base/finite.h's bit test (an all-ones exponent), not isfinite(): the same values count on both sides,
 * and no compiler flag (fast math) can fold it away. The flag is not reset between checks: each check carries a
 * generation number, written only where a warp saw a non-finite value, and the host compares the word against the
 * generation it passed (a stale number from an earlier check is not a hit). */
#include "cuda_common.cuh"

__device__ __forceinline__ unsigned qn_bits_nonfinite(unsigned u) { return (u & 0x7f800000u) == 0x7f800000u; }

__global__ void qn_k_finite_check(const float *x, int64_t n, unsigned gen, unsigned *flag) {
    const int64_t stride = (int64_t)gridDim.x * blockDim.x;
    const int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    unsigned bad = 0;
    int64_t head = 0; /* the 16-byte loads where x is 16-byte aligned, the rest one value a thread */
    if (((uintptr_t)x & 15) == 0) {
        const uint4 *x4 = (const uint4 *)x;
        const int64_t n4 = n / 4;
        for (int64_t i = t; i < n4; i += stride) {
            const uint4 u = x4[i];
            bad |= qn_bits_nonfinite(u.x) | qn_bits_nonfinite(u.y) | qn_bits_nonfinite(u.z) | qn_bits_nonfinite(u.w);
        }
        head = n4 * 4;
    }
    for (int64_t i = head + t; i < n; i += stride) bad |= qn_bits_nonfinite(__float_as_uint(x[i]));
    /* every lane reaches the vote (blocks are whole warps); one store a warp that saw one */
    if (__any_sync(0xffffffffu, bad) && (threadIdx.x & 31) == 0) *(volatile unsigned *)flag = gen;
}

extern "C" int qn_cuda_finite_check(const float *x, int64_t n, unsigned gen, unsigned *flag, void *stream) {
    if (n <= 0) return 0;
    const int threads = 256;
    /* a 16-byte load a thread for Gemma's 1 MiB (256 blocks): the launch, not the loads, sets the time */
    const unsigned blocks = qn_cu_blocks((n + 3) / 4, threads, 1024);
    qn_k_finite_check<<<blocks, threads, 0, (cudaStream_t)stream>>>(x, n, gen, flag);
    return qn_cu_launch_status();
}
