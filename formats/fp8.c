/* fp8.c — OCP 8-bit floats E4M3 ("fn": bias 7, max 448, no Inf, NaN = S.1111.111) and E5M2
 * (bias 15, max 57344, Inf = S.11111.00, NaN = S.11111.{01,10,11}), and the per-row scaled
 * fp8 weight format. Encoding is round half to even on the f32 bit pattern (independent of
 * the FPU rounding mode); finite values at or beyond the max saturate to +-max. */
#include "quant_impl.h"

typedef struct fp8_spec {
    int mbits, bias;
    float maxv;
    uint8_t max_code, inf_code, nan_code; /* magnitudes (sign bit added by the encoder) */
} fp8_spec;

/* E4M3 has no Inf: +-Inf saturates to +-448 like finite overflow (NVIDIA's satfinite mode). */
static const fp8_spec e4m3 = { 3, 7, QN_FP8_E4M3_MAX, 0x7E, 0x7E, 0x7F };
/* E5M2 keeps Inf; 0x7E is the quiet NaN (the top byte of f16's canonical 0x7E00). */
static const fp8_spec e5m2 = { 2, 15, QN_FP8_E5M2_MAX, 0x7B, 0x7C, 0x7E };

static inline uint8_t fp8_encode(float x, const fp8_spec *sp) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    uint8_t sign = (uint8_t)((u >> 24) & 0x80u);
    u &= 0x7FFFFFFFu;
    if (u > 0x7F800000u) return (uint8_t)(sign | sp->nan_code);
    if (u == 0x7F800000u) return (uint8_t)(sign | sp->inf_code);
    if (fabsf(x) >= sp->maxv) return (uint8_t)(sign | sp->max_code);
    int e = (int)(u >> 23) - 127;
    int emin = 1 - sp->bias;
    if (e >= emin) { /* normal: rebias the exponent, round the mantissa; a carry bumps the exponent */
        int shift = 23 - sp->mbits;
        uint32_t r = u - ((uint32_t)(127 - sp->bias) << 23);
        uint32_t rem = r & ((1u << shift) - 1u), half = 1u << (shift - 1);
        r >>= shift;
        if (rem > half || (rem == half && (r & 1u))) r++;
        return (uint8_t)(sign | r); /* r <= max_code because |x| < max and max is representable */
    }
    if ((u >> 23) == 0) return sign; /* f32 denormals are far below half the fp8 quantum */
    /* Subnormal: value / 2^(emin - mbits) = M * 2^(e - 23 - emin + mbits). */
    int s = 23 + emin - sp->mbits - e;
    if (s >= 25) return sign; /* below half the smallest subnormal (M < 2^24) */
    uint32_t m = (u & 0x7FFFFFu) | 0x800000u;
    uint32_t r = m >> s, rem = m & ((1u << s) - 1u), half = 1u << (s - 1);
    if (rem > half || (rem == half && (r & 1u))) r++; /* r == 1 << mbits is the smallest normal */
    return (uint8_t)(sign | r);
}

/* Finite codes only (callers handle the special patterns first). */
static inline float fp8_decode_finite(uint8_t v, int mbits, int bias) {
    uint32_t sign = (uint32_t)(v & 0x80u) << 24;
    uint32_t e = (uint32_t)(v & 0x7Fu) >> mbits;
    uint32_t m = v & ((1u << mbits) - 1u);
    uint32_t bits;
    if (e == 0) {
        /* m * 2^(1 - bias - mbits): 2^-9 for E4M3, 2^-16 for E5M2; exact in f32 */
        float f = (float)m * (bias == 7 ? 1.953125e-3f : 1.52587890625e-5f);
        memcpy(&bits, &f, sizeof bits);
        bits |= sign;
    } else {
        bits = sign | ((e + 127u - (uint32_t)bias) << 23) | (m << (23 - mbits));
    }
    float x;
    memcpy(&x, &bits, sizeof x);
    return x;
}

uint8_t qn_f32_to_e4m3(float x) { return fp8_encode(x, &e4m3); }
uint8_t qn_f32_to_e5m2(float x) { return fp8_encode(x, &e5m2); }

float qn_e4m3_to_f32(uint8_t v) {
    if ((v & 0x7Fu) == 0x7Fu) return (v & 0x80u) ? -NAN : NAN;
    return fp8_decode_finite(v, 3, 7);
}

float qn_e5m2_to_f32(uint8_t v) {
    if ((v & 0x7Cu) == 0x7Cu) { /* exponent all ones */
        float s = (v & 0x80u) ? -1.0f : 1.0f;
        return (v & 0x03u) ? s * NAN : s * INFINITY;
    }
    return fp8_decode_finite(v, 2, 15);
}

quanta_status qn_fp8_quantize_rows(const qn_quant_layout *L, const float *src, int64_t row0, int64_t nrows,
                                   uint8_t *dst) {
    const fp8_spec *sp = L->dtype == QUANTA_FP8_E5M2 ? &e5m2 : &e4m3;
    size_t cols = (size_t)L->cols;
    for (int64_t i = 0; i < nrows; i++) {
        size_t r = (size_t)(row0 + i);
        const float *w = src + (size_t)i * cols;
        uint8_t *q = dst + r * cols;
        float amax = 0.0f;
        for (size_t c = 0; c < cols; c++) amax = qn_max_abs(amax, w[c]);
        float scale = amax / sp->maxv;
        qn_store_f32(dst + L->scales_offset + r * 4, scale);
        if (scale == 0.0f) { /* all-zero row (or amax below 448 * 2^-149): exact zeros, no 0/0 */
            memset(q, 0, cols);
            continue;
        }
        /* w/scale of the largest element may land a hair above max: the encoder saturates it. */
        for (size_t c = 0; c < cols; c++) q[c] = fp8_encode(w[c] / scale, sp);
    }
    return QUANTA_OK;
}

quanta_status qn_fp8_quantize(const qn_quant_layout *L, const float *src, uint8_t *dst) {
    return qn_fp8_quantize_rows(L, src, 0, L->rows, dst);
}

void qn_fp8_dequant_row(const qn_quant_layout *L, const uint8_t *base, int64_t r, float *out) {
    const quanta_dtype t = (quanta_dtype)L->dtype;
    size_t cols = (size_t)L->cols;
    const uint8_t *q = base + (size_t)r * cols;
    float scale = qn_load_f32(base + L->scales_offset + (size_t)r * 4);
    float (*dec)(uint8_t) = t == QUANTA_FP8_E5M2 ? qn_e5m2_to_f32 : qn_e4m3_to_f32;
    if (cols >= 512) { /* long rows: a scaled table of all 256 codes pays for itself */
        float lut[256];
        for (int v = 0; v < 256; v++) lut[v] = dec((uint8_t)v) * scale;
        for (size_t c = 0; c < cols; c++) out[c] = lut[q[c]];
    } else if (t == QUANTA_FP8_E5M2) {
        for (size_t c = 0; c < cols; c++) out[c] = qn_e5m2_to_f32(q[c]) * scale;
    } else {
        for (size_t c = 0; c < cols; c++) out[c] = qn_e4m3_to_f32(q[c]) * scale;
    }
}
