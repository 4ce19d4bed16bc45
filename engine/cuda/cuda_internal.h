/* cuda_internal.h — state shared by the CUDA backend's host files (engine/cuda/). */
#ifndef QUANTA_ENGINE_CUDA_INTERNAL_H
#define QUANTA_ENGINE_CUDA_INTERNAL_H

#include <cuda_runtime_api.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "bench_hooks.h"
#include "error.h"
#include "formats.h"
#include "cuda_kernels.h" /* kernels_cuda/ */

/* One open CUDA backend: a device, one stream that orders all of its work, and a scratch
 * allocation reused by consecutive ops (stream order makes the reuse safe). */
typedef struct qn_cuda_state {
    int device;
    int sms;
    cudaStream_t stream;
    qn_mem_stats *stats;
    void *scratch;
    size_t scratch_bytes;
    int *err_flag; /* device int[4]: a bad id / start / paged table found by a kernel, read at synchronize */
    unsigned *counters; /* QN_CUDA_MATMUL_COUNTERS zeroed split-K arrival counters */
    /* ggml-format GEMV: activations quantized to int8 (kernels_cuda/ggml.cu). Consecutive
     * matmuls on the same x (q/k/v, gate/up) reuse them: xq_src says whose codes xq holds. */
    void *xq;
    size_t xq_bytes;
    const void *xq_src;
    int64_t xq_M, xq_K;
    int xq_dtype;
    /* A second codes buffer: matmul_glu writes its result's codes here while it reads x's from xq, then the
     * two swap (QUANTA_CUDA_GLU_CODES). */
    void *xq_alt;
    size_t xq_alt_bytes;
    /* ggml tensor-core GEMMs (mmq17, on unless QUANTA_CUDA_GGML_XKEEP=0): x's activation prep (kernels_cuda/ggml_mmq.cu,
     * qn_cuda_ggml_mmq_x) kept in mq for consecutive matmuls on the same x (q/k/v, gate/up); mq_src says whose,
     * mq_have which K order. Dropped wherever xq_src is (qn_cuda_forget_x). */
    void *mq;
    size_t mq_bytes;
    const void *mq_src;
    int64_t mq_M, mq_K;
    int mq_dtype, mq_have;
    /* The K order the last kept prep took (mq_have's 1 Q4_0, 2 Q8_0; 0 none yet), never dropped: the norms write the
     * slab in it for the GEMMs after them (mmq18, on unless QUANTA_CUDA_GGML_NORM_SLAB=0), and a GEMM of the other order simply
     * preps its own (mq_have then does not match). */
    int mq_perm;
    /* Bumped whenever scratch or xq move: captured CUDA graphs hold their addresses. */
    unsigned epoch;
    int graphs; /* plans may be captured as CUDA graphs (QUANTA_CUDA_GRAPHS=0 turns it off) */
    /* Page-locked host memory: the error flag's copy (read once per synchronize with the stream's
     * own wait) and a staging buffer for reads of at most QN_CUDA_PINNED_READ_MAX bytes (a decode
     * step's logits): a copy from pageable memory goes through the driver's staging in chunks. */
    int *host_flag;
    void *pinned;
    size_t pinned_bytes;
    int pinned_read; /* QUANTA_CUDA_PINNED_READ (0 turns the staging buffer off) */
    /* The logits' finiteness check on the device (read_view_f32_checked, kernels_cuda/finite_check.cu): a word of
     * mapped page-locked memory the check's kernel writes its generation number into where it finds an Inf or
     * NaN (no reset, no copy back), its device address, and the last generation passed. */
    /* QUANTA_CUDA_FINITE_GPU: 0 never, 1 at every size, else (the default) from QN_CUDA_FINITE_GPU_MIN values; needs
     * mapped host memory (0 without). */
    int finite_gpu;
    volatile unsigned *finite_word;
    unsigned *finite_word_dev;
    unsigned finite_gen;
} qn_cuda_state;

#define QN_CUDA_PINNED_READ_MAX ((size_t)16 << 20)
/* The fewest f32 values the logits' check takes to the device by default. Its fixed cost (the launch after the run's
 * wait, the copy then waiting for the kernel) against the host scan's ~73 us per MiB (H100 host, 09:42): Gemma's
 * 262144 logits gained 80 us a step (+7-10% tok/s), the 7B's 32000 (128 KiB) lost 16-31 us; break-even at ~0.3-0.4
 * MiB from those two points, so 98304 values (384 KiB): Llama 3's 128256 and larger vocabularies on, Llama 2's and
 * Mistral's 32000 off (unmeasured in between). */
#define QN_CUDA_FINITE_GPU_MIN ((size_t)98304)

/* A weight prepared for the tensor-core matmul: one device allocation holding the tiled
 * codes, row scales and group metadata that `w` points into. */
typedef struct qn_cuda_prepared {
    qn_cuda_weight w;
    void *dev;
    size_t bytes;
} qn_cuda_prepared;
/* mmq24: w.fmt of a ggml weight's prepared form, whose dev is its tile-linear copy (QUANTA_CUDA_GGML_TLIN; not a
 * QN_CW_* format: the ggml routes read only dev) */
#define QN_CW_GGML_TLIN 0x7f

/* The host-side repacked form (engine/cuda/cuda_repack.c). */
typedef struct qn_cuda_packed {
    int fmt;
    int64_t N, K, Np, Kp;
    int32_t group;
    uint8_t *buf; /* malloc'd: codes | row_scale (f32 [Np]) | meta (u32 [Np][meta_cols]) [| codes_k] */
    size_t bytes, codes_off, row_scale_off, meta_off, meta_cols;
    size_t codes_k_off; /* fp818: 0 (none, unless km_only), or where qn_cuda_repack_fp8_km put the K-major copy of e4m3 codes */
    int km_only;        /* fp820: the codes are K-major only (qn_cuda_repack_fp8_km_only; codes_k_off = codes_off) */
} qn_cuda_packed;

/* Whether the matmul kernels take weights of this dtype (2-D). */
int qn_cuda_weight_format(quanta_dtype dtype);
/* Repacks a weight in the interchange layout (src, src_bytes) into *out (free out->buf). */
quanta_status qn_cuda_repack(const quanta_tensor_desc *desc, const void *src, size_t src_bytes, qn_cuda_packed *out);
/* fp818 (QUANTA_CUDA_FP8_SS=1): appends to an e4m3 weight that qn_cuda_repack made a second copy of its codes in
 * the K-major layout of cuda_kernels.h's qn_cuda_fp8_km_offset (256-byte aligned, at p->codes_k_off; p->buf grows,
 * p->bytes with it), read from the tiled codes so both copies hold the same bytes. Other formats: refused. */
quanta_status qn_cuda_repack_fp8_km(qn_cuda_packed *p);
/* fp820 (QUANTA_CUDA_FP8_KM=1): rewrites the codes of an e4m3 weight that qn_cuda_repack made into that K-major layout
 * in place (the same bytes, one copy; p->km_only = 1, codes_k_off = codes_off). Other formats, or a weight that has
 * a copy already: refused, nothing changed. */
quanta_status qn_cuda_repack_fp8_km_only(qn_cuda_packed *p);

/* Maps a CUDA error to a status with its message ("cuda <what>: <error string>"). */
quanta_status qn_cuda_error(cudaError_t e, const char *what);
/* Grows the backend's scratch to at least `bytes` (booked in the memory account). */
quanta_status qn_cuda_scratch(qn_cuda_state *s, size_t bytes, void **out);

/* The switches of default and not-yet-default paths (QUANTA_CUDA_* in the environment), for side-by-side
 * timings of a new path and the one before it. Read once into *cache (-1 before); atomic because a plan
 * executes on whichever thread runs it (tensor-parallel ranks, an application's threads) and two first
 * reads may come at once (each then reads the same environment). C only: bench/cuda's .cu files include
 * this header for its types. */
#ifndef __cplusplus
#include <stdatomic.h>
static inline bool qn_cuda_switch_read(const char *name, atomic_int *cache, bool default_on) {
    int v = atomic_load_explicit(cache, memory_order_relaxed);
    if (v < 0) {
        const char *e = getenv(name);
        v = default_on ? !(e && !strcmp(e, "0")) : (e && !strcmp(e, "1"));
        atomic_store_explicit(cache, v, memory_order_relaxed);
    }
    return v == 1;
}
/* On unless the variable is "0". */
static inline bool qn_cuda_switch_on(const char *name, atomic_int *cache) { return qn_cuda_switch_read(name, cache, true); }
/* On only when the variable is "1". */
static inline bool qn_cuda_switch_opt_in(const char *name, atomic_int *cache) {
    return qn_cuda_switch_read(name, cache, false);
}
/* Defines `static bool FN(void)`: the switch NAME, read once by READER (qn_cuda_switch_on or _opt_in). */
#define QN_CUDA_SWITCH_FN(FN, READER, NAME)                                                                  \
    static bool FN(void) {                                                                                   \
        static atomic_int on = -1;                                                                           \
        return READER(NAME, &on);                                                                            \
    }
#endif

static inline void *qn_cuda_ptr(const qn_tensor *t) { return (char *)t->mem.handle + t->mem.offset; }

/* Grows the int8 activation buffer of the ggml GEMV to at least `bytes`. */
quanta_status qn_cuda_xq(qn_cuda_state *s, size_t bytes, void **out);
/* The kept activation prep's buffer (mq above), grown to at least bytes (a new buffer holds nothing). */
quanta_status qn_cuda_mq(qn_cuda_state *s, size_t bytes, void **out);
/* Whatever was made from an activation (its codes, its kept prep) is no longer known to match it. */
static inline void qn_cuda_forget_x(qn_cuda_state *s) {
    s->xq_src = NULL;
    s->mq_src = NULL;
}
/* Grows xq_alt to at least `bytes` (and to xq's size, so the two can swap); xq and its codes stay. */
quanta_status qn_cuda_xq_alt(qn_cuda_state *s, size_t bytes, void **out);
/* Swaps xq and xq_alt: codes just written to xq_alt become the cached ones, of src (M x K, dtype). */
void qn_cuda_xq_take_alt(qn_cuda_state *s, const void *src, int64_t M, int64_t K, int dtype);

/* Prefill attention on f32 q/k/v through f16 copies and the tensor-core kernel
 * (engine/cuda/cuda_attention_f16.c): whether a call takes that route, and the route. */
struct qn_cuda_attention_args;
bool qn_cuda_attention_f16_applies(const struct qn_cuda_attention_args *a);
quanta_status qn_cuda_attention_f16(qn_cuda_state *s, const struct qn_cuda_attention_args *a);

/* Op support and execution (engine/cuda/cuda_ops.c). */
extern const qn_backend_ops qn_cuda_backend;
/* The kernel table (dtypes of each op's format source the kernels decode) and the kernels'
 * own limits on a node in it. */
extern const qn_dtype_set qn_cuda_kernels[QN_OP_COUNT];
bool qn_cuda_supports_op(void *self, const qn_node *node);
quanta_status qn_cuda_run(void *self, const qn_node *node);

#endif
