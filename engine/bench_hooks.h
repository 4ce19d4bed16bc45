/*
 * bench_hooks.h — what only measuring asks of a backend: `quanta bench` and the tests (copy
 * bandwidth, a peer GEMM) and `quanta tune` (quanta_backend_tune: the sweep that fills a
 * backend's tuning table). Measurements are no part of running graphs, so they are not in
 * qn_backend_ops: a backend that offers them defines a qn_bench_hooks and appends its symbol to
 * bench_hook_tables in its meson.build (engine/meson.build generates the list). Internal;
 * bench/ and tests/ include it.
 */
#ifndef QUANTA_ENGINE_BENCH_HOOKS_H
#define QUANTA_ENGINE_BENCH_HOOKS_H

#include "backend.h"

typedef struct qn_bench_hooks {
    const qn_backend_ops *backend; /* the backend whose open state `self` is */
    /* The device's copy bandwidth measured with a copy kernel over `bytes` (bytes read +
     * written per second). NULL when the backend has none. */
    quanta_status (*copy_bandwidth)(void *self, size_t bytes, double *bytes_per_second);
    /* A vendor/peer dense f32 GEMM y[M,N] = x[M,K]·W[N,K]^T on the device (e.g. CLBlast
     * Sgemm), seconds per call, and the peer's name. NULL when the backend has none. */
    quanta_status (*peer_gemm)(void *self, int64_t m, int64_t n, int64_t k, double *seconds, char *peer_name,
                               size_t peer_name_len);
    /* For `quanta tune`: time the backend's kernel variants and work-group shapes on this
     * device and store the fastest in its tuning table; be is the public handle (to build test
     * graphs), report gets one line per table entry. quick: smaller shapes. NULL when the
     * backend has no tuning table. */
    quanta_status (*tune)(void *self, quanta_backend *be, int quick, char *report, size_t report_len);
    /* The summed device time of every kernel the backend has run since it opened and their count,
     * from its own timestamps, after waiting for the device (OpenCL: event profiling, kept under
     * QUANTA_OPENCL_EVENTS); QUANTA_ERR_UNSUPPORTED while it keeps none. For `quanta bench`'s kernel
     * rates: the device time of a stream of kernels, no launch or host round trip in it. NULL: none. */
    quanta_status (*kernel_time)(void *self, double *seconds, uint64_t *kernels);
} qn_bench_hooks;

/* The hooks of an open backend and its state (*self), NULL when it has none. */
const qn_bench_hooks *qn_bench_hooks_of(quanta_backend *backend, void **self);

#endif
