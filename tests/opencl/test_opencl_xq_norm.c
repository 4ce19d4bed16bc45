/*
 * test_opencl_xq_norm.c — a decode step's one-row norm that also leaves its row's int8 form for the GEMVs that read
 * it (QUANTA_OPENCL_XQ_NORM=1, engine/opencl/cl_norm_gemv.c, kernels_cl/elementwise.cl qn_rms_norm_xq) on the GPU
 * class: those GEMVs take their XG forms (x's planes from global memory, no prologue) reading it.
 *
 * A LLaMA-shaped decode graph (one x row, random inputs and weights from the printed seed):
 *   s = a + b, y = rms_norm(s)·w1 -> q, k, v (three matmuls of y); o = q·Wo^T, s2 = s + o, y2 = rms_norm(s2)·w2 ->
 *   gate, up (two matmuls of y2), h = glu(gate, up), dn = h·Wd^T, s3 = s2 + dn, z = rms_norm(s3)·w3 -> logits.
 * q4 weights (group 32, D = 1024, the 7B's K = 4096 shrunk): every matmul is q4's int8 GEMV (qn_gemv_q4_i's
 * streaming forms); the plan makes add_norms of the first two norms and keeps the last one plain: each is held
 * (cl_norm_gemv.c), then launched with the int8 form for the GEMVs after it (q, k, v: three launches reading one form;
 * gate, up: two; the logits: one; 2 or 4 rows a warp as the device's compute units make RW=auto pick), and the glu is held too and launched with its result's int8 form for down
 * (qn_glu_xq). q8 weights with QUANTA_OPENCL_Q8I=1 GEMVS_PF=1 (q8's int8 forms at these
 * sizes, _ip on any device) and QUANTA_OPENCL_GEMV1=0 (the norm not fused into the GEMV): q, k, v one matmul_multi, q8's pieces; and
 * QUANTA_OPENCL_XQ_NORM=2 with the fusion on (the int8 form in place of the norm's fusion into the float GEMV: q/k/v
 * and the logits), against QUANTA_OPENCL_NORM_GEMV=0 (every norm apart, each GEMV int8 quantizing x itself).
 * Every result (the norms' own, the GEMVs', the later ops') must equal, bit for bit, the same plan with the switch off
 * (each GEMV quantizing x itself), on a first execute and on a replay (where the executor records); each run on its
 * own backend, its device results filled with NaN before the first execute, and each result within 1e-3 relative
 * (of the row's largest magnitude) of the reference backend (so the comparison is not of two empty outputs); the
 * events table with the switch on must list the norm with the int8 form and the XG GEMVs, the one with it off
 * neither (the test fails if the path silently stops being taken, or leaks into the default).
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

#define D 1024
#define F 512
#define NK 256
#define NO 800

static quanta_tensor *weight(quanta_graph *g, const char *name, qt_rng *r, quanta_dtype dt, int64_t N, int64_t K,
                             void **keep) {
    quanta_tensor_desc wd = {dt, 2, {N, K}, dt == QUANTA_Q4 ? 32 : 0, 0};
    float *wf = malloc((size_t)(N * K) * sizeof *wf);
    ck_assert_ptr_nonnull(wf);
    qt_fill_normal(r, wf, (size_t)(N * K), 1.0f / sqrtf((float)K));
    size_t wb;
    ck_assert_int_eq(quanta_tensor_bytes(&wd, &wb), QUANTA_OK);
    *keep = malloc(wb);
    ck_assert_ptr_nonnull(*keep);
    ck_assert_int_eq(quanta_quantize(&wd, wf, *keep, wb), QUANTA_OK);
    free(wf);
    quanta_tensor *t;
    ck_assert_int_eq(quanta_graph_constant(g, name, &wd, *keep, wb, &t), QUANTA_OK);
    return t;
}

static void make(qt_graph_set *s, quanta_dtype dt, qt_rng *r, void **keep, int *nkeep, float *in0, float *in1) {
    memset(s, 0, sizeof *s);
    ck_assert_int_eq(quanta_graph_create(&s->g), QUANTA_OK);
    quanta_tensor_desc dx = qt_desc(QUANTA_F32, 2, 1, D, 0, 0);
    quanta_tensor *a, *b;
    ck_assert_int_eq(quanta_graph_input(s->g, "a", &dx, &a), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(s->g, "b", &dx, &b), QUANTA_OK);
    qt_fill_normal(r, in0, D, 1.0f);
    qt_fill_normal(r, in1, D, 1.0f);
    in0[7] = 40.0f; /* an outlier: its chunk's scale */
    for (int i = 64; i < 96; i++) in0[i] = in1[i] = 0.0f; /* a chunk that norms to zero */
    s->in[0] = (qt_in){a, in0, D * sizeof(float)};
    s->in[1] = (qt_in){b, in1, D * sizeof(float)};
    s->nin = 2;
    quanta_tensor *w1 = qt_gs_vec(s->g, "w1", r, D, 1.0f, &keep[(*nkeep)++]), *w2 = qt_gs_vec(s->g, "w2", r, D, 1.0f, &keep[(*nkeep)++]);
    quanta_tensor *w3 = qt_gs_vec(s->g, "w3", r, D, 1.0f, &keep[(*nkeep)++]);
    quanta_tensor *wq = weight(s->g, "wq", r, dt, D, D, &keep[(*nkeep)++]), *wo = weight(s->g, "wo", r, dt, D, D, &keep[(*nkeep)++]);
    quanta_tensor *wk = weight(s->g, "wk", r, dt, NK, D, &keep[(*nkeep)++]), *wv = weight(s->g, "wv", r, dt, NK, D, &keep[(*nkeep)++]);
    quanta_tensor *wg = weight(s->g, "wg", r, dt, F, D, &keep[(*nkeep)++]), *wu = weight(s->g, "wu", r, dt, F, D, &keep[(*nkeep)++]);
    quanta_tensor *wd = weight(s->g, "wd", r, dt, D, F, &keep[(*nkeep)++]), *wout = weight(s->g, "wout", r, dt, NO, D, &keep[(*nkeep)++]);
    quanta_tensor *sum, *y1, *q, *k, *v, *o, *s2, *y2, *gt, *up, *h, *dn, *s3, *z, *lg;
    ck_assert_int_eq(quanta_add(s->g, a, b, &sum), QUANTA_OK);
    ck_assert_int_eq(quanta_rms_norm(s->g, sum, w1, 1e-5f, 0, &y1), QUANTA_OK);
    ck_assert_int_eq(quanta_matmul(s->g, y1, wq, &q), QUANTA_OK);
    ck_assert_int_eq(quanta_matmul(s->g, y1, wk, &k), QUANTA_OK);
    ck_assert_int_eq(quanta_matmul(s->g, y1, wv, &v), QUANTA_OK);
    ck_assert_int_eq(quanta_matmul(s->g, q, wo, &o), QUANTA_OK);
    ck_assert_int_eq(quanta_add(s->g, sum, o, &s2), QUANTA_OK);
    ck_assert_int_eq(quanta_rms_norm(s->g, s2, w2, 1e-5f, 0, &y2), QUANTA_OK);
    ck_assert_int_eq(quanta_matmul(s->g, y2, wg, &gt), QUANTA_OK);
    ck_assert_int_eq(quanta_matmul(s->g, y2, wu, &up), QUANTA_OK);
    ck_assert_int_eq(quanta_glu(s->g, gt, up, QUANTA_GLU_SILU, &h), QUANTA_OK);
    ck_assert_int_eq(quanta_matmul(s->g, h, wd, &dn), QUANTA_OK);
    ck_assert_int_eq(quanta_add(s->g, s2, dn, &s3), QUANTA_OK);
    ck_assert_int_eq(quanta_rms_norm(s->g, s3, w3, 1e-5f, 0, &z), QUANTA_OK);
    ck_assert_int_eq(quanta_matmul(s->g, z, wout, &lg), QUANTA_OK);
    quanta_tensor *outs[] = {sum, y1, q, k, v, o, s2, y2, gt, up, h, dn, s3, z, lg};
    const size_t ns[] = {D, D, D, NK, NK, D, D, D, F, F, F, D, D, D, NO};
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) qt_gs_out(s, outs[i], ns[i]);
}

/* A fresh backend (its own device memory), new allocations filled with 0xFF (QUANTA_OPENCL_ALLOC_FILL): a result a
 * kernel would leave unwritten reads NaN on the first execute, not zero or another run's values */
static quanta_backend *open_cl(const char *events) {
    setenv("QUANTA_OPENCL_EVENTS", events, 1);
    setenv("QUANTA_OPENCL_ALLOC_FILL", "255", 1);
    quanta_backend *be;
    ck_assert_msg(quanta_backend_open("opencl", &be) == QUANTA_OK, "%s", quanta_last_error());
    unsetenv("QUANTA_OPENCL_EVENTS");
    return be;
}

/* The switch off (XQ_NORM unset, or NORM_GEMV=0 against mode 2) against XQ_NORM=mode. */
static void check(quanta_dtype dt, int mode) {
    const uint64_t seed = 24 + (uint64_t)dt;
    printf("test_opencl_xq_norm: %s, XQ_NORM=%d, seed %llu\n", dt == QUANTA_Q4 ? "q4" : "q8", mode, (unsigned long long)seed);
    qt_rng r = qt_rng_make(seed);
    void *keep[16];
    int nkeep = 0;
    float in0[D], in1[D];
    qt_graph_set s;
    make(&s, dt, &r, keep, &nkeep, in0, in1);
    float *res[3][2][QT_GS_MAXOUT]; /* off, on, ref */
    for (int v = 0; v < 3; v++)
        for (int rep = 0; rep < 2; rep++)
            for (int j = 0; j < s.nout; j++) ck_assert_ptr_nonnull(res[v][rep][j] = malloc(s.n[j] * sizeof(float)));
    char ev[2][128];
    for (int v = 0; v < 2; v++) {
        snprintf(ev[v], sizeof ev[v], "test_opencl_xq_norm_events_%s%d_%d.txt", dt == QUANTA_Q4 ? "q4" : "q8", mode, v);
        remove(ev[v]);
        if (v) setenv("QUANTA_OPENCL_XQ_NORM", mode == 2 ? "2" : "1", 1);
        else unsetenv("QUANTA_OPENCL_XQ_NORM");
        if (!v && mode == 2) setenv("QUANTA_OPENCL_NORM_GEMV", "0", 1); /* =2's bits: every norm apart, each GEMV int8 */
        else unsetenv("QUANTA_OPENCL_NORM_GEMV");
        quanta_backend *be = open_cl(ev[v]);
        qt_gs_run(be, &s, res[v]);
        quanta_backend_close(be); /* writes the events table */
        unsetenv("QUANTA_OPENCL_ALLOC_FILL");
    }
    unsetenv("QUANTA_OPENCL_XQ_NORM");
    char what[96];
    snprintf(what, sizeof what, "%s, XQ_NORM=%d against the GEMVs quantizing x themselves", dt == QUANTA_Q4 ? "q4" : "q8", mode);
    qt_gs_same(&s, res[0], res[1], what);
    qt_gs_near_ref(&s, res[2], res[1], what);
    const char *norm = dt == QUANTA_Q4 ? "norm + x int8 (q4)" : "norm + x int8 (q8)";
    ck_assert_msg(qt_file_has(ev[1], norm), "the norm with the int8 form is not in %s", ev[1]);
    ck_assert_msg(!qt_file_has(ev[0], "x int8"), "a launch with the int8 form ran with the switch off (%s)", ev[0]);
    if (dt == QUANTA_Q4) { /* q, v and o: 2 rows a warp; the logits and gate/up: RW=auto's picks (either form) */
        ck_assert_msg(qt_file_has(ev[1], "glu + x int8 (q4)"), "the glu with the int8 form is not in %s", ev[1]);
        ck_assert_msg(qt_file_has(ev[1], "(gemv q4 i2sg)") || qt_file_has(ev[1], "(gemv q4 isg)"),
                      "no q4 XG GEMV in %s", ev[1]);
        ck_assert_msg(!qt_file_has(ev[1], "(gemv q4 xg)"), "x quantized by a launch of its own in %s", ev[1]);
        ck_assert_msg(!qt_file_has(ev[0], "sg)"), "an XG GEMV ran with the switch off (%s)", ev[0]);
    } else {
        ck_assert_msg(qt_file_has(ev[1], "matmul_multi (gemv q8 ipg)") || qt_file_has(ev[1], "matmul_multi (gemv q8 i2usg)"),
                      "no q8 XG q/k/v GEMV in %s", ev[1]);
        ck_assert_msg(!qt_file_has(ev[1], "(gemv q8 xg)"), "x quantized by a launch of its own in %s", ev[1]);
        ck_assert_msg(!qt_file_has(ev[0], "pg)") && !qt_file_has(ev[0], "usg)"), "an XG GEMV ran with the switch off (%s)", ev[0]);
        if (mode == 2) /* q/k/v and the logits: the int8 form in place of the norm's fusion (GEMV1 on) */
            ck_assert_msg(!qt_file_has(ev[1], "norm + matmul_multi") && !qt_file_has(ev[1], "norm + matmul (gemv"),
                          "a norm fused into a GEMV that takes the int8 form under XQ_NORM=2 (%s)", ev[1]);
    }
    if (!getenv("KEEPEV"))
        for (int v = 0; v < 2; v++) remove(ev[v]);
    for (int v = 0; v < 3; v++)
        for (int rep = 0; rep < 2; rep++)
            for (int j = 0; j < s.nout; j++) free(res[v][rep][j]);
    for (int i = 0; i < nkeep; i++) free(keep[i]);
    quanta_graph_destroy(s.g);
}

START_TEST(test_xq_norm_q4) { check(QUANTA_Q4, 1); }
END_TEST

START_TEST(test_xq_norm_q8) {
    /* q8's int8 forms at these sizes, 4 rows a warp with the first step preloaded (_ip, which has an XG form) on any
     * device: RW=auto would pick 2 rows a warp below 4 · 8 rows a compute unit (NVIDIA's 132: _i2, no XG form) */
    setenv("QUANTA_OPENCL_Q8I", "1", 1);
    setenv("QUANTA_OPENCL_GEMVS_PF", "1", 1);
    setenv("QUANTA_OPENCL_GEMV1", "0", 1);
    check(QUANTA_Q8, 1);
    unsetenv("QUANTA_OPENCL_GEMV1");
    check(QUANTA_Q8, 2); /* in place of the norm's fusion (float products): against every norm apart */
    unsetenv("QUANTA_OPENCL_Q8I");
    unsetenv("QUANTA_OPENCL_GEMVS_PF");
}
END_TEST

int main(void) {
    const TTest *const tests[] = {test_xq_norm_q4, test_xq_norm_q8};
    return qt_cl_gpu_main("opencl_xq_norm", tests, (int)(sizeof tests / sizeof tests[0]));
}
