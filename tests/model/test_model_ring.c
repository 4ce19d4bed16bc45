/*
 * test_model_ring.c — ring KV caches of sliding-window layers (Gemma 3's local layers keep
 * window + step - 1 rows, rounded up to a multiple of the step, position p in row p % ring) on a
 * tiny random-weight Gemma 3 with window 8 and contexts several rings long: prefill in chunks
 * that start off the ring's grid and cross its end, 3 x window and more decode steps, batched
 * decode of sequences at different positions (with a plain-cache context among them), tensor-
 * parallel ranks, f16 caches, every available backend. Each row is checked against the
 * independent float64 forward pass (tiny_model.h; test_model_tiny's tolerance 2e-5, and
 * test_model_kv's bounds for f16) and against a plain full-length cache on the same backend; the
 * memory report's KV bytes against the ring's size. (LLaMA-family files carry no window here:
 * config.c ignores Mistral v0.1's, so Gemma 3 is the model with local layers.)
 */
#include <pthread.h>

#include "model_internal.h"
#include "tiny_model.h"

/* 7 layers: local 0-4, global 5, local 6. Ring: step = window = 8, rows ceil(15 / 8) * 8 = 16. */
static const tiny_spec SPEC = {"gemma3", 32, 2, 1, 16, 48, 7, 300, 8, 1000000.0f, 0, 0};
enum { WIN = 8, RING = 16, NCTX = 96, N_LOCAL = 6, N_GLOBAL = 1 };

static double tol_of(quanta_dtype kv) { return kv == QUANTA_F16 ? 32 * 0x1p-11 : 2e-5; }

static uint64_t kv_bytes_of(quanta_model *m, quanta_model_context *c) {
    quanta_model_memory mem;
    ck_assert(quanta_model_memory_report(m, c, &mem) == QUANTA_OK);
    return mem.kv_cache_bytes;
}

/* Prefill 5 tokens, then 43 more (chunks 8, 3, 8, ... cross the ring's end off its grid), then
 * 40 greedy decode steps (5 windows): every row against the float64 pass and the plain cache. */
static void ring_case(uint64_t salt, const char *backend, quanta_dtype kv) {
    tiny_model tm;
    tiny_build(&tm, &SPEC, salt, NULL, NULL);
    quanta_backend *be;
    quanta_model *m = tiny_open_load_kv(&tm, backend, kv, &be);
    if (!m) {
        if (be) quanta_backend_close(be);
        printf("model ring: %s not available, skipped\n", backend);
        tiny_free(&tm);
        return;
    }
    const int V = SPEC.n_vocab, P1 = 5, P2 = 43, STEPS = 40;
    const double tol = tol_of(kv);
    quanta_model_context *ctx, *plain;
    ck_assert_msg(quanta_model_context_create(m, NCTX, &ctx) == QUANTA_OK, "%s", quanta_last_error());
    ck_assert(qn_model_context_create_plain(m, NCTX, &plain) == QUANTA_OK);
    ck_assert_int_eq(ctx->ring, RING);
    ck_assert_int_eq(plain->ring, 0);
    const uint64_t row = (uint64_t)SPEC.n_head_kv * SPEC.head_dim * (kv == QUANTA_F32 ? 4u : 2u) * 2; /* k and v */
    ck_assert_uint_eq(kv_bytes_of(m, ctx), row * (N_LOCAL * RING + N_GLOBAL * NCTX));
    ck_assert_uint_eq(kv_bytes_of(m, plain), row * (N_LOCAL + N_GLOBAL) * NCTX);
    tiny_ref r;
    ref_init(&r, &tm, NCTX);
    qt_rng rng = qt_rng_make(salt + 1);
    int32_t ids[48];
    for (int i = 0; i < P1 + P2; i++) ids[i] = (int32_t)(qt_next(&rng) % (uint64_t)V);
    float *got = malloc(sizeof(float) * V * P2), *base = malloc(sizeof(float) * V * P2);
    double *want = malloc(sizeof(double) * V), worst = 0, worst_plain = 0;
    char what[128];
    int pos = 0;
    for (int part = 0; part < 2; part++) {
        int n = part ? P2 : P1;
        qt_poison_f32(got, (size_t)V * n);
        qt_poison_f32(base, (size_t)V * n);
        ck_assert_msg(quanta_model_eval(ctx, ids + pos, n, got, (size_t)V * n) == QUANTA_OK, "%s", quanta_last_error());
        ck_assert(quanta_model_eval(plain, ids + pos, n, base, (size_t)V * n) == QUANTA_OK);
        for (int t = 0; t < n; t++, pos++) {
            ref_step(&r, ids[pos], want);
            double e = tiny_max_rel_err(got + (size_t)t * V, want, V);
            double ep = tiny_max_rel_err(base + (size_t)t * V, want, V);
            snprintf(what, sizeof what, "ring %s kv on %s, prefill position %d", quanta_dtype_name(kv), backend, pos);
            ck_assert_msg(e < tol, "%s: max rel err %g", what, e);
            ck_assert_msg(ep < tol, "%s: plain cache's max rel err %g", what, ep);
            worst = fmax(worst, e);
            worst_plain = fmax(worst_plain, ep);
        }
    }
    double diff = 0;
    int32_t tok = tiny_argmax(got + (size_t)(P2 - 1) * V, V);
    for (int s = 0; s < STEPS; s++, pos++) {
        qt_poison_f32(got, (size_t)V);
        qt_poison_f32(base, (size_t)V);
        ck_assert_msg(quanta_model_eval(ctx, &tok, 1, got, V) == QUANTA_OK, "%s", quanta_last_error());
        ck_assert(quanta_model_eval(plain, &tok, 1, base, V) == QUANTA_OK);
        ref_step(&r, tok, want);
        double e = tiny_max_rel_err(got, want, V);
        snprintf(what, sizeof what, "ring %s kv on %s, decode position %d", quanta_dtype_name(kv), backend, pos);
        ck_assert_msg(e < tol, "%s: max rel err %g", what, e);
        worst = fmax(worst, e);
        worst_plain = fmax(worst_plain, tiny_max_rel_err(base, want, V));
        for (int i = 0; i < V; i++) diff = fmax(diff, fabs((double)got[i] - base[i]));
        /* Greedy on the plain cache's logits: both runs see the same tokens. */
        tok = tiny_argmax(base, V);
    }
    ck_assert_int_eq(quanta_model_context_position(ctx), pos);
    printf("model ring: %s cache on %s, %d positions, ring %d of %d rows: max rel err %.2g vs float64 (plain "
           "cache %.2g), max |ring - plain| decode logit %.2g; KV %llu bytes (plain %llu)\n",
           quanta_dtype_name(kv), backend, pos, RING, NCTX, worst, worst_plain, diff,
           (unsigned long long)kv_bytes_of(m, ctx), (unsigned long long)kv_bytes_of(m, plain));
    quanta_model_context_destroy(ctx);
    quanta_model_context_destroy(plain);
    ref_free(&r);
    free(got);
    free(base);
    free(want);
    quanta_model_destroy(m);
    quanta_backend_close(be);
    tiny_free(&tm);
}

START_TEST(test_ring_ref) {
    ring_case(201, "ref", QUANTA_F32);
    ring_case(202, "ref", QUANTA_F16);
}
END_TEST

START_TEST(test_ring_devices) {
    const char *backends[] = {"opencl", "cuda"};
    for (int b = 0; b < 2; b++) {
        ring_case(203, backends[b], QUANTA_F32);
        ring_case(204, backends[b], QUANTA_F16);
    }
}
END_TEST

/* Three ring contexts at different positions and one plain one decode together for 3 windows. */
static void batch_case(uint64_t salt, const char *backend) {
    tiny_model tm;
    tiny_build(&tm, &SPEC, salt, NULL, NULL);
    quanta_backend *be;
    quanta_model *m = tiny_open_load_kv(&tm, backend, QUANTA_F32, &be);
    if (!m) {
        if (be) quanta_backend_close(be);
        tiny_free(&tm);
        return;
    }
    const int V = SPEC.n_vocab;
    enum { NS = 4, BSTEPS = 3 * WIN + 2 };
    const int lens[NS] = {3, 13, 17, 6};
    quanta_model_context *ctx[NS];
    tiny_ref r[NS];
    double *want = malloc(sizeof(double) * V);
    float *logits = malloc(sizeof(float) * V * NS);
    int32_t tok[NS];
    qt_rng rng = qt_rng_make(salt);
    for (int i = 0; i < NS; i++) {
        ck_assert(i == NS - 1 ? qn_model_context_create_plain(m, 64, &ctx[i]) == QUANTA_OK
                              : quanta_model_context_create(m, 64, &ctx[i]) == QUANTA_OK);
        ck_assert_int_eq(ctx[i]->ring, i == NS - 1 ? 0 : RING);
        ref_init(&r[i], &tm, 64);
    }
    tiny_prefill_with_ref(ctx, r, NS, lens, &rng, V, logits, want, tok);
    char what[64];
    snprintf(what, sizeof what, "ring batch on %s", backend);
    const double worst = tiny_batch_vs_ref(ctx, r, NS, tok, BSTEPS, V, logits, want, 2e-5, what);
    printf("model ring batch on %s: %d sequences (one plain) x %d steps, max rel err %.2g vs float64\n", backend, NS,
           BSTEPS, worst);
    for (int i = 0; i < NS; i++) {
        quanta_model_context_destroy(ctx[i]);
        ref_free(&r[i]);
    }
    free(want);
    free(logits);
    quanta_model_destroy(m);
    quanta_backend_close(be);
    tiny_free(&tm);
}

START_TEST(test_ring_batch) {
    const char *backends[] = {"ref", "opencl", "cuda"};
    for (int b = 0; b < 3; b++) batch_case(210 + (uint64_t)b, backends[b]);
}
END_TEST

/* Tensor parallelism: each rank (a thread) keeps its own rings. */
enum { TP_PROMPT = 21, TP_STEPS = 3 * WIN, TP_CTX = 64 };
START_TEST(test_ring_tensor_parallel) {
    enum { WORLD = 2, N = TP_PROMPT + TP_STEPS };
    tiny_model tm;
    tiny_build(&tm, &SPEC, 220, NULL, NULL);
    const int V = SPEC.n_vocab;
    qt_rng rng = qt_rng_make(221);
    int32_t ids[N];
    for (int i = 0; i < N; i++) ids[i] = (int32_t)(qt_next(&rng) % (uint64_t)V);
    quanta_comm *comms[WORLD];
    ck_assert_int_eq(quanta_comm_create_local(WORLD, comms), QUANTA_OK);
    tiny_rank rk[WORLD];
    pthread_t th[WORLD];
    for (int r = 0; r < WORLD; r++) {
        rk[r] = (tiny_rank){.tm = &tm, .comm = comms[r], .ids = ids, .prompt = TP_PROMPT, .steps = TP_STEPS,
                            .n_ctx = TP_CTX, .kv_dtype = QUANTA_F32, .logits = malloc(sizeof(float) * V * N)};
        qt_poison_f32(rk[r].logits, (size_t)V * N);
        ck_assert_int_eq(pthread_create(&th[r], NULL, tiny_rank_run, &rk[r]), 0);
    }
    for (int r = 0; r < WORLD; r++) pthread_join(th[r], NULL);
    tiny_ref ref;
    ref_init(&ref, &tm, TP_CTX);
    double *want = malloc(sizeof(double) * V), worst = 0;
    /* One KV head, replicated: each rank's rings hold it. */
    const uint64_t row = (uint64_t)SPEC.head_dim * 4 * 2;
    for (int r = 0; r < WORLD; r++) {
        ck_assert_msg(rk[r].st == QUANTA_OK, "rank %d: %s", r, rk[r].err);
        ck_assert_int_eq(rk[r].ring, RING);
        ck_assert_uint_eq(rk[r].kv_bytes, row * (N_LOCAL * RING + N_GLOBAL * TP_CTX));
    }
    for (int t = 0; t < N; t++) {
        ref_step(&ref, ids[t], want);
        for (int r = 0; r < WORLD; r++) {
            double e = tiny_max_rel_err(rk[r].logits + (size_t)t * V, want, V);
            ck_assert_msg(e < 2e-5, "ring tp rank %d position %d: max rel err %g", r, t, e);
            worst = fmax(worst, e);
        }
    }
    printf("model ring tp: world %d, %d positions, max rel err %.2g vs float64, %llu KV bytes per rank\n", WORLD, N,
           worst, (unsigned long long)rk[0].kv_bytes);
    for (int r = 0; r < WORLD; r++) {
        free(rk[r].logits);
        quanta_comm_destroy(comms[r]);
    }
    free(want);
    ref_free(&ref);
    tiny_free(&tm);
}
END_TEST

/* The ring's size and mask from first principles; a short context keeps the plain cache. */
START_TEST(test_ring_layout) {
    tiny_model tm;
    tiny_build(&tm, &SPEC, 230, NULL, NULL);
    quanta_backend *be;
    quanta_model *m = tiny_open_load_kv(&tm, "ref", QUANTA_F32, &be);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(qn_ring_step(m), WIN);
    ck_assert_int_eq(qn_ring_rows(m, NCTX), RING);
    ck_assert_int_eq(qn_ring_rows(m, RING), 0); /* no smaller than a plain cache */
    ck_assert_int_eq(qn_ring_rows(m, RING + 1), RING);
    quanta_model_context *c;
    ck_assert(quanta_model_context_create(m, RING, &c) == QUANTA_OK);
    ck_assert_int_eq(c->ring, 0);
    ck_assert_uint_eq(kv_bytes_of(m, c), (uint64_t)SPEC.head_dim * 4 * 2 * 7 * RING);
    quanta_model_context_destroy(c);
    /* Mask of 8 queries at 37..44 over 16 rows: row r holds the latest p <= 44 with p % 16 == r. */
    uint8_t mask[8 * RING];
    memset(mask, 0xAA, sizeof mask);
    qn_ring_mask(RING, WIN, 37, 8, mask);
    for (int i = 0; i < 8; i++)
        for (int r = 0; r < RING; r++) {
            int p = 44 - ((44 - r) % RING + RING) % RING, q = 37 + i;
            ck_assert_int_eq(mask[i * RING + r], p <= q && q - p < WIN);
        }
    /* Early positions: unwritten rows are hidden. */
    qn_ring_mask(RING, WIN, 0, 3, mask);
    for (int i = 0; i < 3; i++)
        for (int r = 0; r < RING; r++) ck_assert_int_eq(mask[i * RING + r], r <= i);
    quanta_model_destroy(m);
    quanta_backend_close(be);
    tiny_free(&tm);
}
END_TEST

int main(void) {
    Suite *s = suite_create("model_ring");
    TCase *tc = tcase_create("ring");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_ring_layout);
    tcase_add_test(tc, test_ring_ref);
    tcase_add_test(tc, test_ring_devices);
    tcase_add_test(tc, test_ring_batch);
    tcase_add_test(tc, test_ring_tensor_parallel);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
