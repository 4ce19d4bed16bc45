/* format_table.c — the one table of element types and weight formats: name, element size and,
 * for weight formats, the layout / quantize / dequantize functions of its file (q8.c, q4.c,
 * nf4.c, fp8.c). quant.c, api.c and every other user look formats up here instead of
 * switching on the dtype. Adding a format: engine/README.md. */
#include "quant_impl.h"

/* layout.h's dtype codes are what kernels receive for quanta_dtype values. */
_Static_assert(QN_DT_F32 == QUANTA_F32 && QN_DT_F16 == QUANTA_F16 && QN_DT_BF16 == QUANTA_BF16 &&
                   QN_DT_I32 == QUANTA_I32 && QN_DT_U8 == QUANTA_U8 && QN_DT_Q8 == QUANTA_Q8 &&
                   QN_DT_Q4 == QUANTA_Q4 && QN_DT_NF4 == QUANTA_NF4 && QN_DT_E4M3 == QUANTA_FP8_E4M3 &&
                   QN_DT_E5M2 == QUANTA_FP8_E5M2,
               "layout.h dtype codes must equal quanta_dtype");
_Static_assert(QN_DT_GGML_Q4_0 == QUANTA_GGML_Q4_0 && QN_DT_GGML_Q4_1 == QUANTA_GGML_Q4_1 &&
                   QN_DT_GGML_Q5_0 == QUANTA_GGML_Q5_0 && QN_DT_GGML_Q5_1 == QUANTA_GGML_Q5_1 &&
                   QN_DT_GGML_Q8_0 == QUANTA_GGML_Q8_0 && QN_DT_GGML_Q4_K == QUANTA_GGML_Q4_K &&
                   QN_DT_GGML_Q5_K == QUANTA_GGML_Q5_K && QN_DT_GGML_Q6_K == QUANTA_GGML_Q6_K,
               "layout.h ggml dtype codes must equal quanta_dtype");

static const qn_format formats[] = {
    /* dtype           name        size float  layout               quantize          quantize_rows         dequant_row */
    {QUANTA_F32,       "f32",      4,   true,  NULL,                NULL,             NULL,                 NULL},
    {QUANTA_F16,       "f16",      2,   true,  NULL,                NULL,             NULL,                 NULL},
    {QUANTA_BF16,      "bf16",     2,   true,  NULL,                NULL,             NULL,                 NULL},
    {QUANTA_I32,       "i32",      4,   false, NULL,                NULL,             NULL,                 NULL},
    {QUANTA_U8,        "u8",       1,   false, NULL,                NULL,             NULL,                 NULL},
    {QUANTA_Q8,        "q8",       0,   false, qn_row_scale_layout, qn_q8_quantize,   qn_q8_quantize_rows,  qn_q8_dequant_row},
    {QUANTA_Q4,        "q4",       0,   false, qn_q4_layout,        qn_q4_quantize,   qn_q4_quantize_rows,  qn_q4_dequant_row},
    {QUANTA_NF4,       "nf4",      0,   false, qn_nf4_layout,       qn_nf4_quantize,  qn_nf4_quantize_rows, qn_nf4_dequant_row},
    {QUANTA_FP8_E4M3,  "fp8_e4m3", 0,   false, qn_row_scale_layout, qn_fp8_quantize,  qn_fp8_quantize_rows, qn_fp8_dequant_row},
    {QUANTA_FP8_E5M2,  "fp8_e5m2", 0,   false, qn_row_scale_layout, qn_fp8_quantize,  qn_fp8_quantize_rows, qn_fp8_dequant_row},
    /* ggml block formats (ggml_formats.c), as GGUF files store them */
    {QUANTA_GGML_Q4_0, "q4_0",     0,   false, qn_ggml_layout,      qn_ggml_quantize, NULL,                 qn_ggml_fmt_dequant_row},
    {QUANTA_GGML_Q4_1, "q4_1",     0,   false, qn_ggml_layout,      qn_ggml_quantize, NULL,                 qn_ggml_fmt_dequant_row},
    {QUANTA_GGML_Q5_0, "q5_0",     0,   false, qn_ggml_layout,      qn_ggml_quantize, NULL,                 qn_ggml_fmt_dequant_row},
    {QUANTA_GGML_Q5_1, "q5_1",     0,   false, qn_ggml_layout,      qn_ggml_quantize, NULL,                 qn_ggml_fmt_dequant_row},
    {QUANTA_GGML_Q8_0, "q8_0",     0,   false, qn_ggml_layout,      qn_ggml_quantize, NULL,                 qn_ggml_fmt_dequant_row},
    {QUANTA_GGML_Q4_K, "q4_k",     0,   false, qn_ggml_layout,      qn_ggml_quantize, NULL,                 qn_ggml_fmt_dequant_row},
    {QUANTA_GGML_Q5_K, "q5_k",     0,   false, qn_ggml_layout,      qn_ggml_quantize, NULL,                 qn_ggml_fmt_dequant_row},
    {QUANTA_GGML_Q6_K, "q6_k",     0,   false, qn_ggml_layout,      qn_ggml_quantize, NULL,                 qn_ggml_fmt_dequant_row},
};
#define N_FORMATS ((int)(sizeof formats / sizeof formats[0]))

const qn_format *qn_format_of(quanta_dtype t) {
    for (int i = 0; i < N_FORMATS; i++)
        if (formats[i].dtype == t) return &formats[i];
    return NULL;
}

const qn_format *qn_format_at(int i) { return i >= 0 && i < N_FORMATS ? &formats[i] : NULL; }
int qn_format_count(void) { return N_FORMATS; }

bool qn_dtype_is_quantized(quanta_dtype t) {
    const qn_format *f = qn_format_of(t);
    return f && f->quantize;
}

bool qn_dtype_is_float(quanta_dtype t) {
    const qn_format *f = qn_format_of(t);
    return f && f->is_float;
}

size_t qn_dtype_elem_size(quanta_dtype t) {
    const qn_format *f = qn_format_of(t);
    return f ? f->elem_size : 0;
}
