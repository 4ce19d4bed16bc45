/* ggml_formats.c — the ggml block formats (q4_0 ... q6_k) as Quanta weight formats: layout
 * (rows of blocks, nothing else: the scales live inside the blocks), ggml type ids, and row
 * decoding through ggml's own reference dequantizers (gguf_dequant.c). A tensor of such a
 * dtype is the GGUF tensor's bytes unchanged. */
#include "error.h"
#include "gguf.h"
#include "quant_impl.h"

static const struct {
    quanta_dtype t;
    uint32_t ggml;
} ggml_ids[] = {
    {QUANTA_GGML_Q4_0, QN_GGML_Q4_0}, {QUANTA_GGML_Q4_1, QN_GGML_Q4_1}, {QUANTA_GGML_Q5_0, QN_GGML_Q5_0},
    {QUANTA_GGML_Q5_1, QN_GGML_Q5_1}, {QUANTA_GGML_Q8_0, QN_GGML_Q8_0}, {QUANTA_GGML_Q4_K, QN_GGML_Q4_K},
    {QUANTA_GGML_Q5_K, QN_GGML_Q5_K}, {QUANTA_GGML_Q6_K, QN_GGML_Q6_K},
};
#define N_GGML (sizeof ggml_ids / sizeof ggml_ids[0])

bool qn_dtype_is_ggml(quanta_dtype t) { return QN_DT_IS_GGML((int)t); }

uint32_t qn_ggml_block_of(quanta_dtype t, uint32_t *ggml_type, uint32_t *block_bytes) {
    for (size_t i = 0; i < N_GGML; i++)
        if (ggml_ids[i].t == t) {
            if (ggml_type) *ggml_type = ggml_ids[i].ggml;
            if (block_bytes) *block_bytes = QN_GGML_BLOCK_BYTES((int)t);
            return QN_GGML_BLOCK_ELEMS((int)t);
        }
    return 0;
}

bool qn_dtype_from_ggml(uint32_t ggml_type, quanta_dtype *out) {
    for (size_t i = 0; i < N_GGML; i++)
        if (ggml_ids[i].ggml == ggml_type) {
            *out = ggml_ids[i].t;
            return true;
        }
    return false;
}

quanta_status qn_ggml_layout(const quanta_tensor_desc *d, const char *what, qn_quant_layout *L) {
    const uint32_t blk = QN_GGML_BLOCK_ELEMS((int)d->dtype), bb = QN_GGML_BLOCK_BYTES((int)d->dtype);
    if (d->group != 0 && d->group != (int32_t)blk)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s->group is %d; %s blocks are %u (0 = %u)", what,
                            (int)d->group, quanta_dtype_name(d->dtype), (unsigned)blk, (unsigned)blk);
    if (L->cols % (int64_t)blk != 0)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s->dims[1] (cols = %lld) is not a multiple of the %s block of %u",
                            what, (long long)L->cols, quanta_dtype_name(d->dtype), (unsigned)blk);
    L->group = (int32_t)blk;
    L->codes_row_bytes = (size_t)(L->cols / (int64_t)blk) * bb; /* <= cols * 2: fits */
    size_t total;
    if (!qn_mul_size((size_t)L->rows, L->codes_row_bytes, &total)) return qn_layout_overflow(what, L);
    L->total_bytes = total;
    return QUANTA_OK;
}

void qn_ggml_fmt_dequant_row(const qn_quant_layout *L, const uint8_t *base, int64_t r, float *out) {
    uint32_t gt = 0;
    (void)qn_ggml_block_of((quanta_dtype)L->dtype, &gt, NULL);
    (void)qn_ggml_dequant_row(gt, base + (size_t)r * L->codes_row_bytes, out, L->cols);
}

quanta_status qn_ggml_quantize(const qn_quant_layout *L, const float *src, uint8_t *dst) {
    /* ggml's reference encoders (ggml_quantize.c), row by row; formats without one say so. */
    uint32_t gt = 0;
    (void)qn_ggml_block_of((quanta_dtype)L->dtype, &gt, NULL);
    for (int64_t r = 0; r < L->rows; r++) {
        quanta_status st = qn_ggml_quantize_row(gt, src + (size_t)r * (size_t)L->cols, dst + (size_t)r * L->codes_row_bytes,
                                                L->cols);
        if (st != QUANTA_OK)
            return qn_error_set(st, "quanta_quantize: %s: %s", quanta_dtype_name((quanta_dtype)L->dtype), quanta_last_error());
    }
    return QUANTA_OK;
}
