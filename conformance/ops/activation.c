/* activation.c — conformance entries of silu, x·sigmoid(x), and gelu, x·Φ(x) (exact erf form or
 * the tanh approximation), and glu, act(gate)·up with either. x and gate ~ N(0, 3), wide
 * enough to reach both saturating tails; up ~ N(1, 1). */
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

static const qc_key glu_keys[] = {
    {"shape", QC_K_SHAPE, QC_OFF(shape), "4x256", 0, 0, "gate and up dims"},
    {"act", QC_K_I32, QC_OFF(act), "0", 0, 2, "0 silu, 1 gelu (erf), 2 gelu (tanh approximation)"},
    {"dtype", QC_K_ACT, QC_OFF(dtype), "f32", 0, 0, "gate, up and result dtype"},
    QC_KEYS_END};

static int make(const qc_case *c, qc_data *d, qc_rng *r, char *err, size_t errlen) {
    return qc_make_x(c, d, r, 3.0f, err, errlen);
}

static int64_t glu_elements(const qc_case *c) { return 3 * qc_shape_elems(c); }

static int glu_make(const qc_case *c, qc_data *d, qc_rng *r, char *err, size_t errlen) {
    quanta_tensor_desc x = qc_desc(c->dtype, c->ndim, c->shape);
    d->out_desc = x;
    return qc_slot_fill(d, 0, "gate", QC_ROLE_INPUT, &x, r, 0, 3, err, errlen) ||
                   qc_slot_fill(d, 1, "up", QC_ROLE_INPUT, &x, r, 1, 1, err, errlen)
               ? -1
               : 0;
}

static quanta_status silu_build(quanta_graph *g, const qc_case *c, quanta_tensor *const *t, quanta_tensor **y) {
    (void)c;
    return quanta_silu(g, t[0], y);
}

static quanta_status gelu_build(quanta_graph *g, const qc_case *c, quanta_tensor *const *t, quanta_tensor **y) {
    return quanta_gelu(g, t[0], c->approx, y);
}

static quanta_status glu_build(quanta_graph *g, const qc_case *c, quanta_tensor *const *t, quanta_tensor **y) {
    return quanta_glu(g, t[0], t[1], (quanta_glu_act)c->act, y);
}

/* Every dtype × row shape class; gelu in both forms, glu with each activation (quick: one
 * form per dtype). */
static void generate(qc_gen *g, bool quick, qn_op op) {
    size_t ns;
    const int64_t(*sh)[3] = qc_row_shapes(quick, &ns);
    const int forms = op == QN_OP_GELU ? 2 : op == QN_OP_GLU ? 3 : 1;
    for (int ti = 0; ti < 3; ti++)
        for (size_t si = 0; si < ns; si++)
            for (int a = 0; a < forms; a++) {
                if (forms > 1 && quick && a != ti % forms) continue;
                qc_case c;
                qc_case_defaults(op, &c);
                c.dtype = qc_acts[ti];
                qc_set_row_shape(&c, sh[si]);
                if (op == QN_OP_GLU) c.act = a;
                else c.approx = a;
                qc_gen_add(g, &c);
            }
}
static void silu_generate(qc_gen *g, bool quick) { generate(g, quick, QN_OP_SILU); }
static void gelu_generate(qc_gen *g, bool quick) { generate(g, quick, QN_OP_GELU); }
static void glu_generate(qc_gen *g, bool quick) { generate(g, quick, QN_OP_GLU); }

const qc_op_def qc_silu_def = {QN_OP_SILU, silu_keys, qc_check_shape, qc_unary_elements, make, silu_build,
                               silu_generate, NULL, NULL, NULL};
const qc_op_def qc_gelu_def = {QN_OP_GELU, gelu_keys, qc_check_shape, qc_unary_elements, make, gelu_build,
                               gelu_generate, NULL, NULL, NULL};
const qc_op_def qc_glu_def = {QN_OP_GLU, glu_keys, qc_check_shape, glu_elements, glu_make, glu_build,
                              glu_generate, NULL, NULL, NULL};
