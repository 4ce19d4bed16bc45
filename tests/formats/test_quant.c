/* test_quant.c — q8, q4 and per-row fp8 weight formats: hand-worked byte images, and round
 * trips on random matrices with error bounds derived from each format. q8 and q4 bounds add
 * the f32 rounding of the decoder's product (2^-23 |ŵ|); fp8 bounds are scaled by 1 + 2^-16
 * (w/scale is an f32 quotient, rounded before the fp8 rounding).
 *   q8:  s = max|w|/127 exactly as stored; every |w - ŵ| <= s/2.
 *   q4:  per group s = f16((hi - lo)/15), lo = min(0, min w), hi = max(0, max w),
 *        z = clamp(rne(-lo/s), 0, 15); for w inside the representable range [-z s, (15-z) s]
 *        |w - ŵ| <= s/2; for every w |w - ŵ| <= s/2 + 15 s 2^-11 (the f16 rounding of s can
 *        shrink the range by 15 s 2^-11; a rounded z shifts it by at most s/2).
 *   fp8: scale = max|w|/448 (e4m3) or /57344 (e5m2) as stored; for |w/scale| in the normal
 *        range |w - ŵ| <= 2^-4 |w| (e4m3: 3 mantissa bits) or 2^-3 |w| (e5m2: 2 bits); in the
 *        subnormal range |w - ŵ| <= scale * 2^-10 (e4m3) or scale * 2^-17 (e5m2), half the
 *        subnormal step.
 * The dequantized values are also rebuilt here from the raw bytes as documented in quanta.h,
 * which checks the interchange layout independently of qn_dequant_row. */
#include "formats.h"
#include "test_util.h"
#include "qt_check.h"
#include "qt_tensor.h"

#define SLACK (1.0 + 1.0 / 1048576.0)
/* Rounding of the f32 product code * scale in the decoder (<= 2^-24 |ŵ|, allowed 2^-23). */
#define PROD_ERR(what) (fabs((double)(what)) * 0x1p-23)

/* quantize then dequantize through the public API; returns the byte image (caller frees) */
static uint8_t *roundtrip(const quanta_tensor_desc *d, const float *w, float *out, size_t *nbytes) {
    size_t bytes = 0, n = (size_t)(d->dims[0] * d->dims[1]);
    ck_assert_int_eq(quanta_tensor_bytes(d, &bytes), QUANTA_OK);
    uint8_t *buf = malloc(bytes + 16);
    ck_assert_ptr_nonnull(buf);
    memset(buf, 0xA5, bytes + 16); /* poison, and a guard after the tensor */
    ck_assert_msg(quanta_quantize(d, w, buf, bytes) == QUANTA_OK, "%s", quanta_last_error());
    for (int i = 0; i < 16; i++) ck_assert_uint_eq(buf[bytes + i], 0xA5);
    qt_poison_f32(out, n);
    ck_assert_int_eq(quanta_dequantize(d, buf, bytes, out, n), QUANTA_OK);
    if (nbytes) *nbytes = bytes;
    return buf;
}

START_TEST(test_q8_golden) {
    /* row 0 {127, -63.5, 0.25}: s = 127/127 = 1; q = 127, rne(-63.5) = -64 (tie to even), rne(0.25)
     *   = 0 -> bytes 7F C0 00.  row 1 all zero: s = 0, codes 00 00 00 (exact zeros back).
     * row 2 {-254, 1, 3}: s = 2; q = -127, rne(0.5) = 0 (tie to even), rne(1.5) = 2 -> 81 00 02.
     * Then f32 scales LE: 1.0 = 00 00 80 3F, 0 = 00 00 00 00, 2.0 = 00 00 00 40. */
    static const uint8_t want[] = { 0x7F, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x81, 0x00, 0x02,
                                    0x00, 0x00, 0x80, 0x3F, 0, 0, 0, 0, 0x00, 0x00, 0x00, 0x40 };
    float w[9] = { 127.0f, -63.5f, 0.25f, 0, 0, 0, -254.0f, 1.0f, 3.0f }, out[9];
    quanta_tensor_desc d = qt_mat(QUANTA_Q8, 3, 3, 0, 0);
    size_t nb;
    uint8_t *buf = roundtrip(&d, w, out, &nb);
    ck_assert_uint_eq(nb, sizeof want);
    for (size_t i = 0; i < sizeof want; i++) ck_assert_msg(buf[i] == want[i], "byte %zu: %02x vs %02x", i, buf[i], want[i]);
    const float back[9] = { 127, -64, 0, 0, 0, 0, -254, 0, 4 };
    for (int i = 0; i < 9; i++) ck_assert_float_eq(out[i], back[i]);
    ck_assert(!signbit(out[3])); /* zero row is +0 */
    free(buf);
}
END_TEST

START_TEST(test_q8_random) {
    qt_rng r = qt_rng_make(31);
    for (int it = 0; it < 40; it++) {
        int64_t rows = 1 + (int64_t)(qt_next(&r) % 7), cols = 1 + (int64_t)(qt_next(&r) % 300);
        size_t n = (size_t)(rows * cols);
        float *w = malloc(n * 4), *out = malloc(n * 4);
        QT_CHECK(w && out, "line %d: w && out failed", __LINE__);
        qt_fill_normal(&r, w, n, ldexpf(1.0f, (int)(qt_next(&r) % 40) - 20));
        if (it % 5 == 0) w[qt_next(&r) % n] = 0.0f;
        quanta_tensor_desc d = qt_mat(QUANTA_Q8, rows, cols, 0, 0);
        uint8_t *buf = roundtrip(&d, w, out, NULL);
        for (int64_t i = 0; i < rows; i++) {
            float amax = 0;
            for (int64_t c = 0; c < cols; c++) amax = fmaxf(amax, fabsf(w[i * cols + c]));
            float s = qt_rd_f32(buf + n + (size_t)i * 4);
            QT_CHECK((s) == (amax / 127.0f), "line %d: s == amax / 127.0f failed", __LINE__);
            for (int64_t c = 0; c < cols; c++) {
                size_t k = (size_t)(i * cols + c);
                int8_t q = (int8_t)buf[k];
                QT_CHECK(buf[k] != 0x80, "q8 code -128 at %zu (never produced)", k);
                QT_CHECK((out[k]) == ((float)q * s), "line %d: out[k] == (float)q * s failed", __LINE__);
                double err = fabs((double)w[k] - out[k]);
                QT_CHECK(err <= s / 2.0 + PROD_ERR(out[k]), "q8 [%lld][%lld]: w %g got %g s %g", (long long)i,
                              (long long)c, (double)w[k], (double)out[k], (double)s);
            }
        }
        free(buf);
        free(w);
        free(out);
    }
}
END_TEST

START_TEST(test_q4_golden) {
    /* One row of 32, group 32. w[c] = -2 + 0.5*(c % 16), except w[1] = 0.25.
     * lo = -2, hi = 5.5 -> s = 7.5/15 = 0.5 = f16 0x3800 (exact); z = rne(2/0.5) = 4.
     * q[c] = rne(w/0.5) + 4 = c % 16; q[1] = rne(0.5) + 4 = 0 + 4 = 4 (tie to even),
     * which dequantizes to 0 (error 0.25 = s/2).
     * Codes (low nibble = even col): 40 32 54 76 98 BA DC FE 10 32 54 76 98 BA DC FE,
     * then scale 00 38, then zero byte 04. */
    static const uint8_t want[] = { 0x40, 0x32, 0x54, 0x76, 0x98, 0xBA, 0xDC, 0xFE, 0x10, 0x32, 0x54, 0x76,
                                    0x98, 0xBA, 0xDC, 0xFE, 0x00, 0x38, 0x04 };
    float w[32], out[32];
    for (int c = 0; c < 32; c++) w[c] = -2.0f + 0.5f * (float)(c % 16);
    w[1] = 0.25f;
    quanta_tensor_desc d = qt_mat(QUANTA_Q4, 1, 32, 32, 0);
    size_t nb;
    uint8_t *buf = roundtrip(&d, w, out, &nb);
    ck_assert_uint_eq(nb, sizeof want);
    for (size_t i = 0; i < sizeof want; i++) ck_assert_msg(buf[i] == want[i], "byte %zu: %02x vs %02x", i, buf[i], want[i]);
    for (int c = 0; c < 32; c++) ck_assert_float_eq(out[c], c == 1 ? 0.0f : w[c]);
    free(buf);
    /* A positive-only group: lo is clamped to 0, so z = 0 and s = max/15.
     * w[c] = 0.25 * ((7c) % 16), max 15 * 0.25 = 3.75: s = 0.25 (f16 0x3400), q = w / 0.25. */
    for (int c = 0; c < 32; c++) w[c] = 0.25f * (float)((c * 7) % 16);
    buf = roundtrip(&d, w, out, &nb);
    ck_assert_uint_eq(buf[16] | buf[17] << 8, 0x3400);
    ck_assert_uint_eq(buf[18], 0x00);
    for (int c = 0; c < 32; c++) ck_assert_float_eq(out[c], w[c]);
    free(buf);
}
END_TEST

START_TEST(test_q4_random) {
    qt_rng r = qt_rng_make(32);
    const int32_t groups[] = { 0, 32, 64, 128 };
    for (int it = 0; it < 40; it++) {
        int32_t gsel = groups[it % 4], g = gsel ? gsel : 64;
        int64_t rows = 1 + (int64_t)(qt_next(&r) % 5), ng = 1 + (int64_t)(qt_next(&r) % 5), cols = ng * g;
        size_t n = (size_t)(rows * cols);
        float *w = malloc(n * 4), *out = malloc(n * 4);
        QT_CHECK(w && out, "line %d: w && out failed", __LINE__);
        float sd = ldexpf(1.0f, (int)(qt_next(&r) % 16) - 8);
        qt_fill_normal(&r, w, n, sd);
        if (it % 3 == 1) /* shift so some groups are one-signed (min or max clamped to 0) */
            for (size_t i = 0; i < n; i++) w[i] += (it % 2 ? 2.5f : -2.5f) * sd;
        if (it % 7 == 0) memset(w, 0, (size_t)cols * 4); /* an all-zero row */
        quanta_tensor_desc d = qt_mat(QUANTA_Q4, rows, cols, gsel, 0);
        uint8_t *buf = roundtrip(&d, w, out, NULL);
        size_t sc_off = n / 2, zb = (size_t)(ng + 1) / 2, z_off = sc_off + (size_t)(rows * ng) * 2;
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < ng; j++) {
                const float *wg = w + i * cols + j * g;
                float lo = 0, hi = 0;
                for (int c = 0; c < g; c++) lo = fminf(lo, wg[c]), hi = fmaxf(hi, wg[c]);
                const uint8_t *sp = buf + sc_off + (size_t)(i * ng + j) * 2;
                uint16_t s16 = (uint16_t)(sp[0] | sp[1] << 8);
                float s = qn_f16_to_f32(s16);
                QT_CHECK((s16) == (qn_f32_to_f16((hi - lo) / 15.0f)), "line %d: s16 == qn_f32_to_f16((hi - lo) / 15.0f) failed", __LINE__);
                int z = (buf[z_off + (size_t)i * zb + (size_t)j / 2] >> ((j & 1) * 4)) & 15;
                int zwant = s > 0 ? (int)fmin(15, fmax(0, nearbyint(-(double)lo / s))) : 0;
                QT_CHECK((z) == (zwant), "line %d: z == zwant failed", __LINE__);
                for (int c = 0; c < g; c++) {
                    size_t k = (size_t)(i * cols + j * g + c);
                    int q = (buf[k / 2] >> ((k & 1) * 4)) & 15;
                    QT_CHECK((out[k]) == ((float)(q - z) * s), "line %d: out[k] == (float)(q - z) * s failed", __LINE__);
                    double err = fabs((double)w[k] - out[k]);
                    double bound = s / 2.0 + 15.0 * s / 2048.0;
                    if (w[k] >= -z * s && w[k] <= (15 - z) * s) bound = s / 2.0;
                    if (s == 0) bound = 0;
                    QT_CHECK(err <= bound + PROD_ERR(out[k]), "q4 [%lld][%lld]: w %g got %g s %g z %d",
                                  (long long)i, (long long)(j * g + c), (double)w[k], (double)out[k], (double)s, z);
                }
            }
        free(buf);
        free(w);
        free(out);
    }
}
END_TEST

START_TEST(test_fp8_golden) {
    /* e4m3 row {448, -224, 0.875, 0}: amax 448, scale = 1.0; codes 448 -> 0x7E, -224 = -1.75*2^7
     * -> 1 1110 110 = 0xF6, 0.875 = 1.75*2^-1 -> 0 0110 110 = 0x36, 0 -> 0x00. Scale 00 00 80 3F.
     * Row 1 all zeros: scale 0 and codes 0. */
    static const uint8_t want[] = { 0x7E, 0xF6, 0x36, 0x00, 0, 0, 0, 0, 0x00, 0x00, 0x80, 0x3F, 0, 0, 0, 0 };
    float w[8] = { 448, -224, 0.875f, 0, 0, 0, 0, 0 }, out[8];
    quanta_tensor_desc d = qt_mat(QUANTA_FP8_E4M3, 2, 4, 0, 0);
    size_t nb;
    uint8_t *buf = roundtrip(&d, w, out, &nb);
    ck_assert_uint_eq(nb, sizeof want);
    for (size_t i = 0; i < sizeof want; i++) ck_assert_uint_eq(buf[i], want[i]);
    for (int i = 0; i < 8; i++) ck_assert_float_eq(out[i], w[i]);
    free(buf);
    /* e5m2 row {-114688, 3}: amax = 114688 = 2 * 57344, scale 2; -57344 -> 0xFB; 1.5 = 1.5*2^0
     * -> 0 01111 10 = 0x3E. */
    float w2[2] = { -114688.0f, 3.0f }, o2[2];
    d = qt_mat(QUANTA_FP8_E5M2, 1, 2, 0, 0);
    buf = roundtrip(&d, w2, o2, &nb);
    ck_assert_uint_eq(nb, 6);
    ck_assert_uint_eq(buf[0], 0xFB);
    ck_assert_uint_eq(buf[1], 0x3E);
    ck_assert_float_eq(qt_rd_f32(buf + 2), 2.0f);
    ck_assert_float_eq(o2[0], w2[0]);
    ck_assert_float_eq(o2[1], w2[1]);
    free(buf);
}
END_TEST

static void fp8_random(quanta_dtype t, uint64_t salt) {
    int e5 = t == QUANTA_FP8_E5M2;
    double maxv = e5 ? 57344.0 : 448.0, rel = e5 ? 0.125 : 0.0625;
    double min_normal = e5 ? ldexp(1, -14) : ldexp(1, -6), sub_half = e5 ? ldexp(1, -17) : ldexp(1, -10);
    qt_rng r = qt_rng_make(salt);
    for (int it = 0; it < 30; it++) {
        int64_t rows = 1 + (int64_t)(qt_next(&r) % 6), cols = 1 + (int64_t)(qt_next(&r) % 1100); /* both sides of the 512 table cut */
        size_t n = (size_t)(rows * cols);
        float *w = malloc(n * 4), *out = malloc(n * 4);
        QT_CHECK(w && out, "line %d: w && out failed", __LINE__);
        for (size_t i = 0; i < n; i++) /* wide dynamic range so subnormal codes occur */
            w[i] = qt_normal(&r, 1.0f) * ldexpf(1.0f, (int)(qt_next(&r) % 24) - 12);
        quanta_tensor_desc d = qt_mat(t, rows, cols, 0, 0);
        uint8_t *buf = roundtrip(&d, w, out, NULL);
        for (int64_t i = 0; i < rows; i++) {
            float amax = 0;
            for (int64_t c = 0; c < cols; c++) amax = fmaxf(amax, fabsf(w[i * cols + c]));
            float s = qt_rd_f32(buf + n + (size_t)i * 4);
            QT_CHECK((s) == (amax / (float)maxv), "line %d: s == amax / (float)maxv failed", __LINE__);
            for (int64_t c = 0; c < cols; c++) {
                size_t k = (size_t)(i * cols + c);
                double x = fabs((double)w[k]) / s, err = fabs((double)w[k] - out[k]);
                double bound = x >= min_normal ? rel * fabs((double)w[k]) : sub_half * s;
                /* w/scale is an f32 quotient rounded before the fp8 rounding: allow 2^-16 */
                QT_CHECK(err <= bound * (1.0 + 1.0 / 65536) + 1e-30, "%s [%lld][%lld]: w %g got %g scale %g",
                              quanta_dtype_name(t), (long long)i, (long long)c, (double)w[k], (double)out[k],
                              (double)s);
                QT_CHECK(!isnan(out[k]) && fabs(out[k]) <= amax * SLACK, "line %d: !isnan(out[k]) && fabs(out[k]) <= amax * SLACK failed", __LINE__);
            }
        }
        free(buf);
        free(w);
        free(out);
    }
}

START_TEST(test_fp8_random) {
    fp8_random(QUANTA_FP8_E4M3, 33);
    fp8_random(QUANTA_FP8_E5M2, 34);
}
END_TEST

int main(void) {
    Suite *s = suite_create("formats_quant");
    TCase *tc = tcase_create("quant");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_q8_golden);
    tcase_add_test(tc, test_q8_random);
    tcase_add_test(tc, test_q4_golden);
    tcase_add_test(tc, test_q4_random);
    tcase_add_test(tc, test_fp8_golden);
    tcase_add_test(tc, test_fp8_random);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
