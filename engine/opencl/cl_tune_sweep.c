/*
 * cl_tune_sweep.c — `quanta tune --backend opencl`: for every entry of the tuning table, run a
 * representative product with each candidate configuration, keep the fastest, and store the
 * table next to the program cache (cl_tune.c). Timings are plan executes (launch + finish),
 * best of a few after one warm-up run that also compiles the kernel.
 *
 * Shapes (quick: smaller, for CI smoke runs):
 *   gemv.<fmt>         M = 1, N = K = 4096 (quick 1024); candidates: one item per row with 4/16/64
 *                      rows per group, and 16..256 items per row x 1..8 rows within the device's
 *                      work-group limit
 *   gemm.<fmt>.<cls>   M = 32 / 256 / 1024 for m64 / m512 / mbig, N = K = 1024 (quick 512; mbig
 *                      skipped and left at its default); candidates int8 (q8 only), rows, local,
 *                      blas (where built in)
 *   attention.<phase>  8 query heads on 2 KV heads of 64; prefill 256 x 256 causal, decode 1 x 2048
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl_internal.h"
#include "clock.h"

/* One graph, plan and inputs to time. */
typedef struct bench_case {
    quanta_graph *g;
    quanta_plan *p;
} bench_case;

static void case_free(bench_case *c) {
    quanta_plan_destroy(c->p);
    quanta_graph_destroy(c->g);
    c->p = NULL;
    c->g = NULL;
}

static float *random_floats(size_t n, unsigned seed) {
    float *v = malloc(n * sizeof *v);
    if (!v) return NULL;
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        v[i] = (float)(seed >> 8) / 16777216.0f - 0.5f;
    }
    return v;
}

static quanta_status matmul_case(quanta_backend *be, quanta_dtype wt, int64_t M, int64_t N, int64_t K, bench_case *c) {
    memset(c, 0, sizeof *c);
    quanta_tensor_desc xd = {QUANTA_F32, 2, {M, K, 0, 0}, 0, 0};
    quanta_tensor_desc wd = {wt, 2, {N, K, 0, 0}, wt == QUANTA_Q4 ? 64 : 0, 0};
    size_t wb = 0;
    quanta_status st = quanta_tensor_bytes(&wd, &wb);
    float *wf = st == QUANTA_OK ? random_floats((size_t)(N * K), 7u) : NULL;
    float *xf = st == QUANTA_OK ? random_floats((size_t)(M * K), 11u) : NULL;
    void *wq = st == QUANTA_OK ? malloc(wb) : NULL;
    quanta_tensor *x, *w, *y;
    if (st == QUANTA_OK && (!wf || !xf || !wq))
        st = qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "opencl tune: out of host memory");
    if (st == QUANTA_OK) st = quanta_quantize(&wd, wf, wq, wb);
    if (st == QUANTA_OK) st = quanta_graph_create(&c->g);
    if (st == QUANTA_OK) st = quanta_graph_input(c->g, "x", &xd, &x);
    if (st == QUANTA_OK) st = quanta_graph_constant(c->g, "w", &wd, wq, wb, &w);
    if (st == QUANTA_OK) st = quanta_matmul(c->g, x, w, &y);
    if (st == QUANTA_OK) st = quanta_graph_output(c->g, y);
    if (st == QUANTA_OK) st = quanta_plan_create(c->g, be, &c->p);
    if (st == QUANTA_OK) st = quanta_plan_set_input(c->p, x, xf, (size_t)(M * K) * sizeof(float));
    free(wf);
    free(xf);
    free(wq);
    if (st != QUANTA_OK) case_free(c);
    return st;
}

static quanta_status attention_case(quanta_backend *be, int64_t Nq, int64_t Nk, bench_case *c) {
    memset(c, 0, sizeof *c);
    const int64_t Hq = 8, Hkv = 2, D = 64;
    quanta_tensor_desc qd = {QUANTA_F32, 4, {1, Hq, Nq, D}, 0, 0}, kd = {QUANTA_F32, 4, {1, Hkv, Nk, D}, 0, 0};
    quanta_attention_params ap = {0.0f, 1, 0};
    quanta_tensor *q, *k, *v, *o;
    float *qf = random_floats((size_t)(Hq * Nq * D), 3u), *kf = random_floats((size_t)(Hkv * Nk * D), 5u);
    quanta_status st = qf && kf ? QUANTA_OK : qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "opencl tune: out of host memory");
    if (st == QUANTA_OK) st = quanta_graph_create(&c->g);
    if (st == QUANTA_OK) st = quanta_graph_input(c->g, "q", &qd, &q);
    if (st == QUANTA_OK) st = quanta_graph_input(c->g, "k", &kd, &k);
    if (st == QUANTA_OK) st = quanta_graph_input(c->g, "v", &kd, &v);
    if (st == QUANTA_OK) st = quanta_attention(c->g, q, k, v, NULL, NULL, &ap, &o);
    if (st == QUANTA_OK) st = quanta_graph_output(c->g, o);
    if (st == QUANTA_OK) st = quanta_plan_create(c->g, be, &c->p);
    if (st == QUANTA_OK) st = quanta_plan_set_input(c->p, q, qf, (size_t)(Hq * Nq * D) * sizeof(float));
    if (st == QUANTA_OK) st = quanta_plan_set_input(c->p, k, kf, (size_t)(Hkv * Nk * D) * sizeof(float));
    if (st == QUANTA_OK) st = quanta_plan_set_input(c->p, v, kf, (size_t)(Hkv * Nk * D) * sizeof(float));
    free(qf);
    free(kf);
    if (st != QUANTA_OK) case_free(c);
    return st;
}

/* Seconds per execute of the case with the current table: best of reps after a warm-up. */
static quanta_status time_case(const bench_case *c, int reps, double *best) {
    quanta_status st = quanta_plan_execute(c->p);
    *best = INFINITY;
    for (int r = 0; st == QUANTA_OK && r < reps; r++) {
        double t0 = qn_now_s();
        st = quanta_plan_execute(c->p);
        double dt = qn_now_s() - t0;
        if (dt < *best) *best = dt;
    }
    return st;
}

/* Tries each candidate (a[i], b[i]) for entry `e` on case c and keeps the fastest. */
static quanta_status sweep_entry(qn_cl *s, int e, const bench_case *c, const int *a, const int *b, int n, int reps,
                                 char *report, size_t len) {
    qn_cl_tune_entry keep = s->tune.e[e];
    double best = INFINITY, t;
    int bi = -1;
    for (int i = 0; i < n; i++) {
        s->tune.e[e] = (qn_cl_tune_entry){a[i], b[i], 1};
        quanta_status st = time_case(c, reps, &t);
        if (st == QUANTA_OK && t < best) best = t, bi = i;
    }
    char name[48], line[160];
    if (bi < 0) {
        s->tune.e[e] = keep; /* nothing ran: keep what was there */
        snprintf(line, sizeof line, "%-22s no candidate ran; kept %d %d\n", qn_cl_tune_name(e, name, sizeof name),
                 keep.a, keep.b);
    } else {
        s->tune.e[e] = (qn_cl_tune_entry){a[bi], b[bi], 1};
        char what[32];
        static const char *const paths[QN_GEMM_PATHS] = {"int8", "rows", "local", "blas"};
        if (e < QN_TF_COUNT && a[bi] == 0) snprintf(what, sizeof what, "int8 x %d", b[bi]);
        else if (e < QN_TF_COUNT) snprintf(what, sizeof what, "%d x %d", a[bi], b[bi]);
        else if (e < qn_cl_tune_attention_entry(0)) snprintf(what, sizeof what, "%s", paths[a[bi]]);
        else snprintf(what, sizeof what, "%s", a[bi] ? "rows" : "local");
        snprintf(line, sizeof line, "%-20s %-8s %9.3f ms  (best of %d candidates)\n",
                 qn_cl_tune_name(e, name, sizeof name), what, best * 1e3, n);
    }
    size_t used = strlen(report);
    if (used + 1 < len) snprintf(report + used, len - used, "%s", line);
    return QUANTA_OK;
}

quanta_status qn_cl_tune_sweep(qn_cl *s, quanta_backend *be, int quick, char *report, size_t len) {
    if (!report || len == 0) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "opencl tune: report is NULL");
    report[0] = '\0';
    /* the sweep sets entries itself: environment overrides would hide the candidates */
    const int fp = s->force_path, fa = s->force_attention, fl = s->force_gemv_lws, fr = s->force_gemv_rows;
    s->force_path = s->force_attention = -1;
    s->force_gemv_lws = s->force_gemv_rows = 0;
    static const quanta_dtype fam_dtype[QN_TF_COUNT] = {QUANTA_Q8, QUANTA_Q4, QUANTA_NF4, QUANTA_FP8_E4M3, QUANTA_F16};
    const int reps = quick ? 2 : 4;
    quanta_status st = QUANTA_OK;

    /* GEMV work-group shapes */
    int ga[64], gb[64], gn = 0;
    static const int cpu_rows[] = {4, 16, 64};
    for (int i = 0; i < 3; i++) ga[gn] = 1, gb[gn++] = cpu_rows[i];
    for (int l = 16; l <= 256; l *= 2)
        for (int r = 1; r <= 8; r *= 2)
            if ((size_t)(l * r) <= s->dev.max_wg && (size_t)(l * r) <= 1024) ga[gn] = l, gb[gn++] = r;
    const int64_t gk = quick ? 1024 : 4096;
    const int gn_plain = gn;
    for (int i = 0; i < 3; i++) ga[gn] = 0, gb[gn++] = cpu_rows[i]; /* q8 only: the int8 kernel */
    for (int f = 0; f < QN_TF_COUNT && st == QUANTA_OK; f++) {
        bench_case c;
        st = matmul_case(be, fam_dtype[f], 1, gk, gk, &c);
        if (st == QUANTA_OK)
            st = sweep_entry(s, qn_cl_tune_gemv_entry(f), &c, ga, gb, f == QN_TF_Q8 ? gn : gn_plain, reps, report, len);
        case_free(&c);
    }

    /* M > 8 paths */
    static const int64_t class_m[QN_TM_COUNT] = {32, 256, 1024};
    const int64_t nk = quick ? 512 : 1024;
    for (int f = 0; f < QN_TF_COUNT && st == QUANTA_OK; f++) {
        int pa[QN_GEMM_PATHS], pb[QN_GEMM_PATHS] = {0}, pn = 0;
        if (f == QN_TF_Q8) pa[pn++] = QN_GEMM_INT8;
        pa[pn++] = QN_GEMM_ROWS;
        if (s->dev.max_wg >= 256) pa[pn++] = QN_GEMM_LOCAL;
        if (s->have_blas) pa[pn++] = QN_GEMM_BLAS;
        for (int mc = 0; mc < QN_TM_COUNT && st == QUANTA_OK; mc++) {
            if (quick && mc == QN_TM_BIG) continue;
            bench_case c;
            st = matmul_case(be, fam_dtype[f], class_m[mc], nk, nk, &c);
            if (st == QUANTA_OK) st = sweep_entry(s, qn_cl_tune_gemm_entry(f, mc), &c, pa, pb, pn, reps, report, len);
            case_free(&c);
        }
    }

    /* attention kernels */
    static const int va[2] = {1, 0}, vb[2] = {0, 0};
    for (int d = 0; d < 2 && st == QUANTA_OK; d++) {
        bench_case c;
        st = d ? attention_case(be, 1, quick ? 512 : 2048, &c) : attention_case(be, quick ? 128 : 256, quick ? 128 : 256, &c);
        if (st == QUANTA_OK) st = sweep_entry(s, qn_cl_tune_attention_entry(d), &c, va, vb, 2, reps, report, len);
        case_free(&c);
    }

    s->force_path = fp;
    s->force_attention = fa;
    s->force_gemv_lws = fl;
    s->force_gemv_rows = fr;
    if (st != QUANTA_OK) return st;
    char path[1024];
    if (qn_cl_tune_path(&s->dev, path, sizeof path) != QUANTA_OK || qn_cl_tune_save(s) != 0)
        return qn_error_set(QUANTA_ERR_IO, "opencl tune: could not write the tuning table (cache directory: "
                                           "QUANTA_CACHE_DIR, XDG_CACHE_HOME or HOME)");
    size_t used = strlen(report);
    if (used + 1 < len) snprintf(report + used, len - used, "table: %s\n", path);
    return QUANTA_OK;
}
