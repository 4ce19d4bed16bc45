/*
 * cl_internal.h — state shared by the OpenCL backend's host files (engine/opencl/).
 *
 * cl_device.c   platform/device discovery (the flattened list behind "opencl:N")
 * cl_program.c  the kernel program: embedded sources, build, on-disk binary cache
 * cl_backend.c  the qn_opencl_backend vtable: memory, dispatch, bench hooks
 * cl_ops.c      launchers for element-wise and row ops
 * cl_matmul.c   GEMV/GEMM launchers and the CLBlast path
 * cl_tune.c     the per-device tuning table (variants and work-group shapes per shape class)
 * cl_tune_sweep.c the `quanta tune` sweep that fills it
 * cl_attention.c tiled attention and split-KV launchers
 * cl_record.c   a plan's launches recorded once and replayed (capture_begin/end, replay)
 * cl_events.c   QUANTA_OPENCL_EVENTS: kernel times and gaps from event timestamps
 */
#ifndef QUANTA_CL_INTERNAL_H
#define QUANTA_CL_INTERNAL_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 300
#endif
#include <stdio.h>

#include <CL/cl.h>

#include "backend.h"
#include "bench_hooks.h"
#include "error.h"
#include "formats.h"
#include "unary_ops.h" /* base/: the unary kernel's op codes */

/* Kernels of the program, looked up once per open. */
typedef enum qn_cl_kernel_id {
    QK_UNARY,
    QK_BINARY,
    QK_RMS_NORM,
    QK_SOFTMAX,
    QK_ROPE,
    QK_GET_ROWS,
    QK_PERMUTE,
    QK_PERMUTE_ROWS,
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
    QK_PAGED_ATTENTION,
    QK_PAGED_KV_WRITE,
    QK_GLU,
    QK_GEMV_ROWS_GLU,
    QK_RMS_NORM_ROPE,
    QK_ARGMAX,
    QK_GEMV_I8,
    QK_GEMV_ROWS_MULTI,
    QK_WRITE_ROWS_PAIR,
    QK_GEMV_Q8_I8,
    QK_GEMV_Q8_GPU,
    QK_GEMV_Q8_GPU_GLU,
    QK_GEMV_Q4_GPU,
    QK_GEMV_F16_GPU,
    QK_GEMM_Q8_GPU,
    QK_ATTENTION_DEC,
    QK_GEMV_Q8_M1,
    QK_GEMV_Q8_M1_GLU,
    QK_RMS_NORM_REG,
    QK_GEMV_Q4_M1,
    QK_GEMM_Q8_I8_GPU,
    QK_ATTENTION_PF,
    QK_X_QUANT8_GPU,
    QK_GEMM_Q8_I8_GPU2,
    QK_GEMV_Q8_M1N,
    QK_GEMV_Q8_M1N_GLU,
    QK_ATTENTION_DEC1,
    QK_GEMV_Q8_M1R,
    QK_GEMV_Q8_S,
    QK_GEMV_Q8_S_GLU,
    QK_GEMV_Q4_S,
    QK_GEMV_Q8_M1N_W,
    QK_GEMV_Q8_M1N_GLU_W,
    QK_GEMV_Q8_M1N_T,
    QK_GEMV_Q8_M1N_GLU_T,
    QK_GEMV_Q4_I,
    QK_GEMV_Q4_I2,
    QK_GEMV_Q4_IP,
    QK_GEMV_Q4_I2P,
    QK_GEMV_Q8_I,
    QK_GEMV_Q8_I2,
    QK_GEMV_Q8_I2U,
    QK_GEMV_Q8_I2UP,
    QK_GEMV_Q8_IP,
    QK_GEMV_Q4_IS,
    QK_GEMV_Q4_I2S,
    QK_GEMV_Q8_IS,
    QK_GEMV_Q8_I2US,
    QK_GEMV_Q4_I2S16,
    QK_GEMV_Q8_I2S16,
    QK_GEMV_Q4_IL,  /* clgemv22: the register-lean streaming q4 forms (QUANTA_OPENCL_GEMVS_Q4L=1) */
    QK_GEMV_Q4_I2L,
    QK_GEMV_Q8_I2UL, /* clgemv22: q8's register-lean streaming forms (QUANTA_OPENCL_GEMVS_Q8L=1 / =4) */
    QK_GEMV_Q8_I2L,
    QK_GEMV_Q8_I2L6,
    QK_GEMV_Q4_ISG, /* clgemv23: the streaming forms reading x quantized once for all groups (QUANTA_OPENCL_GEMVS_XG=1) */
    QK_GEMV_Q4_I2SG,
    QK_GEMV_Q8_I2USG,
    QK_GEMV_Q8_IPG,
    QK_I4_QUANT_XG, /* and the launches that quantize it */
    QK_I8_QUANT_XG,
    QK_GEMV_Q4_R1S, /* clgemv23: one row a warp, the whole row one step (QUANTA_OPENCL_GEMVS_R1=1), and with XG */
    QK_GEMV_Q4_R1SG,
    QK_GEMV_Q8_R1S,
    QK_GEMV_Q8_R1SG,
    QK_GEMV_Q4_R1L, /* and in the lean ring walk (QUANTA_OPENCL_GEMVS_R1=2) */
    QK_GEMV_Q8_R1L,
    QK_GEMV_Q8_I2US2, /* clgemv23: _i2us with two steps in flight before x is quantized (QUANTA_OPENCL_GEMVS_P2=1) */
    QK_RMS_NORM_XQ, /* clgemv24: a one-row norm that also leaves the row's int8 form (QUANTA_OPENCL_XQ_NORM=1) */
    QK_GLU_XQ,      /* and a one-row glu */
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
    int cr_divide;       /* CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT: the program is built to divide as IEEE does */
} qn_cl_device;

/* The per-device tuning table (cl_tune.c): one entry per kernel and shape class.
 *   gemv.<fmt>          a = work-items per weight row (1: qn_gemv_rows; 0, q8 only: int8 kernel),
 *                       b = rows per work-group (int8: 4-row tiles per work-group)
 *   gemm.<fmt>.<mclass> a = the M > 8 path (qn_cl_gemm_path)
 *   attention.<phase>   a = 1 for the one-row-per-item kernel (CPUs), 0 for the local tiles
 * fmt is the weight format family (q8, q4, nf4, fp8, dense), mclass the M class (m64: M <= 64,
 * m512: M <= 512, mbig), phase prefill or decode (one query row). */
enum { QN_TF_Q8, QN_TF_Q4, QN_TF_NF4, QN_TF_FP8, QN_TF_DENSE, QN_TF_COUNT };
enum { QN_TM_64, QN_TM_512, QN_TM_BIG, QN_TM_COUNT };
typedef enum qn_cl_gemm_path { QN_GEMM_INT8, QN_GEMM_ROWS, QN_GEMM_LOCAL, QN_GEMM_BLAS, QN_GEMM_PATHS } qn_cl_gemm_path;
#define QN_TUNE_ENTRIES (QN_TF_COUNT + QN_TF_COUNT * QN_TM_COUNT + 2)
typedef struct qn_cl_tune_entry {
    int a, b;
    int measured; /* found by `quanta tune` (else the device class's default) */
} qn_cl_tune_entry;
typedef struct qn_cl_tune {
    qn_cl_tune_entry e[QN_TUNE_ENTRIES];
    int file_entries; /* entries read from the table file and trusted */
    int rebuilt;      /* entries (or a whole file) found corrupt or invalid and replaced */
} qn_cl_tune;

/* A kernel argument as qn_cl_set_args last set it, kept while a capture is open (cl_record.c). */
#define QN_CL_MAX_ARGS 48
#define QN_CL_ARG_BYTES 32 /* the largest value argument: a long4 */
typedef struct qn_cl_arg_copy {
    unsigned char v[QN_CL_ARG_BYTES];
    size_t size;
    int local; /* local memory of `size` bytes */
} qn_cl_arg_copy;
typedef struct qn_cl_rec qn_cl_rec;
typedef struct qn_cl_events qn_cl_events;

/* rope's frequencies base^(-2i/rot), i < rot/2, per (base, rot), made on the host in double
 * (cl_ops.c): the kernel then forms an angle with one multiply instead of a double exp2 and
 * log2 per pair (8 of a decode rope's 15 us on PoCL). Kept until close, never evicted (a
 * recording's kernels hold the buffers); when all slots are taken the kernel computes. */
#define QN_CL_ROPE_TABLES 8
typedef struct qn_cl_rope_freq {
    float base;
    cl_ulong rot;
    cl_mem mem;
    size_t bytes;
} qn_cl_rope_freq;

#define QN_CL_ATTN_COUNTERS 4096
typedef struct qn_cl {
    qn_cl_device dev;
    cl_context ctx;
    cl_command_queue queue;
    cl_program program;
    cl_kernel k[QK_COUNT];
    qn_mem_stats *stats;
    int have_blas;
    int force_attention; /* -1, or 1 rows / 0 local tiles (QUANTA_OPENCL_ATTENTION) */
    int cpu_rows;        /* row ops (rms_norm, softmax): one work-item per row, no local memory */
    int force_path;      /* M > 8: -1 = the tuning table's, else a qn_cl_gemm_path (QUANTA_OPENCL_GEMM) */
    int force_gemv_lws, force_gemv_rows; /* 0, or QUANTA_OPENCL_GEMV_LWS / _ROWS */
    int gpu_class;       /* kernels chosen as for a GPU (QUANTA_OPENCL_CLASS=gpu|cpu overrides the device type) */
    int norm_gemv;       /* one-row norms held for the GEMV that reads them (QUANTA_OPENCL_NORM_GEMV, cl_norm_gemv.c) */
    int xq_norm;         /* QUANTA_OPENCL_XQ_NORM: 0, 1 or 2 (cl_norm_gemv.c) */
    qn_cl_tune tune;
    const char *program_origin; /* "cache", "spir-v" or "source": how the program was made */
    int vnni;            /* the program was built with QN_X86_VNNI (vpdpbusd by inline assembly) */
    int nv_ptx;          /* the program was built with QN_NV_PTX (mma.sync / dp4a by inline PTX, NVIDIA only) */
    char build_opts[192]; /* the option set the program is built with (cl_program.c build_options) */
    cl_mem err_flag;     /* int[4]: checks kernels make on device-side arguments (qn_report in common.cl) */
    cl_mem arena;        /* CPU devices: the huge-page chunk small buffers are cut from (cl_backend.c) */
    size_t arena_used;
    qn_cl_rope_freq rope_freq[QN_CL_ROPE_TABLES];
    int n_rope_freq;
    qn_cl_rec *rec;      /* the open capture (cl_record.c), else NULL */
    qn_cl_events *events; /* QUANTA_OPENCL_EVENTS (cl_events.c), else NULL */
    cl_mem attn_cnt;      /* qn_attention_dec's fused combine: QN_CL_ATTN_COUNTERS ints, 0 between launches */
    int async_write;      /* small writes enqueued without waiting, from copies (cl_backend.c ocl_write) */
    void **stage;         /* those copies, freed once the queue is known drained */
    int nstage, stage_cap;
    size_t stage_bytes;
    int glu_pend;         /* a one-row glu held for the GEMV that reads it (QUANTA_OPENCL_XQ_NORM=1, cl_norm_gemv.c) */
    qn_node glu_node;
    int norm_pend;        /* a norm node held for the GEMV that reads it (cl_norm_gemv.c): norm_node */
    qn_node norm_node;
    int mm_pend;          /* a q8 GEMV held for the add_norm after it (cl_norm_gemv.c): mm_node */
    qn_node mm_node;
    qn_tensor ng_copy;    /* cl_norm_gemv.c's own copy of a GEMV's result (its mem.handle NULL until made) */
    cl_mem xq_mem;        /* QUANTA_OPENCL_XQ_NORM=1 (cl_norm_gemv.c): the int8 form of a norm's row, made on first use */
    int xq_valid;         /* xq_mem holds the int8 form (q4's layout if xq_q4, else q8's) of the K floats at xq_src + */
    int xq_q4;            /* xq_off, written by the norm launched last, read by the GEMVs after it */
    cl_mem xq_src;
    cl_ulong xq_off;
    int64_t xq_K;
    int rec_nargs[QK_COUNT];
    qn_cl_arg_copy rec_args[QK_COUNT][QN_CL_MAX_ARGS];
} qn_cl;

/* A device scratch allocation booked on the backend's memory account. */
typedef struct qn_cl_scratch {
    cl_mem mem;
    size_t bytes;
} qn_cl_scratch;

/* cl_tune.c */
/* Fills s->tune: the device class's defaults, then every valid entry of the table file (an
 * entry failing its checksum or range check is replaced by the default and the file rewritten). */
void qn_cl_tune_load(qn_cl *s);
/* Writes s->tune to the table file (best effort; 0 on success). */
int qn_cl_tune_save(const qn_cl *s);
quanta_status qn_cl_tune_path(const qn_cl_device *d, char *path, size_t len);
/* Table lookups (environment overrides applied). */
void qn_cl_tune_gemv(const qn_cl *s, int fmt, int *lws, int *rows);
qn_cl_gemm_path qn_cl_tune_gemm(const qn_cl *s, int fmt, int64_t M);
int qn_cl_tune_attention_rows(const qn_cl *s, int decode);
/* Entry names and a one-line summary for `quanta info` / `quanta tune`. */
const char *qn_cl_tune_name(int entry, char *buf, size_t len);
int qn_cl_tune_gemv_entry(int fmt_family);
int qn_cl_tune_gemm_entry(int fmt_family, int mclass);
int qn_cl_tune_attention_entry(int decode);
int qn_cl_tune_family(int dtype);
void qn_cl_tune_summary(const qn_cl_tune *t, char *buf, size_t len);
/* The summary for a device not yet opened (`quanta info`): its table as an open would load it. */
void qn_cl_tune_describe(const qn_cl_device *d, char *buf, size_t len);
/* 1 when the device runs the GPU kernels (its type, or QUANTA_OPENCL_CLASS=gpu|cpu). */
int qn_cl_gpu_class(const qn_cl_device *d);
/* the GPU class on NVIDIA's OpenCL: where the int8 GEMM (PTX) and the prefill attention are on by default */
int qn_cl_nvidia_gpu(const qn_cl_device *d);
/* The sweep behind `quanta tune --backend opencl`: times every candidate of every entry and
 * stores the fastest; report gets one line per entry. */
quanta_status qn_cl_tune_sweep(qn_cl *s, quanta_backend *be, int quick, char *report, size_t len);

/* cl_device.c */
quanta_status qn_cl_devices(const qn_cl_device **list, int *count);

/* cl_program.c: builds (or loads from the cache) the program for s->dev and creates kernels. */
#define QN_FNV_SEED 0xcbf29ce484222325ull
uint64_t qn_cl_fnv64(uint64_t h, const void *data, size_t n);
/* The files kept in the cache directory (QUANTA_CACHE_DIR, else $XDG_CACHE_HOME/quanta, else
 * $HOME/.cache/quanta): the program binaries and the tuning tables. qn_cl_cache_file names one:
 * <dir>/<key as 16 hex digits><ext>; `what` starts the error message. qn_cl_cache_store
 * replaces one with what write(f, ctx) writes (it returns 0 when all was written), creating
 * the directory; readers see the old file or the whole new one (formats/safe_write.h). Best
 * effort: returns -1 on any failure, and a cache that cannot be written costs only a rebuild. */
quanta_status qn_cl_cache_file(const char *what, uint64_t key, const char *ext, char *path, size_t len);
int qn_cl_cache_store(const char *path, int (*write)(FILE *f, const void *ctx), const void *ctx);
quanta_status qn_cl_program_load(qn_cl *s);
const char *qn_cl_kernel_name(qn_cl_kernel_id id);
/* Cache file for a key (exposed for the cache test); fills path (size len). */
quanta_status qn_cl_cache_path(const qn_cl *s, char *path, size_t len);

/* cl_record.c: recording a plan's launches once and replaying them (the vtable's capture_*). */
quanta_status qn_cl_capture_begin(void *self);
quanta_status qn_cl_capture_end(void *self, int ok, void **recording);
quanta_status qn_cl_replay(void *self, void *recording, int *valid);
void qn_cl_release_recording(void *self, void *recording);
/* While a capture is open: records a launch of kernel id with the arguments last set. */
quanta_status qn_cl_record_launch(qn_cl *s, qn_cl_kernel_id id, const char *what, cl_uint dims,
                                  const size_t *global, const size_t *local);
/* While a capture is open: the recording takes over scratch the recorded kernels use (1), else 0. */
int qn_cl_record_keep(qn_cl *s, qn_cl_scratch *sc);
/* While a capture is open: lends an idle buffer of the recording of at least `bytes` (1), else 0. */
int qn_cl_record_reuse(qn_cl *s, size_t bytes, qn_cl_scratch *out);
/* QUANTA_OK, or while a capture is open an error: `what` (not a kernel launch) cannot be recorded. */
quanta_status qn_cl_record_refuse(const qn_cl *s, const char *what);

/* cl_events.c: NULL unless QUANTA_OPENCL_EVENTS names a file (then the queue profiles). */
qn_cl_events *qn_cl_events_new(void);
/* Where a launch labelled `what` (a string that lives as long as the backend) stores its event, or NULL. */
cl_event *qn_cl_events_slot(qn_cl *s, const char *what);
/* Waits for the queue and adds the pending events' times to the totals. */
void qn_cl_events_harvest(qn_cl *s);
/* Harvests; the summed device time (ns) of every kernel so far and their count, or -1 without events. */
double qn_cl_events_kernel_ns(qn_cl *s, unsigned long long *kernels);
/* Harvests, appends the table to the file, frees s->events. */
void qn_cl_events_close(qn_cl *s);

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

/* cl_ops.c (the element-wise and row ops have no limits beyond the kernel table) */
quanta_status qn_cl_ops_run(qn_cl *s, const qn_node *node);
quanta_status qn_cl_unary_raw(qn_cl *s, cl_mem x, cl_ulong xo, int xdt, cl_mem y, cl_ulong yo, int ydt, size_t n,
                              int op, float scale);
/* y[T, cols] = rows of table (tm, to, w) dequantized: rows ids[0..T) (i32 at ids + io) or, with
 * ids NULL, rows 0..T-1. y has dtype ydt; what names the launch in errors. */
quanta_status qn_cl_get_rows_raw(qn_cl *s, cl_mem tm, cl_ulong to, const qn_quant_layout *w, cl_mem ids, cl_ulong io,
                                 size_t T, cl_mem y, cl_ulong yo, cl_int ydt, const char *what);

/* cl_matmul.c, cl_attention.c, cl_paged_attention.c: *_supports checks the kernels' own limits
 * (sizes, work-group and local memory) of a node the engine validated and the kernel table
 * (cl_backend.c) lists. */
/* cl_ops.c: rms_norm_rope's group (rot / 2 items) and local memory (a float per row at a position). */
bool qn_cl_rms_norm_rope_supports(qn_cl *s, const qn_node *node);
bool qn_cl_matmul_supports(qn_cl *s, const qn_node *node);
bool qn_cl_prefers_stored(qn_cl *s, const quanta_tensor_desc *w, quanta_dtype alternative);
/* matmul, and matmul_glu (x, w_gate, w_up: both products and the activation in one GEMV). */
quanta_status qn_cl_matmul_run(qn_cl *s, const qn_node *node);
/* The unary kernel's op code (QN_UNARY_*) of a quanta_glu_act: glu and matmul_glu. */
static inline cl_int qn_cl_glu_op(int32_t glu_act) {
    return glu_act == QUANTA_GLU_SILU ? QN_UNARY_SILU : glu_act == QUANTA_GLU_GELU_TANH ? QN_UNARY_GELU_TANH
                                                                                          : QN_UNARY_GELU;
}
quanta_status qn_cl_peer_gemm(qn_cl *s, int64_t m, int64_t n, int64_t k, double *seconds, char *name,
                              size_t name_len);

/* cl_norm_gemv.c: a one-row norm (rms_norm, add_norm, rms_norm_add_norm) run in the prologue of the q8 GEMV
 * that reads its normed row (QUANTA_OPENCL_NORM_GEMV=1). The norm's arguments as the fused kernels take them. */
typedef struct qn_cl_norm_args {
    cl_mem a, b, w, w2, s, y;
    cl_ulong ao, bo, wo, w2o, so, yo;
    cl_int hasw, hasw2, mode, plus_one;
    cl_float eps;
    int64_t D;
} qn_cl_norm_args;
/* Reads QUANTA_OPENCL_NORM_GEMV and QUANTA_OPENCL_XQ_NORM into s (once, at open; after s->gpu_class is set). */
void qn_cl_norm_gemv_switches(qn_cl *s);
/* ocl_run's hook: runs node (a fused pair, or the held norm first), or holds a norm node; *done says it did. */
quanta_status qn_cl_norm_gemv_step(qn_cl *s, const qn_node *node, int *done);
/* The held norm's own launch (before any other queue work: read, write, synchronize, capture end, replay). */
quanta_status qn_cl_norm_flush(qn_cl *s);
/* QUANTA_OPENCL_XQ_NORM=1 (cl_norm_gemv.c, clgemv24): ocl_run's check before each node (the int8 form stays valid only
 * through the GEMVs that read its row and write elsewhere), and the int8 form's end at any other queue work that may
 * write device memory or start or end a recording (write, free, capture begin / end, replay). */
void qn_cl_xq_note(qn_cl *s, const qn_node *node);
void qn_cl_xq_drop(qn_cl *s);
/* cl_ops.c: the norm node (rms_norm, add_norm, rms_norm_add_norm; one row, GPU class) through qn_rms_norm_xq, its normed
 * row's int8 form into qb (offset 0; q4's chunks if q4, else q8's pieces). */
quanta_status qn_cl_norm_run_xq(qn_cl *s, const qn_node *node, cl_mem qb, int q4);
/* cl_ops.c: a glu node (f32, one row) through qn_glu, or qn_glu_xq (qb not NULL) leaving its result's int8 form in qb. */
quanta_status qn_cl_glu_run_xq(qn_cl *s, const qn_node *node, cl_mem qb, int q4);
/* cl_matmul.c: the int8 layout (1 q4's, 2 q8's) in which the GEMV node would read its x pre-quantized (the XG forms),
 * or 0 where it would not (another kernel, M > 1, a shape the XG forms do not take). */
int qn_cl_matmul_xq_form(qn_cl *s, const qn_node *node);
/* Frees cl_norm_gemv.c's own buffer (close). */
void qn_cl_norm_gemv_close(qn_cl *s);
/* cl_matmul.c: mm (matmul / matmul_multi / matmul_glu, q8, M = 1) through qn_gemv_q8_m1n(_glu) with x the
 * norm's result; QUANTA_ERR_UNSUPPORTED (nothing launched, no message) where that kernel does not apply. */
quanta_status qn_cl_matmul_run_normed(qn_cl *s, const qn_node *mm, const qn_cl_norm_args *na);
/* mm (matmul, q8, M = 1, f32 x and y) through qn_gemv_q8_m1r: its result and res = result + r (r NULL: the result)
 * stored;
 * QUANTA_ERR_UNSUPPORTED (nothing launched, no message) where that kernel does not apply. */
quanta_status qn_cl_matmul_run_residual(qn_cl *s, const qn_node *mm, const qn_tensor *r, const qn_tensor *res);

/* cl_attention.c */
bool qn_cl_attention_supports(qn_cl *s, const qn_node *node);
quanta_status qn_cl_attention_run(qn_cl *s, const qn_node *node);

/* cl_paged_attention.c */
bool qn_cl_paged_attention_supports(qn_cl *s, const qn_node *node);
quanta_status qn_cl_paged_attention_run(qn_cl *s, const qn_node *node);
/* write_rows into a quantized (q8 / fp8_e4m3) KV pool: rows quantized on the device */
quanta_status qn_cl_kv_write_run(qn_cl *s, const qn_node *node);

#endif
