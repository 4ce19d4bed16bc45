/*
 * tp_threads.c — tensor-parallel ranks as threads of one process, behind one quanta_model.
 *
 * Rank 0 is the caller's thread; ranks 1..world-1 are threads started at load, each with its
 * own backend handle and model shard, linked by local communicators. Rank 0 drives them with
 * one command slot: it posts a command (seq + 1) and does not post the next one before every
 * follower has finished the current one (pending == 0). A follower takes each seq exactly once,
 * so no command can be overwritten before a follower has seen it (the hang of issue #10: rank 0
 * posted "create context" and then "eval" before the follower woke, the follower saw only the
 * eval, failed without a context, and left rank 0 in an all-reduce). A follower whose command
 * fails aborts the communicator group, so a rank inside an all-reduce returns instead of
 * waiting; its message comes back to rank 0's caller with its rank.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "tp_threads.h"

enum { CMD_NONE, CMD_CTX_CREATE, CMD_CTX_RESET, CMD_CTX_DESTROY, CMD_EVAL, CMD_EVAL_BATCH, CMD_QUIT };

typedef struct fctx {
    uint64_t id;
    quanta_model_context *ctx;
} fctx;

typedef struct follower {
    struct qn_tp_threads *g;
    int rank;
    pthread_t th;
    quanta_status st;   /* the last command's result, read by rank 0 once pending is 0 */
    char err[512];
    fctx *ctxs;         /* this rank's mirrors of rank 0's contexts */
    size_t n_ctx, cap_ctx;
    unsigned rng;
} follower;

struct qn_tp_threads {
    pthread_mutex_t mu;
    pthread_cond_t posted, finished;
    int world;
    quanta_comm **comms;
    follower *f;            /* [world], [0] unused */
    int started;            /* follower threads running */
    char *path, *backend;
    quanta_model_params params;
    /* the command slot (valid while pending > 0) */
    unsigned long seq;
    int cmd;
    uint64_t id;
    int32_t n_ctx;
    const int32_t *tokens;
    const uint64_t *ids;
    size_t n;
    int pending;            /* followers that have not finished the posted command */
};

static unsigned test_jitter_us;
static int test_fail_rank, test_fail_at;

void qn_tp_threads_test_hooks(unsigned jitter_us, int fail_rank, int fail_at) {
    test_jitter_us = jitter_us;
    test_fail_rank = fail_rank;
    test_fail_at = fail_at;
}

static void jitter(follower *f) {
    if (!test_jitter_us) return;
    f->rng = f->rng * 1103515245u + 12345u;
    long us = (long)((f->rng >> 8) % (test_jitter_us + 1));
    struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
    nanosleep(&ts, NULL);
}

static quanta_model_context *find_ctx(follower *f, uint64_t id, size_t *at) {
    for (size_t i = 0; i < f->n_ctx; i++)
        if (f->ctxs[i].id == id) {
            if (at) *at = i;
            return f->ctxs[i].ctx;
        }
    return NULL;
}

/* Runs one command on follower f's model m (the command fields were copied under the lock). */
static quanta_status run_command(follower *f, quanta_model *m, int cmd, uint64_t id, int32_t n_ctx, const int32_t *tokens,
                                 const uint64_t *ids, size_t n) {
    size_t at = 0;
    quanta_model_context *c = find_ctx(f, id, &at);
    switch (cmd) {
    case CMD_CTX_CREATE: {
        if (f->n_ctx == f->cap_ctx) {
            size_t cap = f->cap_ctx ? 2 * f->cap_ctx : 4;
            fctx *t = realloc(f->ctxs, cap * sizeof *t);
            if (!t) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "no memory for a context");
            f->ctxs = t;
            f->cap_ctx = cap;
        }
        quanta_status st = quanta_model_context_create(m, n_ctx, &c);
        if (!st) f->ctxs[f->n_ctx++] = (fctx){ id, c };
        return st;
    }
    case CMD_CTX_RESET:
        quanta_model_context_reset(c);
        return QUANTA_OK;
    case CMD_CTX_DESTROY:
        if (c) {
            quanta_model_context_destroy(c);
            f->ctxs[at] = f->ctxs[--f->n_ctx];
        }
        return QUANTA_OK;
    case CMD_EVAL:
        if (!c) return qn_error_set(QUANTA_ERR_STATE, "context %llu is not mirrored on this rank", (unsigned long long)id);
        return quanta_model_eval(c, tokens, n, NULL, 0);
    case CMD_EVAL_BATCH: {
        quanta_model_context **cs = malloc(n * sizeof *cs);
        if (!cs) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "no memory for a batch");
        quanta_status st = QUANTA_OK;
        for (size_t i = 0; i < n && !st; i++)
            if (!(cs[i] = find_ctx(f, ids[i], NULL)))
                st = qn_error_set(QUANTA_ERR_STATE, "context %llu is not mirrored on this rank", (unsigned long long)ids[i]);
        if (!st) st = quanta_model_eval_batch(cs, tokens, n, NULL, 0);
        free(cs);
        return st;
    }
    }
    return QUANTA_OK;
}

/* Marks f's part of the current command (or the load) done. */
static void finish(follower *f, quanta_status st) {
    struct qn_tp_threads *g = f->g;
    pthread_mutex_lock(&g->mu);
    f->st = st;
    if (st) snprintf(f->err, sizeof f->err, "%s", quanta_last_error());
    if (--g->pending == 0) pthread_cond_broadcast(&g->finished);
    pthread_mutex_unlock(&g->mu);
}

static void *follower_main(void *arg) {
    follower *f = arg;
    struct qn_tp_threads *g = f->g;
    quanta_comm *comm = g->comms[f->rank];
    quanta_backend *be = NULL;
    quanta_model *m = NULL;
    int n_cmd = 1;
    jitter(f);
    quanta_status st = quanta_backend_open(g->backend, &be);
    if (!st) st = quanta_model_load_tp(g->path, be, &g->params, comm, &m);
    if (!st && f->rank == test_fail_rank && n_cmd == test_fail_at)
        st = qn_error_set(QUANTA_ERR_BACKEND, "injected failure (test hook) of command %d", n_cmd);
    finish(f, st);
    unsigned long seen = 0; /* rank 0 posts seq 1 first, and only after every load finished */
    for (;;) {
        pthread_mutex_lock(&g->mu);
        while (g->seq == seen) pthread_cond_wait(&g->posted, &g->mu);
        seen = g->seq;
        int cmd = g->cmd;
        uint64_t id = g->id;
        int32_t n_ctx = g->n_ctx;
        const int32_t *tokens = g->tokens;
        const uint64_t *ids = g->ids;
        size_t n = g->n;
        pthread_mutex_unlock(&g->mu);
        if (cmd == CMD_QUIT) break;
        n_cmd++;
        jitter(f);
        /* The posted tokens stay valid: rank 0 waits for every follower before it returns. */
        if (!m) st = qn_error_set(QUANTA_ERR_STATE, "this rank has no model (its load failed)");
        else if (f->rank == test_fail_rank && n_cmd == test_fail_at)
            st = qn_error_set(QUANTA_ERR_BACKEND, "injected failure (test hook) of command %d", n_cmd);
        else st = run_command(f, m, cmd, id, n_ctx, tokens, ids, n);
        /* A failing rank always aborts the group: the others may be inside an all-reduce. */
        if (st && (cmd == CMD_EVAL || cmd == CMD_EVAL_BATCH)) quanta_comm_abort(comm);
        finish(f, st);
    }
    for (size_t i = 0; i < f->n_ctx; i++) quanta_model_context_destroy(f->ctxs[i].ctx);
    free(f->ctxs);
    quanta_model_destroy(m);
    quanta_backend_close(be);
    quanta_comm_destroy(comm);
    return NULL;
}

/* Posts a command to every follower (the previous one is finished: pending is 0). */
static void post(struct qn_tp_threads *g, int cmd, uint64_t id, int32_t n_ctx, const int32_t *tokens, const uint64_t *ids,
                 size_t n) {
    pthread_mutex_lock(&g->mu);
    g->cmd = cmd;
    g->id = id;
    g->n_ctx = n_ctx;
    g->tokens = tokens;
    g->ids = ids;
    g->n = n;
    g->pending = g->started;
    g->seq++;
    pthread_cond_broadcast(&g->posted);
    pthread_mutex_unlock(&g->mu);
}

/* Waits until every follower has finished; the first failing rank's status (its message set
 * as the error), or QUANTA_OK. prefer_own: rank 0's own failure, kept unless it is only the
 * echo of a follower's abort (QUANTA_ERR_STATE). */
static quanta_status wait_all(struct qn_tp_threads *g, quanta_status own) {
    pthread_mutex_lock(&g->mu);
    while (g->pending) pthread_cond_wait(&g->finished, &g->mu);
    int bad = 0;
    for (int r = 1; r <= g->started && !bad; r++)
        if (g->f[r].st && (own == QUANTA_OK || (own == QUANTA_ERR_STATE && g->f[r].st != QUANTA_ERR_STATE))) bad = r;
    quanta_status st = own;
    if (bad) st = qn_error_set(g->f[bad].st, "tensor-parallel rank %d: %s", bad, g->f[bad].err);
    for (int r = 1; r <= g->started; r++) g->f[r].st = QUANTA_OK;
    pthread_mutex_unlock(&g->mu);
    return st;
}

/* Tells the followers to quit, joins them and frees the group (rank 0's comm last). */
static void shut_down(struct qn_tp_threads *g) {
    if (g->started) {
        pthread_mutex_lock(&g->mu);
        while (g->pending) pthread_cond_wait(&g->finished, &g->mu);
        pthread_mutex_unlock(&g->mu);
        post(g, CMD_QUIT, 0, 0, NULL, NULL, 0);
        for (int r = 1; r <= g->started; r++) pthread_join(g->f[r].th, NULL);
    }
    /* Followers destroy their own communicators; the ones of ranks never started go here. */
    for (int r = g->started + 1; g->comms && r < g->world; r++) quanta_comm_destroy(g->comms[r]);
    if (g->comms) quanta_comm_destroy(g->comms[0]);
    pthread_cond_destroy(&g->posted);
    pthread_cond_destroy(&g->finished);
    pthread_mutex_destroy(&g->mu);
    free(g->comms);
    free(g->f);
    free(g->path);
    free(g->backend);
    free(g);
}

quanta_status quanta_model_load_tp_threads(const char *path, quanta_backend *backend, const char *follower_backend,
                                           const quanta_model_params *params, int32_t world, quanta_model **out) {
    if (!out) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_load_tp_threads: out is NULL");
    *out = NULL;
    if (!path || !backend)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_load_tp_threads: path or backend is NULL");
    if (world < 1 || world > 256)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_load_tp_threads: world %d outside 1..256", world);
    if (world == 1) return quanta_model_load(path, backend, params, out);
    quanta_device_info dev;
    quanta_status st = QUANTA_OK;
    if (!follower_backend) {
        if ((st = quanta_backend_device(backend, &dev))) return st;
        follower_backend = dev.backend;
    }
    struct qn_tp_threads *g = calloc(1, sizeof *g);
    if (!g) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_model_load_tp_threads: no memory");
    if (pthread_mutex_init(&g->mu, NULL)) {
        free(g);
        return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_model_load_tp_threads: no mutex");
    }
    pthread_cond_init(&g->posted, NULL);
    pthread_cond_init(&g->finished, NULL);
    g->world = world;
    g->comms = calloc((size_t)world, sizeof *g->comms);
    g->f = calloc((size_t)world, sizeof *g->f);
    g->path = strdup(path);
    g->backend = strdup(follower_backend);
    if (params) g->params = *params;
    else quanta_model_default_params(&g->params);
    if (!g->comms || !g->f || !g->path || !g->backend) {
        st = qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_model_load_tp_threads: no memory");
    } else if ((st = quanta_comm_create_local(world, g->comms))) {
        free(g->comms);
        g->comms = NULL;
    }
    /* Every follower loads its shard while this thread loads rank 0's. */
    g->pending = 0;
    for (int r = 1; r < world && !st; r++) {
        g->f[r] = (follower){ .g = g, .rank = r, .rng = 2654435761u * (unsigned)r ^ (unsigned)time(NULL) };
        pthread_mutex_lock(&g->mu);
        g->pending++;
        pthread_mutex_unlock(&g->mu);
        if (pthread_create(&g->f[r].th, NULL, follower_main, &g->f[r])) {
            pthread_mutex_lock(&g->mu);
            g->pending--;
            pthread_mutex_unlock(&g->mu);
            st = qn_error_set(QUANTA_ERR_BACKEND, "quanta_model_load_tp_threads: cannot start rank %d's thread", r);
            break;
        }
        g->started = r;
    }
    quanta_model *m = NULL;
    if (!st) st = quanta_model_load_tp(path, backend, params, g->comms[0], &m);
    if (g->started) st = wait_all(g, st);
    if (st) {
        quanta_model_destroy(m);
        shut_down(g);
        return st;
    }
    m->threads = g;
    *out = m;
    return QUANTA_OK;
}

void qn_tp_threads_stop(quanta_model *m) {
    if (!m || !m->threads) return;
    shut_down(m->threads);
    m->threads = NULL;
}

quanta_status qn_tp_threads_ctx_create(quanta_model_context *c) {
    struct qn_tp_threads *g = c->model->threads;
    post(g, CMD_CTX_CREATE, c->id, c->n_ctx, NULL, NULL, 0);
    quanta_status st = wait_all(g, QUANTA_OK);
    if (st) { /* the ranks that made it drop theirs again */
        char msg[768];
        snprintf(msg, sizeof msg, "%s", quanta_last_error());
        post(g, CMD_CTX_DESTROY, c->id, 0, NULL, NULL, 0);
        wait_all(g, QUANTA_OK);
        st = qn_error_set(st, "quanta_model_context_create: %s", msg);
    }
    return st;
}

void qn_tp_threads_ctx_reset(quanta_model_context *c) {
    post(c->model->threads, CMD_CTX_RESET, c->id, 0, NULL, NULL, 0);
    wait_all(c->model->threads, QUANTA_OK);
}

void qn_tp_threads_ctx_destroy(quanta_model_context *c) {
    post(c->model->threads, CMD_CTX_DESTROY, c->id, 0, NULL, NULL, 0);
    wait_all(c->model->threads, QUANTA_OK);
}

quanta_status qn_tp_threads_eval(quanta_model_context *c, const int32_t *tokens, size_t n, float *logits,
                                 size_t logits_count) {
    /* Bad arguments fail here, before any rank starts, and leave the group usable. */
    quanta_status st = qn_model_eval_check(c, tokens, n, logits, logits_count);
    if (st) return st;
    struct qn_tp_threads *g = c->model->threads;
    post(g, CMD_EVAL, c->id, 0, tokens, NULL, n);
    st = qn_model_eval_rank(c, tokens, n, logits, logits_count);
    st = wait_all(g, st);
    if (st) quanta_comm_abort(g->comms[0]);
    return st;
}

quanta_status qn_tp_threads_eval_batch(quanta_model_context *const *ctxs, const int32_t *tokens, size_t n, float *logits,
                                       size_t logits_count) {
    quanta_status st = qn_model_eval_batch_check(ctxs, tokens, n, logits, logits_count);
    if (st) return st;
    struct qn_tp_threads *g = ctxs[0]->model->threads;
    uint64_t *ids = malloc(n * sizeof *ids);
    if (!ids) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_model_eval_batch: no memory");
    for (size_t i = 0; i < n; i++) ids[i] = ctxs[i]->id;
    post(g, CMD_EVAL_BATCH, 0, 0, tokens, ids, n);
    st = qn_model_eval_batch_rank(ctxs, tokens, n, logits, logits_count);
    st = wait_all(g, st);
    free(ids);
    if (st) quanta_comm_abort(g->comms[0]);
    return st;
}
