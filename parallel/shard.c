/*
 * shard.c — cuts tensor-parallel shards out of weights in the interchange layout.
 *
 * Why byte copies and not dequantize + requantize: requantizing a slice would choose new
 * scales and change values; copying whole rows or whole groups (with their scales and zero
 * points) keeps every weight bit for bit. The one exception is nf4 with double quantization,
 * whose 8-bit absmax codes are grouped in blocks of 256 that straddle shard boundaries: the
 * shard stores the exact f32 absmax each block decodes to, so it dequantizes identically.
 */
#include <string.h>

#include "error.h"
#include "formats.h"
#include "le_bytes.h"
#include "quanta.h"

static quanta_status check_args(const quanta_tensor_desc *desc, quanta_shard_axis axis, int rank, int world,
                                const char *fn, qn_quant_layout *L) {
    if (!desc) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: desc is NULL", fn);
    quanta_status st = qn_quant_layout_get(desc, L);
    if (st != QUANTA_OK) return st;
    if (desc->ndim != 2)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: desc must be a 2-D weight [N, K], got %d-D", fn,
                            desc->ndim);
    if (axis != QUANTA_SHARD_ROWS && axis != QUANTA_SHARD_COLS)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: axis %d is not a quanta_shard_axis", fn, (int)axis);
    if (world < 1 || rank < 0 || rank >= world)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: rank %d / world %d (need 0 <= rank < world)", fn, rank,
                            world);
    if (axis == QUANTA_SHARD_ROWS && desc->dims[0] < world)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: %lld rows cannot be split %d ways", fn,
                            (long long)desc->dims[0], world);
    if (axis == QUANTA_SHARD_COLS) {
        int64_t unit = qn_dtype_is_quantized(desc->dtype) && L->group ? L->group : 1;
        if (desc->dims[1] % ((int64_t)world * unit) != 0)
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                                "%s: K = %lld must split into whole %lld-wide groups across %d ranks "
                                "(K %% (world * group) == 0)",
                                fn, (long long)desc->dims[1], (long long)unit, world);
    }
    return QUANTA_OK;
}

static void shard_range(const quanta_tensor_desc *d, quanta_shard_axis axis, int rank, int world, int64_t *first,
                        int64_t *count) {
    if (axis == QUANTA_SHARD_ROWS) {
        int64_t n = d->dims[0], base = n / world, extra = n % world;
        *first = rank * base + (rank < extra ? rank : extra);
        *count = base + (rank < extra ? 1 : 0);
    } else {
        *count = d->dims[1] / world;
        *first = rank * *count;
    }
}

quanta_status quanta_shard_desc(const quanta_tensor_desc *desc, quanta_shard_axis axis, int rank, int world,
                                quanta_tensor_desc *out) {
    qn_quant_layout L;
    quanta_status st = check_args(desc, axis, rank, world, "quanta_shard_desc", &L);
    if (st != QUANTA_OK) return st;
    if (!out) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_shard_desc: out is NULL");
    int64_t first, count;
    shard_range(desc, axis, rank, world, &first, &count);
    *out = *desc;
    out->dims[axis == QUANTA_SHARD_ROWS ? 0 : 1] = count;
    if (desc->dtype == QUANTA_NF4) out->double_quant = 0;
    return QUANTA_OK;
}

quanta_status quanta_shard_offset(const quanta_tensor_desc *desc, quanta_shard_axis axis, int rank, int world,
                                  int64_t *first) {
    qn_quant_layout L;
    quanta_status st = check_args(desc, axis, rank, world, "quanta_shard_offset", &L);
    if (st != QUANTA_OK) return st;
    if (!first) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_shard_offset: first is NULL");
    int64_t count;
    shard_range(desc, axis, rank, world, first, &count);
    return QUANTA_OK;
}

/* Copies `n` 4-bit values starting at nibble index `from` of src into dst starting at nibble 0. */
static void copy_nibbles(const uint8_t *src, size_t from, size_t n, uint8_t *dst) {
    for (size_t i = 0; i < n; i++) {
        size_t s = from + i;
        uint8_t v = (uint8_t)((src[s / 2] >> (4 * (s % 2))) & 0xF);
        if (i % 2 == 0)
            dst[i / 2] = v;
        else
            dst[i / 2] |= (uint8_t)(v << 4);
    }
}

quanta_status quanta_shard_weight(const quanta_tensor_desc *desc, const void *data, size_t bytes,
                                  quanta_shard_axis axis, int rank, int world, void *out, size_t out_bytes) {
    static const char fn[] = "quanta_shard_weight";
    qn_quant_layout L, S;
    quanta_status st = check_args(desc, axis, rank, world, fn, &L);
    if (st != QUANTA_OK) return st;
    if (!data) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: data is NULL", fn);
    if (!out) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: out is NULL", fn);
    if (bytes != L.total_bytes)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: bytes is %zu but the weight holds %zu", fn, bytes,
                            L.total_bytes);
    quanta_tensor_desc sd;
    st = quanta_shard_desc(desc, axis, rank, world, &sd);
    if (st != QUANTA_OK) return st;
    st = qn_quant_layout_get(&sd, &S);
    if (st != QUANTA_OK) return st;
    if (out_bytes < S.total_bytes)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: out_bytes is %zu but the shard needs %zu", fn,
                            out_bytes, S.total_bytes);

    const uint8_t *in = data;
    uint8_t *o = out;
    int64_t first, count;
    shard_range(desc, axis, rank, world, &first, &count);
    size_t rows = (size_t)L.rows, cols = (size_t)L.cols;
    /* Codes (or dense values, or whole ggml blocks): the shard's rows, or each row's column
     * range (col0 is a multiple of the group/block, so the byte offset is exact). */
    for (size_t r = 0; r < (size_t)S.rows; r++) {
        size_t src_row = axis == QUANTA_SHARD_ROWS ? (size_t)first + r : r;
        size_t col0 = axis == QUANTA_SHARD_ROWS ? 0 : (size_t)first;
        memcpy(o + r * S.codes_row_bytes, in + src_row * L.codes_row_bytes + col0 * L.codes_row_bytes / cols, S.codes_row_bytes);
    }
    size_t g = L.group ? (size_t)L.group : cols;
    size_t groups = cols / g, s_groups = (size_t)S.cols / g;
    size_t g0 = axis == QUANTA_SHARD_COLS ? (size_t)first / g : 0;
    size_t r0 = axis == QUANTA_SHARD_ROWS ? (size_t)first : 0;
    switch (desc->dtype) {
    case QUANTA_Q8:
    case QUANTA_FP8_E4M3:
    case QUANTA_FP8_E5M2: /* one scale per row: shared by every column shard */
        memcpy(o + S.scales_offset, in + L.scales_offset + r0 * 4, (size_t)S.rows * 4);
        break;
    case QUANTA_Q4:
        for (size_t r = 0; r < (size_t)S.rows; r++) {
            memcpy(o + S.scales_offset + (r * s_groups) * 2, in + L.scales_offset + ((r0 + r) * groups + g0) * 2,
                   s_groups * 2);
            copy_nibbles(in + L.q4_zeros_offset + (r0 + r) * L.q4_zero_row_bytes, g0, s_groups,
                         o + S.q4_zeros_offset + r * S.q4_zero_row_bytes);
        }
        break;
    case QUANTA_NF4:
        for (size_t r = 0; r < (size_t)S.rows; r++)
            for (size_t b = 0; b < s_groups; b++)
                qn_store_f32(o + S.scales_offset + (r * s_groups + b) * 4,
                             qn_nf4_absmax(&L, in, (r0 + r) * groups + g0 + b));
        break;
    default:
        break;
    }
    (void)rows;
    return QUANTA_OK;
}
