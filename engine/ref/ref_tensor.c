/*
 * ref_tensor.c — the reference ops' shared tensor helpers: element counts, f32 scratch loads
 * and stores, row readers of any table format (ref_ops.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ref_ops.h"

size_t qn_ref_count(const qn_tensor *t) {
    size_t n = 1;
    for (int i = 0; i < t->desc.ndim; i++) n *= (size_t)t->desc.dims[i];
    return n;
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

void qn_ref_rows_open(const qn_tensor *t, qn_ref_rows *out) {
    memset(out, 0, sizeof *out);
    out->dtype = t->desc.dtype;
    if (qn_dtype_is_float(t->desc.dtype)) {
        size_t n = qn_ref_count(t);
        out->cols = t->desc.dims[t->desc.ndim - 1];
        out->rows = out->cols ? (int64_t)(n / (size_t)out->cols) : 0;
        out->base = n ? qn_host_ptr(t) : NULL;
        return;
    }
    /* A quantized tensor whose descriptor the graph validated (quanta_tensor_bytes): a 2-D
     * matrix, or a 2..4-D row-scaled KV pool (q8, fp8). */
    (void)qn_quant_layout_get(&t->desc, &out->layout);
    out->quantized = true;
    out->rows = out->layout.rows;
    out->cols = out->layout.cols;
    out->base = qn_host_ptr(t);
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

