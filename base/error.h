/* error.h — the thread-local error message behind quanta_last_error() (internal). */
#ifndef QUANTA_BASE_ERROR_H
#define QUANTA_BASE_ERROR_H

#include "quanta.h"

#if defined(__GNUC__)
#define QN_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define QN_PRINTF(a, b)
#endif

/* Records a message for this thread and returns `status`, so callers can write
 * `return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "matmul: x must be 2-D, got %d-D", nd);`.
 * Messages name the function and the argument at fault. */
quanta_status qn_error_set(quanta_status status, const char *fmt, ...) QN_PRINTF(2, 3);
void qn_error_clear(void);

/* Overflow-checked size arithmetic: return false when the result would not fit. */
static inline int qn_mul_size(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > (size_t)-1 / a) return 0;
    *out = a * b;
    return 1;
}
static inline int qn_add_size(size_t a, size_t b, size_t *out) {
    if (b > (size_t)-1 - a) return 0;
    *out = a + b;
    return 1;
}

#endif
