/*
 * paged_attention.cu — attention over a paged KV cache (engine op paged_attention; reference:
 * engine/ref/ref_paged_attention.c). One warp per (query, q head, sequence): the lanes split the
 * head dimension (lane, lane + 32, ...), reduce each q·k with shuffles, and keep an online
 * softmax over the keys the query sees, each key's row found through the block table.
 *
 * Quantized pools (q8, fp8_e4m3): codes [Hkv * R][D], then one f32 scale per row (head and
 * position) at byte Hkv * R * D + row * 4; a key's dot product is over decoded codes, scaled
 * once, a value's weight carries its scale. qn_paged_kv_write quantizes rows into such a pool.
 */
#include <cuda_fp8.h>

#include "cuda_common.cuh"
#include "paged_attention.h"

#define PA_LANES 32
#define PA_PER_LANE (QN_CUDA_PAGED_MAXD / PA_LANES)
#define PA_WARPS 4

static __device__ __forceinline__ bool pa_quantized(int dt) { return dt == QN_DT_Q8 || dt == QN_DT_E4M3; }

/* Element i of a pool without its row scale (q8 / fp8), or the float element. */
static __device__ __forceinline__ float pa_code(int dt, const void *p, int64_t i) {
    if (dt == QN_DT_Q8) return (float)((const int8_t *)p)[i];
    if (dt == QN_DT_E4M3) {
        const __half_raw h = __nv_cvt_fp8_to_halfraw(((const __nv_fp8_storage_t *)p)[i], __NV_E4M3);
        return __half2float(__half(h));
    }
    return qn_ld(dt, p, i);
}

/* Scale of row r of a pool of `rows` rows of D (1 for float pools); byte loads: not aligned. */
static __device__ __forceinline__ float pa_scale(int dt, const void *p, int64_t rows, int64_t D, int64_t r) {
    if (!pa_quantized(dt)) return 1.0f;
    const uint8_t *b = (const uint8_t *)p + rows * D + r * 4;
    return __uint_as_float((uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24));
}

/* The first bad value claims err[0] (-1 while its details are written), then sets its code. */
static __device__ void pa_report(int *err, int code, int64_t x, int64_t y, int64_t z) {
    if (atomicCAS(err, 0, -1) != 0) return;
    err[1] = (int)x, err[2] = (int)y, err[3] = (int)z;
    __threadfence();
    atomicExch(err, code);
}

__global__ void qn_paged_attention_kernel(qn_cuda_paged_args a) {
    const int64_t warp = (int64_t)blockIdx.x * PA_WARPS + threadIdx.x / PA_LANES;
    const int lane = threadIdx.x % PA_LANES;
    const int64_t rows = a.S * a.Hq * a.T;
    if (warp >= rows) return;
    const int64_t t = warp % a.T, h = (warp / a.T) % a.Hq, s = warp / (a.T * a.Hq);
    const int64_t L = a.kv_lens[s], p = L - a.T + t, hk = h / (a.Hq / a.Hkv);
    if (L < a.T || L > a.max_blocks * a.block_size) { /* the whole warp leaves: same s */
        if (lane == 0 && t == 0 && h == 0) pa_report(a.err_flag, 3, s, L, a.T);
        return;
    }
    int64_t kbeg = 0, kend = L;
    if (a.causal && kend > p + 1) kend = p + 1;
    if (a.window > 0 && kbeg < p - a.window + 1) kbeg = p - a.window + 1;
    const int32_t *table = a.table + s * a.max_blocks;
    const int64_t qrow = warp * a.D;
    float qv[PA_PER_LANE], acc[PA_PER_LANE];
#pragma unroll
    for (int i = 0; i < PA_PER_LANE; i++) {
        const int64_t d = lane + (int64_t)i * PA_LANES;
        qv[i] = d < a.D ? qn_ld(a.qdt, a.q, qrow + d) * a.scale : 0.0f;
        acc[i] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    const int64_t pool_rows = a.Hkv * a.R;
    for (int64_t j = kbeg; j < kend; j++) {
        const int64_t blk = table[j / a.block_size];
        if (blk < 0 || blk >= a.n_blocks) { /* every lane read the same entry: the warp leaves together */
            if (lane == 0) pa_report(a.err_flag, 4, s, j / a.block_size, blk);
            return;
        }
        const int64_t r = hk * a.R + blk * a.block_size + j % a.block_size, row = r * a.D;
        float dot = 0.0f;
#pragma unroll
        for (int i = 0; i < PA_PER_LANE; i++) {
            const int64_t d = lane + (int64_t)i * PA_LANES;
            if (d < a.D) dot += qv[i] * pa_code(a.kdt, a.k, row + d);
        }
#pragma unroll
        for (int off = PA_LANES / 2; off > 0; off /= 2) dot += __shfl_xor_sync(0xffffffffu, dot, off);
        dot *= pa_scale(a.kdt, a.k, pool_rows, a.D, r);
        const float mn = fmaxf(m, dot), alpha = __expf(m - mn), w = __expf(dot - mn);
        const float wv = w * pa_scale(a.vdt, a.v, pool_rows, a.D, r);
        l = l * alpha + w;
#pragma unroll
        for (int i = 0; i < PA_PER_LANE; i++) {
            const int64_t d = lane + (int64_t)i * PA_LANES;
            acc[i] = acc[i] * alpha + (d < a.D ? wv * pa_code(a.vdt, a.v, row + d) : 0.0f);
        }
        m = mn;
    }
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
#pragma unroll
    for (int i = 0; i < PA_PER_LANE; i++) {
        const int64_t d = lane + (int64_t)i * PA_LANES;
        if (d < a.D) qn_st(a.odt, a.out, qrow + d, acc[i] * inv);
    }
}

extern "C" int qn_cuda_paged_attention(const qn_cuda_paged_args *a) {
    const int64_t rows = a->S * a->Hq * a->T;
    if (rows == 0) return 0;
    const unsigned blocks = (unsigned)((rows + PA_WARPS - 1) / PA_WARPS);
    qn_paged_attention_kernel<<<blocks, PA_WARPS * PA_LANES, 0, (cudaStream_t)a->stream>>>(*a);
    return qn_cu_launch_status();
}

/* One warp per written row: the lanes stride over D, reduce max|x| with shuffles, lane 0 stores
 * the row's scale, every lane its codes (q8: rint, clamped to +-127; e4m3: round to nearest even,
 * saturating, like formats/fp8.c). */
__global__ void qn_paged_kv_write_kernel(int ddt, uint8_t *dst, int sdt, const void *src, const int32_t *start,
                                         int64_t ns, int64_t BH, int64_t T, int64_t Nmax, int64_t D, int *err) {
    const int64_t s0 = start[0];
    if (ns == 1 && (s0 < 0 || s0 + T > Nmax)) {
        if (blockIdx.x == 0 && threadIdx.x == 0) atomicExch(err, 2);
        return;
    }
    const int64_t i = (int64_t)blockIdx.x * PA_WARPS + threadIdx.x / PA_LANES;
    const int lane = threadIdx.x % PA_LANES;
    if (i >= BH * T) return;
    const int64_t r = ns == 1 ? s0 + i % T : start[i % T]; /* one start per row: a scatter */
    if (r < 0 || r >= Nmax) {
        if (lane == 0) atomicCAS(err, 0, 2);
        return;
    }
    const int64_t drow = (i / T) * Nmax + r;
    float amax = 0.0f;
    for (int64_t d = lane; d < D; d += PA_LANES) amax = fmaxf(amax, fabsf(qn_ld(sdt, src, i * D + d)));
#pragma unroll
    for (int off = PA_LANES / 2; off > 0; off /= 2) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, off));
    const float scale = __fdiv_rn(amax, ddt == QN_DT_Q8 ? 127.0f : QN_FP8_E4M3_MAX);
    if (lane == 0) {
        const uint32_t u = __float_as_uint(scale);
        uint8_t *sp = dst + BH * Nmax * D + drow * 4;
        for (int k = 0; k < 4; k++) sp[k] = (uint8_t)(u >> (8 * k));
    }
    uint8_t *q = dst + drow * D;
    for (int64_t d = lane; d < D; d += PA_LANES) {
        const float v = scale > 0.0f ? __fdiv_rn(qn_ld(sdt, src, i * D + d), scale) : 0.0f;
        q[d] = ddt == QN_DT_Q8 ? (uint8_t)(int8_t)fminf(fmaxf(rintf(v), -127.0f), 127.0f)
                               : (uint8_t)__nv_cvt_float_to_fp8(v, __NV_SATFINITE, __NV_E4M3);
    }
}

extern "C" int qn_cuda_paged_kv_write(int dst_dtype, void *dst, int src_dtype, const void *src, const int32_t *start,
                                      int64_t ns, int64_t BH, int64_t T, int64_t Nmax, int64_t D, int *err_flag,
                                      void *stream) {
    const int64_t rows = BH * T;
    if (rows <= 0 || D <= 0) return 0;
    const unsigned blocks = (unsigned)((rows + PA_WARPS - 1) / PA_WARPS);
    qn_paged_kv_write_kernel<<<blocks, PA_WARPS * PA_LANES, 0, (cudaStream_t)stream>>>(
        dst_dtype, (uint8_t *)dst, src_dtype, src, start, ns, BH, T, Nmax, D, err_flag);
    return qn_cu_launch_status();
}
