/* test_plan_state.c — the executor's state rules found in review: error messages that wrap
 * the previous one, outputs marked after planning, buffers rewritten after planning (their
 * prepared form is replaced), guard setup that fails part way, the memory account returning
 * to zero, and QUANTA_OPENCL_DEVICE. Each test failed before its fix. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "engine_test.h"
#include "error.h"
#include "plan.h"
#include "quanta.h"
#include "test_util.h"
#include "qt_check.h"
#include "qt_ref_wrapper.h"
#include "qt_tensor.h"

/* Callers wrap the previous message: qn_error_set(st, "loading 'x': %s", quanta_last_error()). */
START_TEST(test_error_wraps_previous_message) {
    qn_error_set(QUANTA_ERR_IO, "inner cause %d", 7);
    quanta_status st = qn_error_set(QUANTA_ERR_CORRUPT, "outer '%s': %s", "w", quanta_last_error());
    ck_assert_int_eq(st, QUANTA_ERR_CORRUPT);
    ck_assert_str_eq(quanta_last_error(), "outer 'w': inner cause 7");
}
END_TEST

/* x -> a = 2x -> b = 3a -> c = 5b with only c an output: a's memory is reused for c. Marking
 * a as an output after planning must not hand out that reused memory as a's value. */
START_TEST(test_output_marked_after_planning_is_refused) {
    qt_rng r = qt_rng_make(21);
    enum { N = 300 };
    quanta_backend *be;
    ck_assert_int_eq(quanta_backend_open("ref", &be), QUANTA_OK);
    quanta_graph *g;
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    quanta_tensor_desc d = qt_desc(QUANTA_F32, 1, N, 0, 0, 0);
    quanta_tensor *x, *a, *b, *c;
    ck_assert_int_eq(quanta_graph_input(g, "x", &d, &x), QUANTA_OK);
    ck_assert_int_eq(quanta_scale(g, x, 2.0f, &a), QUANTA_OK);
    ck_assert_int_eq(quanta_scale(g, a, 3.0f, &b), QUANTA_OK);
    ck_assert_int_eq(quanta_scale(g, b, 5.0f, &c), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(g, c), QUANTA_OK);
    quanta_plan *p;
    ck_assert_int_eq(quanta_plan_create(g, be, &p), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(g, a), QUANTA_OK); /* too late for this plan */
    float in[N], out[N];
    qt_fill_normal(&r, in, N, 1.0f);
    ck_assert_int_eq(quanta_plan_set_input(p, x, in, sizeof in), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_execute(p), QUANTA_OK);
    QT_EXPECT_ERR(quanta_plan_get_output(p, a, out, sizeof out), QUANTA_ERR_STATE, "before planning");
    qt_poison_f32(out, N);
    ck_assert_int_eq(quanta_plan_get_output(p, c, out, sizeof out), QUANTA_OK);
    for (int i = 0; i < N; i++) QT_CHECK(fabsf(out[i] - 30.0f * in[i]) <= 1e-5f * fabsf(30.0f * in[i]), "i=%d", i);
    /* a prefix: the leading elements, the rest of the caller's memory untouched */
    qt_poison_f32(out, N);
    ck_assert_int_eq(quanta_plan_get_output_prefix(p, c, out, 3 * sizeof *out), QUANTA_OK);
    for (int i = 0; i < 3; i++) QT_CHECK(fabsf(out[i] - 30.0f * in[i]) <= 1e-5f * fabsf(30.0f * in[i]), "i=%d", i);
    for (int i = 3; i < N; i++) QT_CHECK(isnan(out[i]), "out[%d] was written", i);
    QT_EXPECT_ERR(quanta_plan_get_output_prefix(p, c, out, sizeof out + 4), QUANTA_ERR_INVALID_ARGUMENT, "holds");
    QT_EXPECT_ERR(quanta_plan_get_output_prefix(p, c, NULL, 4), QUANTA_ERR_INVALID_ARGUMENT, "data is NULL");
    QT_EXPECT_ERR(quanta_plan_get_output_prefix(NULL, c, out, 4), QUANTA_ERR_INVALID_ARGUMENT, "plan is NULL");
    QT_EXPECT_ERR(quanta_plan_get_output_prefix(p, a, out, 4), QUANTA_ERR_STATE, "before planning");
    quanta_plan_destroy(p);
    /* A plan made now sees the mark. */
    ck_assert_int_eq(quanta_plan_create(g, be, &p), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_set_input(p, x, in, sizeof in), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_execute(p), QUANTA_OK);
    qt_poison_f32(out, N);
    ck_assert_int_eq(quanta_plan_get_output(p, a, out, sizeof out), QUANTA_OK);
    for (int i = 0; i < N; i++) QT_CHECK(out[i] == 2.0f * in[i], "i=%d", i);
    quanta_plan_destroy(p);
    quanta_graph_destroy(g);
    quanta_backend_close(be);
}
END_TEST

/* ------------------------------------------------ a backend that prepares weights */

/* The reference in disguise, with prepare_weight. Prepared forms live in static slots that are
 * never reused, so a stale pointer is seen as a released slot rather than a recycled address. */
typedef struct prep_slot {
    int released;
    float first; /* the weight's first value when prepared */
} prep_slot;
static prep_slot prep_slots[16];
static int prep_next, prep_stale_uses, prep_uses;

static quanta_status pw_prepare(void *self, const qn_tensor *w, void **aux) {
    (void)self;
    if (w->desc.dtype != QUANTA_F32 || prep_next == (int)(sizeof prep_slots / sizeof prep_slots[0])) {
        *aux = NULL;
        return QUANTA_OK;
    }
    prep_slot *s = &prep_slots[prep_next++];
    s->released = 0;
    s->first = *(const float *)qn_host_ptr(w);
    *aux = s;
    return QUANTA_OK;
}
static void pw_release(void *self, void *aux) { (void)self; ((prep_slot *)aux)->released = 1; }
static quanta_status pw_run(void *self, const qn_node *n) {
    if (n->op == QN_OP_MATMUL && n->src[1]->aux) {
        const prep_slot *s = n->src[1]->aux;
        prep_uses++;
        /* The prepared form a backend would compute with must be live and of the current data. */
        if (s->released || s->first != *(const float *)qn_host_ptr(n->src[1])) prep_stale_uses++;
    }
    return qn_ref_backend.run(self, n);
}
static qn_backend_ops prepw_ops(void) {
    qn_backend_ops ops = qt_ref_wrapper("prepw");
    ops.prepare_weight = pw_prepare;
    ops.release_weight = pw_release;
    ops.run = pw_run;
    return ops;
}

static quanta_backend *open_prepw(void) {
    static qn_backend_ops prepw;
    return qt_ref_wrapper_open(&prepw, prepw_ops);
}

/* A weight buffer rewritten after planning (new weights into the same buffer): the plan must
 * run with the new prepared form, not the one quanta_buffer_write released. */
START_TEST(test_buffer_rewritten_after_planning) {
    qt_rng r = qt_rng_make(22);
    enum { M = 3, K = 16, N = 5 };
    quanta_backend *be = open_prepw();
    quanta_tensor_desc dw = qt_desc(QUANTA_F32, 2, N, K, 0, 0), dx = qt_desc(QUANTA_F32, 2, M, K, 0, 0);
    quanta_buffer *wb;
    ck_assert_int_eq(quanta_buffer_create(be, &dw, &wb), QUANTA_OK);
    float w[N * K], x[M * K], y[M * N];
    qt_fill_normal(&r, w, N * K, 1.0f);
    qt_fill_normal(&r, x, M * K, 1.0f);
    ck_assert_int_eq(quanta_buffer_write(wb, w, sizeof w), QUANTA_OK);
    quanta_graph *g;
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    quanta_tensor *tx, *tw, *ty;
    ck_assert_int_eq(quanta_graph_input(g, "x", &dx, &tx), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_buffer(g, wb, &tw), QUANTA_OK);
    ck_assert_int_eq(quanta_matmul(g, tx, tw, &ty), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(g, ty), QUANTA_OK);
    quanta_plan *p;
    ck_assert_int_eq(quanta_plan_create(g, be, &p), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_set_input(p, tx, x, sizeof x), QUANTA_OK);
    for (int round = 0; round < 2; round++) {
        if (round == 1) {
            qt_fill_normal(&r, w, N * K, 1.0f);
            ck_assert_int_eq(quanta_buffer_write(wb, w, sizeof w), QUANTA_OK);
        }
        prep_uses = prep_stale_uses = 0;
        ck_assert_int_eq(quanta_plan_execute(p), QUANTA_OK);
        ck_assert_int_eq(prep_uses, 1);
        ck_assert_msg(prep_stale_uses == 0, "round %d: matmul ran with a released prepared weight", round);
        qt_poison_f32(y, M * N);
        ck_assert_int_eq(quanta_plan_get_output(p, ty, y, sizeof y), QUANTA_OK);
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++) {
                double acc = 0;
                for (int k = 0; k < K; k++) acc += (double)x[m * K + k] * w[n * K + k];
                QT_CHECK(fabs(acc - y[m * N + n]) <= 1e-5 * (1 + fabs(acc)), "round %d m=%d n=%d", round, m, n);
            }
    }
    quanta_plan_destroy(p);
    quanta_graph_destroy(g);
    quanta_buffer_destroy(wb);
    uint64_t in_use = 1;
    ck_assert_int_eq(quanta_backend_memory_stats(be, &in_use, NULL), QUANTA_OK);
    ck_assert_uint_eq(in_use, 0);
    quanta_backend_close(be);
}
END_TEST

/* Guard setup that runs out of memory part way must leave the plan as it was: a second try
 * (with room) works, results are right, and destroying everything books every byte back. */
START_TEST(test_guard_setup_failure_rolls_back) {
    qt_rng r = qt_rng_make(23);
    enum { N = 1000, OPS = 4 };
    quanta_backend *be;
    ck_assert_int_eq(quanta_backend_open("ref", &be), QUANTA_OK);
    quanta_graph *g;
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    quanta_tensor *x, *t = qt_scale_chain(g, N, OPS, 2.0f, &x);
    ck_assert_int_eq(quanta_graph_output(g, t), QUANTA_OK);
    quanta_plan *p;
    ck_assert_int_eq(quanta_plan_create(g, be, &p), QUANTA_OK);
    uint64_t base = 0, after = 0;
    ck_assert_int_eq(quanta_backend_memory_stats(be, &base, NULL), QUANTA_OK);
    /* Room for two guarded outputs (N*4 + 2*256 bytes each) but not for the third. */
    size_t one = N * 4 + 2 * 256;
    ck_assert_int_eq(quanta_backend_set_memory_limit(be, base + 2 * one + one / 2), QUANTA_OK);
    QT_EXPECT_ERR(qn_plan_set_guard_bytes(p, 256), QUANTA_ERR_OUT_OF_MEMORY, "limit");
    ck_assert_int_eq(quanta_backend_memory_stats(be, &after, NULL), QUANTA_OK);
    ck_assert_uint_eq(after, base);
    ck_assert_int_eq(quanta_backend_set_memory_limit(be, 0), QUANTA_OK);
    ck_assert_int_eq(qn_plan_set_guard_bytes(p, 256), QUANTA_OK);
    float in[N], out[N];
    qt_fill_normal(&r, in, N, 1.0f);
    ck_assert_int_eq(quanta_plan_set_input(p, x, in, sizeof in), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_execute(p), QUANTA_OK);
    qt_poison_f32(out, N);
    ck_assert_int_eq(quanta_plan_get_output(p, t, out, sizeof out), QUANTA_OK);
    for (int i = 0; i < N; i++) QT_CHECK(out[i] == 16.0f * in[i], "i=%d", i);
    quanta_plan_destroy(p);
    quanta_graph_destroy(g);
    ck_assert_int_eq(quanta_backend_memory_stats(be, &after, NULL), QUANTA_OK);
    ck_assert_uint_eq(after, 0);
    quanta_backend_close(be);
}
END_TEST

/* Everything the engine allocates is booked back: inputs, constants, views of intermediates,
 * buffers with in-place writes, guards, a failed plan. */
START_TEST(test_memory_account_returns_to_zero) {
    quanta_backend *be;
    ck_assert_int_eq(quanta_backend_open("ref", &be), QUANTA_OK);
    enum { H = 2, NMAX = 8, D = 4 };
    quanta_tensor_desc dc = qt_desc(QUANTA_F32, 4, 1, H, NMAX, D), ds = qt_desc(QUANTA_F32, 4, 1, H, 2, D);
    quanta_tensor_desc di = {QUANTA_I32, 1, {1, 1, 1, 1}, 0, 0}, dw = qt_desc(QUANTA_F32, 2, 3, D, 0, 0);
    quanta_buffer *cache;
    ck_assert_int_eq(quanta_buffer_create(be, &dc, &cache), QUANTA_OK);
    float wv[3 * D] = {0};
    for (int pass = 0; pass < 2; pass++) {
        quanta_graph *g;
        ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
        quanta_tensor *c, *s, *st, *after, *w, *flat, *y;
        ck_assert_int_eq(quanta_graph_buffer(g, cache, &c), QUANTA_OK);
        ck_assert_int_eq(quanta_graph_input(g, "s", &ds, &s), QUANTA_OK);
        ck_assert_int_eq(quanta_graph_input(g, "start", &di, &st), QUANTA_OK);
        ck_assert_int_eq(quanta_graph_constant(g, "w", &dw, wv, sizeof wv, &w), QUANTA_OK);
        ck_assert_int_eq(quanta_write_rows(g, c, s, st, &after), QUANTA_OK);
        int64_t fd[2] = {H * NMAX, D};
        ck_assert_int_eq(quanta_reshape(g, after, 2, fd, &flat), QUANTA_OK);
        ck_assert_int_eq(quanta_matmul(g, flat, w, &y), QUANTA_OK);
        ck_assert_int_eq(quanta_graph_output(g, y), QUANTA_OK);
        quanta_plan *p;
        ck_assert_int_eq(quanta_plan_create(g, be, &p), QUANTA_OK);
        if (pass == 1) ck_assert_int_eq(qn_plan_set_guard_bytes(p, 64), QUANTA_OK);
        quanta_plan_destroy(p);
        /* A plan that fails for lack of memory leaves nothing booked either. */
        uint64_t used = 0;
        ck_assert_int_eq(quanta_backend_memory_stats(be, &used, NULL), QUANTA_OK);
        ck_assert_int_eq(quanta_backend_set_memory_limit(be, used + 1), QUANTA_OK);
        p = (quanta_plan *)1;
        ck_assert_int_eq(quanta_plan_create(g, be, &p), QUANTA_ERR_OUT_OF_MEMORY);
        ck_assert_ptr_null(p);
        ck_assert_int_eq(quanta_backend_set_memory_limit(be, 0), QUANTA_OK);
        uint64_t now = 0;
        ck_assert_int_eq(quanta_backend_memory_stats(be, &now, NULL), QUANTA_OK);
        ck_assert_uint_eq(now, used);
        quanta_graph_destroy(g);
    }
    quanta_buffer_destroy(cache);
    uint64_t in_use = 1;
    ck_assert_int_eq(quanta_backend_memory_stats(be, &in_use, NULL), QUANTA_OK);
    ck_assert_uint_eq(in_use, 0);
    quanta_backend_close(be);
    /* NULL is accepted by every destroy. */
    quanta_plan_destroy(NULL);
    quanta_graph_destroy(NULL);
    quanta_buffer_destroy(NULL);
    quanta_backend_close(NULL);
}
END_TEST

/* QUANTA_OPENCL_DEVICE picks the OpenCL device for "opencl" and for "best" (when no CUDA
 * device wins first); a choice that matches no device fails and names the variable. Runs only
 * where an OpenCL device exists. */
START_TEST(test_opencl_device_variable) {
    int n = 0, have_opencl = 0, have_cuda = 0;
    ck_assert_int_eq(quanta_device_count(&n), QUANTA_OK);
    for (int i = 0; i < n; i++) {
        quanta_device_info info;
        ck_assert_int_eq(quanta_device_get(i, &info), QUANTA_OK);
        have_opencl |= !strcmp(info.backend, "opencl");
        have_cuda |= !strcmp(info.backend, "cuda");
    }
    if (!have_opencl) return;
    const char *old = getenv("QUANTA_OPENCL_DEVICE");
    char *saved = old ? strdup(old) : NULL;
    quanta_backend *be = (quanta_backend *)1;
    ck_assert_int_eq(setenv("QUANTA_OPENCL_DEVICE", "no-such-device-name-xyz", 1), 0);
    QT_EXPECT_ERR(quanta_backend_open("opencl", &be), QUANTA_ERR_NO_DEVICE, "no-such-device-name-xyz",
                  "QUANTA_OPENCL_DEVICE");
    ck_assert_ptr_null(be);
    if (!have_cuda) {
        be = (quanta_backend *)1;
        QT_EXPECT_ERR(quanta_backend_open("best", &be), QUANTA_ERR_NO_DEVICE, "QUANTA_OPENCL_DEVICE");
        ck_assert_ptr_null(be);
    }
    ck_assert_int_eq(setenv("QUANTA_OPENCL_DEVICE", "999", 1), 0);
    QT_EXPECT_ERR(quanta_backend_open("opencl", &be), QUANTA_ERR_INVALID_ARGUMENT, "999", "QUANTA_OPENCL_DEVICE");
    /* An explicit "opencl:N" overrides the variable. */
    ck_assert_int_eq(quanta_backend_open("opencl:99", &be), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(strstr(quanta_last_error(), "QUANTA_OPENCL_DEVICE"));
    if (saved) setenv("QUANTA_OPENCL_DEVICE", saved, 1);
    else unsetenv("QUANTA_OPENCL_DEVICE");
    free(saved);
}
END_TEST

/* A backend that hands out address-only allocations: plans of huge tensors can be made without
 * memory, to reach the planner's size arithmetic. Nothing is ever read or run on it. */
static char nm_byte;
static quanta_status nm_alloc(void *self, size_t b, void **h) { (void)self; (void)b; *h = &nm_byte; return QUANTA_OK; }
static void nm_free(void *self, void *h) { (void)self; (void)h; }
static quanta_status nm_write(void *self, qn_mem m, const void *s, size_t b) { (void)self; (void)m; (void)s; (void)b; return QUANTA_OK; }
static quanta_status nm_run(void *self, const qn_node *n) {
    (void)self; (void)n;
    return qn_error_set(QUANTA_ERR_UNSUPPORTED, "nomem: nothing runs here");
}
static qn_backend_ops nomem_ops(void) {
    qn_backend_ops ops = qt_ref_wrapper("nomem");
    ops.alloc = nm_alloc;
    ops.free = nm_free;
    ops.write = nm_write;
    ops.run = nm_run;
    return ops;
}

/* y = x·wᵀ with x [3·715827883, 1] and w [2147483647, 1]: y holds 2^62 - 1 f32 values, 2^64 - 4
 * bytes, which fits size_t, but rounding it up to the arena alignment wraps to 0. The plan
 * must refuse it instead of giving y an empty place. */
START_TEST(test_arena_size_overflow) {
    if (sizeof(size_t) < 8) return;
    static qn_backend_ops nomem;
    quanta_backend *be = qt_ref_wrapper_open(&nomem, nomem_ops);
    quanta_graph *g;
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    quanta_tensor_desc dx = qt_desc(QUANTA_F32, 2, 2147483649LL, 1, 0, 0), dw = qt_desc(QUANTA_F32, 2, 2147483647LL, 1, 0, 0);
    quanta_tensor *x, *w, *y;
    ck_assert_int_eq(quanta_graph_input(g, "x", &dx, &x), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "w", &dw, &w), QUANTA_OK);
    ck_assert_int_eq(quanta_matmul(g, x, w, &y), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(g, y), QUANTA_OK);
    quanta_plan *p = (quanta_plan *)1;
    QT_EXPECT_ERR(quanta_plan_create(g, be, &p), QUANTA_ERR_OVERFLOW, "quanta_plan_create");
    ck_assert_ptr_null(p);
    quanta_graph_destroy(g);
    uint64_t in_use = 1;
    ck_assert_int_eq(quanta_backend_memory_stats(be, &in_use, NULL), QUANTA_OK);
    ck_assert_uint_eq(in_use, 0);
    quanta_backend_close(be);
}
END_TEST

/* ------------------------------------------- fallback of in-place and optional-source ops */

static bool fb_supports(void *self, const qn_node *n) {
    (void)self;
    return n->op != QN_OP_WRITE_ROWS && n->op != QN_OP_RMS_NORM;
}
static quanta_status fb_run(void *self, const qn_node *n) {
    if (n->op == QN_OP_WRITE_ROWS || n->op == QN_OP_RMS_NORM)
        return qn_error_set(QUANTA_ERR_UNSUPPORTED, "nowr: asked to run an op it does not support");
    return qn_ref_backend.run(self, n);
}
static qn_backend_ops nowr_ops(void) {
    qn_backend_ops ops = qt_ref_wrapper("nowr");
    ops.supports_op = fb_supports;
    ops.run = fb_run;
    return ops;
}

/* write_rows (in place into a buffer) and rms_norm without a weight (a NULL source) both fall
 * back; a later op on the device reads write_rows' result; guards stay intact. */
START_TEST(test_fallback_write_rows_and_null_source) {
    static qn_backend_ops nowr;
    qt_rng r = qt_rng_make(24);
    enum { H = 2, NMAX = 5, T = 2, D = 8, AT = 3 };
    quanta_backend *be = qt_ref_wrapper_open(&nowr, nowr_ops);
    quanta_tensor_desc dc = qt_desc(QUANTA_F32, 4, 1, H, NMAX, D), ds = qt_desc(QUANTA_F32, 4, 1, H, T, D);
    quanta_tensor_desc di = {QUANTA_I32, 1, {1, 1, 1, 1}, 0, 0};
    quanta_buffer *cache;
    ck_assert_int_eq(quanta_buffer_create(be, &dc, &cache), QUANTA_OK);
    float init[H * NMAX * D], src[H * T * D];
    qt_fill_normal(&r, init, H * NMAX * D, 1.0f);
    qt_fill_normal(&r, src, H * T * D, 1.0f);
    ck_assert_int_eq(quanta_buffer_write(cache, init, sizeof init), QUANTA_OK);
    quanta_graph *g;
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    quanta_tensor *c, *ts, *st, *after, *n, *y;
    ck_assert_int_eq(quanta_graph_buffer(g, cache, &c), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "src", &ds, &ts), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "start", &di, &st), QUANTA_OK);
    ck_assert_int_eq(quanta_write_rows(g, c, ts, st, &after), QUANTA_OK);
    ck_assert_int_eq(quanta_rms_norm(g, after, NULL, 1e-6f, 0, &n), QUANTA_OK);
    ck_assert_int_eq(quanta_scale(g, n, 2.0f, &y), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(g, y), QUANTA_OK);
    quanta_plan *p;
    ck_assert_int_eq(quanta_plan_create(g, be, &p), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_fallback_count(p), 2);
    ck_assert_int_eq(qn_plan_set_guard_bytes(p, 64), QUANTA_OK);
    int32_t at = AT;
    ck_assert_int_eq(quanta_plan_set_input(p, ts, src, sizeof src), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_set_input(p, st, &at, sizeof at), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_execute(p), QUANTA_OK);
    float want[H * NMAX * D], got[H * NMAX * D];
    memcpy(want, init, sizeof want);
    for (int h = 0; h < H; h++)
        for (int t = 0; t < T; t++)
            memcpy(&want[(h * NMAX + AT + t) * D], &src[(h * T + t) * D], D * sizeof(float));
    qt_poison_f32(got, H * NMAX * D);
    ck_assert_int_eq(quanta_buffer_read(cache, got, sizeof got), QUANTA_OK);
    ck_assert_mem_eq(got, want, sizeof got);
    qt_poison_f32(got, H * NMAX * D);
    ck_assert_int_eq(quanta_plan_get_output(p, y, got, sizeof got), QUANTA_OK);
    for (int row = 0; row < H * NMAX; row++) {
        double ss = 0;
        for (int e = 0; e < D; e++) ss += (double)want[row * D + e] * want[row * D + e];
        double inv = 1.0 / sqrt(ss / D + 1e-6);
        for (int e = 0; e < D; e++) {
            double w = 2.0 * want[row * D + e] * inv;
            QT_CHECK(fabs(got[row * D + e] - w) <= 1e-5 * (1 + fabs(w)), "row %d e %d: %g vs %g", row, e,
                     got[row * D + e], w);
        }
    }
    quanta_plan_destroy(p);
    quanta_graph_destroy(g);
    quanta_buffer_destroy(cache);
    quanta_backend_close(be);
}
END_TEST

/* What quanta_plan_get_output hands back besides marked op results: inputs, constants, buffers
 * and views of them read their storage; a view of a marked result reads the result. */
START_TEST(test_get_output_of_leaves_and_views) {
    qt_rng r = qt_rng_make(25);
    enum { R = 3, C = 4 };
    quanta_backend *be;
    ck_assert_int_eq(quanta_backend_open("ref", &be), QUANTA_OK);
    quanta_tensor_desc d = qt_desc(QUANTA_F32, 2, R, C, 0, 0);
    float xin[R * C], kin[R * C], bin[R * C], got[R * C];
    qt_fill_normal(&r, xin, R * C, 1.0f);
    qt_fill_normal(&r, kin, R * C, 1.0f);
    qt_fill_normal(&r, bin, R * C, 1.0f);
    quanta_buffer *buf;
    ck_assert_int_eq(quanta_buffer_create(be, &d, &buf), QUANTA_OK);
    ck_assert_int_eq(quanta_buffer_write(buf, bin, sizeof bin), QUANTA_OK);
    quanta_graph *g;
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    quanta_tensor *x, *k, *b, *y, *vx, *vk, *vb, *vy;
    ck_assert_int_eq(quanta_graph_input(g, "x", &d, &x), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_constant(g, "k", &d, kin, sizeof kin, &k), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_buffer(g, buf, &b), QUANTA_OK);
    ck_assert_int_eq(quanta_add(g, x, k, &y), QUANTA_OK);
    int64_t flat[1] = {R * C};
    ck_assert_int_eq(quanta_reshape(g, x, 1, flat, &vx), QUANTA_OK);
    ck_assert_int_eq(quanta_reshape(g, k, 1, flat, &vk), QUANTA_OK);
    ck_assert_int_eq(quanta_reshape(g, b, 1, flat, &vb), QUANTA_OK);
    ck_assert_int_eq(quanta_reshape(g, y, 1, flat, &vy), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(g, vy), QUANTA_OK);
    quanta_plan *p;
    ck_assert_int_eq(quanta_plan_create(g, be, &p), QUANTA_OK);
    /* Before execute: leaves are readable, op results are not. */
    qt_poison_f32(got, R * C);
    ck_assert_int_eq(quanta_plan_get_output(p, vk, got, sizeof got), QUANTA_OK);
    ck_assert_mem_eq(got, kin, sizeof got);
    QT_EXPECT_ERR(quanta_plan_get_output(p, vy, got, sizeof got), QUANTA_ERR_STATE, "not been executed");
    ck_assert_int_eq(quanta_plan_set_input(p, x, xin, sizeof xin), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_execute(p), QUANTA_OK);
    const struct { quanta_tensor *t; const float *want; } leaves[] = {
        {x, xin}, {vx, xin}, {k, kin}, {vk, kin}, {b, bin}, {vb, bin},
    };
    for (size_t i = 0; i < sizeof leaves / sizeof leaves[0]; i++) {
        qt_poison_f32(got, R * C);
        ck_assert_int_eq(quanta_plan_get_output(p, leaves[i].t, got, sizeof got), QUANTA_OK);
        ck_assert_msg(!memcmp(got, leaves[i].want, sizeof got), "leaf %zu", i);
    }
    qt_poison_f32(got, R * C);
    ck_assert_int_eq(quanta_plan_get_output(p, vy, got, sizeof got), QUANTA_OK);
    for (int i = 0; i < R * C; i++) QT_CHECK(got[i] == xin[i] + kin[i], "i=%d", i);
    /* y itself was not marked (only its view was): refused rather than guessed. */
    QT_EXPECT_ERR(quanta_plan_get_output(p, y, got, sizeof got), QUANTA_ERR_STATE, "quanta_graph_output");
    quanta_plan_destroy(p);
    quanta_graph_destroy(g);
    quanta_buffer_destroy(buf);
    quanta_backend_close(be);
}
END_TEST

/* Tensors and buffers that are not the plan's: a tensor of another graph (even one whose id exists in the
 * planned graph) is refused by set_input and get_output instead of naming that graph's tensor; a buffer made
 * on another backend is refused at plan time (its memory is not the plan's device's; OpenCL present only). */
START_TEST(test_foreign_tensors_and_buffers) {
    quanta_backend *be;
    ck_assert_int_eq(quanta_backend_open("ref", &be), QUANTA_OK);
    const quanta_tensor_desc d = {QUANTA_F32, 1, {8, 0, 0, 0}, 0, 0};
    quanta_graph *g, *g2;
    quanta_tensor *x, *y, *x2, *y2;
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_create(&g2), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "x", &d, &x), QUANTA_OK);
    ck_assert_int_eq(quanta_scale(g, x, 2.0f, &y), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(g, y), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g2, "x2", &d, &x2), QUANTA_OK); /* the same ids as x and y */
    ck_assert_int_eq(quanta_scale(g2, x2, 3.0f, &y2), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(g2, y2), QUANTA_OK);
    quanta_plan *p;
    ck_assert_int_eq(quanta_plan_create(g, be, &p), QUANTA_OK);
    float in[8] = {1, 2, 3, 4, 5, 6, 7, 8}, out[8];
    QT_EXPECT_ERR(quanta_plan_set_input(p, x2, in, sizeof in), QUANTA_ERR_INVALID_ARGUMENT,
                  "not a tensor of the planned graph");
    ck_assert_int_eq(quanta_plan_set_input(p, x, in, sizeof in), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_execute(p), QUANTA_OK);
    QT_EXPECT_ERR(quanta_plan_get_output(p, y2, out, sizeof out), QUANTA_ERR_INVALID_ARGUMENT,
                  "not a tensor of the planned graph");
    qt_poison_f32(out, 8);
    ck_assert_int_eq(quanta_plan_get_output(p, y, out, sizeof out), QUANTA_OK);
    for (int i = 0; i < 8; i++) ck_assert(out[i] == 2.0f * in[i]);
    quanta_plan_destroy(p);
    quanta_graph_destroy(g2);
    quanta_graph_destroy(g);
    quanta_backend *cl;
    if (quanta_backend_open("opencl", &cl) == QUANTA_OK) {
        quanta_buffer *buf;
        quanta_tensor *tb, *z;
        ck_assert_int_eq(quanta_buffer_create(be, &d, &buf), QUANTA_OK); /* a reference-backend buffer */
        ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
        ck_assert_int_eq(quanta_graph_buffer(g, buf, &tb), QUANTA_OK);
        ck_assert_int_eq(quanta_scale(g, tb, 2.0f, &z), QUANTA_OK);
        ck_assert_int_eq(quanta_graph_output(g, z), QUANTA_OK);
        p = (quanta_plan *)1;
        QT_EXPECT_ERR(quanta_plan_create(g, cl, &p), QUANTA_ERR_INVALID_ARGUMENT, "a buffer of another backend",
                      "(ref, plan is on opencl)");
        quanta_graph_destroy(g);
        quanta_buffer_destroy(buf);
        quanta_backend_close(cl);
    }
    quanta_backend_close(be);
}
END_TEST

int main(void) {
    Suite *s = suite_create("engine_state");
    TCase *tc = tcase_create("state");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_error_wraps_previous_message);
    tcase_add_test(tc, test_output_marked_after_planning_is_refused);
    tcase_add_test(tc, test_buffer_rewritten_after_planning);
    tcase_add_test(tc, test_guard_setup_failure_rolls_back);
    tcase_add_test(tc, test_memory_account_returns_to_zero);
    tcase_add_test(tc, test_opencl_device_variable);
    tcase_add_test(tc, test_arena_size_overflow);
    tcase_add_test(tc, test_fallback_write_rows_and_null_source);
    tcase_add_test(tc, test_get_output_of_leaves_and_views);
    tcase_add_test(tc, test_foreign_tensors_and_buffers);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
