/*
 * load.c — GGUF model loading: configuration, tokenizer, and every weight converted to its
 * load-time format and uploaded once into a buffer on the backend. By default the file's
 * bytes are uploaded as they are (ggml Q4_0 ... Q6_K blocks included: QUANTA_GGML_*); with
 * params->quantize they are dequantized exactly to f32 (qn_gguf_tensor_to_f32) and quantized
 * with quanta_quantize into the chosen format.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "formats.h"
#include "load_checks.h"
#include "model_internal.h"
#include "par_for.h"
#include "tp_threads.h"

void quanta_model_default_params(quanta_model_params *p) {
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->quantize = 0;
    p->weight_dtype = QUANTA_F32;
    p->group = 0;
    p->keep_embeddings = 0;
    p->keep_preferred = 0;
    p->kv_dtype = QUANTA_F32;
}

/* What a 2-D weight becomes. `native` is the file's own Quanta-readable type (f32/f16/bf16, a
 * Quanta format written by `quanta quantize`, or a ggml block format kept bit for bit), or NULL
 * for other ggml types. Formats whose block does not divide the row stay f32. */
static void target_desc(const quanta_model_params *p, quanta_backend *be, const quanta_tensor_desc *native, int64_t cols,
                        int is_embd, quanta_tensor_desc *d) {
    d->group = 0;
    d->double_quant = 0;
    int keep = !p->quantize || (is_embd && p->keep_embeddings);
    if (!keep && p->keep_preferred && native) {
        /* the backend's decode on the file's blocks is at least as fast as on weight_dtype */
        quanta_tensor_desc n = *native;
        n.ndim = 2;
        n.dims[0] = d->dims[0];
        n.dims[1] = cols;
        keep = quanta_backend_prefers_weight(be, &n, p->weight_dtype);
    }
    if (keep) {
        if (native) {
            d->dtype = native->dtype;
            d->group = native->group;
            d->double_quant = native->double_quant;
        } else {
            d->dtype = QUANTA_F32;
        }
        return;
    }
    d->dtype = p->weight_dtype;
    if (d->dtype == QUANTA_Q4) {
        d->group = p->group ? p->group : QN_Q4_DEFAULT_GROUP;
        if (cols % d->group) {
            d->dtype = QUANTA_F32;
            d->group = 0;
        }
    }
    if (d->dtype == QUANTA_NF4 && cols % QN_NF4_BLOCK) d->dtype = QUANTA_F32;
}

static int same_format(const quanta_tensor_desc *a, const quanta_tensor_desc *b) {
    if (a->dtype != b->dtype) return 0;
    if (a->dtype == QUANTA_Q4) {
        int32_t ga = a->group ? a->group : QN_Q4_DEFAULT_GROUP, gb = b->group ? b->group : QN_Q4_DEFAULT_GROUP;
        return ga == gb;
    }
    if (a->dtype == QUANTA_NF4) return !a->double_quant == !b->double_quant;
    return 1;
}

/* Which shard of a tensor this rank keeps (tensor parallelism): quanta_shard_* terms. */
typedef struct qn_cut {
    quanta_shard_axis axis;
    int rank, world;
} qn_cut;

typedef struct loader {
    const qn_weight_file *wf;
    quanta_model *m;
    const quanta_model_params *p;
    float *tmp;       /* f32 staging, grown as needed */
    size_t tmp_count;
    float *scratch;   /* per thread: a range of rows in f32 (convert_rows) */
    size_t scratch_count;
    int threads;      /* for the conversion: qn_par_load_threads() */
    void *qbuf;
    size_t qbuf_bytes;
    void *sbuf;       /* this rank's shard of the tensor */
    size_t sbuf_bytes;
    int tp;           /* world > 1: cut the layer matrices */
    qn_cut rows, cols, kv; /* q and gate/up; o and down; k and v */
} loader;

static quanta_status grow(void **p, size_t *have, size_t want, size_t elem) {
    if (*have >= want) return QUANTA_OK;
    size_t bytes;
    if (!qn_mul_size(want, elem, &bytes)) return qn_error_set(QUANTA_ERR_OVERFLOW, "quanta_model_load: tensor too large");
    void *n = realloc(*p, bytes);
    if (!n) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_model_load: no memory for %zu bytes of staging", bytes);
    *p = n;
    *have = want;
    return QUANTA_OK;
}

/* Row-major shape [rows, cols] (rows = 0: a vector of cols), leading 1s allowed. */
static int shape_is(const qn_weight_src *t, int64_t rows, int64_t cols) {
    int64_t inner = t->ndim >= 1 ? t->dims[t->ndim - 1] : 1, outer = t->ndim >= 2 ? t->dims[t->ndim - 2] : 1;
    for (int i = 0; i + 2 < t->ndim; i++)
        if (t->dims[i] != 1) return 0;
    if (rows) return t->ndim >= 2 && inner == cols && outer == rows;
    return inner == cols && outer == 1;
}

/* Converting a tensor whose target format codes each row on its own (every format the loader
 * makes: q8, fp8, q4 and nf4 groups along a row, f16/bf16/f32): ranges of rows go to f32
 * in a thread's scratch (cache-sized) and straight on to the target bytes, on all cores. Each
 * row's bytes are the same function of its own f32 values whichever thread or range does it,
 * so the result does not depend on the thread count; the whole f32 tensor never exists. */
typedef struct conv_job {
    loader *L;
    const qn_weight_src *t;
    const char *name;
    quanta_dtype dtype;
    qn_quant_layout lay;
    int64_t cols, grain;
    int64_t src_row0; /* the file's row of the job's row 0 (a tensor-parallel row shard) */
    void *out;        /* the whole tensor (or row shard) in its target format */
} conv_job;

static quanta_status convert_rows(void *ctx, int worker, int64_t begin, int64_t end) {
    conv_job *j = ctx;
    int64_t n = end - begin;
    size_t count = (size_t)n * (size_t)j->cols;
    float *f = j->dtype == QUANTA_F32 ? (float *)j->out + (size_t)begin * (size_t)j->cols
                                      : j->L->scratch + (size_t)worker * (size_t)j->grain * (size_t)j->cols;
    quanta_status st = j->t->rows_to_f32(j->t, j->src_row0 + begin, n, f, count);
    if (st) return qn_error_set(st, "quanta_model_load: tensor '%s': %s", j->name, quanta_last_error());
    if (j->dtype == QUANTA_F32) return QUANTA_OK;
    if ((st = qn_quantize_rows(&j->lay, j->dtype, begin, n, f, j->out)))
        return qn_error_set(st, "quanta_model_load: quantizing '%s': %s", j->name, quanta_last_error());
    return QUANTA_OK;
}

/* Rows [src_row0, src_row0 + rows) of t's [*, cols] (rows >= 1) into *data as desc ([rows, cols])
 * says; false if this path does not apply. */
static int convert_parallel(loader *L, const qn_weight_src *t, const char *name, const quanta_tensor_desc *desc,
                            int64_t src_row0, int64_t rows, int64_t cols, size_t bytes, const void **data,
                            quanta_status *st) {
    if (!t->rows_to_f32) return 0;
    conv_job j;
    memset(&j, 0, sizeof j);
    if ((*st = qn_quant_layout_get(desc, &j.lay))) return 1;
    if (!qn_quantize_rows_ok(&j.lay)) return 0; /* nf4 with double quantization: the mean of all blocks */
    j.L = L;
    j.t = t;
    j.name = name;
    j.dtype = desc->dtype;
    j.cols = cols;
    j.src_row0 = src_row0;
    j.grain = cols >= 65536 ? 1 : 65536 / cols; /* 256 KiB of f32 a range: stays in L2 */
    int threads = L->threads;
    if (desc->dtype == QUANTA_F32) {
        if ((*st = grow((void **)&L->tmp, &L->tmp_count, (size_t)rows * (size_t)cols, sizeof(float)))) return 1;
        j.out = L->tmp;
    } else {
        if ((*st = grow(&L->qbuf, &L->qbuf_bytes, bytes, 1))) return 1;
        size_t per;
        if (!qn_mul_size((size_t)j.grain, (size_t)cols, &per) || !qn_mul_size(per, (size_t)threads, &per)) {
            *st = qn_error_set(QUANTA_ERR_OVERFLOW, "quanta_model_load: tensor '%s' too large", name);
            return 1;
        }
        if ((*st = grow((void **)&L->scratch, &L->scratch_count, per, sizeof(float)))) return 1;
        j.out = L->qbuf;
    }
    if ((*st = qn_par_for(rows, j.grain, threads, convert_rows, &j))) return 1;
    *data = j.out;
    return 1;
}

/* A row cut (tensor parallelism) of a conversion that codes each row on its own: the shard's bytes
 * are those of its rows converted as a tensor of their own (quanta_shard_weight copies whole rows
 * with their scales, zero points and absmax), so only this rank's rows are read and converted.
 * Applied (true), *desc and *bytes become the shard's, *data its bytes, *st the status. False
 * where the whole tensor is converted first (a target that is not row-local, no rows_to_f32) or
 * the shard functions refuse the cut (the cut after conversion then reports why). */
static int row_shard(loader *L, const qn_weight_src *t, const char *name, const qn_cut *cut,
                     quanta_tensor_desc *desc, size_t *bytes, const void **data, quanta_status *st) {
    quanta_tensor_desc sd;
    int64_t first;
    size_t sbytes;
    if (quanta_shard_desc(desc, cut->axis, cut->rank, cut->world, &sd) ||
        quanta_shard_offset(desc, cut->axis, cut->rank, cut->world, &first) || quanta_tensor_bytes(&sd, &sbytes)) {
        qn_error_clear();
        return 0;
    }
    if (!convert_parallel(L, t, name, &sd, first, sd.dims[0], sd.dims[1], sbytes, data, st)) return 0;
    if (!*st) {
        *desc = sd;
        *bytes = sbytes;
    }
    return 1;
}

/* Loads tensor `name` of shape [rows, cols] (rows = 0: a vector of cols) into a new buffer.
 * Absent optional tensors leave *out NULL. */
static quanta_status load_tensor(loader *L, const char *name, int64_t rows, int64_t cols, int optional, int is_embd,
                                 const qn_cut *cut, quanta_buffer **out) {
    *out = NULL;
    qn_weight_src t;
    memset(&t, 0, sizeof t);
    if (!L->wf->find(L->wf->ctx, name, &t)) {
        if (optional) return QUANTA_OK;
        return qn_error_set(QUANTA_ERR_CORRUPT, "quanta_model_load: tensor '%s' is missing", name);
    }
    if (!shape_is(&t, rows, cols)) {
        char shape[128];
        int o = 0;
        for (int i = 0; i < t.ndim && o < 100; i++) o += snprintf(shape + o, sizeof shape - (size_t)o, "%s%lld", i ? ", " : "", (long long)t.dims[i]);
        if (!t.ndim) shape[0] = 0;
        return qn_error_set(QUANTA_ERR_CORRUPT, "quanta_model_load: tensor '%s' has shape [%s], expected [%lld, %lld]",
                            name, shape, (long long)(rows ? rows : 1), (long long)cols);
    }
    size_t count;
    if (!qn_mul_size((size_t)cols, (size_t)(rows ? rows : 1), &count))
        return qn_error_set(QUANTA_ERR_OVERFLOW, "quanta_model_load: tensor '%s' too large", name);
    quanta_tensor_desc desc;
    memset(&desc, 0, sizeof desc);
    desc.ndim = rows ? 2 : 1;
    if (rows) {
        desc.dims[0] = rows;
        desc.dims[1] = cols;
        target_desc(L->p, L->m->backend, t.have_native ? &t.native : NULL, cols, is_embd, &desc);
        /* ggml blocks stay as the file stores them only on a backend that reads them itself;
         * elsewhere they are dequantized to f32, not run through the reference backend op by op. */
        if (qn_dtype_is_ggml(desc.dtype) && !quanta_backend_runs_weight(L->m->backend, &desc)) {
            desc.dtype = QUANTA_F32;
            desc.group = 0;
        }
    } else {
        desc.dims[0] = cols;
        desc.dtype = QUANTA_F32;
    }
    size_t bytes;
    quanta_status st = quanta_tensor_bytes(&desc, &bytes);
    if (st) return st;
    const void *data = NULL;
    if (t.have_native && same_format(&t.native, &desc)) {
        if (t.bytes < bytes)
            return qn_error_set(QUANTA_ERR_CORRUPT, "quanta_model_load: tensor '%s' holds %llu bytes, needs %zu", name,
                                (unsigned long long)t.bytes, bytes);
        data = t.data; /* already in its load format: uploaded bit for bit */
    } else if (rows && cut && cut->axis == QUANTA_SHARD_ROWS && row_shard(L, &t, name, cut, &desc, &bytes, &data, &st)) {
        if (st) return st;
        cut = NULL; /* only this rank's rows were converted, into the shard's layout */
    } else if (rows && convert_parallel(L, &t, name, &desc, 0, rows, cols, bytes, &data, &st)) {
        if (st) return st;
    } else {
        if ((st = grow((void **)&L->tmp, &L->tmp_count, count, sizeof(float)))) return st;
        if ((st = t.to_f32(&t, L->tmp, count)))
            return qn_error_set(st, "quanta_model_load: tensor '%s': %s", name, quanta_last_error());
        if (desc.dtype == QUANTA_F32) {
            data = L->tmp;
        } else {
            if ((st = grow(&L->qbuf, &L->qbuf_bytes, bytes, 1))) return st;
            if (desc.dtype == QUANTA_F16 || desc.dtype == QUANTA_BF16)
                qn_from_f32(desc.dtype, L->tmp, L->qbuf, count);
            else if ((st = quanta_quantize(&desc, L->tmp, L->qbuf, bytes)))
                return qn_error_set(st, "quanta_model_load: quantizing '%s': %s", name, quanta_last_error());
            data = L->qbuf;
        }
    }
    if (!rows && (st = qn_check_vector(name, data, count))) return st; /* f32 by now */
    if (cut) {
        /* Cut after load-time quantization, along whole rows or groups: the shard dequantizes
         * exactly like its slice of the whole weight. A vector is cut as a [cols, 1] matrix. */
        quanta_tensor_desc whole = desc, sd;
        if (!rows) whole = (quanta_tensor_desc){QUANTA_F32, 2, {cols, 1, 0, 0}, 0, 0};
        size_t sbytes;
        if ((st = quanta_shard_desc(&whole, cut->axis, cut->rank, cut->world, &sd)))
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_load_tp: tensor '%s' (%s) cannot be split %d ways: %s",
                                name, quanta_dtype_name(desc.dtype), cut->world, quanta_last_error());
        if ((st = quanta_tensor_bytes(&sd, &sbytes))) return st;
        if ((st = grow(&L->sbuf, &L->sbuf_bytes, sbytes, 1))) return st;
        if ((st = quanta_shard_weight(&whole, data, bytes, cut->axis, cut->rank, cut->world, L->sbuf, sbytes)))
            return qn_error_set(st, "quanta_model_load_tp: sharding '%s': %s", name, quanta_last_error());
        if (rows)
            desc = sd;
        else
            desc.dims[0] = sd.dims[0];
        data = L->sbuf;
        bytes = sbytes;
    }
    quanta_buffer *b;
    if ((st = quanta_buffer_create(L->m->backend, &desc, &b)))
        return qn_error_set(st, "quanta_model_load: buffer for '%s': %s", name, quanta_last_error());
    if ((st = quanta_buffer_write(b, data, bytes))) {
        quanta_buffer_destroy(b);
        return qn_error_set(st, "quanta_model_load: uploading '%s': %s", name, quanta_last_error());
    }
    L->m->weights_bytes += bytes;
    L->m->n_params += count;
    if (rows && !is_embd) L->m->weight_dtype = desc.dtype;
    *out = b;
    return QUANTA_OK;
}

static void destroy_layer(qn_layer_weights *w) {
    quanta_buffer **all[] = {&w->attn_norm, &w->wq, &w->wk, &w->wv, &w->wo, &w->bq, &w->bk, &w->bv,
                             &w->q_norm, &w->k_norm, &w->post_attn_norm, &w->ffn_norm, &w->w_gate, &w->w_up,
                             &w->w_down, &w->post_ffn_norm};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
        quanta_buffer_destroy(*all[i]);
        *all[i] = NULL;
    }
}

void quanta_model_destroy(quanta_model *m) {
    if (!m) return;
    qn_tp_threads_stop(m); /* follower ranks first (tp_threads.c) */
    qn_batch_release(m, NULL);
    if (m->layers)
        for (int i = 0; i < m->cfg.n_layer; i++) destroy_layer(&m->layers[i]);
    free(m->layers);
    quanta_buffer_destroy(m->tok_embd);
    quanta_buffer_destroy(m->output_norm);
    quanta_buffer_destroy(m->output);
    qn_tokenizer_destroy(m->tok);
    free(m->chat_template);
    free(m->kv_calib);
    free(m);
}

static quanta_status load_layer(loader *L, int il) {
    const qn_model_config *c = &L->m->cfg;
    qn_layer_weights *w = &L->m->layers[il];
    int64_t E = c->n_embd, F = c->n_ff, Q = (int64_t)c->n_head * c->head_dim, KV = (int64_t)c->n_head_kv * c->head_dim;
    char name[96];
    quanta_status st;
    const qn_cut *cut = NULL;
#define LOAD(field, suffix, rows, cols, opt)                                               \
    do {                                                                                   \
        snprintf(name, sizeof name, "blk.%d." suffix, il);                                 \
        if ((st = load_tensor(L, name, rows, cols, opt, 0, cut, &w->field))) return st;    \
    } while (0)
    /* Tensor parallelism: q/k/v (and biases) and gate/up keep this rank's rows (whole heads),
     * o and down its columns; everything else is replicated. */
    const qn_cut *rows = L->tp ? &L->rows : NULL, *cols = L->tp ? &L->cols : NULL, *kv = L->tp ? &L->kv : NULL;
    LOAD(attn_norm, "attn_norm.weight", 0, E, 0);
    cut = rows;
    LOAD(wq, "attn_q.weight", Q, E, 0);
    LOAD(bq, "attn_q.bias", 0, Q, !c->qkv_bias);
    cut = kv;
    LOAD(wk, "attn_k.weight", KV, E, 0);
    LOAD(wv, "attn_v.weight", KV, E, 0);
    LOAD(bk, "attn_k.bias", 0, KV, !c->qkv_bias);
    LOAD(bv, "attn_v.bias", 0, KV, !c->qkv_bias);
    cut = cols;
    LOAD(wo, "attn_output.weight", E, Q, 0);
    cut = NULL;
    if (c->qk_norm) {
        LOAD(q_norm, "attn_q_norm.weight", 0, c->head_dim, 0);
        LOAD(k_norm, "attn_k_norm.weight", 0, c->head_dim, 0);
    }
    if (c->post_norms) {
        LOAD(post_attn_norm, "post_attention_norm.weight", 0, E, 0);
        LOAD(post_ffn_norm, "post_ffw_norm.weight", 0, E, 0);
    }
    LOAD(ffn_norm, "ffn_norm.weight", 0, E, 0);
    cut = rows;
    LOAD(w_gate, "ffn_gate.weight", F, E, 0);
    LOAD(w_up, "ffn_up.weight", F, E, 0);
    cut = cols;
    LOAD(w_down, "ffn_down.weight", E, F, 0);
#undef LOAD
    return QUANTA_OK;
}

/* How rank `rank` of `world` splits the model (heads, KV heads, n_ff); L's cuts are set. */
static quanta_status tp_plan(const qn_model_config *c, int rank, int world, loader *L) {
    static const char fn[] = "quanta_model_load_tp";
    if (c->n_head % world)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: n_head = %d is not divisible by world = %d", fn, c->n_head,
                            world);
    if (c->n_ff % world)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: n_ff = %d is not divisible by world = %d", fn, c->n_ff, world);
    L->rows = (qn_cut){QUANTA_SHARD_ROWS, rank, world};
    L->cols = (qn_cut){QUANTA_SHARD_COLS, rank, world};
    if (c->n_head_kv % world == 0) {
        L->kv = L->rows;
    } else if (world % c->n_head_kv == 0) {
        /* Fewer KV heads than ranks: the rank's query heads all use KV head r * Hkv / world
         * (they lie in one group), which it keeps whole: KV head k0 of Hkv. */
        L->kv = (qn_cut){QUANTA_SHARD_ROWS, (int)((int64_t)rank * c->n_head_kv / world), c->n_head_kv};
    } else {
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "%s: n_head_kv = %d and world = %d: one must divide the other (KV heads split or replicated whole)",
                            fn, c->n_head_kv, world);
    }
    L->tp = world > 1;
    return QUANTA_OK;
}

quanta_status qn_model_build_tp(const qn_model_config *cfg, qn_tokenizer *tok, const qn_weight_file *wf,
                                quanta_backend *backend, const quanta_model_params *params, quanta_comm *comm,
                                quanta_model **out) {
    *out = NULL;
    int rank = 0, world = 1;
    if (comm) quanta_comm_rank(comm, &rank, &world);
    quanta_model_params defaults;
    if (!params) {
        quanta_model_default_params(&defaults);
        params = &defaults;
    }
    quanta_status st = QUANTA_OK;
    if (params->quantize) {
        quanta_dtype d = params->weight_dtype;
        if (d != QUANTA_Q8 && d != QUANTA_Q4 && d != QUANTA_NF4 && d != QUANTA_FP8_E4M3 && d != QUANTA_FP8_E5M2 &&
            d != QUANTA_F32 && d != QUANTA_F16 && d != QUANTA_BF16)
            st = qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_load: params->weight_dtype %d is not a weight format",
                              (int)d);
        else if (d == QUANTA_Q4 && params->group && params->group != 32 && params->group != 64 && params->group != 128)
            st = qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_load: params->group %d (q4: 32, 64 or 128)",
                              params->group);
    }
    if (!st && params->kv_dtype != QUANTA_F32 && params->kv_dtype != QUANTA_F16 && params->kv_dtype != QUANTA_BF16)
        st = qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                          "quanta_model_load: params->kv_dtype %d (%s) is not a KV cache dtype (f32, f16 or bf16)",
                          (int)params->kv_dtype,
                          quanta_dtype_name(params->kv_dtype) ? quanta_dtype_name(params->kv_dtype) : "unknown");
    if (!st) st = qn_check_config(cfg); /* before anything is sized from it */
    loader L = {wf, NULL, params, NULL, 0, NULL, 0, qn_par_load_threads(), NULL, 0, NULL, 0, 0, {0, 0, 1}, {0, 0, 1}, {0, 0, 1}};
    if (!st && comm) st = tp_plan(cfg, rank, world, &L);
    quanta_model *m = st ? NULL : calloc(1, sizeof *m);
    if (!st && !m) st = qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_model_load: no memory");
    if (st) {
        qn_tokenizer_destroy(tok);
        return st;
    }
    m->backend = backend;
    m->cfg = *cfg;
    m->tok = tok;
    m->weight_dtype = QUANTA_F32;
    m->kv_dtype = params->kv_dtype;
    m->comm = comm;
    m->tp_rank = rank;
    m->tp_world = world;
    L.m = m;
    qn_model_config *c = &m->cfg;
    qn_weight_src te;
    memset(&te, 0, sizeof te);
    if (!wf->find(wf->ctx, "token_embd.weight", &te) || te.ndim != 2) {
        st = qn_error_set(QUANTA_ERR_CORRUPT, "quanta_model_load: tensor 'token_embd.weight' is missing or not 2-D");
        goto fail;
    }
    if (te.dims[0] <= 0 || te.dims[0] > (1 << 24)) {
        st = qn_error_set(QUANTA_ERR_CORRUPT, "quanta_model_load: 'token_embd.weight' has %lld rows", (long long)te.dims[0]);
        goto fail;
    }
    c->n_vocab = (int32_t)te.dims[0];
    if (qn_tokenizer_n_vocab(m->tok) > c->n_vocab) {
        st = qn_error_set(QUANTA_ERR_CORRUPT, "quanta_model_load: tokenizer has %d tokens, embeddings %d rows",
                          qn_tokenizer_n_vocab(m->tok), c->n_vocab);
        goto fail;
    }
    if ((st = load_tensor(&L, "token_embd.weight", c->n_vocab, c->n_embd, 0, 1, NULL, &m->tok_embd))) goto fail;
    if ((st = load_tensor(&L, "output_norm.weight", 0, c->n_embd, 0, 0, NULL, &m->output_norm))) goto fail;
    if ((st = load_tensor(&L, "output.weight", c->n_vocab, c->n_embd, !c->untied_head, 1, NULL, &m->output))) goto fail;
    m->layers = calloc((size_t)c->n_layer, sizeof *m->layers);
    if (!m->layers) {
        st = qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_model_load: no memory");
        goto fail;
    }
    for (int il = 0; il < c->n_layer; il++)
        if ((st = load_layer(&L, il))) goto fail;
        else if (params->progress) params->progress(params->progress_user, "load", (double)(il + 1) / c->n_layer);
    /* The graphs run this rank's share: its query heads, KV heads and MLP columns. */
    m->full_cfg = *c;
    c->n_head /= world;
    c->n_ff /= world;
    c->n_head_kv = L.kv.world > 1 ? c->n_head_kv / L.kv.world : c->n_head_kv;
    free(L.tmp);
    free(L.scratch);
    free(L.qbuf);
    free(L.sbuf);
    *out = m;
    return QUANTA_OK;
fail:
    free(L.tmp);
    free(L.scratch);
    free(L.qbuf);
    free(L.sbuf);
    quanta_model_destroy(m);
    return st;
}

/* ------------------------------------------------------------------ GGUF */

static quanta_status gguf_to_f32(const qn_weight_src *w, float *dst, size_t count) {
    return qn_gguf_tensor_to_f32((const qn_gguf_tensor *)w->handle, dst, count);
}

static quanta_status gguf_rows_to_f32(const qn_weight_src *w, int64_t row0, int64_t nrows, float *dst, size_t count) {
    return qn_gguf_tensor_rows_to_f32((const qn_gguf_tensor *)w->handle, row0, nrows, dst, count);
}

static int gguf_find(void *ctx, const char *name, qn_weight_src *w) {
    const qn_gguf_tensor *t = qn_gguf_find_tensor((const qn_gguf *)ctx, name);
    if (!t) return 0;
    w->ndim = t->ndim;
    for (int i = 0; i < t->ndim; i++) w->dims[i] = t->dims[t->ndim - 1 - i]; /* ggml order is innermost first */
    w->have_native = qn_gguf_tensor_desc(t, &w->native) == QUANTA_OK;
    w->data = t->data;
    w->bytes = t->bytes;
    w->to_f32 = gguf_to_f32;
    w->rows_to_f32 = gguf_rows_to_f32;
    w->handle = t;
    return 1;
}

quanta_status qn_model_from_gguf(const qn_gguf *g, quanta_backend *backend, const quanta_model_params *params,
                                 quanta_model **out) {
    return qn_model_from_gguf_tp(g, backend, params, NULL, out);
}

quanta_status qn_model_from_gguf_tp(const qn_gguf *g, quanta_backend *backend, const quanta_model_params *params,
                                    quanta_comm *comm, quanta_model **out) {
    *out = NULL;
    qn_model_config cfg;
    qn_tokenizer *tok = NULL;
    quanta_status st = qn_model_config_from_gguf(g, &cfg);
    if (!st) st = qn_tokenizer_from_gguf(g, &tok);
    if (st) return st;
    qn_weight_file wf = {(void *)g, gguf_find};
    st = qn_model_build_tp(&cfg, tok, &wf, backend, params, comm, out);
    qn_gguf_str tmpl;
    if (!st && qn_gguf_has(g, "tokenizer.chat_template") && !qn_gguf_get_str(g, "tokenizer.chat_template", &tmpl) && tmpl.len < (64u << 20)) {
        (*out)->chat_template = strndup(tmpl.ptr, (size_t)tmpl.len);
        if (!(*out)->chat_template) {
            quanta_model_destroy(*out);
            *out = NULL;
            st = qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_model_load: no memory for the chat template");
        }
    }
    return st;
}

static quanta_status load_path(const char *fn, const char *path, quanta_backend *backend,
                               const quanta_model_params *params, quanta_comm *comm, quanta_model **out) {
    if (!out) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: out is NULL", fn);
    *out = NULL;
    if (!path) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: path is NULL", fn);
    if (!backend) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: backend is NULL", fn);
    char dir[4096];
    if (qn_model_path_is_hf(path, dir, sizeof dir)) return qn_model_from_hf_dir(dir, backend, params, comm, out);
    qn_gguf *g;
    quanta_status st = qn_gguf_open(path, &g);
    if (st) return st;
    st = qn_model_from_gguf_tp(g, backend, params, comm, out);
    qn_gguf_close(g);
    return st;
}

quanta_status quanta_model_load(const char *path, quanta_backend *backend, const quanta_model_params *params,
                                quanta_model **out) {
    return load_path("quanta_model_load", path, backend, params, NULL, out);
}

quanta_status quanta_model_load_tp(const char *path, quanta_backend *backend, const quanta_model_params *params,
                                   quanta_comm *comm, quanta_model **out) {
    if (out) *out = NULL;
    if (!comm) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_load_tp: comm is NULL");
    return load_path("quanta_model_load_tp", path, backend, params, comm, out);
}
