/* util.c — the harness's small shared helpers: error messages into a caller's buffer and
 * growing arrays. */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>

#include "conform.h"

int qc_err(char *err, size_t errlen, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

void *qc_grow(void *v, size_t n, size_t *cap, size_t elem, size_t first) {
    if (n < *cap) return v;
    size_t ncap = *cap ? *cap * 2 : first;
    if (!elem || ncap > SIZE_MAX / elem) return NULL;
    void *nv = realloc(v, ncap * elem);
    if (nv) *cap = ncap;
    return nv;
}
