/*
 * test_opencl_gemv_int.c — the GEMVs through integer dot products on the GPU class: q4 (the default; QUANTA_OPENCL_Q4I=0
 * turns it off; kernels_cl/gemv_gpu.cl qn_gemv_q4_i*: x quantized in the work-group to two int8 planes a 32-column chunk) and q8
 * (QUANTA_OPENCL_Q8I=1, qn_gemv_q8_i*: two planes a 16-column piece).
 *
 * One x row against q4 weights (groups 32 / 64 / 128) or q8 weights, random from the printed seed; K with whole
 * steps and a tail, and K = 96: every chunk in the tail step. x has a chunk of zeros (its scale 0: the kernel must
 * not divide by it), a chunk with one value ~50x the others (its small values keep ~8 bits of the remainder plane),
 * and normal values. Each kernel form (q4: 4 or 2 rows a warp, each with or without the first step loaded before x
 * is quantized; q8: 4 rows, 2 rows, 2 rows with 8 pieces in flight, the first and last also with the first step
 * loaded first) must be within 2e-4 of the output's largest magnitude of the reference backend (the x rounding's
 * error is ~1e-5 of it; a dropped plane or zero-point term ~1e-3 or more), the forms of a format must agree bit for
 * bit (the same sums in the same order), and the events table must list the kernel meant, so the test fails if a
 * route silently stops being taken.
 * Exits 77 (SKIP) without an OpenCL device.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl_test.h"
#include "qt_check.h"
#include "qt_plan_run.h"
#include "qt_tensor.h"
#include "test_util.h"

#define NSET 17

/* y = x·W^T on backend `name` with the env settings in set (NULL-terminated name=value pairs), into y */
static void run(const char *name, const char *const *set, const char *events, quanta_graph *g, quanta_tensor *xt,
                quanta_tensor *yt, const float *x, int64_t K, float *y, int64_t N) {
    for (int i = 0; set && set[i]; i += 2) setenv(set[i], set[i + 1], 1);
    if (events) setenv("QUANTA_OPENCL_EVENTS", events, 1);
    quanta_backend *be;
    ck_assert_msg(quanta_backend_open(name, &be) == QUANTA_OK, "%s", quanta_last_error());
    unsetenv("QUANTA_OPENCL_EVENTS");
    quanta_plan *plan;
    ck_assert_msg(quanta_plan_create(g, be, &plan) == QUANTA_OK, "%s", quanta_last_error());
    const qt_in in = {xt, x, (size_t)K * sizeof(float)};
    const qt_out out = {yt, y, (size_t)N};
    qt_plan_run(plan, 1, &in, 1, &out);
    quanta_plan_destroy(plan);
    quanta_backend_close(be); /* writes the events table */
    for (int i = 0; set && set[i]; i += 2) unsetenv(set[i]);
}

static void check(quanta_dtype dt, int64_t N, int64_t K, int group, uint64_t salt) {
    qt_rng r = qt_rng_make(salt);
    float *wf = malloc((size_t)(N * K) * sizeof *wf), *x = malloc((size_t)K * sizeof *x);
    ck_assert_ptr_nonnull(wf);
    ck_assert_ptr_nonnull(x);
    qt_fill_normal(&r, wf, (size_t)(N * K), 0.05f);
    qt_fill_normal(&r, x, (size_t)K, 1.0f);
    if (K >= 96) {
        for (int i = 0; i < 32; i++) x[i] = 0.0f; /* chunk 0: all zero */
        x[32 + 5] = 50.0f;                          /* chunk 1: one outlier */
    }
    quanta_tensor_desc wd = {dt, 2, {N, K}, dt == QUANTA_Q4 ? group : 0, 0};
    size_t wb;
    ck_assert_int_eq(quanta_tensor_bytes(&wd, &wb), QUANTA_OK);
    void *wq = malloc(wb);
    ck_assert_ptr_nonnull(wq);
    ck_assert_int_eq(quanta_quantize(&wd, wf, wq, wb), QUANTA_OK);
    quanta_graph *g;
    quanta_tensor *xt, *wt, *yt;
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    quanta_tensor_desc dx = qt_desc(QUANTA_F32, 2, 1, K, 0, 0);
    ck_assert_int_eq(quanta_graph_input(g, "x", &dx, &xt), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_constant(g, "w", &wd, wq, wb, &wt), QUANTA_OK);
    ck_assert_int_eq(quanta_matmul(g, xt, wt, &yt), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(g, yt), QUANTA_OK);

    float *ref = malloc((size_t)N * sizeof *ref), *y[NSET];
    ck_assert_ptr_nonnull(ref);
    /* x reaches the int8 kernels as two int8 planes per 16- or 32-column piece (~15 bits of the piece's largest |x|):
     * row n's error is at most sum_k |w_nk| * max|x| of k's 32 columns * 2^-15 (the outlier of chunk 1 makes that
     * term, not |y|, the scale), on top of the f32 sums' 2e-4 of max |ref| */
    double *xerr = malloc((size_t)N * sizeof *xerr);
    float *wdq = malloc((size_t)(N * K) * sizeof *wdq);
    ck_assert_ptr_nonnull(xerr);
    ck_assert_ptr_nonnull(wdq);
    ck_assert_int_eq(quanta_dequantize(&wd, wq, wb, wdq, (size_t)(N * K)), QUANTA_OK);
    for (int64_t n = 0; n < N; n++) {
        double e = 0;
        for (int64_t c = 0; c < K; c += 32) {
            double cm = 0, sw = 0;
            for (int64_t k = c; k < c + 32 && k < K; k++) cm = fmax(cm, fabs(x[k])), sw += fabs(wdq[n * K + k]);
            e += cm * sw;
        }
        xerr[n] = e * 0x1p-15;
    }
    free(wdq);
    run("ref", NULL, NULL, g, xt, yt, x, K, ref, N);
    double big = 0;
    for (int64_t i = 0; i < N; i++) big = fmax(big, fabs(ref[i]));
    ck_assert_msg(big > 0, "the reference output is all zero");
    /* q4: 4 rows a warp (qn_gemv_q4_i), 2 (_i2), each with the preloaded first step (_ip, _i2p; 3 warps a group
     * walking several blocks); q8: 4 rows (qn_gemv_q8_i), 2 (_i2, 3 warps a group, several blocks), 2 with 8 pieces
     * in flight (_i2u, K >= 4096 only), _i and _i2u with the preloaded first step (_ip, _i2up); x quantized QN_I_XB
     * pieces an item at once (GEMVS_XB=1) in q4's setting 2 and q8's 1 and 5; the streaming forms (GEMVS_PF=2: q4
     * _is / _i2s, q8 _is / _i2us, clgemv20), _is with x quantized in one trip (GEMVS_XB=2, clgemv21: with 96 items, K =
     * 11008 is rounds of 3, 3, 2 q8 pieces and 2, 2 q4 chunks an item, some past the end into the spare slot); the
     * 16-warp streaming forms (GEMVS_W16=1: q4 / q8 _i2s16, clgemv21); q4's register-lean streaming forms (GEMVS_Q4L=1:
     * _il / _i2l, clgemv22) and q8's (GEMVS_Q8L=1 / 4 / 6: _i2ul / _i2l / _i2l6, clgemv22); x quantized once for all groups
     * by a launch of its own (GEMVS_XG=1, clgemv23: q4 _isg / _i2sg, q8 _i2usg / _ipg); one row a warp, the whole row one
     * step (GEMVS_R1=1, clgemv23: q4 / q8 _r1s, with XG _r1sg, R1=2 the lean walk _r1l; K = 11008 only) */
    static const char *const sets[2][NSET][17] = {
        {{"QUANTA_OPENCL_GEMVS_RW", "4", "QUANTA_OPENCL_GEMVS_PF", "0", NULL},
         {"QUANTA_OPENCL_GEMVS_RW", "2", "QUANTA_OPENCL_GEMVS_PF", "0", NULL},
         {"QUANTA_OPENCL_GEMVS_RW", "4", "QUANTA_OPENCL_GEMVS_PF", "1", "QUANTA_OPENCL_GEMVS_SETS", "3",
          "QUANTA_OPENCL_GEMVS_GPC", "1", "QUANTA_OPENCL_GEMVS_XB", "1", NULL}, /* x quantized 2 chunks an item at once */
         {"QUANTA_OPENCL_GEMVS_RW", "2", "QUANTA_OPENCL_GEMVS_PF", "1", NULL}, /* 2 rows with the preloaded step */
         {NULL}, /* the default: the streaming forms, the rows a warp by shape (RW=auto: is or i2s here, by the compute units) */
         /* the streaming forms (_is, _i2s: GEMVS_PF=2, clgemv20), 3 warps a group walking several blocks, each block's
          * first step loaded during the block before */
         {"QUANTA_OPENCL_GEMVS_RW", "4", "QUANTA_OPENCL_GEMVS_PF", "2", "QUANTA_OPENCL_GEMVS_SETS", "3",
          "QUANTA_OPENCL_GEMVS_GPC", "1", "QUANTA_OPENCL_GEMVS_XB", "2", NULL}, /* x quantized in one trip (clgemv21) */
         {"QUANTA_OPENCL_GEMVS_RW", "2", "QUANTA_OPENCL_GEMVS_PF", "2", "QUANTA_OPENCL_GEMVS_SETS", "3",
          "QUANTA_OPENCL_GEMVS_GPC", "1", NULL},
         /* the 16-warp streaming form (_i2s16: GEMVS_W16=1, clgemv21), with x in one trip */
         {"QUANTA_OPENCL_GEMVS_RW", "2", "QUANTA_OPENCL_GEMVS_PF", "2", "QUANTA_OPENCL_GEMVS_W16", "1", "QUANTA_OPENCL_GEMVS_XB",
          "2", NULL},
         /* the register-lean streaming forms (GEMVS_Q4L=1, clgemv22: _il with 3 warps a group walking several blocks,
          * each block's first step loaded during the block before's last; _i2l with the host's groups) */
         {"QUANTA_OPENCL_GEMVS_RW", "4", "QUANTA_OPENCL_GEMVS_Q4L", "1", "QUANTA_OPENCL_GEMVS_SETS", "3",
          "QUANTA_OPENCL_GEMVS_GPC", "1", NULL},
         {"QUANTA_OPENCL_GEMVS_RW", "2", "QUANTA_OPENCL_GEMVS_Q4L", "1", NULL},
         /* x quantized once for all groups by a launch before (GEMVS_XG=1, clgemv23: _isg with 3 warps a group walking
          * several blocks, _i2sg with the host's groups), the planes read from global memory */
         {"QUANTA_OPENCL_GEMVS_RW", "4", "QUANTA_OPENCL_GEMVS_XG", "1", "QUANTA_OPENCL_GEMVS_SETS", "3",
          "QUANTA_OPENCL_GEMVS_GPC", "1", NULL},
         {"QUANTA_OPENCL_GEMVS_RW", "2", "QUANTA_OPENCL_GEMVS_XG", "1", NULL},
         /* one row a warp, the whole row one step (GEMVS_R1=1, clgemv23; 8192 < K <= 11264 only): 3 warps a group
          * walking several rows, and with XG, the host's groups */
         {"QUANTA_OPENCL_GEMVS_RW", "2", "QUANTA_OPENCL_GEMVS_R1", "1", "QUANTA_OPENCL_GEMVS_SETS", "3",
          "QUANTA_OPENCL_GEMVS_GPC", "1", NULL},
         {"QUANTA_OPENCL_GEMVS_RW", "2", "QUANTA_OPENCL_GEMVS_R1", "1", "QUANTA_OPENCL_GEMVS_XG", "1", NULL},
         {"QUANTA_OPENCL_GEMVS_RW", "2", "QUANTA_OPENCL_GEMVS_R1", "2", NULL}}, /* and in the lean ring walk (_r1l) */
        {{"QUANTA_OPENCL_Q8I", "1", NULL},
         {"QUANTA_OPENCL_Q8I", "1", "QUANTA_OPENCL_GEMVS_RW", "2", "QUANTA_OPENCL_GEMVS_SETS", "3",
          "QUANTA_OPENCL_GEMVS_GPC", "1", "QUANTA_OPENCL_GEMVS_XB", "1", NULL},
         /* 4 rows with the first step loaded before x is quantized (_ip, clgemv19), 3 warps a group, several blocks */
         {"QUANTA_OPENCL_Q8I", "1", "QUANTA_OPENCL_GEMVS_PF", "1", "QUANTA_OPENCL_GEMVS_SETS", "3", "QUANTA_OPENCL_GEMVS_GPC",
          "1", NULL},
         /* the streaming 4-row form (_is, GEMVS_PF=2, clgemv20), 3 warps a group, several blocks */
         {"QUANTA_OPENCL_Q8I", "1", "QUANTA_OPENCL_GEMVS_PF", "2", "QUANTA_OPENCL_GEMVS_SETS", "3", "QUANTA_OPENCL_GEMVS_GPC",
          "1", "QUANTA_OPENCL_GEMVS_XB", "2", NULL}, /* x quantized in one trip (clgemv21) */
         {"QUANTA_OPENCL_Q8I", "1", "QUANTA_OPENCL_GEMVS_RW", "2", "QUANTA_OPENCL_GEMVS_U", "8", NULL},
         /* and with its first step loaded before x is quantized (_i2up, clgemv19), 3 warps a group, several blocks */
         {"QUANTA_OPENCL_Q8I", "1", "QUANTA_OPENCL_GEMVS_RW", "2", "QUANTA_OPENCL_GEMVS_U", "8", "QUANTA_OPENCL_GEMVS_PF",
          "1", "QUANTA_OPENCL_GEMVS_SETS", "3", "QUANTA_OPENCL_GEMVS_GPC", "1", "QUANTA_OPENCL_GEMVS_XB", "1", NULL},
         /* and its streaming form (_i2us, GEMVS_PF=2, clgemv20), x staged the older way (XB=0: q8's streaming forms
          * quantize x in one trip by default since lead21, which the default setting covers) */
         {"QUANTA_OPENCL_Q8I", "1", "QUANTA_OPENCL_GEMVS_RW", "2", "QUANTA_OPENCL_GEMVS_U", "8", "QUANTA_OPENCL_GEMVS_PF",
          "2", "QUANTA_OPENCL_GEMVS_SETS", "3", "QUANTA_OPENCL_GEMVS_GPC", "1", "QUANTA_OPENCL_GEMVS_XB", "0",
          "QUANTA_OPENCL_GEMVS_P2", "0", NULL}, /* P2=0: _i2us itself, not the default's _i2us2 */
         /* the 16-warp streaming form (_i2s16: GEMVS_W16=1, clgemv21; U = 4), the host's groups (1 a compute unit) */
         {"QUANTA_OPENCL_Q8I", "1", "QUANTA_OPENCL_GEMVS_RW", "2", "QUANTA_OPENCL_GEMVS_U", "8", "QUANTA_OPENCL_GEMVS_PF",
          "2", "QUANTA_OPENCL_GEMVS_W16", "1", NULL},
         /* the register-lean streaming form (_i2ul: GEMVS_Q8L=1, clgemv22), 3 warps a group, several blocks */
         {"QUANTA_OPENCL_Q8I", "1", "QUANTA_OPENCL_GEMVS_RW", "2", "QUANTA_OPENCL_GEMVS_U", "8", "QUANTA_OPENCL_GEMVS_PF",
          "2", "QUANTA_OPENCL_GEMVS_Q8L", "1", "QUANTA_OPENCL_GEMVS_SETS", "3", "QUANTA_OPENCL_GEMVS_GPC", "1", NULL},
         /* and at U = 4 (_i2l: GEMVS_Q8L=4), the host's groups, and U = 6 (_i2l6: GEMVS_Q8L=6), several blocks */
         {"QUANTA_OPENCL_Q8I", "1", "QUANTA_OPENCL_GEMVS_RW", "2", "QUANTA_OPENCL_GEMVS_U", "8", "QUANTA_OPENCL_GEMVS_PF",
          "2", "QUANTA_OPENCL_GEMVS_Q8L", "4", NULL},
         {"QUANTA_OPENCL_Q8I", "1", "QUANTA_OPENCL_GEMVS_RW", "2", "QUANTA_OPENCL_GEMVS_U", "8", "QUANTA_OPENCL_GEMVS_PF",
          "2", "QUANTA_OPENCL_GEMVS_Q8L", "6", "QUANTA_OPENCL_GEMVS_SETS", "3", "QUANTA_OPENCL_GEMVS_GPC", "1", NULL},
         /* x quantized once for all groups (GEMVS_XG=1, clgemv23): the streaming 2-row U=8 form (_i2usg), 3 warps a
          * group walking several blocks, and the 4-row preloaded form (_ipg), the host's groups */
         {"QUANTA_OPENCL_Q8I", "1", "QUANTA_OPENCL_GEMVS_RW", "2", "QUANTA_OPENCL_GEMVS_U", "8", "QUANTA_OPENCL_GEMVS_PF",
          "2", "QUANTA_OPENCL_GEMVS_XG", "1", "QUANTA_OPENCL_GEMVS_SETS", "3", "QUANTA_OPENCL_GEMVS_GPC", "1", NULL},
         {"QUANTA_OPENCL_Q8I", "1", "QUANTA_OPENCL_GEMVS_PF", "1", "QUANTA_OPENCL_GEMVS_XG", "1", NULL},
         /* _i2us with block 0's first two steps issued before x is quantized (GEMVS_P2=1: _i2us2, clgemv23), 3 warps a
          * group walking several blocks */
         {"QUANTA_OPENCL_Q8I", "1", "QUANTA_OPENCL_GEMVS_RW", "2", "QUANTA_OPENCL_GEMVS_U", "8", "QUANTA_OPENCL_GEMVS_PF",
          "2", "QUANTA_OPENCL_GEMVS_P2", "1", "QUANTA_OPENCL_GEMVS_SETS", "3", "QUANTA_OPENCL_GEMVS_GPC", "1", NULL},
         /* one row a warp, the whole row one step (GEMVS_R1=1: _r1s, 3 warps a group; with XG: _r1sg), K = 11008 only */
         {"QUANTA_OPENCL_Q8I", "1", "QUANTA_OPENCL_GEMVS_RW", "2", "QUANTA_OPENCL_GEMVS_U", "8", "QUANTA_OPENCL_GEMVS_PF",
          "2", "QUANTA_OPENCL_GEMVS_R1", "1", "QUANTA_OPENCL_GEMVS_SETS", "3", "QUANTA_OPENCL_GEMVS_GPC", "1", NULL},
         {"QUANTA_OPENCL_Q8I", "1", "QUANTA_OPENCL_GEMVS_RW", "2", "QUANTA_OPENCL_GEMVS_U", "8", "QUANTA_OPENCL_GEMVS_PF",
          "2", "QUANTA_OPENCL_GEMVS_R1", "1", "QUANTA_OPENCL_GEMVS_XG", "1", NULL},
         {"QUANTA_OPENCL_Q8I", "1", "QUANTA_OPENCL_GEMVS_RW", "2", "QUANTA_OPENCL_GEMVS_U", "8", "QUANTA_OPENCL_GEMVS_PF",
          "2", "QUANTA_OPENCL_GEMVS_R1", "2", "QUANTA_OPENCL_GEMVS_SETS", "3", "QUANTA_OPENCL_GEMVS_GPC", "1", NULL}}};
    static const char *const knames[2][NSET] = {
        {"gemv q4 i)", "gemv q4 i2)", "gemv q4 ip)", "gemv q4 i2p)", "gemv q4 i", "gemv q4 is)", "gemv q4 i2s)", "gemv q4 i2s16)",
         "gemv q4 il)", "gemv q4 i2l)", "gemv q4 isg)", "gemv q4 i2sg)", "gemv q4 r1s)", "gemv q4 r1sg)", "gemv q4 r1l)"},
        {"gemv q8 i)", "gemv q8 i2)", "gemv q8 ip)", "gemv q8 is)", "gemv q8 i2u)", "gemv q8 i2up)", "gemv q8 i2us)",
         "gemv q8 i2s16)", "gemv q8 i2ul)", "gemv q8 i2l)", "gemv q8 i2l6)", "gemv q8 i2usg)", "gemv q8 ipg)", "gemv q8 i2us2)", "gemv q8 r1s)", "gemv q8 r1sg)", "gemv q8 r1l)"}};
    const int q8 = dt == QUANTA_Q8;
    /* U=8 (and so its PF forms, W16's, Q8L's and XG's q8 routes) only at K >= 4096, R1 only at 8192 < K <= 11264 */
    const int r1 = K > 8192 && K <= 11264 ? 3 : 0;
    const int nset = q8 ? (K >= 4096 ? 14 + r1 : 4) : 12 + r1;
    const char *const *kname = knames[q8];
    for (int v = 0; v < nset; v++) {
        char events[128];
        snprintf(events, sizeof events, "test_opencl_gemv_int_events_%llu_%d.txt", (unsigned long long)salt, v);
        remove(events);
        ck_assert_ptr_nonnull(y[v] = malloc((size_t)N * sizeof(float)));
        run("opencl", sets[q8][v], events, g, xt, yt, x, K, y[v], N);
        ck_assert_msg(qt_file_has(events, kname[v]), "%lldx%lld g%d setting %d: no \"%s\" launch in %s", (long long)N,
                      (long long)K, group, v, kname[v], events);
        remove(events);
        for (int64_t i = 0; i < N; i++)
            QT_CHECK(fabs(y[v][i] - ref[i]) <= 2e-4 * big + xerr[i], "%lldx%lld g%d setting %d: y[%lld] = %g, ref %g (max |ref| %g)",
                     (long long)N, (long long)K, group, v, (long long)i, (double)y[v][i], (double)ref[i], big);
        if (v)
            ck_assert_msg(!memcmp(y[0], y[v], (size_t)N * sizeof(float)), "%lldx%lld g%d: setting %d differs from setting 0",
                          (long long)N, (long long)K, group, v);
    }
    for (int v = 0; v < nset; v++) free(y[v]);
    free(ref), free(xerr);
    quanta_graph_destroy(g);
    free(wq);
    free(x);
    free(wf);
}

START_TEST(test_q4i_4096) { check(QUANTA_Q4, 100, 4096, 64, 1); }
END_TEST

START_TEST(test_q4i_tail) {
    check(QUANTA_Q4, 37, 11008, 128, 2); /* 344 chunks: whole steps and a tail of 24 chunks */
    check(QUANTA_Q4, 67, 1056, 32, 3);   /* 33 chunks: a tail of one */
    check(QUANTA_Q4, 5, 96, 32, 4);      /* 3 chunks: no whole step */
}
END_TEST

START_TEST(test_q8i) {
    check(QUANTA_Q8, 100, 4096, 0, 5);  /* 256 pieces: whole steps of 2, 4 and 8 */
    check(QUANTA_Q8, 37, 11008, 0, 6);  /* 688 pieces: a tail */
    check(QUANTA_Q8, 5, 96, 0, 7);      /* 6 pieces: no whole step */
}
END_TEST

int main(void) {
    const TTest *const tests[] = {test_q4i_4096, test_q4i_tail, test_q8i};
    return qt_cl_gpu_main("opencl_gemv_int", tests, (int)(sizeof tests / sizeof tests[0]));
}
