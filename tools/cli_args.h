/*
 * cli_args.h — what every `quanta` sub-command shares on its command line: getopt_long with
 * our own one-line messages, strict number parsing (the whole value, in range, finite), text
 * from a file or stdin ("-"), and the exit codes (commands.h).
 *
 * Each helper that finds a bad value prints "quanta CMD: ..." naming the option and returns
 * QN_EXIT_USAGE, so a caller writes `if ((rc = qn_arg_int(...))) return rc;`.
 */
#ifndef QUANTA_TOOLS_CLI_ARGS_H
#define QUANTA_TOOLS_CLI_ARGS_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "quanta.h"

enum { QN_EXIT_OK = 0, QN_EXIT_FAIL = 1, QN_EXIT_USAGE = 2 };

#if defined(__GNUC__)
#define QN_CLI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define QN_CLI_PRINTF(a, b)
#endif

/* Prints "quanta CMD: MESSAGE (try 'quanta CMD --help')" and returns QN_EXIT_USAGE. */
int qn_usage_error(const char *cmd, const char *fmt, ...) QN_CLI_PRINTF(2, 3);
/* Prints "quanta CMD: MESSAGE" and returns QN_EXIT_FAIL (a run-time failure). */
int qn_fail(const char *cmd, const char *fmt, ...) QN_CLI_PRINTF(2, 3);
/* Prints "quanta CMD: WHAT: <the library's message> (STATUS)" and returns QN_EXIT_FAIL. */
int qn_status_fail(const char *cmd, const char *what, quanta_status st);
/* Opens --backend SPEC. A spec the library rejects (an unknown name, a device index out of range)
 * is the user's typo: a usage error (QN_EXIT_USAGE); a backend without a usable device is a
 * run-time failure (QN_EXIT_FAIL). */
int qn_backend_open_arg(const char *cmd, const char *spec, quanta_backend **be);

/* getopt_long over argv[0..argc) (argv[0] is the sub-command's name). llama.cpp's single-dash
 * long names ("-ngl") are accepted as their "--" forms when the table has them. Returns the
 * option's value as getopt_long does, -1 at the end, or '?' after printing a usage error
 * (unknown option, missing value, or a stray argument when the command takes none; with
 * allow_operands they are left at argv[optind..]). Call qn_getopt_begin first. */
typedef struct qn_getopt_state {
    const char *cmd;
    int argc;
    char **argv;
    const char *shortopts;
    const struct option *longopts;
    int allow_operands;  /* leave non-option arguments for the caller (optind onwards) */
} qn_getopt_state;
void qn_getopt_begin(qn_getopt_state *s, const char *cmd, int argc, char **argv, const char *shortopts,
                     const struct option *longopts, int allow_operands);
int qn_getopt(qn_getopt_state *s);

/* Strict numbers: the whole text, base 10 (integers), within [lo, hi] (doubles also finite). */
int qn_arg_long(const char *cmd, const char *opt, const char *text, long lo, long hi, long *out);
int qn_arg_int(const char *cmd, const char *opt, const char *text, int lo, int hi, int *out);
int qn_arg_u64(const char *cmd, const char *opt, const char *text, uint64_t *out);
int qn_arg_double(const char *cmd, const char *opt, const char *text, double lo, double hi, double *out);
int qn_arg_float(const char *cmd, const char *opt, const char *text, double lo, double hi, float *out);

/* The whole contents of a file, or of stdin when path is "-", NUL-terminated (caller frees).
 * NULL after printing "quanta CMD: OPT PATH: reason" (the caller returns QN_EXIT_FAIL). */
char *qn_read_text(const char *cmd, const char *opt, const char *path, size_t *len);

/* Whether stderr is a terminal (progress bars are drawn only then). */
int qn_stderr_is_tty(void);

#endif
