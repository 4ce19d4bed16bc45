/*
 * cl_norm_gemv.c — a decode step's one-row norm run inside the q8 GEMV that reads it (GPU class; QUANTA_OPENCL_NORM_GEMV=0: apart).
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
 * Gemma 3's post-attention norm pair) and the last norm before the output GEMV. (Since the GEMV before an add_norm
 * stores the residual sum itself, residual_fused below, the norm left reads that sum, and LLaMA's q/k/v fuse too: 48
 * `norm + matmul_multi` launches in 3 decode steps of a 16-layer file on PoCL, clgemv24.)
 *
 * QUANTA_OPENCL_XQ_NORM=1 (clgemv24, off until measured): a held norm that launches apart because the GEMV after it
 * reads its normed row without fusing (q4's GEMVs; q8's q/k/v where the fusion is refused) launches as qn_rms_norm_xq
 * instead, which also leaves the row's int8 form in the backend's buffer (xq_mem) in the layout that GEMV's int8 path
 * reads (q4's 32-column chunks or q8's 16-column pieces: gemv_gpu.cl, the same quantization code), where that GEMV
 * would take an XG form (qn_cl_matmul_xq_form); that GEMV and the ones right after it reading the same row (q4's q, k
 * and v are three launches, gate and up two) take their XG forms reading the buffer, with no prologue and no launch to
 * quantize x. The same planes, the same bits. The form is valid from the norm's launch through the GEMVs that read its
 * row and write elsewhere (qn_cl_xq_note before each node); anything else ends it, as do writes, frees, captures and
 * replays (qn_cl_xq_drop). Likewise a one-row glu (q4's gate and up stay apart: the glu feeds down): held, then
 * launched as qn_glu_xq where the next node is a GEMV reading its result that takes the int8 form (each group
 * quantizes its own chunks: no cross-group dependency). QUANTA_OPENCL_XQ_NORM=2 (off; other bits than the default) also
 * takes this path in place of the norm's fusion into a q8 GEMV (qn_gemv_q8_m1n: float products) where that GEMV alone
 * would take an int8 form (Q8I's domain: the logits of a 7B; q/k/v too under Q8I=2 with GEMVS_RW=auto), and does not
 * hold such a GEMV for the residual's fusion (qn_gemv_q8_m1r, float) either: those GEMVs keep their int8 products, the
 * bits of QUANTA_OPENCL_NORM_GEMV=0.
 */
#include <stdlib.h>
#include <string.h>

#include "cl_internal.h"

/* On for the GPU class since the H100 call of 2026-12-06 20:05 (1B tg128 652 -> 780 tok/s, Gemma 481 -> 566, the
 * same greedy text; bench/NOTES.md section 1 cldec14, clgemv15); QUANTA_OPENCL_NORM_GEMV=0 launches the norms apart,
 * =1 holds them on any class. */
static int norm_gemv_on(const qn_cl *s) { return s->norm_gemv; }

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

/* 1 (XQ_NORM=1), 2 (=2: also in place of the norm's fusion into a q8 GEMV that alone takes an int8 form), else 0 */
static int xq_norm_on(const qn_cl *s) { return s->xq_norm; }

/* The two switches, read once when the backend opens (not per node of a decode step). */
void qn_cl_norm_gemv_switches(qn_cl *s) {
    const char *e = getenv("QUANTA_OPENCL_NORM_GEMV");
    s->norm_gemv = e ? !strcmp(e, "1") : s->gpu_class;
    e = getenv("QUANTA_OPENCL_XQ_NORM");
    s->xq_norm = !e ? 0 : !strcmp(e, "1") ? 1 : !strcmp(e, "2") ? 2 : 0;
}

/* The int8 form's buffer: 2.25 bytes a column (q4: 72 a 32-column chunk, q8: 36 a 16-column piece) for rows of up to
 * XQ_MAX_K; made on first use, kept (a recording's kernels hold it) until close. */
#define XQ_MAX_K 16384
#define XQ_BYTES ((size_t)XQ_MAX_K / 32 * 72)
static cl_mem xq_buffer(qn_cl *s) {
    if (s->xq_mem) return s->xq_mem;
    if (qn_mem_reserve(s->stats, XQ_BYTES, "opencl: the int8 form of a norm's row") != QUANTA_OK) {
        qn_error_clear();
        return NULL;
    }
    cl_int err;
    cl_mem m = clCreateBuffer(s->ctx, CL_MEM_READ_WRITE, XQ_BYTES, NULL, &err);
    if (err != CL_SUCCESS) {
        qn_mem_release(s->stats, XQ_BYTES);
        return NULL;
    }
    return s->xq_mem = m;
}

void qn_cl_xq_drop(qn_cl *s) { s->xq_valid = 0; }

/* Whether node (a GEMV) reads the row at (mem, off, K floats) as its x and writes none of it. */
static int reads_row(const qn_node *node, cl_mem mem, cl_ulong off, int64_t K) {
    if (node->op != QN_OP_MATMUL && node->op != QN_OP_MATMUL_MULTI) return 0;
    const qn_tensor *x = node->src[0];
    if (qn_cl_mem(x) != mem || x->mem.offset != off || qn_cl_elems(x) != (size_t)K) return 0;
    const qn_tensor *res[3] = {node->dst, node->extra_dst[0], node->extra_dst[1]};
    for (int i = 0; i < 3; i++)
        if (overlap(res[i], x)) return 0;
    return 1;
}

void qn_cl_xq_note(qn_cl *s, const qn_node *node) {
    if (s->xq_valid && !reads_row(node, s->xq_src, s->xq_off, s->xq_K)) s->xq_valid = 0;
}

/* Whether node is a GEMV reading the held norm's row that would take its int8 form (xq_flush would launch qn_rms_norm_xq). */
static int xq_takes(qn_cl *s, const qn_node *node) {
    norm_parts p;
    if (!s->norm_pend || !parts_of(&s->norm_node, &p)) return 0;
    const int64_t D = p.a->desc.dims[p.a->desc.ndim - 1];
    return D <= XQ_MAX_K && reads_row(node, qn_cl_mem(p.y), p.y->mem.offset, D) && qn_cl_matmul_xq_form(s, node);
}

/* A glu to hold for the GEMV after it (XQ_NORM=1): one f32 row, its result 16-byte aligned, at most XQ_MAX_K wide. */
static int glu_holdable(const qn_cl *s, const qn_node *n) {
    if (n->op != QN_OP_GLU || !s->gpu_class || !xq_norm_on(s)) return 0;
    const qn_tensor *y = n->dst;
    const int64_t K = y->desc.dims[y->desc.ndim - 1];
    return f32(n->src[0]) && f32(n->src[1]) && f32(y) && qn_cl_elems(y) == (size_t)K && K <= XQ_MAX_K && K % 16 == 0 &&
           y->mem.offset % 16 == 0;
}

/* The held glu's launch before node: with the int8 form (qn_glu_xq) where node is a GEMV that reads its result and would
 * take it, else as it is. */
static quanta_status glu_flush(qn_cl *s, const qn_node *node) {
    if (!s->glu_pend) return QUANTA_OK;
    s->glu_pend = 0;
    const qn_tensor *y = s->glu_node.dst;
    const int64_t K = y->desc.dims[y->desc.ndim - 1];
    int f = 0;
    cl_mem qb = NULL;
    if (node && reads_row(node, qn_cl_mem(y), y->mem.offset, K) && (f = qn_cl_matmul_xq_form(s, node)) &&
        K % (f == 1 ? 32 : 16) == 0 && (qb = xq_buffer(s))) {
        const quanta_status st = qn_cl_glu_run_xq(s, &s->glu_node, qb, f == 1);
        if (st != QUANTA_OK) return st;
        s->xq_valid = 1, s->xq_q4 = f == 1, s->xq_src = qn_cl_mem(y), s->xq_off = y->mem.offset, s->xq_K = K;
        return QUANTA_OK;
    }
    return qn_cl_ops_run(s, &s->glu_node);
}

/* The held norm's launch before node: with the int8 form (qn_rms_norm_xq) where node is a GEMV that reads the normed
 * row and would take it (XQ_NORM=1), else as it is (qn_cl_norm_flush). */
static quanta_status xq_flush(qn_cl *s, const qn_node *node) {
    norm_parts p;
    int f;
    cl_mem qb;
    if (!s->norm_pend || !xq_norm_on(s) || !parts_of(&s->norm_node, &p)) return qn_cl_norm_flush(s);
    const int64_t D = p.a->desc.dims[p.a->desc.ndim - 1];
    if (D > XQ_MAX_K || !reads_row(node, qn_cl_mem(p.y), p.y->mem.offset, D) || !(f = qn_cl_matmul_xq_form(s, node)) ||
        !(qb = xq_buffer(s)))
        return qn_cl_norm_flush(s);
    s->norm_pend = 0;
    const quanta_status st = qn_cl_norm_run_xq(s, &s->norm_node, qb, f == 1);
    if (st != QUANTA_OK) return st;
    s->xq_valid = 1, s->xq_q4 = f == 1, s->xq_src = qn_cl_mem(p.y), s->xq_off = p.y->mem.offset, s->xq_K = D;
    return QUANTA_OK;
}

quanta_status qn_cl_norm_flush(qn_cl *s) {
    if (s->glu_pend) return glu_flush(s, NULL); /* never held with the others (qn_cl_norm_gemv_step) */
    if (s->mm_pend) { /* the held GEMV (never both held: see qn_cl_norm_gemv_step) */
        s->mm_pend = 0;
        return qn_cl_matmul_run(s, &s->mm_node);
    }
    if (!s->norm_pend) return QUANTA_OK;
    s->norm_pend = 0;
    return qn_cl_ops_run(s, &s->norm_node);
}

/* The held GEMV (y = x·W^T) and node, an add_norm of y and r: the GEMV with the residual sum s = y + r in one launch
 * (qn_gemv_q8_m1r), and *norm set to what is left of the add_norm: rms_norm(s)·w2 into its normed result, a node of
 * its own (the same bits: add_norm norms the stored sum, f32, as rms_norm does its input). UNSUPPORTED: nothing
 * launched. The add's other operand, its results and the GEMV's x and W must not overlap y or each other. */
static quanta_status residual_fused(qn_cl *s, const qn_node *node, qn_node *norm) {
    const qn_node *mm = &s->mm_node;
    if (node->op != QN_OP_ADD_NORM || !node->extra_dst[0]) return QUANTA_ERR_UNSUPPORTED;
    const qn_tensor *y = mm->dst, *a = node->src[0], *r = node->src[1], *sum = node->dst, *ny = node->extra_dst[0];
    const qn_tensor *w2 = node->nsrc > 2 ? node->src[2] : NULL;
    if (qn_cl_mem(r) == qn_cl_mem(y) && r->mem.offset == y->mem.offset) { /* y is the add's second operand: */
        const qn_tensor *t = a;                                          /* f32 sums commute exactly */
        a = r, r = t;
    }
    if (qn_cl_mem(a) != qn_cl_mem(y) || a->mem.offset != y->mem.offset || a->bytes != y->bytes) return QUANTA_ERR_UNSUPPORTED;
    const qn_tensor *all[6] = {mm->src[0], mm->src[1], y, r, sum, ny};
    for (int i = 0; i < 6; i++)
        for (int j = i + 1; j < 6; j++)
            if (overlap(all[i], all[j])) return QUANTA_ERR_UNSUPPORTED;
    if (w2 && (overlap(w2, sum) || overlap(w2, ny))) return QUANTA_ERR_UNSUPPORTED;
    const quanta_status st = qn_cl_matmul_run_residual(s, mm, r, sum);
    if (st != QUANTA_OK) return st;
    memset(norm, 0, sizeof *norm);
    norm->op = QN_OP_RMS_NORM;
    norm->params = node->params;
    norm->nsrc = w2 ? 2 : 1;
    norm->src[0] = sum;
    norm->src[1] = w2;
    norm->dst = ny;
    return QUANTA_OK;
}

/* The copy buffer's size: a row of 16384 floats (Gemma 3 270M's is 640, a 7B's 4096); made on first use, kept (a
 * recording's kernels hold it) until close. */
#define NG_COPY_FLOATS 16384
void qn_cl_norm_gemv_close(qn_cl *s) {
    if (s->xq_mem) {
        clReleaseMemObject(s->xq_mem);
        qn_mem_release(s->stats, XQ_BYTES);
        s->xq_mem = NULL;
        s->xq_valid = 0;
    }
    if (!s->ng_copy.mem.handle) return;
    clReleaseMemObject(qn_cl_mem(&s->ng_copy));
    qn_mem_release(s->stats, NG_COPY_FLOATS * sizeof(float));
    s->ng_copy.mem.handle = NULL;
}

/* The copy buffer as a tensor like t (f32, at most NG_COPY_FLOATS), or NULL. */
static const qn_tensor *copy_like(qn_cl *s, const qn_tensor *t) {
    if (qn_cl_elems(t) > NG_COPY_FLOATS || t->desc.dtype != QUANTA_F32) return NULL;
    if (!s->ng_copy.mem.handle) {
        if (qn_mem_reserve(s->stats, NG_COPY_FLOATS * sizeof(float), "opencl: the norm's copy of a GEMV row") !=
            QUANTA_OK) {
            qn_error_clear();
            return NULL;
        }
        cl_int err;
        cl_mem m = clCreateBuffer(s->ctx, CL_MEM_READ_WRITE, NG_COPY_FLOATS * sizeof(float), NULL, &err);
        if (err != CL_SUCCESS) {
            qn_mem_release(s->stats, NG_COPY_FLOATS * sizeof(float));
            return NULL;
        }
        s->ng_copy.mem.handle = m;
    }
    s->ng_copy.desc = t->desc;
    s->ng_copy.bytes = t->bytes;
    s->ng_copy.mem.offset = 0;
    s->ng_copy.aux = NULL;
    s->ng_copy.name = "opencl norm copy";
    return &s->ng_copy;
}

/* The held GEMV (y) and node, an rms_norm_add_norm of y (Gemma 3's post-norm of the MLP and the next layer's input
 * norm): the GEMV stores y and a copy of it in the backend's own buffer (qn_gemv_q8_m1r), and *norm is the node
 * reading the copy. The norm's first step needs the whole of y, so the sum cannot be made in the GEMV as for
 * add_norm; reading the copy, the fused kernel after it no longer reads y, where the plans put the next q/k/v
 * results. UNSUPPORTED: nothing launched. */
static quanta_status copy_fused(qn_cl *s, const qn_node *node, qn_node *norm) {
    const qn_node *mm = &s->mm_node;
    if (node->op != QN_OP_RMS_NORM_ADD_NORM) return QUANTA_ERR_UNSUPPORTED;
    const qn_tensor *y = mm->dst, *x = node->src[0];
    if (qn_cl_mem(x) != qn_cl_mem(y) || x->mem.offset != y->mem.offset || x->bytes != y->bytes) return QUANTA_ERR_UNSUPPORTED;
    if (overlap(mm->src[0], y) || overlap(mm->src[1], y)) return QUANTA_ERR_UNSUPPORTED;
    const qn_tensor *c = copy_like(s, y);
    if (!c) return QUANTA_ERR_UNSUPPORTED;
    const quanta_status st = qn_cl_matmul_run_residual(s, mm, NULL, c);
    if (st != QUANTA_OK) return st;
    *norm = *node;
    norm->src[0] = c;
    return QUANTA_OK;
}

/* A GEMV to hold for an add_norm after it: matmul, q8, M = 1 (its own checks come at the launch); not under XQ_NORM=2
 * where it alone takes an int8 form (the residual's fusion is a float GEMV). */
static int mm_holdable(qn_cl *s, const qn_node *n) {
    if (n->op != QN_OP_MATMUL || !s->gpu_class || n->src[1]->desc.dtype != QUANTA_Q8) return 0;
    if (xq_norm_on(s) == 2 && qn_cl_matmul_xq_form(s, n)) return 0;
    const qn_tensor *x = n->src[0];
    return x->desc.dtype == QUANTA_F32 && qn_cl_elems(x) == (size_t)n->src[1]->desc.dims[1];
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
    norm_parts p;
    if (s->glu_pend) { /* apart, with the int8 form where node takes it */
        const quanta_status st = glu_flush(s, node);
        if (st != QUANTA_OK) return st;
    }
    if (s->mm_pend) {
        qn_node norm;
        quanta_status st = residual_fused(s, node, &norm);
        if (st == QUANTA_ERR_UNSUPPORTED) st = copy_fused(s, node, &norm);
        if (st != QUANTA_ERR_UNSUPPORTED) {
            s->mm_pend = 0;
            *done = 1;
            if (st != QUANTA_OK) return st;
            if (holdable(s, &norm, &p)) { /* for the GEMV after it */
                s->norm_node = norm;
                s->norm_pend = 1;
                return QUANTA_OK;
            }
            return qn_cl_ops_run(s, &norm);
        }
        st = qn_cl_norm_flush(s);
        if (st != QUANTA_OK) return st;
    }
    /* XQ_NORM=2 (off): where node alone would take an int8 XG form, the norm launches apart with the int8 form for it
     * rather than fusing into the float GEMV (other bits than the default: the int8 products) */
    if (s->norm_pend) {
        const quanta_status st = xq_norm_on(s) == 2 && xq_takes(s, node) ? QUANTA_ERR_UNSUPPORTED : fused(s, node);
        if (st != QUANTA_ERR_UNSUPPORTED) {
            s->norm_pend = 0;
            *done = 1;
            return st;
        }
        const quanta_status fl = xq_flush(s, node); /* apart, with the int8 form where node takes it */
        if (fl != QUANTA_OK) return fl;
    }
    if (glu_holdable(s, node)) { /* XQ_NORM=1: for the GEMV after it (nothing else is held here) */
        s->glu_node = *node;
        s->glu_pend = 1;
        *done = 1;
        return QUANTA_OK;
    }
    if (!norm_gemv_on(s)) return QUANTA_OK;
    if (mm_holdable(s, node)) {
        s->mm_node = *node;
        s->mm_pend = 1;
        *done = 1;
    } else if (holdable(s, node, &p)) {
        s->norm_node = *node;
        s->norm_pend = 1;
        *done = 1;
    }
    return QUANTA_OK;
}
