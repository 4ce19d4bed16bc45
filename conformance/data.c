/* data.c — a case's inputs, drawn from its seed by its entry's `make` (ops/<op>.c), and the
 * helpers entries draw with: the random stream, slots, and values encoded in any dtype.
 * Absent optional tensors have data == NULL. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "op_entry.h"

uint64_t qc_rng_next(qc_rng *r) { /* splitmix64 */
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
double qc_rng_uniform(qc_rng *r) { return (double)(qc_rng_next(r) >> 11) * (1.0 / 9007199254740992.0); }
static float normal(qc_rng *r, float sd) { /* Box-Muller */
    double u = qc_rng_uniform(r), v = qc_rng_uniform(r);
    return (float)(sqrt(-2.0 * log(1.0 - u)) * cos(6.283185307179586 * v)) * sd;
}
int64_t qc_rng_below(qc_rng *r, int64_t n) { return (int64_t)(qc_rng_next(r) % (uint64_t)n); }

uint64_t qc_case_seed(const qc_case *c, uint64_t run_seed) {
    char spec[QC_SPEC_MAX];
    qc_case_format(c, spec, sizeof spec);
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (const char *p = spec; *p; p++) h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
    qc_rng r = {run_seed ^ h};
    return qc_rng_next(&r);
}

quanta_tensor_desc qc_desc(quanta_dtype t, int nd, const int64_t *dims) {
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

int qc_slot(qc_data *d, int i, const char *name, qc_role role, const quanta_tensor_desc *desc, char *err,
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
static int fill_ggml(qc_tensor_data *t, qc_rng *r, float sd) {
    static const struct { quanta_dtype t; int bytes, f16_at[2]; float per_code; } L[] = {
        {QUANTA_GGML_Q4_0, 18, {0, -1}, 4.0f},     {QUANTA_GGML_Q4_1, 20, {0, 2}, 8.0f},
        {QUANTA_GGML_Q5_0, 22, {0, -1}, 8.0f},     {QUANTA_GGML_Q5_1, 24, {0, 2}, 16.0f},
        {QUANTA_GGML_Q8_0, 34, {0, -1}, 64.0f},    {QUANTA_GGML_Q4_K, 144, {0, 2}, 256.0f},
        {QUANTA_GGML_Q5_K, 176, {0, 2}, 512.0f},   {QUANTA_GGML_Q6_K, 210, {208, -1}, 2048.0f},
    };
    for (size_t k = 0; k < sizeof L / sizeof L[0]; k++) {
        if (L[k].t != t->desc.dtype) continue;
        uint8_t *b = t->data;
        for (size_t j = 0; j < t->bytes; j++) b[j] = (uint8_t)qc_rng_next(r);
        for (size_t blk = 0; blk + (size_t)L[k].bytes <= t->bytes; blk += (size_t)L[k].bytes)
            for (int f = 0; f < 2; f++)
                if (L[k].f16_at[f] >= 0) {
                    uint16_t h = quanta_f32_to_f16((float)(0.25 + qc_rng_uniform(r)) * sd / L[k].per_code);
                    b[blk + (size_t)L[k].f16_at[f]] = (uint8_t)h;
                    b[blk + (size_t)L[k].f16_at[f] + 1] = (uint8_t)(h >> 8);
                }
        return 1;
    }
    return 0;
}

int qc_fill(qc_data *d, int i, qc_rng *r, float mean, float sd, char *err, size_t errlen) {
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

int qc_i32_slot(qc_data *d, int i, const char *name, int64_t n, char *err, size_t errlen) {
    quanta_tensor_desc desc = qc_desc(QUANTA_I32, 1, &n);
    return qc_slot(d, i, name, QC_ROLE_INPUT, &desc, err, errlen);
}

int qc_slot_fill(qc_data *d, int i, const char *name, qc_role role, const quanta_tensor_desc *desc, qc_rng *r,
                 float mean, float sd, char *err, size_t errlen) {
    return qc_slot(d, i, name, role, desc, err, errlen) || qc_fill(d, i, r, mean, sd, err, errlen) ? -1 : 0;
}

int qc_make_x(const qc_case *c, qc_data *d, qc_rng *r, float sd, char *err, size_t errlen) {
    quanta_tensor_desc x = qc_desc(c->dtype, c->ndim, c->shape);
    d->out_desc = x;
    return qc_slot_fill(d, 0, "x", QC_ROLE_INPUT, &x, r, 0, sd, err, errlen);
}

/* Σ v² over each row of `cols` values of slot i (decoded to f32), into e[rows]. */
static int row_energies(const qc_tensor_data *t, int64_t cols, double *e, char *err, size_t errlen) {
    const size_t n = elems(&t->desc);
    float *v = malloc((n ? n : 1) * sizeof *v);
    if (!v) return qc_err(err, errlen, "%s: out of memory", t->name);
    if (quanta_dequantize(&t->desc, t->data, t->bytes, v, n) != QUANTA_OK) {
        free(v);
        return qc_err(err, errlen, "%s: quanta_dequantize: %s", t->name, quanta_last_error());
    }
    for (size_t r = 0; r < n / (size_t)cols; r++) {
        double s = 0;
        for (int64_t k = 0; k < cols; k++) s += (double)v[r * (size_t)cols + (size_t)k] * v[r * (size_t)cols + (size_t)k];
        e[r] = s;
    }
    free(v);
    return 0;
}

/* For random signs E[(x·w)²] = Σ x²w², which |x|²|w|²/K estimates from the rows' energies alone
 * (O(MK + NK), not another product); summed over results it is (Σ|x_m|²)(Σ|w_n|²)/K. */
int qc_dot_energy(qc_data *d, int xs, int ws, char *err, size_t errlen) {
    const qc_tensor_data *x = &d->t[xs], *w = &d->t[ws];
    const int64_t K = x->desc.dims[x->desc.ndim - 1];
    const size_t M = elems(&x->desc) / (size_t)K, N = (size_t)w->desc.dims[0];
    double *e = malloc((M + N) * sizeof *e);
    if (!e) return qc_err(err, errlen, "out of memory");
    int rc = row_energies(x, K, e, err, errlen) || row_energies(w, K, e + M, err, errlen) ? -1 : 0;
    double sx = 0, sw = 0, mx = 0, mw = 0;
    for (size_t i = 0; i < M + N && !rc; i++) {
        *(i < M ? &sx : &sw) += e[i];
        double *mm = i < M ? &mx : &mw;
        if (e[i] > *mm) *mm = e[i];
    }
    free(e);
    d->cond_sum = rc ? 0 : sx * sw / (double)K;
    d->cond_max = rc ? 0 : mx * mw / (double)K;
    return rc;
}

int qc_data_make(const qc_case *c, uint64_t run_seed, qc_data *d, char *err, size_t errlen) {
    memset(d, 0, sizeof *d);
    d->seed = qc_case_seed(c, run_seed);
    qc_rng r = {d->seed};
    const qc_op_def *def = qc_op_def_of(c->op);
    if (!def) return qc_err(err, errlen, "op %d has no conformance entry", (int)c->op);
    if (def->make(c, d, &r, err, errlen)) {
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
