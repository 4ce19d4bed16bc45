/* op_table.c — the op table: per op its name, source slots, the validate-and-infer function
 * (below, one per op) and the reference implementation. See op_table.h. */
#include "op_table.h"

#include <math.h>
#include <string.h>

#include "error.h"
#include "formats.h"
#include "graph_internal.h"
#include "tensor_desc.h"

static int is_activation(quanta_dtype t) { return qn_dtype_is_float(t); }

static const char *dt(quanta_dtype t) {
    const char *n = quanta_dtype_name(t);
    return n ? n : "invalid";
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

/* ------------------------------------------------------------------ validate and infer */

/* x an activation [..., K], w a float or quantized weight [N, K]: the result is x's with N last. */
static quanta_status check_matmul(const char *op, const quanta_tensor *x, const quanta_tensor *w, const char *wn,
                                  quanta_tensor_desc *out) {
    TRY(check_activation(x, op, "x"));
    if (w->desc.dtype == QUANTA_I32 || w->desc.dtype == QUANTA_U8)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_%s: %s has dtype %s; expected a float or quantized weight",
                            op, wn, dt(w->desc.dtype));
    TRY(check_ndim(w, 2, op, wn));
    if (last_dim(x) != w->desc.dims[1])
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "quanta_%s: x has K = %lld (last dim) but %s is [%lld, %lld] (expects [N, K])", op,
                            (long long)last_dim(x), wn, (long long)w->desc.dims[0], (long long)w->desc.dims[1]);
    *out = x->desc;
    out->dims[out->ndim - 1] = w->desc.dims[0];
    return QUANTA_OK;
}

static quanta_status infer_matmul(quanta_tensor *const *src, qn_op_params *p, quanta_tensor_desc *out) {
    (void)p;
    return check_matmul("matmul", src[0], src[1], "w", out);
}

static quanta_status infer_attention(quanta_tensor *const *src, qn_op_params *p, quanta_tensor_desc *out) {
    static const char *const op = "attention";
    const quanta_tensor *q = src[0], *k = src[1], *v = src[2], *mask = src[3], *kv_lens = src[4];
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
        if (kv_lens->desc.dtype != QUANTA_I32 || kv_lens->desc.ndim != 1 || kv_lens->desc.dims[0] != qd[0])
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_attention: kv_lens must be i32 [B=%lld]",
                                (long long)qd[0]);
    }
    if (!isfinite(p->attention.scale))
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_attention: params->scale is not finite");
    if (p->attention.window < 0)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_attention: params->window is negative (%d)",
                            p->attention.window);
    if (p->attention.scale == 0.0f) p->attention.scale = (float)(1.0 / sqrt((double)qd[3]));
    *out = q->desc;
    return QUANTA_OK;
}

static quanta_status infer_paged_attention(quanta_tensor *const *src, qn_op_params *p, quanta_tensor_desc *out) {
    static const char *const op = "paged_attention";
    const quanta_tensor *q = src[0], *k = src[1], *v = src[2], *tab = src[3], *lens = src[4];
    TRY(check_activation(q, op, "q"));
    TRY(check_ndim(q, 4, op, "q"));
    TRY(check_ndim(k, 4, op, "k_pool"));
    TRY(check_ndim(v, 4, op, "v_pool"));
    if (k->desc.dtype != v->desc.dtype || (k->desc.dtype != q->desc.dtype && !qn_kv_dtype_is_quantized(k->desc.dtype)))
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "quanta_paged_attention: k_pool and v_pool must share a dtype, q's or a quantized KV dtype "
                            "(q8, fp8_e4m3); got q %s, k_pool %s, v_pool %s",
                            dt(q->desc.dtype), dt(k->desc.dtype), dt(v->desc.dtype));
    const int64_t *qd = q->desc.dims, *kd = k->desc.dims;
    if (kd[0] != 1 || kd[3] != qd[3])
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "quanta_paged_attention: k_pool is [%lld,%lld,%lld,%lld], expected [1, Hkv, rows, D = %lld]",
                            (long long)kd[0], (long long)kd[1], (long long)kd[2], (long long)kd[3], (long long)qd[3]);
    if (memcmp(kd, v->desc.dims, 4 * sizeof *kd) != 0)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_paged_attention: v_pool must have k_pool's shape");
    if (kd[1] < 1 || qd[1] % kd[1] != 0)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "quanta_paged_attention: q heads (%lld) must be a multiple of pool heads (%lld)",
                            (long long)qd[1], (long long)kd[1]);
    if (p->block_size < 1 || kd[2] % p->block_size != 0)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "quanta_paged_attention: block_size %d must be positive and divide the pool's %lld rows",
                            (int)p->block_size, (long long)kd[2]);
    if (tab->desc.dtype != QUANTA_I32 || tab->desc.ndim != 2 || tab->desc.dims[0] != qd[0] || tab->desc.dims[1] < 1)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_paged_attention: block_table must be i32 [S = %lld, MB >= 1]",
                            (long long)qd[0]);
    if (lens->desc.dtype != QUANTA_I32 || lens->desc.ndim != 1 || lens->desc.dims[0] != qd[0])
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_paged_attention: kv_lens must be i32 [S = %lld]",
                            (long long)qd[0]);
    if (!isfinite(p->attention.scale))
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_paged_attention: params->scale is not finite");
    if (p->attention.window < 0)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_paged_attention: params->window is negative (%d)",
                            p->attention.window);
    if (p->attention.scale == 0.0f) p->attention.scale = (float)(1.0 / sqrt((double)qd[3]));
    *out = q->desc;
    return QUANTA_OK;
}

/* b of a's dtype and shape (the fused ops' second operand: no broadcast). */
static quanta_status check_like(const quanta_tensor *a, const quanta_tensor *b, const char *op, const char *an,
                                const char *bn) {
    if (b->desc.dtype != a->desc.dtype || b->desc.ndim != a->desc.ndim ||
        memcmp(a->desc.dims, b->desc.dims, (size_t)a->desc.ndim * sizeof a->desc.dims[0]) != 0)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_%s: %s must have %s's dtype (%s) and shape", op, bn,
                            an, dt(a->desc.dtype));
    return QUANTA_OK;
}

/* rms_norm's weight and eps, shared with add_rms_norm. */
static quanta_status check_norm(const char *op, const quanta_tensor *x, const quanta_tensor *weight, float eps) {
    if (weight && (weight->desc.dtype != QUANTA_F32 || weight->desc.ndim != 1 || weight->desc.dims[0] != last_dim(x)))
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_%s: weight must be f32 [%lld]", op,
                            (long long)last_dim(x));
    if (!(eps >= 0.0f) || !isfinite(eps))
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_%s: eps must be finite and >= 0", op);
    return QUANTA_OK;
}

static quanta_status infer_rms_norm(quanta_tensor *const *src, qn_op_params *p, quanta_tensor_desc *out) {
    TRY(check_activation(src[0], "rms_norm", "x"));
    TRY(check_norm("rms_norm", src[0], src[1], p->eps));
    *out = src[0]->desc;
    return QUANTA_OK;
}

/* a + b (same shape and dtype), then rms_norm with weight. */
/* rms_norm with weight of src[0] (add_rms_norm: of a + b) or of src[0] plus src[1] (rms_norm_add:
 * r + the norm of x): the same checks, each op naming its operands first and second. */
static quanta_status infer_norm_pair(quanta_tensor *const *src, const qn_op_params *p, quanta_tensor_desc *out,
                                     const char *op, const char *first, const char *second) {
    TRY(check_activation(src[0], op, first));
    TRY(check_like(src[0], src[1], op, first, second));
    TRY(check_norm(op, src[0], src[2], p->eps));
    *out = src[0]->desc;
    return QUANTA_OK;
}

static quanta_status infer_add_rms_norm(quanta_tensor *const *src, qn_op_params *p, quanta_tensor_desc *out) {
    return infer_norm_pair(src, p, out, "add_rms_norm", "a", "b");
}

static quanta_status infer_rms_norm_add(quanta_tensor *const *src, qn_op_params *p, quanta_tensor_desc *out) {
    return infer_norm_pair(src, p, out, "rms_norm_add", "x", "r");
}

/* rms_norm_add's s = r + rms_norm(x, weight) (the result), then rms_norm(s, weight2) (the extra
 * result) with the same eps and weight_plus_one. Made by plans only (fuse_rms_norm_add_norm). */
static quanta_status infer_rms_norm_add_norm(quanta_tensor *const *src, qn_op_params *p, quanta_tensor_desc *out) {
    TRY(infer_norm_pair(src, p, out, "rms_norm_add_norm", "x", "r"));
    return check_norm("rms_norm_add_norm", src[0], src[3], p->eps);
}

/* s = a + b (the result; b of a's dtype and shape, no broadcast), then rms_norm(s, weight) (the
 * extra result): a residual add and the next norm where both are read later (LLaMA's residual
 * stream). Made by plans only (fuse_add_norm). */
static quanta_status infer_add_norm(quanta_tensor *const *src, qn_op_params *p, quanta_tensor_desc *out) {
    return infer_norm_pair(src, p, out, "add_norm", "a", "b");
}

/* act(gate) * up: up of gate's dtype and shape, act a quanta_glu_act. */
static quanta_status infer_glu(quanta_tensor *const *src, qn_op_params *p, quanta_tensor_desc *out) {
    const quanta_tensor *gate = src[0], *up = src[1];
    if (p->glu_act != QUANTA_GLU_SILU && p->glu_act != QUANTA_GLU_GELU && p->glu_act != QUANTA_GLU_GELU_TANH)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_glu: act %d is not a quanta_glu_act", (int)p->glu_act);
    TRY(check_activation(gate, "glu", "gate"));
    TRY(check_like(gate, up, "glu", "gate", "up"));
    *out = gate->desc;
    return QUANTA_OK;
}

/* act(x·w_gate^T) * (x·w_up^T): w_up of w_gate's format and shape, act a quanta_glu_act. */
static quanta_status infer_matmul_glu(quanta_tensor *const *src, qn_op_params *p, quanta_tensor_desc *out) {
    if (p->glu_act != QUANTA_GLU_SILU && p->glu_act != QUANTA_GLU_GELU && p->glu_act != QUANTA_GLU_GELU_TANH)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_matmul_glu: act %d is not a quanta_glu_act",
                            (int)p->glu_act);
    TRY(check_matmul("matmul_glu", src[0], src[1], "w_gate", out));
    return check_like(src[1], src[2], "matmul_glu", "w_gate", "w_up");
}

/* x·w0^T (the result) and x·w1^T, x·w2^T (extra results): matmuls of one x whose weights share a
 * format and K. Plans make this node from matmuls they find (fuse_matmul_multi); there is no
 * public constructor, so this check guards the table's contract, not user input. */
static quanta_status infer_matmul_multi(quanta_tensor *const *src, qn_op_params *p, quanta_tensor_desc *out) {
    (void)p;
    quanta_tensor_desc other;
    TRY(check_matmul("matmul_multi", src[0], src[1], "w0", out));
    for (int i = 2; i < 4 && src[i]; i++) {
        TRY(check_matmul("matmul_multi", src[0], src[i], i == 2 ? "w1" : "w2", &other));
        if (src[i]->desc.dtype != src[1]->desc.dtype)
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_matmul_multi: w%d must have w0's format (%s)",
                                i - 1, dt(src[1]->desc.dtype));
    }
    return QUANTA_OK;
}

/* rope's x [B,H,N,D] and positions i32 [N], and its parameters (completed: freq_scale 0 -> 1,
 * rot_dims 0 -> D); shared with rms_norm_rope. */
static quanta_status check_rope(const char *op, const quanta_tensor *x, const quanta_tensor *positions, qn_op_params *p) {
    const quanta_rope_params *params = &p->rope;
    TRY(check_activation(x, op, "x"));
    TRY(check_ndim(x, 4, op, "x"));
    if (positions->desc.dtype != QUANTA_I32 || positions->desc.ndim != 1 || positions->desc.dims[0] != x->desc.dims[2])
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_%s: positions must be i32 [N=%lld]", op,
                            (long long)x->desc.dims[2]);
    if (params->mode != QUANTA_ROPE_NORM && params->mode != QUANTA_ROPE_NEOX)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_%s: params->mode %d is not a quanta_rope_mode", op,
                            (int)params->mode);
    if (!(params->theta_base > 0.0f) || !isfinite(params->theta_base))
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_%s: params->theta_base must be > 0", op);
    if (!isfinite(params->freq_scale) || params->freq_scale < 0.0f)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_%s: params->freq_scale must be finite and >= 0", op);
    int64_t d = x->desc.dims[3];
    int64_t rot = params->rot_dims ? params->rot_dims : d;
    if (params->rot_dims < 0 || rot > d || rot % 2 != 0)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "quanta_%s: params->rot_dims (%d) must be even and <= head dim %lld (0 = all)", op,
                            params->rot_dims, (long long)d);
    if (p->rope.freq_scale == 0.0f) p->rope.freq_scale = 1.0f;
    p->rope.rot_dims = (int32_t)rot;
    return QUANTA_OK;
}

static quanta_status infer_rope(quanta_tensor *const *src, qn_op_params *p, quanta_tensor_desc *out) {
    TRY(check_rope("rope", src[0], src[1], p));
    *out = src[0]->desc;
    return QUANTA_OK;
}

/* rms_norm of x (weight f32 [D] or absent, eps), then rope at positions. */
static quanta_status infer_rms_norm_rope(quanta_tensor *const *src, qn_op_params *p, quanta_tensor_desc *out) {
    TRY(check_rope("rms_norm_rope", src[0], src[2], p));
    TRY(check_norm("rms_norm_rope", src[0], src[1], p->eps));
    *out = src[0]->desc;
    return QUANTA_OK;
}

/* Two rms_norm_rope of one positions tensor and parameters: x0 with weight0 (the result), x1 with
 * weight1 (the extra result), x1 of x0's dtype, position count and row length (a layer's q and k).
 * Made by plans only (fuse_rms_norm_rope_pair). */
static quanta_status infer_rms_norm_rope_pair(quanta_tensor *const *src, qn_op_params *p, quanta_tensor_desc *out) {
    quanta_tensor *second[3] = {src[3], src[4], src[2]};
    quanta_tensor_desc other;
    TRY(infer_rms_norm_rope(src, p, out));
    TRY(infer_rms_norm_rope(second, p, &other));
    const quanta_tensor_desc *a = &src[0]->desc, *b = &src[3]->desc;
    if (a->dtype != b->dtype || a->ndim != b->ndim || a->dims[a->ndim - 1] != b->dims[b->ndim - 1] ||
        a->dims[a->ndim - 2] != b->dims[b->ndim - 2])
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "quanta_rms_norm_rope_pair: x1 must have x0's dtype, positions and row length");
    return QUANTA_OK;
}

/* Two ropes of one positions tensor and parameters: rope(x0) (the result), rope(x1) (the extra
 * result), x1 of x0's dtype, position count and row length (a layer's q and k without norms).
 * Made by plans only (fuse_rope_pair). */
static quanta_status infer_rope_pair(quanta_tensor *const *src, qn_op_params *p, quanta_tensor_desc *out) {
    TRY(check_rope("rope_pair", src[0], src[1], p));
    TRY(check_rope("rope_pair", src[2], src[1], p)); /* x1 at the same positions (its N is theirs) */
    const quanta_tensor_desc *a = &src[0]->desc, *b = &src[2]->desc;
    if (a->dtype != b->dtype || a->dims[3] != b->dims[3])
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_rope_pair: x1 must have x0's dtype and row length");
    *out = *a;
    return QUANTA_OK;
}

/* silu, gelu, scale, softmax, all_reduce: an activation in, the same shape and dtype out. */
static quanta_status infer_silu(quanta_tensor *const *src, qn_op_params *p, quanta_tensor_desc *out) {
    (void)p;
    TRY(check_activation(src[0], "silu", "x"));
    *out = src[0]->desc;
    return QUANTA_OK;
}
static quanta_status infer_gelu(quanta_tensor *const *src, qn_op_params *p, quanta_tensor_desc *out) {
    p->approximate = p->approximate ? 1 : 0;
    TRY(check_activation(src[0], "gelu", "x"));
    *out = src[0]->desc;
    return QUANTA_OK;
}
static quanta_status infer_scale(quanta_tensor *const *src, qn_op_params *p, quanta_tensor_desc *out) {
    if (!isfinite(p->scale)) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_scale: s is not finite");
    TRY(check_activation(src[0], "scale", "x"));
    *out = src[0]->desc;
    return QUANTA_OK;
}
static quanta_status infer_softmax(quanta_tensor *const *src, qn_op_params *p, quanta_tensor_desc *out) {
    (void)p;
    TRY(check_activation(src[0], "softmax", "x"));
    *out = src[0]->desc;
    return QUANTA_OK;
}

static quanta_status infer_argmax(quanta_tensor *const *src, qn_op_params *p, quanta_tensor_desc *out) {
    (void)p;
    TRY(check_activation(src[0], "argmax", "x"));
    const quanta_tensor_desc *d = &src[0]->desc;
    if (d->ndim < 1 || d->dims[d->ndim - 1] < 1)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_argmax: x needs at least one dim and a last dim >= 1");
    if (d->dims[d->ndim - 1] > INT32_MAX)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_argmax: x's last dim %lld does not fit an i32 index",
                            (long long)d->dims[d->ndim - 1]);
    *out = *d;
    out->dtype = QUANTA_I32;
    out->dims[d->ndim - 1] = 1;
    return QUANTA_OK;
}

/* The communicator is only carried here; the reference backend's all_reduce (engine/ref/
 * ref_all_reduce.c) meets the other ranks through it when the node runs. */
static quanta_status infer_all_reduce(quanta_tensor *const *src, qn_op_params *p, quanta_tensor_desc *out) {
    TRY(check_activation(src[0], "all_reduce", "x"));
    if (!p->comm) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_all_reduce: comm is NULL");
    *out = src[0]->desc;
    return QUANTA_OK;
}

static quanta_status binary(const char *name, quanta_tensor *const *src, quanta_tensor_desc *out) {
    const quanta_tensor *a = src[0], *b = src[1];
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
    *out = a->desc;
    return QUANTA_OK;
}
static quanta_status infer_add(quanta_tensor *const *src, qn_op_params *p, quanta_tensor_desc *out) {
    (void)p;
    return binary("add", src, out);
}
static quanta_status infer_mul(quanta_tensor *const *src, qn_op_params *p, quanta_tensor_desc *out) {
    (void)p;
    return binary("mul", src, out);
}

static quanta_status infer_get_rows(quanta_tensor *const *src, qn_op_params *p, quanta_tensor_desc *out) {
    (void)p;
    const quanta_tensor *table = src[0], *ids = src[1];
    TRY(check_ndim(table, 2, "get_rows", "table"));
    if (table->desc.dtype == QUANTA_I32 || table->desc.dtype == QUANTA_U8)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_get_rows: table has dtype %s; expected float or quantized",
                            dt(table->desc.dtype));
    if (ids->desc.dtype != QUANTA_I32 || ids->desc.ndim != 1)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_get_rows: ids must be a 1-D i32 tensor");
    *out = qn_desc(QUANTA_F32, 2, ids->desc.dims[0], table->desc.dims[1], 0, 0);
    return QUANTA_OK;
}

static quanta_status infer_permute(quanta_tensor *const *src, qn_op_params *p, quanta_tensor_desc *out) {
    const quanta_tensor *x = src[0];
    if (qn_dtype_is_quantized(x->desc.dtype))
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_permute: x is quantized (%s)", dt(x->desc.dtype));
    int seen[QUANTA_MAX_DIMS] = {0};
    *out = x->desc;
    for (int i = 0; i < x->desc.ndim; i++) {
        if (p->perm[i] < 0 || p->perm[i] >= x->desc.ndim || seen[p->perm[i]]++)
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                                "quanta_permute: perm is not a permutation of 0..%d (perm[%d] = %d)", x->desc.ndim - 1, i,
                                p->perm[i]);
        out->dims[i] = x->desc.dims[p->perm[i]];
    }
    for (int i = x->desc.ndim; i < QUANTA_MAX_DIMS; i++) p->perm[i] = 0;
    return QUANTA_OK;
}

static quanta_status infer_convert(quanta_tensor *const *src, qn_op_params *p, quanta_tensor_desc *out) {
    TRY(check_activation(src[0], "convert", "x"));
    if (!is_activation(p->dtype))
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_convert: dtype must be f32, f16 or bf16, got %s",
                            dt(p->dtype));
    *out = src[0]->desc;
    out->dtype = p->dtype;
    return QUANTA_OK;
}

static quanta_status infer_write_rows(quanta_tensor *const *src, qn_op_params *p, quanta_tensor_desc *out) {
    (void)p;
    static const char *const op = "write_rows";
    quanta_tensor *dst = src[0];
    const quanta_tensor *s = src[1], *start = src[2];
    if (qn_storage_root(dst)->kind != QN_KIND_BUFFER)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "quanta_write_rows: dst must be a buffer tensor (quanta_graph_buffer) or a view of one");
    TRY(check_ndim(dst, 4, op, "dst"));
    TRY(check_ndim(s, 4, op, "src"));
    if (qn_kv_dtype_is_quantized(dst->desc.dtype)) { /* a quantized KV pool: rows quantized as written */
        TRY(check_activation(s, op, "src (written into a quantized dst)"));
    } else {
        TRY(check_activation(dst, op, "dst"));
        if (s->desc.dtype != dst->desc.dtype)
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_write_rows: src is %s but dst is %s",
                                dt(s->desc.dtype), dt(dst->desc.dtype));
    }
    const int64_t *dd = dst->desc.dims, *sd = s->desc.dims;
    if (sd[0] != dd[0] || sd[1] != dd[1] || sd[3] != dd[3] || sd[2] > dd[2])
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "quanta_write_rows: src [%lld,%lld,%lld,%lld] does not fit dst [%lld,%lld,%lld,%lld] "
                            "(B, H, D must match and T <= Nmax)",
                            (long long)sd[0], (long long)sd[1], (long long)sd[2], (long long)sd[3], (long long)dd[0],
                            (long long)dd[1], (long long)dd[2], (long long)dd[3]);
    if (start->desc.dtype != QUANTA_I32 || start->desc.ndim != 1 || (start->desc.dims[0] != 1 && start->desc.dims[0] != sd[2]))
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "quanta_write_rows: start must be i32 [1] (consecutive rows) or i32 [T] = [%lld] (a row "
                            "each), got %s [%lld]%s", (long long)sd[2], dt(start->desc.dtype),
                            (long long)start->desc.dims[0], start->desc.ndim != 1 ? " (not 1-D)" : "");
    *out = dst->desc;
    return QUANTA_OK;
}

/* Two write_rows at one start: dst0 <- src0 (the result) and dst1 <- src1 (the extra result),
 * each as write_rows checks it, the two of one shape and dtype. Made by plans only
 * (fuse_write_rows_pair); no public constructor. */
static quanta_status infer_write_rows_pair(quanta_tensor *const *src, qn_op_params *p, quanta_tensor_desc *out) {
    quanta_tensor *second[3] = {src[3], src[4], src[2]};
    quanta_tensor_desc other;
    TRY(infer_write_rows(src, p, out));
    TRY(infer_write_rows(second, p, &other));
    if (src[1]->desc.dtype != src[4]->desc.dtype || src[0]->desc.dtype != src[3]->desc.dtype ||
        memcmp(src[1]->desc.dims, src[4]->desc.dims, 4 * sizeof src[1]->desc.dims[0]) ||
        memcmp(src[0]->desc.dims, src[3]->desc.dims, 4 * sizeof src[0]->desc.dims[0]))
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "quanta_write_rows_pair: dst1 and src1 must have dst0's and src0's dtypes and shapes");
    return QUANTA_OK;
}

/* rope_pair (rope_norm 0) or rms_norm_rope_pair (1) of x0 and x1, with x1's result appended to k_cache and v to
 * v_cache at start as write_rows_pair appends them (float caches of x1's dtype; v of x1's shape): dst is x0's
 * result. Made by plans only (fuse_rope_kv), where x1's result was read by the append alone. */
static quanta_status infer_rope_kv(quanta_tensor *const *src, qn_op_params *p, quanta_tensor_desc *out) {
    static const char *const op = "rope_kv";
    quanta_tensor *norm_pair[5] = {src[0], src[3], src[1], src[2], src[4]}, *rope_pair[3] = {src[0], src[1], src[2]};
    TRY(p->rope_norm ? infer_rms_norm_rope_pair(norm_pair, p, out) : infer_rope_pair(rope_pair, p, out));
    quanta_tensor *writes[5] = {src[5], src[2], src[6], src[7], src[8]};
    quanta_tensor_desc cache;
    TRY(infer_write_rows_pair(writes, p, &cache));
    if (qn_kv_dtype_is_quantized(src[5]->desc.dtype))
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_%s: k_cache must be a float cache, got %s", op,
                            dt(src[5]->desc.dtype));
    return QUANTA_OK;
}

/* ------------------------------------------------------------------ the table */

#define SRC(...) {__VA_ARGS__}
static const qn_op_def op_table[QN_OP_COUNT] = {
    [QN_OP_MATMUL] = {"matmul", 2, SRC("x", "w"), 0, false, infer_matmul, qn_ref_matmul, 1},
    [QN_OP_ATTENTION] = {"attention", 5, SRC("q", "k", "v", "mask", "kv_lens"), 1u << 3 | 1u << 4, false,
                         infer_attention, qn_ref_attention, 0},
    [QN_OP_RMS_NORM] = {"rms_norm", 2, SRC("x", "weight"), 1u << 1, false, infer_rms_norm, qn_ref_rms_norm, 0},
    [QN_OP_ROPE] = {"rope", 2, SRC("x", "positions"), 0, false, infer_rope, qn_ref_rope, 0},
    [QN_OP_SILU] = {"silu", 1, SRC("x"), 0, false, infer_silu, qn_ref_silu, 0},
    [QN_OP_GELU] = {"gelu", 1, SRC("x"), 0, false, infer_gelu, qn_ref_gelu, 0},
    [QN_OP_ADD] = {"add", 2, SRC("a", "b"), 0, false, infer_add, qn_ref_add, 0},
    [QN_OP_MUL] = {"mul", 2, SRC("a", "b"), 0, false, infer_mul, qn_ref_mul, 0},
    [QN_OP_SCALE] = {"scale", 1, SRC("x"), 0, false, infer_scale, qn_ref_scale, 0},
    [QN_OP_SOFTMAX] = {"softmax", 1, SRC("x"), 0, false, infer_softmax, qn_ref_softmax, 0},
    [QN_OP_ARGMAX] = {"argmax", 1, SRC("x"), 0, false, infer_argmax, qn_ref_argmax, 0},
    [QN_OP_GET_ROWS] = {"get_rows", 2, SRC("table", "ids"), 0, false, infer_get_rows, qn_ref_get_rows, 0},
    [QN_OP_PERMUTE] = {"permute", 1, SRC("x"), 0, false, infer_permute, qn_ref_permute, 0},
    [QN_OP_CONVERT] = {"convert", 1, SRC("x"), 0, false, infer_convert, qn_ref_convert, 0},
    [QN_OP_WRITE_ROWS] = {"write_rows", 3, SRC("dst", "src", "start"), 0, true, infer_write_rows, qn_ref_write_rows, 0},
    [QN_OP_ALL_REDUCE] = {"all_reduce", 1, SRC("x"), 0, false, infer_all_reduce, qn_ref_all_reduce, 0},
    [QN_OP_ADD_RMS_NORM] = {"add_rms_norm", 3, SRC("a", "b", "weight"), 1u << 2, false, infer_add_rms_norm,
                            qn_ref_add_rms_norm, 0},
    [QN_OP_PAGED_ATTENTION] = {"paged_attention", 5, SRC("q", "k_pool", "v_pool", "block_table", "kv_lens"), 0, false,
                               infer_paged_attention, qn_ref_paged_attention, 1},
    [QN_OP_GLU] = {"glu", 2, SRC("gate", "up"), 0, false, infer_glu, qn_ref_glu, 0},
    [QN_OP_RMS_NORM_ADD] = {"rms_norm_add", 3, SRC("x", "r", "weight"), 1u << 2, false, infer_rms_norm_add,
                            qn_ref_rms_norm_add, 0},
    [QN_OP_RMS_NORM_ROPE] = {"rms_norm_rope", 3, SRC("x", "weight", "positions"), 1u << 1, false, infer_rms_norm_rope,
                             qn_ref_rms_norm_rope, 0},
    [QN_OP_MATMUL_GLU] = {"matmul_glu", 3, SRC("x", "w_gate", "w_up"), 0, false, infer_matmul_glu, qn_ref_matmul_glu,
                          1},
    [QN_OP_MATMUL_MULTI] = {"matmul_multi", 4, SRC("x", "w0", "w1", "w2"), 1u << 3, false, infer_matmul_multi,
                            qn_ref_matmul_multi, 1},
    [QN_OP_RMS_NORM_ROPE_PAIR] = {"rms_norm_rope_pair", 5, SRC("x0", "weight0", "positions", "x1", "weight1"),
                                  1u << 1 | 1u << 4, false, infer_rms_norm_rope_pair, qn_ref_rms_norm_rope_pair, 0},
    [QN_OP_RMS_NORM_ADD_NORM] = {"rms_norm_add_norm", 4, SRC("x", "r", "weight", "weight2"), 1u << 2 | 1u << 3, false,
                                 infer_rms_norm_add_norm, qn_ref_rms_norm_add_norm, 0},
    [QN_OP_WRITE_ROWS_PAIR] = {"write_rows_pair", 5, SRC("dst0", "src0", "start", "dst1", "src1"), 0, true,
                               infer_write_rows_pair, qn_ref_write_rows_pair, 0},
    [QN_OP_ADD_NORM] = {"add_norm", 3, SRC("a", "b", "weight"), 1u << 2, false, infer_add_norm, qn_ref_add_norm, 0},
    [QN_OP_ROPE_PAIR] = {"rope_pair", 3, SRC("x0", "positions", "x1"), 0, false, infer_rope_pair, qn_ref_rope_pair, 0},
    /* writes k_cache and v_cache in place (its extra results) while its result is x0's: dst_is_src0 stays false */
    [QN_OP_ROPE_KV] = {"rope_kv", 9, SRC("x0", "positions", "x1", "weight0", "weight1", "k_cache", "start", "v_cache", "v"),
                       1u << 3 | 1u << 4, false, infer_rope_kv, qn_ref_rope_kv, 0},
};

const qn_op_def *qn_op_def_of(qn_op op) {
    return (unsigned)op < QN_OP_COUNT && op_table[op].name ? &op_table[op] : NULL;
}

const char *qn_op_name(qn_op op) {
    const qn_op_def *d = qn_op_def_of(op);
    return d ? d->name : "unknown";
}

quanta_status qn_op_build(quanta_graph *g, qn_op op, quanta_tensor *const *src, const qn_op_params *params,
                          quanta_tensor **out) {
    const qn_op_def *d = qn_op_def_of(op);
    if (out) *out = NULL;
    if (!g) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_%s: graph is NULL", d->name);
    if (!out) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_%s: out is NULL", d->name);
    for (int i = 0; i < d->nsrc; i++) {
        if (!src[i]) {
            if (d->optional & (1u << i)) continue;
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_%s: %s is NULL", d->name, d->src_names[i]);
        }
        if (src[i]->graph != g)
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_%s: %s belongs to another graph", d->name,
                                d->src_names[i]);
    }
    qn_op_params p;
    memset(&p, 0, sizeof p);
    if (params) p = *params;
    quanta_tensor_desc desc;
    memset(&desc, 0, sizeof desc);
    TRY(d->infer(src, &p, &desc));
    TRY(qn_graph_add_node(g, op, &p, d->nsrc, src, &desc, out));
    if (d->dst_is_src0) { /* the result is the written storage: a view of it, produced by this node */
        (*out)->kind = QN_KIND_VIEW;
        (*out)->base = qn_storage_root(src[0]);
    }
    return QUANTA_OK;
}
