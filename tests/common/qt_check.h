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
