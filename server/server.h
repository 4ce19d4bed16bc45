/*
 * server.h — `quanta serve`: an OpenAI-compatible HTTP server (libmicrohttpd, one thread per
 * connection) in front of the continuous-batching scheduler. tools/cmd_serve.c starts it; the
 * tests start it the same way.
 */
#ifndef QUANTA_SERVER_SERVER_H
#define QUANTA_SERVER_SERVER_H

#include <stddef.h>

#include "quanta.h"
#include "scheduler.h"

typedef struct qs_server_config {
    const char *host;          /* address to bind (numeric or a name), e.g. "127.0.0.1" */
    int port;                  /* 0: any free port (qs_server_port tells which) */
    const char *model_id;      /* the name /v1/models lists and responses carry */
    size_t max_body;           /* request bodies above this get 413 */
    unsigned max_connections;
    qs_sched_config sched;
} qs_server_config;

typedef struct qs_server qs_server;

/* Starts the scheduler and the HTTP daemon. On failure err gets the reason. The model must
 * outlive the server. */
quanta_status qs_server_start(quanta_model *model, const qs_server_config *cfg, qs_server **out, char *err,
                              size_t err_cap);
int qs_server_port(const qs_server *s);
/* Refuses new generation requests (503, Retry-After) and waits for queued and running ones to
 * finish. */
void qs_server_drain(qs_server *s);
/* Stops the daemon (open connections are closed) and the scheduler, frees everything. */
void qs_server_destroy(qs_server *s);

#endif
