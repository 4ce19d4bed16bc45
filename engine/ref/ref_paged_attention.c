/*
 * ref_paged_attention.c — attention over a paged KV cache, the naive way (the oracle for the
 * OpenCL and CUDA kernels): for each sequence, head and query, a full row of scores over the
 * keys it may see, each key found through the sequence's block table, softmax in double.
 *
 * Sources: q [S, Hq, T, D]; k_pool, v_pool [1, Hkv, R, D] (R = blocks * block_size rows, block
 * b holding rows [b*bs, (b+1)*bs)); block_table i32 [S, MB]; kv_lens i32 [S]. Key position j of
 * sequence s lives in row table[s][j / bs] * bs + j % bs. Query t of sequence s sits at position
 * L_s - T + t. Blocks no query can see (before a sliding window) may hold -1. The pools may be
 * q8 or fp8_e4m3 (a quantized KV cache): they are dequantized first, so the attention itself is
 * the float one on the values the kernels decode.
 */
#include <math.h>
#include <stdlib.h>

#include "ref_ops.h"

/* Checks what the kernels trust: lengths fit the table, and every block a query can see is in
 * the pool. Shared with the device backends through the op's validation of host copies. */
quanta_status qn_paged_check(const int32_t *table, const int32_t *lens, int64_t S, int64_t MB, int64_t T, int64_t bs,
                             int64_t n_blocks, const quanta_attention_params *pa, const char *who) {
    for (int64_t s = 0; s < S; s++) {
        const int64_t L = lens[s];
        if (L < 0 || L > MB * bs)
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: kv_lens[%lld] = %lld is outside [0, %lld] (block_table "
                                "columns * block_size)", who, (long long)s, (long long)L, (long long)(MB * bs));
        if (L < T)
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: kv_lens[%lld] = %lld is below the %lld queries", who,
                                (long long)s, (long long)L, (long long)T);
        /* The first key any query sees: with a window, the first query's window start. */
        int64_t first = 0;
        if (pa->window > 0 && L - T - pa->window + 1 > 0) first = L - T - pa->window + 1;
        for (int64_t j = first / bs; L > 0 && j <= (L - 1) / bs; j++) {
            const int32_t b = table[s * MB + j];
            if (b < 0 || b >= n_blocks)
                return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                                    "%s: block_table[%lld][%lld] = %d is not a block of the pool (0..%lld)", who,
                                    (long long)s, (long long)j, (int)b, (long long)n_blocks - 1);
        }
    }
    return QUANTA_OK;
}

/* A pool's elements as f32, whatever its dtype: float pools converted, q8/fp8 pools dequantized
 * row by row (each row of D elements, one head at one position, with its own scale). */
static float *load_pool(const qn_ref_rows *r, size_t count) {
    float *f = qn_ref_calloc(count, sizeof(float));
    for (int64_t i = 0; f && i < r->rows; i++) qn_ref_rows_get(r, i, f + (size_t)(i * r->cols));
    return f;
}

quanta_status qn_ref_paged_attention(const qn_node *node) {
    const char *op = "paged_attention";
    const qn_tensor *q = qn_ref_src(node, 0), *k = qn_ref_src(node, 1), *v = qn_ref_src(node, 2);
    const qn_tensor *tab = qn_ref_src(node, 3), *kvl = qn_ref_src(node, 4), *out = node->dst;
    const size_t nq = qn_ref_count(q), nk = qn_ref_count(k), nv = qn_ref_count(v), no = qn_ref_count(out);
    quanta_status st;
    qn_ref_rows kr, vr; /* the pools row by row: float, or q8 / fp8 with a scale per row */
    qn_ref_rows_open(k, &kr);
    qn_ref_rows_open(v, &vr);
    const int64_t S = q->desc.dims[0], Hq = q->desc.dims[1], T = q->desc.dims[2], D = q->desc.dims[3];
    const int64_t Hkv = k->desc.dims[1], R = k->desc.dims[2], MB = tab->desc.dims[1];
    const int64_t bs = node->params.block_size;
    const quanta_attention_params *pa = &node->params.attention;
    const int32_t *table = qn_host_ptr(tab), *lens = qn_host_ptr(kvl);
    if ((st = qn_paged_check(table, lens, S, MB, T, bs, R / bs, pa, "ref paged_attention"))) return st;

    const double scale = pa->scale != 0.0f ? (double)pa->scale : 1.0 / sqrt((double)D);
    const int64_t group = Hq / Hkv;
    float *qf = qn_ref_load(q, nq), *kf = load_pool(&kr, nk), *vf = load_pool(&vr, nv);
    float *of = qn_ref_calloc(no, sizeof(float));
    double *sc = qn_ref_calloc((size_t)(MB * bs), sizeof(double)), *acc = qn_ref_calloc((size_t)D, sizeof(double));
    if (!qf || !kf || !vf || !of || !sc || !acc) {
        free(qf), free(kf), free(vf), free(of), free(sc), free(acc);
        return qn_ref_oom(op);
    }
    for (int64_t s = 0; s < S; s++) {
        const int64_t L = lens[s];
        for (int64_t h = 0; h < Hq; h++) {
            const int64_t hk = h / group;
            for (int64_t t = 0; t < T; t++) {
                const float *qr = qf + (size_t)(((s * Hq + h) * T + t) * D);
                float *orow = of + (size_t)(((s * Hq + h) * T + t) * D);
                const int64_t p = L - T + t;
                double mx = -INFINITY;
                for (int64_t j = 0; j < L; j++) {
                    sc[j] = -INFINITY;
                    if (pa->causal && j > p) continue;
                    if (pa->window > 0 && j <= p - pa->window) continue;
                    const int64_t row = (int64_t)table[s * MB + j / bs] * bs + j % bs;
                    const float *kr = kf + (size_t)((hk * R + row) * D);
                    double dot = 0.0;
                    for (int64_t d = 0; d < D; d++) dot += (double)qr[d] * (double)kr[d];
                    sc[j] = dot * scale;
                    if (sc[j] > mx) mx = sc[j];
                }
                for (int64_t d = 0; d < D; d++) acc[d] = 0.0;
                double sum = 0.0;
                for (int64_t j = 0; j < L && mx > -INFINITY; j++) {
                    if (sc[j] == -INFINITY) continue;
                    const double w = exp(sc[j] - mx);
                    const int64_t row = (int64_t)table[s * MB + j / bs] * bs + j % bs;
                    const float *vr = vf + (size_t)((hk * R + row) * D);
                    sum += w;
                    for (int64_t d = 0; d < D; d++) acc[d] += w * (double)vr[d];
                }
                for (int64_t d = 0; d < D; d++) orow[d] = sum > 0 ? (float)(acc[d] / sum) : 0.0f;
            }
        }
    }
    qn_ref_store(out, of, no);
    free(qf), free(kf), free(vf), free(of), free(sc), free(acc);
    return QUANTA_OK;
}
