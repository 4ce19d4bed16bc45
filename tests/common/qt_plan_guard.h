/* qt_plan_guard.h — poisoning on the device for tests that run a plan themselves: the host
 * buffer a test reads back into is poisoned by the test, but a kernel that skips part of its
 * result would otherwise hand back whatever the arena held (often the right values of an earlier
 * run or op). With guards (engine/plan.h) every op output is filled with NaN bytes before its op
 * runs and checked for out-of-bounds writes after it, as the conformance runner does. */
#ifndef QUANTA_QT_PLAN_GUARD_H
#define QUANTA_QT_PLAN_GUARD_H

#include <check.h>

#include "plan.h"
#include "quanta.h"

/* Call after quanta_plan_create, before the plan's first execute. */
static inline void qt_plan_guard(quanta_plan *plan) {
    ck_assert_msg(qn_plan_set_guard_bytes(plan, 64) == QUANTA_OK, "guards: %s", quanta_last_error());
}

/* The plan of g on be (its creation asserted, with the library's message), guarded. */
static inline quanta_plan *qt_plan_guarded(quanta_graph *g, quanta_backend *be) {
    quanta_plan *plan;
    ck_assert_msg(quanta_plan_create(g, be, &plan) == QUANTA_OK, "%s", quanta_last_error());
    qt_plan_guard(plan);
    return plan;
}

#endif
