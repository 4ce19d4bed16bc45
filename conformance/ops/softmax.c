/* softmax.c — conformance entry of softmax over the last dim. x ~ N(0, 4): large spreads stress
 * the max shift; a vocabulary-sized row (32000) in the full sweep. */
#include "op_entry.h"

static const qc_key keys[] = {
    {"shape", QC_K_SHAPE, QC_OFF(shape), "4x256", 0, 0, "x dims (softmax over the last)"},
    {"dtype", QC_K_ACT, QC_OFF(dtype), "f32", 0, 0, "x and result dtype"},
    QC_KEYS_END};

static int make(const qc_case *c, qc_data *d, qc_rng *r, char *err, size_t errlen) {
    return qc_make_x(c, d, r, 4.0f, err, errlen);
}

static quanta_status build(quanta_graph *g, const qc_case *c, quanta_tensor *const *t, quanta_tensor **y) {
    (void)c;
    return quanta_softmax(g, t[0], y);
}

static void generate(qc_gen *g, bool quick) {
    size_t ns;
    const int64_t(*sh)[3] = qc_row_shapes(quick, &ns);
    qc_case c;
    for (int ti = 0; ti < 3; ti++)
        for (size_t si = 0; si < ns; si++) {
            qc_case_defaults(QN_OP_SOFTMAX, &c);
            c.dtype = qc_acts[ti];
            qc_set_row_shape(&c, sh[si]);
            qc_gen_add(g, &c);
        }
    if (quick) return;
    for (int ti = 0; ti < 3; ti++) { /* a vocabulary-sized row */
        qc_case_defaults(QN_OP_SOFTMAX, &c);
        c.dtype = qc_acts[ti];
        qc_set_shape(&c, 2, 2, 32000, 0, 0);
        qc_gen_add(g, &c);
    }
}

static const qc_thr_row thresholds[] = {
    {QUANTA_F32, {1e-6, 1e-4, false, "ggml softmax; exp in f32"}},
    {QUANTA_F16, {1e-5, 4e-3, false, "softmax; f16 output ulps"}},
    {QUANTA_BF16, {5e-5, 3e-2, false, "softmax; bf16 output ulps"}},
    QC_THR_END};

const qc_op_def qc_softmax_def = {QN_OP_SOFTMAX, keys, qc_check_shape, qc_unary_elements, make, build, generate,
                                  thresholds, NULL, NULL};
