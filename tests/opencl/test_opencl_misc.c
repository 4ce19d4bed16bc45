/*
 * test_opencl_misc.c — the OpenCL backend beyond per-op accuracy: attention memory is O(N)
 * (32768 keys under a memory limit an N x N score matrix would exceed), the on-disk program
 * cache (a corrupt or truncated entry is rebuilt, never trusted), and error paths (bad ids,
 * bad start, bad kv_lens, memory limits, unsupported shapes, bad device specs, bad vtable
 * calls). Exits 77 (SKIP) when no OpenCL device is present.
 */
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats.h"
#include "qt_file.h"
#include "qt_tensor.h"
#include "opencl/cl_internal.h"
#include "registry.h"
#include "cl_test.h"
#include "test_util.h"

static quanta_backend *g_cl;

/* ------------------------------------------------------------ O(N) attention */

/* Reference for one query row of causal sliding-window attention, in double. */
static void att_row_ref(const uint16_t *q, const uint16_t *k, const uint16_t *v, int D, int window,
                        int64_t i, double scale, double *out) {
    double mx = -INFINITY, sum = 0;
    int64_t lo = i - window + 1 < 0 ? 0 : i - window + 1;
    for (int64_t j = lo; j <= i; j++) {
        double s = 0;
        for (int d = 0; d < D; d++) s += (double)qn_f16_to_f32(q[i * D + d]) * qn_f16_to_f32(k[j * D + d]);
        if (s * scale > mx) mx = s * scale;
    }
    for (int d = 0; d < D; d++) out[d] = 0;
    for (int64_t j = lo; j <= i; j++) {
        double s = 0;
        for (int d = 0; d < D; d++) s += (double)qn_f16_to_f32(q[i * D + d]) * qn_f16_to_f32(k[j * D + d]);
        double e = exp(s * scale - mx);
        sum += e;
        for (int d = 0; d < D; d++) out[d] += e * qn_f16_to_f32(v[j * D + d]);
    }
    for (int d = 0; d < D; d++) out[d] /= sum;
}

START_TEST(test_attention_memory_is_linear) {
    const int64_t N = 32768;
    const int D = 64, window = 128;
    const size_t n = (size_t)N * D;
    /* q, k, v and out in f16: 16 MiB. An N x N f32 score matrix would need 4 GiB. */
    const uint64_t limit = 48ull << 20;
    qt_rng r = qt_rng_make(101);
    uint16_t *q = malloc(n * 2), *k = malloc(n * 2), *v = malloc(n * 2), *o = malloc(n * 2);
    ck_assert(q && k && v && o);
    for (size_t i = 0; i < n; i++) {
        q[i] = qn_f32_to_f16(qt_normal(&r, 1.0f));
        k[i] = qn_f32_to_f16(qt_normal(&r, 1.0f));
        v[i] = qn_f32_to_f16(qt_normal(&r, 1.0f));
        o[i] = 0x7E00; /* NaN poison */
    }
    ck_assert_int_eq(quanta_backend_set_memory_limit(g_cl, limit), QUANTA_OK);
    quanta_graph *g;
    quanta_tensor *tq, *tk, *tv, *ty;
    quanta_tensor_desc dd = qt_desc(QUANTA_F16, 4, 1, 1, N, D);
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "q", &dd, &tq), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "k", &dd, &tk), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "v", &dd, &tv), QUANTA_OK);
    quanta_attention_params ap = {.scale = 0, .causal = 1, .window = window};
    ck_assert_int_eq(quanta_attention(g, tq, tk, tv, NULL, NULL, &ap, &ty), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(g, ty), QUANTA_OK);
    quanta_plan *p;
    ck_assert_msg(quanta_plan_create(g, g_cl, &p) == QUANTA_OK, "%s", quanta_last_error());
    ck_assert_int_eq(quanta_plan_fallback_count(p), 0);
    ck_assert_int_eq(quanta_plan_set_input(p, tq, q, n * 2), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_set_input(p, tk, k, n * 2), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_set_input(p, tv, v, n * 2), QUANTA_OK);
    quanta_backend_reset_peak(g_cl);
    ck_assert_msg(quanta_plan_execute(p) == QUANTA_OK, "%s", quanta_last_error());
    ck_assert_int_eq(quanta_plan_get_output(p, ty, o, n * 2), QUANTA_OK);
    uint64_t in_use, peak;
    ck_assert_int_eq(quanta_backend_memory_stats(g_cl, &in_use, &peak), QUANTA_OK);
    printf("attention N=%lld: peak device memory %.1f MiB (limit %.0f MiB; N x N f32 = %.0f MiB)\n", (long long)N,
           (double)peak / 1048576.0, (double)limit / 1048576.0, (double)N * (double)N * 4 / 1048576.0);
    ck_assert_uint_le(peak, limit);
    ck_assert_uint_lt(peak, (uint64_t)N * (uint64_t)N * 4 / 64);
    /* Spot-check rows, the first and last included, against a double-precision computation. */
    const int64_t rows[] = {0, 1, 127, 128, 4097, N / 2 + 3, N - 2, N - 1};
    double ref[64], num = 0, den = 0;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        att_row_ref(q, k, v, D, window, rows[i], 1.0 / sqrt((double)D), ref);
        for (int d = 0; d < D; d++) {
            double got = qn_f16_to_f32(o[rows[i] * D + d]);
            ck_assert_msg(isfinite(got), "row %lld col %d not finite", (long long)rows[i], d);
            num += (got - ref[d]) * (got - ref[d]);
            den += ref[d] * ref[d];
        }
    }
    ck_assert_msg(num / den < 5e-4, "nmse %g", num / den);
    quanta_plan_destroy(p);
    quanta_graph_destroy(g);
    ck_assert_int_eq(quanta_backend_set_memory_limit(g_cl, 0), QUANTA_OK);
    free(q), free(k), free(v), free(o);
}
END_TEST

/* Decode against 32768 keys: split-KV partials are the only scratch, and they are booked. */
START_TEST(test_attention_decode_long) {
    const int64_t N = 32768;
    const int D = 128;
    qt_rng r = qt_rng_make(102);
    size_t nk = (size_t)N * D;
    float *q = malloc(D * 4), *k = malloc(nk * 4), *v = malloc(nk * 4), o[128];
    ck_assert(q && k && v);
    qt_fill_normal(&r, q, D, 1.0f);
    qt_fill_normal(&r, k, nk, 1.0f);
    qt_fill_normal(&r, v, nk, 1.0f);
    qt_poison_f32(o, D);
    quanta_graph *g;
    quanta_tensor *tq, *tk, *tv, *ty;
    quanta_tensor_desc dq = qt_desc(QUANTA_F32, 4, 1, 1, 1, D), dk = qt_desc(QUANTA_F32, 4, 1, 1, N, D);
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "q", &dq, &tq), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "k", &dk, &tk), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "v", &dk, &tv), QUANTA_OK);
    quanta_attention_params ap = {0};
    ck_assert_int_eq(quanta_attention(g, tq, tk, tv, NULL, NULL, &ap, &ty), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(g, ty), QUANTA_OK);
    ck_assert_int_eq(quanta_backend_set_memory_limit(g_cl, 40ull << 20), QUANTA_OK);
    quanta_plan *p;
    ck_assert_msg(quanta_plan_create(g, g_cl, &p) == QUANTA_OK, "%s", quanta_last_error());
    ck_assert_int_eq(quanta_plan_set_input(p, tq, q, D * 4), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_set_input(p, tk, k, nk * 4), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_set_input(p, tv, v, nk * 4), QUANTA_OK);
    ck_assert_msg(quanta_plan_execute(p) == QUANTA_OK, "%s", quanta_last_error());
    ck_assert_int_eq(quanta_plan_get_output(p, ty, o, D * 4), QUANTA_OK);
    double *s = malloc((size_t)N * sizeof *s), mx = -INFINITY, sum = 0, num = 0, den = 0;
    ck_assert(s);
    for (int64_t j = 0; j < N; j++) {
        double dot = 0;
        for (int d = 0; d < D; d++) dot += (double)q[d] * k[j * D + d];
        s[j] = dot / sqrt((double)D);
        if (s[j] > mx) mx = s[j];
    }
    for (int64_t j = 0; j < N; j++) sum += (s[j] = exp(s[j] - mx));
    for (int d = 0; d < D; d++) {
        double ref = 0;
        for (int64_t j = 0; j < N; j++) ref += s[j] * v[j * D + d];
        ref /= sum;
        num += (o[d] - ref) * (o[d] - ref);
        den += ref * ref;
    }
    ck_assert_msg(num / den < 5e-4, "nmse %g", num / den);
    quanta_plan_destroy(p);
    quanta_graph_destroy(g);
    ck_assert_int_eq(quanta_backend_set_memory_limit(g_cl, 0), QUANTA_OK);
    free(s), free(q), free(k), free(v);
}
END_TEST

/* -------------------------------------------------------------- program cache */

static int find_entry(const char *dir, char *path, size_t len) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    int found = 0;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n > 6 && !strcmp(e->d_name + n - 6, ".clbin")) {
            snprintf(path, len, "%s/%s", dir, e->d_name);
            found++;
        }
    }
    closedir(d);
    return found;
}

/* Opens a fresh backend, checks it computes (scale by 2 of a few values) and that its program
 * came from `origin` ("cache", or "source"/"spir-v" for a rebuild). */
static void open_and_check(const char *origin) {
    quanta_backend *be;
    ck_assert_msg(quanta_backend_open("opencl", &be) == QUANTA_OK, "%s", quanta_last_error());
    void *self;
    ck_assert_ptr_nonnull(qn_backend_vtable(be, &self));
    const char *got = ((const qn_cl *)self)->program_origin;
    ck_assert_ptr_nonnull(got);
    if (!strcmp(origin, "cache")) ck_assert_str_eq(got, "cache");
    else ck_assert_msg(strcmp(got, "cache") != 0, "program came from the cache, expected a rebuild");
    quanta_graph *g;
    quanta_tensor *x, *y;
    quanta_tensor_desc d = qt_desc(QUANTA_F32, 1, 5, 0, 0, 0);
    float in[5] = {1, -2, 3.5f, 0, 1e-3f}, out[5];
    qt_poison_f32(out, 5);
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "x", &d, &x), QUANTA_OK);
    ck_assert_int_eq(quanta_scale(g, x, 2.0f, &y), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(g, y), QUANTA_OK);
    quanta_plan *p;
    ck_assert_int_eq(quanta_plan_create(g, be, &p), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_fallback_count(p), 0);
    ck_assert_int_eq(quanta_plan_set_input(p, x, in, sizeof in), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_execute(p), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_get_output(p, y, out, sizeof out), QUANTA_OK);
    for (int i = 0; i < 5; i++) ck_assert_float_eq(out[i], 2 * in[i]);
    quanta_plan_destroy(p);
    quanta_graph_destroy(g);
    quanta_backend_close(be);
}

/* QUANTA_OPENCL_EVENTS: the table written at close counts each launch, replayed ones included
 * (the plan records its launches and replays them from its second execute). */
START_TEST(test_events_table) {
    char path[] = "/tmp/quanta_cl_events_XXXXXX";
    const int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    unlink(path); /* the backend appends: start from nothing */
    setenv("QUANTA_OPENCL_EVENTS", path, 1);
    quanta_backend *be;
    const quanta_status st = quanta_backend_open("opencl", &be);
    unsetenv("QUANTA_OPENCL_EVENTS");
    ck_assert_msg(st == QUANTA_OK, "%s", quanta_last_error());
    quanta_graph *g;
    quanta_tensor *x, *y;
    quanta_tensor_desc d = qt_desc(QUANTA_F32, 1, 5, 0, 0, 0);
    float in[5] = {1, -2, 3.5f, 0, 1e-3f}, out[5];
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "x", &d, &x), QUANTA_OK);
    ck_assert_int_eq(quanta_scale(g, x, 2.0f, &y), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(g, y), QUANTA_OK);
    quanta_plan *p;
    ck_assert_int_eq(quanta_plan_create(g, be, &p), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_set_input(p, x, in, sizeof in), QUANTA_OK);
    for (int run = 0; run < 3; run++) {
        qt_poison_f32(out, 5);
        ck_assert_int_eq(quanta_plan_execute(p), QUANTA_OK);
        ck_assert_int_eq(quanta_plan_get_output(p, y, out, sizeof out), QUANTA_OK);
        for (int i = 0; i < 5; i++) ck_assert_float_eq(out[i], 2 * in[i]);
    }
    quanta_plan_destroy(p);
    quanta_graph_destroy(g);
    quanta_backend_close(be);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "no events table at %s", path);
    char line[256];
    unsigned long long kernels = 0, calls = 0;
    int header = 0, totals = 0;
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "# opencl events (", 17)) { /* the device name may hold "): " itself: the last one */
            const char *c = strstr(line, "): "), *next;
            while (c && (next = strstr(c + 1, "): "))) c = next;
            header = c && sscanf(c + 3, "%llu kernels", &kernels) == 1;
        }
        if (sscanf(line, "unary %llu", &calls) == 1) continue;
        if (!strncmp(line, "kernels ", 8)) totals = 1;
    }
    fclose(f);
    unlink(path);
    ck_assert_msg(header && totals, "events table without its header or totals");
    ck_assert_int_eq(kernels, 3);
    ck_assert_int_eq(calls, 3);
}
END_TEST

/* QUANTA_OPENCL_ASYNC_WRITE=1: small writes are enqueued without waiting, from copies: the caller's memory may
 * change at once, later writes to a buffer win, and more than the pending cap (1 MiB) of them (a wait inside)
 * keeps every value. 40 buffers of 64 KiB, each written twice, the source poisoned after each write. */
START_TEST(test_async_writes) {
    setenv("QUANTA_OPENCL_ASYNC_WRITE", "1", 1);
    quanta_backend *be;
    const quanta_status st = quanta_backend_open("opencl", &be);
    unsetenv("QUANTA_OPENCL_ASYNC_WRITE");
    ck_assert_msg(st == QUANTA_OK, "%s", quanta_last_error());
    void *self;
    ck_assert_ptr_nonnull(qn_backend_vtable(be, &self));
    ck_assert_int_eq(((const qn_cl *)self)->async_write, 1);
    enum { NB = 40, NE = 16384 };
    quanta_tensor_desc d = qt_desc(QUANTA_F32, 1, NE, 0, 0, 0);
    quanta_buffer *b[NB];
    float *want = malloc((size_t)NB * NE * sizeof *want), *src = malloc(NE * sizeof *src), *got = malloc(NE * sizeof *got);
    ck_assert(want && src && got);
    qt_rng r = qt_rng_make(404);
    for (int i = 0; i < NB; i++) ck_assert_int_eq(quanta_buffer_create(be, &d, &b[i]), QUANTA_OK);
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < NB; i++) {
            qt_fill_normal(&r, src, NE, 1.0f);
            memcpy(want + (size_t)i * NE, src, NE * sizeof *src); /* the second pass's values win */
            ck_assert_int_eq(quanta_buffer_write(b[i], src, NE * sizeof *src), QUANTA_OK);
            qt_poison_f32(src, NE); /* the write must not read this */
        }
    for (int i = 0; i < NB; i++) {
        qt_poison_f32(got, NE);
        ck_assert_int_eq(quanta_buffer_read(b[i], got, NE * sizeof *got), QUANTA_OK);
        ck_assert_msg(!memcmp(got, want + (size_t)i * NE, NE * sizeof *got), "buffer %d differs from its last write", i);
        quanta_buffer_destroy(b[i]);
    }
    free(want);
    free(src);
    free(got);
    quanta_backend_close(be);
}
END_TEST

START_TEST(test_program_cache) {
    const char *base = getenv("QUANTA_CACHE_DIR");
    char dir[512], path[800];
    snprintf(dir, sizeof dir, "%s/cache-test-%ld", base && *base ? base : "/tmp/quanta-cl-test", (long)getpid());
    setenv("QUANTA_CACHE_DIR", dir, 1);
    open_and_check("source"); /* builds, writes the entry (directories created) */
    ck_assert_int_eq(find_entry(dir, path, sizeof path), 1);
    size_t n0;
    unsigned char *good = qt_slurp(path, &n0);
    ck_assert(good && n0 > 64);

    /* A flipped payload byte: the checksum catches it, the entry is rebuilt and rewritten. */
    unsigned char *bad = malloc(n0);
    ck_assert(bad);
    memcpy(bad, good, n0);
    bad[n0 / 2] ^= 0x5A;
    qt_spit(path, bad, n0);
    open_and_check("source");
    size_t n1;
    unsigned char *now = qt_slurp(path, &n1);
    ck_assert(now);
    ck_assert_msg(n1 != n0 || memcmp(now, bad, n0) != 0, "corrupt cache entry was not rewritten");
    free(now);

    /* A truncated entry and a garbage header: rebuilt as well. */
    qt_spit(path, good, 20);
    open_and_check("source");
    now = qt_slurp(path, &n1);
    ck_assert(now && n1 > 64);
    free(now);
    qt_spit(path, "not a cache entry at all, just text", 35);
    open_and_check("source");
    now = qt_slurp(path, &n1);
    ck_assert(now && n1 > 64);
    free(now);

    /* A valid entry is used as is (still exactly one entry for this key). */
    open_and_check("cache");
    ck_assert_int_eq(find_entry(dir, path, sizeof path), 1);
    remove(path);
    rmdir(dir);
    free(good);
    free(bad);
    if (base) setenv("QUANTA_CACHE_DIR", base, 1);
    else unsetenv("QUANTA_CACHE_DIR");
}
END_TEST

/* An unwritable cache location only costs a rebuild. */
START_TEST(test_program_cache_unwritable) {
    const char *base = getenv("QUANTA_CACHE_DIR");
    char saved[512] = "";
    if (base) snprintf(saved, sizeof saved, "%s", base);
    setenv("QUANTA_CACHE_DIR", "/proc/quanta-no-such-dir/cache", 1);
    open_and_check("source");
    open_and_check("source"); /* nothing could be cached */
    if (saved[0]) setenv("QUANTA_CACHE_DIR", saved, 1);
    else unsetenv("QUANTA_CACHE_DIR");
}
END_TEST

/* ------------------------------------------------------------------ errors */

/* Runs a one-op graph whose execute must fail with `want`. */
START_TEST(test_get_rows_bad_id) {
    quanta_graph *g;
    quanta_tensor *tab, *ids, *y;
    quanta_tensor_desc dt = qt_desc(QUANTA_F32, 2, 4, 8, 0, 0), di = qt_desc(QUANTA_I32, 1, 2, 0, 0, 0);
    float table[32] = {0};
    int32_t bad[2] = {1, 4}, neg[2] = {-1, 0};
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_constant(g, "t", &dt, table, sizeof table, &tab), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "ids", &di, &ids), QUANTA_OK);
    ck_assert_int_eq(quanta_get_rows(g, tab, ids, &y), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(g, y), QUANTA_OK);
    quanta_plan *p;
    ck_assert_int_eq(quanta_plan_create(g, g_cl, &p), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_fallback_count(p), 0);
    ck_assert_int_eq(quanta_plan_set_input(p, ids, bad, sizeof bad), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_execute(p), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_msg(strstr(quanta_last_error(), "ids[1]"), "%s", quanta_last_error());
    ck_assert_int_eq(quanta_plan_set_input(p, ids, neg, sizeof neg), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_execute(p), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_msg(strstr(quanta_last_error(), "ids[0]"), "%s", quanta_last_error());
    quanta_plan_destroy(p);
    quanta_graph_destroy(g);
}
END_TEST

/* A plan on OpenCL writing src [1,1,2,8] into buf's rows at start (i32 [ns]: 1 consecutive, 2 a
 * scatter); *g, *src and *start receive the graph and its inputs. */
static quanta_plan *write_rows_plan(quanta_buffer *buf, int64_t ns, quanta_graph **g, quanta_tensor **src,
                                    quanta_tensor **start) {
    const quanta_tensor_desc ds = qt_desc(QUANTA_F32, 4, 1, 1, 2, 8), dst_ = qt_desc(QUANTA_I32, 1, ns, 0, 0, 0);
    quanta_tensor *dst, *y;
    ck_assert_int_eq(quanta_graph_create(g), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_buffer(*g, buf, &dst), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(*g, "src", &ds, src), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(*g, "start", &dst_, start), QUANTA_OK);
    ck_assert_int_eq(quanta_write_rows(*g, dst, *src, *start, &y), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(*g, y), QUANTA_OK);
    quanta_plan *p;
    ck_assert_int_eq(quanta_plan_create(*g, g_cl, &p), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_fallback_count(p), 0);
    return p;
}

START_TEST(test_write_rows_bad_start) {
    quanta_tensor_desc dd = qt_desc(QUANTA_F32, 4, 1, 1, 4, 8);
    quanta_buffer *buf;
    ck_assert_int_eq(quanta_buffer_create(g_cl, &dd, &buf), QUANTA_OK);
    quanta_graph *g;
    quanta_tensor *src, *start;
    quanta_plan *p = write_rows_plan(buf, 1, &g, &src, &start);
    float s[16];
    for (int i = 0; i < 16; i++) s[i] = (float)i;
    int32_t st = 3, ok = 2;
    ck_assert_int_eq(quanta_plan_set_input(p, src, s, sizeof s), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_set_input(p, start, &st, 4), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_execute(p), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_msg(strstr(quanta_last_error(), "start"), "%s", quanta_last_error());
    ck_assert_int_eq(quanta_plan_set_input(p, start, &ok, 4), QUANTA_OK);
    ck_assert_msg(quanta_plan_execute(p) == QUANTA_OK, "%s", quanta_last_error());
    float back[32];
    ck_assert_int_eq(quanta_buffer_read(buf, back, sizeof back), QUANTA_OK);
    for (int i = 0; i < 32; i++) ck_assert_float_eq(back[i], i < 16 ? 0.0f : (float)(i - 16));
    quanta_plan_destroy(p);
    quanta_graph_destroy(g);

    /* the scatter form (start i32 [T], a row each): a row outside dst or negative is an error
     * naming its index and value; a good scatter then writes exactly its rows */
    p = write_rows_plan(buf, 2, &g, &src, &start);
    ck_assert_int_eq(quanta_plan_set_input(p, src, s, sizeof s), QUANTA_OK);
    static const int32_t bad_rows[][2] = {{1, 4}, {-1, 0}, {0, INT32_MAX}};
    static const char *const named[] = {"start[1] = 4", "start[0] = -1", "start[1] = 2147483647"};
    for (int c = 0; c < 3; c++) {
        ck_assert_int_eq(quanta_plan_set_input(p, start, bad_rows[c], sizeof bad_rows[c]), QUANTA_OK);
        ck_assert_int_eq(quanta_plan_execute(p), QUANTA_ERR_INVALID_ARGUMENT);
        ck_assert_msg(strstr(quanta_last_error(), named[c]), "wanted \"%s\" in: %s", named[c], quanta_last_error());
    }
    const int32_t rows[2] = {3, 0};
    ck_assert_int_eq(quanta_plan_set_input(p, start, rows, sizeof rows), QUANTA_OK);
    ck_assert_msg(quanta_plan_execute(p) == QUANTA_OK, "%s", quanta_last_error());
    ck_assert_int_eq(quanta_buffer_read(buf, back, sizeof back), QUANTA_OK);
    /* row 0 <- src row 1, row 3 <- src row 0; row 2 as the first plan left it (src row 0). Row 1
     * is left out: the refused scatter {1, 4} may have written its good row (only the bad row is
     * promised unwritten on OpenCL; ref checks every row before writing any) */
    for (int i = 0; i < 32; i++) {
        const int r = i / 8, c = i % 8;
        if (r == 1) continue;
        const float want = r == 0 ? (float)(8 + c) : (float)c;
        ck_assert_msg(back[i] == want, "row %d col %d: %g, want %g", r, c, (double)back[i], (double)want);
    }
    quanta_plan_destroy(p);
    quanta_graph_destroy(g);
    quanta_buffer_destroy(buf);
}
END_TEST

/* A plan for attention over q, k, v of shape dq (and kv_lens of shape dl when given) on the
 * OpenCL backend; t receives the inputs q, k, v, l. */
static quanta_plan *attn_plan_on(quanta_backend *be, const quanta_tensor_desc *dq, const quanta_tensor_desc *dl,
                                 quanta_graph **g, quanta_tensor *t[4]) {
    static const char *const names[] = {"q", "k", "v"};
    quanta_tensor *y;
    ck_assert_int_eq(quanta_graph_create(g), QUANTA_OK);
    for (int i = 0; i < 3; i++) ck_assert_int_eq(quanta_graph_input(*g, names[i], dq, &t[i]), QUANTA_OK);
    t[3] = NULL;
    if (dl) ck_assert_int_eq(quanta_graph_input(*g, "l", dl, &t[3]), QUANTA_OK);
    quanta_attention_params ap = {0};
    ck_assert_int_eq(quanta_attention(*g, t[0], t[1], t[2], NULL, t[3], &ap, &y), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(*g, y), QUANTA_OK);
    quanta_plan *p;
    ck_assert_int_eq(quanta_plan_create(*g, be, &p), QUANTA_OK);
    return p;
}
static quanta_plan *attn_plan(const quanta_tensor_desc *dq, const quanta_tensor_desc *dl, quanta_graph **g,
                              quanta_tensor *t[4]) {
    return attn_plan_on(g_cl, dq, dl, g, t);
}

/* kv_lens are checked by the kernels (one work-item per row on CPUs, the local-memory tiles on
 * GPUs: both run here) and reported at the plan's synchronize. */
START_TEST(test_attention_bad_kv_lens) {
    quanta_tensor_desc dq = qt_desc(QUANTA_F32, 4, 1, 1, 2, 64), dl = qt_desc(QUANTA_I32, 1, 1, 0, 0, 0);
    for (int variant = 0; variant < 2; variant++) {
        quanta_backend *be = g_cl;
        if (variant == 1) {
            setenv("QUANTA_OPENCL_ATTENTION", "local", 1);
            quanta_status os = quanta_backend_open("opencl", &be);
            unsetenv("QUANTA_OPENCL_ATTENTION");
            ck_assert_msg(os == QUANTA_OK, "%s", quanta_last_error());
        }
        quanta_graph *g;
        quanta_tensor *t[4];
        quanta_plan *p = attn_plan_on(be, &dq, &dl, &g, t);
        ck_assert_int_eq(quanta_plan_fallback_count(p), 0);
        float z[128] = {0};
        int32_t len = 3;
        for (int i = 0; i < 3; i++) ck_assert_int_eq(quanta_plan_set_input(p, t[i], z, sizeof z), QUANTA_OK);
        ck_assert_int_eq(quanta_plan_set_input(p, t[3], &len, 4), QUANTA_OK);
        ck_assert_int_eq(quanta_plan_execute(p), QUANTA_ERR_INVALID_ARGUMENT);
        ck_assert_msg(strstr(quanta_last_error(), "kv_lens[0] = 3"), "%s", quanta_last_error());
        /* a negative length too, and the flag is clear for the next run */
        len = -1;
        ck_assert_int_eq(quanta_plan_set_input(p, t[3], &len, 4), QUANTA_OK);
        ck_assert_int_eq(quanta_plan_execute(p), QUANTA_ERR_INVALID_ARGUMENT);
        ck_assert_msg(strstr(quanta_last_error(), "kv_lens[0] = -1"), "%s", quanta_last_error());
        len = 2;
        ck_assert_int_eq(quanta_plan_set_input(p, t[3], &len, 4), QUANTA_OK);
        ck_assert_msg(quanta_plan_execute(p) == QUANTA_OK, "%s", quanta_last_error());
        quanta_plan_destroy(p);
        quanta_graph_destroy(g);
        if (be != g_cl) quanta_backend_close(be);
    }
}
END_TEST

/* Head dims beyond the kernel's register tile fall back to the reference, correctly. */
START_TEST(test_attention_unsupported_falls_back) {
    quanta_tensor_desc dq = qt_desc(QUANTA_F32, 4, 1, 1, 2, 512);
    quanta_graph *g;
    quanta_tensor *t[4];
    quanta_plan *p = attn_plan(&dq, NULL, &g, t);
    ck_assert_int_eq(quanta_plan_fallback_count(p), 1);
    quanta_plan_destroy(p);
    quanta_graph_destroy(g);

    /* Called directly, run refuses what supports_op declined. */
    void *self;
    const qn_backend_ops *ops = qn_backend_vtable(g_cl, &self);
    ck_assert_ptr_nonnull(ops);
    qn_tensor tq = {.desc = dq};
    qn_node node = {.op = QN_OP_ATTENTION, .nsrc = 3, .src = {&tq, &tq, &tq}, .dst = &tq};
    ck_assert(!ops->supports_op(self, &node));
    ck_assert_int_eq(ops->run(self, &node), QUANTA_ERR_UNSUPPORTED);
    ck_assert_int_eq(ops->run(self, NULL), QUANTA_ERR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(test_memory_errors) {
    void *self, *h = NULL;
    const qn_backend_ops *ops = qn_backend_vtable(g_cl, &self);
    ck_assert_ptr_nonnull(ops);
    /* Larger than the device's largest allocation: an error, not a crash. */
    ck_assert_int_eq(ops->alloc(self, (size_t)1 << 62, &h), QUANTA_ERR_OUT_OF_MEMORY);
    ck_assert_ptr_null(h);
    ck_assert_int_eq(ops->alloc(self, 16, NULL), QUANTA_ERR_INVALID_ARGUMENT);
    double bw;
    const qn_bench_hooks *hooks = qn_bench_hooks_of(g_cl, &self);
    ck_assert_ptr_nonnull(hooks);
    ck_assert_int_eq(hooks->copy_bandwidth(self, 8, &bw), QUANTA_ERR_INVALID_ARGUMENT);
    /* The engine's limit covers buffers. */
    ck_assert_int_eq(quanta_backend_set_memory_limit(g_cl, 1024), QUANTA_OK);
    quanta_tensor_desc d = qt_desc(QUANTA_F32, 1, 1 << 20, 0, 0, 0);
    quanta_buffer *b = NULL;
    ck_assert_int_eq(quanta_buffer_create(g_cl, &d, &b), QUANTA_ERR_OUT_OF_MEMORY);
    ck_assert_int_eq(quanta_backend_set_memory_limit(g_cl, 0), QUANTA_OK);
    /* Split-KV scratch is booked too: a limit just above the tensors refuses it. */
    uint64_t in_use;
    ck_assert_int_eq(quanta_backend_memory_stats(g_cl, &in_use, NULL), QUANTA_OK);
    ck_assert_int_eq(quanta_backend_set_memory_limit(g_cl, in_use + 4), QUANTA_OK);
    qn_mem_stats *stats = &g_cl->stats;
    ck_assert_int_eq(qn_mem_reserve(stats, 1 << 20, "test"), QUANTA_ERR_OUT_OF_MEMORY);
    ck_assert_int_eq(quanta_backend_set_memory_limit(g_cl, 0), QUANTA_OK);
}
END_TEST

START_TEST(test_device_specs) {
    quanta_backend *be = NULL;
    ck_assert_int_ne(quanta_backend_open("opencl:999", &be), QUANTA_OK);
    ck_assert_ptr_null(be);
    quanta_device_info info;
    ck_assert_int_eq(quanta_backend_device(g_cl, &info), QUANTA_OK);
    ck_assert_str_eq(info.backend, "opencl");
    ck_assert(info.name[0] != '\0');
    ck_assert_msg(strstr(info.details, "local memory"), "%s", info.details);
    void *self;
    const qn_backend_ops *ops = qn_backend_vtable(g_cl, &self);
    int n = 0;
    ck_assert_int_eq(ops->device_count(&n), QUANTA_OK);
    ck_assert_int_ge(n, 1);
    ck_assert_int_eq(ops->device_info(n, &info), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(ops->device_info(0, NULL), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(ops->device_count(NULL), QUANTA_ERR_INVALID_ARGUMENT);
    void *s2 = NULL;
    qn_mem_stats st = {0};
    ck_assert_int_eq(ops->open(n, &st, &s2), QUANTA_ERR_NO_DEVICE);
    ck_assert_ptr_null(s2);
}
END_TEST

/* quanta_backend_prefers_weight: ggml Q5_0 against q8 exactly where the int8 Q5_0 GEMV runs
 * with vpdpbusd (a CPU whose device details name AVX-512 VNNI, no switch overriding it) and
 * QUANTA_OPENCL_KEEP_Q5_0=1 asks for it, no other format or alternative, 0 for bad arguments. */
START_TEST(test_prefers_weight) {
    quanta_device_info info;
    ck_assert_int_eq(quanta_backend_device(g_cl, &info), QUANTA_OK);
    const int vnni = strstr(info.details, "AVX-512 VNNI") && !getenv("QUANTA_OPENCL_VNNI") &&
                     !getenv("QUANTA_OPENCL_GEMM") && !getenv("QUANTA_OPENCL_CLASS");
    quanta_tensor_desc q5 = {QUANTA_GGML_Q5_0, 2, {2048, 640}, 0, 0};
    unsetenv("QUANTA_OPENCL_KEEP_Q5_0");
    ck_assert_int_eq(quanta_backend_prefers_weight(g_cl, &q5, QUANTA_Q8), 0); /* off by default */
    setenv("QUANTA_OPENCL_KEEP_Q5_0", "1", 1);
    const int got = quanta_backend_prefers_weight(g_cl, &q5, QUANTA_Q8);
    if (vnni) ck_assert_int_eq(got, 1);
    if (got) ck_assert_msg(strstr(info.details, "AVX-512 VNNI"), "%s", info.details);
    ck_assert_int_eq(quanta_backend_prefers_weight(g_cl, &q5, QUANTA_Q4), 0);
    ck_assert_int_eq(quanta_backend_prefers_weight(g_cl, &q5, QUANTA_GGML_Q5_0), 0);
    const quanta_dtype others[] = {QUANTA_GGML_Q4_K, QUANTA_GGML_Q6_K, QUANTA_GGML_Q8_0, QUANTA_GGML_Q4_0, QUANTA_F16};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        quanta_tensor_desc d = {others[i], 2, {512, 1024}, 0, 0};
        ck_assert_int_eq(quanta_backend_prefers_weight(g_cl, &d, QUANTA_Q8), 0);
    }
    setenv("QUANTA_OPENCL_KEEP_Q5_0", "0", 1);
    ck_assert_int_eq(quanta_backend_prefers_weight(g_cl, &q5, QUANTA_Q8), 0);
    setenv("QUANTA_OPENCL_KEEP_Q5_0", "1", 1);
    ck_assert_int_eq(quanta_backend_prefers_weight(g_cl, &q5, QUANTA_Q8), got);
    quanta_tensor_desc bad = {QUANTA_GGML_Q5_0, 2, {16, 100}, 0, 0}; /* cols not whole blocks */
    ck_assert_int_eq(quanta_backend_prefers_weight(g_cl, &bad, QUANTA_Q8), 0);
    bad = (quanta_tensor_desc){QUANTA_GGML_Q5_0, 3, {2, 16, 64}, 0, 0}; /* not a matrix */
    ck_assert_int_eq(quanta_backend_prefers_weight(g_cl, &bad, QUANTA_Q8), 0);
    ck_assert_int_eq(quanta_backend_prefers_weight(NULL, &q5, QUANTA_Q8), 0);
    ck_assert_int_eq(quanta_backend_prefers_weight(g_cl, NULL, QUANTA_Q8), 0);
    unsetenv("QUANTA_OPENCL_KEEP_Q5_0");
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("opencl_misc");
    TCase *tc = tcase_create("misc");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_device_specs);
    tcase_add_test(tc, test_prefers_weight);
    tcase_add_test(tc, test_get_rows_bad_id);
    tcase_add_test(tc, test_write_rows_bad_start);
    tcase_add_test(tc, test_attention_bad_kv_lens);
    tcase_add_test(tc, test_attention_unsupported_falls_back);
    tcase_add_test(tc, test_memory_errors);
    tcase_add_test(tc, test_attention_memory_is_linear);
    tcase_add_test(tc, test_attention_decode_long);
    tcase_add_test(tc, test_program_cache);
    tcase_add_test(tc, test_events_table);
    tcase_add_test(tc, test_async_writes);
    tcase_add_test(tc, test_program_cache_unwritable);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    const int open_rc = qt_cl_open(&g_cl);
    if (open_rc) return open_rc;
    int rc = qt_run_suite(suite());
    quanta_backend_close(g_cl);
    return rc;
}
