/* sched_order.c — the scheduler's sort of records that carry their keys (sched_order.h). */
#include "sched_order.h"

#include <stdlib.h>

static int rec_cmp(const void *pa, const void *pb) {
    const qs_order_rec *a = pa, *b = pb;
    for (int i = 0; i < 2; i++)
        if (a->key[i] != b->key[i]) return a->key[i] < b->key[i] ? -1 : 1;
    return a->tie < b->tie ? -1 : a->tie > b->tie;
}

void qs_order_sort(qs_order_rec *rec, size_t n) {
    if (n > 1) qsort(rec, n, sizeof *rec, rec_cmp);
}
