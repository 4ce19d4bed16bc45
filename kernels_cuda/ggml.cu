/* ggml.cu — matmul and get_rows on the ggml block formats (QUANTA_GGML_*) read straight from
 * the file's bytes (kernels_cuda/ggml_blocks.cuh decodes them).
 *
 * Decode (M <= 8): the activations are first quantized to int8 in chunks of 32 (one f32
 * scale and the two half sums of the codes per chunk, and a second plane of codes for what the
 * first left); the GEMV kernel then gives each weight row one warp (or, for one x row of a long
 * row, 64 or 128 threads), each thread every L-th 32-element chunk (several loaded at once, the
 * first before waiting for the kernel before), and takes the dot product of the codes with dp4a:
 * per chunk and half, d * dx * sum(q * xq) + m * dx * sum(xq). Rows shorter than
 * QN_CUDA_GGML_GEMV_MIN_K take the f32 form of the same kernel. A gated MLP's gate and up rows
 * share a launch, with the activation and the product (matmul_glu), reading both planes.
 * Larger M: the weight is dequantized into the tiled f16 layout of the tensor-core matmul
 * (cuda_kernels.h) in scratch and multiplied there. */
#include <stdlib.h>
#include <string.h>

#include "ggml_xq.cuh"

#define QN_GGML_MAX_M 8

/* ---------------------------------------------------------------- activations */

/* One warp per 32-element chunk: xq codes, dx = max|x| / 127, sums of the codes per half, and the
 * second plane (qn_cuda_ggml_xq_lo). */
__global__ void qn_k_ggml_quantize_x(int xd, const void *x, int64_t M, int64_t K, int8_t *xq, float *dx, int *sx,
                                     int8_t *xl, int *sl) {
    qn_pdl_begin();
    const int64_t nch = K / 32, total = M * nch;
    const int lane = threadIdx.x & 31;
    for (int64_t ch = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) >> 5; ch < total;
         ch += ((int64_t)gridDim.x * blockDim.x) >> 5) {
        const int64_t m = ch / nch, c = ch % nch;
        qn_ggml_quantize_chunk(qn_ld(xd, x, m * K + c * 32 + lane), xq + m * K + c * 32, dx + ch, sx + ch,
                               xl + m * K + c * 32, sl + ch);
    }
}

/* ---------------------------------------------------------------- GEMV (M <= 8) */

/* What a GEMV launch reads and writes. glu: y = act(x . w_gate^T) * (x . w_up^T) with w2 = w_up. */
struct qn_gemv_args {
    const uint8_t *w, *w2;
    size_t rb; /* bytes per weight row */
    int64_t N, K, M;
    const int8_t *xq; /* int8 path: x's codes, scales and half sums (qn_cuda_ggml_xq_split) */
    const float *dx;
    const int *sx;
    const int8_t *xl; /* ...and the second plane (qn_cuda_ggml_xq_lo), read where X2 */
    const int *sl;
    int xd; /* f32 path: x itself */
    const void *x;
    int act, yd;
    void *y;
    int pre; /* the first weight loads before the wait for the predecessor (gemv_prefetch) */
    /* matmul_multi: rows n0 .. n0 + n1 - 1 of the N are wm1's (results in ym1), the rest wm2's (ym2); the
     * first n0 are w's (y). wm1 NULL: one weight. */
    const uint8_t *wm1, *wm2;
    void *ym1, *ym2;
    int64_t n0, n1;
    /* matmul_glu with ocnt set (qn_cuda_ggml_gemv_glu_codes): y's int8 codes as qn_k_ggml_quantize_x makes
     * them (both planes), from the block that completes each 32 outputs; ocnt: one zeroed counter per 32 */
    int8_t *oq, *ol;
    float *odx;
    int *osx, *osl;
    unsigned *ocnt;
};

/* Weight row n (of the launch's N; glu: of w_up where up). */
__device__ __forceinline__ const uint8_t *qn_gemv_wrow(const qn_gemv_args &a, int64_t n, bool up) {
    if (!a.wm1) return (up ? a.w2 : a.w) + (size_t)n * a.rb;
    if (n < a.n0) return a.w + (size_t)n * a.rb;
    if (n < a.n0 + a.n1) return a.wm1 + (size_t)(n - a.n0) * a.rb;
    return a.wm2 + (size_t)(n - a.n0 - a.n1) * a.rb;
}

/* Stores result v of output row n, x row m (matmul_multi: into its weight's result). */
__device__ __forceinline__ void qn_gemv_store(const qn_gemv_args &a, int m, int64_t n, float v) {
    if (!a.wm1 || n < a.n0) qn_st(a.yd, a.y, m * (a.wm1 ? a.n0 : a.N) + n, v);
    else if (n < a.n0 + a.n1) qn_st(a.yd, a.ym1, m * a.n1 + (n - a.n0), v);
    else qn_st(a.yd, a.ym2, m * (a.N - a.n0 - a.n1) + (n - a.n0 - a.n1), v);
}

/* Chunks a lane decodes per round in the int8 path. All their loads are issued before the first
 * dot product, so a lane keeps U chunks in flight (72 bytes of q4_0, 136 of q8_0) rather than one:
 * the one-chunk loop reached 1.1 TB/s (q4_0) of the ~3.3 TB/s an H100 streams, waiting for memory
 * once per chunk. The sums keep their order (chunk t, t + L, ...), so results are unchanged. */
#ifndef QN_GEMV_U /* bench/cuda/build_gemv_bench.sh also builds U = 1 for the side-by-side row */
#define QN_GEMV_U 4
#endif
/* ...but not for q4_0 and q8_0: there U = 4 measured slower than one chunk (H200, 2026-12-05: q4_0 up to
 * 18%, q8_0 1-8%, identical outputs) while the k-quants gained 4-26%; QN_GEMV_U_ALL=1 restores U for
 * every format (the bench's side-by-side rows). */
#ifndef QN_GEMV_U_ALL
#define QN_GEMV_U_ALL 0
#endif

/* x's codes in shared memory (QX: one x row quantized by the GEMV block itself). */
struct qn_xsh {
    const int8_t *xq;
    const float *dx;
    const int *sx;
};

/* One chunk's contribution for x row m: one plane of codes, or both (X2), or from shared memory (SH). */
template <int DT, bool X2, bool SH>
__device__ __forceinline__ float qn_gemv_dot(const qn_gemv_args &a, const qn_xsh &xs, const qn_ggml_chunk &ch, int m,
                                             int64_t c, float acc) {
    if (SH) return qn_ggml_chunk_dot<DT, true>(ch, xs.xq + c * 32, xs.dx + c, xs.sx + c, acc);
    const int64_t nch = a.K / 32, e = m * a.K + c * 32, i = m * nch + c;
    if (X2) return qn_ggml_chunk_dot2<DT>(ch, a.xq + e, a.dx + i, a.sx + i, a.xl + e, a.sl + i, acc);
    return qn_ggml_chunk_dot<DT>(ch, a.xq + e, a.dx + i, a.sx + i, acc);
}

/* Thread t of the L taking row `row`: its share (chunks t, t + L, ...) of row . x row m for m < M,
 * int8 activation codes (dp4a). */
template <int DT, int MC, bool X2, int L, bool PRE, bool SH>
__device__ __forceinline__ void qn_gemv_row_q8(const qn_gemv_args &a, const qn_xsh &xs, const uint8_t *row, int t,
                                               float acc[MC]) {
    const int64_t nch = a.K / 32;
    constexpr int U = !QN_GEMV_U_ALL && (DT == QN_DT_GGML_Q4_0 || DT == QN_DT_GGML_Q8_0) && L == 32 ? 1 : QN_GEMV_U;
    for (int64_t c = t; c < nch; c += L * U) { /* the last round's missing chunks are skipped */
        qn_ggml_chunk ch[U];
#pragma unroll
        for (int u = 0; u < U; u++)
            if (c + L * u < nch) qn_ggml_load_chunk<DT>(row, c + L * u, ch[u]);
        if (PRE && c == t) qn_pdl_wait(); /* the first weight loads are out: now x's codes */
#pragma unroll
        for (int u = 0; u < U; u++)
#pragma unroll
            for (int m = 0; m < MC; m++)
                if (c + L * u < nch && m < a.M) acc[m] = qn_gemv_dot<DT, X2, SH>(a, xs, ch[u], m, c + L * u, acc[m]);
    }
}

/* The same with x in its float dtype and each weight value decoded exactly (qn_ggml_chunk_value):
 * rows shorter than QN_CUDA_GGML_GEMV_MIN_K, where int8 activations would lose too much in a
 * short dot product that cancels, and f32 arithmetic costs nothing that matters. */
template <int DT, int MC>
__device__ __forceinline__ void qn_gemv_row_f32(const qn_gemv_args &a, const uint8_t *row, int t, float acc[MC]) {
    for (int64_t c = t; c < a.K / 32; c += 32) {
        qn_ggml_chunk ch;
        qn_ggml_load_chunk<DT>(row, c, ch);
        for (int e = 0; e < 32; e++) {
            const float v = qn_ggml_chunk_value(ch, e);
#pragma unroll
            for (int m = 0; m < MC; m++)
                if (m < a.M) acc[m] = fmaf(v, qn_ld(a.xd, a.x, m * a.K + c * 32 + e), acc[m]);
        }
    }
}

/* 128 threads a block, L of them (one warp, two or four) per weight row: R = 128 / L rows a block.
 * Plain: R output rows. glu: R / 2 output rows, the first R / 2 row slots taking their w_gate rows,
 * the others their w_up rows. Each warp's sum goes through shared memory; one thread per output
 * and x row adds its row's warps in order and stores (the activation and product for glu). L = 32
 * is the one-warp-per-row kernel as before, with the same sums. Larger L keep more of a long row's
 * chunks in flight at once: fewer rounds per thread, more blocks for the same rows. */
template <int DT, int MC, bool F32X, bool GLU, bool X2, int L, bool QX>
__global__ void __launch_bounds__(128) qn_k_ggml_gemv(qn_gemv_args a) {
    constexpr int R = 128 / L, W = L / 32, OUT = GLU ? R / 2 : R;
    constexpr int QK = QX ? QN_CUDA_GGML_GEMV_QX_MAX_K : 32;
    __shared__ float part[4][MC];
    __shared__ int4 sxq[QK / 16];
    __shared__ float sdx[QK / 32];
    __shared__ int ssx[QK / 32];
    const bool pre = !F32X && !QX && a.pre; /* weight loads before the wait (cuda_common.cuh) */
    qn_pdl_launch();
    const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, slot = threadIdx.x / L;
    const int64_t n = (int64_t)blockIdx.x * OUT + (GLU ? slot % OUT : slot);
    if constexpr (QX) { /* M = 1, K <= QK: the row's first bytes toward L2, then x's codes made here (qn_k_ggml_quantize_x's) */
        const size_t off = (size_t)(threadIdx.x % L) * 128;
        if (a.pre && n < a.N && off < a.rb) asm volatile("prefetch.global.L2 [%0];" ::"l"(qn_gemv_wrow(a, n, false) + off));
        qn_pdl_wait();
        constexpr int PER = QK / 32 / 4;
        const int nch = (int)(a.K / 32);
        float v[PER];
#pragma unroll
        for (int i = 0; i < PER; i++) v[i] = wid + 4 * i < nch ? qn_ld(a.xd, a.x, (wid + 4 * i) * 32 + lane) : 0.0f;
#pragma unroll
        for (int i = 0; i < PER; i++) {
            const int c = wid + 4 * i;
            if (c < nch) qn_ggml_quantize_chunk(v[i], (int8_t *)sxq + c * 32, sdx + c, ssx + c);
        }
        __syncthreads();
    } else {
        if (!pre) qn_pdl_wait();
    }
    const qn_xsh xs = {(const int8_t *)sxq, sdx, ssx};
    if (n < a.N) {
        const uint8_t *row = qn_gemv_wrow(a, n, GLU && slot >= OUT);
        float acc[MC];
#pragma unroll
        for (int m = 0; m < MC; m++) acc[m] = 0.0f;
        if (F32X) qn_gemv_row_f32<DT, MC>(a, row, threadIdx.x % L, acc);
        else if (QX) qn_gemv_row_q8<DT, MC, X2, L, false, true>(a, xs, row, threadIdx.x % L, acc);
        else if (pre) qn_gemv_row_q8<DT, MC, X2, L, true, false>(a, xs, row, threadIdx.x % L, acc);
        else qn_gemv_row_q8<DT, MC, X2, L, false, false>(a, xs, row, threadIdx.x % L, acc);
#pragma unroll
        for (int m = 0; m < MC; m++) {
            float v = acc[m];
            for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
            if (lane == 0) part[wid][m] = v;
        }
    }
    qn_pdl_wait(); /* every thread, also those with no chunk, before any store */
    __syncthreads();
    const int r = threadIdx.x / MC, m = threadIdx.x % MC;
    const int64_t nr = (int64_t)blockIdx.x * OUT + r;
    if (r < OUT && m < a.M && nr < a.N) {
        float v = 0.0f;
#pragma unroll
        for (int k = 0; k < W; k++) v += part[r * W + k][m];
        if (GLU) {
            float u = 0.0f;
#pragma unroll
            for (int k = 0; k < W; k++) u += part[(r + OUT) * W + k][m];
            v = qn_act(a.act, v, 0.0f) * u;
        }
        qn_gemv_store(a, m, nr, v);
    }
}

/* A switch read once from the environment into *cache: on unless it is "0". */
static int gemv_switch_on(const char *name, int *cache) {
    if (*cache < 0) {
        const char *e = getenv(name);
        *cache = !(e && !strcmp(e, "0"));
    }
    return *cache;
}

/* A switch read once from the environment into *cache: on only where it is "1". */
static int gemv_switch_one(const char *name, int *cache) {
    if (*cache < 0) {
        const char *e = getenv(name);
        *cache = e && !strcmp(e, "1");
    }
    return *cache;
}

/* Whether the GEMV issues its first weight loads before it waits for the kernel before it (weights
 * are never written by a step, so they can be read while that kernel finishes): on unless
 * QUANTA_CUDA_GEMV_PREFETCH=0 (side-by-side timings). */
static int gemv_prefetch(void) {
    static int on = -1;
    return gemv_switch_on("QUANTA_CUDA_GEMV_PREFETCH", &on);
}

/* Threads per weight row (qn_k_ggml_gemv's L) for one x row: QUANTA_CUDA_GEMV_LPR = 64 or 128 gives a
 * row 2 or 4 warps (a thread then has at most about four chunks of its row); the default is one warp.
 * Measured on the H100 (2026-12-05 16:40, bench/NOTES.md section 6): one warp decodes the 7B Q4_0 at
 * 317 tok/s against 278 with 64/128 by row length, Q8_0 226 against 212. Several x rows keep one warp. */
static int gemv_lanes(int64_t nch, bool glu) {
    static int forced = -1;
    if (forced < 0) {
        const char *e = getenv("QUANTA_CUDA_GEMV_LPR");
        const int v = e ? atoi(e) : 0;
        forced = v == 32 || v == 64 || v == 128 ? v : 0;
    }
    (void)nch;
    int l = forced ? forced : 32;
    return glu && l > 64 ? 64 : l;
}

template <int DT, bool F32X, bool GLU, bool X2, int L> static int gemv_launch_l(const qn_gemv_args &a, cudaStream_t s) {
    constexpr int OUT = GLU ? 64 / L : 128 / L;
    const dim3 grid((unsigned)((a.N + OUT - 1) / OUT));
    return qn_launch(qn_k_ggml_gemv<DT, 1, F32X, GLU, X2, L, false>, grid, 128, 0, s, a);
}

template <int DT, bool F32X, bool GLU, bool X2> static int gemv_launch_m(const qn_gemv_args &a, cudaStream_t s) {
    const dim3 grid((unsigned)(GLU ? (a.N + 1) / 2 : (a.N + 3) / 4));
    if constexpr (!F32X) {
        if (a.M == 1) {
            const int l = gemv_lanes(a.K / 32, GLU);
            if (l == 128 && !GLU) return gemv_launch_l<DT, F32X, GLU, X2, (GLU ? 64 : 128)>(a, s);
            if (l >= 64) return gemv_launch_l<DT, F32X, GLU, X2, 64>(a, s);
        }
    }
    if (a.M == 1) return qn_launch(qn_k_ggml_gemv<DT, 1, F32X, GLU, X2, 32, false>, grid, 128, 0, s, a);
    if (a.M == 2) return qn_launch(qn_k_ggml_gemv<DT, 2, F32X, GLU, X2, 32, false>, grid, 128, 0, s, a);
    if (a.M <= 4) return qn_launch(qn_k_ggml_gemv<DT, 4, F32X, GLU, X2, 32, false>, grid, 128, 0, s, a);
    return qn_launch(qn_k_ggml_gemv<DT, 8, F32X, GLU, X2, 32, false>, grid, 128, 0, s, a);
}

#include "ggml_gemv_staged.cuh"

template <int DT> static int gemv_launch(const qn_gemv_args &a, bool f32x, bool qx, cudaStream_t s) {
    const bool glu = a.w2 != NULL;
    if constexpr (DT == QN_DT_GGML_Q4_0 || DT == QN_DT_GGML_Q8_0) {
        if (!f32x && !qx && gemv_staged_fits(DT, a, glu))
            return glu ? gemv_staged_launch<DT, true>(a, s) : gemv_staged_launch<DT, false>(a, s);
        if (!f32x && !qx && gemv_flat_fits(DT, a)) return gemv_flat_launch<DT>(a, s);
    }
    if (qx) return qn_launch(qn_k_ggml_gemv<DT, 1, false, false, false, 32, true>, dim3((unsigned)((a.N + 3) / 4)), 128, 0,
                             s, a);
    if (f32x) return glu ? gemv_launch_m<DT, true, true, false>(a, s) : gemv_launch_m<DT, true, false, false>(a, s);
    return glu ? gemv_launch_m<DT, false, true, true>(a, s) : gemv_launch_m<DT, false, false, false>(a, s);
}

extern "C" size_t qn_cuda_ggml_xq_bytes(int64_t M, int64_t K) {
    return 2 * (size_t)M * (size_t)K + 3 * (size_t)M * (size_t)(K / 32) * 4 + 1024;
}

extern "C" int qn_cuda_ggml_quantize_x(int x_dtype, const void *x, int64_t M, int64_t K, void *xq_buf,
                                       void *stream) {
    if (M <= 0 || K <= 0) return 0;
    int8_t *xq, *xl;
    float *dx;
    int *sx, *sl;
    qn_cuda_ggml_xq_split(xq_buf, M, K, &xq, &dx, &sx);
    qn_cuda_ggml_xq_lo(xq_buf, M, K, &xl, &sl);
    const int64_t chunks = M * (K / 32);
    return qn_launch(qn_k_ggml_quantize_x, qn_cu_blocks(chunks * 32, 256, 132 * 16), 256, 0, (cudaStream_t)stream,
                     x_dtype, x, M, K, xq, dx, sx, xl, sl);
}

/* The int8 path (xq_buf from qn_cuda_ggml_quantize_x) or, with xq_buf NULL, the f32 path reading x, or
 * (qx) the int8 path quantizing x itself. The int8 path of matmul_glu reads both planes of the codes. */
static int ggml_gemv(int w_dtype, const void *w, const void *w_up, int act, int64_t N, int64_t K, const void *xq_buf,
                     int x_dtype, const void *x, int64_t M, int y_dtype, void *y, bool qx, void *stream) {
    if (M <= 0 || N <= 0) return 0;
    if (M > QN_GGML_MAX_M || K % qn_ggml_block_elems(w_dtype)) return (int)cudaErrorInvalidValue;
    if (qx && (M != 1 || w_up || K > QN_CUDA_GGML_GEMV_QX_MAX_K || K % 32)) return (int)cudaErrorInvalidValue;
    qn_gemv_args a;
    memset(&a, 0, sizeof a);
    if (xq_buf) {
        qn_cuda_ggml_xq_split((void *)xq_buf, M, K, (int8_t **)&a.xq, (float **)&a.dx, (int **)&a.sx);
        qn_cuda_ggml_xq_lo((void *)xq_buf, M, K, (int8_t **)&a.xl, (int **)&a.sl);
    }
    a.w = (const uint8_t *)w, a.w2 = (const uint8_t *)w_up;
    a.rb = (size_t)(K / qn_ggml_block_elems(w_dtype)) * (size_t)qn_ggml_block_bytes(w_dtype);
    a.N = N, a.K = K, a.M = M, a.xd = x_dtype, a.x = x, a.act = act, a.yd = y_dtype, a.y = y;
    a.pre = gemv_prefetch();
    const bool f32x = xq_buf == NULL && !qx;
    cudaStream_t s = (cudaStream_t)stream;
    QN_GGML_DISPATCH(w_dtype, return gemv_launch<DT>(a, f32x, qx, s))
}

extern "C" int qn_cuda_ggml_gemv(int w_dtype, const void *w, const void *w_up, int act, int64_t N, int64_t K,
                                 const void *xq_buf, int64_t M, int y_dtype, void *y, void *stream) {
    if (!xq_buf) return (int)cudaErrorInvalidValue;
    return ggml_gemv(w_dtype, w, w_up, act, N, K, xq_buf, 0, NULL, M, y_dtype, y, false, stream);
}

/* matmul_multi: nw (2 or 3) weights of one format and K, rows N[i], results y[i], in one launch: as
 * qn_cuda_ggml_gemv (xq_buf), its f32 form (xq_buf NULL, qx 0) or x quantized in the kernel (qx). */
extern "C" int qn_cuda_ggml_gemv_multi(int w_dtype, int nw, const void *const *w, const int64_t *N, int64_t K,
                                       const void *xq_buf, int x_dtype, const void *x, int64_t M, int y_dtype,
                                       void *const *y, int qx, void *stream) {
    if (nw < 2 || nw > 3 || M <= 0) return nw < 2 || nw > 3 ? (int)cudaErrorInvalidValue : 0;
    if (M > QN_GGML_MAX_M || K % qn_ggml_block_elems(w_dtype)) return (int)cudaErrorInvalidValue;
    if (qx && (M != 1 || K > QN_CUDA_GGML_GEMV_QX_MAX_K || K % 32)) return (int)cudaErrorInvalidValue;
    qn_gemv_args a;
    memset(&a, 0, sizeof a);
    if (xq_buf) {
        qn_cuda_ggml_xq_split((void *)xq_buf, M, K, (int8_t **)&a.xq, (float **)&a.dx, (int **)&a.sx);
        qn_cuda_ggml_xq_lo((void *)xq_buf, M, K, (int8_t **)&a.xl, (int **)&a.sl);
    }
    a.w = (const uint8_t *)w[0], a.wm1 = (const uint8_t *)w[1], a.wm2 = nw > 2 ? (const uint8_t *)w[2] : NULL;
    a.y = y[0], a.ym1 = y[1], a.ym2 = nw > 2 ? y[2] : NULL;
    a.n0 = N[0], a.n1 = N[1];
    a.rb = (size_t)(K / qn_ggml_block_elems(w_dtype)) * (size_t)qn_ggml_block_bytes(w_dtype);
    a.N = N[0] + N[1] + (nw > 2 ? N[2] : 0), a.K = K, a.M = M, a.xd = x_dtype, a.x = x, a.yd = y_dtype;
    a.pre = gemv_prefetch();
    if (a.N <= 0) return 0;
    const bool f32x = xq_buf == NULL && !qx;
    cudaStream_t s = (cudaStream_t)stream;
    QN_GGML_DISPATCH(w_dtype, return gemv_launch<DT>(a, f32x, qx != 0, s))
}

/* matmul_glu at M = 1 whose result y (f32, N a multiple of 32) also gets its int8 codes in yq_buf (laid out as
 * qn_cuda_ggml_quantize_x's), so the next GEMV on y needs no quantize launch: only where the staged kernel
 * runs; cudaErrorNotSupported elsewhere (the caller takes the plain route). counters: N / 32 zeroed
 * unsigneds, left zeroed. */
extern "C" int qn_cuda_ggml_gemv_glu_codes(int w_dtype, const void *w, const void *w_up, int act, int64_t N, int64_t K,
                                           const void *xq_buf, int y_dtype, void *y, void *yq_buf, unsigned *counters,
                                           void *stream) {
    if (N <= 0 || N % 32 || y_dtype != QN_DT_F32 || !w || !w_up || !xq_buf || !yq_buf || !counters ||
        K % qn_ggml_block_elems(w_dtype))
        return (int)cudaErrorNotSupported;
    qn_gemv_args a;
    memset(&a, 0, sizeof a);
    qn_cuda_ggml_xq_split((void *)xq_buf, 1, K, (int8_t **)&a.xq, (float **)&a.dx, (int **)&a.sx);
    qn_cuda_ggml_xq_lo((void *)xq_buf, 1, K, (int8_t **)&a.xl, (int **)&a.sl);
    qn_cuda_ggml_xq_split(yq_buf, 1, N, &a.oq, &a.odx, &a.osx);
    qn_cuda_ggml_xq_lo(yq_buf, 1, N, &a.ol, &a.osl);
    a.ocnt = counters;
    a.w = (const uint8_t *)w, a.w2 = (const uint8_t *)w_up;
    a.rb = (size_t)(K / qn_ggml_block_elems(w_dtype)) * (size_t)qn_ggml_block_bytes(w_dtype);
    a.N = N, a.K = K, a.M = 1, a.act = act, a.yd = y_dtype, a.y = y;
    a.pre = gemv_prefetch();
    if (!gemv_staged_fits(w_dtype, a, true)) return (int)cudaErrorNotSupported;
    cudaStream_t s = (cudaStream_t)stream;
    if (w_dtype == QN_DT_GGML_Q4_0) return gemv_staged_launch<QN_DT_GGML_Q4_0, true>(a, s);
    return gemv_staged_launch<QN_DT_GGML_Q8_0, true>(a, s); /* gemv_staged_fits: q4_0 or q8_0 */
}

extern "C" int qn_cuda_ggml_gemv_qx(int w_dtype, const void *w, int64_t N, int64_t K, int x_dtype, const void *x,
                                    int y_dtype, void *y, void *stream) {
    return ggml_gemv(w_dtype, w, NULL, 0, N, K, NULL, x_dtype, x, 1, y_dtype, y, true, stream);
}

extern "C" int qn_cuda_ggml_gemv_f32(int w_dtype, const void *w, const void *w_up, int act, int64_t N, int64_t K,
                                     int x_dtype, const void *x, int64_t M, int y_dtype, void *y, void *stream) {
    return ggml_gemv(w_dtype, w, w_up, act, N, K, NULL, x_dtype, x, M, y_dtype, y, false, stream);
}

/* ---------------------------------------------------------------- dequantization */

/* One thread per chunk: the chunk's 32 values in the tiled f16 layout (to_tiled) or as rows of
 * out_dtype (get_rows: row `ids[t]` of the table into row t of out). */
template <int DT>
__global__ void qn_k_ggml_to_tiled(const uint8_t *w, size_t rb, int64_t N, int64_t K, int64_t Np, int64_t Kp,
                                   uint8_t *codes, float *row_scale) {
    const int64_t nch = Kp / 32, total = Np * nch;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t n = i / nch, c = i % nch;
        if (c == 0) row_scale[n] = 1.0f;
        qn_ggml_chunk ch;
        const bool live = n < N && c * 32 < K;
        if (live) qn_ggml_load_chunk<DT>(w + (size_t)n * rb, c, ch);
        for (int e = 0; e < 32; e++) {
            int shift;
            const size_t off = qn_cuda_weight_code_offset(QN_CW_F16, Kp, n, c * 32 + e, &shift);
            *(__half *)(codes + off) = __float2half_rn(live ? qn_ggml_chunk_value(ch, e) : 0.0f);
        }
    }
}

template <int DT>
__global__ void qn_k_ggml_get_rows(const uint8_t *w, size_t rb, int64_t V, int64_t K, const int32_t *ids, int64_t T,
                                   int od, void *out, int *err) {
    const int64_t nch = K / 32, total = T * nch;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t t = i / nch, c = i % nch;
        const int32_t id = ids[t];
        if (id < 0 || id >= V) {
            if (c == 0) atomicExch(err, 1);
            continue;
        }
        qn_ggml_chunk ch;
        qn_ggml_load_chunk<DT>(w + (size_t)id * rb, c, ch);
        for (int e = 0; e < 32; e++) qn_st(od, out, t * K + c * 32 + e, qn_ggml_chunk_value(ch, e));
    }
}

extern "C" size_t qn_cuda_ggml_tiled_bytes(int64_t N, int64_t K) {
    const int64_t Np = (N + 15) / 16 * 16, Kp = (K + 63) / 64 * 64;
    return ((size_t)Np * (size_t)Kp * 2 + 255) / 256 * 256 + ((size_t)Np * 4 + 255) / 256 * 256 + 256;
}

extern "C" int qn_cuda_ggml_to_tiled(int w_dtype, const void *w, int64_t N, int64_t K, void *buf,
                                     qn_cuda_weight *out, void *stream) {
    if (N <= 0 || K <= 0 || K % qn_ggml_block_elems(w_dtype)) return (int)cudaErrorInvalidValue;
    const int64_t Np = (N + 15) / 16 * 16, Kp = (K + 63) / 64 * 64;
    uint8_t *codes = (uint8_t *)buf;
    float *rs = (float *)(codes + ((size_t)Np * (size_t)Kp * 2 + 255) / 256 * 256);
    const uint32_t *meta = (const uint32_t *)((uint8_t *)rs + ((size_t)Np * 4 + 255) / 256 * 256);
    const size_t rb = (size_t)(K / qn_ggml_block_elems(w_dtype)) * (size_t)qn_ggml_block_bytes(w_dtype);
    const unsigned nb = qn_cu_blocks(Np * (Kp / 32), 256, 132 * 16);
    cudaStream_t s = (cudaStream_t)stream;
    QN_GGML_DISPATCH(w_dtype, (qn_k_ggml_to_tiled<DT><<<nb, 256, 0, s>>>((const uint8_t *)w, rb, N, K, Np, Kp, codes, rs)));
    out->fmt = QN_CW_F16;
    out->N = N, out->K = K, out->Np = Np, out->Kp = Kp;
    out->group = 0;
    out->codes = codes;
    out->row_scale = rs;
    out->meta = meta;
    return qn_cu_launch_status();
}

extern "C" int qn_cuda_ggml_get_rows(int w_dtype, const void *w, int64_t V, int64_t K, const int32_t *ids, int64_t T,
                                     int out_dtype, void *out, int *err_flag, void *stream) {
    if (T <= 0 || K <= 0) return 0;
    if (K % qn_ggml_block_elems(w_dtype)) return (int)cudaErrorInvalidValue;
    const size_t rb = (size_t)(K / qn_ggml_block_elems(w_dtype)) * (size_t)qn_ggml_block_bytes(w_dtype);
    const unsigned nb = qn_cu_blocks(T * (K / 32), 128, 132 * 16);
    cudaStream_t s = (cudaStream_t)stream;
    QN_GGML_DISPATCH(w_dtype, (qn_k_ggml_get_rows<DT><<<nb, 128, 0, s>>>((const uint8_t *)w, rb, V, K, ids, T, out_dtype,
                                                                        out, err_flag)));
    return qn_cu_launch_status();
}
