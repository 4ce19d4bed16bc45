/* ops.c — the op constructors: each validates its arguments, naming the bad one, then
 * appends a node whose result shape and dtype follow include/quanta.h. */
#include <math.h>
#include <string.h>

#include "error.h"
#include "formats.h"
#include "graph_internal.h"
#include "tensor_desc.h"

static const char *const op_names[QN_OP_COUNT] = {
    [QN_OP_MATMUL] = "matmul",     [QN_OP_ATTENTION] = "attention", [QN_OP_RMS_NORM] = "rms_norm",
    [QN_OP_ROPE] = "rope",         [QN_OP_SILU] = "silu",           [QN_OP_GELU] = "gelu",
    [QN_OP_ADD] = "add",           [QN_OP_MUL] = "mul",             [QN_OP_SCALE] = "scale",
    [QN_OP_SOFTMAX] = "softmax",   [QN_OP_GET_ROWS] = "get_rows",   [QN_OP_PERMUTE] = "permute",
    [QN_OP_CONVERT] = "convert",   [QN_OP_WRITE_ROWS] = "write_rows",
    [QN_OP_ALL_REDUCE] = "all_reduce",
};

const char *qn_op_name(qn_op op) { return (unsigned)op < QN_OP_COUNT ? op_names[op] : "unknown"; }

static int is_activation(quanta_dtype t) { return t == QUANTA_F32 || t == QUANTA_F16 || t == QUANTA_BF16; }

static const char *dt(quanta_dtype t) {
    const char *n = quanta_dtype_name(t);
    return n ? n : "invalid";
}

/* Common preamble: graph, out and each tensor argument non-NULL and from this graph. */
static quanta_status check_tensor(quanta_graph *g, const quanta_tensor *t, const char *op, const char *arg) {
    if (!t) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_%s: %s is NULL", op, arg);
    if (t->graph != g)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_%s: %s belongs to another graph", op, arg);
    return QUANTA_OK;
}

static quanta_status check_common(quanta_graph *g, quanta_tensor **out, const char *op) {
    if (out) *out = NULL;
    if (!g) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_%s: graph is NULL", op);
    if (!out) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_%s: out is NULL", op);
    return QUANTA_OK;
}

static quanta_status check_activation(const quanta_tensor *t, const char *op, const char *arg) {
    if (!is_activation(t->desc.dtype))
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_%s: %s must be f32, f16 or bf16, got %s", op, arg,
                            dt(t->desc.dtype));
    return QUANTA_OK;
}

static quanta_status check_ndim(const quanta_tensor *t, int ndim, const char *op, const char *arg) {
    if (t->desc.ndim != ndim)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_%s: %s must be %d-D, got %d-D", op, arg, ndim,
                            t->desc.ndim);
    return QUANTA_OK;
}

#define TRY(expr)                                                                                                      \
    do {                                                                                                               \
        quanta_status st_ = (expr);                                                                                    \
        if (st_ != QUANTA_OK) return st_;                                                                              \
    } while (0)

static int64_t last_dim(const quanta_tensor *t) { return t->desc.dims[t->desc.ndim - 1]; }

quanta_status quanta_matmul(quanta_graph *g, quanta_tensor *x, quanta_tensor *w, quanta_tensor **out) {
    TRY(check_common(g, out, "matmul"));
    TRY(check_tensor(g, x, "matmul", "x"));
    TRY(check_tensor(g, w, "matmul", "w"));
    TRY(check_activation(x, "matmul", "x"));
    if (w->desc.dtype == QUANTA_I32 || w->desc.dtype == QUANTA_U8)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_matmul: w has dtype %s; expected a float or quantized weight",
                            dt(w->desc.dtype));
    TRY(check_ndim(w, 2, "matmul", "w"));
    if (last_dim(x) != w->desc.dims[1])
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "quanta_matmul: x has K = %lld (last dim) but w is [%lld, %lld] (expects [N, K])",
                            (long long)last_dim(x), (long long)w->desc.dims[0], (long long)w->desc.dims[1]);
    quanta_tensor_desc d = x->desc;
    d.dims[d.ndim - 1] = w->desc.dims[0];
    quanta_tensor *src[2] = {x, w};
    return qn_graph_add_node(g, QN_OP_MATMUL, NULL, 2, src, &d, out);
}

quanta_status quanta_attention(quanta_graph *g, quanta_tensor *q, quanta_tensor *k, quanta_tensor *v,
                               quanta_tensor *mask, quanta_tensor *kv_lens, const quanta_attention_params *params,
                               quanta_tensor **out) {
    static const char *const op = "attention";
    TRY(check_common(g, out, op));
    TRY(check_tensor(g, q, op, "q"));
    TRY(check_tensor(g, k, op, "k"));
    TRY(check_tensor(g, v, op, "v"));
    TRY(check_activation(q, op, "q"));
    TRY(check_ndim(q, 4, op, "q"));
    TRY(check_ndim(k, 4, op, "k"));
    TRY(check_ndim(v, 4, op, "v"));
    if (k->desc.dtype != q->desc.dtype || v->desc.dtype != q->desc.dtype)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_attention: q, k, v must share a dtype (q %s, k %s, v %s)",
                            dt(q->desc.dtype), dt(k->desc.dtype), dt(v->desc.dtype));
    const int64_t *qd = q->desc.dims, *kd = k->desc.dims, *vd = v->desc.dims;
    if (kd[0] != qd[0] || kd[3] != qd[3])
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "quanta_attention: k is [%lld,%lld,%lld,%lld]; its batch and head dim must match q [%lld,%lld,%lld,%lld]",
                            (long long)kd[0], (long long)kd[1], (long long)kd[2], (long long)kd[3], (long long)qd[0],
                            (long long)qd[1], (long long)qd[2], (long long)qd[3]);
    if (memcmp(kd, vd, 4 * sizeof *kd) != 0)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_attention: v must have k's shape [%lld,%lld,%lld,%lld]",
                            (long long)kd[0], (long long)kd[1], (long long)kd[2], (long long)kd[3]);
    if (qd[1] % kd[1] != 0)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "quanta_attention: q heads (%lld) must be a multiple of k/v heads (%lld)", (long long)qd[1],
                            (long long)kd[1]);
    if (mask) {
        TRY(check_tensor(g, mask, op, "mask"));
        if (mask->desc.dtype != QUANTA_U8)
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_attention: mask must be u8, got %s",
                                dt(mask->desc.dtype));
        const int64_t *md = mask->desc.dims;
        int ok = (mask->desc.ndim == 2 && md[0] == qd[2] && md[1] == kd[2]) ||
                 (mask->desc.ndim == 3 && md[0] == qd[0] && md[1] == qd[2] && md[2] == kd[2]);
        if (!ok)
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                                "quanta_attention: mask must be [Nq=%lld, Nk=%lld] or [B=%lld, Nq, Nk]", (long long)qd[2],
                                (long long)kd[2], (long long)qd[0]);
    }
    if (kv_lens) {
        TRY(check_tensor(g, kv_lens, op, "kv_lens"));
        if (kv_lens->desc.dtype != QUANTA_I32 || kv_lens->desc.ndim != 1 || kv_lens->desc.dims[0] != qd[0])
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_attention: kv_lens must be i32 [B=%lld]",
                                (long long)qd[0]);
    }
    qn_op_params p;
    memset(&p, 0, sizeof p);
    if (params) p.attention = *params;
    if (!isfinite(p.attention.scale))
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_attention: params->scale is not finite");
    if (p.attention.window < 0)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_attention: params->window is negative (%d)",
                            p.attention.window);
    if (p.attention.scale == 0.0f) p.attention.scale = (float)(1.0 / sqrt((double)qd[3]));
    quanta_tensor *src[5] = {q, k, v, mask, kv_lens};
    return qn_graph_add_node(g, QN_OP_ATTENTION, &p, 5, src, &q->desc, out);
}

quanta_status quanta_rms_norm(quanta_graph *g, quanta_tensor *x, quanta_tensor *weight, float eps,
                              int32_t weight_plus_one, quanta_tensor **out) {
    TRY(check_common(g, out, "rms_norm"));
    TRY(check_tensor(g, x, "rms_norm", "x"));
    TRY(check_activation(x, "rms_norm", "x"));
    if (weight) {
        TRY(check_tensor(g, weight, "rms_norm", "weight"));
        if (weight->desc.dtype != QUANTA_F32 || weight->desc.ndim != 1 || weight->desc.dims[0] != last_dim(x))
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_rms_norm: weight must be f32 [%lld]",
                                (long long)last_dim(x));
    }
    if (!(eps >= 0.0f) || !isfinite(eps))
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_rms_norm: eps must be finite and >= 0");
    qn_op_params p;
    memset(&p, 0, sizeof p);
    p.eps = eps;
    p.weight_plus_one = weight_plus_one ? 1 : 0;
    quanta_tensor *src[2] = {x, weight};
    return qn_graph_add_node(g, QN_OP_RMS_NORM, &p, 2, src, &x->desc, out);
}

quanta_status quanta_rope(quanta_graph *g, quanta_tensor *x, quanta_tensor *positions,
                          const quanta_rope_params *params, quanta_tensor **out) {
    TRY(check_common(g, out, "rope"));
    TRY(check_tensor(g, x, "rope", "x"));
    TRY(check_tensor(g, positions, "rope", "positions"));
    TRY(check_activation(x, "rope", "x"));
    TRY(check_ndim(x, 4, "rope", "x"));
    if (!params) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_rope: params is NULL");
    if (positions->desc.dtype != QUANTA_I32 || positions->desc.ndim != 1 || positions->desc.dims[0] != x->desc.dims[2])
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_rope: positions must be i32 [N=%lld]",
                            (long long)x->desc.dims[2]);
    if (params->mode != QUANTA_ROPE_NORM && params->mode != QUANTA_ROPE_NEOX)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_rope: params->mode %d is not a quanta_rope_mode",
                            (int)params->mode);
    if (!(params->theta_base > 0.0f) || !isfinite(params->theta_base))
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_rope: params->theta_base must be > 0");
    if (!isfinite(params->freq_scale) || params->freq_scale < 0.0f)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_rope: params->freq_scale must be finite and >= 0");
    int64_t d = x->desc.dims[3];
    int64_t rot = params->rot_dims ? params->rot_dims : d;
    if (params->rot_dims < 0 || rot > d || rot % 2 != 0)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "quanta_rope: params->rot_dims (%d) must be even and <= head dim %lld (0 = all)",
                            params->rot_dims, (long long)d);
    qn_op_params p;
    memset(&p, 0, sizeof p);
    p.rope = *params;
    if (p.rope.freq_scale == 0.0f) p.rope.freq_scale = 1.0f;
    p.rope.rot_dims = (int32_t)rot;
    quanta_tensor *src[2] = {x, positions};
    return qn_graph_add_node(g, QN_OP_ROPE, &p, 2, src, &x->desc, out);
}

static quanta_status unary(quanta_graph *g, quanta_tensor *x, qn_op op, const qn_op_params *p, quanta_tensor **out) {
    const char *name = qn_op_name(op);
    TRY(check_common(g, out, name));
    TRY(check_tensor(g, x, name, "x"));
    TRY(check_activation(x, name, "x"));
    return qn_graph_add_node(g, op, p, 1, &x, &x->desc, out);
}

quanta_status quanta_silu(quanta_graph *g, quanta_tensor *x, quanta_tensor **out) {
    return unary(g, x, QN_OP_SILU, NULL, out);
}

quanta_status quanta_gelu(quanta_graph *g, quanta_tensor *x, int32_t approximate, quanta_tensor **out) {
    qn_op_params p;
    memset(&p, 0, sizeof p);
    p.approximate = approximate ? 1 : 0;
    return unary(g, x, QN_OP_GELU, &p, out);
}

quanta_status quanta_scale(quanta_graph *g, quanta_tensor *x, float s, quanta_tensor **out) {
    if (!isfinite(s)) {
        if (out) *out = NULL;
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_scale: s is not finite");
    }
    qn_op_params p;
    memset(&p, 0, sizeof p);
    p.scale = s;
    return unary(g, x, QN_OP_SCALE, &p, out);
}

quanta_status quanta_softmax(quanta_graph *g, quanta_tensor *x, quanta_tensor **out) {
    return unary(g, x, QN_OP_SOFTMAX, NULL, out);
}

static quanta_status binary(quanta_graph *g, quanta_tensor *a, quanta_tensor *b, qn_op op, quanta_tensor **out) {
    const char *name = qn_op_name(op);
    TRY(check_common(g, out, name));
    TRY(check_tensor(g, a, name, "a"));
    TRY(check_tensor(g, b, name, "b"));
    TRY(check_activation(a, name, "a"));
    if (b->desc.dtype != a->desc.dtype)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_%s: b has dtype %s but a has %s", name,
                            dt(b->desc.dtype), dt(a->desc.dtype));
    int same = b->desc.ndim == a->desc.ndim &&
               memcmp(a->desc.dims, b->desc.dims, (size_t)a->desc.ndim * sizeof a->desc.dims[0]) == 0;
    int row = b->desc.ndim == 1 && b->desc.dims[0] == last_dim(a);
    if (!same && !row)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "quanta_%s: b must have a's shape or be a row [%lld] broadcast over a's rows", name,
                            (long long)last_dim(a));
    quanta_tensor *src[2] = {a, b};
    return qn_graph_add_node(g, op, NULL, 2, src, &a->desc, out);
}

quanta_status quanta_add(quanta_graph *g, quanta_tensor *a, quanta_tensor *b, quanta_tensor **out) {
    return binary(g, a, b, QN_OP_ADD, out);
}

quanta_status quanta_mul(quanta_graph *g, quanta_tensor *a, quanta_tensor *b, quanta_tensor **out) {
    return binary(g, a, b, QN_OP_MUL, out);
}

quanta_status quanta_get_rows(quanta_graph *g, quanta_tensor *table, quanta_tensor *ids, quanta_tensor **out) {
    TRY(check_common(g, out, "get_rows"));
    TRY(check_tensor(g, table, "get_rows", "table"));
    TRY(check_tensor(g, ids, "get_rows", "ids"));
    TRY(check_ndim(table, 2, "get_rows", "table"));
    if (table->desc.dtype == QUANTA_I32 || table->desc.dtype == QUANTA_U8)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_get_rows: table has dtype %s; expected float or quantized",
                            dt(table->desc.dtype));
    if (ids->desc.dtype != QUANTA_I32 || ids->desc.ndim != 1)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_get_rows: ids must be a 1-D i32 tensor");
    quanta_tensor_desc d = qn_desc(QUANTA_F32, 2, ids->desc.dims[0], table->desc.dims[1], 0, 0);
    quanta_tensor *src[2] = {table, ids};
    return qn_graph_add_node(g, QN_OP_GET_ROWS, NULL, 2, src, &d, out);
}

quanta_status quanta_permute(quanta_graph *g, quanta_tensor *x, const int32_t *perm, quanta_tensor **out) {
    TRY(check_common(g, out, "permute"));
    TRY(check_tensor(g, x, "permute", "x"));
    if (!perm) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_permute: perm is NULL");
    if (qn_dtype_is_quantized(x->desc.dtype))
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_permute: x is quantized (%s)", dt(x->desc.dtype));
    int seen[QUANTA_MAX_DIMS] = {0};
    qn_op_params p;
    memset(&p, 0, sizeof p);
    quanta_tensor_desc d = x->desc;
    for (int i = 0; i < x->desc.ndim; i++) {
        if (perm[i] < 0 || perm[i] >= x->desc.ndim || seen[perm[i]]++)
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                                "quanta_permute: perm is not a permutation of 0..%d (perm[%d] = %d)", x->desc.ndim - 1, i,
                                perm[i]);
        p.perm[i] = perm[i];
        d.dims[i] = x->desc.dims[perm[i]];
    }
    return qn_graph_add_node(g, QN_OP_PERMUTE, &p, 1, &x, &d, out);
}

quanta_status quanta_convert(quanta_graph *g, quanta_tensor *x, quanta_dtype dtype, quanta_tensor **out) {
    TRY(check_common(g, out, "convert"));
    TRY(check_tensor(g, x, "convert", "x"));
    TRY(check_activation(x, "convert", "x"));
    if (!is_activation(dtype))
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_convert: dtype must be f32, f16 or bf16, got %s",
                            dt(dtype));
    quanta_tensor_desc d = x->desc;
    d.dtype = dtype;
    return qn_graph_add_node(g, QN_OP_CONVERT, NULL, 1, &x, &d, out);
}

quanta_status quanta_write_rows(quanta_graph *g, quanta_tensor *dst, quanta_tensor *src, quanta_tensor *start,
                                quanta_tensor **out) {
    static const char *const op = "write_rows";
    TRY(check_common(g, out, op));
    TRY(check_tensor(g, dst, op, "dst"));
    TRY(check_tensor(g, src, op, "src"));
    TRY(check_tensor(g, start, op, "start"));
    if (qn_storage_root(dst)->kind != QN_KIND_BUFFER)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "quanta_write_rows: dst must be a buffer tensor (quanta_graph_buffer) or a view of one");
    TRY(check_activation(dst, op, "dst"));
    TRY(check_ndim(dst, 4, op, "dst"));
    TRY(check_ndim(src, 4, op, "src"));
    if (src->desc.dtype != dst->desc.dtype)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_write_rows: src is %s but dst is %s", dt(src->desc.dtype),
                            dt(dst->desc.dtype));
    const int64_t *dd = dst->desc.dims, *sd = src->desc.dims;
    if (sd[0] != dd[0] || sd[1] != dd[1] || sd[3] != dd[3] || sd[2] > dd[2])
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "quanta_write_rows: src [%lld,%lld,%lld,%lld] does not fit dst [%lld,%lld,%lld,%lld] "
                            "(B, H, D must match and T <= Nmax)",
                            (long long)sd[0], (long long)sd[1], (long long)sd[2], (long long)sd[3], (long long)dd[0],
                            (long long)dd[1], (long long)dd[2], (long long)dd[3]);
    if (start->desc.dtype != QUANTA_I32 || start->desc.ndim != 1 || start->desc.dims[0] != 1)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_write_rows: start must be i32 [1]");
    quanta_tensor *srcs[3] = {dst, src, start};
    TRY(qn_graph_add_node(g, QN_OP_WRITE_ROWS, NULL, 3, srcs, &dst->desc, out));
    /* The result is dst itself after the write: a view of the buffer produced by this node. */
    (*out)->kind = QN_KIND_VIEW;
    (*out)->base = qn_storage_root(dst);
    return QUANTA_OK;
}

/* The communicator is only carried here; the reference backend's all_reduce (engine/ref/
 * ref_all_reduce.c) meets the other ranks through it when the node runs. */
quanta_status quanta_all_reduce(quanta_graph *g, quanta_tensor *x, quanta_comm *comm, quanta_tensor **out) {
    TRY(check_common(g, out, "all_reduce"));
    TRY(check_tensor(g, x, "all_reduce", "x"));
    TRY(check_activation(x, "all_reduce", "x"));
    if (!comm) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_all_reduce: comm is NULL");
    qn_op_params p;
    memset(&p, 0, sizeof p);
    p.comm = comm;
    return qn_graph_add_node(g, QN_OP_ALL_REDUCE, &p, 1, &x, &x->desc, out);
}
