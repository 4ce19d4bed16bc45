/* api.c — the public dtype/format entry points of quanta.h, thin wrappers over formats.h. */
#include "formats.h"

#include "error.h"

QUANTA_API const char *quanta_dtype_name(quanta_dtype dtype) {
    const qn_format *f = qn_format_of(dtype);
    return f ? f->name : NULL;
}

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; }

static int name_eq(const char *a, const char *b) { /* ASCII case-insensitive */
    while (*a && *b && lower((unsigned char)*a) == lower((unsigned char)*b)) a++, b++;
    return *a == '\0' && *b == '\0';
}

QUANTA_API quanta_status quanta_dtype_parse(const char *name, quanta_dtype *out) {
    if (!name) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_dtype_parse: name is NULL");
    if (!out) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_dtype_parse: out is NULL");
    if (name_eq(name, "fp8")) {
        *out = QUANTA_FP8_E4M3;
        return QUANTA_OK;
    }
    for (int i = 0; i < qn_format_count(); i++)
        if (name_eq(name, qn_format_at(i)->name)) {
            *out = qn_format_at(i)->dtype;
            return QUANTA_OK;
        }
    return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                        "quanta_dtype_parse: name \"%.64s\" is not a dtype (f32, f16, bf16, i32, u8, q8, q4, nf4, "
                        "fp8, fp8_e4m3, fp8_e5m2, q4_0, q4_1, q5_0, q5_1, q8_0, q4_k, q5_k, q6_k)", name);
}

QUANTA_API quanta_status quanta_tensor_bytes(const quanta_tensor_desc *desc, size_t *bytes) {
    if (!bytes) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_tensor_bytes: bytes is NULL");
    qn_quant_layout L;
    quanta_status st = qn_desc_check(desc, "quanta_tensor_bytes: desc");
    if (st != QUANTA_OK) return st;
    st = qn_quant_layout_get(desc, &L);
    if (st != QUANTA_OK) return st;
    *bytes = L.total_bytes;
    return QUANTA_OK;
}

QUANTA_API quanta_status quanta_quantize(const quanta_tensor_desc *desc, const float *src, void *dst,
                                         size_t dst_bytes) {
    return qn_quantize(desc, src, dst, dst_bytes);
}

QUANTA_API quanta_status quanta_dequantize(const quanta_tensor_desc *desc, const void *src, size_t src_bytes,
                                           float *dst, size_t dst_count) {
    return qn_dequantize(desc, src, src_bytes, dst, dst_count);
}

QUANTA_API uint16_t quanta_f32_to_f16(float x) { return qn_f32_to_f16(x); }
QUANTA_API float quanta_f16_to_f32(uint16_t h) { return qn_f16_to_f32(h); }
QUANTA_API uint16_t quanta_f32_to_bf16(float x) { return qn_f32_to_bf16(x); }
QUANTA_API float quanta_bf16_to_f32(uint16_t b) { return qn_bf16_to_f32(b); }
