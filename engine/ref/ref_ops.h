/*
 * ref_ops.h — internals of the reference backend (engine/ref/).
 *
 * Every op reads its inputs into f32 scratch copies (exact for f32/f16/bf16), computes in
 * double and stores through qn_from_f32 only after all inputs were read, so an output that
 * aliases an input is still correct. Speed is not a goal here: obviousness is.
 */
#ifndef QUANTA_REF_OPS_H
#define QUANTA_REF_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "error.h"
#include "formats.h"
#include "op_table.h"

/* One entry point per op, declared with the op table (op_table.h). A node reaching them passed
 * the op table's `infer` (dtypes, ranks, shapes, parameters) and the executor sized and placed
 * each tensor, so they validate nothing of that again: they check only values known at run
 * time (ids, kv_lens, start, block tables) and fail on those before writing anything. */

/* Source slot i of a node, NULL when absent. */
static inline const qn_tensor *qn_ref_src(const qn_node *node, int i) {
    return i < node->nsrc ? node->src[i] : NULL;
}

/* A tensor's element count. */
size_t qn_ref_count(const qn_tensor *t);

/* calloc that never asks for 0 bytes and checks n * size; NULL when it fails. */
void *qn_ref_calloc(size_t n, size_t size);
/* Sets the out-of-memory message for `op` and returns QUANTA_ERR_OUT_OF_MEMORY. */
quanta_status qn_ref_oom(const char *op);

/* A float tensor's elements as a fresh f32 array (free() it); NULL on allocation failure. */
float *qn_ref_load(const qn_tensor *t, size_t count);
/* Writes count f32 values into a float tensor in its dtype. */
void qn_ref_store(const qn_tensor *t, const float *src, size_t count);

/* act(x) in double (silu, gelu, glu and matmul_glu share it; ref_elementwise.c). */
double qn_ref_activation(quanta_glu_act act, double x);

/* A matrix read row by row: any float dtype (a row = the last dim), a 2-D quantized one, or a
 * row-scaled (q8 / fp8) KV pool of 2 to 4 dims, one scale per row. */
typedef struct qn_ref_rows {
    quanta_dtype dtype;
    int64_t rows, cols;
    const void *base;
    bool quantized;
    qn_quant_layout layout; /* quantized only */
} qn_ref_rows;
void qn_ref_rows_open(const qn_tensor *t, qn_ref_rows *out);
/* Dequantizes/converts row `row` (0 <= row < rows, checked by the caller) into out[cols]. */
void qn_ref_rows_get(const qn_ref_rows *r, int64_t row, float *out);

#endif
