/* test_nf4.c — NormalFloat-4 with and without double quantization.
 * Bounds asserted: every code is a nearest book entry to x = w/absmax (|x - book[code]| <=
 * |x - book[j]| for all j; on an exact midpoint the LOWER code, as bitsandbytes); hence
 * |w - ŵ| <= absmax * gap/2 where gap is the book spacing around x (at most
 * (1 - 0.6961928)/2 * absmax = 0.1519 absmax). Double quant: mean = average absmax (f32 of
 * the double sum), dq_scale = max|absmax - mean|/127 per run of 256 blocks, the effective
 * absmax is within dq_scale/2 of the true one, and codes are nearest against the effective
 * absmax. The decoded values are rebuilt here from the raw bytes per the quanta.h layout. */
#include "formats.h"
#include "test_util.h"
#include "qt_check.h"
#include "qt_tensor.h"

static const double book[16] = { -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
                                 -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
                                 0.07958029955625534, 0.16093020141124725, 0.24611230194568634,
                                 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
                                 0.7229568362236023, 1.0 };

static int code_at(const uint8_t *buf, size_t k) { return (buf[k / 2] >> ((k & 1) * 4)) & 15; }

START_TEST(test_book) {
    for (int i = 0; i < 16; i++) ck_assert_float_eq(qn_nf4_book[i], (float)book[i]);
}
END_TEST

START_TEST(test_golden) {
    /* One 64-block, absmax 2: w[c] = 2 * book[c % 16] codes exactly to c % 16, except
     * w[1] = 2 * 0.03979014977812767f, exactly the midpoint between book[7] = 0 and book[8]
     * (the f32 threshold bitsandbytes uses): ties go to the lower code 7; and w[3] just above
     * that midpoint goes to code 8. Bytes (low nibble = even col): 70 82 54 76 98 BA DC FE,
     * then 10 32 ... FE three times, then absmax 2.0 = 00 00 00 40. */
    float w[64], out[64];
    for (int c = 0; c < 64; c++) w[c] = 2.0f * (float)book[c % 16];
    const float mid78 = 0.03979014977812767f;
    w[1] = 2.0f * mid78;
    w[3] = 2.0f * nextafterf(mid78, 1.0f);
    quanta_tensor_desc d = qt_mat(QUANTA_NF4, 1, 64, 0, 0);
    size_t bytes;
    ck_assert_int_eq(quanta_tensor_bytes(&d, &bytes), QUANTA_OK);
    ck_assert_uint_eq(bytes, 36);
    uint8_t buf[36];
    memset(buf, 0xA5, sizeof buf);
    ck_assert_int_eq(quanta_quantize(&d, w, buf, bytes), QUANTA_OK);
    static const uint8_t first[8] = { 0x70, 0x82, 0x54, 0x76, 0x98, 0xBA, 0xDC, 0xFE };
    for (int i = 0; i < 32; i++) {
        uint8_t want = i < 8 ? first[i] : (uint8_t)(((2 * i + 1) % 16) << 4 | (2 * i) % 16);
        QT_CHECK(buf[i] == want, "byte %d: %02x vs %02x", i, buf[i], want);
    }
    ck_assert_float_eq(qt_rd_f32(buf + 32), 2.0f);
    qt_poison_f32(out, 64);
    ck_assert_int_eq(quanta_dequantize(&d, buf, bytes, out, 64), QUANTA_OK);
    for (int c = 0; c < 64; c++) {
        float want = c == 1 ? 0.0f : c == 3 ? 2.0f * (float)book[8] : 2.0f * (float)book[c % 16];
        QT_CHECK((out[c]) == (want), "line %d: out[c] == want failed", __LINE__);
    }
}
END_TEST

/* Checks the code of w against absmax a: nearest, and lower on exact midpoint ties. */
static void check_code(float w, float a, int code, size_t k) {
    if (!(a > 0)) {
        QT_CHECK(code == 7, "element %zu: block absmax %g but code %d", k, (double)a, code);
        return;
    }
    double x = (double)(w / a), d = fabs(x - book[code]);
    for (int j = 0; j < 16; j++) {
        double dj = fabs(x - book[j]);
        QT_CHECK(d <= dj + 1e-7, "element %zu: x %.9g coded %d but %d is nearer", k, x, code, j);
    }
}

static void nf4_random(int dq, uint64_t salt, int iters) {
    qt_rng r = qt_rng_make(salt);
    for (int it = 0; it < iters; it++) {
        int64_t rows = 1 + (int64_t)(qt_next(&r) % 9), cols = 64 * (1 + (int64_t)(qt_next(&r) % (dq ? 80 : 6)));
        size_t n = (size_t)(rows * cols), nb = n / 64;
        float *w = malloc(n * 4), *out = malloc(n * 4);
        QT_CHECK(w && out, "line %d: w && out failed", __LINE__);
        qt_fill_normal(&r, w, n, ldexpf(1.0f, (int)(qt_next(&r) % 12) - 6));
        if (it % 4 == 0) memset(w + 64 * (qt_next(&r) % nb), 0, 64 * 4); /* an all-zero block */
        quanta_tensor_desc d = qt_mat(QUANTA_NF4, rows, cols, 0, dq);
        size_t bytes;
        QT_CHECK((quanta_tensor_bytes(&d, &bytes)) == (QUANTA_OK), "line %d: quanta_tensor_bytes(&d, &bytes) == QUANTA_OK failed", __LINE__);
        size_t ndq = (nb + 255) / 256;
        QT_CHECK((bytes) == (n / 2 + (dq ? nb + 4 * ndq + 4 : 4 * nb)), "line %d: bytes == n / 2 + (dq ? nb + 4 * ndq + 4 : 4 * nb) failed", __LINE__);
        uint8_t *buf = malloc(bytes);
        ck_assert_ptr_nonnull(buf);
        memset(buf, 0xA5, bytes);
        QT_CHECK(quanta_quantize(&d, w, buf, bytes) == QUANTA_OK, "%s", quanta_last_error());
        qt_poison_f32(out, n);
        QT_CHECK((quanta_dequantize(&d, buf, bytes, out, n)) == (QUANTA_OK), "line %d: quanta_dequantize(&d, buf, bytes, out, n) == QUANTA_OK failed", __LINE__);
        double sum = 0;
        float *am = malloc(nb * 4);
        ck_assert_ptr_nonnull(am);
        for (size_t b = 0; b < nb; b++) {
            float a = 0;
            for (int i = 0; i < 64; i++) a = fmaxf(a, fabsf(w[b * 64 + i]));
            am[b] = a;
            sum += a;
        }
        float mean = (float)(sum / (double)nb);
        if (dq) QT_CHECK((qt_rd_f32(buf + n / 2 + nb + 4 * ndq)) == (mean), "line %d: qt_rd_f32(buf + n / 2 + nb + 4 * ndq) == mean failed", __LINE__);
        for (size_t b = 0; b < nb; b++) {
            float a = am[b], eff;
            if (!dq) {
                eff = qt_rd_f32(buf + n / 2 + 4 * b);
                QT_CHECK((eff) == (a), "line %d: eff == a failed", __LINE__);
            } else {
                float dmax = 0;
                size_t g0 = b / 256 * 256;
                for (size_t bb = g0; bb < g0 + 256 && bb < nb; bb++) dmax = fmaxf(dmax, fabsf(am[bb] - mean));
                float dqs = qt_rd_f32(buf + n / 2 + nb + 4 * (b / 256));
                QT_CHECK((dqs) == (dmax / 127.0f), "line %d: dqs == dmax / 127.0f failed", __LINE__);
                int8_t qd = (int8_t)buf[n / 2 + b];
                QT_CHECK((qd) != (-128), "line %d: qd != -128 failed", __LINE__);
                eff = (float)qd * dqs + mean;
                QT_CHECK(fabs((double)eff - a) <= dqs / 2.0 * (1 + 1e-5) + 1e-6 * mean,
                              "block %zu: absmax %g effective %g dq_scale %g", b, (double)a, (double)eff, (double)dqs);
                if (eff < 0) eff = 0;
            }
            for (int i = 0; i < 64; i++) {
                size_t k = b * 64 + i;
                int code = code_at(buf, k);
                check_code(w[k], eff, code, k);
                QT_CHECK((out[k]) == ((float)book[code] * eff), "line %d: out[k] == (float)book[code] * eff failed", __LINE__);
                if (!dq) {
                    double err = fabs((double)w[k] - out[k]);
                    QT_CHECK(err <= 0.152 * a, "line %d: err <= 0.152 * a failed", __LINE__);
                }
            }
        }
        free(am);
        free(buf);
        free(w);
        free(out);
    }
}

START_TEST(test_random_plain) { nf4_random(0, 41, 30); }
END_TEST

START_TEST(test_random_double_quant) { nf4_random(1, 42, 12); }
END_TEST

START_TEST(test_double_quant_golden) {
    /* 2 blocks (rows 2, cols 64), absmax 1 and 3: mean = 2; deviations -1, +1 -> dq_scale = 1/127,
     * qd = -127 (0x81), +127 (0x7F); effective absmax 1 and 3 up to f32 rounding of 127 * (1/127).
     * Layout: 64 code bytes, qabsmax 81 7F, dq_scale f32, mean f32 = 2.0 (00 00 00 40): 74 bytes. */
    float w[128];
    for (int i = 0; i < 128; i++) w[i] = 0;
    w[5] = -1.0f;
    w[64 + 9] = 3.0f;
    quanta_tensor_desc d = qt_mat(QUANTA_NF4, 2, 64, 0, 1);
    size_t bytes;
    ck_assert_int_eq(quanta_tensor_bytes(&d, &bytes), QUANTA_OK);
    ck_assert_uint_eq(bytes, 74);
    uint8_t buf[74];
    ck_assert_int_eq(quanta_quantize(&d, w, buf, bytes), QUANTA_OK);
    ck_assert_uint_eq(buf[64], 0x81);
    ck_assert_uint_eq(buf[65], 0x7F);
    ck_assert_float_eq(qt_rd_f32(buf + 66), 1.0f / 127.0f);
    ck_assert_float_eq(qt_rd_f32(buf + 70), 2.0f);
    /* codes: zeros are code 7 (0x77 bytes), w[5] -> code 0 in the high nibble of byte 2,
     * w[73] -> code 15 in the high nibble of byte 36 */
    ck_assert_uint_eq(buf[2], 0x07);
    ck_assert_uint_eq(buf[36], 0xF7);
    ck_assert_uint_eq(buf[0], 0x77);
    float out[128];
    qt_poison_f32(out, 128);
    ck_assert_int_eq(quanta_dequantize(&d, buf, bytes, out, 128), QUANTA_OK);
    ck_assert(fabsf(out[5] + 1.0f) <= 1e-6f && fabsf(out[73] - 3.0f) <= 1e-6f);
    ck_assert_float_eq(out[0], 0.0f);
    qn_quant_layout L;
    ck_assert_int_eq(qn_quant_layout_get(&d, &L), QUANTA_OK);
    ck_assert_float_eq(qn_nf4_absmax(&L, buf, 0), -127.0f * (1.0f / 127.0f) + 2.0f);
}
END_TEST

int main(void) {
    Suite *s = suite_create("formats_nf4");
    TCase *tc = tcase_create("nf4");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_book);
    tcase_add_test(tc, test_golden);
    tcase_add_test(tc, test_random_plain);
    tcase_add_test(tc, test_random_double_quant);
    tcase_add_test(tc, test_double_quant_golden);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
