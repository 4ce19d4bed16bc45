/*
 * test_par_for.c — base/par_for.c, the load-time conversion's parallel loop, on its own:
 *   every item of [0, n) is done exactly once, in ranges of `grain` (the last one shorter), for
 *   n = 0, 1, fewer items than threads, grain 0 / negative / larger than n / INT64_MAX (the range
 *   count must not overflow: UBSan in CI), 1 ... 9 threads and more than QN_PAR_MAX;
 *   a worker index is below the thread count and never held by two ranges at once;
 *   a failure returns the status and message (set on the caller's thread) of the failing range
 *   with the lowest begin, and the ranges not yet handed out are skipped (par_for.h);
 *   threads that cannot be started (pthread_create wrapped to fail) leave their share to the
 *   others: same items, no error.
 * The failing and the sleeping ranges are chosen by a seed (printed).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "error.h"
#include "par_for.h"
#include "test_util.h"

/* pthread_create, wrapped (-Wl,--wrap=pthread_create): fails while fail_create is set. */
int __real_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg);
static atomic_int fail_create, creates;
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg) {
    atomic_fetch_add(&creates, 1);
    if (atomic_load(&fail_create)) return 11; /* EAGAIN */
    return __real_pthread_create(t, a, fn, arg);
}

#define MAXN 5000
typedef struct job {
    int64_t n, grain;
    int threads;
    atomic_int done[MAXN];  /* times each item was done */
    atomic_int busy[256];   /* ranges running under each worker index */
    atomic_int ranges, bad_worker, overlap, bad_range;
    int64_t fail_from;      /* ranges with begin >= this fail ... */
    int64_t fail_every;     /* ... every fail_every-th range from there */
    int sleep_us;           /* each range sleeps this long */
} job;

static void nap(int us) {
    struct timespec ts = {0, (long)us * 1000};
    nanosleep(&ts, NULL);
}

static quanta_status fn(void *ctx, int worker, int64_t b, int64_t e) {
    job *j = ctx;
    atomic_fetch_add(&j->ranges, 1);
    if (worker < 0 || worker >= (j->threads < 1 ? 1 : j->threads) || worker >= 256) {
        atomic_store(&j->bad_worker, 1);
        return QUANTA_OK;
    }
    if (atomic_fetch_add(&j->busy[worker], 1) != 0) atomic_store(&j->overlap, 1);
    const int64_t g = j->grain < 1 ? 1 : j->grain;
    if (b < 0 || e > j->n || b >= e || b % g != 0 || (e - b != g && e != j->n)) atomic_store(&j->bad_range, 1);
    else
        for (int64_t i = b; i < e; i++) atomic_fetch_add(&j->done[i], 1);
    if (j->sleep_us) nap(j->sleep_us);
    atomic_fetch_sub(&j->busy[worker], 1);
    if (b >= j->fail_from && ((b - j->fail_from) / g) % j->fail_every == 0)
        return qn_error_set(b % 2 ? QUANTA_ERR_CORRUPT : QUANTA_ERR_IO, "range at %lld failed", (long long)b);
    return QUANTA_OK;
}

static job *job_new(int64_t n, int64_t grain, int threads) {
    job *j = calloc(1, sizeof *j);
    ck_assert_ptr_nonnull(j);
    j->n = n;
    j->grain = grain;
    j->threads = threads > 256 ? 256 : threads;
    j->fail_from = INT64_MAX;
    j->fail_every = 1;
    return j;
}

static void expect_all_once(job *j, const char *what) {
    ck_assert_msg(!j->bad_worker, "%s: a worker index outside [0, threads)", what);
    ck_assert_msg(!j->overlap, "%s: two ranges ran under one worker index at once", what);
    ck_assert_msg(!j->bad_range, "%s: a range not of the grain, or outside [0, n)", what);
    for (int64_t i = 0; i < j->n; i++)
        ck_assert_msg(j->done[i] == 1, "%s: item %lld done %d times", what, (long long)i, (int)j->done[i]);
}

START_TEST(test_every_item_once) {
    static const int64_t ns[] = {0, 1, 2, 3, 7, 64, 1000, 4999};
    static const int64_t grains[] = {-5, 0, 1, 2, 3, 16, 333, 10000, INT64_MAX - 1, INT64_MAX};
    static const int threads[] = {-1, 0, 1, 2, 3, 4, 9, 300};
    for (size_t a = 0; a < sizeof ns / sizeof *ns; a++)
        for (size_t b = 0; b < sizeof grains / sizeof *grains; b++)
            for (size_t c = 0; c < sizeof threads / sizeof *threads; c++) {
                job *j = job_new(ns[a], grains[b], threads[c]);
                char what[128];
                snprintf(what, sizeof what, "n %lld grain %lld threads %d", (long long)ns[a], (long long)grains[b],
                         threads[c]);
                quanta_status st = qn_par_for(j->n, j->grain, threads[c], fn, j);
                ck_assert_msg(st == QUANTA_OK, "%s: %s", what, quanta_last_error());
                expect_all_once(j, what);
                if (ns[a] == 0) ck_assert_int_eq(j->ranges, 0);
                free(j);
            }
}
END_TEST

/* The lowest failing range's status and message; later ranges are skipped. */
START_TEST(test_error_lowest_and_skip) {
    qt_rng r = qt_rng_make(0x9A4F);
    for (int rep = 0; rep < 20; rep++) {
        const int threads = 1 + (int)(qt_next(&r) % 4);
        job *j = job_new(2000, 1 + (int64_t)(qt_next(&r) % 3), threads);
        const int64_t ranges = (j->n + j->grain - 1) / j->grain;
        const int64_t first = (int64_t)(qt_next(&r) % 8); /* the lowest failing range, near the start */
        j->fail_from = first * j->grain;
        j->fail_every = 1 + (int64_t)(qt_next(&r) % 3);
        j->sleep_us = 200; /* each range takes a while: the skipped ones would take seconds */
        char want[64];
        snprintf(want, sizeof want, "range at %lld failed", (long long)j->fail_from);
        qn_error_clear();
        quanta_status st = qn_par_for(j->n, j->grain, threads, fn, j);
        ck_assert_msg(st == (j->fail_from % 2 ? QUANTA_ERR_CORRUPT : QUANTA_ERR_IO), "threads %d: status %d", threads,
                      (int)st);
        ck_assert_str_eq(quanta_last_error(), want);
        /* At most the ranges running when the first failure was seen, and one each after it. */
        ck_assert_msg(j->ranges <= first + 1 + 20 * threads,
                      "threads %d grain %lld: %d of %lld ranges ran after range %lld failed (none should start then)",
                      threads, (long long)j->grain, (int)j->ranges, (long long)ranges, (long long)first);
        ck_assert(!j->bad_worker && !j->overlap && !j->bad_range);
        free(j);
    }
}
END_TEST

/* No thread can be started, then only some: the caller does the rest, no error. */
START_TEST(test_thread_start_fails) {
    for (int mode = 0; mode < 2; mode++) {
        job *j = job_new(3000, 7, 4);
        atomic_store(&creates, 0);
        atomic_store(&fail_create, mode == 0);
        j->sleep_us = mode ? 0 : 1;
        quanta_status st = qn_par_for(j->n, j->grain, 4, fn, j);
        atomic_store(&fail_create, 0);
        ck_assert_msg(st == QUANTA_OK, "%s", quanta_last_error());
        ck_assert_int_ge(creates, 1);
        expect_all_once(j, mode == 0 ? "no thread started" : "threads started");
        free(j);
    }
}
END_TEST

START_TEST(test_load_threads_env) {
    setenv("QUANTA_LOAD_THREADS", "3", 1);
    ck_assert_int_eq(qn_par_load_threads(), 3);
    setenv("QUANTA_LOAD_THREADS", "256", 1);
    ck_assert_int_eq(qn_par_load_threads(), 256);
    static const char *bad[] = {"0", "-2", "257", "3x", "", "99999999999999999999"};
    unsetenv("QUANTA_LOAD_THREADS");
    const int dflt = qn_par_load_threads();
    ck_assert(dflt >= 1 && dflt <= 16);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        setenv("QUANTA_LOAD_THREADS", bad[i], 1);
        ck_assert_msg(qn_par_load_threads() == dflt, "QUANTA_LOAD_THREADS='%s': %d", bad[i], qn_par_load_threads());
    }
    unsetenv("QUANTA_LOAD_THREADS");
}
END_TEST

int main(void) {
    qt_seed();
    Suite *s = suite_create("model_par_for");
    TCase *tc = tcase_create("par_for");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_every_item_once);
    tcase_add_test(tc, test_error_lowest_and_skip);
    tcase_add_test(tc, test_thread_start_fails);
    tcase_add_test(tc, test_load_threads_env);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
