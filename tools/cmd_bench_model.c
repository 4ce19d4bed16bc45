/*
 * cmd_bench_model.c — `quanta bench model`, the llama-bench of Quanta: load time, prompt
 * processing (pp: one eval of P tokens from an empty context) and generation (tg: N single-
 * token evals from an empty context, logits read back and checked each step) in tokens/s, mean and
 * standard deviation over R repetitions after one warm-up of each, and the device memory.
 * Tokens are random ids (fixed seed) as in llama-bench, so no tokenizer work is timed.
 *
 *   quanta bench model -m FILE [-p 512] [-n 128] [-r 3] [--backend B] [--quant Q] [--json]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "bench_opts.h"
#include "clock.h"
#include "commands.h"
#include "json_write.h"
#include "quanta.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: quanta bench model -m FILE [-p P] [-n N] [-r R] [--backend B] [--quant Q] [--kv D] [--json]\n\n"
            "  -m FILE       GGUF model (or Hugging Face directory)\n"
            "  -p P          prompt tokens of the pp test (default 512; 0 skips it)\n"
            "  -n N          generated tokens of the tg test (default 128; 0 skips it)\n"
            "  -r R          repetitions (default 3), after one warm-up run of each test\n"
            "  --backend B   ref, opencl, cuda or best (default)\n"
            "  --quant Q     weights at load: auto (default: the file's bits on CUDA, else q8), keep, q8, q4, ...\n"
            "  --kv D        KV cache dtype: f32 (default), f16, bf16\n"
            "  --json        one JSON object on stdout instead of the table\n");
}

typedef struct stat {
    double mean, sd;
} stat;

static stat stats(const double *v, int n) {
    stat s = {0.0, 0.0};
    for (int i = 0; i < n; i++) s.mean += v[i];
    s.mean /= n > 0 ? n : 1;
    for (int i = 0; i < n; i++) s.sd += (v[i] - s.mean) * (v[i] - s.mean);
    s.sd = n > 1 ? sqrt(s.sd / (n - 1)) : 0.0;
    return s;
}

/* One eval with its logits as an application gets them: by default through quanta_model_eval_view (read back
 * and checked for Inf/NaN where they land, not copied again: llama-bench's loop gets a pointer from
 * llama_get_logits too); QUANTA_BENCH_COPY=1 copies them into this buffer instead (quanta_model_eval), to time
 * the copy. Read once. */
static quanta_status bench_eval(quanta_model_context *ctx, const int32_t *t, size_t n, float *logits, size_t count) {
    static int copy = -1;
    if (copy < 0) {
        const char *e = getenv("QUANTA_BENCH_COPY");
        copy = e && !strcmp(e, "1");
    }
    if (copy) return quanta_model_eval(ctx, t, n, logits, count);
    const float *view = NULL;
    return quanta_model_eval_view(ctx, t, n, &view);
}

/* bench model's own options (bench_opts.h parses -m, --backend, --quant, -h). */
typedef struct own_opts {
    const char *kv;
    int P, N, R, json;
} own_opts;
enum { O_KV = 256, O_JSON };

static int own_opt(void *ctx, const char *cmd, int c, const char *arg) {
    own_opts *o = ctx;
    switch (c) {
    case O_KV: o->kv = arg; return QN_EXIT_OK;
    case O_JSON: o->json = 1; return QN_EXIT_OK;
    case 'p': return qn_arg_int(cmd, "-p", arg, 0, 1 << 20, &o->P);
    case 'n': return qn_arg_int(cmd, "-n", arg, 0, 1 << 20, &o->N);
    case 'r': return qn_arg_int(cmd, "-r", arg, 1, 1000, &o->R);
    default: return QN_EXIT_USAGE;
    }
}

int qn_cmd_bench_model(int argc, char **argv) {
    static const struct option own_long[] = {
        {"kv", required_argument, NULL, O_KV}, {"json", no_argument, NULL, O_JSON}, {0, 0, 0, 0}};
    own_opts oo = {"f32", 512, 128, 3, 0};
    qn_bench_opts bo;
    int prc = qn_bench_opts_parse(&bo, "bench model", argc, argv, "p:n:r:", own_long, own_opt, &oo, usage);
    if (prc) return prc < 0 ? QN_EXIT_OK : prc;
    const char *cmd = bo.cmd, *path = bo.path;
    const int P = oo.P, N = oo.N, R = oo.R, json = oo.json;
    if (!path) return qn_usage_error(cmd, "-m FILE is required");
    /* both skipped would time nothing (and leave the first-token step no token to feed) */
    if (P == 0 && N == 0) return qn_usage_error(cmd, "-p 0 and -n 0 skip both tests: nothing to measure");
    quanta_model_params mp;
    quanta_model_default_params(&mp);
    if (qn_cli_kv_dtype(cmd, "--kv", oo.kv, 0, &mp.kv_dtype)) return QN_EXIT_USAGE;

    int rc = 1;
    qn_bench_model bm = {0};
    quanta_model_context *ctx = NULL;
    int32_t *toks = NULL;
    float *logits = NULL;
    double *pp = calloc((size_t)R, sizeof *pp), *tg = calloc((size_t)R, sizeof *tg);
    quanta_status st;
    quanta_model_memory mem;
    if (!pp || !tg) {
        rc = qn_fail(cmd, "out of host memory");
        goto done;
    }
    int lrc = qn_bench_load(&bo, path, &mp, &bm);
    if (lrc) {
        rc = lrc;
        goto done;
    }
    quanta_model *m = bm.model;
    const quanta_device_info dev = bm.dev;
    const quanta_model_info info = bm.info;
    const double t_load = bm.load_s;
    const int n_ctx = (P > N ? P : N) + 8;
    if ((st = quanta_model_context_create(m, n_ctx, &ctx))) {
        rc = qn_status_fail(cmd, "creating the context", st);
        goto done;
    }
    const int T = P > N ? P : N;
    toks = malloc((size_t)(T > 0 ? T : 1) * sizeof *toks);
    logits = malloc((size_t)info.n_vocab * sizeof *logits);
    if (!toks || !logits) {
        rc = qn_fail(cmd, "out of host memory");
        goto done;
    }
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < T; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        toks[i] = (int32_t)((seed >> 33) % (uint64_t)info.n_vocab);
    }
    /* Load to first token: the first decode step (plan building included) after the load. */
    double t1 = qn_now_s();
    if ((st = bench_eval(ctx, toks, 1, logits, (size_t)info.n_vocab))) {
        rc = qn_status_fail(cmd, "first token", st);
        goto done;
    }
    const double t_first = t_load + (qn_now_s() - t1);
    for (int r = -1; r < R; r++) { /* r = -1: warm-up */
        if (P > 0) {
            quanta_model_context_reset(ctx);
            if (r == R - 1 && qb_profile_on()) qb_profile_reset(); /* QUANTA_PLAN_PROFILE=1: the last pp run */
            double a = qn_now_s();
            if ((st = bench_eval(ctx, toks, (size_t)P, logits, (size_t)info.n_vocab))) {
                rc = qn_status_fail(cmd, "prompt", st);
                goto done;
            }
            if (r >= 0) pp[r] = P / (qn_now_s() - a);
            if (r == R - 1 && qb_profile_on() && !json) qb_profile_print(stdout, "the last pp run's prompt", 1);
        }
        if (N > 0) {
            quanta_model_context_reset(ctx);
            if (r == R - 1 && qb_profile_on()) qb_profile_reset(); /* QUANTA_PLAN_PROFILE=1: the last tg run */
            if (r == R - 1 && qb_split_on()) qb_split_reset();     /* QUANTA_STEP_SPLIT=1: the same */
            double a = qn_now_s();
            for (int i = 0; i < N; i++)
                if ((st = bench_eval(ctx, &toks[i], 1, logits, (size_t)info.n_vocab))) {
                    rc = qn_status_fail(cmd, "generation", st);
                    goto done;
                }
            const double wall = qn_now_s() - a;
            if (r >= 0) tg[r] = N / wall;
            if (r == R - 1 && qb_profile_on() && !json) qb_profile_print(stdout, "the last tg run's decode steps", N);
            if (r == R - 1 && qb_split_on()) qb_split_print(stderr, "the last tg run's decode steps", N, wall);
        }
        if (r == -1 && !json) fprintf(stderr, "quanta bench model: warm-up done\n");
    }
    if ((st = quanta_model_memory_report(m, ctx, &mem))) {
        rc = qn_status_fail(cmd, "memory report", st);
        goto done;
    }
    const stat sp = stats(pp, R), sg = stats(tg, R);
    const double MiB = 1024.0 * 1024.0;
    const char *wname = quanta_dtype_name(info.weight_dtype) ? quanta_dtype_name(info.weight_dtype) : "?";
    if (json) {
        /* the strings escaped (a path or a device name may hold quotes or backslashes) */
        const char *const keys[] = {"{\"model\": ", ", \"backend\": ", ", \"device\": ", ", \"weights\": "};
        const char *const vals[] = {path, dev.backend, dev.name, wname};
        for (int i = 0; i < 4; i++) {
            fputs(keys[i], stdout);
            qn_json_write_str(stdout, vals[i]);
        }
        printf(", \"n_params\": %llu,\n"
               " \"p\": %d, \"n\": %d, \"r\": %d,\n"
               " \"pp_tps\": %.3f, \"pp_tps_sd\": %.3f, \"tg_tps\": %.3f, \"tg_tps_sd\": %.3f,\n"
               " \"load_s\": %.4f, \"first_token_s\": %.4f,\n"
               " \"weights_bytes\": %llu, \"kv_bytes\": %llu, \"scratch_bytes\": %llu, \"device_peak_bytes\": %llu}\n",
               (unsigned long long)info.n_params, P, N, R, sp.mean, sp.sd, sg.mean,
               sg.sd, t_load, t_first, (unsigned long long)mem.weights_bytes, (unsigned long long)mem.kv_cache_bytes,
               (unsigned long long)mem.scratch_bytes, (unsigned long long)mem.device_peak);
    } else {
        printf("model: %s (%s, %.2f B params, weights as loaded: %s)\n", path, info.arch, (double)info.n_params / 1e9,
               wname);
        printf("backend: %s (%s)\n", dev.backend, dev.name);
        printf("| test | tokens/s | sd |\n|---|---|---|\n");
        if (P > 0) printf("| pp%d | %.2f | %.2f |\n", P, sp.mean, sp.sd);
        if (N > 0) printf("| tg%d | %.2f | %.2f |\n", N, sg.mean, sg.sd);
        printf("load %.3f s, load to first token %.3f s\n", t_load, t_first);
        printf("memory: weights %.1f MiB, KV %.1f MiB, scratch %.1f MiB, device peak %.1f MiB\n",
               (double)mem.weights_bytes / MiB, (double)mem.kv_cache_bytes / MiB, (double)mem.scratch_bytes / MiB,
               (double)mem.device_peak / MiB);
    }
    rc = 0;
done:
    free(pp);
    free(tg);
    free(toks);
    free(logits);
    quanta_model_context_destroy(ctx);
    qn_bench_unload(&bm);
    return rc;
}
