/*
 * cmd_bench_kv.c — `quanta bench kv`: what a quantized paged KV cache (int8 = q8, fp8 = e4m3)
 * costs in accuracy and buys in capacity, against the f16 and the full-precision (f32) caches,
 * on one model:
 *
 *   - logit drift, teacher-forced: 10 prompts run side by side in pools of each dtype, every
 *     pool fed the tokens the f16 pool's greedy decoding chose, so each step's logits compare
 *     position for position: max |logit - logit_base|, and how often the top-1 token agrees;
 *   - greedy output: each dtype decoding on its own; prompts whose first N tokens equal the
 *     base cache's own greedy decoding, and where the others first differ;
 *   - near ties: teacher-forced positions where the f16 run's top two logits are within 0.1 to
 *     1.0 (where any cache's noise can flip the greedy token);
 *   - capacity: a pool's device bytes per 16-position block (quanta_kv_pool_bytes of real
 *     pools), and the sequences of -c positions that fit a --budget-mib KV budget.
 *
 *   quanta bench kv [-m FILE] [--backend B] [--quant Q] [-n 32] [-c 2048] [--budget-mib 1024]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_opts.h"
#include "commands.h"
#include "default_model.h"
#include "quanta.h"

#define NP 10   /* prompts */
#define BS 16   /* positions per block, as quanta serve */
#define ND 4    /* pool dtypes: f16 (the baseline), f32, q8, fp8 */

static const char *const prompts[NP] = {
    "The capital of France is",
    "Once upon a time, in a small village by the sea,",
    "To compute the factorial of a number in Python, you can write",
    "The three primary colors are",
    "Photosynthesis is the process by which plants",
    "Here is a short poem about the autumn wind:\n",
    "The main causes of the First World War were",
    "Q: What is the boiling point of water at sea level?\nA:",
    "A list of five fruits: apple,",
    "The theory of relativity, proposed by Albert Einstein,",
};

static const quanta_dtype dts[ND] = {QUANTA_F16, QUANTA_F32, QUANTA_Q8, QUANTA_FP8_E4M3};
static const char *const dt_names[ND] = {"f16", "f32", "int8 (q8)", "fp8 (e4m3)"};

static void usage(FILE *f) {
    fprintf(f,
            "usage: quanta bench kv [-m FILE] [--backend B] [--quant Q] [-n N] [-c CTX] [--budget-mib M]\n\n"
            "Logit drift and greedy agreement of int8 and fp8 paged KV caches against the f16 cache on\n"
            "10 prompts, and how many sequences fit a KV memory budget in each dtype.\n\n"
            "  -m FILE          GGUF model (default: $QUANTA_MODEL, else the default model)\n"
            "  --backend B      ref, opencl, cuda or best (default)\n"
            "  --quant Q        weights at load: auto (default), keep, q8, ...\n"
            "  -n N             generated tokens per prompt (default 32)\n"
            "  -c CTX           positions per sequence for the capacity table (default 2048)\n"
            "  --budget-mib M   KV memory budget for the capacity table (default 1024)\n");
}

static int fail(const char *what) { return qn_fail("bench kv", "%s: %s", what, quanta_last_error()); }

/* One set of pools (one per dtype) holding the NP sequences, sequence s in blocks s*MB.. */
typedef struct pools {
    quanta_kv_pool *p[ND];
} pools;

static int pools_make(quanta_model *m, int32_t MB, pools *ps) {
    memset(ps, 0, sizeof *ps);
    for (int d = 0; d < ND; d++)
        if (quanta_kv_pool_create(m, dts[d], NP * MB, 0, BS, MB, &ps->p[d])) return fail("creating a pool");
    return 0;
}

static void pools_free(pools *ps) {
    for (int d = 0; d < ND; d++) quanta_kv_pool_destroy(ps->p[d]);
}

/* bench kv's own options (bench_opts.h parses -m, --backend, --quant, -h). */
typedef struct own_opts {
    int N, ctx, budget;
} own_opts;
enum { O_BUDGET = 256 };

static int own_opt(void *ctx, const char *cmd, int c, const char *arg) {
    own_opts *o = ctx;
    switch (c) {
    case 'n': return qn_arg_int(cmd, "-n", arg, 1, 1024, &o->N);
    case 'c': return qn_arg_int(cmd, "-c", arg, 16, 1 << 20, &o->ctx);
    case O_BUDGET: return qn_arg_int(cmd, "--budget-mib", arg, 1, 1 << 24, &o->budget);
    default: return QN_EXIT_USAGE;
    }
}

int qn_cmd_bench_kv(int argc, char **argv) {
    static const struct option own_long[] = {{"budget-mib", required_argument, NULL, O_BUDGET}, {0, 0, 0, 0}};
    own_opts oo = {32, 2048, 1024};
    qn_bench_opts bo;
    int prc = qn_bench_opts_parse(&bo, "bench kv", argc, argv, "n:c:", own_long, own_opt, &oo, usage);
    if (prc) return prc < 0 ? QN_EXIT_OK : prc;
    const char *cmd = bo.cmd, *path = bo.path;
    const int N = oo.N, ctx = oo.ctx, budget = oo.budget;
    quanta_model_params mp;
    quanta_model_default_params(&mp);
    char *def = path ? NULL : qn_default_model_path();
    if (!path && !def) return qn_fail(cmd, "no -m FILE and no default model found");
    if (!path) path = def;

    int rc = 1;
    qn_bench_model bm = {0};
    pools forced = {{0}}, freerun = {{0}};
    int32_t *toks[NP] = {0}, *gen[ND] = {0}, *cur = NULL, *pos = NULL, *tables = NULL;
    float *lg[ND] = {0};
    int lrc = qn_bench_load(&bo, path, &mp, &bm);
    if (lrc) {
        rc = lrc;
        goto done;
    }
    quanta_model *m = bm.model;
    const quanta_device_info dev = bm.dev;
    const quanta_model_info info = bm.info;
    const int32_t V = info.n_vocab;
    size_t plen[NP], maxp = 0;
    for (int s = 0; s < NP; s++) {
        size_t n = 0;
        quanta_model_tokenize(m, prompts[s], strlen(prompts[s]), 1, 0, NULL, 0, &n);
        toks[s] = malloc(n * sizeof *toks[s]);
        if (!toks[s] || quanta_model_tokenize(m, prompts[s], strlen(prompts[s]), 1, 0, toks[s], n, &plen[s])) {
            rc = fail("tokenizing");
            goto done;
        }
        if (plen[s] > maxp) maxp = plen[s];
    }
    const int32_t MB = (int32_t)((maxp + (size_t)N + BS) / BS);
    cur = malloc(NP * sizeof *cur), pos = malloc(NP * sizeof *pos);
    tables = malloc((size_t)NP * (size_t)MB * sizeof *tables);
    for (int d = 0; d < ND; d++) {
        lg[d] = malloc((size_t)NP * (size_t)V * sizeof *lg[d]);
        gen[d] = malloc((size_t)NP * (size_t)N * sizeof *gen[d]);
        if (!lg[d] || !gen[d]) {
            rc = qn_fail(cmd, "out of host memory");
            goto done;
        }
    }
    if (!cur || !pos || !tables) {
        rc = qn_fail(cmd, "out of host memory");
        goto done;
    }
    for (int i = 0; i < NP * MB; i++) tables[i] = i;
    if (pools_make(m, MB, &forced) || pools_make(m, MB, &freerun)) goto done;

    printf("quanta bench kv: %s (%s, %s weights) on %s (%s); %d prompts, %d greedy tokens each\n", info.name,
           info.arch, quanta_dtype_name(info.weight_dtype), dev.backend, dev.name, NP, N);
    double maxabs[2][ND] = {{0}}, maxlog = 0; /* [base: f16, f32][dtype] */
    /* the f16 run's top-1 minus top-2 logit, teacher-forced positions: near ties are where any
     * cache's noise flips the greedy token */
    static const double margin_at[] = {0.1, 0.25, 0.5, 1.0};
    long near[4] = {0};
    long agree[2][ND] = {{0}}, total = 0;
    /* step 0: the prompts (one prefill each); then N - 1 decode steps of all prompts at once */
    for (int step = 0; step < N; step++) {
        for (int set = 0; set < 2; set++) {
            pools *ps = set ? &freerun : &forced;
            for (int d = set; d < ND; d++) { /* the free f16 run is the forced one */
                if (step == 0) {
                    for (int s = 0; s < NP; s++) {
                        int32_t p0 = 0;
                        if (quanta_model_eval_paged(ps->p[d], 1, (int32_t)plen[s], toks[s], &p0, tables + s * MB, NULL,
                                                    lg[d] + (size_t)s * V, (size_t)V)) {
                            rc = fail("prefill");
                            goto done;
                        }
                    }
                } else {
                    for (int s = 0; s < NP; s++) {
                        /* forced: every dtype gets the f16 run's token; free: its own */
                        cur[s] = set ? gen[d][s * N + step - 1] : gen[0][s * N + step - 1];
                        pos[s] = (int32_t)plen[s] + step - 1;
                    }
                    if (quanta_model_eval_paged(ps->p[d], NP, 1, cur, pos, tables, NULL, lg[d], (size_t)NP * V)) {
                        rc = fail("decode");
                        goto done;
                    }
                }
                if (set || d == 0)
                    for (int s = 0; s < NP; s++) gen[d][s * N + step] = qn_bench_argmax(lg[d] + (size_t)s * V, V);
            }
            if (set) continue;
            for (int s = 0; s < NP; s++) { /* forced: every dtype against f16 and f32, position for position */
                const float *l0 = lg[0] + (size_t)s * V;
                const int32_t t0 = qn_bench_argmax(l0, V);
                double second = -INFINITY;
                for (int32_t i = 0; i < V; i++) {
                    maxlog = fmax(maxlog, fabs(l0[i]));
                    if (i != t0) second = fmax(second, l0[i]);
                }
                for (int j = 0; j < 4; j++) near[j] += l0[t0] - second < margin_at[j];
                for (int base = 0; base < 2; base++) {
                    const float *b = lg[base] + (size_t)s * V;
                    const int32_t top = qn_bench_argmax(b, V);
                    for (int d = 0; d < ND; d++) {
                        const float *x = lg[d] + (size_t)s * V;
                        for (int32_t i = 0; i < V; i++) maxabs[base][d] = fmax(maxabs[base][d], fabs((double)x[i] - b[i]));
                        agree[base][d] += qn_bench_argmax(x, V) == top;
                    }
                }
                total++;
            }
        }
    }
    for (int base = 0; base < 2; base++) {
        printf("\nagainst the %s cache: logits teacher-forced (%ld positions; max |logit| %.2f), greedy on its own:\n",
               dt_names[base], total, maxlog);
        printf("| pool | max abs logit diff | top-1 agreement | greedy = %s for %d tokens | first difference at |\n",
               dt_names[base], N);
        printf("|---|---|---|---|---|\n");
        for (int d = 0; d < ND; d++) {
            if (d == base) continue;
            int same = 0;
            char firsts[160] = "";
            for (int s = 0; s < NP; s++) {
                int k = 0;
                while (k < N && gen[d][s * N + k] == gen[base][s * N + k]) k++;
                if (k == N) same++;
                else snprintf(firsts + strlen(firsts), sizeof firsts - strlen(firsts), "%sp%d: %d", *firsts ? ", " : "", s, k);
            }
            printf("| %s | %.4f | %.2f%% (%ld/%ld) | %d/%d | %s |\n", dt_names[d], maxabs[base][d],
                   100.0 * agree[base][d] / total, agree[base][d], total, same, NP, *firsts ? firsts : "-");
        }
    }
    printf("\nf16 cache's top-1 minus top-2 logit over the %ld positions: below 0.1: %ld, 0.25: %ld, 0.5: %ld, 1.0: %ld\n",
           total, near[0], near[1], near[2], near[3]);
    printf("\ncapacity: sequences of %d positions in a %d MiB KV budget (bytes from the pools themselves):\n", ctx,
           budget);
    printf("| pool | bytes per block of %d positions | sequences | vs f16 |\n|---|---|---|---|\n", BS);
    const uint64_t blocks_per_seq = (uint64_t)(ctx + BS - 1) / BS, cap = (uint64_t)budget << 20;
    uint64_t f16_seqs = 0;
    for (int d = 0; d < ND; d++) {
        /* a block's bytes: the forced pool's less those of a pool one block smaller (a pool's fixed
         * part, the sink block padded decode rows write, cancels; it is not per sequence) */
        quanta_kv_pool *less = NULL;
        if (quanta_kv_pool_create(m, dts[d], NP * MB - 1, 0, BS, MB, &less)) {
            rc = fail("creating a pool");
            goto done;
        }
        const uint64_t per_block = quanta_kv_pool_bytes(forced.p[d]) - quanta_kv_pool_bytes(less);
        quanta_kv_pool_destroy(less);
        const uint64_t seqs = cap / (per_block * blocks_per_seq);
        if (d == 0) f16_seqs = seqs;
        printf("| %s | %llu | %llu | %.3fx |\n", dt_names[d], (unsigned long long)per_block, (unsigned long long)seqs,
               f16_seqs ? (double)seqs / (double)f16_seqs : 0.0);
    }
    rc = 0;
done:
    pools_free(&forced);
    pools_free(&freerun);
    for (int s = 0; s < NP; s++) free(toks[s]);
    for (int d = 0; d < ND; d++) free(lg[d]), free(gen[d]);
    free(cur), free(pos), free(tables), free(def);
    qn_bench_unload(&bm);
    return rc;
}
