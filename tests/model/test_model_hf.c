/*
 * test_model_hf.c — Hugging Face checkpoints: the test writes a tiny random model as a
 * transformers directory (model.safetensors, config.json, tokenizer.json) for LLaMA, Qwen2 and
 * Gemma 3, loads it with quanta_model_load, and checks logits against the float64 reference
 * with transformers' conventions (q/k not permuted: NeoX rope; Gemma norms stored as w - 1),
 * the tokenizer.json tokenizer by hand-derived ids, and malformed checkpoints.
 */
#include <sys/stat.h>
#include <unistd.h>

#include "model_internal.h"
#include "json_write.h"
#include "qt_file.h"
#include "qt_check.h"
#include "tiny_hf.h"
#include "tiny_model.h"

static const tiny_spec HF_LLAMA = {"llama", 32, 4, 2, 8, 48, 2, 300, 0, 10000.0f, 1, 1};
static const tiny_spec HF_QWEN2 = {"qwen2", 32, 4, 1, 8, 40, 2, 300, 0, 1000000.0f, 0, 1};
static const tiny_spec HF_GEMMA3 = {"gemma3", 32, 2, 1, 16, 48, 7, 300, 4, 1000000.0f, 0, 1};

static char tmpdir[256];

static void make_tmp(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/quanta-hf-test-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

/* A tiny model of spec and a path for its Hugging Face directory in a fresh temporary folder,
 * and the reference backend; hf_done removes them all. */
typedef struct hf_fixture {
    tiny_model tm;
    char dir[300];
    quanta_backend *be;
} hf_fixture;

static void hf_setup(hf_fixture *fx, const tiny_spec *spec, uint64_t salt) {
    tiny_build(&fx->tm, spec, salt, NULL, NULL);
    make_tmp();
    snprintf(fx->dir, sizeof fx->dir, "%s/ckpt", tmpdir);
    ck_assert(quanta_backend_open("ref", &fx->be) == QUANTA_OK);
}

/* Writes the whole directory and loads it. */
static quanta_model *hf_load(hf_fixture *fx) {
    write_hf_dir(&fx->tm, fx->dir, NULL);
    quanta_model *m;
    ck_assert_msg(quanta_model_load(fx->dir, fx->be, NULL, &m) == QUANTA_OK, "%s", quanta_last_error());
    return m;
}

static void hf_done(hf_fixture *fx) {
    quanta_backend_close(fx->be);
    rm_dir(fx->dir);
    rmdir(tmpdir);
    tiny_free(&fx->tm);
}

static void check_hf(const tiny_spec *spec, uint64_t salt) {
    hf_fixture fx;
    hf_setup(&fx, spec, salt);
    quanta_model *m = hf_load(&fx);
    quanta_model_info info;
    ck_assert(quanta_model_get_info(m, &info) == QUANTA_OK);
    ck_assert_str_eq(info.arch, spec->arch);
    int V = spec->n_vocab, T = 9;
    quanta_model_context *ctx;
    ck_assert(quanta_model_context_create(m, 16, &ctx) == QUANTA_OK);
    int32_t ids[9] = {1, 270, 263, 299, 5, 17, 280, 281, 2};
    float *logits = malloc(sizeof(float) * V * T);
    double *want = malloc(sizeof(double) * V);
    qt_poison_f32(logits, (size_t)V * T);
    ck_assert(quanta_model_eval(ctx, ids, T, logits, (size_t)V * T) == QUANTA_OK);
    tiny_ref r;
    ref_init(&r, &fx.tm, 16);
    for (int t = 0; t < T; t++) {
        ref_step(&r, ids[t], want);
        double e = tiny_max_rel_err(logits + (size_t)t * V, want, V);
        ck_assert_msg(e < 2e-5, "%s (safetensors) position %d: max rel err %g", spec->arch, t, e);
    }
    ref_free(&r);
    /* The .safetensors file path works as well as the directory. */
    quanta_model *m2;
    char file[400];
    snprintf(file, sizeof file, "%s/model.safetensors", fx.dir);
    ck_assert_msg(quanta_model_load(file, fx.be, NULL, &m2) == QUANTA_OK, "%s", quanta_last_error());
    quanta_model_destroy(m2);
    free(logits);
    free(want);
    quanta_model_context_destroy(ctx);
    quanta_model_destroy(m);
    hf_done(&fx);
}

/* tokenizer_config.json's chat_template (a JSON string with escapes) is the model's template;
 * a malformed tokenizer_config.json fails the load naming the file. */
START_TEST(test_hf_chat_template) {
    hf_fixture fx;
    hf_setup(&fx, &HF_LLAMA, 103);
    write_hf_dir(&fx.tm, fx.dir, NULL);
    char path[400];
    snprintf(path, sizeof path, "%s/tokenizer_config.json", fx.dir);
    FILE *f = fopen(path, "w");
    ck_assert(f);
    fputs("{\"bos_token\": \"<s>\", \"chat_template\": \"{% for m in messages %}<|im_start|>{{ m['role'] }}\\n"
          "{{ m['content'] }}<|im_end|>\\n{% endfor %}\"}", f);
    fclose(f);
    quanta_model *m;
    ck_assert_msg(quanta_model_load(fx.dir, fx.be, NULL, &m) == QUANTA_OK, "%s", quanta_last_error());
    const char *text;
    quanta_chat_template t;
    ck_assert(quanta_model_chat_template_text(m, &text) == QUANTA_OK);
    ck_assert_str_eq(text, "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}");
    ck_assert(quanta_model_chat_template(m, &t) == QUANTA_OK);
    ck_assert_int_eq(t, QUANTA_CHAT_CHATML);
    quanta_model_destroy(m);
    f = fopen(path, "w");
    ck_assert(f);
    fputs("{\"chat_template\": ", f);
    fclose(f);
    m = NULL;
    QT_EXPECT_ERR(quanta_model_load(fx.dir, fx.be, NULL, &m), QUANTA_ERR_CORRUPT, "tokenizer_config.json");
    ck_assert_ptr_null(m);
    hf_done(&fx);
}
END_TEST

START_TEST(test_hf_llama) { check_hf(&HF_LLAMA, 101); }
END_TEST
START_TEST(test_hf_qwen2) { check_hf(&HF_QWEN2, 102); }
END_TEST
START_TEST(test_hf_gemma3) { check_hf(&HF_GEMMA3, 103); }
END_TEST

START_TEST(test_hf_tokenizer) {
    hf_fixture fx;
    hf_setup(&fx, &HF_LLAMA, 104);
    quanta_model *m = hf_load(&fx);
    const char *text = "hello the <start_of_turn>x";
    int32_t ids[64];
    size_t n;
    ck_assert(quanta_model_tokenize(m, text, strlen(text), 1, 1, ids, 64, &n) == QUANTA_OK);
    /* By transformers' BPE rules on these merges: h e|l l -> he, ll, o; ▁ t h e -> t h (0),
     * ▁ th (4), ▁th e (5) -> ▁the; the lone ▁ stays; <start_of_turn> is an added token; x is
     * not in the vocabulary and falls back to its byte. */
    int32_t want[] = {1, TINY_FIRST_PIECE + 11, TINY_FIRST_PIECE + 15, TINY_FIRST_PIECE + 8, TINY_FIRST_PIECE + 14,
                      TINY_FIRST_PIECE + 0, TINY_FIRST_PIECE + 19, 3 + 'x'};
    ck_assert_uint_eq(n, sizeof want / sizeof *want);
    for (size_t i = 0; i < n; i++) ck_assert_int_eq(ids[i], want[i]);
    /* "th" + "e" has no merge rule, so " the" without the ▁th route stays split: "the" -> th, e. */
    ck_assert(quanta_model_tokenize(m, "the", 3, 0, 0, ids, 64, &n) == QUANTA_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(ids[0], TINY_FIRST_PIECE + 10);
    ck_assert_int_eq(ids[1], TINY_FIRST_PIECE + 5);
    char buf[64];
    size_t len;
    ck_assert(quanta_model_detokenize(m, want, sizeof want / sizeof *want, 0, buf, sizeof buf, &len) == QUANTA_OK);
    ck_assert_str_eq(buf, "hello the x");
    quanta_model_destroy(m);
    hf_done(&fx);
}
END_TEST

START_TEST(test_hf_malformed) {
    hf_fixture fx;
    hf_setup(&fx, &HF_LLAMA, 105);
    quanta_model *m = NULL;
    /* A missing tensor is named. */
    write_hf_dir(&fx.tm, fx.dir, "layers.1.mlp.down_proj");
    ck_assert_int_eq(quanta_model_load(fx.dir, fx.be, NULL, &m), QUANTA_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(quanta_last_error(), "blk.1.ffn_down.weight"));
    ck_assert_ptr_null(m);
    /* No tokenizer.json. */
    char p[400];
    snprintf(p, sizeof p, "%s/tokenizer.json", fx.dir);
    unlink(p);
    ck_assert_int_eq(quanta_model_load(fx.dir, fx.be, NULL, &m), QUANTA_ERR_IO);
    /* Unsupported model_type / broken config. */
    write_hf_dir(&fx.tm, fx.dir, NULL);
    snprintf(p, sizeof p, "%s/config.json", fx.dir);
    FILE *f = fopen(p, "w");
    fprintf(f, "{\"model_type\": \"mamba\", \"hidden_size\": 8, \"intermediate_size\": 8, \"num_hidden_layers\": 1,"
               " \"num_attention_heads\": 1, \"vocab_size\": 300}");
    fclose(f);
    ck_assert_int_eq(quanta_model_load(fx.dir, fx.be, NULL, &m), QUANTA_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(quanta_last_error(), "mamba"));
    f = fopen(p, "w");
    fprintf(f, "{\"model_type\": \"llama\", \"hidden_size\": 32,");
    fclose(f);
    ck_assert_int_eq(quanta_model_load(fx.dir, fx.be, NULL, &m), QUANTA_ERR_CORRUPT);
    /* A tokenizer.json of another model type. */
    write_hf_dir(&fx.tm, fx.dir, NULL);
    snprintf(p, sizeof p, "%s/tokenizer.json", fx.dir);
    f = fopen(p, "w");
    fprintf(f, "{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}");
    fclose(f);
    ck_assert_int_eq(quanta_model_load(fx.dir, fx.be, NULL, &m), QUANTA_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(quanta_last_error(), "Unigram"));
    hf_done(&fx);
}
END_TEST

/* Strictness (issue #10): an untied head that is missing, and a tensor in two shards, are
 * CORRUPT instead of silently using the embedding or whichever shard comes first. */
START_TEST(test_hf_strict) {
    hf_fixture fx;
    hf_setup(&fx, &HF_LLAMA, 106);
    ck_assert_ptr_nonnull(fx.tm.output); /* config.json says tie_word_embeddings: false */
    quanta_model *m = NULL;
    write_hf_dir(&fx.tm, fx.dir, "lm_head");
    ck_assert_int_eq(quanta_model_load(fx.dir, fx.be, NULL, &m), QUANTA_ERR_CORRUPT);
    ck_assert_msg(strstr(quanta_last_error(), "output.weight"), "%s", quanta_last_error());
    ck_assert_ptr_null(m);
    /* the same checkpoint as two shards: every tensor twice */
    write_hf_dir(&fx.tm, fx.dir, NULL);
    char a[400], b[400], c[400];
    snprintf(a, sizeof a, "%s/model.safetensors", fx.dir);
    snprintf(b, sizeof b, "%s/model-00001-of-00002.safetensors", fx.dir);
    snprintf(c, sizeof c, "%s/model-00002-of-00002.safetensors", fx.dir);
    size_t n = 0;
    unsigned char *bytes = qt_slurp(a, &n);
    ck_assert_ptr_nonnull(bytes);
    qt_spit(b, bytes, n);
    qt_spit(c, bytes, n);
    free(bytes);
    unlink(a);
    ck_assert_int_eq(quanta_model_load(fx.dir, fx.be, NULL, &m), QUANTA_ERR_CORRUPT);
    ck_assert_msg(strstr(quanta_last_error(), "two shards"), "%s", quanta_last_error());
    ck_assert_ptr_null(m);
    /* one shard only: loads */
    unlink(c);
    ck_assert_msg(quanta_model_load(fx.dir, fx.be, NULL, &m) == QUANTA_OK, "%s", quanta_last_error());
    quanta_model_destroy(m);
    unlink(b);
    hf_done(&fx);
}
END_TEST

int main(void) {
    Suite *s = suite_create("model_hf");
    TCase *tc = tcase_create("hf");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_hf_llama);
    tcase_add_test(tc, test_hf_chat_template);
    tcase_add_test(tc, test_hf_qwen2);
    tcase_add_test(tc, test_hf_gemma3);
    tcase_add_test(tc, test_hf_tokenizer);
    tcase_add_test(tc, test_hf_malformed);
    tcase_add_test(tc, test_hf_strict);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
