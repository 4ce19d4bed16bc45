/*
 * json.h — a small, strict JSON parser (RFC 8259) for safetensors headers and Hugging Face
 * config.json files, which come from untrusted sources. Strict: no comments, trailing commas,
 * NaN/Infinity, leading zeros or control characters in strings; strings must be valid UTF-8
 * with paired surrogates and may not contain NUL (\u0000), so every string is a C string;
 * duplicate object keys and nesting beyond max_depth are errors. Failures are
 * QUANTA_ERR_CORRUPT naming the byte offset.
 */
#ifndef QUANTA_FORMATS_JSON_H
#define QUANTA_FORMATS_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "quanta.h"

#define QN_JSON_DEFAULT_DEPTH 64

typedef enum qn_json_type {
    QN_JSON_NULL, QN_JSON_BOOL, QN_JSON_NUMBER, QN_JSON_STRING, QN_JSON_ARRAY, QN_JSON_OBJECT
} qn_json_type;

typedef struct qn_json qn_json;
struct qn_json {
    qn_json_type type;
    int boolean;          /* BOOL */
    double number;        /* NUMBER (nearest double) */
    int is_integer;       /* NUMBER written without fraction/exponent and fits int64 or uint64 */
    int is_negative;
    uint64_t magnitude;   /* |value| when is_integer: exact, so offsets beyond 2^53 stay exact */
    char *str;            /* STRING: decoded, NUL-terminated */
    size_t str_len;
    size_t count;         /* ARRAY / OBJECT: number of items */
    qn_json *items;       /* ARRAY / OBJECT values */
    char **keys;          /* OBJECT keys (decoded, NUL-terminated), in file order */
};

/* Parses exactly one JSON value (surrounding whitespace allowed). max_depth 0 = default. */
quanta_status qn_json_parse(const char *text, size_t len, int max_depth, qn_json **out);
void qn_json_free(qn_json *v);

/* Object member by key (NULL if absent or v is not an object). */
const qn_json *qn_json_get(const qn_json *v, const char *key);
/* Exact non-negative integer value; 0 if v is not one. */
int qn_json_as_u64(const qn_json *v, uint64_t *out);
/* Exact integer value that fits int64; 0 if v is not one. */
int qn_json_as_i64(const qn_json *v, int64_t *out);

#endif
