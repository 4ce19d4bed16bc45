/*
 * cmd_bench_paged.c — `quanta bench paged`: what one step of `quanta serve` costs without HTTP or
 * scheduling, so its parts can be measured apart: n sequences in one paged KV pool, each with a
 * prompt prefilled in pieces, then decode steps of all n at once, timed two ways:
 *
 *   - logits: quanta_model_eval_paged copies n * n_vocab logits back and the host picks each
 *     row's argmax (what the server did for every decode step before serve6);
 *   - greedy: quanta_model_eval_paged_greedy, the argmax on the device, n tokens back;
 *
 * and the prefill pieces (-p tokens in pieces of 64, the server's), four sequences' pieces per step
 * (quanta_model_eval_paged_pieces, as the server's default budget gives them). Per n: median
 * milliseconds per decode step of each kind, tokens/s at that batch, and ms per prefill piece.
 * With -x K, also the server's mixed step: the n decode rows and K prompt pieces of 64 tokens in
 * one device step (quanta_model_eval_paged_pieces with pieces of one token) against a greedy decode
 * step and a pieces step apart, alternated; and how many decode rows chose the same token both ways
 * (equal where the backend's kernels do not depend on the row count; elsewhere near ties may part).
 *
 *   quanta bench paged [-m FILE] [--backend B] [--quant Q] [-n 1,16,64] [-p 128] [-s 16] [-x K]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "bench_opts.h"
#include "commands.h"
#include "default_model.h"
#include "quanta.h"

#define BS 16    /* positions per block, as quanta serve */
#define PIECE 64 /* prefill piece, as quanta serve's --prefill-chunk default */
#define MAX_NS 8 /* batch sizes in -n */
#define ROUND 4  /* prefill pieces per step: the server's 256-token budget in pieces of 64 */

static void usage(FILE *f) {
    fprintf(f,
            "usage: quanta bench paged [-m FILE] [--backend B] [--quant Q] [-n 1,16,64] [-p 128] [-s 16] [-x K]\n\n"
            "Times the paged steps quanta serve runs: n sequences prefilled with -p tokens (pieces of 64),\n"
            "then -s decode steps of all n, reading back the logits (host argmax) or the device's argmax.\n\n"
            "  -m FILE          GGUF model (default: $QUANTA_MODEL, else the default model)\n"
            "  --backend B      ref, opencl, cuda or best (default)\n"
            "  --quant Q        weights at load: auto (default), keep, q8, ...\n"
            "  -n LIST          batch sizes, comma separated (default 1,16,64; at most 8, each <= 256)\n"
            "  -p N             prompt tokens per sequence (default 128)\n"
            "  -s N             timed decode steps of each kind per batch size (default 16)\n"
            "  -x K             also time the mixed step: the n decode rows with K prompt pieces of 64\n"
            "                   in one step, against a decode step and a pieces step apart (default 0: not)\n");
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

typedef struct own_opts {
    int ns[MAX_NS], n_ns, prompt, steps, mixed;
} own_opts;

/* -n LIST: batch sizes separated by single commas; an empty item ("1,,2", a trailing comma) or
 * an item too long to be a number is an error, not skipped or cut. */
static int parse_list(const char *cmd, const char *arg, own_opts *o) {
    o->n_ns = 0;
    for (const char *t = arg;; t++) {
        const char *e = strchr(t, ',');
        const size_t len = e ? (size_t)(e - t) : strlen(t);
        char item[16];
        if (len == 0 || len >= sizeof item) return qn_usage_error(cmd, "-n '%s': not a comma-separated list of numbers", arg);
        if (o->n_ns == MAX_NS) return qn_usage_error(cmd, "-n '%s': at most %d batch sizes", arg, MAX_NS);
        memcpy(item, t, len);
        item[len] = '\0';
        if (qn_arg_int(cmd, "-n", item, 1, 256, &o->ns[o->n_ns])) return QN_EXIT_USAGE;
        o->n_ns++;
        if (!e) return QN_EXIT_OK;
        t = e;
    }
}

static int own_opt(void *ctx, const char *cmd, int c, const char *arg) {
    own_opts *o = ctx;
    switch (c) {
    case 'n': return parse_list(cmd, arg, o);
    case 'p': return qn_arg_int(cmd, "-p", arg, 1, 4096, &o->prompt);
    case 's': return qn_arg_int(cmd, "-s", arg, 1, 10000, &o->steps);
    case 'x': return qn_arg_int(cmd, "-x", arg, 0, 64, &o->mixed);
    default: return QN_EXIT_USAGE;
    }
}

/* The mixed step against the two steps apart (-x K): the n decoding sequences at their positions
 * and K more sequences' first pieces of PIECE tokens (sequences n .. n + K - 1 of tables), both
 * kinds alternated, -s times each after one untimed step of each; neither advances, so every step
 * rewrites the same rows. Prints a line of medians and the decode rows that chose the same token. */
static int run_mixed(quanta_kv_pool *pool, int32_t V, int n, int K, int steps, int32_t MB, const int32_t *tables,
                     const int32_t *tok, const int32_t *pos, uint64_t *rng) {
    const size_t nr = (size_t)n + (size_t)K;
    int32_t *lens = malloc(2 * nr * sizeof *lens), *at = lens ? lens + nr : NULL;
    int32_t *toks = malloc(((size_t)n + (size_t)K * PIECE) * sizeof *toks), *g = malloc(2 * nr * sizeof *g);
    double *t = malloc(2 * (size_t)steps * sizeof *t);
    int rc = 1, same = 0;
    if (!lens || !toks || !g || !t) {
        rc = qn_fail("bench paged", "out of host memory");
        goto done;
    }
    for (int s = 0; s < n; s++) lens[s] = 1, at[s] = pos[s], toks[s] = tok[s];
    for (int k = 0; k < K; k++) lens[n + k] = PIECE, at[n + k] = 0;
    for (int j = 0; j < K * PIECE; j++) {
        *rng = *rng * 6364136223846793005ull + 1442695040888963407ull;
        toks[n + j] = (int32_t)((*rng >> 33) % (uint64_t)V);
    }
    for (int k = -1; k < steps; k++)
        for (int kind = 0; kind < 2; kind++) { /* 0: mixed into g[0..nr), 1: apart into g[nr..2nr) */
            int32_t *out = g + (size_t)kind * nr;
            const double t0 = now_ms();
            quanta_status st =
                kind ? quanta_model_eval_paged_greedy(pool, n, 1, toks, at, tables, NULL, out)
                     : quanta_model_eval_paged_pieces(pool, (int32_t)nr, lens, toks, at, tables, NULL, NULL, 0, out);
            if (!st && kind)
                st = quanta_model_eval_paged_pieces(pool, K, lens + n, toks + n, at + n, tables + (size_t)n * MB, NULL,
                                                    NULL, 0, out + n);
            if (st) {
                rc = fail(kind ? "the decode and pieces steps apart" : "the mixed step");
                goto done;
            }
            if (k >= 0) t[(size_t)kind * steps + k] = now_ms() - t0;
        }
    for (int s = 0; s < n; s++) same += g[s] == g[nr + s];
    const double mm = median(t, steps), ma = median(t + steps, steps);
    printf("mixed | %3d | %2d | %9.2f | %9.2f | %5.2f | %d/%d |\n", n, K, mm, ma, ma / mm, same, n);
    rc = 0;
done:
    free(lens), free(toks), free(g), free(t);
    return rc;
}

/* One batch size: n sequences (sequence s in blocks s * MB ..), prefill, then the timed steps;
 * K > 0: K sequences more for run_mixed's pieces. */
static int run_batch(quanta_model *m, int32_t V, int n, int K, int prompt, int steps, uint64_t *rng) {
    int32_t MB = (prompt + 2 * steps + 1 + BS - 1) / BS + 1;
    if (MB < PIECE / BS) MB = PIECE / BS;
    quanta_kv_pool *pool = NULL;
    int rc = 1;
    int32_t *tables = malloc((size_t)(n + K) * (size_t)MB * sizeof *tables), *tok = malloc((size_t)n * sizeof *tok);
    int32_t *pos = malloc((size_t)n * sizeof *pos), *greedy = malloc((size_t)n * sizeof *greedy);
    int32_t *ptok = malloc(ROUND * PIECE * sizeof *ptok);
    float *lg = malloc((size_t)n * (size_t)V * sizeof *lg);
    double *t_log = malloc((size_t)steps * sizeof *t_log), *t_dev = malloc((size_t)steps * sizeof *t_dev);
    double *t_pre = malloc((size_t)((n + ROUND - 1) / ROUND * ((prompt + PIECE - 1) / PIECE)) * sizeof *t_pre);
    int n_pre = 0;
    if (!tables || !tok || !pos || !greedy || !ptok || !lg || !t_log || !t_dev || !t_pre) {
        rc = qn_fail("bench paged", "out of host memory");
        goto done;
    }
    for (int i = 0; i < (n + K) * MB; i++) tables[i] = i;
    if (quanta_kv_pool_create(m, QUANTA_F32, (n + K) * MB, 0, BS, MB, &pool)) {
        rc = fail("creating the pool");
        goto done;
    }
    int n_pieces = 0;
    for (int s0 = 0; s0 < n; s0 += ROUND) /* the prompts, in the server's pieces, ROUND sequences a step */
        for (int32_t at = 0; at < prompt; at += PIECE) {
            const int32_t T = prompt - at < PIECE ? prompt - at : PIECE, ns = n - s0 < ROUND ? n - s0 : ROUND;
            int32_t lens[ROUND], ats[ROUND];
            for (int32_t j = 0; j < ns * T; j++) { /* random tokens (an LCG: only their spread matters) */
                *rng = *rng * 6364136223846793005ull + 1442695040888963407ull;
                ptok[j] = (int32_t)((*rng >> 33) % (uint64_t)V);
            }
            for (int i = 0; i < ns; i++) lens[i] = T, ats[i] = at;
            const double t0 = now_ms();
            if (quanta_model_eval_paged_pieces(pool, ns, lens, ptok, ats, tables + (size_t)s0 * MB, NULL, NULL, 0,
                                               at + T == prompt ? greedy + s0 : NULL)) {
                rc = fail("prefill");
                goto done;
            }
            t_pre[n_pre++] = (now_ms() - t0) / ns;
            n_pieces += ns;
            for (int i = 0; at + T == prompt && i < ns; i++) tok[s0 + i] = greedy[s0 + i], pos[s0 + i] = prompt;
        }
    char what[96];
    if (qb_profile_on()) { /* QUANTA_PLAN_PROFILE=1: where the prefill steps' time went */
        snprintf(what, sizeof what, "the prefill steps at n = %d (%d steps)", n, n_pre);
        qb_profile_print(stdout, what, n_pre);
    }
    /* one untimed step of each kind first (plans, recordings), then alternate the kinds */
    for (int k = -1; k < steps; k++)
        for (int kind = 0; kind < 2; kind++) {
            if (k == 0 && kind == 0) qb_profile_reset();
            const double t0 = now_ms();
            quanta_status st =
                kind ? quanta_model_eval_paged_greedy(pool, n, 1, tok, pos, tables, NULL, greedy)
                     : quanta_model_eval_paged(pool, n, 1, tok, pos, tables, NULL, lg, (size_t)n * (size_t)V);
            if (!st && !kind)
                for (int s = 0; s < n; s++) greedy[s] = qn_bench_argmax(lg + (size_t)s * V, V);
            const double ms = now_ms() - t0;
            if (st) {
                rc = fail("decode");
                goto done;
            }
            if (k >= 0) (kind ? t_dev : t_log)[k] = ms;
            for (int s = 0; s < n; s++) tok[s] = greedy[s], pos[s]++;
        }
    if (qb_profile_on()) {
        snprintf(what, sizeof what, "the decode steps at n = %d (%d steps, both kinds)", n, 2 * steps);
        qb_profile_print(stdout, what, 2 * steps);
    }
    const double ml = median(t_log, steps), md = median(t_dev, steps), mp = median(t_pre, n_pre);
    printf("| %3d | %9.2f | %9.1f | %9.2f | %9.1f | %5.2f | %9.2f (%d) |\n", n, ml, 1e3 * n / ml, md, 1e3 * n / md,
           ml / md, mp, n_pieces);
    rc = K ? run_mixed(pool, V, n, K, steps, MB, tables, tok, pos, rng) : 0;
done:
    quanta_kv_pool_destroy(pool);
    free(tables), free(tok), free(pos), free(greedy), free(ptok), free(lg), free(t_log), free(t_dev), free(t_pre);
    return rc;
}

int qn_cmd_bench_paged(int argc, char **argv) {
    own_opts oo = {{1, 16, 64}, 3, 128, 16, 0};
    qn_bench_opts bo;
    int prc = qn_bench_opts_parse(&bo, "bench paged", argc, argv, "n:p:s:x:", NULL, own_opt, &oo, usage);
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
        printf("| n | logits ms/step | tok/s | greedy ms/step | tok/s | logits/greedy | prefill ms/piece, %d a step "
               "(pieces) |\n", ROUND);
        printf("|---|---|---|---|---|---|---|\n");
        uint64_t rng = 0x5eed;
        if (oo.mixed)
            printf("(rows \"mixed\": n decode rows and K pieces of %d in one step, ms, against the two steps apart;"
                   " | mixed | n | K | mixed ms | apart ms | apart/mixed | same decode tokens |)\n", PIECE);
        for (int i = 0; i < oo.n_ns && !rc; i++)
            rc = run_batch(bm.model, bm.info.n_vocab, oo.ns[i], oo.mixed, oo.prompt, oo.steps, &rng);
    }
    qn_bench_unload(&bm);
    free(def);
    return rc;
}
