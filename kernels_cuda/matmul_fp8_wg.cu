/* matmul_fp8_wg.cu — FP8 x FP8 GEMM on Hopper's warpgroup MMA (sm_90a; issue #14 item 2, mmq8):
 * y[M,N] = x[M,K] . W[N,K]^T for e4m3 weights (QUANTA_FP8_E4M3: codes and one f32 scale per row, prepared by
 * engine/cuda/cuda_repack.c into the tiled layout of cuda_kernels.h), with x quantized on the fly to e4m3 with
 * one scale per token (row). Taken, when QUANTA_CUDA_FP8_WGMMA=1 (off by default until a device run has
 * checked it), by the matmuls with M >= QN_CUDA_FP8_WG_MIN_M on a compute capability 9.0 device.
 *
 * Arithmetic (what bench/cuda/fp8_check.cu's host reference computes): per row m of x,
 *     sx[m] = max_k |x[m][k]| / 448,   xq[m][k] = e4m3_rne_satfinite(x[m][k] / sx[m])   (IEEE divisions),
 * the arithmetic of formats/fp8.c's weight format (qn_fp8_quantize) and of the paged KV cache's e4m3 rows
 * (paged_attention.cu); then y[m][n] = (sum_k dec(wq[n][k]) dec(xq[m][k])) * sw[n] * sx[m], the sum by the
 * tensor cores (products exact, sums in f32 as the FP8 wgmma does them: without CUTLASS's periodic promotion,
 * the "fast accumulation" of cuBLASLt / torch._scaled_mm(use_fast_accum=True)). The x rounding is the new
 * error: up to 2^-4 relative per element (e4m3 keeps 3 mantissa bits), NMSE ~7e-4 of y on Gaussian data
 * (conformance/ops/matmul.c's fp8_e4m3 row says why its bound is what it is).
 *
 * Two kernels:
 *  - qn_k_fp8_quant_x: one block of 128 threads per token; the row's max, then the codes of 16-element K
 *    slices written in the order the GEMM's shared-memory B operand wants: xq[slice][Mp][16] (16 bytes per
 *    token and slice, slices Mp tokens apart), so a stage's activations are 4 contiguous runs (one bulk copy
 *    each), already in wgmma's no-swizzle K-major core-matrix layout. Within a slice, byte p holds k =
 *    qn_f8_kperm(p): the weights' tiled layout gives each lane k 2t, 2t+1, 2t+8, 2t+9 of a 16-wide step where
 *    the 8-bit A fragment wants 4t .. 4t+3, and permuting K the same way in both operands leaves the sum as is.
 *  - qn_k_fp8_wg: a producer warp and CW consumer warpgroups. The producer waits for a free stage, announces
 *    its bytes on the stage's full barrier and issues bulk copies (cp.async.bulk): the block's BM/16 weight
 *    tiles (1 KB each, contiguous in the tiled layout) and the 4 activation slices of the step (BN x 16
 *    bytes each). Consumer warpgroup c owns weight rows 64c .. 64c + 63 of the block's BM and all BN tokens:
 *    per 64-wide step it waits on the full barrier, loads its A fragments (one 16-byte shared load per lane
 *    and k32, four byte permutes), issues 2 wgmma m64nBNk32, commits, waits until only this step's wgmma
 *    run, and releases the previous step's stage (one arrival per warp on the empty barrier). Epilogue:
 *    the sums times sw[n] sx[m] through shared memory, so each token's outputs leave as 16-byte stores.
 *
 * No split-K and no persistent tile scheduler: tiles are picked so that the grid covers the GPU
 * (qn_f8_pick); below QN_CUDA_FP8_WG_MIN_M tokens the weight-streaming kernel of matmul_q.cu (split-K) stays.
 *
 * Block clusters (fp8pp11, QUANTA_CUDA_FP8_V2=2 or 4; 2p, clusters of 2 in persistent blocks, is the default): mmq8's H100 run moved
 * ~1000 clocks per 64-wide step of the 128x256 tile where the tensor cores need 512, i.e. 24 KB per step per SM
 * at ~24 B/clock/SM, the L2's share (bench/NOTES.md, fp8pp11): the kernel is bound by L2 -> SM bytes, not by the
 * pipeline's depth (8 stages already) or the A fragments' loads. Blocks of a cluster along the weight rows hold
 * the same tokens, so the token tile is read from L2 once per cluster and multicast (qn_k_fp8_wg, CL).
 * QUANTA_CUDA_FP8_V2=0p / 2p / 4p: the persistent form of each (qn_k_fp8_wg_ps), against the ~16 us of each
 * block's life outside its K steps that the same fit finds (fill, epilogue, launch). y is bit-identical in all.
 */
#include <cuda_fp8.h>
#include <stdlib.h>
#include <string.h>

#include "cp_async.cuh"
#include "cuda_common.cuh"
#include "matmul_fp8_wg.h"
#include "sm90a_device.cuh"
#include "tma.cuh"

#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define QN_F8_HAVE 1
#include "wgmma.cuh"
#else
#define QN_F8_HAVE 0
#endif

#define QN_F8_BK 64      /* K per pipeline stage: one weight tile's width (QN_CW_TILE_K) */
#define QN_F8_MPAD 256   /* tokens of xq padded to the widest BN */
#define QN_F8_QTHREADS 128

/* Byte p of a 16-byte K slice holds k = qn_f8_kperm(p) of the slice: p = 4t + i <-> 2t + (i & 1) + 8 (i >> 1),
 * the k a lane's tiled weight bytes hold (cuda_kernels.h: qn_cuda_weight_code_offset, E order (g,2t) (g,2t+1)
 * (g+8,2t) (g+8,2t+1) (g,2t+8) (g,2t+9) ..) once the consumer's byte permutes have gathered row g's four. */
static __host__ __device__ __forceinline__ int qn_f8_kperm(int p) { return qn_cuda_fp8_kperm(p); } /* one definition */

static inline int64_t qn_f8_mp(int64_t M) { return (M + QN_F8_MPAD - 1) / QN_F8_MPAD * QN_F8_MPAD; }
static inline size_t qn_f8_al(size_t b) { return (b + 255) & ~(size_t)255; }

/* ------------------------------------------------------------------ per-token e4m3 activations */

/* 16 values of row `row` from k0 (zeros past K). vec: 16-byte loads are aligned (checked by the host). */
__device__ __forceinline__ void qn_f8_load16(int xd, const void *x, int64_t row, int64_t K, int64_t k0, bool vec,
                                             float v[16]) {
    if (vec && k0 + 16 <= K) {
        if (xd == QN_DT_F32) {
            const float4 *p = reinterpret_cast<const float4 *>((const float *)x + row * K + k0);
#pragma unroll
            for (int i = 0; i < 4; i++) {
                const float4 q = p[i];
                v[4 * i] = q.x, v[4 * i + 1] = q.y, v[4 * i + 2] = q.z, v[4 * i + 3] = q.w;
            }
        } else {
            const uint4 *p = reinterpret_cast<const uint4 *>((const uint16_t *)x + row * K + k0);
#pragma unroll
            for (int i = 0; i < 2; i++) {
                const uint4 q = p[i];
                const uint32_t u[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
                for (int j = 0; j < 4; j++) {
                    const uint16_t lo = (uint16_t)(u[j] & 0xFFFFu), hi = (uint16_t)(u[j] >> 16);
                    if (xd == QN_DT_F16) {
                        v[8 * i + 2 * j] = __half2float(__ushort_as_half(lo));
                        v[8 * i + 2 * j + 1] = __half2float(__ushort_as_half(hi));
                    } else {
                        v[8 * i + 2 * j] = __uint_as_float((uint32_t)lo << 16);
                        v[8 * i + 2 * j + 1] = __uint_as_float((uint32_t)hi << 16);
                    }
                }
            }
        }
        return;
    }
#pragma unroll
    for (int i = 0; i < 16; i++) v[i] = k0 + i < K ? qn_ld(xd, x, row * K + k0 + i) : 0.0f;
}

/* Block m: token m of Mp (rows M.. are zeros, scale 0). */
/* The 16 codes of a slice, x / scale each (IEEE division) rounded to e4m3 (RNE, saturating), in kperm order. */
__device__ __forceinline__ uint4 qn_f8_encode16(const float (&v)[16], float scale) {
    uint32_t w[4];
#pragma unroll
    for (int j = 0; j < 4; j++) {
        uint32_t word = 0;
#pragma unroll
        for (int b = 0; b < 4; b++) {
            const float q = scale > 0.0f ? __fdiv_rn(v[qn_f8_kperm(4 * j + b)], scale) : 0.0f;
            word |= (uint32_t)__nv_cvt_float_to_fp8(q, __NV_SATFINITE, __NV_E4M3) << (8 * b);
        }
        w[j] = word;
    }
    return make_uint4(w[0], w[1], w[2], w[3]);
}

/* Where slice s of token m's codes goes: tm (fp813's TMA form): token-major, xq[m][Kp] (at m * Kp + 16 s), else
 * xq[slice][Mp][16]. */
__device__ __forceinline__ uint4 *qn_f8_code_at(uint8_t *xq, int64_t m, int64_t s, int64_t Kp, int64_t Mp, bool tm) {
    return reinterpret_cast<uint4 *>(xq + (tm ? m * Kp + s * 16 : (s * Mp + m) * 16));
}
/* A padding token (m >= M) of either quantizer (blockDim.x threads): zero codes, scale 0. */
__device__ __forceinline__ void qn_f8_zero_token(uint8_t *xq, float *sx, int64_t m, int64_t Kp, int64_t Mp, bool tm) {
    for (int64_t s = threadIdx.x; s < Kp / 16; s += blockDim.x) *qn_f8_code_at(xq, m, s, Kp, Mp, tm) = make_uint4(0u, 0u, 0u, 0u);
    if (threadIdx.x == 0) sx[m] = 0.0f;
}

__global__ void __launch_bounds__(QN_F8_QTHREADS) qn_k_fp8_quant_x(int xd, const void *x, int64_t M, int64_t K,
                                                                   int64_t Kp, int64_t Mp, bool vec, bool tm,
                                                                   uint8_t *xq, float *sx) {
    __shared__ float sh[32];
    const int64_t m = blockIdx.x;
    const int64_t slices = Kp / 16;
    if (m >= M) {
        qn_f8_zero_token(xq, sx, m, Kp, Mp, tm);
        return;
    }
    float amax = 0.0f;
    for (int64_t s = threadIdx.x; s < slices; s += QN_F8_QTHREADS) {
        float v[16];
        qn_f8_load16(xd, x, m, K, s * 16, vec, v);
#pragma unroll
        for (int i = 0; i < 16; i++) amax = fmaxf(amax, fabsf(v[i]));
    }
    amax = qn_block_max(amax, sh);
    const float scale = __fdiv_rn(amax, QN_FP8_E4M3_MAX);
    if (threadIdx.x == 0) sx[m] = scale;
    for (int64_t s = threadIdx.x; s < slices; s += QN_F8_QTHREADS) {
        float v[16];
        qn_f8_load16(xd, x, m, K, s * 16, vec, v); /* again: the row is in L1 */
        *qn_f8_code_at(xq, m, s, Kp, Mp, tm) = qn_f8_encode16(v, scale);
    }
}

/* fp815: the same codes with the row read from DRAM once. The loop form above moves 1.6-2.0 TB/s on the H100 (17:13;
 * the quantizer is a third of the op at K >= 11008): its second pass re-reads rows that have left L1 (16 blocks of
 * 27 KB rows per SM at K = 13824 bf16), and each pass is a phase of loads then a phase of stores. Here the row's raw
 * bytes go to shared memory as they are loaded (16-byte loads, 4 in flight a thread, streaming: x is not read again),
 * the max comes from the same loads, and the codes are made from shared memory (qn_f8_load16 on the shared row: the
 * loop form's arithmetic, so the same codes and scales, checked byte for byte by fp8_check). Up to 8 rows per SM
 * (27 KB each at K = 13824 bf16) overlap one another's phases. fp813's register form (QUANTA_CUDA_FP8_QUANT_REG, no
 * better in two H100 runs: 1.5-2.3 TB/s) is removed. Taken for 16-byte aligned rows of at most QN_F8_QSM_BYTES. */
#define QN_F8_QSM 256
#define QN_F8_QSM_BYTES (96 * 1024)
__device__ __forceinline__ float qn_f8_amax16b(int xd, uint4 q, float amax) {
    const uint32_t u[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
    for (int j = 0; j < 4; j++) {
        if (xd == QN_DT_F32) {
            amax = fmaxf(amax, fabsf(__uint_as_float(u[j])));
            continue;
        }
        const uint16_t lo = (uint16_t)(u[j] & 0xFFFFu), hi = (uint16_t)(u[j] >> 16);
        const float a = xd == QN_DT_F16 ? __half2float(__ushort_as_half(lo)) : __uint_as_float((uint32_t)lo << 16);
        const float b = xd == QN_DT_F16 ? __half2float(__ushort_as_half(hi)) : __uint_as_float((uint32_t)hi << 16);
        amax = fmaxf(amax, fmaxf(fabsf(a), fabsf(b)));
    }
    return amax;
}
__global__ void __launch_bounds__(QN_F8_QSM) qn_k_fp8_quant_x_sm(int xd, const void *x, int64_t M, int64_t K, int64_t Kp,
                                                               int64_t Mp, bool tm, uint8_t *xq, float *sx) {
    extern __shared__ __align__(16) uint4 qn_f8_qrow[];
    __shared__ float sh[32];
    const int64_t m = blockIdx.x;
    const int64_t slices = Kp / 16;
    if (m >= M) {
        qn_f8_zero_token(xq, sx, m, Kp, Mp, tm);
        return;
    }
    const int es = xd == QN_DT_F32 ? 4 : 2;
    const int64_t nv = K * es / 16; /* whole 16-byte pieces: the host takes this form where K * es % 16 == 0 */
    const uint4 *src = reinterpret_cast<const uint4 *>((const uint8_t *)x + m * K * es);
    float amax = 0.0f;
#pragma unroll 4
    for (int64_t i = threadIdx.x; i < nv; i += QN_F8_QSM) {
        const uint4 q = __ldcs(src + i);
        qn_f8_qrow[i] = q;
        amax = qn_f8_amax16b(xd, q, amax);
    }
    amax = qn_block_max(amax, sh); /* its barriers also make the row visible to every thread */
    const float scale = __fdiv_rn(amax, QN_FP8_E4M3_MAX);
    if (threadIdx.x == 0) sx[m] = scale;
    for (int64_t s = threadIdx.x; s < slices; s += QN_F8_QSM) {
        float v[16];
        qn_f8_load16(xd, qn_f8_qrow, 0, K, s * 16, true, v);
        *qn_f8_code_at(xq, m, s, Kp, Mp, tm) = qn_f8_encode16(v, scale);
    }
}

/* ------------------------------------------------------------------ the GEMM */

/* CW consumer warpgroups of 64 weight rows x BN tokens, one producer warpgroup (one warp of it copies). */
template <int CW, int BN> struct qn_f8_cfg {
    static constexpr int BM = 64 * CW, threads = 128 * (CW + 1);
    static constexpr int a_bytes = BM * QN_F8_BK; /* BM / 16 weight tiles of 1 KB */
    static constexpr int b_bytes = BN * QN_F8_BK; /* 4 K slices x BN tokens x 16 B */
    static constexpr int stage = a_bytes + b_bytes;
    static constexpr int S0 = 200 * 1024 / stage, S = S0 > 8 ? 8 : S0;
    /* the epilogue reuses the stages: per consumer warpgroup BN tokens x (64 outputs + 16 bytes of pad) */
    static constexpr int epi_pitch_max = 64 * 4 + 16;
    static constexpr int smem = S * stage;
    static constexpr int min_blocks = CW == 1 ? 2 : 1;
    static_assert(S >= 3, "pipeline depth");
    static_assert(CW * BN * epi_pitch_max <= smem, "epilogue tile fits in the stages");
    static_assert(BM / 16 + 4 <= 32, "one lane per bulk copy");
};

#if QN_F8_HAVE
template <int BN> __device__ __forceinline__ void qn_f8_mma(float (&d)[BN / 8][4], const uint32_t a[4], uint64_t desc);
template <> __device__ __forceinline__ void qn_f8_mma<64>(float (&d)[8][4], const uint32_t a[4], uint64_t desc) {
    qn_wg_mma_f8_n64(d, a, desc);
}
template <> __device__ __forceinline__ void qn_f8_mma<128>(float (&d)[16][4], const uint32_t a[4], uint64_t desc) {
    qn_wg_mma_f8_n128(d, a, desc);
}
template <> __device__ __forceinline__ void qn_f8_mma<256>(float (&d)[32][4], const uint32_t a[4], uint64_t desc) {
    qn_wg_mma_f8_n256(d, a, desc);
}
template <> __device__ __forceinline__ void qn_f8_mma<192>(float (&d)[24][4], const uint32_t a[4], uint64_t desc) {
    qn_wg_mma_f8_n192(d, a, desc);
}
#endif

struct qn_f8_args {
    const uint8_t *codes;   /* tiled e4m3 weights [Np/16][Kp/64][1 KB] */
    const uint8_t *codes_k; /* fp818: the same K-major ([Np][Kp], qn_cuda_fp8_km_offset) for the SS form, or NULL */
    const float *sw;        /* [Np] weight row scales */
    const uint8_t *xq;      /* [Kp/16][Mp][16] activation codes */
    const float *sx;        /* [Mp] token scales */
    int64_t N, Np, Kp, M, Mp;
    int64_t ksteps; /* 64-wide K steps per block: blockIdx.z takes steps z * ksteps .. (all of K: no split) */
    float *part;    /* split-K: unscaled f32 sums [gridDim.z][M][N] (qn_k_fp8_reduce finishes y), or NULL */
    int yd;
    int scale_pf; /* fp814: the TMA forms prefetch the tile's scales into L1 (qn_f8_scales_ahead); 0: not */
    void *y;      /* [M][N] */
    /* bench/cuda/fp8_check's trace (fp8pp11), or NULL: per block QN_CUDA_FP8_TRACE words, block b = x + gx (y + gy z):
     * SM id, then %globaltimer (ns) at entry, when step 0's bytes had landed, after the last wgmma, after the
     * epilogue's stores; the same four points in SM clocks (clock64). Recorded by consumer warpgroup 0's first
     * thread: where a block's life goes outside its K steps (bench/NOTES.md, fp8pp11). */
    unsigned long long *trace;
    /* persistent kernel (qn_k_fp8_wg_ps): units = clusters' tiles (gxc clusters of CL weight tiles per token row
     * times the token tiles), walked as u = cluster id + k * clusters launched, in qn_f8_raster's order */
    int64_t units, gxc;
    /* fp815's stream-K (the TMA form with SK, clusters of 1): units [0, dp_units) are walked as above (whole tiles,
     * dp_units a multiple of the blocks launched); the (unit, K stage) iterations of the rest are split evenly over
     * the blocks. skw: one slot of unscaled f32 sums per block and consumer warpgroup (qn_cuda_fp8_sk_bytes); skf:
     * one flag per slot, zero before the launch and left zero after it. */
    int64_t dp_units;
    float *skw;
    unsigned *skf;
    /* fp816 (QUANTA_CUDA_FP8_SK=3): 0: fp815's contiguous ranges; sp >= 1: split-K groups instead, the units past
     * dp_units each split into sp K pieces run at once by sp consecutive blocks (qn_f8_skg_range) */
    int64_t sk_sp;
    int sk_red; /* fp817 (QUANTA_CUDA_FP8_SK=5 / 6): the groups' pieces reduce and store a share each (peers, no owner) */
    int stm;    /* fp817 (QUANTA_CUDA_FP8_STM): the TMA-store epilogue's box written by stmatrix (qn_f8t_store_tma) */
    int trace_last; /* fp817: the TMA forms' trace records each block's last tile instead of its first */
    int sk_lead;    /* fp820: the groups' owner piece starts this many stages longer (qn_f8_skg_lead; 0: equal pieces) */
    /* fp823 (fp8_check trace4 only; y is garbage): the ping-pong forms' K loop (and the cooperative SS forms' with
     * direct stores) with one side removed, to tell its two limits apart on the device: 1 no copies (the wgmma read whatever the stages hold: the tensor pipe + the shared
     * memory reads alone), 2 no wgmma (each stage released as soon as it lands: the copies alone, the SM's feed) */
    int diag;
};

#if QN_F8_HAVE
__device__ __forceinline__ unsigned long long qn_f8_smid() {
    unsigned r;
    asm volatile("mov.u32 %0, %%smid;\n" : "=r"(r));
    return r;
}
/* point k (0-3) of a trace record: globaltimer in word 1 + k, clock64 in word 5 + k */
__device__ __forceinline__ void qn_f8_stamp(unsigned long long *tr, int k) {
    unsigned long long g;
    asm volatile("mov.u64 %0, %%globaltimer;\n" : "=l"(g)::"memory");
    tr[1 + k] = g;
    tr[5 + k] = (unsigned long long)clock64();
}

/* fp814: the 128-byte lines of a tile's scales (sx of its BN tokens; sw of ROWS weight rows from nb) fetched into L1
 * when the tile starts, one line a thread, so that the epilogue's loads of them (qn_f8_store_direct,
 * qn_f8t_store_tma: 16 at a time, each batch a round trip to L2 otherwise, ~4 per chunk of the TMA store) hit L1.
 * The K loop reads nothing through L1 (TMA writes shared memory), so the lines stay. Addresses: sx has Mp entries, a
 * multiple of 256 (so m0 < Mp gives m0 + BN <= Mp), sw Np (both 256-byte aligned, m0 and nb multiples of 64). */
template <int BN, int ROWS>
__device__ __forceinline__ void qn_f8_scales_ahead(const qn_f8_args &p, int64_t m0, int64_t nb, int ctid) {
    const void *a = NULL;
    if (ctid < BN / 32) a = m0 + 32 * ctid < p.Mp ? p.sx + m0 + 32 * ctid : NULL; /* tw / 192-token tiles: past Mp */
    else if (ctid < BN / 32 + ROWS / 32 && nb + 32 * (ctid - BN / 32) < p.Np) a = p.sw + nb + 32 * (ctid - BN / 32);
    if (a) asm volatile("prefetch.global.L1 [%0];\n" ::"l"(a));
}
#endif

#if QN_F8_HAVE
/* V2's tile order (clusters and the persistent form; mmq8's kernel keeps blockIdx order): cluster tile L of the
 * gxc x gy (weight clusters x token rows) grid is (xc, yb), in groups of QN_F8_GROUP token rows walked rows
 * fastest, so the tiles in flight at once (~132 consecutive L) share ~17 weight tiles and all token rows of the
 * group: W need not fit in L2 (13824 x 5120 is 71 MB, the L2 50) to be read from DRAM about once. A bijection
 * (the last group may hold fewer rows). The same tiles, computed the same: y unchanged. */
#define QN_F8_GROUP 8
__device__ __forceinline__ void qn_f8_raster(uint32_t L, uint32_t gxc, uint32_t gy, int64_t &xc, int64_t &yb) {
    /* 32-bit: tiles < 2^31 (the host's grid limits); 64-bit divisions cost the 64x128 persistent kernel spills */
    const uint32_t per = QN_F8_GROUP * gxc, grp = L / per, in = L % per;
    const uint32_t rows = gy - grp * QN_F8_GROUP < QN_F8_GROUP ? gy - grp * QN_F8_GROUP : QN_F8_GROUP;
    yb = grp * QN_F8_GROUP + in % rows, xc = in / rows;
}

/* One 64-wide K step of a consumer warpgroup: the lane's 32 bytes of its warp's weight tile (a_lane) into A
 * fragments, 2 wgmma k32 against the stage's token slices at b (issued and committed, not waited for). */
template <int BN>
__device__ __forceinline__ void qn_f8_stage_mma(float (&acc)[BN / 8][4], uint32_t (&a)[2][4], const uint8_t *a_lane,
                                                uint32_t b) {
    const uint4 *src = reinterpret_cast<const uint4 *>(a_lane);
#pragma unroll
    for (int q = 0; q < 2; q++) { /* k32 q = k16 steps 2q (u.x, u.y) and 2q + 1 (u.z, u.w) */
        const uint4 u = src[q];
        a[q][0] = __byte_perm(u.x, u.y, 0x5410); /* row g: k 2t, 2t+1, 2t+8, 2t+9 of step 2q */
        a[q][1] = __byte_perm(u.x, u.y, 0x7632); /* row g + 8 */
        a[q][2] = __byte_perm(u.z, u.w, 0x5410); /* row g, step 2q + 1 */
        a[q][3] = __byte_perm(u.z, u.w, 0x7632);
    }
    qn_wg_fence();
#pragma unroll
    for (int q = 0; q < 2; q++) /* K slices 2q, 2q + 1: BN * 16 bytes apart; 8-token groups 128 apart */
        qn_f8_mma<BN>(acc, a[q], qn_wg_desc(b + 2 * q * BN * 16, BN * 16, 128));
    qn_wg_commit();
}
#endif

#if QN_F8_HAVE
/* The stages' barriers (full: the producer's arrive.expect_tx; empty: `arrivals`, one per consumer warp of the
 * cluster), made visible to every block of the cluster before any copy or arrival can reach them. */
template <int S, int CL>
__device__ __forceinline__ void qn_f8_bars_init(uint64_t *full_bar, uint64_t *empty_bar, uint32_t arrivals, int tid) {
    static_assert(CL == 1 || CL == 2 || CL == 4, "a cluster splits the 4 activation slices of a step evenly");
    if (tid == 0) {
        for (int s = 0; s < S; s++) {
            qn_mbar_init(qn_smem_u32(&full_bar[s]), 1);
            qn_mbar_init(qn_smem_u32(&empty_bar[s]), arrivals);
        }
        qn_mbar_init_fence();
    }
    if (CL > 1) qn_cluster_sync();
    else __syncthreads();
}

/* Weight tiles of the block's BM / 16 inside the matrix (none in a block that only pads the grid to whole
 * clusters). */
__device__ __forceinline__ int64_t qn_f8_tiles(int64_t NT, int64_t nt0, int64_t per_block) {
    const int64_t t = NT - nt0 < per_block ? NT - nt0 : per_block;
    return t > 0 ? t : 0;
}

/* The producer warp's copies of one stage (its empty barrier waited): K step kt of weight tiles nt0.. and of
 * tokens m0.., `bytes` announced on full barrier fb; lane < tiles copies weight tile nt0 + lane (1 KB at its
 * place in the tiled layout), lanes BM / 16 .. + 3 the 4 activation slices of BN tokens (CL > 1: only the slices
 * j = rank mod CL, multicast into every block of the cluster). */
template <int BM, int BN, int CL>
__device__ __forceinline__ void qn_f8_issue(const qn_f8_args &p, uint8_t *a_s, uint8_t *b_s, uint32_t fb, int64_t nt0,
                                            int64_t m0, int64_t kt, int64_t KT, int64_t tiles, uint32_t bytes, int lane,
                                            uint32_t rank) {
    if (lane == 0) qn_mbar_arrive_expect_tx(fb, bytes);
    __syncwarp();
    if (lane < tiles) {
        qn_bulk_copy(qn_smem_u32(a_s + lane * 1024), p.codes + ((nt0 + lane) * KT + kt) * 1024, 1024, fb);
    } else if (lane >= BM / 16 && lane < BM / 16 + 4) {
        const int j = lane - BM / 16;
        const uint8_t *src = p.xq + ((kt * 4 + j) * p.Mp + m0) * 16;
        if (CL == 1) qn_bulk_copy(qn_smem_u32(b_s + j * BN * 16), src, BN * 16, fb);
        else if ((uint32_t)(j % CL) == rank)
            qn_bulk_copy_mc(qn_smem_u32(b_s + j * BN * 16), src, BN * 16, fb, (uint16_t)((1u << CL) - 1u));
    }
}

/* A consumer warp's release of a stage whose wgmma are done (after a __syncwarp): one arrival on this block's
 * empty barrier eb, or (CL > 1) lane r's on block r's. */
template <int CL> __device__ __forceinline__ void qn_f8_release(uint32_t eb, int lane) {
    if (CL == 1) {
        if (lane == 0) qn_mbar_arrive(eb);
    } else if (lane < CL) {
        qn_mbar_arrive_cluster(qn_mapa(eb, (uint32_t)lane));
    }
}
#endif

/* CL: CTAs per cluster along the weight rows (1: mmq8's kernel as measured; 2 or 4: fp8pp11's V2). The CL blocks of
 * a cluster hold the same tokens, so each copies 4 / CL of the step's activation slices once, multicast into all
 * CL shared memories: L2 reads per block and step fall from BM * 64 + BN * 64 bytes to BM * 64 + BN * 64 / CL. A
 * stage is then refilled only when the consumers of every block of the cluster have released it: their warps
 * arrive on the empty barrier of each block (CL * CW * 4 arrivals a phase). The sums are the same instructions
 * on the same bytes in the same order: y is bit-identical to CL = 1. */
template <int CW, int BN, int CL>
__global__ void __launch_bounds__(qn_f8_cfg<CW, BN>::threads, qn_f8_cfg<CW, BN>::min_blocks) qn_k_fp8_wg(qn_f8_args p) {
#if QN_F8_HAVE
    typedef qn_f8_cfg<CW, BN> Cfg;
    constexpr int S = Cfg::S, BM = Cfg::BM;
    extern __shared__ __align__(128) uint8_t qn_f8_smem[];
    __shared__ __align__(8) uint64_t full_bar[S], empty_bar[S];
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, wg = warp >> 2;
    unsigned long long *tr = p.trace && tid == 128
                                 ? p.trace + QN_CUDA_FP8_TRACE * (blockIdx.x + (uint64_t)gridDim.x * (blockIdx.y + (uint64_t)gridDim.y * blockIdx.z))
                                 : NULL;
    if (tr) {
        tr[0] = qn_f8_smid();
        qn_f8_stamp(tr, 0);
    }
    const int64_t KT = p.Kp / QN_F8_BK, NT = p.Np / 16;
    const int64_t kt0 = (int64_t)blockIdx.z * p.ksteps; /* this block's K steps: kt0 + i, i < nk */
    const int64_t nk = KT - kt0 < p.ksteps ? KT - kt0 : p.ksteps;
    int64_t bx = blockIdx.x, by = blockIdx.y;
    if (CL > 1) { /* V2's grouped order; a cluster's blocks are consecutive in x (rank = blockIdx.x % CL) */
        int64_t xc, yb;
        qn_f8_raster(blockIdx.x / CL + (gridDim.x / CL) * blockIdx.y, gridDim.x / CL, gridDim.y, xc, yb);
        bx = xc * CL + blockIdx.x % CL, by = yb;
    }
    const int64_t nt0 = bx * (BM / 16), m0 = by * BN;
    auto a_of = [&](int s) { return qn_f8_smem + s * Cfg::stage; };
    auto b_of = [&](int s) { return qn_f8_smem + s * Cfg::stage + Cfg::a_bytes; };

    const uint32_t rank = CL > 1 ? qn_cluster_rank() : 0u;
    qn_f8_bars_init<S, CL>(full_bar, empty_bar, CW * 4 * CL, tid);

    if (wg == 0) { /* ---------------- producer: one warp issues, the other three leave */
        if (CW == 2) qn_setmaxnreg_dec<40>();
        if (warp != 0) {
            if (CL > 1) qn_cluster_sync(); /* the closing one below */
            return;
        }
        const int64_t tiles = qn_f8_tiles(NT, nt0, BM / 16);
        const uint32_t bytes = (uint32_t)(tiles * 1024 + Cfg::b_bytes);
        for (int64_t i = 0; i < nk; i++) {
            const int s = (int)(i % S);
            qn_mbar_wait(qn_smem_u32(&empty_bar[s]), ((uint32_t)(i / S) & 1u) ^ 1u);
            qn_f8_issue<BM, BN, CL>(p, a_of(s), b_of(s), qn_smem_u32(&full_bar[s]), nt0, m0, kt0 + i, KT, tiles, bytes,
                                    lane, rank);
        }
        /* CL > 1: stay until every block of the cluster is done, so no copy this block issued is still landing
         * in another block's shared memory when it leaves */
        if (CL > 1) qn_cluster_sync();
        return;
    }

    /* ---------------- consumers */
    if (CW == 2) qn_setmaxnreg_inc<232>();
    const int cw = wg - 1, w4 = warp & 3, g = lane >> 2, t = lane & 3;
    const int ctid = tid - 128 * wg; /* thread in the warpgroup */
    float acc[BN / 8][4];
#pragma unroll
    for (int j = 0; j < BN / 8; j++) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.0f;

    /* Step i (K step kt0 + i): this warp's 16 rows are weight tile cw * 4 + w4 of the stage; the lane's 32 bytes
     * of it are its fragments of the tile's four k16 steps, 8 bytes each (cuda_kernels.h). */
    auto step = [&](int64_t i, uint32_t (&a)[2][4], uint32_t (&a_prev)[2][4]) {
        const int s = (int)(i % S);
        qn_mbar_wait(qn_smem_u32(&full_bar[s]), (uint32_t)((i / S) & 1));
        qn_f8_stage_mma<BN>(acc, a, a_of(s) + (cw * 4 + w4) * 1024 + lane * 32, qn_smem_u32(b_of(s)));
        qn_wg_wait<1>(); /* step i - 1's wgmma are done: its registers and its stage are free */
        qn_wg_keep(a_prev);
        qn_wg_keep(acc);
        if (i > 0) {
            __syncwarp();
            /* CL > 1: a stage no copy will refill again is not released (no arrival after its block left) */
            if (CL == 1 || i - 1 + S < nk) qn_f8_release<CL>(qn_smem_u32(&empty_bar[(int)((i - 1) % S)]), lane);
        }
    };
    uint32_t a0[2][4], a1[2][4];
#pragma unroll
    for (int q = 0; q < 2; q++)
#pragma unroll
        for (int i = 0; i < 4; i++) a0[q][i] = a1[q][i] = 0u;
    /* steps in pairs, the odd one after the loop (a step under a condition inside the loop serializes the
     * wgmma: ptxas C7515, ggml_mmq_wg.cu) */
    if (tr) { /* the step-0 wait the first step repeats: when the block's first bytes had landed */
        qn_mbar_wait(qn_smem_u32(&full_bar[0]), 0u);
        qn_f8_stamp(tr, 1);
    }
    int64_t i = 0;
    for (; i + 1 < nk; i += 2) {
        step(i, a0, a1);
        step(i + 1, a1, a0);
    }
    if (i < nk) step(i, a0, a1);
    qn_wg_wait<0>();
    qn_wg_keep(acc);
    qn_wg_keep(a0);
    qn_wg_keep(a1);
    if (tr) qn_f8_stamp(tr, 2);

    /* ---------------- epilogue: every consumer is past its last wgmma (so no one reads the stages any more,
     * and every copy has landed: each was waited on), then warpgroup cw writes its 64 x BN outputs, scaled
     * and rounded to y's dtype, token-major into its part of the stages, and stores each token's 64 outputs
     * with 16-byte stores. Pitch 64 * osz + 16: the lanes' scattered stores (8 rows g, 4 token pairs t) land
     * in distinct banks, and a quarter-warp's 16-byte reads are one token's contiguous 128 bytes. */
    qn_named_sync(1, CW * 128);
    /* split-K: this block's unscaled sums, f32, into its plane of the partials */
    const bool split = p.part != NULL;
    const int od = split ? QN_DT_F32 : p.yd;
    void *out = split ? (void *)(p.part + (int64_t)blockIdx.z * p.M * p.N) : p.y;
    const int osz = od == QN_DT_F32 ? 4 : 2, pitch = 64 * osz + 16;
    uint8_t *tile = qn_f8_smem + cw * BN * pitch;
    const int64_t nb = (nt0 + cw * 4) * 16; /* the warpgroup's first output n */
    float swr[2];
#pragma unroll
    for (int h = 0; h < 2; h++) {
        const int64_t n = nb + w4 * 16 + g + 8 * h;
        swr[h] = split ? 1.0f : n < p.Np ? p.sw[n] : 0.0f;
    }
#pragma unroll
    for (int j = 0; j < BN / 8; j++) {
#pragma unroll
        for (int c = 0; c < 2; c++) {
            const int ml = 8 * j + 2 * t + c;
            const float xs = split ? 1.0f : p.sx[m0 + ml]; /* m0 + ml < Mp: zero past M */
#pragma unroll
            for (int h = 0; h < 2; h++) {
                const int nl = w4 * 16 + g + 8 * h;
                const float v = acc[j][2 * h + c] * swr[h] * xs;
                uint8_t *dst = tile + ml * pitch + nl * osz;
                if (osz == 4) *reinterpret_cast<float *>(dst) = v;
                else if (od == QN_DT_F16) *reinterpret_cast<__half *>(dst) = __float2half_rn(v);
                else *reinterpret_cast<__nv_bfloat16 *>(dst) = __float2bfloat16_rn(v);
            }
        }
    }
    qn_named_sync(2 + cw, 128);
    const int per_row = 64 * osz / 16, epc = 16 / osz; /* 16-byte pieces per token, outputs per piece */
    const bool vec_ok = (p.N * osz) % 16 == 0 && ((uintptr_t)out & 15u) == 0;
    for (int i = ctid; i < BN * per_row; i += 128) {
        const int ml = i / per_row, pc = i % per_row;
        const int64_t m = m0 + ml, n = nb + pc * epc;
        if (m >= p.M || n >= p.N) continue;
        const uint8_t *src = tile + ml * pitch + pc * 16;
        uint8_t *dst = (uint8_t *)out + (m * p.N + n) * osz;
        if (vec_ok && n + epc <= p.N) {
            *reinterpret_cast<uint4 *>(dst) = *reinterpret_cast<const uint4 *>(src);
        } else {
            for (int e = 0; e < epc && n + e < p.N; e++)
                for (int b = 0; b < osz; b++) dst[e * osz + b] = src[e * osz + b];
        }
    }
    if (tr) qn_f8_stamp(tr, 3);
    if (CL > 1) qn_cluster_sync(); /* the producers' closing barrier */
#else
    (void)p;
    __trap(); /* compiled for sm_90a only; the host launches it only on compute capability 9.0 */
#endif
}

/* The persistent form (fp8pp11, QUANTA_CUDA_FP8_V2=...p): as many blocks as fit at once (whole clusters), each
 * walking the tiles u = its cluster + k * clusters launched (all blocks of a cluster on the same token tile, as
 * above). The stages and their barriers run on across tiles (global step count), so the producer copies the next
 * tile's first stages while the consumers finish the current one: the fill and the epilogue of consecutive tiles
 * overlap, instead of a block's life ending in a drain and the next beginning with an empty pipeline. The
 * epilogue stores straight from the accumulators (the stages are the next tile's now). Split-K is not taken
 * (the host launches qn_k_fp8_wg then). Same wgmma on the same bytes in the same order, the same scaling
 * expression and rounding: y bit-identical to qn_k_fp8_wg. */
/* Token m's scale (sx has Mp entries, zeros past M). A token tile of BN dividing 256 never passes Mp (a multiple of
 * 256); fp814's 192-token tile can, and reads zero there. */
template <int BN> __device__ __forceinline__ float qn_f8_sx(const qn_f8_args &p, int64_t m) {
    if (256 % BN == 0) return __ldg(p.sx + m);
    return m < p.Mp ? __ldg(p.sx + m) : 0.0f;
}
template <typename OT> __device__ __forceinline__ OT qn_f8_cvt(float v);
template <> __device__ __forceinline__ float qn_f8_cvt<float>(float v) { return v; }
template <> __device__ __forceinline__ __half qn_f8_cvt<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 qn_f8_cvt<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

/* acc (rows nb + w4 * 16 + g + 8h of the weights, tokens m0 + 8j + 2t + c) * sw[n] * sx[m] into y[m][n] */
/* j_lo .. j_hi: the 8-token groups stored (fp817's shared split-K reduction stores a block's share; else all) */
template <typename OT, int BN>
__device__ __forceinline__ void qn_f8_store_direct(const float (&acc)[BN / 8][4], const qn_f8_args &p, int64_t nb,
                                                   int64_t m0, int w4, int g, int t, int j_lo = 0, int j_hi = BN / 8) {
    OT *y = (OT *)p.y;
    float swr[2];
    int64_t n[2];
    /* scales loaded ahead of the stores, 16 at a time: y's stores may alias sx / sw as far as the compiler knows,
     * so a load after a store waits for it, and 64 dependent L2 round trips are what made mmq8's epilogue ~12 us
     * (fp8_check trace, 06:30 run); all 64 at once would spill */
#pragma unroll
    for (int h = 0; h < 2; h++) {
        n[h] = nb + w4 * 16 + g + 8 * h;
        swr[h] = n[h] < p.Np ? __ldg(p.sw + n[h]) : 0.0f;
    }
    constexpr int JC = BN >= 256 ? 8 : 4; /* 4 under the one-warpgroup tiles' 128-register cap */
#pragma unroll
    for (int j0 = 0; j0 < BN / 8; j0 += JC) {
        float xs[JC][2];
#pragma unroll
        for (int j = 0; j < JC; j++)
#pragma unroll
            for (int c = 0; c < 2; c++) xs[j][c] = qn_f8_sx<BN>(p, m0 + 8 * (j0 + j) + 2 * t + c);
#pragma unroll
        for (int j = 0; j < JC; j++) {
#pragma unroll
            for (int c = 0; c < 2; c++) {
                const int64_t m = m0 + 8 * (j0 + j) + 2 * t + c;
#pragma unroll
                for (int h = 0; h < 2; h++)
                    if (m < p.M && n[h] < p.N && j0 + j >= j_lo && j0 + j < j_hi)
                        y[m * p.N + n[h]] = qn_f8_cvt<OT>(acc[j0 + j][2 * h + c] * swr[h] * xs[j][c]);
            }
        }
    }
}

/* DEPTH: wgmma groups a consumer keeps in flight (1: as qn_k_fp8_wg; 2: CUTLASS's register-A mainloop waits with
 * 2 outstanding; the 06:30 trace's 900-1000 clocks per step of the 128x256 tile, where the tensor cores need
 * ~550, look like each step waiting out the previous one's latency), with as many A buffers + 1. */
template <int CW, int BN, int CL, int DEPTH>
__global__ void __launch_bounds__(qn_f8_cfg<CW, BN>::threads, qn_f8_cfg<CW, BN>::min_blocks) qn_k_fp8_wg_ps(qn_f8_args p) {
#if QN_F8_HAVE
    typedef qn_f8_cfg<CW, BN> Cfg;
    constexpr int S = Cfg::S, BM = Cfg::BM;
    extern __shared__ __align__(128) uint8_t qn_f8_smem[];
    __shared__ __align__(8) uint64_t full_bar[S], empty_bar[S];
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, wg = warp >> 2;
    const int64_t KT = p.Kp / QN_F8_BK, NT = p.Np / 16, nk = KT;
    const uint32_t rank = CL > 1 ? qn_cluster_rank() : 0u;
    const int64_t C = gridDim.x / CL, cid = blockIdx.x / CL;
    const int64_t nunits = p.units > cid ? (p.units - cid + C - 1) / C : 0;
    const int64_t total = nunits * nk; /* steps this block runs, all its tiles */
    auto a_of = [&](int s) { return qn_f8_smem + s * Cfg::stage; };
    auto b_of = [&](int s) { return qn_f8_smem + s * Cfg::stage + Cfg::a_bytes; };
    auto tile_of = [&](int64_t k, int64_t &nt0, int64_t &m0) {
        int64_t xc, yb;
        qn_f8_raster((uint32_t)(cid + k * C), (uint32_t)p.gxc, (uint32_t)(p.units / p.gxc), xc, yb);
        nt0 = (xc * CL + rank) * (BM / 16), m0 = yb * BN;
    };

    qn_f8_bars_init<S, CL>(full_bar, empty_bar, CW * 4 * CL, tid);

    if (wg == 0) { /* ---------------- producer */
        if (CW == 2) qn_setmaxnreg_dec<40>();
        if (warp == 0) {
            int64_t gs = 0; /* global step: stage gs % S, its use gs / S */
            for (int64_t k = 0; k < nunits; k++) {
                int64_t nt0, m0;
                tile_of(k, nt0, m0);
                const int64_t tiles = qn_f8_tiles(NT, nt0, BM / 16);
                const uint32_t bytes = (uint32_t)(tiles * 1024 + Cfg::b_bytes);
                for (int64_t kt = 0; kt < nk; kt++, gs++) {
                    const int s = (int)(gs % S);
                    qn_mbar_wait(qn_smem_u32(&empty_bar[s]), ((uint32_t)(gs / S) & 1u) ^ 1u);
                    qn_f8_issue<BM, BN, CL>(p, a_of(s), b_of(s), qn_smem_u32(&full_bar[s]), nt0, m0, kt, KT, tiles,
                                            bytes, lane, rank);
                }
            }
        }
        if (CL > 1) qn_cluster_sync(); /* no copy of this block still landing elsewhere when it leaves */
        return;
    }

    /* ---------------- consumers */
    if (CW == 2) qn_setmaxnreg_inc<232>();
    const int cw = wg - 1, w4 = warp & 3, g = lane >> 2, t = lane & 3;
    float acc[BN / 8][4];
    /* global step gj's stage is free again (its wgmma done); only stages some copy still refills are released */
    auto release = [&](int64_t gj) {
        __syncwarp();
        if (gj + S < total) qn_f8_release<CL>(qn_smem_u32(&empty_bar[(int)(gj % S)]), lane);
    };
    int64_t g0 = 0; /* the global step of the tile's first K step */
    /* step i: its A into `a`; after the wait, step i - DEPTH is done and its buffer, `a_next` (step i + 1's), free */
    auto step = [&](int64_t i, uint32_t (&a)[2][4], uint32_t (&a_next)[2][4]) {
        const int64_t gi = g0 + i;
        const int s = (int)(gi % S);
        qn_mbar_wait(qn_smem_u32(&full_bar[s]), (uint32_t)((gi / S) & 1));
        qn_f8_stage_mma<BN>(acc, a, a_of(s) + (cw * 4 + w4) * 1024 + lane * 32, qn_smem_u32(b_of(s)));
        qn_wg_wait<DEPTH>();
        qn_wg_keep(a_next);
        qn_wg_keep(acc);
        if (i >= DEPTH) release(gi - DEPTH);
    };
    uint32_t a0[2][4], a1[2][4], a2[2][4];
#pragma unroll
    for (int q = 0; q < 2; q++)
#pragma unroll
        for (int i = 0; i < 4; i++) a0[q][i] = a1[q][i] = a2[q][i] = 0u;
    for (int64_t k = 0; k < nunits; k++, g0 += nk) {
        int64_t nt0, m0;
        tile_of(k, nt0, m0);
#pragma unroll
        for (int j = 0; j < BN / 8; j++) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.0f;
        int64_t i = 0;
        if (DEPTH == 1) {
            for (; i + 1 < nk; i += 2) { /* in pairs, the odd one after (ptxas C7515, as above) */
                step(i, a0, a1);
                step(i + 1, a1, a0);
            }
            if (i < nk) step(i, a0, a1);
        } else { /* three buffers in turn, the one or two left after */
            for (; i + 2 < nk; i += 3) {
                step(i, a0, a1);
                step(i + 1, a1, a2);
                step(i + 2, a2, a0);
            }
            if (i < nk) step(i, a0, a1);
            if (i + 1 < nk) step(i + 1, a1, a2);
        }
        qn_wg_wait<0>();
        qn_wg_keep(acc);
        qn_wg_keep(a0);
        qn_wg_keep(a1);
        if (DEPTH > 1) qn_wg_keep(a2);
        for (int64_t r = nk > DEPTH ? nk - DEPTH : 0; r < nk; r++) release(g0 + r);
        const int64_t nb = (nt0 + cw * 4) * 16;
        if (p.yd == QN_DT_F32) qn_f8_store_direct<float, BN>(acc, p, nb, m0, w4, g, t);
        else if (p.yd == QN_DT_F16) qn_f8_store_direct<__half, BN>(acc, p, nb, m0, w4, g, t);
        else qn_f8_store_direct<__nv_bfloat16, BN>(acc, p, nb, m0, w4, g, t);
    }
    if (CL > 1) qn_cluster_sync();
#else
    (void)p;
    __trap();
#endif
}

/* ------------------------------------------------------------------ fp813: the TMA form (QUANTA_CUDA_FP8_V2=0t / 2t)
 * fp8pp11's trace put the K step of the 128x256 tile at ~960 clocks where the tensor cores need 512, and halving
 * its L2 bytes (clusters) took only 10% off; fa12's attention kernel gained 30-45% from nothing but the 128-byte
 * swizzle of its wgmma shared-memory operands (bench/NOTES.md section 6, fa12): the no-swizzle ("interleave")
 * core-matrix layout of the token tile is the suspect. This form keeps the persistent kernel's walk, clusters,
 * weights in registers (A) and arithmetic, and changes how the stages are filled and laid out:
 *  - tokens (B) token-major in global memory (qn_k_fp8_quant_x with tm: row m = its Kp codes, the same kperm
 *    order inside each 16 bytes), loaded by one TMA instruction per stage with the 128-byte swizzle: BN rows of
 *    128 K bytes, wgmma's K-major SW128 canonical layout (descriptor stride 1024, start + 32 bytes per k32);
 *    in clusters of 2 each block loads half the rows and multicasts them to both;
 *  - the weights' tiled layout as it is ([Np/16][Kp/64][1 KB], so no repack), one 3d TMA box per stage (the BM/16
 *    row tiles x 2 K tiles, u64 elements), no swizzle (they go to registers through LDS.128 as before);
 *  - K 128 per stage (two of the old steps: 4 wgmma k32 per wait), fewer, larger stages (4 of 48 KB for 128x256).
 * The wgmma sequence is the old one (the K tiles in order, k32 halves in order; a last odd K tile adds zero codes
 * times zero codes, TMA's fill past the arrays): y bit-identical to the other forms (fp8_check compares). */
#define QN_F8T_BK 128 /* K bytes per stage: two weight K tiles, one 128-byte swizzle row of each token */

/* EPI 1: the epilogue through shared memory and a TMA store (qn_f8t_store_tma): per consumer warpgroup two 64 x 64
 * boxes of 2-byte outputs (128 bytes a token, the store map's 128-byte swizzle); the stages fill the rest of the
 * 227 KB (4 of 48 KB for 128x256). */
template <int CW, int BN, int EPI = 0> struct qn_f8t_cfg {
    static constexpr int BM = 64 * CW, threads = 128 * (CW + 1);
    static constexpr int a_bytes = BM * QN_F8T_BK, b_bytes = BN * QN_F8T_BK, stage = a_bytes + b_bytes;
    static constexpr int min_blocks = CW == 1 ? 2 : 1;
    static constexpr int epi_bytes = EPI ? CW * 2 * 8192 : 0;
    static constexpr int S0 = ((min_blocks == 2 ? 100 * 1024 : EPI ? 231424 : 200 * 1024) - epi_bytes - (EPI ? 1024 : 0)) / stage,
                         S = S0 > 8 ? 8 : S0;
    /* + aligning the stages to the swizzle atom's 1024 bytes */
    static constexpr int smem = S * stage + epi_bytes + 1024;
    static_assert(S >= 3, "pipeline depth");
    static_assert(stage % 1024 == 0 && b_bytes % 1024 == 0, "stages and their A part on 1024-byte boundaries");
};

#if QN_F8_HAVE
/* One 128-wide K stage of a consumer warpgroup: K tiles j = 0, 1 of its warp's 16 weight rows (a_lane: the lane's
 * 32 bytes of tile 0; tile 1 is 1 KB on) into A fragments as qn_f8_stage_mma does, then 4 wgmma k32 against the
 * swizzled token rows at b (K bytes 64 j + 32 q), committed, not waited for. */
template <int BN>
__device__ __forceinline__ void qn_f8t_stage_mma(float (&acc)[BN / 8][4], uint32_t (&a)[2][2][4], const uint8_t *a_lane,
                                                 uint32_t b) {
#pragma unroll
    for (int j = 0; j < 2; j++) {
        const uint4 *src = reinterpret_cast<const uint4 *>(a_lane + j * 1024);
#pragma unroll
        for (int q = 0; q < 2; q++) {
            const uint4 u = src[q];
            a[j][q][0] = __byte_perm(u.x, u.y, 0x5410);
            a[j][q][1] = __byte_perm(u.x, u.y, 0x7632);
            a[j][q][2] = __byte_perm(u.z, u.w, 0x5410);
            a[j][q][3] = __byte_perm(u.z, u.w, 0x7632);
        }
    }
    qn_wg_fence();
#pragma unroll
    for (int j = 0; j < 2; j++)
#pragma unroll
        for (int q = 0; q < 2; q++) qn_f8_mma<BN>(acc, a[j][q], qn_wg_desc_sw128(b + 64 * j + 32 * q, 16, 1024));
    qn_wg_commit();
}

/* fp818 (QUANTA_CUDA_FP8_SS): the same stage with the weights from shared memory too (SS wgmma). Why: fp816's ncu of
 * 512 x 4096 x 11008 had the shared pipe as our kernel's top pipe (55%: every lane's LDS.128 of its A bytes plus the
 * byte permutes, per stage) and the L2 at 48-52% where cuBLASLt's kernel (both operands by descriptor) keeps 70%;
 * fp814's ping-pong showed one warpgroup issuing register-A n128 alone at half the tensor rate. The weights come
 * K-major (cuda_kernels.h, qn_cuda_fp8_km_offset: the token codes' K order inside each 16 bytes) in a 128-byte
 * swizzled box of BM rows x 128 K bytes, so this warpgroup's 64 rows are an 8 KB run at a = box + 8192 cw: wgmma's
 * K-major SW128 canonical layout, as the token box (sbo 1024 between 8-row groups, + 32 bytes per k32). The k32
 * order is the register form's (K tile j, half q: bytes 64 j + 32 q), and byte p of a slice holds the same k in
 * both forms, so each instruction multiplies the same values at the same positions. */
template <int BN> __device__ __forceinline__ void qn_f8_mma_ss(float (&d)[BN / 8][4], uint64_t ad, uint64_t bd);
template <> __device__ __forceinline__ void qn_f8_mma_ss<64>(float (&d)[8][4], uint64_t ad, uint64_t bd) {
    qn_wg_mma_f8ss_n64(d, ad, bd);
}
template <> __device__ __forceinline__ void qn_f8_mma_ss<128>(float (&d)[16][4], uint64_t ad, uint64_t bd) {
    qn_wg_mma_f8ss_n128(d, ad, bd);
}
template <> __device__ __forceinline__ void qn_f8_mma_ss<192>(float (&d)[24][4], uint64_t ad, uint64_t bd) {
    qn_wg_mma_f8ss_n192(d, ad, bd);
}
template <> __device__ __forceinline__ void qn_f8_mma_ss<256>(float (&d)[32][4], uint64_t ad, uint64_t bd) {
    qn_wg_mma_f8ss_n256(d, ad, bd);
}
template <int BN> __device__ __forceinline__ void qn_f8t_stage_mma_ss(float (&acc)[BN / 8][4], uint32_t a, uint32_t b) {
    qn_wg_fence();
#pragma unroll
    for (int kk = 0; kk < 4; kk++)
        qn_f8_mma_ss<BN>(acc, qn_wg_desc_sw128(a + 32 * kk, 16, 1024), qn_wg_desc_sw128(b + 32 * kk, 16, 1024));
    qn_wg_commit();
}
#endif

#if QN_F8_HAVE
/* EPI's epilogue of one consumer warpgroup: acc (weight rows nb + w4 * 16 + g + 8h, tokens m0 + 8j + 2t + c) times
 * sw[n] sx[m], rounded to OT (2 bytes), in chunks of 64 tokens, each into one of the warpgroup's two 8 KB boxes in
 * turn (cc counts its chunks across tiles: consecutive chunks never share a box) as the store map lays it out
 * (token m's 64 outputs in the 128-byte row m, 16-byte chunk (n / 8) ^ (m & 7): the 4 token rows one store
 * instruction touches land in different banks), then one thread stores the box to y[m0.., nb..] by TMA and the
 * warpgroup goes on; a box is rewritten only after the store before the last one has read it (wait_group.read 1).
 * Two small boxes instead of one BN x 64: the 128x256 tile keeps its 4 stages (round 1 on the H100: one 64 KB box
 * and 3 stages took the K loop from 516 to 683 clocks per 64 of K). Same products, same rounding as
 * qn_f8_store_direct: y bit-identical. */
/* fp817 (STM, QUANTA_CUDA_FP8_STM=1, off until a device run has timed it): the same box bytes by stmatrix. fp816's
 * trace has the 128x256 tile's epilogue at ~2.6 us against a ~26 us K loop at M = 2048 (the tensor cores idle
 * meanwhile); per thread and 64-token chunk it issues 64 two-byte shared stores, 64 conversions and their addresses.
 * An 8 x 8 block of the accumulators (weight rows g of 16 w4 + 8h, tokens 2t, 2t + 1 of group j) is an mma fragment;
 * stmatrix .trans writes its column (one token) as the 16 bytes of that token's box row at chunk (2 w4 + h) ^ (token
 * & 7), exactly where the two-byte stores put them: 4 stmatrix.x4 and 32 paired conversions (the same rounding,
 * round to nearest even, each half) a chunk. Same products, same bytes: y bit-identical (fp8_check compares). */
template <typename OT> __device__ __forceinline__ uint32_t qn_f8_pack2(float lo, float hi);
template <> __device__ __forceinline__ uint32_t qn_f8_pack2<__nv_bfloat16>(float lo, float hi) {
    const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<const uint32_t *>(&v);
}
template <> __device__ __forceinline__ uint32_t qn_f8_pack2<__half>(float lo, float hi) {
    const __half2 v = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<const uint32_t *>(&v);
}
__device__ __forceinline__ void qn_stmatrix_x4_trans(uint32_t addr, const uint32_t (&r)[4]) {
    asm volatile("stmatrix.sync.aligned.m8n8.x4.trans.shared.b16 [%0], {%1, %2, %3, %4};\n" ::"r"(addr), "r"(r[0]),
                 "r"(r[1]), "r"(r[2]), "r"(r[3])
                 : "memory");
}
template <typename OT, int BN, bool STM>
__device__ __forceinline__ void qn_f8t_store_tma(const float (&acc)[BN / 8][4], const qn_f8_args &p, const CUtensorMap *ymap,
                                                 uint8_t *ep, int64_t nb, int64_t m0, int w4, int g, int t, int ctid,
                                                 uint32_t bar_id, uint32_t &cc, int q_lo = 0, int q_hi = BN / 64) {
    static_assert(BN % 64 == 0, "whole 64-token chunks");
    float swr[2];
#pragma unroll
    for (int h = 0; h < 2; h++) {
        const int64_t n = nb + w4 * 16 + g + 8 * h;
        swr[h] = n < p.Np ? __ldg(p.sw + n) : 0.0f;
    }
    constexpr int JC = BN >= 256 ? 8 : 4; /* scales loaded ahead, JC token groups at a time (as store_direct) */
#pragma unroll
    for (int q = 0; q < BN / 64; q++) {
        if (q < q_lo || q >= q_hi) continue; /* another block's share (fp817); cc counts stored chunks only */
        uint8_t *box = ep + (cc++ & 1u) * 8192;
        if (ctid == 0) qn_tma_store_wait_read<1>(); /* the store that last read this box is done reading */
        qn_named_sync(bar_id, 128);
#pragma unroll
        for (int j0 = 8 * q; j0 < 8 * q + 8; j0 += JC) {
            float xs[JC][2];
#pragma unroll
            for (int j = 0; j < JC; j++)
#pragma unroll
                for (int c = 0; c < 2; c++) xs[j][c] = qn_f8_sx<BN>(p, m0 + 8 * (j0 + j) + 2 * t + c);
            if (STM) {
                const int i = (4 * g + t) >> 3, r = (4 * g + t) & 7; /* this lane's row: matrix i, token r of its group */
#pragma unroll
                for (int j = 0; j < JC; j += 2) {
                    uint32_t v[4]; /* matrices (j, h 0), (j, h 1), (j + 1, h 0), (j + 1, h 1) */
#pragma unroll
                    for (int dj = 0; dj < 2; dj++)
#pragma unroll
                        for (int h = 0; h < 2; h++)
                            v[2 * dj + h] = qn_f8_pack2<OT>(acc[j0 + j + dj][2 * h] * swr[h] * xs[j + dj][0],
                                                            acc[j0 + j + dj][2 * h + 1] * swr[h] * xs[j + dj][1]);
                    const int ml = 8 * (j0 + j + (i >> 1) - 8 * q) + r;
                    qn_stmatrix_x4_trans(qn_smem_u32(box) + ml * 128 + ((((2 * w4 + (i & 1)) ^ r)) << 4), v);
                }
            } else {
#pragma unroll
                for (int j = 0; j < JC; j++)
#pragma unroll
                    for (int c = 0; c < 2; c++) {
                        const int ml = 8 * (j0 + j - 8 * q) + 2 * t + c; /* token in the chunk */
#pragma unroll
                        for (int h = 0; h < 2; h++) {
                            const int nl = w4 * 16 + g + 8 * h;
                            *reinterpret_cast<OT *>(box + ml * 128 + (((nl >> 3) ^ (ml & 7)) << 4) + (nl & 7) * 2) =
                                qn_f8_cvt<OT>(acc[j0 + j][2 * h + c] * swr[h] * xs[j][c]);
                        }
                    }
            }
        }
        qn_tma_fence_smem();
        qn_named_sync(bar_id, 128);
        if (ctid == 0) {
            qn_tma_store_2d(ymap, qn_smem_u32(box), (int32_t)nb, (int32_t)(m0 + 64 * q));
            qn_tma_store_commit();
        }
    }
}
#endif

#if QN_F8_HAVE
/* fp819 (OE): qn_f8t_store_tma's products and rounding (STM's pairs: tokens 2t, 2t + 1 of group J, weight row half h)
 * into registers, for stores issued later: pk[J][h] = the pair as stmatrix takes it. */
template <typename OT, int BN>
__device__ __forceinline__ void qn_f8t_pack(const float (&acc)[BN / 8][4], uint32_t (&pk)[BN / 8][2], const qn_f8_args &p,
                                            int64_t nb, int64_t m0, int w4, int g, int t) {
    float swr[2];
#pragma unroll
    for (int h = 0; h < 2; h++) {
        const int64_t n = nb + w4 * 16 + g + 8 * h;
        swr[h] = n < p.Np ? __ldg(p.sw + n) : 0.0f;
    }
#pragma unroll
    for (int j0 = 0; j0 < BN / 8; j0 += 8) { /* scales 16 at a time, as qn_f8t_store_tma */
        float xs[8][2];
#pragma unroll
        for (int j = 0; j < 8; j++)
#pragma unroll
            for (int c = 0; c < 2; c++) xs[j][c] = qn_f8_sx<BN>(p, m0 + 8 * (j0 + j) + 2 * t + c);
#pragma unroll
        for (int j = 0; j < 8; j++)
#pragma unroll
            for (int h = 0; h < 2; h++)
                pk[j0 + j][h] = qn_f8_pack2<OT>(acc[j0 + j][2 * h] * swr[h] * xs[j][0], acc[j0 + j][2 * h + 1] * swr[h] * xs[j][1]);
    }
}
#endif

#if QN_F8_HAVE
/* The TMA forms' producer (one thread): every K stage of this block's segments in order (segment k: the K stages
 * kb .. ke - 1 of one tile, seg_of(k, nt0, m0, kb, ke); all of them but in fp815's stream-K; the stages and their
 * barriers run on across segments: global step gs uses stage gs % S for the gs / S-th time), each stage = the token
 * box at base + s * STAGE (BN rows x 128 K bytes, 128-byte swizzle) and the weight box after it (BM / 16 row
 * tiles x 2 K tiles). CL > 1 along the weights (TOK 0): this block loads BN / CL token rows and multicasts them;
 * along the tokens (TOK 1): BM / 16 / CL weight row tiles, multicast, and its own token tile. */
template <int S, int STAGE, int BM, int BN, int CL, int TOK, typename SegOf, int SS = 0>
__device__ __forceinline__ void qn_f8t_produce(int64_t nseg, const SegOf &seg_of, uint8_t *base, uint64_t *full_bar,
                                               uint64_t *empty_bar, const CUtensorMap *wmap, const CUtensorMap *xmap,
                                               uint32_t rank) {
    int64_t gs = 0;
    for (int64_t k = 0; k < nseg; k++) {
        int64_t nt0, m0, kb, ke;
        seg_of(k, nt0, m0, kb, ke);
        for (int64_t kt = kb; kt < ke; kt++, gs++) {
            const int s = (int)(gs % S);
            const uint32_t bs = qn_smem_u32(base + s * STAGE), as = bs + BN * QN_F8T_BK;
            qn_mbar_wait(qn_smem_u32(&empty_bar[s]), ((uint32_t)(gs / S) & 1u) ^ 1u);
            const uint32_t fb = qn_smem_u32(&full_bar[s]);
            /* whole boxes are counted, zero-filled parts too; the multicast halves land from both blocks */
            qn_mbar_arrive_expect_tx(fb, (uint32_t)STAGE);
            if (TOK) { /* weights: this block's share, multicast; tokens: its own tile (past Mp: zeros) */
                constexpr uint32_t RT = BM / 16 / CL;
                if (SS) /* fp818: BM / CL rows of the K-major copy at their place in the swizzled box (1024-aligned) */
                    qn_tma_load_2d_mc(as + rank * RT * 2048, wmap, fb, (int32_t)(kt * QN_F8T_BK),
                                      (int32_t)((nt0 + rank * RT) * 16), (uint16_t)((1u << CL) - 1u));
                else
                    qn_tma_load_3d_mc(as + rank * RT * 2048, wmap, fb, 0, (int32_t)(2 * kt), (int32_t)(nt0 + rank * RT),
                                      (uint16_t)((1u << CL) - 1u));
                qn_tma_load_2d(bs, xmap, fb, (int32_t)(kt * QN_F8T_BK), (int32_t)m0);
                continue;
            }
            if (SS) /* fp818: BM rows x 128 K bytes of the K-major copy, 128-byte swizzle (rows past Np: zeros) */
                qn_tma_load_2d(as, wmap, fb, (int32_t)(kt * QN_F8T_BK), (int32_t)(nt0 * 16));
            else qn_tma_load_3d(as, wmap, fb, 0, (int32_t)(2 * kt), (int32_t)nt0);
            const uint32_t rows = BN / CL, bdst = bs + rank * rows * QN_F8T_BK;
            if (CL == 1) qn_tma_load_2d(bdst, xmap, fb, (int32_t)(kt * QN_F8T_BK), (int32_t)m0);
            else
                qn_tma_load_2d_mc(bdst, xmap, fb, (int32_t)(kt * QN_F8T_BK), (int32_t)(m0 + rank * rows),
                                  (uint16_t)((1u << CL) - 1u));
        }
    }
}
#endif

#if QN_F8_HAVE
/* fp815's stream-K: block c of C takes iterations [b, e) of `total` (tile, K stage) iterations, the first total % C
 * blocks one more; qn_f8_sk_block is its inverse (which block runs iteration it). C <= total (the host's launch). */
__device__ __forceinline__ void qn_f8_sk_range(int64_t total, int64_t C, int64_t c, int64_t &b, int64_t &e) {
    const int64_t q = total / C, r = total % C;
    b = c * q + (c < r ? c : r), e = b + q + (c < r ? 1 : 0);
}
__device__ __forceinline__ int64_t qn_f8_sk_block(int64_t it, int64_t total, int64_t C) {
    const int64_t q = total / C, r = total % C;
    return it < r * (q + 1) ? it / (q + 1) : r + (it - r * (q + 1)) / q;
}
/* fp816's split-K groups (sp >= 1): the R = total / nk units past dp_units, unit r's K stages in sp near-equal pieces,
 * piece j to block r sp + j (blocks from R sp on: none). Every block of a group reaches its piece after the same
 * number of whole tiles, so the pieces of a tile run side by side: their weight and token rows are in L2 together
 * (fp815's contiguous ranges put the 132 blocks on tiles spread over the whole region), and the owner (piece 0)
 * waits about one piece for its peers. nk >= sp (the host's): no empty piece. qn_f8_skg_block is the inverse. */
/* Piece 0 (the owner's) starts `lead` stages longer where the pieces are long enough (nk >= 8 sp): the others
 * end that much earlier, so their slots are written while the owner still computes (H100 00:11: the owner's
 * epilogue, mostly that wait, 6.1 us against 1.0 for a whole tile). Boundaries: 0, then d + j (nk - d) / sp. fp816
 * built it as a build-time constant left 0 (unmeasured); fp820 passes it per call (qn_f8_args.sk_lead: QN_F8_SKG_LEAD,
 * or 3 under QUANTA_CUDA_FP8_LEAD=1 / sk | 1024) so that one device run times it against equal pieces. */
#ifndef QN_F8_SKG_LEAD
#define QN_F8_SKG_LEAD 0
#endif
/* fp821: benches may ask for longer leads (sk bits 16-21): capped at (nk - sp) / 2 so that every peer keeps a stage
 * (the cap is >= 3.5 sp where a lead applies, so QUANTA_CUDA_FP8_LEAD's 3 is never cut) */
__device__ __forceinline__ int64_t qn_f8_skg_lead(int64_t nk, int64_t sp, int lead) {
    const int64_t cap = (nk - sp) / 2;
    return nk >= 8 * sp ? (lead < cap ? lead : cap) : 0;
}
__device__ __forceinline__ int64_t qn_f8_skg_at(int64_t j, int64_t nk, int64_t sp, int lead) { /* piece j's first stage */
    const int64_t d = qn_f8_skg_lead(nk, sp, lead);
    return j == 0 ? 0 : j >= sp ? nk : d + j * (nk - d) / sp;
}
__device__ __forceinline__ void qn_f8_skg_range(int64_t total, int64_t nk, int64_t sp, int64_t c, int64_t &b, int64_t &e,
                                                int lead) {
    const int64_t r = c / sp, j = c % sp;
    if (r >= total / nk) b = e = 0;
    else b = r * nk + qn_f8_skg_at(j, nk, sp, lead), e = r * nk + qn_f8_skg_at(j + 1, nk, sp, lead);
}
__device__ __forceinline__ int64_t qn_f8_skg_block(int64_t it, int64_t nk, int64_t sp, int lead) {
    const int64_t k = it % nk, d = qn_f8_skg_lead(nk, sp, lead); /* k - d in [j (nk - d) / sp, (j + 1) (nk - d) / sp) */
    return it / nk * sp + (k < d ? 0 : ((k - d + 1) * sp - 1) / (nk - d));
}
/* A slot's flag: posted by the warpgroup that wrote the slot (every thread's stores, then its named barrier, then
 * this: CUTLASS's generic barrier, fence.acq_rel + relaxed add), awaited by the tile's owner with acquire loads. */
__device__ __forceinline__ void qn_f8_sk_post(unsigned *f) {
    asm volatile("fence.acq_rel.gpu;\n\tred.relaxed.gpu.global.add.u32 [%0], 1;\n" ::"l"(f) : "memory");
}
__device__ __forceinline__ void qn_f8_sk_await(unsigned *f) {
    unsigned v;
    do {
        asm volatile("ld.acquire.gpu.global.u32 %0, [%1];\n" : "=r"(v) : "l"(f) : "memory");
    } while (v == 0u);
    asm volatile("st.relaxed.gpu.global.u32 [%0], 0;\n" ::"l"(f) : "memory"); /* its only reader: zero for the next call */
}
/* fp817's shared reduction (SK 5 / 6): a slot has several readers, so its flag counts: 1 when posted, + 1 per reader
 * that has seen it (qn_f8_skr_await acknowledges at once: nothing rewrites a slot within a call), and its writer
 * zeroes it once all `want` (1 + its readers) are in, so that it is left zero for the next call. */
__device__ __forceinline__ void qn_f8_skr_await(unsigned *f) {
    unsigned v;
    do {
        asm volatile("ld.acquire.gpu.global.u32 %0, [%1];\n" : "=r"(v) : "l"(f) : "memory");
    } while (v == 0u);
    asm volatile("red.relaxed.gpu.global.add.u32 [%0], 1;\n" ::"l"(f) : "memory");
}
__device__ __forceinline__ void qn_f8_skr_reset(unsigned *f, unsigned want) {
    unsigned v;
    do {
        asm volatile("ld.relaxed.gpu.global.u32 %0, [%1];\n" : "=r"(v) : "l"(f) : "memory");
    } while (v != want);
    asm volatile("st.relaxed.gpu.global.u32 [%0], 0;\n" ::"l"(f) : "memory");
}
/* fp822 (SK 2 in the template, QUANTA_CUDA_FP8_SKCL): the groups' pieces reduced in distributed shared memory. The
 * cluster barrier with release / acquire orders a piece's shared-memory stores of its sums before its peers'
 * distributed reads, and those reads before any block of the cluster leaves (mmq21's qn_rsi_cluster_*, the same
 * instructions). */
__device__ __forceinline__ void qn_f8_cl_arrive() { asm volatile("barrier.cluster.arrive.release;\n" ::: "memory"); }
__device__ __forceinline__ void qn_f8_cl_wait() { asm volatile("barrier.cluster.wait.acquire;\n" ::: "memory"); }
__device__ __forceinline__ float4 qn_f8_ld_cluster4(uint32_t caddr) { /* volatile: never above the cluster barrier */
    float4 v;
    asm volatile("ld.shared::cluster.v4.f32 {%0, %1, %2, %3}, [%4];\n" : "=f"(v.x), "=f"(v.y), "=f"(v.z), "=f"(v.w) : "r"(caddr));
    return v;
}
#endif

/* TOK 1 (V2=2tw / 4tw): the cluster's CL blocks lie along the tokens instead (same weight rows, token tiles
 * CL * cluster row + rank), each loads BM / 16 / CL of the stage's weight row tiles and multicasts them, and its
 * whole token tile alone: at small M the weights are most of the L2 bytes (M = 256 on 128x64 tiles: 16 KB of
 * weights and 8 KB of tokens per block and stage, 4 token tiles reading each weight tile).
 * SK 1 (fp815, clusters of 1 along the weights; QUANTA_CUDA_FP8_SK): stream-K for the last rounds of tiles. Units
 * [0, p.dp_units) go round-robin as whole tiles; the (unit, K stage) iterations of the others are split evenly
 * over the blocks, so every block ends at the same K depth instead of a third of them running a last round alone
 * (512 x 11008 x 4096: 172 tiles of 128x256 on 132 SMs). A block's iterations are consecutive: its first segment
 * may be a tile's K tail, its last a tile's K head. A tail's unscaled sums go to the block's slot of p.skw (one
 * register after another, 128 threads wide: coalesced, and read back by the same thread index of the owner), then
 * its flag is posted; the head's block (the tile's owner: it reaches the tile last in its own range, its peers
 * first in theirs) adds the slots of the blocks after it in block order (deterministic), then scales and stores
 * as any tile. Every block of the grid is resident at once (the host launches at most one per SM), so the owner's
 * wait cannot block a peer that has not started. Unsplit tiles: bit-identical to SK 0; split ones differ by the
 * f32 sums' association (checked against the reference). */
template <int CW, int BN, int CL, int EPI, int TOK, int SK, int SS = 0, int PP = 0, int OE = 0>
__global__ void __launch_bounds__(qn_f8t_cfg<CW, BN, EPI>::threads, qn_f8t_cfg<CW, BN, EPI>::min_blocks)
    qn_k_fp8_tma(qn_f8_args p, const __grid_constant__ CUtensorMap wmap, const __grid_constant__ CUtensorMap xmap,
                 const __grid_constant__ CUtensorMap ymap) {
#if QN_F8_HAVE
    typedef qn_f8t_cfg<CW, BN, EPI> Cfg;
    constexpr int S = Cfg::S, BM = Cfg::BM;
    static_assert(!SK || (CL == 1 && !TOK), "stream-K: blocks alone");
    /* fp822: SK 2 = the groups (sk_sp > 0) with the pieces of a tile in one cluster of sk_sp blocks (launched with that
     * cluster size; CL stays 1: no multicast), reduced through distributed shared memory instead of the slots */
    constexpr bool KCL = SK == 2;
    static_assert(!KCL || (CW == 2 && 2 * (BN / 8) * 128 * 16 <= qn_f8t_cfg<CW, BN, EPI>::S * qn_f8t_cfg<CW, BN, EPI>::stage),
                  "fp822: both warpgroups' sums fit the stage ring");
    /* fp822: SS 128x256 in clusters of 2 along the weights (the token box's halves multicast, each block its own weight
     * rows: the producer's TOK 0 path was already SS-ready), a bench form for the long rows (fp8_pair kc2) */
    static_assert(!SS || (CW == 2 && (CL == 1 || TOK || (CL == 2 && (BN == 256 || BN == 128)))),
                  "fp818's SS form: two-consumer tiles, alone, along the tokens, or (fp822) 128x256 / (fp823) 128x128, "
                  "cooperative or ping-pong, in pairs along the weights");
    /* fp823: the ping-pong form also in pairs along the weights (TOK 0, CL 2: each block its own 128 weight rows, the
     * 128-token box's halves multicast), the peer's 1x2 cluster; the producer's TOK 0 path serves it as it is */
    static_assert(!PP || (SS && CW == 2 && BN == 128 && !SK && (CL == 1 || TOK || CL == 2)), "fp819's ping-pong: SS 128x128, no split");
    static_assert(!OE || (SS && !PP && EPI && CW == 2 && (!SK || SK == 2) && (CL == 1 || CL == 2) && !TOK && BN % 64 == 0),
                  "fp819's OE: SS, TMA store, no split but fp822's cluster groups");
    /* fp823: where p.diag is honoured (fp8_check trace4): the ping-pong forms (1 and 2), and (1 only) the cooperative SS
     * forms with direct stores (EPI 0: never the engine's 2-byte y, so the default's TMA-store kernels carry no test of it) */
    constexpr bool DIAG = PP || (!EPI && SS && !SK && !OE);
    extern __shared__ __align__(128) uint8_t qn_f8_smem[];
    __shared__ __align__(8) uint64_t full_bar[S], empty_bar[S];
    /* the same offset in every block of a cluster (same kernel, same static layout): multicast lands alike */
    uint8_t *base = qn_f8_smem + ((1024u - (qn_smem_u32(qn_f8_smem) & 1023u)) & 1023u);
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, wg = warp >> 2;
    const int64_t nk = (p.Kp + QN_F8T_BK - 1) / QN_F8T_BK; /* stages per tile */
    const uint32_t rank = CL > 1 ? qn_cluster_rank() : 0u;
    const int64_t C = gridDim.x / CL, cid = blockIdx.x / CL;
    /* segments: ndp whole tiles cid + k C, then (SK) the pieces of iterations [it0, it1) past dp_units' */
    const int64_t dpu = SK ? p.dp_units : p.units, skoff = dpu * nk, sktotal = (p.units - dpu) * nk;
    const int64_t ndp = dpu > cid ? (dpu - cid + C - 1) / C : 0;
    int64_t it0 = 0, it1 = 0;
    if (SK && sktotal > 0) {
        if (p.sk_sp > 0) qn_f8_skg_range(sktotal, nk, p.sk_sp, cid, it0, it1, p.sk_lead);
        else qn_f8_sk_range(sktotal, C, cid, it0, it1);
    }
    it0 += skoff, it1 += skoff;
    const int64_t nseg = ndp + (it1 > it0 ? (it1 - 1) / nk - it0 / nk + 1 : 0);
    const int64_t total = ndp * nk + (it1 - it0); /* stages this block runs */
    auto b_of = [&](int s) { return base + s * Cfg::stage; };
    auto a_of = [&](int s) { return base + s * Cfg::stage + Cfg::b_bytes; };
    static_assert(!TOK || (BM / 16) % CL == 0, "the weight box splits evenly over the cluster");
    auto seg_of = [&](int64_t k, int64_t &nt0, int64_t &m0, int64_t &kb, int64_t &ke) {
        int64_t u = cid + k * C;
        kb = 0, ke = nk;
        if (SK && k >= ndp) {
            u = it0 / nk + (k - ndp);
            if (k == ndp) kb = it0 - u * nk;
            if (it1 - u * nk < nk) ke = it1 - u * nk;
        }
        int64_t xc, yb;
        qn_f8_raster((uint32_t)u, (uint32_t)p.gxc, (uint32_t)(p.units / p.gxc), xc, yb);
        if (TOK) nt0 = xc * (BM / 16), m0 = (yb * CL + rank) * BN;
        else nt0 = (xc * CL + rank) * (BM / 16), m0 = yb * BN;
    };
    if (tid == 0) {
        qn_tma_prefetch(&wmap);
        qn_tma_prefetch(&xmap);
    }
    /* fp8_check trace3: block b's record (its first tile: entry, first stage landed, last wgmma, stores done; fp817,
     * trace_last: its last tile's instead, after the entry: where a long launch's time goes late in it) */
    unsigned long long *tr = p.trace && tid == 128 ? p.trace + QN_CUDA_FP8_TRACE * (uint64_t)blockIdx.x : NULL;
    const int64_t ktr = p.trace_last ? nseg - 1 : 0;
    if (tr) {
        tr[0] = qn_f8_smid();
        qn_f8_stamp(tr, 0);
    }
    /* a stage's empty barrier: one arrival per consumer warp that reads it, in every block of the cluster (fp819's
     * ping-pong: one warpgroup reads each stage) */
    qn_f8_bars_init<S, CL>(full_bar, empty_bar, (PP ? 4 : CW * 4) * CL, tid);

    if (wg == 0) { /* ---------------- producer: one thread issues two TMA copies per stage */
        if (CW == 2) qn_setmaxnreg_dec<40>();
        if (tid == 0 && !(DIAG && p.diag == 1)) /* fp823's diag 1: no copies */
            qn_f8t_produce<S, Cfg::stage, BM, BN, CL, TOK, decltype(seg_of), SS>(nseg, seg_of, base, full_bar, empty_bar,
                                                                                &wmap, &xmap, rank);
        if (CL > 1) qn_cluster_sync(); /* no copy of this block still landing elsewhere when it leaves */
        if (KCL && it1 > it0) { /* fp822: the consumers' two cluster barriers: every thread of the cluster arrives */
            qn_f8_cl_arrive(), qn_f8_cl_wait();
            qn_f8_cl_arrive(), qn_f8_cl_wait();
        }
        return;
    }

    /* ---------------- consumers */
    if (CW == 2) qn_setmaxnreg_inc<232>();
    if constexpr (PP != 0) {
        /* fp819: CUTLASS's ping-pong consumers on the SS form. Each warpgroup owns whole 128 x 128 tiles (the block's
         * segments k = cw, cw + 2, ...: all 128 weight rows of a stage's box, two m64n128k32 per k32 into two
         * accumulator halves, the same 128 registers as a cooperative 64 x 256), so while one runs its K loop the
         * other scales and stores its last tile: the ~2-2.6 us epilogue of fp817's trace3 (8% of a 128x256 tile at
         * M = 4096, every tile, both warpgroups at once) leaves the tensor pipe's critical path. The stages are
         * filled in segment order by the same producer, so the two K loops follow each other; the turn (named
         * barrier 8 + c, 256 threads: the other warpgroup arrives once it has issued its tile's last wgmma, this one
         * syncs before its first) orders them as CUTLASS's OrderedSequenceBarrier does, and keeps the full barriers'
         * parity waits sound: a stage's previous use belongs to a tile whose consumer has waited for it before
         * passing the turn, so no wait here can be satisfied by an older phase. Every output gets the same k32
         * products added in the same order as in the cooperative 128x128 tile (the same instruction on the same
         * bytes per 64-row half): y bit-identical to it and so to the default (fp8_check compares). */
        const int cw = wg - 1, w4 = warp & 3, g = lane >> 2, t = lane & 3, ctid = tid - 128 * wg;
        float acc[2][BN / 8][4];
        uint32_t cc = 0;
        const int64_t kpp = p.trace_last ? ((nseg - 1) & ~(int64_t)1) : 0; /* the traced tile: warpgroup 0's */
        for (int64_t k = cw; k < nseg; k += 2) {
            int64_t nt0, m0, kb, ke;
            seg_of(k, nt0, m0, kb, ke); /* no split: kb 0, ke nk */
            const int64_t g0 = k * nk;  /* every earlier segment a whole tile of nk stages */
            if (p.scale_pf) qn_f8_scales_ahead<BN, 128>(p, m0, nt0 * 16, ctid);
#pragma unroll
            for (int h = 0; h < 2; h++)
#pragma unroll
                for (int j = 0; j < BN / 8; j++) acc[h][j][0] = acc[h][j][1] = acc[h][j][2] = acc[h][j][3] = 0.0f;
            if (k > 0) qn_named_sync(8 + cw, 256); /* the turn: the other warpgroup has issued tile k - 1 */
            if (tr && k == kpp) {
                if (p.diag != 1) qn_mbar_wait(qn_smem_u32(&full_bar[(int)(g0 % S)]), (uint32_t)((g0 / S) & 1));
                qn_f8_stamp(tr, 1);
            }
            for (int64_t i = 0; i < nk; i++) {
                const int64_t gi = g0 + i;
                const int s = (int)(gi % S);
                if (p.diag != 1) qn_mbar_wait(qn_smem_u32(&full_bar[s]), (uint32_t)((gi / S) & 1));
                if (p.diag == 2) { /* fp823: the copies alone: the stage goes back as soon as it has landed */
                    __syncwarp();
                    if (gi + S < total) qn_f8_release<CL>(qn_smem_u32(&empty_bar[s]), lane);
                    if (i + 1 == nk && k + 1 < nseg) qn_named_arrive(8 + (cw ^ 1), 256);
                    continue;
                }
                const uint32_t a = qn_smem_u32(a_of(s)), b = qn_smem_u32(b_of(s));
                qn_wg_fence();
#pragma unroll
                for (int kk = 0; kk < 4; kk++) {
                    const uint64_t bd = qn_wg_desc_sw128(b + 32 * kk, 16, 1024);
                    qn_f8_mma_ss<BN>(acc[0], qn_wg_desc_sw128(a + 32 * kk, 16, 1024), bd);
                    qn_f8_mma_ss<BN>(acc[1], qn_wg_desc_sw128(a + 8192 + 32 * kk, 16, 1024), bd);
                }
                qn_wg_commit();
                /* the tile's last wgmma issued: the other warpgroup's turn (if it has a tile after this one) */
                if (i + 1 == nk && k + 1 < nseg) qn_named_arrive(8 + (cw ^ 1), 256);
                qn_wg_wait<1>(); /* stage i - 1's wgmma are done: its stage is free */
                qn_wg_keep(acc[0]);
                qn_wg_keep(acc[1]);
                if (i > 0) {
                    __syncwarp();
                    if (gi - 1 + S < total) qn_f8_release<CL>(qn_smem_u32(&empty_bar[(int)((gi - 1) % S)]), lane);
                }
            }
            qn_wg_wait<0>();
            qn_wg_keep(acc[0]);
            qn_wg_keep(acc[1]);
            if (tr && k == kpp) qn_f8_stamp(tr, 2);
            __syncwarp();
            if (g0 + nk - 1 + S < total && p.diag != 2)
                qn_f8_release<CL>(qn_smem_u32(&empty_bar[(int)((g0 + nk - 1) % S)]), lane);
            if (!(TOK && m0 >= p.M)) { /* else a token tile padding the last cluster row */
#pragma unroll
                for (int h = 0; h < 2; h++) {
                    const int64_t nb = (nt0 + 4 * h) * 16;
                    if (EPI) {
                        uint8_t *ep = base + S * Cfg::stage + cw * 2 * 8192;
                        if (p.stm) {
                            if (p.yd == QN_DT_F16) qn_f8t_store_tma<__half, BN, true>(acc[h], p, &ymap, ep, nb, m0, w4, g, t, ctid, 2 + cw, cc);
                            else qn_f8t_store_tma<__nv_bfloat16, BN, true>(acc[h], p, &ymap, ep, nb, m0, w4, g, t, ctid, 2 + cw, cc);
                        } else if (p.yd == QN_DT_F16)
                            qn_f8t_store_tma<__half, BN, false>(acc[h], p, &ymap, ep, nb, m0, w4, g, t, ctid, 2 + cw, cc);
                        else qn_f8t_store_tma<__nv_bfloat16, BN, false>(acc[h], p, &ymap, ep, nb, m0, w4, g, t, ctid, 2 + cw, cc);
                    } else if (p.yd == QN_DT_F32) qn_f8_store_direct<float, BN>(acc[h], p, nb, m0, w4, g, t);
                    else if (p.yd == QN_DT_F16) qn_f8_store_direct<__half, BN>(acc[h], p, nb, m0, w4, g, t);
                    else qn_f8_store_direct<__nv_bfloat16, BN>(acc[h], p, nb, m0, w4, g, t);
                }
            }
            if (tr && k == kpp) qn_f8_stamp(tr, 3);
        }
        if (EPI && ctid == 0) qn_tma_store_wait_all(); /* the last box is read before the block's memory goes */
        if (CL > 1) qn_cluster_sync();
    } else {
    const int cw = wg - 1, w4 = warp & 3, g = lane >> 2, t = lane & 3, ctid = tid - 128 * wg;
    float acc[BN / 8][4];
    auto release = [&](int64_t gj) {
        __syncwarp();
        if (gj + S < total) qn_f8_release<CL>(qn_smem_u32(&empty_bar[(int)(gj % S)]), lane);
    };
    int64_t g0 = 0;
    /* fp819 (OE, QUANTA_CUDA_FP8_OE): the epilogue split in two. At a tile's end the warpgroup only scales and rounds
     * its outputs into pk (BN / 4 registers of bf16 / f16 pairs: the SS form has no A fragments, so 128 accumulators
     * + these fit its 232), then starts the next tile; the boxes' shared stores (stmatrix, fp817's STM layout) and
     * the TMA stores go one 64-token chunk per K stage between that stage's wgmma issue and its wait, so they run
     * while the tensor pipe works instead of with both warpgroups stopped (~2.4 us a 128x256 tile in fp817's trace3).
     * Same products, same rounding, same bytes as qn_f8t_store_tma with STM: y bit-identical. */
    uint32_t cc = 0; /* EPI: the warpgroup's epilogue chunks so far (which box is next) */
    uint32_t pk[OE ? BN / 8 : 1][2];
    int pend = 0;          /* chunks of the last tile not stored yet (the last BN / 64 - pend stored) */
    int64_t pnb = 0, pm0 = 0; /* their tile's first weight row (this warpgroup's) and first token */
    auto flush_one = [&]() {
        const int ctid_ = tid - 128 * wg, cw_ = wg - 1, w4_ = warp & 3, g_ = lane >> 2, t_ = lane & 3;
        const int q = BN / 64 - pend;
        pend--;
        uint8_t *box = base + S * Cfg::stage + cw_ * 2 * 8192 + (cc++ & 1u) * 8192;
        if (ctid_ == 0) qn_tma_store_wait_read<1>(); /* the store that last read this box is done reading */
        qn_named_sync(2 + cw_, 128);
        const int i = (4 * g_ + t_) >> 3, r = (4 * g_ + t_) & 7;
#pragma unroll
        for (int qq = 0; qq < (OE ? BN / 64 : 0); qq++) /* registers: the chunk by constant indices */
            if (qq == q)
#pragma unroll
                for (int j = 0; j < 8; j += 2) {
                    const int J = 8 * qq + j;
                    const uint32_t v[4] = {pk[J][0], pk[J][1], pk[J + 1][0], pk[J + 1][1]};
                    const int ml = 8 * (j + (i >> 1)) + r;
                    qn_stmatrix_x4_trans(qn_smem_u32(box) + ml * 128 + ((((2 * w4_ + (i & 1)) ^ r)) << 4), v);
                }
        qn_tma_fence_smem();
        qn_named_sync(2 + cw_, 128);
        if (ctid_ == 0) {
            qn_tma_store_2d(&ymap, qn_smem_u32(box), (int32_t)pnb, (int32_t)(pm0 + 64 * q));
            qn_tma_store_commit();
        }
    };
    if constexpr (OE == 0) (void)flush_one, (void)pnb, (void)pm0;
    auto step = [&](int64_t i, uint32_t (&a)[2][2][4], uint32_t (&a_prev)[2][2][4], bool fl = false) {
        const int64_t gi = g0 + i;
        const int s = (int)(gi % S);
        /* fp823 (trace4): diag 1, no copies (no wait). No diag 2 here: a path that skips the wgmma made ptxas serialize
         * them (C7515) in these kernels on every call; the ping-pong forms' no-wgmma pass measures the copies alone */
        if (!(DIAG && p.diag == 1)) qn_mbar_wait(qn_smem_u32(&full_bar[s]), (uint32_t)((gi / S) & 1));
        if (SS) qn_f8t_stage_mma_ss<BN>(acc, qn_smem_u32(a_of(s)) + cw * 8192, qn_smem_u32(b_of(s)));
        else qn_f8t_stage_mma<BN>(acc, a, a_of(s) + (cw * 4 + w4) * 2048 + lane * 32, qn_smem_u32(b_of(s)));
        if constexpr (OE != 0) /* fp819: one chunk of the last tile's outputs stored while this stage's wgmma run */
            if (fl) flush_one();
        qn_wg_wait<1>(); /* stage i - 1's wgmma are done: its registers and its stage are free */
        if (!SS) qn_wg_keep(a_prev);
        qn_wg_keep(acc);
        if (i > 0) release(gi - 1);
    };
    uint32_t a0[2][2][4], a1[2][2][4];
#pragma unroll
    for (int j = 0; j < 2; j++)
#pragma unroll
        for (int q = 0; q < 2; q++)
#pragma unroll
            for (int i = 0; i < 4; i++) a0[j][q][i] = a1[j][q][i] = 0u;
    for (int64_t k = 0; k < nseg; k++) {
        int64_t nt0, m0, kb, ke;
        seg_of(k, nt0, m0, kb, ke);
        const int64_t n = ke - kb;
        if (p.scale_pf && (!SK || KCL || kb == 0 || p.sk_red)) qn_f8_scales_ahead<BN, 64>(p, m0, (nt0 + cw * 4) * 16, ctid);
#pragma unroll
        for (int j = 0; j < BN / 8; j++) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.0f;
        if (tr && k == ktr) {
            if (!(DIAG && p.diag == 1)) qn_mbar_wait(qn_smem_u32(&full_bar[(int)(g0 % S)]), (uint32_t)((g0 / S) & 1));
            qn_f8_stamp(tr, 1);
        }
        int64_t i = 0;
        if constexpr (OE != 0) {
            /* fp819: the last tile's chunks in this tile's first stages, then (K shorter than the chunks) the rest at
             * once, so that pk is dead in the K loop below: H100 09:30's trace had the first tile's K loop (no chunk
             * pending) at 539 clocks per 64 of K against SS's 513 with pk live across it and a test in every step */
#pragma unroll 1
            for (; i < n && pend > 0; i++) step(i, a0, a1, true);
            while (pend > 0) flush_one();
        }
        for (; i + 1 < n; i += 2) { /* in pairs, the odd one after (ptxas C7515, as above) */
            step(i, a0, a1);
            step(i + 1, a1, a0);
        }
        if (i < n) step(i, a0, a1);
        qn_wg_wait<0>();
        qn_wg_keep(acc);
        if (!SS) {
            qn_wg_keep(a0);
            qn_wg_keep(a1);
        }
        if (tr && k == ktr) qn_f8_stamp(tr, 2);
        release(g0 + n - 1);
        g0 += n;
        /* the 64-token chunks of the tile this block stores: all, or (fp817's shared reduction) its share */
        int q_lo = 0, q_hi = BN / 64;
        unsigned red_want = 0u; /* nonzero: this block's slot flag to zero once its readers have seen it */
        if (KCL && (kb > 0 || ke < nk)) {
            /* fp822: fp817's shares (piece j keeps the 64-token chunks [j NCH / sp, (j + 1) NCH / sp)), with the sp
             * pieces of the tile one cluster (piece j = cluster rank j: the groups put piece j of unit r on block
             * r sp + j) and the sums through distributed shared memory: each piece writes its sums of the chunks it
             * does not keep into its own stage ring (free: its last stage is consumed, and both warpgroups' wgmma are
             * done with it after the named barrier), one cluster barrier, then it reads its peers' entries for its own
             * chunks (all 8 float4 of a chunk in flight) and adds them in rank order (deterministic). fp816 / fp821:
             * the owner waited ~5.5 us for its peers' 128 KB slots through L2 (write, flag, read back). */
            constexpr int NCH = BN / 64;
            const int sp = (int)p.sk_sp, j0 = (int)qn_cluster_rank();
            q_lo = j0 * NCH / sp, q_hi = (j0 + 1) * NCH / sp;
            float4 *red = reinterpret_cast<float4 *>(base) + cw * (BN / 8) * 128; /* [warpgroup][BN / 8][128] */
            qn_named_sync(1, 256);
#pragma unroll
            for (int j = 0; j < BN / 8; j++)
                if (j / 8 < q_lo || j / 8 >= q_hi) red[j * 128 + ctid] = make_float4(acc[j][0], acc[j][1], acc[j][2], acc[j][3]);
            qn_f8_cl_arrive();
            qn_f8_cl_wait();
            for (int r = 0; r < sp; r++) {
                if (r == j0) continue;
                const uint32_t peer = qn_mapa(qn_smem_u32(red), (uint32_t)r) + 16u * (uint32_t)ctid;
                /* LB float4 in flight a thread: 8 (a chunk), 4 under OE, whose 64 pk registers stay live here */
                constexpr int LB = OE ? 4 : 8;
#pragma unroll
                for (int q = 0; q < 8 * NCH / LB; q++) {
                    if (q * LB / 8 < q_lo || q * LB / 8 >= q_hi) continue;
                    float4 w[LB];
#pragma unroll
                    for (int jj = 0; jj < LB; jj++) w[jj] = qn_f8_ld_cluster4(peer + 16u * 128u * (uint32_t)(LB * q + jj));
#pragma unroll
                    for (int jj = 0; jj < LB; jj++) {
                        acc[LB * q + jj][0] += w[jj].x, acc[LB * q + jj][1] += w[jj].y;
                        acc[LB * q + jj][2] += w[jj].z, acc[LB * q + jj][3] += w[jj].w;
                    }
                }
            }
            qn_f8_cl_arrive(); /* this thread's reads of its peers are done; the wait is at the block's end */
        } else if (SK && p.sk_red && (kb > 0 || ke < nk)) {
            /* fp817 (SK 5 / 6): the sp pieces of a split tile are peers. Piece j keeps the chunks [j NCH / sp,
             * (j + 1) NCH / sp) and writes its sums of the others to its slot; then it adds the peers' slots (their
             * entries for its chunks, in block order: deterministic) and stores its chunks. fp816's owner read every
             * peer's whole slot after they had written it, then stored the whole tile (H100 02:25: ~6 us against ~1
             * for a whole tile's epilogue at 512 x 4096 x 11008); here each block moves (sp - 1) / sp of a slot each
             * way and stores 1 / sp of the tile, all sp at once. Every block is resident (the host's launch), each
             * posts before it waits: no block waits on one that cannot run. */
            constexpr int NCH = BN / 64;
            const int64_t sp = p.sk_sp, j0 = cid % sp, gb = cid - j0; /* the group: blocks gb .. gb + sp - 1 */
            q_lo = (int)(j0 * NCH / sp), q_hi = (int)((j0 + 1) * NCH / sp);
            float *slot = p.skw + (cid * CW + cw) * (int64_t)(BN * 64) + ctid;
#pragma unroll
            for (int j = 0; j < BN / 8; j++)
                if (j / 8 < q_lo || j / 8 >= q_hi)
#pragma unroll
                    for (int e = 0; e < 4; e++) __stcg(slot + (4 * j + e) * 128, acc[j][e]);
            qn_named_sync(2 + cw, 128);
            if (ctid == 0) qn_f8_sk_post(p.skf + cid * CW + cw);
            if (q_hi > q_lo)
                for (int64_t c = gb; c < gb + sp; c++) {
                    if (c == cid) continue;
                    if (ctid == 0) qn_f8_skr_await(p.skf + c * CW + cw);
                    qn_named_sync(2 + cw, 128);
                    const float *ps = p.skw + (c * CW + cw) * (int64_t)(BN * 64) + ctid;
#pragma unroll
                    for (int j = 0; j < BN / 8; j++)
                        if (j / 8 >= q_lo && j / 8 < q_hi)
#pragma unroll
                            for (int e = 0; e < 4; e++) acc[j][e] += __ldcg(ps + (4 * j + e) * 128);
                }
            /* readers: the peers with a share (min(sp, NCH) blocks have one) */
            red_want = 1u + (unsigned)((sp < NCH ? sp : NCH) - (q_hi > q_lo ? 1 : 0));
        } else if (SK && kb > 0) { /* a tile's K tail: the sums to this block's slot for the owner, no stores */
            float *slot = p.skw + (cid * CW + cw) * (int64_t)(BN * 64) + ctid;
#pragma unroll
            for (int j = 0; j < BN / 8; j++)
#pragma unroll
                for (int e = 0; e < 4; e++) __stcg(slot + (4 * j + e) * 128, acc[j][e]);
            qn_named_sync(2 + cw, 128);
            if (ctid == 0) qn_f8_sk_post(p.skf + cid * CW + cw);
            continue;
        }
        if (SK && !KCL && !p.sk_red && ke < nk) { /* a tile's K head: add its tails, block after block */
            const int64_t u0 = it0 / nk + (k - ndp); /* this segment's unit (k is this block's last segment) */
            auto blk = [&](int64_t it) {
                return p.sk_sp > 0 ? qn_f8_skg_block(it, nk, p.sk_sp, p.sk_lead) : qn_f8_sk_block(it, sktotal, C);
            };
            const int64_t c0 = blk(u0 * nk + ke - skoff), c1 = blk(u0 * nk + nk - 1 - skoff);
            for (int64_t c = c0; c <= c1; c++) {
                if (ctid == 0) qn_f8_sk_await(p.skf + c * CW + cw);
                qn_named_sync(2 + cw, 128);
                const float *slot = p.skw + (c * CW + cw) * (int64_t)(BN * 64) + ctid;
#pragma unroll
                for (int j = 0; j < BN / 8; j++)
#pragma unroll
                    for (int e = 0; e < 4; e++) acc[j][e] += __ldcg(slot + (4 * j + e) * 128);
            }
        }
        const int64_t nb = (nt0 + cw * 4) * 16;
        if ((TOK && m0 >= p.M) || q_hi <= q_lo) { /* a token tile padding the last cluster row (sx ends at Mp), or no share */
        } else if (OE != 0 && !(KCL && (kb > 0 || ke < nk))) { /* fp822: a cluster piece stores its share below */
            if constexpr (OE != 0) { /* fp819: this tile's outputs into pk (the last tile's all stored by now) */
                if (p.yd == QN_DT_F16) qn_f8t_pack<__half, BN>(acc, pk, p, nb, m0, w4, g, t);
                else qn_f8t_pack<__nv_bfloat16, BN>(acc, pk, p, nb, m0, w4, g, t);
                pend = BN / 64, pnb = nb, pm0 = m0;
            }
        } else if (EPI) { /* the host takes EPI with 2-byte y only */
            uint8_t *ep = base + S * Cfg::stage + cw * 2 * 8192;
            if (p.stm) {
                if (p.yd == QN_DT_F16)
                    qn_f8t_store_tma<__half, BN, true>(acc, p, &ymap, ep, nb, m0, w4, g, t, ctid, 2 + cw, cc, q_lo, q_hi);
                else qn_f8t_store_tma<__nv_bfloat16, BN, true>(acc, p, &ymap, ep, nb, m0, w4, g, t, ctid, 2 + cw, cc, q_lo, q_hi);
            } else if (p.yd == QN_DT_F16)
                qn_f8t_store_tma<__half, BN, false>(acc, p, &ymap, ep, nb, m0, w4, g, t, ctid, 2 + cw, cc, q_lo, q_hi);
            else qn_f8t_store_tma<__nv_bfloat16, BN, false>(acc, p, &ymap, ep, nb, m0, w4, g, t, ctid, 2 + cw, cc, q_lo, q_hi);
        } else if (p.yd == QN_DT_F32) qn_f8_store_direct<float, BN>(acc, p, nb, m0, w4, g, t, 8 * q_lo, 8 * q_hi);
        else if (p.yd == QN_DT_F16) qn_f8_store_direct<__half, BN>(acc, p, nb, m0, w4, g, t, 8 * q_lo, 8 * q_hi);
        else qn_f8_store_direct<__nv_bfloat16, BN>(acc, p, nb, m0, w4, g, t, 8 * q_lo, 8 * q_hi);
        if (SK && red_want && ctid == 0) qn_f8_skr_reset(p.skf + cid * CW + cw, red_want);
        if (tr && k == ktr) qn_f8_stamp(tr, 3);
    }
    if constexpr (OE != 0)
        while (pend > 0) flush_one(); /* the block's last tile */
    if (EPI && ctid == 0) qn_tma_store_wait_all(); /* the last box is read before the block's memory goes */
    if (CL > 1) qn_cluster_sync();
    if (KCL && it1 > it0) qn_f8_cl_wait(); /* fp822: no block leaves while a peer may still read its sums */
    } /* PP */
#else
    (void)p, (void)wmap, (void)xmap, (void)ymap;
    __trap();
#endif
}

/* fp814's ping-pong consumers (QUANTA_CUDA_FP8_V2=0tp / 2tp: each consumer warpgroup on its own 128 x 128 tiles in
 * turn, register-A wgmma) were measured correct and 0.5-0.85x the default on the H100 (17:13): one warpgroup issuing
 * register-A m64n128k32 alone gets half the tensor rate. fp815 removed them; bench/NOTES.md section 6 (fp814) has the
 * design and the numbers. */

/* y = (sum of the S planes of partials, in plane order: deterministic) * sw[n] * sx[m]. */
__global__ void qn_k_fp8_reduce(const float *part, int S, int64_t M, int64_t N, const float *sw, const float *sx,
                                int yd, void *y) {
    const int64_t total = M * N;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
        float v = 0.0f;
        for (int z = 0; z < S; z++) v += part[(int64_t)z * total + e];
        qn_st(yd, y, e, v * sw[e % N] * sx[e / N]);
    }
}

/* ------------------------------------------------------------------ host side */

template <int CW, int BN, int CL> static int qn_f8_launch(const qn_f8_args &a, int splits, cudaStream_t s) {
    typedef qn_f8_cfg<CW, BN> Cfg;
    static bool attr_set = false; /* per instantiation; a race only repeats an idempotent call */
    if (!attr_set) {
        const cudaError_t e =
            cudaFuncSetAttribute(qn_k_fp8_wg<CW, BN, CL>, cudaFuncAttributeMaxDynamicSharedMemorySize, Cfg::smem);
        if (e != cudaSuccess) return (int)e;
        attr_set = true;
    }
    int64_t gx = (a.Np / 16 + Cfg::BM / 16 - 1) / (Cfg::BM / 16);
    const int64_t gy = (a.M + BN - 1) / BN;
    gx = (gx + CL - 1) / CL * CL; /* whole clusters: the blocks past N copy their token share and store nothing */
    if (gx > 0x7fffffff || gy > 65535 || splits > 65535) return (int)cudaErrorInvalidValue;
    const dim3 grid((unsigned)gx, (unsigned)gy, (unsigned)splits);
    if (CL == 1) {
        qn_k_fp8_wg<CW, BN, CL><<<grid, Cfg::threads, Cfg::smem, s>>>(a);
        return qn_cu_launch_status();
    }
    cudaLaunchConfig_t cfg = {};
    cudaLaunchAttribute at[1] = {};
    at[0].id = cudaLaunchAttributeClusterDimension;
    at[0].val.clusterDim.x = CL, at[0].val.clusterDim.y = 1, at[0].val.clusterDim.z = 1;
    cfg.gridDim = grid, cfg.blockDim = dim3(Cfg::threads), cfg.dynamicSmemBytes = Cfg::smem, cfg.stream = s;
    cfg.attrs = at, cfg.numAttrs = 1;
    const cudaError_t e = cudaLaunchKernelEx(&cfg, qn_k_fp8_wg<CW, BN, CL>, a);
    return e != cudaSuccess ? (int)e : qn_cu_launch_status();
}

/* The persistent kernel: as many whole clusters as fit on the GPU at once (the occupancy API, asked once per
 * instantiation), at most one per tile. */
template <int CW, int BN, int CL, int DEPTH> static int qn_f8_launch_ps(const qn_f8_args &a0, int sms, cudaStream_t s) {
    typedef qn_f8_cfg<CW, BN> Cfg;
    static int resident = 0; /* clusters at once; a race only repeats the same query */
    cudaLaunchConfig_t cfg = {};
    cudaLaunchAttribute at[1] = {};
    at[0].id = cudaLaunchAttributeClusterDimension;
    at[0].val.clusterDim.x = CL, at[0].val.clusterDim.y = 1, at[0].val.clusterDim.z = 1;
    cfg.blockDim = dim3(Cfg::threads), cfg.dynamicSmemBytes = Cfg::smem, cfg.stream = s;
    cfg.attrs = at, cfg.numAttrs = 1;
    if (resident <= 0) {
        cudaError_t e =
            cudaFuncSetAttribute(qn_k_fp8_wg_ps<CW, BN, CL, DEPTH>, cudaFuncAttributeMaxDynamicSharedMemorySize, Cfg::smem);
        if (e != cudaSuccess) return (int)e;
        int n = 0;
        if (CL > 1) {
            cfg.gridDim = dim3(CL * 64);
            e = cudaOccupancyMaxActiveClusters(&n, qn_k_fp8_wg_ps<CW, BN, CL, DEPTH>, &cfg);
        } else {
            e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, qn_k_fp8_wg_ps<CW, BN, CL, DEPTH>, Cfg::threads, Cfg::smem);
            n *= sms > 0 ? sms : 132;
        }
        if (e != cudaSuccess) return (int)e;
        if (n <= 0) return (int)cudaErrorInvalidConfiguration;
        resident = n;
    }
    qn_f8_args a = a0;
    int64_t gx = (a.Np / 16 + Cfg::BM / 16 - 1) / (Cfg::BM / 16);
    gx = (gx + CL - 1) / CL * CL;
    a.gxc = gx / CL, a.units = a.gxc * ((a.M + BN - 1) / BN);
    const int64_t clusters = a.units < resident ? a.units : resident;
    if (clusters <= 0) return 0;
    cfg.gridDim = dim3((unsigned)(clusters * CL));
    const cudaError_t e = CL > 1 ? cudaLaunchKernelEx(&cfg, qn_k_fp8_wg_ps<CW, BN, CL, DEPTH>, a)
                                 : (qn_k_fp8_wg_ps<CW, BN, CL, DEPTH><<<cfg.gridDim, cfg.blockDim, Cfg::smem, s>>>(a),
                                    cudaSuccess);
    return e != cudaSuccess ? (int)e : qn_cu_launch_status();
}

/* fp813's TMA form: as many whole clusters as fit (as qn_f8_launch_ps), the two tensor maps encoded per call
 * (host arithmetic only, ~1 us): the weights' tiled codes as u64 [Np/16][Kp/64][128] in boxes of BM/16 row tiles
 * x 2 K tiles, the token-major codes as bytes [Mp][Kp] in boxes of BN / CL rows x 128, 128-byte swizzle. */
template <int CW, int BN, int CL, int EPI, int TOK, int SK = 0, int SS = 0, int PP = 0, int OE = 0>
static int qn_f8t_launch(const qn_f8_args &a0, int sms, cudaStream_t s) {
    typedef qn_f8t_cfg<CW, BN, EPI> Cfg;
    static int resident = 0; /* blocks per SM (CL 1) or clusters on the device; a race only repeats the same query */
    cudaLaunchConfig_t cfg = {};
    cudaLaunchAttribute at[1] = {};
    at[0].id = cudaLaunchAttributeClusterDimension;
    at[0].val.clusterDim.x = CL, at[0].val.clusterDim.y = 1, at[0].val.clusterDim.z = 1;
    cfg.blockDim = dim3(Cfg::threads), cfg.dynamicSmemBytes = Cfg::smem, cfg.stream = s;
    cfg.attrs = at, cfg.numAttrs = CL > 1 ? 1 : 0;
    if (resident <= 0) {
        cudaError_t e = cudaFuncSetAttribute(qn_k_fp8_tma<CW, BN, CL, EPI, TOK, SK, SS, PP, OE>, cudaFuncAttributeMaxDynamicSharedMemorySize, Cfg::smem);
        if (e != cudaSuccess) return (int)e;
        int n = 0;
        if (CL > 1) {
            cfg.gridDim = dim3(CL * 64);
            e = cudaOccupancyMaxActiveClusters(&n, qn_k_fp8_tma<CW, BN, CL, EPI, TOK, SK, SS, PP, OE>, &cfg);
        } else {
            e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, qn_k_fp8_tma<CW, BN, CL, EPI, TOK, SK, SS, PP, OE>, Cfg::threads, Cfg::smem);
        }
        if (e != cudaSuccess) return (int)e;
        if (n <= 0) return (int)cudaErrorInvalidConfiguration;
        resident = n;
    }
    /* fp823: clusters also capped at sms / CL (at least one), so that a check's few SMs put many tiles through one pair
     * (the ping-pong turns of a cluster form); on the device's own SM count this is the resident clusters as before */
    const int64_t sm = sms > 0 ? sms : 132,
                  fit = CL > 1 ? (resident < sm / CL ? resident : sm / CL > 0 ? sm / CL : 1) : (int64_t)resident * sm;
    qn_f8_args a = a0;
    int64_t gx = (a.Np / 16 + Cfg::BM / 16 - 1) / (Cfg::BM / 16);
    if (TOK) { /* units: weight tiles x clusters of CL token tiles */
        a.gxc = gx, a.units = gx * (((a.M + BN - 1) / BN + CL - 1) / CL);
    } else {
        gx = (gx + CL - 1) / CL * CL;
        a.gxc = gx / CL, a.units = a.gxc * ((a.M + BN - 1) / BN);
    }
    int64_t clusters = a.units < fit ? a.units : fit;
    if (SK) { /* fp815: at most one block per SM (all resident at once: owners wait on peers), sms slots of skw */
        int64_t C = fit < sm ? fit : sm;
        const int64_t nk = (a.Kp + QN_F8T_BK - 1) / QN_F8T_BK;
        if (a.sk_sp) { /* fp816's groups: whole rounds data-parallel, the last partial round's tiles in C / R pieces */
            a.dp_units = a.units / C * C;
            const int64_t R = a.units - a.dp_units;
            int64_t sp = R > 0 ? C / R : 1;
            if (sp > nk) sp = nk;
            a.sk_sp = sp;
            if (a.dp_units == 0) C = R * sp;
        } else {
            /* whole rounds data-parallel but the last one or two: the stream-K share is 1-2 tiles a block */
            a.dp_units = a.units % C == 0 ? a.units : a.units >= 2 * C ? (a.units / C - 1) * C : 0;
            const int64_t skit = (a.units - a.dp_units) * nk;
            if (a.dp_units == 0 && skit < C) C = skit;
        }
        clusters = C;
    }
    if constexpr (SK == 2) {
        if (!a0.sk_sp) return qn_f8t_launch<CW, BN, CL, EPI, TOK, OE ? 0 : 1, SS, PP, OE>(a0, sms, s); /* stream-K: no groups */
        /* fp822: the groups with each tile's pieces one cluster of sp blocks (DSMEM reduction). Taken where the plan's sp
         * is 2..BN / 64 (every piece keeps a share of the chunks), the grid is whole clusters and every cluster of it is
         * resident at once (cudaOccupancyMaxActiveClusters for that size); otherwise fp816's slots (SK 1) on the same
         * plan. Under OE (SKCL=2, no slots to fall back on but plain OE) fewer pieces are tried, then a grid shrunk to
         * the resident pairs. */
        static int cl_fit[BN / 64 + 1] = {}; /* clusters of sp resident on the device (0: not asked yet) */
        auto fits = [&](int64_t spq, int64_t Cq) {
            if (cl_fit[spq] == 0) {
                at[0].val.clusterDim.x = (unsigned)spq;
                cfg.numAttrs = 1, cfg.gridDim = dim3((unsigned)(spq * 64));
                int n = 0;
                if (cudaOccupancyMaxActiveClusters(&n, qn_k_fp8_tma<CW, BN, CL, EPI, TOK, SK, SS, PP, OE>, &cfg) != cudaSuccess)
                    (void)cudaGetLastError(), n = -1;
                cl_fit[spq] = n;
            }
            return cl_fit[spq] > 0 && (int64_t)cl_fit[spq] * spq >= Cq;
        };
        const int64_t nk = (a.Kp + QN_F8T_BK - 1) / QN_F8T_BK;
        int64_t C = fit < sm ? fit : sm, sp = 0;
        bool ok = false;
        for (int tries = 0; tries < 3 && !ok; tries++) {
            a.dp_units = a.units / C * C;
            const int64_t R = a.units - a.dp_units;
            int64_t spx = R > 0 ? C / R : 1;
            if (spx > nk) spx = nk;
            /* the slots' plan would take spx; more pieces than chunks: the slots (SK 3-6), or (OE, fp822's SKCL=2) at
             * most BN / 64 pieces (the last round's blocks beyond R x BN / 64 idle) */
            if (spx > BN / 64) {
                if (!OE) break;
                spx = BN / 64;
            }
            /* the most pieces whose clusters are all resident; without OE (SKCL=1) only the slots' own plan (spx pieces
             * on C blocks), so that the switch changes the reduction and nothing else (else the slots) */
            for (sp = spx; sp >= (OE ? 2 : spx) && sp >= 2 && !ok; sp -= ok ? 0 : 1) {
                const int64_t Cs = a.dp_units == 0 ? R * sp : C;
                if (Cs % sp == 0 && fits(sp, Cs)) ok = true, C = Cs;
            }
            if (ok || spx < 2 || !OE) break;
            /* no cluster size fits the grid: fewer blocks, as many pairs as are resident, then plan again */
            if (cl_fit[2] <= 0 || (int64_t)cl_fit[2] * 2 >= C) break;
            C = (int64_t)cl_fit[2] * 2;
        }
        if (!ok) return qn_f8t_launch<CW, BN, CL, EPI, TOK, OE ? 0 : 1, SS, PP, OE>(a0, sms, s);
        a.sk_sp = sp, a.sk_red = 0, clusters = C;
        at[0].val.clusterDim.x = (unsigned)sp, cfg.numAttrs = 1;
    }
    if (clusters <= 0) return 0;
    CUtensorMap wm, xm;
    const uint64_t wd[3] = {128, (uint64_t)(a.Kp / 64), (uint64_t)(a.Np / 16)};
    const uint64_t wst[2] = {1024, (uint64_t)(a.Kp / 64) * 1024};
    const uint32_t wb[3] = {128, 2, TOK ? Cfg::BM / 16 / CL : Cfg::BM / 16};
    /* fp818's SS form: the K-major copy as bytes [Np][Kp] in boxes of BM rows x 128, 128-byte swizzle (wgmma's
     * K-major SW128 layout, as the tokens') */
    int e = SS ? qn_tma_encode_2d(&wm, CU_TENSOR_MAP_DATA_TYPE_UINT8, a.codes_k, (uint64_t)a.Kp, (uint64_t)a.Np,
                                  (uint64_t)a.Kp, QN_F8T_BK, TOK ? Cfg::BM / CL : Cfg::BM, CU_TENSOR_MAP_SWIZZLE_128B)
               : qn_tma_encode(&wm, CU_TENSOR_MAP_DATA_TYPE_UINT64, 3, a.codes, wd, wst, wb, CU_TENSOR_MAP_SWIZZLE_NONE);
    if (!e)
        e = qn_tma_encode_2d(&xm, CU_TENSOR_MAP_DATA_TYPE_UINT8, a.xq, (uint64_t)a.Kp, (uint64_t)a.Mp, (uint64_t)a.Kp,
                             QN_F8T_BK, TOK ? BN : BN / CL, CU_TENSOR_MAP_SWIZZLE_128B);
    CUtensorMap ym;
    memset(&ym, 0, sizeof ym);
    if (!e && EPI) /* y as 2-byte elements [M][N], boxes of 64 tokens x 64 outputs (128 bytes), 128-byte swizzle */
        e = qn_tma_encode_2d(&ym, CU_TENSOR_MAP_DATA_TYPE_UINT16, a.y, (uint64_t)a.N, (uint64_t)a.M, (uint64_t)a.N * 2, 64,
                             64, CU_TENSOR_MAP_SWIZZLE_128B);
    if (e) return e;
    cfg.gridDim = dim3((unsigned)(clusters * CL));
    const cudaError_t le = cudaLaunchKernelEx(&cfg, qn_k_fp8_tma<CW, BN, CL, EPI, TOK, SK, SS, PP, OE>, a, wm, xm, ym);
    return le != cudaSuccess ? (int)le : qn_cu_launch_status();
}

template <int CL, int EPI, int TOK>
static int qn_f8t_launch_tile(int tile, const qn_f8_args &a, int sms, cudaStream_t s) {
    switch (tile) {
    case 1: return qn_f8t_launch<2, 256, CL, EPI, TOK>(a, sms, s);
    case 2: return qn_f8t_launch<2, 128, CL, EPI, TOK>(a, sms, s);
    /* 64x128's place (the same grid size) goes to 128x64: one warpgroup under the two-block register cap of 128
     * with two 16-register A buffers makes ptxas serialize the wgmma (C7512); two of 64 tokens do not */
    case 3: return qn_f8t_launch<2, 64, CL, EPI, TOK>(a, sms, s);
    /* fp814: 128x192 (picked since fp815 where it cuts the rounds: cost 0.84, H100 20:05): 512 tokens in 3 token
     * tiles, for the grids that leave 128x256 a third of a round short (86 x 2 = 172 tiles on 132 SMs at 512 x 11008) */
    case 5: return qn_f8t_launch<2, 192, CL, EPI, TOK>(a, sms, s);
    default: return qn_f8t_launch<1, 64, CL, EPI, TOK>(a, sms, s);
    }
}

/* fp815's stream-K form (0ts with SK): the two-consumer tiles 128x256 (anything else asked for), 128x128, 128x192.
 * SS (fp818): the same with both wgmma operands from shared memory. */
template <int EPI, int SS = 0> static int qn_f8t_launch_sk(int tile, const qn_f8_args &a, int sms, cudaStream_t s) {
    switch (tile) {
    case 2: return qn_f8t_launch<2, 128, 1, EPI, 0, 1, SS>(a, sms, s);
    case 5: return qn_f8t_launch<2, 192, 1, EPI, 0, 1, SS>(a, sms, s);
    default: return qn_f8t_launch<2, 256, 1, EPI, 0, 1, SS>(a, sms, s);
    }
}

/* fp818's SS form of 0ts / 0t (clusters of 1): the two-consumer tiles of qn_f8t_launch_tile; the pick's 64x64 (tile
 * 4, one consumer warpgroup) keeps the register form, and so the tiled codes. */
template <int EPI> static int qn_f8t_launch_tile_ss(int tile, const qn_f8_args &a, int sms, cudaStream_t s) {
    switch (tile) {
    case 1: return qn_f8t_launch<2, 256, 1, EPI, 0, 0, 1>(a, sms, s);
    case 2: return qn_f8t_launch<2, 128, 1, EPI, 0, 0, 1>(a, sms, s);
    case 3: return qn_f8t_launch<2, 64, 1, EPI, 0, 0, 1>(a, sms, s);
    case 5: return qn_f8t_launch<2, 192, 1, EPI, 0, 0, 1>(a, sms, s);
    default: return qn_f8t_launch<1, 64, 1, EPI, 0>(a, sms, s);
    }
}

/* The tile's kernel with CL-block clusters; persistent (splits == 1 only) or one block per tile. */
template <int CL>
static int qn_f8_launch_tile(int tile, const qn_f8_args &a, int splits, int persist, int sms, cudaStream_t s) {
    if (persist == 1 && splits == 1) {
        switch (tile) {
        case 1: return qn_f8_launch_ps<2, 256, CL, 1>(a, sms, s);
        case 2: return qn_f8_launch_ps<2, 128, CL, 1>(a, sms, s);
        case 3: return qn_f8_launch_ps<1, 128, CL, 1>(a, sms, s);
        default: return qn_f8_launch_ps<1, 64, CL, 1>(a, sms, s);
        }
    }
    if (persist == 2 && splits == 1) {
        switch (tile) {
        case 1: return qn_f8_launch_ps<2, 256, CL, 2>(a, sms, s);
        case 2: return qn_f8_launch_ps<2, 128, CL, 2>(a, sms, s);
        /* the one-warpgroup tiles stay at 1 in flight: under their 128-register cap a third A buffer makes
         * ptxas serialize the wgmma (C7512) */
        case 3: return qn_f8_launch_ps<1, 128, CL, 1>(a, sms, s);
        default: return qn_f8_launch_ps<1, 64, CL, 1>(a, sms, s);
        }
    }
    switch (tile) {
    case 1: return qn_f8_launch<2, 256, CL>(a, splits, s);
    case 2: return qn_f8_launch<2, 128, CL>(a, splits, s);
    case 3: return qn_f8_launch<1, 128, CL>(a, splits, s);
    default: return qn_f8_launch<1, 64, CL>(a, splits, s);
    }
}

/* Tiles (weight rows x tokens), largest first: the first whose grid covers ~4/5 of the SMs (one block per
 * SM for the two-consumer tiles), else the smallest. Prediction, not a measurement (bench/NOTES.md, mmq8):
 * the 128x256 tile reads 384 bytes per 32K multiply-adds of a K step (L2 ~11 TB/s at the FP8 peak), 128x128
 * 512 (~15 TB/s), so the wide tiles are wanted where the grid allows; M = 256 on 4096 rows only fills
 * the GPU with 64x128 tiles. */
static int qn_f8_pick(int64_t N, int64_t M, int sms, int forced) {
    static const int bm[4] = {128, 128, 64, 64}, bn[4] = {256, 128, 128, 64};
    if (forced >= 1 && forced <= 4) return forced;
    const int64_t want = (int64_t)(sms > 0 ? sms : 132) * 4 / 5;
    for (int i = 0; i < 4; i++)
        if ((N + bm[i] - 1) / bm[i] * ((M + bn[i] - 1) / bn[i]) >= want) return i + 1;
    return 4;
}

/* fp814's 128x192 tile (5): its cost relative to 128x256 at one round. H100 20:05 (fp8_check time4, both forced, one
 * round each): 512 x 4096 x 11008 45.4 / 56.1 us = 0.81, 512 x 5120 x 13824 59.2 / 68.3 = 0.87 (its K loop at 391 clocks
 * per 64 of K, the tensor floor 384: it runs at the tensor rate). At 0.84 the pick takes it on exactly the 5 of 30
 * rows where it was measured faster than the rest (512 x 11008 x 4096 49.1 -> 41.6 us, 512 x 5120^2 29.6 -> 25.2,
 * 1024 x 5120^2 58.4 -> 48.1, 512 x 5120 x 13824 68.6 -> 59.2, 1024 x 5120 x 13824 144.9 -> 115.9) and nowhere else;
 * correct there (fp8_check, conformance with it forced, sanitizers). 0 would keep it forced only. */
#define QN_F8T_COST_192 0.84
/* The TMA forms' pick (fp813): the tile with the least rounds x cost, rounds = tiles / resident blocks rounded up,
 * cost = a tile's time relative to 128x256's at equal K. The costs are the H100 round-1 times of each tile forced
 * at one round (fp8_check time3, 2t: 256 x 4096 x 4096 and 256 x 5120 x 13824: 128x128 0.78, 128x64 0.55 (L2-bound:
 * 277 clocks per 64 of K for 128 of tensor work), 64x64 0.65 at two blocks per SM); that rule picks the measured
 * best tile (within 3%) on all 12 rows with M <= 512 (the grid-size rule of qn_f8_pick: 7 of 12, up to 1.56x slower). */
/* fp818: 128x128's cost in the SS form. The register form's 0.78 is its K loop at ~765 clocks per 128 of K for 512 of
 * tensor work (two warps per sub-partition issuing register-A n128: ~2/3 of the rate, fp814); cuBLASLt's SS 128x128
 * (nvjet 128x128, 6 stages) ran 512 x 4096 x 11008 at ~82% of the clock's peak (fp816's ncu). A prediction until
 * verify_fp818.sh's s128 / s256 one-round times replace it: 0.5 of the work at ~83% of the rate = 0.6. Measured (H100
 * 2026-12-07 06:40, interleaved): s128 / s256 = 0.79 / 0.79 / 0.79 / 0.80 on the four one-round rows (512 x 4096^2, 256 x
 * 4096^2, 256 x 5120^2, 512 x 4096 x 11008), so the SS 128x128 K loop is no faster than the register form's and the
 * cost is refitted to 0.79: the SS route now takes the register route's tiles (0.6 sent 512 x 4096 x 11008 to 128x128,
 * 0.84 -> 0.79 of the peer). */
#ifndef QN_F8T_COST_128_SS
#define QN_F8T_COST_128_SS 0.79
#endif
/* km (fp820): the weight's codes are K-major only, so the 64x64 tile (a register form without an SS twin) is not
 * picked (cost 0); forced, the caller refuses it */
static int qn_f8t_pick(int64_t N, int64_t M, int sms, int forced, bool ss = false, bool km = false) {
    static const int bm[5] = {128, 128, 128, 64, 128}, bn[5] = {256, 128, 64, 64, 192}, per_sm[5] = {1, 1, 1, 2, 1};
    const double cost[5] = {1.0, ss ? QN_F8T_COST_128_SS : 0.78, 0.55, km ? 0.0 : 0.65, QN_F8T_COST_192};
    if (forced >= 1 && forced <= 5) return forced;
    const int64_t s = sms > 0 ? sms : 132;
    int best = 0;
    double tb = 1e300;
    for (int i = 0; i < 5; i++) {
        if (cost[i] <= 0.0) continue; /* not picked */
        const int64_t tiles = (N + bm[i] - 1) / bm[i] * ((M + bn[i] - 1) / bn[i]);
        const double tm = (double)((tiles + s * per_sm[i] - 1) / (s * per_sm[i])) * cost[i];
        if (tm < tb) tb = tm, best = i;
    }
    return best + 1;
}

/* fp815: stream-K (128x256) or the round-robin tile t_dp of qn_f8t_pick, by a model of the H100's times in units of
 * one 128x256 K stage (128 of K, ~0.72 us at M >= 1024 in the 17:13 run): round-robin = rounds x (nk x cost + an
 * epilogue of ~3 stages x BN / 256); stream-K = the block's share of the iterations + its epilogues + one slot
 * written (~2.5 stages: 128 KB at the ~45 B/clock an SM takes from L2) + one read per tail its owner adds. Taken
 * when it saves 8% or more: on the 30 rows of fp8_check time5 that is 17 rows, among them the four under 0.9x
 * torch._scaled_mm (bench/NOTES.md section 6, fp815: the prediction per row). */
static bool qn_f8_sk_pick(int64_t N, int64_t M, int64_t Kp, int sms, int t_dp) {
    static const int bn[5] = {256, 128, 64, 64, 192};
    static const double cost[5] = {1.0, 0.78, 0.55, 0.65, QN_F8T_COST_192};
    const int64_t C = sms > 0 ? sms : 132, nk = (Kp + QN_F8T_BK - 1) / QN_F8T_BK;
    const int ti = t_dp - 1, per_sm = ti == 3 ? 2 : 1;
    const int64_t tiles = (N + (ti == 3 ? 63 : 127)) / (ti == 3 ? 64 : 128) * ((M + bn[ti] - 1) / bn[ti]);
    const double rounds = (double)((tiles + C * per_sm - 1) / (C * per_sm));
    const double t_dp_st = rounds * ((double)nk * cost[ti] + 3.2 * bn[ti] / 256.0);
    const int64_t units = (N + 127) / 128 * ((M + 255) / 256);
    if (units % C == 0) return false; /* whole rounds: nothing to balance */
    const int64_t ipc = (units * nk + C - 1) / C;
    const int64_t pieces = ipc < nk ? (nk + ipc - 1) / ipc + 1 : 2;
    const double t_sk = (double)ipc + 1.6 * (double)((ipc + nk - 1) / nk + 1) + 2.5 * (double)pieces;
    return t_sk < 0.92 * t_dp_st;
}

/* fp816: split-K groups (128x256) or the round-robin tile t_dp of qn_f8t_pick, by the same kind of model in units of
 * one 128x256 K stage: round-robin = rounds x (nk x cost + an epilogue of QN_F8_SKG_EPI stages x BN / 256); groups =
 * the whole rounds as 128x256 tiles + one piece (nk / sp stages) + an epilogue + QN_F8_SKG_FIX + QN_F8_SKG_SLOT stages
 * per piece. Taken where it saves 5% or more. Fitted to the H100 run of 00:11 (fp8_pair.py, groups always against the
 * default on 30 rows, same process): it takes the 9 rows where the groups were faster (the four under 0.9x
 * _scaled_mm, 256 x 4096 x 11008, 256 x 5120^2, 2048 x 11008 x 4096, 1024 / 2048 x 5120 x 13824) and none of the rows
 * where they were slower (512 x 5120^2 1.25x, 256 x 4096^2 1.29x, 512 x 11008 x 4096 1.14x slower). */
#define QN_F8_SKG_EPI 3.2
#define QN_F8_SKG_FIX 6.0 /* H100 00:11 (fp8_pair, 30 rows): the owner's wait and adds ~6 stages past a whole tile's epilogue */
#define QN_F8_SKG_SLOT 1.5
#define QN_F8_SKG_GAIN 0.95
/* red (fp817's shared reduction, SK 6): each piece writes and reads (sp - 1) / sp of a slot (128 KB, ~QN_F8_SKR_SLOT
 * stages at the ~45 B/clock an SM takes from L2) with min(sp, 4) blocks storing a share of the tile each, plus
 * QN_F8_SKR_FIX for the flags' round trips. A prediction (from fp816's trace3: a 128 KB slot written then read
 * ~5.9 us = ~9 stages with the owner's wait), not a fit: DR1 (03:32) times SK=5 on the 30 rows to fit it. */
#define QN_F8_SKR_SLOT 2.8
#define QN_F8_SKR_FIX 1.5
static bool qn_f8_skg_pick(int64_t N, int64_t M, int64_t Kp, int sms, int t_dp, bool red, bool ss = false) {
    static const int bm[5] = {128, 128, 128, 64, 128}, bn[5] = {256, 128, 64, 64, 192}, per_sm[5] = {1, 1, 1, 2, 1};
    const double cost[5] = {1.0, ss ? QN_F8T_COST_128_SS : 0.78, 0.55, 0.65, QN_F8T_COST_192};
    const int64_t C = sms > 0 ? sms : 132, nk = (Kp + QN_F8T_BK - 1) / QN_F8T_BK;
    const int ti = t_dp - 1;
    const int64_t tiles = (N + bm[ti] - 1) / bm[ti] * ((M + bn[ti] - 1) / bn[ti]);
    const double t_rr = (double)((tiles + C * per_sm[ti] - 1) / (C * per_sm[ti])) *
                        ((double)nk * cost[ti] + QN_F8_SKG_EPI * bn[ti] / 256.0);
    const int64_t units = (N + 127) / 128 * ((M + 255) / 256), R = units % C;
    int64_t sp = R > 0 ? C / R : 1;
    if (sp > nk) sp = nk;
    if (sp < 2) return false; /* no partial round, or one too full to split */
    const double whole = (double)(units / C) * ((double)nk + QN_F8_SKG_EPI) + (double)((nk + sp - 1) / sp);
    const double share = (double)(sp < 4 ? sp : 4);
    const double t_g = red ? whole + QN_F8_SKG_EPI / share + QN_F8_SKR_FIX + QN_F8_SKR_SLOT * 2.0 * (double)(sp - 1) / share
                           : whole + QN_F8_SKG_EPI + QN_F8_SKG_FIX + QN_F8_SKG_SLOT * (double)sp;
    return t_g < QN_F8_SKG_GAIN * t_rr;
}

/* QUANTA_CUDA_FP8_SK (fp815): 0: round-robin tiles; 1: stream-K where qn_f8_sk_pick expects it faster; 2: always (the
 * 0ts form, any y); 3 (fp816): split-K groups for the last partial round, always (qn_f8_skg_range); 4: the groups where
 * qn_f8_skg_pick expects them faster (the default since fp816); 5 (fp817): the groups with the shared reduction
 * (every piece stores a share of its tile), always; 6: those where the model expects them faster; unset or anything
 * else: QN_F8_SK_DEFAULT. Read once. */
#ifndef QN_F8_SK_DEFAULT
#define QN_F8_SK_DEFAULT 4 /* fp816, from the H100 run of 00:11: the groups where the model takes them */
#endif
/* A one-digit switch 0 .. max, else def, read once into *cache (-1: not yet; a race only repeats the same read). */
static int qn_f8_env_digit(int *cache, const char *name, char max, int def) {
    if (*cache < 0) {
        const char *e = getenv(name);
        *cache = e && e[0] >= '0' && e[0] <= max && !e[1] ? e[0] - '0' : def;
    }
    return *cache;
}
/* fn(): the switch `name` (0 .. max, else def), read once */
#define QN_F8_ENV_SWITCH(fn, name, max, def)                                                                           \
    static int fn() {                                                                                                  \
        static int v = -1;                                                                                             \
        return qn_f8_env_digit(&v, name, max, def);                                                                    \
    }
QN_F8_ENV_SWITCH(qn_f8_env_sk, "QUANTA_CUDA_FP8_SK", '6', QN_F8_SK_DEFAULT)

/* QUANTA_CUDA_FP8_STM (fp817): 1: the TMA-store epilogue writes its boxes by stmatrix (qn_f8t_store_tma; y
 * bit-identical); 0 or unset: QN_F8_STM_DEFAULT (0 until a device run has timed it). Read once. */
#ifndef QN_F8_STM_DEFAULT
#define QN_F8_STM_DEFAULT 0
#endif
QN_F8_ENV_SWITCH(qn_f8_env_stm, "QUANTA_CUDA_FP8_STM", '1', QN_F8_STM_DEFAULT)

/* QUANTA_CUDA_FP8_TW (fp817): 1: where the TMA form's pick is 128x128 (M <= 512 on the 7B/13B rows), clusters of 2
 * along the tokens multicasting the weight rows (V2=2tws's kernel, y bit-identical to 0ts) instead of 0ts or the split-K
 * groups: what cuBLASLt runs on those rows (nvjet 128x128, cluster 1x2); 0 or unset: QN_F8_TW_DEFAULT (0 until a
 * device run has timed it as a route). Read once. */
#ifndef QN_F8_TW_DEFAULT
#define QN_F8_TW_DEFAULT 0
#endif
QN_F8_ENV_SWITCH(qn_f8_env_tw, "QUANTA_CUDA_FP8_TW", '1', QN_F8_TW_DEFAULT)

/* QUANTA_CUDA_FP8_SS (fp818): 1: the TMA forms with clusters of 1 (0ts, 0t, and the split-K groups / stream-K on
 * them; with QUANTA_CUDA_FP8_TW=1 also TW's 128x128 in clusters of 2 along the tokens) take both wgmma operands from
 * shared memory, the weights from their K-major copy (qn_cuda_weight.codes_k, made
 * at prepare time under the same switch: engine/cuda/cuda_backend.c); a weight without the copy keeps the register
 * form. 0 or unset: QN_F8_SS_DEFAULT (0 until a device run has timed it against the default and _scaled_mm:
 * bench/cuda/verify_fp818.sh). Read once. */
#ifndef QN_F8_SS_DEFAULT
#define QN_F8_SS_DEFAULT 0
#endif
QN_F8_ENV_SWITCH(qn_f8_env_ss, "QUANTA_CUDA_FP8_SS", '1', QN_F8_SS_DEFAULT)

/* QUANTA_CUDA_FP8_PP (fp819): 1: where the weight has its K-major copy (QUANTA_CUDA_FP8_SS=1 or PP=1 makes it at
 * prepare time: engine/cuda/cuda_backend.c) and qn_f8_pp_pick takes the shape, the ping-pong consumers (qn_k_fp8_tma
 * PP: 128x128 tiles, one per consumer warpgroup, SS wgmma) in place of 0ts and of the groups; y bit-identical. 2: that
 * form on every call of the engine's route whatever the pick (tile unforced or 128x128; for conformance: the copy is
 * then made by QUANTA_CUDA_FP8_SS=1, the engine's prepare reading "1" only). 0 or unset: QN_F8_PP_DEFAULT (0 until a device run has timed it: bench/cuda/verify_fp819.sh; the flip rule is in
 * bench/NOTES.md, fp819). Read once. */
#ifndef QN_F8_PP_DEFAULT
#define QN_F8_PP_DEFAULT 0
#endif
/* fp823: 3 / 4: as 1 / 2 with the ping-pong blocks in pairs along the weights, the token box's halves multicast
 * (qn_k_fp8_tma PP with CL 2, TOK 0: the peer's 128x128 tile in a 1x2 cluster; bit-identical to 1 / 2). */
QN_F8_ENV_SWITCH(qn_f8_env_pp, "QUANTA_CUDA_FP8_PP", '4', QN_F8_PP_DEFAULT)

/* QUANTA_CUDA_FP8_OE (fp819): 1: the SS form (implied: the K-major copy is made at prepare time under OE=1 too) with
 * its epilogue split (qn_k_fp8_tma OE: outputs scaled and rounded into registers at a tile's end, their shared and TMA
 * stores issued one chunk per K stage of the next tile) on 0ts's two-consumer tiles 128x256 / 128x192 / 128x128 with
 * the TMA store; the split-K groups and other tiles as SS. y bit-identical. 0 or unset: QN_F8_OE_DEFAULT (0 until a
 * device run has timed it: bench/cuda/verify_fp819.sh). Read once. */
#ifndef QN_F8_OE_DEFAULT
#define QN_F8_OE_DEFAULT 0
#endif
QN_F8_ENV_SWITCH(qn_f8_env_oe, "QUANTA_CUDA_FP8_OE", '1', QN_F8_OE_DEFAULT)

/* fp820: with the weight's codes K-major only (QUANTA_CUDA_FP8_KM=1 at prepare time: qn_cuda_weight.codes NULL), the
 * 0ts route takes OE's split epilogue where every block has at least this many tiles (the epilogue it hides is the one
 * under a next tile: fp819 round 2, H100 09:45, OE -3 to -4% at M = 4096, +1 / +2% at 512 / 256 x 13824 x 5120 where
 * blocks have one tile); QUANTA_CUDA_FP8_OE=1 takes it everywhere, the call's persist | 16384 / sk | 512 nowhere.
 * Prediction, refitted from verify_fp820.sh's km / kmn pairs (bench/NOTES.md, fp820). */
#ifndef QN_F8_KM_OE_MIN_PER_SM
#define QN_F8_KM_OE_MIN_PER_SM 2
#endif
static bool qn_f8_km_oe_pick(int64_t N, int64_t M, int sms, int t) {
    static const int bn[5] = {256, 128, 64, 64, 192};
    if (t != 1 && t != 2 && t != 5) return false; /* OE's tiles (0ts with the TMA store) */
    return (N + 127) / 128 * ((M + bn[t - 1] - 1) / bn[t - 1]) >= (int64_t)QN_F8_KM_OE_MIN_PER_SM * (sms > 0 ? sms : 132);
}

/* QUANTA_CUDA_FP8_LEAD (fp820): 1: the split-K groups' owner piece (the one that adds its peers' slots and stores the
 * tile) starts QN_F8_LEAD_STAGES (3) stages longer where pieces are >= 8 stages, so the peers' slots are written before
 * it ends (fp816's QN_F8_SKG_LEAD, built unmeasured; sk | 1024 per call; fp821: sk bits 16-21 ask for another lead);
 * y within the reference's bound (another split of K: not bit-identical to equal pieces). 0 or unset:
 * QN_F8_LEAD_DEFAULT (0 until a verify run has timed it). Read once. */
#ifndef QN_F8_LEAD_DEFAULT
#define QN_F8_LEAD_DEFAULT 0
#endif
#ifndef QN_F8_SKG_LEAD /* the lead without the switch (also defined with the kernels, which a host-only pass skips) */
#define QN_F8_SKG_LEAD 0
#endif
QN_F8_ENV_SWITCH(qn_f8_env_lead, "QUANTA_CUDA_FP8_LEAD", '1', QN_F8_LEAD_DEFAULT)
/* QUANTA_CUDA_FP8_SKCL=2 (fp822; sk | 4096 per call): as 1, and where the K-major route takes OE on 128x256 tiles (M >=
 * 2048 on the 30 rows), the last partial round as cluster groups of up to 4 pieces under the OE kernel's whole rounds
 * (qn_f8t_launch SK 2 + OE: the groups' model is not asked; where the last round is over half full, plain OE).
 * QUANTA_CUDA_FP8_SKCL=1 (fp822; sk | 2048 per call): where the split-K groups run (SK 3-6) on 128x256 tiles, each
 * tile's pieces are one thread-block cluster and add their sums through distributed shared memory (no slots through
 * L2, no flags; qn_f8t_launch SK 2), falling back to the slots where the plan does not fit whole resident clusters of
 * 2..4. Not bit-identical to the slots (another f32 grouping of the pieces' sums for sp 3 / 4; sp 2 the same sum in
 * another order: commutative, the same bits). Unset: QN_F8_SKCL_DEFAULT = 1 since 2026-12-07 (H100 19:06,
 * verify_fp822.sh: 7 interleaved rounds, -0.8 to -3.1% on the group rows with a re-timed default as the noise floor,
 * none slower beyond it; conformance with SK 3 + SKCL 2; the flip rule in bench/NOTES.md fp822); 0 off. Read once. */
#ifndef QN_F8_SKCL_DEFAULT
#define QN_F8_SKCL_DEFAULT 1
#endif
QN_F8_ENV_SWITCH(qn_f8_env_skcl, "QUANTA_CUDA_FP8_SKCL", '2', QN_F8_SKCL_DEFAULT)
#ifndef QN_F8_LEAD_STAGES
#define QN_F8_LEAD_STAGES 3 /* the lead QUANTA_CUDA_FP8_LEAD=1 takes (fp821's verify times 3, 8 and 16: NOTES fp821) */
#endif

/* fp819: where the ping-pong form is taken. Each block keeps two 128x128 tiles in flight (one per warpgroup), the
 * 128x256 tile's work, so it is wanted where there are at least two 128x128 tiles per SM: below that a warpgroup
 * idles and the round-robin / groups routes (fp816) already fit the grid. Prediction, refitted by the device run. */
#ifndef QN_F8_PP_MIN_PER_SM
#define QN_F8_PP_MIN_PER_SM 2
#endif
static bool qn_f8_pp_pick(int64_t N, int64_t M, int sms) {
    const int64_t s = sms > 0 ? sms : 132, tiles = (N + 127) / 128 * ((M + 127) / 128);
    return tiles >= QN_F8_PP_MIN_PER_SM * s;
}

/* QUANTA_CUDA_FP8_TILE=128x256|128x128|64x128|64x64|128x192 (the last: TMA forms only, fp814) forces a tile on every call (conformance of each tile by
 * bench/cuda/verify_mmq8.sh); unset or anything else: picked by grid size. Read once. */
static int qn_f8_forced_tile() {
    static int tile = -1;
    if (tile < 0) {
        static const char *const names[5] = {"128x256", "128x128", "64x128", "64x64", "128x192"};
        const char *e = getenv("QUANTA_CUDA_FP8_TILE");
        int t = 0;
        for (int i = 0; e && i < 5; i++)
            if (!strcmp(e, names[i])) t = i + 1;
        tile = t;
    }
    return tile;
}

/* QUANTA_CUDA_FP8_V2 (fp8pp11): 0: mmq8's kernel (blocks alone); 1 or 2: clusters of 2 blocks sharing the token
 * tile; 4: clusters of 4; a trailing p (0p, 2p, 4p): the persistent form of that cluster size, pp (0pp, 2pp, 4pp):
 * persistent with 2 wgmma groups in flight. Unset: 0ts (fp814), fp813's TMA form with its TMA-store epilogue and
 * fp814's L1 prefetch of each tile's scales: in the H100 run of 2026-12-06 17:13 the fastest form (or within 1% of
 * it) on all 30 LLaMA-7B/13B rows, 1.04-1.31x 0t (2ts, ahead at M >= 2048 in the run of 16:17 before the prefetch,
 * now 1.0-1.16x slower); bit-identical, conformance and compute-sanitizer clean (bench/NOTES.md section 6, fp814).
 * Before: 0t, faster than 2p
 * on all 30 shapes of the H100 run of 2026-12-06 13:12 (1.19-2.06x; fp813). Before that: 2p, the fastest form in the H100 run of 2026-12-06 09:42
 * (1.16-1.20x mmq8's kernel at M = 2048 on the 7B/13B shapes, 1.19x at M = 256; pp no faster; bit-identical,
 * conformance per tile and compute-sanitizer clean: bench/NOTES.md section 6, lead12). Read once: the cluster
 * size, plus 16 x the persistent form (1 or 2; 3: fp813's TMA form, a trailing t: 0t, 2t; 4: ts, its TMA store;
 * 5, 6: tw, tws, its clusters along the tokens). */
static int qn_f8_env_v2() {
    static int v2 = -1;
    if (v2 < 0) {
        const char *e = getenv("QUANTA_CUDA_FP8_V2");
        if (!e) e = "0ts";
        const int v = atoi(e);
        const char *p1 = strchr(e, 'p');
        v2 = (v == 4 ? 4 : v == 1 || v == 2 ? 2 : 1) | (p1 ? (p1[1] == 'p' ? 32 : 16) : 0);
        /* fp813's TMA form, clusters of 1 or 2: t, or ts with the TMA store epilogue (0t, 2t, 0ts, 2ts); with w
         * clusters of 2 or 4 along the tokens sharing the weights (2tw, 4tw, 2tws, 4tws) */
        if (strchr(e, 't')) {
            const int w = strchr(e, 'w') != NULL;
            v2 = (w ? (v == 4 ? 4 : 2) : v == 1 || v == 2 ? 2 : 1) | ((strchr(e, 's') ? 4 : 3) + 2 * w) << 4;
        }
    }
    return v2;
}

extern "C" {

size_t qn_cuda_fp8_x_bytes(int64_t M, int64_t Kp) {
    const int64_t Mp = qn_f8_mp(M);
    return qn_f8_al((size_t)Kp * (size_t)Mp) + qn_f8_al((size_t)Mp * 4);
}

void qn_cuda_fp8_x_split(void *buf, int64_t M, int64_t Kp, uint8_t **xq, float **sx) {
    *xq = (uint8_t *)buf;
    *sx = (float *)(void *)((uint8_t *)buf + qn_f8_al((size_t)Kp * (size_t)qn_f8_mp(M)));
}

/* QUANTA_CUDA_FP8_QUANT_SM (fp815): 1: the one-read quantizer (qn_k_fp8_quant_x_sm), 0: the loop form; unset or
 * anything else: QN_F8_QUANT_SM_DEFAULT, 2 = the one-read form at M <= 512, the loop form above. H100 21:05 (fp8_check
 * time5, same bytes): the one-read form faster on all 12 rows with M <= 512 (5.7 -> 5.2 us at 512 x 4096, 9.9 -> 7.0 at
 * 256 x 11008, 12.8 -> 11.2 at 512 x 13824), mixed above (0.86-1.14x). Read once. */
#ifndef QN_F8_QUANT_SM_DEFAULT
#define QN_F8_QUANT_SM_DEFAULT 2
#endif
QN_F8_ENV_SWITCH(qn_f8_quant_sm, "QUANTA_CUDA_FP8_QUANT_SM", '1', QN_F8_QUANT_SM_DEFAULT)

/* The layout the GEMM of QUANTA_CUDA_FP8_V2 reads: token-major for the TMA form (t), slices otherwise. */
int qn_cuda_fp8_quantize_x(int x_dtype, const void *x, int64_t M, int64_t K, int64_t Kp, void *buf, void *stream) {
    return qn_cuda_fp8_quantize_x_tm(x_dtype, x, M, K, Kp, buf, (qn_f8_env_v2() >> 4) >= 3, stream);
}

int qn_cuda_fp8_quantize_x_tm(int x_dtype, const void *x, int64_t M, int64_t K, int64_t Kp, void *buf, int token_major,
                              void *stream) {
    return qn_cuda_fp8_quantize_x_form(x_dtype, x, M, K, Kp, buf, token_major, -1, stream);
}

int qn_cuda_fp8_quantize_x_form(int x_dtype, const void *x, int64_t M, int64_t K, int64_t Kp, void *buf, int token_major,
                                int form, void *stream) {
    if (M <= 0) return 0;
    if (Kp % QN_F8_BK || Kp < K) return (int)cudaErrorInvalidValue;
    const int64_t Mp = qn_f8_mp(M);
    uint8_t *xq;
    float *sx;
    qn_cuda_fp8_x_split(buf, M, Kp, &xq, &sx);
    const int es = x_dtype == QN_DT_F32 ? 4 : 2;
    const bool vec = ((uintptr_t)x & 15u) == 0 && (K * es) % 16 == 0;
    if (Mp > 0x7fffffff) return (int)cudaErrorInvalidValue;
    cudaStream_t st = (cudaStream_t)stream;
    const bool tm = token_major != 0;
    if (form < 0) form = qn_f8_quant_sm() == 2 ? (M <= 512 ? 1 : 0) : qn_f8_quant_sm();
    const size_t rb = (size_t)K * (size_t)es;
    if (form == 1 && vec && rb <= QN_F8_QSM_BYTES) {
        static bool attr_set = false; /* a race only repeats an idempotent call */
        if (!attr_set) {
            const cudaError_t e = cudaFuncSetAttribute(qn_k_fp8_quant_x_sm, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                       QN_F8_QSM_BYTES);
            if (e != cudaSuccess) return (int)e;
            attr_set = true;
        }
        qn_k_fp8_quant_x_sm<<<(unsigned)Mp, QN_F8_QSM, rb, st>>>(x_dtype, x, M, K, Kp, Mp, tm, xq, sx);
    } else {
        qn_k_fp8_quant_x<<<(unsigned)Mp, QN_F8_QTHREADS, 0, st>>>(x_dtype, x, M, K, Kp, Mp, vec, tm, xq, sx);
    }
    return qn_cu_launch_status();
}

int qn_cuda_fp8_gemm(const qn_cuda_weight *w, const void *buf, int64_t M, int y_dtype, void *y, int tile, int sms,
                     void *stream) {
    return qn_cuda_fp8_gemm_cl(w, buf, M, y_dtype, y, tile, 1, NULL, qn_f8_env_v2() & 15, qn_f8_env_v2() >> 4, NULL, sms,
                               stream);
}

int qn_cuda_fp8_gemm_split(const qn_cuda_weight *w, const void *buf, int64_t M, int y_dtype, void *y, int tile,
                           int splits, float *part, int sms, void *stream) {
    return qn_cuda_fp8_gemm_cl(w, buf, M, y_dtype, y, tile, splits, part, qn_f8_env_v2() & 15, qn_f8_env_v2() >> 4,
                               NULL, sms, stream);
}

void qn_cuda_fp8_grid(int64_t N, int64_t M, int tile, int splits, int cluster, int sms, int64_t g[3]) {
    static const int bm[4] = {128, 128, 64, 64}, bn[4] = {256, 128, 128, 64};
    const int t = qn_f8_pick(N, M, sms, tile) - 1, cl = cluster > 1 ? cluster : 1;
    const int64_t gx = ((N + 15) / 16 + bm[t] / 16 - 1) / (bm[t] / 16);
    g[0] = (gx + cl - 1) / cl * cl, g[1] = (M + bn[t] - 1) / bn[t], g[2] = splits > 1 ? splits : 1;
}

} /* extern "C" */

/* qn_cuda_fp8_gemm_cl, and (sk 1 / 2, with skw and skf) fp815's stream-K over the 0ts form's tiles, (sk 3 / 4) fp816's split-K groups */
static int qn_f8_gemm(const qn_cuda_weight *w, const void *buf, int64_t M, int y_dtype, void *y, int tile, int splits,
                      float *part, int cluster, int persist, unsigned long long *trace, int sms, void *stream, int sk,
                      float *skw, unsigned *skf) {
    if (w->fmt != QN_CW_E4M3 || !qn_sm90a_device_ok()) return -1;
    if (cluster != 1 && cluster != 2 && cluster != 4) return (int)cudaErrorInvalidValue;
    const bool scale_pf = !(persist & 256), stm = (persist & 512) || (sk & 16) || qn_f8_env_stm(), tlast = persist & 1024;
    const bool tw = (sk & 32) || qn_f8_env_tw();
    /* fp818: SS asked for by the call (persist | 2048, sk | 64) or the switch, where the weight has its K-major copy */
    /* fp819's OE (persist | 8192, sk | 256, QUANTA_CUDA_FP8_OE) is a form of SS's 0ts: it asks for SS too */
    const bool oe_asked = (persist & 8192) || (sk & 256) || qn_f8_env_oe();
    /* fp820: codes K-major only (codes NULL): only the SS forms read them, so SS always; OE by its per-block rule */
    const bool km = w->codes == NULL, km_no_oe = (persist & 16384) || (sk & 512);
    const bool lead3 = (sk & 1024) || qn_f8_env_lead(); /* fp820: the groups' owner piece 3 stages longer */
    const int lead_asked = (sk >> 16) & 63; /* fp821: a bench's lead in stages (fp8_pair sk4l8 / sk4l16), else lead3's */
    /* fp822: the groups' pieces reduced in a cluster (DSMEM): 1 where the groups run; 2 also the OE route's last partial
     * round of 128x256 tiles as cluster groups (QUANTA_CUDA_FP8_SKCL=1 / 2, sk | 2048 / 4096) */
    const int kcl_mode = (sk & 4096) ? 2 : (sk & 2048) ? 1 : qn_f8_env_skcl();
    const bool kcl = kcl_mode >= 1;
    if (km && !w->codes_k) return (int)cudaErrorInvalidValue;
    const bool ss = ((persist & 2048) || (sk & 64) || qn_f8_env_ss() || oe_asked || km) && w->codes_k != NULL;
    /* fp819: the ping-pong form, forced by the call (persist | 4096: persist 4 with cluster 1, or 6 with cluster 2 along
     * the tokens) or where qn_f8_pp_pick takes it (sk | 128, or QUANTA_CUDA_FP8_PP), on the K-major copy only */
    const bool pp_force = (persist & 4096) || qn_f8_env_pp() == 2 || qn_f8_env_pp() == 4,
               pp_route = (sk & (128 | 8192)) || qn_f8_env_pp() == 1 || qn_f8_env_pp() == 3;
    const bool pp_w = w->codes_k != NULL;
    /* fp823: persist | 32768 / 65536: the ping-pong forms' K loop (and the cooperative SS forms' with direct stores:
     * persist 3) without copies / without wgmma (fp8_check trace4) */
    const int diag = (persist & 32768) ? 1 : (persist & 65536) ? 2 : 0;
    /* fp823: the ping-pong form in pairs along the weights, the token box's halves multicast (persist 4 | 4096, cluster
     * 2; ppt), where the route asks for it (QUANTA_CUDA_FP8_PP=3 / 4: PP 1 / 2's choice of calls in this form; sk | 8192:
     * PP=3's route per call, fp8_pair ppr) */
    const bool pp_tok = cluster == 2 || qn_f8_env_pp() >= 3 || (sk & 8192);
    persist &= 255, sk &= 15;
    /* TMA forms: no split; clusters of 1 or 2 along the weights, 2 or 4 along the tokens (5, 6) */
    if (persist >= 3 && (splits != 1 || (persist <= 4 ? cluster == 4 : cluster == 1) || persist > 6))
        return (int)cudaErrorInvalidValue;
    if (M <= 0 || w->N <= 0) return 0;
    const int64_t KT = w->Kp / QN_F8_BK;
    if (splits < 1 || (splits > 1 && !part)) return (int)cudaErrorInvalidValue;
    int64_t ksteps = (KT + splits - 1) / splits;
    if (ksteps < 1) ksteps = 1;
    splits = (int)((KT + ksteps - 1) / ksteps); /* no empty split */
    if (splits < 1) splits = 1;
    qn_f8_args a;
    uint8_t *xq;
    float *sx;
    qn_cuda_fp8_x_split((void *)buf, M, w->Kp, &xq, &sx);
    a.codes = (const uint8_t *)w->codes, a.codes_k = (const uint8_t *)w->codes_k, a.sw = w->row_scale, a.xq = xq, a.sx = sx;
    a.N = w->N, a.Np = w->Np, a.Kp = w->Kp, a.M = M, a.Mp = qn_f8_mp(M);
    a.ksteps = splits > 1 ? ksteps : (KT > 0 ? KT : 1);
    a.part = splits > 1 ? part : NULL;
    a.yd = y_dtype, a.y = y, a.trace = trace, a.units = 0, a.gxc = 0, a.scale_pf = scale_pf;
    a.dp_units = 0, a.skw = skw, a.skf = skf, a.sk_sp = sk >= 3, a.sk_red = sk >= 5, a.stm = stm, a.trace_last = tlast;
    a.sk_lead = lead_asked ? lead_asked : lead3 ? QN_F8_LEAD_STAGES : QN_F8_SKG_LEAD;
    a.diag = diag;
    cudaStream_t s = (cudaStream_t)stream;
    /* fp818: where the SS form runs (its own 128x128 cost in the pick): 0ts / 0t alone, and (ss_tw) a 128x128 tile in
     * clusters of 2 along the tokens (2tws: TW's route, or the form asked for) */
    const bool ss_route = ss && (persist == 3 || persist == 4) && cluster == 1;
    const bool ss_tw = ss && ((persist == 4 && cluster == 1) || (persist == 6 && cluster == 2));
    const int t = persist >= 3 ? qn_f8t_pick(w->N, M, sms, tile, ss_route, km) : qn_f8_pick(w->N, M, sms, tile);
    /* fp820: a form only the tiled codes serve (the non-TMA forms, clusters along the weights, 64x64, 2tws off 128x128)
     * is "not this form" for K-major-only codes: -1, and the engine runs the GEMV kernel's K-major form instead */
    if (km && !(persist >= 3 && ((persist <= 4 && cluster == 1 && t != 4) || (persist == 4 && cluster == 2 && t == 1) ||
                                 (persist == 4 && cluster == 2 && (tile == 2 || (pp_force && tile == 0))) ||
                                 (persist == 6 && cluster == 2 && (t == 2 || (pp_force && (tile == 0 || tile == 2)))))))
        return -1;
    /* fp820: OE for K-major-only codes where every block has >= QN_F8_KM_OE_MIN_PER_SM tiles (t's, one block per SM) */
    const bool oe = oe_asked || (km && !km_no_oe && qn_f8_km_oe_pick(w->N, M, sms, t));
    if (persist >= 3) { /* 4, 6: the TMA store epilogue where y allows it (2-byte, rows 16-byte multiples, aligned) */
        const bool epi = (persist == 4 || persist == 6) && y_dtype != QN_DT_F32 && w->N % 8 == 0 && ((uintptr_t)y & 15u) == 0;
        /* fp819's ping-pong consumers (128x128 tiles, SS): forced, or picked in place of 0ts / the groups */
        if (pp_w && ((pp_force && (tile == 0 || tile == 2) && (persist == 4 || (persist == 6 && cluster == 2))) ||
                     (!pp_force && pp_route && persist == 4 && cluster == 1 && tile == 0 && qn_f8_pp_pick(w->N, M, sms)))) {
            if (persist == 6)
                return epi ? qn_f8t_launch<2, 128, 2, 1, 1, 0, 1, 1>(a, sms, s) : qn_f8t_launch<2, 128, 2, 0, 1, 0, 1, 1>(a, sms, s);
            if (pp_tok) /* fp823: pairs along the weights, the tokens multicast */
                return epi ? qn_f8t_launch<2, 128, 2, 1, 0, 0, 1, 1>(a, sms, s) : qn_f8t_launch<2, 128, 2, 0, 0, 0, 1, 1>(a, sms, s);
            return epi ? qn_f8t_launch<2, 128, 1, 1, 0, 0, 1, 1>(a, sms, s) : qn_f8t_launch<2, 128, 1, 0, 0, 0, 1, 1>(a, sms, s);
        }
        /* fp817's TW: a picked 128x128 tile as 2tws (clusters of 2 along the tokens, the weight rows multicast: the
         * peer's 1x2 cluster on these rows), in place of 0ts and of the groups */
        if (tw && persist == 4 && cluster == 1 && tile == 0 && t == 2) {
            if (ss_tw) return epi ? qn_f8t_launch<2, 128, 2, 1, 1, 0, 1>(a, sms, s) : qn_f8t_launch<2, 128, 2, 0, 1, 0, 1>(a, sms, s);
            return epi ? qn_f8t_launch_tile<2, 1, 1>(2, a, sms, s) : qn_f8t_launch_tile<2, 0, 1>(2, a, sms, s);
        }
        /* fp822 (SKCL=2): the OE route's 128x256 tiles with the last partial round in cluster groups (falls back to
         * plain OE where the plan has fewer than 2 pieces a tile) */
        if (kcl_mode == 2 && ss_route && oe && epi && persist == 4 && cluster == 1 && (tile == 0 || tile == 1) && t == 1 && a.sk_sp)
            return qn_f8t_launch<2, 256, 1, 1, 0, 2, 1, 0, 1>(a, sms, s);
        /* fp815's stream-K: tile 128x256 unless 128x128 / 128x192 is forced */
        if (persist == 4 && cluster == 1 && skw && skf &&
            (sk == 2 || sk == 3 || sk == 5 || (sk == 1 && tile != 2 && tile != 5 && qn_f8_sk_pick(w->N, M, w->Kp, sms, t)) ||
             ((sk == 4 || sk == 6) && tile != 2 && tile != 5 && qn_f8_skg_pick(w->N, M, w->Kp, sms, t, sk == 6, ss_route)))) {
            const int tk = tile == 2 || tile == 5 ? tile : 1;
            if (kcl && tk == 1 && sk >= 3) { /* fp822: 128x256 groups, each tile's pieces one cluster */
                if (ss_route) return epi ? qn_f8t_launch<2, 256, 1, 1, 0, 2, 1>(a, sms, s) : qn_f8t_launch<2, 256, 1, 0, 0, 2, 1>(a, sms, s);
                return epi ? qn_f8t_launch<2, 256, 1, 1, 0, 2>(a, sms, s) : qn_f8t_launch<2, 256, 1, 0, 0, 2>(a, sms, s);
            }
            if (ss_route) return epi ? qn_f8t_launch_sk<1, 1>(tk, a, sms, s) : qn_f8t_launch_sk<0, 1>(tk, a, sms, s);
            return epi ? qn_f8t_launch_sk<1>(tk, a, sms, s) : qn_f8t_launch_sk<0>(tk, a, sms, s);
        }
        if (ss_route && oe && epi && persist == 4) { /* fp819: 0ts SS with the epilogue's stores under the next tile */
            if (t == 1) return qn_f8t_launch<2, 256, 1, 1, 0, 0, 1, 0, 1>(a, sms, s);
            if (t == 2) return qn_f8t_launch<2, 128, 1, 1, 0, 0, 1, 0, 1>(a, sms, s);
            if (t == 5) return qn_f8t_launch<2, 192, 1, 1, 0, 0, 1, 0, 1>(a, sms, s);
        }
        if (ss_route) /* fp818: 0ts / 0t with both operands from shared memory */
            return epi ? qn_f8t_launch_tile_ss<1>(t, a, sms, s) : qn_f8t_launch_tile_ss<0>(t, a, sms, s);
        if (ss_tw && persist == 6 && t == 2) /* fp818: 2tws's 128x128 in the SS form */
            return epi ? qn_f8t_launch<2, 128, 2, 1, 1, 0, 1>(a, sms, s) : qn_f8t_launch<2, 128, 2, 0, 1, 0, 1>(a, sms, s);
        if (persist >= 5) { /* clusters along the tokens */
            if (cluster == 4) return epi ? qn_f8t_launch_tile<4, 1, 1>(t, a, sms, s) : qn_f8t_launch_tile<4, 0, 1>(t, a, sms, s);
            return epi ? qn_f8t_launch_tile<2, 1, 1>(t, a, sms, s) : qn_f8t_launch_tile<2, 0, 1>(t, a, sms, s);
        }
        /* fp823: SS 128x128 (cooperative) in pairs along the weights, the token box's halves multicast (c128t, a bench form:
         * the ping-pong pair's cooperative twin; bit-identical to SS 128x128) */
        if (ss && (persist == 3 || persist == 4) && cluster == 2 && tile == 2)
            return epi ? qn_f8t_launch<2, 128, 2, 1, 0, 0, 1>(a, sms, s) : qn_f8t_launch<2, 128, 2, 0, 0, 0, 1>(a, sms, s);
        if (ss && persist == 4 && cluster == 2 && t == 1) { /* fp822: SS 128x256 in pairs along the weights (tokens multicast) */
            if (!epi) return qn_f8t_launch<2, 256, 2, 0, 0, 0, 1>(a, sms, s);
            return oe ? qn_f8t_launch<2, 256, 2, 1, 0, 0, 1, 0, 1>(a, sms, s) : qn_f8t_launch<2, 256, 2, 1, 0, 0, 1>(a, sms, s);
        }
        if (cluster == 2) return epi ? qn_f8t_launch_tile<2, 1, 0>(t, a, sms, s) : qn_f8t_launch_tile<2, 0, 0>(t, a, sms, s);
        return epi ? qn_f8t_launch_tile<1, 1, 0>(t, a, sms, s) : qn_f8t_launch_tile<1, 0, 0>(t, a, sms, s);
    }
    const int ps = splits == 1 ? (persist >= 2 ? 2 : persist == 1 ? 1 : 0) : 0;
    const int e = cluster == 4   ? qn_f8_launch_tile<4>(t, a, splits, ps, sms, s)
                  : cluster == 2 ? qn_f8_launch_tile<2>(t, a, splits, ps, sms, s)
                                 : qn_f8_launch_tile<1>(t, a, splits, ps, sms, s);
    if (e || splits == 1) return e;
    qn_k_fp8_reduce<<<qn_cu_blocks(M * w->N, 256, (unsigned)(sms > 0 ? sms : 132) * 8), 256, 0, s>>>(
        part, splits, M, w->N, w->row_scale, a.sx, y_dtype, y);
    return qn_cu_launch_status();
}

extern "C" {

int qn_cuda_fp8_gemm_cl(const qn_cuda_weight *w, const void *buf, int64_t M, int y_dtype, void *y, int tile,
                        int splits, float *part, int cluster, int persist, unsigned long long *trace, int sms,
                        void *stream) {
    return qn_f8_gemm(w, buf, M, y_dtype, y, tile, splits, part, cluster, persist, trace, sms, stream, 0, NULL, NULL);
}

/* one slot per block (at most one per SM) and consumer warpgroup: 2 x 128 threads x 128 sums of the 128x256 tile */
size_t qn_cuda_fp8_sk_bytes(int sms) { return (size_t)(sms > 0 ? sms : 132) * 2 * 128 * 128 * 4; }

int qn_cuda_fp8_sk_taken(int64_t N, int64_t M, int64_t Kp, int sms) {
    return qn_f8_sk_pick(N, M, Kp, sms, qn_f8t_pick(N, M, sms, 0)) ? 1 : 0;
}

int qn_cuda_fp8_skg_taken(int64_t N, int64_t M, int64_t Kp, int sms) {
    return qn_f8_skg_pick(N, M, Kp, sms, qn_f8t_pick(N, M, sms, 0), false) ? 1 : 0;
}

int qn_cuda_fp8_pp_taken(int64_t N, int64_t M, int sms) { return qn_f8_pp_pick(N, M, sms) ? 1 : 0; }

int qn_cuda_fp8_skr_taken(int64_t N, int64_t M, int64_t Kp, int sms) {
    return qn_f8_skg_pick(N, M, Kp, sms, qn_f8t_pick(N, M, sms, 0), true) ? 1 : 0;
}

int qn_cuda_fp8_gemm_sk(const qn_cuda_weight *w, const void *buf, int64_t M, int y_dtype, void *y, int tile, int sk,
                        float *ws, unsigned *flags, unsigned long long *trace, int sms, void *stream) {
    return qn_f8_gemm(w, buf, M, y_dtype, y, tile, 1, NULL, 1, 4, trace, sms, stream, sk, ws, flags);
}

/* fp820 (fp8_pair.py): whether the route on K-major-only codes takes OE at this shape (where it does not take the
 * split-K groups: those run SS's kernel either way) */
int qn_cuda_fp8_km_oe_taken(int64_t N, int64_t M, int64_t Kp, int sms) {
    const int t = qn_f8t_pick(N, M, sms, 0, true, true);
    return !qn_f8_skg_pick(N, M, Kp, sms, t, false, true) && qn_f8_km_oe_pick(N, M, sms, t) ? 1 : 0;
}

int qn_cuda_fp8_km_ok(void) {
    const int v2 = qn_f8_env_v2();
    return qn_sm90a_device_ok() && ((v2 >> 4) == 3 || (v2 >> 4) == 4) && (v2 & 15) == 1 && qn_f8_forced_tile() != 4;
}

size_t qn_cuda_fp8_scratch_bytes(int64_t M, int64_t Kp, int sms) {
    const int sk = (qn_f8_env_v2() >> 4) == 4 && (qn_f8_env_v2() & 15) == 1 ? qn_f8_env_sk() : 0;
    return qn_cuda_fp8_x_bytes(M, Kp) + (sk ? qn_cuda_fp8_sk_bytes(sms) : 0);
}

int qn_cuda_matmul_fp8(const qn_cuda_weight *w, int x_dtype, const void *x, int y_dtype, void *y, int64_t M,
                       void *scratch, size_t scratch_bytes, unsigned *counters, size_t ncounters, int sms,
                       void *stream) {
    if (w->fmt != QN_CW_E4M3 || !qn_sm90a_device_ok() || M < QN_CUDA_FP8_WG_MIN_M || w->K <= 0) return -1;
    const size_t xb = qn_cuda_fp8_x_bytes(M, w->Kp);
    if (scratch_bytes < xb) return (int)cudaErrorInvalidValue;
    const int e = qn_cuda_fp8_quantize_x(x_dtype, x, M, w->K, w->Kp, scratch, stream);
    if (e) return e;
    /* fp815's stream-K (QUANTA_CUDA_FP8_SK, 0ts only): its slots after the codes, its flags the engine's counters */
    const int v2 = qn_f8_env_v2(), sk = (v2 >> 4) == 4 && (v2 & 15) == 1 ? qn_f8_env_sk() : 0;
    const int64_t nsm = sms > 0 ? sms : 132;
    if (sk && counters && ncounters >= (size_t)(2 * nsm) && scratch_bytes >= xb + qn_cuda_fp8_sk_bytes(sms))
        return qn_cuda_fp8_gemm_sk(w, scratch, M, y_dtype, y, qn_f8_forced_tile(), sk, (float *)((uint8_t *)scratch + xb),
                                   counters, NULL, sms, stream);
    return qn_cuda_fp8_gemm(w, scratch, M, y_dtype, y, qn_f8_forced_tile(), sms, stream);
}

} /* extern "C" */
