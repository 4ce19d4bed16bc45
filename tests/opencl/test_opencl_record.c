/*
 * test_opencl_record.c — a plan executed again and again on OpenCL is recorded on its second
 * execute and replayed from then on (engine/opencl/cl_record.c). Each execute gets fresh
 * inputs and its outputs are compared with the reference backend's on the same graph, so a
 * replay that kept stale arguments, lost a scratch buffer (the q4 GEMV's prepared x) or
 * skipped a launch fails. A path that cannot be recorded (CLBlast) runs op by op instead,
 * with the same results. A recording made under one tuning table is not replayed under another
 * (`quanta tune` times one plan under each candidate).
 */
#include <stdlib.h>

#include "cl_test.h"
#include "opencl/cl_internal.h"
#include "plan.h"
#include "qt_tensor.h"
#include "registry.h"
#include "test_util.h"

static quanta_backend *g_cl, *g_ref;

/* The graph: decode-like and prefill-like shapes of x[M, K] through a q4 matmul, a q8
 * matmul, rms_norm, gelu, a residual add and attention over a kv_lens input. */
enum { K = 256, N = 64, H = 2, D = 32, NK = 24 };

typedef struct net {
    quanta_graph *g;
    quanta_tensor *x, *kv, *len, *y, *o;
} net;

static void build(net *n, int64_t M, uint64_t salt) {
    qt_rng r = qt_rng_make(salt); /* the same weights on both backends */
    float *w4 = malloc(N * K * sizeof *w4), *w8 = malloc(N * N * sizeof *w8), nw[N];
    qt_fill_normal(&r, w4, N * K, 0.5f);
    qt_fill_normal(&r, w8, N * N, 0.5f);
    qt_fill_normal(&r, nw, N, 1.0f);
    quanta_tensor_desc d4 = qt_desc(QUANTA_Q4, 2, N, K, 0, 0), d8 = qt_desc(QUANTA_Q8, 2, N, N, 0, 0);
    d4.group = 64;
    size_t b4, b8;
    ck_assert_int_eq(quanta_tensor_bytes(&d4, &b4), QUANTA_OK);
    ck_assert_int_eq(quanta_tensor_bytes(&d8, &b8), QUANTA_OK);
    void *q4 = malloc(b4), *q8 = malloc(b8);
    ck_assert_int_eq(quanta_quantize(&d4, w4, q4, b4), QUANTA_OK);
    ck_assert_int_eq(quanta_quantize(&d8, w8, q8, b8), QUANTA_OK);
    quanta_tensor_desc dx = qt_desc(QUANTA_F32, 2, M, K, 0, 0), dn = qt_desc(QUANTA_F32, 1, N, 0, 0, 0);
    quanta_tensor_desc dkv = qt_desc(QUANTA_F32, 4, 1, H, NK, D), dl = qt_desc(QUANTA_I32, 1, 1, 0, 0, 0);
    quanta_tensor *w4t, *w8t, *nwt, *h, *a, *q;
    ck_assert_int_eq(quanta_graph_create(&n->g), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(n->g, "x", &dx, &n->x), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(n->g, "kv", &dkv, &n->kv), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(n->g, "len", &dl, &n->len), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_constant(n->g, "w4", &d4, q4, b4, &w4t), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_constant(n->g, "w8", &d8, q8, b8, &w8t), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_constant(n->g, "nw", &dn, nw, sizeof nw, &nwt), QUANTA_OK);
    ck_assert_int_eq(quanta_matmul(n->g, n->x, w4t, &h), QUANTA_OK);
    ck_assert_int_eq(quanta_rms_norm(n->g, h, nwt, 1e-6f, 0, &a), QUANTA_OK);
    ck_assert_int_eq(quanta_gelu(n->g, a, 1, &a), QUANTA_OK);
    ck_assert_int_eq(quanta_matmul(n->g, a, w8t, &a), QUANTA_OK);
    ck_assert_int_eq(quanta_add(n->g, a, h, &n->y), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(n->g, n->y), QUANTA_OK);
    /* attention of kv over itself, its keys cut at the len input (read on the device) */
    ck_assert_int_eq(quanta_reshape(n->g, n->kv, 4, (int64_t[]){1, H, NK, D}, &q), QUANTA_OK);
    quanta_attention_params ap = {0};
    quanta_tensor *att;
    ck_assert_int_eq(quanta_attention(n->g, q, n->kv, n->kv, NULL, n->len, &ap, &att), QUANTA_OK);
    /* a permute whose output shares the activations' buffer but not x's bytes: recorded (it once copied x aside
     * whenever the buffers were the same, and that copy kept every prefill step from being recorded) */
    static const int32_t perm[4] = {0, 2, 1, 3};
    ck_assert_int_eq(quanta_permute(n->g, att, perm, &n->o), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(n->g, n->o), QUANTA_OK);
    free(w4);
    free(w8);
    free(q4);
    free(q8);
}

static void run(quanta_plan *p, net *n, const float *x, size_t xn, const float *kv, int32_t len, float *y, size_t yn,
                float *o, size_t on) {
    ck_assert_int_eq(quanta_plan_set_input(p, n->x, x, xn * sizeof *x), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_set_input(p, n->kv, kv, (size_t)H * NK * D * sizeof *kv), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_set_input(p, n->len, &len, sizeof len), QUANTA_OK);
    ck_assert_msg(quanta_plan_execute(p) == QUANTA_OK, "%s", quanta_last_error());
    qt_poison_f32(y, yn);
    qt_poison_f32(o, on);
    ck_assert_int_eq(quanta_plan_get_output(p, n->y, y, yn * sizeof *y), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_get_output(p, n->o, o, on * sizeof *o), QUANTA_OK);
}

static void expect_close(const float *got, const float *want, size_t n, const char *what, int rep) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(isfinite(got[i]), "%s execute %d: element %zu is %f", what, rep, i, got[i]);
        num += ((double)got[i] - want[i]) * ((double)got[i] - want[i]);
        den += (double)want[i] * want[i];
    }
    ck_assert_msg(num <= 1e-8 * den + 1e-20, "%s execute %d: relative squared error %g", what, rep, num / den);
}

/* Five executes with fresh inputs each (the first plain, the second recorded, then replays); recorded: the plan
 * must have been recorded by then (0: a path that cannot be, where it is taken, is not asserted either way). */
static void check_repeats(quanta_backend *be, int64_t M, uint64_t salt, int recorded) {
    net nc, nr;
    build(&nc, M, salt);
    build(&nr, M, salt);
    quanta_plan *pc, *pr;
    ck_assert_msg(quanta_plan_create(nc.g, be, &pc) == QUANTA_OK, "%s", quanta_last_error());
    ck_assert_int_eq(quanta_plan_fallback_count(pc), 0);
    ck_assert_int_eq(quanta_plan_create(nr.g, g_ref, &pr), QUANTA_OK);
    const size_t xn = (size_t)M * K, yn = (size_t)M * N, kn = (size_t)H * NK * D, on = kn;
    float *x = malloc(xn * 4), *kv = malloc(kn * 4), *y = malloc(yn * 4), *yr = malloc(yn * 4), *o = malloc(on * 4),
          *orf = malloc(on * 4);
    qt_rng r = qt_rng_make(salt + 1);
    for (int rep = 0; rep < 5; rep++) {
        qt_fill_normal(&r, x, xn, 1.0f);
        qt_fill_normal(&r, kv, kn, 1.0f);
        int32_t len = 1 + (int32_t)(qt_next(&r) % NK);
        run(pc, &nc, x, xn, kv, len, y, yn, o, on);
        run(pr, &nr, x, xn, kv, len, yr, yn, orf, on);
        expect_close(y, yr, yn, "matmul chain", rep);
        expect_close(o, orf, on, "attention", rep);
    }
    ck_assert_msg(!recorded || qn_plan_is_recorded(pc), "M = %lld: the plan was not recorded (%s)", (long long)M, quanta_last_error());
    quanta_plan_destroy(pc);
    quanta_plan_destroy(pr);
    quanta_graph_destroy(nc.g);
    quanta_graph_destroy(nr.g);
    free(x);
    free(kv);
    free(y);
    free(yr);
    free(o);
    free(orf);
}

START_TEST(test_replay_decode) { check_repeats(g_cl, 1, 11, 1); }
END_TEST

START_TEST(test_replay_prefill) { check_repeats(g_cl, 20, 12, 1); }
END_TEST

/* CLBlast cannot be recorded: the capture gives up and the plan keeps running op by op. */
START_TEST(test_unrecordable_path_runs_plain) {
    setenv("QUANTA_OPENCL_GEMM", "blas", 1);
    quanta_backend *be;
    quanta_status st = quanta_backend_open("opencl", &be);
    unsetenv("QUANTA_OPENCL_GEMM");
    ck_assert_msg(st == QUANTA_OK, "%s", quanta_last_error());
    check_repeats(be, 20, 13, 0);
    quanta_backend_close(be);
}
END_TEST

/* A recording lends freed scratch to later ops of the same capture: eight chained q4 matmuls
 * (each with its prepared-x scratch) leave the recording holding about one op's scratch, not
 * eight. Results stay the reference's. */
START_TEST(test_recording_reuses_scratch) {
    enum { M = 16, KK = 256, CHAIN = 8 };
    qt_rng r = qt_rng_make(14);
    float *w = malloc(KK * KK * sizeof *w), *x = malloc(M * KK * sizeof *x), *y = malloc(M * KK * sizeof *y),
          *yr = malloc(M * KK * sizeof *yr);
    qt_fill_normal(&r, w, KK * KK, 0.06f);
    quanta_tensor_desc dw = qt_desc(QUANTA_Q4, 2, KK, KK, 0, 0), dx = qt_desc(QUANTA_F32, 2, M, KK, 0, 0);
    dw.group = 64;
    size_t wb;
    ck_assert_int_eq(quanta_tensor_bytes(&dw, &wb), QUANTA_OK);
    void *wq = malloc(wb);
    ck_assert_int_eq(quanta_quantize(&dw, w, wq, wb), QUANTA_OK);
    quanta_backend *bes[2] = {g_cl, g_ref};
    quanta_plan *p[2];
    quanta_graph *g[2];
    quanta_tensor *tx[2], *ty[2];
    for (int b = 0; b < 2; b++) {
        quanta_tensor *tw, *t;
        ck_assert_int_eq(quanta_graph_create(&g[b]), QUANTA_OK);
        ck_assert_int_eq(quanta_graph_input(g[b], "x", &dx, &tx[b]), QUANTA_OK);
        ck_assert_int_eq(quanta_graph_constant(g[b], "w", &dw, wq, wb, &tw), QUANTA_OK);
        t = tx[b];
        for (int i = 0; i < CHAIN; i++) ck_assert_int_eq(quanta_matmul(g[b], t, tw, &t), QUANTA_OK);
        ty[b] = t;
        ck_assert_int_eq(quanta_graph_output(g[b], t), QUANTA_OK);
        ck_assert_int_eq(quanta_plan_create(g[b], bes[b], &p[b]), QUANTA_OK);
    }
    uint64_t base = 0, in_use, peak;
    for (int rep = 0; rep < 4; rep++) {
        qt_fill_normal(&r, x, M * KK, 1.0f);
        for (int b = 0; b < 2; b++) {
            ck_assert_int_eq(quanta_plan_set_input(p[b], tx[b], x, M * KK * sizeof *x), QUANTA_OK);
            ck_assert_msg(quanta_plan_execute(p[b]) == QUANTA_OK, "%s", quanta_last_error());
            ck_assert_int_eq(quanta_plan_get_output(p[b], ty[b], b ? yr : y, M * KK * sizeof *y), QUANTA_OK);
        }
        expect_close(y, yr, M * KK, "q4 chain", rep);
        ck_assert_int_eq(quanta_backend_memory_stats(g_cl, &in_use, &peak), QUANTA_OK);
        if (rep == 0) base = in_use; /* op by op: every scratch freed after its op */
    }
    const uint64_t one = (uint64_t)M * KK * 4 + (uint64_t)M * (KK / 64) * 4; /* one op's prepared x */
    ck_assert_msg(in_use - base <= 2 * one, "the recording holds %llu scratch bytes for %d ops of %llu each",
                  (unsigned long long)(in_use - base), CHAIN, (unsigned long long)one);
    for (int b = 0; b < 2; b++) {
        quanta_plan_destroy(p[b]);
        quanta_graph_destroy(g[b]);
    }
    free(w);
    free(x);
    free(y);
    free(yr);
    free(wq);
}
END_TEST

/* The recording keeps the table its kernels were chosen by: a changed entry makes the replay
 * report the recording invalid (the executor then records again), the same table replays it. */
START_TEST(test_replay_invalid_after_tuning_change) {
    void *self;
    const qn_backend_ops *ops = qn_backend_vtable(g_cl, &self);
    ck_assert_ptr_nonnull(ops->capture_begin);
    qn_cl *s = self;
    void *rec = NULL;
    ck_assert_int_eq(ops->capture_begin(self), QUANTA_OK);
    ck_assert_int_eq(ops->capture_end(self, 1, &rec), QUANTA_OK);
    ck_assert_ptr_nonnull(rec);
    int valid = -1;
    ck_assert_int_eq(ops->replay(self, rec, &valid), QUANTA_OK);
    ck_assert_int_eq(valid, 1);
    const qn_cl_tune_entry keep = s->tune.e[0];
    s->tune.e[0].b = keep.b + 1;
    ck_assert_int_eq(ops->replay(self, rec, &valid), QUANTA_OK);
    ck_assert_int_eq(valid, 0);
    s->tune.e[0] = keep;
    ck_assert_int_eq(ops->replay(self, rec, &valid), QUANTA_OK);
    ck_assert_int_eq(valid, 1);
    ops->release_recording(self, rec);
    /* a discarded capture leaves no recording */
    ck_assert_int_eq(ops->capture_begin(self), QUANTA_OK);
    ck_assert_int_eq(ops->capture_end(self, 0, &rec), QUANTA_OK);
    ck_assert_ptr_null(rec);
}
END_TEST

int main(void) {
    int rc = qt_cl_open(&g_cl);
    if (rc) return rc;
    if (quanta_backend_open("ref", &g_ref) != QUANTA_OK) return 1;
    Suite *s = suite_create("opencl_record");
    TCase *tc = tcase_create("record");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_replay_decode);
    tcase_add_test(tc, test_replay_prefill);
    tcase_add_test(tc, test_unrecordable_path_runs_plain);
    tcase_add_test(tc, test_replay_invalid_after_tuning_change);
    tcase_add_test(tc, test_recording_reuses_scratch);
    suite_add_tcase(s, tc);
    rc = qt_run_suite(s);
    quanta_backend_close(g_ref);
    quanta_backend_close(g_cl);
    return rc;
}
