/* safetensors.c — hostile-input safetensors reader and the HF config.json reader (see
 * safetensors.h). The JSON header is parsed strictly; tensors are then validated against the
 * data section before anything is exposed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "formats.h"
#include "json.h"
#include "mapfile.h"
#include "safetensors.h"

struct qn_safetensors {
    qn_mapped_file map;
    const unsigned char *base;
    size_t size;
    qn_json *header;
    uint64_t n_tensors;
    qn_st_tensor *tensors;  /* sorted by offset */
    qn_st_tensor **by_name; /* sorted by name */
    const qn_json *meta;    /* __metadata__ object or NULL */
};

static const struct { const char *name; size_t size; } dtypes[] = {
    [QN_ST_BOOL] = { "BOOL", 1 }, [QN_ST_U8] = { "U8", 1 },     [QN_ST_I8] = { "I8", 1 },
    [QN_ST_I16] = { "I16", 2 },   [QN_ST_U16] = { "U16", 2 },   [QN_ST_F16] = { "F16", 2 },
    [QN_ST_BF16] = { "BF16", 2 }, [QN_ST_I32] = { "I32", 4 },   [QN_ST_U32] = { "U32", 4 },
    [QN_ST_F32] = { "F32", 4 },   [QN_ST_F64] = { "F64", 8 },   [QN_ST_I64] = { "I64", 8 },
    [QN_ST_U64] = { "U64", 8 },   [QN_ST_F8_E4M3] = { "F8_E4M3", 1 }, [QN_ST_F8_E5M2] = { "F8_E5M2", 1 },
};
#define N_DTYPES (sizeof dtypes / sizeof dtypes[0])

const char *qn_st_dtype_name(qn_st_dtype t) { return (unsigned)t < N_DTYPES ? dtypes[t].name : NULL; }

static int cmp_offset(const void *a, const void *b) {
    const qn_st_tensor *x = a, *y = b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    return x->bytes < y->bytes ? -1 : x->bytes > y->bytes;
}
static int cmp_name(const void *a, const void *b) {
    return strcmp((*(qn_st_tensor *const *)a)->name, (*(qn_st_tensor *const *)b)->name);
}

static quanta_status parse_tensor(const char *name, const qn_json *v, qn_st_tensor *t) {
    if (v->type != QN_JSON_OBJECT)
        return qn_error_set(QUANTA_ERR_CORRUPT, "safetensors: tensor '%.120s' is not an object", name);
    const qn_json *dt = qn_json_get(v, "dtype"), *shape = qn_json_get(v, "shape"), *offs = qn_json_get(v, "data_offsets");
    if (!dt || dt->type != QN_JSON_STRING)
        return qn_error_set(QUANTA_ERR_CORRUPT, "safetensors: tensor '%.120s' has no dtype string", name);
    size_t k = 0;
    while (k < N_DTYPES && strcmp(dtypes[k].name, dt->str)) k++;
    if (k == N_DTYPES)
        return qn_error_set(QUANTA_ERR_CORRUPT, "safetensors: tensor '%.120s' has unknown dtype '%.40s'", name, dt->str);
    t->dtype = (qn_st_dtype)k;
    if (!shape || shape->type != QN_JSON_ARRAY)
        return qn_error_set(QUANTA_ERR_CORRUPT, "safetensors: tensor '%.120s' has no shape array", name);
    if (shape->count > QN_ST_MAX_DIMS)
        return qn_error_set(QUANTA_ERR_CORRUPT, "safetensors: tensor '%.120s' has %zu dims (at most %d)", name,
                            shape->count, QN_ST_MAX_DIMS);
    t->ndim = (int32_t)shape->count;
    uint64_t elems = 1;
    for (size_t d = 0; d < shape->count; d++) {
        uint64_t v64;
        if (!qn_json_as_u64(&shape->items[d], &v64) || v64 > (uint64_t)INT64_MAX)
            return qn_error_set(QUANTA_ERR_CORRUPT, "safetensors: tensor '%.120s' dim %zu is not a non-negative integer",
                                name, d);
        t->dims[d] = (int64_t)v64;
        if (v64 && elems > UINT64_MAX / v64)
            return qn_error_set(QUANTA_ERR_CORRUPT, "safetensors: tensor '%.120s' element count overflows", name);
        elems *= v64;
    }
    uint64_t b, e;
    if (!offs || offs->type != QN_JSON_ARRAY || offs->count != 2 || !qn_json_as_u64(&offs->items[0], &b) ||
        !qn_json_as_u64(&offs->items[1], &e) || e < b)
        return qn_error_set(QUANTA_ERR_CORRUPT, "safetensors: tensor '%.120s' needs data_offsets [begin, end], begin <= end",
                            name);
    if (elems > UINT64_MAX / dtypes[k].size)
        return qn_error_set(QUANTA_ERR_CORRUPT, "safetensors: tensor '%.120s' byte size overflows", name);
    if (e - b != elems * dtypes[k].size)
        return qn_error_set(QUANTA_ERR_CORRUPT,
                            "safetensors: tensor '%.120s' spans %llu bytes but %s x %llu elements need %llu", name,
                            (unsigned long long)(e - b), dtypes[k].name, (unsigned long long)elems,
                            (unsigned long long)(elems * dtypes[k].size));
    t->name = name;
    t->offset = b;
    t->bytes = e - b;
    return QUANTA_OK;
}

static quanta_status parse(qn_safetensors *s) {
    if (s->size < 8) return qn_error_set(QUANTA_ERR_CORRUPT, "safetensors: file of %zu bytes is too short", s->size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | s->base[i];
    if (n > QN_ST_MAX_HEADER || n > s->size - 8)
        return qn_error_set(QUANTA_ERR_CORRUPT, "safetensors: header length %llu is invalid for a %zu-byte file",
                            (unsigned long long)n, s->size);
    if (n == 0 || s->base[8] != '{')
        return qn_error_set(QUANTA_ERR_CORRUPT, "safetensors: header does not start with '{'");
    quanta_status st = qn_json_parse((const char *)s->base + 8, (size_t)n, 16, &s->header);
    if (st != QUANTA_OK) {
        char why[256];
        snprintf(why, sizeof why, "%s", quanta_last_error());
        return qn_error_set(QUANTA_ERR_CORRUPT, "safetensors: header: %s", why);
    }
    const qn_json *h = s->header;
    if (h->type != QN_JSON_OBJECT) return qn_error_set(QUANTA_ERR_CORRUPT, "safetensors: header is not an object");
    s->tensors = h->count ? calloc(h->count, sizeof *s->tensors) : NULL;
    if (h->count && !s->tensors) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "safetensors: no memory");
    for (size_t i = 0; i < h->count; i++) {
        if (!strcmp(h->keys[i], "__metadata__")) {
            const qn_json *m = &h->items[i];
            if (m->type != QN_JSON_OBJECT) return qn_error_set(QUANTA_ERR_CORRUPT, "safetensors: __metadata__ is not an object");
            for (size_t k = 0; k < m->count; k++)
                if (m->items[k].type != QN_JSON_STRING)
                    return qn_error_set(QUANTA_ERR_CORRUPT, "safetensors: __metadata__ value '%.120s' is not a string",
                                        m->keys[k]);
            s->meta = m;
            continue;
        }
        if (!h->keys[i][0]) return qn_error_set(QUANTA_ERR_CORRUPT, "safetensors: a tensor has an empty name");
        st = parse_tensor(h->keys[i], &h->items[i], &s->tensors[s->n_tensors]);
        if (st != QUANTA_OK) return st;
        s->n_tensors++;
    }
    const uint64_t data_len = s->size - 8 - n;
    const unsigned char *data = s->base + 8 + n;
    if (s->n_tensors > 1) qsort(s->tensors, (size_t)s->n_tensors, sizeof *s->tensors, cmp_offset);
    uint64_t expect = 0;
    for (uint64_t i = 0; i < s->n_tensors; i++) {
        qn_st_tensor *t = &s->tensors[i];
        if (t->offset != expect)
            return qn_error_set(QUANTA_ERR_CORRUPT, "safetensors: tensor '%.120s' starts at %llu, expected %llu (%s)",
                                t->name, (unsigned long long)t->offset, (unsigned long long)expect,
                                t->offset < expect ? "overlaps the previous tensor" : "leaves a hole");
        if (t->bytes > data_len - t->offset)
            return qn_error_set(QUANTA_ERR_CORRUPT, "safetensors: tensor '%.120s' ends past the %llu-byte data section",
                                t->name, (unsigned long long)data_len);
        t->data = data + t->offset;
        expect = t->offset + t->bytes;
    }
    if (expect != data_len)
        return qn_error_set(QUANTA_ERR_CORRUPT, "safetensors: tensors cover %llu of the %llu data bytes",
                            (unsigned long long)expect, (unsigned long long)data_len);
    s->by_name = s->n_tensors ? malloc((size_t)s->n_tensors * sizeof *s->by_name) : NULL;
    if (s->n_tensors && !s->by_name) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "safetensors: no memory");
    for (uint64_t i = 0; i < s->n_tensors; i++) s->by_name[i] = &s->tensors[i];
    if (s->n_tensors > 1) qsort(s->by_name, (size_t)s->n_tensors, sizeof *s->by_name, cmp_name);
    return QUANTA_OK; /* names are unique: the JSON parser rejects duplicate keys */
}

static quanta_status finish(qn_safetensors *s, qn_safetensors **out) {
    quanta_status st = parse(s);
    if (st != QUANTA_OK) {
        qn_st_close(s);
        return st;
    }
    *out = s;
    return QUANTA_OK;
}

quanta_status qn_st_open_memory(const void *data, size_t size, qn_safetensors **out) {
    if (!out) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_st_open_memory: out is NULL");
    *out = NULL;
    if (!data && size) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_st_open_memory: data is NULL");
    qn_safetensors *s = calloc(1, sizeof *s);
    if (!s) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "qn_st_open_memory: no memory");
    s->base = data ? data : (const unsigned char *)"";
    s->size = size;
    return finish(s, out);
}

quanta_status qn_st_open(const char *path, qn_safetensors **out) {
    if (!out) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_st_open: out is NULL");
    *out = NULL;
    if (!path) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_st_open: path is NULL");
    qn_safetensors *s = calloc(1, sizeof *s);
    if (!s) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "qn_st_open: no memory");
    quanta_status st = qn_map_file(path, "qn_st_open", &s->map);
    if (st != QUANTA_OK) {
        free(s);
        return st;
    }
    s->base = s->map.data;
    s->size = s->map.size;
    return finish(s, out);
}

void qn_st_close(qn_safetensors *s) {
    if (!s) return;
    qn_json_free(s->header);
    free(s->tensors);
    free(s->by_name);
    qn_unmap_file(&s->map);
    free(s);
}

uint64_t qn_st_tensor_count(const qn_safetensors *s) { return s ? s->n_tensors : 0; }

const qn_st_tensor *qn_st_tensor_at(const qn_safetensors *s, uint64_t i) {
    return s && i < s->n_tensors ? &s->tensors[i] : NULL;
}

const qn_st_tensor *qn_st_find(const qn_safetensors *s, const char *name) {
    if (!s || !name) return NULL;
    uint64_t lo = 0, hi = s->n_tensors;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        int r = strcmp(s->by_name[mid]->name, name);
        if (!r) return s->by_name[mid];
        if (r < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

const char *qn_st_metadata(const qn_safetensors *s, const char *key) {
    const qn_json *v = s ? qn_json_get(s->meta, key) : NULL;
    return v ? v->str : NULL;
}

uint64_t qn_st_metadata_count(const qn_safetensors *s) { return s && s->meta ? s->meta->count : 0; }

quanta_status qn_st_metadata_at(const qn_safetensors *s, uint64_t i, const char **key, const char **value) {
    if (!s || !s->meta || i >= s->meta->count)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_st_metadata_at: index %llu out of range", (unsigned long long)i);
    if (key) *key = s->meta->keys[i];
    if (value) *value = s->meta->items[i].str;
    return QUANTA_OK;
}

uint64_t qn_st_tensor_elements(const qn_st_tensor *t) {
    uint64_t n = 1;
    for (int i = 0; t && i < t->ndim; i++) n *= (uint64_t)t->dims[i];
    return t ? n : 0;
}

static uint64_t ld(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* Elements [first, first + count) of t to f32 (the caller checked the range). The float types a
 * checkpoint's weights come in convert in a loop of their own; the rest element by element. */
static quanta_status range_to_f32(const qn_st_tensor *t, uint64_t first, size_t count, float *dst) {
    if ((unsigned)t->dtype >= N_DTYPES)
        return qn_error_set(QUANTA_ERR_UNSUPPORTED, "qn_st_tensor_to_f32: dtype %d", (int)t->dtype);
    const unsigned char *p = (const unsigned char *)t->data + first * dtypes[t->dtype].size;
    switch (t->dtype) {
    case QN_ST_F16: qn_to_f32(QUANTA_F16, p, dst, count); return QUANTA_OK;
    case QN_ST_BF16: qn_to_f32(QUANTA_BF16, p, dst, count); return QUANTA_OK;
    case QN_ST_F32:
        for (size_t i = 0; i < count; i++) {
            uint32_t u = (uint32_t)ld(p + 4 * i, 4);
            memcpy(dst + i, &u, 4);
        }
        return QUANTA_OK;
    default: break;
    }
    for (size_t i = 0; i < count; i++) {
        float v;
        switch (t->dtype) {
        case QN_ST_BOOL:
        case QN_ST_U8: v = p[i]; break;
        case QN_ST_I8: v = (int8_t)p[i]; break;
        case QN_ST_I16: v = (int16_t)ld(p + 2 * i, 2); break;
        case QN_ST_U16: v = (float)ld(p + 2 * i, 2); break;
        case QN_ST_I32: v = (float)(int32_t)ld(p + 4 * i, 4); break;
        case QN_ST_U32: v = (float)ld(p + 4 * i, 4); break;
        case QN_ST_F64: {
            uint64_t u = ld(p + 8 * i, 8);
            double d;
            memcpy(&d, &u, 8);
            v = (float)d;
            break;
        }
        case QN_ST_I64: v = (float)(int64_t)ld(p + 8 * i, 8); break;
        case QN_ST_U64: v = (float)ld(p + 8 * i, 8); break;
        case QN_ST_F8_E4M3: v = qn_e4m3_to_f32(p[i]); break;
        case QN_ST_F8_E5M2: v = qn_e5m2_to_f32(p[i]); break;
        default: return qn_error_set(QUANTA_ERR_UNSUPPORTED, "qn_st_tensor_to_f32: dtype %d", (int)t->dtype);
        }
        dst[i] = v;
    }
    return QUANTA_OK;
}

quanta_status qn_st_tensor_to_f32(const qn_st_tensor *t, float *dst, size_t count) {
    if (!t || (!dst && count)) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_st_tensor_to_f32: NULL argument");
    uint64_t n = qn_st_tensor_elements(t);
    if ((uint64_t)count != n)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_st_tensor_to_f32: count %zu != %llu elements of '%.120s'",
                            count, (unsigned long long)n, t->name);
    return range_to_f32(t, 0, count, dst);
}

quanta_status qn_st_tensor_rows_to_f32(const qn_st_tensor *t, int64_t row0, int64_t nrows, float *dst, size_t count) {
    if (!t || (!dst && count))
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_st_tensor_rows_to_f32: NULL argument");
    const uint64_t cols = t->ndim ? (uint64_t)t->dims[t->ndim - 1] : 1, n = qn_st_tensor_elements(t);
    const uint64_t rows = cols ? n / cols : 0;
    if (row0 < 0 || nrows < 0 || (uint64_t)row0 > rows || (uint64_t)nrows > rows - (uint64_t)row0)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "qn_st_tensor_rows_to_f32: rows [%lld, +%lld) outside tensor '%.120s' (%llu rows)",
                            (long long)row0, (long long)nrows, t->name, (unsigned long long)rows);
    if ((uint64_t)count != (uint64_t)nrows * cols)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "qn_st_tensor_rows_to_f32: count %zu != %lld rows x %llu for tensor '%.120s'", count,
                            (long long)nrows, (unsigned long long)cols, t->name);
    return range_to_f32(t, (uint64_t)row0 * cols, count, dst);
}

quanta_status qn_st_tensor_desc(const qn_st_tensor *t, quanta_tensor_desc *desc) {
    if (!t || !desc) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_st_tensor_desc: NULL argument");
    quanta_tensor_desc d;
    memset(&d, 0, sizeof d);
    switch (t->dtype) {
    case QN_ST_F32: d.dtype = QUANTA_F32; break;
    case QN_ST_F16: d.dtype = QUANTA_F16; break;
    case QN_ST_BF16: d.dtype = QUANTA_BF16; break;
    case QN_ST_I32: d.dtype = QUANTA_I32; break;
    case QN_ST_U8:
    case QN_ST_BOOL: d.dtype = QUANTA_U8; break;
    default:
        return qn_error_set(QUANTA_ERR_UNSUPPORTED, "qn_st_tensor_desc: tensor '%.120s' of dtype %s has no Quanta dtype",
                            t->name, qn_st_dtype_name(t->dtype));
    }
    if (t->ndim > QUANTA_MAX_DIMS)
        return qn_error_set(QUANTA_ERR_UNSUPPORTED, "qn_st_tensor_desc: tensor '%.120s' has %d dims (Quanta: at most %d)",
                            t->name, (int)t->ndim, QUANTA_MAX_DIMS);
    d.ndim = t->ndim ? t->ndim : 1;
    d.dims[0] = 1;
    for (int i = 0; i < t->ndim; i++) d.dims[i] = t->dims[i];
    *desc = d;
    return QUANTA_OK;
}

/* ---------------------------------------------------------------- config */

static quanta_status cfg_int(const qn_json *o, const char *key, int64_t *out) {
    const qn_json *v = qn_json_get(o, key);
    if (!v || v->type == QN_JSON_NULL) return QUANTA_OK;
    if (v->type == QN_JSON_ARRAY && v->count > 0) v = &v->items[0]; /* eos_token_id: [1, 106] */
    if (!qn_json_as_i64(v, out))
        return qn_error_set(QUANTA_ERR_CORRUPT, "config.json: '%s' is not an integer", key);
    return QUANTA_OK;
}

static quanta_status cfg_num(const qn_json *o, const char *key, double *out) {
    const qn_json *v = qn_json_get(o, key);
    if (!v || v->type == QN_JSON_NULL) return QUANTA_OK;
    if (v->type != QN_JSON_NUMBER) return qn_error_set(QUANTA_ERR_CORRUPT, "config.json: '%s' is not a number", key);
    *out = v->number;
    return QUANTA_OK;
}

static quanta_status cfg_bool(const qn_json *o, const char *key, int *out) {
    const qn_json *v = qn_json_get(o, key);
    if (!v || v->type == QN_JSON_NULL) return QUANTA_OK;
    if (v->type != QN_JSON_BOOL) return qn_error_set(QUANTA_ERR_CORRUPT, "config.json: '%s' is not a boolean", key);
    *out = v->boolean;
    return QUANTA_OK;
}

static quanta_status cfg_str(const qn_json *o, const char *key, char *out, size_t cap) {
    const qn_json *v = qn_json_get(o, key);
    if (!v || v->type == QN_JSON_NULL) return QUANTA_OK;
    if (v->type != QN_JSON_STRING || v->str_len >= cap)
        return qn_error_set(QUANTA_ERR_CORRUPT, "config.json: '%s' is not a string of at most %zu bytes", key, cap - 1);
    memcpy(out, v->str, v->str_len + 1);
    return QUANTA_OK;
}

static quanta_status read_config(const qn_json *root, qn_hf_config *c) {
    if (root->type != QN_JSON_OBJECT) return qn_error_set(QUANTA_ERR_CORRUPT, "config.json: not a JSON object");
    const qn_json *o = qn_json_get(root, "text_config");
    if (!o || o->type != QN_JSON_OBJECT) o = root;
    quanta_status st = QUANTA_OK;
    const qn_json *arch = qn_json_get(root, "architectures");
    if (arch && arch->type == QN_JSON_ARRAY && arch->count && arch->items[0].type == QN_JSON_STRING)
        snprintf(c->architecture, sizeof c->architecture, "%s", arch->items[0].str);
#define TRY(x) \
    if (st == QUANTA_OK) st = (x)
    TRY(cfg_str(o, "model_type", c->model_type, sizeof c->model_type));
    if (!c->model_type[0]) TRY(cfg_str(root, "model_type", c->model_type, sizeof c->model_type));
    TRY(cfg_str(o, "hidden_act", c->hidden_act, sizeof c->hidden_act));
    TRY(cfg_str(o, "hidden_activation", c->hidden_act, sizeof c->hidden_act));
    TRY(cfg_int(o, "hidden_size", &c->hidden_size));
    TRY(cfg_int(o, "intermediate_size", &c->intermediate_size));
    TRY(cfg_int(o, "num_hidden_layers", &c->num_hidden_layers));
    TRY(cfg_int(o, "num_attention_heads", &c->num_attention_heads));
    TRY(cfg_int(o, "num_key_value_heads", &c->num_key_value_heads));
    TRY(cfg_int(o, "head_dim", &c->head_dim));
    TRY(cfg_int(o, "vocab_size", &c->vocab_size));
    TRY(cfg_int(o, "max_position_embeddings", &c->max_position_embeddings));
    TRY(cfg_int(o, "sliding_window", &c->sliding_window));
    TRY(cfg_int(o, "sliding_window_pattern", &c->sliding_window_pattern));
    TRY(cfg_int(o, "bos_token_id", &c->bos_token_id));
    TRY(cfg_int(o, "eos_token_id", &c->eos_token_id));
    TRY(cfg_int(o, "pad_token_id", &c->pad_token_id));
    if (c->bos_token_id < 0) TRY(cfg_int(root, "bos_token_id", &c->bos_token_id));
    if (c->eos_token_id < 0) TRY(cfg_int(root, "eos_token_id", &c->eos_token_id));
    TRY(cfg_num(o, "rms_norm_eps", &c->rms_norm_eps));
    TRY(cfg_num(o, "rope_theta", &c->rope_theta));
    TRY(cfg_num(o, "rope_local_base_freq", &c->rope_local_base_freq));
    TRY(cfg_num(o, "query_pre_attn_scalar", &c->query_pre_attn_scalar));
    TRY(cfg_num(o, "final_logit_softcapping", &c->final_logit_softcapping));
    TRY(cfg_num(o, "attn_logit_softcapping", &c->attn_logit_softcapping));
    TRY(cfg_bool(o, "attention_bias", &c->attention_bias));
    TRY(cfg_bool(o, "mlp_bias", &c->mlp_bias));
    TRY(cfg_bool(o, "tie_word_embeddings", &c->tie_word_embeddings));
    if (c->tie_word_embeddings < 0) TRY(cfg_bool(root, "tie_word_embeddings", &c->tie_word_embeddings));
    const qn_json *rs = qn_json_get(o, "rope_scaling");
    if (rs && rs->type == QN_JSON_OBJECT) {
        TRY(cfg_num(rs, "factor", &c->rope_scaling_factor));
        TRY(cfg_str(rs, "rope_type", c->rope_scaling_type, sizeof c->rope_scaling_type));
        if (!c->rope_scaling_type[0]) TRY(cfg_str(rs, "type", c->rope_scaling_type, sizeof c->rope_scaling_type));
    } else if (rs && rs->type != QN_JSON_NULL && st == QUANTA_OK) {
        st = qn_error_set(QUANTA_ERR_CORRUPT, "config.json: 'rope_scaling' is not an object");
    }
#undef TRY
    if (st != QUANTA_OK) return st;
    const struct { const char *key; int64_t v; } req[] = {
        { "hidden_size", c->hidden_size }, { "intermediate_size", c->intermediate_size },
        { "num_hidden_layers", c->num_hidden_layers }, { "num_attention_heads", c->num_attention_heads },
        { "vocab_size", c->vocab_size },
    };
    for (size_t i = 0; i < sizeof req / sizeof req[0]; i++)
        if (req[i].v <= 0)
            return qn_error_set(QUANTA_ERR_CORRUPT, "config.json: '%s' is missing or not positive", req[i].key);
    if (c->num_key_value_heads < 0) c->num_key_value_heads = c->num_attention_heads;
    if (c->head_dim < 0) c->head_dim = c->hidden_size / c->num_attention_heads;
    if (c->num_key_value_heads <= 0 || c->num_attention_heads % c->num_key_value_heads != 0 || c->head_dim <= 0)
        return qn_error_set(QUANTA_ERR_CORRUPT, "config.json: %lld attention heads, %lld kv heads, head_dim %lld are inconsistent",
                            (long long)c->num_attention_heads, (long long)c->num_key_value_heads, (long long)c->head_dim);
    return QUANTA_OK;
}

quanta_status qn_hf_config_parse(const char *json, size_t len, qn_hf_config *out) {
    if (!out) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_hf_config_parse: out is NULL");
    qn_hf_config c;
    memset(&c, 0, sizeof c);
    c.hidden_size = c.intermediate_size = c.num_hidden_layers = c.num_attention_heads = -1;
    c.num_key_value_heads = c.head_dim = c.vocab_size = c.max_position_embeddings = -1;
    c.sliding_window = c.sliding_window_pattern = c.bos_token_id = c.eos_token_id = c.pad_token_id = -1;
    c.rms_norm_eps = c.rope_theta = c.rope_local_base_freq = c.rope_scaling_factor = NAN;
    c.query_pre_attn_scalar = c.final_logit_softcapping = c.attn_logit_softcapping = NAN;
    c.tie_word_embeddings = c.attention_bias = c.mlp_bias = -1;
    qn_json *root;
    quanta_status st = qn_json_parse(json, len, 32, &root);
    if (st != QUANTA_OK) {
        char why[256];
        snprintf(why, sizeof why, "%s", quanta_last_error());
        return qn_error_set(QUANTA_ERR_CORRUPT, "config.json: %s", why);
    }
    st = read_config(root, &c);
    qn_json_free(root);
    if (st == QUANTA_OK) *out = c;
    return st;
}

quanta_status qn_hf_config_load(const char *path, qn_hf_config *out) {
    if (!path) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_hf_config_load: path is NULL");
    qn_mapped_file f;
    quanta_status st = qn_map_file(path, "qn_hf_config_load", &f);
    if (st != QUANTA_OK) return st;
    if (f.size > (16u << 20)) {
        qn_unmap_file(&f);
        return qn_error_set(QUANTA_ERR_CORRUPT, "qn_hf_config_load: '%s' is larger than 16 MiB", path);
    }
    st = qn_hf_config_parse((const char *)f.data, f.size, out);
    qn_unmap_file(&f);
    return st;
}
