/*
 * safetensors.h — reader of the Hugging Face safetensors format, and of a model's config.json
 * (internal API of the model runtime). Layout: u64 little-endian N, N bytes of JSON header
 * {"__metadata__": {str: str}, NAME: {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}},
 * then the data; offsets are relative to the data start (8 + N). The file is hostile: the
 * header is bounded (100 MiB), parsed strictly (formats/json.h), every tensor's byte range
 * must equal dtype size x shape, lie inside the data, and the ranges must tile the data
 * exactly (no overlaps, no holes — as the reference implementation requires).
 */
#ifndef QUANTA_FORMATS_SAFETENSORS_H
#define QUANTA_FORMATS_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "quanta.h"

#define QN_ST_MAX_DIMS 8
#define QN_ST_MAX_HEADER (100u << 20)

typedef enum qn_st_dtype {
    QN_ST_BOOL, QN_ST_U8, QN_ST_I8, QN_ST_I16, QN_ST_U16, QN_ST_F16, QN_ST_BF16, QN_ST_I32, QN_ST_U32,
    QN_ST_F32, QN_ST_F64, QN_ST_I64, QN_ST_U64, QN_ST_F8_E4M3, QN_ST_F8_E5M2
} qn_st_dtype;

typedef struct qn_st_tensor {
    const char *name;   /* NUL-terminated, owned by the file object */
    qn_st_dtype dtype;
    int32_t ndim;       /* 0 for a scalar */
    int64_t dims[QN_ST_MAX_DIMS]; /* row-major: dims[ndim-1] is contiguous */
    uint64_t offset;    /* from the start of the data section */
    uint64_t bytes;
    const void *data;   /* into the mapping */
} qn_st_tensor;

typedef struct qn_safetensors qn_safetensors;

quanta_status qn_st_open(const char *path, qn_safetensors **out);
/* The caller keeps data alive while the object is in use (used by the fuzzer). */
quanta_status qn_st_open_memory(const void *data, size_t size, qn_safetensors **out);
void qn_st_close(qn_safetensors *st);

/* Tensors in the order of their data offsets. */
uint64_t qn_st_tensor_count(const qn_safetensors *st);
const qn_st_tensor *qn_st_tensor_at(const qn_safetensors *st, uint64_t i);
const qn_st_tensor *qn_st_find(const qn_safetensors *st, const char *name);
/* __metadata__ entries (string values only, as the format requires). NULL if absent. */
const char *qn_st_metadata(const qn_safetensors *st, const char *key);
uint64_t qn_st_metadata_count(const qn_safetensors *st);
quanta_status qn_st_metadata_at(const qn_safetensors *st, uint64_t i, const char **key, const char **value);

const char *qn_st_dtype_name(qn_st_dtype t); /* "F32", ... */
uint64_t qn_st_tensor_elements(const qn_st_tensor *t);
/* Converts any float or integer dtype to f32 (count = element count). */
quanta_status qn_st_tensor_to_f32(const qn_st_tensor *t, float *dst, size_t count);
/* Rows [row0, row0 + nrows) of t seen as row-major [elements / cols, cols], cols its last dim
 * (a scalar: one row of 1), to f32: the values qn_st_tensor_to_f32 gives them (count = nrows x
 * cols). Reads only t: may run on several threads at once. */
quanta_status qn_st_tensor_rows_to_f32(const qn_st_tensor *t, int64_t row0, int64_t nrows, float *dst, size_t count);
/* Quanta descriptor for F32/F16/BF16/I32/U8/BOOL tensors of 1 to 4 dims (scalar: [1]);
 * QUANTA_ERR_UNSUPPORTED for others (convert them with qn_st_tensor_to_f32). */
quanta_status qn_st_tensor_desc(const qn_st_tensor *t, quanta_tensor_desc *desc);

/* -------------------------------------------------------- config.json (HF) */

/* The keys the LLaMA family (LLaMA 2/3, Mistral, Qwen2, Gemma 1-3) uses. For multimodal
 * configs the "text_config" object is read when present. Absent integers are -1, absent
 * floats are NaN, absent booleans are -1, absent strings are "". */
typedef struct qn_hf_config {
    char model_type[64];      /* "llama", "mistral", "qwen2", "gemma3_text", ... */
    char architecture[128];   /* architectures[0] */
    char hidden_act[32];      /* "silu", "gelu_pytorch_tanh", ... (also hidden_activation) */
    char rope_scaling_type[32];
    int64_t hidden_size, intermediate_size, num_hidden_layers, num_attention_heads;
    int64_t num_key_value_heads; /* defaults to num_attention_heads */
    int64_t head_dim;            /* defaults to hidden_size / num_attention_heads */
    int64_t vocab_size, max_position_embeddings, sliding_window, sliding_window_pattern;
    int64_t bos_token_id, eos_token_id, pad_token_id; /* eos: first of a list */
    double rms_norm_eps, rope_theta, rope_local_base_freq, rope_scaling_factor;
    double query_pre_attn_scalar, final_logit_softcapping, attn_logit_softcapping;
    int tie_word_embeddings, attention_bias, mlp_bias;
} qn_hf_config;

/* Parses config.json text. hidden_size, num_hidden_layers, num_attention_heads,
 * intermediate_size and vocab_size are required (QUANTA_ERR_CORRUPT naming the key); a key of
 * the wrong JSON type is an error too. */
quanta_status qn_hf_config_parse(const char *json, size_t len, qn_hf_config *out);
quanta_status qn_hf_config_load(const char *path, qn_hf_config *out);

#endif
