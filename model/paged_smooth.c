/*
 * paged_smooth.c — calibration of the means a quantized paged KV pool subtracts (paged_smooth.h):
 * one prefill of a fixed English text through a one-sequence f32 pool, and the mean of each
 * layer's stored keys over its positions; and the turn int8 pools apply.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "paged_smooth.h"

/* Ordinary prose: the means should be those of text like what the server sees. */
static const char calib_text[] =
    "The old lighthouse stood at the edge of the harbor, and every evening the keeper climbed its "
    "stairs to light the lamp. Ships passing in the night relied on its beam to find their way. "
    "In the morning, children from the village would gather on the rocks below, asking questions "
    "about the sea, the weather, and the distant cities where the ships were going. He answered "
    "them patiently: water boils at 100 degrees, the moon pulls the tides, and a good sailor "
    "always checks the sky before leaving port.";

#define BS 16

quanta_status qn_kv_calibrate(quanta_model *m, float *cal) {
    const qn_model_config *c = &m->cfg;
    const int32_t V = c->n_vocab, L = c->n_layer;
    const int64_t Hkv = c->n_head_kv, D = c->head_dim;
    int32_t toks[QN_MAX_STEP_TOKENS];
    size_t n = 0;
    /* a model without a usable tokenizer (the tests' random ones) gets fixed spread-out ids */
    if (quanta_model_tokenize(m, calib_text, sizeof calib_text - 1, 1, 0, toks, QN_MAX_STEP_TOKENS, &n) || n < 32) {
        n = 96;
        for (size_t i = 0; i < n; i++) toks[i] = (int32_t)((1 + 7919 * (int64_t)i) % V);
    }
    const int32_t nb = (int32_t)((n + BS - 1) / BS), pos0 = 0;
    int32_t *table = malloc((size_t)nb * sizeof *table);
    const size_t rows = (size_t)nb * BS, count = (size_t)Hkv * rows * (size_t)D;
    float *k = malloc(count * sizeof *k);
    quanta_kv_pool *p = NULL;
    quanta_status st = table && k ? QUANTA_OK : qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "kv smoothing: no memory");
    for (int32_t i = 0; table && i < nb; i++) table[i] = i;
    if (!st) st = qn_kv_pool_create_plain(m, nb, BS, &p);
    if (!st) st = quanta_model_eval_paged(p, 1, (int32_t)n, toks, &pos0, table, NULL, NULL, 0);
    for (int32_t il = 0; il < L && !st; il++) {
        const size_t W = (size_t)(Hkv * D), part = (size_t)L * W;
        float *kmu = cal, *k0 = cal + part, *v0 = cal + 2 * part;
        st = qn_kv_pool_read_kv(p, il, 1, k, count); /* values: only row 0 is kept */
        for (int64_t h = 0; h < Hkv && !st; h++)
            memcpy(v0 + il * W + (size_t)h * D, k + (size_t)h * rows * D, (size_t)D * sizeof *k);
        if (!st) st = qn_kv_pool_read_kv(p, il, 0, k, count);
        for (int64_t h = 0; h < Hkv && !st; h++) {
            memcpy(k0 + il * W + (size_t)h * D, k + (size_t)h * rows * D, (size_t)D * sizeof *k);
            float *km = kmu + ((size_t)il * Hkv + h) * D;
            for (int64_t d = 0; d < D; d++) {
                double sum = 0;
                for (size_t t = 1; t < n; t++) sum += k[((size_t)h * rows + t) * D + d]; /* not 0: BOS, the sink */
                km[d] = (float)(sum / (double)(n - 1));
            }
        }
    }
    quanta_kv_pool_destroy(p);
    free(table), free(k);
    return st;
}

quanta_status qn_kv_calibrate_cached(quanta_model *m, const float **cal) {
    *cal = NULL;
    if (!m->kv_calib) {
        const size_t count = QN_KV_CALIB_PARTS * (size_t)m->cfg.n_layer * (size_t)m->cfg.n_head_kv * (size_t)m->cfg.head_dim;
        float *c = malloc(count * sizeof *c);
        if (!c) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "kv smoothing: no memory");
        quanta_status st = qn_kv_calibrate(m, c);
        if (st) {
            free(c);
            return st;
        }
        m->kv_calib = c;
    }
    *cal = m->kv_calib;
    return QUANTA_OK;
}

static int parity(uint32_t v) {
    int p = 0;
    for (; v; v &= v - 1) p ^= 1;
    return p;
}

void qn_kv_rotation(int32_t D, float *R) {
    int32_t B = 1;
    while (D % (2 * B) == 0) B *= 2;
    const float norm = 1.0f / sqrtf((float)B);
    uint32_t x = 0x9E3779B9u; /* fixed: every pool of every process turns the same way */
    memset(R, 0, (size_t)D * (size_t)D * sizeof *R);
    for (int32_t j = 0; j < D; j++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5; /* xorshift32 */
        const float sign = (x >> 31) ? -norm : norm;
        const int32_t b0 = j / B * B;
        for (int32_t i = b0; i < b0 + B; i++) /* H[i][j] = (-1)^popcount(i & j) within the block */
            R[(size_t)i * D + j] = parity((uint32_t)((i - b0) & (j - b0))) ? -sign : sign;
    }
}
