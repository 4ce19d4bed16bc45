/*
 * kserve_response.h — response bodies of the KServe v2 protocol and Triton's generate extension:
 * server and model metadata, the model's configuration, infer responses (JSON, or JSON followed
 * by binary tensor data), generate answers and stream events, and {"error": "..."} bodies. Every
 * function returns a malloc'd string (NUL-terminated unless it says otherwise), NULL when out of
 * memory. Text in JSON is made valid UTF-8 (invalid bytes become U+FFFD).
 */
#ifndef QUANTA_SERVER_KSERVE_RESPONSE_H
#define QUANTA_SERVER_KSERVE_RESPONSE_H

#include <stddef.h>
#include <stdint.h>

#include "kserve_request.h"
#include "scheduler.h"

/* {"error": message} */
char *qs_kv2_error(const char *message);

/* GET /v2: name, version, the protocol extensions served. */
char *qs_kv2_server_metadata(void);
/* GET /v2/models/{name}: the input and output tensors (what kserve_request.c accepts). */
char *qs_kv2_model_metadata(const char *model);
/* GET /v2/models/{name}/ready: {"name", "ready"}. */
char *qs_kv2_model_ready(const char *model, int ready);
/* GET /v2/models/{name}/config: Triton's model configuration (max_batch_size: rows per infer). */
char *qs_kv2_model_config(const char *model, int32_t max_batch, int32_t n_ctx);

/* An infer response for the finished requests reqs[0..q->batch): the outputs q asks for. *len
 * gets the body's size and *header_len the JSON's (0 when no output is binary: all JSON). */
char *qs_kv2_infer_response(const char *model, const qs_kv2_infer *q, qs_req *const *reqs, size_t *len,
                            size_t *header_len);

/* A generate answer for a finished request: text_output, output_ids, finish_reason. */
char *qs_kv2_generate_response(const char *model, const qs_req *r);
/* One server-sent event of generate_stream: "data: {...}\n\n" with the text delta, and the
 * finish_reason on the last (NULL before). */
char *qs_kv2_stream_event(const char *model, const char *delta, size_t len, const char *finish_reason);

#endif
