/*
 * kserve.c — routes of the KServe v2 protocol on `quanta serve` (kserve.h): health, server and
 * model metadata, the model's configuration, POST .../infer (one scheduler request per batch
 * row, all submitted before any is awaited, so they decode together) and Triton's generate
 * extension, whole (.../generate) or as server-sent events (.../generate_stream).
 * Errors are {"error": "..."}: 400 for a bad request, 404 for another model or path, 405 for a
 * wrong method, 413 for a body over --max-body, 429 when the queue is full, 503 while draining.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kserve.h"
#include "kserve_request.h"
#include "kserve_response.h"
#include "server_internal.h"
#include "sse.h"

#define ROUTE "kserve"

static enum MHD_Result reply_error(qs_server *s, struct MHD_Connection *c, int code, const char *msg, int retry_after) {
    return qs_reply(s, c, ROUTE, code, "application/json", qs_kv2_error(msg), retry_after);
}

static enum MHD_Result reply_json(qs_server *s, struct MHD_Connection *c, char *body) {
    return qs_reply(s, c, ROUTE, 200, "application/json", body, 0);
}

enum MHD_Result qs_kserve_too_big(qs_server *s, struct MHD_Connection *c) {
    char msg[96];
    snprintf(msg, sizeof msg, "the request body is larger than %zu bytes", s->max_body);
    return reply_error(s, c, 413, msg, 0);
}

int qs_kserve_owns(const char *url) { return !strncmp(url, "/v2", 3) && (url[3] == 0 || url[3] == '/'); }

/* The prompt of batch row i: its tokens (malloc'd), or NULL with msg set. */
static int32_t *row_prompt(qs_server *s, const qs_kv2_infer *q, size_t i, size_t *n, char *msg, size_t cap) {
    int32_t *ids;
    if (q->texts) {
        if (!(ids = qs_tokenize(s, q->texts[i], 0, n))) {
            snprintf(msg, cap, "text_input[%zu]: tokenizing: %s", i, quanta_last_error());
            return NULL;
        }
    } else {
        *n = q->lengths ? (size_t)q->lengths[i] : q->ids_cols;
        if (!(ids = malloc(*n * sizeof *ids))) {
            snprintf(msg, cap, "out of memory");
            return NULL;
        }
        memcpy(ids, q->ids + i * q->ids_cols, *n * sizeof *ids);
        for (size_t k = 0; k < *n; k++)
            if (ids[k] < 0 || ids[k] >= s->info.n_vocab) {
                snprintf(msg, cap, "input_ids[%zu][%zu] = %d is not a token id (vocabulary of %d)", i, k, ids[k],
                         s->info.n_vocab);
                free(ids);
                return NULL;
            }
    }
    int32_t n_ctx = qs_sched_n_ctx(s->sched);
    if (*n == 0 || *n + 1 > (size_t)n_ctx) {
        if (*n == 0) snprintf(msg, cap, "prompt %zu is empty", i);
        else
            snprintf(msg, cap, "prompt %zu has %zu tokens; this model's context is %d tokens and needs room for one more",
                     i, *n, n_ctx);
        free(ids);
        return NULL;
    }
    return ids;
}

/* A scheduler request for prompt ids[0..n) (taken), max_tokens clamped to the context. */
static qs_req *new_request(qs_server *s, int32_t *ids, size_t n, const qs_gen_params *p) {
    qs_gen_params g = *p;
    int32_t room = qs_sched_n_ctx(s->sched) - (int32_t)n;
    if (g.max_tokens > room) g.max_tokens = room;
    qs_req *r = qs_req_new(ids, (int32_t)n, &g);
    if (!r) free(ids);
    return r;
}

/* Submits reqs[0..n); on a refusal releases every one (those already queued are cancelled) and
 * answers 429 / 503. Returns 0 when all are queued. */
static int submit_all(qs_server *s, struct MHD_Connection *c, qs_req **reqs, size_t n, enum MHD_Result *answered) {
    for (size_t i = 0; i < n; i++) {
        qs_submit_result sr = qs_sched_submit(s->sched, reqs[i]);
        if (sr == QS_SUBMIT_OK) continue;
        for (size_t k = 0; k < n; k++)
            if (k < i) qs_sched_release(s->sched, reqs[k]);
            else
                qs_req_free_unsubmitted(reqs[k]);
        *answered = sr == QS_SUBMIT_FULL ? reply_error(s, c, 429, "the request queue is full; retry later", 1)
                                         : reply_error(s, c, 503, "the server is shutting down", 5);
        return -1;
    }
    return 0;
}

static enum MHD_Result handle_infer(qs_server *s, struct MHD_Connection *c, const char *body, size_t len) {
    char msg[512];
    size_t header_len = 0;
    const char *hl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Inference-Header-Content-Length");
    if (hl) {
        char *end;
        unsigned long long v = strtoull(hl, &end, 10);
        if (!*hl || *end || hl[0] == '-' || v == 0 || v > len)
            return reply_error(s, c, 400, "Inference-Header-Content-Length must be a byte count within the body", 0);
        header_len = (size_t)v;
    }
    qs_kv2_infer q;
    if (qs_kv2_parse_infer(body, len, header_len, &q, msg, sizeof msg)) return reply_error(s, c, 400, msg, 0);
    qs_sched_stats st;
    qs_sched_stats_get(s->sched, &st);
    if (q.batch > (size_t)st.max_batch) {
        snprintf(msg, sizeof msg, "a batch of %zu is more than this model's max_batch_size %d", q.batch, st.max_batch);
        qs_kv2_infer_free(&q);
        return reply_error(s, c, 400, msg, 0);
    }
    qs_req **reqs = calloc(q.batch, sizeof *reqs);
    enum MHD_Result ok = MHD_NO;
    size_t made = 0;
    int code = reqs ? 0 : 500;
    if (!reqs) snprintf(msg, sizeof msg, "out of memory");
    for (; !code && made < q.batch; made++) {
        size_t n;
        int32_t *ids = row_prompt(s, &q, made, &n, msg, sizeof msg);
        if (!ids) code = 400;
        else if (!(reqs[made] = new_request(s, ids, n, &q.gen)))
            code = 500, snprintf(msg, sizeof msg, "out of memory");
        if (code) break;
    }
    if (code) {
        for (size_t i = 0; i < made; i++) qs_req_free_unsubmitted(reqs[i]);
        ok = reply_error(s, c, code, msg, 0);
    } else if (!submit_all(s, c, reqs, q.batch, &ok)) {
        /* A client gone before its answer: every row cancelled (released below), nothing sent. */
        int gone = qs_wait_answers(s, c, reqs, q.batch);
        const char *err = NULL;
        /* Only finished rows may be read without the lock: when the client is gone some still run
         * (the scheduler may be writing their error), and nothing is answered anyway. */
        for (size_t i = 0; i < q.batch && !err && !gone; i++)
            if (reqs[i]->error[0]) err = reqs[i]->error;
        size_t blen = 0, jlen = 0;
        char *out = err || gone ? NULL : qs_kv2_infer_response(s->model_id, &q, reqs, &blen, &jlen);
        if (gone) ok = MHD_NO;
        else if (err || !out) ok = reply_error(s, c, 500, err ? err : "out of memory", 0);
        else if (!jlen)
            ok = reply_json(s, c, out);
        else { /* binary tensor data after the JSON header */
            struct MHD_Response *r = MHD_create_response_from_buffer(blen, out, MHD_RESPMEM_MUST_FREE);
            if (!r) free(out);
            else {
                char hv[24];
                snprintf(hv, sizeof hv, "%zu", jlen);
                MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/octet-stream");
                MHD_add_response_header(r, "Inference-Header-Content-Length", hv);
                ok = MHD_queue_response(c, 200, r);
                MHD_destroy_response(r);
                qs_metrics_http(s->metrics, ROUTE, 200);
            }
        }
        for (size_t i = 0; i < q.batch; i++) qs_sched_release(s->sched, reqs[i]);
    }
    free(reqs);
    qs_kv2_infer_free(&q);
    return ok;
}

/* generate_stream: one event per piece of final text, the last with finish_reason. */
typedef struct stream {
    qs_server *s;
    qs_req *r;
    size_t text_sent;
} stream;

/* Waits for news and turns it into the next event (sse.h's producer). */
static char *next_event(void *ctx, int *last) {
    stream *st = ctx;
    qs_sched *sc = st->s->sched;
    qs_req *r = st->r;
    qs_sched_lock(sc);
    while (r->text_final == st->text_sent && r->state != QS_DONE) qs_sched_wait(sc, 1.0);
    int done = r->state == QS_DONE;
    size_t upto = done ? r->text_len : r->text_final;
    size_t n = upto > st->text_sent ? upto - st->text_sent : 0;
    char *delta = malloc(n + 1), error[sizeof r->error];
    if (delta && n) memcpy(delta, r->text + st->text_sent, n);
    memcpy(error, r->error, sizeof error);
    const char *finish = r->finish_reason;
    qs_sched_unlock(sc);
    st->text_sent = upto;
    char *ev = NULL;
    if (error[0] || !delta) { /* an error event is "data: {"error": ...}" like the others */
        char *e = qs_kv2_error(error[0] ? error : "out of memory");
        size_t l = e ? strlen(e) : 0;
        if (e && (ev = malloc(l + 9))) snprintf(ev, l + 9, "data: %s\n\n", e);
        free(e);
        done = 1;
    } else {
        ev = qs_kv2_stream_event(st->s->model_id, delta, n, done ? (finish ? finish : "stop") : NULL);
    }
    free(delta);
    *last = done;
    return ev;
}

/* The response is gone (finished, or the client went away): cancel and release the request. */
static void stream_free(void *ctx) {
    stream *st = ctx;
    qs_sched_release(st->s->sched, st->r);
    free(st);
}

static enum MHD_Result handle_generate(qs_server *s, struct MHD_Connection *c, int streamed, const char *body,
                                       size_t len) {
    char msg[512];
    qs_kv2_generate g;
    if (qs_kv2_parse_generate(body, len, &g, msg, sizeof msg)) return reply_error(s, c, 400, msg, 0);
    qs_kv2_infer one = {0}; /* the prompt checks of a batch of one text */
    one.batch = 1;
    one.texts = &g.text;
    size_t n;
    int32_t *ids = row_prompt(s, &one, 0, &n, msg, sizeof msg);
    qs_req *r = ids ? new_request(s, ids, n, &g.gen) : NULL;
    qs_kv2_generate_free(&g);
    if (!r) return reply_error(s, c, ids ? 500 : 400, ids ? "out of memory" : msg, 0);
    enum MHD_Result ok;
    if (submit_all(s, c, &r, 1, &ok)) return ok;
    if (!streamed) {
        ok = qs_wait_answers(s, c, &r, 1) ? MHD_NO /* client gone: cancelled by the release */
             : r->error[0] ? reply_error(s, c, 500, r->error, 0) : reply_json(s, c, qs_kv2_generate_response(s->model_id, r));
        qs_sched_release(s->sched, r);
        return ok;
    }
    stream *st = calloc(1, sizeof *st);
    if (!st) {
        qs_sched_release(s->sched, r);
        return reply_error(s, c, 500, "out of memory", 0);
    }
    st->s = s;
    st->r = r;
    return qs_sse_queue(s, c, ROUTE, (qs_sse_source){next_event, stream_free, st});
}

/* Whether url ends with "/" + action; then *name_end points at that slash. */
static int ends_with(const char *url, const char *action, const char **name_end) {
    size_t lu = strlen(url), la = strlen(action);
    if (lu < la + 1 || url[lu - la - 1] != '/' || strcmp(url + lu - la, action)) return 0;
    *name_end = url + lu - la - 1;
    return 1;
}

enum MHD_Result qs_kserve_route(qs_server *s, struct MHD_Connection *c, const char *url, const char *method,
                                const char *body, size_t len, int too_big) {
    int get = !strcmp(method, "GET") || !strcmp(method, "HEAD"), post = !strcmp(method, "POST");
    int draining = atomic_load(&s->draining);
    if (!strcmp(url, "/v2") || !strcmp(url, "/v2/")) {
        if (!get) return reply_error(s, c, 405, "use GET /v2", 0);
        return reply_json(s, c, qs_kv2_server_metadata());
    }
    if (!strcmp(url, "/v2/health/live") || !strcmp(url, "/v2/health/ready")) {
        if (!get) return reply_error(s, c, 405, "use GET", 0);
        int ready = url[11] == 'r';
        if (ready && draining) return qs_reply(s, c, ROUTE, 503, "application/json", strdup("{\"ready\":false}"), 5);
        return reply_json(s, c, strdup(ready ? "{\"ready\":true}" : "{\"live\":true}"));
    }
    static const char prefix[] = "/v2/models/";
    if (strncmp(url, prefix, sizeof prefix - 1)) return reply_error(s, c, 404, "no such route", 0);
    /* /v2/models/{name}[/versions/{v}][/action]: the name may itself hold slashes, so the action
     * and version are taken from the end. */
    static const char *const actions[] = {"ready", "config", "infer", "generate", "generate_stream"};
    const char *name = url + sizeof prefix - 1, *name_end = name + strlen(name);
    int action = -1;
    for (int i = 0; i < 5 && action < 0; i++)
        if (ends_with(name, actions[i], &name_end)) action = i;
    const char *v = NULL;
    for (const char *p = name; p + 10 <= name_end; p++)
        if (!strncmp(p, "/versions/", 10)) v = p;
    if (v) {
        if (name_end - (v + 10) != 1 || v[10] != '1') return reply_error(s, c, 404, "this model has only version 1", 0);
        name_end = v;
    }
    if ((size_t)(name_end - name) != strlen(s->model_id) || strncmp(name, s->model_id, (size_t)(name_end - name))) {
        char msg[320];
        snprintf(msg, sizeof msg, "model '%.*s' is not served here (this server has '%.120s')",
                 (int)(name_end - name > 120 ? 120 : name_end - name), name, s->model_id);
        return reply_error(s, c, 404, msg, 0);
    }
    if (action <= 1) { /* metadata, ready, config */
        if (!get) return reply_error(s, c, 405, "use GET", 0);
        if (action == 0)
            return qs_reply(s, c, ROUTE, draining ? 503 : 200, "application/json",
                            qs_kv2_model_ready(s->model_id, !draining), draining ? 5 : 0);
        if (action == 1) {
            qs_sched_stats st;
            qs_sched_stats_get(s->sched, &st);
            return reply_json(s, c, qs_kv2_model_config(s->model_id, st.max_batch, qs_sched_n_ctx(s->sched)));
        }
        return reply_json(s, c, qs_kv2_model_metadata(s->model_id));
    }
    if (!post) return reply_error(s, c, 405, "use POST", 0);
    if (too_big) return qs_kserve_too_big(s, c);
    if (draining) return reply_error(s, c, 503, "the server is shutting down", 5);
    if (action == 2) return handle_infer(s, c, body, len);
    return handle_generate(s, c, action == 4, body, len);
}
