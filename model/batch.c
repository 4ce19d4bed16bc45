/*
 * batch.c — batched decode: one new token for each of several sequences (contexts of one
 * model, each at its own position) in a single graph, so every weight matrix is read once for
 * the whole batch. The projections, MLPs and head run on [n, E] rows; rope takes the per-
 * sequence positions as its N dimension; each sequence's k/v row is picked with get_rows and
 * appended to its own cache, attention runs per sequence against that cache, and the outputs
 * are gathered back into rows with write_rows into a small per-layer buffer (f32; with an
 * f16/bf16 KV cache each sequence's q/k/v row is converted to the cache's dtype and its
 * attention output back to f32).
 */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "graph_build.h"
#include "plan.h"
#include "tp_threads.h"

typedef struct qn_batch_step {
    int n;
    uint64_t *key;                /* context ids, in order */
    quanta_graph *graph;
    quanta_plan *plan;
    quanta_tensor *ids, *pos, **start, **kv_len, *logits;
    quanta_tensor **ring_start, **ring_len, **ring_mask; /* per sequence; NULL where no ring */
    quanta_buffer **gather;       /* per layer [1, 1, n, Hq * D] */
    int n_layer;
} qn_batch_step;

static void batch_free(qn_batch_step *s) {
    if (!s) return;
    quanta_plan_destroy(s->plan);
    quanta_graph_destroy(s->graph);
    if (s->gather)
        for (int i = 0; i < s->n_layer; i++) quanta_buffer_destroy(s->gather[i]);
    free(s->gather);
    free(s->key);
    free(s->start);
    free(s->kv_len);
    free(s->ring_start);
    free(s->ring_len);
    free(s->ring_mask);
    free(s);
}

void qn_batch_release(quanta_model *m, const quanta_model_context *ctx) {
    if (!m || !m->batch) return;
    int uses = !ctx;
    for (int i = 0; !uses && i < m->batch->n; i++) uses = m->batch->key[i] == ctx->id;
    if (uses) {
        batch_free(m->batch);
        m->batch = NULL;
    }
}

static quanta_status batch_build(quanta_model *m, quanta_model_context *const *ctxs, int n, qn_batch_step **out) {
    const qn_model_config *c = &m->cfg;
    const int64_t Dh = c->head_dim, Hq = c->n_head, Hkv = c->n_head_kv;
    qn_batch_step *s = calloc(1, sizeof *s);
    if (!s) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_model_eval_batch: no memory");
    s->n = n;
    s->n_layer = c->n_layer;
    s->key = calloc((size_t)n, sizeof *s->key);
    s->start = calloc((size_t)n, sizeof *s->start);
    s->kv_len = calloc((size_t)n, sizeof *s->kv_len);
    s->gather = calloc((size_t)c->n_layer, sizeof *s->gather);
    s->ring_start = calloc((size_t)n, sizeof *s->ring_start);
    s->ring_len = calloc((size_t)n, sizeof *s->ring_len);
    s->ring_mask = calloc((size_t)n, sizeof *s->ring_mask);
    quanta_tensor **idx = calloc((size_t)n, sizeof *idx);
    gb b = {NULL, QUANTA_OK};
    if (!s->key || !s->start || !s->kv_len || !s->gather || !idx || !s->ring_start || !s->ring_len || !s->ring_mask)
        b.st = qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_model_eval_batch: no memory");
    for (int i = 0; i < n && !b.st; i++) s->key[i] = ctxs[i]->id;
    quanta_tensor_desc gd = {QUANTA_F32, 4, {1, 1, n, Hq * Dh}, 0, 0};
    for (int il = 0; il < c->n_layer && !b.st; il++) b.st = quanta_buffer_create(m->backend, &gd, &s->gather[il]);
    if (!b.st) b.st = quanta_graph_create(&s->graph);
    b.g = s->graph;
    s->ids = input(&b, "ids", QUANTA_I32, 1, n, 0);
    s->pos = input(&b, "pos", QUANTA_I32, 1, n, 0);
    quanta_tensor_desc one = {QUANTA_I32, 1, {1, 0, 0, 0}, 0, 0};
    for (int i = 0; i < n && !b.st; i++) {
        s->start[i] = input(&b, "start", QUANTA_I32, 1, 1, 0);
        s->kv_len[i] = input(&b, "kv_len", QUANTA_I32, 1, 1, 0);
        if (ctxs[i]->ring > 0) {
            s->ring_start[i] = input(&b, "ring_start", QUANTA_I32, 1, 1, 0);
            s->ring_len[i] = input(&b, "ring_len", QUANTA_I32, 1, 1, 0);
            s->ring_mask[i] = input(&b, "ring_mask", QUANTA_U8, 2, 1, ctxs[i]->ring);
        }
        int32_t v = i;
        if (!b.st) b.st = quanta_graph_constant(b.g, "row", &one, &v, sizeof v, &idx[i]);
    }
    quanta_tensor *x = qn_gb_embed(&b, m, s->ids);
    for (int il = 0; il < c->n_layer && !b.st; il++) {
        quanta_tensor *q, *k, *v;
        qn_gb_qkv(&b, m, il, x, n, s->pos, &q, &k, &v, NULL);
        /* Back to one row per sequence: [1, H, n, D] -> [n, H * D]. */
        q = reshape(&b, swap12(&b, q, Hq, n, Dh), 2, n, Hq * Dh, 0, 0);
        k = reshape(&b, swap12(&b, k, Hkv, n, Dh), 2, n, Hkv * Dh, 0, 0);
        v = reshape(&b, swap12(&b, v, Hkv, n, Dh), 2, n, Hkv * Dh, 0, 0);
        quanta_tensor *gathered = buf(&b, s->gather[il]);
        quanta_attention_params ap = qn_gb_attn_params(m, il);
        for (int i = 0; i < n && !b.st; i++) {
            quanta_model_context *ctx = ctxs[i];
            quanta_tensor *qi = NULL, *ki = NULL, *vi = NULL, *kc = NULL, *vc = NULL, *a = NULL;
            b.st = quanta_get_rows(b.g, q, idx[i], &qi);
            if (!b.st) b.st = quanta_get_rows(b.g, k, idx[i], &ki);
            if (!b.st) b.st = quanta_get_rows(b.g, v, idx[i], &vi);
            /* get_rows gives f32: convert to the cache's dtype after picking the row. */
            qi = to_dtype(&b, reshape(&b, qi, 4, 1, Hq, 1, Dh), m->kv_dtype);
            ki = to_dtype(&b, reshape(&b, ki, 4, 1, Hkv, 1, Dh), m->kv_dtype);
            vi = to_dtype(&b, reshape(&b, vi, 4, 1, Hkv, 1, Dh), m->kv_dtype);
            /* A ring layer (graph.c): its mask carries causality and the window. */
            int ring = ctx->ring > 0 && qn_model_layer_is_local(c, il);
            quanta_tensor *start = ring ? s->ring_start[i] : s->start[i], *len = ring ? s->ring_len[i] : s->kv_len[i];
            quanta_attention_params api = ap;
            if (ring) api.causal = api.window = 0;
            if (!b.st) b.st = quanta_write_rows(b.g, buf(&b, ctx->k_cache[il]), ki, start, &kc);
            if (!b.st) b.st = quanta_write_rows(b.g, buf(&b, ctx->v_cache[il]), vi, start, &vc);
            if (!b.st) b.st = quanta_attention(b.g, qi, kc, vc, ring ? s->ring_mask[i] : NULL, len, &api, &a);
            a = reshape(&b, to_dtype(&b, a, QUANTA_F32), 4, 1, 1, 1, Hq * Dh);
            if (!b.st) b.st = quanta_write_rows(b.g, gathered, a, idx[i], &gathered);
        }
        x = qn_gb_layer_out(&b, m, il, x, reshape(&b, gathered, 2, n, Hq * Dh, 0, 0), NULL);
    }
    x = norm(&b, c, x, buf(&b, m->output_norm));
    s->logits = matmul(&b, x, buf(&b, m->output ? m->output : m->tok_embd));
    if (!b.st) b.st = quanta_graph_output(b.g, s->logits);
    if (!b.st) b.st = quanta_plan_create(b.g, m->backend, &s->plan);
    free(idx);
    (void)one;
    if (b.st) {
        batch_free(s);
        return b.st;
    }
    *out = s;
    return QUANTA_OK;
}

quanta_status qn_model_eval_batch_check(quanta_model_context *const *ctxs, const int32_t *tokens, size_t n,
                                        const float *logits, size_t logits_count) {
    if (!ctxs || !tokens)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_eval_batch: %s is NULL", !ctxs ? "ctxs" : "tokens");
    if (n == 0) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_eval_batch: n = 0");
    if (n > 4096) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_eval_batch: n = %zu > 4096", n);
    if (!ctxs[0]) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_eval_batch: ctxs[0] is NULL");
    quanta_model *m = ctxs[0]->model;
    const int32_t V = m->cfg.n_vocab;
    for (size_t i = 0; i < n; i++) {
        if (!ctxs[i] || ctxs[i]->model != m)
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_eval_batch: ctxs[%zu] is NULL or of another model", i);
        for (size_t j = 0; j < i; j++)
            if (ctxs[j] == ctxs[i])
                return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_eval_batch: ctxs[%zu] repeats ctxs[%zu]", i, j);
        if (tokens[i] < 0 || tokens[i] >= V)
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_eval_batch: tokens[%zu] = %d outside [0, %d)", i,
                                tokens[i], V);
        if (ctxs[i]->n_past >= ctxs[i]->n_ctx)
            return qn_error_set(QUANTA_ERR_STATE, "quanta_model_eval_batch: ctxs[%zu] is full (%d positions)", i,
                                ctxs[i]->n_ctx);
    }
    if (logits && logits_count != n * (size_t)V)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_eval_batch: logits_count %zu, need n * n_vocab = %zu",
                            logits_count, n * (size_t)V);
    return QUANTA_OK;
}

static quanta_status eval_batch(quanta_model_context *const *ctxs, const int32_t *tokens, size_t n, float *logits,
                                size_t logits_count) {
    quanta_status st = qn_model_eval_batch_check(ctxs, tokens, n, logits, logits_count);
    for (size_t i = 0; i < n && !st; i++) st = qn_kv_cache_reserve(ctxs[i], ctxs[i]->n_past + 1);
    if (st) return st;
    quanta_model *m = ctxs[0]->model;
    qn_batch_step *s = m->batch;
    int same = s && s->n == (int)n;
    for (size_t i = 0; same && i < n; i++) same = s->key[i] == ctxs[i]->id;
    if (!same) {
        qn_batch_release(m, NULL);
        if ((st = batch_build(m, ctxs, (int)n, &m->batch))) return st;
        s = m->batch;
    }
    int32_t *pos = malloc(n * sizeof *pos);
    if (!pos) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_model_eval_batch: no memory");
    for (size_t i = 0; i < n; i++) pos[i] = ctxs[i]->n_past;
    st = quanta_plan_set_input(s->plan, s->ids, tokens, n * sizeof *tokens);
    if (!st) st = quanta_plan_set_input(s->plan, s->pos, pos, n * sizeof *pos);
    for (size_t i = 0; i < n && !st; i++) {
        int32_t start = ctxs[i]->n_past, kv_len = ctxs[i]->n_past + 1;
        st = quanta_plan_set_input(s->plan, s->start[i], &start, sizeof start);
        if (!st) st = quanta_plan_set_input(s->plan, s->kv_len[i], &kv_len, sizeof kv_len);
        if (!st && ctxs[i]->ring > 0)
            st = qn_ring_set_inputs(ctxs[i], s->ring_start[i], s->ring_len[i], s->ring_mask[i], 1, s->plan);
    }
    free(pos);
    if (!st && !logits) st = quanta_plan_execute(s->plan);
    if (!st && logits) { /* the copy back and the finiteness check in one pass, as quanta_model_eval (context.c) */
        int bad = 0;
        st = qn_plan_execute_read_f32_finite(s->plan, s->logits, logits, logits_count, &bad);
        if (!st && bad) st = qn_check_logits("quanta_model_eval_batch", logits, logits_count, m->cfg.n_vocab);
    }
    if (st) return st;
    size_t peak = 0;
    quanta_plan_peak_bytes(s->plan, &peak);
    for (size_t i = 0; i < n; i++) {
        ctxs[i]->n_past++;
        if (peak > ctxs[i]->scratch_bytes) ctxs[i]->scratch_bytes = peak;
    }
    return QUANTA_OK;
}

quanta_status quanta_model_eval_batch(quanta_model_context *const *ctxs, const int32_t *tokens, size_t n,
                                      float *logits, size_t logits_count) {
    if (ctxs && n && ctxs[0] && ctxs[0]->model->threads)
        return qn_tp_threads_eval_batch(ctxs, tokens, n, logits, logits_count);
    return qn_model_eval_batch_rank(ctxs, tokens, n, logits, logits_count);
}

quanta_status qn_model_eval_batch_rank(quanta_model_context *const *ctxs, const int32_t *tokens, size_t n, float *logits,
                                       size_t logits_count) {
    quanta_status st = eval_batch(ctxs, tokens, n, logits, logits_count);
    /* Tensor parallelism: the other ranks would wait for this one in their next all-reduce. */
    if (st && ctxs && n && ctxs[0] && ctxs[0]->model->comm) quanta_comm_abort(ctxs[0]->model->comm);
    return st;
}
