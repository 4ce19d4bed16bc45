/*
 * cl_matmul.c — y[M,N] = x[M,K]·W[N,K]^T on OpenCL.
 *
 *   M <= 8 (decode):  qn_gemv_rows (one work-item per weight row: CPUs) or qn_gemv (a work-group
 *                     per few rows, partial sums through local memory: GPUs), as the tuning
 *                     table's work-group shape says; on the GPU class q8, q4 and f16 take
 *                     qn_gemv_{q8,q4,f16}_gpu (gemv_gpu.cl) where their 16-byte loads are
 *                     aligned; every weight format, dequantized in
 *                     registers (q4 and nf4 read x prepared by qn_x_prep: reordered to the
 *                     nibble order, q4 with group sums). ggml Q5_0 on CPUs with AVX-512 VNNI:
 *                     qn_gemv_i8 (x quantized to int8 in the kernel, integer dot products),
 *                     plain and matmul_glu. q8 there: qn_gemv_q8_i8 (x to three int8 planes,
 *                     as exact as the float GEMV), plain, matmul_glu and matmul_multi.
 *   M > 8:            the path the tuning table (cl_tune.c) names for the format and M class:
 *                     int8   qn_gemm_q8_i8, q8 weights with x quantized per block (CPU prefill);
 *                     rows   qn_gemm_rows, register tiles, caches do the rest (CPUs);
 *                     local  qn_gemm, 64x64 tiles staged through local memory (GPUs);
 *                     blas   CLBlast Sgemm on weights dequantized to f32 scratch (Hgemm would
 *                            need cl_khr_fp16, which PoCL lacks).
 *                     Defaults come from the device class; `quanta tune` measures the others.
 *   matmul_glu (x, w_gate, w_up), M <= 8 on CPUs: qn_gemv_rows_glu, act(gate row)·(up row) per
 *                     work-item, x prepared as for the plain GEMV (GPUs and M > 8: not claimed,
 *                     plans keep the two matmuls and the glu).
 *   matmul_multi (x, w0, w1, w2), M <= 8 on CPUs where the plain GEMV is the rows kernel:
 *                     qn_gemv_rows_multi, the weights' rows stacked in one launch, each row's
 *                     sum the bits qn_gemv_rows gives it (elsewhere plans keep the matmuls).
 * Scratch (f32 activations, f32 weights for CLBlast) is booked on the memory account; when
 * the limit refuses the dequantized copy, our kernel runs instead.
 * Batch invariance (a row's result alone vs inside a batch; tests/opencl/test_opencl_batch.c,
 * and for a whole model tests/model/test_model_batch_same.c): each kernel gives a row the same
 * bits at any M, and f32 weights take the same bits from the CPU class's GEMV and row GEMM. q8 on
 * the int8 path does not: across M = 8 a row moves by up to x's int8 rounding, s_w·Σ|q|·s_b/2
 * (ggml Q5_0 likewise, its int8 GEMV below M = 8 against the float GEMM above). Kept so: the int8 GEMV for decode measured 1.36x the f32 one's CPU time per token
 * (bench/NOTES.md section 1 v3). QUANTA_OPENCL_GEMM=int8 runs q8 through the int8 kernel at
 * every M and leaves q8 matmul_glu unfused: invariant, at that decode cost.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#ifdef QUANTA_HAVE_CLBLAST
#include <clblast_c.h>
#endif

#include "cl_internal.h"
#include "clock.h"

#define GEMV_MAX_M 8
/* the GPU GEMVs' shape (gemv_gpu.cl QN_GPU_LX, QN_GPU_RPI): 32 items walk 4 rows; 2 such sets a group */
#define GEMV_GPU_LX 32
#define GEMV_GPU_RPI 4
#define GEMV_GPU_SETS 2

static int gemv_i8_takes(const qn_cl *s, quanta_dtype dt, size_t M, size_t K);
static bool multi_supported(qn_cl *s, const qn_node *node, size_t M, size_t K);

/* matmul_glu and matmul_multi on the GPU class: q8 only, through qn_gemv_q8_gpu_glu and
 * qn_gemv_q8_gpu (gemv_gpu.cl), unless QUANTA_OPENCL_Q8_GPU=0 or QUANTA_OPENCL_FUSE_GPU=0 (then
 * plans keep the separate matmuls and the glu, as before). A launch whose offsets turn out
 * unaligned runs the CPU class's one-row-per-item kernels instead (correct, slow; not expected:
 * tensors start 64-byte aligned). */
static bool gpu_fused_claims(const qn_cl *s, quanta_dtype dt, size_t K) {
    const char *e = getenv("QUANTA_OPENCL_Q8_GPU"), *f = getenv("QUANTA_OPENCL_FUSE_GPU");
    return s->gpu_class && dt == QUANTA_Q8 && K % 16 == 0 && K > 0 && s->dev.max_wg >= 64 && !(e && !strcmp(e, "0")) &&
           !(f && !strcmp(f, "0"));
}

static bool gemm_multi_claims(const qn_cl *s, const qn_node *node, size_t K);

bool qn_cl_matmul_supports(qn_cl *s, const qn_node *node) {
    const qn_tensor *x = node->src[0], *w = node->src[1];
    size_t K = (size_t)w->desc.dims[1], M = K ? qn_cl_elems(x) / K : 0;
    /* M > 8: the int8 GEMM's fused products (run_gemm_multi), where switched on */
    if ((node->op == QN_OP_MATMUL_MULTI || node->op == QN_OP_MATMUL_GLU) && M > GEMV_MAX_M &&
        gemm_multi_claims(s, node, K))
        return true;
    if (node->op == QN_OP_MATMUL_MULTI) return multi_supported(s, node, M, K);
    /* matmul_glu: the one-row-per-work-item GEMV only (CPU class, decode); elsewhere plans
     * keep the two matmuls and the glu. Not q8 under QUANTA_OPENCL_GEMM=int8: its two matmuls
     * then take the int8 kernel at every M, as they do in a batch (batch invariance) */
    if (node->op == QN_OP_MATMUL_GLU) {
        if (M > GEMV_MAX_M || (s->force_path == QN_GEMM_INT8 && w->desc.dtype == QUANTA_Q8)) return false;
        return !s->gpu_class || gpu_fused_claims(s, w->desc.dtype, K);
    }
    if (M > GEMV_MAX_M && s->dev.max_wg < 256 && !s->have_blas) return false;
    return true;
}

_Static_assert(sizeof(int64_t) == sizeof(cl_long), "M, N, K pass as OpenCL longs");

typedef struct mm_args {
    cl_mem wm, x, y;
    cl_ulong wo, xo, yo;
    cl_mem xp;      /* x prepared by qn_x_prep (f32, nibble chunks split even | odd) */
    cl_ulong xpo;
    int xsplit;     /* q4 at M = 1 (q4_xsplit): x left raw, split by qn_gemv_q4_s as it stages it (1) or quantized
                       by qn_gemv_q4_i (2) */
    int xq;         /* x's int8 form is in s->xq_mem, in this GEMV's layout (QUANTA_OPENCL_XQ_NORM=1, cl_norm_gemv.c):
                       the XG forms read it there, no launch to quantize it */
    cl_int ydt;
    cl_int m32;     /* M as the GEMV kernels' int argument */
    int64_t M, N, K;
    const qn_tensor *w;
    qn_quant_layout wd;
} mm_args;

/* The arguments every matmul kernel starts with: W, its description, x (prepared or not),
 * y and M, N, K (M as an int for the GEMV kernels). Returns the count written to a. */
static int mm_kernel_args(const mm_args *m, int prepared, int gemv, qn_cl_arg *a) {
    int k = 0;
    a[k++] = QA(m->wm);
    a[k++] = QA(m->wo);
    k += qn_cl_weight_args(&m->wd, a + k);
    a[k++] = prepared ? QA(m->xp) : QA(m->x);
    a[k++] = prepared ? QA(m->xpo) : QA(m->xo);
    a[k++] = QA(m->y);
    a[k++] = QA(m->yo);
    a[k++] = QA(m->ydt);
    a[k++] = gemv ? QA(m->m32) : QA(m->M);
    a[k++] = QA(m->N);
    a[k++] = QA(m->K);
    return k;
}

static int int8_fits(const mm_args *m);
static quanta_status run_gemm_int8(qn_cl *s, const mm_args *m, int group);

/* qn_gemv_i8's local buffer: per block of 32 x columns 128 bytes of codes (both planes, twice),
 * 32 offset ints and a scale (gemv_i8.cl, qn_i8_quant_x). */
#define GEMV_I8_LOCAL_MAX (256u << 10)
static size_t gemv_i8_local_bytes(const mm_args *m) { return (size_t)m->M * ((size_t)m->K / 32) * 260; }

/* Whether qn_gemv_i8 (gemv_i8.cl: x quantized to int8 per 32 columns in the kernel, integer
 * dot products per weight block) takes this decode product: Q5_0 weights on the CPU class,
 * where vpdpbusd runs (AVX-512 VNNI) or QUANTA_OPENCL_GEMM=int8 asks for int8 everywhere (the
 * portable variant's tests); QUANTA_OPENCL_GEMM=rows keeps the float GEMV (its tests). */
static int gemv_i8_fits(const qn_cl *s, const mm_args *m) {
    if (s->gpu_class || m->wd.dtype != QUANTA_GGML_Q5_0 || m->K % 32) return 0;
    if (gemv_i8_local_bytes(m) > GEMV_I8_LOCAL_MAX) return 0; /* x (M·K·8.1 bytes) stays cache-sized */
    return s->force_path == QN_GEMM_INT8 || (s->force_path < 0 && s->vnni);
}

/* gemv_i8_fits for a product of M x rows and K columns over weights of dtype dt. */
static int gemv_i8_takes(const qn_cl *s, quanta_dtype dt, size_t M, size_t K) {
    mm_args m;
    memset(&m, 0, sizeof m);
    m.wd.dtype = dt;
    m.M = (int64_t)M;
    m.K = (int64_t)K;
    return gemv_i8_fits(s, &m);
}

/* Whether a decode matmul on ggml Q5_0 weights is at least as fast as on their q8 repack
 * (0.68x the bytes): where qn_gemv_i8 runs with vpdpbusd, the CPU class with AVX-512 VNNI (on
 * PoCL, 2 Zen 4 cores: 2048x640 in 76-91 us against q8's 82-95 per launch, bench/NOTES.md
 * section 1 v9); the float GEMV over the blocks elsewhere is 1.6-2x q8's time (v4, v7). Q4_K
 * and Q6_K (1.26x and 1.03x q8's time, v4) and Q8_0 are not preferred. Off unless
 * QUANTA_OPENCL_KEEP_Q5_0=1: prefill on the kept blocks (qn_gemv_i8 in launches of 8 rows) takes
 * ~3.3x the q8 int8 GEMM's time, which costs a prompt more than decode gains (v9). */
bool qn_cl_prefers_stored(qn_cl *s, const quanta_tensor_desc *w, quanta_dtype alternative) {
    const char *e = getenv("QUANTA_OPENCL_KEEP_Q5_0");
    if (!e || strcmp(e, "1")) return false;
    return w->dtype == QUANTA_GGML_Q5_0 && alternative == QUANTA_Q8 && s->vnni && s->force_path < 0 &&
           gemv_i8_takes(s, w->dtype, 1, (size_t)w->dims[1]);
}

/* matmul_multi: the CPU class at M <= 8 where each product alone would take the rows kernel
 * (qn_gemv_rows: not a tuned multi-item group) and weights whose layouts differ only where their
 * row counts put the scales, or where it would take qn_gemv_i8 (the plan groups only weights of
 * one format and K; Q5_0 has no per-matrix sections). */
static bool multi_supported(qn_cl *s, const qn_node *node, size_t M, size_t K) {
    const quanta_dtype dt = node->src[1]->desc.dtype;
    if (M == 0 || M > GEMV_MAX_M || K == 0) return false;
    if (s->gpu_class) {
        bool ok = gpu_fused_claims(s, dt, K);
        for (int i = 2; ok && i < 4 && node->src[i]; i++) ok = node->src[i]->desc.dtype == dt;
        return ok;
    }
    if (gemv_i8_takes(s, dt, M, K)) return true;
    int lws, rows;
    qn_cl_tune_gemv(s, dt, &lws, &rows);
    if (lws != 1) return false;
    qn_quant_layout l0, l;
    bool ok = qn_cl_weight_layout(node->src[1], "matmul_multi", &l0) == QUANTA_OK && l0.rows > 0;
    for (int i = 2; ok && i < 4 && node->src[i]; i++) {
        ok = qn_cl_weight_layout(node->src[i], "matmul_multi", &l) == QUANTA_OK && l.rows > 0;
        ok = ok && l.dtype == l0.dtype && l.group == l0.group && l.double_quant == l0.double_quant &&
             l.cols == l0.cols && l.codes_row_bytes == l0.codes_row_bytes && l.q4_zeros_offset == l0.q4_zeros_offset &&
             l.q4_zero_row_bytes == l0.q4_zero_row_bytes && l.nf4_dq_scales_offset == l0.nf4_dq_scales_offset &&
             l.nf4_dq_mean_offset == l0.nf4_dq_mean_offset;
    }
    qn_error_clear(); /* a layout refused here is no error: the plan keeps the matmuls */
    return ok;
}

/* Work-groups of qn_gemv_i8: each quantizes x once (a block's quantization costs about as much as
 * a dozen rows' dot products with it), so there is one group per compute unit, each taking an
 * equal share of the rows in multiples of 16 (PoCL builds one work-group function per size: a
 * few per model). Groups of 32 rows spent half the kernel's time quantizing x at K = 640
 * (perf, bench/NOTES.md section 1 v9). */
static size_t gemv_i8_group_rows(const qn_cl *s, size_t N) {
    size_t cu = s->dev.info.compute_units > 0 ? (size_t)s->dev.info.compute_units : 1;
    size_t r = (N + cu - 1) / cu;
    r = (r + 15) / 16 * 16;
    return r > s->dev.max_wg ? s->dev.max_wg / 16 * 16 : r;
}

/* The weights and results of a two-row-per-item int8 GEMV launch: matmul's one, or matmul_multi's
 * two or three (node: its other weights and results, all of W's format and K); unused slots repeat
 * the first buffers with no rows. ws: each weight's row scales from its start (q8: after N·K codes). */
typedef struct i8_targets {
    cl_mem wm[3], ym[3];
    cl_ulong wo[3], yo[3];
    cl_long nn[3], ws[3];
} i8_targets;

static i8_targets i8_targets_of(const mm_args *m, const qn_node *multi) {
    i8_targets t = {{m->wm, m->wm, m->wm}, {m->y, m->y, m->y}, {m->wo, 0, 0}, {m->yo, 0, 0}, {m->N, 0, 0}, {0, 0, 0}};
    t.ws[0] = m->N * m->K;
    for (int i = 1; multi && i < 3 && multi->src[1 + i]; i++) {
        const qn_tensor *w = multi->src[1 + i], *y = multi->extra_dst[i - 1];
        t.wm[i] = qn_cl_mem(w), t.wo[i] = w->mem.offset, t.nn[i] = w->desc.dims[0], t.ws[i] = t.nn[i] * m->K;
        t.ym[i] = qn_cl_mem(y), t.yo[i] = y->mem.offset;
    }
    return t;
}

/* Work-items of a two-row-per-item launch: per weight ceil(N/2); matmul_glu's gate and up rows n */
static size_t i8_items(const i8_targets *t, int glu) {
    return glu ? (size_t)t->nn[0] : (size_t)((t->nn[0] + 1) / 2 + (t->nn[1] + 1) / 2 + (t->nn[2] + 1) / 2);
}

static quanta_status launch_i8(qn_cl *s, qn_cl_kernel_id id, const char *what, size_t items) {
    size_t l = gemv_i8_group_rows(s, items), g = (items + l - 1) / l * l;
    return qn_cl_launch(s, id, what, 1, &g, &l);
}

/* qn_gemv_i8: y = x·Wᵀ (wu and node NULL), act(x·Wᵀ)·(x·Wuᵀ) (matmul_glu; Wu has W's layout), or
 * matmul_multi's two or three products of one x, the group's quantized x in local memory. */
static quanta_status run_gemv_i8(qn_cl *s, const mm_args *m, const qn_tensor *wu, cl_int act, const qn_node *multi) {
    const size_t local_bytes = gemv_i8_local_bytes(m);
    const cl_long rb = (cl_long)m->wd.codes_row_bytes;
    cl_mem um = wu ? qn_cl_mem(wu) : m->wm;
    cl_ulong uo = wu ? wu->mem.offset : m->wo;
    const cl_int a_ = wu ? act : -1;
    const i8_targets t = i8_targets_of(m, multi);
    qn_cl_arg a[] = {QA(t.wm[0]), QA(t.wo[0]), QA(t.nn[0]), QA(t.wm[1]), QA(t.wo[1]), QA(t.nn[1]), QA(t.wm[2]),
                     QA(t.wo[2]), QA(t.nn[2]), QA(um), QA(uo), QA(rb), QA(a_), QA(m->x), QA(m->xo), QA(t.ym[0]),
                     QA(t.yo[0]), QA(t.ym[1]), QA(t.yo[1]), QA(t.ym[2]), QA(t.yo[2]), QA(m->ydt), QA(m->m32),
                     QA(m->K), QA_LOCAL(local_bytes)};
    quanta_status st = qn_cl_set_args(s, QK_GEMV_I8, a, (int)(sizeof a / sizeof a[0]));
    const char *what = wu ? "matmul_glu (int8 gemv)" : multi ? "matmul_multi (int8 gemv)" : "matmul (int8 gemv)";
    return st != QUANTA_OK ? st : launch_i8(s, QK_GEMV_I8, what, i8_items(&t, wu != NULL));
}

/* qn_gemv_q8_i8's blocks of x: bv 64-column pieces per scale, the most (up to 8) dividing K / 64
 * (each block's sums cost a conversion and an FMA per row; 8 keeps the int32 lanes exact). */
static int q8_i8_bv(int64_t K) {
    for (int bv = 8; bv > 1; bv--)
        if ((K / 64) % bv == 0) return bv;
    return 1;
}

/* its local buffer: per x row 3K bytes of codes, 196 per block (three planes' lane start values,
 * the scale) */
static size_t gemv_q8_i8_local_bytes(const mm_args *m) {
    return (size_t)m->M * (3 * (size_t)m->K + (size_t)(m->K / (64 * q8_i8_bv(m->K))) * 196);
}

/* Whether qn_gemv_q8_i8 (x rounded to three int8 planes in the kernel, vpdpbusd per 64 weights)
 * takes this decode product over q8 weights: the CPU class where AVX-512 VNNI runs, K in 64-column
 * pieces, codes 4-byte aligned. QUANTA_OPENCL_Q8_I8=0 keeps the float GEMV (qn_gemv_rows), =1 takes
 * it without VNNI too (the written-out dot product: how its portable form is checked); under
 * QUANTA_OPENCL_GEMM (int8: qn_gemm_q8_i8 at every M for batch invariance; rows) the old paths. */
static int gemv_q8_i8_fits(const qn_cl *s, const mm_args *m) {
    if (s->gpu_class || s->force_path >= 0 || m->wd.dtype != QUANTA_Q8 || m->K % 64 || m->wo % 4) return 0;
    if (gemv_q8_i8_local_bytes(m) > GEMV_I8_LOCAL_MAX) return 0;
    const char *e = getenv("QUANTA_OPENCL_Q8_I8");
    if (e && !strcmp(e, "0")) return 0;
    return s->vnni || (e && !strcmp(e, "1"));
}

/* qn_gemv_q8_i8 over q8 weights, the same three forms as run_gemv_i8. Returns
 * QUANTA_ERR_UNSUPPORTED (no message) where a second weight's codes are not 4-byte aligned. */
static quanta_status run_gemv_q8_i8(qn_cl *s, const mm_args *m, const qn_tensor *wu, cl_int act,
                                    const qn_node *multi) {
    const i8_targets t = i8_targets_of(m, multi);
    cl_mem um = wu ? qn_cl_mem(wu) : m->wm;
    cl_ulong uo = wu ? wu->mem.offset : m->wo;
    if (uo % 4 || t.wo[1] % 4 || t.wo[2] % 4) return QUANTA_ERR_UNSUPPORTED;
    const cl_long wsu = m->N * m->K;
    const cl_int a_ = wu ? act : -1, bv = q8_i8_bv(m->K);
    qn_cl_arg a[] = {QA(t.wm[0]), QA(t.wo[0]), QA(t.ws[0]), QA(t.nn[0]), QA(t.wm[1]), QA(t.wo[1]), QA(t.ws[1]),
                     QA(t.nn[1]), QA(t.wm[2]), QA(t.wo[2]), QA(t.ws[2]), QA(t.nn[2]), QA(um), QA(uo), QA(wsu),
                     QA(a_), QA(m->x), QA(m->xo), QA(t.ym[0]), QA(t.yo[0]), QA(t.ym[1]), QA(t.yo[1]), QA(t.ym[2]),
                     QA(t.yo[2]), QA(m->ydt), QA(m->m32), QA(m->K), QA(bv), QA_LOCAL(gemv_q8_i8_local_bytes(m))};
    quanta_status st = qn_cl_set_args(s, QK_GEMV_Q8_I8, a, (int)(sizeof a / sizeof a[0]));
    const char *what = wu ? "matmul_glu (q8 int8 gemv)" : multi ? "matmul_multi (q8 int8 gemv)" : "matmul (q8 int8 gemv)";
    return st != QUANTA_OK ? st : launch_i8(s, QK_GEMV_Q8_I8, what, i8_items(&t, wu != NULL));
}

/* M > 8 x rows over Q5_0 weights where qn_gemv_i8 runs: 8 rows per launch, each row's sums made
 * exactly as in decode (so a row's result does not depend on the batch it came in), the block
 * decode shared by the 8 rows. On PoCL (2048x640, M = 128) ~2x the q8 int8 GEMM's time where
 * the float GEMM over the blocks takes ~7x; a q8 repack for that GEMM was as fast but moved
 * Gemma's logits by up to 0.43 from the file's weights (bench/NOTES.md section 1 v9).
 * Returns QUANTA_ERR_UNSUPPORTED (no message) where it does not apply. */
static quanta_status run_gemv_i8_chunks(qn_cl *s, const mm_args *m) {
    mm_args c = *m;
    c.M = GEMV_MAX_M;
    if (m->M <= GEMV_MAX_M || !gemv_i8_fits(s, &c)) return QUANTA_ERR_UNSUPPORTED;
    const size_t ys = qn_dtype_elem_size((quanta_dtype)m->ydt);
    quanta_status st = QUANTA_OK;
    for (int64_t r = 0; st == QUANTA_OK && r < m->M; r += GEMV_MAX_M) {
        c.M = m->M - r < GEMV_MAX_M ? m->M - r : GEMV_MAX_M;
        c.m32 = (cl_int)c.M;
        c.xo = m->xo + (cl_ulong)r * (cl_ulong)m->K * 4; /* x is f32 here (qn_cl_to_f32) */
        c.yo = m->yo + (cl_ulong)r * (cl_ulong)m->N * ys;
        st = run_gemv_i8(s, &c, NULL, 0, NULL);
    }
    return st;
}

/* The GPU class's decode GEMVs with the format fixed (gemv_gpu.cl: q8, q4, f16; 32 items and 4
 * rows a row set, 16-byte loads) instead of the generic chunk walk, which read 3-10% of the copy
 * kernel's bandwidth on NVIDIA's OpenCL (H100, 2026-12-06; bench/NOTES.md section 1). They load
 * weights (and x for q8 and f16) as 16-byte vectors, so they take only products whose codes and
 * x start 16-byte aligned, in whole 16-byte pieces; the rest keep the generic walk. q8 and q4 are on
 * (H100: q8 499 / 845 GB/s, q4 228 / 440 against the generic 137-158 / 77-89), QUANTA_OPENCL_{Q8,Q4}_GPU=0
 * keeps the generic one (the tuning table's lws x rows); f16 is off unless QUANTA_OPENCL_F16_GPU=1.
 * Returns the kernel, or QK_COUNT where none applies. */
static int gpu_switch_on(const char *name) {
    const char *e = getenv(name);
    return !(e && !strcmp(e, "0"));
}

static qn_cl_kernel_id gemv_gpu_kernel(const qn_cl *s, const mm_args *m) {
    if (!s->gpu_class || s->dev.max_wg < GEMV_GPU_LX * GEMV_GPU_SETS || m->wo % 16) return QK_COUNT;
    const int x16 = m->xo % 16 == 0;
    switch (m->wd.dtype) {
    case QUANTA_Q8: /* run_gemv_q8_gpu: the stacked kernel with one weight */
        return x16 && m->K % 16 == 0 && gpu_switch_on("QUANTA_OPENCL_Q8_GPU") ? QK_GEMV_Q8_GPU : QK_COUNT;
    case QUANTA_F16: { /* off unless =1: its H100 row of 2026-12-06 06:37 was not kept (run_gpu.sh cut it) */
        const char *e = getenv("QUANTA_OPENCL_F16_GPU");
        return x16 && m->K % 8 == 0 && e && !strcmp(e, "1") ? QK_GEMV_F16_GPU : QK_COUNT;
    }
    case QUANTA_Q4: /* x prepared into scratch (offset 0); a 32-weight chunk never straddles a group */
        return m->xpo % 16 == 0 && m->K % 32 == 0 && m->wd.codes_row_bytes % 16 == 0 &&
                       (m->wd.group == 32 || m->wd.group == 64 || m->wd.group == 128) &&
                       gpu_switch_on("QUANTA_OPENCL_Q4_GPU")
                   ? QK_GEMV_Q4_GPU
                   : QK_COUNT;
    default: return QK_COUNT;
    }
}

static size_t gemv1_sets(const qn_cl *s, const mm_args *m);
/* the streamed GEMVs' launch (gemvs_shape) */
typedef struct gemvs_geo {
    size_t l[2], g[2], lbytes;
    cl_int iters, xl, rw;
    int w16; /* the 16-warp streaming forms (QUANTA_OPENCL_GEMVS_W16=1): q4 / q8 _i2s16 */
    int lean; /* the register-lean streaming forms (QUANTA_OPENCL_GEMVS_Q4L=1: q4 _il / _i2l; GEMVS_Q8L=1: q8 _i2ul) */
    int xg;   /* x quantized once for all groups, a launch before (QUANTA_OPENCL_GEMVS_XG=1): q4 _isg / _i2sg, q8 _i2usg / _ipg */
    int p2;   /* q8 _i2us with two steps in flight before x is quantized (QUANTA_OPENCL_GEMVS_P2=1): _i2us2 */
    int r1;   /* one row a warp, the whole row one step (QUANTA_OPENCL_GEMVS_R1=1): q4 / q8 _r1s (_r1sg with xg); 2: _r1l */
} gemvs_geo;
static int gemvs_shape(const qn_cl *s, const mm_args *m, size_t rows, int glu, int xk, gemvs_geo *o);

/* QUANTA_OPENCL_GEMVS_XG=1 (clgemv23): x (f32 at xm + xo, K columns) quantized once for all the GEMV's groups into sc
 * (kernels_cl/gemv_gpu.cl qn_i4_quant_xg: 72 bytes a 32-column chunk, q4; qn_i8_quant_xg: 36 bytes a 16-column piece,
 * q8; the layout the groups stage into local memory), an item a chunk, enqueued before the GEMV on the same in-order
 * queue: no host round trip. The caller frees sc after the GEMV's launch (the queue keeps it alive). */
static quanta_status quant_x_once(qn_cl *s, int q4, cl_mem xm, cl_ulong xo, int64_t K, qn_cl_scratch *sc) {
    const cl_long n = q4 ? K / 32 : K / 16;
    quanta_status st = qn_cl_scratch_alloc(s, (size_t)n * (q4 ? 72 : 36), "opencl matmul: x quantized once", sc);
    if (st != QUANTA_OK) return st;
    const cl_ulong zero = 0;
    const qn_cl_kernel_id id = q4 ? QK_I4_QUANT_XG : QK_I8_QUANT_XG;
    qn_cl_arg a[] = {QA(xm), QA(xo), QA(sc->mem), QA(zero), QA(n)};
    st = qn_cl_set_args(s, id, a, 5);
    size_t l = 64, g = ((size_t)n + 63) / 64 * 64;
    return st != QUANTA_OK ? st : qn_cl_launch(s, id, q4 ? "matmul (gemv q4 xg)" : "matmul (gemv q8 xg)", 1, &g, &l);
}

static quanta_status run_gemv_gpu(qn_cl *s, const mm_args *m, qn_cl_kernel_id id) {
    const size_t sets = id == QK_GEMV_Q4_GPU ? gemv1_sets(s, m) : 0;
    gemvs_geo sv;
    if (id == QK_GEMV_Q4_GPU && gemvs_shape(s, m, (size_t)m->N, 0, m->xsplit == 2 ? 2 : 1, &sv)) { /* qn_gemv_q4_s / _i */
        if (m->xsplit && !(sv.xl & 4))
            return qn_error_set(QUANTA_ERR_STATE, "opencl matmul: q4 x left unprepared but not staged");
        /* qn_gemv_q4_i: a kernel for each of rw = 4 / 2 and with or without the preloaded step (QN_S_F_PF) */
        /* and the streaming forms (QN_S_F_ST: GEMVS_PF=2) */
        static const qn_cl_kernel_id ik[2][3] = {{QK_GEMV_Q4_I, QK_GEMV_Q4_IP, QK_GEMV_Q4_IS},
                                                 {QK_GEMV_Q4_I2, QK_GEMV_Q4_I2P, QK_GEMV_Q4_I2S}};
        static const char *const iname[2][3] = {{"matmul (gemv q4 i)", "matmul (gemv q4 ip)", "matmul (gemv q4 is)"},
                                                {"matmul (gemv q4 i2)", "matmul (gemv q4 i2p)", "matmul (gemv q4 i2s)"}};
        const int i2 = sv.rw == 2, ipf = sv.xl & 32 ? 2 : (sv.xl & 16) != 0;
        const int xg = m->xsplit == 2 && sv.xg;
        const qn_cl_kernel_id kid = m->xsplit != 2 ? QK_GEMV_Q4_S
                                    : sv.w16       ? QK_GEMV_Q4_I2S16
                                    : sv.lean      ? (i2 ? QK_GEMV_Q4_I2L : QK_GEMV_Q4_IL)
                                    : sv.r1 == 2   ? QK_GEMV_Q4_R1L
                                    : sv.r1        ? (xg ? QK_GEMV_Q4_R1SG : QK_GEMV_Q4_R1S)
                                    : xg           ? (i2 ? QK_GEMV_Q4_I2SG : QK_GEMV_Q4_ISG)
                                                   : ik[i2][ipf];
        mm_args mx = *m; /* XG: the kernel's x is the planes quant_x_once left in xq, or the norm before (m->xq) */
        qn_cl_scratch xq = {0};
        quanta_status st = xg && !m->xq ? quant_x_once(s, 1, m->xp, m->xpo, m->K, &xq) : QUANTA_OK;
        if (xg) mx.xp = m->xq ? s->xq_mem : xq.mem, mx.xpo = 0;
        qn_cl_arg a[24];
        int k = mm_kernel_args(&mx, 1, 1, a);
        a[k++] = QA(sv.iters);
        a[k++] = QA(sv.xl);
        a[k++] = QA(sv.rw);
        a[k++] = QA_LOCAL(sv.lbytes);
        if (st == QUANTA_OK) st = qn_cl_set_args(s, kid, a, k);
        const char *name = m->xsplit != 2 ? "matmul (gemv q4 s)"
                           : sv.w16       ? "matmul (gemv q4 i2s16)"
                           : sv.lean      ? (i2 ? "matmul (gemv q4 i2l)" : "matmul (gemv q4 il)")
                           : sv.r1 == 2   ? "matmul (gemv q4 r1l)"
                           : sv.r1        ? (xg ? "matmul (gemv q4 r1sg)" : "matmul (gemv q4 r1s)")
                           : xg           ? (i2 ? "matmul (gemv q4 i2sg)" : "matmul (gemv q4 isg)")
                                          : iname[i2][ipf];
        if (st == QUANTA_OK) st = qn_cl_launch(s, kid, name, 2, sv.g, sv.l);
        qn_cl_scratch_free(s, &xq);
        return st;
    }
    if (sets) { /* qn_gemv_q4_m1: 2 rows a warp, the same arguments */
        size_t l[2] = {GEMV_GPU_LX, sets}, rows_per_group = 2 * sets;
        qn_cl_arg a[24];
        int k = mm_kernel_args(m, 1, 1, a);
        a[k++] = QA_LOCAL(rows_per_group * 33 * sizeof(float));
        quanta_status st = qn_cl_set_args(s, QK_GEMV_Q4_M1, a, k);
        if (st != QUANTA_OK) return st;
        size_t g[2] = {l[0], ((size_t)m->N + rows_per_group - 1) / rows_per_group * l[1]};
        return qn_cl_launch(s, QK_GEMV_Q4_M1, "matmul (gemv q4 m1)", 2, g, l);
    }
    /* (32, 2) items: 2 row sets of 4 rows, one warp each on NVIDIA; many small groups keep a
     * GPU's cores busy at Gemma's N = 640 too. Local memory: each (row, x row) sum's 32 partials,
     * 33 floats apart. */
    size_t l[2] = {GEMV_GPU_LX, GEMV_GPU_SETS};
    const size_t rows_per_group = GEMV_GPU_SETS * GEMV_GPU_RPI;
    qn_cl_arg a[24];
    int k = mm_kernel_args(m, 1, 1, a);
    a[k++] = QA_LOCAL(rows_per_group * (size_t)m->M * 33 * sizeof(float));
    quanta_status st = qn_cl_set_args(s, id, a, k);
    if (st != QUANTA_OK) return st;
    size_t g[2] = {l[0], ((size_t)m->N + rows_per_group - 1) / rows_per_group * l[1]};
    return qn_cl_launch(s, id, "matmul (gemv, gpu)", 2, g, l);
}

/* The GPU class's q8 and q4 GEMVs at M = 1 (qn_gemv_q8_m1, qn_gemv_q8_m1_glu, qn_gemv_q4_m1: a warp per
 * 2 rows, no M loop, about half the registers; the same bits as the M <= 8 kernels) unless QUANTA_OPENCL_GEMV1=0
 * (bench/NOTES.md section 1 clgemv13). Work-groups of 32 x S items, S = QUANTA_OPENCL_GEMV1_SETS (1..8, default 4). */
static size_t gemv1_sets(const qn_cl *s, const mm_args *m) {
    const char *e = getenv("QUANTA_OPENCL_GEMV1");
    if (m->M != 1 || (e && !strcmp(e, "0"))) return 0; /* on: H100 14:14, 1B tg128 568 vs 499-536 tok/s */
    const char *g = getenv("QUANTA_OPENCL_GEMV1_SETS");
    size_t sets = g && atoi(g) >= 1 && atoi(g) <= 8 ? (size_t)atoi(g) : 4;
    while (sets > 1 && sets * GEMV_GPU_LX > s->dev.max_wg) sets /= 2;
    return sets;
}

/* QUANTA_OPENCL_Q8I: auto by default since H100 2026-12-07 12:40 (lead20, clgemv20's rows twice in one call: the int8
 * form 0.75-0.76 / 0.65 / 0.86-0.87 of the copy kernel at 11008x4096 / 4096x11008 / 32000x2048 against the float
 * kernel's 0.50 / 0.54 / 0.72; 4096x4096 runs the float kernel under auto too; 1B Q8_0 decode +2.4%, the same greedy
 * text on the 1B and Gemma, conformance passed); =0 the float kernels everywhere, =1 / =2 the older domains. */
static const char *q8i_mode(void) {
    const char *e = getenv("QUANTA_OPENCL_Q8I");
    return e && *e ? e : "auto";
}

/* The streamed M = 1 GEMVs (qn_gemv_q8_s, _glu, qn_gemv_q4_s: a warp per rw rows, a group taking `iters` row
 * blocks; the same bits as the m1 kernels) under QUANTA_OPENCL_GEMVS=1 (x read from global memory) or =2 (x
 * copied into local memory first), by default =2 for products of at most 1536 rows (bench/NOTES.md section 1
 * clgemv15), QUANTA_OPENCL_GEMVS=0: the m1 kernels everywhere.
 * QUANTA_OPENCL_GEMVS_RW = rows a warp (4, the default, or 2: twice the warps; q4 too since clgemv16),
 * QUANTA_OPENCL_GEMVS_U=8 (q8 at 2 rows a warp: 8 pieces of each row in flight a lane, not 4),
 * QUANTA_OPENCL_GEMVS_PF=1 (with U=8 and x in local memory, matmul and multi, in qn_gemv_q4_i and Q8I's 4-row and U=8 forms: the first step's
 * weight loads issued before x is staged), QUANTA_OPENCL_GEMVS_XB=1 (x staged with 4 loads an item in flight) and q4_xsplit's x: the kernels' flags word
 * (kernels_cl/gemv_gpu.cl QN_S_XL_*, QN_S_F_U8). Work-groups of
 * 32 x S items, S = QUANTA_OPENCL_GEMVS_SETS (1..8), by default 8 halved while that leaves fewer groups than
 * compute units (4096 rows at 4 a warp: 1024 warps, 8 an SM in all; each group copies x once, so not smaller),
 * and fewer where the local memory would not hold x; QUANTA_OPENCL_GEMVS_GPC = groups a compute unit (0, the default: one block a group, the plain grid).
 * xk, the kernel's x: 0 q8's floats, 1 q4's split floats (qn_gemv_q4_s), 2 q4's int8 planes (qn_gemv_q4_i), 3 q8's
 * int8 planes (qn_gemv_q8_i); 2 and 3 always stage x.
 * Fills the launch for `rows` outputs at `per` a warp (rw: the warp's weight rows); returns 0 when off. */
/* The streaming int8 GEMVs' groups a compute unit (GEMVS_PF=2's default GPC): as many groups of `sets` warps as the
 * kernel's own work-group limit holds (CL_KERNEL_WORK_GROUP_SIZE: on NVIDIA the registers a work-item times the
 * items must fit one SM's register file, so 1024 / 512 / 256 at <= 64 / 128 / 255 registers), 1 to 4. Why: a group
 * more than the SM holds waits for one to end and quantizes x again; one fewer leaves half the SM idle. */
static size_t stream_gpc(const qn_cl *s, qn_cl_kernel_id id, size_t sets) {
    size_t wg = 0;
    if (!s->k[id] || clGetKernelWorkGroupInfo(s->k[id], s->dev.device, CL_KERNEL_WORK_GROUP_SIZE, sizeof wg, &wg, NULL) != CL_SUCCESS)
        return 1;
    const size_t n = wg / (sets * GEMV_GPU_LX);
    return n < 1 ? 1 : n > 4 ? 4 : n;
}

static int gemvs_shape(const qn_cl *s, const mm_args *m, size_t rows, int glu, int xk, gemvs_geo *o) {
    /* Default =2 for products of at most 1536 rows, off above (H100 21:05: Gemma tg128 638 -> 726 tok/s through its
     * 640-row o/down GEMVs and 1536-row q/k/v, the same greedy text; the 1B's 2048-row GEMVs and the 4096-row kernel
     * rows measured slower at 4 rows a warp: 941 -> 819 tok/s, 37 -> 20% of copy) */
    const char *ev = getenv("QUANTA_OPENCL_GEMVS"), *e = m->xsplit || xk == 3 ? "2" : ev ? ev : rows <= 1536 ? "2" : "0";
    if (m->M != 1 || (strcmp(e, "1") && strcmp(e, "2"))) return 0;
    const char *se = getenv("QUANTA_OPENCL_GEMVS_SETS"), *ge = getenv("QUANTA_OPENCL_GEMVS_GPC");
    const char *re = getenv("QUANTA_OPENCL_GEMVS_RW");
    /* RW=2 / RW=4 force the rows a warp (q4's int8 kernel: 2 before clgemv19's auto; H100 06:40: 0.44 / 0.45 of the
     * copy kernel at 11008x4096 / 4096x11008 with PF against 0.38 / 0.28 at 4 rows), the others at 4 unless RW=2 */
    /* RW=auto (clgemv19; q4's default, see autorw): the int8 forms at 4 rows a warp where K <= 4096 and the rows fill groups of
     * 8 warps on every compute unit, else 2 (q8 with U=8 at K >= 4096; the 4-row forms with PF). H100 09:33, same run:
     * q8 4 rows + PF 0.73 of the copy kernel at 11008x4096 against 2 rows U=8's 0.67; 2 rows 0.65 at 4096x11008 against
     * 0.61 and 0.45 at 4096x4096 against 0.42 (4096 rows at 4 a warp are 128 groups of 8 warps, fewer than the SMs: the
     * host halves the groups, and each quantizes x for fewer rows, with fewer items); q4 ip 0.45 against i2p's 0.36 at
     * 11008x4096 (06:40: 0.49 / 0.44) */
    const size_t cu = s->dev.info.compute_units > 0 ? (size_t)s->dev.info.compute_units : 1;
    /* q4's int8 kernel (xk 2) takes it by default since H100 2026-12-07 09:50 (lead19: i4auto never below the 2-row
     * default, 1287 against 1019-1024 GB/s at 11008x4096, same bits); q8's int8 forms with RW=auto or Q8I=auto (q8i_mode: the default) */
    const char *q8e = q8i_mode(); /* auto takes RW=auto's forms unless GEMVS_RW says otherwise */
    const int autorw = (re ? !strcmp(re, "auto") : xk == 2 || (q8e && !strcmp(q8e, "auto"))) && (xk == 2 || xk == 3);
    o->rw = autorw ? (m->K <= 4096 && rows >= 4 * 8 * cu ? 4 : 2) : re ? (!strcmp(re, "2") ? 2 : 4) : xk == 2 ? 2 : 4;
    size_t per = glu ? (size_t)o->rw / 2 : (size_t)o->rw;
    const int fixed = se && atoi(se) >= 1 && atoi(se) <= 8;
    size_t sets = fixed ? (size_t)atoi(se) : 8;
    while (sets > 1 && sets * GEMV_GPU_LX > s->dev.max_wg) sets /= 2;
    while (!fixed && sets > 1 && (rows + per * sets - 1) / (per * sets) < cu) sets /= 2;
    /* x in local memory: K floats, or 4 int8 planes, a scale and a sum a 32-column chunk (xk 2), or 2 planes and a
     * scale a 16-column piece (xk 3) */
    const size_t red = 2 * 4 * 33 * sizeof(float),
                 xb = xk == 2 ? (size_t)m->K / 32 * 72 : xk == 3 ? (size_t)m->K / 16 * 36 : (size_t)m->K * sizeof(float);
    o->xl = !strcmp(e, "2");
    while (o->xl && sets > 1 && sets * red + xb > s->dev.local_mem) sets--;
    if (sets * red + xb > s->dev.local_mem) o->xl = 0; /* x stays in global memory */
    const char *xe = getenv("QUANTA_OPENCL_GEMVS_XB"); /* kernels_cl/gemv_gpu.cl QN_S_XL_*: how x is staged */
    if (o->xl && xe && !strcmp(xe, "1")) o->xl |= 2;
    if (o->xl && (xk == 1 || xk == 2) && m->xsplit) o->xl |= 4; /* q4_xsplit made sure x fits */
    const char *ue = getenv("QUANTA_OPENCL_GEMVS_U"); /* q8 at 2 rows a warp: 8 pieces of each in flight, not 4 */
    if ((xk == 0 || xk == 3) && o->rw == 2 && m->K >= 32 * 8 * 16 && ((ue && !strcmp(ue, "8")) || (autorw && xk == 3)))
        o->xl |= 8; /* a whole step of 8 (H100 00:11:
        at K = 2048 the select step of 8 pieces, 4 of them past the row, halved 32000 x 2048's rate) */
    const char *pe = getenv("QUANTA_OPENCL_GEMVS_PF"); /* qn_gemv_q8_s: the first step's loads before x is staged */
    /* qn_gemv_q4_i too, and there by default (PF=0 turns it off): measured with RW=2 above; qn_gemv_q8_i2up (xk 3 at
     * 2 rows a warp with U=8) and qn_gemv_q8_ip (xk 3 at 4 rows) only with PF=1 (clgemv19) */
    /* PF=2, the streaming forms: q4's default since H100 2026-12-07 12:40 (clgemv20: 0.28 / 0.48 / 0.46 of the copy
     * kernel at 4096x4096, 11008x4096, 4096x11008 against PF=1's 0.26-0.27 / 0.45-0.46 / 0.38-0.39, twice each, the
     * same bits); q8's int8 forms by RW=auto (or Q8I=auto) take it at 2 rows with U=8 only (0.68 against _i2u's 0.65 at
     * 4096x11008; the 4-row _is lost to _ip: 0.68 vs 0.76 at 11008x4096, 0.75 vs 0.87 at 32000x2048). PF=1 / PF=0
     * restore the older forms. */
    const int pf2 = pe ? !strcmp(pe, "2") : xk == 2 || (autorw && xk == 3 && o->rw == 2 && (o->xl & 8));
    const int pf = pe ? !strcmp(pe, "1") || pf2 : xk == 2 || (autorw && o->rw == 4) || pf2;
    const int pf_ok = (o->xl & 9) == 9 ? xk == 0 || xk == 3 : xk == 2 || (xk == 3 && o->rw == 4);
    if (!glu && pf_ok && pf) o->xl |= 16;
    /* PF=2 (clgemv20; q4's default, above): the int8 forms' streaming kernels (q4 _is / _i2s, q8 _is / _i2us: every
     * step loaded during the step before), few groups walking many blocks, x quantized once a group: by default as
     * many a compute unit as its registers let be resident (stream_gpc), GEMVS_GPC=n overrides */
    if ((o->xl & 16) && pf2 && (xk == 2 || (xk == 3 && (o->rw == 4 || (o->xl & 8))))) o->xl |= 32;
    /* XB=2 (clgemv21; the streaming forms only): x quantized in one trip (kernels_cl/gemv_gpu.cl QN_S_F_X1: all of an
     * item's pieces loaded before any is quantized, no branch between), the same planes. q8's (xk 3) default since
     * H100 2026-12-07 15:47 (lead21, clgemv21's rule 1'): 4096x11008 1900-1908 against 1875-1886 GB/s, 1875-1900
     * against 1860-1869 in the call before, the same bits; q4 lost 1-2% (1249-1253 against 1267-1276): there only
     * with XB=2. XB=1 or 0 leaves q8 without it. */
    if ((o->xl & 32) && (xe ? !strcmp(xe, "2") : xk == 3)) o->xl |= 64;
    /* W16=1 (clgemv21, off until measured): the 2-row streaming int8 forms in groups of 16 warps (kernels_cl/gemv_gpu.cl
     * qn_gemv_q4_i2s16 / qn_gemv_q8_i2s16, U = 4, reqd_work_group_size(32, 16, 1): at most 128 registers an item on
     * NVIDIA, so 16 warps an SM stream where the 8-warp forms' ~240 registers hold 8), where the kernel takes 512
     * items and the partials and x fit */
    const char *we = getenv("QUANTA_OPENCL_GEMVS_W16");
    const qn_cl_kernel_id wk = xk == 2 ? QK_GEMV_Q4_I2S16 : QK_GEMV_Q8_I2S16;
    size_t wwg = 0;
    o->w16 = (o->xl & 32) && o->rw == 2 && !glu && we && !strcmp(we, "1") && 16 * red + xb <= s->dev.local_mem &&
             s->k[wk] && clGetKernelWorkGroupInfo(s->k[wk], s->dev.device, CL_KERNEL_WORK_GROUP_SIZE, sizeof wwg, &wwg,
                                                  NULL) == CL_SUCCESS && wwg >= 16 * GEMV_GPU_LX;
    if (o->w16) sets = 16;
    /* Q4L=1 (clgemv22, off until measured): q4's streaming forms in their register-lean walk (kernels_cl/gemv_gpu.cl
     * qn_gemv_q4_il / _i2l: a chunk's next step loaded into the slot its math frees, scale and zero one word; the same
     * bits), the groups a compute unit by that kernel's own limit (stream_gpc: 2 where it fits 128 registers). Its
     * byte offsets into the weight are 32-bit (fewer registers): only where the codes, scales and zeros end below 4 GiB */
    const char *le = getenv("QUANTA_OPENCL_GEMVS_Q4L");
    o->lean = xk == 2 && (o->xl & 32) && !o->w16 && le && !strcmp(le, "1") &&
              (uint64_t)m->wd.q4_zeros_offset + (uint64_t)m->N * (uint64_t)m->wd.q4_zero_row_bytes <= UINT32_MAX &&
              (uint64_t)m->wd.scales_offset <= UINT32_MAX;
    /* Q8L=1 (clgemv22, off until measured): q8's 2-row U=8 streaming form in the same ring walk (qn_gemv_q8_i2ul; the
     * same bits as _i2us; x staged the plain way); Q8L=4 the same walk at U=4 (qn_gemv_q8_i2l: fewer registers, 2 groups
     * an SM; each lane's pieces the same and in the same order, 4 a step: the same bits), Q8L=6 at U=6 (qn_gemv_q8_i2l6) */
    const char *l8 = getenv("QUANTA_OPENCL_GEMVS_Q8L");
    if (xk == 3 && (o->xl & 32) && (o->xl & 8) && o->rw == 2 && !o->w16 && !glu && l8 &&
        (!strcmp(l8, "1") || !strcmp(l8, "4") || !strcmp(l8, "6")))
        o->lean = !strcmp(l8, "4") ? 2 : !strcmp(l8, "6") ? 3 : 1;
    /* XG=1 (clgemv23, off until measured): x quantized once for all groups by a launch before the GEMV (quant_x_once),
     * the kernel reading its planes from global memory (L2-resident: 2.25 bytes a column) with no prologue before its
     * walk: q4's streaming forms (_isg / _i2sg), q8's streaming 2-row U=8 form (_i2usg) and its 4-row preloaded form
     * (_ipg). The same planes (one definition of the quantization, qn_i4_put / qn_i8_put): the same bits. */
    const char *xge = getenv("QUANTA_OPENCL_GEMVS_XG");
    o->xg = ((xge && !strcmp(xge, "1")) || m->xq) && !glu && !o->w16 && !o->lean && (o->xl & 1) &&
            ((xk == 2 && (o->xl & 32)) ||
             (xk == 3 && ((o->xl & 32) ? o->rw == 2 && (o->xl & 8) : o->rw == 4 && (o->xl & 16))));
    /* R1=1 (clgemv23, off until measured): the 2-row streaming forms (q4 _i2s, q8 _i2us) at 8192 < K <= 11264 become one
     * row a warp with the whole row a lane's one step (_r1s: q4 U = 11, q8 U = 22; the same bits), with or without XG;
     * R1=2 the same geometry in the lean ring walk (_r1l: one step live; x staged in the group, so without XG; q4's
     * 32-bit offsets as Q4L's) */
    const char *r1e = getenv("QUANTA_OPENCL_GEMVS_R1");
    o->r1 = r1e && (!strcmp(r1e, "1") || !strcmp(r1e, "2")) && !glu && !o->w16 && !o->lean && (o->xl & 32) &&
                    o->rw == 2 && m->K > 8192 && m->K <= 11264 && (xk == 2 || (xk == 3 && (o->xl & 8)))
                ? atoi(r1e)
                : 0;
    if (o->r1 == 2 && xk == 2 &&
        ((uint64_t)m->wd.q4_zeros_offset + (uint64_t)m->N * (uint64_t)m->wd.q4_zero_row_bytes > UINT32_MAX ||
         (uint64_t)m->wd.scales_offset > UINT32_MAX))
        o->r1 = 1;
    if (o->r1) o->rw = 1, per = 1;
    if (o->r1 == 2) o->xg = 0;
    /* P2 (clgemv23; on since the H100 call of 2026-12-08 01:07, where it was 1.5% faster at q8 4096x11008 in three
     * passes; =0 restores _i2us): q8's 2-row U=8 streaming form with block 0's first two steps issued before x is
     * quantized (kernels_cl/gemv_gpu.cl qn_gemv_q8_i2us2; the same bits as _i2us) */
    const char *p2e = getenv("QUANTA_OPENCL_GEMVS_P2");
    o->p2 = !(p2e && !strcmp(p2e, "0")) && xk == 3 && !glu && !o->w16 && !o->lean && !o->xg && !o->r1 && (o->xl & 32) &&
            (o->xl & 8) && o->rw == 2;
    const qn_cl_kernel_id sk = o->r1 == 2 ? (xk == 2 ? QK_GEMV_Q4_R1L : QK_GEMV_Q8_R1L)
                               : o->r1    ? (xk == 2 ? (o->xg ? QK_GEMV_Q4_R1SG : QK_GEMV_Q4_R1S)
                                                     : (o->xg ? QK_GEMV_Q8_R1SG : QK_GEMV_Q8_R1S))
                               : xk == 2 ? (o->lean ? (o->rw == 2 ? QK_GEMV_Q4_I2L : QK_GEMV_Q4_IL)
                                          : o->xg ? (o->rw == 2 ? QK_GEMV_Q4_I2SG : QK_GEMV_Q4_ISG)
                                                  : (o->rw == 2 ? QK_GEMV_Q4_I2S : QK_GEMV_Q4_IS))
                                       : (o->rw == 4    ? QK_GEMV_Q8_IS
                                          : o->lean == 2 ? QK_GEMV_Q8_I2L
                                          : o->lean == 3 ? QK_GEMV_Q8_I2L6
                                          : o->lean      ? QK_GEMV_Q8_I2UL
                                          : o->xg        ? QK_GEMV_Q8_I2USG
                                          : o->p2        ? QK_GEMV_Q8_I2US2
                                                         : QK_GEMV_Q8_I2US);
    const size_t gpc = o->w16 ? (ge && atoi(ge) >= 1 && atoi(ge) <= 64 ? (size_t)atoi(ge) : 1)
                       : ge && atoi(ge) >= 1 && atoi(ge) <= 64 ? (size_t)atoi(ge)
                       : o->xl & 32                          ? stream_gpc(s, sk, sets)
                                                             : 0;
    const size_t blocks = (rows + per * sets - 1) / (per * sets);
    const size_t groups = gpc && blocks > cu * gpc ? cu * gpc : blocks;
    o->l[0] = GEMV_GPU_LX, o->l[1] = sets;
    o->g[0] = GEMV_GPU_LX, o->g[1] = groups * sets;
    o->iters = (cl_int)((blocks + groups - 1) / groups);
    o->lbytes = sets * red + (o->xl & 1 && !o->xg ? xb : 0);
    return 1;
}

/* QUANTA_OPENCL_Q8I=1, 2 or auto (the default, q8i_mode): the q8 GEMV at M = 1 through int8 dot products (qn_gemv_q8_i / _i2 /
 * _i2u by GEMVS_RW and GEMVS_U, x quantized in the group: 36 bytes a 16-column piece in local memory beside the
 * partials), where K % 16 == 0 and that fits. */
static int q8_int(const qn_cl *s, const mm_args *m, size_t rows) {
    const char *e = q8i_mode();
    /* =2 (clgemv19, off until measured): only products of more than 1536 rows with K >= 2048, the m1 kernels' domain.
     * H100 09:33, same run, Q8I=1 RW=2 U=8 against the default: 1B Q8_0 tg128 921.8 / 937.8 vs 870.9 / 913.5 tok/s,
     * Gemma 627.9 / 633.8 vs 723.5 / 711.0 (its products are <= 1536 rows at K = 640 / 1024, where the streamed float
     * kernels are the default, and its 262144-row head at K = 640), the same greedy text on both */
    /* =auto (clgemv20, the default since lead20): =2's domain and at least 2^25 weights (H100 09:43, same run, the int8 form
     * against the float default: 0.74 / 0.64 of the copy kernel against 0.50 / 0.54 at 11008x4096 / 4096x11008, 45 M
     * weights; 0.38-0.43 against 0.37-0.40 at 4096x4096, 16.8 M: not a win there, and the 1B's 4.2 M-weight o-projection
     * is below it too; the 1B's 65.5 M-weight output head above), the forms by shape as GEMVS_RW=auto (qn_gemv_q8_ip
     * at 11008x4096, _i2u at 4096x11008) */
    const int on = e && (!strcmp(e, "1") || (!strcmp(e, "2") && rows > 1536 && m->K >= 2048) ||
                         (!strcmp(e, "auto") && rows > 1536 && m->K >= 2048 && rows * (size_t)m->K >= ((size_t)1 << 25)));
    return on && m->M == 1 && m->K % 16 == 0 && (size_t)m->K / 16 * 36 + 2 * 4 * 33 * sizeof(float) <= s->dev.local_mem;
}

/* qn_gemv_q8_gpu: matmul's weight alone (multi NULL) or matmul_multi's two or three, stacked.
 * Returns QUANTA_ERR_UNSUPPORTED (no message) where a weight's codes or x are not 16-byte aligned. */
static quanta_status run_gemv_q8_gpu(qn_cl *s, const mm_args *m, const qn_node *multi) {
    const i8_targets t = i8_targets_of(m, multi);
    if (m->xo % 16 || t.wo[0] % 16 || t.wo[1] % 16 || t.wo[2] % 16 || m->K % 16) return QUANTA_ERR_UNSUPPORTED;
    const size_t nt = (size_t)(t.nn[0] + t.nn[1] + t.nn[2]), sets = gemv1_sets(s, m);
    gemvs_geo sv;
    const cl_int rnone = 0; /* no residual: the r and s arguments unused */
    const int q8i = q8_int(s, m, nt);
    if (gemvs_shape(s, m, nt, 0, q8i ? 3 : 0, &sv)) { /* qn_gemv_q8_s (rw rows a warp) or qn_gemv_q8_i */
        const int xg = q8i && sv.xg;
        const qn_cl_kernel_id kid = !q8i          ? QK_GEMV_Q8_S
                                    : sv.w16      ? QK_GEMV_Q8_I2S16
                                    : sv.lean == 2 ? QK_GEMV_Q8_I2L
                                    : sv.lean == 3 ? QK_GEMV_Q8_I2L6
                                    : sv.lean     ? QK_GEMV_Q8_I2UL
                                    : sv.r1 == 2  ? QK_GEMV_Q8_R1L
                                    : sv.r1       ? (xg ? QK_GEMV_Q8_R1SG : QK_GEMV_Q8_R1S)
                                    : xg          ? (sv.rw == 4 ? QK_GEMV_Q8_IPG : QK_GEMV_Q8_I2USG)
                                    : sv.p2       ? QK_GEMV_Q8_I2US2
                                    : sv.xl & 32  ? (sv.rw == 4 ? QK_GEMV_Q8_IS : QK_GEMV_Q8_I2US)
                                    : sv.rw == 4  ? (sv.xl & 16 ? QK_GEMV_Q8_IP : QK_GEMV_Q8_I)
                                    : sv.xl & 16  ? QK_GEMV_Q8_I2UP
                                    : sv.xl & 8   ? QK_GEMV_Q8_I2U
                                                  : QK_GEMV_Q8_I2;
        qn_cl_scratch xq = {0}; /* XG: the kernel's x is the planes quant_x_once left in xq, or the norm before (m->xq) */
        quanta_status st = xg && !m->xq ? quant_x_once(s, 0, m->x, m->xo, m->K, &xq) : QUANTA_OK;
        cl_mem kx = xg ? (m->xq ? s->xq_mem : xq.mem) : m->x;
        const cl_ulong kxo = xg ? 0 : m->xo;
        qn_cl_arg a[] = {QA(t.wm[0]), QA(t.wo[0]), QA(t.ws[0]), QA(t.wm[1]), QA(t.wo[1]), QA(t.ws[1]), QA(t.wm[2]),
                         QA(t.wo[2]), QA(t.ws[2]), QA(kx), QA(kxo), QA(t.ym[0]), QA(t.yo[0]), QA(t.ym[1]),
                         QA(t.yo[1]), QA(t.ym[2]), QA(t.yo[2]), QA(m->ydt), QA(t.nn[0]), QA(t.nn[1]), QA(t.nn[2]),
                         QA(m->K), QA(sv.iters), QA(sv.xl), QA(sv.rw), QA(m->x), QA(m->xo), QA(m->x), QA(m->xo),
                         QA(rnone), QA_LOCAL(sv.lbytes)};
        if (st == QUANTA_OK) st = qn_cl_set_args(s, kid, a, (int)(sizeof a / sizeof a[0]));
        static const char *const names[18][2] = {{"matmul (gemv q8 s)", "matmul_multi (gemv q8 s)"},
                                                {"matmul (gemv q8 i)", "matmul_multi (gemv q8 i)"},
                                                {"matmul (gemv q8 i2)", "matmul_multi (gemv q8 i2)"},
                                                {"matmul (gemv q8 i2u)", "matmul_multi (gemv q8 i2u)"},
                                                {"matmul (gemv q8 i2up)", "matmul_multi (gemv q8 i2up)"},
                                                {"matmul (gemv q8 ip)", "matmul_multi (gemv q8 ip)"},
                                                {"matmul (gemv q8 is)", "matmul_multi (gemv q8 is)"},
                                                {"matmul (gemv q8 i2us)", "matmul_multi (gemv q8 i2us)"},
                                                {"matmul (gemv q8 i2s16)", "matmul_multi (gemv q8 i2s16)"},
                                                {"matmul (gemv q8 i2ul)", "matmul_multi (gemv q8 i2ul)"},
                                                {"matmul (gemv q8 i2l)", "matmul_multi (gemv q8 i2l)"},
                                                {"matmul (gemv q8 i2l6)", "matmul_multi (gemv q8 i2l6)"},
                                                {"matmul (gemv q8 i2usg)", "matmul_multi (gemv q8 i2usg)"},
                                                {"matmul (gemv q8 ipg)", "matmul_multi (gemv q8 ipg)"},
                                                {"matmul (gemv q8 r1s)", "matmul_multi (gemv q8 r1s)"},
                                                {"matmul (gemv q8 r1sg)", "matmul_multi (gemv q8 r1sg)"},
                                                {"matmul (gemv q8 r1l)", "matmul_multi (gemv q8 r1l)"},
                                                {"matmul (gemv q8 i2us2)", "matmul_multi (gemv q8 i2us2)"}};
        const int ni = kid == QK_GEMV_Q8_S    ? 0
                       : kid == QK_GEMV_Q8_I   ? 1
                       : kid == QK_GEMV_Q8_I2  ? 2
                       : kid == QK_GEMV_Q8_I2U ? 3
                       : kid == QK_GEMV_Q8_I2UP ? 4
                       : kid == QK_GEMV_Q8_IP   ? 5
                       : kid == QK_GEMV_Q8_IS   ? 6
                       : kid == QK_GEMV_Q8_I2US ? 7
                       : kid == QK_GEMV_Q8_I2S16 ? 8
                       : kid == QK_GEMV_Q8_I2UL ? 9
                       : kid == QK_GEMV_Q8_I2L  ? 10
                       : kid == QK_GEMV_Q8_I2L6 ? 11
                       : kid == QK_GEMV_Q8_I2USG ? 12
                       : kid == QK_GEMV_Q8_IPG ? 13
                       : kid == QK_GEMV_Q8_R1S ? 14
                       : kid == QK_GEMV_Q8_R1SG ? 15
                       : kid == QK_GEMV_Q8_R1L ? 16
                                                : 17;
        const char *name = names[ni][multi != NULL];
        if (st == QUANTA_OK) st = qn_cl_launch(s, kid, name, 2, sv.g, sv.l);
        qn_cl_scratch_free(s, &xq);
        return st;
    }
    if (sets) { /* qn_gemv_q8_m1: 2 rows a warp */
        size_t l[2] = {GEMV_GPU_LX, sets}, rows_per_group = 2 * sets;
        qn_cl_arg a[] = {QA(t.wm[0]), QA(t.wo[0]), QA(t.ws[0]), QA(t.wm[1]), QA(t.wo[1]), QA(t.ws[1]), QA(t.wm[2]),
                         QA(t.wo[2]), QA(t.ws[2]), QA(m->x), QA(m->xo), QA(t.ym[0]), QA(t.yo[0]), QA(t.ym[1]),
                         QA(t.yo[1]), QA(t.ym[2]), QA(t.yo[2]), QA(m->ydt), QA(t.nn[0]), QA(t.nn[1]), QA(t.nn[2]),
                         QA(m->K), QA_LOCAL(rows_per_group * 33 * sizeof(float))};
        quanta_status st = qn_cl_set_args(s, QK_GEMV_Q8_M1, a, (int)(sizeof a / sizeof a[0]));
        if (st != QUANTA_OK) return st;
        size_t g[2] = {l[0], (nt + rows_per_group - 1) / rows_per_group * l[1]};
        return qn_cl_launch(s, QK_GEMV_Q8_M1, multi ? "matmul_multi (gemv q8 m1)" : "matmul (gemv q8 m1)", 2, g, l);
    }
    size_t l[2] = {GEMV_GPU_LX, GEMV_GPU_SETS};
    const size_t rows_per_group = GEMV_GPU_SETS * GEMV_GPU_RPI;
    qn_cl_arg a[] = {QA(t.wm[0]), QA(t.wo[0]), QA(t.ws[0]), QA(t.wm[1]), QA(t.wo[1]), QA(t.ws[1]), QA(t.wm[2]),
                     QA(t.wo[2]), QA(t.ws[2]), QA(m->x), QA(m->xo), QA(t.ym[0]), QA(t.yo[0]), QA(t.ym[1]),
                     QA(t.yo[1]), QA(t.ym[2]), QA(t.yo[2]), QA(m->ydt), QA(m->m32), QA(t.nn[0]), QA(t.nn[1]),
                     QA(t.nn[2]), QA(m->K), QA_LOCAL(rows_per_group * (size_t)m->M * 33 * sizeof(float))};
    quanta_status st = qn_cl_set_args(s, QK_GEMV_Q8_GPU, a, (int)(sizeof a / sizeof a[0]));
    if (st != QUANTA_OK) return st;
    size_t g[2] = {l[0], (nt + rows_per_group - 1) / rows_per_group * l[1]};
    return qn_cl_launch(s, QK_GEMV_Q8_GPU, multi ? "matmul_multi (gemv q8, gpu)" : "matmul (gemv q8, gpu)", 2, g, l);
}

/* qn_gemv_q8_gpu_glu: 2 output rows a row set (gate and up rows), 4 a group. UNSUPPORTED as above. */
static quanta_status run_gemv_q8_gpu_glu(qn_cl *s, const mm_args *m, const qn_tensor *wu, cl_int act) {
    cl_mem um = qn_cl_mem(wu);
    cl_ulong uo = wu->mem.offset;
    if (m->xo % 16 || m->wo % 16 || uo % 16 || m->K % 16) return QUANTA_ERR_UNSUPPORTED;
    const cl_long ws1 = (cl_long)m->wd.scales_offset;
    const size_t sets = gemv1_sets(s, m);
    gemvs_geo sv;
    if (gemvs_shape(s, m, (size_t)m->N, 1, 0, &sv)) { /* qn_gemv_q8_s_glu: rw / 2 outputs a warp */
        qn_cl_arg a[] = {QA(m->wm), QA(m->wo), QA(um), QA(uo), QA(ws1), QA(m->x), QA(m->xo), QA(m->y), QA(m->yo),
                         QA(m->ydt), QA(m->N), QA(m->K), QA(act), QA(sv.iters), QA(sv.xl), QA(sv.rw), QA_LOCAL(sv.lbytes)};
        quanta_status st = qn_cl_set_args(s, QK_GEMV_Q8_S_GLU, a, (int)(sizeof a / sizeof a[0]));
        if (st != QUANTA_OK) return st;
        return qn_cl_launch(s, QK_GEMV_Q8_S_GLU, "matmul_glu (gemv q8 s)", 2, sv.g, sv.l);
    }
    if (sets) { /* qn_gemv_q8_m1_glu: a warp per output (its gate and up rows) */
        size_t l[2] = {GEMV_GPU_LX, sets};
        qn_cl_arg a[] = {QA(m->wm), QA(m->wo), QA(um), QA(uo), QA(ws1), QA(m->x), QA(m->xo), QA(m->y), QA(m->yo),
                         QA(m->ydt), QA(m->N), QA(m->K), QA(act), QA_LOCAL(2 * sets * 33 * sizeof(float))};
        quanta_status st = qn_cl_set_args(s, QK_GEMV_Q8_M1_GLU, a, (int)(sizeof a / sizeof a[0]));
        if (st != QUANTA_OK) return st;
        size_t g[2] = {l[0], ((size_t)m->N + sets - 1) / sets * l[1]};
        return qn_cl_launch(s, QK_GEMV_Q8_M1_GLU, "matmul_glu (gemv q8 m1)", 2, g, l);
    }
    size_t l[2] = {GEMV_GPU_LX, GEMV_GPU_SETS};
    const size_t rows_per_group = GEMV_GPU_SETS * 2;
    const cl_long ws = (cl_long)m->wd.scales_offset;
    qn_cl_arg a[] = {QA(m->wm), QA(m->wo), QA(um), QA(uo), QA(ws), QA(m->x), QA(m->xo), QA(m->y), QA(m->yo),
                     QA(m->ydt), QA(m->m32), QA(m->N), QA(m->K), QA(act),
                     QA_LOCAL(GEMV_GPU_SETS * GEMV_GPU_RPI * (size_t)m->M * 33 * sizeof(float))};
    quanta_status st = qn_cl_set_args(s, QK_GEMV_Q8_GPU_GLU, a, (int)(sizeof a / sizeof a[0]));
    if (st != QUANTA_OK) return st;
    size_t g[2] = {l[0], ((size_t)m->N + rows_per_group - 1) / rows_per_group * l[1]};
    return qn_cl_launch(s, QK_GEMV_Q8_GPU_GLU, "matmul_glu (gemv q8, gpu)", 2, g, l);
}

static quanta_status run_gemv(qn_cl *s, const mm_args *m) {
    if (gemv_i8_fits(s, m)) return run_gemv_i8(s, m, NULL, 0, NULL);
    if (gemv_q8_i8_fits(s, m)) return run_gemv_q8_i8(s, m, NULL, 0, NULL);
    const qn_cl_kernel_id gpu = gemv_gpu_kernel(s, m);
    if (gpu == QK_GEMV_Q8_GPU) return run_gemv_q8_gpu(s, m, NULL);
    if (gpu != QK_COUNT) return run_gemv_gpu(s, m, gpu);
    int lws, rows;
    qn_cl_tune_gemv(s, m->w->desc.dtype, &lws, &rows);
    /* lws 0: q8 through the int8 kernel (x quantized per block), rows tiles per group */
    if (lws == 0 && int8_fits(m)) return run_gemm_int8(s, m, rows);
    if (lws == 0) lws = 1;
    const int rows_kernel = lws == 1; /* one work-item per row: the barrier-free kernel */
    const qn_cl_kernel_id id = rows_kernel ? QK_GEMV_ROWS : QK_GEMV;
    size_t l[2] = {(size_t)lws, (size_t)rows};
    qn_cl_arg a[24];
    int k = mm_kernel_args(m, 1, 1, a);
    if (!rows_kernel) a[k++] = QA_LOCAL(GEMV_MAX_M * l[0] * l[1] * sizeof(float));
    quanta_status st = qn_cl_set_args(s, id, a, k);
    if (st != QUANTA_OK) return st;
    if (rows_kernel) {
        size_t g = (size_t)m->N, lr = (size_t)rows;
        return qn_cl_launch(s, id, "matmul (gemv)", 1, &g, &lr);
    }
    size_t g[2] = {l[0], (size_t)m->N};
    return qn_cl_launch(s, id, "matmul (gemv)", 2, g, l);
}

/* matmul_glu: gate and up rows of one n per work-item through the activation (qn_gemv_rows_glu);
 * w_up has w_gate's layout (the op's infer checked format and shape). */
static quanta_status run_gemv_glu(qn_cl *s, const mm_args *m, const qn_tensor *wu, cl_int act) {
    if (s->gpu_class && m->wd.dtype == QUANTA_Q8) {
        quanta_status st = run_gemv_q8_gpu_glu(s, m, wu, act);
        if (st != QUANTA_ERR_UNSUPPORTED) return st;
    }
    if (gemv_i8_fits(s, m)) return run_gemv_i8(s, m, wu, act, NULL);
    if (gemv_q8_i8_fits(s, m)) {
        quanta_status st = run_gemv_q8_i8(s, m, wu, act, NULL);
        if (st != QUANTA_ERR_UNSUPPORTED) return st;
    }
    int lws, rows;
    qn_cl_tune_gemv(s, m->w->desc.dtype, &lws, &rows);
    cl_mem um = qn_cl_mem(wu);
    cl_ulong uo = wu->mem.offset;
    qn_cl_arg a[28];
    int k = 0;
    a[k++] = QA(m->wm);
    a[k++] = QA(m->wo);
    a[k++] = QA(um);
    a[k++] = QA(uo);
    k += qn_cl_weight_args(&m->wd, a + k);
    a[k++] = QA(m->xp);
    a[k++] = QA(m->xpo);
    a[k++] = QA(m->y);
    a[k++] = QA(m->yo);
    a[k++] = QA(m->ydt);
    a[k++] = QA(m->m32);
    a[k++] = QA(m->N);
    a[k++] = QA(m->K);
    a[k++] = QA(act);
    quanta_status st = qn_cl_set_args(s, QK_GEMV_ROWS_GLU, a, k);
    size_t g = (size_t)m->N, lr = (size_t)(rows > 0 ? rows : 1);
    return st != QUANTA_OK ? st : qn_cl_launch(s, QK_GEMV_ROWS_GLU, "matmul_glu (gemv)", 1, &g, &lr);
}

/* matmul_multi: the rows of w0, w1 (and w2) stacked in one qn_gemv_rows_multi launch; m holds
 * w0's product, the others' weights and results come from the node. */
static quanta_status run_gemv_multi(qn_cl *s, const mm_args *m, const qn_node *node) {
    if (s->gpu_class && m->wd.dtype == QUANTA_Q8) {
        quanta_status st = run_gemv_q8_gpu(s, m, node);
        if (st != QUANTA_ERR_UNSUPPORTED) return st;
    }
    if (gemv_i8_fits(s, m)) return run_gemv_i8(s, m, NULL, 0, node);
    if (gemv_q8_i8_fits(s, m)) {
        quanta_status st = run_gemv_q8_i8(s, m, NULL, 0, node);
        if (st != QUANTA_ERR_UNSUPPORTED) return st;
    }
    cl_mem wm[3] = {m->wm, m->wm, m->wm}, ym[3] = {m->y, m->y, m->y};
    cl_ulong wo[3] = {m->wo, 0, 0}, yo[3] = {m->yo, 0, 0};
    cl_long ws[3] = {(cl_long)m->wd.scales_offset, 0, 0}, nn[3] = {m->N, 0, 0};
    for (int i = 1; i < 3 && node->src[1 + i]; i++) {
        const qn_tensor *w = node->src[1 + i], *y = node->extra_dst[i - 1];
        qn_quant_layout l;
        quanta_status st = qn_cl_weight_layout(w, "matmul_multi", &l);
        if (st != QUANTA_OK) return st;
        wm[i] = qn_cl_mem(w), wo[i] = w->mem.offset, ws[i] = (cl_long)l.scales_offset, nn[i] = l.rows;
        ym[i] = qn_cl_mem(y), yo[i] = y->mem.offset;
    }
    int lws, rows;
    qn_cl_tune_gemv(s, m->w->desc.dtype, &lws, &rows);
    qn_cl_arg a[40];
    int k = 0;
    for (int i = 0; i < 3; i++) {
        a[k++] = QA(wm[i]);
        a[k++] = QA(wo[i]);
        a[k++] = QA(ws[i]);
    }
    k += qn_cl_weight_args(&m->wd, a + k);
    a[k++] = QA(m->x);
    a[k++] = QA(m->xo);
    for (int i = 0; i < 3; i++) {
        a[k++] = QA(ym[i]);
        a[k++] = QA(yo[i]);
    }
    a[k++] = QA(m->ydt);
    a[k++] = QA(m->m32);
    for (int i = 0; i < 3; i++) a[k++] = QA(nn[i]);
    a[k++] = QA(m->K);
    quanta_status st = qn_cl_set_args(s, QK_GEMV_ROWS_MULTI, a, k);
    size_t g = (size_t)(nn[0] + nn[1] + nn[2]), lr = (size_t)(rows > 0 ? rows : 1);
    return st != QUANTA_OK ? st : qn_cl_launch(s, QK_GEMV_ROWS_MULTI, "matmul_multi (gemv)", 1, &g, &lr);
}

static quanta_status run_gemm_rows(qn_cl *s, const mm_args *m) {
    qn_cl_arg a[24];
    quanta_status st = qn_cl_set_args(s, QK_GEMM_ROWS, a, mm_kernel_args(m, 1, 0, a));
    size_t g[2] = {(size_t)((m->N + 3) / 4), (size_t)((m->M + 3) / 4)}, l[2] = {8, 1};
    return st != QUANTA_OK ? st : qn_cl_launch(s, QK_GEMM_ROWS, "matmul (gemm rows)", 2, g, l);
}

/* Whether qn_gemm_q8_i8 can take this product: q8 codes 4-byte aligned, K in whole blocks. */
static int int8_fits(const mm_args *m) {
    return m->wd.dtype == QUANTA_Q8 && m->K % 128 == 0 && m->wo % 4 == 0;
}

/* q8 weights with x quantized to int8 per block of 256 (or 128 where K needs it) columns:
 * qn_x_quant8 writes xq, the block scales and each row's offset term into one scratch buffer,
 * then qn_gemm_q8_i8 (4 weight rows x 3 x rows per work-item). */
static quanta_status run_gemm_int8(qn_cl *s, const mm_args *m, int group) {
    const cl_int B = m->K % 256 == 0 ? 256 : 128, bv = B / 64;
    const size_t M = (size_t)m->M, K = (size_t)m->K;
    const cl_ulong xso = (M * K + 63) / 64 * 64, xco = xso + M * (K / (size_t)B) * 4;
    qn_cl_scratch xs = {0};
    quanta_status st = qn_cl_scratch_alloc(s, (size_t)xco + M * (K / (size_t)B) * 4, "opencl matmul: int8 x", &xs);
    if (st != QUANTA_OK) return st;
    const cl_long Ml = m->M, Kl = m->K;
    qn_cl_arg q[] = {QA(m->x), QA(m->xo), QA(xs.mem), QA(xso), QA(xco), QA(Ml), QA(Kl), QA(B)};
    st = qn_cl_set_args(s, QK_X_QUANT8, q, 8);
    size_t gq[2] = {K / (size_t)B, M}, lq[2] = {K / (size_t)B, 1};
    if (st == QUANTA_OK) st = qn_cl_launch(s, QK_X_QUANT8, "matmul (quantize x to int8)", 2, gq, lq);
    const cl_long wso = (cl_long)m->wd.scales_offset;
    qn_cl_arg a[] = {QA(m->wm), QA(m->wo), QA(wso), QA(xs.mem), QA(xso), QA(xco), QA(m->y), QA(m->yo),
                     QA(m->ydt), QA(Ml), QA(m->N), QA(Kl), QA(bv)};
    if (st == QUANTA_OK) st = qn_cl_set_args(s, QK_GEMM_Q8_I8, a, 13);
    /* a work-group holds `group` tiles: along x when there are enough x tiles (prefill),
     * else along the weight rows (decode: one x tile, thousands of weight tiles) */
    size_t g[2] = {(M + 2) / 3, (size_t)((m->N + 3) / 4)}, l[2] = {g[0] < (size_t)group ? g[0] : (size_t)group, 1};
    l[1] = (size_t)group / l[0] > 0 ? (size_t)group / l[0] : 1;
    if (st == QUANTA_OK) st = qn_cl_launch(s, QK_GEMM_Q8_I8, "matmul (int8 gemm)", 2, g, l);
    qn_cl_scratch_free(s, &xs);
    return st;
}

/* The GPU class's q8 GEMM (gemm_gpu.cl: 64 x 128 tiles, 4 x 8 outputs an item, codes to local
 * memory as exact floats, 16-byte loads) instead of qn_gemm, whose element-wise dequantization ran
 * at 8-10 TFLOP/s on an H100 through NVIDIA's OpenCL (bench/NOTES.md section 1). Takes K % 32 == 0
 * with codes and x 16-byte aligned; QUANTA_OPENCL_GEMM_GPU=0 keeps qn_gemm. */
static int gemm_q8_gpu_fits(const qn_cl *s, const mm_args *m) {
    return s->gpu_class && s->dev.max_wg >= 256 && m->wd.dtype == QUANTA_Q8 && m->K % 32 == 0 && m->wo % 16 == 0 &&
           m->xo % 16 == 0 && gpu_switch_on("QUANTA_OPENCL_GEMM_GPU");
}

/* The GPU class's int8 q8 GEMM (gemm_i8_gpu.cl: x quantized to int8 per 32 columns, mma.sync by
 * inline PTX on NVIDIA, 4-byte dot products elsewhere). On by default where the program was built with
 * the PTX (s->nv_ptx: NVIDIA's GPUs, measured there 2.2-2.9x the f32 GEMM; the portable form is unmeasured
 * on any GPU, so other devices keep the f32 GEMM); QUANTA_OPENCL_GEMM_I8=0 off, =1 on anywhere in the GPU
 * class (PTX where built), =portable on without PTX (how CI checks it). K % 32 == 0, codes 16-byte aligned. */
static int gemm_i8_gpu_fits(const qn_cl *s, const mm_args *m) {
    const char *e = getenv("QUANTA_OPENCL_GEMM_I8");
    const int on = e && *e ? !strcmp(e, "1") || !strcmp(e, "portable") : s->nv_ptx;
    return on && s->gpu_class && s->dev.max_wg >= 256 && m->wd.dtype == QUANTA_Q8 && m->K % 32 == 0 &&
           m->wo % 16 == 0;
}

/* x to int8 per 32 columns into scratch (qn_x_quant8 with B = 32: codes [M, K] at 0, the block scales
 * at xso, its offset terms, unused here, at xco), then qn_gemm_q8_i8_gpu over 64 x 128 output tiles: of m's product
 * and of the np - 1 others in more (the same x; each takes gemm_i8_gpu_fits), all in one launch. */
static quanta_status run_gemm_i8_gpu_n(qn_cl *s, const mm_args *m, const mm_args *more, int np) {
    const size_t M = (size_t)m->M, K = (size_t)m->K, nb = K / 32;
    const cl_ulong xso = (M * K + 63) / 64 * 64, xco = xso + M * nb * 4;
    qn_cl_scratch xs = {0};
    quanta_status st = qn_cl_scratch_alloc(s, (size_t)xco + M * nb * 4, "opencl matmul: int8 x (gpu)", &xs);
    if (st != QUANTA_OK) return st;
    const cl_long Ml = m->M, Kl = m->K;
    const cl_int B = 32;
    size_t lq[2] = {nb < 64 ? nb : 64, 1}, gq[2] = {(nb + lq[0] - 1) / lq[0] * lq[0], M};
    /* qn_x_quant8_gpu (the same bits, float4 loads in registers) where x's rows are 16-byte aligned: by default on
     * NVIDIA's GPUs (H100 17:13: 1B pp512 23.3k -> 24.4k), QUANTA_OPENCL_XQ_GPU=0 off, =1 on for the GPU class */
    const char *xe = getenv("QUANTA_OPENCL_XQ_GPU");
    if ((xe && *xe ? !strcmp(xe, "1") : qn_cl_nvidia_gpu(&s->dev)) && m->xo % 16 == 0) {
        qn_cl_arg q[] = {QA(m->x), QA(m->xo), QA(xs.mem), QA(xso), QA(Ml), QA(Kl)};
        st = qn_cl_set_args(s, QK_X_QUANT8_GPU, q, 6);
        if (st == QUANTA_OK) st = qn_cl_launch(s, QK_X_QUANT8_GPU, "matmul (quantize x to int8, gpu v2)", 2, gq, lq);
    } else {
        qn_cl_arg q[] = {QA(m->x), QA(m->xo), QA(xs.mem), QA(xso), QA(xco), QA(Ml), QA(Kl), QA(B)};
        st = qn_cl_set_args(s, QK_X_QUANT8, q, 8);
        if (st == QUANTA_OK) st = qn_cl_launch(s, QK_X_QUANT8, "matmul (quantize x to int8, gpu)", 2, gq, lq);
    }
    /* products 1 and 2 default to none (N = 0) on product 0's buffers */
    const mm_args *pr[3] = {m, np > 1 ? &more[0] : m, np > 2 ? &more[1] : m};
    cl_long wso[3], N[3];
    qn_cl_arg a[23];
    int k = 0;
    size_t tiles = 0;
    for (int i = 0; i < 3; i++) {
        wso[i] = (cl_long)pr[i]->wd.scales_offset;
        N[i] = i < np ? pr[i]->N : 0;
        tiles += (size_t)((N[i] + 127) / 128);
        a[k++] = QA(pr[i]->wm), a[k++] = QA(pr[i]->wo), a[k++] = QA(wso[i]);
        a[k++] = QA(pr[i]->y), a[k++] = QA(pr[i]->yo), a[k++] = QA(N[i]);
    }
    a[k++] = QA(xs.mem), a[k++] = QA(xso), a[k++] = QA(m->ydt), a[k++] = QA(Ml), a[k++] = QA(Kl);
    /* qn_gemm_q8_i8_gpu2: layout 2 (a 16-byte local read where the first made four; the same bits): by default on
     * NVIDIA's GPUs (H100 17:13: 1B pp512 23.3k -> 25.1k, GEMM rows +1-18%), QUANTA_OPENCL_GI_V2=0 off, =1 on */
    const char *ve = getenv("QUANTA_OPENCL_GI_V2");
    const int v2 = ve && *ve ? !strcmp(ve, "1") : qn_cl_nvidia_gpu(&s->dev);
    const qn_cl_kernel_id id = v2 ? QK_GEMM_Q8_I8_GPU2 : QK_GEMM_Q8_I8_GPU;
    if (st == QUANTA_OK) st = qn_cl_set_args(s, id, a, k);
    size_t g[2] = {tiles * 256, (M + 63) / 64}, l[2] = {256, 1};
    if (st == QUANTA_OK)
        st = qn_cl_launch(s, id, id == QK_GEMM_Q8_I8_GPU2 ? "matmul (int8 gemm q8, gpu v2)" : "matmul (int8 gemm q8, gpu)",
                          2, g, l);
    qn_cl_scratch_free(s, &xs);
    return st;
}

static quanta_status run_gemm_i8_gpu(qn_cl *s, const mm_args *m) { return run_gemm_i8_gpu_n(s, m, NULL, 1); }

static qn_cl_gemm_path resolve_path(const qn_cl *s, const mm_args *m);
static quanta_status run_quant_gemm(qn_cl *s, const mm_args *m, qn_cl_gemm_path p);

/* matmul_multi (q / k / v) and matmul_glu (gate / up, then act(gate) * up) at M > 8 in the GPU class through the int8
 * GEMM: one quantization of x and one launch for the two or three products, where the plan otherwise keeps separate
 * matmuls, each with its own quantization and launch, run one after another however few groups they have (a 1B's k
 * and v at a 256-token step: 8 groups each for 132 SMs). The products' bits are the separate path's, and the glu is
 * qn_glu as the plan would launch it. By default on NVIDIA's GPUs (H100 2026-12-06 20:05, with every other prefill
 * default on: pp512 1B 40.6k -> 44.0k, Gemma 3 270M 61.8k -> 66.3k; conformance 14/14); QUANTA_OPENCL_GEMM_MULTI=0
 * off, =1 on for any device of the GPU class. */
static bool gemm_multi_claims(const qn_cl *s, const qn_node *node, size_t K) {
    const char *e = getenv("QUANTA_OPENCL_GEMM_MULTI"), *g = getenv("QUANTA_OPENCL_GEMM_I8");
    const int i8 = g && *g ? !strcmp(g, "1") || !strcmp(g, "portable") : s->nv_ptx;
    const int on = e && *e ? !strcmp(e, "1") : qn_cl_nvidia_gpu(&s->dev);
    if (!on || !i8 || !s->gpu_class || s->dev.max_wg < 256 || K % 32) return false;
    const int nw = node->op == QN_OP_MATMUL_GLU ? 2 : 3;
    for (int i = 1; i <= nw; i++)
        if (node->src[i] ? node->src[i]->desc.dtype != QUANTA_Q8 : i < 3) return false;
    return true;
}

/* m with w's product written to (y, yo) */
static quanta_status mm_other(const mm_args *m, const qn_tensor *w, cl_mem y, cl_ulong yo, mm_args *o) {
    *o = *m;
    o->w = w;
    quanta_status st = qn_cl_weight_layout(w, "matmul", &o->wd);
    if (st != QUANTA_OK) return st;
    if (o->wd.cols != m->K)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "opencl matmul: fused weights of K %lld and %lld",
                            (long long)m->K, (long long)o->wd.cols);
    o->wm = qn_cl_mem(w);
    o->wo = w->mem.offset;
    o->N = o->wd.rows;
    o->y = y;
    o->yo = yo;
    return QUANTA_OK;
}

static quanta_status run_gemm_multi(qn_cl *s, const mm_args *m, const qn_node *node) {
    const int glu = node->op == QN_OP_MATMUL_GLU;
    mm_args p[3];
    int np = 1;
    p[0] = *m;
    qn_cl_scratch gu = {0};
    quanta_status st = QUANTA_OK;
    const size_t es = qn_dtype_elem_size((quanta_dtype)m->ydt), n = (size_t)m->M * (size_t)m->N;
    const cl_ulong uo = (cl_ulong)((n * es + 255) / 256 * 256);
    if (glu) { /* gate and up into scratch in y's dtype, as the plan's two matmuls would leave them */
        st = qn_cl_scratch_alloc(s, (size_t)uo + n * es, "opencl matmul_glu: gate and up", &gu);
        if (st != QUANTA_OK) return st;
        p[0].y = gu.mem;
        p[0].yo = 0;
        st = mm_other(m, node->src[2], gu.mem, uo, &p[np++]);
        if (st == QUANTA_OK && p[1].N != m->N)
            st = qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "opencl matmul_glu: gate has %lld rows, up %lld",
                              (long long)m->N, (long long)p[1].N);
    } else {
        for (int i = 0; i < 2 && st == QUANTA_OK && node->src[2 + i]; i++) {
            const qn_tensor *y = node->extra_dst[i];
            st = mm_other(m, node->src[2 + i], qn_cl_mem(y), y->mem.offset, &p[np]);
            p[np++].ydt = y->desc.dtype; /* one launch needs one output dtype: checked below */
        }
    }
    int fits = st == QUANTA_OK;
    for (int i = 0; i < np && fits; i++) fits = gemm_i8_gpu_fits(s, &p[i]) && p[i].ydt == m->ydt;
    if (fits) {
        st = run_gemm_i8_gpu_n(s, &p[0], &p[1], np);
    } else { /* each product on its own */
        for (int i = 0; i < np && st == QUANTA_OK; i++) st = run_quant_gemm(s, &p[i], resolve_path(s, &p[i]));
    }
    if (st == QUANTA_OK && glu) {
        cl_mem ym = m->y;
        cl_ulong go = 0, yo = m->yo, nl = n;
        cl_int dt = m->ydt, op = qn_cl_glu_op(node->params.glu_act);
        qn_cl_arg a[] = {QA(gu.mem), QA(go), QA(gu.mem), QA(uo), QA(ym), QA(yo), QA(dt), QA(nl), QA(op)};
        st = qn_cl_set_args(s, QK_GLU, a, 9);
        size_t g = n, l = 64; /* cl_ops.c's EW_LWS, as run_glu */
        if (st == QUANTA_OK) st = qn_cl_launch(s, QK_GLU, "glu", 1, &g, &l);
    }
    qn_cl_scratch_free(s, &gu);
    return st;
}

/* GPUs: 64x64 output tiles staged through local memory (qn_gemm), or q8's own GEMM. */
static quanta_status run_gemm_local(qn_cl *s, const mm_args *m) {
    if (gemm_i8_gpu_fits(s, m)) return run_gemm_i8_gpu(s, m);
    if (gemm_q8_gpu_fits(s, m)) {
        qn_cl_arg a[24];
        quanta_status st = qn_cl_set_args(s, QK_GEMM_Q8_GPU, a, mm_kernel_args(m, 0, 0, a));
        size_t g[2] = {(size_t)((m->N + 127) / 128) * 16, (size_t)((m->M + 63) / 64) * 16}, l[2] = {16, 16};
        return st != QUANTA_OK ? st : qn_cl_launch(s, QK_GEMM_Q8_GPU, "matmul (gemm q8, gpu)", 2, g, l);
    }
    qn_cl_arg a[24];
    const int k = mm_kernel_args(m, 0, 0, a);
    quanta_status st = qn_cl_set_args(s, QK_GEMM, a, k);
    size_t g[2] = {(size_t)((m->N + 63) / 64) * 16, (size_t)((m->M + 63) / 64) * 16}, l[2] = {16, 16};
    return st != QUANTA_OK ? st : qn_cl_launch(s, QK_GEMM, "matmul (tiled gemm)", 2, g, l);
}

/* The path the tuning table names for this product, where it can take it: int8 needs q8
 * weights it can read as ints, local tiles 256 work-items per group, CLBlast the library;
 * otherwise the device class's own kernel. */
static qn_cl_gemm_path resolve_path(const qn_cl *s, const mm_args *m) {
    qn_cl_gemm_path p = qn_cl_tune_gemm(s, m->w->desc.dtype, m->M);
    const qn_cl_gemm_path own = s->gpu_class && s->dev.max_wg >= 256 ? QN_GEMM_LOCAL : QN_GEMM_ROWS;
    if (p == QN_GEMM_INT8 && !int8_fits(m)) p = own;
    if (p == QN_GEMM_LOCAL && s->dev.max_wg < 256) p = QN_GEMM_ROWS;
    if (p == QN_GEMM_BLAS && !s->have_blas) p = own;
    return p;
}

static quanta_status run_gemm_kernel(qn_cl *s, const mm_args *m, qn_cl_gemm_path p) {
    switch (p) {
    case QN_GEMM_INT8: return run_gemm_int8(s, m, 16);
    case QN_GEMM_LOCAL: return run_gemm_local(s, m);
    default: return run_gemm_rows(s, m);
    }
}

#ifdef QUANTA_HAVE_CLBLAST
/* Dequantizes/widens W[N,K] into f32 dst (a get_rows over every row). */
static quanta_status dequant_f32(qn_cl *s, const qn_tensor *w, const qn_quant_layout *wd, cl_mem dst) {
    return qn_cl_get_rows_raw(s, qn_cl_mem(w), w->mem.offset, wd, NULL, 0, (size_t)wd->rows, dst, 0, QUANTA_F32,
                              "matmul (dequantize weights)");
}

static quanta_status sgemm(qn_cl *s, size_t M, size_t N, size_t K, cl_mem x, size_t xo, cl_mem w, size_t wo, cl_mem y,
                           size_t yo) {
    CLBlastStatusCode c = CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeYes, M, N, K, 1.0f, x,
                                       xo, K, w, wo, K, 0.0f, y, yo, N, &s->queue, NULL);
    if (c == CLBlastSuccess) return QUANTA_OK;
    if (c == CLBlastOpenCLOutOfResources || c == CLBlastOpenCLOutOfHostMemory || (int)c == CL_MEM_OBJECT_ALLOCATION_FAILURE)
        return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "opencl matmul: CLBlastSgemm ran out of memory (%d)", (int)c);
    return qn_error_set(QUANTA_ERR_BACKEND, "opencl matmul: CLBlastSgemm failed with status %d", (int)c);
}

/* The CLBlast path. Returns QUANTA_ERR_UNSUPPORTED (no message needed) when it cannot run:
 * unaligned offsets or a memory limit that refuses the f32 weight copy. */
static quanta_status run_blas(qn_cl *s, const mm_args *m) {
    quanta_status rs = qn_cl_record_refuse(s, "CLBlast");
    if (rs != QUANTA_OK) return rs;
    if (m->xo % 4 || m->yo % 4 || m->w->mem.offset % 4) return QUANTA_ERR_UNSUPPORTED;
    size_t M = (size_t)m->M, N = (size_t)m->N, K = (size_t)m->K;
    qn_cl_scratch wf = {0}, yf = {0};
    cl_mem wmem = qn_cl_mem(m->w), ymem = m->y;
    size_t wo = m->w->mem.offset / 4, yo = m->yo / 4;
    quanta_status st = QUANTA_OK;
    if (m->w->desc.dtype != QUANTA_F32) {
        st = qn_cl_scratch_alloc(s, N * K * 4, "opencl matmul: f32 weights for CLBlast", &wf);
        if (st != QUANTA_OK) return QUANTA_ERR_UNSUPPORTED;
        st = dequant_f32(s, m->w, &m->wd, wf.mem);
        wmem = wf.mem;
        wo = 0;
    }
    if (st == QUANTA_OK && m->ydt != QUANTA_F32) {
        st = qn_cl_scratch_alloc(s, M * N * 4, "opencl matmul: f32 output for CLBlast", &yf);
        ymem = yf.mem;
        yo = 0;
    }
    if (st == QUANTA_OK) st = sgemm(s, M, N, K, m->x, m->xo / 4, wmem, wo, ymem, yo);
    if (st == QUANTA_OK && yf.mem) st = qn_cl_unary_raw(s, yf.mem, 0, QUANTA_F32, m->y, m->yo, m->ydt, M * N, QN_UNARY_COPY, 0.0f);
    qn_cl_scratch_free(s, &wf);
    qn_cl_scratch_free(s, &yf);
    return st;
}

#endif

/* M > 8: the resolved path; CLBlast that cannot run this time (unaligned offsets, a memory
 * limit refusing the f32 weight copy) hands over to the local tiles, which need no prepared x. */
static quanta_status run_quant_gemm(qn_cl *s, const mm_args *m, qn_cl_gemm_path p) {
#ifdef QUANTA_HAVE_CLBLAST
    if (p == QN_GEMM_BLAS) {
        quanta_status st = run_blas(s, m);
        if (st != QUANTA_ERR_UNSUPPORTED) return st;
        return s->dev.max_wg >= 256 ? run_gemm_local(s, m) : QUANTA_ERR_UNSUPPORTED;
    }
#endif
    return run_gemm_kernel(s, m, p);
}

/* A q4 matmul at M = 1 on the GPU class whose x is f32, 16-byte aligned and fits in local memory beside one warp's
 * partials skips qn_x_prep: qn_gemv_q4_s splits the raw row as it stages it (QN_S_XL_SPLIT, the same floats in the
 * same places). On unless QUANTA_OPENCL_Q4X=0 (H100 00:11: q4 device time 0.13 / 0.20 / 0.21 -> 0.25 / 0.32 / 0.34 of
 * the copy kernel at 4096x4096, 11008x4096, 4096x11008; qn_x_prep alone took 9.5 us a call). Called with m->xp = m->x;
 * gemvs_shape then always takes the staged form. */
static int q4_xsplit(const qn_cl *s, const mm_args *m, const qn_node *node) {
    const char *e = getenv("QUANTA_OPENCL_Q4X"), *ie = getenv("QUANTA_OPENCL_Q4I");
    if ((e && !strcmp(e, "0")) || !s->gpu_class || node->op != QN_OP_MATMUL || m->M != 1 || m->wd.dtype != QUANTA_Q4 ||
        node->src[0]->desc.dtype != QUANTA_F32 || m->xo % 16)
        return 0;
    /* qn_gemv_q4_i (x quantized in the group, integer dot products) unless QUANTA_OPENCL_Q4I=0 (H100 06:40, same run:
     * 0.26 / 0.44 / 0.45 of the copy kernel at 4096x4096, 11008x4096, 4096x11008 against the float kernel's 0.22–0.26 /
     * 0.31–0.32 / 0.33–0.34; conformance 12 / 0 on NVIDIA's OpenCL; bench/NOTES.md section 1, lead18) */
    const int i8 = !(ie && !strcmp(ie, "0"));
    /* x's room in local memory: the float split (K floats) for both, unless QUANTA_OPENCL_Q4I_K=1 (clgemv24, off until
     * measured): the int8 kernel by its own planes (72 bytes a 32-column chunk: 2.25 a column, not 4), so that rows of
     * K > ~12000 (a 7B's down at K = 14336 on NVIDIA's 48 KiB) take it instead of qn_x_prep's launch and the float m1
     * kernel (other bits than the default) */
    const char *ke = getenv("QUANTA_OPENCL_Q4I_K");
    const size_t red = 2 * 4 * 33 * 4, xb = i8 && ke && !strcmp(ke, "1") ? (size_t)m->K / 32 * 72 : (size_t)m->K * 4;
    if (gemv_gpu_kernel(s, m) != QK_GEMV_Q4_GPU || xb + red > s->dev.local_mem) return 0;
    return i8 ? 2 : 1;
}

/* QUANTA_OPENCL_XQ_NORM=1 (clgemv24): whether the backend's int8 form (s->xq_mem, left by the norm before: cl_norm_gemv.c)
 * is of this GEMV's x (its f32 row itself, not a converted copy) in the layout its int8 path reads (q4's chunks for q4 at
 * M = 1 through qn_gemv_q4_i, q8's pieces for q8's int8 GEMV) */
static int xq_here(const qn_cl *s, const mm_args *m, const qn_node *node) {
    const qn_tensor *x = node->src[0];
    if (!s->xq_valid || m->M != 1 || x->desc.dtype != QUANTA_F32 || m->x != s->xq_src || m->xo != s->xq_off ||
        qn_cl_mem(x) != s->xq_src || x->mem.offset != s->xq_off || m->K != s->xq_K ||
        (node->op != QN_OP_MATMUL && node->op != QN_OP_MATMUL_MULTI))
        return 0;
    return s->xq_q4 ? m->wd.dtype == QUANTA_Q4 && m->xsplit == 2 : m->wd.dtype == QUANTA_Q8;
}

int qn_cl_matmul_xq_form(qn_cl *s, const qn_node *node) {
    const qn_tensor *x = node->src[0], *w = node->src[1];
    if ((node->op != QN_OP_MATMUL && node->op != QN_OP_MATMUL_MULTI) || !s->gpu_class || x->desc.dtype != QUANTA_F32)
        return 0;
    mm_args m;
    memset(&m, 0, sizeof m);
    m.w = w;
    if (qn_cl_weight_layout(w, "matmul", &m.wd) != QUANTA_OK) {
        qn_error_clear();
        return 0;
    }
    m.wm = qn_cl_mem(w), m.wo = w->mem.offset, m.N = m.wd.rows, m.K = m.wd.cols;
    if (m.K <= 0 || m.N <= 0 || x->desc.dims[x->desc.ndim - 1] != m.K || qn_cl_elems(x) != (size_t)m.K) return 0;
    m.M = 1, m.m32 = 1;
    m.x = m.xp = qn_cl_mem(x), m.xo = m.xpo = x->mem.offset;
    m.xq = 1;
    gemvs_geo sv;
    if (m.wd.dtype == QUANTA_Q4) {
        m.xsplit = q4_xsplit(s, &m, node);
        return m.xsplit == 2 && gemv_gpu_kernel(s, &m) == QK_GEMV_Q4_GPU && gemvs_shape(s, &m, (size_t)m.N, 0, 2, &sv) &&
                       sv.xg
                   ? 1
                   : 0;
    }
    if (m.wd.dtype != QUANTA_Q8 || gemv_i8_fits(s, &m) || gemv_q8_i8_fits(s, &m) ||
        gemv_gpu_kernel(s, &m) != QK_GEMV_Q8_GPU)
        return 0;
    if (node->op == QN_OP_MATMUL_MULTI && !multi_supported(s, node, 1, (size_t)m.K)) return 0;
    const i8_targets t = i8_targets_of(&m, node->op == QN_OP_MATMUL_MULTI ? node : NULL);
    if (m.xo % 16 || t.wo[0] % 16 || t.wo[1] % 16 || t.wo[2] % 16 || m.K % 16) return 0;
    const size_t nt = (size_t)(t.nn[0] + t.nn[1] + t.nn[2]);
    return q8_int(s, &m, nt) && gemvs_shape(s, &m, nt, 0, 3, &sv) && sv.xg ? 2 : 0;
}

quanta_status qn_cl_matmul_run(qn_cl *s, const qn_node *node) {
    const qn_tensor *x = node->src[0], *w = node->src[1], *y = node->dst;
    mm_args m;
    memset(&m, 0, sizeof m);
    m.w = w;
    quanta_status st = qn_cl_weight_layout(w, "matmul", &m.wd);
    if (st != QUANTA_OK) return st;
    m.wm = qn_cl_mem(w);
    m.wo = w->mem.offset;
    m.N = m.wd.rows;
    m.K = m.wd.cols;
    if (x->desc.dims[x->desc.ndim - 1] != m.K)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "opencl matmul: x has K = %lld, w has K = %lld",
                            (long long)x->desc.dims[x->desc.ndim - 1], (long long)m.K);
    m.M = m.K ? (int64_t)(qn_cl_elems(x) / (size_t)m.K) : 0;
    m.m32 = (cl_int)(m.M <= GEMV_MAX_M ? m.M : 0);
    if (m.M == 0 || m.N == 0) return QUANTA_OK;
    if (m.K == 0) {
        const cl_float zero = 0;
        return qn_cl_unary_raw(s, qn_cl_mem(y), y->mem.offset, y->desc.dtype, qn_cl_mem(y), y->mem.offset,
                               y->desc.dtype, qn_cl_elems(y), QN_UNARY_SCALE, zero);
    }
    qn_cl_scratch xs = {0}, xps = {0};
    st = qn_cl_to_f32(s, x, &xs, &m.x, &m.xo);
    const int deint = w->desc.dtype == QUANTA_Q4 || w->desc.dtype == QUANTA_NF4;
    m.xp = m.x;
    m.xpo = m.xo;
    m.xsplit = st == QUANTA_OK ? q4_xsplit(s, &m, node) : 0;
    const qn_cl_gemm_path path = m.M > GEMV_MAX_M ? resolve_path(s, &m) : QN_GEMM_ROWS;
    /* CLBlast on a device whose groups cannot hold the local tiles: its fallback is the rows
     * kernel, so prepare x for it as well */
    const int rows_may_run = path == QN_GEMM_ROWS || (path == QN_GEMM_BLAS && s->dev.max_wg < 256);
    if (st == QUANTA_OK && (m.M <= GEMV_MAX_M || rows_may_run) && deint && !m.xsplit) {
        /* x in f32 with nibble formats' 32-column chunks split into even | odd columns; the q4
         * GEMV also reads the sum of each group of x after it (its zero-point term) */
        const size_t n = qn_cl_elems(x);
        cl_int sums = m.M <= GEMV_MAX_M && w->desc.dtype == QUANTA_Q4 ? m.wd.group : 0;
        st = qn_cl_scratch_alloc(s, (n + (sums ? n / (size_t)sums : 0)) * 4, "opencl matmul: prepared x", &xps);
        cl_mem xm = qn_cl_mem(x);
        cl_ulong xo = x->mem.offset, nl = n;
        cl_int xdt = x->desc.dtype;
        qn_cl_arg a[] = {QA(xm), QA(xo), QA(xdt), QA(xps.mem), QA(nl), QA(sums)};
        if (st == QUANTA_OK) st = qn_cl_set_args(s, QK_X_PREP, a, 6);
        size_t g = n / 32, l = 64; /* one work-item per chunk (K is a multiple of the group) */
        if (st == QUANTA_OK) st = qn_cl_launch(s, QK_X_PREP, "matmul (prepare x)", 1, &g, &l);
        m.xp = xps.mem;
        m.xpo = 0;
    }
    if (st != QUANTA_OK) {
        qn_cl_scratch_free(s, &xs);
        qn_cl_scratch_free(s, &xps);
        return st;
    }
    m.y = qn_cl_mem(y);
    m.yo = y->mem.offset;
    m.ydt = y->desc.dtype;
    m.xq = xq_here(s, &m, node);
    if ((node->op == QN_OP_MATMUL_GLU || node->op == QN_OP_MATMUL_MULTI) && m.M > GEMV_MAX_M) {
        st = run_gemm_multi(s, &m, node);
    } else if (node->op == QN_OP_MATMUL_GLU) {
        st = run_gemv_glu(s, &m, node->src[2], qn_cl_glu_op(node->params.glu_act));
    } else if (node->op == QN_OP_MATMUL_MULTI) {
        st = run_gemv_multi(s, &m, node);
    } else if (m.M <= GEMV_MAX_M) {
        st = run_gemv(s, &m);
    } else {
        st = run_gemv_i8_chunks(s, &m);
        if (st == QUANTA_ERR_UNSUPPORTED) st = run_quant_gemm(s, &m, path);
        if (st == QUANTA_ERR_UNSUPPORTED) st = run_gemm_rows(s, &m);
    }
    qn_cl_scratch_free(s, &xs);
    qn_cl_scratch_free(s, &xps);
    return st;
}

quanta_status qn_cl_peer_gemm(qn_cl *s, int64_t m, int64_t n, int64_t k, double *seconds, char *name,
                              size_t name_len) {
    if (!seconds || m <= 0 || n <= 0 || k <= 0)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "opencl peer_gemm: bad arguments (m, n, k > 0, seconds)");
#ifdef QUANTA_HAVE_CLBLAST
    if (name && name_len) snprintf(name, name_len, "CLBlast Sgemm (f32)");
    qn_cl_scratch a = {0}, b = {0}, c = {0};
    quanta_status st = qn_cl_scratch_alloc(s, (size_t)(m * k) * 4, "opencl peer_gemm: x", &a);
    if (st == QUANTA_OK) st = qn_cl_scratch_alloc(s, (size_t)(n * k) * 4, "opencl peer_gemm: w", &b);
    if (st == QUANTA_OK) st = qn_cl_scratch_alloc(s, (size_t)(m * n) * 4, "opencl peer_gemm: y", &c);
    if (st == QUANTA_OK) {
        const cl_float v = 0.01f;
        clEnqueueFillBuffer(s->queue, a.mem, &v, 4, 0, (size_t)(m * k) * 4, 0, NULL, NULL);
        clEnqueueFillBuffer(s->queue, b.mem, &v, 4, 0, (size_t)(n * k) * 4, 0, NULL, NULL);
        st = sgemm(s, (size_t)m, (size_t)n, (size_t)k, a.mem, 0, b.mem, 0, c.mem, 0); /* warm-up */
        if (st == QUANTA_OK && clFinish(s->queue) != CL_SUCCESS)
            st = qn_error_set(QUANTA_ERR_BACKEND, "opencl peer_gemm: clFinish failed");
    }
    double best = 1e30;
    for (int rep = 0; st == QUANTA_OK && rep < 3; rep++) {
        double t0 = qn_now_s();
        st = sgemm(s, (size_t)m, (size_t)n, (size_t)k, a.mem, 0, b.mem, 0, c.mem, 0);
        if (st == QUANTA_OK && clFinish(s->queue) != CL_SUCCESS)
            st = qn_error_set(QUANTA_ERR_BACKEND, "opencl peer_gemm: clFinish failed");
        double dt = qn_now_s() - t0;
        if (dt < best) best = dt;
    }
    qn_cl_scratch_free(s, &a);
    qn_cl_scratch_free(s, &b);
    qn_cl_scratch_free(s, &c);
    if (st == QUANTA_OK) *seconds = best;
    return st;
#else
    (void)s;
    (void)name;
    (void)name_len;
    return qn_error_set(QUANTA_ERR_UNSUPPORTED, "opencl peer_gemm: built without CLBlast");
#endif
}

/* qn_gemv_q8_m1n(_glu): the norm in the GEMV's prologue (cl_norm_gemv.c holds the norm node; gemv_gpu.cl says why).
 * Groups of (32, 8): 16 rows (glu: 8 outputs) a pass; `passes` per group so that about 4 groups per compute unit
 * remain (each group norms the row once: the output GEMV's 32000-262144 rows would otherwise norm it 2000-16000
 * times); QUANTA_OPENCL_NG_GPC=n (1..16) asks for n groups a compute unit instead (the 1B's gate/up at 4: 704
 * groups of 8 outputs, each norming the row, 26 us for 23 MB on the H100 at 20:05). Everything checked before the
 * launch: UNSUPPORTED leaves the queue as it was. */
#define NG_ITEMS 256
static cl_int ng_passes(size_t sets, size_t cu) {
    const char *e = getenv("QUANTA_OPENCL_NG_GPC");
    if (!(e && atoi(e) >= 1 && atoi(e) <= 16)) return (cl_int)(sets / (4 * cu) > 1 ? sets / (4 * cu) : 1); /* as measured */
    const size_t gpc = (size_t)atoi(e);
    return (cl_int)(sets > gpc * cu ? (sets + gpc * cu - 1) / (gpc * cu) : 1);
}
quanta_status qn_cl_matmul_run_normed(qn_cl *s, const qn_node *mm, const qn_cl_norm_args *na) {
    const qn_tensor *x = mm->src[0], *w = mm->src[1], *y = mm->dst;
    if (mm->op != QN_OP_MATMUL && mm->op != QN_OP_MATMUL_MULTI && mm->op != QN_OP_MATMUL_GLU) return QUANTA_ERR_UNSUPPORTED;
    if (!s->gpu_class || s->dev.max_wg < NG_ITEMS || w->desc.dtype != QUANTA_Q8 || x->desc.dtype != QUANTA_F32 ||
        !gpu_switch_on("QUANTA_OPENCL_Q8_GPU"))
        return QUANTA_ERR_UNSUPPORTED;
    mm_args m;
    memset(&m, 0, sizeof m);
    m.w = w;
    quanta_status st = qn_cl_weight_layout(w, "matmul", &m.wd);
    if (st != QUANTA_OK) {
        qn_error_clear();
        return QUANTA_ERR_UNSUPPORTED;
    }
    m.wm = qn_cl_mem(w), m.wo = w->mem.offset, m.N = m.wd.rows, m.K = m.wd.cols, m.M = 1;
    m.y = qn_cl_mem(y), m.yo = y->mem.offset, m.ydt = y->desc.dtype;
    if (m.K != na->D || m.K % 16 || m.N == 0 || qn_cl_elems(x) != (size_t)m.K || m.wo % 16 || !gemv1_sets(s, &m))
        return QUANTA_ERR_UNSUPPORTED;
    /* one local buffer: the sums (16 · 33 floats, gemv_gpu.cl QN_NG_RED), then x at a multiple of 16 bytes */
    const size_t red = 16 * 33 * sizeof(float), xs = (size_t)m.K / 16 * 20 * sizeof(float), lm = red + xs;
    if (lm + 1024 > s->dev.local_mem) return QUANTA_ERR_UNSUPPORTED;
    const size_t cu = s->dev.info.compute_units > 0 ? (size_t)s->dev.info.compute_units : 1;
    size_t l[2] = {GEMV_GPU_LX, 8};
    /* the whole-step walker (gemv_gpu.cl QN_M1N_KERNELS): on unless QUANTA_OPENCL_NG_STEP=0 (H100 21:05: 1B tg128
     * 720 +- 202 -> 941 tok/s, Gemma 638 -> 634, the same greedy text); =2 with the row's tail as one step (_t) */
    const char *se = getenv("QUANTA_OPENCL_NG_STEP");
    const int step = !se || strcmp(se, "0"), tail1 = se && !strcmp(se, "2");
    if (mm->op == QN_OP_MATMUL_GLU) {
        const qn_tensor *wu = mm->src[2];
        cl_mem um = qn_cl_mem(wu);
        cl_ulong uo = wu->mem.offset;
        if (uo % 16 || wu->desc.dtype != QUANTA_Q8) return QUANTA_ERR_UNSUPPORTED;
        const cl_long ws = (cl_long)m.wd.scales_offset;
        const cl_int act = qn_cl_glu_op(mm->params.glu_act);
        const size_t sets = ((size_t)m.N + 7) / 8;
        cl_int passes = ng_passes(sets, cu);
        qn_cl_arg a[] = {QA(m.wm), QA(m.wo), QA(um), QA(uo), QA(ws), QA(na->a), QA(na->ao), QA(na->b), QA(na->bo),
                         QA(na->w), QA(na->wo), QA(na->hasw), QA(na->w2), QA(na->w2o), QA(na->hasw2), QA(na->s),
                         QA(na->so), QA(na->y), QA(na->yo), QA(na->mode), QA(na->plus_one), QA(na->eps), QA(m.y),
                         QA(m.yo), QA(m.ydt), QA(m.N), QA(m.K), QA(act), QA(passes), QA_LOCAL(lm)};
        const qn_cl_kernel_id id = tail1 ? QK_GEMV_Q8_M1N_GLU_T : step ? QK_GEMV_Q8_M1N_GLU_W : QK_GEMV_Q8_M1N_GLU;
        st = qn_cl_set_args(s, id, a, (int)(sizeof a / sizeof a[0]));
        if (st != QUANTA_OK) return st;
        size_t g[2] = {l[0], (sets + (size_t)passes - 1) / (size_t)passes * l[1]};
        return qn_cl_launch(s, id, tail1  ? "norm + matmul_glu (gemv q8 m1 t)"
                                  : step ? "norm + matmul_glu (gemv q8 m1 w)" : "norm + matmul_glu (gemv q8 m1)", 2, g, l);
    }
    const i8_targets t = i8_targets_of(&m, mm->op == QN_OP_MATMUL_MULTI ? mm : NULL);
    if (t.wo[1] % 16 || t.wo[2] % 16) return QUANTA_ERR_UNSUPPORTED;
    for (int i = 1; mm->op == QN_OP_MATMUL_MULTI && i < 3 && mm->src[1 + i]; i++)
        if (mm->src[1 + i]->desc.dtype != QUANTA_Q8 || mm->src[1 + i]->desc.dims[1] != m.K) return QUANTA_ERR_UNSUPPORTED;
    const size_t nt = (size_t)(t.nn[0] + t.nn[1] + t.nn[2]), sets = (nt + 15) / 16;
    cl_int passes = ng_passes(sets, cu);
    qn_cl_arg a[] = {QA(t.wm[0]), QA(t.wo[0]), QA(t.ws[0]), QA(t.wm[1]), QA(t.wo[1]), QA(t.ws[1]), QA(t.wm[2]),
                     QA(t.wo[2]), QA(t.ws[2]), QA(na->a), QA(na->ao), QA(na->b), QA(na->bo), QA(na->w), QA(na->wo),
                     QA(na->hasw), QA(na->w2), QA(na->w2o), QA(na->hasw2), QA(na->s), QA(na->so), QA(na->y),
                     QA(na->yo), QA(na->mode), QA(na->plus_one), QA(na->eps), QA(t.ym[0]), QA(t.yo[0]), QA(t.ym[1]),
                     QA(t.yo[1]), QA(t.ym[2]), QA(t.yo[2]), QA(m.ydt), QA(t.nn[0]), QA(t.nn[1]), QA(t.nn[2]),
                     QA(m.K), QA(passes), QA_LOCAL(lm)};
    const qn_cl_kernel_id id = tail1 ? QK_GEMV_Q8_M1N_T : step ? QK_GEMV_Q8_M1N_W : QK_GEMV_Q8_M1N;
    st = qn_cl_set_args(s, id, a, (int)(sizeof a / sizeof a[0]));
    if (st != QUANTA_OK) return st;
    size_t g[2] = {l[0], (sets + (size_t)passes - 1) / (size_t)passes * l[1]};
    return qn_cl_launch(s, id,
                        mm->op == QN_OP_MATMUL_MULTI
                            ? (tail1 ? "norm + matmul_multi (gemv q8 m1 t)"
                                     : step ? "norm + matmul_multi (gemv q8 m1 w)" : "norm + matmul_multi (gemv q8 m1)")
                            : (tail1 ? "norm + matmul (gemv q8 m1 t)"
                                     : step ? "norm + matmul (gemv q8 m1 w)" : "norm + matmul (gemv q8 m1)"),
                        2, g, l);
}

/* qn_gemv_q8_m1r: matmul's product and the residual sum after it (r NULL: a copy of the product) in one launch
 * (cl_norm_gemv.c holds the matmul for the norm that follows). Checked before the launch: UNSUPPORTED leaves the
 * queue as it was. */
quanta_status qn_cl_matmul_run_residual(qn_cl *s, const qn_node *mm, const qn_tensor *r, const qn_tensor *res) {
    const qn_tensor *x = mm->src[0], *w = mm->src[1], *y = mm->dst;
    if (mm->op != QN_OP_MATMUL || !s->gpu_class || w->desc.dtype != QUANTA_Q8 || x->desc.dtype != QUANTA_F32 ||
        y->desc.dtype != QUANTA_F32 || (r && r->desc.dtype != QUANTA_F32) || res->desc.dtype != QUANTA_F32 ||
        !gpu_switch_on("QUANTA_OPENCL_Q8_GPU") || s->dev.max_wg < GEMV_GPU_LX * GEMV_GPU_SETS)
        return QUANTA_ERR_UNSUPPORTED;
    mm_args m;
    memset(&m, 0, sizeof m);
    m.w = w;
    if (qn_cl_weight_layout(w, "matmul", &m.wd) != QUANTA_OK) {
        qn_error_clear();
        return QUANTA_ERR_UNSUPPORTED;
    }
    m.wm = qn_cl_mem(w), m.wo = w->mem.offset, m.N = m.wd.rows, m.K = m.wd.cols, m.M = 1;
    m.x = qn_cl_mem(x), m.xo = x->mem.offset;
    if (m.K % 16 || m.N == 0 || qn_cl_elems(x) != (size_t)m.K || qn_cl_elems(y) != (size_t)m.N ||
        (r && qn_cl_elems(r) != (size_t)m.N) || qn_cl_elems(res) != (size_t)m.N || m.wo % 16 || m.xo % 16)
        return QUANTA_ERR_UNSUPPORTED;
    const size_t sets = gemv1_sets(s, &m);
    if (!sets) return QUANTA_ERR_UNSUPPORTED;
    cl_mem ym = qn_cl_mem(y), rm = qn_cl_mem(r ? r : y), sm = qn_cl_mem(res);
    cl_ulong yo = y->mem.offset, ro = r ? r->mem.offset : 0, so = res->mem.offset;
    cl_int radd = r != NULL;
    const cl_long ws = (cl_long)m.wd.scales_offset;
    gemvs_geo sv;
    if (gemvs_shape(s, &m, (size_t)m.N, 0, 0, &sv)) { /* qn_gemv_q8_s with the residual stores (the same bits) */
        const cl_long zero = 0;
        const cl_ulong zo = 0;
        const cl_int rmode = radd ? 2 : 1, ydt = (cl_int)y->desc.dtype; /* f32: the kernel stores floats */
        qn_cl_arg a[] = {QA(m.wm), QA(m.wo), QA(ws), QA(m.wm), QA(m.wo), QA(zero), QA(m.wm), QA(m.wo), QA(zero),
                         QA(m.x), QA(m.xo), QA(ym), QA(yo), QA(ym), QA(zo), QA(ym), QA(zo), QA(ydt), QA(m.N),
                         QA(zero), QA(zero), QA(m.K), QA(sv.iters), QA(sv.xl), QA(sv.rw), QA(rm), QA(ro), QA(sm),
                         QA(so), QA(rmode), QA_LOCAL(sv.lbytes)};
        const quanta_status sst = qn_cl_set_args(s, QK_GEMV_Q8_S, a, (int)(sizeof a / sizeof a[0]));
        if (sst != QUANTA_OK) return sst;
        return qn_cl_launch(s, QK_GEMV_Q8_S, r ? "matmul + residual (gemv q8 s)" : "matmul + copy (gemv q8 s)", 2,
                            sv.g, sv.l);
    }
    size_t l[2] = {GEMV_GPU_LX, sets}, rows_per_group = 2 * sets;
    qn_cl_arg a[] = {QA(m.wm), QA(m.wo), QA(ws), QA(m.x), QA(m.xo), QA(ym), QA(yo), QA(rm), QA(ro), QA(sm), QA(so),
                     QA(radd), QA(m.N), QA(m.K), QA_LOCAL(rows_per_group * 33 * sizeof(float))};
    quanta_status st = qn_cl_set_args(s, QK_GEMV_Q8_M1R, a, (int)(sizeof a / sizeof a[0]));
    if (st != QUANTA_OK) return st;
    size_t g[2] = {l[0], ((size_t)m.N + rows_per_group - 1) / rows_per_group * l[1]};
    return qn_cl_launch(s, QK_GEMV_Q8_M1R, r ? "matmul + residual (gemv q8 m1)" : "matmul + copy (gemv q8 m1)", 2, g, l);
}
