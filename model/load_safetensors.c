/*
 * load_safetensors.c — a Hugging Face checkpoint: a directory with config.json, tokenizer.json
 * and model.safetensors (or shards listed in model.safetensors.index.json). Tensor names are
 * mapped from Quanta's GGUF names to transformers' ("blk.3.attn_q.weight" ->
 * "model.layers.3.self_attn.q_proj.weight"). Differences from llama.cpp's GGUF conversion that
 * matter: q/k rows are not permuted (so LLaMA rotates halves, NeoX style), and Gemma's norm
 * weights are stored as w (used as 1 + w).
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"
#include "json.h"
#include "mapfile.h"
#include "model_internal.h"
#include "safetensors.h"

#define MAX_SHARDS 64

typedef struct st_set {
    qn_safetensors *f[MAX_SHARDS];
    int n;
    qn_arch arch;
} st_set;

static quanta_status st_to_f32(const qn_weight_src *w, float *dst, size_t count) {
    return qn_st_tensor_to_f32((const qn_st_tensor *)w->handle, dst, count);
}

static quanta_status st_rows_to_f32(const qn_weight_src *w, int64_t row0, int64_t nrows, float *dst, size_t count) {
    return qn_st_tensor_rows_to_f32((const qn_st_tensor *)w->handle, row0, nrows, dst, count);
}

static const qn_st_tensor *find_any(const st_set *s, const char *name) {
    static const char *const prefixes[] = {"", "language_model.", "model.language_model.", "language_model.model."};
    char full[256];
    for (size_t p = 0; p < sizeof prefixes / sizeof *prefixes; p++) {
        const char *n = name;
        /* "model.layers..." under "model.language_model." drops its own "model." */
        if (p == 2 && !strncmp(name, "model.", 6)) n = name + 6;
        if (p == 3 && !strncmp(name, "model.", 6)) n = name + 6;
        size_t lp = strlen(prefixes[p]), ln = strlen(n);
        if (lp + ln >= sizeof full) continue;
        memcpy(full, prefixes[p], lp);
        memcpy(full + lp, n, ln + 1);
        for (int i = 0; i < s->n; i++) {
            const qn_st_tensor *t = qn_st_find(s->f[i], full);
            if (t) return t;
        }
    }
    return NULL;
}

/* GGUF name -> transformers name. */
static int hf_name(qn_arch arch, const char *g, char *out, size_t cap) {
    int layer;
    char rest[96];
    if (!strcmp(g, "token_embd.weight")) return snprintf(out, cap, "model.embed_tokens.weight"), 1;
    if (!strcmp(g, "output_norm.weight")) return snprintf(out, cap, "model.norm.weight"), 1;
    if (!strcmp(g, "output.weight")) return snprintf(out, cap, "lm_head.weight"), 1;
    if (sscanf(g, "blk.%d.%95s", &layer, rest) != 2) return 0;
    static const struct { const char *gguf, *hf; } map[] = {
        {"attn_norm.weight", "input_layernorm.weight"},
        {"attn_q.weight", "self_attn.q_proj.weight"},   {"attn_k.weight", "self_attn.k_proj.weight"},
        {"attn_v.weight", "self_attn.v_proj.weight"},   {"attn_output.weight", "self_attn.o_proj.weight"},
        {"attn_q.bias", "self_attn.q_proj.bias"},       {"attn_k.bias", "self_attn.k_proj.bias"},
        {"attn_v.bias", "self_attn.v_proj.bias"},       {"attn_q_norm.weight", "self_attn.q_norm.weight"},
        {"attn_k_norm.weight", "self_attn.k_norm.weight"},
        {"ffn_gate.weight", "mlp.gate_proj.weight"},    {"ffn_up.weight", "mlp.up_proj.weight"},
        {"ffn_down.weight", "mlp.down_proj.weight"},    {"post_ffw_norm.weight", "post_feedforward_layernorm.weight"},
        {"post_attention_norm.weight", "post_attention_layernorm.weight"},
    };
    const char *hf = NULL;
    if (!strcmp(rest, "ffn_norm.weight"))
        hf = arch == QN_ARCH_GEMMA3 ? "pre_feedforward_layernorm.weight" : "post_attention_layernorm.weight";
    for (size_t i = 0; !hf && i < sizeof map / sizeof *map; i++)
        if (!strcmp(rest, map[i].gguf)) hf = map[i].hf;
    if (!hf) return 0;
    snprintf(out, cap, "model.layers.%d.%s", layer, hf);
    return 1;
}

static int st_find(void *ctx, const char *name, qn_weight_src *w) {
    const st_set *s = ctx;
    char hf[256];
    if (!hf_name(s->arch, name, hf, sizeof hf)) return 0;
    const qn_st_tensor *t = find_any(s, hf);
    if (!t) return 0;
    w->ndim = t->ndim;
    for (int i = 0; i < t->ndim && i < 8; i++) w->dims[i] = t->dims[i];
    w->have_native = qn_st_tensor_desc(t, &w->native) == QUANTA_OK &&
                     (w->native.dtype == QUANTA_F32 || w->native.dtype == QUANTA_F16 || w->native.dtype == QUANTA_BF16);
    w->data = t->data;
    w->bytes = t->bytes;
    w->to_f32 = st_to_f32;
    w->rows_to_f32 = st_rows_to_f32; /* the parallel conversion (load.c) */
    w->handle = t;
    return 1;
}

static quanta_status config_from_hf(const qn_hf_config *h, qn_model_config *c) {
    memset(c, 0, sizeof *c);
    const char *mt = h->model_type;
    if (!strcmp(mt, "llama") || !strcmp(mt, "mistral")) c->arch = QN_ARCH_LLAMA;
    else if (!strcmp(mt, "qwen2")) c->arch = QN_ARCH_QWEN2;
    else if (!strcmp(mt, "gemma3_text") || !strcmp(mt, "gemma3")) c->arch = QN_ARCH_GEMMA3;
    else
        return qn_error_set(QUANTA_ERR_UNSUPPORTED,
                            "quanta_model_load: config.json model_type '%s' (llama, mistral, qwen2, gemma3_text)", mt);
    static const char *const arch_names[] = {"llama", "qwen2", "gemma3"};
    memcpy(c->arch_name, arch_names[c->arch], strlen(arch_names[c->arch]) + 1);
    size_t nl = strlen(h->architecture);
    if (nl >= sizeof c->name) nl = sizeof c->name - 1;
    memcpy(c->name, h->architecture, nl);
    c->name[nl] = 0;
    if (h->hidden_size > (1 << 20) || h->num_hidden_layers > 4096 || h->intermediate_size > (1 << 22) ||
        h->num_attention_heads > 4096 || h->head_dim > 4096 || h->head_dim % 2)
        return qn_error_set(QUANTA_ERR_CORRUPT, "quanta_model_load: config.json sizes out of range");
    c->n_embd = (int32_t)h->hidden_size;
    c->n_layer = (int32_t)h->num_hidden_layers;
    c->n_ff = (int32_t)h->intermediate_size;
    c->n_head = (int32_t)h->num_attention_heads;
    c->n_head_kv = (int32_t)h->num_key_value_heads;
    c->head_dim = (int32_t)h->head_dim;
    c->n_ctx_train = h->max_position_embeddings > 0 && h->max_position_embeddings < (1 << 24)
                         ? (int32_t)h->max_position_embeddings : 2048;
    c->rms_eps = isfinite(h->rms_norm_eps) ? (float)h->rms_norm_eps : 1e-6f;
    c->rope_mode = QUANTA_ROPE_NEOX; /* transformers rotates halves for every family here */
    c->rope_base = isfinite(h->rope_theta) ? (float)h->rope_theta : 10000.0f;
    c->rope_base_local = c->rope_base;
    c->rope_freq_scale = 1.0f;
    if (isfinite(h->rope_scaling_factor) && h->rope_scaling_factor > 0) {
        if (strcmp(h->rope_scaling_type, "linear"))
            return qn_error_set(QUANTA_ERR_UNSUPPORTED, "quanta_model_load: rope_scaling '%s' (only linear)",
                                h->rope_scaling_type);
        c->rope_freq_scale = (float)(1.0 / h->rope_scaling_factor);
    }
    c->attn_scale = 1.0f / sqrtf((float)c->head_dim);
    c->embd_scale = 1.0f;
    if (isfinite(h->final_logit_softcapping) || isfinite(h->attn_logit_softcapping))
        return qn_error_set(QUANTA_ERR_UNSUPPORTED, "quanta_model_load: logit soft-capping is not supported");
    c->untied_head = h->tie_word_embeddings == 0; /* said false: lm_head.weight must exist */
    if (c->arch == QN_ARCH_QWEN2) c->qkv_bias = h->attention_bias != 0; /* Qwen2 has biases unless told otherwise */
    if (c->arch == QN_ARCH_LLAMA) c->qkv_bias = h->attention_bias == 1;
    if (c->arch == QN_ARCH_GEMMA3) {
        c->rope_base_local = isfinite(h->rope_local_base_freq) ? (float)h->rope_local_base_freq : 10000.0f;
        c->sliding_window = h->sliding_window > 0 && h->sliding_window < (1 << 24) ? (int32_t)h->sliding_window : 0;
        c->swa_pattern = h->sliding_window_pattern > 0 && h->sliding_window_pattern < 4096 ? (int32_t)h->sliding_window_pattern : 6;
        c->gelu_mlp = 1;
        c->qk_norm = 1;
        c->post_norms = 1;
        c->embd_scale = sqrtf((float)c->n_embd);
        c->norm_plus_one = 1; /* transformers stores w; the norm multiplies by 1 + w */
        if (isfinite(h->query_pre_attn_scalar) && h->query_pre_attn_scalar > 0)
            c->attn_scale = (float)(1.0 / sqrt(h->query_pre_attn_scalar));
    }
    if (!strncmp(h->hidden_act, "gelu", 4)) c->gelu_mlp = 1;
    return QUANTA_OK;
}

static int num_at(const qn_json *o, const char *a, const char *b, double *out) {
    const qn_json *v = o ? qn_json_get(o, a) : NULL;
    if (v && b) v = qn_json_get(v, b);
    if (!v || v->type != QN_JSON_NUMBER) return 0;
    *out = v->number;
    return 1;
}

/* Keys qn_hf_config does not read: transformers 5 writes the rope bases under
 * "rope_parameters" (per layer type for Gemma 3) and the layer pattern as "layer_types". */
static quanta_status read_extra(const char *path, qn_model_config *c) {
    qn_mapped_file f;
    quanta_status st = qn_map_file(path, "quanta_model_load: config.json", &f);
    if (st) return st;
    qn_json *root = NULL;
    st = qn_json_parse((const char *)f.data, f.size, 32, &root);
    qn_unmap_file(&f);
    if (st) return qn_error_set(QUANTA_ERR_CORRUPT, "quanta_model_load: config.json: %s", quanta_last_error());
    const qn_json *o = qn_json_get(root, "text_config");
    if (!o || o->type != QN_JSON_OBJECT) o = root;
    const qn_json *rp = qn_json_get(o, "rope_parameters");
    double v;
    if (rp && rp->type == QN_JSON_OBJECT) {
        if (num_at(rp, "rope_theta", NULL, &v)) c->rope_base = c->rope_base_local = (float)v;
        if (num_at(rp, "full_attention", "rope_theta", &v)) c->rope_base = (float)v;
        if (num_at(rp, "sliding_attention", "rope_theta", &v)) c->rope_base_local = (float)v;
        const qn_json *full = qn_json_get(rp, "full_attention");
        const qn_json *rt = qn_json_get(full ? full : rp, "rope_type");
        if (rt && rt->type == QN_JSON_STRING && strcmp(rt->str, "default") && strcmp(rt->str, "linear"))
            st = qn_error_set(QUANTA_ERR_UNSUPPORTED, "quanta_model_load: rope_type '%s' (default, linear)", rt->str);
        if (!st && rt && rt->type == QN_JSON_STRING && !strcmp(rt->str, "linear") && num_at(full ? full : rp, "factor", NULL, &v) && v > 0)
            c->rope_freq_scale = (float)(1.0 / v);
    }
    const qn_json *lt = qn_json_get(o, "layer_types");
    if (!st && lt && lt->type == QN_JSON_ARRAY && c->sliding_window > 0) {
        /* Must be "k-1 sliding, then one full" repeated: that is what the graph encodes. */
        int pattern = 0;
        for (size_t i = 0; i < lt->count && !pattern; i++)
            if (lt->items[i].type == QN_JSON_STRING && !strcmp(lt->items[i].str, "full_attention")) pattern = (int)i + 1;
        c->swa_pattern = pattern ? pattern : (int32_t)lt->count + 1;
        for (size_t i = 0; i < lt->count && !st; i++) {
            int full = lt->items[i].type == QN_JSON_STRING && !strcmp(lt->items[i].str, "full_attention");
            if (full == qn_model_layer_is_local(c, (int)i))
                st = qn_error_set(QUANTA_ERR_UNSUPPORTED, "quanta_model_load: layer_types: irregular at layer %zu", i);
        }
    }
    qn_json_free(root);
    return st;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

static quanta_status open_shards(const char *dir, st_set *s) {
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    struct stat sb;
    if (stat(path, &sb) == 0) {
        s->n = 1;
        return qn_st_open(path, &s->f[0]);
    }
    /* Shards: every *.safetensors file of the directory, in name order. */
    DIR *d = opendir(dir);
    if (!d) return qn_error_set(QUANTA_ERR_IO, "quanta_model_load: cannot list '%s'", dir);
    char *names[MAX_SHARDS];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < MAX_SHARDS)
        if (ends_with(e->d_name, ".safetensors")) names[n++] = strdup(e->d_name);
    closedir(d);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (names[i] && names[j] && strcmp(names[j], names[i]) < 0) {
                char *x = names[i];
                names[i] = names[j];
                names[j] = x;
            }
    quanta_status st = n ? QUANTA_OK : qn_error_set(QUANTA_ERR_IO, "quanta_model_load: no .safetensors file in '%s'", dir);
    for (int i = 0; i < n; i++) {
        if (!st && !names[i]) st = qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_model_load: no memory");
        if (!st) {
            snprintf(path, sizeof path, "%s/%s", dir, names[i]);
            st = qn_st_open(path, &s->f[s->n]);
            if (!st) s->n++;
        }
        free(names[i]);
    }
    /* A tensor in two shards is ambiguous (which one would load depends on file order). */
    for (int i = 1; i < s->n && !st; i++)
        for (uint64_t k = 0; k < qn_st_tensor_count(s->f[i]) && !st; k++) {
            const char *name = qn_st_tensor_at(s->f[i], k)->name;
            for (int j = 0; j < i && !st; j++)
                if (qn_st_find(s->f[j], name))
                    st = qn_error_set(QUANTA_ERR_CORRUPT, "quanta_model_load: tensor '%s' is in two shards (files %d and %d "
                                      "in name order)", name, j + 1, i + 1);
        }
    return st;
}

/* tokenizer_config.json's "chat_template" (a string; absent file or key: none). */
static quanta_status read_chat_template(const char *dir, quanta_model *m) {
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    struct stat sb;
    if (stat(path, &sb) != 0) return QUANTA_OK;
    qn_mapped_file f;
    quanta_status st = qn_map_file(path, "quanta_model_load: tokenizer_config.json", &f);
    if (st) return st;
    qn_json *root = NULL;
    st = qn_json_parse((const char *)f.data, f.size, 32, &root);
    qn_unmap_file(&f);
    if (st) return qn_error_set(QUANTA_ERR_CORRUPT, "quanta_model_load: tokenizer_config.json: %s", quanta_last_error());
    const qn_json *t = qn_json_get(root, "chat_template");
    if (t && t->type == QN_JSON_STRING && !(m->chat_template = strdup(t->str)))
        st = qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_model_load: no memory for the chat template");
    qn_json_free(root);
    return st;
}

quanta_status qn_model_from_hf_dir(const char *dir, quanta_backend *backend, const quanta_model_params *params,
                                   quanta_comm *comm, quanta_model **out) {
    *out = NULL;
    char path[4096];
    qn_hf_config h;
    snprintf(path, sizeof path, "%s/config.json", dir);
    quanta_status st = qn_hf_config_load(path, &h);
    if (st) return st;
    qn_model_config cfg;
    if ((st = config_from_hf(&h, &cfg))) return st;
    if ((st = read_extra(path, &cfg))) return st;
    qn_tokenizer *tok = NULL;
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    int32_t bos = h.bos_token_id >= 0 && h.bos_token_id < (1 << 24) ? (int32_t)h.bos_token_id : -1;
    int32_t eos = h.eos_token_id >= 0 && h.eos_token_id < (1 << 24) ? (int32_t)h.eos_token_id : -1;
    if ((st = qn_tokenizer_from_json(path, bos, eos, &tok))) return st;
    st_set s;
    memset(&s, 0, sizeof s);
    s.arch = cfg.arch;
    if ((st = open_shards(dir, &s))) {
        qn_tokenizer_destroy(tok);
    } else {
        qn_weight_file wf = {&s, st_find};
        st = qn_model_build_tp(&cfg, tok, &wf, backend, params, comm, out);
        if (!st && (st = read_chat_template(dir, *out))) {
            quanta_model_destroy(*out);
            *out = NULL;
        }
    }
    for (int i = 0; i < s.n; i++) qn_st_close(s.f[i]);
    return st;
}

/* A directory, or a .safetensors file (its directory holds config.json and tokenizer.json). */
int qn_model_path_is_hf(const char *path, char *dir, size_t cap) {
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        snprintf(dir, cap, "%s", path);
        return 1;
    }
    if (ends_with(path, ".safetensors")) {
        snprintf(dir, cap, "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash) *slash = 0;
        else snprintf(dir, cap, ".");
        return 1;
    }
    return 0;
}
