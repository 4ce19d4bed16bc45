/*
 * test_tp_stress.c — quanta_model_load_tp_threads (ranks as threads behind one model) under
 * random timing: many short runs at world 2 and 4, each follower sleeping a random 0..300 us
 * before its load and before every command and the driving thread sleeping at random between
 * calls, each run's logits checked against the unsharded model's (same tokens, within 1e-5 of
 * the largest logit); and a follower failing at each command in turn (load, context, prefill,
 * decode): the call returns the rank's error, later evals fail, destroy returns. A watchdog
 * (alarm) turns a hang into a failure; the run count and time are printed.
 */
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "qt_file.h"
#include "tiny_model.h"
#include "tp_threads.h"

enum { PROMPT = 4, STEPS = 2, RUNS_W2 = 150, RUNS_W4 = 100 };
static const tiny_spec SPEC = {"llama", 64, 4, 2, 32, 256, 2, 300, 0, 10000.0f, 0, 0};
static char dir[] = "/tmp/quanta_test_tp_stress_XXXXXX";
static char path[300];

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void nap(qt_rng *r, unsigned max_us) {
    struct timespec ts = {0, (long)(qt_next(r) % (max_us + 1)) * 1000};
    nanosleep(&ts, NULL);
}

/* Prefill then STEPS decode steps of the given tokens; logits (PROMPT + STEPS rows... only the
 * last row of the prefill and each step: 1 + STEPS rows of V). */
static quanta_status run(quanta_model *m, const int32_t *toks, float *logits, qt_rng *r) {
    const int V = SPEC.n_vocab;
    quanta_model_context *ctx = NULL;
    quanta_status st = quanta_model_context_create(m, PROMPT + STEPS, &ctx);
    if (r) nap(r, 200);
    if (!st) st = quanta_model_eval(ctx, toks, PROMPT, logits, (size_t)V);
    for (int i = 0; i < STEPS && !st; i++) {
        if (r) nap(r, 100);
        st = quanta_model_eval(ctx, &toks[PROMPT + i], 1, logits + (size_t)(i + 1) * V, (size_t)V);
    }
    quanta_model_context_destroy(ctx);
    return st;
}

static double max_rel(const float *a, const float *b, size_t n) {
    double mx = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        if (a[i] != a[i]) return INFINITY;
        mx = fmax(mx, fabs((double)a[i] - b[i]));
        scale = fmax(scale, fabs((double)b[i]));
    }
    return mx / (scale > 0 ? scale : 1);
}

static void on_alarm(int sig) {
    (void)sig;
    static const char msg[] = "tp stress: HANG: a run did not finish within the watchdog's time\n";
    if (write(2, msg, sizeof msg - 1) < 0) _exit(3);
    _exit(3);
}

static tiny_model tm;

static void setup(void) {
    tiny_build(&tm, &SPEC, 881, NULL, NULL);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/tiny.gguf", dir);
    qt_spit(path, tm.image, tm.image_size);
    signal(SIGALRM, on_alarm);
}

static void teardown(void) {
    alarm(0);
    qn_tp_threads_test_hooks(0, 0, 0);
    unlink(path);
    rmdir(dir);
    tiny_free(&tm);
}

START_TEST(test_many_short_runs) {
    const int V = SPEC.n_vocab;
    qt_rng r = qt_rng_make(4401);
    int32_t toks[PROMPT + STEPS];
    for (int i = 0; i < PROMPT + STEPS; i++) toks[i] = (int32_t)(qt_next(&r) % (uint64_t)V);
    float *want = malloc(sizeof(float) * (1 + STEPS) * V), *got = malloc(sizeof(float) * (1 + STEPS) * V);
    quanta_backend *be;
    ck_assert(quanta_backend_open("ref", &be) == QUANTA_OK);
    quanta_model *whole;
    ck_assert_msg(quanta_model_load(path, be, NULL, &whole) == QUANTA_OK, "%s", quanta_last_error());
    ck_assert_msg(run(whole, toks, want, NULL) == QUANTA_OK, "%s", quanta_last_error());
    quanta_model_destroy(whole);
    qn_tp_threads_test_hooks(300, 0, 0);
    double t0 = now_s(), worst = 0;
    int runs = 0;
    alarm(120); /* the whole loop; a hang ends the process with exit 3 */
    for (int world = 2; world <= 4; world += 2) {
        for (int k = 0; k < (world == 2 ? RUNS_W2 : RUNS_W4); k++) {
            quanta_model *m = NULL;
            ck_assert_msg(quanta_model_load_tp_threads(path, be, "ref", NULL, world, &m) == QUANTA_OK, "%s",
                          quanta_last_error());
            nap(&r, 200);
            qt_poison_f32(got, (size_t)(1 + STEPS) * V);
            quanta_status st = run(m, toks, got, &r);
            ck_assert_msg(st == QUANTA_OK, "world %d run %d: %s", world, k, quanta_last_error());
            double e = max_rel(got, want, (size_t)(1 + STEPS) * V);
            ck_assert_msg(e <= 1e-5, "world %d run %d: logits differ from the unsharded model by %g", world, k, e);
            worst = fmax(worst, e);
            quanta_model_destroy(m);
            runs++;
        }
    }
    alarm(0);
    printf("tp stress: %d runs (world 2 and 4) with random timing in %.2f s, no hang; worst logit difference %.2e\n",
           runs, now_s() - t0, worst);
    ck_assert_int_ge(runs, 200);
    quanta_backend_close(be);
    free(want);
    free(got);
}
END_TEST

/* Follower `world - 1` fails its n-th command: 1 load, 2 context, 3 prefill, 4 first decode. */
START_TEST(test_failing_rank_aborts_the_group) {
    const int V = SPEC.n_vocab;
    int32_t toks[PROMPT + STEPS] = {5, 6, 7, 8, 9, 10};
    float *logits = malloc(sizeof(float) * (1 + STEPS) * V);
    quanta_backend *be;
    ck_assert(quanta_backend_open("ref", &be) == QUANTA_OK);
    alarm(60);
    for (int world = 2; world <= 4; world += 2)
        for (int at = 1; at <= 4; at++) {
            qn_tp_threads_test_hooks(50, world - 1, at);
            quanta_model *m = NULL;
            quanta_status st = quanta_model_load_tp_threads(path, be, NULL, NULL, world, &m);
            char want[64];
            snprintf(want, sizeof want, "rank %d: injected failure", world - 1);
            if (at == 1) {
                ck_assert_int_eq(st, QUANTA_ERR_BACKEND);
                ck_assert_ptr_null(m);
                ck_assert_msg(strstr(quanta_last_error(), want), "%s", quanta_last_error());
                continue;
            }
            ck_assert_msg(st == QUANTA_OK, "%s", quanta_last_error());
            quanta_model_context *ctx = NULL;
            st = quanta_model_context_create(m, PROMPT + STEPS, &ctx);
            if (at == 2) {
                ck_assert_int_eq(st, QUANTA_ERR_BACKEND);
                ck_assert_ptr_null(ctx);
                ck_assert_msg(strstr(quanta_last_error(), want), "%s", quanta_last_error());
                /* the group is still in step: a new context works */
                ck_assert_msg(run(m, toks, logits, NULL) == QUANTA_OK, "%s", quanta_last_error());
                quanta_model_destroy(m);
                continue;
            }
            ck_assert_msg(st == QUANTA_OK, "%s", quanta_last_error());
            st = quanta_model_eval(ctx, toks, PROMPT, logits, (size_t)V);
            if (at == 4) {
                ck_assert_msg(st == QUANTA_OK, "%s", quanta_last_error());
                st = quanta_model_eval(ctx, &toks[PROMPT], 1, logits, (size_t)V);
            }
            ck_assert_int_eq(st, QUANTA_ERR_BACKEND);
            ck_assert_msg(strstr(quanta_last_error(), want), "%s", quanta_last_error());
            /* the group is aborted: every later eval fails at once instead of waiting */
            ck_assert_int_eq(quanta_model_eval(ctx, &toks[PROMPT + 1], 1, NULL, 0), QUANTA_ERR_STATE);
            /* bad arguments are refused before any rank runs */
            int32_t bad = V;
            ck_assert_int_eq(quanta_model_eval(ctx, &bad, 1, NULL, 0), QUANTA_ERR_INVALID_ARGUMENT);
            quanta_model_context_destroy(ctx);
            quanta_model_destroy(m);
        }
    alarm(0);
    qn_tp_threads_test_hooks(0, 0, 0);
    quanta_model *m = NULL;
    ck_assert_int_eq(quanta_model_load_tp_threads(path, be, NULL, NULL, 0, &m), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(quanta_model_load_tp_threads(path, be, NULL, NULL, 257, &m), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(quanta_model_load_tp_threads(NULL, be, NULL, NULL, 2, &m), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(quanta_model_load_tp_threads("/nonexistent.gguf", be, NULL, NULL, 2, &m), QUANTA_ERR_IO);
    ck_assert_ptr_null(m);
    quanta_backend_close(be);
    free(logits);
}
END_TEST

/* Batched decode through the group equals the unsharded model's. */
START_TEST(test_batch_mirrored) {
    const int V = SPEC.n_vocab;
    quanta_backend *be;
    ck_assert(quanta_backend_open("ref", &be) == QUANTA_OK);
    float *out[2];
    for (int w = 0; w < 2; w++) {
        quanta_model *m = NULL;
        ck_assert_msg(quanta_model_load_tp_threads(path, be, NULL, NULL, w ? 4 : 1, &m) == QUANTA_OK, "%s",
                      quanta_last_error());
        out[w] = malloc(sizeof(float) * 2 * V);
        qt_poison_f32(out[w], (size_t)2 * V);
        quanta_model_context *c[2];
        int32_t p[3] = {3, 4, 5}, t[2] = {7, 8};
        ck_assert(quanta_model_context_create(m, 8, &c[0]) == QUANTA_OK);
        ck_assert(quanta_model_context_create(m, 8, &c[1]) == QUANTA_OK);
        ck_assert(quanta_model_eval(c[0], p, 3, NULL, 0) == QUANTA_OK);
        ck_assert(quanta_model_eval(c[1], p, 2, NULL, 0) == QUANTA_OK);
        quanta_model_context_reset(c[1]);
        ck_assert(quanta_model_eval(c[1], p, 1, NULL, 0) == QUANTA_OK);
        ck_assert_msg(quanta_model_eval_batch(c, t, 2, out[w], (size_t)2 * V) == QUANTA_OK, "%s", quanta_last_error());
        quanta_model_context_destroy(c[0]);
        quanta_model_context_destroy(c[1]);
        quanta_model_destroy(m);
    }
    double e = max_rel(out[1], out[0], (size_t)2 * V);
    ck_assert_msg(e <= 1e-5, "batched decode over 4 ranks differs by %g", e);
    free(out[0]);
    free(out[1]);
    quanta_backend_close(be);
}
END_TEST

int main(void) {
    Suite *s = suite_create("tp_stress");
    TCase *tc = tcase_create("tp_stress");
    tcase_set_timeout(tc, 300);
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_many_short_runs);
    tcase_add_test(tc, test_failing_rank_aborts_the_group);
    tcase_add_test(tc, test_batch_mirrored);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
