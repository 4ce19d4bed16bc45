/* test_write_rows_pair.c — the plan's fusion of two write_rows at one start (a layer's k and v
 * cache appends) into one write_rows_pair node: taken where the backend claims the kernel (the
 * reference always; OpenCL for float buffers, not for a q8 pool), refused when the writes have
 * different starts, when they write one buffer, and when the second write's source is computed
 * after the first write (it would be read before it exists). Both buffers of every plan are read
 * back and checked against rows written here: the new rows where they belong, every other row as
 * it was. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qt_backends.h"
#include "qt_check.h"
#include "qt_plan_guard.h"
#include "qt_tensor.h"
#include "quanta.h"
#include "test_util.h"

enum shape_kind {
    PAIR,        /* k and v appends at one start: fused */
    PAIR_Q8,     /* the same into q8 pools: fused on the reference only */
    TWO_STARTS,  /* different start tensors: not fused */
    ONE_BUFFER,  /* both into one buffer at one start (the second write wins): not fused */
    LATE_SOURCE, /* the second source is scale(input), computed after the first write: not fused */
};

enum { H = 2, NMAX = 8, D = 32 };

static const char *op_at(quanta_plan *plan, int i) {
    const char *op = NULL;
    ck_assert_int_eq(quanta_plan_op_info(plan, i, &op, NULL), QUANTA_OK);
    return op;
}

static void run_case(quanta_backend *be, const char *name, enum shape_kind k, qt_rng *r) {
    const quanta_dtype kv = k == PAIR_Q8 ? QUANTA_Q8 : QUANTA_F32;
    const size_t nb = (size_t)H * NMAX * D, ns = (size_t)H * D;
    float init[2][H * NMAX * D], src[2][H * D];
    for (int i = 0; i < 2; i++) {
        qt_fill_normal(r, init[i], nb, 1.0f);
        qt_fill_normal(r, src[i], ns, 1.0f);
    }
    quanta_tensor_desc bd = qt_desc(kv, 4, 1, H, NMAX, D), sd = qt_desc(QUANTA_F32, 4, 1, H, 1, D);
    quanta_tensor_desc id = qt_desc(QUANTA_I32, 1, 1, 0, 0, 0);
    quanta_buffer *buf[2] = {NULL, NULL};
    size_t bytes;
    ck_assert_int_eq(quanta_tensor_bytes(&bd, &bytes), QUANTA_OK);
    void *packed = malloc(bytes);
    ck_assert_ptr_nonnull(packed);
    for (int i = 0; i < (k == ONE_BUFFER ? 1 : 2); i++) {
        ck_assert_int_eq(quanta_buffer_create(be, &bd, &buf[i]), QUANTA_OK);
        ck_assert_int_eq(quanta_quantize(&bd, init[i], packed, bytes), QUANTA_OK);
        ck_assert_int_eq(quanta_dequantize(&bd, packed, bytes, init[i], nb), QUANTA_OK); /* what it holds */
        ck_assert_int_eq(quanta_buffer_write(buf[i], packed, bytes), QUANTA_OK);
    }
    quanta_graph *g;
    quanta_plan *plan;
    quanta_tensor *ts[2], *st0, *st1, *tb[2], *w[2];
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "src0", &sd, &ts[0]), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "src1", &sd, &ts[1]), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "start0", &id, &st0), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "start1", &id, &st1), QUANTA_OK);
    for (int i = 0; i < 2; i++) ck_assert_int_eq(quanta_graph_buffer(g, buf[k == ONE_BUFFER ? 0 : i], &tb[i]), QUANTA_OK);
    ck_assert_int_eq(quanta_write_rows(g, tb[0], ts[0], st0, &w[0]), QUANTA_OK);
    quanta_tensor *s1 = ts[1];
    if (k == LATE_SOURCE) ck_assert_int_eq(quanta_scale(g, ts[1], 1.0f, &s1), QUANTA_OK);
    ck_assert_int_eq(quanta_write_rows(g, tb[1], s1, k == TWO_STARTS ? st1 : st0, &w[1]),
                     QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(g, w[0]), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(g, w[1]), QUANTA_OK);
    plan = qt_plan_guarded(g, be);
    const int fused = (k == PAIR || k == PAIR_Q8) && (!strcmp(name, "ref") || (k == PAIR && !strcmp(name, "opencl")));
    const int want = fused ? 1 : 2 + (k == LATE_SOURCE);
    /* CUDA claims write_rows_pair behind a switch (QUANTA_CUDA_MULTI): either plan is right there */
    if (strcmp(name, "cuda") != 0) {
        ck_assert_msg(quanta_plan_op_count(plan) == want, "%s case %d: %d ops, expected %d", name, (int)k,
                      quanta_plan_op_count(plan), want);
        if (fused) ck_assert_str_eq(op_at(plan, 0), "write_rows_pair");
    }
    const int32_t row0 = 5, row1 = k == TWO_STARTS ? 2 : 5;
    ck_assert_int_eq(quanta_plan_set_input(plan, ts[0], src[0], sizeof src[0]), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_set_input(plan, ts[1], src[1], sizeof src[1]), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_set_input(plan, st0, &row0, sizeof row0), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_set_input(plan, st1, &row1, sizeof row1), QUANTA_OK);
    ck_assert_msg(quanta_plan_execute(plan) == QUANTA_OK, "%s", quanta_last_error());
    /* expected buffers: the initial rows, each write's rows replaced (ONE_BUFFER: both into init[0]) */
    float want_v[2][H * NMAX * D], got[H * NMAX * D];
    /* per row: 0 where the buffer keeps its (already quantized) values; for a written q8 row half a
     * code step of that row's largest value (its scale is max|row| / 127), f32 rows exact */
    double tol_row[2][H * NMAX];
    memcpy(want_v, init, sizeof want_v);
    memset(tol_row, 0, sizeof tol_row);
    for (int i = 0; i < 2; i++) {
        const int bi = k == ONE_BUFFER ? 0 : i;
        const int32_t row = i ? row1 : row0;
        for (int h = 0; h < H; h++) {
            const float *sr = src[i] + (size_t)h * D;
            memcpy(want_v[bi] + ((size_t)h * NMAX + (size_t)row) * D, sr, D * sizeof(float));
            double amax = 0.0;
            for (int d = 0; d < D; d++) amax = fmax(amax, fabs((double)sr[d]));
            tol_row[bi][h * NMAX + row] = kv == QUANTA_Q8 ? 0.5 * amax / 127 * (1 + 1e-5) : 0.0;
        }
    }
    for (int i = 0; i < (k == ONE_BUFFER ? 1 : 2); i++) {
        memset(packed, 0xFF, bytes);
        ck_assert_int_eq(quanta_plan_get_output(plan, w[i], packed, bytes), QUANTA_OK);
        ck_assert_int_eq(quanta_dequantize(&bd, packed, bytes, got, nb), QUANTA_OK);
        for (size_t e = 0; e < nb; e++) {
            const double tol = tol_row[i][e / D];
            QT_CHECK(fabs((double)got[e] - (double)want_v[i][e]) <= tol, "%s case %d buffer %d element %zu: %g, want %g",
                     name, (int)k, i, e, (double)got[e], (double)want_v[i][e]);
        }
    }
    quanta_plan_destroy(plan);
    quanta_graph_destroy(g);
    quanta_buffer_destroy(buf[0]);
    quanta_buffer_destroy(buf[1]);
    free(packed);
}

START_TEST(test_write_rows_pair_fusion_matches) {
    qt_rng r = qt_rng_make(0);
    quanta_backend *be;
    const char *name;
    for (int bi = 0; qt_next_backend(&bi, &be, &name);) { /* each backend built and with a device */
        for (int k = PAIR; k <= LATE_SOURCE; k++) run_case(be, name, (enum shape_kind)k, &r);
        quanta_backend_close(be);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("write_rows_pair");
    TCase *tc = tcase_create("write_rows_pair");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_write_rows_pair_fusion_matches);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
