/*
 * program.cl — the whole kernel program as one translation unit, for the offline SPIR-V module
 * that devices with an IL version load through clCreateProgramWithIL. The runtime source path
 * concatenates the same files instead (embed_cl.py), so both build identical kernels.
 */
#include "layout.h" /* formats/ */
#include "unary_ops.h" /* base/ */
#include "common.cl"
#include "ggml_blocks.cl"
#include "elementwise.cl"
#include "matmul.cl"
#include "gemv_gpu.cl"
#include "gemm_gpu.cl"
#include "matmul_int8.cl"
#include "gemm_i8_gpu.cl"
#include "gemv_i8.cl"
#include "attention.cl"
#include "attention_gpu.cl"
#include "attention_pf_gpu.cl"
#include "paged_attention.cl"
