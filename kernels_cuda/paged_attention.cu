/*
 * paged_attention.cu — attention over a paged KV cache (engine op paged_attention; reference:
 * engine/ref/ref_paged_attention.c). One warp per (query, q head, sequence): the lanes split the
 * head dimension (lane, lane + 32, ...), reduce each q·k with shuffles, and keep an online
 * softmax over the keys the query sees, each key's row found through the block table.
 */
#include "cuda_common.cuh"
#include "paged_attention.h"

#define PA_LANES 32
#define PA_PER_LANE (QN_CUDA_PAGED_MAXD / PA_LANES)
#define PA_WARPS 4

__global__ void qn_paged_attention_kernel(qn_cuda_paged_args a) {
    const int64_t warp = (int64_t)blockIdx.x * PA_WARPS + threadIdx.x / PA_LANES;
    const int lane = threadIdx.x % PA_LANES;
    const int64_t rows = a.S * a.Hq * a.T;
    if (warp >= rows) return;
    const int64_t t = warp % a.T, h = (warp / a.T) % a.Hq, s = warp / (a.T * a.Hq);
    const int64_t L = a.kv_lens[s], p = L - a.T + t, hk = h / (a.Hq / a.Hkv);
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
    for (int64_t j = kbeg; j < kend; j++) {
        const int64_t row = (hk * a.R + (int64_t)table[j / a.block_size] * a.block_size + j % a.block_size) * a.D;
        float dot = 0.0f;
#pragma unroll
        for (int i = 0; i < PA_PER_LANE; i++) {
            const int64_t d = lane + (int64_t)i * PA_LANES;
            if (d < a.D) dot += qv[i] * qn_ld(a.kdt, a.k, row + d);
        }
#pragma unroll
        for (int off = PA_LANES / 2; off > 0; off /= 2) dot += __shfl_xor_sync(0xffffffffu, dot, off);
        const float mn = fmaxf(m, dot), alpha = __expf(m - mn), w = __expf(dot - mn);
        l = l * alpha + w;
#pragma unroll
        for (int i = 0; i < PA_PER_LANE; i++) {
            const int64_t d = lane + (int64_t)i * PA_LANES;
            acc[i] = acc[i] * alpha + (d < a.D ? w * qn_ld(a.vdt, a.v, row + d) : 0.0f);
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
