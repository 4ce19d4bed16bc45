/* json.c — strict recursive-descent JSON parser with bounded depth (see json.h). */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "json.h"

typedef struct parser {
    const unsigned char *s;
    size_t n, pos;
    int max_depth;
} parser;

static quanta_status fail(const parser *p, const char *what) {
    return qn_error_set(QUANTA_ERR_CORRUPT, "json: %s at byte %zu", what, p->pos);
}

static void skip_ws(parser *p) {
    while (p->pos < p->n && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
        p->pos++;
}

static void free_value(qn_json *v) {
    if (!v) return;
    free(v->str);
    for (size_t i = 0; i < v->count; i++) {
        free_value(&v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
}

void qn_json_free(qn_json *v) {
    free_value(v);
    free(v);
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0. */
static size_t utf8_len(const unsigned char *s, size_t left) {
    unsigned c = s[0];
    size_t n;
    uint32_t cp;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) n = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) n = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) n = 4, cp = c & 0x07;
    else return 0;
    if (n > left) return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

static size_t put_utf8(char *o, uint32_t cp) {
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static int hex4(const unsigned char *s, uint32_t *v) {
    *v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = s[i];
        int d = c >= '0' && c <= '9' ? (int)(c - '0') : c >= 'a' && c <= 'f' ? (int)(c - 'a' + 10)
              : c >= 'A' && c <= 'F' ? (int)(c - 'A' + 10) : -1;
        if (d < 0) return 0;
        *v = *v * 16 + (uint32_t)d;
    }
    return 1;
}

/* p->pos is at the opening quote. */
static quanta_status parse_string(parser *p, char **out, size_t *out_len) {
    size_t start = ++p->pos, end = start;
    while (end < p->n && p->s[end] != '"') end += p->s[end] == '\\' ? 2 : 1; /* find the extent */
    if (end >= p->n) return fail(p, "unterminated string");
    char *o = malloc(end - start + 1), *w = o;
    if (!o) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "json: no memory for a string");
    while (p->pos < end) {
        unsigned c = p->s[p->pos];
        if (c < 0x20) {
            free(o);
            return fail(p, "control character in a string");
        }
        if (c != '\\') {
            size_t k = utf8_len(p->s + p->pos, end - p->pos);
            if (!k) {
                free(o);
                return fail(p, "invalid UTF-8 in a string");
            }
            memcpy(w, p->s + p->pos, k);
            w += k;
            p->pos += k;
            continue;
        }
        unsigned e = p->s[p->pos + 1]; /* end - pos >= 2 by the extent scan */
        p->pos += 2;
        switch (e) {
        case '"': *w++ = '"'; break;
        case '\\': *w++ = '\\'; break;
        case '/': *w++ = '/'; break;
        case 'b': *w++ = '\b'; break;
        case 'f': *w++ = '\f'; break;
        case 'n': *w++ = '\n'; break;
        case 'r': *w++ = '\r'; break;
        case 't': *w++ = '\t'; break;
        case 'u': {
            uint32_t cp, lo;
            if (end - p->pos < 4 || !hex4(p->s + p->pos, &cp)) {
                free(o);
                return fail(p, "bad \\u escape");
            }
            p->pos += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF) {
                free(o);
                return fail(p, "unpaired low surrogate");
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (end - p->pos < 6 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u' || !hex4(p->s + p->pos + 2, &lo) ||
                    lo < 0xDC00 || lo > 0xDFFF) {
                    free(o);
                    return fail(p, "unpaired high surrogate");
                }
                p->pos += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (cp == 0) {
                free(o);
                return fail(p, "\\u0000 in a string");
            }
            w += put_utf8(w, cp);
            break;
        }
        default:
            free(o);
            return fail(p, "bad escape");
        }
    }
    p->pos = end + 1;
    *w = '\0';
    *out = o;
    *out_len = (size_t)(w - o);
    return QUANTA_OK;
}

static quanta_status parse_number(parser *p, qn_json *v) {
    size_t start = p->pos;
    const unsigned char *s = p->s;
    int neg = 0, integer = 1, overflow = 0;
    uint64_t mag = 0;
    if (p->pos < p->n && s[p->pos] == '-') neg = 1, p->pos++;
    if (p->pos >= p->n || s[p->pos] < '0' || s[p->pos] > '9') return fail(p, "bad number");
    if (s[p->pos] == '0') {
        p->pos++;
        if (p->pos < p->n && s[p->pos] >= '0' && s[p->pos] <= '9') return fail(p, "leading zero in a number");
    } else {
        while (p->pos < p->n && s[p->pos] >= '0' && s[p->pos] <= '9') {
            unsigned d = s[p->pos++] - '0';
            if (mag > (UINT64_MAX - d) / 10) overflow = 1;
            else mag = mag * 10 + d;
        }
    }
    if (p->pos < p->n && s[p->pos] == '.') {
        integer = 0;
        p->pos++;
        if (p->pos >= p->n || s[p->pos] < '0' || s[p->pos] > '9') return fail(p, "bad fraction");
        while (p->pos < p->n && s[p->pos] >= '0' && s[p->pos] <= '9') p->pos++;
    }
    if (p->pos < p->n && (s[p->pos] == 'e' || s[p->pos] == 'E')) {
        integer = 0;
        p->pos++;
        if (p->pos < p->n && (s[p->pos] == '+' || s[p->pos] == '-')) p->pos++;
        if (p->pos >= p->n || s[p->pos] < '0' || s[p->pos] > '9') return fail(p, "bad exponent");
        while (p->pos < p->n && s[p->pos] >= '0' && s[p->pos] <= '9') p->pos++;
    }
    size_t len = p->pos - start;
    if (len > 400) return fail(p, "number literal too long");
    char buf[401];
    memcpy(buf, s + start, len);
    buf[len] = '\0';
    v->type = QN_JSON_NUMBER;
    v->number = strtod(buf, NULL);
    v->is_integer = integer && !overflow && (!neg || mag <= (uint64_t)INT64_MAX + 1);
    v->is_negative = neg && mag != 0;
    v->magnitude = mag;
    return QUANTA_OK;
}

static int cmp_keyp(const void *a, const void *b) { return strcmp(**(char *const *const *)a, **(char *const *const *)b); }

static quanta_status parse_value(parser *p, qn_json *v, int depth);

static quanta_status parse_container(parser *p, qn_json *v, int depth, int object) {
    if (depth >= p->max_depth) return fail(p, "nesting too deep");
    v->type = object ? QN_JSON_OBJECT : QN_JSON_ARRAY;
    p->pos++;
    skip_ws(p);
    size_t cap = 0;
    if (p->pos < p->n && p->s[p->pos] == (object ? '}' : ']')) {
        p->pos++;
        return QUANTA_OK;
    }
    for (;;) {
        if (v->count == cap) {
            size_t nc = cap ? cap * 2 : 8;
            qn_json *ni = realloc(v->items, nc * sizeof *ni);
            if (!ni) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "json: no memory");
            v->items = ni;
            if (object) {
                char **nk = realloc(v->keys, nc * sizeof *nk);
                if (!nk) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "json: no memory");
                v->keys = nk;
            }
            cap = nc;
        }
        qn_json *item = &v->items[v->count];
        memset(item, 0, sizeof *item);
        if (object) {
            v->keys[v->count] = NULL;
            skip_ws(p);
            if (p->pos >= p->n || p->s[p->pos] != '"') {
                v->count++; /* so the (empty) slot is freed */
                return fail(p, "expected a key string");
            }
            size_t kl;
            quanta_status st = parse_string(p, &v->keys[v->count], &kl);
            v->count++;
            if (st != QUANTA_OK) return st;
            skip_ws(p);
            if (p->pos >= p->n || p->s[p->pos] != ':') return fail(p, "expected ':'");
            p->pos++;
        } else {
            v->count++;
        }
        quanta_status st = parse_value(p, item, depth + 1);
        if (st != QUANTA_OK) return st;
        skip_ws(p);
        if (p->pos >= p->n) return fail(p, "unterminated container");
        unsigned c = p->s[p->pos++];
        if (c == (object ? '}' : ']')) break;
        if (c != ',') {
            p->pos--;
            return fail(p, "expected ',' or the end of the container");
        }
    }
    if (object && v->count > 1) { /* duplicate keys: sort pointers, compare neighbours */
        char ***idx = malloc(v->count * sizeof *idx);
        if (!idx) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "json: no memory");
        for (size_t i = 0; i < v->count; i++) idx[i] = &v->keys[i];
        qsort(idx, v->count, sizeof *idx, cmp_keyp);
        for (size_t i = 1; i < v->count; i++)
            if (!strcmp(*idx[i - 1], *idx[i])) {
                quanta_status st = qn_error_set(QUANTA_ERR_CORRUPT, "json: duplicate key '%.100s' in an object ending at byte %zu",
                                                *idx[i], p->pos);
                free(idx);
                return st;
            }
        free(idx);
    }
    return QUANTA_OK;
}

static int lit(parser *p, const char *w) {
    size_t k = strlen(w);
    if (p->n - p->pos < k || memcmp(p->s + p->pos, w, k)) return 0;
    p->pos += k;
    return 1;
}

static quanta_status parse_value(parser *p, qn_json *v, int depth) {
    skip_ws(p);
    if (p->pos >= p->n) return fail(p, "unexpected end of input");
    switch (p->s[p->pos]) {
    case '{': return parse_container(p, v, depth, 1);
    case '[': return parse_container(p, v, depth, 0);
    case '"':
        v->type = QN_JSON_STRING;
        return parse_string(p, &v->str, &v->str_len);
    case 't':
        if (!lit(p, "true")) return fail(p, "bad literal");
        v->type = QN_JSON_BOOL;
        v->boolean = 1;
        return QUANTA_OK;
    case 'f':
        if (!lit(p, "false")) return fail(p, "bad literal");
        v->type = QN_JSON_BOOL;
        return QUANTA_OK;
    case 'n':
        if (!lit(p, "null")) return fail(p, "bad literal");
        v->type = QN_JSON_NULL;
        return QUANTA_OK;
    default: return parse_number(p, v);
    }
}

quanta_status qn_json_parse(const char *text, size_t len, int max_depth, qn_json **out) {
    if (!out || (!text && len)) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_json_parse: NULL argument");
    *out = NULL;
    parser p = { (const unsigned char *)(text ? text : ""), len, 0, max_depth > 0 ? max_depth : QN_JSON_DEFAULT_DEPTH };
    qn_json *v = calloc(1, sizeof *v);
    if (!v) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "qn_json_parse: no memory");
    quanta_status st = parse_value(&p, v, 0);
    if (st == QUANTA_OK) {
        skip_ws(&p);
        if (p.pos != p.n) st = fail(&p, "trailing characters after the value");
    }
    if (st != QUANTA_OK) {
        qn_json_free(v);
        return st;
    }
    *out = v;
    return QUANTA_OK;
}

const qn_json *qn_json_get(const qn_json *v, const char *key) {
    if (!v || v->type != QN_JSON_OBJECT || !key) return NULL;
    for (size_t i = 0; i < v->count; i++)
        if (!strcmp(v->keys[i], key)) return &v->items[i];
    return NULL;
}

int qn_json_as_u64(const qn_json *v, uint64_t *out) {
    if (!v || v->type != QN_JSON_NUMBER || !v->is_integer || v->is_negative) return 0;
    *out = v->magnitude;
    return 1;
}

int qn_json_as_i64(const qn_json *v, int64_t *out) {
    if (!v || v->type != QN_JSON_NUMBER || !v->is_integer) return 0;
    if (v->is_negative) {
        if (v->magnitude > (uint64_t)INT64_MAX + 1) return 0;
        *out = v->magnitude == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v->magnitude;
    } else {
        if (v->magnitude > (uint64_t)INT64_MAX) return 0;
        *out = (int64_t)v->magnitude;
    }
    return 1;
}
