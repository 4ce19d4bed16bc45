/* ggml_formats.c — the ggml block formats (q4_0 ... q6_k) as Quanta dtypes: their ggml type
 * ids and block geometry. The byte layouts and the exact dequantizers are ggml's
 * (gguf_dequant.c); a tensor of such a dtype is the GGUF tensor's bytes unchanged. */
#include "formats.h"
#include "error.h"
#include "gguf.h"
#include "quant_impl.h"

static const struct {
    quanta_dtype t;
    uint32_t ggml, block, block_bytes;
} ggml_formats[] = {
    {QUANTA_GGML_Q4_0, QN_GGML_Q4_0, 32, 18},   {QUANTA_GGML_Q4_1, QN_GGML_Q4_1, 32, 20},
    {QUANTA_GGML_Q5_0, QN_GGML_Q5_0, 32, 22},   {QUANTA_GGML_Q5_1, QN_GGML_Q5_1, 32, 24},
    {QUANTA_GGML_Q8_0, QN_GGML_Q8_0, 32, 34},   {QUANTA_GGML_Q4_K, QN_GGML_Q4_K, 256, 144},
    {QUANTA_GGML_Q5_K, QN_GGML_Q5_K, 256, 176}, {QUANTA_GGML_Q6_K, QN_GGML_Q6_K, 256, 210},
};
#define N_GGML (sizeof ggml_formats / sizeof ggml_formats[0])

bool qn_dtype_is_ggml(quanta_dtype t) { return qn_ggml_block_of(t, NULL, NULL) != 0; }

uint32_t qn_ggml_block_of(quanta_dtype t, uint32_t *ggml_type, uint32_t *block_bytes) {
    for (size_t i = 0; i < N_GGML; i++)
        if (ggml_formats[i].t == t) {
            if (ggml_type) *ggml_type = ggml_formats[i].ggml;
            if (block_bytes) *block_bytes = ggml_formats[i].block_bytes;
            return ggml_formats[i].block;
        }
    return 0;
}

bool qn_dtype_from_ggml(uint32_t ggml_type, quanta_dtype *out) {
    for (size_t i = 0; i < N_GGML; i++)
        if (ggml_formats[i].ggml == ggml_type) {
            *out = ggml_formats[i].t;
            return true;
        }
    return false;
}

quanta_status qn_ggml_quantize(const qn_quant_layout *L, quanta_dtype t, const float *src, void *dst) {
    (void)L, (void)src, (void)dst;
    /* The encoders are ggml's reference quantizers (quanta quantize's ggml output); until they
     * are here, these formats come from GGUF files only. */
    return qn_error_set(QUANTA_ERR_UNSUPPORTED,
                        "quanta_quantize: encoding %s is not available (ggml block formats are read from GGUF files)",
                        quanta_dtype_name(t));
}
