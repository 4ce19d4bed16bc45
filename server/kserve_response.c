/* kserve_response.c — KServe v2 / Triton generate response bodies (kserve_response.h), with jansson. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kserve_response.h"
#include "openai_response.h"
#include "quanta.h"

static char *dump(json_t *j) {
    if (!j) return NULL;
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

char *qs_kv2_error(const char *message) {
    return dump(json_pack("{s:o}", "error", qs_json_utf8(message, strlen(message))));
}

char *qs_kv2_server_metadata(void) {
    return dump(json_pack("{s:s, s:s, s:[s, s]}", "name", "quanta", "version", quanta_version(), "extensions",
                          "binary_tensor_data", "generate"));
}

/* The tensors, as metadata (datatype, shape with -1 for a variable dimension) and as Triton
 * configuration (data_type, dims without the batch dimension). One table, so both say the same. */
static const struct tensor {
    const char *name, *datatype, *config_type;
    int dim1;       /* second dimension: 1, or -1 (variable) */
    int optional;
} inputs[] = {{"text_input", "BYTES", "TYPE_STRING", 1, 1},
              {"input_ids", "INT32", "TYPE_INT32", -1, 1},
              {"input_lengths", "INT32", "TYPE_INT32", 1, 1}},
  outputs[QS_KV2_N_OUT] = {{"text_output", "BYTES", "TYPE_STRING", 1, 0},
                           {"output_ids", "INT32", "TYPE_INT32", -1, 0},
                           {"output_lengths", "INT32", "TYPE_INT32", 1, 0},
                           {"finish_reason", "BYTES", "TYPE_STRING", 1, 0}};

static json_t *tensor_list(const struct tensor *t, size_t n, int config) {
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = config ? json_pack("{s:s, s:s, s:[i]}", "name", t[i].name, "data_type", t[i].config_type, "dims",
                                       t[i].dim1)
                           : json_pack("{s:s, s:s, s:[i, i]}", "name", t[i].name, "datatype", t[i].datatype, "shape", -1,
                                       t[i].dim1);
        if (config && t[i].optional) json_object_set_new(o, "optional", json_true());
        json_array_append_new(a, o);
    }
    return a;
}

char *qs_kv2_model_metadata(const char *model) {
    return dump(json_pack("{s:s, s:[s], s:s, s:o, s:o}", "name", model, "versions", "1", "platform", "quanta", "inputs",
                          tensor_list(inputs, 3, 0), "outputs", tensor_list(outputs, QS_KV2_N_OUT, 0)));
}

char *qs_kv2_model_ready(const char *model, int ready) {
    return dump(json_pack("{s:s, s:b}", "name", model, "ready", ready));
}

char *qs_kv2_model_config(const char *model, int32_t max_batch, int32_t n_ctx) {
    char ctx[16];
    snprintf(ctx, sizeof ctx, "%d", n_ctx);
    return dump(json_pack("{s:s, s:s, s:s, s:i, s:o, s:o, s:{s:b}, s:{s:{s:s}}}", "name", model, "platform", "quanta",
                          "backend", "quanta", "max_batch_size", max_batch, "input", tensor_list(inputs, 3, 1), "output",
                          tensor_list(outputs, QS_KV2_N_OUT, 1), "model_transaction_policy", "decoupled", 0,
                          "parameters", "context_length", "string_value", ctx));
}

/* A growing byte buffer for the binary part. */
typedef struct blob {
    unsigned char *p;
    size_t len, cap;
    int oom;
} blob;

static void put(blob *b, const void *src, size_t n) {
    if (b->oom || n == 0) return; /* n == 0: src may be NULL (an empty row), which memcpy may not take */
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n) cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void put32(blob *b, uint32_t v) {
    unsigned char le[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
    put(b, le, 4);
}

/* Row i's value of output w: appended to the JSON array data, or to the binary blob. */
static void row_value(int w, const qs_req *r, int32_t cols, json_t *data, blob *b) {
    const char *fr = r->finish_reason ? r->finish_reason : "";
    switch (w) {
    case QS_KV2_OUT_TEXT:
    case QS_KV2_OUT_FINISH: {
        const char *s = w == QS_KV2_OUT_TEXT ? r->text : fr;
        size_t n = !s ? 0 : w == QS_KV2_OUT_TEXT ? r->text_len : strlen(fr);
        if (data) json_array_append_new(data, qs_json_utf8(s ? s : "", n));
        else {
            put32(b, (uint32_t)n);
            put(b, s, n);
        }
        break;
    }
    case QS_KV2_OUT_IDS: /* padded with -1 past the row's own length (output_lengths) */
        for (int32_t k = 0; k < cols; k++) {
            int32_t id = k < r->n_out ? r->out[k].id : -1;
            if (data) json_array_append_new(data, json_integer(id));
            else
                put32(b, (uint32_t)id);
        }
        break;
    default:
        if (data) json_array_append_new(data, json_integer(r->n_out));
        else
            put32(b, (uint32_t)r->n_out);
    }
}

char *qs_kv2_infer_response(const char *model, const qs_kv2_infer *q, qs_req *const *reqs, size_t *len,
                            size_t *header_len) {
    int32_t cols = 0;
    for (size_t i = 0; i < q->batch; i++)
        if (reqs[i]->n_out > cols) cols = reqs[i]->n_out;
    json_t *o = json_pack("{s:s, s:s}", "model_name", model, "model_version", "1");
    json_t *outs = json_array();
    if (!o || !outs) {
        json_decref(o);
        json_decref(outs);
        return NULL;
    }
    if (q->id) json_object_set_new(o, "id", json_string(q->id));
    json_object_set_new(o, "outputs", outs);
    blob b = {0};
    int any_binary = 0;
    for (int k = 0; k < q->n_out; k++) {
        int w = q->out[k];
        json_t *t = json_pack("{s:s, s:s, s:[I, I]}", "name", outputs[w].name, "datatype", outputs[w].datatype, "shape",
                              (json_int_t)q->batch, (json_int_t)(w == QS_KV2_OUT_IDS ? cols : 1));
        json_t *data = q->binary[w] ? NULL : json_array();
        size_t before = b.len;
        for (size_t i = 0; i < q->batch; i++) row_value(w, reqs[i], cols, data, &b);
        if (data) json_object_set_new(t, "data", data);
        else {
            json_object_set_new(t, "parameters", json_pack("{s:I}", "binary_data_size", (json_int_t)(b.len - before)));
            any_binary = 1;
        }
        json_array_append_new(outs, t);
    }
    char *j = dump(o);
    char *body = NULL;
    if (j && !b.oom) {
        size_t jl = strlen(j);
        if ((body = malloc(jl + b.len + 1))) {
            memcpy(body, j, jl);
            if (b.len) memcpy(body + jl, b.p, b.len);
            body[jl + b.len] = 0;
            *len = jl + b.len;
            *header_len = any_binary ? jl : 0;
        }
    }
    free(j);
    free(b.p);
    return body;
}

static json_t *generated_ids(const qs_req *r) {
    json_t *a = json_array();
    for (int32_t k = 0; a && k < r->n_out; k++) json_array_append_new(a, json_integer(r->out[k].id));
    return a;
}

char *qs_kv2_generate_response(const char *model, const qs_req *r) {
    return dump(json_pack("{s:s, s:s, s:o, s:o, s:s}", "model_name", model, "model_version", "1", "text_output",
                          qs_json_utf8(r->text ? r->text : "", r->text ? r->text_len : 0), "output_ids",
                          generated_ids(r), "finish_reason", r->finish_reason ? r->finish_reason : ""));
}

char *qs_kv2_stream_event(const char *model, const char *delta, size_t len, const char *finish_reason) {
    json_t *o = json_pack("{s:s, s:s, s:o}", "model_name", model, "model_version", "1", "text_output",
                          qs_json_utf8(delta, len));
    if (o && finish_reason) json_object_set_new(o, "finish_reason", json_string(finish_reason));
    char *j = dump(o);
    if (!j) return NULL;
    size_t n = strlen(j);
    char *s = malloc(n + 9);
    if (s) snprintf(s, n + 9, "data: %s\n\n", j);
    free(j);
    return s;
}
