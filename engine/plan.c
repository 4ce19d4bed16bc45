/*
 * plan.c — the executor: orders a graph's ops, keeps only what its outputs (and in-place
 * writes) need, fuses pairs of ops the backend has one kernel for (fuse_nodes, and a gated MLP's two
 * matmuls with their glu: fuse_matmul_glu; matmuls of one x, such as q/k/v: fuse_matmul_multi; and
 * the multi-result pairs: fuse_write_rows_pair, fuse_rms_norm_add_norm, fuse_rms_norm_rope_pair,
 * fuse_add_norm, fuse_rope_pair, fuse_rope_kv), plans
 * intermediate memory with buffer reuse, picks per-op fallback to the reference backend, and
 * runs the ops.
 */
#include "plan.h"

#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "error.h"
#include "finite.h"
#include "graph_internal.h"
#include "op_table.h"

#define QN_ARENA_ALIGN 256
#define QN_GUARD_BYTE 0xA5
#define QN_POISON_BYTE 0xFF

typedef struct plan_tensor {
    qn_tensor rt;       /* what backends see */
    void *owned;        /* allocation this plan owns for the tensor (inputs, constants, guards) */
    size_t owned_bytes;
    void *owned_aux;    /* prepared form of a constant weight */
    int input_set;
    int needed;         /* used by a planned op or an output */
    int output;         /* marked with quanta_graph_output when the plan was made */
    size_t arena_off;   /* op results: place in the arena */
} plan_tensor;

struct quanta_plan {
    quanta_graph *graph;
    quanta_backend *backend;
    int ntensors;       /* graph tensors when planned: later ones are unknown to the plan */
    plan_tensor *pt;
    qn_graph_node *nodes; /* the graph's nodes as planned (fuse_nodes rewrites this copy) */
    int *order;         /* node indices in execution order */
    unsigned char *fallback;
    int norder;
    void *arena;
    size_t arena_bytes;
    size_t guard_bytes;
    int executed;
    /* Replay of recorded executions (ops->capture_begin): the recording, how many plain runs
     * preceded it (the first one grows the backend's scratch; recording starts with the
     * second), and whether recording is off for this plan (fallbacks, guards, a failure). */
    void *recording;
    int plain_runs;
    int no_recording;
};

static size_t align_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

static int is_ref(const quanta_plan *p) { return p->backend->ops == &qn_ref_backend; }

/* The results of node n (its dst, then matmul_multi's extra ones) into d; returns how many. */
static int node_dsts(const qn_graph_node *n, quanta_tensor **d) {
    int k = 0;
    d[k++] = n->dst;
    for (int i = 0; i < QN_MAX_EXTRA_DST; i++)
        if (n->extra_dst[i]) d[k++] = n->extra_dst[i];
    return k;
}
#define QN_MAX_DST (1 + QN_MAX_EXTRA_DST)

/* ---------------------------------------------------------------- memory plan */

typedef struct block {
    size_t off, size;
    int tensor;
} block;

/* First fit among the gaps between live blocks (kept sorted by offset). */
static quanta_status arena_place(block **live, int *nlive, int *cap, size_t size, int tensor, size_t *off,
                                 size_t *high) {
    /* Sizes are each below SIZE_MAX, but rounding one up or stacking it on others may not be. */
    if (size > SIZE_MAX - QN_ARENA_ALIGN)
        return qn_error_set(QUANTA_ERR_OVERFLOW, "quanta_plan_create: a %zu-byte result overflows the arena", size);
    size = align_up(size ? size : 1, QN_ARENA_ALIGN);
    size_t at = 0, end = 0;
    int pos = 0;
    for (; pos < *nlive; pos++) {
        if (qn_add_size(at, size, &end) && (*live)[pos].off >= end) break;
        end = (*live)[pos].off + (*live)[pos].size;
        if (end > at) at = end;
    }
    if (!qn_add_size(at, size, &end))
        return qn_error_set(QUANTA_ERR_OVERFLOW, "quanta_plan_create: intermediate results overflow the arena size");
    if (*nlive == *cap) {
        int ncap = *cap ? *cap * 2 : 16;
        block *b = realloc(*live, (size_t)ncap * sizeof *b);
        if (!b) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_plan_create: out of host memory");
        *live = b;
        *cap = ncap;
    }
    memmove(&(*live)[pos + 1], &(*live)[pos], (size_t)(*nlive - pos) * sizeof **live);
    (*live)[pos] = (block){at, size, tensor};
    (*nlive)++;
    *off = at;
    if (end > *high) *high = end;
    return QUANTA_OK;
}

static void arena_release(block *live, int *nlive, int tensor) {
    for (int i = 0; i < *nlive; i++)
        if (live[i].tensor == tensor) {
            memmove(&live[i], &live[i + 1], (size_t)(*nlive - i - 1) * sizeof *live);
            (*nlive)--;
            return;
        }
}

/* Offsets for every intermediate (op-produced, non-view) tensor; returns the arena size. */
static quanta_status plan_arena(quanta_plan *p, size_t *offsets, size_t *arena_bytes) {
    quanta_graph *g = p->graph;
    int *last = malloc((size_t)p->ntensors * sizeof *last);
    if (!last) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_plan_create: out of host memory");
    for (int i = 0; i < p->ntensors; i++) last[i] = -1;
    for (int pos = 0; pos < p->norder; pos++) {
        const qn_graph_node *n = &p->nodes[p->order[pos]];
        for (int s = 0; s < n->nsrc; s++)
            if (n->src[s]) last[qn_storage_root(n->src[s])->id] = pos;
    }
    for (int i = 0; i < p->ntensors; i++)
        if (g->tensors[i]->is_output) last[qn_storage_root(g->tensors[i])->id] = INT_MAX;

    block *live = NULL;
    int nlive = 0, cap = 0;
    size_t high = 0;
    quanta_status st = QUANTA_OK;
    for (int pos = 0; pos < p->norder && st == QUANTA_OK; pos++) {
        quanta_tensor *dsts[QN_MAX_DST];
        const int nd = node_dsts(&p->nodes[p->order[pos]], dsts);
        for (int i = 0; i < nd && st == QUANTA_OK; i++) {
            quanta_tensor *dst = dsts[i];
            if (dst->kind != QN_KIND_NODE) continue;
            /* A result nobody reads still needs a place to be written; it is freed at once. */
            st = arena_place(&live, &nlive, &cap, dst->bytes, dst->id, &offsets[dst->id], &high);
            if (last[dst->id] < pos) last[dst->id] = pos;
        }
        for (int i = nlive - 1; i >= 0 && st == QUANTA_OK; i--)
            if (last[live[i].tensor] == pos) arena_release(live, &nlive, live[i].tensor);
    }
    free(live);
    free(last);
    *arena_bytes = high;
    return st;
}

/* ------------------------------------------------------------------- creation */

static quanta_status own_alloc(quanta_plan *p, plan_tensor *t, size_t bytes) {
    void *h = NULL; /* t->owned stays NULL on failure, whatever the backend left in h */
    quanta_status st = qn_backend_alloc(p->backend, bytes, &h);
    if (st != QUANTA_OK) return st;
    t->owned = h;
    t->owned_bytes = bytes;
    return QUANTA_OK;
}

static void fill_node_from(const quanta_plan *p, const qn_graph_node *n, qn_node *out) {
    memset(out, 0, sizeof *out);
    out->op = n->op;
    out->params = n->params;
    out->nsrc = n->nsrc;
    for (int s = 0; s < n->nsrc; s++) out->src[s] = n->src[s] ? &p->pt[n->src[s]->id].rt : NULL;
    out->dst = &p->pt[n->dst->id].rt;
    for (int i = 0; i < QN_MAX_EXTRA_DST; i++) out->extra_dst[i] = n->extra_dst[i] ? &p->pt[n->extra_dst[i]->id].rt : NULL;
}

static void fill_node(const quanta_plan *p, int node_index, qn_node *out) {
    fill_node_from(p, &p->nodes[node_index], out);
}

/* Marks the nodes that outputs depend on, plus every write into a buffer (a side effect). */
static quanta_status select_nodes(quanta_plan *p) {
    quanta_graph *g = p->graph;
    unsigned char *need = calloc((size_t)g->nnodes + 1, 1);
    if (!need) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_plan_create: out of host memory");
    for (int i = 0; i < p->ntensors; i++) {
        quanta_tensor *t = g->tensors[i];
        p->pt[i].output = t->is_output;
        if (t->is_output && t->producer >= 0) need[t->producer] = 1;
    }
    for (int n = g->nnodes - 1; n >= 0; n--) {
        if (qn_op_def_of(g->nodes[n].op)->dst_is_src0) need[n] = 1; /* writes a buffer in place */
        if (!need[n]) continue;
        for (int s = 0; s < g->nodes[n].nsrc; s++) {
            quanta_tensor *src = g->nodes[n].src[s];
            if (src && src->producer >= 0) need[src->producer] = 1;
        }
    }
    p->norder = 0;
    for (int n = 0; n < g->nnodes; n++)
        if (need[n]) p->order[p->norder++] = n;
    free(need);
    for (int pos = 0; pos < p->norder; pos++) {
        const qn_graph_node *n = &p->nodes[p->order[pos]];
        for (int s = 0; s < n->nsrc; s++)
            if (n->src[s]) p->pt[n->src[s]->id].needed = p->pt[qn_storage_root(n->src[s])->id].needed = 1;
        p->pt[n->dst->id].needed = 1;
    }
    return QUANTA_OK;
}

/* ------------------------------------------------------------------- fusion */

/* Whether any planned node other than the one at position skip reads t's storage. */
static int read_elsewhere(const quanta_plan *p, const quanta_tensor *t, int skip) {
    for (int pos = 0; pos < p->norder; pos++) {
        const qn_graph_node *n = &p->nodes[p->order[pos]];
        for (int s = 0; pos != skip && s < n->nsrc; s++)
            if (n->src[s] && qn_storage_root(n->src[s]) == t) return 1;
    }
    for (int i = 0; i < p->ntensors; i++) /* a view of t kept as an output */
        if (p->graph->tensors[i]->is_output && qn_storage_root(p->graph->tensors[i]) == t) return 1;
    return 0;
}

/* The fused node for producer a feeding consumer c (whose other operand is u), or 0:
 *   mul(silu(g), u), mul(gelu(g), u)   -> glu(g, u)            (quanta_glu)
 *   add(rms_norm(x, w), u)             -> rms_norm_add(x, u, w) (quanta_rms_norm_add)
 *   rope(rms_norm(x, w), positions)    -> rms_norm_rope(x, w, positions) (quanta_rms_norm_rope)
 * either operand order (mul, add; rope's x is its first source, u its positions). */
static int fused_op(const qn_graph_node *a, const qn_graph_node *c, quanta_tensor *u, qn_graph_node *f) {
    *f = *c;
    if (c->op == QN_OP_MUL && (a->op == QN_OP_SILU || a->op == QN_OP_GELU)) {
        f->op = QN_OP_GLU;
        f->params.glu_act = a->op == QN_OP_SILU ? QUANTA_GLU_SILU
                            : a->params.approximate ? QUANTA_GLU_GELU_TANH : QUANTA_GLU_GELU;
        f->nsrc = 2;
        f->src[0] = a->src[0];
        f->src[1] = u;
        return 1;
    }
    if (c->op == QN_OP_ROPE && a->op == QN_OP_RMS_NORM) {
        f->op = QN_OP_RMS_NORM_ROPE;
        f->params.eps = a->params.eps;
        f->params.weight_plus_one = a->params.weight_plus_one;
        f->nsrc = 3;
        f->src[0] = a->src[0];
        f->src[1] = a->src[1];
        f->src[2] = u;
        return 1;
    }
    if (c->op == QN_OP_ADD && a->op == QN_OP_RMS_NORM) {
        f->op = QN_OP_RMS_NORM_ADD;
        f->params.eps = a->params.eps;
        f->params.weight_plus_one = a->params.weight_plus_one;
        f->nsrc = 3;
        f->src[0] = a->src[0];
        f->src[1] = u;
        f->src[2] = a->src[1];
        return 1;
    }
    return 0;
}

/* A producer whose result only its consumer reads (no other reader, no output, no view),
 * followed by that consumer, becomes one node (fused_op) where the backend has its kernel
 * for the dtype, the other operand of a mul or add has the result's shape (no broadcast), and no in-place
 * write runs between the two (the producer's inputs are read later than before). One launch
 * and one pass over memory instead of two; the intermediate is no longer rounded to the
 * dtype (quanta_glu, quanta_rms_norm_add). The graph itself is not changed: the plan
 * rewrites its own copy of the nodes. */
static void fuse_nodes(quanta_plan *p) {
    for (int pos = 0; pos < p->norder; pos++) {
        qn_graph_node *m = &p->nodes[p->order[pos]];
        if (m->op != QN_OP_MUL && m->op != QN_OP_ADD && m->op != QN_OP_ROPE) continue;
        const int rope = m->op == QN_OP_ROPE;
        for (int s = 0; s < (rope ? 1 : 2); s++) {
            quanta_tensor *t = m->src[s], *u = m->src[1 - s];
            if (t->kind != QN_KIND_NODE || t->is_output || t->producer < 0) continue;
            const qn_graph_node *a = &p->nodes[t->producer];
            qn_graph_node f;
            /* mul(t, t) or add(t, view of t): the fused node would read t, which nobody computes */
            if (a->dst != t || qn_storage_root(u) == t || !fused_op(a, m, u, &f)) continue;
            if (!rope && (u->desc.dtype != t->desc.dtype || u->desc.ndim != t->desc.ndim ||
                          memcmp(u->desc.dims, t->desc.dims, sizeof t->desc.dims[0] * (size_t)t->desc.ndim) != 0))
                continue;
            int apos = -1, in_place = 0;
            for (int q = 0; q < pos; q++) {
                if (p->order[q] == t->producer) apos = q;
                else if (apos >= 0 && qn_op_def_of(p->nodes[p->order[q]].op)->dst_is_src0) in_place = 1;
            }
            if (apos < 0 || in_place || read_elsewhere(p, t, pos)) continue;
            qn_node probe;
            memset(&probe, 0, sizeof probe);
            probe.op = f.op;
            probe.params = f.params;
            probe.nsrc = f.nsrc;
            for (int i = 0; i < f.nsrc; i++) probe.src[i] = f.src[i] ? &p->pt[f.src[i]->id].rt : NULL;
            probe.dst = &p->pt[m->dst->id].rt;
            if (!is_ref(p) && !qn_backend_runs_node(p->backend->ops, p->backend->self, &probe)) continue;
            *m = f;
            memmove(&p->order[apos], &p->order[apos + 1], (size_t)(p->norder - apos - 1) * sizeof *p->order);
            p->norder--;
            pos--;
            break;
        }
    }
}

/* Whether node n's source tensor t is the result of a matmul at some position (returned in
 * *at) that only n reads (no other reader, no output, no view). */
static const qn_graph_node *sole_matmul(const quanta_plan *p, const quanta_tensor *t, int npos, int *at) {
    if (t->kind != QN_KIND_NODE || t->is_output || t->producer < 0) return NULL;
    const qn_graph_node *a = &p->nodes[t->producer];
    if (a->op != QN_OP_MATMUL || a->dst != t || read_elsewhere(p, t, npos)) return NULL;
    *at = -1;
    for (int q = 0; q < npos; q++)
        if (p->order[q] == t->producer) *at = q;
    return *at >= 0 ? a : NULL;
}

/* glu(matmul(x, w_gate), matmul(x, w_up)) becomes matmul_glu(x, w_gate, w_up) where the
 * backend has its kernel for the weights' format and shape: both products of the same x, of
 * one weight format and shape, read by the glu alone, no in-place write from the first of
 * them to the glu. One launch instead of three (gate, up, glu), and x read once for both
 * weight rows. Runs after fuse_nodes, which makes the glu from the activation and the mul. */
static void fuse_matmul_glu(quanta_plan *p) {
    for (int pos = 0; pos < p->norder; pos++) {
        qn_graph_node *c = &p->nodes[p->order[pos]];
        if (c->op != QN_OP_GLU) continue;
        int gpos, upos;
        const qn_graph_node *mg = sole_matmul(p, c->src[0], pos, &gpos), *mu = sole_matmul(p, c->src[1], pos, &upos);
        if (!mg || !mu || mg == mu || mg->src[0] != mu->src[0]) continue;
        const quanta_tensor *wg = mg->src[1], *wu = mu->src[1];
        if (wg->desc.dtype != wu->desc.dtype || wg->desc.ndim != 2 || wu->desc.ndim != 2 ||
            wg->desc.dims[0] != wu->desc.dims[0] || wg->desc.dims[1] != wu->desc.dims[1])
            continue;
        const int first = gpos < upos ? gpos : upos, second = gpos < upos ? upos : gpos;
        int in_place = 0;
        for (int q = first + 1; q < pos; q++)
            if (qn_op_def_of(p->nodes[p->order[q]].op)->dst_is_src0) in_place = 1;
        if (in_place) continue;
        qn_graph_node f = *c;
        f.op = QN_OP_MATMUL_GLU;
        f.nsrc = 3;
        f.src[0] = mg->src[0];
        f.src[1] = mg->src[1];
        f.src[2] = mu->src[1];
        qn_node probe;
        memset(&probe, 0, sizeof probe);
        probe.op = f.op;
        probe.params = f.params;
        probe.nsrc = 3;
        for (int i = 0; i < 3; i++) probe.src[i] = &p->pt[f.src[i]->id].rt;
        probe.dst = &p->pt[c->dst->id].rt;
        if (!is_ref(p) && !qn_backend_runs_node(p->backend->ops, p->backend->self, &probe)) continue;
        *c = f;
        memmove(&p->order[second], &p->order[second + 1], (size_t)(p->norder - second - 1) * sizeof *p->order);
        memmove(&p->order[first], &p->order[first + 1], (size_t)(p->norder - first - 2) * sizeof *p->order);
        p->norder -= 2;
        pos -= 2;
    }
}

/* Whether the plan may run fused node f: the reference takes every fusion, other backends those
 * their table and supports_op claim. */
static int takes_fused(const quanta_plan *p, const qn_graph_node *f) {
    qn_node probe;
    fill_node_from(p, f, &probe);
    return is_ref(p) || qn_backend_runs_node(p->backend->ops, p->backend->self, &probe);
}

/* Matmuls of one x whose weights share a format and K (a layer's q, k and v projections), two
 * or three of them, become one matmul_multi node with a result per weight, where the backend
 * has its kernel for the format and shape: one launch instead of three, x read once. Each
 * product keeps its own tensor (readers, outputs and views of it are unchanged); the node takes
 * the place of the first matmul, so no product is computed later than before; no in-place write
 * may run between the first and the last (a weight or x written there would be read early).
 * Runs after fuse_matmul_glu, so a gated MLP's gate and up stay in their matmul_glu. */
static void fuse_matmul_multi(quanta_plan *p) {
    for (int pos = 0; pos < p->norder; pos++) {
        qn_graph_node *a = &p->nodes[p->order[pos]];
        if (a->op != QN_OP_MATMUL) continue;
        const quanta_tensor *x = a->src[0], *w = a->src[1];
        int at[QN_MAX_DST] = {pos}, n = 1;
        for (int q = pos + 1; q < p->norder && n < QN_MAX_DST; q++) {
            const qn_graph_node *b = &p->nodes[p->order[q]];
            if (qn_op_def_of(b->op)->dst_is_src0) break;
            if (b->op != QN_OP_MATMUL || b->src[0] != x) continue;
            const quanta_tensor *v = b->src[1];
            /* a weight computed in the graph could be produced after the first matmul */
            const int leaf = v->kind == QN_KIND_CONSTANT || v->kind == QN_KIND_BUFFER || v->kind == QN_KIND_INPUT;
            if (leaf && v->desc.dtype == w->desc.dtype && v->desc.ndim == 2 && w->desc.ndim == 2 &&
                v->desc.dims[1] == w->desc.dims[1])
                at[n++] = q;
        }
        /* the largest group the backend takes: all found, else the first two */
        for (; n >= 2; n--) {
            qn_graph_node f = *a;
            f.op = QN_OP_MATMUL_MULTI;
            f.nsrc = 4;
            f.src[3] = NULL;
            for (int i = 1; i < n; i++) {
                f.src[1 + i] = p->nodes[p->order[at[i]]].src[1];
                f.extra_dst[i - 1] = p->nodes[p->order[at[i]]].dst;
            }
            if (!takes_fused(p, &f)) continue;
            *a = f;
            for (int i = n - 1; i >= 1; i--) {
                memmove(&p->order[at[i]], &p->order[at[i] + 1], (size_t)(p->norder - at[i] - 1) * sizeof *p->order);
                p->norder--;
            }
            break;
        }
    }
}

/* The position of the node that writes t's storage (a result of it, after fusions), or -1 for
 * a leaf (input, constant, buffer: there before any node). */
static int produced_at(const quanta_plan *p, quanta_tensor *t) {
    quanta_tensor *root = qn_storage_root(t);
    if (root->kind != QN_KIND_NODE) return -1;
    for (int pos = 0; pos < p->norder; pos++) {
        quanta_tensor *d[QN_MAX_DST];
        const int nd = node_dsts(&p->nodes[p->order[pos]], d);
        for (int i = 0; i < nd; i++)
            if (d[i] == root) return pos;
    }
    return -1;
}

/* The pair fusions: node b at position q joins node a at pos as pair op `op` (a's sources, then
 * b's first two as sources 3 and 4, b's result as the extra one) where the plan may run it;
 * b leaves the order. Returns whether it did. */
static int fuse_second(quanta_plan *p, int pos, int q, qn_op op) {
    qn_graph_node *a = &p->nodes[p->order[pos]];
    const qn_graph_node *b = &p->nodes[p->order[q]];
    qn_graph_node f = *a;
    f.op = op;
    f.nsrc = 5;
    f.src[3] = b->src[0];
    f.src[4] = b->src[1];
    f.extra_dst[0] = b->dst;
    if (!takes_fused(p, &f)) return 0;
    *a = f;
    memmove(&p->order[q], &p->order[q + 1], (size_t)(p->norder - q - 1) * sizeof *p->order);
    p->norder--;
    return 1;
}

/* Whether a and b share storage: one root, or two graph tensors of one quanta_buffer. */
static int same_storage(quanta_tensor *a, quanta_tensor *b) {
    quanta_tensor *ra = qn_storage_root(a), *rb = qn_storage_root(b);
    return ra == rb || (ra->kind == QN_KIND_BUFFER && rb->kind == QN_KIND_BUFFER && ra->buffer == rb->buffer);
}

/* Two write_rows at one start (a layer's k and v appends) become one write_rows_pair node where
 * the backend has its kernel: one launch instead of two. The second write moves up to the
 * first's place, so its source must be computed before the first, the two write different
 * buffers, and no node between them may read or write the second's buffer or write in place. */
static void fuse_write_rows_pair(quanta_plan *p) {
    for (int pos = 0; pos < p->norder; pos++) {
        qn_graph_node *a = &p->nodes[p->order[pos]];
        if (a->op != QN_OP_WRITE_ROWS) continue;
        int q = pos + 1;
        while (q < p->norder && (p->nodes[p->order[q]].op != QN_OP_WRITE_ROWS || p->nodes[p->order[q]].src[2] != a->src[2]))
            q++;
        if (q == p->norder) continue;
        const qn_graph_node *b = &p->nodes[p->order[q]];
        int ok = !same_storage(b->src[0], a->src[0]) && produced_at(p, b->src[1]) < pos;
        for (int i = pos + 1; ok && i < q; i++) {
            const qn_graph_node *n = &p->nodes[p->order[i]];
            ok = !qn_op_def_of(n->op)->dst_is_src0;
            for (int s = 0; ok && s < n->nsrc; s++) ok = !n->src[s] || !same_storage(n->src[s], b->src[0]);
        }
        if (ok) fuse_second(p, pos, q, QN_OP_WRITE_ROWS_PAIR);
    }
}

/* Whether the plan may move node b's work up to position pos: no in-place write at pos+1 .. q-1
 * (a buffer written there would be read early). */
static int no_write_between(const quanta_plan *p, int pos, int q) {
    for (int i = pos + 1; i < q; i++)
        if (qn_op_def_of(p->nodes[p->order[i]].op)->dst_is_src0) return 0;
    return 1;
}

/* The norm passes: each rms_norm(s) where s is the result itself of a node of op `from` becomes part of that node,
 * op `to`, with the norm as its extra result, where the backend has its kernel: one launch instead of two, s read
 * back from cache. The norm moves up to that node's place, so its weight must be a leaf and no in-place write may
 * lie between. `to`'s sources are the node's (the first `keep` of them), then the norm's weight; params: `from`'s
 * must share eps and weight_plus_one with the norm (rms_norm_add_norm), else the norm's are taken (add_norm). */
static void fuse_norm_into(quanta_plan *p, qn_op from, qn_op to, int keep) {
    for (int pos = 0; pos < p->norder; pos++) {
        const qn_graph_node *n = &p->nodes[p->order[pos]];
        if (n->op != QN_OP_RMS_NORM || n->src[0]->kind != QN_KIND_NODE) continue;
        const int apos = produced_at(p, n->src[0]);
        if (apos < 0) continue;
        qn_graph_node *a = &p->nodes[p->order[apos]];
        const int norm_params = from == QN_OP_RMS_NORM_ADD;
        if (a->op != from || a->dst != n->src[0] || (n->src[1] && produced_at(p, n->src[1]) >= 0) ||
            (norm_params && (a->params.eps != n->params.eps || a->params.weight_plus_one != n->params.weight_plus_one)) ||
            !no_write_between(p, apos, pos))
            continue;
        if (from == QN_OP_ADD) { /* no broadcast: the kernels add two rows of one shape */
            const quanta_tensor_desc *da = &a->src[0]->desc, *db = &a->src[1]->desc;
            if (da->dtype != db->dtype || da->ndim != db->ndim ||
                memcmp(da->dims, db->dims, sizeof da->dims[0] * (size_t)da->ndim) != 0)
                continue;
        }
        qn_graph_node f = *a;
        f.op = to;
        if (!norm_params) f.params = n->params;
        f.nsrc = keep + 1;
        f.src[keep] = n->src[1];
        f.extra_dst[0] = n->dst;
        if (!takes_fused(p, &f)) continue;
        *a = f;
        memmove(&p->order[pos], &p->order[pos + 1], (size_t)(p->norder - pos - 1) * sizeof *p->order);
        p->norder--;
        pos--;
    }
}

/* rms_norm(s) where s is an rms_norm_add's result (Gemma: the post-attention norm and residual, then the MLP's input
 * norm; the post-MLP norm and residual, then the next layer's input norm) becomes rms_norm_add_norm where both norms
 * share eps and weight_plus_one. */
static void fuse_rms_norm_add_norm(quanta_plan *p) { fuse_norm_into(p, QN_OP_RMS_NORM_ADD, QN_OP_RMS_NORM_ADD_NORM, 3); }

/* Two rms_norm_rope of one positions tensor and parameters whose inputs share dtype, position
 * count and row length (a layer's q and k norms with their rope) become one rms_norm_rope_pair
 * node where the backend has its kernel: one launch instead of two. The second moves up to the
 * first's place, so its x and weight must exist by then; no in-place write may lie between. */
static void fuse_rms_norm_rope_pair(quanta_plan *p) {
    for (int pos = 0; pos < p->norder; pos++) {
        qn_graph_node *a = &p->nodes[p->order[pos]];
        if (a->op != QN_OP_RMS_NORM_ROPE) continue;
        int q = pos + 1, ok = 1;
        for (; q < p->norder; q++) {
            const qn_graph_node *b = &p->nodes[p->order[q]];
            if (b->op == QN_OP_RMS_NORM_ROPE && b->src[2] == a->src[2]) break;
            if (qn_op_def_of(b->op)->dst_is_src0) ok = 0;
        }
        if (!ok || q == p->norder) continue;
        const qn_graph_node *b = &p->nodes[p->order[q]];
        const quanta_tensor_desc *da = &a->src[0]->desc, *db = &b->src[0]->desc;
        if (memcmp(&a->params.rope, &b->params.rope, sizeof a->params.rope) || a->params.eps != b->params.eps ||
            a->params.weight_plus_one != b->params.weight_plus_one || da->dtype != db->dtype || da->ndim != db->ndim ||
            da->dims[da->ndim - 1] != db->dims[db->ndim - 1] || da->dims[da->ndim - 2] != db->dims[db->ndim - 2] ||
            produced_at(p, b->src[0]) >= pos || (b->src[1] && produced_at(p, b->src[1]) >= pos))
            continue;
        fuse_second(p, pos, q, QN_OP_RMS_NORM_ROPE_PAIR);
    }
}

/* rms_norm(s) where s is an add's result of two operands of one shape (LLaMA: the residual h = x + o, then the next
 * layer's or the MLP's input norm; the last one and the output norm) becomes add_norm. fuse_nodes cannot do it, since
 * the next residual add reads s too. Runs after fuse_nodes and fuse_rms_norm_add_norm: an add of a norm's result
 * (Gemma's post-norms) is an rms_norm_add by then, which they keep. */
static void fuse_add_norm(quanta_plan *p) { fuse_norm_into(p, QN_OP_ADD, QN_OP_ADD_NORM, 2); }

/* Two ropes of one positions tensor and parameters whose inputs share dtype, position count and
 * row length (a layer's q and k where the model has no q/k norms: LLaMA, Mistral) become one
 * rope_pair node where the backend has its kernel: one launch instead of two. The second moves up
 * to the first's place, so its x must exist by then; no in-place write may lie between. */
static void fuse_rope_pair(quanta_plan *p) {
    for (int pos = 0; pos < p->norder; pos++) {
        qn_graph_node *a = &p->nodes[p->order[pos]];
        if (a->op != QN_OP_ROPE) continue;
        int q = pos + 1;
        while (q < p->norder && (p->nodes[p->order[q]].op != QN_OP_ROPE || p->nodes[p->order[q]].src[1] != a->src[1]))
            q++;
        if (q == p->norder) continue;
        const qn_graph_node *b = &p->nodes[p->order[q]];
        const quanta_tensor_desc *da = &a->src[0]->desc, *db = &b->src[0]->desc;
        if (memcmp(&a->params.rope, &b->params.rope, sizeof a->params.rope) || da->dtype != db->dtype ||
            da->dims[2] != db->dims[2] || da->dims[3] != db->dims[3] || produced_at(p, b->src[0]) >= pos ||
            !no_write_between(p, pos, q))
            continue;
        qn_graph_node f = *a;
        f.op = QN_OP_ROPE_PAIR;
        f.nsrc = 3;
        f.src[2] = b->src[0];
        f.extra_dst[0] = b->dst;
        if (!takes_fused(p, &f)) continue;
        *a = f;
        memmove(&p->order[q], &p->order[q + 1], (size_t)(p->norder - q - 1) * sizeof *p->order);
        p->norder--;
    }
}

/* A write_rows_pair (a layer's k and v cache appends) whose first source is the second result of a rope_pair or
 * rms_norm_rope_pair (k after its rope), read by the append alone, joins that node: rope_kv, which writes k's
 * rotated rows straight into the cache and copies v's, one launch instead of two (and k's rows never stored
 * apart). The appends move up to the rope's place, so v and the start must exist by then, and no node between may
 * read or write either cache or write in place. Runs last: the pair fusions make both nodes. */
static void fuse_rope_kv(quanta_plan *p) {
    for (int q = 0; q < p->norder; q++) {
        const qn_graph_node *w = &p->nodes[p->order[q]];
        if (w->op != QN_OP_WRITE_ROWS_PAIR) continue;
        quanta_tensor *k = w->src[1];
        const int pos = produced_at(p, k);
        if (pos < 0 || k->kind != QN_KIND_NODE || k->is_output || read_elsewhere(p, k, q)) continue;
        qn_graph_node *r = &p->nodes[p->order[pos]];
        if ((r->op != QN_OP_ROPE_PAIR && r->op != QN_OP_RMS_NORM_ROPE_PAIR) || r->extra_dst[0] != k ||
            produced_at(p, w->src[4]) >= pos || produced_at(p, w->src[2]) >= pos || !no_write_between(p, pos, q))
            continue;
        int ok = 1;
        for (int i = pos + 1; ok && i < q; i++) {
            const qn_graph_node *n = &p->nodes[p->order[i]];
            for (int s = 0; ok && s < n->nsrc; s++)
                ok = !n->src[s] || (!same_storage(n->src[s], w->src[0]) && !same_storage(n->src[s], w->src[3]));
        }
        if (!ok) continue;
        const int norm = r->op == QN_OP_RMS_NORM_ROPE_PAIR;
        qn_graph_node f = *r;
        f.op = QN_OP_ROPE_KV;
        f.params.rope_norm = norm;
        f.nsrc = 9;
        f.src[0] = r->src[0];
        f.src[1] = norm ? r->src[2] : r->src[1];
        f.src[2] = norm ? r->src[3] : r->src[2];
        f.src[3] = norm ? r->src[1] : NULL;
        f.src[4] = norm ? r->src[4] : NULL;
        f.src[5] = w->src[0], f.src[6] = w->src[2], f.src[7] = w->src[3], f.src[8] = w->src[4];
        f.extra_dst[0] = w->dst;
        f.extra_dst[1] = w->extra_dst[0];
        if (!takes_fused(p, &f)) continue;
        *r = f;
        memmove(&p->order[q], &p->order[q + 1], (size_t)(p->norder - q - 1) * sizeof *p->order);
        p->norder--;
        q--;
    }
}

static quanta_status resolve_leaves(quanta_plan *p) {
    quanta_graph *g = p->graph;
    for (int i = 0; i < p->ntensors; i++) {
        quanta_tensor *t = g->tensors[i];
        plan_tensor *pt = &p->pt[i];
        pt->rt.desc = t->desc;
        pt->rt.bytes = t->bytes;
        pt->rt.name = t->name;
        quanta_status st = QUANTA_OK;
        switch (t->kind) {
        case QN_KIND_INPUT:
            st = own_alloc(p, pt, t->bytes);
            pt->rt.mem = (qn_mem){pt->owned, 0};
            break;
        case QN_KIND_CONSTANT:
            st = own_alloc(p, pt, t->bytes);
            pt->rt.mem = (qn_mem){pt->owned, 0};
            if (st == QUANTA_OK) st = p->backend->ops->write(p->backend->self, pt->rt.mem, t->host_data, t->bytes);
            if (st == QUANTA_OK && t->desc.ndim == 2 && p->backend->ops->prepare_weight) {
                st = p->backend->ops->prepare_weight(p->backend->self, &pt->rt, &pt->owned_aux);
                if (st != QUANTA_OK) pt->owned_aux = NULL; /* nothing to release */
                pt->rt.aux = pt->owned_aux;
            }
            break;
        case QN_KIND_BUFFER:
            if (t->buffer->backend != p->backend)
                return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                                    "quanta_plan_create: tensor %d references a buffer of another backend (%s, plan is on %s)",
                                    i, t->buffer->backend->ops->name, p->backend->ops->name);
            pt->rt.mem = (qn_mem){t->buffer->handle, 0};
            pt->rt.aux = t->buffer->aux;
            break;
        case QN_KIND_NODE:
        case QN_KIND_VIEW:
            break;
        }
        if (st != QUANTA_OK) return st;
    }
    return QUANTA_OK;
}

static void resolve_views(quanta_plan *p) {
    for (int i = 0; i < p->ntensors; i++) {
        quanta_tensor *t = p->graph->tensors[i];
        if (t->kind == QN_KIND_VIEW) {
            p->pt[i].rt.mem = p->pt[t->base->id].rt.mem;
            p->pt[i].rt.aux = NULL;
        }
    }
}

static void free_plan_memory(quanta_plan *p) {
    for (int i = 0; i < p->ntensors; i++) {
        plan_tensor *pt = &p->pt[i];
        if (pt->owned_aux && p->backend->ops->release_weight) p->backend->ops->release_weight(p->backend->self, pt->owned_aux);
        pt->owned_aux = NULL;
        qn_backend_free(p->backend, pt->owned, pt->owned_bytes);
        pt->owned = NULL;
    }
    qn_backend_free(p->backend, p->arena, p->arena_bytes);
    p->arena = NULL;
}

int qn_plan_is_recorded(const quanta_plan *p) { return p && p->recording != NULL; }

static void drop_recording(quanta_plan *p) {
    if (p->recording) p->backend->ops->release_recording(p->backend->self, p->recording);
    p->recording = NULL;
    p->plain_runs = 0;
}

void quanta_plan_destroy(quanta_plan *p) {
    if (!p) return;
    drop_recording(p);
    if (p->pt) free_plan_memory(p);
    free(p->pt);
    free(p->nodes);
    free(p->order);
    free(p->fallback);
    free(p);
}

quanta_status quanta_plan_create(quanta_graph *g, quanta_backend *backend, quanta_plan **out) {
    if (out) *out = NULL;
    if (!g) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_plan_create: graph is NULL");
    if (!backend) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_plan_create: backend is NULL");
    if (!out) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_plan_create: out is NULL");
    quanta_plan *p = calloc(1, sizeof *p);
    if (!p) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_plan_create: out of host memory");
    p->graph = g;
    p->backend = backend;
    p->ntensors = g->ntensors;
    p->pt = calloc((size_t)g->ntensors + 1, sizeof *p->pt);
    p->order = calloc((size_t)g->nnodes + 1, sizeof *p->order);
    p->nodes = malloc(((size_t)g->nnodes + 1) * sizeof *p->nodes);
    if (p->nodes && g->nnodes) memcpy(p->nodes, g->nodes, (size_t)g->nnodes * sizeof *p->nodes);
    p->fallback = calloc((size_t)g->nnodes + 1, 1);
    size_t *offsets = calloc((size_t)g->ntensors + 1, sizeof *offsets);
    quanta_status st = QUANTA_OK;
    if (!p->pt || !p->order || !p->nodes || !p->fallback || !offsets)
        st = qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_plan_create: out of host memory");
    if (st == QUANTA_OK) st = select_nodes(p);
    if (st == QUANTA_OK) st = resolve_leaves(p);
    if (st == QUANTA_OK) fuse_nodes(p);
    if (st == QUANTA_OK) fuse_matmul_glu(p);
    if (st == QUANTA_OK) fuse_matmul_multi(p);
    if (st == QUANTA_OK) fuse_write_rows_pair(p);
    if (st == QUANTA_OK) fuse_rms_norm_add_norm(p);
    if (st == QUANTA_OK) fuse_rms_norm_rope_pair(p);
    if (st == QUANTA_OK) fuse_add_norm(p);
    if (st == QUANTA_OK) fuse_rope_pair(p);
    if (st == QUANTA_OK) fuse_rope_kv(p);
    if (st == QUANTA_OK) st = plan_arena(p, offsets, &p->arena_bytes);
    if (st == QUANTA_OK && p->arena_bytes) st = qn_backend_alloc(backend, p->arena_bytes, &p->arena);
    if (st == QUANTA_OK) {
        for (int pos = 0; pos < p->norder; pos++) {
            quanta_tensor *dsts[QN_MAX_DST];
            const int nd = node_dsts(&p->nodes[p->order[pos]], dsts);
            for (int i = 0; i < nd; i++) {
                quanta_tensor *dst = dsts[i];
                if (dst->kind != QN_KIND_NODE) continue;
                p->pt[dst->id].arena_off = offsets[dst->id];
                p->pt[dst->id].rt.mem = (qn_mem){p->arena, offsets[dst->id]};
            }
        }
        resolve_views(p);
        for (int pos = 0; pos < p->norder; pos++) {
            qn_node node;
            fill_node(p, p->order[pos], &node);
            p->fallback[pos] = !is_ref(p) && !qn_backend_runs_node(backend->ops, backend->self, &node);
        }
    }
    free(offsets);
    if (st != QUANTA_OK) {
        quanta_plan_destroy(p);
        return st;
    }
    *out = p;
    return QUANTA_OK;
}

/* ------------------------------------------------------------------ queries */

quanta_status quanta_plan_peak_bytes(const quanta_plan *p, size_t *bytes) {
    if (!p) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_plan_peak_bytes: plan is NULL");
    if (!bytes) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_plan_peak_bytes: bytes is NULL");
    *bytes = p->arena_bytes;
    return QUANTA_OK;
}

int quanta_plan_op_count(const quanta_plan *p) { return p ? p->norder : 0; }

quanta_status quanta_plan_op_info(const quanta_plan *p, int i, const char **op_name, const char **backend_name) {
    if (!p) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_plan_op_info: plan is NULL");
    if (i < 0 || i >= p->norder)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_plan_op_info: i = %d out of range [0, %d)", i, p->norder);
    if (op_name) *op_name = qn_op_name(p->nodes[p->order[i]].op);
    if (backend_name) *backend_name = p->fallback[i] ? qn_ref_backend.name : p->backend->ops->name;
    return QUANTA_OK;
}

int quanta_plan_fallback_count(const quanta_plan *p) {
    int n = 0;
    for (int i = 0; p && i < p->norder; i++) n += p->fallback[i];
    return n;
}

/* -------------------------------------------------------------------- guards */

/* Moves result dst into its own allocation [guard | data | guard], the guards filled. */
static quanta_status guard_one(quanta_plan *p, const quanta_tensor *dst, size_t guard) {
    plan_tensor *pt = &p->pt[dst->id];
    size_t total = 0;
    quanta_status st = qn_add_size(dst->bytes, 2 * guard, &total)
                           ? own_alloc(p, pt, total)
                           : qn_error_set(QUANTA_ERR_OVERFLOW, "qn_plan_set_guard_bytes: size overflow");
    unsigned char *pattern = st == QUANTA_OK ? malloc(total) : NULL;
    if (st == QUANTA_OK && !pattern)
        st = qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "qn_plan_set_guard_bytes: out of host memory");
    if (st == QUANTA_OK) {
        memset(pattern, QN_GUARD_BYTE, total);
        st = p->backend->ops->write(p->backend->self, (qn_mem){pt->owned, 0}, pattern, total);
    }
    free(pattern);
    if (st == QUANTA_OK) pt->rt.mem = (qn_mem){pt->owned, guard};
    return st;
}

/* Puts the results of the nodes at positions 0..pos back in the arena (guard_one undone). */
static void unguard_upto(quanta_plan *p, int pos) {
    for (int i = 0; i <= pos; i++) {
        quanta_tensor *ds[QN_MAX_DST];
        const int n = node_dsts(&p->nodes[p->order[i]], ds);
        for (int j = 0; j < n; j++) {
            if (ds[j]->kind != QN_KIND_NODE) continue;
            plan_tensor *u = &p->pt[ds[j]->id];
            qn_backend_free(p->backend, u->owned, u->owned_bytes);
            u->owned = NULL;
            u->owned_bytes = 0;
            u->rt.mem = (qn_mem){p->arena, u->arena_off};
        }
    }
    resolve_views(p);
}

quanta_status qn_plan_set_guard_bytes(quanta_plan *p, size_t bytes) {
    if (!p) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_plan_set_guard_bytes: plan is NULL");
    if (p->executed) return qn_error_set(QUANTA_ERR_STATE, "qn_plan_set_guard_bytes: call it before the first execute");
    if (bytes == 0 || p->guard_bytes) return bytes == p->guard_bytes ? QUANTA_OK
                                                                      : qn_error_set(QUANTA_ERR_STATE, "qn_plan_set_guard_bytes: guards are already set");
    size_t guard = align_up(bytes, 64);
    /* Each op result moves into its own allocation: [guard | data | guard]. */
    for (int pos = 0; pos < p->norder; pos++) {
        quanta_tensor *dsts[QN_MAX_DST];
        const int nd = node_dsts(&p->nodes[p->order[pos]], dsts);
        for (int di = 0; di < nd; di++) {
            if (dsts[di]->kind != QN_KIND_NODE) continue;
            quanta_status st = guard_one(p, dsts[di], guard);
            if (st != QUANTA_OK) {
                unguard_upto(p, pos); /* back to the arena, so a later call or an unguarded run is sound */
                return st;
            }
        }
    }
    qn_backend_free(p->backend, p->arena, p->arena_bytes);
    p->arena = NULL;
    resolve_views(p);
    p->guard_bytes = guard;
    return QUANTA_OK;
}

static quanta_status poison(quanta_plan *p, const qn_tensor *t) {
    unsigned char *buf = malloc(t->bytes ? t->bytes : 1);
    if (!buf) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_plan_execute: out of host memory");
    memset(buf, QN_POISON_BYTE, t->bytes);
    quanta_status st = p->backend->ops->write(p->backend->self, t->mem, buf, t->bytes);
    free(buf);
    return st;
}

static quanta_status check_guards(quanta_plan *p, const qn_tensor *t, int pos) {
    size_t g = p->guard_bytes;
    unsigned char *buf = malloc(g);
    if (!buf) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_plan_execute: out of host memory");
    quanta_status st = QUANTA_OK;
    const char *where[2] = {"before", "after"};
    size_t at[2] = {t->mem.offset - g, t->mem.offset + t->bytes};
    for (int side = 0; side < 2 && st == QUANTA_OK; side++) {
        st = p->backend->ops->read(p->backend->self, (qn_mem){t->mem.handle, at[side]}, buf, g);
        for (size_t i = 0; i < g && st == QUANTA_OK; i++)
            if (buf[i] != QN_GUARD_BYTE)
                st = qn_error_set(QUANTA_ERR_BACKEND,
                                  "guard overwritten %s output of op %d (%s) on backend %s, byte %zu of the guard",
                                  where[side], pos, qn_op_name(p->nodes[p->order[pos]].op),
                                  p->fallback[pos] ? "ref" : p->backend->ops->name, side ? i : g - 1 - i);
    }
    free(buf);
    return st;
}

/* ------------------------------------------------------------------ execution */

/* Runs a node the backend lacks on the reference backend through host copies. */
static quanta_status run_fallback(quanta_plan *p, const qn_node *node) {
    const qn_backend_ops *ops = p->backend->ops;
    void *self = p->backend->self;
    quanta_status st = ops->synchronize(self);
    qn_tensor host[QN_MAX_SRC + 1];
    void *mem[QN_MAX_SRC + 1] = {0};
    qn_node hn = *node;
    for (int s = 0; s < node->nsrc && st == QUANTA_OK; s++) {
        if (!node->src[s]) continue;
        host[s] = *node->src[s];
        host[s].aux = NULL;
        mem[s] = malloc(host[s].bytes ? host[s].bytes : 1);
        if (!mem[s]) {
            st = qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "fallback %s: out of host memory", qn_op_name(node->op));
            break;
        }
        host[s].mem = (qn_mem){mem[s], 0};
        hn.src[s] = &host[s];
        st = ops->read(self, node->src[s]->mem, mem[s], host[s].bytes);
    }
    /* matmul_multi's extra results: host copies written back after the dst */
    qn_tensor hx[QN_MAX_EXTRA_DST];
    void *xmem[QN_MAX_EXTRA_DST] = {0};
    for (int i = 0; i < QN_MAX_EXTRA_DST && st == QUANTA_OK; i++) {
        if (!node->extra_dst[i]) continue;
        hx[i] = *node->extra_dst[i];
        hx[i].aux = NULL;
        if (!(xmem[i] = malloc(hx[i].bytes ? hx[i].bytes : 1)))
            st = qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "fallback %s: out of host memory", qn_op_name(node->op));
        hx[i].mem = (qn_mem){xmem[i], 0};
        hn.extra_dst[i] = &hx[i];
    }
    qn_tensor *hd = &host[QN_MAX_SRC];
    if (st == QUANTA_OK) {
        *hd = *node->dst;
        hd->aux = NULL;
        if (qn_op_def_of(node->op)->dst_is_src0) {
            hd->mem = host[0].mem; /* in place, as on the device */
        } else {
            mem[QN_MAX_SRC] = malloc(hd->bytes ? hd->bytes : 1);
            if (!mem[QN_MAX_SRC])
                st = qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "fallback %s: out of host memory", qn_op_name(node->op));
            hd->mem = (qn_mem){mem[QN_MAX_SRC], 0};
        }
        hn.dst = hd;
    }
    if (st == QUANTA_OK) st = qn_ref_run_node(&hn);
    if (st == QUANTA_OK) st = ops->write(self, node->dst->mem, qn_host_ptr(hd), hd->bytes);
    for (int i = 0; i < QN_MAX_EXTRA_DST && st == QUANTA_OK; i++)
        if (xmem[i]) st = ops->write(self, node->extra_dst[i]->mem, xmem[i], hx[i].bytes);
    for (int s = 0; s <= QN_MAX_SRC; s++) free(mem[s]);
    for (int i = 0; i < QN_MAX_EXTRA_DST; i++) free(xmem[i]);
    return st;
}

/* ------------------------------------------------------------------ profile */

static qn_plan_profile profile;

/* A diagnostic switch read once from the environment into *cache: on when set and not "0". Atomic:
 * every execute asks, from whichever thread runs the plan (tensor-parallel ranks, an application's
 * own threads), and two first reads may come at once (each then reads the same environment). */
static int env_switch(const char *name, atomic_int *cache) {
    int v = atomic_load_explicit(cache, memory_order_relaxed);
    if (v < 0) {
        const char *e = getenv(name);
        v = e && *e && *e != '0';
        atomic_store_explicit(cache, v, memory_order_relaxed);
    }
    return v;
}

int qn_plan_profile_on(void) {
    static atomic_int on = -1;
    return env_switch("QUANTA_PLAN_PROFILE", &on);
}

void qn_plan_profile_take(qn_plan_profile *out, int reset) {
    if (out) *out = profile;
    if (reset) memset(&profile, 0, sizeof profile);
}

const char *qn_plan_profile_row_name(int i, int *fallback) {
    if (fallback) *fallback = i >= QN_PLAN_PROFILE_OPS;
    const int op = i % QN_PLAN_PROFILE_OPS;
    return i >= 0 && i < QN_PLAN_PROFILE_ROWS && op < QN_OP_COUNT ? qn_op_name((qn_op)op) : NULL;
}

_Static_assert(QN_OP_COUNT <= QN_PLAN_PROFILE_OPS, "the profile table has a row per op code");

/* sync = 0: the work is queued and the final synchronize left to the caller (execute_read below). */
static quanta_status execute(quanta_plan *p, int sync);

static quanta_status execute_timed(quanta_plan *p, int sync) {
    const int prof = qn_plan_profile_on(), sp = qn_step_split_on();
    if (!prof && !sp) return execute(p, sync);
    const double t0 = qn_now_s();
    quanta_status st = execute(p, sync);
    const double dt = qn_now_s() - t0;
    if (prof) profile.execute_seconds += dt, profile.executes++;
    if (sp) qn_split_end(QN_SPLIT_EXECUTE, t0);
    return st;
}

quanta_status quanta_plan_execute(quanta_plan *p) { return execute_timed(p, 1); }

static quanta_status execute(quanta_plan *p, int sync) {
    if (!p) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_plan_execute: plan is NULL");
    for (int i = 0; i < p->ntensors; i++) {
        quanta_tensor *t = p->graph->tensors[i];
        if (t->kind == QN_KIND_INPUT && p->pt[i].needed && !p->pt[i].input_set)
            return qn_error_set(QUANTA_ERR_STATE, "quanta_plan_execute: input '%s' (tensor %d) was never set",
                                t->name ? t->name : "(unnamed)", i);
    }
    /* quanta_buffer_write re-prepares a weight and frees its old form: take the current one
     * (a recording holds the old one's address). */
    for (int i = 0; i < p->ntensors; i++) {
        quanta_tensor *t = p->graph->tensors[i];
        if (t->kind == QN_KIND_BUFFER) {
            if (p->pt[i].rt.aux != t->buffer->aux) drop_recording(p);
            p->pt[i].rt.aux = t->buffer->aux;
        }
    }
    p->executed = 1;
    const qn_backend_ops *ops = p->backend->ops;
    void *self = p->backend->self;
    const int prof = qn_plan_profile_on();
    if (ops->capture_begin && !p->no_recording && !p->guard_bytes && !prof) {
        for (int pos = 0; pos < p->norder && !p->no_recording; pos++) p->no_recording = p->fallback[pos];
    } else {
        p->no_recording = 1;
    }
    if (!p->no_recording && p->recording) {
        int valid = 0;
        quanta_status st = ops->replay(self, p->recording, &valid);
        if (st != QUANTA_OK) return st;
        if (valid) return sync ? ops->synchronize(self) : QUANTA_OK;
        drop_recording(p);
    }
    if (!p->no_recording && p->plain_runs > 0) {
        /* Record the whole execution, then run the recording. A node that cannot be recorded
         * (or fails) ends recording for this plan; the plain loop below then runs it. */
        quanta_status st = ops->capture_begin(self);
        for (int pos = 0; pos < p->norder && st == QUANTA_OK; pos++) {
            qn_node node;
            fill_node(p, p->order[pos], &node);
            st = ops->run(self, &node);
        }
        void *rec = NULL;
        quanta_status end = ops->capture_end(self, st == QUANTA_OK, &rec);
        if (st == QUANTA_OK && end == QUANTA_OK && rec) {
            p->recording = rec;
            int valid = 0;
            st = ops->replay(self, rec, &valid);
            if (st != QUANTA_OK) return st;
            if (valid) return sync ? ops->synchronize(self) : QUANTA_OK;
            drop_recording(p);
        }
        p->no_recording = 1;
        qn_error_clear();
    }
    p->plain_runs++;
    for (int pos = 0; pos < p->norder; pos++) {
        qn_node node;
        fill_node(p, p->order[pos], &node);
        quanta_status st = QUANTA_OK;
        quanta_tensor *dsts[QN_MAX_DST];
        const int nd = node_dsts(&p->nodes[p->order[pos]], dsts);
        /* rope_kv's extra results are caches written in place (views of buffers): neither poisoned nor guarded */
        const int guarded = p->guard_bytes && dsts[0]->kind == QN_KIND_NODE;
        for (int i = 0; guarded && i < nd && st == QUANTA_OK; i++)
            if (dsts[i]->kind == QN_KIND_NODE) st = poison(p, &p->pt[dsts[i]->id].rt);
        const double t0 = prof ? qn_now_s() : 0.0;
        if (st == QUANTA_OK) st = p->fallback[pos] ? run_fallback(p, &node) : ops->run(p->backend->self, &node);
        if (st == QUANTA_OK && prof) { /* the op's time to finish, by op code (fallbacks apart) */
            st = ops->synchronize(p->backend->self);
            const int row = (p->fallback[pos] ? QN_PLAN_PROFILE_OPS : 0) + (int)node.op;
            profile.seconds[row] += qn_now_s() - t0;
            profile.count[row]++;
        }
        if (st == QUANTA_OK && guarded) st = ops->synchronize(p->backend->self);
        for (int i = 0; guarded && i < nd && st == QUANTA_OK; i++)
            if (dsts[i]->kind == QN_KIND_NODE) st = check_guards(p, &p->pt[dsts[i]->id].rt, pos);
        if (st != QUANTA_OK) return st;
    }
    return sync ? ops->synchronize(p->backend->self) : QUANTA_OK;
}

static quanta_status plan_tensor_of(const quanta_plan *p, const quanta_tensor *t, const char *fn) {
    if (!p) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: plan is NULL", fn);
    if (!t) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: t is NULL", fn);
    if (t->graph != p->graph || t->id >= p->ntensors)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: t is not a tensor of the planned graph", fn);
    return QUANTA_OK;
}

quanta_status quanta_plan_set_input(quanta_plan *p, quanta_tensor *t, const void *data, size_t bytes) {
    quanta_status st = plan_tensor_of(p, t, "quanta_plan_set_input");
    if (st != QUANTA_OK) return st;
    if (t->kind != QN_KIND_INPUT)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_plan_set_input: tensor '%s' is not a graph input",
                            t->name ? t->name : "(unnamed)");
    if (!data) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_plan_set_input: data is NULL");
    if (bytes != t->bytes)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_plan_set_input: bytes is %zu but input '%s' needs %zu",
                            bytes, t->name ? t->name : "(unnamed)", t->bytes);
    const double t0 = qn_split_start();
    st = p->backend->ops->write(p->backend->self, p->pt[t->id].rt.mem, data, bytes);
    if (st == QUANTA_OK) p->pt[t->id].input_set = 1;
    qn_split_end(QN_SPLIT_INPUT, t0);
    return st;
}

/* Whether t keeps its memory after a run: an input, constant or buffer, or a node marked with quanta_graph_output
 * before planning (the plan-time mark decides: memory of tensors marked later may have been reused). */
static quanta_status output_kept(const quanta_plan *p, quanta_tensor *t, const char *fn) {
    if (!p->pt[t->id].output && qn_storage_root(t)->kind == QN_KIND_NODE)
        return qn_error_set(QUANTA_ERR_STATE, "%s: tensor %d was not marked with quanta_graph_output before planning",
                            fn, t->id);
    return QUANTA_OK;
}

/* Whether output t may be read into data now: `bytes` of it (all of it when whole). */
static quanta_status output_readable(const quanta_plan *p, quanta_tensor *t, const void *data, size_t bytes,
                                     int whole, const char *fn) {
    quanta_status st = plan_tensor_of(p, t, fn);
    if (st != QUANTA_OK) return st;
    if ((st = output_kept(p, t, fn)) != QUANTA_OK) return st;
    if (!data) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: data is NULL", fn);
    if (whole ? bytes != t->bytes : bytes > t->bytes)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: bytes is %zu but the tensor holds %zu", fn, bytes,
                            t->bytes);
    if (qn_storage_root(t)->kind == QN_KIND_NODE && !p->executed)
        return qn_error_set(QUANTA_ERR_STATE, "%s: the plan has not been executed", fn);
    return QUANTA_OK;
}

/* The first `bytes` of output t (all of it when whole). */
static quanta_status get_output(quanta_plan *p, quanta_tensor *t, void *data, size_t bytes, int whole, const char *fn) {
    quanta_status st = output_readable(p, t, data, bytes, whole, fn);
    if (st != QUANTA_OK) return st;
    const double t0 = qn_split_start();
    st = p->backend->ops->synchronize(p->backend->self);
    if (st == QUANTA_OK) st = p->backend->ops->read(p->backend->self, p->pt[t->id].rt.mem, data, bytes);
    qn_split_end(QN_SPLIT_OUTPUT, t0);
    return st;
}

/* On unless QUANTA_FUSED_CHECK=0 (read once, as QUANTA_CUDA_PINNED_READ=0). */
int qn_fused_check_on(void) {
    static atomic_int on = -1;
    int v = atomic_load_explicit(&on, memory_order_relaxed);
    if (v < 0) {
        const char *e = getenv("QUANTA_FUSED_CHECK");
        v = !(e && !strcmp(e, "0"));
        atomic_store_explicit(&on, v, memory_order_relaxed);
    }
    return v;
}

/* The arguments of a checked f32 read of all of t (count values) before its plan runs. */
static quanta_status f32_finite_args(const quanta_plan *p, const quanta_tensor *t, const float *data, size_t count,
                                     int *nonfinite, const char *fn) {
    if (!nonfinite) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: nonfinite is NULL", fn);
    *nonfinite = 0;
    quanta_status st = plan_tensor_of(p, t, fn);
    if (st != QUANTA_OK) return st;
    if (t->desc.dtype != QUANTA_F32)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: tensor %d is of dtype %d, not f32", fn, t->id,
                            (int)t->desc.dtype);
    if (count > SIZE_MAX / sizeof(float) || count * sizeof(float) != t->bytes)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: count %zu but the tensor holds %zu bytes", fn, count,
                            t->bytes);
    if (!data) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: data is NULL", fn);
    return QUANTA_OK;
}

/* Where the plan's run stands when its checked read starts. */
enum { RUN_UNKNOWN, RUN_SYNCED, RUN_QUEUED };

/* The view of t's count f32 values (ops->read_view), checked by the backend itself where it can
 * (ops->read_view_f32_checked: *state QN_FINITE_ALL lets the caller skip its scan). */
static quanta_status view_f32(const quanta_plan *p, const quanta_tensor *t, size_t count, const void **view,
                              qn_finite_state *state) {
    const qn_backend_ops *ops = p->backend->ops;
    *state = QN_FINITE_UNCHECKED;
    if (ops->read_view_f32_checked)
        return ops->read_view_f32_checked(p->backend->self, p->pt[t->id].rt.mem, count, view, state);
    return ops->read_view(p->backend->self, p->pt[t->id].rt.mem, count * sizeof(float), view);
}

/* The checked read itself. RUN_UNKNOWN: synchronize first (as quanta_plan_get_output). RUN_SYNCED: the
 * run's own synchronize just returned (nothing queued since: a second one would only repeat its round
 * trip). RUN_QUEUED: the run may still be going (execute with sync = 0): the view waits for it (read_view
 * is ordered after queued work), then synchronize reports the run's errors, before anything reaches data. */
static quanta_status read_f32_finite(quanta_plan *p, quanta_tensor *t, float *data, size_t count, int *nonfinite,
                                     int run) {
    const int queued = run == RUN_QUEUED;
    const size_t bytes = count * sizeof(float);
    const double t0 = qn_split_start();
    const qn_backend_ops *ops = p->backend->ops;
    void *self = p->backend->self;
    const void *view = NULL;
    qn_finite_state state = QN_FINITE_UNCHECKED;
    quanta_status st = run == RUN_UNKNOWN ? ops->synchronize(self) : QUANTA_OK;
    if (st == QUANTA_OK && ops->read_view && qn_fused_check_on()) st = view_f32(p, t, count, &view, &state);
    if (queued) { /* the run's own errors first (the view stays valid across synchronize) */
        quanta_status sy = ops->synchronize(self);
        if (st == QUANTA_OK) st = sy;
    }
    if (st == QUANTA_OK && view) {
        if (state == QN_FINITE_ALL) /* checked on the device: the copy alone */
            memcpy(data, view, bytes);
        else
            *nonfinite = qn_f32_copy_any_nonfinite(data, view, count);
        qn_split_end(QN_SPLIT_OUTPUT, t0);
    } else if (st == QUANTA_OK) { /* no view: the read, then a pass of its own (the split's check) */
        st = ops->read(self, p->pt[t->id].rt.mem, data, bytes);
        qn_split_end(QN_SPLIT_OUTPUT, t0);
        const double t1 = qn_split_start();
        if (st == QUANTA_OK) *nonfinite = qn_f32_any_nonfinite(data, count);
        qn_split_end(QN_SPLIT_CHECK, t1);
    } else {
        qn_split_end(QN_SPLIT_OUTPUT, t0);
    }
    return st;
}

quanta_status qn_plan_get_output_f32_finite(quanta_plan *p, quanta_tensor *t, float *data, size_t count,
                                            int *nonfinite) {
    static const char fn[] = "qn_plan_get_output_f32_finite";
    quanta_status st = f32_finite_args(p, t, data, count, nonfinite, fn);
    if (st == QUANTA_OK) st = output_readable(p, t, data, count * sizeof(float), 1, fn);
    return st == QUANTA_OK ? read_f32_finite(p, t, data, count, nonfinite, RUN_UNKNOWN) : st;
}

/* On when QUANTA_EXECUTE_READ=1 (read once). */
int qn_execute_read_on(void) {
    static atomic_int on = -1;
    return env_switch("QUANTA_EXECUTE_READ", &on);
}

quanta_status qn_plan_execute_read_f32_finite(quanta_plan *p, quanta_tensor *t, float *data, size_t count,
                                              int *nonfinite) {
    static const char fn[] = "qn_plan_execute_read_f32_finite";
    quanta_status st = f32_finite_args(p, t, data, count, nonfinite, fn);
    if (st == QUANTA_OK) st = output_kept(p, t, fn); /* executed or not */
    if (st != QUANTA_OK) return st;
    const int queued = qn_execute_read_on() && qn_fused_check_on() && p->backend->ops->read_view;
    if ((st = execute_timed(p, !queued))) return st;
    return read_f32_finite(p, t, data, count, nonfinite, queued ? RUN_QUEUED : RUN_SYNCED);
}

quanta_status qn_plan_execute_view_f32_finite(quanta_plan *p, quanta_tensor *t, size_t count, float *fallback,
                                              const float **view, int *nonfinite) {
    static const char fn[] = "qn_plan_execute_view_f32_finite";
    if (!view) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: view is NULL", fn);
    *view = NULL;
    quanta_status st = f32_finite_args(p, t, fallback, count, nonfinite, fn);
    if (st == QUANTA_OK) st = output_kept(p, t, fn);
    if (st != QUANTA_OK) return st;
    const qn_backend_ops *ops = p->backend->ops;
    if (!ops->read_view || !qn_fused_check_on()) { /* no view to lend: the copying form into fallback */
        if ((st = qn_plan_execute_read_f32_finite(p, t, fallback, count, nonfinite)) == QUANTA_OK) *view = fallback;
        return st;
    }
    if ((st = execute_timed(p, 1))) return st;
    const double t0 = qn_split_start();
    const void *v = NULL;
    qn_finite_state state = QN_FINITE_UNCHECKED;
    st = view_f32(p, t, count, &v, &state);
    qn_split_end(QN_SPLIT_OUTPUT, t0);
    if (st == QUANTA_OK && v) { /* the scan in place is a pass of its own: the split's check */
        const double t1 = qn_split_start();
        /* none where the backend found every value finite; where it found one, the scan is the answer */
        *nonfinite = state == QN_FINITE_ALL ? 0 : qn_f32_any_nonfinite(v, count);
        *view = v;
        qn_split_end(QN_SPLIT_CHECK, t1);
        return QUANTA_OK;
    }
    if (st != QUANTA_OK) return st;
    /* no view of this size (a staging buffer that could not grow): the run is done, so the plain read */
    st = read_f32_finite(p, t, fallback, count, nonfinite, RUN_SYNCED);
    if (st == QUANTA_OK) *view = fallback;
    return st;
}

quanta_status quanta_plan_get_output(quanta_plan *p, quanta_tensor *t, void *data, size_t bytes) {
    return get_output(p, t, data, bytes, 1, "quanta_plan_get_output");
}

quanta_status quanta_plan_get_output_prefix(quanta_plan *p, quanta_tensor *t, void *data, size_t bytes) {
    return get_output(p, t, data, bytes, 0, "quanta_plan_get_output_prefix");
}
