/* ggml_mmq.cuh — what the two tensor-core GEMMs on ggml-block weights share: ggml_mmq.cu (the entry
 * qn_cuda_ggml_mmq, the activation prep, and the kernel that decodes each block tile into an f16 stage in
 * shared memory) and ggml_mmq_frag.cu (the kernel that decodes the staged raw bytes straight into mma
 * fragments in registers). Both take the same f16 activations and give the same f16 weight values. */
#ifndef QUANTA_KERNELS_CUDA_GGML_MMQ_CUH
#define QUANTA_KERNELS_CUDA_GGML_MMQ_CUH

#include <stdlib.h>
#include <string.h>

#include "cp_async.cuh"
#include "ggml_blocks.cuh"
#include "mma_f16.cuh"
#include "ggml_xslab.cuh"

#define QN_GMMQ_BK 64                   /* K per pipeline step: two chunks of 32 per weight row */
#define QN_GMMQ_PITCH (QN_GMMQ_BK + 8) /* halves per shared activation row (16 bytes of padding) */

struct qn_gmmq_args {
    const uint8_t *w;
    size_t rb; /* bytes per weight row */
    int64_t N, K, M, Kp;
    const __half *xh;     /* [M][Kp] f16, scaled rows, zero past K */
    const float *xscale;  /* [M]: the inverse of each row's power of two */
    int xnb;              /* =17: the token tile of xh's tiled layout (qn_gmmq_prep_xt's nb), a multiple of the
                           * kernel's; 0: the kernel's own (mmq17: a prep kept for the next GEMM on the same x is
                           * laid out in 256-token tiles, and a 64- or 128-token tile is a contiguous part of one) */
    int yd;
    void *y;
    int epi; /* =17 (mmq20, QUANTA_CUDA_GGML_EPI, ggml_mmq_rsi_wg.cu): 0 as before; bit 1 its kernels with the
              * qn_gmmq_store_h epilogue, a split's reduce launched early; 2 every grid lets its dependents launch at
              * its epilogue; 4 the first copies in the consumers' order; 8 (host only) the default's rule */
    const uint8_t *wt; /* mmq24 (QUANTA_CUDA_GGML_TLIN): w's tile-linear copy (qn_cuda_ggml_tlin_pack), or null */
    unsigned long long *trace; /* mmq24: the trace instances' records (qn_cuda_ggml_mmq_trace), or null */
};

/* 4-byte asynchronous copy of n (0..4) bytes, the rest of the word zero-filled. */
__device__ __forceinline__ void qn_gmmq_cp4(uint32_t dst, const void *src, int n) {
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(dst), "l"(src), "r"(n) : "memory");
}

/* A row's raw bytes per 64-wide step: two 32-element blocks, or the 256-element superblock that
 * holds the step (staged again for each of its four steps: simpler than keeping it, and L1/L2 serve
 * the repeats). Staged as whole 4-byte words from the word holding the span's first byte: blocks are
 * only 2-byte aligned in most formats, and the decoder reads from that byte on. */
template <int DT> struct qn_gmmq_raw {
    static constexpr int bb = qn_ggml_block_bytes(DT);
    static constexpr bool super = qn_ggml_block_elems(DT) == 256;
    static constexpr int span = super ? bb : 2 * bb;
    static constexpr int words = (span + 3) / 4 + 1; /* a span starting 2 bytes into a word */
    /* The byte offset in W of row n's span at step kt. */
    static __device__ __forceinline__ size_t at(size_t rb, int64_t n, int64_t kt) { return (size_t)n * rb + koff(kt); }
    /* The byte offset of step kt's span within a row. */
    static __device__ __forceinline__ size_t koff(int64_t kt) { return (size_t)(super ? (kt >> 2) : 2 * kt) * bb; }
};

/* 4-byte asynchronous copies of a BN-row tile's raw words of one step into a stage (rows of Raw::words
 * words), by T threads: word wd of tile row r for i = tid + v T = r W + wd, consecutive threads on
 * consecutive words of a row. Where a thread has few (the 32-element formats: 5 to 9 at 128 rows and 256
 * threads) their row's byte offset + 4 wd is kept (a row past N: far past the weight, so nothing is
 * read); each step adds its offset in the row. Words past the weight's end are zero-filled. */
template <int DT, int BN, int T> struct qn_gmmq_rawcopy {
    typedef qn_gmmq_raw<DT> Raw;
    static constexpr int rwords = BN * Raw::words, NV = (rwords + T - 1) / T;
    static constexpr bool keep = NV <= 10;
    size_t wbase[keep ? NV : 1];

    __device__ __forceinline__ qn_gmmq_rawcopy(const qn_gmmq_args &p, int64_t n0, int tid) {
        constexpr size_t past = ~(size_t)0 >> 2;
        if (keep) {
#pragma unroll
            for (int v = 0; v < NV; v++) {
                const int i = tid + v * T, r = i / Raw::words, wd = i - r * Raw::words;
                wbase[v] = n0 + r < p.N ? (size_t)(n0 + r) * p.rb + 4 * (size_t)wd : past;
            }
        }
    }
    __device__ __forceinline__ void issue(uint32_t *dst, const qn_gmmq_args &p, int64_t n0, int tid, int64_t kt,
                                          size_t wbytes) const {
        const size_t koff = Raw::koff(kt);
        if (keep) {
#pragma unroll
            for (int v = 0; v < NV; v++) {
                const int i = tid + v * T;
                if (rwords % T && i >= rwords) break;
                const size_t a = (wbase[v] + koff) & ~(size_t)3;
                const int nb = a >= wbytes ? 0 : wbytes - a >= 4 ? 4 : (int)(wbytes - a);
                qn_gmmq_cp4(qn_smem_u32(dst + i), p.w + (nb ? a : 0), nb);
            }
        } else {
            for (int i = tid; i < rwords; i += T) {
                const int r = i / Raw::words, wd = i - r * Raw::words;
                const int64_t n = n0 + r;
                size_t a = 0;
                int nb = 0;
                if (n < p.N) {
                    a = (((size_t)n * p.rb + koff) & ~(size_t)3) + 4 * (size_t)wd;
                    nb = a >= wbytes ? 0 : wbytes - a >= 4 ? 4 : (int)(wbytes - a);
                }
                qn_gmmq_cp4(qn_smem_u32(dst + i), p.w + (nb ? a : 0), nb);
            }
        }
    }
};

/* The lane's A fragments of one 16-row tile for the two k16 halves of a chunk, from the codes and scales
 * of its rows g (r0) and g+8 (r1): fragment kk holds (row g, k 2t..2t+1), (g+8, same), (g, 8+2t..),
 * (g+8, 8+2t..). */
template <int DT>
__device__ __forceinline__ void qn_gfrag_to_f16(const uint32_t u0[2], const float d0[2], const float m0[2],
                                                const uint32_t u1[2], const float d1[2], const float m1[2],
                                                uint32_t a[2][4]) {
    if (DT == QN_DT_GGML_Q4_0 || DT == QN_DT_GGML_Q5_0 || DT == QN_DT_GGML_Q8_0) {
        /* q + 1152 built in the f16 bits (0x64 over the biased byte = 1024 + q + 128), minus 1152
         * exactly, times d (an f16 value) in f16: the exact product rounded once */
        const __half2 off = __half2half2(__ushort_as_half((unsigned short)0x6480));
        const __half2 e0 = __float2half2_rn(d0[0]), e1 = __float2half2_rn(d1[0]);
#pragma unroll
        for (int kk = 0; kk < 2; kk++) {
            a[kk][0] = qn_h2u(__hmul2(__hsub2(qn_u2h(__byte_perm(u0[kk], 0x64646464u, 0x4140)), off), e0));
            a[kk][1] = qn_h2u(__hmul2(__hsub2(qn_u2h(__byte_perm(u1[kk], 0x64646464u, 0x4140)), off), e1));
            a[kk][2] = qn_h2u(__hmul2(__hsub2(qn_u2h(__byte_perm(u0[kk], 0x64646464u, 0x4342)), off), e0));
            a[kk][3] = qn_h2u(__hmul2(__hsub2(qn_u2h(__byte_perm(u1[kk], 0x64646464u, 0x4342)), off), e1));
        }
    } else {
        /* (float)q from 2^23 + (q + 128) in the f32 bits, then the reference's multiply and add */
#pragma unroll
        for (int kk = 0; kk < 2; kk++) {
#pragma unroll
            for (int r = 0; r < 2; r++) {
                const uint32_t uu = r ? u1[kk] : u0[kk];
                const float d = r ? d1[kk] : d0[kk], m = r ? m1[kk] : m0[kk];
                float v[4];
#pragma unroll
                for (int b = 0; b < 4; b++) {
                    const float q = __int_as_float((int)__byte_perm(uu, 0x4B000000u, 0x7540u + b)) - 8388736.0f;
                    v[b] = __fadd_rn(__fmul_rn(q, d), m);
                }
                a[kk][r] = qn_h2u(__floats2half2_rn(v[0], v[1]));
                a[kk][2 + r] = qn_h2u(__floats2half2_rn(v[2], v[3]));
            }
        }
    }
}

/* The chunk's 32 weights (ggml_mmq.cu's stage, ggml_mmq_ws_wg.cu's producers) as 16 f16 pairs in element order (h[i] = elements 2i, 2i+1), each
 * (float)q * d + m rounded once to f16, or zeros for a chunk outside the weight.
 * Q4_0 / Q5_0 / Q8_0 (m = 0, d an f16 value): q + 1152 built in the f16 bits (byte_perm into
 * 0x64xx = 1024 + (q ^ 0x80)), minus 1152 exactly, times d in f16: the exact product rounded
 * once, the same value as the f32 route. Others: (float)q from 2^23 + (q ^ 0x80) in the f32
 * bits, then the reference's multiply and add. */
template <int DT>
__device__ __forceinline__ void qn_gmmq_chunk_f16(const qn_ggml_chunk &ch, bool live, uint32_t h[16]) {
    if (!live) {
#pragma unroll
        for (int i = 0; i < 16; i++) h[i] = 0u;
        return;
    }
    if (DT == QN_DT_GGML_Q4_0 || DT == QN_DT_GGML_Q5_0 || DT == QN_DT_GGML_Q8_0) {
        const __half2 d2 = __float2half2_rn(ch.d[0]);
        const __half2 off = __half2half2(__ushort_as_half((unsigned short)0x6480)); /* 1152 */
#pragma unroll
        for (int i = 0; i < 8; i++) {
            const uint32_t u = (uint32_t)ch.q[i] ^ 0x80808080u;
            h[2 * i] = qn_h2u(__hmul2(__hsub2(qn_u2h(__byte_perm(u, 0x64646464u, 0x4140)), off), d2));
            h[2 * i + 1] = qn_h2u(__hmul2(__hsub2(qn_u2h(__byte_perm(u, 0x64646464u, 0x4342)), off), d2));
        }
    } else {
#pragma unroll
        for (int i = 0; i < 8; i++) {
            const float d = ch.d[i >> 2], m = ch.m[i >> 2];
            const uint32_t u = (uint32_t)ch.q[i] ^ 0x80808080u;
            float v[4];
#pragma unroll
            for (int b = 0; b < 4; b++) {
                const float q = __int_as_float((int)__byte_perm(u, 0x4B000000u, 0x7540u + b)) - 8388736.0f;
                v[b] = __fadd_rn(__fmul_rn(q, d), m);
            }
            h[2 * i] = qn_h2u(__floats2half2_rn(v[0], v[1]));
            h[2 * i + 1] = qn_h2u(__floats2half2_rn(v[2], v[3]));
        }
    }
}

/* The lane's A fragments (a[kk], the two k16 halves) of chunk ci (c: 0 or 1 within the step) for the
 * 16-row tile whose row g is tile row r0 (the lane's rows r0 and r0 + 8), from a raw stage laid out as
 * qn_gmmq_raw (rows of Raw::words words; rshift[h]: where row r0 + 8h starts in its first word, less the
 * step's own shift kshift). Used by ggml_mmq_frag.cu (mma.sync) and ggml_mmq_wg.cu (wgmma: same layout). */
template <int DT>
__device__ __forceinline__ void qn_gfrag_decode16(const uint8_t *raw, int r0, const int rshift[2], int kshift, int64_t ci,
                                                  int c, int t, uint32_t a[2][4]) {
    typedef qn_gmmq_raw<DT> Raw;
    uint32_t u[2][2];
    float d[2][2], m[2][2];
#pragma unroll
    for (int h = 0; h < 2; h++) {
        const uint8_t *rowb = raw + (r0 + 8 * h) * (4 * Raw::words) + ((rshift[h] + kshift) & 3);
        qn_ggml_load_frag<DT>(rowb, Raw::super ? (ci & 7) : c, t, u[h], d[h], m[h]);
    }
    qn_gfrag_to_f16<DT>(u[0], d[0], m[0], u[1], d[1], m[1], a);
}

/* A warp's (16 MI rows) x (8 NT tokens) of sums to y, times each token's x scale: row n = n_w + 16 i + g + 8 hh,
 * token m = m_w + 8 j + 2 t + c holds acc[i][j][2 hh + c] (the m16n8 accumulator layout). */
template <int MI, int NT>
__device__ __forceinline__ void qn_gmmq_store(const qn_gmmq_args &p, const float (&acc)[MI][NT][4], int64_t n_w,
                                              int64_t m_w, int g, int t) {
#pragma unroll
    for (int i = 0; i < MI; i++) {
#pragma unroll
        for (int hh = 0; hh < 2; hh++) {
            const int64_t n = n_w + i * 16 + g + 8 * hh;
            if (n >= p.N) continue;
#pragma unroll
            for (int j = 0; j < NT; j++) {
#pragma unroll
                for (int c = 0; c < 2; c++) {
                    const int64_t m = m_w + j * 8 + 2 * t + c;
                    if (m < p.M) qn_st(p.yd, p.y, m * p.N + n, acc[i][j][2 * hh + c] * p.xscale[m]);
                }
            }
        }
    }
}

/* qn_gmmq_store's sums, the same values to the bit (acc x xscale[m] rounded once, stored by qn_st's conversion), with
 * the token scales loaded first (mmq20, QUANTA_CUDA_GGML_EPI). qn_gmmq_store reloads xscale[m] after every store (y
 * may alias it as far as the compiler knows), so its 2 x MI x 2 NT elements run as that many dependent
 * load -> multiply -> store chains, ~18 instructions and an L1 round trip each (SASS of =17's 128-token tile, nvcc 13):
 * a thread's 2 NT scales do not depend on the row, so they are read once, 2 JC at a time in flight together (NT / JC
 * round trips); y's type is branched on once, and a token's place in y is a row pointer plus 8 N j. */
template <typename Y> __device__ __forceinline__ Y qn_gmmq_cvt(float v);
template <> __device__ __forceinline__ float qn_gmmq_cvt<float>(float v) { return v; }
template <> __device__ __forceinline__ __half qn_gmmq_cvt<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 qn_gmmq_cvt<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }
/* JC (8) of a thread's NT token groups at a time: their 2 JC scales in flight together, then their stores (all NT at
 * once, 2 NT more live registers, made the 256-token tile's 128 accumulators spill). */
/* PRE (mmq21): acc holds the sums already scaled (the cluster split's reduce, ggml_mmq_rsi_wg.cu): stored as they are,
 * no scale loaded. */
template <typename Y, int MI, int NT, int JC, bool PRE = false>
__device__ __forceinline__ void qn_gmmq_store_t(const qn_gmmq_args &p, const float (&acc)[MI][NT][4], int64_t n_w,
                                                int64_t m_w, int t) {
    const int64_t N = p.N, m0 = m_w + 2 * t;
    const bool full = m_w + 8 * NT <= p.M; /* every token of the tile: no test per element */
#pragma unroll
    for (int j0 = 0; j0 < NT; j0 += JC) {
        float xs[JC][2];
#pragma unroll
        for (int j = 0; j < JC; j++)
#pragma unroll
            for (int c = 0; c < 2; c++) {
                const int64_t m = m0 + 8 * (j0 + j) + c;
                xs[j][c] = PRE ? 1.0f : m < p.M ? __ldg(p.xscale + m) : 0.0f; /* written before this kernel (after qn_pdl_wait) */
            }
#pragma unroll
        for (int i = 0; i < MI; i++)
#pragma unroll
            for (int hh = 0; hh < 2; hh++) {
                const int64_t n = n_w + i * 16 + 8 * hh; /* the lane's g is in n_w */
                if (n >= N) continue;
                Y *r = (Y *)p.y + (m0 + 8 * j0) * N + n; /* token m0 + 8 j0 (c = 0); c = 1 is r[N]; each j 8 N further */
#pragma unroll
                for (int j = 0; j < JC; j++, r += 8 * N) {
                    if (full || m0 + 8 * (j0 + j) < p.M)
                        r[0] = qn_gmmq_cvt<Y>(PRE ? acc[i][j0 + j][2 * hh] : acc[i][j0 + j][2 * hh] * xs[j][0]);
                    if (full || m0 + 8 * (j0 + j) + 1 < p.M)
                        r[N] = qn_gmmq_cvt<Y>(PRE ? acc[i][j0 + j][2 * hh + 1] : acc[i][j0 + j][2 * hh + 1] * xs[j][1]);
                }
            }
    }
}
template <int MI, int NT, bool PRE = false>
__device__ __forceinline__ void qn_gmmq_store_h(const qn_gmmq_args &p, const float (&acc)[MI][NT][4], int64_t n_w,
                                                int64_t m_w, int g, int t) {
    constexpr int JC = NT < 8 ? NT : 8;
    static_assert(NT % JC == 0, "whole groups of tokens");
    if (p.yd == QN_DT_F32) qn_gmmq_store_t<float, MI, NT, JC, PRE>(p, acc, n_w + g, m_w, t);
    else if (p.yd == QN_DT_F16) qn_gmmq_store_t<__half, MI, NT, JC, PRE>(p, acc, n_w + g, m_w, t);
    else qn_gmmq_store_t<__nv_bfloat16, MI, NT, JC, PRE>(p, acc, n_w + g, m_w, t);
}

/* Launches kernel k over (N / bn) x (M / bm) blocks of `threads` with `smem` bytes of dynamic shared memory,
 * raising the kernel's limit to it at the first launch (`attr_set`: one flag per kernel; a race only repeats an
 * idempotent call). */
template <typename Kernel>
static int qn_gmmq_launch_grid(Kernel k, bool &attr_set, int bn, int bm, int threads, int smem,
                               const qn_gmmq_args &a, cudaStream_t s) {
    if (!attr_set) {
        cudaError_t e = cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
        if (e != cudaSuccess) return (int)e;
        attr_set = true;
    }
    const int64_t gx = (a.N + bn - 1) / bn, gy = (a.M + bm - 1) / bm;
    if (gx > 0x7fffffff || gy > 65535) return (int)cudaErrorInvalidValue;
    k<<<dim3((unsigned)gx, (unsigned)gy), threads, smem, s>>>(a);
    return qn_cu_launch_status();
}

/* A switch read once from the environment into cache (-1: not read yet; a benchmark may set it to 0 or 1): on where
 * the variable `name` is `on`. */
static inline bool qn_gmmq_switch(int &cache, const char *name, const char *on) {
    if (cache < 0) {
        const char *e = getenv(name);
        cache = e && !strcmp(e, on);
    }
    return cache == 1;
}

/* QUANTA_CUDA_GGML_MMQ_TILE forces a tile (so that a device check can run every conformance case through
 * each): 128x128, 128x64 or 64x32 for either kernel; for ggml_mmq_frag.cu also 128x128w4 (4 warps of
 * 64x64), 256x128 (8 warps of 64x64) and 128x128b2 (the 128x128 tile held to 128 registers, two blocks
 * per SM); for ggml_mmq_wg.cu wg128x128, wg64x128, wg128x64, wg64x64, wg256x128, wg256x64 (7 to 12); for
 * ggml_mmq_ws_wg.cu ws128x128, ws128x64, ws128x256 (13 to 15); for ggml_mmq_rs_wg.cu rs128x128, rs128x64 (16, 17), rs128x128c2, rs128x64c2 (18, 19), rs128x256, rs128x256c2 (20, 21), rs128x128g2 (22), rssplit (23: the auto tile, K split where the grid is small); for ggml_mmq_rsi_wg.cu rsi128x128,
 * rsi128x64, rsi128x128g2, rsidiag0, rsidiag1, rsisplit, rsi2c128x64, rsi128x256 (24 to 31), ... (to 42), mmq23's
 * rsinocopy128 / rsidiag128 (43, 44: rsinocopy's and rsidiag0's forms on the 128-token tile whatever the grid). Anything
 * else, a tile of the other kernel, or unset, picks by grid size. Read at the first call unless a benchmark has set
 * qn_cuda_ggml_mmq_tile (cuda_kernels.h) to the tile's number here. */
static int qn_gmmq_forced_tile() {
    if (qn_cuda_ggml_mmq_tile < 0) {
        static const char *const names[] = {"128x128",   "128x64",   "64x32",     "128x128w4", "256x128",
                                            "128x128b2", "wg128x128", "wg64x128", "wg128x64",  "wg64x64",
                                            "wg256x128", "wg256x64", "ws128x128", "ws128x64",
                                            "ws128x256", "rs128x128", "rs128x64",
                                            "rs128x128c2", "rs128x64c2", "rs128x256", "rs128x256c2", "rs128x128g2", "rssplit",
                                            "rsi128x128", "rsi128x64", "rsi128x128g2", "rsidiag0", "rsidiag1", "rsisplit",
                                            "rsi2c128x64", "rsi128x256",
                                            "rsi128x256g2", "rsi128x256a2", "rsidiag256", "rsiss", "rsisplit128", "rsinocopy", "rsi256x128", "rsi256x64",
                                            "rsic128", "rsic64", "rsic256", "rsinocopy128", "rsidiag128"};
        const char *e = getenv("QUANTA_CUDA_GGML_MMQ_TILE");
        int tile = 0;
        for (int i = 0; e && i < (int)(sizeof names / sizeof names[0]); i++)
            if (!strcmp(e, names[i])) tile = i + 1;
        qn_cuda_ggml_mmq_tile = tile;
    }
    return qn_cuda_ggml_mmq_tile;
}

/* y = x . W^T by the fragment-decoding kernel (ggml_mmq_frag.cu) on activations prepared by
 * qn_cuda_ggml_mmq; its tile picked by grid size or forced. */
int qn_gmmq_frag_run(int w_dtype, const qn_gmmq_args &a, int sms, cudaStream_t s);
/* The same by the wgmma kernel (ggml_mmq_wg.cu, sm_90a); -1 where this device cannot run it or no tile is
 * picked. wide64: also the 256x64 tile where the 256x128 one leaves the GPU short (QUANTA_CUDA_GGML_MMQ=8). */
int qn_gmmq_wg_run(int w_dtype, const qn_gmmq_args &a, int sms, bool wide64, cudaStream_t s);
/* The same by the warp-specialized wgmma kernel (ggml_mmq_ws_wg.cu, sm_90a), which writes its own tiled f16
 * activations from x into a.xh (qn_cuda_ggml_mmq_scratch's bytes) and the row scales; -1 where this device
 * cannot run it. */
int qn_gmmq_ws_run(int w_dtype, int x_dtype, const void *x, const qn_gmmq_args &a, int sms, void *dq, bool sw,
                   cudaStream_t s);
/* With dq (not null: qn_gmmq_ws_dq_bytes of scratch) the weight is first dequantized there into the kernel's
 * tiled f16 A order, and the kernel's producer only bulk-copies (QUANTA_CUDA_GGML_MMQ=14); sw (=15): both
 * operands in wgmma's 128-byte swizzle (rows of the step's 64 K, pieces permuted in global memory already). */
size_t qn_gmmq_ws_dq_bytes(int64_t N, int64_t Kp);
/* The activations as ggml_mmq_ws_wg.cu's kernel reads them (a.xh: [M rounded up to nb / nb][Kp / 64][64 of K for nb
 * tokens], f16 with a per-row power of two, zeros past M and K; sw: each token's 128 bytes in the 128-byte swizzle)
 * and a.xscale; a CUDA error or 0. */
int qn_gmmq_prep_xt(int x_dtype, const void *x, const qn_gmmq_args &a, int nb, bool sw, cudaStream_t s, int perm = 0);

/* qn_gmmq_kperm_v / qn_gmmq_kperm (the K order of ggml_mmq_rsi_wg.cu): ggml_xslab.cuh. */
/* The same product by ggml_mmq_rs_wg.cu's kernel (mmq14, QUANTA_CUDA_GGML_MMQ=16: the weight's raw Q4_0 / Q8_0 bytes
 * by TMA, decoded in the consumers' registers as wgmma's A operand), which preps its own activations; -1 (nothing
 * launched) for other formats, K not a multiple of 256, M <= 64, or a device that cannot run it. */
int qn_gmmq_rs_run(int w_dtype, int x_dtype, const void *x, const qn_gmmq_args &a, int sms, void *part,
                   size_t part_bytes, cudaStream_t s);
/* The f32 partial sums a split-K run of it needs (part, part_bytes above; 0: it does not split this shape). */
size_t qn_gmmq_rs_part_bytes(int64_t M, int64_t N, int64_t K);
/* Split K: how many ways (about 128 blocks, at most 4, each at least 1024 of K; 1: none) for nb-token tiles, and the
 * reduce of `splits` f32 partial sums ([splits][n]) into y (n elements of type yd). */
int qn_gmmq_rs_splits_rule(int64_t M, int64_t N, int64_t K, int nb);
int qn_gmmq_rs_reduce(const float *part, int splits, int64_t n, int yd, void *y, cudaStream_t s, bool pdl = false);
/* The same product by ggml_mmq_rsi_wg.cu's kernel (mmq15, QUANTA_CUDA_GGML_MMQ=17: =16's data path, activations in
 * the permuted K order of qn_gmmq_kperm, a cheaper decode, one commit group per block); -1 where =16 would be. */
int qn_gmmq_rsi_run(int w_dtype, int x_dtype, const void *x, const qn_gmmq_args &a, int sms, void *part,
                    size_t part_bytes, cudaStream_t s, int *xhave = nullptr);
/* mmq22: n (2..3) weights w[i] of N[i] rows into y[i] as one grid (a: the rest, as qn_gmmq_rsi_run's; mode as
 * qn_cuda_ggml_mmq_multi's 1..3); -1: not launched (no prep run), the caller runs them one by one. */
int qn_gmmq_rsi_run_grp(int w_dtype, int x_dtype, const void *x, const qn_gmmq_args &a, int n, const void *const *w,
                        const int64_t *N, void *const *y, int mode, int sms, void *part, size_t part_bytes,
                        cudaStream_t s, int *xhave);
/* (xhave: a.xh / a.xscale are a prep kept across calls, in a.xnb-token tiles; *xhave says which K order it holds for
 * this x, 0 none: the prep runs only where that is not this weight's, and *xhave is left saying what a.xh holds.) */

#endif
