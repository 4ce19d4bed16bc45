/*
 * cl_graph_set.h — the decode-shaped graphs of the OpenCL plan tests (test_opencl_norm_gemv, test_opencl_xq_norm): a
 * graph with its inputs and its outputs in order, f32 vectors drawn for it, and its plan run twice (an execute, then a
 * replay where the executor records), every output read back.
 */
#ifndef QUANTA_CL_GRAPH_SET_H
#define QUANTA_CL_GRAPH_SET_H

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qt_check.h"
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

/* got (both runs of s's plan) bit for bit equal to want; what names the pair in the message. */
static inline void qt_gs_same(const qt_graph_set *s, float *want[2][QT_GS_MAXOUT], float *got[2][QT_GS_MAXOUT],
                              const char *what) {
    for (int j = 0; j < s->nout; j++)
        for (int rep = 0; rep < 2; rep++)
            ck_assert_msg(!memcmp(want[rep][j], got[rep][j], s->n[j] * sizeof(float)), "%s: output %d, run %d differs",
                          what, j, rep);
}

/* s's plan on the reference backend into ref, then got (both runs) within 1e-3 of each output's largest reference
 * magnitude (+ 1e-6) of ref's first run: so that a bit-equal pair of OpenCL settings is not of two wrong results. */
static inline void qt_gs_near_ref(qt_graph_set *s, float *ref[2][QT_GS_MAXOUT], float *got[2][QT_GS_MAXOUT],
                                  const char *what) {
    quanta_backend *be;
    ck_assert_int_eq(quanta_backend_open("ref", &be), QUANTA_OK);
    qt_gs_run(be, s, ref);
    quanta_backend_close(be);
    for (int j = 0; j < s->nout; j++) {
        double big = 0;
        for (size_t i = 0; i < s->n[j]; i++) big = fmax(big, fabs(ref[0][j][i]));
        for (int rep = 0; rep < 2; rep++)
            for (size_t i = 0; i < s->n[j]; i++)
                QT_CHECK(fabs(got[rep][j][i] - ref[0][j][i]) <= 1e-3 * big + 1e-6, "%s, output %d[%zu], run %d: opencl %g, ref %g",
                         what, j, i, rep, (double)got[rep][j][i], (double)ref[0][j][i]);
    }
}

#endif
