/*
 * make_shape_model.c — writes a random-weight GGUF with the exact shape of Gemma 3 270M (or a
 * LLaMA-style model of given size) for speed measurements where the real file cannot go (the
 * device machine has no network): `quanta generate -m OUT.gguf --backend cuda ...`.
 * Not a test. Usage: make_shape_model OUT.gguf [gemma3|llama1b]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "quanta.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float frand(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)((rng >> 40) * (1.0 / 16777216.0)) - 0.5f;
}

static int add(qn_gguf_writer *w, const char *name, int64_t rows, int64_t cols, float sd, float mean) {
    size_t n = (size_t)cols * (size_t)(rows ? rows : 1);
    int64_t dims[2] = {cols, rows};
    quanta_status st;
    if (rows) {
        uint16_t *h = malloc(n * 2);
        for (size_t i = 0; i < n; i++) h[i] = quanta_f32_to_f16(mean + sd * frand());
        st = qn_gguf_writer_add_tensor(w, name, 2, dims, 1, h, n * 2);
        free(h);
    } else {
        float *f = malloc(n * 4);
        for (size_t i = 0; i < n; i++) f[i] = mean + sd * frand();
        st = qn_gguf_writer_add_tensor(w, name, 1, dims, 0, f, n * 4);
        free(f);
    }
    if (st) fprintf(stderr, "%s: %s\n", name, quanta_last_error());
    return st != QUANTA_OK;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: make_shape_model OUT.gguf [gemma3|llama1b]\n");
        return 2;
    }
    int gem = argc < 3 || !strcmp(argv[2], "gemma3");
    const char *arch = gem ? "gemma3" : "llama";
    int E = gem ? 640 : 2048, L = gem ? 18 : 16, F = gem ? 2048 : 8192, H = gem ? 4 : 32, HKV = gem ? 1 : 8;
    int D = gem ? 256 : 64, V = gem ? 262144 : 128256;
    qn_gguf_writer *w;
    if (qn_gguf_writer_create(&w)) return 1;
    char key[128];
#define KEY(k) (snprintf(key, sizeof key, "%s.%s", arch, k), key)
    qn_gguf_writer_set_str(w, "general.architecture", arch);
    qn_gguf_writer_set_str(w, "general.name", gem ? "random weights, Gemma 3 270M shape" : "random weights, LLaMA 3.2 1B shape");
    qn_gguf_writer_set_u32(w, KEY("context_length"), 32768);
    qn_gguf_writer_set_u32(w, KEY("embedding_length"), (uint32_t)E);
    qn_gguf_writer_set_u32(w, KEY("block_count"), (uint32_t)L);
    qn_gguf_writer_set_u32(w, KEY("feed_forward_length"), (uint32_t)F);
    qn_gguf_writer_set_u32(w, KEY("attention.head_count"), (uint32_t)H);
    qn_gguf_writer_set_u32(w, KEY("attention.head_count_kv"), (uint32_t)HKV);
    qn_gguf_writer_set_u32(w, KEY("attention.key_length"), (uint32_t)D);
    qn_gguf_writer_set_u32(w, KEY("attention.value_length"), (uint32_t)D);
    qn_gguf_writer_set_f32(w, KEY("attention.layer_norm_rms_epsilon"), 1e-6f);
    qn_gguf_writer_set_f32(w, KEY("rope.freq_base"), gem ? 1e6f : 500000.0f);
    if (gem) qn_gguf_writer_set_u32(w, KEY("attention.sliding_window"), 512);
    char **text = malloc((size_t)V * sizeof *text);
    float *scores = calloc((size_t)V, sizeof *scores);
    int32_t *types = malloc((size_t)V * sizeof *types);
    for (int i = 0; i < V; i++) {
        char buf[32];
        types[i] = 1;
        if (i < 3) snprintf(buf, sizeof buf, "<special%d>", i), types[i] = 3;
        else if (i < 259) snprintf(buf, sizeof buf, "<0x%02X>", i - 3), types[i] = 6;
        else snprintf(buf, sizeof buf, "tok%d", i);
        text[i] = strdup(buf);
        scores[i] = -(float)i;
    }
    qn_gguf_writer_set_str(w, "tokenizer.ggml.model", "llama");
    qn_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)text, (uint64_t)V);
    qn_gguf_writer_set_arr_f32(w, "tokenizer.ggml.scores", scores, (uint64_t)V);
    qn_gguf_writer_set_arr_i32(w, "tokenizer.ggml.token_type", types, (uint64_t)V);
    qn_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1);
    qn_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2);
    qn_gguf_writer_set_bool(w, "tokenizer.ggml.add_space_prefix", 0);
    int bad = add(w, "token_embd.weight", V, E, 0.05f, 0);
    bad += add(w, "output_norm.weight", 0, E, 0.1f, 1.0f);
    char nm[64];
    for (int l = 0; l < L && !bad; l++) {
#define T(suffix, r, c, sd, mean)                              \
    do {                                                        \
        snprintf(nm, sizeof nm, "blk.%d." suffix, l);           \
        bad += add(w, nm, r, c, sd, mean);                      \
    } while (0)
        T("attn_norm.weight", 0, E, 0.1f, 1.0f);
        T("attn_q.weight", H * D, E, 0.05f, 0);
        T("attn_k.weight", HKV * D, E, 0.05f, 0);
        T("attn_v.weight", HKV * D, E, 0.05f, 0);
        T("attn_output.weight", E, H * D, 0.05f, 0);
        T("ffn_norm.weight", 0, E, 0.1f, 1.0f);
        T("ffn_gate.weight", F, E, 0.05f, 0);
        T("ffn_up.weight", F, E, 0.05f, 0);
        T("ffn_down.weight", E, F, 0.05f, 0);
        if (gem) {
            T("attn_q_norm.weight", 0, D, 0.1f, 1.0f);
            T("attn_k_norm.weight", 0, D, 0.1f, 1.0f);
            T("post_attention_norm.weight", 0, E, 0.1f, 1.0f);
            T("post_ffw_norm.weight", 0, E, 0.1f, 1.0f);
        }
#undef T
    }
    quanta_status st = bad ? QUANTA_ERR_INVALID_ARGUMENT : qn_gguf_writer_write(w, argv[1]);
    if (st) fprintf(stderr, "make_shape_model: %s\n", quanta_last_error());
    qn_gguf_writer_destroy(w);
    for (int i = 0; i < V; i++) free(text[i]);
    free(text);
    free(scores);
    free(types);
    return st ? 1 : 0;
}
