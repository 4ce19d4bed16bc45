/*
 * bench_opts.h — what the `quanta bench` sub-commands that run a model (bench model, bench kv,
 * bench paged) share: their common options (-m FILE, --backend B, --quant Q, -h/--help) parsed
 * once around each command's own, the model loading that follows (backend, --quant for that
 * backend, the load, timed, with one-line failures), and the greedy token of a logits row.
 */
#ifndef QUANTA_TOOLS_BENCH_OPTS_H
#define QUANTA_TOOLS_BENCH_OPTS_H

#include <stdio.h>

#include "cli_args.h"
#include "quanta.h"

typedef struct qn_bench_opts {
    const char *cmd;     /* "bench model", "bench kv": the prefix of every message */
    const char *path;    /* -m FILE; NULL: none given */
    const char *backend; /* --backend (default "best") */
    const char *quant;   /* --quant (default "auto"; checked by qn_bench_opts_parse) */
} qn_bench_opts;

/* One of the command's own options: c as getopt_long returns it (its short letter, or the value
 * its long option has in own_long, 256 or more), arg its value (NULL when it takes none).
 * Returns QN_EXIT_OK, or QN_EXIT_USAGE after printing why (qn_arg_int and friends do). */
typedef int (*qn_bench_own_opt)(void *ctx, const char *cmd, int c, const char *arg);

/* Parses argv (argv[0] = the sub-command): the common options into o, the command's own
 * (own_short, getopt letters; own_long, ended by a zero row, at most 12) through own(ctx, ...).
 * Returns QN_EXIT_OK; -1 after --help printed with usage (exit 0); QN_EXIT_USAGE after printing
 * the error (unknown options, bad values, --quant not understood). */
int qn_bench_opts_parse(qn_bench_opts *o, const char *cmd, int argc, char **argv, const char *own_short,
                        const struct option *own_long, qn_bench_own_opt own, void *ctx, void (*usage)(FILE *));

/* An open backend and a loaded model. */
typedef struct qn_bench_model {
    quanta_backend *be;
    quanta_model *model;
    quanta_device_info dev;
    quanta_model_info info;
    double load_s; /* seconds quanta_model_load took */
} qn_bench_model;

/* Opens o->backend and loads path with mp, --quant applied for that backend. QN_EXIT_OK, or
 * QN_EXIT_FAIL after printing "quanta CMD: what failed: why (status)"; then *out holds nothing
 * (qn_bench_unload is still safe). */
int qn_bench_load(const qn_bench_opts *o, const char *path, quanta_model_params *mp, qn_bench_model *out);
void qn_bench_unload(qn_bench_model *b);

/* The index of the first largest of v[0, n): a greedy token picked on the host. */
int32_t qn_bench_argmax(const float *v, int32_t n);

#endif
