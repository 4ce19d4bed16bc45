/*
 * test_calib.c — calibrated quantization (`quanta quantize --calib`, model/calib.h): the
 * activation statistics against a float64 forward pass written in tiny_model.h, the clipping
 * search against a brute-force search done here unit by unit, and the command end to end on a
 * tiny random model: for every quantized tensor the activation-weighted error (weights from the
 * independent forward pass) is no larger than plain min-max's, the file loads and runs, and bad
 * inputs are clear errors.
 */
#include <unistd.h>

#include "calib.h"
#include "commands.h"
#include "formats.h"
#include "qt_file.h"
#include "qt_tensor.h"
#include "tiny_model.h"

/* Row lengths that fit every format: q4 groups of 32/64, nf4 blocks of 64. */
static const tiny_spec SPEC_LLAMA = {"llama", 64, 4, 2, 16, 128, 2, 300, 0, 10000.0f, 0, 0};
static const tiny_spec SPEC_GEMMA3 = {"gemma3", 64, 2, 1, 32, 128, 2, 300, 4, 1000000.0f, 0, 0};

static const char *TEXT = "hello the cat sat on the mat; the hat is on the cat. hello hello, lo! "
                          "a bat, a dot, the end of the tale is near the lake.";

static int32_t *tokenize(quanta_model *m, size_t *n) {
    ck_assert(quanta_model_tokenize(m, TEXT, strlen(TEXT), 1, 0, NULL, 0, n) == QUANTA_OK);
    int32_t *ids = malloc(*n * sizeof *ids);
    ck_assert(quanta_model_tokenize(m, TEXT, strlen(TEXT), 1, 0, ids, *n, n) == QUANTA_OK);
    return ids;
}

static int stride_of(const tiny_spec *s) {
    int q = s->n_head * s->head_dim, w = s->n_embd > q ? s->n_embd : q;
    return w > s->n_ff ? w : s->n_ff;
}

/* Sums of x^2 at every linear input from the float64 reference over tokens, restarting the
 * sequence (BOS first) every n_ctx tokens as the runtime does; returns the rows seen. */
static size_t reference_act_sq(const tiny_model *tm, const int32_t *ids, size_t n, int n_ctx, double *act, int stride) {
    size_t rows = 0;
    double *logits = malloc((size_t)tm->s.n_vocab * sizeof *logits);
    for (size_t done = 0; done < n;) {
        tiny_ref r;
        ref_init(&r, tm, n_ctx);
        r.act_sq = act;
        r.act_stride = stride;
        int k = 0;
        if (done) ref_step(&r, ids[0], logits), k = 1;
        size_t take = n - done < (size_t)(n_ctx - k) ? n - done : (size_t)(n_ctx - k);
        for (size_t i = 0; i < take; i++) ref_step(&r, ids[done + i], logits);
        rows += take + (size_t)k;
        done += take;
        ref_free(&r);
    }
    free(logits);
    return rows;
}

static void check_stats(const tiny_spec *spec, uint64_t salt, int n_ctx) {
    tiny_model tm;
    tiny_build(&tm, spec, salt, NULL, NULL);
    quanta_backend *be;
    ck_assert(quanta_backend_open("ref", &be) == QUANTA_OK);
    quanta_model *m = tiny_load(&tm, be, NULL);
    size_t n;
    int32_t *ids = tokenize(m, &n);
    ck_assert_uint_gt(n, 20);
    qn_act_stats *st = NULL;
    ck_assert_msg(qn_model_collect_act_stats(m, ids, n, n_ctx, &st) == QUANTA_OK, "%s", quanta_last_error());
    const int L = spec->n_layer, stride = stride_of(spec);
    double *act = calloc((size_t)(4 * L + 1) * stride, sizeof *act);
    size_t rows = reference_act_sq(&tm, ids, n, n_ctx ? n_ctx : (int)n, act, stride);
    ck_assert_int_eq(st->n_sites, 4 * L + 1);
    ck_assert_uint_eq(st->n_tokens, rows);
    const int64_t cols[4] = {spec->n_embd, spec->n_head * spec->head_dim, spec->n_embd, spec->n_ff};
    for (int i = 0; i < st->n_sites; i++) {
        const qn_act_site *a = &st->site[i];
        ck_assert_int_eq(a->cols, i == 4 * L ? spec->n_embd : cols[i % 4]);
        ck_assert_uint_eq(a->rows, rows);
        for (int64_t k = 0; k < a->cols; k++) {
            double want = act[(size_t)i * stride + k];
            ck_assert_msg(fabs(a->sum_sq[k] - want) <= 1e-4 * want + 1e-9, "%s site %d col %lld: %g vs %g", spec->arch, i,
                          (long long)k, a->sum_sq[k], want);
            ck_assert(a->sum_abs[k] >= 0 && a->sum_abs[k] * a->sum_abs[k] <= a->sum_sq[k] * (double)rows * (1 + 1e-9));
        }
    }
    /* Name lookup: GGUF and Hugging Face names of the same weight find the same site. */
    ck_assert_ptr_eq(qn_act_stats_find(st, "blk.1.attn_v.weight", 0), &st->site[QN_SITE(1, QN_SITE_ATTN_IN)]);
    ck_assert_ptr_eq(qn_act_stats_find(st, "model.layers.1.self_attn.o_proj.weight", 0),
                     &st->site[QN_SITE(1, QN_SITE_ATTN_OUT)]);
    ck_assert_ptr_eq(qn_act_stats_find(st, "model.layers.0.mlp.up_proj.weight", 0), &st->site[QN_SITE(0, QN_SITE_FFN_IN)]);
    ck_assert_ptr_eq(qn_act_stats_find(st, "blk.0.ffn_down.weight", 0), &st->site[QN_SITE(0, QN_SITE_FFN_DOWN)]);
    ck_assert_ptr_eq(qn_act_stats_find(st, "lm_head.weight", 0), &st->site[4 * L]);
    ck_assert_ptr_eq(qn_act_stats_find(st, "token_embd.weight", 1), &st->site[4 * L]);
    ck_assert_ptr_null(qn_act_stats_find(st, "token_embd.weight", 0));
    ck_assert_ptr_null(qn_act_stats_find(st, "blk.9.attn_q.weight", 0)); /* no such layer */
    ck_assert_ptr_null(qn_act_stats_find(st, "blk.0.attn_norm.weight", 0));
    qn_act_stats_free(st);
    /* Bad arguments. */
    ck_assert_int_eq(qn_model_collect_act_stats(m, ids, 0, 0, &st), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(st);
    ck_assert_int_eq(qn_model_collect_act_stats(m, ids, n, -1, &st), QUANTA_ERR_INVALID_ARGUMENT);
    int32_t bad[2] = {1, spec->n_vocab};
    ck_assert_int_eq(qn_model_collect_act_stats(m, bad, 2, 0, &st), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(st);
    /* The model still runs normally afterwards: capture was only on the calibration context. */
    quanta_model_context *c;
    ck_assert(quanta_model_context_create(m, 8, &c) == QUANTA_OK);
    float *lg = malloc((size_t)spec->n_vocab * sizeof *lg);
    ck_assert(quanta_model_eval(c, ids, 4, lg, (size_t)spec->n_vocab) == QUANTA_OK);
    quanta_model_context_destroy(c);
    free(lg);
    free(act);
    free(ids);
    quanta_model_destroy(m);
    quanta_backend_close(be);
    tiny_free(&tm);
}

START_TEST(test_stats_llama_with_restarts) { check_stats(&SPEC_LLAMA, 101, 16); }
END_TEST
START_TEST(test_stats_gemma3) { check_stats(&SPEC_GEMMA3, 102, 0); }
END_TEST

/* ------------------------------------------------------- clipping search */

typedef struct fmt {
    const char *name;
    quanta_dtype dtype;
    int32_t group, dq;
} fmt;
static const fmt FORMATS[] = {
    {"q4:g32", QUANTA_Q4, 32, 0}, {"q4:g64", QUANTA_Q4, 64, 0}, {"nf4", QUANTA_NF4, 0, 0},
    {"q8:row", QUANTA_Q8, 0, 0}, {"fp8_e4m3", QUANTA_FP8_E4M3, 0, 0}, {"fp8_e5m2", QUANTA_FP8_E5M2, 0, 0},
};

static void quant_deq(const quanta_tensor_desc *d, const float *w, float *back) {
    size_t nb;
    ck_assert(quanta_tensor_bytes(d, &nb) == QUANTA_OK);
    void *q = malloc(nb);
    ck_assert_msg(quanta_quantize(d, w, q, nb) == QUANTA_OK, "%s", quanta_last_error());
    ck_assert(quanta_dequantize(d, q, nb, back, (size_t)(d->dims[0] * d->dims[1])) == QUANTA_OK);
    free(q);
}

/* Every unit of the search's output must be exactly the best of the 21 clamped candidates,
 * found here by quantizing each unit on its own. */
static void brute_force_case(const fmt *f, qt_rng *r) {
    enum { ROWS = 6, COLS = 128 };
    float w[ROWS * COLS], got[ROWS * COLS], cand[128], back[128];
    double s[COLS];
    qt_fill_normal(r, w, ROWS * COLS, 0.05f);
    for (int i = 0; i < 12; i++) w[qt_next(r) % (ROWS * COLS)] = qt_uniform(r, -0.6f, 0.6f); /* outliers */
    for (int k = 0; k < COLS; k++) s[k] = exp(2.0 * qt_normal(r, 1.0f)); /* a few dominant channels */
    quanta_tensor_desc d = qt_mat(f->dtype, ROWS, COLS, f->group, 0);
    size_t nb;
    ck_assert(quanta_tensor_bytes(&d, &nb) == QUANTA_OK);
    unsigned char *q = malloc(nb);
    memset(q, 0xA5, nb);
    qn_clip_result res;
    ck_assert_msg(qn_quantize_weighted_clip(&d, w, s, q, nb, &res) == QUANTA_OK, "%s", quanta_last_error());
    qt_poison_f32(got, ROWS * COLS);
    ck_assert(quanta_dequantize(&d, q, nb, got, ROWS * COLS) == QUANTA_OK);
    const int unit = f->dtype == QUANTA_Q4 ? f->group : f->dtype == QUANTA_NF4 ? 64 : COLS;
    quanta_tensor_desc ud = d;
    ud.dims[0] = 1;
    ud.dims[1] = unit;
    double sum_best = 0, sum_minmax = 0, sum_norm = 0;
    for (int u = 0; u < ROWS * COLS / unit; u++) {
        const float *wu = w + u * unit;
        const double *su = s + (u * unit) % COLS;
        float lo = 0, hi = 0, am = 0;
        for (int k = 0; k < unit; k++) lo = fminf(lo, wu[k]), hi = fmaxf(hi, wu[k]), am = fmaxf(am, fabsf(wu[k]));
        if (f->dtype != QUANTA_Q4) lo = -am, hi = am;
        double best = INFINITY;
        float best_back[128];
        for (int i = 0; i < 21; i++) {
            double ratio = 1.0 - 0.02 * i;
            float l = (float)(ratio * lo), h = (float)(ratio * hi);
            for (int k = 0; k < unit; k++) cand[k] = wu[k] < l ? l : wu[k] > h ? h : wu[k];
            quant_deq(&ud, cand, back);
            double e = 0;
            for (int k = 0; k < unit; k++) e += su[k] * ((double)back[k] - wu[k]) * ((double)back[k] - wu[k]);
            if (i == 0) sum_minmax += e;
            if (e < best) best = e, memcpy(best_back, back, sizeof(float) * (size_t)unit);
        }
        sum_best += best;
        for (int k = 0; k < unit; k++) {
            sum_norm += su[k] * (double)wu[k] * wu[k];
            ck_assert_msg(got[u * unit + k] == best_back[k], "%s unit %d elem %d: %g, best candidate %g", f->name, u, k,
                          (double)got[u * unit + k], (double)best_back[k]);
        }
    }
    ck_assert_msg(fabs(res.werr - sum_best) <= 1e-9 * sum_minmax, "%s werr %g vs %g", f->name, res.werr, sum_best);
    ck_assert_msg(fabs(res.werr_minmax - sum_minmax) <= 1e-9 * sum_minmax, "%s", f->name);
    ck_assert(fabs(res.wnorm - sum_norm) <= 1e-9 * sum_norm);
    /* Outliers make clipping pay off for the 4-bit formats; 8-bit rows may keep min-max. */
    ck_assert_msg(res.werr <= res.werr_minmax, "%s: %g vs min-max %g", f->name, res.werr, res.werr_minmax);
    if (f->dtype == QUANTA_Q4 || f->dtype == QUANTA_NF4)
        ck_assert_msg(res.werr < res.werr_minmax && res.clipped > 0, "%s: clipping never helped", f->name);
    ck_assert_int_eq(res.units, ROWS * COLS / unit);
    ck_assert(res.mean_ratio <= 1.0 && res.mean_ratio >= 0.6);
    free(q);
}

START_TEST(test_search_matches_brute_force) {
    qt_rng r = qt_rng_make(201);
    for (size_t i = 0; i < sizeof FORMATS / sizeof *FORMATS; i++) brute_force_case(&FORMATS[i], &r);
}
END_TEST

START_TEST(test_search_errors) {
    float w[2 * 64] = {0};
    unsigned char q[2 * 64 * 2];
    qn_clip_result res;
    quanta_tensor_desc d = qt_mat(QUANTA_F16, 2, 64, 0, 0);
    ck_assert_int_eq(qn_quantize_weighted_clip(&d, w, NULL, q, sizeof q, &res), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(quanta_last_error(), "dtype"));
    d.dtype = QUANTA_Q4;
    d.group = 128; /* 64 columns */
    ck_assert_int_ne(qn_quantize_weighted_clip(&d, w, NULL, q, sizeof q, &res), QUANTA_OK);
    d.group = 32;
    ck_assert_int_eq(qn_quantize_weighted_clip(&d, w, NULL, q, 8, &res), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(quanta_last_error(), "dst_bytes"));
    d.ndim = 1;
    ck_assert_int_eq(qn_quantize_weighted_clip(&d, w, NULL, q, sizeof q, &res), QUANTA_ERR_INVALID_ARGUMENT);
    d.ndim = 2;
    ck_assert_int_eq(qn_quantize_weighted_clip(&d, NULL, NULL, q, sizeof q, &res), QUANTA_ERR_INVALID_ARGUMENT);
    /* All-zero weights: nothing to clip, every unit keeps min-max. */
    ck_assert(qn_quantize_weighted_clip(&d, w, NULL, q, sizeof q, &res) == QUANTA_OK);
    ck_assert(res.werr == 0 && res.werr_minmax == 0 && res.clipped == 0 && res.mean_ratio == 1.0);
}
END_TEST

/* ------------------------------------------------------ the command, end to end */

static char dir[] = "/tmp/quanta_test_calib_XXXXXX";
static char in_path[300], text_path[300], empty_path[300], out_calib[300], out_plain[300];

static int run(int argc, const char **argv) {
    fflush(stdout);
    return qn_cmd_quantize(argc, (char **)argv);
}

/* Relative activation-weighted error of tensor `name` of file g against the f32 weights w. */
static double weighted_err(const qn_gguf *g, const char *name, const float *w, const double *s) {
    const qn_gguf_tensor *t = qn_gguf_find_tensor(g, name);
    ck_assert_msg(t != NULL, "%s missing", name);
    quanta_tensor_desc d;
    ck_assert(qn_gguf_tensor_desc(t, &d) == QUANTA_OK);
    ck_assert_msg(qn_dtype_is_quantized(d.dtype), "%s is not quantized", name);
    size_t n = (size_t)(d.dims[0] * d.dims[1]);
    float *back = malloc(n * sizeof *back);
    qt_poison_f32(back, n);
    ck_assert(quanta_dequantize(&d, t->data, t->bytes, back, n) == QUANTA_OK);
    double num = 0, den = 0;
    for (size_t e = 0; e < n; e++) {
        double sk = s ? s[e % (size_t)d.dims[1]] : 1.0, dd = (double)back[e] - w[e];
        num += sk * dd * dd;
        den += sk * (double)w[e] * w[e];
    }
    free(back);
    return sqrt(num / den);
}

START_TEST(test_quantize_calib_end_to_end) {
    tiny_model tm;
    tiny_build(&tm, &SPEC_LLAMA, 301, NULL, NULL);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(in_path, sizeof in_path, "%s/in.gguf", dir);
    snprintf(text_path, sizeof text_path, "%s/calib.txt", dir);
    snprintf(empty_path, sizeof empty_path, "%s/empty.txt", dir);
    snprintf(out_calib, sizeof out_calib, "%s/calib.gguf", dir);
    snprintf(out_plain, sizeof out_plain, "%s/plain.gguf", dir);
    qt_spit(in_path, tm.image, tm.image_size);
    qt_spit(text_path, TEXT, strlen(TEXT));
    qt_spit(empty_path, "", 0);

    /* The independent statistics: the float64 forward pass over the same (first 48) tokens. */
    quanta_backend *be;
    ck_assert(quanta_backend_open("ref", &be) == QUANTA_OK);
    quanta_model *m = tiny_load(&tm, be, NULL);
    size_t n;
    int32_t *ids = tokenize(m, &n);
    quanta_model_destroy(m);
    ck_assert_uint_gt(n, 48);
    n = 48;
    const int L = tm.s.n_layer, stride = stride_of(&tm.s);
    double *ex2 = calloc((size_t)(4 * L + 1) * stride, sizeof *ex2);
    size_t rows = reference_act_sq(&tm, ids, n, (int)n, ex2, stride);
    for (size_t i = 0; i < (size_t)(4 * L + 1) * stride; i++) ex2[i] /= (double)rows;

    for (size_t fi = 0; fi < sizeof FORMATS / sizeof *FORMATS; fi++) {
        const fmt *f = &FORMATS[fi];
        if (f->dtype == QUANTA_FP8_E5M2 || (f->dtype == QUANTA_Q4 && f->group == 64)) continue; /* covered above */
        const int embd_too = f->dtype == QUANTA_Q8; /* also the embedding table and the output head */
        const char *ca[] = {"quantize", "-m", in_path, "-o", out_calib, "--quant", f->name, "--calib", text_path,
                            "--calib-tokens", "48", "--calib-backend", "ref", "-q", "--keep-embeddings",
                            embd_too ? "quant" : "f16"};
        ck_assert_int_eq(run(16, ca), 0);
        const char *pa[] = {"quantize", "-m", in_path, "-o", out_plain, "--quant", f->name, "-q", "--keep-embeddings",
                            embd_too ? "quant" : "f16"};
        ck_assert_int_eq(run(10, pa), 0);
        qn_gguf *gc, *gp;
        ck_assert(qn_gguf_open(out_calib, &gc) == QUANTA_OK);
        ck_assert(qn_gguf_open(out_plain, &gp) == QUANTA_OK);
        qn_gguf_str sv;
        uint64_t nt;
        ck_assert(qn_gguf_get_str(gc, "quanta.clip", &sv) == QUANTA_OK);
        ck_assert(sv.len == 5 && !memcmp(sv.ptr, "calib", 5));
        ck_assert(qn_gguf_get_u64(gc, "quanta.calib_tokens", &nt) == QUANTA_OK);
        ck_assert_uint_eq(nt, 48);
        int better = 0, checked = 0;
        for (int l = 0; l < L; l++) {
            const tiny_layer *t = &tm.L[l];
            const struct { const char *suffix; const float *w; int site; } ws[] = {
                {"attn_q", t->wq, 0}, {"attn_k", t->wk, 0}, {"attn_v", t->wv, 0}, {"attn_output", t->wo, 1},
                {"ffn_gate", t->w_gate, 2}, {"ffn_up", t->w_up, 2}, {"ffn_down", t->w_down, 3}};
            for (size_t i = 0; i < sizeof ws / sizeof *ws; i++) {
                char name[64];
                snprintf(name, sizeof name, "blk.%d.%s.weight", l, ws[i].suffix);
                const double *s = ex2 + (size_t)(l * 4 + ws[i].site) * stride;
                double ec = weighted_err(gc, name, ws[i].w, s), ep = weighted_err(gp, name, ws[i].w, s);
                ck_assert_msg(ec <= ep * (1 + 1e-6), "%s %s: calibrated %g > min-max %g", f->name, name, ec, ep);
                better += ec < ep * (1 - 1e-6);
                checked++;
            }
        }
        if (embd_too) {
            double ec = weighted_err(gc, "output.weight", tm.output, ex2 + (size_t)(4 * L) * stride);
            double ep = weighted_err(gp, "output.weight", tm.output, ex2 + (size_t)(4 * L) * stride);
            ck_assert_msg(ec <= ep * (1 + 1e-6), "output.weight: %g > %g", ec, ep);
            /* token_embd has no measured input (the head is separate): plain squared error */
            ck_assert(weighted_err(gc, "token_embd.weight", tm.embd, NULL) <=
                      weighted_err(gp, "token_embd.weight", tm.embd, NULL) * (1 + 1e-9));
        }
        /* 8-bit rows of Gaussian weights rarely gain from clipping; 4-bit groups mostly do. */
        ck_assert_msg(f->dtype == QUANTA_Q8 ? better >= 1 : better * 2 >= checked, "%s: only %d of %d tensors improved",
                      f->name, better, checked);
        qn_gguf_close(gc);
        qn_gguf_close(gp);
        /* The calibrated file loads as before and runs. */
        quanta_model *mq;
        ck_assert_msg(quanta_model_load(out_calib, be, NULL, &mq) == QUANTA_OK, "%s", quanta_last_error());
        quanta_model_context *c;
        ck_assert(quanta_model_context_create(mq, 16, &c) == QUANTA_OK);
        float lg[300];
        qt_poison_f32(lg, 300);
        ck_assert(quanta_model_eval(c, ids, 8, lg, 300) == QUANTA_OK);
        for (int i = 0; i < 300; i++) ck_assert(isfinite(lg[i]));
        quanta_model_context_destroy(c);
        quanta_model_destroy(mq);
    }

    /* Bad inputs: clear errors, no output written. */
    unlink(out_calib);
    const char *missing[] = {"quantize", "-m", in_path, "-o", out_calib, "--quant", "q8:row", "--calib", "/nonexistent/t.txt"};
    ck_assert_int_eq(run(9, missing), 1);
    const char *empty[] = {"quantize", "-m", in_path, "-o", out_calib, "--quant", "q8:row", "--calib", empty_path};
    ck_assert_int_eq(run(9, empty), 1);
    const char *bad_backend[] = {"quantize", "-m", in_path, "-o", out_calib, "--quant", "q8:row", "--calib", text_path,
                                 "--calib-backend", "nosuch"};
    ck_assert_int_eq(run(11, bad_backend), 1);
    ck_assert_int_ne(access(out_calib, F_OK), 0);
    const char *bad_tokens[][2] = {{"--calib-tokens", "0"}, {"--calib-tokens", "12x"}, {"--calib-tokens", "-5"},
                                   {"--calib-tokens", "99999999"}, {"--clip", "percentile:99"}};
    for (size_t i = 0; i < sizeof bad_tokens / sizeof *bad_tokens; i++) {
        const char *a[] = {"quantize", "-m", in_path, "-o", out_calib, "--quant", "q8:row", "--calib", text_path,
                           bad_tokens[i][0], bad_tokens[i][1]};
        ck_assert_msg(run(11, a) == 2, "%s %s", bad_tokens[i][0], bad_tokens[i][1]);
    }
    const char *no_calib[] = {"quantize", "-m", in_path, "-o", out_calib, "--quant", "q8", "--calib-tokens", "8"};
    ck_assert_int_eq(run(9, no_calib), 2);
    const char *no_value[] = {"quantize", "-m", in_path, "-o", out_calib, "--quant", "q8:row", "--calib"};
    ck_assert_int_eq(run(8, no_value), 2);
    /* A checkpoint the runtime cannot run (no layers) cannot be calibrated. */
    char tensors_only[300];
    snprintf(tensors_only, sizeof tensors_only, "%s/tensors.gguf", dir);
    qn_gguf_writer *w;
    ck_assert(qn_gguf_writer_create(&w) == QUANTA_OK);
    int64_t dims[2] = {64, 4};
    ck_assert(qn_gguf_writer_add_tensor(w, "blk.0.ffn_up.weight", 2, dims, QN_GGML_F32, tm.L[0].w_up, 64 * 4 * 4) ==
              QUANTA_OK);
    ck_assert(qn_gguf_writer_write(w, tensors_only) == QUANTA_OK);
    qn_gguf_writer_destroy(w);
    const char *unrunnable[] = {"quantize", "-m", tensors_only, "-o", out_calib, "--quant", "q8:row", "--calib", text_path};
    ck_assert_int_eq(run(9, unrunnable), 1);
    ck_assert_int_ne(access(out_calib, F_OK), 0);

    const char *files[] = {in_path, text_path, empty_path, out_calib, out_plain, tensors_only};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) unlink(files[i]);
    rmdir(dir);
    free(ex2);
    free(ids);
    quanta_backend_close(be);
    tiny_free(&tm);
}
END_TEST

int main(void) {
    Suite *s = suite_create("model_calib");
    TCase *tc = tcase_create("calib");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_stats_llama_with_restarts);
    tcase_add_test(tc, test_stats_gemma3);
    tcase_add_test(tc, test_search_matches_brute_force);
    tcase_add_test(tc, test_search_errors);
    tcase_add_test(tc, test_quantize_calib_end_to_end);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
