/* gguf_dequant.c — ggml tensor types: the size table and dequantizers to f32, written from
 * the block definitions so that every value is bit-identical to ggml's reference
 * dequantize_row_* (same operations, same order, no fused multiply-add), plus the mapping of
 * Quanta's own formats onto GGUF type ids. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "error.h"
#include "formats.h"
#include "gguf_impl.h"

/* ggml's reference code computes products and sums as separate float operations; contracting
 * them into an FMA would change the last bit. GCC does not contract in ISO C mode. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define QK_K 256

static const qn_ggml_type_info type_table[] = {
    { QN_GGML_F32, "f32", 1, 4, 1 },
    { QN_GGML_F16, "f16", 1, 2, 1 },
    { QN_GGML_Q4_0, "q4_0", 32, 18, 1 },
    { QN_GGML_Q4_1, "q4_1", 32, 20, 1 },
    { QN_GGML_Q5_0, "q5_0", 32, 22, 1 },
    { QN_GGML_Q5_1, "q5_1", 32, 24, 1 },
    { QN_GGML_Q8_0, "q8_0", 32, 34, 1 },
    { QN_GGML_Q2_K, "q2_K", QK_K, 84, 1 },
    { QN_GGML_Q3_K, "q3_K", QK_K, 110, 1 },
    { QN_GGML_Q4_K, "q4_K", QK_K, 144, 1 },
    { QN_GGML_Q5_K, "q5_K", QK_K, 176, 1 },
    { QN_GGML_Q6_K, "q6_K", QK_K, 210, 1 },
    { QN_GGML_Q8_K, "q8_K", QK_K, 292, 1 },
    /* Known sizes (so such files open and list), no dequantizer. */
    { 16, "iq2_xxs", QK_K, 66, 0 },
    { 17, "iq2_xs", QK_K, 74, 0 },
    { 18, "iq3_xxs", QK_K, 98, 0 },
    { 19, "iq1_s", QK_K, 50, 0 },
    { 20, "iq4_nl", 32, 18, 0 },
    { 21, "iq3_s", QK_K, 110, 0 },
    { 22, "iq2_s", QK_K, 82, 0 },
    { 23, "iq4_xs", QK_K, 136, 0 },
    { 24, "i8", 1, 1, 1 },
    { 25, "i16", 1, 2, 1 },
    { 26, "i32", 1, 4, 1 },
    { 27, "i64", 1, 8, 1 },
    { 28, "f64", 1, 8, 1 },
    { 29, "iq1_m", QK_K, 56, 0 },
    { QN_GGML_BF16, "bf16", 1, 2, 1 },
    { 34, "tq1_0", QK_K, 54, 0 },
    { 35, "tq2_0", QK_K, 66, 0 },
};
#define N_TYPES (sizeof type_table / sizeof type_table[0])

const qn_ggml_type_info *qn_ggml_type_lookup(uint32_t type) {
    for (size_t i = 0; i < N_TYPES; i++)
        if (type_table[i].type == type) return &type_table[i];
    return NULL;
}

/* ------------------------------------------------------------- Quanta ids */

int qn_gguf_quanta_decode(uint32_t type, int64_t ne0, int64_t ne1, quanta_tensor_desc *desc) {
    if (type < QN_GGUF_QUANTA_BASE || type >= QN_GGUF_QUANTA_BASE + 1000) return 0;
    uint32_t code = type - QN_GGUF_QUANTA_BASE, variant = code / 100, dt = code % 100;
    quanta_tensor_desc d;
    memset(&d, 0, sizeof d);
    d.ndim = 2;
    d.dims[0] = ne1;
    d.dims[1] = ne0;
    switch (dt) {
    case QUANTA_Q8:
    case QUANTA_FP8_E4M3:
    case QUANTA_FP8_E5M2:
        if (variant != 0) return 0;
        break;
    case QUANTA_Q4:
        if (variant > 2) return 0;
        d.group = variant == 0 ? 64 : variant == 1 ? 32 : 128;
        break;
    case QUANTA_NF4:
        if (variant > 1) return 0;
        d.group = QN_NF4_BLOCK;
        d.double_quant = (int32_t)variant;
        break;
    default:
        return 0;
    }
    d.dtype = (quanta_dtype)dt;
    *desc = d;
    return 1;
}

quanta_status qn_gguf_type_for_desc(const quanta_tensor_desc *desc, uint32_t *type) {
    if (!desc || !type)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_gguf_type_for_desc: desc or type is NULL");
    uint32_t variant = 0;
    switch (desc->dtype) {
    case QUANTA_F32: *type = QN_GGML_F32; return QUANTA_OK;
    case QUANTA_F16: *type = QN_GGML_F16; return QUANTA_OK;
    case QUANTA_BF16: *type = QN_GGML_BF16; return QUANTA_OK;
    case QUANTA_I32: *type = 26; return QUANTA_OK;
    case QUANTA_GGML_Q4_0: case QUANTA_GGML_Q4_1: case QUANTA_GGML_Q5_0: case QUANTA_GGML_Q5_1:
    case QUANTA_GGML_Q8_0: case QUANTA_GGML_Q4_K: case QUANTA_GGML_Q5_K: case QUANTA_GGML_Q6_K:
        if (desc->ndim != 2)
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                                "qn_gguf_type_for_desc: quantized tensors are 2-D, got %d-D", (int)desc->ndim);
        (void)qn_ggml_block_of(desc->dtype, type, NULL);
        return QUANTA_OK;
    case QUANTA_Q8:
    case QUANTA_FP8_E4M3:
    case QUANTA_FP8_E5M2:
        break;
    case QUANTA_Q4:
        if (desc->group == 0 || desc->group == 64) variant = 0;
        else if (desc->group == 32) variant = 1;
        else if (desc->group == 128) variant = 2;
        else
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                                "qn_gguf_type_for_desc: q4 group %d has no GGUF type id (32, 64, 128)",
                                (int)desc->group);
        break;
    case QUANTA_NF4:
        if (desc->group != 0 && desc->group != QN_NF4_BLOCK)
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                                "qn_gguf_type_for_desc: nf4 block %d is not 64", (int)desc->group);
        variant = desc->double_quant ? 1 : 0;
        break;
    default:
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_gguf_type_for_desc: dtype %d has no GGUF type",
                            (int)desc->dtype);
    }
    if (desc->ndim != 2)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "qn_gguf_type_for_desc: quantized tensors are 2-D, got %d-D", (int)desc->ndim);
    *type = QN_GGUF_QUANTA_BASE + (uint32_t)desc->dtype + 100u * variant;
    return QUANTA_OK;
}

const char *qn_ggml_type_name(uint32_t type) {
    const qn_ggml_type_info *ti = qn_ggml_type_lookup(type);
    if (ti) return ti->name;
    quanta_tensor_desc d;
    if (!qn_gguf_quanta_decode(type, 64, 1, &d)) return NULL;
    switch (d.dtype) {
    case QUANTA_Q8: return "quanta_q8";
    case QUANTA_Q4: return d.group == 32 ? "quanta_q4_g32" : d.group == 128 ? "quanta_q4_g128" : "quanta_q4_g64";
    case QUANTA_NF4: return d.double_quant ? "quanta_nf4_dq" : "quanta_nf4";
    case QUANTA_FP8_E4M3: return "quanta_fp8_e4m3";
    case QUANTA_FP8_E5M2: return "quanta_fp8_e5m2";
    default: return NULL;
    }
}

int qn_ggml_type_can_import(uint32_t type) {
    const qn_ggml_type_info *ti = qn_ggml_type_lookup(type);
    if (ti) return ti->can_import;
    quanta_tensor_desc d;
    return qn_gguf_quanta_decode(type, 64, 1, &d);
}

quanta_status qn_ggml_row_bytes(uint32_t type, int64_t ne0, uint64_t *bytes) {
    const qn_ggml_type_info *ti = qn_ggml_type_lookup(type);
    if (!ti) return qn_error_set(QUANTA_ERR_CORRUPT, "ggml row size: unknown tensor type %u", type);
    if (ne0 <= 0 || ne0 % ti->block != 0)
        return qn_error_set(QUANTA_ERR_CORRUPT, "ggml row size: %s rows need a multiple of %u elements, got %lld",
                            ti->name, ti->block, (long long)ne0);
    uint64_t blocks = (uint64_t)ne0 / ti->block;
    if (blocks > UINT64_MAX / ti->block_bytes)
        return qn_error_set(QUANTA_ERR_OVERFLOW, "ggml row size: %lld elements of %s overflow", (long long)ne0,
                            ti->name);
    *bytes = blocks * ti->block_bytes;
    return QUANTA_OK;
}

quanta_status qn_gguf_type_bytes(uint32_t type, int32_t ndim, const int64_t *dims, uint64_t *bytes) {
    quanta_tensor_desc qd;
    if (qn_gguf_quanta_decode(type, dims[0], ndim >= 2 ? dims[1] : 1, &qd)) {
        if (ndim != 2)
            return qn_error_set(QUANTA_ERR_CORRUPT, "Quanta type %s needs 2 dims, has %d", qn_ggml_type_name(type),
                                (int)ndim);
        qn_quant_layout L;
        quanta_status st = qn_quant_layout_get(&qd, &L);
        if (st != QUANTA_OK) {
            char why[200];
            snprintf(why, sizeof why, "%s", quanta_last_error());
            return qn_error_set(st == QUANTA_ERR_OVERFLOW ? st : QUANTA_ERR_CORRUPT, "shape [%lld, %lld] invalid for %s: %s",
                                (long long)dims[1], (long long)dims[0], qn_ggml_type_name(type), why);
        }
        *bytes = L.total_bytes;
        return QUANTA_OK;
    }
    const qn_ggml_type_info *ti = qn_ggml_type_lookup(type);
    if (!ti) return qn_error_set(QUANTA_ERR_CORRUPT, "unknown tensor type %u", type);
    if (ndim < 1 || ndim > 4) return qn_error_set(QUANTA_ERR_CORRUPT, "%d dimensions (1 to 4 allowed)", (int)ndim);
    for (int i = 0; i < ndim; i++)
        if (dims[i] <= 0) return qn_error_set(QUANTA_ERR_CORRUPT, "dimension %d is %lld", i, (long long)dims[i]);
    if (dims[0] % ti->block != 0)
        return qn_error_set(QUANTA_ERR_CORRUPT, "first dim %lld is not a multiple of the %s block (%u)",
                            (long long)dims[0], ti->name, ti->block);
    uint64_t b = (uint64_t)dims[0] / ti->block;
    int ok = b <= UINT64_MAX / ti->block_bytes;
    if (ok) b *= ti->block_bytes;
    for (int i = 1; ok && i < ndim; i++) {
        ok = (uint64_t)dims[i] <= UINT64_MAX / b;
        if (ok) b *= (uint64_t)dims[i];
    }
    if (!ok) return qn_error_set(QUANTA_ERR_OVERFLOW, "byte size of a %s tensor overflows", ti->name);
    *bytes = b;
    return QUANTA_OK;
}

/* ----------------------------------------------------------- block decoders
 * Each takes one block and writes its elements; formulas follow ggml's reference. */

static float h2f(const uint8_t *p) { return qn_f16_to_f32(qn_load_u16(p)); }

static void dq_q4_0(const uint8_t *b, float *y) { /* f16 d; u8 qs[16] */
    const float d = h2f(b);
    const uint8_t *qs = b + 2;
    for (int j = 0; j < 16; j++) {
        const int x0 = (qs[j] & 0x0F) - 8;
        const int x1 = (qs[j] >> 4) - 8;
        y[j] = x0 * d;
        y[j + 16] = x1 * d;
    }
}

static void dq_q4_1(const uint8_t *b, float *y) { /* f16 d, f16 m; u8 qs[16] */
    const float d = h2f(b), m = h2f(b + 2);
    const uint8_t *qs = b + 4;
    for (int j = 0; j < 16; j++) {
        const int x0 = qs[j] & 0x0F;
        const int x1 = qs[j] >> 4;
        y[j] = x0 * d + m;
        y[j + 16] = x1 * d + m;
    }
}

static void dq_q5_0(const uint8_t *b, float *y) { /* f16 d; u8 qh[4] (LE u32); u8 qs[16] */
    const float d = h2f(b);
    const uint32_t qh = qn_load_u32(b + 2);
    const uint8_t *qs = b + 6;
    for (int j = 0; j < 16; j++) {
        const uint8_t xh_0 = (uint8_t)(((qh >> j) << 4) & 0x10);
        const uint8_t xh_1 = (uint8_t)((qh >> (j + 12)) & 0x10);
        const int32_t x0 = ((qs[j] & 0x0F) | xh_0) - 16;
        const int32_t x1 = ((qs[j] >> 4) | xh_1) - 16;
        y[j] = x0 * d;
        y[j + 16] = x1 * d;
    }
}

static void dq_q5_1(const uint8_t *b, float *y) { /* f16 d, f16 m; u8 qh[4]; u8 qs[16] */
    const float d = h2f(b), m = h2f(b + 2);
    const uint32_t qh = qn_load_u32(b + 4);
    const uint8_t *qs = b + 8;
    for (int j = 0; j < 16; j++) {
        const uint8_t xh_0 = (uint8_t)(((qh >> j) << 4) & 0x10);
        const uint8_t xh_1 = (uint8_t)((qh >> (j + 12)) & 0x10);
        const int x0 = (qs[j] & 0x0F) | xh_0;
        const int x1 = (qs[j] >> 4) | xh_1;
        y[j] = x0 * d + m;
        y[j + 16] = x1 * d + m;
    }
}

static void dq_q8_0(const uint8_t *b, float *y) { /* f16 d; i8 qs[32] */
    const float d = h2f(b);
    for (int j = 0; j < 32; j++) y[j] = (int8_t)b[2 + j] * d;
}

static void dq_q2_k(const uint8_t *b, float *y) { /* u8 scales[16]; u8 qs[64]; f16 d, dmin */
    const uint8_t *scales = b, *q = b + 16;
    const float d = h2f(b + 80), min = h2f(b + 82);
    int is = 0;
    for (int n = 0; n < QK_K; n += 128) {
        int shift = 0;
        for (int j = 0; j < 4; j++) {
            for (int half = 0; half < 2; half++) {
                const uint8_t sc = scales[is++];
                const float dl = d * (sc & 0xF), ml = min * (sc >> 4);
                for (int l = 0; l < 16; l++) *y++ = dl * (int8_t)((q[l + 16 * half] >> shift) & 3) - ml;
            }
            shift += 2;
        }
        q += 32;
    }
}

/* Q3_K's 16 six-bit scales: low 4 bits in scales[0..7] (two per byte), high 2 bits packed in
 * scales[8..11]; the same unpacking ggml does with 32-bit masks, written per byte. */
static int q3k_scale(const uint8_t *s, int j) {
    const int lo = j < 8 ? (s[j] & 0xF) : (s[j - 8] >> 4);
    const int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (int)(int8_t)(lo | (hi << 4)) - 32;
}

static void dq_q3_k(const uint8_t *b, float *y) { /* u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d */
    const uint8_t *hm = b, *q = b + 32, *sc = b + 96;
    const float d_all = h2f(b + 108);
    uint8_t m = 1;
    int is = 0;
    for (int n = 0; n < QK_K; n += 128) {
        int shift = 0;
        for (int j = 0; j < 4; j++) {
            for (int half = 0; half < 2; half++) {
                const float dl = d_all * q3k_scale(sc, is++);
                for (int l = 16 * half; l < 16 * half + 16; l++)
                    *y++ = dl * ((int8_t)((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4));
            }
            shift += 2;
            m = (uint8_t)(m << 1);
        }
        q += 32;
    }
}

/* Q4_K/Q5_K: 8 pairs (scale, min) of 6 bits packed in 12 bytes; sub-block j's scale times d
 * and min times dmin, as ggml computes them. */
static void k4_scale_min(int j, const uint8_t *q, float d, float dmin, float *dj, float *mj) {
    uint8_t sc, m;
    if (j < 4) {
        sc = q[j] & 63;
        m = q[j + 4] & 63;
    } else {
        sc = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
    *dj = d * sc;
    *mj = dmin * m;
}

static void dq_q4_k(const uint8_t *b, float *y) { /* f16 d, dmin; u8 scales[12]; u8 qs[128] */
    const float d = h2f(b), min = h2f(b + 2);
    const uint8_t *scales = b + 4, *q = b + 16;
    int is = 0;
    for (int j = 0; j < QK_K; j += 64) {
        float d1, m1, d2, m2;
        k4_scale_min(is, scales, d, min, &d1, &m1);
        k4_scale_min(is + 1, scales, d, min, &d2, &m2);
        for (int l = 0; l < 32; l++) *y++ = d1 * (q[l] & 0xF) - m1;
        for (int l = 0; l < 32; l++) *y++ = d2 * (q[l] >> 4) - m2;
        q += 32;
        is += 2;
    }
}

static void dq_q5_k(const uint8_t *b, float *y) { /* f16 d, dmin; scales[12]; qh[32]; qs[128] */
    const float d = h2f(b), min = h2f(b + 2);
    const uint8_t *scales = b + 4, *qh = b + 16, *ql = b + 48;
    int is = 0;
    uint8_t u1 = 1, u2 = 2;
    for (int j = 0; j < QK_K; j += 64) {
        float d1, m1, d2, m2;
        k4_scale_min(is, scales, d, min, &d1, &m1);
        k4_scale_min(is + 1, scales, d, min, &d2, &m2);
        for (int l = 0; l < 32; l++) *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
        for (int l = 0; l < 32; l++) *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
        ql += 32;
        is += 2;
        u1 = (uint8_t)(u1 << 2);
        u2 = (uint8_t)(u2 << 2);
    }
}

static void dq_q6_k(const uint8_t *b, float *y) { /* ql[128]; qh[64]; i8 scales[16]; f16 d */
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *sc = (const int8_t *)(b + 192);
    const float d = h2f(b + 208);
    for (int n = 0; n < QK_K; n += 128) {
        for (int l = 0; l < 32; l++) {
            const int is = l / 16;
            const int8_t q1 = (int8_t)((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
            const int8_t q2 = (int8_t)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
            const int8_t q3 = (int8_t)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            const int8_t q4 = (int8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[l] = d * sc[is + 0] * q1;
            y[l + 32] = d * sc[is + 2] * q2;
            y[l + 64] = d * sc[is + 4] * q3;
            y[l + 96] = d * sc[is + 6] * q4;
        }
        y += 128;
        ql += 64;
        qh += 32;
        sc += 8;
    }
}

static void dq_q8_k(const uint8_t *b, float *y) { /* f32 d; i8 qs[256]; i16 bsums[16] */
    const float d = qn_load_f32(b);
    for (int j = 0; j < QK_K; j++) y[j] = d * (int8_t)b[4 + j];
}

quanta_status qn_ggml_dequant_row(uint32_t type, const void *src, float *dst, int64_t n) {
    const qn_ggml_type_info *ti = qn_ggml_type_lookup(type);
    if (!src || !dst || n < 0)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_ggml_dequant_row: NULL pointer or negative count");
    if (!ti || !ti->can_import)
        return qn_error_set(QUANTA_ERR_UNSUPPORTED, "qn_ggml_dequant_row: tensor type %u (%s) cannot be imported",
                            type, ti ? ti->name : "unknown");
    if (n % ti->block != 0)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "qn_ggml_dequant_row: %lld elements are not a multiple of the %s block (%u)",
                            (long long)n, ti->name, ti->block);
    const uint8_t *p = src;
    const int64_t nb = n / ti->block;
    void (*blk)(const uint8_t *, float *) = NULL;
    switch (type) {
    case QN_GGML_F32: for (int64_t i = 0; i < n; i++) dst[i] = qn_load_f32(p + 4 * i); return QUANTA_OK;
    case QN_GGML_F16: for (int64_t i = 0; i < n; i++) dst[i] = h2f(p + 2 * i); return QUANTA_OK;
    case QN_GGML_BF16:
        for (int64_t i = 0; i < n; i++) dst[i] = qn_bf16_to_f32(qn_load_u16(p + 2 * i));
        return QUANTA_OK;
    case 24: for (int64_t i = 0; i < n; i++) dst[i] = (float)(int8_t)p[i]; return QUANTA_OK;
    case 25: for (int64_t i = 0; i < n; i++) dst[i] = (float)(int16_t)qn_load_u16(p + 2 * i); return QUANTA_OK;
    case 26: for (int64_t i = 0; i < n; i++) dst[i] = (float)(int32_t)qn_load_u32(p + 4 * i); return QUANTA_OK;
    case 27: for (int64_t i = 0; i < n; i++) dst[i] = (float)(int64_t)qn_load_u64(p + 8 * i); return QUANTA_OK;
    case 28: for (int64_t i = 0; i < n; i++) dst[i] = (float)qn_load_f64(p + 8 * i); return QUANTA_OK;
    case QN_GGML_Q4_0: blk = dq_q4_0; break;
    case QN_GGML_Q4_1: blk = dq_q4_1; break;
    case QN_GGML_Q5_0: blk = dq_q5_0; break;
    case QN_GGML_Q5_1: blk = dq_q5_1; break;
    case QN_GGML_Q8_0: blk = dq_q8_0; break;
    case QN_GGML_Q2_K: blk = dq_q2_k; break;
    case QN_GGML_Q3_K: blk = dq_q3_k; break;
    case QN_GGML_Q4_K: blk = dq_q4_k; break;
    case QN_GGML_Q5_K: blk = dq_q5_k; break;
    case QN_GGML_Q6_K: blk = dq_q6_k; break;
    case QN_GGML_Q8_K: blk = dq_q8_k; break;
    default:
        return qn_error_set(QUANTA_ERR_UNSUPPORTED, "qn_ggml_dequant_row: no dequantizer for %s", ti->name);
    }
    for (int64_t i = 0; i < nb; i++) blk(p + (size_t)i * ti->block_bytes, dst + (size_t)i * ti->block);
    return QUANTA_OK;
}

/* ------------------------------------------------------------ whole tensors */

uint64_t qn_gguf_tensor_elements(const qn_gguf_tensor *t) {
    if (!t) return 0;
    uint64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= (uint64_t)t->dims[i]; /* checked at open */
    return n;
}

quanta_status qn_gguf_tensor_desc(const qn_gguf_tensor *t, quanta_tensor_desc *desc) {
    if (!t || !desc) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_gguf_tensor_desc: NULL argument");
    quanta_tensor_desc d;
    memset(&d, 0, sizeof d);
    if (t->type == QN_GGML_F32 || t->type == QN_GGML_F16 || t->type == QN_GGML_BF16 || t->type == 26) {
        d.dtype = t->type == QN_GGML_F32 ? QUANTA_F32
                  : t->type == QN_GGML_F16 ? QUANTA_F16
                  : t->type == QN_GGML_BF16 ? QUANTA_BF16 : QUANTA_I32;
        d.ndim = t->ndim;
        for (int i = 0; i < t->ndim; i++) d.dims[i] = t->dims[t->ndim - 1 - i];
    } else if (t->ndim == 2 && qn_gguf_quanta_decode(t->type, t->dims[0], t->dims[1], &d)) {
        /* filled */
    } else if (t->ndim == 2 && qn_dtype_from_ggml(t->type, &d.dtype)) {
        /* a ggml block format, kept as it is (qn_gguf_type_bytes checked dims[0] % block) */
        d.ndim = 2;
        d.dims[0] = t->dims[1];
        d.dims[1] = t->dims[0];
    } else {
        return qn_error_set(QUANTA_ERR_UNSUPPORTED,
                            "qn_gguf_tensor_desc: tensor '%.*s' of type %s has no Quanta descriptor (dequantize it)",
                            (int)(t->name.len > 200 ? 200 : t->name.len), t->name.ptr,
                            qn_ggml_type_name(t->type) ? qn_ggml_type_name(t->type) : "unknown");
    }
    *desc = d;
    return QUANTA_OK;
}

quanta_status qn_gguf_tensor_rows_to_f32(const qn_gguf_tensor *t, int64_t row0, int64_t nrows, float *dst,
                                         size_t count) {
    if (!t || !dst)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_gguf_tensor_rows_to_f32: t or dst is NULL");
    const int nm = (int)(t->name.len > 200 ? 200 : t->name.len);
    const int64_t ne0 = t->dims[0];
    const uint64_t total_rows = qn_gguf_tensor_elements(t) / (uint64_t)ne0;
    if (row0 < 0 || nrows < 0 || (uint64_t)row0 > total_rows || (uint64_t)nrows > total_rows - (uint64_t)row0)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "qn_gguf_tensor_rows_to_f32: rows [%lld, +%lld) outside tensor '%.*s' (%llu rows)",
                            (long long)row0, (long long)nrows, nm, t->name.ptr, (unsigned long long)total_rows);
    if ((uint64_t)count != (uint64_t)nrows * (uint64_t)ne0)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "qn_gguf_tensor_rows_to_f32: count %zu != %lld rows x %lld for tensor '%.*s'", count,
                            (long long)nrows, (long long)ne0, nm, t->name.ptr);
    quanta_tensor_desc qd;
    if (t->ndim == 2 && qn_gguf_quanta_decode(t->type, t->dims[0], t->dims[1], &qd)) {
        qn_quant_layout L;
        quanta_status st = qn_quant_layout_get(&qd, &L);
        if (st != QUANTA_OK) return st;
        if (L.total_bytes != t->bytes)
            return qn_error_set(QUANTA_ERR_CORRUPT, "qn_gguf_tensor_rows_to_f32: tensor '%.*s' has %llu bytes, expected %zu",
                                nm, t->name.ptr, (unsigned long long)t->bytes, L.total_bytes);
        for (int64_t r = 0; r < nrows; r++) qn_dequant_row(&L, qd.dtype, t->data, row0 + r, dst + (size_t)(r * ne0));
        return QUANTA_OK;
    }
    uint64_t rb;
    quanta_status st = qn_ggml_row_bytes(t->type, ne0, &rb);
    if (st != QUANTA_OK) return st;
    if (!qn_ggml_type_can_import(t->type))
        return qn_error_set(QUANTA_ERR_UNSUPPORTED, "tensor '%.*s': type %s cannot be imported", nm, t->name.ptr,
                            qn_ggml_type_name(t->type));
    const uint8_t *base = t->data;
    for (int64_t r = 0; r < nrows; r++) {
        st = qn_ggml_dequant_row(t->type, base + (uint64_t)(row0 + r) * rb, dst + (size_t)(r * ne0), ne0);
        if (st != QUANTA_OK) return st;
    }
    return QUANTA_OK;
}

quanta_status qn_gguf_tensor_to_f32(const qn_gguf_tensor *t, float *dst, size_t count) {
    if (!t || !dst) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_gguf_tensor_to_f32: t or dst is NULL");
    const uint64_t n = qn_gguf_tensor_elements(t);
    if ((uint64_t)count != n)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_gguf_tensor_to_f32: count %zu != %llu elements of '%.*s'",
                            count, (unsigned long long)n, (int)(t->name.len > 200 ? 200 : t->name.len), t->name.ptr);
    return qn_gguf_tensor_rows_to_f32(t, 0, (int64_t)(n / (uint64_t)t->dims[0]), dst, count);
}
