/*
 * sampler.c — next-token choice: repetition penalty over the recent tokens, then greedy
 * argmax (temperature <= 0) or temperature, top-k, top-p and a draw from a seeded
 * generator (splitmix64), so a fixed seed reproduces a run. Without top-k nothing sorts the
 * whole vocabulary: the draw walks the ids, or with top-p a sorted head grown as far as the
 * cut reaches.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "model_internal.h"

typedef struct qn_cand {
    float v;
    int32_t id;
} qn_cand;

struct quanta_model_sampler {
    quanta_model_sampler_params p;
    uint64_t rng;
    int32_t *recent; /* ring of the last repeat_last_n tokens */
    int32_t n_recent, head;
    float *work;     /* n_vocab logits after penalties */
    qn_cand *cand;
    size_t cap;
};

void quanta_model_sampler_default_params(quanta_model_sampler_params *p) {
    if (!p) return;
    p->temperature = 0.0f;
    p->top_k = 40;
    p->top_p = 0.95f;
    p->repeat_penalty = 1.0f;
    p->repeat_last_n = 64;
    p->seed = 0;
}

quanta_status quanta_model_sampler_create(const quanta_model_sampler_params *p, quanta_model_sampler **out) {
    if (!out) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_sampler_create: out is NULL");
    *out = NULL;
    if (!p) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_sampler_create: params is NULL");
    if (!(p->temperature == p->temperature) || !(p->top_p == p->top_p) || !(p->repeat_penalty > 0.0f) ||
        !isfinite(p->repeat_penalty) || !isfinite(p->temperature))
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "quanta_model_sampler_create: temperature %g, top_p %g, repeat_penalty %g (need finite, penalty > 0)",
                            (double)p->temperature, (double)p->top_p, (double)p->repeat_penalty);
    if (p->repeat_last_n < 0 || p->repeat_last_n > (1 << 20))
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_sampler_create: repeat_last_n %d", p->repeat_last_n);
    quanta_model_sampler *s = calloc(1, sizeof *s);
    if (!s) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_model_sampler_create: no memory");
    s->p = *p;
    s->rng = p->seed ^ 0x5DEECE66Dull;
    if (p->repeat_last_n) {
        s->recent = malloc((size_t)p->repeat_last_n * sizeof *s->recent);
        if (!s->recent) {
            free(s);
            return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_model_sampler_create: no memory");
        }
    }
    *out = s;
    return QUANTA_OK;
}

void quanta_model_sampler_destroy(quanta_model_sampler *s) {
    if (!s) return;
    free(s->recent);
    free(s->work);
    free(s->cand);
    free(s);
}

quanta_status quanta_model_sampler_accept(quanta_model_sampler *s, int32_t token) {
    if (!s) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_sampler_accept: sampler is NULL");
    if (token < 0) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_sampler_accept: token %d < 0", token);
    if (!s->p.repeat_last_n) return QUANTA_OK;
    s->recent[s->head] = token;
    s->head = (s->head + 1) % s->p.repeat_last_n;
    if (s->n_recent < s->p.repeat_last_n) s->n_recent++;
    return QUANTA_OK;
}

static uint64_t next_u64(uint64_t *st) {
    uint64_t z = (*st += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Descending by logit, ties by lower id (deterministic). */
static int by_logit_desc(const void *a, const void *b) {
    const qn_cand *x = a, *y = b;
    if (x->v > y->v) return -1;
    if (x->v < y->v) return 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Partial selection (three-way quickselect): the k largest of c[0, n) to c[0, k), unordered. */
static void select_top(qn_cand *c, size_t n, size_t k) {
    size_t lo = 0, hi = n;
    while (hi - lo > 1) {
        float pivot = c[lo + (hi - lo) / 2].v;
        size_t i = lo, j = hi;
        for (size_t p = lo; p < j;) {
            qn_cand x = c[p];
            if (x.v > pivot) {
                c[p] = c[i]; c[i] = x; i++; p++;
            } else if (x.v < pivot) {
                j--; c[p] = c[j]; c[j] = x;
            } else {
                p++;
            }
        }
        if (k <= i) hi = i;
        else if (k >= j) lo = j;
        else break;
    }
}

/* Grows the sorted head c[0, *done) of c[0, n) (descending, every entry of it >= every one
 * after it): the next largest entries, four times as many as it has (64 at first), selected
 * from the rest and sorted. A draw that stays near the top of a peaked distribution sorts a
 * few hundred candidates instead of the whole vocabulary. */
static void grow_sorted(qn_cand *c, size_t n, size_t *done) {
    size_t to = *done ? 4 * *done : 64;
    if (to > n) to = n;
    if (to < n) select_top(c + *done, n - *done, to - *done);
    qsort(c + *done, to - *done, sizeof *c, by_logit_desc);
    *done = to;
}

/* A draw at temperature t over every candidate c[0, n) (no top-k), with top_p < 1 the smallest
 * head of the descending order whose mass reaches top_p (the sorted head grown only as far as
 * the cut and the draw reach); without top-p no order is needed: the draw walks the ids. */
static int32_t draw_all(quanta_model_sampler *s, qn_cand *c, size_t n, const float *w) {
    const double t = s->p.temperature;
    double maxl = -INFINITY, total = 0;
    for (size_t i = 0; i < n; i++) maxl = w[i] > maxl ? w[i] : maxl;
    for (size_t i = 0; i < n; i++) total += exp(((double)w[i] - maxl) / t);
    if (s->p.top_p >= 1.0f) {
        const double u = (double)(next_u64(&s->rng) >> 11) * (1.0 / 9007199254740992.0) * total;
        double acc = 0;
        size_t pick = 0; /* rounding can leave u >= the running sum: then the last token with mass */
        for (size_t i = 0; i < n; i++) {
            const double p = exp(((double)w[i] - maxl) / t);
            if (p > 0) pick = i;
            acc += p;
            if (u < acc) break;
        }
        return (int32_t)pick;
    }
    for (size_t i = 0; i < n; i++) c[i].v = w[i], c[i].id = (int32_t)i;
    size_t done = 0, keep = n;
    double kept = 0;
    for (size_t i = 0; i < n; i++) { /* the top-p cut */
        if (i == done) grow_sorted(c, n, &done);
        kept += exp(((double)c[i].v - maxl) / t);
        if (kept / total >= s->p.top_p) {
            keep = i + 1;
            break;
        }
    }
    const double u = (double)(next_u64(&s->rng) >> 11) * (1.0 / 9007199254740992.0) * kept;
    double acc = 0;
    size_t pick = 0;
    for (size_t i = 0; i < keep; i++) {
        const double p = exp(((double)c[i].v - maxl) / t);
        if (p > 0) pick = i;
        acc += p;
        if (u < acc) break;
    }
    return c[pick].id;
}

quanta_status quanta_model_sample(quanta_model_sampler *s, const float *logits, size_t n, int32_t *token) {
    if (!s || !logits || !token)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_sample: %s is NULL",
                            !s ? "sampler" : !logits ? "logits" : "token");
    if (n == 0 || n > INT32_MAX)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_sample: n_vocab %zu (1 to 2^31 - 1)", n);
    if (s->cap < n) {
        float *w = realloc(s->work, n * sizeof *w);
        if (w) s->work = w;
        qn_cand *ix = realloc(s->cand, n * sizeof *ix);
        if (ix) s->cand = ix;
        if (!w || !ix) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_model_sample: no memory");
        s->cap = n;
    }
    if (s->p.temperature <= 0.0f && s->p.repeat_penalty == 1.0f) {
        /* Greedy without penalties: one read of the row (a server samples n_vocab-wide rows of
         * every sequence in its batch each step), the same rules as below: a NaN is an error, so
         * is a row of -inf only, the first largest logit wins. */
        size_t best = 0, n_ninf = 0;
        for (size_t i = 0; i < n; i++) {
            const float x = logits[i];
            if (x != x) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_sample: logits[%zu] is NaN", i);
            n_ninf += x == -INFINITY;
            if (x > logits[best]) best = i;
        }
        if (n_ninf == n)
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_sample: every one of the %zu logits is -inf", n);
        *token = (int32_t)best;
        return QUANTA_OK;
    }
    float *w = s->work;
    memcpy(w, logits, n * sizeof *w);
    for (size_t i = 0; i < n; i++)
        if (w[i] != w[i]) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_sample: logits[%zu] is NaN", i);
    if (s->p.repeat_penalty != 1.0f) {
        /* Each distinct recent token once (llama.cpp's rule): positive logits divided. */
        for (int32_t r = 0; r < s->n_recent; r++) {
            int32_t t = s->recent[r];
            int seen = 0;
            for (int32_t q = 0; q < r; q++) seen |= s->recent[q] == t;
            if (seen || (size_t)t >= n) continue;
            w[t] = w[t] > 0 ? w[t] / s->p.repeat_penalty : w[t] * s->p.repeat_penalty;
        }
    }
    /* Infinite logits: softmax's limit gives every +Inf logit an equal share of all the mass and
     * a -Inf logit none; with nothing above -Inf no token can be chosen (an error, also greedy). */
    size_t n_pinf = 0, n_ninf = 0;
    for (size_t i = 0; i < n; i++) {
        n_pinf += w[i] == INFINITY;
        n_ninf += w[i] == -INFINITY;
    }
    if (n_ninf == n)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_sample: every one of the %zu logits is -inf", n);
    if (n_pinf && s->p.temperature > 0.0f) {
        size_t pick = (size_t)((double)(next_u64(&s->rng) >> 11) * (1.0 / 9007199254740992.0) * (double)n_pinf);
        for (size_t i = 0; i < n; i++)
            if (w[i] == INFINITY && pick-- == 0) {
                *token = (int32_t)i;
                return QUANTA_OK;
            }
    }
    if (s->p.temperature <= 0.0f) {
        size_t best = 0;
        for (size_t i = 1; i < n; i++)
            if (w[i] > w[best]) best = i;
        *token = (int32_t)best;
        return QUANTA_OK;
    }
    /* No top-k (a server's default, over a vocabulary of up to 262144): no full sort. */
    size_t k = n;
    if (s->p.top_k > 0 && (size_t)s->p.top_k < k) k = (size_t)s->p.top_k;
    qn_cand *c = s->cand;
    if (k == n) {
        *token = draw_all(s, c, n, w);
        return QUANTA_OK;
    }
    /* The top-k candidates sorted by logit: softmax at temperature, top-p cut, draw. */
    for (size_t i = 0; i < n; i++) {
        c[i].v = w[i];
        c[i].id = (int32_t)i;
    }
    select_top(c, n, k);
    qsort(c, k, sizeof *c, by_logit_desc);
    double maxl = c[0].v, sum = 0;
    double *prob = (double *)malloc(k * sizeof *prob);
    if (!prob) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_model_sample: no memory");
    for (size_t i = 0; i < k; i++) {
        prob[i] = exp(((double)c[i].v - maxl) / s->p.temperature);
        sum += prob[i];
    }
    size_t keep = k;
    if (s->p.top_p < 1.0f) {
        double acc = 0;
        for (size_t i = 0; i < k; i++) {
            acc += prob[i] / sum;
            if (acc >= s->p.top_p) {
                keep = i + 1;
                break;
            }
        }
        sum = 0;
        for (size_t i = 0; i < keep; i++) sum += prob[i];
    }
    double u = (double)(next_u64(&s->rng) >> 11) * (1.0 / 9007199254740992.0) * sum;
    size_t pick = 0; /* rounding can leave u >= the running sum: then the last token with mass */
    double acc = 0;
    for (size_t i = 0; i < keep; i++) {
        if (prob[i] > 0) pick = i;
        acc += prob[i];
        if (u < acc) break;
    }
    *token = c[pick].id;
    free(prob);
    return QUANTA_OK;
}
