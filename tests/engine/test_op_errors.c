/*
 * test_op_errors.c — every malformed op argument is rejected where Quanta validates it: the
 * graph for malformed descriptors and data sizes, the op table's `infer` at the public
 * constructor (quanta_<op>) for dtypes, ranks, shapes and parameters, each message naming the
 * argument. Nothing is built or run when a check fails. These are the bad inputs the
 * reference backend used to check a second time when a node ran; tests/ref keeps the checks
 * that only a run can make (ids, kv_lens and start values).
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "engine_test.h"
#include "qt_check.h"
#include "qt_tensor.h"
#include "quanta.h"
#include "test_util.h"

static quanta_graph *g;

static void setup(void) { ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK); }
static void teardown(void) {
    quanta_graph_destroy(g);
    g = NULL;
}

/* A graph input of dtype t and dims (a, b, c, d; the first nd of them). */
static quanta_tensor *in(quanta_dtype t, int nd, int64_t a, int64_t b, int64_t c, int64_t d) {
    quanta_tensor_desc desc = qt_desc(t, nd, a, b, c, d);
    quanta_tensor *x = NULL;
    ck_assert_int_eq(quanta_graph_input(g, "in", &desc, &x), QUANTA_OK);
    return x;
}

/* Descriptors and data sizes: what the reference's tensor checks covered for every op. */
START_TEST(test_descriptors) {
    quanta_tensor *t = NULL;
    quanta_tensor_desc d = qt_desc(QUANTA_F32, 2, 2, -3, 0, 0);
    QT_EXPECT_ERR(quanta_graph_input(g, "x", &d, &t), QUANTA_ERR_INVALID_ARGUMENT, "dims[1]");
    d = qt_desc(QUANTA_F32, 2, 2, 3, 0, 0);
    d.ndim = 5;
    QT_EXPECT_ERR(quanta_graph_input(g, "x", &d, &t), QUANTA_ERR_INVALID_ARGUMENT, "ndim");
    d = qt_desc(QUANTA_F32, 2, INT64_MAX / 2, 3, 0, 0);
    quanta_status st = quanta_graph_input(g, "x", &d, &t);
    ck_assert_msg(st == QUANTA_ERR_OVERFLOW || st == QUANTA_ERR_INVALID_ARGUMENT, "huge dims: %s",
                  quanta_last_error());
    ck_assert_ptr_null(t);

    /* A constant whose bytes are short of its shape (f32) or of its q4 layout. */
    float data[64] = {0};
    d = qt_desc(QUANTA_F32, 2, 2, 3, 0, 0);
    QT_EXPECT_ERR(quanta_graph_constant(g, "w", &d, data, 23, &t), QUANTA_ERR_INVALID_ARGUMENT, "bytes is 23",
                  "needs 24");
    quanta_tensor_desc q4 = qt_mat(QUANTA_Q4, 3, 64, 32, 0);
    size_t need = 0;
    ck_assert_int_eq(quanta_tensor_bytes(&q4, &need), QUANTA_OK);
    unsigned char *qb = calloc(need, 1);
    ck_assert_ptr_nonnull(qb);
    QT_EXPECT_ERR(quanta_graph_constant(g, "w", &q4, qb, need - 1, &t), QUANTA_ERR_INVALID_ARGUMENT, "bytes");
    free(qb);

    /* An input given data of the wrong size, or none (the reference's "no memory"). */
    quanta_backend *be;
    ck_assert_int_eq(quanta_backend_open("ref", &be), QUANTA_OK);
    quanta_tensor *x = in(QUANTA_F32, 2, 2, 3, 0, 0), *y;
    ck_assert_int_eq(quanta_silu(g, x, &y), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(g, y), QUANTA_OK);
    quanta_plan *p;
    ck_assert_int_eq(quanta_plan_create(g, be, &p), QUANTA_OK);
    QT_EXPECT_ERR(quanta_plan_set_input(p, x, data, 23), QUANTA_ERR_INVALID_ARGUMENT, "bytes is 23", "needs 24");
    QT_EXPECT_ERR(quanta_plan_set_input(p, x, NULL, 24), QUANTA_ERR_INVALID_ARGUMENT, "data is NULL");
    quanta_plan_destroy(p);
    quanta_backend_close(be);
}
END_TEST

START_TEST(test_attention) {
    quanta_tensor *q = in(QUANTA_F32, 4, 2, 4, 2, 8), *k = in(QUANTA_F32, 4, 2, 2, 6, 8);
    quanta_tensor *v = in(QUANTA_F32, 4, 2, 2, 6, 8), *y = NULL;
    /* kv_lens of the wrong length or dtype */
    quanta_tensor *lens3 = in(QUANTA_I32, 1, 3, 0, 0, 0), *lensf = in(QUANTA_F32, 1, 2, 0, 0, 0);
    QT_EXPECT_ERR(quanta_attention(g, q, k, v, NULL, lens3, NULL, &y), QUANTA_ERR_INVALID_ARGUMENT, "kv_lens", "B=2");
    QT_EXPECT_ERR(quanta_attention(g, q, k, v, NULL, lensf, NULL, &y), QUANTA_ERR_INVALID_ARGUMENT, "kv_lens must be i32");
    /* mask: wrong dtype, wrong shape */
    quanta_tensor *mf = in(QUANTA_F32, 2, 2, 6, 0, 0), *mbad = in(QUANTA_U8, 2, 2, 5, 0, 0);
    QT_EXPECT_ERR(quanta_attention(g, q, k, v, mf, NULL, NULL, &y), QUANTA_ERR_INVALID_ARGUMENT, "mask must be u8");
    QT_EXPECT_ERR(quanta_attention(g, q, k, v, mbad, NULL, NULL, &y), QUANTA_ERR_INVALID_ARGUMENT, "mask must be [");
    /* Hq not a multiple of Hkv */
    quanta_tensor *k3 = in(QUANTA_F32, 4, 2, 3, 6, 8), *v3 = in(QUANTA_F32, 4, 2, 3, 6, 8);
    QT_EXPECT_ERR(quanta_attention(g, q, k3, v3, NULL, NULL, NULL, &y), QUANTA_ERR_INVALID_ARGUMENT, "multiple of k/v heads");
    /* head dim mismatch, v of another shape, v of another dtype, missing v, 3-D q */
    quanta_tensor *k7 = in(QUANTA_F32, 4, 2, 2, 6, 7), *vh = in(QUANTA_F16, 4, 2, 2, 6, 8);
    QT_EXPECT_ERR(quanta_attention(g, q, k7, k7, NULL, NULL, NULL, &y), QUANTA_ERR_INVALID_ARGUMENT, "k is [2,2,6,7]");
    QT_EXPECT_ERR(quanta_attention(g, q, k, k7, NULL, NULL, NULL, &y), QUANTA_ERR_INVALID_ARGUMENT, "v must have k's shape");
    QT_EXPECT_ERR(quanta_attention(g, q, k, vh, NULL, NULL, NULL, &y), QUANTA_ERR_INVALID_ARGUMENT, "share a dtype");
    QT_EXPECT_ERR(quanta_attention(g, q, k, NULL, NULL, NULL, NULL, &y), QUANTA_ERR_INVALID_ARGUMENT, "v is NULL");
    quanta_tensor *q3 = in(QUANTA_F32, 3, 4, 2, 8, 0), *qi = in(QUANTA_I32, 4, 2, 4, 2, 8);
    QT_EXPECT_ERR(quanta_attention(g, q3, k, v, NULL, NULL, NULL, &y), QUANTA_ERR_INVALID_ARGUMENT, "q must be 4-D");
    QT_EXPECT_ERR(quanta_attention(g, qi, k, v, NULL, NULL, NULL, &y), QUANTA_ERR_INVALID_ARGUMENT,
                  "q must be f32, f16 or bf16");
    quanta_attention_params p = {NAN, 0, 0};
    QT_EXPECT_ERR(quanta_attention(g, q, k, v, NULL, NULL, &p, &y), QUANTA_ERR_INVALID_ARGUMENT, "scale");
    ck_assert_ptr_null(y);
}
END_TEST

START_TEST(test_matmul) {
    quanta_tensor *x = in(QUANTA_F32, 2, 2, 8, 0, 0), *w7 = in(QUANTA_F32, 2, 3, 7, 0, 0), *y = NULL;
    QT_EXPECT_ERR(quanta_matmul(g, x, w7, &y), QUANTA_ERR_INVALID_ARGUMENT, "K = 8");
    QT_EXPECT_ERR(quanta_matmul(g, x, NULL, &y), QUANTA_ERR_INVALID_ARGUMENT, "w is NULL");
    quanta_tensor *wi = in(QUANTA_I32, 2, 3, 8, 0, 0), *w3 = in(QUANTA_F32, 3, 1, 3, 8, 0);
    QT_EXPECT_ERR(quanta_matmul(g, x, wi, &y), QUANTA_ERR_INVALID_ARGUMENT, "w has dtype i32");
    QT_EXPECT_ERR(quanta_matmul(g, x, w3, &y), QUANTA_ERR_INVALID_ARGUMENT, "w must be 2-D");
    quanta_tensor *xi = in(QUANTA_I32, 2, 2, 8, 0, 0), *w = in(QUANTA_F32, 2, 3, 8, 0, 0);
    QT_EXPECT_ERR(quanta_matmul(g, xi, w, &y), QUANTA_ERR_INVALID_ARGUMENT, "x must be f32, f16 or bf16", "i32");
    ck_assert_ptr_null(y);
}
END_TEST

START_TEST(test_elementwise) {
    quanta_tensor *x = in(QUANTA_F32, 4, 1, 2, 3, 8), *y = NULL;
    quanta_tensor *pos = in(QUANTA_I32, 1, 3, 0, 0, 0), *pos4 = in(QUANTA_I32, 1, 4, 0, 0, 0);
    quanta_tensor *posf = in(QUANTA_F32, 1, 3, 0, 0, 0);
    quanta_rope_params rp = {QUANTA_ROPE_NORM, 10000.0f, 1.0f, 5};
    QT_EXPECT_ERR(quanta_rope(g, x, pos, &rp, &y), QUANTA_ERR_INVALID_ARGUMENT, "rot_dims (5)");
    rp.rot_dims = 10;
    QT_EXPECT_ERR(quanta_rope(g, x, pos, &rp, &y), QUANTA_ERR_INVALID_ARGUMENT, "rot_dims (10)");
    rp.rot_dims = 0;
    rp.theta_base = 0.0f;
    QT_EXPECT_ERR(quanta_rope(g, x, pos, &rp, &y), QUANTA_ERR_INVALID_ARGUMENT, "theta_base");
    rp.theta_base = 10000.0f;
    rp.freq_scale = INFINITY;
    QT_EXPECT_ERR(quanta_rope(g, x, pos, &rp, &y), QUANTA_ERR_INVALID_ARGUMENT, "freq_scale");
    rp.freq_scale = 1.0f;
    rp.mode = (quanta_rope_mode)7;
    QT_EXPECT_ERR(quanta_rope(g, x, pos, &rp, &y), QUANTA_ERR_INVALID_ARGUMENT, "mode 7");
    rp.mode = QUANTA_ROPE_NORM;
    QT_EXPECT_ERR(quanta_rope(g, x, pos4, &rp, &y), QUANTA_ERR_INVALID_ARGUMENT, "positions must be i32 [N=3]");
    QT_EXPECT_ERR(quanta_rope(g, x, posf, &rp, &y), QUANTA_ERR_INVALID_ARGUMENT, "positions must be i32");
    quanta_tensor *x2 = in(QUANTA_F32, 2, 3, 8, 0, 0);
    QT_EXPECT_ERR(quanta_rope(g, x2, pos, &rp, &y), QUANTA_ERR_INVALID_ARGUMENT, "x must be 4-D");

    /* add/mul: b neither a's shape nor one row, missing, of another dtype */
    quanta_tensor *b5 = in(QUANTA_F32, 1, 5, 0, 0, 0), *bh = in(QUANTA_F16, 1, 8, 0, 0, 0);
    QT_EXPECT_ERR(quanta_add(g, x, b5, &y), QUANTA_ERR_INVALID_ARGUMENT, "b must have a's shape or be a row [8]");
    QT_EXPECT_ERR(quanta_mul(g, x, NULL, &y), QUANTA_ERR_INVALID_ARGUMENT, "b is NULL");
    QT_EXPECT_ERR(quanta_mul(g, x, bh, &y), QUANTA_ERR_INVALID_ARGUMENT, "b has dtype f16");

    /* rms_norm: weight of the wrong length or dtype */
    quanta_tensor *wh = in(QUANTA_F16, 1, 8, 0, 0, 0);
    QT_EXPECT_ERR(quanta_rms_norm(g, x, b5, 1e-6f, 0, &y), QUANTA_ERR_INVALID_ARGUMENT, "weight must be f32 [8]");
    QT_EXPECT_ERR(quanta_rms_norm(g, x, wh, 1e-6f, 0, &y), QUANTA_ERR_INVALID_ARGUMENT, "weight must be f32 [8]");

    /* an integer x, an integer target dtype, a missing x */
    quanta_tensor *xi = in(QUANTA_I32, 2, 3, 8, 0, 0);
    QT_EXPECT_ERR(quanta_softmax(g, xi, &y), QUANTA_ERR_INVALID_ARGUMENT, "x must be f32, f16 or bf16");
    QT_EXPECT_ERR(quanta_silu(g, xi, &y), QUANTA_ERR_INVALID_ARGUMENT, "x must be f32, f16 or bf16");
    QT_EXPECT_ERR(quanta_convert(g, x, QUANTA_I32, &y), QUANTA_ERR_INVALID_ARGUMENT, "dtype must be f32, f16 or bf16");
    QT_EXPECT_ERR(quanta_convert(g, NULL, QUANTA_F16, &y), QUANTA_ERR_INVALID_ARGUMENT, "x is NULL");
    ck_assert_ptr_null(y);
}
END_TEST

START_TEST(test_rows) {
    quanta_tensor *y = NULL;
    /* get_rows: ids of another dtype or rank, a table that is not 2-D or is integer */
    quanta_tensor *table = in(QUANTA_F32, 2, 6, 4, 0, 0), *idf = in(QUANTA_F32, 1, 3, 0, 0, 0);
    quanta_tensor *id2 = in(QUANTA_I32, 2, 1, 3, 0, 0), *ids = in(QUANTA_I32, 1, 3, 0, 0, 0);
    quanta_tensor *t3 = in(QUANTA_F32, 3, 1, 6, 4, 0), *ti = in(QUANTA_I32, 2, 6, 4, 0, 0);
    QT_EXPECT_ERR(quanta_get_rows(g, table, idf, &y), QUANTA_ERR_INVALID_ARGUMENT, "ids must be a 1-D i32");
    QT_EXPECT_ERR(quanta_get_rows(g, table, id2, &y), QUANTA_ERR_INVALID_ARGUMENT, "ids must be a 1-D i32");
    QT_EXPECT_ERR(quanta_get_rows(g, t3, ids, &y), QUANTA_ERR_INVALID_ARGUMENT, "table must be 2-D");
    QT_EXPECT_ERR(quanta_get_rows(g, ti, ids, &y), QUANTA_ERR_INVALID_ARGUMENT, "table has dtype i32");

    /* permute: a repeated or out-of-range axis */
    quanta_tensor *x = in(QUANTA_F32, 3, 2, 3, 4, 0);
    const int32_t dup[QUANTA_MAX_DIMS] = {2, 0, 2, 0}, big[QUANTA_MAX_DIMS] = {2, 0, 3, 0};
    QT_EXPECT_ERR(quanta_permute(g, x, dup, &y), QUANTA_ERR_INVALID_ARGUMENT, "perm[2] = 2");
    QT_EXPECT_ERR(quanta_permute(g, x, big, &y), QUANTA_ERR_INVALID_ARGUMENT, "perm[2] = 3");
    /* permute and reshape of a quantized tensor (its blocks run along the last dim: no view of
     * them is another layout), and reshape to no dims or more than QUANTA_MAX_DIMS */
    const quanta_tensor_desc wq = {QUANTA_Q4, 2, {8, 64}, 32, 0};
    size_t wq_bytes;
    ck_assert_int_eq(quanta_tensor_bytes(&wq, &wq_bytes), QUANTA_OK);
    unsigned char *wdata = calloc(1, wq_bytes);
    ck_assert_ptr_nonnull(wdata);
    quanta_tensor *w = NULL;
    ck_assert_int_eq(quanta_graph_constant(g, "w", &wq, wdata, wq_bytes, &w), QUANTA_OK);
    free(wdata);
    const int32_t swap[QUANTA_MAX_DIMS] = {1, 0, 0, 0};
    const int64_t flat[QUANTA_MAX_DIMS] = {512, 0, 0, 0}, five[QUANTA_MAX_DIMS + 1] = {2, 3, 4, 1, 1};
    y = (quanta_tensor *)1;
    QT_EXPECT_ERR(quanta_permute(g, w, swap, &y), QUANTA_ERR_INVALID_ARGUMENT, "quanta_permute: x is quantized (q4)");
    QT_EXPECT_ERR(quanta_reshape(g, w, 1, flat, &y), QUANTA_ERR_INVALID_ARGUMENT, "quanta_reshape: x is quantized (q4)");
    ck_assert_ptr_null(y);
    QT_EXPECT_ERR(quanta_reshape(g, x, QUANTA_MAX_DIMS + 1, five, &y), QUANTA_ERR_INVALID_ARGUMENT, "ndim 5 not in [1, 4]");
    QT_EXPECT_ERR(quanta_reshape(g, x, 0, five, &y), QUANTA_ERR_INVALID_ARGUMENT, "ndim 0 not in [1, 4]");

    /* argmax: an x that is not f32, f16 or bf16 */
    QT_EXPECT_ERR(quanta_argmax(g, in(QUANTA_I32, 2, 2, 3, 0, 0), &y), QUANTA_ERR_INVALID_ARGUMENT,
                  "quanta_argmax: x must be f32, f16 or bf16");
    QT_EXPECT_ERR(quanta_argmax(g, NULL, &y), QUANTA_ERR_INVALID_ARGUMENT, "x");
    /* rows longer than an i32 index reaches (a descriptor: nothing is allocated while the graph
     * is built; rows with no element cannot be described: dims must be positive) */
    QT_EXPECT_ERR(quanta_argmax(g, in(QUANTA_F32, 2, 1, (int64_t)INT32_MAX + 1, 0, 0), &y), QUANTA_ERR_INVALID_ARGUMENT,
                  "last dim 2147483648 does not fit an i32 index");
    ck_assert_int_eq(quanta_argmax(g, in(QUANTA_BF16, 3, 2, 1, 5, 0), &y), QUANTA_OK);
    quanta_tensor_desc yd;
    ck_assert_int_eq(quanta_tensor_get_desc(y, &yd), QUANTA_OK);
    ck_assert(yd.dtype == QUANTA_I32 && yd.ndim == 3 && yd.dims[0] == 2 && yd.dims[1] == 1 && yd.dims[2] == 1);

    /* write_rows: src that does not fit dst, start of the wrong size or dtype, src of another
     * dtype, a missing start */
    quanta_backend *be;
    ck_assert_int_eq(quanta_backend_open("ref", &be), QUANTA_OK);
    quanta_tensor_desc dd = qt_desc(QUANTA_F32, 4, 1, 2, 8, 4);
    quanta_buffer *buf;
    ck_assert_int_eq(quanta_buffer_create(be, &dd, &buf), QUANTA_OK);
    quanta_tensor *dst;
    ck_assert_int_eq(quanta_graph_buffer(g, buf, &dst), QUANTA_OK);
    quanta_tensor *src = in(QUANTA_F32, 4, 1, 2, 3, 4), *src5 = in(QUANTA_F32, 4, 1, 2, 3, 5);
    quanta_tensor *srch = in(QUANTA_F16, 4, 1, 2, 3, 4), *s0 = in(QUANTA_I32, 1, 1, 0, 0, 0);
    quanta_tensor *s2 = in(QUANTA_I32, 1, 2, 0, 0, 0), *sf = in(QUANTA_F32, 1, 1, 0, 0, 0);
    quanta_tensor *src9 = in(QUANTA_F32, 4, 1, 2, 9, 4);
    QT_EXPECT_ERR(quanta_write_rows(g, dst, src5, s0, &y), QUANTA_ERR_INVALID_ARGUMENT, "does not fit dst");
    QT_EXPECT_ERR(quanta_write_rows(g, dst, src9, s0, &y), QUANTA_ERR_INVALID_ARGUMENT, "T <= Nmax");
    QT_EXPECT_ERR(quanta_write_rows(g, dst, src, s2, &y), QUANTA_ERR_INVALID_ARGUMENT, "or i32 [T] = [3]");
    ck_assert_int_eq(quanta_write_rows(g, dst, src, in(QUANTA_I32, 1, 3, 0, 0, 0), &y), QUANTA_OK); /* a row each */
    QT_EXPECT_ERR(quanta_write_rows(g, dst, src, sf, &y), QUANTA_ERR_INVALID_ARGUMENT, "start must be i32 [1]");
    QT_EXPECT_ERR(quanta_write_rows(g, dst, srch, s0, &y), QUANTA_ERR_INVALID_ARGUMENT, "src is f16 but dst is f32");
    QT_EXPECT_ERR(quanta_write_rows(g, dst, src, NULL, &y), QUANTA_ERR_INVALID_ARGUMENT, "start is NULL");
    ck_assert_ptr_null(y);
    quanta_graph_destroy(g); /* before the buffer it references */
    g = NULL;
    quanta_buffer_destroy(buf);
    quanta_backend_close(be);
}
END_TEST

/* ggml block weights (the file's Q4_0 ... Q6_K blocks kept as they are): every descriptor, size and op
 * that cannot hold or take them is refused with a message; none of these had a test. */
START_TEST(test_ggml_weights) {
    static const quanta_dtype T[] = {QUANTA_GGML_Q4_0, QUANTA_GGML_Q4_1, QUANTA_GGML_Q5_0, QUANTA_GGML_Q5_1,
                                     QUANTA_GGML_Q8_0, QUANTA_GGML_Q4_K, QUANTA_GGML_Q5_K, QUANTA_GGML_Q6_K};
    for (size_t i = 0; i < sizeof T / sizeof T[0]; i++) {
        const quanta_dtype t = T[i];
        const int k_quant = t >= QUANTA_GGML_Q4_K;
        size_t bytes = 0;
        quanta_tensor_desc d = qt_desc(t, 1, 256, 0, 0, 0);
        QT_EXPECT_ERR(quanta_tensor_bytes(&d, &bytes), QUANTA_ERR_INVALID_ARGUMENT, "ndim is 1", "2-D");
        d = qt_desc(t, 3, 2, 3, 256, 0);
        QT_EXPECT_ERR(quanta_tensor_bytes(&d, &bytes), QUANTA_ERR_INVALID_ARGUMENT, "ndim is 3");
        d = qt_desc(t, 2, 3, k_quant ? 288 : 100, 0, 0); /* 288: whole 32-blocks, not whole 256-blocks */
        QT_EXPECT_ERR(quanta_tensor_bytes(&d, &bytes), QUANTA_ERR_INVALID_ARGUMENT, "not a multiple",
                      k_quant ? "256" : "32");
        d = qt_desc(t, 2, INT64_C(1) << 40, INT64_C(1) << 40, 0, 0);
        const quanta_status st = quanta_tensor_bytes(&d, &bytes);
        ck_assert_msg(st == QUANTA_ERR_OVERFLOW || st == QUANTA_ERR_INVALID_ARGUMENT, "%s", quanta_status_name(st));
        const quanta_tensor_desc w2 = qt_desc(t, 2, 3, 256, 0, 0);
        ck_assert_int_eq(quanta_tensor_bytes(&w2, &bytes), QUANTA_OK);
        unsigned char *raw = calloc(bytes, 1);
        float f[768] = {0};
        ck_assert_ptr_nonnull(raw);
        QT_EXPECT_ERR(quanta_dequantize(&w2, raw, bytes - 1, f, 768), QUANTA_ERR_INVALID_ARGUMENT, "src_bytes");
        QT_EXPECT_ERR(quanta_dequantize(&w2, raw, bytes, f, 767), QUANTA_ERR_INVALID_ARGUMENT, "dst_count");
        const quanta_status qs = quanta_quantize(&w2, f, raw, bytes);
        if (qs != QUANTA_OK) /* formats without an encoder say so */
            QT_EXPECT_ERR(quanta_quantize(&w2, f, raw, bytes), QUANTA_ERR_UNSUPPORTED, "no encoder");
        else
            QT_EXPECT_ERR(quanta_quantize(&w2, f, raw, bytes - 1), QUANTA_ERR_INVALID_ARGUMENT, "dst_bytes");
        quanta_tensor *w = NULL, *wu = NULL, *y = NULL;
        QT_EXPECT_ERR(quanta_graph_constant(g, "w", &w2, raw, bytes - 1, &w), QUANTA_ERR_INVALID_ARGUMENT, "bytes");
        ck_assert_int_eq(quanta_graph_constant(g, "w", &w2, raw, bytes, &w), QUANTA_OK);
        quanta_tensor *x = in(QUANTA_F32, 2, 2, 256, 0, 0);
        QT_EXPECT_ERR(quanta_matmul(g, w, x, &y), QUANTA_ERR_INVALID_ARGUMENT, "x must be f32, f16 or bf16");
        QT_EXPECT_ERR(quanta_convert(g, w, QUANTA_F32, &y), QUANTA_ERR_INVALID_ARGUMENT, "x must be");
        const int32_t perm[2] = {1, 0};
        QT_EXPECT_ERR(quanta_permute(g, w, perm, &y), QUANTA_ERR_INVALID_ARGUMENT, "quantized");
        const int64_t flat[1] = {768};
        QT_EXPECT_ERR(quanta_reshape(g, w, 1, flat, &y), QUANTA_ERR_INVALID_ARGUMENT, "quantized");
        QT_EXPECT_ERR(quanta_add(g, w, w, &y), QUANTA_ERR_INVALID_ARGUMENT, "a must be");
        QT_EXPECT_ERR(quanta_softmax(g, w, &y), QUANTA_ERR_INVALID_ARGUMENT, "x must be");
        QT_EXPECT_ERR(quanta_rms_norm(g, x, w, 1e-5f, 0, &y), QUANTA_ERR_INVALID_ARGUMENT, "weight");
        /* matmul_glu's w_up in another block format */
        const quanta_tensor_desc du = qt_desc(T[(i + 1) % (sizeof T / sizeof T[0])], 2, 3, 256, 0, 0);
        size_t bu = 0;
        ck_assert_int_eq(quanta_tensor_bytes(&du, &bu), QUANTA_OK);
        unsigned char *ru = calloc(bu, 1);
        ck_assert_ptr_nonnull(ru);
        ck_assert_int_eq(quanta_graph_constant(g, "w_up", &du, ru, bu, &wu), QUANTA_OK);
        QT_EXPECT_ERR(quanta_matmul_glu(g, x, w, wu, QUANTA_GLU_SILU, &y), QUANTA_ERR_INVALID_ARGUMENT, "w_up");
        ck_assert_ptr_null(y);
        ck_assert_int_eq(quanta_matmul(g, x, w, &y), QUANTA_OK); /* and the one op that takes them */
        /* a row-parallel shard must keep whole blocks: K = 256 over 2 ranks is 128 */
        quanta_tensor_desc sd;
        if (k_quant)
            QT_EXPECT_ERR(quanta_shard_desc(&w2, QUANTA_SHARD_COLS, 0, 2, &sd), QUANTA_ERR_INVALID_ARGUMENT, "256");
        free(raw);
        free(ru);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("op_errors");
    TCase *tc = tcase_create("op_errors");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_descriptors);
    tcase_add_test(tc, test_attention);
    tcase_add_test(tc, test_matmul);
    tcase_add_test(tc, test_elementwise);
    tcase_add_test(tc, test_rows);
    tcase_add_test(tc, test_ggml_weights);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
