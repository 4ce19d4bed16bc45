/* make_seeds.c — writes small valid GGUF and safetensors files into a folder, as the fuzzers'
 * starting corpus: every metadata value type (nested arrays too), one tensor of each imported
 * ggml type and each Quanta type. Usage: make_seeds OUT_DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats.h"
#include "gguf.h"

static int save(const char *dir, const char *name, const void *data, size_t n) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return 1;
    int ok = fwrite(data, 1, n, f) == n;
    return (fclose(f) == 0 && ok) ? 0 : 1;
}

static int save_writer(qn_gguf_writer *w, const char *dir, const char *name) {
    void *img;
    size_t n;
    if (qn_gguf_writer_write_memory(w, &img, &n) != QUANTA_OK) {
        fprintf(stderr, "make_seeds: %s\n", quanta_last_error());
        return 1;
    }
    int r = save(dir, name, img, n);
    free(img);
    qn_gguf_writer_destroy(w);
    return r;
}

static const char *st_seed =
    "{\"__metadata__\":{\"format\":\"pt\"},"
    "\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
    "\"b\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[16,24]},"
    "\"c\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[24,28]},"
    "\"d\":{\"dtype\":\"F8_E4M3\",\"shape\":[4],\"data_offsets\":[28,32]}}";

int main(int argc, char **argv) {
    if (argc != 3 || (strcmp(argv[1], "gguf") && strcmp(argv[1], "safetensors"))) {
        fprintf(stderr, "usage: make_seeds gguf|safetensors OUT_DIR\n");
        return 2;
    }
    const char *dir = argv[2];
    int bad = 0;
    if (!strcmp(argv[1], "safetensors")) {
        size_t hl = strlen(st_seed);
        size_t n = 8 + hl + 32;
        unsigned char *b = calloc(1, n);
        for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)hl >> (8 * i));
        memcpy(b + 8, st_seed, hl);
        for (size_t i = 8 + hl; i < n; i++) b[i] = (unsigned char)(i * 37);
        bad |= save(dir, "seed_small.safetensors", b, n);
        free(b);
        return bad;
    }
    /* metadata of every type */
    qn_gguf_writer *w;
    qn_gguf_writer_create(&w);
    qn_gguf_writer_set_str(w, "general.architecture", "llama");
    qn_gguf_writer_set_u32(w, "llama.block_count", 2);
    qn_gguf_writer_set_i32(w, "x.i32", -5);
    qn_gguf_writer_set_u64(w, "x.u64", 1ull << 40);
    qn_gguf_writer_set_f32(w, "x.f32", 0.5f);
    qn_gguf_writer_set_bool(w, "x.bool", 1);
    const char *toks[] = { "<s>", "</s>", "a", "bc" };
    float scores[] = { 0, 0, -1, -2 };
    int32_t types[] = { 3, 3, 1, 1 };
    qn_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, 4);
    qn_gguf_writer_set_arr_f32(w, "tokenizer.ggml.scores", scores, 4);
    qn_gguf_writer_set_arr_i32(w, "tokenizer.ggml.token_type", types, 4);
    float f32[64];
    for (int i = 0; i < 64; i++) f32[i] = (float)(i - 32) / 8.0f;
    int64_t d1[1] = { 64 };
    qn_gguf_writer_add_tensor(w, "norm.weight", 1, d1, QN_GGML_F32, f32, sizeof f32);
    bad |= save_writer(w, dir, "seed_meta.gguf");

    /* one tensor of each ggml block type with patterned bytes */
    static const struct { uint32_t type; int block, bytes; } bt[] = {
        { QN_GGML_F16, 1, 2 },     { QN_GGML_BF16, 1, 2 },   { QN_GGML_Q4_0, 32, 18 }, { QN_GGML_Q4_1, 32, 20 },
        { QN_GGML_Q5_0, 32, 22 },  { QN_GGML_Q5_1, 32, 24 }, { QN_GGML_Q8_0, 32, 34 }, { QN_GGML_Q2_K, 256, 84 },
        { QN_GGML_Q3_K, 256, 110 }, { QN_GGML_Q4_K, 256, 144 }, { QN_GGML_Q5_K, 256, 176 }, { QN_GGML_Q6_K, 256, 210 },
        { QN_GGML_Q8_K, 256, 292 },
    };
    qn_gguf_writer_create(&w);
    qn_gguf_writer_set_u32(w, "general.alignment", 64);
    for (size_t k = 0; k < sizeof bt / sizeof bt[0]; k++) {
        int64_t dims[2] = { bt[k].block, 2 };
        size_t n = (size_t)bt[k].bytes * 2;
        unsigned char *b = malloc(n);
        for (size_t i = 0; i < n; i++) b[i] = (unsigned char)(i * 131 + k);
        /* keep f16 scales finite where they sit at byte 0 */
        for (size_t blk = 0; blk < 2 && bt[k].block > 1; blk++) b[blk * bt[k].bytes + 1] &= 0x3B;
        char name[32];
        snprintf(name, sizeof name, "t%u", (unsigned)bt[k].type);
        if (qn_gguf_writer_add_tensor(w, name, 2, dims, bt[k].type, b, n) != QUANTA_OK) bad = 1;
        free(b);
    }
    /* The same file truncated inside the tensor data and inside the tensor table, and with a
     * q4_k row of 128 (not a whole 256-block): loading such files must fail cleanly. */
    {
        void *img;
        size_t n;
        if (qn_gguf_writer_write_memory(w, &img, &n) == QUANTA_OK) {
            bad |= save(dir, "seed_blocks_trunc_data.gguf", img, n - 7);
            bad |= save(dir, "seed_blocks_trunc_half.gguf", img, n / 2);
            free(img);
        } else {
            bad = 1;
        }
    }
    bad |= save_writer(w, dir, "seed_blocks.gguf");
    {
        qn_gguf_writer_create(&w);
        int64_t dims[2] = { 256, 1 };
        unsigned char b[144];
        for (size_t i = 0; i < sizeof b; i++) b[i] = (unsigned char)(i * 29);
        b[1] = 0x3B, b[3] = 0x3B;
        qn_gguf_writer_add_tensor(w, "k", 2, dims, QN_GGML_Q4_K, b, sizeof b);
        void *img;
        size_t n;
        if (qn_gguf_writer_write_memory(w, &img, &n) == QUANTA_OK) {
            /* ne0 256 -> 128 in the tensor table (name "k", ndim 2, ne0): a partial K block */
            unsigned char *p = img;
            static const unsigned char pat[] = {'k', 2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
            for (size_t i = 0; i + sizeof pat <= n; i++)
                if (!memcmp(p + i, pat, sizeof pat)) {
                    p[i + 5] = 128, p[i + 6] = 0;
                    break;
                }
            bad |= save(dir, "seed_q4k_partial_block.gguf", img, n);
            free(img);
        } else {
            bad = 1;
        }
        qn_gguf_writer_destroy(w);
    }

    /* Quanta formats */
    qn_gguf_writer_create(&w);
    float m[4 * 128];
    for (int i = 0; i < 4 * 128; i++) m[i] = (float)((i * 7919) % 200 - 100) / 50.0f;
    quanta_tensor_desc descs[] = {
        { QUANTA_Q8, 2, { 4, 128 }, 0, 0 },        { QUANTA_Q4, 2, { 4, 128 }, 32, 0 },
        { QUANTA_Q4, 2, { 4, 128 }, 128, 0 },      { QUANTA_NF4, 2, { 4, 128 }, 64, 0 },
        { QUANTA_NF4, 2, { 4, 128 }, 64, 1 },      { QUANTA_FP8_E4M3, 2, { 4, 128 }, 0, 0 },
        { QUANTA_FP8_E5M2, 2, { 4, 128 }, 0, 0 },
    };
    for (size_t k = 0; k < sizeof descs / sizeof descs[0]; k++) {
        size_t n;
        uint32_t type;
        if (quanta_tensor_bytes(&descs[k], &n) != QUANTA_OK || qn_gguf_type_for_desc(&descs[k], &type) != QUANTA_OK) {
            bad = 1;
            continue;
        }
        void *q = malloc(n);
        int64_t dims[2] = { 128, 4 };
        char name[32];
        snprintf(name, sizeof name, "q%zu", k);
        if (quanta_quantize(&descs[k], m, q, n) != QUANTA_OK ||
            qn_gguf_writer_add_tensor(w, name, 2, dims, type, q, n) != QUANTA_OK) {
            fprintf(stderr, "make_seeds: %s\n", quanta_last_error());
            bad = 1;
        }
        free(q);
    }
    bad |= save_writer(w, dir, "seed_quanta.gguf");
    return bad;
}
