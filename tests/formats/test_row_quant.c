/* test_row_quant.c — the load-time conversion's pieces give the bytes of the plain ones:
 *   qn_rne_clamp (add and subtract 1.5 * 2^52) equals clamp + lrint, the rounding it replaced,
 *   on ties at .5, the bounds, subnormals, huge values and random quotients;
 *   qn_max_abs equals fmaxf(m, fabsf(x)) for every x, quiet NaN and infinities included (not
 *   signaling NaN: glibc's fmaxf makes that NaN; the quantizers never see non-finite values);
 *   qn_quantize_rows over random row ranges, in random order, fills the same bytes as one
 *   quanta_quantize of the whole tensor (q8, fp8 e4m3 / e5m2, f16, bf16, f32), and its q8 codes
 *   are those of the format's definition (q8.c: s = max|w|/127, q = rne(w/s) in double);
 *   a non-finite value is refused with quanta_quantize's message, the row counted in the whole. */
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
 * .5 multiples of the scale, the ±127 ends, then random rows. */
static void fill_rows(qt_rng *r, float *w, int64_t rows, int64_t cols) {
    for (int64_t i = 0; i < rows; i++) {
        float *x = w + i * cols;
        int kind = (int)(i % 7);
        for (int64_t c = 0; c < cols; c++) {
            switch (kind) {
            case 0: x[c] = 0.0f; break;
            case 1: x[c] = (float)((int)(qt_next(r) % 9) - 4) * 0x1p-149f; break;
            case 2: x[c] = qt_uniform(r, -1.0f, 1.0f) * 3.4e38f; break;
            case 3: x[c] = ((float)((int)(qt_next(r) % 255) - 127) + 0.5f) * 0.25f; break; /* ties at s = 0.25 */
            case 4: x[c] = c == 0 ? 127.0f : c == 1 ? -127.0f : (float)((int)(qt_next(r) % 255) - 127); break;
            default: x[c] = qt_normal(r, 0.05f); break;
            }
        }
        if (kind == 3) x[0] = 127.0f * 0.25f; /* pins s = 0.25 exactly: every tie is a tie */
    }
}

static void rows_vs_whole(quanta_dtype t, int64_t rows, int64_t cols, uint64_t salt) {
    qt_rng r = qt_rng_make(salt);
    float *w = malloc((size_t)(rows * cols) * sizeof *w);
    ck_assert_ptr_nonnull(w);
    fill_rows(&r, w, rows, cols);
    quanta_tensor_desc d = {t, 2, {rows, cols, 0, 0}, 0, 0};
    size_t bytes;
    ck_assert_int_eq(quanta_tensor_bytes(&d, &bytes), QUANTA_OK);
    uint8_t *whole = malloc(bytes), *parts = malloc(bytes);
    ck_assert(whole && parts);
    memset(whole, 0xA5, bytes);
    memset(parts, 0x5A, bytes); /* poison: a byte no range writes stays different */
    ck_assert_msg(quanta_quantize(&d, w, whole, bytes) == QUANTA_OK, "%s", quanta_last_error());
    ck_assert(qn_quantize_rows_ok(t));
    qn_quant_layout L;
    ck_assert_int_eq(qn_quant_layout_get(&d, &L), QUANTA_OK);
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
            ck_abort_msg("%s [%lld, %lld]: byte %zu: whole %u, by rows %u", quanta_dtype_name(t), (long long)rows,
                         (long long)cols, i, whole[i], parts[i]);
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
    free(w);
    free(whole);
    free(parts);
}

START_TEST(test_rows_same_as_whole) {
    const quanta_dtype ts[] = {QUANTA_Q8, QUANTA_FP8_E4M3, QUANTA_FP8_E5M2, QUANTA_F16, QUANTA_BF16, QUANTA_F32};
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) {
        rows_vs_whole(ts[i], 61, 96, 0x700 + i);
        rows_vs_whole(ts[i], 23, 1, 0x710 + i);
        rows_vs_whole(ts[i], 40, 333, 0x720 + i);
    }
    ck_assert(!qn_quantize_rows_ok(QUANTA_Q4)); /* groups: quantized whole */
    ck_assert(!qn_quantize_rows_ok(QUANTA_NF4));
    ck_assert(!qn_quantize_rows_ok(QUANTA_GGML_Q4_K));
    ck_assert(!qn_quantize_rows_ok(QUANTA_I32));
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
}
END_TEST

int main(void) {
    Suite *s = suite_create("formats_row_quant");
    TCase *tc = tcase_create("row_quant");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_rne_clamp_same_as_lrint);
    tcase_add_test(tc, test_max_abs_same_as_fmaxf);
    tcase_add_test(tc, test_rows_same_as_whole);
    tcase_add_test(tc, test_rows_refuse_non_finite);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
