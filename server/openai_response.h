/*
 * openai_response.h — response bodies in the OpenAI API's shapes: completions and chat
 * completions (whole, or as server-sent-event chunks), the model list and error bodies. Every
 * function returns a malloc'd NUL-terminated string, NULL when out of memory. Generated text is
 * made valid UTF-8 (invalid bytes become U+FFFD) before it goes into JSON.
 */
#ifndef QUANTA_SERVER_OPENAI_RESPONSE_H
#define QUANTA_SERVER_OPENAI_RESPONSE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "quanta.h"
#include "scheduler.h"

/* What stays the same over one request's responses. */
typedef struct qs_resp_ctx {
    int chat;
    char id[48];
    long long created;
    char model[128];
    int logprobs, top_logprobs;
    const quanta_model *m;
} qs_resp_ctx;

/* n bytes of text made valid UTF-8 (each invalid byte becomes U+FFFD) as a JSON string. */
json_t *qs_json_utf8(const char *s, size_t n);

/* {"error": {"message", "type", "param", "code"}}; param and code may be NULL. */
char *qs_json_error(const char *message, const char *type, const char *param, const char *code);

/* A whole (non-streamed) response: text of toks[0..n) (their text_end offsets are into text). */
char *qs_resp_full(const qs_resp_ctx *c, const char *text, size_t len, const qs_token_out *toks, int n,
                   const char *finish_reason, int32_t prompt_tokens, int32_t completion_tokens);

/* One SSE event "data: {...}\n\n" of a streamed response: the text delta (chat: role on the
 * first chunk), the logprobs of tokens toks[0..n) whose text starts at offset base in the whole
 * text, finish_reason NULL until the last, usage when usage_prompt >= 0. */
char *qs_resp_chunk(const qs_resp_ctx *c, int first, const char *delta, size_t len, const qs_token_out *toks, int n,
                    size_t base, const char *finish_reason, int32_t usage_prompt, int32_t usage_completion);
/* A usage-only chunk (stream_options.include_usage): "choices": []. */
char *qs_resp_usage_chunk(const qs_resp_ctx *c, int32_t prompt_tokens, int32_t completion_tokens);

/* GET /v1/models. */
char *qs_resp_models(const char *model_id, long long created);

#endif
