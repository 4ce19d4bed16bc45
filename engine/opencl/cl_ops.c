/*
 * cl_ops.c — launchers for the element-wise and row ops (kernels_cl/elementwise.cl).
 * Shapes and dtypes were validated when the graph was built and the dtypes the kernels decode
 * are in the kernel table (cl_backend.c); these check only the values known at run time
 * (ids, start).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cl_internal.h"

#define EW_LWS 64

static const qn_tensor *src(const qn_node *n, int i) { return i < n->nsrc ? n->src[i] : NULL; }

quanta_status qn_cl_unary_raw(qn_cl *s, cl_mem x, cl_ulong xo, int xdt, cl_mem y, cl_ulong yo, int ydt, size_t n,
                              int op, float scale) {
    cl_int xd = xdt, yd = ydt, o = op;
    cl_ulong nn = n;
    qn_cl_arg a[] = {QA(x), QA(xo), QA(xd), QA(y), QA(yo), QA(yd), QA(nn), QA(o), QA(scale)};
    quanta_status st = qn_cl_set_args(s, QK_UNARY, a, 9);
    size_t l = EW_LWS;
    return st != QUANTA_OK ? st : qn_cl_launch(s, QK_UNARY, "unary", 1, &n, &l);
}

static quanta_status run_unary(qn_cl *s, const qn_node *node, int op, float scale) {
    const qn_tensor *x = src(node, 0), *y = node->dst;
    return qn_cl_unary_raw(s, qn_cl_mem(x), x->mem.offset, x->desc.dtype, qn_cl_mem(y), y->mem.offset, y->desc.dtype,
                           qn_cl_elems(x), op, scale);
}

static quanta_status run_binary(qn_cl *s, const qn_node *node, int op) {
    const qn_tensor *a = src(node, 0), *b = src(node, 1), *y = node->dst;
    cl_mem am = qn_cl_mem(a), bm = qn_cl_mem(b), ym = qn_cl_mem(y);
    cl_ulong ao = a->mem.offset, bo = b->mem.offset, yo = y->mem.offset, n = qn_cl_elems(a), nb = qn_cl_elems(b);
    cl_int ad = a->desc.dtype, bd = b->desc.dtype, yd = y->desc.dtype, o = op;
    qn_cl_arg args[] = {QA(am), QA(ao), QA(ad), QA(bm), QA(bo), QA(bd), QA(ym), QA(yo), QA(yd), QA(n), QA(nb), QA(o)};
    quanta_status st = qn_cl_set_args(s, QK_BINARY, args, 12);
    size_t g = (size_t)n, l = EW_LWS;
    return st != QUANTA_OK ? st : qn_cl_launch(s, QK_BINARY, "binary", 1, &g, &l);
}

/* act(gate) * up in one pass (qn_glu): the activation's op code as the unary kernel's. qb: NULL, or (QUANTA_OPENCL_XQ_NORM=1,
 * cl_norm_gemv.c) qn_glu_xq, which also leaves the result's int8 form in qb (q4's chunks if q4, else q8's pieces) */
quanta_status qn_cl_glu_run_xq(qn_cl *s, const qn_node *node, cl_mem qb, int q4) {
    const qn_tensor *g = src(node, 0), *u = src(node, 1), *y = node->dst;
    cl_mem gm = qn_cl_mem(g), um = qn_cl_mem(u), ym = qn_cl_mem(y);
    cl_ulong go = g->mem.offset, uo = u->mem.offset, yo = y->mem.offset, n = qn_cl_elems(g);
    cl_int d = g->desc.dtype;
    cl_int op = qn_cl_glu_op(node->params.glu_act);
    size_t gs = (size_t)n, l = EW_LWS;
    if (qb) { /* the same items and groups (EW_LWS: a multiple of 32, so no chunk straddles two groups) */
        if (d != QUANTA_F32 || yo % 16 || n % (q4 ? 32 : 16) || l % 32)
            return qn_error_set(QUANTA_ERR_STATE, "opencl glu: no int8 form for this row");
        const cl_ulong zero = 0;
        qn_cl_arg a[] = {QA(gm), QA(go), QA(um), QA(uo), QA(ym), QA(yo), QA(d), QA(n), QA(op), QA(qb), QA(zero), QA(q4)};
        quanta_status st = qn_cl_set_args(s, QK_GLU_XQ, a, 12);
        return st != QUANTA_OK ? st : qn_cl_launch(s, QK_GLU_XQ, q4 ? "glu + x int8 (q4)" : "glu + x int8 (q8)", 1, &gs, &l);
    }
    qn_cl_arg a[] = {QA(gm), QA(go), QA(um), QA(uo), QA(ym), QA(yo), QA(d), QA(n), QA(op)};
    quanta_status st = qn_cl_set_args(s, QK_GLU, a, 9);
    return st != QUANTA_OK ? st : qn_cl_launch(s, QK_GLU, "glu", 1, &gs, &l);
}
static quanta_status run_glu(qn_cl *s, const qn_node *node) { return qn_cl_glu_run_xq(s, node, NULL, 0); }

/* CPUs: one work-item per row (PoCL runs a group's items as a loop; the local-memory tree's
 * barriers cost more than the row). GPUs: up to 256 items a row; QUANTA_OPENCL_ROW_LWS=N (a power
 * of two) moves that cap, to time a decode step's one-row norms (one group on the device) wider. */
static size_t row_lws(qn_cl *s, int64_t D) {
    size_t l = 1, cap = 256;
    if (s->cpu_rows) return 1;
    const char *e = getenv("QUANTA_OPENCL_ROW_LWS");
    if (e && atoi(e) > 0 && (atoi(e) & (atoi(e) - 1)) == 0) cap = (size_t)atoi(e);
    while (l < cap && l * 2 <= s->dev.max_wg && (int64_t)l * 2 <= D) l *= 2;
    return l;
}

/* qb: NULL, or (a one-row norm on the GPU class, QUANTA_OPENCL_XQ_NORM=1, cl_norm_gemv.c) where qn_rms_norm_xq also
 * leaves the normed row's int8 form (q4: q4's chunks, else q8's pieces) */
static quanta_status run_rows_xq(qn_cl *s, const qn_node *node, cl_mem qb, cl_int q4) {
    const qn_tensor *x = src(node, 0), *y = node->dst;
    cl_mem xm = qn_cl_mem(x), ym = qn_cl_mem(y);
    cl_ulong xo = x->mem.offset, yo = y->mem.offset, D = (cl_ulong)x->desc.dims[x->desc.ndim - 1];
    cl_int xd = x->desc.dtype, yd = y->desc.dtype;
    if (D == 0) return QUANTA_OK;
    size_t rows = qn_cl_elems(x) / D, l = row_lws(s, (int64_t)D), g = rows * l;
    quanta_status st;
    if (node->op == QN_OP_SOFTMAX) {
        qn_cl_arg a[] = {QA(xm), QA(xo), QA(xd), QA(ym), QA(yo), QA(yd), QA(D), QA_LOCAL(l * sizeof(float))};
        st = qn_cl_set_args(s, QK_SOFTMAX, a, 8);
        return st != QUANTA_OK ? st : qn_cl_launch(s, QK_SOFTMAX, "softmax", 1, &g, &l);
    }
    if (node->op == QN_OP_ARGMAX) {
        qn_cl_arg a[] = {QA(xm), QA(xo), QA(xd), QA(ym), QA(yo), QA(D), QA_LOCAL(l * sizeof(float)),
                         QA_LOCAL(l * sizeof(cl_int))};
        st = qn_cl_set_args(s, QK_ARGMAX, a, 8);
        return st != QUANTA_OK ? st : qn_cl_launch(s, QK_ARGMAX, "argmax", 1, &g, &l);
    }
    /* rms_norm: x, weight; add_rms_norm: a (x), b (the residual r, added before the norm),
     * weight; rms_norm_add: x, r (added after the norm: p below), weight; add_norm: a (x), b (r),
     * weight2 (the first stage only adds: norm1 0). */
    const int addn = node->op == QN_OP_ADD_NORM, pre = node->op == QN_OP_ADD_RMS_NORM || addn,
              post = node->op == QN_OP_RMS_NORM_ADD || node->op == QN_OP_RMS_NORM_ADD_NORM;
    const qn_tensor *r = pre ? src(node, 1) : NULL, *pr = post ? src(node, 1) : NULL;
    const qn_tensor *w = addn ? NULL : src(node, pre || post ? 2 : 1);
    cl_mem rm = r ? qn_cl_mem(r) : xm, wm = w ? qn_cl_mem(w) : xm, pm = pr ? qn_cl_mem(pr) : xm;
    cl_ulong ro = r ? r->mem.offset : 0, wo = w ? w->mem.offset : 0, po = pr ? pr->mem.offset : 0;
    cl_int rd = r ? r->desc.dtype : 0, hasr = r != NULL, pd = pr ? pr->desc.dtype : 0, hasp = pr != NULL;
    cl_int wd = w ? w->desc.dtype : 0, hasw = w != NULL, p1 = node->params.weight_plus_one != 0;
    float eps = node->params.eps;
    /* rms_norm_add_norm, add_norm: the stored row normed again by weight2 into extra_dst[0] */
    const int two = node->op == QN_OP_RMS_NORM_ADD_NORM || addn;
    const qn_tensor *w2 = two ? src(node, addn ? 2 : 3) : NULL, *y2 = two ? node->extra_dst[0] : NULL;
    cl_mem w2m = w2 ? qn_cl_mem(w2) : xm, y2m = y2 ? qn_cl_mem(y2) : ym;
    cl_ulong w2o = w2 ? w2->mem.offset : 0, y2o = y2 ? y2->mem.offset : 0;
    cl_int w2d = w2 ? w2->desc.dtype : 0, hasw2 = w2 != NULL, has2 = y2 != NULL, norm1 = !addn;
    qn_cl_arg a[] = {QA(xm),  QA(xo),   QA(xd),  QA(rm),    QA(ro),   QA(rd),  QA(hasr), QA(wm), QA(wo),
                     QA(wd),  QA(hasw), QA(p1),  QA(pm),    QA(po),   QA(pd),  QA(hasp), QA(ym), QA(yo),
                     QA(yd),  QA(D),    QA(eps), QA(w2m),   QA(w2o),  QA(w2d), QA(hasw2), QA(has2), QA(y2m),
                     QA(y2o), QA(norm1), QA_LOCAL(l * sizeof(float))};
    /* the GPU class's one-pass form, the row in registers (16 elements an item at most), where
     * QUANTA_OPENCL_NORM_REG=1 (off until measured on a GPU) */
    const char *e = getenv("QUANTA_OPENCL_NORM_REG");
    if (qb) { /* the same arguments, then the int8 form's buffer (offset 0) and layout */
        if (rows != 1 || s->cpu_rows || l < 32) return qn_error_set(QUANTA_ERR_STATE, "opencl norm: int8 form of one row only");
        const cl_ulong zero = 0;
        qn_cl_arg b[sizeof a / sizeof a[0] + 3];
        const int na = (int)(sizeof a / sizeof a[0]) - 1; /* the local buffer last */
        memcpy(b, a, (size_t)na * sizeof *b);
        b[na] = a[na], b[na + 1] = QA(qb), b[na + 2] = QA(zero), b[na + 3] = QA(q4);
        st = qn_cl_set_args(s, QK_RMS_NORM_XQ, b, na + 4);
        return st != QUANTA_OK ? st
                               : qn_cl_launch(s, QK_RMS_NORM_XQ, q4 ? "norm + x int8 (q4)" : "norm + x int8 (q8)", 1, &g, &l);
    }
    const qn_cl_kernel_id id =
        s->gpu_class && e && !strcmp(e, "1") && D <= 16 * (cl_ulong)l ? QK_RMS_NORM_REG : QK_RMS_NORM;
    st = qn_cl_set_args(s, id, a, (int)(sizeof a / sizeof a[0]));
    return st != QUANTA_OK ? st : qn_cl_launch(s, id, qn_op_name(node->op), 1, &g, &l);
}
static quanta_status run_rows(qn_cl *s, const qn_node *node) { return run_rows_xq(s, node, NULL, 0); }

quanta_status qn_cl_norm_run_xq(qn_cl *s, const qn_node *node, cl_mem qb, int q4) {
    switch (node->op) {
    case QN_OP_RMS_NORM: case QN_OP_ADD_NORM: case QN_OP_RMS_NORM_ADD_NORM: return run_rows_xq(s, node, qb, q4);
    default: return qn_error_set(QUANTA_ERR_STATE, "opencl norm: no int8 form for %s", qn_op_name(node->op));
    }
}

/* The frequency table for (base, rot) (cl_internal.h), made on first use: doubles where the
 * device has fp64 (the kernel's angle type), else floats. NULL when it cannot be kept (all
 * slots taken, the memory limit, an allocation failure): the kernel then computes them. */
static cl_mem rope_freq(qn_cl *s, float base, cl_ulong rot) {
    for (int i = 0; i < s->n_rope_freq; i++)
        if (s->rope_freq[i].base == base && s->rope_freq[i].rot == rot) return s->rope_freq[i].mem;
    if (s->n_rope_freq == QN_CL_ROPE_TABLES) return NULL;
    const size_t half = (size_t)rot / 2, es = s->dev.has_fp64 ? sizeof(cl_double) : sizeof(cl_float);
    const size_t bytes = half ? half * es : es;
    void *h = malloc(bytes);
    if (!h || qn_mem_reserve(s->stats, bytes, "opencl rope: frequency table") != QUANTA_OK) {
        qn_error_clear();
        free(h);
        return NULL;
    }
    for (size_t i = 0; i < half; i++) { /* the reference's formula (engine/ref/ref_elementwise.c) */
        const double f = pow((double)base, -2.0 * (double)i / (double)rot);
        if (s->dev.has_fp64) ((cl_double *)h)[i] = f;
        else ((cl_float *)h)[i] = (cl_float)f;
    }
    if (!half) memset(h, 0, bytes);
    cl_int err;
    /* made by copy at creation, not by an enqueued write: works inside a capture too */
    cl_mem m = clCreateBuffer(s->ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, bytes, h, &err);
    free(h);
    if (err != CL_SUCCESS) {
        qn_mem_release(s->stats, bytes);
        return NULL;
    }
    s->rope_freq[s->n_rope_freq++] = (qn_cl_rope_freq){base, rot, m, bytes};
    return m;
}

static quanta_status run_rope(qn_cl *s, const qn_node *node) {
    const qn_tensor *x = src(node, 0), *p = src(node, 1), *y = node->dst;
    const quanta_rope_params *rp = &node->params.rope;
    cl_ulong D = (cl_ulong)x->desc.dims[x->desc.ndim - 1], N = (cl_ulong)x->desc.dims[x->desc.ndim - 2];
    cl_ulong rot = rp->rot_dims ? (cl_ulong)rp->rot_dims : D;
    if (rot > D || rot % 2 || (cl_ulong)qn_cl_elems(p) != N)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "opencl rope: rot_dims = %llu must be even and <= D = %llu",
                            (unsigned long long)rot, (unsigned long long)D);
    if (D == 0 || N == 0) return QUANTA_OK;
    cl_ulong rows = qn_cl_elems(x) / D;
    cl_mem xm = qn_cl_mem(x), pm = qn_cl_mem(p), ym = qn_cl_mem(y);
    cl_ulong xo = x->mem.offset, po = p->mem.offset, yo = y->mem.offset;
    cl_int xd = x->desc.dtype, yd = y->desc.dtype, neox = rp->mode == QUANTA_ROPE_NEOX;
    float base = rp->theta_base, fs = rp->freq_scale != 0.0f ? rp->freq_scale : 1.0f;
    cl_mem fm = rope_freq(s, base, rot);
    cl_int has_freq = fm != NULL;
    if (!fm) fm = pm; /* any valid buffer: the kernel reads no table without one */
    /* rope_pair: x1 into extra_dst[0], its positions after x's in dimension 1 */
    const int pair = node->op == QN_OP_ROPE_PAIR;
    const qn_tensor *x1 = pair ? src(node, 2) : x, *y1 = pair ? node->extra_dst[0] : y;
    cl_mem x1m = qn_cl_mem(x1), y1m = qn_cl_mem(y1);
    cl_ulong xo1 = x1->mem.offset, yo1 = y1->mem.offset, rows1 = qn_cl_elems(x1) / D;
    cl_int has2 = pair;
    qn_cl_arg a[] = {QA(xm),  QA(xo),  QA(xd),  QA(pm),  QA(po),       QA(ym),  QA(yo),  QA(yd),  QA(rows),
                     QA(N),   QA(D),   QA(rot), QA(neox), QA(base),    QA(fs),  QA(fm),  QA(has_freq),
                     QA(x1m), QA(xo1), QA(y1m), QA(yo1),  QA(rows1),   QA(has2)};
    quanta_status st = qn_cl_set_args(s, QK_ROPE, a, (int)(sizeof a / sizeof a[0]));
    /* one item per rotated pair; the pairs' items also copy the dims past rot */
    size_t g[2] = {(size_t)(rot / 2), (size_t)N * (pair ? 2 : 1)}, l[2] = {(size_t)(rot / 2) < 64 ? 16 : 64, 1};
    return st != QUANTA_OK ? st : qn_cl_launch(s, QK_ROPE, qn_op_name(node->op), 2, g, l);
}

/* Out is dst after the write: where the executor gave it memory of its own (never in plans'
 * in-place use), dst's rows are copied over first. */
static quanta_status write_rows_carry(qn_cl *s, const qn_tensor *dst, const qn_tensor *out);

/* rms_norm_rope (x, weight, positions): one work-group per position, its rot / 2 pairs as
 * items (qn_cl_rms_norm_rope_supports checks the group and its local memory). rms_norm_rope_pair
 * (x0, weight0, positions, x1, weight1) and rope_kv (x0, positions, x1, weight0, weight1, k_cache,
 * start, v_cache, v; without rope_norm the weights are absent and the rows not normed) in the same launch. */
static quanta_status run_rms_norm_rope(qn_cl *s, const qn_node *node) {
    const int kv = node->op == QN_OP_ROPE_KV, pair = node->op == QN_OP_RMS_NORM_ROPE_PAIR || kv;
    const int norm = !kv || node->params.rope_norm;
    const qn_tensor *x = src(node, 0), *w = src(node, kv ? 3 : 1), *p = src(node, kv ? 1 : 2), *y = node->dst;
    const quanta_rope_params *rp = &node->params.rope;
    cl_ulong D = (cl_ulong)x->desc.dims[x->desc.ndim - 1], N = (cl_ulong)x->desc.dims[x->desc.ndim - 2];
    cl_ulong rot = rp->rot_dims ? (cl_ulong)rp->rot_dims : D;
    if (D == 0 || N == 0) return QUANTA_OK;
    cl_ulong rows = qn_cl_elems(x) / D;
    cl_mem xm = qn_cl_mem(x), pm = qn_cl_mem(p), ym = qn_cl_mem(y), wm = w ? qn_cl_mem(w) : xm;
    cl_ulong xo = x->mem.offset, po = p->mem.offset, yo = y->mem.offset, wo = w ? w->mem.offset : 0;
    cl_int xd = x->desc.dtype, yd = y->desc.dtype, neox = rp->mode == QUANTA_ROPE_NEOX, hasw = w != NULL;
    cl_int p1 = node->params.weight_plus_one != 0;
    float eps = node->params.eps, base = rp->theta_base, fs = rp->freq_scale != 0.0f ? rp->freq_scale : 1.0f;
    cl_mem fm = rope_freq(s, base, rot);
    cl_int has_freq = fm != NULL;
    if (!fm) fm = pm; /* any valid buffer: the kernel reads no table without one */
    /* the pair's x1 (weight1) into extra_dst[0], its groups after x's; rope_kv's into the k cache */
    const qn_tensor *x1 = pair ? src(node, kv ? 2 : 3) : x, *w1 = pair ? src(node, 4) : NULL,
                    *y1 = pair ? node->extra_dst[0] : y;
    cl_mem x1m = qn_cl_mem(x1), w1m = w1 ? qn_cl_mem(w1) : xm, y1m = qn_cl_mem(y1);
    cl_ulong x1o = x1->mem.offset, w1o = w1 ? w1->mem.offset : 0, y1o = y1->mem.offset, rows1 = qn_cl_elems(x1) / D;
    cl_int hasw1 = w1 != NULL, has2 = pair, cl_norm = norm, has_kv = kv;
    /* rope_kv: the appends (write_rows_pair's arguments); dummies otherwise */
    const qn_tensor *start = kv ? src(node, 6) : p, *v = kv ? src(node, 8) : x, *vc = kv ? node->extra_dst[1] : y;
    cl_ulong Nmax = kv ? (cl_ulong)src(node, 5)->desc.dims[2] : 1, sto = start->mem.offset,
             ns = kv ? (cl_ulong)start->desc.dims[0] : 1, vo = v->mem.offset, vco = vc->mem.offset,
             rows_v = qn_cl_elems(v) / D;
    cl_mem stm = qn_cl_mem(start), vm = qn_cl_mem(v), vcm = qn_cl_mem(vc);
    quanta_status st = QUANTA_OK;
    if (kv) { /* the caches' other rows, where the plan gave the results memory of their own (it never does) */
        st = write_rows_carry(s, src(node, 5), node->extra_dst[0]);
        if (st == QUANTA_OK) st = write_rows_carry(s, src(node, 7), node->extra_dst[1]);
        if (st != QUANTA_OK) return st;
    }
    const cl_ulong per = (pair && rows1 > rows ? rows1 : rows) / N, per_v = kv ? rows_v / N : 0;
    /* the GPU class: a group per (position, row) (qn_rms_norm_rope's one_row): a decode step's rope_kv was
     * 3 groups on the whole device, each row's sum of squares a serial loop in one item.
     * QUANTA_OPENCL_ROPE_GPU=0 keeps a group per position there. */
    const char *e = getenv("QUANTA_OPENCL_ROPE_GPU");
    const cl_int one_row = s->gpu_class && !(e && !strcmp(e, "0"));
    const cl_ulong slices = one_row ? (per_v > per ? per_v : per) : 1, lsz = rot / 2;
    qn_cl_arg a[] = {QA(xm),       QA(xo),    QA(xd),    QA(wm),     QA(wo),    QA(hasw), QA(p1),   QA(eps),
                     QA(pm),       QA(po),    QA(ym),    QA(yo),     QA(yd),    QA(rows), QA(N),    QA(D),
                     QA(rot),      QA(neox),  QA(base),  QA(fs),     QA(fm),    QA(has_freq), QA(x1m), QA(x1o),
                     QA(w1m),      QA(w1o),   QA(hasw1), QA(y1m),    QA(y1o),   QA(rows1), QA(has2), QA(cl_norm),
                     QA(has_kv),   QA(Nmax),  QA(stm),   QA(sto),    QA(ns),    QA(vm),   QA(vo),   QA(vcm),
                     QA(vco),      QA(rows_v), QA(one_row), QA(s->err_flag),
                     QA_LOCAL((size_t)(one_row && lsz > per ? lsz : per) * sizeof(float))};
    st = qn_cl_set_args(s, QK_RMS_NORM_ROPE, a, (int)(sizeof a / sizeof a[0]));
    size_t g[3] = {(size_t)(rot / 2), (size_t)N * (size_t)(1 + pair + kv), (size_t)slices}, l[3] = {(size_t)(rot / 2), 1, 1};
    return st != QUANTA_OK ? st : qn_cl_launch(s, QK_RMS_NORM_ROPE, qn_op_name(node->op), 3, g, l);
}

bool qn_cl_rms_norm_rope_supports(qn_cl *s, const qn_node *node) {
    const qn_tensor *x = node->src[0];
    const int64_t D = x->desc.dims[x->desc.ndim - 1], N = x->desc.dims[x->desc.ndim - 2];
    const int64_t rot = node->params.rope.rot_dims ? node->params.rope.rot_dims : D;
    if (D == 0 || N == 0) return true;
    uint64_t per = (uint64_t)(qn_cl_elems(x) / (size_t)D / (size_t)N);
    if (node->op == QN_OP_RMS_NORM_ROPE_PAIR || node->op == QN_OP_ROPE_KV) {
        const uint64_t per1 = (uint64_t)(qn_cl_elems(node->src[node->op == QN_OP_ROPE_KV ? 2 : 3]) / (size_t)D / (size_t)N);
        if (per1 > per) per = per1;
    }
    if ((uint64_t)(rot / 2) > per) per = (uint64_t)(rot / 2); /* the GPU class's tree (one_row) */
    return rot >= 2 && (size_t)(rot / 2) <= s->dev.max_wg && per * sizeof(float) <= s->dev.local_mem;
}

static quanta_status run_get_rows(qn_cl *s, const qn_node *node) {
    const qn_tensor *t = src(node, 0), *ids = src(node, 1), *y = node->dst;
    qn_quant_layout w;
    quanta_status st = qn_cl_weight_layout(t, "get_rows", &w);
    if (st != QUANTA_OK) return st;
    size_t T = qn_cl_elems(ids);
    if (T == 0 || w.cols == 0) return QUANTA_OK;
    /* ids outside [0, V) are caught by the kernel and reported at synchronize (no read-back,
     * which would drain the queue at the start of every step) */
    return qn_cl_get_rows_raw(s, qn_cl_mem(t), t->mem.offset, &w, qn_cl_mem(ids), ids->mem.offset, T, qn_cl_mem(y),
                              y->mem.offset, y->desc.dtype, "get_rows");
}

quanta_status qn_cl_get_rows_raw(qn_cl *s, cl_mem tm, cl_ulong to, const qn_quant_layout *w, cl_mem ids, cl_ulong io,
                                 size_t T, cl_mem y, cl_ulong yo, cl_int ydt, const char *what) {
    cl_ulong TT = T;
    cl_int has = ids != NULL;
    cl_mem im = has ? ids : tm; /* any valid buffer: the kernel reads no ids without them */
    qn_cl_arg a[24];
    int k = 0;
    a[k++] = QA(tm);
    a[k++] = QA(to);
    k += qn_cl_weight_args(w, a + k);
    a[k++] = QA(im);
    a[k++] = QA(io);
    a[k++] = QA(has);
    a[k++] = QA(y);
    a[k++] = QA(yo);
    a[k++] = QA(ydt);
    a[k++] = QA(TT);
    a[k++] = QA(w->rows);
    a[k++] = QA(s->err_flag);
    quanta_status st = qn_cl_set_args(s, QK_GET_ROWS, a, k);
    size_t g = T * (size_t)w->cols, l = EW_LWS;
    return st != QUANTA_OK ? st : qn_cl_launch(s, QK_GET_ROWS, what, 1, &g, &l);
}

static quanta_status run_permute(qn_cl *s, const qn_node *node) {
    const qn_tensor *x = src(node, 0), *y = node->dst;
    const int nd = x->desc.ndim, pad = QUANTA_MAX_DIMS - nd;
    const int32_t *perm = node->params.perm;
    cl_long xd[4], xs[4], od[4], step[4];
    for (int i = 0; i < 4; i++) xd[i] = i < pad ? 1 : x->desc.dims[i - pad];
    xs[3] = 1;
    for (int i = 2; i >= 0; i--) xs[i] = xs[i + 1] * xd[i + 1];
    for (int i = 0; i < 4; i++) {
        int from = i < pad ? i : pad + perm[i - pad];
        if (from < 0 || from >= 4)
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "opencl permute: perm[%d] = %d is out of range", i - pad,
                                (int)perm[i - pad]);
        od[i] = xd[from];
        step[i] = xs[from];
    }
    size_t n = qn_cl_elems(x);
    cl_int es = (cl_int)qn_dtype_elem_size(x->desc.dtype);
    if (n == 0) return QUANTA_OK;
    cl_mem xm = qn_cl_mem(x), ym = qn_cl_mem(y);
    cl_ulong xo = x->mem.offset, yo = y->mem.offset, nn = n;
    qn_cl_scratch tmp = {0};
    quanta_status st;
    /* out overlapping x: copy x aside first. Only where the bytes overlap: a plan's activations share one buffer, and
     * the copy (not a kernel) kept every prefill step from being recorded (each ran op by op, its host work between
     * the kernels) */
    if (xm == ym && xo < yo + nn * (cl_ulong)es && yo < xo + nn * (cl_ulong)es) {
        if ((st = qn_cl_record_refuse(s, "permute's copy of x")) != QUANTA_OK) return st;
        if ((st = qn_cl_scratch_alloc(s, n * (size_t)es, "opencl permute: copy of x", &tmp)) != QUANTA_OK) return st;
        cl_int err = clEnqueueCopyBuffer(s->queue, xm, tmp.mem, xo, 0, n * (size_t)es, 0, NULL, NULL);
        if (err != CL_SUCCESS) {
            qn_cl_scratch_free(s, &tmp);
            return qn_cl_error(err, "permute (clEnqueueCopyBuffer)");
        }
        xm = tmp.mem;
        xo = 0;
    }
    cl_long4 odv = {{od[0], od[1], od[2], od[3]}}, stv = {{step[0], step[1], step[2], step[3]}};
    qn_cl_arg a[] = {QA(xm), QA(xo), QA(ym), QA(yo), QA(es), QA(nn), QA(odv), QA(stv)};
    /* CPUs: a row per work-item; GPUs: an element per work-item (coalesced writes) */
    const qn_cl_kernel_id id = s->cpu_rows && od[3] > 0 ? QK_PERMUTE_ROWS : QK_PERMUTE;
    st = qn_cl_set_args(s, id, a, 8);
    size_t l = id == QK_PERMUTE_ROWS ? 4 : EW_LWS, g = id == QK_PERMUTE_ROWS ? n / (size_t)od[3] : n;
    if (st == QUANTA_OK) st = qn_cl_launch(s, id, "permute", 1, &g, &l);
    qn_cl_scratch_free(s, &tmp);
    return st;
}

static quanta_status write_rows_carry(qn_cl *s, const qn_tensor *dst, const qn_tensor *out) {
    if (qn_cl_mem(out) == qn_cl_mem(dst) && out->mem.offset == dst->mem.offset) return QUANTA_OK;
    size_t nd = qn_cl_elems(dst) * qn_dtype_elem_size(dst->desc.dtype);
    quanta_status rs = qn_cl_record_refuse(s, "write_rows' copy of dst");
    if (rs != QUANTA_OK || !nd) return rs;
    cl_int err = clEnqueueCopyBuffer(s->queue, qn_cl_mem(dst), qn_cl_mem(out), dst->mem.offset, out->mem.offset, nd,
                                     0, NULL, NULL);
    return err == CL_SUCCESS ? QUANTA_OK : qn_cl_error(err, "write_rows (clEnqueueCopyBuffer)");
}

/* write_rows, and write_rows_pair (dst1 <- src1 at the same start into extra_dst[0], one launch;
 * both float, of one shape and dtype: the op's infer checked it). */
static quanta_status run_write_rows(qn_cl *s, const qn_node *node) {
    const qn_tensor *dst = src(node, 0), *sr = src(node, 1), *start = src(node, 2), *out = node->dst;
    const int pair = node->op == QN_OP_WRITE_ROWS_PAIR;
    if (qn_kv_dtype_is_quantized(dst->desc.dtype)) return qn_cl_kv_write_run(s, node);
    const int64_t *dd = dst->desc.dims, *sd = sr->desc.dims;
    if (sd[0] != dd[0] || sd[1] != dd[1] || sd[3] != dd[3])
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "opencl write_rows: src [B,H,T,D] does not match dst [B,H,Nmax,D]");
    /* start is checked by the kernel (no host read, no queue drain): see qn_cl_deferred_check */
    const int64_t T = sd[2], Nmax = dd[2];
    const size_t des = qn_dtype_elem_size(dst->desc.dtype);
    quanta_status st = write_rows_carry(s, dst, out);
    if (st == QUANTA_OK && pair) st = write_rows_carry(s, src(node, 3), node->extra_dst[0]);
    size_t n = qn_cl_elems(sr);
    if (st != QUANTA_OK || n == 0) return st;
    cl_mem sm = qn_cl_mem(sr), om = qn_cl_mem(out);
    cl_ulong so = sr->mem.offset, oo = out->mem.offset, nn = n, TT = (cl_ulong)T, NN = (cl_ulong)Nmax,
             D = (cl_ulong)dd[3], sto = start->mem.offset, ns = (cl_ulong)start->desc.dims[0];
    cl_mem stm = qn_cl_mem(start);
    cl_int sdt = sr->desc.dtype, ddt = out->desc.dtype, es = (cl_int)des;
    size_t l = EW_LWS;
    if (pair) {
        const qn_tensor *s1 = src(node, 4), *o1 = node->extra_dst[0];
        cl_mem sm1 = qn_cl_mem(s1), om1 = qn_cl_mem(o1);
        cl_ulong so1 = s1->mem.offset, oo1 = o1->mem.offset;
        qn_cl_arg a[] = {QA(sm),  QA(so), QA(om), QA(oo), QA(sm1), QA(so1), QA(om1), QA(oo1), QA(sdt), QA(ddt),
                         QA(es),  QA(nn), QA(TT), QA(NN), QA(D),   QA(stm), QA(sto), QA(ns),  QA(s->err_flag)};
        st = qn_cl_set_args(s, QK_WRITE_ROWS_PAIR, a, (int)(sizeof a / sizeof a[0]));
        size_t g = 2 * n;
        return st != QUANTA_OK ? st : qn_cl_launch(s, QK_WRITE_ROWS_PAIR, "write_rows_pair", 1, &g, &l);
    }
    qn_cl_arg a[] = {QA(sm), QA(so), QA(sdt), QA(om), QA(oo),  QA(ddt), QA(es),
                     QA(nn), QA(TT), QA(NN),  QA(D),  QA(stm), QA(sto), QA(ns), QA(s->err_flag)};
    st = qn_cl_set_args(s, QK_WRITE_ROWS, a, (int)(sizeof a / sizeof a[0]));
    return st != QUANTA_OK ? st : qn_cl_launch(s, QK_WRITE_ROWS, "write_rows", 1, &n, &l);
}

quanta_status qn_cl_ops_run(qn_cl *s, const qn_node *node) {
    switch (node->op) {
    case QN_OP_SILU: return run_unary(s, node, QN_UNARY_SILU, 0.0f);
    case QN_OP_GELU: return run_unary(s, node, node->params.approximate ? QN_UNARY_GELU_TANH : QN_UNARY_GELU, 0.0f);
    case QN_OP_SCALE: return run_unary(s, node, QN_UNARY_SCALE, node->params.scale);
    case QN_OP_CONVERT: return run_unary(s, node, QN_UNARY_COPY, 0.0f);
    case QN_OP_ADD: return run_binary(s, node, 0);
    case QN_OP_MUL: return run_binary(s, node, 1);
    case QN_OP_GLU: return run_glu(s, node);
    case QN_OP_RMS_NORM: case QN_OP_ADD_RMS_NORM: case QN_OP_RMS_NORM_ADD: case QN_OP_RMS_NORM_ADD_NORM:
    case QN_OP_ADD_NORM: case QN_OP_SOFTMAX: case QN_OP_ARGMAX:
        return run_rows(s, node);
    case QN_OP_ROPE: case QN_OP_ROPE_PAIR: return run_rope(s, node);
    case QN_OP_RMS_NORM_ROPE: case QN_OP_RMS_NORM_ROPE_PAIR: case QN_OP_ROPE_KV: return run_rms_norm_rope(s, node);
    case QN_OP_GET_ROWS: return run_get_rows(s, node);
    case QN_OP_PERMUTE: return run_permute(s, node);
    case QN_OP_WRITE_ROWS: case QN_OP_WRITE_ROWS_PAIR: return run_write_rows(s, node);
    default:
        return qn_error_set(QUANTA_ERR_UNSUPPORTED, "opencl: op %s is not implemented", qn_op_name(node->op));
    }
}
