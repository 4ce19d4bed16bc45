/*
 * gguf.h — GGUF model files (the llama.cpp format): a hostile-input reader and a writer
 * (internal API of the model runtime). The reader memory-maps the file and validates every
 * count, string, offset and size against the file length before anything is exposed.
 */
#ifndef QUANTA_FORMATS_GGUF_H
#define QUANTA_FORMATS_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "quanta.h"

typedef enum qn_gguf_type {
    QN_GGUF_UINT8 = 0, QN_GGUF_INT8 = 1, QN_GGUF_UINT16 = 2, QN_GGUF_INT16 = 3,
    QN_GGUF_UINT32 = 4, QN_GGUF_INT32 = 5, QN_GGUF_FLOAT32 = 6, QN_GGUF_BOOL = 7,
    QN_GGUF_STRING = 8, QN_GGUF_ARRAY = 9, QN_GGUF_UINT64 = 10, QN_GGUF_INT64 = 11,
    QN_GGUF_FLOAT64 = 12
} qn_gguf_type;

/* ggml tensor types we import (values as in ggml.h). */
enum {
    QN_GGML_F32 = 0, QN_GGML_F16 = 1, QN_GGML_Q4_0 = 2, QN_GGML_Q4_1 = 3, QN_GGML_Q5_0 = 6,
    QN_GGML_Q5_1 = 7, QN_GGML_Q8_0 = 8, QN_GGML_Q2_K = 10, QN_GGML_Q3_K = 11, QN_GGML_Q4_K = 12,
    QN_GGML_Q5_K = 13, QN_GGML_Q6_K = 14, QN_GGML_Q8_K = 15, QN_GGML_BF16 = 30
};

typedef struct qn_gguf qn_gguf;

typedef struct qn_gguf_str {
    const char *ptr; /* not NUL-terminated: points into the mapping */
    uint64_t len;
} qn_gguf_str;

typedef struct qn_gguf_tensor {
    qn_gguf_str name;
    int32_t ndim;
    int64_t dims[4];    /* ggml order: dims[0] is the contiguous (innermost) dimension */
    uint32_t type;      /* ggml type */
    uint64_t offset;    /* relative to the data section */
    uint64_t bytes;     /* size in the file */
    const void *data;   /* into the mapping (bounds-checked) */
} qn_gguf_tensor;

/* Opens and validates a file (mmap) or an in-memory image (the caller keeps it alive;
 * used by the fuzzer). Corrupt input: QUANTA_ERR_CORRUPT naming the key or tensor. */
quanta_status qn_gguf_open(const char *path, qn_gguf **out);
quanta_status qn_gguf_open_memory(const void *data, size_t size, qn_gguf **out);
void qn_gguf_close(qn_gguf *g);

uint32_t qn_gguf_version(const qn_gguf *g);
uint64_t qn_gguf_kv_count(const qn_gguf *g);
/* Metadata lookups; QUANTA_ERR_INVALID_ARGUMENT if absent, QUANTA_ERR_CORRUPT if the type
 * differs (integers of any width convert when the value fits). */
int qn_gguf_has(const qn_gguf *g, const char *key);
quanta_status qn_gguf_get_u64(const qn_gguf *g, const char *key, uint64_t *out);
quanta_status qn_gguf_get_i64(const qn_gguf *g, const char *key, int64_t *out);
quanta_status qn_gguf_get_f32(const qn_gguf *g, const char *key, float *out);
quanta_status qn_gguf_get_bool(const qn_gguf *g, const char *key, int *out);
quanta_status qn_gguf_get_str(const qn_gguf *g, const char *key, qn_gguf_str *out);
/* Arrays: element type and count; numeric elements read by index; strings by index. */
quanta_status qn_gguf_get_arr(const qn_gguf *g, const char *key, qn_gguf_type *elem, uint64_t *count);
quanta_status qn_gguf_get_arr_f64(const qn_gguf *g, const char *key, uint64_t i, double *out);
quanta_status qn_gguf_get_arr_str(const qn_gguf *g, const char *key, uint64_t i, qn_gguf_str *out);

uint64_t qn_gguf_tensor_count(const qn_gguf *g);
const qn_gguf_tensor *qn_gguf_tensor_at(const qn_gguf *g, uint64_t i);
const qn_gguf_tensor *qn_gguf_find_tensor(const qn_gguf *g, const char *name);
/* Dequantizes any supported ggml type into f32 (count = element count). */
quanta_status qn_gguf_tensor_to_f32(const qn_gguf_tensor *t, float *dst, size_t count);

/* Writer: metadata and tensors (any ggml type, or Quanta formats under their own type ids,
 * see formats/model_files.md), data aligned to `general.alignment`. */
typedef struct qn_gguf_writer qn_gguf_writer;
quanta_status qn_gguf_writer_create(qn_gguf_writer **out);
void qn_gguf_writer_destroy(qn_gguf_writer *w);
quanta_status qn_gguf_writer_set_u32(qn_gguf_writer *w, const char *key, uint32_t v);
quanta_status qn_gguf_writer_set_i32(qn_gguf_writer *w, const char *key, int32_t v);
quanta_status qn_gguf_writer_set_f32(qn_gguf_writer *w, const char *key, float v);
quanta_status qn_gguf_writer_set_bool(qn_gguf_writer *w, const char *key, int v);
quanta_status qn_gguf_writer_set_str(qn_gguf_writer *w, const char *key, const char *v);
/* Copies metadata key i of an opened file (used when re-writing a quantized model). */
quanta_status qn_gguf_writer_copy_kv(qn_gguf_writer *w, const qn_gguf *src, uint64_t i);
quanta_status qn_gguf_writer_add_tensor(qn_gguf_writer *w, const char *name, int32_t ndim,
                                        const int64_t *dims, uint32_t type, const void *data,
                                        uint64_t bytes);
quanta_status qn_gguf_writer_write(qn_gguf_writer *w, const char *path);
/* Same; publish (may be NULL) holds the temporary file's path while it exists (safe_write.h). */
quanta_status qn_gguf_writer_write_safe(qn_gguf_writer *w, const char *path, char *publish, size_t publish_cap);

/* ---- Additions (modelfiles helper); formats/model_files.md documents them. ---- */

/* Limits the reader enforces before allocating anything (hostile input). */
#define QN_GGUF_MAX_TENSORS (1u << 20)
#define QN_GGUF_MAX_KV (1u << 20)
#define QN_GGUF_MAX_KEY_LEN 65535u
#define QN_GGUF_MAX_NAME_LEN 1024u
#define QN_GGUF_MAX_ARRAY_DEPTH 8
#define QN_GGUF_DEFAULT_ALIGNMENT 32u

/* Quanta's own formats in GGUF: type id = QN_GGUF_QUANTA_BASE + dtype + 100 * variant, where
 * variant encodes the group / double quant (q4: 0 = group 64, 1 = group 32, 2 = group 128;
 * nf4: 0 = plain, 1 = double quant; others: 0). Data is the interchange layout of quanta.h
 * for the matrix [rows = dims[1]][cols = dims[0]]. */
#define QN_GGUF_QUANTA_BASE 1000u
/* Type id for a Quanta descriptor (2-D quantized, or f32/f16/bf16 which map to the ggml
 * ids); QUANTA_ERR_INVALID_ARGUMENT for anything else. */
quanta_status qn_gguf_type_for_desc(const quanta_tensor_desc *desc, uint32_t *type);
/* Quanta descriptor of a tensor stored as F32/F16/BF16, as a Quanta type, or (2-D) as one of the
 * ggml block formats that are Quanta dtypes (QUANTA_GGML_*), dims reversed to row-major order;
 * QUANTA_ERR_UNSUPPORTED for other ggml types (dequantize those). */
quanta_status qn_gguf_tensor_desc(const qn_gguf_tensor *t, quanta_tensor_desc *desc);

/* Name of a tensor type ("q4_K", "quanta_q4_g32", ...) or NULL if unknown. */
const char *qn_ggml_type_name(uint32_t type);
/* 1 if tensors of this type can be dequantized to f32 (qn_gguf_tensor_to_f32). */
int qn_ggml_type_can_import(uint32_t type);
/* Bytes of one row of ne0 elements of a ggml block type (ne0 must be a multiple of the
 * block size); QUANTA_ERR_CORRUPT naming the reason otherwise. Not for Quanta types. */
quanta_status qn_ggml_row_bytes(uint32_t type, int64_t ne0, uint64_t *bytes);
/* Dequantizes n elements (a multiple of the type's block) of a ggml type; bit-exact with
 * ggml's reference dequantize_row_*. No bounds checks: src must hold the row. */
quanta_status qn_ggml_dequant_row(uint32_t type, const void *src, float *dst, int64_t n);
/* Encodes n weights (a multiple of the block) as ggml type Q8_0, Q4_0, Q4_K or Q6_K into dst
 * (n / block * block bytes), in ggml's layout (ggml_quantize.c). QUANTA_ERR_UNSUPPORTED for
 * other types, QUANTA_ERR_INVALID_ARGUMENT for a partial block or a non-finite weight. */
quanta_status qn_ggml_quantize_row(uint32_t type, const float *src, void *dst, int64_t n);
/* Rows [row0, row0 + nrows) of a tensor (a row = dims[0] elements; for Quanta types a row of
 * the matrix) into dst[nrows * dims[0]]; count must equal that. Lets a caller convert a large
 * embedding table piece by piece. */
quanta_status qn_gguf_tensor_rows_to_f32(const qn_gguf_tensor *t, int64_t row0, int64_t nrows,
                                         float *dst, size_t count);
/* Element count of a tensor (dims product, checked at open). */
uint64_t qn_gguf_tensor_elements(const qn_gguf_tensor *t);

/* Offset of the data section from the file start, and the alignment in force. */
uint64_t qn_gguf_data_offset(const qn_gguf *g);
uint64_t qn_gguf_alignment(const qn_gguf *g);
/* Key and value type of metadata entry i (0 <= i < kv_count), in file order. */
quanta_status qn_gguf_kv_at(const qn_gguf *g, uint64_t i, qn_gguf_str *key, qn_gguf_type *type);

/* Writer additions. Setting a key that exists replaces its value (so copied metadata can be
 * overridden). add_tensor copies data; add_tensor_ref keeps the pointer, which must stay
 * valid until the writer is written or destroyed (avoids copying mmap'd weights). */
quanta_status qn_gguf_writer_set_u64(qn_gguf_writer *w, const char *key, uint64_t v);
quanta_status qn_gguf_writer_set_arr_str(qn_gguf_writer *w, const char *key, const char *const *v,
                                         uint64_t count);
quanta_status qn_gguf_writer_set_arr_f32(qn_gguf_writer *w, const char *key, const float *v,
                                         uint64_t count);
quanta_status qn_gguf_writer_set_arr_i32(qn_gguf_writer *w, const char *key, const int32_t *v,
                                         uint64_t count);
quanta_status qn_gguf_writer_add_tensor_ref(qn_gguf_writer *w, const char *name, int32_t ndim,
                                            const int64_t *dims, uint32_t type, const void *data,
                                            uint64_t bytes);
/* Serialises into a malloc'd image (free() it); used by tests and the fuzz corpus. */
quanta_status qn_gguf_writer_write_memory(qn_gguf_writer *w, void **data, size_t *size);

#endif
