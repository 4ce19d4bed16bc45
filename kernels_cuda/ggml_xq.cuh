/* ggml_xq.cuh — the int8 activation codes of the ggml GEMV (kernels_cuda/ggml.cu): how a warp
 * makes a chunk's codes (qn_k_ggml_quantize_x, and the norms that leave them for the GEMV in
 * elementwise.cu, so both give the same codes) and how a lane takes a weight chunk's dot product
 * with them. */
#ifndef QUANTA_KERNELS_CUDA_GGML_XQ_CUH
#define QUANTA_KERNELS_CUDA_GGML_XQ_CUH

#include "ggml_blocks.cuh"

/* The warp's 32 values v (lane = element of the chunk) as codes xq[lane] = round(v / d) with
 * d = max|v| / 127 in *dx, and the sums of the codes of each half (low 16 bits: elements 0-15,
 * high: 16-31) in *sx. Whole warps only. */
__device__ __forceinline__ void qn_ggml_quantize_chunk(float v, int8_t *xq, float *dx, int *sx) {
    const int lane = threadIdx.x & 31;
    float amax = fabsf(v);
    for (int o = 16; o > 0; o >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
    const float d = amax / 127.0f;
    const int q = d > 0.0f ? __float2int_rn(v / d) : 0;
    int s = q;
    for (int o = 8; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o); /* within each half */
    xq[lane] = (int8_t)q;
    const int s_hi = __shfl_sync(0xffffffffu, s, 16);
    if (lane == 0) {
        *dx = d;
        *sx = (s & 0xFFFF) | (s_hi << 16);
    }
}

/* acc + (the weight chunk ch . the activation chunk of codes xc, scale dx, half sums sx):
 * per half, d * dx * sum(q * xq) + m * dx * sum(xq). */
template <int DT>
__device__ __forceinline__ float qn_ggml_chunk_dot(const qn_ggml_chunk &ch, const int8_t *xc, const float *dx,
                                                   const int *sx, float acc) {
    const int4 *xp = (const int4 *)xc;
    const int4 a = __ldg(xp), b = __ldg(xp + 1);
    int s0 = __dp4a(ch.q[0], a.x, 0);
    s0 = __dp4a(ch.q[1], a.y, s0);
    s0 = __dp4a(ch.q[2], a.z, s0);
    s0 = __dp4a(ch.q[3], a.w, s0);
    int s1 = __dp4a(ch.q[4], b.x, 0);
    s1 = __dp4a(ch.q[5], b.y, s1);
    s1 = __dp4a(ch.q[6], b.z, s1);
    s1 = __dp4a(ch.q[7], b.w, s1);
    const float d = __ldg(dx);
    float part = ch.d[0] * (float)s0 + ch.d[1] * (float)s1;
    if (DT == QN_DT_GGML_Q4_1 || DT == QN_DT_GGML_Q5_1 || DT == QN_DT_GGML_Q4_K || DT == QN_DT_GGML_Q5_K) {
        const int s = __ldg(sx);
        part += ch.m[0] * (float)(short)(s & 0xFFFF) + ch.m[1] * (float)(s >> 16);
    }
    return fmaf(part, d, acc);
}

#endif
