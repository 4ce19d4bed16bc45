/* engine_test.h — graph pieces the executor tests build more than once. */
#ifndef QUANTA_ENGINE_TEST_H
#define QUANTA_ENGINE_TEST_H

#include <check.h>

#include "quanta.h"
#include "qt_tensor.h"

/* An f32 input "x" of n elements (into *x) followed by `ops` scales by `factor`: the planner's
 * simplest chain of intermediates. Returns the last scale's result (x itself when ops is 0). */
static inline quanta_tensor *qt_scale_chain(quanta_graph *g, int64_t n, int ops, float factor, quanta_tensor **x) {
    quanta_tensor_desc d = qt_desc(QUANTA_F32, 1, n, 0, 0, 0);
    ck_assert_int_eq(quanta_graph_input(g, "x", &d, x), QUANTA_OK);
    quanta_tensor *t = *x;
    for (int i = 0; i < ops; i++) ck_assert_int_eq(quanta_scale(g, t, factor, &t), QUANTA_OK);
    return t;
}

#endif
