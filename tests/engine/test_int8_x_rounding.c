/*
 * test_int8_x_rounding.c — the backends' GEMVs that quantize x to int8 round it to nearest, as every
 * bound on their error assumes (|x - dx·xq| <= dx/2 per element: conformance/thresholds.c,
 * "Cancellation"; tests/opencl/test_opencl_batch.c), checked where random data cannot tell: a
 * truncating kernel's error (up to a whole step) stays inside those worst-case bounds on random
 * signs, and inside the conformance suite's NMSE bound for one plane.
 *
 * Each backend's int8 paths, from its kernels' documented arithmetic (dx = max|x|/127 per block of
 * 32 columns, xq = x/dx rounded to nearest even):
 *   - cuda, ggml weights, M <= 8 rows of x, K >= 512 (kernels_cuda/ggml_xq.cuh): matmul one plane
 *     (M = 1, K <= 2048: x quantized inside the GEMV; M = 3 or K = 4096: by its own launch, then the
 *     staged q4_0/q8_0 kernel or the generic one); matmul_glu a second plane, xl = rn(254·(x/dx - xq)),
 *     x ≈ dx·(xq + xl/254);
 *   - opencl under QUANTA_OPENCL_GEMM=int8, Q5_0 weights, M <= 8 (kernels_cl/gemv_i8.cl): two planes,
 *     xl = rn(256·(x/dx - xq)) clamped to ±127, x ≈ dx·(xq + xl/256), matmul and matmul_glu alike;
 *     q8 weights: the int8 GEMM at every M (one plane per block of 256 columns);
 *   - opencl under QUANTA_OPENCL_Q8_I8=1, q8 weights, M <= 8 (gemv_i8.cl, qn_gemv_q8_i8): three planes of
 *     base 254, xl = rn(254·(x/dx - xq)), xm = rn(254·(254·(x/dx - xq) - xl)), stored as int8 unclamped;
 *   - ref: x itself.
 * With three planes a truncated second or third plane is corrected by the next to ~1e-5 of a step (below
 * f32 precision here); the first plane truncated overflows the second (190 does not fit int8).
 * The data: each block's first x is 127 (so dx = 1 and the codes are x's own rounding), every other
 * x = j + 1 - 63.7/S (S the second plane's step, 254 or 256; j random in 0..110), so the first plane
 * rounds up by 63.7/S (truncation would round down by 1 - 63.7/S) and the second plane's value
 * -63.7 rounds to -64 (truncation: -63); every weight positive (hand-written blocks, decoded here
 * from ggml's documented layouts), so no error cancels. The result must match the product with x's
 * codes to f32 summation precision, and each case checks that the truncating model lies outside
 * that tolerance (the test can fail). Backends without a device are skipped.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qt_backends.h"
#include "qt_plan_guard.h"
#include "qt_tensor.h"
#include "test_util.h"

typedef struct rcase {
    quanta_dtype w; /* QUANTA_GGML_Q8_0, Q4_0, Q5_0 or QUANTA_Q8 */
    const char *ocl_env; /* the OpenCL switch its int8 path needs: "QUANTA_OPENCL_GEMM" = int8, else Q8_I8 = 1 */
    int glu;        /* matmul_glu (silu) instead of matmul */
    int64_t M, N, K;
} rcase;

/* The model of a backend's x for one case: planes 0 (x itself), 1, 2 or 3, the lower planes' step S,
 * and whether their codes are clamped to ±127 (else stored as int8: wrapped). */
typedef struct xmodel {
    int planes;
    float S;
    int clamp;
} xmodel;

static int gemm_int8(const rcase *c) { return !strcmp(c->ocl_env, "QUANTA_OPENCL_GEMM"); }

/* 0 when the backend's int8 path does not take the case (not run there). */
static int model_of(const char *backend, const rcase *c, xmodel *m) {
    memset(m, 0, sizeof *m);
    if (!strcmp(backend, "ref")) return 1;
    if (!strcmp(backend, "cuda")) { /* q8: f16 x, not an int8 path */
        m->planes = c->glu ? 2 : 1, m->S = 254.0f;
        return c->w != QUANTA_Q8 && c->K >= 512 && c->M <= 8;
    }
    if (!strcmp(backend, "opencl")) {
        if (c->w == QUANTA_GGML_Q5_0) m->planes = 2, m->S = 256.0f, m->clamp = 1;
        else if (c->w == QUANTA_Q8 && gemm_int8(c)) m->planes = 1;
        else if (c->w == QUANTA_Q8) m->planes = 3, m->S = 254.0f;
        return (c->w == QUANTA_GGML_Q5_0 || c->w == QUANTA_Q8) && c->M <= 8 && (c->w == QUANTA_Q8 || gemm_int8(c));
    }
    return 0;
}

static void put_half(unsigned char *b, uint16_t h) { b[0] = (unsigned char)h, b[1] = (unsigned char)(h >> 8); }

/* Quanta's q8 (quanta.h: int8 q[N][K], then an f32 scale per row, w = q·scale), positive. */
static size_t make_q8(int64_t N, int64_t K, qt_rng *r, unsigned char **blocks, double *w) {
    const size_t bytes = (size_t)(N * K) + 4 * (size_t)N;
    unsigned char *b = malloc(bytes);
    ck_assert_ptr_nonnull(b);
    for (int64_t n = 0; n < N; n++) {
        const float sc = qt_uniform(r, 0.5f, 1.0f) / 1024.0f;
        memcpy(b + N * K + 4 * n, &sc, 4);
        for (int64_t k = 0; k < K; k++) {
            const int q = 1 + (int)(qt_next(r) % 127);
            b[n * K + k] = (unsigned char)(signed char)q, w[n * K + k] = (double)sc * q;
        }
    }
    *blocks = b;
    return bytes;
}

/* N rows of K positive weights in format t as ggml blocks of 32 (bytes into *blocks), and their
 * values decoded from the documented layouts into w[N*K]: Q8_0 = f16 d, 32 int8 q, w = d·q;
 * Q4_0 = f16 d, 16 bytes of nibbles (element j low nibble of byte j, element j + 16 high), w = d·(q - 8);
 * Q5_0 = f16 d, u32 of fifth bits, the nibbles as Q4_0, w = d·(q - 16). */
static size_t make_weights(quanta_dtype t, int64_t N, int64_t K, qt_rng *r, unsigned char **blocks, double *w) {
    if (t == QUANTA_Q8) return make_q8(N, K, r, blocks, w);
    const size_t bb = t == QUANTA_GGML_Q8_0 ? 34 : t == QUANTA_GGML_Q4_0 ? 18 : 22, nb = (size_t)(N * K / 32);
    unsigned char *b = malloc(nb * bb);
    ck_assert_ptr_nonnull(b);
    for (size_t i = 0; i < nb; i++) {
        unsigned char *p = b + i * bb;
        put_half(p, quanta_f32_to_f16(qt_uniform(r, 0.5f, 1.0f) / 1024.0f));
        const double d = qt_rd_half(p);
        double *wv = w + i * 32;
        if (t == QUANTA_GGML_Q8_0) {
            for (int j = 0; j < 32; j++) {
                const int q = 1 + (int)(qt_next(r) % 127);
                p[2 + j] = (unsigned char)(signed char)q, wv[j] = d * q;
            }
        } else {
            unsigned char *qs = p + (t == QUANTA_GGML_Q4_0 ? 2 : 6);
            if (t == QUANTA_GGML_Q5_0) memset(p + 2, 0xFF, 4); /* every fifth bit set: q = 16 + nibble */
            /* positive weights: Q4_0 nibbles 9..15 (q - 8 >= 1), Q5_0 nibbles 1..15 under a set fifth bit */
            const int base = t == QUANTA_GGML_Q4_0 ? 9 : 1, span = t == QUANTA_GGML_Q4_0 ? 7 : 15;
            const int zero = t == QUANTA_GGML_Q4_0 ? 8 : 0; /* Q5_0: (16 + nibble) - 16 */
            for (int j = 0; j < 16; j++) {
                const int lo = base + (int)(qt_next(r) % (uint64_t)span), hi = base + (int)(qt_next(r) % (uint64_t)span);
                qs[j] = (unsigned char)(lo | hi << 4);
                wv[j] = d * (lo - zero), wv[j + 16] = d * (hi - zero);
            }
        }
    }
    *blocks = b;
    return nb * bb;
}

/* A lower plane's code as stored: clamped to ±127, or wrapped as int8. */
static float stored(float v, const xmodel *m) {
    if (m->clamp) return fminf(fmaxf(v, -127.0f), 127.0f);
    return (float)(signed char)(unsigned char)((int)v & 255);
}

/* x's value as the backend's codes hold it (m: the model); trunc 1: a kernel that truncates every
 * plane instead, 2: only the lower planes. */
static double coded(float x, const xmodel *m, int trunc) {
    if (m->planes == 0) return x;
    const float q = trunc == 1 ? truncf(x) : rintf(x); /* dx = 1: x/dx is x */
    if (m->planes == 1) return q;
    const float t = m->S * (x - q), l = trunc ? truncf(t) : rintf(t);
    double v = (double)q + (double)stored(l, m) / m->S;
    if (m->planes == 3) {
        const float e = (t - l) * m->S;
        v += (double)stored(trunc ? truncf(e) : rintf(e), m) / ((double)m->S * m->S);
    }
    return v;
}

static double silu(double v) { return v / (1.0 + exp(-v)); }

/* y[M,N] of the case from x and the decoded weights, with x as the model codes it. */
static void model_result(const rcase *c, const float *x, const double *wg, const double *wu, const xmodel *m,
                         int trunc, double *y) {
    for (int64_t i = 0; i < c->M; i++)
        for (int64_t n = 0; n < c->N; n++) {
            double g = 0, u = 0;
            for (int64_t k = 0; k < c->K; k++) {
                const double v = coded(x[i * c->K + k], m, trunc);
                g += wg[n * c->K + k] * v;
                if (c->glu) u += wu[n * c->K + k] * v;
            }
            y[i * c->N + n] = c->glu ? silu(g) * u : g;
        }
}

static void run_case(quanta_backend *be, const char *name, const rcase *c, qt_rng *r) {
    xmodel m;
    if (!model_of(name, c, &m)) return;
    const int64_t M = c->M, N = c->N, K = c->K;
    const float S = m.S > 0 ? m.S : 254.0f;
    float *x = malloc((size_t)(M * K) * sizeof *x), *y = malloc((size_t)(M * N) * sizeof *y);
    double *wg = malloc((size_t)(N * K) * sizeof *wg), *wu = malloc((size_t)(N * K) * sizeof *wu);
    double *want = malloc((size_t)(M * N) * sizeof *want), *trunc = malloc((size_t)(M * N) * sizeof *trunc);
    ck_assert(x && y && wg && wu && want && trunc);
    for (int64_t i = 0; i < M * K; i++)
        x[i] = i % 32 == 0 ? 127.0f : (float)(qt_next(r) % 111) + 1.0f - 63.7f / S;
    unsigned char *bg, *bu = NULL;
    const size_t wbytes = make_weights(c->w, N, K, r, &bg, wg);
    if (c->glu) make_weights(c->w, N, K, r, &bu, wu);
    model_result(c, x, wg, wu, &m, 0, want);
    model_result(c, x, wg, wu, &m, 1, trunc);
    if (m.planes == 2) { /* the nearer of the two truncating kernels (three planes: see the top) */
        double *t2 = malloc((size_t)(M * N) * sizeof *t2);
        ck_assert_ptr_nonnull(t2);
        model_result(c, x, wg, wu, &m, 2, t2);
        for (int64_t i = 0; i < M * N; i++)
            if (fabs(t2[i] - want[i]) < fabs(trunc[i] - want[i])) trunc[i] = t2[i];
        free(t2);
    }

    quanta_graph *g;
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    quanta_tensor_desc xd = {QUANTA_F32, 2, {M, K}, 0, 0}, wd = {c->w, 2, {N, K}, 0, 0};
    quanta_tensor *tx, *tg, *tu = NULL, *ty;
    ck_assert_int_eq(quanta_graph_input(g, "x", &xd, &tx), QUANTA_OK);
    ck_assert_msg(quanta_graph_constant(g, "w", &wd, bg, wbytes, &tg) == QUANTA_OK, "%s", quanta_last_error());
    if (c->glu) ck_assert_int_eq(quanta_graph_constant(g, "w_up", &wd, bu, wbytes, &tu), QUANTA_OK);
    const quanta_status st = c->glu ? quanta_matmul_glu(g, tx, tg, tu, QUANTA_GLU_SILU, &ty) : quanta_matmul(g, tx, tg, &ty);
    ck_assert_msg(st == QUANTA_OK, "%s", quanta_last_error());
    ck_assert_int_eq(quanta_graph_output(g, ty), QUANTA_OK);
    quanta_plan *p;
    ck_assert_msg(quanta_plan_create(g, be, &p) == QUANTA_OK, "%s: %s", name, quanta_last_error());
    ck_assert_int_eq(quanta_plan_fallback_count(p), 0);
    qt_plan_guard(p);
    ck_assert_int_eq(quanta_plan_set_input(p, tx, x, (size_t)(M * K) * sizeof *x), QUANTA_OK);
    ck_assert_msg(quanta_plan_execute(p) == QUANTA_OK, "%s: %s", name, quanta_last_error());
    qt_poison_f32(y, (size_t)(M * N));
    ck_assert_int_eq(quanta_plan_get_output(p, ty, y, (size_t)(M * N) * sizeof *y), QUANTA_OK);

    /* f32 sums of exact chunk products: a few roundings per chunk, K/32 chunks (all terms positive,
     * so relative to y); glu: two products, relative errors add */
    const double tol = (c->glu ? 2.0 : 1.0) * (double)(K / 32 + 8) * ldexp(1.0, -23);
    double worst = 0, gap = INFINITY;
    for (int64_t i = 0; i < M * N; i++) {
        ck_assert_msg(isfinite(y[i]), "%s: element %lld is %g", name, (long long)i, (double)y[i]);
        const double e = fabs((double)y[i] - want[i]) / want[i], t = fabs(trunc[i] - want[i]) / want[i];
        ck_assert_msg(e <= tol, "%s %s w=%s M=%lld N=%lld K=%lld: result %lld is %.9g, the rounded codes' %.9g "
                      "(relative %.3g > %.3g), truncated codes would give %.9g",
                      name, c->glu ? "matmul_glu" : "matmul", quanta_dtype_name(c->w), (long long)M, (long long)N,
                      (long long)K, (long long)i, (double)y[i], want[i], e, tol, trunc[i]);
        worst = fmax(worst, e), gap = fmin(gap, t);
    }
    /* the truncating model is far outside the tolerance (else this case could not fail) */
    if (m.planes) ck_assert_msg(gap > 4 * tol, "%s: truncation's %.3g not distinguishable from %.3g", name, gap, tol);
    printf("%-6s %-10s w=%-5s M=%lld N=%lld K=%lld planes %d: off the rounded codes' result by <= %.2g "
           "(tolerance %.2g; truncated codes: >= %.2g)\n",
           name, c->glu ? "matmul_glu" : "matmul", quanta_dtype_name(c->w), (long long)M, (long long)N, (long long)K,
           m.planes, worst, tol, m.planes ? gap : 0.0);
    quanta_plan_destroy(p);
    quanta_graph_destroy(g);
    free(x), free(y), free(wg), free(wu), free(want), free(trunc), free(bg), free(bu);
}

#define GEMM "QUANTA_OPENCL_GEMM"
#define Q8I8 "QUANTA_OPENCL_Q8_I8"
static const rcase kCases[] = {
    {QUANTA_GGML_Q8_0, GEMM, 0, 1, 64, 1024}, /* cuda: x quantized inside the GEMV */
    {QUANTA_GGML_Q8_0, GEMM, 0, 1, 64, 4096}, /* cuda: quantize launch, staged q8_0 GEMV */
    {QUANTA_GGML_Q4_0, GEMM, 0, 1, 64, 4096}, /* cuda: staged q4_0 */
    {QUANTA_GGML_Q5_0, GEMM, 0, 3, 40, 1024}, /* cuda: generic GEMV, 4 x rows; opencl: gemv_i8 */
    {QUANTA_GGML_Q5_0, GEMM, 0, 1, 33, 512},  /* opencl: gemv_i8, odd N (row pairs) */
    {QUANTA_GGML_Q8_0, GEMM, 1, 1, 64, 1024}, /* cuda: matmul_glu, two planes */
    {QUANTA_GGML_Q4_0, GEMM, 1, 3, 40, 1024},
    {QUANTA_GGML_Q5_0, GEMM, 1, 1, 48, 512},  /* opencl: gemv_i8's gate and up rows */
    {QUANTA_Q8, GEMM, 0, 1, 64, 1024},        /* opencl: the int8 GEMM at M = 1, one plane */
    {QUANTA_Q8, Q8I8, 0, 1, 64, 1024},        /* opencl: qn_gemv_q8_i8, three planes */
    {QUANTA_Q8, Q8I8, 0, 5, 33, 512},
    {QUANTA_Q8, Q8I8, 1, 1, 40, 1024},        /* its gate and up rows */
};
#define NCASES (int)(sizeof kCases / sizeof kCases[0])

START_TEST(int8_x_rounds_to_nearest) {
    qt_rng r = qt_rng_make(0x18A7 + (uint64_t)_i);
    /* the OpenCL switch that takes the case's int8 path on every CPU (AVX-512 VNNI or not) */
    const rcase *c = &kCases[_i];
    const char *var = c->ocl_env, *saved = getenv(var);
    char keep[64] = "";
    if (saved) snprintf(keep, sizeof keep, "%s", saved);
    setenv(var, gemm_int8(c) ? "int8" : "1", 1);
    quanta_backend *be;
    const char *name;
    for (int i = 0; qt_next_backend(&i, &be, &name);) {
        run_case(be, name, c, &r);
        quanta_backend_close(be);
    }
    if (saved) setenv(var, keep, 1);
    else unsetenv(var);
}
END_TEST

int main(void) {
    Suite *s = suite_create("int8_x_rounding");
    TCase *tc = tcase_create("cases");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, int8_x_rounds_to_nearest, 0, NCASES);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
