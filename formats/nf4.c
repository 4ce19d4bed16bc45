/* nf4.c — bitsandbytes NormalFloat-4: blocks of 64 consecutive weights along cols, one absmax
 * per block, each weight coded as the book value nearest to w/absmax. Ties: like bitsandbytes'
 * decision tree, x goes to the upper neighbour only when x > midpoint, so a value exactly on a
 * midpoint takes the LOWER code. The midpoints are the double-precision midpoints rounded to
 * f32, which are the thresholds bitsandbytes hard-codes.
 *
 * Double quantization (double_quant = 1): mean = average of all nb absmax values (summed in
 * double, stored f32); per run of 256 consecutive blocks, d = absmax - mean is quantized
 * LINEARLY and symmetrically: dq_scale = max|d|/127, qd = clamp(rne(d/dq_scale), -127, 127),
 * stored as an int8 in two's complement in the u8 qabsmax array; the effective absmax is
 * qd*dq_scale + mean. (bitsandbytes instead indexes its non-linear "dynamic" 8-bit map with an
 * f32 absmax per 256 block; a linear map is simpler to decode on every backend and its error,
 * <= dq_scale/2 per absmax, is reported in formats/README.md.) The NF4 codes are then chosen
 * against the effective absmax, so the decoder sees exactly what the quantizer aimed at; a block
 * whose effective absmax is <= 0 gets the zero code everywhere. */
#include "quant_impl.h"

#define NF4_B0 -1.0
#define NF4_B1 -0.6961928009986877
#define NF4_B2 -0.5250730514526367
#define NF4_B3 -0.39491748809814453
#define NF4_B4 -0.28444138169288635
#define NF4_B5 -0.18477343022823334
#define NF4_B6 -0.09105003625154495
#define NF4_B7 0.0
#define NF4_B8 0.07958029955625534
#define NF4_B9 0.16093020141124725
#define NF4_B10 0.24611230194568634
#define NF4_B11 0.33791524171829224
#define NF4_B12 0.44070982933044434
#define NF4_B13 0.5626170039176941
#define NF4_B14 0.7229568362236023
#define NF4_B15 1.0
#define NF4_ZERO_CODE 7

const float qn_nf4_book[16] = {
    (float)NF4_B0, (float)NF4_B1, (float)NF4_B2,  (float)NF4_B3,  (float)NF4_B4,  (float)NF4_B5,
    (float)NF4_B6, (float)NF4_B7, (float)NF4_B8,  (float)NF4_B9,  (float)NF4_B10, (float)NF4_B11,
    (float)NF4_B12, (float)NF4_B13, (float)NF4_B14, (float)NF4_B15,
};

#define MID(a, b) ((float)(((a) + (b)) * 0.5))
static const float nf4_mid[15] = {
    MID(NF4_B0, NF4_B1),   MID(NF4_B1, NF4_B2),   MID(NF4_B2, NF4_B3),   MID(NF4_B3, NF4_B4),
    MID(NF4_B4, NF4_B5),   MID(NF4_B5, NF4_B6),   MID(NF4_B6, NF4_B7),   MID(NF4_B7, NF4_B8),
    MID(NF4_B8, NF4_B9),   MID(NF4_B9, NF4_B10),  MID(NF4_B10, NF4_B11), MID(NF4_B11, NF4_B12),
    MID(NF4_B12, NF4_B13), MID(NF4_B13, NF4_B14), MID(NF4_B14, NF4_B15),
};

static inline int nf4_code(float x) {
    int lo = 0, hi = 15; /* code = number of midpoints strictly below x */
    while (lo < hi) {
        int m = (lo + hi) / 2;
        if (x > nf4_mid[m]) lo = m + 1;
        else hi = m;
    }
    return lo;
}

/* One definition shared by quantizer and decoder so both round identically. */
static inline float nf4_dq_decode(uint8_t q, float scale, float mean) {
    return (float)(int8_t)q * scale + mean;
}

static float block_absmax(const float *w) {
    float a = 0.0f;
    for (int i = 0; i < QN_NF4_BLOCK; i++) a = fmaxf(a, fabsf(w[i]));
    return a;
}

static void code_block(const float *w, float absmax, uint8_t *q) {
    for (int i = 0; i < QN_NF4_BLOCK; i += 2) {
        int c0 = NF4_ZERO_CODE, c1 = NF4_ZERO_CODE;
        if (absmax > 0.0f) {
            c0 = nf4_code(w[i] / absmax);
            c1 = nf4_code(w[i + 1] / absmax);
        }
        q[i / 2] = (uint8_t)(c0 | (c1 << 4));
    }
}

void qn_nf4_quantize(const qn_quant_layout *L, const float *src, uint8_t *dst) {
    size_t nb = (size_t)L->rows * (size_t)L->cols / QN_NF4_BLOCK;
    if (!L->double_quant) {
        for (size_t b = 0; b < nb; b++) {
            const float *w = src + b * QN_NF4_BLOCK;
            float a = block_absmax(w);
            qn_store_f32(dst + L->scales_offset + b * 4, a);
            code_block(w, a, dst + b * (QN_NF4_BLOCK / 2));
        }
        return;
    }
    double sum = 0.0;
    for (size_t b = 0; b < nb; b++) sum += block_absmax(src + b * QN_NF4_BLOCK);
    float mean = (float)(sum / (double)nb);
    qn_store_f32(dst + L->dq_mean_offset, mean);
    float am[QN_NF4_DQ_BLOCK];
    for (size_t b0 = 0; b0 < nb; b0 += QN_NF4_DQ_BLOCK) {
        size_t n = nb - b0 < QN_NF4_DQ_BLOCK ? nb - b0 : QN_NF4_DQ_BLOCK;
        float dmax = 0.0f;
        for (size_t i = 0; i < n; i++) {
            am[i] = block_absmax(src + (b0 + i) * QN_NF4_BLOCK);
            dmax = fmaxf(dmax, fabsf(am[i] - mean));
        }
        float dqs = dmax / 127.0f;
        qn_store_f32(dst + L->zeros_offset + (b0 / QN_NF4_DQ_BLOCK) * 4, dqs);
        for (size_t i = 0; i < n; i++) {
            int qd = dqs > 0.0f ? qn_rne_clamp((double)(am[i] - mean) / dqs, -127, 127) : 0;
            uint8_t u = (uint8_t)(qd & 0xFF);
            dst[L->scales_offset + b0 + i] = u;
            code_block(src + (b0 + i) * QN_NF4_BLOCK, nf4_dq_decode(u, dqs, mean),
                       dst + (b0 + i) * (QN_NF4_BLOCK / 2));
        }
    }
}

float qn_nf4_absmax(const qn_quant_layout *L, const void *base, size_t block) {
    const uint8_t *p = base;
    if (!L->double_quant) return qn_load_f32(p + L->scales_offset + block * 4);
    float dqs = qn_load_f32(p + L->zeros_offset + (block / QN_NF4_DQ_BLOCK) * 4);
    float mean = qn_load_f32(p + L->dq_mean_offset);
    float a = nf4_dq_decode(p[L->scales_offset + block], dqs, mean);
    return a > 0.0f ? a : 0.0f; /* matches the quantizer: such blocks hold only zero codes */
}

void qn_nf4_dequant_row(const qn_quant_layout *L, const uint8_t *base, int64_t r, float *out) {
    size_t bpr = (size_t)L->cols / QN_NF4_BLOCK;
    const uint8_t *q = base + (size_t)r * L->codes_row_bytes;
    for (size_t j = 0; j < bpr; j++) {
        float a = qn_nf4_absmax(L, base, (size_t)r * bpr + j);
        float lut[16];
        for (int i = 0; i < 16; i++) lut[i] = qn_nf4_book[i] * a;
        const uint8_t *qb = q + j * (QN_NF4_BLOCK / 2);
        float *o = out + j * QN_NF4_BLOCK;
        for (int i = 0; i < QN_NF4_BLOCK / 2; i++) {
            o[2 * i] = lut[qb[i] & 0xF];
            o[2 * i + 1] = lut[qb[i] >> 4];
        }
    }
}
