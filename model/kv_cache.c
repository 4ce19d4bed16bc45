/*
 * kv_cache.c — a context's KV cache, reserved as positions are used. The buffers of the
 * full-context layers start at min(n_ctx, QN_KV_GROW_ROWS) rows and grow (to at least double,
 * in whole QN_KV_GROW_ROWS, never past n_ctx) when an eval needs more: host/device memory and
 * the attention's key count follow the positions in use, not n_ctx (issue #10: --ctx 10^7 took
 * 20 GB and decode cost grew with --ctx). Sliding-window layers keep their fixed ring. Growing
 * copies the rows into new buffers and drops the context's planned steps (their graphs name the
 * old buffers); a growth that cannot be had fails that eval and leaves the cache as it was.
 */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "model_internal.h"
#include "tensor_desc.h"

static int32_t layer_rows(const quanta_model_context *c, int il, int32_t grow_rows) {
    return c->ring > 0 && qn_model_layer_is_local(&c->model->cfg, il) ? c->ring : grow_rows;
}

static quanta_tensor_desc layer_desc(const quanta_model_context *c, int32_t rows) {
    const quanta_model *m = c->model;
    return qn_desc(m->kv_dtype, 4, 1, m->cfg.n_head_kv, rows, m->cfg.head_dim);
}

quanta_status qn_kv_cache_alloc(quanta_model_context *c) {
    const quanta_model *m = c->model;
    const int L = m->cfg.n_layer;
    /* The whole cache must at least be describable: a context too large to ever fill is refused
     * now rather than at some later eval. */
    uint64_t full = 0;
    for (int il = 0; il < L; il++) {
        quanta_tensor_desc d = layer_desc(c, layer_rows(c, il, c->n_ctx));
        size_t bytes;
        quanta_status st = quanta_tensor_bytes(&d, &bytes);
        if (st || full > UINT64_MAX / 4 - bytes)
            return qn_error_set(QUANTA_ERR_OVERFLOW, "quanta_model_context_create: a KV cache of %d positions is too large",
                                c->n_ctx);
        full += 2 * (uint64_t)bytes;
    }
    c->k_cache = calloc(L > 0 ? (size_t)L : 1, sizeof *c->k_cache);
    c->v_cache = calloc(L > 0 ? (size_t)L : 1, sizeof *c->v_cache);
    if (!c->k_cache || !c->v_cache) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_model_context_create: no memory");
    c->kv_rows = c->n_ctx < QN_KV_GROW_ROWS ? c->n_ctx : QN_KV_GROW_ROWS;
    quanta_status st = QUANTA_OK;
    for (int il = 0; il < L && !st; il++) {
        quanta_tensor_desc d = layer_desc(c, layer_rows(c, il, c->kv_rows));
        size_t bytes = 0;
        st = quanta_tensor_bytes(&d, &bytes);
        if (!st) st = quanta_buffer_create(m->backend, &d, &c->k_cache[il]);
        if (!st) st = quanta_buffer_create(m->backend, &d, &c->v_cache[il]);
        if (!st) c->kv_bytes += 2 * (uint64_t)bytes;
    }
    return st;
}

void qn_kv_cache_free(quanta_model_context *c) {
    for (int il = 0; il < c->model->cfg.n_layer; il++) {
        if (c->k_cache) quanta_buffer_destroy(c->k_cache[il]);
        if (c->v_cache) quanta_buffer_destroy(c->v_cache[il]);
    }
    free(c->k_cache);
    free(c->v_cache);
    c->k_cache = c->v_cache = NULL;
}

/* A copy of `from` ([1, H, old_rows, D]) in a new buffer of new_rows rows (rows past old_rows
 * zero). */
static quanta_status regrow(const quanta_model_context *c, const quanta_buffer *from, int32_t old_rows, int32_t new_rows,
                            quanta_buffer **to) {
    const quanta_model *m = c->model;
    quanta_tensor_desc od = layer_desc(c, old_rows), nd = layer_desc(c, new_rows);
    size_t ob, nb;
    quanta_status st = quanta_tensor_bytes(&od, &ob);
    if (!st) st = quanta_tensor_bytes(&nd, &nb);
    if (st) return st;
    uint8_t *old = malloc(ob), *grown = calloc(1, nb);
    if (!old || !grown) {
        free(old);
        free(grown);
        return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "no host memory to copy the KV cache");
    }
    const size_t heads = (size_t)m->cfg.n_head_kv, orow = ob / heads, nrow = nb / heads;
    st = quanta_buffer_read(from, old, ob);
    for (size_t h = 0; h < heads && !st; h++) memcpy(grown + h * nrow, old + h * orow, orow);
    if (!st) st = quanta_buffer_create(m->backend, &nd, to);
    if (!st && (st = quanta_buffer_write(*to, grown, nb))) {
        quanta_buffer_destroy(*to);
        *to = NULL;
    }
    free(old);
    free(grown);
    return st;
}

quanta_status qn_kv_cache_reserve(quanta_model_context *c, int32_t positions) {
    if (positions <= c->kv_rows) return QUANTA_OK;
    if (positions > c->n_ctx)
        return qn_error_set(QUANTA_ERR_STATE, "quanta_model_eval: %d positions exceed the context of %d", positions, c->n_ctx);
    int64_t rows = 2 * (int64_t)c->kv_rows;
    if (rows < positions) rows = positions;
    rows = (rows + QN_KV_GROW_ROWS - 1) / QN_KV_GROW_ROWS * QN_KV_GROW_ROWS;
    if (rows > c->n_ctx) rows = c->n_ctx;
    const int L = c->model->cfg.n_layer;
    quanta_buffer **nk = calloc(L > 0 ? (size_t)L : 1, sizeof *nk), **nv = calloc(L > 0 ? (size_t)L : 1, sizeof *nv);
    quanta_status st = nk && nv ? QUANTA_OK : qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "no memory");
    uint64_t bytes = 0;
    for (int il = 0; il < L && !st; il++) {
        if (layer_rows(c, il, c->kv_rows) != c->kv_rows) continue; /* a ring: stays */
        if (!(st = regrow(c, c->k_cache[il], c->kv_rows, (int32_t)rows, &nk[il])))
            st = regrow(c, c->v_cache[il], c->kv_rows, (int32_t)rows, &nv[il]);
    }
    if (st) {
        st = qn_error_set(st, "quanta_model_eval: growing the KV cache from %d to %lld positions: %s", c->kv_rows,
                          (long long)rows, quanta_last_error());
    } else {
        /* The planned steps write into the old buffers: they are rebuilt on next use. */
        qn_batch_release(c->model, c);
        qn_step_free(&c->decode);
        qn_step_free(&c->prefill);
        for (int il = 0; il < L; il++) {
            if (!nk[il]) continue;
            quanta_buffer_destroy(c->k_cache[il]);
            quanta_buffer_destroy(c->v_cache[il]);
            c->k_cache[il] = nk[il];
            c->v_cache[il] = nv[il];
            nk[il] = nv[il] = NULL;
        }
        c->kv_rows = (int32_t)rows;
    }
    for (int il = 0; nk && nv && il < L; il++) {
        quanta_buffer_destroy(nk[il]);
        quanta_buffer_destroy(nv[il]);
    }
    free(nk);
    free(nv);
    for (int il = 0; !st && il < L; il++) {
        quanta_tensor_desc d = layer_desc(c, layer_rows(c, il, c->kv_rows));
        size_t b = 0;
        quanta_tensor_bytes(&d, &b);
        bytes += 2 * (uint64_t)b;
    }
    if (!st) c->kv_bytes = bytes;
    return st;
}
