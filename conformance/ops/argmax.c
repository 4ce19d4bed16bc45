/* argmax.c — conformance entry of argmax over the last dim (a greedy decoder's tokens): i32
 * indices, exact. x ~ N(0, 1); with special=1 (needs 4 rows) row 0 holds a NaN and row 1 only
 * -Inf (both answer -1), row 2 two +Inf (the first wins) and row 3 a maximum at two places (a
 * tie: the first wins). A vocabulary-sized row (262144) in the full sweep. */
#include <math.h>

#include "op_entry.h"

static const qc_key keys[] = {
    {"shape", QC_K_SHAPE, QC_OFF(shape), "4x256", 0, 0, "x dims (argmax over the last)"},
    {"dtype", QC_K_ACT, QC_OFF(dtype), "f32", 0, 0, "x dtype"},
    {"special", QC_K_I32, QC_OFF(special), "0", 0, 1,
     "1: rows 0-3 get a NaN, -Inf only, two +Inf, a tied maximum (needs 4 rows, 2 columns)"},
    QC_KEYS_END};

static int64_t cols(const qc_case *c) { return c->shape[c->ndim - 1]; }

static int validate(const qc_case *c, char *err, size_t errlen) {
    if (qc_check_shape(c, err, errlen)) return -1;
    if (c->special && (qc_shape_elems(c) / cols(c) < 4 || cols(c) < 2))
        return qc_err(err, errlen, "special=1 needs at least 4 rows of at least 2 columns");
    return 0;
}

/* x[i] = v in x's dtype */
static void put(qc_tensor_data *x, int64_t i, float v) {
    switch (x->desc.dtype) {
    case QUANTA_F16: ((uint16_t *)x->data)[i] = quanta_f32_to_f16(v); break;
    case QUANTA_BF16: ((uint16_t *)x->data)[i] = quanta_f32_to_bf16(v); break;
    default: ((float *)x->data)[i] = v;
    }
}

static int make(const qc_case *c, qc_data *d, qc_rng *r, char *err, size_t errlen) {
    if (qc_make_x(c, d, r, 1.0f, err, errlen)) return -1;
    d->out_desc.dtype = QUANTA_I32;
    d->out_desc.dims[d->out_desc.ndim - 1] = 1;
    if (!c->special) return 0;
    qc_tensor_data *x = &d->t[0];
    const int64_t V = cols(c);
    put(x, qc_rng_below(r, V), NAN);                                /* row 0 */
    for (int64_t i = 0; i < V; i++) put(x, V + i, -INFINITY);      /* row 1 */
    const int64_t a = qc_rng_below(r, V - 1);                        /* row 2: +Inf at a and a later b */
    put(x, 2 * V + a, INFINITY);
    put(x, 2 * V + a + 1 + qc_rng_below(r, V - 1 - a), INFINITY);
    /* row 3: a maximum of 8 (draws are N(0, 1)) at m >= 1, copied to a place before it */
    const int64_t m = 1 + qc_rng_below(r, V - 1);
    put(x, 3 * V + m, 8.0f);
    put(x, 3 * V + qc_rng_below(r, m), 8.0f);
    return 0;
}

static quanta_status build(quanta_graph *g, const qc_case *c, quanta_tensor *const *t, quanta_tensor **y) {
    (void)c;
    return quanta_argmax(g, t[0], y);
}

static void generate(qc_gen *g, bool quick) {
    size_t ns;
    const int64_t(*sh)[3] = qc_row_shapes(quick, &ns);
    qc_case c;
    for (int ti = 0; ti < 3; ti++) {
        for (size_t si = 0; si < ns; si++) {
            qc_case_defaults(QN_OP_ARGMAX, &c);
            c.dtype = qc_acts[ti];
            qc_set_row_shape(&c, sh[si]);
            qc_gen_add(g, &c);
        }
        qc_case_defaults(QN_OP_ARGMAX, &c); /* the special rows */
        c.dtype = qc_acts[ti];
        c.special = 1;
        qc_set_shape(&c, 2, 5, quick ? 300 : 4099, 0, 0);
        qc_gen_add(g, &c);
        if (quick) continue;
        qc_case_defaults(QN_OP_ARGMAX, &c); /* a server step's logits: rows of a 262144-token vocabulary */
        c.dtype = qc_acts[ti];
        qc_set_shape(&c, 2, 3, 262144, 0, 0);
        qc_gen_add(g, &c);
    }
}

static const qc_thr_row thresholds[] = {{QC_ANY_DTYPE, {0, 0, true, "indices: must be exact"}}, QC_THR_END};

const qc_op_def qc_argmax_def = {QN_OP_ARGMAX, keys, validate, qc_unary_elements, make, build, generate, thresholds,
                                 NULL, NULL};
