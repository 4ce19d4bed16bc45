/*
 * scheduler.c — continuous batching over one model (scheduler.h).
 *
 * The thread owns the model: every quanta_model_* call that runs the graph happens here. The KV
 * cache is paged (quanta_kv_pool: one K and one V pool per layer, blocks of QS_KV_BLOCK
 * positions); each running request holds a slot (its index in the block allocator, kv_pool.h)
 * and a block table. One step: requests that left are dropped (their blocks freed), queued ones
 * are admitted while their prompt's blocks fit, every request past its prompt decodes one token
 * in one batched paged step (quanta_model_eval_paged, one paged_attention per layer for all of
 * them), and the remaining token budget of the step goes to prompt pieces of prefill_chunk
 * tokens; the decode rows run in the same device step as the first round of pieces (one pass
 * over the weights; QUANTA_SERVE_MIXED_STEP=0: a step of their own first). Prompt pieces always start at multiples of prefill_chunk (a multiple of the block
 * size), so a request's computation does not depend on what else is running.
 *
 * Blocks are taken on demand: admission takes the prompt's, a decode step that starts a new
 * block takes one; when none is left the youngest running request is preempted: its blocks and
 * slot are freed and it goes back to the head of the queue, to recompute its prompt and the
 * tokens it had generated. Models with sliding-window layers (Gemma 3) give those layers pools
 * and tables of their own (lpool): a sequence holds local blocks only for the positions its
 * window still covers; blocks the window has left are freed before each step.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kv_pool.h"
#include "metrics.h"
#include "sched_order.h"
#include "scheduler.h"

struct qs_sched {
    quanta_model *model;
    qs_sched_config cfg;
    qs_metrics *metrics;
    int32_t V;
    pthread_t thread;
    int thread_started;
    pthread_mutex_t mu;
    pthread_cond_t news;      /* outputs changed (clients wait on it) */
    pthread_cond_t work;      /* a request arrived, was cancelled, or stop */
    qs_req *q_head, *q_tail;
    int32_t n_queued, n_running;
    qs_req **slot;            /* [max_batch], NULL = free */
    quanta_kv_pool *kv;       /* the paged KV cache */
    int32_t max_blocks;       /* block-table columns: ceil(n_ctx / QS_KV_BLOCK) */
    int32_t *tables;          /* a step's block tables, [max_batch or 1][max_blocks] */
    qs_kv_pool pool, lpool;   /* block allocators: every layer's / the sliding-window layers' */
    int has_local;            /* the model's sliding-window layers have pools of their own */
    int32_t window;
    int32_t *ltables;         /* a step's local block tables */
    int32_t *match;           /* [2][max_blocks]: admission's shared blocks (global, local) */
    qs_req **cand;            /* the queue in admission order */
    int32_t cand_cap;
    qs_req **pre_order;       /* [max_batch] prefilling requests in the order their pieces are given */
    qs_order_rec *order_rec;  /* [max(cand_cap, max_batch)]: the keyed records either order sorts */
    uint64_t next_seq;
    int stop, draining;
    uint64_t next_order, seed_counter;
    int news_pending;         /* the scheduler thread has news for the clients (one broadcast a step) */
    float *logits;            /* max_batch * V (decode) */
    int32_t *greedy;          /* max_batch: a greedy decode step's tokens, chosen on the device */
    int mixed;                /* decode rows and the first round of pieces in one step (QUANTA_SERVE_MIXED_STEP) */
    int piece_chunks;         /* a prompt piece spans up to this many chunks (QUANTA_SERVE_PIECE_CHUNKS) */
};

/* A step's decode rows (their tables are rows [0, n) of s->tables) when they run in one device
 * step with the first round of prompt pieces; all_greedy: their tokens come from s->greedy (else
 * from s->logits), st: the step's status. */
typedef struct qs_decode_rows {
    int n;
    const int32_t *tok, *pos;
    int all_greedy;
    quanta_status st;
} qs_decode_rows;

/* The longest prompt piece a step runs (quanta_model_eval_paged_pieces' limit). */
#define QS_MAX_PIECE 256

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ------------------------------------------------------------------ requests */

qs_req *qs_req_new(int32_t *prompt, int32_t n_prompt, const qs_gen_params *p) {
    qs_req *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->prompt = prompt;
    r->n_prompt = n_prompt;
    r->p = *p;
    r->refs = 1;
    r->slot = -1;
    return r;
}

static void req_free(qs_req *r) {
    for (int i = 0; i < r->p.n_stop; i++) free(r->p.stop[i]);
    quanta_model_sampler_destroy(r->sampler);
    free(r->prompt);
    free(r->block_hash);
    free(r->out);
    free(r->text);
    free(r);
}

void qs_req_free_unsubmitted(qs_req *r) {
    if (r) req_free(r);
}

static void unref(qs_req *r) {
    if (--r->refs == 0) req_free(r);
}

static int text_append(qs_req *r, const char *s, size_t n) {
    if (r->text_len + n + 1 > r->text_cap) {
        size_t cap = r->text_cap ? r->text_cap : 256;
        while (cap < r->text_len + n + 1) cap *= 2;
        char *t = realloc(r->text, cap);
        if (!t) return -1;
        r->text = t;
        r->text_cap = cap;
    }
    memcpy(r->text + r->text_len, s, n);
    r->text_len += n;
    r->text[r->text_len] = 0;
    return 0;
}

/* Bytes at the end of text that start an incomplete UTF-8 sequence (held back until complete). */
static size_t utf8_incomplete_tail(const char *t, size_t n) {
    for (size_t k = 1; k <= 3 && k <= n; k++) {
        unsigned char c = (unsigned char)t[n - k];
        if ((c & 0xC0) == 0x80) continue; /* continuation byte: look further back */
        size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        return need > k ? k : 0;
    }
    return 0;
}

/* First occurrence of a stop string in text, or -1; *hold gets the longest text suffix that is a
 * proper prefix of a stop string (it may still become one). */
static long find_stop(const qs_req *r, size_t *hold) {
    long best = -1;
    *hold = 0;
    for (int i = 0; i < r->p.n_stop; i++) {
        const char *s = r->p.stop[i];
        size_t ls = strlen(s);
        if (!ls) continue;
        for (size_t p = 0; p + ls <= r->text_len; p++)
            if (!memcmp(r->text + p, s, ls)) {
                if (best < 0 || (long)p < best) best = (long)p;
                break;
            }
        for (size_t k = ls - 1; k > *hold; k--)
            if (k <= r->text_len && !memcmp(r->text + r->text_len - k, s, k)) {
                *hold = k;
                break;
            }
    }
    return best;
}

/* ------------------------------------------------------------------ news */

/* Set on the scheduler thread: its news for the clients (a token, a finished request) wait for
 * the end of the step, so a step of n streams wakes every waiting client once instead of n
 * times (each wake-up of n waiters contends for the lock the scheduler holds). */
static _Thread_local int on_sched_thread;

static void news(qs_sched *s) {
    if (on_sched_thread) s->news_pending = 1;
    else pthread_cond_broadcast(&s->news);
}

/* The scheduler thread's deferred news, sent (with the lock held). */
static void flush_news(qs_sched *s) {
    if (!s->news_pending) return;
    s->news_pending = 0;
    pthread_cond_broadcast(&s->news);
}

/* ------------------------------------------------------------------ slots */

/* Ends a running or queued request: it leaves the scheduler (its slot and blocks freed). */
static void finish(qs_sched *s, qs_req *r, const char *reason) {
    if (r->slot >= 0) {
        s->slot[r->slot] = NULL;
        s->n_running--;
        qs_kv_pool_free_seq(&s->pool, r->slot);
        if (s->has_local) qs_kv_pool_free_seq(&s->lpool, r->slot);
        r->slot = -1;
    }
    r->state = QS_DONE;
    if (!r->finish_reason && !r->error[0]) r->finish_reason = reason;
    r->text_final = r->text_len;
    qs_metrics_finished(s->metrics, r->cancelled ? "cancelled" : r->error[0] ? "error" : reason);
    news(s);
    unref(r);
}

static void fail(qs_sched *s, qs_req *r, const char *what) {
    snprintf(r->error, sizeof r->error, "%s: %s", what, quanta_last_error());
    finish(s, r, NULL);
}

static void queue_push_front(qs_sched *s, qs_req *r) {
    r->next = s->q_head;
    s->q_head = r;
    if (!s->q_tail) s->q_tail = r;
    s->n_queued++;
}

static void queue_remove(qs_sched *s, qs_req *r) {
    qs_req **pp = &s->q_head, *prev = NULL;
    while (*pp && *pp != r) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (!*pp) return;
    *pp = r->next;
    if (s->q_tail == r) s->q_tail = prev;
    r->next = NULL;
    s->n_queued--;
}

/* Tokens a request must (re)compute before it decodes: its prompt, and after a preemption the
 * tokens it had generated except the last (which the next decode step feeds). */
static int32_t prefill_len(const qs_req *r) { return r->n_prompt + (r->n_out > 0 ? r->n_out - 1 : 0); }
static int32_t prefill_token(const qs_req *r, int32_t i) {
    return i < r->n_prompt ? r->prompt[i] : r->out[i - r->n_prompt].id;
}

/* The youngest running request (largest admission order). */
static qs_req *youngest(qs_sched *s) {
    qs_req *y = NULL;
    for (int i = 0; i < s->cfg.max_batch; i++)
        if (s->slot[i] && (!y || s->slot[i]->order > y->order)) y = s->slot[i];
    return y;
}

/* Frees r's slot and blocks and puts it back at the head of the queue (recomputed later). */
static void preempt(qs_sched *s, qs_req *r) {
    s->slot[r->slot] = NULL;
    s->n_running--;
    qs_kv_pool_free_seq(&s->pool, r->slot);
    if (s->has_local) qs_kv_pool_free_seq(&s->lpool, r->slot);
    r->slot = -1;
    r->state = QS_QUEUED;
    r->n_prefilled = 0;
    queue_push_front(s, r);
    qs_metrics_preempted(s->metrics);
}

/* r's prompt blocks' chain hashes (kept: a preempted request looks its prefix up again). */
static void hash_prompt(qs_req *r) {
    if (r->block_hash || r->n_prompt < QS_KV_BLOCK) return;
    int32_t n = r->n_prompt / QS_KV_BLOCK;
    if (!(r->block_hash = malloc((size_t)n * sizeof *r->block_hash))) return; /* no sharing for r */
    uint64_t h = 0;
    for (int32_t j = 0; j < n; j++) r->block_hash[j] = h = qs_kv_block_hash(h, r->prompt + (size_t)j * QS_KV_BLOCK);
    r->n_hash = n;
}

/* How many leading blocks of r's prompt are published in the pools (kv_pool.h), their ids in
 * gblk and, with sliding-window pools, lblk (-1 for blocks the window at the first computed
 * position no longer covers; every block it does cover must be found too). Only whole blocks
 * before the prompt's last token are shared: that token is computed for its logits, and a
 * sequence writes only at and after its first computed position, so it never writes into a block
 * it shares (no copy on write is ever needed). */
static int32_t prefix_match(qs_sched *s, qs_req *r, int32_t *gblk, int32_t *lblk) {
    if (!s->cfg.prefix_cache) return 0;
    hash_prompt(r);
    int32_t k = (r->n_prompt - 1) / QS_KV_BLOCK, j;
    if (k > r->n_hash) k = r->n_hash;
    for (j = 0; j < k; j++)
        if ((gblk[j] = qs_kv_pool_lookup(&s->pool, r->block_hash[j], r->prompt + (size_t)j * QS_KV_BLOCK)) < 0) break;
    k = j;
    while (s->has_local && k > 0) { /* a miss inside the window: compute from that block on */
        int64_t lo = (int64_t)k * QS_KV_BLOCK - s->window + 1;
        lo = lo > 0 ? lo / QS_KV_BLOCK : 0;
        for (j = 0; j < k; j++) {
            lblk[j] = j < lo ? -1 : qs_kv_pool_lookup(&s->lpool, r->block_hash[j], r->prompt + (size_t)j * QS_KV_BLOCK);
            if (j >= lo && lblk[j] < 0) break;
        }
        if (j == k) break;
        k = j;
    }
    return k;
}

/* Blocks among ids[0, n) that no sequence holds (attaching them takes them from the free count). */
static int64_t n_unheld(const qs_kv_pool *p, const int32_t *ids, int32_t n) {
    int64_t c = 0;
    for (int32_t j = 0; j < n; j++) c += ids[j] >= 0 && p->ref[ids[j]] == 0;
    return c;
}

/* ---------------------------------------------------------------- admission order */

/* Length buckets: a request's expected positions (what it still computes plus what it may still
 * generate) in powers of two of the prefill chunk. */
static int length_bucket(const qs_sched *s, const qs_req *r) {
    int64_t len = (int64_t)prefill_len(r) + r->p.max_tokens - r->n_out, edge = s->cfg.prefill_chunk;
    int b = 0;
    while (len > edge && b < 30) edge *= 2, b++;
    return b;
}

/* Who is admitted first: 0 a preempted request (it has streamed tokens already), 1 one that has
 * waited QS_ADMIT_AGE_S or more (no request starves behind shorter ones), 2 the rest. */
#define QS_ADMIT_AGE_S 2.0
static int admit_class(const qs_req *r, double now) {
    return r->n_out > 0 ? 0 : now - r->t_submit >= QS_ADMIT_AGE_S ? 1 : 2;
}

/* The queue in admission order (s->cand): FIFO, or length-bucketed (cfg.bucketed). Returns its
 * length. */
static int32_t admission_order(qs_sched *s) {
    int32_t n = 0;
    for (qs_req *r = s->q_head; r && n < s->cand_cap; r = r->next) s->cand[n++] = r;
    if (s->cfg.bucketed && n > 1) {
        /* by class, then (the rest) length bucket, then submission order */
        const double now = now_s();
        for (int32_t i = 0; i < n; i++) {
            const qs_req *r = s->cand[i];
            const int cls = admit_class(r, now);
            s->order_rec[i] = (qs_order_rec){{cls, cls == 2 ? length_bucket(s, r) : 0}, r->seq, s->cand[i]};
        }
        qs_order_sort(s->order_rec, (size_t)n);
        for (int32_t i = 0; i < n; i++) s->cand[i] = s->order_rec[i].item;
    }
    return n;
}

/* Whether r fits now: its shared prompt blocks (s->match), then the rest of its (re)computed
 * prompt and its first new token in the free blocks; *shared gets the shared block count. */
static int fits(qs_sched *s, qs_req *r, int32_t *shared) {
    int32_t *gblk = s->match, *lblk = s->match + s->max_blocks;
    int32_t k = *shared = prefix_match(s, r, gblk, lblk);
    int64_t take = qs_kv_blocks_for(prefill_len(r) + 1) - k + n_unheld(&s->pool, gblk, k);
    int32_t from = k * QS_KV_BLOCK, left = prefill_len(r) + 1 - from, room = s->cfg.prefill_chunk - from % s->cfg.prefill_chunk;
    int32_t first = left < room ? left : room;
    if (s->has_local && qs_kv_blocks_for(first) + n_unheld(&s->lpool, lblk, k) > qs_kv_pool_free(&s->lpool) &&
        s->n_running > 0)
        return 0;
    /* Alone in the scheduler a request that fits the pool at all is admitted (the local pools
     * make room by preempting it piece by piece if they must). */
    return take <= qs_kv_pool_free(&s->pool) || s->n_running == 0;
}

static void admit(qs_sched *s) {
    while (s->q_head && s->n_running < s->cfg.max_batch) {
        /* The first request in admission order that fits; one that must not be overtaken (FIFO,
         * preempted, or waiting too long) and does not fit holds the rest back until blocks come
         * back. A request that can never fit the pool is refused rather than kept waiting. */
        qs_req *r = NULL;
        int32_t shared = 0, n = admission_order(s);
        double now = now_s();
        for (int32_t c = 0; c < n && !r; c++) {
            qs_req *q = s->cand[c];
            int64_t need = qs_kv_blocks_for(prefill_len(q) + 1);
            if (need > s->pool.total) {
                queue_remove(s, q);
                snprintf(q->error, sizeof q->error, "the request needs %lld KV blocks, the pool has %lld",
                         (long long)need, (long long)s->pool.total);
                finish(s, q, NULL);
                n = -1;
                break;
            }
            if (fits(s, q, &shared)) r = q;
            else if (!s->cfg.bucketed || admit_class(q, now) < 2) break;
        }
        if (n < 0) continue; /* the queue changed */
        if (!r) return;
        queue_remove(s, r);
        int i = 0;
        while (s->slot[i]) i++;
        s->slot[i] = r;
        r->slot = i;
        s->n_running++;
        r->state = QS_PREFILL;
        r->order = ++s->next_order;
        r->t_admit = now;
        int32_t *gblk = s->match, *lblk = s->match + s->max_blocks;
        if (shared && (!qs_kv_pool_attach(&s->pool, i, gblk, shared) ||
                       (s->has_local && !qs_kv_pool_attach(&s->lpool, i, lblk, shared)))) {
            qs_kv_pool_free_seq(&s->pool, i); /* out of memory for the table: compute it all */
            shared = 0;
        }
        r->n_prefilled = shared * QS_KV_BLOCK;
        if (shared) qs_metrics_prefix_hit(s->metrics, r->n_prefilled);
        qs_kv_pool_grow(&s->pool, i, prefill_len(r) + 1); /* fits: checked above */
        if (!r->sampler) {
            quanta_model_sampler_params sp;
            quanta_model_sampler_default_params(&sp);
            sp.temperature = r->p.temperature;
            sp.top_p = r->p.top_p;
            sp.top_k = 0;
            sp.seed = r->p.has_seed ? r->p.seed : (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ull + ++s->seed_counter;
            if (quanta_model_sampler_create(&sp, &r->sampler)) {
                fail(s, r, "sampler");
                continue;
            }
        }
    }
}

/* ---------------------------------------------------------------- sampling */

/* log-softmax of one row at the chosen token and the top alternatives. */
static void logprobs(const float *l, int32_t V, qs_token_out *t, int top) {
    float mx = l[0];
    for (int32_t i = 1; i < V; i++) mx = l[i] > mx ? l[i] : mx;
    double sum = 0;
    for (int32_t i = 0; i < V; i++) sum += exp((double)l[i] - mx);
    double lse = mx + log(sum);
    t->logprob = (float)(l[t->id] - lse);
    for (int k = 0; k < top; k++) {
        int32_t best = -1;
        for (int32_t i = 0; i < V; i++) {
            int taken = 0;
            for (int j = 0; j < k; j++) taken |= t->top_id[j] == i;
            if (!taken && (best < 0 || l[i] > l[best])) best = i;
        }
        t->top_id[k] = best;
        t->top_logprob[k] = (float)(l[best] - lse);
    }
}

/* Appends r's next token tok (from its sampler, or chosen on the device by a greedy step: -1
 * there is a row with a NaN or only -inf, which the sampler refuses too); row: its logits, for
 * logprobs (NULL after a greedy step, which only requests without logprobs take). Called with
 * the lock held. */
static void emit_token(qs_sched *s, qs_req *r, int32_t tok, const float *row) {
    if (tok < 0 || quanta_model_sampler_accept(r->sampler, tok)) {
        fail(s, r, "sampling");
        return;
    }
    r->n_generated++;
    double t = now_s();
    if (r->n_out == 0 && !r->t_first) {
        r->t_first = t;
        qs_metrics_first_token(s->metrics, t - r->t_submit);
    } else {
        qs_metrics_next_token(s->metrics, t - r->t_last);
    }
    r->t_last = t;
    if (quanta_model_token_is_eog(s->model, tok)) {
        finish(s, r, "stop");
        return;
    }
    if (r->n_out == r->cap_out) {
        int32_t cap = r->cap_out ? 2 * r->cap_out : 64;
        qs_token_out *o = realloc(r->out, (size_t)cap * sizeof *o);
        if (!o) {
            snprintf(r->error, sizeof r->error, "out of memory for generated tokens");
            finish(s, r, NULL);
            return;
        }
        r->out = o;
        r->cap_out = cap;
    }
    qs_token_out *o = &r->out[r->n_out];
    memset(o, 0, sizeof *o);
    o->id = tok;
    if (r->p.logprobs && row) logprobs(row, s->V, o, r->p.top_logprobs);
    char piece[256];
    size_t len = 0;
    if (quanta_model_token_to_piece(s->model, tok, 0, piece, sizeof piece, &len) || text_append(r, piece, len)) {
        fail(s, r, "detokenize");
        return;
    }
    o->text_end = r->text_len;
    r->n_out++;
    size_t hold = 0;
    long at = find_stop(r, &hold);
    if (at >= 0) {
        r->text_len = (size_t)at;
        r->text[at] = 0;
        finish(s, r, "stop");
        return;
    }
    size_t tail = utf8_incomplete_tail(r->text, r->text_len);
    if (tail > hold) hold = tail;
    r->text_final = r->text_len - hold;
    if (r->n_out >= r->p.max_tokens || --r->n_ctx_left <= 0) {
        finish(s, r, "length");
        return;
    }
    news(s);
}

/* Samples r's next token from its logits row and appends it (called with the lock held). */
static void emit(qs_sched *s, qs_req *r, const float *row) {
    int32_t tok = -1;
    if (quanta_model_sample(r->sampler, row, (size_t)s->V, &tok)) tok = -1;
    emit_token(s, r, tok, row);
}

/* Whether r's next token is the argmax of its logits and nothing else of them is wanted: then
 * a decode step can choose it on the device (quanta_model_eval_paged_greedy). */
static int greedy_only(const qs_req *r) { return r->p.temperature <= 0.0f && !r->p.logprobs; }

/* ------------------------------------------------------------------ one step */

/* The position a decoding request feeds its last token at: its prompt and every generated token
 * but the last are in its blocks. */
static int32_t decode_position(const qs_req *r) { return r->n_prompt + r->n_out - 1; }

/* Slot i's block table in allocator a as a row of max_blocks ids (-1 past its blocks and for
 * blocks a window has left: never read). */
static void table_row(const qs_kv_pool *a, int i, int32_t max_blocks, int32_t *row) {
    int64_t n = a->n_blocks[i];
    for (int64_t j = 0; j < max_blocks; j++) row[j] = j < n ? a->table[i][j] : -1;
}

/* Before slot i's step that writes positions [from, from + T): its local blocks the window has
 * left (queries from `from` on see keys after from - window) go back, and it gets local blocks
 * up to from + T. Preempts the youngest running request while none is free; 0 when slot i itself
 * was preempted. */
static int local_prepare(qs_sched *s, int i, int64_t from, int64_t T) {
    if (!s->has_local) return 1;
    qs_req *r = s->slot[i];
    qs_kv_pool_release_before(&s->lpool, i, from - s->window + 1);
    while (s->slot[i] == r && !qs_kv_pool_grow(&s->lpool, i, from + T)) preempt(s, youngest(s));
    return s->slot[i] == r;
}

/* Prefill pieces go first to requests admitted QS_ADMIT_AGE_S or more ago (oldest first: none
 * starves), then to the one with the fewest prompt tokens left (its first token comes soonest). */
/* The prefilling requests in the order the step's budget goes to them (s->pre_order): slot order,
 * or with cfg.bucketed as prefill_cmp says. Returns their count. */
static int32_t prefill_order(qs_sched *s) {
    int32_t n = 0;
    for (int i = 0; i < s->cfg.max_batch; i++)
        if (s->slot[i] && s->slot[i]->state == QS_PREFILL) s->pre_order[n++] = s->slot[i];
    if (s->cfg.bucketed && n > 1) {
        /* those admitted QS_ADMIT_AGE_S ago first (no prompt starves), then the fewest prompt
         * tokens left, then admission order */
        const double now = now_s();
        for (int32_t i = 0; i < n; i++) {
            const qs_req *r = s->pre_order[i];
            const int old = now - r->t_admit >= QS_ADMIT_AGE_S;
            const int64_t left = old ? 0 : prefill_len(r) - r->n_prefilled;
            s->order_rec[i] = (qs_order_rec){{!old, left}, r->order, s->pre_order[i]};
        }
        qs_order_sort(s->order_rec, (size_t)n);
        for (int32_t i = 0; i < n; i++) s->pre_order[i] = s->order_rec[i].item;
    }
    return n;
}

/* Publishes the whole prompt blocks that r's piece [from, from + n) computed, for other
 * requests with the same prefix (kv_pool.h). */
static void publish(qs_sched *s, qs_req *r, int32_t from, int32_t n) {
    if (!s->cfg.prefix_cache) return;
    for (int32_t j = from / QS_KV_BLOCK; j < r->n_hash && (j + 1) * QS_KV_BLOCK <= from + n; j++) {
        const int32_t *tok = r->prompt + (size_t)j * QS_KV_BLOCK;
        qs_kv_pool_publish(&s->pool, r->slot, j, r->block_hash[j], tok);
        if (s->has_local) qs_kv_pool_publish(&s->lpool, r->slot, j, r->block_hash[j], tok);
    }
}

/* One round of prompt pieces (sel: indices into the step's pieces, none of one request twice)
 * in one paged step, then under the lock each piece's prefix blocks published and, for a
 * prompt's last piece, the first token emitted: chosen on the device when every such request
 * in the round is greedy without logprobs, else sampled from its logits row. d (NULL: none): the
 * step's decode rows, which then run first in the same device step (quanta_model_eval_paged_pieces
 * with pieces of one token: one pass over the weights for both), their outputs in s->greedy or
 * s->logits rows [0, d->n) as a decode step's, the pieces' after them. */
static void prefill_round(qs_sched *s, qs_req *const *pre_req, const int32_t *pre_from, const int32_t *pre_n,
                          const int *sel, int ns, quanta_status *pst, int32_t **ptoks, size_t *ptoks_cap,
                          float **plog, size_t *plog_cap, qs_decode_rows *d) {
    const int nd = d ? d->n : 0, nr = nd + ns;
    int32_t *lens = malloc(3 * (size_t)nr * sizeof *lens), *from = lens ? lens + nr : NULL;
    int32_t *first = d ? s->greedy : lens ? lens + 2 * nr : NULL; /* rows' greedy tokens */
    size_t total = (size_t)nd;
    int need_host = d && !d->all_greedy, need_any = nd > 0;
    for (int i = 0; i < ns; i++) {
        const qs_req *r = pre_req[sel[i]];
        const int need = pre_from[sel[i]] + pre_n[sel[i]] == prefill_len(r) && r->n_out == 0;
        need_any |= need;
        need_host |= need && !greedy_only(r);
        total += (size_t)pre_n[sel[i]];
    }
    quanta_status st = lens ? QUANTA_OK : QUANTA_ERR_OUT_OF_MEMORY;
    if (!st && total > *ptoks_cap) {
        int32_t *t = realloc(*ptoks, total * sizeof *t);
        if (t) *ptoks = t, *ptoks_cap = total;
        else st = QUANTA_ERR_OUT_OF_MEMORY;
    }
    const size_t nl = need_host ? (size_t)nr * (size_t)s->V : 0;
    if (!st && !d && nl > *plog_cap) { /* a mixed step's rows fit s->logits (distinct slots) */
        float *l = realloc(*plog, nl * sizeof *l);
        if (l) *plog = l, *plog_cap = nl;
        else st = QUANTA_ERR_OUT_OF_MEMORY;
    }
    float *lg = d ? s->logits : *plog;
    size_t at = 0;
    for (int i = 0; !st && i < nd; i++) {
        lens[i] = 1;
        from[i] = d->pos[i];
        (*ptoks)[at++] = d->tok[i];
    }
    for (int i = 0; !st && i < ns; i++) {
        const int k = sel[i];
        qs_req *r = pre_req[k];
        lens[nd + i] = pre_n[k];
        from[nd + i] = pre_from[k];
        for (int32_t j = 0; j < pre_n[k]; j++) (*ptoks)[at++] = prefill_token(r, pre_from[k] + j);
        /* The slots' tables only change on this thread: read them without the lock. */
        table_row(&s->pool, r->slot, s->max_blocks, s->tables + (size_t)(nd + i) * (size_t)s->max_blocks);
        if (s->has_local)
            table_row(&s->lpool, r->slot, s->max_blocks, s->ltables + (size_t)(nd + i) * (size_t)s->max_blocks);
    }
    if (!st)
        st = quanta_model_eval_paged_pieces(s->kv, nr, lens, *ptoks, from, s->tables, s->has_local ? s->ltables : NULL,
                                            need_host ? lg : NULL, nl, need_any && !need_host ? first : NULL);
    for (int i = 0; i < ns; i++) pst[sel[i]] = st;
    if (d) d->st = st, d->all_greedy = !need_host;
    if (st) {
        free(lens);
        return;
    }
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < ns; i++) {
        const int k = sel[i];
        qs_req *r = pre_req[k];
        publish(s, r, pre_from[k], pre_n[k]);
        if (pre_from[k] + pre_n[k] == prefill_len(r) && r->n_out == 0) {
            r->n_prefilled = pre_from[k] + pre_n[k];
            r->state = QS_DECODE;
            qs_metrics_prompt_tokens(s->metrics, r->n_prompt);
            if (need_host) emit(s, r, lg + (size_t)(nd + i) * (size_t)s->V);
            else emit_token(s, r, first[nd + i], NULL);
        }
    }
    flush_news(s); /* first tokens go out before the next round */
    pthread_mutex_unlock(&s->mu);
    free(lens);
}

/* The step's prompt pieces in rounds (pno: each piece's place among its request's), a piece
 * skipped (with its status) when its request's previous piece failed. */
static void prefill_rounds(qs_sched *s, qs_req *const *pre_req, const int32_t *pre_from, const int32_t *pre_n,
                           const int *pno, int n_pre, quanta_status *pst, qs_decode_rows *d) {
    int32_t *ptoks = NULL;
    float *plog = NULL;
    size_t ptoks_cap = 0, plog_cap = 0;
    for (int round = 0;; round++) {
        int sel[64], ns = 0, any = 0;
        for (int k = 0; k < n_pre; k++) {
            if (pno[k] != round) continue;
            any = 1;
            if (round > 0 && pst[k - 1]) pst[k] = pst[k - 1]; /* an earlier piece failed: skip the rest */
            else sel[ns++] = k;
        }
        if (!any) break;
        if (ns)
            prefill_round(s, pre_req, pre_from, pre_n, sel, ns, pst, &ptoks, &ptoks_cap, &plog, &plog_cap,
                          round ? NULL : d);
    }
    free(ptoks);
    free(plog);
}

static void step(qs_sched *s) {
    const int B = s->cfg.max_batch;
    qs_req **dreq = malloc((size_t)B * sizeof *dreq);
    int32_t *dtok = malloc((size_t)B * sizeof *dtok), *dpos = malloc((size_t)B * sizeof *dpos);
    int nd = 0;
    if (!dreq || !dtok || !dpos) goto out;
    /* Decoders, each with a block for its next position (preempting the youngest when none). */
    for (int i = 0; i < B; i++) {
        qs_req *r = s->slot[i];
        if (!r || r->state != QS_DECODE) continue;
        while (s->slot[i] == r && !qs_kv_pool_grow(&s->pool, i, decode_position(r) + 1)) {
            qs_req *y = youngest(s);
            preempt(s, y);
        }
        if (s->slot[i] == r) local_prepare(s, i, decode_position(r), 1);
    }
    for (int i = 0; i < B; i++) {
        qs_req *r = s->slot[i];
        if (!r || r->state != QS_DECODE) continue;
        dreq[nd] = r;
        dtok[nd] = r->out[r->n_out - 1].id;
        dpos[nd] = decode_position(r);
        table_row(&s->pool, i, s->max_blocks, s->tables + (size_t)nd * (size_t)s->max_blocks);
        if (s->has_local) table_row(&s->lpool, i, s->max_blocks, s->ltables + (size_t)nd * (size_t)s->max_blocks);
        r->refs++; /* kept through the step: finish() may drop the scheduler's reference */
        nd++;
    }
    /* Prompt pieces for the rest of the budget (at least one piece per step when any waits). */
    int32_t budget = s->cfg.step_tokens - nd, chunk = s->cfg.prefill_chunk;
    int n_pre = 0;
    qs_req *pre_req[64];
    int32_t pre_from[64], pre_n[64];
    int32_t n_order = prefill_order(s);
    for (int o = 0; o < n_order && n_pre < 64; o++) {
        qs_req *r = s->pre_order[o];
        if (r->slot < 0 || r->state != QS_PREFILL) continue; /* preempted for an earlier one's local blocks */
        int i = r->slot;
        int32_t at = r->n_prefilled, total = prefill_len(r);
        /* With local pools one piece per request and step: the window's release before a piece
         * must not free blocks an earlier piece of the same step still writes and reads. */
        int pieces = 0;
        while (at < total && n_pre < 64 && (budget > 0 || n_pre == 0) && !(s->has_local && pieces)) {
            /* Pieces end on the chunk grid, also after a shared prefix (a multiple of the block),
             * and span up to piece_chunks chunks while the budget lasts. */
            int32_t n = total - at < chunk - at % chunk ? total - at : chunk - at % chunk;
            for (int c = 1; c < s->piece_chunks && at + n < total && n < budget && n + chunk <= QS_MAX_PIECE; c++)
                n += total - at - n < chunk ? total - at - n : chunk;
            if (!local_prepare(s, i, at, n)) break; /* preempted for local blocks */
            pieces++;
            pre_req[n_pre] = r;
            pre_from[n_pre] = at;
            pre_n[n_pre] = n;
            r->refs++;
            n_pre++;
            budget -= n;
            at += n;
        }
    }
    flush_news(s); /* before the device work: admission may have finished requests */
    pthread_mutex_unlock(&s->mu);

    quanta_status dst = QUANTA_OK;
    /* A step of greedy requests only reads back their tokens, not nd rows of n_vocab logits. */
    int all_greedy = 1;
    for (int k = 0; k < nd; k++) all_greedy &= greedy_only(dreq[k]);
    /* With prompt pieces to run, the decode rows join the first round's device step (round 0
     * always has a piece: every request's first piece is in it). */
    qs_decode_rows dec = {nd, dtok, dpos, all_greedy, QUANTA_OK}, *mixed = s->mixed && nd && n_pre ? &dec : NULL;
    if (!mixed && nd && all_greedy)
        dst = quanta_model_eval_paged_greedy(s->kv, nd, 1, dtok, dpos, s->tables, s->has_local ? s->ltables : NULL,
                                             s->greedy);
    else if (!mixed && nd)
        dst = quanta_model_eval_paged(s->kv, nd, 1, dtok, dpos, s->tables, s->has_local ? s->ltables : NULL, s->logits,
                                      (size_t)nd * (size_t)s->V);
    /* Prefill outside the lock: the request cannot leave its slot meanwhile (only this thread
     * frees slots); its tokens are read-only here. The pieces go in rounds, round j holding the
     * j-th piece of each request (a request's pieces depend on each other), each round one
     * step for all its pieces (quanta_model_eval_paged_pieces: one pass over the weights). */
    quanta_status pst[64];
    int pno[64]; /* the piece's place among its request's pieces this step */
    for (int k = 0; k < n_pre; k++) pno[k] = k > 0 && pre_req[k - 1] == pre_req[k] ? pno[k - 1] + 1 : 0;
    prefill_rounds(s, pre_req, pre_from, pre_n, pno, n_pre, pst, mixed);
    if (mixed) dst = dec.st, all_greedy = dec.all_greedy;
    int32_t n_pre_tokens = 0;
    for (int k = 0; k < n_pre; k++) n_pre_tokens += pre_n[k];
    qs_metrics_step(s->metrics, nd, n_pre_tokens, mixed != NULL);

    pthread_mutex_lock(&s->mu);
    for (int k = 0; k < n_pre; k++) {
        qs_req *r = pre_req[k];
        if (r->state != QS_PREFILL || r->slot < 0) continue; /* already decoding, or failed */
        if (pst[k]) {
            fail(s, r, "prefill");
            continue;
        }
        r->n_prefilled = pre_from[k] + pre_n[k];
        if (r->n_prefilled == prefill_len(r)) r->state = QS_DECODE; /* recomputed after preemption */
    }
    for (int k = 0; k < nd; k++) {
        qs_req *r = dreq[k];
        if (r->state != QS_DECODE) continue;
        if (dst) fail(s, r, "decode");
        else if (all_greedy) emit_token(s, r, s->greedy[k], NULL);
        else emit(s, r, s->logits + (size_t)k * (size_t)s->V);
    }
    for (int k = 0; k < n_pre; k++) unref(pre_req[k]);
    for (int k = 0; k < nd; k++) unref(dreq[k]);
out:
    free(dreq);
    free(dtok);
    free(dpos);
}

static void *run(void *arg) {
    qs_sched *s = arg;
    on_sched_thread = 1;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        flush_news(s); /* the last step's tokens */
        for (int i = 0; i < s->cfg.max_batch; i++)
            if (s->slot[i] && s->slot[i]->cancelled) finish(s, s->slot[i], "cancelled");
        admit(s);
        if (s->n_running == 0) {
            flush_news(s);
            if (s->stop) break;
            pthread_cond_wait(&s->work, &s->mu);
            continue;
        }
        step(s);
    }
    flush_news(s);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ------------------------------------------------------------------ public */

quanta_status qs_sched_create(quanta_model *model, const qs_sched_config *cfg, qs_metrics *metrics, qs_sched **out,
                              char *err, size_t err_cap) {
    if (err_cap) err[0] = '\0';
    quanta_model_info info;
    quanta_status st = quanta_model_get_info(model, &info);
    if (st) {
        snprintf(err, err_cap, "%s", quanta_last_error());
        return st;
    }
    qs_sched *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, err_cap, "out of host memory");
        return QUANTA_ERR_OUT_OF_MEMORY;
    }
    s->model = model;
    s->cfg = *cfg;
    s->metrics = metrics;
    s->V = info.n_vocab;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->news, NULL);
    pthread_cond_init(&s->work, NULL);
    s->slot = calloc((size_t)cfg->max_batch, sizeof *s->slot);
    s->max_blocks = (int32_t)((cfg->n_ctx + QS_KV_BLOCK - 1) / QS_KV_BLOCK);
    s->tables = malloc((size_t)cfg->max_batch * (size_t)s->max_blocks * sizeof *s->tables);
    s->ltables = malloc((size_t)cfg->max_batch * (size_t)s->max_blocks * sizeof *s->ltables);
    s->match = malloc(2 * (size_t)s->max_blocks * sizeof *s->match);
    s->cand_cap = cfg->max_queue + cfg->max_batch; /* preempted requests may join a full queue */
    s->cand = malloc((size_t)(s->cand_cap ? s->cand_cap : 1) * sizeof *s->cand);
    s->pre_order = malloc((size_t)cfg->max_batch * sizeof *s->pre_order);
    const int32_t n_rec = s->cand_cap > cfg->max_batch ? s->cand_cap : cfg->max_batch;
    s->order_rec = malloc((size_t)n_rec * sizeof *s->order_rec);
    s->window = info.sliding_window;
    s->logits = malloc((size_t)cfg->max_batch * (size_t)s->V * sizeof *s->logits);
    s->greedy = malloc((size_t)cfg->max_batch * sizeof *s->greedy);
    const char *mixed = getenv("QUANTA_SERVE_MIXED_STEP"); /* =0: decode rows and pieces in steps of their own */
    s->mixed = !(mixed && *mixed == '0');
    /* A piece of several chunks: a long prompt needs fewer steps to its first token (with local
     * pools a request gets one piece a step). 1 (the default): a chunk. At most QS_MAX_PIECE tokens. */
    const char *chunks = getenv("QUANTA_SERVE_PIECE_CHUNKS");
    s->piece_chunks = chunks && atoi(chunks) >= 1 && atoi(chunks) <= 16 ? atoi(chunks) : 1;
    /* Local pools: what every slot's window needs at most (the window, the longest piece, one
     * block of misalignment), unless given. */
    int64_t local = cfg->kv_local_blocks, longest = (int64_t)s->piece_chunks * cfg->prefill_chunk;
    if (longest > QS_MAX_PIECE) longest = QS_MAX_PIECE > cfg->prefill_chunk ? QS_MAX_PIECE : cfg->prefill_chunk;
    if (!local && s->window > 0 && s->window < cfg->n_ctx)
        local = (int64_t)cfg->max_batch * (qs_kv_blocks_for((int64_t)s->window + longest) + 1);
    if (!s->slot || !s->tables || !s->ltables || !s->match || !s->cand || !s->pre_order || !s->order_rec || !s->logits || !s->greedy ||
        qs_kv_pool_init(&s->pool, cfg->kv_blocks, cfg->max_batch) ||
        qs_kv_pool_init(&s->lpool, local, cfg->max_batch)) {
        st = QUANTA_ERR_OUT_OF_MEMORY;
        snprintf(err, err_cap, "out of host memory for the tables of %d slots of %d positions and %lld KV blocks",
                 cfg->max_batch, cfg->n_ctx, (long long)cfg->kv_blocks);
    }
    if (!st && (cfg->kv_blocks > INT32_MAX / QS_KV_BLOCK || local > INT32_MAX / QS_KV_BLOCK)) {
        st = QUANTA_ERR_INVALID_ARGUMENT;
        snprintf(err, err_cap, "%lld KV blocks (%lld sliding-window blocks) exceed the pool's %d",
                 (long long)cfg->kv_blocks, (long long)local, INT32_MAX / QS_KV_BLOCK);
    }
    if (!st && local > 0) {
        /* A window but no sliding-window layers (every layer windowed alike): one pool. */
        st = quanta_kv_pool_create(model, cfg->kv_dtype, (int32_t)cfg->kv_blocks, (int32_t)local, QS_KV_BLOCK,
                                   s->max_blocks, &s->kv);
        s->has_local = st == QUANTA_OK;
        if (st == QUANTA_ERR_INVALID_ARGUMENT) st = QUANTA_OK;
    }
    if (!st && !s->kv)
        st = quanta_kv_pool_create(model, cfg->kv_dtype, (int32_t)cfg->kv_blocks, 0, QS_KV_BLOCK, s->max_blocks,
                                   &s->kv);
    if (st && !err[0]) snprintf(err, err_cap, "%s", quanta_last_error()); /* the pool's creation */
    if (!st && pthread_create(&s->thread, NULL, run, s)) {
        st = QUANTA_ERR_BACKEND;
        snprintf(err, err_cap, "cannot start the scheduler thread");
    }
    if (st) {
        qs_sched_destroy(s);
        return st;
    }
    s->thread_started = 1;
    *out = s;
    return QUANTA_OK;
}

void qs_sched_drain(qs_sched *s) {
    pthread_mutex_lock(&s->mu);
    s->draining = 1;
    while (s->n_queued || s->n_running) pthread_cond_wait(&s->news, &s->mu);
    pthread_mutex_unlock(&s->mu);
}

void qs_sched_destroy(qs_sched *s) {
    if (!s) return;
    if (s->thread_started) {
        pthread_mutex_lock(&s->mu);
        s->draining = 1;
        for (int i = 0; i < s->cfg.max_batch; i++)
            if (s->slot[i]) s->slot[i]->cancelled = 1;
        while (s->q_head) {
            qs_req *r = s->q_head;
            queue_remove(s, r);
            r->cancelled = 1;
            finish(s, r, "cancelled");
        }
        s->stop = 1;
        pthread_cond_signal(&s->work);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
    }
    quanta_kv_pool_destroy(s->kv);
    qs_kv_pool_destroy(&s->pool);
    qs_kv_pool_destroy(&s->lpool);
    free(s->tables);
    free(s->ltables);
    free(s->match);
    free(s->cand);
    free(s->pre_order);
    free(s->order_rec);
    free(s->slot);
    free(s->logits);
    free(s->greedy);
    pthread_cond_destroy(&s->news);
    pthread_cond_destroy(&s->work);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

qs_submit_result qs_sched_submit(qs_sched *s, qs_req *r) {
    if (r->n_prompt + 1 > s->cfg.n_ctx) return QS_SUBMIT_TOO_LONG;
    pthread_mutex_lock(&s->mu);
    qs_submit_result res = QS_SUBMIT_OK;
    if (s->draining) res = QS_SUBMIT_DRAINING;
    else if (s->n_queued >= s->cfg.max_queue) res = QS_SUBMIT_FULL;
    if (!res) {
        r->refs++;
        r->state = QS_QUEUED;
        r->t_submit = now_s();
        r->seq = ++s->next_seq;
        r->n_ctx_left = s->cfg.n_ctx - r->n_prompt;
        r->next = NULL;
        if (s->q_tail) s->q_tail->next = r;
        else s->q_head = r;
        s->q_tail = r;
        s->n_queued++;
        pthread_cond_signal(&s->work);
    }
    pthread_mutex_unlock(&s->mu);
    return res;
}

void qs_sched_release(qs_sched *s, qs_req *r) {
    pthread_mutex_lock(&s->mu);
    if (r->state == QS_QUEUED) {
        queue_remove(s, r);
        r->cancelled = 1;
        finish(s, r, "cancelled");
    } else if (r->state != QS_DONE) {
        r->cancelled = 1;
        pthread_cond_signal(&s->work);
    }
    unref(r);
    pthread_mutex_unlock(&s->mu);
}

void qs_sched_lock(qs_sched *s) { pthread_mutex_lock(&s->mu); }
void qs_sched_unlock(qs_sched *s) { pthread_mutex_unlock(&s->mu); }

void qs_sched_wait(qs_sched *s, double seconds) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    double ns = (double)t.tv_nsec + seconds * 1e9;
    t.tv_sec += (time_t)(ns / 1e9);
    t.tv_nsec = (long)fmod(ns, 1e9);
    pthread_cond_timedwait(&s->news, &s->mu, &t);
}

void qs_sched_stats_get(qs_sched *s, qs_sched_stats *st) {
    pthread_mutex_lock(&s->mu);
    st->running = s->n_running;
    st->queued = s->n_queued;
    st->max_batch = s->cfg.max_batch;
    st->kv_blocks_used = s->pool.used;
    st->kv_blocks_total = s->pool.total;
    st->kv_local_used = s->has_local ? s->lpool.used : 0;
    st->kv_local_total = s->has_local ? s->lpool.total : 0;
    st->kv_blocks_cached = s->pool.n_lru;
    st->kv_blocks_held = s->pool.held;
    st->prefix_evictions = s->pool.evictions + s->lpool.evictions;
    st->draining = s->draining;
    pthread_mutex_unlock(&s->mu);
}

int32_t qs_sched_n_ctx(const qs_sched *s) { return s->cfg.n_ctx; }
const quanta_model *qs_sched_model(const qs_sched *s) { return s->model; }
