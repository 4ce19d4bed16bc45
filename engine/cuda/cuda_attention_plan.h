/*
 * cuda_attention_plan.h — the launch planning of the CUDA attention kernels: which kernel runs
 * a call (kernels_cuda/attention.h's families) and into how many key splits its blocks divide,
 * from the device's resident blocks. C-callable; the benchmark driver
 * (bench/cuda/attention_check.cu) compiles it in to force kernels and merge modes.
 */
#ifndef QUANTA_ENGINE_CUDA_ATTENTION_PLAN_H
#define QUANTA_ENGINE_CUDA_ATTENTION_PLAN_H

#include <stddef.h>

#include "attention.h" /* kernels_cuda/ */

#ifdef __cplusplus
extern "C" {
#endif

enum { QN_CUDA_ATTN_PATH_NONE = 0, QN_CUDA_ATTN_PATH_ZERO, QN_CUDA_ATTN_PATH_KERNEL };

typedef struct qn_cuda_attn_plan {
    int path;            /* NONE: no queries; ZERO: no keys (the output is zeros); KERNEL */
    qn_cuda_attn_kernel kernel;
    long long mblocks;   /* blocks of folded rows per (kv head, batch) */
    int splits;          /* key splits per block row */
    size_t scratch;      /* device bytes the splits' partials need */
} qn_cuda_attn_plan;

/* Whether the kernels handle these arguments (dtype, head dim, sizes). */
int qn_cuda_attention_supported(const qn_cuda_attention_args *a);
/* Device scratch the launch needs (0 if none); the caller allocates it. */
size_t qn_cuda_attention_scratch_bytes(const qn_cuda_attention_args *a);
/* Plans and launches; returns 0 or a cudaError_t value and writes a message into err. */
int qn_cuda_attention(const qn_cuda_attention_args *a, char *err, size_t err_len);

/* For benchmarks: the plan of a call (force: a kernel to use instead of the choice; limit_scratch:
 * fit the splits into a->scratch_bytes), a launch with a forced kernel, and the decode merge mode
 * (0: clusters where the split count is small, the default; 1: never; 2: whenever splits > 1). */
int qn_cuda_attn_make_plan(const qn_cuda_attention_args *a, const qn_cuda_attn_kernel *force, int limit_scratch,
                           qn_cuda_attn_plan *pl);
int qn_cuda_attention_forced(const qn_cuda_attention_args *a, const qn_cuda_attn_kernel *force, char *err,
                             size_t err_len);
void qn_cuda_attn_set_cluster_mode(int mode);
/* Whether qn_cuda_attention sends this call to the wgmma prefill kernel (QUANTA_CUDA_ATTN_WG=1 or 2 and the
 * shapes it takes: cuda_attention_plan.c). */
int qn_cuda_attn_wg_chosen(const qn_cuda_attention_args *a);

#ifdef __cplusplus
}
#endif
#endif
