/* quant.c — descriptor validation, interchange layouts, and the dispatch from generic entry
 * points (qn_dequant_row, qn_quantize, qn_dequantize, qn_to_f32/qn_from_f32) to the formats. */
#include "quant_impl.h"

#include <limits.h>

#include "error.h"
#include "gguf.h"

bool qn_dtype_is_quantized(quanta_dtype t) {
    return t == QUANTA_Q8 || t == QUANTA_Q4 || t == QUANTA_NF4 || t == QUANTA_FP8_E4M3 || t == QUANTA_FP8_E5M2 ||
           qn_dtype_is_ggml(t);
}

bool qn_dtype_is_float(quanta_dtype t) { return t == QUANTA_F32 || t == QUANTA_F16 || t == QUANTA_BF16; }

size_t qn_dtype_elem_size(quanta_dtype t) {
    switch (t) {
    case QUANTA_F32:
    case QUANTA_I32: return 4;
    case QUANTA_F16:
    case QUANTA_BF16: return 2;
    case QUANTA_U8: return 1;
    default: return 0;
    }
}

static bool dtype_known(quanta_dtype t) { return qn_dtype_elem_size(t) != 0 || qn_dtype_is_quantized(t); }

/* All validation lives here; `what` prefixes every message ("quanta_quantize: desc"). */
static quanta_status layout_get(const quanta_tensor_desc *d, const char *what, qn_quant_layout *L) {
    if (!d) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s is NULL", what);
    if (!dtype_known(d->dtype))
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s->dtype %d is not a known quanta_dtype", what,
                            (int)d->dtype);
    bool quant = qn_dtype_is_quantized(d->dtype);
    if (quant && d->ndim != 2)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "%s->ndim is %d but quantized dtype %s needs a 2-D [rows, cols] matrix", what,
                            (int)d->ndim, quanta_dtype_name(d->dtype));
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
    L->cols = d->dims[d->ndim - 1];
    L->rows = (int64_t)(count / (size_t)L->cols);
    size_t rows = (size_t)L->rows, cols = (size_t)L->cols, total = 0;
    const char *ovf = "%s: byte size of the %s tensor [%lld x %lld] overflows size_t";
#define OVF() qn_error_set(QUANTA_ERR_OVERFLOW, ovf, what, quanta_dtype_name(d->dtype), (long long)L->rows, \
                           (long long)L->cols)
    /* count <= SIZE_MAX already; every section below is at most count * 4 + small terms. */
    switch (d->dtype) {
    case QUANTA_Q8:
    case QUANTA_FP8_E4M3:
    case QUANTA_FP8_E5M2: {
        size_t sb;
        L->codes_row_bytes = cols;
        L->scales_offset = count;
        if (!qn_mul_size(rows, 4, &sb) || !qn_add_size(count, sb, &total)) return OVF();
        break;
    }
    case QUANTA_Q4: {
        int32_t g = d->group == 0 ? QN_Q4_DEFAULT_GROUP : d->group;
        if (g != 32 && g != 64 && g != 128)
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s->group is %d; q4 groups are 32, 64 or 128 (0 = 64)",
                                what, (int)d->group);
        if (cols % (size_t)g != 0)
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                                "%s->dims[1] (cols = %lld) is not a multiple of the q4 group size %d", what,
                                (long long)L->cols, (int)g);
        size_t ng = cols / (size_t)g, nsc, sb, zb;
        L->group = g;
        L->codes_row_bytes = cols / 2;
        L->scales_offset = count / 2;
        L->zero_row_bytes = (ng + 1) / 2;
        if (!qn_mul_size(rows, ng, &nsc) || !qn_mul_size(nsc, 2, &sb) ||
            !qn_add_size(L->scales_offset, sb, &L->zeros_offset) || !qn_mul_size(rows, L->zero_row_bytes, &zb) ||
            !qn_add_size(L->zeros_offset, zb, &total))
            return OVF();
        break;
    }
    case QUANTA_NF4: {
        if (d->group != 0 && d->group != QN_NF4_BLOCK)
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s->group is %d; nf4 blocks are 64 (0 = 64)", what,
                                (int)d->group);
        if (d->double_quant != 0 && d->double_quant != 1)
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s->double_quant is %d, must be 0 or 1", what,
                                (int)d->double_quant);
        if (cols % QN_NF4_BLOCK != 0)
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                                "%s->dims[1] (cols = %lld) is not a multiple of the nf4 block size %d", what,
                                (long long)L->cols, QN_NF4_BLOCK);
        size_t nb = count / QN_NF4_BLOCK, t;
        L->group = QN_NF4_BLOCK;
        L->double_quant = d->double_quant;
        L->codes_row_bytes = cols / 2;
        L->scales_offset = count / 2;
        if (!d->double_quant) {
            if (!qn_mul_size(nb, 4, &t) || !qn_add_size(L->scales_offset, t, &total)) return OVF();
        } else {
            size_t ndq = nb / QN_NF4_DQ_BLOCK + (nb % QN_NF4_DQ_BLOCK != 0);
            if (!qn_add_size(L->scales_offset, nb, &L->zeros_offset) || !qn_mul_size(ndq, 4, &t) ||
                !qn_add_size(L->zeros_offset, t, &L->dq_mean_offset) || !qn_add_size(L->dq_mean_offset, 4, &total))
                return OVF();
        }
        break;
    }
    case QUANTA_GGML_Q4_0: case QUANTA_GGML_Q4_1: case QUANTA_GGML_Q5_0: case QUANTA_GGML_Q5_1:
    case QUANTA_GGML_Q8_0: case QUANTA_GGML_Q4_K: case QUANTA_GGML_Q5_K: case QUANTA_GGML_Q6_K: {
        uint32_t bb = 0, blk = qn_ggml_block_of(d->dtype, NULL, &bb);
        if (cols % blk != 0)
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                                "%s->dims[1] (cols = %lld) is not a multiple of the %s block of %u", what,
                                (long long)L->cols, quanta_dtype_name(d->dtype), (unsigned)blk);
        L->group = (int32_t)blk;
        L->codes_row_bytes = cols / blk * bb; /* cols * bb / blk <= cols * 2: no overflow */
        if (!qn_mul_size(rows, L->codes_row_bytes, &total)) return OVF();
        L->scales_offset = total; /* scales live inside the blocks */
        break;
    }
    default: {
        size_t es = qn_dtype_elem_size(d->dtype);
        if (!qn_mul_size(cols, es, &L->codes_row_bytes) || !qn_mul_size(count, es, &total)) return OVF();
        break;
    }
    }
#undef OVF
    L->total_bytes = total;
    return QUANTA_OK;
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
    switch (t) {
    case QUANTA_Q8: qn_q8_dequant_row(L, b, r, out); break;
    case QUANTA_Q4: qn_q4_dequant_row(L, b, r, out); break;
    case QUANTA_NF4: qn_nf4_dequant_row(L, b, r, out); break;
    case QUANTA_FP8_E4M3:
    case QUANTA_FP8_E5M2: qn_fp8_dequant_row(L, t, b, r, out); break;
    case QUANTA_GGML_Q4_0: case QUANTA_GGML_Q4_1: case QUANTA_GGML_Q5_0: case QUANTA_GGML_Q5_1:
    case QUANTA_GGML_Q8_0: case QUANTA_GGML_Q4_K: case QUANTA_GGML_Q5_K: case QUANTA_GGML_Q6_K: {
        uint32_t gt = 0;
        (void)qn_ggml_block_of(t, &gt, NULL);
        (void)qn_ggml_dequant_row(gt, b + (size_t)r * L->codes_row_bytes, out, L->cols);
        break;
    }
    default: qn_to_f32(t, b + (size_t)r * L->codes_row_bytes, out, (size_t)L->cols); break;
    }
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
    if (qn_dtype_is_ggml(desc->dtype))
        return qn_ggml_quantize(&L, desc->dtype, src, dst);
    switch (desc->dtype) {
    case QUANTA_Q8: qn_q8_quantize(&L, src, dst); break;
    case QUANTA_Q4: return qn_q4_quantize(&L, src, dst);
    case QUANTA_NF4: qn_nf4_quantize(&L, src, dst); break;
    default: qn_fp8_quantize(&L, desc->dtype, src, dst); break;
    }
    return QUANTA_OK;
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
