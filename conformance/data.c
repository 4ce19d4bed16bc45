/* data.c — a case's inputs, drawn from its seed, in the order build.c wires them:
 *   matmul: x, w                    attention: q, k, v, mask?, kv_lens?
 *   rms_norm: x, weight?            rope: x, positions
 *   silu/gelu/scale/softmax/permute/convert: x
 *   add/mul: a, b                   get_rows: table, ids
 *   write_rows: dst (buffer, random initial rows), src, start
 *   paged_attention: q, k_pool, v_pool, block_table, kv_lens
 * Absent optional tensors have data == NULL. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "conform.h"

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t next(rng *r) { /* splitmix64 */
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double uniform(rng *r) { return (double)(next(r) >> 11) * (1.0 / 9007199254740992.0); }
static float normal(rng *r, float sd) { /* Box-Muller */
    double u = uniform(r), v = uniform(r);
    return (float)(sqrt(-2.0 * log(1.0 - u)) * cos(6.283185307179586 * v)) * sd;
}
static int64_t below(rng *r, int64_t n) { return (int64_t)(next(r) % (uint64_t)n); }

uint64_t qc_case_seed(const qc_case *c, uint64_t run_seed) {
    char spec[QC_SPEC_MAX];
    qc_case_format(c, spec, sizeof spec);
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (const char *p = spec; *p; p++) h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
    rng r = {run_seed ^ h};
    return next(&r);
}

static quanta_tensor_desc desc_of(quanta_dtype t, int nd, const int64_t *dims) {
    quanta_tensor_desc d;
    memset(&d, 0, sizeof d);
    d.dtype = t;
    d.ndim = nd;
    for (int i = 0; i < nd; i++) d.dims[i] = dims[i];
    return d;
}

static size_t elems(const quanta_tensor_desc *d) {
    size_t n = 1;
    for (int i = 0; i < d->ndim; i++) n *= (size_t)d->dims[i]; /* bounded by qc_case_validate */
    return n;
}

/* Allocates slot i with desc's interchange size. */
static int slot(qc_data *d, int i, const char *name, qc_role role, const quanta_tensor_desc *desc, char *err,
                size_t errlen) {
    qc_tensor_data *t = &d->t[i];
    t->name = name;
    t->role = role;
    t->desc = *desc;
    quanta_status st = quanta_tensor_bytes(desc, &t->bytes);
    if (st != QUANTA_OK) return qc_err(err, errlen, "%s: quanta_tensor_bytes: %s", name, quanta_last_error());
    t->data = malloc(t->bytes ? t->bytes : 1);
    if (!t->data) return qc_err(err, errlen, "%s: out of memory (%zu bytes)", name, t->bytes);
    if (d->count < i + 1) d->count = i + 1;
    return 0;
}

/* ggml block formats: every byte of every block random, then the f16 factors set to finite
 * values that give weights of roughly N(0, sd) (random codes cover every bit pattern the
 * decoders must handle). Returns 0 for other dtypes. */
static int fill_ggml(qc_tensor_data *t, rng *r, float sd) {
    static const struct { quanta_dtype t; int bytes, f16_at[2]; float per_code; } L[] = {
        {QUANTA_GGML_Q4_0, 18, {0, -1}, 4.0f},     {QUANTA_GGML_Q4_1, 20, {0, 2}, 8.0f},
        {QUANTA_GGML_Q5_0, 22, {0, -1}, 8.0f},     {QUANTA_GGML_Q5_1, 24, {0, 2}, 16.0f},
        {QUANTA_GGML_Q8_0, 34, {0, -1}, 64.0f},    {QUANTA_GGML_Q4_K, 144, {0, 2}, 256.0f},
        {QUANTA_GGML_Q5_K, 176, {0, 2}, 512.0f},   {QUANTA_GGML_Q6_K, 210, {208, -1}, 2048.0f},
    };
    for (size_t k = 0; k < sizeof L / sizeof L[0]; k++) {
        if (L[k].t != t->desc.dtype) continue;
        uint8_t *b = t->data;
        for (size_t j = 0; j < t->bytes; j++) b[j] = (uint8_t)next(r);
        for (size_t blk = 0; blk + (size_t)L[k].bytes <= t->bytes; blk += (size_t)L[k].bytes)
            for (int f = 0; f < 2; f++)
                if (L[k].f16_at[f] >= 0) {
                    uint16_t h = quanta_f32_to_f16((float)(0.25 + uniform(r)) * sd / L[k].per_code);
                    b[blk + (size_t)L[k].f16_at[f]] = (uint8_t)h;
                    b[blk + (size_t)L[k].f16_at[f] + 1] = (uint8_t)(h >> 8);
                }
        return 1;
    }
    return 0;
}

/* Fills slot i with values drawn from N(mean, sd), encoded in the slot's dtype. */
static int fill(qc_data *d, int i, rng *r, float mean, float sd, char *err, size_t errlen) {
    qc_tensor_data *t = &d->t[i];
    if (fill_ggml(t, r, sd)) return 0;
    size_t n = elems(&t->desc);
    float *v = malloc(n * sizeof *v);
    if (!v) return qc_err(err, errlen, "%s: out of memory", t->name);
    for (size_t j = 0; j < n; j++) v[j] = mean + normal(r, sd);
    int rc = 0;
    switch (t->desc.dtype) {
    case QUANTA_F32: memcpy(t->data, v, n * sizeof *v); break;
    case QUANTA_F16:
        for (size_t j = 0; j < n; j++) ((uint16_t *)t->data)[j] = quanta_f32_to_f16(v[j]);
        break;
    case QUANTA_BF16:
        for (size_t j = 0; j < n; j++) ((uint16_t *)t->data)[j] = quanta_f32_to_bf16(v[j]);
        break;
    default:
        if (quanta_quantize(&t->desc, v, t->data, t->bytes) != QUANTA_OK)
            rc = qc_err(err, errlen, "%s: quanta_quantize(%s): %s", t->name, quanta_dtype_name(t->desc.dtype),
                        quanta_last_error());
    }
    free(v);
    return rc;
}

static int i32_slot(qc_data *d, int i, const char *name, int64_t n, char *err, size_t errlen) {
    quanta_tensor_desc desc = desc_of(QUANTA_I32, 1, &n);
    return slot(d, i, name, QC_ROLE_INPUT, &desc, err, errlen);
}

static int make(const qc_case *c, qc_data *d, rng *r, char *err, size_t errlen) {
    quanta_tensor_desc x, w;
    int64_t dims[QUANTA_MAX_DIMS];
    switch (c->op) {
    case QC_MATMUL: {
        int64_t xd[3] = {c->b, c->m, c->k}, yd[3] = {c->b, c->m, c->n}, wd[2] = {c->n, c->k};
        int nd = c->b > 1 ? 3 : 2;
        x = desc_of(c->dtype, nd, nd == 3 ? xd : xd + 1);
        w = desc_of(c->wtype, 2, wd);
        w.group = c->group;
        w.double_quant = c->dq;
        d->out_desc = desc_of(c->dtype, nd, nd == 3 ? yd : yd + 1);
        if (slot(d, 0, "x", QC_ROLE_INPUT, &x, err, errlen) || fill(d, 0, r, 0, 1, err, errlen)) return -1;
        if (slot(d, 1, "w", c->wbuf ? QC_ROLE_BUFFER : QC_ROLE_CONST, &w, err, errlen) ||
            fill(d, 1, r, 0, 1.0f / sqrtf((float)c->k), err, errlen))
            return -1;
        return 0;
    }
    case QC_ATTENTION: {
        int64_t qd[4] = {c->b, c->hq, c->nq, c->d}, kd[4] = {c->b, c->hkv, c->nk, c->d};
        x = desc_of(c->dtype, 4, qd);
        quanta_tensor_desc kv = desc_of(c->dtype, 4, kd);
        d->out_desc = x;
        if (slot(d, 0, "q", QC_ROLE_INPUT, &x, err, errlen) || fill(d, 0, r, 0, 1, err, errlen) ||
            slot(d, 1, "k", QC_ROLE_INPUT, &kv, err, errlen) || fill(d, 1, r, 0, 1, err, errlen) ||
            slot(d, 2, "v", QC_ROLE_INPUT, &kv, err, errlen) || fill(d, 2, r, 0, 1, err, errlen))
            return -1;
        d->count = 5;
        if (c->mask) {
            int64_t md[3] = {c->b, c->nq, c->nk};
            quanta_tensor_desc m = c->mask == 2 ? desc_of(QUANTA_U8, 3, md) : desc_of(QUANTA_U8, 2, md + 1);
            if (slot(d, 3, "mask", QC_ROLE_INPUT, &m, err, errlen)) return -1;
            uint8_t *p = d->t[3].data;
            /* ~30% hidden; nonzero values other than 1 also mean visible */
            for (size_t j = 0; j < d->t[3].bytes; j++) p[j] = uniform(r) < 0.3 ? 0 : (uint8_t)(1 + below(r, 255));
        }
        if (c->kvlens) {
            if (i32_slot(d, 4, "kv_lens", c->b, err, errlen)) return -1;
            int32_t *p = d->t[4].data;
            for (int64_t j = 0; j < c->b; j++) p[j] = (int32_t)(1 + below(r, c->nk));
            p[0] = (int32_t)c->nk; /* one full-length sequence, the others shorter */
            if (c->b == 1 && c->nk > 1) p[0] = (int32_t)(1 + below(r, c->nk));
        }
        return 0;
    }
    case QC_PAGED_ATTENTION: {
        const int64_t mb = (c->nk + c->bs - 1) / c->bs, need = c->b * mb, nblk = c->nblk ? c->nblk : need + 3;
        int64_t qd[4] = {c->b, c->hq, c->nq, c->d}, pd[4] = {1, c->hkv, nblk * c->bs, c->d}, td[2] = {c->b, mb};
        x = desc_of(c->dtype, 4, qd);
        quanta_tensor_desc pool = desc_of(c->dtype, 4, pd), tab = desc_of(QUANTA_I32, 2, td);
        d->out_desc = x;
        d->count = 5;
        if (slot(d, 0, "q", QC_ROLE_INPUT, &x, err, errlen) || fill(d, 0, r, 0, 1, err, errlen) ||
            slot(d, 1, "k_pool", QC_ROLE_INPUT, &pool, err, errlen) || fill(d, 1, r, 0, 1, err, errlen) ||
            slot(d, 2, "v_pool", QC_ROLE_INPUT, &pool, err, errlen) || fill(d, 2, r, 0, 1, err, errlen) ||
            slot(d, 3, "block_table", QC_ROLE_INPUT, &tab, err, errlen) ||
            i32_slot(d, 4, "kv_lens", c->b, err, errlen))
            return -1;
        /* Lengths in [nq, nk], the first sequence at nk; blocks: a random permutation of the
         * pool (no two sequences share one, none in order); blocks no query of the sequence can
         * see (wholly before its first query's window) are -1, as a server frees them. */
        int32_t *lens = d->t[4].data, *t = d->t[3].data;
        for (int64_t s = 0; s < c->b; s++) lens[s] = (int32_t)(c->nq + (s ? below(r, c->nk - c->nq + 1) : c->nk - c->nq));
        int32_t *perm = malloc((size_t)nblk * sizeof *perm);
        if (!perm) return qc_err(err, errlen, "out of memory");
        for (int64_t i = 0; i < nblk; i++) perm[i] = (int32_t)i;
        for (int64_t i = nblk - 1; i > 0; i--) {
            int64_t j = below(r, i + 1);
            int32_t tmp = perm[i];
            perm[i] = perm[j];
            perm[j] = tmp;
        }
        for (int64_t s = 0; s < c->b; s++)
            for (int64_t j = 0; j < mb; j++) {
                const int64_t first = c->window > 0 ? lens[s] - c->nq - c->window + 1 : 0;
                int gone = first > 0 && (j + 1) * c->bs <= first;
                t[s * mb + j] = gone ? -1 : perm[s * mb + j];
            }
        free(perm);
        return 0;
    }
    case QC_RMS_NORM:
        x = desc_of(c->dtype, c->ndim, c->shape);
        d->out_desc = x;
        if (slot(d, 0, "x", QC_ROLE_INPUT, &x, err, errlen) || fill(d, 0, r, 0.2f, 1, err, errlen)) return -1;
        d->count = 2;
        if (c->weight) {
            w = desc_of(QUANTA_F32, 1, &c->shape[c->ndim - 1]);
            if (slot(d, 1, "weight", QC_ROLE_CONST, &w, err, errlen) ||
                fill(d, 1, r, c->plus1 ? 0.0f : 1.0f, 0.3f, err, errlen))
                return -1;
        }
        return 0;
    case QC_ADD_RMS_NORM: /* a + b: a residual stream and an update of a tenth its size */
        x = desc_of(c->dtype, c->ndim, c->shape);
        d->out_desc = x;
        if (slot(d, 0, "a", QC_ROLE_INPUT, &x, err, errlen) || fill(d, 0, r, 0.2f, 1, err, errlen) ||
            slot(d, 1, "b", QC_ROLE_INPUT, &x, err, errlen) || fill(d, 1, r, 0, 0.1f, err, errlen))
            return -1;
        d->count = 3;
        if (c->weight) {
            w = desc_of(QUANTA_F32, 1, &c->shape[c->ndim - 1]);
            if (slot(d, 2, "weight", QC_ROLE_CONST, &w, err, errlen) ||
                fill(d, 2, r, c->plus1 ? 0.0f : 1.0f, 0.3f, err, errlen))
                return -1;
        }
        return 0;
    case QC_ROPE: {
        x = desc_of(c->dtype, 4, c->shape);
        d->out_desc = x;
        if (slot(d, 0, "x", QC_ROLE_INPUT, &x, err, errlen) || fill(d, 0, r, 0, 1, err, errlen) ||
            i32_slot(d, 1, "positions", c->shape[2], err, errlen))
            return -1;
        int32_t *p = d->t[1].data;
        for (int64_t j = 0; j < c->shape[2]; j++) p[j] = (int32_t)(c->offset + j);
        return 0;
    }
    case QC_SILU:
    case QC_GELU:
    case QC_SOFTMAX:
    case QC_SCALE:
    case QC_CONVERT: {
        /* wide inputs reach the saturating tails of silu/gelu and stress softmax's max shift */
        float sd = c->op == QC_SCALE || c->op == QC_CONVERT ? 1.0f : c->op == QC_SOFTMAX ? 4.0f : 3.0f;
        x = desc_of(c->dtype, c->ndim, c->shape);
        d->out_desc = x;
        if (c->op == QC_CONVERT) d->out_desc.dtype = c->to;
        return slot(d, 0, "x", QC_ROLE_INPUT, &x, err, errlen) || fill(d, 0, r, 0, sd, err, errlen) ? -1 : 0;
    }
    case QC_ADD:
    case QC_MUL: {
        x = desc_of(c->dtype, c->ndim, c->shape);
        quanta_tensor_desc b = c->bcast ? desc_of(c->dtype, 1, &c->shape[c->ndim - 1]) : x;
        d->out_desc = x;
        if (slot(d, 0, "a", QC_ROLE_INPUT, &x, err, errlen) || fill(d, 0, r, 0, 1, err, errlen) ||
            slot(d, 1, "b", c->bcast ? QC_ROLE_CONST : QC_ROLE_INPUT, &b, err, errlen) ||
            fill(d, 1, r, c->op == QC_MUL ? 1.0f : 0.0f, 1, err, errlen))
            return -1;
        return 0;
    }
    case QC_GET_ROWS: {
        int64_t td[2] = {c->v, c->d}, od[2] = {c->t, c->d};
        w = desc_of(c->wtype, 2, td);
        w.group = c->group;
        w.double_quant = c->dq;
        d->out_desc = desc_of(QUANTA_F32, 2, od);
        if (slot(d, 0, "table", c->wbuf ? QC_ROLE_BUFFER : QC_ROLE_CONST, &w, err, errlen) ||
            fill(d, 0, r, 0, 1, err, errlen) || i32_slot(d, 1, "ids", c->t, err, errlen))
            return -1;
        int32_t *p = d->t[1].data;
        for (int64_t j = 0; j < c->t; j++) p[j] = (int32_t)below(r, c->v);
        if (c->t >= 2) { /* the table's edges, where an off-by-one row shows */
            p[0] = 0;
            p[c->t - 1] = (int32_t)(c->v - 1);
        }
        return 0;
    }
    case QC_PERMUTE:
        x = desc_of(c->dtype, c->ndim, c->shape);
        for (int i = 0; i < c->ndim; i++) dims[i] = c->shape[c->perm[i]];
        d->out_desc = desc_of(c->dtype, c->ndim, dims);
        return slot(d, 0, "x", QC_ROLE_INPUT, &x, err, errlen) || fill(d, 0, r, 0, 1, err, errlen) ? -1 : 0;
    case QC_WRITE_ROWS: {
        int64_t dd[4] = {c->b, c->h, c->nmax, c->d}, sd[4] = {c->b, c->h, c->t, c->d};
        quanta_tensor_desc dst = desc_of(c->dtype, 4, dd), src = desc_of(c->dtype, 4, sd);
        d->out_desc = dst;
        if (slot(d, 0, "dst", QC_ROLE_BUFFER, &dst, err, errlen) || fill(d, 0, r, 0, 1, err, errlen) ||
            slot(d, 1, "src", QC_ROLE_INPUT, &src, err, errlen) || fill(d, 1, r, 5, 1, err, errlen) ||
            i32_slot(d, 2, "start", 1, err, errlen))
            return -1;
        *(int32_t *)d->t[2].data = (int32_t)c->start;
        return 0;
    }
    case QC_OP_COUNT: break;
    }
    return qc_err(err, errlen, "unknown op %d", (int)c->op);
}

int qc_data_make(const qc_case *c, uint64_t run_seed, qc_data *d, char *err, size_t errlen) {
    memset(d, 0, sizeof *d);
    d->seed = qc_case_seed(c, run_seed);
    rng r = {d->seed};
    if (make(c, d, &r, err, errlen)) {
        qc_data_free(d);
        return -1;
    }
    d->out_count = elems(&d->out_desc);
    return 0;
}

void qc_data_free(qc_data *d) {
    for (int i = 0; i < QC_MAX_TENSORS; i++) free(d->t[i].data);
    memset(d, 0, sizeof *d);
}
