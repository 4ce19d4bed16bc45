/*
 * test_kv_growth.c — a context's KV cache is reserved as positions are used (issue #10, defect
 * 3): a context of 2^30 positions is created at once with a cache of 256 rows; evaluating past
 * 256 grows it (to 512, then 1024) and the logits of every position still match the independent
 * float64 pass (tiny_model.h), for LLaMA and for Gemma 3 (whose sliding-window layers keep their
 * ring); a growth the backend's memory limit refuses fails that eval with OUT_OF_MEMORY, leaves
 * the context where it was, and succeeds once memory is there. Batched decode grows too.
 */
#include "tiny_model.h"

static const tiny_spec SPEC_LLAMA = {"llama", 32, 4, 2, 8, 48, 2, 300, 0, 10000.0f, 0, 0};
static const tiny_spec SPEC_GEMMA3 = {"gemma3", 32, 2, 1, 16, 48, 7, 300, 4, 1000000.0f, 0, 0};
enum { HUGE_CTX = 1 << 30, POSITIONS = 600 };

static uint64_t kv_bytes(quanta_model *m, quanta_model_context *c) {
    quanta_model_memory mem;
    ck_assert(quanta_model_memory_report(m, c, &mem) == QUANTA_OK);
    return mem.kv_cache_bytes;
}

/* Bytes of the cache when the full-context layers hold `rows` rows (rings stay). */
static uint64_t expect_bytes(const tiny_spec *s, int rows) {
    uint64_t total = 0;
    int step = s->window < 256 ? s->window : 256;
    int ring = s->window > 0 ? (s->window + 2 * step - 2) / step * step : 0;
    for (int l = 0; l < s->n_layer; l++) {
        int local = !strcmp(s->arch, "gemma3") && l % 6 < 5 && ring > 0;
        total += 2ull * (uint64_t)(local ? ring : rows) * (uint64_t)s->n_head_kv * (uint64_t)s->head_dim * 4;
    }
    return total;
}

static void check_growth(const tiny_spec *spec, uint64_t salt) {
    tiny_model tm;
    tiny_build(&tm, spec, salt, NULL, NULL);
    quanta_backend *be;
    quanta_model *m = tiny_open_load(&tm, "ref", NULL, &be);
    ck_assert_ptr_nonnull(m);
    const int V = spec->n_vocab;
    quanta_model_context *ctx;
    ck_assert_msg(quanta_model_context_create(m, HUGE_CTX, &ctx) == QUANTA_OK, "%s", quanta_last_error());
    ck_assert_int_eq(quanta_model_context_size(ctx), HUGE_CTX);
    ck_assert_uint_eq(kv_bytes(m, ctx), expect_bytes(spec, 256));
    tiny_ref r;
    ref_init(&r, &tm, POSITIONS);
    qt_rng rng = qt_rng_make(salt);
    int32_t ids[200];
    for (int i = 0; i < 200; i++) ids[i] = (int32_t)(qt_next(&rng) % (uint64_t)V);
    float *logits = malloc(sizeof(float) * (size_t)V * 200);
    double *want = malloc(sizeof(double) * (size_t)V);
    double worst = 0;
    /* prefill 200, then 3 more chunks of 100 (the second crosses 256), then decode to 600 */
    int pos = 0;
    for (int chunk = 0; chunk < 4; chunk++) {
        int T = chunk ? 100 : 200;
        qt_poison_f32(logits, (size_t)V * T);
        ck_assert_msg(quanta_model_eval(ctx, ids, (size_t)T, logits, (size_t)V * T) == QUANTA_OK, "%s",
                      quanta_last_error());
        for (int t = 0; t < T; t++, pos++) {
            ref_step(&r, ids[t], want);
            double e = tiny_max_rel_err(logits + (size_t)t * V, want, V);
            worst = fmax(worst, e);
            ck_assert_msg(e < 2e-5, "%s position %d: max rel err %g", spec->arch, pos, e);
        }
    }
    ck_assert_uint_eq(kv_bytes(m, ctx), expect_bytes(spec, 512));
    int32_t tok = tiny_argmax(logits + (size_t)99 * V, V);
    for (; pos < POSITIONS; pos++) {
        qt_poison_f32(logits, (size_t)V);
        ck_assert_msg(quanta_model_eval(ctx, &tok, 1, logits, (size_t)V) == QUANTA_OK, "%s", quanta_last_error());
        ref_step(&r, tok, want);
        double e = tiny_max_rel_err(logits, want, V);
        worst = fmax(worst, e);
        ck_assert_msg(e < 2e-5, "%s decode position %d: max rel err %g", spec->arch, pos, e);
        tok = tiny_argmax(logits, V);
    }
    ck_assert_uint_eq(kv_bytes(m, ctx), expect_bytes(spec, 1024));
    printf("kv growth: %s: context of 2^30 positions, 600 used: cache %llu bytes (256 -> 512 -> 1024 rows), worst "
           "logit error %.2e\n", spec->arch, (unsigned long long)kv_bytes(m, ctx), worst);
    ref_free(&r);
    quanta_model_context_destroy(ctx);
    quanta_model_destroy(m);
    quanta_backend_close(be);
    free(logits);
    free(want);
    tiny_free(&tm);
}

START_TEST(test_llama_grows) { check_growth(&SPEC_LLAMA, 31); }
END_TEST
START_TEST(test_gemma3_grows) { check_growth(&SPEC_GEMMA3, 32); }
END_TEST

START_TEST(test_growth_refused_then_granted) {
    tiny_model tm;
    tiny_build(&tm, &SPEC_LLAMA, 33, NULL, NULL);
    quanta_backend *be;
    quanta_model *m = tiny_open_load(&tm, "ref", NULL, &be);
    const int V = SPEC_LLAMA.n_vocab;
    quanta_model_context *ctx;
    ck_assert(quanta_model_context_create(m, HUGE_CTX, &ctx) == QUANTA_OK);
    int32_t ids[256];
    for (int i = 0; i < 256; i++) ids[i] = 3 + i % 200;
    ck_assert(quanta_model_eval(ctx, ids, 256, NULL, 0) == QUANTA_OK);
    uint64_t in_use, peak;
    ck_assert(quanta_backend_memory_stats(be, &in_use, &peak) == QUANTA_OK);
    /* room for the step's scratch but not for a second copy of the cache */
    ck_assert(quanta_backend_set_memory_limit(be, in_use + expect_bytes(&SPEC_LLAMA, 256) / 2) == QUANTA_OK);
    int32_t tok = 7;
    float *logits = malloc(sizeof(float) * (size_t)V);
    quanta_status st = quanta_model_eval(ctx, &tok, 1, logits, (size_t)V);
    ck_assert_msg(st == QUANTA_ERR_OUT_OF_MEMORY && strstr(quanta_last_error(), "KV cache"), "%s: %s",
                  quanta_status_name(st), quanta_last_error());
    ck_assert_int_eq(quanta_model_context_position(ctx), 256);
    ck_assert_uint_eq(kv_bytes(m, ctx), expect_bytes(&SPEC_LLAMA, 256));
    ck_assert(quanta_backend_set_memory_limit(be, 0) == QUANTA_OK);
    ck_assert_msg(quanta_model_eval(ctx, &tok, 1, logits, (size_t)V) == QUANTA_OK, "%s", quanta_last_error());
    /* the same as a context that never hit the limit */
    tiny_ref r;
    double *want = malloc(sizeof(double) * (size_t)V);
    ref_init(&r, &tm, 300);
    for (int i = 0; i < 256; i++) ref_step(&r, ids[i], want);
    ref_step(&r, tok, want);
    ck_assert(tiny_max_rel_err(logits, want, V) < 2e-5);
    /* batched decode across the next boundary: ctx at 257, a fresh one at 0 */
    quanta_model_context *c2;
    ck_assert(quanta_model_context_create(m, HUGE_CTX, &c2) == QUANTA_OK);
    quanta_model_context *both[2] = {ctx, c2};
    for (int i = 257; i < 520; i++) {
        int32_t t2[2] = {9, 11};
        ck_assert_msg(quanta_model_eval_batch(both, t2, 2, NULL, 0) == QUANTA_OK, "%s", quanta_last_error());
    }
    ck_assert_uint_eq(kv_bytes(m, ctx), expect_bytes(&SPEC_LLAMA, 1024));
    ck_assert_uint_eq(kv_bytes(m, c2), expect_bytes(&SPEC_LLAMA, 512));
    ref_free(&r);
    free(want);
    free(logits);
    quanta_model_context_destroy(c2);
    quanta_model_context_destroy(ctx);
    quanta_model_destroy(m);
    quanta_backend_close(be);
    tiny_free(&tm);
}
END_TEST

int main(void) {
    Suite *s = suite_create("kv_growth");
    TCase *tc = tcase_create("kv_growth");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_llama_grows);
    tcase_add_test(tc, test_gemma3_grows);
    tcase_add_test(tc, test_growth_refused_then_granted);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
