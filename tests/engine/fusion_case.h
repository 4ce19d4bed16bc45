/*
 * fusion_case.h — what the tests of the ops that plans fuse pairs into (test_glu.c: silu/gelu
 * + mul -> glu; test_rms_norm_add.c: rms_norm + add -> rms_norm_add) share: a graph of two f32
 * inputs [rows, D], planned on a backend with a check of what the plan runs (the fusion taken
 * or refused: how many ops, the first one's name), run, and its outputs read back, poisoned
 * first; and the pair that must stay two ops when its other operand is a broadcast row.
 */
#ifndef QUANTA_TESTS_FUSION_CASE_H
#define QUANTA_TESTS_FUSION_CASE_H

#include <stddef.h>
#include <stdint.h>

#include "quanta.h"

typedef struct qt_fusion_graph {
    quanta_graph *g;
    quanta_tensor *in[2]; /* the two inputs, f32 [rows, D] */
} qt_fusion_graph;

/* A new graph with inputs named name0 and name1 of f32 [rows, D]. */
void qt_fusion_begin(qt_fusion_graph *f, const char *name0, const char *name1, int64_t rows, int64_t D);

/* Plans f's graph on be and asserts that the plan runs want_ops ops (-1: any), the first named
 * want_first (NULL: any); sets the inputs to v0, v1 (n floats each), runs it and reads each of the nout
 * outputs outs[i] (marked by the caller) into ys[i], poisoned first. Destroys the plan and the
 * graph. `name` and `kind` label a failure. */
void qt_fusion_run(qt_fusion_graph *f, quanta_backend *be, const char *name, int kind, int want_ops,
                   const char *want_first, const float *v0, const float *v1, size_t n, int nout,
                   quanta_tensor *const *outs, float *const *ys);

/* The pair of a producer on x [4, 16] feeding a consumer whose other operand is row [16]
 * (broadcast): pair(g, x, row, &y) builds it. Asserts that the plan on the reference backend
 * keeps both ops. */
typedef quanta_status (*qt_fusion_pair)(quanta_graph *g, quanta_tensor *x, quanta_tensor *row, quanta_tensor **y);
void qt_fusion_check_broadcast_kept(qt_fusion_pair pair);

#endif
