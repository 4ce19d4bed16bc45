/* matmul_fp8_wg.h — the FP8 x FP8 GEMM of matmul_fp8_wg.cu with its block-cluster size chosen per call, for
 * bench/cuda/fp8_check.cu to time mmq8's kernel and fp8pp11's clustered one (QUANTA_CUDA_FP8_V2) in one process.
 * The engine's entry points (cuda_kernels.h: qn_cuda_matmul_fp8, qn_cuda_fp8_gemm, _split) take the size from
 * QUANTA_CUDA_FP8_V2. */
#ifndef QUANTA_KERNELS_CUDA_MATMUL_FP8_WG_H
#define QUANTA_KERNELS_CUDA_MATMUL_FP8_WG_H

#include "cuda_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* qn_cuda_fp8_gemm_split with `cluster` blocks per cluster along the weight rows: 1 (mmq8's kernel), 2 or 4
 * (each block of a cluster copies 4 / cluster of the shared token tile, multicast to all; y bit-identical to 1).
 * Anything else: cudaErrorInvalidValue, nothing launched. persist 1 or 2 (with splits 1): the persistent kernel
 * (as many whole clusters as fit, each walking tiles; y bit-identical too) with 1 or 2 wgmma groups in flight;
 * persist 3 (splits 1, cluster 1 or 2; fp813): the TMA form, which reads buf as qn_cuda_fp8_quantize_x_tm wrote it
 * with token_major 1 (y bit-identical again); persist 4: the same with its epilogue through shared memory and a
 * TMA store where y is 2-byte with rows of 16-byte multiples (else as 3); persist 5 / 6 (cluster 2 or 4): 3 / 4 with
 * the cluster along the tokens, multicasting the weights; persist 7 (fp814; cluster 1 or 2 along the weights): the
 * ping-pong form, each consumer warpgroup on its own 128 x 128 tiles in turn (y bit-identical to 3 with tile 2, the
 * TMA store as 4 where y allows it); persist | 256: the TMA and ping-pong forms without fp814's prefetch of each
 * tile's scales into L1 (fp8_check's A/B; y the same); their trace: one record per launched (persistent) block, the four
 * points of its first tile, the timer words 0 for blocks given no tile. trace (NULL: none; not persistent): QN_CUDA_FP8_TRACE words per block
 * of the GEMM's grid (qn_cuda_fp8_grid; splits as given), written by the launch: SM id, then %globaltimer (ns) at the block's
 * entry, when its first stage had landed, after its last wgmma, after its stores; then the same four points in
 * its SM's clock64. */
#define QN_CUDA_FP8_TRACE 9
int qn_cuda_fp8_gemm_cl(const qn_cuda_weight *w, const void *buf, int64_t M, int y_dtype, void *y, int tile,
                        int splits, float *part, int cluster, int persist, unsigned long long *trace, int sms,
                        void *stream);
/* qn_cuda_fp8_quantize_x with the codes' layout chosen per call: token_major 1 for the TMA form (xq[Mp][Kp]), 0 for
 * the others (xq[Kp/16][Mp][16]); the same codes and scales either way. */
int qn_cuda_fp8_quantize_x_tm(int x_dtype, const void *x, int64_t M, int64_t K, int64_t Kp, void *buf, int token_major,
                              void *stream);
/* The grid (blocks in x, y, z) qn_cuda_fp8_gemm_cl launches for these arguments (tile 0: the pick). */
void qn_cuda_fp8_grid(int64_t N, int64_t M, int tile, int splits, int cluster, int sms, int64_t g[3]);

#ifdef __cplusplus
}
#endif

#endif
