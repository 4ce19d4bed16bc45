/*
 * formats.h — quantized weight formats and element conversions (internal API shared by the
 * reference backend, the other backends' host code, the model runtime and the tests).
 * The public entry points (quanta_quantize, quanta_dequantize, quanta_tensor_bytes,
 * quanta_f32_to_f16, ...) are thin wrappers over these. Interchange byte layouts are
 * documented in include/quanta.h and in full in formats/README.md.
 */
#ifndef QUANTA_FORMATS_H
#define QUANTA_FORMATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "layout.h"
#include "quanta.h"

/* The 16 NormalFloat-4 values (QN_NF4_BOOK_INIT, layout.h), for host code. */
extern const float qn_nf4_book[16];

/*
 * The format table: one entry per quanta_dtype (formats/format_table.c). Dense element types
 * have elem_size and no functions; weight formats have the three functions, which hold all
 * that is format-specific on the host: layout fills the format's sections of a
 * qn_quant_layout (layout.h) whose dtype, rows and cols are set, validating the descriptor's
 * format fields (group, double_quant, cols) with errors prefixed by `what`; quantize writes
 * L->total_bytes from finite f32 values; dequant_row decodes row r.
 */
typedef struct qn_format {
    quanta_dtype dtype;
    const char *name;  /* quanta_dtype_name / quanta_dtype_parse */
    size_t elem_size;  /* dense: bytes per element; weight formats: 0 */
    bool is_float;     /* f32, f16, bf16: the activation dtypes */
    quanta_status (*layout)(const quanta_tensor_desc *d, const char *what, qn_quant_layout *L);
    quanta_status (*quantize)(const qn_quant_layout *L, const float *src, uint8_t *dst);
    /* Rows [row0, row0 + nrows) alone (src holds those rows, dst is the whole tensor), the bytes
     * of one whole quantize where the layout keeps rows independent; NULL where it never does. */
    quanta_status (*quantize_rows)(const qn_quant_layout *L, const float *src, int64_t row0, int64_t nrows,
                                   uint8_t *dst);
    void (*dequant_row)(const qn_quant_layout *L, const uint8_t *base, int64_t r, float *out);
} qn_format;

/* The entry of a dtype, NULL when t is not a known quanta_dtype. */
const qn_format *qn_format_of(quanta_dtype t);
/* Entry i of the table (0 <= i < qn_format_count()), for listing every dtype. */
const qn_format *qn_format_at(int i);
int qn_format_count(void);

bool qn_dtype_is_quantized(quanta_dtype t);
bool qn_dtype_is_float(quanta_dtype t);      /* f32, f16, bf16 */
size_t qn_dtype_elem_size(quanta_dtype t);   /* f32/i32: 4, f16/bf16: 2, u8: 1, quantized: 0 */
/* The quantized dtypes a paged KV pool may hold besides the activation dtypes: int8 (q8) and fp8
 * e4m3, each with one f32 scale per row of the last dim, i.e. per head and position in a pool
 * [1, Hkv, R, D], so a write never touches (or rescales) entries already written. */
static inline bool qn_kv_dtype_is_quantized(quanta_dtype t) { return t == QUANTA_Q8 || t == QUANTA_FP8_E4M3; }

/* ggml block formats (QUANTA_GGML_*, formats/ggml_formats.c): also qn_dtype_is_quantized. */
bool qn_dtype_is_ggml(quanta_dtype t);
/* Elements per block (0: not a ggml format); the ggml type id and block bytes if non-NULL. */
uint32_t qn_ggml_block_of(quanta_dtype t, uint32_t *ggml_type, uint32_t *block_bytes);
/* The dtype of a ggml type id; false for types that are not one of the QUANTA_GGML_* formats. */
bool qn_dtype_from_ggml(uint32_t ggml_type, quanta_dtype *out);

/* Validates a descriptor (dims, group, cols multiple of group, ...) and fills the layout.
 * Errors name the offending field; sizes are overflow-checked. Works for dense dtypes too
 * (codes only). */
quanta_status qn_quant_layout_get(const quanta_tensor_desc *desc, qn_quant_layout *out);

/* Whether quanta_quantize's output for the tensor of layout L is made of independent rows (f32,
 * f16, bf16: element by element; q8, fp8: a scale per row; q4, nf4: groups or blocks along a
 * row, nf4 without double quantization), so qn_quantize_rows may fill it a few rows at a time. */
bool qn_quantize_rows_ok(const qn_quant_layout *L);
/* quanta_quantize for rows [row0, row0 + nrows) of a 2-D desc whose rows are independent:
 * src holds just those rows (f32), dst is the whole tensor's quanta_tensor_bytes(desc). Bytes
 * and errors are those of quanta_quantize (row indices counted in the whole tensor); desc and
 * the range are the caller's to check (L from qn_quant_layout_get). */
quanta_status qn_quantize_rows(const qn_quant_layout *L, quanta_dtype t, int64_t row0, int64_t nrows, const float *src,
                               void *dst);

/* Validates any descriptor (dense or quantized) and returns its element count/bytes. */
quanta_status qn_desc_check(const quanta_tensor_desc *desc, const char *what);
quanta_status qn_desc_elements(const quanta_tensor_desc *desc, size_t *count);

/* Dequantizes row r of a matrix in the interchange layout `base` into out[cols] (f32).
 * For dense dtypes it converts row r (a row = last dimension). No validation: hot path. */
void qn_dequant_row(const qn_quant_layout *L, quanta_dtype t, const void *base, int64_t r, float *out);
/* Effective per-block absmax for nf4 block b of the whole matrix (handles double quant). */
float qn_nf4_absmax(const qn_quant_layout *L, const void *base, size_t block);

/* Scalar codecs; round half to even. */
uint16_t qn_f32_to_f16(float x);   /* saturates to Inf beyond 65504 like IEEE; NaN -> quiet NaN */
float qn_f16_to_f32(uint16_t h);
uint16_t qn_f32_to_bf16(float x);  /* NaN -> quiet NaN */
float qn_bf16_to_f32(uint16_t b);
/* FP8: values beyond the max finite saturate to +-max (E4M3 has no Inf; E5M2 input Inf
 * stays Inf); NaN maps to the NaN pattern (E4M3: 0x7F/0xFF, E5M2: 0x7E/0xFE... see README). */
uint8_t qn_f32_to_e4m3(float x);
float qn_e4m3_to_f32(uint8_t v);
uint8_t qn_f32_to_e5m2(float x);
float qn_e5m2_to_f32(uint8_t v);

/* Converts count elements between f32 and a dense float dtype (f32, f16, bf16). */
void qn_to_f32(quanta_dtype t, const void *src, float *dst, size_t count);
void qn_from_f32(quanta_dtype t, const float *src, void *dst, size_t count);

/* Quantize/dequantize whole tensors (the public quanta_quantize/dequantize wrap these).
 * Non-finite input values (NaN/Inf) are rejected with QUANTA_ERR_INVALID_ARGUMENT naming
 * the row and column. */
quanta_status qn_quantize(const quanta_tensor_desc *desc, const float *src, void *dst, size_t dst_bytes);
quanta_status qn_dequantize(const quanta_tensor_desc *desc, const void *src, size_t src_bytes,
                            float *dst, size_t dst_count);

#endif
