/* scale.c — conformance entry of scale: x · s, with factors of both signs, tiny and large. */
#include "op_entry.h"

static const qc_key keys[] = {
    {"shape", QC_K_SHAPE, QC_OFF(shape), "4x256", 0, 0, "x dims"},
    {"s", QC_K_F32, QC_OFF(scale), "0.5", 0, 0, "the factor"},
    {"dtype", QC_K_ACT, QC_OFF(dtype), "f32", 0, 0, "x and result dtype"},
    QC_KEYS_END};

static int make(const qc_case *c, qc_data *d, qc_rng *r, char *err, size_t errlen) {
    return qc_make_x(c, d, r, 1.0f, err, errlen);
}

static quanta_status build(quanta_graph *g, const qc_case *c, quanta_tensor *const *t, quanta_tensor **y) {
    return quanta_scale(g, t[0], c->scale, y);
}

/* Every dtype × row shape class, the factor rotating through them. */
static void generate(qc_gen *g, bool quick) {
    static const float factors[] = {0.5f, -3.25f, 0.0078125f, 1.7f, 100.0f};
    size_t ns;
    const int64_t(*sh)[3] = qc_row_shapes(quick, &ns);
    for (int ti = 0; ti < 3; ti++)
        for (size_t si = 0; si < ns; si++) {
            qc_case c;
            qc_case_defaults(QN_OP_SCALE, &c);
            c.dtype = qc_acts[ti];
            qc_set_row_shape(&c, sh[si]);
            c.scale = factors[((size_t)ti + si) % 5];
            qc_gen_add(g, &c);
        }
}

const qc_op_def qc_scale_def = {QN_OP_SCALE, keys, qc_check_shape, qc_unary_elements, make, build, generate,
                                NULL, NULL, NULL};
