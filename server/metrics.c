/* metrics.c — counters, gauges and histograms for /metrics (metrics.h), in Prometheus text. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics.h"
#include "scheduler.h"

#define N_TTFT 12
#define N_ITL 12
#define RATE_WINDOW 10 /* seconds over which tokens/s is averaged */

static const double ttft_le[N_TTFT] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
static const double itl_le[N_ITL] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10};

typedef struct histogram {
    uint64_t bucket[16]; /* cumulative counts are computed when rendering */
    uint64_t count;
    double sum;
} histogram;

typedef struct http_count {
    char route[24];
    int code;
    uint64_t n;
} http_count;

struct qs_metrics {
    pthread_mutex_t mu;
    histogram ttft, itl;
    uint64_t prompt_tokens, gen_tokens, steps, decode_rows, prefill_tokens, preemptions, prefix_hit_tokens;
    uint64_t mixed_steps; /* steps whose decode rows ran with prompt pieces in one device step */
    uint64_t finished_stop, finished_length, finished_cancelled, finished_error;
    http_count http[64];
    int n_http;
    int64_t rate_sec[RATE_WINDOW];
    uint64_t rate_tokens[RATE_WINDOW];
};

static int64_t now_sec(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec;
}

qs_metrics *qs_metrics_create(void) {
    qs_metrics *m = calloc(1, sizeof *m);
    if (m) pthread_mutex_init(&m->mu, NULL);
    return m;
}

void qs_metrics_destroy(qs_metrics *m) {
    if (!m) return;
    pthread_mutex_destroy(&m->mu);
    free(m);
}

static void observe(histogram *h, const double *le, int n, double v) {
    int i = 0;
    while (i < n && v > le[i]) i++;
    h->bucket[i]++; /* i == n: only +Inf */
    h->count++;
    h->sum += v;
}

void qs_metrics_http(qs_metrics *m, const char *route, int code) {
    pthread_mutex_lock(&m->mu);
    int i = 0;
    while (i < m->n_http && (m->http[i].code != code || strcmp(m->http[i].route, route))) i++;
    if (i == m->n_http && m->n_http < (int)(sizeof m->http / sizeof m->http[0])) {
        snprintf(m->http[i].route, sizeof m->http[i].route, "%s", route);
        m->http[i].code = code;
        m->n_http++;
    }
    if (i < m->n_http) m->http[i].n++;
    pthread_mutex_unlock(&m->mu);
}

void qs_metrics_prompt_tokens(qs_metrics *m, int64_t n) {
    pthread_mutex_lock(&m->mu);
    m->prompt_tokens += (uint64_t)n;
    pthread_mutex_unlock(&m->mu);
}

static void count_token(qs_metrics *m) {
    m->gen_tokens++;
    int64_t s = now_sec();
    int k = (int)(s % RATE_WINDOW);
    if (m->rate_sec[k] != s) {
        m->rate_sec[k] = s;
        m->rate_tokens[k] = 0;
    }
    m->rate_tokens[k]++;
}

void qs_metrics_first_token(qs_metrics *m, double ttft) {
    pthread_mutex_lock(&m->mu);
    observe(&m->ttft, ttft_le, N_TTFT, ttft);
    count_token(m);
    pthread_mutex_unlock(&m->mu);
}

void qs_metrics_next_token(qs_metrics *m, double itl) {
    pthread_mutex_lock(&m->mu);
    observe(&m->itl, itl_le, N_ITL, itl);
    count_token(m);
    pthread_mutex_unlock(&m->mu);
}

void qs_metrics_finished(qs_metrics *m, const char *reason) {
    pthread_mutex_lock(&m->mu);
    if (!strcmp(reason, "stop")) m->finished_stop++;
    else if (!strcmp(reason, "length")) m->finished_length++;
    else if (!strcmp(reason, "cancelled")) m->finished_cancelled++;
    else m->finished_error++;
    pthread_mutex_unlock(&m->mu);
}

void qs_metrics_preempted(qs_metrics *m) {
    pthread_mutex_lock(&m->mu);
    m->preemptions++;
    pthread_mutex_unlock(&m->mu);
}

void qs_metrics_prefix_hit(qs_metrics *m, int64_t tokens) {
    pthread_mutex_lock(&m->mu);
    m->prefix_hit_tokens += (uint64_t)tokens;
    pthread_mutex_unlock(&m->mu);
}

void qs_metrics_step(qs_metrics *m, int n_decode, int n_prefill, int mixed) {
    pthread_mutex_lock(&m->mu);
    m->steps++;
    m->mixed_steps += mixed != 0;
    m->decode_rows += (uint64_t)n_decode;
    m->prefill_tokens += (uint64_t)n_prefill;
    pthread_mutex_unlock(&m->mu);
}

/* A growing string. */
typedef struct sb {
    char *p;
    size_t n, cap;
    int oom;
} sb;

static void put(sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#include <stdarg.h>
static void put(sb *b, const char *fmt, ...) {
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->oom = 1;
            return;
        }
        if ((size_t)k < b->cap - b->n) {
            b->n += (size_t)k;
            return;
        }
        size_t cap = b->cap * 2 + (size_t)k;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
}

static void put_hist(sb *b, const char *name, const char *help, const histogram *h, const double *le, int n) {
    put(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (int i = 0; i < n; i++) {
        cum += h->bucket[i];
        put(b, "%s_bucket{le=\"%g\"} %llu\n", name, le[i], (unsigned long long)cum);
    }
    put(b, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name, (unsigned long long)h->count, name, h->sum,
        name, (unsigned long long)h->count);
}

static void put_one(sb *b, const char *name, const char *type, const char *help, double v) {
    put(b, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, v);
}

char *qs_metrics_render(qs_metrics *m, const qs_sched_stats *st) {
    sb b = {malloc(4096), 0, 4096, 0};
    if (!b.p) return NULL;
    b.p[0] = 0;
    pthread_mutex_lock(&m->mu);
    put_one(&b, "quanta_requests_running", "gauge", "Requests holding a batch slot (prefilling or decoding).", st->running);
    put_one(&b, "quanta_requests_queued", "gauge", "Requests waiting for a slot or KV blocks.", st->queued);
    put_one(&b, "quanta_batch_slots", "gauge", "Sequences that can decode together (--max-batch).", st->max_batch);
    put_one(&b, "quanta_kv_blocks_used", "gauge", "KV cache blocks held by running requests.", (double)st->kv_blocks_used);
    put_one(&b, "quanta_kv_blocks_total", "gauge", "KV cache blocks in the pool (--kv-blocks).", (double)st->kv_blocks_total);
    put_one(&b, "quanta_kv_block_refs", "gauge",
            "Block-table entries of running requests (blocks they would hold without sharing).",
            (double)st->kv_blocks_held);
    put_one(&b, "quanta_kv_blocks_cached", "gauge",
            "KV blocks no request holds that keep a published prompt prefix until evicted.", (double)st->kv_blocks_cached);
    put_one(&b, "quanta_prefix_cache_evictions_total", "counter",
            "Cached prefix blocks dropped to give a request a block.", (double)st->prefix_evictions);
    put_one(&b, "quanta_kv_local_blocks_used", "gauge",
            "Blocks of the sliding-window layers' own pools held (0 without such layers).", (double)st->kv_local_used);
    put_one(&b, "quanta_kv_local_blocks_total", "gauge", "Blocks in the sliding-window layers' own pools.",
            (double)st->kv_local_total);
    int64_t now = now_sec();
    uint64_t recent = 0;
    for (int k = 0; k < RATE_WINDOW; k++)
        if (m->rate_sec[k] > now - RATE_WINDOW && m->rate_sec[k] < now) recent += m->rate_tokens[k];
    put_one(&b, "quanta_generation_tokens_per_second", "gauge",
            "Generated tokens per second over the last complete seconds (window 9 s).", (double)recent / (RATE_WINDOW - 1));
    put_one(&b, "quanta_generation_tokens_total", "counter", "Generated tokens.", (double)m->gen_tokens);
    put_one(&b, "quanta_prompt_tokens_total", "counter", "Prompt tokens prefilled.", (double)m->prompt_tokens);
    put_one(&b, "quanta_scheduler_steps_total", "counter", "Scheduler steps.", (double)m->steps);
    put_one(&b, "quanta_scheduler_decode_rows_total", "counter", "Decode rows over all steps (mean batch = rows / steps).",
            (double)m->decode_rows);
    put_one(&b, "quanta_scheduler_mixed_steps_total", "counter",
            "Steps whose decode rows and first prompt pieces ran in one device step.", (double)m->mixed_steps);
    put_one(&b, "quanta_scheduler_prefill_tokens_total", "counter", "Prompt tokens computed (recomputation included).",
            (double)m->prefill_tokens);
    put_one(&b, "quanta_prefix_cache_hit_tokens_total", "counter",
            "Prompt positions taken from shared KV blocks instead of computed (prefix sharing).",
            (double)m->prefix_hit_tokens);
    put_one(&b, "quanta_preemptions_total", "counter", "Requests preempted for KV blocks (recomputed later).",
            (double)m->preemptions);
    put(&b, "# HELP quanta_requests_finished_total Requests that left the scheduler, by reason.\n"
            "# TYPE quanta_requests_finished_total counter\n");
    put(&b, "quanta_requests_finished_total{reason=\"stop\"} %llu\n", (unsigned long long)m->finished_stop);
    put(&b, "quanta_requests_finished_total{reason=\"length\"} %llu\n", (unsigned long long)m->finished_length);
    put(&b, "quanta_requests_finished_total{reason=\"cancelled\"} %llu\n", (unsigned long long)m->finished_cancelled);
    put(&b, "quanta_requests_finished_total{reason=\"error\"} %llu\n", (unsigned long long)m->finished_error);
    put(&b, "# HELP quanta_http_responses_total HTTP responses by route and status.\n"
            "# TYPE quanta_http_responses_total counter\n");
    for (int i = 0; i < m->n_http; i++)
        put(&b, "quanta_http_responses_total{route=\"%s\",code=\"%d\"} %llu\n", m->http[i].route, m->http[i].code,
            (unsigned long long)m->http[i].n);
    put_hist(&b, "quanta_time_to_first_token_seconds", "Time from submission to the first generated token.", &m->ttft,
             ttft_le, N_TTFT);
    put_hist(&b, "quanta_inter_token_latency_seconds", "Time between consecutive tokens of a request.", &m->itl, itl_le,
             N_ITL);
    pthread_mutex_unlock(&m->mu);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}
