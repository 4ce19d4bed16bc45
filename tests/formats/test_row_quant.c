/* test_row_quant.c — the load-time conversion's pieces give the bytes of the plain ones:
 *   qn_rne_clamp (add and subtract 1.5 * 2^52) equals clamp + lrint, the rounding it replaced,
 *   on ties at .5, the bounds, subnormals, huge values and random quotients;
 *   qn_max_abs equals fmaxf(m, fabsf(x)) for every x, quiet NaN and infinities included (not
 *   signaling NaN: glibc's fmaxf makes that NaN; the quantizers never see non-finite values);
 *   qn_quantize_rows over random row ranges, in random order, fills the same bytes as one
 *   quanta_quantize of the whole tensor (q8, fp8 e4m3 / e5m2, f16, bf16, f32, q4 with groups of
 *   32, 64 and 128, nf4), and its codes are those of the formats' definitions written out here
 *   (q8.c: s = max|w|/127, q = rne(w/s) in double; q4.c with fminf/fmaxf/rint, as it was before
 *   its loops lost the libm calls; nf4's absmax = max|w| per block); nf4 with double
 *   quantization is not row-local and is refused; a non-finite value, or a q4 range beyond the
 *   f16 scale, is refused with quanta_quantize's message, the row counted in the whole. */
#include <fenv.h>

#include "quant_impl.h"
#include "test_util.h"

/* The rounding qn_rne_clamp had before: the reference here. */
static int old_rne_clamp(double x, int lo, int hi) {
    if (x <= (double)lo) return lo;
    if (x >= (double)hi) return hi;
    return (int)lrint(x);
}

static void check_rne(double x, int lo, int hi) {
    if (qn_rne_clamp(x, lo, hi) != old_rne_clamp(x, lo, hi)) /* ck_assert logs every call: only on failure */
        ck_abort_msg("x = %a in [%d, %d]: %d, lrint %d", x, lo, hi, qn_rne_clamp(x, lo, hi), old_rne_clamp(x, lo, hi));
}

START_TEST(test_rne_clamp_same_as_lrint) {
    static const int bounds[][2] = {{-127, 127}, {0, 15}, {0, 255}, {-8, 7}, {INT32_MIN + 1, INT32_MAX - 1}};
    for (size_t b = 0; b < sizeof bounds / sizeof *bounds; b++) {
        int lo = bounds[b][0], hi = bounds[b][1];
        for (int k = -300; k <= 300; k++) { /* ties, their neighbours, the integers */
            double t = k + 0.5;
            check_rne(t, lo, hi);
            check_rne(nextafter(t, 0), lo, hi);
            check_rne(nextafter(t, 1e300), lo, hi);
            check_rne(nextafter(t, -1e300), lo, hi);
            check_rne((double)k, lo, hi);
            check_rne(nextafter((double)k, 1e300), lo, hi);
            check_rne(nextafter((double)k, -1e300), lo, hi);
        }
        const double edge[] = {0.0, -0.0, 0x1p-1074, -0x1p-1074, 0x1p-149, -0x1p-149, 0x1p-126, 0.49999999999999994,
                               -0.49999999999999994, 126.5, -126.5, 126.49999999999999, 127.0, -127.0, 127.5, -127.5,
                               1e300, -1e300, 3.4e38, -3.4e38, 2147483646.5, -2147483646.5, 1073741824.5};
        for (size_t i = 0; i < sizeof edge / sizeof *edge; i++) check_rne(edge[i], lo, hi);
        qt_rng r = qt_rng_make(0x52E + b);
        for (int i = 0; i < 200000; i++) { /* random f32 quotients, as q8 makes them */
            float w = qt_normal(&r, 1.0f), s = fabsf(qt_normal(&r, 0.02f)) + 1e-30f;
            check_rne((double)w / s, lo, hi);
            check_rne(qt_uniform(&r, -140.0f, 140.0f), lo, hi);
        }
    }
}
END_TEST

/* qn_rne_clamp rounds "in the current rounding mode, exactly as lrint would" (quant_impl.h): an
 * application may have changed the mode before loading a model. In every mode, on the ties,
 * their neighbours and random quotients of both signs. */
START_TEST(test_rne_clamp_rounding_modes) {
    static const int modes[] = {FE_TONEAREST, FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO};
    static const char *names[] = {"to nearest", "upward", "downward", "toward zero"};
    qt_rng r = qt_rng_make(0x40DE);
    for (int m = 0; m < 4; m++) {
        ck_assert_int_eq(fesetround(modes[m]), 0);
        long bad = 0;
        double first = 0.0;
        int got = 0, want = 0;
        for (int k = -300; k <= 300; k++)
            for (int q = 0; q < 16; q++) {
                volatile double x = k + q / 16.0; /* volatile: computed at run time, in this mode */
                const double xs[] = {x, nextafter(x, 1e300), nextafter(x, -1e300)};
                for (int i = 0; i < 3; i++) {
                    const int a = qn_rne_clamp(xs[i], -127, 127), b = old_rne_clamp(xs[i], -127, 127);
                    if (a != b && !bad++) first = xs[i], got = a, want = b;
                }
            }
        for (int i = 0; i < 100000; i++) {
            volatile double x = qt_uniform(&r, -140.0f, 140.0f);
            const int a = qn_rne_clamp(x, -8, 7), b = old_rne_clamp(x, -8, 7);
            if (a != b && !bad++) first = x, got = a, want = b;
        }
        fesetround(FE_TONEAREST);
        ck_assert_msg(bad == 0, "rounding %s: %ld values differ from lrint, the first %a (%d, lrint %d)", names[m], bad,
                      first, got, want);
    }
}
END_TEST

START_TEST(test_max_abs_same_as_fmaxf) {
    const float v[] = {0.0f, -0.0f, 1.0f, -1.0f, 0x1p-149f, -0x1p-149f, 0x1p-126f, 3.4e38f, -3.4e38f,
                       INFINITY, -INFINITY, NAN, -NAN, 127.0f, -127.5f};
    const size_t n = sizeof v / sizeof *v;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            float m = fabsf(v[i]);
            if (isnan(m)) continue; /* the running maximum starts at 0 and is never NaN */
            float a = qn_max_abs(m, v[j]), b = fmaxf(m, fabsf(v[j]));
            ck_assert_msg(memcmp(&a, &b, sizeof a) == 0, "m = %a, x = %a: %a, fmaxf %a", (double)m, (double)v[j],
                          (double)a, (double)b);
        }
    qt_rng r = qt_rng_make(0x3A7);
    float m = 0.0f;
    for (int i = 0; i < 100000; i++) {
        uint32_t bits = (uint32_t)qt_next(&r);
        float x;
        memcpy(&x, &bits, sizeof x);
        if (isnan(x) && !(bits & 0x400000u)) continue; /* signaling NaN: fmaxf gives NaN (quant_impl.h) */
        float a = qn_max_abs(m, x), b = fmaxf(m, fabsf(x));
        if (memcmp(&a, &b, sizeof a) != 0)
            ck_abort_msg("m = %a, x = %a: %a, fmaxf %a", (double)m, (double)x, (double)a, (double)b);
        m = (i & 1023) ? a : 0.0f;
    }
}
END_TEST

/* Rows with the edge values the loader can meet: zeros, subnormals only, huge values, exact
 * .5 multiples of the scale, the ±127 ends, then random rows. q4 (f16 scales): "huge" stays
 * below 15 x 65504 / 2, and the ties are q4's: each 32 columns pin lo = -1.75 and hi = 2, so
 * s = 3.75 / 15 = 0.25 exactly, z = 7, and the odd multiples of 0.125 all fall on a .5. */
static void fill_rows(qt_rng *r, float *w, int64_t rows, int64_t cols, int q4) {
    for (int64_t i = 0; i < rows; i++) {
        float *x = w + i * cols;
        int kind = (int)(i % 7);
        for (int64_t c = 0; c < cols; c++) {
            switch (kind) {
            case 0: x[c] = 0.0f; break;
            case 1: x[c] = (float)((int)(qt_next(r) % 9) - 4) * 0x1p-149f; break;
            case 2: x[c] = qt_uniform(r, -1.0f, 1.0f) * (q4 ? 4e5f : 3.4e38f); break;
            case 3:
                if (q4) x[c] = c % 32 == 0 ? -1.75f : c % 32 == 1 ? 2.0f : (float)((int)(qt_next(r) % 31) - 14) * 0.125f;
                else x[c] = ((float)((int)(qt_next(r) % 255) - 127) + 0.5f) * 0.25f; /* ties at s = 0.25 */
                break;
            case 4: x[c] = c == 0 ? 127.0f : c == 1 ? -127.0f : (float)((int)(qt_next(r) % 255) - 127); break;
            case 5: x[c] = (i & 8 ? -1.0f : 1.0f) * fabsf(qt_normal(r, 0.05f)); break; /* one sign: z = 0 or 15 */
            default: x[c] = qt_normal(r, 0.05f); break;
            }
        }
        if (kind == 3 && !q4) x[0] = 127.0f * 0.25f; /* pins s = 0.25 exactly: every tie is a tie */
    }
}

/* q4 as q4.c defined it before the row ranges: fminf/fmaxf bounds, rint codes. */
static void q4_reference(const float *w, int64_t rows, int64_t cols, int g, const qn_quant_layout *L, const uint8_t *got) {
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < cols / g; j++) {
            const float *wg = w + r * cols + j * g;
            float lo = 0.0f, hi = 0.0f;
            for (int c = 0; c < g; c++) {
                lo = fminf(lo, wg[c]);
                hi = fmaxf(hi, wg[c]);
            }
            uint16_t s16 = quanta_f32_to_f16((hi - lo) / 15.0f);
            float s = quanta_f16_to_f32(s16);
            int z = s > 0.0f ? (int)lrint(fmin(fmax(-(double)lo / s, 0.0), 15.0)) : 0;
            size_t gi = (size_t)(r * (cols / g) + j);
            uint16_t gs = (uint16_t)(got[L->scales_offset + 2 * gi] | (got[L->scales_offset + 2 * gi + 1] << 8));
            int gz = (got[L->q4_zeros_offset + (size_t)r * L->q4_zero_row_bytes + (size_t)j / 2] >> ((j & 1) * 4)) & 0xF;
            if (gs != s16 || gz != z)
                ck_abort_msg("q4 g%d row %lld group %lld: scale %04x zero %d, want %04x %d", g, (long long)r,
                             (long long)j, gs, gz, s16, z);
            for (int c = 0; c < g; c++) {
                double q = s > 0.0f ? rint((double)wg[c] / s) + z : z;
                int want = q < 0 ? 0 : q > 15 ? 15 : (int)q;
                size_t k = (size_t)(r * cols + j * g + c);
                int code = (got[k / 2] >> ((k & 1) * 4)) & 0xF;
                if (code != want)
                    ck_abort_msg("q4 g%d row %lld col %zu: code %d, want %d (w %a, s %a)", g, (long long)r,
                                 (size_t)(j * g + c), code, want, (double)wg[c], (double)s);
            }
        }
}

static void rows_vs_whole(quanta_dtype t, int group, int64_t rows, int64_t cols, uint64_t salt) {
    qt_rng r = qt_rng_make(salt);
    float *w = malloc((size_t)(rows * cols) * sizeof *w);
    ck_assert_ptr_nonnull(w);
    fill_rows(&r, w, rows, cols, t == QUANTA_Q4);
    quanta_tensor_desc d = {t, 2, {rows, cols, 0, 0}, group, 0};
    size_t bytes;
    ck_assert_int_eq(quanta_tensor_bytes(&d, &bytes), QUANTA_OK);
    uint8_t *whole = malloc(bytes), *parts = malloc(bytes);
    ck_assert(whole && parts);
    memset(whole, 0xA5, bytes);
    memset(parts, 0x5A, bytes); /* poison: a byte no range writes stays different */
    ck_assert_msg(quanta_quantize(&d, w, whole, bytes) == QUANTA_OK, "%s", quanta_last_error());
    qn_quant_layout L;
    ck_assert_int_eq(qn_quant_layout_get(&d, &L), QUANTA_OK);
    ck_assert(qn_quantize_rows_ok(&L));
    /* random cuts, done last range first */
    int64_t cut[64];
    int nc = 0;
    for (int64_t b = 0; b < rows && nc < 63; b += 1 + (int64_t)(qt_next(&r) % 9)) cut[nc++] = b;
    cut[nc] = rows;
    for (int i = nc - 1; i >= 0; i--)
        ck_assert_msg(qn_quantize_rows(&L, t, cut[i], cut[i + 1] - cut[i], w + cut[i] * cols, parts) == QUANTA_OK, "%s",
                      quanta_last_error());
    for (size_t i = 0; i < bytes; i++)
        if (whole[i] != parts[i])
            ck_abort_msg("%s g%d [%lld, %lld]: byte %zu: whole %u, by rows %u", quanta_dtype_name(t), group,
                         (long long)rows, (long long)cols, i, whole[i], parts[i]);
    if (t == QUANTA_Q8) /* the definition, written out here */
        for (int64_t i = 0; i < rows; i++) {
            float amax = 0.0f;
            for (int64_t c = 0; c < cols; c++) amax = fmaxf(amax, fabsf(w[i * cols + c]));
            float s = amax / 127.0f, got;
            memcpy(&got, parts + L.scales_offset + (size_t)i * 4, 4);
            ck_assert_msg(memcmp(&got, &s, 4) == 0, "row %lld: scale %a, want %a", (long long)i, (double)got, (double)s);
            for (int64_t c = 0; c < cols; c++) {
                double x = s == 0.0f ? 0.0 : (double)w[i * cols + c] / s;
                long want = x <= -127.0 ? -127 : x >= 127.0 ? 127 : lrint(x);
                if ((int8_t)parts[i * cols + c] != want)
                    ck_abort_msg("row %lld col %lld: %d, want %ld", (long long)i, (long long)c,
                                 (int8_t)parts[i * cols + c], want);
            }
        }
    if (t == QUANTA_Q4) q4_reference(w, rows, cols, L.group, &L, parts);
    if (t == QUANTA_NF4) /* absmax per block of 64 along the row */
        for (size_t b = 0; b < (size_t)(rows * cols) / QN_NF4_BLOCK; b++) {
            float a = 0.0f, got;
            for (int c = 0; c < QN_NF4_BLOCK; c++) a = fmaxf(a, fabsf(w[b * QN_NF4_BLOCK + (size_t)c]));
            memcpy(&got, parts + L.scales_offset + b * 4, 4);
            if (memcmp(&got, &a, 4) != 0) ck_abort_msg("nf4 block %zu: absmax %a, want %a", b, (double)got, (double)a);
        }
    free(w);
    free(whole);
    free(parts);
}

START_TEST(test_rows_same_as_whole) {
    const quanta_dtype ts[] = {QUANTA_Q8, QUANTA_FP8_E4M3, QUANTA_FP8_E5M2, QUANTA_F16, QUANTA_BF16, QUANTA_F32};
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) {
        rows_vs_whole(ts[i], 0, 61, 96, 0x700 + i);
        rows_vs_whole(ts[i], 0, 23, 1, 0x710 + i);
        rows_vs_whole(ts[i], 0, 40, 333, 0x720 + i);
    }
    static const int groups[] = {32, 64, 128};
    for (size_t i = 0; i < 3; i++) { /* one group a row, several, an odd count (its zero nibble pads) */
        rows_vs_whole(QUANTA_Q4, groups[i], 61, groups[i], 0x730 + i);
        rows_vs_whole(QUANTA_Q4, groups[i], 47, 384, 0x740 + i);
        rows_vs_whole(QUANTA_Q4, groups[i], 30, 3 * 128 * 5, 0x750 + i);
    }
    rows_vs_whole(QUANTA_NF4, 0, 61, 64, 0x760);
    rows_vs_whole(QUANTA_NF4, 0, 47, 448, 0x761);
    rows_vs_whole(QUANTA_NF4, 0, 30, 1920, 0x762);
    qn_quant_layout L;
    quanta_tensor_desc dq = {QUANTA_NF4, 2, {8, 64, 0, 0}, 0, 1}; /* double quantization: the mean of all blocks */
    ck_assert_int_eq(qn_quant_layout_get(&dq, &L), QUANTA_OK);
    ck_assert(!qn_quantize_rows_ok(&L));
    const quanta_dtype no[] = {QUANTA_GGML_Q4_K, QUANTA_I32};
    for (size_t i = 0; i < 2; i++) {
        quanta_tensor_desc d = {no[i], 2, {8, 256, 0, 0}, 0, 0};
        ck_assert_int_eq(qn_quant_layout_get(&d, &L), QUANTA_OK);
        ck_assert(!qn_quantize_rows_ok(&L));
    }
}
END_TEST

START_TEST(test_rows_refuse_non_finite) {
    const int64_t rows = 8, cols = 5;
    float w[40];
    for (int i = 0; i < 40; i++) w[i] = (float)i;
    quanta_tensor_desc d = {QUANTA_Q8, 2, {rows, cols, 0, 0}, 0, 0};
    qn_quant_layout L;
    ck_assert_int_eq(qn_quant_layout_get(&d, &L), QUANTA_OK);
    uint8_t out[64];
    w[2 * cols + 3] = NAN; /* row 6 of the tensor: row 2 of the range [4, 8) */
    ck_assert_int_eq(qn_quantize_rows(&L, QUANTA_Q8, 4, 4, w, out), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(quanta_last_error(), "quanta_quantize: src[6][3] is NaN; q8 needs finite values");
    w[2 * cols + 3] = -INFINITY;
    ck_assert_int_eq(qn_quantize_rows(&L, QUANTA_FP8_E4M3, 4, 4, w, out), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(quanta_last_error(), "quanta_quantize: src[6][3] is infinite; fp8_e4m3 needs finite values");
    /* q4: a group whose range needs a scale beyond f16, in row 6 of the whole */
    float v[8 * 64];
    for (int i = 0; i < 8 * 64; i++) v[i] = (float)(i % 13) - 6.0f;
    v[6 * 64 + 40] = 1e6f;
    quanta_tensor_desc d4 = {QUANTA_Q4, 2, {8, 64, 0, 0}, 32, 0};
    ck_assert_int_eq(qn_quant_layout_get(&d4, &L), QUANTA_OK);
    uint8_t q[8 * 32 + 8 * 2 * 2 + 8];
    ck_assert_int_eq(quanta_quantize(&d4, v, q, sizeof q), QUANTA_ERR_INVALID_ARGUMENT);
    char whole_msg[256];
    snprintf(whole_msg, sizeof whole_msg, "%s", quanta_last_error());
    ck_assert_int_eq(qn_quantize_rows(&L, QUANTA_Q4, 4, 4, v + 4 * 64, q), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(quanta_last_error(), whole_msg);
    ck_assert_str_eq(whole_msg, "quanta_quantize: q4 row 6 group 1: value range [-6, 1e+06] needs a scale beyond the f16 "
                                "maximum 65504");
}
END_TEST

int main(void) {
    Suite *s = suite_create("formats_row_quant");
    TCase *tc = tcase_create("row_quant");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_rne_clamp_same_as_lrint);
    tcase_add_test(tc, test_rne_clamp_rounding_modes);
    tcase_add_test(tc, test_max_abs_same_as_fmaxf);
    tcase_add_test(tc, test_rows_same_as_whole);
    tcase_add_test(tc, test_rows_refuse_non_finite);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
