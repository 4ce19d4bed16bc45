/*
 * graph.c — the decoder as a Quanta graph for one step of T new tokens at run-time positions:
 * embeddings, per layer [RMSNorm, q/k/v projections (+bias), q/k norms, rope, KV-cache append
 * (write_rows), causal attention over the cache with kv_lens, output projection, (post-norm),
 * residual, RMSNorm, SwiGLU/GeGLU MLP, (post-norm), residual], final norm and output head.
 * An f16/bf16 KV cache (model->kv_dtype) gets q, k, v converted to its dtype before the
 * append and the attention, and the attention output converted back to f32.
 * Sliding-window layers of a context with a ring (ctx->ring) append at row n_past % ring and
 * attend through a mask input that carries causality and the window (README, ring caches).
 * The positions, cache offset and key length are inputs, so the one-token decode graph is
 * planned once per context and reused for every token.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "graph_build.h"

void qn_step_free(qn_step *s) {
    quanta_plan_destroy(s->plan);
    quanta_graph_destroy(s->graph);
    free(s->cap);
    memset(s, 0, sizeof *s);
}

quanta_status qn_step_build(quanta_model_context *ctx, int32_t T, int32_t all_logits, qn_step *s) {
    memset(s, 0, sizeof *s);
    const quanta_model *m = ctx->model;
    const qn_model_config *c = &m->cfg;
    const int64_t Dh = c->head_dim, Hq = c->n_head;
    gb b = {NULL, quanta_graph_create(&s->graph)};
    if (b.st) return b.st;
    b.g = s->graph;
    s->n_tokens = T;
    s->all_logits = all_logits;
    s->ids = input(&b, "ids", QUANTA_I32, 1, T, 0);
    s->pos = input(&b, "pos", QUANTA_I32, 1, T, 0);
    s->start = input(&b, "start", QUANTA_I32, 1, 1, 0);
    s->kv_len = input(&b, "kv_len", QUANTA_I32, 1, 1, 0);
    if (ctx->ring > 0) {
        s->ring_start = input(&b, "ring_start", QUANTA_I32, 1, 1, 0);
        s->ring_len = input(&b, "ring_len", QUANTA_I32, 1, 1, 0);
        s->ring_mask = input(&b, "ring_mask", QUANTA_U8, 2, T, ctx->ring);
    }
    const int n_sites = c->n_layer * QN_SITES_PER_LAYER + 1;
    if (ctx->capture && !(s->cap = calloc((size_t)n_sites, sizeof *s->cap)))
        b.st = qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_model_eval: no memory");
    quanta_tensor *x = qn_gb_embed(&b, m, s->ids);
    for (int il = 0; il < c->n_layer && !b.st; il++) {
        quanta_tensor *q, *k, *v, *kc = NULL, *vc = NULL, *a = NULL;
        quanta_tensor **cap = s->cap ? s->cap + QN_SITE(il, 0) : NULL;
        qn_gb_qkv(&b, m, il, x, T, s->pos, &q, &k, &v, cap);
        q = to_dtype(&b, q, m->kv_dtype);
        k = to_dtype(&b, k, m->kv_dtype);
        v = to_dtype(&b, v, m->kv_dtype);
        /* A ring layer's mask carries causality and the window (its rows are not in order). */
        int ring = ctx->ring > 0 && qn_model_layer_is_local(c, il);
        quanta_tensor *start = ring ? s->ring_start : s->start, *len = ring ? s->ring_len : s->kv_len;
        if (!b.st) b.st = quanta_write_rows(b.g, buf(&b, ctx->k_cache[il]), k, start, &kc);
        if (!b.st) b.st = quanta_write_rows(b.g, buf(&b, ctx->v_cache[il]), v, start, &vc);
        quanta_attention_params ap = qn_gb_attn_params(m, il);
        if (ring) ap.causal = ap.window = 0;
        if (!b.st) b.st = quanta_attention(b.g, q, kc, vc, ring ? s->ring_mask : NULL, len, &ap, &a);
        a = swap12(&b, a, Hq, T, Dh);
        a = to_dtype(&b, reshape(&b, a, 2, T, Hq * Dh, 0, 0), QUANTA_F32);
        x = qn_gb_layer_out(&b, m, il, x, a, cap);
    }
    x = norm(&b, c, x, buf(&b, m->output_norm));
    if (s->cap) s->cap[n_sites - 1] = x;
    for (int i = 0; s->cap && i < n_sites && !b.st; i++) b.st = quanta_graph_output(b.g, s->cap[i]);
    if (T > 1 && !all_logits) {
        /* Only the last row feeds the head: pick it with get_rows instead of a slice op. */
        s->last = input(&b, "last", QUANTA_I32, 1, 1, 0);
        if (!b.st) b.st = quanta_get_rows(b.g, x, s->last, &x);
    }
    s->logits = matmul(&b, x, buf(&b, m->output ? m->output : m->tok_embd));
    if (!b.st) b.st = quanta_graph_output(b.g, s->logits);
    if (!b.st) b.st = quanta_plan_create(b.g, m->backend, &s->plan);
    if (b.st) {
        quanta_status st = b.st;
        qn_step_free(s);
        return st;
    }
    if (s->last) {
        int32_t last = T - 1;
        b.st = quanta_plan_set_input(s->plan, s->last, &last, sizeof last);
        if (b.st) {
            qn_step_free(s);
            return b.st;
        }
    }
    return QUANTA_OK;
}

/* ------------------------------------------------------- shared pieces */

int32_t qn_ring_rows(const quanta_model *m, int32_t n_ctx) {
    const qn_model_config *c = &m->cfg;
    int any_local = 0;
    for (int il = 0; il < c->n_layer; il++) any_local |= qn_model_layer_is_local(c, il);
    if (!any_local || c->sliding_window <= 0) return 0;
    /* A multiple of the step so that steps from position 0 never straddle the ring's end. */
    int64_t step = qn_ring_step(m), r = ((int64_t)c->sliding_window + step - 1 + step - 1) / step * step;
    return r < n_ctx ? (int32_t)r : 0;
}

int32_t qn_ring_step(const quanta_model *m) {
    int32_t w = m->cfg.sliding_window;
    return w > 0 && w < QN_MAX_STEP_TOKENS ? w : QN_MAX_STEP_TOKENS;
}

void qn_ring_mask(int32_t R, int32_t W, int32_t n_past, int32_t T, uint8_t *mask) {
    const int64_t last = (int64_t)n_past + T - 1;
    for (int32_t r = 0; r < R; r++) {
        /* The latest position p <= last with p % R == r (negative: never written). */
        int64_t p = last - ((last - r) % R + R) % R;
        for (int32_t i = 0; i < T; i++) {
            int64_t qp = (int64_t)n_past + i;
            mask[(size_t)i * (size_t)R + (size_t)r] = p >= 0 && p <= qp && qp - p < W;
        }
    }
}

quanta_tensor *qn_gb_embed(gb *b, const quanta_model *m, quanta_tensor *ids) {
    quanta_tensor *x = NULL;
    quanta_tensor *embd = buf(b, m->tok_embd);
    if (!b->st) b->st = quanta_get_rows(b->g, embd, ids, &x);
    if (!b->st && m->cfg.embd_scale != 1.0f) b->st = quanta_scale(b->g, x, m->cfg.embd_scale, &x);
    return x;
}

quanta_attention_params qn_gb_attn_params(const quanta_model *m, int il) {
    const qn_model_config *c = &m->cfg;
    quanta_attention_params ap = {c->attn_scale, 1, qn_model_layer_is_local(c, il) ? c->sliding_window : 0};
    return ap;
}

void qn_gb_qkv(gb *b, const quanta_model *m, int il, quanta_tensor *x, int64_t T, quanta_tensor *pos,
               quanta_tensor **qo, quanta_tensor **ko, quanta_tensor **vo, quanta_tensor **cap) {
    const qn_model_config *c = &m->cfg;
    const qn_layer_weights *w = &m->layers[il];
    const int64_t Dh = c->head_dim, Hq = c->n_head, Hkv = c->n_head_kv;
    int local = qn_model_layer_is_local(c, il);
    quanta_tensor *h = norm(b, c, x, buf(b, w->attn_norm));
    if (cap) cap[QN_SITE_ATTN_IN] = h;
    quanta_tensor *q = matmul(b, h, buf(b, w->wq));
    quanta_tensor *k = matmul(b, h, buf(b, w->wk));
    quanta_tensor *v = matmul(b, h, buf(b, w->wv));
    if (w->bq) q = add(b, q, buf(b, w->bq));
    if (w->bk) k = add(b, k, buf(b, w->bk));
    if (w->bv) v = add(b, v, buf(b, w->bv));
    q = reshape(b, q, 4, 1, T, Hq, Dh);
    k = reshape(b, k, 4, 1, T, Hkv, Dh);
    v = reshape(b, v, 4, 1, T, Hkv, Dh);
    q = swap12(b, q, T, Hq, Dh);
    k = swap12(b, k, T, Hkv, Dh);
    v = swap12(b, v, T, Hkv, Dh);
    /* the norms are per head row, so they commute with the swap; after it they feed the ropes
     * directly (no view between), which plans fuse into one rms_norm_rope launch each */
    if (c->qk_norm) {
        q = norm(b, c, q, buf(b, w->q_norm));
        k = norm(b, c, k, buf(b, w->k_norm));
    }
    quanta_rope_params rp = {c->rope_mode, local ? c->rope_base_local : c->rope_base,
                             local ? 1.0f : c->rope_freq_scale, c->rope_dims};
    if (!b->st) b->st = quanta_rope(b->g, q, pos, &rp, &q);
    if (!b->st) b->st = quanta_rope(b->g, k, pos, &rp, &k);
    *qo = q;
    *ko = k;
    *vo = v;
}

/* Tensor parallelism: the sum of the ranks' partial results of a row-parallel projection. */
static quanta_tensor *tp_sum(gb *b, const quanta_model *m, quanta_tensor *x) {
    if (b->st || !m->comm || m->tp_world <= 1) return x;
    quanta_tensor *t = NULL;
    b->st = quanta_all_reduce(b->g, x, m->comm, &t);
    return t;
}

quanta_tensor *qn_gb_layer_out(gb *b, const quanta_model *m, int il, quanta_tensor *x, quanta_tensor *a,
                               quanta_tensor **cap) {
    const qn_model_config *c = &m->cfg;
    const qn_layer_weights *w = &m->layers[il];
    quanta_tensor *o = tp_sum(b, m, matmul(b, a, buf(b, w->wo)));
    if (c->post_norms) o = norm(b, c, o, buf(b, w->post_attn_norm));
    x = add(b, x, o);
    quanta_tensor *h = norm(b, c, x, buf(b, w->ffn_norm));
    quanta_tensor *gt = matmul(b, h, buf(b, w->w_gate));
    quanta_tensor *up = matmul(b, h, buf(b, w->w_up));
    if (!b->st) b->st = c->gelu_mlp ? quanta_gelu(b->g, gt, 1, &gt) : quanta_silu(b->g, gt, &gt);
    quanta_tensor *inner = mul(b, gt, up);
    if (cap) {
        cap[QN_SITE_ATTN_OUT] = a;
        cap[QN_SITE_FFN_IN] = h;
        cap[QN_SITE_FFN_DOWN] = inner;
    }
    quanta_tensor *d = tp_sum(b, m, matmul(b, inner, buf(b, w->w_down)));
    if (c->post_norms) d = norm(b, c, d, buf(b, w->post_ffn_norm));
    return add(b, x, d);
}
