/* ggml_mmq.cuh — what the two tensor-core GEMMs on ggml-block weights share: ggml_mmq.cu (the entry
 * qn_cuda_ggml_mmq, the activation prep, and the kernel that decodes each block tile into an f16 stage in
 * shared memory) and ggml_mmq_frag.cu (the kernel that decodes the staged raw bytes straight into mma
 * fragments in registers). Both take the same f16 activations and give the same f16 weight values. */
#ifndef QUANTA_KERNELS_CUDA_GGML_MMQ_CUH
#define QUANTA_KERNELS_CUDA_GGML_MMQ_CUH

#include <stdlib.h>
#include <string.h>

#include "cp_async.cuh"
#include "ggml_blocks.cuh"
#include "mma_f16.cuh"

#define QN_GMMQ_BK 64                   /* K per pipeline step: two chunks of 32 per weight row */
#define QN_GMMQ_PITCH (QN_GMMQ_BK + 8) /* halves per shared activation row (16 bytes of padding) */

struct qn_gmmq_args {
    const uint8_t *w;
    size_t rb; /* bytes per weight row */
    int64_t N, K, M, Kp;
    const __half *xh;     /* [M][Kp] f16, scaled rows, zero past K */
    const float *xscale;  /* [M]: the inverse of each row's power of two */
    int yd;
    void *y;
};

/* 4-byte asynchronous copy of n (0..4) bytes, the rest of the word zero-filled. */
__device__ __forceinline__ void qn_gmmq_cp4(uint32_t dst, const void *src, int n) {
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(dst), "l"(src), "r"(n) : "memory");
}

/* A row's raw bytes per 64-wide step: two 32-element blocks, or the 256-element superblock that
 * holds the step (staged again for each of its four steps: simpler than keeping it, and L1/L2 serve
 * the repeats). Staged as whole 4-byte words from the word holding the span's first byte: blocks are
 * only 2-byte aligned in most formats, and the decoder reads from that byte on. */
template <int DT> struct qn_gmmq_raw {
    static constexpr int bb = qn_ggml_block_bytes(DT);
    static constexpr bool super = qn_ggml_block_elems(DT) == 256;
    static constexpr int span = super ? bb : 2 * bb;
    static constexpr int words = (span + 3) / 4 + 1; /* a span starting 2 bytes into a word */
    /* The byte offset in W of row n's span at step kt. */
    static __device__ __forceinline__ size_t at(size_t rb, int64_t n, int64_t kt) {
        return (size_t)n * rb + (size_t)(super ? (kt >> 2) : 2 * kt) * bb;
    }
};

/* A warp's (16 MI rows) x (8 NT tokens) of sums to y, times each token's x scale: row n = n_w + 16 i + g + 8 hh,
 * token m = m_w + 8 j + 2 t + c holds acc[i][j][2 hh + c] (the m16n8 accumulator layout). */
template <int MI, int NT>
__device__ __forceinline__ void qn_gmmq_store(const qn_gmmq_args &p, const float (&acc)[MI][NT][4], int64_t n_w,
                                              int64_t m_w, int g, int t) {
#pragma unroll
    for (int i = 0; i < MI; i++) {
#pragma unroll
        for (int hh = 0; hh < 2; hh++) {
            const int64_t n = n_w + i * 16 + g + 8 * hh;
            if (n >= p.N) continue;
#pragma unroll
            for (int j = 0; j < NT; j++) {
#pragma unroll
                for (int c = 0; c < 2; c++) {
                    const int64_t m = m_w + j * 8 + 2 * t + c;
                    if (m < p.M) qn_st(p.yd, p.y, m * p.N + n, acc[i][j][2 * hh + c] * p.xscale[m]);
                }
            }
        }
    }
}

/* Launches kernel k over (N / bn) x (M / bm) blocks of `threads` with `smem` bytes of dynamic shared memory,
 * raising the kernel's limit to it at the first launch (`attr_set`: one flag per kernel; a race only repeats an
 * idempotent call). */
template <typename Kernel>
static int qn_gmmq_launch_grid(Kernel k, bool &attr_set, int bn, int bm, int threads, int smem,
                               const qn_gmmq_args &a, cudaStream_t s) {
    if (!attr_set) {
        cudaError_t e = cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
        if (e != cudaSuccess) return (int)e;
        attr_set = true;
    }
    const int64_t gx = (a.N + bn - 1) / bn, gy = (a.M + bm - 1) / bm;
    if (gx > 0x7fffffff || gy > 65535) return (int)cudaErrorInvalidValue;
    k<<<dim3((unsigned)gx, (unsigned)gy), threads, smem, s>>>(a);
    return qn_cu_launch_status();
}

/* QUANTA_CUDA_GGML_MMQ_TILE forces a tile (so that a device check can run every conformance case through
 * each): 128x128, 128x64 or 64x32 for either kernel; for ggml_mmq_frag.cu also 128x128w4 (4 warps of
 * 64x64), 256x128 (8 warps of 64x64) and 128x128b2 (the 128x128 tile held to 128 registers, two blocks
 * per SM). Anything else, or unset, picks by grid size. Read at the first call unless a benchmark has set
 * qn_cuda_ggml_mmq_tile (cuda_kernels.h) to the tile's number here. */
static int qn_gmmq_forced_tile() {
    if (qn_cuda_ggml_mmq_tile < 0) {
        static const char *const names[] = {"128x128", "128x64", "64x32", "128x128w4", "256x128", "128x128b2"};
        const char *e = getenv("QUANTA_CUDA_GGML_MMQ_TILE");
        int tile = 0;
        for (int i = 0; e && i < (int)(sizeof names / sizeof names[0]); i++)
            if (!strcmp(e, names[i])) tile = i + 1;
        qn_cuda_ggml_mmq_tile = tile;
    }
    return qn_cuda_ggml_mmq_tile;
}

/* y = x . W^T by the fragment-decoding kernel (ggml_mmq_frag.cu) on activations prepared by
 * qn_cuda_ggml_mmq; its tile picked by grid size or forced. */
int qn_gmmq_frag_run(int w_dtype, const qn_gmmq_args &a, int sms, cudaStream_t s);

#endif
