/*
 * openai_request.h — request bodies of POST /v1/completions and /v1/chat/completions (the
 * OpenAI API as its clients send it), parsed with jansson and checked field by field: wrong
 * types, out-of-range or huge numbers, unknown fields and unsupported options are refused with
 * a message naming the field (HTTP 400).
 */
#ifndef QUANTA_SERVER_OPENAI_REQUEST_H
#define QUANTA_SERVER_OPENAI_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "scheduler.h"

typedef struct qs_chat_msg {
    char *role, *content;
} qs_chat_msg;

typedef struct qs_api_req {
    int chat;                  /* /v1/chat/completions */
    char *model;               /* the request's 'model', whole (NULL: not given); compared with the served id */
    char *prompt;              /* completions: the prompt text, or NULL when given as token ids */
    int32_t *prompt_ids;       /* completions: a prompt of token ids */
    size_t n_prompt_ids;
    qs_chat_msg *messages;     /* chat */
    size_t n_messages;
    int stream, include_usage;
    qs_gen_params gen;         /* max_tokens < 0: until the context is full */
} qs_api_req;

/* Parses body (len bytes). Returns 0, or -1 with msg (and param, "" when none) set. */
int qs_api_parse(const char *body, size_t len, int chat, qs_api_req *out, char *msg, size_t msg_cap, char *param,
                 size_t param_cap);
/* Frees what qs_api_parse allocated (the stop strings only if they were not handed on). */
void qs_api_req_free(qs_api_req *r);

#endif
