/*
 * cl_paged_attention.c — launches qn_paged_attention (kernels_cl/paged_attention.cl): one
 * work-item per (query, q head, sequence). The kernel checks the lengths and the block-table
 * entries it reads on the device (the reference's qn_paged_check rules, reported through the error
 * flag at the next synchronize), so nothing is read back: no queue drain per layer, and a paged
 * step can be recorded and replayed. Also the quantizing write_rows into q8 / fp8 pools
 * (qn_paged_kv_write).
 */

#include "cl_internal.h"
#include "op_table.h"

#define PAGED_MAXD 256 /* QN_PAGED_MAXD in the kernel: its private arrays */

bool qn_cl_paged_attention_supports(qn_cl *s, const qn_node *node) {
    (void)s;
    const qn_tensor *q = node->src[0];
    const int64_t D = q->desc.dims[3];
    return D >= 1 && D <= PAGED_MAXD && q->desc.dims[0] <= 65535 && q->desc.dims[1] <= 65535 &&
           node->src[1]->desc.dims[2] <= INT32_MAX && node->src[3]->desc.dims[1] <= INT32_MAX;
}

quanta_status qn_cl_paged_attention_run(qn_cl *s, const qn_node *node) {
    const qn_tensor *q = node->src[0], *k = node->src[1], *v = node->src[2], *tab = node->src[3], *lens = node->src[4];
    const qn_tensor *o = node->dst;
    const quanta_attention_params *pa = &node->params.attention;
    cl_int S = (cl_int)q->desc.dims[0], Hq = (cl_int)q->desc.dims[1], T = (cl_int)q->desc.dims[2];
    cl_int D = (cl_int)q->desc.dims[3], Hkv = (cl_int)k->desc.dims[1], R = (cl_int)k->desc.dims[2];
    cl_int MB = (cl_int)tab->desc.dims[1], bs = node->params.block_size;
    if (S == 0 || Hq == 0 || T == 0) return QUANTA_OK;
    cl_mem qm = qn_cl_mem(q), km = qn_cl_mem(k), vm = qn_cl_mem(v), tm = qn_cl_mem(tab), lm = qn_cl_mem(lens);
    cl_mem om = qn_cl_mem(o);
    cl_ulong qo = q->mem.offset, ko = k->mem.offset, vo = v->mem.offset, to = tab->mem.offset, lo = lens->mem.offset;
    cl_ulong oo = o->mem.offset;
    cl_int qdt = q->desc.dtype, kdt = k->desc.dtype, vdt = v->desc.dtype, odt = o->desc.dtype;
    cl_int causal = pa->causal != 0, window = pa->window > 0 ? pa->window : 0;
    float scale = pa->scale; /* infer resolved 0 to 1/sqrt(D) */
    cl_int nblk = R / bs;    /* blocks in the pool: the kernel checks the visible table entries against it */
    qn_cl_arg a[] = {QA(qm), QA(qo), QA(qdt), QA(km), QA(ko), QA(kdt), QA(vm), QA(vo), QA(vdt), QA(tm), QA(to),
                     QA(lm), QA(lo), QA(om), QA(oo), QA(odt), QA(S), QA(Hq), QA(Hkv), QA(T), QA(D), QA(R), QA(bs),
                     QA(MB), QA(scale), QA(causal), QA(window), QA(nblk), QA(s->err_flag)};
    quanta_status st = qn_cl_set_args(s, QK_PAGED_ATTENTION, a, (int)(sizeof a / sizeof a[0]));
    /* On a CPU a one-item group: PoCL keeps every item's private arrays (2 KiB) for the whole
     * group and its own choice overflows the worker's stack. GPUs choose their own. */
    size_t g[3] = {(size_t)T, (size_t)Hq, (size_t)S}, l[3] = {1, 1, 1};
    const size_t *lp = (s->dev.type & CL_DEVICE_TYPE_CPU) ? l : NULL;
    if (st == QUANTA_OK) st = qn_cl_launch(s, QK_PAGED_ATTENTION, "paged_attention", 3, g, lp);
    return st;
}

/* write_rows into a q8 / fp8_e4m3 pool (a quantized KV cache): qn_paged_kv_write, one work-item
 * per written row; start (one, or one per row) is checked on the device (the error flag, as for
 * write_rows). */
quanta_status qn_cl_kv_write_run(qn_cl *s, const qn_node *node) {
    const qn_tensor *dst = node->src[0], *sr = node->src[1], *start = node->src[2], *out = node->dst;
    const int64_t *dd = dst->desc.dims, *sd = sr->desc.dims;
    if (qn_cl_mem(out) != qn_cl_mem(dst) || out->mem.offset != dst->mem.offset) { /* out of place: carry dst over */
        cl_int err = clEnqueueCopyBuffer(s->queue, qn_cl_mem(dst), qn_cl_mem(out), dst->mem.offset, out->mem.offset,
                                         dst->bytes, 0, NULL, NULL);
        if (err != CL_SUCCESS) return qn_cl_error(err, "write_rows (clEnqueueCopyBuffer)");
    }
    size_t n = (size_t)(sd[0] * sd[1] * sd[2]);
    if (n == 0) return QUANTA_OK;
    cl_mem sm = qn_cl_mem(sr), om = qn_cl_mem(out), stm = qn_cl_mem(start);
    cl_ulong so = sr->mem.offset, oo = out->mem.offset, sto = start->mem.offset, ns = (cl_ulong)start->desc.dims[0];
    cl_ulong BH = (cl_ulong)(dd[0] * dd[1]), T = (cl_ulong)sd[2], Nmax = (cl_ulong)dd[2];
    cl_int sdt = sr->desc.dtype, ddt = out->desc.dtype, D = (cl_int)dd[3];
    qn_cl_arg a[] = {QA(sm), QA(so),   QA(sdt), QA(om),  QA(oo),  QA(ddt), QA(BH),
                     QA(T),  QA(Nmax), QA(D),   QA(stm), QA(sto), QA(ns),  QA(s->err_flag)};
    quanta_status st = qn_cl_set_args(s, QK_PAGED_KV_WRITE, a, (int)(sizeof a / sizeof a[0]));
    return st != QUANTA_OK ? st : qn_cl_launch(s, QK_PAGED_KV_WRITE, "write_rows (quantized KV)", 1, &n, NULL);
}
