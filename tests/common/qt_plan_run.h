/* qt_plan_run.h — the run of a plan that a test made and checked itself: its inputs set, one execute, its
 * f32 outputs read back into host buffers poisoned first (a result left unwritten reads NaN). The plan
 * stays the caller's (more outputs may be read, then it is destroyed). */
#ifndef QUANTA_QT_PLAN_RUN_H
#define QUANTA_QT_PLAN_RUN_H

#include <check.h>
#include <stddef.h>

#include "qt_tensor.h"
#include "quanta.h"
#include "test_util.h"

typedef struct qt_in {
    quanta_tensor *t; /* NULL: skipped (an optional input the graph does not have) */
    const void *v;
    size_t bytes;
} qt_in;

typedef struct qt_out {
    quanta_tensor *t;
    float *y;
    size_t n; /* floats */
} qt_out;

/* The graph y = 2x + x of an f32 vector of n, x its input: the smallest plan of two ops (the executor's
 * timing tests). */
static inline quanta_graph *qt_graph_3x(int64_t n, quanta_tensor **x, quanta_tensor **y) {
    quanta_graph *g;
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    quanta_tensor_desc d = qt_desc(QUANTA_F32, 1, n, 0, 0, 0);
    quanta_tensor *a;
    ck_assert_int_eq(quanta_graph_input(g, "x", &d, x), QUANTA_OK);
    ck_assert_int_eq(quanta_scale(g, *x, 2.0f, &a), QUANTA_OK);
    ck_assert_int_eq(quanta_add(g, a, *x, y), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(g, *y), QUANTA_OK);
    return g;
}

#define QT_COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Sets in[0..nin), executes, reads out[0..nout) (each buffer poisoned first). */
static inline void qt_plan_run(quanta_plan *plan, int nin, const qt_in *in, int nout, const qt_out *out) {
    for (int i = 0; i < nin; i++)
        if (in[i].t) ck_assert_int_eq(quanta_plan_set_input(plan, in[i].t, in[i].v, in[i].bytes), QUANTA_OK);
    ck_assert_msg(quanta_plan_execute(plan) == QUANTA_OK, "%s", quanta_last_error());
    for (int j = 0; j < nout; j++) {
        qt_poison_f32(out[j].y, out[j].n);
        ck_assert_int_eq(quanta_plan_get_output(plan, out[j].t, out[j].y, out[j].n * sizeof(float)), QUANTA_OK);
    }
}

#endif
