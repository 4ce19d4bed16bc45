/* test_rope_pair.c — the plan's fusion of two ropes at one positions tensor and parameters (a
 * layer's q and k where the model has no q/k norms: LLaMA, Mistral) into one rope_pair node: taken
 * where the backend claims the kernel (the reference always; OpenCL unless QUANTA_OPENCL_ROPE_PAIR=0;
 * CUDA only with QUANTA_CUDA_ROPE_PAIR=1), refused for two positions tensors, two frequency bases,
 * and an x1 the graph computes after the first rope. Each result of every plan must equal, bit for
 * bit, the same rope planned alone on the same backend (whose values the conformance suite checks
 * against float64): a pair computes each tensor exactly as one rope does. Guards on every result. */
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
    FUSED,    /* q [1,Hq,N,D] and k [1,Hk,N,D] at one positions tensor: fused */
    TWO_POS,  /* k at another positions tensor (same values): not fused */
    TWO_BASE, /* k with another theta base: not fused */
    LATE_X1,  /* k's x is scale(input), made after q's rope: not fused */
};

enum { N = 3, HQ = 8, HK = 2 };

/* rope of x ([1,H,N,D]) at positions pos alone on be, into y. */
static void alone(quanta_backend *be, const float *x, int64_t H, int64_t D, const int32_t *pos,
                  const quanta_rope_params *rp, float *y) {
    quanta_graph *g;
    quanta_plan *plan;
    quanta_tensor *tx, *tp, *ty;
    quanta_tensor_desc dx = qt_desc(QUANTA_F32, 4, 1, H, N, D), dp = qt_desc(QUANTA_I32, 1, N, 0, 0, 0);
    const size_t n = (size_t)(H * N * D);
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "x", &dx, &tx), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "pos", &dp, &tp), QUANTA_OK);
    ck_assert_int_eq(quanta_rope(g, tx, tp, rp, &ty), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(g, ty), QUANTA_OK);
    plan = qt_plan_guarded(g, be);
    const qt_in in[] = {{tx, x, n * sizeof *x}, {tp, pos, N * sizeof *pos}};
    const qt_out out[] = {{ty, y, n}};
    qt_plan_run(plan, QT_COUNT(in), in, QT_COUNT(out), out);
    quanta_plan_destroy(plan);
    quanta_graph_destroy(g);
}

static void run_case(quanta_backend *be, const char *name, enum kind k, int neox, int64_t D, int partial, qt_rng *r) {
    const size_t nq = (size_t)(HQ * N * D), nk = (size_t)(HK * N * D);
    float *xq = malloc(nq * sizeof *xq), *xk = malloc(nk * sizeof *xk), *yq = malloc(nq * sizeof *yq),
          *yk = malloc(nk * sizeof *yk), *aq = malloc(nq * sizeof *aq), *ak = malloc(nk * sizeof *ak);
    ck_assert(xq && xk && yq && yk && aq && ak);
    qt_fill_normal(r, xq, nq, 1.0f);
    qt_fill_normal(r, xk, nk, 1.0f);
    int32_t pos[N], pos2[N]; /* two tensors of the same positions (TWO_POS) */
    pos[0] = pos2[0] = (int32_t)(qt_next(r) % 4000);
    for (int i = 1; i < N; i++) pos[i] = pos2[i] = pos[0] + i;
    const int32_t rot = partial ? (int32_t)(D / 2 / 2 * 2) : 0;
    const quanta_rope_params rp = {neox ? QUANTA_ROPE_NEOX : QUANTA_ROPE_NORM, 10000.0f, 1.0f, rot};
    quanta_rope_params rpk = rp;
    if (k == TWO_BASE) rpk.theta_base = 500000.0f;
    quanta_graph *g;
    quanta_plan *plan;
    quanta_tensor *tq, *tk, *tp, *tp2, *oq, *ok;
    quanta_tensor_desc dq = qt_desc(QUANTA_F32, 4, 1, HQ, N, D), dk = qt_desc(QUANTA_F32, 4, 1, HK, N, D);
    quanta_tensor_desc dp = qt_desc(QUANTA_I32, 1, N, 0, 0, 0);
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "q", &dq, &tq), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "k", &dk, &tk), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "pos", &dp, &tp), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "pos2", &dp, &tp2), QUANTA_OK);
    ck_assert_int_eq(quanta_rope(g, tq, tp, &rp, &oq), QUANTA_OK);
    quanta_tensor *xk_t = tk;
    if (k == LATE_X1) ck_assert_int_eq(quanta_scale(g, tk, 1.0f, &xk_t), QUANTA_OK);
    ck_assert_int_eq(quanta_rope(g, xk_t, k == TWO_POS ? tp2 : tp, &rpk, &ok), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(g, oq), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(g, ok), QUANTA_OK);
    plan = qt_plan_guarded(g, be);
    const char *off = getenv("QUANTA_OPENCL_ROPE_PAIR"), *cuda_off = getenv("QUANTA_CUDA_ROPE_PAIR");
    /* CUDA claims it unless QUANTA_CUDA_ROPE_PAIR=0 (default since the H100 run of 2026-12-06) */
    const int claims = !strcmp(name, "ref") || (!strcmp(name, "opencl") && !(off && !strcmp(off, "0"))) ||
                       (!strcmp(name, "cuda") && !(cuda_off && !strcmp(cuda_off, "0")));
    const char *op = NULL;
    if (k == FUSED && claims) {
        ck_assert_int_eq(quanta_plan_op_count(plan), 1);
        ck_assert_int_eq(quanta_plan_op_info(plan, 0, &op, NULL), QUANTA_OK);
        ck_assert_str_eq(op, "rope_pair");
    } else if (k != FUSED) { /* refused everywhere */
        for (int i = 0; i < quanta_plan_op_count(plan); i++) {
            ck_assert_int_eq(quanta_plan_op_info(plan, i, &op, NULL), QUANTA_OK);
            ck_assert_str_ne(op, "rope_pair");
        }
    }
    const qt_in in[] = {
        {tq, xq, nq * sizeof *xq}, {tk, xk, nk * sizeof *xk}, {tp, pos, sizeof pos}, {tp2, pos2, sizeof pos2}};
    const qt_out out[] = {{oq, yq, nq}, {ok, yk, nk}};
    qt_plan_run(plan, QT_COUNT(in), in, QT_COUNT(out), out);
    quanta_plan_destroy(plan);
    quanta_graph_destroy(g);
    alone(be, xq, HQ, D, pos, &rp, aq);
    alone(be, xk, HK, D, pos, &rpk, ak);
    ck_assert_msg(!memcmp(yq, aq, nq * sizeof *yq), "%s case %d neox %d D %lld rot %d: q differs from rope alone", name,
                  (int)k, neox, (long long)D, rot);
    ck_assert_msg(!memcmp(yk, ak, nk * sizeof *yk), "%s case %d neox %d D %lld rot %d: k differs from rope alone", name,
                  (int)k, neox, (long long)D, rot);
    for (size_t i = 0; i < nk; i++) QT_CHECK(yk[i] == yk[i], "%s: k element %zu is NaN", name, i);
    free(xq), free(xk), free(yq), free(yk), free(aq), free(ak);
}

START_TEST(test_rope_pair_matches_alone) {
    qt_rng r = qt_rng_make(0);
    quanta_backend *be;
    const char *name;
    for (int bi = 0; qt_next_backend(&bi, &be, &name);) { /* each backend built and with a device */
        for (int k = FUSED; k <= LATE_X1; k++)
            for (int neox = 0; neox < 2; neox++) {
                run_case(be, name, (enum kind)k, neox, 128, 0, &r); /* the 7B's head dim */
                run_case(be, name, (enum kind)k, neox, 80, 1, &r);  /* partial rotation: the tail copied */
            }
        quanta_backend_close(be);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("rope_pair");
    TCase *tc = tcase_create("rope_pair");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_rope_pair_matches_alone);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
