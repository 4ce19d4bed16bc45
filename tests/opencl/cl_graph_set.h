/*
 * cl_graph_set.h — the decode-shaped graphs of the OpenCL plan tests (test_opencl_norm_gemv, test_opencl_xq_norm): a
 * graph with its inputs and its outputs in order, f32 vectors drawn for it, and its plan run twice (an execute, then a
 * replay where the executor records), every output read back.
 */
#ifndef QUANTA_CL_GRAPH_SET_H
#define QUANTA_CL_GRAPH_SET_H

#include <check.h>
#include <stdlib.h>

#include "qt_plan_run.h"
#include "qt_tensor.h"
#include "quanta.h"
#include "test_util.h"

#define QT_GS_MAXOUT 16

typedef struct qt_graph_set {
    quanta_graph *g;
    int nin, nout;
    qt_in in[4];
    quanta_tensor *out[QT_GS_MAXOUT];
    size_t n[QT_GS_MAXOUT];
} qt_graph_set;

/* An f32 constant of n values mean + N(0, 0.3) (a norm's weight); *keep: the host buffer to free. */
static inline quanta_tensor *qt_gs_vec(quanta_graph *g, const char *name, qt_rng *r, int64_t n, float mean, void **keep) {
    quanta_tensor_desc d = qt_desc(QUANTA_F32, 1, n, 0, 0, 0);
    float *v = malloc((size_t)n * sizeof *v);
    ck_assert_ptr_nonnull(v);
    for (int64_t i = 0; i < n; i++) v[i] = mean + qt_normal(r, 0.3f);
    *keep = v;
    quanta_tensor *t;
    ck_assert_int_eq(quanta_graph_constant(g, name, &d, v, (size_t)n * sizeof *v, &t), QUANTA_OK);
    return t;
}

/* t (n floats) as the next output. */
static inline void qt_gs_out(qt_graph_set *s, quanta_tensor *t, size_t n) {
    ck_assert(s->nout < QT_GS_MAXOUT);
    ck_assert_int_eq(quanta_graph_output(s->g, t), QUANTA_OK);
    s->out[s->nout] = t;
    s->n[s->nout++] = n;
}

/* Runs s's plan on be twice (an execute, then another: a replay where the executor records); res[run][out]. Not
 * guarded (qt_plan_guard): its poison writes and checks between ops would launch every held norm apart
 * (engine/opencl/cl_norm_gemv.c). Host buffers are poisoned by qt_plan_run. */
static inline void qt_gs_run(quanta_backend *be, qt_graph_set *s, float *res[2][QT_GS_MAXOUT]) {
    quanta_plan *plan;
    ck_assert_msg(quanta_plan_create(s->g, be, &plan) == QUANTA_OK, "%s", quanta_last_error());
    for (int rep = 0; rep < 2; rep++) {
        qt_out o[QT_GS_MAXOUT];
        for (int j = 0; j < s->nout; j++) o[j] = (qt_out){s->out[j], res[rep][j], s->n[j]};
        qt_plan_run(plan, s->nin, s->in, s->nout, o);
    }
    quanta_plan_destroy(plan);
}

#endif
