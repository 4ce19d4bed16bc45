/*
 * comm_local.c — communicators for ranks that are threads of one process.
 *
 * An all-reduce is two barriers: every rank publishes its buffer, waits for the others, sums
 * ALL ranks' buffers in rank order in double into private scratch (each rank does the same
 * arithmetic, so every rank gets the same bits, whatever the thread timing), waits until all
 * have read, then overwrites its own buffer. The next call's first barrier keeps a rank from
 * publishing a new buffer while another still reads the old ones. Redundant work per rank is
 * the price of determinism without a leader; activations are small.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "comm.h"

#define QN_COMM_MAX_WORLD 256

typedef struct local_group {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int world;
    int refs;               /* rank handles not yet destroyed */
    int arrived;
    unsigned long phase;    /* barrier generation */
    int aborted;            /* a rank gave up (quanta_comm_abort): nobody waits any more */
    float **data;           /* per rank, published for the current call */
    size_t *count;
} local_group;

typedef struct local_rank {
    local_group *g;
    double *acc;
    size_t acc_cap;
} local_rank;

/* 0 once every rank arrived; -1 when the group is (or becomes) aborted. */
static int barrier(local_group *g) {
    pthread_mutex_lock(&g->mu);
    unsigned long phase = g->phase;
    if (g->aborted) {
        pthread_mutex_unlock(&g->mu);
        return -1;
    }
    if (++g->arrived == g->world) {
        g->arrived = 0;
        g->phase++;
        pthread_cond_broadcast(&g->cv);
    } else {
        while (g->phase == phase && !g->aborted) pthread_cond_wait(&g->cv, &g->mu);
    }
    int ok = g->phase != phase; /* released by the last arrival, not by an abort */
    pthread_mutex_unlock(&g->mu);
    return ok ? 0 : -1;
}

static quanta_status aborted_error(void) {
    return qn_error_set(QUANTA_ERR_STATE, "all_reduce (local): another rank of the group failed (the group is aborted)");
}

static void local_abort(quanta_comm *c) {
    local_group *g = ((local_rank *)c->impl)->g;
    pthread_mutex_lock(&g->mu);
    g->aborted = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static quanta_status local_all_reduce(quanta_comm *c, float *data, size_t count) {
    local_rank *lr = c->impl;
    local_group *g = lr->g;
    if (g->world == 1) return count && !data ? qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "all_reduce (local): no data") : QUANTA_OK;
    /* Scratch is grown before the first barrier; a rank that cannot get it still meets the
     * others and publishes SIZE_MAX, so every rank fails this call alike instead of hanging. */
    size_t need = count ? count : 1;
    int oom = count && !data; /* the caller had no memory for its data: fail with the others */
    if (!oom && need > lr->acc_cap) {
        double *a = need <= SIZE_MAX / sizeof *a ? realloc(lr->acc, need * sizeof *a) : NULL;
        if (a) {
            lr->acc = a;
            lr->acc_cap = need;
        } else {
            oom = 1;
        }
    }
    g->data[c->rank] = data;
    g->count[c->rank] = oom ? SIZE_MAX : count;
    if (barrier(g)) return aborted_error();
    /* Every rank checks the same published values, so all fail together or none does. */
    for (int r = 0; r < g->world; r++)
        if (g->count[r] != g->count[0]) {
            size_t a = g->count[r], b = g->count[0];
            if (barrier(g)) return aborted_error();
            if (a == SIZE_MAX || b == SIZE_MAX)
                return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "all_reduce (local): a rank ran out of host memory");
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                                "all_reduce (local): rank %d sums %zu values but rank 0 sums %zu (ranks must run the "
                                "same graphs)", r, a, b);
        }
    if (g->count[0] == SIZE_MAX) {
        if (barrier(g)) return aborted_error();
        return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "all_reduce (local): a rank ran out of host memory");
    }
    for (size_t i = 0; i < count; i++) lr->acc[i] = 0.0;
    for (int r = 0; r < g->world; r++) {
        const float *src = g->data[r];
        for (size_t i = 0; i < count; i++) lr->acc[i] += (double)src[i];
    }
    if (barrier(g)) return aborted_error();
    for (size_t i = 0; i < count; i++) data[i] = (float)lr->acc[i];
    return QUANTA_OK;
}

static void local_destroy(quanta_comm *c) {
    local_rank *lr = c->impl;
    local_group *g = lr->g;
    pthread_mutex_lock(&g->mu);
    int last = --g->refs == 0;
    pthread_mutex_unlock(&g->mu);
    if (last) {
        pthread_mutex_destroy(&g->mu);
        pthread_cond_destroy(&g->cv);
        free(g->data);
        free(g->count);
        free(g);
    }
    free(lr->acc);
    free(lr);
    free(c);
}

static const qn_comm_ops local_ops = {"local", local_all_reduce, NULL, local_abort, local_destroy};

quanta_status quanta_comm_create_local(int world, quanta_comm **comms) {
    if (!comms) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_comm_create_local: comms is NULL");
    if (world < 1 || world > QN_COMM_MAX_WORLD)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_comm_create_local: world %d outside 1..%d", world,
                            QN_COMM_MAX_WORLD);
    for (int r = 0; r < world; r++) comms[r] = NULL;
    local_group *g = calloc(1, sizeof *g);
    if (!g) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_comm_create_local: out of host memory");
    g->world = world;
    g->data = calloc((size_t)world, sizeof *g->data);
    g->count = calloc((size_t)world, sizeof *g->count);
    int mu = 0, cv = 0;
    if (g->data && g->count) mu = pthread_mutex_init(&g->mu, NULL) == 0;
    if (mu) cv = pthread_cond_init(&g->cv, NULL) == 0;
    if (!cv) {
        if (mu) pthread_mutex_destroy(&g->mu);
        free(g->data);
        free(g->count);
        free(g);
        return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_comm_create_local: out of host memory");
    }
    for (int r = 0; r < world; r++) {
        quanta_comm *c = calloc(1, sizeof *c);
        local_rank *lr = c ? calloc(1, sizeof *lr) : NULL;
        if (!lr) {
            free(c);
            for (int i = 0; i < r; i++) quanta_comm_destroy(comms[i]);
            if (r == 0) { /* no rank holds the group yet */
                pthread_mutex_destroy(&g->mu);
                pthread_cond_destroy(&g->cv);
                free(g->data);
                free(g->count);
                free(g);
            }
            for (int i = 0; i < world; i++) comms[i] = NULL;
            return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_comm_create_local: out of host memory");
        }
        lr->g = g;
        g->refs++;
        c->ops = &local_ops;
        c->rank = r;
        c->world = world;
        c->impl = lr;
        comms[r] = c;
    }
    return QUANTA_OK;
}

void quanta_comm_abort(quanta_comm *comm) {
    if (comm && comm->ops && comm->ops->abort) comm->ops->abort(comm);
}

void quanta_comm_destroy(quanta_comm *comm) {
    if (comm && comm->ops && comm->ops->destroy) comm->ops->destroy(comm);
}

quanta_status quanta_comm_rank(const quanta_comm *comm, int *rank, int *world) {
    if (!comm) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_comm_rank: comm is NULL");
    if (rank) *rank = comm->rank;
    if (world) *world = comm->world;
    return QUANTA_OK;
}
