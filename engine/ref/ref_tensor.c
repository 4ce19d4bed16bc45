/*
 * ref_tensor.c — the reference ops' shared tensor helpers: checks of a node's host tensors,
 * f32 scratch loads and stores, row readers of any table format (ref_ops.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ref_ops.h"

static const char *ref_dtype_name(quanta_dtype t) {
    const char *n = quanta_dtype_name(t);
    return n ? n : "unknown";
}

quanta_status qn_ref_dense(const qn_tensor *t, const char *op, const char *arg, size_t *count) {
    if (!t) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "ref %s: %s is missing", op, arg);
    size_t esize = qn_dtype_elem_size(t->desc.dtype);
    if (esize == 0)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "ref %s: %s has dtype %s (%d), expected a dense dtype",
                            op, arg, ref_dtype_name(t->desc.dtype), (int)t->desc.dtype);
    if (t->desc.ndim < 1 || t->desc.ndim > QUANTA_MAX_DIMS)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "ref %s: %s has ndim %d, expected 1..%d", op, arg,
                            (int)t->desc.ndim, QUANTA_MAX_DIMS);
    size_t n = 1;
    for (int i = 0; i < t->desc.ndim; i++) {
        int64_t d = t->desc.dims[i];
        if (d < 0)
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "ref %s: %s dims[%d] = %lld is negative", op, arg, i,
                                (long long)d);
        if ((uint64_t)d > SIZE_MAX || !qn_mul_size(n, (size_t)d, &n))
            return qn_error_set(QUANTA_ERR_OVERFLOW, "ref %s: %s element count overflows", op, arg);
    }
    size_t bytes;
    if (!qn_mul_size(n, esize, &bytes))
        return qn_error_set(QUANTA_ERR_OVERFLOW, "ref %s: %s byte size overflows", op, arg);
    if (t->bytes < bytes)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "ref %s: %s has %zu bytes, its shape needs %zu", op, arg,
                            t->bytes, bytes);
    if (bytes > 0 && !t->mem.handle)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "ref %s: %s has no memory", op, arg);
    *count = n;
    return QUANTA_OK;
}

quanta_status qn_ref_float(const qn_tensor *t, const char *op, const char *arg, size_t *count) {
    if (t && !qn_dtype_is_float(t->desc.dtype))
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "ref %s: %s has dtype %s, expected f32, f16 or bf16", op,
                            arg, ref_dtype_name(t->desc.dtype));
    return qn_ref_dense(t, op, arg, count);
}

quanta_status qn_ref_typed(const qn_tensor *t, quanta_dtype dtype, const char *op, const char *arg,
                           size_t *count) {
    if (t && t->desc.dtype != dtype)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "ref %s: %s has dtype %s, expected %s", op, arg,
                            ref_dtype_name(t->desc.dtype), ref_dtype_name(dtype));
    return qn_ref_dense(t, op, arg, count);
}

void *qn_ref_calloc(size_t n, size_t size) {
    size_t bytes;
    if (!qn_mul_size(n, size, &bytes)) return NULL;
    return calloc(bytes ? bytes : 1, 1);
}

quanta_status qn_ref_oom(const char *op) {
    return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "ref %s: out of host memory for scratch buffers", op);
}

float *qn_ref_load(const qn_tensor *t, size_t count) {
    float *f = qn_ref_calloc(count, sizeof(float));
    if (f && count) qn_to_f32(t->desc.dtype, qn_host_ptr(t), f, count);
    return f;
}

void qn_ref_store(const qn_tensor *t, const float *src, size_t count) {
    if (count) qn_from_f32(t->desc.dtype, src, qn_host_ptr(t), count);
}

quanta_status qn_ref_rows_open(const qn_tensor *t, const char *op, const char *arg, qn_ref_rows *out) {
    memset(out, 0, sizeof *out);
    if (!t) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "ref %s: %s is missing", op, arg);
    out->dtype = t->desc.dtype;
    if (qn_dtype_is_float(t->desc.dtype)) {
        size_t n = 0;
        quanta_status st = qn_ref_dense(t, op, arg, &n);
        if (st != QUANTA_OK) return st;
        out->cols = t->desc.dims[t->desc.ndim - 1];
        out->rows = out->cols ? (int64_t)(n / (size_t)out->cols) : 0;
        out->base = n ? qn_host_ptr(t) : NULL;
        return QUANTA_OK;
    }
    if (!qn_dtype_is_quantized(t->desc.dtype))
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "ref %s: %s has dtype %s, expected a float or quantized dtype",
                            op, arg, ref_dtype_name(t->desc.dtype));
    /* the layout checks the dims: 2-D, or 2..4-D for row-scaled formats (a quantized KV pool) */
    quanta_status st = qn_quant_layout_get(&t->desc, &out->layout);
    if (st != QUANTA_OK) return st; /* message names the bad field */
    if (t->bytes < out->layout.total_bytes)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "ref %s: %s has %zu bytes, its %s layout needs %zu", op, arg,
                            t->bytes, ref_dtype_name(t->desc.dtype), out->layout.total_bytes);
    if (!t->mem.handle) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "ref %s: %s has no memory", op, arg);
    out->quantized = true;
    out->rows = out->layout.rows;
    out->cols = out->layout.cols;
    out->base = qn_host_ptr(t);
    return QUANTA_OK;
}

void qn_ref_rows_get(const qn_ref_rows *r, int64_t row, float *out) {
    if (r->quantized) {
        qn_dequant_row(&r->layout, r->dtype, r->base, row, out);
        return;
    }
    size_t esize = qn_dtype_elem_size(r->dtype);
    const char *p = (const char *)r->base + (size_t)row * (size_t)r->cols * esize;
    qn_to_f32(r->dtype, p, out, (size_t)r->cols);
}

/* ------------------------------------------------------------------ dispatch */

