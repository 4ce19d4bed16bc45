/* quantize_internal.h — the pieces of quanta_quantize_model (quantize.c) shared with its helper
 * files: format targets and their default choice (quantize_choice.c) and the output's metadata
 * (quantize_meta.c). */
#ifndef QUANTA_MODEL_QUANTIZE_INTERNAL_H
#define QUANTA_MODEL_QUANTIZE_INTERNAL_H

#include <stdint.h>

#include "gguf.h"
#include "quanta.h"
#include "safetensors.h"

/* A target format: a Quanta quantized dtype (with group / double quant), a dense float type,
 * or "keep" (copy the source tensor unchanged). */
typedef struct qn_qtarget {
    int keep;
    quanta_dtype dtype;
    int32_t group, dq;
    uint32_t ggml;           /* nonzero: written as this ggml block type (QN_GGML_Q8_0 ...) */
    char spec[24];
} qn_qtarget;

/* A source tensor of either input kind, dims in ggml order (ne[0] is the contiguous row). */
typedef struct qn_qsrc {
    char name[512];
    int32_t ndim;
    int64_t ne[4];
    const char *type_name;
    uint32_t gguf_type;      /* type id for a verbatim copy; UINT32_MAX if none */
    const void *data;
    uint64_t bytes;
    const qn_gguf_tensor *gt;
    const qn_st_tensor *st;
} qn_qsrc;

/* Parses a format name (quanta_quantize_params.format); allow_dense also takes f16, bf16, f32
 * and keep. 0 if unknown. */
int qn_qtarget_parse(const char *s, qn_qtarget *t, int allow_dense);
/* The default target of a tensor (1-D, >2-D, embedding, the format), after the overrides;
 * *why says which rule chose it. */
qn_qtarget qn_qtarget_choose(const quanta_quantize_params *p, const qn_qtarget *overrides, const qn_qtarget *quant,
                             const qn_qtarget *embed, const qn_qsrc *s, const char **why);
/* Whether the row length fits the target's group or block. */
int qn_qtarget_ggml_block(const qn_qtarget *t);
int qn_qtarget_fits(const qn_qtarget *t, int64_t cols);
/* Whether a tensor name is a separate output head (lm_head / output.weight). */
int qn_quantize_is_head(const char *name);

/* Output metadata from a safetensors input's config.json (GGUF's LLaMA-family keys). */
quanta_status qn_quantize_st_metadata(qn_gguf_writer *w, const quanta_quantize_params *p, qn_safetensors *st);
/* A note for the caller (quanta_quantize_params.on_note), printf-style. */
void qn_quantize_note(const quanta_quantize_params *p, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif
