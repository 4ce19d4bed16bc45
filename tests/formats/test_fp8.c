/* test_fp8.c — OCP FP8 E4M3 / E5M2 scalar codecs: all 256 codes of each decoded against the
 * format formula written out here, encoding checked against a brute-force nearest search over
 * those decoded values, plus hand-derived bit patterns. */
#include "formats.h"
#include "test_util.h"
#include "qt_check.h"

/* E4M3: S EEEE MMM, bias 7; E=0: M * 2^-9; S.1111.111 = NaN; no Inf. */
static double ref_e4m3(unsigned v) {
    int s = v >> 7, e = (v >> 3) & 15, m = v & 7;
    double x;
    if (e == 15 && m == 7) return NAN;
    x = e == 0 ? ldexp(m, -9) : ldexp(1.0 + m / 8.0, e - 7);
    return s ? -x : x;
}
/* E5M2: S EEEEE MM, bias 15; E=0: M * 2^-16; E=31: M=0 Inf, else NaN. */
static double ref_e5m2(unsigned v) {
    int s = v >> 7, e = (v >> 2) & 31, m = v & 3;
    double x;
    if (e == 31) x = m ? NAN : INFINITY;
    else x = e == 0 ? ldexp(m, -16) : ldexp(1.0 + m / 4.0, e - 15);
    return s ? -x : x;
}

START_TEST(test_decode_all) {
    for (unsigned v = 0; v < 256; v++) {
        double a = ref_e4m3(v), b = ref_e5m2(v);
        float fa = qn_e4m3_to_f32((uint8_t)v), fb = qn_e5m2_to_f32((uint8_t)v);
        if (isnan(a)) QT_CHECK(isnan(fa), "e4m3 0x%02x must be NaN", v);
        else QT_CHECK((double)fa == a && !!signbit(fa) == !!signbit(a), "e4m3 0x%02x: %g vs %g", v,
                           (double)fa, a);
        if (isnan(b)) QT_CHECK(isnan(fb), "e5m2 0x%02x must be NaN", v);
        else QT_CHECK((double)fb == b && !!signbit(fb) == !!signbit(b), "e5m2 0x%02x: %g vs %g", v,
                           (double)fb, b);
        /* every non-NaN code round-trips through its decoded value (E5M2 Inf included) */
        if (!isnan(a)) QT_CHECK((qn_f32_to_e4m3(fa)) == (v), "line %d: qn_f32_to_e4m3(fa) == v failed", __LINE__);
        if (!isnan(b)) QT_CHECK((qn_f32_to_e5m2(fb)) == (v), "line %d: qn_f32_to_e5m2(fb) == v failed", __LINE__);
    }
}
END_TEST

START_TEST(test_golden) {
    /* E4M3, derived by hand: 448 = 1.75 * 2^8 -> E = 8+7 = 15, M = 110 -> 0 1111 110 = 0x7E (max;
     * 0x7F is NaN). 2^-9 = smallest subnormal 0 0000 001 = 0x01. 1.0 = 0 0111 000 = 0x38,
     * -1.0 = 0xB8. 2^-6 = smallest normal 0x08; 7 * 2^-9 = largest subnormal 0x07.
     * 240 = 1.875 * 2^7 -> 0 1110 111 = 0x77. 2^-10 is half the smallest subnormal: tie to
     * even = 0x00. 3 * 2^-10 = 1.5 quanta: tie to even 2 -> 0x02. 1.0625 = 1 + 1/16 is halfway
     * between 1.0 (0x38) and 1.125 (0x39): tie to even 0x38; 1.1875 halfway 0x39/0x3A -> 0x3A.
     * 464 (halfway to the non-existent 480) and 1e9 saturate to 0x7E; +-Inf saturate to
     * 0x7E/0xFE (documented: no Inf in E4M3); NaN -> 0x7F, -NaN -> 0xFF. */
    ck_assert_uint_eq(qn_f32_to_e4m3(448.0f), 0x7E);
    ck_assert_uint_eq(qn_f32_to_e4m3(0.001953125f), 0x01);
    ck_assert_uint_eq(qn_f32_to_e4m3(1.0f), 0x38);
    ck_assert_uint_eq(qn_f32_to_e4m3(-1.0f), 0xB8);
    ck_assert_uint_eq(qn_f32_to_e4m3(ldexpf(1.0f, -6)), 0x08);
    ck_assert_uint_eq(qn_f32_to_e4m3(ldexpf(7.0f, -9)), 0x07);
    ck_assert_uint_eq(qn_f32_to_e4m3(240.0f), 0x77);
    ck_assert_uint_eq(qn_f32_to_e4m3(ldexpf(1.0f, -10)), 0x00);
    ck_assert_uint_eq(qn_f32_to_e4m3(nextafterf(ldexpf(1.0f, -10), 1.0f)), 0x01);
    ck_assert_uint_eq(qn_f32_to_e4m3(ldexpf(3.0f, -10)), 0x02);
    ck_assert_uint_eq(qn_f32_to_e4m3(1.0625f), 0x38);
    ck_assert_uint_eq(qn_f32_to_e4m3(1.1875f), 0x3A);
    ck_assert_uint_eq(qn_f32_to_e4m3(464.0f), 0x7E);
    ck_assert_uint_eq(qn_f32_to_e4m3(-1e9f), 0xFE);
    ck_assert_uint_eq(qn_f32_to_e4m3(INFINITY), 0x7E);
    ck_assert_uint_eq(qn_f32_to_e4m3(-INFINITY), 0xFE);
    ck_assert_uint_eq(qn_f32_to_e4m3(NAN), 0x7F);
    ck_assert_uint_eq(qn_f32_to_e4m3(-NAN), 0xFF);
    ck_assert_uint_eq(qn_f32_to_e4m3(-0.0f), 0x80);
    /* E5M2: 57344 = 1.75 * 2^15 -> E = 30, M = 11 -> 0 11110 11 = 0x7B (max). 1.0 = 0 01111 00
     * = 0x3C. 2^-16 = smallest subnormal 0x01; 2^-14 = smallest normal 0x04. 61440 (halfway
     * to 65536, which would be Inf in IEEE) saturates to 0x7B by the documented rule; +-Inf
     * stay Inf 0x7C/0xFC; NaN -> 0x7E (quiet, the top byte of f16's 0x7E00), -NaN -> 0xFE.
     * 1.125 is halfway between 1.0 (0x3C) and 1.25 (0x3D): tie to even 0x3C. */
    ck_assert_uint_eq(qn_f32_to_e5m2(57344.0f), 0x7B);
    ck_assert_uint_eq(qn_f32_to_e5m2(1.0f), 0x3C);
    ck_assert_uint_eq(qn_f32_to_e5m2(ldexpf(1.0f, -16)), 0x01);
    ck_assert_uint_eq(qn_f32_to_e5m2(ldexpf(1.0f, -14)), 0x04);
    ck_assert_uint_eq(qn_f32_to_e5m2(61440.0f), 0x7B);
    ck_assert_uint_eq(qn_f32_to_e5m2(-1e30f), 0xFB);
    ck_assert_uint_eq(qn_f32_to_e5m2(INFINITY), 0x7C);
    ck_assert_uint_eq(qn_f32_to_e5m2(-INFINITY), 0xFC);
    ck_assert_uint_eq(qn_f32_to_e5m2(NAN), 0x7E);
    ck_assert_uint_eq(qn_f32_to_e5m2(-NAN), 0xFE);
    ck_assert_uint_eq(qn_f32_to_e5m2(1.125f), 0x3C);
    ck_assert_uint_eq(qn_f32_to_e5m2(ldexpf(1.0f, -17)), 0x00);
}
END_TEST

/* Nearest finite code by brute force; ties pick the code with an even low bit; |x| >= max
 * saturates. Independent of the encoder's bit arithmetic. */
static unsigned brute_encode(float x, double (*ref)(unsigned), double maxv) {
    double a = fabs((double)x);
    unsigned sign = signbit(x) ? 0x80u : 0u;
    unsigned best = 0;
    double bd = INFINITY;
    if (a >= maxv) a = maxv;
    for (unsigned v = 0; v < 128; v++) {
        double d = ref(v);
        if (!isfinite(d)) continue;
        double dist = fabs(d - a);
        if (dist < bd || (dist == bd && (v & 1u) == 0)) {
            bd = dist;
            best = v;
        }
    }
    return sign | best;
}

START_TEST(test_encode_vs_brute) {
    qt_rng r = qt_rng_make(21);
    for (int i = 0; i < 60000; i++) {
        /* log-uniform over and beyond both ranges, plus exact midpoints between codes */
        float x = ldexpf(qt_uniform(&r, 1.0f, 2.0f), (int)(qt_next(&r) % 44) - 26);
        if (i % 3 == 0) {
            unsigned v = (unsigned)(qt_next(&r) % 126);
            x = (float)((ref_e4m3(v) + ref_e4m3(v + 1)) / 2);
        }
        if (qt_next(&r) & 1) x = -x;
        QT_CHECK(qn_f32_to_e4m3(x) == brute_encode(x, ref_e4m3, 448.0), "e4m3(%a) = 0x%02x, want 0x%02x",
                      (double)x, qn_f32_to_e4m3(x), brute_encode(x, ref_e4m3, 448.0));
        if (i % 3 == 0) {
            unsigned v = (unsigned)(qt_next(&r) % 123);
            x = (float)((ref_e5m2(v) + ref_e5m2(v + 1)) / 2);
        }
        QT_CHECK(qn_f32_to_e5m2(x) == brute_encode(x, ref_e5m2, 57344.0), "e5m2(%a) = 0x%02x, want 0x%02x",
                      (double)x, qn_f32_to_e5m2(x), brute_encode(x, ref_e5m2, 57344.0));
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("formats_fp8");
    TCase *tc = tcase_create("fp8");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_decode_all);
    tcase_add_test(tc, test_golden);
    tcase_add_test(tc, test_encode_vs_brute);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
