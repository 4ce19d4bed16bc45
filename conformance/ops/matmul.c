/* matmul.c — conformance entry of matmul: y[b][m][n] = x[b][m][k] · w[n][k]ᵀ, every weight format. */
#include <math.h>

#include "op_entry.h"

static const qc_key keys[] = {
    {"m", QC_K_I64, QC_OFF(m), "4", 1, QC_DIM_MAX, "rows of x (tokens); 1 = decode"},
    {"n", QC_K_I64, QC_OFF(n), "64", 1, QC_DIM_MAX, "rows of w (outputs)"},
    {"k", QC_K_I64, QC_OFF(k), "128", 1, QC_DIM_MAX, "reduction length (cols of x and w); a multiple of g for q4/nf4"},
    {"w", QC_K_WT, QC_OFF(wtype), "f32", 0, 0, "weight dtype: f32 f16 bf16 q8 q4 nf4 fp8 (=fp8_e4m3) fp8_e5m2 q4_0 q4_1 q5_0 q5_1 q8_0 q4_k q5_k q6_k"},
    {"g", QC_K_I32, QC_OFF(group), "0", 0, 128, "q4 group 32/64/128, nf4 block 64; 0 = format default (64)"},
    {"dq", QC_K_I32, QC_OFF(dq), "0", 0, 1, "nf4 double quantization of the absmax values"},
    {"x", QC_K_ACT, QC_OFF(dtype), "f32", 0, 0, "activation (and result) dtype"},
    {"b", QC_K_I64, QC_OFF(b), "1", 1, QC_DIM_MAX, "leading batch dim of x (x is [b,m,k] when b > 1)"},
    {"wbuf", QC_K_I32, QC_OFF(wbuf), "0", 0, 1, "weight in a quanta_buffer instead of a graph constant"},
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

static int64_t elements(const qc_case *c) { return c->b * c->m * c->k + c->n * c->k + c->b * c->m * c->n; }

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

static quanta_status build(quanta_graph *g, const qc_case *c, quanta_tensor *const *t, quanta_tensor **y) {
    (void)c;
    return quanta_matmul(g, t[0], t[1], y);
}

static void one(qc_gen *g, const qc_wfmt *w, quanta_dtype x, int64_t b, int64_t m, int64_t n, int64_t k, int wbuf) {
    qc_case c;
    qc_case_defaults(QN_OP_MATMUL, &c);
    qc_set_weight(&c, w);
    c.dtype = x;
    c.b = b;
    c.m = m;
    c.n = n;
    c.k = qc_legal_cols(w, k);
    c.wbuf = wbuf;
    qc_gen_add(g, &c);
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
            one(g, w, x, 2, 33, 96, 256, 0);                        /* batch, leading dim */
        }
    }
}

static const qc_thr_row thresholds[] = {
    {QUANTA_F32, {5e-4, 2e-2, false, "ggml mul_mat; accumulation order, f16/tf32/int8 internal paths"}},
    {QUANTA_F16, {5e-4, 2e-2, false, "ggml mul_mat; + f16 output rounding"}},
    {QUANTA_BF16, {5e-4, 4e-2, false, "ggml mul_mat; + bf16 output rounding (2^-8 relative)"}},
    QC_THR_END};

const qc_op_def qc_matmul_def = {QN_OP_MATMUL, keys, validate, elements, make, build, generate, thresholds, NULL, NULL};
