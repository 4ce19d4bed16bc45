/*
 * backend.h — the interface between the graph executor and a backend (internal).
 *
 * A backend is one struct of function pointers (qn_backend_ops) in one file that registers
 * itself in engine/registry.c. The executor never knows which backend it talks to: it hands
 * over resolved nodes (qn_node) whose tensors point at backend memory (qn_mem).
 */
#ifndef QUANTA_ENGINE_BACKEND_H
#define QUANTA_ENGINE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quanta.h"

/* Op codes. What each op is (name, sources, validation, reference) is its row in the op
 * table, engine/op_table.c; engine/README.md says how to add one. */
typedef enum qn_op {
    QN_OP_MATMUL = 0,
    QN_OP_ATTENTION,
    QN_OP_RMS_NORM,
    QN_OP_ROPE,
    QN_OP_SILU,
    QN_OP_GELU,
    QN_OP_ADD,
    QN_OP_MUL,
    QN_OP_SCALE,
    QN_OP_SOFTMAX,
    QN_OP_GET_ROWS,
    QN_OP_PERMUTE,
    QN_OP_CONVERT,
    QN_OP_WRITE_ROWS,
    QN_OP_ALL_REDUCE, /* sum over the ranks of params.comm (tensor parallelism) */
    QN_OP_ADD_RMS_NORM, /* rms_norm(a + b) with weight: the residual add fused into the norm */
    QN_OP_PAGED_ATTENTION, /* attention through per-sequence block tables into KV pools */
    QN_OP_GLU, /* act(gate) * up: a gated MLP's activation (plans fuse silu/gelu + mul into it) */
    QN_OP_RMS_NORM_ADD, /* r + rms_norm(x) with weight: a post-norm and its residual add (fused by plans) */
    QN_OP_RMS_NORM_ROPE, /* rope(rms_norm(x) with weight): q/k norms and their rope (fused by plans) */
    QN_OP_MATMUL_GLU, /* act(x·w_gate^T) * (x·w_up^T): a gated MLP's two projections and activation (fused by plans) */
    QN_OP_ARGMAX, /* the index of each row's largest element (a server's greedy tokens on the device) */
    QN_OP_MATMUL_MULTI, /* x·w0^T, x·w1^T (, x·w2^T): matmuls of one x (q/k/v), one result each (fused by plans) */
    QN_OP_WRITE_ROWS_PAIR, /* two write_rows at one start (a layer's k and v cache appends; fused by plans) */
    QN_OP_RMS_NORM_ROPE_PAIR, /* two rms_norm_rope at one position and parameters (q and k norms + rope; fused by plans) */
    QN_OP_RMS_NORM_ADD_NORM, /* s = r + rms_norm(x) and rms_norm(s): a post-norm, its residual and the next norm (fused by plans) */
    QN_OP_ADD_NORM, /* s = a + b and rms_norm(s): a residual add and the next norm, both kept (LLaMA; fused by plans) */
    QN_OP_ROPE_PAIR, /* two ropes at one positions tensor and parameters (q and k without norms; fused by plans) */
    QN_OP_ROPE_KV, /* rope_pair or rms_norm_rope_pair with k's result and v appended to the caches (fused by plans) */
    QN_OP_COUNT
} qn_op;

const char *qn_op_name(qn_op op);

/* Where a tensor lives on a backend: an allocation made by ops->alloc, plus a byte offset. */
typedef struct qn_mem {
    void *handle;
    size_t offset;
} qn_mem;

/* Device-memory account of one open backend (quanta_backend_set_memory_limit/_memory_stats). */
typedef struct qn_mem_stats {
    uint64_t limit;   /* 0 = none */
    uint64_t in_use;
    uint64_t peak;
    uint64_t peak_undo; /* peak before the latest reserve (qn_mem_unreserve puts it back) */
} qn_mem_stats;
/* Books bytes; fails with QUANTA_ERR_OUT_OF_MEMORY (message set) when over the limit. */
quanta_status qn_mem_reserve(qn_mem_stats *stats, uint64_t bytes, const char *what);
/* Returns bytes of memory that was freed. */
void qn_mem_release(qn_mem_stats *stats, uint64_t bytes);
/* Takes back the latest qn_mem_reserve after the allocation it booked failed: the bytes were
 * never in use, so the peak goes back to what it was (the peak counts only real allocations). */
void qn_mem_unreserve(qn_mem_stats *stats, uint64_t bytes);

/* A resolved tensor as a backend sees it. */
typedef struct qn_tensor {
    quanta_tensor_desc desc;
    qn_mem mem;
    size_t bytes;      /* interchange size of the tensor */
    void *aux;         /* backend-prepared form of a weight (ops->prepare_weight), may be NULL */
    const char *name;  /* may be NULL */
} qn_tensor;

/* Operation parameters. */
typedef struct qn_op_params {
    quanta_attention_params attention;
    quanta_rope_params rope;
    float eps;                 /* rms_norm, add_rms_norm, rms_norm_add, rms_norm_rope, add_norm */
    int32_t weight_plus_one;   /* rms_norm, add_rms_norm, rms_norm_add, rms_norm_rope, add_norm */
    int32_t approximate;       /* gelu */
    int32_t glu_act;           /* glu, matmul_glu: a quanta_glu_act */
    float scale;               /* scale */
    int32_t perm[QUANTA_MAX_DIMS]; /* permute */
    quanta_comm *comm;         /* all_reduce: the rank's communicator (engine/comm.h) */
    quanta_dtype dtype;        /* convert: the target dtype (also the dst's) */
    int32_t block_size;        /* paged_attention: pool rows per block */
    int32_t rope_norm;         /* rope_kv: q and k rms-normed before their ropes (rms_norm_rope_pair's form) */
} qn_op_params;

#define QN_MAX_SRC 9
/* Results past the first: matmul_multi's second and third products, the pair ops' second results, rope_kv's two
 * caches. */
#define QN_MAX_EXTRA_DST 2

/*
 * One op with resolved tensors. Source slots by op (NULL where optional and absent):
 *   matmul: x, w                attention: q, k, v, mask, kv_lens
 *   rms_norm: x, weight         rope: x, positions        add_rms_norm: a, b, weight
 *   rms_norm_add: x, r, weight  matmul_glu: x, w_gate, w_up  rms_norm_rope: x, weight, positions
 *   silu/gelu/scale/softmax/permute/convert/argmax: x
 *   add/mul: a, b               get_rows: table, ids        glu: gate, up
 *   write_rows: dst, src, start (dst and the node's dst share memory: the write is in place)
 *   all_reduce: x               matmul_multi: x, w0, w1, w2 (w2 may be absent)
 *   write_rows_pair: dst0, src0, start, dst1, src1 (dst0 in place as write_rows; extra_dst[0] is dst1 after
 *   its write, in place too)
 *   rms_norm_rope_pair: x0, weight0, positions, x1, weight1 (extra_dst[0] = rms_norm_rope of x1)
 *   rms_norm_add_norm: x, r, weight, weight2 (dst = r + rms_norm(x, weight); extra_dst[0] = rms_norm(dst, weight2))
 *   add_norm: a, b, weight (dst = a + b; extra_dst[0] = rms_norm(dst, weight))
 *   rope_pair: x0, positions, x1 (dst = rope(x0); extra_dst[0] = rope(x1))
 *   rope_kv: x0, positions, x1, weight0, weight1, k_cache, start, v_cache, v (dst = [norm +] rope of x0; the same of
 *   x1 written into k_cache at start and v into v_cache, as write_rows_pair: extra_dst[0] and [1] are the caches
 *   after the writes, in place; rope(x1) itself is not kept)
 * dst is the result; matmul_multi also writes extra_dst[i] = x·w(i+1)^T (NULL elsewhere).
 */
typedef struct qn_node {
    qn_op op;
    qn_op_params params;
    int nsrc;
    const qn_tensor *src[QN_MAX_SRC];
    const qn_tensor *dst;
    const qn_tensor *extra_dst[QN_MAX_EXTRA_DST];
} qn_node;

/* A set of dtypes, one bit per quanta_dtype (all codes are below 64). */
typedef uint64_t qn_dtype_set;
#define QN_DT_BIT(t) ((qn_dtype_set)1 << (t))
#define QN_DT_FLOATS (QN_DT_BIT(QUANTA_F32) | QN_DT_BIT(QUANTA_F16) | QN_DT_BIT(QUANTA_BF16))
/* Quanta's own weight formats (formats/README.md), and ggml's blocks as GGUF stores them. */
#define QN_DT_QUANTA_FORMATS                                                                                          \
    (QN_DT_BIT(QUANTA_Q8) | QN_DT_BIT(QUANTA_Q4) | QN_DT_BIT(QUANTA_NF4) | QN_DT_BIT(QUANTA_FP8_E4M3) |               \
     QN_DT_BIT(QUANTA_FP8_E5M2))
#define QN_DT_GGML_FORMATS                                                                                             \
    (QN_DT_BIT(QUANTA_GGML_Q4_0) | QN_DT_BIT(QUANTA_GGML_Q4_1) | QN_DT_BIT(QUANTA_GGML_Q5_0) |                        \
     QN_DT_BIT(QUANTA_GGML_Q5_1) | QN_DT_BIT(QUANTA_GGML_Q8_0) | QN_DT_BIT(QUANTA_GGML_Q4_K) |                        \
     QN_DT_BIT(QUANTA_GGML_Q5_K) | QN_DT_BIT(QUANTA_GGML_Q6_K))
/* The quantized KV pools (q8, fp8_e4m3; formats.h qn_kv_dtype_is_quantized): write_rows' dst and
 * paged_attention's k_pool may be one. */
#define QN_DT_KV_QUANT (QN_DT_BIT(QUANTA_Q8) | QN_DT_BIT(QUANTA_FP8_E4M3))
/* Kernel-table rows (designated initializers) of a backend whose activation kernels decode
 * f32, f16 and bf16 for every op that takes only activations (OpenCL's and CUDA's); the ops of
 * weight formats and KV dtypes (matmul, get_rows, write_rows, paged_attention) each backend
 * lists itself. */
#define QN_KERNELS_FLOAT_ACTIVATION_OPS                                                                                \
    [QN_OP_ATTENTION] = QN_DT_FLOATS, [QN_OP_RMS_NORM] = QN_DT_FLOATS, [QN_OP_ROPE] = QN_DT_FLOATS,                    \
    [QN_OP_SILU] = QN_DT_FLOATS, [QN_OP_GELU] = QN_DT_FLOATS, [QN_OP_ADD] = QN_DT_FLOATS, [QN_OP_MUL] = QN_DT_FLOATS,  \
    [QN_OP_SCALE] = QN_DT_FLOATS, [QN_OP_SOFTMAX] = QN_DT_FLOATS, [QN_OP_PERMUTE] = QN_DT_DENSE,                      \
    [QN_OP_CONVERT] = QN_DT_FLOATS, [QN_OP_ADD_RMS_NORM] = QN_DT_FLOATS, [QN_OP_ARGMAX] = QN_DT_FLOATS
/* Every dense dtype (what permute moves). */
#define QN_DT_DENSE (QN_DT_FLOATS | QN_DT_BIT(QUANTA_I32) | QN_DT_BIT(QUANTA_U8))

/* What a backend's own check of f32 values for Inf/NaN found (read_view_f32_checked). */
typedef enum qn_finite_state {
    QN_FINITE_UNCHECKED = 0, /* none made: the caller scans */
    QN_FINITE_ALL,           /* every value finite */
    QN_FINITE_SOME           /* at least one Inf or NaN */
} qn_finite_state;

/*
 * The backend vtable. `self` is the backend's per-open state. All calls return QUANTA_OK or
 * set the thread-local error (qn_error_set) and return its status. Optional entries may be NULL.
 */
typedef struct qn_backend_ops {
    const char *name; /* "ref", "opencl", "cuda" */

    /* Registry: number of devices (0 when none is usable; not an error) and their info. */
    quanta_status (*device_count)(int *count);
    quanta_status (*device_info)(int index, quanta_device_info *info);

    /* stats: the backend's memory account. The engine books every ops->alloc itself; a
     * backend that allocates scratch memory on its own (e.g. split-KV partials) books it with
     * qn_mem_reserve / qn_mem_release so limits and peaks cover it too. */
    quanta_status (*open)(int index, qn_mem_stats *stats, void **self);
    void (*close)(void *self);

    /* Device memory. alloc must zero-fill (buffers start zeroed). */
    quanta_status (*alloc)(void *self, size_t bytes, void **handle);
    void (*free)(void *self, void *handle);
    quanta_status (*write)(void *self, qn_mem dst, const void *src, size_t bytes);
    quanta_status (*read)(void *self, qn_mem src, void *dst, size_t bytes);
    /* Optional: the bytes of src in host memory the backend owns, for a caller that copies them out
     * itself in a pass that also inspects them (the logits' copy and finiteness check in one pass,
     * engine/plan.h qn_plan_get_output_f32_finite): the staging buffer a copy back lands in, or the
     * memory itself where it is host memory. Ordered after the work queued before it (it waits for
     * that work: a plan's run may be left unsynchronized before it). Valid until the next read,
     * read_view, free or close on this backend (synchronize keeps it). *view = NULL (with
     * QUANTA_OK): no view of this size, use read. NULL: never. */
    quanta_status (*read_view)(void *self, qn_mem src, size_t bytes, const void **view);
    /* Optional: read_view of count f32 values that the backend also checks for Inf/NaN itself, before they
     * leave the device (CUDA: a kernel over the values while they are hot in its L2, the page-locked copy's
     * host scan skipped), with base/finite.h's test. *state says what it found: QN_FINITE_ALL (no value is Inf
     * or NaN), QN_FINITE_SOME (at least one is: the caller scans the view to name it, so the answer it gives
     * is the host scan's), QN_FINITE_UNCHECKED (no check made: switched off, or no view); read_view's
     * contract otherwise. NULL: read_view and the caller's own scan. */
    quanta_status (*read_view_f32_checked)(void *self, qn_mem src, size_t count, const void **view,
                                           qn_finite_state *state);

    /* Optional: repack a weight (a constant or buffer of 2-D matrix form) into the backend's
     * faster layout, kept in *aux next to the interchange copy; release_weight frees it. */
    quanta_status (*prepare_weight)(void *self, const qn_tensor *w, void **aux);
    void (*release_weight)(void *self, void *aux);
    /* Optional: whether a one-row matmul (decode) on weights stored as `stored` is at least as
     * fast here as on the same matrix quantized to `alternative` (measured per device class,
     * not assumed), so a load that quantizes may keep the file's bits
     * (quanta_backend_prefers_weight). NULL: never. */
    bool (*prefers_stored)(void *self, const quanta_tensor_desc *stored, quanta_dtype alternative);

    /* What the backend has kernels for: per op (indexed by qn_op), the dtypes of the op's
     * format source (op_table.h, `format_src`: matmul's w, get_rows' table, paged_attention's
     * k_pool, the activation otherwise); 0 = no kernel. NULL: every op and dtype (the
     * reference). The executor runs a node on the backend only when its pair is in this table
     * and supports_op agrees, else on the reference backend (qn_backend_runs_node). */
    const qn_dtype_set *kernels;
    /* Optional: the kernels' own limits for a node in the table (sizes they can launch,
     * alignment, a weight prepared at upload). Nodes passed the op table's `infer` and the
     * kernel table: this never re-checks dtypes, ranks or shapes. */
    bool (*supports_op)(void *self, const qn_node *node);
    /* Runs one node (may be asynchronous with respect to the host). */
    quanta_status (*run)(void *self, const qn_node *node);
    /* Waits for all queued work. */
    quanta_status (*synchronize)(void *self);

    /* (Measurements for `quanta bench` and the tuning sweep of `quanta tune` are not here:
     * engine/bench_hooks.h.) */

    /* Optional: record a whole plan execution once and replay it (CUDA graphs). Between
     * capture_begin and capture_end, run() only records work; capture_end(ok = 0) discards it.
     * replay runs the recording, or sets *valid = 0 (and runs nothing) when the backend's own
     * memory moved since (the recording holds its addresses): the plan then records again.
     * Inputs are read from device memory when the recording runs, so set_input between
     * replays takes effect. */
    quanta_status (*capture_begin)(void *self);
    quanta_status (*capture_end)(void *self, int ok, void **recording);
    quanta_status (*replay)(void *self, void *recording, int *valid);
    void (*release_recording)(void *self, void *recording);
} qn_backend_ops;

/* Whether the backend runs node itself: its kernel table has (op, dtype of the format source)
 * and supports_op, when set, accepts the node. */
bool qn_backend_runs_node(const qn_backend_ops *ops, void *self, const qn_node *node);
/* The same as a status: QUANTA_OK, or QUANTA_ERR_UNSUPPORTED with a message naming the backend,
 * the op and the format source's dtype ("opencl has no matmul kernel for w of dtype q4_k") or
 * the kernel limit. For a backend's run asked for a node the executor would not give it. */
quanta_status qn_backend_check_node(const qn_backend_ops *ops, void *self, const qn_node *node);

/* Backends compiled into this library, in preference order for "best" (NULL-terminated). */
extern const qn_backend_ops *const qn_backend_list[];

/* Reference backend entry points (engine/ref/). Also used by the executor for fallback:
 * host tensors whose mem.handle is a host pointer. */
extern const qn_backend_ops qn_ref_backend;
quanta_status qn_ref_run_node(const qn_node *node);

/* Host pointer of a tensor on the reference backend (handle is a malloc'd base pointer). */
static inline void *qn_host_ptr(const qn_tensor *t) {
    return (char *)t->mem.handle + t->mem.offset;
}

#endif
