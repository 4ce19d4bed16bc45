/*
 * test_ggml_quantize.c — the ggml block encoders (formats/ggml_quantize.c) through ggml's
 * decoders (gguf_dequant.c, checked bit for bit against ggml elsewhere): weights a format
 * represents exactly come back exactly (so the bytes sit where ggml's layout puts them), and
 * random rows come back within each format's rounding bound, worked out here from the format's
 * definition. Bad arguments are refused.
 */
#include <math.h>
#include <stdlib.h>

#include "gguf.h"
#include "qt_check.h"
#include "test_util.h"

static float *roundtrip(uint32_t type, const float *x, int64_t n, size_t block_bytes, int64_t block) {
    size_t bytes = (size_t)(n / block) * block_bytes;
    uint8_t *q = malloc(bytes);
    float *y = malloc((size_t)n * sizeof *y);
    ck_assert(q && y);
    memset(q, 0xA5, bytes);
    qt_poison_f32(y, (size_t)n);
    ck_assert_msg(qn_ggml_quantize_row(type, x, q, n) == QUANTA_OK, "%s", quanta_last_error());
    ck_assert_msg(qn_ggml_dequant_row(type, q, y, n) == QUANTA_OK, "%s", quanta_last_error());
    free(q);
    return y;
}

/* Codes times a power-of-two scale are exact in every format here. */
START_TEST(test_exact_values) {
    qt_rng r = qt_rng_make(1);
    float x[512];
    /* Q8_0: one weight of each block at +-127 * 2^-6 fixes d = 2^-6. */
    for (int i = 0; i < 512; i++) x[i] = (float)((int)(qt_next(&r) % 255) - 127) * 0x1p-6f;
    for (int b = 0; b < 16; b++) x[32 * b + (b % 32)] = (b & 1 ? -127 : 127) * 0x1p-6f;
    float *y = roundtrip(QN_GGML_Q8_0, x, 512, 34, 32);
    for (int i = 0; i < 512; i++) ck_assert_msg(y[i] == x[i], "q8_0 [%d] %g != %g", i, y[i], x[i]);
    free(y);
    /* Q4_0: codes -8..7 times d = 2^-3, each block holding a -8 (the largest magnitude). */
    for (int i = 0; i < 512; i++) x[i] = (float)((int)(qt_next(&r) % 16) - 8) * 0x1p-3f;
    for (int b = 0; b < 16; b++) x[32 * b + 5] = -8 * 0x1p-3f;
    y = roundtrip(QN_GGML_Q4_0, x, 512, 18, 32);
    for (int i = 0; i < 512; i++) ck_assert_msg(y[i] == x[i], "q4_0 [%d] %g != %g", i, y[i], x[i]);
    free(y);
    /* Q6_K: codes -32..31 with every sub-block holding a -32: all sub-block scales equal. */
    for (int i = 0; i < 512; i++) x[i] = (float)((int)(qt_next(&r) % 64) - 32) * 0x1p-4f;
    for (int s = 0; s < 32; s++) x[16 * s + 3] = -32 * 0x1p-4f;
    y = roundtrip(QN_GGML_Q6_K, x, 512, 210, 256);
    for (int i = 0; i < 512; i++) ck_assert_msg(y[i] == x[i], "q6_k [%d] %g != %g", i, y[i], x[i]);
    free(y);
    /* Q4_K: codes 0..15 times 63/64 with every sub-block spanning all 16 codes: every
     * sub-block scale is 63/64, so d = 2^-6 (exact in f16) with scale code 63, and no minimum. */
    for (int i = 0; i < 512; i++) x[i] = (float)(qt_next(&r) % 16) * (63.0f / 64);
    for (int s = 0; s < 16; s++) x[32 * s] = 0, x[32 * s + 1] = 15 * (63.0f / 64);
    y = roundtrip(QN_GGML_Q4_K, x, 512, 144, 256);
    for (int i = 0; i < 512; i++) ck_assert_msg(y[i] == x[i], "q4_k [%d] %g != %g", i, y[i], x[i]);
    free(y);
}
END_TEST

/* Random rows: every weight within half a quantization step of its block (plus the f16
 * rounding of the scales), by each format's definition. */
START_TEST(test_random_bounds) {
    qt_rng r = qt_rng_make(2);
    enum { N = 4096 };
    float *x = malloc(N * sizeof *x);
    qt_fill_normal(&r, x, N, 0.05f);
    x[7] = 0.9f; /* an outlier */
    const double f16_rel = 1.0 / 1024; /* f16 keeps 11 significant bits: relative error <= 2^-11, doubled for margin */
    struct { uint32_t type; int64_t block, bytes, sub; double steps; } fm[] = {
        {QN_GGML_Q8_0, 32, 34, 32, 127}, {QN_GGML_Q4_0, 32, 18, 32, 8},
        {QN_GGML_Q6_K, 256, 210, 16, 32}, {QN_GGML_Q4_K, 256, 144, 32, 15},
    };
    for (size_t f = 0; f < sizeof fm / sizeof fm[0]; f++) {
        float *y = roundtrip(fm[f].type, x, N, (size_t)fm[f].bytes, fm[f].block);
        double err2 = 0, ref2 = 0;
        for (int64_t s = 0; s < N; s += fm[f].sub) {
            double lo = 0, hi = 0, amax = 0, bmax = 0;
            for (int64_t i = s; i < s + fm[f].sub; i++) lo = fmin(lo, x[i]), hi = fmax(hi, x[i]), amax = fmax(amax, fabs(x[i]));
            int64_t b0 = s / fm[f].block * fm[f].block;
            for (int64_t i = b0; i < b0 + fm[f].block; i++) bmax = fmax(bmax, fabs(x[i]));
            /* Step of the sub-block: its range over the code count; K formats add the rounding
             * of the sub-block scale to a code of the block's largest scale (6 or 8 bits). */
            double step = fm[f].type == QN_GGML_Q4_K ? (hi - lo) / 15 : amax / fm[f].steps;
            double code_err = fm[f].type == QN_GGML_Q4_K ? bmax * 2 / 15 / 63 * 16
                              : fm[f].type == QN_GGML_Q6_K ? bmax / 32 / 127 * 33 : 0;
            /* Q4_0 and Q6_K map the largest weight to their most negative code (-8 d, -32 d):
             * the other side ends a step short (7 d, 31 d), so weights there are off by up to a
             * whole step. */
            double bound = (fm[f].type == QN_GGML_Q4_0 || fm[f].type == QN_GGML_Q6_K ? step : step / 2) + code_err + amax * f16_rel * 2 + 1e-7;
            for (int64_t i = s; i < s + fm[f].sub; i++) {
                double e = fabs((double)y[i] - x[i]);
                ck_assert_msg(e <= bound, "%s [%lld]: |%g - %g| = %g > %g", qn_ggml_type_name(fm[f].type), (long long)i,
                              y[i], x[i], e, bound);
                err2 += e * e;
                ref2 += (double)x[i] * x[i];
            }
        }
        printf("%-5s relative RMS error %.4f\n", qn_ggml_type_name(fm[f].type), sqrt(err2 / ref2));
        free(y);
    }
    free(x);
}
END_TEST

START_TEST(test_errors) {
    float x[64] = {0};
    uint8_t q[320]; /* 256 weights: up to 8 Q8_0 blocks of 34 bytes */
    QT_EXPECT_ERR(qn_ggml_quantize_row(QN_GGML_Q8_0, x, q, 48), QUANTA_ERR_INVALID_ARGUMENT, "multiple", "32");
    QT_EXPECT_ERR(qn_ggml_quantize_row(QN_GGML_Q4_K, x, q, 64), QUANTA_ERR_INVALID_ARGUMENT, "256");
    QT_EXPECT_ERR(qn_ggml_quantize_row(QN_GGML_Q5_K, x, q, 256), QUANTA_ERR_UNSUPPORTED, "q5_K");
    QT_EXPECT_ERR(qn_ggml_quantize_row(QN_GGML_Q8_0, NULL, q, 32), QUANTA_ERR_INVALID_ARGUMENT, "NULL");
    x[3] = NAN;
    QT_EXPECT_ERR(qn_ggml_quantize_row(QN_GGML_Q8_0, x, q, 32), QUANTA_ERR_INVALID_ARGUMENT, "weight 3");
    /* All-zero blocks encode to zeros (no division by a zero scale). */
    float z[256] = {0}, y[256];
    uint32_t types[] = {QN_GGML_Q8_0, QN_GGML_Q4_0, QN_GGML_Q4_K, QN_GGML_Q6_K};
    for (int t = 0; t < 4; t++) {
        ck_assert(qn_ggml_quantize_row(types[t], z, q, 256) == QUANTA_OK);
        ck_assert(qn_ggml_dequant_row(types[t], q, y, 256) == QUANTA_OK);
        for (int i = 0; i < 256; i++) ck_assert_msg(y[i] == 0, "%s zero block [%d] = %g", qn_ggml_type_name(types[t]), i, y[i]);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("formats_ggml_quantize");
    TCase *tc = tcase_create("ggml_quantize");
    tcase_add_test(tc, test_exact_values);
    tcase_add_test(tc, test_random_bounds);
    tcase_add_test(tc, test_errors);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
