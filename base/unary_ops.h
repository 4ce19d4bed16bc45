/*
 * unary_ops.h — the element-wise unary kernels' op codes and the activations' constants, one
 * definition read by the reference backend (C), the backends' host code, the CUDA kernels and
 * the OpenCL program (embedded after formats/layout.h), so that silu/gelu/scale cannot drift
 * between them. Plain macros: valid C, C++ and OpenCL C.
 */
#ifndef QUANTA_BASE_UNARY_OPS_H
#define QUANTA_BASE_UNARY_OPS_H

/* The `op` argument of the unary kernels (qn_unary in kernels_cl/elementwise.cl, qn_k_unary in
 * kernels_cuda/elementwise.cu). */
#define QN_UNARY_COPY 0      /* y = x in y's dtype: convert (the store rounds) */
#define QN_UNARY_SILU 1      /* x / (1 + e^-x) */
#define QN_UNARY_GELU 2      /* x Φ(x) = 0.5 x erfc(-x / √2) */
#define QN_UNARY_GELU_TANH 3 /* 0.5 x (1 + tanh u), u = √(2/π) (x + 0.044715 x³) */
#define QN_UNARY_SCALE 4     /* x s */

/* GELU's constants (double literals); kernels take them as float with QN_F32(...). */
#define QN_GELU_SQRT_2_OVER_PI 0.79788456080286535588 /* √(2/π) */
#define QN_GELU_CUBIC 0.044715
#define QN_SQRT1_2 0.70710678118654752440 /* 1/√2 */

/* A double literal macro as a float literal (no double arithmetic in kernels). */
#define QN_F32(x) QN_F32_(x)
#define QN_F32_(x) x##f

#endif
