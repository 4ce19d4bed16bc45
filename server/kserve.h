/*
 * kserve.h — the KServe v2 inference protocol (HTTP/JSON, with Triton's binary tensor data and
 * generate extensions) beside the OpenAI API on `quanta serve`, so NVIDIA Triton's client
 * (tritonclient.http) works against it. Every generation goes through the same scheduler as
 * /v1/completions: the rows of a batched infer join the running batch as requests of their own.
 */
#ifndef QUANTA_SERVER_KSERVE_H
#define QUANTA_SERVER_KSERVE_H

#include <microhttpd.h>
#include <stddef.h>

#include "server.h"

/* Whether url belongs to the protocol ("/v2" or under "/v2/"). */
int qs_kserve_owns(const char *url);

/* Answers a request under /v2 with its whole body (too_big: it was over --max-body and dropped). */
enum MHD_Result qs_kserve_route(qs_server *s, struct MHD_Connection *c, const char *url, const char *method,
                                const char *body, size_t len, int too_big);

/* 413 in the protocol's shape: a body over --max-body (refused before it is read when declared). */
enum MHD_Result qs_kserve_too_big(qs_server *s, struct MHD_Connection *c);

#endif
