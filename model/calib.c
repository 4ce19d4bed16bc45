/*
 * calib.c — activation statistics for calibrated quantization: runs the model in capture mode
 * (every linear layer's input read back after each step, context.c) and keeps, per input
 * channel, the sums of x^2 and |x| over the tokens seen. clip_search.c turns sum x^2 / rows
 * = E[x_k^2] into the weights of the quantization error.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calib.h"
#include "error.h"

void qn_act_stats_free(qn_act_stats *s) {
    if (!s) return;
    for (int i = 0; s->site && i < s->n_sites; i++) {
        free(s->site[i].sum_sq);
        free(s->site[i].sum_abs);
    }
    free(s->site);
    free(s);
}

static quanta_status accumulate(void *user, int site, const float *rows, int64_t n_rows, int64_t cols) {
    qn_act_stats *s = user;
    if (site < 0 || site >= s->n_sites)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_model_collect_act_stats: site %d of %d", site, s->n_sites);
    qn_act_site *a = &s->site[site];
    if (!a->sum_sq) {
        a->cols = cols;
        a->sum_sq = calloc((size_t)cols, sizeof *a->sum_sq);
        a->sum_abs = calloc((size_t)cols, sizeof *a->sum_abs);
        if (!a->sum_sq || !a->sum_abs)
            return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "qn_model_collect_act_stats: no memory");
    } else if (a->cols != cols) {
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_model_collect_act_stats: site %d has %lld cols, was %lld",
                            site, (long long)cols, (long long)a->cols);
    }
    for (int64_t r = 0; r < n_rows; r++) {
        const float *x = rows + r * cols;
        for (int64_t k = 0; k < cols; k++) {
            double v = x[k];
            a->sum_sq[k] += v * v;
            a->sum_abs[k] += fabs(v);
        }
    }
    a->rows += (uint64_t)n_rows;
    return QUANTA_OK;
}

quanta_status qn_model_collect_act_stats(quanta_model *m, const int32_t *tokens, size_t n, int32_t n_ctx,
                                         qn_act_stats **out) {
    return qn_model_collect_act_stats_progress(m, tokens, n, n_ctx, NULL, NULL, out);
}

quanta_status qn_model_collect_act_stats_progress(quanta_model *m, const int32_t *tokens, size_t n, int32_t n_ctx,
                                                  quanta_progress_fn fn, void *user, qn_act_stats **out) {
    if (!out) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_model_collect_act_stats: out is NULL");
    *out = NULL;
    if (!m) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_model_collect_act_stats: model is NULL");
    if (!tokens || !n) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_model_collect_act_stats: no tokens");
    if (n_ctx < 0) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_model_collect_act_stats: n_ctx %d < 0", n_ctx);
    if (n_ctx == 0) n_ctx = m->cfg.n_ctx_train > 0 && m->cfg.n_ctx_train < 4096 ? m->cfg.n_ctx_train : 4096;
    if ((size_t)n_ctx > n) n_ctx = (int32_t)n;
    qn_act_stats *s = calloc(1, sizeof *s);
    if (!s) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "qn_model_collect_act_stats: no memory");
    s->n_layer = m->cfg.n_layer;
    s->n_sites = m->cfg.n_layer * QN_SITES_PER_LAYER + 1;
    s->site = calloc((size_t)s->n_sites, sizeof *s->site);
    quanta_model_context *ctx = NULL;
    quanta_status st = s->site ? quanta_model_context_create(m, n_ctx, &ctx)
                               : qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "qn_model_collect_act_stats: no memory");
    if (!st) qn_model_context_set_capture(ctx, accumulate, s);
    /* Windows of n_ctx tokens; later windows restart the sequence with BOS when the text has it. */
    const int bos = m->tok && tokens[0] == qn_tokenizer_special(m->tok, 0);
    int32_t *win = st ? NULL : malloc((size_t)n_ctx * sizeof *win);
    if (!st && !win) st = qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "qn_model_collect_act_stats: no memory");
    for (size_t done = 0; !st && done < n;) {
        size_t k = 0;
        if (done && bos) win[k++] = tokens[0];
        size_t take = n - done < (size_t)n_ctx - k ? n - done : (size_t)n_ctx - k;
        memcpy(win + k, tokens + done, take * sizeof *win);
        quanta_model_context_reset(ctx);
        st = quanta_model_eval(ctx, win, k + take, NULL, 0);
        if (!st) s->n_tokens += k + take;
        done += take;
        if (!st && fn) fn(user, "calibration", (double)done / (double)n);
    }
    free(win);
    quanta_model_context_destroy(ctx);
    if (st) {
        qn_act_stats_free(s);
        return st;
    }
    *out = s;
    return QUANTA_OK;
}

/* Layer number after `prefix` ("blk." or "layers."), and what follows it. */
static int layer_of(const char *name, const char *prefix, const char **rest) {
    const char *p = strstr(name, prefix);
    if (!p) return -1;
    p += strlen(prefix);
    if (*p < '0' || *p > '9') return -1;
    long il = 0;
    while (*p >= '0' && *p <= '9' && il < 1000000) il = il * 10 + (*p++ - '0');
    if (*p != '.') return -1;
    *rest = p + 1;
    return (int)il;
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf) && (a == b || s[a - b - 1] == '.');
}

const qn_act_site *qn_act_stats_find(const qn_act_stats *s, const char *name, int tied_head) {
    static const struct { const char *suffix; int site; } map[] = {
        {"attn_q.weight", QN_SITE_ATTN_IN}, {"attn_k.weight", QN_SITE_ATTN_IN}, {"attn_v.weight", QN_SITE_ATTN_IN},
        {"attn_output.weight", QN_SITE_ATTN_OUT}, {"ffn_gate.weight", QN_SITE_FFN_IN}, {"ffn_up.weight", QN_SITE_FFN_IN},
        {"ffn_down.weight", QN_SITE_FFN_DOWN},
        {"self_attn.q_proj.weight", QN_SITE_ATTN_IN}, {"self_attn.k_proj.weight", QN_SITE_ATTN_IN},
        {"self_attn.v_proj.weight", QN_SITE_ATTN_IN}, {"self_attn.o_proj.weight", QN_SITE_ATTN_OUT},
        {"mlp.gate_proj.weight", QN_SITE_FFN_IN}, {"mlp.up_proj.weight", QN_SITE_FFN_IN},
        {"mlp.down_proj.weight", QN_SITE_FFN_DOWN},
    };
    if (!s || !name) return NULL;
    int idx = -1;
    const char *rest = NULL;
    int il = layer_of(name, "blk.", &rest);
    if (il < 0) il = layer_of(name, "layers.", &rest);
    if (il >= 0) {
        for (size_t i = 0; i < sizeof map / sizeof *map && idx < 0; i++)
            if (!strcmp(rest, map[i].suffix)) idx = il < s->n_layer ? QN_SITE(il, map[i].site) : -1;
    } else if (!strcmp(name, "output.weight") || ends_with(name, "lm_head.weight") ||
               (tied_head && (!strcmp(name, "token_embd.weight") || ends_with(name, "embed_tokens.weight")))) {
        idx = s->n_sites - 1;
    }
    if (idx < 0 || !s->site[idx].sum_sq || !s->site[idx].rows) return NULL;
    return &s->site[idx];
}
