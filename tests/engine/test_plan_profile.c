/* test_plan_profile.c — the executor's per-op timing (QUANTA_PLAN_PROFILE=1, engine/plan.h): every
 * execute's ops land in the table by op code, once per run, the results are the unprofiled
 * ones, the table resets when taken, and plans are not recorded while it is on (the ops must
 * run one by one to be timed). */
#include <math.h>
#include <stdlib.h>

#include "backend.h"
#include "plan.h"
#include "quanta.h"
#include "test_util.h"
#include "qt_check.h"
#include "qt_plan_run.h"
#include "qt_tensor.h"

/* x -> 2x -> 2x + x on backend `name` (skipped when it cannot be opened), run three times. */
static void profile_case(const char *name) {
    quanta_backend *be;
    if (quanta_backend_open(name, &be) != QUANTA_OK) return; /* not built or no device */
    qt_rng r = qt_rng_make(7);
    enum { N = 1000 };
    quanta_tensor *x, *y;
    quanta_graph *g = qt_graph_3x(N, &x, &y);
    quanta_plan *p;
    ck_assert_int_eq(quanta_plan_create(g, be, &p), QUANTA_OK);
    float in[N], out[N];
    qt_fill_normal(&r, in, N, 1.0f);
    ck_assert_int_eq(quanta_plan_set_input(p, x, in, sizeof in), QUANTA_OK);
    qn_plan_profile_take(NULL, 1);
    for (int run = 0; run < 3; run++) {
        ck_assert_int_eq(quanta_plan_execute(p), QUANTA_OK);
        qt_poison_f32(out, N);
        ck_assert_int_eq(quanta_plan_get_output(p, y, out, sizeof out), QUANTA_OK);
        for (int i = 0; i < N; i++) QT_CHECK(fabsf(out[i] - 3.0f * in[i]) <= 1e-5f * fabsf(3.0f * in[i]), "i=%d", i);
    }
    ck_assert(!qn_plan_is_recorded(p)); /* a backend that records would have by the third run */
    qn_plan_profile pr;
    qn_plan_profile_take(&pr, 1);
    ck_assert_int_eq((int)pr.executes, 3);
    ck_assert(pr.execute_seconds > 0.0);
    for (int i = 0; i < QN_PLAN_PROFILE_ROWS; i++) {
        const int op = i % QN_PLAN_PROFILE_OPS, fb = i >= QN_PLAN_PROFILE_OPS;
        const long long want = !fb && (op == QN_OP_SCALE || op == QN_OP_ADD) ? 3 : 0;
        QT_CHECK(pr.count[i] == want, "%s row %d (%s): %lld runs, want %lld", name, i,
                 qn_plan_profile_row_name(i, NULL) ? qn_plan_profile_row_name(i, NULL) : "?", pr.count[i], want);
        QT_CHECK(pr.seconds[i] >= 0.0 && (pr.count[i] || pr.seconds[i] == 0.0), "row %d: %g s", i, pr.seconds[i]);
    }
    qn_plan_profile_take(&pr, 0); /* taken with reset: empty */
    ck_assert_int_eq((int)pr.executes, 0);
    ck_assert_int_eq((int)pr.count[QN_OP_ADD], 0);
    quanta_plan_destroy(p);
    quanta_graph_destroy(g);
    quanta_backend_close(be);
}

START_TEST(test_profile_counts_ops) {
    ck_assert(qn_plan_profile_on());
    profile_case("ref");
    profile_case("opencl");
}
END_TEST

START_TEST(test_profile_row_names) {
    int fb = -1;
    ck_assert_str_eq(qn_plan_profile_row_name(QN_OP_ADD, &fb), "add");
    ck_assert_int_eq(fb, 0);
    ck_assert_str_eq(qn_plan_profile_row_name(QN_PLAN_PROFILE_OPS + QN_OP_MATMUL, &fb), "matmul");
    ck_assert_int_eq(fb, 1);
    ck_assert(qn_plan_profile_row_name(QN_PLAN_PROFILE_ROWS, NULL) == NULL);
    ck_assert(qn_plan_profile_row_name(-1, NULL) == NULL);
}
END_TEST

int main(void) {
    setenv("QUANTA_PLAN_PROFILE", "1", 1); /* read once, at the first execute */
    Suite *s = suite_create("engine_plan_profile");
    TCase *tc = tcase_create("profile");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_profile_counts_ops);
    tcase_add_test(tc, test_profile_row_names);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
