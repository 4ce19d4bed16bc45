/*
 * test_ref_rows.c — get_rows from tables of every format (against rows of a table dequantized
 * whole with qn_dequantize), permute (against a scatter from each source element to its
 * permuted place), write_rows (against a copy updated row by row), and their bad inputs.
 */
#include "ref_test_util.h"

/* ------------------------------------------------------------------ get_rows */

static void check_get_rows(uint64_t salt, quanta_dtype tt, int32_t group, int32_t dq, int64_t V, int64_t D) {
    qt_rng rng = qt_rng_make(salt);
    const int64_t dims[2] = { V, D };
    rt_tensor *table = rt_make_q(tt, 2, dims, group, dq);
    size_t n = (size_t)(V * D);
    float *src = malloc(n * sizeof(float)), *full = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) src[i] = qt_normal(&rng, 1.0f);
    ck_assert_int_eq(qn_quantize(&table->t.desc, src, rt_data(table), table->t.bytes), QUANTA_OK);
    ck_assert_int_eq(qn_dequantize(&table->t.desc, rt_data(table), table->t.bytes, full, n), QUANTA_OK);

    const int64_t T = 9;
    rt_tensor *ids = rt_make(QUANTA_I32, 1, T, 0, 0, 0), *out = rt_make(QUANTA_F32, 2, T, D, 0, 0);
    int64_t id[9];
    for (int64_t t = 0; t < T; t++) {
        id[t] = t == 0 ? V - 1 : t == 1 ? 0 : t == 2 ? id[0] : (int64_t)(qt_next(&rng) % (uint64_t)V);
        rt_set(ids, (size_t)t, (double)id[t]);
    }
    rt_poison(out);
    qn_node node = rt_node(QN_OP_GET_ROWS, out, table, ids, NULL, NULL, NULL);
    RT_EXPECT_OK(qn_ref_run_node(&node));
    for (int64_t t = 0; t < T; t++)
        for (int64_t d = 0; d < D; d++)
            ck_assert_msg(rt_get(out, (size_t)(t * D + d)) == (double)full[id[t] * D + d],
                          "get_rows %s: out[%lld][%lld] = %g, table[%lld][%lld] = %g", quanta_dtype_name(tt),
                          (long long)t, (long long)d, rt_get(out, (size_t)(t * D + d)), (long long)id[t],
                          (long long)d, (double)full[id[t] * D + d]);
    free(src), free(full);
    rt_free(table), rt_free(ids), rt_free(out);
}

START_TEST(test_get_rows_formats) {
    check_get_rows(400, QUANTA_F32, 0, 0, 11, 13);
    check_get_rows(401, QUANTA_F16, 0, 0, 11, 13);
    check_get_rows(402, QUANTA_BF16, 0, 0, 11, 13);
    check_get_rows(403, QUANTA_Q8, 0, 0, 17, 40);
    check_get_rows(404, QUANTA_Q4, 32, 0, 17, 96);
    check_get_rows(405, QUANTA_Q4, 64, 0, 17, 128);
    check_get_rows(406, QUANTA_Q4, 128, 0, 5, 256);
    check_get_rows(407, QUANTA_NF4, 64, 0, 9, 128);
    check_get_rows(408, QUANTA_NF4, 64, 1, 300, 128); /* 600 blocks: three double-quant blocks */
    check_get_rows(409, QUANTA_FP8_E4M3, 0, 0, 7, 33);
    check_get_rows(410, QUANTA_FP8_E5M2, 0, 0, 7, 33);
}
END_TEST

/* Ids outside the table and start rows past the buffer (data: only a run sees them) fail
 * before anything is written. Malformed shapes and dtypes never reach the reference:
 * tests/engine/test_op_errors.c. */
START_TEST(test_get_rows_bad) {
    rt_tensor *table = rt_make(QUANTA_F32, 2, 6, 4, 0, 0), *ids = rt_make(QUANTA_I32, 1, 3, 0, 0, 0);
    rt_tensor *out = rt_make(QUANTA_F32, 2, 3, 4, 0, 0);
    rt_poison(out);
    rt_set(ids, 0, 1);
    rt_set(ids, 1, 5);
    rt_set(ids, 2, 6); /* == V */
    qn_node node = rt_node(QN_OP_GET_ROWS, out, table, ids, NULL, NULL, NULL);
    QT_EXPECT_ERR(qn_ref_run_node(&node), QUANTA_ERR_INVALID_ARGUMENT, "ids[2] = 6");
    ck_assert(rt_all_nan(out)); /* nothing written, not even the valid rows */
    rt_set(ids, 2, 0);
    rt_set(ids, 1, -3);
    QT_EXPECT_ERR(qn_ref_run_node(&node), QUANTA_ERR_INVALID_ARGUMENT, "ids[1] = -3");
    ck_assert(rt_all_nan(out));

    rt_free(table), rt_free(ids), rt_free(out);
}
END_TEST

/* ------------------------------------------------------------------- permute */

static void check_permute(uint64_t salt, quanta_dtype dt, int nd, const int64_t *xdims, const int32_t *perm) {
    qt_rng rng = qt_rng_make(salt);
    int64_t odims[4];
    for (int i = 0; i < nd; i++) odims[i] = xdims[perm[i]];
    rt_tensor *x = rt_make_q(dt, nd, xdims, 0, 0), *y = rt_make_q(dt, nd, odims, 0, 0);
    size_t n = rt_count(x);
    double *xv = malloc(n * sizeof(double)), *want = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++)
        xv[i] = rt_set(x, i, dt == QUANTA_U8 ? (double)(qt_next(&rng) % 256)
                             : dt == QUANTA_I32 ? (double)(int32_t)qt_next(&rng)
                                                : qt_normal(&rng, 1.0f));
    /* Scatter: split each source index into coordinates, place it at out coordinate
     * o[k] = c[perm[k]]. */
    for (size_t i = 0; i < n; i++) {
        int64_t c[4], rem = (int64_t)i;
        for (int d = nd - 1; d >= 0; d--) {
            c[d] = rem % xdims[d];
            rem /= xdims[d];
        }
        int64_t o = 0;
        for (int k = 0; k < nd; k++) o = o * odims[k] + c[perm[k]];
        want[o] = xv[i];
    }
    rt_poison(y);
    qn_node node = rt_node(QN_OP_PERMUTE, y, x, NULL, NULL, NULL, NULL);
    for (int i = 0; i < nd; i++) node.params.perm[i] = perm[i];
    RT_EXPECT_OK(qn_ref_run_node(&node));
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(rt_get(y, i) == want[i], "permute %s nd %d perm [%d %d %d %d]: [%zu] = %g, want %g",
                      quanta_dtype_name(dt), nd, perm[0], nd > 1 ? perm[1] : -1, nd > 2 ? perm[2] : -1,
                      nd > 3 ? perm[3] : -1, i, rt_get(y, i), want[i]);
    free(xv), free(want);
    rt_free(x), rt_free(y);
}

START_TEST(test_permute_all_4d) {
    const int64_t dims[4] = { 2, 3, 4, 5 };
    int32_t p[4];
    uint64_t salt = 420;
    for (p[0] = 0; p[0] < 4; p[0]++)
        for (p[1] = 0; p[1] < 4; p[1]++)
            for (p[2] = 0; p[2] < 4; p[2]++)
                for (p[3] = 0; p[3] < 4; p[3]++) {
                    if (p[0] == p[1] || p[0] == p[2] || p[0] == p[3] || p[1] == p[2] || p[1] == p[3] ||
                        p[2] == p[3])
                        continue;
                    check_permute(salt++, QUANTA_F32, 4, dims, p);
                }
}
END_TEST

START_TEST(test_permute_small_and_dtypes) {
    const int64_t d2[2] = { 7, 3 }, d3[3] = { 3, 1, 5 }, d1[1] = { 6 }, d4[4] = { 1, 4, 3, 2 };
    const int32_t t2[2] = { 1, 0 }, p3[3] = { 2, 0, 1 }, p1[1] = { 0 }, p4[4] = { 0, 2, 1, 3 };
    check_permute(450, QUANTA_F32, 2, d2, t2);
    check_permute(451, QUANTA_F16, 3, d3, p3);
    check_permute(452, QUANTA_BF16, 4, d4, p4);
    check_permute(453, QUANTA_I32, 2, d2, t2);
    check_permute(454, QUANTA_U8, 3, d3, p3);
    check_permute(455, QUANTA_F32, 1, d1, p1);
}
END_TEST

/* ---------------------------------------------------------------- write_rows */

/* dst[B,H,Nmax,D] of dtype dt, src[B,H,T,D] of dtype st, rows start..start+T-1. out_separate:
 * the node's dst is another tensor (executor copy), which must become "dst after the write". */
static void check_write_rows(uint64_t salt, quanta_dtype dt, quanta_dtype st, int64_t T, int32_t start,
                             int out_separate) {
    qt_rng rng = qt_rng_make(salt);
    const int64_t B = 2, H = 3, Nmax = 10, D = 7;
    rt_tensor *dst = rt_make(dt, 4, B, H, Nmax, D), *src = rt_make(st, 4, B, H, T, D);
    rt_tensor *s0 = rt_make(QUANTA_I32, 1, 1, 0, 0, 0);
    double *dv = rt_fill(dst, &rng, 1.0), *sv = rt_fill(src, &rng, 1.0);
    rt_set(s0, 0, start);
    rt_tensor *out = dst;
    if (out_separate) {
        out = rt_make(dt, 4, B, H, Nmax, D);
        rt_poison(out);
    }
    double *want = malloc(rt_count(dst) * sizeof(double));
    memcpy(want, dv, rt_count(dst) * sizeof(double));
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t t = 0; t < T; t++)
                for (int64_t d = 0; d < D; d++)
                    want[((b * H + h) * Nmax + start + t) * D + d] = rt_round(dt, sv[((b * H + h) * T + t) * D + d]);
    qn_node node = rt_node(QN_OP_WRITE_ROWS, out, dst, src, s0, NULL, NULL);
    RT_EXPECT_OK(qn_ref_run_node(&node));
    for (size_t i = 0; i < rt_count(out); i++)
        ck_assert_msg(rt_get(out, i) == want[i], "write_rows %s<-%s T %lld start %d: [%zu] = %g, want %g",
                      quanta_dtype_name(dt), quanta_dtype_name(st), (long long)T, start, i, rt_get(out, i), want[i]);
    if (out_separate) {
        for (size_t i = 0; i < rt_count(dst); i++) ck_assert(rt_get(dst, i) == dv[i]);
        rt_free(out);
    }
    free(dv), free(sv), free(want);
    rt_free(dst), rt_free(src), rt_free(s0);
}

START_TEST(test_write_rows) {
    check_write_rows(460, QUANTA_F32, QUANTA_F32, 4, 3, 0);
    check_write_rows(461, QUANTA_F32, QUANTA_F32, 4, 6, 0);  /* ends exactly at Nmax */
    check_write_rows(462, QUANTA_F32, QUANTA_F32, 1, 0, 0);  /* one decode step */
    check_write_rows(463, QUANTA_F32, QUANTA_F32, 10, 0, 0); /* fills the cache */
    check_write_rows(464, QUANTA_F16, QUANTA_F32, 3, 5, 0);  /* f16 cache, f32 rows */
    check_write_rows(465, QUANTA_BF16, QUANTA_F16, 2, 8, 0);
    check_write_rows(466, QUANTA_F16, QUANTA_F16, 3, 2, 1);  /* node dst is separate memory */
}
END_TEST

/* write_rows with one start per row (the paged cache's scatter): T distinct rows drawn at
 * random from Nmax, every other row unchanged. */
static void check_write_rows_scatter(uint64_t salt, quanta_dtype dt, quanta_dtype st, int64_t T) {
    qt_rng rng = qt_rng_make(salt);
    const int64_t B = 2, H = 3, Nmax = 10, D = 5;
    rt_tensor *dst = rt_make(dt, 4, B, H, Nmax, D), *src = rt_make(st, 4, B, H, T, D);
    rt_tensor *rows = rt_make(QUANTA_I32, 1, T, 0, 0, 0);
    double *dv = rt_fill(dst, &rng, 1.0), *sv = rt_fill(src, &rng, 1.0);
    int32_t perm[10];
    for (int i = 0; i < Nmax; i++) perm[i] = i;
    for (int64_t i = 0; i < T; i++) { /* partial Fisher-Yates: T distinct rows */
        const int64_t j = i + (int64_t)(qt_next(&rng) % (uint64_t)(Nmax - i));
        const int32_t x = perm[i];
        perm[i] = perm[j], perm[j] = x;
        rt_set(rows, (size_t)i, perm[i]);
    }
    double *want = malloc(rt_count(dst) * sizeof(double));
    memcpy(want, dv, rt_count(dst) * sizeof(double));
    for (int64_t bh = 0; bh < B * H; bh++)
        for (int64_t t = 0; t < T; t++)
            for (int64_t d = 0; d < D; d++)
                want[(bh * Nmax + perm[t]) * D + d] = rt_round(dt, sv[(bh * T + t) * D + d]);
    qn_node node = rt_node(QN_OP_WRITE_ROWS, dst, dst, src, rows, NULL, NULL);
    RT_EXPECT_OK(qn_ref_run_node(&node));
    for (size_t i = 0; i < rt_count(dst); i++)
        ck_assert_msg(rt_get(dst, i) == want[i], "write_rows scatter %s<-%s T %lld: [%zu] = %g, want %g",
                      quanta_dtype_name(dt), quanta_dtype_name(st), (long long)T, i, rt_get(dst, i), want[i]);
    free(dv), free(sv), free(want);
    rt_free(dst), rt_free(src), rt_free(rows);
}

START_TEST(test_write_rows_scatter) {
    check_write_rows_scatter(480, QUANTA_F32, QUANTA_F32, 3);
    check_write_rows_scatter(481, QUANTA_F32, QUANTA_F32, 10); /* every row, permuted */
    check_write_rows_scatter(482, QUANTA_F16, QUANTA_F32, 4);  /* converted on the way */
    check_write_rows_scatter(483, QUANTA_BF16, QUANTA_BF16, 2);
}
END_TEST

START_TEST(test_write_rows_scatter_bad) {
    qt_rng rng = qt_rng_make(485);
    rt_tensor *dst = rt_make(QUANTA_F32, 4, 1, 2, 8, 4), *src = rt_make(QUANTA_F32, 4, 1, 2, 3, 4);
    rt_tensor *rows = rt_make(QUANTA_I32, 1, 3, 0, 0, 0);
    double *dv = rt_fill(dst, &rng, 1.0), *sv = rt_fill(src, &rng, 1.0);
    qn_node node = rt_node(QN_OP_WRITE_ROWS, dst, dst, src, rows, NULL, NULL);
    rt_set(rows, 0, 1), rt_set(rows, 1, 8), rt_set(rows, 2, 0); /* row 8 of 8 */
    QT_EXPECT_ERR(qn_ref_run_node(&node), QUANTA_ERR_INVALID_ARGUMENT, "start[1] = 8");
    rt_set(rows, 1, 3), rt_set(rows, 2, -1);
    QT_EXPECT_ERR(qn_ref_run_node(&node), QUANTA_ERR_INVALID_ARGUMENT, "start[2] = -1");
    for (size_t i = 0; i < rt_count(dst); i++) ck_assert(rt_get(dst, i) == dv[i]); /* nothing written */
    free(dv), free(sv);
    rt_free(dst), rt_free(src), rt_free(rows);
}
END_TEST

START_TEST(test_write_rows_bad) {
    qt_rng rng = qt_rng_make(470);
    rt_tensor *dst = rt_make(QUANTA_F32, 4, 1, 2, 8, 4), *src = rt_make(QUANTA_F32, 4, 1, 2, 3, 4);
    rt_tensor *s0 = rt_make(QUANTA_I32, 1, 1, 0, 0, 0);
    double *dv = rt_fill(dst, &rng, 1.0), *sv = rt_fill(src, &rng, 1.0);
    qn_node node = rt_node(QN_OP_WRITE_ROWS, dst, dst, src, s0, NULL, NULL);
    rt_set(s0, 0, 6); /* 6 + 3 > 8 */
    QT_EXPECT_ERR(qn_ref_run_node(&node), QUANTA_ERR_INVALID_ARGUMENT, "start = 6 with T = 3");
    rt_set(s0, 0, -1);
    QT_EXPECT_ERR(qn_ref_run_node(&node), QUANTA_ERR_INVALID_ARGUMENT, "start = -1");
    rt_set(s0, 0, 2147483647); /* start + T must not wrap */
    QT_EXPECT_ERR(qn_ref_run_node(&node), QUANTA_ERR_INVALID_ARGUMENT, "overflows");
    for (size_t i = 0; i < rt_count(dst); i++) ck_assert(rt_get(dst, i) == dv[i]); /* nothing written */

    free(dv), free(sv);
    rt_free(dst), rt_free(src), rt_free(s0);
}
END_TEST

int main(void) {
    Suite *s = suite_create("ref_rows");
    TCase *tc = tcase_create("rows");
    tcase_add_test(tc, test_get_rows_formats);
    tcase_add_test(tc, test_get_rows_bad);
    tcase_add_test(tc, test_permute_all_4d);
    tcase_add_test(tc, test_permute_small_and_dtypes);
    tcase_add_test(tc, test_write_rows);
    tcase_add_test(tc, test_write_rows_bad);
    tcase_add_test(tc, test_write_rows_scatter);
    tcase_add_test(tc, test_write_rows_scatter_bad);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
