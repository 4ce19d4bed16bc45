/* q8.c — int8 symmetric weights, one f32 scale per row: s = max|w|/127,
 * q = clamp(rne(w/s), -127, 127), w ~ q*s. -128 is never produced (keeps the range symmetric). */
#include "quant_impl.h"

#include "error.h"

/* q8, fp8_e4m3, fp8_e5m2: 1-byte codes [rows][cols], then an f32 scale per row. */
quanta_status qn_row_scale_layout(const quanta_tensor_desc *d, const char *what, qn_quant_layout *L) {
    (void)d;
    size_t rows = (size_t)L->rows, cols = (size_t)L->cols, count = rows * cols, sb, total; /* count fits */
    L->codes_row_bytes = cols;
    L->scales_offset = count;
    if (!qn_mul_size(rows, 4, &sb) || !qn_add_size(count, sb, &total)) return qn_layout_overflow(what, L);
    L->total_bytes = total;
    return QUANTA_OK;
}

quanta_status qn_q8_quantize_rows(const qn_quant_layout *L, const float *src, int64_t row0, int64_t nrows,
                                  uint8_t *dst) {
    size_t cols = (size_t)L->cols;
    for (int64_t i = 0; i < nrows; i++) {
        size_t r = (size_t)(row0 + i);
        const float *w = src + (size_t)i * cols;
        int8_t *q = (int8_t *)(dst + r * cols);
        float amax = 0.0f;
        for (size_t c = 0; c < cols; c++) amax = qn_max_abs(amax, w[c]);
        float s = amax / 127.0f;
        qn_store_f32(dst + L->scales_offset + r * 4, s);
        if (s == 0.0f) { /* all-zero row (or amax below 127 * 2^-149): codes 0, exact zeros back */
            memset(q, 0, cols);
            continue;
        }
        for (size_t c = 0; c < cols; c++) q[c] = (int8_t)qn_rne_clamp((double)w[c] / s, -127, 127);
    }
    return QUANTA_OK;
}

quanta_status qn_q8_quantize(const qn_quant_layout *L, const float *src, uint8_t *dst) {
    return qn_q8_quantize_rows(L, src, 0, L->rows, dst);
}

void qn_q8_dequant_row(const qn_quant_layout *L, const uint8_t *base, int64_t r, float *out) {
    size_t cols = (size_t)L->cols;
    const int8_t *q = (const int8_t *)(base + (size_t)r * cols);
    float s = qn_load_f32(base + L->scales_offset + (size_t)r * 4);
    for (size_t c = 0; c < cols; c++) out[c] = (float)q[c] * s;
}
