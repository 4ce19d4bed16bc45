/*
 * test_ref_elementwise.c — rms_norm, rope, silu, gelu, add, mul, scale, softmax and convert
 * against float64 formulas written differently from the implementation (rope by complex
 * multiplication with a frequency table, sigmoid through tanh, GELU through erfc, softmax
 * through log-sum-exp, conversions through rint on a scaled double).
 */
#include <complex.h>

#include "ref_test_util.h"

static const quanta_dtype float_types[3] = { QUANTA_F32, QUANTA_F16, QUANTA_BF16 };

/* Runs a one-input op on x[rows, D] of dtype dt and compares with f(x). */
typedef double (*unary_fn)(double);

static void check_unary(uint64_t salt, qn_op op, qn_op_params params, quanta_dtype dt, double sd, unary_fn f,
                        const char *what) {
    qt_rng rng = qt_rng_make(salt);
    rt_tensor *x = rt_make(dt, 3, 3, 5, 19, 0), *y = rt_make(dt, 3, 3, 5, 19, 0);
    double *xd = rt_fill(x, &rng, sd);
    size_t n = rt_count(x);
    double *ref = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) ref[i] = f(xd[i]);
    rt_poison(y);
    qn_node node = rt_node(op, y, x, NULL, NULL, NULL, NULL);
    node.params = params;
    RT_EXPECT_OK(qn_ref_run_node(&node));
    ck_assert_msg(rt_compare(y, ref, dt == QUANTA_F32 ? 1e-14 : 1e-6, what) == 0, "%s %s", what,
                  quanta_dtype_name(dt));
    free(xd), free(ref);
    rt_free(x), rt_free(y);
}

/* The textbook forms; their 1 + erf / 1 + tanh cancel for negative x, so they are exact only
 * to ~1e-16 absolute, which the absolute tolerance below allows for. */
static double silu_tanh(double x) { return x * (0.5 + 0.5 * tanh(0.5 * x)); }
static double gelu_erf(double x) { return 0.5 * x * (1.0 + erf(x / sqrt(2.0))); }
static double gelu_tanh(double x) {
    const double u = sqrt(2.0 / 3.14159265358979323846) * (x + 0.044715 * x * x * x);
    return 0.5 * x * (1.0 + tanh(u));
}
static double times_m1_75(double x) { return x * -1.75; }

START_TEST(test_silu_gelu_scale) {
    qn_op_params p;
    for (int t = 0; t < 3; t++) {
        memset(&p, 0, sizeof p);
        check_unary(300 + (uint64_t)t, QN_OP_SILU, p, float_types[t], 3.0, silu_tanh, "silu");
        check_unary(310 + (uint64_t)t, QN_OP_GELU, p, float_types[t], 3.0, gelu_erf, "gelu exact");
        p.approximate = 1;
        check_unary(320 + (uint64_t)t, QN_OP_GELU, p, float_types[t], 3.0, gelu_tanh, "gelu tanh");
        memset(&p, 0, sizeof p);
        p.scale = -1.75f;
        check_unary(330 + (uint64_t)t, QN_OP_SCALE, p, float_types[t], 2.0, times_m1_75, "scale");
    }
}
END_TEST

/* Deep in the negative tail 1 + erf cancels completely; the oracle must still be accurate
 * there. Φ(-5) and Φ(-8) from standard normal tables. */
START_TEST(test_gelu_tail) {
    rt_tensor *x = rt_make(QUANTA_F32, 1, 2, 0, 0, 0), *y = rt_make(QUANTA_F32, 1, 2, 0, 0, 0);
    rt_set(x, 0, -5.0);
    rt_set(x, 1, -8.0);
    rt_poison(y);
    qn_node node = rt_node(QN_OP_GELU, y, x, NULL, NULL, NULL, NULL);
    RT_EXPECT_OK(qn_ref_run_node(&node));
    const double ref[2] = { -5.0 * 2.866515718791939e-07, -8.0 * 6.220960574271785e-16 };
    ck_assert_int_eq(rt_compare(y, ref, 0.0, "gelu tail"), 0);
    rt_free(x), rt_free(y);
}
END_TEST

/* rms_norm: rms = sqrt(eps + Σx²/D); y = (x / rms) · g. */
static void check_rms(uint64_t salt, quanta_dtype dt, int with_weight, int plus_one, float eps, int64_t D) {
    qt_rng rng = qt_rng_make(salt);
    rt_tensor *x = rt_make(dt, 2, 6, D, 0, 0), *y = rt_make(dt, 2, 6, D, 0, 0);
    rt_tensor *w = with_weight ? rt_make(QUANTA_F32, 1, D, 0, 0, 0) : NULL;
    double *xd = rt_fill(x, &rng, 2.0), *wd = w ? rt_fill(w, &rng, 1.0) : NULL;
    double *ref = malloc((size_t)(6 * D) * sizeof(double));
    for (int64_t r = 0; r < 6; r++) {
        double ss = 0;
        for (int64_t d = 0; d < D; d++) ss += xd[r * D + d] * xd[r * D + d];
        const double rms = sqrt((double)eps + ss / (double)D);
        for (int64_t d = 0; d < D; d++) {
            const double g = !wd ? 1.0 : plus_one ? wd[d] + 1.0 : wd[d];
            ref[r * D + d] = xd[r * D + d] / rms * g;
        }
    }
    rt_poison(y);
    qn_node node = rt_node(QN_OP_RMS_NORM, y, x, w, NULL, NULL, NULL);
    node.params.eps = eps;
    node.params.weight_plus_one = plus_one;
    RT_EXPECT_OK(qn_ref_run_node(&node));
    ck_assert_msg(rt_compare(y, ref, dt == QUANTA_F32 ? 1e-30 : 1e-6, "rms_norm") == 0, "rms_norm %s w%d p%d",
                  quanta_dtype_name(dt), with_weight, plus_one);
    free(xd), free(wd), free(ref);
    rt_free(x), rt_free(y), rt_free(w);
}

START_TEST(test_rms_norm) {
    check_rms(340, QUANTA_F32, 1, 0, 1e-5f, 37);
    check_rms(341, QUANTA_F32, 1, 1, 1e-6f, 64);
    check_rms(342, QUANTA_F32, 0, 0, 1e-5f, 5);
    check_rms(343, QUANTA_F16, 1, 0, 1e-5f, 40);
    check_rms(344, QUANTA_BF16, 1, 1, 1e-5f, 40);
    check_rms(345, QUANTA_F32, 1, 0, 0.5f, 1); /* a large eps matters */
}
END_TEST

/* rope: the rotated pair as a complex number z = a + i·b times e^{iθ}. */
static void check_rope(uint64_t salt, quanta_dtype dt, quanta_rope_mode mode, int64_t D, int32_t rot_dims,
                       float base, float freq_scale, int in_place) {
    qt_rng rng = qt_rng_make(salt);
    const int64_t B = 2, H = 3, N = 5;
    rt_tensor *x = rt_make(dt, 4, B, H, N, D), *pos = rt_make(QUANTA_I32, 1, N, 0, 0, 0);
    rt_tensor *y = in_place ? x : rt_make(dt, 4, B, H, N, D);
    double *xd = rt_fill(x, &rng, 1.0);
    double posd[5];
    for (int64_t i = 0; i < N; i++) posd[i] = rt_set(pos, (size_t)i, (double)(qt_next(&rng) % 5000));
    const int64_t rot = rot_dims ? rot_dims : D, half = rot / 2;
    double freq[64];
    for (int64_t i = 0; i < half; i++) freq[i] = exp(-(double)(2 * i) / (double)rot * log((double)base));
    const double fs = freq_scale != 0.0f ? (double)freq_scale : 1.0;
    size_t n = rt_count(x);
    double *ref = malloc(n * sizeof(double));
    memcpy(ref, xd, n * sizeof(double)); /* dims >= rot pass through */
    for (size_t r = 0; r < n / (size_t)D; r++) {
        const double p = posd[r % (size_t)N] * fs;
        double *row = ref + r * (size_t)D;
        const double *src = xd + r * (size_t)D;
        for (int64_t i = 0; i < half; i++) {
            const int64_t ia = mode == QUANTA_ROPE_NEOX ? i : 2 * i, ib = mode == QUANTA_ROPE_NEOX ? i + half : 2 * i + 1;
            double complex z = (src[ia] + src[ib] * I) * cexp(I * (p * freq[i]));
            row[ia] = creal(z);
            row[ib] = cimag(z);
        }
    }
    if (!in_place) rt_poison(y);
    qn_node node = rt_node(QN_OP_ROPE, y, x, pos, NULL, NULL, NULL);
    node.params.rope.mode = mode;
    node.params.rope.theta_base = base;
    node.params.rope.freq_scale = freq_scale;
    node.params.rope.rot_dims = rot_dims;
    RT_EXPECT_OK(qn_ref_run_node(&node));
    /* Angles up to 5000 rad: libm's cos/sin of a double agree to ~1e-13. */
    ck_assert_msg(rt_compare(y, ref, dt == QUANTA_F32 ? 1e-9 : 1e-6, "rope") == 0, "rope %s mode %d D %lld rot %d",
                  quanta_dtype_name(dt), (int)mode, (long long)D, (int)rot_dims);
    free(xd), free(ref);
    rt_free(x), rt_free(pos);
    if (!in_place) rt_free(y);
}

START_TEST(test_rope) {
    check_rope(350, QUANTA_F32, QUANTA_ROPE_NORM, 16, 0, 10000.0f, 0.0f, 0);
    check_rope(351, QUANTA_F32, QUANTA_ROPE_NEOX, 16, 0, 10000.0f, 0.0f, 0);
    check_rope(352, QUANTA_F32, QUANTA_ROPE_NEOX, 24, 8, 10000.0f, 0.0f, 0);   /* partial rotation */
    check_rope(353, QUANTA_F32, QUANTA_ROPE_NORM, 10, 6, 500000.0f, 0.25f, 0); /* linear scaling */
    check_rope(354, QUANTA_F16, QUANTA_ROPE_NEOX, 32, 0, 10000.0f, 0.0f, 0);
    check_rope(355, QUANTA_BF16, QUANTA_ROPE_NORM, 32, 0, 10000.0f, 0.0f, 0);
    check_rope(356, QUANTA_F32, QUANTA_ROPE_NEOX, 64, 0, 1000000.0f, 0.0f, 1); /* out aliases x */
}
END_TEST

/* add / mul, b of a's shape or one broadcast row, mixed dtypes. */
static void check_binary(uint64_t salt, qn_op op, quanta_dtype at, quanta_dtype bt, int row, int in_place) {
    qt_rng rng = qt_rng_make(salt);
    const int64_t D = 21;
    rt_tensor *a = rt_make(at, 3, 2, 4, D, 0);
    rt_tensor *b = row ? rt_make(bt, 1, D, 0, 0, 0) : rt_make(bt, 3, 2, 4, D, 0);
    rt_tensor *y = in_place ? a : rt_make(at, 3, 2, 4, D, 0);
    double *ad = rt_fill(a, &rng, 2.0), *bd = rt_fill(b, &rng, 2.0);
    size_t n = rt_count(a);
    double *ref = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        const double bv = row ? bd[i % (size_t)D] : bd[i];
        ref[i] = op == QN_OP_ADD ? ad[i] + bv : ad[i] * bv;
    }
    if (!in_place) rt_poison(y);
    qn_node node = rt_node(op, y, a, b, NULL, NULL, NULL);
    RT_EXPECT_OK(qn_ref_run_node(&node));
    ck_assert_msg(rt_compare(y, ref, 1e-30, op == QN_OP_ADD ? "add" : "mul") == 0, "%s a=%s b=%s row=%d",
                  op == QN_OP_ADD ? "add" : "mul", quanta_dtype_name(at), quanta_dtype_name(bt), row);
    free(ad), free(bd), free(ref);
    rt_free(a), rt_free(b);
    if (!in_place) rt_free(y);
}

START_TEST(test_add_mul) {
    uint64_t salt = 360;
    for (int o = 0; o < 2; o++) {
        const qn_op op = o ? QN_OP_MUL : QN_OP_ADD;
        for (int t = 0; t < 3; t++) {
            check_binary(salt++, op, float_types[t], float_types[t], 0, 0);
            check_binary(salt++, op, float_types[t], float_types[(t + 1) % 3], 1, 0);
        }
        check_binary(salt++, op, QUANTA_F32, QUANTA_F32, 1, 1);
        check_binary(salt++, op, QUANTA_F16, QUANTA_F32, 0, 1);
    }
}
END_TEST

/* softmax = exp(x − logsumexp(x)), with logits large enough that no max-shift overflows. */
START_TEST(test_softmax) {
    for (int t = 0; t < 3; t++) {
        qt_rng rng = qt_rng_make(380 + (uint64_t)t);
        const quanta_dtype dt = float_types[t];
        const int64_t R = 7, D = t == 0 ? 131 : 9;
        rt_tensor *x = rt_make(dt, 2, R, D, 0, 0), *y = rt_make(dt, 2, R, D, 0, 0);
        double *xd = rt_fill(x, &rng, t == 0 ? 300.0 : 4.0);
        double *ref = malloc((size_t)(R * D) * sizeof(double));
        for (int64_t r = 0; r < R; r++) {
            const double *row = xd + r * D;
            double m = row[0], s = 0;
            for (int64_t d = 1; d < D; d++) m = row[d] > m ? row[d] : m;
            for (int64_t d = 0; d < D; d++) s += exp(row[d] - m);
            const double lse = m + log(s);
            for (int64_t d = 0; d < D; d++) ref[r * D + d] = exp(row[d] - lse);
        }
        rt_poison(y);
        qn_node node = rt_node(QN_OP_SOFTMAX, y, x, NULL, NULL, NULL, NULL);
        RT_EXPECT_OK(qn_ref_run_node(&node));
        ck_assert_msg(rt_compare(y, ref, t == 0 ? 1e-30 : 1e-6, "softmax") == 0, "softmax %s", quanta_dtype_name(dt));
        free(xd), free(ref);
        rt_free(x), rt_free(y);
    }
}
END_TEST

/* argmax: per row the smallest index holding the row's maximum, found here in two passes (the
 * maximum, then its first place); -1 for a row with a NaN or only -Inf. Rows: random, a tie
 * (the maximum copied to an earlier place), a NaN, -Inf only, two +Inf. */
START_TEST(test_argmax) {
    for (int t = 0; t < 3; t++) {
        qt_rng rng = qt_rng_make(385 + (uint64_t)t);
        const quanta_dtype dt = float_types[t];
        const int64_t R = 6, D = 37;
        rt_tensor *x = rt_make(dt, 2, R, D, 0, 0), *y = rt_make(QUANTA_I32, 2, R, 1, 0, 0);
        double *xd = rt_fill(x, &rng, 1.0);
        const int64_t m1 = 5 + (int64_t)(qt_next(&rng) % 30); /* row 1: 9 at m1 and at m1 - 3 */
        xd[D + m1] = rt_set(x, (size_t)(D + m1), 9.0), xd[D + m1 - 3] = rt_set(x, (size_t)(D + m1 - 3), 9.0);
        unsigned char *raw = rt_data(x); /* row 2: a NaN (rt_set compares what it stored) */
        const size_t inan = (size_t)(2 * D + 11);
        if (dt == QUANTA_F32) {
            const float nan = NAN;
            memcpy(raw + 4 * inan, &nan, 4);
        } else {
            const uint16_t h = dt == QUANTA_F16 ? 0x7E00 : 0x7FC0; /* quiet NaNs (host byte order) */
            memcpy(raw + 2 * inan, &h, 2);
        }
        xd[inan] = NAN;
        for (int64_t d = 0; d < D; d++) xd[3 * D + d] = rt_set(x, (size_t)(3 * D + d), -INFINITY); /* row 3 */
        xd[4 * D + 20] = rt_set(x, (size_t)(4 * D + 20), INFINITY); /* row 4: +Inf at 20 and 30 */
        xd[4 * D + 30] = rt_set(x, (size_t)(4 * D + 30), INFINITY);
        int32_t want[6];
        for (int64_t r = 0; r < R; r++) {
            const double *row = xd + r * D;
            double mx = -INFINITY;
            int nan = 0;
            for (int64_t d = 0; d < D; d++) nan |= isnan(row[d]), mx = row[d] > mx ? row[d] : mx;
            want[r] = -1;
            for (int64_t d = 0; !nan && mx > -INFINITY && want[r] < 0 && d < D; d++)
                if (row[d] == mx) want[r] = (int32_t)d;
        }
        ck_assert_int_eq(want[1], (int32_t)(m1 - 3));
        ck_assert_int_eq(want[2], -1);
        ck_assert_int_eq(want[3], -1);
        ck_assert_int_eq(want[4], 20);
        memset(rt_data(y), 0x55, (size_t)R * sizeof(int32_t));
        qn_node node = rt_node(QN_OP_ARGMAX, y, x, NULL, NULL, NULL, NULL);
        RT_EXPECT_OK(qn_ref_run_node(&node));
        for (int64_t r = 0; r < R; r++)
            ck_assert_msg(((const int32_t *)rt_data(y))[r] == want[r], "argmax %s row %lld: %d, want %d",
                          quanta_dtype_name(dt), (long long)r, ((const int32_t *)rt_data(y))[r], want[r]);
        free(xd);
        rt_free(x), rt_free(y);
    }
}
END_TEST

/* convert: every pair of float dtypes, checked bit-exactly against one round-half-even step,
 * including values past the f16 range (-> Inf), f16 subnormals and exact ties. */
START_TEST(test_convert) {
    qt_rng rng = qt_rng_make(390);
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) {
            const int64_t n = 64;
            rt_tensor *x = rt_make(float_types[a], 1, n, 0, 0, 0), *y = rt_make(float_types[b], 1, n, 0, 0, 0);
            double xd[64];
            for (int64_t i = 0; i < n; i++) {
                double v;
                switch (i % 6) {
                case 0: v = qt_normal(&rng, 100.0f); break;
                case 1: v = ldexp(qt_uniform(&rng, -1, 1), -18); break;           /* f16 subnormal */
                case 2: v = 70000.0 * (i % 4 == 0 ? 1 : -1); break;             /* beyond f16 max */
                case 3: v = 1.0 + ldexp(1.0, -11) + ldexp((double)((i / 6) % 2), -10); break; /* f16 ties */
                case 4: v = 1.0 + ldexp(1.0, -8); break;                         /* a bf16 tie */
                default: v = qt_normal(&rng, 1.0f); break;
                }
                xd[i] = rt_set(x, (size_t)i, v);
            }
            rt_poison(y);
            qn_node node = rt_node(QN_OP_CONVERT, y, x, NULL, NULL, NULL, NULL);
            RT_EXPECT_OK(qn_ref_run_node(&node));
            for (int64_t i = 0; i < n; i++) {
                const double want = rt_round(float_types[b], xd[i]), got = rt_get(y, (size_t)i);
                ck_assert_msg(got == want, "convert %s->%s: [%lld] %.9g gave %.9g, expected %.9g",
                              quanta_dtype_name(float_types[a]), quanta_dtype_name(float_types[b]), (long long)i,
                              xd[i], got, want);
            }
            rt_free(x), rt_free(y);
        }
}
END_TEST

int main(void) {
    Suite *s = suite_create("ref_elementwise");
    TCase *tc = tcase_create("elementwise");
    tcase_add_test(tc, test_silu_gelu_scale);
    tcase_add_test(tc, test_gelu_tail);
    tcase_add_test(tc, test_rms_norm);
    tcase_add_test(tc, test_rope);
    tcase_add_test(tc, test_add_mul);
    tcase_add_test(tc, test_softmax);
    tcase_add_test(tc, test_argmax);
    tcase_add_test(tc, test_convert);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
