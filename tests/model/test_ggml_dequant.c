/* test_ggml_dequant.c — ggml block types to f32: hand-built blocks whose values are derived in
 * the comments, and random blocks checked bit for bit against an independent per-element
 * decoder below (index arithmetic in double precision instead of ggml's loops; every product
 * involved is exact in double, so rounding the double result once to float must give the
 * same bits as ggml's float code, which also rounds once). */
#include "test_util.h"

#include "formats.h"
#include "gguf.h"

/* f16 -> double written from the IEEE definition (not the library's converter). */
static double t_h2d(uint16_t h) {
    int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
    return s ? -v : v;
}
static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static void dq(uint32_t type, const uint8_t *blk, float *out, int n) {
    for (int i = 0; i < n; i++) out[i] = NAN; /* poison */
    ck_assert_msg(qn_ggml_dequant_row(type, blk, out, n) == QUANTA_OK, "%s", quanta_last_error());
}

START_TEST(test_q8_0_hand) {
    /* d = 0.5 (f16 0x3800); qs = 0, 1, -1, 127, -128, 2, then 7 for the rest.
     * y = qs * d: 0, 0.5, -0.5, 63.5, -64, 1, 3.5 ... */
    uint8_t b[34] = { 0x00, 0x38, 0, 1, 0xFF, 127, 0x80, 2 };
    for (int i = 8; i < 34; i++) b[i] = 7;
    float y[32];
    dq(QN_GGML_Q8_0, b, y, 32);
    const float want[] = { 0, 0.5f, -0.5f, 63.5f, -64, 1 };
    for (int i = 0; i < 6; i++) ck_assert_float_eq(y[i], want[i]);
    for (int i = 6; i < 32; i++) ck_assert_float_eq(y[i], 3.5f);
}
END_TEST

START_TEST(test_q4_0_hand) {
    /* d = 2 (0x4000); qs[0] = 0x9F: low nibble 15 -> element 0 = (15-8)*2 = 14,
     * high nibble 9 -> element 16 = (9-8)*2 = 2. Other bytes 0x80: element j = (0-8)*2 = -16,
     * element j+16 = (8-8)*2 = 0. */
    uint8_t b[18] = { 0x00, 0x40, 0x9F };
    for (int i = 3; i < 18; i++) b[i] = 0x80;
    float y[32];
    dq(QN_GGML_Q4_0, b, y, 32);
    ck_assert_float_eq(y[0], 14);
    ck_assert_float_eq(y[16], 2);
    for (int j = 1; j < 16; j++) {
        ck_assert_float_eq(y[j], -16);
        ck_assert_float_eq(y[j + 16], 0);
    }
}
END_TEST

START_TEST(test_q4_1_hand) {
    /* d = 0.25 (0x3400), m = -1 (0xBC00); qs[0] = 0x3C: element 0 = 12*0.25 - 1 = 2,
     * element 16 = 3*0.25 - 1 = -0.25; zero bytes give -1. */
    uint8_t b[20] = { 0x00, 0x34, 0x00, 0xBC, 0x3C };
    float y[32];
    dq(QN_GGML_Q4_1, b, y, 32);
    ck_assert_float_eq(y[0], 2);
    ck_assert_float_eq(y[16], -0.25f);
    ck_assert_float_eq(y[1], -1);
    ck_assert_float_eq(y[31], -1);
}
END_TEST

START_TEST(test_q5_0_hand) {
    /* d = 1 (0x3C00); qh = 0x00010001 (LE bytes 01 00 01 00): bit 0 = high bit of element 0,
     * bit 16 = high bit of element 16. qs[0] = 0x21: element 0 = (1|16) - 16 = 1,
     * element 16 = (2|16) - 16 = 2. qs[1] = 0: elements 1 and 17 = 0 - 16 = -16. */
    uint8_t b[22] = { 0x00, 0x3C, 0x01, 0x00, 0x01, 0x00, 0x21 };
    float y[32];
    dq(QN_GGML_Q5_0, b, y, 32);
    ck_assert_float_eq(y[0], 1);
    ck_assert_float_eq(y[16], 2);
    ck_assert_float_eq(y[1], -16);
    ck_assert_float_eq(y[17], -16);
}
END_TEST

START_TEST(test_q5_1_hand) {
    /* d = 0.5 (0x3800), m = 1 (0x3C00); qh bit 1 set (element 1's high bit); qs[1] = 0x0F:
     * element 1 = (15|16)*0.5 + 1 = 16.5; element 17 = 0*0.5 + 1 = 1. */
    uint8_t b[24] = { 0x00, 0x38, 0x00, 0x3C, 0x02, 0, 0, 0, 0x00, 0x0F };
    float y[32];
    dq(QN_GGML_Q5_1, b, y, 32);
    ck_assert_float_eq(y[1], 16.5f);
    ck_assert_float_eq(y[17], 1);
    ck_assert_float_eq(y[0], 1);
}
END_TEST

START_TEST(test_q4_k_hand) {
    /* d = 1 (0x3C00), dmin = 0.5 (0x3800). Sub-block 0: scales[0] = 0x43 -> scale 3 (low 6
     * bits); scales[4] = 2 -> min 2. qs[0] = 0x05: element 0 = 1*3*5 - 0.5*2 = 14.
     * Sub-block 4 (elements 128..159, low nibbles of qs[64..95]): scale = (scales[8] & 15) |
     * (scales[0] >> 6) << 4 = 1 | 16 = 17; min = (scales[8] >> 4) | (scales[4] >> 6) << 4 = 2.
     * qs[64] = 0x07: element 128 = 17*7 - 0.5*2 = 118. Sub-block 1 (elements 32..63, high
     * nibbles of qs[0..31]): scale scales[1] = 0, min scales[5] = 0 -> 0. */
    uint8_t b[144] = { 0 };
    b[1] = 0x3C;
    b[3] = 0x38;
    b[4 + 0] = 0x43;
    b[4 + 4] = 2;
    b[4 + 8] = 0x21;
    b[16 + 0] = 0x05;
    b[16 + 64] = 0x07;
    float y[256];
    dq(QN_GGML_Q4_K, b, y, 256);
    ck_assert_float_eq(y[0], 14);
    ck_assert_float_eq(y[1], -1); /* nibble 0: 0 - 1 */
    ck_assert_float_eq(y[128], 118);
    ck_assert_float_eq(y[32], 0);
}
END_TEST

START_TEST(test_q6_k_hand) {
    /* d = 0.5 (0x3800) at byte 208; scales (i8) at 192: scales[0] = 2, scales[4] = -1.
     * Element 0: ql[0] low nibble 0xA, qh[0] bits 0-1 = 2 -> q = (10 | 2<<4) - 32 = 10,
     * y = 0.5*2*10 = 10. Element 64: ql[0] high nibble 3, qh[0] bits 4-5 = 0 -> q = 3 - 32 =
     * -29, scale scales[4] = -1: y = 0.5*-1*-29 = 14.5. */
    uint8_t b[210] = { 0 };
    b[0] = 0x3A;
    b[128] = 0x02;
    b[192 + 0] = 2;
    b[192 + 4] = 0xFF;
    b[208] = 0x00;
    b[209] = 0x38;
    float y[256];
    dq(QN_GGML_Q6_K, b, y, 256);
    ck_assert_float_eq(y[0], 10);
    ck_assert_float_eq(y[64], 14.5f);
}
END_TEST

/* ---------- independent per-element decoders (double precision, index arithmetic) ------- */

static int k_scale6(const uint8_t *s, int sub, int want_min) {
    /* 8 (scale, min) pairs of 6 bits: pairs 0-3 are the low 6 bits of bytes 0-3 / 4-7; pairs
     * 4-7 take 4 bits from byte 8+k (low: scale, high: min) and 2 bits from the top of bytes
     * k / 4+k. */
    if (sub < 4) return s[sub + (want_min ? 4 : 0)] & 63;
    int k = sub - 4;
    int low = want_min ? s[8 + k] >> 4 : s[8 + k] & 15;
    int high = s[k + (want_min ? 4 : 0)] >> 6;
    return low + 16 * high;
}

static double ref_elem(uint32_t type, const uint8_t *b, int i) {
    switch (type) {
    case QN_GGML_Q4_0: return ((i < 16 ? b[2 + i] & 15 : b[2 + i - 16] >> 4) - 8) * t_h2d(rd16(b));
    case QN_GGML_Q4_1: return (i < 16 ? b[4 + i] & 15 : b[4 + i - 16] >> 4) * t_h2d(rd16(b)) + t_h2d(rd16(b + 2));
    case QN_GGML_Q5_0:
    case QN_GGML_Q5_1: {
        int o = type == QN_GGML_Q5_0 ? 2 : 4;
        int hbit = (b[o + i / 8] >> (i % 8)) & 1; /* qh bit i */
        int lo = i < 16 ? b[o + 4 + i] & 15 : b[o + 4 + i - 16] >> 4;
        int q = lo + 16 * hbit;
        return type == QN_GGML_Q5_0 ? (q - 16) * t_h2d(rd16(b)) : q * t_h2d(rd16(b)) + t_h2d(rd16(b + 2));
    }
    case QN_GGML_Q8_0: return (int8_t)b[2 + i] * t_h2d(rd16(b));
    case QN_GGML_Q2_K: { /* 16 sub-blocks of 16; element i: half h = i/128, within: j = (i%128)/32 shift */
        int h = i / 128, w = i % 128, shift = 2 * (w / 32), l = w % 32, sub = i / 16;
        int q = (b[16 + 32 * h + l] >> shift) & 3;
        int sc = b[sub];
        return t_h2d(rd16(b + 80)) * (sc & 15) * q - t_h2d(rd16(b + 82)) * (sc >> 4);
    }
    case QN_GGML_Q3_K: {
        int h = i / 128, w = i % 128, shift = 2 * (w / 32), l = w % 32, sub = i / 16;
        int q = (b[32 + 32 * h + l] >> shift) & 3;
        int hbit = (b[l] >> (4 * h + w / 32)) & 1;
        const uint8_t *s = b + 96;
        int sc6 = (sub < 8 ? s[sub] & 15 : s[sub - 8] >> 4) + 16 * ((s[8 + sub % 4] >> (2 * (sub / 4))) & 3);
        return t_h2d(rd16(b + 108)) * (sc6 - 32) * (q - (hbit ? 0 : 4));
    }
    case QN_GGML_Q4_K:
    case QN_GGML_Q5_K: {
        int c = i / 64, w = i % 64, sub = i / 32, l = w % 32;
        const uint8_t *qs = b + (type == QN_GGML_Q4_K ? 16 : 48);
        int q = w < 32 ? qs[32 * c + l] & 15 : qs[32 * c + l] >> 4;
        if (type == QN_GGML_Q5_K) q += 16 * ((b[16 + l] >> sub) & 1);
        return t_h2d(rd16(b)) * k_scale6(b + 4, sub, 0) * q - t_h2d(rd16(b + 2)) * k_scale6(b + 4, sub, 1);
    }
    case QN_GGML_Q6_K: {
        int h = i / 128, w = i % 128, quarter = w / 32, l = w % 32;
        int lo = (b[64 * h + l + 32 * (quarter & 1)] >> (4 * (quarter >> 1))) & 15;
        int hi = (b[128 + 32 * h + l] >> (2 * quarter)) & 3;
        int sc = (int8_t)b[192 + i / 16];
        return t_h2d(rd16(b + 208)) * sc * ((lo | hi << 4) - 32);
    }
    default: return NAN;
    }
}

static const struct { uint32_t type; int block, bytes; int f16_at[2]; } kinds[] = {
    { QN_GGML_Q4_0, 32, 18, { 0, -1 } },   { QN_GGML_Q4_1, 32, 20, { 0, 2 } },   { QN_GGML_Q5_0, 32, 22, { 0, -1 } },
    { QN_GGML_Q5_1, 32, 24, { 0, 2 } },    { QN_GGML_Q8_0, 32, 34, { 0, -1 } },  { QN_GGML_Q2_K, 256, 84, { 80, 82 } },
    { QN_GGML_Q3_K, 256, 110, { 108, -1 } }, { QN_GGML_Q4_K, 256, 144, { 0, 2 } }, { QN_GGML_Q5_K, 256, 176, { 0, 2 } },
    { QN_GGML_Q6_K, 256, 210, { 208, -1 } },
};

/* Random bytes with finite, normal f16 scales in [2^-6, 2) of either sign. */
static void random_block(qt_rng *r, int k, uint8_t *b) {
    for (int i = 0; i < kinds[k].bytes; i++) b[i] = (uint8_t)qt_next(r);
    for (int f = 0; f < 2; f++) {
        int at = kinds[k].f16_at[f];
        if (at < 0) continue;
        uint16_t h = (uint16_t)(((qt_next(r) & 1) << 15) | ((9 + qt_next(r) % 7) << 10) | (qt_next(r) & 1023));
        b[at] = (uint8_t)h;
        b[at + 1] = (uint8_t)(h >> 8);
    }
}

START_TEST(test_random_blocks_bit_exact) {
    qt_rng r = qt_rng_make(41);
    uint8_t b[4 * 292];
    float y[4 * 256];
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        for (int rep = 0; rep < 50; rep++) {
            for (int blk = 0; blk < 4; blk++) random_block(&r, (int)k, b + blk * kinds[k].bytes);
            dq(kinds[k].type, b, y, 4 * kinds[k].block);
            for (int blk = 0; blk < 4; blk++)
                for (int i = 0; i < kinds[k].block; i++) {
                    float want = (float)ref_elem(kinds[k].type, b + blk * kinds[k].bytes, i);
                    float got = y[blk * kinds[k].block + i];
                    ck_assert_msg(memcmp(&want, &got, 4) == 0, "%s block %d element %d: got %.9g want %.9g",
                                  qn_ggml_type_name(kinds[k].type), blk, i, (double)got, (double)want);
                }
        }
    }
}
END_TEST

START_TEST(test_dense_and_errors) {
    /* f16 0x3C00 = 1, 0xC000 = -2; bf16 0x3F80 = 1, 0xC040 = -3 */
    uint8_t h[4] = { 0x00, 0x3C, 0x00, 0xC0 }, bf[4] = { 0x80, 0x3F, 0x40, 0xC0 };
    float y[32];
    dq(QN_GGML_F16, h, y, 2);
    ck_assert_float_eq(y[0], 1);
    ck_assert_float_eq(y[1], -2);
    dq(QN_GGML_BF16, bf, y, 2);
    ck_assert_float_eq(y[0], 1);
    ck_assert_float_eq(y[1], -3);
    /* a count that is not a whole number of blocks, an unknown type, an IQ type */
    uint8_t blk[34] = { 0 };
    ck_assert_int_eq(qn_ggml_dequant_row(QN_GGML_Q8_0, blk, y, 31), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(qn_ggml_dequant_row(99, blk, y, 32), QUANTA_ERR_UNSUPPORTED);
    ck_assert_int_eq(qn_ggml_dequant_row(16, blk, y, 256), QUANTA_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(quanta_last_error(), "iq2_xxs"));
    uint64_t rb;
    ck_assert_int_eq(qn_ggml_row_bytes(QN_GGML_Q4_K, 512, &rb), QUANTA_OK);
    ck_assert_uint_eq(rb, 288);
    ck_assert_int_eq(qn_ggml_row_bytes(QN_GGML_Q4_K, 100, &rb), QUANTA_ERR_CORRUPT);
}
END_TEST

int main(void) {
    Suite *s = suite_create("ggml_dequant");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_q8_0_hand);
    tcase_add_test(tc, test_q4_0_hand);
    tcase_add_test(tc, test_q4_1_hand);
    tcase_add_test(tc, test_q5_0_hand);
    tcase_add_test(tc, test_q5_1_hand);
    tcase_add_test(tc, test_q4_k_hand);
    tcase_add_test(tc, test_q6_k_hand);
    tcase_add_test(tc, test_random_blocks_bit_exact);
    tcase_add_test(tc, test_dense_and_errors);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
