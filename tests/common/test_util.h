/* test_util.h — shared helpers for Quanta's Check tests: a seeded RNG (seed printed, settable
 * with QUANTA_TEST_SEED), NaN poisoning, and a runner that never forks (PoCL hangs forked
 * children, see shared toolchain notes). */
#ifndef QUANTA_TEST_UTIL_H
#define QUANTA_TEST_UTIL_H

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The seed of this test run: QUANTA_TEST_SEED if set, else drawn from the clock; printed once. */
static inline uint64_t qt_seed(void) {
    static uint64_t seed;
    static int have;
    if (!have) {
        const char *s = getenv("QUANTA_TEST_SEED");
        seed = s ? strtoull(s, NULL, 0) : ((uint64_t)time(NULL) ^ ((uint64_t)clock() << 20));
        have = 1;
        printf("test seed: %llu (set QUANTA_TEST_SEED to reproduce)\n", (unsigned long long)seed);
        fflush(stdout);
    }
    return seed;
}

typedef struct qt_rng { uint64_t s; } qt_rng;

/* An independent stream per test: mix the run seed with a per-test salt. */
static inline qt_rng qt_rng_make(uint64_t salt) {
    qt_rng r = { qt_seed() ^ (salt * 0x9E3779B97F4A7C15ull) ^ 0xD1B54A32D192ED03ull };
    return r;
}
static inline uint64_t qt_next(qt_rng *r) { /* splitmix64 */
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
/* Uniform in [lo, hi). */
static inline float qt_uniform(qt_rng *r, float lo, float hi) {
    return lo + (hi - lo) * (float)((qt_next(r) >> 40) * (1.0 / 16777216.0));
}
/* Approximately normal (sum of uniforms), mean 0, std `sd`. */
static inline float qt_normal(qt_rng *r, float sd) {
    float s = 0;
    for (int i = 0; i < 4; i++) s += qt_uniform(r, -1.0f, 1.0f);
    return s * sd * 0.8660254f;
}
static inline void qt_fill_normal(qt_rng *r, float *x, size_t n, float sd) {
    for (size_t i = 0; i < n; i++) x[i] = qt_normal(r, sd);
}
static inline void qt_poison_f32(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = NAN;
}

/* Runs a suite without forking and returns the process exit status. */
static inline int qt_run_suite(Suite *s) {
    (void)qt_seed();
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
