/* qt_plan_run.h — the run of a plan that a test made and checked itself: its inputs set, one execute, its
 * f32 outputs read back into host buffers poisoned first (a result left unwritten reads NaN). The plan
 * stays the caller's (more outputs may be read, then it is destroyed). */
#ifndef QUANTA_QT_PLAN_RUN_H
#define QUANTA_QT_PLAN_RUN_H

#include <check.h>
#include <stddef.h>

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
