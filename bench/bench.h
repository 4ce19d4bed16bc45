/*
 * bench.h — `quanta bench`: kernel benchmarks of any backend against the device's own limits
 * and against a peer library, through the public API plus the backends' optional measurement
 * hooks (engine/bench_hooks.h: copy_bandwidth, peer_gemm). Backend-agnostic: the same code measures opencl, cuda and ref.
 *
 *   copy      the device's copy bandwidth (bytes read + written per second, a copy kernel)
 *   gemv      quantized y = x·W^T at M = 1: weight bytes read per second, and its ratio to copy
 *   gemm      M = 256: GFLOP/s against the peer (e.g. CLBlast Sgemm on f32 weights)
 *   attention prefill and decode tokens/s against the reference backend
 *
 * Shapes are LLaMA-7B-like (K = 4096, N = 4096 / 11008, 32 heads of 128) and scaled down in
 * --quick mode or when the device is a CPU.
 */
#ifndef QUANTA_BENCH_H
#define QUANTA_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "quanta.h"

typedef struct qb_options {
    const char *backend;  /* backend spec, e.g. "opencl", "cuda:0" */
    const char *json;     /* NULL: no JSON file */
    bool quick;
    bool no_ref;          /* skip the reference attention baseline */
    double min_seconds;   /* time each measurement at least this long */
} qb_options;

#define QB_MAX_ROWS 96

typedef struct qb_row {
    char kind[16];        /* "copy", "gemv", "gemm", "attention" */
    char name[48];        /* format or case */
    int64_t m, n, k;      /* matmul shape, or attention B, Nq, Nk */
    double seconds;       /* per call */
    double value;         /* GB/s, GFLOP/s or tokens/s */
    char unit[12];
    double peer_value;    /* copy GB/s, peer GFLOP/s or ref tokens/s (0: none) */
    char peer[48];
    double ratio;         /* value / peer_value (0: none) */
    char note[96];
} qb_row;

typedef struct qb_report {
    quanta_device_info device;
    char backend[32];
    bool quick;
    double copy_gbps;
    int nrows;
    qb_row rows[QB_MAX_ROWS];
} qb_report;

/* Runs every benchmark; returns 0, or -1 with a message on stderr. Progress goes to log. */
int qb_run(const qb_options *opt, qb_report *rep, FILE *log);
void qb_print(FILE *f, const qb_report *rep);
int qb_write_json(const char *path, const qb_report *rep);

/* The executor's per-op timing (QUANTA_PLAN_PROFILE=1, engine/plan.h): whether it is on, zeroing
 * the table, and printing it (ops largest first, times per step over `steps` steps) then zeroing it. */
int qb_profile_on(void);
void qb_profile_reset(void);
void qb_profile_print(FILE *f, const char *what, int steps);
/* The host-side split of steps (QUANTA_STEP_SPLIT=1, base/step_split.h): whether it is on, zeroing it,
 * printing it per step against the steps' wall time: the engine's calls, then the rest broken into the
 * model's phases (prep, check, post, eval's other work) and the caller's own time outside the evals. */
int qb_split_on(void);
void qb_split_reset(void);
void qb_split_print(FILE *f, const char *what, int steps, double wall_seconds);

#endif
