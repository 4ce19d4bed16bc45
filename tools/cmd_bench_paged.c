/*
 * cmd_bench_paged.c — `quanta bench paged`: what one step of `quanta serve` costs without HTTP or
 * scheduling, so its parts can be measured apart: n sequences in one paged KV pool, each with a
 * prompt prefilled in pieces, then decode steps of all n at once, timed two ways:
 *
 *   - logits: quanta_model_eval_paged copies n * n_vocab logits back and the host picks each
 *     row's argmax (what the server did for every decode step before serve6);
 *   - greedy: quanta_model_eval_paged_greedy, the argmax on the device, n tokens back;
 *
 * and the prefill pieces (-p tokens in pieces of 64, the server's) per piece. Per n: median
 * milliseconds per decode step of each kind, tokens/s at that batch, and ms per prefill piece.
 *
 *   quanta bench paged [-m FILE] [--backend B] [--quant Q] [-n 1,16,64] [-p 128] [-s 16]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_opts.h"
#include "commands.h"
#include "default_model.h"
#include "quanta.h"

#define BS 16    /* positions per block, as quanta serve */
#define PIECE 64 /* prefill piece, as quanta serve's --prefill-chunk default */
#define MAX_NS 8 /* batch sizes in -n */

static void usage(FILE *f) {
    fprintf(f,
            "usage: quanta bench paged [-m FILE] [--backend B] [--quant Q] [-n 1,16,64] [-p 128] [-s 16]\n\n"
            "Times the paged steps quanta serve runs: n sequences prefilled with -p tokens (pieces of 64),\n"
            "then -s decode steps of all n, reading back the logits (host argmax) or the device's argmax.\n\n"
            "  -m FILE          GGUF model (default: $QUANTA_MODEL, else the default model)\n"
            "  --backend B      ref, opencl, cuda or best (default)\n"
            "  --quant Q        weights at load: auto (default), keep, q8, ...\n"
            "  -n LIST          batch sizes, comma separated (default 1,16,64; at most 8, each <= 256)\n"
            "  -p N             prompt tokens per sequence (default 128)\n"
            "  -s N             timed decode steps of each kind per batch size (default 16)\n");
}

static int fail(const char *what) { return qn_fail("bench paged", "%s: %s", what, quanta_last_error()); }

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return 1e3 * (double)t.tv_sec + 1e-6 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static int32_t host_argmax(const float *v, int32_t n) {
    int32_t b = 0;
    for (int32_t i = 1; i < n; i++)
        if (v[i] > v[b]) b = i;
    return b;
}

typedef struct own_opts {
    int ns[MAX_NS], n_ns, prompt, steps;
} own_opts;

static int parse_list(const char *cmd, const char *arg, own_opts *o) {
    char buf[128];
    snprintf(buf, sizeof buf, "%s", arg);
    o->n_ns = 0;
    for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
        if (o->n_ns == MAX_NS) {
            qn_fail(cmd, "-n: at most %d batch sizes", MAX_NS);
            return QN_EXIT_USAGE;
        }
        if (qn_arg_int(cmd, "-n", t, 1, 256, &o->ns[o->n_ns])) return QN_EXIT_USAGE;
        o->n_ns++;
    }
    if (o->n_ns) return QN_EXIT_OK;
    qn_fail(cmd, "-n: no batch size");
    return QN_EXIT_USAGE;
}

static int own_opt(void *ctx, const char *cmd, int c, const char *arg) {
    own_opts *o = ctx;
    switch (c) {
    case 'n': return parse_list(cmd, arg, o);
    case 'p': return qn_arg_int(cmd, "-p", arg, 1, 4096, &o->prompt);
    case 's': return qn_arg_int(cmd, "-s", arg, 1, 10000, &o->steps);
    default: return QN_EXIT_USAGE;
    }
}

/* One batch size: n sequences (sequence s in blocks s * MB ..), prefill, then the timed steps. */
static int run_batch(quanta_model *m, int32_t V, int n, int prompt, int steps, uint64_t *rng) {
    const int32_t MB = (prompt + 2 * steps + 1 + BS - 1) / BS + 1;
    quanta_kv_pool *pool = NULL;
    int rc = 1;
    int32_t *tables = malloc((size_t)n * (size_t)MB * sizeof *tables), *tok = malloc((size_t)n * sizeof *tok);
    int32_t *pos = malloc((size_t)n * sizeof *pos), *greedy = malloc((size_t)n * sizeof *greedy);
    int32_t *ptok = malloc(PIECE * sizeof *ptok);
    float *lg = malloc((size_t)n * (size_t)V * sizeof *lg);
    double *t_log = malloc((size_t)steps * sizeof *t_log), *t_dev = malloc((size_t)steps * sizeof *t_dev);
    double *t_pre = malloc((size_t)(n * ((prompt + PIECE - 1) / PIECE)) * sizeof *t_pre);
    int n_pre = 0;
    if (!tables || !tok || !pos || !greedy || !ptok || !lg || !t_log || !t_dev || !t_pre) {
        rc = qn_fail("bench paged", "out of host memory");
        goto done;
    }
    for (int i = 0; i < n * MB; i++) tables[i] = i;
    if (quanta_kv_pool_create(m, QUANTA_F32, n * MB, 0, BS, MB, &pool)) {
        rc = fail("creating the pool");
        goto done;
    }
    for (int s = 0; s < n; s++) /* the prompts, in the server's pieces */
        for (int32_t at = 0; at < prompt; at += PIECE) {
            const int32_t T = prompt - at < PIECE ? prompt - at : PIECE;
            for (int32_t j = 0; j < T; j++) { /* random tokens (an LCG: only their spread matters) */
                *rng = *rng * 6364136223846793005ull + 1442695040888963407ull;
                ptok[j] = (int32_t)((*rng >> 33) % (uint64_t)V);
            }
            const double t0 = now_ms();
            if (quanta_model_eval_paged(pool, 1, T, ptok, &at, tables + (size_t)s * MB, NULL,
                                        at + T == prompt ? lg : NULL, at + T == prompt ? (size_t)V : 0)) {
                rc = fail("prefill");
                goto done;
            }
            t_pre[n_pre++] = now_ms() - t0;
            if (at + T == prompt) tok[s] = host_argmax(lg, V), pos[s] = prompt;
        }
    /* one untimed step of each kind first (plans, recordings), then alternate the kinds */
    for (int k = -1; k < steps; k++)
        for (int kind = 0; kind < 2; kind++) {
            const double t0 = now_ms();
            quanta_status st =
                kind ? quanta_model_eval_paged_greedy(pool, n, 1, tok, pos, tables, NULL, greedy)
                     : quanta_model_eval_paged(pool, n, 1, tok, pos, tables, NULL, lg, (size_t)n * (size_t)V);
            if (!st && !kind)
                for (int s = 0; s < n; s++) greedy[s] = host_argmax(lg + (size_t)s * V, V);
            const double ms = now_ms() - t0;
            if (st) {
                rc = fail("decode");
                goto done;
            }
            if (k >= 0) (kind ? t_dev : t_log)[k] = ms;
            for (int s = 0; s < n; s++) tok[s] = greedy[s], pos[s]++;
        }
    const double ml = median(t_log, steps), md = median(t_dev, steps), mp = median(t_pre, n_pre);
    printf("| %3d | %9.2f | %9.1f | %9.2f | %9.1f | %5.2f | %9.2f (%d) |\n", n, ml, 1e3 * n / ml, md, 1e3 * n / md,
           ml / md, mp, n_pre);
    rc = 0;
done:
    quanta_kv_pool_destroy(pool);
    free(tables), free(tok), free(pos), free(greedy), free(ptok), free(lg), free(t_log), free(t_dev), free(t_pre);
    return rc;
}

int qn_cmd_bench_paged(int argc, char **argv) {
    own_opts oo = {{1, 16, 64}, 3, 128, 16};
    qn_bench_opts bo;
    int prc = qn_bench_opts_parse(&bo, "bench paged", argc, argv, "n:p:s:", NULL, own_opt, &oo, usage);
    if (prc) return prc < 0 ? QN_EXIT_OK : prc;
    const char *path = bo.path;
    char *def = path ? NULL : qn_default_model_path();
    if (!path && !def) return qn_fail(bo.cmd, "no -m FILE and no default model found");
    if (!path) path = def;
    quanta_model_params mp;
    quanta_model_default_params(&mp);
    qn_bench_model bm = {0};
    int rc = qn_bench_load(&bo, path, &mp, &bm);
    if (!rc) {
        printf("quanta bench paged: %s (%s weights) on %s (%s); prompts of %d tokens, %d steps per kind\n\n",
               bm.info.name, quanta_dtype_name(bm.info.weight_dtype), bm.dev.backend, bm.dev.name, oo.prompt,
               oo.steps);
        printf("| n | logits ms/step | tok/s | greedy ms/step | tok/s | logits/greedy | prefill ms/piece (pieces) |\n");
        printf("|---|---|---|---|---|---|---|\n");
        uint64_t rng = 0x5eed;
        for (int i = 0; i < oo.n_ns && !rc; i++) rc = run_batch(bm.model, bm.info.n_vocab, oo.ns[i], oo.prompt, oo.steps, &rng);
    }
    qn_bench_unload(&bm);
    free(def);
    return rc;
}
