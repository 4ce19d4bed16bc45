/*
 * ref_elementwise.c — row- and element-wise ops: rms_norm, add_rms_norm, rms_norm_add, rope, rms_norm_rope, silu,
 * the plan-made pairs (rms_norm_add_norm, rms_norm_rope_pair, add_norm, rope_pair),
 * gelu, glu, add,
 * mul, scale, softmax, convert. Inputs are loaded to f32 first and the result stored last, so an output
 * that shares memory with an input is still right.
 */
#include <math.h>
#include <stdlib.h>

#include "ref_ops.h"
#include "unary_ops.h" /* base/: GELU's constants, shared with the kernels */

/* Loads x (float: the op table checked it) as f32; *n = element count. */
static quanta_status unary_begin(const qn_node *node, const char *op, float **xf, size_t *n) {
    const qn_tensor *x = node->src[0];
    *n = qn_ref_count(x);
    *xf = qn_ref_load(x, *n);
    return *xf ? QUANTA_OK : qn_ref_oom(op);
}

static quanta_status unary_end(const qn_node *node, float *yf, size_t n) {
    qn_ref_store(node->dst, yf, n);
    free(yf);
    return QUANTA_OK;
}

static int64_t last_dim(const qn_tensor *t) { return t->desc.dims[t->desc.ndim - 1]; }

/* x[rows][D] /= sqrt(mean(x^2) + eps), times weight (or 1 + weight), in double. */
static void norm_rows(float *xf, size_t n, int64_t D, const float *wf, const qn_op_params *p) {
    const double eps = (double)p->eps;
    const size_t rows = D ? n / (size_t)D : 0;
    for (size_t r = 0; r < rows; r++) {
        float *x = xf + r * (size_t)D;
        double ss = 0.0;
        for (int64_t d = 0; d < D; d++) ss += (double)x[d] * (double)x[d];
        const double inv = 1.0 / sqrt(ss / (double)D + eps);
        for (int64_t d = 0; d < D; d++) {
            double g = 1.0;
            if (wf) g = p->weight_plus_one ? 1.0 + (double)wf[d] : (double)wf[d];
            x[d] = (float)((double)x[d] * inv * g);
        }
    }
}

quanta_status qn_ref_rms_norm(const qn_node *node) {
    const char *op = "rms_norm";
    float *xf = NULL, *wf = NULL;
    size_t n = 0;
    quanta_status st = unary_begin(node, op, &xf, &n);
    if (st != QUANTA_OK) return st;
    const int64_t D = last_dim(node->src[0]);
    const qn_tensor *w = qn_ref_src(node, 1); /* f32 [D] (the op table) */
    if (w && !(wf = qn_ref_load(w, (size_t)D))) {
        free(xf);
        return qn_ref_oom(op);
    }
    norm_rows(xf, n, D, wf, &node->params);
    free(wf);
    return unary_end(node, xf, n);
}

/* The sum is rounded to f32 once, as the fused kernels keep it. */
quanta_status qn_ref_add_rms_norm(const qn_node *node) {
    const qn_tensor *a = node->src[0], *b = node->src[1], *w = qn_ref_src(node, 2);
    size_t n = 1;
    for (int i = 0; i < a->desc.ndim; i++) n *= (size_t)a->desc.dims[i];
    const int64_t D = last_dim(a);
    float *af = qn_ref_load(a, n), *bf = qn_ref_load(b, n), *wf = w ? qn_ref_load(w, (size_t)D) : NULL;
    if (!af || !bf || (w && !wf)) {
        free(af), free(bf), free(wf);
        return qn_ref_oom("add_rms_norm");
    }
    for (size_t i = 0; i < n; i++) af[i] = (float)((double)af[i] + (double)bf[i]);
    norm_rows(af, n, D, wf, &node->params);
    free(bf), free(wf);
    return unary_end(node, af, n);
}

/* The normed value stays in f32 (norm_rows' rounding) until r is added, as the kernels keep it. */
quanta_status qn_ref_rms_norm_add(const qn_node *node) {
    const qn_tensor *x = node->src[0], *r = node->src[1], *w = qn_ref_src(node, 2);
    const size_t n = qn_ref_count(x);
    const int64_t D = last_dim(x);
    float *xf = qn_ref_load(x, n), *rf = qn_ref_load(r, n), *wf = w ? qn_ref_load(w, (size_t)D) : NULL;
    if (!xf || !rf || (w && !wf)) {
        free(xf), free(rf), free(wf);
        return qn_ref_oom("rms_norm_add");
    }
    norm_rows(xf, n, D, wf, &node->params);
    for (size_t i = 0; i < n; i++) xf[i] = (float)((double)xf[i] + (double)rf[i]);
    free(rf), free(wf);
    return unary_end(node, xf, n);
}

/* Rotates xf[rows][D] in place: row r at positions[r % N], pairs per the params (rot_dims
 * resolved by infer), each angle in double. */
static void rope_rows(float *xf, size_t rows, int64_t D, int64_t N, const int32_t *positions,
                      const quanta_rope_params *rp) {
    const int64_t rot = rp->rot_dims ? rp->rot_dims : D; /* infer resolved 0 to D */
    const double fs = rp->freq_scale != 0.0f ? (double)rp->freq_scale : 1.0;
    const int64_t half = rot / 2;
    for (size_t r = 0; r < rows; r++) {
        float *row = xf + r * (size_t)D;
        const double p = (double)positions[r % (size_t)N] * fs;
        for (int64_t i = 0; i < half; i++) {
            const double theta = p * pow((double)rp->theta_base, -2.0 * (double)i / (double)rot);
            const double c = cos(theta), s = sin(theta);
            const int64_t a = rp->mode == QUANTA_ROPE_NORM ? 2 * i : i;
            const int64_t b = rp->mode == QUANTA_ROPE_NORM ? 2 * i + 1 : i + half;
            const double x0 = row[a], x1 = row[b];
            row[a] = (float)(x0 * c - x1 * s);
            row[b] = (float)(x0 * s + x1 * c);
        }
    }
}

/* rope of x at positions (src slot ip); with norm, rms_norm of x by weight (slot 1) first, the
 * normed row kept in f32 (norm_rows' rounding), as the fused kernels keep it. */
static quanta_status rope_op(const qn_node *node, const char *op, int norm, int ip) {
    const qn_tensor *x = node->src[0], *pos = node->src[ip], *w = norm ? qn_ref_src(node, 1) : NULL;
    const size_t nx = qn_ref_count(x), npos = qn_ref_count(pos);
    const int64_t D = last_dim(x), N = x->desc.dims[x->desc.ndim - 2];
    const int32_t *positions = npos ? (const int32_t *)qn_host_ptr(pos) : NULL;
    float *xf = qn_ref_load(x, nx), *wf = w ? qn_ref_load(w, (size_t)D) : NULL;
    if (!xf || (w && !wf)) {
        free(xf), free(wf);
        return qn_ref_oom(op);
    }
    const size_t rows = D ? nx / (size_t)D : 0;
    if (norm) norm_rows(xf, nx, D, wf, &node->params);
    rope_rows(xf, rows, D, N, positions, &node->params.rope);
    free(wf);
    return unary_end(node, xf, nx);
}

quanta_status qn_ref_rope(const qn_node *node) { return rope_op(node, "rope", 0, 1); }

quanta_status qn_ref_rms_norm_rope(const qn_node *node) { return rope_op(node, "rms_norm_rope", 1, 2); }

/* The activations in double, one definition for silu, gelu, glu and matmul_glu. GELU is written without
 * the cancellation of 1 + erf / 1 + tanh for negative x, so the oracle stays accurate in the
 * tail: 0.5(1 + erf(x/√2)) = 0.5 erfc(-x/√2) and 0.5(1 + tanh u) = 1 / (1 + e^(-2u)). */
double qn_ref_activation(quanta_glu_act act, double x) {
    const double k = QN_GELU_SQRT_2_OVER_PI;
    switch (act) {
    case QUANTA_GLU_SILU: return x / (1.0 + exp(-x));
    case QUANTA_GLU_GELU_TANH: return x / (1.0 + exp(-2.0 * k * (x + QN_GELU_CUBIC * x * x * x)));
    default: return 0.5 * x * erfc(-x / sqrt(2.0));
    }
}

static quanta_status activation_op(const qn_node *node, const char *op, quanta_glu_act act) {
    float *xf;
    size_t n = 0;
    quanta_status st = unary_begin(node, op, &xf, &n);
    if (st != QUANTA_OK) return st;
    for (size_t i = 0; i < n; i++) xf[i] = (float)qn_ref_activation(act, xf[i]);
    return unary_end(node, xf, n);
}

quanta_status qn_ref_silu(const qn_node *node) { return activation_op(node, "silu", QUANTA_GLU_SILU); }

quanta_status qn_ref_gelu(const qn_node *node) {
    return activation_op(node, "gelu", node->params.approximate ? QUANTA_GLU_GELU_TANH : QUANTA_GLU_GELU);
}

/* act(gate) * up, the product of the activation in double (not rounded to the dtype first). */
quanta_status qn_ref_glu(const qn_node *node) {
    float *gf;
    size_t n = 0;
    quanta_status st = unary_begin(node, "glu", &gf, &n);
    if (st != QUANTA_OK) return st;
    float *uf = qn_ref_load(node->src[1], n);
    if (!uf) {
        free(gf);
        return qn_ref_oom("glu");
    }
    const quanta_glu_act act = (quanta_glu_act)node->params.glu_act;
    for (size_t i = 0; i < n; i++) gf[i] = (float)(qn_ref_activation(act, gf[i]) * (double)uf[i]);
    free(uf);
    return unary_end(node, gf, n);
}

/* add/mul: b has a's shape (same element count) or is one row of a's last-dim size (infer). */
static quanta_status binary(const qn_node *node, const char *op, int is_mul) {
    const qn_tensor *a = node->src[0], *b = node->src[1];
    const size_t na = qn_ref_count(a), nb = qn_ref_count(b), D = (size_t)last_dim(a);
    float *af = qn_ref_load(a, na), *bf = qn_ref_load(b, nb);
    if (!af || !bf) {
        free(af), free(bf);
        return qn_ref_oom(op);
    }
    for (size_t i = 0; i < na; i++) {
        const double x = af[i], y = bf[nb == na ? i : i % D];
        af[i] = (float)(is_mul ? x * y : x + y);
    }
    free(bf);
    return unary_end(node, af, na);
}

quanta_status qn_ref_add(const qn_node *node) { return binary(node, "add", 0); }
quanta_status qn_ref_mul(const qn_node *node) { return binary(node, "mul", 1); }

quanta_status qn_ref_scale(const qn_node *node) {
    float *xf;
    size_t n = 0;
    quanta_status st = unary_begin(node, "scale", &xf, &n);
    if (st != QUANTA_OK) return st;
    const double s = (double)node->params.scale;
    for (size_t i = 0; i < n; i++) xf[i] = (float)((double)xf[i] * s);
    return unary_end(node, xf, n);
}

quanta_status qn_ref_softmax(const qn_node *node) {
    float *xf;
    size_t n = 0;
    quanta_status st = unary_begin(node, "softmax", &xf, &n);
    if (st != QUANTA_OK) return st;
    const size_t D = (size_t)last_dim(node->src[0]);
    const size_t rows = D ? n / D : 0;
    double *e = qn_ref_calloc(D, sizeof(double));
    if (!e) {
        free(xf);
        return qn_ref_oom("softmax");
    }
    for (size_t r = 0; r < rows; r++) {
        float *x = xf + r * D;
        double mx = x[0];
        for (size_t d = 1; d < D; d++)
            if (x[d] > mx) mx = x[d];
        double sum = 0.0;
        for (size_t d = 0; d < D; d++) sum += (e[d] = exp((double)x[d] - mx));
        for (size_t d = 0; d < D; d++) x[d] = (float)(e[d] / sum);
    }
    free(e);
    return unary_end(node, xf, n);
}

quanta_status qn_ref_convert(const qn_node *node) {
    float *xf;
    size_t n = 0;
    /* f32 holds every f16 and bf16 value exactly, so one rounding happens, at the store. */
    quanta_status st = unary_begin(node, "convert", &xf, &n);
    if (st != QUANTA_OK) return st;
    return unary_end(node, xf, n);
}

/* A plan-made pair is its two ops one after the other (the second may read the first's result as stored,
 * rounded to its dtype). Each half: the op, its ref function, and its sources as the pair's slots (PAIR_DST: the
 * pair's dst). */
#define PAIR_DST (-1)
typedef struct pair_half {
    qn_op op;
    quanta_status (*run)(const qn_node *);
    int nsrc;
    int src[3];
} pair_half;

static quanta_status run_half(const qn_node *node, const pair_half *h, const qn_tensor *dst) {
    qn_node one = *node;
    one.op = h->op;
    one.nsrc = h->nsrc;
    for (int i = 0; i < QN_MAX_SRC; i++)
        one.src[i] = i >= h->nsrc ? NULL : h->src[i] == PAIR_DST ? node->dst : node->src[h->src[i]];
    one.dst = dst;
    one.extra_dst[0] = NULL;
    return h->run(&one);
}

/* The first half into dst, then the second into extra_dst[0]. */
static quanta_status run_pair(const qn_node *node, const pair_half h[2]) {
    quanta_status st = run_half(node, &h[0], node->dst);
    return st != QUANTA_OK ? st : run_half(node, &h[1], node->extra_dst[0]);
}

/* rms_norm_add into dst, then rms_norm of dst as stored into extra_dst[0]. */
quanta_status qn_ref_rms_norm_add_norm(const qn_node *node) {
    static const pair_half h[2] = {{QN_OP_RMS_NORM_ADD, qn_ref_rms_norm_add, 3, {0, 1, 2}},
                                   {QN_OP_RMS_NORM, qn_ref_rms_norm, 2, {PAIR_DST, 3}}};
    return run_pair(node, h);
}

/* Each rms_norm_rope as qn_ref_rms_norm_rope gives it alone: x0 into dst, x1 into extra_dst[0]. */
quanta_status qn_ref_rms_norm_rope_pair(const qn_node *node) {
    static const pair_half h[2] = {{QN_OP_RMS_NORM_ROPE, qn_ref_rms_norm_rope, 3, {0, 1, 2}},
                                   {QN_OP_RMS_NORM_ROPE, qn_ref_rms_norm_rope, 3, {3, 4, 2}}};
    return run_pair(node, h);
}

/* add into dst, then rms_norm of dst as stored into extra_dst[0]. */
quanta_status qn_ref_add_norm(const qn_node *node) {
    static const pair_half h[2] = {{QN_OP_ADD, qn_ref_add, 2, {0, 1}},
                                   {QN_OP_RMS_NORM, qn_ref_rms_norm, 2, {PAIR_DST, 2}}};
    return run_pair(node, h);
}

/* Each rope as qn_ref_rope gives it alone: x0 into dst, x1 into extra_dst[0]. */
quanta_status qn_ref_rope_pair(const qn_node *node) {
    static const pair_half h[2] = {{QN_OP_ROPE, qn_ref_rope, 2, {0, 1}}, {QN_OP_ROPE, qn_ref_rope, 2, {2, 1}}};
    return run_pair(node, h);
}

/* rope_pair (or rms_norm_rope_pair) with x1's result into a scratch tensor, then write_rows_pair of it and v into
 * the caches: exactly what the three ops give one after the other. */
quanta_status qn_ref_rope_kv(const qn_node *node) {
    const qn_tensor *x1 = node->src[2];
    qn_tensor k = *x1; /* x1's result: made here, read by the append alone */
    void *mem = malloc(x1->bytes ? x1->bytes : 1);
    if (!mem) return qn_ref_oom("rope_kv");
    k.mem = (qn_mem){mem, 0};
    k.aux = NULL;
    qn_node pair = *node;
    pair.extra_dst[0] = &k;
    pair.extra_dst[1] = NULL;
    for (int i = 0; i < QN_MAX_SRC; i++) pair.src[i] = NULL;
    quanta_status st;
    if (node->params.rope_norm) {
        pair.op = QN_OP_RMS_NORM_ROPE_PAIR;
        pair.nsrc = 5;
        pair.src[0] = node->src[0], pair.src[1] = node->src[3], pair.src[2] = node->src[1];
        pair.src[3] = node->src[2], pair.src[4] = node->src[4];
        st = qn_ref_rms_norm_rope_pair(&pair);
    } else {
        pair.op = QN_OP_ROPE_PAIR;
        pair.nsrc = 3;
        pair.src[0] = node->src[0], pair.src[1] = node->src[1], pair.src[2] = node->src[2];
        st = qn_ref_rope_pair(&pair);
    }
    if (st == QUANTA_OK) {
        qn_node w = {.op = QN_OP_WRITE_ROWS_PAIR,
                     .nsrc = 5,
                     .src = {node->src[5], &k, node->src[6], node->src[7], node->src[8]},
                     .dst = node->extra_dst[0],
                     .extra_dst = {node->extra_dst[1]}};
        st = qn_ref_write_rows_pair(&w);
    }
    free(mem);
    return st;
}
