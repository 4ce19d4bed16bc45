/*
 * test_model_batch_same.c — a sequence's logits alone and inside a batched decode step of 12
 * sequences (so the projections run 12 rows, past the GEMV's 8), through contexts
 * (quanta_model_eval_batch) and through a paged pool (quanta_model_eval_paged, what quanta serve runs),
 * must be bit for bit the same where the backend promises it (tests/opencl/test_opencl_batch.c
 * has the per-matmul side): the reference backend always; OpenCL with f32 weights on its CPU
 * kernels; OpenCL with q8 weights under QUANTA_OPENCL_GEMM=int8 (the int8 kernel at every row
 * count, matmul_glu unfused). OpenCL's default q8 paths are not invariant (int8 x above 8 rows),
 * nor is CUDA (f32 and q8 weights): only printed. A tiny random LLaMA 128 wide (K a multiple of 128, so q8 takes the int8 kernel);
 * prompts and tokens from the printed seed; logits poisoned before each step.
 */
#include <stdlib.h>
#include <string.h>

#include "qt_check.h"
/* tiny_model.h's float64 reference is not needed here */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "tiny_model.h"

static const tiny_spec WIDE = {"llama", 128, 4, 2, 32, 256, 2, 300, 0, 10000.0f, 0, 0};

#define NS 12
#define STEPS 3

/* Whether the OpenCL device's tuning summary (quanta_device_info.details) names the CPU class's
 * one-row-per-work-item GEMV and row GEMM for dense weights. */
static int cl_dense_rows(quanta_backend *be) {
    quanta_device_info info;
    ck_assert_int_eq(quanta_backend_device(be, &info), QUANTA_OK);
    const char *t = strstr(info.details, "gemv lws x rows");
    return t && strstr(t, " dense 1x") && strstr(t, "; dense rows/");
}

/* Compares NS batched rows la (la[i] for sequence i) with what each sequence gave alone (lb[i],
 * one after another): bit for bit where must, else only the largest difference is kept in *worst. */
static void compare_rows(const float *la, const float *lb, int V, int must, const char *what, int step, double *worst) {
    for (int i = 0; i < NS; i++) {
        const float *x = la + (size_t)i * V, *y = lb + (size_t)i * V;
        for (int v = 0; v < V; v++) {
            ck_assert_msg(isfinite(x[v]) && isfinite(y[v]), "%s: logit %d of sequence %d not written", what, v, i);
            *worst = fmax(*worst, fabs((double)x[v] - (double)y[v]));
        }
        if (must)
            ck_assert_msg(memcmp(x, y, (size_t)V * sizeof *y) == 0,
                          "%s: step %d sequence %d: batched logits differ from alone (max |diff| %g)", what, step, i,
                          *worst);
    }
}

/* Contexts: quanta_model_eval_batch of NS contexts against quanta_model_eval of each. */
static double contexts_case(quanta_model *m, int V, qt_rng *r, int must, const char *what) {
    quanta_model_context *a[NS], *b[NS];
    float *la = malloc((size_t)NS * V * sizeof *la), *lb = malloc((size_t)NS * V * sizeof *lb);
    ck_assert(la && lb);
    int32_t next[NS];
    for (int i = 0; i < NS; i++) { /* each prompt prefilled alone in both sets: the same kernels */
        ck_assert_int_eq(quanta_model_context_create(m, 32, &a[i]), QUANTA_OK);
        ck_assert_int_eq(quanta_model_context_create(m, 32, &b[i]), QUANTA_OK);
        int32_t p[6];
        const int n = 2 + (int)(qt_next(r) % 5);
        for (int k = 0; k < n; k++) p[k] = (int32_t)(qt_next(r) % (uint64_t)V);
        ck_assert_int_eq(quanta_model_eval(a[i], p, (size_t)n, NULL, 0), QUANTA_OK);
        ck_assert_int_eq(quanta_model_eval(b[i], p, (size_t)n, NULL, 0), QUANTA_OK);
        next[i] = (int32_t)(qt_next(r) % (uint64_t)V);
    }
    double worst = 0;
    for (int step = 0; step < STEPS; step++) {
        qt_poison_f32(la, (size_t)NS * V);
        qt_poison_f32(lb, (size_t)NS * V);
        ck_assert_msg(quanta_model_eval_batch(a, next, NS, la, (size_t)NS * V) == QUANTA_OK, "%s", quanta_last_error());
        for (int i = 0; i < NS; i++)
            ck_assert_int_eq(quanta_model_eval(b[i], &next[i], 1, lb + (size_t)i * V, (size_t)V), QUANTA_OK);
        compare_rows(la, lb, V, must, what, step, &worst);
        for (int i = 0; i < NS; i++) next[i] = tiny_argmax(la + (size_t)i * V, V);
    }
    for (int i = 0; i < NS; i++) quanta_model_context_destroy(a[i]), quanta_model_context_destroy(b[i]);
    free(la), free(lb);
    return worst;
}

/* The server's path: a paged decode step of NS sequences (quanta_model_eval_paged, n = NS: a
 * bucket past the GEMV's 8 rows) against a step of each alone (n = 1) in a second pool holding
 * the same prompts (each prefilled alone in both: the same kernels). */
static double paged_case(quanta_model *m, int V, qt_rng *r, int must, const char *what) {
    enum { BS = 4, MB = 4, NBLK = NS * MB };
    quanta_kv_pool *pa, *pb;
    ck_assert_msg(quanta_kv_pool_create(m, QUANTA_F32, NBLK, 0, BS, MB, &pa) == QUANTA_OK, "%s", quanta_last_error());
    ck_assert_int_eq(quanta_kv_pool_create(m, QUANTA_F32, NBLK, 0, BS, MB, &pb), QUANTA_OK);
    int32_t tables[NS * MB], pos[NS], next[NS];
    for (int i = 0; i < NS * MB; i++) tables[i] = (int32_t)((i * 7 + 3) % NBLK); /* distinct, shuffled */
    float *la = malloc((size_t)NS * V * sizeof *la), *lb = malloc((size_t)NS * V * sizeof *lb);
    ck_assert(la && lb);
    for (int i = 0; i < NS; i++) {
        int32_t p[6], zero = 0;
        pos[i] = 2 + (int32_t)(qt_next(r) % 5);
        for (int k = 0; k < pos[i]; k++) p[k] = (int32_t)(qt_next(r) % (uint64_t)V);
        for (int v = 0; v < 2; v++)
            ck_assert_msg(quanta_model_eval_paged(v ? pb : pa, 1, pos[i], p, &zero, tables + i * MB, NULL, NULL, 0) ==
                              QUANTA_OK, "%s", quanta_last_error());
        next[i] = (int32_t)(qt_next(r) % (uint64_t)V);
    }
    double worst = 0;
    for (int step = 0; step < STEPS; step++) {
        qt_poison_f32(la, (size_t)NS * V);
        qt_poison_f32(lb, (size_t)NS * V);
        ck_assert_msg(quanta_model_eval_paged(pa, NS, 1, next, pos, tables, NULL, la, (size_t)NS * V) == QUANTA_OK, "%s",
                      quanta_last_error());
        for (int i = 0; i < NS; i++)
            ck_assert_msg(quanta_model_eval_paged(pb, 1, 1, &next[i], &pos[i], tables + i * MB, NULL, lb + (size_t)i * V,
                                                  (size_t)V) == QUANTA_OK, "%s", quanta_last_error());
        compare_rows(la, lb, V, must, what, step, &worst);
        for (int i = 0; i < NS; i++) next[i] = tiny_argmax(la + (size_t)i * V, V), pos[i]++;
    }
    quanta_kv_pool_destroy(pa), quanta_kv_pool_destroy(pb);
    free(la), free(lb);
    return worst;
}

/* Runs NS sequences alone and batched, through contexts and through a paged pool, on backend with
 * weights wdt (QUANTA_F32: the file's); must: assert bit equality (-1: where the OpenCL device
 * runs the CPU class's dense kernels), else print the largest difference. */
static void run(const char *backend, quanta_dtype wdt, const char *gemm_env, int must, uint64_t salt) {
    tiny_model tm;
    tiny_build(&tm, &WIDE, salt, NULL, NULL);
    if (gemm_env) setenv("QUANTA_OPENCL_GEMM", gemm_env, 1);
    quanta_model_params mp;
    quanta_model_default_params(&mp);
    mp.quantize = wdt != QUANTA_F32;
    mp.weight_dtype = wdt;
    quanta_backend *be;
    quanta_model *m = tiny_open_load(&tm, backend, &mp, &be);
    if (gemm_env) unsetenv("QUANTA_OPENCL_GEMM");
    if (!m) { /* backend not built or no device */
        quanta_backend_close(be);
        tiny_free(&tm);
        return;
    }
    if (must < 0) must = cl_dense_rows(be);
    char what[96];
    snprintf(what, sizeof what, "%s, %s weights%s%s", backend, quanta_dtype_name(wdt),
             gemm_env ? ", QUANTA_OPENCL_GEMM=" : "", gemm_env ? gemm_env : "");
    qt_rng r = qt_rng_make(salt * 13 + 1);
    const double wc = contexts_case(m, WIDE.n_vocab, &r, must, what);
    const double wp = paged_case(m, WIDE.n_vocab, &r, must, what);
    printf("%s: batched vs alone, largest logit difference %g (contexts), %g (paged steps)%s\n", what, wc, wp,
           must ? " (bit equality asserted)" : " (not promised)");
    quanta_model_destroy(m);
    quanta_backend_close(be);
    tiny_free(&tm);
}

START_TEST(test_batched_decode_same_as_alone) {
    /* CUDA promises nothing here (kernels chosen by the row count): printed only, for the
     * server README's account (skipped without a device); first, so that a device run prints it
     * whatever the OpenCL runs below find there */
    run("cuda", QUANTA_F32, NULL, 0, 6);
    run("cuda", QUANTA_Q8, NULL, 0, 7);
    run("ref", QUANTA_F32, NULL, 1, 1);
    run("ref", QUANTA_Q8, NULL, 1, 2);
    run("opencl", QUANTA_F32, NULL, -1, 3);   /* asserted on the CPU kernels */
    run("opencl", QUANTA_Q8, NULL, 0, 4);     /* int8 x above 8 rows: printed only */
    run("opencl", QUANTA_Q8, "int8", 1, 5);
}
END_TEST

int main(void) {
    Suite *s = suite_create("model_batch_same");
    TCase *tc = tcase_create("batch_same");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_batched_decode_same_as_alone);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
