/*
 * test_fused_logits.c — the decode step's logits read with the finiteness check fused into the
 * copy (base/finite.h qn_f32_copy_any_nonfinite, engine/plan.h qn_plan_get_output_f32_finite,
 * model/context.c) and the model's phases of the step split (base/step_split.h).
 *   - the fused copy: the bytes of memcpy (NaN payloads too), nothing written past the count, and
 *     the flag of qn_f32_any_nonfinite for every non-finite class at every position of counts
 *     0 ... 130 (blocks of 64 and their tails);
 *   - the plan read: the bytes of quanta_plan_get_output and the flag, a non-finite value at the
 *     first, 63rd, 64th, last-of-a-block and tail positions; bad arguments refused;
 *   - the model: a tiny model whose output row k overflows f32 fails its eval with
 *     QUANTA_ERR_CORRUPT naming logit k, for k in each of those position classes, prefill, decode and
 *     a batched decode step (quanta_model_eval_batch);
 *   - the view (quanta_model_eval_view): the bytes of quanta_model_eval's copy for prefill (one and several
 *     steps) and decode, the overflow named through it, bad arguments refused with *logits NULL;
 *   - the split: every model phase counted once per step, the disjoint parts within the eval time
 *     and the evals within the caller's wall time.
 *   - the run and the read in one call (qn_plan_execute_read_f32_finite): the same bytes and flag; a run
 *     that fails reports its error and leaves data alone, and the plan runs again after it; one
 *     synchronize a step, before the view or read, or after the view when queued (a logging backend).
 * On ref (its memory is the view), opencl (no view: the read, then a scan) and cuda (the page-locked
 * staging buffer) where present. Registered three times (tests/model/meson.build): the defaults,
 * QUANTA_FUSED_CHECK=0 (the read, then a scan everywhere) and QUANTA_EXECUTE_READ=1 (the read queued
 * behind the run). Random values from the printed seed.
 */
#include <float.h>

#include "clock.h"
#include "error.h"
#include "finite.h"
#include "model_internal.h"
#include "plan.h"
#include "qt_check.h"
#include "qt_plan_run.h"
#include "qt_ref_wrapper.h"
#include "qt_tensor.h"
#include "tiny_model.h"

static const uint32_t bad_bits[] = {0x7fc00000u, 0xffc00000u, 0x7f800001u, 0xff800001u,
                                    0x7f800000u, 0xff800000u, 0x7fffffffu, 0x7fa5a5a5u};

static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

START_TEST(test_copy_check) {
    enum { MAXC = 130, PAD = 4 };
    qt_rng r = qt_rng_make(0xF05E);
    float *src = malloc((MAXC + PAD) * sizeof(float)), *dst = malloc((MAXC + PAD) * sizeof(float));
    ck_assert(src && dst);
    for (int count = 0; count <= MAXC; count++) {
        qt_fill_normal(&r, src, MAXC + PAD, 1e30f);
        src[0] = FLT_MAX;
        if (count > 1) src[1] = from_bits(0x00000001u); /* the smallest subnormal: finite */
        for (int pos = -1; pos < count; pos++) {
            const uint32_t b = bad_bits[(size_t)(pos + 1 + count) % (sizeof bad_bits / sizeof *bad_bits)];
            const float keep = pos >= 0 ? src[pos] : 0.0f;
            if (pos >= 0) src[pos] = from_bits(b);
            memset(dst, 0x5a, (MAXC + PAD) * sizeof(float));
            const int got = qn_f32_copy_any_nonfinite(dst, src, (size_t)count);
            ck_assert_msg(got == (pos >= 0) && got == qn_f32_any_nonfinite(src, (size_t)count),
                          "count %d, bits %08x at %d: flag %d", count, b, pos, got);
            ck_assert_msg(!memcmp(dst, src, (size_t)count * sizeof(float)), "count %d pos %d: bytes differ", count, pos);
            for (int i = count; i < MAXC + PAD; i++) {
                uint32_t u;
                memcpy(&u, &dst[i], sizeof u);
                ck_assert_msg(u == 0x5a5a5a5au, "count %d: wrote element %d", count, i);
            }
            if (pos >= 0) src[pos] = keep;
        }
    }
    free(src);
    free(dst);
}
END_TEST

/* The backends to run on: ref always (its memory is the view), opencl (no view: the read path) and cuda (the
 * page-locked staging buffer) where present. */
static const char *const backends[] = {"ref", "opencl", "cuda"};
#define N_BACKENDS ((int)(sizeof backends / sizeof *backends))

static int open_backend(int i, quanta_backend **be) {
    if (quanta_backend_open(backends[i], be) == QUANTA_OK) return 1;
    ck_assert_msg(i > 0, "ref: %s", quanta_last_error());
    printf("%s: not available (%s): skipped\n", backends[i], quanta_last_error());
    return 0;
}

START_TEST(test_plan_read) {
    printf("fused check %s, execute-read %s\n", qn_fused_check_on() ? "on" : "off (QUANTA_FUSED_CHECK=0)",
           qn_execute_read_on() ? "queued (QUANTA_EXECUTE_READ=1)" : "off");
    const char *e = getenv("QUANTA_FUSED_CHECK");
    ck_assert_int_eq(qn_fused_check_on(), !(e && !strcmp(e, "0")));
    quanta_backend *be;
    if (!open_backend(_i, &be)) return;
    qt_rng r = qt_rng_make(0xF05F + (uint64_t)_i);
    enum { N = 64 * 9 + 37 };
    quanta_tensor *x, *y;
    quanta_graph *g = qt_graph_3x(N, &x, &y);
    quanta_plan *p;
    ck_assert_int_eq(quanta_plan_create(g, be, &p), QUANTA_OK);
    static float in[N], want[N], got[N];
    const int places[] = {-1, 0, 63, 64, 127, 64 * 9 - 1, 64 * 9, N - 1};
    for (size_t k = 0; k < sizeof places / sizeof *places; k++) {
        qt_fill_normal(&r, in, N, 2.0f);
        if (places[k] >= 0) in[places[k]] = from_bits(bad_bits[k % (sizeof bad_bits / sizeof *bad_bits)]);
        ck_assert_int_eq(quanta_plan_set_input(p, x, in, sizeof in), QUANTA_OK);
        ck_assert_int_eq(quanta_plan_execute(p), QUANTA_OK);
        qt_poison_f32(want, N);
        ck_assert_int_eq(quanta_plan_get_output(p, y, want, sizeof want), QUANTA_OK);
        qt_poison_f32(got, N);
        int bad = -1;
        ck_assert_int_eq(qn_plan_get_output_f32_finite(p, y, got, N, &bad), QUANTA_OK);
        ck_assert_msg(!memcmp(got, want, sizeof got), "%s, non-finite at %d: bytes differ from quanta_plan_get_output",
                      backends[_i], places[k]);
        ck_assert_msg(bad == (places[k] >= 0), "%s, non-finite at %d: flag %d", backends[_i], places[k], bad);
        /* the run and the read in one call (queued behind the run with QUANTA_EXECUTE_READ=1) */
        qt_poison_f32(got, N);
        bad = -1;
        ck_assert_int_eq(qn_plan_execute_read_f32_finite(p, y, got, N, &bad), QUANTA_OK);
        ck_assert_msg(!memcmp(got, want, sizeof got), "%s, non-finite at %d: execute_read's bytes differ",
                      backends[_i], places[k]);
        ck_assert_msg(bad == (places[k] >= 0), "%s, non-finite at %d: execute_read's flag %d", backends[_i],
                      places[k], bad);
    }
    int bad = 7;
    ck_assert_int_eq(qn_plan_get_output_f32_finite(p, y, got, N - 1, &bad), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(bad, 0);
    ck_assert_int_eq(qn_plan_get_output_f32_finite(p, y, NULL, N, &bad), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(qn_plan_get_output_f32_finite(p, y, got, N, NULL), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(qn_plan_get_output_f32_finite(NULL, y, got, N, &bad), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(qn_plan_get_output_f32_finite(p, y, got, SIZE_MAX / 2, &bad), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(qn_plan_execute_read_f32_finite(p, y, got, N + 1, &bad), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(qn_plan_execute_read_f32_finite(p, y, NULL, N, &bad), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(qn_plan_execute_read_f32_finite(p, y, got, N, NULL), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(qn_plan_execute_read_f32_finite(p, x, got, N, &bad), QUANTA_OK); /* an input: its own bytes */
    ck_assert(!memcmp(got, in, sizeof got));
    quanta_plan_destroy(p);
    quanta_graph_destroy(g);
    quanta_backend_close(be);
}
END_TEST

/* A run that fails (get_rows with an id out of range: ref fails in the op, cuda through its error flag at the
 * synchronize, which the queued read does after its copy) reports the error and leaves data alone. */
START_TEST(test_run_error_before_data) {
    quanta_backend *be;
    if (!open_backend(_i, &be)) return;
    enum { V = 16, D = 70 };
    quanta_graph *g;
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    quanta_tensor_desc dt = qt_desc(QUANTA_F32, 2, V, D, 0, 0), di = qt_desc(QUANTA_I32, 1, 1, 0, 0, 0);
    static float table[V * D], got[D];
    qt_rng r = qt_rng_make(0xF060 + (uint64_t)_i);
    qt_fill_normal(&r, table, V * D, 1.0f);
    quanta_tensor *tab, *ids, *y;
    ck_assert_int_eq(quanta_graph_constant(g, "table", &dt, table, sizeof table, &tab), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "ids", &di, &ids), QUANTA_OK);
    ck_assert_int_eq(quanta_get_rows(g, tab, ids, &y), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(g, y), QUANTA_OK);
    quanta_plan *p;
    ck_assert_int_eq(quanta_plan_create(g, be, &p), QUANTA_OK);
    for (int rep = 0; rep < 3; rep++) { /* good, bad, good: a failed run leaves the plan usable */
        const int32_t id = rep == 1 ? V + 3 : (int32_t)(qt_next(&r) % V);
        ck_assert_int_eq(quanta_plan_set_input(p, ids, &id, sizeof id), QUANTA_OK);
        for (int i = 0; i < D; i++) got[i] = 12345.0f;
        int bad = -1;
        quanta_status st = qn_plan_execute_read_f32_finite(p, y, got, D, &bad);
        if (rep == 1) {
            ck_assert_msg(st != QUANTA_OK, "%s: an id out of range not reported", backends[_i]);
            for (int i = 0; i < D; i++) ck_assert_msg(got[i] == 12345.0f, "%s: data[%d] written by a failed run",
                                                      backends[_i], i);
        } else {
            ck_assert_msg(st == QUANTA_OK, "%s: %s", backends[_i], quanta_last_error());
            ck_assert_int_eq(bad, 0);
            ck_assert(!memcmp(got, table + (size_t)id * D, sizeof got));
        }
    }
    quanta_plan_destroy(p);
    quanta_graph_destroy(g);
    quanta_backend_close(be);
}
END_TEST

/* A reference backend in disguise that logs its synchronize / read / read_view calls, and whose synchronize fails
 * once when asked (an error a GPU reports only at its synchronize, as CUDA's error flags). */
static char call_log[64];
static int n_calls, fail_next_sync;
static void log_call(char c) {
    if (n_calls < (int)sizeof call_log - 1) call_log[n_calls++] = c, call_log[n_calls] = '\0';
}
static quanta_status logged_sync(void *self) {
    log_call('s');
    if (fail_next_sync) {
        fail_next_sync = 0;
        return qn_error_set(QUANTA_ERR_BACKEND, "logged: the run failed (reported at synchronize)");
    }
    return qn_ref_backend.synchronize(self);
}
static quanta_status logged_read(void *self, qn_mem src, void *dst, size_t bytes) {
    log_call('r');
    return qn_ref_backend.read(self, src, dst, bytes);
}
static quanta_status logged_view(void *self, qn_mem src, size_t bytes, const void **view) {
    log_call('v');
    return qn_ref_backend.read_view(self, src, bytes, view);
}
static qn_backend_ops logged_ops(void) {
    qn_backend_ops o = qt_ref_wrapper("logged");
    o.synchronize = logged_sync;
    o.read = logged_read;
    o.read_view = logged_view;
    return o;
}
static qn_backend_ops logged_noview_ops(void) {
    qn_backend_ops o = logged_ops();
    o.name = "logged_noview";
    o.read_view = NULL;
    return o;
}

/* The calls a checked read makes, by mode: one synchronize a step (the run's, or after the queued view), none
 * repeated; a synchronize that fails leaves data alone and the next step runs. */
START_TEST(test_call_order) {
    static qn_backend_ops slot[2];
    quanta_backend *be = qt_ref_wrapper_open(&slot[_i], _i ? logged_noview_ops : logged_ops);
    const int view = _i == 0 && qn_fused_check_on(), queued = view && qn_execute_read_on();
    enum { N = 200 };
    quanta_tensor *x, *y;
    quanta_graph *g = qt_graph_3x(N, &x, &y);
    quanta_plan *p;
    ck_assert_int_eq(quanta_plan_create(g, be, &p), QUANTA_OK);
    static float in[N], got[N];
    qt_rng r = qt_rng_make(0xF061 + (uint64_t)_i);
    qt_fill_normal(&r, in, N, 1.0f);
    ck_assert_int_eq(quanta_plan_set_input(p, x, in, sizeof in), QUANTA_OK);
    const char *want_step = queued ? "vs" : view ? "sv" : "sr"; /* execute_read */
    for (int rep = 0; rep < 4; rep++) {
        n_calls = 0;
        call_log[0] = '\0';
        fail_next_sync = rep == 2;
        for (int i = 0; i < N; i++) got[i] = -7.0f;
        int bad = -1;
        quanta_status st = qn_plan_execute_read_f32_finite(p, y, got, N, &bad);
        if (rep == 2) {
            ck_assert_int_eq(st, QUANTA_ERR_BACKEND);
            for (int i = 0; i < N; i++) ck_assert_msg(got[i] == -7.0f, "%s: data[%d] written by a failed run", slot[_i].name, i);
            continue;
        }
        ck_assert_msg(st == QUANTA_OK, "%s", quanta_last_error());
        for (int i = 0; i < N; i++) ck_assert(fabsf(got[i] - 3.0f * in[i]) <= 1e-5f * fabsf(3.0f * in[i]));
        ck_assert_msg(!strcmp(call_log, want_step), "%s, step %d: calls '%s', want '%s'", slot[_i].name, rep, call_log,
                      want_step);
    }
    /* the read alone synchronizes first (it cannot know what ran since) */
    n_calls = 0;
    call_log[0] = '\0';
    int bad = -1;
    ck_assert_int_eq(qn_plan_get_output_f32_finite(p, y, got, N, &bad), QUANTA_OK);
    ck_assert_msg(!strcmp(call_log, view ? "sv" : "sr"), "%s: the read alone: '%s'", slot[_i].name, call_log);
    quanta_plan_destroy(p);
    quanta_graph_destroy(g);
    quanta_backend_close(be);
}
END_TEST

/* 2 layers, 300 tokens (blocks of 64: 4 whole, a tail of 44), untied output. */
static const tiny_spec SPEC = {"llama", 32, 4, 2, 8, 48, 2, 300, 0, 10000.0f, 0, 0};

/* The tiny model with output row k all +Inf in the file (2-D weights are not checked at load): logit k is
 * +-Inf, or NaN where terms of both signs meet, in every row. */
static quanta_model *load_overflowing(tiny_model *tm, int k, quanta_backend *be) {
    tiny_build(tm, &SPEC, 0x700 + (uint64_t)k, NULL, NULL);
    const size_t row = (size_t)SPEC.n_embd * sizeof(float);
    const float *want = tm->output + (size_t)k * (size_t)SPEC.n_embd;
    uint8_t *img = tm->image, *at = NULL;
    for (size_t i = 0; i + row <= tm->image_size && !at; i += 4) /* f32 tensors are 4-byte aligned */
        if (!memcmp(img + i, want, row)) at = img + i;
    ck_assert_msg(at != NULL, "output row %d not found in the image", k);
    for (int j = 0; j < SPEC.n_embd; j++) {
        const float v = INFINITY;
        memcpy(at + (size_t)j * sizeof v, &v, sizeof v);
    }
    return tiny_load(tm, be, NULL);
}

START_TEST(test_model_overflow_named) {
    const int V = SPEC.n_vocab, ks[] = {0, 64, 299, 1, 63, 255, 256};
    quanta_backend *be;
    if (!open_backend(_i, &be)) return;
    float *logits = malloc((size_t)V * 4 * sizeof *logits);
    ck_assert_ptr_nonnull(logits);
    /* the reference backend every class; the others the first of a block, of the next block and of the tail */
    for (size_t i = 0; i < (_i == 0 ? sizeof ks / sizeof *ks : 3); i++) {
        const int k = ks[i];
        tiny_model tm;
        quanta_model *m = load_overflowing(&tm, k, be);
        ck_assert_ptr_nonnull(m);
        quanta_model_context *ctx;
        ck_assert_int_eq(quanta_model_context_create(m, 32, &ctx), QUANTA_OK);
        const int32_t ids[3] = {(k + 5) % V, (k + 11) % V, (k + 17) % V}; /* never token k */
        char want[80];
        snprintf(want, sizeof want, "quanta_model_eval: logit %d of row 0 is ", k);
        /* prefill, last row only */
        ck_assert_int_eq(quanta_model_eval(ctx, ids, 3, logits, (size_t)V), QUANTA_ERR_CORRUPT);
        ck_assert_msg(!strncmp(quanta_last_error(), want, strlen(want)), "%s, k %d: '%s'", backends[_i], k,
                      quanta_last_error());
        ck_assert_int_eq(quanta_model_context_position(ctx), 0);
        /* prefill without logits goes on; a decode step's logits then fail the same way */
        ck_assert_int_eq(quanta_model_eval(ctx, ids, 3, NULL, 0), QUANTA_OK);
        ck_assert_int_eq(quanta_model_eval(ctx, ids, 1, logits, (size_t)V), QUANTA_ERR_CORRUPT);
        ck_assert_msg(!strncmp(quanta_last_error(), want, strlen(want)), "%s, k %d: '%s'", backends[_i], k,
                      quanta_last_error());
        ck_assert_int_eq(quanta_model_context_position(ctx), 3);
        /* the view (quanta_model_eval_view): the same check in place, prefill and decode; no pointer on the error */
        snprintf(want, sizeof want, "quanta_model_eval_view: logit %d of row 0 is ", k);
        quanta_model_context_reset(ctx);
        const float *view = (const float *)logits;
        ck_assert_int_eq(quanta_model_eval_view(ctx, ids, 3, &view), QUANTA_ERR_CORRUPT);
        ck_assert_ptr_null(view);
        ck_assert_msg(!strncmp(quanta_last_error(), want, strlen(want)), "%s, k %d: '%s'", backends[_i], k,
                      quanta_last_error());
        ck_assert_int_eq(quanta_model_eval(ctx, ids, 3, NULL, 0), QUANTA_OK);
        view = (const float *)logits;
        ck_assert_int_eq(quanta_model_eval_view(ctx, ids, 1, &view), QUANTA_ERR_CORRUPT);
        ck_assert_ptr_null(view);
        ck_assert_msg(!strncmp(quanta_last_error(), want, strlen(want)), "%s, k %d: '%s'", backends[_i], k,
                      quanta_last_error());
        snprintf(want, sizeof want, "quanta_model_eval: logit %d of row 0 is ", k);
        /* every row's logits: the first row's logit k is named */
        quanta_model_context_reset(ctx);
        ck_assert_int_eq(quanta_model_eval(ctx, ids, 2, logits, (size_t)V * 2), QUANTA_ERR_CORRUPT);
        ck_assert_msg(!strncmp(quanta_last_error(), want, strlen(want)), "%s, k %d: '%s'", backends[_i], k,
                      quanta_last_error());
        /* a batched decode step of two contexts: row 0's logit k named */
        quanta_model_context *two[2];
        ck_assert_int_eq(quanta_model_context_create(m, 32, &two[0]), QUANTA_OK);
        ck_assert_int_eq(quanta_model_context_create(m, 32, &two[1]), QUANTA_OK);
        ck_assert_int_eq(quanta_model_eval(two[1], ids, 2, NULL, 0), QUANTA_OK); /* the two at other positions */
        ck_assert_int_eq(quanta_model_eval_batch(two, ids, 2, logits, (size_t)V * 2), QUANTA_ERR_CORRUPT);
        snprintf(want, sizeof want, "quanta_model_eval_batch: logit %d of row 0 is ", k);
        ck_assert_msg(!strncmp(quanta_last_error(), want, strlen(want)), "%s, k %d: '%s'", backends[_i], k,
                      quanta_last_error());
        quanta_model_context_destroy(two[0]);
        quanta_model_context_destroy(two[1]);
        quanta_model_context_destroy(ctx);
        quanta_model_destroy(m);
        tiny_free(&tm);
    }
    quanta_backend_close(be);
    free(logits);
}
END_TEST

/* quanta_model_eval_view against quanta_model_eval on the same tokens (random weights, printed seed): the same
 * bytes for a prefill's last row and for each decode step, the view read before the next eval; prompts that run
 * as several prefill steps too (QUANTA_PREFILL_STEP is left alone: 40 tokens against the step cap). */
START_TEST(test_model_view_same_bytes) {
    const int V = SPEC.n_vocab;
    quanta_backend *be;
    if (!open_backend(_i, &be)) return;
    qt_rng r = qt_rng_make(0x51ED); /* the run's printed seed (qt_seed) salted */
    tiny_model tm;
    tiny_build(&tm, &SPEC, qt_next(&r), NULL, NULL);
    quanta_model *m = tiny_load(&tm, be, NULL);
    ck_assert_ptr_nonnull(m);
    quanta_model_context *a, *b;
    ck_assert_int_eq(quanta_model_context_create(m, 64, &a), QUANTA_OK);
    ck_assert_int_eq(quanta_model_context_create(m, 64, &b), QUANTA_OK);
    int32_t ids[40];
    for (int i = 0; i < 40; i++) ids[i] = (int32_t)(qt_next(&r) % (uint64_t)V);
    float *want = malloc((size_t)V * sizeof *want);
    ck_assert_ptr_nonnull(want);
    for (int step = 0; step < 8; step++) {
        const size_t n = step == 0 ? 40 : 1;
        const int32_t *tok = step == 0 ? ids : &ids[step];
        memset(want, 0x5a, (size_t)V * sizeof *want);
        ck_assert_int_eq(quanta_model_eval(a, tok, n, want, (size_t)V), QUANTA_OK);
        const float *view = NULL;
        ck_assert_int_eq(quanta_model_eval_view(b, tok, n, &view), QUANTA_OK);
        ck_assert_ptr_nonnull(view);
        ck_assert_msg(!memcmp(view, want, (size_t)V * sizeof *want), "%s, step %d: the view differs from the copy",
                      backends[_i], step);
        ck_assert_int_eq(quanta_model_context_position(b), quanta_model_context_position(a));
    }
    /* bad arguments: refused, named, *logits NULL, the context unchanged */
    const float *view = (const float *)want;
    const int32_t pos = quanta_model_context_position(b);
    QT_EXPECT_ERR(quanta_model_eval_view(NULL, ids, 1, &view), QUANTA_ERR_INVALID_ARGUMENT, "ctx is NULL");
    ck_assert_ptr_null(view);
    QT_EXPECT_ERR(quanta_model_eval_view(b, ids, 1, NULL), QUANTA_ERR_INVALID_ARGUMENT, "logits is NULL");
    view = (const float *)want;
    QT_EXPECT_ERR(quanta_model_eval_view(b, NULL, 1, &view), QUANTA_ERR_INVALID_ARGUMENT, "tokens is NULL");
    ck_assert_ptr_null(view);
    const int32_t out_of_range = V;
    QT_EXPECT_ERR(quanta_model_eval_view(b, &out_of_range, 1, &view), QUANTA_ERR_INVALID_ARGUMENT, "outside");
    ck_assert_int_eq(quanta_model_context_position(b), pos);
    free(want);
    quanta_model_context_destroy(a);
    quanta_model_context_destroy(b);
    quanta_model_destroy(m);
    tiny_free(&tm);
    quanta_backend_close(be);
}
END_TEST

START_TEST(test_split_model_phases) {
    ck_assert(qn_step_split_on());
    tiny_model tm;
    tiny_build(&tm, &SPEC, 0x5917, NULL, NULL);
    quanta_backend *be;
    quanta_model *m = tiny_open_load(&tm, "ref", NULL, &be);
    ck_assert_ptr_nonnull(m);
    quanta_model_context *ctx;
    ck_assert_int_eq(quanta_model_context_create(m, 40, &ctx), QUANTA_OK);
    const int V = SPEC.n_vocab;
    float *logits = malloc((size_t)V * sizeof *logits);
    ck_assert_ptr_nonnull(logits);
    int32_t tok = 7;
    const int view = _i == 1; /* 0: quanta_model_eval (copies), 1: quanta_model_eval_view */
    const float *lv = NULL;
    ck_assert_int_eq(quanta_model_eval(ctx, &tok, 1, logits, (size_t)V), QUANTA_OK); /* plans built */
    enum { STEPS = 12 };
    qn_step_split_take(NULL, 1);
    const double t0 = qn_now_s();
    for (int i = 0; i < STEPS; i++) {
        if (view) {
            ck_assert_int_eq(quanta_model_eval_view(ctx, &tok, 1, &lv), QUANTA_OK);
            tok = (int32_t)tiny_argmax(lv, V);
        } else {
            ck_assert_int_eq(quanta_model_eval(ctx, &tok, 1, logits, (size_t)V), QUANTA_OK);
            tok = (int32_t)tiny_argmax(logits, V);
        }
    }
    const double wall = qn_now_s() - t0;
    /* refused before any work: an eval is counted (its time is the caller's), no step phase */
    ck_assert_int_eq(view ? quanta_model_eval_view(ctx, &tok, 0, &lv) : quanta_model_eval(ctx, &tok, 0, logits, (size_t)V),
                     QUANTA_ERR_INVALID_ARGUMENT);
    qn_step_split s;
    qn_step_split_take(&s, 1);
    for (int ph = 0; ph < QN_SPLIT_PHASES; ph++) {
        /* the scan of its own: the view's, checked in place, or where the check is not fused into the copy (ref
         * lends its memory) */
        const long long want = ph == QN_SPLIT_INPUT   ? 4 * STEPS
                               : ph == QN_SPLIT_EVAL  ? STEPS + 1
                               : ph == QN_SPLIT_CHECK ? (view || !qn_fused_check_on() ? STEPS : 0)
                                                      : STEPS;
        ck_assert_msg(s.count[ph] == want, "%s, %s: %lld, want %lld", view ? "view" : "copy",
                      qn_split_phase_name((qn_split_phase)ph), s.count[ph], want);
        ck_assert_msg(s.seconds[ph] >= 0.0, "%s", qn_split_phase_name((qn_split_phase)ph));
    }
    const double *t = s.seconds;
    const double parts = t[QN_SPLIT_PREP] + t[QN_SPLIT_EXECUTE] + t[QN_SPLIT_OUTPUT] + t[QN_SPLIT_CHECK] + t[QN_SPLIT_POST];
    ck_assert_msg(t[QN_SPLIT_INPUT] <= t[QN_SPLIT_PREP], "writes %g s outside prep %g s", t[QN_SPLIT_INPUT],
                  t[QN_SPLIT_PREP]);
    ck_assert_msg(parts <= t[QN_SPLIT_EVAL], "phases %g s > evals %g s", parts, t[QN_SPLIT_EVAL]);
    ck_assert_msg(t[QN_SPLIT_EVAL] <= wall, "evals %g s > wall %g s", t[QN_SPLIT_EVAL], wall);
    ck_assert(t[QN_SPLIT_EXECUTE] > 0.0);
    free(logits);
    quanta_model_context_destroy(ctx);
    quanta_model_destroy(m);
    quanta_backend_close(be);
    tiny_free(&tm);
}
END_TEST

int main(void) {
    setenv("QUANTA_STEP_SPLIT", "1", 1); /* read once, at the first use */
    Suite *s = suite_create("model_fused_logits");
    TCase *tc = tcase_create("fused_logits");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_copy_check);
    tcase_add_loop_test(tc, test_plan_read, 0, N_BACKENDS);
    tcase_add_loop_test(tc, test_run_error_before_data, 0, N_BACKENDS);
    tcase_add_loop_test(tc, test_call_order, 0, 2);
    tcase_add_loop_test(tc, test_model_overflow_named, 0, N_BACKENDS);
    tcase_add_loop_test(tc, test_model_view_same_bytes, 0, N_BACKENDS);
    tcase_add_loop_test(tc, test_split_model_phases, 0, 2);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
