/*
 * test_cuda_finite.c — the logits' finiteness check on the device (kernels_cuda/finite_check.cu, the CUDA backend's
 * read_view_f32_checked, QUANTA_CUDA_FINITE_GPU) against base/finite.h's host test, which it must match exactly:
 *   - the kernel alone: every class of Inf/NaN bits planted at a random index (printed seed) of counts around
 *     its 16-byte loads and of Gemma's 262144, at each alignment mod 16 bytes, is found; values that are finite
 *     (+-FLT_MAX, denormals, -0, FLT_MIN) are not; a word left at an earlier generation is not a hit;
 *   - the backend op: the state it gives (all finite / some not) with the switch at 1 and by default for Gemma's
 *     262144 values, none at 0 or by default for the 7B's 32000, and the view's bytes those of a plain read;
 *   - the plan's checked reads (qn_plan_execute_view_f32_finite, _execute_read_, _get_output_): the same flag,
 *     bytes and first non-finite index with the switch on and off, for a planted value and for none.
 * The model's error naming the bad logit through this path is tests/model/test_fused_logits.c, registered with
 * the switch on where CUDA is built. Exits 77 (skip) without a CUDA device.
 */
#include <cuda_runtime_api.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_internal.h"
#include "finite.h"
#include "plan.h"
#include "qt_tensor.h"
#include "test_util.h"

static const uint32_t bad_bits[] = {0x7fc00000u, 0xffc00000u, 0x7f800001u, 0xff800001u,
                                    0x7f800000u, 0xff800000u, 0x7fffffffu, 0x7fa5a5a5u};
#define N_BAD ((int)(sizeof bad_bits / sizeof *bad_bits))
/* Finite values at the edges of the bit test: +-FLT_MAX, the largest and smallest denormals of both signs, -0,
 * FLT_MIN. */
static const uint32_t edge_bits[] = {0x7f7fffffu, 0xff7fffffu, 0x007fffffu, 0x807fffffu,
                                     0x00000001u, 0x80000001u, 0x80000000u, 0x00800000u};
#define N_EDGE ((int)(sizeof edge_bits / sizeof *edge_bits))

static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Random finite values with the edge values spread among them. */
static void fill_finite(qt_rng *r, float *x, size_t n) {
    qt_fill_normal(r, x, n, 1e30f);
    for (int k = 0; k < N_EDGE && n; k++) x[qt_next(r) % n] = from_bits(edge_bits[k]);
}

/* The first index of x holding Inf or NaN by isfinite() (not finite.h: the test's own reading), or -1. */
static long first_nonfinite(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return (long)i;
    return -1;
}

#define CU(call) ck_assert_msg((call) == cudaSuccess, "%s: %s", #call, cudaGetErrorString(cudaGetLastError()))

/* The kernel over dev[off, off + n) (dev a copy of host); whether it wrote gen into the mapped word. */
static int kernel_says(const float *dev, size_t off, size_t n, unsigned gen, volatile unsigned *word,
                       unsigned *word_dev) {
    ck_assert_int_eq(qn_cuda_finite_check(dev + off, (int64_t)n, gen, word_dev, NULL), 0);
    CU(cudaDeviceSynchronize());
    return *word == gen;
}

START_TEST(test_kernel) {
    enum { MAXN = 262144 + 7 };
    const size_t counts[] = {1, 3, 4, 5, 63, 64, 65, 1023, 32000, 262144, 262147};
    qt_rng r = qt_rng_make(0xF1A9);
    float *host = malloc(MAXN * sizeof *host), *dev = NULL;
    ck_assert_ptr_nonnull(host);
    CU(cudaMalloc((void **)&dev, MAXN * sizeof *dev));
    void *h = NULL, *d = NULL;
    CU(cudaHostAlloc(&h, sizeof(unsigned), cudaHostAllocMapped));
    CU(cudaHostGetDevicePointer(&d, h, 0));
    volatile unsigned *word = h;
    *word = 0;
    unsigned gen = 0;
    ck_assert_int_eq(qn_cuda_finite_check(dev, 0, ++gen, d, NULL), 0); /* nothing to check: nothing written */
    CU(cudaDeviceSynchronize());
    ck_assert_uint_eq(*word, 0);
    for (size_t c = 0; c < sizeof counts / sizeof *counts; c++) {
        for (size_t off = 0; off < 4; off++) { /* 16-byte aligned, then 4, 8, 12 bytes past */
            const size_t n = counts[c];
            fill_finite(&r, host + off, n);
            /* a value just outside the range checked is not the kernel's business */
            if (off) host[off - 1] = from_bits(0x7fc00000u);
            if (off + n < MAXN) host[off + n] = from_bits(0xff800000u);
            CU(cudaMemcpy(dev, host, MAXN * sizeof *host, cudaMemcpyHostToDevice));
            ck_assert(!qn_f32_any_nonfinite(host + off, n));
            ck_assert_msg(!kernel_says(dev, off, n, ++gen, word, d), "n %zu, offset %zu: finite values flagged", n,
                          off);
            const unsigned stale = gen;
            for (int b = 0; b < N_BAD; b++) {
                const size_t pos = b == 0 ? 0 : b == 1 ? n - 1 : (size_t)(qt_next(&r) % n);
                const float keep = host[off + pos];
                host[off + pos] = from_bits(bad_bits[b]);
                CU(cudaMemcpy(dev + off + pos, host + off + pos, sizeof *host, cudaMemcpyHostToDevice));
                ck_assert(qn_f32_any_nonfinite(host + off, n));
                ck_assert_msg(kernel_says(dev, off, n, ++gen, word, d), "n %zu, offset %zu: bits %08x at %zu missed",
                              n, off, bad_bits[b], pos);
                host[off + pos] = keep;
                CU(cudaMemcpy(dev + off + pos, host + off + pos, sizeof *host, cudaMemcpyHostToDevice));
            }
            /* the word holds the last hit's generation: a later check of finite values is not one */
            ck_assert_uint_ne(*word, stale);
            ck_assert_msg(!kernel_says(dev, off, n, ++gen, word, d), "n %zu, offset %zu: a stale hit", n, off);
        }
    }
    cudaFreeHost(h);
    cudaFree(dev);
    free(host);
}
END_TEST

/* The backend op itself: where it checks, the state is all / some (the host scan's answer); it checks with the switch
 * at 1 (every size) and by default from QN_CUDA_FINITE_GPU_MIN values (Gemma's 262144 logits, not the 7B's 32000), never
 * at 0; the view's bytes are a plain read's either way. _i: 0 switch 0, 1 switch 1, 2 and 3 the default at 262144 and
 * 32000 values. */
START_TEST(test_backend_op) {
    if (_i < 2)
        setenv("QUANTA_CUDA_FINITE_GPU", _i ? "1" : "0", 1); /* read at open */
    else
        unsetenv("QUANTA_CUDA_FINITE_GPU");
    const int on = _i == 1 || _i == 2;
    const size_t N = _i == 3 ? 32000 : 262144;
    ck_assert_int_eq(on, _i != 0 && (_i == 1 || N >= QN_CUDA_FINITE_GPU_MIN));
    const qn_backend_ops *ops = &qn_cuda_backend;
    ck_assert_ptr_nonnull(ops->read_view_f32_checked);
    qn_mem_stats stats = {0};
    void *self = NULL;
    ck_assert_msg(ops->open(0, &stats, &self) == QUANTA_OK, "%s", quanta_last_error());
    void *buf = NULL;
    ck_assert_int_eq(ops->alloc(self, (N + 1) * sizeof(float), &buf), QUANTA_OK);
    const qn_mem mem = {buf, sizeof(float)}; /* 4 bytes in: the kernel's unaligned path */
    qt_rng r = qt_rng_make(0xF1AA + (uint64_t)_i);
    float *host = malloc(N * sizeof *host), *plain = malloc(N * sizeof *plain);
    ck_assert(host && plain);
    for (int rep = 0; rep < 2 + N_BAD; rep++) {
        fill_finite(&r, host, N);
        const long pos = rep < 2 ? -1 : (long)(qt_next(&r) % N);
        if (pos >= 0) host[pos] = from_bits(bad_bits[rep - 2]);
        ck_assert_int_eq(ops->write(self, mem, host, N * sizeof *host), QUANTA_OK);
        qt_poison_f32(plain, N);
        ck_assert_int_eq(ops->read(self, mem, plain, N * sizeof *plain), QUANTA_OK);
        ck_assert(!memcmp(plain, host, N * sizeof *host));
        const void *view = NULL;
        qn_finite_state state = (qn_finite_state)-1;
        ck_assert_msg(ops->read_view_f32_checked(self, mem, N, &view, &state) == QUANTA_OK, "%s", quanta_last_error());
        ck_assert_ptr_nonnull(view);
        ck_assert_msg(!memcmp(view, host, N * sizeof *host), "case %d, rep %d: the view's bytes differ", _i, rep);
        const qn_finite_state want = !on ? QN_FINITE_UNCHECKED : pos >= 0 ? QN_FINITE_SOME : QN_FINITE_ALL;
        ck_assert_msg(state == want, "case %d (%zu values), bits %08x at %ld: state %d, want %d", _i, N,
                      pos >= 0 ? bad_bits[rep - 2] : 0u, pos, (int)state, (int)want);
    }
    ops->free(self, buf);
    ops->close(self);
    free(host);
    free(plain);
    unsetenv("QUANTA_CUDA_FINITE_GPU");
}
END_TEST

/* What a plan's checked reads give for one output: the flag and first non-finite index of each read, which must
 * agree among themselves, with the view's bytes those of quanta_plan_get_output. */
typedef struct plan_answer {
    int bad;
    long first;
} plan_answer;

static plan_answer plan_reads(quanta_plan *p, quanta_tensor *x, quanta_tensor *y, const float *in, size_t n,
                              const char *what) {
    float *want = malloc(n * sizeof *want), *got = malloc(n * sizeof *got);
    ck_assert(want && got);
    ck_assert_int_eq(quanta_plan_set_input(p, x, in, n * sizeof *in), QUANTA_OK);
    const float *view = NULL;
    int bad = -1;
    ck_assert_msg(qn_plan_execute_view_f32_finite(p, y, n, got, &view, &bad) == QUANTA_OK, "%s", quanta_last_error());
    ck_assert_ptr_nonnull(view);
    qt_poison_f32(want, n);
    ck_assert_int_eq(quanta_plan_get_output(p, y, want, n * sizeof *want), QUANTA_OK);
    ck_assert_msg(!memcmp(view, want, n * sizeof *want), "%s: the view's bytes differ from the read's", what);
    const plan_answer a = {bad, first_nonfinite(view, n)};
    ck_assert_msg(a.bad == (a.first >= 0), "%s: view flag %d, first non-finite %ld", what, a.bad, a.first);
    qt_poison_f32(got, n);
    bad = -1;
    ck_assert_int_eq(qn_plan_execute_read_f32_finite(p, y, got, n, &bad), QUANTA_OK);
    ck_assert_msg(!memcmp(got, want, n * sizeof *want) && bad == a.bad, "%s: execute_read flag %d", what, bad);
    qt_poison_f32(got, n);
    bad = -1;
    ck_assert_int_eq(qn_plan_get_output_f32_finite(p, y, got, n, &bad), QUANTA_OK);
    ck_assert_msg(!memcmp(got, want, n * sizeof *want) && bad == a.bad, "%s: get_output flag %d", what, bad);
    free(want);
    free(got);
    return a;
}

/* x [R, C] transposed (a copy of the bytes, no arithmetic to change a value) into y [C, R]; the same planted
 * values read with the switch on and off give the same flags and name the same index: x's (r, c) is y's c*R+r. */
START_TEST(test_plan_on_off) {
    const int64_t shapes[][2] = {{2, 131072}, {3, 1001}}; /* Gemma's 262144 logits; a count not of whole 16 bytes */
    const int64_t R = shapes[_i][0], C = shapes[_i][1];
    const size_t n = (size_t)(R * C);
    qt_rng r = qt_rng_make(0xF1AB + (uint64_t)_i);
    float *in = malloc(n * sizeof *in);
    ck_assert_ptr_nonnull(in);
    quanta_backend *be[2];
    quanta_plan *p[2];
    quanta_graph *g;
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    quanta_tensor_desc d = qt_desc(QUANTA_F32, 2, R, C, 0, 0);
    quanta_tensor *x, *y;
    const int32_t perm[2] = {1, 0};
    ck_assert_int_eq(quanta_graph_input(g, "x", &d, &x), QUANTA_OK);
    ck_assert_int_eq(quanta_permute(g, x, perm, &y), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(g, y), QUANTA_OK);
    for (int on = 0; on < 2; on++) {
        setenv("QUANTA_CUDA_FINITE_GPU", on ? "1" : "0", 1);
        ck_assert_int_eq(quanta_backend_open("cuda", &be[on]), QUANTA_OK);
        ck_assert_int_eq(quanta_plan_create(g, be[on], &p[on]), QUANTA_OK);
        ck_assert_int_eq(quanta_plan_fallback_count(p[on]), 0);
    }
    unsetenv("QUANTA_CUDA_FINITE_GPU");
    for (int rep = 0; rep < 2 + N_BAD; rep++) {
        fill_finite(&r, in, n);
        const int64_t pr = (int64_t)(qt_next(&r) % (uint64_t)R), pc = (int64_t)(qt_next(&r) % (uint64_t)C);
        const uint32_t b = rep < 2 ? 0u : bad_bits[rep - 2];
        if (rep >= 2) in[pr * C + pc] = from_bits(b);
        char what[96];
        snprintf(what, sizeof what, "%lldx%lld, bits %08x at (%lld, %lld), switch off", (long long)R, (long long)C, b,
                 (long long)pr, (long long)pc);
        const plan_answer off = plan_reads(p[0], x, y, in, n, what);
        snprintf(what, sizeof what, "%lldx%lld, bits %08x at (%lld, %lld), switch on", (long long)R, (long long)C, b,
                 (long long)pr, (long long)pc);
        const plan_answer on = plan_reads(p[1], x, y, in, n, what);
        const long want = rep < 2 ? -1 : (long)(pc * R + pr);
        ck_assert_msg(off.first == want && on.first == want, "%s: first non-finite %ld off, %ld on, want %ld", what,
                      off.first, on.first, want);
        ck_assert_msg(off.bad == on.bad && on.bad == (rep >= 2), "%s: flag %d off, %d on", what, off.bad, on.bad);
    }
    for (int on = 0; on < 2; on++) {
        quanta_plan_destroy(p[on]);
        quanta_backend_close(be[on]);
    }
    quanta_graph_destroy(g);
    free(in);
}
END_TEST

int main(void) {
    quanta_backend *probe = NULL;
    if (quanta_backend_open("cuda", &probe) != QUANTA_OK) {
        printf("no CUDA device: %s\n", quanta_last_error());
        return 77;
    }
    quanta_backend_close(probe);
    Suite *s = suite_create("cuda_finite");
    TCase *tc = tcase_create("finite");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_kernel);
    tcase_add_loop_test(tc, test_backend_op, 0, 4);
    tcase_add_loop_test(tc, test_plan_on_off, 0, 2);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
