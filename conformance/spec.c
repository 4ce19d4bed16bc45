/* spec.c — case specs: the keys of each op with their defaults, parsing, canonical printing
 * and validation. The key tables below are the single source of every default. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h" /* qn_op, qn_op_name: the engine's op table */
#include "conform.h"

/* The engine op each conformance op exercises; names come from the engine's op table. */
static const qn_op engine_op[QC_OP_COUNT] = {
    [QC_MATMUL] = QN_OP_MATMUL,     [QC_ATTENTION] = QN_OP_ATTENTION, [QC_RMS_NORM] = QN_OP_RMS_NORM,
    [QC_ROPE] = QN_OP_ROPE,         [QC_SILU] = QN_OP_SILU,           [QC_GELU] = QN_OP_GELU,
    [QC_ADD] = QN_OP_ADD,           [QC_MUL] = QN_OP_MUL,             [QC_SCALE] = QN_OP_SCALE,
    [QC_SOFTMAX] = QN_OP_SOFTMAX,   [QC_GET_ROWS] = QN_OP_GET_ROWS,   [QC_PERMUTE] = QN_OP_PERMUTE,
    [QC_CONVERT] = QN_OP_CONVERT,   [QC_WRITE_ROWS] = QN_OP_WRITE_ROWS, [QC_ADD_RMS_NORM] = QN_OP_ADD_RMS_NORM,
    [QC_PAGED_ATTENTION] = QN_OP_PAGED_ATTENTION,
};

const char *qc_op_name(qc_op op) {
    return (unsigned)op < QC_OP_COUNT ? qn_op_name(engine_op[op]) : "?";
}

int qc_op_parse(const char *name, qc_op *out) {
    for (int i = 0; i < QC_OP_COUNT; i++)
        if (!strcmp(name, qc_op_name((qc_op)i))) {
            *out = (qc_op)i;
            return 0;
        }
    return -1;
}

/* ------------------------------------------------------------- key tables */

typedef enum key_kind {
    K_I64,   /* int64_t, range lo..hi */
    K_I32,   /* int32_t, range lo..hi */
    K_F32,   /* float, finite, >= lo */
    K_ACT,   /* quanta_dtype: f32, f16, bf16 */
    K_WT,    /* quanta_dtype: a weight format (dense float or quantized) */
    K_SHAPE, /* ndim + shape: "AxBxC" */
    K_PERM,  /* perm digits: "0213" */
    K_MODE   /* rope mode: norm | neox */
} key_kind;

typedef struct key_def {
    const char *name;
    key_kind kind;
    size_t off;
    const char *def;
    int64_t lo, hi;
    const char *doc;
} key_def;

#define OFF(f) offsetof(qc_case, f)
#define DIM_MAX (1 << 24)
#define END {NULL, K_I32, 0, NULL, 0, 0, NULL}

static const key_def matmul_keys[] = {
    {"m", K_I64, OFF(m), "4", 1, DIM_MAX, "rows of x (tokens); 1 = decode"},
    {"n", K_I64, OFF(n), "64", 1, DIM_MAX, "rows of w (outputs)"},
    {"k", K_I64, OFF(k), "128", 1, DIM_MAX, "reduction length (cols of x and w); a multiple of g for q4/nf4"},
    {"w", K_WT, OFF(wtype), "f32", 0, 0, "weight dtype: f32 f16 bf16 q8 q4 nf4 fp8 (=fp8_e4m3) fp8_e5m2 q4_0 q4_1 q5_0 q5_1 q8_0 q4_k q5_k q6_k"},
    {"g", K_I32, OFF(group), "0", 0, 128, "q4 group 32/64/128, nf4 block 64; 0 = format default (64)"},
    {"dq", K_I32, OFF(dq), "0", 0, 1, "nf4 double quantization of the absmax values"},
    {"x", K_ACT, OFF(dtype), "f32", 0, 0, "activation (and result) dtype"},
    {"b", K_I64, OFF(b), "1", 1, DIM_MAX, "leading batch dim of x (x is [b,m,k] when b > 1)"},
    {"wbuf", K_I32, OFF(wbuf), "0", 0, 1, "weight in a quanta_buffer instead of a graph constant"},
    END};

static const key_def attention_keys[] = {
    {"b", K_I64, OFF(b), "1", 1, DIM_MAX, "batch"},
    {"hq", K_I64, OFF(hq), "4", 1, DIM_MAX, "query heads (a multiple of hkv)"},
    {"hkv", K_I64, OFF(hkv), "4", 1, DIM_MAX, "key/value heads; hq/hkv is the GQA ratio"},
    {"nq", K_I64, OFF(nq), "16", 1, DIM_MAX, "queries per sequence; 1 = decode"},
    {"nk", K_I64, OFF(nk), "16", 1, DIM_MAX, "keys per sequence"},
    {"d", K_I64, OFF(d), "64", 1, 4096, "head dim"},
    {"causal", K_I32, OFF(causal), "0", 0, 1, "causal masking (bottom-right aligned)"},
    {"window", K_I32, OFF(window), "0", 0, 1 << 30, "sliding window in keys (0 = none)"},
    {"mask", K_I32, OFF(mask), "0", 0, 2, "u8 mask: 0 none, 1 [nq,nk], 2 [b,nq,nk] (~30% of keys hidden)"},
    {"kvlens", K_I32, OFF(kvlens), "0", 0, 1, "random per-sequence key lengths in [1,nk] (i32 [b])"},
    {"scale", K_F32, OFF(scale), "0", 0, 0, "score scale; 0 = 1/sqrt(d)"},
    {"dtype", K_ACT, OFF(dtype), "f32", 0, 0, "q/k/v and result dtype"},
    END};

static const key_def paged_attention_keys[] = {
    {"b", K_I64, OFF(b), "3", 1, DIM_MAX, "sequences"},
    {"hq", K_I64, OFF(hq), "4", 1, DIM_MAX, "query heads (a multiple of hkv)"},
    {"hkv", K_I64, OFF(hkv), "2", 1, DIM_MAX, "pool (key/value) heads; hq/hkv is the GQA ratio"},
    {"nq", K_I64, OFF(nq), "1", 1, DIM_MAX, "new queries per sequence; 1 = decode"},
    {"nk", K_I64, OFF(nk), "37", 1, DIM_MAX, "most keys of a sequence (the first has nk, the others [nq, nk])"},
    {"bs", K_I32, OFF(bs), "16", 1, 1 << 16, "block size: pool rows per block"},
    {"nblk", K_I64, OFF(nblk), "0", 0, DIM_MAX, "blocks in the pools (0 = the sequences' need + 3); "
     "tables use a random permutation"},
    {"d", K_I64, OFF(d), "64", 1, 4096, "head dim"},
    {"causal", K_I32, OFF(causal), "1", 0, 1, "causal masking among the new queries"},
    {"window", K_I32, OFF(window), "0", 0, 1 << 30, "sliding window in keys (0 = none); blocks wholly "
     "before every query's window are -1 in the table"},
    {"scale", K_F32, OFF(scale), "0", 0, 0, "score scale; 0 = 1/sqrt(d)"},
    {"dtype", K_ACT, OFF(dtype), "f32", 0, 0, "q, pools and result dtype"},
    END};

static const key_def rms_norm_keys[] = {
    {"shape", K_SHAPE, OFF(shape), "4x256", 0, 0, "x dims, normalised over the last"},
    {"weight", K_I32, OFF(weight), "1", 0, 1, "multiply by an f32 weight [last dim]"},
    {"plus1", K_I32, OFF(plus1), "0", 0, 1, "multiply by (1 + weight) (Gemma); needs weight=1"},
    {"eps", K_F32, OFF(eps), "1e-05", 0, 0, "epsilon (> 0)"},
    {"dtype", K_ACT, OFF(dtype), "f32", 0, 0, "x and result dtype"},
    END};

static const key_def rope_keys[] = {
    {"shape", K_SHAPE, OFF(shape), "1x4x8x64", 0, 0, "x [B,H,N,D] (4-D; D even)"},
    {"mode", K_MODE, OFF(mode), "norm", 0, 0, "norm (adjacent pairs) or neox (halves)"},
    {"rot", K_I32, OFF(rot), "0", 0, 1 << 20, "rotated leading dims (even, <= D); 0 = all"},
    {"offset", K_I64, OFF(offset), "0", 0, 1 << 24, "position of the first row (positions offset..offset+N-1)"},
    {"theta", K_F32, OFF(theta), "10000", 0, 0, "frequency base (> 0)"},
    {"fscale", K_F32, OFF(fscale), "1", 0, 0, "linear position scale (0 = 1)"},
    {"dtype", K_ACT, OFF(dtype), "f32", 0, 0, "x and result dtype"},
    END};

static const key_def unary_keys[] = { /* silu, softmax */
    {"shape", K_SHAPE, OFF(shape), "4x256", 0, 0, "x dims (softmax: over the last)"},
    {"dtype", K_ACT, OFF(dtype), "f32", 0, 0, "x and result dtype"},
    END};

static const key_def gelu_keys[] = {
    {"shape", K_SHAPE, OFF(shape), "4x256", 0, 0, "x dims"},
    {"approx", K_I32, OFF(approx), "0", 0, 1, "1 = tanh approximation, 0 = exact erf form"},
    {"dtype", K_ACT, OFF(dtype), "f32", 0, 0, "x and result dtype"},
    END};

static const key_def binary_keys[] = { /* add, mul */
    {"shape", K_SHAPE, OFF(shape), "4x256", 0, 0, "a dims"},
    {"bcast", K_I32, OFF(bcast), "0", 0, 1, "b is one row [last dim] broadcast over a (a graph constant)"},
    {"dtype", K_ACT, OFF(dtype), "f32", 0, 0, "a, b and result dtype"},
    END};

static const key_def scale_keys[] = {
    {"shape", K_SHAPE, OFF(shape), "4x256", 0, 0, "x dims"},
    {"s", K_F32, OFF(scale), "0.5", 0, 0, "the factor"},
    {"dtype", K_ACT, OFF(dtype), "f32", 0, 0, "x and result dtype"},
    END};

static const key_def get_rows_keys[] = {
    {"v", K_I64, OFF(v), "50", 1, DIM_MAX, "table rows (vocabulary)"},
    {"d", K_I64, OFF(d), "64", 1, DIM_MAX, "table cols; a multiple of g for q4/nf4"},
    {"t", K_I64, OFF(t), "8", 1, DIM_MAX, "ids (first and last table row always among them when t >= 2)"},
    {"table", K_WT, OFF(wtype), "f32", 0, 0, "table dtype: f32 f16 bf16 q8 q4 nf4 fp8 fp8_e5m2 q4_0 q4_1 q5_0 q5_1 q8_0 q4_k q5_k q6_k"},
    {"g", K_I32, OFF(group), "0", 0, 128, "q4 group / nf4 block; 0 = format default"},
    {"dq", K_I32, OFF(dq), "0", 0, 1, "nf4 double quantization"},
    {"wbuf", K_I32, OFF(wbuf), "0", 0, 1, "table in a quanta_buffer instead of a graph constant"},
    END};

static const key_def permute_keys[] = {
    {"shape", K_SHAPE, OFF(shape), "2x3x4x5", 0, 0, "x dims"},
    {"perm", K_PERM, OFF(perm), "0213", 0, 0, "one digit per dim: out.dims[i] = x.dims[perm[i]]"},
    {"dtype", K_ACT, OFF(dtype), "f32", 0, 0, "x and result dtype"},
    END};

static const key_def convert_keys[] = {
    {"shape", K_SHAPE, OFF(shape), "4x256", 0, 0, "x dims"},
    {"dtype", K_ACT, OFF(dtype), "f32", 0, 0, "source dtype"},
    {"to", K_ACT, OFF(to), "f16", 0, 0, "target dtype"},
    END};

static const key_def write_rows_keys[] = {
    {"b", K_I64, OFF(b), "1", 1, DIM_MAX, "batch"},
    {"h", K_I64, OFF(h), "2", 1, DIM_MAX, "heads"},
    {"nmax", K_I64, OFF(nmax), "16", 1, DIM_MAX, "rows of the destination buffer"},
    {"t", K_I64, OFF(t), "3", 1, DIM_MAX, "rows written"},
    {"d", K_I64, OFF(d), "64", 1, DIM_MAX, "row length"},
    {"start", K_I64, OFF(start), "5", 0, DIM_MAX, "first row written (start + t <= nmax)"},
    {"dtype", K_ACT, OFF(dtype), "f32", 0, 0, "buffer and source dtype"},
    END};

static const key_def *op_keys(qc_op op) {
    switch (op) {
    case QC_MATMUL: return matmul_keys;
    case QC_ATTENTION: return attention_keys;
    case QC_RMS_NORM: case QC_ADD_RMS_NORM: return rms_norm_keys; /* add_rms_norm: a, b of x's shape */
    case QC_ROPE: return rope_keys;
    case QC_SILU: case QC_SOFTMAX: return unary_keys;
    case QC_GELU: return gelu_keys;
    case QC_ADD: case QC_MUL: return binary_keys;
    case QC_SCALE: return scale_keys;
    case QC_GET_ROWS: return get_rows_keys;
    case QC_PERMUTE: return permute_keys;
    case QC_CONVERT: return convert_keys;
    case QC_WRITE_ROWS: return write_rows_keys;
    case QC_PAGED_ATTENTION: return paged_attention_keys;
    case QC_OP_COUNT: break;
    }
    return NULL;
}

/* ---------------------------------------------------------- value parsing */

static bool is_act(quanta_dtype t) { return t == QUANTA_F32 || t == QUANTA_F16 || t == QUANTA_BF16; }

static bool is_ggml(quanta_dtype t) { return t >= QUANTA_GGML_Q4_0 && t <= QUANTA_GGML_Q6_K; }

static bool is_weight(quanta_dtype t) {
    return is_act(t) || t == QUANTA_Q8 || t == QUANTA_Q4 || t == QUANTA_NF4 || t == QUANTA_FP8_E4M3 ||
           t == QUANTA_FP8_E5M2 || is_ggml(t);
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

static int set_value(qc_case *c, const key_def *k, const char *val, char *err, size_t errlen) {
    char *base = (char *)c + k->off;
    switch (k->kind) {
    case K_I64:
    case K_I32: {
        int64_t v;
        if (parse_i64(val, &v)) return qc_err(err, errlen, "key '%s': '%s' is not an integer", k->name, val);
        if (v < k->lo || v > k->hi)
            return qc_err(err, errlen, "key '%s': %lld is out of range [%lld, %lld]", k->name, (long long)v,
                          (long long)k->lo, (long long)k->hi);
        if (k->kind == K_I64) *(int64_t *)(void *)base = v;
        else *(int32_t *)(void *)base = (int32_t)v;
        return 0;
    }
    case K_F32: {
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
    case K_ACT:
    case K_WT: {
        quanta_dtype t;
        if (quanta_dtype_parse(val, &t) != QUANTA_OK || (k->kind == K_ACT ? !is_act(t) : !is_weight(t)))
            return qc_err(err, errlen, "key '%s': '%s' is not %s", k->name, val,
                          k->kind == K_ACT ? "one of f32, f16, bf16"
                                           : "one of f32, f16, bf16, q8, q4, nf4, fp8, fp8_e4m3, fp8_e5m2");
        *(quanta_dtype *)(void *)base = t;
        return 0;
    }
    case K_SHAPE: {
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
            if (errno || v < 1 || v > DIM_MAX)
                return qc_err(err, errlen, "key '%s': dim %d of '%s' is out of range [1, %d]", k->name, nd, val,
                              DIM_MAX);
            dims[nd++] = v;
            if (*end == '\0') break;
            if (*end != 'x') return qc_err(err, errlen, "key '%s': '%s' is not a shape like 4x256", k->name, val);
            p = end + 1;
        }
        c->ndim = nd;
        for (int i = 0; i < QUANTA_MAX_DIMS; i++) c->shape[i] = i < nd ? dims[i] : 0;
        return 0;
    }
    case K_PERM: {
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
    case K_MODE:
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

static void format_value(const qc_case *c, const key_def *k, char *buf, size_t n) {
    const char *base = (const char *)c + k->off;
    switch (k->kind) {
    case K_I64: snprintf(buf, n, "%lld", (long long)*(const int64_t *)(const void *)base); return;
    case K_I32: snprintf(buf, n, "%d", (int)*(const int32_t *)(const void *)base); return;
    case K_F32: format_float(*(const float *)(const void *)base, buf, n); return;
    case K_ACT:
    case K_WT: {
        const char *s = quanta_dtype_name(*(const quanta_dtype *)(const void *)base);
        snprintf(buf, n, "%s", s ? s : "?");
        return;
    }
    case K_SHAPE: {
        size_t used = 0;
        buf[0] = '\0';
        for (int i = 0; i < c->ndim && used < n; i++)
            used += (size_t)snprintf(buf + used, n - used, i ? "x%lld" : "%lld", (long long)c->shape[i]);
        return;
    }
    case K_PERM: {
        size_t i = 0;
        for (; i < QUANTA_MAX_DIMS && c->perm[i] >= 0 && i + 1 < n; i++) buf[i] = (char)('0' + c->perm[i]);
        buf[i] = '\0';
        return;
    }
    case K_MODE: snprintf(buf, n, "%s", c->mode == QUANTA_ROPE_NEOX ? "neox" : "norm"); return;
    }
}

void qc_case_defaults(qc_op op, qc_case *out) {
    memset(out, 0, sizeof *out);
    out->op = op;
    out->dtype = out->wtype = out->to = QUANTA_F32;
    for (int i = 0; i < QUANTA_MAX_DIMS; i++) out->perm[i] = -1;
    const key_def *keys = op_keys(op);
    for (const key_def *k = keys; k && k->name; k++) {
        char err[QC_ERR_MAX];
        /* The defaults are constants of this file; a bad one is caught by the spec tests. */
        (void)set_value(out, k, k->def, err, sizeof err);
    }
}

void qc_case_format(const qc_case *c, char *buf, size_t n) {
    if (!n) return;
    size_t used = (size_t)snprintf(buf, n, "%s", qc_op_name(c->op));
    const key_def *keys = op_keys(c->op);
    char val[64];
    for (const key_def *k = keys; k && k->name && used < n; k++) {
        format_value(c, k, val, sizeof val);
        used += (size_t)snprintf(buf + used, n - used, "%c%s=%s", k == keys ? ':' : ',', k->name, val);
    }
}

void qc_print_keys(FILE *f) {
    for (int op = 0; op < QC_OP_COUNT; op++) {
        fprintf(f, "%s\n", qc_op_name((qc_op)op));
        for (const key_def *k = op_keys((qc_op)op); k->name; k++)
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
        for (int i = 0; i < QC_OP_COUNT; i++)
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", qc_op_name((qc_op)i));
        return qc_err(err, errlen, "unknown op '%s' in case spec '%s' (ops: %s)", opname, spec, list);
    }
    qc_case c;
    qc_case_defaults(op, &c);
    const key_def *keys = op_keys(op);
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
 * terabytes, and every size product below fits easily in 64 bits. All of a case's tensors
 * together stay below the same bound: each is held several times over (the case's data, the
 * graph's and each backend's copies, the oracle's f32 loads), so a case of four 1 GiB
 * tensors would need well over 10 GiB. The largest generated case has ~4M elements. */
#define ELEMS_MAX ((int64_t)1 << 28)

static int check_elems(const char *what, const int64_t *dims, int nd, char *err, size_t errlen) {
    int64_t n = 1;
    for (int i = 0; i < nd; i++) {
        if (dims[i] < 1) return qc_err(err, errlen, "%s: dim %d is %lld", what, i, (long long)dims[i]);
        if (dims[i] > ELEMS_MAX || n > ELEMS_MAX / dims[i])
            return qc_err(err, errlen, "%s has more than 2^28 elements", what);
        n *= dims[i];
    }
    return 0;
}

static int check_format(quanta_dtype w, int32_t g, int32_t dq, int64_t cols, const char *cols_key, char *err,
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
    } else if (is_ggml(w)) {
        int64_t blk = w >= QUANTA_GGML_Q4_K ? 256 : 32;
        if (cols % blk)
            return qc_err(err, errlen, "%s needs %s (%lld) to be a multiple of its block %lld", quanta_dtype_name(w),
                          cols_key, (long long)cols, (long long)blk);
    }
    if (dq && w != QUANTA_NF4) return qc_err(err, errlen, "dq=1 applies to nf4 only");
    return 0;
}

static int validate_parts(const qc_case *c, char *err, size_t errlen) {
    switch (c->op) {
    case QC_MATMUL: {
        if (!is_act(c->dtype)) return qc_err(err, errlen, "x must be f32, f16 or bf16");
        if (!is_weight(c->wtype)) return qc_err(err, errlen, "w is not a weight format");
        if (check_format(c->wtype, c->group, c->dq, c->k, "k", err, errlen)) return -1;
        int64_t x[3] = {c->b, c->m, c->k}, w[2] = {c->n, c->k}, y[3] = {c->b, c->m, c->n};
        if (check_elems("x", x, 3, err, errlen) || check_elems("w", w, 2, err, errlen) ||
            check_elems("y", y, 3, err, errlen))
            return -1;
        return 0;
    }
    case QC_ATTENTION: {
        if (c->hq % c->hkv)
            return qc_err(err, errlen, "hq (%lld) must be a multiple of hkv (%lld)", (long long)c->hq,
                          (long long)c->hkv);
        if (!is_act(c->dtype)) return qc_err(err, errlen, "dtype must be f32, f16 or bf16");
        if (c->scale < 0) return qc_err(err, errlen, "scale must be >= 0 (0 = 1/sqrt(d))");
        int64_t q[4] = {c->b, c->hq, c->nq, c->d}, kv[4] = {c->b, c->hkv, c->nk, c->d};
        int64_t s[4] = {c->b, c->hq, c->nq, c->nk};
        if (check_elems("q", q, 4, err, errlen) || check_elems("k", kv, 4, err, errlen) ||
            check_elems("scores", s, 4, err, errlen))
            return -1;
        return 0;
    }
    case QC_PAGED_ATTENTION: {
        if (c->hq % c->hkv)
            return qc_err(err, errlen, "hq (%lld) must be a multiple of hkv (%lld)", (long long)c->hq,
                          (long long)c->hkv);
        if (!is_act(c->dtype)) return qc_err(err, errlen, "dtype must be f32, f16 or bf16");
        if (c->scale < 0) return qc_err(err, errlen, "scale must be >= 0 (0 = 1/sqrt(d))");
        if (c->nq > c->nk) return qc_err(err, errlen, "nq (%lld) must be <= nk (%lld)", (long long)c->nq, (long long)c->nk);
        int64_t need = c->b * ((c->nk + c->bs - 1) / c->bs);
        if (c->nblk && c->nblk < need)
            return qc_err(err, errlen, "nblk (%lld) is below the %lld blocks the sequences need", (long long)c->nblk,
                          (long long)need);
        int64_t q[4] = {c->b, c->hq, c->nq, c->d}, pool[4] = {1, c->hkv, (c->nblk ? c->nblk : need + 3) * c->bs, c->d};
        int64_t s[4] = {c->b, c->hq, c->nq, c->nk};
        if (check_elems("q", q, 4, err, errlen) || check_elems("pool", pool, 4, err, errlen) ||
            check_elems("scores", s, 4, err, errlen))
            return -1;
        return 0;
    }
    default: break;
    }
    /* Ops with a shape key: the shape's element count bounds every tensor. */
    if (c->op != QC_GET_ROWS && c->op != QC_WRITE_ROWS && c->op != QC_PAGED_ATTENTION) {
        if (c->ndim < 1 || c->ndim > QUANTA_MAX_DIMS) return qc_err(err, errlen, "shape needs 1 to 4 dims");
        if (check_elems("shape", c->shape, c->ndim, err, errlen)) return -1;
        if (!is_act(c->dtype)) return qc_err(err, errlen, "dtype must be f32, f16 or bf16");
    }
    switch (c->op) {
    case QC_RMS_NORM: case QC_ADD_RMS_NORM:
        if (c->plus1 && !c->weight) return qc_err(err, errlen, "plus1=1 needs weight=1");
        if (!(c->eps > 0)) return qc_err(err, errlen, "eps must be > 0");
        return 0;
    case QC_ROPE: {
        if (c->ndim != 4) return qc_err(err, errlen, "rope needs a 4-D shape BxHxNxD (got %d-D)", c->ndim);
        int64_t d = c->shape[3];
        if (d % 2) return qc_err(err, errlen, "rope needs an even D (got %lld)", (long long)d);
        if (c->rot % 2 || c->rot > d)
            return qc_err(err, errlen, "rot (%d) must be even and <= D (%lld)", c->rot, (long long)d);
        if (!(c->theta > 0)) return qc_err(err, errlen, "theta must be > 0");
        if (c->fscale < 0) return qc_err(err, errlen, "fscale must be >= 0 (0 = 1)");
        return 0;
    }
    case QC_PERMUTE: {
        int n = 0;
        while (n < QUANTA_MAX_DIMS && c->perm[n] >= 0) n++;
        if (n != c->ndim)
            return qc_err(err, errlen, "perm has %d digits but shape has %d dims", n, c->ndim);
        unsigned used = 0;
        for (int i = 0; i < n; i++) {
            if (c->perm[i] >= n || (used & (1u << c->perm[i])))
                return qc_err(err, errlen, "perm is not a permutation of 0..%d", n - 1);
            used |= 1u << c->perm[i];
        }
        return 0;
    }
    case QC_CONVERT:
        if (!is_act(c->to)) return qc_err(err, errlen, "to must be f32, f16 or bf16");
        return 0;
    case QC_GET_ROWS: {
        if (!is_weight(c->wtype)) return qc_err(err, errlen, "table is not a weight format");
        if (check_format(c->wtype, c->group, c->dq, c->d, "d", err, errlen)) return -1;
        int64_t tab[2] = {c->v, c->d}, out[2] = {c->t, c->d};
        if (check_elems("table", tab, 2, err, errlen) || check_elems("out", out, 2, err, errlen)) return -1;
        return 0;
    }
    case QC_WRITE_ROWS: {
        if (!is_act(c->dtype)) return qc_err(err, errlen, "dtype must be f32, f16 or bf16");
        if (c->start + c->t > c->nmax)
            return qc_err(err, errlen, "start (%lld) + t (%lld) must be <= nmax (%lld)", (long long)c->start,
                          (long long)c->t, (long long)c->nmax);
        int64_t dst[4] = {c->b, c->h, c->nmax, c->d};
        return check_elems("dst", dst, 4, err, errlen);
    }
    default: return 0;
    }
}

/* Elements of all of a valid case's tensors: inputs and result (each below 2^28, so no sum
 * here overflows). */
static int64_t case_elements(const qc_case *c) {
    int64_t shape = 1;
    for (int i = 0; i < c->ndim; i++) shape *= c->shape[i];
    switch (c->op) {
    case QC_MATMUL: return c->b * c->m * c->k + c->n * c->k + c->b * c->m * c->n;
    case QC_ATTENTION:
        return 2 * c->b * c->hq * c->nq * c->d + 2 * c->b * c->hkv * c->nk * c->d +
               (c->mask ? c->b * c->nq * c->nk : 0) + c->b;
    case QC_PAGED_ATTENTION: {
        int64_t blocks = c->nblk ? c->nblk : c->b * ((c->nk + c->bs - 1) / c->bs) + 3;
        return 2 * c->b * c->hq * c->nq * c->d + 2 * c->hkv * blocks * c->bs * c->d +
               c->b * ((c->nk + c->bs - 1) / c->bs) + c->b;
    }
    case QC_GET_ROWS: return c->v * c->d + c->t * c->d + c->t;
    case QC_WRITE_ROWS: return c->b * c->h * (c->nmax + c->t) * c->d + 1;
    case QC_ADD: case QC_MUL: return 3 * shape;
    case QC_ADD_RMS_NORM: return 3 * shape + c->shape[c->ndim - 1];
    case QC_ROPE: return 2 * shape + c->shape[2];
    default: return 2 * shape + (c->ndim ? c->shape[c->ndim - 1] : 0);
    }
}

int qc_case_validate(const qc_case *c, char *err, size_t errlen) {
    if (validate_parts(c, err, errlen)) return -1;
    int64_t n = case_elements(c);
    if (n > ELEMS_MAX)
        return qc_err(err, errlen, "the case's tensors hold %lld elements in all, more than 2^28", (long long)n);
    return 0;
}
