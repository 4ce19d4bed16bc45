/* gguf.c — GGUF reader for hostile input. Every count, length, offset and size is checked
 * against the bytes that remain before it is used or allocated for; all size arithmetic is
 * overflow-checked; nothing is exposed until the whole file has validated. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "formats.h"
#include "gguf_impl.h"
#include "mapfile.h"

typedef struct kv_entry {
    qn_gguf_str key;
    uint32_t type;
    uint32_t elem_type;    /* arrays */
    uint64_t count;        /* arrays */
    const uint8_t *val;    /* the value; for arrays the first element */
    uint64_t *str_offs;    /* arrays of strings: offset of each element from val */
} kv_entry;

typedef struct name_ref { /* for sorting names (duplicates, lookup) */
    const char *ptr;
    uint64_t len;
    uint64_t idx;
} name_ref;

struct qn_gguf {
    const uint8_t *base;
    size_t size;
    qn_mapped_file map;    /* empty for open_memory */
    uint32_t version;
    uint64_t n_kv;
    kv_entry *kv;
    name_ref *kv_sorted;
    uint64_t n_tensors;
    qn_gguf_tensor *tensors;
    name_ref *t_sorted;
    uint64_t alignment;
    uint64_t data_offset;
};

/* ------------------------------------------------------------------ cursor */

typedef struct cursor {
    const uint8_t *p;
    size_t size, pos;
} cursor;

#define NAME_FMT "%.*s"
#define NAME_ARG(s) (int)((s).len > 120 ? 120 : (s).len), (s).ptr

static quanta_status need(const cursor *c, uint64_t n, const char *what, qn_gguf_str ctx) {
    if (n > c->size - c->pos)
        return qn_error_set(QUANTA_ERR_CORRUPT, "gguf: truncated at byte %zu reading %s%s" NAME_FMT "%s (need %llu bytes, %zu left)",
                            c->pos, what, ctx.len ? " of '" : "", NAME_ARG(ctx), ctx.len ? "'" : "",
                            (unsigned long long)n, c->size - c->pos);
    return QUANTA_OK;
}

static quanta_status rd_u32(cursor *c, uint32_t *v, const char *what, qn_gguf_str ctx) {
    quanta_status st = need(c, 4, what, ctx);
    if (st != QUANTA_OK) return st;
    *v = qn_load_u32(c->p + c->pos);
    c->pos += 4;
    return QUANTA_OK;
}

static quanta_status rd_u64(cursor *c, uint64_t *v, const char *what, qn_gguf_str ctx) {
    quanta_status st = need(c, 8, what, ctx);
    if (st != QUANTA_OK) return st;
    *v = qn_load_u64(c->p + c->pos);
    c->pos += 8;
    return QUANTA_OK;
}

/* A GGUF string: u64 length then bytes (no terminator). */
static quanta_status rd_str(cursor *c, qn_gguf_str *s, uint64_t max_len, const char *what, qn_gguf_str ctx) {
    uint64_t len;
    quanta_status st = rd_u64(c, &len, what, ctx);
    if (st != QUANTA_OK) return st;
    if (len > max_len)
        return qn_error_set(QUANTA_ERR_CORRUPT, "gguf: %s%s" NAME_FMT "%s at byte %zu has length %llu (limit %llu)", what,
                            ctx.len ? " of '" : "", NAME_ARG(ctx), ctx.len ? "'" : "", c->pos - 8,
                            (unsigned long long)len, (unsigned long long)max_len);
    st = need(c, len, what, ctx);
    if (st != QUANTA_OK) return st;
    s->ptr = (const char *)(c->p + c->pos);
    s->len = len;
    c->pos += (size_t)len;
    return QUANTA_OK;
}

static const qn_gguf_str no_ctx = { "", 0 };

static size_t scalar_size(uint32_t t) {
    switch (t) {
    case QN_GGUF_UINT8: case QN_GGUF_INT8: case QN_GGUF_BOOL: return 1;
    case QN_GGUF_UINT16: case QN_GGUF_INT16: return 2;
    case QN_GGUF_UINT32: case QN_GGUF_INT32: case QN_GGUF_FLOAT32: return 4;
    case QN_GGUF_UINT64: case QN_GGUF_INT64: case QN_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

static const char *type_name(uint32_t t) {
    static const char *names[] = { "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
                                   "bool", "string", "array", "uint64", "int64", "float64" };
    return t < 13 ? names[t] : "unknown";
}

/* Validates (and steps over) one value of type t; arrays recurse up to a fixed depth. */
static quanta_status skip_value(cursor *c, uint32_t t, int depth, qn_gguf_str key) {
    size_t es = scalar_size(t);
    if (es) {
        quanta_status st = need(c, es, "a value", key);
        if (st != QUANTA_OK) return st;
        if (t == QN_GGUF_BOOL && c->p[c->pos] > 1)
            return qn_error_set(QUANTA_ERR_CORRUPT, "gguf: key '" NAME_FMT "': bool value %u is not 0 or 1",
                                NAME_ARG(key), c->p[c->pos]);
        c->pos += es;
        return QUANTA_OK;
    }
    if (t == QN_GGUF_STRING) {
        qn_gguf_str s;
        return rd_str(c, &s, UINT64_MAX, "a string value", key);
    }
    if (t != QN_GGUF_ARRAY)
        return qn_error_set(QUANTA_ERR_CORRUPT, "gguf: key '" NAME_FMT "': unknown value type %u", NAME_ARG(key), t);
    if (depth >= QN_GGUF_MAX_ARRAY_DEPTH)
        return qn_error_set(QUANTA_ERR_CORRUPT, "gguf: key '" NAME_FMT "': arrays nested deeper than %d",
                            NAME_ARG(key), QN_GGUF_MAX_ARRAY_DEPTH);
    uint32_t et;
    uint64_t n;
    quanta_status st = rd_u32(c, &et, "an array type", key);
    if (st == QUANTA_OK) st = rd_u64(c, &n, "an array length", key);
    if (st != QUANTA_OK) return st;
    es = scalar_size(et);
    const size_t left = c->size - c->pos;
    if (es) {
        if (n > left / es)
            return qn_error_set(QUANTA_ERR_CORRUPT, "gguf: key '" NAME_FMT "': array of %llu %s exceeds the %zu bytes left",
                                NAME_ARG(key), (unsigned long long)n, type_name(et), left);
        if (et == QN_GGUF_BOOL) {
            for (uint64_t i = 0; i < n; i++)
                if (c->p[c->pos + i] > 1)
                    return qn_error_set(QUANTA_ERR_CORRUPT, "gguf: key '" NAME_FMT "': bool element %llu is %u",
                                        NAME_ARG(key), (unsigned long long)i, c->p[c->pos + i]);
        }
        c->pos += (size_t)n * es;
        return QUANTA_OK;
    }
    if (et != QN_GGUF_STRING && et != QN_GGUF_ARRAY)
        return qn_error_set(QUANTA_ERR_CORRUPT, "gguf: key '" NAME_FMT "': unknown array element type %u",
                            NAME_ARG(key), et);
    /* Each string takes >= 8 bytes, each nested array >= 12: bounds the loop by the file. */
    const size_t min_elem = et == QN_GGUF_STRING ? 8 : 12;
    if (n > left / min_elem)
        return qn_error_set(QUANTA_ERR_CORRUPT, "gguf: key '" NAME_FMT "': array of %llu %s cannot fit in %zu bytes",
                            NAME_ARG(key), (unsigned long long)n, type_name(et), left);
    for (uint64_t i = 0; i < n; i++) {
        st = skip_value(c, et, depth + 1, key);
        if (st != QUANTA_OK) return st;
    }
    return QUANTA_OK;
}

static int str_cmp(const char *a, uint64_t al, const char *b, uint64_t bl) {
    int r = memcmp(a, b, (size_t)(al < bl ? al : bl));
    if (r) return r;
    return al < bl ? -1 : al > bl ? 1 : 0;
}

static int cmp_name_ref(const void *a, const void *b) {
    const name_ref *x = a, *y = b;
    return str_cmp(x->ptr, x->len, y->ptr, y->len);
}

/* Sorted copy of names; reports the first duplicate. */
static quanta_status sort_names(name_ref *refs, uint64_t n, const char *what) {
    if (n > 1) qsort(refs, (size_t)n, sizeof *refs, cmp_name_ref);
    for (uint64_t i = 1; i < n; i++)
        if (!cmp_name_ref(&refs[i - 1], &refs[i]))
            return qn_error_set(QUANTA_ERR_CORRUPT, "gguf: duplicate %s '%.*s'", what,
                                (int)(refs[i].len > 120 ? 120 : refs[i].len), refs[i].ptr);
    return QUANTA_OK;
}

static const name_ref *find_ref(const name_ref *refs, uint64_t n, const char *name) {
    size_t len = strlen(name);
    uint64_t lo = 0, hi = n;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        int r = str_cmp(refs[mid].ptr, refs[mid].len, name, len);
        if (!r) return &refs[mid];
        if (r < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

static int has_nul(qn_gguf_str s) { return memchr(s.ptr, 0, (size_t)s.len) != NULL; }

/* ------------------------------------------------------------------ parsing */

static quanta_status parse_kv(qn_gguf *g, cursor *c) {
    for (uint64_t i = 0; i < g->n_kv; i++) {
        kv_entry *e = &g->kv[i];
        quanta_status st = rd_str(c, &e->key, QN_GGUF_MAX_KEY_LEN, "a metadata key", no_ctx);
        if (st != QUANTA_OK) return st;
        if (e->key.len == 0 || has_nul(e->key))
            return qn_error_set(QUANTA_ERR_CORRUPT, "gguf: metadata key %llu is empty or contains a NUL byte",
                                (unsigned long long)i);
        st = rd_u32(c, &e->type, "the value type", e->key);
        if (st != QUANTA_OK) return st;
        if (e->type > QN_GGUF_FLOAT64)
            return qn_error_set(QUANTA_ERR_CORRUPT, "gguf: key '" NAME_FMT "': unknown value type %u", NAME_ARG(e->key),
                                e->type);
        size_t start = c->pos;
        st = skip_value(c, e->type, 0, e->key);
        if (st != QUANTA_OK) return st;
        e->val = c->p + start;
        if (e->type == QN_GGUF_ARRAY) {
            e->elem_type = qn_load_u32(e->val);
            e->count = qn_load_u64(e->val + 4);
            e->val += 12;
            if (e->elem_type == QN_GGUF_STRING && e->count) {
                /* validated above: count <= bytes left / 8, so this allocation is bounded */
                e->str_offs = malloc((size_t)e->count * sizeof *e->str_offs);
                if (!e->str_offs)
                    return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "gguf: key '" NAME_FMT "': no memory for %llu strings",
                                        NAME_ARG(e->key), (unsigned long long)e->count);
                uint64_t off = 0;
                for (uint64_t k = 0; k < e->count; k++) {
                    e->str_offs[k] = off;
                    off += 8 + qn_load_u64(e->val + off);
                }
            }
        }
        g->kv_sorted[i] = (name_ref){ e->key.ptr, e->key.len, i };
    }
    return sort_names(g->kv_sorted, g->n_kv, "metadata key");
}

static quanta_status read_alignment(qn_gguf *g) {
    g->alignment = QN_GGUF_DEFAULT_ALIGNMENT;
    const name_ref *r = find_ref(g->kv_sorted, g->n_kv, "general.alignment");
    if (!r) return QUANTA_OK;
    const kv_entry *e = &g->kv[r->idx];
    if (e->type != QN_GGUF_UINT32)
        return qn_error_set(QUANTA_ERR_CORRUPT, "gguf: key 'general.alignment' has type %s, expected uint32",
                            type_name(e->type));
    uint32_t a = qn_load_u32(e->val);
    if (a == 0 || (a & (a - 1)) != 0)
        return qn_error_set(QUANTA_ERR_CORRUPT, "gguf: key 'general.alignment' is %u, not a power of two", a);
    g->alignment = a;
    return QUANTA_OK;
}

typedef struct span { uint64_t off, end, idx; } span;

static int cmp_span(const void *a, const void *b) {
    const span *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off ? 1 : 0;
}

/* Size in the file of tensor t (checks that the type is known and the shape fits it). */
static quanta_status tensor_size(const qn_gguf_tensor *t, uint64_t *bytes) {
    quanta_status st = qn_gguf_type_bytes(t->type, t->ndim, t->dims, bytes);
    if (st == QUANTA_OK) return st;
    char why[256];
    snprintf(why, sizeof why, "%s", quanta_last_error());
    return qn_error_set(st == QUANTA_ERR_OVERFLOW ? QUANTA_ERR_CORRUPT : st, "gguf: tensor '" NAME_FMT "': %s",
                        NAME_ARG(t->name), why);
}

static quanta_status parse_tensors(qn_gguf *g, cursor *c) {
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        qn_gguf_tensor *t = &g->tensors[i];
        quanta_status st = rd_str(c, &t->name, QN_GGUF_MAX_NAME_LEN, "a tensor name", no_ctx);
        if (st != QUANTA_OK) return st;
        if (t->name.len == 0 || has_nul(t->name))
            return qn_error_set(QUANTA_ERR_CORRUPT, "gguf: tensor %llu has an empty name or one with a NUL byte",
                                (unsigned long long)i);
        uint32_t nd;
        st = rd_u32(c, &nd, "the dimension count", t->name);
        if (st != QUANTA_OK) return st;
        if (nd < 1 || nd > 4)
            return qn_error_set(QUANTA_ERR_CORRUPT, "gguf: tensor '" NAME_FMT "': %u dimensions (1 to 4 allowed)",
                                NAME_ARG(t->name), nd);
        t->ndim = (int32_t)nd;
        uint64_t elems = 1;
        for (uint32_t d = 0; d < nd; d++) {
            uint64_t v;
            st = rd_u64(c, &v, "a dimension", t->name);
            if (st != QUANTA_OK) return st;
            if (v == 0 || v > (uint64_t)INT64_MAX)
                return qn_error_set(QUANTA_ERR_CORRUPT, "gguf: tensor '" NAME_FMT "': dimension %u is %llu",
                                    NAME_ARG(t->name), d, (unsigned long long)v);
            if (v > (uint64_t)INT64_MAX / elems)
                return qn_error_set(QUANTA_ERR_CORRUPT, "gguf: tensor '" NAME_FMT "': element count overflows",
                                    NAME_ARG(t->name));
            elems *= v;
            t->dims[d] = (int64_t)v;
        }
        for (uint32_t d = nd; d < 4; d++) t->dims[d] = 1;
        st = rd_u32(c, &t->type, "the tensor type", t->name);
        if (st == QUANTA_OK) st = rd_u64(c, &t->offset, "the tensor offset", t->name);
        if (st == QUANTA_OK) st = tensor_size(t, &t->bytes);
        if (st != QUANTA_OK) return st;
        g->t_sorted[i] = (name_ref){ t->name.ptr, t->name.len, i };
    }
    return sort_names(g->t_sorted, g->n_tensors, "tensor name");
}

static quanta_status place_tensors(qn_gguf *g) {
    uint64_t data_len = g->size - g->data_offset;
    span *sp = g->n_tensors ? malloc((size_t)g->n_tensors * sizeof *sp) : NULL;
    if (g->n_tensors && !sp) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "gguf: no memory for the tensor table");
    quanta_status st = QUANTA_OK;
    for (uint64_t i = 0; i < g->n_tensors && st == QUANTA_OK; i++) {
        qn_gguf_tensor *t = &g->tensors[i];
        if (t->offset % g->alignment != 0)
            st = qn_error_set(QUANTA_ERR_CORRUPT, "gguf: tensor '" NAME_FMT "': offset %llu is not a multiple of the alignment %llu",
                              NAME_ARG(t->name), (unsigned long long)t->offset, (unsigned long long)g->alignment);
        else if (t->offset > data_len || t->bytes > data_len - t->offset)
            st = qn_error_set(QUANTA_ERR_CORRUPT, "gguf: tensor '" NAME_FMT "': bytes [%llu, +%llu) lie outside the %llu-byte data section",
                              NAME_ARG(t->name), (unsigned long long)t->offset, (unsigned long long)t->bytes,
                              (unsigned long long)data_len);
        else {
            t->data = g->base + g->data_offset + t->offset;
            sp[i] = (span){ t->offset, t->offset + t->bytes, i };
        }
    }
    if (st == QUANTA_OK && g->n_tensors > 1) {
        qsort(sp, (size_t)g->n_tensors, sizeof *sp, cmp_span);
        for (uint64_t i = 1; i < g->n_tensors; i++)
            if (sp[i].off < sp[i - 1].end) {
                const qn_gguf_tensor *a = &g->tensors[sp[i - 1].idx], *b = &g->tensors[sp[i].idx];
                st = qn_error_set(QUANTA_ERR_CORRUPT, "gguf: tensors '" NAME_FMT "' and '" NAME_FMT "' overlap",
                                  NAME_ARG(a->name), NAME_ARG(b->name));
                break;
            }
    }
    free(sp);
    return st;
}

static quanta_status parse(qn_gguf *g) {
    cursor c = { g->base, g->size, 0 };
    if (g->size < 4 || memcmp(g->base, "GGUF", 4) != 0)
        return qn_error_set(QUANTA_ERR_CORRUPT, "gguf: bad magic (not a GGUF file)");
    c.pos = 4;
    quanta_status st = rd_u32(&c, &g->version, "the version", no_ctx);
    if (st != QUANTA_OK) return st;
    if (g->version == 0x02000000u || g->version == 0x03000000u)
        return qn_error_set(QUANTA_ERR_CORRUPT, "gguf: big-endian GGUF files are not supported");
    if (g->version != 2 && g->version != 3)
        return qn_error_set(QUANTA_ERR_CORRUPT, "gguf: unsupported version %u (2 and 3 are read)", g->version);
    st = rd_u64(&c, &g->n_tensors, "the tensor count", no_ctx);
    if (st == QUANTA_OK) st = rd_u64(&c, &g->n_kv, "the metadata count", no_ctx);
    if (st != QUANTA_OK) return st;
    /* A key/value takes >= 14 bytes (8 length + 1 char + 4 type + 1 value), a tensor info
     * >= 33 (8 + 1 + 4 + 8 + 4 + 8): counts beyond that cannot be honest. */
    const size_t left = c.size - c.pos;
    if (g->n_kv > QN_GGUF_MAX_KV || g->n_kv > left / 14)
        return qn_error_set(QUANTA_ERR_CORRUPT, "gguf: metadata count %llu is absurd for a %zu-byte file",
                            (unsigned long long)g->n_kv, g->size);
    if (g->n_tensors > QN_GGUF_MAX_TENSORS || g->n_tensors > (left - 14 * g->n_kv) / 33)
        return qn_error_set(QUANTA_ERR_CORRUPT, "gguf: tensor count %llu is absurd for a %zu-byte file",
                            (unsigned long long)g->n_tensors, g->size);
    if (g->n_kv) {
        g->kv = calloc((size_t)g->n_kv, sizeof *g->kv);
        g->kv_sorted = calloc((size_t)g->n_kv, sizeof *g->kv_sorted);
        if (!g->kv || !g->kv_sorted) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "gguf: no memory for metadata");
    }
    if (g->n_tensors) {
        g->tensors = calloc((size_t)g->n_tensors, sizeof *g->tensors);
        g->t_sorted = calloc((size_t)g->n_tensors, sizeof *g->t_sorted);
        if (!g->tensors || !g->t_sorted) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "gguf: no memory for tensors");
    }
    st = parse_kv(g, &c);
    if (st == QUANTA_OK) st = read_alignment(g);
    if (st == QUANTA_OK) st = parse_tensors(g, &c);
    if (st != QUANTA_OK) return st;
    uint64_t pad = (g->alignment - c.pos % g->alignment) % g->alignment;
    if (pad > c.size - c.pos)
        return qn_error_set(QUANTA_ERR_CORRUPT, "gguf: truncated: the data section would start at byte %llu of %zu",
                            (unsigned long long)(c.pos + pad), c.size);
    g->data_offset = c.pos + pad;
    return place_tensors(g);
}

static quanta_status finish_open(qn_gguf *g, qn_gguf **out) {
    quanta_status st = parse(g);
    if (st != QUANTA_OK) {
        qn_gguf_close(g);
        return st;
    }
    *out = g;
    return QUANTA_OK;
}

quanta_status qn_gguf_open_memory(const void *data, size_t size, qn_gguf **out) {
    if (!out) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_gguf_open_memory: out is NULL");
    *out = NULL;
    if (!data && size) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_gguf_open_memory: data is NULL");
    qn_gguf *g = calloc(1, sizeof *g);
    if (!g) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "qn_gguf_open_memory: no memory");
    g->base = data ? data : (const uint8_t *)"";
    g->size = size;
    return finish_open(g, out);
}

quanta_status qn_gguf_open(const char *path, qn_gguf **out) {
    if (!out) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_gguf_open: out is NULL");
    *out = NULL;
    if (!path) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_gguf_open: path is NULL");
    qn_gguf *g = calloc(1, sizeof *g);
    if (!g) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "qn_gguf_open: no memory");
    quanta_status st = qn_map_file(path, "qn_gguf_open", &g->map);
    if (st != QUANTA_OK) {
        free(g);
        return st;
    }
    g->base = g->map.data;
    g->size = g->map.size;
    return finish_open(g, out);
}

void qn_gguf_close(qn_gguf *g) {
    if (!g) return;
    for (uint64_t i = 0; g->kv && i < g->n_kv; i++) free(g->kv[i].str_offs);
    free(g->kv);
    free(g->kv_sorted);
    free(g->tensors);
    free(g->t_sorted);
    qn_unmap_file(&g->map);
    free(g);
}

/* ------------------------------------------------------------------ queries */

uint32_t qn_gguf_version(const qn_gguf *g) { return g ? g->version : 0; }
uint64_t qn_gguf_kv_count(const qn_gguf *g) { return g ? g->n_kv : 0; }
uint64_t qn_gguf_tensor_count(const qn_gguf *g) { return g ? g->n_tensors : 0; }
uint64_t qn_gguf_data_offset(const qn_gguf *g) { return g ? g->data_offset : 0; }
uint64_t qn_gguf_alignment(const qn_gguf *g) { return g ? g->alignment : 0; }

const qn_gguf_tensor *qn_gguf_tensor_at(const qn_gguf *g, uint64_t i) {
    return g && i < g->n_tensors ? &g->tensors[i] : NULL;
}

const qn_gguf_tensor *qn_gguf_find_tensor(const qn_gguf *g, const char *name) {
    if (!g || !name) return NULL;
    const name_ref *r = find_ref(g->t_sorted, g->n_tensors, name);
    return r ? &g->tensors[r->idx] : NULL;
}

quanta_status qn_gguf_kv_at(const qn_gguf *g, uint64_t i, qn_gguf_str *key, qn_gguf_type *type) {
    if (!g || i >= g->n_kv)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_gguf_kv_at: index %llu out of range",
                            (unsigned long long)i);
    if (key) *key = g->kv[i].key;
    if (type) *type = (qn_gguf_type)g->kv[i].type;
    return QUANTA_OK;
}

int qn_gguf_has(const qn_gguf *g, const char *key) {
    return g && key && find_ref(g->kv_sorted, g->n_kv, key) != NULL;
}

static quanta_status lookup(const qn_gguf *g, const char *key, const kv_entry **e, const char *fn) {
    if (!g || !key) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: g or key is NULL", fn);
    const name_ref *r = find_ref(g->kv_sorted, g->n_kv, key);
    if (!r) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: key '%s' is absent", fn, key);
    *e = &g->kv[r->idx];
    return QUANTA_OK;
}

/* Reads a scalar numeric value as exact integer (or double) from its stored type. */
static int scalar_int(uint32_t t, const uint8_t *p, int64_t *si, uint64_t *ui, int *is_unsigned) {
    switch (t) {
    case QN_GGUF_UINT8: *ui = p[0]; *is_unsigned = 1; return 1;
    case QN_GGUF_UINT16: *ui = qn_load_u16(p); *is_unsigned = 1; return 1;
    case QN_GGUF_UINT32: *ui = qn_load_u32(p); *is_unsigned = 1; return 1;
    case QN_GGUF_UINT64: *ui = qn_load_u64(p); *is_unsigned = 1; return 1;
    case QN_GGUF_INT8: *si = (int8_t)p[0]; *is_unsigned = 0; return 1;
    case QN_GGUF_INT16: *si = (int16_t)qn_load_u16(p); *is_unsigned = 0; return 1;
    case QN_GGUF_INT32: *si = (int32_t)qn_load_u32(p); *is_unsigned = 0; return 1;
    case QN_GGUF_INT64: *si = (int64_t)qn_load_u64(p); *is_unsigned = 0; return 1;
    default: return 0;
    }
}

static int scalar_f64(uint32_t t, const uint8_t *p, double *out) {
    int64_t si;
    uint64_t ui;
    int uns;
    if (scalar_int(t, p, &si, &ui, &uns)) {
        *out = uns ? (double)ui : (double)si;
        return 1;
    }
    if (t == QN_GGUF_FLOAT32) *out = qn_load_f32(p);
    else if (t == QN_GGUF_FLOAT64) *out = qn_load_f64(p);
    else if (t == QN_GGUF_BOOL) *out = p[0];
    else return 0;
    return 1;
}

quanta_status qn_gguf_get_u64(const qn_gguf *g, const char *key, uint64_t *out) {
    const kv_entry *e = NULL;
    quanta_status st = lookup(g, key, &e, "qn_gguf_get_u64");
    if (st != QUANTA_OK) return st;
    int64_t si;
    uint64_t ui;
    int uns;
    if (!out) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_gguf_get_u64: out is NULL");
    if (!scalar_int(e->type, e->val, &si, &ui, &uns))
        return qn_error_set(QUANTA_ERR_CORRUPT, "gguf: key '%s' has type %s, expected an integer", key, type_name(e->type));
    if (!uns && si < 0) return qn_error_set(QUANTA_ERR_CORRUPT, "gguf: key '%s' is negative (%lld)", key, (long long)si);
    *out = uns ? ui : (uint64_t)si;
    return QUANTA_OK;
}

quanta_status qn_gguf_get_i64(const qn_gguf *g, const char *key, int64_t *out) {
    const kv_entry *e = NULL;
    quanta_status st = lookup(g, key, &e, "qn_gguf_get_i64");
    if (st != QUANTA_OK) return st;
    int64_t si;
    uint64_t ui;
    int uns;
    if (!out) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_gguf_get_i64: out is NULL");
    if (!scalar_int(e->type, e->val, &si, &ui, &uns))
        return qn_error_set(QUANTA_ERR_CORRUPT, "gguf: key '%s' has type %s, expected an integer", key, type_name(e->type));
    if (uns && ui > (uint64_t)INT64_MAX)
        return qn_error_set(QUANTA_ERR_CORRUPT, "gguf: key '%s' (%llu) does not fit int64", key, (unsigned long long)ui);
    *out = uns ? (int64_t)ui : si;
    return QUANTA_OK;
}

quanta_status qn_gguf_get_f32(const qn_gguf *g, const char *key, float *out) {
    const kv_entry *e = NULL;
    quanta_status st = lookup(g, key, &e, "qn_gguf_get_f32");
    if (st != QUANTA_OK) return st;
    double d;
    if (!out) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_gguf_get_f32: out is NULL");
    if (e->type == QN_GGUF_BOOL || !scalar_f64(e->type, e->val, &d))
        return qn_error_set(QUANTA_ERR_CORRUPT, "gguf: key '%s' has type %s, expected a number", key, type_name(e->type));
    *out = e->type == QN_GGUF_FLOAT32 ? qn_load_f32(e->val) : (float)d;
    return QUANTA_OK;
}

quanta_status qn_gguf_get_bool(const qn_gguf *g, const char *key, int *out) {
    const kv_entry *e = NULL;
    quanta_status st = lookup(g, key, &e, "qn_gguf_get_bool");
    if (st != QUANTA_OK) return st;
    if (!out) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_gguf_get_bool: out is NULL");
    if (e->type != QN_GGUF_BOOL)
        return qn_error_set(QUANTA_ERR_CORRUPT, "gguf: key '%s' has type %s, expected bool", key, type_name(e->type));
    *out = e->val[0] != 0;
    return QUANTA_OK;
}

quanta_status qn_gguf_get_str(const qn_gguf *g, const char *key, qn_gguf_str *out) {
    const kv_entry *e = NULL;
    quanta_status st = lookup(g, key, &e, "qn_gguf_get_str");
    if (st != QUANTA_OK) return st;
    if (!out) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_gguf_get_str: out is NULL");
    if (e->type != QN_GGUF_STRING)
        return qn_error_set(QUANTA_ERR_CORRUPT, "gguf: key '%s' has type %s, expected string", key, type_name(e->type));
    out->len = qn_load_u64(e->val);
    out->ptr = (const char *)e->val + 8;
    return QUANTA_OK;
}

quanta_status qn_gguf_get_arr(const qn_gguf *g, const char *key, qn_gguf_type *elem, uint64_t *count) {
    const kv_entry *e = NULL;
    quanta_status st = lookup(g, key, &e, "qn_gguf_get_arr");
    if (st != QUANTA_OK) return st;
    if (e->type != QN_GGUF_ARRAY)
        return qn_error_set(QUANTA_ERR_CORRUPT, "gguf: key '%s' has type %s, expected array", key, type_name(e->type));
    if (elem) *elem = (qn_gguf_type)e->elem_type;
    if (count) *count = e->count;
    return QUANTA_OK;
}

static quanta_status arr_elem(const qn_gguf *g, const char *key, uint64_t i, const kv_entry **e, const char *fn) {
    quanta_status st = lookup(g, key, e, fn);
    if (st != QUANTA_OK) return st;
    if ((*e)->type != QN_GGUF_ARRAY)
        return qn_error_set(QUANTA_ERR_CORRUPT, "gguf: key '%s' has type %s, expected array", key,
                            type_name((*e)->type));
    if (i >= (*e)->count)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: index %llu beyond the %llu elements of '%s'", fn,
                            (unsigned long long)i, (unsigned long long)(*e)->count, key);
    return QUANTA_OK;
}

quanta_status qn_gguf_get_arr_f64(const qn_gguf *g, const char *key, uint64_t i, double *out) {
    const kv_entry *e = NULL;
    quanta_status st = arr_elem(g, key, i, &e, "qn_gguf_get_arr_f64");
    if (st != QUANTA_OK) return st;
    size_t es = scalar_size(e->elem_type);
    if (!out) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_gguf_get_arr_f64: out is NULL");
    if (!es || !scalar_f64(e->elem_type, e->val + i * es, out))
        return qn_error_set(QUANTA_ERR_CORRUPT, "gguf: array '%s' holds %s, not numbers", key, type_name(e->elem_type));
    return QUANTA_OK;
}

quanta_status qn_gguf_get_arr_str(const qn_gguf *g, const char *key, uint64_t i, qn_gguf_str *out) {
    const kv_entry *e = NULL;
    quanta_status st = arr_elem(g, key, i, &e, "qn_gguf_get_arr_str");
    if (st != QUANTA_OK) return st;
    if (!out) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_gguf_get_arr_str: out is NULL");
    if (e->elem_type != QN_GGUF_STRING)
        return qn_error_set(QUANTA_ERR_CORRUPT, "gguf: array '%s' holds %s, not strings", key, type_name(e->elem_type));
    const uint8_t *p = e->val + e->str_offs[i];
    out->len = qn_load_u64(p);
    out->ptr = (const char *)p + 8;
    return QUANTA_OK;
}

/* The value bytes of key i exactly as stored (type field excluded), for copying. */
quanta_status qn_gguf_kv_raw(const qn_gguf *g, uint64_t i, const uint8_t **val, uint32_t *type, size_t *val_len) {
    if (!g || i >= g->n_kv)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_gguf_kv_raw: index %llu out of range", (unsigned long long)i);
    const kv_entry *e = &g->kv[i];
    const uint8_t *start = e->type == QN_GGUF_ARRAY ? e->val - 12 : e->val;
    cursor c = { g->base, g->size, (size_t)(start - g->base) };
    quanta_status st = skip_value(&c, e->type, 0, e->key); /* already validated: re-walk for the length */
    if (st != QUANTA_OK) return st;
    *val = start;
    *type = e->type;
    *val_len = c.pos - (size_t)(start - g->base);
    return QUANTA_OK;
}
