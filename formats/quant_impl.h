/* quant_impl.h — what quant.c's dispatch needs from the per-format files (q8.c, q4.c, nf4.c,
 * fp8.c); byte access to the layout goes through le_bytes.h. */
#ifndef QUANTA_FORMATS_QUANT_IMPL_H
#define QUANTA_FORMATS_QUANT_IMPL_H

#include <float.h>
#include <math.h>
#include <string.h>

#include "formats.h"
#include "le_bytes.h"

/* Round half to even to an integer, clamped to [lo, hi]; x must be finite. Callers pass
 * quotients computed in double: a quotient of two f32 values is then rounded once, whereas an
 * f32 quotient can land exactly on .5 and round the wrong way (error just above s/2).
 * Between the bounds |x| < 2^31, so adding and subtracting 1.5 * 2^52 leaves x rounded to an
 * integer in the current rounding mode, exactly as lrint would (ties to even by default) but
 * without a libm call per element (load-time quantization ran through one). A negative x adds and
 * subtracts -1.5 * 2^52 instead: the sum's magnitude is what gets rounded, so toward zero would
 * otherwise floor a negative x (-126.9 -> -127, lrint -126); this way every mode rounds like
 * lrint. That needs double arithmetic in double precision (FLT_EVAL_METHOD 0, not x87) and no
 * -ffast-math reassociation. */
static inline int qn_rne_clamp(double x, int lo, int hi) {
    if (x <= (double)lo) return lo;
    if (x >= (double)hi) return hi;
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0 && !defined(__FAST_MATH__)
    const double m = copysign(0x1.8p52, x); /* a sign bit, not a branch: the loops still vectorize */
    return (int)((x + m) - m);
#else
    return (int)lrint(x); /* default rounding mode: to nearest, ties to even */
#endif
}

/* fmaxf(m, fabsf(x)) for m not NaN, inline: fmaxf is a libm call unless -ffinite-math-only.
 * Same result for every x but a signaling NaN (glibc's fmaxf then returns NaN, this m); a
 * quiet NaN gives m both ways. The quantizers' callers refuse non-finite input before. */
static inline float qn_max_abs(float m, float x) {
    float a = fabsf(x);
    return a > m ? a : m;
}

/* A format's layout function reports a size that overflows size_t through this. */
quanta_status qn_layout_overflow(const char *what, const qn_quant_layout *L);

/* The format table's functions (see qn_format in formats.h), one set per format file. The
 * per-row-scale layout (codes, then f32 per row) is shared by q8 and both fp8 formats. */
quanta_status qn_row_scale_layout(const quanta_tensor_desc *d, const char *what, qn_quant_layout *L);
quanta_status qn_q8_quantize(const qn_quant_layout *L, const float *src, uint8_t *dst);
/* Rows [row0, row0 + nrows) only: src holds those rows, dst is the whole tensor (codes and
 * scales land where qn_q8_quantize puts them). Same for fp8. */
quanta_status qn_q8_quantize_rows(const qn_quant_layout *L, const float *src, int64_t row0, int64_t nrows,
                                  uint8_t *dst);
void qn_q8_dequant_row(const qn_quant_layout *L, const uint8_t *base, int64_t r, float *out);
quanta_status qn_q4_layout(const quanta_tensor_desc *d, const char *what, qn_quant_layout *L);
quanta_status qn_q4_quantize(const qn_quant_layout *L, const float *src, uint8_t *dst);
/* Rows [row0, row0 + nrows) as qn_q8_quantize_rows; q4 may refuse a range (scale beyond f16). */
quanta_status qn_q4_quantize_rows(const qn_quant_layout *L, const float *src, int64_t row0, int64_t nrows,
                                  uint8_t *dst);
void qn_q4_dequant_row(const qn_quant_layout *L, const uint8_t *base, int64_t r, float *out);
quanta_status qn_nf4_layout(const quanta_tensor_desc *d, const char *what, qn_quant_layout *L);
quanta_status qn_nf4_quantize(const qn_quant_layout *L, const float *src, uint8_t *dst);
/* Rows [row0, row0 + nrows) of an nf4 tensor without double quantization. */
quanta_status qn_nf4_quantize_rows(const qn_quant_layout *L, const float *src, int64_t row0, int64_t nrows,
                                   uint8_t *dst);
void qn_nf4_dequant_row(const qn_quant_layout *L, const uint8_t *base, int64_t r, float *out);
quanta_status qn_fp8_quantize(const qn_quant_layout *L, const float *src, uint8_t *dst); /* e4m3 and e5m2 */
quanta_status qn_fp8_quantize_rows(const qn_quant_layout *L, const float *src, int64_t row0, int64_t nrows,
                                   uint8_t *dst);
void qn_fp8_dequant_row(const qn_quant_layout *L, const uint8_t *base, int64_t r, float *out);

/* The ggml block formats q4_0 ... q6_k (formats/ggml_formats.c). */
quanta_status qn_ggml_layout(const quanta_tensor_desc *d, const char *what, qn_quant_layout *L);
quanta_status qn_ggml_quantize(const qn_quant_layout *L, const float *src, uint8_t *dst);
void qn_ggml_fmt_dequant_row(const qn_quant_layout *L, const uint8_t *base, int64_t r, float *out);

#endif
