/*
 * layout.h — the byte layouts of the weight formats, written once for C, CUDA and OpenCL C.
 *
 * Everything a kernel needs to read a weight in the interchange layout lives here: the dtype
 * codes (the values of quanta_dtype), each format's block and group sizes, the NF4 code book,
 * and qn_quant_layout, the section offsets of one weight matrix. formats/quant.c fills it
 * (through the format table, formats/format_table.c); the host code, the CUDA kernels
 * (kernels_cuda/, which get it by value) and the OpenCL kernels (kernels_cl/, which get this
 * header embedded in the program source ahead of common.cl and the struct's fields as scalar
 * arguments, QN_WLAYOUT_ARGS) read the same fields. Byte layouts in words: formats/README.md. How to add a format: engine/README.md.
 *
 * This header must stay valid C11, CUDA C++ and OpenCL C 1.2: plain #defines, one struct of
 * fixed-width fields, no functions.
 */
#ifndef QUANTA_FORMATS_LAYOUT_H
#define QUANTA_FORMATS_LAYOUT_H

#if defined(__OPENCL_C_VERSION__) || defined(__OPENCL_VERSION__)
typedef long qn_i64;
typedef long qn_size; /* kernels get the host's size_t values as 64-bit `long` arguments */
typedef int qn_i32;
#else
#include <stddef.h>
#include <stdint.h>
typedef int64_t qn_i64;
typedef size_t qn_size;
typedef int32_t qn_i32;
#endif

/* Dtype codes: the values of quanta_dtype (include/quanta.h; formats/format_table.c checks
 * them at compile time). Kernels take dtypes as these ints. */
#define QN_DT_F32 0
#define QN_DT_F16 1
#define QN_DT_BF16 2
#define QN_DT_I32 3
#define QN_DT_U8 4
#define QN_DT_Q8 16
#define QN_DT_Q4 17
#define QN_DT_NF4 18
#define QN_DT_E4M3 19
#define QN_DT_E5M2 20
/* ggml block formats, byte for byte as GGUF stores them: rows of blocks along the columns.
 * QN_GGML_BLOCK_ELEMS / _BYTES give the geometry; the block contents are ggml's (formats/
 * gguf_dequant.c decodes them; on devices kernels_cuda/ggml_blocks.cuh and kernels_cl/
 * ggml_blocks.cl). group = elements per block, codes_row_bytes = cols / block * block bytes,
 * no other sections. */
#define QN_DT_GGML_Q4_0 32 /* 18 B: f16 d, 16 B nibbles (w = d (q - 8)) */
#define QN_DT_GGML_Q4_1 33 /* 20 B: f16 d, f16 m, nibbles (w = d q + m) */
#define QN_DT_GGML_Q5_0 34 /* 22 B: f16 d, u32 high bits, nibbles (w = d (q - 16)) */
#define QN_DT_GGML_Q5_1 35 /* 24 B: f16 d, f16 m, u32 high bits, nibbles */
#define QN_DT_GGML_Q8_0 36 /* 34 B: f16 d, 32 int8 */
#define QN_DT_GGML_Q4_K 37 /* 144 B per 256: f16 d, dmin, 12 B of 6-bit scales/mins, 128 B nibbles */
#define QN_DT_GGML_Q5_K 38 /* 176 B per 256: as q4_k plus 32 B of high bits */
#define QN_DT_GGML_Q6_K 39 /* 210 B per 256: 128 B low nibbles, 64 B high 2 bits, 16 int8 scales, f16 d */
#define QN_GGML_BLOCK_ELEMS(dt) ((dt) >= QN_DT_GGML_Q4_K ? 256 : 32)
#define QN_GGML_BLOCK_BYTES(dt)                                                                            \
    ((dt) == QN_DT_GGML_Q4_0 ? 18 : (dt) == QN_DT_GGML_Q4_1 ? 20 : (dt) == QN_DT_GGML_Q5_0 ? 22            \
     : (dt) == QN_DT_GGML_Q5_1 ? 24 : (dt) == QN_DT_GGML_Q8_0 ? 34 : (dt) == QN_DT_GGML_Q4_K ? 144        \
     : (dt) == QN_DT_GGML_Q5_K ? 176 : 210)
#define QN_DT_IS_GGML(dt) ((dt) >= QN_DT_GGML_Q4_0 && (dt) <= QN_DT_GGML_Q6_K)

/* q8, fp8_e4m3, fp8_e5m2: 1-byte codes [rows][cols], then one f32 scale per row. */
#define QN_FP8_E4M3_MAX 448.0f
#define QN_FP8_E5M2_MAX 57344.0f

/* q4: 4-bit codes [rows][cols/2] (low nibble = even column), f16 scales [rows][cols/g], 4-bit
 * zero points [rows][ceil(cols/g / 2)] (low nibble = even group). g is 32, 64 or 128. */
#define QN_Q4_DEFAULT_GROUP 64

/* nf4: 4-bit codes [rows][cols/2], then per block of QN_NF4_BLOCK weights an f32 absmax, or
 * with double quantization an int8 absmax code per block, an f32 scale per QN_NF4_DQ_BLOCK
 * blocks and one f32 mean. */
#define QN_NF4_BLOCK 64
#define QN_NF4_DQ_BLOCK 256
/* The 16 NormalFloat-4 values of bitsandbytes, ascending; code i decodes to entry i. Each is
 * an f32 value written exactly (nf4.c derives its rounding midpoints from them). */
#define QN_NF4_BOOK_INIT                                                                                    \
    {                                                                                                       \
        -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f, -0.28444138169288635f,    \
            -0.18477343022823334f, -0.09105003625154495f, 0.0f, 0.07958029955625534f, 0.16093020141124725f, \
            0.24611230194568634f, 0.33791524171829224f, 0.44070982933044434f, 0.5626170039176941f,          \
            0.7229568362236023f, 1.0f                                                                       \
    }
#define QN_NF4_ZERO_CODE 7

/*
 * The sections of one weight matrix W[rows][cols] in the interchange layout, as byte offsets
 * from its base. Codes always start at 0. A field that a format does not use is 0. OpenCL
 * kernels receive the fields as the arguments QN_WLAYOUT_ARGS (kernels_cl/common.cl; rows is
 * not passed).
 */
typedef struct qn_quant_layout {
    qn_i32 dtype;                /* QN_DT_* */
    qn_i32 group;                /* weights per scale along a row: q4 group, nf4 block; 0 = per row */
    qn_i32 double_quant;         /* nf4 only */
    qn_i64 rows, cols;
    qn_size codes_row_bytes;     /* bytes of codes per row (dense: cols * element size) */
    qn_size scales_offset;       /* q8/fp8: f32[rows]; q4: f16[rows][cols/g]; nf4: f32 absmax[blocks]
                                 * or, with double quantization, int8 absmax codes[blocks] */
    qn_size q4_zeros_offset;     /* q4: zero nibbles [rows][q4_zero_row_bytes] */
    qn_size q4_zero_row_bytes;
    qn_size nf4_dq_scales_offset; /* nf4 double quantization: f32 [ceil(blocks / QN_NF4_DQ_BLOCK)] */
    qn_size nf4_dq_mean_offset;  /* nf4 double quantization: the f32 mean */
    qn_size total_bytes;
} qn_quant_layout;

#endif
