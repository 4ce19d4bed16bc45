/*
 * bench_run.c — the measurements of `quanta bench` (see bench.h). Everything goes through
 * the public API (graphs, plans, buffers) except the device's copy bandwidth and the peer
 * GEMM, which come from the backend's optional vtable hooks; a backend without them simply
 * reports no ratio.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "clock.h"
#include "bench_hooks.h"

static int qb_fail(quanta_status st, const char *what) {
    if (st == QUANTA_OK) return 0;
    fprintf(stderr, "quanta bench: %s: %s: %s\n", what, quanta_status_name(st), quanta_last_error());
    return -1;
}

static uint64_t qb_rng = 0x9E3779B97F4A7C15ull;
static float qb_rand(void) { /* xorshift64*, uniform in [-1, 1) */
    qb_rng ^= qb_rng >> 12;
    qb_rng ^= qb_rng << 25;
    qb_rng ^= qb_rng >> 27;
    return (float)((qb_rng * 0x2545F4914F6CDD1Dull) >> 40) / 8388608.0f - 1.0f;
}

static qb_row *qb_add(qb_report *rep, const char *kind, const char *name) {
    if (rep->nrows >= QB_MAX_ROWS) return NULL;
    qb_row *r = &rep->rows[rep->nrows++];
    memset(r, 0, sizeof *r);
    snprintf(r->kind, sizeof r->kind, "%s", kind);
    snprintf(r->name, sizeof r->name, "%s", name);
    return r;
}

/* Seconds per execute: one warm-up run (kernel compilation, crossover timing), then repeats
 * until min_seconds have passed (at least 2). */
static int qb_time_plan(quanta_plan *p, double min_seconds, double *sec) {
    if (qb_fail(quanta_plan_execute(p), "quanta_plan_execute (warm-up)")) return -1;
    int reps = 0;
    double t0 = qn_now_s(), t = 0;
    do {
        if (qb_fail(quanta_plan_execute(p), "quanta_plan_execute")) return -1;
        reps++;
        t = qn_now_s() - t0;
    } while (reps < 2 || t < min_seconds);
    *sec = t / reps;
    return 0;
}

/* A random weight W[n][k] of dtype as `count` buffers on be holding the same bytes (quantized once). */
static int qb_weights(quanta_backend *be, quanta_dtype dtype, int64_t n, int64_t k, int count, quanta_buffer **out,
                      size_t *bytes) {
    quanta_tensor_desc d = {.dtype = dtype, .ndim = 2, .dims = {n, k}};
    if (qb_fail(quanta_tensor_bytes(&d, bytes), "quanta_tensor_bytes")) return -1;
    float *src = malloc((size_t)(n * k) * sizeof *src);
    void *q = malloc(*bytes);
    int made = 0;
    if (!src || !q) {
        fprintf(stderr, "quanta bench: out of host memory for a %lldx%lld weight\n", (long long)n, (long long)k);
    } else {
        for (int64_t i = 0; i < n * k; i++) src[i] = 0.02f * qb_rand();
        if (!qb_fail(quanta_quantize(&d, src, q, *bytes), "quanta_quantize"))
            for (; made < count; made++) {
                out[made] = NULL;
                if (qb_fail(quanta_buffer_create(be, &d, &out[made]), "quanta_buffer_create")) break;
                if (qb_fail(quanta_buffer_write(out[made], q, *bytes), "quanta_buffer_write")) {
                    quanta_buffer_destroy(out[made]);
                    break;
                }
            }
    }
    free(src);
    free(q);
    if (made == count) return 0;
    while (made > 0) quanta_buffer_destroy(out[--made]);
    return -1;
}

/* Times y = x·W^T with x f32 [m,k] and W of dtype on be (the buffer `given` when not NULL, else a new one); fills
 * seconds and weight bytes. */
static int qb_matmul(quanta_backend *be, quanta_dtype dtype, int64_t m, int64_t n, int64_t k, double min_s,
                     quanta_buffer *given, double *sec, size_t *wbytes, int *fallback) {
    quanta_buffer *w = given;
    quanta_graph *g = NULL;
    quanta_plan *p = NULL;
    float *x = malloc((size_t)(m * k) * sizeof *x);
    int rc = -1;
    if (!x) return -1;
    for (int64_t i = 0; i < m * k; i++) x[i] = qb_rand();
    quanta_tensor *tx, *tw, *ty;
    quanta_tensor_desc dx = {.dtype = QUANTA_F32, .ndim = 2, .dims = {m, k}};
    if (!given && qb_weights(be, dtype, n, k, 1, &w, wbytes)) goto done;
    if (qb_fail(quanta_graph_create(&g), "quanta_graph_create") ||
        qb_fail(quanta_graph_input(g, "x", &dx, &tx), "quanta_graph_input") ||
        qb_fail(quanta_graph_buffer(g, w, &tw), "quanta_graph_buffer") ||
        qb_fail(quanta_matmul(g, tx, tw, &ty), "quanta_matmul") ||
        qb_fail(quanta_graph_output(g, ty), "quanta_graph_output") ||
        qb_fail(quanta_plan_create(g, be, &p), "quanta_plan_create") ||
        qb_fail(quanta_plan_set_input(p, tx, x, (size_t)(m * k) * sizeof *x), "quanta_plan_set_input"))
        goto done;
    *fallback = quanta_plan_fallback_count(p);
    rc = qb_time_plan(p, min_s, sec);
done:
    quanta_plan_destroy(p);
    quanta_graph_destroy(g);
    if (!given) quanta_buffer_destroy(w);
    free(x);
    return rc;
}

/* The GEMV's kernel rate, timed as the copy row times the copy kernel: R products y_i = x_i·W_i^T at M = 1 in
 * one plan, each with its own weight buffer w[i] (the same bytes: qb_stream_count's count) and its own x (so no
 * matmul_multi joins them), enqueued back to back and synchronized once an execute, R·bytes beyond the last-level
 * cache so that no weight comes from it a second time. *sec: the best execute's seconds a product (the launch
 * gaps inside the stream included, one host round trip over R products); *ksec: the device time a product from
 * the backend's timestamps (ops->kernel_time: QUANTA_OPENCL_EVENTS on OpenCL; every launch of the product, q4's
 * x preparation too) and *launches the launches a product, 0 where it keeps none. */
#define QB_STREAM_MAX 64
static int qb_stream_count(size_t wbytes, size_t total) {
    const size_t want = wbytes ? (total + wbytes - 1) / wbytes : 2;
    return want < 2 ? 2 : want > QB_STREAM_MAX ? QB_STREAM_MAX : (int)want;
}

static int qb_matmul_stream(quanta_backend *be, const qn_bench_hooks *ops, void *self, quanta_buffer **w, int R,
                            int64_t k, double min_s, double *sec, double *ksec, double *launches, int *fallback) {
    quanta_tensor *tx[QB_STREAM_MAX], *ty;
    quanta_graph *g = NULL;
    quanta_plan *p = NULL;
    float *x = malloc((size_t)k * sizeof *x);
    int rc = -1;
    if (!x) return -1;
    for (int64_t i = 0; i < k; i++) x[i] = qb_rand();
    quanta_tensor_desc dx = {.dtype = QUANTA_F32, .ndim = 2, .dims = {1, k}};
    if (qb_fail(quanta_graph_create(&g), "quanta_graph_create")) goto done;
    for (int i = 0; i < R; i++) {
        char name[16];
        quanta_tensor *tw;
        snprintf(name, sizeof name, "x%d", i);
        if (qb_fail(quanta_graph_input(g, name, &dx, &tx[i]), "quanta_graph_input") ||
            qb_fail(quanta_graph_buffer(g, w[i], &tw), "quanta_graph_buffer") ||
            qb_fail(quanta_matmul(g, tx[i], tw, &ty), "quanta_matmul") ||
            qb_fail(quanta_graph_output(g, ty), "quanta_graph_output"))
            goto done;
    }
    if (qb_fail(quanta_plan_create(g, be, &p), "quanta_plan_create")) goto done;
    for (int i = 0; i < R; i++)
        if (qb_fail(quanta_plan_set_input(p, tx[i], x, (size_t)k * sizeof *x), "quanta_plan_set_input")) goto done;
    *fallback = quanta_plan_fallback_count(p);
    if (qb_fail(quanta_plan_execute(p), "quanta_plan_execute (warm-up)")) goto done;
    double k0 = 0, k1 = 0, best = 0;
    uint64_t n0 = 0, n1 = 0;
    const int kt = ops && ops->kernel_time && ops->kernel_time(self, &k0, &n0) == QUANTA_OK;
    int reps = 0;
    const double t0 = qn_now_s();
    do {
        const double t = qn_now_s();
        if (qb_fail(quanta_plan_execute(p), "quanta_plan_execute")) goto done;
        const double dt = qn_now_s() - t;
        if (!reps || dt < best) best = dt;
        reps++;
    } while (reps < 3 || qn_now_s() - t0 < min_s);
    *ksec = kt && ops->kernel_time(self, &k1, &n1) == QUANTA_OK && k1 > k0 ? (k1 - k0) / reps / R : 0;
    *launches = kt ? (double)(n1 - n0) / reps / R : 0; /* q4's x preparation is a launch of its own */
    *sec = best / R;
    rc = 0;
done:
    quanta_plan_destroy(p);
    quanta_graph_destroy(g);
    free(x);
    return rc;
}

/* Times attention on be: q [1,hq,nq,d], k/v [1,hkv,nk,d] f16, causal. */
static int qb_attention(quanta_backend *be, int64_t hq, int64_t hkv, int64_t nq, int64_t nk, int64_t d, double min_s,
                        int once, double *sec) {
    quanta_graph *g = NULL;
    quanta_plan *p = NULL;
    quanta_tensor_desc dq = {.dtype = QUANTA_F16, .ndim = 4, .dims = {1, hq, nq, d}};
    quanta_tensor_desc dk = {.dtype = QUANTA_F16, .ndim = 4, .dims = {1, hkv, nk, d}};
    size_t nqe = (size_t)(hq * nq * d), nke = (size_t)(hkv * nk * d);
    uint16_t *q = malloc(nqe * 2), *kv = malloc(nke * 2);
    int rc = -1;
    quanta_tensor *tq, *tk, *tv, *ty;
    quanta_attention_params ap = {.scale = 0, .causal = 1, .window = 0};
    if (!q || !kv) goto done;
    for (size_t i = 0; i < nqe; i++) q[i] = quanta_f32_to_f16(qb_rand());
    for (size_t i = 0; i < nke; i++) kv[i] = quanta_f32_to_f16(qb_rand());
    if (qb_fail(quanta_graph_create(&g), "quanta_graph_create") ||
        qb_fail(quanta_graph_input(g, "q", &dq, &tq), "quanta_graph_input") ||
        qb_fail(quanta_graph_input(g, "k", &dk, &tk), "quanta_graph_input") ||
        qb_fail(quanta_graph_input(g, "v", &dk, &tv), "quanta_graph_input") ||
        qb_fail(quanta_attention(g, tq, tk, tv, NULL, NULL, &ap, &ty), "quanta_attention") ||
        qb_fail(quanta_graph_output(g, ty), "quanta_graph_output") ||
        qb_fail(quanta_plan_create(g, be, &p), "quanta_plan_create") ||
        qb_fail(quanta_plan_set_input(p, tq, q, nqe * 2), "quanta_plan_set_input") ||
        qb_fail(quanta_plan_set_input(p, tk, kv, nke * 2), "quanta_plan_set_input") ||
        qb_fail(quanta_plan_set_input(p, tv, kv, nke * 2), "quanta_plan_set_input"))
        goto done;
    if (once) { /* the reference is slow: one run, no warm-up needed */
        double t0 = qn_now_s();
        if (qb_fail(quanta_plan_execute(p), "quanta_plan_execute")) goto done;
        *sec = qn_now_s() - t0;
        rc = 0;
    } else {
        rc = qb_time_plan(p, min_s, sec);
    }
done:
    quanta_plan_destroy(p);
    quanta_graph_destroy(g);
    free(q);
    free(kv);
    return rc;
}

/* QUANTA_BENCH_ROWS=copy,gemv,gemm,attention: only the named sections (a device check timing a few
 * rows); QUANTA_BENCH_GEMM_DTYPES=q8,...: only those GEMM formats; QUANTA_BENCH_GEMM=MxNxK[,MxNxK...]: the GEMM rows' shapes instead of 256 x K x K (at most 4). */
static bool qb_listed(const char *var, const char *name) {
    const char *e = getenv(var);
    if (!e || !*e) return true;
    const size_t n = strlen(name);
    for (const char *p = e; (p = strstr(p, name)) != NULL; p += n)
        if ((p == e || p[-1] == ',') && (p[n] == ',' || p[n] == '\0')) return true;
    return false;
}

static int qb_gemm_shapes(int64_t def_m, int64_t def_k, int64_t shapes[4][3]) {
    const char *e = getenv("QUANTA_BENCH_GEMM");
    int n = 0;
    while (e && *e && n < 4) {
        long long m, nn, k;
        int used = 0;
        if (sscanf(e, "%lldx%lldx%lld%n", &m, &nn, &k, &used) != 3 || m <= 0 || nn <= 0 || k <= 0) break;
        shapes[n][0] = m, shapes[n][1] = nn, shapes[n][2] = k, n++;
        e += used;
        if (*e == ',') e++;
    }
    if (n == 0) shapes[0][0] = def_m, shapes[0][1] = def_k, shapes[0][2] = def_k, n = 1;
    return n;
}

/* The per-call rows take the first QB_GEMV_DEFAULT formats unless QUANTA_BENCH_GEMV_DTYPES names others; the
 * kernel-rate rows every format it names (default: all). */
static const quanta_dtype gemv_formats[] = {QUANTA_Q4,        QUANTA_NF4,       QUANTA_Q8,  QUANTA_FP8_E4M3,
                                            QUANTA_FP8_E5M2,  QUANTA_F16,       QUANTA_GGML_Q4_0, QUANTA_GGML_Q8_0};
#define QB_GEMV_DEFAULT 6

/* QUANTA_BENCH_GEMV=NxK[,NxK...]: the GEMV rows' weight shapes (at most QB_GEMV_SHAPES) instead of
 * N = 4096 / 11008 at K = 4096 (--quick: 2048 x 2048). */
#define QB_GEMV_SHAPES 8
static int qb_gemv_shapes(bool quick, int64_t sh[QB_GEMV_SHAPES][2]) {
    const char *e = getenv("QUANTA_BENCH_GEMV");
    int n = 0;
    while (e && *e && n < QB_GEMV_SHAPES) {
        long long nn, k;
        int used = 0;
        if (sscanf(e, "%lldx%lld%n", &nn, &k, &used) != 2 || nn <= 0 || k <= 0) break;
        sh[n][0] = nn, sh[n][1] = k, n++;
        e += used;
        if (*e == ',') e++;
    }
    if (n) return n;
    if (quick) {
        sh[0][0] = 2048, sh[0][1] = 2048;
        return 1;
    }
    sh[0][0] = 4096, sh[0][1] = 4096, sh[1][0] = 11008, sh[1][1] = 4096;
    return 2;
}

/* A GEMV row: weight GB/s over seconds a product, and its ratio to copy_gbps (0: none); also said on log as soon
 * as measured (a run cut short by a time limit keeps the rows it had). */
static void qb_gemv_row(qb_report *rep, FILE *log, const char *kind, quanta_dtype dt, int64_t n, int64_t k,
                        double sec, size_t wb, double copy_gbps, const char *how, int fb) {
    if (log)
        fprintf(log, "  %s %s 1x%lldx%lld: %.2f GB/s, %.3f of %.1f (%s)\n", kind, quanta_dtype_name(dt), (long long)n,
                (long long)k, (double)wb / sec / 1e9, copy_gbps > 0 ? (double)wb / sec / 1e9 / copy_gbps : 0.0,
                copy_gbps, how);
    qb_row *r = qb_add(rep, kind, quanta_dtype_name(dt));
    if (!r) return;
    r->m = 1, r->n = n, r->k = k;
    r->seconds = sec;
    r->value = (double)wb / sec / 1e9;
    snprintf(r->unit, sizeof r->unit, "GB/s");
    if (copy_gbps > 0) {
        r->peer_value = copy_gbps;
        snprintf(r->peer, sizeof r->peer, "%s", strcmp(kind, "gemvk") ? "copy bandwidth" : "copy (device)");
        r->ratio = r->value / copy_gbps;
    }
    snprintf(r->note, sizeof r->note, "%.1f MB of weights, %s%s", (double)wb / 1e6, how, fb ? "; FELL BACK to ref" : "");
}
static const quanta_dtype gemm_formats[] = {QUANTA_Q4, QUANTA_NF4, QUANTA_Q8, QUANTA_F32};

int qb_run(const qb_options *opt, qb_report *rep, FILE *log) {
    memset(rep, 0, sizeof *rep);
    rep->quick = opt->quick;
    snprintf(rep->backend, sizeof rep->backend, "%s", opt->backend);
    quanta_backend *be = NULL;
    if (qb_fail(quanta_backend_open(opt->backend, &be), "quanta_backend_open")) return -1;
    quanta_backend_device(be, &rep->device);
    void *self = NULL;
    const qn_bench_hooks *ops = qn_bench_hooks_of(be, &self);
    const bool cpu = strstr(rep->device.details, "CPU") != NULL || !strcmp(rep->device.backend, "ref");
    const bool is_ref = !strcmp(rep->device.backend, "ref");
    const double min_s = opt->min_seconds > 0 ? opt->min_seconds : (opt->quick ? 0.1 : 0.4);
    int rc = 0;

    /* Copy bandwidth: arrays well beyond any last-level cache. */
    size_t copy_bytes = (size_t)(opt->quick ? 64 : 256) << 20;
    if (ops && ops->copy_bandwidth && qb_listed("QUANTA_BENCH_ROWS", "copy")) {
        double bps = 0;
        if (log) fprintf(log, "copy bandwidth (%zu MiB)...\n", copy_bytes >> 20);
        if (!qb_fail(ops->copy_bandwidth(self, copy_bytes, &bps), "copy_bandwidth")) {
            rep->copy_gbps = bps / 1e9;
            qb_row *r = qb_add(rep, "copy", "copy kernel");
            if (r) {
                r->n = (int64_t)copy_bytes;
                r->seconds = 2.0 * (double)copy_bytes / bps;
                r->value = rep->copy_gbps;
                snprintf(r->unit, sizeof r->unit, "GB/s");
                snprintf(r->note, sizeof r->note, "bytes read + written");
            }
        }
    }

    /* GEMV, M = 1: weight bytes read per second. "gemv" rows: one product per execute (launch, the product,
     * the synchronize's round trip: what one isolated call costs); "gemvs" rows: the kernel rate, a stream of
     * products per synchronize over weights beyond the last-level cache, as the copy row is timed, and "gemvk"
     * where the backend keeps device timestamps: the kernel's own time against the copy kernel's own time. */
    int64_t gv[QB_GEMV_SHAPES][2];
    const int ngv = qb_gemv_shapes(opt->quick, gv);
    double copy_dev_gbps = 0;
    if (rep->copy_gbps > 0 && ops->kernel_time && qb_listed("QUANTA_BENCH_ROWS", "gemvs")) {
        /* the copy kernel's device time: one more warm copy_bandwidth call, its launches timed by the device */
        double k0, k1, bps;
        uint64_t n0, n1;
        if (ops->kernel_time(self, &k0, &n0) == QUANTA_OK && ops->copy_bandwidth(self, copy_bytes, &bps) == QUANTA_OK &&
            ops->kernel_time(self, &k1, &n1) == QUANTA_OK && k1 > k0 && n1 > n0)
            copy_dev_gbps = (double)(n1 - n0) * 2.0 * (double)(copy_bytes / 16 * 16) / (k1 - k0) / 1e9;
        qb_row *r = copy_dev_gbps > 0 ? qb_add(rep, "copy", "copy (device)") : NULL;
        if (r) {
            r->n = (int64_t)copy_bytes;
            r->seconds = 2.0 * (double)copy_bytes / (copy_dev_gbps * 1e9);
            r->value = copy_dev_gbps;
            snprintf(r->unit, sizeof r->unit, "GB/s");
            snprintf(r->note, sizeof r->note, "bytes read + written; device time of its launches");
        }
    }
    /* QUANTA_BENCH_COPY_KIB=1,8604,...: the copy kernel's device time at those sizes too (KiB copied: read and
     * written), what one launch of a kernel moving that many bytes costs by the same timestamps; 1 KiB is one group
     * of 64 items, the device time of a launch that does nothing to speak of. Sizes under the last-level cache are
     * read from it after the first of the 6 launches: an upper bound on a GEMV of those bytes, not a peer. */
    const char *cke = getenv("QUANTA_BENCH_COPY_KIB");
    for (const char *c = cke; copy_dev_gbps > 0 && c && *c;) {
        char *end;
        const long long kib = strtoll(c, &end, 10);
        if (end == c || kib < 1 || kib > (1LL << 21)) break;
        c = *end == ',' ? end + 1 : end;
        double k0, k1, bps;
        uint64_t n0, n1;
        const size_t cb = (size_t)kib << 10;
        if (ops->kernel_time(self, &k0, &n0) != QUANTA_OK || ops->copy_bandwidth(self, cb, &bps) != QUANTA_OK ||
            ops->kernel_time(self, &k1, &n1) != QUANTA_OK || !(k1 > k0) || n1 <= n0)
            continue;
        const double us = (k1 - k0) / (double)(n1 - n0) * 1e6;
        qb_row *r = qb_add(rep, "copy", "copy (dev, KiB)");
        if (!r) break;
        r->n = (int64_t)cb;
        r->seconds = us * 1e-6;
        r->value = 2.0 * (double)(cb / 16 * 16) / (us * 1e-6) / 1e9;
        snprintf(r->unit, sizeof r->unit, "GB/s");
        snprintf(r->note, sizeof r->note, "%lld KiB read + written, device time %.2f us a launch", kib, us);
        if (log) fprintf(log, "  copy (device) %lld KiB: %.2f us a launch, %.1f GB/s\n", kib, us, r->value);
    }
    for (size_t f = 0; f < sizeof gemv_formats / sizeof gemv_formats[0]; f++)
        for (int s = 0; s < ngv; s++) {
            const quanta_dtype dt = gemv_formats[f];
            const int64_t gn = gv[s][0], gk = gv[s][1];
            double sec, ksec = 0, nl = 0;
            size_t wb;
            int fb = 0;
            if (!qb_listed("QUANTA_BENCH_GEMV_DTYPES", quanta_dtype_name(dt))) continue;
            const bool call = qb_listed("QUANTA_BENCH_ROWS", "gemv") && (f < QB_GEMV_DEFAULT || getenv("QUANTA_BENCH_GEMV_DTYPES"));
            const bool stream = qb_listed("QUANTA_BENCH_ROWS", "gemvs") && !is_ref;
            quanta_tensor_desc wd = {.dtype = dt, .ndim = 2, .dims = {gn, gk}};
            if (!(call || stream) || qb_fail(quanta_tensor_bytes(&wd, &wb), "quanta_tensor_bytes")) continue;
            /* one quantization for both kinds of row: the per-call row takes the first buffer */
            const int R = stream ? qb_stream_count(wb, (size_t)(opt->quick ? 32 : 256) << 20) : 1;
            quanta_buffer *w[QB_STREAM_MAX];
            if (log) fprintf(log, "gemv %s %lldx%lld (%d weights)...\n", quanta_dtype_name(dt), (long long)gn, (long long)gk, R);
            if (qb_weights(be, dt, gn, gk, R, w, &wb)) {
                rc = -1;
                continue;
            }
            if (call) {
                if (qb_matmul(be, dt, 1, gn, gk, min_s, w[0], &sec, &wb, &fb)) rc = -1;
                else qb_gemv_row(rep, log, "gemv", dt, gn, gk, sec, wb, rep->copy_gbps, "a call", fb);
            }
            if (stream) {
                if (qb_matmul_stream(be, ops, self, w, R, gk, min_s, &sec, &ksec, &nl, &fb)) {
                    rc = -1;
                } else {
                    char how[40];
                    snprintf(how, sizeof how, "%d back to back", R);
                    qb_gemv_row(rep, log, "gemvs", dt, gn, gk, sec, wb, rep->copy_gbps, how, fb);
                    snprintf(how, sizeof how, "device time, %.3g launches each", nl);
                    if (ksec > 0) qb_gemv_row(rep, log, "gemvk", dt, gn, gk, ksec, wb, copy_dev_gbps, how, fb);
                }
            }
            for (int i = 0; i < R; i++) quanta_buffer_destroy(w[i]);
        }

    /* GEMM, M = 256, against the peer on f32 weights. CPUs get a smaller square. */
    int64_t gshape[4][3];
    const int ngs = qb_listed("QUANTA_BENCH_ROWS", "gemm") ? qb_gemm_shapes(256, opt->quick ? 1024 : (cpu ? 2048 : 4096), gshape) : 0;
    for (int gs = 0; gs < ngs; gs++) {
        const int64_t gm = gshape[gs][0], gn = gshape[gs][1], gk = gshape[gs][2];
        double peer_sec = 0;
        char peer_name[48] = "";
        if (ops && ops->peer_gemm && !is_ref) {
            if (log) fprintf(log, "peer gemm %lldx%lldx%lld...\n", (long long)gm, (long long)gn, (long long)gk);
            if (ops->peer_gemm(self, gm, gn, gk, &peer_sec, peer_name, sizeof peer_name) != QUANTA_OK) peer_sec = 0;
        }
        for (size_t f = 0; f < sizeof gemm_formats / sizeof gemm_formats[0]; f++) {
            const quanta_dtype dt = gemm_formats[f];
            double sec;
            size_t wb;
            int fb = 0;
            if ((is_ref && !opt->quick) || !qb_listed("QUANTA_BENCH_GEMM_DTYPES", quanta_dtype_name(dt)))
                continue; /* the oracle: hours in double precision */
            if (log) fprintf(log, "gemm %s %lldx%lldx%lld...\n", quanta_dtype_name(dt), (long long)gm, (long long)gn,
                             (long long)gk);
            if (qb_matmul(be, dt, gm, gn, gk, min_s, NULL, &sec, &wb, &fb)) {
                rc = -1;
                continue;
            }
            qb_row *r = qb_add(rep, "gemm", quanta_dtype_name(dt));
            if (!r) continue;
            r->m = gm, r->n = gn, r->k = gk;
            r->seconds = sec;
            r->value = 2.0 * (double)gm * (double)gn * (double)gk / sec / 1e9;
            snprintf(r->unit, sizeof r->unit, "GFLOP/s");
            if (peer_sec > 0) {
                r->peer_value = 2.0 * (double)gm * (double)gn * (double)gk / peer_sec / 1e9;
                snprintf(r->peer, sizeof r->peer, "%s", peer_name);
                r->ratio = r->value / r->peer_value;
            }
            snprintf(r->note, sizeof r->note, "%s", fb ? "FELL BACK to ref" : "");
        }
    }

    /* Attention: causal prefill and one-token decode, f16, GQA 4 (32 query heads of 128 on
     * 8 KV heads in the full run), against the reference backend. */
    quanta_backend *ref = NULL;
    if (!opt->no_ref && qb_fail(quanta_backend_open("ref", &ref), "quanta_backend_open(ref)")) ref = NULL;
    struct {
        const char *name;
        int64_t hq, hkv, nq, nk;
    } att[2] = {{"prefill causal", opt->quick ? 8 : 32, opt->quick ? 2 : 8, opt->quick ? 256 : 512, opt->quick ? 256 : 512},
                {"decode", opt->quick ? 8 : 32, opt->quick ? 2 : 8, 1, opt->quick ? 1024 : 4096}};
    for (int i = 0; i < 2 && qb_listed("QUANTA_BENCH_ROWS", "attention"); i++) {
        const int64_t D = 128;
        double sec, rsec = 0;
        if (log) fprintf(log, "attention %s...\n", att[i].name);
        if (qb_attention(be, att[i].hq, att[i].hkv, att[i].nq, att[i].nk, D, min_s, is_ref, &sec)) {
            rc = -1;
            continue;
        }
        if (ref && !is_ref && qb_attention(ref, att[i].hq, att[i].hkv, att[i].nq, att[i].nk, D, 0, 1, &rsec)) rsec = 0;
        qb_row *r = qb_add(rep, "attention", att[i].name);
        if (!r) continue;
        r->m = att[i].hq, r->n = att[i].nq, r->k = att[i].nk;
        r->seconds = sec;
        r->value = (double)att[i].nq / sec;
        snprintf(r->unit, sizeof r->unit, "tok/s");
        if (rsec > 0) {
            r->peer_value = (double)att[i].nq / rsec;
            snprintf(r->peer, sizeof r->peer, "ref backend");
            r->ratio = r->value / r->peer_value;
        }
        snprintf(r->note, sizeof r->note, "hq=%lld hkv=%lld d=%lld f16", (long long)att[i].hq, (long long)att[i].hkv,
                 (long long)D);
    }
    quanta_backend_close(ref);
    quanta_backend_close(be);
    return rc;
}
