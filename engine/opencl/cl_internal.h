/*
 * cl_internal.h — state shared by the OpenCL backend's host files (engine/opencl/).
 *
 * cl_device.c   platform/device discovery (the flattened list behind "opencl:N")
 * cl_program.c  the kernel program: embedded sources, build, on-disk binary cache
 * cl_backend.c  the qn_opencl_backend vtable: memory, dispatch, bench hooks
 * cl_ops.c      launchers for element-wise and row ops
 * cl_matmul.c   GEMV/GEMM launchers, CLBlast path and the measured crossover
 * cl_attention.c tiled attention and split-KV launchers
 */
#ifndef QUANTA_CL_INTERNAL_H
#define QUANTA_CL_INTERNAL_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 300
#endif
#include <CL/cl.h>

#include "backend.h"
#include "error.h"
#include "formats.h"

/* Kernels of the program, looked up once per open. */
typedef enum qn_cl_kernel_id {
    QK_UNARY,
    QK_BINARY,
    QK_RMS_NORM,
    QK_SOFTMAX,
    QK_ROPE,
    QK_GET_ROWS,
    QK_PERMUTE,
    QK_WRITE_ROWS,
    QK_COPY,
    QK_GEMV,
    QK_GEMV_ROWS,
    QK_X_PREP,
    QK_GEMM_ROWS,
    QK_GEMM,
    QK_ATTENTION,
    QK_ATTENTION_ROWS,
    QK_ATTN_COMBINE,
    QK_X_QUANT8,
    QK_GEMM_Q8_I8,
    QK_COUNT
} qn_cl_kernel_id;

/* One device of the flattened list over all platforms. */
typedef struct qn_cl_device {
    cl_platform_id platform;
    cl_device_id device;
    quanta_device_info info;
    cl_device_type type;
    size_t max_wg;
    cl_ulong local_mem;
    cl_ulong max_alloc;
    int has_fp64;
    int has_il;          /* CL_DEVICE_IL_VERSION names SPIR-V: the device ingests it */
    int x86_vnni;        /* a CPU device on an x86 host with AVX-512 VNNI (cpuid) */
} qn_cl_device;

/* Crossover decisions between our GEMM kernel and (dequantize +) CLBlast, per shape class. */
#define QN_CL_XOVER_SLOTS 32
typedef struct qn_cl_xover {
    int used;
    int fmt;
    int64_t mclass, n, k;
    int use_blas;
} qn_cl_xover;

typedef struct qn_cl {
    qn_cl_device dev;
    cl_context ctx;
    cl_command_queue queue;
    cl_program program;
    cl_kernel k[QK_COUNT];
    qn_mem_stats *stats;
    int have_blas;
    int gemv_lws;        /* work-items per weight row in qn_gemv */
    int gemv_rows;       /* weight rows per work-group in qn_gemv */
    int cpu_attention;   /* qn_attention_rows (CPUs) where head dims allow */
    int cpu_gemm;        /* M > 8 uses qn_gemm_rows (CPUs) instead of the local-memory tiles */
    int cpu_rows;        /* row ops (rms_norm, softmax): one work-item per row, no local memory */
    int force_path;      /* M > 8: 0 = measured crossover, 1 = our kernel, 2 = CLBlast (QUANTA_OPENCL_GEMM) */
    qn_cl_xover xover[QN_CL_XOVER_SLOTS];
    const char *program_origin; /* "cache", "spir-v" or "source": how the program was made */
    int vnni;            /* the program was built with QN_X86_VNNI (vpdpbusd by inline assembly) */
    int int8_gemm;       /* q8 weights at M > 8 run qn_gemm_q8_i8 (x quantized to int8 per block) */
} qn_cl;

/* A device scratch allocation booked on the backend's memory account. */
typedef struct qn_cl_scratch {
    cl_mem mem;
    size_t bytes;
} qn_cl_scratch;

/* cl_device.c */
quanta_status qn_cl_devices(const qn_cl_device **list, int *count);

/* cl_program.c: builds (or loads from the cache) the program for s->dev and creates kernels. */
quanta_status qn_cl_program_load(qn_cl *s);
/* Cache file for a key (exposed for the cache test); fills path (size len). */
quanta_status qn_cl_cache_path(const qn_cl *s, char *path, size_t len);

/* cl_backend.c helpers */
quanta_status qn_cl_error(cl_int err, const char *what);
const char *qn_cl_errname(cl_int err);
quanta_status qn_cl_scratch_alloc(qn_cl *s, size_t bytes, const char *what, qn_cl_scratch *out);
void qn_cl_scratch_free(qn_cl *s, qn_cl_scratch *sc);
/* Enqueues kernel with a 1-3 D range; global sizes are rounded up to the local ones. */
quanta_status qn_cl_launch(qn_cl *s, qn_cl_kernel_id id, const char *what, cl_uint dims, const size_t *global,
                           const size_t *local);
/* Sets arguments in order; returns the first failure (message names the kernel). */
typedef struct qn_cl_arg {
    size_t size;
    const void *ptr; /* NULL with size > 0: local memory of that size */
} qn_cl_arg;
quanta_status qn_cl_set_args(qn_cl *s, qn_cl_kernel_id id, const qn_cl_arg *args, int n);
#define QA(x) ((qn_cl_arg){sizeof(x), &(x)})
#define QA_LOCAL(bytes) ((qn_cl_arg){(bytes), NULL})

/* Element count of a tensor (the engine validated shapes when the node was built). */
size_t qn_cl_elems(const qn_tensor *t);
static inline cl_mem qn_cl_mem(const qn_tensor *t) { return (cl_mem)t->mem.handle; }

/* A weight's layout (formats/layout.h), checked against its bytes, and the arguments for
 * kernels taking QN_WLAYOUT_ARGS (10 arguments, straight from the layout's fields). */
quanta_status qn_cl_weight_layout(const qn_tensor *w, const char *op, qn_quant_layout *out);
int qn_cl_weight_args(const qn_quant_layout *w, qn_cl_arg *args);

/* Converts a float tensor to f32 scratch (or returns it as is when already f32). */
quanta_status qn_cl_to_f32(qn_cl *s, const qn_tensor *t, qn_cl_scratch *tmp, cl_mem *mem, cl_ulong *off);

/* cl_ops.c */
bool qn_cl_ops_supports(qn_cl *s, const qn_node *node);
quanta_status qn_cl_ops_run(qn_cl *s, const qn_node *node);
quanta_status qn_cl_unary_raw(qn_cl *s, cl_mem x, cl_ulong xo, int xdt, cl_mem y, cl_ulong yo, int ydt, size_t n,
                              int op, float scale);
/* y[T, cols] = rows of table (tm, to, w) dequantized: rows ids[0..T) (i32 at ids + io) or, with
 * ids NULL, rows 0..T-1. y has dtype ydt; what names the launch in errors. */
quanta_status qn_cl_get_rows_raw(qn_cl *s, cl_mem tm, cl_ulong to, const qn_quant_layout *w, cl_mem ids, cl_ulong io,
                                 size_t T, cl_mem y, cl_ulong yo, cl_int ydt, const char *what);

/* cl_matmul.c */
bool qn_cl_matmul_supports(qn_cl *s, const qn_node *node);
quanta_status qn_cl_matmul_run(qn_cl *s, const qn_node *node);
quanta_status qn_cl_peer_gemm(qn_cl *s, int64_t m, int64_t n, int64_t k, double *seconds, char *name,
                              size_t name_len);

/* cl_attention.c */
bool qn_cl_attention_supports(qn_cl *s, const qn_node *node);
quanta_status qn_cl_attention_run(qn_cl *s, const qn_node *node);

#endif
