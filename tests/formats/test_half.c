/* test_half.c — f16 and bf16 conversions against hand-derived bit patterns and an independent
 * double-precision model (quantum = 2^(e - mantissa_bits), round half to even with nearbyint
 * in double, which is exact here because x / quantum is an integer-or-half below 2^25). */
#include <float.h>

#include "formats.h"
#include "test_util.h"
#include "qt_check.h"

static uint32_t fbits(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}
static float bitsf(uint32_t u) {
    float x;
    memcpy(&x, &u, 4);
    return x;
}

/* Model of IEEE binary16/bfloat16 rounding: mbits mantissa bits, emin smallest normal exponent,
 * maxv largest finite; returns the rounded value (Inf on overflow, as IEEE does). */
static double model_round(double x, int mbits, int emin, double maxv) {
    double a = fabs(x);
    if (a == 0) return x;
    int e;
    frexp(a, &e); /* a = f * 2^e, f in [0.5, 1) -> exponent of a is e-1 */
    e -= 1;
    if (e < emin) e = emin;
    double q = ldexp(1.0, e - mbits);
    double r = nearbyint(a / q) * q;
    double ulp_max = ldexp(1.0, (int)floor(log2(maxv)) - mbits);
    if (r > maxv || a >= maxv + ulp_max / 2) r = INFINITY; /* halfway above max ties to even = Inf */
    return copysign(r, x);
}

START_TEST(test_f16_golden) {
    /* Hand-derived: 1.0 = 0 01111 0000000000 = 0x3C00; -2 = 1 10000 0... = 0xC000;
     * 65504 = 0 11110 1111111111 = 0x7BFF (max); 65520 is halfway to 65536 and ties to the even
     * pattern 0x7C00 = Inf; 65519.99 rounds down to 0x7BFF. 2^-24 = smallest subnormal 0x0001;
     * 2^-25 is exactly half of it and ties to even 0 -> 0x0000; 1.5*2^-25 rounds up to 0x0001.
     * 2^-14 = smallest normal 0x0400; 0.333333 -> 0x3555 (1.0101010101 * 2^-2).
     * 1 + 2^-11 is halfway between 1 and 1+2^-10: ties to even 0x3C00; 1 + 3*2^-11 -> 0x3C02. */
    ck_assert_uint_eq(qn_f32_to_f16(1.0f), 0x3C00);
    ck_assert_uint_eq(qn_f32_to_f16(-2.0f), 0xC000);
    ck_assert_uint_eq(qn_f32_to_f16(65504.0f), 0x7BFF);
    ck_assert_uint_eq(qn_f32_to_f16(65520.0f), 0x7C00);
    ck_assert_uint_eq(qn_f32_to_f16(nextafterf(65520.0f, 0.0f)), 0x7BFF);
    ck_assert_uint_eq(qn_f32_to_f16(-1e30f), 0xFC00);
    ck_assert_uint_eq(qn_f32_to_f16(INFINITY), 0x7C00);
    ck_assert_uint_eq(qn_f32_to_f16(-INFINITY), 0xFC00);
    ck_assert_uint_eq(qn_f32_to_f16(ldexpf(1.0f, -24)), 0x0001);
    ck_assert_uint_eq(qn_f32_to_f16(ldexpf(1.0f, -25)), 0x0000);
    ck_assert_uint_eq(qn_f32_to_f16(ldexpf(1.5f, -25)), 0x0001);
    ck_assert_uint_eq(qn_f32_to_f16(ldexpf(3.0f, -25)), 0x0002); /* 1.5 quanta: tie to even 2 */
    ck_assert_uint_eq(qn_f32_to_f16(ldexpf(1.0f, -14)), 0x0400);
    ck_assert_uint_eq(qn_f32_to_f16(ldexpf(1023.5f, -24)), 0x0400); /* tie between 0x3FF and 0x400 -> even */
    ck_assert_uint_eq(qn_f32_to_f16(1.0f / 3.0f), 0x3555);
    ck_assert_uint_eq(qn_f32_to_f16(1.0f + ldexpf(1.0f, -11)), 0x3C00);
    ck_assert_uint_eq(qn_f32_to_f16(1.0f + 3 * ldexpf(1.0f, -11)), 0x3C02);
    ck_assert_uint_eq(qn_f32_to_f16(-0.0f), 0x8000);
    ck_assert_uint_eq(qn_f32_to_f16(FLT_TRUE_MIN), 0x0000);
    uint16_t n = qn_f32_to_f16(NAN);
    ck_assert_uint_eq(n & 0x7E00, 0x7E00); /* exponent all ones and the quiet bit set */
    n = qn_f32_to_f16(bitsf(0x7F800001u)); /* signalling f32 NaN with payload only in low bits */
    ck_assert_uint_eq(n & 0x7E00, 0x7E00);
    ck_assert_uint_eq(qn_f32_to_f16(-NAN) & 0x8000, 0x8000);
    ck_assert_float_eq(qn_f16_to_f32(0x3C00), 1.0f);
    ck_assert_float_eq(qn_f16_to_f32(0x7BFF), 65504.0f);
    ck_assert_float_eq(qn_f16_to_f32(0x0001), ldexpf(1.0f, -24));
    ck_assert_float_eq(qn_f16_to_f32(0x03FF), ldexpf(1023.0f, -24));
    ck_assert(isinf(qn_f16_to_f32(0xFC00)) && qn_f16_to_f32(0xFC00) < 0);
    /* the public wrappers are the same functions */
    ck_assert_uint_eq(quanta_f32_to_f16(1.0f), 0x3C00);
    ck_assert_float_eq(quanta_f16_to_f32(0xC000), -2.0f);
}
END_TEST

/* Every one of the 65536 patterns: decode against sign * 2^(e-15) * (1 + m/1024) (or the
 * subnormal m * 2^-24), then encoding the decoded value must give the pattern back; NaNs stay
 * NaN, come back quiet, keep their sign and low payload. */
START_TEST(test_f16_exhaustive) {
    for (uint32_t h = 0; h < 65536; h++) {
        int s = (h >> 15) & 1, e = (h >> 10) & 31, m = h & 1023;
        float f = qn_f16_to_f32((uint16_t)h);
        if (e == 31 && m != 0) {
            QT_CHECK(isnan(f), "0x%04x should decode to NaN", h);
            QT_CHECK(fbits(f) & 0x400000u, "0x%04x should decode to a quiet NaN", h);
            QT_CHECK((!!signbit(f)) == (s), "line %d: !!signbit(f) == s failed", __LINE__);
            uint16_t back = qn_f32_to_f16(f);
            QT_CHECK((back) == (h | 0x200u), "line %d: back == h | 0x200u failed", __LINE__);
            continue;
        }
        double ref = e == 31 ? INFINITY : e == 0 ? ldexp(m, -24) : ldexp(1.0 + m / 1024.0, e - 15);
        if (s) ref = -ref;
        QT_CHECK((double)f == ref && !!signbit(f) == s, "f16 0x%04x decoded %.9g, expected %.9g", h,
                      (double)f, ref);
        QT_CHECK(qn_f32_to_f16(f) == h, "f16 0x%04x did not round-trip (got 0x%04x)", h,
                      qn_f32_to_f16(f));
    }
}
END_TEST

/* Random f32 values over all binades relevant to f16 against the double model. */
START_TEST(test_f16_random_vs_model) {
    qt_rng r = qt_rng_make(11);
    for (int i = 0; i < 200000; i++) {
        float x;
        if (i & 1) {
            x = bitsf((uint32_t)qt_next(&r)); /* any pattern */
            if (!isfinite(x)) continue;
        } else {
            x = ldexpf(qt_uniform(&r, 1.0f, 2.0f), (int)(qt_next(&r) % 48) - 30);
            if (qt_next(&r) & 1) x = -x;
        }
        float got = qn_f16_to_f32(qn_f32_to_f16(x));
        double want = model_round(x, 10, -14, 65504.0);
        QT_CHECK((double)got == want && !!signbit(got) == !!signbit(want),
                      "f16(%a) = %a, model %a", (double)x, (double)got, want);
    }
}
END_TEST

START_TEST(test_bf16) {
    /* Hand-derived: bf16 is the top half of f32. 1.0f = 0x3F800000 -> 0x3F80. 1 + 2^-8 is
     * halfway between 0x3F80 and 0x3F81: ties to even 0x3F80; 1 + 3*2^-8 -> 0x3F82.
     * FLT_MAX rounds up to Inf 0x7F80 (its low half 0xFFFF is above halfway). */
    ck_assert_uint_eq(qn_f32_to_bf16(1.0f), 0x3F80);
    ck_assert_uint_eq(qn_f32_to_bf16(1.0f + ldexpf(1.0f, -8)), 0x3F80);
    ck_assert_uint_eq(qn_f32_to_bf16(1.0f + 3 * ldexpf(1.0f, -8)), 0x3F82);
    ck_assert_uint_eq(qn_f32_to_bf16(-2.0f), 0xC000);
    ck_assert_uint_eq(qn_f32_to_bf16(FLT_MAX), 0x7F80);
    ck_assert_uint_eq(qn_f32_to_bf16(INFINITY), 0x7F80);
    ck_assert_uint_eq(qn_f32_to_bf16(-INFINITY), 0xFF80);
    ck_assert_uint_eq(qn_f32_to_bf16(FLT_TRUE_MIN), 0x0000); /* 2^-149 below half of 2^-133 */
    ck_assert_uint_eq(qn_f32_to_bf16(ldexpf(1.0f, -133)), 0x0001); /* smallest bf16 subnormal */
    ck_assert_uint_eq(qn_f32_to_bf16(ldexpf(3.0f, -134)), 0x0002); /* 1.5 quanta: tie to even */
    /* NaN with a payload only in the low 16 bits would truncate to Inf: must stay a quiet NaN. */
    uint16_t n = qn_f32_to_bf16(bitsf(0x7F800001u));
    ck_assert_uint_eq(n & 0x7FC0, 0x7FC0);
    ck_assert_uint_eq(qn_f32_to_bf16(bitsf(0xFFC00000u)), 0xFFC0);
    ck_assert(isnan(qn_bf16_to_f32(0x7F81)) && (fbits(qn_bf16_to_f32(0x7F81)) & 0x400000u));
    ck_assert_float_eq(quanta_bf16_to_f32(quanta_f32_to_bf16(3.0f)), 3.0f);
    /* all 65536 patterns: decode is the top half; non-NaN patterns round-trip exactly */
    for (uint32_t b = 0; b < 65536; b++) {
        float f = qn_bf16_to_f32((uint16_t)b);
        if ((b & 0x7FFF) > 0x7F80) {
            QT_CHECK(isnan(f), "line %d: isnan(f) failed", __LINE__);
            continue;
        }
        QT_CHECK((fbits(f)) == (b << 16), "line %d: fbits(f) == b << 16 failed", __LINE__);
        QT_CHECK((qn_f32_to_bf16(f)) == (b), "line %d: qn_f32_to_bf16(f) == b failed", __LINE__);
    }
    qt_rng r = qt_rng_make(12);
    for (int i = 0; i < 200000; i++) {
        float x = bitsf((uint32_t)qt_next(&r));
        if (!isfinite(x)) continue;
        float got = qn_bf16_to_f32(qn_f32_to_bf16(x));
        double want = model_round(x, 7, -126, (double)bitsf(0x7F7F0000u));
        QT_CHECK((double)got == want, "bf16(%a) = %a, model %a", (double)x, (double)got, want);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("formats_half");
    TCase *tc = tcase_create("half");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_f16_golden);
    tcase_add_test(tc, test_f16_exhaustive);
    tcase_add_test(tc, test_f16_random_vs_model);
    tcase_add_test(tc, test_bf16);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
