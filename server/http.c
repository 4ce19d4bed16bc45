/*
 * http.c — the HTTP side of `quanta serve` (server.h): libmicrohttpd with one thread per
 * connection (a streamed response blocks its own thread while it waits for tokens), request
 * bodies collected up to a size limit, and routing:
 *   GET /health, GET /v1/models, GET /metrics, POST /v1/completions, POST /v1/chat/completions,
 *   and the KServe v2 protocol under /v2 (kserve.c).
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "kserve.h"
#include "openai_response.h"
#include "server_internal.h"

typedef struct conn {
    char *body;
    size_t len, cap;
    int too_big;
} conn;

enum MHD_Result qs_reply(qs_server *s, struct MHD_Connection *c, const char *route, int code, const char *content_type,
                         char *body, int retry_after) {
    if (!body) {
        body = strdup("{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\",\"param\":null,\"code\":null}}");
        code = 500;
        content_type = "application/json";
        if (!body) return MHD_NO;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    if (retry_after > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", retry_after);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)code, r);
    MHD_destroy_response(r);
    qs_metrics_http(s->metrics, route, code);
    return ok;
}

enum MHD_Result qs_reply_error(qs_server *s, struct MHD_Connection *c, const char *route, int code, const char *type,
                               const char *message, const char *param, int retry_after) {
    const char *ec = code == 429 ? "rate_limit_exceeded" : code == 413 ? "request_too_large" : NULL;
    return qs_reply(s, c, route, code, "application/json", qs_json_error(message, type, param, ec), retry_after);
}

static enum MHD_Result route(qs_server *s, struct MHD_Connection *c, const char *url, const char *method, conn *k) {
    int get = !strcmp(method, "GET") || !strcmp(method, "HEAD"), post = !strcmp(method, "POST");
    if (!strcmp(url, "/health")) {
        if (!get) return qs_reply_error(s, c, "health", 405, "invalid_request_error", "use GET /health", NULL, 0);
        int d = atomic_load(&s->draining);
        return qs_reply(s, c, "health", d ? 503 : 200, "application/json",
                        strdup(d ? "{\"status\":\"draining\"}" : "{\"status\":\"ok\"}"), d ? 5 : 0);
    }
    if (!strcmp(url, "/v1/models")) {
        if (!get) return qs_reply_error(s, c, "models", 405, "invalid_request_error", "use GET /v1/models", NULL, 0);
        return qs_reply(s, c, "models", 200, "application/json", qs_resp_models(s->model_id, s->created), 0);
    }
    if (!strcmp(url, "/metrics")) {
        if (!get) return qs_reply_error(s, c, "metrics", 405, "invalid_request_error", "use GET /metrics", NULL, 0);
        qs_sched_stats st;
        qs_sched_stats_get(s->sched, &st);
        return qs_reply(s, c, "metrics", 200, "text/plain; version=0.0.4; charset=utf-8", qs_metrics_render(s->metrics, &st),
                        0);
    }
    int chat = !strcmp(url, "/v1/chat/completions");
    if (chat || !strcmp(url, "/v1/completions")) {
        const char *rt = chat ? "chat" : "completions";
        if (!post) return qs_reply_error(s, c, rt, 405, "invalid_request_error", "use POST", NULL, 0);
        if (k->too_big) {
            char msg[96];
            snprintf(msg, sizeof msg, "the request body is larger than %zu bytes", s->max_body);
            return qs_reply_error(s, c, rt, 413, "invalid_request_error", msg, NULL, 0);
        }
        return qs_handle_generate(s, c, chat, k->body ? k->body : "", k->len);
    }
    if (qs_kserve_owns(url)) return qs_kserve_route(s, c, url, method, k->body ? k->body : "", k->len, k->too_big);
    char msg[160];
    snprintf(msg, sizeof msg, "no route %.100s", url);
    return qs_reply_error(s, c, "other", 404, "invalid_request_error", msg, NULL, 0);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    qs_server *s = cls;
    (void)version;
    conn *k = *con_cls;
    if (!k) {
        if (!(k = calloc(1, sizeof *k))) return MHD_NO;
        *con_cls = k;
        atomic_fetch_add(&s->in_flight, 1);
        /* A declared body over the limit is refused before it is read (the connection closes). */
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > s->max_body) {
            k->too_big = 1;
            if (qs_kserve_owns(url)) return qs_kserve_too_big(s, c);
            char msg[96];
            snprintf(msg, sizeof msg, "the request body is larger than %zu bytes", s->max_body);
            return qs_reply_error(s, c, "other", 413, "invalid_request_error", msg, NULL, 0);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (k->too_big) return MHD_YES;
        if (k->len + n > s->max_body) { /* an undeclared (chunked) body over the limit: drop it */
            k->too_big = 1;
            free(k->body);
            k->body = NULL;
            k->len = k->cap = 0;
            return MHD_YES;
        }
        if (k->len + n + 1 > k->cap) {
            size_t cap = k->cap ? k->cap : 4096;
            while (cap < k->len + n + 1) cap *= 2;
            char *b = realloc(k->body, cap);
            if (!b) return MHD_NO;
            k->body = b;
            k->cap = cap;
        }
        memcpy(k->body + k->len, upload, n);
        k->len += n;
        k->body[k->len] = 0;
        return MHD_YES;
    }
    return route(s, c, url, method, k);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode why) {
    qs_server *s = cls;
    (void)c, (void)why;
    conn *k = *con_cls;
    if (!k) return;
    free(k->body);
    free(k);
    *con_cls = NULL;
    atomic_fetch_sub(&s->in_flight, 1);
}

quanta_status qs_server_start(quanta_model *model, const qs_server_config *cfg, qs_server **out, char *err,
                              size_t err_cap) {
    *out = NULL;
    qs_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, err_cap, "out of memory");
        return QUANTA_ERR_OUT_OF_MEMORY;
    }
    s->model = model;
    s->max_body = cfg->max_body;
    s->created = (long long)time(NULL);
    /* A longer id would be cut, and requests naming the cut id would then be served under a name they did not give. */
    if (!cfg->model_id || strlen(cfg->model_id) >= sizeof s->model_id) {
        snprintf(err, err_cap, "model id %s (the name /v1/models lists; at most %zu bytes: give a shorter one)",
                 cfg->model_id ? "too long" : "missing", sizeof s->model_id - 1);
        free(s);
        return QUANTA_ERR_INVALID_ARGUMENT;
    }
    snprintf(s->model_id, sizeof s->model_id, "%s", cfg->model_id);
    quanta_status st = quanta_model_get_info(model, &s->info);
    if (!st && !(s->metrics = qs_metrics_create())) st = QUANTA_ERR_OUT_OF_MEMORY;
    char why[512] = "";
    if (!st && (st = qs_sched_create(model, &cfg->sched, s->metrics, &s->sched, why, sizeof why)))
        snprintf(err, err_cap, "scheduler: %s", why);
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    char port[16];
    snprintf(port, sizeof port, "%d", cfg->port);
    if (!st) {
        int rc = getaddrinfo(cfg->host, port, &hints, &ai);
        if (rc) {
            snprintf(err, err_cap, "address %s: %s", cfg->host, gai_strerror(rc));
            st = QUANTA_ERR_INVALID_ARGUMENT;
        }
    }
    if (!st) {
        unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL;
        if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
        s->daemon = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
                                     ai->ai_addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                     MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
                                     (unsigned)120, MHD_OPTION_END);
        if (!s->daemon) {
            snprintf(err, err_cap, "cannot listen on %s port %d (in use, or not an address of this machine)", cfg->host,
                     cfg->port);
            st = QUANTA_ERR_IO;
        }
    }
    if (ai) freeaddrinfo(ai);
    if (st) {
        if (!err[0]) snprintf(err, err_cap, "%s", quanta_last_error());
        qs_server_destroy(s);
        return st;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : cfg->port;
    *out = s;
    return QUANTA_OK;
}

int qs_server_port(const qs_server *s) { return s->port; }

void qs_server_drain(qs_server *s) {
    atomic_store(&s->draining, 1);
    qs_sched_drain(s->sched);
    /* The last bytes of finished responses (a stream's final events and [DONE]) are still being
     * sent: give them up to 30 s before the daemon closes the connections. */
    struct timespec tick = {0, 10 * 1000 * 1000};
    for (int i = 0; i < 3000 && atomic_load(&s->in_flight) > 0; i++) nanosleep(&tick, NULL);
}

void qs_server_destroy(qs_server *s) {
    if (!s) return;
    if (s->daemon) MHD_stop_daemon(s->daemon);
    qs_sched_destroy(s->sched);
    qs_metrics_destroy(s->metrics);
    free(s);
}
