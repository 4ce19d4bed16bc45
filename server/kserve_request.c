/* kserve_request.c — KServe v2 infer and Triton generate request bodies (kserve_request.h). */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kserve_request.h"

const char *const qs_kv2_output_names[QS_KV2_N_OUT] = {"text_output", "output_ids", "output_lengths", "finish_reason"};

#define MAX_TOKENS_LIMIT (1 << 30)

static int fail(char *msg, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, cap, fmt, ap);
    va_end(ap);
    return -1;
}

static void gen_defaults(qs_gen_params *g) {
    memset(g, 0, sizeof *g);
    g->max_tokens = 16; /* as POST /v1/completions */
    g->temperature = 1.0f;
    g->top_p = 1.0f;
}

/* One sampling field (max_tokens, temperature, top_p, seed). Returns 0 when set, 1 when key is not
 * one of them, -1 (msg set) when its value is wrong. */
static int sampling_field(const char *where, const char *key, json_t *v, qs_gen_params *g, char *msg, size_t cap) {
    if (!strcmp(key, "max_tokens")) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > MAX_TOKENS_LIMIT)
            return fail(msg, cap, "%s%s must be an integer from 1 to %d", where, key, MAX_TOKENS_LIMIT);
        g->max_tokens = (int32_t)json_integer_value(v);
        return 0;
    }
    if (!strcmp(key, "temperature") || !strcmp(key, "top_p")) {
        int t = key[0] == 't';
        double d = json_number_value(v);
        if (!json_is_number(v) || (t ? !(d >= 0 && d <= 2) : !(d > 0 && d <= 1)))
            return fail(msg, cap, "%s%s must be a number %s", where, key, t ? "from 0 to 2" : "above 0 and at most 1");
        if (t) g->temperature = (float)d;
        else
            g->top_p = (float)d;
        return 0;
    }
    if (!strcmp(key, "seed")) {
        if (!json_is_integer(v)) return fail(msg, cap, "%sseed must be an integer", where);
        g->seed = (uint64_t)json_integer_value(v);
        g->has_seed = 1;
        return 0;
    }
    return 1;
}

/* Walks data (nested arrays flattened) into n elements of one kind: strings (texts) or int32s. */
static int flatten(json_t *v, const char *name, int bytes, char **texts, int32_t *ints, size_t n, size_t *k, int depth,
                   char *msg, size_t cap) {
    if (json_is_array(v)) {
        if (depth > 8) return fail(msg, cap, "%s: data nests too deep", name);
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) if (flatten(e, name, bytes, texts, ints, n, k, depth + 1, msg, cap)) return -1;
        return 0;
    }
    if (*k >= n) return fail(msg, cap, "%s: data has more elements than its shape holds (%zu)", name, n);
    if (bytes) {
        if (!json_is_string(v)) return fail(msg, cap, "%s: datatype BYTES wants strings in data", name);
        size_t l = json_string_length(v);
        if (memchr(json_string_value(v), 0, l)) return fail(msg, cap, "%s[%zu] contains a NUL character", name, *k);
        if (!(texts[*k] = strdup(json_string_value(v)))) return fail(msg, cap, "out of memory");
    } else {
        if (!json_is_integer(v) || json_integer_value(v) < INT32_MIN || json_integer_value(v) > INT32_MAX)
            return fail(msg, cap, "%s: datatype INT32 wants 32-bit integers in data", name);
        ints[*k] = (int32_t)json_integer_value(v);
    }
    (*k)++;
    return 0;
}

static uint32_t le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* n elements from a binary blob of size bytes: BYTES are a 4-byte little-endian length and the
 * bytes each, INT32 are 4 little-endian bytes each (the binary tensor data extension). */
static int from_binary(const unsigned char *p, size_t size, const char *name, int bytes, char **texts, int32_t *ints,
                       size_t n, char *msg, size_t cap) {
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        if (!bytes) {
            if (size != 4 * n) return fail(msg, cap, "%s: binary_data_size %zu is not 4 × %zu elements", name, size, n);
            ints[i] = (int32_t)le32(p + 4 * i);
            continue;
        }
        if (size - off < 4) return fail(msg, cap, "%s: binary data ends inside element %zu", name, i);
        uint32_t l = le32(p + off);
        off += 4;
        if (size - off < l) return fail(msg, cap, "%s: binary data ends inside element %zu", name, i);
        if (memchr(p + off, 0, l)) return fail(msg, cap, "%s[%zu] contains a NUL character", name, i);
        if (!(texts[i] = malloc((size_t)l + 1))) return fail(msg, cap, "out of memory");
        memcpy(texts[i], p + off, l);
        texts[i][l] = 0;
        off += l;
    }
    if (bytes && off != size) return fail(msg, cap, "%s: binary_data_size %zu holds more than %zu elements", name, size, n);
    return 0;
}

/* One input tensor: its checks against the declared [batch, 1] / [batch, L] shapes and its data. */
static int parse_input(json_t *t, qs_kv2_infer *r, const unsigned char *bin, size_t bin_len, size_t *bin_off,
                       int seen[3], char *msg, size_t cap) {
    static const char *const names[3] = {"text_input", "input_ids", "input_lengths"};
    if (!json_is_object(t)) return fail(msg, cap, "inputs: each input must be an object");
    json_t *jn = json_object_get(t, "name"), *jd = json_object_get(t, "datatype"), *js = json_object_get(t, "shape");
    json_t *jdata = json_object_get(t, "data"), *jp = json_object_get(t, "parameters");
    if (!json_is_string(jn)) return fail(msg, cap, "inputs: an input has no \"name\" string");
    const char *name = json_string_value(jn);
    int which = -1;
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, names[i])) which = i;
    if (which < 0)
        return fail(msg, cap, "inputs: unknown input '%.64s' (this model takes text_input, input_ids, input_lengths)", name);
    if (seen[which]++) return fail(msg, cap, "inputs: %s is given twice", name);
    const char *key;
    json_t *v;
    json_object_foreach(t, key, v) if (strcmp(key, "name") && strcmp(key, "datatype") && strcmp(key, "shape") &&
                                       strcmp(key, "data") && strcmp(key, "parameters"))
        return fail(msg, cap, "%s: unknown field '%.64s'", name, key);
    int bytes = which == 0;
    const char *want = bytes ? "BYTES" : "INT32";
    if (!json_is_string(jd) || strcmp(json_string_value(jd), want))
        return fail(msg, cap, "%s: datatype %.32s, expected %s", name, json_is_string(jd) ? json_string_value(jd) : "missing",
                    want);
    if (!json_is_array(js) || json_array_size(js) != 2)
        return fail(msg, cap, "%s: shape must be [batch, %s]", name, which == 1 ? "length" : "1");
    json_int_t d0 = json_integer_value(json_array_get(js, 0)), d1 = json_integer_value(json_array_get(js, 1));
    /* each dimension bounded before the product: [3, 6148914691236517207] would wrap to 5 elements */
    if (!json_is_integer(json_array_get(js, 0)) || !json_is_integer(json_array_get(js, 1)) || d0 < 1 || d1 < 1 ||
        (which != 1 && d1 != 1) || d0 > QS_KV2_MAX_ELEMENTS || d1 > QS_KV2_MAX_ELEMENTS ||
        (uint64_t)d0 * (uint64_t)d1 > QS_KV2_MAX_ELEMENTS)
        return fail(msg, cap, "%s: shape must be [batch, %s] with batch >= 1%s (at most %u elements)", name,
                    which == 1 ? "length" : "1", which == 1 ? " and length >= 1" : "", QS_KV2_MAX_ELEMENTS);
    size_t b = (size_t)d0, n = (size_t)d0 * (size_t)d1;
    if (r->batch && r->batch != b) return fail(msg, cap, "%s: batch %zu differs from the other inputs' %zu", name, b, r->batch);
    r->batch = b;
    json_int_t bsize = -1;
    if (jp) {
        if (!json_is_object(jp)) return fail(msg, cap, "%s: parameters must be an object", name);
        json_object_foreach(jp, key, v) {
            if (strcmp(key, "binary_data_size")) return fail(msg, cap, "%s: unknown parameter '%.64s'", name, key);
            if (!json_is_integer(v) || json_integer_value(v) < 0)
                return fail(msg, cap, "%s: binary_data_size must be a non-negative integer", name);
            bsize = json_integer_value(v);
        }
    }
    if (bsize >= 0 && jdata) return fail(msg, cap, "%s: has both data and binary_data_size", name);
    if (bsize < 0 && !jdata) return fail(msg, cap, "%s: has no data", name);
    char **texts = NULL;
    int32_t *ints = NULL;
    if (bytes) texts = r->texts = calloc(n, sizeof *texts);
    else
        ints = calloc(n, sizeof *ints);
    if (!texts && !ints) return fail(msg, cap, "out of memory");
    if (which == 1) r->ids = ints, r->ids_cols = (size_t)d1;
    if (which == 2) r->lengths = ints;
    if (bsize >= 0) {
        if ((uint64_t)bsize > bin_len - *bin_off)
            return fail(msg, cap, "%s: binary_data_size %lld is more than the %zu bytes left in the body", name,
                        (long long)bsize, bin_len - *bin_off);
        if (from_binary(bin + *bin_off, (size_t)bsize, name, bytes, texts, ints, n, msg, cap)) return -1;
        *bin_off += (size_t)bsize;
        return 0;
    }
    size_t k = 0;
    if (flatten(jdata, name, bytes, texts, ints, n, &k, 0, msg, cap)) return -1;
    if (k != n) return fail(msg, cap, "%s: data has %zu elements, its shape holds %zu", name, k, n);
    return 0;
}

static int parse_outputs(json_t *jo, qs_kv2_infer *r, char *msg, size_t cap) {
    if (!json_is_array(jo) || !json_array_size(jo)) return fail(msg, cap, "outputs must be a non-empty array");
    size_t i;
    json_t *o;
    json_array_foreach(jo, i, o) {
        json_t *jn = json_object_get(o, "name"), *jp = json_object_get(o, "parameters");
        if (!json_is_object(o) || !json_is_string(jn)) return fail(msg, cap, "outputs[%zu] has no \"name\" string", i);
        int w = -1;
        for (int k = 0; k < QS_KV2_N_OUT; k++)
            if (!strcmp(json_string_value(jn), qs_kv2_output_names[k])) w = k;
        if (w < 0)
            return fail(msg, cap, "outputs: unknown output '%.64s' (this model gives text_output, output_ids, "
                        "output_lengths, finish_reason)", json_string_value(jn));
        for (int k = 0; k < r->n_out; k++)
            if (r->out[k] == w) return fail(msg, cap, "outputs: %s is asked for twice", qs_kv2_output_names[w]);
        const char *key;
        json_t *v;
        json_object_foreach(o, key, v) if (strcmp(key, "name") && strcmp(key, "parameters"))
            return fail(msg, cap, "outputs[%zu]: unknown field '%.64s'", i, key);
        if (jp) {
            if (!json_is_object(jp)) return fail(msg, cap, "outputs[%zu]: parameters must be an object", i);
            json_object_foreach(jp, key, v) {
                if (strcmp(key, "binary_data") || !json_is_boolean(v))
                    return fail(msg, cap, "outputs[%zu]: parameter '%.64s' is not supported (only binary_data, a boolean)",
                                i, key);
                r->binary[w] = json_is_true(v);
            }
        }
        r->out[r->n_out++] = w;
    }
    return 0;
}

static int parse_infer_json(json_t *root, const unsigned char *bin, size_t bin_len, qs_kv2_infer *r, char *msg,
                            size_t cap) {
    if (!json_is_object(root)) return fail(msg, cap, "the request body must be a JSON object");
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) if (strcmp(key, "id") && strcmp(key, "inputs") && strcmp(key, "outputs") &&
                                          strcmp(key, "parameters"))
        return fail(msg, cap, "unknown field '%.64s'", key);
    json_t *jid = json_object_get(root, "id");
    if (jid) {
        if (!json_is_string(jid)) return fail(msg, cap, "id must be a string");
        if (!(r->id = strdup(json_string_value(jid)))) return fail(msg, cap, "out of memory");
    }
    int binary_all = 0;
    json_t *jp = json_object_get(root, "parameters");
    if (jp) {
        if (!json_is_object(jp)) return fail(msg, cap, "parameters must be an object");
        json_object_foreach(jp, key, v) {
            if (!strcmp(key, "binary_data_output")) {
                if (!json_is_boolean(v)) return fail(msg, cap, "parameters.binary_data_output must be a boolean");
                binary_all = json_is_true(v);
                continue;
            }
            int rc = sampling_field("parameters.", key, v, &r->gen, msg, cap);
            if (rc < 0) return -1;
            if (rc > 0)
                return fail(msg, cap, "parameters.%.64s is not supported (max_tokens, temperature, top_p, seed, "
                            "binary_data_output)", key);
        }
    }
    json_t *ji = json_object_get(root, "inputs");
    if (!json_is_array(ji) || !json_array_size(ji)) return fail(msg, cap, "inputs must be a non-empty array");
    int seen[3] = {0};
    size_t bin_off = 0, i;
    json_array_foreach(ji, i, v) if (parse_input(v, r, bin, bin_len, &bin_off, seen, msg, cap)) return -1;
    if (bin_off != bin_len)
        return fail(msg, cap, "%zu bytes of binary data after the header belong to no input", bin_len - bin_off);
    if (seen[0] == seen[1]) return fail(msg, cap, "give one of the inputs text_input or input_ids");
    if (seen[2] && !seen[1]) return fail(msg, cap, "input_lengths goes with input_ids");
    for (size_t b = 0; r->lengths && b < r->batch; b++)
        if (r->lengths[b] < 1 || (size_t)r->lengths[b] > r->ids_cols)
            return fail(msg, cap, "input_lengths[%zu] = %d is not within 1..%zu", b, r->lengths[b], r->ids_cols);
    json_t *jo = json_object_get(root, "outputs");
    if (jo) return parse_outputs(jo, r, msg, cap);
    for (int k = 0; k < QS_KV2_N_OUT; k++) r->out[r->n_out++] = k, r->binary[k] = binary_all;
    return 0;
}

int qs_kv2_parse_infer(const char *body, size_t len, size_t header_len, qs_kv2_infer *r, char *msg, size_t cap) {
    memset(r, 0, sizeof *r);
    gen_defaults(&r->gen);
    if (header_len > len)
        return fail(msg, cap, "Inference-Header-Content-Length %zu is more than the body's %zu bytes", header_len, len);
    size_t jl = header_len ? header_len : len;
    json_error_t e;
    json_t *root = json_loadb(body, jl, JSON_REJECT_DUPLICATES, &e);
    if (!root) return fail(msg, cap, "the request body is not valid JSON: %s (line %d)", e.text, e.line);
    int rc = parse_infer_json(root, (const unsigned char *)body + jl, len - jl, r, msg, cap);
    json_decref(root);
    if (rc) qs_kv2_infer_free(r);
    return rc;
}

void qs_kv2_infer_free(qs_kv2_infer *r) {
    if (r->texts)
        for (size_t i = 0; i < r->batch; i++) free(r->texts[i]);
    free(r->texts);
    free(r->ids);
    free(r->lengths);
    free(r->id);
    memset(r, 0, sizeof *r);
}

int qs_kv2_parse_generate(const char *body, size_t len, qs_kv2_generate *r, char *msg, size_t cap) {
    memset(r, 0, sizeof *r);
    gen_defaults(&r->gen);
    json_error_t e;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
    if (!root) return fail(msg, cap, "the request body is not valid JSON: %s (line %d)", e.text, e.line);
    int rc = -1;
    const char *key;
    json_t *v;
    if (!json_is_object(root)) {
        fail(msg, cap, "the request body must be a JSON object");
        goto done;
    }
    json_object_foreach(root, key, v) {
        if (!strcmp(key, "text_input")) {
            if (!json_is_string(v)) {
                fail(msg, cap, "text_input must be a string");
                goto done;
            }
            if (memchr(json_string_value(v), 0, json_string_length(v))) {
                fail(msg, cap, "text_input contains a NUL character");
                goto done;
            }
            if (!(r->text = strdup(json_string_value(v)))) {
                fail(msg, cap, "out of memory");
                goto done;
            }
        } else if (!strcmp(key, "parameters")) {
            if (!json_is_object(v)) {
                fail(msg, cap, "parameters must be an object");
                goto done;
            }
            const char *k2;
            json_t *v2;
            json_object_foreach(v, k2, v2) {
                /* "stream" (vLLM's models take it): the route decides whether the answer streams. */
                if (!strcmp(k2, "stream") && json_is_boolean(v2)) continue;
                int s = sampling_field("parameters.", k2, v2, &r->gen, msg, cap);
                if (s > 0)
                    fail(msg, cap, "parameters.%.64s is not supported (max_tokens, temperature, top_p, seed, stream)", k2);
                if (s) goto done;
            }
        } else {
            int s = sampling_field("", key, v, &r->gen, msg, cap);
            if (s > 0)
                fail(msg, cap, "unknown field '%.64s' (text_input, parameters, max_tokens, temperature, top_p, seed)", key);
            if (s) goto done;
        }
    }
    if (!r->text) {
        fail(msg, cap, "text_input is missing");
        goto done;
    }
    rc = 0;
done:
    json_decref(root);
    if (rc) qs_kv2_generate_free(r);
    return rc;
}

void qs_kv2_generate_free(qs_kv2_generate *r) {
    free(r->text);
    r->text = NULL;
}
