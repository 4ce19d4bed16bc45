/* q4.c — int4 asymmetric, group-wise along cols. Per group: s = (max - min)/15 with
 * min <= 0 <= max (so 0 is always inside the range), stored as f16; the zero point
 * z = clamp(rne(-min/s16), 0, 15) is computed from the f16-rounded scale s16, and so are the
 * codes q = clamp(rne(w/s16) + z, 0, 15), so dequantization (q - z)*s16 matches what the
 * quantizer aimed at. Codes: two per byte, low nibble = even column; zeros likewise per row. */
#include "quant_impl.h"

#include "error.h"

/* Codes [rows][cols/2], f16 scales [rows][cols/g], zero nibbles [rows][ceil(cols/g / 2)]. */
quanta_status qn_q4_layout(const quanta_tensor_desc *d, const char *what, qn_quant_layout *L) {
    int32_t g = d->group == 0 ? QN_Q4_DEFAULT_GROUP : d->group;
    if (g != 32 && g != 64 && g != 128)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s->group is %d; q4 groups are 32, 64 or 128 (0 = 64)",
                            what, (int)d->group);
    size_t rows = (size_t)L->rows, cols = (size_t)L->cols, count = rows * cols; /* count fits */
    if (cols % (size_t)g != 0)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "%s->dims[1] (cols = %lld) is not a multiple of the q4 group size %d", what,
                            (long long)L->cols, (int)g);
    size_t ng = cols / (size_t)g, nsc, sb, zb, zo, total;
    L->group = g;
    L->codes_row_bytes = cols / 2;
    L->scales_offset = count / 2;
    L->q4_zero_row_bytes = (ng + 1) / 2;
    if (!qn_mul_size(rows, ng, &nsc) || !qn_mul_size(nsc, 2, &sb) || !qn_add_size(L->scales_offset, sb, &zo) ||
        !qn_mul_size(rows, L->q4_zero_row_bytes, &zb) || !qn_add_size(zo, zb, &total))
        return qn_layout_overflow(what, L);
    L->q4_zeros_offset = zo;
    L->total_bytes = total;
    return QUANTA_OK;
}

/* Rows [row0, row0 + nrows): src holds those rows, dst is the whole tensor. A group never
 * leaves its row (the layout requires cols % g == 0), and a row's scales and zero nibbles sit in
 * its own slices, so any split into row ranges writes the bytes of one whole-tensor pass.
 * lo/hi: comparisons, not fminf/fmaxf (libm calls). The results differ only in the sign of a
 * zero bound, which changes no byte: lo stays <= +0 and hi >= +0, so hi - lo is never -0, and
 * -lo/s is a zero either way. The code: clamp(rint(x) + z, 0, 15) = z + clamp(rint(x), -z,
 * 15 - z) (z an integer, rint monotone), which qn_rne_clamp gives without a rint call. */
quanta_status qn_q4_quantize_rows(const qn_quant_layout *L, const float *src, int64_t row0, int64_t nrows,
                                  uint8_t *dst) {
    size_t cols = (size_t)L->cols, g = (size_t)L->group, ng = cols / g;
    uint8_t *scales = dst + L->scales_offset, *zeros = dst + L->q4_zeros_offset;
    memset(zeros + (size_t)row0 * L->q4_zero_row_bytes, 0, (size_t)nrows * L->q4_zero_row_bytes); /* odd nibble: 0 */
    for (int64_t i = 0; i < nrows; i++) {
        size_t r = (size_t)(row0 + i);
        const float *w = src + (size_t)i * cols;
        uint8_t *q = dst + r * L->codes_row_bytes;
        for (size_t j = 0; j < ng; j++) {
            const float *wg = w + j * g;
            float lo = 0.0f, hi = 0.0f;
            for (size_t c = 0; c < g; c++) {
                lo = wg[c] < lo ? wg[c] : lo;
                hi = wg[c] > hi ? wg[c] : hi;
            }
            uint16_t s16 = qn_f32_to_f16((hi - lo) / 15.0f);
            float s = qn_f16_to_f32(s16);
            if (isinf(s))
                return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                                    "quanta_quantize: q4 row %lld group %zu: value range [%g, %g] needs a "
                                    "scale beyond the f16 maximum 65504",
                                    (long long)r, j, (double)lo, (double)hi);
            int z = 0;
            if (s > 0.0f) z = qn_rne_clamp(-(double)lo / s, 0, 15);
            qn_store_u16(scales + (r * ng + j) * 2, s16);
            zeros[r * L->q4_zero_row_bytes + j / 2] |= (uint8_t)(z << ((j & 1) * 4));
            uint8_t *qg = q + j * g / 2;
            if (!(s > 0.0f)) { /* range below the f16 subnormal step: every code z, decodes to 0 */
                memset(qg, (int)(z | (z << 4)), g / 2);
                continue;
            }
            for (size_t c = 0; c < g; c += 2) {
                int q0 = z + qn_rne_clamp((double)wg[c] / s, -z, 15 - z);
                int q1 = z + qn_rne_clamp((double)wg[c + 1] / s, -z, 15 - z);
                qg[c / 2] = (uint8_t)(q0 | (q1 << 4));
            }
        }
    }
    return QUANTA_OK;
}

quanta_status qn_q4_quantize(const qn_quant_layout *L, const float *src, uint8_t *dst) {
    return qn_q4_quantize_rows(L, src, 0, L->rows, dst);
}

void qn_q4_dequant_row(const qn_quant_layout *L, const uint8_t *base, int64_t r, float *out) {
    size_t cols = (size_t)L->cols, g = (size_t)L->group, ng = cols / g;
    const uint8_t *q = base + (size_t)r * L->codes_row_bytes;
    const uint8_t *scales = base + L->scales_offset + (size_t)r * ng * 2;
    const uint8_t *zeros = base + L->q4_zeros_offset + (size_t)r * L->q4_zero_row_bytes;
    for (size_t j = 0; j < ng; j++) {
        float s = qn_f16_to_f32(qn_load_u16(scales + j * 2));
        float z = (float)((zeros[j / 2] >> ((j & 1) * 4)) & 0xF);
        const uint8_t *qg = q + j * g / 2;
        float *o = out + j * g;
        for (size_t c = 0; c < g / 2; c++) {
            o[2 * c] = ((float)(qg[c] & 0xF) - z) * s;
            o[2 * c + 1] = ((float)(qg[c] >> 4) - z) * s;
        }
    }
}
