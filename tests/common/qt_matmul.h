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

#endif
