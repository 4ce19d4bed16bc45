/* elementwise.cu — element-wise and row-wise ops: silu, gelu, scale, convert, add, mul,
 * rms_norm, softmax, rope. Math is f32 (rope's angle in f64, like the oracle); each op is one
 * pass over memory. In-place use (y == x) is safe: every element is read before it is written
 * by the same thread, and row ops read a whole row before writing it. */
#include <math.h>

#include "cuda_common.cuh"

__global__ void qn_k_unary(int op, int xd, const void *x, int yd, void *y, int64_t n, float s) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const float v = qn_ld(xd, x, i);
        float r;
        switch (op) {
        case QN_UNARY_SILU: r = v / (1.0f + expf(-v)); break;
        /* 1 + erf(u) = erfc(-u) and 1 + tanh(u) = 2 / (1 + e^(-2u)): no cancellation for v << 0, where the
         * sum form loses every digit (a conformance case at v ~ -6 had relative error 1) */
        case QN_UNARY_GELU: r = 0.5f * v * erfcf(-v * QN_F32(QN_SQRT1_2)); break;
        case QN_UNARY_GELU_TANH:
            r = v / (1.0f + expf(-2.0f * QN_F32(QN_GELU_SQRT_2_OVER_PI) * (v + QN_F32(QN_GELU_CUBIC) * v * v * v)));
            break;
        case QN_UNARY_SCALE: r = v * s; break;
        default: r = v; break;
        }
        qn_st(yd, y, i, r);
    }
}

extern "C" int qn_cuda_unary(int op, int x_dtype, const void *x, int y_dtype, void *y, int64_t n, float s,
                             void *stream) {
    if (n <= 0) return 0;
    qn_k_unary<<<qn_cu_blocks(n, 256, 132 * 32), 256, 0, (cudaStream_t)stream>>>(op, x_dtype, x, y_dtype, y, n, s);
    return qn_cu_launch_status();
}

__global__ void qn_k_binary(int is_mul, int ad, const void *a, int bd, const void *b, int64_t nb, int yd, void *y,
                            int64_t n, int64_t D) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const float u = qn_ld(ad, a, i), v = qn_ld(bd, b, nb == n ? i : i % D);
        qn_st(yd, y, i, is_mul ? u * v : u + v);
    }
}

extern "C" int qn_cuda_binary(int is_mul, int a_dtype, const void *a, int b_dtype, const void *b, int64_t nb,
                              int y_dtype, void *y, int64_t n, int64_t D, void *stream) {
    if (n <= 0) return 0;
    qn_k_binary<<<qn_cu_blocks(n, 256, 132 * 32), 256, 0, (cudaStream_t)stream>>>(is_mul, a_dtype, a, b_dtype, b, nb,
                                                                                   y_dtype, y, n, D);
    return qn_cu_launch_status();
}

/* One block per row. */
/* Row i of x, plus row i of r when r is given (add_rms_norm: the sum in f32, never rounded to
 * x's dtype). */
__device__ __forceinline__ float qn_norm_in(int xd, const void *x, int rd, const void *r, int64_t i) {
    const float v = qn_ld(xd, x, i);
    return r ? v + qn_ld(rd, r, i) : v;
}

__global__ void qn_k_rms_norm(int xd, const void *x, int rd, const void *r, int wd, const void *w, int yd, void *y,
                              int64_t D, float eps, int plus_one) {
    __shared__ float sh[32];
    const int64_t base = (int64_t)blockIdx.x * D;
    float ss = 0.0f;
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
        const float v = qn_norm_in(xd, x, rd, r, base + d);
        ss += v * v;
    }
    ss = qn_block_sum(ss, sh);
    const float inv = (float)(1.0 / sqrt((double)ss / (double)D + (double)eps));
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
        float g = 1.0f;
        if (w) g = plus_one ? 1.0f + qn_ld(wd, w, d) : qn_ld(wd, w, d);
        qn_st(yd, y, base + d, qn_norm_in(xd, x, rd, r, base + d) * inv * g);
    }
}

extern "C" int qn_cuda_rms_norm(int x_dtype, const void *x, int r_dtype, const void *r, int w_dtype, const void *w,
                                int y_dtype, void *y, int64_t rows, int64_t D, float eps, int plus_one,
                                void *stream) {
    if (rows <= 0 || D <= 0) return 0;
    if (rows > 0x7fffffff) return (int)cudaErrorInvalidValue;
    const int threads = D >= 1024 ? 1024 : D >= 256 ? 256 : 64;
    qn_k_rms_norm<<<(unsigned)rows, threads, 0, (cudaStream_t)stream>>>(x_dtype, x, r_dtype, r, w_dtype, w, y_dtype, y,
                                                                        D, eps, plus_one);
    return qn_cu_launch_status();
}

__global__ void qn_k_softmax(int xd, const void *x, int yd, void *y, int64_t D) {
    __shared__ float sh[32];
    const int64_t base = (int64_t)blockIdx.x * D;
    float mx = -INFINITY;
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x) mx = fmaxf(mx, qn_ld(xd, x, base + d));
    mx = qn_block_max(mx, sh);
    float sum = 0.0f;
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x) sum += expf(qn_ld(xd, x, base + d) - mx);
    sum = qn_block_sum(sum, sh);
    const float inv = 1.0f / sum;
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x) qn_st(yd, y, base + d, expf(qn_ld(xd, x, base + d) - mx) * inv);
}

extern "C" int qn_cuda_softmax(int x_dtype, const void *x, int y_dtype, void *y, int64_t rows, int64_t D,
                               void *stream) {
    if (rows <= 0 || D <= 0) return 0;
    if (rows > 0x7fffffff) return (int)cudaErrorInvalidValue;
    const int threads = D >= 1024 ? 1024 : D >= 256 ? 256 : 64;
    qn_k_softmax<<<(unsigned)rows, threads, 0, (cudaStream_t)stream>>>(x_dtype, x, y_dtype, y, D);
    return qn_cu_launch_status();
}

/* One thread per rotated pair; the dims past rot are copied by the same launch. The angle is
 * formed in f64 like the oracle: positions of 10^5 would lose radians in f32. */
__global__ void qn_k_rope(int xd, const void *x, int yd, void *y, const int32_t *pos, int64_t rows, int64_t N,
                          int64_t D, int64_t rot, int mode, double base, double fs) {
    const int64_t half = rot / 2, per_row = half + (D - rot);
    const int64_t total = rows * per_row;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t r = i / per_row, j = i % per_row, o = r * D;
        if (j >= half) { /* pass-through tail */
            const int64_t d = rot + (j - half);
            qn_st(yd, y, o + d, qn_ld(xd, x, o + d));
            continue;
        }
        const double p = (double)pos[r % N] * fs;
        const double theta = p * pow(base, -2.0 * (double)j / (double)rot);
        double sn, cs;
        sincos(theta, &sn, &cs);
        const int64_t a = mode == 0 ? 2 * j : j, b = mode == 0 ? 2 * j + 1 : j + half;
        const double x0 = qn_ld(xd, x, o + a), x1 = qn_ld(xd, x, o + b);
        qn_st(yd, y, o + a, (float)(x0 * cs - x1 * sn));
        qn_st(yd, y, o + b, (float)(x0 * sn + x1 * cs));
    }
}

extern "C" int qn_cuda_rope(int x_dtype, const void *x, int y_dtype, void *y, const int32_t *pos, int64_t rows,
                            int64_t N, int64_t D, int64_t rot, int mode, float theta_base, float freq_scale,
                            void *stream) {
    if (rows <= 0 || D <= 0 || N <= 0) return 0;
    const double fs = freq_scale != 0.0f ? (double)freq_scale : 1.0;
    const int64_t work = rows * (rot / 2 + (D - rot));
    qn_k_rope<<<qn_cu_blocks(work, 256, 132 * 32), 256, 0, (cudaStream_t)stream>>>(
        x_dtype, x, y_dtype, y, pos, rows, N, D, rot, mode, (double)theta_base, fs);
    return qn_cu_launch_status();
}
