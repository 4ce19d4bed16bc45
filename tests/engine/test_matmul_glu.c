/* test_matmul_glu.c — matmul_glu, act(x·w_gate^T) * (x·w_up^T): its argument checks, its result
 * on every backend with a device against a float64 computation written here (f32, f16 and q8
 * weights, the q8 ones through quanta_dequantize), and the plan's fusion of two matmuls of one
 * x feeding a glu (made from silu/gelu + mul) into it: taken where the backend claims the
 * kernel (the reference always; OpenCL's CPU class for M <= 8), refused when a product is also
 * an output, when the two matmuls read different x, or when the weights differ in format.
 * Every plan's result is checked. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qt_act.h"
#include "qt_backends.h"
#include "qt_check.h"
#include "qt_plan_guard.h"
#include "qt_plan_run.h"
#include "qt_tensor.h"
#include "qt_matmul.h"
#include "quanta.h"
#include "test_util.h"

START_TEST(test_matmul_glu_rejects_bad_arguments) {
    quanta_graph *g;
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    quanta_tensor *x = QT_INPUT(g, QUANTA_F32, 2, 3, 8, 0, 0), *w = QT_INPUT(g, QUANTA_F32, 2, 5, 8, 0, 0);
    quanta_tensor *w6 = QT_INPUT(g, QUANTA_F32, 2, 6, 8, 0, 0), *wk = QT_INPUT(g, QUANTA_F32, 2, 5, 7, 0, 0);
    quanta_tensor *wh = QT_INPUT(g, QUANTA_F16, 2, 5, 8, 0, 0), *xi = QT_INPUT(g, QUANTA_I32, 2, 3, 8, 0, 0);
    quanta_tensor *y = (quanta_tensor *)1;
    QT_EXPECT_ERR(quanta_matmul_glu(g, x, w, w6, QUANTA_GLU_SILU, &y), QUANTA_ERR_INVALID_ARGUMENT, "w_up must",
                  "shape");
    ck_assert_ptr_null(y);
    QT_EXPECT_ERR(quanta_matmul_glu(g, x, w, wh, QUANTA_GLU_SILU, &y), QUANTA_ERR_INVALID_ARGUMENT, "w_up must",
                  "dtype");
    QT_EXPECT_ERR(quanta_matmul_glu(g, x, wk, wk, QUANTA_GLU_GELU, &y), QUANTA_ERR_INVALID_ARGUMENT, "K = 8",
                  "w_gate");
    QT_EXPECT_ERR(quanta_matmul_glu(g, xi, w, w, QUANTA_GLU_GELU, &y), QUANTA_ERR_INVALID_ARGUMENT, "x must");
    QT_EXPECT_ERR(quanta_matmul_glu(g, x, xi, xi, QUANTA_GLU_GELU, &y), QUANTA_ERR_INVALID_ARGUMENT, "w_gate has",
                  "i32");
    QT_EXPECT_ERR(quanta_matmul_glu(g, x, w, w, (quanta_glu_act)3, &y), QUANTA_ERR_INVALID_ARGUMENT, "act 3");
    QT_EXPECT_ERR(quanta_matmul_glu(g, x, w, NULL, QUANTA_GLU_SILU, &y), QUANTA_ERR_INVALID_ARGUMENT,
                  "w_up is NULL");
    QT_EXPECT_ERR(quanta_matmul_glu(g, x, NULL, w, QUANTA_GLU_SILU, &y), QUANTA_ERR_INVALID_ARGUMENT,
                  "w_gate is NULL");
    QT_EXPECT_ERR(quanta_matmul_glu(g, NULL, w, w, QUANTA_GLU_SILU, &y), QUANTA_ERR_INVALID_ARGUMENT, "x is NULL");
    QT_EXPECT_ERR(quanta_matmul_glu(NULL, x, w, w, QUANTA_GLU_SILU, &y), QUANTA_ERR_INVALID_ARGUMENT,
                  "graph is NULL");
    QT_EXPECT_ERR(quanta_matmul_glu(g, x, w, w, QUANTA_GLU_SILU, NULL), QUANTA_ERR_INVALID_ARGUMENT, "out is NULL");
    ck_assert_int_eq(quanta_matmul_glu(g, x, w, w, QUANTA_GLU_GELU_TANH, &y), QUANTA_OK);
    quanta_graph_destroy(g);
}
END_TEST

/* How the graph computes the gated MLP. */
enum shape_kind {
    DIRECT,       /* quanta_matmul_glu */
    CHAIN,        /* matmul, matmul, act, mul: fused where the backend claims matmul_glu */
    GATE_OUTPUT,  /* the gate product is an output too: not fused into matmul_glu */
    TWO_X,        /* gate and up read different x: not fused */
    MIXED_FORMAT, /* w_up in f16, w_gate in f32: not fused */
};

/* Whether the backend is expected to run matmul_glu itself for M rows: the reference always;
 * OpenCL on its CPU-class kernels (a CPU device, or QUANTA_OPENCL_CLASS=cpu) for M <= 8. */
static int claims_fused(quanta_backend *be, const char *name, int64_t M) {
    if (!strcmp(name, "ref")) return 1;
    return M <= 8 && qt_opencl_cpu_class(be, name);
}

/* Runs one graph on backend be: x [M, K] f32 (x2 a second input for TWO_X), gate and up
 * weights [N, K] as constants; checks y against float64 and the gate product (GATE_OUTPUT)
 * too, and the plan's op count: 1 fused, else the backend's unfused count (either 3 with glu
 * fused or 4), never 2. */
static void run_case(quanta_backend *be, const char *name, enum shape_kind k, int act, quanta_dtype wt, int64_t M,
                     int64_t N, int64_t K, qt_rng *r) {
    const size_t nx = (size_t)(M * K), ny = (size_t)(M * N);
    float *x = malloc(nx * sizeof *x), *x2 = malloc(nx * sizeof *x2), *y = malloc(ny * sizeof *y);
    float *side = malloc(ny * sizeof *side);
    ck_assert(x && x2 && y && side);
    qt_fill_normal(r, x, nx, 1.0f);
    qt_fill_normal(r, x2, nx, 1.0f);
    weight wg = make_weight(wt, N, K, r), wu = make_weight(k == MIXED_FORMAT ? QUANTA_F16 : wt, N, K, r);
    quanta_graph *g;
    quanta_plan *plan;
    quanta_tensor *tx, *tx2 = NULL, *cg, *cu, *pg = NULL, *pu, *ty;
    quanta_tensor_desc dx = qt_desc(QUANTA_F32, 2, M, K, 0, 0);
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "x", &dx, &tx), QUANTA_OK);
    if (k == TWO_X) ck_assert_int_eq(quanta_graph_input(g, "x2", &dx, &tx2), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_constant(g, "w_gate", &wg.desc, wg.data, wg.bytes, &cg), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_constant(g, "w_up", &wu.desc, wu.data, wu.bytes, &cu), QUANTA_OK);
    if (k == DIRECT) {
        ck_assert_int_eq(quanta_matmul_glu(g, tx, cg, cu, (quanta_glu_act)act, &ty), QUANTA_OK);
    } else {
        quanta_tensor *ta;
        ck_assert_int_eq(quanta_matmul(g, tx, cg, &pg), QUANTA_OK);
        ck_assert_int_eq(quanta_matmul(g, k == TWO_X ? tx2 : tx, cu, &pu), QUANTA_OK);
        if (act == QUANTA_GLU_SILU) ck_assert_int_eq(quanta_silu(g, pg, &ta), QUANTA_OK);
        else ck_assert_int_eq(quanta_gelu(g, pg, act == QUANTA_GLU_GELU_TANH, &ta), QUANTA_OK);
        ck_assert_int_eq(quanta_mul(g, ta, pu, &ty), QUANTA_OK);
        if (k == GATE_OUTPUT) ck_assert_int_eq(quanta_graph_output(g, pg), QUANTA_OK);
    }
    ck_assert_int_eq(quanta_graph_output(g, ty), QUANTA_OK);
    plan = qt_plan_guarded(g, be);
    const int fusable = k == CHAIN && claims_fused(be, name, M), nops = quanta_plan_op_count(plan);
    if (k == DIRECT || fusable) {
        ck_assert_int_eq(nops, 1);
        const char *op = NULL;
        ck_assert_int_eq(quanta_plan_op_info(plan, 0, &op, NULL), QUANTA_OK);
        ck_assert_str_eq(op, "matmul_glu");
    } else {
        /* the two products of one x may still become one matmul_multi (GATE_OUTPUT) */
        int multi = 0;
        for (int i = 0; i < nops; i++) {
            const char *op = NULL;
            ck_assert_int_eq(quanta_plan_op_info(plan, i, &op, NULL), QUANTA_OK);
            ck_assert_str_ne(op, "matmul_glu");
            multi += !strcmp(op, "matmul_multi");
        }
        ck_assert_msg(nops + multi == 3 || nops + multi == 4,
                      "%s case %d: %d ops (%d matmul_multi), expected the unfused 3 or 4", name, (int)k, nops, multi);
    }
    const qt_in in[] = {{tx, x, nx * sizeof *x}, {tx2, x2, nx * sizeof *x2}}; /* tx2 NULL: one x */
    const qt_out out[] = {{ty, y, ny}};
    qt_plan_run(plan, QT_COUNT(in), in, QT_COUNT(out), out);
    if (pg) {
        qt_poison_f32(side, ny);
        if (k == GATE_OUTPUT) ck_assert_int_eq(quanta_plan_get_output(plan, pg, side, ny * sizeof *side), QUANTA_OK);
    }
    /* f32 dot products over K (~√K·2^-24 relative) and f32 exp/erfc: 1e-5 of the scale */
    qt_prod_err pe = {0}, pside = {0};
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            const float *xg = x + m * K, *xu = (k == TWO_X ? x2 : x) + m * K;
            double dg = 0.0, du = 0.0;
            for (int64_t c = 0; c < K; c++) {
                dg += (double)xg[c] * (double)wg.values[n * K + c];
                du += (double)xu[c] * (double)wu.values[n * K + c];
            }
            const double want = qt_act64(act, dg) * du, got = y[m * N + n];
            QT_CHECK(isfinite(got), "%s: y[%lld] is not finite", name, (long long)(m * N + n));
            qt_prod_err_add(&pe, got, want);
            if (k == GATE_OUTPUT) qt_prod_err_add(&pside, side[m * N + n], dg);
        }
    const char *bound;
    ck_assert_msg(qt_prod_err_ok(&pe, name, &bound),
                  "%s case %d act %d w %s M %lld: max relative error %g, NMSE %g, max abs %g of %g; needs %s", name,
                  (int)k, act, quanta_dtype_name(wt), (long long)M, pe.maxrel, pe.ref2 > 0 ? pe.err2 / pe.ref2 : pe.err2,
                  pe.maxabs, pe.refmax, bound);
    ck_assert_msg(qt_prod_err_ok(&pside, name, &bound), "%s: gate product max relative error %g, NMSE %g; needs %s",
                  name, pside.maxrel, pside.ref2 > 0 ? pside.err2 / pside.ref2 : pside.err2, bound);
    quanta_plan_destroy(plan);
    quanta_graph_destroy(g);
    free(x), free(x2), free(y), free(side);
    weight_free(&wg), weight_free(&wu);
}

/* Each backend with a device, each activation; decode (M = 1, 3) and prefill (M = 12) shapes,
 * K odd for the dense weights and a multiple of q8's chunk for q8. */
START_TEST(test_matmul_glu_and_fusion_match_float64) {
    qt_rng r = qt_rng_make(0);
    quanta_backend *be;
    const char *b;
    for (int bi = 0; qt_next_backend(&bi, &be, &b);) { /* each backend built and with a device */
        for (int act = 0; act < 3; act++) {
            run_case(be, b, DIRECT, act, QUANTA_F32, 1, 67, 131, &r);
            run_case(be, b, DIRECT, act, QUANTA_Q8, 3, 64, 256, &r);
            run_case(be, b, CHAIN, act, QUANTA_F32, 1, 130, 77, &r);
            run_case(be, b, CHAIN, act, QUANTA_Q8, 1, 256, 640, &r);
            run_case(be, b, CHAIN, act, QUANTA_F16, 3, 40, 96, &r);
            run_case(be, b, CHAIN, act, QUANTA_F32, 12, 48, 128, &r); /* f32: q8 at M > 8 is int8 x on OpenCL */
            run_case(be, b, GATE_OUTPUT, act, QUANTA_F32, 1, 33, 64, &r);
            run_case(be, b, TWO_X, act, QUANTA_F32, 2, 33, 64, &r);
            run_case(be, b, MIXED_FORMAT, act, QUANTA_F32, 1, 33, 64, &r);
        }
        quanta_backend_close(be);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("matmul_glu");
    TCase *tc = tcase_create("matmul_glu");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_matmul_glu_rejects_bad_arguments);
    tcase_add_test(tc, test_matmul_glu_and_fusion_match_float64);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
