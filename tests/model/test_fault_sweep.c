/*
 * test_fault_sweep.c — the load, quantize and generate paths fail cleanly at every point: for
 * each N the N-th heap allocation (and, for quantize, the N-th file write; for load and generate,
 * the N-th thread start) from the start of the path fails (qt_fault.h), until a run makes fewer
 * calls than N and succeeds. The load converts on 3 threads (QUANTA_LOAD_THREADS) whatever the
 * machine, so its per-thread scratch and thread starts are in every sweep; a conversion thread
 * that cannot start leaves its rows to the others (the load must succeed). A failing run
 * must return an error with a message and no model/context, leave nothing half-written (the old
 * output byte for byte, no temporary file), and leak nothing (CI runs this under ASan). The
 * tensor-parallel generate (world 2) runs the same sweep: a follower's failure must end the
 * call with an error, never hang (alarm).
 */
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include "qt_fault.h"
#include "qt_file.h"
#include "tiny_model.h"

/* 2100 vocabulary rows of 64: the q8 conversion of the embeddings / output runs as 3 ranges (grain 1024
 * rows) on 3 threads, so the sweeps reach its thread starts and per-thread scratch */
static const tiny_spec SPEC = {"llama", 64, 4, 2, 32, 128, 1, 2100, 0, 10000.0f, 0, 0};
static char dir[] = "/tmp/quanta_test_fault_XXXXXX";
static char model_path[300], out_path[300];
static tiny_model tm;

static void setup(void) {
    setenv("QUANTA_LOAD_THREADS", "3", 1);
    tiny_build(&tm, &SPEC, 991, NULL, NULL);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(model_path, sizeof model_path, "%s/in.gguf", dir);
    snprintf(out_path, sizeof out_path, "%s/out.gguf", dir);
    qt_spit(model_path, tm.image, tm.image_size);
}

static void teardown(void) {
    qt_fault_disarm();
    unlink(model_path);
    unlink(out_path);
    rmdir(dir);
    tiny_free(&tm);
}

/* A failed call: an error status with a message. */
static void expect_clean_failure(quanta_status st, const char *what, long n) {
    ck_assert_msg(st != QUANTA_OK, "%s: allocation %ld failed, yet the call succeeded", what, n);
    ck_assert_msg(quanta_last_error()[0] != '\0', "%s: failure %ld without a message", what, n);
}

START_TEST(test_load_sweep) {
    quanta_backend *be;
    ck_assert(quanta_backend_open("ref", &be) == QUANTA_OK);
    for (int kind = QT_FAULT_ALLOC; kind <= QT_FAULT_THREAD; kind += QT_FAULT_THREAD - QT_FAULT_ALLOC)
    for (int quant = 0; quant < 2; quant++) {
        quanta_model_params p;
        quanta_model_default_params(&p);
        p.quantize = quant;
        p.weight_dtype = QUANTA_Q8;
        long n = 1, failures = 0;
        for (;; n++) {
            quanta_model *m = NULL;
            qt_fault_arm((qt_fault_kind)kind, n);
            quanta_status st = quanta_model_load(model_path, be, &p, &m);
            qt_fault_disarm();
            if (!qt_fault_fired()) {
                ck_assert_msg(st == QUANTA_OK, "%s", quanta_last_error());
                quanta_model_destroy(m);
                break;
            }
            /* a conversion thread that cannot start leaves its share to the others */
            ck_assert_msg(kind != QT_FAULT_THREAD || st == QUANTA_OK, "load: thread start %ld failed the load: %s", n,
                          quanta_last_error());
            if (st == QUANTA_OK) { /* a failure the loader could absorb: the model must work */
                quanta_model_destroy(m);
                continue;
            }
            expect_clean_failure(st, "load", n);
            ck_assert_ptr_null(m);
            failures++;
        }
        printf("fault sweep: load (%s): %ld %s, each made to fail in turn: %ld clean failures\n", quant ? "q8" : "keep",
               n - 1, kind == QT_FAULT_ALLOC ? "allocations" : "thread starts", failures);
        /* q8 converts on the load threads: there are thread starts to fail */
        if (kind == QT_FAULT_THREAD && quant) ck_assert_int_ge(n - 1, 1);
    }
    quanta_backend_close(be);
}
END_TEST

/* Context, prefill of 3 tokens, sample, 2 decode steps; the first error ends the run. */
static quanta_status generate(quanta_model *m) {
    quanta_model_context *ctx = NULL;
    quanta_model_sampler *smp = NULL;
    quanta_model_sampler_params sp;
    quanta_model_sampler_default_params(&sp);
    sp.temperature = 0.8f;
    float *logits = malloc(sizeof(float) * (size_t)SPEC.n_vocab);
    int32_t toks[3] = {5, 6, 7};
    quanta_status st = logits ? QUANTA_OK : QUANTA_ERR_OUT_OF_MEMORY;
    if (!st) st = quanta_model_context_create(m, 8, &ctx);
    if (!st) st = quanta_model_sampler_create(&sp, &smp);
    if (!st) st = quanta_model_eval(ctx, toks, 3, logits, (size_t)SPEC.n_vocab);
    for (int i = 0; i < 2 && !st; i++) {
        int32_t tok;
        st = quanta_model_sample(smp, logits, (size_t)SPEC.n_vocab, &tok);
        if (!st) st = quanta_model_sampler_accept(smp, tok);
        if (!st) st = quanta_model_eval(ctx, &tok, 1, logits, (size_t)SPEC.n_vocab);
    }
    quanta_model_sampler_destroy(smp);
    quanta_model_context_destroy(ctx);
    free(logits);
    return st;
}

static void on_alarm(int sig) {
    (void)sig;
    static const char msg[] = "fault sweep: HANG in the tensor-parallel generate sweep\n";
    if (write(2, msg, sizeof msg - 1) < 0) _exit(3);
    _exit(3);
}

START_TEST(test_generate_sweep) {
    quanta_backend *be;
    ck_assert(quanta_backend_open("ref", &be) == QUANTA_OK);
    signal(SIGALRM, on_alarm);
    for (int kind = QT_FAULT_ALLOC; kind <= QT_FAULT_THREAD; kind += QT_FAULT_THREAD - QT_FAULT_ALLOC)
    for (int world = 1; world <= 2; world++) {
        long n = 1, failures = 0;
        alarm(120);
        for (;; n++) {
            quanta_model *m = NULL;
            qt_fault_arm((qt_fault_kind)kind, n);
            /* world 2: the load and every command run on two threads, whose allocations
             * interleave: the sweep still fails each count once, in some thread. */
            quanta_status st = quanta_model_load_tp_threads(model_path, be, NULL, NULL, world, &m);
            if (!st) st = generate(m);
            quanta_model_destroy(m);
            qt_fault_disarm();
            if (!qt_fault_fired()) {
                ck_assert_msg(st == QUANTA_OK, "%s", quanta_last_error());
                break;
            }
            if (st) {
                expect_clean_failure(st, "generate", n);
                failures++;
            }
        }
        alarm(0);
        printf("fault sweep: load + generate at world %d: %ld %s, each made to fail in turn: %ld clean "
               "failures, no hang\n", world, n - 1, kind == QT_FAULT_ALLOC ? "allocations" : "thread starts", failures);
    }
    quanta_backend_close(be);
}
END_TEST

/* The directory holds only in.gguf and out.gguf (no temporary file left behind). */
static void expect_no_leftovers(const char *what, long n) {
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    while ((e = readdir(d)))
        ck_assert_msg(!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, "in.gguf") ||
                          !strcmp(e->d_name, "out.gguf"),
                      "%s: failure %ld left '%s' behind", what, n, e->d_name);
    closedir(d);
}

START_TEST(test_quantize_sweep) {
    static const char old[] = "the previous output, which a failed run must leave alone";
    quanta_quantize_params p;
    quanta_quantize_default_params(&p);
    p.input = model_path;
    p.output = out_path;
    p.format = "q4";
    char tmp[400];
    p.temp_path = tmp;
    p.temp_path_cap = sizeof tmp;
    for (int kind = QT_FAULT_ALLOC; kind <= QT_FAULT_WRITE; kind++) {
        long n = 1, failures = 0;
        for (;; n++) {
            qt_spit(out_path, old, sizeof old);
            qt_fault_arm((qt_fault_kind)kind, n);
            quanta_status st = quanta_quantize_model(&p, NULL);
            qt_fault_disarm();
            size_t len = 0;
            unsigned char *got = qt_slurp(out_path, &len);
            ck_assert_ptr_nonnull(got);
            if (!qt_fault_fired()) {
                ck_assert_msg(st == QUANTA_OK, "%s", quanta_last_error());
                ck_assert(len > sizeof old && !memcmp(got, "GGUF", 4));
                free(got);
                break;
            }
            const char *what = kind == QT_FAULT_ALLOC ? "quantize (allocation)" : "quantize (file write)";
            if (st == QUANTA_OK) {
                ck_assert(len > sizeof old && !memcmp(got, "GGUF", 4));
            } else {
                expect_clean_failure(st, what, n);
                ck_assert_msg(len == sizeof old && !memcmp(got, old, sizeof old), "%s: failure %ld changed the output",
                              what, n);
                ck_assert_msg(tmp[0] == '\0', "%s: the temporary path is still published", what);
                failures++;
            }
            free(got);
            expect_no_leftovers(what, n);
        }
        printf("fault sweep: quantize: %ld %s, each made to fail in turn: %ld clean failures, old output intact\n", n - 1,
               kind == QT_FAULT_ALLOC ? "allocations" : "file writes", failures);
        ck_assert_int_ge(failures, 1);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("fault_sweep");
    TCase *tc = tcase_create("fault_sweep");
    tcase_set_timeout(tc, 600);
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_load_sweep);
    tcase_add_test(tc, test_quantize_sweep);
    tcase_add_test(tc, test_generate_sweep);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
