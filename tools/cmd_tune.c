/* quanta tune — measures a backend's kernel variants and work-group shapes on its device and
 * stores the fastest in the device's tuning table (OpenCL: next to the program cache, keyed by
 * device and driver), which every later open of that device uses; `quanta info` shows it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_args.h"
#include "commands.h"
#include "quanta.h"

static void usage(FILE *f) {
    fprintf(f, "usage: quanta tune [--backend SPEC] [--quick]\n\n"
               "Times each kernel variant and work-group shape of the backend's tuning table on the\n"
               "device (GEMV shapes per weight format, the M > 8 matmul path per format and M class,\n"
               "the attention kernel for prefill and decode) and stores the fastest.\n\n"
               "  --backend SPEC    backend to tune (default opencl), e.g. opencl:1\n"
               "  --quick           smaller shapes (seconds instead of minutes)\n\n"
               "Exit status: 0 tuned, 1 failure (backend, device), 2 usage error.\n");
}

int qn_cmd_tune(int argc, char **argv) {
    const char *spec = "opencl";
    int quick = 0;
    static const struct option longopts[] = {
        {"backend", required_argument, NULL, 'b'}, {"quick", no_argument, NULL, 'k'}, {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0}};
    qn_getopt_state gs;
    qn_getopt_begin(&gs, "tune", argc, argv, "h", longopts, 0);
    for (int c; (c = qn_getopt(&gs)) != -1;) {
        if (c == 'b') spec = optarg;
        else if (c == 'k') quick = 1;
        else if (c == 'h') {
            usage(stdout);
            return QN_EXIT_OK;
        } else return QN_EXIT_USAGE;
    }
    quanta_backend *be;
    int orc = qn_backend_open_arg("tune", spec, &be);
    if (orc) return orc;
    quanta_device_info d;
    if (quanta_backend_device(be, &d) == QUANTA_OK) printf("tuning %s:%d  %s\n", d.backend, d.index, d.name);
    fflush(stdout);
    size_t len = 16384;
    char *report = malloc(len);
    if (!report) {
        quanta_backend_close(be);
        fprintf(stderr, "quanta tune: out of memory\n");
        return 1;
    }
    quanta_status st = quanta_backend_tune(be, quick, report, len);
    printf("%s", report);
    if (st != QUANTA_OK)
        fprintf(stderr, "quanta tune: %s (%s)\n", quanta_last_error(), quanta_status_name(st));
    free(report);
    quanta_backend_close(be);
    return st == QUANTA_OK ? 0 : 1;
}
