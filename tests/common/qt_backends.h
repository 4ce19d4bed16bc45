/* qt_backends.h — the backends a test runs its cases on: ref, opencl and cuda, each that this build
 * has and this machine has a device for (the others are skipped, not failed: CI has no GPU). */
#ifndef QUANTA_QT_BACKENDS_H
#define QUANTA_QT_BACKENDS_H

#include "quanta.h"

/* Opens the next such backend from *i on (start at 0): 1 with *be open (the caller closes it) and
 * *name set, 0 when none is left.
 *   for (int i = 0; qt_next_backend(&i, &be, &name);) { ...; quanta_backend_close(be); } */
static inline int qt_next_backend(int *i, quanta_backend **be, const char **name) {
    static const char *const names[] = {"ref", "opencl", "cuda"};
    while (*i < (int)(sizeof names / sizeof names[0])) {
        const char *n = names[(*i)++];
        if (quanta_backend_open(n, be) == QUANTA_OK) {
            *name = n;
            return 1;
        }
    }
    return 0;
}

#endif
