/* test_rms_norm_rope_pair.c — the plan's fusion of two rms_norm_rope at one positions tensor and
 * parameters (a layer's q and k norms with their rope) into one rms_norm_rope_pair node: taken
 * where the backend claims the kernel (the reference and OpenCL), refused for two positions
 * tensors, two eps, and an x1 the graph computes after the first. Each result of every plan must
 * equal, bit for bit, the same rms_norm_rope planned alone on the same backend (whose values
 * test_rms_norm_rope checks against float64): a pair computes each tensor exactly as one op does. */
#include <stdlib.h>
#include <string.h>

#include "qt_backends.h"
#include "qt_check.h"
#include "qt_plan_guard.h"
#include "qt_plan_run.h"
#include "qt_tensor.h"
#include "quanta.h"
#include "test_util.h"

enum kind {
    FUSED,     /* q [1,Hq,N,D] and k [1,Hk,N,D] at one positions tensor: fused */
    TWO_POS,   /* k at another positions tensor (same values): not fused */
    TWO_EPS,   /* k with another eps: not fused */
    LATE_X1,   /* k's x is scale(input), made after q's rms_norm_rope: not fused */
};

enum { D = 64, N = 2, HQ = 4, HK = 1 };

/* rms_norm_rope of x ([1,H,N,D]) at positions pos alone on be, into y. */
static void alone(quanta_backend *be, const float *x, int64_t H, const float *w, float eps, const int32_t *pos,
                  const quanta_rope_params *rp, float *y) {
    quanta_graph *g;
    quanta_plan *plan;
    quanta_tensor *tx, *tp, *tw, *ty;
    quanta_tensor_desc dx = qt_desc(QUANTA_F32, 4, 1, H, N, D), dp = qt_desc(QUANTA_I32, 1, N, 0, 0, 0);
    quanta_tensor_desc dw = qt_desc(QUANTA_F32, 1, D, 0, 0, 0);
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "x", &dx, &tx), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "pos", &dp, &tp), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_constant(g, "w", &dw, w, D * sizeof *w, &tw), QUANTA_OK);
    ck_assert_int_eq(quanta_rms_norm_rope(g, tx, tw, eps, 1, tp, rp, &ty), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(g, ty), QUANTA_OK);
    plan = qt_plan_guarded(g, be);
    const qt_in in[] = {{tx, x, (size_t)(H * N * D) * sizeof *x}, {tp, pos, N * sizeof *pos}};
    const qt_out out[] = {{ty, y, (size_t)(H * N * D)}};
    qt_plan_run(plan, QT_COUNT(in), in, QT_COUNT(out), out);
    quanta_plan_destroy(plan);
    quanta_graph_destroy(g);
}

static void run_case(quanta_backend *be, const char *name, enum kind k, int neox, qt_rng *r) {
    float xq[HQ * N * D], xk[HK * N * D], wq[D], wk[D], yq[HQ * N * D], yk[HK * N * D], aq[HQ * N * D], ak[HK * N * D];
    qt_fill_normal(r, xq, HQ * N * D, 1.0f);
    qt_fill_normal(r, xk, HK * N * D, 1.0f);
    qt_fill_normal(r, wq, D, 0.5f);
    qt_fill_normal(r, wk, D, 0.5f);
    int32_t pos[N], pos2[N]; /* two tensors of the same positions (TWO_POS) */
    pos[0] = pos2[0] = (int32_t)(qt_next(r) % 4000);
    pos[1] = pos2[1] = pos[0] + 1;
    const float eps = 1e-6f, eps_k = k == TWO_EPS ? 1e-5f : eps;
    const quanta_rope_params rp = {neox ? QUANTA_ROPE_NEOX : QUANTA_ROPE_NORM, 10000.0f, 1.0f, 0};
    quanta_graph *g;
    quanta_plan *plan;
    quanta_tensor *tq, *tk, *tp, *tp2, *twq, *twk, *oq, *ok;
    quanta_tensor_desc dq = qt_desc(QUANTA_F32, 4, 1, HQ, N, D), dk = qt_desc(QUANTA_F32, 4, 1, HK, N, D);
    quanta_tensor_desc dp = qt_desc(QUANTA_I32, 1, N, 0, 0, 0), dw = qt_desc(QUANTA_F32, 1, D, 0, 0, 0);
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "q", &dq, &tq), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "k", &dk, &tk), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "pos", &dp, &tp), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "pos2", &dp, &tp2), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_constant(g, "wq", &dw, wq, sizeof wq, &twq), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_constant(g, "wk", &dw, wk, sizeof wk, &twk), QUANTA_OK);
    ck_assert_int_eq(quanta_rms_norm_rope(g, tq, twq, eps, 1, tp, &rp, &oq), QUANTA_OK);
    quanta_tensor *xk_t = tk;
    if (k == LATE_X1) ck_assert_int_eq(quanta_scale(g, tk, 1.0f, &xk_t), QUANTA_OK);
    ck_assert_int_eq(quanta_rms_norm_rope(g, xk_t, twk, eps_k, 1, k == TWO_POS ? tp2 : tp, &rp, &ok), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(g, oq), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(g, ok), QUANTA_OK);
    plan = qt_plan_guarded(g, be);
    /* CUDA claims rms_norm_rope_pair behind switches (QUANTA_CUDA_NORM_ROPE, QUANTA_CUDA_NORM_PAIRS):
     * either plan is right there, so only the refusals are checked on it */
    const int fused = k == FUSED && strcmp(name, "cuda") != 0, either = k == FUSED && !fused;
    const char *op = NULL;
    ck_assert_int_eq(quanta_plan_op_info(plan, 0, &op, NULL), QUANTA_OK);
    if (either) {
        /* checked below by value only */
    } else if (fused) {
        ck_assert_int_eq(quanta_plan_op_count(plan), 1);
        ck_assert_str_eq(op, "rms_norm_rope_pair");
    } else {
        for (int i = 0; i < quanta_plan_op_count(plan); i++) {
            ck_assert_int_eq(quanta_plan_op_info(plan, i, &op, NULL), QUANTA_OK);
            ck_assert_str_ne(op, "rms_norm_rope_pair");
        }
    }
    const qt_in in[] = {{tq, xq, sizeof xq}, {tk, xk, sizeof xk}, {tp, pos, sizeof pos}, {tp2, pos2, sizeof pos2}};
    const qt_out out[] = {{oq, yq, HQ * N * D}, {ok, yk, HK * N * D}};
    qt_plan_run(plan, QT_COUNT(in), in, QT_COUNT(out), out);
    quanta_plan_destroy(plan);
    quanta_graph_destroy(g);
    alone(be, xq, HQ, wq, eps, pos, &rp, aq);
    alone(be, xk, HK, wk, eps_k, pos, &rp, ak);
    ck_assert_msg(!memcmp(yq, aq, sizeof yq), "%s case %d neox %d: q differs from rms_norm_rope alone", name, (int)k,
                  neox);
    ck_assert_msg(!memcmp(yk, ak, sizeof yk), "%s case %d neox %d: k differs from rms_norm_rope alone", name, (int)k,
                  neox);
    /* Both sides start poisoned with NaN: equal bytes alone would pass an op that wrote nothing. */
    for (size_t i = 0; i < sizeof yq / sizeof yq[0]; i++)
        ck_assert_msg(yq[i] == yq[i], "%s case %d neox %d: q element %zu is NaN (unwritten)", name, (int)k, neox, i);
    for (size_t i = 0; i < sizeof yk / sizeof yk[0]; i++)
        ck_assert_msg(yk[i] == yk[i], "%s case %d neox %d: k element %zu is NaN (unwritten)", name, (int)k, neox, i);
}

START_TEST(test_rms_norm_rope_pair_matches_alone) {
    qt_rng r = qt_rng_make(0);
    quanta_backend *be;
    const char *name;
    for (int bi = 0; qt_next_backend(&bi, &be, &name);) { /* each backend built and with a device */
        for (int k = FUSED; k <= LATE_X1; k++)
            for (int neox = 0; neox < 2; neox++) run_case(be, name, (enum kind)k, neox, &r);
        quanta_backend_close(be);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("rms_norm_rope_pair");
    TCase *tc = tcase_create("rms_norm_rope_pair");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_rms_norm_rope_pair_matches_alone);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
