/* qt_matmul.h — helpers of the matmul fusion tests: a random weight (drawn, stored in a dtype, and
 * the values the library decodes from it, for float64 references), and whether a backend runs
 * OpenCL's CPU-class GEMV (the kernels that take the fused decode products). */
#ifndef QUANTA_QT_MATMUL_H
#define QUANTA_QT_MATMUL_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "qt_tensor.h"
#include "quanta.h"
#include "test_util.h"

/* A weight [N, K] ~ N(0, 1/√K) in dtype wt, and its values as the library decodes them (f32,
 * for the float64 computation): f16 rounded, q8 through quanta_dequantize. */
typedef struct weight {
    quanta_tensor_desc desc;
    void *data;
    size_t bytes;
    float *values;
} weight;

static inline weight make_weight(quanta_dtype wt, int64_t N, int64_t K, qt_rng *r) {
    weight w;
    const size_t n = (size_t)(N * K);
    w.desc = qt_desc(wt, 2, N, K, 0, 0);
    w.values = malloc(n * sizeof *w.values);
    ck_assert_ptr_nonnull(w.values);
    qt_fill_normal(r, w.values, n, (float)(1.0 / sqrt((double)K)));
    ck_assert_int_eq(quanta_tensor_bytes(&w.desc, &w.bytes), QUANTA_OK);
    w.data = malloc(w.bytes);
    ck_assert_ptr_nonnull(w.data);
    ck_assert_int_eq(quanta_quantize(&w.desc, w.values, w.data, w.bytes), QUANTA_OK);
    ck_assert_int_eq(quanta_dequantize(&w.desc, w.data, w.bytes, w.values, n), QUANTA_OK);
    return w;
}

static inline void weight_free(weight *w) {
    free(w->data);
    free(w->values);
}

/* Whether backend be (named name) is OpenCL on its CPU-class kernels: a CPU device, or
 * QUANTA_OPENCL_CLASS=cpu (=gpu forces the GPU class). */
static inline int qt_opencl_cpu_class(quanta_backend *be, const char *name) {
    if (strcmp(name, "opencl")) return 0;
    const char *cls = getenv("QUANTA_OPENCL_CLASS");
    if (cls && !strcmp(cls, "gpu")) return 0;
    if (cls && !strcmp(cls, "cpu")) return 1;
    quanta_device_info info;
    ck_assert_int_eq(quanta_backend_device(be, &info), QUANTA_OK);
    return strstr(info.details, "; CPU;") != NULL;
}

/* How far a backend's products are from the float64 ones. ref and OpenCL compute in f32 from
 * exactly decoded weights: every element within 1e-5 of its scale (1 + |want|). CUDA's matmul
 * kernels hold x as f16 or as int8 codes per 32-element chunk (ggml_xq.cuh) and ggml weight scales
 * as f16, so an element is off by ~1e-4..1e-2 of the scale there (measured on the H100 on
 * 2026-12-05: 3.5e-4 and 5.4e-4 at M = 1 on q8): its products are held to the contract the
 * conformance suite states for every matmul backend that computes with reduced precision
 * (thresholds.c: NMSE <= 5e-4 and no element off by more than 2% of the largest). */
typedef struct qt_prod_err {
    double maxrel, err2, ref2, maxabs, refmax;
} qt_prod_err;

static inline void qt_prod_err_add(qt_prod_err *e, double got, double want) {
    const double d = fabs(got - want);
    if (d / (1.0 + fabs(want)) > e->maxrel) e->maxrel = d / (1.0 + fabs(want));
    e->err2 += d * d;
    e->ref2 += want * want;
    if (d > e->maxabs) e->maxabs = d;
    if (fabs(want) > e->refmax) e->refmax = fabs(want);
}

/* 1 where the products meet the backend's bound (see qt_prod_err); *what says which bound. */
static inline int qt_prod_err_ok(const qt_prod_err *e, const char *backend, const char **what) {
    if (strcmp(backend, "cuda") != 0) {
        *what = "max |got - want| / (1 + |want|) < 1e-5";
        return e->maxrel < 1e-5;
    }
    *what = "NMSE <= 5e-4 and max |got - want| <= 0.02 max |want| (reduced-precision matmul)";
    return e->err2 <= 5e-4 * e->ref2 && e->maxabs <= 0.02 * e->refmax;
}

#endif
