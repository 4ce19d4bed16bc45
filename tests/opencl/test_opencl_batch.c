/*
 * test_opencl_batch.c — what a q8 matmul row gives alone and inside a batch on OpenCL.
 *
 * The OpenCL matmul picks its kernel by the row count M (engine/opencl/cl_matmul.c): M <= 8
 * the GEMV on f32 x, M > 8 the tuning table's GEMM path, on AVX-512 VNNI CPUs the int8 kernel
 * that first rounds x to int8 per block of B = 256 columns (128 where K needs it). So a row is
 * bit for bit the same at every M of one side of that line, and between the two sides differs
 * by at most the int8 rounding of x:
 *
 *   |y_alone - y_batch| <= bound_r = s_w · Σ_k |q_k| · s_b(k) / 2  (+ f32 summation error),
 *
 * q_k the weight row's codes, s_w its scale, s_b = max|x| / 127 over x's block b (x rounded
 * to nearest: |x - s_b·xq| <= s_b / 2). This test checks, for random x and W (printed seed):
 *   - every M: every row within bound_r (and the f32 error) of the float64 product of the
 *     decoded weights — whichever kernel ran;
 *   - rows of one side of M = 8 bit for bit equal at every M of that side;
 *   - with QUANTA_OPENCL_GEMM=int8 (the int8 kernel at every M, decode included) bit for bit
 *     equal at every M: the setting that makes q8 batch-invariant, at decode's cost
 *     (bench/NOTES.md section 1 v3: 1.36x the GEMV's CPU time per token);
 *   - f32 weights: bit for bit equal at every M (the GEMV and the GEMM sum a row in one order).
 *
 * ggml Q5_0 weights (a GGUF file's tensors under --quant keep): M <= 8 runs qn_gemv_i8 on AVX-512
 * VNNI CPUs or under QUANTA_OPENCL_GEMM=int8 (kernels_cl/gemv_i8.cl: x rounded per block of 32
 * columns to two int8 planes, x ≈ dx·(xh + xl/256) with dx = max|x|/127, so each x is off by at
 * most dx/256), else the float GEMV; M > 8 the float row GEMM (the int8 GEMM takes q8 only, so
 * QUANTA_OPENCL_GEMM=int8 does NOT make Q5_0 invariant). Checked, each setting:
 *   - every M within bound_r = Σ_k |w_k| · dx_b(k) / 256 (+ f32 summation error) of float64;
 *   - rows of one side of M = 8 bit for bit equal at every M of that side; across the line only
 *     the bound, and how close it came is printed.
 * The reference decodes W from its documented layout (formats/README.md: int8 codes, then an
 * f32 scale per row; ggml's Q5_0 block: f16 d, 32 high bits, 16 bytes of nibbles, w = d·(q - 16)),
 * not through the library. Exits 77 (SKIP) without an OpenCL device.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cl_test.h"
#include "qt_plan_guard.h"
#include "qt_tensor.h"
#include "test_util.h"

#define MAXM 64
static const int g_ms[] = {1, 2, 3, 5, 8, 9, 12, 15, 16, 24, 33, 64};
#define NMS ((int)(sizeof g_ms / sizeof g_ms[0]))

typedef struct problem {
    quanta_dtype wdt; /* q8, f32 or ggml q5_0 */
    int64_t N, K;
    float *x;       /* [MAXM, K] */
    void *wq;       /* W [N, K] in wdt's layout */
    size_t wbytes;
    double *exact;  /* [MAXM, N]: x · decoded W^T in float64 */
    double *bound;  /* [MAXM, N]: int8 rounding bound of x plus f32 summation error */
} problem;

/* W[n, k] decoded from wdt's documented layout; *mag_w: what the kernel's f32 sums carry for it
 * (Q5_0's integer form sums d·q and subtracts 16·d separately: |d|·(q + 16)). */
static double weight_at(const problem *p, int64_t n, int64_t k, double *mag_w) {
    const int64_t K = p->K;
    const unsigned char *w = p->wq;
    double v;
    if (p->wdt == QUANTA_Q8) {
        float sw;
        memcpy(&sw, w + p->N * K + 4 * n, 4);
        v = (double)(int8_t)w[n * K + k] * sw;
    } else if (p->wdt == QUANTA_F32) {
        float f;
        memcpy(&f, w + 4 * (n * K + k), 4);
        v = f;
    } else { /* Q5_0: 22-byte blocks of 32 weights, rows of K / 32 blocks */
        const unsigned char *blk = w + 22 * (n * (K / 32) + k / 32);
        const int j = (int)(k % 32);
        const uint32_t qh = (uint32_t)blk[2] | (uint32_t)blk[3] << 8 | (uint32_t)blk[4] << 16 | (uint32_t)blk[5] << 24;
        const int lo = j < 16 ? blk[6 + j] & 15 : blk[6 + j - 16] >> 4, q = lo | (int)((qh >> j) & 1) << 4;
        const double d = qt_rd_half(blk);
        *mag_w = fabs(d) * (q + 16);
        return d * (q - 16);
    }
    *mag_w = fabs(v);
    return v;
}

/* Q5_0 blocks of w [rows, K] written by hand (the library has no Q5_0 encoder; GGUF files bring
 * theirs): d = max|w| / 15 as binary16 (truncated; its bits decoded back for the codes), codes
 * q = round(w / d) + 16 in 0..31. Any valid block serves: the reference decodes the bytes. */
static void encode_q5_0(const float *w, int64_t nblk, unsigned char *out) {
    for (int64_t b = 0; b < nblk; b++, w += 32, out += 22) {
        float amax = 1e-3f;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(w[j]));
        const float d = amax / 15.0f;
        uint32_t fb;
        memcpy(&fb, &d, 4); /* a normal binary16 for these magnitudes: exponent rebased, mantissa cut */
        const unsigned h = ((fb >> 16) & 0x8000u) | ((((fb >> 23) & 255u) - 112u) << 10) | ((fb >> 13) & 1023u);
        out[0] = (unsigned char)h, out[1] = (unsigned char)(h >> 8);
        const double dd = qt_rd_half(out);
        uint32_t qh = 0;
        memset(out + 6, 0, 16);
        for (int j = 0; j < 32; j++) {
            const int q = (int)fmin(31.0, fmax(0.0, nearbyint(w[j] / dd) + 16.0));
            qh |= (uint32_t)(q >> 4) << j;
            out[6 + (j % 16)] |= (unsigned char)((q & 15) << (j < 16 ? 0 : 4));
        }
        for (int i = 0; i < 4; i++) out[2 + i] = (unsigned char)(qh >> (8 * i));
    }
}

static void problem_reference(problem *p);

/* x's blocks: the int8 GEMM's 256 (128) columns for q8, gemv_i8's 32 for Q5_0 */
static int64_t x_block(quanta_dtype wdt, int64_t K) { return wdt == QUANTA_GGML_Q5_0 ? 32 : K % 256 == 0 ? 256 : 128; }

static void problem_make(problem *p, quanta_dtype wdt, qt_rng *r) {
    p->wdt = wdt;
    p->K = 256 * (1 + (int64_t)(qt_next(r) % 3)) + (qt_next(r) % 2 ? 128 : 0); /* 256 .. 896: B = 256 or 128 */
    if (wdt == QUANTA_GGML_Q5_0) p->K += 32 * (int64_t)(qt_next(r) % 4);         /* any whole number of blocks */
    p->N = 5 + (int64_t)(qt_next(r) % 60);                                      /* off the 4-row tiles */
    const int64_t N = p->N, K = p->K;
    float *w = malloc((size_t)(N * K) * sizeof *w);
    p->x = malloc((size_t)(MAXM * K) * sizeof *p->x);
    p->exact = malloc((size_t)(MAXM * N) * sizeof *p->exact);
    p->bound = malloc((size_t)(MAXM * N) * sizeof *p->bound);
    ck_assert(w && p->x && p->exact && p->bound);
    qt_fill_normal(r, w, (size_t)(N * K), 0.5f);
    for (int64_t m = 0; m < MAXM; m++) { /* rows of different scales, some outliers */
        const float sd = qt_uniform(r, 0.05f, 4.0f);
        qt_fill_normal(r, p->x + m * K, (size_t)K, sd);
        p->x[m * K + (int64_t)(qt_next(r) % (uint64_t)K)] *= 20.0f;
    }
    quanta_tensor_desc wd = {wdt, 2, {N, K}, 0, 0};
    ck_assert_int_eq(quanta_tensor_bytes(&wd, &p->wbytes), QUANTA_OK);
    const size_t want = wdt == QUANTA_Q8 ? (size_t)(N * K + 4 * N) : wdt == QUANTA_F32 ? (size_t)(N * K * 4)
                                                                                        : (size_t)(N * (K / 32) * 22);
    ck_assert_uint_eq(p->wbytes, want);
    p->wq = malloc(p->wbytes);
    ck_assert(p->wq);
    if (wdt == QUANTA_GGML_Q5_0) encode_q5_0(w, N * (K / 32), p->wq);
    else ck_assert_msg(quanta_quantize(&wd, w, p->wq, p->wbytes) == QUANTA_OK, "%s", quanta_last_error());
    free(w);
    problem_reference(p);
}

/* p->exact and p->bound from p->x and p->wq (the blocks of x as problem_make describes). */
static void problem_reference(problem *p) {
    const quanta_dtype wdt = p->wdt;
    const int64_t N = p->N, K = p->K, B = x_block(wdt, K);
    for (int64_t m = 0; m < MAXM; m++) {
        const float *xr = p->x + m * K;
        for (int64_t n = 0; n < N; n++) {
            double acc = 0, mag = 0, round = 0;
            for (int64_t b = 0; b < K / B; b++) {
                double amax = 0;
                for (int64_t k = b * B; k < (b + 1) * B; k++) amax = fmax(amax, fabs(xr[k]));
                for (int64_t k = b * B; k < (b + 1) * B; k++) {
                    double mag_w;
                    const double wk = weight_at(p, n, k, &mag_w);
                    acc += wk * xr[k];
                    mag += mag_w * fabs(xr[k]);
                    /* x's int8 rounding where a kernel rounds it (f32 weights: none): q8 one plane,
                     * |x - s_b·xq| <= s_b / 2 (s_b = amax / 127); Q5_0 two planes, <= dx / 256 */
                    if (wdt == QUANTA_Q8) round += fabs(wk) * (amax / 127.0) / 2.0;
                    /* (+1%: x / dx itself is rounded in f32, up to 127 * 2^-23 of a code, 0.4% of 1/256) */
                    if (wdt == QUANTA_GGML_Q5_0) round += fabs(wk) * (amax / 127.0) / 256.0 * 1.01;
                }
            }
            p->exact[m * N + n] = acc;
            /* f32 summation over K terms, generously: 4 K eps of the magnitude sum */
            p->bound[m * N + n] = round * (1 + 1e-5) + 4.0 * (double)K * 5.96e-8 * mag + 1e-30;
        }
    }
}

static void problem_free(problem *p) {
    free(p->x), free(p->wq), free(p->exact), free(p->bound);
}

/* y[M, N] = x[0:M] · W^T on be; asserts the matmul ran on the backend (no reference fallback). */
static void run_matmul(quanta_backend *be, const problem *p, int M, float *y) {
    quanta_graph *g;
    quanta_tensor *x, *w, *out;
    quanta_plan *plan;
    quanta_tensor_desc xd = {QUANTA_F32, 2, {M, p->K}, 0, 0}, wd = {p->wdt, 2, {p->N, p->K}, 0, 0};
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "x", &xd, &x), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_constant(g, "w", &wd, p->wq, p->wbytes, &w), QUANTA_OK);
    ck_assert_int_eq(quanta_matmul(g, x, w, &out), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(g, out), QUANTA_OK);
    plan = qt_plan_guarded(g, be);
    ck_assert_int_eq(quanta_plan_fallback_count(plan), 0);
    const size_t ny = (size_t)M * (size_t)p->N;
    qt_poison_f32(y, ny);
    ck_assert_int_eq(quanta_plan_set_input(plan, x, p->x, (size_t)M * (size_t)p->K * sizeof(float)), QUANTA_OK);
    ck_assert_msg(quanta_plan_execute(plan) == QUANTA_OK, "%s", quanta_last_error());
    ck_assert_int_eq(quanta_plan_get_output(plan, out, y, ny * sizeof *y), QUANTA_OK);
    quanta_plan_destroy(plan);
    quanta_graph_destroy(g);
}

/* Runs every M on be. all_same: rows bit for bit equal at every M; else within each side of
 * M = 8. Returns the largest |alone - batch| over rows and sides, relative to bound_r. */
static double check_backend(quanta_backend *be, const problem *p, int all_same, const char *what) {
    const int64_t N = p->N;
    float *y[NMS];
    for (int i = 0; i < NMS; i++) {
        y[i] = malloc((size_t)(g_ms[i] * N) * sizeof *y[i]);
        ck_assert(y[i]);
        run_matmul(be, p, g_ms[i], y[i]);
        for (int64_t e = 0; e < g_ms[i] * N; e++) {
            const double err = fabs((double)y[i][e] - p->exact[e]);
            ck_assert_msg(err <= p->bound[e], "%s N=%lld K=%lld M=%d row %lld col %lld: %.9g, exact %.9g, off by %.3g > %.3g",
                          what, (long long)N, (long long)p->K, g_ms[i], (long long)(e / N), (long long)(e % N),
                          (double)y[i][e], p->exact[e], err, p->bound[e]);
        }
    }
    double worst = 0;
    for (int i = 1; i < NMS; i++) {
        /* the same row at the smallest M of its side (or the smallest M at all) */
        const int j0 = all_same || g_ms[i] <= 8 ? 0 : 5; /* g_ms[5] = 9, the first M > 8 */
        for (int64_t e = 0; e < g_ms[i] * N; e++) {
            int j = j0;
            while (g_ms[j] * N <= e) j++; /* the smallest M of that side holding row e / N */
            if (j < i)
                ck_assert_msg(memcmp(&y[i][e], &y[j][e], sizeof(float)) == 0,
                              "%s N=%lld K=%lld: row %lld col %lld differs between M=%d (%.9g) and M=%d (%.9g)", what,
                              (long long)N, (long long)p->K, (long long)(e / N), (long long)(e % N), g_ms[j],
                              (double)y[j][e], g_ms[i], (double)y[i][e]);
            if (g_ms[i] > 8 && e < N * 8) /* against M = 8 (g_ms[4]): the GEMV side */
                worst = fmax(worst, fabs((double)y[i][e] - (double)y[4][e]) / p->bound[e]);
        }
    }
    for (int i = 0; i < NMS; i++) free(y[i]);
    return worst;
}

START_TEST(test_q8_rows_alone_and_batched) {
    quanta_backend *be;
    ck_assert_int_eq(qt_cl_open(&be), 0);
    qt_rng r = qt_rng_make(0xBA7C4);
    for (int rep = 0; rep < 3; rep++) {
        problem p;
        problem_make(&p, QUANTA_Q8, &r);
        const double worst = check_backend(be, &p, 0, "default paths");
        printf("q8 N=%lld K=%lld: rows bit for bit equal within M <= 8 and within M > 8; across, up to %.3g of the bound\n",
               (long long)p.N, (long long)p.K, worst);
        /* the int8 kernel at every M (lws 0 for the GEMV too): invariant across the line */
        setenv("QUANTA_OPENCL_GEMM", "int8", 1);
        quanta_backend *b8;
        ck_assert_msg(quanta_backend_open("opencl", &b8) == QUANTA_OK, "%s", quanta_last_error());
        unsetenv("QUANTA_OPENCL_GEMM");
        check_backend(b8, &p, 1, "QUANTA_OPENCL_GEMM=int8");
        quanta_backend_close(b8);
        problem_free(&p);
    }
    quanta_backend_close(be);
}
END_TEST

/* The int8 kernel rounds x to the nearest code, as the bound above assumes (|x - s_b·xq| <= s_b / 2),
 * checked where random data cannot tell: truncating instead (an error up to a whole step) stays far
 * inside that worst-case bound on random signs. Here every block's largest x is 127 (s_b = 1, the
 * codes are x itself), every other x is an integer plus 0.75 and positive, every weight positive: to
 * nearest, each code is 0.25 above its x and the row's error is 0.25·Σw, half the bound; truncated it
 * would be 0.75·Σw, over it. QUANTA_OPENCL_GEMM=int8 takes the int8 kernel at every M. */
START_TEST(test_q8_int8_rounds_x_to_nearest) {
    qt_rng r = qt_rng_make(0xBA7C7);
    problem p;
    memset(&p, 0, sizeof p);
    p.wdt = QUANTA_Q8;
    p.K = 256 * (1 + (int64_t)(qt_next(&r) % 2)) + (qt_next(&r) % 2 ? 128 : 0);
    p.N = 5 + (int64_t)(qt_next(&r) % 20);
    const int64_t N = p.N, K = p.K, B = x_block(QUANTA_Q8, K);
    float *w = malloc((size_t)(N * K) * sizeof *w);
    p.x = malloc((size_t)(MAXM * K) * sizeof *p.x);
    p.exact = malloc((size_t)(MAXM * N) * sizeof *p.exact);
    p.bound = malloc((size_t)(MAXM * N) * sizeof *p.bound);
    ck_assert(w && p.x && p.exact && p.bound);
    for (int64_t i = 0; i < N * K; i++) w[i] = qt_uniform(&r, 0.1f, 1.0f);
    for (int64_t i = 0; i < MAXM * K; i++)
        p.x[i] = i % B == 0 ? 127.0f : (float)(qt_next(&r) % 120) + 0.75f;
    quanta_tensor_desc wd = {QUANTA_Q8, 2, {N, K}, 0, 0};
    ck_assert_int_eq(quanta_tensor_bytes(&wd, &p.wbytes), QUANTA_OK);
    p.wq = malloc(p.wbytes);
    ck_assert(p.wq);
    ck_assert_msg(quanta_quantize(&wd, w, p.wq, p.wbytes) == QUANTA_OK, "%s", quanta_last_error());
    free(w);
    problem_reference(&p);
    setenv("QUANTA_OPENCL_GEMM", "int8", 1);
    quanta_backend *b8;
    const quanta_status st = quanta_backend_open("opencl", &b8);
    unsetenv("QUANTA_OPENCL_GEMM");
    ck_assert_msg(st == QUANTA_OK, "%s", quanta_last_error());
    check_backend(b8, &p, 1, "q8 x = k + 0.75, QUANTA_OPENCL_GEMM=int8");
    /* and the error is the rounding's: 0.25 of the weights' sum (plus f32 summation), not 0 */
    float *y = malloc((size_t)N * sizeof *y);
    ck_assert(y);
    run_matmul(b8, &p, 1, y);
    for (int64_t n = 0; n < N; n++) {
        double sw = 0;
        for (int64_t k = 0; k < K; k++) {
            double mag;
            if (k % B) sw += weight_at(&p, n, k, &mag);
        }
        const double err = (double)y[n] - p.exact[n];
        ck_assert_msg(fabs(err - 0.25 * sw) <= 1e-3 * (0.25 * sw) + 4.0 * (double)K * 5.96e-8 * 128 * sw,
                      "column %lld: off by %.6g, to-nearest codes give %.6g", (long long)n, err, 0.25 * sw);
    }
    printf("q8 int8 kernel, x = k + 0.75 (N=%lld K=%lld): every row off by 0.25 of its weights' sum, as rounding "
           "to nearest gives\n", (long long)N, (long long)K);
    free(y);
    quanta_backend_close(b8);
    problem_free(&p);
}
END_TEST

/* f32 weights: no kernel rounds x. On CPUs (the one-row-per-work-item GEMV and the row GEMM, as
 * the device's tuning summary says) both sum a row in one order, so a row is bit for bit the same
 * at every M, which tests/server/test_batch.py relies on; the GPU class's local-memory reductions
 * and tiles do not (within the f32 bound only). */
START_TEST(test_f32_rows_alone_and_batched) {
    quanta_backend *be;
    ck_assert_int_eq(qt_cl_open(&be), 0);
    quanta_device_info info;
    ck_assert_int_eq(quanta_backend_device(be, &info), QUANTA_OK);
    const char *tune = strstr(info.details, "gemv lws x rows");
    const int rows = tune && strstr(tune, " dense 1x") && strstr(tune, "; dense rows/");
    qt_rng r = qt_rng_make(0xBA7C5);
    for (int rep = 0; rep < 2; rep++) {
        problem p;
        problem_make(&p, QUANTA_F32, &r);
        const double worst = check_backend(be, &p, rows, "f32 default paths");
        printf("f32 N=%lld K=%lld: rows bit for bit equal %s; across M = 8 up to %.3g of the f32 bound\n",
               (long long)p.N, (long long)p.K, rows ? "at every M (CPU kernels)" : "within M <= 8 and within M > 8",
               worst);
        problem_free(&p);
    }
    quanta_backend_close(be);
}
END_TEST

/* Opens "opencl" with env (NAME=VALUE pairs, NULL-terminated) set while it reads them. */
static quanta_backend *open_with(const char *const *env) {
    for (const char *const *e = env; *e; e += 2) setenv(e[0], e[1], 1);
    quanta_backend *be;
    const quanta_status st = quanta_backend_open("opencl", &be);
    for (const char *const *e = env; *e; e += 2) unsetenv(e[0]);
    ck_assert_msg(st == QUANTA_OK, "%s", quanta_last_error());
    return be;
}

/* ggml Q5_0 weights: qn_gemv_i8 (two-plane int8 x) where it runs, above M = 8 in launches of 8
 * rows (so every row bit for bit as alone: "up to 0" printed), elsewhere the float GEMM above 8;
 * each setting bit for bit within a side, within the int8 bound across (printed). */
START_TEST(test_q5_0_rows_alone_and_batched) {
    static const char *const settings[][5] = {
        {NULL},                                                           /* the device's defaults */
        {"QUANTA_OPENCL_GEMM", "int8", NULL},                             /* gemv_i8 (VNNI where present) */
        {"QUANTA_OPENCL_GEMM", "int8", "QUANTA_OPENCL_VNNI", "0", NULL},  /* gemv_i8's portable dot product */
        {"QUANTA_OPENCL_GEMM", "rows", NULL},                             /* the float GEMV below 8 */
    };
    static const char *const names[] = {"q5_0 default paths", "q5_0 QUANTA_OPENCL_GEMM=int8",
                                        "q5_0 QUANTA_OPENCL_GEMM=int8 VNNI=0", "q5_0 QUANTA_OPENCL_GEMM=rows"};
    quanta_backend *probe;
    ck_assert_int_eq(qt_cl_open(&probe), 0);
    quanta_backend_close(probe);
    qt_rng r = qt_rng_make(0xBA7C6);
    for (int rep = 0; rep < 2; rep++) {
        problem p;
        problem_make(&p, QUANTA_GGML_Q5_0, &r);
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            quanta_backend *be = open_with(settings[i]);
            const double worst = check_backend(be, &p, 0, names[i]);
            printf("%s N=%lld K=%lld: rows bit for bit equal within M <= 8 and within M > 8; across, up to %.3g of the "
                   "int8 bound\n", names[i], (long long)p.N, (long long)p.K, worst);
            quanta_backend_close(be);
        }
        problem_free(&p);
    }
}
END_TEST

int main(void) {
    quanta_backend *probe;
    int rc = qt_cl_open(&probe);
    if (rc) return rc;
    quanta_backend_close(probe);
    Suite *s = suite_create("opencl_batch");
    TCase *tc = tcase_create("q8");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_q8_rows_alone_and_batched);
    tcase_add_test(tc, test_q8_int8_rounds_x_to_nearest);
    tcase_add_test(tc, test_f32_rows_alone_and_batched);
    tcase_add_test(tc, test_q5_0_rows_alone_and_batched);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
