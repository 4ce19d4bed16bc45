/* clock.h — monotonic wall time in seconds, for timing plans, kernels, benchmarks and
 * conformance cases (differences only; the origin is arbitrary). */
#ifndef QUANTA_BASE_CLOCK_H
#define QUANTA_BASE_CLOCK_H

#include <time.h>

static inline double qn_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif
