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

/* ------------------------------------------------------------------ tiled kernel
 *
 * The kernel above walks a query's keys one at a time, each a chain of dependent loads (table
 * entry, key row, shuffle reduction, value row) through one warp: every layer of a decode step
 * waits for ~L of those chains, whatever the batch size (serve7: the suspect of the ~20 ms paged
 * step on the H200). This one gives a block to (sequence, kv head, query position) and all Hq / Hkv
 * query heads of that kv head (GQA: each key and value row is read once for the group); its warps
 * take tiles of 32 keys in turn, a lane per key for q·k (the group's q rows in shared memory, the
 * key row read with 16-byte loads), a tile-wide online softmax, then the tile's values with the
 * lanes across the head dimension; the warps' partial softmax states are merged at the end. Rows
 * never mix (a block reads only its own sequence), so a sequence's result does not depend on what
 * else is in the step. QUANTA_CUDA_PAGED_TILED=0 keeps the kernel above (side-by-side timings; args->tiled). */

#define PT_TILE 32

/* Four consecutive elements i..i+3 of a pool (i a multiple of 4, rows of D % 4 == 0), scale not applied. */
template <int DT>
static __device__ __forceinline__ void pt_load4(const void *p, int64_t i, float v[4]) {
    if (DT == QN_DT_F32) {
        const float4 x = *(const float4 *)((const float *)p + i);
        v[0] = x.x, v[1] = x.y, v[2] = x.z, v[3] = x.w;
    } else if (DT == QN_DT_F16 || DT == QN_DT_BF16) {
        const uint2 u = *(const uint2 *)((const uint16_t *)p + i);
        const uint32_t w[2] = {u.x, u.y};
#pragma unroll
        for (int k = 0; k < 4; k++) {
            const unsigned short h = (unsigned short)(w[k / 2] >> (16 * (k % 2)));
            v[k] = DT == QN_DT_F16 ? __half2float(__ushort_as_half(h)) : __uint_as_float((uint32_t)h << 16);
        }
    } else {
        const uint32_t u = *(const uint32_t *)((const uint8_t *)p + i);
#pragma unroll
        for (int k = 0; k < 4; k++) {
            const uint8_t c = (uint8_t)(u >> (8 * k));
            if (DT == QN_DT_Q8) v[k] = (float)(int8_t)c;
            else v[k] = __half2float(__half(__nv_cvt_fp8_to_halfraw((__nv_fp8_storage_t)c, __NV_E4M3)));
        }
    }
}

/* G query heads per kv head, W warps, pool dtype DT (keys and values alike). */
template <int G, int W, int DT>
__global__ void __launch_bounds__(W * PA_LANES) qn_paged_attention_tiled_kernel(qn_cuda_paged_args a) {
    __shared__ float qs[G][QN_CUDA_PAGED_MAXD];
    __shared__ float wm[W][G], wl[W][G];
    __shared__ float wacc[W][G][QN_CUDA_PAGED_MAXD];
    const int64_t bid = blockIdx.x, t = bid % a.T, hk = (bid / a.T) % a.Hkv, s = bid / (a.T * a.Hkv);
    const int warp = threadIdx.x / PA_LANES, lane = threadIdx.x % PA_LANES;
    const int64_t D = a.D, L = a.kv_lens[s], p = L - a.T + t;
    if (L < a.T || L > a.max_blocks * a.block_size) { /* the whole block leaves: same s */
        if (threadIdx.x == 0 && t == 0 && hk == 0) pa_report(a.err_flag, 3, s, L, a.T);
        return;
    }
    /* query head hk * G + g at [s, h, t, :] */
    for (int64_t i = threadIdx.x; i < G * D; i += blockDim.x) {
        const int64_t g = i / D, d = i % D;
        qs[g][d] = qn_ld(a.qdt, a.q, ((s * a.Hq + hk * G + g) * a.T + t) * D + d) * a.scale;
    }
    __syncthreads();
    int64_t kbeg = 0, kend = L;
    if (a.causal && kend > p + 1) kend = p + 1;
    if (a.window > 0 && kbeg < p - a.window + 1) kbeg = p - a.window + 1;
    const int32_t *table = a.table + s * a.max_blocks;
    const int64_t pool_rows = a.Hkv * a.R;
    float m[G], l[G], acc[G][PA_PER_LANE];
#pragma unroll
    for (int g = 0; g < G; g++) {
        m[g] = -INFINITY, l[g] = 0.0f;
#pragma unroll
        for (int i = 0; i < PA_PER_LANE; i++) acc[g][i] = 0.0f;
    }
    for (int64_t j0 = kbeg + (int64_t)warp * PT_TILE; j0 < kend; j0 += (int64_t)W * PT_TILE) {
        const int64_t j = j0 + lane;
        int ok = j < kend;
        int64_t r = 0;
        if (ok) {
            const int64_t blk = table[j / a.block_size];
            if (blk < 0 || blk >= a.n_blocks) { /* read nowhere, reported */
                pa_report(a.err_flag, 4, s, j / a.block_size, blk);
                ok = 0;
            } else {
                r = hk * a.R + blk * a.block_size + j % a.block_size;
            }
        }
        float sc[G];
#pragma unroll
        for (int g = 0; g < G; g++) sc[g] = 0.0f;
        if (ok) { /* q·k of this lane's key for every head of the group */
            const int64_t row = r * D;
#pragma unroll 8
            for (int64_t d = 0; d < D; d += 4) {
                float kv[4];
                pt_load4<DT>(a.k, row + d, kv);
#pragma unroll
                for (int g = 0; g < G; g++)
                    sc[g] += qs[g][d] * kv[0] + qs[g][d + 1] * kv[1] + qs[g][d + 2] * kv[2] + qs[g][d + 3] * kv[3];
            }
            const float ks = pa_scale(DT, a.k, pool_rows, D, r);
#pragma unroll
            for (int g = 0; g < G; g++) sc[g] *= ks;
        }
        const float vs = ok ? pa_scale(DT, a.v, pool_rows, D, r) : 0.0f;
        float pw[G];
#pragma unroll
        for (int g = 0; g < G; g++) {
            float tm = ok ? sc[g] : -INFINITY;
#pragma unroll
            for (int off = PA_LANES / 2; off > 0; off /= 2) tm = fmaxf(tm, __shfl_xor_sync(0xffffffffu, tm, off));
            const float mn = fmaxf(m[g], tm);
            const float alpha = mn == -INFINITY ? 1.0f : __expf(m[g] - mn); /* m = -inf: exp(-inf) = 0 */
            const float pl = ok ? __expf(sc[g] - mn) : 0.0f;
            float ts = pl;
#pragma unroll
            for (int off = PA_LANES / 2; off > 0; off /= 2) ts += __shfl_xor_sync(0xffffffffu, ts, off);
            l[g] = l[g] * alpha + ts;
#pragma unroll
            for (int i = 0; i < PA_PER_LANE; i++) acc[g][i] *= alpha;
            m[g] = mn;
            pw[g] = pl * vs;
        }
        /* the tile's values: lanes across the head dimension */
        const unsigned okmask = __ballot_sync(0xffffffffu, ok);
        const int nk = kend - j0 < PT_TILE ? (int)(kend - j0) : PT_TILE;
#pragma unroll 4
        for (int kk = 0; kk < nk; kk++) {
            const int64_t rk = __shfl_sync(0xffffffffu, r, kk);
            float wk[G];
#pragma unroll
            for (int g = 0; g < G; g++) wk[g] = __shfl_sync(0xffffffffu, pw[g], kk);
            if (!((okmask >> kk) & 1u)) continue; /* uniform: the same kk in every lane */
            const int64_t vrow = rk * D;
#pragma unroll
            for (int i = 0; i < PA_PER_LANE; i++) {
                const int64_t d = lane + (int64_t)i * PA_LANES;
                if (d < D) {
                    const float vv = pa_code(DT, a.v, vrow + d);
#pragma unroll
                    for (int g = 0; g < G; g++) acc[g][i] += wk[g] * vv;
                }
            }
        }
    }
    /* merge the warps' states: out = sum_w e^(m_w - M) acc_w / sum_w e^(m_w - M) l_w */
#pragma unroll
    for (int g = 0; g < G; g++) {
        if (lane == 0) wm[warp][g] = m[g], wl[warp][g] = l[g];
#pragma unroll
        for (int i = 0; i < PA_PER_LANE; i++) {
            const int64_t d = lane + (int64_t)i * PA_LANES;
            if (d < D) wacc[warp][g][d] = acc[g][i];
        }
    }
    __syncthreads();
    for (int64_t i = threadIdx.x; i < G * D; i += blockDim.x) {
        const int64_t g = i / D, d = i % D;
        float M = -INFINITY;
#pragma unroll
        for (int w = 0; w < W; w++) M = fmaxf(M, wm[w][g]);
        float num = 0.0f, den = 0.0f;
#pragma unroll
        for (int w = 0; w < W; w++) {
            if (wm[w][g] == -INFINITY) continue;
            const float e = __expf(wm[w][g] - M);
            num += e * wacc[w][g][d];
            den += e * wl[w][g];
        }
        qn_st(a.odt, a.out, ((s * a.Hq + hk * G + g) * a.T + t) * D + d, den > 0.0f ? num / den : 0.0f);
    }
}

template <int G, int W>
static int pt_launch(const qn_cuda_paged_args *a, unsigned blocks) {
    cudaStream_t st = (cudaStream_t)a->stream;
    switch (a->kdt) {
    case QN_DT_F32: qn_paged_attention_tiled_kernel<G, W, QN_DT_F32><<<blocks, W * PA_LANES, 0, st>>>(*a); break;
    case QN_DT_F16: qn_paged_attention_tiled_kernel<G, W, QN_DT_F16><<<blocks, W * PA_LANES, 0, st>>>(*a); break;
    case QN_DT_BF16: qn_paged_attention_tiled_kernel<G, W, QN_DT_BF16><<<blocks, W * PA_LANES, 0, st>>>(*a); break;
    case QN_DT_Q8: qn_paged_attention_tiled_kernel<G, W, QN_DT_Q8><<<blocks, W * PA_LANES, 0, st>>>(*a); break;
    default: qn_paged_attention_tiled_kernel<G, W, QN_DT_E4M3><<<blocks, W * PA_LANES, 0, st>>>(*a); break;
    }
    return qn_cu_launch_status();
}

extern "C" int qn_cuda_paged_attention(const qn_cuda_paged_args *a) {
    const int64_t rows = a->S * a->Hq * a->T;
    if (rows == 0) return 0;
    const int64_t G = a->Hkv > 0 ? a->Hq / a->Hkv : 0;
    const bool dt_ok = a->kdt == a->vdt && (a->kdt == QN_DT_F32 || a->kdt == QN_DT_F16 || a->kdt == QN_DT_BF16 ||
                                            a->kdt == QN_DT_Q8 || a->kdt == QN_DT_E4M3);
    if (a->tiled && dt_ok && a->D % 4 == 0 && a->D <= QN_CUDA_PAGED_MAXD && G * a->Hkv == a->Hq &&
        (G == 1 || G == 2 || G == 4 || G == 8) && a->S * a->Hkv * a->T <= 0x7fffffff) {
        const unsigned blocks = (unsigned)(a->S * a->Hkv * a->T);
        switch (G) { /* W * G <= 32 keeps the warps' merge area at 32 KiB */
        case 1: return pt_launch<1, 8>(a, blocks);
        case 2: return pt_launch<2, 8>(a, blocks);
        case 4: return pt_launch<4, 8>(a, blocks);
        default: return pt_launch<8, 4>(a, blocks);
        }
    }
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
