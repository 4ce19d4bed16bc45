/* qt_check.h — assertion helpers shared by the Check tests: a cheap check for hot loops and an
 * error check that also reads the thread's message. */
#ifndef QUANTA_QT_CHECK_H
#define QUANTA_QT_CHECK_H

#include <check.h>
#include <string.h>

#include "quanta.h"

/* Check's ck_assert records a mark point (a write to its message pipe) on every success; the
 * hot loops use QT_CHECK, which only calls into Check on failure, to keep the suite fast. */
#define QT_CHECK(cond, ...)                     \
    do {                                        \
        if (!(cond)) ck_abort_msg(__VA_ARGS__); \
    } while (0)

/* A graph input of dtype t and the first nd of dims (d0, d1, d2, d3), asserted made: the
 * operands of the tests that feed ops bad arguments. */
#define QT_INPUT(g, t, nd, d0, d1, d2, d3) qt_input_at(g, t, nd, d0, d1, d2, d3, __FILE__, __LINE__)
static inline quanta_tensor *qt_input_at(quanta_graph *g, quanta_dtype t, int nd, int64_t d0, int64_t d1, int64_t d2,
                                         int64_t d3, const char *file, int line) {
    quanta_tensor_desc d;
    memset(&d, 0, sizeof d);
    d.dtype = t;
    d.ndim = nd;
    const int64_t dims[4] = {d0, d1, d2, d3};
    for (int i = 0; i < nd && i < 4; i++) d.dims[i] = dims[i];
    quanta_tensor *x = NULL;
    const quanta_status st = quanta_graph_input(g, NULL, &d, &x);
    ck_assert_msg(st == QUANTA_OK, "%s:%d: graph input: %s", file, line, quanta_last_error());
    return x;
}

/* Asserts that `call` returns status `st` and that the thread's message contains each of the
 * words given after it (one or more). A macro, so that a failure names the caller's line. */
#define QT_EXPECT_ERR(call, st, ...)                                                                     \
    do {                                                                                                 \
        quanta_status got_ = (call);                                                                     \
        ck_assert_msg(got_ == (st), "%s returned %s, want %s (%s)", #call, quanta_status_name(got_),     \
                      quanta_status_name(st), quanta_last_error());                                      \
        const char *words_[] = { __VA_ARGS__, NULL };                                                    \
        for (int i_ = 0; words_[i_]; i_++)                                                               \
            ck_assert_msg(strstr(quanta_last_error(), words_[i_]), "message \"%s\" lacks \"%s\"",       \
                          quanta_last_error(), words_[i_]);                                              \
    } while (0)

#endif
