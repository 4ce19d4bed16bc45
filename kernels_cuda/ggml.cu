/* ggml.cu — matmul and get_rows on the ggml block formats (QUANTA_GGML_*) read straight from
 * the file's bytes (kernels_cuda/ggml_blocks.cuh decodes them).
 *
 * Decode (M <= 8): the activations are first quantized to int8 in chunks of 32 (one f32
 * scale and the two half sums of the codes per chunk); the GEMV kernel then gives each warp
 * one weight row, each lane one 32-element chunk at a time, and takes the dot product of the
 * codes with dp4a: per chunk and half, d * dx * sum(q * xq) + m * dx * sum(xq).
 * Larger M: the weight is dequantized into the tiled f16 layout of the tensor-core matmul
 * (cuda_kernels.h) in scratch and multiplied there. */
#include <stdlib.h>
#include <string.h>

#include "cp_async.cuh"
#include "ggml_xq.cuh"

#define QN_GGML_MAX_M 8

/* ---------------------------------------------------------------- activations */

/* One warp per 32-element chunk: xq codes, dx = max|x| / 127, sums of the codes per half. */
__global__ void qn_k_ggml_quantize_x(int xd, const void *x, int64_t M, int64_t K, int8_t *xq, float *dx, int *sx) {
    const int64_t nch = K / 32, total = M * nch;
    const int lane = threadIdx.x & 31;
    for (int64_t ch = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) >> 5; ch < total;
         ch += ((int64_t)gridDim.x * blockDim.x) >> 5) {
        const int64_t m = ch / nch, c = ch % nch;
        qn_ggml_quantize_chunk(qn_ld(xd, x, m * K + c * 32 + lane), xq + m * K + c * 32, dx + ch, sx + ch);
    }
}

/* ---------------------------------------------------------------- GEMV */

template <int DT, int MC>
__global__ void __launch_bounds__(128) qn_k_ggml_gemv(const uint8_t *w, size_t row_bytes, int64_t N, int64_t K,
                                                      const int8_t *xq, const float *dx, const int *sx, int64_t M,
                                                      int yd, void *y) {
    const int lane = threadIdx.x & 31;
    const int64_t n = blockIdx.x * 4 + (threadIdx.x >> 5);
    if (n >= N) return;
    const int64_t nch = K / 32;
    const uint8_t *row = w + (size_t)n * row_bytes;
    float acc[MC];
#pragma unroll
    for (int m = 0; m < MC; m++) acc[m] = 0.0f;
    for (int64_t c = lane; c < nch; c += 32) {
        qn_ggml_chunk ch;
        qn_ggml_load_chunk<DT>(row, c, ch);
#pragma unroll
        for (int m = 0; m < MC; m++) {
            if (m < M)
                acc[m] = qn_ggml_chunk_dot<DT>(ch, xq + m * K + c * 32, dx + m * nch + c, sx + m * nch + c, acc[m]);
        }
    }
#pragma unroll
    for (int m = 0; m < MC; m++) {
        float v = acc[m];
        for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
        if (lane == 0 && m < M) qn_st(yd, y, m * N + n, v);
    }
}

/* Staged GEMV (M = 1, rows of a multiple of 16 bytes; QUANTA_CUDA_GEMV=staged selects it until
 * it has been measured on the device): each warp first copies the bytes of up to 128 chunks of
 * its row into shared memory with 16-byte cp.async (coalesced, every load of the span in flight
 * at once), then each lane decodes its chunks from there exactly as qn_k_ggml_gemv does, in the
 * same order, so the results are bit-identical. Why: the direct kernel reads each lane's block
 * with 2-byte loads at a stride of 18 (q4_0) or 34 (q8_0) bytes, one block per lane at a time:
 * 9-17 load instructions touching 5-9 cache lines each per 32 blocks, and few bytes in flight
 * per warp; it reached 1.14 TB/s (q4_0) and 1.7 TB/s (q8_0) of the ~4 TB/s copy bandwidth. */
#define QN_GEMV_STAGE_CHUNKS 128

template <int DT> __host__ __device__ constexpr int qn_gemv_stage_bytes() {
    return QN_GEMV_STAGE_CHUNKS * 32 / qn_ggml_block_elems(DT) * qn_ggml_block_bytes(DT);
}

template <int DT>
__global__ void __launch_bounds__(128) qn_k_ggml_gemv_staged(const uint8_t *w, size_t row_bytes, int64_t N, int64_t K,
                                                             const int8_t *xq, const float *dx, const int *sx, int yd,
                                                             void *y) {
    constexpr int SB = qn_gemv_stage_bytes<DT>(), CPB = qn_ggml_block_elems(DT) / 32; /* chunks per block */
    __shared__ __align__(16) uint8_t stage[4][SB];
    const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
    const int64_t n = blockIdx.x * 4 + wid;
    if (n >= N) return; /* the whole warp: no block-wide barrier below */
    const int64_t nch = K / 32;
    const uint8_t *row = w + (size_t)n * row_bytes;
    uint8_t *sm = stage[wid];
    const uint32_t sm_u32 = qn_smem_u32(sm);
    float acc = 0.0f;
    for (int64_t g0 = 0; g0 < nch; g0 += QN_GEMV_STAGE_CHUNKS) {
        const int64_t left = nch - g0;
        const int gch = left < QN_GEMV_STAGE_CHUNKS ? (int)left : QN_GEMV_STAGE_CHUNKS;
        const int bytes = gch / CPB * qn_ggml_block_bytes(DT); /* a multiple of 16 (row_bytes is) */
        const uint8_t *src = row + (size_t)(g0 / CPB) * qn_ggml_block_bytes(DT);
#pragma unroll
        for (int k = 0; k < (SB / 16 + 31) / 32; k++) {
            const int i = lane + 32 * k;
            if (i * 16 < bytes) qn_cp_async16(sm_u32 + 16 * i, src + 16 * i, true);
        }
        qn_cp_async_commit();
        qn_cp_async_wait<0>();
        __syncwarp();
#pragma unroll
        for (int u = 0; u < QN_GEMV_STAGE_CHUNKS / 32; u++) {
            const int lc = lane + 32 * u;
            if (lc < gch) {
                const int64_t c = g0 + lc;
                qn_ggml_chunk ch;
                qn_ggml_load_chunk<DT>(sm, lc, ch);
                acc = qn_ggml_chunk_dot<DT>(ch, xq + c * 32, dx + c, sx + c, acc);
            }
        }
        __syncwarp(); /* every lane done with the stage before the next span overwrites it */
    }
    for (int o = 16; o > 0; o >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, o);
    if (lane == 0) qn_st(yd, y, n, acc);
}

/* Whether QUANTA_CUDA_GEMV=staged asks for the staged kernel (read once). */
static bool gemv_staged_wanted() {
    static int wanted = -1;
    if (wanted < 0) {
        const char *e = getenv("QUANTA_CUDA_GEMV");
        wanted = e && !strcmp(e, "staged");
    }
    return wanted == 1;
}

template <int DT>
static void gemv_launch(const uint8_t *w, size_t rb, int64_t N, int64_t K, const int8_t *xq, const float *dx,
                        const int *sx, int64_t M, int yd, void *y, cudaStream_t s) {
    const dim3 grid((unsigned)((N + 3) / 4));
    if (M == 1 && rb % 16 == 0 && ((uintptr_t)w & 15u) == 0 && gemv_staged_wanted())
        qn_k_ggml_gemv_staged<DT><<<grid, 128, 0, s>>>(w, rb, N, K, xq, dx, sx, yd, y);
    else if (M == 1) qn_k_ggml_gemv<DT, 1><<<grid, 128, 0, s>>>(w, rb, N, K, xq, dx, sx, M, yd, y);
    else if (M == 2) qn_k_ggml_gemv<DT, 2><<<grid, 128, 0, s>>>(w, rb, N, K, xq, dx, sx, M, yd, y);
    else if (M <= 4) qn_k_ggml_gemv<DT, 4><<<grid, 128, 0, s>>>(w, rb, N, K, xq, dx, sx, M, yd, y);
    else qn_k_ggml_gemv<DT, 8><<<grid, 128, 0, s>>>(w, rb, N, K, xq, dx, sx, M, yd, y);
}

extern "C" size_t qn_cuda_ggml_xq_bytes(int64_t M, int64_t K) {
    return (size_t)M * (size_t)K + 2 * (size_t)M * (size_t)(K / 32) * 4 + 512;
}

extern "C" int qn_cuda_ggml_quantize_x(int x_dtype, const void *x, int64_t M, int64_t K, void *xq_buf,
                                       void *stream) {
    if (M <= 0 || K <= 0) return 0;
    int8_t *xq;
    float *dx;
    int *sx;
    qn_cuda_ggml_xq_split(xq_buf, M, K, &xq, &dx, &sx);
    const int64_t chunks = M * (K / 32);
    qn_k_ggml_quantize_x<<<qn_cu_blocks(chunks * 32, 256, 132 * 16), 256, 0, (cudaStream_t)stream>>>(x_dtype, x, M, K, xq,
                                                                                                   dx, sx);
    return qn_cu_launch_status();
}

extern "C" int qn_cuda_ggml_gemv(int w_dtype, const void *w, int64_t N, int64_t K, const void *xq_buf, int64_t M,
                                 int y_dtype, void *y, void *stream) {
    if (M <= 0 || N <= 0) return 0;
    if (M > QN_GGML_MAX_M || K % qn_ggml_block_elems(w_dtype)) return (int)cudaErrorInvalidValue;
    int8_t *xq;
    float *dx;
    int *sx;
    qn_cuda_ggml_xq_split((void *)xq_buf, M, K, &xq, &dx, &sx);
    const size_t rb = (size_t)(K / qn_ggml_block_elems(w_dtype)) * (size_t)qn_ggml_block_bytes(w_dtype);
    const uint8_t *wb = (const uint8_t *)w;
    cudaStream_t s = (cudaStream_t)stream;
    switch (w_dtype) {
    case QN_DT_GGML_Q4_0: gemv_launch<QN_DT_GGML_Q4_0>(wb, rb, N, K, xq, dx, sx, M, y_dtype, y, s); break;
    case QN_DT_GGML_Q4_1: gemv_launch<QN_DT_GGML_Q4_1>(wb, rb, N, K, xq, dx, sx, M, y_dtype, y, s); break;
    case QN_DT_GGML_Q5_0: gemv_launch<QN_DT_GGML_Q5_0>(wb, rb, N, K, xq, dx, sx, M, y_dtype, y, s); break;
    case QN_DT_GGML_Q5_1: gemv_launch<QN_DT_GGML_Q5_1>(wb, rb, N, K, xq, dx, sx, M, y_dtype, y, s); break;
    case QN_DT_GGML_Q8_0: gemv_launch<QN_DT_GGML_Q8_0>(wb, rb, N, K, xq, dx, sx, M, y_dtype, y, s); break;
    case QN_DT_GGML_Q4_K: gemv_launch<QN_DT_GGML_Q4_K>(wb, rb, N, K, xq, dx, sx, M, y_dtype, y, s); break;
    case QN_DT_GGML_Q5_K: gemv_launch<QN_DT_GGML_Q5_K>(wb, rb, N, K, xq, dx, sx, M, y_dtype, y, s); break;
    case QN_DT_GGML_Q6_K: gemv_launch<QN_DT_GGML_Q6_K>(wb, rb, N, K, xq, dx, sx, M, y_dtype, y, s); break;
    default: return (int)cudaErrorInvalidValue;
    }
    return qn_cu_launch_status();
}

/* ---------------------------------------------------------------- dequantization */

/* One thread per chunk: the chunk's 32 values in the tiled f16 layout (to_tiled) or as rows of
 * out_dtype (get_rows: row `ids[t]` of the table into row t of out). */
template <int DT>
__global__ void qn_k_ggml_to_tiled(const uint8_t *w, size_t rb, int64_t N, int64_t K, int64_t Np, int64_t Kp,
                                   uint8_t *codes, float *row_scale) {
    const int64_t nch = Kp / 32, total = Np * nch;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t n = i / nch, c = i % nch;
        if (c == 0) row_scale[n] = 1.0f;
        qn_ggml_chunk ch;
        const bool live = n < N && c * 32 < K;
        if (live) qn_ggml_load_chunk<DT>(w + (size_t)n * rb, c, ch);
        for (int e = 0; e < 32; e++) {
            int shift;
            const size_t off = qn_cuda_weight_code_offset(QN_CW_F16, Kp, n, c * 32 + e, &shift);
            *(__half *)(codes + off) = __float2half_rn(live ? qn_ggml_chunk_value(ch, e) : 0.0f);
        }
    }
}

template <int DT>
__global__ void qn_k_ggml_get_rows(const uint8_t *w, size_t rb, int64_t V, int64_t K, const int32_t *ids, int64_t T,
                                   int od, void *out, int *err) {
    const int64_t nch = K / 32, total = T * nch;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t t = i / nch, c = i % nch;
        const int32_t id = ids[t];
        if (id < 0 || id >= V) {
            if (c == 0) atomicExch(err, 1);
            continue;
        }
        qn_ggml_chunk ch;
        qn_ggml_load_chunk<DT>(w + (size_t)id * rb, c, ch);
        for (int e = 0; e < 32; e++) qn_st(od, out, t * K + c * 32 + e, qn_ggml_chunk_value(ch, e));
    }
}

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

extern "C" size_t qn_cuda_ggml_tiled_bytes(int64_t N, int64_t K) {
    const int64_t Np = (N + 15) / 16 * 16, Kp = (K + 63) / 64 * 64;
    return ((size_t)Np * (size_t)Kp * 2 + 255) / 256 * 256 + ((size_t)Np * 4 + 255) / 256 * 256 + 256;
}

extern "C" int qn_cuda_ggml_to_tiled(int w_dtype, const void *w, int64_t N, int64_t K, void *buf,
                                     qn_cuda_weight *out, void *stream) {
    if (N <= 0 || K <= 0 || K % qn_ggml_block_elems(w_dtype)) return (int)cudaErrorInvalidValue;
    const int64_t Np = (N + 15) / 16 * 16, Kp = (K + 63) / 64 * 64;
    uint8_t *codes = (uint8_t *)buf;
    float *rs = (float *)(codes + ((size_t)Np * (size_t)Kp * 2 + 255) / 256 * 256);
    const uint32_t *meta = (const uint32_t *)((uint8_t *)rs + ((size_t)Np * 4 + 255) / 256 * 256);
    const size_t rb = (size_t)(K / qn_ggml_block_elems(w_dtype)) * (size_t)qn_ggml_block_bytes(w_dtype);
    const unsigned nb = qn_cu_blocks(Np * (Kp / 32), 256, 132 * 16);
    cudaStream_t s = (cudaStream_t)stream;
    QN_GGML_DISPATCH(w_dtype, (qn_k_ggml_to_tiled<DT><<<nb, 256, 0, s>>>((const uint8_t *)w, rb, N, K, Np, Kp, codes, rs)));
    out->fmt = QN_CW_F16;
    out->N = N, out->K = K, out->Np = Np, out->Kp = Kp;
    out->group = 0;
    out->codes = codes;
    out->row_scale = rs;
    out->meta = meta;
    return qn_cu_launch_status();
}

extern "C" int qn_cuda_ggml_get_rows(int w_dtype, const void *w, int64_t V, int64_t K, const int32_t *ids, int64_t T,
                                     int out_dtype, void *out, int *err_flag, void *stream) {
    if (T <= 0 || K <= 0) return 0;
    if (K % qn_ggml_block_elems(w_dtype)) return (int)cudaErrorInvalidValue;
    const size_t rb = (size_t)(K / qn_ggml_block_elems(w_dtype)) * (size_t)qn_ggml_block_bytes(w_dtype);
    const unsigned nb = qn_cu_blocks(T * (K / 32), 128, 132 * 16);
    cudaStream_t s = (cudaStream_t)stream;
    QN_GGML_DISPATCH(w_dtype, (qn_k_ggml_get_rows<DT><<<nb, 128, 0, s>>>((const uint8_t *)w, rb, V, K, ids, T, out_dtype,
                                                                        out, err_flag)));
    return qn_cu_launch_status();
}
