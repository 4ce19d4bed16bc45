/*
 * test_model_tiny.c — the model runtime on tiny random-weight models that the test writes as
 * GGUF images itself: logits of prefill and decode against an independent float64 forward
 * pass (tiny_model.h), every available backend against the reference backend token by token,
 * load-time quantization, bit-exact loading of Quanta-format tensors, memory report, and the
 * error paths (corrupt files, bad arguments, context overflow).
 */
#include "model_internal.h"
#include "tiny_model.h"

static const tiny_spec SPEC_LLAMA = {"llama", 32, 4, 2, 8, 48, 2, 300, 0, 10000.0f, 1, 0};
static const tiny_spec SPEC_QWEN2 = {"qwen2", 32, 4, 1, 8, 40, 2, 300, 0, 1000000.0f, 0, 0};
/* 7 layers: local 0-4, global 5, local 6; window 4 so the prompt outgrows it. */
static const tiny_spec SPEC_GEMMA3 = {"gemma3", 32, 2, 1, 16, 48, 7, 300, 4, 1000000.0f, 0, 0};

/* Prefill 10 tokens (every position's logits) then 6 greedy decode steps, each compared with
 * the float64 reference; returns the generated tokens. */
static void check_against_reference(const tiny_spec *spec, uint64_t salt) {
    tiny_model tm;
    tiny_build(&tm, spec, salt, NULL, NULL);
    quanta_backend *be;
    quanta_model *m = tiny_open_load(&tm, "ref", NULL, &be);
    ck_assert_ptr_nonnull(m);
    int V = spec->n_vocab, T = 10;
    quanta_model_context *ctx;
    ck_assert_msg(quanta_model_context_create(m, 32, &ctx) == QUANTA_OK, "%s", quanta_last_error());
    tiny_ref r;
    ref_init(&r, &tm, 32);
    qt_rng rng = qt_rng_make(salt + 1);
    int32_t ids[10];
    for (int i = 0; i < T; i++) ids[i] = (int32_t)(qt_next(&rng) % (uint64_t)V);
    float *logits = malloc(sizeof(float) * (size_t)V * T);
    double *want = malloc(sizeof(double) * V);
    qt_poison_f32(logits, (size_t)V * T);
    ck_assert_msg(quanta_model_eval(ctx, ids, T, logits, (size_t)V * T) == QUANTA_OK, "%s", quanta_last_error());
    for (int t = 0; t < T; t++) {
        ref_step(&r, ids[t], want);
        double e = tiny_max_rel_err(logits + (size_t)t * V, want, V);
        ck_assert_msg(e < 2e-5, "%s prefill position %d: max rel err %g", spec->arch, t, e);
    }
    ck_assert_int_eq(quanta_model_context_position(ctx), T);
    int32_t tok = tiny_argmax(logits + (size_t)(T - 1) * V, V);
    for (int step = 0; step < 6; step++) {
        qt_poison_f32(logits, V);
        ck_assert_msg(quanta_model_eval(ctx, &tok, 1, logits, V) == QUANTA_OK, "%s", quanta_last_error());
        ref_step(&r, tok, want);
        double e = tiny_max_rel_err(logits, want, V);
        ck_assert_msg(e < 2e-5, "%s decode step %d: max rel err %g", spec->arch, step, e);
        tok = tiny_argmax(logits, V);
    }
    /* Last-token-only prefill gives the same row as the all-logits run. */
    quanta_model_context_reset(ctx);
    float *last = malloc(sizeof(float) * V);
    ck_assert(quanta_model_eval(ctx, ids, T, last, V) == QUANTA_OK);
    tiny_ref r2;
    ref_init(&r2, &tm, 32);
    for (int t = 0; t < T; t++) ref_step(&r2, ids[t], want);
    ck_assert_msg(tiny_max_rel_err(last, want, V) < 2e-5, "%s last-only prefill", spec->arch);
    ref_free(&r2);
    free(last);
    ref_free(&r);
    free(logits);
    free(want);
    quanta_model_context_destroy(ctx);
    quanta_model_destroy(m);
    quanta_backend_close(be);
    tiny_free(&tm);
}

/* A 520-token prompt in prefill steps of 256 (the default), one step (QUANTA_PREFILL_STEP=520), steps of 100,
 * and with values the runtime ignores (0, too large, not a number: 256): the last token's logits against the
 * float64 forward pass each time. */
START_TEST(test_prefill_step_env) {
    tiny_model tm;
    tiny_build(&tm, &SPEC_LLAMA, 21, NULL, NULL);
    quanta_backend *be;
    quanta_model *m = tiny_open_load(&tm, "ref", NULL, &be);
    ck_assert_ptr_nonnull(m);
    const int V = SPEC_LLAMA.n_vocab, T = 520;
    quanta_model_context *ctx;
    ck_assert_msg(quanta_model_context_create(m, 528, &ctx) == QUANTA_OK, "%s", quanta_last_error());
    qt_rng rng = qt_rng_make(22);
    int32_t *ids = malloc(sizeof *ids * T);
    for (int i = 0; i < T; i++) ids[i] = (int32_t)(qt_next(&rng) % (uint64_t)V);
    tiny_ref r;
    ref_init(&r, &tm, 528);
    double *want = malloc(sizeof(double) * V);
    for (int t = 0; t < T; t++) ref_step(&r, ids[t], want);
    float *last = malloc(sizeof(float) * V);
    const char *steps[] = {NULL, "520", "100", "0", "5000", "12x"};
    for (int i = 0; i < (int)(sizeof steps / sizeof steps[0]); i++) {
        if (steps[i]) setenv("QUANTA_PREFILL_STEP", steps[i], 1);
        else unsetenv("QUANTA_PREFILL_STEP");
        quanta_model_context_reset(ctx);
        qt_poison_f32(last, V);
        ck_assert_msg(quanta_model_eval(ctx, ids, T, last, V) == QUANTA_OK, "%s", quanta_last_error());
        ck_assert_int_eq(quanta_model_context_position(ctx), T);
        const double e = tiny_max_rel_err(last, want, V);
        ck_assert_msg(e < 2e-5, "QUANTA_PREFILL_STEP=%s: max rel err %g", steps[i] ? steps[i] : "(unset)", e);
    }
    unsetenv("QUANTA_PREFILL_STEP");
    free(last);
    free(want);
    free(ids);
    ref_free(&r);
    quanta_model_context_destroy(ctx);
    quanta_model_destroy(m);
    quanta_backend_close(be);
    tiny_free(&tm);
}
END_TEST

START_TEST(test_llama_matches_reference) { check_against_reference(&SPEC_LLAMA, 11); }
END_TEST
START_TEST(test_qwen2_matches_reference) { check_against_reference(&SPEC_QWEN2, 12); }
END_TEST
START_TEST(test_gemma3_matches_reference) { check_against_reference(&SPEC_GEMMA3, 13); }
END_TEST

/* Runs prompt + n greedy tokens, recording every step's logits. */
static void run_greedy(quanta_model *m, const int32_t *prompt, int np, int n, float *logits_out, int32_t *toks) {
    int V = m->cfg.n_vocab;
    quanta_model_context *ctx;
    ck_assert(quanta_model_context_create(m, np + n + 1, &ctx) == QUANTA_OK);
    ck_assert_msg(quanta_model_eval(ctx, prompt, np, logits_out, V) == QUANTA_OK, "%s", quanta_last_error());
    for (int i = 0; i < n; i++) {
        toks[i] = tiny_argmax(logits_out + (size_t)i * V, V);
        ck_assert_msg(quanta_model_eval(ctx, &toks[i], 1, logits_out + (size_t)(i + 1) * V, V) == QUANTA_OK, "%s",
                      quanta_last_error());
    }
    quanta_model_context_destroy(ctx);
}

static double nmse(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        if (a[i] != a[i]) return INFINITY;
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    return num / (den > 0 ? den : 1);
}

/* Every backend compiled in and usable against the reference backend, token by token, with
 * f32 weights and with each quantized weight format (both sides use the same quantized bytes). */
START_TEST(test_backends_agree) {
    const tiny_spec *specs[] = {&SPEC_LLAMA, &SPEC_GEMMA3, &SPEC_LLAMA, &SPEC_LLAMA, &SPEC_LLAMA, &SPEC_LLAMA};
    const quanta_dtype fmt[] = {QUANTA_F32, QUANTA_F32, QUANTA_Q8, QUANTA_Q4, QUANTA_NF4, QUANTA_FP8_E4M3};
    const char *backends[] = {"opencl", "cuda"};
    for (size_t si = 0; si < sizeof fmt / sizeof *fmt; si++) {
        tiny_spec spec = *specs[si];
        if (fmt[si] != QUANTA_F32) { /* rows that q4/nf4 blocks divide */
            spec.n_embd = 64;
            spec.n_ff = 128;
            spec.head_dim = 16;
        }
        quanta_model_params p;
        quanta_model_default_params(&p);
        p.quantize = fmt[si] != QUANTA_F32;
        p.weight_dtype = fmt[si];
        tiny_model tm;
        tiny_build(&tm, &spec, 20 + si, NULL, NULL);
        int V = spec.n_vocab, n = 8;
        int32_t prompt[5] = {1, 270, 263, 300 - 1, 5};
        float *ref_l = malloc(sizeof(float) * V * (n + 1)), *got = malloc(sizeof(float) * V * (n + 1));
        int32_t ref_t[8], got_t[8];
        quanta_backend *be;
        quanta_model *m = tiny_open_load(&tm, "ref", &p, &be);
        run_greedy(m, prompt, 5, n, ref_l, ref_t);
        quanta_model_destroy(m);
        quanta_backend_close(be);
        for (size_t b = 0; b < 2; b++) {
            quanta_model *mb = tiny_open_load(&tm, backends[b], &p, &be);
            if (!mb) {
                if (si == 0) printf("model backends: %s not available, skipped\n", backends[b]);
                continue;
            }
            qt_poison_f32(got, (size_t)V * (n + 1));
            run_greedy(mb, prompt, 5, n, got, got_t);
            double worst = 0;
            for (int i = 0; i <= n; i++) {
                double e = nmse(got + (size_t)i * V, ref_l + (size_t)i * V, V);
                worst = fmax(worst, e);
                /* Device backends accumulate in f32 in their own order (measured up to ~1e-6). */
                ck_assert_msg(e < 1e-5, "%s %s on %s step %d: logits NMSE %g", spec.arch, quanta_dtype_name(fmt[si]),
                              backends[b], i, e);
                if (i < n) ck_assert_int_eq(got_t[i], ref_t[i]);
            }
            printf("model backends: %s agrees with ref on %s/%s (%d steps, worst NMSE %.2g)\n", backends[b], spec.arch,
                   quanta_dtype_name(fmt[si]), n + 1, worst);
            quanta_model_destroy(mb);
            quanta_backend_close(be);
        }
        free(ref_l);
        free(got);
        tiny_free(&tm);
    }
}
END_TEST

/* Replaces W[rows][cols] by its quantize -> dequantize round trip, as the loader stores it
 * (formats whose block does not divide the row are left f32, as documented). */
static void roundtrip(float *w, int64_t rows, int64_t cols, quanta_dtype d) {
    if (!w) return;
    quanta_tensor_desc desc = {d, 2, {rows, cols, 0, 0}, 0, 0};
    if ((d == QUANTA_Q4 || d == QUANTA_NF4) && cols % 64) return;
    size_t bytes;
    ck_assert(quanta_tensor_bytes(&desc, &bytes) == QUANTA_OK);
    void *q = malloc(bytes);
    ck_assert(quanta_quantize(&desc, w, q, bytes) == QUANTA_OK);
    ck_assert(quanta_dequantize(&desc, q, bytes, w, (size_t)(rows * cols)) == QUANTA_OK);
    free(q);
}

/* Quantized at load: the logits equal the float64 reference run on the dequantized weights
 * (so the quantized weights are used correctly), and stay near the f32 model's. */
START_TEST(test_quantized_load) {
    tiny_spec s = SPEC_LLAMA;
    s.n_embd = 64;
    s.n_ff = 128;
    s.f16_tensor = 0;
    const int V = s.n_vocab, E = s.n_embd, F = s.n_ff, Q = s.n_head * s.head_dim, KV = s.n_head_kv * s.head_dim;
    tiny_model tm;
    tiny_build(&tm, &s, 30, NULL, NULL);
    int32_t prompt[6] = {1, 100, 200, 270, 280, 7};
    float *got = malloc(sizeof(float) * V);
    double *want = malloc(sizeof(double) * V), *base = malloc(sizeof(double) * V);
    tiny_ref r;
    ref_init(&r, &tm, 8);
    for (int i = 0; i < 6; i++) ref_step(&r, prompt[i], base);
    ref_free(&r);
    quanta_backend *be;
    quanta_model *m = tiny_open_load(&tm, "ref", NULL, &be);
    uint64_t f32_bytes = m->weights_bytes;
    quanta_model_destroy(m);
    quanta_backend_close(be);
    const quanta_dtype cases[] = {QUANTA_Q8, QUANTA_Q4, QUANTA_NF4, QUANTA_FP8_E4M3, QUANTA_FP8_E5M2, QUANTA_F16};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        quanta_dtype d = cases[i];
        quanta_model_params p;
        quanta_model_default_params(&p);
        p.quantize = 1;
        p.weight_dtype = d;
        m = tiny_open_load(&tm, "ref", &p, &be);
        quanta_model_info info;
        ck_assert(quanta_model_get_info(m, &info) == QUANTA_OK);
        ck_assert_int_eq(info.weight_dtype, d);
        ck_assert_msg(m->weights_bytes < f32_bytes, "%s weights %llu >= f32 %llu", quanta_dtype_name(d),
                      (unsigned long long)m->weights_bytes, (unsigned long long)f32_bytes);
        quanta_model_context *ctx;
        ck_assert(quanta_model_context_create(m, 8, &ctx) == QUANTA_OK);
        qt_poison_f32(got, V);
        ck_assert(quanta_model_eval(ctx, prompt, 6, got, V) == QUANTA_OK);
        /* The reference on the round-tripped weights. */
        tiny_model tq;
        tiny_build(&tq, &s, 30, NULL, NULL);
        if (d == QUANTA_F16) {
            for (int l = 0; l < s.n_layer; l++) {
                float *mats[] = {tq.L[l].wq, tq.L[l].wk, tq.L[l].wv, tq.L[l].wo, tq.L[l].w_gate, tq.L[l].w_up, tq.L[l].w_down};
                size_t cnt[] = {(size_t)Q * E, (size_t)KV * E, (size_t)KV * E, (size_t)E * Q, (size_t)F * E, (size_t)F * E, (size_t)E * F};
                for (int k = 0; k < 7; k++)
                    for (size_t j = 0; j < cnt[k]; j++) mats[k][j] = quanta_f16_to_f32(quanta_f32_to_f16(mats[k][j]));
            }
            for (size_t j = 0; j < (size_t)V * E; j++) {
                tq.embd[j] = quanta_f16_to_f32(quanta_f32_to_f16(tq.embd[j]));
                tq.output[j] = quanta_f16_to_f32(quanta_f32_to_f16(tq.output[j]));
            }
        } else {
            roundtrip(tq.embd, V, E, d);
            roundtrip(tq.output, V, E, d);
            for (int l = 0; l < s.n_layer; l++) {
                roundtrip(tq.L[l].wq, Q, E, d);
                roundtrip(tq.L[l].wk, KV, E, d);
                roundtrip(tq.L[l].wv, KV, E, d);
                roundtrip(tq.L[l].wo, E, Q, d);
                roundtrip(tq.L[l].w_gate, F, E, d);
                roundtrip(tq.L[l].w_up, F, E, d);
                roundtrip(tq.L[l].w_down, E, F, d);
            }
        }
        ref_init(&r, &tq, 8);
        for (int t = 0; t < 6; t++) ref_step(&r, prompt[t], want);
        ref_free(&r);
        double e = tiny_max_rel_err(got, want, V);
        float *basef = malloc(sizeof(float) * V);
        for (int j = 0; j < V; j++) basef[j] = (float)base[j];
        double drift = nmse(got, basef, V);
        free(basef);
        printf("model quantized %s: max rel err %.2g vs reference on dequantized weights; logits NMSE %.3g vs f32 model\n",
               quanta_dtype_name(d), e, drift);
        ck_assert_msg(e < 2e-5, "%s: max rel err %g against the dequantized-weight reference", quanta_dtype_name(d), e);
        ck_assert_msg(drift < 1.0, "%s: logits NMSE %g against the f32 model", quanta_dtype_name(d), drift);
        tiny_free(&tq);
        quanta_model_context_destroy(ctx);
        quanta_model_destroy(m);
        quanta_backend_close(be);
    }
    free(got);
    free(want);
    free(base);
    tiny_free(&tm);
}
END_TEST

/* A tensor already in a Quanta format is uploaded bit for bit when kept. */
START_TEST(test_quanta_tensor_loads_exactly) {
    tiny_model tm;
    tiny_spec s = SPEC_LLAMA;
    s.f16_tensor = 0;
    tiny_build(&tm, &s, 40, NULL, NULL);
    /* Rewrite blk.0.attn_q.weight as q8 in a new image. */
    qn_gguf *src;
    ck_assert(qn_gguf_open_memory(tm.image, tm.image_size, &src) == QUANTA_OK);
    qn_gguf_writer *w;
    ck_assert(qn_gguf_writer_create(&w) == QUANTA_OK);
    for (uint64_t i = 0; i < qn_gguf_kv_count(src); i++) ck_assert(qn_gguf_writer_copy_kv(w, src, i) == QUANTA_OK);
    quanta_tensor_desc qd = {QUANTA_Q8, 2, {s.n_head * s.head_dim, s.n_embd, 0, 0}, 0, 0};
    size_t qbytes;
    ck_assert(quanta_tensor_bytes(&qd, &qbytes) == QUANTA_OK);
    void *q = malloc(qbytes);
    ck_assert(quanta_quantize(&qd, tm.L[0].wq, q, qbytes) == QUANTA_OK);
    for (uint64_t i = 0; i < qn_gguf_tensor_count(src); i++) {
        const qn_gguf_tensor *t = qn_gguf_tensor_at(src, i);
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        if (!strcmp(name, "blk.0.attn_q.weight")) {
            uint32_t type;
            ck_assert(qn_gguf_type_for_desc(&qd, &type) == QUANTA_OK);
            ck_assert(qn_gguf_writer_add_tensor(w, name, 2, t->dims, type, q, qbytes) == QUANTA_OK);
        } else {
            ck_assert(qn_gguf_writer_add_tensor(w, name, t->ndim, t->dims, t->type, t->data, t->bytes) == QUANTA_OK);
        }
    }
    void *img;
    size_t img_size;
    ck_assert(qn_gguf_writer_write_memory(w, &img, &img_size) == QUANTA_OK);
    qn_gguf_writer_destroy(w);
    qn_gguf_close(src);
    qn_gguf *g;
    ck_assert(qn_gguf_open_memory(img, img_size, &g) == QUANTA_OK);
    quanta_backend *be;
    ck_assert(quanta_backend_open("ref", &be) == QUANTA_OK);
    quanta_model *m;
    ck_assert_msg(qn_model_from_gguf(g, be, NULL, &m) == QUANTA_OK, "%s", quanta_last_error());
    qn_gguf_close(g);
    quanta_tensor_desc got;
    ck_assert(quanta_buffer_desc(m->layers[0].wq, &got) == QUANTA_OK);
    ck_assert_int_eq(got.dtype, QUANTA_Q8);
    void *back = malloc(qbytes);
    ck_assert(quanta_buffer_read(m->layers[0].wq, back, qbytes) == QUANTA_OK);
    ck_assert(memcmp(back, q, qbytes) == 0);
    free(back);
    free(q);
    free(img);
    quanta_model_destroy(m);
    quanta_backend_close(be);
    tiny_free(&tm);
}
END_TEST

START_TEST(test_memory_and_info) {
    tiny_model tm;
    tiny_build(&tm, &SPEC_GEMMA3, 50, NULL, NULL);
    quanta_backend *be;
    quanta_model *m = tiny_open_load(&tm, "ref", NULL, &be);
    quanta_model_info info;
    ck_assert(quanta_model_get_info(m, &info) == QUANTA_OK);
    ck_assert_str_eq(info.arch, "gemma3");
    ck_assert_str_eq(info.tokenizer, "llama");
    ck_assert_int_eq(info.n_layer, 7);
    ck_assert_int_eq(info.sliding_window, 4);
    ck_assert_int_eq(info.bos, 1);
    ck_assert_int_eq(info.eos, 2);
    const tiny_spec *s = &SPEC_GEMMA3;
    uint64_t params = (uint64_t)s->n_vocab * s->n_embd + s->n_embd;
    uint64_t per_layer = (uint64_t)s->n_embd * 4 + 2 * (uint64_t)s->head_dim +
                         (uint64_t)s->n_embd * s->head_dim * (2 * s->n_head + 2 * s->n_head_kv) +
                         3 * (uint64_t)s->n_embd * s->n_ff;
    params += per_layer * s->n_layer;
    ck_assert_uint_eq(info.n_params, params);
    quanta_model_context *ctx;
    ck_assert(quanta_model_context_create(m, 20, &ctx) == QUANTA_OK);
    int32_t ids[3] = {1, 2, 3};
    ck_assert(quanta_model_eval(ctx, ids, 3, NULL, 0) == QUANTA_OK);
    quanta_model_memory mem;
    ck_assert(quanta_model_memory_report(m, ctx, &mem) == QUANTA_OK);
    ck_assert_uint_eq(mem.weights_bytes, params * 4);
    ck_assert_uint_eq(mem.kv_cache_bytes, 2ull * tiny_kv_rows(s, 20) * s->n_head_kv * s->head_dim * 4);
    ck_assert(mem.scratch_bytes > 0);
    ck_assert(mem.device_in_use >= mem.weights_bytes + mem.kv_cache_bytes);
    ck_assert(mem.device_peak >= mem.device_in_use);
    quanta_model_context_destroy(ctx);
    quanta_model_destroy(m);
    quanta_backend_close(be);
    tiny_free(&tm);
}
END_TEST

START_TEST(test_eval_errors) {
    tiny_model tm;
    tiny_build(&tm, &SPEC_LLAMA, 60, NULL, NULL);
    quanta_backend *be;
    quanta_model *m = tiny_open_load(&tm, "ref", NULL, &be);
    int V = SPEC_LLAMA.n_vocab;
    quanta_model_context *ctx = NULL;
    ck_assert_int_eq(quanta_model_context_create(m, -1, &ctx), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(quanta_model_context_create(NULL, 4, &ctx), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(quanta_model_context_create(m, 4, NULL), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert(quanta_model_context_create(m, 4, &ctx) == QUANTA_OK);
    float *l = malloc(sizeof(float) * V * 4);
    int32_t ids[5] = {1, 5, 6, 7, 8};
    int32_t bad[2] = {1, V};
    ck_assert_int_eq(quanta_model_eval(ctx, bad, 2, l, V), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(quanta_last_error(), "tokens[1]"));
    ck_assert_int_eq(quanta_model_eval(ctx, ids, 2, l, V + 1), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(quanta_model_eval(ctx, NULL, 2, l, V), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(quanta_model_eval(ctx, ids, 0, l, V), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(quanta_model_eval(NULL, ids, 1, l, V), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(quanta_model_eval(ctx, ids, 5, l, V), QUANTA_ERR_STATE);
    ck_assert_int_eq(quanta_model_context_position(ctx), 0);
    ck_assert(quanta_model_eval(ctx, ids, 3, l, V) == QUANTA_OK);
    ck_assert(quanta_model_eval(ctx, ids, 1, l, V) == QUANTA_OK);
    ck_assert_int_eq(quanta_model_eval(ctx, ids, 1, l, V), QUANTA_ERR_STATE);
    /* After a reset the same tokens give the same logits. */
    float *a = malloc(sizeof(float) * V), *b = malloc(sizeof(float) * V);
    quanta_model_context_reset(ctx);
    ck_assert(quanta_model_eval(ctx, ids, 2, a, V) == QUANTA_OK);
    quanta_model_context_reset(ctx);
    ck_assert(quanta_model_eval(ctx, ids, 2, b, V) == QUANTA_OK);
    ck_assert(memcmp(a, b, sizeof(float) * V) == 0);
    quanta_model_memory mem;
    ck_assert_int_eq(quanta_model_memory_report(NULL, ctx, &mem), QUANTA_ERR_INVALID_ARGUMENT);
    free(a);
    free(b);
    free(l);
    quanta_model_context_destroy(ctx);
    quanta_model_destroy(m);
    quanta_backend_close(be);
    tiny_free(&tm);
}
END_TEST

static quanta_status load_image(const tiny_model *tm) {
    qn_gguf *g;
    quanta_status st = qn_gguf_open_memory(tm->image, tm->image_size, &g);
    if (st) return st;
    quanta_backend *be;
    ck_assert(quanta_backend_open("ref", &be) == QUANTA_OK);
    quanta_model *m = NULL;
    st = qn_model_from_gguf(g, be, NULL, &m);
    ck_assert(st != QUANTA_OK || m != NULL);
    quanta_model_destroy(m);
    quanta_backend_close(be);
    qn_gguf_close(g);
    return st;
}

START_TEST(test_corrupt_models) {
    tiny_model tm;
    tiny_build(&tm, &SPEC_QWEN2, 70, "blk.1.ffn_down.weight", NULL);
    ck_assert_int_eq(load_image(&tm), QUANTA_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(quanta_last_error(), "blk.1.ffn_down.weight"));
    tiny_free(&tm);
    tiny_build(&tm, &SPEC_QWEN2, 71, "blk.0.attn_k.bias", NULL); /* Qwen2 needs its biases */
    ck_assert_int_eq(load_image(&tm), QUANTA_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(quanta_last_error(), "blk.0.attn_k.bias"));
    tiny_free(&tm);
    tiny_build(&tm, &SPEC_LLAMA, 72, NULL, "blk.0.attn_q.weight");
    ck_assert_int_eq(load_image(&tm), QUANTA_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(quanta_last_error(), "blk.0.attn_q.weight"));
    tiny_free(&tm);
    tiny_build(&tm, &SPEC_LLAMA, 73, "token_embd.weight", NULL);
    ck_assert_int_eq(load_image(&tm), QUANTA_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(quanta_last_error(), "token_embd.weight"));
    tiny_free(&tm);
    tiny_spec s = SPEC_LLAMA;
    s.arch = "mamba";
    tiny_build(&tm, &s, 74, NULL, NULL);
    ck_assert_int_eq(load_image(&tm), QUANTA_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(quanta_last_error(), "mamba"));
    tiny_free(&tm);
    s = SPEC_LLAMA;
    s.n_head_kv = 3; /* 4 heads do not share 3 kv heads */
    tiny_build(&tm, &s, 75, NULL, NULL);
    ck_assert_int_eq(load_image(&tm), QUANTA_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(quanta_last_error(), "head_count_kv"));
    tiny_free(&tm);
    /* Public entry points. */
    quanta_model *m = (quanta_model *)1;
    quanta_backend *be;
    ck_assert(quanta_backend_open("ref", &be) == QUANTA_OK);
    ck_assert_int_eq(quanta_model_load(NULL, be, NULL, &m), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(m);
    ck_assert_int_eq(quanta_model_load("x.gguf", NULL, NULL, &m), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(quanta_model_load("x.gguf", be, NULL, NULL), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(quanta_model_load("/nonexistent/model.gguf", be, NULL, &m), QUANTA_ERR_IO);
    quanta_model_params p;
    quanta_model_default_params(&p);
    p.quantize = 1;
    p.weight_dtype = QUANTA_I32;
    tiny_build(&tm, &SPEC_LLAMA, 76, NULL, NULL);
    qn_gguf *g;
    ck_assert(qn_gguf_open_memory(tm.image, tm.image_size, &g) == QUANTA_OK);
    ck_assert_int_eq(qn_model_from_gguf(g, be, &p, &m), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(quanta_last_error(), "weight_dtype"));
    p.weight_dtype = QUANTA_Q4;
    p.group = 48;
    ck_assert_int_eq(qn_model_from_gguf(g, be, &p, &m), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(quanta_last_error(), "group"));
    qn_gguf_close(g);
    quanta_backend_close(be);
    tiny_free(&tm);
}
END_TEST

/* The model's tokenizer through the public API on the tiny vocabulary. */
START_TEST(test_model_tokenize_api) {
    tiny_model tm;
    tiny_build(&tm, &SPEC_LLAMA, 80, NULL, NULL);
    quanta_backend *be;
    quanta_model *m = tiny_open_load(&tm, "ref", NULL, &be);
    const char *text = "hello the <start_of_turn>x";
    size_t n = 0;
    ck_assert(quanta_model_tokenize(m, text, strlen(text), 1, 1, NULL, 0, &n) == QUANTA_OK);
    int32_t ids[64];
    ck_assert(quanta_model_tokenize(m, text, strlen(text), 1, 1, ids, 64, &n) == QUANTA_OK);
    /* <s> he ll o ▁the ▁ <start_of_turn> x(byte 0x78): "hello" is a token but no chain of
     * pairwise merges reaches it ("hell" is not a token), so SPM stops at he|ll|o. */
    int32_t want[] = {1, TINY_FIRST_PIECE + 11, TINY_FIRST_PIECE + 15, TINY_FIRST_PIECE + 8, TINY_FIRST_PIECE + 14,
                      TINY_FIRST_PIECE + 0, TINY_FIRST_PIECE + 19, 3 + 'x'};
    ck_assert_uint_eq(n, sizeof want / sizeof *want);
    for (size_t i = 0; i < n; i++) ck_assert_int_eq(ids[i], want[i]);
    size_t need;
    ck_assert_int_eq(quanta_model_tokenize(m, text, strlen(text), 1, 1, ids, 3, &need), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_uint_eq(need, n);
    char buf[64];
    size_t len;
    ck_assert(quanta_model_detokenize(m, ids, n, 0, buf, sizeof buf, &len) == QUANTA_OK);
    ck_assert_str_eq(buf, "hello the x");
    ck_assert(quanta_model_detokenize(m, ids, n, 1, buf, sizeof buf, &len) == QUANTA_OK);
    ck_assert_str_eq(buf, "<s>hello the <start_of_turn>x");
    ck_assert(quanta_model_detokenize(m, ids, n, 1, NULL, 0, &len) == QUANTA_OK);
    ck_assert_uint_eq(len, strlen("<s>hello the <start_of_turn>x"));
    ck_assert_int_eq(quanta_model_detokenize(m, ids, n, 1, buf, len, &len), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(quanta_model_token_to_piece(m, -1, 0, buf, sizeof buf, &len), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(quanta_model_token_to_piece(m, 300, 0, buf, sizeof buf, &len), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(quanta_model_tokenize(NULL, text, 1, 1, 0, ids, 64, &n), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert(quanta_model_token_is_eog(m, 2));
    ck_assert(!quanta_model_token_is_eog(m, 1));
    quanta_model_destroy(m);
    quanta_backend_close(be);
    tiny_free(&tm);
}
END_TEST

/* Batched decode: three sequences at different positions, one token each per step, against
 * the float64 reference of each sequence, on every available backend. */
static void batch_case(const tiny_spec *spec, uint64_t salt, const char *backend) {
    tiny_model tm;
    tiny_build(&tm, spec, salt, NULL, NULL);
    quanta_backend *be;
    quanta_model *m = tiny_open_load(&tm, backend, NULL, &be);
    if (!m) {
        tiny_free(&tm);
        return;
    }
    int V = spec->n_vocab;
    enum { NS = 3, STEPS = 5 };
    const int lens[NS] = {3, 7, 5};
    quanta_model_context *ctx[NS];
    tiny_ref r[NS];
    double *want = malloc(sizeof(double) * V);
    float *logits = malloc(sizeof(float) * V * NS);
    int32_t tok[NS];
    qt_rng rng = qt_rng_make(salt);
    for (int i = 0; i < NS; i++) {
        ck_assert(quanta_model_context_create(m, 16, &ctx[i]) == QUANTA_OK);
        ref_init(&r[i], &tm, 16);
    }
    tiny_prefill_with_ref(ctx, r, NS, lens, &rng, V, logits, want, tok);
    char what[64];
    snprintf(what, sizeof what, "%s on %s", spec->arch, backend);
    tiny_batch_vs_ref(ctx, r, NS, tok, STEPS, V, logits, want, strcmp(backend, "ref") ? 1e-4 : 2e-5, what);
    for (int i = 0; i < NS; i++) ck_assert_int_eq(quanta_model_context_position(ctx[i]), lens[i] + STEPS);
    printf("model batch: %s on %s: %d sequences x %d batched steps match the reference\n", spec->arch, backend, NS, STEPS);
    /* A context of the cached plan goes away: the next batch rebuilds. */
    quanta_model_context_destroy(ctx[1]);
    ck_assert(quanta_model_context_create(m, 16, &ctx[1]) == QUANTA_OK);
    int32_t t0 = 5;
    ck_assert(quanta_model_eval(ctx[1], &t0, 1, NULL, 0) == QUANTA_OK);
    ck_assert(quanta_model_eval_batch(ctx, tok, NS, logits, (size_t)V * NS) == QUANTA_OK);
    for (int i = 0; i < NS; i++) {
        quanta_model_context_destroy(ctx[i]);
        ref_free(&r[i]);
    }
    free(want);
    free(logits);
    quanta_model_destroy(m);
    quanta_backend_close(be);
    tiny_free(&tm);
}

START_TEST(test_batch_decode) {
    const char *backends[] = {"ref", "opencl", "cuda"};
    for (int b = 0; b < 3; b++) {
        batch_case(&SPEC_GEMMA3, 90, backends[b]);
        batch_case(&SPEC_QWEN2, 91, backends[b]);
    }
}
END_TEST

START_TEST(test_batch_errors) {
    tiny_model tm;
    tiny_build(&tm, &SPEC_LLAMA, 92, NULL, NULL);
    quanta_backend *be, *be2;
    quanta_model *m = tiny_open_load(&tm, "ref", NULL, &be), *m2 = tiny_open_load(&tm, "ref", NULL, &be2);
    int V = SPEC_LLAMA.n_vocab;
    quanta_model_context *c[3];
    ck_assert(quanta_model_context_create(m, 2, &c[0]) == QUANTA_OK);
    ck_assert(quanta_model_context_create(m, 4, &c[1]) == QUANTA_OK);
    ck_assert(quanta_model_context_create(m2, 4, &c[2]) == QUANTA_OK);
    int32_t tok[3] = {1, 2, 3};
    float *l = malloc(sizeof(float) * V * 3);
    ck_assert_int_eq(quanta_model_eval_batch(NULL, tok, 2, l, 2 * V), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(quanta_model_eval_batch(c, NULL, 2, l, 2 * V), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(quanta_model_eval_batch(c, tok, 0, l, 0), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(quanta_model_eval_batch(c, tok, 3, l, 3 * V), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(quanta_last_error(), "ctxs[2]"));
    ck_assert_int_eq(quanta_model_eval_batch(c, tok, 2, l, V), QUANTA_ERR_INVALID_ARGUMENT);
    quanta_model_context *dup[2] = {c[0], c[0]};
    ck_assert_int_eq(quanta_model_eval_batch(dup, tok, 2, l, 2 * V), QUANTA_ERR_INVALID_ARGUMENT);
    int32_t bad[2] = {1, V};
    ck_assert_int_eq(quanta_model_eval_batch(c, bad, 2, l, 2 * V), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert(quanta_model_eval_batch(c, tok, 2, l, 2 * V) == QUANTA_OK);
    ck_assert(quanta_model_eval_batch(c, tok, 2, NULL, 0) == QUANTA_OK);
    ck_assert_int_eq(quanta_model_eval_batch(c, tok, 2, l, 2 * V), QUANTA_ERR_STATE); /* c[0] holds 2 */
    for (int i = 0; i < 3; i++) quanta_model_context_destroy(c[i]);
    free(l);
    quanta_model_destroy(m);
    quanta_model_destroy(m2);
    quanta_backend_close(be);
    quanta_backend_close(be2);
    tiny_free(&tm);
}
END_TEST

int main(void) {
    Suite *s = suite_create("model_tiny");
    TCase *tc = tcase_create("tiny");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_llama_matches_reference);
    tcase_add_test(tc, test_qwen2_matches_reference);
    tcase_add_test(tc, test_prefill_step_env);
    tcase_add_test(tc, test_gemma3_matches_reference);
    tcase_add_test(tc, test_backends_agree);
    tcase_add_test(tc, test_quantized_load);
    tcase_add_test(tc, test_quanta_tensor_loads_exactly);
    tcase_add_test(tc, test_memory_and_info);
    tcase_add_test(tc, test_eval_errors);
    tcase_add_test(tc, test_corrupt_models);
    tcase_add_test(tc, test_model_tokenize_api);
    tcase_add_test(tc, test_batch_decode);
    tcase_add_test(tc, test_batch_errors);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
