/* test_engine.c — the graph executor through the public API: op argument validation, memory
 * planning with buffer reuse, per-op fallback, buffers and in-place writes, states, limits. */
#include <math.h>
#include <string.h>

#include "backend.h"
#include "engine_test.h"
#include "quanta.h"
#include "test_util.h"
#include "qt_check.h"
#include "qt_ref_wrapper.h"
#include "qt_tensor.h"

START_TEST(test_version) {
    ck_assert_str_eq(quanta_version(), QUANTA_VERSION_STRING);
    ck_assert_int_eq(quanta_version_number(), QUANTA_VERSION_NUMBER);
    ck_assert_ptr_nonnull(strstr(quanta_backends_compiled(), "ref"));
}
END_TEST

START_TEST(test_op_validation_names_argument) {
    quanta_graph *g;
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    quanta_tensor_desc dx = qt_desc(QUANTA_F32, 2, 3, 8, 0, 0), dw = qt_desc(QUANTA_F32, 2, 5, 7, 0, 0);
    quanta_tensor *x, *w, *y = (quanta_tensor *)1;
    ck_assert_int_eq(quanta_graph_input(g, "x", &dx, &x), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "w", &dw, &w), QUANTA_OK);
    QT_EXPECT_ERR(quanta_matmul(g, x, w, &y), QUANTA_ERR_INVALID_ARGUMENT, "K = 8");
    ck_assert_ptr_null(y);
    QT_EXPECT_ERR(quanta_matmul(g, NULL, w, &y), QUANTA_ERR_INVALID_ARGUMENT, "x is NULL");
    QT_EXPECT_ERR(quanta_matmul(NULL, x, w, &y), QUANTA_ERR_INVALID_ARGUMENT, "graph is NULL");
    QT_EXPECT_ERR(quanta_matmul(g, x, w, NULL), QUANTA_ERR_INVALID_ARGUMENT, "out is NULL");

    /* A tensor of another graph is refused. */
    quanta_graph *g2;
    ck_assert_int_eq(quanta_graph_create(&g2), QUANTA_OK);
    quanta_tensor *other;
    ck_assert_int_eq(quanta_graph_input(g2, "o", &dx, &other), QUANTA_OK);
    QT_EXPECT_ERR(quanta_add(g, x, other, &y), QUANTA_ERR_INVALID_ARGUMENT, "another graph");
    quanta_graph_destroy(g2);

    /* Attention: heads, mask shape, kv_lens dtype, window, dtype mismatch. */
    quanta_tensor_desc dq = qt_desc(QUANTA_F32, 4, 2, 6, 5, 16), dk = qt_desc(QUANTA_F32, 4, 2, 4, 9, 16);
    quanta_tensor *q, *k, *m, *lens;
    ck_assert_int_eq(quanta_graph_input(g, "q", &dq, &q), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "k", &dk, &k), QUANTA_OK);
    QT_EXPECT_ERR(quanta_attention(g, q, k, k, NULL, NULL, NULL, &y), QUANTA_ERR_INVALID_ARGUMENT, "multiple");
    quanta_tensor_desc dm = {QUANTA_U8, 2, {5, 8, 1, 1}, 0, 0};
    ck_assert_int_eq(quanta_graph_input(g, "m", &dm, &m), QUANTA_OK);
    quanta_tensor_desc dq2 = qt_desc(QUANTA_F32, 4, 2, 8, 5, 16);
    quanta_tensor *q2;
    ck_assert_int_eq(quanta_graph_input(g, "q2", &dq2, &q2), QUANTA_OK);
    QT_EXPECT_ERR(quanta_attention(g, q2, k, k, m, NULL, NULL, &y), QUANTA_ERR_INVALID_ARGUMENT, "mask");
    quanta_tensor_desc dl = qt_desc(QUANTA_F32, 1, 2, 0, 0, 0);
    ck_assert_int_eq(quanta_graph_input(g, "lens", &dl, &lens), QUANTA_OK);
    QT_EXPECT_ERR(quanta_attention(g, q2, k, k, NULL, lens, NULL, &y), QUANTA_ERR_INVALID_ARGUMENT, "kv_lens");
    quanta_attention_params ap = {0.0f, 1, -3};
    QT_EXPECT_ERR(quanta_attention(g, q2, k, k, NULL, NULL, &ap, &y), QUANTA_ERR_INVALID_ARGUMENT, "window");
    ck_assert_int_eq(quanta_attention(g, q2, k, k, NULL, NULL, NULL, &y), QUANTA_OK);

    /* rope, rms_norm, add broadcast, permute, convert, get_rows, reshape, write_rows. */
    quanta_tensor_desc dpos = {QUANTA_I32, 1, {4, 1, 1, 1}, 0, 0};
    quanta_tensor *pos;
    ck_assert_int_eq(quanta_graph_input(g, "pos", &dpos, &pos), QUANTA_OK);
    quanta_rope_params rp = {QUANTA_ROPE_NEOX, 10000.0f, 0.0f, 0};
    QT_EXPECT_ERR(quanta_rope(g, q2, pos, &rp, &y), QUANTA_ERR_INVALID_ARGUMENT, "positions");
    quanta_tensor_desc dr = qt_desc(QUANTA_F32, 4, 1, 2, 4, 16);
    quanta_tensor *xr;
    ck_assert_int_eq(quanta_graph_input(g, "xr", &dr, &xr), QUANTA_OK);
    rp.rot_dims = 5;
    QT_EXPECT_ERR(quanta_rope(g, xr, pos, &rp, &y), QUANTA_ERR_INVALID_ARGUMENT, "rot_dims");
    rp.rot_dims = 0;
    ck_assert_int_eq(quanta_rope(g, xr, pos, &rp, &y), QUANTA_OK);
    QT_EXPECT_ERR(quanta_rms_norm(g, x, x, 1e-6f, 0, &y), QUANTA_ERR_INVALID_ARGUMENT, "weight");
    QT_EXPECT_ERR(quanta_rms_norm(g, x, NULL, -1.0f, 0, &y), QUANTA_ERR_INVALID_ARGUMENT, "eps");
    QT_EXPECT_ERR(quanta_add(g, x, w, &y), QUANTA_ERR_INVALID_ARGUMENT, "b must");
    int32_t bad_perm[4] = {0, 0, 1, 2};
    QT_EXPECT_ERR(quanta_permute(g, q, bad_perm, &y), QUANTA_ERR_INVALID_ARGUMENT, "perm");
    QT_EXPECT_ERR(quanta_convert(g, x, QUANTA_Q8, &y), QUANTA_ERR_INVALID_ARGUMENT, "dtype");
    QT_EXPECT_ERR(quanta_get_rows(g, x, x, &y), QUANTA_ERR_INVALID_ARGUMENT, "ids");
    int64_t rdims[2] = {5, 5};
    QT_EXPECT_ERR(quanta_reshape(g, x, 2, rdims, &y), QUANTA_ERR_INVALID_ARGUMENT, "elements");
    quanta_tensor *start;
    quanta_tensor_desc ds = {QUANTA_I32, 1, {1, 1, 1, 1}, 0, 0};
    ck_assert_int_eq(quanta_graph_input(g, "start", &ds, &start), QUANTA_OK);
    QT_EXPECT_ERR(quanta_write_rows(g, k, k, start, &y), QUANTA_ERR_INVALID_ARGUMENT, "buffer");
    QT_EXPECT_ERR(quanta_scale(g, x, NAN, &y), QUANTA_ERR_INVALID_ARGUMENT, "finite");

    /* Descriptors: bad ndim, non-positive dims. */
    quanta_tensor_desc bad = qt_desc(QUANTA_F32, 5, 1, 1, 1, 1);
    ck_assert_int_eq(quanta_graph_input(g, "bad", &bad, &y), QUANTA_ERR_INVALID_ARGUMENT);
    bad = qt_desc(QUANTA_F32, 2, 3, 0, 0, 0);
    ck_assert_int_eq(quanta_graph_input(g, "bad", &bad, &y), QUANTA_ERR_INVALID_ARGUMENT);
    quanta_graph_destroy(g);
}
END_TEST

/* A chain of element-wise ops must reuse intermediate memory: the peak is two live tensors,
 * not one per op; the values are checked against a closed form. */
START_TEST(test_plan_reuses_memory_and_computes) {
    qt_rng r = qt_rng_make(11);
    enum { N = 1000, OPS = 12 };
    quanta_backend *be;
    ck_assert_int_eq(quanta_backend_open("ref", &be), QUANTA_OK);
    quanta_graph *g;
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    quanta_tensor *x, *t = qt_scale_chain(g, N, OPS, 1.25f, &x);
    quanta_tensor *y;
    ck_assert_int_eq(quanta_add(g, t, x, &y), QUANTA_OK);
    /* A dead branch is pruned: it is not an output and feeds nothing. */
    quanta_tensor *dead;
    ck_assert_int_eq(quanta_silu(g, x, &dead), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(g, y), QUANTA_OK);
    quanta_plan *p;
    ck_assert_int_eq(quanta_plan_create(g, be, &p), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_op_count(p), OPS + 1);
    size_t peak = 0;
    ck_assert_int_eq(quanta_plan_peak_bytes(p, &peak), QUANTA_OK);
    size_t one = (N * 4 + 255) / 256 * 256;
    ck_assert_msg(peak <= 3 * one && peak >= 2 * one, "peak %zu, one tensor %zu", peak, one);

    float in[N], out[N];
    qt_fill_normal(&r, in, N, 1.0f);
    ck_assert_int_eq(quanta_plan_execute(p), QUANTA_ERR_STATE); /* input not set yet */
    ck_assert_ptr_nonnull(strstr(quanta_last_error(), "'x'"));
    ck_assert_int_eq(quanta_plan_set_input(p, x, in, sizeof in), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_execute(p), QUANTA_OK);
    qt_poison_f32(out, N);
    ck_assert_int_eq(quanta_plan_get_output(p, y, out, sizeof out), QUANTA_OK);
    double f = pow(1.25, OPS) + 1.0;
    for (int i = 0; i < N; i++) ck_assert_msg(fabs(out[i] - in[i] * f) <= 1e-5 * fabs(in[i] * f) + 1e-6, "i=%d", i);
    /* Unmarked intermediates cannot be read; wrong sizes are refused. */
    ck_assert_int_eq(quanta_plan_get_output(p, t, out, sizeof out), QUANTA_ERR_STATE);
    ck_assert_int_eq(quanta_plan_get_output(p, y, out, sizeof out - 4), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(quanta_plan_set_input(p, y, in, sizeof in), QUANTA_ERR_INVALID_ARGUMENT);
    quanta_plan_destroy(p);
    quanta_graph_destroy(g);
    quanta_backend_close(be);
}
END_TEST

/* A backend that is the reference in disguise but lacks silu (and glu, else the plan would fuse
 * silu into the mul): the executor must run silu on the reference through host copies and
 * report it. */
static bool fake_supports(void *self, const qn_node *n) { (void)self; return n->op != QN_OP_SILU && n->op != QN_OP_GLU; }
static quanta_status fake_run(void *self, const qn_node *n) {
    ck_assert_int_ne(n->op, QN_OP_SILU);
    return qn_ref_backend.run(self, n);
}
static qn_backend_ops nosilu_ops(void) {
    qn_backend_ops ops = qt_ref_wrapper("nosilu");
    ops.supports_op = fake_supports;
    ops.run = fake_run;
    return ops;
}

START_TEST(test_fallback_to_reference) {
    static qn_backend_ops nosilu;
    qt_rng r = qt_rng_make(12);
    quanta_backend *be = qt_ref_wrapper_open(&nosilu, nosilu_ops);
    quanta_graph *g;
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    enum { N = 77 };
    quanta_tensor_desc d = qt_desc(QUANTA_F32, 2, 7, 11, 0, 0);
    quanta_tensor *x, *s, *y;
    ck_assert_int_eq(quanta_graph_input(g, "x", &d, &x), QUANTA_OK);
    ck_assert_int_eq(quanta_silu(g, x, &s), QUANTA_OK);
    ck_assert_int_eq(quanta_mul(g, s, x, &y), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(g, y), QUANTA_OK);
    quanta_plan *p;
    ck_assert_int_eq(quanta_plan_create(g, be, &p), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_fallback_count(p), 1);
    const char *op, *bn;
    ck_assert_int_eq(quanta_plan_op_info(p, 0, &op, &bn), QUANTA_OK);
    ck_assert_str_eq(op, "silu");
    ck_assert_str_eq(bn, "ref");
    ck_assert_int_eq(quanta_plan_op_info(p, 1, &op, &bn), QUANTA_OK);
    ck_assert_str_eq(bn, "nosilu");
    float in[N], out[N];
    qt_fill_normal(&r, in, N, 2.0f);
    qt_poison_f32(out, N);
    ck_assert_int_eq(quanta_plan_set_input(p, x, in, sizeof in), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_execute(p), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_get_output(p, y, out, sizeof out), QUANTA_OK);
    for (int i = 0; i < N; i++) {
        double v = in[i], want = v * v / (1.0 + exp(-v));
        ck_assert_msg(fabs(out[i] - want) <= 1e-5 * fabs(want) + 1e-6, "i=%d got %g want %g", i, out[i], want);
    }
    quanta_plan_destroy(p);
    quanta_graph_destroy(g);
    quanta_backend_close(be);
}
END_TEST

/* write_rows appends to a persistent buffer across two plans (a KV cache); attention in the
 * second plan sees rows written by the first. */
START_TEST(test_buffer_write_rows_across_plans) {
    qt_rng r = qt_rng_make(13);
    enum { H = 2, NMAX = 6, D = 4, T1 = 3 };
    quanta_backend *be;
    ck_assert_int_eq(quanta_backend_open("ref", &be), QUANTA_OK);
    quanta_tensor_desc dc = qt_desc(QUANTA_F32, 4, 1, H, NMAX, D);
    quanta_buffer *cache;
    ck_assert_int_eq(quanta_buffer_create(be, &dc, &cache), QUANTA_OK);
    float zero_check[H * NMAX * D];
    ck_assert_int_eq(quanta_buffer_read(cache, zero_check, sizeof zero_check), QUANTA_OK);
    for (int i = 0; i < H * NMAX * D; i++) ck_assert(zero_check[i] == 0.0f);

    float rows[H * NMAX * D];
    qt_fill_normal(&r, rows, H * NMAX * D, 1.0f);
    /* Plan 1 writes T1 rows at 0, plan 2 writes 1 row at T1, then reads the cache back. */
    for (int step = 0; step < 2; step++) {
        int T = step == 0 ? T1 : 1, at = step == 0 ? 0 : T1;
        quanta_graph *g;
        ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
        quanta_tensor *c, *src, *start, *after;
        quanta_tensor_desc dsrc = qt_desc(QUANTA_F32, 4, 1, H, T, D), ds = {QUANTA_I32, 1, {1, 1, 1, 1}, 0, 0};
        ck_assert_int_eq(quanta_graph_buffer(g, cache, &c), QUANTA_OK);
        ck_assert_int_eq(quanta_graph_input(g, "src", &dsrc, &src), QUANTA_OK);
        ck_assert_int_eq(quanta_graph_input(g, "start", &ds, &start), QUANTA_OK);
        ck_assert_int_eq(quanta_write_rows(g, c, src, start, &after), QUANTA_OK);
        quanta_plan *p;
        ck_assert_int_eq(quanta_plan_create(g, be, &p), QUANTA_OK);
        float srcv[H * T1 * D];
        for (int h = 0; h < H; h++)
            for (int t = 0; t < T; t++)
                for (int e = 0; e < D; e++) srcv[(h * T + t) * D + e] = rows[(h * NMAX + at + t) * D + e];
        int32_t s32 = at;
        ck_assert_int_eq(quanta_plan_set_input(p, src, srcv, (size_t)H * T * D * 4), QUANTA_OK);
        ck_assert_int_eq(quanta_plan_set_input(p, start, &s32, 4), QUANTA_OK);
        ck_assert_int_eq(quanta_plan_execute(p), QUANTA_OK);
        /* Writing past Nmax fails at run time and names the op. */
        s32 = NMAX - T + 1;
        ck_assert_int_eq(quanta_plan_set_input(p, start, &s32, 4), QUANTA_OK);
        ck_assert_int_ne(quanta_plan_execute(p), QUANTA_OK);
        quanta_plan_destroy(p);
        quanta_graph_destroy(g);
    }
    float got[H * NMAX * D];
    ck_assert_int_eq(quanta_buffer_read(cache, got, sizeof got), QUANTA_OK);
    for (int h = 0; h < H; h++)
        for (int n = 0; n < NMAX; n++)
            for (int e = 0; e < D; e++) {
                float want = n < T1 + 1 ? rows[(h * NMAX + n) * D + e] : 0.0f;
                ck_assert_msg(got[(h * NMAX + n) * D + e] == want, "h=%d n=%d e=%d", h, n, e);
            }
    quanta_buffer_destroy(cache);
    quanta_backend_close(be);
}
END_TEST

START_TEST(test_memory_limit_and_stats) {
    quanta_backend *be;
    ck_assert_int_eq(quanta_backend_open("ref", &be), QUANTA_OK);
    ck_assert_int_eq(quanta_backend_set_memory_limit(be, 1 << 20), QUANTA_OK);
    quanta_tensor_desc big = qt_desc(QUANTA_F32, 2, 1024, 1024, 0, 0);
    quanta_buffer *b = NULL;
    QT_EXPECT_ERR(quanta_buffer_create(be, &big, &b), QUANTA_ERR_OUT_OF_MEMORY, "limit");
    ck_assert_ptr_null(b);
    quanta_tensor_desc small = qt_desc(QUANTA_F32, 1, 1000, 0, 0, 0);
    ck_assert_int_eq(quanta_buffer_create(be, &small, &b), QUANTA_OK);
    uint64_t in_use = 0, peak = 0;
    ck_assert_int_eq(quanta_backend_memory_stats(be, &in_use, &peak), QUANTA_OK);
    ck_assert_uint_eq(in_use, 4000);
    quanta_buffer_destroy(b);
    ck_assert_int_eq(quanta_backend_memory_stats(be, &in_use, &peak), QUANTA_OK);
    ck_assert_uint_eq(in_use, 0);
    ck_assert_uint_ge(peak, 4000);
    quanta_backend_close(be);
}
END_TEST

START_TEST(test_backend_open_errors) {
    quanta_backend *be = (quanta_backend *)1;
    QT_EXPECT_ERR(quanta_backend_open("nonsense", &be), QUANTA_ERR_INVALID_ARGUMENT, "unknown backend");
    ck_assert_ptr_null(be);
    QT_EXPECT_ERR(quanta_backend_open(NULL, &be), QUANTA_ERR_INVALID_ARGUMENT, "spec");
    QT_EXPECT_ERR(quanta_backend_open("ref:7", &be), QUANTA_ERR_INVALID_ARGUMENT, "out of range");
    ck_assert_int_eq(quanta_backend_open("best", &be), QUANTA_OK);
    quanta_device_info info;
    ck_assert_int_eq(quanta_backend_device(be, &info), QUANTA_OK);
    ck_assert(info.name[0] != '\0');
    quanta_backend_close(be);
    int n = 0;
    ck_assert_int_eq(quanta_device_count(&n), QUANTA_OK);
    ck_assert_int_ge(n, 1);
    ck_assert_int_eq(quanta_device_get(n, &info), QUANTA_ERR_INVALID_ARGUMENT);

    /* Tuning: only a backend with a tuning table (its measurement hooks) has one to fill. */
    char report[64] = "x";
    QT_EXPECT_ERR(quanta_backend_tune(NULL, 1, report, sizeof report), QUANTA_ERR_INVALID_ARGUMENT, "backend is NULL");
    ck_assert_int_eq(quanta_backend_open("ref", &be), QUANTA_OK);
    QT_EXPECT_ERR(quanta_backend_tune(be, 1, report, sizeof report), QUANTA_ERR_UNSUPPORTED, "the ref backend",
                  "no tuning table");
    ck_assert_str_eq(report, "");
    quanta_backend_close(be);
}
END_TEST

/* Separate backends and graphs used from several threads at once must not interfere:
 * each thread computes its own matmul and checks it against a plain loop. */
#include <pthread.h>
typedef struct thread_job {
    uint64_t salt;
    int ok;
    char err[256];
} thread_job;

static void *thread_main(void *arg) {
    thread_job *job = arg;
    qt_rng r = qt_rng_make(job->salt);
    enum { M = 5, K = 33, N = 9 };
    float x[M * K], w[N * K], y[M * N];
    qt_fill_normal(&r, x, M * K, 1.0f);
    qt_fill_normal(&r, w, N * K, 1.0f);
    quanta_backend *be = NULL;
    quanta_graph *g = NULL;
    quanta_plan *p = NULL;
    quanta_tensor *tx, *tw, *ty;
    quanta_tensor_desc dx = qt_desc(QUANTA_F32, 2, M, K, 0, 0), dw = qt_desc(QUANTA_F32, 2, N, K, 0, 0);
    job->ok = 0;
    for (int rep = 0; rep < 20; rep++) {
        if (quanta_backend_open("ref", &be) || quanta_graph_create(&g) || quanta_graph_input(g, "x", &dx, &tx) ||
            quanta_graph_constant(g, "w", &dw, w, sizeof w, &tw) || quanta_matmul(g, tx, tw, &ty) ||
            quanta_graph_output(g, ty) || quanta_plan_create(g, be, &p) || quanta_plan_set_input(p, tx, x, sizeof x) ||
            quanta_plan_execute(p) || quanta_plan_get_output(p, ty, y, sizeof y)) {
            snprintf(job->err, sizeof job->err, "%s", quanta_last_error());
            return NULL;
        }
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++) {
                double acc = 0;
                for (int k = 0; k < K; k++) acc += (double)x[m * K + k] * w[n * K + k];
                if (fabs(acc - y[m * N + n]) > 1e-4 * (1 + fabs(acc))) {
                    snprintf(job->err, sizeof job->err, "mismatch at %d,%d", m, n);
                    return NULL;
                }
            }
        quanta_plan_destroy(p);
        quanta_graph_destroy(g);
        quanta_backend_close(be);
    }
    job->ok = 1;
    return NULL;
}

START_TEST(test_threads_use_separate_contexts) {
    enum { T = 4 };
    pthread_t th[T];
    thread_job jobs[T];
    for (int i = 0; i < T; i++) {
        memset(&jobs[i], 0, sizeof jobs[i]);
        jobs[i].salt = 100 + (uint64_t)i;
        ck_assert_int_eq(pthread_create(&th[i], NULL, thread_main, &jobs[i]), 0);
    }
    for (int i = 0; i < T; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < T; i++) ck_assert_msg(jobs[i].ok, "thread %d: %s", i, jobs[i].err);
}
END_TEST

int main(void) {
    Suite *s = suite_create("engine");
    TCase *tc = tcase_create("engine");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_version);
    tcase_add_test(tc, test_op_validation_names_argument);
    tcase_add_test(tc, test_plan_reuses_memory_and_computes);
    tcase_add_test(tc, test_fallback_to_reference);
    tcase_add_test(tc, test_buffer_write_rows_across_plans);
    tcase_add_test(tc, test_memory_limit_and_stats);
    tcase_add_test(tc, test_backend_open_errors);
    tcase_add_test(tc, test_threads_use_separate_contexts);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
