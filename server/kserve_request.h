/*
 * kserve_request.h — request bodies of the KServe v2 inference protocol (POST /v2/models/{name}/infer,
 * JSON with Triton's binary tensor data extension) and of Triton's generate extension
 * (POST /v2/models/{name}/generate, /generate_stream), parsed with jansson and checked tensor by
 * tensor: names, datatypes, shapes, element counts and binary sizes must agree with what the
 * model's metadata declares (kserve_response.c), or the request is refused (HTTP 400) with a
 * message naming the tensor or field.
 */
#ifndef QUANTA_SERVER_KSERVE_REQUEST_H
#define QUANTA_SERVER_KSERVE_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "scheduler.h"

/* The model's output tensors, in the order the metadata lists them. */
enum { QS_KV2_OUT_TEXT = 0, QS_KV2_OUT_IDS, QS_KV2_OUT_LENGTHS, QS_KV2_OUT_FINISH, QS_KV2_N_OUT };
extern const char *const qs_kv2_output_names[QS_KV2_N_OUT];

/* Prompts are shape [batch, 1] of text, or [batch, L] of token ids (input_lengths: how many of
 * each row's L ids are the prompt). A tensor has at most this many elements. */
#define QS_KV2_MAX_ELEMENTS (1u << 24)

typedef struct qs_kv2_infer {
    char *id;                  /* the request's "id" (echoed in the response), or NULL */
    size_t batch;              /* rows: each is a request of its own in the scheduler */
    char **texts;              /* text_input rows (NUL-terminated, no NUL inside), or NULL */
    int32_t *ids;              /* input_ids: batch × ids_cols, row-major, or NULL */
    size_t ids_cols;
    int32_t *lengths;          /* input_lengths (1..ids_cols per row), or NULL: every row is ids_cols long */
    qs_gen_params gen;         /* from "parameters"; shared by every row */
    int n_out;                 /* outputs to return, in the order asked (all when none were named) */
    int out[QS_KV2_N_OUT];
    int binary[QS_KV2_N_OUT];  /* per output: its data goes after the JSON (binary tensor data) */
} qs_kv2_infer;

/* Parses an infer body of len bytes whose first header_len bytes are the JSON (0: all of it; the
 * rest is binary tensor data, Inference-Header-Content-Length). Returns 0, or -1 with msg set. */
int qs_kv2_parse_infer(const char *body, size_t len, size_t header_len, qs_kv2_infer *out, char *msg, size_t cap);
void qs_kv2_infer_free(qs_kv2_infer *r);

/* A generate body: {"text_input": "...", "parameters": {...}}; the sampling fields may also be
 * given at the top level, as Triton's generate extension maps fields to model inputs. */
typedef struct qs_kv2_generate {
    char *text;
    qs_gen_params gen;
} qs_kv2_generate;
int qs_kv2_parse_generate(const char *body, size_t len, qs_kv2_generate *out, char *msg, size_t cap);
void qs_kv2_generate_free(qs_kv2_generate *r);

#endif
