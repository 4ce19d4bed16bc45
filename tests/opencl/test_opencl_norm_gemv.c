/*
 * test_opencl_norm_gemv.c — the one-row norm run inside the q8 GEMV that reads it (QUANTA_OPENCL_NORM_GEMV=1,
 * engine/opencl/cl_norm_gemv.c, kernels_cl/gemv_gpu.cl qn_gemv_q8_m1n / _glu) on the GPU class.
 *
 * Two decode-shaped graphs (one x row, q8 weights, f32 norm weights, random inputs from the printed seed):
 *   LLaMA: s = a + b, y = rms_norm(s)·w1 -> q, k, v (matmul_multi); o = q·Wo^T, s2 = s + o, y2 = rms_norm(s2)·w2
 *          -> the gated MLP h (matmul_glu); dn = h·Wd^T, s3 = s2 + dn, z = rms_norm(s3)·w3 -> logits (matmul). The
 *          plan makes add_norms of the three norms: the first fuses into q/k/v (mode 1), the others follow a GEMV,
 *          which then stores the residual sum too (qn_gemv_q8_m1r), and their norms of the sum fuse (mode 0).
 *   Gemma: xd = a·Wd^T, s = b + rms_norm(xd)·(1 + w1), y = rms_norm(s)·(1 + w2) -> the gated MLP:
 *          rms_norm_add_norm (weight + 1) after a GEMV, which stores a copy of xd that the norm reads.
 * Every result (the norms' own included: later ops read them) must equal, bit for bit, the same plan with the
 * switch off (the norms launched apart: what the conformance suite checks against float64), on a first execute
 * and on a replay; each must also be within 1e-3 relative (of the row's largest magnitude) of the reference
 * backend, so the comparison is not of two empty outputs; and the events table of the run with the switch on
 * must list the three fused launches, so the test fails if the fusion silently stops being taken.
 * Exits 77 (SKIP) without an OpenCL device.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl_graph_set.h"
#include "cl_test.h"
#include "qt_check.h"
#include "qt_plan_run.h"
#include "qt_tensor.h"
#include "test_util.h"

#define D 2064 /* K / 16 = 129 pieces: the walkers' whole steps (4 · 32 a warp) and a tail of one piece */
#define F 768
#define NK 128
#define NO 1000

static void *q8_weight(qt_rng *r, int64_t N, int64_t K) {
    unsigned char *w = malloc((size_t)(N * K + 4 * N));
    ck_assert_ptr_nonnull(w);
    for (int64_t i = 0; i < N * K; i++) w[i] = (unsigned char)(int8_t)(qt_next(r) % 255 - 127);
    for (int64_t n = 0; n < N; n++) {
        const float sc = qt_uniform(r, 0.5f, 1.5f) / (127.0f * sqrtf((float)K));
        memcpy(w + N * K + 4 * n, &sc, 4);
    }
    return w;
}

static quanta_tensor *weight(quanta_graph *g, const char *name, qt_rng *r, int64_t N, int64_t K, void **keep) {
    quanta_tensor_desc d = {QUANTA_Q8, 2, {N, K}, 0, 0};
    quanta_tensor *t;
    *keep = q8_weight(r, N, K);
    ck_assert_int_eq(quanta_graph_constant(g, name, &d, *keep, (size_t)(N * K + 4 * N), &t), QUANTA_OK);
    return t;
}

/* The LLaMA-shaped graph (gemma 0) or the Gemma-shaped one; keep: the host buffers to free. */
static void make(qt_graph_set *s, int gemma, qt_rng *r, void **keep, int *nkeep, float *in0, float *in1) {
    memset(s, 0, sizeof *s);
    ck_assert_int_eq(quanta_graph_create(&s->g), QUANTA_OK);
    quanta_tensor_desc dx = qt_desc(QUANTA_F32, 2, 1, D, 0, 0);
    quanta_tensor *a, *b, *sum, *y, *h;
    ck_assert_int_eq(quanta_graph_input(s->g, "a", &dx, &a), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(s->g, "b", &dx, &b), QUANTA_OK);
    qt_fill_normal(r, in0, D, 1.0f);
    qt_fill_normal(r, in1, D, 1.0f);
    s->in[0] = (qt_in){a, in0, D * sizeof(float)};
    s->in[1] = (qt_in){b, in1, D * sizeof(float)};
    s->nin = 2;
    quanta_tensor *w1 = qt_gs_vec(s->g, "w1", r, D, gemma ? 0.0f : 1.0f, &keep[(*nkeep)++]), *w2 = qt_gs_vec(s->g, "w2", r, D, gemma ? 0.0f : 1.0f, &keep[(*nkeep)++]);
    quanta_tensor *wg = weight(s->g, "wg", r, F, D, &keep[(*nkeep)++]), *wu = weight(s->g, "wu", r, F, D, &keep[(*nkeep)++]);
    quanta_tensor *gt, *up;
    if (gemma) { /* xd = a·Wd^T, s = b + rms_norm(xd)·(1 + w1), y = rms_norm(s)·(1 + w2) */
        quanta_tensor *p, *xd, *wd = weight(s->g, "wd", r, D, D, &keep[(*nkeep)++]);
        ck_assert_int_eq(quanta_matmul(s->g, a, wd, &xd), QUANTA_OK);
        qt_gs_out(s, xd, D);
        ck_assert_int_eq(quanta_rms_norm(s->g, xd, w1, 1e-6f, 1, &p), QUANTA_OK);
        ck_assert_int_eq(quanta_add(s->g, b, p, &sum), QUANTA_OK);
        ck_assert_int_eq(quanta_rms_norm(s->g, sum, w2, 1e-6f, 1, &y), QUANTA_OK);
        qt_gs_out(s, sum, D);
        qt_gs_out(s, y, D);
    } else { /* s = a + b, y = rms_norm(s)·w1 -> q, k, v; o = q·Wo^T, s2 = s + o, y2 = rms_norm(s2)·w2 */
        quanta_tensor *q, *k, *v, *o, *s2, *y1;
        ck_assert_int_eq(quanta_add(s->g, a, b, &sum), QUANTA_OK);
        ck_assert_int_eq(quanta_rms_norm(s->g, sum, w1, 1e-5f, 0, &y1), QUANTA_OK);
        quanta_tensor *wq = weight(s->g, "wq", r, D, D, &keep[(*nkeep)++]), *wo = weight(s->g, "wo", r, D, D, &keep[(*nkeep)++]);
        quanta_tensor *wk = weight(s->g, "wk", r, NK, D, &keep[(*nkeep)++]), *wv = weight(s->g, "wv", r, NK, D, &keep[(*nkeep)++]);
        ck_assert_int_eq(quanta_matmul(s->g, y1, wq, &q), QUANTA_OK);
        ck_assert_int_eq(quanta_matmul(s->g, y1, wk, &k), QUANTA_OK);
        ck_assert_int_eq(quanta_matmul(s->g, y1, wv, &v), QUANTA_OK);
        ck_assert_int_eq(quanta_matmul(s->g, q, wo, &o), QUANTA_OK);
        ck_assert_int_eq(quanta_add(s->g, sum, o, &s2), QUANTA_OK);
        ck_assert_int_eq(quanta_rms_norm(s->g, s2, w2, 1e-5f, 0, &y), QUANTA_OK);
        qt_gs_out(s, sum, D);
        qt_gs_out(s, y1, D);
        qt_gs_out(s, q, D);
        qt_gs_out(s, k, NK);
        qt_gs_out(s, v, NK);
        qt_gs_out(s, o, D);
        qt_gs_out(s, s2, D);
        qt_gs_out(s, y, D);
    }
    ck_assert_int_eq(quanta_matmul(s->g, y, wg, &gt), QUANTA_OK);
    ck_assert_int_eq(quanta_matmul(s->g, y, wu, &up), QUANTA_OK);
    ck_assert_int_eq(quanta_glu(s->g, gt, up, QUANTA_GLU_SILU, &h), QUANTA_OK);
    qt_gs_out(s, h, F);
    if (!gemma) { /* dn = h·Wd^T, s3 = s2 + dn, z = rms_norm(s3)·w3 -> logits */
        quanta_tensor *w3 = qt_gs_vec(s->g, "w3", r, D, 1.0f, &keep[(*nkeep)++]), *wd = weight(s->g, "wd", r, D, F, &keep[(*nkeep)++]);
        quanta_tensor *wout = weight(s->g, "wout", r, NO, D, &keep[(*nkeep)++]);
        quanta_tensor *dn, *s3, *z, *lg;
        ck_assert_int_eq(quanta_matmul(s->g, h, wd, &dn), QUANTA_OK);
        ck_assert_int_eq(quanta_add(s->g, s->out[6], dn, &s3), QUANTA_OK); /* s2 */
        ck_assert_int_eq(quanta_rms_norm(s->g, s3, w3, 1e-5f, 0, &z), QUANTA_OK);
        ck_assert_int_eq(quanta_matmul(s->g, z, wout, &lg), QUANTA_OK);
        qt_gs_out(s, dn, D);
        qt_gs_out(s, s3, D);
        qt_gs_out(s, z, D);
        qt_gs_out(s, lg, NO);
    }
}

static quanta_backend *open_cl(const char *events) {
    if (events) setenv("QUANTA_OPENCL_EVENTS", events, 1);
    else unsetenv("QUANTA_OPENCL_EVENTS");
    quanta_backend *be;
    ck_assert_msg(quanta_backend_open("opencl", &be) == QUANTA_OK, "%s", quanta_last_error());
    unsetenv("QUANTA_OPENCL_EVENTS");
    return be;
}

static void check_graph(int gemma) {
    qt_rng r = qt_rng_make(41 + (uint64_t)gemma);
    void *keep[16];
    int nkeep = 0;
    float in0[D], in1[D];
    qt_graph_set s;
    make(&s, gemma, &r, keep, &nkeep, in0, in1);
    float *res[4][2][QT_GS_MAXOUT]; /* off, on, ref, on with QUANTA_OPENCL_NG_STEP=2 (the tail as one step) */
    for (int v = 0; v < 4; v++)
        for (int rep = 0; rep < 2; rep++)
            for (int j = 0; j < s.nout; j++) ck_assert_ptr_nonnull(res[v][rep][j] = malloc(s.n[j] * sizeof(float)));
    char events[256];
    snprintf(events, sizeof events, "test_opencl_norm_gemv_events_%d.txt", gemma);
    remove(events);
    setenv("QUANTA_OPENCL_NORM_GEMV", "0", 1);
    quanta_backend *be = open_cl(NULL);
    qt_gs_run(be, &s, res[0]);
    quanta_backend_close(be);
    setenv("QUANTA_OPENCL_NORM_GEMV", "1", 1);
    be = open_cl(events);
    qt_gs_run(be, &s, res[1]);
    quanta_backend_close(be); /* writes the events table */
    setenv("QUANTA_OPENCL_NG_STEP", "2", 1);
    be = open_cl(NULL);
    qt_gs_run(be, &s, res[3]);
    quanta_backend_close(be);
    unsetenv("QUANTA_OPENCL_NG_STEP");
    unsetenv("QUANTA_OPENCL_NORM_GEMV");
    qt_gs_same(&s, res[0], res[1], gemma ? "gemma graph, NORM_GEMV=1 against the norms apart"
                                         : "llama graph, NORM_GEMV=1 against the norms apart");
    qt_gs_same(&s, res[0], res[3], gemma ? "gemma graph, NORM_GEMV=1 NG_STEP=2 against the norms apart"
                                         : "llama graph, NORM_GEMV=1 NG_STEP=2 against the norms apart");
    qt_gs_near_ref(&s, res[2], res[1], gemma ? "gemma graph" : "llama graph");
    ck_assert_msg(qt_file_has(events, "norm + matmul_glu"), "the fused glu launch is not in %s", events);
    if (gemma) ck_assert_msg(qt_file_has(events, "matmul + copy"), "the GEMV with the copy is not in %s", events);
    if (!gemma) {
        ck_assert_msg(qt_file_has(events, "norm + matmul_multi"), "the fused q/k/v launch is not in %s", events);
        ck_assert_msg(qt_file_has(events, "norm + matmul (gemv"), "the fused plain GEMV launch is not in %s", events);
        ck_assert_msg(qt_file_has(events, "matmul + residual"), "the GEMV with the residual sum is not in %s", events);
    }
    if (!getenv("KEEPEV")) remove(events);
    for (int v = 0; v < 4; v++)
        for (int rep = 0; rep < 2; rep++)
            for (int j = 0; j < s.nout; j++) free(res[v][rep][j]);
    for (int i = 0; i < nkeep; i++) free(keep[i]);
    quanta_graph_destroy(s.g);
}

START_TEST(test_norm_gemv_llama) { check_graph(0); }
END_TEST

START_TEST(test_norm_gemv_gemma) { check_graph(1); }
END_TEST

int main(void) {
    const TTest *const tests[] = {test_norm_gemv_llama, test_norm_gemv_gemma};
    return qt_cl_gpu_main("opencl_norm_gemv", tests, (int)(sizeof tests / sizeof tests[0]));
}
