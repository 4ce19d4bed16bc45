/*
 * graph.c — the decoder as a Quanta graph for one step of T new tokens at run-time positions:
 * embeddings, per layer [RMSNorm, q/k/v projections (+bias), q/k norms, rope, KV-cache append
 * (write_rows), causal attention over the cache with kv_lens, output projection, (post-norm),
 * residual, RMSNorm, SwiGLU/GeGLU MLP, (post-norm), residual], final norm and output head.
 * The positions, cache offset and key length are inputs, so the one-token decode graph is
 * planned once per context and reused for every token.
 */
#include <math.h>
#include <string.h>

#include "error.h"
#include "model_internal.h"

typedef struct gb {
    quanta_graph *g;
    quanta_status st;
} gb;

/* Each helper passes NULL through once an op failed, so the builder reads straight. */
static quanta_tensor *buf(gb *b, quanta_buffer *w) {
    quanta_tensor *t = NULL;
    if (!b->st && w) b->st = quanta_graph_buffer(b->g, w, &t);
    return t;
}
static quanta_tensor *input(gb *b, const char *name, quanta_dtype dt, int nd, int64_t d0, int64_t d1) {
    quanta_tensor_desc d;
    memset(&d, 0, sizeof d);
    d.dtype = dt;
    d.ndim = nd;
    d.dims[0] = d0;
    d.dims[1] = d1;
    quanta_tensor *t = NULL;
    if (!b->st) b->st = quanta_graph_input(b->g, name, &d, &t);
    return t;
}
static quanta_tensor *matmul(gb *b, quanta_tensor *x, quanta_tensor *w) {
    quanta_tensor *t = NULL;
    if (!b->st) b->st = quanta_matmul(b->g, x, w, &t);
    return t;
}
static quanta_tensor *add(gb *b, quanta_tensor *x, quanta_tensor *y) {
    quanta_tensor *t = NULL;
    if (!b->st) b->st = quanta_add(b->g, x, y, &t);
    return t;
}
static quanta_tensor *mul(gb *b, quanta_tensor *x, quanta_tensor *y) {
    quanta_tensor *t = NULL;
    if (!b->st) b->st = quanta_mul(b->g, x, y, &t);
    return t;
}
static quanta_tensor *norm(gb *b, const qn_model_config *c, quanta_tensor *x, quanta_tensor *w) {
    quanta_tensor *t = NULL;
    if (!b->st) b->st = quanta_rms_norm(b->g, x, w, c->rms_eps, c->norm_plus_one, &t);
    return t;
}
static quanta_tensor *reshape(gb *b, quanta_tensor *x, int nd, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
    int64_t dims[4] = {d0, d1, d2, d3};
    quanta_tensor *t = NULL;
    if (!b->st) b->st = quanta_reshape(b->g, x, nd, dims, &t);
    return t;
}
/* [1, A, B, D] -> [1, B, A, D]; a free reshape when either A or B is 1. */
static quanta_tensor *swap12(gb *b, quanta_tensor *x, int64_t A, int64_t B, int64_t D) {
    if (A == 1 || B == 1) return reshape(b, x, 4, 1, B, A, D);
    static const int32_t perm[4] = {0, 2, 1, 3};
    quanta_tensor *t = NULL;
    if (!b->st) b->st = quanta_permute(b->g, x, perm, &t);
    return t;
}

void qn_step_free(qn_step *s) {
    quanta_plan_destroy(s->plan);
    quanta_graph_destroy(s->graph);
    memset(s, 0, sizeof *s);
}

quanta_status qn_step_build(quanta_model_context *ctx, int32_t T, int32_t all_logits, qn_step *s) {
    memset(s, 0, sizeof *s);
    const quanta_model *m = ctx->model;
    const qn_model_config *c = &m->cfg;
    const int64_t Dh = c->head_dim, Hq = c->n_head, Hkv = c->n_head_kv;
    gb b = {NULL, quanta_graph_create(&s->graph)};
    if (b.st) return b.st;
    b.g = s->graph;
    s->n_tokens = T;
    s->all_logits = all_logits;
    s->ids = input(&b, "ids", QUANTA_I32, 1, T, 0);
    s->pos = input(&b, "pos", QUANTA_I32, 1, T, 0);
    s->start = input(&b, "start", QUANTA_I32, 1, 1, 0);
    s->kv_len = input(&b, "kv_len", QUANTA_I32, 1, 1, 0);
    quanta_tensor *embd = buf(&b, m->tok_embd);
    quanta_tensor *x = NULL;
    if (!b.st) b.st = quanta_get_rows(b.g, embd, s->ids, &x);
    if (!b.st && c->embd_scale != 1.0f) b.st = quanta_scale(b.g, x, c->embd_scale, &x);

    for (int il = 0; il < c->n_layer && !b.st; il++) {
        const qn_layer_weights *w = &m->layers[il];
        int local = qn_model_layer_is_local(c, il);
        quanta_tensor *h = norm(&b, c, x, buf(&b, w->attn_norm));
        quanta_tensor *q = matmul(&b, h, buf(&b, w->wq));
        quanta_tensor *k = matmul(&b, h, buf(&b, w->wk));
        quanta_tensor *v = matmul(&b, h, buf(&b, w->wv));
        if (w->bq) q = add(&b, q, buf(&b, w->bq));
        if (w->bk) k = add(&b, k, buf(&b, w->bk));
        if (w->bv) v = add(&b, v, buf(&b, w->bv));
        q = reshape(&b, q, 4, 1, T, Hq, Dh);
        k = reshape(&b, k, 4, 1, T, Hkv, Dh);
        v = reshape(&b, v, 4, 1, T, Hkv, Dh);
        if (c->qk_norm) {
            q = norm(&b, c, q, buf(&b, w->q_norm));
            k = norm(&b, c, k, buf(&b, w->k_norm));
        }
        q = swap12(&b, q, T, Hq, Dh);
        k = swap12(&b, k, T, Hkv, Dh);
        v = swap12(&b, v, T, Hkv, Dh);
        quanta_rope_params rp = {c->rope_mode, local ? c->rope_base_local : c->rope_base,
                                 local ? 1.0f : c->rope_freq_scale, c->rope_dims};
        if (!b.st) b.st = quanta_rope(b.g, q, s->pos, &rp, &q);
        if (!b.st) b.st = quanta_rope(b.g, k, s->pos, &rp, &k);
        quanta_tensor *kc = NULL, *vc = NULL;
        if (!b.st) b.st = quanta_write_rows(b.g, buf(&b, ctx->k_cache[il]), k, s->start, &kc);
        if (!b.st) b.st = quanta_write_rows(b.g, buf(&b, ctx->v_cache[il]), v, s->start, &vc);
        quanta_attention_params ap = {c->attn_scale, 1, local ? c->sliding_window : 0};
        quanta_tensor *a = NULL;
        if (!b.st) b.st = quanta_attention(b.g, q, kc, vc, NULL, s->kv_len, &ap, &a);
        a = swap12(&b, a, Hq, T, Dh);
        a = reshape(&b, a, 2, T, Hq * Dh, 0, 0);
        quanta_tensor *o = matmul(&b, a, buf(&b, w->wo));
        if (c->post_norms) o = norm(&b, c, o, buf(&b, w->post_attn_norm));
        x = add(&b, x, o);

        h = norm(&b, c, x, buf(&b, w->ffn_norm));
        quanta_tensor *gt = matmul(&b, h, buf(&b, w->w_gate));
        quanta_tensor *up = matmul(&b, h, buf(&b, w->w_up));
        if (!b.st) b.st = c->gelu_mlp ? quanta_gelu(b.g, gt, 1, &gt) : quanta_silu(b.g, gt, &gt);
        quanta_tensor *d = matmul(&b, mul(&b, gt, up), buf(&b, w->w_down));
        if (c->post_norms) d = norm(&b, c, d, buf(&b, w->post_ffn_norm));
        x = add(&b, x, d);
    }
    x = norm(&b, c, x, buf(&b, m->output_norm));
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
