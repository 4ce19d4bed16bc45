/* quant_impl.h — what quant.c's dispatch needs from the per-format files (q8.c, q4.c, nf4.c,
 * fp8.c); byte access to the layout goes through le_bytes.h. */
#ifndef QUANTA_FORMATS_QUANT_IMPL_H
#define QUANTA_FORMATS_QUANT_IMPL_H

#include <math.h>
#include <string.h>

#include "formats.h"
#include "le_bytes.h"

/* Round half to even to an integer, clamped to [lo, hi]; x must be finite. Callers pass
 * quotients computed in double: a quotient of two f32 values is then rounded once, whereas an
 * f32 quotient can land exactly on .5 and round the wrong way (error just above s/2). */
static inline int qn_rne_clamp(double x, int lo, int hi) {
    if (x <= (double)lo) return lo;
    if (x >= (double)hi) return hi;
    return (int)lrint(x); /* default rounding mode: to nearest, ties to even */
}

/* Quantizers: src is the full [rows][cols] f32 matrix, already checked finite; dst has
 * L->total_bytes. Row dequantizers: see qn_dequant_row. */
void qn_q8_quantize(const qn_quant_layout *L, const float *src, uint8_t *dst);
void qn_q8_dequant_row(const qn_quant_layout *L, const uint8_t *base, int64_t r, float *out);
quanta_status qn_q4_quantize(const qn_quant_layout *L, const float *src, uint8_t *dst);
void qn_q4_dequant_row(const qn_quant_layout *L, const uint8_t *base, int64_t r, float *out);
void qn_nf4_quantize(const qn_quant_layout *L, const float *src, uint8_t *dst);
void qn_nf4_dequant_row(const qn_quant_layout *L, const uint8_t *base, int64_t r, float *out);
void qn_fp8_quantize(const qn_quant_layout *L, quanta_dtype t, const float *src, uint8_t *dst);
void qn_fp8_dequant_row(const qn_quant_layout *L, quanta_dtype t, const uint8_t *base, int64_t r, float *out);

/* ggml block formats: encoding (formats/ggml_formats.c). */
quanta_status qn_ggml_quantize(const qn_quant_layout *L, quanta_dtype t, const float *src, void *dst);

#endif
