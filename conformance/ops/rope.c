/* rope.c — conformance entries of rope, rotary position embedding of x [B,H,N,D] at positions
 * offset .. offset+N-1, norm or neox pairing, full or partial rotation, linear scaling, of
 * rms_norm_rope, the same of rms_norm(x) with its weight (q/k norms fused with their rope), and of
 * rms_norm_rope_pair, two of those at one positions tensor (a layer's q and k; built as two
 * rms_norm_rope, which plans fuse, both outputs, the one named by `part` judged), and of rope_pair,
 * two ropes at one positions tensor (q and k without norms; built as two ropes, fused the same way). */
#include "op_entry.h"

/* The keys rope and rms_norm_rope share. */
#define ROPE_KEYS \
    {"shape", QC_K_SHAPE, QC_OFF(shape), "1x4x8x64", 0, 0, "x [B,H,N,D] (4-D; D even)"}, \
    {"mode", QC_K_MODE, QC_OFF(mode), "norm", 0, 0, "norm (adjacent pairs) or neox (halves)"}, \
    {"rot", QC_K_I32, QC_OFF(rot), "0", 0, 1 << 20, "rotated leading dims (even, <= D); 0 = all"}, \
    {"offset", QC_K_I64, QC_OFF(offset), "0", 0, 1 << 24, "position of the first row (positions offset..offset+N-1)"}, \
    {"theta", QC_K_F32, QC_OFF(theta), "10000", 0, 0, "frequency base (> 0)"}, \
    {"fscale", QC_K_F32, QC_OFF(fscale), "1", 0, 0, "linear position scale (0 = 1)"}, \
    {"dtype", QC_K_ACT, QC_OFF(dtype), "f32", 0, 0, "x and result dtype"}

static const qc_key keys[] = {ROPE_KEYS, QC_KEYS_END};

#define NORM_KEYS \
    ROPE_KEYS, \
    {"weight", QC_K_I32, QC_OFF(weight), "1", 0, 1, "multiply the normed row by an f32 weight [D]"}, \
    {"plus1", QC_K_I32, QC_OFF(plus1), "0", 0, 1, "multiply by (1 + weight) (Gemma); needs weight=1"}, \
    {"eps", QC_K_F32, QC_OFF(eps), "1e-06", 0, 0, "rms_norm epsilon (> 0)"}

static const qc_key norm_keys[] = {NORM_KEYS, QC_KEYS_END};

/* The keys of the pairs (rms_norm_rope_pair, rope_pair) beside their single op's. */
#define PAIR_KEYS \
    {"h1", QC_K_I64, QC_OFF(n1), "1", 1, QC_DIM_MAX, "heads of x1 (x1 [B,h1,N,D]: k beside q)"}, \
    {"part", QC_K_I32, QC_OFF(part), "0", 0, 1, "the result judged: 0 of x (x0), 1 of x1"}

static const qc_key pair_keys[] = {NORM_KEYS, PAIR_KEYS, QC_KEYS_END};

static int validate(const qc_case *c, char *err, size_t errlen) {
    if (qc_check_shape(c, err, errlen)) return -1;
    if (c->ndim != 4) return qc_err(err, errlen, "rope needs a 4-D shape BxHxNxD (got %d-D)", c->ndim);
    int64_t d = c->shape[3];
    if (d % 2) return qc_err(err, errlen, "rope needs an even D (got %lld)", (long long)d);
    if (c->rot % 2 || c->rot > d) return qc_err(err, errlen, "rot (%d) must be even and <= D (%lld)", c->rot, (long long)d);
    if (!(c->theta > 0)) return qc_err(err, errlen, "theta must be > 0");
    if (c->fscale < 0) return qc_err(err, errlen, "fscale must be >= 0 (0 = 1)");
    return 0;
}

static int64_t elements(const qc_case *c) { return 2 * qc_shape_elems(c) + c->shape[2]; }
static int64_t norm_elements(const qc_case *c) { return elements(c) + c->shape[3]; }

static quanta_rope_params rope_params(const qc_case *c) {
    return (quanta_rope_params){(quanta_rope_mode)c->mode, c->theta, c->fscale, c->rot};
}

/* Positions offset .. offset+N-1 into the i32 slot i. */
static void fill_positions(const qc_case *c, qc_data *d, int i) {
    int32_t *p = d->t[i].data;
    for (int64_t j = 0; j < c->shape[2]; j++) p[j] = (int32_t)(c->offset + j);
}

/* A pair's x1 [B,h1,N,D]: its dims, its desc, and the elements of it and its result. */
static void x1_dims(const qc_case *c, int64_t dims[4]) {
    dims[0] = c->shape[0], dims[1] = c->n1, dims[2] = c->shape[2], dims[3] = c->shape[3];
}
static quanta_tensor_desc x1_desc(const qc_case *c) {
    int64_t dims[4];
    x1_dims(c, dims);
    return qc_desc(c->dtype, 4, dims);
}
static int64_t x1_elements(const qc_case *c) { return 2 * c->shape[0] * c->n1 * c->shape[2] * c->shape[3]; }

static int norm_validate(const qc_case *c, char *err, size_t errlen) {
    if (validate(c, err, errlen)) return -1;
    if (c->plus1 && !c->weight) return qc_err(err, errlen, "plus1=1 needs weight=1");
    if (!(c->eps > 0)) return qc_err(err, errlen, "eps must be > 0");
    return 0;
}

/* x ~ N(0, 1); positions offset .. offset+N-1. */
static int make(const qc_case *c, qc_data *d, qc_rng *r, char *err, size_t errlen) {
    quanta_tensor_desc x = qc_desc(c->dtype, 4, c->shape);
    d->out_desc = x;
    if (qc_slot_fill(d, 0, "x", QC_ROLE_INPUT, &x, r, 0, 1, err, errlen) ||
        qc_i32_slot(d, 1, "positions", c->shape[2], err, errlen))
        return -1;
    fill_positions(c, d, 1);
    return 0;
}

/* x ~ N(0.2, 1) (a mean off zero), the weight N(1, 0.3) or N(0, 0.3) for plus1, or absent;
 * positions offset .. offset+N-1. */
static int norm_make(const qc_case *c, qc_data *d, qc_rng *r, char *err, size_t errlen) {
    quanta_tensor_desc x = qc_desc(c->dtype, 4, c->shape), w = qc_desc(QUANTA_F32, 1, &c->shape[3]);
    d->out_desc = x;
    if (qc_slot_fill(d, 0, "x", QC_ROLE_INPUT, &x, r, 0.2f, 1, err, errlen) ||
        (c->weight && qc_slot_fill(d, 1, "weight", QC_ROLE_CONST, &w, r, c->plus1 ? 0.0f : 1.0f, 0.3f, err, errlen)) ||
        qc_i32_slot(d, 2, "positions", c->shape[2], err, errlen))
        return -1;
    fill_positions(c, d, 2);
    return 0;
}

static quanta_status norm_build(quanta_graph *g, const qc_case *c, quanta_tensor *const *t, quanta_tensor **y) {
    const quanta_rope_params p = rope_params(c);
    return quanta_rms_norm_rope(g, t[0], t[1], c->eps, c->plus1, t[2], &p, y);
}

static int64_t pair_elements(const qc_case *c) { return 2 * norm_elements(c) + x1_elements(c); }

/* What the pairs check beyond their single op: x1's dims. */
static int check_x1(const qc_case *c, char *err, size_t errlen) {
    int64_t x1[4];
    x1_dims(c, x1);
    return qc_check_elems("x1", x1, 4, err, errlen);
}

static int pair_validate(const qc_case *c, char *err, size_t errlen) {
    return norm_validate(c, err, errlen) ? -1 : check_x1(c, err, errlen);
}

/* rms_norm_rope's x, weight and positions, then x1 [B,h1,N,D] and its weight drawn like them; the
 * result judged has its input's shape. */
static int pair_make(const qc_case *c, qc_data *d, qc_rng *r, char *err, size_t errlen) {
    if (norm_make(c, d, r, err, errlen)) return -1;
    quanta_tensor_desc x1 = x1_desc(c), w = qc_desc(QUANTA_F32, 1, &c->shape[3]);
    d->count = 5;
    if (qc_slot_fill(d, 3, "x1", QC_ROLE_INPUT, &x1, r, -0.2f, 1, err, errlen) ||
        (c->weight && qc_slot_fill(d, 4, "weight1", QC_ROLE_CONST, &w, r, c->plus1 ? 0.0f : 1.0f, 0.3f, err, errlen)))
        return -1;
    if (c->part) d->out_desc = x1;
    return 0;
}

/* After a pair's two ops (status st): the result not judged an output too, *y the judged one. */
static quanta_status judge_pair(quanta_graph *g, const qc_case *c, quanta_status st, quanta_tensor *y0,
                                quanta_tensor *y1, quanta_tensor **y) {
    if (st == QUANTA_OK) st = quanta_graph_output(g, c->part ? y0 : y1);
    *y = c->part ? y1 : y0;
    return st;
}

/* Both rms_norm_rope at the one positions tensor, both outputs; *y the judged one. */
static quanta_status pair_build(quanta_graph *g, const qc_case *c, quanta_tensor *const *t, quanta_tensor **y) {
    const quanta_rope_params p = rope_params(c);
    quanta_tensor *y0 = NULL, *y1 = NULL;
    quanta_status st = quanta_rms_norm_rope(g, t[0], t[1], c->eps, c->plus1, t[2], &p, &y0);
    if (st == QUANTA_OK) st = quanta_rms_norm_rope(g, t[3], t[4], c->eps, c->plus1, t[2], &p, &y1);
    return judge_pair(g, c, st, y0, y1, y);
}

static const qc_key rope_pair_keys[] = {ROPE_KEYS, PAIR_KEYS, QC_KEYS_END};

static int64_t rope_pair_elements(const qc_case *c) { return elements(c) + x1_elements(c); }

static int rope_pair_validate(const qc_case *c, char *err, size_t errlen) {
    return validate(c, err, errlen) ? -1 : check_x1(c, err, errlen);
}

/* rope's x and positions, then x1 [B,h1,N,D] ~ N(0, 1); the result judged has its input's shape. */
static int rope_pair_make(const qc_case *c, qc_data *d, qc_rng *r, char *err, size_t errlen) {
    if (make(c, d, r, err, errlen)) return -1;
    quanta_tensor_desc x1 = x1_desc(c);
    d->count = 3;
    if (qc_slot_fill(d, 2, "x1", QC_ROLE_INPUT, &x1, r, 0, 1, err, errlen)) return -1;
    if (c->part) d->out_desc = x1;
    return 0;
}

/* Both ropes at the one positions tensor (fuse8's rope_pair, which plans fuse), both outputs; *y the
 * judged one. */
static quanta_status rope_pair_build(quanta_graph *g, const qc_case *c, quanta_tensor *const *t, quanta_tensor **y) {
    const quanta_rope_params p = rope_params(c);
    quanta_tensor *y0 = NULL, *y1 = NULL;
    quanta_status st = quanta_rope(g, t[0], t[1], &p, &y0);
    if (st == QUANTA_OK) st = quanta_rope(g, t[2], t[1], &p, &y1);
    return judge_pair(g, c, st, y0, y1, y);
}

static quanta_status build(quanta_graph *g, const qc_case *c, quanta_tensor *const *t, quanta_tensor **y) {
    const quanta_rope_params p = rope_params(c);
    return quanta_rope(g, t[0], t[1], &p, y);
}

/* Both modes × full and partial rotation × tiny, odd, decode far into a sequence, long prefill. */
static void generate(qc_gen *g, bool quick) {
    /* {B, H, N, D, offset} */
    static const int64_t full[][5] = {
        {1, 1, 1, 2, 0}, {2, 3, 7, 80, 37}, {1, 8, 1, 128, 4095}, {1, 4, 512, 64, 0}, {1, 2, 33, 256, 1000}};
    static const int64_t small[][5] = {{1, 3, 7, 80, 37}, {1, 2, 1, 64, 4095}};
    size_t ns = quick ? 2 : sizeof full / sizeof full[0];
    const int64_t(*sh)[5] = quick ? small : full;
    for (int ti = 0; ti < 3; ti++)
        for (int mode = 0; mode < 2; mode++)
            for (size_t si = 0; si < ns; si++)
                for (int partial = 0; partial < 2; partial++) {
                    if (quick && ((size_t)partial != (ti + si) % 2 || (size_t)mode != si)) continue;
                    qc_case c;
                    qc_case_defaults(QN_OP_ROPE, &c);
                    c.dtype = qc_acts[ti];
                    c.mode = mode;
                    qc_set_shape(&c, 4, sh[si][0], sh[si][1], sh[si][2], sh[si][3]);
                    c.offset = sh[si][4];
                    /* partial rotation: half of D rounded to even (e.g. Phi, GPT-J style) */
                    c.rot = partial ? (int32_t)(sh[si][3] / 2 / 2 * 2) : 0;
                    if (partial && c.rot == 0) continue;
                    if (si == 4) c.fscale = 0.25f; /* linear position scaling */
                    qc_gen_add(g, &c);
                }
}

/* The sweep of the fused ops: every dtype × each of ns shapes (rows of `cols` values, {B, H, N, D, offset, ...})
 * × both modes, the k-th case with partial rotation when k % 4 == 3; set gives the op's own keys (the row, k).
 * Quick: three cases, of the first two shapes. */
static void fused_generate(qc_gen *g, bool quick, qc_op op, const int64_t *sh, size_t cols, size_t ns,
                           void (*set)(qc_case *c, const int64_t *row, int k)) {
    int k = 0;
    for (int ti = 0; ti < 3; ti++)
        for (size_t si = 0; si < ns; si++)
            for (int mode = 0; mode < 2; mode++, k++) {
                if (quick && (si > 1 || mode != ti % 2 || (size_t)ti == si + 1)) continue;
                const int64_t *row = sh + si * cols;
                qc_case c;
                qc_case_defaults(op, &c);
                c.dtype = qc_acts[ti];
                c.mode = mode;
                qc_set_shape(&c, 4, row[0], row[1], row[2], row[3]);
                c.offset = row[4];
                c.rot = k % 4 == 3 ? (int32_t)(row[3] / 2 / 2 * 2) : 0;
                set(&c, row, k);
                qc_gen_add(g, &c);
            }
}

static void norm_set(qc_case *c, const int64_t *row, int k) {
    c->weight = k % 3 != 2;
    c->plus1 = k % 3 == 1;
    c->n1 = row[1] > 1 ? row[1] / 2 : 1; /* x1 with fewer heads (k beside q) */
    c->part = k % 2;
}

/* The decode shapes the fused kernel serves (Gemma's q 4x256 and k 1x256 far into a sequence,
 * LLaMA-like 8x128) and prefill ones, both modes, full and partial rotation, the weight forms
 * rotating (w, 1 + w, none), every dtype. Quick: three cases. */
static void norm_generate_op(qc_gen *g, bool quick, qn_op op) {
    /* {B, H, N, D, offset} */
    static const int64_t sh[][5] = {{1, 4, 1, 256, 4095}, {1, 1, 1, 256, 17}, {1, 8, 1, 128, 100},
                                    {2, 3, 7, 80, 37},    {1, 2, 33, 64, 1000}, {1, 1, 1, 2, 0}};
    fused_generate(g, quick, op, sh[0], 5, sizeof sh / sizeof sh[0], norm_set);
}

static void rope_pair_set(qc_case *c, const int64_t *row, int k) {
    c->n1 = row[5];
    c->part = k % 2;
}

/* The decode shapes rope_pair serves (LLaMA 7B's q 32x128 with k 8x128, far into a sequence; a 1B's
 * 32x64 with 4x64), prefill ones, both modes, full and partial rotation, every dtype. Quick: three. */
static void rope_pair_generate(qc_gen *g, bool quick) {
    /* {B, H, N, D, offset, h1} */
    static const int64_t sh[][6] = {{1, 32, 1, 128, 4095, 8}, {1, 32, 1, 64, 17, 4}, {1, 4, 7, 80, 37, 2},
                                    {2, 3, 33, 64, 1000, 1},   {1, 1, 1, 2, 0, 1}};
    fused_generate(g, quick, QN_OP_ROPE_PAIR, sh[0], 6, sizeof sh / sizeof sh[0], rope_pair_set);
}

static void norm_generate(qc_gen *g, bool quick) { norm_generate_op(g, quick, QN_OP_RMS_NORM_ROPE); }
/* rms_norm_rope's cases, each with x1 of half the heads (one where x has one). */
static void pair_generate(qc_gen *g, bool quick) { norm_generate_op(g, quick, QN_OP_RMS_NORM_ROPE_PAIR); }

/* rope_kv: q's and k's ropes (normed first with norm=1) and k's and v's appends at one start, built as the ropes
 * (or rms_norm_ropes) and two write_rows, which plans fuse into one node; `part` judges q's result (0), the k cache
 * (1) or the v cache (2). */
static const qc_key rope_kv_keys[] = {
    NORM_KEYS,
    {"h1", QC_K_I64, QC_OFF(n1), "1", 1, QC_DIM_MAX, "heads of k and v ([B,h1,N,D] beside q)"},
    {"nmax", QC_K_I64, QC_OFF(nmax), "16", 1, QC_DIM_MAX, "rows of the caches [B,h1,nmax,D]"},
    {"start", QC_K_I64, QC_OFF(start), "5", 0, QC_DIM_MAX, "first cache row written (start + N <= nmax)"},
    {"norm", QC_K_I32, QC_OFF(norm), "0", 0, 1, "rms_norm q and k before the ropes (Gemma's q/k norms)"},
    {"part", QC_K_I32, QC_OFF(part), "0", 0, 2, "the result judged: 0 q's rope, 1 the k cache, 2 the v cache"},
    QC_KEYS_END};

static int rope_kv_validate(const qc_case *c, char *err, size_t errlen) {
    if (norm_validate(c, err, errlen)) return -1;
    if (c->start + c->shape[2] > c->nmax)
        return qc_err(err, errlen, "start (%lld) + N (%lld) must be <= nmax (%lld)", (long long)c->start,
                      (long long)c->shape[2], (long long)c->nmax);
    int64_t cache[4] = {c->shape[0], c->n1, c->nmax, c->shape[3]};
    return qc_check_elems("cache", cache, 4, err, errlen);
}

static int64_t rope_kv_elements(const qc_case *c) {
    return norm_elements(c) + c->shape[3] + c->shape[0] * c->n1 * (2 * c->nmax + 3 * c->shape[2]) * c->shape[3];
}

/* x0 (q) and positions (and q's weight) as rms_norm_rope's, then k [B,h1,N,D] ~ N(-0.2, 1), its weight, the two
 * caches [B,h1,nmax,D] with random rows N(0, 1) that must survive outside the written ones, start, v ~ N(5, 1). */
static int rope_kv_make(const qc_case *c, qc_data *d, qc_rng *r, char *err, size_t errlen) {
    quanta_tensor_desc x = qc_desc(c->dtype, 4, c->shape), w = qc_desc(QUANTA_F32, 1, &c->shape[3]);
    const int64_t cd[4] = {c->shape[0], c->n1, c->nmax, c->shape[3]};
    quanta_tensor_desc k = x1_desc(c), cache = qc_desc(c->dtype, 4, cd);
    const int wt = c->norm && c->weight;
    d->count = 9;
    d->out_desc = c->part ? cache : x;
    if (qc_slot_fill(d, 0, "x0", QC_ROLE_INPUT, &x, r, 0.2f, 1, err, errlen) ||
        qc_i32_slot(d, 1, "positions", c->shape[2], err, errlen) ||
        qc_slot_fill(d, 2, "x1", QC_ROLE_INPUT, &k, r, -0.2f, 1, err, errlen) ||
        (wt && qc_slot_fill(d, 3, "weight0", QC_ROLE_CONST, &w, r, c->plus1 ? 0.0f : 1.0f, 0.3f, err, errlen)) ||
        (wt && qc_slot_fill(d, 4, "weight1", QC_ROLE_CONST, &w, r, c->plus1 ? 0.0f : 1.0f, 0.3f, err, errlen)) ||
        qc_slot_fill(d, 5, "k_cache", QC_ROLE_BUFFER, &cache, r, 0, 1, err, errlen) ||
        qc_i32_slot(d, 6, "start", 1, err, errlen) ||
        qc_slot_fill(d, 7, "v_cache", QC_ROLE_BUFFER, &cache, r, 0, 1, err, errlen) ||
        qc_slot_fill(d, 8, "v", QC_ROLE_INPUT, &k, r, 5, 1, err, errlen))
        return -1;
    fill_positions(c, d, 1);
    *(int32_t *)d->t[6].data = (int32_t)c->start;
    return 0;
}

/* q's result is always an output (else the plan drops q's rope, and the pair with it); k's rope is not (the
 * fusion needs the append to be its only reader). */
static quanta_status rope_kv_build(quanta_graph *g, const qc_case *c, quanta_tensor *const *t, quanta_tensor **y) {
    const quanta_rope_params p = rope_params(c);
    quanta_tensor *q = NULL, *k = NULL, *kc = NULL, *vc = NULL;
    quanta_status st = c->norm ? quanta_rms_norm_rope(g, t[0], t[3], c->eps, c->plus1, t[1], &p, &q)
                               : quanta_rope(g, t[0], t[1], &p, &q);
    if (st == QUANTA_OK)
        st = c->norm ? quanta_rms_norm_rope(g, t[2], t[4], c->eps, c->plus1, t[1], &p, &k) : quanta_rope(g, t[2], t[1], &p, &k);
    if (st == QUANTA_OK) st = quanta_write_rows(g, t[5], k, t[6], &kc);
    if (st == QUANTA_OK) st = quanta_write_rows(g, t[7], t[8], t[6], &vc);
    if (st == QUANTA_OK) st = quanta_graph_output(g, q);
    *y = c->part == 0 ? q : c->part == 1 ? kc : vc;
    return st;
}

static void rope_kv_set(qc_case *c, const int64_t *row, int k) {
    c->n1 = row[5], c->nmax = row[6], c->start = row[7], c->norm = (int32_t)row[8];
    c->weight = c->norm && k % 3 != 2; /* the weights are norms' */
    c->plus1 = c->norm && k % 3 == 1;
    c->part = k % 3;
}

/* Decode rows far into a cache (LLaMA 7B's 32x128 q with 8 k/v heads; Gemma's 4x256 with 1, normed), a prompt's
 * rows, partial rotation, both modes, every dtype, each part in turn. Quick: three cases. */
static void rope_kv_generate(qc_gen *g, bool quick) {
    /* {B, H, N, D, offset, h1, nmax, start, norm} */
    static const int64_t sh[][9] = {{1, 32, 1, 128, 4095, 8, 4100, 4095, 0}, {1, 4, 1, 256, 17, 1, 64, 17, 1},
                                    {1, 4, 7, 80, 37, 2, 48, 37, 0},         {2, 3, 5, 64, 9, 1, 16, 9, 1},
                                    {1, 1, 1, 2, 0, 1, 1, 0, 0}};
    fused_generate(g, quick, QN_OP_ROPE_KV, sh[0], 9, sizeof sh / sizeof sh[0], rope_kv_set);
}

static const qc_thr_row thresholds[] = {
    {QUANTA_F32, {1e-6, 1e-3, false, "f32 angles at positions ~4096 lose ~2.4e-4 rad"}},
    {QUANTA_F16, {2e-6, 4e-3, false, "f32 angles + f16 output ulps"}},
    {QUANTA_BF16, {2e-5, 3e-2, false, "f32 angles + bf16 output ulps"}},
    QC_THR_END};

const qc_op_def qc_rope_def = {QN_OP_ROPE, keys, validate, elements, make, build, generate, thresholds, NULL, NULL};
const qc_op_def qc_rms_norm_rope_def = {QN_OP_RMS_NORM_ROPE, norm_keys, norm_validate, norm_elements, norm_make,
                                        norm_build, norm_generate, thresholds, NULL, NULL};
const qc_op_def qc_rms_norm_rope_pair_def = {QN_OP_RMS_NORM_ROPE_PAIR, pair_keys, pair_validate, pair_elements,
                                             pair_make, pair_build, pair_generate, thresholds, NULL, NULL};
const qc_op_def qc_rope_pair_def = {QN_OP_ROPE_PAIR, rope_pair_keys, rope_pair_validate, rope_pair_elements,
                                    rope_pair_make, rope_pair_build, rope_pair_generate, thresholds, NULL, NULL};
const qc_op_def qc_rope_kv_def = {QN_OP_ROPE_KV, rope_kv_keys, rope_kv_validate, rope_kv_elements, rope_kv_make,
                                  rope_kv_build, rope_kv_generate, thresholds, NULL, NULL};
