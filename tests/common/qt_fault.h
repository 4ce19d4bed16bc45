/* qt_fault.h — fault injection for tests: makes the N-th heap allocation (malloc, calloc,
 * realloc), the N-th file write (fwrite, fsync) or the N-th thread start (pthread_create: the
 * load's conversion threads, the tensor-parallel ranks) from the moment it is armed fail, in the test
 * program and the Quanta library linked into it. It works by link-time wrapping (no switch in
 * the library): link the test with qt_fault.c and QT_FAULT_LINK_ARGS (tests/meson.build). Calls
 * inside shared libraries (libc itself, Check, the OpenCL runtime) are not counted. */
#ifndef QUANTA_QT_FAULT_H
#define QUANTA_QT_FAULT_H

typedef enum qt_fault_kind { QT_FAULT_ALLOC = 0, QT_FAULT_WRITE = 1, QT_FAULT_THREAD = 2 } qt_fault_kind;

/* From now on, the n-th call of that kind fails (n >= 1); n = 0 counts calls without failing.
 * Arming one kind disarms the others. */
void qt_fault_arm(qt_fault_kind kind, long n);
/* Instead of failing it, raises signal sig just before the n-th call of that kind (an
 * interruption at a known point, e.g. in the middle of writing a file). */
void qt_fault_arm_signal(qt_fault_kind kind, long n, int sig);
/* Stops failing and counting. */
void qt_fault_disarm(void);
/* Calls of the armed kind counted since qt_fault_arm, and whether the n-th has failed. */
long qt_fault_calls(void);
int qt_fault_fired(void);

#endif
