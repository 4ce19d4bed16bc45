/*
 * cl_norm_gemv.c — a decode step's one-row norm run inside the q8 GEMV that reads it (QUANTA_OPENCL_NORM_GEMV=1).
 *
 * Why: on NVIDIA's OpenCL a launch costs ~6 us of device time however little it does, and a decode step's norms
 * (add_norm twice a layer on LLaMA, rms_norm_add_norm on Gemma 3) are 32-36 launches of 11-17 us each for rows of a
 * few KB (bench/NOTES.md section 1 clgemv13, cldec14). The plan keeps the norm and the GEMV apart (one definition of
 * each op); the backend holds the norm node back instead of launching it, and when the next node is a q8 GEMV at
 * M = 1 whose x is the norm's normed row, launches qn_gemv_q8_m1n(_glu) (gemv_gpu.cl): the norm in its prologue,
 * group 0 storing the norm's results as the norm kernel would (later ops read them), the same bits. Any other
 * next node, and every queue operation that is not a launch (read, write, synchronize, a capture's end, a replay),
 * launches the held norm first, unchanged. Held only where the fused kernel's reading of its inputs cannot race
 * with group 0's stores (no result overlaps an input) and fused only where the GEMV's results overlap none of them
 * either: a group's outputs may be stored before another group has read the norm's inputs. In the models' decode
 * plans that refuses q/k/v after the norm (the memory plan puts k where the norm's input was: that input is dead
 * once the norm ran apart), so what fuses is the norm before the gated MLP (LLaMA's second add_norm of a layer,
 * Gemma 3's post-attention norm pair) and the last norm before the output GEMV.
 */
#include <stdlib.h>
#include <string.h>

#include "cl_internal.h"

static int norm_gemv_on(void) {
    const char *e = getenv("QUANTA_OPENCL_NORM_GEMV");
    return e && !strcmp(e, "1");
}

static int f32(const qn_tensor *t) { return !t || t->desc.dtype == QUANTA_F32; }

static int overlap(const qn_tensor *p, const qn_tensor *q) {
    if (!p || !q || qn_cl_mem(p) != qn_cl_mem(q)) return 0;
    const size_t a0 = p->mem.offset, a1 = a0 + p->bytes, b0 = q->mem.offset, b1 = b0 + q->bytes;
    return a0 < b1 && b0 < a1;
}

/* The held norm's inputs (a, b, w, w2) and results (s, y): s absent for rms_norm (y is its dst). */
typedef struct norm_parts {
    const qn_tensor *a, *b, *w, *w2, *s, *y;
    int mode;
} norm_parts;

static int parts_of(const qn_node *n, norm_parts *p) {
    memset(p, 0, sizeof *p);
    const qn_tensor *const *src = n->src;
    switch (n->op) {
    case QN_OP_RMS_NORM: p->mode = 0, p->a = src[0], p->w = n->nsrc > 1 ? src[1] : NULL, p->y = n->dst; return 1;
    case QN_OP_ADD_NORM:
        p->mode = 1, p->a = src[0], p->b = src[1], p->w2 = n->nsrc > 2 ? src[2] : NULL, p->s = n->dst;
        p->y = n->extra_dst[0];
        return p->y != NULL;
    case QN_OP_RMS_NORM_ADD_NORM:
        p->mode = 2, p->a = src[0], p->b = src[1], p->w = src[2], p->w2 = n->nsrc > 3 ? src[3] : NULL;
        p->s = n->dst, p->y = n->extra_dst[0];
        return p->y != NULL;
    default: return 0;
    }
}

/* A norm the fused kernels reproduce: the GPU class, one f32 row of at least 256 (qn_rms_norm's group is then
 * the 256 items the fused kernels have: row_lws in cl_ops.c, without QUANTA_OPENCL_ROW_LWS), not the register
 * form (QUANTA_OPENCL_NORM_REG=1 sums in another order), results overlapping no input. */
static int holdable(const qn_cl *s, const qn_node *n, norm_parts *p) {
    if (!parts_of(n, p) || !s->gpu_class || s->dev.max_wg < 256 || getenv("QUANTA_OPENCL_ROW_LWS")) return 0;
    const char *nr = getenv("QUANTA_OPENCL_NORM_REG");
    if (nr && !strcmp(nr, "1")) return 0;
    const int64_t D = p->a->desc.dims[p->a->desc.ndim - 1];
    if (D < 256 || qn_cl_elems(p->a) != (size_t)D) return 0;
    if (!f32(p->a) || !f32(p->b) || !f32(p->w) || !f32(p->w2) || !f32(p->s) || !f32(p->y)) return 0;
    const qn_tensor *in[4] = {p->a, p->b, p->w, p->w2}, *out[2] = {p->s, p->y};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 2; j++)
            if (overlap(in[i], out[j])) return 0;
    return !overlap(p->s, p->y);
}

quanta_status qn_cl_norm_flush(qn_cl *s) {
    if (!s->norm_pend) return QUANTA_OK;
    s->norm_pend = 0;
    return qn_cl_ops_run(s, &s->norm_node);
}

/* node through the fused kernel with the held norm, or UNSUPPORTED (nothing launched). */
static quanta_status fused(qn_cl *s, const qn_node *node) {
    norm_parts p;
    if (!parts_of(&s->norm_node, &p)) return QUANTA_ERR_UNSUPPORTED;
    if (node->op != QN_OP_MATMUL && node->op != QN_OP_MATMUL_MULTI && node->op != QN_OP_MATMUL_GLU)
        return QUANTA_ERR_UNSUPPORTED;
    const qn_tensor *x = node->src[0];
    if (qn_cl_mem(x) != qn_cl_mem(p.y) || x->mem.offset != p.y->mem.offset) return QUANTA_ERR_UNSUPPORTED;
    const qn_tensor *res[3] = {node->dst, node->extra_dst[0], node->extra_dst[1]};
    const qn_tensor *seen[6] = {p.a, p.b, p.w, p.w2, p.s, p.y};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 6; j++)
            if (overlap(res[i], seen[j])) return QUANTA_ERR_UNSUPPORTED;
    const qn_tensor *any = p.a; /* a valid buffer for the absent ones: the kernel reads none of them */
    qn_cl_norm_args na = {
        .a = qn_cl_mem(p.a), .b = qn_cl_mem(p.b ? p.b : any), .w = qn_cl_mem(p.w ? p.w : any),
        .w2 = qn_cl_mem(p.w2 ? p.w2 : any), .s = qn_cl_mem(p.s ? p.s : p.y), .y = qn_cl_mem(p.y),
        .ao = p.a->mem.offset, .bo = p.b ? p.b->mem.offset : 0, .wo = p.w ? p.w->mem.offset : 0,
        .w2o = p.w2 ? p.w2->mem.offset : 0, .so = p.s ? p.s->mem.offset : p.y->mem.offset, .yo = p.y->mem.offset,
        .hasw = p.w != NULL, .hasw2 = p.w2 != NULL, .mode = p.mode,
        .plus_one = s->norm_node.params.weight_plus_one != 0, .eps = s->norm_node.params.eps,
        .D = p.a->desc.dims[p.a->desc.ndim - 1]};
    return qn_cl_matmul_run_normed(s, node, &na);
}

quanta_status qn_cl_norm_gemv_step(qn_cl *s, const qn_node *node, int *done) {
    *done = 0;
    if (s->norm_pend) {
        const quanta_status st = fused(s, node);
        if (st != QUANTA_ERR_UNSUPPORTED) {
            s->norm_pend = 0;
            *done = 1;
            return st;
        }
        const quanta_status fl = qn_cl_norm_flush(s);
        if (fl != QUANTA_OK) return fl;
    }
    norm_parts p;
    if (norm_gemv_on() && holdable(s, node, &p)) {
        s->norm_node = *node;
        s->norm_pend = 1;
        *done = 1;
    }
    return QUANTA_OK;
}
