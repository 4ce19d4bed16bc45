/*
 * test_sched_order.c — the scheduler's keyed sort (server/sched_order.h), which replaced a qsort
 * whose comparison read file-level globals (the current time and the scheduler): every result
 * is checked against the order's definition (key[0], then key[1], then tie, each smaller first)
 * and against the records it was given (the same set, each once). Four threads sort at once, as
 * the schedulers of several servers in one process would; since the sort reads nothing but its
 * records, each thread's results are those of a sort run alone, whatever the interleaving (the
 * old globals could not promise that: a second scheduler's sort overwrote the first one's time and
 * scheduler mid-sort, which no test can make happen on demand).
 */
#include <pthread.h>
#include <stdlib.h>

#include "sched_order.h"
#include "test_util.h"

#define THREADS 4
#define ROUNDS 300
#define MAXN 257

typedef struct job {
    uint64_t salt;
    int bad;            /* results that broke the order or lost a record */
    char why[160];
} job;

static int rec_less_eq(const qs_order_rec *a, const qs_order_rec *b) {
    if (a->key[0] != b->key[0]) return a->key[0] < b->key[0];
    if (a->key[1] != b->key[1]) return a->key[1] < b->key[1];
    return a->tie <= b->tie;
}

static void *sort_rounds(void *arg) {
    job *j = arg;
    qt_rng r = qt_rng_make(j->salt);
    static _Thread_local qs_order_rec rec[MAXN];
    static _Thread_local int items[MAXN], seen[MAXN];
    for (int round = 0; round < ROUNDS && !j->bad; round++) {
        const size_t n = (size_t)(qt_next(&r) % MAXN);
        /* few distinct keys (many ties on key[0] and key[1]), unique ties as the scheduler's are */
        for (size_t i = 0; i < n; i++) {
            items[i] = (int)i;
            seen[i] = 0;
            rec[i] = (qs_order_rec){{(int64_t)(qt_next(&r) % 3), (int64_t)(qt_next(&r) % 5) - 2},
                                    qt_next(&r) % 1000 * MAXN + i, &items[i]};
        }
        qs_order_sort(rec, n);
        for (size_t i = 0; i < n && !j->bad; i++) {
            const int it = *(const int *)rec[i].item;
            if (rec[i].tie % MAXN != (uint64_t)it || seen[it]++)
                j->bad = snprintf(j->why, sizeof j->why, "round %d: record %zu lost or repeated", round, i) > 0;
            else if (i > 0 && !rec_less_eq(&rec[i - 1], &rec[i]))
                j->bad = snprintf(j->why, sizeof j->why, "round %d: records %zu and %zu out of order", round, i - 1,
                                  i) > 0;
        }
    }
    return NULL;
}

START_TEST(test_concurrent_sorts_stay_ordered) {
    pthread_t th[THREADS];
    job jobs[THREADS];
    for (int t = 0; t < THREADS; t++) {
        jobs[t] = (job){.salt = 101 + (uint64_t)t};
        ck_assert_int_eq(pthread_create(&th[t], NULL, sort_rounds, &jobs[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) ck_assert_int_eq(pthread_join(th[t], NULL), 0);
    for (int t = 0; t < THREADS; t++) ck_assert_msg(!jobs[t].bad, "thread %d: %s", t, jobs[t].why);
}
END_TEST

/* The keys in the order the scheduler gives them: key[0] before key[1] before tie, whatever
 * their sizes (a tie never outweighs a key, a key[1] never outweighs a key[0]). */
START_TEST(test_key_precedence) {
    int it[4] = {0, 1, 2, 3};
    qs_order_rec rec[4] = {{{1, -5}, 0, &it[0]}, {{0, 9}, 7, &it[1]}, {{0, 9}, 3, &it[2]}, {{0, -1}, 99, &it[3]}};
    qs_order_sort(rec, 4);
    const int want[4] = {3, 2, 1, 0};
    for (int i = 0; i < 4; i++) ck_assert_int_eq(*(int *)rec[i].item, want[i]);
    qs_order_sort(rec, 0); /* nothing to sort: nothing read */
    qs_order_sort(NULL, 0);
}
END_TEST

int main(void) {
    Suite *s = suite_create("sched_order");
    TCase *tc = tcase_create("sched_order");
    tcase_add_test(tc, test_concurrent_sorts_stay_ordered);
    tcase_add_test(tc, test_key_precedence);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
