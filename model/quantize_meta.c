/* quantize_meta.c — the metadata quanta_quantize_model writes for a safetensors input: the
 * checkpoint's own metadata, and GGUF's LLaMA-family hyper-parameter keys built from its
 * config.json (with the whole config.json kept under quanta.hf_config_json). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "quantize_internal.h"

void qn_quantize_note(const quanta_quantize_params *p, const char *fmt, ...) {
    if (!p->on_note) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    p->on_note(buf, p->user);
}

#define CONFIG_MAX (16u << 20)

quanta_status qn_quantize_st_metadata(qn_gguf_writer *w, const quanta_quantize_params *p, qn_safetensors *st) {
    quanta_status s = QUANTA_OK;
    for (uint64_t i = 0; i < qn_st_metadata_count(st) && !s; i++) {
        const char *k, *v;
        char key[256];
        qn_st_metadata_at(st, i, &k, &v);
        snprintf(key, sizeof key, "safetensors.%s", k);
        s = qn_gguf_writer_set_str(w, key, v);
    }
    if (s) return s;
    char cfg_path[4096];
    if (p->config) snprintf(cfg_path, sizeof cfg_path, "%s", p->config);
    else {
        const char *slash = strrchr(p->input, '/');
        int dl = slash ? (int)(slash - p->input) : 1;
        snprintf(cfg_path, sizeof cfg_path, "%.*s/config.json", dl, slash ? p->input : ".");
    }
    FILE *f = fopen(cfg_path, "rb");
    if (!f) {
        if (p->config)
            return qn_error_set(QUANTA_ERR_IO, "quanta_quantize_model: cannot open config '%.500s': %s", cfg_path,
                                strerror(errno));
        qn_quantize_note(p, "no %s; the output has tensors but no model configuration", cfg_path);
        return QUANTA_OK;
    }
    char *text = malloc(CONFIG_MAX);
    size_t n = text ? fread(text, 1, CONFIG_MAX - 1, f) : 0;
    int bad = ferror(f);
    fclose(f);
    if (!text) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_quantize_model: no memory for config.json");
    if (bad) {
        free(text);
        return qn_error_set(QUANTA_ERR_IO, "quanta_quantize_model: cannot read '%.500s'", cfg_path);
    }
    text[n] = '\0';
    qn_hf_config c;
    if ((s = qn_hf_config_parse(text, n, &c)) != QUANTA_OK) {
        free(text);
        return qn_error_set(s, "%.400s: %.500s", cfg_path, quanta_last_error());
    }
    /* GGUF's LLaMA-family keys under the architecture name (model_type without "_text") */
    char arch[64], key[128];
    snprintf(arch, sizeof arch, "%s", c.model_type[0] ? c.model_type : "llama");
    char *suffix = strstr(arch, "_text");
    if (suffix && !suffix[5]) *suffix = '\0';
    s = qn_gguf_writer_set_str(w, "general.architecture", arch);
    s = s ? s : qn_gguf_writer_set_str(w, "quanta.hf_config_json", text);
    free(text);
#define KEY_U32(name, v)                                          \
    if (!s && (v) >= 0) {                                         \
        snprintf(key, sizeof key, "%s." name, arch);              \
        s = qn_gguf_writer_set_u32(w, key, (uint32_t)(v));        \
    }
#define KEY_F32(name, v)                                          \
    if (!s && !isnan(v)) {                                        \
        snprintf(key, sizeof key, "%s." name, arch);              \
        s = qn_gguf_writer_set_f32(w, key, (float)(v));           \
    }
    KEY_U32("block_count", c.num_hidden_layers);
    KEY_U32("embedding_length", c.hidden_size);
    KEY_U32("feed_forward_length", c.intermediate_size);
    KEY_U32("attention.head_count", c.num_attention_heads);
    KEY_U32("attention.head_count_kv", c.num_key_value_heads);
    KEY_U32("attention.key_length", c.head_dim);
    KEY_U32("attention.value_length", c.head_dim);
    KEY_U32("context_length", c.max_position_embeddings);
    KEY_U32("vocab_size", c.vocab_size);
    KEY_U32("attention.sliding_window", c.sliding_window);
    KEY_F32("rope.freq_base", c.rope_theta);
    KEY_F32("attention.layer_norm_rms_epsilon", c.rms_norm_eps);
#undef KEY_U32
#undef KEY_F32
    return s;
}
