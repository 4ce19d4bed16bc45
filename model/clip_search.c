/*
 * clip_search.c — activation-weighted choice of quantization scales. Each unit that has its own
 * scale (a row for q8/fp8, a group for q4, a 64-block for nf4) is quantized after clamping to a
 * shrinking range, and keeps the ratio with the least error sum_k E[x_k^2] (w_k - w'_k)^2 — the
 * expected squared error the unit adds to the layer's outputs when input channels are
 * uncorrelated. Units are independent in all four formats, so one full-tensor quantization per
 * candidate ratio scores every unit at once, and the final tensor (each unit clamped to its own
 * ratio) reproduces each unit's best candidate bit for bit.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "calib.h"
#include "error.h"
#include "formats.h"

double qn_clip_ratio(int i) { return 1.0 - 0.02 * i; }

/* Clamps unit u of w (its columns [c0, c0 + len) of row r) into out at ratio `ratio`. */
static void clamp_unit(const float *w, float *out, int64_t n, float lo, float hi, double ratio) {
    float l = (float)(ratio * lo), h = (float)(ratio * hi);
    for (int64_t k = 0; k < n; k++) out[k] = w[k] < l ? l : w[k] > h ? h : w[k];
}

quanta_status qn_quantize_weighted_clip(const quanta_tensor_desc *desc, const float *w, const double *s, void *dst,
                                        size_t dst_bytes, qn_clip_result *res) {
    static const char *fn = "qn_quantize_weighted_clip";
    if (!desc || !w || !dst || !res) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: NULL argument", fn);
    memset(res, 0, sizeof *res);
    quanta_dtype dt = desc->dtype;
    if (dt != QUANTA_Q8 && dt != QUANTA_Q4 && dt != QUANTA_NF4 && dt != QUANTA_FP8_E4M3 && dt != QUANTA_FP8_E5M2)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: desc->dtype %d is not q8, q4, nf4 or fp8", fn, (int)dt);
    if (desc->ndim != 2 || desc->dims[0] <= 0 || desc->dims[1] <= 0)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: desc must be a 2-D matrix", fn);
    const int64_t R = desc->dims[0], C = desc->dims[1];
    int64_t unit = C;
    if (dt == QUANTA_Q4) unit = desc->group ? desc->group : QN_Q4_DEFAULT_GROUP;
    if (dt == QUANTA_NF4) unit = QN_NF4_BLOCK;
    if (C % unit)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: %lld columns are not a multiple of the group %lld", fn,
                            (long long)C, (long long)unit);
    size_t need, count;
    quanta_status st = quanta_tensor_bytes(desc, &need);
    if (st) return st;
    if (dst_bytes < need) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: dst_bytes %zu < %zu", fn, dst_bytes, need);
    if (!qn_mul_size((size_t)R, (size_t)C, &count) || count > SIZE_MAX / sizeof(float))
        return qn_error_set(QUANTA_ERR_OVERFLOW, "%s: tensor too large", fn);
    quanta_tensor_desc sd = *desc; /* the search runs without nf4 double quantization */
    sd.double_quant = 0;
    size_t sbytes;
    if ((st = quanta_tensor_bytes(&sd, &sbytes))) return st;
    const int64_t per_row = C / unit, n_units = R * per_row;
    float *clip = malloc(count * sizeof *clip), *back = malloc(count * sizeof *back);
    float *lo = malloc((size_t)n_units * sizeof *lo), *hi = malloc((size_t)n_units * sizeof *hi);
    double *best = malloc((size_t)n_units * sizeof *best);
    unsigned char *pick = calloc((size_t)n_units, 1);
    void *q = malloc(sbytes);
    if (!clip || !back || !lo || !hi || !best || !pick || !q) {
        st = qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "%s: no memory for %zu elements", fn, count);
        goto out;
    }
    /* Unit ranges: q4 keeps 0 inside [min, max]; the symmetric formats use +-max|w|. */
    for (int64_t u = 0; u < n_units; u++) {
        const float *wu = w + u * unit;
        float a = 0, b = 0;
        for (int64_t k = 0; k < unit; k++) {
            if (dt == QUANTA_Q4) {
                a = fminf(a, wu[k]);
                b = fmaxf(b, wu[k]);
            } else {
                b = fmaxf(b, fabsf(wu[k]));
            }
        }
        lo[u] = dt == QUANTA_Q4 ? a : -b;
        hi[u] = b;
    }
    for (int i = 0; i < QN_CLIP_STEPS; i++) {
        double r = qn_clip_ratio(i);
        for (int64_t u = 0; u < n_units; u++) clamp_unit(w + u * unit, clip + u * unit, unit, lo[u], hi[u], r);
        if ((st = quanta_quantize(&sd, clip, q, sbytes)) || (st = quanta_dequantize(&sd, q, sbytes, back, count))) goto out;
        for (int64_t u = 0; u < n_units; u++) {
            const int64_t c0 = (u % per_row) * unit;
            double e = 0;
            for (int64_t k = 0; k < unit; k++) {
                double d = (double)back[u * unit + k] - w[u * unit + k];
                e += (s ? s[c0 + k] : 1.0) * d * d;
            }
            if (i == 0) {
                best[u] = e;
                res->werr_minmax += e;
            } else if (e < best[u]) {
                best[u] = e;
                pick[u] = (unsigned char)i;
            }
        }
    }
    for (int64_t u = 0; u < n_units; u++) {
        clamp_unit(w + u * unit, clip + u * unit, unit, lo[u], hi[u], qn_clip_ratio(pick[u]));
        res->mean_ratio += qn_clip_ratio(pick[u]);
        res->clipped += pick[u] != 0;
    }
    res->units = n_units;
    res->mean_ratio /= (double)n_units;
    if ((st = quanta_quantize(desc, clip, dst, dst_bytes)) || (st = quanta_dequantize(desc, dst, dst_bytes, back, count)))
        goto out;
    /* Summed unit by unit exactly as werr_minmax was, so an unclipped tensor reports equal errors. */
    for (int64_t u = 0; u < n_units; u++) {
        const int64_t c0 = (u % per_row) * unit;
        double e = 0, nrm = 0;
        for (int64_t k = 0; k < unit; k++) {
            double sk = s ? s[c0 + k] : 1.0, d = (double)back[u * unit + k] - w[u * unit + k];
            e += sk * d * d;
            nrm += sk * (double)w[u * unit + k] * w[u * unit + k];
        }
        res->werr += e;
        res->wnorm += nrm;
    }
out:
    free(clip);
    free(back);
    free(lo);
    free(hi);
    free(best);
    free(pick);
    free(q);
    return st;
}
