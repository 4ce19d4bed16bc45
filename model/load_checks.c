/* load_checks.c — load-time checks of a model's hyper-parameters and 1-D weights (load_checks.h). */
#include <math.h>
#include <string.h>

#include "error.h"
#include "load_checks.h"

/* Sizes far above any published model, so that hostile values fail as CORRUPT here instead of
 * as a huge allocation later. */
#define MAX_LAYERS 4096
#define MAX_WIDTH (1 << 20)
#define MAX_HEADS 4096
#define MAX_HEAD_DIM 4096
#define MAX_VOCAB (1 << 24)

static quanta_status bad(const char *key, const char *why, double v) {
    return qn_error_set(QUANTA_ERR_CORRUPT, "quanta_model_load: hyper-parameter %s = %.9g %s", key, v, why);
}

quanta_status qn_check_config(const qn_model_config *c) {
    if (c->n_layer < 1 || c->n_layer > MAX_LAYERS) return bad("block_count", "is outside [1, 4096]", c->n_layer);
    if (c->n_embd < 1 || c->n_embd > MAX_WIDTH) return bad("embedding_length", "is outside [1, 2^20]", c->n_embd);
    if (c->n_ff < 1 || c->n_ff > 4 * MAX_WIDTH) return bad("feed_forward_length", "is outside [1, 2^22]", c->n_ff);
    if (c->n_head < 1 || c->n_head > MAX_HEADS) return bad("attention.head_count", "is outside [1, 4096]", c->n_head);
    if (c->n_head_kv < 1 || c->n_head_kv > c->n_head || c->n_head % c->n_head_kv)
        return bad("attention.head_count_kv", "does not divide head_count", c->n_head_kv);
    if (c->head_dim < 2 || c->head_dim > MAX_HEAD_DIM || c->head_dim % 2)
        return bad("attention.key_length", "is not an even size in [2, 4096]", c->head_dim);
    if (c->n_vocab < 0 || c->n_vocab > MAX_VOCAB) return bad("vocab_size", "is outside [1, 2^24]", c->n_vocab);
    if (c->n_ctx_train < 0) return bad("context_length", "is negative", c->n_ctx_train);
    if (!(isfinite(c->rms_eps) && c->rms_eps > 0 && c->rms_eps < 1))
        return bad("attention.layer_norm_rms_epsilon", "is not in (0, 1)", c->rms_eps);
    if (!(isfinite(c->rope_base) && c->rope_base > 0)) return bad("rope.freq_base", "is not positive and finite", c->rope_base);
    if (!(isfinite(c->rope_base_local) && c->rope_base_local > 0))
        return bad("rope.freq_base (sliding-window layers)", "is not positive and finite", c->rope_base_local);
    if (!(isfinite(c->rope_freq_scale) && c->rope_freq_scale > 0))
        return bad("rope.scaling.factor", "gives a scale that is not positive and finite", c->rope_freq_scale);
    if (c->rope_dims < 0 || c->rope_dims > c->head_dim || c->rope_dims % 2)
        return bad("rope.dimension_count", "is not an even count up to the head size", c->rope_dims);
    if (!(isfinite(c->attn_scale) && c->attn_scale > 0))
        return bad("attention scale (query_pre_attn_scalar)", "is not positive and finite", c->attn_scale);
    if (!(isfinite(c->embd_scale) && c->embd_scale > 0)) return bad("embedding scale", "is not positive and finite", c->embd_scale);
    if (c->sliding_window < 0) return bad("attention.sliding_window", "is negative", c->sliding_window);
    return QUANTA_OK;
}

quanta_status qn_check_vector(const char *name, const float *x, size_t n) {
    const int norm = strstr(name, "norm") != NULL;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]))
            return qn_error_set(QUANTA_ERR_CORRUPT, "quanta_model_load: tensor '%s' element %zu is %g (not finite)", name, i,
                                (double)x[i]);
        if (norm && fabsf(x[i]) > QN_NORM_WEIGHT_MAX)
            return qn_error_set(QUANTA_ERR_CORRUPT,
                                "quanta_model_load: norm weight '%s' element %zu is %g (|w| > %g: not a trained norm)",
                                name, i, (double)x[i], (double)QN_NORM_WEIGHT_MAX);
    }
    return QUANTA_OK;
}
