/* rows.cu — ops that move rows: get_rows (dequantizing any table format straight from its
 * interchange layout, with the same f32 arithmetic as formats/), permute, write_rows, and the
 * 16-byte copy kernel used as the bandwidth probe. Indices live in device memory, so bad ones
 * are reported through a device flag that the host reads at synchronize. */
#include "cuda_common.cuh"

/* The interchange sections need not be aligned: read multi-byte values byte by byte. */
__device__ __forceinline__ float qn_ldb_f32(const uint8_t *p) {
    const uint32_t u = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
    return __uint_as_float(u);
}
__device__ __forceinline__ float qn_ldb_f16(const uint8_t *p) {
    return __half2float(__ushort_as_half((unsigned short)(p[0] | (p[1] << 8))));
}

__device__ __forceinline__ float qn_fp8_decode(uint8_t v, int e5m2) {
    const float sgn = (v & 0x80u) ? -1.0f : 1.0f;
    if (e5m2) {
        const int e = (v >> 2) & 0x1F, m = v & 3;
        if (e == 31) return m ? __int_as_float(0x7fc00000) * sgn : sgn * INFINITY;
        return e ? sgn * ldexpf(1.0f + (float)m / 4.0f, e - 15) : sgn * ldexpf((float)m / 4.0f, -14);
    }
    if ((v & 0x7Fu) == 0x7Fu) return __int_as_float(0x7fc00000) * sgn;
    const int e = (v >> 3) & 0xF, m = v & 7;
    return e ? sgn * ldexpf(1.0f + (float)m / 8.0f, e - 7) : sgn * ldexpf((float)m / 8.0f, -6);
}

__device__ float qn_table_value(const qn_quant_layout &t, const uint8_t *b, int64_t r, int64_t c) {
    switch (t.dtype) {
    case QN_DT_F32: case QN_DT_F16: case QN_DT_BF16: return qn_ld(t.dtype, b, r * t.cols + c);
    case QN_DT_Q8: {
        const float s = qn_ldb_f32(b + t.scales_offset + (size_t)r * 4);
        return (float)((const int8_t *)b)[r * t.cols + c] * s;
    }
    case QN_DT_E4M3: case QN_DT_E5M2: {
        const float s = qn_ldb_f32(b + t.scales_offset + (size_t)r * 4);
        return qn_fp8_decode(b[r * t.cols + c], t.dtype == QN_DT_E5M2) * s;
    }
    case QN_DT_Q4: {
        const int64_t ng = t.cols / t.group, j = c / t.group;
        const float s = qn_ldb_f16(b + t.scales_offset + (size_t)(r * ng + j) * 2);
        const float z = (float)((b[t.q4_zeros_offset + (size_t)r * t.q4_zero_row_bytes + j / 2] >> ((j & 1) * 4)) & 0xF);
        const uint8_t q = b[(size_t)r * t.codes_row_bytes + c / 2];
        return ((float)((c & 1) ? q >> 4 : q & 0xF) - z) * s;
    }
    case QN_DT_NF4: {
        const int64_t blk = r * (t.cols / QN_NF4_BLOCK) + c / QN_NF4_BLOCK;
        float a;
        if (!t.double_quant) {
            a = qn_ldb_f32(b + t.scales_offset + (size_t)blk * 4);
        } else {
            const float dqs = qn_ldb_f32(b + t.nf4_dq_scales_offset + (size_t)(blk / QN_NF4_DQ_BLOCK) * 4);
            const float mean = qn_ldb_f32(b + t.nf4_dq_mean_offset);
            a = __fadd_rn(__fmul_rn((float)(int8_t)b[t.scales_offset + blk], dqs), mean);
            a = a > 0.0f ? a : 0.0f;
        }
        const uint8_t q = b[(size_t)r * t.codes_row_bytes + c / 2];
        return __fmul_rn(qn_nf4_book_dev[(c & 1) ? q >> 4 : q & 0xF], a);
    }
    default: return __int_as_float(0x7fc00000);
    }
}

__global__ void qn_k_get_rows(qn_quant_layout t, const uint8_t *base, const int32_t *ids, int64_t T, int od, void *out,
                              int *err) {
    const int64_t total = T * t.cols;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t row = i / t.cols, c = i % t.cols;
        const int32_t id = ids[row];
        if (id < 0 || id >= t.rows) {
            if (c == 0) atomicExch(err, 1);
            continue;
        }
        qn_st(od, out, i, qn_table_value(t, base, id, c));
    }
}

extern "C" int qn_cuda_get_rows(const qn_quant_layout *t, const void *base, const int32_t *ids, int64_t T,
                                int out_dtype, void *out, int *err_flag, void *stream) {
    if (T <= 0 || t->cols <= 0) return 0;
    qn_k_get_rows<<<qn_cu_blocks(T * t->cols, 256, 132 * 16), 256, 0, (cudaStream_t)stream>>>(
        *t, (const uint8_t *)base, ids, T, out_dtype, out, err_flag);
    return qn_cu_launch_status();
}

struct qn_perm_args {
    int64_t od[4];   /* out dims */
    int64_t step[4]; /* x stride for a step along out dim i */
};

template <typename T>
__global__ void qn_k_permute(const T *x, T *out, qn_perm_args a, int64_t total) {
    for (int64_t o = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; o < total; o += (int64_t)gridDim.x * blockDim.x) {
        int64_t rem = o, xi = 0;
        for (int d = 3; d >= 0; d--) {
            const int64_t c = rem % a.od[d];
            rem /= a.od[d];
            xi += c * a.step[d];
        }
        out[o] = x[xi];
    }
}

extern "C" int qn_cuda_permute(const void *x, void *out, const int64_t xdims[4], const int perm4[4], size_t es,
                               void *stream) {
    qn_perm_args a;
    int64_t xs[4];
    xs[3] = 1;
    for (int i = 2; i >= 0; i--) xs[i] = xs[i + 1] * xdims[i + 1];
    int64_t total = 1;
    for (int i = 0; i < 4; i++) {
        a.od[i] = xdims[perm4[i]];
        a.step[i] = xs[perm4[i]];
        total *= a.od[i];
    }
    if (total <= 0) return 0;
    const unsigned nb = qn_cu_blocks(total, 256, 132 * 16);
    cudaStream_t s = (cudaStream_t)stream;
    switch (es) {
    case 1: qn_k_permute<uint8_t><<<nb, 256, 0, s>>>((const uint8_t *)x, (uint8_t *)out, a, total); break;
    case 2: qn_k_permute<uint16_t><<<nb, 256, 0, s>>>((const uint16_t *)x, (uint16_t *)out, a, total); break;
    case 4: qn_k_permute<uint32_t><<<nb, 256, 0, s>>>((const uint32_t *)x, (uint32_t *)out, a, total); break;
    default: return (int)cudaErrorInvalidValue;
    }
    return qn_cu_launch_status();
}

/* One write_rows (dst[B,H,Nmax,D] rows start.. = src[B,H,T,D]) by the threads of grid x. */
__device__ __forceinline__ void qn_write_rows_body(int dd, void *dst, int sd, const void *src, const int32_t *start,
                                                   int64_t ns, int64_t BH, int64_t T, int64_t Nmax, int64_t D,
                                                   int *err) {
    const int64_t s0 = start[0];
    if (ns == 1 && (s0 < 0 || s0 + T > Nmax)) {
        if (blockIdx.x == 0 && threadIdx.x == 0) atomicExch(err, 2);
        return;
    }
    const int64_t total = BH * T * D;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t d = i % D, t = (i / D) % T, bh = i / (D * T);
        const int64_t r = ns == 1 ? s0 + t : start[t]; /* one start per row: a scatter */
        if (r < 0 || r >= Nmax) {
            atomicCAS(err, 0, 2);
            continue;
        }
        const int64_t di = (bh * Nmax + r) * D + d;
        if (dd == sd) {
            if (dd == QN_DT_F32 || dd == QN_DT_I32)
                ((uint32_t *)dst)[di] = ((const uint32_t *)src)[i];
            else if (dd == QN_DT_U8)
                ((uint8_t *)dst)[di] = ((const uint8_t *)src)[i];
            else
                ((uint16_t *)dst)[di] = ((const uint16_t *)src)[i];
        } else {
            qn_st(dd, dst, di, qn_ld(sd, src, i));
        }
    }
}

__global__ void qn_k_write_rows(int dd, void *dst, int sd, const void *src, const int32_t *start, int64_t ns,
                                int64_t BH, int64_t T, int64_t Nmax, int64_t D, int *err) {
    qn_pdl_begin();
    qn_write_rows_body(dd, dst, sd, src, start, ns, BH, T, Nmax, D, err);
}

extern "C" int qn_cuda_write_rows(int dst_dtype, void *dst, int src_dtype, const void *src, const int32_t *start,
                                  int64_t ns, int64_t BH, int64_t T, int64_t Nmax, int64_t D, int *err_flag,
                                  void *stream) {
    if (BH <= 0 || T <= 0 || D <= 0) return 0;
    return qn_launch(qn_k_write_rows, qn_cu_blocks(BH * T * D, 256, 132 * 16), 256, 0, (cudaStream_t)stream, dst_dtype,
                     dst, src_dtype, src, start, ns, BH, T, Nmax, D, err_flag);
}

/* write_rows_pair: grid y 0 is the first write, 1 the second (a layer's k and v appends in one launch). */
__global__ void qn_k_write_rows_pair(qn_cuda_write_desc w0, qn_cuda_write_desc w1, const int32_t *start, int64_t ns,
                                     int64_t T, int *err) {
    qn_pdl_begin();
    const qn_cuda_write_desc &w = blockIdx.y ? w1 : w0;
    qn_write_rows_body(w.dst_dtype, w.dst, w.src_dtype, w.src, start, ns, w.BH, T, w.Nmax, w.D, err);
}

extern "C" int qn_cuda_write_rows_pair(const qn_cuda_write_desc *w0, const qn_cuda_write_desc *w1, const int32_t *start,
                                       int64_t ns, int64_t T, int *err_flag, void *stream) {
    if (T <= 0) return 0;
    const int64_t n0 = w0->BH * T * w0->D, n1 = w1->BH * T * w1->D, n = n0 > n1 ? n0 : n1;
    if (n <= 0) return 0;
    return qn_launch(qn_k_write_rows_pair, dim3(qn_cu_blocks(n, 256, 132 * 8), 2), 256, 0, (cudaStream_t)stream, *w0,
                     *w1, start, ns, T, err_flag);
}

__global__ void qn_k_copy16(uint4 *dst, const uint4 *src, int64_t n) {
    int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    const int64_t stride = (int64_t)gridDim.x * blockDim.x;
    for (; i + 3 * stride < n; i += 4 * stride) { /* four loads in flight per thread */
        const uint4 a = src[i], b = src[i + stride], c = src[i + 2 * stride], d = src[i + 3 * stride];
        dst[i] = a, dst[i + stride] = b, dst[i + 2 * stride] = c, dst[i + 3 * stride] = d;
    }
    for (; i < n; i += stride) dst[i] = src[i];
}

int qn_cuda_pdl_on = 0;

extern "C" void qn_cuda_set_pdl(int on) { qn_cuda_pdl_on = on != 0; }

extern "C" int qn_cuda_copy(void *dst, const void *src, size_t bytes, void *stream) {
    const int64_t n = (int64_t)(bytes / 16);
    if (n <= 0) return 0;
    qn_k_copy16<<<qn_cu_blocks(n, 512, 132 * 8), 512, 0, (cudaStream_t)stream>>>((uint4 *)dst, (const uint4 *)src, n);
    return qn_cu_launch_status();
}
