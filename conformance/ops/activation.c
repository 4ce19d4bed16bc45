/* activation.c — conformance entries of silu, x·sigmoid(x), and gelu, x·Φ(x) (exact erf form or
 * the tanh approximation). x ~ N(0, 3), wide enough to reach both saturating tails. */
#include "op_entry.h"

static const qc_key silu_keys[] = {
    {"shape", QC_K_SHAPE, QC_OFF(shape), "4x256", 0, 0, "x dims"},
    {"dtype", QC_K_ACT, QC_OFF(dtype), "f32", 0, 0, "x and result dtype"},
    QC_KEYS_END};

static const qc_key gelu_keys[] = {
    {"shape", QC_K_SHAPE, QC_OFF(shape), "4x256", 0, 0, "x dims"},
    {"approx", QC_K_I32, QC_OFF(approx), "0", 0, 1, "1 = tanh approximation, 0 = exact erf form"},
    {"dtype", QC_K_ACT, QC_OFF(dtype), "f32", 0, 0, "x and result dtype"},
    QC_KEYS_END};

static int make(const qc_case *c, qc_data *d, qc_rng *r, char *err, size_t errlen) {
    return qc_make_x(c, d, r, 3.0f, err, errlen);
}

static quanta_status silu_build(quanta_graph *g, const qc_case *c, quanta_tensor *const *t, quanta_tensor **y) {
    (void)c;
    return quanta_silu(g, t[0], y);
}

static quanta_status gelu_build(quanta_graph *g, const qc_case *c, quanta_tensor *const *t, quanta_tensor **y) {
    return quanta_gelu(g, t[0], c->approx, y);
}

/* Every dtype × row shape class; gelu in both forms (quick: one form per dtype). */
static void generate(qc_gen *g, bool quick, qn_op op) {
    size_t ns;
    const int64_t(*sh)[3] = qc_row_shapes(quick, &ns);
    for (int ti = 0; ti < 3; ti++)
        for (size_t si = 0; si < ns; si++)
            for (int a = 0; a < (op == QN_OP_GELU ? 2 : 1); a++) {
                if (op == QN_OP_GELU && quick && a != ti % 2) continue;
                qc_case c;
                qc_case_defaults(op, &c);
                c.dtype = qc_acts[ti];
                qc_set_row_shape(&c, sh[si]);
                c.approx = a;
                qc_gen_add(g, &c);
            }
}
static void silu_generate(qc_gen *g, bool quick) { generate(g, quick, QN_OP_SILU); }
static void gelu_generate(qc_gen *g, bool quick) { generate(g, quick, QN_OP_GELU); }

const qc_op_def qc_silu_def = {QN_OP_SILU, silu_keys, qc_check_shape, qc_unary_elements, make, silu_build,
                               silu_generate, NULL, NULL, NULL};
const qc_op_def qc_gelu_def = {QN_OP_GELU, gelu_keys, qc_check_shape, qc_unary_elements, make, gelu_build,
                               gelu_generate, NULL, NULL, NULL};
