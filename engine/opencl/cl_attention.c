/*
 * cl_attention.c — launches qn_attention (kernels_cl/attention.cl): tile sizes from the
 * device's local memory, split-KV when too few work-groups would cover the device (decode
 * against a long cache), and the combine kernel. Extra memory: the split partials only,
 * B*Hq*Nq*splits*(Dv+1) floats, booked on the memory account — O(N), never O(Nq*Nk).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cl_internal.h"

#define ATT_WG 64
#define ATT_MAXD 256
#define DEC_WG 128 /* qn_attention_dec (attention_gpu.cl): QN_DEC_WG, QN_DEC_GMAX */
#define DEC_GMAX 8

/* qn_attention_dec's local memory (qs, red, pv, accs), or 0 where it does not apply: the GPU
 * class at one query (decode), G <= DEC_GMAX query heads per kv head, head dims in fours with
 * Dv / 4 <= DEC_WG. QUANTA_OPENCL_ATTN_GPU=0 keeps qn_attention there. */
static size_t dec_local(const qn_cl *s, int64_t Nq, int64_t G, int64_t D, int64_t Dv) {
    const char *e = getenv("QUANTA_OPENCL_ATTN_GPU");
    if (!s->gpu_class || (e && !strcmp(e, "0")) || Nq != 1 || G < 1 || G > DEC_GMAX || D % 4 || Dv % 4 ||
        Dv / 4 > DEC_WG || s->dev.max_wg < DEC_WG)
        return 0;
    const int64_t kl = DEC_WG / (Dv / 4);
    const size_t bytes = (size_t)(G * D + 2 * G * DEC_WG + kl * G * Dv) * 4;
    return bytes + 1024 <= s->dev.local_mem ? bytes : 0;
}

/* qn_attention_dec1 (attention_gpu.cl: a group of DEC1_WG per query head, no key split) on the GPU class unless
 * QUANTA_OPENCL_ATTN_DEC1=0 (H100 17:13: tg128 1B 649 -> 753 tok/s, Gemma 544 -> 706, the same greedy text;
 * bench/NOTES.md section 1 cldec14): one query, D % 16 == 0, Dv in fours with Dv / 4 <= DEC1_WG, at most DEC1_MAXK
 * keys (its scores sit in local memory; a longer cache wants the key splits of qn_attention_dec). Its local memory
 * in bytes (qs, sc, red, accs), or 0. */
#define DEC1_WG 256
#define DEC1_U 4
#define DEC1_MAXK 1024
static size_t dec1_local(const qn_cl *s, int64_t Nq, int64_t D, int64_t Dv, int64_t Nk, size_t lb[4]) {
    const char *e = getenv("QUANTA_OPENCL_ATTN_DEC1");
    if (!s->gpu_class || (e && !strcmp(e, "0")) || Nq != 1 || D % 16 || D < 16 || Dv % 4 || Dv / 4 > DEC1_WG ||
        Nk > DEC1_MAXK || Nk < 1 || s->dev.max_wg < DEC1_WG)
        return 0;
    lb[0] = (size_t)D * 4, lb[1] = (size_t)Nk * 4, lb[2] = (size_t)DEC1_U * DEC1_WG * 4, lb[3] = (size_t)4 * DEC1_WG * 4;
    const size_t bytes = lb[0] + lb[1] + lb[2] + lb[3];
    return bytes + 1024 <= s->dev.local_mem ? bytes : 0;
}

/* qn_attention_pf (attention_pf_gpu.cl), the GPU class's prefill kernel: its rows per group (64 where both head
 * dims are at most 64, 32 up to 128, 16 up to 256), or 0 where it does not apply (one query row, head dims past 256
 * or not in fours, too little local memory); lb its local buffers (Qt, KV, Pt, red, row max / sum / rescale).
 * On by default on NVIDIA's GPUs (measured there: H100 2026-12-06, 1B pp512 +24% over the int8 GEMM alone,
 * conformance 333/333); QUANTA_OPENCL_ATTN_PF=0 off, =1 on for any device of the GPU class. */
#define PF_WG 128
#define PF_BK 32
static int pf_rows(const qn_cl *s, int64_t Nq, int64_t D, int64_t Dv, size_t lb[7]) {
    const char *e = getenv("QUANTA_OPENCL_ATTN_PF");
    const int on = e && *e ? !strcmp(e, "1") : qn_cl_nvidia_gpu(&s->dev);
    if (!s->gpu_class || !on || Nq < 2 || D % 4 || Dv % 4 || D > 256 || Dv > 256 || s->dev.max_wg < PF_WG)
        return 0;
    const int64_t wide = D > Dv ? D : Dv, bq = wide <= 64 ? 64 : wide <= 128 ? 32 : 16;
    const int64_t dc = D < 128 ? D : 128, vc = Dv < 128 ? Dv : 128; /* K and V pass in chunks of 128 dims */
    const int64_t kv = dc * (PF_BK + 4) > PF_BK * vc ? dc * (PF_BK + 4) : PF_BK * vc;
    const size_t b[7] = {(size_t)(D * (bq + 4)) * 4, (size_t)kv * 4, (size_t)(PF_BK * (bq + 4)) * 4, (size_t)(16 * bq) * 4,
                         (size_t)bq * 4, (size_t)bq * 4, (size_t)bq * 4};
    size_t total = 0;
    for (int i = 0; i < 7; i++) total += (lb[i] = b[i]);
    return total + 1024 <= s->dev.local_mem ? (int)bq : 0;
}

/* Tile sizes that fit the device's local memory; false when none does. */
static bool tiles(const qn_cl *s, int64_t D, int64_t Dv, int *bq, int *bk) {
    static const int cand[][2] = {{16, 32}, {16, 16}, {8, 16}, {8, 8}};
    for (size_t i = 0; i < sizeof cand / sizeof cand[0]; i++) {
        int64_t q = cand[i][0], k = cand[i][1];
        uint64_t bytes = (uint64_t)(q * D + k * (D + 1) + k * Dv + q * k + 3 * q) * 4; /* keys D + 1 apart */
        if (bytes + 1024 <= s->dev.local_mem) {
            *bq = (int)q;
            *bk = (int)k;
            return true;
        }
    }
    return false;
}

bool qn_cl_attention_supports(qn_cl *s, const qn_node *node) {
    const qn_tensor *q = node->src[0], *k = node->src[1], *v = node->src[2];
    int64_t D = q->desc.dims[3], Dv = v->desc.dims[3], Hq = q->desc.dims[1];
    if (D < 1 || Dv < 1 || D > ATT_MAXD || Dv > ATT_MAXD) return false;
    if (q->desc.dims[2] > INT32_MAX / 2 || k->desc.dims[2] > INT32_MAX / 2 || Hq > 65535) return false;
    if (s->dev.max_wg < ATT_WG) return false;
    int bq, bk;
    return tiles(s, D, Dv, &bq, &bk);
}

/* The fused combine's counters (made zero on first use, kept until close, never moved: a recording's
 * kernels hold the buffer), or NULL when they cannot be had (the combine is then its own launch). */
static cl_mem attn_counters(qn_cl *s) {
    if (s->attn_cnt) return s->attn_cnt;
    const size_t bytes = QN_CL_ATTN_COUNTERS * sizeof(cl_int);
    cl_int *zero = calloc(QN_CL_ATTN_COUNTERS, sizeof *zero);
    if (!zero || qn_mem_reserve(s->stats, bytes, "opencl attention: split counters") != QUANTA_OK) {
        qn_error_clear();
        free(zero);
        return NULL;
    }
    cl_int err;
    /* made by copy at creation, not by an enqueued write: works inside a capture too */
    s->attn_cnt = clCreateBuffer(s->ctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, bytes, zero, &err);
    free(zero);
    if (err != CL_SUCCESS) {
        s->attn_cnt = NULL;
        qn_mem_release(s->stats, bytes);
    }
    return s->attn_cnt;
}

quanta_status qn_cl_attention_run(qn_cl *s, const qn_node *node) {
    const qn_tensor *q = node->src[0], *k = node->src[1], *v = node->src[2], *o = node->dst;
    const qn_tensor *mask = node->nsrc > 3 ? node->src[3] : NULL, *lens = node->nsrc > 4 ? node->src[4] : NULL;
    const quanta_attention_params *pa = &node->params.attention;
    cl_int B = (cl_int)q->desc.dims[0], Hq = (cl_int)q->desc.dims[1], Nq = (cl_int)q->desc.dims[2];
    cl_int D = (cl_int)q->desc.dims[3], Hkv = (cl_int)k->desc.dims[1], Nk = (cl_int)k->desc.dims[2];
    cl_int Dv = (cl_int)v->desc.dims[3];
    if (B == 0 || Hq == 0 || Nq == 0) return QUANTA_OK;
    int bq, bk;
    if (!tiles(s, D, Dv, &bq, &bk))
        return qn_error_set(QUANTA_ERR_UNSUPPORTED, "opencl attention: head dims %d/%d do not fit local memory", D, Dv);
    /* kv_lens are checked by the kernels on the device (reported at synchronize): reading
     * them here would drain the queue once per layer and step. */
    const int G = Hq / Hkv;
    const int rows_kernel = qn_cl_tune_attention_rows(s, Nq == 1) && D % 16 == 0 && Dv % 16 == 0;
    size_t d1l[4];
    if (!rows_kernel && dec1_local(s, Nq, D, Dv, Nk, d1l)) {
        cl_mem qm = qn_cl_mem(q), km = qn_cl_mem(k), vm = qn_cl_mem(v), om = qn_cl_mem(o);
        cl_mem mm = mask ? qn_cl_mem(mask) : qm, lm = lens ? qn_cl_mem(lens) : qm;
        cl_ulong qo = q->mem.offset, ko = k->mem.offset, vo = v->mem.offset, oo = o->mem.offset;
        cl_ulong mo = mask ? mask->mem.offset : 0, lo = lens ? lens->mem.offset : 0;
        cl_int qdt = q->desc.dtype, kdt = k->desc.dtype, vdt = v->desc.dtype, odt = o->desc.dtype;
        cl_int mmode = mask ? (mask->desc.ndim == 3 ? 2 : 1) : 0, has_lens = lens != NULL;
        const float scale = pa->scale != 0.0f ? pa->scale : 1.0f / sqrtf((float)D);
        const float scale_log2 = scale * 1.4426950408889634f;
        const cl_int window = pa->window > 0 ? pa->window : 0;
        qn_cl_arg a[] = {QA(qm), QA(qo), QA(qdt), QA(km), QA(ko), QA(kdt), QA(vm), QA(vo), QA(vdt), QA(mm), QA(mo),
                         QA(mmode), QA(lm), QA(lo), QA(has_lens), QA(om), QA(oo), QA(odt), QA(Hq), QA(Hkv), QA(Nk),
                         QA(D), QA(Dv), QA(scale_log2), QA(window), QA(s->err_flag), QA_LOCAL(d1l[0]),
                         QA_LOCAL(d1l[1]), QA_LOCAL(d1l[2]), QA_LOCAL(d1l[3])};
        quanta_status st = qn_cl_set_args(s, QK_ATTENTION_DEC1, a, (int)(sizeof a / sizeof a[0]));
        size_t g = (size_t)B * (size_t)Hq * DEC1_WG, l = DEC1_WG;
        return st != QUANTA_OK ? st : qn_cl_launch(s, QK_ATTENTION_DEC1, "attention (decode, per head)", 1, &g, &l);
    }
    const size_t dec = rows_kernel ? 0 : dec_local(s, Nq, G, D, Dv);
    size_t pfl[7];
    const int pf = rows_kernel || dec ? 0 : pf_rows(s, Nq, D, Dv, pfl);
    const size_t rows = (size_t)G * (size_t)Nq, rb = pf ? (size_t)pf : (size_t)bq;
    const size_t nblocks = dec ? 1 : (rows + rb - 1) / rb;
    /* Parallel units: work-groups of the tiled kernels, work-items of the row kernel. */
    const size_t groups = (rows_kernel ? rows : nblocks) * (size_t)B * (size_t)Hkv;

    /* Split the keys when the grid would leave compute units idle. */
    size_t target = (size_t)(s->dev.info.compute_units > 0 ? s->dev.info.compute_units : 1) * (rows_kernel ? 4 : 2);
    cl_int nsplit = 1, split_len = Nk;
    /* Keys a split takes at least: 256, but 64 on the GPU class, where a decode step at a few hundred
     * keys otherwise ran as 8-16 work-groups (one or two splits per kv head) on 132 compute units
     * (H100; Gemma 3's one kv head as 1-2; the combine costs one small launch). 64 is what the H100
     * run of 2026-12-06 06:37 had; 32 (more splits for Gemma) is unmeasured: QUANTA_OPENCL_SPLIT_MIN=32.
     * QUANTA_OPENCL_SPLIT_MIN=256 restores the old floor. */
    size_t split_min = s->gpu_class ? 64 : 256;
    const char *sm = getenv("QUANTA_OPENCL_SPLIT_MIN");
    if (sm && atoi(sm) >= 16) split_min = (size_t)atoi(sm);
    /* qn_attention_pf splits the keys, in whole 32-key tiles, where its row blocks leave compute units idle: by
     * default on NVIDIA's GPUs (H100 17:13: Gemma, one kv head, 64 groups for 132 SMs: pp512 32.2k -> 41.7k, 1B
     * 23.3k -> 23.9k; conformance with every case split in 3 333/333); QUANTA_OPENCL_PF_SPLIT=0 off, =1 on for any
     * device of the GPU class */
    const char *pe = getenv("QUANTA_OPENCL_PF_SPLIT");
    const int pf_split = pf && (pe && *pe ? !strcmp(pe, "1") : qn_cl_nvidia_gpu(&s->dev));
    if (pf_split) bk = PF_BK;
    if (groups < target && (size_t)Nk >= 2 * split_min && (!pf || pf_split)) {
        size_t want = (target + groups - 1) / groups, maxs = (size_t)Nk / split_min;
        if (want > maxs) want = maxs;
        if (want > 64) want = 64;
        if (want > 1) {
            split_len = (cl_int)(((size_t)Nk + want - 1) / want);
            split_len = (split_len + bk - 1) / bk * bk;
            nsplit = (Nk + split_len - 1) / split_len;
        }
    }
    const char *e = getenv("QUANTA_OPENCL_SPLITKV");
    if (e && atoi(e) > 0 && Nk > 0 && (!pf || pf_split)) {
        int want = atoi(e);
        split_len = (Nk + want - 1) / want;
        split_len = (split_len + bk - 1) / bk * bk;
        nsplit = (Nk + split_len - 1) / split_len;
    }
    if (split_len < 1) split_len = bk;

    qn_cl_scratch part = {0};
    quanta_status st;
    const size_t out_rows = (size_t)B * (size_t)Hq * (size_t)Nq;
    if (nsplit > 1) {
        st = qn_cl_scratch_alloc(s, out_rows * (size_t)nsplit * (size_t)(Dv + 1) * 4,
                                 "opencl attention: split-KV partials", &part);
        if (st != QUANTA_OK) return st;
    }
    cl_mem qm = qn_cl_mem(q), km = qn_cl_mem(k), vm = qn_cl_mem(v), om = qn_cl_mem(o);
    cl_mem mm = mask ? qn_cl_mem(mask) : qm, lm = lens ? qn_cl_mem(lens) : qm, pm = part.mem ? part.mem : om;
    cl_ulong qo = q->mem.offset, ko = k->mem.offset, vo = v->mem.offset, oo = o->mem.offset;
    cl_ulong mo = mask ? mask->mem.offset : 0, lo = lens ? lens->mem.offset : 0, po = 0;
    cl_int qdt = q->desc.dtype, kdt = k->desc.dtype, vdt = v->desc.dtype, odt = o->desc.dtype;
    cl_int mmode = mask ? (mask->desc.ndim == 3 ? 2 : 1) : 0, has_lens = lens != NULL;
    float scale = pa->scale != 0.0f ? pa->scale : 1.0f / sqrtf((float)D);
    float scale_log2 = scale * 1.4426950408889634f;
    cl_int causal = pa->causal != 0, window = pa->window > 0 ? pa->window : 0, BQ = bq, BK = bk;
    /* the split combine inside qn_attention_dec (its last group per kv head; attention_gpu.cl says what it assumes):
     * one launch fewer per layer, but the merge then runs in one group after the others, its partial loads one after
     * another: off (H100 10:38, Gemma tg128 403 tok/s with the combine apart against 364-375 with it inside; 1B 541
     * against 492-552). QUANTA_OPENCL_ATTN_FUSED=1 takes it. */
    const char *fe = getenv("QUANTA_OPENCL_ATTN_FUSED");
    cl_mem cnt = dec && nsplit > 1 && fe && !strcmp(fe, "1") && (size_t)B * (size_t)Hkv <= QN_CL_ATTN_COUNTERS
                     ? attn_counters(s)
                     : NULL;
    cl_int fused = cnt != NULL;
    /* qn_attention_dec's loads ahead of their FMAs (bit-identical; default 2, =0 off; =1: 8 K pieces
     * and 4 V keys in flight an item, =2: 16 and 8) */
    const char *ae = getenv("QUANTA_OPENCL_ATTN_AHEAD");
    cl_int ahead = ae && (!strcmp(ae, "0") || !strcmp(ae, "1")) ? atoi(ae) : 2; /* 2: Gemma 493 vs 315 tok/s (H100) */
    if (!cnt) cnt = s->err_flag; /* any valid buffer: the kernel touches none without fused */
    if (dec) {
        const size_t kl = DEC_WG / ((size_t)Dv / 4);
        qn_cl_arg a[] = {QA(qm), QA(qo), QA(qdt), QA(km), QA(ko), QA(kdt), QA(vm), QA(vo), QA(vdt), QA(mm), QA(mo),
                         QA(mmode), QA(lm), QA(lo), QA(has_lens), QA(om), QA(oo), QA(odt), QA(pm), QA(po), QA(Hq),
                         QA(Hkv), QA(Nk), QA(D), QA(Dv), QA(scale_log2), QA(window), QA(nsplit), QA(split_len),
                         QA(cnt), QA(fused), QA(ahead), QA(s->err_flag), QA_LOCAL((size_t)G * D * 4), QA_LOCAL((size_t)G * DEC_WG * 4),
                         QA_LOCAL((size_t)G * DEC_WG * 4), QA_LOCAL(kl * (size_t)G * Dv * 4)};
        st = qn_cl_set_args(s, QK_ATTENTION_DEC, a, (int)(sizeof a / sizeof a[0]));
        size_t g[3] = {DEC_WG, (size_t)B * (size_t)Hkv, (size_t)nsplit}, l[3] = {DEC_WG, 1, 1};
        if (st == QUANTA_OK) st = qn_cl_launch(s, QK_ATTENTION_DEC, "attention (decode, GPU)", 3, g, l);
    } else if (pf) {
        const cl_int BQp = pf;
        qn_cl_arg a[] = {QA(qm), QA(qo), QA(qdt), QA(km), QA(ko), QA(kdt), QA(vm), QA(vo), QA(vdt), QA(mm), QA(mo),
                         QA(mmode), QA(lm), QA(lo), QA(has_lens), QA(om), QA(oo), QA(odt), QA(pm), QA(po), QA(Hq),
                         QA(Hkv), QA(Nq), QA(Nk), QA(D), QA(Dv), QA(scale_log2), QA(causal), QA(window), QA(BQp),
                         QA(nsplit), QA(split_len), QA(s->err_flag),
                         QA_LOCAL(pfl[0]), QA_LOCAL(pfl[1]), QA_LOCAL(pfl[2]), QA_LOCAL(pfl[3]), QA_LOCAL(pfl[4]),
                         QA_LOCAL(pfl[5]), QA_LOCAL(pfl[6])};
        st = qn_cl_set_args(s, QK_ATTENTION_PF, a, (int)(sizeof a / sizeof a[0]));
        size_t g[3] = {(rows + (size_t)pf - 1) / (size_t)pf * PF_WG, (size_t)B * (size_t)Hkv, (size_t)nsplit},
               l[3] = {PF_WG, 1, 1};
        if (st == QUANTA_OK) st = qn_cl_launch(s, QK_ATTENTION_PF, "attention (prefill, GPU)", 3, g, l);
    } else if (rows_kernel) {
        qn_cl_arg a[] = {QA(qm), QA(qo), QA(qdt), QA(km), QA(ko), QA(kdt), QA(vm), QA(vo), QA(vdt), QA(mm), QA(mo),
                         QA(mmode), QA(lm), QA(lo), QA(has_lens), QA(om), QA(oo), QA(odt), QA(pm), QA(po), QA(B),
                         QA(Hq), QA(Hkv), QA(Nq), QA(Nk), QA(D), QA(Dv), QA(scale_log2), QA(causal), QA(window),
                         QA(nsplit), QA(split_len), QA(s->err_flag)};
        st = qn_cl_set_args(s, QK_ATTENTION_ROWS, a, (int)(sizeof a / sizeof a[0]));
        /* An explicit small group: PoCL keeps every item's private arrays (2 KiB here) for the
         * whole group, and its own choice (up to 4096 items) overflows the worker's stack. */
        size_t g[3] = {rows, (size_t)B * (size_t)Hkv, (size_t)nsplit}, l[3] = {8, 1, 1};
        if (st == QUANTA_OK) st = qn_cl_launch(s, QK_ATTENTION_ROWS, "attention (rows)", 3, g, l);
    } else {
        qn_cl_arg a[] = {QA(qm), QA(qo), QA(qdt), QA(km), QA(ko), QA(kdt), QA(vm), QA(vo), QA(vdt), QA(mm), QA(mo),
                         QA(mmode), QA(lm), QA(lo), QA(has_lens), QA(om), QA(oo), QA(odt), QA(pm), QA(po), QA(B), QA(Hq),
                         QA(Hkv), QA(Nq), QA(Nk), QA(D), QA(Dv), QA(scale_log2), QA(causal), QA(window), QA(BQ), QA(BK),
                         QA(nsplit), QA(split_len), QA(s->err_flag),
                         QA_LOCAL((size_t)bq * D * 4), QA_LOCAL((size_t)bk * (D + 1) * 4), QA_LOCAL((size_t)bk * Dv * 4),
                         QA_LOCAL((size_t)bq * bk * 4), QA_LOCAL((size_t)bq * 4), QA_LOCAL((size_t)bq * 4),
                         QA_LOCAL((size_t)bq * 4)};
        st = qn_cl_set_args(s, QK_ATTENTION, a, (int)(sizeof a / sizeof a[0]));
        size_t g[3] = {nblocks * ATT_WG, (size_t)B * (size_t)Hkv, (size_t)nsplit}, l[3] = {ATT_WG, 1, 1};
        if (st == QUANTA_OK) st = qn_cl_launch(s, QK_ATTENTION, "attention", 3, g, l);
    }
    if (st == QUANTA_OK && nsplit > 1 && !fused) {
        cl_ulong nr = out_rows;
        qn_cl_arg c[] = {QA(part.mem), QA(po), QA(om), QA(oo), QA(odt), QA(nr), QA(Dv), QA(nsplit)};
        st = qn_cl_set_args(s, QK_ATTN_COMBINE, c, 8);
        size_t gc = out_rows * (size_t)Dv, lc = 64;
        if (st == QUANTA_OK) st = qn_cl_launch(s, QK_ATTN_COMBINE, "attention (split-KV combine)", 1, &gc, &lc);
    }
    qn_cl_scratch_free(s, &part);
    return st;
}
