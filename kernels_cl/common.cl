/*
 * common.cl — helpers shared by every Quanta OpenCL kernel: element loads/stores for the
 * activation dtypes (f16 and bf16 live in memory only; arithmetic is f32 because devices such
 * as PoCL lack cl_khr_fp16), and decoders for the quantized weight formats.
 *
 * Buffers are passed as byte pointers plus byte offsets (the engine suballocates), and the
 * dtype of a tensor is a kernel argument: one program serves every dtype combination, which
 * keeps the number of device compilations (seconds each on PoCL) small.
 */

/* Dtype codes (QN_DT_*), format constants, the NF4 code book and the weight layout struct come
 * from formats/layout.h, which the program source carries ahead of this file. */

#define QN_INL inline __attribute__((always_inline))

/* The GEMV kernels' most x rows (the host's GEMV_MAX_M): larger M goes to the GEMMs. */
#define QN_GEMV_MAXM 8

inline float qn_hsum16(float16 v) {
    float8 a = v.lo + v.hi;
    float4 b = a.lo + a.hi;
    float2 c = b.lo + b.hi;
    return c.x + c.y;
}

/* Kernels check the arguments they read on the device (a write_rows start, kv_lens, get_rows
 * ids, paged attention's lengths and block tables) instead of the host reading them back, which would drain the queue before every such
 * op. The first bad value claims err[0] with its code, its details go to err[1..3], and the
 * host reports it at its next synchronize (cl_backend.c). */
#define QN_ERR_WRITE_ROWS_START 1
#define QN_ERR_ATTENTION_KV_LENS 2
#define QN_ERR_GET_ROWS_ID 3
#define QN_ERR_PAGED_KV_LENS 4
#define QN_ERR_PAGED_BLOCK 5
#define QN_ERR_WRITE_ROWS_ROW 6
inline void qn_report(global int *err, int code, int a, int b, int c) {
    if (atomic_cmpxchg((volatile global int *)err, 0, -1) != 0) return;
    err[1] = a;
    err[2] = b;
    err[3] = c;
    atomic_xchg((volatile global int *)err, code);
}

/* Split-KV attention: element d of one output row merged from its nsplit partials pp (each Dv normalised
 * outputs then the log2-sum-exp, Dv + 1 floats; qn_attention's and qn_attention_dec's layout). Volatile:
 * qn_attention_dec's last group reads partials other groups of the same launch wrote (through L2, not a
 * stale L1 line). Used by qn_attn_combine too, so both forms compute the same bits. */
inline float qn_attn_merge(const volatile global float *pp, int nsplit, int Dv, int d) {
    float mx = -INFINITY;
    for (int s = 0; s < nsplit; s++) mx = fmax(mx, pp[s * (Dv + 1) + Dv]);
    float num = 0.0f, den = 0.0f;
    if (mx != -INFINITY) {
        for (int s = 0; s < nsplit; s++) {
            const float wgt = exp2(pp[s * (Dv + 1) + Dv] - mx);
            num += wgt * pp[s * (Dv + 1) + d];
            den += wgt;
        }
    }
    return den > 0.0f ? num / den : 0.0f;
}

/* The dst row that src row t goes to: start[0] + t (ns = 1), or start[t] (ns = T: a scatter);
 * -1 (and the error reported, once per op by the work-item `first`) when it is outside dst. */
inline long qn_write_row_dest(const global uchar *startp, ulong sto, ulong ns, ulong t, ulong T, ulong Nmax,
                              int first, global int *err) {
    const global int *st = (const global int *)(startp + sto);
    if (ns == 1) {
        const int start = st[0];
        if (start < 0 || (ulong)start + T > Nmax) {
            if (first) qn_report(err, QN_ERR_WRITE_ROWS_START, start, (int)T, (int)Nmax);
            return -1;
        }
        return (long)start + (long)t;
    }
    const int r = st[t];
    if (r < 0 || (ulong)r >= Nmax) {
        qn_report(err, QN_ERR_WRITE_ROWS_ROW, (int)t, r, (int)Nmax);
        return -1;
    }
    return r;
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

/* f16 bits -> f32, exact for every value, in a few integer ops (PoCL's vload_half is a long
 * software routine): normals by rebiasing the exponent, subnormals as m·2^-24, Inf/NaN by
 * widening the exponent. No f32 subnormal appears on the way, so devices that flush them
 * get the same bits. */
#define QN_H2F(T, U, CV)                                                                    \
    const U e = h & 0x7c00u, m = h & 0x3ffu;                                               \
    T v = as_##T(((h & 0x7fffu) << 13) + (112u << 23));                                    \
    v = select(v, CV(m) * 0x1p-24f, e == 0u);                                             \
    v = select(v, as_##T(0x7f800000u | (m << 13)), e == 0x7c00u);                         \
    return as_##T(as_##U(v) | ((h & 0x8000u) << 16));
QN_INL float qn_h2f(uint h) { QN_H2F(float, uint, (float)) }
QN_INL float16 qn_h2f16(uint16 h) { QN_H2F(float16, uint16, convert_float16) }

inline float qn_ld(const global uchar *p, int dt, size_t i) {
    if (dt == QN_DT_F32) return ((const global float *)p)[i];
    if (dt == QN_DT_F16) return vload_half(i, (const global half *)p);
    return qn_bf16_f32(((const global ushort *)p)[i]);
}

inline void qn_st(global uchar *p, int dt, size_t i, float v) {
    if (dt == QN_DT_F32) ((global float *)p)[i] = v;
    else if (dt == QN_DT_F16) ((global ushort *)p)[i] = qn_f32_f16(v);
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

__constant float qn_nf4_book[16] = QN_NF4_BOOK_INIT;

/* A weight matrix W[rows][cols] in the interchange layout is described by qn_quant_layout
 * (layout.h): its section offsets relative to `base`. */

/* Effective absmax of nf4 block b (whole-matrix block index). */
inline float qn_nf4_absmax(const global uchar *base, const qn_quant_layout *w, size_t b) {
    if (!w->double_quant) return ((const global float *)(base + w->scales_offset))[b];
    float dqs = qn_ldf_any(base + w->nf4_dq_scales_offset + (b / QN_NF4_DQ_BLOCK) * 4);
    float mean = qn_ldf_any(base + w->nf4_dq_mean_offset);
    float a = (float)(char)base[w->scales_offset + b] * dqs + mean;
    return a > 0.0f ? a : 0.0f;
}

/* Scale of the group/block holding element (r, c). */
inline float qn_w_scale(const global uchar *base, const qn_quant_layout *w, long r, long c) {
    switch (w->dtype) {
    case QN_DT_Q4: {
        long ng = w->cols / w->group;
        return vload_half((size_t)(r * ng + c / w->group), (const global half *)(base + w->scales_offset));
    }
    case QN_DT_NF4: return qn_nf4_absmax(base, w, (size_t)(r * (w->cols / 64) + c / 64));
    case QN_DT_Q8: case QN_DT_E4M3: case QN_DT_E5M2: return qn_ldf_any(base + w->scales_offset + r * 4);
    default: return 1.0f;
    }
}

inline float qn_q4_zero(const global uchar *base, const qn_quant_layout *w, long r, long c) {
    long j = c / w->group;
    uint z = base[w->q4_zeros_offset + r * w->q4_zero_row_bytes + j / 2];
    return (float)((z >> ((j & 1) * 4)) & 15u);
}

/* Element c of a row of a ggml block format (ggml_blocks.cl, which follows this file). */
float qn_ggml_elem(const global uchar *row, int dt, long c);

/* One element of W, dequantized. Slow but general: used by gathers and tile loads. */
inline float qn_w_elem(const global uchar *base, const qn_quant_layout *w, long r, long c) {
    if (QN_DT_IS_GGML(w->dtype)) return qn_ggml_elem(base + r * w->codes_row_bytes, w->dtype, c);
    switch (w->dtype) {
    case QN_DT_F32: case QN_DT_F16: case QN_DT_BF16:
        return qn_ld(base, w->dtype, (size_t)(r * w->cols + c));
    case QN_DT_Q8: return (float)((const global char *)base)[r * w->cols + c] * qn_w_scale(base, w, r, c);
    case QN_DT_E4M3: return qn_e4m3_f32(base[r * w->cols + c]) * qn_w_scale(base, w, r, c);
    case QN_DT_E5M2: return qn_e5m2_f32(base[r * w->cols + c]) * qn_w_scale(base, w, r, c);
    case QN_DT_Q4: {
        uint b = base[r * w->codes_row_bytes + c / 2];
        float q = (float)((b >> ((c & 1) * 4)) & 15u);
        return (q - qn_q4_zero(base, w, r, c)) * qn_w_scale(base, w, r, c);
    }
    case QN_DT_NF4: {
        uint b = base[r * w->codes_row_bytes + c / 2];
        return qn_nf4_book[(b >> ((c & 1) * 4)) & 15u] * qn_w_scale(base, w, r, c);
    }
    default: return 0.0f;
    }
}

/* A weight's layout as kernel arguments (the host passes qn_quant_layout's fields in this order,
 * engine/opencl/cl_backend.c qn_cl_weight_args) and the struct rebuilt from them (rows unset). */
#define QN_WLAYOUT_ARGS int wdtype, int wgroup, int wdq, long wcols, long wrowb, long wscales, long wq4z, \
    long wq4zrb, long wdqs, long wdqm
#define QN_WLAYOUT_MAKE(w) qn_quant_layout w; w.dtype = wdtype; w.group = wgroup; w.double_quant = wdq; \
    w.rows = 0; w.cols = wcols; w.codes_row_bytes = wrowb; w.scales_offset = wscales; w.q4_zeros_offset = wq4z; \
    w.q4_zero_row_bytes = wq4zrb; w.nf4_dq_scales_offset = wdqs; w.nf4_dq_mean_offset = wdqm; w.total_bytes = 0

/* silu and the tanh GELU are both v / (1 + e^-z): z = v for silu, z = 2u for GELU, whose
 * 0.5 (1 + tanh u) = 1 / (1 + e^-2u) (no tanh, exact for tiny and huge x). */
inline float qn_gelu_tanh_z(float v) {
    return 2.0f * QN_F32(QN_GELU_SQRT_2_OVER_PI) * (v + QN_F32(QN_GELU_CUBIC) * v * v * v);
}
inline float qn_sigmoid_gate(float v, float z) { return v / (1.0f + exp(-z)); }

/* The unary ops (op: QN_UNARY_*), shared by qn_unary, qn_glu and qn_gemv_rows_glu. */
inline float qn_act(float v, int op, float s) {
    switch (op) {
    case QN_UNARY_SILU: return qn_sigmoid_gate(v, v);
    case QN_UNARY_GELU: /* 1 + erf(x/sqrt2) = erfc(-x/sqrt2), without cancellation for x << 0 */
        return 0.5f * v * erfc(-v * QN_F32(QN_SQRT1_2));
    case QN_UNARY_GELU_TANH: return qn_sigmoid_gate(v, qn_gelu_tanh_z(v));
    case QN_UNARY_SCALE: return v * s;
    default: return v;
    }
}

/* acc[i] += Σ_j u8(u[4i+j]) · s8(s[4i+j]): the int8 dot product of matmul_int8.cl (QN_DP4, 16
 * lanes, also gemv_i8.cl). QN_X86_VNNI (defined by the host only for x86 CPUs
 * whose cpuid reports AVX-512 VNNI, and only where the device compiler accepts it) issues
 * vpdpbusd through inline assembly: OpenCL C has no dot-product builtin and
 * PoCL's LLVM does not form one from plain code (it emits vpmulld). Elsewhere the product is
 * written out, exact too, so conformance checks those kernels on any device. */
#if defined(QN_X86_VNNI)
#define QN_DP4(acc, u, s) __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u), "v"(s))
#else
#define QN_DP4_FN(N)                                                                                              \
    QN_INL int##N qn_dp4_##N(int##N acc, int##N u, int##N s) {                                                   \
        const int##N u0 = as_int##N(as_uint##N(u) & 255u), u1 = as_int##N((as_uint##N(u) >> 8) & 255u);         \
        const int##N u2 = as_int##N((as_uint##N(u) >> 16) & 255u), u3 = as_int##N(as_uint##N(u) >> 24);         \
        return acc + u0 * ((s << 24) >> 24) + u1 * ((s << 16) >> 24) + u2 * ((s << 8) >> 24) + u3 * (s >> 24); \
    }
QN_DP4_FN(16)
#define QN_DP4(acc, u, s) acc = qn_dp4_16(acc, u, s)
#endif

/* The int8 form of x that the int8 GEMVs read (gemv_gpu.cl; clgemv19-24): one definition for the GEMVs' own stagers
 * (local planes), qn_i4_quant_xg / qn_i8_quant_xg and the norm that leaves it (qn_rms_norm_xq, elementwise.cl; global
 * planes). QN_I_LOAD reads x through x4 (a const global float4 * in scope). */
/* max |x| over a's n float4s (the int8 planes' scale) */
QN_INL float qn_i_amax(const float4 *a, int n) {
    float am = 0.0f;
    _Pragma("unroll") for (int j = 0; j < n; j++) {
        const float4 b = fabs(a[j]);
        am = fmax(am, fmax(fmax(b.x, b.y), fmax(b.z, b.w)));
    }
    return am;
}
#define QN_I_LOAD(NF, a, i) _Pragma("unroll") for (int j = 0; j < (NF); j++) (a)[j] = x4[(i) * (NF) + j];
#define QN_I_LOAD8(a, i) QN_I_LOAD(8, a, i)
#define QN_I_LOAD4(a, i) QN_I_LOAD(4, a, i)
/* chunk i (its 8 float4s in a) into xq (4 planes of nc uint4: h even, h odd, q even, q odd columns), xd (d) and xs
 * (Σ 256·h + q); one definition for both places the planes live: the group's local memory (qn_i4_put) and, where x is
 * quantized once for all groups (QUANTA_OPENCL_GEMVS_XG=1, clgemv23), global memory (qn_i4_put_g): the same bits */
#define QN_I4_PUT_DEF(NAME, AS)                                                                                \
    QN_INL void NAME(AS uint4 *xq, AS float *xd, AS int *xs, long nc, const float4 *a, long i) {               \
        const float am = qn_i_amax(a, 8), inv = am > 0.0f ? 127.0f / am : 0.0f;                                \
        uint he[4] = {0u, 0u, 0u, 0u}, ho[4] = {0u, 0u, 0u, 0u}, qe[4] = {0u, 0u, 0u, 0u}, qo[4] = {0u, 0u, 0u, 0u};\
        int sx = 0;                                                                                            \
        _Pragma("unroll") for (int j = 0; j < 8; j++) { /* columns 4j..4j+3: even ones 2j, 2j + 1 of the even half */\
            const float4 sa = a[j] * inv, ra = rint(sa);                                                       \
            const int4 h = convert_int4(ra), q = convert_int4(clamp(rint((sa - ra) * 256.0f), -127.0f, 127.0f));\
            sx += 256 * (h.x + h.y + h.z + h.w) + (q.x + q.y + q.z + q.w);                                     \
            const int sh = 16 * (j & 1);                                                                       \
            he[j >> 1] |= (uint)((h.x & 255) | (h.z & 255) << 8) << sh;                                        \
            ho[j >> 1] |= (uint)((h.y & 255) | (h.w & 255) << 8) << sh;                                        \
            qe[j >> 1] |= (uint)((q.x & 255) | (q.z & 255) << 8) << sh;                                        \
            qo[j >> 1] |= (uint)((q.y & 255) | (q.w & 255) << 8) << sh;                                        \
        }                                                                                                      \
        xq[i] = (uint4)(he[0], he[1], he[2], he[3]);                                                           \
        xq[nc + i] = (uint4)(ho[0], ho[1], ho[2], ho[3]);                                                      \
        xq[2 * nc + i] = (uint4)(qe[0], qe[1], qe[2], qe[3]);                                                  \
        xq[3 * nc + i] = (uint4)(qo[0], qo[1], qo[2], qo[3]);                                                  \
        xd[i] = am / (127.0f * 256.0f);                                                                        \
        xs[i] = sx;                                                                                            \
    }
QN_I4_PUT_DEF(qn_i4_put, local)
QN_I4_PUT_DEF(qn_i4_put_g, global)
/* piece i of 16 columns (its 4 float4s in a) into xq (2 planes of np uint4: h, q; byte k of word j: column 4j + k)
 * and xd (d); local (qn_i8_put) or global (qn_i8_put_g, QUANTA_OPENCL_GEMVS_XG=1) planes, one definition */
#define QN_I8_PUT_DEF(NAME, AS)                                                                                \
    QN_INL void NAME(AS uint4 *xq, AS float *xd, long np, const float4 *a, long i) {                           \
        const float am = qn_i_amax(a, 4), inv = am > 0.0f ? 127.0f / am : 0.0f;                                \
        uint h[4], q[4];                                                                                       \
        _Pragma("unroll") for (int j = 0; j < 4; j++) {                                                        \
            const float4 sa = a[j] * inv, ra = rint(sa);                                                       \
            const int4 hh = convert_int4(ra), qq = convert_int4(clamp(rint((sa - ra) * 256.0f), -127.0f, 127.0f));\
            h[j] = (uint)(hh.x & 255) | (uint)(hh.y & 255) << 8 | (uint)(hh.z & 255) << 16 | (uint)(hh.w & 255) << 24;\
            q[j] = (uint)(qq.x & 255) | (uint)(qq.y & 255) << 8 | (uint)(qq.z & 255) << 16 | (uint)(qq.w & 255) << 24;\
        }                                                                                                      \
        xq[i] = (uint4)(h[0], h[1], h[2], h[3]);                                                               \
        xq[np + i] = (uint4)(q[0], q[1], q[2], q[3]);                                                          \
        xd[i] = am / (127.0f * 256.0f);                                                                        \
    }
QN_I8_PUT_DEF(qn_i8_put, local)
QN_I8_PUT_DEF(qn_i8_put_g, global)
