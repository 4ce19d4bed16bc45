/*
 * common.cl — helpers shared by every Quanta OpenCL kernel: element loads/stores for the
 * activation dtypes (f16 and bf16 live in memory only; arithmetic is f32 because devices such
 * as PoCL lack cl_khr_fp16), and decoders for the quantized weight formats.
 *
 * Buffers are passed as byte pointers plus byte offsets (the engine suballocates), and the
 * dtype of a tensor is a kernel argument: one program serves every dtype combination, which
 * keeps the number of device compilations (seconds each on PoCL) small.
 */

/* Dtype and format codes: the values of quanta_dtype in include/quanta.h. */
#define QN_F32 0
#define QN_F16 1
#define QN_BF16 2
#define QN_I32 3
#define QN_U8 4
#define QN_Q8 16
#define QN_Q4 17
#define QN_NF4 18
#define QN_E4M3 19
#define QN_E5M2 20

#define QN_INL inline __attribute__((always_inline))

inline float qn_hsum16(float16 v) {
    float8 a = v.lo + v.hi;
    float4 b = a.lo + a.hi;
    float2 c = b.lo + b.hi;
    return c.x + c.y;
}

inline float qn_bf16_f32(ushort b) { return as_float(((uint)b) << 16); }

/* Round half to even, NaN stays a quiet NaN (matches formats/half.c). */
inline ushort qn_f32_bf16(float x) {
    uint u = as_uint(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (ushort)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (ushort)(u >> 16);
}

/* f32 -> f16, round half to even, in integer arithmetic: vstore_half_rte rounds results in the
 * f16 subnormal range differently on some drivers (NVIDIA's), and this matches formats/half.c
 * bit for bit everywhere. NaN -> quiet NaN, beyond 65504 -> Inf like IEEE. */
inline ushort qn_f32_f16(float f) {
    uint x = as_uint(f), sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return (ushort)(sign | 0x7e00u);
    if (ax >= 0x477ff000u) return (ushort)(sign | 0x7c00u);
    if (ax >= 0x38800000u) { /* normal: rebias, round the 13 dropped bits */
        uint r = ax - 0x38000000u;
        return (ushort)(sign | ((r + 0xfffu + ((r >> 13) & 1u)) >> 13));
    }
    if (ax < 0x33000000u) return (ushort)sign; /* at most half the smallest subnormal */
    uint e = ax >> 23, m = (ax & 0x7fffffu) | 0x800000u, sh = 126u - e;
    uint r = m >> sh, rem = m & ((1u << sh) - 1u), hv = 1u << (sh - 1u);
    if (rem > hv || (rem == hv && (r & 1u))) r++;
    return (ushort)(sign | r);
}

inline float qn_ld(const global uchar *p, int dt, size_t i) {
    if (dt == QN_F32) return ((const global float *)p)[i];
    if (dt == QN_F16) return vload_half(i, (const global half *)p);
    return qn_bf16_f32(((const global ushort *)p)[i]);
}

inline void qn_st(global uchar *p, int dt, size_t i, float v) {
    if (dt == QN_F32) ((global float *)p)[i] = v;
    else if (dt == QN_F16) ((global ushort *)p)[i] = qn_f32_f16(v);
    else ((global ushort *)p)[i] = qn_f32_bf16(v);
}

/* An f32 stored at any byte address: scale sections follow byte-sized codes in the
 * interchange layout (q8/fp8 row scales at rows*cols, nf4 dq_scale after the u8 absmax), so
 * they need not be 4-byte aligned, and GPUs fault on misaligned float loads. */
inline float qn_ldf_any(const global uchar *p) {
    return as_float((uint)p[0] | ((uint)p[1] << 8) | ((uint)p[2] << 16) | ((uint)p[3] << 24));
}

/* OCP FP8 decoders (E4M3 "fn": no Inf, S.1111.111 is NaN; E5M2: IEEE-like). Exact in f32. */
inline float qn_e4m3_f32(uint c) {
    uint e = (c >> 3) & 15u, m = c & 7u;
    float v = e == 0u ? (float)m * 0.001953125f : as_float(((e + 120u) << 23) | (m << 20));
    if ((c & 0x7fu) == 0x7fu) v = as_float(0x7fc00000u);
    return (c & 0x80u) ? -v : v;
}

inline float qn_e5m2_f32(uint c) {
    uint e = (c >> 2) & 31u, m = c & 3u;
    float v = e == 0u ? (float)m * 1.52587890625e-5f : as_float(((e + 112u) << 23) | (m << 21));
    if (e == 31u) v = m == 0u ? INFINITY : as_float(0x7fc00000u);
    return (c & 0x80u) ? -v : v;
}

__constant float qn_nf4_book[16] = {
    -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
    -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
    0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
    0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};

/*
 * A quantized (or dense) weight matrix W[rows][cols] in the interchange layout. The section
 * offsets come from formats' qn_quant_layout, relative to `base`.
 */
typedef struct qn_wdesc {
    int fmt;        /* quanta_dtype */
    int group;      /* q4 group / nf4 block */
    int dq;         /* nf4 double quantization */
    long cols;
    long row_bytes; /* codes per row */
    long so, zo, zrb, mo; /* scales, zeros (nf4 dq: dq_scale), zero row bytes, dq mean */
} qn_wdesc;

/* Effective absmax of nf4 block b (whole-matrix block index). */
inline float qn_nf4_absmax(const global uchar *base, const qn_wdesc *w, size_t b) {
    if (!w->dq) return ((const global float *)(base + w->so))[b];
    float dqs = qn_ldf_any(base + w->zo + (b / 256) * 4);
    float mean = qn_ldf_any(base + w->mo);
    float a = (float)(char)base[w->so + b] * dqs + mean;
    return a > 0.0f ? a : 0.0f;
}

/* Scale of the group/block holding element (r, c). */
inline float qn_w_scale(const global uchar *base, const qn_wdesc *w, long r, long c) {
    switch (w->fmt) {
    case QN_Q4: {
        long ng = w->cols / w->group;
        return vload_half((size_t)(r * ng + c / w->group), (const global half *)(base + w->so));
    }
    case QN_NF4: return qn_nf4_absmax(base, w, (size_t)(r * (w->cols / 64) + c / 64));
    case QN_Q8: case QN_E4M3: case QN_E5M2: return qn_ldf_any(base + w->so + r * 4);
    default: return 1.0f;
    }
}

inline float qn_q4_zero(const global uchar *base, const qn_wdesc *w, long r, long c) {
    long j = c / w->group;
    uint z = base[w->zo + r * w->zrb + j / 2];
    return (float)((z >> ((j & 1) * 4)) & 15u);
}

/* One element of W, dequantized. Slow but general: used by gathers and tile loads. */
inline float qn_w_elem(const global uchar *base, const qn_wdesc *w, long r, long c) {
    switch (w->fmt) {
    case QN_F32: case QN_F16: case QN_BF16:
        return qn_ld(base, w->fmt, (size_t)(r * w->cols + c));
    case QN_Q8: return (float)((const global char *)base)[r * w->cols + c] * qn_w_scale(base, w, r, c);
    case QN_E4M3: return qn_e4m3_f32(base[r * w->cols + c]) * qn_w_scale(base, w, r, c);
    case QN_E5M2: return qn_e5m2_f32(base[r * w->cols + c]) * qn_w_scale(base, w, r, c);
    case QN_Q4: {
        uint b = base[r * w->row_bytes + c / 2];
        float q = (float)((b >> ((c & 1) * 4)) & 15u);
        return (q - qn_q4_zero(base, w, r, c)) * qn_w_scale(base, w, r, c);
    }
    case QN_NF4: {
        uint b = base[r * w->row_bytes + c / 2];
        return qn_nf4_book[(b >> ((c & 1) * 4)) & 15u] * qn_w_scale(base, w, r, c);
    }
    default: return 0.0f;
    }
}

#define QN_WDESC_ARGS int wfmt, int wgroup, int wdq, long wcols, long wrowb, long wso, long wzo, long wzrb, long wmo
#define QN_WDESC_MAKE(w) qn_wdesc w; w.fmt = wfmt; w.group = wgroup; w.dq = wdq; w.cols = wcols; \
    w.row_bytes = wrowb; w.so = wso; w.zo = wzo; w.zrb = wzrb; w.mo = wmo
