/*
 * attention.h — the CUDA attention kernels' launch interface (C-callable), shared by the
 * CUDA backend's host code (engine/cuda/) and the kernels (kernels_cuda/attention*.cu).
 * Semantics are quanta_attention's (include/quanta.h): q[B,Hq,Nq,D], k,v[B,Hkv,Nk,D],
 * contiguous, in device memory; out like q.
 */
#ifndef QUANTA_KERNELS_CUDA_ATTENTION_H
#define QUANTA_KERNELS_CUDA_ATTENTION_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qn_cuda_attention_args {
    int dtype;               /* QUANTA_F32, QUANTA_F16 or QUANTA_BF16 (q, k, v, out alike) */
    const void *q, *k, *v;
    const uint8_t *mask;     /* NULL, or [Nq,Nk] (mask_batched = 0) or [B,Nq,Nk] (= 1) */
    int mask_batched;
    const int32_t *kv_lens;  /* NULL or [B] on the device */
    void *out;
    int64_t B, Hq, Hkv, Nq, Nk, D;
    float scale;             /* already resolved (never 0) */
    int causal;
    int window;
    void *scratch;           /* device scratch for split-KV partials (see _scratch_bytes) */
    size_t scratch_bytes;
    void *stream;            /* cudaStream_t */
} qn_cuda_attention_args;

/* Device scratch the launch needs (0 if none); the caller allocates it. */
size_t qn_cuda_attention_scratch_bytes(const qn_cuda_attention_args *a);
/* Whether the kernels handle these arguments (dtype, head dim, ...). */
int qn_cuda_attention_supported(const qn_cuda_attention_args *a);
/* Launches; returns 0 or a cudaError_t value and writes a message into err. */
int qn_cuda_attention(const qn_cuda_attention_args *a, char *err, size_t err_len);

#ifdef __cplusplus
}
#endif
#endif
