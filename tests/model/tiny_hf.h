/*
 * tiny_hf.h — a tiny model (tiny_model.h) written as a Hugging Face transformers directory:
 * model.safetensors (f32, f16 or bf16 tensors), config.json and tokenizer.json (the tiny
 * vocabulary as a SentencePiece-style BPE with byte fallback). Shared by the tests that load
 * safetensors checkpoints (test_model_hf.c, test_load_threads.c).
 */
#ifndef QUANTA_TESTS_TINY_HF_H
#define QUANTA_TESTS_TINY_HF_H

#include <sys/stat.h>
#include <unistd.h>

#include "json_write.h"
#include "tiny_model.h"

enum { TINY_ST_F32, TINY_ST_F16, TINY_ST_BF16 };
static const char *const tiny_st_names[] = {"F32", "F16", "BF16"};

typedef struct st_entry {
    char name[96];
    int64_t rows, cols;
    const float *data;
    int dt;    /* TINY_ST_F32, _F16 or _BF16 */
    float add; /* written as data + add (Gemma norms: w - 1) */
} st_entry;

static inline void write_safetensors(const char *path, const st_entry *e, int n) {
    char *hdr = malloc(1 << 16);
    size_t hl = 0;
    uint64_t off = 0;
    hl += (size_t)snprintf(hdr + hl, (1 << 16) - hl, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (int i = 0; i < n; i++) {
        uint64_t bytes = (uint64_t)(e[i].rows ? e[i].rows : 1) * (uint64_t)e[i].cols * (e[i].dt ? 2 : 4);
        if (e[i].rows)
            hl += (size_t)snprintf(hdr + hl, (1 << 16) - hl, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%lld,%lld],\"data_offsets\":[%llu,%llu]}",
                                   e[i].name, tiny_st_names[e[i].dt], (long long)e[i].rows, (long long)e[i].cols,
                                   (unsigned long long)off, (unsigned long long)(off + bytes));
        else
            hl += (size_t)snprintf(hdr + hl, (1 << 16) - hl, ",\"%s\":{\"dtype\":\"F32\",\"shape\":[%lld],\"data_offsets\":[%llu,%llu]}",
                                   e[i].name, (long long)e[i].cols, (unsigned long long)off, (unsigned long long)(off + bytes));
        off += bytes;
    }
    hl += (size_t)snprintf(hdr + hl, (1 << 16) - hl, "}");
    while (hl % 8) hdr[hl++] = ' ';
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    uint64_t n64 = hl;
    fwrite(&n64, 8, 1, f);
    fwrite(hdr, 1, hl, f);
    for (int i = 0; i < n; i++) {
        size_t cnt = (size_t)(e[i].rows ? e[i].rows : 1) * (size_t)e[i].cols;
        for (size_t j = 0; j < cnt; j++) {
            float v = e[i].data[j] + e[i].add;
            if (e[i].dt) {
                uint16_t h = e[i].dt == TINY_ST_F16 ? quanta_f32_to_f16(v) : quanta_f32_to_bf16(v);
                fwrite(&h, 2, 1, f);
            } else {
                fwrite(&v, 4, 1, f);
            }
        }
    }
    fclose(f);
    free(hdr);
}

/* Writes the checkpoint of tm into dir (created): every tensor f32 (blk.0's up projection f16
 * if the spec says so), or with mat_dt every matrix in that dtype (vectors stay f32). */
static inline void write_hf_dir_as(const tiny_model *tm, const char *dir, const char *skip, int mat_dt) {
    mkdir(dir, 0755);
    const tiny_spec *s = &tm->s;
    int gem = !strcmp(s->arch, "gemma3");
    float na = gem ? -1.0f : 0.0f; /* transformers stores Gemma norms as w - 1 */
    int E = s->n_embd, Q = s->n_head * s->head_dim, KV = s->n_head_kv * s->head_dim, F = s->n_ff;
    st_entry *e = calloc(512, sizeof *e);
    int n = 0;
#define ENT(nm, r, c, d, h, a)                                                    \
    do {                                                                          \
        if ((d) && !(skip && strstr(nm, skip))) {                                 \
            snprintf(e[n].name, sizeof e[n].name, "%s", nm);                      \
            e[n].rows = r, e[n].cols = c, e[n].data = d, e[n].dt = (r) && mat_dt ? mat_dt : h, e[n].add = a; \
            n++;                                                                  \
        }                                                                         \
    } while (0)
    ENT("model.embed_tokens.weight", s->n_vocab, E, tm->embd, 0, 0);
    ENT("model.norm.weight", 0, E, tm->out_norm, 0, na);
    ENT("lm_head.weight", s->n_vocab, E, tm->output, 0, 0);
    for (int l = 0; l < s->n_layer; l++) {
        const tiny_layer *t = &tm->L[l];
        char nm[96];
#define LENT(suffix, r, c, d, h, a)                                 \
        do {                                                        \
            snprintf(nm, sizeof nm, "model.layers.%d.%s", l, suffix); \
            ENT(nm, r, c, d, h, a);                                 \
        } while (0)
        LENT("input_layernorm.weight", 0, E, t->attn_norm, 0, na);
        LENT("self_attn.q_proj.weight", Q, E, t->wq, 0, 0);
        LENT("self_attn.k_proj.weight", KV, E, t->wk, 0, 0);
        LENT("self_attn.v_proj.weight", KV, E, t->wv, 0, 0);
        LENT("self_attn.o_proj.weight", E, Q, t->wo, 0, 0);
        LENT("self_attn.q_proj.bias", 0, Q, t->bq, 0, 0);
        LENT("self_attn.k_proj.bias", 0, KV, t->bk, 0, 0);
        LENT("self_attn.v_proj.bias", 0, KV, t->bv, 0, 0);
        LENT("self_attn.q_norm.weight", 0, s->head_dim, t->q_norm, 0, na);
        LENT("self_attn.k_norm.weight", 0, s->head_dim, t->k_norm, 0, na);
        LENT(gem ? "post_attention_layernorm.weight" : "unused.a", 0, E, gem ? t->post_attn_norm : NULL, 0, na);
        LENT(gem ? "pre_feedforward_layernorm.weight" : "post_attention_layernorm.weight", 0, E, t->ffn_norm, 0, na);
        LENT("post_feedforward_layernorm.weight", 0, E, t->post_ffn_norm, 0, na);
        LENT("mlp.gate_proj.weight", F, E, t->w_gate, 0, 0);
        LENT("mlp.up_proj.weight", F, E, t->w_up, s->f16_tensor && l == 0 ? TINY_ST_F16 : TINY_ST_F32, 0);
        LENT("mlp.down_proj.weight", E, F, t->w_down, 0, 0);
#undef LENT
    }
#undef ENT
    char path[512];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    write_safetensors(path, e, n);
    free(e);
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    fprintf(f,
            "{\"architectures\": [\"tiny\"], \"model_type\": \"%s\", \"hidden_size\": %d, \"intermediate_size\": %d,\n"
            " \"num_hidden_layers\": %d, \"num_attention_heads\": %d, \"num_key_value_heads\": %d, \"head_dim\": %d,\n"
            " \"vocab_size\": %d, \"max_position_embeddings\": 256, \"rms_norm_eps\": 1e-06, \"rope_theta\": %g,\n"
            " \"bos_token_id\": 1, \"eos_token_id\": 2, \"tie_word_embeddings\": %s%s%s}\n",
            gem ? "gemma3_text" : s->arch, E, F, s->n_layer, s->n_head, s->n_head_kv, s->head_dim, s->n_vocab,
            (double)s->rope_base, tm->output ? "false" : "true",
            gem ? ", \"hidden_activation\": \"gelu_pytorch_tanh\", \"query_pre_attn_scalar\": " : "",
            gem ? "16, \"rope_local_base_freq\": 10000.0, \"sliding_window\": 4, \"sliding_window_pattern\": 6" : "");
    fclose(f);
    /* tokenizer.json: the tiny vocabulary as a SentencePiece-style BPE with byte fallback. */
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    f = fopen(path, "w");
    fprintf(f, "{\"version\": \"1.0\", \"added_tokens\": [");
    const char *specials[] = {"<unk>", "<s>", "</s>"};
    for (int i = 0; i < 3; i++) fprintf(f, "{\"id\": %d, \"content\": \"%s\", \"special\": true},", i, specials[i]);
    fprintf(f, "{\"id\": %d, \"content\": \"<start_of_turn>\", \"special\": true}],\n", TINY_FIRST_PIECE + 19);
    fprintf(f, " \"normalizer\": {\"type\": \"Replace\", \"pattern\": {\"String\": \" \"}, \"content\": \"\\u2581\"},\n"
               " \"pre_tokenizer\": null, \"decoder\": {\"type\": \"Sequence\", \"decoders\": [{\"type\": \"ByteFallback\"}]},\n"
               " \"model\": {\"type\": \"BPE\", \"byte_fallback\": true, \"unk_token\": \"<unk>\", \"vocab\": {");
    for (int i = 0; i < s->n_vocab; i++) {
        char buf[32];
        if (i < 3) snprintf(buf, sizeof buf, "%s", specials[i]);
        else if (i < TINY_FIRST_PIECE) snprintf(buf, sizeof buf, "<0x%02X>", i - 3);
        else if (i < TINY_FIRST_PIECE + TINY_N_PIECES) snprintf(buf, sizeof buf, "%s", tiny_pieces[i - TINY_FIRST_PIECE]);
        else snprintf(buf, sizeof buf, "<unused%d>", i);
        if (i) fputc(',', f);
        qn_json_write_str(f, buf);
        fprintf(f, ": %d", i);
    }
    fprintf(f, "}, \"merges\": [\"t h\", \"h e\", \"\\u2581 t\", \"\\u2581t h\", \"\\u2581 th\", \"\\u2581th e\", "
               "[\"l\", \"l\"], \"l o\", \"\\u2581 a\"]}}\n");
    fclose(f);
}

static inline void write_hf_dir(const tiny_model *tm, const char *dir, const char *skip) {
    write_hf_dir_as(tm, dir, skip, TINY_ST_F32);
}

/* Removes what write_hf_dir wrote (and a tokenizer_config.json), then dir. */
static inline void rm_dir(const char *dir) {
    char p[512];
    const char *files[] = {"model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json"};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
}

#endif
