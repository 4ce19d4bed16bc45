/*
 * generate.c — POST /v1/completions and /v1/chat/completions: parse and check the body, build
 * the prompt (chat: the model's template), tokenize, submit to the scheduler, then either wait
 * for the whole answer or stream it as server-sent events ending with "data: [DONE]". A streamed
 * response blocks its connection's thread between tokens; when the client goes away libmicrohttpd
 * frees the response and the request is cancelled (its slot and KV blocks freed at the next step);
 * a client waiting for a whole answer that closes its connection cancels it too (client_wait.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "openai_request.h"
#include "openai_response.h"
#include "server_internal.h"
#include "sse.h"

typedef struct stream {
    qs_server *s;
    qs_req *r;
    qs_resp_ctx rc;
    int include_usage, first, done; /* done: only [DONE] is left to send */
    size_t text_sent;
    int32_t tok_sent;
} stream;

/* Tokens whose text is complete within the first `upto` bytes (all of them once done). */
static int32_t tokens_upto(const qs_req *r, size_t upto, int done) {
    if (done) return r->n_out;
    int32_t n = 0;
    while (n < r->n_out && r->out[n].text_end <= upto) n++;
    return n;
}

/* Waits for news and turns it into the next event(s); [DONE] after the last (sse.h's producer). */
static char *next_events(void *ctx, int *last) {
    stream *st = ctx;
    if (st->done) {
        *last = 1;
        return strdup("data: [DONE]\n\n");
    }
    qs_server *s = st->s;
    qs_req *r = st->r;
    qs_sched_lock(s->sched);
    while (r->text_final == st->text_sent && r->state != QS_DONE) qs_sched_wait(s->sched, 1.0);
    int done = r->state == QS_DONE;
    size_t upto = done ? r->text_len : r->text_final;
    int32_t ntok = tokens_upto(r, upto, done);
    if (ntok < st->tok_sent) ntok = st->tok_sent;
    size_t dlen = upto > st->text_sent ? upto - st->text_sent : 0;
    char *delta = malloc(dlen + 1);
    qs_token_out *toks = malloc((size_t)(ntok - st->tok_sent + 1) * sizeof *toks);
    if (delta && dlen) memcpy(delta, r->text + st->text_sent, dlen);
    if (toks && ntok > st->tok_sent) memcpy(toks, r->out + st->tok_sent, (size_t)(ntok - st->tok_sent) * sizeof *toks);
    char error[sizeof r->error];
    memcpy(error, r->error, sizeof error);
    const char *finish = r->finish_reason;
    int32_t n_gen = r->n_generated, n_prompt = r->n_prompt;
    qs_sched_unlock(s->sched);

    size_t base = st->text_sent;
    int32_t n = ntok - st->tok_sent;
    st->text_sent = upto;
    st->tok_sent = ntok;
    char *a = NULL, *b = NULL;
    int is_error = !delta || !toks || error[0];
    if (is_error) {
        a = qs_json_error(error[0] ? error : "out of memory", "server_error", NULL, NULL);
        done = 1;
    } else {
        a = qs_resp_chunk(&st->rc, st->first, delta, dlen, toks, n, base, done ? finish : NULL, done ? n_prompt : -1,
                          n_gen);
        if (done && st->include_usage) b = qs_resp_usage_chunk(&st->rc, n_prompt, n_gen);
    }
    st->first = 0;
    free(delta);
    free(toks);
    if (is_error && a) { /* an error event is "data: {error}" like the others */
        size_t l = strlen(a);
        char *e = malloc(l + 9);
        if (e) snprintf(e, l + 9, "data: %s\n\n", a);
        free(a);
        a = e;
    }
    size_t la = a ? strlen(a) : 0, lb = b ? strlen(b) : 0;
    char *events = malloc(la + lb + 1);
    if (events) {
        if (a) memcpy(events, a, la);
        if (b) memcpy(events + la, b, lb);
        events[la + lb] = 0;
    }
    free(a);
    free(b);
    st->done = done;
    return events;
}

/* The response is gone (finished, or the client disconnected): cancel and release the request. */
static void stream_free(void *cls) {
    stream *st = cls;
    qs_sched_release(st->s->sched, st->r);
    free(st);
}

int32_t *qs_tokenize(qs_server *s, const char *text, int special, size_t *n) {
    size_t need = 0;
    if (quanta_model_tokenize(s->model, text, strlen(text), 1, special, NULL, 0, &need)) return NULL;
    int32_t *ids = malloc((need ? need : 1) * sizeof *ids);
    if (ids && quanta_model_tokenize(s->model, text, strlen(text), 1, special, ids, need, n)) {
        free(ids);
        return NULL;
    }
    return ids;
}

enum MHD_Result qs_handle_generate(qs_server *s, struct MHD_Connection *c, int chat, const char *body, size_t len) {
    const char *rt = chat ? "chat" : "completions";
    if (atomic_load(&s->draining))
        return qs_reply_error(s, c, rt, 503, "server_error", "the server is shutting down", NULL, 5);
    qs_api_req a;
    char msg[512], param[64];
    if (qs_api_parse(body, len, chat, &a, msg, sizeof msg, param, sizeof param))
        return qs_reply_error(s, c, rt, 400, "invalid_request_error", msg, param, 0);
    if (a.model && a.model[0] && strcmp(a.model, s->model_id)) {
        char m2[320];
        snprintf(m2, sizeof m2, "model '%.120s' is not served here (this server has '%.120s')", a.model, s->model_id);
        qs_api_req_free(&a);
        return qs_reply_error(s, c, rt, 404, "invalid_request_error", m2, "model", 0);
    }
    /* The prompt's tokens. */
    int32_t *ids = NULL;
    size_t n = 0;
    if (chat) {
        char *text = NULL;
        if (qs_chat_prompt(s, a.messages, a.n_messages, &text, msg, sizeof msg)) {
            qs_api_req_free(&a);
            return qs_reply_error(s, c, rt, 400, "invalid_request_error", msg, "messages", 0);
        }
        ids = qs_tokenize(s, text, 1, &n);
        free(text);
    } else if (a.prompt) {
        ids = qs_tokenize(s, a.prompt, 0, &n);
    } else {
        ids = a.prompt_ids;
        n = a.n_prompt_ids;
        a.prompt_ids = NULL;
        for (size_t i = 0; i < n; i++)
            if (ids[i] >= s->info.n_vocab) {
                snprintf(msg, sizeof msg, "prompt[%zu] = %d is not a token id (vocabulary of %d)", i, ids[i], s->info.n_vocab);
                free(ids);
                qs_api_req_free(&a);
                return qs_reply_error(s, c, rt, 400, "invalid_request_error", msg, "prompt", 0);
            }
    }
    if (!ids) {
        snprintf(msg, sizeof msg, "tokenizing the prompt: %s", quanta_last_error());
        qs_api_req_free(&a);
        return qs_reply_error(s, c, rt, 500, "server_error", msg, NULL, 0);
    }
    int32_t n_ctx = qs_sched_n_ctx(s->sched);
    if (n == 0 || n + 1 > (size_t)n_ctx) {
        if (n == 0) snprintf(msg, sizeof msg, "the prompt is empty");
        else
            snprintf(msg, sizeof msg,
                     "this model's context is %d tokens; the prompt has %zu tokens and needs room for at least one more",
                     n_ctx, n);
        free(ids);
        qs_api_req_free(&a);
        return qs_reply(s, c, rt, 400, "application/json",
                        qs_json_error(msg, "invalid_request_error", chat ? "messages" : "prompt",
                                      n ? "context_length_exceeded" : NULL),
                        0);
    }
    qs_gen_params g = a.gen;
    if (g.max_tokens < 0 || g.max_tokens > n_ctx - (int32_t)n) g.max_tokens = n_ctx - (int32_t)n;
    qs_resp_ctx rc = {0};
    rc.chat = chat;
    snprintf(rc.id, sizeof rc.id, "%s-%llx%06llx", chat ? "chatcmpl" : "cmpl", (unsigned long long)s->created,
             (unsigned long long)atomic_fetch_add(&s->next_id, 1));
    rc.created = (long long)time(NULL);
    snprintf(rc.model, sizeof rc.model, "%s", s->model_id);
    rc.logprobs = g.logprobs;
    rc.top_logprobs = g.top_logprobs;
    rc.m = s->model;
    int stream_it = a.stream, include_usage = a.include_usage;
    a.gen.n_stop = 0; /* the stop strings now belong to the request */
    qs_api_req_free(&a);
    qs_req *r = qs_req_new(ids, (int32_t)n, &g);
    if (!r) {
        free(ids);
        for (int i = 0; i < g.n_stop; i++) free(g.stop[i]);
        return qs_reply_error(s, c, rt, 500, "server_error", "out of memory", NULL, 0);
    }
    qs_submit_result sr = qs_sched_submit(s->sched, r);
    if (sr) {
        qs_req_free_unsubmitted(r);
        if (sr == QS_SUBMIT_FULL)
            return qs_reply_error(s, c, rt, 429, "rate_limit_error", "the request queue is full; retry later", NULL, 1);
        return qs_reply_error(s, c, rt, 503, "server_error", "the server is shutting down", NULL, 5);
    }
    if (stream_it) {
        stream *st = calloc(1, sizeof *st);
        if (!st) {
            qs_sched_release(s->sched, r);
            return qs_reply_error(s, c, rt, 500, "server_error", "out of memory", NULL, 0);
        }
        st->s = s;
        st->r = r;
        st->rc = rc;
        st->include_usage = include_usage;
        st->first = 1;
        return qs_sse_queue(s, c, rt, (qs_sse_source){next_events, stream_free, st});
    }
    if (qs_wait_answers(s, c, &r, 1)) { /* nobody to answer: cancel, free its blocks, close */
        qs_sched_release(s->sched, r);
        return MHD_NO;
    }
    enum MHD_Result ok;
    if (r->error[0]) ok = qs_reply_error(s, c, rt, 500, "server_error", r->error, NULL, 0);
    else
        ok = qs_reply(s, c, rt, 200, "application/json",
                      qs_resp_full(&rc, r->text, r->text_len, r->out, r->n_out, r->finish_reason, r->n_prompt,
                                   r->n_generated),
                      0);
    qs_sched_release(s->sched, r);
    return ok;
}
