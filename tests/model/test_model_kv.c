/*
 * test_model_kv.c — f16 / bf16 KV caches (quanta_model_params.kv_dtype) on the tiny random-weight
 * models: logits of prefill, decode and batched decode against the independent float64
 * forward pass (tiny_model.h) and against the f32-cache run, greedy tokens, the KV bytes of the
 * memory report (exactly half of f32), tensor-parallel ranks, every available backend, and the
 * rejection of a dtype that is not a KV cache dtype.
 *
 * Tolerances (max |Δlogit| / max |logit|; u = unit roundoff, 2^-11 = 4.9e-4 for f16, 2^-8 =
 * 3.9e-3 for bf16). The graph rounds q, k, v and the attention output to the cache dtype, once
 * each (relative error <= u per element).
 *  - Against a float64 reference that rounds at the same four places (tiny_model.h, kv_mant):
 *    only f32-vs-float64 differences remain, except for the rare element whose f32 value falls
 *    on the other side of a rounding midpoint than the float64 one and moves by one ulp. One
 *    such flip moves the logits by about u of that element's share: bound 8u (f16 3.9e-3, bf16
 *    3.1e-2); measured over 60 seeds ~1e-7 typically, at most 1.1e-3 (f16) and 5e-3 (bf16).
 *  - Against the unrounded float64 reference and the f32-cache run (the cache's real drift): a
 *    score q·k moves by ~2u of |q||k|·scale, so the softmax weights move by 2u times the score
 *    magnitude (Gemma's q/k norms make scores of several units), v and the output add u each,
 *    and the residual stream carries each layer's error to the logits: bound 32u (f16 1.6e-2,
 *    bf16 1.25e-1); measured at most 14u (f16 6.9e-3, bf16 5.4e-2), typically 1-4u.
 * Greedy tokens: the f16/bf16 run's token equals the f32 cache's at every step unless the f32
 * run's top two logits lie within 2 x the drift bound (a near tie rounding may flip).
 */
#include <pthread.h>

#include "model_internal.h"
#include "tiny_model.h"

static const tiny_spec SPEC_LLAMA = {"llama", 32, 4, 2, 8, 48, 2, 300, 0, 10000.0f, 1, 0};
/* 7 layers: local 0-4, global 5, local 6; window 4 so the prompt outgrows it. */
static const tiny_spec SPEC_GEMMA3 = {"gemma3", 32, 2, 1, 16, 48, 7, 300, 4, 1000000.0f, 0, 0};

static double kv_tol(quanta_dtype d) { return d == QUANTA_F16 ? 32 * 0x1p-11 : d == QUANTA_BF16 ? 32 * 0x1p-8 : 2e-5; }
static double kv_tight(quanta_dtype d) { return d == QUANTA_F16 ? 8 * 0x1p-11 : d == QUANTA_BF16 ? 8 * 0x1p-8 : 2e-5; }

static void ref_kv(tiny_ref *r, quanta_dtype d) {
    r->kv_mant = d == QUANTA_F16 ? 10 : d == QUANTA_BF16 ? 7 : 0;
    r->kv_emin = d == QUANTA_F16 ? -14 : -126;
}

enum { PROMPT = 10, STEPS = 6, NCTX = 32 };

/* Greedy agreement: the run's token is the reference's argmax, or the reference ranks the two
 * within the tolerance (a near tie that rounding may legitimately flip). Returns 1 on an exact
 * match. */
static int check_token(const float *got, const double *want, int V, double tol, const char *what) {
    int g = tiny_argmax(got, V), w = 0;
    double scale = 0;
    for (int i = 0; i < V; i++) {
        if (want[i] > want[w]) w = i;
        scale = fmax(scale, fabs(want[i]));
    }
    ck_assert_msg(g == w || want[w] - want[g] <= 2 * tol * scale, "%s: token %d, reference argmax %d (margin %g)", what,
                  g, w, want[w] - want[g]);
    return g == w;
}

/* Rows checked against the rounding reference, and those within 1e-4 of it (test_kv_summary). */
static int n_rows, n_close;

/* Max rel err of a row against the float64 reference rr (rounding like the cache: tight
 * bound) and r (unrounded: the cache's drift, loose bound). */
static void check_row(const float *got, const double *want_r, const double *want_rr, quanta_dtype kv, const char *what,
                      int V, double *worst_rr, double *worst_r) {
    double e_rr = tiny_max_rel_err(got, want_rr, V), e_r = tiny_max_rel_err(got, want_r, V);
    ck_assert_msg(e_rr < kv_tight(kv), "%s: max rel err %g against the rounding reference", what, e_rr);
    n_rows++;
    n_close += e_rr < 1e-4;
    ck_assert_msg(e_r < kv_tol(kv), "%s: max rel err %g against the float64 reference", what, e_r);
    *worst_rr = fmax(*worst_rr, e_rr);
    *worst_r = fmax(*worst_r, e_r);
}

/* Prefill PROMPT tokens (every position's logits) then STEPS greedy decode steps with a `kv`
 * cache, each row against both float64 references and against the f32-cache model fed the
 * same tokens; then the KV bytes against the f32 cache's. */
static void kv_case(const tiny_spec *spec, uint64_t salt, const char *backend, quanta_dtype kv) {
    tiny_model tm;
    tiny_build(&tm, spec, salt, NULL, NULL);
    quanta_backend *be, *be32;
    quanta_model *m = tiny_open_load_kv(&tm, backend, kv, &be);
    if (!m) {
        if (be) quanta_backend_close(be);
        printf("model kv: %s not available, skipped\n", backend);
        tiny_free(&tm);
        return;
    }
    quanta_model *m32 = tiny_open_load_kv(&tm, backend, QUANTA_F32, &be32);
    ck_assert_ptr_nonnull(m32);
    const int V = spec->n_vocab;
    const double tol = kv_tol(kv);
    quanta_model_info info;
    ck_assert(quanta_model_get_info(m, &info) == QUANTA_OK);
    ck_assert_int_eq(info.kv_dtype, kv);
    quanta_model_context *ctx, *c32;
    ck_assert_msg(quanta_model_context_create(m, NCTX, &ctx) == QUANTA_OK, "%s", quanta_last_error());
    ck_assert(quanta_model_context_create(m32, NCTX, &c32) == QUANTA_OK);
    tiny_ref r, rr;
    ref_init(&r, &tm, NCTX);
    ref_init(&rr, &tm, NCTX);
    ref_kv(&rr, kv);
    qt_rng rng = qt_rng_make(salt + 1);
    int32_t ids[PROMPT];
    for (int i = 0; i < PROMPT; i++) ids[i] = (int32_t)(qt_next(&rng) % (uint64_t)V);
    float *got = malloc(sizeof(float) * V * PROMPT), *base = malloc(sizeof(float) * V * PROMPT);
    double *want = malloc(sizeof(double) * V), *want_rr = malloc(sizeof(double) * V), *b64 = malloc(sizeof(double) * V);
    qt_poison_f32(got, (size_t)V * PROMPT);
    qt_poison_f32(base, (size_t)V * PROMPT);
    ck_assert_msg(quanta_model_eval(ctx, ids, PROMPT, got, (size_t)V * PROMPT) == QUANTA_OK, "%s", quanta_last_error());
    ck_assert(quanta_model_eval(c32, ids, PROMPT, base, (size_t)V * PROMPT) == QUANTA_OK);
    double worst_rr = 0, worst_r = 0, worst32 = 0, vs32 = 0;
    int exact = 0;
    char what[128];
    for (int t = 0; t <= PROMPT + STEPS - 1; t++) {
        int dec = t >= PROMPT;
        const float *g = dec ? got : got + (size_t)t * V, *b = dec ? base : base + (size_t)t * V;
        if (!dec) {
            ref_step(&r, ids[t], want);
            ref_step(&rr, ids[t], want_rr);
        }
        snprintf(what, sizeof what, "%s %s kv on %s, %s %d", spec->arch, quanta_dtype_name(kv), backend,
                 dec ? "decode step" : "prefill position", dec ? t - PROMPT : t);
        check_row(g, want, want_rr, kv, what, V, &worst_rr, &worst_r);
        double e32 = tiny_max_rel_err(b, want, V);
        ck_assert_msg(e32 < 1e-4, "%s: the f32 cache's max rel err %g", what, e32);
        worst32 = fmax(worst32, e32);
        for (int i = 0; i < V; i++) b64[i] = b[i];
        double d32 = tiny_max_rel_err(g, b64, V);
        ck_assert_msg(d32 < tol, "%s: max rel err %g against the f32 cache", what, d32);
        vs32 = fmax(vs32, d32);
        /* Greedy: this run's token is the f32 cache's (b64) unless they nearly tie there. */
        exact += check_token(g, b64, V, tol, what);
        if (t < PROMPT - 1 || t == PROMPT + STEPS - 1) continue;
        int32_t tok = tiny_argmax(g, V); /* fed to this run, the f32 cache and both references */
        qt_poison_f32(got, V);
        qt_poison_f32(base, V);
        ck_assert_msg(quanta_model_eval(ctx, &tok, 1, got, V) == QUANTA_OK, "%s", quanta_last_error());
        ck_assert(quanta_model_eval(c32, &tok, 1, base, V) == QUANTA_OK);
        ref_step(&r, tok, want);
        ref_step(&rr, tok, want_rr);
    }
    /* Exactly half the f32 cache: 2 (k, v) x rows of all layers (local layers: their ring) x KV
     * heads x head dim x 2 bytes. */
    quanta_model_memory mem, mem32;
    ck_assert(quanta_model_memory_report(m, ctx, &mem) == QUANTA_OK);
    ck_assert(quanta_model_memory_report(m32, c32, &mem32) == QUANTA_OK);
    uint64_t elems = 2ull * tiny_kv_rows(spec, NCTX) * spec->n_head_kv * spec->head_dim;
    ck_assert_uint_eq(mem32.kv_cache_bytes, elems * 4);
    ck_assert_uint_eq(mem.kv_cache_bytes, elems * 2);
    ck_assert_uint_eq(2 * mem.kv_cache_bytes, mem32.kv_cache_bytes);
    quanta_tensor_desc d;
    ck_assert(quanta_buffer_desc(ctx->k_cache[0], &d) == QUANTA_OK);
    ck_assert_int_eq(d.dtype, kv);
    printf("model kv: %s %s cache on %s: max rel err %.2g vs rounding float64 (bound %.2g), %.2g vs float64 "
           "(f32 cache %.2g), %.2g vs f32 cache (bound %.2g); %d/%d greedy tokens as f32's; KV %llu bytes (f32 %llu)\n",
           spec->arch, quanta_dtype_name(kv), backend, worst_rr, kv_tight(kv), worst_r, worst32, vs32, tol, exact,
           PROMPT + STEPS,
           (unsigned long long)mem.kv_cache_bytes, (unsigned long long)mem32.kv_cache_bytes);
    free(b64);
    free(got);
    free(base);
    free(want);
    free(want_rr);
    ref_free(&r);
    ref_free(&rr);
    quanta_model_context_destroy(ctx);
    quanta_model_context_destroy(c32);
    quanta_model_destroy(m);
    quanta_model_destroy(m32);
    quanta_backend_close(be);
    quanta_backend_close(be32);
    tiny_free(&tm);
}

START_TEST(test_kv_llama) {
    kv_case(&SPEC_LLAMA, 101, "ref", QUANTA_F16);
    kv_case(&SPEC_LLAMA, 102, "ref", QUANTA_BF16);
}
END_TEST
START_TEST(test_kv_gemma3) {
    kv_case(&SPEC_GEMMA3, 103, "ref", QUANTA_F16);
    kv_case(&SPEC_GEMMA3, 104, "ref", QUANTA_BF16);
}
END_TEST
/* Device backends (skipped when absent); their f32 arithmetic adds ~1e-6 to the rounding. */
START_TEST(test_kv_devices) {
    const char *backends[] = {"opencl", "cuda"};
    for (int b = 0; b < 2; b++) {
        kv_case(&SPEC_LLAMA, 105, backends[b], QUANTA_F16);
        kv_case(&SPEC_GEMMA3, 106, backends[b], QUANTA_BF16);
    }
}
END_TEST

/* Batched decode with an f16 cache: three sequences at different positions against each
 * sequence's float64 reference. */
static void batch_case(const tiny_spec *spec, uint64_t salt, const char *backend, quanta_dtype kv) {
    tiny_model tm;
    tiny_build(&tm, spec, salt, NULL, NULL);
    quanta_backend *be;
    quanta_model *m = tiny_open_load_kv(&tm, backend, kv, &be);
    if (!m) {
        if (be) quanta_backend_close(be);
        tiny_free(&tm);
        return;
    }
    const int V = spec->n_vocab;
    enum { NS = 3, BSTEPS = 4 };
    const int lens[NS] = {3, 7, 5};
    quanta_model_context *ctx[NS];
    tiny_ref r[NS], rr[NS];
    double *want = malloc(sizeof(double) * V), *want_rr = malloc(sizeof(double) * V);
    float *logits = malloc(sizeof(float) * V * NS);
    int32_t tok[NS];
    qt_rng rng = qt_rng_make(salt);
    for (int i = 0; i < NS; i++) {
        ck_assert(quanta_model_context_create(m, 16, &ctx[i]) == QUANTA_OK);
        ref_init(&r[i], &tm, 16);
        ref_init(&rr[i], &tm, 16);
        ref_kv(&rr[i], kv);
        int32_t ids[8];
        for (int t = 0; t < lens[i]; t++) ids[t] = (int32_t)(qt_next(&rng) % (uint64_t)V);
        ck_assert(quanta_model_eval(ctx[i], ids, lens[i], logits, V) == QUANTA_OK);
        for (int t = 0; t < lens[i]; t++) ref_step(&r[i], ids[t], want), ref_step(&rr[i], ids[t], want_rr);
        tok[i] = tiny_argmax(logits, V);
    }
    double worst = 0, worst_rr = 0;
    char what[128];
    for (int step = 0; step < BSTEPS; step++) {
        qt_poison_f32(logits, (size_t)V * NS);
        ck_assert_msg(quanta_model_eval_batch(ctx, tok, NS, logits, (size_t)V * NS) == QUANTA_OK, "%s",
                      quanta_last_error());
        for (int i = 0; i < NS; i++) {
            ref_step(&r[i], tok[i], want);
            ref_step(&rr[i], tok[i], want_rr);
            snprintf(what, sizeof what, "%s %s kv on %s: batch step %d sequence %d", spec->arch, quanta_dtype_name(kv),
                     backend, step, i);
            check_row(logits + (size_t)i * V, want, want_rr, kv, what, V, &worst_rr, &worst);
            tok[i] = tiny_argmax(logits + (size_t)i * V, V);
        }
    }
    printf("model kv batch: %s %s cache on %s: %d sequences x %d steps, max rel err %.2g vs rounding float64, "
           "%.2g vs float64\n",
           spec->arch, quanta_dtype_name(kv), backend, NS, BSTEPS, worst_rr, worst);
    for (int i = 0; i < NS; i++) {
        quanta_model_context_destroy(ctx[i]);
        ref_free(&r[i]);
        ref_free(&rr[i]);
    }
    free(want);
    free(want_rr);
    free(logits);
    quanta_model_destroy(m);
    quanta_backend_close(be);
    tiny_free(&tm);
}

START_TEST(test_kv_batch) {
    const char *backends[] = {"ref", "opencl", "cuda"};
    for (int b = 0; b < 3; b++) {
        batch_case(&SPEC_GEMMA3, 110, backends[b], QUANTA_F16);
        batch_case(&SPEC_LLAMA, 111, backends[b], QUANTA_BF16);
    }
}
END_TEST

/* Tensor parallelism: each rank (a thread) keeps only its KV heads, in f16. */
static void tp_case(const tiny_spec *spec, uint64_t salt, int world) {
    tiny_model tm;
    tiny_build(&tm, spec, salt, NULL, NULL);
    const int V = spec->n_vocab;
    qt_rng rng = qt_rng_make(salt);
    int32_t ids[PROMPT + STEPS];
    for (int i = 0; i < PROMPT + STEPS; i++) ids[i] = (int32_t)(qt_next(&rng) % (uint64_t)V);
    quanta_comm *comms[4];
    ck_assert_int_eq(quanta_comm_create_local(world, comms), QUANTA_OK);
    tiny_rank rk[4];
    pthread_t th[4];
    for (int r = 0; r < world; r++) {
        rk[r] = (tiny_rank){.tm = &tm, .comm = comms[r], .ids = ids, .prompt = PROMPT, .steps = STEPS, .n_ctx = NCTX,
                            .kv_dtype = QUANTA_F16, .logits = malloc(sizeof(float) * V * (PROMPT + STEPS))};
        qt_poison_f32(rk[r].logits, (size_t)V * (PROMPT + STEPS));
        ck_assert_int_eq(pthread_create(&th[r], NULL, tiny_rank_run, &rk[r]), 0);
    }
    for (int r = 0; r < world; r++) pthread_join(th[r], NULL);
    tiny_ref ref, rr;
    ref_init(&ref, &tm, NCTX);
    ref_init(&rr, &tm, NCTX);
    ref_kv(&rr, QUANTA_F16);
    double *want = malloc(sizeof(double) * V), *want_rr = malloc(sizeof(double) * V), worst = 0, worst_rr = 0;
    char what[128];
    /* A rank's KV heads: Hkv / world when they split, else the one its query heads use. */
    const int hkv_rank = spec->n_head_kv % world == 0 ? spec->n_head_kv / world : 1;
    for (int r = 0; r < world; r++) {
        ck_assert_msg(rk[r].st == QUANTA_OK, "rank %d: %s", r, rk[r].err);
        ck_assert_uint_eq(rk[r].kv_bytes, 2ull * tiny_kv_rows(spec, NCTX) * hkv_rank * spec->head_dim * 2);
    }
    for (int t = 0; t < PROMPT + STEPS; t++) {
        ref_step(&ref, ids[t], want);
        ref_step(&rr, ids[t], want_rr);
        for (int r = 0; r < world; r++) {
            snprintf(what, sizeof what, "%s tp %d rank %d position %d", spec->arch, world, r, t);
            check_row(rk[r].logits + (size_t)t * V, want, want_rr, QUANTA_F16, what, V, &worst_rr, &worst);
        }
    }
    printf("model kv tp: %s f16 cache, world %d: max rel err %.2g vs rounding float64, %.2g vs float64, "
           "%llu KV bytes per rank\n",
           spec->arch, world, worst_rr, worst, (unsigned long long)rk[0].kv_bytes);
    for (int r = 0; r < world; r++) {
        free(rk[r].logits);
        quanta_comm_destroy(comms[r]);
    }
    free(want);
    free(want_rr);
    ref_free(&ref);
    ref_free(&rr);
    tiny_free(&tm);
}

START_TEST(test_kv_tensor_parallel) {
    tp_case(&SPEC_LLAMA, 120, 2);  /* 2 KV heads split */
    tp_case(&SPEC_GEMMA3, 121, 2); /* 1 KV head replicated */
}
END_TEST

START_TEST(test_kv_bad_dtype) {
    tiny_model tm;
    tiny_build(&tm, &SPEC_LLAMA, 130, NULL, NULL);
    quanta_backend *be;
    ck_assert(quanta_backend_open("ref", &be) == QUANTA_OK);
    qn_gguf *g;
    ck_assert(qn_gguf_open_memory(tm.image, tm.image_size, &g) == QUANTA_OK);
    quanta_model_params p;
    quanta_model_default_params(&p);
    ck_assert_int_eq(p.kv_dtype, QUANTA_F32);
    const quanta_dtype bad[] = {QUANTA_Q8, QUANTA_I32, QUANTA_U8, QUANTA_FP8_E4M3, (quanta_dtype)99};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        p.kv_dtype = bad[i];
        quanta_model *m = (quanta_model *)&p;
        ck_assert_int_eq(qn_model_from_gguf(g, be, &p, &m), QUANTA_ERR_INVALID_ARGUMENT);
        ck_assert_ptr_null(m);
        ck_assert_msg(strstr(quanta_last_error(), "kv_dtype") != NULL, "%s", quanta_last_error());
    }
    /* The same through the tensor-parallel loader (world 1). */
    quanta_comm *comm;
    ck_assert_int_eq(quanta_comm_create_local(1, &comm), QUANTA_OK);
    quanta_model *m = NULL;
    p.kv_dtype = QUANTA_NF4;
    ck_assert_int_eq(qn_model_from_gguf_tp(g, be, &p, comm, &m), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(quanta_last_error(), "kv_dtype"));
    quanta_comm_destroy(comm);
    /* Parameters written before the field existed (zeroed) mean f32. */
    quanta_model_params zero;
    memset(&zero, 0, sizeof zero);
    ck_assert_int_eq(qn_model_from_gguf(g, be, &zero, &m), QUANTA_OK);
    quanta_model_info info;
    ck_assert(quanta_model_get_info(m, &info) == QUANTA_OK);
    ck_assert_int_eq(info.kv_dtype, QUANTA_F32);
    quanta_model_destroy(m);
    qn_gguf_close(g);
    quanta_backend_close(be);
    tiny_free(&tm);
}
END_TEST

/* Runs last. The flip-limited bound of one row cannot see a rounding site the graph skips or
 * adds (that moves a row by ~u, like a flip); but flips are rare, so most rows agree with the
 * rounding reference to f32 precision (measured: 90% of rows within 1e-4, with a rounding
 * site removed from the reference 1%). */
START_TEST(test_kv_summary) {
    printf("model kv: %d of %d rows within 1e-4 of the rounding reference\n", n_close, n_rows);
    ck_assert_int_gt(n_rows, 100);
    ck_assert_msg(2 * n_close >= n_rows, "only %d of %d rows within 1e-4 of the rounding reference", n_close, n_rows);
}
END_TEST

int main(void) {
    Suite *s = suite_create("model_kv");
    TCase *tc = tcase_create("kv");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_kv_llama);
    tcase_add_test(tc, test_kv_gemma3);
    tcase_add_test(tc, test_kv_devices);
    tcase_add_test(tc, test_kv_batch);
    tcase_add_test(tc, test_kv_tensor_parallel);
    tcase_add_test(tc, test_kv_bad_dtype);
    tcase_add_test(tc, test_kv_summary);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
