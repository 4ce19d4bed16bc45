/* gguf_write.c — GGUF v3 writer: metadata key/values (set, or copied verbatim from an opened
 * file), tensor infos and data, every tensor aligned to `general.alignment` (default 32).
 * Everything is validated when added, so writing cannot produce a file our reader rejects.
 * Files are written to a fresh temporary file next to PATH and renamed into place
 * (safe_write.h), so a failed write never leaves a truncated model behind, a planted symlink is
 * never followed, and writing over an mmap'd input does not pull the pages away. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "gguf_impl.h"
#include "safe_write.h"

typedef struct wkv {
    char *key;
    uint32_t type;
    uint8_t *val; /* serialised value (after the type field) */
    size_t val_len;
} wkv;

typedef struct wtensor {
    char *name;
    int32_t ndim;
    int64_t dims[4];
    uint32_t type;
    const void *data;
    void *owned;
    uint64_t bytes;
    uint64_t offset;
} wtensor;

struct qn_gguf_writer {
    wkv *kv;
    size_t n_kv, cap_kv;
    wtensor *t;
    size_t n_t, cap_t;
    uint32_t alignment;
};

quanta_status qn_gguf_writer_create(qn_gguf_writer **out) {
    if (!out) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_gguf_writer_create: out is NULL");
    *out = calloc(1, sizeof **out);
    if (!*out) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "qn_gguf_writer_create: no memory");
    (*out)->alignment = QN_GGUF_DEFAULT_ALIGNMENT;
    return QUANTA_OK;
}

void qn_gguf_writer_destroy(qn_gguf_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        free(w->kv[i].val);
    }
    for (size_t i = 0; i < w->n_t; i++) {
        free(w->t[i].name);
        free(w->t[i].owned);
    }
    free(w->kv);
    free(w->t);
    free(w);
}

static char *dup_str(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* Takes ownership of val (freed on failure too). */
static quanta_status put_kv(qn_gguf_writer *w, const char *fn, const char *key, uint32_t type, uint8_t *val,
                            size_t val_len) {
    quanta_status st = QUANTA_OK;
    size_t klen = key ? strlen(key) : 0;
    if (!w || !key) st = qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: writer or key is NULL", fn);
    else if (klen == 0 || klen > QN_GGUF_MAX_KEY_LEN)
        st = qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: key length %zu (1 to %u)", fn, klen, QN_GGUF_MAX_KEY_LEN);
    else if (!val && val_len) st = qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "%s: no memory for key '%s'", fn, key);
    else if (!strcmp(key, "general.alignment")) {
        uint32_t a = type == QN_GGUF_UINT32 ? qn_load_u32(val) : 0;
        if (type != QN_GGUF_UINT32 || a == 0 || (a & (a - 1)))
            st = qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: general.alignment must be a uint32 power of two", fn);
        else
            w->alignment = a;
    }
    if (st != QUANTA_OK) {
        free(val);
        return st;
    }
    for (size_t i = 0; i < w->n_kv; i++)
        if (!strcmp(w->kv[i].key, key)) { /* replace */
            free(w->kv[i].val);
            w->kv[i].type = type;
            w->kv[i].val = val;
            w->kv[i].val_len = val_len;
            return QUANTA_OK;
        }
    if (w->n_kv == w->cap_kv) {
        size_t nc = w->cap_kv ? w->cap_kv * 2 : 16;
        wkv *nk = realloc(w->kv, nc * sizeof *nk);
        if (!nk) {
            free(val);
            return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "%s: no memory", fn);
        }
        w->kv = nk;
        w->cap_kv = nc;
    }
    char *k = dup_str(key, klen);
    if (!k) {
        free(val);
        return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "%s: no memory", fn);
    }
    w->kv[w->n_kv++] = (wkv){ k, type, val, val_len };
    return QUANTA_OK;
}

static quanta_status put_scalar(qn_gguf_writer *w, const char *fn, const char *key, uint32_t type, uint64_t bits,
                                size_t n) {
    uint8_t *v = malloc(8);
    if (v) qn_store_u64(v, bits);
    return put_kv(w, fn, key, type, v, n);
}

quanta_status qn_gguf_writer_set_u32(qn_gguf_writer *w, const char *key, uint32_t v) {
    return put_scalar(w, "qn_gguf_writer_set_u32", key, QN_GGUF_UINT32, v, 4);
}
quanta_status qn_gguf_writer_set_i32(qn_gguf_writer *w, const char *key, int32_t v) {
    return put_scalar(w, "qn_gguf_writer_set_i32", key, QN_GGUF_INT32, (uint32_t)v, 4);
}
quanta_status qn_gguf_writer_set_u64(qn_gguf_writer *w, const char *key, uint64_t v) {
    return put_scalar(w, "qn_gguf_writer_set_u64", key, QN_GGUF_UINT64, v, 8);
}
quanta_status qn_gguf_writer_set_f32(qn_gguf_writer *w, const char *key, float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    return put_scalar(w, "qn_gguf_writer_set_f32", key, QN_GGUF_FLOAT32, u, 4);
}
quanta_status qn_gguf_writer_set_bool(qn_gguf_writer *w, const char *key, int v) {
    return put_scalar(w, "qn_gguf_writer_set_bool", key, QN_GGUF_BOOL, v ? 1 : 0, 1);
}

quanta_status qn_gguf_writer_set_str(qn_gguf_writer *w, const char *key, const char *v) {
    if (!v) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_gguf_writer_set_str: value of '%s' is NULL", key ? key : "?");
    size_t n = strlen(v);
    uint8_t *b = n <= SIZE_MAX - 8 ? malloc(8 + n) : NULL;
    if (b) {
        qn_store_u64(b, n);
        memcpy(b + 8, v, n);
    }
    return put_kv(w, "qn_gguf_writer_set_str", key, QN_GGUF_STRING, b, 8 + n);
}

static quanta_status put_array(qn_gguf_writer *w, const char *fn, const char *key, uint32_t et, const void *v,
                               uint64_t count, size_t es) {
    size_t n;
    if (!v && count) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: values of '%s' are NULL", fn, key ? key : "?");
    if (!qn_mul_size((size_t)count, es, &n) || !qn_add_size(n, 12, &n) || count > SIZE_MAX)
        return qn_error_set(QUANTA_ERR_OVERFLOW, "%s: array '%s' is too large", fn, key ? key : "?");
    uint8_t *b = malloc(n);
    if (b) {
        qn_store_u32(b, et);
        qn_store_u64(b + 4, count);
        const uint8_t *src = v;
        for (uint64_t i = 0; i < count; i++) { /* little-endian regardless of host */
            uint32_t u;
            memcpy(&u, src + i * 4, 4);
            qn_store_u32(b + 12 + i * 4, u);
        }
    }
    return put_kv(w, fn, key, QN_GGUF_ARRAY, b, n);
}

quanta_status qn_gguf_writer_set_arr_f32(qn_gguf_writer *w, const char *key, const float *v, uint64_t count) {
    return put_array(w, "qn_gguf_writer_set_arr_f32", key, QN_GGUF_FLOAT32, v, count, 4);
}
quanta_status qn_gguf_writer_set_arr_i32(qn_gguf_writer *w, const char *key, const int32_t *v, uint64_t count) {
    return put_array(w, "qn_gguf_writer_set_arr_i32", key, QN_GGUF_INT32, v, count, 4);
}

quanta_status qn_gguf_writer_set_arr_str(qn_gguf_writer *w, const char *key, const char *const *v, uint64_t count) {
    const char *fn = "qn_gguf_writer_set_arr_str";
    if (!v && count) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: values of '%s' are NULL", fn, key ? key : "?");
    size_t total = 12;
    for (uint64_t i = 0; i < count; i++) {
        if (!v[i])
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: element %llu of '%s' is NULL", fn,
                                (unsigned long long)i, key ? key : "?");
        if (!qn_add_size(total, 8, &total) || !qn_add_size(total, strlen(v[i]), &total))
            return qn_error_set(QUANTA_ERR_OVERFLOW, "%s: array '%s' is too large", fn, key ? key : "?");
    }
    uint8_t *b = malloc(total);
    if (b) {
        qn_store_u32(b, QN_GGUF_STRING);
        qn_store_u64(b + 4, count);
        size_t p = 12;
        for (uint64_t i = 0; i < count; i++) {
            size_t n = strlen(v[i]);
            qn_store_u64(b + p, n);
            memcpy(b + p + 8, v[i], n);
            p += 8 + n;
        }
    }
    return put_kv(w, fn, key, QN_GGUF_ARRAY, b, total);
}

quanta_status qn_gguf_writer_copy_kv(qn_gguf_writer *w, const qn_gguf *src, uint64_t i) {
    const uint8_t *val;
    uint32_t type;
    size_t len;
    qn_gguf_str key;
    quanta_status st = qn_gguf_kv_at(src, i, &key, NULL);
    if (st == QUANTA_OK) st = qn_gguf_kv_raw(src, i, &val, &type, &len);
    if (st != QUANTA_OK) return st;
    char *k = dup_str(key.ptr, (size_t)key.len); /* validated: no NUL inside */
    uint8_t *b = malloc(len ? len : 1);
    if (!k || !b) {
        free(k);
        free(b);
        return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "qn_gguf_writer_copy_kv: no memory");
    }
    memcpy(b, val, len);
    st = put_kv(w, "qn_gguf_writer_copy_kv", k, type, b, len);
    free(k);
    return st;
}

static quanta_status add_tensor(qn_gguf_writer *w, const char *fn, const char *name, int32_t ndim,
                                const int64_t *dims, uint32_t type, const void *data, uint64_t bytes, int copy) {
    if (!w || !name || !dims || (!data && bytes))
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: NULL argument", fn);
    size_t nlen = strlen(name);
    if (nlen == 0 || nlen > QN_GGUF_MAX_NAME_LEN)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: tensor name length %zu (1 to %u)", fn, nlen,
                            QN_GGUF_MAX_NAME_LEN);
    if (ndim < 1 || ndim > 4)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: tensor '%s' has %d dims (1 to 4)", fn, name, (int)ndim);
    for (size_t i = 0; i < w->n_t; i++)
        if (!strcmp(w->t[i].name, name))
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: duplicate tensor name '%s'", fn, name);
    uint64_t expect;
    quanta_status st = qn_gguf_type_bytes(type, ndim, dims, &expect);
    if (st != QUANTA_OK) {
        char why[256];
        snprintf(why, sizeof why, "%s", quanta_last_error());
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: tensor '%s': %s", fn, name, why);
    }
    if (expect != bytes)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: tensor '%s' of type %s needs %llu bytes, got %llu", fn,
                            name, qn_ggml_type_name(type), (unsigned long long)expect, (unsigned long long)bytes);
    if (bytes > SIZE_MAX) return qn_error_set(QUANTA_ERR_OVERFLOW, "%s: tensor '%s' is too large", fn, name);
    if (w->n_t == w->cap_t) {
        size_t nc = w->cap_t ? w->cap_t * 2 : 64;
        wtensor *nt = realloc(w->t, nc * sizeof *nt);
        if (!nt) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "%s: no memory", fn);
        w->t = nt;
        w->cap_t = nc;
    }
    wtensor t;
    memset(&t, 0, sizeof t);
    t.name = dup_str(name, nlen);
    if (copy && bytes) {
        t.owned = malloc((size_t)bytes);
        if (t.owned) memcpy(t.owned, data, (size_t)bytes);
    }
    if (!t.name || (copy && bytes && !t.owned)) {
        free(t.name);
        free(t.owned);
        return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "%s: no memory for tensor '%s'", fn, name);
    }
    t.data = t.owned ? t.owned : data;
    t.ndim = ndim;
    for (int i = 0; i < 4; i++) t.dims[i] = i < ndim ? dims[i] : 1;
    t.type = type;
    t.bytes = bytes;
    w->t[w->n_t++] = t;
    return QUANTA_OK;
}

quanta_status qn_gguf_writer_add_tensor(qn_gguf_writer *w, const char *name, int32_t ndim, const int64_t *dims,
                                        uint32_t type, const void *data, uint64_t bytes) {
    return add_tensor(w, "qn_gguf_writer_add_tensor", name, ndim, dims, type, data, bytes, 1);
}

quanta_status qn_gguf_writer_add_tensor_ref(qn_gguf_writer *w, const char *name, int32_t ndim, const int64_t *dims,
                                            uint32_t type, const void *data, uint64_t bytes) {
    return add_tensor(w, "qn_gguf_writer_add_tensor_ref", name, ndim, dims, type, data, bytes, 0);
}

/* ------------------------------------------------------------- serialising */

/* Header + metadata + tensor infos + padding, built in memory; tensor offsets assigned. */
static quanta_status build_head(qn_gguf_writer *w, uint8_t **out, size_t *len, uint64_t *data_len) {
    size_t n = 24;
    int ok = 1;
    for (size_t i = 0; i < w->n_kv && ok; i++)
        ok = qn_add_size(n, 12 + strlen(w->kv[i].key), &n) && qn_add_size(n, w->kv[i].val_len, &n);
    uint64_t off = 0;
    for (size_t i = 0; i < w->n_t && ok; i++) {
        ok = qn_add_size(n, 8 + strlen(w->t[i].name) + 4 + 8 * (size_t)w->t[i].ndim + 4 + 8, &n);
        uint64_t pad = (w->alignment - off % w->alignment) % w->alignment;
        ok = ok && off <= UINT64_MAX - pad && off + pad <= UINT64_MAX - w->t[i].bytes;
        if (ok) {
            off += pad;
            w->t[i].offset = off;
            off += w->t[i].bytes;
        }
    }
    size_t pad = (w->alignment - n % w->alignment) % w->alignment;
    if (!ok || !qn_add_size(n, pad, &n)) return qn_error_set(QUANTA_ERR_OVERFLOW, "gguf writer: file size overflows");
    uint8_t *b = calloc(1, n);
    if (!b) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "gguf writer: no memory for the header");
    memcpy(b, "GGUF", 4);
    qn_store_u32(b + 4, 3);
    qn_store_u64(b + 8, w->n_t);
    qn_store_u64(b + 16, w->n_kv);
    size_t p = 24;
    for (size_t i = 0; i < w->n_kv; i++) {
        size_t kl = strlen(w->kv[i].key);
        qn_store_u64(b + p, kl);
        memcpy(b + p + 8, w->kv[i].key, kl);
        p += 8 + kl;
        qn_store_u32(b + p, w->kv[i].type);
        p += 4;
        if (w->kv[i].val_len) memcpy(b + p, w->kv[i].val, w->kv[i].val_len);
        p += w->kv[i].val_len;
    }
    for (size_t i = 0; i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        size_t nl = strlen(t->name);
        qn_store_u64(b + p, nl);
        memcpy(b + p + 8, t->name, nl);
        p += 8 + nl;
        qn_store_u32(b + p, (uint32_t)t->ndim);
        p += 4;
        for (int d = 0; d < t->ndim; d++, p += 8) qn_store_u64(b + p, (uint64_t)t->dims[d]);
        qn_store_u32(b + p, t->type);
        qn_store_u64(b + p + 4, t->offset);
        p += 12;
    }
    *out = b;
    *len = n;
    *data_len = off;
    return QUANTA_OK;
}

quanta_status qn_gguf_writer_write_memory(qn_gguf_writer *w, void **data, size_t *size) {
    if (!w || !data || !size) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_gguf_writer_write_memory: NULL argument");
    uint8_t *head;
    size_t hl, total;
    uint64_t dl;
    quanta_status st = build_head(w, &head, &hl, &dl);
    if (st != QUANTA_OK) return st;
    if (dl > SIZE_MAX || !qn_add_size(hl, (size_t)dl, &total)) {
        free(head);
        return qn_error_set(QUANTA_ERR_OVERFLOW, "qn_gguf_writer_write_memory: image too large");
    }
    uint8_t *b = realloc(head, total ? total : 1);
    if (!b) {
        free(head);
        return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "qn_gguf_writer_write_memory: no memory for %zu bytes", total);
    }
    memset(b + hl, 0, total - hl);
    for (size_t i = 0; i < w->n_t; i++)
        if (w->t[i].bytes) memcpy(b + hl + w->t[i].offset, w->t[i].data, (size_t)w->t[i].bytes);
    *data = b;
    *size = total;
    return QUANTA_OK;
}

static int write_zeros(FILE *f, uint64_t n) {
    static const uint8_t z[256];
    while (n) {
        size_t k = n > sizeof z ? sizeof z : (size_t)n;
        if (fwrite(z, 1, k, f) != k) return 0;
        n -= k;
    }
    return 1;
}

quanta_status qn_gguf_writer_write(qn_gguf_writer *w, const char *path) {
    return qn_gguf_writer_write_safe(w, path, NULL, 0);
}

quanta_status qn_gguf_writer_write_safe(qn_gguf_writer *w, const char *path, char *publish, size_t publish_cap) {
    if (!w || !path) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_gguf_writer_write: NULL argument");
    uint8_t *head;
    size_t hl;
    uint64_t dl;
    quanta_status st = build_head(w, &head, &hl, &dl);
    if (st != QUANTA_OK) return st;
    qn_safe_file sf;
    if ((st = qn_safe_file_open(path, publish, publish_cap, &sf)) != QUANTA_OK) {
        free(head);
        return st;
    }
    int ok = fwrite(head, 1, hl, sf.f) == hl;
    uint64_t pos = 0;
    for (size_t i = 0; i < w->n_t && ok; i++) {
        ok = write_zeros(sf.f, w->t[i].offset - pos) &&
             (w->t[i].bytes == 0 || fwrite(w->t[i].data, 1, (size_t)w->t[i].bytes, sf.f) == w->t[i].bytes);
        pos = w->t[i].offset + w->t[i].bytes;
    }
    int err = errno;
    free(head);
    if (!ok) {
        st = qn_error_set(QUANTA_ERR_IO, "qn_gguf_writer_write: writing '%s' failed: %s", path, strerror(err));
        qn_safe_file_abort(&sf);
        return st;
    }
    return qn_safe_file_commit(&sf);
}
