/* rms_norm.c — conformance entries of rms_norm, x / rms(x) · (weight or 1 + weight), of
 * add_rms_norm, the same of a + b (the residual add fused into the norm), of rms_norm_add,
 * r + the same of x (a post-norm and its residual add), and of rms_norm_add_norm, s = that sum
 * and rms_norm(s) by a second weight (built as rms_norm_add then rms_norm, which plans fuse; both
 * are outputs, the one named by `part` judged), and of add_norm, s = a + b and rms_norm(s) (built as
 * add then rms_norm, fused the same way). They share keys and cases. */
#include "op_entry.h"

#define RMS_NORM_KEYS \
    {"shape", QC_K_SHAPE, QC_OFF(shape), "4x256", 0, 0, "x dims, normalised over the last"}, \
    {"weight", QC_K_I32, QC_OFF(weight), "1", 0, 1, "multiply by an f32 weight [last dim]"}, \
    {"plus1", QC_K_I32, QC_OFF(plus1), "0", 0, 1, "multiply by (1 + weight) (Gemma); needs weight=1"}, \
    {"eps", QC_K_F32, QC_OFF(eps), "1e-05", 0, 0, "epsilon (> 0)"}, \
    {"dtype", QC_K_ACT, QC_OFF(dtype), "f32", 0, 0, "x and result dtype"}

static const qc_key keys[] = {RMS_NORM_KEYS, QC_KEYS_END};

static const qc_key add_norm_keys[] = {
    RMS_NORM_KEYS,
    {"part", QC_K_I32, QC_OFF(part), "0", 0, 1, "the result judged: 0 s = r + rms_norm(x), 1 rms_norm(s)"},
    QC_KEYS_END};

static int validate(const qc_case *c, char *err, size_t errlen) {
    if (qc_check_shape(c, err, errlen)) return -1;
    if (c->plus1 && !c->weight) return qc_err(err, errlen, "plus1=1 needs weight=1");
    if (!(c->eps > 0)) return qc_err(err, errlen, "eps must be > 0");
    return 0;
}

static int64_t rms_norm_elements(const qc_case *c) { return 2 * qc_shape_elems(c) + c->shape[c->ndim - 1]; }
static int64_t add_rms_norm_elements(const qc_case *c) { return 3 * qc_shape_elems(c) + c->shape[c->ndim - 1]; }
static int64_t add_norm_elements(const qc_case *c) { return 4 * qc_shape_elems(c) + 2 * c->shape[c->ndim - 1]; }

/* The optional weight into slot i: N(1, 0.3), or N(0, 0.3) for plus1 (the 1 + w form). */
static int weight(const qc_case *c, qc_data *d, int i, qc_rng *r, char *err, size_t errlen) {
    d->count = i + 1;
    if (!c->weight) return 0;
    quanta_tensor_desc w = qc_desc(QUANTA_F32, 1, &c->shape[c->ndim - 1]);
    return qc_slot_fill(d, i, "weight", QC_ROLE_CONST, &w, r, c->plus1 ? 0.0f : 1.0f, 0.3f, err, errlen);
}

/* x ~ N(0.2, 1): a mean off zero, as hidden states have. */
static int rms_norm_make(const qc_case *c, qc_data *d, qc_rng *r, char *err, size_t errlen) {
    quanta_tensor_desc x = qc_desc(c->dtype, c->ndim, c->shape);
    d->out_desc = x;
    if (qc_slot_fill(d, 0, "x", QC_ROLE_INPUT, &x, r, 0.2f, 1, err, errlen)) return -1;
    return weight(c, d, 1, r, err, errlen);
}

/* Two operands of x's shape, first ~ N(0.2, 1) and second ~ N(0, sd1), then the weight. */
static int pair_make(const qc_case *c, qc_data *d, qc_rng *r, const char *first, const char *second, float sd1,
                     char *err, size_t errlen) {
    quanta_tensor_desc x = qc_desc(c->dtype, c->ndim, c->shape);
    d->out_desc = x;
    if (qc_slot_fill(d, 0, first, QC_ROLE_INPUT, &x, r, 0.2f, 1, err, errlen) ||
        qc_slot_fill(d, 1, second, QC_ROLE_INPUT, &x, r, 0, sd1, err, errlen))
        return -1;
    return weight(c, d, 2, r, err, errlen);
}

/* a + b: a residual stream and an update of a tenth its size. */
static int add_rms_norm_make(const qc_case *c, qc_data *d, qc_rng *r, char *err, size_t errlen) {
    return pair_make(c, d, r, "a", "b", 0.1f, err, errlen);
}

/* r + rms_norm(x): x an update, r the residual stream it is added to. */
static int rms_norm_add_make(const qc_case *c, qc_data *d, qc_rng *r, char *err, size_t errlen) {
    return pair_make(c, d, r, "x", "r", 1, err, errlen);
}

/* rms_norm_add's operands and weight, then a second weight drawn like the first. */
static int add_norm_make(const qc_case *c, qc_data *d, qc_rng *r, char *err, size_t errlen) {
    if (pair_make(c, d, r, "x", "r", 1, err, errlen)) return -1;
    d->count = 4;
    if (!c->weight) return 0;
    quanta_tensor_desc w = qc_desc(QUANTA_F32, 1, &c->shape[c->ndim - 1]);
    return qc_slot_fill(d, 3, "weight2", QC_ROLE_CONST, &w, r, c->plus1 ? 0.0f : 1.0f, 0.3f, err, errlen);
}

/* s = rms_norm_add, then rms_norm(s): both outputs, *y the judged one. */
static quanta_status add_norm_build(quanta_graph *g, const qc_case *c, quanta_tensor *const *t, quanta_tensor **y) {
    quanta_tensor *sum = NULL, *h = NULL;
    quanta_status st = quanta_rms_norm_add(g, t[0], t[1], t[2], c->eps, c->plus1, &sum);
    if (st == QUANTA_OK) st = quanta_rms_norm(g, sum, t[3], c->eps, c->plus1, &h);
    if (st == QUANTA_OK) st = quanta_graph_output(g, c->part ? sum : h);
    *y = c->part ? h : sum;
    return st;
}

/* fuse8's add_norm: s = a + b, then rms_norm(s) by the weight; both outputs, *y the judged one. */
static quanta_status add_then_norm_build(quanta_graph *g, const qc_case *c, quanta_tensor *const *t,
                                         quanta_tensor **y) {
    quanta_tensor *sum = NULL, *h = NULL;
    quanta_status st = quanta_add(g, t[0], t[1], &sum);
    if (st == QUANTA_OK) st = quanta_rms_norm(g, sum, t[2], c->eps, c->plus1, &h);
    if (st == QUANTA_OK) st = quanta_graph_output(g, c->part ? sum : h);
    *y = c->part ? h : sum;
    return st;
}

static quanta_status rms_norm_add_build(quanta_graph *g, const qc_case *c, quanta_tensor *const *t,
                                        quanta_tensor **y) {
    return quanta_rms_norm_add(g, t[0], t[1], t[2], c->eps, c->plus1, y);
}

static quanta_status rms_norm_build(quanta_graph *g, const qc_case *c, quanta_tensor *const *t, quanta_tensor **y) {
    return quanta_rms_norm(g, t[0], t[1], c->eps, c->plus1, y);
}

static quanta_status add_rms_norm_build(quanta_graph *g, const qc_case *c, quanta_tensor *const *t,
                                        quanta_tensor **y) {
    return quanta_add_rms_norm(g, t[0], t[1], t[2], c->eps, c->plus1, y);
}

/* Every dtype × row shape class, the weight form (none / w / 1 + w) rotating through them. */
static void generate_op(qc_gen *g, bool quick, qn_op op) {
    size_t ns;
    const int64_t(*sh)[3] = qc_row_shapes(quick, &ns);
    for (int ti = 0; ti < 3; ti++)
        for (size_t si = 0; si < ns; si++) {
            size_t rot = (size_t)ti + si;
            qc_case c;
            qc_case_defaults(op, &c);
            c.dtype = qc_acts[ti];
            qc_set_row_shape(&c, sh[si]);
            c.weight = rot % 3 != 0;
            c.plus1 = rot % 3 == 2;
            c.part = (int32_t)(rot % 2);
            qc_gen_add(g, &c);
        }
}
static void rms_norm_generate(qc_gen *g, bool quick) { generate_op(g, quick, QN_OP_RMS_NORM); }
static void add_rms_norm_generate(qc_gen *g, bool quick) { generate_op(g, quick, QN_OP_ADD_RMS_NORM); }
static void rms_norm_add_generate(qc_gen *g, bool quick) { generate_op(g, quick, QN_OP_RMS_NORM_ADD); }
static void add_norm_generate(qc_gen *g, bool quick) { generate_op(g, quick, QN_OP_RMS_NORM_ADD_NORM); }
static void add_then_norm_generate(qc_gen *g, bool quick) { generate_op(g, quick, QN_OP_ADD_NORM); }

const qc_op_def qc_rms_norm_def = {QN_OP_RMS_NORM, keys, validate, rms_norm_elements, rms_norm_make,
                                   rms_norm_build, rms_norm_generate, NULL, NULL, NULL};
const qc_op_def qc_add_rms_norm_def = {QN_OP_ADD_RMS_NORM, keys, validate, add_rms_norm_elements, add_rms_norm_make,
                                       add_rms_norm_build, add_rms_norm_generate, NULL, NULL, NULL};
const qc_op_def qc_rms_norm_add_def = {QN_OP_RMS_NORM_ADD, keys, validate, add_rms_norm_elements, rms_norm_add_make,
                                       rms_norm_add_build, rms_norm_add_generate, NULL, NULL, NULL};
const qc_op_def qc_rms_norm_add_norm_def = {QN_OP_RMS_NORM_ADD_NORM, add_norm_keys, validate, add_norm_elements,
                                            add_norm_make, add_norm_build, add_norm_generate, NULL, NULL, NULL};
/* add_norm (built as add then rms_norm, which plans fuse): add_rms_norm's operands, both results kept. */
const qc_op_def qc_add_norm_def = {QN_OP_ADD_NORM, add_norm_keys, validate, add_rms_norm_elements, add_rms_norm_make,
                                   add_then_norm_build, add_then_norm_generate, NULL, NULL, NULL};
