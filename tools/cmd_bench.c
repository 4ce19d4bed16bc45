/*
 * quanta bench — kernel benchmarks of one backend (see bench/bench.h):
 *   quanta bench --backend opencl [--json FILE] [--quick] [--no-ref] [--min-seconds S]
 *
 * The generic benchmark code lives in bench/. tools/ is configured before bench/ in the
 * top-level meson.build, so its two files are compiled into this command as one unit here.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "bench.h"

static void bench_usage(FILE *f) {
    fprintf(f,
            "usage: quanta bench [--backend SPEC] [--json FILE] [--quick] [--no-ref] [--min-seconds S]\n"
            "       quanta bench model -m FILE [-p 512] [-n 128] [-r 3] [--backend B] [--json]  (quanta bench model -h)\n\n"
            "Measures, on one backend: the device's copy bandwidth, quantized GEMV weight GB/s per format\n"
            "(and its ratio to the copy bandwidth), GEMM GFLOP/s at M = 256 against the backend's peer\n"
            "library (e.g. CLBlast Sgemm on f32 weights), and attention tokens/s against the reference.\n\n"
            "  --backend SPEC    backend to measure (default: best), e.g. opencl, opencl:1, cuda\n"
            "  --json FILE       also write the results as JSON\n"
            "  --quick           smaller shapes and shorter timings (CI smoke run)\n"
            "  --no-ref          skip the reference-backend attention baseline\n"
            "  --min-seconds S   time each measurement for at least S seconds\n");
}

int qn_cmd_bench(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "model")) return qn_cmd_bench_model(argc - 1, argv + 1);
    qb_options opt = {.backend = "best"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            bench_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--quick")) {
            opt.quick = true;
        } else if (!strcmp(a, "--no-ref")) {
            opt.no_ref = true;
        } else if ((!strcmp(a, "--backend") || !strcmp(a, "--json") || !strcmp(a, "--min-seconds")) && i + 1 < argc) {
            const char *v = argv[++i];
            if (!strcmp(a, "--backend")) opt.backend = v;
            else if (!strcmp(a, "--json")) opt.json = v;
            else {
                char *end;
                opt.min_seconds = strtod(v, &end);
                /* NaN, Inf or an empty value would make the timing loop endless or meaningless. */
                if (end == v || *end || !isfinite(opt.min_seconds) || opt.min_seconds < 0 || opt.min_seconds > 3600) {
                    fprintf(stderr, "quanta bench: --min-seconds needs a number in [0, 3600], got '%s'\n", v);
                    return 2;
                }
            }
        } else {
            fprintf(stderr, "quanta bench: unknown or incomplete option '%s'\n\n", a);
            bench_usage(stderr);
            return 2;
        }
    }
    qb_report *rep = malloc(sizeof *rep);
    if (!rep) {
        fprintf(stderr, "quanta bench: out of memory\n");
        return 1;
    }
    int rc = qb_run(&opt, rep, stderr);
    if (rep->nrows > 0) qb_print(stdout, rep);
    if (opt.json && rep->nrows > 0 && qb_write_json(opt.json, rep) != 0) {
        fprintf(stderr, "quanta bench: cannot write %s\n", opt.json);
        rc = -1;
    }
    free(rep);
    return rc == 0 ? 0 : 1;
}
