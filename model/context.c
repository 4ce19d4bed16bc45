/*
 * context.c — sequences: the preallocated KV cache, prefill/decode steps, the public model
 * queries (info, tokenize, detokenize, memory report).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "finite.h"
#include "model_internal.h"
#include "plan.h"
#include "step_split.h"
#include "tensor_desc.h"
#include "tp_threads.h"

static void context_free(quanta_model_context *c);

static quanta_status context_create(quanta_model *m, int32_t n_ctx, int ring_ok, quanta_model_context **out) {
    if (!out) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_context_create: out is NULL");
    *out = NULL;
    if (!m) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_context_create: model is NULL");
    if (n_ctx < 0) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_context_create: n_ctx %d < 0", n_ctx);
    if (n_ctx == 0) n_ctx = m->cfg.n_ctx_train < 4096 ? m->cfg.n_ctx_train : 4096;
    if (n_ctx <= 0) n_ctx = 2048;
    quanta_model_context *c = calloc(1, sizeof *c);
    if (!c) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_model_context_create: no memory");
    c->model = m;
    c->n_ctx = n_ctx;
    c->id = ++m->next_ctx_id;
    c->ring = ring_ok ? qn_ring_rows(m, n_ctx) : 0;
    quanta_status st = qn_kv_cache_alloc(c); /* grows with use (kv_cache.c) */
    if (st) {
        context_free(c);
        return qn_error_set(st, "quanta_model_context_create: KV cache for %d positions: %s", n_ctx, quanta_last_error());
    }
    *out = c;
    return QUANTA_OK;
}

quanta_status quanta_model_context_create(quanta_model *m, int32_t n_ctx, quanta_model_context **out) {
    quanta_status st = context_create(m, n_ctx, 1, out);
    if (!st && m->threads && (st = qn_tp_threads_ctx_create(*out))) { /* every rank holds the context, or none */
        context_free(*out);
        *out = NULL;
    }
    return st;
}

quanta_status qn_model_context_create_plain(quanta_model *m, int32_t n_ctx, quanta_model_context **out) {
    return context_create(m, n_ctx, 0, out);
}

void quanta_model_context_destroy(quanta_model_context *c) {
    if (c && c->model->threads) qn_tp_threads_ctx_destroy(c);
    context_free(c);
}

static void context_free(quanta_model_context *c) {
    if (!c) return;
    qn_batch_release(c->model, c);
    qn_step_free(&c->decode);
    qn_step_free(&c->prefill);
    qn_kv_cache_free(c);
    free(c->view_fallback);
    free(c);
}

void quanta_model_context_reset(quanta_model_context *c) {
    if (c && c->model->threads) qn_tp_threads_ctx_reset(c);
    if (c) c->n_past = 0;
}
int32_t quanta_model_context_position(const quanta_model_context *c) { return c ? c->n_past : 0; }
int32_t quanta_model_context_size(const quanta_model_context *c) { return c ? c->n_ctx : 0; }

/* Capture mode: reads every linear layer's input back and hands it to the callback. */
static quanta_status deliver_capture(quanta_model_context *c, const qn_step *s) {
    const int n_sites = c->model->cfg.n_layer * QN_SITES_PER_LAYER + 1;
    float *rows = NULL;
    size_t have = 0;
    quanta_status st = QUANTA_OK;
    for (int i = 0; i < n_sites && !st; i++) {
        quanta_tensor_desc d;
        if ((st = quanta_tensor_get_desc(s->cap[i], &d))) break;
        int64_t cols = d.dims[d.ndim - 1], n = 1;
        for (int k = 0; k < d.ndim; k++) n *= d.dims[k];
        if (d.dtype != QUANTA_F32) {
            st = qn_error_set(QUANTA_ERR_UNSUPPORTED, "quanta_model_eval: capture of a dtype %d activation", (int)d.dtype);
            break;
        }
        if ((size_t)n > have) {
            float *r = realloc(rows, (size_t)n * sizeof *rows);
            if (!r) {
                st = qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_model_eval: no memory for captured activations");
                break;
            }
            rows = r;
            have = (size_t)n;
        }
        if (!(st = quanta_plan_get_output(s->plan, s->cap[i], rows, (size_t)n * sizeof *rows)))
            st = c->capture(c->capture_user, i, rows, n / cols, cols);
    }
    free(rows);
    return st;
}

void qn_model_context_set_capture(quanta_model_context *c, qn_capture_fn fn, void *user) {
    c->capture = fn;
    c->capture_user = user;
}

/* The ring inputs of a step of T tokens at c->n_past (it never wraps: eval_tokens splits). */
quanta_status qn_ring_set_inputs(const quanta_model_context *c, quanta_tensor *start, quanta_tensor *len,
                                 quanta_tensor *mask, int32_t T, quanta_plan *plan) {
    const int32_t R = c->ring;
    size_t n = (size_t)T * (size_t)R;
    uint8_t *m = malloc(n);
    if (!m) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_model_eval: no memory for the ring mask");
    qn_ring_mask(R, c->model->cfg.sliding_window, c->n_past, T, m);
    int32_t rs = c->n_past % R, rl = c->n_past + T < R ? c->n_past + T : R;
    quanta_status st = quanta_plan_set_input(plan, start, &rs, sizeof rs);
    if (!st) st = quanta_plan_set_input(plan, len, &rl, sizeof rl);
    if (!st) st = quanta_plan_set_input(plan, mask, m, n);
    free(m);
    return st;
}

/* view not NULL: the step's logits are left where the backend lends them (*view; logits is the fallback buffer). */
static quanta_status run_step(quanta_model_context *c, const int32_t *tokens, int32_t T, int all, float *logits,
                              size_t logits_count, const float **view) {
    const double t_prep = qn_split_start();
    qn_step *s = T == 1 ? &c->decode : &c->prefill;
    quanta_status st = qn_kv_cache_reserve(c, c->n_past + T);
    if (st) return st;
    if (s->plan && (s->n_tokens != T || s->all_logits != all || !s->cap != !c->capture)) qn_step_free(s);
    if (!s->plan) {
        if ((st = qn_step_build(c, T, all, s))) return st;
        size_t peak = 0;
        if (!quanta_plan_peak_bytes(s->plan, &peak) && peak > c->scratch_bytes) c->scratch_bytes = peak;
    }
    int32_t *pos = malloc((size_t)T * sizeof *pos);
    if (!pos) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_model_eval: no memory");
    for (int32_t i = 0; i < T; i++) pos[i] = c->n_past + i;
    int32_t start = c->n_past, kv_len = c->n_past + T;
    st = quanta_plan_set_input(s->plan, s->ids, tokens, (size_t)T * sizeof *tokens);
    if (!st && c->ring > 0) st = qn_ring_set_inputs(c, s->ring_start, s->ring_len, s->ring_mask, T, s->plan);
    if (!st) st = quanta_plan_set_input(s->plan, s->pos, pos, (size_t)T * sizeof *pos);
    if (!st) st = quanta_plan_set_input(s->plan, s->start, &start, sizeof start);
    if (!st) st = quanta_plan_set_input(s->plan, s->kv_len, &kv_len, sizeof kv_len);
    free(pos);
    qn_split_end(QN_SPLIT_PREP, t_prep);
    if (!st && !logits) st = quanta_plan_execute(s->plan);
    if (!st && logits && view) { /* no copy: the check in place over what the backend lends */
        int bad = 0;
        st = qn_plan_execute_view_f32_finite(s->plan, s->logits, logits_count, logits, view, &bad);
        if (!st && bad) st = qn_check_logits("quanta_model_eval_view", *view, logits_count, c->model->cfg.n_vocab);
        if (st) *view = NULL;
    } else if (!st && logits) {
        /* the copy back and the finiteness check in one pass where the backend allows, the copy queued
         * behind the run where switched on (engine/plan.h) */
        int bad = 0;
        st = qn_plan_execute_read_f32_finite(s->plan, s->logits, logits, logits_count, &bad);
        /* only to name the first non-finite logit: a failing step's second pass */
        if (!st && bad) st = qn_check_logits("quanta_model_eval", logits, logits_count, c->model->cfg.n_vocab);
    }
    const double t_post = qn_split_start();
    if (!st && s->cap) st = deliver_capture(c, s);
    if (!st) c->n_past += T;
    qn_split_end(QN_SPLIT_POST, t_post);
    return st;
}

quanta_status qn_model_eval_check(const quanta_model_context *c, const int32_t *tokens, size_t n, const float *logits,
                                  size_t logits_count) {
    if (!c) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_eval: ctx is NULL");
    if (!tokens) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_eval: tokens is NULL");
    if (n == 0) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_eval: no tokens (n = 0)");
    const int32_t V = c->model->cfg.n_vocab;
    for (size_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= V)
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_eval: tokens[%zu] = %d outside [0, %d)", i,
                                tokens[i], V);
    if (n > (size_t)(c->n_ctx - c->n_past))
        return qn_error_set(QUANTA_ERR_STATE, "quanta_model_eval: %zu tokens at position %d exceed the context of %d", n,
                            c->n_past, c->n_ctx);
    if (logits) {
        if (logits_count != (size_t)V && (logits_count / n != (size_t)V || logits_count % n != 0))
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                                "quanta_model_eval: logits_count %zu is neither n_vocab (%d) nor n * n_vocab", logits_count, V);
    }
    return QUANTA_OK;
}

/* Tokens per prefill step: QUANTA_PREFILL_STEP (1 to QN_MAX_PREFILL_STEP_TOKENS; anything else is ignored),
 * else QN_CUDA_PREFILL_STEP_TOKENS on CUDA and on OpenCL with NVIDIA's GPUs, QN_MAX_STEP_TOKENS elsewhere: longer
 * steps give each weight pass of the GEMMs more rows (llama.cpp's pp512 runs one 512-token step; mmq7). Contexts
 * with a ring cache stay within its step. Read at each prompt eval (one getenv per prompt). */
static size_t prefill_step_tokens(const quanta_model *m) {
    const char *e = getenv("QUANTA_PREFILL_STEP");
    char *end = NULL;
    const long v = e ? strtol(e, &end, 10) : 0;
    if (e && end != e && *end == '\0' && v >= 1 && v <= QN_MAX_PREFILL_STEP_TOKENS) return (size_t)v;
    quanta_device_info di;
    if (!m->backend || quanta_backend_device(m->backend, &di) != QUANTA_OK) return QN_MAX_STEP_TOKENS;
    if (!strcmp(di.backend, "cuda")) return QN_CUDA_PREFILL_STEP_TOKENS;
    /* OpenCL on NVIDIA's GPUs as well: pp512 1B 23.3k -> 33.5k, Gemma 3 270M 32.2k -> 51.3k (H100, 2026-12-06 17:13,
     * bench/NOTES.md clpp14: the int8 GEMM's grid doubles, half the launches) */
    if (!strcmp(di.backend, "opencl") && strstr(di.vendor, "NVIDIA")) return QN_CUDA_PREFILL_STEP_TOKENS;
    return QN_MAX_STEP_TOKENS;
}

static quanta_status eval_tokens(quanta_model_context *c, const int32_t *tokens, size_t n, float *logits,
                                 size_t logits_count, const float **view) {
    quanta_status st0 = qn_model_eval_check(c, tokens, n, logits, logits_count);
    if (st0) return st0;
    const int32_t V = c->model->cfg.n_vocab;
    int all = logits && (logits_count == (size_t)V ? n == 1 : 1);
    /* one token (a decode step) is one step whatever the cap: no getenv or device query per token */
    const size_t cap = n > 1 ? prefill_step_tokens(c->model) : 1;
    for (size_t done = 0; done < n;) {
        size_t T = n - done < cap ? n - done : cap;
        /* A step's rows must not wrap around a ring cache: write_rows writes one run. */
        if (c->ring > 0) {
            size_t room = (size_t)(c->ring - c->n_past % c->ring), step = (size_t)qn_ring_step(c->model);
            if (T > step) T = step;
            if (T > room) T = room;
        }
        int last_chunk = done + T == n;
        float *dst = NULL;
        size_t cnt = 0;
        if (logits && all) {
            dst = logits + done * (size_t)V;
            cnt = T * (size_t)V;
        } else if (logits && last_chunk) {
            dst = logits;
            cnt = (size_t)V;
        }
        quanta_status st = run_step(c, tokens + done, (int32_t)T, all || T == 1, dst, cnt, dst ? view : NULL);
        if (st) return st;
        done += T;
        if (c->progress && T != n) c->progress(c->progress_user, "prefill", (double)done / (double)n);
    }
    return QUANTA_OK;
}

quanta_status quanta_model_context_set_progress(quanta_model_context *c, quanta_progress_fn fn, void *user) {
    if (!c) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_context_set_progress: ctx is NULL");
    c->progress = fn;
    c->progress_user = user;
    return QUANTA_OK;
}

quanta_status quanta_model_eval(quanta_model_context *c, const int32_t *tokens, size_t n, float *logits,
                                size_t logits_count) {
    const double t0 = qn_split_start();
    quanta_status st = c && c->model->threads ? qn_tp_threads_eval(c, tokens, n, logits, logits_count)
                                              : qn_model_eval_rank(c, tokens, n, logits, logits_count);
    qn_split_end(QN_SPLIT_EVAL, t0);
    return st;
}

quanta_status qn_model_eval_rank(quanta_model_context *c, const int32_t *tokens, size_t n, float *logits,
                                 size_t logits_count) {
    quanta_status st = eval_tokens(c, tokens, n, logits, logits_count, NULL);
    /* Tensor parallelism: the other ranks would wait for this one in their next all-reduce. */
    if (st && c && c->model->comm) quanta_comm_abort(c->model->comm);
    return st;
}

quanta_status quanta_model_eval_view(quanta_model_context *c, const int32_t *tokens, size_t n, const float **logits) {
    if (!logits) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_eval_view: logits is NULL");
    *logits = NULL;
    if (!c) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_eval_view: ctx is NULL");
    const double t0 = qn_split_start();
    const size_t V = (size_t)c->model->cfg.n_vocab;
    if (!c->view_fallback && !(c->view_fallback = malloc(V * sizeof *c->view_fallback)))
        return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_model_eval_view: no memory for %zu logits", V);
    quanta_status st;
    if (c->model->threads) { /* tensor parallelism: rank 0's logits, copied out by the ranks' step */
        st = qn_tp_threads_eval(c, tokens, n, c->view_fallback, V);
        if (!st) *logits = c->view_fallback;
    } else {
        st = eval_tokens(c, tokens, n, c->view_fallback, V, logits);
        if (st && c->model->comm) quanta_comm_abort(c->model->comm);
    }
    if (st) *logits = NULL;
    qn_split_end(QN_SPLIT_EVAL, t0);
    return st;
}

quanta_status qn_check_logits(const char *fn, const float *logits, size_t count, int32_t n_vocab) {
    if (!qn_f32_any_nonfinite(logits, count)) return QUANTA_OK;
    for (size_t i = 0; i < count; i++)
        if (!isfinite(logits[i]))
            return qn_error_set(QUANTA_ERR_CORRUPT,
                                "%s: logit %zu of row %zu is %g: the model's weights overflow f32 (a corrupt or "
                                "mis-scaled file)",
                                fn, i % (size_t)n_vocab, i / (size_t)n_vocab, (double)logits[i]);
    return QUANTA_OK;
}

/* ---------------------------------------------------------------- queries */

quanta_status quanta_model_get_info(const quanta_model *m, quanta_model_info *info) {
    if (!m || !info)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_get_info: %s is NULL", !m ? "model" : "info");
    memset(info, 0, sizeof *info);
    const qn_model_config *c = &m->full_cfg; /* the whole model also on a tensor-parallel rank */
    snprintf(info->arch, sizeof info->arch, "%s", c->arch_name);
    snprintf(info->name, sizeof info->name, "%s", c->name);
    snprintf(info->tokenizer, sizeof info->tokenizer, "%s", qn_tokenizer_kind(m->tok) == QN_TOK_SPM ? "llama" : "gpt2");
    info->n_vocab = c->n_vocab;
    info->n_embd = c->n_embd;
    info->n_layer = c->n_layer;
    info->n_head = c->n_head;
    info->n_head_kv = c->n_head_kv;
    info->head_dim = c->head_dim;
    info->n_ff = c->n_ff;
    info->context_length = c->n_ctx_train;
    info->sliding_window = c->sliding_window;
    info->bos = qn_tokenizer_special(m->tok, 0);
    info->eos = qn_tokenizer_special(m->tok, 1);
    info->eot = qn_tokenizer_special(m->tok, 2);
    info->add_bos = qn_tokenizer_add_bos(m->tok);
    info->n_params = m->n_params;
    info->weight_dtype = m->weight_dtype;
    info->kv_dtype = m->kv_dtype;
    return QUANTA_OK;
}

quanta_status quanta_model_memory_report(const quanta_model *m, const quanta_model_context *c, quanta_model_memory *out) {
    if (!m || !out)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_memory_report: %s is NULL", !m ? "model" : "out");
    if (c && c->model != m)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_memory_report: ctx belongs to another model");
    memset(out, 0, sizeof *out);
    out->weights_bytes = m->weights_bytes;
    if (c) {
        out->kv_cache_bytes = c->kv_bytes;
        out->scratch_bytes = c->scratch_bytes;
    }
    return quanta_backend_memory_stats(m->backend, &out->device_in_use, &out->device_peak);
}

quanta_status quanta_model_tokenize(const quanta_model *m, const char *text, size_t len, int32_t add_bos,
                                    int32_t parse_special, int32_t *tokens, size_t capacity, size_t *n_tokens) {
    if (!m || !n_tokens || (!text && len))
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_tokenize: %s is NULL",
                            !m ? "model" : !n_tokens ? "n_tokens" : "text");
    if (!tokens && capacity)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_tokenize: tokens is NULL with capacity %zu", capacity);
    int32_t *ids;
    size_t n;
    quanta_status st = qn_tokenizer_encode(m->tok, text ? text : "", len, add_bos, parse_special, &ids, &n);
    if (st) return st;
    *n_tokens = n;
    if (!tokens) {
        free(ids);
        return QUANTA_OK;
    }
    if (n > capacity) {
        free(ids);
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_tokenize: capacity %zu, need %zu tokens", capacity, n);
    }
    if (n) memcpy(tokens, ids, n * sizeof *ids);
    free(ids);
    return QUANTA_OK;
}

quanta_status quanta_model_token_to_piece(const quanta_model *m, int32_t token, int32_t special, char *buf, size_t cap,
                                          size_t *len) {
    if (!m || !len || (!buf && cap))
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_token_to_piece: %s is NULL",
                            !m ? "model" : !len ? "len" : "buf");
    return qn_tokenizer_piece(m->tok, token, special, buf, cap, len);
}

quanta_status quanta_model_detokenize(const quanta_model *m, const int32_t *tokens, size_t n, int32_t special, char *buf,
                                      size_t cap, size_t *len) {
    if (!m || !len || (!tokens && n) || (!buf && cap))
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_detokenize: %s is NULL",
                            !m ? "model" : !len ? "len" : (!tokens && n) ? "tokens" : "buf");
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = 0;
        char *dst = buf && o < cap ? buf + o : NULL;
        size_t room = dst ? cap - o : 0;
        quanta_status st = qn_tokenizer_piece(m->tok, tokens[i], special, dst, room, &l);
        if (st && st != QUANTA_ERR_INVALID_ARGUMENT) return st;
        if (tokens[i] < 0 || tokens[i] >= qn_tokenizer_n_vocab(m->tok)) return st;
        o += l;
    }
    *len = o;
    if (!buf) return QUANTA_OK;
    if (o + 1 > cap)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_detokenize: buffer of %zu bytes, need %zu", cap, o + 1);
    buf[o] = 0;
    return QUANTA_OK;
}

int quanta_model_token_is_eog(const quanta_model *m, int32_t token) {
    if (!m || token < 0) return 0;
    return token == qn_tokenizer_special(m->tok, 1) || token == qn_tokenizer_special(m->tok, 2);
}
