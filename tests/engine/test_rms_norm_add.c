/* test_rms_norm_add.c — the post-norm residual op rms_norm_add, r + rms_norm(x) with weight: its
 * argument checks, its result on every backend with a device against a float64 computation
 * written here, and the plan's fusion of rms_norm + add into it (Gemma's post-norms): taken
 * when the norm's result is read by the add alone, refused when it is also an output, both
 * operands of the add, or when the other operand is a broadcast row. Every plan's result is
 * checked. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fusion_case.h"
#include "norm_pair_args.h"
#include "qt_backends.h"
#include "qt_check.h"
#include "qt_tensor.h"
#include "quanta.h"
#include "test_util.h"

START_TEST(test_rms_norm_add_rejects_bad_arguments) { qt_check_norm_pair_args(quanta_rms_norm_add, "x", "r"); }
END_TEST

enum kind {
    DIRECT,      /* quanta_rms_norm_add */
    PAIR,        /* rms_norm then add(r, n): fused */
    PAIR_SWAP,   /* rms_norm then add(n, r): fused */
    NORM_OUTPUT, /* the norm is an output too: not fused */
    NORM_TWICE,  /* add(n, n), 2 rms_norm(x): not fused (nothing would compute n) */
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
    qt_fusion_graph f;
    qt_fusion_begin(&f, "x", "r", rows, D);
    quanta_graph *g = f.g;
    quanta_tensor *tx = f.in[0], *tr = f.in[1], *tw = NULL, *tn = NULL, *ty;
    quanta_tensor_desc dw = qt_desc(QUANTA_F32, 1, D, 0, 0, 0);
    if (wmode) ck_assert_int_eq(quanta_graph_constant(g, "w", &dw, w, (size_t)D * sizeof *w, &tw), QUANTA_OK);
    if (k == DIRECT) {
        ck_assert_int_eq(quanta_rms_norm_add(g, tx, tr, tw, eps, wmode == 2, &ty), QUANTA_OK);
    } else {
        ck_assert_int_eq(quanta_rms_norm(g, tx, tw, eps, wmode == 2, &tn), QUANTA_OK);
        quanta_tensor *other = k == NORM_TWICE ? tn : tr;
        ck_assert_int_eq(k == PAIR_SWAP ? quanta_add(g, tn, other, &ty) : quanta_add(g, other, tn, &ty), QUANTA_OK);
        if (k == NORM_OUTPUT) ck_assert_int_eq(quanta_graph_output(g, tn), QUANTA_OK);
    }
    ck_assert_int_eq(quanta_graph_output(g, ty), QUANTA_OK);
    quanta_tensor *const outs[2] = {ty, tn};
    float *const ys[2] = {y, side};
    qt_fusion_run(&f, be, name, (int)k, want_ops, want_first, x, r, n, k == NORM_OUTPUT ? 2 : 1, outs, ys);
    /* float64: y = r + x / sqrt(mean(x^2) + eps) * gain. The kernels sum squares in f32. */
    double maxerr = 0.0;
    for (int64_t i = 0; i < rows; i++) {
        double ss = 0.0;
        for (int64_t d = 0; d < D; d++) ss += (double)x[i * D + d] * (double)x[i * D + d];
        const double inv = 1.0 / sqrt(ss / (double)D + (double)eps);
        for (int64_t d = 0; d < D; d++) {
            const double gain = wmode == 0 ? 1.0 : wmode == 1 ? (double)w[d] : 1.0 + (double)w[d];
            const double nv = (double)x[i * D + d] * inv * gain;
            const double want = (k == NORM_TWICE ? nv : (double)r[i * D + d]) + nv;
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
    free(x), free(r), free(y), free(side), free(w);
}

START_TEST(test_rms_norm_add_and_fusion_match_float64) {
    qt_rng rng = qt_rng_make(0);
    quanta_backend *be;
    const char *name;
    for (int bi = 0; qt_next_backend(&bi, &be, &name);) { /* each backend built and with a device */
        for (int wmode = 0; wmode < 3; wmode++) {
            run_case(be, name, DIRECT, wmode, 5, 96, 1, "rms_norm_add", &rng);
            run_case(be, name, PAIR, wmode, 1, 640, 1, "rms_norm_add", &rng);
            run_case(be, name, PAIR_SWAP, wmode, 3, 1000, 1, "rms_norm_add", &rng);
            run_case(be, name, NORM_OUTPUT, wmode, 2, 64, 2, "rms_norm", &rng);
            run_case(be, name, NORM_TWICE, wmode, 2, 64, 2, "rms_norm", &rng);
        }
        quanta_backend_close(be);
    }
}
END_TEST

/* A broadcast row as the other operand of the add: the pair stays. */
static quanta_status norm_add_row(quanta_graph *g, quanta_tensor *x, quanta_tensor *row, quanta_tensor **y) {
    quanta_tensor *n;
    quanta_status st = quanta_rms_norm(g, x, NULL, 1e-6f, 0, &n);
    return st ? st : quanta_add(g, n, row, y);
}

START_TEST(test_no_fusion_with_broadcast) { qt_fusion_check_broadcast_kept(norm_add_row); }
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
