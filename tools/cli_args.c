/* cli_args.c — the command-line helpers every sub-command shares (cli_args.h). */
#include "cli_args.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void vprint(const char *cmd, const char *fmt, va_list ap) {
    fprintf(stderr, "quanta %s: ", cmd);
    vfprintf(stderr, fmt, ap);
}

int qn_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vprint(cmd, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (try 'quanta %s --help')\n", cmd);
    return QN_EXIT_USAGE;
}

int qn_fail(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vprint(cmd, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return QN_EXIT_FAIL;
}

int qn_status_fail(const char *cmd, const char *what, quanta_status st) {
    return qn_fail(cmd, "%s: %s (%s)", what, quanta_last_error(), quanta_status_name(st));
}

int qn_backend_open_arg(const char *cmd, const char *spec, quanta_backend **be) {
    quanta_status st = quanta_backend_open(spec, be);
    if (st == QUANTA_ERR_INVALID_ARGUMENT) return qn_usage_error(cmd, "--backend %s: %s", spec, quanta_last_error());
    return st ? qn_status_fail(cmd, "opening the backend", st) : QN_EXIT_OK;
}

/* llama.cpp spells a few long options with one dash. */
static const char *const single_dash_long[][2] = {{"-ngl", "--n-gpu-layers"}};

void qn_getopt_begin(qn_getopt_state *s, const char *cmd, int argc, char **argv, const char *shortopts,
                     const struct option *longopts, int allow_operands) {
    *s = (qn_getopt_state){cmd, argc, argv, shortopts, longopts, allow_operands};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--")) break;
        for (size_t k = 0; k < sizeof single_dash_long / sizeof *single_dash_long; k++)
            if (!strcmp(argv[i], single_dash_long[k][0])) {
                for (const struct option *o = longopts; o && o->name; o++)
                    if (!strcmp(o->name, single_dash_long[k][1] + 2)) argv[i] = (char *)single_dash_long[k][1];
            }
    }
    optind = 0; /* glibc: full re-initialisation (tests may parse more than once per process) */
    opterr = 0;
}

int qn_getopt(qn_getopt_state *s) {
    /* A leading ':' makes a missing value ':' instead of '?'. GNU getopt moves operands to the
     * end, so after the last option they are argv[optind..]. */
    char spec[128];
    snprintf(spec, sizeof spec, ":%s", s->shortopts);
    int c = getopt_long(s->argc, s->argv, spec, s->longopts, NULL);
    if (c == ':') {
        qn_usage_error(s->cmd, "option %s needs a value", s->argv[optind - 1]);
        return '?';
    }
    if (c == '?') {
        if (optopt && optopt < 256) qn_usage_error(s->cmd, "unknown option '-%c'", optopt);
        else qn_usage_error(s->cmd, "unknown option '%s'", s->argv[optind - 1]);
        return '?';
    }
    if (c == -1 && !s->allow_operands && optind < s->argc) {
        qn_usage_error(s->cmd, "unexpected argument '%s'", s->argv[optind]);
        return '?';
    }
    return c;
}

int qn_arg_long(const char *cmd, const char *opt, const char *text, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    /* whole: strtol would also skip leading white space */
    const int whole = text && *text && !isspace((unsigned char)*text);
    long v = whole ? strtol(text, &end, 10) : 0;
    if (!whole || *end || errno == ERANGE || v < lo || v > hi)
        return qn_usage_error(cmd, "%s '%s' is not an integer in [%ld, %ld]", opt, text ? text : "", lo, hi);
    *out = v;
    return QN_EXIT_OK;
}

int qn_arg_int(const char *cmd, const char *opt, const char *text, int lo, int hi, int *out) {
    long v = 0;
    int rc = qn_arg_long(cmd, opt, text, lo, hi, &v);
    if (!rc) *out = (int)v;
    return rc;
}

int qn_arg_u64(const char *cmd, const char *opt, const char *text, uint64_t *out) {
    char *end;
    errno = 0;
    /* strtoull takes "-1" as 2^64 - 1: only digits are a seed. */
    unsigned long long v = text && *text >= '0' && *text <= '9' ? strtoull(text, &end, 10) : 0;
    if (!text || !(*text >= '0' && *text <= '9') || *end || errno == ERANGE)
        return qn_usage_error(cmd, "%s '%s' is not an unsigned 64-bit integer", opt, text ? text : "");
    *out = v;
    return QN_EXIT_OK;
}

int qn_arg_double(const char *cmd, const char *opt, const char *text, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    const int whole = text && *text && !isspace((unsigned char)*text); /* as in qn_arg_long */
    double v = whole ? strtod(text, &end) : 0;
    if (!whole || *end || errno == ERANGE || !isfinite(v) || v < lo || v > hi)
        return qn_usage_error(cmd, "%s '%s' is not a number in [%g, %g]", opt, text ? text : "", lo, hi);
    *out = v;
    return QN_EXIT_OK;
}

int qn_arg_float(const char *cmd, const char *opt, const char *text, double lo, double hi, float *out) {
    double v = 0;
    int rc = qn_arg_double(cmd, opt, text, lo, hi, &v);
    if (!rc) *out = (float)v;
    return rc;
}

char *qn_read_text(const char *cmd, const char *opt, const char *path, size_t *len) {
    int from_stdin = !strcmp(path, "-");
    FILE *f = from_stdin ? stdin : fopen(path, "rb");
    if (!f) {
        qn_fail(cmd, "%s %s: %s", opt, path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    int too_big = 0;
    while (buf) {
        if (n + 1 == cap) {
            char *nb = cap > ((size_t)1 << 30) ? NULL : realloc(buf, cap * 2);
            if (!nb) {
                too_big = 1;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - 1 - n, f);
        n += r;
        if (!r) break;
    }
    int err = ferror(f);
    if (!from_stdin) fclose(f);
    if (!buf || too_big || err) {
        free(buf);
        qn_fail(cmd, "%s %s: %s", opt, from_stdin ? "(stdin)" : path, err ? "read error" : "too large or out of memory");
        return NULL;
    }
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

int qn_stderr_is_tty(void) { return isatty(STDERR_FILENO); }
