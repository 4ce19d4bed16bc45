/* test_quantize.c — `quanta quantize` end to end, in-process (qn_cmd_quantize): tiny GGUF and
 * safetensors checkpoints made here, the per-tensor format choices, metadata, percentile
 * clipping, option errors. Expected bytes are computed independently in the test. */
#include "test_util.h"

#include <unistd.h>

#include "commands.h"
#include "formats.h"
#include "gguf.h"

static char dir[] = "/tmp/quanta_test_quantize_XXXXXX";
static char in_path[256], out_path[256];
enum { V = 16, D = 128, R = 8 };
static float embd[V * D], up[R * D], odd[4 * 48], cube[16];
static uint16_t norm_h[D];
static uint8_t q8src[2 * 2 * 34];

static int run(int argc, const char **argv) {
    fflush(stdout);
    return qn_cmd_quantize(argc, (char **)argv);
}

static void make_gguf(void) {
    qt_rng r = qt_rng_make(11);
    qt_fill_normal(&r, embd, V * D, 0.02f);
    qt_fill_normal(&r, up, R * D, 0.05f);
    up[3 * D + 17] = 2.0f; /* an outlier in row 3 */
    qt_fill_normal(&r, odd, 4 * 48, 0.05f);
    qt_fill_normal(&r, cube, 16, 1.0f);
    for (int i = 0; i < D; i++) norm_h[i] = quanta_f32_to_f16(1.0f + (float)i / 256.0f);
    for (size_t i = 0; i < sizeof q8src; i++) q8src[i] = (uint8_t)(qt_next(&r) & 0x7F);
    for (int b = 0; b < 4; b++) q8src[b * 34] = 0x00, q8src[b * 34 + 1] = 0x20; /* d = 2^-7 */
    qn_gguf_writer *w;
    ck_assert_int_eq(qn_gguf_writer_create(&w), QUANTA_OK);
    qn_gguf_writer_set_str(w, "general.architecture", "llama");
    qn_gguf_writer_set_u32(w, "llama.block_count", 1);
    qn_gguf_writer_set_u32(w, "general.file_type", 7);
    int64_t de[2] = { D, V }, dn[1] = { D }, du[2] = { D, R }, dodd[2] = { 48, 4 }, dq[2] = { 64, 2 }, dc[3] = { 4, 2, 2 };
    ck_assert_int_eq(qn_gguf_writer_add_tensor(w, "token_embd.weight", 2, de, QN_GGML_F32, embd, sizeof embd), QUANTA_OK);
    ck_assert_int_eq(qn_gguf_writer_add_tensor(w, "blk.0.attn_norm.weight", 1, dn, QN_GGML_F16, norm_h, sizeof norm_h), QUANTA_OK);
    ck_assert_int_eq(qn_gguf_writer_add_tensor(w, "blk.0.ffn_up.weight", 2, du, QN_GGML_F32, up, sizeof up), QUANTA_OK);
    ck_assert_int_eq(qn_gguf_writer_add_tensor(w, "blk.0.odd.weight", 2, dodd, QN_GGML_F32, odd, sizeof odd), QUANTA_OK);
    ck_assert_int_eq(qn_gguf_writer_add_tensor(w, "blk.0.q8src.weight", 2, dq, QN_GGML_Q8_0, q8src, 2 * 68), QUANTA_OK);
    ck_assert_int_eq(qn_gguf_writer_add_tensor(w, "blk.0.cube", 3, dc, QN_GGML_F32, cube, sizeof cube), QUANTA_OK);
    ck_assert_int_eq(qn_gguf_writer_write(w, in_path), QUANTA_OK);
    qn_gguf_writer_destroy(w);
}

static void setup(void) {
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(in_path, sizeof in_path, "%s/in.gguf", dir);
    snprintf(out_path, sizeof out_path, "%s/out.gguf", dir);
    make_gguf();
}

static void teardown(void) {
    char p[300];
    const char *files[] = { "in.gguf", "out.gguf", "model.safetensors", "config.json" };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
}

static const qn_gguf_tensor *must(const qn_gguf *g, const char *name) {
    const qn_gguf_tensor *t = qn_gguf_find_tensor(g, name);
    ck_assert_msg(t != NULL, "tensor %s missing", name);
    return t;
}

START_TEST(test_gguf_defaults_q4_g32) {
    const char *argv[] = { "quantize", "-m", in_path, "-o", out_path, "--quant", "q4:g32", "--keep-embeddings", "f16" };
    ck_assert_int_eq(run(9, argv), 0);
    qn_gguf *g;
    ck_assert_msg(qn_gguf_open(out_path, &g) == QUANTA_OK, "%s", quanta_last_error());
    /* metadata copied, ggml's file type dropped, ours added */
    qn_gguf_str s;
    ck_assert_int_eq(qn_gguf_get_str(g, "general.architecture", &s), QUANTA_OK);
    ck_assert(s.len == 5 && !memcmp(s.ptr, "llama", 5));
    ck_assert(!qn_gguf_has(g, "general.file_type"));
    ck_assert_int_eq(qn_gguf_get_str(g, "quanta.quant", &s), QUANTA_OK);
    ck_assert(s.len == 6 && !memcmp(s.ptr, "q4:g32", 6));
    /* embeddings -> f16, elementwise */
    const qn_gguf_tensor *te = must(g, "token_embd.weight");
    ck_assert_uint_eq(te->type, QN_GGML_F16);
    ck_assert_int_eq(te->dims[0], D);
    ck_assert_int_eq(te->dims[1], V);
    for (int i = 0; i < V * D; i++) {
        const uint8_t *p = (const uint8_t *)te->data + 2 * i;
        ck_assert_uint_eq((uint16_t)(p[0] | p[1] << 8), quanta_f32_to_f16(embd[i]));
    }
    /* 1-D f16 norm -> f32 holding the f16 values */
    const qn_gguf_tensor *tn = must(g, "blk.0.attn_norm.weight");
    ck_assert_uint_eq(tn->type, QN_GGML_F32);
    for (int i = 0; i < D; i++) {
        float f;
        memcpy(&f, (const uint8_t *)tn->data + 4 * i, 4);
        ck_assert_float_eq(f, quanta_f16_to_f32(norm_h[i]));
    }
    /* 2-D weight -> Quanta q4 group 32 (type 1000 + 17 + 100), bytes = quantizing the source */
    const qn_gguf_tensor *tu = must(g, "blk.0.ffn_up.weight");
    ck_assert_uint_eq(tu->type, 1117);
    quanta_tensor_desc d = { QUANTA_Q4, 2, { R, D }, 32, 0 };
    size_t nb;
    ck_assert_int_eq(quanta_tensor_bytes(&d, &nb), QUANTA_OK);
    void *want = malloc(nb);
    ck_assert_int_eq(quanta_quantize(&d, up, want, nb), QUANTA_OK);
    ck_assert_uint_eq(tu->bytes, nb);
    ck_assert(!memcmp(tu->data, want, nb));
    free(want);
    /* 48 columns do not fit groups of 32: f16 */
    ck_assert_uint_eq(must(g, "blk.0.odd.weight")->type, QN_GGML_F16);
    /* a Q8_0 source is imported and re-quantized */
    const qn_gguf_tensor *tq = must(g, "blk.0.q8src.weight");
    ck_assert_uint_eq(tq->type, 1117);
    float src[128];
    for (int b = 0; b < 4; b++)
        for (int j = 0; j < 32; j++) src[b * 32 + j] = (float)(int8_t)q8src[b * 34 + 2 + j] / 128.0f;
    quanta_tensor_desc dq = { QUANTA_Q4, 2, { 2, 64 }, 32, 0 };
    ck_assert_int_eq(quanta_tensor_bytes(&dq, &nb), QUANTA_OK);
    want = malloc(nb);
    ck_assert_int_eq(quanta_quantize(&dq, src, want, nb), QUANTA_OK);
    ck_assert(!memcmp(tq->data, want, nb));
    free(want);
    /* 3-D f32 copied as is */
    const qn_gguf_tensor *tc = must(g, "blk.0.cube");
    ck_assert_uint_eq(tc->type, QN_GGML_F32);
    ck_assert_int_eq(tc->ndim, 3);
    ck_assert(!memcmp(tc->data, cube, sizeof cube));
    qn_gguf_close(g);
}
END_TEST

static int cmpf(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

START_TEST(test_percentile_clip_q8) {
    const char *argv[] = { "quantize", "-m", in_path, "-o", out_path, "--quant", "q8:row", "--clip", "percentile:90",
                           "--keep-embeddings", "q8", "-q" };
    ck_assert_int_eq(run(12, argv), 0);
    qn_gguf *g;
    ck_assert_int_eq(qn_gguf_open(out_path, &g), QUANTA_OK);
    ck_assert_uint_eq(must(g, "token_embd.weight")->type, 1016);
    const qn_gguf_tensor *tu = must(g, "blk.0.ffn_up.weight");
    ck_assert_uint_eq(tu->type, 1016);
    float deq[R * D];
    qt_poison_f32(deq, R * D);
    ck_assert_int_eq(qn_gguf_tensor_to_f32(tu, deq, R * D), QUANTA_OK);
    for (int r = 0; r < R; r++) {
        /* nearest-rank 90th percentile of |w| over the row: sorted ascending, index ceil(0.9*D)-1 */
        float a[D];
        for (int j = 0; j < D; j++) a[j] = fabsf(up[r * D + j]);
        qsort(a, D, sizeof a[0], cmpf);
        float t = a[(int)ceil(0.9 * D) - 1], mx = 0;
        for (int j = 0; j < D; j++) mx = fmaxf(mx, fabsf(deq[r * D + j]));
        ck_assert_msg(fabsf(mx - t) <= 1e-6f * t, "row %d: max |w'| %g, percentile %g", r, (double)mx, (double)t);
    }
    /* the outlier was clipped */
    ck_assert_float_lt(deq[3 * D + 17], 1.0f);
    qn_gguf_close(g);
}
END_TEST

START_TEST(test_overrides_and_errors) {
    const char *a1[] = { "quantize", "-m", in_path, "-o", out_path, "--quant", "nf4", "--override", "blk.0.ffn_*=keep",
                         "--override", "token_embd.*=f32", "-q" };
    ck_assert_int_eq(run(12, a1), 0);
    qn_gguf *g;
    ck_assert_int_eq(qn_gguf_open(out_path, &g), QUANTA_OK);
    ck_assert_uint_eq(must(g, "blk.0.ffn_up.weight")->type, QN_GGML_F32);
    ck_assert(!memcmp(must(g, "blk.0.ffn_up.weight")->data, up, sizeof up));
    ck_assert_uint_eq(must(g, "token_embd.weight")->type, QN_GGML_F32);
    ck_assert_uint_eq(must(g, "blk.0.q8src.weight")->type, 1018); /* nf4 */
    qn_gguf_close(g);
    const char *no_quant[] = { "quantize", "-m", in_path, "-o", out_path };
    ck_assert_int_eq(run(5, no_quant), 2);
    const char *bad_quant[] = { "quantize", "-m", in_path, "-o", out_path, "--quant", "q3" };
    ck_assert_int_eq(run(7, bad_quant), 2);
    /* --calib needs a text that exists (test_calib.c covers calibration itself) */
    const char *calib[] = { "quantize", "-m", in_path, "-o", out_path, "--quant", "q8:row", "--calib", "/nonexistent.txt" };
    ck_assert_int_eq(run(9, calib), 1);
    const char *clip[] = { "quantize", "-m", in_path, "-o", out_path, "--quant", "q8", "--clip", "percentile:0" };
    ck_assert_int_eq(run(9, clip), 2);
    const char *missing[] = { "quantize", "-m", "/nonexistent.gguf", "-o", out_path, "--quant", "q8" };
    ck_assert_int_eq(run(7, missing), 1);
    const char *unknown[] = { "quantize", "--frobnicate", "x" };
    ck_assert_int_eq(run(3, unknown), 2);
}
END_TEST

START_TEST(test_safetensors_input) {
    char st_path[300], cfg_path[300];
    snprintf(st_path, sizeof st_path, "%s/model.safetensors", dir);
    snprintf(cfg_path, sizeof cfg_path, "%s/config.json", dir);
    const char *header = "{\"model.embed_tokens.weight\":{\"dtype\":\"F32\",\"shape\":[16,128],\"data_offsets\":[0,8192]},"
                         "\"model.layers.0.mlp.up_proj.weight\":{\"dtype\":\"BF16\",\"shape\":[8,128],\"data_offsets\":[8192,10240]},"
                         "\"model.norm.weight\":{\"dtype\":\"F32\",\"shape\":[128],\"data_offsets\":[10240,10752]}}";
    uint64_t hl = strlen(header);
    FILE *f = fopen(st_path, "wb");
    for (int i = 0; i < 8; i++) fputc((int)(hl >> (8 * i)) & 0xFF, f);
    fwrite(header, 1, hl, f);
    fwrite(embd, 4, V * D, f);
    for (int i = 0; i < R * D; i++) {
        uint16_t b = quanta_f32_to_bf16(up[i]);
        fputc(b & 0xFF, f);
        fputc(b >> 8, f);
    }
    for (int i = 0; i < D; i++) {
        float one = 1.0f;
        fwrite(&one, 4, 1, f);
    }
    fclose(f);
    f = fopen(cfg_path, "w");
    fputs("{\"model_type\":\"llama\",\"hidden_size\":128,\"intermediate_size\":8,\"num_hidden_layers\":1,"
          "\"num_attention_heads\":4,\"num_key_value_heads\":2,\"vocab_size\":16,\"rms_norm_eps\":1e-6,\"rope_theta\":10000}",
          f);
    fclose(f);
    const char *argv[] = { "quantize", "-m", st_path, "-o", out_path, "--quant", "q4", "-q", "--keep-embeddings", "f16" };
    ck_assert_int_eq(run(10, argv), 0);
    qn_gguf *g;
    ck_assert_int_eq(qn_gguf_open(out_path, &g), QUANTA_OK);
    uint64_t u;
    ck_assert_int_eq(qn_gguf_get_u64(g, "llama.attention.head_count_kv", &u), QUANTA_OK);
    ck_assert_uint_eq(u, 2);
    ck_assert_int_eq(qn_gguf_get_u64(g, "llama.attention.key_length", &u), QUANTA_OK);
    ck_assert_uint_eq(u, 32);
    ck_assert(qn_gguf_has(g, "quanta.hf_config_json"));
    const qn_gguf_tensor *t = must(g, "model.layers.0.mlp.up_proj.weight");
    ck_assert_uint_eq(t->type, 1017);
    ck_assert_int_eq(t->dims[0], D); /* ggml order: the row first */
    ck_assert_int_eq(t->dims[1], R);
    ck_assert_uint_eq(must(g, "model.embed_tokens.weight")->type, QN_GGML_F16);
    ck_assert_uint_eq(must(g, "model.norm.weight")->type, QN_GGML_F32);
    qn_gguf_close(g);
}
END_TEST

int main(void) {
    Suite *s = suite_create("quantize");
    TCase *tc = tcase_create("core");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_gguf_defaults_q4_g32);
    tcase_add_test(tc, test_percentile_clip_q8);
    tcase_add_test(tc, test_overrides_and_errors);
    tcase_add_test(tc, test_safetensors_input);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
