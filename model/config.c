/*
 * config.c — model hyper-parameters from GGUF metadata ("{arch}.*" keys as llama.cpp's
 * converter writes them). Where a value is not in the file, the architecture's published
 * constant is used and named here, so a reader can check each against the reference code.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "model_internal.h"

static quanta_status get_i32(const qn_gguf *g, const char *arch, const char *suffix, int required,
                             int32_t def, int32_t *out) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    if (!qn_gguf_has(g, key)) {
        if (required) return qn_error_set(QUANTA_ERR_CORRUPT, "quanta_model_load: metadata key '%s' is missing", key);
        *out = def;
        return QUANTA_OK;
    }
    int64_t v;
    quanta_status st = qn_gguf_get_i64(g, key, &v);
    if (st) return qn_error_set(st, "quanta_model_load: metadata key '%s' is not an integer", key);
    if (v < 0 || v > (1 << 30))
        return qn_error_set(QUANTA_ERR_CORRUPT, "quanta_model_load: metadata key '%s' = %lld is out of range", key,
                            (long long)v);
    *out = (int32_t)v;
    return QUANTA_OK;
}

static quanta_status get_f32(const qn_gguf *g, const char *arch, const char *suffix, float def, float *out) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    if (!qn_gguf_has(g, key)) {
        *out = def;
        return QUANTA_OK;
    }
    quanta_status st = qn_gguf_get_f32(g, key, out);
    if (st) return qn_error_set(st, "quanta_model_load: metadata key '%s' is not a float", key);
    if (!isfinite(*out)) return qn_error_set(QUANTA_ERR_CORRUPT, "quanta_model_load: metadata key '%s' is not finite", key);
    return QUANTA_OK;
}

int qn_model_layer_is_local(const qn_model_config *cfg, int il) {
    if (cfg->sliding_window <= 0) return 0;
    if (cfg->swa_pattern <= 1) return 1;
    return il % cfg->swa_pattern < cfg->swa_pattern - 1;
}

quanta_status qn_model_config_from_gguf(const qn_gguf *g, qn_model_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    qn_gguf_str s;
    if (qn_gguf_get_str(g, "general.architecture", &s))
        return qn_error_set(QUANTA_ERR_CORRUPT, "quanta_model_load: 'general.architecture' is missing or not a string");
    if (memchr(s.ptr, 0, s.len))
        return qn_error_set(QUANTA_ERR_CORRUPT, "quanta_model_load: 'general.architecture' holds a NUL byte");
    if (s.len == 0 || s.len >= sizeof cfg->arch_name)
        return qn_error_set(QUANTA_ERR_UNSUPPORTED, "quanta_model_load: architecture name of %llu bytes",
                            (unsigned long long)s.len);
    memcpy(cfg->arch_name, s.ptr, s.len);
    cfg->arch_name[s.len] = 0;
    const char *arch = cfg->arch_name;
    if (!strcmp(arch, "llama") || !strcmp(arch, "mistral")) cfg->arch = QN_ARCH_LLAMA;
    else if (!strcmp(arch, "qwen2")) cfg->arch = QN_ARCH_QWEN2;
    else if (!strcmp(arch, "gemma3")) cfg->arch = QN_ARCH_GEMMA3;
    else
        return qn_error_set(QUANTA_ERR_UNSUPPORTED,
                            "quanta_model_load: architecture '%s' is not supported (llama, mistral, qwen2, gemma3)",
                            arch);
    if (!qn_gguf_get_str(g, "general.name", &s)) {
        size_t n = s.len < sizeof cfg->name - 1 ? (size_t)s.len : sizeof cfg->name - 1;
        memcpy(cfg->name, s.ptr, n);
        cfg->name[n] = 0;
    }

    quanta_status st;
    if ((st = get_i32(g, arch, "embedding_length", 1, 0, &cfg->n_embd))) return st;
    if ((st = get_i32(g, arch, "block_count", 1, 0, &cfg->n_layer))) return st;
    if ((st = get_i32(g, arch, "feed_forward_length", 1, 0, &cfg->n_ff))) return st;
    if ((st = get_i32(g, arch, "attention.head_count", 1, 0, &cfg->n_head))) return st;
    if ((st = get_i32(g, arch, "attention.head_count_kv", 0, cfg->n_head, &cfg->n_head_kv))) return st;
    if ((st = get_i32(g, arch, "context_length", 0, 2048, &cfg->n_ctx_train))) return st;
    if (cfg->n_embd <= 0 || cfg->n_layer <= 0 || cfg->n_ff <= 0 || cfg->n_head <= 0 || cfg->n_head_kv <= 0)
        return qn_error_set(QUANTA_ERR_CORRUPT, "quanta_model_load: zero embedding/block/ff/head count in metadata");
    if (cfg->n_head % cfg->n_head_kv)
        return qn_error_set(QUANTA_ERR_CORRUPT, "quanta_model_load: head_count %d is not a multiple of head_count_kv %d",
                            cfg->n_head, cfg->n_head_kv);
    int32_t hd_default = cfg->n_embd % cfg->n_head ? 0 : cfg->n_embd / cfg->n_head;
    int32_t hd_v;
    if ((st = get_i32(g, arch, "attention.key_length", 0, hd_default, &cfg->head_dim))) return st;
    if ((st = get_i32(g, arch, "attention.value_length", 0, cfg->head_dim, &hd_v))) return st;
    if (cfg->head_dim <= 0 || cfg->head_dim % 2 || hd_v != cfg->head_dim)
        return qn_error_set(QUANTA_ERR_UNSUPPORTED, "quanta_model_load: head dims k=%d v=%d (need equal and even)",
                            cfg->head_dim, hd_v);
    if ((st = get_f32(g, arch, "attention.layer_norm_rms_epsilon", 1e-5f, &cfg->rms_eps))) return st;
    if ((st = get_f32(g, arch, "rope.freq_base", 10000.0f, &cfg->rope_base))) return st;
    float factor = 1.0f;
    if ((st = get_f32(g, arch, "rope.scaling.factor", 1.0f, &factor))) return st;
    char key[128];
    snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
    if (qn_gguf_has(g, key) && !qn_gguf_get_str(g, key, &s)) {
        if (!(s.len == 6 && !memcmp(s.ptr, "linear", 6)) && !(s.len == 4 && !memcmp(s.ptr, "none", 4)))
            return qn_error_set(QUANTA_ERR_UNSUPPORTED, "quanta_model_load: rope scaling '%.*s' (only linear)",
                                (int)s.len, s.ptr);
    }
    cfg->rope_freq_scale = factor > 0 ? 1.0f / factor : 1.0f;
    if ((st = get_i32(g, arch, "rope.dimension_count", 0, cfg->head_dim, &cfg->rope_dims))) return st;
    if (cfg->rope_dims <= 0 || cfg->rope_dims > cfg->head_dim || cfg->rope_dims % 2)
        return qn_error_set(QUANTA_ERR_CORRUPT, "quanta_model_load: rope.dimension_count %d for head dim %d",
                            cfg->rope_dims, cfg->head_dim);
    if (cfg->rope_dims == cfg->head_dim) cfg->rope_dims = 0;
    cfg->rope_base_local = cfg->rope_base;
    if ((st = get_i32(g, arch, "attention.sliding_window", 0, 0, &cfg->sliding_window))) return st;
    cfg->attn_scale = 1.0f / sqrtf((float)cfg->head_dim);
    cfg->embd_scale = 1.0f;

    switch (cfg->arch) {
    case QN_ARCH_LLAMA:
        /* llama.cpp's converter permutes LLaMA's q/k rows so adjacent pairs rotate. */
        cfg->rope_mode = QUANTA_ROPE_NORM;
        cfg->sliding_window = 0; /* Mistral v0.1's window exceeds its usual contexts; llama.cpp ignores it too */
        break;
    case QN_ARCH_QWEN2:
        cfg->rope_mode = QUANTA_ROPE_NEOX;
        cfg->qkv_bias = 1;
        cfg->sliding_window = 0;
        break;
    case QN_ARCH_GEMMA3:
        /* Gemma 3 (HF Gemma3TextConfig / llama.cpp): NeoX rope; local layers use base 10000
         * (rope_local_base_freq) and no scaling; five local layers then one global; GeGLU with
         * tanh GELU; q/k norms; post-attention and post-MLP norms; embeddings times sqrt(n_embd).
         * llama.cpp's converter stores the norm weights as 1 + w, so they are used as stored. */
        cfg->rope_mode = QUANTA_ROPE_NEOX;
        cfg->rope_base_local = 10000.0f;
        cfg->swa_pattern = 6;
        cfg->gelu_mlp = 1;
        cfg->qk_norm = 1;
        cfg->post_norms = 1;
        cfg->embd_scale = sqrtf((float)cfg->n_embd);
        cfg->norm_plus_one = 0;
        /* query_pre_attn_scalar: head_dim, except 27B where it is n_embd / n_head. */
        {
            float qpas = cfg->n_embd == 5376 ? (float)(cfg->n_embd / cfg->n_head) : (float)cfg->head_dim;
            snprintf(key, sizeof key, "%s.attention.query_pre_attn_scalar", arch);
            if ((st = get_f32(g, arch, "attention.query_pre_attn_scalar", qpas, &qpas))) return st;
            if (qpas <= 0) return qn_error_set(QUANTA_ERR_CORRUPT, "quanta_model_load: '%s' <= 0", key);
            cfg->attn_scale = 1.0f / sqrtf(qpas);
        }
        break;
    }
    return QUANTA_OK;
}
