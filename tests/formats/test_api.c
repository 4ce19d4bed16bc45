/* test_api.c — descriptor validation (every rejected input, with the message naming the
 * argument), interchange sizes and section offsets worked out from the quanta.h layout, dtype
 * names, and the dense (f32/f16/bf16/i32/u8) paths of quantize/dequantize/qn_dequant_row. */
#include <stdint.h>

#include "formats.h"
#include "test_util.h"
#include "qt_check.h"
#include "qt_tensor.h"

static size_t bytes_of(quanta_tensor_desc d) {
    size_t b = 0;
    ck_assert_msg(quanta_tensor_bytes(&d, &b) == QUANTA_OK, "%s", quanta_last_error());
    return b;
}

START_TEST(test_sizes) {
    /* By hand from the layouts in quanta.h:
     * q8 [4,64]: 256 codes + 4*4 scales = 272.  fp8 [3,5]: 15 + 12 = 27 (either variant).
     * q4 g64 [4,128]: 4*64 packed + 4*2 f16 scales * 2 B + 4 rows * ceil(2/2) zero bytes = 276.
     * q4 g32 [2,96]: 96 + 2*3*2 + 2*ceil(3/2) = 96 + 12 + 4 = 112.
     * q4 g128 [1,128]: 64 + 2 + 1 = 67.
     * nf4 [2,128]: 128 + 4 blocks * 4 = 144; with double quant: 128 + 4 + 1*4 + 4 = 140.
     * nf4 dq [8,4096]: 16384 codes, nb = 512 -> 512 + 2*4 + 4 = 16908.
     * f16 [2,3,4]: 48; bf16 [5]: 10; f32 [7,1]: 28; i32 [3]: 12; u8 [7]: 7. */
    ck_assert_uint_eq(bytes_of(qt_mat(QUANTA_Q8, 4, 64, 0, 0)), 272);
    ck_assert_uint_eq(bytes_of(qt_mat(QUANTA_FP8_E4M3, 3, 5, 0, 0)), 27);
    ck_assert_uint_eq(bytes_of(qt_mat(QUANTA_FP8_E5M2, 3, 5, 0, 0)), 27);
    ck_assert_uint_eq(bytes_of(qt_mat(QUANTA_Q4, 4, 128, 0, 0)), 276);
    quanta_tensor_desc d = qt_mat(QUANTA_Q4, 2, 96, 0, 0);
    d.group = 32;
    ck_assert_uint_eq(bytes_of(d), 112);
    d = qt_mat(QUANTA_Q4, 1, 128, 0, 0);
    d.group = 128;
    ck_assert_uint_eq(bytes_of(d), 67);
    ck_assert_uint_eq(bytes_of(qt_mat(QUANTA_NF4, 2, 128, 0, 0)), 144);
    d = qt_mat(QUANTA_NF4, 2, 128, 0, 0);
    d.double_quant = 1;
    ck_assert_uint_eq(bytes_of(d), 140);
    d = qt_mat(QUANTA_NF4, 8, 4096, 0, 0);
    d.double_quant = 1;
    ck_assert_uint_eq(bytes_of(d), 16908);
    qn_quant_layout L;
    ck_assert_int_eq(qn_quant_layout_get(&d, &L), QUANTA_OK);
    ck_assert_uint_eq(L.scales_offset, 16384);
    ck_assert_uint_eq(L.nf4_dq_scales_offset, 16384 + 512);
    ck_assert_uint_eq(L.nf4_dq_mean_offset, 16384 + 512 + 8);
    d = qt_mat(QUANTA_Q4, 3, 96, 0, 0);
    d.group = 32;
    ck_assert_int_eq(qn_quant_layout_get(&d, &L), QUANTA_OK);
    ck_assert_int_eq(L.group, 32);
    ck_assert_uint_eq(L.codes_row_bytes, 48);
    ck_assert_uint_eq(L.scales_offset, 144);
    ck_assert_uint_eq(L.q4_zeros_offset, 144 + 18);
    ck_assert_uint_eq(L.q4_zero_row_bytes, 2);
    ck_assert_uint_eq(L.total_bytes, 144 + 18 + 6);
    d = qt_mat(QUANTA_Q4, 1, 64, 0, 0); /* group 0 resolves to 64 */
    ck_assert_int_eq(qn_quant_layout_get(&d, &L), QUANTA_OK);
    ck_assert_int_eq(L.group, 64);
    d.dtype = QUANTA_F16;
    d.ndim = 3;
    d.dims[0] = 2, d.dims[1] = 3, d.dims[2] = 4;
    ck_assert_uint_eq(bytes_of(d), 48);
    ck_assert_int_eq(qn_quant_layout_get(&d, &L), QUANTA_OK);
    ck_assert_int_eq(L.rows, 6);
    ck_assert_int_eq(L.cols, 4);
    ck_assert_uint_eq(L.codes_row_bytes, 8);
    size_t n = 0;
    ck_assert_int_eq(qn_desc_elements(&d, &n), QUANTA_OK);
    ck_assert_uint_eq(n, 24);
    /* a row-scaled format in 4-D (a paged KV pool [1, H, R, D]): rows are the leading dims'
     * product, codes [rows][D] then one f32 scale per row */
    d.dtype = QUANTA_FP8_E4M3;
    d.ndim = 4;
    d.dims[0] = 1, d.dims[1] = 2, d.dims[2] = 3, d.dims[3] = 8;
    ck_assert_int_eq(qn_quant_layout_get(&d, &L), QUANTA_OK);
    ck_assert_int_eq(L.rows, 6);
    ck_assert_int_eq(L.cols, 8);
    ck_assert_uint_eq(L.scales_offset, 48);
    ck_assert_uint_eq(bytes_of(d), 48 + 6 * 4);
    quanta_tensor_desc v;
    memset(&v, 0, sizeof v);
    v.ndim = 1;
    v.dims[0] = 5;
    v.dtype = QUANTA_BF16;
    ck_assert_uint_eq(bytes_of(v), 10);
    v.dtype = QUANTA_I32, v.dims[0] = 3;
    ck_assert_uint_eq(bytes_of(v), 12);
    v.dtype = QUANTA_U8, v.dims[0] = 7;
    ck_assert_uint_eq(bytes_of(v), 7);
    ck_assert_uint_eq(bytes_of(qt_mat(QUANTA_F32, 7, 1, 0, 0)), 28);
    ck_assert(qn_dtype_is_quantized(QUANTA_NF4) && !qn_dtype_is_quantized(QUANTA_BF16));
    ck_assert(qn_dtype_is_float(QUANTA_BF16) && !qn_dtype_is_float(QUANTA_I32));
    ck_assert_uint_eq(qn_dtype_elem_size(QUANTA_I32), 4);
    ck_assert_uint_eq(qn_dtype_elem_size(QUANTA_Q8), 0);
}
END_TEST

START_TEST(test_bad_descriptors) {
    size_t b;
    quanta_tensor_desc d = qt_mat(QUANTA_Q4, 2, 96, 0, 0); /* 96 % 64 != 0 with the default group */
    QT_EXPECT_ERR(quanta_tensor_bytes(&d, &b), QUANTA_ERR_INVALID_ARGUMENT, "cols", "multiple", "group");
    d.group = 48;
    QT_EXPECT_ERR(quanta_tensor_bytes(&d, &b), QUANTA_ERR_INVALID_ARGUMENT, "group", "48");
    d.group = 16;
    QT_EXPECT_ERR(quanta_tensor_bytes(&d, &b), QUANTA_ERR_INVALID_ARGUMENT, "group");
    d = qt_mat(QUANTA_NF4, 2, 96, 0, 0);
    QT_EXPECT_ERR(quanta_tensor_bytes(&d, &b), QUANTA_ERR_INVALID_ARGUMENT, "cols", "nf4");
    d = qt_mat(QUANTA_NF4, 2, 128, 0, 0);
    d.group = 32;
    QT_EXPECT_ERR(quanta_tensor_bytes(&d, &b), QUANTA_ERR_INVALID_ARGUMENT, "group");
    d.group = 0;
    d.double_quant = 2;
    QT_EXPECT_ERR(quanta_tensor_bytes(&d, &b), QUANTA_ERR_INVALID_ARGUMENT, "double_quant");
    d = qt_mat(QUANTA_Q4, 2, 64, 0, 0); /* block/group formats: 2-D only */
    d.ndim = 3;
    d.dims[2] = 64;
    QT_EXPECT_ERR(quanta_tensor_bytes(&d, &b), QUANTA_ERR_INVALID_ARGUMENT, "ndim", "2-D");
    d = qt_mat(QUANTA_Q8, 4, 0, 0, 0); /* row-scaled formats: 2 to 4 dims, not 1 */
    d.ndim = 1;
    QT_EXPECT_ERR(quanta_tensor_bytes(&d, &b), QUANTA_ERR_INVALID_ARGUMENT, "ndim", "2 to 4 dims");
    d = qt_mat(QUANTA_Q8, 0, 4, 0, 0);
    QT_EXPECT_ERR(quanta_tensor_bytes(&d, &b), QUANTA_ERR_INVALID_ARGUMENT, "dims[0]");
    d = qt_mat(QUANTA_F32, 3, -1, 0, 0);
    QT_EXPECT_ERR(quanta_tensor_bytes(&d, &b), QUANTA_ERR_INVALID_ARGUMENT, "dims[1]");
    d.ndim = 0;
    QT_EXPECT_ERR(quanta_tensor_bytes(&d, &b), QUANTA_ERR_INVALID_ARGUMENT, "ndim");
    d.ndim = 5;
    QT_EXPECT_ERR(quanta_tensor_bytes(&d, &b), QUANTA_ERR_INVALID_ARGUMENT, "ndim");
    d = qt_mat((quanta_dtype)99, 2, 2, 0, 0);
    QT_EXPECT_ERR(quanta_tensor_bytes(&d, &b), QUANTA_ERR_INVALID_ARGUMENT, "dtype");
    QT_EXPECT_ERR(quanta_tensor_bytes(NULL, &b), QUANTA_ERR_INVALID_ARGUMENT, "desc");
    d = qt_mat(QUANTA_F32, 2, 2, 0, 0);
    QT_EXPECT_ERR(quanta_tensor_bytes(&d, NULL), QUANTA_ERR_INVALID_ARGUMENT, "bytes");
    qn_quant_layout L;
    QT_EXPECT_ERR(qn_quant_layout_get(&d, NULL), QUANTA_ERR_INVALID_ARGUMENT, "out");
    QT_EXPECT_ERR(qn_desc_elements(&d, NULL), QUANTA_ERR_INVALID_ARGUMENT, "count");
    QT_EXPECT_ERR(qn_desc_check(NULL, "my_op: weight"), QUANTA_ERR_INVALID_ARGUMENT, "my_op: weight");
    (void)L;
    /* Overflow: the element count (2^62 * 8 = 2^65), the byte size (2^61 * 2 f32 = 2^65 bytes),
     * and the q8 codes + scales sum; all are QUANTA_ERR_OVERFLOW, never a wrapped small size. */
    d = qt_mat(QUANTA_F32, (int64_t)1 << 62, 8, 0, 0);
    QT_EXPECT_ERR(quanta_tensor_bytes(&d, &b), QUANTA_ERR_OVERFLOW, "dims", "overflow");
    d = qt_mat(QUANTA_F32, (int64_t)1 << 61, 2, 0, 0);
    QT_EXPECT_ERR(quanta_tensor_bytes(&d, &b), QUANTA_ERR_OVERFLOW, "overflow");
    d = qt_mat(QUANTA_Q8, INT64_MAX, 2, 0, 0);
    QT_EXPECT_ERR(quanta_tensor_bytes(&d, &b), QUANTA_ERR_OVERFLOW, "overflow");
    d = qt_mat(QUANTA_Q8, (int64_t)1 << 31, (int64_t)1 << 32, 0, 0); /* 2^63 codes + 2^33 scale bytes fits */
    ck_assert_int_eq(quanta_tensor_bytes(&d, &b), QUANTA_OK);
    ck_assert_uint_eq(b, ((size_t)1 << 63) + ((size_t)1 << 33));
    d = qt_mat(QUANTA_NF4, (int64_t)1 << 57, 128, 0, 0); /* 2^64 elements */
    QT_EXPECT_ERR(quanta_tensor_bytes(&d, &b), QUANTA_ERR_OVERFLOW, "overflow");
    d = qt_mat(QUANTA_F16, 4, INT64_MAX, 0, 0);
    QT_EXPECT_ERR(quanta_tensor_bytes(&d, &b), QUANTA_ERR_OVERFLOW, "overflow");
}
END_TEST

START_TEST(test_bad_quantize_args) {
    float w[128] = { 0 }, out[128];
    uint8_t buf[512];
    quanta_tensor_desc d = qt_mat(QUANTA_Q8, 2, 64, 0, 0);
    size_t need = bytes_of(d);
    QT_EXPECT_ERR(quanta_quantize(NULL, w, buf, sizeof buf), QUANTA_ERR_INVALID_ARGUMENT, "quanta_quantize", "desc");
    QT_EXPECT_ERR(quanta_quantize(&d, NULL, buf, sizeof buf), QUANTA_ERR_INVALID_ARGUMENT, "src");
    QT_EXPECT_ERR(quanta_quantize(&d, w, NULL, sizeof buf), QUANTA_ERR_INVALID_ARGUMENT, "dst");
    QT_EXPECT_ERR(quanta_quantize(&d, w, buf, need - 1), QUANTA_ERR_INVALID_ARGUMENT, "dst_bytes");
    ck_assert_int_eq(quanta_quantize(&d, w, buf, need), QUANTA_OK);
    QT_EXPECT_ERR(quanta_dequantize(NULL, buf, need, out, 128), QUANTA_ERR_INVALID_ARGUMENT, "quanta_dequantize", "desc");
    QT_EXPECT_ERR(quanta_dequantize(&d, NULL, need, out, 128), QUANTA_ERR_INVALID_ARGUMENT, "src");
    QT_EXPECT_ERR(quanta_dequantize(&d, buf, need, NULL, 128), QUANTA_ERR_INVALID_ARGUMENT, "dst");
    QT_EXPECT_ERR(quanta_dequantize(&d, buf, need - 1, out, 128), QUANTA_ERR_INVALID_ARGUMENT, "src_bytes");
    QT_EXPECT_ERR(quanta_dequantize(&d, buf, need, out, 127), QUANTA_ERR_INVALID_ARGUMENT, "dst_count");
    d.group = 48; /* ignored by q8, as documented */
    ck_assert_int_eq(quanta_quantize(&d, w, buf, need), QUANTA_OK);
    /* Non-finite inputs are rejected for every quantized format, naming row and column, and
     * nothing is written (buf keeps its poison). */
    const quanta_dtype qt[] = { QUANTA_Q8, QUANTA_Q4, QUANTA_NF4, QUANTA_FP8_E4M3, QUANTA_FP8_E5M2 };
    for (int i = 0; i < 5; i++) {
        d = qt_mat(qt[i], 2, 64, 0, 0);
        need = bytes_of(d);
        memset(w, 0, sizeof w);
        w[64 + 5] = (i & 1) ? INFINITY : NAN;
        memset(buf, 0xA5, sizeof buf);
        QT_EXPECT_ERR(quanta_quantize(&d, w, buf, need), QUANTA_ERR_INVALID_ARGUMENT, "src[1][5]",
                   (i & 1) ? "infinite" : "NaN");
        for (size_t k = 0; k < need; k++) ck_assert_uint_eq(buf[k], 0xA5);
        w[64 + 5] = -INFINITY;
        QT_EXPECT_ERR(quanta_quantize(&d, w, buf, need), QUANTA_ERR_INVALID_ARGUMENT, "src[1][5]");
    }
    /* q4: a group whose range needs an f16 scale above 65504 is rejected, naming row and group */
    d = qt_mat(QUANTA_Q4, 2, 64, 0, 0);
    memset(w, 0, sizeof w);
    w[64 + 3] = 1e6f;
    w[64 + 4] = -1e6f;
    QT_EXPECT_ERR(quanta_quantize(&d, w, buf, sizeof buf), QUANTA_ERR_INVALID_ARGUMENT, "row 1", "group 0", "f16");
    /* ...while the largest range that fits (15 * 65504) is accepted and decodes within s/2 */
    w[64 + 3] = 65504.0f * 7.0f;
    w[64 + 4] = -65504.0f * 8.0f;
    ck_assert_int_eq(quanta_quantize(&d, w, buf, sizeof buf), QUANTA_OK);
    ck_assert_int_eq(quanta_dequantize(&d, buf, sizeof buf, out, 128), QUANTA_OK);
    ck_assert_float_eq(out[64 + 3], w[64 + 3]);
    ck_assert_float_eq(out[64 + 4], w[64 + 4]);
    ck_assert_float_eq(out[64 + 5], 0.0f);
}
END_TEST

START_TEST(test_names) {
    const char *names[] = { "f32", "f16", "bf16", "i32", "u8", "q8", "q4", "nf4", "fp8_e4m3", "fp8_e5m2" };
    const quanta_dtype ts[] = { QUANTA_F32, QUANTA_F16, QUANTA_BF16, QUANTA_I32, QUANTA_U8,
                                QUANTA_Q8, QUANTA_Q4, QUANTA_NF4, QUANTA_FP8_E4M3, QUANTA_FP8_E5M2 };
    for (int i = 0; i < 10; i++) {
        quanta_dtype t = QUANTA_F32;
        ck_assert_str_eq(quanta_dtype_name(ts[i]), names[i]);
        ck_assert_int_eq(quanta_dtype_parse(names[i], &t), QUANTA_OK);
        ck_assert_int_eq(t, ts[i]);
    }
    quanta_dtype t = QUANTA_F32;
    ck_assert_int_eq(quanta_dtype_parse("fp8", &t), QUANTA_OK);
    ck_assert_int_eq(t, QUANTA_FP8_E4M3);
    ck_assert_int_eq(quanta_dtype_parse("NF4", &t), QUANTA_OK);
    ck_assert_int_eq(t, QUANTA_NF4);
    ck_assert_ptr_null(quanta_dtype_name((quanta_dtype)99));
    QT_EXPECT_ERR(quanta_dtype_parse("q5", &t), QUANTA_ERR_INVALID_ARGUMENT, "name", "q5");
    QT_EXPECT_ERR(quanta_dtype_parse("q", &t), QUANTA_ERR_INVALID_ARGUMENT, "name");
    QT_EXPECT_ERR(quanta_dtype_parse("q44", &t), QUANTA_ERR_INVALID_ARGUMENT, "name");
    QT_EXPECT_ERR(quanta_dtype_parse(NULL, &t), QUANTA_ERR_INVALID_ARGUMENT, "name");
    QT_EXPECT_ERR(quanta_dtype_parse("f32", NULL), QUANTA_ERR_INVALID_ARGUMENT, "out");
}
END_TEST

/* Dense dtypes through quantize (= convert), dequantize and qn_dequant_row (row = last dim). */
START_TEST(test_dense) {
    qt_rng r = qt_rng_make(51);
    quanta_tensor_desc d;
    memset(&d, 0, sizeof d);
    d.ndim = 3;
    d.dims[0] = 2, d.dims[1] = 3, d.dims[2] = 5;
    float w[30], out[30];
    qt_fill_normal(&r, w, 30, 100.0f);
    uint8_t buf[120 + 8];
    const quanta_dtype ts[] = { QUANTA_F32, QUANTA_F16, QUANTA_BF16 };
    for (int i = 0; i < 3; i++) {
        d.dtype = ts[i];
        size_t need = bytes_of(d);
        memset(buf, 0xA5, sizeof buf);
        ck_assert_int_eq(quanta_quantize(&d, w, buf, need), QUANTA_OK);
        ck_assert_uint_eq(buf[need], 0xA5);
        qt_poison_f32(out, 30);
        ck_assert_int_eq(quanta_dequantize(&d, buf, need, out, 30), QUANTA_OK);
        for (int k = 0; k < 30; k++) {
            float want = ts[i] == QUANTA_F32 ? w[k]
                         : ts[i] == QUANTA_F16 ? qn_f16_to_f32(qn_f32_to_f16(w[k]))
                                               : qn_bf16_to_f32(qn_f32_to_bf16(w[k]));
            ck_assert_float_eq(out[k], want);
        }
        /* little-endian storage: element 0 as the scalar codec gives it */
        if (ts[i] == QUANTA_F16) ck_assert_uint_eq(buf[0] | buf[1] << 8, qn_f32_to_f16(w[0]));
        qn_quant_layout L;
        ck_assert_int_eq(qn_quant_layout_get(&d, &L), QUANTA_OK);
        float row[5];
        qt_poison_f32(row, 5);
        qn_dequant_row(&L, ts[i], buf, 4, row); /* row 4 of 6 = elements 20..24 */
        for (int k = 0; k < 5; k++) ck_assert_float_eq(row[k], out[20 + k]);
    }
    /* NaN/Inf pass through dense conversion (only quantized formats reject them) */
    float sp[5] = { NAN, INFINITY, -INFINITY, 70000.0f, -0.0f }, so[5];
    d.ndim = 1;
    d.dims[0] = 5;
    d.dtype = QUANTA_F16;
    ck_assert_int_eq(quanta_quantize(&d, sp, buf, 10), QUANTA_OK);
    ck_assert_int_eq(quanta_dequantize(&d, buf, 10, so, 5), QUANTA_OK);
    ck_assert(isnan(so[0]) && so[1] == INFINITY && so[2] == -INFINITY && so[3] == INFINITY && signbit(so[4]));
    /* i32 and u8: dequantize converts; quantize rounds half to even and saturates, NaN -> 0 */
    float iv[6] = { 2.5f, -3.5f, 1e10f, -1e10f, NAN, 7.0f }, io[6];
    d.dtype = QUANTA_I32;
    d.dims[0] = 6;
    ck_assert_int_eq(quanta_quantize(&d, iv, buf, 24), QUANTA_OK);
    int32_t iw[6];
    memcpy(iw, buf, 24); /* little-endian host assumed by this check */
    ck_assert_int_eq(iw[0], 2);
    ck_assert_int_eq(iw[1], -4);
    ck_assert_int_eq(iw[2], INT32_MAX);
    ck_assert_int_eq(iw[3], INT32_MIN);
    ck_assert_int_eq(iw[4], 0);
    ck_assert_int_eq(quanta_dequantize(&d, buf, 24, io, 6), QUANTA_OK);
    ck_assert_float_eq(io[5], 7.0f);
    ck_assert_float_eq(io[1], -4.0f);
    float uv[5] = { 0.5f, 1.5f, 300.0f, -4.0f, 254.5f }, uo[5];
    d.dtype = QUANTA_U8;
    d.dims[0] = 5;
    ck_assert_int_eq(quanta_quantize(&d, uv, buf, 5), QUANTA_OK);
    ck_assert_uint_eq(buf[0], 0);
    ck_assert_uint_eq(buf[1], 2);
    ck_assert_uint_eq(buf[2], 255);
    ck_assert_uint_eq(buf[3], 0);
    ck_assert_uint_eq(buf[4], 254);
    ck_assert_int_eq(quanta_dequantize(&d, buf, 5, uo, 5), QUANTA_OK);
    ck_assert_float_eq(uo[4], 254.0f);
}
END_TEST

int main(void) {
    Suite *s = suite_create("formats_api");
    TCase *tc = tcase_create("api");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_sizes);
    tcase_add_test(tc, test_bad_descriptors);
    tcase_add_test(tc, test_bad_quantize_args);
    tcase_add_test(tc, test_names);
    tcase_add_test(tc, test_dense);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
