/* ggml_xslab.cuh — the ggml tensor-core GEMM's activation slab (ggml_mmq_rsi_wg.cu's B operand, =17), element by
 * element: the K order within a 32-element block, where each pair of a block's f16 values goes in a token's 128
 * swizzled bytes, and the row's power of two. One definition for the two writers of the slab: the prep kernels
 * (ggml_mmq_ws_wg.cu: qn_k_gmmq_prep_xt_v / _1p) and the norms that write it for the GEMMs after them (mmq18,
 * elementwise.cu, QUANTA_CUDA_GGML_NORM_SLAB=1), so both give the same bits.
 *
 * The layout (qn_gmmq_prep_xt with sw): xt[tile = m / nb][step = k / 64][token r = m % nb][8 pieces of 16 bytes],
 * piece j (K slice (k / 8) % 8 of the step, in the kernel's K order) stored at j ^ (r % 8); each row m scaled by 2^e
 * (qn_x_pow2_exponent of its largest |x|) and xscale[m] = 2^-e; rows past M zero (xscale not written). */
#ifndef QUANTA_KERNELS_CUDA_GGML_XSLAB_CUH
#define QUANTA_KERNELS_CUDA_GGML_XSLAB_CUH

#include "mma_f16.cuh"

#define QN_XSLAB_BK 64  /* K a step: ggml_mmq.cuh's QN_GMMQ_BK (static_assert in ggml_mmq.cu) */
#define QN_XSLAB_NB 256 /* the kept slab's token tile (qn_cuda_ggml_mmq_x's xnb) */

/* The K order of ggml_mmq_rsi_wg.cu (mmq15): within each 32-element block, element v of the kernel's order is x's (and
 * the weight's) element qn_gmmq_kperm(perm, v) — a permutation, so the sums are the same products. It lets each lane
 * of a consumer warp take all 8 (Q4_0) or 16 (Q8_0) codes it needs of a block row from one or two aligned 32-bit
 * shared-memory words, already paired the way the magic-number decode wants them. Lane t (= (v % 16 % 8) / 2) of
 * wgmma's A layout holds, per k16 half h = v / 16, the elements at p = v % 16 in {2t, 2t + 1} (register 0) and
 * {8 + 2t, 9 + 2t} (register 2); i = p % 2 picks the register's half.
 * perm 1, Q4_0 (code byte j: low nibble = element j, high = j + 16): the lane's word holds code bytes B0..B3; register
 * 0 = the nibbles of (B0, B2), register 2 = (B1, B3), half h the low (0) or high (1) nibbles. Blocks sit 18 bytes
 * apart in shared memory (rows of 144 bytes), so a block's codes start 2 (even block) or 0 (odd) bytes into a word:
 * odd blocks give lane t bytes 4t .. 4t + 3; even blocks bytes 2 + 4t .. for t < 3, and lane 3 the two bytes on
 * either side (0, 1, 14, 15: the word that also holds the scale, and the word that also holds the next scale).
 * perm 2, Q8_0 (34-byte blocks): the lane's two words A (half 0: register 0 = bytes 0, 1, register 2 = bytes 2, 3)
 * and B (half 1); odd blocks: A = bytes 4t .., B = 16 + 4t ..; even: A = 2 + 4t .., B = 18 + 4t .. for t < 3, lane 3's
 * B = bytes 0, 1, 30, 31. These word choices also keep a warp's loads on 32 distinct banks (rows 144 / 272 bytes
 * apart = 4 banks). */
__host__ __device__ __forceinline__ int qn_gmmq_kperm_v(int perm, int v, bool odd) {
    const int h = v >> 4, p = v & 15, t = (p & 7) >> 1, i = p & 1;
    if (perm == 1) {
        const int b = p < 8 ? 2 * i : 1 + 2 * i; /* the code byte of the lane's word */
        const int j = odd ? 4 * t + b : t < 3 ? 2 + 4 * t + b : (b < 2 ? b : 12 + b);
        return 16 * h + j;
    }
    const int b = (p < 8 ? 0 : 2) + i; /* byte of word A (h = 0) or B (h = 1) */
    if (odd) return 16 * h + 4 * t + b;
    if (h == 0 || t < 3) return 16 * h + 2 + 4 * t + b;
    return b < 2 ? b : 28 + b;
}
__host__ __device__ __forceinline__ int64_t qn_gmmq_kperm(int perm, int64_t k) {
    return (k & ~(int64_t)31) + qn_gmmq_kperm_v(perm, (int)(k & 31), (k >> 5) & 1);
}

/* The row's factor 2^e for the largest |x| mx (qn_x_pow2_exponent), and in *inv the xscale the epilogue applies. */
__device__ __forceinline__ float qn_xslab_factor(float mx, float *inv) {
    const int e = qn_x_pow2_exponent(mx);
    *inv = ldexpf(1.0f, -e);
    return ldexpf(1.0f, e);
}

/* Token m's 128 bytes of the step that holds 32-element block c (nb-token tiles, KT steps a row). */
__device__ __forceinline__ uint4 *qn_xslab_row(uint4 *xt4, int64_t KT, int nb, int64_t m, int64_t c) {
    return xt4 + (((m / nb) * KT + (c >> 1)) * nb + m % nb) * 8;
}

/* Word w (0 .. 15) of 32-element block's 64 bytes (odd: the block's parity, its half of the step), for token r of its
 * tile: *k0, *k1 the block's elements (x's order) it holds, low half first; returns the word's index among the token's
 * 32 words of the step (piece 4 odd + w / 4 swizzled to that ^ (r % 8), word w % 4 of it). perm 0: no permutation. */
__host__ __device__ __forceinline__ int qn_xslab_word(int perm, bool odd, int w, int r, int *k0, int *k1) {
    const int v0 = 2 * w;
    *k0 = perm ? qn_gmmq_kperm_v(perm, v0, odd) : v0;
    *k1 = perm ? qn_gmmq_kperm_v(perm, v0 + 1, odd) : v0 + 1;
    const int j = 4 * (odd ? 1 : 0) + (w >> 2);
    return (j ^ (r & 7)) * 4 + (w & 3);
}

/* The word's two values: each x f rounded once to f16 (f a power of two, so the product is exact but for
 * under/overflow, which qn_x_pow2_exponent's range avoids). */
__device__ __forceinline__ uint32_t qn_xslab_pack(float a, float b, float f) {
    return qn_h2u(__floats2half2_rn(a * f, b * f));
}

#endif
