/* test_rms_norm_rope.c — rms_norm_rope, rope(rms_norm(x) with weight) (q/k norms with their rope):
 * its argument checks, its result on every backend with a device against a float64
 * computation written here, and the plan's fusion of rms_norm + rope into it: taken when the
 * norm's result is read by the rope alone (where the backend claims the kernel: the reference
 * and OpenCL; CUDA keeps the pair), refused when the norm is also an output. Every plan's
 * result is checked. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qt_backends.h"
#include "qt_check.h"
#include "qt_plan_guard.h"
#include "qt_plan_run.h"
#include "qt_tensor.h"
#include "quanta.h"
#include "test_util.h"

START_TEST(test_rms_norm_rope_rejects_bad_arguments) {
    quanta_graph *g;
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    quanta_tensor *x = QT_INPUT(g, QUANTA_F32, 4, 1, 2, 3, 8), *x2 = QT_INPUT(g, QUANTA_F32, 2, 3, 8, 0, 0);
    quanta_tensor *w = QT_INPUT(g, QUANTA_F32, 1, 8, 0, 0, 0), *w7 = QT_INPUT(g, QUANTA_F32, 1, 7, 0, 0, 0);
    quanta_tensor *p = QT_INPUT(g, QUANTA_I32, 1, 3, 0, 0, 0), *p4 = QT_INPUT(g, QUANTA_I32, 1, 4, 0, 0, 0);
    quanta_tensor *y = (quanta_tensor *)1;
    const quanta_rope_params rp = {QUANTA_ROPE_NEOX, 10000.0f, 1.0f, 0}, odd = {QUANTA_ROPE_NORM, 10000.0f, 1.0f, 3};
    QT_EXPECT_ERR(quanta_rms_norm_rope(g, x, w7, 1e-6f, 0, p, &rp, &y), QUANTA_ERR_INVALID_ARGUMENT, "weight");
    ck_assert_ptr_null(y);
    QT_EXPECT_ERR(quanta_rms_norm_rope(g, x, w, -1.0f, 0, p, &rp, &y), QUANTA_ERR_INVALID_ARGUMENT, "eps");
    QT_EXPECT_ERR(quanta_rms_norm_rope(g, x, w, 1e-6f, 0, p4, &rp, &y), QUANTA_ERR_INVALID_ARGUMENT, "positions");
    QT_EXPECT_ERR(quanta_rms_norm_rope(g, x2, w, 1e-6f, 0, p, &rp, &y), QUANTA_ERR_INVALID_ARGUMENT, "x", "4");
    QT_EXPECT_ERR(quanta_rms_norm_rope(g, x, w, 1e-6f, 0, p, &odd, &y), QUANTA_ERR_INVALID_ARGUMENT, "rot_dims");
    QT_EXPECT_ERR(quanta_rms_norm_rope(g, x, w, 1e-6f, 0, p, NULL, &y), QUANTA_ERR_INVALID_ARGUMENT,
                  "params is NULL");
    QT_EXPECT_ERR(quanta_rms_norm_rope(g, x, w, 1e-6f, 0, NULL, &rp, &y), QUANTA_ERR_INVALID_ARGUMENT,
                  "positions is NULL");
    QT_EXPECT_ERR(quanta_rms_norm_rope(g, NULL, w, 1e-6f, 0, p, &rp, &y), QUANTA_ERR_INVALID_ARGUMENT, "x is NULL");
    QT_EXPECT_ERR(quanta_rms_norm_rope(NULL, x, w, 1e-6f, 0, p, &rp, &y), QUANTA_ERR_INVALID_ARGUMENT,
                  "graph is NULL");
    QT_EXPECT_ERR(quanta_rms_norm_rope(g, x, w, 1e-6f, 0, p, &rp, NULL), QUANTA_ERR_INVALID_ARGUMENT, "out is NULL");
    ck_assert_int_eq(quanta_rms_norm_rope(g, x, NULL, 1e-6f, 0, p, &rp, &y), QUANTA_OK);
    ck_assert_int_eq(quanta_rms_norm_rope(g, x, w, 1e-6f, 1, p, &rp, &y), QUANTA_OK);
    quanta_graph_destroy(g);
}
END_TEST

enum kind {
    DIRECT,      /* quanta_rms_norm_rope */
    PAIR,        /* rms_norm then rope: fused where the backend has the kernel */
    NORM_OUTPUT, /* the norm is an output too: not fused */
};

/* x [1, H, N, D] f32 at positions pos0 .. pos0+N-1, weight mode 0 none, 1 w, 2 1 + w; checks y
 * (and the norm where it is an output) against float64 and the plan's op count. */
static void run_case(quanta_backend *be, const char *name, enum kind k, int wmode, int neox, int64_t H, int64_t N,
                     int64_t D, int32_t rot, int32_t pos0, qt_rng *rng) {
    const size_t n = (size_t)(H * N * D);
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y), *side = malloc(n * sizeof *side);
    float *w = malloc((size_t)D * sizeof *w), *want = malloc(n * sizeof *want), *normed = malloc(n * sizeof *normed);
    int32_t *pos = malloc((size_t)N * sizeof *pos);
    ck_assert(x && y && side && w && want && normed && pos);
    qt_fill_normal(rng, x, n, 1.0f);
    qt_fill_normal(rng, w, (size_t)D, 0.5f);
    for (int64_t j = 0; j < N; j++) pos[j] = pos0 + (int32_t)j;
    const float eps = 1e-6f;
    const quanta_rope_params rp = {neox ? QUANTA_ROPE_NEOX : QUANTA_ROPE_NORM, 10000.0f, 1.0f, rot};
    /* float64: the norm, then the rotation of the leading rot dims (pairs per mode) */
    const int64_t R = rot ? rot : D, half = R / 2;
    for (int64_t row = 0; row < H * N; row++) {
        const float *xr = x + row * D;
        double ss = 0.0;
        for (int64_t d = 0; d < D; d++) ss += (double)xr[d] * xr[d];
        const double inv = 1.0 / sqrt(ss / (double)D + eps);
        double v[512];
        ck_assert(D <= 512);
        for (int64_t d = 0; d < D; d++) {
            const double gain = wmode == 0 ? 1.0 : wmode == 1 ? (double)w[d] : 1.0 + (double)w[d];
            v[d] = (double)xr[d] * inv * gain;
            normed[row * D + d] = (float)v[d];
        }
        const double p = (double)pos[row % N];
        for (int64_t i = 0; i < half; i++) {
            const double th = p * pow(10000.0, -2.0 * (double)i / (double)R);
            const int64_t a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
            const double x0 = v[a], x1 = v[b];
            v[a] = x0 * cos(th) - x1 * sin(th);
            v[b] = x0 * sin(th) + x1 * cos(th);
        }
        for (int64_t d = 0; d < D; d++) want[row * D + d] = (float)v[d];
    }
    quanta_graph *g;
    quanta_plan *plan;
    quanta_tensor *tx, *tp, *tw = NULL, *tn = NULL, *ty;
    quanta_tensor_desc dx = qt_desc(QUANTA_F32, 4, 1, H, N, D), dp = qt_desc(QUANTA_I32, 1, N, 0, 0, 0);
    quanta_tensor_desc dw = qt_desc(QUANTA_F32, 1, D, 0, 0, 0);
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "x", &dx, &tx), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "pos", &dp, &tp), QUANTA_OK);
    if (wmode) ck_assert_int_eq(quanta_graph_constant(g, "w", &dw, w, (size_t)D * sizeof *w, &tw), QUANTA_OK);
    if (k == DIRECT) {
        ck_assert_int_eq(quanta_rms_norm_rope(g, tx, tw, eps, wmode == 2, tp, &rp, &ty), QUANTA_OK);
    } else {
        ck_assert_int_eq(quanta_rms_norm(g, tx, tw, eps, wmode == 2, &tn), QUANTA_OK);
        ck_assert_int_eq(quanta_rope(g, tn, tp, &rp, &ty), QUANTA_OK);
        if (k == NORM_OUTPUT) ck_assert_int_eq(quanta_graph_output(g, tn), QUANTA_OK);
    }
    ck_assert_int_eq(quanta_graph_output(g, ty), QUANTA_OK);
    plan = qt_plan_guarded(g, be);
    /* CUDA fuses the pair too (its rms_norm_rope kernel), unless QUANTA_CUDA_NORM_ROPE=0 keeps it two launches */
    const char *cuda_sw = getenv("QUANTA_CUDA_NORM_ROPE");
    const int cuda_unfused = !strcmp(name, "cuda") && cuda_sw && !strcmp(cuda_sw, "0");
    const int fused = k == DIRECT || (k == PAIR && !cuda_unfused);
    ck_assert_int_eq(quanta_plan_op_count(plan), fused ? 1 : 2);
    const char *op = NULL;
    ck_assert_int_eq(quanta_plan_op_info(plan, 0, &op, NULL), QUANTA_OK);
    ck_assert_str_eq(op, fused ? "rms_norm_rope" : "rms_norm");
    const qt_in in[] = {{tx, x, n * sizeof *x}, {tp, pos, (size_t)N * sizeof *pos}};
    const qt_out out[] = {{ty, y, n}};
    qt_plan_run(plan, QT_COUNT(in), in, QT_COUNT(out), out);
    /* f32 rsqrt and f32 sin/cos of angles reduced in double (positions to ~4k): 2e-5 of the scale */
    double maxerr = 0.0;
    for (size_t i = 0; i < n; i++) {
        QT_CHECK(isfinite(y[i]), "%s: y[%zu] is not finite", name, i);
        const double e = fabs((double)y[i] - want[i]) / (1.0 + fabs(want[i]));
        if (e > maxerr) maxerr = e;
    }
    ck_assert_msg(maxerr < 2e-5, "%s kind %d wmode %d neox %d H %lld N %lld D %lld rot %d pos0 %d: max error %g", name,
                  (int)k, wmode, neox, (long long)H, (long long)N, (long long)D, rot, pos0, maxerr);
    if (k == NORM_OUTPUT) {
        qt_poison_f32(side, n);
        ck_assert_int_eq(quanta_plan_get_output(plan, tn, side, n * sizeof *side), QUANTA_OK);
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(fabs(side[i] - normed[i]) <= 1e-5 * (1.0 + fabs(normed[i])), "%s: norm[%zu] = %g, want %g",
                          name, i, side[i], normed[i]);
    }
    quanta_plan_destroy(plan);
    quanta_graph_destroy(g);
    free(x), free(y), free(side), free(w), free(want), free(normed), free(pos);
}

/* Each backend with a device: Gemma's decode q (4 heads of 256) and k (1 head), a LLaMA-like
 * head of 128 in neox mode, partial rotation, a prefill of 9 positions, every weight form. */
START_TEST(test_rms_norm_rope_and_fusion_match_float64) {
    qt_rng r = qt_rng_make(0);
    quanta_backend *be;
    const char *b;
    for (int bi = 0; qt_next_backend(&bi, &be, &b);) { /* each backend built and with a device */
        for (int wmode = 0; wmode < 3; wmode++) {
            const int32_t pos0 = (int32_t)(qt_next(&r) % 4000);
            run_case(be, b, DIRECT, wmode, 1, 4, 1, 256, 0, pos0, &r);
            run_case(be, b, PAIR, wmode, 0, 4, 1, 256, 0, pos0, &r);
            run_case(be, b, PAIR, wmode, 0, 1, 1, 256, 0, pos0 + 1, &r);
            run_case(be, b, PAIR, wmode, 1, 8, 1, 128, 0, pos0, &r);
            run_case(be, b, PAIR, wmode, 1, 3, 9, 80, 40, pos0, &r);
            run_case(be, b, PAIR, wmode, 0, 2, 5, 64, 32, 0, &r);
            run_case(be, b, NORM_OUTPUT, wmode, 0, 2, 3, 64, 0, pos0, &r);
        }
        quanta_backend_close(be);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("rms_norm_rope");
    TCase *tc = tcase_create("rms_norm_rope");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_rms_norm_rope_rejects_bad_arguments);
    tcase_add_test(tc, test_rms_norm_rope_and_fusion_match_float64);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
