/*
 * test_check_logits.c — qn_check_logits (model/context.c), the finiteness test of every decode
 * step's logits, now a branch-free loop over the exponent bits that vectorizes: against
 * isfinite() for every count 0 ... 70 (vector widths and their tails) and a non-finite value
 * (quiet and signaling NaN of both signs, a NaN payload, +-Inf) at every position, also at a
 * start that is not 32-byte aligned; finite extremes (FLT_MAX, the smallest subnormal, -0, the
 * largest exponent below all-ones) pass. The error names the function, row and column of the
 * FIRST non-finite logit. Random positions and values from the printed seed.
 */
#include <float.h>

#include "model_internal.h"
#include "test_util.h"

static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

START_TEST(test_against_isfinite) {
    static const uint32_t bad[] = {0x7fc00000u, 0xffc00000u, 0x7f800001u, 0xff800001u, 0x7fbfffffu, 0x7f800000u,
                                   0xff800000u, 0x7fffffffu};
    static const uint32_t good[] = {0x7f7fffffu, 0xff7fffffu, 0x00000001u, 0x80000001u, 0x80000000u, 0x00000000u,
                                    0x00800000u, 0x7f000000u, 0x3f800000u};
    enum { MAXC = 70, V = 7 };
    float *buf = malloc((MAXC + 8) * sizeof(float));
    ck_assert_ptr_nonnull(buf);
    for (int off = 0; off < 3; off++) { /* starts at 0, 4 and 8 bytes past the allocation's alignment */
        float *x = buf + off;
        for (int count = 0; count <= MAXC; count++) {
            for (int i = 0; i < count; i++) x[i] = from_bits(good[(size_t)(i * 7 + count) % (sizeof good / sizeof *good)]);
            x[count] = NAN; /* past the end: never looked at */
            ck_assert_msg(qn_check_logits("t", x, (size_t)count, V) == QUANTA_OK, "count %d, all finite: %s", count,
                          quanta_last_error());
            for (int pos = 0; pos < count; pos++)
                for (size_t b = 0; b < sizeof bad / sizeof *bad; b++) {
                    const float keep = x[pos];
                    x[pos] = from_bits(bad[b]);
                    ck_assert(!isfinite(x[pos]));
                    quanta_status st = qn_check_logits("quanta_model_eval", x, (size_t)count, V);
                    x[pos] = keep;
                    if (st != QUANTA_ERR_CORRUPT)
                        ck_abort_msg("offset %d count %d: bits %08x at %d not caught", off, count, bad[b], pos);
                    char want[64];
                    snprintf(want, sizeof want, "quanta_model_eval: logit %d of row %d is ", pos % V, pos / V);
                    if (strncmp(quanta_last_error(), want, strlen(want)) != 0)
                        ck_abort_msg("message '%s', want '%s...'", quanta_last_error(), want);
                }
        }
    }
    free(buf);
}
END_TEST

/* A large vocabulary (Gemma's 262144) with a few non-finite values at random places: the first is named. */
START_TEST(test_random_first_named) {
    qt_rng r = qt_rng_make(0xC4EC);
    const size_t n = 262144 + 13;
    float *x = malloc(n * sizeof *x);
    ck_assert_ptr_nonnull(x);
    for (int rep = 0; rep < 50; rep++) {
        qt_fill_normal(&r, x, n, 30.0f);
        ck_assert_int_eq(qn_check_logits("f", x, n, 262144), QUANTA_OK);
        size_t first = n;
        for (int k = 0; k < 1 + (int)(qt_next(&r) % 3); k++) {
            size_t p = (size_t)(qt_next(&r) % n);
            x[p] = (qt_next(&r) & 1) ? INFINITY : -NAN;
            if (p < first) first = p;
        }
        ck_assert_int_eq(qn_check_logits("f", x, n, 262144), QUANTA_ERR_CORRUPT);
        char want[64];
        snprintf(want, sizeof want, "f: logit %zu of row %zu is ", first % 262144, first / 262144);
        ck_assert_msg(!strncmp(quanta_last_error(), want, strlen(want)), "'%s', want '%s...'", quanta_last_error(), want);
    }
    free(x);
}
END_TEST

int main(void) {
    qt_seed();
    Suite *s = suite_create("model_check_logits");
    TCase *tc = tcase_create("check_logits");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_against_isfinite);
    tcase_add_test(tc, test_random_first_named);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
