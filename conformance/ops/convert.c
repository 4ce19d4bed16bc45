/* convert.c — conformance entry of convert between f32, f16 and bf16 (every pair): one
 * round-to-nearest-even per value, so the result must be exact. */
#include "op_entry.h"

static const qc_key keys[] = {
    {"shape", QC_K_SHAPE, QC_OFF(shape), "4x256", 0, 0, "x dims"},
    {"dtype", QC_K_ACT, QC_OFF(dtype), "f32", 0, 0, "source dtype"},
    {"to", QC_K_ACT, QC_OFF(to), "f16", 0, 0, "target dtype"},
    QC_KEYS_END};

static int validate(const qc_case *c, char *err, size_t errlen) {
    if (qc_check_shape(c, err, errlen)) return -1;
    if (!qc_is_act(c->to)) return qc_err(err, errlen, "to must be f32, f16 or bf16");
    return 0;
}

static int make(const qc_case *c, qc_data *d, qc_rng *r, char *err, size_t errlen) {
    if (qc_make_x(c, d, r, 1.0f, err, errlen)) return -1;
    d->out_desc.dtype = c->to;
    return 0;
}

static quanta_status build(quanta_graph *g, const qc_case *c, quanta_tensor *const *t, quanta_tensor **y) {
    return quanta_convert(g, t[0], c->to, y);
}

static void generate(qc_gen *g, bool quick) {
    size_t ns;
    const int64_t(*sh)[3] = qc_row_shapes(quick, &ns);
    for (int ti = 0; ti < 3; ti++)
        for (size_t si = 0; si < ns; si++)
            for (int to = 0; to < 3; to++) {
                if (quick && to == ti) continue;
                qc_case c;
                qc_case_defaults(QN_OP_CONVERT, &c);
                c.dtype = qc_acts[ti];
                c.to = qc_acts[to];
                qc_set_row_shape(&c, sh[si]);
                qc_gen_add(g, &c);
            }
}

static quanta_dtype target(const qc_case *c) { return c->to; }

static const qc_thr_row thresholds[] = {
    {QC_ANY_DTYPE, {0, 0, true, "one round-to-nearest-even per value: must be exact"}},
    QC_THR_END};

const qc_op_def qc_convert_def = {QN_OP_CONVERT, keys, validate, qc_unary_elements, make, build, generate,
                                  thresholds, target, target};
