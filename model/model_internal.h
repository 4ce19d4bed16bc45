/*
 * model_internal.h — what a loaded model, its tokenizer and its contexts hold (internal to
 * model/ and its tests). The public side is the "models" section of include/quanta.h.
 */
#ifndef QUANTA_MODEL_INTERNAL_H
#define QUANTA_MODEL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "gguf.h"
#include "quanta.h"

/* ---------------------------------------------------------------- config */

typedef enum qn_arch { QN_ARCH_LLAMA = 0, QN_ARCH_QWEN2, QN_ARCH_GEMMA3 } qn_arch;

typedef struct qn_model_config {
    qn_arch arch;
    char arch_name[32];
    char name[128];
    int32_t n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff;
    int32_t n_ctx_train;
    float rms_eps;
    quanta_rope_mode rope_mode;
    float rope_base;          /* global layers */
    float rope_base_local;    /* sliding-window layers (Gemma 3: 10000) */
    float rope_freq_scale;    /* linear position scaling, 1 = none */
    int32_t rope_dims;        /* 0 = whole head */
    int32_t sliding_window;   /* 0 = none */
    int32_t swa_pattern;      /* layer il is local when swa_pattern > 0 and il % pattern < pattern - 1 */
    float attn_scale;         /* multiplies q·k */
    float embd_scale;         /* multiplies token embeddings; 1 = none */
    int32_t gelu_mlp;         /* GeGLU (tanh GELU) instead of SwiGLU */
    int32_t qk_norm;          /* RMSNorm on each q and k head */
    int32_t post_norms;       /* RMSNorm after attention and after the MLP */
    int32_t norm_plus_one;    /* RMSNorm weights used as (1 + w) */
    int32_t qkv_bias;
    int32_t untied_head;      /* the file says the output head is its own tensor (it must be present) */
} qn_model_config;

/* Reads the configuration of the file's architecture from its metadata. */
quanta_status qn_model_config_from_gguf(const qn_gguf *g, qn_model_config *cfg);
/* Whether layer il uses sliding-window attention. */
int qn_model_layer_is_local(const qn_model_config *cfg, int il);

/* ------------------------------------------------------------- tokenizer */

typedef enum qn_tok_kind { QN_TOK_SPM = 0, QN_TOK_BPE = 1 } qn_tok_kind;

/* Token types as stored in tokenizer.ggml.token_type (llama.cpp's values). */
enum { QN_TT_NORMAL = 1, QN_TT_UNKNOWN = 2, QN_TT_CONTROL = 3, QN_TT_USER_DEFINED = 4,
       QN_TT_UNUSED = 5, QN_TT_BYTE = 6 };

typedef struct qn_tokenizer qn_tokenizer;

/* Vocabulary description handed to qn_tokenizer_create (arrays are copied). */
typedef struct qn_vocab_src {
    qn_tok_kind kind;
    int32_t n_vocab;
    const char *const *text;     /* token texts (NUL-free bytes) */
    const uint32_t *text_len;
    const float *scores;         /* SPM; NULL = all 0 */
    const int32_t *types;        /* NULL = all normal */
    int32_t n_merges;            /* BPE: "left right" strings, rank = index */
    const char *const *merges;
    const uint32_t *merge_len;
    int32_t bos, eos, eot, unk;  /* -1 if none */
    int32_t add_bos;
    int32_t add_space_prefix;
    int32_t pre;                 /* BPE pre-tokenizer: QN_PRE_* */
} qn_vocab_src;

enum { QN_PRE_GPT2 = 0, QN_PRE_LLAMA3 = 1, QN_PRE_QWEN2 = 2 };

quanta_status qn_tokenizer_create(const qn_vocab_src *src, qn_tokenizer **out);
/* Reads a Hugging Face tokenizer.json (BPE models: byte-level or SentencePiece-style). */
quanta_status qn_tokenizer_from_json(const char *path, int32_t bos, int32_t eos, qn_tokenizer **out);
/* Reads tokenizer.ggml.* from a GGUF file. */
quanta_status qn_tokenizer_from_gguf(const qn_gguf *g, qn_tokenizer **out);
void qn_tokenizer_destroy(qn_tokenizer *t);
/* Encodes text; *out is malloc'd (caller frees). */
quanta_status qn_tokenizer_encode(const qn_tokenizer *t, const char *text, size_t len, int add_bos,
                                  int parse_special, int32_t **out, size_t *n_out);
/* Bytes of one token; *len bytes at *ptr, or into buf for byte tokens (buf >= 4 bytes). */
quanta_status qn_tokenizer_piece(const qn_tokenizer *t, int32_t id, int special, char *buf, size_t cap,
                                 size_t *len);
int32_t qn_tokenizer_n_vocab(const qn_tokenizer *t);
int32_t qn_tokenizer_special(const qn_tokenizer *t, int which); /* 0 bos, 1 eos, 2 eot, 3 unk */
int qn_tokenizer_add_bos(const qn_tokenizer *t);
qn_tok_kind qn_tokenizer_kind(const qn_tokenizer *t);

/* ----------------------------------------------------------------- model */

typedef struct qn_layer_weights {
    quanta_buffer *attn_norm, *wq, *wk, *wv, *wo, *bq, *bk, *bv, *q_norm, *k_norm, *post_attn_norm;
    quanta_buffer *ffn_norm, *w_gate, *w_up, *w_down, *post_ffn_norm;
} qn_layer_weights;

struct quanta_model {
    quanta_backend *backend;
    qn_model_config cfg;          /* as this rank runs it: its heads, KV heads and n_ff share */
    qn_model_config full_cfg;     /* the whole model's (quanta_model_get_info) */
    quanta_comm *comm;            /* tensor parallelism: this rank's communicator, NULL = whole model */
    int32_t tp_rank, tp_world;    /* 0, 1 without tensor parallelism */
    qn_tokenizer *tok;
    quanta_buffer *tok_embd, *output_norm, *output; /* output NULL: tied to tok_embd */
    qn_layer_weights *layers;
    uint64_t weights_bytes;
    uint64_t n_params;
    quanta_dtype weight_dtype;
    quanta_dtype kv_dtype;        /* of every context's KV cache: f32, f16 or bf16 */
    struct qn_batch_step *batch; /* the last batched-decode plan (batch.c), or NULL */
    uint64_t next_ctx_id;
    struct qn_tp_threads *threads; /* rank 0 of quanta_model_load_tp_threads: the follower ranks */
    char *chat_template;          /* tokenizer.chat_template text, or NULL (chat_template.c) */
    /* paged_smooth.c: the KV calibration (QN_KV_CALIB_PARTS * n_layer * n_head_kv * head_dim
     * floats), computed by the first quantized KV pool and reused by every later one; NULL until then */
    float *kv_calib;
};

/* A weight as its file holds it (GGUF or safetensors), dims row-major (last contiguous). */
typedef struct qn_weight_src {
    int32_t ndim;
    int64_t dims[8];
    int have_native;              /* bytes already in the Quanta layout `native` */
    quanta_tensor_desc native;
    const void *data;
    uint64_t bytes;
    quanta_status (*to_f32)(const struct qn_weight_src *w, float *dst, size_t count);
    /* Rows [row0, row0 + nrows) of the row-major [rows, cols] view to f32 (dst: nrows * cols),
     * callable from several threads at once; NULL: only to_f32. Same values as to_f32's rows. */
    quanta_status (*rows_to_f32)(const struct qn_weight_src *w, int64_t row0, int64_t nrows, float *dst, size_t count);
    const void *handle;
} qn_weight_src;

/* A container of weights looked up by GGUF tensor names ("blk.3.attn_q.weight"). */
typedef struct qn_weight_file {
    void *ctx;
    int (*find)(void *ctx, const char *name, qn_weight_src *w); /* 1 if present */
} qn_weight_file;

/* Builds a model (takes tok, also on failure): weights converted and uploaded, for the rank of
 * comm (NULL: the whole model) of a tensor-parallel model (load.c). */
quanta_status qn_model_build_tp(const qn_model_config *cfg, qn_tokenizer *tok, const qn_weight_file *wf,
                                quanta_backend *backend, const quanta_model_params *params, quanta_comm *comm,
                                quanta_model **out);

/* Builds a model from an opened GGUF (the file may be closed afterwards). */
quanta_status qn_model_from_gguf(const qn_gguf *g, quanta_backend *backend, const quanta_model_params *params,
                                 quanta_model **out);
/* Same, the rank of comm (NULL: the whole model). */
quanta_status qn_model_from_gguf_tp(const qn_gguf *g, quanta_backend *backend, const quanta_model_params *params,
                                    quanta_comm *comm, quanta_model **out);

/* A Hugging Face checkpoint directory (config.json, tokenizer.json, *.safetensors); comm as above. */
quanta_status qn_model_from_hf_dir(const char *dir, quanta_backend *backend, const quanta_model_params *params,
                                   quanta_comm *comm, quanta_model **out);
/* Whether path names such a checkpoint (a directory or a .safetensors file); dir gets it. */
int qn_model_path_is_hf(const char *path, char *dir, size_t cap);

/* The inputs of a model's linear layers, as calibration sees them (calib.c): per layer, the
 * normed hidden state (q/k/v), the attention output (o), the normed hidden state of the MLP
 * (gate/up) and the MLP's inner activation (down); then the final-norm output (the head). */
enum { QN_SITE_ATTN_IN = 0, QN_SITE_ATTN_OUT, QN_SITE_FFN_IN, QN_SITE_FFN_DOWN, QN_SITES_PER_LAYER };
/* Site index of layer il's `site`; the head's is n_layer * QN_SITES_PER_LAYER. */
#define QN_SITE(il, site) ((il) * QN_SITES_PER_LAYER + (site))

/* Called after each step with the rows [n_rows][cols] (f32) that entered linear site `site`. */
typedef quanta_status (*qn_capture_fn)(void *user, int site, const float *rows, int64_t n_rows, int64_t cols);

/* The most tokens one step graph takes: longer prompts run as several steps (bounds scratch
 * memory and the sliding-window layers' ring). */
#define QN_MAX_STEP_TOKENS 256
/* The most tokens of a quanta_model_eval step when QUANTA_PREFILL_STEP asks for more than the above, and
 * the step on CUDA when it is unset (model/context.c): 512 measured +20-27% pp512 on the 7B files and +67%
 * on Gemma 3 270M against 256 (H100, 2026-12-05 18:50, bench/NOTES.md mmq7). */
#define QN_MAX_PREFILL_STEP_TOKENS 1024
#define QN_CUDA_PREFILL_STEP_TOKENS 512

/* One planned step graph with its per-run inputs. */
typedef struct qn_step {
    quanta_graph *graph;
    quanta_plan *plan;
    quanta_tensor *ids, *pos, *start, *kv_len, *last, *logits;
    quanta_tensor *ring_start, *ring_len, *ring_mask; /* local layers' ring (ctx->ring > 0) */
    quanta_tensor **cap;   /* capture mode: the n_layer * QN_SITES_PER_LAYER + 1 site inputs */
    int32_t n_tokens;
    int32_t all_logits;
} qn_step;

struct quanta_model_context {
    quanta_model *model;
    int32_t n_ctx;
    int32_t n_past;
    quanta_buffer **k_cache, **v_cache; /* per layer [1, Hkv, kv_rows or ring, Dh] in model->kv_dtype */
    int32_t kv_rows;  /* rows of the full-context layers' buffers now (kv_cache.c grows them to n_ctx) */
    int32_t ring;     /* > 0: sliding-window layers keep only this many rows, position p in row p % ring */
    uint64_t kv_bytes;
    uint64_t scratch_bytes;
    qn_step decode;   /* built on first use, reused for every token */
    qn_step prefill;  /* the last prefill shape, rebuilt when it changes */
    uint64_t id;      /* unique within the model: keys the batched-decode plan */
    qn_capture_fn capture; /* calibration (calib.c): steps also output every linear's input */
    void *capture_user;
    quanta_progress_fn progress; /* long evaluations report their chunks (quanta_model_context_set_progress) */
    void *progress_user;
    float *view_fallback; /* quanta_model_eval_view's logits where the backend lends no view (n_vocab floats) */
};

/* Rows of a sliding-window layer's ring cache for a context of n_ctx positions: at least window
 * + the longest step - 1 (so a step never overwrites a key one of its queries still sees),
 * rounded up to a multiple of the step, or 0 when a plain cache is no smaller (no local layers,
 * or a short context). */
int32_t qn_ring_rows(const quanta_model *m, int32_t n_ctx);
/* The longest step of a context with a ring: QN_MAX_STEP_TOKENS, or the window if smaller. */
int32_t qn_ring_step(const quanta_model *m);
/* The visibility of the ring's rows [T][ring] for T queries at positions n_past.. (row r holds
 * the latest position = r mod ring written so far): 1 where within the window and causal. */
void qn_ring_mask(int32_t ring, int32_t window, int32_t n_past, int32_t T, uint8_t *mask);

/* A context whose sliding-window layers keep the whole context like the global ones (the
 * layout before ring caches; tests compare against it). */
quanta_status qn_model_context_create_plain(quanta_model *m, int32_t n_ctx, quanta_model_context **out);
/* Sets a step's ring inputs (row to write at, rows filled, mask [T][ring]) for T tokens at
 * ctx->n_past; the step must not wrap around the ring (context.c). */
quanta_status qn_ring_set_inputs(const quanta_model_context *ctx, quanta_tensor *start, quanta_tensor *len,
                                 quanta_tensor *mask, int32_t T, quanta_plan *plan);

/* kv_cache.c: a context's KV cache, reserved as positions are used. alloc makes the first
 * QN_KV_GROW_ROWS rows (refusing a context whose whole cache could not even be sized); reserve
 * grows the full-context layers to hold `positions` (no-op when they do) and drops the planned
 * steps; free releases the buffers. */
#define QN_KV_GROW_ROWS 256
quanta_status qn_kv_cache_alloc(quanta_model_context *ctx);
quanta_status qn_kv_cache_reserve(quanta_model_context *ctx, int32_t positions);
void qn_kv_cache_free(quanta_model_context *ctx);

/* Turns capture mode on (fn) or off (NULL) for the context's next steps (context.c). */
void qn_model_context_set_capture(quanta_model_context *ctx, qn_capture_fn fn, void *user);

/* The argument and state checks of quanta_model_eval / _eval_batch (nothing runs), and the
 * evals of this rank alone (tp_threads.c mirrors them on the follower ranks). */
quanta_status qn_model_eval_check(const quanta_model_context *ctx, const int32_t *tokens, size_t n, const float *logits,
                                  size_t logits_count);
quanta_status qn_model_eval_rank(quanta_model_context *ctx, const int32_t *tokens, size_t n, float *logits,
                                 size_t logits_count);
quanta_status qn_model_eval_batch_check(quanta_model_context *const *ctxs, const int32_t *tokens, size_t n,
                                        const float *logits, size_t logits_count);
quanta_status qn_model_eval_batch_rank(quanta_model_context *const *ctxs, const int32_t *tokens, size_t n, float *logits,
                                       size_t logits_count);

/* Every logit finite, else QUANTA_ERR_CORRUPT naming the first bad one (same on every backend). */
quanta_status qn_check_logits(const char *fn, const float *logits, size_t count, int32_t n_vocab);

/* batch.c: frees the model's batched-decode plan (if ctx is NULL or takes part in it). */
void qn_batch_release(quanta_model *m, const quanta_model_context *ctx);

/* Builds and plans the graph for n_tokens new tokens (all_logits: every row, else the last);
 * with ctx->capture set, every linear layer's input is an output too (step->cap). */
quanta_status qn_step_build(quanta_model_context *ctx, int32_t n_tokens, int32_t all_logits, qn_step *step);
void qn_step_free(qn_step *step);

#endif
