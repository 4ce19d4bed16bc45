/* elementwise.cu — element-wise and row-wise ops: silu, gelu, scale, convert, add, mul, glu,
 * rms_norm (and the fused add_rms_norm / rms_norm_add), softmax, rope. Math is f32 (rope's
 * angle in f64, like the oracle); each op is one pass over memory. In-place use (y == x) is
 * safe: every element is read before it is written by the same thread, and row ops read a
 * whole row before writing it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <atomic>

#include "cuda_common.cuh"
#include "ggml_xq.cuh"
#include "ggml_xslab.cuh"

__global__ void qn_k_unary(int op, int xd, const void *x, int yd, void *y, int64_t n, float s) {
    qn_pdl_begin();
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        qn_st(yd, y, i, qn_act(op, qn_ld(xd, x, i), s));
}

extern "C" int qn_cuda_unary(int op, int x_dtype, const void *x, int y_dtype, void *y, int64_t n, float s,
                             void *stream) {
    if (n <= 0) return 0;
    return qn_launch(qn_k_unary, qn_cu_blocks(n, 256, 132 * 32), 256, 0, (cudaStream_t)stream, op, x_dtype, x, y_dtype, y,
                     n, s);
}

/* glu: y = act(gate) * up, the activation kept in f32 (never rounded to the dtype); one pass
 * instead of the activation's and the multiply's two launches. */
__global__ void qn_k_glu(int op, int dt, const void *g, const void *u, void *y, int64_t n) {
    qn_pdl_begin();
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        qn_st(dt, y, i, qn_act(op, qn_ld(dt, g, i), 0.0f) * qn_ld(dt, u, i));
}

extern "C" int qn_cuda_glu(int op, int dtype, const void *gate, const void *up, void *y, int64_t n, void *stream) {
    if (n <= 0) return 0;
    return qn_launch(qn_k_glu, qn_cu_blocks(n, 256, 132 * 32), 256, 0, (cudaStream_t)stream, op, dtype, gate, up, y, n);
}

__global__ void qn_k_binary(int is_mul, int ad, const void *a, int bd, const void *b, int64_t nb, int yd, void *y,
                            int64_t n, int64_t D) {
    qn_pdl_begin();
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const float u = qn_ld(ad, a, i), v = qn_ld(bd, b, nb == n ? i : i % D);
        qn_st(yd, y, i, is_mul ? u * v : u + v);
    }
}

extern "C" int qn_cuda_binary(int is_mul, int a_dtype, const void *a, int b_dtype, const void *b, int64_t nb,
                              int y_dtype, void *y, int64_t n, int64_t D, void *stream) {
    if (n <= 0) return 0;
    return qn_launch(qn_k_binary, qn_cu_blocks(n, 256, 132 * 32), 256, 0, (cudaStream_t)stream, is_mul, a_dtype, a, b_dtype,
                     b, nb, y_dtype, y, n, D);
}

/* One block per row. */
/* Row i of x, plus row i of r when r is given (add_rms_norm: the sum in f32, never rounded to
 * x's dtype). */
__device__ __forceinline__ float qn_norm_in(int xd, const void *x, int rd, const void *r, int64_t i) {
    const float v = qn_ld(xd, x, i);
    return r ? v + qn_ld(rd, r, i) : v;
}

/* What a norm kernel reads and writes: y = rms_norm(x [+ r]) * w [+ p]. r (add_rms_norm) is added
 * before the norm, p (rms_norm_add) to the normed row, both in f32 before the one store. */
struct qn_norm_args {
    int xd, rd, wd, pd, yd, plus_one;
    const void *x, *r, *w, *p;
    void *y;
    int64_t D;
    float eps;
    int8_t *xq; /* not NULL: y's int8 codes too, both planes (qn_k_rms_norm_regs only) */
    float *dx;
    int *sx;
    int8_t *xl;
    int *sl;
    /* rms_norm_add_norm (qn_k_rms_norm_regs<PER, true>): y2 = rms_norm(y as stored, w2); the codes are y2's.
     * rms_norm_rope_pair: rows from rows0 on are x2's (weight w2) into y2. */
    int w2d;
    const void *x2, *w2;
    void *y2;
    int64_t rows0;
    int64_t rows1; /* rms_norm_rope_pair, rope_kv: x2's rows */
    /* add_norm (qn_k_rms_norm_regs<PER, true> only): the first stage stores y = x + p, as qn_k_binary adds,
     * with no norm; the second norms it by w2. */
    int sum_only;
    /* mmq18 (on unless QUANTA_CUDA_GGML_NORM_SLAB=0; qn_k_rms_norm_regs<..., SLAB> only): the result (TWO: y2) also as the ggml
     * tensor-core GEMM's kept activation slab (ggml_xslab.cuh: 256-token tiles, K order perm, xts the rows' scales);
     * the grid covers the last tile's rows slab_rows .. too, which only zero their slab rows. */
    uint4 *xt;
    float *xts;
    int perm;
    int64_t slab_rows;
};

/* p advanced by i elements of dtype dt. */
__device__ __forceinline__ const void *qn_dt_at(int dt, const void *p, int64_t i) {
    return (const char *)p + i * (dt == QN_DT_F32 ? 4 : 2);
}

/* v as y's dtype stores it (what qn_ld reads back). */
__device__ __forceinline__ float qn_rounded(int dt, float v) {
    if (dt == QN_DT_F32) return v;
    if (dt == QN_DT_F16) return __half2float(__float2half_rn(v));
    return __bfloat162float(__float2bfloat16_rn(v));
}

__device__ __forceinline__ float qn_norm_gain(const qn_norm_args &a, int64_t d) {
    if (!a.w) return 1.0f;
    const float g = qn_ld(a.wd, a.w, d);
    return a.plus_one ? 1.0f + g : g;
}

__device__ __forceinline__ float qn_norm_inv(float ss, const qn_norm_args &a) {
    return (float)(1.0 / sqrt((double)ss / (double)a.D + (double)a.eps));
}

/* The roundings a norm's result depends on, spelled out (nothing left for the compiler to contract into an fma or
 * not), so that the norm kernels and their forms (strided, registers, lean) give the same bits however each is
 * scheduled: a step of the sum of squares is fma(v, v, ss); the result is (v * inv) * g, and a p added to it is
 * rounded apart (as the norm alone and an add after it would). */
__device__ __forceinline__ float qn_sq_acc(float ss, float v) { return __fmaf_rn(v, v, ss); }
__device__ __forceinline__ float qn_norm_out(float v, float inv, float g) { return __fmul_rn(__fmul_rn(v, inv), g); }

/* Rows of any length: each thread strides the row, reading it twice. */
__global__ void qn_k_rms_norm(qn_norm_args a) {
    __shared__ float sh[32];
    qn_pdl_begin();
    const int64_t base = (int64_t)blockIdx.x * a.D;
    float ss = 0.0f;
    for (int64_t d = threadIdx.x; d < a.D; d += blockDim.x) {
        const float v = qn_norm_in(a.xd, a.x, a.rd, a.r, base + d);
        ss = qn_sq_acc(ss, v);
    }
    const float inv = qn_norm_inv(qn_block_sum(ss, sh), a);
    for (int64_t d = threadIdx.x; d < a.D; d += blockDim.x) {
        float o = qn_norm_out(qn_norm_in(a.xd, a.x, a.rd, a.r, base + d), inv, qn_norm_gain(a, d));
        if (a.p) o = __fadd_rn(o, qn_ld(a.pd, a.p, base + d));
        qn_st(a.yd, a.y, base + d, o);
    }
}

/* Stores o as element i of y (y's dtype) and returns it as stored; with codes and a.xq, also its chunk's
 * int8 codes (D % 32 == 0: whole warps, one chunk each). */
__device__ __forceinline__ float qn_norm_store(const qn_norm_args &a, void *y, int64_t i, float o, bool codes) {
    qn_st(a.yd, y, i, o);
    const float stored = qn_rounded(a.yd, o);
    if (codes && a.xq) {
        const int64_t e0 = i & ~(int64_t)31;
        qn_ggml_quantize_chunk(stored, a.xq + e0, a.dx + e0 / 32, a.sx + e0 / 32, a.xl + e0, a.sl + e0 / 32);
    }
    return stored;
}

/* Rows of at most PER * blockDim.x: every load (x, r, w, p) is issued before the reduction and
 * kept in registers, so the kernel waits for memory once instead of twice (decode's norms are
 * latency-bound: one 640-wide row took 4.4 us in the strided kernel). Same summation order as
 * qn_k_rms_norm, so the same results. */
/* The lean form (QUANTA_CUDA_NORM_LEAN, on by default for blocks of 256: norm_lean_on), the same values: ILV, a
 * warp's chunks of codes (one per k) made at once by qn_ggml_quantize_chunks, their shuffle chains interleaved
 * instead of one chunk after another (~500 cycles of dependent shuffles and a division each); F32 (every operand
 * given f32), the dtypes fixed so that nvcc folds qn_ld / qn_st / qn_rounded to plain accesses (-27% instructions
 * on the main path, a smaller kernel). */
/* V (mmq19, QUANTA_CUDA_NORM_V): a block of blockDim.x threads does the work of a block of V x blockDim.x (the
 * width qn_cuda_rms_norm picks for D, 1024 for the 7B's 4096), each thread the slots of V of its threads: slot s
 * (0 .. PER x V - 1) is element t + s x blockDim.x as before, and "thread" j = s % V's sum of squares is its slots
 * s = j, j + V, .. in that order, then qn_block_sum_v adds the V x blockDim.x / 32 "warps'" sums as qn_block_sum
 * adds the wider block's: the same sums in the same order, so the same bits. Why: with 1024 threads and 44-54
 * registers a 7B row holds a whole SM alone (one block of 1024), so each row's chain — load, two block reductions,
 * the double-precision inverse, the stores (the slab's block max and stores after them) — runs with no other row
 * overlapping it: 1.4 TB/s at M = 2048 (H100 08:30, mmq18's normslab rows), and the slab's chain doubled the time.
 * Blocks of 512 (V = 2, <= 64 registers) let two rows share an SM, blocks of 256 (V = 4: 16 slots a thread, <= 80
 * registers by __launch_bounds__, a few bytes of spill in some forms) three. The row's pointers are advanced to the
 * row and each element's index is an int (V > 1): with 64-bit offsets per slot (x, p, y share them) ptxas kept 16 of
 * them live across the reduction and V = 4 spilled 200-400 bytes. */
template <int V> __device__ __forceinline__ float qn_block_sum_v(const float (&ss)[V], float *sh) {
    if constexpr (V == 1) {
        return qn_block_sum(ss[0], sh);
    } else {
        float v[V];
#pragma unroll
        for (int j = 0; j < V; j++) v[j] = ss[j];
#pragma unroll
        for (int o = 16; o > 0; o >>= 1)
#pragma unroll
            for (int j = 0; j < V; j++) v[j] += __shfl_xor_sync(0xffffffffu, v[j], o);
        const int w = threadIdx.x >> 5, l = threadIdx.x & 31, nwp = blockDim.x >> 5, nw = nwp * V;
        __syncthreads();
        if (l == 0)
#pragma unroll
            for (int j = 0; j < V; j++) sh[w + nwp * j] = v[j]; /* "warp" w + nwp j: "threads" t + blockDim.x j */
        __syncthreads();
        float t = l < nw ? sh[l] : 0.0f;
        for (int o = 16; o > 0; o >>= 1) t += __shfl_xor_sync(0xffffffffu, t, o);
        return t;
    }
}

/* SLAB (mmq18): the values as stored (TWO: y2's) also into the kept GEMM slab, by slab_store below. */
/* Row blockIdx.x's slab: its largest |v| over the block (qn_block_max: every thread of the block calls this), the
 * power of two and scale of ggml_xslab.cuh (row scale only where live: rows past M have none), then per slot the warp's
 * 32-element block (lane = element, D % 256 == 0 so a block is all in the row or all past it): lane w < 16 takes word w's
 * two elements from their lanes and stores its 4 bytes (the block's 64 contiguous bytes of the token's 128). The prep
 * computes the same max, the same factor, the same v x f rounded once: the same bits. blockDim.x is a multiple of 64
 * (D % 256 == 0 gives blocks of 256 or 1024 threads, V of them 256 or 512), so a warp's blocks are all of one parity
 * (its half of the step) and its word, their elements and the token's row of the step are the same for every slot:
 * computed once (mmq19; they were per slot). */
template <int S>
__device__ __forceinline__ void qn_slab_store_row(uint4 *xt, float *xts, int64_t D, int perm, const float (&v)[S], bool live) {
    __shared__ float shm[32];
    float m0 = 0.0f;
#pragma unroll
    for (int k = 0; k < S; k++) m0 = fmaxf(m0, fabsf(v[k]));
    float inv, f = 0.0f;
    if (live) { /* uniform over the block */
        f = qn_xslab_factor(qn_block_max(m0, shm), &inv);
        if (threadIdx.x == 0) xts[blockIdx.x] = inv;
    }
    const int lane = threadIdx.x & 31, w = lane & 15;
    const int64_t KT = D / QN_XSLAB_BK, m = blockIdx.x, c0 = threadIdx.x >> 5, cs = blockDim.x >> 5; /* cs even */
    int k0, k1;
    const int wi = qn_xslab_word(perm, (c0 & 1) != 0, w, (int)(m % QN_XSLAB_NB), &k0, &k1);
    uint32_t *row = reinterpret_cast<uint32_t *>(qn_xslab_row(xt, KT, QN_XSLAB_NB, m, c0)) + wi;
    const int64_t step = (cs >> 1) * (int64_t)QN_XSLAB_NB * 32; /* words from slot to slot: cs / 2 steps of the tile */
#pragma unroll
    for (int k = 0; k < S; k++) {
        if (c0 + k * cs >= D / 32) break; /* uniform over the warp */
        const float x0 = __shfl_sync(0xffffffffu, v[k], k0), x1 = __shfl_sync(0xffffffffu, v[k], k1);
        if (lane < 16) row[k * step] = qn_xslab_pack(x0, x1, f);
    }
}
template <int S> __device__ __forceinline__ void qn_norm_slab_store(const qn_norm_args &a, const float (&v)[S], bool live) {
    qn_slab_store_row<S>(a.xt, a.xts, a.D, a.perm, v, live);
}
template <int PER, bool TWO, bool F32 = false, bool ILV = false, bool SLAB = false, int V = 1>
__global__ void __launch_bounds__(1024 / V, V < 4 ? V : 3) qn_k_rms_norm_regs(qn_norm_args a) {
    constexpr int S = PER * V; /* slots a thread */
    __shared__ float sh[32];
    if (F32) a.xd = a.rd = a.wd = a.pd = a.yd = a.w2d = QN_DT_F32;
    qn_pdl_begin();
    if (SLAB && (int64_t)blockIdx.x >= a.slab_rows) { /* the last tile's rows past M: zeros, as the prep writes them */
        float z[S];
#pragma unroll
        for (int k = 0; k < S; k++) z[k] = 0.0f;
        qn_norm_slab_store<S>(a, z, false);
        return;
    }
    const int64_t base = (int64_t)blockIdx.x * a.D;
    if constexpr (V > 1) { /* the row's pointers, the element's index an int: fewer live 64-bit offsets */
        a.x = qn_dt_at(a.xd, a.x, base), a.y = (void *)qn_dt_at(a.yd, a.y, base);
        if (a.r) a.r = qn_dt_at(a.rd, a.r, base);
        if (a.p) a.p = qn_dt_at(a.pd, a.p, base);
        if (TWO) a.y2 = (void *)qn_dt_at(a.yd, a.y2, base);
    }
    const int64_t rb = V > 1 ? 0 : base; /* the row's first element in the pointers */
    /* V > 1: the weights (L2-resident, one row for all rows) are loaded where used, not with x, to fit the registers;
     * q (p: the residual) is a stream like x, so it is loaded with x. */
    constexpr bool GEARLY = V == 1;
    float v[S], g[GEARLY ? S : 1], q[S], g2[GEARLY ? S : 1];
    float ss[V];
#pragma unroll
    for (int j = 0; j < V; j++) ss[j] = 0.0f;
#pragma unroll
    for (int k = 0; k < S; k++) {
        const int d = threadIdx.x + k * blockDim.x; /* D <= 4096 */
        v[k] = 0.0f, q[k] = 0.0f;
        if constexpr (GEARLY) g[k] = 1.0f, g2[k] = 1.0f;
        if (d < a.D) {
            v[k] = qn_norm_in(a.xd, a.x, a.rd, a.r, rb + d);
            if constexpr (GEARLY) g[k] = qn_norm_gain(a, d);
            if (a.p) q[k] = qn_ld(a.pd, a.p, rb + d);
            if constexpr (GEARLY)
                if (TWO && a.w2) g2[k] = a.plus_one ? 1.0f + qn_ld(a.w2d, a.w2, d) : qn_ld(a.w2d, a.w2, d);
        }
    }
    float inv = 1.0f;
    if (!TWO || !a.sum_only) { /* uniform over the block: all threads reach qn_block_sum's barriers or none */
#pragma unroll
        for (int k = 0; k < S; k++) ss[k % V] = qn_sq_acc(ss[k % V], v[k]);
        inv = qn_norm_inv(qn_block_sum_v<V>(ss, sh), a);
    }
    {
        float gl[GEARLY ? 1 : S]; /* V > 1: the gains, all loaded before the first store (which may alias them) */
        if constexpr (!GEARLY) {
#pragma unroll
            for (int k = 0; k < S; k++) {
                const int d = threadIdx.x + k * blockDim.x; /* D <= 4096 */
                gl[k] = d < a.D && !(TWO && a.sum_only) ? qn_norm_gain(a, d) : 1.0f;
            }
        }
#pragma unroll
        for (int k = 0; k < S; k++) {
            const int d = threadIdx.x + k * blockDim.x; /* D <= 4096 */
            if (d < a.D) {
                float o = TWO && a.sum_only ? v[k] : qn_norm_out(v[k], inv, GEARLY ? g[GEARLY ? k : 0] : gl[GEARLY ? 0 : k]);
                if (a.p) o = __fadd_rn(o, q[k]);
                v[k] = qn_norm_store(a, a.y, rb + d, o, !TWO && !ILV && V == 1); /* TWO: the next norm's input */
            } else {
                v[k] = 0.0f;
            }
        }
    }
    if constexpr (TWO) { /* rms_norm_add_norm: the next norm of the stored sum, as qn_k_rms_norm_regs would */
        float ss2[V];
#pragma unroll
        for (int j = 0; j < V; j++) ss2[j] = 0.0f;
#pragma unroll
        for (int k = 0; k < S; k++) ss2[k % V] = qn_sq_acc(ss2[k % V], v[k]);
        float gl2[GEARLY ? 1 : S];
        if constexpr (!GEARLY) { /* issued before the reduction's barriers: their latency hides behind it */
#pragma unroll
            for (int k = 0; k < S; k++) {
                const int d = threadIdx.x + k * blockDim.x; /* D <= 4096 */
                gl2[k] = 1.0f;
                if (d < a.D && a.w2) gl2[k] = a.plus_one ? 1.0f + qn_ld(a.w2d, a.w2, d) : qn_ld(a.w2d, a.w2, d);
            }
        }
        const float inv2 = qn_norm_inv(qn_block_sum_v<V>(ss2, sh), a);
#pragma unroll
        for (int k = 0; k < S; k++) {
            const int d = threadIdx.x + k * blockDim.x; /* D <= 4096 */
            if (d < a.D)
                v[k] = qn_norm_store(a, a.y2, rb + d,
                                     qn_norm_out(v[k], inv2, GEARLY ? g2[GEARLY ? k : 0] : gl2[GEARLY ? 0 : k]), !ILV && V == 1);
        }
    }
    if constexpr (SLAB) qn_norm_slab_store<S>(a, v, true); /* v: the values as stored, 0 past D */
    if (ILV && a.xq) { /* the codes of the values just stored (TWO: y2's), the warp's S chunks at once */
        const int64_t w0 = threadIdx.x & ~31;
        float vs[S];
        bool live[S];
        int64_t ch[S];
#pragma unroll
        for (int k = 0; k < S; k++) {
            const int64_t d0 = w0 + (int64_t)k * blockDim.x; /* D % 32 == 0: a chunk is all in the row or all past */
            vs[k] = v[k], live[k] = d0 < a.D, ch[k] = (base + d0) / 32;
        }
        qn_ggml_quantize_chunks<S>(vs, live, ch, a.xq, a.dx, a.sx, a.xl, a.sl);
    }
}

/* Whether every operand a norm kernel reads or writes is f32 (those not given do not count). */
static bool norm_all_f32(const qn_norm_args &a) {
    const bool ok = a.xd == QN_DT_F32 && a.yd == QN_DT_F32 && (!a.r || a.rd == QN_DT_F32) &&
                    (!a.w || a.wd == QN_DT_F32) && (!a.p || a.pd == QN_DT_F32);
    return ok && (!a.w2 || a.w2d == QN_DT_F32);
}

/* Whether the register kernel takes its lean form, for a block of `threads`. On by default for blocks of 256 (rows of
 * 256 <= D < 1024): on the H100 (07:15, verify_norm11.sh) one 640-wide row took 4.10 us instead of 5.05
 * (rms_norm_add_norm, back to back) and Gemma decoded at 1105.6 / 1101.4 tok/s against 1066.7 / 1070.8, the same
 * bits. Not for blocks of 1024 (D >= 1024): there a row of 1024 took 5.20 us instead of 3.99, its 32 warps
 * interleaving four chunks of which one holds the row (rows of 4096, all four live, unmeasured). QUANTA_CUDA_NORM_LEAN
 * =1 takes it for every block size, =0 never. Read once; atomic because plans run on any thread. */
static std::atomic<int> norm_lean_cache{-1}; /* -1 unread, 0 never, 1 always, 2 by block size */
static bool norm_lean_on(int threads) {
    int v = norm_lean_cache.load(std::memory_order_relaxed);
    if (v < 0) {
        const char *e = getenv("QUANTA_CUDA_NORM_LEAN");
        v = e && !strcmp(e, "0") ? 0 : e && !strcmp(e, "1") ? 1 : 2;
        norm_lean_cache.store(v, std::memory_order_relaxed);
    }
    return v == 1 || (v == 2 && threads == 256);
}

/* QUANTA_CUDA_NORM_V (mmq19; qn_cuda_norm_v for benchmarks and tests, -1: read the variable, 0: the default rule): the
 * register kernel's rows of blocks of 1024 threads (1024 <= D <= 4096) past 64 rows, with no int8 codes (the GEMV's
 * rows), in blocks of 1024 / V threads each doing V threads' slots (qn_k_rms_norm_regs: the same bits). Default: V = 2
 * where the norm also writes the GEMM slab and rows >= 256, else 1 — measured on the H100 (2026-12-07 09:30,
 * verify_mmq19.sh, every result and slab byte the same): with the slab V = 2 took rms_norm 16.7 -> 12.3 us at 512 x
 * 4096 and 83.4 -> 63.0 at 2048 x 4096, add_norm 22.7 -> 19.2 and 96.1 -> 79.1; without it, or at 130 rows (add_norm
 * 6.3 -> 7.1), V = 2 was not faster (rms_norm alone 47.8 -> 52.2 at 2048), and V = 4 was slower than V = 2 on every
 * row (80 registers, three rows an SM). =1 keeps V = 1 everywhere; =2 / =4 force V for every such row past 64. */
int qn_cuda_norm_v = -1;
static int norm_v(const qn_norm_args &a, int64_t rows, int threads) {
    int v = __atomic_load_n(&qn_cuda_norm_v, __ATOMIC_RELAXED);
    if (v < 0) {
        const char *e = getenv("QUANTA_CUDA_NORM_V");
        v = e && !strcmp(e, "4") ? 4 : e && !strcmp(e, "2") ? 2 : e && !strcmp(e, "1") ? 1 : 0;
        __atomic_store_n(&qn_cuda_norm_v, v, __ATOMIC_RELAXED);
    }
    if (threads != 1024 || a.xq || rows <= 64) return 1;
    return v ? v : a.xt && rows >= 256 ? 2 : 1;
}

template <bool TWO, int V> static void (*norm_regs_v(const qn_norm_args &a))(qn_norm_args) {
    if (a.xt) return norm_all_f32(a) ? qn_k_rms_norm_regs<4, TWO, true, false, true, V> : qn_k_rms_norm_regs<4, TWO, false, false, true, V>;
    return norm_all_f32(a) ? qn_k_rms_norm_regs<4, TWO, true, false, false, V> : qn_k_rms_norm_regs<4, TWO, false, false, false, V>;
}

/* The register kernel for a (rows of it, blocks of *threads, which V divides). */
template <bool TWO> static void (*norm_regs_kernel(const qn_norm_args &a, int64_t rows, int *threads))(qn_norm_args) {
    const int v = norm_v(a, rows, *threads);
    if (v > 1) {
        *threads /= v;
        return v == 4 ? norm_regs_v<TWO, 4>(a) : norm_regs_v<TWO, 2>(a);
    }
    if (a.xt) /* the slab's rows (mmq18); no codes then (the GEMV's rows are fewer than the GEMM's) */
        return norm_all_f32(a) ? qn_k_rms_norm_regs<4, TWO, true, false, true> : qn_k_rms_norm_regs<4, TWO, false, false, true>;
    if (!norm_lean_on(*threads)) return qn_k_rms_norm_regs<4, TWO>;
    return norm_all_f32(a) ? qn_k_rms_norm_regs<4, TWO, true, true> : qn_k_rms_norm_regs<4, TWO, false, true>;
}

/* The slab fields of a (none unless slab asks for one where the register kernel writes it: D a multiple of 256, rows
 * within the grid's limit); the grid's rows (the last 256-token tile's too when there is a slab). */
static unsigned norm_slab_args(qn_norm_args &a, qn_cuda_xslab *slab, int64_t rows, int64_t D) {
    a.xt = NULL, a.xts = NULL, a.perm = 0, a.slab_rows = rows;
    if (slab) slab->done = 0;
    const int64_t Mt = (rows + QN_XSLAB_NB - 1) / QN_XSLAB_NB * QN_XSLAB_NB;
    if (!slab || !slab->buf || (slab->perm != 1 && slab->perm != 2) || D % 256 || Mt > 0x7fffffff) return (unsigned)rows;
    void *xt = NULL;
    qn_cuda_ggml_mmq_xprep_split(slab->buf, rows, D, &xt, &a.xts);
    a.xt = (uint4 *)xt, a.perm = slab->perm;
    a.xq = NULL, a.dx = NULL, a.sx = NULL, a.xl = NULL, a.sl = NULL; /* codes are the GEMV's, for fewer rows */
    return (unsigned)Mt;
}

extern "C" int qn_cuda_rms_norm(int x_dtype, const void *x, int r_dtype, const void *r, int w_dtype, const void *w,
                                int p_dtype, const void *p, int y_dtype, void *y, int64_t rows, int64_t D, float eps,
                                int plus_one, void *xq_buf, int *xq_done, qn_cuda_xslab *slab, void *stream) {
    if (xq_done) *xq_done = 0;
    if (slab) slab->done = 0;
    if (rows <= 0 || D <= 0) return 0;
    if (rows > 0x7fffffff) return (int)cudaErrorInvalidValue;
    const int threads = D >= 1024 ? 1024 : D >= 256 ? 256 : 64;
    qn_norm_args a;
    a.xd = x_dtype, a.rd = r_dtype, a.wd = w_dtype, a.pd = p_dtype, a.yd = y_dtype, a.plus_one = plus_one;
    a.x = x, a.r = r, a.w = w, a.p = p, a.y = y, a.D = D, a.eps = eps;
    a.xq = NULL, a.dx = NULL, a.sx = NULL, a.xl = NULL, a.sl = NULL;
    a.w2d = 0, a.x2 = NULL, a.w2 = NULL, a.y2 = NULL, a.rows0 = 0, a.sum_only = 0, a.rows1 = 0;
    a.xt = NULL, a.xts = NULL, a.perm = 0, a.slab_rows = rows;
    cudaStream_t st = (cudaStream_t)stream;
    if (D <= 4 * (int64_t)threads) {
        bool quantize = xq_buf && D % 32 == 0;
        if (quantize) {
            qn_cuda_ggml_xq_split(xq_buf, rows, D, &a.xq, &a.dx, &a.sx);
            qn_cuda_ggml_xq_lo(xq_buf, rows, D, &a.xl, &a.sl);
        }
        const unsigned grid = norm_slab_args(a, slab, rows, D);
        if (a.xt) quantize = false;
        int bt = threads;
        void (*k)(qn_norm_args) = norm_regs_kernel<false>(a, rows, &bt);
        const int e = qn_launch(k, grid, bt, 0, st, a);
        if (!e && quantize && xq_done) *xq_done = 1;
        if (!e && a.xt) slab->done = 1;
        return e;
    }
    return qn_launch(qn_k_rms_norm, (unsigned)rows, threads, 0, st, a);
}

/* The two-result norms in one launch (qn_k_rms_norm_regs<4, true>): sum_only 0, rms_norm_add_norm (y = rms_norm(x)
 * * w + r, y2 = rms_norm(y) * w2); 1, add_norm (y = x + r, y2 = rms_norm(y) * w2; w unused). */
static int norm_two(int sum_only, int x_dtype, const void *x, int r_dtype, const void *r, int w_dtype, const void *w,
                    int w2_dtype, const void *w2, int y_dtype, void *y, void *y2, int64_t rows, int64_t D, float eps,
                    int plus_one, void *xq_buf, int *xq_done, qn_cuda_xslab *slab, void *stream) {
    if (xq_done) *xq_done = 0;
    if (slab) slab->done = 0;
    if (rows <= 0 || D <= 0) return 0;
    const int threads = D >= 1024 ? 1024 : D >= 256 ? 256 : 64;
    if (rows > 0x7fffffff || D > 4 * (int64_t)threads) return (int)cudaErrorInvalidValue;
    qn_norm_args a;
    a.xd = x_dtype, a.rd = 0, a.wd = w_dtype, a.pd = r_dtype, a.yd = y_dtype, a.plus_one = plus_one;
    a.x = x, a.r = NULL, a.w = sum_only ? NULL : w, a.p = r, a.y = y, a.D = D, a.eps = eps;
    a.xq = NULL, a.dx = NULL, a.sx = NULL, a.xl = NULL, a.sl = NULL;
    a.w2d = w2_dtype, a.x2 = NULL, a.w2 = w2, a.y2 = y2, a.rows0 = 0, a.sum_only = sum_only, a.rows1 = 0;
    bool quantize = xq_buf && D % 32 == 0;
    if (quantize) {
        qn_cuda_ggml_xq_split(xq_buf, rows, D, &a.xq, &a.dx, &a.sx);
        qn_cuda_ggml_xq_lo(xq_buf, rows, D, &a.xl, &a.sl);
    }
    const unsigned grid = norm_slab_args(a, slab, rows, D);
    if (a.xt) quantize = false;
    int bt = threads;
    void (*k)(qn_norm_args) = norm_regs_kernel<true>(a, rows, &bt);
    const int e = qn_launch(k, grid, bt, 0, (cudaStream_t)stream, a);
    if (!e && quantize && xq_done) *xq_done = 1;
    if (!e && a.xt) slab->done = 1;
    return e;
}

extern "C" int qn_cuda_rms_norm_add_norm(int x_dtype, const void *x, int r_dtype, const void *r, int w_dtype,
                                         const void *w, int w2_dtype, const void *w2, int y_dtype, void *y, void *y2,
                                         int64_t rows, int64_t D, float eps, int plus_one, void *xq_buf, int *xq_done,
                                         qn_cuda_xslab *slab, void *stream) {
    return norm_two(0, x_dtype, x, r_dtype, r, w_dtype, w, w2_dtype, w2, y_dtype, y, y2, rows, D, eps, plus_one,
                    xq_buf, xq_done, slab, stream);
}

extern "C" int qn_cuda_add_norm(int a_dtype, const void *a, int b_dtype, const void *b, int w_dtype, const void *w,
                                int y_dtype, void *y, void *y2, int64_t rows, int64_t D, float eps, int plus_one,
                                void *xq_buf, int *xq_done, qn_cuda_xslab *slab, void *stream) {
    return norm_two(1, a_dtype, a, b_dtype, b, 0, NULL, w_dtype, w, y_dtype, y, y2, rows, D, eps, plus_one, xq_buf,
                    xq_done, slab, stream);
}

/* glu writing the kept GEMM slab of its result too (mmq19, QUANTA_CUDA_GGML_GLU_SLAB; mmq18's norms do it for q/k/v's
 * and gate/up's x, this for down's): one block of 1024 threads a row of D (D % 256 == 0, D <= 1024 S), each thread
 * element t + 1024 s of slot s; each value computed as qn_k_glu computes it (the same expression, so the same bits) and
 * stored, then the row's slab from the values as stored (qn_slab_store_row: the prep's max, factor and rounding, so
 * the prep's bits). The grid covers the last 256-token tile; its rows past M only write zeros. */
template <int S, bool F32>
__global__ void __launch_bounds__(1024, 1) qn_k_glu_slab(int op, int dt, const void *g, const void *u, void *y, int64_t D,
                                                          int64_t rows, uint4 *xt, float *xts, int perm) {
    if (F32) dt = QN_DT_F32;
    qn_pdl_begin();
    float v[S];
    if ((int64_t)blockIdx.x >= rows) { /* the last tile's rows past M */
#pragma unroll
        for (int k = 0; k < S; k++) v[k] = 0.0f;
        qn_slab_store_row<S>(xt, xts, D, perm, v, false);
        return;
    }
    const int64_t base = (int64_t)blockIdx.x * D;
    g = qn_dt_at(dt, g, base), u = qn_dt_at(dt, u, base), y = (void *)qn_dt_at(dt, y, base); /* the row's */
    float gv[S], uv[S];
#pragma unroll
    for (int k = 0; k < S; k++) {
        const int d = threadIdx.x + k * 1024; /* D <= 16384 */
        gv[k] = 0.0f, uv[k] = 0.0f;
        if (d < D) gv[k] = qn_ld(dt, g, d), uv[k] = qn_ld(dt, u, d);
    }
#pragma unroll
    for (int k = 0; k < S; k++) {
        const int d = threadIdx.x + k * 1024; /* D <= 16384 */
        v[k] = 0.0f;
        if (d < D) {
            const float h = qn_act(op, gv[k], 0.0f) * uv[k];
            qn_st(dt, y, d, h);
            v[k] = qn_rounded(dt, h);
        }
    }
    qn_slab_store_row<S>(xt, xts, D, perm, v, true);
}

/* The shared-memory form (qn_cuda_glu_slab_form 2, the default): blocks of 512 threads, the row's values as stored kept
 * in shared memory (D floats, dynamic) instead of registers, so a thread holds only one phase's loads (8 slots: 16
 * loads in flight) and three rows share an SM (57 KB each at D = 14336) where the register form (14 values a thread,
 * 45 registers, 1024 threads) runs one row an SM with its load, max and stores one after another. The same values
 * (qn_k_glu's expression), the same max (exact in any order) and the same slab words (qn_xslab_word / _pack), so the
 * same bits. The slab: each warp takes two 32-element blocks at a time (lanes 0-15 block c, 16-31 block c + 16: the
 * same parity, 16 warps), lane w & 15 reads word w's two values from shared memory and stores its 4 bytes. */
template <bool F32>
__global__ void __launch_bounds__(512, 3) qn_k_glu_slab_sm(int op, int dt, const void *g, const void *u, void *y,
                                                           int64_t D, int64_t rows, uint4 *xt, float *xts, int perm) {
    extern __shared__ float hs[];
    __shared__ float shm[32];
    if (F32) dt = QN_DT_F32;
    qn_pdl_begin();
    const int64_t m = blockIdx.x;
    const bool live = m < rows; /* uniform over the block; rows past M only write zeros */
    const int nd = (int)D;     /* D <= 16384 */
    float mx = 0.0f, f = 0.0f, inv;
    if (live) {
        const int64_t base = m * D;
        g = qn_dt_at(dt, g, base), u = qn_dt_at(dt, u, base), y = (void *)qn_dt_at(dt, y, base); /* the row's */
        constexpr int P = 8;
        for (int d0 = threadIdx.x; d0 < nd; d0 += P * 512) {
            float gv[P], uv[P];
#pragma unroll
            for (int k = 0; k < P; k++) {
                const int d = d0 + k * 512;
                gv[k] = 0.0f, uv[k] = 0.0f;
                if (d < nd) gv[k] = qn_ld(dt, g, d), uv[k] = qn_ld(dt, u, d);
            }
#pragma unroll
            for (int k = 0; k < P; k++) {
                const int d = d0 + k * 512;
                if (d < nd) {
                    const float h = qn_act(op, gv[k], 0.0f) * uv[k];
                    qn_st(dt, y, d, h);
                    const float r = qn_rounded(dt, h);
                    hs[d] = r;
                    mx = fmaxf(mx, fabsf(r));
                }
            }
        }
        f = qn_xslab_factor(qn_block_max(mx, shm), &inv); /* its barriers also make hs whole */
        if (threadIdx.x == 0) xts[m] = inv;
    }
    const int lane = threadIdx.x & 31, w = lane & 15, wp = threadIdx.x >> 5; /* 16 warps */
    const int64_t KT = D / QN_XSLAB_BK;
    int k0, k1;
    const int wi = qn_xslab_word(perm, (wp & 1) != 0, w, (int)(m % QN_XSLAB_NB), &k0, &k1);
    for (int c = wp + 16 * (lane >> 4); c < nd / 32; c += 32) {
        const float x0 = live ? hs[c * 32 + k0] : 0.0f, x1 = live ? hs[c * 32 + k1] : 0.0f;
        reinterpret_cast<uint32_t *>(qn_xslab_row(xt, KT, QN_XSLAB_NB, m, c))[wi] = qn_xslab_pack(x0, x1, f);
    }
}

/* QUANTA_CUDA_GLU_SLAB_FORM (qn_cuda_glu_slab_form for benchmarks, -1: read it): 1 the register form, 2 (default) the
 * shared-memory form (H100 09:30: glu+slab 41.6 against 45.0 us at 512 x 14336, 145.9 against 153.3 at 2048, 8.4
 * against 9.9 at 130; the same bits). */
int qn_cuda_glu_slab_form = -1;

template <int S> static int glu_slab_launch(int op, int dt, const void *g, const void *u, void *y, int64_t D, int64_t rows,
                                            int64_t Mt, uint4 *xt, float *xts, int perm, cudaStream_t st) {
    if (dt == QN_DT_F32)
        return qn_launch(qn_k_glu_slab<S, true>, (unsigned)Mt, 1024, 0, st, op, dt, g, u, y, D, rows, xt, xts, perm);
    return qn_launch(qn_k_glu_slab<S, false>, (unsigned)Mt, 1024, 0, st, op, dt, g, u, y, D, rows, xt, xts, perm);
}

extern "C" int qn_cuda_glu_slab(int op, int dtype, const void *gate, const void *up, void *y, int64_t rows, int64_t D,
                                qn_cuda_xslab *slab, void *stream) {
    if (slab) slab->done = 0;
    if (rows <= 0 || D <= 0) return 0;
    const int64_t Mt = (rows + QN_XSLAB_NB - 1) / QN_XSLAB_NB * QN_XSLAB_NB;
    if (!slab || !slab->buf || (slab->perm != 1 && slab->perm != 2) || D % 256 || D > 16384 || Mt > 0x7fffffff)
        return qn_cuda_glu(op, dtype, gate, up, y, rows * D, stream);
    void *xt = NULL;
    float *xts = NULL;
    qn_cuda_ggml_mmq_xprep_split(slab->buf, rows, D, &xt, &xts);
    cudaStream_t st = (cudaStream_t)stream;
    uint4 *t = (uint4 *)xt;
    const int p = slab->perm;
    int form = __atomic_load_n(&qn_cuda_glu_slab_form, __ATOMIC_RELAXED);
    if (form < 0) {
        const char *v = getenv("QUANTA_CUDA_GLU_SLAB_FORM");
        form = v && !strcmp(v, "1") ? 1 : 2;
        __atomic_store_n(&qn_cuda_glu_slab_form, form, __ATOMIC_RELAXED);
    }
    if (form == 2) {
        static std::atomic<int> attr{0}; /* the dynamic shared memory past 48 KB, set once a form */
        auto k = dtype == QN_DT_F32 ? qn_k_glu_slab_sm<true> : qn_k_glu_slab_sm<false>;
        const int bit = dtype == QN_DT_F32 ? 1 : 2;
        if (!(attr.load(std::memory_order_relaxed) & bit)) {
            const cudaError_t ae = cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, 16384 * 4);
            if (ae != cudaSuccess) return (int)ae;
            attr.fetch_or(bit, std::memory_order_relaxed);
        }
        const int e = qn_launch(k, (unsigned)Mt, 512, (size_t)D * 4, st, op, dtype, gate, up, y, D, rows, t, xts, p);
        if (!e) slab->done = 1;
        return e;
    }
    /* slots a thread: the fewest of these that cover D (the 7B's 14336: 14; LLaMA-2's 11008: 12) */
    const int e = D <= 4096    ? glu_slab_launch<4>(op, dtype, gate, up, y, D, rows, Mt, t, xts, p, st)
                  : D <= 8192  ? glu_slab_launch<8>(op, dtype, gate, up, y, D, rows, Mt, t, xts, p, st)
                  : D <= 12288 ? glu_slab_launch<12>(op, dtype, gate, up, y, D, rows, Mt, t, xts, p, st)
                  : D <= 14336 ? glu_slab_launch<14>(op, dtype, gate, up, y, D, rows, Mt, t, xts, p, st)
                               : glu_slab_launch<16>(op, dtype, gate, up, y, D, rows, Mt, t, xts, p, st);
    if (!e) slab->done = 1;
    return e;
}

__global__ void qn_k_softmax(int xd, const void *x, int yd, void *y, int64_t D) {
    __shared__ float sh[32];
    const int64_t base = (int64_t)blockIdx.x * D;
    float mx = -INFINITY;
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x) mx = fmaxf(mx, qn_ld(xd, x, base + d));
    mx = qn_block_max(mx, sh);
    float sum = 0.0f;
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x) sum += expf(qn_ld(xd, x, base + d) - mx);
    sum = qn_block_sum(sum, sh);
    const float inv = 1.0f / sum;
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x) qn_st(yd, y, base + d, expf(qn_ld(xd, x, base + d) - mx) * inv);
}

/* One block per row: each thread keeps its best over a strided part (rising indices: a strict >
 * keeps the first), then a shared-memory tree keeps the larger value, the lower index on ties.
 * Index -2 marks a part holding a NaN (the row's answer is then -1, as for -Inf only). */
__global__ void qn_k_argmax(int xd, const void *x, int32_t *y, int64_t D) {
    __shared__ float sv[1024];
    __shared__ int si[1024];
    const int64_t base = (int64_t)blockIdx.x * D;
    float best = -INFINITY;
    int bi = -1, nan = 0;
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
        const float v = qn_ld(xd, x, base + d);
        if (v != v) nan = 1;
        else if (v > best) best = v, bi = (int)d;
    }
    const int l = threadIdx.x;
    sv[l] = best;
    si[l] = nan ? -2 : bi;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (l < s) {
            const int i0 = si[l], i1 = si[l + s];
            if (i0 == -2 || i1 == -2) si[l] = -2;
            else if (i1 >= 0 && (i0 < 0 || sv[l + s] > sv[l] || (sv[l + s] == sv[l] && i1 < i0)))
                sv[l] = sv[l + s], si[l] = i1;
        }
        __syncthreads();
    }
    if (l == 0) y[blockIdx.x] = si[0] < 0 ? -1 : si[0];
}

extern "C" int qn_cuda_argmax(int x_dtype, const void *x, int32_t *y, int64_t rows, int64_t D, void *stream) {
    if (rows <= 0 || D <= 0) return 0;
    if (rows > 0x7fffffff) return (int)cudaErrorInvalidValue;
    const int threads = D >= 1024 ? 1024 : D >= 256 ? 256 : 64;
    qn_k_argmax<<<(unsigned)rows, threads, 0, (cudaStream_t)stream>>>(x_dtype, x, y, D);
    return qn_cu_launch_status();
}

extern "C" int qn_cuda_softmax(int x_dtype, const void *x, int y_dtype, void *y, int64_t rows, int64_t D,
                               void *stream) {
    if (rows <= 0 || D <= 0) return 0;
    if (rows > 0x7fffffff) return (int)cudaErrorInvalidValue;
    const int threads = D >= 1024 ? 1024 : D >= 256 ? 256 : 64;
    qn_k_softmax<<<(unsigned)rows, threads, 0, (cudaStream_t)stream>>>(x_dtype, x, y_dtype, y, D);
    return qn_cu_launch_status();
}

/* One thread per rotated pair; the dims past rot are copied by the same launch. The angle is
 * formed in f64 like the oracle: positions of 10^5 would lose radians in f32. With x2 (rope_pair: a
 * layer's q and k) the work items past rows0's rows take x2's rows2 rows into y2, each element
 * computed as a rope of x2 alone computes it (the same dtypes, D, N and parameters). */
__global__ void qn_k_rope(int xd, const void *x, int yd, void *y, const int32_t *pos, int64_t rows, int64_t N,
                          int64_t D, int64_t rot, int mode, double base, double fs, const void *x2, void *y2,
                          int64_t rows2) {
    qn_pdl_begin();
    const int64_t half = rot / 2, per_row = half + (D - rot);
    const int64_t total = (rows + (x2 ? rows2 : 0)) * per_row;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t r = i / per_row;
        const int64_t j = i % per_row;
        const void *xs = x;
        void *ys = y;
        if (r >= rows) r -= rows, xs = x2, ys = y2; /* only with x2: total covers rows alone otherwise */
        const int64_t o = r * D;
        if (j >= half) { /* pass-through tail */
            const int64_t d = rot + (j - half);
            qn_st(yd, ys, o + d, qn_ld(xd, xs, o + d));
            continue;
        }
        const double p = (double)pos[r % N] * fs;
        const double theta = p * pow(base, -2.0 * (double)j / (double)rot);
        double sn, cs;
        sincos(theta, &sn, &cs);
        const int64_t a = mode == 0 ? 2 * j : j, b = mode == 0 ? 2 * j + 1 : j + half;
        const double x0 = qn_ld(xd, xs, o + a), x1 = qn_ld(xd, xs, o + b);
        qn_st(yd, ys, o + a, (float)(x0 * cs - x1 * sn));
        qn_st(yd, ys, o + b, (float)(x0 * sn + x1 * cs));
    }
}

static int rope(int x_dtype, const void *x, int y_dtype, void *y, const int32_t *pos, int64_t rows, int64_t N,
                int64_t D, int64_t rot, int mode, float theta_base, float freq_scale, const void *x2, void *y2,
                int64_t rows2, void *stream) {
    if (!x2) rows2 = 0;
    if (rows + rows2 <= 0 || D <= 0 || N <= 0) return 0;
    const double fs = freq_scale != 0.0f ? (double)freq_scale : 1.0;
    const int64_t work = (rows + rows2) * (rot / 2 + (D - rot));
    return qn_launch(qn_k_rope, qn_cu_blocks(work, 256, 132 * 32), 256, 0, (cudaStream_t)stream, x_dtype, x, y_dtype, y,
                     pos, rows, N, D, rot, mode, (double)theta_base, fs, x2, y2, rows2);
}

extern "C" int qn_cuda_rope(int x_dtype, const void *x, int y_dtype, void *y, const int32_t *pos, int64_t rows,
                            int64_t N, int64_t D, int64_t rot, int mode, float theta_base, float freq_scale,
                            void *stream) {
    return rope(x_dtype, x, y_dtype, y, pos, rows, N, D, rot, mode, theta_base, freq_scale, NULL, NULL, 0, stream);
}

extern "C" int qn_cuda_rope_pair(int x_dtype, const void *x, int y_dtype, void *y, const void *x2, void *y2,
                                 int64_t rows2, const int32_t *pos, int64_t rows, int64_t N, int64_t D, int64_t rot,
                                 int mode, float theta_base, float freq_scale, void *stream) {
    return rope(x_dtype, x, y_dtype, y, pos, rows, N, D, rot, mode, theta_base, freq_scale, x2, y2, rows2, stream);
}

/* rope_kv's appends (write_rows_pair's arguments): v NULL for the other rope ops. */
struct qn_kv_args {
    const int32_t *start; /* i32 [1] (rows start.. of the caches) or [N] (a row each) */
    int64_t ns, Nmax;     /* start's length; the caches' rows [B, H, Nmax, D] */
    const void *v;        /* [B, H, N, D] in x's dtype, copied into vc (y's dtype) */
    void *vc;
    int *err;             /* set to 2 (as qn_write_rows_body sets it) for a start outside the caches */
};

/* The cache row that position n goes to (qn_write_rows_body's rule), or -1 when it lies outside the caches (the
 * error flag set as write_rows sets it; report: this block reports a start [1] that does not fit). */
__device__ __forceinline__ int64_t qn_kv_row(const qn_kv_args &kv, int64_t n, int64_t N, bool report) {
    if (kv.ns == 1) {
        const int64_t s0 = kv.start[0];
        if (s0 < 0 || s0 + N > kv.Nmax) {
            if (report && threadIdx.x == 0) atomicExch(kv.err, 2);
            return -1;
        }
        return s0 + n;
    }
    const int64_t r = kv.start[n];
    if (r < 0 || r >= kv.Nmax) {
        if (threadIdx.x == 0) atomicCAS(kv.err, 0, 2);
        return -1;
    }
    return r;
}

/* rms_norm_rope: one block per row; the row's sum of squares, then each thread rotates its pairs of
 * the normed row (kept in f32, as the reference keeps it) and copies its dims past rot, normed. One
 * launch for a q or k norm and its rope (Gemma 3, Qwen 3): two fewer per layer. In place is safe:
 * every element is read by the thread that writes it, after the block's reduction. Without norm
 * (rope_kv of a rope_pair) inv is 1 and there is no weight: x · 1 · 1 is x, so the values are qn_k_rope's.
 * With kv.v (rope_kv) the second input's rows go to their cache rows (row j·Nmax + the start's row for
 * position n, as write_rows puts them) and blocks past both inputs' rows copy v's rows into vc. */
__global__ void qn_k_rms_norm_rope(qn_norm_args a, const int32_t *pos, int64_t N, int64_t rot, int mode, double base,
                                   double fs, int norm, qn_kv_args kv, int early) {
    __shared__ float sh[32];
    /* early (QUANTA_CUDA_ROPE_EARLY=1): the frequency of this thread's first pair, base^(-2j/rot), depends on the
     * arguments alone, so its f64 pow is taken before the wait for the kernel before and overlaps that kernel's
     * tail; the same expression on the same values, so the same angle */
    const int64_t j0 = threadIdx.x;
    const double f0 = early && j0 < rot / 2 ? pow(base, -2.0 * (double)j0 / (double)rot) : 0.0;
    asm volatile("" ::"d"(f0)); /* f0 before the wait: volatile asm keeps its order, so nvcc cannot sink the pow */
    qn_pdl_begin();
    const int64_t b = blockIdx.x, rows1 = a.x2 ? a.rows1 : 0;
    if (kv.v && b >= a.rows0 + rows1) { /* rope_kv: v's row r into its cache row */
        const int64_t r = b - a.rows0 - rows1, dr = qn_kv_row(kv, r % N, N, false); /* k's first block reports */
        if (dr < 0) return;
        const int64_t o = r * a.D, oo = ((r / N) * kv.Nmax + dr) * a.D;
        for (int64_t d = threadIdx.x; d < a.D; d += blockDim.x) qn_st(a.yd, kv.vc, oo + d, qn_ld(a.xd, kv.v, o + d));
        return;
    }
    const bool second = a.x2 && b >= a.rows0; /* rms_norm_rope_pair, rope_kv: the second input's rows */
    if (second) a.x = a.x2, a.w = a.w2, a.wd = a.w2d, a.y = a.y2;
    const int64_t row = second ? b - a.rows0 : b;
    int64_t orow = row; /* the row of y written */
    if (second && kv.v) { /* uniform over the block: it returns before the reduction's barriers or not at all */
        const int64_t dr = qn_kv_row(kv, row % N, N, row == 0);
        if (dr < 0) return;
        orow = (row / N) * kv.Nmax + dr;
    }
    const int64_t o = row * a.D, oo = orow * a.D, half = rot / 2;
    float inv = 1.0f;
    if (norm) {
        float ss = 0.0f;
        for (int64_t d = threadIdx.x; d < a.D; d += blockDim.x) {
            const float v = qn_ld(a.xd, a.x, o + d);
            ss += v * v;
        }
        inv = qn_norm_inv(qn_block_sum(ss, sh), a);
    }
    const double p = (double)pos[row % N] * fs;
    for (int64_t j = threadIdx.x; j < half + (a.D - rot); j += blockDim.x) {
        if (j >= half) { /* pass-through tail, normed */
            const int64_t d = rot + (j - half);
            qn_st(a.yd, a.y, oo + d, qn_ld(a.xd, a.x, o + d) * inv * qn_norm_gain(a, d));
            continue;
        }
        const int64_t ia = mode == 0 ? 2 * j : j, ib = mode == 0 ? 2 * j + 1 : j + half;
        const double x0 = qn_ld(a.xd, a.x, o + ia) * inv * qn_norm_gain(a, ia);
        const double x1 = qn_ld(a.xd, a.x, o + ib) * inv * qn_norm_gain(a, ib);
        const double theta = p * (early && j == j0 ? f0 : pow(base, -2.0 * (double)j / (double)rot));
        double sn, cs;
        sincos(theta, &sn, &cs);
        qn_st(a.yd, a.y, oo + ia, (float)(x0 * cs - x1 * sn));
        qn_st(a.yd, a.y, oo + ib, (float)(x0 * sn + x1 * cs));
    }
}

/* Whether qn_k_rms_norm_rope takes its first pow before the PDL wait: QUANTA_CUDA_ROPE_EARLY=1. Off: on the H100
 * (07:15) Gemma decoded at 1060 / 1079 tok/s with it against 1106 / 1101 without (no gain). Read once; atomic
 * because plans run on any thread. */
static std::atomic<int> rope_early_cache{-1};
static bool rope_early_on() {
    int v = rope_early_cache.load(std::memory_order_relaxed);
    if (v < 0) {
        const char *e = getenv("QUANTA_CUDA_ROPE_EARLY");
        v = e && !strcmp(e, "1");
        rope_early_cache.store(v, std::memory_order_relaxed);
    }
    return v == 1;
}

/* One or (x2 not NULL) two inputs: rows of x, then rows2 of x2 (the same D, N and parameters); norm 0: rotated as
 * they are (no weights); kv (NULL: none): x2's rows into the k cache y2 and v's rows2 rows into kv->vc. */
static int rms_norm_rope(int x_dtype, const void *x, int w_dtype, const void *w, int y_dtype, void *y, const void *x2,
                         int w2_dtype, const void *w2, void *y2, int64_t rows2, const int32_t *pos, int64_t rows,
                         int64_t N, int64_t D, int64_t rot, int mode, float theta_base, float freq_scale, float eps,
                         int plus_one, int norm, const qn_kv_args *kv, void *stream) {
    if (!x2) rows2 = 0;
    const int64_t blocks = rows + rows2 + (kv ? rows2 : 0);
    if (blocks <= 0 || D <= 0 || N <= 0) return 0;
    if (blocks > 0x7fffffff || rot > D || rot % 2) return (int)cudaErrorInvalidValue;
    const int64_t work = rot / 2 + (D - rot);
    const int threads = work >= 256 ? 256 : work >= 128 ? 128 : work >= 64 ? 64 : 32;
    qn_norm_args a;
    a.xd = x_dtype, a.rd = 0, a.wd = w_dtype, a.pd = 0, a.yd = y_dtype, a.plus_one = plus_one;
    a.x = x, a.r = NULL, a.w = norm ? w : NULL, a.p = NULL, a.y = y, a.D = D, a.eps = eps;
    a.xq = NULL, a.dx = NULL, a.sx = NULL, a.xl = NULL, a.sl = NULL;
    a.w2d = w2_dtype, a.x2 = x2, a.w2 = norm ? w2 : NULL, a.y2 = y2, a.rows0 = rows, a.sum_only = 0, a.rows1 = rows2;
    a.xt = NULL, a.xts = NULL, a.perm = 0, a.slab_rows = 0;
    qn_kv_args k;
    memset(&k, 0, sizeof k);
    if (kv) k = *kv;
    const double fs = freq_scale != 0.0f ? (double)freq_scale : 1.0;
    return qn_launch(qn_k_rms_norm_rope, (unsigned)blocks, threads, 0, (cudaStream_t)stream, a, pos, N, rot, mode,
                     (double)theta_base, fs, norm, k, rope_early_on() ? 1 : 0);
}

extern "C" int qn_cuda_rms_norm_rope(int x_dtype, const void *x, int w_dtype, const void *w, int y_dtype, void *y,
                                     const int32_t *pos, int64_t rows, int64_t N, int64_t D, int64_t rot, int mode,
                                     float theta_base, float freq_scale, float eps, int plus_one, void *stream) {
    return rms_norm_rope(x_dtype, x, w_dtype, w, y_dtype, y, NULL, 0, NULL, NULL, 0, pos, rows, N, D, rot, mode,
                         theta_base, freq_scale, eps, plus_one, 1, NULL, stream);
}

extern "C" int qn_cuda_rms_norm_rope_pair(int x_dtype, const void *x, int w_dtype, const void *w, void *y,
                                          const void *x2, int w2_dtype, const void *w2, void *y2, int64_t rows2,
                                          int y_dtype, const int32_t *pos, int64_t rows, int64_t N, int64_t D,
                                          int64_t rot, int mode, float theta_base, float freq_scale, float eps,
                                          int plus_one, void *stream) {
    if (rows2 <= 0) return qn_cuda_rms_norm_rope(x_dtype, x, w_dtype, w, y_dtype, y, pos, rows, N, D, rot, mode,
                                                 theta_base, freq_scale, eps, plus_one, stream);
    return rms_norm_rope(x_dtype, x, w_dtype, w, y_dtype, y, x2, w2_dtype, w2, y2, rows2, pos, rows, N, D, rot, mode,
                         theta_base, freq_scale, eps, plus_one, 1, NULL, stream);
}

extern "C" int qn_cuda_rope_kv(int x_dtype, const void *x, int w_dtype, const void *w, void *y, const void *x2,
                               int w2_dtype, const void *w2, void *kc, int64_t rows2, int y_dtype, const int32_t *pos,
                               int64_t rows, int64_t N, int64_t D, int64_t rot, int mode, float theta_base,
                               float freq_scale, float eps, int plus_one, int norm, const int32_t *start, int64_t ns,
                               int64_t Nmax, const void *v, void *vc, int *err_flag, void *stream) {
    if (rows2 <= 0 || !x2 || !v) return (int)cudaErrorInvalidValue;
    qn_kv_args kv;
    kv.start = start, kv.ns = ns, kv.Nmax = Nmax, kv.v = v, kv.vc = vc, kv.err = err_flag;
    return rms_norm_rope(x_dtype, x, w_dtype, w, y_dtype, y, x2, w2_dtype, w2, kc, rows2, pos, rows, N, D, rot, mode,
                         theta_base, freq_scale, eps, plus_one, norm, &kv, stream);
}
