/*
 * scheduler.h — continuous batching: one thread drives the model; requests join the running batch
 * between steps, prompts are prefilled in fixed-size chunks mixed with the decode steps of running
 * requests under a per-step token budget, and finished or cancelled requests leave at once.
 *
 * A request is shared by the HTTP thread that submitted it and the scheduler (reference counted);
 * everything in it below "output" is guarded by the scheduler's lock and announced on its
 * condition variable (qs_sched_wait).
 */
#ifndef QUANTA_SERVER_SCHEDULER_H
#define QUANTA_SERVER_SCHEDULER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "quanta.h"

struct qs_metrics;

#define QS_MAX_STOP 4
#define QS_MAX_TOP_LOGPROBS 5

/* What a client asked for (openai_request.c fills it in). */
typedef struct qs_gen_params {
    int32_t max_tokens;        /* generated tokens at most (clamped to the context) */
    float temperature;         /* 0 = greedy */
    float top_p;               /* 1 = off */
    uint64_t seed;
    int has_seed;
    char *stop[QS_MAX_STOP];   /* stop strings (owned), not part of the output */
    int n_stop;
    int logprobs;              /* whether token log-probabilities are returned */
    int top_logprobs;          /* 0..QS_MAX_TOP_LOGPROBS alternatives per token */
} qs_gen_params;

/* One generated token as the client sees it. */
typedef struct qs_token_out {
    int32_t id;
    float logprob;
    int32_t top_id[QS_MAX_TOP_LOGPROBS];
    float top_logprob[QS_MAX_TOP_LOGPROBS];
    size_t text_end;           /* bytes of req->text once this token's piece is appended */
} qs_token_out;

typedef enum qs_state { QS_QUEUED = 0, QS_PREFILL, QS_DECODE, QS_DONE } qs_state;

typedef struct qs_req {
    /* set before submit, then read-only */
    int32_t *prompt;
    int32_t n_prompt;
    qs_gen_params p;
    /* output: guarded by the scheduler's lock */
    qs_state state;
    qs_token_out *out;         /* generated tokens (an end-of-generation token is counted, not kept) */
    int32_t n_generated;       /* tokens sampled, for usage counts */
    int32_t n_out, cap_out;
    char *text;                /* their text; [0, text_final) can no longer change */
    size_t text_len, text_cap, text_final;
    const char *finish_reason; /* "stop", "length", or NULL while running */
    char error[256];           /* non-empty: the request failed (the scheduler's message) */
    int cancelled;             /* set by the client side: leave at the next step */
    double t_submit, t_first, t_last, t_admit;
    /* scheduler-private */
    int refs;
    int slot;
    int32_t n_prefilled;
    int32_t n_ctx_left;        /* positions this request may still use */
    quanta_model_sampler *sampler;
    uint64_t order;            /* admission order (the youngest is preempted first) */
    uint64_t seq;              /* submission order */
    uint64_t *block_hash;      /* chain hashes of the prompt's whole blocks (kv_pool.h), at admission */
    int32_t n_hash;
    struct qs_req *next;       /* queue link */
} qs_req;

typedef struct qs_sched_config {
    int32_t n_ctx;             /* positions per sequence */
    int32_t max_batch;         /* sequences decoding together */
    int32_t max_queue;         /* waiting requests before submit refuses (429) */
    int32_t step_tokens;       /* token budget of one step: decodes + prefill chunks */
    int32_t prefill_chunk;     /* prompt tokens per prefill piece (fixed: results do not depend on load) */
    int64_t kv_blocks;         /* KV blocks of QS_KV_BLOCK positions in the pool (kv_pool.h) */
    int64_t kv_local_blocks;   /* blocks of the sliding-window layers' own pools (0 = as many as the
                                * sequences' windows need at most) */
    int prefix_cache;          /* share computed prompt blocks between requests (kv_pool.h) */
    int bucketed;              /* length-bucketed admission and shortest-prompt-first prefill (else FIFO) */
    quanta_dtype kv_dtype;     /* the pool's element dtype (quanta_kv_pool_create): f32/f16/bf16, q8, fp8_e4m3 */
} qs_sched_config;

typedef struct qs_sched qs_sched;

/* Creates the contexts and starts the scheduler thread. On failure err (err_cap bytes) says what
 * failed, with the library's message where a library call failed. */
quanta_status qs_sched_create(quanta_model *model, const qs_sched_config *cfg, struct qs_metrics *metrics,
                              qs_sched **out, char *err, size_t err_cap);
/* Finishes every request (running ones first drain: see qs_sched_drain), stops the thread, frees. */
void qs_sched_destroy(qs_sched *s);
/* Stop admitting: submit refuses from now on; returns once nothing is queued or running. */
void qs_sched_drain(qs_sched *s);

/* A new request owning prompt (malloc'd) and p's strings; refs = 1 (the caller's). */
qs_req *qs_req_new(int32_t *prompt, int32_t n_prompt, const qs_gen_params *p);
/* Frees a request nobody submitted. */
void qs_req_free_unsubmitted(qs_req *r);

typedef enum qs_submit_result { QS_SUBMIT_OK = 0, QS_SUBMIT_FULL, QS_SUBMIT_DRAINING, QS_SUBMIT_TOO_LONG } qs_submit_result;
/* Queues r (the scheduler takes its own reference). */
qs_submit_result qs_sched_submit(qs_sched *s, qs_req *r);
/* Drops the caller's reference; a request still running is cancelled (its slot freed at once). */
void qs_sched_release(qs_sched *s, qs_req *r);

/* The lock that guards requests' outputs, and waiting for news of r (until a deadline in
 * seconds from now; returns when r has news, is done, or the time passed). */
void qs_sched_lock(qs_sched *s);
void qs_sched_unlock(qs_sched *s);
void qs_sched_wait(qs_sched *s, double seconds);

/* Counts for /metrics and /health (taken under the lock). */
typedef struct qs_sched_stats {
    int32_t running, queued, max_batch;
    int64_t kv_blocks_used, kv_blocks_total;
    int64_t kv_local_used, kv_local_total; /* sliding-window layers' pools (0 when none) */
    int64_t kv_blocks_cached;              /* held by none, kept for prefix sharing */
    int64_t kv_blocks_held;                /* block-table entries holding blocks (>= used when shared) */
    uint64_t prefix_evictions;             /* cached blocks dropped (both pools) */
    int draining;
} qs_sched_stats;
void qs_sched_stats_get(qs_sched *s, qs_sched_stats *st);

int32_t qs_sched_n_ctx(const qs_sched *s);
const quanta_model *qs_sched_model(const qs_sched *s);

#endif
