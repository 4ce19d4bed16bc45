/* test_ref_matmul.c — the reference matmul against an independent float64 product: W is
 * dequantized whole with qn_dequantize first, then y = x · Wᵀ is formed k-outer in double. */
#include "ref_test_util.h"

/* W[N,K] of dtype `wt` from N(0, 0.5) values; returns the whole dequantized matrix. */
static double *make_weight(qt_rng *rng, quanta_dtype wt, int64_t N, int64_t K, int32_t group, int32_t dq,
                           rt_tensor **out) {
    const int64_t dims[2] = { N, K };
    rt_tensor *w = rt_make_q(wt, 2, dims, group, dq);
    size_t n = (size_t)(N * K);
    float *src = malloc(n * sizeof(float)), *deq = malloc(n * sizeof(float));
    ck_assert(src && deq);
    for (size_t i = 0; i < n; i++) src[i] = qt_normal(rng, 0.5f);
    ck_assert_int_eq(qn_quantize(&w->t.desc, src, rt_data(w), w->t.bytes), QUANTA_OK);
    ck_assert_int_eq(qn_dequantize(&w->t.desc, rt_data(w), w->t.bytes, deq, n), QUANTA_OK);
    double *wd = malloc(n * sizeof(double));
    ck_assert_ptr_nonnull(wd);
    for (size_t i = 0; i < n; i++) wd[i] = deq[i];
    free(src), free(deq);
    *out = w;
    return wd;
}

/* x has shape lead..., K (ndim 1..3) with M rows in total. */
static void run_case(uint64_t salt, quanta_dtype xt, quanta_dtype wt, int32_t group, int32_t dq, int xnd,
                     const int64_t *xdims, int64_t N) {
    qt_rng rng = qt_rng_make(salt);
    const int64_t K = xdims[xnd - 1];
    int64_t M = 1;
    for (int i = 0; i < xnd - 1; i++) M *= xdims[i];
    rt_tensor *w;
    double *wd = make_weight(&rng, wt, N, K, group, dq, &w);
    rt_tensor *x = rt_make_q(xt, xnd, xdims, 0, 0);
    double *xd = rt_fill(x, &rng, 1.0);
    int64_t ydims[4];
    for (int i = 0; i < xnd - 1; i++) ydims[i] = xdims[i];
    ydims[xnd - 1] = N;
    rt_tensor *y = rt_make_q(xt, xnd, ydims, 0, 0);
    rt_poison(y);

    /* k-outer accumulation into a full [M,N] double matrix, plus the magnitude Σ|x·w| that
     * bounds the rounding error of any summation order. */
    double *ref = calloc((size_t)(M * N), sizeof(double)), *mag = calloc((size_t)(M * N), sizeof(double));
    ck_assert(ref && mag);
    for (int64_t k = 0; k < K; k++)
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = 0; n < N; n++) {
                double p = xd[m * K + k] * wd[n * K + k];
                ref[m * N + n] += p;
                mag[m * N + n] += fabs(p);
            }
    qn_node node = rt_node(QN_OP_MATMUL, y, x, w, NULL, NULL, NULL);
    RT_EXPECT_OK(qn_ref_run_node(&node));
    /* Per-element check with a magnitude-aware bound. */
    size_t bad = 0;
    for (int64_t i = 0; i < M * N; i++) {
        double g = rt_get(y, (size_t)i), e = ref[i];
        double tol = rt_rtol(xt) * fabs(e) + 1e-12 * mag[i] + (xt == QUANTA_F32 ? 1e-30 : 1e-7);
        if (!(fabs(g - e) <= tol)) {
            if (bad < 5)
                printf("matmul %s x %s: y[%lld] got %.9g expected %.9g\n", quanta_dtype_name(xt),
                       quanta_dtype_name(wt), (long long)i, g, e);
            bad++;
        }
    }
    ck_assert_msg(bad == 0, "matmul x=%s w=%s: %zu of %lld outputs wrong", quanta_dtype_name(xt),
                  quanta_dtype_name(wt), bad, (long long)(M * N));
    free(ref), free(mag), free(wd), free(xd);
    rt_free(w), rt_free(x), rt_free(y);
}

START_TEST(test_dense_f32_odd) {
    const int64_t d[2] = { 3, 37 };
    run_case(101, QUANTA_F32, QUANTA_F32, 0, 0, 2, d, 11);
}
END_TEST

START_TEST(test_leading_dims) {
    const int64_t d3[3] = { 2, 3, 19 };
    run_case(102, QUANTA_F32, QUANTA_F32, 0, 0, 3, d3, 5);
    const int64_t d1[1] = { 23 };
    run_case(103, QUANTA_F32, QUANTA_F32, 0, 0, 1, d1, 7); /* a plain vector: M = 1 */
}
END_TEST

START_TEST(test_half_activations_and_weights) {
    const int64_t d[2] = { 5, 33 };
    const quanta_dtype ts[3] = { QUANTA_F32, QUANTA_F16, QUANTA_BF16 };
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) run_case(110 + (uint64_t)(3 * a + b), ts[a], ts[b], 0, 0, 2, d, 9);
}
END_TEST

START_TEST(test_q8_fp8) {
    const int64_t d[2] = { 4, 96 };
    run_case(120, QUANTA_F32, QUANTA_Q8, 0, 0, 2, d, 13);
    run_case(121, QUANTA_F32, QUANTA_FP8_E4M3, 0, 0, 2, d, 13);
    run_case(122, QUANTA_F32, QUANTA_FP8_E5M2, 0, 0, 2, d, 13);
    run_case(123, QUANTA_F16, QUANTA_Q8, 0, 0, 2, d, 6);
}
END_TEST

START_TEST(test_q4_groups) {
    const int64_t d[2] = { 3, 256 };
    run_case(130, QUANTA_F32, QUANTA_Q4, 32, 0, 2, d, 7);
    run_case(131, QUANTA_F32, QUANTA_Q4, 64, 0, 2, d, 7);
    run_case(132, QUANTA_F32, QUANTA_Q4, 128, 0, 2, d, 7);
    run_case(133, QUANTA_F32, QUANTA_Q4, 0, 0, 2, d, 5); /* default group */
    const int64_t d2[2] = { 2, 96 };
    run_case(134, QUANTA_BF16, QUANTA_Q4, 32, 0, 2, d2, 3); /* odd number of groups per row */
}
END_TEST

START_TEST(test_nf4) {
    const int64_t d[2] = { 3, 128 };
    run_case(140, QUANTA_F32, QUANTA_NF4, 64, 0, 2, d, 9);
    /* 40 x 512 = 320 blocks: two double-quant blocks of 256, the second partial. */
    const int64_t d2[2] = { 2, 512 };
    run_case(141, QUANTA_F32, QUANTA_NF4, 64, 1, 2, d2, 40);
    run_case(142, QUANTA_F16, QUANTA_NF4, 0, 1, 2, d, 5);
}
END_TEST

START_TEST(test_decode_m1) {
    const int64_t d[2] = { 1, 192 };
    run_case(150, QUANTA_F32, QUANTA_Q4, 64, 0, 2, d, 31);
    run_case(151, QUANTA_F32, QUANTA_F16, 0, 0, 2, d, 31);
}
END_TEST

int main(void) {
    Suite *s = suite_create("ref_matmul");
    TCase *tc = tcase_create("matmul");
    tcase_add_test(tc, test_dense_f32_odd);
    tcase_add_test(tc, test_leading_dims);
    tcase_add_test(tc, test_half_activations_and_weights);
    tcase_add_test(tc, test_q8_fp8);
    tcase_add_test(tc, test_q4_groups);
    tcase_add_test(tc, test_nf4);
    tcase_add_test(tc, test_decode_m1);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
