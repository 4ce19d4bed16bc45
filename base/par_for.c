/* par_for.c — see par_for.h. */
#include "par_for.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"

#define QN_PAR_MAX 256

typedef struct par_loop {
    int64_t n, grain;
    qn_par_fn fn;
    void *ctx;
    atomic_llong next;      /* first item of the next range to hand out */
    atomic_int workers;     /* worker indices handed out */
    atomic_int failed;      /* a range failed: hand out no more */
    pthread_mutex_t lock;   /* guards the error below */
    int64_t err_begin;
    quanta_status err;
    char msg[1024];
} par_loop;

static void *worker(void *arg) {
    par_loop *p = arg;
    int id = atomic_fetch_add(&p->workers, 1);
    for (;;) {
        /* Ranges go out in order, so when one fails every lower range has already gone out and
         * will still report its own failure: skipping the rest keeps the lowest failing begin.
         * next stays below n + threads * grain (no overflow: qn_par_for bounds both). */
        if (atomic_load_explicit(&p->failed, memory_order_relaxed)) break;
        int64_t b = (int64_t)atomic_fetch_add(&p->next, (long long)p->grain);
        if (b >= p->n) break;
        int64_t e = p->n - b <= p->grain ? p->n : b + p->grain;
        quanta_status st = p->fn(p->ctx, id, b, e);
        if (st == QUANTA_OK) continue;
        atomic_store_explicit(&p->failed, 1, memory_order_relaxed);
        /* the message lives in this thread's slot: copy it for the caller */
        pthread_mutex_lock(&p->lock);
        if (p->err == QUANTA_OK || b < p->err_begin) {
            p->err = st;
            p->err_begin = b;
            const char *m = quanta_last_error();
            strncpy(p->msg, m ? m : "", sizeof p->msg - 1);
            p->msg[sizeof p->msg - 1] = 0;
        }
        pthread_mutex_unlock(&p->lock);
    }
    return NULL;
}

static quanta_status run_in_order(int64_t n, int64_t grain, qn_par_fn fn, void *ctx) {
    for (int64_t b = 0, e; b < n; b = e) { /* b + grain only where it is <= n: no overflow */
        e = n - b <= grain ? n : b + grain;
        quanta_status st = fn(ctx, 0, b, e);
        if (st != QUANTA_OK) return st;
    }
    return QUANTA_OK;
}

quanta_status qn_par_for(int64_t n, int64_t grain, int threads, qn_par_fn fn, void *ctx) {
    if (n <= 0) return QUANTA_OK;
    if (grain < 1) grain = 1;
    const int64_t ranges = n / grain + (n % grain != 0); /* not (n + grain - 1) / grain: that overflows */
    if (threads > QN_PAR_MAX) threads = QN_PAR_MAX;
    if ((int64_t)threads > ranges) threads = (int)ranges;
    /* The workers' counter passes n by at most threads * grain: keep that below INT64_MAX. */
    if (threads <= 1 || grain > (INT64_MAX - n) / threads) return run_in_order(n, grain, fn, ctx);
    par_loop p;
    memset(&p, 0, sizeof p);
    p.n = n;
    p.grain = grain;
    p.fn = fn;
    p.ctx = ctx;
    atomic_init(&p.next, 0);
    atomic_init(&p.workers, 0);
    atomic_init(&p.failed, 0);
    if (pthread_mutex_init(&p.lock, NULL)) return run_in_order(n, grain, fn, ctx);
    pthread_t tid[QN_PAR_MAX];
    int started = 0;
    for (int i = 1; i < threads; i++) {
        if (pthread_create(&tid[started], NULL, worker, &p)) break;
        started++;
    }
    worker(&p);
    for (int i = 0; i < started; i++) pthread_join(tid[i], NULL);
    pthread_mutex_destroy(&p.lock);
    if (p.err != QUANTA_OK) return qn_error_set(p.err, "%s", p.msg);
    return QUANTA_OK;
}

int qn_par_load_threads(void) {
    const char *e = getenv("QUANTA_LOAD_THREADS");
    if (e && *e) {
        char *end;
        long v = strtol(e, &end, 10);
        if (*end == 0 && v >= 1 && v <= QN_PAR_MAX) return (int)v;
    }
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    if (c < 1) c = 1;
    return c > 16 ? 16 : (int)c;
}
