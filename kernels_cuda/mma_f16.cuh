/* mma_f16.cuh — the f16 tensor-core pieces the quantized matmuls share (matmul_q.cu for Quanta's
 * formats, ggml_mmq.cu for ggml blocks): mma.sync m16n8k16 with f32 sums, ldmatrix, f16x2 <-> bits,
 * and the power of two that brings an activation row into f16's comfortable range. */
#ifndef QUANTA_KERNELS_CUDA_MMA_F16_CUH
#define QUANTA_KERNELS_CUDA_MMA_F16_CUH

#include "cuda_common.cuh"

/* c += a (16x16, row) . b (16x8, col): a0 row g k 2t..2t+1, a1 row g+8, a2 row g k 8+2t.., a3 row
 * g+8 k 8+2t..; b0 k 2t..2t+1 column g, b1 k 8+2t..; c0,c1 row g columns 2t, 2t+1, c2,c3 row g+8
 * (g = lane / 4, t = lane % 4). */
__device__ __forceinline__ void qn_mma16816(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

/* Four (two) 8x8 b16 matrices from shared memory: lanes 8j..8j+7 give the row addresses of matrix
 * j; register j of lane l holds row l / 4, columns 2 (l % 4) and 2 (l % 4) + 1 of matrix j. */
__device__ __forceinline__ void qn_ldsm_x4(uint32_t addr, uint32_t &r0, uint32_t &r1, uint32_t &r2, uint32_t &r3) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
                 : "r"(addr));
}
__device__ __forceinline__ void qn_ldsm_x2(uint32_t addr, uint32_t &r0, uint32_t &r1) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];\n" : "=r"(r0), "=r"(r1) : "r"(addr));
}

__device__ __forceinline__ uint32_t qn_h2u(__half2 h) { return *reinterpret_cast<uint32_t *>(&h); }
__device__ __forceinline__ __half2 qn_u2h(uint32_t u) { return *reinterpret_cast<__half2 *>(&u); }

/* The e with a row of largest |x| = mx scaled by 2^e into [2^13, 2^14): no overflow, no subnormals
 * in f16 (0 for an all-zero or non-finite row); the epilogue multiplies by 2^-e. */
__device__ __forceinline__ int qn_x_pow2_exponent(float mx) {
    int e = 0;
    if (mx > 0.0f && isfinite(mx)) {
        int ex;
        frexpf(mx, &ex);      /* mx in [2^(ex-1), 2^ex) */
        e = 14 - ex;
        if (e > 100) e = 100; /* keep 2^e finite in f32 */
    }
    return e;
}

#endif
