/*
 * quanta.h — the one public header of Quanta, a portable compute engine for
 * large-language-model inference.
 *
 * How to use it (see examples/ for a complete program):
 *   1. open a backend:            quanta_backend_open("ref", &be)   ("opencl", "cuda", "best")
 *   2. build a graph of ops:      quanta_graph_create, quanta_graph_input, quanta_matmul, ...
 *   3. mark what you want back:   quanta_graph_output
 *   4. plan it for the backend:   quanta_plan_create (orders ops, plans memory, picks fallbacks)
 *   5. run it:                    quanta_plan_set_input, quanta_plan_execute, quanta_plan_get_output
 *
 * Errors: every fallible call returns a quanta_status; on failure quanta_last_error()
 * returns a thread-local message that names the offending argument. Quanta never prints,
 * aborts or exits on bad input.
 *
 * Threads: the backend registry is initialised once, thread-safely, on first use. All other
 * objects (backends, buffers, graphs, plans, models) are NOT internally synchronised: use one
 * object from one thread at a time. Objects derived from distinct backend handles share no
 * state and may be used from different threads at once; open one backend per thread.
 * quanta_quantize/quanta_dequantize and the conversion helpers are pure and thread-safe.
 *
 * Layout: tensors are dense, row-major, the last dimension contiguous, up to 4 dimensions.
 * Quantized tensors are 2-D weight matrices W[rows, cols] (rows = N outputs, cols = K),
 * quantized along cols; their byte layout is the interchange layout documented below.
 */
#ifndef QUANTA_H
#define QUANTA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(QUANTA_BUILDING_SHARED)
#define QUANTA_API __declspec(dllexport)
#elif defined(__GNUC__)
#define QUANTA_API __attribute__((visibility("default")))
#else
#define QUANTA_API
#endif

#define QUANTA_VERSION_MAJOR 0
#define QUANTA_VERSION_MINOR 1
#define QUANTA_VERSION_PATCH 0
#define QUANTA_VERSION_STRING "0.1.0"
/* Encoded as major*10000 + minor*100 + patch. */
#define QUANTA_VERSION_NUMBER (QUANTA_VERSION_MAJOR * 10000 + QUANTA_VERSION_MINOR * 100 + QUANTA_VERSION_PATCH)

#define QUANTA_MAX_DIMS 4

/* ------------------------------------------------------------------ status */

typedef enum quanta_status {
    QUANTA_OK = 0,
    QUANTA_ERR_INVALID_ARGUMENT = 1, /* NULL, wrong shape, wrong dtype, bad value */
    QUANTA_ERR_UNSUPPORTED = 2,      /* valid request this backend/format cannot do */
    QUANTA_ERR_OUT_OF_MEMORY = 3,    /* host or device allocation failed */
    QUANTA_ERR_OVERFLOW = 4,         /* a size computation would overflow */
    QUANTA_ERR_IO = 5,               /* file could not be opened/read/written */
    QUANTA_ERR_CORRUPT = 6,          /* malformed, truncated or hostile file contents */
    QUANTA_ERR_NO_DEVICE = 7,        /* backend present but no usable device/driver */
    QUANTA_ERR_BACKEND = 8,          /* error reported by a device runtime (message has it) */
    QUANTA_ERR_STATE = 9             /* call not valid in the object's current state */
} quanta_status;

/* Thread-local description of the last failure on this thread ("" if none). Never NULL. */
QUANTA_API const char *quanta_last_error(void);
/* Static name of a status, e.g. "QUANTA_ERR_INVALID_ARGUMENT". Never NULL. */
QUANTA_API const char *quanta_status_name(quanta_status status);
/* Runtime version: "MAJOR.MINOR.PATCH"; number as QUANTA_VERSION_NUMBER. */
QUANTA_API const char *quanta_version(void);
QUANTA_API int quanta_version_number(void);

/* ------------------------------------------------------- dtypes and formats */

typedef enum quanta_dtype {
    QUANTA_F32 = 0,
    QUANTA_F16 = 1,
    QUANTA_BF16 = 2,
    QUANTA_I32 = 3,      /* token ids, positions, key lengths */
    QUANTA_U8 = 4,       /* boolean masks: 0 = masked out, nonzero = visible */
    /* Quantized weight formats (2-D only; q8 and fp8 also 3-D/4-D, a scale per row of the last
     * dim, which is how a quantized paged KV pool is stored). */
    QUANTA_Q8 = 16,      /* int8 symmetric, one f32 scale per row */
    QUANTA_Q4 = 17,      /* int4 asymmetric, group-wise along cols: f16 scale + 4-bit zero */
    QUANTA_NF4 = 18,     /* NormalFloat-4 code book, blocks of 64 along cols, f32 absmax */
    QUANTA_FP8_E4M3 = 19,/* OCP E4M3 "fn" (max 448, no Inf), one f32 scale per row */
    QUANTA_FP8_E5M2 = 20,/* OCP E5M2 (IEEE-like, has Inf), one f32 scale per row */
    /* ggml block formats (2-D only), byte for byte as in GGUF files: rows of blocks along cols
     * (cols a multiple of the block: 32, or 256 for the K formats). A GGUF model keeps them. */
    QUANTA_GGML_Q4_0 = 32, /* 32 weights: f16 d, 16 B nibbles; w = d * (q - 8) */
    QUANTA_GGML_Q4_1 = 33, /* 32: f16 d, f16 m, nibbles; w = d * q + m */
    QUANTA_GGML_Q5_0 = 34, /* 32: f16 d, 32 high bits, nibbles; w = d * (q - 16) */
    QUANTA_GGML_Q5_1 = 35, /* 32: f16 d, f16 m, high bits, nibbles; w = d * q + m */
    QUANTA_GGML_Q8_0 = 36, /* 32: f16 d, 32 int8; w = d * q */
    QUANTA_GGML_Q4_K = 37, /* 256: f16 d, dmin, 6-bit scales/mins of 8 sub-blocks, nibbles */
    QUANTA_GGML_Q5_K = 38, /* 256: as q4_k plus 32 B of high bits */
    QUANTA_GGML_Q6_K = 39  /* 256: 4+2-bit codes, int8 scales of 16 sub-blocks, f16 d */
} quanta_dtype;

/*
 * A tensor's type and shape. `group` is the q4 group size (32, 64 or 128) or the nf4 block
 * size (64); 0 means the format's default (q4: 64, nf4: 64) and is ignored by other types.
 * `double_quant` (nf4 only) stores the absmax values quantized to 8 bits in blocks of 256.
 */
typedef struct quanta_tensor_desc {
    quanta_dtype dtype;
    int32_t ndim;
    int64_t dims[QUANTA_MAX_DIMS];
    int32_t group;
    int32_t double_quant;
} quanta_tensor_desc;

/* Name such as "f32", "q4", "fp8_e4m3"; NULL for an unknown value. */
QUANTA_API const char *quanta_dtype_name(quanta_dtype dtype);
/* Parses a name as printed by quanta_dtype_name (also "fp8" = fp8_e4m3). */
QUANTA_API quanta_status quanta_dtype_parse(const char *name, quanta_dtype *out);
/* Bytes the tensor occupies in the interchange layout (overflow-checked). */
QUANTA_API quanta_status quanta_tensor_bytes(const quanta_tensor_desc *desc, size_t *bytes);

/*
 * Interchange byte layouts of quantized matrices W[rows][cols] (little-endian):
 *   q8:       int8  q[rows][cols]            then f32 scale[rows]
 *             w = q * scale; scale = max|w_row| / 127; q = clamp(rne(w/scale), -127, 127)
 *   q4:       u8    packed[rows][cols/2]     (low nibble = even col)
 *             then f16 scale[rows][cols/g]   then u8 zero[rows][ceil(cols/g/2)] (nibbles, low first)
 *             w = (q - zero) * scale; q in [0,15]; cols % g == 0
 *   nf4:      u8    packed[rows][cols/2]     (low nibble = even col, codes into the NF4 book)
 *             then f32 absmax[rows][cols/64]             (double_quant = 0)
 *             or   u8 qabsmax[nb] + f32 dq_scale[ceil(nb/256)] + f32 dq_mean   (double_quant = 1)
 *             w = book[code] * absmax; cols % 64 == 0
 *   fp8_e4m3, fp8_e5m2: u8 code[rows][cols] then f32 scale[rows]; w = decode(code) * scale
 * formats/README.md documents rounding and saturation for each in full.
 */

/* Quantizes f32 src[rows][cols] into dst (dst_bytes >= quanta_tensor_bytes(desc)). */
QUANTA_API quanta_status quanta_quantize(const quanta_tensor_desc *desc, const float *src,
                                         void *dst, size_t dst_bytes);
/* Dequantizes (or converts) a tensor of any dtype into f32 dst (count elements). */
QUANTA_API quanta_status quanta_dequantize(const quanta_tensor_desc *desc, const void *src,
                                           size_t src_bytes, float *dst, size_t dst_count);

/* Scalar conversions, round half to even; NaN stays NaN. */
QUANTA_API uint16_t quanta_f32_to_f16(float x);
QUANTA_API float quanta_f16_to_f32(uint16_t h);
QUANTA_API uint16_t quanta_f32_to_bf16(float x);
QUANTA_API float quanta_bf16_to_f32(uint16_t b);

/* ------------------------------------------------------------------ backends */

typedef struct quanta_backend quanta_backend;

typedef struct quanta_device_info {
    char backend[16];        /* "ref", "opencl", "cuda" */
    int32_t index;           /* device index within the backend */
    char name[128];          /* device name */
    char vendor[64];
    char driver[64];         /* driver / runtime version */
    uint64_t memory_bytes;   /* device memory (0 if unknown) */
    int32_t compute_units;
    int32_t has_fp16;        /* native fp16 arithmetic */
    int32_t has_subgroups;
    char details[512];       /* free-form capability summary for `quanta info` */
} quanta_device_info;

/* Number of devices each compiled-in backend offers, summed; the list is built once. */
QUANTA_API quanta_status quanta_device_count(int *count);
/* Information on device i of the flattened list (0 <= i < count). */
QUANTA_API quanta_status quanta_device_get(int i, quanta_device_info *info);
/* Names of backends compiled into this library, comma separated (e.g. "ref,opencl,cuda"). */
QUANTA_API const char *quanta_backends_compiled(void);

/*
 * Opens a backend. spec: "ref", "opencl", "opencl:N", "opencl:NAME-SUBSTRING", "cuda",
 * "cuda:N", or "best" (cuda, else opencl, else ref). "opencl" and "best" honour
 * QUANTA_OPENCL_DEVICE (index or name substring); "opencl:N" overrides it.
 * Returns QUANTA_ERR_UNSUPPORTED if the backend was not compiled in and
 * QUANTA_ERR_NO_DEVICE if it was but no device is usable.
 */
QUANTA_API quanta_status quanta_backend_open(const char *spec, quanta_backend **out);
QUANTA_API void quanta_backend_close(quanta_backend *backend);
QUANTA_API quanta_status quanta_backend_device(const quanta_backend *backend, quanta_device_info *info);
/* Limits device memory the backend may allocate (0 = no limit); exceeding it fails with
 * QUANTA_ERR_OUT_OF_MEMORY. Used to prove bounded memory use. */
QUANTA_API quanta_status quanta_backend_set_memory_limit(quanta_backend *backend, uint64_t bytes);
/* Bytes currently allocated and the high-water mark since open / last reset (either pointer may
 * be NULL). */
QUANTA_API quanta_status quanta_backend_memory_stats(const quanta_backend *backend,
                                                    uint64_t *in_use, uint64_t *peak);
QUANTA_API void quanta_backend_reset_peak(quanta_backend *backend);
/* 1 when the backend runs matmuls on weights of this descriptor (format and shape) itself, 0
 * when the executor would send them to the reference backend (or the descriptor is invalid). */
QUANTA_API int quanta_backend_runs_weight(quanta_backend *backend, const quanta_tensor_desc *weight);
/* 1 when the backend runs matmuls on weights stored as `stored` (a 2-D descriptor: format and
 * shape) itself and its one-row (decode) matmul on them is at least as fast as on the same
 * matrix quantized to `alternative` on this device class and the backend's settings allow it
 * (OpenCL on x86 CPUs with AVX-512 VNNI under QUANTA_OPENCL_KEEP_Q5_0=1: ggml Q5_0 against q8;
 * see bench/NOTES.md section 1 v9), else 0 (also for NULL or invalid
 * arguments). quanta_model_params.keep_preferred loads such weights as the file stores them. */
QUANTA_API int quanta_backend_prefers_weight(quanta_backend *backend, const quanta_tensor_desc *stored,
                                             quanta_dtype alternative);
/* Measures the backend's kernel variants and work-group shapes on its device and stores the
 * fastest in the device's tuning table (OpenCL: next to the program cache, keyed by device and
 * driver; later opens use it). quick != 0: smaller shapes. report (report_len bytes, may be
 * NULL) receives one line per table entry. QUANTA_ERR_UNSUPPORTED for backends without a
 * tuning table (ref, cuda). */
QUANTA_API quanta_status quanta_backend_tune(quanta_backend *backend, int quick, char *report, size_t report_len);

/* ------------------------------------------------------------------- buffers */

/*
 * A buffer is a persistent tensor living on a backend's device: weights uploaded once, a KV
 * cache that outlives a single graph. Graphs reference buffers through quanta_graph_buffer.
 * Contents start zeroed. A buffer must outlive every plan that references it.
 */
typedef struct quanta_buffer quanta_buffer;
QUANTA_API quanta_status quanta_buffer_create(quanta_backend *backend, const quanta_tensor_desc *desc,
                                              quanta_buffer **out);
QUANTA_API void quanta_buffer_destroy(quanta_buffer *buffer);
/* Writes/reads the whole tensor in the interchange layout; bytes must equal its size. */
QUANTA_API quanta_status quanta_buffer_write(quanta_buffer *buffer, const void *data, size_t bytes);
QUANTA_API quanta_status quanta_buffer_read(const quanta_buffer *buffer, void *data, size_t bytes);
QUANTA_API quanta_status quanta_buffer_desc(const quanta_buffer *buffer, quanta_tensor_desc *desc);

/* -------------------------------------------------------------------- graphs */

typedef struct quanta_graph quanta_graph;
/* A node's result; owned by its graph, valid until quanta_graph_destroy. */
typedef struct quanta_tensor quanta_tensor;

QUANTA_API quanta_status quanta_graph_create(quanta_graph **out);
QUANTA_API void quanta_graph_destroy(quanta_graph *graph);

/* A tensor whose data is given to each run with quanta_plan_set_input. name may be NULL. */
QUANTA_API quanta_status quanta_graph_input(quanta_graph *g, const char *name,
                                            const quanta_tensor_desc *desc, quanta_tensor **out);
/* A constant: data (interchange layout, exactly quanta_tensor_bytes) is copied now. */
QUANTA_API quanta_status quanta_graph_constant(quanta_graph *g, const char *name,
                                               const quanta_tensor_desc *desc, const void *data,
                                               size_t bytes, quanta_tensor **out);
/* A persistent device buffer; the graph can only be planned on the buffer's backend. */
QUANTA_API quanta_status quanta_graph_buffer(quanta_graph *g, quanta_buffer *buffer, quanta_tensor **out);
/* Marks a tensor as a result to read back after execution. */
QUANTA_API quanta_status quanta_graph_output(quanta_graph *g, quanta_tensor *t);
QUANTA_API quanta_status quanta_tensor_get_desc(const quanta_tensor *t, quanta_tensor_desc *desc);
QUANTA_API int quanta_graph_node_count(const quanta_graph *g);

/* --------------------------------------------------------------------- ops
 * Activations are f32, f16 or bf16; an op's result has its first input's dtype unless
 * stated. Every op checks its arguments when added and names the bad one on failure. */

/* y[M,N] = x[M,K] · W[N,K]^T; W in any dtype/format; x may have leading dims (flattened). */
QUANTA_API quanta_status quanta_matmul(quanta_graph *g, quanta_tensor *x, quanta_tensor *w,
                                       quanta_tensor **out);

typedef struct quanta_attention_params {
    float scale;          /* multiplies q·k; 0 means 1/sqrt(D) */
    int32_t causal;       /* query i of Nq sees keys j <= L - Nq + i (L = key length) */
    int32_t window;       /* > 0: additionally only keys j > L - Nq + i - window */
} quanta_attention_params;

/*
 * out[B,Hq,Nq,D] = softmax(scale · q·kᵀ + masking) · v with q[B,Hq,Nq,D], k,v[B,Hkv,Nk,D],
 * Hq % Hkv == 0 (query head h uses kv head h / (Hq/Hkv)).
 * mask (optional, NULL): u8 [Nq,Nk] or [B,Nq,Nk]; 0 hides a key. kv_lens (optional, NULL):
 * i32 [B], key length L_b <= Nk per sequence (keys >= L_b ignored; L = Nk when NULL).
 * A query row that sees no key at all yields zeros.
 */
QUANTA_API quanta_status quanta_attention(quanta_graph *g, quanta_tensor *q, quanta_tensor *k,
                                          quanta_tensor *v, quanta_tensor *mask, quanta_tensor *kv_lens,
                                          const quanta_attention_params *params, quanta_tensor **out);

/*
 * Attention over a paged KV cache (what a server batching many sequences uses): out[S,Hq,T,D]
 * for S sequences of T new queries each. Keys and values live in pools k_pool, v_pool
 * [1, Hkv, R, D] of R = n_blocks * block_size rows, block b holding rows [b*block_size,
 * (b+1)*block_size). block_table i32 [S, MB]: key position j of sequence s is in block
 * block_table[s][j / block_size], row offset j % block_size. kv_lens i32 [S]: the keys of each
 * sequence, T <= L_s <= MB * block_size; query t of sequence s sits at position L_s - T + t.
 * params as for quanta_attention (scale, causal, window). Entries of blocks no query can see
 * (all before a sliding window) may be -1; a visible entry outside [0, n_blocks) or a length
 * outside its range fails the run with QUANTA_ERR_INVALID_ARGUMENT. k_pool and v_pool share a
 * dtype: q's (f32, f16, bf16), or a quantized KV cache of any float q: q8 (int8) or fp8_e4m3, a
 * [1, Hkv, R, D] tensor of the format with one f32 scale per row of D (per head and position;
 * quanta_write_rows quantizes rows into it). Hq % Hkv == 0 (query head h uses kv head h / (Hq/Hkv)).
 */
QUANTA_API quanta_status quanta_paged_attention(quanta_graph *g, quanta_tensor *q, quanta_tensor *k_pool,
                                                quanta_tensor *v_pool, quanta_tensor *block_table,
                                                quanta_tensor *kv_lens, int32_t block_size,
                                                const quanta_attention_params *params, quanta_tensor **out);

/* y = x / sqrt(mean(x², last dim) + eps) * (weight or 1 + weight); weight f32 [D] or NULL. */
QUANTA_API quanta_status quanta_rms_norm(quanta_graph *g, quanta_tensor *x, quanta_tensor *weight,
                                         float eps, int32_t weight_plus_one, quanta_tensor **out);
/* The residual add fused into the norm: y = rms_norm(a + b) as above, the sum taken in f32
 * (not rounded to a's dtype first). b must have a's dtype and shape. One pass over memory
 * instead of three; the sum itself is not returned (use quanta_add where it is needed). */
QUANTA_API quanta_status quanta_add_rms_norm(quanta_graph *g, quanta_tensor *a, quanta_tensor *b,
                                             quanta_tensor *weight, float eps, int32_t weight_plus_one,
                                             quanta_tensor **out);
/* The post-norm residual (Gemma's post-attention and post-MLP norms): y = r + rms_norm(x) with
 * weight as quanta_rms_norm computes it, the normed value kept in f32 (not rounded to x's
 * dtype) before the add. r must have x's dtype and shape. Plans fuse an rms_norm feeding an
 * add this way themselves where the backend has the kernel. */
QUANTA_API quanta_status quanta_rms_norm_add(quanta_graph *g, quanta_tensor *x, quanta_tensor *r,
                                             quanta_tensor *weight, float eps, int32_t weight_plus_one,
                                             quanta_tensor **out);

typedef enum quanta_rope_mode {
    QUANTA_ROPE_NORM = 0, /* rotate adjacent pairs (x[2i], x[2i+1]): LLaMA as stored in GGUF */
    QUANTA_ROPE_NEOX = 1  /* rotate halves (x[i], x[i+D/2]): NeoX, HF LLaMA, Gemma */
} quanta_rope_mode;

typedef struct quanta_rope_params {
    quanta_rope_mode mode;
    float theta_base;     /* e.g. 10000 */
    float freq_scale;     /* positions are multiplied by this (linear scaling); 0 means 1 */
    int32_t rot_dims;     /* leading dims of D that rotate; 0 means all of D */
} quanta_rope_params;

/* x[B,H,N,D], positions i32 [N]: rotates each row by its position. */
QUANTA_API quanta_status quanta_rope(quanta_graph *g, quanta_tensor *x, quanta_tensor *positions,
                                     const quanta_rope_params *params, quanta_tensor **out);
/* q/k norms with their rope: y = rope(rms_norm(x, weight), positions), x [B,H,N,D], as
 * quanta_rms_norm then quanta_rope except that the normed value is not rounded to x's dtype
 * before the rotation. weight f32 [D] or NULL, eps and weight_plus_one as quanta_rms_norm's,
 * positions and params as quanta_rope's. Plans fuse an rms_norm feeding a rope this way
 * themselves where the backend has the kernel. */
QUANTA_API quanta_status quanta_rms_norm_rope(quanta_graph *g, quanta_tensor *x, quanta_tensor *weight, float eps,
                                              int32_t weight_plus_one, quanta_tensor *positions,
                                              const quanta_rope_params *params, quanta_tensor **out);

QUANTA_API quanta_status quanta_silu(quanta_graph *g, quanta_tensor *x, quanta_tensor **out);
/* tanh approximation when approximate != 0, else the exact erf form. */
QUANTA_API quanta_status quanta_gelu(quanta_graph *g, quanta_tensor *x, int32_t approximate,
                                     quanta_tensor **out);
/* Element-wise; b may also be a row [last dim of a] broadcast over a's rows. */
QUANTA_API quanta_status quanta_add(quanta_graph *g, quanta_tensor *a, quanta_tensor *b, quanta_tensor **out);
QUANTA_API quanta_status quanta_mul(quanta_graph *g, quanta_tensor *a, quanta_tensor *b, quanta_tensor **out);
/* The activation of a gated MLP (SwiGLU, GeGLU): y = act(gate) * up, element-wise; up has
 * gate's dtype and shape (no broadcast), y too. The same as quanta_silu / quanta_gelu then
 * quanta_mul, except that act(gate) is not rounded to the dtype before the product. Plans
 * fuse an activation feeding a mul this way themselves where the backend has the kernel. */
typedef enum quanta_glu_act {
    QUANTA_GLU_SILU = 0,     /* x / (1 + e^-x) */
    QUANTA_GLU_GELU = 1,     /* exact erf form, as quanta_gelu(approximate = 0) */
    QUANTA_GLU_GELU_TANH = 2 /* tanh approximation, as quanta_gelu(approximate = 1) */
} quanta_glu_act;
QUANTA_API quanta_status quanta_glu(quanta_graph *g, quanta_tensor *gate, quanta_tensor *up, quanta_glu_act act,
                                    quanta_tensor **out);
/* A gated MLP's two projections and its activation in one op: y = act(x·w_gate^T) * (x·w_up^T),
 * as quanta_matmul twice then quanta_glu, except that neither product is rounded to x's dtype
 * before the activation. w_up has w_gate's format and shape [N, K]; y is x's with N last. Plans
 * fuse two matmuls of one x feeding a glu this way themselves where the backend has the kernel. */
QUANTA_API quanta_status quanta_matmul_glu(quanta_graph *g, quanta_tensor *x, quanta_tensor *w_gate,
                                           quanta_tensor *w_up, quanta_glu_act act, quanta_tensor **out);
/* y = x * s */
QUANTA_API quanta_status quanta_scale(quanta_graph *g, quanta_tensor *x, float s, quanta_tensor **out);
/* Softmax over the last dimension. */
QUANTA_API quanta_status quanta_softmax(quanta_graph *g, quanta_tensor *x, quanta_tensor **out);
/* out (i32, x's shape with the last dim 1) = the index of the largest element of each row of x
 * (f32, f16 or bf16) over its last dim: the first one where several tie, a +Inf before any finite
 * value; -1 for a row holding a NaN, or -Inf only (no element can be chosen). A greedy decoder's
 * next tokens, computed where the logits are so that only the indices are read back. */
QUANTA_API quanta_status quanta_argmax(quanta_graph *g, quanta_tensor *x, quanta_tensor **out);
/* out[T,D] (f32) = table[ids[t], :]; table [V,D] of any dtype/format; ids i32 [T]. */
QUANTA_API quanta_status quanta_get_rows(quanta_graph *g, quanta_tensor *table, quanta_tensor *ids,
                                         quanta_tensor **out);
/* Same elements, new shape (element count must match); no copy. */
QUANTA_API quanta_status quanta_reshape(quanta_graph *g, quanta_tensor *x, int32_t ndim,
                                        const int64_t *dims, quanta_tensor **out);
/* out.dims[i] = x.dims[perm[i]] (a copy). */
QUANTA_API quanta_status quanta_permute(quanta_graph *g, quanta_tensor *x, const int32_t *perm,
                                        quanta_tensor **out);
/* Converts between f32, f16 and bf16. */
QUANTA_API quanta_status quanta_convert(quanta_graph *g, quanta_tensor *x, quanta_dtype dtype,
                                        quanta_tensor **out);
/*
 * Writes src[B,H,T,D] into a buffer tensor dst[B,H,Nmax,D] at rows start[0] .. start[0]+T-1
 * (start: i32 [1], read at run time), e.g. appending to a KV cache; or, with start i32 [T],
 * row t of src into dst row start[t] (a scatter: one new KV row for each of many sequences of a
 * paged cache in one op; a row named twice ends up holding unspecified values). out is dst
 * after the write: ops that must see the new rows take out, not dst. Rows past Nmax (or a negative
 * start) are an error, reported when the plan runs; the rows of dst the op would write are then
 * unspecified (the reference checks before writing any, a device kernel skips only the bad rows).
 * src and dst share a float dtype, or dst is a q8 / fp8_e4m3 KV pool and src any float dtype:
 * each written row of D is quantized on its own (its f32 scale = max|x| / 127 or / 448, codes
 * rounded half to even, formats/README.md), and no other row or scale of dst changes.
 */
QUANTA_API quanta_status quanta_write_rows(quanta_graph *g, quanta_tensor *dst, quanta_tensor *src,
                                           quanta_tensor *start, quanta_tensor **out);

/* --------------------------------------------------------- tensor parallelism
 * Megatron-style sharding of weight matrices for tensor parallelism. Shards are cut straight
 * from the interchange layout, along whole rows or whole quantization groups, so every shard
 * dequantizes bit for bit like the matching slice of the unsharded weight (nf4 with double
 * quantization becomes plain nf4 carrying the exact effective absmax values). */

typedef enum quanta_shard_axis {
    QUANTA_SHARD_ROWS = 0, /* split W[N,K] along N: column-parallel (q/k/v, gate/up) */
    QUANTA_SHARD_COLS = 1  /* split W[N,K] along K: row-parallel (o, down); partial sums all-reduced */
} quanta_shard_axis;

/* Descriptor of shard `rank` of `world`. Rows split as evenly as possible (the first N % world
 * shards get one more row); cols must split into whole groups: K % (world * group) == 0. */
QUANTA_API quanta_status quanta_shard_desc(const quanta_tensor_desc *desc, quanta_shard_axis axis, int rank,
                                           int world, quanta_tensor_desc *out);
/* First row or column of shard `rank` along the axis. */
QUANTA_API quanta_status quanta_shard_offset(const quanta_tensor_desc *desc, quanta_shard_axis axis, int rank,
                                             int world, int64_t *first);
/* Writes shard `rank` (interchange layout of quanta_shard_desc's result) into out. */
QUANTA_API quanta_status quanta_shard_weight(const quanta_tensor_desc *desc, const void *data, size_t bytes,
                                             quanta_shard_axis axis, int rank, int world, void *out,
                                             size_t out_bytes);

/* ------------------------------------------------- tensor parallelism (model)
 * A model split Megatron-style over `world` ranks: each rank holds its share of the attention
 * heads and of the MLP's inner dimension, and the ranks sum their partial results with one
 * all-reduce after the attention output projection and one after the MLP down projection.
 * Ranks talk through a communicator. quanta_comm_create_local links `world` communicators for
 * threads of one process (one rank per thread, each with its own backend handle): the sum is
 * taken on the host in rank order, in double, so every rank gets the same bits run after run.
 * Every rank must run the same graphs in the same order; a rank that stops early must call
 * quanta_comm_abort (tensor-parallel models do it themselves when an eval fails). */

typedef struct quanta_comm quanta_comm;

/* Makes `world` (1..256) linked communicators: comms[r] is rank r's, for its own thread. */
QUANTA_API quanta_status quanta_comm_create_local(int world, quanta_comm **comms);
/* Releases one rank's communicator (each rank destroys its own; the shared state goes with the last). */
QUANTA_API void quanta_comm_destroy(quanta_comm *comm);
/* This end's rank and the group's size (either pointer may be NULL). */
QUANTA_API quanta_status quanta_comm_rank(const quanta_comm *comm, int *rank, int *world);
/* Marks the whole group failed: every rank waiting in an all-reduce, and every later one,
 * returns QUANTA_ERR_STATE instead of waiting. A tensor-parallel model calls it when an eval
 * fails on its rank, so a failing rank cannot leave the others waiting; the group is then
 * unusable (make a new one). */
QUANTA_API void quanta_comm_abort(quanta_comm *comm);

/* out = sum over the ranks of comm of x (same shape; f32, f16 or bf16). Runs on the host on
 * every backend (the executor's fallback copies x there and back). */
QUANTA_API quanta_status quanta_all_reduce(quanta_graph *g, quanta_tensor *x, quanta_comm *comm,
                                           quanta_tensor **out);

/* Loads one rank's share of a model (rank and world from comm; one call per rank, each on its
 * own thread and backend handle, all on the same file and params): q/k/v and gate/up
 * split by rows (whole heads: rank r holds query heads [r*H/world, (r+1)*H/world)), o and down
 * by columns along whole quantization groups (cut after load-time quantization, so shards
 * dequantize exactly like the full weight), KV heads split with their query heads (or the
 * ones a rank's query heads use, replicated, when n_head_kv < world), norms, embeddings and
 * the head replicated. Needs n_head % world == 0, n_ff % world == 0, and either
 * n_head_kv % world == 0 or world % n_head_kv == 0; quantized o/down need whole groups per
 * shard (QUANTA_ERR_INVALID_ARGUMENT names what does not divide). Contexts and eval work as
 * for quanta_model_load; every rank must eval the same tokens; each rank's logits are the full
 * logits, bit-identical across ranks. comm must outlive the model. */
typedef struct quanta_model quanta_model; /* the models section below */
struct quanta_model_params;
QUANTA_API quanta_status quanta_model_load_tp(const char *path, quanta_backend *backend,
                                              const struct quanta_model_params *params, quanta_comm *comm,
                                              quanta_model **out);

/* Loads a model split over `world` ranks that are threads of this process, used through the
 * returned model like any other: rank 0 runs on the caller's thread with `backend`; ranks
 * 1..world-1 run on threads the library starts, each with its own backend handle opened with
 * follower_backend (NULL: backend's name), linked by local communicators. Every context
 * create / reset / destroy and every eval (and eval_batch) on the model is mirrored on all
 * ranks in lockstep; the logits are rank 0's (the full logits). A rank that fails aborts the
 * group: the call returns its error (the message names the rank), and every later eval fails
 * with QUANTA_ERR_STATE. quanta_model_destroy stops and joins the ranks (destroy the contexts
 * first, as always). world 1 is quanta_model_load. */
QUANTA_API quanta_status quanta_model_load_tp_threads(const char *path, quanta_backend *backend,
                                                      const char *follower_backend,
                                                      const struct quanta_model_params *params, int32_t world,
                                                      quanta_model **out);

/* --------------------------------------------------------------------- plans */

typedef struct quanta_plan quanta_plan;

/* Orders the graph's ops, plans intermediate memory, picks per-op fallback to the reference
 * backend where the backend lacks an op, and uploads constants. The graph must outlive it. */
QUANTA_API quanta_status quanta_plan_create(quanta_graph *g, quanta_backend *backend, quanta_plan **out);
QUANTA_API void quanta_plan_destroy(quanta_plan *plan);
/* Peak bytes of op results (intermediates and outputs) after buffer reuse; inputs, constants
 * and buffers are excluded. */
QUANTA_API quanta_status quanta_plan_peak_bytes(const quanta_plan *plan, size_t *bytes);
/* Number of ops in execution order, and, for op i, its name and the backend that runs it (either
 * pointer may be NULL when that answer is not wanted). */
QUANTA_API int quanta_plan_op_count(const quanta_plan *plan);
QUANTA_API quanta_status quanta_plan_op_info(const quanta_plan *plan, int i, const char **op_name,
                                             const char **backend_name);
/* Ops that fall back to the reference backend. */
QUANTA_API int quanta_plan_fallback_count(const quanta_plan *plan);

QUANTA_API quanta_status quanta_plan_set_input(quanta_plan *plan, quanta_tensor *t, const void *data,
                                               size_t bytes);
/* Runs every op; all inputs must have been set (values persist across runs). */
QUANTA_API quanta_status quanta_plan_execute(quanta_plan *plan);
/* Copies an output (marked with quanta_graph_output before the plan was made) in its dtype's
 * interchange layout. */
QUANTA_API quanta_status quanta_plan_get_output(quanta_plan *plan, quanta_tensor *t, void *data,
                                                size_t bytes);
/* Copies only the first `bytes` (at most the output's size) of an output, e.g. the leading rows
 * of a batch planned for more rows than it holds now. */
QUANTA_API quanta_status quanta_plan_get_output_prefix(quanta_plan *plan, quanta_tensor *t, void *data,
                                                       size_t bytes);

/* -------------------------------------------------------------------- models
 * A decoder-only language model (LLaMA 2/3, Mistral, Qwen2, Gemma 3) loaded from a GGUF file
 * onto a backend, with its tokenizer, per-sequence contexts holding a KV cache that grows with use,
 * and a sampler. Nothing here prints. A minimal program:
 *
 *   quanta_model_params mp; quanta_model_default_params(&mp);
 *   quanta_model_load(path, backend, &mp, &model);
 *   quanta_model_tokenize(model, text, strlen(text), 1, 0, ids, cap, &n);
 *   quanta_model_context_create(model, 1024, &ctx);
 *   quanta_model_eval(ctx, ids, n, logits, n_vocab);            // prefill
 *   loop: quanta_model_sample(sampler, logits, n_vocab, &tok);
 *         quanta_model_sampler_accept(sampler, tok);
 *         quanta_model_eval(ctx, &tok, 1, logits, n_vocab);     // decode
 */

typedef struct quanta_model quanta_model;
typedef struct quanta_model_context quanta_model_context;
/* Progress of long library work (loading, long prefills, quantizing, calibration): `stage`
 * names the work, `fraction` runs from 0 to 1. Called on the caller's thread; it must not call
 * back into the object reporting it. */
typedef void (*quanta_progress_fn)(void *user, const char *stage, double fraction);
typedef struct quanta_model_sampler quanta_model_sampler;

typedef struct quanta_model_params {
    /* 0: keep the file's types: f32/f16/bf16, Quanta formats, and the ggml block formats that
     * are Quanta dtypes (Q4_0 ... Q6_K, used as the file stores them); other ggml types are
     * dequantized to f32. 1: quantize every 2-D weight matrix to weight_dtype at load time. */
    int32_t quantize;
    quanta_dtype weight_dtype;   /* Q8, Q4, NF4, FP8_E4M3, FP8_E5M2, or F32/F16/BF16 */
    int32_t group;               /* q4 group size (0 = default) */
    int32_t keep_embeddings;     /* nonzero: the token embedding / output head is not quantized */
    /* nonzero (with quantize): a 2-D weight the file stores in a format the backend prefers to
     * weight_dtype (quanta_backend_prefers_weight: decode at least as fast, fewer bytes) stays
     * as the file stores it; the rest is quantized. 0 (the default): every weight is. */
    int32_t keep_preferred;
    /* dtype of every context's KV cache: QUANTA_F32 (the zero value, so callers that never set
     * it keep f32), QUANTA_F16 or QUANTA_BF16 (half the KV memory; k, v and q are rounded to it
     * for attention, the attention output converted back). Anything else fails the load with
     * QUANTA_ERR_INVALID_ARGUMENT. Every rank of a tensor-parallel model uses it for its heads. */
    quanta_dtype kv_dtype;
    /* Called on the loading thread as weights are read and uploaded (fraction 0..1, stage
     * "load"); NULL = none. Used by the CLI's progress bar. */
    quanta_progress_fn progress;
    void *progress_user;
} quanta_model_params;

/* keep (quantize = 0), q4 group default, embeddings quantized along with the rest, f32 KV cache. */
QUANTA_API void quanta_model_default_params(quanta_model_params *params);

/* Loads a GGUF model onto backend (which must outlive the model). Weights are uploaded once
 * into buffers. Errors: QUANTA_ERR_IO, QUANTA_ERR_CORRUPT (names the key or tensor),
 * QUANTA_ERR_UNSUPPORTED (architecture, tokenizer or tensor type we cannot run). */
QUANTA_API quanta_status quanta_model_load(const char *path, quanta_backend *backend,
                                           const quanta_model_params *params, quanta_model **out);
QUANTA_API void quanta_model_destroy(quanta_model *model);

typedef struct quanta_model_info {
    char arch[32];               /* "llama", "qwen2", "gemma3", ... (general.architecture) */
    char name[128];              /* general.name, may be empty */
    char tokenizer[16];          /* "llama" (SentencePiece) or "gpt2" (byte-level BPE) */
    int32_t n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff;
    int32_t context_length;      /* trained context */
    int32_t sliding_window;      /* 0 if none */
    int32_t bos, eos, eot;       /* token ids, -1 if none (eot: e.g. <end_of_turn>) */
    int32_t add_bos;             /* whether prompts start with BOS */
    uint64_t n_params;           /* parameters counted from the weight shapes */
    quanta_dtype weight_dtype;   /* dtype of the layer matrices as loaded */
    quanta_dtype kv_dtype;       /* dtype of the contexts' KV caches (quanta_model_params.kv_dtype) */
} quanta_model_info;
QUANTA_API quanta_status quanta_model_get_info(const quanta_model *model, quanta_model_info *info);

/* Tokenizes len bytes of text. add_bos: prepend BOS when the model wants it. parse_special:
 * control tokens written in the text ("<start_of_turn>") become their ids. If tokens is NULL
 * and capacity 0, only *n_tokens is set; a too small capacity fails with
 * QUANTA_ERR_INVALID_ARGUMENT and *n_tokens set to the needed count. */
QUANTA_API quanta_status quanta_model_tokenize(const quanta_model *model, const char *text, size_t len,
                                               int32_t add_bos, int32_t parse_special, int32_t *tokens,
                                               size_t capacity, size_t *n_tokens);
/* The bytes of one token (not NUL-terminated; may be part of a UTF-8 sequence). Control
 * tokens give "" unless special != 0. *len gets the byte count; buf may be NULL when cap = 0. */
QUANTA_API quanta_status quanta_model_token_to_piece(const quanta_model *model, int32_t token,
                                                     int32_t special, char *buf, size_t cap, size_t *len);
/* Concatenated pieces of n tokens, NUL-terminated (needs cap >= *len + 1; a query with
 * buf NULL and cap 0 sets *len). Control tokens are skipped unless special != 0. */
QUANTA_API quanta_status quanta_model_detokenize(const quanta_model *model, const int32_t *tokens, size_t n,
                                                 int32_t special, char *buf, size_t cap, size_t *len);
/* Whether token ends generation (EOS, end-of-turn). */
QUANTA_API int quanta_model_token_is_eog(const quanta_model *model, int32_t token);

/* A sequence of up to n_ctx positions (0 = min(trained, 4096)). Its KV cache is reserved as
 * positions are used (256 at first, then at least doubling, never past n_ctx), so memory and the
 * attention's cost follow the positions in use, not n_ctx; an eval whose cache cannot grow fails
 * with QUANTA_ERR_OUT_OF_MEMORY and leaves the context as it was. */
QUANTA_API quanta_status quanta_model_context_create(quanta_model *model, int32_t n_ctx,
                                                     quanta_model_context **out);
QUANTA_API void quanta_model_context_destroy(quanta_model_context *ctx);
/* Forgets all positions (the cache is reused from position 0). */
QUANTA_API void quanta_model_context_reset(quanta_model_context *ctx);
/* Reports the progress of evaluations longer than one step (prefills over 256 tokens run in
 * chunks; stage "prefill", fraction = tokens done / n) to fn (NULL turns it off). */
QUANTA_API quanta_status quanta_model_context_set_progress(quanta_model_context *ctx, quanta_progress_fn fn,
                                                           void *user);
/* Positions used so far and the capacity. */
QUANTA_API int32_t quanta_model_context_position(const quanta_model_context *ctx);
QUANTA_API int32_t quanta_model_context_size(const quanta_model_context *ctx);

/*
 * Appends n tokens to the sequence and runs the model over them: n > 1 runs the prefill graph
 * (causal attention over the whole batch), n == 1 the decode graph (one query against the
 * cache). logits (may be NULL) receives f32 logits: logits_count == n_vocab gives the last
 * token's, n * n_vocab every token's (row-major). Exceeding the context is QUANTA_ERR_STATE.
 */
QUANTA_API quanta_status quanta_model_eval(quanta_model_context *ctx, const int32_t *tokens, size_t n,
                                           float *logits, size_t logits_count);
/*
 * The same evaluation, without copying the logits: *logits points at the last token's n_vocab f32
 * logits where they already are in host memory (the GPU backend's page-locked read buffer, the CPU
 * backends' own memory, or the context's buffer where a backend lends none), checked for Inf/NaN
 * as quanta_model_eval checks them. Read-only; valid until the next evaluation, reset or destroy
 * of any context of the same model, or the next read from its backend (they share the backend's
 * read buffer). On an error *logits is
 * NULL. A decode loop that samples from the logits (quanta_model_sample) saves a 4 * n_vocab-byte
 * copy a token: ~1 MiB for a 262k vocabulary.
 */
QUANTA_API quanta_status quanta_model_eval_view(quanta_model_context *ctx, const int32_t *tokens, size_t n,
                                                const float **logits);

/*
 * Batched decode: one new token for each of n sequences (distinct contexts of one model, each
 * at its own position) in one step, reading every weight once for the batch. ctxs[i] gets
 * tokens[i]; logits (may be NULL) receives n * n_vocab floats, row i for ctxs[i]. The plan is
 * kept while the same contexts are batched in the same order. A full context is QUANTA_ERR_STATE.
 */
QUANTA_API quanta_status quanta_model_eval_batch(quanta_model_context *const *ctxs, const int32_t *tokens, size_t n,
                                                 float *logits, size_t logits_count);

/*
 * A paged KV cache shared by many sequences (what `quanta serve` batches over): per layer one K
 * and one V pool of n_blocks blocks of block_size positions, in `dtype`: f32, f16 or bf16 (q and
 * the attention run in it), or quantized on write to save memory: QUANTA_Q8 (int8, a quarter of
 * f32's bytes) or QUANTA_FP8_E4M3 (fp8), each with one f32 scale per head and position (so a
 * write never rescales earlier entries; bytes per position and head: D + 4 against 2 D for f16),
 * attention computed in f32 from the dequantized keys and values. Any other dtype is
 * QUANTA_ERR_INVALID_ARGUMENT. A sequence
 * is a block table: position j lives in block table[j / block_size] (the caller allocates
 * blocks; a sequence holds at most max_blocks * block_size positions). n_local_blocks > 0 gives
 * the sliding-window layers (Gemma 3's local layers) pools of that many blocks and tables of
 * their own, so a sequence needs local blocks only for positions its window still covers (the
 * caller frees the others and writes -1 for them); 0: every layer uses `tables`. Not for
 * tensor-parallel ranks (QUANTA_ERR_UNSUPPORTED).
 */
typedef struct quanta_kv_pool quanta_kv_pool;
QUANTA_API quanta_status quanta_kv_pool_create(quanta_model *model, quanta_dtype dtype, int32_t n_blocks,
                                               int32_t n_local_blocks, int32_t block_size, int32_t max_blocks,
                                               quanta_kv_pool **out);
QUANTA_API void quanta_kv_pool_destroy(quanta_kv_pool *pool);
QUANTA_API int32_t quanta_kv_pool_block_size(const quanta_kv_pool *pool);
/* The pools' element dtype, and the device bytes of all of them (K and V, every layer). */
QUANTA_API quanta_dtype quanta_kv_pool_dtype(const quanta_kv_pool *pool);
QUANTA_API uint64_t quanta_kv_pool_bytes(const quanta_kv_pool *pool);
/*
 * One step over sequences in pool: decode (T = 1: n sequences, one token each) or a prefill
 * piece of one sequence (n = 1, T <= 256 tokens, positions[0] a multiple of the block size).
 * tokens [n * T] sequence by sequence; positions[s]: sequence s's first new position (its
 * earlier positions are already in its blocks); tables [n * max_blocks]: each sequence's block
 * table (entries past its end are not read); local_tables likewise for the sliding-window
 * layers when the pool has local pools (else NULL; entries before every new query's window may
 * be -1). The blocks a step writes must be distinct (a table entry naming a block another entry
 * of the step's writes names is QUANTA_ERR_INVALID_ARGUMENT, both entries named). logits (may be NULL):
 * n * n_vocab floats, each sequence's last token. The plans of the last decode n and the last
 * prefill T are kept.
 */
QUANTA_API quanta_status quanta_model_eval_paged(quanta_kv_pool *pool, int32_t n, int32_t T, const int32_t *tokens,
                                                 const int32_t *positions, const int32_t *tables,
                                                 const int32_t *local_tables, float *logits, size_t logits_count);
/* The same step, returning each sequence's greedy token instead of its logits: greedy[n] (not
 * NULL) = the first largest logit of its row (quanta_argmax), -1 where the row has a NaN or only
 * -inf. The argmax runs on the device, so only n indices come back rather than n * n_vocab floats. */
QUANTA_API quanta_status quanta_model_eval_paged_greedy(quanta_kv_pool *pool, int32_t n, int32_t T,
                                                        const int32_t *tokens, const int32_t *positions,
                                                        const int32_t *tables, const int32_t *local_tables,
                                                        int32_t *greedy);
/* Prefill pieces of n distinct sequences in one step: sequence s gets lens[s] tokens (1 .. 256)
 * from positions[s] (a multiple of the block size; a piece of one token may start anywhere: a
 * decode row), tokens concatenated sequence by sequence, tables / local_tables as above. logits
 * (may be NULL): n * n_vocab floats, each piece's last token; greedy (may be NULL): each piece's
 * greedy token chosen on the device, as quanta_model_eval_paged_greedy. Each piece computes what
 * quanta_model_eval_paged computes for it alone (rows never mix), in one pass over the weights for
 * all of them: so decode rows and prompt pieces can share a step (a server's mixed step). */
QUANTA_API quanta_status quanta_model_eval_paged_pieces(quanta_kv_pool *pool, int32_t n, const int32_t *lens,
                                                        const int32_t *tokens, const int32_t *positions,
                                                        const int32_t *tables, const int32_t *local_tables,
                                                        float *logits, size_t logits_count, int32_t *greedy);

typedef struct quanta_model_memory {
    uint64_t weights_bytes;      /* weight buffers on the device */
    uint64_t kv_cache_bytes;     /* this context's K and V buffers (in the model's kv_dtype) */
    uint64_t scratch_bytes;      /* largest planned intermediate memory of this context's graphs */
    uint64_t device_in_use;      /* backend account now, and its peak */
    uint64_t device_peak;
} quanta_model_memory;
/* ctx may be NULL (then only weights and the device account are reported). */
QUANTA_API quanta_status quanta_model_memory_report(const quanta_model *model, const quanta_model_context *ctx,
                                                    quanta_model_memory *out);

typedef struct quanta_model_sampler_params {
    float temperature;           /* <= 0: greedy (argmax) */
    int32_t top_k;               /* <= 0: off */
    float top_p;                 /* >= 1: off */
    float repeat_penalty;        /* 1: off; logits of recent tokens: >0 divided, <0 multiplied */
    int32_t repeat_last_n;       /* how many recent tokens the penalty looks at */
    uint64_t seed;               /* same seed, same logits: same tokens */
} quanta_model_sampler_params;
/* greedy, top_k 40, top_p 0.95, repeat_penalty 1, repeat_last_n 64, seed 0. */
QUANTA_API void quanta_model_sampler_default_params(quanta_model_sampler_params *params);
QUANTA_API quanta_status quanta_model_sampler_create(const quanta_model_sampler_params *params,
                                                     quanta_model_sampler **out);
QUANTA_API void quanta_model_sampler_destroy(quanta_model_sampler *sampler);
/* Records a token (prompt or generated) for the repetition penalty. */
QUANTA_API quanta_status quanta_model_sampler_accept(quanta_model_sampler *sampler, int32_t token);
/* Picks a token from n_vocab logits (not modified). Infinities follow softmax's limit: a +Inf
 * logit is chosen (several share the draw equally; greedy takes the first), -Inf ones never
 * are; all -Inf (nothing can be chosen) and any NaN are QUANTA_ERR_INVALID_ARGUMENT, at every
 * temperature. */
QUANTA_API quanta_status quanta_model_sample(quanta_model_sampler *sampler, const float *logits,
                                             size_t n_vocab, int32_t *token);

/* ------------------------------------------------------ quantization (models)
 * Post-training quantization of a whole checkpoint (GGUF, or a .safetensors file with its
 * config.json) into a GGUF file in Quanta's formats (formats/model_files.md). Each tensor is
 * imported to f32 (ggml blocks dequantized bit-exactly), its format chosen, quantized, and its
 * error against the imported weights measured. Defaults: 1-D tensors (norms, biases) and
 * tensors of 3-4 dims f32; token embeddings / output head `embeddings`; other 2-D weights
 * `format` (f16 when their row length does not fit the format's group). The output appears
 * only when complete: it is written to a fresh temporary file beside it (never following a
 * planted name or symlink) and renamed over it; every failure removes the temporary file. */

typedef struct quanta_quantize_override {
    const char *glob;            /* fnmatch pattern over tensor names; the first match wins */
    const char *format;          /* a `format` value, f16, bf16, f32, or keep (copy unchanged) */
} quanta_quantize_override;

typedef struct quanta_quantize_tensor_report {
    const char *name;
    int32_t ndim;
    int64_t dims[4];             /* outermost first (rows, then the contiguous row length) */
    const char *from;            /* the source's type name */
    const char *to;              /* what was written: a format name or the source type (copied) */
    const char *why;             /* why that format: "", "1-D", ">2-D", "embedding", "override", "fallback" */
    uint64_t bytes_in, bytes_out;
    double rel_rms;              /* relative RMS error of the written weights against the source's */
    double werr_minmax, werr_calib; /* calibrated: activation-weighted relative error with min-max
                                     * and with the chosen scales; both -1 when not calibrated */
    int32_t unweighted;          /* calibrated, but no measured activations feed this tensor */
} quanta_quantize_tensor_report;

typedef struct quanta_quantize_params {
    const char *input;           /* GGUF file or .safetensors file */
    const char *output;          /* GGUF file to write (replaced only when complete) */
    const char *config;          /* config.json of a safetensors input; NULL: next to the input */
    const char *format;          /* q8 | q4 (= q4:g64) | q4:g32 | q4:g128 | nf4 | nf4:dq | fp8 (= fp8_e4m3) | fp8_e5m2 */
    const char *embeddings;      /* token embeddings / output head: f16 (NULL) | f32 | q8 | quant (= format) */
    const quanta_quantize_override *overrides;
    int32_t n_overrides;
    double clip_percentile;      /* 0 or 100: min-max; else clamp each row to that percentile of its |w| */
    const char *calib_text;      /* non-NULL: activation-weighted clipping search over this text (model/calib.h) */
    int32_t calib_tokens;        /* tokens of it to run (0: 512) */
    const char *calib_backend;   /* backend that runs the model for calibration (NULL: best) */
    /* Called once per tensor, in file order, after it is converted (may be NULL). */
    void (*on_tensor)(const quanta_quantize_tensor_report *report, void *user);
    /* Called with remarks worth showing a user (a tensor stored f16 because its rows do not fit
     * the format, no config.json found, the calibration run started); may be NULL. */
    void (*on_note)(const char *note, void *user);
    void *user;
    /* Optional (NULL): gets the temporary output's path while that file exists, "" otherwise,
     * so a program's SIGINT/SIGTERM handler can unlink it (the library installs no handlers).
     * Needs at least strlen(output) + 40 bytes. */
    char *temp_path;
    size_t temp_path_cap;
    /* Optional (NULL): progress of the calibration run (stage "calibration", its model load
     * "calibration load") and of the conversion (stage "quantize", by tensor bytes). */
    quanta_progress_fn progress;
    void *progress_user;
} quanta_quantize_params;

typedef struct quanta_quantize_summary {
    int32_t n_tensors, n_quantized, n_dense, n_copied, n_fallback;
    double rel_rms;              /* relative RMS over all converted weights */
    uint64_t tensor_bytes_in, tensor_bytes_out, file_bytes_in, file_bytes_out;
    int32_t calib_tokens;        /* tokens the calibration ran (0 without) */
    int32_t n_calibrated, n_improved; /* tensors calibrated / whose weighted error went down */
    double werr_minmax_rms, werr_calib_rms; /* RMS over calibrated tensors of their weighted errors */
} quanta_quantize_summary;

/* format and embeddings NULL (format must be set), no overrides, min-max, no calibration. */
QUANTA_API void quanta_quantize_default_params(quanta_quantize_params *params);
/* Runs the whole conversion. summary may be NULL. Errors: QUANTA_ERR_INVALID_ARGUMENT (a bad
 * format, override, percentile or missing path, named), QUANTA_ERR_IO, QUANTA_ERR_CORRUPT
 * (the input, or a non-finite weight, named), QUANTA_ERR_UNSUPPORTED (a tensor type that
 * cannot be imported), QUANTA_ERR_OUT_OF_MEMORY. Nothing is printed. */
QUANTA_API quanta_status quanta_quantize_model(const quanta_quantize_params *params, quanta_quantize_summary *summary);

/* ------------------------------------------------------------- chat templates
 * A conversation rendered as the model's chat template would render it. The template families
 * are recognised from the text of a model's `tokenizer.chat_template` (Jinja, as in GGUF files
 * and Hugging Face tokenizer_config.json) and rendered by Quanta's own code, not by a Jinja
 * interpreter. The rendered text omits the BOS token some templates begin with: tokenize it
 * with add_bos = 1 and parse_special = 1 (control tokens such as <start_of_turn> are written
 * as text). A typical turn:
 *
 *   quanta_chat_template t;  quanta_model_chat_template(model, &t);
 *   quanta_chat_message msgs[] = {{"system", "Be brief."}, {"user", "Hi"}};
 *   quanta_chat_render(t, msgs, 2, 1, NULL, 0, &len);              // length query
 *   quanta_chat_render(t, msgs, 2, 1, buf, len + 1, &len);
 */
typedef enum quanta_chat_template {
    QUANTA_CHAT_GEMMA = 0,   /* "gemma": <start_of_turn>user ... <end_of_turn>; system joins the first user turn */
    QUANTA_CHAT_LLAMA2 = 1,  /* "llama2": [INST] <<SYS>> ... <</SYS>> ... [/INST] */
    QUANTA_CHAT_LLAMA3 = 2,  /* "llama3": <|start_header_id|>role<|end_header_id|> ... <|eot_id|> */
    QUANTA_CHAT_MISTRAL = 3, /* "mistral": Mistral Instruct v0.1/v0.2, [INST] ... [/INST] */
    QUANTA_CHAT_CHATML = 4,  /* "chatml": <|im_start|>role ... <|im_end|> */
    QUANTA_CHAT_QWEN2 = 5,   /* "qwen2": ChatML with Qwen2's default system prompt */
    QUANTA_CHAT_QWEN25 = 6   /* "qwen2.5": ChatML with Qwen2.5's default system prompt */
} quanta_chat_template;

typedef struct quanta_chat_message {
    const char *role;        /* "system", "user", "assistant" (others where the template allows) */
    const char *content;
} quanta_chat_message;

/* Recognises a Jinja chat template's text. QUANTA_ERR_UNSUPPORTED, quoting the template's
 * first line, for templates none of the families renders the same way. */
QUANTA_API quanta_status quanta_chat_template_detect(const char *template_text, quanta_chat_template *out);
/* By name: "gemma", "llama2", "llama3", "mistral", "chatml", "qwen2", "qwen2.5". */
QUANTA_API quanta_status quanta_chat_template_parse(const char *name, quanta_chat_template *out);
/* The name of a template (static string), NULL for a value outside the enum. */
QUANTA_API const char *quanta_chat_template_name(quanta_chat_template t);
/* Renders n messages (add_generation_prompt: end with the assistant turn's opening, where the
 * template has one). Writes a NUL-terminated string (needs cap >= *len + 1); buf NULL and cap 0
 * only sets *len. Gemma, LLaMA 2 and Mistral need user/assistant turns alternating (after one
 * leading system message; Mistral takes none): QUANTA_ERR_INVALID_ARGUMENT names the message. */
QUANTA_API quanta_status quanta_chat_render(quanta_chat_template t, const quanta_chat_message *messages, size_t n,
                                            int32_t add_generation_prompt, char *buf, size_t cap, size_t *len);
/* The model file's tokenizer.chat_template text ("" if it has none); valid while the model lives. */
QUANTA_API quanta_status quanta_model_chat_template_text(const quanta_model *model, const char **text);
/* The model's template: detected from its text, else the architecture's own format where it has
 * one (Gemma 3: gemma, Qwen2: qwen2); QUANTA_ERR_UNSUPPORTED otherwise (choose one by name). */
QUANTA_API quanta_status quanta_model_chat_template(const quanta_model *model, quanta_chat_template *out);

#ifdef __cplusplus
}
#endif
#endif /* QUANTA_H */
