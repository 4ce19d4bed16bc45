/*
 * ggml_quantize.c — encoders for the ggml block formats that `quanta quantize` writes so other
 * tools read its files: Q8_0, Q4_0, Q4_K and Q6_K, in ggml's block layouts (the decoders, bit
 * for bit ggml's dequantize_row_*, are in gguf_dequant.c). The scale choices follow ggml's
 * reference quantizers in their simple form (one pass, no iterative scale search):
 *   Q8_0  32 weights: d = max|x| / 127, q = round(x / d)                       (f16 d, 32 x i8)
 *   Q4_0  32 weights: d = m / -8 for m the weight of largest |x|, q = x/d + 8 in 0..15
 *   Q4_K  256 weights, 8 sub-blocks of 32: x ~ d*sc_j*q - dmin*m_j, q 0..15, sc/m 6-bit codes
 *         of each sub-block's (max - min) / 15 and -min
 *   Q6_K  256 weights, 16 sub-blocks of 16: x ~ d*sc_j*(q - 32), q 0..63, sc int8
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "error.h"
#include "gguf.h"
#include "le_bytes.h"
#include "quanta.h"

static void put_f16(uint8_t *p, float x) { qn_store_u16(p, quanta_f32_to_f16(x)); }
static float get_f16(const uint8_t *p) { return quanta_f16_to_f32(qn_load_u16(p)); }
static int nearest(float x) { return (int)lrintf(x); }
static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

static void q8_0_block(const float *x, uint8_t *b) {
    float amax = 0;
    for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[j]));
    const float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
    put_f16(b, d);
    for (int j = 0; j < 32; j++) b[2 + j] = (uint8_t)(int8_t)clampi(nearest(x[j] * id), -127, 127);
}

static void q4_0_block(const float *x, uint8_t *b) {
    float amax = 0, max = 0;
    for (int j = 0; j < 32; j++)
        if (fabsf(x[j]) > amax) amax = fabsf(x[j]), max = x[j];
    /* The largest weight maps to code 0 (-8 * d): the full negative range is used. */
    const float d = max / -8.0f, id = d ? 1.0f / d : 0.0f;
    put_f16(b, d);
    for (int j = 0; j < 16; j++) {
        const int q0 = clampi((int)(x[j] * id + 8.5f), 0, 15), q1 = clampi((int)(x[j + 16] * id + 8.5f), 0, 15);
        b[2 + j] = (uint8_t)(q0 | (q1 << 4));
    }
}

static void q4_k_block(const float *x, uint8_t *b) {
    float scale[8], minv[8], max_scale = 0, max_min = 0;
    for (int j = 0; j < 8; j++) {
        float lo = x[32 * j], hi = x[32 * j];
        for (int l = 1; l < 32; l++) lo = fminf(lo, x[32 * j + l]), hi = fmaxf(hi, x[32 * j + l]);
        if (lo > 0) lo = 0; /* mins are subtracted: a positive minimum is stored as 0 */
        scale[j] = (hi - lo) / 15.0f;
        minv[j] = -lo;
        max_scale = fmaxf(max_scale, scale[j]);
        max_min = fmaxf(max_min, minv[j]);
    }
    const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f, inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
    uint8_t *sc = b + 4, *qs = b + 16;
    memset(sc, 0, 12);
    uint8_t ls[8], lm[8];
    for (int j = 0; j < 8; j++) {
        ls[j] = (uint8_t)clampi(nearest(inv_scale * scale[j]), 0, 63);
        lm[j] = (uint8_t)clampi(nearest(inv_min * minv[j]), 0, 63);
        if (j < 4) {
            sc[j] = ls[j];
            sc[j + 4] = lm[j];
        } else {
            sc[j + 4] = (uint8_t)((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
            sc[j - 4] |= (uint8_t)((ls[j] >> 4) << 6);
            sc[j] |= (uint8_t)((lm[j] >> 4) << 6);
        }
    }
    put_f16(b, max_scale / 63.0f);
    put_f16(b + 2, max_min / 63.0f);
    /* Codes from the scales as the decoder will see them (f16 super-scales, 6-bit codes). */
    const float d = get_f16(b), dmin = get_f16(b + 2);
    uint8_t L[256];
    for (int j = 0; j < 8; j++) {
        const float dj = d * ls[j], mj = dmin * lm[j];
        for (int l = 0; l < 32; l++)
            L[32 * j + l] = (uint8_t)(dj ? clampi(nearest((x[32 * j + l] + mj) / dj), 0, 15) : 0);
    }
    for (int j = 0; j < 256; j += 64)
        for (int l = 0; l < 32; l++) *qs++ = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
}

static void q6_k_block(const float *x, uint8_t *b) {
    float scale[16], max_scale = 0;
    for (int j = 0; j < 16; j++) {
        float amax = 0, max = 0;
        for (int l = 0; l < 16; l++)
            if (fabsf(x[16 * j + l]) > amax) amax = fabsf(x[16 * j + l]), max = x[16 * j + l];
        scale[j] = max / -32.0f; /* the largest weight maps to code -32 */
        if (fabsf(scale[j]) > fabsf(max_scale)) max_scale = scale[j];
    }
    uint8_t *ql = b, *qh = b + 128;
    int8_t *sc = (int8_t *)(b + 192);
    const float iscale = max_scale ? -128.0f / max_scale : 0.0f;
    for (int j = 0; j < 16; j++) sc[j] = (int8_t)clampi(nearest(iscale * scale[j]), -128, 127);
    put_f16(b + 208, max_scale ? 1.0f / iscale : 0.0f);
    const float d = get_f16(b + 208);
    uint8_t L[256];
    for (int j = 0; j < 16; j++) {
        const float dj = d * sc[j];
        for (int l = 0; l < 16; l++)
            L[16 * j + l] = (uint8_t)(dj ? clampi(nearest(x[16 * j + l] / dj), -32, 31) + 32 : 32);
    }
    memset(qh, 0, 64);
    for (int n = 0; n < 256; n += 128) {
        for (int l = 0; l < 32; l++) {
            const uint8_t q1 = L[n + l], q2 = L[n + l + 32], q3 = L[n + l + 64], q4 = L[n + l + 96];
            ql[l] = (uint8_t)((q1 & 0xF) | ((q3 & 0xF) << 4));
            ql[l + 32] = (uint8_t)((q2 & 0xF) | ((q4 & 0xF) << 4));
            qh[l] = (uint8_t)((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
        }
        ql += 64;
        qh += 32;
    }
}

quanta_status qn_ggml_quantize_row(uint32_t type, const float *src, void *dst, int64_t n) {
    void (*blk)(const float *, uint8_t *);
    int64_t block, bytes;
    switch (type) {
    case QN_GGML_Q8_0: blk = q8_0_block, block = 32, bytes = 34; break;
    case QN_GGML_Q4_0: blk = q4_0_block, block = 32, bytes = 18; break;
    case QN_GGML_Q4_K: blk = q4_k_block, block = 256, bytes = 144; break;
    case QN_GGML_Q6_K: blk = q6_k_block, block = 256, bytes = 210; break;
    default:
        return qn_error_set(QUANTA_ERR_UNSUPPORTED, "qn_ggml_quantize_row: ggml type %u (%s) has no encoder "
                            "(q8_0, q4_0, q4_K, q6_K)", type, qn_ggml_type_name(type) ? qn_ggml_type_name(type) : "?");
    }
    if (!src || !dst || n < 0)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_ggml_quantize_row: NULL pointer or negative count");
    if (n % block)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_ggml_quantize_row: %lld weights are not a multiple of "
                            "the %s block (%lld)", (long long)n, qn_ggml_type_name(type), (long long)block);
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(src[i]))
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_ggml_quantize_row: weight %lld is not finite",
                                (long long)i);
    uint8_t *out = dst;
    for (int64_t i = 0; i < n / block; i++) blk(src + i * block, out + i * bytes);
    return QUANTA_OK;
}
