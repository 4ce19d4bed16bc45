/*
 * cuda_kernels.h — C-callable launchers of the CUDA backend's kernels (the .cu files here),
 * used by the host code in engine/cuda/. Every launcher is asynchronous on `stream`
 * (a cudaStream_t), returns 0 or a cudaError_t value, and never aborts. Pointers are device
 * pointers. dtype arguments are quanta_dtype values (f32, f16, bf16 unless stated).
 */
#ifndef QUANTA_KERNELS_CUDA_KERNELS_H
#define QUANTA_KERNELS_CUDA_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "layout.h"    /* formats/: dtype codes, format constants, qn_quant_layout */
#include "unary_ops.h" /* base/: the unary kernels' op codes (qn_cuda_unary's op) and constants */

#ifdef __cplusplus
extern "C" {
#endif

/* The layout helpers below are also called from kernels (the ggml dequantizer writes tiles). */
#ifdef __CUDACC__
#define QN_HD __host__ __device__
#else
#define QN_HD
#endif

/* ---------------------------------------------------------------- weights
 * Weights prepared for the tensor-core matmul (engine/cuda/cuda_repack.c writes them):
 * W[N,K] becomes tiles of 16 rows x 64 columns, each tile laid out so that lane l of a warp
 * reads its mma.sync A-fragments for the tile's four k16 steps with 16-byte loads. Codes are
 * small integers or fp8 values that convert exactly to f16; what the codes do not carry is a
 * per-group f16 multiplier (q4, nf4) and a per-row f32 factor applied to the f32 sums. */
enum {
    QN_CW_F16 = 0,  /* f16 values (from f16, or bf16 scaled by a power of two per row) */
    QN_CW_Q8 = 1,   /* int8 codes, per-row scale */
    QN_CW_E4M3 = 2, /* fp8 e4m3 codes, per-row scale */
    QN_CW_E5M2 = 3, /* fp8 e5m2 codes, per-row scale */
    QN_CW_Q4 = 4,   /* 4-bit codes, per-group (f16 scale, zero), per-row power of two */
    QN_CW_NF4 = 5,  /* NF4 codes, per-block f16 absmax, per-row power of two */
    QN_CW_COUNT
};

#define QN_CW_TILE_ROWS 16
#define QN_CW_TILE_K 64

typedef struct qn_cuda_weight {
    int fmt;                  /* QN_CW_* */
    int64_t N, K;             /* logical shape */
    int64_t Np, Kp;           /* padded to multiples of 16 and 64 */
    int32_t group;            /* q4 group / nf4 block along K (0 for per-row formats) */
    const void *codes;        /* tiles [Np/16][Kp/64][32 lanes][tile bytes / 32]; fp820: NULL for e4m3 codes K-major only */
    const float *row_scale;   /* [Np] f32 factor per row */
    const uint32_t *meta;     /* q4/nf4: [Np][Kp/group] u32: low half f16 multiplier, high half f16 (1024 + zero) */
    /* fp818: e4m3 only, with QUANTA_CUDA_FP8_SS=1 at prepare time: a second copy of the codes in the K-major
     * layout of qn_cuda_fp8_km_offset, for the FP8 GEMM's both-operands-from-shared-memory form; else NULL.
     * Last in the struct: bench/cuda/fp8_pair.py's ctypes mirror of the fields before it stays valid.
     * fp820: with codes NULL (QUANTA_CUDA_FP8_KM=1), the weight's only codes: the decode GEMV (qn_cuda_matmul_q) and
     * the FP8 GEMM (its SS forms) both read them. */
    const void *codes_k;
} qn_cuda_weight;

static inline QN_HD int qn_cuda_weight_bits(int fmt) {
    return fmt == QN_CW_F16 ? 16 : (fmt == QN_CW_Q4 || fmt == QN_CW_NF4) ? 4 : 8;
}
/* Bytes of the tiled codes of a [Np, Kp] weight in format fmt (caller checks overflow). */
static inline size_t qn_cuda_weight_code_bytes(int fmt, int64_t Np, int64_t Kp) {
    return (size_t)Np * (size_t)Kp * (size_t)qn_cuda_weight_bits(fmt) / 8;
}
/*
 * Byte offset inside the tiled codes of element (n, k), and the bit shift of its nibble for
 * 4-bit formats. Lane l = 4g + t of a warp holds, per k16 step, the eight elements of its
 * m16n8k16 A-fragment in the order E = (g,2t) (g,2t+1) (g+8,2t) (g+8,2t+1) (g,2t+8)
 * (g,2t+9) (g+8,2t+8) (g+8,2t+9). 16-bit and 8-bit codes are stored in that order; q4 puts
 * E[2j] in nibble j and E[2j+1] in nibble 4+j of the step's 32-bit word, so that
 * (word >> 4j) & 0x000F000F yields the f16x2 register j after an OR with 0x6400 (1024 + q);
 * nf4 keeps E[2j] / E[2j+1] in the low / high nibble of byte j (a byte -> f16x2 table).
 */
static inline QN_HD size_t qn_cuda_weight_code_offset(int fmt, int64_t Kp, int64_t n, int64_t k, int *shift) {
    const int bits = qn_cuda_weight_bits(fmt);
    const size_t tile_bytes = (size_t)(QN_CW_TILE_ROWS * QN_CW_TILE_K * bits / 8), lane_bytes = tile_bytes / 32;
    const int64_t nt = n / 16, kt = k / 64;
    const int r = (int)(n % 16), kk = (int)(k % 64);
    const int ks = kk / 16, kin = kk % 16, g = r % 8, hi_row = r / 8, t = (kin % 8) / 2, hi_k = kin / 8;
    const int pair = kin % 2, lane = g * 4 + t, e = hi_k * 4 + hi_row * 2 + pair;
    size_t within;
    *shift = 0;
    if (bits == 16) {
        within = (size_t)(ks * 16 + e * 2);
    } else if (bits == 8) {
        within = (size_t)(ks * 8 + e);
    } else if (fmt == QN_CW_Q4) {
        const int nib = (e % 2 == 0) ? e / 2 : 4 + e / 2;
        within = (size_t)(ks * 4 + nib / 2);
        *shift = (nib % 2) * 4;
    } else {
        within = (size_t)(ks * 4 + e / 2);
        *shift = (e % 2) * 4;
    }
    return ((size_t)nt * (size_t)(Kp / 64) + (size_t)kt) * tile_bytes + (size_t)lane * lane_bytes + within;
}

/*
 * fp818: the e4m3 codes K-major, [Np][Kp] bytes (row n at n * Kp, zeros past N and K), for wgmma with both
 * operands from shared memory (matmul_fp8_wg.cu, QUANTA_CUDA_FP8_SS): a TMA box of 128 rows x 128 bytes with the
 * 128-byte swizzle lands in wgmma's K-major SW128 canonical layout, which no box of the tiled layout above can
 * (rows g and g + 8 interleave there in 2-byte units). Inside each 16 bytes of a row, byte p holds
 * k = 16 (k / 16) + qn_cuda_fp8_kperm(p): the order the FP8 GEMM's quantizer writes the token codes in (it was
 * chosen so that the tiled layout's lane bytes become wgmma's 8-bit A fragments with byte permutes); a K
 * permutation shared by both operands leaves every sum as it is.
 */
static inline QN_HD int qn_cuda_fp8_kperm(int p) { return 2 * (p >> 2) + (p & 1) + 8 * ((p >> 1) & 1); }
static inline QN_HD size_t qn_cuda_fp8_km_offset(int64_t Kp, int64_t n, int64_t k) {
    const int kk = (int)(k & 15); /* the inverse of qn_cuda_fp8_kperm: k = 2t + i0 + 8 i1 -> p = 4t + i0 + 2 i1 */
    return (size_t)n * (size_t)Kp + (size_t)(k - kk) + (size_t)(4 * ((kk & 7) >> 1) + (kk & 1) + 2 * (kk >> 3));
}

/* ---------------------------------------------------------------- matmul */

/* Scratch for qn_cuda_matmul_q: activations as f16 in fragment order + split-K partials. */
size_t qn_cuda_matmul_q_scratch(const qn_cuda_weight *w, int64_t M, int sms);
/* y[M,N] (y_dtype) = x[M,K] (x_dtype) . W^T with W prepared. counters (ncounters unsigned
 * ints, zero before the first call; every call leaves them zero) let split-K reduce inside the
 * matmul kernel; NULL costs one more launch. */
#define QN_CUDA_MATMUL_COUNTERS 65536
int qn_cuda_matmul_q(const qn_cuda_weight *w, int x_dtype, const void *x, int y_dtype, void *y, int64_t M,
                     void *scratch, size_t scratch_bytes, unsigned *counters, size_t ncounters, int sms,
                     void *stream);
/* Batches of at least this many rows use the block-tiled prefill kernel, smaller ones the
 * streaming kernel (0: never the prefill kernel; for benchmarks and tests). Default 65. */
extern int qn_cuda_matmul_big_min_m;
/* fp821: the decode GEMV's form on K-major e4m3 codes (codes NULL): 0 = fp820's (2 row tiles a warp), 1-7 =
 * qn_k_mmq_kmw's forms (one row tile a block, its warps along K; 5-6 with programmatic dependent launch, 7 = 5 or 6
 * by M: matmul_q.cu qn_kmw_forms); -1 (default): the switch QUANTA_CUDA_FP8_KMG (one digit), else matmul_q.cu's
 * QN_KMW_FORM_DEFAULT (7). For benches and tests. */
extern int qn_cuda_matmul_km_form;
#define QN_CUDA_MATMUL_KM_FORMS 8
/* FP8 x FP8 on Hopper's wgmma (kernels_cuda/matmul_fp8_wg.cu, QUANTA_CUDA_FP8_WGMMA=1): e4m3 weights (QN_CW_E4M3)
 * times x quantized per token to e4m3 (scale max|x_row| / 448), f32 sums, y in y_dtype. Returns -1 (nothing
 * launched) where it does not apply: another format, a device other than compute capability 9.0, or M below
 * QN_CUDA_FP8_WG_MIN_M (there the weight-streaming kernel with split-K keeps the GPU busy and the weight bytes
 * are the same 1 byte either way). Scratch: qn_cuda_fp8_scratch_bytes(M, w->Kp, sms) (the codes, qn_cuda_fp8_x_bytes,
 * and with QUANTA_CUDA_FP8_SK the stream-K slots); counters as qn_cuda_matmul_q's (stream-K's flags: 2 x sms of
 * them; NULL: no stream-K). */
#define QN_CUDA_FP8_WG_MIN_M 64
size_t qn_cuda_fp8_x_bytes(int64_t M, int64_t Kp);
size_t qn_cuda_fp8_scratch_bytes(int64_t M, int64_t Kp, int sms);
/* fp820: whether the FP8 GEMM serves an e4m3 weight with K-major codes only (codes NULL) at every M >= its
 * QN_CUDA_FP8_WG_MIN_M: an sm_90a device and a TMA form of QUANTA_CUDA_FP8_V2 with clusters of 1 (the default 0ts). */
int qn_cuda_fp8_km_ok(void);
int qn_cuda_matmul_fp8(const qn_cuda_weight *w, int x_dtype, const void *x, int y_dtype, void *y, int64_t M,
                       void *scratch, size_t scratch_bytes, unsigned *counters, size_t ncounters, int sms, void *stream);
/* Its two launches, for bench/cuda/fp8_check.cu: x[M,K] to per-token e4m3 codes (K padded to Kp, a multiple
 * of 64, with zeros) and scales in buf; the GEMM on them (tile 0: picked by grid size; 1-4 force 128x256,
 * 128x128, 64x128, 64x64 weight rows x tokens). The codes' layout: qn_cuda_fp8_x_split and matmul_fp8_wg.cu. */
int qn_cuda_fp8_quantize_x(int x_dtype, const void *x, int64_t M, int64_t K, int64_t Kp, void *buf, void *stream);
int qn_cuda_fp8_gemm(const qn_cuda_weight *w, const void *buf, int64_t M, int y_dtype, void *y, int tile, int sms,
                     void *stream);
/* The same with K split `splits` ways (f32 partials in part, splits * M * N floats, summed in a fixed order by a
 * second launch): a candidate timed by fp8_check for M <= 512, where the wide tiles alone leave SMs idle; the
 * engine does not take it (yet). Under a TMA form of QUANTA_CUDA_FP8_V2 (the default since fp813) it has none:
 * cudaErrorInvalidValue; matmul_fp8_wg.h's qn_cuda_fp8_gemm_cl names a split form explicitly. */
int qn_cuda_fp8_gemm_split(const qn_cuda_weight *w, const void *buf, int64_t M, int y_dtype, void *y, int tile,
                           int splits, float *part, int sms, void *stream);
void qn_cuda_fp8_x_split(void *buf, int64_t M, int64_t Kp, uint8_t **xq, float **sx);

/* Dense fallback: y[M,N] = x[M,K] . w[N,K]^T, any float dtypes, f32 accumulation. */
int qn_cuda_matmul_dense(int x_dtype, const void *x, int w_dtype, const void *w, int y_dtype, void *y, int64_t M,
                         int64_t N, int64_t K, void *stream);

/* ---------------------------------------------------------------- ggml block formats
 * Weights of the QUANTA_GGML_* dtypes, used as the file stores them (kernels_cuda/ggml.cu). */

/* Largest M of the GEMV path; larger M go through qn_cuda_ggml_to_tiled + qn_cuda_matmul_q. */
#define QN_CUDA_GGML_GEMV_MAX_M 8
/* Smallest K of the int8 GEMV. Its int8 activations (one scale per 32) leave a relative error
 * that averages out over long rows but not in a short dot product that cancels (conformance on
 * the H200: NMSE up to 4e-2 at K = 32, one output); shorter rows take the GEMV's f32 form
 * (qn_cuda_ggml_gemv_f32), which decodes each weight exactly and keeps x in f32 (the f16
 * tensor-core path rounded x to 11 bits: NMSE 1e-3 on one output of K = 256 whose true value
 * had cancelled to 2e-3, H100 2026-12-05). */
#define QN_CUDA_GGML_GEMV_MIN_K 512
/* Bytes of the int8 activation buffer for x[M,K] (K a multiple of 32). */
size_t qn_cuda_ggml_xq_bytes(int64_t M, int64_t K);
/* Its parts: the codes xq[M*K], then (256-byte aligned) one scale dx and one pair of half sums sx
 * (low 16 bits: first 16 codes, high: last 16) per chunk of 32. */
static inline void qn_cuda_ggml_xq_split(void *buf, int64_t M, int64_t K, int8_t **xq, float **dx, int **sx) {
    *xq = (int8_t *)buf;
    *dx = (float *)(*xq + ((size_t)M * (size_t)K + 255) / 256 * 256);
    *sx = (int *)(*dx + (size_t)M * (size_t)(K / 32));
}
/* ...and after them (256-byte aligned) the second plane: codes xl[M*K] of what the first left,
 * x - dx * xq = (dx / 254) * xl, and their half sums sl. Both planes together carry x to about
 * 2^-16 of a chunk's largest value (the gated GEMV, where one plane's error is multiplied). */
static inline void qn_cuda_ggml_xq_lo(void *buf, int64_t M, int64_t K, int8_t **xl, int **sl) {
    int8_t *xq;
    float *dx;
    int *sx;
    qn_cuda_ggml_xq_split(buf, M, K, &xq, &dx, &sx);
    *xl = (int8_t *)buf + ((size_t)((char *)(sx + (size_t)M * (size_t)(K / 32)) - (char *)buf) + 255) / 256 * 256;
    *sl = (int *)(*xl + ((size_t)M * (size_t)K + 255) / 256 * 256);
}
/* x[M,K] (any float dtype) quantized to int8 chunks of 32 in xq_buf. */
int qn_cuda_ggml_quantize_x(int x_dtype, const void *x, int64_t M, int64_t K, void *xq_buf, void *stream);
/* y[M,N] = x . W^T for M <= QN_CUDA_GGML_GEMV_MAX_M, x given as qn_cuda_ggml_quantize_x left it; with w_up
 * not NULL (same format and shape as w), y = act(x . W^T) * (x . W_up^T) (matmul_glu; act: QN_UNARY_SILU,
 * _GELU or _GELU_TANH). */
int qn_cuda_ggml_gemv(int w_dtype, const void *w, const void *w_up, int act, int64_t N, int64_t K, const void *xq_buf,
                      int64_t M, int y_dtype, void *y, void *stream);
/* matmul_glu at M = 1 (f32 y, N a multiple of 32) that also leaves y's codes in yq_buf (laid out as
 * qn_cuda_ggml_quantize_x's, the same codes) for the GEMV after it; cudaErrorNotSupported where its kernel does
 * not run (q4_0 / q8_0 rows of a multiple of 256). counters: N / 32 zeroed unsigneds, left zeroed. */
int qn_cuda_ggml_gemv_glu_codes(int w_dtype, const void *w, const void *w_up, int act, int64_t N, int64_t K,
                                const void *xq_buf, int y_dtype, void *y, void *yq_buf, unsigned *counters,
                                void *stream);
/* The same from x itself (any float dtype) with f32 arithmetic: the rows shorter than
 * QN_CUDA_GGML_GEMV_MIN_K. */
int qn_cuda_ggml_gemv_f32(int w_dtype, const void *w, const void *w_up, int act, int64_t N, int64_t K, int x_dtype,
                          const void *x, int64_t M, int y_dtype, void *y, void *stream);
/* y[1,N] = x[1,K] . W^T on the int8 GEMV, each block quantizing x itself into shared memory (the same codes
 * as qn_cuda_ggml_quantize_x, so the same results): no quantize launch, for K <= QN_CUDA_GGML_GEMV_QX_MAX_K
 * (K a multiple of 32). Meant for small weights, where every block reading all of x costs little. */
#define QN_CUDA_GGML_GEMV_QX_MAX_K 2048
int qn_cuda_ggml_gemv_qx(int w_dtype, const void *w, int64_t N, int64_t K, int x_dtype, const void *x, int y_dtype,
                         void *y, void *stream);
/* matmul_multi: y[i][M,N[i]] = x . W[i]^T for nw (2 or 3) weights of one format and K, in one launch: with
 * xq_buf as qn_cuda_ggml_gemv, without it the f32 form (qx 0) or, for M = 1 and K <= QN_CUDA_GGML_GEMV_QX_MAX_K,
 * x quantized in the kernel (qx 1). */
int qn_cuda_ggml_gemv_multi(int w_dtype, int nw, const void *const *w, const int64_t *N, int64_t K, const void *xq_buf,
                            int x_dtype, const void *x, int64_t M, int y_dtype, void *const *y, int qx, void *stream);
/* Scratch bytes of qn_cuda_ggml_to_tiled for W[N,K]. */
size_t qn_cuda_ggml_tiled_bytes(int64_t N, int64_t K);
/* W dequantized into buf in the tiled f16 layout; *out describes it for qn_cuda_matmul_q. */
int qn_cuda_ggml_to_tiled(int w_dtype, const void *w, int64_t N, int64_t K, void *buf, qn_cuda_weight *out,
                          void *stream);
/* Scratch bytes of qn_cuda_ggml_mmq for x[M,K] and W[N,K] (its f16 activations and row scales; with
 * QUANTA_CUDA_GGML_MMQ=14 or 15 at M > 64 also W dequantized to f16, N x K x 2 bytes). */
size_t qn_cuda_ggml_mmq_scratch(int64_t M, int64_t N, int64_t K);
/* y[M,N] = x[M,K] . W^T on tensor cores, W's ggml blocks decoded into shared memory per block
 * tile (kernels_cuda/ggml_mmq.cu): any M, for the M and K the GEMV does not take. */
int qn_cuda_ggml_mmq(int w_dtype, const void *w, int64_t N, int64_t K, int x_dtype, const void *x, int64_t M,
                     int y_dtype, void *y, void *scratch, size_t scratch_bytes, int sms, void *stream);
/* The same, keeping the sm_90a route's activation prep (=17: x in f16, tiled, row scales) in xp (xp_bytes >=
 * qn_cuda_ggml_mmq_xprep_bytes(M, K)) for the next call on the same x (q/k/v, gate/up: mmq17). *xhave: in, what an
 * earlier call left in xp for this very x (its contents unchanged since; 0: nothing or unknown); out, what xp holds
 * for it now (0: nothing usable). The prep runs only where xp does not already hold this weight format's. */
int qn_cuda_ggml_mmq_x(int w_dtype, const void *w, int64_t N, int64_t K, int x_dtype, const void *x, int64_t M,
                       int y_dtype, void *y, void *scratch, size_t scratch_bytes, void *xp, size_t xp_bytes, int *xhave,
                       int sms, void *stream);
size_t qn_cuda_ggml_mmq_xprep_bytes(int64_t M, int64_t K);
/* mmq22 (QUANTA_CUDA_GGML_GROUP): y[i] = x . W_i^T for n (1..3) weights of one format and K (N[i] rows each: q / k / v,
 * gate / up), the prep kept in xp as qn_cuda_ggml_mmq_x keeps it (xp, xp_bytes and *xhave as there; scratch of
 * qn_cuda_ggml_mmq_multi_scratch bytes). mode 0: one call of qn_cuda_ggml_mmq_x per weight; 1: consecutive weights of
 * one N as one grid on the sm_90a route (kernels_cuda/ggml_mmq_rsi_wg.cu qn_rsi_go_grp: the K split each would take
 * alone, the tile by the table on the whole grid: the same bits as mode 0), the rest one by one; 3: as 1 with the tile
 * each would take alone too; 2: all of them as one grid with the table's pick for their tiles together (no split where
 * each alone splits: other sums), else as 1. The weights stay separate tensors. */
int qn_cuda_ggml_mmq_multi(int mode, int w_dtype, int n, const void *const *w, const int64_t *N, int64_t K, int x_dtype,
                           const void *x, int64_t M, int y_dtype, void *const *y, void *scratch, size_t scratch_bytes,
                           void *xp, size_t xp_bytes, int *xhave, int sms, void *stream);
size_t qn_cuda_ggml_mmq_multi_scratch(int n, const int64_t *N, int64_t M, int64_t K);
/* Where in xp (above) the slab (f16, 256-token tiles, kernels_cuda/ggml_xslab.cuh) and the rows' scales lie. */
void qn_cuda_ggml_mmq_xprep_split(void *xp, int64_t M, int64_t K, void **xt, float **xscale);
/* The kept prep a norm may write too (mmq18, on unless QUANTA_CUDA_GGML_NORM_SLAB=0): buf of qn_cuda_ggml_mmq_xprep_bytes(rows, D)
 * bytes, perm the K order of the GEMM that reads it (1: Q4_0, 2: Q8_0: qn_cuda_ggml_mmq_x's *xhave); done (out): 1
 * when the norm wrote it (its result's slab, exactly as the prep makes it from the result as stored: D a multiple of
 * 256 and a row in registers), else 0. */
typedef struct qn_cuda_xslab {
    void *buf;
    int perm;
    int done;
} qn_cuda_xslab;
/* Its kernel: 5 decodes each block tile into an f16 stage in shared memory (ggml_mmq.cu), 6 each lane's
 * mma fragments from the staged raw bytes (ggml_mmq_frag.cu), 7 the same fragments on wgmma where that is
 * faster (ggml_mmq_wg.cu: M > 64 on compute capability 9.0, wide weights; else 6), 16 the register-A wgmma kernel
 * for Q4_0 / Q8_0 (ggml_mmq_rs_wg.cu; else 7); -1 (the start): QUANTA_CUDA_GGML_MMQ=5, 6, 7, ... gives that, unset
 * 16 where it applies (ggml_mmq.cu's qn_gmmq_route), read at the first call. Benchmarks set it to time
 * several in one process. */
extern int qn_cuda_ggml_mmq_kernel;
/* Its tile, forced (kernels_cuda/ggml_mmq.cuh lists them: 1 = 128x128 ... 6 = 128x128b2, 7 = wg128x128 ...
 * 11 = wg256x128), 0 picked by grid size; -1 (the start): from QUANTA_CUDA_GGML_MMQ_TILE at the first call. */
extern int qn_cuda_ggml_mmq_tile;
/* Benchmarks only: 1 makes the sm_90a register-A route (=17) skip its activation prep (the scratch holds the last
 * call's), timing the GEMM alone; 2 runs the prep alone (y is not written). */
extern int qn_cuda_ggml_mmq_noprep;
/* =17's activation prep in one pass over x (kernels_cuda/ggml_mmq_ws_wg.cu); -1 (the start): from
 * QUANTA_CUDA_GGML_PREP1 (1: on) at the first call. */
extern int qn_cuda_ggml_mmq_prep1;
/* =17's GEMM as a programmatic dependent launch of its activation prep (kernels_cuda/ggml_mmq_rsi_wg.cu); -1 (the
 * start): on unless QUANTA_CUDA_GGML_PDL=0, read at the first call. */
extern int qn_cuda_ggml_mmq_pdl;
/* =17's epilogue (kernels_cuda/ggml_mmq_rsi_wg.cu, mmq20; the same bits every way): 0 as before; 1 the token scales
 * loaded once and a split grid's reduce launched as its programmatic dependent; + 2 every grid letting its dependents
 * launch at its epilogue; + 4 the first copies in the consumers' order; 15 (the default) 7 except one wave of tiles
 * with K > 8192; -1 (the start): from QUANTA_CUDA_GGML_EPI at the first call (unset: 15). */
extern int qn_cuda_ggml_mmq_epi;
/* =17's table (mmq20): 1 takes 128-token tiles with K split where it would take 64-token ones with K split and those
 * still make ~128 blocks (the k/v shapes at M = 512); -1 (the start): from QUANTA_CUDA_GGML_SPLIT128 (1: on). */
extern int qn_cuda_ggml_mmq_split128;
/* =17's table (mmq21): 1 runs the 64-token tiles with K split in two as cluster pairs that add their halves in
 * distributed shared memory (no partial sums through L2, no reduce launch; the same bits), 2 the same with two steps a
 * commit group; -1 (the start): from QUANTA_CUDA_GGML_SPLITCL (1 or 2). */
extern int qn_cuda_ggml_mmq_splitcl;
/* =17 (mmq21): 1 takes the EPI instances whose producer loop keeps the first-fill order's test out of its steady state
 * (the same copies, the same bits); -1 (the start): from QUANTA_CUDA_GGML_PLOOP (1: on). */
extern int qn_cuda_ggml_mmq_ploop;
/* =17 (mmq23): 1 runs the 128-token unsplit pick (PLOOP's producer) as cluster pairs along the weight rows that
 * multicast each activation step (half the slab's L2 reads; the same bits), 2 the 256-token picks too; -1 (the start):
 * from QUANTA_CUDA_GGML_PAIRX (0..2). */
extern int qn_cuda_ggml_mmq_pairx;
/* =17 (mmq24): 1 copies each A slot (128 weight rows x 256 of K) from the weight's tile-linear copy (wt below) by one
 * linear bulk copy instead of a 2-D TMA box of 128 row pieces (the same bytes land: the same bits), on the default's
 * 128-token (PLOOP), 256-token and 64-token cluster-pair picks; -1 (the start): from QUANTA_CUDA_GGML_TLIN (0 / 1). */
extern int qn_cuda_ggml_mmq_tlin;
/* =17 (mmq24, a diagnostic for benchmarks; the same bits): not null, the default's 128-token pick (PLOOP's producer)
 * and its 64-token cluster pair run as instances that write per block QN_CUDA_GGML_MMQ_TRACE words here (block b = x +
 * gx (y + gy z) of the grid): SM id (its 64-wide K steps in the high 32 bits), then %globaltimer (ns) at entry, when A slot 0 had landed, after the last wgmma,
 * after the stores, then the same four points in the SM's clock64. qn_cuda_ggml_mmq_trace128 = 1 with it: the
 * 128-token tile, unsplit, whatever the table picks (one tile on 32 / 64 / 96 / 128 blocks). */
#define QN_CUDA_GGML_MMQ_TRACE 9
extern unsigned long long *qn_cuda_ggml_mmq_trace;
extern int qn_cuda_ggml_mmq_trace128;
/* mmq24: bytes of W[N,K]'s tile-linear copy (Q4_0 / Q8_0, K a multiple of 256; else 0): per tile of 128 rows and
 * 256 of K, the rows' bytes of that slice one after another, rows past N zero. */
size_t qn_cuda_ggml_tlin_bytes(int w_dtype, int64_t N, int64_t K);
/* mmq24: writes that copy of w into wt (16-byte aligned, qn_cuda_ggml_tlin_bytes bytes) on stream. */
int qn_cuda_ggml_tlin_pack(int w_dtype, const void *w, int64_t N, int64_t K, void *wt, void *stream);
/* qn_cuda_ggml_mmq_x with w's tile-linear copy wt (null: none), read where qn_cuda_ggml_mmq_tlin is on. */
int qn_cuda_ggml_mmq_xt(int w_dtype, const void *w, int64_t N, int64_t K, int x_dtype, const void *x, int64_t M,
                        int y_dtype, void *y, void *scratch, size_t scratch_bytes, void *xp, size_t xp_bytes, int *xhave,
                        int sms, void *stream, const void *wt);
/* qn_cuda_ggml_mmq_multi with each weight's tile-linear copy (wt null, or wt[i] null: none): the weights run one by
 * one take theirs as qn_cuda_ggml_mmq_xt does; a grouped grid reads the weights themselves. */
int qn_cuda_ggml_mmq_multi_t(int mode, int w_dtype, int n, const void *const *w, const int64_t *N, int64_t K,
                             int x_dtype, const void *x, int64_t M, int y_dtype, void *const *y, void *scratch,
                             size_t scratch_bytes, void *xp, size_t xp_bytes, int *xhave, int sms, void *stream,
                             const void *const *wt);
/* out[T,K] = rows ids[t] of the [V,K] table (bad ids set *err_flag to 1, rows left unwritten). */
int qn_cuda_ggml_get_rows(int w_dtype, const void *w, int64_t V, int64_t K, const int32_t *ids, int64_t T,
                          int out_dtype, void *out, int *err_flag, void *stream);

/* ---------------------------------------------------------------- element-wise */

/* y[i] = f(x[i]) for n elements (x and y may be the same memory). */
int qn_cuda_unary(int op, int x_dtype, const void *x, int y_dtype, void *y, int64_t n, float s, void *stream);
/* y = a + b or a * b; b has n elements or nb = D elements broadcast over rows of D. */
int qn_cuda_binary(int is_mul, int a_dtype, const void *a, int b_dtype, const void *b, int64_t nb, int y_dtype,
                   void *y, int64_t n, int64_t D, void *stream);
/* y = act(gate) * up (op: QN_UNARY_SILU / _GELU / _GELU_TANH), n elements of one dtype. */
int qn_cuda_glu(int op, int dtype, const void *gate, const void *up, void *y, int64_t n, void *stream);
/* qn_cuda_glu over rows x D that may also write y's kept GEMM prep (qn_cuda_xslab; mmq19: down's x): where it can (D a
 * multiple of 256, at most 16384, slab->buf and a K order given) slab->done = 1, else qn_cuda_glu alone. y the same. */
int qn_cuda_glu_slab(int op, int dtype, const void *gate, const void *up, void *y, int64_t rows, int64_t D,
                     qn_cuda_xslab *slab, void *stream);
/* Its kernel's form (-1, the start: QUANTA_CUDA_GLU_SLAB_FORM at the first call): 1 the row's values in registers, 2
 * (default) in shared memory. Tests and benchmarks set it. */
extern int qn_cuda_glu_slab_form;
/* The norms' register kernel for rows of 1024-thread blocks past 64 rows without codes, in blocks of 1024 / V threads
 * doing V threads' slots each, the same bits (mmq19): 0 the default rule (V = 2 where the norm writes the GEMM slab and
 * rows >= 256, else 1), 1, 2 or 4 forced; -1 (the start): QUANTA_CUDA_NORM_V at the first call. Tests and benchmarks
 * set it. */
extern int qn_cuda_norm_v;
/* RMS norm over rows of D of x, or of x + r when r is not NULL (add_rms_norm: r has x's shape);
 * weight (dtype w_dtype) or NULL; p (rms_norm_add: x's shape) added to the result when not NULL.
 * With xq_buf (qn_cuda_ggml_xq_bytes(rows, D) bytes) the kernel may also leave y's int8 codes there,
 * exactly as qn_cuda_ggml_quantize_x(y) would (D a multiple of 32 and a row in registers): then
 * *xq_done = 1, else 0. With slab (not NULL) the kernel may also write y's kept GEMM prep (qn_cuda_xslab). */
int qn_cuda_rms_norm(int x_dtype, const void *x, int r_dtype, const void *r, int w_dtype, const void *w, int p_dtype,
                     const void *p, int y_dtype, void *y, int64_t rows, int64_t D, float eps, int plus_one,
                     void *xq_buf, int *xq_done, qn_cuda_xslab *slab, void *stream);
/* rms_norm_add_norm: y = rms_norm(x) * w + r, then y2 = rms_norm(y as stored) * w2 (w2 may be NULL; same eps
 * and plus_one), one launch; with xq_buf, y2's codes as qn_cuda_rms_norm leaves them. D <= 4096. */
int qn_cuda_rms_norm_add_norm(int x_dtype, const void *x, int r_dtype, const void *r, int w_dtype, const void *w,
                              int w2_dtype, const void *w2, int y_dtype, void *y, void *y2, int64_t rows, int64_t D,
                              float eps, int plus_one, void *xq_buf, int *xq_done, qn_cuda_xslab *slab,
                              void *stream);
/* add_norm: y = a + b (as qn_cuda_binary adds), then y2 = rms_norm(y as stored) * w (w may be NULL), one launch;
 * with xq_buf, y2's codes as qn_cuda_rms_norm leaves them. D <= 4096. */
int qn_cuda_add_norm(int a_dtype, const void *a, int b_dtype, const void *b, int w_dtype, const void *w, int y_dtype,
                     void *y, void *y2, int64_t rows, int64_t D, float eps, int plus_one, void *xq_buf, int *xq_done,
                     qn_cuda_xslab *slab, void *stream);
int qn_cuda_softmax(int x_dtype, const void *x, int y_dtype, void *y, int64_t rows, int64_t D, void *stream);
/* y[r] (i32) = the index of row r's largest element (first on ties; -1 for a NaN or -Inf only). */
int qn_cuda_argmax(int x_dtype, const void *x, int32_t *y, int64_t rows, int64_t D, void *stream);
/* x[rows, D] where row r has position pos[r % N]. mode 0 = NORM, 1 = NEOX. */
int qn_cuda_rope(int x_dtype, const void *x, int y_dtype, void *y, const int32_t *pos, int64_t rows, int64_t N,
                 int64_t D, int64_t rot, int mode, float theta_base, float freq_scale, void *stream);
/* rope_pair: the same of x [rows, D] into y and of x2 [rows2, D] into y2 (same dtypes), one launch. */
int qn_cuda_rope_pair(int x_dtype, const void *x, int y_dtype, void *y, const void *x2, void *y2, int64_t rows2,
                      const int32_t *pos, int64_t rows, int64_t N, int64_t D, int64_t rot, int mode, float theta_base,
                      float freq_scale, void *stream);
/* rope(rms_norm(x) * w) (rms_norm_rope: x [rows, D] as for qn_cuda_rope, the weight as for
 * qn_cuda_rms_norm; the normed row is kept in f32 between the two). */
int qn_cuda_rms_norm_rope(int x_dtype, const void *x, int w_dtype, const void *w, int y_dtype, void *y,
                          const int32_t *pos, int64_t rows, int64_t N, int64_t D, int64_t rot, int mode,
                          float theta_base, float freq_scale, float eps, int plus_one, void *stream);
/* rms_norm_rope_pair: the same of x [rows, D] into y and of x2 [rows2, D] (weight w2) into y2, one launch. */
int qn_cuda_rms_norm_rope_pair(int x_dtype, const void *x, int w_dtype, const void *w, void *y, const void *x2,
                               int w2_dtype, const void *w2, void *y2, int64_t rows2, int y_dtype, const int32_t *pos,
                               int64_t rows, int64_t N, int64_t D, int64_t rot, int mode, float theta_base,
                               float freq_scale, float eps, int plus_one, void *stream);
/* rope_kv: rms_norm_rope_pair's work (norm 0: the ropes alone, no weights, rope_pair's values) with x2's results
 * written into the k cache kc [B, H, Nmax, D] at the rows write_rows would put them (start i32 [1] or [N], ns its
 * length) and v [rows2, D] copied into vc the same way, one launch; a start outside the caches writes nothing and
 * sets *err_flag to 2, as qn_cuda_write_rows does. */
int qn_cuda_rope_kv(int x_dtype, const void *x, int w_dtype, const void *w, void *y, const void *x2, int w2_dtype,
                    const void *w2, void *kc, int64_t rows2, int y_dtype, const int32_t *pos, int64_t rows, int64_t N,
                    int64_t D, int64_t rot, int mode, float theta_base, float freq_scale, float eps, int plus_one,
                    int norm, const int32_t *start, int64_t ns, int64_t Nmax, const void *v, void *vc, int *err_flag,
                    void *stream);

/* ---------------------------------------------------------------- rows */

/* out[T, D] = table[ids[t]] (out dtype any float); the table (any float dtype or weight
 * format) is at device address base in the interchange layout t. Bad ids set *err_flag
 * (device int) to 1 and leave that row unwritten. */
int qn_cuda_get_rows(const qn_quant_layout *t, const void *base, const int32_t *ids, int64_t T, int out_dtype,
                     void *out, int *err_flag, void *stream);
/* out.dims[i] = x.dims[perm[i]]; dims padded to 4 at the front; es = element size. */
int qn_cuda_permute(const void *x, void *out, const int64_t xdims[4], const int perm4[4], size_t es,
                    void *stream);
/* dst[B,H,Nmax,D] rows start[0].. = src[B,H,T,D] (ns = 1), or row t into start[t] (ns = T); a bad
 * start sets *err_flag to 2. */
int qn_cuda_write_rows(int dst_dtype, void *dst, int src_dtype, const void *src, const int32_t *start, int64_t ns,
                       int64_t BH, int64_t T, int64_t Nmax, int64_t D, int *err_flag, void *stream);
/* One of the two writes of qn_cuda_write_rows_pair: dst[BH,Nmax,D] (dst_dtype) rows from src[BH,T,D]. */
typedef struct qn_cuda_write_desc {
    int dst_dtype, src_dtype;
    void *dst;
    const void *src;
    int64_t BH, Nmax, D;
} qn_cuda_write_desc;
/* Both writes at the same start (ns, T as qn_cuda_write_rows) in one launch (write_rows_pair). */
int qn_cuda_write_rows_pair(const qn_cuda_write_desc *w0, const qn_cuda_write_desc *w1, const int32_t *start,
                            int64_t ns, int64_t T, int *err_flag, void *stream);

/* ---------------------------------------------------------------- utility */

/* Programmatic dependent launch (cuda_common.cuh) for the kernels launched through qn_launch:
 * on where on != 0 (the backend turns it on for sm_90 and newer unless QUANTA_CUDA_PDL=0). */
void qn_cuda_set_pdl(int on);

/* Copies bytes (multiple of 16) with a 16-byte-per-thread kernel (the bandwidth probe). */
int qn_cuda_copy(void *dst, const void *src, size_t bytes, void *stream);

/* Sets *flag (a device-visible word, e.g. mapped page-locked host memory) to gen where any of x[0..n) is Inf or
 * NaN (base/finite.h's bit test: -0, denormals and +-FLT_MAX are finite); leaves it alone otherwise, so the caller
 * passes a fresh gen each time and compares (finite_check.cu). x needs only 4-byte alignment. */
int qn_cuda_finite_check(const float *x, int64_t n, unsigned gen, unsigned *flag, void *stream);

#ifdef __cplusplus
}
#endif
#endif
