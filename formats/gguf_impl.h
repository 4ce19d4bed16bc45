/* gguf_impl.h — what the GGUF reader (gguf.c), writer (gguf_write.c) and the ggml block
 * dequantizers (gguf_dequant.c) share: the tensor-type table, and (le_bytes.h) little-endian
 * loads: files are little-endian and nothing in them is aligned for the host, so every
 * multi-byte value is assembled from bytes. */
#ifndef QUANTA_FORMATS_GGUF_IMPL_H
#define QUANTA_FORMATS_GGUF_IMPL_H

#include <stdint.h>

#include "gguf.h"
#include "le_bytes.h"

typedef struct qn_ggml_type_info {
    uint32_t type;
    const char *name;
    uint32_t block;      /* elements per block */
    uint32_t block_bytes;
    int can_import;      /* a dequantizer exists */
} qn_ggml_type_info;

/* Info for a ggml type id (not Quanta types), NULL if unknown. */
const qn_ggml_type_info *qn_ggml_type_lookup(uint32_t type);

/* Quanta type ids: decodes type into a 2-D descriptor [ne1][ne0]; returns 0 if `type` is not
 * a valid Quanta type id. Does not validate the shape (qn_quant_layout_get does). */
int qn_gguf_quanta_decode(uint32_t type, int64_t ne0, int64_t ne1, quanta_tensor_desc *desc);

/* Bytes a tensor of this type and shape (ggml order, dims >= 1) occupies: ggml block types
 * need dims[0] to be a multiple of the block; Quanta types must be 2-D and valid for their
 * format. QUANTA_ERR_CORRUPT (unknown type, bad shape) or QUANTA_ERR_OVERFLOW otherwise; the
 * message does not name the tensor (callers add it). */
quanta_status qn_gguf_type_bytes(uint32_t type, int32_t ndim, const int64_t *dims, uint64_t *bytes);

/* The value bytes of metadata key i exactly as stored (after the type field), and its type:
 * the writer copies them verbatim. */
quanta_status qn_gguf_kv_raw(const qn_gguf *g, uint64_t i, const uint8_t **val, uint32_t *type, size_t *val_len);

#endif
