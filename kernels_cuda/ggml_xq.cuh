/* ggml_xq.cuh — the int8 activation codes of the ggml GEMV (kernels_cuda/ggml.cu): how a warp
 * makes a chunk's codes (qn_k_ggml_quantize_x, and the norms that leave them for the GEMV in
 * elementwise.cu, so both give the same codes) and how a lane takes a weight chunk's dot product
 * with them. */
#ifndef QUANTA_KERNELS_CUDA_GGML_XQ_CUH
#define QUANTA_KERNELS_CUDA_GGML_XQ_CUH

#include "ggml_blocks.cuh"

/* Each chunk c's codes (one a lane in s[c]) become the sums of the codes of each half of the chunk: low 16 bits
 * elements 0-15, high 16-31 (every lane gets them). */
template <int NS> __device__ __forceinline__ void qn_ggml_half_sums(int (&s)[NS]) {
#pragma unroll
    for (int o = 8; o > 0; o >>= 1)
#pragma unroll
        for (int c = 0; c < NS; c++) s[c] += __shfl_xor_sync(0xffffffffu, s[c], o); /* within each half */
#pragma unroll
    for (int c = 0; c < NS; c++) {
        const int s_hi = __shfl_sync(0xffffffffu, s[c], 16);
        s[c] = (s[c] & 0xFFFF) | (s_hi << 16);
    }
}

/* NS chunks at once: chunk c's values v[c] (lane = element) into the codes of chunk number ch[c] of the planes
 * (xq + 32 ch[c], dx + ch[c], ...), stored only where live[c] (uniform over the warp); xl NULL: no second plane.
 * Each chunk's arithmetic is the one-chunk form's, so the codes are the same; the chunks' shuffle chains are
 * interleaved instead of waited on one after another (a norm's warp making its chunk of each k at once). */
template <int NS>
__device__ __forceinline__ void qn_ggml_quantize_chunks(const float (&v)[NS], const bool (&live)[NS], const int64_t (&ch)[NS],
                                                        int8_t *xq, float *dx, int *sx, int8_t *xl, int *sl) {
    const int lane = threadIdx.x & 31;
    float amax[NS], t[NS];
    int q[NS], s[NS];
#pragma unroll
    for (int c = 0; c < NS; c++) amax[c] = fabsf(v[c]);
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
#pragma unroll
        for (int c = 0; c < NS; c++) amax[c] = fmaxf(amax[c], __shfl_xor_sync(0xffffffffu, amax[c], o));
#pragma unroll
    for (int c = 0; c < NS; c++) {
        const float d = amax[c] / 127.0f;
        t[c] = d > 0.0f ? v[c] / d : 0.0f;
        q[c] = __float2int_rn(t[c]);
        s[c] = q[c];
        amax[c] = d;
    }
    qn_ggml_half_sums<NS>(s);
#pragma unroll
    for (int c = 0; c < NS; c++)
        if (live[c]) {
            xq[ch[c] * 32 + lane] = (int8_t)q[c];
            if (lane == 0) dx[ch[c]] = amax[c], sx[ch[c]] = s[c];
        }
    if (!xl) return;
#pragma unroll
    for (int c = 0; c < NS; c++) {
        q[c] = __float2int_rn(254.0f * (t[c] - (float)q[c]));
        s[c] = q[c];
    }
    qn_ggml_half_sums<NS>(s);
#pragma unroll
    for (int c = 0; c < NS; c++)
        if (live[c]) {
            xl[ch[c] * 32 + lane] = (int8_t)q[c];
            if (lane == 0) sl[ch[c]] = s[c];
        }
}

/* The warp's 32 values v (lane = element of the chunk) as codes xq[lane] = round(v / d) with
 * d = max|v| / 127 in *dx, and the sums of the codes of each half (low 16 bits: elements 0-15,
 * high: 16-31) in *sx; with xl not NULL also the second plane (qn_cuda_ggml_xq_lo): xl[lane] =
 * round(254 * (v / d - xq[lane])), in [-127, 127], and its half sums in *sl. Whole warps only. */
__device__ __forceinline__ void qn_ggml_quantize_chunk(float v, int8_t *xq, float *dx, int *sx, int8_t *xl = nullptr,
                                                       int *sl = nullptr) {
    const float vs[1] = {v};
    const bool live[1] = {true};
    const int64_t ch[1] = {0};
    qn_ggml_quantize_chunks<1>(vs, live, ch, xq, dx, sx, xl, sl);
}

/* acc + (the weight chunk ch . the activation chunk of codes xc, scale dx, half sums sx):
 * per half, d * dx * sum(q * xq) + m * dx * sum(xq). */
/* SH: the codes are in shared memory (read with plain loads, not the read-only global path). */
template <bool SH, typename T> __device__ __forceinline__ T qn_xld(const T *p) { return SH ? *p : __ldg(p); }

template <int DT, bool SH = false>
__device__ __forceinline__ float qn_ggml_chunk_dot(const qn_ggml_chunk &ch, const int8_t *xc, const float *dx,
                                                   const int *sx, float acc) {
    const int4 *xp = (const int4 *)xc;
    const int4 a = qn_xld<SH>(xp), b = qn_xld<SH>(xp + 1);
    int s0 = __dp4a(ch.q[0], a.x, 0);
    s0 = __dp4a(ch.q[1], a.y, s0);
    s0 = __dp4a(ch.q[2], a.z, s0);
    s0 = __dp4a(ch.q[3], a.w, s0);
    int s1 = __dp4a(ch.q[4], b.x, 0);
    s1 = __dp4a(ch.q[5], b.y, s1);
    s1 = __dp4a(ch.q[6], b.z, s1);
    s1 = __dp4a(ch.q[7], b.w, s1);
    const float d = qn_xld<SH>(dx);
    float part = ch.d[0] * (float)s0 + ch.d[1] * (float)s1;
    if (DT == QN_DT_GGML_Q4_1 || DT == QN_DT_GGML_Q5_1 || DT == QN_DT_GGML_Q4_K || DT == QN_DT_GGML_Q5_K) {
        const int s = qn_xld<SH>(sx);
        part += ch.m[0] * (float)(short)(s & 0xFFFF) + ch.m[1] * (float)(s >> 16);
    }
    return fmaf(part, d, acc);
}

/* The same with both planes of x's codes (xc, sx first; xl, sl second): per half, d * dx * (sum(q * xq)
 * + sum(q * xl) / 254) + m * dx * (sum(xq) + sum(xl) / 254). */
__device__ __forceinline__ int qn_ggml_dot16(const int *q, const int4 &a) {
    int s = __dp4a(q[0], a.x, 0);
    s = __dp4a(q[1], a.y, s);
    s = __dp4a(q[2], a.z, s);
    s = __dp4a(q[3], a.w, s);
    return s;
}

template <int DT>
__device__ __forceinline__ float qn_ggml_chunk_dot2(const qn_ggml_chunk &ch, const int8_t *xc, const float *dx,
                                                    const int *sx, const int8_t *xl, const int *sl, float acc) {
    const int4 *xp = (const int4 *)xc, *lp = (const int4 *)xl;
    const int4 a = __ldg(xp), b = __ldg(xp + 1), al = __ldg(lp), bl = __ldg(lp + 1);
    const float r = 1.0f / 254.0f;
    const float s0 = (float)qn_ggml_dot16(ch.q, a) + (float)qn_ggml_dot16(ch.q, al) * r;
    const float s1 = (float)qn_ggml_dot16(ch.q + 4, b) + (float)qn_ggml_dot16(ch.q + 4, bl) * r;
    const float d = __ldg(dx);
    float part = ch.d[0] * s0 + ch.d[1] * s1;
    if (DT == QN_DT_GGML_Q4_1 || DT == QN_DT_GGML_Q5_1 || DT == QN_DT_GGML_Q4_K || DT == QN_DT_GGML_Q5_K) {
        const int s = __ldg(sx), t = __ldg(sl);
        part += ch.m[0] * ((float)(short)(s & 0xFFFF) + (float)(short)(t & 0xFFFF) * r) +
                ch.m[1] * ((float)(s >> 16) + (float)(t >> 16) * r);
    }
    return fmaf(part, d, acc);
}

#endif
