/* paged_attention.c — conformance entry of paged_attention: attention of new queries over each
 * sequence's keys, read through its block table from shared K/V pools, in q's dtype or quantized
 * (q8, fp8_e4m3: a quantized KV cache, an f32 scale per head and position). */
#include <stdlib.h>

#include "op_entry.h"

static const qc_key keys[] = {
    {"b", QC_K_I64, QC_OFF(b), "3", 1, QC_DIM_MAX, "sequences"},
    {"hq", QC_K_I64, QC_OFF(hq), "4", 1, QC_DIM_MAX, "query heads (a multiple of hkv)"},
    {"hkv", QC_K_I64, QC_OFF(hkv), "2", 1, QC_DIM_MAX, "pool (key/value) heads; hq/hkv is the GQA ratio"},
    {"nq", QC_K_I64, QC_OFF(nq), "1", 1, QC_DIM_MAX, "new queries per sequence; 1 = decode"},
    {"nk", QC_K_I64, QC_OFF(nk), "37", 1, QC_DIM_MAX, "most keys of a sequence (the first has nk, the others [nq, nk])"},
    {"bs", QC_K_I32, QC_OFF(bs), "16", 1, 1 << 16, "block size: pool rows per block"},
    {"nblk", QC_K_I64, QC_OFF(nblk), "0", 0, QC_DIM_MAX, "blocks in the pools (0 = the sequences' need + 3); "
     "tables use a random permutation"},
    {"d", QC_K_I64, QC_OFF(d), "64", 1, 4096, "head dim"},
    {"causal", QC_K_I32, QC_OFF(causal), "1", 0, 1, "causal masking among the new queries"},
    {"window", QC_K_I32, QC_OFF(window), "0", 0, 1 << 30, "sliding window in keys (0 = none); blocks wholly "
     "before every query's window are -1 in the table"},
    {"scale", QC_K_F32, QC_OFF(scale), "0", 0, 0, "score scale; 0 = 1/sqrt(d)"},
    {"dtype", QC_K_ACT, QC_OFF(dtype), "f32", 0, 0, "q and result dtype"},
    {"kv", QC_K_WT, QC_OFF(wtype), "f32", 0, 0, "q8 / fp8_e4m3: quantized pools (a quantized KV cache); a float "
     "dtype: the pools in dtype"},
    QC_KEYS_END};

static bool kv_quantized(const qc_case *c) { return c->wtype == QUANTA_Q8 || c->wtype == QUANTA_FP8_E4M3; }
static quanta_dtype pool_dtype(const qc_case *c) { return kv_quantized(c) ? c->wtype : c->dtype; }

/* Blocks a sequence's table holds, and blocks in the pools. */
static int64_t table_blocks(const qc_case *c) { return (c->nk + c->bs - 1) / c->bs; }
static int64_t pool_blocks(const qc_case *c) { return c->nblk ? c->nblk : c->b * table_blocks(c) + 3; }

static int validate(const qc_case *c, char *err, size_t errlen) {
    if (qc_check_attention(c, err, errlen)) return -1;
    if (!qc_is_act(c->wtype) && !kv_quantized(c))
        return qc_err(err, errlen, "kv (%s) must be q8, fp8_e4m3 or a float dtype (the %s then in dtype)",
                      quanta_dtype_name(c->wtype), "pools");
    if (c->nq > c->nk) return qc_err(err, errlen, "nq (%lld) must be <= nk (%lld)", (long long)c->nq, (long long)c->nk);
    int64_t need = c->b * table_blocks(c);
    if (c->nblk && c->nblk < need)
        return qc_err(err, errlen, "nblk (%lld) is below the %lld blocks the sequences need", (long long)c->nblk,
                      (long long)need);
    int64_t q[4] = {c->b, c->hq, c->nq, c->d}, pool[4] = {1, c->hkv, pool_blocks(c) * c->bs, c->d};
    int64_t s[4] = {c->b, c->hq, c->nq, c->nk};
    if (qc_check_elems("q", q, 4, err, errlen) || qc_check_elems("pool", pool, 4, err, errlen) ||
        qc_check_elems("scores", s, 4, err, errlen))
        return -1;
    return 0;
}

static int64_t elements(const qc_case *c) {
    return 2 * c->b * c->hq * c->nq * c->d + 2 * c->hkv * pool_blocks(c) * c->bs * c->d + c->b * table_blocks(c) +
           c->b;
}

/* q and pools ~ N(0, 1); lengths in [nq, nk], the first sequence at nk; blocks: a random
 * permutation of the pool (no two sequences share one, none in order); blocks no query of the
 * sequence can see (wholly before its first query's window) are -1, as a server frees them. */
static int make(const qc_case *c, qc_data *d, qc_rng *r, char *err, size_t errlen) {
    const int64_t mb = table_blocks(c), nblk = pool_blocks(c);
    int64_t qd[4] = {c->b, c->hq, c->nq, c->d}, pd[4] = {1, c->hkv, nblk * c->bs, c->d}, td[2] = {c->b, mb};
    quanta_tensor_desc q = qc_desc(c->dtype, 4, qd), pool = qc_desc(pool_dtype(c), 4, pd), tab = qc_desc(QUANTA_I32, 2, td);
    d->out_desc = q;
    d->count = 5;
    if (qc_slot_fill(d, 0, "q", QC_ROLE_INPUT, &q, r, 0, 1, err, errlen) ||
        qc_slot_fill(d, 1, "k_pool", QC_ROLE_INPUT, &pool, r, 0, 1, err, errlen) ||
        qc_slot_fill(d, 2, "v_pool", QC_ROLE_INPUT, &pool, r, 0, 1, err, errlen) ||
        qc_slot(d, 3, "block_table", QC_ROLE_INPUT, &tab, err, errlen) || qc_i32_slot(d, 4, "kv_lens", c->b, err, errlen))
        return -1;
    int32_t *lens = d->t[4].data, *t = d->t[3].data;
    for (int64_t s = 0; s < c->b; s++)
        lens[s] = (int32_t)(c->nq + (s ? qc_rng_below(r, c->nk - c->nq + 1) : c->nk - c->nq));
    int32_t *perm = malloc((size_t)nblk * sizeof *perm);
    if (!perm) return qc_err(err, errlen, "out of memory");
    for (int64_t i = 0; i < nblk; i++) perm[i] = (int32_t)i;
    for (int64_t i = nblk - 1; i > 0; i--) {
        int64_t j = qc_rng_below(r, i + 1);
        int32_t tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
    }
    for (int64_t s = 0; s < c->b; s++)
        for (int64_t j = 0; j < mb; j++) {
            const int64_t first = c->window > 0 ? lens[s] - c->nq - c->window + 1 : 0;
            int gone = first > 0 && (j + 1) * c->bs <= first;
            t[s * mb + j] = gone ? -1 : perm[s * mb + j];
        }
    free(perm);
    return 0;
}

static quanta_status build(quanta_graph *g, const qc_case *c, quanta_tensor *const *t, quanta_tensor **y) {
    quanta_attention_params p = {c->scale, c->causal, c->window};
    return quanta_paged_attention(g, t[0], t[1], t[2], t[3], t[4], c->bs, &p, y);
}

/* Decode and short prefills over block tables of odd block counts and sizes, GQA 1/2/4, a
 * window that frees blocks, lengths that end mid-block. {b, hq, hkv, nq, nk, bs, d, causal, window}
 * Each in f32, f16 and bf16 pools, and in q8 and fp8_e4m3 pools read by the three q dtypes in turn. */
static void generate(qc_gen *g, bool quick) {
    static const int64_t pc[][9] = {
        {3, 4, 2, 1, 37, 16, 64, 1, 0},      /* decode, GQA 2, 3 blocks per sequence, last partial */
        {5, 8, 2, 1, 130, 16, 128, 1, 0},    /* decode, GQA 4, 9 blocks */
        {2, 4, 4, 5, 77, 7, 80, 1, 0},       /* prefill chunk of 5, odd block size 7 (11 blocks) */
        {4, 8, 1, 1, 200, 16, 64, 1, 48},    /* decode, one kv head, window 48 frees early blocks */
        {1, 2, 2, 3, 3, 1, 13, 0, 0},        /* block size 1, tiny head, not causal */
        {7, 4, 2, 1, 1, 16, 64, 1, 0},       /* one key per sequence */
        {2, 16, 8, 9, 300, 32, 128, 1, 100}, /* prefill of 9 with a window, 10 blocks of 32 */
    };
    const size_t n = sizeof pc / sizeof pc[0];
    for (int ti = 0; ti < 3; ti++)
        for (size_t i = 0; i < n; i++) {
            if (quick && i % 3 != (size_t)ti) continue;
            qc_case c;
            qc_case_defaults(QN_OP_PAGED_ATTENTION, &c);
            c.dtype = qc_acts[ti];
            c.b = pc[i][0], c.hq = pc[i][1], c.hkv = pc[i][2], c.nq = pc[i][3], c.nk = pc[i][4];
            c.bs = (int32_t)pc[i][5], c.d = pc[i][6], c.causal = (int32_t)pc[i][7], c.window = (int32_t)pc[i][8];
            qc_gen_add(g, &c);
            if (ti == 2) continue;
            /* quantized pools: q8 then fp8 (ti), q's dtype rotating over the shapes */
            if (quick && i % 2 != (size_t)ti) continue;
            c.wtype = ti == 0 ? QUANTA_Q8 : QUANTA_FP8_E4M3;
            c.dtype = qc_acts[(i + (size_t)ti) % 3];
            qc_gen_add(g, &c);
        }
}

/* Quantized pools pick their own threshold rows; float pools the q dtype's. */
static quanta_dtype threshold_dtype(const qc_case *c) { return kv_quantized(c) ? c->wtype : c->dtype; }

static const qc_thr_row thresholds[] = {
    {QUANTA_F32, {5e-4, 2e-2, false, "as attention: online softmax in f32"}},
    {QUANTA_F16, {5e-4, 2e-2, false, "as attention; + f16 output rounding"}},
    {QUANTA_BF16, {5e-4, 4e-2, false, "as attention; + bf16 output rounding"}},
    /* the reference reads the same codes and scales (quantized once, on the host): only the
     * summation differs; the bf16-q case's output rounding is the widest of the three q dtypes */
    {QUANTA_Q8, {5e-4, 4e-2, false, "q8 pools: the same codes and scales as the reference; f32 online softmax"}},
    {QUANTA_FP8_E4M3, {5e-4, 4e-2, false, "fp8 pools: the same codes and scales as the reference; f32 online softmax"}},
    QC_THR_END};

const qc_op_def qc_paged_attention_def = {QN_OP_PAGED_ATTENTION, keys, validate, elements, make, build, generate,
                                          thresholds, threshold_dtype, NULL};
