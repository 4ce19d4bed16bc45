/* binary.c — conformance entries of add and mul, element-wise over a and b of one shape, or b
 * one row [last dim] broadcast over a (then a graph constant, as a bias or gain is). */
#include "op_entry.h"

static const qc_key keys[] = {
    {"shape", QC_K_SHAPE, QC_OFF(shape), "4x256", 0, 0, "a dims"},
    {"bcast", QC_K_I32, QC_OFF(bcast), "0", 0, 1, "b is one row [last dim] broadcast over a (a graph constant)"},
    {"dtype", QC_K_ACT, QC_OFF(dtype), "f32", 0, 0, "a, b and result dtype"},
    QC_KEYS_END};

static int64_t elements(const qc_case *c) { return 3 * qc_shape_elems(c); }

/* a ~ N(0, 1); b ~ N(0, 1) for add, N(1, 1) for mul (a gain around one). */
static int make(const qc_case *c, qc_data *d, qc_rng *r, char *err, size_t errlen) {
    quanta_tensor_desc a = qc_desc(c->dtype, c->ndim, c->shape);
    quanta_tensor_desc b = c->bcast ? qc_desc(c->dtype, 1, &c->shape[c->ndim - 1]) : a;
    d->out_desc = a;
    return qc_slot_fill(d, 0, "a", QC_ROLE_INPUT, &a, r, 0, 1, err, errlen) ||
                   qc_slot_fill(d, 1, "b", c->bcast ? QC_ROLE_CONST : QC_ROLE_INPUT, &b, r,
                                c->op == QN_OP_MUL ? 1.0f : 0.0f, 1, err, errlen)
               ? -1
               : 0;
}

static quanta_status add_build(quanta_graph *g, const qc_case *c, quanta_tensor *const *t, quanta_tensor **y) {
    (void)c;
    return quanta_add(g, t[0], t[1], y);
}

static quanta_status mul_build(quanta_graph *g, const qc_case *c, quanta_tensor *const *t, quanta_tensor **y) {
    (void)c;
    return quanta_mul(g, t[0], t[1], y);
}

/* Every dtype × row shape class × with and without the broadcast row (quick: one of the two,
 * alternating between dtypes and between add and mul). */
static void generate(qc_gen *g, bool quick, qn_op op) {
    size_t ns;
    const int64_t(*sh)[3] = qc_row_shapes(quick, &ns);
    const int which = op == QN_OP_MUL;
    for (int ti = 0; ti < 3; ti++)
        for (size_t si = 0; si < ns; si++)
            for (int bc = 0; bc < 2; bc++) {
                if (quick && bc != (ti + which) % 2) continue;
                qc_case c;
                qc_case_defaults(op, &c);
                c.dtype = qc_acts[ti];
                qc_set_row_shape(&c, sh[si]);
                c.bcast = bc;
                qc_gen_add(g, &c);
            }
}
static void add_generate(qc_gen *g, bool quick) { generate(g, quick, QN_OP_ADD); }
static void mul_generate(qc_gen *g, bool quick) { generate(g, quick, QN_OP_MUL); }

const qc_op_def qc_add_def = {QN_OP_ADD, keys, qc_check_shape, elements, make, add_build, add_generate,
                              NULL, NULL, NULL};
const qc_op_def qc_mul_def = {QN_OP_MUL, keys, qc_check_shape, elements, make, mul_build, mul_generate,
                              NULL, NULL, NULL};
