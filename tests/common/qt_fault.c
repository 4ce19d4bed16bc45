/* qt_fault.c — the wrapped allocation and write functions behind qt_fault.h. The linker sends
 * every call to malloc etc. from the objects of the test program (the Quanta library included:
 * tests link its static archive) to __wrap_malloc, which fails the armed call and otherwise
 * calls the real function (__real_malloc). */
#include "qt_fault.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
size_t __real_fwrite(const void *p, size_t size, size_t n, FILE *f);
int __real_fsync(int fd);
int __real_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
size_t __wrap_fwrite(const void *p, size_t size, size_t n, FILE *f);
int __wrap_fsync(int fd);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg);

static atomic_int armed = -1; /* the kind armed, -1 none */
static atomic_long calls, fail_at;
static atomic_int fired;
static atomic_int raise_sig; /* 0: fail the call; else raise this signal before it */

void qt_fault_arm_signal(qt_fault_kind kind, long n, int sig) {
    qt_fault_arm(kind, n);
    raise_sig = sig;
}

void qt_fault_arm(qt_fault_kind kind, long n) {
    armed = -1;
    raise_sig = 0;
    calls = 0;
    fired = 0;
    fail_at = n;
    armed = (int)kind;
}

void qt_fault_disarm(void) { armed = -1; }
long qt_fault_calls(void) { return calls; }
int qt_fault_fired(void) { return fired; }

/* 1 when this call of kind k is the one to fail. */
static int should_fail(int k) {
    if (armed != k) return 0;
    long c = ++calls;
    if (fail_at > 0 && c == fail_at) {
        fired = 1;
        if (raise_sig) {
            raise(raise_sig);
            return 0;
        }
        return 1;
    }
    return 0;
}

void *__wrap_malloc(size_t n) {
    if (should_fail(QT_FAULT_ALLOC)) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size) {
    if (should_fail(QT_FAULT_ALLOC)) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n) {
    if (n && should_fail(QT_FAULT_ALLOC)) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_realloc(p, n);
}

size_t __wrap_fwrite(const void *p, size_t size, size_t n, FILE *f) {
    if (size && n && should_fail(QT_FAULT_WRITE)) {
        errno = ENOSPC;
        return 0;
    }
    return __real_fwrite(p, size, n, f);
}

int __wrap_fsync(int fd) {
    if (should_fail(QT_FAULT_WRITE)) {
        errno = EIO;
        return -1;
    }
    return __real_fsync(fd);
}

int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg) {
    if (should_fail(QT_FAULT_THREAD)) return EAGAIN; /* what glibc returns out of threads or memory */
    return __real_pthread_create(t, a, fn, arg);
}
