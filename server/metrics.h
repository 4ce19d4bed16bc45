/*
 * metrics.h — the server's counters and latency histograms, written as Prometheus text
 * (exposition format 0.0.4) for GET /metrics. Every function takes the metrics' own lock, so
 * the scheduler thread and the HTTP threads update and read them concurrently.
 */
#ifndef QUANTA_SERVER_METRICS_H
#define QUANTA_SERVER_METRICS_H

#include <stddef.h>
#include <stdint.h>

typedef struct qs_metrics qs_metrics;
struct qs_sched_stats;

qs_metrics *qs_metrics_create(void);
void qs_metrics_destroy(qs_metrics *m);

/* An HTTP request answered with status `code` on `route` ("completions", "chat", ...). */
void qs_metrics_http(qs_metrics *m, const char *route, int code);
/* A request's prompt was prefilled (tokens), a token was generated (seconds since the previous
 * one, or since submission for the first), a request finished ("stop", "length", "cancelled",
 * "error"), a request was preempted. */
void qs_metrics_prompt_tokens(qs_metrics *m, int64_t n);
void qs_metrics_first_token(qs_metrics *m, double ttft_seconds);
void qs_metrics_next_token(qs_metrics *m, double itl_seconds);
void qs_metrics_finished(qs_metrics *m, const char *reason);
void qs_metrics_preempted(qs_metrics *m);
/* A request was admitted with `tokens` prompt positions found in shared KV blocks (prefix cache). */
void qs_metrics_prefix_hit(qs_metrics *m, int64_t tokens);
/* One scheduler step that ran n_decode decode rows and n_prefill prompt tokens (mixed: the decode
 * rows ran in one device step with prompt pieces). */
void qs_metrics_step(qs_metrics *m, int n_decode, int n_prefill, int mixed);

/* The Prometheus text (malloc'd, NUL-terminated), with the scheduler's gauges. */
char *qs_metrics_render(qs_metrics *m, const struct qs_sched_stats *st);

#endif
