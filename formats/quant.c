/* quant.c — descriptor validation, interchange layouts, and the dispatch from generic entry
 * points (qn_dequant_row, qn_quantize, qn_dequantize, qn_to_f32/qn_from_f32) to the formats. */
#include "quant_impl.h"

#include <limits.h>

#include "error.h"

/* All validation lives here; `what` prefixes every message ("quanta_quantize: desc"). */
static quanta_status layout_get(const quanta_tensor_desc *d, const char *what, qn_quant_layout *L) {
    if (!d) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s is NULL", what);
    if (!qn_format_of(d->dtype))
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s->dtype %d is not a known quanta_dtype", what,
                            (int)d->dtype);
    bool quant = qn_dtype_is_quantized(d->dtype);
    /* Formats with one scale per row of the last dim (q8, fp8) may have 2 to 4 dims, rows being
     * the product of the leading ones: a paged KV pool [1, H, R, D] keeps a scale per head and
     * position. Block and group formats stay 2-D weight matrices. */
    bool row_scaled = qn_format_of(d->dtype)->layout == qn_row_scale_layout;
    if (quant && d->ndim != 2 && !(row_scaled && d->ndim >= 2 && d->ndim <= QUANTA_MAX_DIMS))
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "%s->ndim is %d but quantized dtype %s needs a 2-D [rows, cols] matrix%s", what,
                            (int)d->ndim, quanta_dtype_name(d->dtype), row_scaled ? " (2 to 4 dims)" : "");
    if (d->ndim < 1 || d->ndim > QUANTA_MAX_DIMS)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s->ndim is %d, must be 1..%d", what, (int)d->ndim,
                            QUANTA_MAX_DIMS);
    size_t count = 1;
    for (int i = 0; i < d->ndim; i++) {
        if (d->dims[i] <= 0)
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s->dims[%d] is %lld, must be positive", what, i,
                                (long long)d->dims[i]);
#if SIZE_MAX < INT64_MAX
        if ((uint64_t)d->dims[i] > SIZE_MAX)
            return qn_error_set(QUANTA_ERR_OVERFLOW, "%s->dims[%d] = %lld does not fit size_t", what, i,
                                (long long)d->dims[i]);
#endif
        if (!qn_mul_size(count, (size_t)d->dims[i], &count))
            return qn_error_set(QUANTA_ERR_OVERFLOW, "%s->dims: element count overflows size_t at dims[%d] = %lld",
                                what, i, (long long)d->dims[i]);
    }
    memset(L, 0, sizeof *L);
    L->dtype = (int32_t)d->dtype;
    L->cols = d->dims[d->ndim - 1];
    L->rows = (int64_t)(count / (size_t)L->cols);
    const qn_format *f = qn_format_of(d->dtype);
    if (f->layout) return f->layout(d, what, L);
    /* Dense: count <= SIZE_MAX already; the bytes may not fit. */
    size_t total;
    if (!qn_mul_size((size_t)L->cols, f->elem_size, &L->codes_row_bytes) || !qn_mul_size(count, f->elem_size, &total))
        return qn_layout_overflow(what, L);
    L->total_bytes = total;
    return QUANTA_OK;
}

quanta_status qn_layout_overflow(const char *what, const qn_quant_layout *L) {
    return qn_error_set(QUANTA_ERR_OVERFLOW, "%s: byte size of the %s tensor [%lld x %lld] overflows size_t", what,
                        quanta_dtype_name((quanta_dtype)L->dtype), (long long)L->rows, (long long)L->cols);
}

quanta_status qn_quant_layout_get(const quanta_tensor_desc *desc, qn_quant_layout *out) {
    if (!out) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_quant_layout_get: out is NULL");
    return layout_get(desc, "qn_quant_layout_get: desc", out);
}

quanta_status qn_desc_check(const quanta_tensor_desc *desc, const char *what) {
    qn_quant_layout L;
    return layout_get(desc, what ? what : "desc", &L);
}

quanta_status qn_desc_elements(const quanta_tensor_desc *desc, size_t *count) {
    qn_quant_layout L;
    if (!count) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_desc_elements: count is NULL");
    quanta_status st = layout_get(desc, "qn_desc_elements: desc", &L);
    if (st != QUANTA_OK) return st;
    *count = (size_t)L.rows * (size_t)L.cols; /* fits: checked in layout_get */
    return QUANTA_OK;
}

void qn_to_f32(quanta_dtype t, const void *src, float *dst, size_t count) {
    switch (t) {
    case QUANTA_F32: memcpy(dst, src, count * sizeof(float)); break;
    case QUANTA_F16: {
        const uint8_t *p = src;
        for (size_t i = 0; i < count; i++) dst[i] = qn_f16_to_f32(qn_load_u16(p + 2 * i));
        break;
    }
    case QUANTA_BF16: {
        const uint8_t *p = src;
        for (size_t i = 0; i < count; i++) dst[i] = qn_bf16_to_f32(qn_load_u16(p + 2 * i));
        break;
    }
    case QUANTA_I32: {
        const uint8_t *p = src;
        for (size_t i = 0; i < count; i++) {
            uint32_t u = qn_load_u32(p + 4 * i);
            int32_t v;
            memcpy(&v, &u, sizeof v);
            dst[i] = (float)v;
        }
        break;
    }
    case QUANTA_U8: {
        const uint8_t *p = src;
        for (size_t i = 0; i < count; i++) dst[i] = (float)p[i];
        break;
    }
    default: break; /* quantized types are not element-wise: use qn_dequant_row */
    }
}

void qn_from_f32(quanta_dtype t, const float *src, void *dst, size_t count) {
    uint8_t *p = dst;
    switch (t) {
    case QUANTA_F32: memcpy(dst, src, count * sizeof(float)); break;
    case QUANTA_F16:
        for (size_t i = 0; i < count; i++) qn_store_u16(p + 2 * i, qn_f32_to_f16(src[i]));
        break;
    case QUANTA_BF16:
        for (size_t i = 0; i < count; i++) qn_store_u16(p + 2 * i, qn_f32_to_bf16(src[i]));
        break;
    case QUANTA_I32: /* round half to even, saturate; NaN -> 0 */
        for (size_t i = 0; i < count; i++) {
            float x = src[i];
            int32_t v = 0;
            if (x >= 2147483648.0f) v = INT32_MAX;
            else if (x <= -2147483648.0f) v = INT32_MIN;
            else if (x == x) v = (int32_t)lrintf(x);
            uint32_t u = (uint32_t)v;
            p[4 * i] = (uint8_t)u;
            p[4 * i + 1] = (uint8_t)(u >> 8);
            p[4 * i + 2] = (uint8_t)(u >> 16);
            p[4 * i + 3] = (uint8_t)(u >> 24);
        }
        break;
    case QUANTA_U8: /* round half to even, saturate to [0, 255]; NaN -> 0 */
        for (size_t i = 0; i < count; i++) {
            float x = src[i];
            p[i] = x == x ? (uint8_t)qn_rne_clamp(x, 0, 255) : 0;
        }
        break;
    default: break;
    }
}

void qn_dequant_row(const qn_quant_layout *L, quanta_dtype t, const void *base, int64_t r, float *out) {
    const uint8_t *b = base;
    const qn_format *f = qn_format_of(t);
    if (f && f->dequant_row) f->dequant_row(L, b, r, out);
    else qn_to_f32(t, b + (size_t)r * L->codes_row_bytes, out, (size_t)L->cols);
}

quanta_status qn_quantize(const quanta_tensor_desc *desc, const float *src, void *dst, size_t dst_bytes) {
    qn_quant_layout L;
    quanta_status st = layout_get(desc, "quanta_quantize: desc", &L);
    if (st != QUANTA_OK) return st;
    if (!src) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_quantize: src is NULL");
    if (!dst) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_quantize: dst is NULL");
    if (dst_bytes < L.total_bytes)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_quantize: dst_bytes %zu is smaller than the %zu "
                            "bytes of the %s tensor", dst_bytes, L.total_bytes, quanta_dtype_name(desc->dtype));
    size_t rows = (size_t)L.rows, cols = (size_t)L.cols;
    if (!qn_dtype_is_quantized(desc->dtype)) {
        qn_from_f32(desc->dtype, src, dst, rows * cols);
        return QUANTA_OK;
    }
    for (size_t i = 0; i < rows * cols; i++) /* reject before writing anything */
        if (!isfinite(src[i]))
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                                "quanta_quantize: src[%zu][%zu] is %s; %s needs finite values", i / cols, i % cols,
                                isnan(src[i]) ? "NaN" : "infinite", quanta_dtype_name(desc->dtype));
    return qn_format_of(desc->dtype)->quantize(&L, src, dst);
}

bool qn_quantize_rows_ok(const qn_quant_layout *L) {
    quanta_dtype t = (quanta_dtype)L->dtype;
    const qn_format *f = qn_format_of(t);
    if (!f) return false;
    if (f->is_float) return true;
    /* nf4's double quantization codes every absmax against the mean of all blocks: rows depend on each other */
    return f->quantize_rows && !L->double_quant;
}

quanta_status qn_quantize_rows(const qn_quant_layout *L, quanta_dtype t, int64_t row0, int64_t nrows, const float *src,
                               void *dst) {
    size_t cols = (size_t)L->cols, n = (size_t)nrows * cols;
    uint8_t *d = dst;
    const qn_format *f = qn_format_of(t);
    if (f->is_float) {
        qn_from_f32(t, src, d + (size_t)row0 * cols * f->elem_size, n);
        return QUANTA_OK;
    }
    for (size_t i = 0; i < n; i++) /* as qn_quantize: reject before writing these rows */
        if (!isfinite(src[i]))
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                                "quanta_quantize: src[%zu][%zu] is %s; %s needs finite values", (size_t)row0 + i / cols,
                                i % cols, isnan(src[i]) ? "NaN" : "infinite", quanta_dtype_name(t));
    return f->quantize_rows(L, src, row0, nrows, d);
}

quanta_status qn_dequantize(const quanta_tensor_desc *desc, const void *src, size_t src_bytes, float *dst,
                            size_t dst_count) {
    qn_quant_layout L;
    quanta_status st = layout_get(desc, "quanta_dequantize: desc", &L);
    if (st != QUANTA_OK) return st;
    if (!src) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_dequantize: src is NULL");
    if (!dst) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_dequantize: dst is NULL");
    size_t rows = (size_t)L.rows, cols = (size_t)L.cols;
    if (src_bytes < L.total_bytes)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_dequantize: src_bytes %zu is smaller than the %zu "
                            "bytes of the %s tensor", src_bytes, L.total_bytes, quanta_dtype_name(desc->dtype));
    if (dst_count < rows * cols)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_dequantize: dst_count %zu is smaller than the %zu "
                            "elements of the tensor", dst_count, rows * cols);
    for (size_t r = 0; r < rows; r++) qn_dequant_row(&L, desc->dtype, src, (int64_t)r, dst + r * cols);
    return QUANTA_OK;
}
