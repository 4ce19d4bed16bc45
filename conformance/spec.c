/* spec.c — case specs: parsing, canonical printing and validation, read from each op's
 * entry keys (ops/<op>.c, the single source of every default); the checks entries share. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "op_entry.h"

static const qc_key *op_keys(qc_op op) {
    const qc_op_def *def = qc_op_def_of(op);
    return def ? def->keys : NULL;
}

/* ---------------------------------------------------------- value parsing */

bool qc_is_act(quanta_dtype t) { return t == QUANTA_F32 || t == QUANTA_F16 || t == QUANTA_BF16; }

bool qc_is_ggml(quanta_dtype t) { return t >= QUANTA_GGML_Q4_0 && t <= QUANTA_GGML_Q6_K; }

bool qc_is_weight(quanta_dtype t) {
    return qc_is_act(t) || t == QUANTA_Q8 || t == QUANTA_Q4 || t == QUANTA_NF4 || t == QUANTA_FP8_E4M3 ||
           t == QUANTA_FP8_E5M2 || qc_is_ggml(t);
}

static int parse_i64(const char *s, int64_t *out) {
    if (!*s || !(isdigit((unsigned char)*s) || *s == '-')) return -1;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

static int set_value(qc_case *c, const qc_key *k, const char *val, char *err, size_t errlen) {
    char *base = (char *)c + k->off;
    switch (k->kind) {
    case QC_K_I64:
    case QC_K_I32: {
        int64_t v;
        if (parse_i64(val, &v)) return qc_err(err, errlen, "key '%s': '%s' is not an integer", k->name, val);
        if (v < k->lo || v > k->hi)
            return qc_err(err, errlen, "key '%s': %lld is out of range [%lld, %lld]", k->name, (long long)v,
                          (long long)k->lo, (long long)k->hi);
        if (k->kind == QC_K_I64) *(int64_t *)(void *)base = v;
        else *(int32_t *)(void *)base = (int32_t)v;
        return 0;
    }
    case QC_K_F32: {
        errno = 0;
        char *end;
        float v = strtof(val, &end);
        if (!*val || *end || !isfinite(v))
            return qc_err(err, errlen, "key '%s': '%s' is not a finite number", k->name, val);
        /* ERANGE also flags subnormal results, which are fine (and are what a canonical spec
         * prints for them); only a nonzero value that rounded to zero is refused. */
        if (errno == ERANGE && v == 0.0f)
            return qc_err(err, errlen, "key '%s': '%s' underflows to 0", k->name, val);
        *(float *)(void *)base = v;
        return 0;
    }
    case QC_K_ACT:
    case QC_K_WT: {
        quanta_dtype t;
        if (quanta_dtype_parse(val, &t) != QUANTA_OK || (k->kind == QC_K_ACT ? !qc_is_act(t) : !qc_is_weight(t)))
            return qc_err(err, errlen, "key '%s': '%s' is not %s", k->name, val,
                          k->kind == QC_K_ACT ? "one of f32, f16, bf16"
                                           : "one of f32, f16, bf16, q8, q4, nf4, fp8, fp8_e4m3, fp8_e5m2");
        *(quanta_dtype *)(void *)base = t;
        return 0;
    }
    case QC_K_SHAPE: {
        int64_t dims[QUANTA_MAX_DIMS];
        int nd = 0;
        const char *p = val;
        for (;;) {
            if (nd == QUANTA_MAX_DIMS)
                return qc_err(err, errlen, "key '%s': '%s' has more than %d dims", k->name, val, QUANTA_MAX_DIMS);
            if (!isdigit((unsigned char)*p))
                return qc_err(err, errlen, "key '%s': '%s' is not a shape like 4x256", k->name, val);
            errno = 0;
            char *end;
            long long v = strtoll(p, &end, 10);
            if (errno || v < 1 || v > QC_DIM_MAX)
                return qc_err(err, errlen, "key '%s': dim %d of '%s' is out of range [1, %d]", k->name, nd, val,
                              QC_DIM_MAX);
            dims[nd++] = v;
            if (*end == '\0') break;
            if (*end != 'x') return qc_err(err, errlen, "key '%s': '%s' is not a shape like 4x256", k->name, val);
            p = end + 1;
        }
        c->ndim = nd;
        for (int i = 0; i < QUANTA_MAX_DIMS; i++) c->shape[i] = i < nd ? dims[i] : 0;
        return 0;
    }
    case QC_K_PERM: {
        size_t n = strlen(val);
        if (n < 1 || n > QUANTA_MAX_DIMS)
            return qc_err(err, errlen, "key '%s': '%s' must be 1 to %d digits", k->name, val, QUANTA_MAX_DIMS);
        for (int i = 0; i < QUANTA_MAX_DIMS; i++) {
            if ((size_t)i >= n) {
                c->perm[i] = -1;
                continue;
            }
            if (val[i] < '0' || val[i] > '3')
                return qc_err(err, errlen, "key '%s': '%s' must be digits 0-3", k->name, val);
            c->perm[i] = val[i] - '0';
        }
        return 0;
    }
    case QC_K_MODE:
        if (!strcmp(val, "norm")) c->mode = QUANTA_ROPE_NORM;
        else if (!strcmp(val, "neox")) c->mode = QUANTA_ROPE_NEOX;
        else return qc_err(err, errlen, "key '%s': '%s' is not norm or neox", k->name, val);
        return 0;
    }
    return qc_err(err, errlen, "key '%s': internal error", k->name);
}

/* Shortest decimal that reads back to the same float. */
static void format_float(float v, char *buf, size_t n) {
    if (fabsf(v) < 1e9f && v == (float)(int32_t)v) { /* integral: 10000, not 1e+04 */
        snprintf(buf, n, "%d", (int)(int32_t)v);
        return;
    }
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, n, "%.*g", prec, (double)v);
        if (strtof(buf, NULL) == v) return;
    }
}

static void format_value(const qc_case *c, const qc_key *k, char *buf, size_t n) {
    const char *base = (const char *)c + k->off;
    switch (k->kind) {
    case QC_K_I64: snprintf(buf, n, "%lld", (long long)*(const int64_t *)(const void *)base); return;
    case QC_K_I32: snprintf(buf, n, "%d", (int)*(const int32_t *)(const void *)base); return;
    case QC_K_F32: format_float(*(const float *)(const void *)base, buf, n); return;
    case QC_K_ACT:
    case QC_K_WT: {
        const char *s = quanta_dtype_name(*(const quanta_dtype *)(const void *)base);
        snprintf(buf, n, "%s", s ? s : "?");
        return;
    }
    case QC_K_SHAPE: {
        size_t used = 0;
        buf[0] = '\0';
        for (int i = 0; i < c->ndim && used < n; i++)
            used += (size_t)snprintf(buf + used, n - used, i ? "x%lld" : "%lld", (long long)c->shape[i]);
        return;
    }
    case QC_K_PERM: {
        size_t i = 0;
        for (; i < QUANTA_MAX_DIMS && c->perm[i] >= 0 && i + 1 < n; i++) buf[i] = (char)('0' + c->perm[i]);
        buf[i] = '\0';
        return;
    }
    case QC_K_MODE: snprintf(buf, n, "%s", c->mode == QUANTA_ROPE_NEOX ? "neox" : "norm"); return;
    }
}

void qc_case_defaults(qc_op op, qc_case *out) {
    memset(out, 0, sizeof *out);
    out->op = op;
    out->dtype = out->wtype = out->to = QUANTA_F32;
    for (int i = 0; i < QUANTA_MAX_DIMS; i++) out->perm[i] = -1;
    const qc_key *keys = op_keys(op);
    for (const qc_key *k = keys; k && k->name; k++) {
        char err[QC_ERR_MAX];
        /* The defaults are constants of the entries; a bad one is caught by the spec tests. */
        (void)set_value(out, k, k->def, err, sizeof err);
    }
}

void qc_case_format(const qc_case *c, char *buf, size_t n) {
    if (!n) return;
    const char *name = qc_op_name(c->op);
    size_t used = (size_t)snprintf(buf, n, "%s", name ? name : "?");
    const qc_key *keys = op_keys(c->op);
    char val[64];
    for (const qc_key *k = keys; k && k->name && used < n; k++) {
        format_value(c, k, val, sizeof val);
        used += (size_t)snprintf(buf + used, n - used, "%c%s=%s", k == keys ? ':' : ',', k->name, val);
    }
}

void qc_print_keys(FILE *f) {
    qc_op ops[QC_OP_MAX];
    int nops = qc_op_list(ops);
    for (int i = 0; i < nops; i++) {
        fprintf(f, "%s\n", qc_op_name(ops[i]));
        for (const qc_key *k = op_keys(ops[i]); k->name; k++)
            fprintf(f, "  %-7s default %-9s %s\n", k->name, k->def, k->doc);
    }
}

/* -------------------------------------------------------------- parsing */

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    return s;
}

int qc_case_parse(const char *spec, qc_case *out, char *err, size_t errlen) {
    if (!spec) return qc_err(err, errlen, "case spec is NULL");
    size_t len = strlen(spec);
    if (len >= 1024) return qc_err(err, errlen, "case spec is too long (%zu chars)", len);
    char buf[1024];
    memcpy(buf, spec, len + 1);
    char *colon = strchr(buf, ':');
    if (colon) *colon = '\0';
    char *opname = trim(buf);
    qc_op op;
    if (qc_op_parse(opname, &op)) {
        char list[256];
        size_t used = 0;
        qc_op ops[QC_OP_MAX];
        int nops = qc_op_list(ops);
        for (int i = 0; i < nops && used < sizeof list; i++)
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", qc_op_name(ops[i]));
        return qc_err(err, errlen, "unknown op '%s' in case spec '%s' (ops: %s)", opname, spec, list);
    }
    qc_case c;
    qc_case_defaults(op, &c);
    const qc_key *keys = op_keys(op);
    unsigned seen = 0;
    char *rest = colon ? colon + 1 : NULL;
    while (rest && *trim(rest)) {
        char *comma = strchr(rest, ',');
        if (comma) *comma = '\0';
        char *item = trim(rest);
        rest = comma ? comma + 1 : NULL;
        char *eq = strchr(item, '=');
        if (!eq) return qc_err(err, errlen, "case '%s': '%s' is not key=value", spec, item);
        *eq = '\0';
        char *key = trim(item), *val = trim(eq + 1);
        int idx = -1;
        for (int i = 0; keys[i].name; i++)
            if (!strcmp(keys[i].name, key)) idx = i;
        if (idx < 0) {
            char list[256];
            size_t used = 0;
            for (int i = 0; keys[i].name; i++)
                used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", keys[i].name);
            return qc_err(err, errlen, "case '%s': unknown key '%s' for %s (keys: %s)", spec, key, opname, list);
        }
        if (seen & (1u << idx)) return qc_err(err, errlen, "case '%s': key '%s' given twice", spec, key);
        seen |= 1u << idx;
        char sub[QC_ERR_MAX];
        if (set_value(&c, &keys[idx], val, sub, sizeof sub))
            return qc_err(err, errlen, "case '%s': %s", spec, sub);
    }
    char sub[QC_ERR_MAX];
    if (qc_case_validate(&c, sub, sizeof sub)) return qc_err(err, errlen, "case '%s': %s", spec, sub);
    *out = c;
    return 0;
}

/* ----------------------------------------------------------- validation */

/* Tensors of a case stay below 2^28 elements (1 GiB of f32), so a typo cannot ask for
 * terabytes, and every size product fits easily in 64 bits. All of a case's tensors together
 * stay below the same bound: each is held several times over (the case's data, the graph's
 * and each backend's copies, the oracle's f32 loads), so a case of four 1 GiB tensors would
 * need well over 10 GiB. The largest generated case has ~4M elements. */
#define ELEMS_MAX ((int64_t)1 << 28)

int qc_check_elems(const char *what, const int64_t *dims, int nd, char *err, size_t errlen) {
    int64_t n = 1;
    for (int i = 0; i < nd; i++) {
        if (dims[i] < 1) return qc_err(err, errlen, "%s: dim %d is %lld", what, i, (long long)dims[i]);
        if (dims[i] > ELEMS_MAX || n > ELEMS_MAX / dims[i])
            return qc_err(err, errlen, "%s has more than 2^28 elements", what);
        n *= dims[i];
    }
    return 0;
}

int qc_check_format(quanta_dtype w, int32_t g, int32_t dq, int64_t cols, const char *cols_key, char *err,
                    size_t errlen) {
    if (w == QUANTA_Q4) {
        if (g != 0 && g != 32 && g != 64 && g != 128) return qc_err(err, errlen, "q4 needs g = 32, 64 or 128 (got %d)", g);
        int32_t eg = g ? g : 64;
        if (cols % eg) return qc_err(err, errlen, "q4 needs %s (%lld) to be a multiple of g = %d", cols_key, (long long)cols, eg);
    } else if (w == QUANTA_NF4) {
        if (g != 0 && g != 64) return qc_err(err, errlen, "nf4 needs g = 64 (got %d)", g);
        if (cols % 64) return qc_err(err, errlen, "nf4 needs %s (%lld) to be a multiple of 64", cols_key, (long long)cols);
    } else if (g != 0) {
        return qc_err(err, errlen, "g applies to q4 and nf4 only (w is %s)", quanta_dtype_name(w));
    } else if (qc_is_ggml(w)) {
        int64_t blk = w >= QUANTA_GGML_Q4_K ? 256 : 32;
        if (cols % blk)
            return qc_err(err, errlen, "%s needs %s (%lld) to be a multiple of its block %lld", quanta_dtype_name(w),
                          cols_key, (long long)cols, (long long)blk);
    }
    if (dq && w != QUANTA_NF4) return qc_err(err, errlen, "dq=1 applies to nf4 only");
    return 0;
}

int qc_check_shape(const qc_case *c, char *err, size_t errlen) {
    if (c->ndim < 1 || c->ndim > QUANTA_MAX_DIMS) return qc_err(err, errlen, "shape needs 1 to 4 dims");
    if (qc_check_elems("shape", c->shape, c->ndim, err, errlen)) return -1;
    if (!qc_is_act(c->dtype)) return qc_err(err, errlen, "dtype must be f32, f16 or bf16");
    return 0;
}

int qc_check_attention(const qc_case *c, char *err, size_t errlen) {
    if (c->hq % c->hkv)
        return qc_err(err, errlen, "hq (%lld) must be a multiple of hkv (%lld)", (long long)c->hq, (long long)c->hkv);
    if (!qc_is_act(c->dtype)) return qc_err(err, errlen, "dtype must be f32, f16 or bf16");
    if (c->scale < 0) return qc_err(err, errlen, "scale must be >= 0 (0 = 1/sqrt(d))");
    return 0;
}

int64_t qc_shape_elems(const qc_case *c) {
    int64_t n = 1;
    for (int i = 0; i < c->ndim; i++) n *= c->shape[i];
    return n;
}

int64_t qc_unary_elements(const qc_case *c) { return 2 * qc_shape_elems(c) + c->shape[c->ndim - 1]; }

int qc_case_validate(const qc_case *c, char *err, size_t errlen) {
    const qc_op_def *def = qc_op_def_of(c->op);
    if (!def) return qc_err(err, errlen, "op %d has no conformance entry", (int)c->op);
    if (def->validate(c, err, errlen)) return -1;
    /* Each tensor is below 2^28 elements (validate), so this sum does not overflow. */
    int64_t n = def->elements(c);
    if (n > ELEMS_MAX)
        return qc_err(err, errlen, "the case's tensors hold %lld elements in all, more than 2^28", (long long)n);
    return 0;
}
