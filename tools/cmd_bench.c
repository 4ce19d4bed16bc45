/*
 * quanta bench — kernel benchmarks of one backend (see bench/bench.h):
 *   quanta bench --backend opencl [--json FILE] [--quick] [--no-ref] [--min-seconds S]
 *
 * The generic benchmark code lives in bench/. tools/ is configured before bench/ in the
 * top-level meson.build, so its two files are compiled into this command as one unit here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_args.h"
#include "commands.h"
#include "bench.h"

static void bench_usage(FILE *f) {
    fprintf(f,
            "usage: quanta bench [--backend SPEC] [--json FILE] [--quick] [--no-ref] [--min-seconds S]\n"
            "       quanta bench model -m FILE [-p 512] [-n 128] [-r 3] [--backend B] [--json]  (quanta bench model -h)\n"
            "       quanta bench kv [-m FILE] [--backend B] [-n 32]  int8/fp8 KV cache drift and capacity (-h)\n"
            "       quanta bench paged [-m FILE] [--backend B] [-n 1,16,64]  quanta serve's paged steps timed (-h)\n\n"
            "Measures, on one backend: the device's copy bandwidth, quantized GEMV weight GB/s per format\n"
            "(and its ratio to the copy bandwidth), GEMM GFLOP/s at M = 256 against the backend's peer\n"
            "library (e.g. CLBlast Sgemm on f32 weights), and attention tokens/s against the reference.\n\n"
            "  --backend SPEC    backend to measure (default: best), e.g. opencl, opencl:1, cuda\n"
            "  --json FILE       also write the results as JSON\n"
            "  --quick           smaller shapes and shorter timings (CI smoke run)\n"
            "  --no-ref          skip the reference-backend attention baseline\n"
            "  --min-seconds S   time each measurement for at least S seconds\n\n"
            "Exit status: 0 measured, 1 failure (backend, device, I/O), 2 usage error.\n");
}

int qn_cmd_bench(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "model")) return qn_cmd_bench_model(argc - 1, argv + 1);
    if (argc > 1 && !strcmp(argv[1], "kv")) return qn_cmd_bench_kv(argc - 1, argv + 1);
    if (argc > 1 && !strcmp(argv[1], "paged")) return qn_cmd_bench_paged(argc - 1, argv + 1);
    qb_options opt = {.backend = "best"};
    enum { O_BACKEND = 1000, O_JSON, O_QUICK, O_NO_REF, O_MIN_SECONDS };
    static const struct option longopts[] = {
        {"backend", required_argument, NULL, O_BACKEND}, {"json", required_argument, NULL, O_JSON},
        {"quick", no_argument, NULL, O_QUICK},           {"no-ref", no_argument, NULL, O_NO_REF},
        {"min-seconds", required_argument, NULL, O_MIN_SECONDS}, {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0}};
    qn_getopt_state gs;
    qn_getopt_begin(&gs, "bench", argc, argv, "h", longopts, 0);
    for (int c; (c = qn_getopt(&gs)) != -1;) {
        switch (c) {
        case 'h': bench_usage(stdout); return QN_EXIT_OK;
        case O_BACKEND: opt.backend = optarg; break;
        case O_JSON: opt.json = optarg; break;
        case O_QUICK: opt.quick = true; break;
        case O_NO_REF: opt.no_ref = true; break;
        case O_MIN_SECONDS:
            /* NaN, Inf or an empty value would make the timing loop endless or meaningless. */
            if (qn_arg_double("bench", "--min-seconds", optarg, 0, 3600, &opt.min_seconds)) return QN_EXIT_USAGE;
            break;
        default: return QN_EXIT_USAGE;
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
