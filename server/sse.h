/*
 * sse.h — a server-sent-event response fed by a producer: libmicrohttpd pulls bytes, the producer
 * blocks (on its connection's own thread) until it has the next events. Both streaming APIs use it:
 * the OpenAI streams (generate.c) and Triton's generate_stream (kserve.c).
 */
#ifndef QUANTA_SERVER_SSE_H
#define QUANTA_SERVER_SSE_H

#include <microhttpd.h>

#include "server.h"

typedef struct qs_sse_source {
    /* Waits for news and returns the next events (malloc'd; NULL: out of memory, the response
     * ends with an error), setting *last when nothing follows them. */
    char *(*next)(void *ctx, int *last);
    /* The response is gone (finished, or the client went away): release ctx. */
    void (*done)(void *ctx);
    void *ctx;
} qs_sse_source;

/* Queues a 200 text/event-stream response read from src, counted under route. src.done runs when
 * the response ends, and at once when it cannot be queued. */
enum MHD_Result qs_sse_queue(qs_server *s, struct MHD_Connection *c, const char *route, qs_sse_source src);

#endif
