/* matmul.c — conformance entries of matmul, y[b][m][n] = x[b][m][k] · w[n][k]ᵀ, every weight format,
 * of matmul_glu, act(x · w_gateᵀ) · (x · w_upᵀ) (a gated MLP's projections and activation), and of
 * matmul_multi, x · w0ᵀ, x · w1ᵀ (, x · w2ᵀ): the q/k/v matmuls of one x that plans fuse into one
 * node (built as plain matmuls, every product an output; the one named by `part` is judged). */
#include <math.h>

#include "op_entry.h"

/* The keys matmul and matmul_glu share (matmul_glu's w_gate and w_up both have format w). */
#define MATMUL_KEYS \
    {"m", QC_K_I64, QC_OFF(m), "4", 1, QC_DIM_MAX, "rows of x (tokens); 1 = decode"}, \
    {"n", QC_K_I64, QC_OFF(n), "64", 1, QC_DIM_MAX, "rows of w (outputs)"}, \
    {"k", QC_K_I64, QC_OFF(k), "128", 1, QC_DIM_MAX, "reduction length (cols of x and w); a multiple of g for q4/nf4"}, \
    {"w", QC_K_WT, QC_OFF(wtype), "f32", 0, 0, "weight dtype: f32 f16 bf16 q8 q4 nf4 fp8 (=fp8_e4m3) fp8_e5m2 q4_0 q4_1 q5_0 q5_1 q8_0 q4_k q5_k q6_k"}, \
    {"g", QC_K_I32, QC_OFF(group), "0", 0, 128, "q4 group 32/64/128, nf4 block 64; 0 = format default (64)"}, \
    {"dq", QC_K_I32, QC_OFF(dq), "0", 0, 1, "nf4 double quantization of the absmax values"}, \
    {"x", QC_K_ACT, QC_OFF(dtype), "f32", 0, 0, "activation (and result) dtype"}, \
    {"b", QC_K_I64, QC_OFF(b), "1", 1, QC_DIM_MAX, "leading batch dim of x (x is [b,m,k] when b > 1)"}, \
    {"wbuf", QC_K_I32, QC_OFF(wbuf), "0", 0, 1, "weight in a quanta_buffer instead of a graph constant"}

static const qc_key keys[] = {MATMUL_KEYS, QC_KEYS_END};

static const qc_key glu_keys[] = {
    MATMUL_KEYS,
    {"act", QC_K_I32, QC_OFF(act), "0", 0, 2, "0 silu, 1 gelu (erf), 2 gelu (tanh approximation)"},
    QC_KEYS_END};

static const qc_key multi_keys[] = {
    MATMUL_KEYS,
    {"n1", QC_K_I64, QC_OFF(n1), "16", 1, QC_DIM_MAX, "rows of w1 (outputs of the second product)"},
    {"n2", QC_K_I64, QC_OFF(n2), "16", 0, QC_DIM_MAX, "rows of w2 (third product); 0 = two weights"},
    {"part", QC_K_I32, QC_OFF(part), "0", 0, 2, "the product judged: 0 x·w0ᵀ (n = rows of w0), 1, 2"},
    QC_KEYS_END};

static int validate(const qc_case *c, char *err, size_t errlen) {
    if (!qc_is_act(c->dtype)) return qc_err(err, errlen, "x must be f32, f16 or bf16");
    if (!qc_is_weight(c->wtype)) return qc_err(err, errlen, "w is not a weight format");
    if (qc_check_format(c->wtype, c->group, c->dq, c->k, "k", err, errlen)) return -1;
    int64_t x[3] = {c->b, c->m, c->k}, w[2] = {c->n, c->k}, y[3] = {c->b, c->m, c->n};
    if (qc_check_elems("x", x, 3, err, errlen) || qc_check_elems("w", w, 2, err, errlen) ||
        qc_check_elems("y", y, 3, err, errlen))
        return -1;
    return 0;
}

static int validate_multi(const qc_case *c, char *err, size_t errlen) {
    if (validate(c, err, errlen)) return -1;
    if (c->part == 2 && c->n2 == 0) return qc_err(err, errlen, "part 2 needs n2 > 0");
    int64_t w1[2] = {c->n1, c->k}, w2[2] = {c->n2 ? c->n2 : 1, c->k};
    return qc_check_elems("w1", w1, 2, err, errlen) || qc_check_elems("w2", w2, 2, err, errlen) ? -1 : 0;
}

static int64_t elements(const qc_case *c) { return c->b * c->m * c->k + c->n * c->k + c->b * c->m * c->n; }
static int64_t multi_elements(const qc_case *c) { return elements(c) + (c->n1 + c->n2) * (c->k + c->b * c->m); }
static int64_t glu_elements(const qc_case *c) { return elements(c) + c->n * c->k; }

/* x ~ N(0, 1); w ~ N(0, 1/√K) so that y ~ N(0, 1), quantized by quanta_quantize. */
static int make(const qc_case *c, qc_data *d, qc_rng *r, char *err, size_t errlen) {
    int64_t xd[3] = {c->b, c->m, c->k}, yd[3] = {c->b, c->m, c->n}, wd[2] = {c->n, c->k};
    int nd = c->b > 1 ? 3 : 2;
    quanta_tensor_desc x = qc_desc(c->dtype, nd, nd == 3 ? xd : xd + 1), w = qc_desc(c->wtype, 2, wd);
    w.group = c->group;
    w.double_quant = c->dq;
    d->out_desc = qc_desc(c->dtype, nd, nd == 3 ? yd : yd + 1);
    return qc_slot_fill(d, 0, "x", QC_ROLE_INPUT, &x, r, 0, 1, err, errlen) ||
                   qc_slot_fill(d, 1, "w", c->wbuf ? QC_ROLE_BUFFER : QC_ROLE_CONST, &w, r, 0,
                                1.0f / sqrtf((float)c->k), err, errlen)
               ? -1
               : 0;
}

/* make, and the energies of x · wᵀ (a dot product per result: it can cancel). */
static int mm_make(const qc_case *c, qc_data *d, qc_rng *r, char *err, size_t errlen) {
    return make(c, d, r, err, errlen) || qc_dot_energy(d, 0, 1, err, errlen) ? -1 : 0;
}

/* matmul's x and w, then w_up drawn like w (the same format, a fresh draw). */
static int glu_make(const qc_case *c, qc_data *d, qc_rng *r, char *err, size_t errlen) {
    if (make(c, d, r, err, errlen)) return -1;
    int64_t wd[2] = {c->n, c->k};
    quanta_tensor_desc w = qc_desc(c->wtype, 2, wd);
    w.group = c->group;
    w.double_quant = c->dq;
    return qc_slot_fill(d, 2, "w_up", c->wbuf ? QC_ROLE_BUFFER : QC_ROLE_CONST, &w, r, 0, 1.0f / sqrtf((float)c->k),
                        err, errlen);
}

/* matmul's x and w (w0), then w1 and w2 (n2 > 0) drawn like it, the judged product's shape. */
static int multi_make(const qc_case *c, qc_data *d, qc_rng *r, char *err, size_t errlen) {
    if (make(c, d, r, err, errlen)) return -1;
    const int64_t rows[2] = {c->n1, c->n2};
    for (int i = 0; i < 2 && rows[i]; i++) {
        int64_t wd[2] = {rows[i], c->k};
        quanta_tensor_desc w = qc_desc(c->wtype, 2, wd);
        w.group = c->group;
        w.double_quant = c->dq;
        if (qc_slot_fill(d, 2 + i, i ? "w2" : "w1", c->wbuf ? QC_ROLE_BUFFER : QC_ROLE_CONST, &w, r, 0,
                         1.0f / sqrtf((float)c->k), err, errlen))
            return -1;
    }
    if (c->part) d->out_desc.dims[d->out_desc.ndim - 1] = rows[c->part - 1];
    return qc_dot_energy(d, 0, 1 + c->part, err, errlen); /* the judged product's */
}

/* The products as plain matmuls of one x (plans fuse them where the backend has the kernel), all
 * of them outputs so that none is dropped; *y is the judged one. */
static quanta_status multi_build(quanta_graph *g, const qc_case *c, quanta_tensor *const *t, quanta_tensor **y) {
    quanta_tensor *p[3] = {NULL, NULL, NULL};
    quanta_status st = QUANTA_OK;
    for (int i = 0; i < (c->n2 ? 3 : 2) && st == QUANTA_OK; i++) {
        st = quanta_matmul(g, t[0], t[1 + i], &p[i]);
        if (st == QUANTA_OK && i != c->part) st = quanta_graph_output(g, p[i]);
    }
    *y = p[c->part];
    return st;
}

static quanta_status build(quanta_graph *g, const qc_case *c, quanta_tensor *const *t, quanta_tensor **y) {
    (void)c;
    return quanta_matmul(g, t[0], t[1], y);
}

static quanta_status glu_build(quanta_graph *g, const qc_case *c, quanta_tensor *const *t, quanta_tensor **y) {
    return quanta_matmul_glu(g, t[0], t[1], t[2], (quanta_glu_act)c->act, y);
}

static void one_op(qc_gen *g, qn_op op, int act, const qc_wfmt *w, quanta_dtype x, int64_t b, int64_t m, int64_t n,
                   int64_t k, int wbuf) {
    qc_case c;
    qc_case_defaults(op, &c);
    c.act = act;
    qc_set_weight(&c, w);
    c.dtype = x;
    c.b = b;
    c.m = m;
    c.n = n;
    c.k = qc_legal_cols(w, k);
    c.wbuf = wbuf;
    qc_gen_add(g, &c);
}

static void one(qc_gen *g, const qc_wfmt *w, quanta_dtype x, int64_t b, int64_t m, int64_t n, int64_t k, int wbuf) {
    one_op(g, QN_OP_MATMUL, 0, w, x, b, m, n, k, wbuf);
}

/* ggml block weights past the int8 GEMV (M > 8): the CUDA tensor-core kernel that decodes the blocks
 * per tile (kernels_cuda/ggml_mmq.cu) picks its tile by grid size (132 SMs): M = 16 and odd M/N/K
 * take the 64x32 tile, M = 512 with 96 rows too (16 column blocks), 3100 rows at M = 512 the 128x128
 * tile (a partial last row block), 6500 rows at M = 100 the 128x64 one; K not a multiple of the
 * kernel's 64-wide step where the format allows (32-element blocks). The activation rotates. */
static void ggml_batched(qc_gen *g, const qc_wfmt *w, size_t i) {
    static const int64_t shapes[][3] = {{16, 64, 288}, {77, 131, 160}, {512, 96, 544}, {512, 3100, 96}, {100, 6500, 64}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        one(g, w, qc_acts[(i + s) % 3], 1, shapes[s][0], shapes[s][1], qc_legal_cols(w, shapes[s][2]), 0);
}

/* e4m3 weights at M >= 64, where CUDA's FP8 x FP8 kernel (kernels_cuda/matmul_fp8_wg.cu,
 * QUANTA_CUDA_FP8_WGMMA=1) takes them: M at its threshold, K not a multiple of its 64-wide step, N and M
 * past its 128x256 / 128x128 / 64x128 / 64x64 tiles (the tile is picked by grid size). x rotates. */
static void fp8_batched(qc_gen *g, const qc_wfmt *w, size_t i) {
    static const int64_t shapes[][3] = {{64, 64, 64}, {77, 131, 160}, {300, 200, 544}, {257, 300, 1024}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        one(g, w, qc_acts[(i + s) % 3], 1, shapes[s][0], shapes[s][1], shapes[s][2], 0);
}

/* q8 at M > 8 past the OpenCL GPU class's q8 GEMM tiles (kernels_cl/gemm_gpu.cl: 64 x rows x 128
 * weight rows, K in steps of 32): partial tiles in M and N, several K steps, and K a multiple of 16
 * but not 32 (qn_gemm's fallback). x rotates. */
static void q8_gpu_batched(qc_gen *g, const qc_wfmt *w, size_t i) {
    static const int64_t shapes[][3] = {{130, 260, 320}, {65, 129, 544}, {77, 131, 208}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        one(g, w, qc_acts[(i + s) % 3], 1, shapes[s][0], shapes[s][1], shapes[s][2], 0);
}

/* Every weight format × x in f32/f16/bf16 × tiny, odd, large K, decode and batched shapes. */
static void generate(qc_gen *g, bool quick) {
    for (size_t i = 0; i < qc_nwfmts; i++) {
        const qc_wfmt *w = &qc_wfmts[i];
        if (quick) {
            /* Each format once with a rotating activation dtype, odd M/N. */
            one(g, w, qc_acts[i % 3], 1, 3, 17, qc_legal_cols(w, 96), (int)(i % 4 == 3));
            continue;
        }
        int64_t q = qc_wquantum(w);
        for (int xi = 0; xi < 3; xi++) {
            quanta_dtype x = qc_acts[xi];
            one(g, w, x, 1, 1, 1, q > 1 ? q : 3, 0);               /* tiny */
            one(g, w, x, 1, 7, 67, q > 1 ? 3 * q : 131, xi == 1);   /* odd */
            one(g, w, x, 1, 3, 64, 4096, 0);                        /* large K */
            one(g, w, x, 1, 1, 512, 1024, xi == 2);                 /* decode */
            one(g, w, x, 1, 8, 67, 640, 0);                          /* decode, the GEMV's most x rows */
            one(g, w, x, 2, 33, 96, 256, 0);                        /* batch, leading dim */
        }
        if (w->t == QUANTA_FP8_E4M3) fp8_batched(g, w, i);
        if (w->t == QUANTA_Q8) q8_gpu_batched(g, w, i);
        if (w->t >= QUANTA_GGML_Q4_0 && w->t <= QUANTA_GGML_Q6_K) {
            ggml_batched(g, w, i);
            /* one x row of 7B-long rows: the CUDA GEMV gives such rows 64 (K = 4096) or 128 (K = 8192)
             * threads instead of one warp */
            one(g, w, qc_acts[i % 3], 1, 1, 96, 4096, 0);
            one(g, w, qc_acts[(i + 1) % 3], 1, 1, 40, 8192, 0);
            /* a prompt's rows on Gemma 3 270M's width (OpenCL: Q5_0 in launches of 8 rows of the
             * int8 GEMV where it runs) */
            one(g, w, qc_acts[(i + 2) % 3], 1, 24, 67, qc_legal_cols(w, 640), 0);
        }
    }
}

/* Every weight format × x in f32/f16/bf16 × the decode shapes the fused GEMV serves (M = 1, and
 * M = 3 of up to 8 rows), odd N and K, the activation rotating; one batched case per format (M
 * past the GEMV: backends leave it to the plain matmuls). Quick: each format once. */
static void glu_generate(qc_gen *g, bool quick) {
    for (size_t i = 0; i < qc_nwfmts; i++) {
        const qc_wfmt *w = &qc_wfmts[i];
        const int64_t q = qc_wquantum(w);
        for (int xi = 0; xi < 3; xi++) {
            if (quick && xi != (int)(i % 3)) continue;
            const int act = (int)((i + (size_t)xi) % 3);
            one_op(g, QN_OP_MATMUL_GLU, act, w, qc_acts[xi], 1, 1, 67, q > 1 ? 3 * q : 131, xi == 1);
            if (quick) continue;
            one_op(g, QN_OP_MATMUL_GLU, (act + 1) % 3, w, qc_acts[xi], 1, 3, 64, qc_legal_cols(w, 1024), xi == 2);
            if (xi == 0) one_op(g, QN_OP_MATMUL_GLU, (act + 2) % 3, w, qc_acts[xi], 2, 9, 33, qc_legal_cols(w, 256), 0);
            /* q8: the OpenCL GPU class's fused kernel (K % 16 == 0) at its most x rows, odd N (row pairs) */
            if (w->t == QUANTA_Q8) one_op(g, QN_OP_MATMUL_GLU, act, w, qc_acts[xi], 1, 8, 67, 640, 0);
            /* and at one x row (its M = 1 kernel, QUANTA_OPENCL_GEMV1=1: a warp per output) */
            if (w->t == QUANTA_Q8) one_op(g, QN_OP_MATMUL_GLU, (act + 1) % 3, w, qc_acts[xi], 1, 1, 67, 640, 0);
            /* a 7B-long row, one x row (the CUDA GEMV's 64 threads per row) */
            if (xi == 1 && w->t >= QUANTA_GGML_Q4_0 && w->t <= QUANTA_GGML_Q6_K)
                one_op(g, QN_OP_MATMUL_GLU, act, w, qc_acts[xi], 1, 1, 48, 4096, 0);
        }
    }
}

/* The decode shapes the fused GEMV serves (M = 1, 3 and 8 x rows), q/k/v-like row counts (a GQA
 * layer's k and v a quarter of q), two weights and three, every weight format (the ones OpenCL
 * does not fuse keep their matmuls: still checked), each product judged in turn; one batched case
 * per format (M past the GEMV). Quick: each format once. */
static void multi_generate(qc_gen *g, bool quick) {
    for (size_t i = 0; i < qc_nwfmts; i++) {
        const qc_wfmt *w = &qc_wfmts[i];
        const int64_t q = qc_wquantum(w);
        for (int xi = 0; xi < 3; xi++) {
            if (quick && xi != (int)(i % 3)) continue;
            /* M, then rows of w0, w1, w2 */
            static const int64_t shapes[][4] = {{1, 64, 16, 16}, {3, 67, 33, 0}, {8, 40, 10, 10}, {1, 128, 32, 32},
                                                {12, 24, 8, 8}, {1, 48, 16, 16}, {3, 67, 33, 13}, {8, 41, 10, 9},
                                                {1, 67, 33, 13}};
            for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
                if (quick && s != i % 3) continue;
                if (s == 4 && xi != 0) continue; /* batched: once per format */
                /* a 7B-long row (K = 4096: the CUDA GEMV's 64 threads per row), ggml formats, once */
                if (s == 5 && (xi != 2 || w->t < QUANTA_GGML_Q4_0 || w->t > QUANTA_GGML_Q6_K)) continue;
                /* q8 at K = 640 with row counts that are not multiples of 4: the OpenCL GPU class's
                 * stacked kernel (4-row sets straddling two weights; K % 16 == 0), and at M = 1 its
                 * 2-row warps (QUANTA_OPENCL_GEMV1=1) */
                if (s >= 6 && w->t != QUANTA_Q8) continue;
                qc_case c;
                qc_case_defaults(QN_OP_MATMUL_MULTI, &c);
                qc_set_weight(&c, w);
                c.dtype = qc_acts[xi];
                c.m = shapes[s][0];
                c.n = shapes[s][1];
                c.n1 = shapes[s][2];
                c.n2 = shapes[s][3];
                c.k = qc_legal_cols(w, s == 5 ? 4096 : (s == 3 || s >= 6) ? 640 : (q > 1 ? 3 * q : 131));
                c.part = (int32_t)((i + s + (size_t)xi) % (c.n2 ? 3 : 2));
                c.wbuf = (int)(s == 1);
                qc_gen_add(g, &c);
            }
        }
    }
}

/* fp8_e4m3 weights are judged by their own row, whatever x's dtype: a backend may run them as FP8 x FP8 (x
 * quantized per row to e4m3: scale max|x_row| / 448, 3 mantissa bits, so up to 2^-4 relative per element),
 * CUDA's QUANTA_CUDA_FP8_WGMMA=1 at M >= 64 (bench/NOTES.md, mmq8). Against the reference's f32 x that
 * rounding alone gives NMSE 6.7-7.2e-4 and a largest error of 3.1-3.4% of max|y| (numpy model of the
 * arithmetic, x ~ N(0, 1), w ~ N(0, 1/K), 20 draws of each conformance shape, 2026-12-05), above the 5e-4 /
 * 2e-2 of the other formats; the row allows about twice that (with bf16's output rounding). Only at
 * M >= 64 (x rows, b·m), where that kernel runs: below it every backend keeps x as it is and is held to
 * the other formats' bound, so the looser row costs ref and OpenCL no sensitivity on decode shapes. */
static quanta_dtype threshold_dtype(const qc_case *c) {
    return c->wtype == QUANTA_FP8_E4M3 && c->b * c->m >= 64 ? QUANTA_FP8_E4M3 : c->dtype;
}

static const qc_thr_row thresholds[] = {
    {QUANTA_FP8_E4M3, {1.5e-3, 7e-2, false, "e4m3 weights: x may be quantized per row to e4m3 (FP8 x FP8)"}},
    {QUANTA_F32, {5e-4, 2e-2, false, "ggml mul_mat; accumulation order, f16/tf32/int8 internal paths"}},
    {QUANTA_F16, {5e-4, 2e-2, false, "ggml mul_mat; + f16 output rounding"}},
    {QUANTA_BF16, {5e-4, 4e-2, false, "ggml mul_mat; + bf16 output rounding (2^-8 relative)"}},
    QC_THR_END};

const qc_op_def qc_matmul_def = {QN_OP_MATMUL, keys, validate, elements, mm_make, build, generate, thresholds,
                                 threshold_dtype, NULL};
const qc_op_def qc_matmul_glu_def = {QN_OP_MATMUL_GLU, glu_keys, validate, glu_elements, glu_make, glu_build,
                                     glu_generate, thresholds, threshold_dtype, NULL};
const qc_op_def qc_matmul_multi_def = {QN_OP_MATMUL_MULTI, multi_keys, validate_multi, multi_elements, multi_make,
                                       multi_build, multi_generate, thresholds, threshold_dtype, NULL};
