/* ggml_blocks.cuh — device decoding of the ggml block formats (QUANTA_GGML_*) straight from
 * the GGUF bytes, one 32-element chunk at a time. A chunk is returned as 32 signed 8-bit
 * codes q (four per int, element order) and, for each half of 16 elements, a factor d and an
 * offset m with w = d * q + m: the same products and sums, in the same order, as ggml's
 * reference dequantizers (formats/gguf_dequant.c), so qn_ggml_chunk_value is bit-exact with
 * them. The matmul uses the codes directly in int8 dot products (dp4a).
 *
 * Blocks are only 2-byte aligned in most formats (18, 22, 34, 210 bytes): those are read with
 * 16-bit loads. */
#ifndef QUANTA_KERNELS_CUDA_GGML_BLOCKS_CUH
#define QUANTA_KERNELS_CUDA_GGML_BLOCKS_CUH

#include "cuda_common.cuh"

/* Dtype codes and block geometry: formats/layout.h (QN_DT_GGML_*, QN_GGML_BLOCK_*). */
__host__ __device__ constexpr int qn_ggml_block_elems(int dt) { return QN_GGML_BLOCK_ELEMS(dt); }
__host__ __device__ constexpr int qn_ggml_block_bytes(int dt) { return QN_GGML_BLOCK_BYTES(dt); }

struct qn_ggml_chunk {
    int q[8];      /* 32 signed codes, element 4i + b in byte b of q[i] */
    float d[2], m[2]; /* per half of 16 elements: w = d * q + m */
};

__device__ __forceinline__ float qn_gh(const uint8_t *p) { /* f16 at a 2-byte aligned address */
    return __half2float(__ushort_as_half(*(const unsigned short *)p));
}
__device__ __forceinline__ uint32_t qn_gu32_a2(const uint8_t *p) {
    const unsigned short *h = (const unsigned short *)p;
    return (uint32_t)h[0] | ((uint32_t)h[1] << 16);
}
__device__ __forceinline__ uint32_t qn_gu32_a4(const uint8_t *p) { return *(const uint32_t *)p; }

/* Bits 0..3 of b moved to bit 4 of bytes 0..3. */
__device__ __forceinline__ uint32_t qn_spread4(uint32_t b) {
    return ((b & 1u) << 4) | ((b & 2u) << 11) | ((b & 4u) << 18) | ((b & 8u) << 25);
}

/* 6-bit scale and min j of the 12 packed bytes of a q4_k / q5_k block (ggml's get_scale_min_k4). */
__device__ __forceinline__ void qn_k4_scale_min(int j, const uint8_t *s, int *sc, int *mn) {
    if (j < 4) {
        *sc = s[j] & 63;
        *mn = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
        *mn = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

/* Chunk c of a q4_k / q5_k row: its superblock (*blk), the nibble shift of its codes (*sh), its factor d and
 * offset m (w = d q + m, ggml's d * sc and -(dmin * mn)); returns where its 32 code bytes start. */
template <int DT>
__device__ __forceinline__ const uint8_t *qn_k45_chunk(const uint8_t *row, int64_t c, const uint8_t **blk, int *sh,
                                                       float *d, float *m) {
    const int j = (int)(c & 7);
    const uint8_t *b = row + (c >> 3) * (DT == QN_DT_GGML_Q4_K ? 144 : 176);
    int sc, mn;
    qn_k4_scale_min(j, b + 4, &sc, &mn);
    *d = qn_gh(b) * (float)sc;
    *m = -(qn_gh(b + 2) * (float)mn);
    *blk = b;
    *sh = 4 * (j & 1);
    return b + (DT == QN_DT_GGML_Q4_K ? 16 : 48) + 32 * (j >> 1);
}

/* Chunk c of a q6_k row: where its low nibbles (ql) and high bit pairs (qh) start, their shifts, and its two
 * half factors d[0], d[1] (ggml's d * scale of each 16 elements). Both decoders read the codes from here. */
struct qn_q6k_chunk {
    const uint8_t *ql, *qh;
    int shl, shh;
};
__device__ __forceinline__ qn_q6k_chunk qn_q6k_chunk_at(const uint8_t *row, int64_t c, float d[2]) {
    const int cc = (int)(c & 7), n = cc >> 2, quarter = cc & 3;
    const uint8_t *b = row + (c >> 3) * 210;
    const float dd = qn_gh(b + 208);
    const int8_t *sc = (const int8_t *)(b + 192) + 8 * n + 2 * quarter;
    d[0] = dd * (float)sc[0];
    d[1] = dd * (float)sc[1];
    return {b + 64 * n + 32 * (quarter & 1), b + 128 + 32 * n, 4 * (quarter >> 1), 2 * quarter};
}

/* Chunk c (elements 32c .. 32c + 31) of the row starting at `row`. */
template <int DT>
__device__ __forceinline__ void qn_ggml_load_chunk(const uint8_t *row, int64_t c, qn_ggml_chunk &o) {
    if (DT == QN_DT_GGML_Q4_0) {
        const uint8_t *b = row + c * 18;
        const float d = qn_gh(b);
#pragma unroll
        for (int i = 0; i < 4; i++) {
            const uint32_t w = qn_gu32_a2(b + 2 + 4 * i);
            o.q[i] = (int)__vsub4(w & 0x0F0F0F0Fu, 0x08080808u);
            o.q[4 + i] = (int)__vsub4((w >> 4) & 0x0F0F0F0Fu, 0x08080808u);
        }
        o.d[0] = o.d[1] = d;
        o.m[0] = o.m[1] = 0.0f;
    } else if (DT == QN_DT_GGML_Q4_1) {
        const uint8_t *b = row + c * 20;
        const float d = qn_gh(b), m = qn_gh(b + 2);
#pragma unroll
        for (int i = 0; i < 4; i++) {
            const uint32_t w = qn_gu32_a4(b + 4 + 4 * i);
            o.q[i] = (int)(w & 0x0F0F0F0Fu);
            o.q[4 + i] = (int)((w >> 4) & 0x0F0F0F0Fu);
        }
        o.d[0] = o.d[1] = d;
        o.m[0] = o.m[1] = m;
    } else if (DT == QN_DT_GGML_Q5_0) {
        const uint8_t *b = row + c * 22;
        const float d = qn_gh(b);
        const uint32_t qh = qn_gu32_a2(b + 2);
#pragma unroll
        for (int i = 0; i < 4; i++) {
            const uint32_t w = qn_gu32_a2(b + 6 + 4 * i);
            o.q[i] = (int)__vsub4((w & 0x0F0F0F0Fu) | qn_spread4((qh >> (4 * i)) & 0xFu), 0x10101010u);
            o.q[4 + i] = (int)__vsub4(((w >> 4) & 0x0F0F0F0Fu) | qn_spread4((qh >> (16 + 4 * i)) & 0xFu), 0x10101010u);
        }
        o.d[0] = o.d[1] = d;
        o.m[0] = o.m[1] = 0.0f;
    } else if (DT == QN_DT_GGML_Q5_1) {
        const uint8_t *b = row + c * 24;
        const float d = qn_gh(b), m = qn_gh(b + 2);
        const uint32_t qh = qn_gu32_a4(b + 4);
#pragma unroll
        for (int i = 0; i < 4; i++) {
            const uint32_t w = qn_gu32_a4(b + 8 + 4 * i);
            o.q[i] = (int)((w & 0x0F0F0F0Fu) | qn_spread4((qh >> (4 * i)) & 0xFu));
            o.q[4 + i] = (int)(((w >> 4) & 0x0F0F0F0Fu) | qn_spread4((qh >> (16 + 4 * i)) & 0xFu));
        }
        o.d[0] = o.d[1] = d;
        o.m[0] = o.m[1] = m;
    } else if (DT == QN_DT_GGML_Q8_0) {
        const uint8_t *b = row + c * 34;
        const float d = qn_gh(b);
#pragma unroll
        for (int i = 0; i < 8; i++) o.q[i] = (int)qn_gu32_a2(b + 2 + 4 * i);
        o.d[0] = o.d[1] = d;
        o.m[0] = o.m[1] = 0.0f;
    } else if (DT == QN_DT_GGML_Q4_K || DT == QN_DT_GGML_Q5_K) {
        const int j = (int)(c & 7);
        const uint8_t *b;
        int sh;
        const uint8_t *qs = qn_k45_chunk<DT>(row, c, &b, &sh, &o.d[0], &o.m[0]);
#pragma unroll
        for (int i = 0; i < 8; i++) {
            uint32_t v = (qn_gu32_a4(qs + 4 * i) >> sh) & 0x0F0F0F0Fu;
            if (DT == QN_DT_GGML_Q5_K) v |= ((qn_gu32_a4(b + 16 + 4 * i) >> j) & 0x01010101u) << 4;
            o.q[i] = (int)v;
        }
        o.d[1] = o.d[0];
        o.m[1] = o.m[0];
    } else { /* Q6_K */
        const qn_q6k_chunk q6 = qn_q6k_chunk_at(row, c, o.d);
#pragma unroll
        for (int i = 0; i < 8; i++) {
            const uint32_t lo = (qn_gu32_a2(q6.ql + 4 * i) >> q6.shl) & 0x0F0F0F0Fu;
            const uint32_t hi = ((qn_gu32_a2(q6.qh + 4 * i) >> q6.shh) & 0x03030303u) << 4;
            o.q[i] = (int)__vsub4(lo | hi, 0x20202020u);
        }
        o.m[0] = o.m[1] = 0.0f;
    }
}

/* Element e (0..31) of a loaded chunk, with ggml's reference arithmetic (no contraction). */
__device__ __forceinline__ float qn_ggml_chunk_value(const qn_ggml_chunk &o, int e) {
    const int q = (int)(int8_t)(((uint32_t)o.q[e >> 2]) >> (8 * (e & 3)));
    const int h = e >> 4;
    return __fadd_rn(__fmul_rn((float)q, o.d[h]), o.m[h]);
}

/* Two bytes at p (2-byte aligned) in bits 0-15 and two at p2 in bits 16-31. */
__device__ __forceinline__ uint32_t qn_gpair(const uint8_t *p, const uint8_t *p2) {
    return (uint32_t)*(const unsigned short *)p | ((uint32_t)*(const unsigned short *)p2 << 16);
}

/* The part of chunk c of `row` that one lane of an mma.sync m16n8k16 A fragment holds for one weight row
 * (t = lane % 4): the codes of elements 2t, 2t+1, 8+2t, 9+2t in the bytes of u[0], of elements 16 + those
 * in u[1], each as the unsigned byte q + 128; with w = d[h] * q + m[h] for elements of half h (u[h]), the
 * same d and m as qn_ggml_load_chunk gives (the same layout read 8 elements at a time). */
template <int DT>
__device__ __forceinline__ void qn_ggml_load_frag(const uint8_t *row, int64_t c, int t, uint32_t u[2], float d[2],
                                                  float m[2]) {
    const int o = 2 * t;
    m[0] = m[1] = 0.0f;
    if (DT == QN_DT_GGML_Q4_0 || DT == QN_DT_GGML_Q4_1) { /* qs[j]: element j low, j + 16 high */
        const int hb = DT == QN_DT_GGML_Q4_0 ? 2 : 4;
        const uint8_t *b = row + c * (DT == QN_DT_GGML_Q4_0 ? 18 : 20), *qs = b + hb;
        const uint32_t w = qn_gpair(qs + o, qs + 8 + o);
        const uint32_t bias = DT == QN_DT_GGML_Q4_0 ? 0x78787878u : 0x80808080u; /* q = nibble - 8, or nibble */
        u[0] = (w & 0x0F0F0F0Fu) + bias;
        u[1] = ((w >> 4) & 0x0F0F0F0Fu) + bias;
        d[0] = d[1] = qn_gh(b);
        if (DT == QN_DT_GGML_Q4_1) m[0] = m[1] = qn_gh(b + 2);
    } else if (DT == QN_DT_GGML_Q5_0 || DT == QN_DT_GGML_Q5_1) { /* and bit e of qh: element e's bit 4 */
        const bool one = DT == QN_DT_GGML_Q5_1;
        const uint8_t *b = row + c * (one ? 24 : 22), *qs = b + (one ? 8 : 6);
        const uint32_t qh = (one ? qn_gu32_a4(b + 4) : qn_gu32_a2(b + 2)) >> o;
        const uint32_t h0 = qh & 0x01010101u, h1 = (qh >> 1) & 0x01010101u; /* elements o, 8+o, 16+o, 24+o; +1 */
        const uint32_t w = qn_gpair(qs + o, qs + 8 + o);
        const uint32_t bias = one ? 0x80808080u : 0x70707070u; /* q = v - 16, or v */
        u[0] = ((w & 0x0F0F0F0Fu) | (__byte_perm(h0, h1, 0x5140) << 4)) + bias;
        u[1] = (((w >> 4) & 0x0F0F0F0Fu) | (__byte_perm(h0, h1, 0x7362) << 4)) + bias;
        d[0] = d[1] = qn_gh(b);
        if (one) m[0] = m[1] = qn_gh(b + 2);
    } else if (DT == QN_DT_GGML_Q8_0) {
        const uint8_t *b = row + c * 34, *qs = b + 2;
        u[0] = qn_gpair(qs + o, qs + 8 + o) ^ 0x80808080u;
        u[1] = qn_gpair(qs + 16 + o, qs + 24 + o) ^ 0x80808080u;
        d[0] = d[1] = qn_gh(b);
    } else if (DT == QN_DT_GGML_Q4_K || DT == QN_DT_GGML_Q5_K) {
        const int j = (int)(c & 7);
        const uint8_t *b;
        int sh;
        const uint8_t *qs = qn_k45_chunk<DT>(row, c, &b, &sh, &d[0], &m[0]);
        uint32_t v0 = (qn_gpair(qs + o, qs + 8 + o) >> sh) & 0x0F0F0F0Fu;
        uint32_t v1 = (qn_gpair(qs + 16 + o, qs + 24 + o) >> sh) & 0x0F0F0F0Fu;
        if (DT == QN_DT_GGML_Q5_K) {
            const uint8_t *qh = b + 16;
            v0 |= ((qn_gpair(qh + o, qh + 8 + o) >> j) & 0x01010101u) << 4;
            v1 |= ((qn_gpair(qh + 16 + o, qh + 24 + o) >> j) & 0x01010101u) << 4;
        }
        u[0] = v0 + 0x80808080u;
        u[1] = v1 + 0x80808080u;
        d[1] = d[0];
        m[1] = m[0];
    } else { /* Q6_K */
        const qn_q6k_chunk q6 = qn_q6k_chunk_at(row, c, d);
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const uint32_t lo = (qn_gpair(q6.ql + 16 * h + o, q6.ql + 16 * h + 8 + o) >> q6.shl) & 0x0F0F0F0Fu;
            const uint32_t hi = ((qn_gpair(q6.qh + 16 * h + o, q6.qh + 16 * h + 8 + o) >> q6.shh) & 0x03030303u) << 4;
            u[h] = (lo | hi) + 0x60606060u; /* q = v - 32 */
        }
    }
}

/* Runs CALL with DT the compile-time ggml format of run-time dtype dt, in a function returning int (a
 * cudaError_t); an unknown dtype returns cudaErrorInvalidValue. */
#define QN_GGML_DISPATCH(dt, CALL)                                   \
    switch (dt) {                                                     \
    case QN_DT_GGML_Q4_0: { constexpr int DT = QN_DT_GGML_Q4_0; CALL; } break; \
    case QN_DT_GGML_Q4_1: { constexpr int DT = QN_DT_GGML_Q4_1; CALL; } break; \
    case QN_DT_GGML_Q5_0: { constexpr int DT = QN_DT_GGML_Q5_0; CALL; } break; \
    case QN_DT_GGML_Q5_1: { constexpr int DT = QN_DT_GGML_Q5_1; CALL; } break; \
    case QN_DT_GGML_Q8_0: { constexpr int DT = QN_DT_GGML_Q8_0; CALL; } break; \
    case QN_DT_GGML_Q4_K: { constexpr int DT = QN_DT_GGML_Q4_K; CALL; } break; \
    case QN_DT_GGML_Q5_K: { constexpr int DT = QN_DT_GGML_Q5_K; CALL; } break; \
    case QN_DT_GGML_Q6_K: { constexpr int DT = QN_DT_GGML_Q6_K; CALL; } break; \
    default: return (int)cudaErrorInvalidValue;                      \
    }

#endif
