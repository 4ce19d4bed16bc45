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

#include "error.h"

const float qn_nf4_book[16] = QN_NF4_BOOK_INIT;

/* Midpoint m between book values m and m + 1: the book values are exact f32 values, their
 * midpoint is taken in double and rounded to f32, giving the thresholds bitsandbytes
 * hard-codes. */
static inline float nf4_mid(int m) { return (float)(((double)qn_nf4_book[m] + (double)qn_nf4_book[m + 1]) * 0.5); }

/* The 15 midpoints, ascending, for code_block. */
static void nf4_mids(float mid[15]) {
    for (int m = 0; m < 15; m++) mid[m] = nf4_mid(m);
}

/* One definition shared by quantizer and decoder so both round identically. */
static inline float nf4_dq_decode(uint8_t q, float scale, float mean) {
    return (float)(int8_t)q * scale + mean;
}

static float block_absmax(const float *w) {
    float a = 0.0f;
    for (int i = 0; i < QN_NF4_BLOCK; i++) a = qn_max_abs(a, w[i]); /* fmaxf(a, fabsf(w)): no libm call */
    return a;
}

/* Code of x = number of midpoints strictly below x (so a tie takes the lower code): counted
 * over all 15 instead of a binary search, which gives the same count on the ascending mids.
 * Loops of a fixed 64 with no branch, midpoints outside: they vectorize at -O2 (divps divides
 * as divss does, so the quotients are those of the scalar loop). */
static void code_block(const float *w, float absmax, const float *mid, uint8_t *q) {
    if (!(absmax > 0.0f)) {
        memset(q, QN_NF4_ZERO_CODE | (QN_NF4_ZERO_CODE << 4), QN_NF4_BLOCK / 2);
        return;
    }
    float x[QN_NF4_BLOCK];
    uint8_t c[QN_NF4_BLOCK];
    for (int i = 0; i < QN_NF4_BLOCK; i++) {
        x[i] = w[i] / absmax;
        c[i] = 0;
    }
    for (int m = 0; m < 15; m++) {
        const float t = mid[m];
        for (int i = 0; i < QN_NF4_BLOCK; i++) c[i] = (uint8_t)(c[i] + (x[i] > t));
    }
    for (int i = 0; i < QN_NF4_BLOCK / 2; i++) q[i] = (uint8_t)(c[2 * i] | (c[2 * i + 1] << 4));
}

/* Codes [rows][cols/2]; f32 absmax per block, or int8 absmax codes per block, f32 scales per
 * QN_NF4_DQ_BLOCK blocks and the f32 mean. */
quanta_status qn_nf4_layout(const quanta_tensor_desc *d, const char *what, qn_quant_layout *L) {
    if (d->group != 0 && d->group != QN_NF4_BLOCK)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s->group is %d; nf4 blocks are 64 (0 = 64)", what,
                            (int)d->group);
    if (d->double_quant != 0 && d->double_quant != 1)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s->double_quant is %d, must be 0 or 1", what,
                            (int)d->double_quant);
    size_t cols = (size_t)L->cols, count = (size_t)L->rows * cols; /* count fits */
    if (cols % QN_NF4_BLOCK != 0)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "%s->dims[1] (cols = %lld) is not a multiple of the nf4 block size %d", what,
                            (long long)L->cols, QN_NF4_BLOCK);
    size_t nb = count / QN_NF4_BLOCK, t, total;
    L->group = QN_NF4_BLOCK;
    L->double_quant = d->double_quant;
    L->codes_row_bytes = cols / 2;
    L->scales_offset = count / 2;
    if (!d->double_quant) {
        if (!qn_mul_size(nb, 4, &t) || !qn_add_size(L->scales_offset, t, &total)) return qn_layout_overflow(what, L);
    } else {
        size_t ndq = nb / QN_NF4_DQ_BLOCK + (nb % QN_NF4_DQ_BLOCK != 0), dqs, dqm;
        if (!qn_add_size(L->scales_offset, nb, &dqs) || !qn_mul_size(ndq, 4, &t) || !qn_add_size(dqs, t, &dqm) ||
            !qn_add_size(dqm, 4, &total))
            return qn_layout_overflow(what, L);
        L->nf4_dq_scales_offset = dqs;
        L->nf4_dq_mean_offset = dqm;
    }
    L->total_bytes = total;
    return QUANTA_OK;
}

/* Rows [row0, row0 + nrows) without double quantization: src holds those rows, dst is the whole
 * tensor. Blocks never leave their row (the layout requires cols % 64 == 0) and block b's codes
 * and absmax depend on its 64 weights only, so row ranges write the bytes of one whole pass.
 * (With double quantization the absmax codes depend on the mean of every block of the tensor
 * and on runs of 256 blocks that cross rows: quantized whole, qn_quantize_rows_ok says no.) */
quanta_status qn_nf4_quantize_rows(const qn_quant_layout *L, const float *src, int64_t row0, int64_t nrows,
                                   uint8_t *dst) {
    size_t bpr = (size_t)L->cols / QN_NF4_BLOCK, b0 = (size_t)row0 * bpr, nb = (size_t)nrows * bpr;
    float mid[15];
    nf4_mids(mid);
    for (size_t i = 0; i < nb; i++) {
        const float *w = src + i * QN_NF4_BLOCK;
        float a = block_absmax(w);
        qn_store_f32(dst + L->scales_offset + (b0 + i) * 4, a);
        code_block(w, a, mid, dst + (b0 + i) * (QN_NF4_BLOCK / 2));
    }
    return QUANTA_OK;
}

quanta_status qn_nf4_quantize(const qn_quant_layout *L, const float *src, uint8_t *dst) {
    size_t nb = (size_t)L->rows * (size_t)L->cols / QN_NF4_BLOCK;
    if (!L->double_quant) return qn_nf4_quantize_rows(L, src, 0, L->rows, dst);
    double sum = 0.0;
    for (size_t b = 0; b < nb; b++) sum += block_absmax(src + b * QN_NF4_BLOCK);
    float mean = (float)(sum / (double)nb);
    qn_store_f32(dst + L->nf4_dq_mean_offset, mean);
    float am[QN_NF4_DQ_BLOCK], mid[15];
    nf4_mids(mid);
    for (size_t b0 = 0; b0 < nb; b0 += QN_NF4_DQ_BLOCK) {
        size_t n = nb - b0 < QN_NF4_DQ_BLOCK ? nb - b0 : QN_NF4_DQ_BLOCK;
        float dmax = 0.0f;
        for (size_t i = 0; i < n; i++) {
            am[i] = block_absmax(src + (b0 + i) * QN_NF4_BLOCK);
            dmax = fmaxf(dmax, fabsf(am[i] - mean));
        }
        float dqs = dmax / 127.0f;
        qn_store_f32(dst + L->nf4_dq_scales_offset + (b0 / QN_NF4_DQ_BLOCK) * 4, dqs);
        for (size_t i = 0; i < n; i++) {
            int qd = dqs > 0.0f ? qn_rne_clamp((double)(am[i] - mean) / dqs, -127, 127) : 0;
            uint8_t u = (uint8_t)(qd & 0xFF);
            dst[L->scales_offset + b0 + i] = u;
            code_block(src + (b0 + i) * QN_NF4_BLOCK, nf4_dq_decode(u, dqs, mean), mid,
                       dst + (b0 + i) * (QN_NF4_BLOCK / 2));
        }
    }
    return QUANTA_OK;
}

float qn_nf4_absmax(const qn_quant_layout *L, const void *base, size_t block) {
    const uint8_t *p = base;
    if (!L->double_quant) return qn_load_f32(p + L->scales_offset + block * 4);
    float dqs = qn_load_f32(p + L->nf4_dq_scales_offset + (block / QN_NF4_DQ_BLOCK) * 4);
    float mean = qn_load_f32(p + L->nf4_dq_mean_offset);
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
