/* get_rows.c — conformance entry of get_rows: rows of a table in any weight format, gathered
 * by i32 ids and dequantized to f32 (the embedding lookup). */
#include "op_entry.h"

static const qc_key keys[] = {
    {"v", QC_K_I64, QC_OFF(v), "50", 1, QC_DIM_MAX, "table rows (vocabulary)"},
    {"d", QC_K_I64, QC_OFF(d), "64", 1, QC_DIM_MAX, "table cols; a multiple of g for q4/nf4"},
    {"t", QC_K_I64, QC_OFF(t), "8", 1, QC_DIM_MAX, "ids (first and last table row always among them when t >= 2)"},
    {"table", QC_K_WT, QC_OFF(wtype), "f32", 0, 0, "table dtype: f32 f16 bf16 q8 q4 nf4 fp8 fp8_e5m2 q4_0 q4_1 q5_0 q5_1 q8_0 q4_k q5_k q6_k"},
    {"g", QC_K_I32, QC_OFF(group), "0", 0, 128, "q4 group / nf4 block; 0 = format default"},
    {"dq", QC_K_I32, QC_OFF(dq), "0", 0, 1, "nf4 double quantization"},
    {"wbuf", QC_K_I32, QC_OFF(wbuf), "0", 0, 1, "table in a quanta_buffer instead of a graph constant"},
    QC_KEYS_END};

static int validate(const qc_case *c, char *err, size_t errlen) {
    if (!qc_is_weight(c->wtype)) return qc_err(err, errlen, "table is not a weight format");
    if (qc_check_format(c->wtype, c->group, c->dq, c->d, "d", err, errlen)) return -1;
    int64_t tab[2] = {c->v, c->d}, out[2] = {c->t, c->d};
    if (qc_check_elems("table", tab, 2, err, errlen) || qc_check_elems("out", out, 2, err, errlen)) return -1;
    return 0;
}

static int64_t elements(const qc_case *c) { return c->v * c->d + c->t * c->d + c->t; }

/* table ~ N(0, 1) in its format; ids uniform, with the table's first and last row among them. */
static int make(const qc_case *c, qc_data *d, qc_rng *r, char *err, size_t errlen) {
    int64_t td[2] = {c->v, c->d}, od[2] = {c->t, c->d};
    quanta_tensor_desc w = qc_desc(c->wtype, 2, td);
    w.group = c->group;
    w.double_quant = c->dq;
    d->out_desc = qc_desc(QUANTA_F32, 2, od);
    if (qc_slot_fill(d, 0, "table", c->wbuf ? QC_ROLE_BUFFER : QC_ROLE_CONST, &w, r, 0, 1, err, errlen) ||
        qc_i32_slot(d, 1, "ids", c->t, err, errlen))
        return -1;
    int32_t *p = d->t[1].data;
    for (int64_t j = 0; j < c->t; j++) p[j] = (int32_t)qc_rng_below(r, c->v);
    if (c->t >= 2) { /* the table's edges, where an off-by-one row shows */
        p[0] = 0;
        p[c->t - 1] = (int32_t)(c->v - 1);
    }
    return 0;
}

static quanta_status build(quanta_graph *g, const qc_case *c, quanta_tensor *const *t, quanta_tensor **y) {
    (void)c;
    return quanta_get_rows(g, t[0], t[1], y);
}

/* Every table format × {v, d-hint, t}: one row, odd sizes, a large table. */
static void generate(qc_gen *g, bool quick) {
    static const int64_t full[][3] = {{1, 64, 1}, {101, 192, 17}, {5000, 512, 64}};
    for (size_t i = 0; i < qc_nwfmts; i++)
        for (size_t s = 0; s < (quick ? 1u : 3u); s++) {
            const qc_wfmt *w = &qc_wfmts[i];
            qc_case c;
            qc_case_defaults(QN_OP_GET_ROWS, &c);
            qc_set_weight(&c, w);
            if (quick) {
                c.v = 37;
                c.d = qc_legal_cols(w, 96);
                c.t = 9;
            } else {
                c.v = full[s][0];
                c.d = qc_legal_cols(w, qc_wquantum(w) > 1 ? full[s][1] : full[s][1] + 3);
                c.t = full[s][2];
            }
            c.wbuf = (int32_t)((i + s) % 3 == 1);
            qc_gen_add(g, &c);
        }
}

/* The table's format picks the row; the result is f32. */
static quanta_dtype table_dtype(const qc_case *c) { return c->wtype; }
static quanta_dtype result_f32(const qc_case *c) {
    (void)c;
    return QUANTA_F32;
}

static const qc_thr_row thresholds[] = {
    {QUANTA_F32, {0, 0, true, "dense table rows copied/converted: exact"}},
    {QUANTA_F16, {0, 0, true, "dense table rows copied/converted: exact"}},
    {QUANTA_BF16, {0, 0, true, "dense table rows copied/converted: exact"}},
    {QC_ANY_DTYPE, {1e-12, 1e-6, false, "quantized table: one or two f32 roundings per value"}},
    QC_THR_END};

const qc_op_def qc_get_rows_def = {QN_OP_GET_ROWS, keys, validate, elements, make, build, generate, thresholds,
                                   table_dtype, result_f32};
