/* server_internal.h — what the server's files share (http.c routes, generate.c answers). */
#ifndef QUANTA_SERVER_INTERNAL_H
#define QUANTA_SERVER_INTERNAL_H

#include <microhttpd.h>
#include <stdatomic.h>

#include "metrics.h"
#include "openai_request.h"
#include "scheduler.h"
#include "server.h"

struct qs_server {
    struct MHD_Daemon *daemon;
    quanta_model *model;
    quanta_model_info info;
    qs_sched *sched;
    qs_metrics *metrics;
    char model_id[128];
    size_t max_body;
    long long created;
    atomic_ullong next_id;
    atomic_int draining;
    atomic_int in_flight;        /* HTTP requests begun and not yet completed (drain waits for them) */
    int port;
};

/* Queues a response of `code` with body (taken; NULL: an error body saying out of memory),
 * counted in the metrics under route; retry_after > 0 adds a Retry-After header. */
enum MHD_Result qs_reply(qs_server *s, struct MHD_Connection *c, const char *route, int code, const char *content_type,
                         char *body, int retry_after);
/* An OpenAI error body with status code. */
enum MHD_Result qs_reply_error(qs_server *s, struct MHD_Connection *c, const char *route, int code, const char *type,
                               const char *message, const char *param, int retry_after);

/* POST /v1/completions (chat = 0) and /v1/chat/completions (chat = 1) with the whole body. */
enum MHD_Result qs_handle_generate(qs_server *s, struct MHD_Connection *c, int chat, const char *body, size_t len);

/* Whether the client of connection c has closed it (client_wait.c). */
int qs_client_gone(struct MHD_Connection *c);
/* Waits until every one of the n requests is done; returns 0, or 1 as soon as the client is gone
 * (the caller then releases the requests, which cancels those still running). */
int qs_wait_answers(qs_server *s, struct MHD_Connection *c, qs_req **reqs, size_t n);

/* text's tokens (BOS first when the model wants it; special: control tokens written in the text
 * become their ids), malloc'd with *n set; NULL when tokenizing fails (quanta_last_error). */
int32_t *qs_tokenize(qs_server *s, const char *text, int special, size_t *n);

/* The prompt of a chat request: messages rendered with the model's chat template (chat_prompt.c).
 * Returns 0, or -1 with msg set (the template cannot render this conversation, or none known). */
int qs_chat_prompt(const qs_server *s, const qs_chat_msg *msgs, size_t n, char **out, char *msg, size_t cap);

#endif
