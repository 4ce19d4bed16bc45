/* test_step_split.c — QUANTA_STEP_SPLIT=1 (engine/plan.h, what `quanta bench model` prints of a
 * decode step's host time): quanta_plan_set_input, quanta_plan_execute and the output reads are
 * counted and timed, the results are those without the split, taking with reset empties it; a
 * read refused for its size is not counted. The two diagnostic switches are read once, from any
 * thread: threads that make their first execute at the same time read them without a data race
 * (the cached value is atomic; a TSan build reported the plain int before). */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "plan.h"
#include "quanta.h"
#include "qt_check.h"
#include "qt_plan_run.h"
#include "qt_tensor.h"
#include "test_util.h"

START_TEST(test_split_counts) {
    ck_assert(qn_step_split_on());
    quanta_backend *be;
    ck_assert_int_eq(quanta_backend_open("ref", &be), QUANTA_OK);
    qt_rng r = qt_rng_make(0x5917);
    enum { N = 1000 };
    quanta_tensor *x, *y;
    quanta_graph *g = qt_graph_3x(N, &x, &y);
    quanta_plan *p;
    ck_assert_int_eq(quanta_plan_create(g, be, &p), QUANTA_OK);
    static float in[N], out[N];
    qt_fill_normal(&r, in, N, 1.0f);
    qn_step_split_take(NULL, 1);
    ck_assert_int_eq(quanta_plan_set_input(p, x, in, sizeof in), QUANTA_OK);
    for (int run = 0; run < 3; run++) {
        ck_assert_int_eq(quanta_plan_execute(p), QUANTA_OK);
        qt_poison_f32(out, N);
        ck_assert_int_eq(quanta_plan_get_output(p, y, out, sizeof out), QUANTA_OK);
        for (int i = 0; i < N; i++) QT_CHECK(fabsf(out[i] - 3.0f * in[i]) <= 1e-5f * fabsf(3.0f * in[i]), "i=%d", i);
    }
    /* refused before any timing (wrong size): not counted */
    ck_assert_int_eq(quanta_plan_get_output(p, y, out, sizeof out - 4), QUANTA_ERR_INVALID_ARGUMENT);
    qn_step_split s;
    qn_step_split_take(&s, 1);
    ck_assert_int_eq((int)s.count[QN_SPLIT_INPUT], 1);
    ck_assert_int_eq((int)s.count[QN_SPLIT_EXECUTE], 3);
    ck_assert_int_eq((int)s.count[QN_SPLIT_OUTPUT], 3);
    for (int ph = QN_SPLIT_CHECK; ph < QN_SPLIT_PHASES; ph++) /* no checked read, no model here */
        ck_assert_msg(s.count[ph] == 0 && s.seconds[ph] == 0.0, "%s", qn_split_phase_name((qn_split_phase)ph));
    ck_assert(s.seconds[QN_SPLIT_EXECUTE] > 0.0 && s.seconds[QN_SPLIT_INPUT] >= 0.0 && s.seconds[QN_SPLIT_OUTPUT] >= 0.0);
    qn_step_split_take(&s, 0); /* taken with reset: empty */
    for (int ph = 0; ph < QN_SPLIT_PHASES; ph++) ck_assert(s.count[ph] == 0 && s.seconds[ph] == 0.0);
    quanta_plan_destroy(p);
    quanta_graph_destroy(g);
    quanta_backend_close(be);
}
END_TEST

static pthread_barrier_t gate;
static void *read_switches(void *arg) {
    int *got = arg;
    pthread_barrier_wait(&gate);
    got[0] = qn_step_split_on();
    got[1] = qn_plan_profile_on();
    return NULL;
}

/* Runs first in its own process's order (before any other test reads the switches). */
START_TEST(test_switches_first_read_threads) {
    pthread_t t[2];
    int got[2][2];
    ck_assert_int_eq(pthread_barrier_init(&gate, NULL, 2), 0);
    for (int i = 0; i < 2; i++) ck_assert_int_eq(pthread_create(&t[i], NULL, read_switches, got[i]), 0);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    pthread_barrier_destroy(&gate);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(got[i][0], 1); /* QUANTA_STEP_SPLIT=1 */
        ck_assert_int_eq(got[i][1], 0); /* QUANTA_PLAN_PROFILE unset */
    }
}
END_TEST

int main(void) {
    setenv("QUANTA_STEP_SPLIT", "1", 1); /* read once, at the first use */
    unsetenv("QUANTA_PLAN_PROFILE");
    Suite *s = suite_create("engine_step_split");
    TCase *tc = tcase_create("step_split");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_switches_first_read_threads);
    tcase_add_test(tc, test_split_counts);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
