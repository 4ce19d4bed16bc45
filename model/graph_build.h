/* graph_build.h — small graph-building helpers shared by graph.c (per-sequence steps) and
 * batch.c (batched decode). Each passes NULL through once an op failed (b->st set), so the
 * builders read as straight-line code and check the status once. Internal to model/. */
#ifndef QUANTA_MODEL_GRAPH_BUILD_H
#define QUANTA_MODEL_GRAPH_BUILD_H

#include "model_internal.h"
#include "tensor_desc.h"

typedef struct gb {
    quanta_graph *g;
    quanta_status st;
} gb;

static inline quanta_tensor *buf(gb *b, quanta_buffer *w) {
    quanta_tensor *t = NULL;
    if (!b->st && w) b->st = quanta_graph_buffer(b->g, w, &t);
    return t;
}
static inline quanta_tensor *input(gb *b, const char *name, quanta_dtype dt, int nd, int64_t d0, int64_t d1) {
    quanta_tensor_desc d = qn_desc(dt, nd, d0, d1, 0, 0);
    quanta_tensor *t = NULL;
    if (!b->st) b->st = quanta_graph_input(b->g, name, &d, &t);
    return t;
}
static inline quanta_tensor *matmul(gb *b, quanta_tensor *x, quanta_tensor *w) {
    quanta_tensor *t = NULL;
    if (!b->st) b->st = quanta_matmul(b->g, x, w, &t);
    return t;
}
static inline quanta_tensor *add(gb *b, quanta_tensor *x, quanta_tensor *y) {
    quanta_tensor *t = NULL;
    if (!b->st) b->st = quanta_add(b->g, x, y, &t);
    return t;
}
static inline quanta_tensor *mul(gb *b, quanta_tensor *x, quanta_tensor *y) {
    quanta_tensor *t = NULL;
    if (!b->st) b->st = quanta_mul(b->g, x, y, &t);
    return t;
}
static inline quanta_tensor *norm(gb *b, const qn_model_config *c, quanta_tensor *x, quanta_tensor *w) {
    quanta_tensor *t = NULL;
    if (!b->st) b->st = quanta_rms_norm(b->g, x, w, c->rms_eps, c->norm_plus_one, &t);
    return t;
}
static inline quanta_tensor *reshape(gb *b, quanta_tensor *x, int nd, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
    int64_t dims[4] = {d0, d1, d2, d3};
    quanta_tensor *t = NULL;
    if (!b->st) b->st = quanta_reshape(b->g, x, nd, dims, &t);
    return t;
}
/* [1, A, B, D] -> [1, B, A, D]; a free reshape when either A or B is 1. */
static inline quanta_tensor *swap12(gb *b, quanta_tensor *x, int64_t A, int64_t B, int64_t D) {
    if (A == 1 || B == 1) return reshape(b, x, 4, 1, B, A, D);
    static const int32_t perm[4] = {0, 2, 1, 3};
    quanta_tensor *t = NULL;
    if (!b->st) b->st = quanta_permute(b->g, x, perm, &t);
    return t;
}

/* x in dtype dt (a no-op when it already is): KV caches of f16/bf16 need their k, v and q in
 * the cache's dtype (attention and write_rows take one dtype), the attention output back in f32. */
static inline quanta_tensor *to_dtype(gb *b, quanta_tensor *x, quanta_dtype dt) {
    quanta_tensor_desc d;
    quanta_tensor *t = NULL;
    if (!b->st) b->st = quanta_tensor_get_desc(x, &d);
    if (!b->st && d.dtype == dt) return x;
    if (!b->st) b->st = quanta_convert(b->g, x, dt, &t);
    return t;
}

/* Embeddings of ids [T] (scaled where the architecture wants). */
quanta_tensor *qn_gb_embed(gb *b, const quanta_model *m, quanta_tensor *ids);
/* The attention inputs of layer il for x [T, E]: q [1, Hq, T, D], k and v [1, Hkv, T, D],
 * q and k rotated at positions pos [T]. cap (NULL, or the layer's QN_SITES_PER_LAYER slots)
 * gets the projections' input. */
void qn_gb_qkv(gb *b, const quanta_model *m, int il, quanta_tensor *x, int64_t T, quanta_tensor *pos,
               quanta_tensor **q, quanta_tensor **k, quanta_tensor **v, quanta_tensor **cap);
/* The rest of layer il given the attention output a [T, Hq * D]: returns the new x. cap as
 * above: gets the inputs of the o, gate/up and down projections. */
quanta_tensor *qn_gb_layer_out(gb *b, const quanta_model *m, int il, quanta_tensor *x, quanta_tensor *a,
                               quanta_tensor **cap);
/* Attention parameters of layer il. */
quanta_attention_params qn_gb_attn_params(const quanta_model *m, int il);

#endif
