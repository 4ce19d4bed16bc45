/*
 * attention.h — the CUDA attention kernels' launch interface (C-callable), shared by the
 * CUDA backend's host code (engine/cuda/, which plans the launches: cuda_attention_plan.h) and
 * the kernels (kernels_cuda/attention.cu).
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
    /* Not NULL (QUANTA_CUDA_ATTN_QX=1, decode): the decode-rows kernel also leaves out's int8 codes, both planes, in
     * the ggml GEMV's activation-code layout (cuda_kernels.h qn_cuda_ggml_xq_split / _lo over out as [B*Hq*Nq, D]),
     * as qn_cuda_ggml_quantize_x(out) would make them, and sets *xq_done = 1 (the other kernels leave it 0). */
    int8_t *xq, *xl;
    float *dx;
    int *sx, *sl;
    int *xq_done;
} qn_cuda_attention_args;

/* The kernels' limits: the generic kernel's largest head dim, and the most split-KV partials
 * the combine kernel merges. */
#define QN_CUDA_ATTN_MAX_D 256
#define QN_CUDA_ATTN_MAX_SPLITS 256

/* One compiled attention kernel and its launch shape. Which one runs a call, and how many
 * key splits it gets, is decided by the launch planning in engine/cuda/cuda_attention_plan.c. */
typedef struct qn_cuda_attn_kernel {
    const void *fn;
    int threads;
    int rb;          /* folded query rows per block */
    int bn;          /* keys per tile */
    size_t smem;     /* dynamic shared memory of one block */
    size_t smem_max; /* the opt-in limit to set on fn (the largest smem any launch of fn uses) */
    int cluster;     /* decode splits merged inside a thread-block cluster (sm_90) */
    int codes;       /* the kernel leaves out's int8 codes when the args carry xq (the decode-rows kernel) */
    int pdl;         /* launched with programmatic dependent launch where the backend's PDL is on, whatever
                        QUANTA_CUDA_ATTN_PDL says (the short decode form: it prefetches its keys before its wait) */
} qn_cuda_attn_kernel;

/* The kernel families: the scalar generic kernel (every dtype, D <= QN_CUDA_ATTN_MAX_D) and the
 * tensor-core kernels tuned per head dim (f16/bf16): prefill, prefill with 64-row blocks (short
 * causal rows at D = 64), decode (at most 16 folded rows; warps split the keys) and decode whose
 * splits merge inside a thread-block cluster. */
enum {
    QN_CUDA_ATTN_GENERIC = 0,
    QN_CUDA_ATTN_PREFILL,
    QN_CUDA_ATTN_PREFILL_ROWS64,
    QN_CUDA_ATTN_DECODE,
    QN_CUDA_ATTN_DECODE_CLUSTER,
    QN_CUDA_ATTN_DECODE_ROWS, /* any dtype, at most rb folded rows, D = 64/96/128/256, cluster-merged splits */
    QN_CUDA_ATTN_DECODE_ROWS_SHORT /* the same for at most 4 rows, a shorter latency chain (QUANTA_CUDA_DEC_SHORT) */
};

/* The family's kernel for dtype and head dim D: 1 with *out set, or 0 when it has none. */
int qn_cuda_attn_kernel_of(int family, int dtype, int D, qn_cuda_attn_kernel *out);
/* Launches k on a->stream over mblocks x splits blocks per (kv head, batch), then, when
 * splits > 1 without a cluster, the combine of the partials kept in a->scratch (sized by the
 * plan). Nq, Nk >= 1. Returns 0 or a cudaError_t value and writes a message into err. */
int qn_cuda_attn_launch(const qn_cuda_attention_args *a, const qn_cuda_attn_kernel *k, long long mblocks, int splits,
                        char *err, size_t err_len);

#ifdef __cplusplus
}
#endif
#endif
