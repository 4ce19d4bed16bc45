/*
 * paged_attention.h — launch interface (C-callable) of the CUDA paged-attention kernel
 * (kernels_cuda/paged_attention.cu). Semantics are quanta_paged_attention's (include/quanta.h):
 * q [S, Hq, T, D]; pools [1, Hkv, R, D]; block_table i32 [S, MB]; kv_lens i32 [S]; out like q.
 * The kernel checks the lengths and the visible block-table entries on the device (the rules of
 * the reference's qn_paged_check): a bad one is read nowhere and reported through err_flag (code
 * 3: kv_lens, err_flag[1..3] = s, L, T; code 4: a block, err_flag[1..3] = s, column, entry), so a
 * step needs no copy back to the host and can be captured in a CUDA graph.
 */
#ifndef QUANTA_KERNELS_CUDA_PAGED_ATTENTION_H
#define QUANTA_KERNELS_CUDA_PAGED_ATTENTION_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qn_cuda_paged_args {
    int qdt, kdt, vdt, odt;  /* QUANTA_F32, QUANTA_F16 or QUANTA_BF16; kdt = vdt may be QUANTA_Q8 or
                              * QUANTA_FP8_E4M3: codes [Hkv * R][D], then an f32 scale per row */
    const void *q, *k, *v;
    const int32_t *table, *kv_lens;
    void *out;
    int64_t S, Hq, Hkv, T, D, R, block_size, max_blocks;
    float scale;             /* already resolved (never 0) */
    int causal, window;
    int64_t n_blocks;        /* blocks in the pools (R / block_size): visible table entries are below it */
    int *err_flag;           /* int[4]: the backend's error flag (code, then three details) */
    int tiled;               /* the tiled kernel where it applies (else the one warp per query and head) */
    void *stream;            /* cudaStream_t */
} qn_cuda_paged_args;

/* Head dims up to this are handled (8 values per lane of a warp). */
#define QN_CUDA_PAGED_MAXD 256

/* Launches; returns 0 or a cudaError_t value. */
int qn_cuda_paged_attention(const qn_cuda_paged_args *a);

/* write_rows of src [BH, T, D] (f32, f16 or bf16) into a quantized pool dst [BH, Nmax, D] (dst_dtype
 * QUANTA_Q8 or QUANTA_FP8_E4M3) at rows start[0].. (ns = 1) or row t at start[t] (ns = T): each row
 * quantized with its own scale (max|x| / 127 or / 448, formats/q8.c and formats/fp8.c). A start
 * outside the pool sets *err_flag to 2 (the write_rows code the backend reports at synchronize).
 * Returns 0 or a cudaError_t value. */
int qn_cuda_paged_kv_write(int dst_dtype, void *dst, int src_dtype, const void *src, const int32_t *start, int64_t ns,
                           int64_t BH, int64_t T, int64_t Nmax, int64_t D, int *err_flag, void *stream);

#ifdef __cplusplus
}
#endif
#endif
