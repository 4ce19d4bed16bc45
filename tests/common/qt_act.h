/* qt_act.h — the gated activations in float64 for tests (test_glu.c, test_matmul_glu.c), written
 * from the formulas, not the library's code. */
#ifndef QUANTA_TEST_QT_ACT_H
#define QUANTA_TEST_QT_ACT_H

#include <math.h>

#include "quanta.h"

/* act (a quanta_glu_act) of x: silu, exact GELU, tanh GELU. */
static inline double qt_act64(int act, double x) {
    if (act == QUANTA_GLU_SILU) return x / (1.0 + exp(-x));
    if (act == QUANTA_GLU_GELU) return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    const double u = sqrt(2.0 / 3.14159265358979323846) * (x + 0.044715 * x * x * x);
    return 0.5 * x * (1.0 + tanh(u));
}

#endif
