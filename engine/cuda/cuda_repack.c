/*
 * cuda_repack.c — turns a weight from the interchange layout into the tiled layout of the
 * tensor-core matmul (kernels_cuda/cuda_kernels.h describes it). Host code: the weight is
 * read back once at prepare time, so the kernels never touch the interchange layout's
 * unaligned sections. Values that the codes do not carry exactly in f16 are split into an
 * f16 multiplier per group and a power of two per row, so nothing leaves f16 range.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_internal.h"
#include "le_bytes.h"

int qn_cuda_weight_format(quanta_dtype dtype) {
    switch (dtype) {
    case QUANTA_F16: case QUANTA_BF16: return QN_CW_F16;
    case QUANTA_Q8: return QN_CW_Q8;
    case QUANTA_FP8_E4M3: return QN_CW_E4M3;
    case QUANTA_FP8_E5M2: return QN_CW_E5M2;
    case QUANTA_Q4: return QN_CW_Q4;
    case QUANTA_NF4: return QN_CW_NF4;
    default: return -1;
    }
}

/* 2^-e with max * 2^-e in [2^(top-1), 2^top); 1 for a zero or non-finite max. */
static float row_pow2(float max, int top) {
    if (!(max > 0.0f) || !isfinite(max)) return 1.0f;
    int ex;
    (void)frexpf(max, &ex);
    return ldexpf(1.0f, ex - top);
}

static void put_code(qn_cuda_packed *p, int64_t n, int64_t k, unsigned v) {
    int shift;
    const size_t off = p->codes_off + qn_cuda_weight_code_offset(p->fmt, p->Kp, n, k, &shift);
    const int bits = qn_cuda_weight_bits(p->fmt);
    if (bits == 16) {
        p->buf[off] = (uint8_t)v;
        p->buf[off + 1] = (uint8_t)(v >> 8);
    } else if (bits == 8) {
        p->buf[off] = (uint8_t)v;
    } else {
        p->buf[off] = (uint8_t)(p->buf[off] | ((v & 0xFu) << shift));
    }
}

quanta_status qn_cuda_repack(const quanta_tensor_desc *desc, const void *src, size_t src_bytes, qn_cuda_packed *out) {
    memset(out, 0, sizeof *out);
    const int fmt = qn_cuda_weight_format(desc->dtype);
    if (fmt < 0 || desc->ndim != 2)
        return qn_error_set(QUANTA_ERR_UNSUPPORTED, "cuda prepare_weight: dtype %d with %d dims has no tiled form",
                            (int)desc->dtype, (int)desc->ndim);
    qn_quant_layout L;
    quanta_status st = qn_quant_layout_get(desc, &L);
    if (st != QUANTA_OK) return st;
    const size_t need = qn_dtype_is_quantized(desc->dtype) ? L.total_bytes
                                                            : (size_t)L.rows * (size_t)L.cols * qn_dtype_elem_size(desc->dtype);
    if (src_bytes < need)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "cuda prepare_weight: %zu bytes given, the weight needs %zu",
                            src_bytes, need);
    const uint8_t *b = src;
    out->fmt = fmt;
    out->N = L.rows, out->K = L.cols;
    out->Np = (L.rows + 15) / 16 * 16;
    out->Kp = (L.cols + 63) / 64 * 64;
    out->group = fmt == QN_CW_Q4 ? L.group : fmt == QN_CW_NF4 ? QN_NF4_BLOCK : 0;
    const int32_t mg = out->group > 0 ? out->group : 64;
    out->meta_cols = (size_t)((out->Kp + mg - 1) / mg);
    size_t codes, rs, meta, total;
    if (!qn_mul_size((size_t)out->Np, (size_t)out->Kp, &codes) || !qn_mul_size(codes, 2, &total))
        return qn_error_set(QUANTA_ERR_OVERFLOW, "cuda prepare_weight: [%lld, %lld] is too large", (long long)L.rows,
                            (long long)L.cols);
    codes = qn_cuda_weight_code_bytes(fmt, out->Np, out->Kp);
    rs = (size_t)out->Np * 4;
    meta = (fmt == QN_CW_Q4 || fmt == QN_CW_NF4) ? (size_t)out->Np * out->meta_cols * 4 : 4;
    out->codes_off = 0;
    out->row_scale_off = (codes + 255) / 256 * 256;
    out->meta_off = out->row_scale_off + (rs + 255) / 256 * 256;
    out->bytes = out->meta_off + meta;
    out->buf = calloc(1, out->bytes);
    if (!out->buf)
        return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "cuda prepare_weight: %zu host bytes for repacking", out->bytes);
    float *row_scale = (float *)(void *)(out->buf + out->row_scale_off);
    uint32_t *metap = (uint32_t *)(void *)(out->buf + out->meta_off);
    const int64_t N = L.rows, K = L.cols;
    for (int64_t n = 0; n < out->Np; n++) row_scale[n] = 1.0f;

    for (int64_t n = 0; n < N; n++) {
        switch (fmt) {
        case QN_CW_Q8: case QN_CW_E4M3: case QN_CW_E5M2: {
            row_scale[n] = qn_load_f32(b + L.scales_offset + (size_t)n * 4);
            const uint8_t *q = b + (size_t)n * L.codes_row_bytes;
            for (int64_t k = 0; k < K; k++) put_code(out, n, k, q[k]);
            break;
        }
        case QN_CW_F16: {
            const uint8_t *q = b + (size_t)n * (size_t)K * 2;
            if (desc->dtype == QUANTA_F16) {
                for (int64_t k = 0; k < K; k++) put_code(out, n, k, qn_load_u16(q + 2 * k));
                break;
            }
            float mx = 0.0f;
            for (int64_t k = 0; k < K; k++) mx = fmaxf(mx, fabsf(qn_bf16_to_f32(qn_load_u16(q + 2 * k))));
            const float r = row_pow2(mx, 14);
            row_scale[n] = r;
            for (int64_t k = 0; k < K; k++) put_code(out, n, k, qn_f32_to_f16(qn_bf16_to_f32(qn_load_u16(q + 2 * k)) / r));
            break;
        }
        case QN_CW_Q4: {
            const int64_t ng = K / L.group;
            const uint8_t *sc = b + L.scales_offset + (size_t)n * (size_t)ng * 2;
            const uint8_t *zp = b + L.q4_zeros_offset + (size_t)n * L.q4_zero_row_bytes;
            float mx = 0.0f;
            for (int64_t j = 0; j < ng; j++) mx = fmaxf(mx, fabsf(qn_f16_to_f32(qn_load_u16(sc + 2 * j))));
            const float r = row_pow2(mx, 10); /* |q - z| <= 15: products stay under 2^14 */
            row_scale[n] = r;
            for (int64_t j = 0; j < ng; j++) {
                const unsigned z = (zp[j / 2] >> ((j & 1) * 4)) & 0xFu;
                const uint16_t s = qn_f32_to_f16(qn_f16_to_f32(qn_load_u16(sc + 2 * j)) / r);
                metap[(size_t)n * out->meta_cols + (size_t)j] = (uint32_t)s | ((uint32_t)qn_f32_to_f16(1024.0f + (float)z) << 16);
            }
            const uint8_t *q = b + (size_t)n * L.codes_row_bytes;
            for (int64_t k = 0; k < K; k++) put_code(out, n, k, (k & 1) ? q[k / 2] >> 4 : q[k / 2] & 0xFu);
            break;
        }
        case QN_CW_NF4: {
            const int64_t nb = K / QN_NF4_BLOCK;
            float mx = 0.0f;
            for (int64_t j = 0; j < nb; j++) mx = fmaxf(mx, qn_nf4_absmax(&L, b, (size_t)(n * nb + j)));
            const float r = row_pow2(mx, 14);
            row_scale[n] = r;
            for (int64_t j = 0; j < nb; j++) {
                const float a = qn_nf4_absmax(&L, b, (size_t)(n * nb + j));
                metap[(size_t)n * out->meta_cols + (size_t)j] = qn_f32_to_f16(a / r);
            }
            const uint8_t *q = b + (size_t)n * L.codes_row_bytes;
            for (int64_t k = 0; k < K; k++) put_code(out, n, k, (k & 1) ? q[k / 2] >> 4 : q[k / 2] & 0xFu);
            break;
        }
        default: break;
        }
    }
    return QUANTA_OK;
}

/* The e4m3 codes K-major beside the tiled ones (fp818): the FP8 GEMM's form with both wgmma operands in shared memory
 * loads 128-row x 128-byte boxes of it by TMA (kernels_cuda/matmul_fp8_wg.cu). A copy, not a replacement: the
 * decode GEMV and the f16 route read the tiled layout, so with the switch on an e4m3 weight takes twice its codes'
 * bytes on the device (bench/NOTES.md, fp818: what a default would need). */
quanta_status qn_cuda_repack_fp8_km(qn_cuda_packed *p) {
    if (p->fmt != QN_CW_E4M3 || !p->buf || p->km_only) /* fp820's K-major-only codes are no tiled source */
        return qn_error_set(QUANTA_ERR_UNSUPPORTED, "cuda prepare_weight: a K-major copy is for tiled e4m3 codes only");
    size_t km, total;
    if (!qn_mul_size((size_t)p->Np, (size_t)p->Kp, &km) || !qn_add_size((p->bytes + 255) / 256 * 256, km, &total))
        return qn_error_set(QUANTA_ERR_OVERFLOW, "cuda prepare_weight: [%lld, %lld] is too large", (long long)p->N,
                            (long long)p->K);
    uint8_t *b = realloc(p->buf, total);
    if (!b) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "cuda prepare_weight: %zu host bytes for the K-major copy", total);
    const size_t off = (p->bytes + 255) / 256 * 256;
    memset(b + p->bytes, 0, total - p->bytes); /* zeros past N and K, as the tiled codes' padding */
    int shift;
    for (int64_t n = 0; n < p->N; n++)
        for (int64_t k = 0; k < p->K; k++)
            b[off + qn_cuda_fp8_km_offset(p->Kp, n, k)] =
                b[p->codes_off + qn_cuda_weight_code_offset(QN_CW_E4M3, p->Kp, n, k, &shift)];
    p->buf = b, p->bytes = total, p->codes_k_off = off;
    return QUANTA_OK;
}

/* fp820 (QUANTA_CUDA_FP8_KM=1): the e4m3 codes K-major and nothing else, in place of the tiled ones: one layout that
 * the decode GEMV (matmul_q.cu, its K-major form) and the FP8 GEMM's SS forms both read, so an e4m3 weight takes the
 * device bytes of one copy. Same size (Np x Kp bytes) and offsets: the scales stay where they were. */
quanta_status qn_cuda_repack_fp8_km_only(qn_cuda_packed *p) {
    if (p->fmt != QN_CW_E4M3 || !p->buf || p->codes_k_off || p->km_only)
        return qn_error_set(QUANTA_ERR_UNSUPPORTED, "cuda prepare_weight: a K-major layout is for tiled e4m3 codes only");
    size_t km;
    if (!qn_mul_size((size_t)p->Np, (size_t)p->Kp, &km))
        return qn_error_set(QUANTA_ERR_OVERFLOW, "cuda prepare_weight: [%lld, %lld] is too large", (long long)p->N,
                            (long long)p->K);
    uint8_t *t = malloc(km ? km : 1);
    if (!t) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "cuda prepare_weight: %zu host bytes for the K-major layout", km);
    memset(t, 0, km); /* zeros past N and K, as the tiled codes' padding */
    int shift;
    for (int64_t n = 0; n < p->N; n++)
        for (int64_t k = 0; k < p->K; k++)
            t[qn_cuda_fp8_km_offset(p->Kp, n, k)] = p->buf[p->codes_off + qn_cuda_weight_code_offset(QN_CW_E4M3, p->Kp, n, k, &shift)];
    memcpy(p->buf + p->codes_off, t, km); /* the tiled codes took the same Np x Kp bytes */
    free(t);
    p->codes_k_off = p->codes_off, p->km_only = 1;
    return QUANTA_OK;
}
