/* test_glu.c — the gated-MLP activation op glu, act(gate) * up: its argument checks, its result
 * on every backend with a device against a float64 computation written here, and the plan's
 * fusion of silu/gelu + mul into it (quanta_plan_op_count / op_info show what runs): taken
 * when the activation's result is read by the mul alone, refused when it is also an output,
 * read by another op, both operands of the mul, broadcast, or the backend has no glu kernel.
 * Every plan's result is checked. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "fusion_case.h"
#include "qt_act.h"
#include "qt_backends.h"
#include "qt_check.h"
#include "qt_ref_wrapper.h"
#include "qt_tensor.h"
#include "quanta.h"
#include "test_util.h"

START_TEST(test_glu_rejects_bad_arguments) {
    quanta_graph *g;
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    quanta_tensor *a = QT_INPUT(g, QUANTA_F32, 2, 3, 8, 0, 0), *b = QT_INPUT(g, QUANTA_F32, 2, 3, 7, 0, 0);
    quanta_tensor *h = QT_INPUT(g, QUANTA_F16, 2, 3, 8, 0, 0), *row = QT_INPUT(g, QUANTA_F32, 1, 8, 0, 0, 0);
    quanta_tensor *i = QT_INPUT(g, QUANTA_I32, 2, 3, 8, 0, 0), *y = (quanta_tensor *)1;
    QT_EXPECT_ERR(quanta_glu(g, a, b, QUANTA_GLU_SILU, &y), QUANTA_ERR_INVALID_ARGUMENT, "up must", "shape");
    ck_assert_ptr_null(y);
    QT_EXPECT_ERR(quanta_glu(g, a, row, QUANTA_GLU_SILU, &y), QUANTA_ERR_INVALID_ARGUMENT, "up must", "shape");
    QT_EXPECT_ERR(quanta_glu(g, a, h, QUANTA_GLU_GELU, &y), QUANTA_ERR_INVALID_ARGUMENT, "up must", "dtype");
    QT_EXPECT_ERR(quanta_glu(g, i, i, QUANTA_GLU_GELU, &y), QUANTA_ERR_INVALID_ARGUMENT, "gate must");
    QT_EXPECT_ERR(quanta_glu(g, a, a, (quanta_glu_act)3, &y), QUANTA_ERR_INVALID_ARGUMENT, "act 3");
    QT_EXPECT_ERR(quanta_glu(g, a, a, (quanta_glu_act)-1, &y), QUANTA_ERR_INVALID_ARGUMENT, "act -1");
    QT_EXPECT_ERR(quanta_glu(g, a, NULL, QUANTA_GLU_SILU, &y), QUANTA_ERR_INVALID_ARGUMENT, "up is NULL");
    QT_EXPECT_ERR(quanta_glu(g, NULL, a, QUANTA_GLU_SILU, &y), QUANTA_ERR_INVALID_ARGUMENT, "gate is NULL");
    QT_EXPECT_ERR(quanta_glu(NULL, a, a, QUANTA_GLU_SILU, &y), QUANTA_ERR_INVALID_ARGUMENT, "graph is NULL");
    QT_EXPECT_ERR(quanta_glu(g, a, a, QUANTA_GLU_SILU, NULL), QUANTA_ERR_INVALID_ARGUMENT, "out is NULL");
    ck_assert_int_eq(quanta_glu(g, h, h, QUANTA_GLU_GELU_TANH, &y), QUANTA_OK);
    quanta_graph_destroy(g);
}
END_TEST

/* How the graph computes act(gate) * up. */
enum shape_kind {
    DIRECT,      /* quanta_glu */
    PAIR,        /* act then mul(act, up): fused */
    PAIR_SWAP,   /* act then mul(up, act): fused */
    ACT_OUTPUT,  /* the act's result is an output too: not fused */
    ACT_TWICE,   /* the act's result also feeds an add (an output): not fused */
    ACT_SQUARED, /* mul(act, act), act(gate)^2: not fused (nothing would compute act) */
};

/* Runs one graph of rows x D f32 on backend be; checks the result (and the act's / the add's
 * where they are outputs) against float64, and that the plan runs `want_ops` ops, the first
 * of them named want_first. */
static void run_case(quanta_backend *be, const char *name, enum shape_kind k, int act, int64_t rows, int64_t D,
                     int want_ops, const char *want_first, qt_rng *r) {
    const size_t n = (size_t)(rows * D);
    float *gate = malloc(n * sizeof *gate), *up = malloc(n * sizeof *up), *y = malloc(n * sizeof *y);
    float *side = malloc(n * sizeof *side);
    ck_assert(gate && up && y && side);
    qt_fill_normal(r, gate, n, 3.0f);
    qt_fill_normal(r, up, n, 1.0f);
    qt_fusion_graph f;
    qt_fusion_begin(&f, "gate", "up", rows, D);
    quanta_graph *g = f.g;
    quanta_tensor *tg = f.in[0], *tu = f.in[1], *ta = NULL, *ty, *ts = NULL;
    if (k == DIRECT) {
        ck_assert_int_eq(quanta_glu(g, tg, tu, (quanta_glu_act)act, &ty), QUANTA_OK);
    } else {
        if (act == QUANTA_GLU_SILU) ck_assert_int_eq(quanta_silu(g, tg, &ta), QUANTA_OK);
        else ck_assert_int_eq(quanta_gelu(g, tg, act == QUANTA_GLU_GELU_TANH, &ta), QUANTA_OK);
        quanta_tensor *other = k == ACT_SQUARED ? ta : tu;
        ck_assert_int_eq(k == PAIR_SWAP ? quanta_mul(g, other, ta, &ty) : quanta_mul(g, ta, other, &ty), QUANTA_OK);
        if (k == ACT_OUTPUT) ck_assert_int_eq(quanta_graph_output(g, ta), QUANTA_OK);
        if (k == ACT_TWICE) {
            ck_assert_int_eq(quanta_add(g, ta, tu, &ts), QUANTA_OK);
            ck_assert_int_eq(quanta_graph_output(g, ts), QUANTA_OK);
        }
    }
    ck_assert_int_eq(quanta_graph_output(g, ty), QUANTA_OK);
    const int side_out = k == ACT_OUTPUT || k == ACT_TWICE;
    quanta_tensor *const outs[2] = {ty, k == ACT_OUTPUT ? ta : ts};
    float *const ys[2] = {y, side};
    qt_fusion_run(&f, be, name, (int)k, want_ops, want_first, gate, up, n, side_out ? 2 : 1, outs, ys);
    /* f32 kernels (exp, erfc in f32): a relative bound of a few f32 ulps of the inputs' scale */
    double maxerr = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double a = qt_act64(act, gate[i]);
        const double want = a * (k == ACT_SQUARED ? a : (double)up[i]), got = y[i];
        QT_CHECK(isfinite(got), "%s: y[%zu] is not finite", name, i);
        const double e = fabs(got - want) / (1.0 + fabs(want));
        if (e > maxerr) maxerr = e;
    }
    ck_assert_msg(maxerr < 1e-5, "%s case %d act %d: max relative error %g", name, (int)k, act, maxerr);
    if (side_out) {
        for (size_t i = 0; i < n; i++) {
            const double want = qt_act64(act, gate[i]) + (k == ACT_TWICE ? (double)up[i] : 0.0);
            ck_assert_msg(fabs(side[i] - want) <= 1e-5 * (1.0 + fabs(want)), "%s: side[%zu] = %g, want %g", name, i,
                          side[i], want);
        }
    }
    free(gate), free(up), free(y), free(side);
}

/* Each backend with a device (a backend without a glu kernel for f32 keeps the pair). */
START_TEST(test_glu_and_fusion_match_float64) {
    qt_rng r = qt_rng_make(0);
    quanta_backend *be;
    const char *name;
    for (int bi = 0; qt_next_backend(&bi, &be, &name);) { /* each backend built and with a device */
        for (int act = 0; act < 3; act++) {
            const char *first = act == QUANTA_GLU_SILU ? "silu" : "gelu";
            run_case(be, name, DIRECT, act, 3, 257, 1, "glu", &r);
            run_case(be, name, PAIR, act, 1, 2048, 1, "glu", &r);
            run_case(be, name, PAIR_SWAP, act, 5, 64, 1, "glu", &r);
            run_case(be, name, ACT_OUTPUT, act, 2, 100, 2, first, &r);
            run_case(be, name, ACT_TWICE, act, 2, 100, 3, first, &r);
            run_case(be, name, ACT_SQUARED, act, 3, 50, 2, first, &r);
        }
        quanta_backend_close(be);
    }
}
END_TEST

/* A broadcast up (one row) is a mul glu cannot take: the pair stays. */
static quanta_status silu_mul_row(quanta_graph *g, quanta_tensor *x, quanta_tensor *row, quanta_tensor **y) {
    quanta_tensor *a;
    quanta_status st = quanta_silu(g, x, &a);
    return st ? st : quanta_mul(g, a, row, y);
}

START_TEST(test_no_fusion_with_broadcast) { qt_fusion_check_broadcast_kept(silu_mul_row); }
END_TEST

/* A backend without a glu kernel (the reference in disguise, glu removed from what it runs):
 * the pair stays and runs on it, nothing falls back. */
static bool noglu_supports(void *self, const qn_node *n) { (void)self; return n->op != QN_OP_GLU; }
static qn_backend_ops noglu_ops(void) {
    qn_backend_ops ops = qt_ref_wrapper("noglu");
    ops.supports_op = noglu_supports;
    return ops;
}

START_TEST(test_no_fusion_without_kernel) {
    static qn_backend_ops noglu;
    qt_rng r = qt_rng_make(0);
    quanta_backend *be = qt_ref_wrapper_open(&noglu, noglu_ops);
    run_case(be, "noglu", PAIR, QUANTA_GLU_GELU_TANH, 2, 64, 2, "gelu", &r);
    quanta_backend_close(be);
}
END_TEST

int main(void) {
    Suite *s = suite_create("glu");
    TCase *tc = tcase_create("glu");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_glu_rejects_bad_arguments);
    tcase_add_test(tc, test_glu_and_fusion_match_float64);
    tcase_add_test(tc, test_no_fusion_with_broadcast);
    tcase_add_test(tc, test_no_fusion_without_kernel);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
