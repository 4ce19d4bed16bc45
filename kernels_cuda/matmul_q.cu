/*
 * matmul_q.cu — y[M,N] = x[M,K] . W[N,K]^T for weights prepared by engine/cuda/cuda_repack.c
 * (layout in cuda_kernels.h), on tensor cores with mma.sync m16n8k16 (f16 in, f32 sums).
 *
 * Roles are swapped (y^T = W . x^T): weights are the A operand, so 16 weight rows fill the
 * m16 side and a decode batch of 1..8 tokens needs a single n8 column tile. Two kernels:
 *  - qn_k_mmq (M < qn_cuda_matmul_big_min_m, memory-bound): each lane streams its
 *    A-fragments from global memory with 16-byte loads (64 bytes per row tile per stage,
 *    double-buffered in registers) and converts them in registers; no shared memory;
 *    split-K when the output tiles alone cannot fill the GPU.
 *  - qn_k_mmq_big (prefill): 128x128 block tiles through a cp.async shared-memory pipeline,
 *    weights converted between shared memory and the tensor cores.
 *
 * Exactness: q8/q4 codes, fp8 values and f16 weights are exact in f16; the q4 (q - zero) is
 * exact before one f16 multiply by the group scale; per-row factors (q8/fp8 scales, the power
 * of two that keeps q4/nf4 group scales in f16 range) multiply the f32 sums. Activations are
 * converted once per call to f16 in fragment order, each row scaled by a power of two so its
 * largest value sits near 2^14 (no overflow, no subnormals), undone in the epilogue.
 * Split-K (grid.z) writes f32 partials that a second kernel sums in a fixed order
 * (deterministic), used when the output tiles alone cannot fill the GPU.
 */
#include <cuda_fp8.h>

#include "cp_async.cuh"
#include "cuda_common.cuh"
#include "mma_f16.cuh"

#define QN_MMQ_WARPS 4

/* ------------------------------------------------------------------ activation prep */

/* Block (c, m) converts chunk c (QN_PREP_CHUNK positions) of row m; every block of a row
 * computes the row's max |x| itself (the row is small and L2-resident), so the conversion is
 * one launch of many blocks rather than one latency-bound block per row. Position t*16 + ks*4
 * + h of each 64-chunk holds k = ks*16 + (h < 2 ? 2t + h : 8 + 2t + h - 2). */
#define QN_PREP_CHUNK 1024
/* km (fp820: e4m3 weights K-major only): position p of each 64-chunk holds k = 16 (p / 16) + qn_cuda_fp8_kperm(p % 16)
 * instead, the order in which qn_k_mmq's K-major form finds the weight bytes of each lane (see there). */
__global__ void __launch_bounds__(256) qn_k_prep_x(int xd, const void *x, int64_t M, int64_t K, int64_t Kp,
                                                   __half *xh, float *xscale, int km) {
    __shared__ float sh[32];
    /* fp821: launched with programmatic dependent launch before the K-major GEMV's PDL forms (qn_kmw_forms): x is
     * read only after the predecessor grid completed, then the GEMV's blocks may start loading weights; no-ops when
     * launched with <<<>>> (every other use) */
    qn_pdl_wait();
    qn_pdl_launch();
    for (int64_t m = blockIdx.y; m < M; m += gridDim.y) {
        float m0 = 0.0f, m1 = 0.0f, m2 = 0.0f, m3 = 0.0f;
        int64_t k = threadIdx.x;
        for (; k + 768 < K; k += 1024) { /* four independent loads in flight */
            m0 = fmaxf(m0, fabsf(qn_ld(xd, x, m * K + k)));
            m1 = fmaxf(m1, fabsf(qn_ld(xd, x, m * K + k + 256)));
            m2 = fmaxf(m2, fabsf(qn_ld(xd, x, m * K + k + 512)));
            m3 = fmaxf(m3, fabsf(qn_ld(xd, x, m * K + k + 768)));
        }
        for (; k < K; k += 256) m0 = fmaxf(m0, fabsf(qn_ld(xd, x, m * K + k)));
        const int e = qn_x_pow2_exponent(qn_block_max(fmaxf(fmaxf(m0, m1), fmaxf(m2, m3)), sh));
        const float f = ldexpf(1.0f, e);
        if (blockIdx.x == 0 && threadIdx.x == 0) xscale[m] = ldexpf(1.0f, -e);
        const int64_t p0 = (int64_t)blockIdx.x * QN_PREP_CHUNK;
        const int64_t p1 = p0 + QN_PREP_CHUNK < Kp ? p0 + QN_PREP_CHUNK : Kp;
        for (int64_t p = p0 + threadIdx.x; p < p1; p += blockDim.x) {
            const int64_t c = p / 64;
            const int w = (int)(p % 64), t = w / 16, ks = (w % 16) / 4, h = w % 4;
            const int64_t kk = km ? c * 64 + t * 16 + qn_cuda_fp8_kperm(w % 16)
                                  : c * 64 + ks * 16 + (h < 2 ? 2 * t + h : 8 + 2 * t + h - 2);
            xh[m * Kp + p] = __float2half_rn(kk < K ? qn_ld(xd, x, m * K + kk) * f : 0.0f);
        }
    }
}

/* ------------------------------------------------------------------ fragments */

/* 32-bit words of tile data per lane. */
template <int FMT> struct qn_fmt_traits {
    static constexpr int words = FMT == QN_CW_F16 ? 16 : (FMT == QN_CW_Q4 || FMT == QN_CW_NF4) ? 4 : 8;
    static constexpr bool grouped = FMT == QN_CW_Q4 || FMT == QN_CW_NF4;
};

/* Two e4m3 codes (low byte first) as an f16x2 register (exact). */
__device__ __forceinline__ uint32_t qn_e4m3x2_to_h2(uint32_t pair) {
    const __half2_raw h = __nv_cvt_fp8x2_to_halfraw2((__nv_fp8x2_storage_t)pair, __NV_E4M3);
    return (uint32_t)h.x | ((uint32_t)h.y << 16);
}
/* fp820's K-major e4m3: a k16 step's A registers from word ks of row g (ug) and of row g + 8 (uh), each holding the
 * lane's k pairs (2t, 2t + 1) in its low half and (2t + 8, 2t + 9) in its high half (qn_k_mmq's KM note). */
__device__ __forceinline__ void qn_e4m3_pairs_to_a(uint32_t ug, uint32_t uh, uint32_t a[4]) {
    a[0] = qn_e4m3x2_to_h2(ug & 0xFFFFu), a[1] = qn_e4m3x2_to_h2(uh & 0xFFFFu);
    a[2] = qn_e4m3x2_to_h2(ug >> 16), a[3] = qn_e4m3x2_to_h2(uh >> 16);
}

/* The four f16x2 A registers of k16 step ks from a lane's raw words. s0/z0 are the group
 * multiplier and (1024 + zero) of row g, s1/z1 of row g + 8 (q4/nf4 only). */
template <int FMT>
__device__ __forceinline__ void qn_dequant(const uint32_t *w, int ks, uint32_t a[4], __half2 s0, __half2 s1,
                                           __half2 z0, __half2 z1, const uint32_t *lut) {
    if (FMT == QN_CW_F16) {
        a[0] = w[ks * 4 + 0], a[1] = w[ks * 4 + 1], a[2] = w[ks * 4 + 2], a[3] = w[ks * 4 + 3];
    } else if (FMT == QN_CW_Q8) {
        const uint32_t u0 = w[ks * 2] ^ 0x80808080u, u1 = w[ks * 2 + 1] ^ 0x80808080u;
        const __half2 off = __half2half2(__ushort_as_half((unsigned short)0x6480)); /* 1152 = 1024 + 128 */
        a[0] = qn_h2u(__hsub2(qn_u2h(__byte_perm(u0, 0x64646464u, 0x4140)), off));
        a[1] = qn_h2u(__hsub2(qn_u2h(__byte_perm(u0, 0x64646464u, 0x4342)), off));
        a[2] = qn_h2u(__hsub2(qn_u2h(__byte_perm(u1, 0x64646464u, 0x4140)), off));
        a[3] = qn_h2u(__hsub2(qn_u2h(__byte_perm(u1, 0x64646464u, 0x4342)), off));
    } else if (FMT == QN_CW_E5M2) {
        const uint32_t u0 = w[ks * 2], u1 = w[ks * 2 + 1];
        a[0] = __byte_perm(u0, 0, 0x1404), a[1] = __byte_perm(u0, 0, 0x3424);
        a[2] = __byte_perm(u1, 0, 0x1404), a[3] = __byte_perm(u1, 0, 0x3424);
    } else if (FMT == QN_CW_E4M3) {
        const uint32_t u0 = w[ks * 2], u1 = w[ks * 2 + 1];
        const uint32_t p[4] = {u0 & 0xFFFFu, u0 >> 16, u1 & 0xFFFFu, u1 >> 16};
#pragma unroll
        for (int r = 0; r < 4; r++) a[r] = qn_e4m3x2_to_h2(p[r]);
    } else if (FMT == QN_CW_Q4) {
        const uint32_t u = w[ks];
#pragma unroll
        for (int r = 0; r < 4; r++) {
            const __half2 q = qn_u2h(((u >> (4 * r)) & 0x000F000Fu) | 0x64006400u);
            a[r] = qn_h2u(__hmul2(__hsub2(q, (r & 1) ? z1 : z0), (r & 1) ? s1 : s0));
        }
    } else { /* NF4 */
        const uint32_t u = w[ks];
#pragma unroll
        for (int r = 0; r < 4; r++) a[r] = qn_h2u(__hmul2(qn_u2h(lut[(u >> (8 * r)) & 0xFF]), (r & 1) ? s1 : s0));
    }
}

struct qn_mmq_args {
    const uint8_t *codes;
    const float *row_scale;
    const uint32_t *meta;
    int64_t N, Np, Kp, M;
    int32_t group, meta_cols;
    int32_t kps; /* k tiles per split */
    const __half *xh;
    const float *xscale;
    float *part;         /* split-K partials [S][M][N], or NULL (S = 1) */
    unsigned *counters;  /* split-K: arrivals per output tile (zero, left zero), or NULL */
    int yd;
    void *y;
};

/*
 * Block: 4 warps; warp w owns WN row tiles (16 weight rows each) and the block's 8*MT columns.
 * Each lane streams KU k-tiles per stage (16 words = 64 bytes per row tile, whatever the format,
 * so 4-bit weights keep as many bytes in flight as f16 ones), double-buffered in registers.
 *
 * KM (fp820, e4m3 only: codes K-major, [Np][Kp], cuda_kernels.h qn_cuda_fp8_km_offset): lane (g, t) loads the 16 bytes
 * [16t, 16t + 16) of the 64-byte k tile of rows g and g + 8 (two 16-byte loads, as the tiled layout's; per warp
 * instruction 8 rows x 64 contiguous bytes). Word j of those 16 bytes holds k = 16t + 2j + {0, 1, 8, 9} (kperm), the
 * pairs one lane's A fragment takes for one k16 step; so mma step ks takes word ks of row g and of row g + 8, and its
 * K positions are 16t + kperm(4 ks + i): qn_k_prep_x's km order puts x there. Each sum takes the same products as
 * the tiled form, grouped otherwise (the f32 sums may differ in the last bits).
 */
template <int FMT, int WN, int MT, int KM = 0>
__global__ void __launch_bounds__(QN_MMQ_WARPS * 32) qn_k_mmq(qn_mmq_args p) {
    static_assert(!KM || FMT == QN_CW_E4M3, "K-major codes: e4m3 only");
    typedef qn_fmt_traits<FMT> Tr;
    constexpr int AW = Tr::words;
    constexpr int KU = MT >= 4 ? (AW >= 8 ? 1 : 8 / AW) : 16 / AW; /* big MT: fewer registers */
    __shared__ uint32_t lut[FMT == QN_CW_NF4 ? 256 : 1];
    __shared__ int is_last;
    if (FMT == QN_CW_NF4) {
        for (int i = threadIdx.x; i < 256; i += blockDim.x)
            lut[i] = qn_h2u(__floats2half2_rn(qn_nf4_book_dev[i & 15], qn_nf4_book_dev[i >> 4]));
        __syncthreads();
    }
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    const int64_t NT = p.Np / 16, KT = p.Kp / 64;
    const int64_t nt0 = ((int64_t)blockIdx.x * QN_MMQ_WARPS + warp) * WN;
    const int64_t m0 = (int64_t)blockIdx.y * 8 * MT;
    const int64_t kt0 = (int64_t)blockIdx.z * p.kps;
    const int64_t kt1 = kt0 + p.kps < KT ? kt0 + p.kps : KT;
    constexpr int tile_bytes = AW * 4 * 32;

    float acc[WN][MT][4];
#pragma unroll
    for (int i = 0; i < WN; i++)
#pragma unroll
        for (int j = 0; j < MT; j++) acc[i][j][0] = acc[i][j][1] = acc[i][j][2] = acc[i][j][3] = 0.0f;

    bool row_ok[WN];
#pragma unroll
    for (int i = 0; i < WN; i++) row_ok[i] = nt0 + i < NT;
    bool col_ok[MT];
#pragma unroll
    for (int j = 0; j < MT; j++) col_ok[j] = m0 + j * 8 + g < p.M;

    uint32_t wa[2][WN][KU][AW];

    auto load = [&](int buf, int64_t ktb) {
#pragma unroll
        for (int u = 0; u < KU; u++) {
#pragma unroll
            for (int i = 0; i < WN; i++) {
                if (KM && row_ok[i] && ktb + u < kt1) {
                    const uint8_t *r0 = p.codes + ((nt0 + i) * 16 + g) * p.Kp + (ktb + u) * 64 + t * 16;
                    const uint4 q0 = __ldg(reinterpret_cast<const uint4 *>(r0));
                    const uint4 q1 = __ldg(reinterpret_cast<const uint4 *>(r0 + 8 * p.Kp));
                    wa[buf][i][u][0] = q0.x, wa[buf][i][u][1] = q0.y, wa[buf][i][u][2] = q0.z, wa[buf][i][u][3] = q0.w;
                    wa[buf][i][u][4] = q1.x, wa[buf][i][u][5] = q1.y, wa[buf][i][u][6] = q1.z, wa[buf][i][u][7] = q1.w;
                } else if (row_ok[i] && ktb + u < kt1) {
                    const uint4 *src =
                        reinterpret_cast<const uint4 *>(p.codes + ((nt0 + i) * KT + ktb + u) * tile_bytes) + lane * (AW / 4);
#pragma unroll
                    for (int v = 0; v < AW / 4; v++) {
                        const uint4 q = __ldg(src + v);
                        wa[buf][i][u][v * 4 + 0] = q.x, wa[buf][i][u][v * 4 + 1] = q.y;
                        wa[buf][i][u][v * 4 + 2] = q.z, wa[buf][i][u][v * 4 + 3] = q.w;
                    }
                } else {
#pragma unroll
                    for (int v = 0; v < AW; v++) wa[buf][i][u][v] = 0;
                }
            }
        }
    };

    /* Activation fragments and group metadata (small, cache-resident) are loaded when used. */
    auto compute = [&](int buf, int64_t ktb) {
#pragma unroll
        for (int u = 0; u < KU; u++) {
            const int64_t kt = ktb + u;
            if (kt < kt1) {
                const uint2 *xrow[MT];
#pragma unroll
                for (int j = 0; j < MT; j++)
                    xrow[j] = reinterpret_cast<const uint2 *>(p.xh + (m0 + j * 8 + g) * p.Kp + kt * 64 + t * 16);
                uint32_t mt[WN][4];
#pragma unroll
                for (int i = 0; i < WN; i++) {
                    mt[i][0] = mt[i][1] = mt[i][2] = mt[i][3] = 0;
                    if (Tr::grouped && row_ok[i]) {
                        const int64_t r0 = (nt0 + i) * 16 + g;
                        const int64_t ga = kt * 64 / p.group, gb = (kt * 64 + 32) / p.group;
                        mt[i][0] = __ldg(p.meta + r0 * p.meta_cols + ga);
                        mt[i][1] = __ldg(p.meta + r0 * p.meta_cols + gb);
                        mt[i][2] = __ldg(p.meta + (r0 + 8) * p.meta_cols + ga);
                        mt[i][3] = __ldg(p.meta + (r0 + 8) * p.meta_cols + gb);
                    }
                }
#pragma unroll
                for (int ks = 0; ks < 4; ks++) {
                    uint2 xb[MT]; /* this k16 step's B fragment of each column tile */
#pragma unroll
                    for (int j = 0; j < MT; j++) xb[j] = col_ok[j] ? __ldg(xrow[j] + ks) : make_uint2(0u, 0u);
#pragma unroll
                    for (int i = 0; i < WN; i++) {
                        uint32_t a[4];
                        __half2 s0 = __half2half2(__ushort_as_half(0)), s1 = s0, z0 = s0, z1 = s0;
                        if (Tr::grouped) {
                            const uint32_t m_0 = mt[i][ks >> 1], m_1 = mt[i][2 + (ks >> 1)];
                            s0 = qn_u2h(__byte_perm(m_0, 0, 0x1010)), z0 = qn_u2h(__byte_perm(m_0, 0, 0x3232));
                            s1 = qn_u2h(__byte_perm(m_1, 0, 0x1010)), z1 = qn_u2h(__byte_perm(m_1, 0, 0x3232));
                        }
                        if (KM) { /* rows g / g + 8, k pairs (0, 1) and (8, 9) of this lane's word ks */
                            qn_e4m3_pairs_to_a(wa[buf][i][u][ks], wa[buf][i][u][4 + ks], a);
                        } else {
                            qn_dequant<FMT>(wa[buf][i][u], ks, a, s0, s1, z0, z1, lut);
                        }
#pragma unroll
                        for (int j = 0; j < MT; j++) qn_mma16816(acc[i][j], a, xb[j].x, xb[j].y);
                    }
                }
            }
        }
    };

    if (kt0 < kt1) {
        load(0, kt0);
        for (int64_t kt = kt0; kt < kt1; kt += 2 * KU) {
            if (kt + KU < kt1) load(1, kt + KU);
            compute(0, kt);
            if (kt + KU >= kt1) break;
            if (kt + 2 * KU < kt1) load(0, kt + 2 * KU);
            compute(1, kt + KU);
        }
    }

    /* c0,c1: row g, columns 2t, 2t+1; c2,c3: row g+8. */
#pragma unroll
    for (int i = 0; i < WN; i++) {
        if (!row_ok[i]) continue;
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const int64_t n = (nt0 + i) * 16 + g + 8 * h;
            if (n >= p.N) continue;
            const float rs = p.row_scale[n];
#pragma unroll
            for (int j = 0; j < MT; j++) {
#pragma unroll
                for (int c = 0; c < 2; c++) {
                    const int64_t m = m0 + j * 8 + 2 * t + c;
                    if (m >= p.M) continue;
                    const float v = acc[i][j][2 * h + c];
                    if (p.part)
                        p.part[((int64_t)blockIdx.z * p.M + m) * p.N + n] = v;
                    else
                        qn_st(p.yd, p.y, m * p.N + n, v * rs * p.xscale[m]);
                }
            }
        }
    }
    if (!p.part || !p.counters) return; /* uniform: no barrier is skipped by part of the block */

    /* Split-K: the last block of this output tile to arrive sums the partials in split order
     * (deterministic) and writes y, then re-arms the counter. */
    __threadfence();
    __syncthreads();
    const unsigned tile = blockIdx.y * gridDim.x + blockIdx.x;
    if (threadIdx.x == 0) is_last = atomicAdd(&p.counters[tile], 1u) == gridDim.z - 1;
    __syncthreads();
    if (!is_last) return;
    __threadfence();
    constexpr int R = QN_MMQ_WARPS * WN * 16, C = 8 * MT;
    const int64_t nb = (int64_t)blockIdx.x * R;
    const int64_t total = p.M * p.N;
    for (int e = threadIdx.x; e < R * C; e += blockDim.x) {
        const int64_t n = nb + e % R, m = m0 + e / R;
        if (n >= p.N || m >= p.M) continue;
        float sum = 0.0f;
        for (unsigned z = 0; z < gridDim.z; z++) sum += __ldcg(p.part + (int64_t)z * total + m * p.N + n);
        qn_st(p.yd, p.y, m * p.N + n, sum * p.row_scale[n] * p.xscale[m]);
    }
    if (threadIdx.x == 0) p.counters[tile] = 0;
}

/* ------------------------------------------------------------------ K-major e4m3, a block's warps along K (fp821) */

/*
 * fp821: the decode GEMV on K-major e4m3 codes (fp820's layout) with one row tile per block and the block's W warps
 * side by side along K. fp820's form (qn_k_mmq KM) gives a warp 2 row tiles and a split-K piece of K / S, and with
 * 16-row tiles S must reach 7-8 to fill the GPU: a row of 4 KB is then read in 512-640 byte pieces by S warps of
 * different blocks at different times, where the tiled layout's warp reads its row tile's piece as one 8-10 KB run
 * (session 20 call 2: that form 3-14% slower at M <= 8). Here warp w of a block takes the chunks of KU k tiles
 * w, w + W, w + 2W, ... of the block's K range: each block step reads W * KU * 64 contiguous bytes of each of the 16
 * rows, the next step the next run, so one SM reads each row front to back in one stretch, and the grid needs W x
 * fewer row pieces (S 1-2 on the 7B/13B shapes). The fragment words and x's order are fp820's (qn_e4m3_pairs_to_a,
 * qn_k_prep_x km): the same products, summed per warp and then over the W warps in warp order through shared memory
 * (fixed: deterministic; another grouping of the f32 sums than fp820's form, within the same bound). Split-K, where
 * used, as qn_k_mmq's (partials, the last block of a tile sums them in split order). PDL (forms 5, 6): the x prep and
 * this kernel launched with programmatic dependent launch, this kernel's first weight loads issued before it waits for
 * the prep (the same values: only when the loads start changes).
 */
template <int MT, int W, int KU, int PDL>
__global__ void __launch_bounds__(W * 32) qn_k_mmq_kmw(qn_mmq_args p) {
    __shared__ float red[W - 1][MT * 4][32];
    __shared__ int is_last;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    const int64_t KT = p.Kp / 64;
    const int64_t nt = blockIdx.x;
    const int64_t m0 = (int64_t)blockIdx.y * 8 * MT;
    const int64_t kt0 = (int64_t)blockIdx.z * p.kps;
    const int64_t kt1 = kt0 + p.kps < KT ? kt0 + p.kps : KT;
    constexpr int CH = W * KU; /* k tiles per block step */

    float acc[MT][4];
#pragma unroll
    for (int j = 0; j < MT; j++) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.0f;
    bool col_ok[MT];
#pragma unroll
    for (int j = 0; j < MT; j++) col_ok[j] = m0 + j * 8 + g < p.M;
    /* rows g and g + 8 of the tile (Np rows exist: the padding rows are zeros), this lane's 16 bytes of each k tile */
    const uint8_t *r0 = p.codes + (nt * 16 + g) * p.Kp + t * 16;
    const int64_t r8 = 8 * p.Kp;

    uint32_t wa[2][KU][8];
    auto load = [&](int buf, int64_t ktb) {
#pragma unroll
        for (int u = 0; u < KU; u++) {
            if (ktb + u < kt1) {
                const uint4 q0 = __ldg(reinterpret_cast<const uint4 *>(r0 + (ktb + u) * 64));
                const uint4 q1 = __ldg(reinterpret_cast<const uint4 *>(r0 + r8 + (ktb + u) * 64));
                wa[buf][u][0] = q0.x, wa[buf][u][1] = q0.y, wa[buf][u][2] = q0.z, wa[buf][u][3] = q0.w;
                wa[buf][u][4] = q1.x, wa[buf][u][5] = q1.y, wa[buf][u][6] = q1.z, wa[buf][u][7] = q1.w;
            } else {
#pragma unroll
                for (int v = 0; v < 8; v++) wa[buf][u][v] = 0;
            }
        }
    };
    auto compute = [&](int buf, int64_t ktb) {
#pragma unroll
        for (int u = 0; u < KU; u++) {
            const int64_t kt = ktb + u;
            if (kt < kt1) {
                const uint2 *xrow[MT];
#pragma unroll
                for (int j = 0; j < MT; j++)
                    xrow[j] = reinterpret_cast<const uint2 *>(p.xh + (m0 + j * 8 + g) * p.Kp + kt * 64 + t * 16);
#pragma unroll
                for (int ks = 0; ks < 4; ks++) {
                    uint2 xb[MT];
#pragma unroll
                    for (int j = 0; j < MT; j++) xb[j] = col_ok[j] ? __ldg(xrow[j] + ks) : make_uint2(0u, 0u);
                    uint32_t a[4];
                    qn_e4m3_pairs_to_a(wa[buf][u][ks], wa[buf][u][4 + ks], a);
#pragma unroll
                    for (int j = 0; j < MT; j++) qn_mma16816(acc[j], a, xb[j].x, xb[j].y);
                }
            }
        }
    };

    int64_t kt = kt0 + (int64_t)warp * KU;
    if (kt < kt1) load(0, kt);
    /* PDL forms: the first weight loads (nothing of this step writes them) are in flight before the wait for the x
     * prep (the grid before this one); x, y, the partials and the counters are touched only after it */
    if (PDL) qn_pdl_wait(), qn_pdl_launch();
    if (kt < kt1) {
        for (;; kt += 2 * CH) {
            if (kt + CH < kt1) load(1, kt + CH);
            compute(0, kt);
            if (kt + CH >= kt1) break;
            if (kt + 2 * CH < kt1) load(0, kt + 2 * CH);
            compute(1, kt + CH);
            if (kt + 2 * CH >= kt1) break;
        }
    }

    /* the W warps' sums in warp order */
    if (warp > 0) {
#pragma unroll
        for (int j = 0; j < MT; j++)
#pragma unroll
            for (int r = 0; r < 4; r++) red[warp - 1][j * 4 + r][lane] = acc[j][r];
    }
    __syncthreads();
    if (warp == 0) {
#pragma unroll 1
        for (int w = 0; w < W - 1; w++)
#pragma unroll
            for (int j = 0; j < MT; j++)
#pragma unroll
                for (int r = 0; r < 4; r++) acc[j][r] += red[w][j * 4 + r][lane];
        /* c0,c1: row g, columns 2t, 2t+1; c2,c3: row g+8 */
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const int64_t n = nt * 16 + g + 8 * h;
            if (n >= p.N) continue;
            const float rs = p.row_scale[n];
#pragma unroll
            for (int j = 0; j < MT; j++) {
#pragma unroll
                for (int c = 0; c < 2; c++) {
                    const int64_t m = m0 + j * 8 + 2 * t + c;
                    if (m >= p.M) continue;
                    const float v = acc[j][2 * h + c];
                    if (p.part)
                        p.part[((int64_t)blockIdx.z * p.M + m) * p.N + n] = v;
                    else
                        qn_st(p.yd, p.y, m * p.N + n, v * rs * p.xscale[m]);
                }
            }
        }
    }
    if (!p.part || !p.counters) return; /* uniform */

    /* split-K as qn_k_mmq's: the last block of this output tile sums the partials in split order */
    __threadfence();
    __syncthreads();
    const unsigned tile = blockIdx.y * gridDim.x + blockIdx.x;
    if (threadIdx.x == 0) is_last = atomicAdd(&p.counters[tile], 1u) == gridDim.z - 1;
    __syncthreads();
    if (!is_last) return;
    __threadfence();
    constexpr int R = 16, C = 8 * MT;
    const int64_t nb = nt * 16;
    const int64_t total = p.M * p.N;
    for (int e = threadIdx.x; e < R * C; e += blockDim.x) {
        const int64_t n = nb + e % R, m = m0 + e / R;
        if (n >= p.N || m >= p.M) continue;
        float sum = 0.0f;
        for (unsigned z = 0; z < gridDim.z; z++) sum += __ldcg(p.part + (int64_t)z * total + m * p.N + n);
        qn_st(p.yd, p.y, m * p.N + n, sum * p.row_scale[n] * p.xscale[m]);
    }
    if (threadIdx.x == 0) p.counters[tile] = 0;
}

/* The K-major GEMV's forms (qn_cuda_matmul_km_form): 0 = fp820's qn_k_mmq KM (2 row tiles a warp, split-K to 16 warps
 * an SM); 1.. = qn_k_mmq_kmw with W warps a block, KU k tiles a warp step, split-K only until the grid has TW warps
 * an SM (and never below one block step of K a piece), PDL: prep and GEMV with programmatic dependent launch (where
 * qn_cuda_pdl_on: sm_90, QUANTA_CUDA_PDL not 0). */
struct qn_kmw_form {
    int W, KU, TW, PDL;
};
static const qn_kmw_form qn_kmw_forms[] = {{0, 0, 0, 0},   {8, 2, 16, 0}, {4, 4, 16, 0}, {8, 4, 16, 0},
                                           {8, 2, 32, 0}, {8, 2, 16, 1}, {4, 4, 16, 1}, {8, 2, 16, 1}};
/* Form 7 (fp821, from the H100 call of 15:09: `fp8_check gemv`, 9 rounds): form 5 up to M = 32 (0.75-0.94 of the tiled
 * GEMV's time at M = 1..8 on every 7B/13B shape, the best form there), form 6 above (M = 48: 0.65-0.91 where form 5's
 * 8 warps at 174 registers, one block an SM, took 1.30 at 32000 x 4096) */
#define QN_KMW_FORM_BY_M 7
static int qn_kmw_form_for(int form, int64_t M) { return form == QN_KMW_FORM_BY_M ? (M > 32 ? 6 : 5) : form; }
#define QN_KMW_FORMS ((int)(sizeof qn_kmw_forms / sizeof qn_kmw_forms[0]))
static_assert(QN_KMW_FORMS == QN_CUDA_MATMUL_KM_FORMS, "cuda_kernels.h's count of the K-major GEMV's forms");
#ifndef QN_KMW_FORM_DEFAULT
#define QN_KMW_FORM_DEFAULT 7 /* fp821: forms 5 / 6 by M, from the H100 call of 15:09 (NOTES fp821) */
#endif
extern "C" {
int qn_cuda_matmul_km_form = -1;
}
/* The form in use: qn_cuda_matmul_km_form if set (benches), else QUANTA_CUDA_FP8_KMG (one digit, read once), else
 * QN_KMW_FORM_DEFAULT. */
static int qn_kmw_form_now() {
    static int env = -2; /* -2: not read yet; a race only repeats the same read */
    if (qn_cuda_matmul_km_form >= 0 && qn_cuda_matmul_km_form < QN_KMW_FORMS) return qn_cuda_matmul_km_form;
    if (env == -2) {
        const char *e = getenv("QUANTA_CUDA_FP8_KMG");
        env = e && e[0] >= '0' && e[0] < '0' + QN_KMW_FORMS && !e[1] ? e[0] - '0' : -1;
    }
    return env >= 0 ? env : QN_KMW_FORM_DEFAULT;
}

/* ------------------------------------------------------------------ prefill (M > 64) */

/*
 * Block tile: 128 weight rows x 128 columns (tokens), 8 warps as 2 (rows) x 4 (columns), each
 * warp 64 x 32 (4 row tiles x 4 column tiles, 64 f32 sums per lane). Per 64-wide k step, the
 * block's 8 weight tiles (raw codes, lane-major as in global memory) and the 16 activation
 * column tiles (re-laid lane-major: lane (g,t) of column tile j finds its four B fragments in
 * 32 contiguous bytes) stream into shared memory with cp.async, QN_BIG_STAGES deep; warps read
 * both with 16-byte conflict-free loads and convert the weights between shared memory and the
 * tensor cores. Each converted weight fragment feeds 4 mma, each activation fragment 4.
 */
#define QN_BIG_STAGES 3
#define QN_BIG_ROWS 128
#define QN_BIG_COLS 128


template <int FMT> struct qn_big_cfg {
    static constexpr int AW = qn_fmt_traits<FMT>::words;
    static constexpr int tile_bytes = AW * 4 * 32;
    static constexpr int a_bytes = 8 * tile_bytes;           /* 8 row tiles */
    static constexpr int b_bytes = 16 * 32 * 32;             /* 16 column tiles x 32 lanes x 32 B */
    static constexpr int stage_bytes = a_bytes + b_bytes;
    static constexpr int smem = QN_BIG_STAGES * stage_bytes;
};

template <int FMT>
__global__ void __launch_bounds__(256, 1) qn_k_mmq_big(qn_mmq_args p) {
    typedef qn_fmt_traits<FMT> Tr;
    typedef qn_big_cfg<FMT> Cfg;
    constexpr int AW = Cfg::AW;
    extern __shared__ __align__(16) uint8_t qn_big_smem[];
    __shared__ uint32_t lut[FMT == QN_CW_NF4 ? 256 : 1];
    if (FMT == QN_CW_NF4)
        for (int i = threadIdx.x; i < 256; i += blockDim.x)
            lut[i] = qn_h2u(__floats2half2_rn(qn_nf4_book_dev[i & 15], qn_nf4_book_dev[i >> 4]));

    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
    const int wn = warp & 1, wm = warp >> 1;
    const int64_t NT = p.Np / 16, KT = p.Kp / 64;
    const int64_t ntb = (int64_t)blockIdx.x * 8;        /* first row tile of the block */
    const int64_t mb = (int64_t)blockIdx.y * QN_BIG_COLS; /* first column of the block */

    auto issue = [&](int slot, int64_t kt) {
        uint8_t *As = qn_big_smem + slot * Cfg::stage_bytes;
        uint8_t *Bs = As + Cfg::a_bytes;
        constexpr int a_chunks = Cfg::a_bytes / 16;
        for (int c = tid; c < a_chunks; c += 256) {
            const int tile = c / (Cfg::tile_bytes / 16), within = c % (Cfg::tile_bytes / 16);
            const int64_t nt = ntb + tile;
            const bool ok = nt < NT;
            const uint8_t *src = p.codes + ((ok ? nt : 0) * KT + kt) * Cfg::tile_bytes + within * 16;
            qn_cp_async16(qn_smem_u32(As + c * 16), src, ok);
        }
        /* B: chunk c -> column tile j, lane l, half h (16 of the lane's 32 bytes) */
        for (int c = tid; c < 16 * 32 * 2; c += 256) {
            const int j = c >> 6, l = (c >> 1) & 31, h = c & 1;
            const int64_t m = mb + j * 8 + (l >> 2);
            const bool ok = m < p.M;
            const __half *src = p.xh + (ok ? m : 0) * p.Kp + kt * 64 + (l & 3) * 16 + h * 8;
            qn_cp_async16(qn_smem_u32(Bs + c * 16), src, ok);
        }
    };

    float acc[4][4][4];
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j][0] = acc[i][j][1] = acc[i][j][2] = acc[i][j][3] = 0.0f;

#pragma unroll
    for (int st = 0; st < QN_BIG_STAGES - 1; st++) {
        if (st < KT) issue(st, st);
        qn_cp_async_commit();
    }
    if (FMT == QN_CW_NF4) __syncthreads();

    for (int64_t kt = 0; kt < KT; kt++) {
        qn_cp_async_wait<QN_BIG_STAGES - 2>();
        __syncthreads();
        {
            const int64_t nk = kt + QN_BIG_STAGES - 1;
            if (nk < KT) issue((int)(nk % QN_BIG_STAGES), nk);
            qn_cp_async_commit();
        }
        const uint8_t *As = qn_big_smem + (int)(kt % QN_BIG_STAGES) * Cfg::stage_bytes;
        const uint8_t *Bs = As + Cfg::a_bytes;
        uint32_t xb[4][8];
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const uint4 *src = reinterpret_cast<const uint4 *>(Bs + ((wm * 4 + j) * 32 + lane) * 32);
            const uint4 a = src[0], b = src[1];
            xb[j][0] = a.x, xb[j][1] = a.y, xb[j][2] = a.z, xb[j][3] = a.w;
            xb[j][4] = b.x, xb[j][5] = b.y, xb[j][6] = b.z, xb[j][7] = b.w;
        }
#pragma unroll
        for (int i = 0; i < 4; i++) {
            const int tile = wn * 4 + i;
            uint32_t wa[AW];
            const uint4 *src = reinterpret_cast<const uint4 *>(As + tile * Cfg::tile_bytes) + lane * (AW / 4);
#pragma unroll
            for (int v = 0; v < AW / 4; v++) {
                const uint4 q = src[v];
                wa[v * 4 + 0] = q.x, wa[v * 4 + 1] = q.y, wa[v * 4 + 2] = q.z, wa[v * 4 + 3] = q.w;
            }
            uint32_t mt[4] = {0, 0, 0, 0};
            const int64_t nt = ntb + tile;
            if (Tr::grouped && nt < NT) {
                const int64_t r0 = nt * 16 + g;
                const int64_t ga = kt * 64 / p.group, gb = (kt * 64 + 32) / p.group;
                mt[0] = __ldg(p.meta + r0 * p.meta_cols + ga);
                mt[1] = __ldg(p.meta + r0 * p.meta_cols + gb);
                mt[2] = __ldg(p.meta + (r0 + 8) * p.meta_cols + ga);
                mt[3] = __ldg(p.meta + (r0 + 8) * p.meta_cols + gb);
            }
#pragma unroll
            for (int ks = 0; ks < 4; ks++) {
                uint32_t a[4];
                __half2 s0 = __half2half2(__ushort_as_half(0)), s1 = s0, z0 = s0, z1 = s0;
                if (Tr::grouped) {
                    const uint32_t m_0 = mt[ks >> 1], m_1 = mt[2 + (ks >> 1)];
                    s0 = qn_u2h(__byte_perm(m_0, 0, 0x1010)), z0 = qn_u2h(__byte_perm(m_0, 0, 0x3232));
                    s1 = qn_u2h(__byte_perm(m_1, 0, 0x1010)), z1 = qn_u2h(__byte_perm(m_1, 0, 0x3232));
                }
                qn_dequant<FMT>(wa, ks, a, s0, s1, z0, z1, lut);
#pragma unroll
                for (int j = 0; j < 4; j++) qn_mma16816(acc[i][j], a, xb[j][ks * 2], xb[j][ks * 2 + 1]);
            }
        }
    }
    qn_cp_async_wait<0>();

#pragma unroll
    for (int i = 0; i < 4; i++) {
        const int64_t nt = ntb + wn * 4 + i;
        if (nt >= NT) continue;
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const int64_t n = nt * 16 + g + 8 * h;
            if (n >= p.N) continue;
            const float rs = p.row_scale[n];
#pragma unroll
            for (int j = 0; j < 4; j++) {
#pragma unroll
                for (int c = 0; c < 2; c++) {
                    const int64_t m = mb + (wm * 4 + j) * 8 + 2 * t + c;
                    if (m < p.M) qn_st(p.yd, p.y, m * p.N + n, acc[i][j][2 * h + c] * rs * p.xscale[m]);
                }
            }
        }
    }
}

template <int FMT> static int qn_big_launch(const qn_mmq_args &a, int64_t M, cudaStream_t s) {
    static bool attr_set = false; /* per instantiation; a race only repeats an idempotent call */
    if (!attr_set) {
        cudaError_t e = cudaFuncSetAttribute(qn_k_mmq_big<FMT>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                             qn_big_cfg<FMT>::smem);
        if (e != cudaSuccess) return (int)e;
        attr_set = true;
    }
    const int64_t gx = (a.Np / 16 + 7) / 8, gy = (M + QN_BIG_COLS - 1) / QN_BIG_COLS;
    if (gy > 65535) return (int)cudaErrorInvalidValue;
    qn_k_mmq_big<FMT><<<dim3((unsigned)gx, (unsigned)gy), 256, qn_big_cfg<FMT>::smem, s>>>(a);
    return qn_cu_launch_status();
}

extern "C" {
int qn_cuda_matmul_big_min_m = 65;
}

__global__ void qn_k_splitk_reduce(const float *part, int S, int64_t M, int64_t N, const float *row_scale,
                                   const float *xscale, int yd, void *y) {
    const int64_t total = M * N;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        float s = 0.0f;
        for (int z = 0; z < S; z++) s += part[(int64_t)z * total + i];
        const int64_t m = i / N, n = i % N;
        qn_st(yd, y, i, s * row_scale[n] * xscale[m]);
    }
}

/* ------------------------------------------------------------------ planning */

typedef struct qn_mmq_plan {
    int WN, MT, S, kps;
    unsigned bx, by;
    int kmw; /* fp821: qn_k_mmq_kmw's form (qn_kmw_forms), 0: not that kernel */
} qn_mmq_plan;

/* fp820: e4m3 codes K-major only (cuda_kernels.h: codes NULL, codes_k the codes) */
static bool qn_mmq_km(const qn_cuda_weight *w) { return w->fmt == QN_CW_E4M3 && !w->codes && w->codes_k; }

static qn_mmq_plan qn_mmq_make_plan(const qn_cuda_weight *w, int64_t M, int sms) {
    qn_mmq_plan pl;
    pl.kmw = 0;
    /* fp821: K-major e4m3 through qn_k_mmq_kmw (any M: the GEMM takes M >= 64 where it runs) */
    const int form = qn_mmq_km(w) ? qn_kmw_form_for(qn_kmw_form_now(), M) : 0;
    if (form > 0) {
        const qn_kmw_form f = qn_kmw_forms[form];
        pl.kmw = form;
        pl.MT = M <= 8 ? 1 : M <= 16 ? 2 : M <= 32 ? 4 : 8;
        pl.WN = 1;
        const int64_t NT = w->Np / 16, KT = w->Kp / 64;
        pl.bx = (unsigned)NT;
        pl.by = (unsigned)((M + 8 * pl.MT - 1) / (8 * pl.MT));
        const int64_t warps = (int64_t)NT * pl.by * f.W, target = (int64_t)(sms > 0 ? sms : 132) * f.TW;
        int64_t S = warps < target ? (target + warps - 1) / warps : 1;
        const int64_t maxS = KT / (f.W * f.KU) > 0 ? KT / (f.W * f.KU) : 1; /* a piece: at least one block step */
        if (S > maxS) S = maxS;
        if (S > 64) S = 64;
        int64_t kps = (KT + S - 1) / S;
        if (kps < 1) kps = 1;
        pl.S = (int)((KT + kps - 1) / kps);
        pl.kps = (int)kps;
        return pl;
    }
    /* prefill kernel, no split; K-major e4m3 has no form of it (the FP8 GEMM takes those M: the streaming kernel here
     * only where that GEMM refused, e.g. QUANTA_CUDA_FP8_V2 a non-TMA form) */
    if (qn_cuda_matmul_big_min_m > 0 && M >= qn_cuda_matmul_big_min_m && !qn_mmq_km(w)) {
        pl.MT = 16, pl.WN = 4, pl.S = 1, pl.kps = (int)(w->Kp / 64);
        pl.bx = (unsigned)((w->Np / 16 + 7) / 8), pl.by = (unsigned)((M + 127) / 128);
        return pl;
    }
    pl.MT = M <= 8 ? 1 : M <= 16 ? 2 : M <= 32 ? 4 : 8;
    pl.WN = 2;
    const int64_t NT = w->Np / 16, KT = w->Kp / 64;
    pl.bx = (unsigned)((NT + QN_MMQ_WARPS * pl.WN - 1) / (QN_MMQ_WARPS * pl.WN));
    pl.by = (unsigned)((M + 8 * pl.MT - 1) / (8 * pl.MT));
    const int64_t warps = (int64_t)pl.bx * pl.by * QN_MMQ_WARPS;
    const int64_t target = (int64_t)(sms > 0 ? sms : 132) * 16;
    int64_t S = 1;
    if (warps < target) {
        S = (target + warps - 1) / warps;
        const int64_t maxS = KT / 8 > 0 ? KT / 8 : 1; /* at least 8 k tiles per split (two stages) */
        if (S > maxS) S = maxS;
        if (S > 64) S = 64;
    }
    int64_t kps = (KT + S - 1) / S;
    if (kps < 1) kps = 1;
    S = (KT + kps - 1) / kps;
    pl.S = (int)S;
    pl.kps = (int)kps;
    return pl;
}

static size_t qn_align256(size_t b) { return (b + 255) & ~(size_t)255; }

extern "C" size_t qn_cuda_matmul_q_scratch(const qn_cuda_weight *w, int64_t M, int sms) {
    if (M <= 0) return 0;
    const qn_mmq_plan pl = qn_mmq_make_plan(w, M, sms);
    size_t b = qn_align256((size_t)M * (size_t)w->Kp * 2) + qn_align256((size_t)M * 4);
    if (pl.S > 1) b += (size_t)pl.S * (size_t)M * (size_t)w->N * 4;
    return b;
}

template <int W, int KU, int PDL>
static int qn_kmw_launch_mt(int MT, dim3 grid, cudaStream_t s, const qn_mmq_args &a) {
    switch (MT) {
    case 1: return qn_launch(qn_k_mmq_kmw<1, W, KU, PDL>, grid, dim3(W * 32), 0, s, a);
    case 2: return qn_launch(qn_k_mmq_kmw<2, W, KU, PDL>, grid, dim3(W * 32), 0, s, a);
    case 4: return qn_launch(qn_k_mmq_kmw<4, W, KU, PDL>, grid, dim3(W * 32), 0, s, a);
    default: return qn_launch(qn_k_mmq_kmw<8, W, KU, PDL>, grid, dim3(W * 32), 0, s, a);
    }
}
/* Without PDL the kernels go by <<<>>> (fully serialized), as the tiled GEMV's */
template <int W, int KU> static int qn_kmw_launch_plain(int MT, dim3 grid, cudaStream_t s, const qn_mmq_args &a) {
    switch (MT) {
    case 1: qn_k_mmq_kmw<1, W, KU, 0><<<grid, W * 32, 0, s>>>(a); break;
    case 2: qn_k_mmq_kmw<2, W, KU, 0><<<grid, W * 32, 0, s>>>(a); break;
    case 4: qn_k_mmq_kmw<4, W, KU, 0><<<grid, W * 32, 0, s>>>(a); break;
    default: qn_k_mmq_kmw<8, W, KU, 0><<<grid, W * 32, 0, s>>>(a); break;
    }
    return qn_cu_launch_status();
}
static int qn_kmw_launch(int form, int MT, dim3 grid, cudaStream_t s, const qn_mmq_args &a) {
    switch (form) { /* qn_kmw_forms */
    case 2: return qn_kmw_launch_plain<4, 4>(MT, grid, s, a);
    case 3: return qn_kmw_launch_plain<8, 4>(MT, grid, s, a);
    case 5: return qn_kmw_launch_mt<8, 2, 1>(MT, grid, s, a);
    case 6: return qn_kmw_launch_mt<4, 4, 1>(MT, grid, s, a);
    default: return qn_kmw_launch_plain<8, 2>(MT, grid, s, a); /* 1, and 4: form 1's kernel, another split */
    }
}

template <int FMT, int WN, int KM = 0>
static void qn_mmq_launch_mt(int MT, dim3 grid, cudaStream_t s, const qn_mmq_args &a) {
    switch (MT) {
    case 1: qn_k_mmq<FMT, WN, 1, KM><<<grid, QN_MMQ_WARPS * 32, 0, s>>>(a); break;
    case 2: qn_k_mmq<FMT, WN, 2, KM><<<grid, QN_MMQ_WARPS * 32, 0, s>>>(a); break;
    case 4: qn_k_mmq<FMT, WN, 4, KM><<<grid, QN_MMQ_WARPS * 32, 0, s>>>(a); break;
    default: qn_k_mmq<FMT, WN, 8, KM><<<grid, QN_MMQ_WARPS * 32, 0, s>>>(a); break;
    }
}

extern "C" int qn_cuda_matmul_q(const qn_cuda_weight *w, int x_dtype, const void *x, int y_dtype, void *y,
                                int64_t M, void *scratch, size_t scratch_bytes, unsigned *counters,
                                size_t ncounters, int sms, void *stream) {
    if (M <= 0 || w->N <= 0) return 0;
    if (w->K <= 0) { /* empty sum: zeros */
        const size_t es = y_dtype == QN_DT_F32 ? 4 : 2;
        return (int)cudaMemsetAsync(y, 0, (size_t)M * (size_t)w->N * es, (cudaStream_t)stream);
    }
    if (M > 0x7fffffff || scratch_bytes < qn_cuda_matmul_q_scratch(w, M, sms)) return (int)cudaErrorInvalidValue;
    const bool km = qn_mmq_km(w);
    if (!w->codes && !km) return (int)cudaErrorInvalidValue; /* no codes in a layout this kernel reads */
    const qn_mmq_plan pl = qn_mmq_make_plan(w, M, sms);
    cudaStream_t s = (cudaStream_t)stream;
    uint8_t *sp = (uint8_t *)scratch;
    __half *xh = (__half *)sp;
    sp += qn_align256((size_t)M * (size_t)w->Kp * 2);
    float *xscale = (float *)sp;
    sp += qn_align256((size_t)M * 4);
    float *part = pl.S > 1 ? (float *)sp : NULL;

    const dim3 pgrid((unsigned)((w->Kp + QN_PREP_CHUNK - 1) / QN_PREP_CHUNK), (unsigned)(M < 65535 ? M : 65535));
    int e;
    if (pl.kmw > 0 && qn_kmw_forms[pl.kmw].PDL) { /* fp821: the GEMV's blocks may start while this runs */
        e = qn_launch(qn_k_prep_x, pgrid, dim3(256), 0, s, x_dtype, x, M, w->K, w->Kp, xh, xscale, km ? 1 : 0);
    } else {
        qn_k_prep_x<<<pgrid, 256, 0, s>>>(x_dtype, x, M, w->K, w->Kp, xh, xscale, km ? 1 : 0);
        e = qn_cu_launch_status();
    }
    if (e) return e;

    qn_mmq_args a;
    a.codes = (const uint8_t *)(km ? w->codes_k : w->codes);
    a.row_scale = w->row_scale;
    a.meta = w->meta;
    a.N = w->N, a.Np = w->Np, a.Kp = w->Kp, a.M = M;
    a.group = w->group > 0 ? w->group : 64;
    a.meta_cols = (int32_t)((w->Kp + a.group - 1) / a.group);
    a.kps = pl.kps;
    a.xh = xh, a.xscale = xscale, a.part = part, a.yd = y_dtype, a.y = y;
    const bool fused = part && counters && (size_t)pl.bx * pl.by <= ncounters;
    a.counters = fused ? counters : NULL;
    if (pl.by > 65535u || pl.S > 65535) return (int)cudaErrorInvalidValue;
    if (pl.MT == 16) {
        switch (w->fmt) {
        case QN_CW_F16: return qn_big_launch<QN_CW_F16>(a, M, s);
        case QN_CW_Q8: return qn_big_launch<QN_CW_Q8>(a, M, s);
        case QN_CW_E4M3: return qn_big_launch<QN_CW_E4M3>(a, M, s);
        case QN_CW_E5M2: return qn_big_launch<QN_CW_E5M2>(a, M, s);
        case QN_CW_Q4: return qn_big_launch<QN_CW_Q4>(a, M, s);
        case QN_CW_NF4: return qn_big_launch<QN_CW_NF4>(a, M, s);
        default: return (int)cudaErrorInvalidValue;
        }
    }
    const dim3 grid(pl.bx, pl.by, (unsigned)pl.S);
    if (pl.kmw > 0) { /* fp821: K-major e4m3, a block's warps along K */
        e = qn_kmw_launch(pl.kmw, pl.MT, grid, s, a);
        if (e) return e;
    } else {
        switch (w->fmt) {
        case QN_CW_F16: qn_mmq_launch_mt<QN_CW_F16, 2>(pl.MT, grid, s, a); break;
        case QN_CW_Q8: qn_mmq_launch_mt<QN_CW_Q8, 2>(pl.MT, grid, s, a); break;
        case QN_CW_E4M3:
            if (km)
                qn_mmq_launch_mt<QN_CW_E4M3, 2, 1>(pl.MT, grid, s, a);
            else
                qn_mmq_launch_mt<QN_CW_E4M3, 2>(pl.MT, grid, s, a);
            break;
        case QN_CW_E5M2: qn_mmq_launch_mt<QN_CW_E5M2, 2>(pl.MT, grid, s, a); break;
        case QN_CW_Q4: qn_mmq_launch_mt<QN_CW_Q4, 2>(pl.MT, grid, s, a); break;
        case QN_CW_NF4: qn_mmq_launch_mt<QN_CW_NF4, 2>(pl.MT, grid, s, a); break;
        default: return (int)cudaErrorInvalidValue;
        }
    }
    e = qn_cu_launch_status();
    if (e) return e;
    if (pl.S > 1 && !fused) {
        qn_k_splitk_reduce<<<qn_cu_blocks(M * w->N, 256, 132 * 16), 256, 0, s>>>(part, pl.S, M, w->N, w->row_scale,
                                                                               xscale, y_dtype, y);
        e = qn_cu_launch_status();
    }
    return e;
}

/* ------------------------------------------------------------------ dense fallback */

/* 32x32 output tile per block of 32x8 threads, f32 sums; any float dtypes. For f32 weights
 * (exact f32 products) and weights that were not prepared (graph inputs, intermediates). */
__global__ void qn_k_matmul_dense(int xd, const void *x, int wd, const void *w, int yd, void *y, int64_t M, int64_t N,
                                  int64_t K) {
    __shared__ float xs[32][33], ws[32][33];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int64_t m0 = (int64_t)blockIdx.y * 32, n0 = (int64_t)blockIdx.x * 32;
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int64_t k0 = 0; k0 < K; k0 += 32) {
        for (int r = ty; r < 32; r += 8) {
            const int64_t m = m0 + r, n = n0 + r, k = k0 + tx;
            xs[r][tx] = (m < M && k < K) ? qn_ld(xd, x, m * K + k) : 0.0f;
            ws[r][tx] = (n < N && k < K) ? qn_ld(wd, w, n * K + k) : 0.0f;
        }
        __syncthreads();
#pragma unroll 8
        for (int kk = 0; kk < 32; kk++) {
            const float wv = ws[tx][kk];
#pragma unroll
            for (int q = 0; q < 4; q++) acc[q] += xs[ty + 8 * q][kk] * wv;
        }
        __syncthreads();
    }
#pragma unroll
    for (int q = 0; q < 4; q++) {
        const int64_t m = m0 + ty + 8 * q, n = n0 + tx;
        if (m < M && n < N) qn_st(yd, y, m * N + n, acc[q]);
    }
}

extern "C" int qn_cuda_matmul_dense(int x_dtype, const void *x, int w_dtype, const void *w, int y_dtype, void *y,
                                    int64_t M, int64_t N, int64_t K, void *stream) {
    if (M <= 0 || N <= 0) return 0;
    const int64_t gy = (M + 31) / 32, gx = (N + 31) / 32;
    if (gy > 65535 || gx > 0x7fffffff) return (int)cudaErrorInvalidValue;
    qn_k_matmul_dense<<<dim3((unsigned)gx, (unsigned)gy), dim3(32, 8), 0, (cudaStream_t)stream>>>(
        x_dtype, x, w_dtype, w, y_dtype, y, M, N, K);
    return qn_cu_launch_status();
}
