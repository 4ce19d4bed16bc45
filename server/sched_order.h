/*
 * sched_order.h — the scheduler's orderings (admission, prefill budget) as a sort of records
 * that carry their own keys: each record's keys are computed once, before the sort, so the
 * comparison reads nothing but the two records (qsort has no context argument; keys computed
 * inside the comparison would need file-level state shared by every scheduler). Reentrant:
 * any number of schedulers, on any threads, sort at once.
 */
#ifndef QUANTA_SERVER_SCHED_ORDER_H
#define QUANTA_SERVER_SCHED_ORDER_H

#include <stddef.h>
#include <stdint.h>

typedef struct qs_order_rec {
    int64_t key[2];  /* compared first key[0], then key[1], smaller first */
    uint64_t tie;    /* then this, smaller first: unique per record (submission or admission order) */
    void *item;      /* what the record orders (a qs_req) */
} qs_order_rec;

/* Sorts rec[0, n) by (key[0], key[1], tie). */
void qs_order_sort(qs_order_rec *rec, size_t n);

#endif
