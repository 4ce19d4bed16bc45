/* test_rms_norm_add.c — the post-norm residual op rms_norm_add, r + rms_norm(x) with weight: its
 * argument checks, its result on every backend with a device against a float64 computation
 * written here, and the plan's fusion of rms_norm + add into it (Gemma's post-norms): taken
 * when the norm's result is read by the add alone, refused when it is also an output or when
 * the other operand is a broadcast row. Every plan's result is checked. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qt_check.h"
#include "qt_tensor.h"
#include "quanta.h"
#include "test_util.h"

START_TEST(test_rms_norm_add_rejects_bad_arguments) {
    quanta_graph *g;
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    quanta_tensor_desc da = qt_desc(QUANTA_F32, 2, 3, 8, 0, 0), db = qt_desc(QUANTA_F32, 2, 3, 7, 0, 0);
    quanta_tensor_desc dh = qt_desc(QUANTA_F16, 2, 3, 8, 0, 0), dw = qt_desc(QUANTA_F32, 1, 8, 0, 0, 0);
    quanta_tensor_desc di = qt_desc(QUANTA_I32, 2, 3, 8, 0, 0);
    quanta_tensor *a, *b, *h, *w, *i, *y = (quanta_tensor *)1;
    ck_assert_int_eq(quanta_graph_input(g, "a", &da, &a), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "b", &db, &b), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "h", &dh, &h), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "w", &dw, &w), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "i", &di, &i), QUANTA_OK);
    QT_EXPECT_ERR(quanta_rms_norm_add(g, a, b, NULL, 1e-6f, 0, &y), QUANTA_ERR_INVALID_ARGUMENT, "r must", "shape");
    ck_assert_ptr_null(y);
    QT_EXPECT_ERR(quanta_rms_norm_add(g, a, w, NULL, 1e-6f, 0, &y), QUANTA_ERR_INVALID_ARGUMENT, "r must", "shape");
    QT_EXPECT_ERR(quanta_rms_norm_add(g, a, h, NULL, 1e-6f, 0, &y), QUANTA_ERR_INVALID_ARGUMENT, "r must", "dtype");
    QT_EXPECT_ERR(quanta_rms_norm_add(g, i, i, NULL, 1e-6f, 0, &y), QUANTA_ERR_INVALID_ARGUMENT, "x must");
    QT_EXPECT_ERR(quanta_rms_norm_add(g, a, a, a, 1e-6f, 0, &y), QUANTA_ERR_INVALID_ARGUMENT, "weight");
    QT_EXPECT_ERR(quanta_rms_norm_add(g, a, a, w, -1.0f, 0, &y), QUANTA_ERR_INVALID_ARGUMENT, "eps");
    QT_EXPECT_ERR(quanta_rms_norm_add(g, a, a, w, NAN, 0, &y), QUANTA_ERR_INVALID_ARGUMENT, "eps");
    QT_EXPECT_ERR(quanta_rms_norm_add(g, a, NULL, w, 1e-6f, 0, &y), QUANTA_ERR_INVALID_ARGUMENT, "r is NULL");
    QT_EXPECT_ERR(quanta_rms_norm_add(NULL, a, a, w, 1e-6f, 0, &y), QUANTA_ERR_INVALID_ARGUMENT, "graph is NULL");
    QT_EXPECT_ERR(quanta_rms_norm_add(g, a, a, w, 1e-6f, 0, NULL), QUANTA_ERR_INVALID_ARGUMENT, "out is NULL");
    ck_assert_int_eq(quanta_rms_norm_add(g, a, a, w, 1e-6f, 1, &y), QUANTA_OK);
    quanta_graph_destroy(g);
}
END_TEST

enum kind {
    DIRECT,      /* quanta_rms_norm_add */
    PAIR,        /* rms_norm then add(r, n): fused */
    PAIR_SWAP,   /* rms_norm then add(n, r): fused */
    NORM_OUTPUT, /* the norm is an output too: not fused */
};

/* rows x D f32 on backend be, weight mode 0 none, 1 w, 2 1 + w; checks y (and the norm where
 * it is an output) against float64 and that the plan runs want_ops ops, the first want_first. */
static void run_case(quanta_backend *be, const char *name, enum kind k, int wmode, int64_t rows, int64_t D,
                     int want_ops, const char *want_first, qt_rng *rng) {
    const size_t n = (size_t)(rows * D);
    float *x = malloc(n * sizeof *x), *r = malloc(n * sizeof *r), *y = malloc(n * sizeof *y);
    float *side = malloc(n * sizeof *side), *w = malloc((size_t)D * sizeof *w);
    ck_assert(x && r && y && side && w);
    qt_fill_normal(rng, x, n, 1.0f);
    qt_fill_normal(rng, r, n, 2.0f);
    qt_fill_normal(rng, w, (size_t)D, 0.5f);
    const float eps = 1e-6f;
    quanta_graph *g;
    quanta_plan *plan;
    quanta_tensor *tx, *tr, *tw = NULL, *tn = NULL, *ty;
    quanta_tensor_desc dx = qt_desc(QUANTA_F32, 2, rows, D, 0, 0), dw = qt_desc(QUANTA_F32, 1, D, 0, 0, 0);
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "x", &dx, &tx), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "r", &dx, &tr), QUANTA_OK);
    if (wmode) ck_assert_int_eq(quanta_graph_constant(g, "w", &dw, w, (size_t)D * sizeof *w, &tw), QUANTA_OK);
    if (k == DIRECT) {
        ck_assert_int_eq(quanta_rms_norm_add(g, tx, tr, tw, eps, wmode == 2, &ty), QUANTA_OK);
    } else {
        ck_assert_int_eq(quanta_rms_norm(g, tx, tw, eps, wmode == 2, &tn), QUANTA_OK);
        ck_assert_int_eq(k == PAIR_SWAP ? quanta_add(g, tn, tr, &ty) : quanta_add(g, tr, tn, &ty), QUANTA_OK);
        if (k == NORM_OUTPUT) ck_assert_int_eq(quanta_graph_output(g, tn), QUANTA_OK);
    }
    ck_assert_int_eq(quanta_graph_output(g, ty), QUANTA_OK);
    ck_assert_msg(quanta_plan_create(g, be, &plan) == QUANTA_OK, "%s", quanta_last_error());
    ck_assert_int_eq(quanta_plan_op_count(plan), want_ops);
    const char *op = NULL;
    ck_assert_int_eq(quanta_plan_op_info(plan, 0, &op, NULL), QUANTA_OK);
    ck_assert_msg(!strcmp(op, want_first), "%s case %d: first op %s, expected %s", name, (int)k, op, want_first);
    ck_assert_int_eq(quanta_plan_set_input(plan, tx, x, n * sizeof *x), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_set_input(plan, tr, r, n * sizeof *r), QUANTA_OK);
    ck_assert_msg(quanta_plan_execute(plan) == QUANTA_OK, "%s", quanta_last_error());
    qt_poison_f32(y, n);
    ck_assert_int_eq(quanta_plan_get_output(plan, ty, y, n * sizeof *y), QUANTA_OK);
    if (k == NORM_OUTPUT) {
        qt_poison_f32(side, n);
        ck_assert_int_eq(quanta_plan_get_output(plan, tn, side, n * sizeof *side), QUANTA_OK);
    }
    /* float64: y = r + x / sqrt(mean(x^2) + eps) * gain. The kernels sum squares in f32. */
    double maxerr = 0.0;
    for (int64_t i = 0; i < rows; i++) {
        double ss = 0.0;
        for (int64_t d = 0; d < D; d++) ss += (double)x[i * D + d] * (double)x[i * D + d];
        const double inv = 1.0 / sqrt(ss / (double)D + (double)eps);
        for (int64_t d = 0; d < D; d++) {
            const double gain = wmode == 0 ? 1.0 : wmode == 1 ? (double)w[d] : 1.0 + (double)w[d];
            const double nv = (double)x[i * D + d] * inv * gain, want = (double)r[i * D + d] + nv;
            const double got = y[i * D + d];
            QT_CHECK(isfinite(got), "%s: y[%lld][%lld] is not finite", name, (long long)i, (long long)d);
            const double e = fabs(got - want) / (1.0 + fabs(want));
            if (e > maxerr) maxerr = e;
            if (k == NORM_OUTPUT) {
                const double en = fabs(side[i * D + d] - nv) / (1.0 + fabs(nv));
                if (en > maxerr) maxerr = en;
            }
        }
    }
    ck_assert_msg(maxerr < 2e-5, "%s case %d w=%d: max relative error %g", name, (int)k, wmode, maxerr);
    quanta_plan_destroy(plan);
    quanta_graph_destroy(g);
    free(x), free(r), free(y), free(side), free(w);
}

START_TEST(test_rms_norm_add_and_fusion_match_float64) {
    qt_rng rng = qt_rng_make(0);
    static const char *const backends[] = {"ref", "opencl", "cuda"};
    for (int bi = 0; bi < 3; bi++) {
        quanta_backend *be;
        if (quanta_backend_open(backends[bi], &be) != QUANTA_OK) continue; /* not built or no device */
        for (int wmode = 0; wmode < 3; wmode++) {
            run_case(be, backends[bi], DIRECT, wmode, 5, 96, 1, "rms_norm_add", &rng);
            run_case(be, backends[bi], PAIR, wmode, 1, 640, 1, "rms_norm_add", &rng);
            run_case(be, backends[bi], PAIR_SWAP, wmode, 3, 1000, 1, "rms_norm_add", &rng);
            run_case(be, backends[bi], NORM_OUTPUT, wmode, 2, 64, 2, "rms_norm", &rng);
        }
        quanta_backend_close(be);
    }
}
END_TEST

/* A broadcast row as the other operand of the add: the pair stays. */
START_TEST(test_no_fusion_with_broadcast) {
    quanta_backend *be;
    ck_assert_int_eq(quanta_backend_open("ref", &be), QUANTA_OK);
    quanta_graph *g;
    quanta_plan *plan;
    quanta_tensor *tx, *tr, *tn, *ty;
    quanta_tensor_desc dx = qt_desc(QUANTA_F32, 2, 4, 16, 0, 0), dr = qt_desc(QUANTA_F32, 1, 16, 0, 0, 0);
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "x", &dx, &tx), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "r", &dr, &tr), QUANTA_OK);
    ck_assert_int_eq(quanta_rms_norm(g, tx, NULL, 1e-6f, 0, &tn), QUANTA_OK);
    ck_assert_int_eq(quanta_add(g, tn, tr, &ty), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(g, ty), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_create(g, be, &plan), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_op_count(plan), 2);
    quanta_plan_destroy(plan);
    quanta_graph_destroy(g);
    quanta_backend_close(be);
}
END_TEST

int main(void) {
    Suite *s = suite_create("rms_norm_add");
    TCase *tc = tcase_create("rms_norm_add");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_rms_norm_add_rejects_bad_arguments);
    tcase_add_test(tc, test_rms_norm_add_and_fusion_match_float64);
    tcase_add_test(tc, test_no_fusion_with_broadcast);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
