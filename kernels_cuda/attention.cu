/*
 * attention.cu — CUDA attention for quanta_attention (semantics in include/quanta.h).
 *
 * Four kernels and a combine:
 *  - attn_mma_kernel, prefill form: FlashAttention-2 tiling on mma.sync m16n8k16 (f16/bf16, head dims
 *    that are multiples of 16 up to 128). Each warp owns 16*MT query rows, K/V tiles stream through
 *    shared memory with cp.async, the online softmax stays in registers in the log2 domain.
 *  - attn_mma_kernel, decode form (SPLITN): at most 16 rows (the query heads of one KV head times Nq,
 *    folded into M so one K/V load serves them all); the warps split each K/V tile among themselves
 *    and merge their (max, sum, out) through shared memory at the end.
 *  - attn_generic_kernel: scalar f32 arithmetic, any head dim up to 256, any of the three dtypes.
 *  - attn_decode_rows_kernel: decode of up to 8 folded rows, head dims 64/96/128/256, any dtype,
 *    f32 arithmetic, splits merged inside a thread-block cluster.
 *  - attn_combine_kernel: merges split-KV partials (out/l and log2-sum-exp, f32 in the scratch).
 * Rows are "folded": row r of a KV head's block stands for query q = r / G of query head
 * hkv*G + r % G (G = Hq/Hkv), so a tile of rows shares every K/V load.
 * Visibility (from quanta.h): with L = kv_lens[b] (or Nk) and p = L - Nq + q, key j is seen iff
 * j < L, (causal -> j <= p), (window > 0 -> j > p - window), (mask -> mask[q][j] != 0);
 * a row that sees nothing is written as zeros. No N x N buffer exists anywhere.
 */
#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <atomic>
#include <cooperative_groups.h>

#include "attention.h"
#include "ggml_xq.cuh" /* qn_ggml_quantize_chunk: the decode-rows kernel may leave wo's activation codes */
#include "cp_async.cuh"
#include "layout.h" /* formats/: the dtype codes QN_DT_* */

namespace {

constexpr int kF32 = QN_DT_F32, kF16 = QN_DT_F16, kBF16 = QN_DT_BF16;

constexpr int kMaxGenericD = QN_CUDA_ATTN_MAX_D;
constexpr int kMaxSplits = QN_CUDA_ATTN_MAX_SPLITS;

struct Params {
    const void *q, *k, *v;
    const uint8_t *mask;
    const int32_t *kv_lens;
    void *out;
    float *part_o;   /* [B*Hq*Nq][splits][D] */
    float *part_lse; /* [B*Hq*Nq][splits], log2 domain */
    long long B, Hq, Hkv, Nq, Nk, D;
    long long G;         /* Hq / Hkv */
    long long rows_fold; /* G * Nq rows per KV head */
    int mask_batched, causal, window, splits;
    float sl2; /* scale * log2(e) */
    int8_t *xq, *xl; /* not NULL: out's int8 codes too (attn_decode_rows_kernel; qn_cuda_attention_args) */
    float *dx;
    int *sx, *sl;
    int early; /* the decode-rows short form: K/V prefetch before its PDL wait, launch_dependents after (ki.pdl) */
};

/* ------------------------------------------------------------------ device helpers */

__device__ __forceinline__ void ldsm_x4(uint32_t addr, uint32_t &r0, uint32_t &r1, uint32_t &r2, uint32_t &r3)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
                 : "r"(addr));
}
__device__ __forceinline__ void ldsm_x4_t(uint32_t addr, uint32_t &r0, uint32_t &r1, uint32_t &r2, uint32_t &r3)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
                 : "r"(addr));
}

__device__ __forceinline__ float ex2(float x)
{
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
    return y;
}

template <typename T> struct Ty;
template <> struct Ty<__half> {
    static __device__ __forceinline__ void mma(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1)
    {
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
                     "{%8,%9}, {%0,%1,%2,%3};\n"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
    static __device__ __forceinline__ uint32_t pack(float x, float y)
    {
        __half2 h = __floats2half2_rn(x, y);
        uint32_t u;
        memcpy(&u, &h, 4);
        return u;
    }
    static __device__ __forceinline__ float to_f(__half x) { return __half2float(x); }
    static __device__ __forceinline__ __half from_f(float x) { return __float2half_rn(x); }
};
template <> struct Ty<__nv_bfloat16> {
    static __device__ __forceinline__ void mma(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1)
    {
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
                     "{%8,%9}, {%0,%1,%2,%3};\n"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
    static __device__ __forceinline__ uint32_t pack(float x, float y)
    {
        __nv_bfloat162 h = __floats2bfloat162_rn(x, y);
        uint32_t u;
        memcpy(&u, &h, 4);
        return u;
    }
    static __device__ __forceinline__ float to_f(__nv_bfloat16 x) { return __bfloat162float(x); }
    static __device__ __forceinline__ __nv_bfloat16 from_f(float x) { return __float2bfloat16_rn(x); }
};
template <> struct Ty<float> {
    static __device__ __forceinline__ float to_f(float x) { return x; }
    static __device__ __forceinline__ float from_f(float x) { return x; }
};

/* Where a block's rows start and which key tiles it visits (its share of the split). */
struct BlockRange {
    long long L, r0, rend, pmin, pmax;
    long long t0; /* first tile of this block's split */
    int n;        /* tiles in it */
};

__device__ __forceinline__ BlockRange block_range(const Params &p, int rb, int bn)
{
    BlockRange br;
    const int splits = p.splits;
    const long long split = blockIdx.x % splits;
    const long long mblocks = gridDim.x / splits;
    /* the last rows see the most keys under causal masking: start them first */
    const long long mb = mblocks - 1 - (long long)(blockIdx.x / splits);
    const long long b = blockIdx.z;
    long long L = p.Nk;
    if (p.kv_lens) {
        long long l = p.kv_lens[b];
        L = l < 0 ? 0 : (l > p.Nk ? p.Nk : l);
    }
    br.L = L;
    br.r0 = mb * rb;
    br.rend = br.r0 + rb < p.rows_fold ? br.r0 + rb : p.rows_fold;
    const long long qmin = br.r0 / p.G, qmax = (br.rend - 1) / p.G;
    br.pmin = L - p.Nq + qmin;
    br.pmax = L - p.Nq + qmax;
    long long lo = 0, hi = L;
    if (p.causal && hi > br.pmax + 1)
        hi = br.pmax + 1;
    if (p.window > 0 && lo < br.pmin - p.window + 1)
        lo = br.pmin - p.window + 1;
    const long long tb = lo / bn;
    const long long te = hi > lo ? (hi + bn - 1) / bn : tb;
    const long long tps = (te - tb + splits - 1) / splits;
    long long a = tb + split * tps, e = a + tps;
    if (e > te)
        e = te;
    if (a > e)
        a = e;
    br.t0 = a;
    br.n = (int)(e - a);
    return br;
}

/* Positions fit in int (the launch planning caps Nq and Nk below 2^30), which keeps the registers few. */
__device__ __forceinline__ bool key_visible(const Params &p, int key, int L, int pos, const uint8_t *mrow)
{
    return key < L && (!p.causal || key <= pos) && (p.window <= 0 || key > pos - p.window) &&
           (mrow == nullptr || mrow[key] != 0);
}

/* ------------------------------------------------------------------ tensor-core kernel */

template <typename T, int D, int WARPS, int MT, int BN, int STAGES, bool QREG, bool SPLITN, int BNC = 0,
          bool CL = false>
struct MmaCfg {
    static constexpr int NT = WARPS * 32;
    static constexpr int SROW = D + 8; /* +16 bytes a row: ldmatrix rows fall in distinct banks */
    static constexpr int RB = SPLITN ? 16 * MT : WARPS * 16 * MT;
    static constexpr int BNW = SPLITN ? BN / WARPS : BN;
    /* keys scored per softmax step (registers hold S for this many keys), a divisor of BNW */
    static constexpr int CW = (BNC > 0 && BNC < BNW) ? BNC : BNW;
    static constexpr size_t main_smem = (size_t)(RB + 2 * STAGES * BN) * SROW * sizeof(T);
    /* decode merge: per-warp outs, (max, sum, scale) per warp and row, 1/l and lse per row; with CL
     * also the block's merged out, the cluster's lse and weights (cluster of at most 16) */
    static constexpr size_t comb_smem =
        SPLITN ? ((size_t)WARPS * 16 * D + (size_t)WARPS * 16 * 3 + 32 + (CL ? 16 * D + 2 * 256 + 16 : 0)) * 4 : 0;
    static constexpr size_t smem = main_smem > comb_smem ? main_smem : comb_smem;
};

template <typename T, int D, int WARPS, int MT, int BN, int STAGES, bool QREG, bool SPLITN, int BNC = 0,
          bool CL = false>
__global__ void __launch_bounds__(WARPS * 32) attn_mma_kernel(const Params p)
{
    using C = MmaCfg<T, D, WARPS, MT, BN, STAGES, QREG, SPLITN, BNC, CL>;
    static_assert(!CL || SPLITN, "clusters merge decode splits");
    constexpr int NT = C::NT, SROW = C::SROW, RB = C::RB, BNW = C::BNW, CW = C::CW;
    constexpr int KT = D / 16, NTS = CW / 8, NTO = D / 8, CH = D / 8;
    static_assert(D % 16 == 0 && CW % 16 == 0 && BNW % CW == 0 && STAGES >= 2, "tile shape");
    static_assert(!SPLITN || MT == 1, "decode form has one m16 tile");

    extern __shared__ __align__(16) unsigned char smem[];
    T *sQ = reinterpret_cast<T *>(smem);
    T *sK = sQ + RB * SROW;
    T *sV = sK + STAGES * BN * SROW;

    qn_pdl_wait(); /* launch() may overlap this grid with the kernel before it: nothing is read before this */
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const int g = lane >> 2, c = lane & 3;
    const BlockRange br = block_range(p, RB, BN);
    const long long b = blockIdx.z, hkv = blockIdx.y;
    const long long L = br.L;
    const int n = br.n;

    const T *Q = static_cast<const T *>(p.q);
    const T *K = static_cast<const T *>(p.k) + (b * p.Hkv + hkv) * p.Nk * D;
    const T *V = static_cast<const T *>(p.v) + (b * p.Hkv + hkv) * p.Nk * D;

    for (int i = tid; i < RB * CH; i += NT) {
        const int rr = i / CH, ch = i % CH;
        const long long r = br.r0 + rr;
        const bool ok = r < br.rend;
        const T *src = Q;
        if (ok)
            src = Q + ((b * p.Hq + hkv * p.G + r % p.G) * p.Nq + r / p.G) * D + ch * 8;
        qn_cp_async16(qn_smem_u32(sQ + rr * SROW + ch * 8), src, ok);
    }
    qn_cp_async_commit();

    auto load_tile = [&](long long t, int stage) {
        const long long k0 = t * BN;
        T *dk = sK + stage * BN * SROW;
        T *dv = sV + stage * BN * SROW;
        for (int i = tid; i < BN * CH; i += NT) {
            const int rr = i / CH, ch = i % CH;
            const long long key = k0 + rr;
            const bool ok = key < L;
            const long long off = ok ? key * D + ch * 8 : 0;
            qn_cp_async16(qn_smem_u32(dk + rr * SROW + ch * 8), K + off, ok);
            qn_cp_async16(qn_smem_u32(dv + rr * SROW + ch * 8), V + off, ok);
        }
    };

#pragma unroll
    for (int s = 0; s < STAGES - 1; ++s) {
        if (s < n)
            load_tile(br.t0 + s, s);
        qn_cp_async_commit();
    }
    qn_cp_async_wait<STAGES - 1>(); /* the oldest group, Q, has landed */
    __syncthreads();

    const int wrow = SPLITN ? 0 : warp * 16 * MT;
    uint32_t qf[QREG ? MT : 1][QREG ? KT : 1][4];
    if constexpr (QREG) {
#pragma unroll
        for (int mt = 0; mt < MT; ++mt)
#pragma unroll
            for (int kk = 0; kk < KT; ++kk)
                ldsm_x4(qn_smem_u32(sQ + (wrow + mt * 16 + (lane & 15)) * SROW + kk * 16 + (lane >> 4) * 8),
                        qf[mt][kk][0], qf[mt][kk][1], qf[mt][kk][2], qf[mt][kk][3]);
    }

    float o[MT][NTO][4];
    float m[MT][2], ls[MT][2];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
        for (int nt = 0; nt < NTO; ++nt)
            o[mt][nt][0] = o[mt][nt][1] = o[mt][nt][2] = o[mt][nt][3] = 0.f;
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            m[mt][h] = -INFINITY;
            ls[mt][h] = 0.f;
        }
    }
    const int kw = SPLITN ? warp * BNW : 0;

    /* Prefill (compute-bound): one barrier a tile; wait for tile it, barrier (every warp is done
     * with tile it-1), then refill the stage tile it-1 used while tile it is computed.
     * Decode (memory-bound): issue the next load before waiting, so that STAGES-1 tiles stay in
     * flight (one more than the one-barrier order), at the price of a second barrier. Measured on
     * the H200 2026-11-28: the one-barrier order cost decode 5-8% and gained prefill 5-10%. */
    constexpr bool EARLY = SPLITN;
    for (int it = 0; it < n; ++it) {
        if constexpr (EARLY) {
            const int nx = it + STAGES - 1;
            if (nx < n)
                load_tile(br.t0 + nx, nx % STAGES);
            qn_cp_async_commit();
            qn_cp_async_wait<STAGES - 1>();
            __syncthreads();
        } else {
            qn_cp_async_wait<STAGES - 2>();
            __syncthreads();
            const int nx = it + STAGES - 1;
            if (nx < n)
                load_tile(br.t0 + nx, nx % STAGES);
            qn_cp_async_commit();
        }
        const int st = it % STAGES;
        const T *tk = sK + st * BN * SROW;
        const T *tv = sV + st * BN * SROW;
#pragma unroll 1
        for (int sub = 0; sub < BNW / CW; ++sub) {
        const int kc = kw + sub * CW;
        const long long k0 = (br.t0 + it) * BN + kc;

        float s[MT][NTS][4];
#pragma unroll
        for (int mt = 0; mt < MT; ++mt)
#pragma unroll
            for (int nt = 0; nt < NTS; ++nt)
                s[mt][nt][0] = s[mt][nt][1] = s[mt][nt][2] = s[mt][nt][3] = 0.f;

#pragma unroll
        for (int kk = 0; kk < KT; ++kk) {
            uint32_t a[MT][4];
#pragma unroll
            for (int mt = 0; mt < MT; ++mt) {
                if constexpr (QREG) {
                    a[mt][0] = qf[mt][kk][0];
                    a[mt][1] = qf[mt][kk][1];
                    a[mt][2] = qf[mt][kk][2];
                    a[mt][3] = qf[mt][kk][3];
                } else {
                    ldsm_x4(qn_smem_u32(sQ + (wrow + mt * 16 + (lane & 15)) * SROW + kk * 16 + (lane >> 4) * 8),
                            a[mt][0], a[mt][1], a[mt][2], a[mt][3]);
                }
            }
#pragma unroll
            for (int np = 0; np < NTS / 2; ++np) {
                uint32_t b0, b1, b2, b3;
                ldsm_x4(qn_smem_u32(tk + (kc + np * 16 + ((lane >> 4) << 3) + (lane & 7)) * SROW + kk * 16 +
                                 ((lane >> 3) & 1) * 8),
                        b0, b1, b2, b3);
#pragma unroll
                for (int mt = 0; mt < MT; ++mt) {
                    Ty<T>::mma(s[mt][2 * np], a[mt], b0, b1);
                    Ty<T>::mma(s[mt][2 * np + 1], a[mt], b2, b3);
                }
            }
        }

        /* masking only on tiles that cross a boundary; row facts are recomputed there, not kept in
         * registers through the loop */
        if (p.mask != nullptr || k0 + CW > L || (p.causal && k0 + CW - 1 > br.pmin) ||
            (p.window > 0 && k0 <= br.pmax - p.window)) {
#pragma unroll
            for (int mt = 0; mt < MT; ++mt)
#pragma unroll
                for (int h = 0; h < 2; ++h) {
                    int r = (int)br.r0 + wrow + mt * 16 + h * 8 + g;
                    if (r >= (int)br.rend)
                        r = (int)br.rend - 1;
                    const int qq = r / (int)p.G;
                    const int pos = (int)(L - p.Nq) + qq;
                    const uint8_t *mr =
                        p.mask ? p.mask + (p.mask_batched ? b * p.Nq * p.Nk : 0) + qq * p.Nk : nullptr;
#pragma unroll
                    for (int nt = 0; nt < NTS; ++nt)
#pragma unroll
                        for (int e = 0; e < 2; ++e) {
                            const int key = (int)k0 + nt * 8 + 2 * c + e;
                            if (!key_visible(p, key, (int)L, pos, mr))
                                s[mt][nt][2 * h + e] = -INFINITY;
                        }
                }
        }
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                float mx = -INFINITY;
#pragma unroll
                for (int nt = 0; nt < NTS; ++nt)
                    mx = fmaxf(mx, fmaxf(s[mt][nt][2 * h], s[mt][nt][2 * h + 1]));
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
                /* raw scores, scale folded into one FFMA below (the fast path needs scale > 0) */
                const float mnew = fmaxf(m[mt][h], mx * p.sl2);
                const float muse = mnew == -INFINITY ? 0.f : mnew;
                const float alpha = ex2(m[mt][h] - muse);
                m[mt][h] = mnew;
                float sum = 0.f;
#pragma unroll
                for (int nt = 0; nt < NTS; ++nt) {
                    s[mt][nt][2 * h] = ex2(fmaf(s[mt][nt][2 * h], p.sl2, -muse));
                    s[mt][nt][2 * h + 1] = ex2(fmaf(s[mt][nt][2 * h + 1], p.sl2, -muse));
                    sum += s[mt][nt][2 * h] + s[mt][nt][2 * h + 1];
                }
                ls[mt][h] = ls[mt][h] * alpha + sum;
                /* once the running max settles, most tiles leave it unchanged: skip the rescale */
                if (__any_sync(0xffffffffu, alpha != 1.f)) {
#pragma unroll
                    for (int nt = 0; nt < NTO; ++nt) {
                        o[mt][nt][2 * h] *= alpha;
                        o[mt][nt][2 * h + 1] *= alpha;
                    }
                }
            }
        }

#pragma unroll
        for (int j = 0; j < CW / 16; ++j) {
            uint32_t a[MT][4];
#pragma unroll
            for (int mt = 0; mt < MT; ++mt) {
                a[mt][0] = Ty<T>::pack(s[mt][2 * j][0], s[mt][2 * j][1]);
                a[mt][1] = Ty<T>::pack(s[mt][2 * j][2], s[mt][2 * j][3]);
                a[mt][2] = Ty<T>::pack(s[mt][2 * j + 1][0], s[mt][2 * j + 1][1]);
                a[mt][3] = Ty<T>::pack(s[mt][2 * j + 1][2], s[mt][2 * j + 1][3]);
            }
#pragma unroll
            for (int dp = 0; dp < D / 16; ++dp) {
                uint32_t b0, b1, b2, b3;
                ldsm_x4_t(qn_smem_u32(tv + (kc + j * 16 + (lane & 15)) * SROW + dp * 16 + (lane >> 4) * 8), b0, b1, b2,
                          b3);
#pragma unroll
                for (int mt = 0; mt < MT; ++mt) {
                    Ty<T>::mma(o[mt][2 * dp], a[mt], b0, b1);
                    Ty<T>::mma(o[mt][2 * dp + 1], a[mt], b2, b3);
                }
            }
        }
        }
        if constexpr (EARLY)
            __syncthreads();
    }
    qn_cp_async_wait<0>();

    const int split = (int)(blockIdx.x % p.splits);
    if constexpr (!SPLITN) {
#pragma unroll
        for (int mt = 0; mt < MT; ++mt)
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                float l = ls[mt][h];
                l += __shfl_xor_sync(0xffffffffu, l, 1);
                l += __shfl_xor_sync(0xffffffffu, l, 2);
                const long long r = br.r0 + wrow + mt * 16 + h * 8 + g;
                if (r >= br.rend)
                    continue;
                const long long nat = (b * p.Hq + hkv * p.G + r % p.G) * p.Nq + r / p.G;
                const float inv = l > 0.f ? 1.f / l : 0.f;
                if (p.splits == 1) {
                    T *dst = static_cast<T *>(p.out) + nat * D + 2 * c;
#pragma unroll
                    for (int nt = 0; nt < NTO; ++nt)
                        *reinterpret_cast<uint32_t *>(dst + nt * 8) =
                            Ty<T>::pack(o[mt][nt][2 * h] * inv, o[mt][nt][2 * h + 1] * inv);
                } else {
                    float *dst = p.part_o + (nat * p.splits + split) * D + 2 * c;
#pragma unroll
                    for (int nt = 0; nt < NTO; ++nt)
                        *reinterpret_cast<float2 *>(dst + nt * 8) =
                            make_float2(o[mt][nt][2 * h] * inv, o[mt][nt][2 * h + 1] * inv);
                    if (c == 0)
                        p.part_lse[nat * p.splits + split] = l > 0.f ? m[mt][h] + log2f(l) : -INFINITY;
                }
            }
        return;
    }

    /* decode form: every warp holds a partial (max, sum, out) for the same 16 rows; merge them */
    __syncthreads();
    float *cO = reinterpret_cast<float *>(smem); /* [WARPS][16][D] */
    float *cm = cO + WARPS * 16 * D;              /* [WARPS][16] */
    float *cl = cm + WARPS * 16;
    float *csc = cl + WARPS * 16;
    float *cinv = csc + WARPS * 16; /* [16] */
    float *clse = cinv + 16;        /* [16] */
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        float l = ls[0][h];
        l += __shfl_xor_sync(0xffffffffu, l, 1);
        l += __shfl_xor_sync(0xffffffffu, l, 2);
        if (c == 0) {
            cm[warp * 16 + h * 8 + g] = m[0][h];
            cl[warp * 16 + h * 8 + g] = l;
        }
    }
    __syncthreads();
    if (tid < 16) {
        float M = -INFINITY;
        for (int w = 0; w < WARPS; ++w)
            M = fmaxf(M, cm[w * 16 + tid]);
        const float mu = M == -INFINITY ? 0.f : M;
        float Lt = 0.f;
        for (int w = 0; w < WARPS; ++w) {
            const float sc = ex2(cm[w * 16 + tid] - mu);
            csc[w * 16 + tid] = sc;
            Lt += cl[w * 16 + tid] * sc;
        }
        cinv[tid] = Lt > 0.f ? 1.f / Lt : 0.f;
        clse[tid] = Lt > 0.f ? M + log2f(Lt) : -INFINITY;
    }
    __syncthreads();
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        const int row = h * 8 + g;
        const float sc = csc[warp * 16 + row];
        float *dst = cO + (warp * 16 + row) * D + 2 * c;
#pragma unroll
        for (int nt = 0; nt < NTO; ++nt)
            *reinterpret_cast<float2 *>(dst + nt * 8) = make_float2(o[0][nt][2 * h] * sc, o[0][nt][2 * h + 1] * sc);
    }
    __syncthreads();
    for (int e = tid; e < 16 * D; e += NT) {
        const int row = e / D, d = e % D;
        const long long r = br.r0 + row;
        if (r >= br.rend)
            continue;
        float acc = 0.f;
#pragma unroll
        for (int w = 0; w < WARPS; ++w)
            acc += cO[(w * 16 + row) * D + d];
        acc *= cinv[row];
        if constexpr (CL) {
            clse[16 + e] = acc; /* cP: this block's merged out, read by the whole cluster */
            continue;
        }
        const long long nat = (b * p.Hq + hkv * p.G + r % p.G) * p.Nq + r / p.G;
        if (p.splits == 1)
            static_cast<T *>(p.out)[nat * D + d] = Ty<T>::from_f(acc);
        else
            p.part_o[(nat * p.splits + split) * D + d] = acc;
    }
    if constexpr (CL) {
        /* The splits of one (b, KV head) form a thread-block cluster: merge them through distributed
         * shared memory, no partials in device memory and no second kernel. */
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
        namespace cg = cooperative_groups;
        cg::cluster_group cluster = cg::this_cluster();
        const int cs = (int)cluster.num_blocks();
        const int rank = (int)cluster.block_rank();
        float *cP = clse + 16;     /* [16][D] */
        float *rl = cP + 16 * D;   /* [16 ranks][16 rows] */
        float *rw = rl + 256;      /* weights */
        float *rinv = rw + 256;    /* [16] */
        cluster.sync();
        for (int i = tid; i < cs * 16; i += NT)
            rl[i] = cluster.map_shared_rank(clse, i >> 4)[i & 15];
        __syncthreads();
        if (tid < 16) {
            float M = -INFINITY;
            for (int k = 0; k < cs; ++k)
                M = fmaxf(M, rl[k * 16 + tid]);
            const float mu = M == -INFINITY ? 0.f : M;
            float tot = 0.f;
            for (int k = 0; k < cs; ++k) {
                const float wt = ex2(rl[k * 16 + tid] - mu);
                rw[k * 16 + tid] = wt;
                tot += wt;
            }
            rinv[tid] = tot > 0.f ? 1.f / tot : 0.f;
        }
        __syncthreads();
        for (int e = rank * NT + tid; e < 16 * D; e += cs * NT) {
            const int row = e / D, d = e % D;
            const long long r = br.r0 + row;
            if (r >= br.rend)
                continue;
            float acc = 0.f;
            for (int k = 0; k < cs; ++k)
                acc = fmaf(rw[k * 16 + row], cluster.map_shared_rank(cP, k)[e], acc);
            const long long nat = (b * p.Hq + hkv * p.G + r % p.G) * p.Nq + r / p.G;
            static_cast<T *>(p.out)[nat * D + d] = Ty<T>::from_f(acc * rinv[row]);
        }
        cluster.sync(); /* keep this block's shared memory alive until every rank has read it */
#endif
        return;
    }
    if (p.splits > 1 && tid < 16 && br.r0 + tid < br.rend) {
        const long long r = br.r0 + tid;
        const long long nat = (b * p.Hq + hkv * p.G + r % p.G) * p.Nq + r / p.G;
        p.part_lse[nat * p.splits + split] = clse[tid];
    }
}

/* ------------------------------------------------------------------ generic kernel */

constexpr int kGenWarps = 8, kGenBN = 32;

/* One warp per folded row, eight rows a block sharing each K/V tile (staged in f32); lane j
 * scores key j of the tile, then each lane accumulates its own output dims. */
template <typename T> __global__ void __launch_bounds__(kGenWarps * 32) attn_generic_kernel(const Params p)
{
    constexpr int NT = kGenWarps * 32;
    constexpr int OPL = kMaxGenericD / 32;
    qn_pdl_wait(); /* as in attn_mma_kernel */
    const int D = (int)p.D;
    const int KS = D | 1; /* odd stride: lanes reading K[lane][d] hit distinct banks */
    extern __shared__ __align__(16) unsigned char gsm_raw[];
    float *sq = reinterpret_cast<float *>(gsm_raw); /* [8][D] */
    float *sk = sq + kGenWarps * D;                  /* [32][KS] */
    float *sv = sk + kGenBN * KS;                    /* [32][D] */
    float *sp = sv + kGenBN * D;                     /* [8][32] */

    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const BlockRange br = block_range(p, kGenWarps, kGenBN);
    const long long b = blockIdx.z, hkv = blockIdx.y;
    const long long L = br.L;
    const T *Q = static_cast<const T *>(p.q);
    const T *K = static_cast<const T *>(p.k) + (b * p.Hkv + hkv) * p.Nk * D;
    const T *V = static_cast<const T *>(p.v) + (b * p.Hkv + hkv) * p.Nk * D;

    for (int i = tid; i < kGenWarps * D; i += NT) {
        const int rr = i / D, d = i % D;
        const long long r = br.r0 + rr;
        float x = 0.f;
        if (r < br.rend)
            x = Ty<T>::to_f(Q[((b * p.Hq + hkv * p.G + r % p.G) * p.Nq + r / p.G) * D + d]);
        sq[i] = x;
    }
    const long long r = br.r0 + warp;
    const bool valid = r < br.rend;
    const long long qq = (valid ? r : br.rend - 1) / p.G;
    const long long pos = L - p.Nq + qq;
    const uint8_t *mrow = p.mask ? p.mask + (p.mask_batched ? b * p.Nq * p.Nk : 0) + qq * p.Nk : nullptr;

    float o[OPL];
#pragma unroll
    for (int i = 0; i < OPL; ++i)
        o[i] = 0.f;
    float m = -INFINITY, l = 0.f;

    for (int it = 0; it < br.n; ++it) {
        const long long k0 = (br.t0 + it) * kGenBN;
        __syncthreads();
        for (int i = tid; i < kGenBN * D; i += NT) {
            const int kr = i / D, d = i % D;
            const long long key = k0 + kr;
            float kx = 0.f, vx = 0.f;
            if (key < L) {
                kx = Ty<T>::to_f(K[key * D + d]);
                vx = Ty<T>::to_f(V[key * D + d]);
            }
            sk[kr * KS + d] = kx;
            sv[kr * D + d] = vx;
        }
        __syncthreads();
        const float *qr = sq + warp * D;
        const float *kr = sk + lane * KS;
        float s = 0.f;
        for (int d = 0; d < D; ++d)
            s = fmaf(qr[d], kr[d], s);
        float x = s * p.sl2;
        if (!key_visible(p, (int)k0 + lane, (int)L, (int)pos, mrow))
            x = -INFINITY;
        float mx = x;
#pragma unroll
        for (int off = 16; off > 0; off >>= 1)
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, off));
        const float mnew = fmaxf(m, mx);
        const float muse = mnew == -INFINITY ? 0.f : mnew;
        const float alpha = ex2(m - muse);
        const float pe = ex2(x - muse);
        float sum = pe;
#pragma unroll
        for (int off = 16; off > 0; off >>= 1)
            sum += __shfl_xor_sync(0xffffffffu, sum, off);
        l = l * alpha + sum;
        m = mnew;
        sp[warp * 32 + lane] = pe;
        __syncwarp();
#pragma unroll
        for (int i = 0; i < OPL; ++i) {
            const int d = lane + 32 * i;
            if (d < D) {
                float acc = o[i] * alpha;
                for (int j = 0; j < kGenBN; ++j)
                    acc = fmaf(sp[warp * 32 + j], sv[j * D + d], acc);
                o[i] = acc;
            }
        }
        __syncwarp();
    }
    if (!valid)
        return;
    const long long nat = (b * p.Hq + hkv * p.G + r % p.G) * p.Nq + r / p.G;
    const float inv = l > 0.f ? 1.f / l : 0.f;
    const int split = (int)(blockIdx.x % p.splits);
#pragma unroll
    for (int i = 0; i < OPL; ++i) {
        const int d = lane + 32 * i;
        if (d < D) {
            if (p.splits == 1)
                static_cast<T *>(p.out)[nat * D + d] = Ty<T>::from_f(o[i] * inv);
            else
                p.part_o[(nat * p.splits + split) * D + d] = o[i] * inv;
        }
    }
    if (p.splits > 1 && lane == 0)
        p.part_lse[nat * p.splits + split] = l > 0.f ? m + log2f(l) : -INFINITY;
}

/* ------------------------------------------------------------------ decode-rows kernel */

constexpr int kDecWarps = 8, kDecKU = 4;

/* Output element i (flat over out) as stored, v, into its chunk's int8 codes, both planes: the activation codes of
 * the GEMV after attention (wo), made with the function the quantize kernel and the norms use, on the same stored
 * values, so the same codes. Called by all 32 lanes of a warp for one aligned chunk. */
__device__ __forceinline__ void dec_codes(const Params &p, long long i, float v)
{
    const long long e0 = i & ~31LL;
    qn_ggml_quantize_chunk(v, p.xq + e0, p.dx + e0 / 32, p.sx + e0 / 32, p.xl + e0, p.sl + e0 / 32);
}

/* Decode with at most RM folded rows (a KV head's query heads times Nq) and D = 32 * DL, any of
 * the three dtypes: one block per (split, KV head, batch), its splits a thread-block cluster
 * (sm_90) that merges through distributed shared memory. Each warp takes kDecKU keys at a time
 * (their K and V rows loaded together, one coalesced row per load), every lane DL dims of each;
 * the rows' q stay in registers, pre-scaled by scale * log2(e). The warps merge their (max, sum,
 * out) through shared memory, then the cluster's blocks do. One launch, no scratch, no combine
 * kernel: the generic kernel + split-KV combine took 17.5 + 10.2 us per Gemma layer (H100 ncu,
 * 2026-12-04), on 8 of its 256 threads' rows for 4 query heads. */
template <int DL, int RM> constexpr size_t dec_smem_floats()
{
    return (size_t)kDecWarps * RM * (DL * 32 + 2) + (size_t)RM * (DL * 32 + 2);
}

/* One reduce-scatter step of dec_rs_sum: values [0, H) and [H, 2H) paired across lanes `off` apart (lane bit off
 * keeps the upper half); a template per step so that every index is a constant (w stays in registers). */
template <int N, int H> __device__ __forceinline__ void dec_rs_step(float (&w)[N], int lane)
{
    if constexpr (H >= 1) {
        constexpr int off = 32 * H / N;
        /* bit masks, not ?: on the values, which the front end turns into a select of addresses (w in local memory) */
        const unsigned up = (lane & off) ? 0xffffffffu : 0u;
#pragma unroll
        for (int i = 0; i < H; ++i) {
            const unsigned a = __float_as_uint(w[i]), c = __float_as_uint(w[i + H]);
            const float send = __uint_as_float((a & up) | (c & ~up)), keep = __uint_as_float((c & up) | (a & ~up));
            w[i] = keep + __shfl_xor_sync(0xffffffffu, send, off);
        }
        dec_rs_step<N, H / 2>(w, lane);
    }
}
/* The short form's reduction of a warp's key scores (SH): N = kDecKU * RM partial dot products per lane, summed
 * over the 32 lanes. The butterfly costs 5 shuffles per value (80 for 4 keys x 4 rows, 160 for x 8 rows), and the
 * warp's 8 copies on an SM issue them one per clock; reduce-scatter halves the values at each step (N - 1 shuffles,
 * then log2(32 / N) for the lanes left holding the same value) and a broadcast per value gives every lane the sums:
 * 2N + 1 shuffles (16 values: 33 against 80). Every lane ends with the same bits (each value is taken from one lane). */
template <int N> __device__ __forceinline__ void dec_rs_sum(float (&v)[N], int lane)
{
    static_assert(N >= 1 && N <= 32 && (N & (N - 1)) == 0, "a power of two up to 32 values");
    constexpr int SH = N >= 32 ? 0 : N >= 16 ? 1 : N >= 8 ? 2 : N >= 4 ? 3 : N >= 2 ? 4 : 5;
    float w[N];
#pragma unroll
    for (int i = 0; i < N; ++i)
        w[i] = v[i];
    dec_rs_step<N, N / 2>(w, lane);
    /* the 2^SH lanes left holding the same value */
    if constexpr (SH >= 4)
        w[0] += __shfl_xor_sync(0xffffffffu, w[0], 8);
    if constexpr (SH >= 3)
        w[0] += __shfl_xor_sync(0xffffffffu, w[0], 4);
    if constexpr (SH >= 2)
        w[0] += __shfl_xor_sync(0xffffffffu, w[0], 2);
    if constexpr (SH >= 1)
        w[0] += __shfl_xor_sync(0xffffffffu, w[0], 1);
    if constexpr (SH >= 5)
        w[0] += __shfl_xor_sync(0xffffffffu, w[0], 16);
    /* lane l now holds the sum of value l >> SH */
#pragma unroll
    for (int n = 0; n < N; ++n)
        v[n] = __shfl_sync(0xffffffffu, w[0], n << SH);
}

/* SH (QUANTA_CUDA_DEC_SHORT, cuda_attention_plan.c): the same contract, a shorter chain for decode's fixed cost
 * (its ncu time was ~9 us whatever the key count, 8.8-9.6 over a tg64): q loaded before kv_lens so that both
 * round trips overlap, the key scores reduced by dec_rs_sum, and the cluster merge reading every rank's
 * (max, sum, out) in one distributed-shared-memory round trip instead of two. Instantiated with RM = 4 where a KV
 * head has at most 4 folded rows (7B: Hq 32 / Hkv 8), so no dummy rows' dot products or shuffles. */
template <typename T, int DL, int RM, bool SH = false>
__global__ void __launch_bounds__(kDecWarps * 32) attn_decode_rows_kernel(const Params p)
{
    constexpr int D = DL * 32, NT = kDecWarps * 32;
    if (SH && p.early) {
        /* Launched with PDL (ki.pdl), its blocks sit here while the rope / KV-append kernel before it runs: prefetch
         * this block's K and V rows into L2 meanwhile. Only a hint: kv_lens is read around L1 (__ldcg: no stale line
         * left for the read after the wait) and may be old; the rows are inside the buffers whatever it says, and
         * the append's new row is coherent in L2. Then let the next kernel (wo's GEMV, which loads weights before
         * its own wait) be scheduled: this kernel was the one per layer that never called launch_dependents. */
        const long long bh = blockIdx.z, hh = blockIdx.y;
        long long Lh = p.Nk;
        if (p.kv_lens) {
            const long long l = __ldcg(p.kv_lens + bh);
            Lh = l < 0 ? 0 : (l > p.Nk ? p.Nk : l);
        }
        const int Sh = p.splits, sp = (int)(blockIdx.x % Sh);
        const int per = Lh > 0 ? (int)((Lh + Sh - 1) / Sh) : 0, j0 = sp * per;
        const int j1 = (int)(Lh < (long long)j0 + per ? Lh : (long long)j0 + per);
        constexpr int kLines = (int)(D * sizeof(T) / 128) > 0 ? (int)(D * sizeof(T) / 128) : 1; /* 128-byte lines a row */
        const char *K0 = static_cast<const char *>(p.k) + ((bh * p.Hkv + hh) * p.Nk) * D * (long long)sizeof(T);
        const char *V0 = static_cast<const char *>(p.v) + ((bh * p.Hkv + hh) * p.Nk) * D * (long long)sizeof(T);
        const int n = j1 > j0 ? (j1 - j0) * kLines : 0;
        for (int t = threadIdx.x; t < 2 * n; t += NT) {
            const int t2 = t < n ? t : t - n;
            const char *a = (t < n ? K0 : V0) + ((long long)j0 + t2 / kLines) * D * (long long)sizeof(T) + (t2 % kLines) * 128;
            asm volatile("prefetch.global.L2 [%0];" ::"l"(a));
        }
        qn_pdl_wait();
        qn_pdl_launch();
    } else {
        qn_pdl_wait(); /* as in attn_mma_kernel */
    }
    extern __shared__ __align__(16) unsigned char dsm_raw[];
    float *wo = reinterpret_cast<float *>(dsm_raw); /* [warp][RM][D] */
    float *wml = wo + kDecWarps * RM * D;            /* [warp][RM][2]: max, sum */
    float *bo = wml + kDecWarps * RM * 2;            /* [RM][D]: the block's out (not yet divided) */
    float *bml = bo + RM * D;                        /* [RM][2] */
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const int S = p.splits, split = (int)(blockIdx.x % S);
    const long long b = blockIdx.z, hkv = blockIdx.y;
    const int R = (int)p.rows_fold, G = (int)p.G, Nq = (int)p.Nq;
    const T *Q = static_cast<const T *>(p.q);
    float q[RM][DL];
    if (SH) { /* issued before kv_lens' load, whose value the key range waits on */
#pragma unroll
        for (int r = 0; r < RM; ++r) {
            const int rr = r < R ? r : R - 1;
            const long long qrow = (b * p.Hq + hkv * G + rr % G) * p.Nq + rr / G;
#pragma unroll
            for (int i = 0; i < DL; ++i)
                q[r][i] = r < R ? Ty<T>::to_f(Q[qrow * D + lane + 32 * i]) * p.sl2 : 0.f;
        }
    }
    long long Lr = p.Nk;
    if (p.kv_lens) {
        const long long l = p.kv_lens[b];
        Lr = l < 0 ? 0 : (l > p.Nk ? p.Nk : l);
    }
    const int L = (int)Lr, pmin = L - Nq, pmax = L - Nq + (R - 1) / G;
    int lo = 0, hi = L;
    if (p.causal && hi > pmax + 1)
        hi = pmax + 1;
    if (p.window > 0 && lo < pmin - p.window + 1)
        lo = pmin - p.window + 1;
    const int per = hi > lo ? (hi - lo + S - 1) / S : 0;
    const int k0 = lo + split * per, k1 = min(hi, k0 + per);
    const T *K = static_cast<const T *>(p.k) + (b * p.Hkv + hkv) * p.Nk * D;
    const T *V = static_cast<const T *>(p.v) + (b * p.Hkv + hkv) * p.Nk * D;

    float o[RM][DL], m[RM], l[RM];
    int pos[RM];
    const uint8_t *mrow[RM];
#pragma unroll
    for (int r = 0; r < RM; ++r) {
        const int rr = r < R ? r : R - 1;
        const long long qrow = (b * p.Hq + hkv * G + rr % G) * p.Nq + rr / G;
#pragma unroll
        for (int i = 0; i < DL; ++i) {
            if (!SH)
                q[r][i] = r < R ? Ty<T>::to_f(Q[qrow * D + lane + 32 * i]) * p.sl2 : 0.f;
            o[r][i] = 0.f;
        }
        m[r] = -INFINITY, l[r] = 0.f;
        pos[r] = L - Nq + rr / G;
        mrow[r] = p.mask ? p.mask + (p.mask_batched ? b * p.Nq * p.Nk : 0) + (long long)(rr / G) * p.Nk : nullptr;
    }

    for (int j0 = k0 + warp * kDecKU; j0 < k1; j0 += kDecWarps * kDecKU) {
        float kr[kDecKU][DL], vr[kDecKU][DL];
#pragma unroll
        for (int u = 0; u < kDecKU; ++u) {
            const bool in = j0 + u < k1;
#pragma unroll
            for (int i = 0; i < DL; ++i) {
                kr[u][i] = in ? Ty<T>::to_f(K[(long long)(j0 + u) * D + lane + 32 * i]) : 0.f;
                vr[u][i] = in ? Ty<T>::to_f(V[(long long)(j0 + u) * D + lane + 32 * i]) : 0.f;
            }
        }
        float sc[kDecKU][RM];
#pragma unroll
        for (int u = 0; u < kDecKU; ++u)
#pragma unroll
            for (int r = 0; r < RM; ++r) {
                float t = 0.f;
#pragma unroll
                for (int i = 0; i < DL; ++i)
                    t = fmaf(q[r][i], kr[u][i], t);
                sc[u][r] = t;
            }
        if (SH) {
            float v[kDecKU * RM];
#pragma unroll
            for (int u = 0; u < kDecKU; ++u)
#pragma unroll
                for (int r = 0; r < RM; ++r)
                    v[u * RM + r] = sc[u][r];
            dec_rs_sum<kDecKU * RM>(v, lane);
#pragma unroll
            for (int u = 0; u < kDecKU; ++u)
#pragma unroll
                for (int r = 0; r < RM; ++r)
                    sc[u][r] = v[u * RM + r];
        } else {
#pragma unroll
            for (int off = 16; off > 0; off >>= 1)
#pragma unroll
                for (int u = 0; u < kDecKU; ++u)
#pragma unroll
                    for (int r = 0; r < RM; ++r)
                        sc[u][r] += __shfl_xor_sync(0xffffffffu, sc[u][r], off);
        }
#pragma unroll
        for (int r = 0; r < RM; ++r) {
            if (r >= R)
                continue;
            float mx = m[r];
#pragma unroll
            for (int u = 0; u < kDecKU; ++u) {
                if (j0 + u >= k1 || !key_visible(p, j0 + u, L, pos[r], mrow[r]))
                    sc[u][r] = -INFINITY;
                mx = fmaxf(mx, sc[u][r]);
            }
            const float muse = mx == -INFINITY ? 0.f : mx;
            const float alpha = ex2(m[r] - muse);
            float pe[kDecKU], sum = 0.f;
#pragma unroll
            for (int u = 0; u < kDecKU; ++u) {
                pe[u] = ex2(sc[u][r] - muse);
                sum += pe[u];
            }
            l[r] = l[r] * alpha + sum;
            m[r] = mx;
#pragma unroll
            for (int i = 0; i < DL; ++i) {
                float acc = o[r][i] * alpha;
#pragma unroll
                for (int u = 0; u < kDecKU; ++u)
                    acc = fmaf(pe[u], vr[u][i], acc);
                o[r][i] = acc;
            }
        }
    }

    /* the warps' partials, merged by the block */
#pragma unroll
    for (int r = 0; r < RM; ++r) {
#pragma unroll
        for (int i = 0; i < DL; ++i)
            wo[(warp * RM + r) * D + lane + 32 * i] = o[r][i];
        if (lane == 0)
            wml[(warp * RM + r) * 2] = m[r], wml[(warp * RM + r) * 2 + 1] = l[r];
    }
    __syncthreads();
    for (int e = tid; e < R * D; e += NT) {
        const int r = e / D, d = e % D;
        float M = -INFINITY;
#pragma unroll
        for (int w = 0; w < kDecWarps; ++w)
            M = fmaxf(M, wml[(w * RM + r) * 2]);
        const float mu = M == -INFINITY ? 0.f : M;
        float acc = 0.f, tot = 0.f;
#pragma unroll
        for (int w = 0; w < kDecWarps; ++w) {
            const float wt = ex2(wml[(w * RM + r) * 2] - mu);
            acc = fmaf(wt, wo[(w * RM + r) * D + d], acc);
            tot = fmaf(wt, wml[(w * RM + r) * 2 + 1], tot);
        }
        bo[r * D + d] = acc;
        if (d == 0)
            bml[r * 2] = M, bml[r * 2 + 1] = tot;
    }
    __syncthreads();
    if (S == 1) {
        for (int e = tid; e < R * D; e += NT) {
            const int r = e / D, d = e % D;
            const float tot = bml[r * 2 + 1];
            const long long nat = (b * p.Hq + hkv * G + r % G) * p.Nq + r / G;
            const T y = Ty<T>::from_f(tot > 0.f ? bo[e] / tot : 0.f);
            static_cast<T *>(p.out)[nat * D + d] = y;
            if (p.xq) /* warp-uniform: a warp's 32 e are one aligned chunk of one row (D % 32 == 0) */
                dec_codes(p, nat * D + d, Ty<T>::to_f(y));
        }
        return;
    }
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    /* the cluster's blocks (the splits of this KV head) merged through distributed shared memory;
     * each rank writes its share of the outputs */
    namespace cg = cooperative_groups;
    cg::cluster_group cluster = cg::this_cluster();
    constexpr int kDecMaxCluster = 8; /* the decode-rows plan's most splits (cuda_attention_plan.c) */
    const int cs = (int)cluster.num_blocks(), rank = (int)cluster.block_rank();
    cluster.sync();
    for (int e = rank * NT + tid; e < R * D; e += cs * NT) {
        const int r = e / D;
        if (SH) { /* every rank's three values loaded before any is used (the plan keeps cs <= kDecMaxCluster) */
            float mk[kDecMaxCluster], lk[kDecMaxCluster], ok[kDecMaxCluster];
#pragma unroll
            for (int k = 0; k < kDecMaxCluster; ++k)
                if (k < cs) {
                    const float *ml = cluster.map_shared_rank(bml, k);
                    mk[k] = ml[r * 2], lk[k] = ml[r * 2 + 1], ok[k] = cluster.map_shared_rank(bo, k)[e];
                }
            float M = -INFINITY;
#pragma unroll
            for (int k = 0; k < kDecMaxCluster; ++k)
                if (k < cs)
                    M = fmaxf(M, mk[k]);
            const float mu = M == -INFINITY ? 0.f : M;
            float acc = 0.f, tot = 0.f;
#pragma unroll
            for (int k = 0; k < kDecMaxCluster; ++k)
                if (k < cs) {
                    const float wt = ex2(mk[k] - mu);
                    acc = fmaf(wt, ok[k], acc);
                    tot = fmaf(wt, lk[k], tot);
                }
            const long long nat = (b * p.Hq + hkv * G + r % G) * p.Nq + r / G;
            const T y = Ty<T>::from_f(tot > 0.f ? acc / tot : 0.f);
            static_cast<T *>(p.out)[nat * D + (e % D)] = y;
            if (p.xq)
                dec_codes(p, nat * D + (e % D), Ty<T>::to_f(y));
            continue;
        }
        float M = -INFINITY;
        for (int k = 0; k < cs; ++k)
            M = fmaxf(M, cluster.map_shared_rank(bml, k)[r * 2]);
        const float mu = M == -INFINITY ? 0.f : M;
        float acc = 0.f, tot = 0.f;
        for (int k = 0; k < cs; ++k) {
            const float *ml = cluster.map_shared_rank(bml, k);
            const float wt = ex2(ml[r * 2] - mu);
            acc = fmaf(wt, cluster.map_shared_rank(bo, k)[e], acc);
            tot = fmaf(wt, ml[r * 2 + 1], tot);
        }
        const long long nat = (b * p.Hq + hkv * G + r % G) * p.Nq + r / G;
        const T y = Ty<T>::from_f(tot > 0.f ? acc / tot : 0.f);
        static_cast<T *>(p.out)[nat * D + (e % D)] = y;
        if (p.xq) /* warp-uniform, as above: e runs in whole warps over chunks of 32 */
            dec_codes(p, nat * D + (e % D), Ty<T>::to_f(y));
    }
    cluster.sync(); /* keep this block's shared memory alive until every rank has read it */
#endif
}

/* ------------------------------------------------------------------ split-KV combine */

/* One warp per output row: out = sum_s 2^(lse_s - M) o_s / sum_s 2^(lse_s - M). */
template <typename T>
__global__ void __launch_bounds__(128)
    attn_combine_kernel(const float *po, const float *plse, T *out, long long rows, int splits, int D)
{
    __shared__ float wts[4][kMaxSplits];
    const int w = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const long long row = (long long)blockIdx.x * 4 + w;
    if (row >= rows)
        return;
    const float *ls = plse + row * splits;
    float M = -INFINITY;
    for (int s = lane; s < splits; s += 32)
        M = fmaxf(M, ls[s]);
#pragma unroll
    for (int off = 16; off > 0; off >>= 1)
        M = fmaxf(M, __shfl_xor_sync(0xffffffffu, M, off));
    const float mu = M == -INFINITY ? 0.f : M;
    float tot = 0.f;
    for (int s = lane; s < splits; s += 32) {
        const float wt = ex2(ls[s] - mu);
        wts[w][s] = wt;
        tot += wt;
    }
#pragma unroll
    for (int off = 16; off > 0; off >>= 1)
        tot += __shfl_xor_sync(0xffffffffu, tot, off);
    __syncwarp();
    const float inv = tot > 0.f ? 1.f / tot : 0.f;
    const float *pr = po + row * splits * D;
    for (int d = lane; d < D; d += 32) {
        float acc = 0.f;
        for (int s = 0; s < splits; ++s)
            acc = fmaf(wts[w][s], pr[(long long)s * D + d], acc);
        out[row * D + d] = Ty<T>::from_f(acc * inv);
    }
}

/* ------------------------------------------------------------------ host side: the kernels' descriptions
 * and their launch (which kernel and how many splits: engine/cuda/cuda_attention_plan.c) */

typedef qn_cuda_attn_kernel KernelInfo;

template <typename T, int D, int WARPS, int MT, int BN, int STAGES, bool QREG, bool SPLITN, int BNC = 0,
          bool CL = false>
KernelInfo mma_info()
{
    using C = MmaCfg<T, D, WARPS, MT, BN, STAGES, QREG, SPLITN, BNC, CL>;
    KernelInfo ki;
    ki.fn = reinterpret_cast<const void *>(&attn_mma_kernel<T, D, WARPS, MT, BN, STAGES, QREG, SPLITN, BNC, CL>);
    ki.cluster = CL ? 1 : 0;
    ki.codes = 0;
    ki.pdl = 0;
    ki.threads = WARPS * 32;
    ki.rb = C::RB;
    ki.bn = BN;
    ki.smem = C::smem;
    ki.smem_max = C::smem;
    return ki;
}

size_t generic_smem(int D)
{
    return ((size_t)kGenWarps * D + (size_t)kGenBN * (D | 1) + (size_t)kGenBN * D + kGenWarps * 32) * 4;
}

template <typename T> KernelInfo generic_info(int D)
{
    KernelInfo ki;
    ki.fn = reinterpret_cast<const void *>(&attn_generic_kernel<T>);
    ki.threads = kGenWarps * 32;
    ki.rb = kGenWarps;
    ki.bn = kGenBN;
    ki.smem = generic_smem(D);
    ki.smem_max = generic_smem(kMaxGenericD);
    ki.cluster = 0;
    ki.codes = 0;
    ki.pdl = 0;
    return ki;
}

/* The decode-rows kernel for D = 64, 96, 128 (up to 8 folded rows) and 256 (up to 4). Launched as
 * clusters of its splits where the device has them (cluster = 1; the plan falls back to one split
 * without). */
template <typename T, int DL, int RM, bool SH = false> KernelInfo decode_rows_info_of()
{
    KernelInfo ki;
    ki.fn = reinterpret_cast<const void *>(&attn_decode_rows_kernel<T, DL, RM, SH>);
    ki.threads = kDecWarps * 32;
    ki.rb = RM;
    ki.bn = kDecWarps * kDecKU;
    ki.smem = dec_smem_floats<DL, RM>() * 4;
    ki.smem_max = ki.smem;
    ki.cluster = 1;
    ki.codes = 1;
    ki.pdl = SH ? 1 : 0;
    return ki;
}
template <typename T> bool decode_rows_info(int D, KernelInfo *ki)
{
    switch (D) {
    case 64: *ki = decode_rows_info_of<T, 2, 8>(); return true;
    case 96: *ki = decode_rows_info_of<T, 3, 8>(); return true;
    case 128: *ki = decode_rows_info_of<T, 4, 8>(); return true;
    case 256: *ki = decode_rows_info_of<T, 8, 4>(); return true;
    default: return false;
    }
}
/* The short form (SH) for at most 4 folded rows: QN_CUDA_ATTN_DECODE_ROWS_SHORT. */
template <typename T> bool decode_rows_short_info(int D, KernelInfo *ki)
{
    switch (D) {
    case 64: *ki = decode_rows_info_of<T, 2, 4, true>(); return true;
    case 96: *ki = decode_rows_info_of<T, 3, 4, true>(); return true;
    case 128: *ki = decode_rows_info_of<T, 4, 4, true>(); return true;
    case 256: *ki = decode_rows_info_of<T, 8, 4, true>(); return true;
    default: return false;
    }
}

/* Head dim 256 on the tensor-core prefill kernel (Gemma 3): on by default since the H100 run of 2026-12-05 16:35
 * (conformance passed, Gemma pp512 +17%); QUANTA_CUDA_ATTN_PREFILL_256=0 keeps such calls on the generic kernel.
 * Read once. */
static bool prefill_256_on()
{
    static int on = -1;
    if (on < 0) {
        const char *e = getenv("QUANTA_CUDA_ATTN_PREFILL_256");
        on = !(e && !strcmp(e, "0")); /* on by default since its H100 run: conformance passed, Gemma pp512 +17% */
    }
    return on == 1;
}

/* The tuned shapes: prefill (each warp owns its rows) and decode (warps split the keys). */
template <typename T> bool prefill_info(int D, KernelInfo *ki)
{
    switch (D) {
    case 64: *ki = mma_info<T, 64, 4, 2, 128, 2, true, false, 64>(); return true;
    case 80: *ki = mma_info<T, 80, 4, 1, 64, 2, true, false>(); return true;
    case 96: *ki = mma_info<T, 96, 4, 1, 64, 2, true, false>(); return true;
    case 128: *ki = mma_info<T, 128, 4, 2, 64, 2, false, false>(); return true;
    /* 64 query rows, 32 keys a step: O holds 128 f32 per lane; ~100 KB of shared memory */
    case 256:
        if (!prefill_256_on()) return false;
        *ki = mma_info<T, 256, 4, 1, 32, 2, false, false>();
        return true;
    default: return false;
    }
}
template <typename T> bool decode_cluster_info(int D, KernelInfo *ki)
{
    switch (D) {
    case 64: *ki = mma_info<T, 64, 4, 1, 64, 3, true, true, 0, true>(); return true;
    case 80: *ki = mma_info<T, 80, 4, 1, 64, 3, true, true, 0, true>(); return true;
    case 96: *ki = mma_info<T, 96, 4, 1, 64, 3, true, true, 0, true>(); return true;
    case 128: *ki = mma_info<T, 128, 4, 1, 128, 2, true, true, 0, true>(); return true;
    default: return false;
    }
}
template <typename T> bool decode_info(int D, KernelInfo *ki)
{
    switch (D) {
    case 64: *ki = mma_info<T, 64, 4, 1, 64, 3, true, true>(); return true;
    case 80: *ki = mma_info<T, 80, 4, 1, 64, 3, true, true>(); return true;
    case 96: *ki = mma_info<T, 96, 4, 1, 64, 3, true, true>(); return true;
    case 128: *ki = mma_info<T, 128, 4, 1, 128, 2, true, true>(); return true;
    default: return false;
    }
}

/* Programmatic dependent launch of the attention kernels (as qn_launch does for the others): the grid may be
 * scheduled while the kernel before it finishes (decode: the rope / KV append), its blocks waiting in
 * qn_pdl_wait, so the launch gap overlaps that kernel's tail. QUANTA_CUDA_ATTN_PDL=1 turns it on (off until a device
 * run has checked a cluster launch with the attribute), and then only where the backend's PDL is on (sm_90 and
 * QUANTA_CUDA_PDL not 0). */
bool attn_pdl_on()
{
    static std::atomic<int> on{-1};
    int v = on.load(std::memory_order_relaxed);
    if (v < 0) {
        const char *e = getenv("QUANTA_CUDA_ATTN_PDL");
        v = e && !strcmp(e, "1");
        on.store(v, std::memory_order_relaxed);
    }
    return v == 1 && qn_cuda_pdl_on;
}

void set_err(char *err, size_t len, const char *what, cudaError_t e)
{
    if (err && len)
        snprintf(err, len, "qn_cuda_attention: %s: %s (%d)", what, cudaGetErrorString(e), (int)e);
}

int launch(const qn_cuda_attention_args *a, const KernelInfo *k, long long mblocks, int splits, char *err,
           size_t err_len)
{
    if (err && err_len)
        err[0] = '\0';
    cudaStream_t stream = static_cast<cudaStream_t>(a->stream);
    cudaError_t e;
    Params p;
    memset(&p, 0, sizeof(p));
    p.q = a->q;
    p.k = a->k;
    p.v = a->v;
    p.mask = a->mask;
    p.kv_lens = a->kv_lens;
    p.out = a->out;
    p.B = a->B;
    p.Hq = a->Hq;
    p.Hkv = a->Hkv;
    p.Nq = a->Nq;
    p.Nk = a->Nk;
    p.D = a->D;
    p.G = a->Hq / a->Hkv;
    p.rows_fold = p.G * a->Nq;
    p.mask_batched = a->mask_batched;
    p.causal = a->causal;
    p.window = a->window;
    p.splits = splits;
    p.sl2 = a->scale * 1.4426950408889634f;
    p.early = k->pdl;
    if (a->xq_done)
        *a->xq_done = 0;
    /* out's int8 codes: only the decode-rows kernel makes them, and only where out's rows hold whole chunks */
    const bool codes = a->xq && k->codes && a->D % 32 == 0;
    if (codes) {
        p.xq = a->xq, p.xl = a->xl, p.dx = a->dx, p.sx = a->sx, p.sl = a->sl;
    }
    const long long rows = a->B * a->Hq * a->Nq;
    if (splits > 1 && !k->cluster) {
        p.part_o = static_cast<float *>(a->scratch);
        p.part_lse = p.part_o + (size_t)rows * splits * a->D;
    }
    dim3 grid((unsigned)(mblocks * splits), (unsigned)a->Hkv, (unsigned)a->B);
    void *args[] = {&p};
    cudaLaunchConfig_t cfg = {};
    cudaLaunchAttribute at[2] = {};
    unsigned n_at = 0;
    if (k->cluster) {
        at[n_at].id = cudaLaunchAttributeClusterDimension;
        at[n_at].val.clusterDim.x = (unsigned)splits;
        at[n_at].val.clusterDim.y = 1;
        at[n_at].val.clusterDim.z = 1;
        n_at++;
    }
    if (attn_pdl_on() || (k->pdl && qn_cuda_pdl_on)) { /* every kernel launched here waits (qn_pdl_wait) before it
                                                         reads anything the step writes */
        at[n_at].id = cudaLaunchAttributeProgrammaticStreamSerialization;
        at[n_at].val.programmaticStreamSerializationAllowed = 1;
        n_at++;
    }
    cfg.gridDim = grid;
    cfg.blockDim = dim3((unsigned)k->threads, 1, 1);
    cfg.dynamicSmemBytes = k->smem;
    cfg.stream = stream;
    cfg.attrs = at;
    cfg.numAttrs = n_at;
    e = cudaLaunchKernelExC(&cfg, k->fn, args);
    if (e == cudaSuccess)
        e = cudaGetLastError();
    if (e != cudaSuccess) {
        (void)cudaGetLastError(); /* a launch error is not sticky: leave no stale error behind */
        set_err(err, err_len, "launching the attention kernel", e);
        return (int)e;
    }
    if (codes && a->xq_done && (splits == 1 || k->cluster))
        *a->xq_done = 1; /* the kernel itself wrote out (no combine after it) */
    if (splits > 1 && !k->cluster) {
        const unsigned cblocks = (unsigned)((rows + 3) / 4);
        if (a->dtype == kF32)
            attn_combine_kernel<float><<<cblocks, 128, 0, stream>>>(p.part_o, p.part_lse, static_cast<float *>(a->out),
                                                                    rows, splits, (int)a->D);
        else if (a->dtype == kF16)
            attn_combine_kernel<__half><<<cblocks, 128, 0, stream>>>(p.part_o, p.part_lse,
                                                                     static_cast<__half *>(a->out), rows, splits,
                                                                     (int)a->D);
        else
            attn_combine_kernel<__nv_bfloat16><<<cblocks, 128, 0, stream>>>(
                p.part_o, p.part_lse, static_cast<__nv_bfloat16 *>(a->out), rows, splits, (int)a->D);
        e = cudaGetLastError();
        if (e != cudaSuccess) {
            (void)cudaGetLastError();
            set_err(err, err_len, "launching the split-KV combine", e);
            return (int)e;
        }
    }
    return 0;
}

/* The tensor-core families (f16/bf16 only). */
template <typename T> bool mma_kernel_of(int family, int D, KernelInfo *ki)
{
    switch (family) {
    case QN_CUDA_ATTN_PREFILL: return prefill_info<T>(D, ki);
    case QN_CUDA_ATTN_DECODE: return decode_info<T>(D, ki);
    case QN_CUDA_ATTN_DECODE_CLUSTER: return decode_cluster_info<T>(D, ki);
    case QN_CUDA_ATTN_PREFILL_ROWS64:
        /* short causal rows at hd64: 64-row blocks waste less on the diagonal (H200 2026-11-28:
         * N=1024 170 vs 154 TFLOP/s; at N=4096 the 128-row blocks win, 237 vs 217) */
        if (D != 64)
            return false;
        *ki = mma_info<T, 64, 4, 1, 64, 2, true, false>();
        return true;
    default: return false;
    }
}

} // namespace

extern "C" int qn_cuda_attn_kernel_of(int family, int dtype, int D, qn_cuda_attn_kernel *out)
{
    if (D < 1 || D > kMaxGenericD)
        return 0;
    if (family == QN_CUDA_ATTN_DECODE_ROWS) {
        if (dtype == kF32)
            return decode_rows_info<float>(D, out) ? 1 : 0;
        if (dtype == kF16)
            return decode_rows_info<__half>(D, out) ? 1 : 0;
        if (dtype == kBF16)
            return decode_rows_info<__nv_bfloat16>(D, out) ? 1 : 0;
        return 0;
    }
    if (family == QN_CUDA_ATTN_DECODE_ROWS_SHORT) {
        if (dtype == kF32)
            return decode_rows_short_info<float>(D, out) ? 1 : 0;
        if (dtype == kF16)
            return decode_rows_short_info<__half>(D, out) ? 1 : 0;
        if (dtype == kBF16)
            return decode_rows_short_info<__nv_bfloat16>(D, out) ? 1 : 0;
        return 0;
    }
    if (family == QN_CUDA_ATTN_GENERIC) {
        if (dtype == kF32)
            *out = generic_info<float>(D);
        else if (dtype == kF16)
            *out = generic_info<__half>(D);
        else if (dtype == kBF16)
            *out = generic_info<__nv_bfloat16>(D);
        else
            return 0;
        return 1;
    }
    if (dtype == kF16)
        return mma_kernel_of<__half>(family, D, out) ? 1 : 0;
    if (dtype == kBF16)
        return mma_kernel_of<__nv_bfloat16>(family, D, out) ? 1 : 0;
    return 0;
}

extern "C" int qn_cuda_attn_launch(const qn_cuda_attention_args *a, const qn_cuda_attn_kernel *k, long long mblocks,
                                   int splits, char *err, size_t err_len)
{
    return launch(a, k, mblocks, splits, err, err_len);
}
