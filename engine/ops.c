/* ops.c — the public op constructors of include/quanta.h. Each packs its sources and
 * parameters for qn_op_build, which validates them through the op table (op_table.c) and
 * appends the node. */
#include <string.h>

#include "error.h"
#include "graph_internal.h"
#include "op_table.h"

static qn_op_params no_params(void) {
    qn_op_params p;
    memset(&p, 0, sizeof p);
    return p;
}

quanta_status quanta_matmul(quanta_graph *g, quanta_tensor *x, quanta_tensor *w, quanta_tensor **out) {
    quanta_tensor *src[] = {x, w};
    return qn_op_build(g, QN_OP_MATMUL, src, NULL, out);
}

quanta_status quanta_attention(quanta_graph *g, quanta_tensor *q, quanta_tensor *k, quanta_tensor *v,
                               quanta_tensor *mask, quanta_tensor *kv_lens, const quanta_attention_params *params,
                               quanta_tensor **out) {
    quanta_tensor *src[] = {q, k, v, mask, kv_lens};
    qn_op_params p = no_params();
    if (params) p.attention = *params;
    return qn_op_build(g, QN_OP_ATTENTION, src, &p, out);
}

quanta_status quanta_paged_attention(quanta_graph *g, quanta_tensor *q, quanta_tensor *k_pool, quanta_tensor *v_pool,
                                     quanta_tensor *block_table, quanta_tensor *kv_lens, int32_t block_size,
                                     const quanta_attention_params *params, quanta_tensor **out) {
    quanta_tensor *src[] = {q, k_pool, v_pool, block_table, kv_lens};
    qn_op_params p = no_params();
    if (params) p.attention = *params;
    p.block_size = block_size;
    return qn_op_build(g, QN_OP_PAGED_ATTENTION, src, &p, out);
}

/* rms_norm, add_rms_norm, rms_norm_add: src as the op's table lists it, the norm's eps and
 * weight mode as its params. */
static quanta_status norm_op(quanta_graph *g, qn_op op, quanta_tensor **src, float eps, int32_t weight_plus_one,
                             quanta_tensor **out) {
    qn_op_params p = no_params();
    p.eps = eps;
    p.weight_plus_one = weight_plus_one ? 1 : 0;
    return qn_op_build(g, op, src, &p, out);
}

quanta_status quanta_rms_norm(quanta_graph *g, quanta_tensor *x, quanta_tensor *weight, float eps,
                              int32_t weight_plus_one, quanta_tensor **out) {
    quanta_tensor *src[] = {x, weight};
    return norm_op(g, QN_OP_RMS_NORM, src, eps, weight_plus_one, out);
}

quanta_status quanta_add_rms_norm(quanta_graph *g, quanta_tensor *a, quanta_tensor *b, quanta_tensor *weight,
                                  float eps, int32_t weight_plus_one, quanta_tensor **out) {
    quanta_tensor *src[] = {a, b, weight};
    return norm_op(g, QN_OP_ADD_RMS_NORM, src, eps, weight_plus_one, out);
}

quanta_status quanta_rope(quanta_graph *g, quanta_tensor *x, quanta_tensor *positions,
                          const quanta_rope_params *params, quanta_tensor **out) {
    if (!params) {
        if (out) *out = NULL;
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_rope: params is NULL");
    }
    quanta_tensor *src[] = {x, positions};
    qn_op_params p = no_params();
    p.rope = *params;
    return qn_op_build(g, QN_OP_ROPE, src, &p, out);
}

quanta_status quanta_rms_norm_rope(quanta_graph *g, quanta_tensor *x, quanta_tensor *weight, float eps,
                                   int32_t weight_plus_one, quanta_tensor *positions, const quanta_rope_params *params,
                                   quanta_tensor **out) {
    if (!params) {
        if (out) *out = NULL;
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_rms_norm_rope: params is NULL");
    }
    quanta_tensor *src[] = {x, weight, positions};
    qn_op_params p = no_params();
    p.rope = *params;
    p.eps = eps;
    p.weight_plus_one = weight_plus_one ? 1 : 0;
    return qn_op_build(g, QN_OP_RMS_NORM_ROPE, src, &p, out);
}

quanta_status quanta_silu(quanta_graph *g, quanta_tensor *x, quanta_tensor **out) {
    return qn_op_build(g, QN_OP_SILU, &x, NULL, out);
}

quanta_status quanta_gelu(quanta_graph *g, quanta_tensor *x, int32_t approximate, quanta_tensor **out) {
    qn_op_params p = no_params();
    p.approximate = approximate;
    return qn_op_build(g, QN_OP_GELU, &x, &p, out);
}

quanta_status quanta_rms_norm_add(quanta_graph *g, quanta_tensor *x, quanta_tensor *r, quanta_tensor *weight,
                                  float eps, int32_t weight_plus_one, quanta_tensor **out) {
    quanta_tensor *src[] = {x, r, weight};
    return norm_op(g, QN_OP_RMS_NORM_ADD, src, eps, weight_plus_one, out);
}

quanta_status quanta_glu(quanta_graph *g, quanta_tensor *gate, quanta_tensor *up, quanta_glu_act act,
                         quanta_tensor **out) {
    quanta_tensor *src[] = {gate, up};
    qn_op_params p = no_params();
    p.glu_act = (int32_t)act;
    return qn_op_build(g, QN_OP_GLU, src, &p, out);
}

quanta_status quanta_matmul_glu(quanta_graph *g, quanta_tensor *x, quanta_tensor *w_gate, quanta_tensor *w_up,
                                quanta_glu_act act, quanta_tensor **out) {
    quanta_tensor *src[] = {x, w_gate, w_up};
    qn_op_params p = no_params();
    p.glu_act = (int32_t)act;
    return qn_op_build(g, QN_OP_MATMUL_GLU, src, &p, out);
}

quanta_status quanta_scale(quanta_graph *g, quanta_tensor *x, float s, quanta_tensor **out) {
    qn_op_params p = no_params();
    p.scale = s;
    return qn_op_build(g, QN_OP_SCALE, &x, &p, out);
}

quanta_status quanta_softmax(quanta_graph *g, quanta_tensor *x, quanta_tensor **out) {
    return qn_op_build(g, QN_OP_SOFTMAX, &x, NULL, out);
}

quanta_status quanta_argmax(quanta_graph *g, quanta_tensor *x, quanta_tensor **out) {
    return qn_op_build(g, QN_OP_ARGMAX, &x, NULL, out);
}

quanta_status quanta_add(quanta_graph *g, quanta_tensor *a, quanta_tensor *b, quanta_tensor **out) {
    quanta_tensor *src[] = {a, b};
    return qn_op_build(g, QN_OP_ADD, src, NULL, out);
}

quanta_status quanta_mul(quanta_graph *g, quanta_tensor *a, quanta_tensor *b, quanta_tensor **out) {
    quanta_tensor *src[] = {a, b};
    return qn_op_build(g, QN_OP_MUL, src, NULL, out);
}

quanta_status quanta_get_rows(quanta_graph *g, quanta_tensor *table, quanta_tensor *ids, quanta_tensor **out) {
    quanta_tensor *src[] = {table, ids};
    return qn_op_build(g, QN_OP_GET_ROWS, src, NULL, out);
}

quanta_status quanta_permute(quanta_graph *g, quanta_tensor *x, const int32_t *perm, quanta_tensor **out) {
    if (!perm) {
        if (out) *out = NULL;
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_permute: perm is NULL");
    }
    qn_op_params p = no_params();
    /* x's rank is not known before x is checked: copy what a valid x could use, and only
     * those entries (perm holds x->desc.ndim of them). */
    int nd = x && x->desc.ndim >= 1 && x->desc.ndim <= QUANTA_MAX_DIMS ? x->desc.ndim : 0;
    for (int i = 0; i < nd; i++) p.perm[i] = perm[i];
    return qn_op_build(g, QN_OP_PERMUTE, &x, &p, out);
}

quanta_status quanta_convert(quanta_graph *g, quanta_tensor *x, quanta_dtype dtype, quanta_tensor **out) {
    qn_op_params p = no_params();
    p.dtype = dtype;
    return qn_op_build(g, QN_OP_CONVERT, &x, &p, out);
}

quanta_status quanta_write_rows(quanta_graph *g, quanta_tensor *dst, quanta_tensor *src, quanta_tensor *start,
                                quanta_tensor **out) {
    quanta_tensor *srcs[] = {dst, src, start};
    return qn_op_build(g, QN_OP_WRITE_ROWS, srcs, NULL, out);
}

quanta_status quanta_all_reduce(quanta_graph *g, quanta_tensor *x, quanta_comm *comm, quanta_tensor **out) {
    qn_op_params p = no_params();
    p.comm = comm;
    return qn_op_build(g, QN_OP_ALL_REDUCE, &x, &p, out);
}
