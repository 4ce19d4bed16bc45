/* attention.c — conformance entry of attention: softmax(scale·q·kᵀ + masks)·v over q [b,hq,nq,d]
 * and k, v [b,hkv,nk,d], with causal/window/u8 masks, per-sequence kv lengths and GQA. */
#include "op_entry.h"

static const qc_key keys[] = {
    {"b", QC_K_I64, QC_OFF(b), "1", 1, QC_DIM_MAX, "batch"},
    {"hq", QC_K_I64, QC_OFF(hq), "4", 1, QC_DIM_MAX, "query heads (a multiple of hkv)"},
    {"hkv", QC_K_I64, QC_OFF(hkv), "4", 1, QC_DIM_MAX, "key/value heads; hq/hkv is the GQA ratio"},
    {"nq", QC_K_I64, QC_OFF(nq), "16", 1, QC_DIM_MAX, "queries per sequence; 1 = decode"},
    {"nk", QC_K_I64, QC_OFF(nk), "16", 1, QC_DIM_MAX, "keys per sequence"},
    {"d", QC_K_I64, QC_OFF(d), "64", 1, 4096, "head dim"},
    {"causal", QC_K_I32, QC_OFF(causal), "0", 0, 1, "causal masking (bottom-right aligned)"},
    {"window", QC_K_I32, QC_OFF(window), "0", 0, 1 << 30, "sliding window in keys (0 = none)"},
    {"mask", QC_K_I32, QC_OFF(mask), "0", 0, 2, "u8 mask: 0 none, 1 [nq,nk], 2 [b,nq,nk] (~30% of keys hidden)"},
    {"kvlens", QC_K_I32, QC_OFF(kvlens), "0", 0, 1, "random per-sequence key lengths in [1,nk] (i32 [b])"},
    {"scale", QC_K_F32, QC_OFF(scale), "0", 0, 0, "score scale; 0 = 1/sqrt(d)"},
    {"dtype", QC_K_ACT, QC_OFF(dtype), "f32", 0, 0, "q/k/v and result dtype"},
    QC_KEYS_END};

static int validate(const qc_case *c, char *err, size_t errlen) {
    if (qc_check_attention(c, err, errlen)) return -1;
    int64_t q[4] = {c->b, c->hq, c->nq, c->d}, kv[4] = {c->b, c->hkv, c->nk, c->d};
    int64_t s[4] = {c->b, c->hq, c->nq, c->nk};
    if (qc_check_elems("q", q, 4, err, errlen) || qc_check_elems("k", kv, 4, err, errlen) ||
        qc_check_elems("scores", s, 4, err, errlen))
        return -1;
    return 0;
}

static int64_t elements(const qc_case *c) {
    return 2 * c->b * c->hq * c->nq * c->d + 2 * c->b * c->hkv * c->nk * c->d + (c->mask ? c->b * c->nq * c->nk : 0) +
           c->b;
}

/* q, k, v ~ N(0, 1); mask: ~30% of keys hidden; kv_lens in [1, nk], one sequence at nk. */
static int make(const qc_case *c, qc_data *d, qc_rng *r, char *err, size_t errlen) {
    int64_t qd[4] = {c->b, c->hq, c->nq, c->d}, kd[4] = {c->b, c->hkv, c->nk, c->d};
    quanta_tensor_desc q = qc_desc(c->dtype, 4, qd), kv = qc_desc(c->dtype, 4, kd);
    d->out_desc = q;
    if (qc_slot_fill(d, 0, "q", QC_ROLE_INPUT, &q, r, 0, 1, err, errlen) ||
        qc_slot_fill(d, 1, "k", QC_ROLE_INPUT, &kv, r, 0, 1, err, errlen) ||
        qc_slot_fill(d, 2, "v", QC_ROLE_INPUT, &kv, r, 0, 1, err, errlen))
        return -1;
    d->count = 5;
    if (c->mask) {
        int64_t md[3] = {c->b, c->nq, c->nk};
        quanta_tensor_desc m = c->mask == 2 ? qc_desc(QUANTA_U8, 3, md) : qc_desc(QUANTA_U8, 2, md + 1);
        if (qc_slot(d, 3, "mask", QC_ROLE_INPUT, &m, err, errlen)) return -1;
        uint8_t *p = d->t[3].data;
        /* ~30% hidden; nonzero values other than 1 also mean visible */
        for (size_t j = 0; j < d->t[3].bytes; j++)
            p[j] = qc_rng_uniform(r) < 0.3 ? 0 : (uint8_t)(1 + qc_rng_below(r, 255));
    }
    if (c->kvlens) {
        if (qc_i32_slot(d, 4, "kv_lens", c->b, err, errlen)) return -1;
        int32_t *p = d->t[4].data;
        for (int64_t j = 0; j < c->b; j++) p[j] = (int32_t)(1 + qc_rng_below(r, c->nk));
        p[0] = (int32_t)c->nk; /* one full-length sequence, the others shorter */
        if (c->b == 1 && c->nk > 1) p[0] = (int32_t)(1 + qc_rng_below(r, c->nk));
    }
    return 0;
}

static quanta_status build(quanta_graph *g, const qc_case *c, quanta_tensor *const *t, quanta_tensor **y) {
    quanta_attention_params p = {c->scale, c->causal, c->window};
    return quanta_attention(g, t[0], t[1], t[2], t[3], t[4], &p, y);
}

typedef struct flags {
    int32_t causal, window, mask, kvlens, gqa;
} flags;

/* Rotated through the shape classes: every flag with every GQA ratio 1/4/8. */
static const flags variants[] = {
    {0, 0, 0, 0, 1}, {1, 0, 0, 0, 4}, {1, 16, 0, 0, 8}, {0, 0, 1, 0, 1},
    {0, 0, 2, 1, 4}, {1, 0, 1, 1, 8}, {0, 0, 0, 1, 1}, {1, 7, 2, 0, 4},
};
#define NVAR (sizeof variants / sizeof variants[0])

static void one(qc_gen *g, quanta_dtype t, int64_t d, int64_t b, int64_t hkv, int64_t nq, int64_t nk, const flags *f) {
    qc_case c;
    qc_case_defaults(QN_OP_ATTENTION, &c);
    c.dtype = t;
    c.d = d;
    c.b = b;
    c.hkv = hkv;
    c.hq = hkv * f->gqa;
    c.nq = nq;
    c.nk = nk;
    c.causal = f->causal;
    c.window = f->window;
    c.mask = f->mask;
    c.kvlens = f->kvlens;
    qc_gen_add(g, &c);
}

/* f32/f16/bf16 × head dims × prefill, decode, one key, tiny; a long class over 8192 keys. */
static void generate(qc_gen *g, bool quick) {
    if (quick) {
        static const int64_t dims[] = {64, 80, 128, 13};
        for (size_t i = 0; i < NVAR; i++) {
            quanta_dtype t = qc_acts[i % 3];
            int64_t d = dims[i % 4];
            if (i % 2 == 0) one(g, t, d, 2, 1, 19, 37, &variants[i]); /* prefill, odd */
            else one(g, t, d, 1, 2, 1, 77, &variants[i]);             /* decode */
        }
        return;
    }
    static const int64_t dims[] = {64, 80, 96, 128, 256, 5, 13, 40};
    size_t v = 0;
    for (int ti = 0; ti < 3; ti++)
        for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
            int64_t d = dims[di];
            for (int r = 0; r < 2; r++) { /* two flag variants per class */
                one(g, qc_acts[ti], d, 2, 2, 37, 37, &variants[v++ % NVAR]);  /* prefill square */
                one(g, qc_acts[ti], d, 1, 2, 19, 129, &variants[v++ % NVAR]); /* prefill on a cache */
                one(g, qc_acts[ti], d, 2, 1, 1, 129, &variants[v++ % NVAR]);  /* decode */
                one(g, qc_acts[ti], d, 1, 2, 3, 1, &variants[v++ % NVAR]);    /* one key */
                one(g, qc_acts[ti], d, 1, 1, 1, 1, &variants[v++ % NVAR]);    /* tiny */
            }
        }
    /* Long sequences: 8192 keys, decode and a short prefill chunk. */
    static const int64_t long_dims[] = {64, 128};
    for (int ti = 0; ti < 3; ti++)
        for (int di = 0; di < 2; di++) {
            one(g, qc_acts[ti], long_dims[di], 1, 2, 1, 8192, &variants[v++ % NVAR]);
            one(g, qc_acts[ti], long_dims[di], 1, 1, 16, 8192, &variants[v++ % NVAR]);
        }
    /* Decode rows for CUDA's decode-rows kernel and its short form (QUANTA_CUDA_DEC_SHORT=1: at most 4 folded rows;
     * f32 at every head dim it has, f16/bf16 at 256): the 7B's shape (8 KV heads of 4 query heads, 136 keys: a
     * cluster of 5 splits), Gemma's (1 KV head of 4 at 256; 300 keys: 8 splits, two key passes per warp), and two
     * queries of one query head each; GQA 1 and 4 with causal, window, masks and kv lengths. */
    static const flags decf[] = {{1, 0, 0, 1, 4}, {0, 0, 2, 1, 4}, {1, 7, 0, 0, 1}, {0, 0, 1, 1, 1}};
    static const int64_t ddims[] = {64, 96, 128, 256};
    for (int ti = 0; ti < 3; ti++)
        for (int di = 0; di < 4; di++) {
            one(g, qc_acts[ti], ddims[di], 1, 8, 1, 136, &decf[(ti + di) % 4]);
            one(g, qc_acts[ti], ddims[di], 2, 1, 1, 300, &decf[(ti + di + 1) % 4]);
            one(g, qc_acts[ti], ddims[di], 1, 2, 2, 45, &decf[2 + (ti + di) % 2]);
        }
    /* Head dim 128 prefill for CUDA's wgmma kernel (kernels_cuda/attention_wg.cu; QUANTA_CUDA_ATTN_WG=2 sends every
     * call it handles there, f32 through the f16 route): folded rows (hq/hkv x nq) not a multiple of its 64-row
     * warpgroups, one block and several of 128 rows; keys not a multiple of its 64/128-key tiles, more keys than
     * queries (causal offset) and fewer; GQA 1/4/8; causal and not, window, mask, kv lengths. */
    static const flags wgf[] = {{1, 0, 0, 0, 1}, {0, 0, 0, 0, 4}, {1, 0, 0, 1, 8}, {0, 0, 1, 0, 1}, {1, 100, 0, 0, 4}};
    for (int ti = 0; ti < 3; ti++)
        for (size_t i = 0; i < sizeof wgf / sizeof wgf[0]; i++) {
            one(g, qc_acts[ti], 128, 2, 1, 200, 200, &wgf[i]);
            one(g, qc_acts[ti], 128, 1, 2, 77, 333, &wgf[(i + 1) % 5]);
            one(g, qc_acts[ti], 128, 1, 1, 150, 70, &wgf[(i + 2) % 5]);
        }
}

static const qc_thr_row thresholds[] = {
    {QUANTA_F32, {5e-4, 2e-2, false, "ggml flash attention; online softmax, exp approximations"}},
    {QUANTA_F16, {5e-4, 2e-2, false, "ggml flash attention; + f16 P and output rounding"}},
    {QUANTA_BF16, {5e-4, 4e-2, false, "ggml flash attention; + bf16 P and output rounding"}},
    QC_THR_END};

const qc_op_def qc_attention_def = {QN_OP_ATTENTION, keys, validate, elements, make, build, generate, thresholds,
                                    NULL, NULL};
