/* sse.c — server-sent-event responses fed by a producer (sse.h). */
#include <stdlib.h>
#include <string.h>

#include "server_internal.h"
#include "sse.h"

typedef struct sse {
    qs_sse_source src;
    char *pend;                /* events produced and not yet all handed to libmicrohttpd */
    size_t len, off;
    int last;
} sse;

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max) {
    sse *e = cls;
    (void)pos;
    while (e->off == e->len) {
        free(e->pend);
        e->pend = NULL;
        e->len = e->off = 0;
        if (e->last) return MHD_CONTENT_READER_END_OF_STREAM;
        if (!(e->pend = e->src.next(e->src.ctx, &e->last))) return MHD_CONTENT_READER_END_WITH_ERROR;
        e->len = strlen(e->pend);
    }
    size_t n = e->len - e->off < max ? e->len - e->off : max;
    memcpy(buf, e->pend + e->off, n);
    e->off += n;
    return (ssize_t)n;
}

static void sse_free(void *cls) {
    sse *e = cls;
    e->src.done(e->src.ctx);
    free(e->pend);
    free(e);
}

enum MHD_Result qs_sse_queue(qs_server *s, struct MHD_Connection *c, const char *route, qs_sse_source src) {
    sse *e = calloc(1, sizeof *e);
    if (!e) {
        src.done(src.ctx);
        return MHD_NO;
    }
    e->src = src;
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, sse_read, e, sse_free);
    if (!r) {
        sse_free(e);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    enum MHD_Result ok = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    qs_metrics_http(s->metrics, route, 200);
    return ok;
}
