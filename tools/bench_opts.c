/* bench_opts.c — the options and model loading of the `quanta bench` sub-commands that run a
 * model (bench_opts.h). */
#include "bench_opts.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "clock.h"
#include "commands.h"

#define OWN_LONG_MAX 12
enum { O_BACKEND = 0x7000, O_QUANT };

int qn_bench_opts_parse(qn_bench_opts *o, const char *cmd, int argc, char **argv, const char *own_short,
                        const struct option *own_long, qn_bench_own_opt own, void *ctx, void (*usage)(FILE *)) {
    *o = (qn_bench_opts){cmd, NULL, "best", "auto"};
    struct option longopts[OWN_LONG_MAX + 4] = {{"backend", required_argument, NULL, O_BACKEND},
                                                {"quant", required_argument, NULL, O_QUANT},
                                                {"help", no_argument, NULL, 'h'}};
    int n = 3;
    for (const struct option *l = own_long; l && l->name; l++) {
        if (n == OWN_LONG_MAX + 3) return qn_fail(cmd, "internal error: more than %d long options", OWN_LONG_MAX);
        longopts[n++] = *l;
    }
    longopts[n] = (struct option){0, 0, 0, 0};
    char shortopts[64];
    snprintf(shortopts, sizeof shortopts, "hm:%s", own_short ? own_short : "");
    qn_getopt_state gs;
    qn_getopt_begin(&gs, cmd, argc, argv, shortopts, longopts, 0);
    for (int c; (c = qn_getopt(&gs)) != -1;) {
        switch (c) {
        case 'h': usage(stdout); return -1;
        case 'm': o->path = optarg; break;
        case O_BACKEND: o->backend = optarg; break;
        case O_QUANT: o->quant = optarg; break;
        case '?': return QN_EXIT_USAGE;
        default:
            if (own(ctx, cmd, c, optarg)) return QN_EXIT_USAGE;
        }
    }
    quanta_model_params mp; /* --quant is checked now, before anything is loaded */
    quanta_model_default_params(&mp);
    if (qn_cli_quant_params(o->quant, NULL, &mp)) return qn_usage_error(cmd, "--quant '%s' not understood", o->quant);
    return QN_EXIT_OK;
}

int qn_bench_load(const qn_bench_opts *o, const char *path, quanta_model_params *mp, qn_bench_model *out) {
    memset(out, 0, sizeof *out);
    struct stat sb; /* a missing file named as the other commands name it, before a backend opens */
    if (stat(path, &sb)) return qn_fail(o->cmd, "-m %s: %s", path, strerror(errno));
    int orc = qn_backend_open_arg(o->cmd, o->backend, &out->be);
    if (orc) {
        qn_bench_unload(out);
        return orc;
    }
    quanta_status st = quanta_backend_device(out->be, &out->dev);
    if (st) {
        qn_bench_unload(out);
        return qn_status_fail(o->cmd, "opening the backend", st);
    }
    (void)qn_cli_quant_params(o->quant, out->dev.backend, mp); /* understood: qn_bench_opts_parse */
    double t0 = qn_now_s();
    if ((st = quanta_model_load(path, out->be, mp, &out->model))) {
        qn_bench_unload(out);
        return qn_status_fail(o->cmd, "loading the model", st);
    }
    out->load_s = qn_now_s() - t0;
    if ((st = quanta_model_get_info(out->model, &out->info))) {
        qn_bench_unload(out);
        return qn_status_fail(o->cmd, "reading the model's info", st);
    }
    return QN_EXIT_OK;
}

void qn_bench_unload(qn_bench_model *b) {
    quanta_model_destroy(b->model);
    quanta_backend_close(b->be);
    b->model = NULL;
    b->be = NULL;
}

int32_t qn_bench_argmax(const float *logits, int32_t n) {
    int32_t b = 0;
    for (int32_t i = 1; i < n; i++)
        if (logits[i] > logits[b]) b = i;
    return b;
}
