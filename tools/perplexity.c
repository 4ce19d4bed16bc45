/* perplexity.c — llama.cpp's perplexity over non-overlapping windows (perplexity.h). */
#include "perplexity.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Rows of logits requested at once while scoring: bounds the memory to this many n_vocab rows
 * (Gemma's 262k vocabulary makes a row 1 MiB). */
#define SCORE_BATCH 32

/* -log softmax(row)[target], in double. */
static double nll_of(const float *row, int32_t n_vocab, int32_t target) {
    double mx = row[0];
    for (int32_t i = 1; i < n_vocab; i++)
        if (row[i] > mx) mx = row[i];
    double sum = 0;
    for (int32_t i = 0; i < n_vocab; i++) sum += exp((double)row[i] - mx);
    return log(sum) + mx - (double)row[target];
}

quanta_status qn_perplexity(quanta_model *model, const int32_t *tokens, size_t n, int n_ctx, int max_windows,
                            int32_t bos, qn_ppl_window_fn on_window, void *user, qn_ppl *out) {
    memset(out, 0, sizeof *out);
    if (n_ctx < 4 || n < (size_t)n_ctx) return QUANTA_ERR_INVALID_ARGUMENT;
    quanta_model_info info;
    quanta_status st = quanta_model_get_info(model, &info);
    if (st) return st;
    size_t V = (size_t)info.n_vocab;
    int windows = (int)(n / (size_t)n_ctx);
    if (max_windows > 0 && windows > max_windows) windows = max_windows;
    int32_t *w = malloc((size_t)n_ctx * sizeof *w);
    float *logits = malloc(SCORE_BATCH * V * sizeof *logits);
    quanta_model_context *ctx = NULL;
    if (!w || !logits) st = QUANTA_ERR_OUT_OF_MEMORY;
    if (!st) st = quanta_model_context_create(model, n_ctx, &ctx);
    const int first = n_ctx / 2;
    for (int k = 0; k < windows && !st; k++) {
        memcpy(w, tokens + (size_t)k * (size_t)n_ctx, (size_t)n_ctx * sizeof *w);
        if (bos >= 0) w[0] = bos;
        quanta_model_context_reset(ctx);
        /* The first half is context only; positions first .. n_ctx-2 each predict the next token. */
        st = quanta_model_eval(ctx, w, (size_t)first, NULL, 0);
        for (int j = first; j < n_ctx - 1 && !st; j += SCORE_BATCH) {
            int b = n_ctx - 1 - j < SCORE_BATCH ? n_ctx - 1 - j : SCORE_BATCH;
            st = quanta_model_eval(ctx, w + j, (size_t)b, logits, (size_t)b * V);
            for (int r = 0; r < b && !st; r++) {
                double nll = nll_of(logits + (size_t)r * V, info.n_vocab, w[j + r + 1]);
                out->nll_sum += nll;
                out->nll_sq_sum += nll * nll;
                out->count++;
            }
        }
        if (!st) {
            out->windows++;
            if (on_window) on_window(user, k, qn_ppl_value(out));
        }
    }
    quanta_model_context_destroy(ctx);
    free(w);
    free(logits);
    return st;
}

double qn_ppl_value(const qn_ppl *p) { return p->count ? exp(p->nll_sum / (double)p->count) : NAN; }

double qn_ppl_error(const qn_ppl *p) {
    if (p->count < 2) return NAN;
    double mean = p->nll_sum / (double)p->count, var = p->nll_sq_sum / (double)p->count - mean * mean;
    if (var < 0) var = 0;
    return qn_ppl_value(p) * sqrt(var / (double)(p->count - 1));
}
