/*
 * tiny_model.h — a tiny random-weight decoder written as a GGUF image by the tests themselves
 * (LLaMA, Qwen2 or Gemma 3 flavour), and an independent float64 forward pass of the same
 * architecture, written here from the published model definitions, to check the runtime against.
 */
#ifndef QUANTA_TESTS_TINY_MODEL_H
#define QUANTA_TESTS_TINY_MODEL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "model_internal.h"
#include "quanta.h"
#include "test_util.h"

typedef struct tiny_spec {
    const char *arch;      /* "llama", "qwen2", "gemma3" */
    int n_embd, n_head, n_head_kv, head_dim, n_ff, n_layer, n_vocab;
    int window;            /* gemma3: sliding window */
    float rope_base;
    int f16_tensor;        /* store blk.0.ffn_up as F16 */
    int hf_layout;         /* transformers conventions: NeoX rope for every family */
} tiny_spec;

typedef struct tiny_layer {
    float *attn_norm, *wq, *wk, *wv, *wo, *bq, *bk, *bv, *q_norm, *k_norm, *post_attn_norm;
    float *ffn_norm, *w_gate, *w_up, *w_down, *post_ffn_norm;
} tiny_layer;

typedef struct tiny_model {
    tiny_spec s;
    float *embd, *out_norm, *output; /* output NULL: tied */
    tiny_layer *L;
    void *image;                     /* GGUF bytes */
    size_t image_size;
} tiny_model;

/* The tiny SentencePiece vocabulary: specials, 256 byte tokens, pieces, then unused. */
static const char *const tiny_pieces[] = {"\xe2\x96\x81", "a", "b", "c", "d", "e", "h", "l", "o", "t",
                                          "th", "he", "\xe2\x96\x81t", "\xe2\x96\x81th", "\xe2\x96\x81the",
                                          "ll", "lo", "hello", ("\xe2\x96\x81" "a"), "<start_of_turn>"};
#define TINY_N_PIECES ((int)(sizeof tiny_pieces / sizeof *tiny_pieces))
#define TINY_FIRST_PIECE 259

static float *tiny_rand(qt_rng *r, size_t n, float sd, float mean) {
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = mean + qt_normal(r, sd);
    return p;
}

static int tiny_is_gemma(const tiny_spec *s) { return !strcmp(s->arch, "gemma3"); }

/* KV cache rows of all layers together for a context of n_ctx positions: Gemma 3's local layers
 * (il % 6 < 5) keep a ring of window + step - 1 rows rounded up to a multiple of the step (step
 * = the window, at most 256) when that is smaller than n_ctx (model_internal.h, qn_ring_rows). */
static inline uint64_t tiny_kv_rows(const tiny_spec *s, int n_ctx) {
    int step = s->window < 256 ? s->window : 256;
    int ring = s->window > 0 ? (s->window + 2 * step - 2) / step * step : 0;
    uint64_t rows = 0;
    for (int l = 0; l < s->n_layer; l++)
        rows += (uint64_t)(tiny_is_gemma(s) && l % 6 < 5 && ring > 0 && ring < n_ctx ? ring : n_ctx);
    return rows;
}

static void tiny_add(qn_gguf_writer *w, const char *name, int64_t rows, int64_t cols, const float *data,
                     uint32_t type) {
    int64_t dims[2] = {cols, rows};
    size_t n = (size_t)cols * (size_t)(rows ? rows : 1);
    quanta_status st;
    if (type == 1) {
        uint16_t *h = malloc(n * 2);
        for (size_t i = 0; i < n; i++) h[i] = quanta_f32_to_f16(data[i]);
        st = qn_gguf_writer_add_tensor(w, name, rows ? 2 : 1, dims, 1, h, n * 2);
        free(h);
    } else {
        st = qn_gguf_writer_add_tensor(w, name, rows ? 2 : 1, dims, 0, data, n * 4);
    }
    ck_assert_msg(st == QUANTA_OK, "add_tensor %s: %s", name, quanta_last_error());
}

/* Builds the model; `skip` (may be NULL) names a tensor to leave out and `bad_shape` one to
 * write with a wrong shape, for the corrupt-file tests. */
static void tiny_build(tiny_model *m, const tiny_spec *s, uint64_t salt, const char *skip, const char *bad_shape) {
    memset(m, 0, sizeof *m);
    m->s = *s;
    qt_rng r = qt_rng_make(salt);
    int E = s->n_embd, Q = s->n_head * s->head_dim, KV = s->n_head_kv * s->head_dim, F = s->n_ff, V = s->n_vocab;
    int gem = tiny_is_gemma(s), qwen = !strcmp(s->arch, "qwen2");
    m->embd = tiny_rand(&r, (size_t)V * E, gem ? 0.05f : 0.5f, 0);
    m->out_norm = tiny_rand(&r, (size_t)E, 0.1f, 1.0f);
    m->output = gem ? NULL : tiny_rand(&r, (size_t)V * E, 0.2f, 0);
    m->L = calloc((size_t)s->n_layer, sizeof *m->L);
    for (int l = 0; l < s->n_layer; l++) {
        tiny_layer *t = &m->L[l];
        t->attn_norm = tiny_rand(&r, E, 0.1f, 1.0f);
        t->wq = tiny_rand(&r, (size_t)Q * E, 0.15f, 0);
        t->wk = tiny_rand(&r, (size_t)KV * E, 0.15f, 0);
        t->wv = tiny_rand(&r, (size_t)KV * E, 0.15f, 0);
        t->wo = tiny_rand(&r, (size_t)E * Q, 0.15f, 0);
        if (qwen) {
            t->bq = tiny_rand(&r, Q, 0.1f, 0);
            t->bk = tiny_rand(&r, KV, 0.1f, 0);
            t->bv = tiny_rand(&r, KV, 0.1f, 0);
        }
        if (gem) {
            t->q_norm = tiny_rand(&r, s->head_dim, 0.1f, 1.0f);
            t->k_norm = tiny_rand(&r, s->head_dim, 0.1f, 1.0f);
            t->post_attn_norm = tiny_rand(&r, E, 0.1f, 1.0f);
            t->post_ffn_norm = tiny_rand(&r, E, 0.1f, 1.0f);
        }
        t->ffn_norm = tiny_rand(&r, E, 0.1f, 1.0f);
        t->w_gate = tiny_rand(&r, (size_t)F * E, 0.15f, 0);
        t->w_up = tiny_rand(&r, (size_t)F * E, 0.15f, 0);
        t->w_down = tiny_rand(&r, (size_t)E * F, 0.1f, 0);
        if (s->f16_tensor && l == 0) /* the reference sees what the file holds */
            for (int i = 0; i < F * E; i++) t->w_up[i] = quanta_f16_to_f32(quanta_f32_to_f16(t->w_up[i]));
    }

    qn_gguf_writer *w;
    ck_assert(qn_gguf_writer_create(&w) == QUANTA_OK);
    char key[96];
#define KEY(k) (snprintf(key, sizeof key, "%s.%s", s->arch, k), key)
    qn_gguf_writer_set_str(w, "general.architecture", s->arch);
    qn_gguf_writer_set_str(w, "general.name", "tiny test model");
    qn_gguf_writer_set_u32(w, KEY("context_length"), 256);
    qn_gguf_writer_set_u32(w, KEY("embedding_length"), (uint32_t)E);
    qn_gguf_writer_set_u32(w, KEY("block_count"), (uint32_t)s->n_layer);
    qn_gguf_writer_set_u32(w, KEY("feed_forward_length"), (uint32_t)F);
    qn_gguf_writer_set_u32(w, KEY("attention.head_count"), (uint32_t)s->n_head);
    qn_gguf_writer_set_u32(w, KEY("attention.head_count_kv"), (uint32_t)s->n_head_kv);
    qn_gguf_writer_set_u32(w, KEY("attention.key_length"), (uint32_t)s->head_dim);
    qn_gguf_writer_set_u32(w, KEY("attention.value_length"), (uint32_t)s->head_dim);
    qn_gguf_writer_set_f32(w, KEY("attention.layer_norm_rms_epsilon"), 1e-6f);
    qn_gguf_writer_set_f32(w, KEY("rope.freq_base"), s->rope_base);
    if (gem) qn_gguf_writer_set_u32(w, KEY("attention.sliding_window"), (uint32_t)s->window);
#undef KEY
    /* Vocabulary. */
    char **text = calloc((size_t)V, sizeof *text);
    float *scores = calloc((size_t)V, sizeof *scores);
    int32_t *types = calloc((size_t)V, sizeof *types);
    const char *sp[3] = {"<unk>", "<s>", "</s>"};
    for (int i = 0; i < V; i++) {
        char buf[32];
        if (i < 3) {
            snprintf(buf, sizeof buf, "%s", sp[i]);
            types[i] = i == 0 ? 2 : 3;
        } else if (i < TINY_FIRST_PIECE) {
            snprintf(buf, sizeof buf, "<0x%02X>", i - 3);
            types[i] = 6;
        } else if (i < TINY_FIRST_PIECE + TINY_N_PIECES) {
            snprintf(buf, sizeof buf, "%s", tiny_pieces[i - TINY_FIRST_PIECE]);
            types[i] = strchr(buf, '<') ? 3 : 1;
            scores[i] = -(float)(i - TINY_FIRST_PIECE) * (strlen(buf) > 2 ? 0.5f : 1.0f);
        } else {
            snprintf(buf, sizeof buf, "<unused%d>", i);
            types[i] = 5;
            scores[i] = -1000.0f;
        }
        text[i] = strdup(buf);
    }
    ck_assert(qn_gguf_writer_set_str(w, "tokenizer.ggml.model", "llama") == QUANTA_OK);
    ck_assert(qn_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)text, (uint64_t)V) == QUANTA_OK);
    ck_assert(qn_gguf_writer_set_arr_f32(w, "tokenizer.ggml.scores", scores, (uint64_t)V) == QUANTA_OK);
    ck_assert(qn_gguf_writer_set_arr_i32(w, "tokenizer.ggml.token_type", types, (uint64_t)V) == QUANTA_OK);
    qn_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1);
    qn_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2);
    qn_gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", 0);
    qn_gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", 1);
    qn_gguf_writer_set_bool(w, "tokenizer.ggml.add_space_prefix", 0);
    for (int i = 0; i < V; i++) free(text[i]);
    free(text);
    free(scores);
    free(types);
    /* Tensors. */
#define ADD(nm, rows, cols, data, type)                                                          \
    do {                                                                                         \
        if ((data) && !(skip && !strcmp(skip, nm)))                                              \
            tiny_add(w, nm, (bad_shape && !strcmp(bad_shape, nm)) ? (rows) + 1 : (rows), cols, (data), type); \
    } while (0)
    float *big = NULL;
    if (bad_shape) big = calloc((size_t)(V + 1) * (size_t)(E + F + Q), sizeof *big); /* room for a +1 row */
    ADD("token_embd.weight", V, E, (bad_shape && !strcmp(bad_shape, "token_embd.weight")) ? big : m->embd, 0);
    ADD("output_norm.weight", 0, E, m->out_norm, 0);
    ADD("output.weight", V, E, m->output, 0);
    char nm[64];
    for (int l = 0; l < s->n_layer; l++) {
        tiny_layer *t = &m->L[l];
#define LADD(suffix, rows, cols, data, type)                                                    \
        do {                                                                                    \
            snprintf(nm, sizeof nm, "blk.%d." suffix, l);                                       \
            const float *d_ = (bad_shape && !strcmp(bad_shape, nm)) ? big : (data);             \
            ADD(nm, rows, cols, d_, type);                                                      \
        } while (0)
        LADD("attn_norm.weight", 0, E, t->attn_norm, 0);
        LADD("attn_q.weight", Q, E, t->wq, 0);
        LADD("attn_k.weight", KV, E, t->wk, 0);
        LADD("attn_v.weight", KV, E, t->wv, 0);
        LADD("attn_output.weight", E, Q, t->wo, 0);
        LADD("attn_q.bias", 0, Q, t->bq, 0);
        LADD("attn_k.bias", 0, KV, t->bk, 0);
        LADD("attn_v.bias", 0, KV, t->bv, 0);
        LADD("attn_q_norm.weight", 0, s->head_dim, t->q_norm, 0);
        LADD("attn_k_norm.weight", 0, s->head_dim, t->k_norm, 0);
        LADD("post_attention_norm.weight", 0, E, t->post_attn_norm, 0);
        LADD("ffn_norm.weight", 0, E, t->ffn_norm, 0);
        LADD("ffn_gate.weight", F, E, t->w_gate, 0);
        LADD("ffn_up.weight", F, E, t->w_up, (s->f16_tensor && l == 0) ? 1 : 0);
        LADD("ffn_down.weight", E, F, t->w_down, 0);
        LADD("post_ffw_norm.weight", 0, E, t->post_ffn_norm, 0);
#undef LADD
    }
#undef ADD
    ck_assert_msg(qn_gguf_writer_write_memory(w, &m->image, &m->image_size) == QUANTA_OK, "%s", quanta_last_error());
    qn_gguf_writer_destroy(w);
    free(big);
}

static void tiny_free(tiny_model *m) {
    for (int l = 0; l < m->s.n_layer; l++) {
        tiny_layer *t = &m->L[l];
        float *all[] = {t->attn_norm, t->wq, t->wk, t->wv, t->wo, t->bq, t->bk, t->bv, t->q_norm, t->k_norm,
                        t->post_attn_norm, t->ffn_norm, t->w_gate, t->w_up, t->w_down, t->post_ffn_norm};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++) free(all[i]);
    }
    free(m->L);
    free(m->embd);
    free(m->out_norm);
    free(m->output);
    free(m->image);
}

/* The model of m's GGUF image on backend be (p may be NULL); a load failure fails the test. */
static inline quanta_model *tiny_load(const tiny_model *m, quanta_backend *be, const quanta_model_params *p) {
    qn_gguf *g;
    ck_assert_msg(qn_gguf_open_memory(m->image, m->image_size, &g) == QUANTA_OK, "%s", quanta_last_error());
    quanta_model *model = NULL;
    quanta_status st = qn_model_from_gguf(g, be, p, &model);
    qn_gguf_close(g);
    quanta_device_info info;
    ck_assert_msg(st == QUANTA_OK, "load on %s: %s",
                  quanta_backend_device(be, &info) == QUANTA_OK ? info.backend : "?", quanta_last_error());
    return model;
}

/* ------------------------------------------------- independent reference */

/* Largest |a - ref| relative to the largest |ref| (NaN in a: infinite). */
static inline double tiny_max_rel_err(const float *a, const double *ref, int n) {
    double mx = 0, scale = 0;
    for (int i = 0; i < n; i++) scale = fmax(scale, fabs(ref[i]));
    for (int i = 0; i < n; i++) {
        if (a[i] != a[i]) return INFINITY;
        mx = fmax(mx, fabs(a[i] - ref[i]));
    }
    return mx / (scale > 0 ? scale : 1);
}

typedef struct tiny_ref {
    const tiny_model *m;
    int n_ctx, n_past;
    double *k, *v; /* [layer][pos][kv head][dim] */
    double *act_sq; /* optional (calibration tests): sums of x^2 of every linear layer's input,
                       [layer * 4 + site][act_stride], sites q/k/v, o, gate/up, down; then the head */
    int act_stride;
    int kv_mant, kv_emin; /* optional (KV cache tests): q, k, v and the attention output rounded
                             to this many mantissa bits (0: not rounded), exponent floor emin */
} tiny_ref;

/* x rounded to nearest-even with `mant` stored mantissa bits and smallest normal exponent emin
 * (f16: 10, -14; bf16: 7, -126), written here from the formats' definitions; no overflow
 * handling (the tiny models' values are far from it). */
static inline double tiny_round_float(double x, int mant, int emin) {
    if (x == 0 || !isfinite(x)) return x;
    int e;
    frexp(x, &e); /* |x| in [2^(e-1), 2^e) */
    int ex = e - 1 < emin ? emin : e - 1;
    double ulp = ldexp(1.0, ex - mant);
    return rint(x / ulp) * ulp;
}
static inline void tiny_round_vec(const struct tiny_ref *r, double *x, int n) {
    for (int i = 0; r->kv_mant && i < n; i++) x[i] = tiny_round_float(x[i], r->kv_mant, r->kv_emin);
}

static void ref_init(tiny_ref *r, const tiny_model *m, int n_ctx) {
    r->m = m;
    r->n_ctx = n_ctx;
    r->n_past = 0;
    size_t n = (size_t)m->s.n_layer * n_ctx * m->s.n_head_kv * m->s.head_dim;
    r->k = calloc(n, sizeof *r->k);
    r->v = calloc(n, sizeof *r->v);
    r->act_sq = NULL;
    r->act_stride = 0;
    r->kv_mant = r->kv_emin = 0;
}
static void ref_capture(tiny_ref *r, int site, const double *x, int n) {
    if (!r->act_sq) return;
    for (int i = 0; i < n; i++) r->act_sq[(size_t)site * r->act_stride + i] += x[i] * x[i];
}
static void ref_free(tiny_ref *r) {
    free(r->k);
    free(r->v);
}

static void ref_rmsnorm(double *y, const double *x, const float *w, int n) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += x[i] * x[i];
    double inv = 1.0 / sqrt(ss / n + 1e-6);
    for (int i = 0; i < n; i++) y[i] = x[i] * inv * w[i];
}
/* y[rows] = W[rows][cols] x */
static void ref_matvec(double *y, const float *W, const double *x, int rows, int cols) {
    for (int i = 0; i < rows; i++) {
        double acc = 0;
        for (int j = 0; j < cols; j++) acc += (double)W[(size_t)i * cols + j] * x[j];
        y[i] = acc;
    }
}
static void ref_rope(double *x, int D, int pos, double base, int neox) {
    for (int i = 0; i < D / 2; i++) {
        double th = pos * pow(base, -2.0 * i / D);
        double c = cos(th), s = sin(th);
        int a = neox ? i : 2 * i, b = neox ? i + D / 2 : 2 * i + 1;
        double x0 = x[a], x1 = x[b];
        x[a] = x0 * c - x1 * s;
        x[b] = x0 * s + x1 * c;
    }
}

/* Runs one token at the next position; logits[n_vocab]. */
static void ref_step(tiny_ref *r, int tok, double *logits) {
    const tiny_model *m = r->m;
    const tiny_spec *s = &m->s;
    int E = s->n_embd, H = s->n_head, Hk = s->n_head_kv, D = s->head_dim, F = s->n_ff;
    int gem = tiny_is_gemma(s), pos = r->n_past;
    double *x = calloc(E, sizeof *x), *h = calloc(E, sizeof *h), *q = calloc((size_t)H * D, sizeof *q);
    double *k = calloc((size_t)Hk * D, sizeof *k), *v = calloc((size_t)Hk * D, sizeof *v);
    double *att = calloc((size_t)H * D, sizeof *att), *o = calloc(E, sizeof *o);
    double *g = calloc(F, sizeof *g), *u = calloc(F, sizeof *u), *sc = calloc(r->n_ctx, sizeof *sc);
    for (int i = 0; i < E; i++) x[i] = m->embd[(size_t)tok * E + i] * (gem ? sqrt((double)E) : 1.0);
    for (int l = 0; l < s->n_layer; l++) {
        const tiny_layer *t = &m->L[l];
        /* Gemma 3: five sliding-window layers, then one global (rope base 10000 locally). */
        int local = gem && (l % 6) < 5;
        double base = gem ? (local ? 10000.0 : s->rope_base) : s->rope_base;
        ref_rmsnorm(h, x, t->attn_norm, E);
        ref_capture(r, l * 4 + 0, h, E);
        ref_matvec(q, t->wq, h, H * D, E);
        ref_matvec(k, t->wk, h, Hk * D, E);
        ref_matvec(v, t->wv, h, Hk * D, E);
        if (t->bq) {
            for (int i = 0; i < H * D; i++) q[i] += t->bq[i];
            for (int i = 0; i < Hk * D; i++) k[i] += t->bk[i], v[i] += t->bv[i];
        }
        for (int hh = 0; hh < H; hh++) {
            if (gem) ref_rmsnorm(q + hh * D, q + hh * D, t->q_norm, D);
            ref_rope(q + hh * D, D, pos, base, s->hf_layout || strcmp(s->arch, "llama") != 0);
        }
        for (int hh = 0; hh < Hk; hh++) {
            if (gem) ref_rmsnorm(k + hh * D, k + hh * D, t->k_norm, D);
            ref_rope(k + hh * D, D, pos, base, s->hf_layout || strcmp(s->arch, "llama") != 0);
        }
        tiny_round_vec(r, q, H * D);
        tiny_round_vec(r, k, Hk * D);
        tiny_round_vec(r, v, Hk * D);
        size_t lo = (size_t)l * r->n_ctx * Hk * D;
        memcpy(r->k + lo + (size_t)pos * Hk * D, k, sizeof(double) * Hk * D);
        memcpy(r->v + lo + (size_t)pos * Hk * D, v, sizeof(double) * Hk * D);
        int j0 = (local && s->window > 0 && pos - s->window + 1 > 0) ? pos - s->window + 1 : 0;
        for (int hh = 0; hh < H; hh++) {
            int kh = hh / (H / Hk);
            double mx = -INFINITY, sum = 0;
            for (int j = j0; j <= pos; j++) {
                const double *kj = r->k + lo + ((size_t)j * Hk + kh) * D;
                double d = 0;
                for (int i = 0; i < D; i++) d += q[hh * D + i] * kj[i];
                sc[j] = d / sqrt((double)D);
                if (sc[j] > mx) mx = sc[j];
            }
            for (int j = j0; j <= pos; j++) sum += (sc[j] = exp(sc[j] - mx));
            for (int i = 0; i < D; i++) {
                double a = 0;
                for (int j = j0; j <= pos; j++) a += sc[j] * r->v[lo + ((size_t)j * Hk + kh) * D + i];
                att[hh * D + i] = a / sum;
            }
        }
        tiny_round_vec(r, att, H * D);
        ref_capture(r, l * 4 + 1, att, H * D);
        ref_matvec(o, t->wo, att, E, H * D);
        if (gem) ref_rmsnorm(o, o, t->post_attn_norm, E);
        for (int i = 0; i < E; i++) x[i] += o[i];
        ref_rmsnorm(h, x, t->ffn_norm, E);
        ref_capture(r, l * 4 + 2, h, E);
        ref_matvec(g, t->w_gate, h, F, E);
        ref_matvec(u, t->w_up, h, F, E);
        for (int i = 0; i < F; i++) {
            double a = g[i];
            double act = gem ? 0.5 * a * (1.0 + tanh(0.7978845608028654 * (a + 0.044715 * a * a * a)))
                             : a / (1.0 + exp(-a));
            g[i] = act * u[i];
        }
        ref_capture(r, l * 4 + 3, g, F);
        ref_matvec(o, t->w_down, g, E, F);
        if (gem) ref_rmsnorm(o, o, t->post_ffn_norm, E);
        for (int i = 0; i < E; i++) x[i] += o[i];
    }
    ref_rmsnorm(h, x, m->out_norm, E);
    ref_capture(r, s->n_layer * 4, h, E);
    ref_matvec(logits, m->output ? m->output : m->embd, h, s->n_vocab, E);
    r->n_past++;
    free(x), free(h), free(q), free(k), free(v), free(att), free(o), free(g), free(u), free(sc);
}


static inline int tiny_argmax(const float *x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

/* Opens backend_spec and loads the tiny model on it (NULL, *be possibly NULL, on failure). */
static inline quanta_model *tiny_open_load(const tiny_model *tm, const char *backend_spec,
                                           const quanta_model_params *p, quanta_backend **be) {
    *be = NULL;
    if (quanta_backend_open(backend_spec, be) != QUANTA_OK) return NULL;
    return tiny_load(tm, *be, p);
}

/* The same with default parameters and a KV cache of dtype kv. */
static inline quanta_model *tiny_open_load_kv(const tiny_model *tm, const char *backend_spec, quanta_dtype kv,
                                              quanta_backend **be) {
    quanta_model_params p;
    quanta_model_default_params(&p);
    p.kv_dtype = kv;
    return tiny_open_load(tm, backend_spec, &p, be);
}

/* Prefills each of ns contexts with lens[i] (<= 64) random ids of rng and steps its float64
 * reference r[i] through them; tok[i] = the greedy token after its prompt. logits: V * ns floats,
 * want: V doubles (scratch). */
static inline void tiny_prefill_with_ref(quanta_model_context *const *ctx, tiny_ref *r, int ns, const int *lens,
                                         qt_rng *rng, int V, float *logits, double *want, int32_t *tok) {
    for (int i = 0; i < ns; i++) {
        int32_t ids[64];
        ck_assert_int_le(lens[i], 64);
        for (int t = 0; t < lens[i]; t++) ids[t] = (int32_t)(qt_next(rng) % (uint64_t)V);
        ck_assert_msg(quanta_model_eval(ctx[i], ids, (size_t)lens[i], logits, (size_t)V) == QUANTA_OK, "%s",
                      quanta_last_error());
        for (int t = 0; t < lens[i]; t++) ref_step(&r[i], ids[t], want);
        tok[i] = tiny_argmax(logits, V);
    }
}

/* steps batched decode steps (quanta_model_eval_batch) of the ns contexts from tok, each row's
 * logits (poisoned before) within tol of its reference r[i] by max relative error, the greedy
 * token fed back. Returns the largest error; what names the case in a failure. */
static inline double tiny_batch_vs_ref(quanta_model_context **ctx, tiny_ref *r, int ns, int32_t *tok, int steps, int V,
                                       float *logits, double *want, double tol, const char *what) {
    double worst = 0;
    for (int step = 0; step < steps; step++) {
        qt_poison_f32(logits, (size_t)V * (size_t)ns);
        ck_assert_msg(quanta_model_eval_batch(ctx, tok, (size_t)ns, logits, (size_t)V * (size_t)ns) == QUANTA_OK, "%s",
                      quanta_last_error());
        for (int i = 0; i < ns; i++) {
            ref_step(&r[i], tok[i], want);
            const double e = tiny_max_rel_err(logits + (size_t)i * V, want, V);
            ck_assert_msg(e < tol, "%s: batch step %d sequence %d: max rel err %g (bound %g)", what, step, i, e, tol);
            worst = fmax(worst, e);
            tok[i] = tiny_argmax(logits + (size_t)i * V, V);
        }
    }
    return worst;
}

/* One tensor-parallel rank run on its own thread: load the rank's shard of the model on the
 * reference backend, prefill `prompt` tokens of ids, then decode `steps` more one at a time;
 * logits holds (prompt + steps) rows of V (every prefill row, then each decode row). */
typedef struct tiny_rank {
    const tiny_model *tm;
    quanta_comm *comm;
    const int32_t *ids;
    int prompt, steps, n_ctx;
    quanta_dtype kv_dtype;
    float *logits;
    uint64_t kv_bytes; /* out: this rank's KV cache */
    int32_t ring;      /* out: the context's ring size (0: plain caches) */
    quanta_status st;
    char err[256];
} tiny_rank;

static inline void *tiny_rank_run(void *arg) {
    tiny_rank *k = arg;
    const int V = k->tm->s.n_vocab;
    quanta_backend *be = NULL;
    quanta_model *m = NULL;
    quanta_model_context *ctx = NULL;
    qn_gguf *g = NULL;
    quanta_model_params p;
    quanta_model_default_params(&p);
    p.kv_dtype = k->kv_dtype;
    quanta_status st = quanta_backend_open("ref", &be);
    if (!st) st = qn_gguf_open_memory(k->tm->image, k->tm->image_size, &g);
    if (!st) st = qn_model_from_gguf_tp(g, be, &p, k->comm, &m);
    qn_gguf_close(g);
    if (!st) st = quanta_model_context_create(m, k->n_ctx, &ctx);
    if (!st) k->ring = ctx->ring;
    if (!st) st = quanta_model_eval(ctx, k->ids, k->prompt, k->logits, (size_t)V * k->prompt);
    for (int s = 0; s < k->steps && !st; s++)
        st = quanta_model_eval(ctx, &k->ids[k->prompt + s], 1, k->logits + (size_t)(k->prompt + s) * V, V);
    quanta_model_memory mem;
    if (!st) st = quanta_model_memory_report(m, ctx, &mem);
    if (!st) k->kv_bytes = mem.kv_cache_bytes;
    k->st = st;
    if (st) snprintf(k->err, sizeof k->err, "%s", quanta_last_error());
    quanta_model_context_destroy(ctx);
    quanta_model_destroy(m);
    quanta_backend_close(be);
    return NULL;
}

#endif
