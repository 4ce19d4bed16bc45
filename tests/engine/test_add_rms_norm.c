/* test_add_rms_norm.c — the fused residual add + RMSNorm op (the op added along
 * engine/README.md's path): its argument checks, and its result on every backend with a
 * device against a float64 computation written here (sum rounded to f32 once, as documented
 * in quanta.h), on f32 inputs with and without weight and with Gemma's (1 + weight). */
#include <math.h>
#include <string.h>

#include "norm_pair_args.h"
#include "qt_check.h"
#include "qt_plan_guard.h"
#include "qt_plan_run.h"
#include "qt_tensor.h"
#include "quanta.h"
#include "test_util.h"

START_TEST(test_add_rms_norm_rejects_bad_arguments) { qt_check_norm_pair_args(quanta_add_rms_norm, "a", "b"); }
END_TEST

/* rows x D, weight mode 0 none, 1 weight, 2 1 + weight. */
static void run_case(const char *backend, int64_t rows, int64_t D, int wmode, qt_rng *r) {
    const size_t n = (size_t)(rows * D);
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *y = malloc(n * sizeof *y);
    float *w = malloc((size_t)D * sizeof *w);
    ck_assert(a && b && y && w);
    qt_fill_normal(r, a, n, 1.0f);
    qt_fill_normal(r, b, n, 0.3f);
    qt_fill_normal(r, w, (size_t)D, 0.5f);
    const float eps = 1e-5f;

    quanta_backend *be;
    quanta_graph *g;
    quanta_plan *plan;
    quanta_tensor *ta, *tb, *tw = NULL, *ty;
    quanta_tensor_desc dx = qt_desc(QUANTA_F32, 2, rows, D, 0, 0), dw = qt_desc(QUANTA_F32, 1, D, 0, 0, 0);
    ck_assert_int_eq(quanta_backend_open(backend, &be), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "a", &dx, &ta), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "b", &dx, &tb), QUANTA_OK);
    if (wmode) ck_assert_int_eq(quanta_graph_constant(g, "w", &dw, w, (size_t)D * sizeof *w, &tw), QUANTA_OK);
    ck_assert_int_eq(quanta_add_rms_norm(g, ta, tb, tw, eps, wmode == 2, &ty), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(g, ty), QUANTA_OK);
    plan = qt_plan_guarded(g, be);
    const qt_in in[] = {{ta, a, n * sizeof *a}, {tb, b, n * sizeof *b}};
    const qt_out out[] = {{ty, y, n}};
    qt_plan_run(plan, QT_COUNT(in), in, QT_COUNT(out), out);

    /* float64 oracle: s = f32(a + b); y = s / sqrt(mean(s^2) + eps) * g. The kernels sum
     * squares in f32 (one rounding per term), hence a relative bound well above f32 epsilon. */
    double maxerr = 0.0;
    for (int64_t i = 0; i < rows; i++) {
        double ss = 0.0;
        for (int64_t d = 0; d < D; d++) {
            const double s = (double)(a[i * D + d] + b[i * D + d]);
            ss += s * s;
        }
        const double inv = 1.0 / sqrt(ss / (double)D + (double)eps);
        for (int64_t d = 0; d < D; d++) {
            const double gain = wmode == 0 ? 1.0 : wmode == 1 ? (double)w[d] : 1.0 + (double)w[d];
            const double want = (double)(a[i * D + d] + b[i * D + d]) * inv * gain;
            const double got = (double)y[i * D + d];
            QT_CHECK(isfinite(got), "%s: y[%lld][%lld] is not finite", backend, (long long)i, (long long)d);
            const double e = fabs(got - want) / (1.0 + fabs(want));
            if (e > maxerr) maxerr = e;
        }
    }
    ck_assert_msg(maxerr < 2e-5, "%s rows=%lld D=%lld w=%d: max relative error %g", backend, (long long)rows,
                  (long long)D, wmode, maxerr);
    quanta_plan_destroy(plan);
    quanta_graph_destroy(g);
    quanta_backend_close(be);
    free(a), free(b), free(y), free(w);
}

START_TEST(test_add_rms_norm_matches_float64) {
    qt_rng r = qt_rng_make(91);
    static const char *const backends[] = {"ref", "opencl", "cuda"};
    for (int bi = 0; bi < 3; bi++) {
        int count = 0;
        quanta_backend *probe;
        if (quanta_backend_open(backends[bi], &probe) != QUANTA_OK) continue; /* not built or no device */
        quanta_backend_close(probe);
        for (int wmode = 0; wmode < 3; wmode++) {
            run_case(backends[bi], 5, 96, wmode, &r);
            run_case(backends[bi], 1, 1000, wmode, &r);
            count++;
        }
        ck_assert_int_eq(count, 3);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("add_rms_norm");
    TCase *tc = tcase_create("add_rms_norm");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_add_rms_norm_rejects_bad_arguments);
    tcase_add_test(tc, test_add_rms_norm_matches_float64);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
