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
 * the cluster along the tokens, multicasting the weights (fp814's persist 7, the ping-pong form, is gone: fp815);
 * persist | 256: the TMA forms without fp814's prefetch of each tile's scales into L1 (fp8_check's A/B; y the same);
 * persist | 512 (fp817): the TMA-store epilogue's boxes written by stmatrix (QUANTA_CUDA_FP8_STM's; y the same);
 * persist | 2048 (fp818, persist 3 / 4 with cluster 1, or 6 with cluster 2 and a 128x128 tile): both wgmma operands
 * from shared memory, the weights from w->codes_k (cuda_kernels.h's K-major copy; without it, or on the one-warpgroup
 * 64x64 tile: the register form);
 * persist | 4096 (fp819, with 2048's K-major copy; persist 4 with cluster 1, or 6 with cluster 2; tile 0 or 2): the
 * ping-pong form, 128x128 tiles each owned by one consumer warpgroup, y bit-identical (tile other than 0 / 2, or no
 * copy: the call's other flags decide);
 * persist | 1024: their trace records each block's last tile instead of its first (after the entry point); their trace: one record per launched (persistent) block, the four
 * points of its first tile, the timer words 0 for blocks given no tile. trace (NULL: none; not persistent): QN_CUDA_FP8_TRACE words per block
 * of the GEMM's grid (qn_cuda_fp8_grid; splits as given), written by the launch: SM id, then %globaltimer (ns) at the block's
 * entry, when its first stage had landed, after its last wgmma, after its stores; then the same four points in
 * its SM's clock64. */
#define QN_CUDA_FP8_TRACE 9
int qn_cuda_fp8_gemm_cl(const qn_cuda_weight *w, const void *buf, int64_t M, int y_dtype, void *y, int tile,
                        int splits, float *part, int cluster, int persist, unsigned long long *trace, int sms,
                        void *stream);
/* fp815: the 0ts form (persist 4, cluster 1) with stream-K for its last rounds of tiles: sk 1 where the host's model
 * expects it faster, 2 always (tile 128x256, or 128x128 / 128x192 when forced), 3 (fp816) split-K groups instead of
 * contiguous ranges (whole rounds round-robin, the last partial round's tiles each split in K over blocks running
 * side by side), 4 the groups where the host's model (qn_cuda_fp8_skg_taken) expects them faster, 0 as
 * qn_cuda_fp8_gemm_cl. ws:
 * qn_cuda_fp8_sk_bytes(sms) bytes; flags: 2 x sms unsigned, zero before the call, left zero by it. y within the
 * bound of the reference; bit-identical to 0ts on tiles not split. sk 5 / 6 (fp817): 3 / 4 with the shared reduction (every
 * piece of a split tile adds its peers' sums for a share of the tile and stores it); sk | 16: with the stmatrix epilogue;
 * sk | 32: with QUANTA_CUDA_FP8_TW's route (a picked 128x128 tile in clusters of 2 along the tokens, no groups);
 * sk | 64 (fp818): both wgmma operands from shared memory where w->codes_k is set (QUANTA_CUDA_FP8_SS's form; with
 * TW's route too: its 128x128 in clusters of 2 along the tokens, SS); sk | 128 (fp819): the ping-pong form where
 * qn_cuda_fp8_pp_taken says so and w->codes_k is set (QUANTA_CUDA_FP8_PP's route), else as without it; sk | 8192 (fp823):
 * the same route with the ping-pong blocks in pairs along the weights, the tokens multicast (QUANTA_CUDA_FP8_PP=3's). */
size_t qn_cuda_fp8_sk_bytes(int sms);
/* Whether sk 1 takes stream-K for this shape (tile picked, sms SMs): what fp8_check prints beside the times. */
int qn_cuda_fp8_sk_taken(int64_t N, int64_t M, int64_t Kp, int sms);
/* fp816: whether sk 4 takes the split-K groups for this shape (tile picked, sms SMs); fp817: whether sk 6 takes the
 * groups with the shared reduction (sk 5: always; every piece of a split tile reduces and stores a share of it). */
int qn_cuda_fp8_skg_taken(int64_t N, int64_t M, int64_t Kp, int sms);
int qn_cuda_fp8_skr_taken(int64_t N, int64_t M, int64_t Kp, int sms);
/* fp819: whether QUANTA_CUDA_FP8_PP=1 (sk | 128) takes the ping-pong form for this shape (where w->codes_k is set) */
int qn_cuda_fp8_pp_taken(int64_t N, int64_t M, int sms);
/* fp820: w->codes NULL (QUANTA_CUDA_FP8_KM=1's weight: the codes K-major only, at w->codes_k): every route runs the SS
 * forms; forms only the tiled codes serve (the non-TMA forms, clusters along the weights, 64x64 forced) return -1. The
 * 0ts route then takes OE's split epilogue where qn_cuda_fp8_km_oe_taken says so (sk | 512 or persist | 16384: never). */
int qn_cuda_fp8_km_oe_taken(int64_t N, int64_t M, int64_t Kp, int sms);
int qn_cuda_fp8_gemm_sk(const qn_cuda_weight *w, const void *buf, int64_t M, int y_dtype, void *y, int tile, int sk,
                        float *ws, unsigned *flags, unsigned long long *trace, int sms, void *stream);
/* qn_cuda_fp8_quantize_x with the codes' layout chosen per call: token_major 1 for the TMA form (xq[Mp][Kp]), 0 for
 * the others (xq[Kp/16][Mp][16]); the same codes and scales either way. */
int qn_cuda_fp8_quantize_x_tm(int x_dtype, const void *x, int64_t M, int64_t K, int64_t Kp, void *buf, int token_major,
                              void *stream);
/* The same with the quantizer's form chosen per call (fp8_check's A/B): 0 the loop form, 1 fp815's one-read form
 * (where x's rows are 16-byte aligned and at most 96 KB; else the loop form), -1 QUANTA_CUDA_FP8_QUANT_SM's. The same
 * codes and scales either way. */
int qn_cuda_fp8_quantize_x_form(int x_dtype, const void *x, int64_t M, int64_t K, int64_t Kp, void *buf, int token_major,
                                int form, void *stream);
/* The grid (blocks in x, y, z) qn_cuda_fp8_gemm_cl launches for these arguments (tile 0: the pick). */
void qn_cuda_fp8_grid(int64_t N, int64_t M, int tile, int splits, int cluster, int sms, int64_t g[3]);

#ifdef __cplusplus
}
#endif

#endif
