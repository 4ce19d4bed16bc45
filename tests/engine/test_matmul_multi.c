/* test_matmul_multi.c — the plan's fusion of matmuls of one x (a layer's q, k and v projections)
 * into one matmul_multi node with a result per weight: taken where the backend claims the kernel
 * (the reference always; OpenCL's CPU class at M <= 8 for f32/f16/q8/fp8/ggml weights, q4 and nf4
 * not), for two weights and for three, also when the products are graph outputs; refused when
 * the matmuls read different x, when the weights differ in format or K, and for a weight the
 * graph computes (it could be produced after the first matmul). Every product of every plan is
 * checked against a float64 computation written here. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qt_backends.h"
#include "qt_check.h"
#include "qt_matmul.h"
#include "qt_plan_guard.h"
#include "qt_tensor.h"
#include "quanta.h"
#include "test_util.h"

/* How the graph's matmuls are arranged. */
enum shape_kind {
    QKV,          /* three weights of one x: one matmul_multi */
    PAIR,         /* two weights of one x: one matmul_multi */
    OUTPUTS,      /* QKV with every product a graph output (and read by nothing else) */
    TWO_X,        /* the third matmul reads another x: the first two fused, the third alone */
    MIXED_FORMAT, /* the third weight in f16, the others in the case's format: as TWO_X */
    COMPUTED_W,   /* the third weight is scale(constant): as TWO_X, plus the scale */
};

/* Whether the backend fuses these products: the reference always; OpenCL's CPU class for decode
 * rows and the formats its kernel reads from one layout (q4 and nf4 have per-matrix sections). */
static int claims_fused(quanta_backend *be, const char *name, quanta_dtype wt, int64_t M) {
    if (!strcmp(name, "ref")) return 1;
    return M <= 8 && wt != QUANTA_Q4 && wt != QUANTA_NF4 && qt_opencl_cpu_class(be, name);
}

static const char *op_at(quanta_plan *plan, int i) {
    const char *op = NULL;
    ck_assert_int_eq(quanta_plan_op_info(plan, i, &op, NULL), QUANTA_OK);
    return op;
}

/* x [M, K] (x2 for TWO_X) f32 inputs, weights [N_i, K] as constants (w2 through a scale for
 * COMPUTED_W); checks the plan's ops and each product against float64. */
static void run_case(quanta_backend *be, const char *name, enum shape_kind k, quanta_dtype wt, int64_t M, int64_t K,
                     qt_rng *r) {
    const int nw = k == PAIR ? 2 : 3;
    const int64_t N[3] = {64, 16, 16 + (k == QKV ? 8 : 0)};
    const size_t nx = (size_t)(M * K);
    float *x = malloc(nx * sizeof *x), *x2 = malloc(nx * sizeof *x2);
    ck_assert(x && x2);
    qt_fill_normal(r, x, nx, 1.0f);
    qt_fill_normal(r, x2, nx, 1.0f);
    weight w[3];
    for (int i = 0; i < nw; i++) w[i] = make_weight(i == 2 && (k == MIXED_FORMAT || k == COMPUTED_W) ? QUANTA_F16 : wt,
                                                    N[i], K, r);
    quanta_graph *g;
    quanta_plan *plan;
    quanta_tensor *tx, *tx2 = NULL, *y[3];
    quanta_tensor_desc dx = qt_desc(QUANTA_F32, 2, M, K, 0, 0);
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "x", &dx, &tx), QUANTA_OK);
    if (k == TWO_X) ck_assert_int_eq(quanta_graph_input(g, "x2", &dx, &tx2), QUANTA_OK);
    for (int i = 0; i < nw; i++) {
        quanta_tensor *c;
        ck_assert_int_eq(quanta_graph_constant(g, "w", &w[i].desc, w[i].data, w[i].bytes, &c), QUANTA_OK);
        if (i == 2 && k == COMPUTED_W) ck_assert_int_eq(quanta_scale(g, c, 1.0f, &c), QUANTA_OK);
        ck_assert_int_eq(quanta_matmul(g, i == 2 && k == TWO_X ? tx2 : tx, c, &y[i]), QUANTA_OK);
    }
    /* read by something else (a mul with itself) unless the products themselves are outputs */
    for (int i = 0; i < nw; i++) {
        quanta_tensor *o = y[i];
        if (k != OUTPUTS) ck_assert_int_eq(quanta_mul(g, y[i], y[i], &o), QUANTA_OK);
        ck_assert_int_eq(quanta_graph_output(g, o), QUANTA_OK);
        ck_assert_int_eq(quanta_graph_output(g, y[i]), QUANTA_OK);
    }
    plan = qt_plan_guarded(g, be);
    /* expected ops: the products (1 fused, else nw; TWO_X and the like fuse the first two),
     * the muls, COMPUTED_W's scale */
    const int fused = claims_fused(be, name, wt, M), partial = k == TWO_X || k == MIXED_FORMAT || k == COMPUTED_W;
    const int products = !fused ? nw : partial ? 2 : 1;
    const int want = products + (k != OUTPUTS ? nw : 0) + (k == COMPUTED_W);
    int nmulti = 0;
    for (int i = 0; i < quanta_plan_op_count(plan); i++) nmulti += !strcmp(op_at(plan, i), "matmul_multi");
    /* CUDA claims matmul_multi for ggml weights behind a switch (QUANTA_CUDA_MULTI): either plan is
     * right there, the products are checked below either way */
    if (strcmp(name, "cuda") != 0)
        ck_assert_msg(quanta_plan_op_count(plan) == want && nmulti == (fused ? 1 : 0),
                      "%s case %d w %s M %lld: %d ops (%d matmul_multi), expected %d (%d)", name, (int)k,
                      quanta_dtype_name(wt), (long long)M, quanta_plan_op_count(plan), nmulti, want, fused);
    ck_assert_int_eq(quanta_plan_set_input(plan, tx, x, nx * sizeof *x), QUANTA_OK);
    if (tx2) ck_assert_int_eq(quanta_plan_set_input(plan, tx2, x2, nx * sizeof *x2), QUANTA_OK);
    ck_assert_msg(quanta_plan_execute(plan) == QUANTA_OK, "%s", quanta_last_error());
    for (int i = 0; i < nw; i++) {
        const size_t ny = (size_t)(M * N[i]);
        float *got = malloc(ny * sizeof *got);
        ck_assert_ptr_nonnull(got);
        qt_poison_f32(got, ny);
        ck_assert_int_eq(quanta_plan_get_output(plan, y[i], got, ny * sizeof *got), QUANTA_OK);
        const float *xr = i == 2 && k == TWO_X ? x2 : x;
        qt_prod_err pe = {0};
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = 0; n < N[i]; n++) {
                double want_v = 0.0;
                for (int64_t c = 0; c < K; c++) want_v += (double)xr[m * K + c] * (double)w[i].values[n * K + c];
                const double v = got[m * N[i] + n];
                QT_CHECK(isfinite(v), "%s: product %d [%lld] is not finite", name, i, (long long)(m * N[i] + n));
                qt_prod_err_add(&pe, v, want_v);
            }
        /* f32 dot products over K: ~√K·2^-24 relative; q8 rows are decoded exactly into f32 */
        const char *bound;
        ck_assert_msg(qt_prod_err_ok(&pe, name, &bound),
                      "%s case %d w %s M %lld product %d: max relative error %g, NMSE %g, max abs %g of %g; needs %s",
                      name, (int)k, quanta_dtype_name(wt), (long long)M, i, pe.maxrel,
                      pe.ref2 > 0 ? pe.err2 / pe.ref2 : pe.err2, pe.maxabs, pe.refmax, bound);
        free(got);
    }
    quanta_plan_destroy(plan);
    quanta_graph_destroy(g);
    for (int i = 0; i < nw; i++) weight_free(&w[i]);
    free(x), free(x2);
}

/* Each backend with a device; decode rows (M = 1, 3, 8) and a prefill (M = 12, which OpenCL leaves
 * unfused); f32 with K odd, q8 and q4 (not fused on OpenCL) at q/k/v-like K. */
START_TEST(test_matmul_multi_fusion_matches_float64) {
    qt_rng r = qt_rng_make(0);
    quanta_backend *be;
    const char *b;
    for (int bi = 0; qt_next_backend(&bi, &be, &b);) { /* each backend built and with a device */
        run_case(be, b, QKV, QUANTA_F32, 1, 77, &r);
        run_case(be, b, QKV, QUANTA_Q8, 1, 640, &r);
        run_case(be, b, QKV, QUANTA_Q8, 8, 256, &r);
        run_case(be, b, QKV, QUANTA_F16, 3, 96, &r);
        run_case(be, b, QKV, QUANTA_Q4, 1, 256, &r);
        run_case(be, b, QKV, QUANTA_F32, 12, 64, &r);
        run_case(be, b, PAIR, QUANTA_Q8, 3, 128, &r);
        run_case(be, b, OUTPUTS, QUANTA_Q8, 1, 128, &r);
        run_case(be, b, TWO_X, QUANTA_F32, 1, 64, &r);
        run_case(be, b, MIXED_FORMAT, QUANTA_F32, 1, 64, &r);
        run_case(be, b, COMPUTED_W, QUANTA_F32, 2, 64, &r);
        quanta_backend_close(be);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("matmul_multi");
    TCase *tc = tcase_create("matmul_multi");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_matmul_multi_fusion_matches_float64);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
