/* permute.c — conformance entry of permute: out.dims[i] = x.dims[perm[i]], values moved exactly. */
#include "op_entry.h"

static const qc_key keys[] = {
    {"shape", QC_K_SHAPE, QC_OFF(shape), "2x3x4x5", 0, 0, "x dims"},
    {"perm", QC_K_PERM, QC_OFF(perm), "0213", 0, 0, "one digit per dim: out.dims[i] = x.dims[perm[i]]"},
    {"dtype", QC_K_ACT, QC_OFF(dtype), "f32", 0, 0, "x and result dtype"},
    QC_KEYS_END};

static int validate(const qc_case *c, char *err, size_t errlen) {
    if (qc_check_shape(c, err, errlen)) return -1;
    int n = 0;
    while (n < QUANTA_MAX_DIMS && c->perm[n] >= 0) n++;
    if (n != c->ndim) return qc_err(err, errlen, "perm has %d digits but shape has %d dims", n, c->ndim);
    unsigned used = 0;
    for (int i = 0; i < n; i++) {
        if (c->perm[i] >= n || (used & (1u << c->perm[i])))
            return qc_err(err, errlen, "perm is not a permutation of 0..%d", n - 1);
        used |= 1u << c->perm[i];
    }
    return 0;
}

static int make(const qc_case *c, qc_data *d, qc_rng *r, char *err, size_t errlen) {
    if (qc_make_x(c, d, r, 1.0f, err, errlen)) return -1;
    for (int i = 0; i < c->ndim; i++) d->out_desc.dims[i] = c->shape[c->perm[i]];
    return 0;
}

static quanta_status build(quanta_graph *g, const qc_case *c, quanta_tensor *const *t, quanta_tensor **y) {
    return quanta_permute(g, t[0], c->perm, y);
}

/* 2-, 3- and 4-D perms (the attention head swap 0213 among them) × every dtype. */
static void generate(qc_gen *g, bool quick) {
    static const struct {
        int nd;
        int64_t s[4];
        const char *perm;
    } perms[] = {
        {4, {2, 3, 5, 7}, "0213"}, {4, {1, 7, 3, 64}, "0213"}, {4, {2, 3, 5, 7}, "3210"},
        {4, {3, 1, 9, 5}, "0132"}, {3, {5, 33, 17}, "102"},   {2, {37, 129}, "10"},
        {3, {4, 6, 10}, "021"},    {1, {1000, 0, 0, 0}, "0"},
    };
    size_t np = sizeof perms / sizeof perms[0];
    for (int ti = 0; ti < 3; ti++)
        for (size_t p = 0; p < np; p++) {
            if (quick && p % 3 != (size_t)ti) continue;
            qc_case c;
            qc_case_defaults(QN_OP_PERMUTE, &c);
            c.dtype = qc_acts[ti];
            qc_set_shape(&c, perms[p].nd, perms[p].s[0], perms[p].s[1], perms[p].s[2], perms[p].s[3]);
            for (int d = 0; d < QUANTA_MAX_DIMS; d++) c.perm[d] = d < perms[p].nd ? perms[p].perm[d] - '0' : -1;
            qc_gen_add(g, &c);
        }
}

static const qc_thr_row thresholds[] = {
    {QC_ANY_DTYPE, {0, 0, true, "moves values: must be bit-exact"}},
    QC_THR_END};

const qc_op_def qc_permute_def = {QN_OP_PERMUTE, keys, validate, qc_unary_elements, make, build, generate,
                                  thresholds, NULL, NULL};
