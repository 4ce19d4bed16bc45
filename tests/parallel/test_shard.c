/* test_shard.c — tensor-parallel shards dequantize bit for bit like the slices of the full
 * weight, column-parallel matmul outputs equal the full matmul's columns bit for bit on the
 * reference backend, and row-parallel partial sums add up to the full result. */
#include <math.h>
#include <string.h>

#include "quanta.h"
#include "test_util.h"

typedef struct fmt_case {
    quanta_dtype dtype;
    int group;
    int dq;
} fmt_case;

static const fmt_case formats[] = {
    {QUANTA_F32, 0, 0},  {QUANTA_F16, 0, 0},       {QUANTA_BF16, 0, 0},      {QUANTA_Q8, 0, 0},
    {QUANTA_Q4, 32, 0},  {QUANTA_Q4, 64, 0},       {QUANTA_Q4, 128, 0},      {QUANTA_NF4, 64, 0},
    {QUANTA_NF4, 64, 1}, {QUANTA_FP8_E4M3, 0, 0}, {QUANTA_FP8_E5M2, 0, 0},
};

static void *quantize(const quanta_tensor_desc *d, const float *w, size_t *bytes) {
    ck_assert_int_eq(quanta_tensor_bytes(d, bytes), QUANTA_OK);
    void *q = malloc(*bytes);
    ck_assert_ptr_nonnull(q);
    if (d->dtype == QUANTA_F32) {
        memcpy(q, w, *bytes);
    } else if (d->dtype == QUANTA_F16 || d->dtype == QUANTA_BF16) {
        uint16_t *h = q;
        for (size_t i = 0; i < *bytes / 2; i++) h[i] = d->dtype == QUANTA_F16 ? quanta_f32_to_f16(w[i]) : quanta_f32_to_bf16(w[i]);
    } else {
        ck_assert_int_eq(quanta_quantize(d, w, q, *bytes), QUANTA_OK);
    }
    return q;
}

static float *dequantize(const quanta_tensor_desc *d, const void *q, size_t bytes) {
    size_t n = (size_t)d->dims[0] * (size_t)d->dims[1];
    float *f = malloc(n * sizeof *f);
    ck_assert_ptr_nonnull(f);
    qt_poison_f32(f, n);
    ck_assert_msg(quanta_dequantize(d, q, bytes, f, n) == QUANTA_OK, "%s", quanta_last_error());
    return f;
}

/* The shard `rank` of `world` along `axis`: its descriptor, its first row (ROWS) or column (COLS)
 * in the full weight, and its bytes, poisoned before quanta_shard_weight fills them (caller frees). */
static void *shard_of(const quanta_tensor_desc *d, const void *q, size_t bytes, quanta_shard_axis axis, int rank,
                      int world, quanta_tensor_desc *sd, int64_t *first, size_t *sb) {
    ck_assert_int_eq(quanta_shard_desc(d, axis, rank, world, sd), QUANTA_OK);
    ck_assert_int_eq(quanta_shard_offset(d, axis, rank, world, first), QUANTA_OK);
    ck_assert_int_eq(quanta_tensor_bytes(sd, sb), QUANTA_OK);
    void *s = malloc(*sb);
    ck_assert_ptr_nonnull(s);
    memset(s, 0xCD, *sb);
    ck_assert_msg(quanta_shard_weight(d, q, bytes, axis, rank, world, s, *sb) == QUANTA_OK, "%s",
                  quanta_last_error());
    return s;
}

START_TEST(test_shards_dequantize_bit_exact) {
    qt_rng r = qt_rng_make(61);
    enum { N = 37, K = 1536 }; /* K/4/128 = 3: odd group offsets exercise nibble re-packing */
    float *w = malloc(sizeof(float) * N * K);
    qt_fill_normal(&r, w, N * K, 0.05f);
    /* Outliers make per-group scales differ a lot, so a misplaced scale cannot go unnoticed. */
    for (int i = 0; i < 40; i++) w[qt_next(&r) % (N * K)] *= 20.0f;
    /* A random offset per 32 columns makes q4 zero points differ from group to group. */
    for (int i = 0; i < N * K; i += 32) {
        float off = qt_uniform(&r, -0.15f, 0.15f);
        for (int j = 0; j < 32; j++) w[i + j] += off;
    }
    for (size_t f = 0; f < sizeof formats / sizeof formats[0]; f++) {
        quanta_tensor_desc d = {formats[f].dtype, 2, {N, K, 1, 1}, formats[f].group, formats[f].dq};
        size_t bytes;
        void *q = quantize(&d, w, &bytes);
        float *full = dequantize(&d, q, bytes);
        for (int axis = 0; axis < 2; axis++)
            for (int world = 1; world <= 4; world *= 2) {
                for (int rank = 0; rank < world; rank++) {
                    quanta_tensor_desc sd;
                    int64_t first;
                    size_t sb;
                    void *s = shard_of(&d, q, bytes, (quanta_shard_axis)axis, rank, world, &sd, &first, &sb);
                    float *part = dequantize(&sd, s, sb);
                    for (int64_t i = 0; i < sd.dims[0]; i++)
                        for (int64_t j = 0; j < sd.dims[1]; j++) {
                            int64_t fi = axis == 0 ? first + i : i, fj = axis == 1 ? first + j : j;
                            float a = part[i * sd.dims[1] + j], b = full[fi * K + fj];
                            ck_assert_msg(memcmp(&a, &b, 4) == 0,
                                          "%s g%d dq%d axis %d world %d rank %d: [%lld,%lld] %a != %a",
                                          quanta_dtype_name(d.dtype), d.group, d.double_quant, axis, world, rank,
                                          (long long)i, (long long)j, a, b);
                        }
                    free(part);
                    free(s);
                }
            }
        free(full);
        free(q);
    }
    free(w);
}
END_TEST

/* Runs y = x·Wᵀ on the reference backend. */
static void ref_matmul(const quanta_tensor_desc *wd, const void *wq, size_t wbytes, const float *x, int64_t M,
                       float *y) {
    quanta_backend *be;
    quanta_graph *g;
    quanta_plan *p;
    quanta_tensor *tx, *tw, *ty;
    quanta_tensor_desc xd = {QUANTA_F32, 2, {M, wd->dims[1], 1, 1}, 0, 0};
    ck_assert_int_eq(quanta_backend_open("ref", &be), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "x", &xd, &tx), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_constant(g, "w", wd, wq, wbytes, &tw), QUANTA_OK);
    ck_assert_int_eq(quanta_matmul(g, tx, tw, &ty), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(g, ty), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_create(g, be, &p), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_set_input(p, tx, x, (size_t)(M * wd->dims[1]) * 4), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_execute(p), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_get_output(p, ty, y, (size_t)(M * wd->dims[0]) * 4), QUANTA_OK);
    quanta_plan_destroy(p);
    quanta_graph_destroy(g);
    quanta_backend_close(be);
}

START_TEST(test_sharded_matmul_matches_unsharded) {
    qt_rng r = qt_rng_make(62);
    enum { M = 3, N = 24, K = 512, WORLD = 4 };
    float *w = malloc(sizeof(float) * N * K), x[M * K], full[M * N], part[M * N], sum[M * N];
    qt_fill_normal(&r, w, N * K, 0.05f);
    qt_fill_normal(&r, x, M * K, 1.0f);
    static const fmt_case fmts[] = {{QUANTA_Q4, 128, 0}, {QUANTA_NF4, 64, 1}, {QUANTA_Q8, 0, 0}, {QUANTA_FP8_E4M3, 0, 0}};
    for (size_t f = 0; f < sizeof fmts / sizeof fmts[0]; f++) {
        quanta_tensor_desc d = {fmts[f].dtype, 2, {N, K, 1, 1}, fmts[f].group, fmts[f].dq};
        size_t bytes;
        void *q = quantize(&d, w, &bytes);
        qt_poison_f32(full, M * N);
        ref_matmul(&d, q, bytes, x, M, full);
        /* Column-parallel: each rank computes its own output columns, bit for bit. */
        for (int rank = 0; rank < WORLD; rank++) {
            quanta_tensor_desc sd;
            int64_t first;
            size_t sb;
            void *s = shard_of(&d, q, bytes, QUANTA_SHARD_ROWS, rank, WORLD, &sd, &first, &sb);
            qt_poison_f32(part, M * N);
            ref_matmul(&sd, s, sb, x, M, part);
            for (int m = 0; m < M; m++)
                for (int64_t n = 0; n < sd.dims[0]; n++)
                    ck_assert_msg(memcmp(&part[m * sd.dims[0] + n], &full[m * N + first + n], 4) == 0,
                                  "%s rank %d m %d n %lld", quanta_dtype_name(d.dtype), rank, m, (long long)n);
            free(s);
        }
        /* Row-parallel: partial sums over K slices add up to the full product (the all-reduce). */
        memset(sum, 0, sizeof sum);
        for (int rank = 0; rank < WORLD; rank++) {
            quanta_tensor_desc sd;
            int64_t first;
            size_t sb;
            void *s = shard_of(&d, q, bytes, QUANTA_SHARD_COLS, rank, WORLD, &sd, &first, &sb);
            float xs[M * K / WORLD];
            for (int m = 0; m < M; m++) memcpy(&xs[m * (K / WORLD)], &x[m * K + first], sizeof(float) * (K / WORLD));
            qt_poison_f32(part, M * N);
            ref_matmul(&sd, s, sb, xs, M, part);
            for (int i = 0; i < M * N; i++) sum[i] += part[i];
            free(s);
        }
        for (int i = 0; i < M * N; i++)
            ck_assert_msg(fabsf(sum[i] - full[i]) <= 1e-5f * (1.0f + fabsf(full[i])), "%s i=%d %g vs %g",
                          quanta_dtype_name(d.dtype), i, sum[i], full[i]);
        free(q);
    }
    free(w);
}
END_TEST

START_TEST(test_shard_bad_input) {
    quanta_tensor_desc d = {QUANTA_Q4, 2, {8, 256, 1, 1}, 128, 0}, sd;
    ck_assert_int_eq(quanta_shard_desc(&d, QUANTA_SHARD_COLS, 0, 4, &sd), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(quanta_last_error(), "whole"));
    ck_assert_int_eq(quanta_shard_desc(&d, QUANTA_SHARD_ROWS, 4, 4, &sd), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(quanta_last_error(), "rank"));
    ck_assert_int_eq(quanta_shard_desc(&d, QUANTA_SHARD_ROWS, 0, 16, &sd), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(quanta_shard_desc(NULL, QUANTA_SHARD_ROWS, 0, 1, &sd), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(quanta_shard_desc(&d, (quanta_shard_axis)7, 0, 1, &sd), QUANTA_ERR_INVALID_ARGUMENT);
    unsigned char buf[16];
    ck_assert_int_eq(quanta_shard_weight(&d, buf, sizeof buf, QUANTA_SHARD_ROWS, 0, 2, buf, sizeof buf),
                     QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(quanta_last_error(), "bytes"));
    quanta_tensor_desc d4 = {QUANTA_F32, 4, {1, 2, 3, 4}, 0, 0};
    ck_assert_int_eq(quanta_shard_desc(&d4, QUANTA_SHARD_ROWS, 0, 1, &sd), QUANTA_ERR_INVALID_ARGUMENT);
}
END_TEST

int main(void) {
    Suite *s = suite_create("parallel");
    TCase *tc = tcase_create("shard");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_shards_dequantize_bit_exact);
    tcase_add_test(tc, test_sharded_matmul_matches_unsharded);
    tcase_add_test(tc, test_shard_bad_input);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
