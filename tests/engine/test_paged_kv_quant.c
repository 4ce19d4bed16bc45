/* test_paged_kv_quant.c — quantized KV pools (q8 = int8, fp8_e4m3) for paged attention, on every
 * backend with a device: rows written into a pool by write_rows are read back and decoded here
 * (an int8 code times its row's f32 scale; e4m3 from its bit fields), each row's scale must be
 * max|x| / 127 or / 448 and each element within half a quantization step of its source; rows
 * outside the write keep their bytes; paged_attention over the pools must match a float64
 * computation on the decoded values (what the kernel was given) within 1e-4, and the
 * unquantized f32 attention within the stated drift of the format. Also every rejected
 * combination of dtypes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qt_check.h"
#include "qt_plan_guard.h"
#include "qt_tensor.h"
#include "quanta.h"
#include "test_util.h"

/* OCP E4M3 "fn" decoded from its fields, written here independently of formats/fp8.c. */
static double e4m3_value(uint8_t c) {
    const int e = (c >> 3) & 15, m = c & 7;
    double v = e == 0 ? ldexp(m / 8.0, -6) : ldexp(1.0 + m / 8.0, e - 7);
    if ((c & 0x7f) == 0x7f) v = NAN;
    return (c & 0x80) ? -v : v;
}

/* Half a quantization step at code magnitude |y| (in units of the scale). */
static double half_step(quanta_dtype dt, double y) {
    if (dt == QUANTA_Q8) return 0.5;
    y = fabs(y);
    if (y < ldexp(1.0, -6)) return ldexp(1.0, -10); /* subnormal step 2^-9 */
    return ldexp(1.0, (int)floor(log2(y)) - 4);       /* 3 mantissa bits */
}

START_TEST(test_kv_quant_rejects_bad_combinations) {
    quanta_graph *g;
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    quanta_tensor_desc dq = qt_desc(QUANTA_F32, 4, 2, 4, 1, 8), dqh = qt_desc(QUANTA_F16, 4, 2, 4, 1, 8);
    quanta_tensor_desc d8 = qt_desc(QUANTA_Q8, 4, 1, 2, 32, 8), dfp = qt_desc(QUANTA_FP8_E4M3, 4, 1, 2, 32, 8);
    quanta_tensor_desc de5 = qt_desc(QUANTA_FP8_E5M2, 4, 1, 2, 32, 8), df = qt_desc(QUANTA_F32, 4, 1, 2, 32, 8);
    quanta_tensor_desc dt = qt_desc(QUANTA_I32, 2, 2, 4, 0, 0), dl = qt_desc(QUANTA_I32, 1, 2, 0, 0, 0);
    quanta_tensor_desc dsrc = qt_desc(QUANTA_F32, 4, 1, 2, 3, 8), dsi = qt_desc(QUANTA_I32, 4, 1, 2, 3, 8);
    quanta_tensor_desc ds1 = qt_desc(QUANTA_I32, 1, 1, 0, 0, 0), dq4 = qt_desc(QUANTA_Q4, 4, 1, 2, 32, 64);
    quanta_tensor *q, *qh, *k8, *v8, *kf, *k5, *kff, *t, *l, *src, *srci, *start, *y = NULL, *bad = (quanta_tensor *)1;
    ck_assert_int_eq(quanta_graph_input(g, "q", &dq, &q), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "qh", &dqh, &qh), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "k8", &d8, &k8), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "v8", &d8, &v8), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "kf", &dfp, &kf), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "k5", &de5, &k5), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "kff", &df, &kff), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "t", &dt, &t), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "l", &dl, &l), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "src", &dsrc, &src), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "srci", &dsi, &srci), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "start", &ds1, &start), QUANTA_OK);
    /* a group format is no pool: 4-D q4 is refused when the tensor is made */
    QT_EXPECT_ERR(quanta_graph_input(g, "k4", &dq4, &bad), QUANTA_ERR_INVALID_ARGUMENT, "2-D");
    quanta_attention_params p = {0, 1, 0};
    /* k and v in different quantized dtypes; a quantized k with a float v; fp8 e5m2; a float pool
     * of another dtype than q */
    QT_EXPECT_ERR(quanta_paged_attention(g, q, k8, kf, t, l, 8, &p, &y), QUANTA_ERR_INVALID_ARGUMENT, "share a dtype",
                  "v_pool fp8_e4m3");
    QT_EXPECT_ERR(quanta_paged_attention(g, q, k8, kff, t, l, 8, &p, &y), QUANTA_ERR_INVALID_ARGUMENT, "share a dtype");
    QT_EXPECT_ERR(quanta_paged_attention(g, q, k5, k5, t, l, 8, &p, &y), QUANTA_ERR_INVALID_ARGUMENT,
                  "quantized KV dtype (q8, fp8_e4m3)", "fp8_e5m2");
    QT_EXPECT_ERR(quanta_paged_attention(g, qh, kff, kff, t, l, 8, &p, &y), QUANTA_ERR_INVALID_ARGUMENT, "q f16");
    ck_assert_ptr_null(y);
    /* any float q reads a quantized pool */
    ck_assert_int_eq(quanta_paged_attention(g, q, k8, v8, t, l, 8, &p, &y), QUANTA_OK);
    ck_assert_int_eq(quanta_paged_attention(g, qh, kf, kf, t, l, 8, &p, &y), QUANTA_OK);
    /* write_rows: only into buffers (the pool of a graph input is not one), a float source into a
     * quantized pool, and no quantized source into a float one */
    QT_EXPECT_ERR(quanta_write_rows(g, k8, src, start, &y), QUANTA_ERR_INVALID_ARGUMENT, "buffer tensor");
    quanta_backend *be;
    ck_assert_int_eq(quanta_backend_open("ref", &be), QUANTA_OK);
    quanta_buffer *b8, *bf;
    ck_assert_int_eq(quanta_buffer_create(be, &d8, &b8), QUANTA_OK);
    ck_assert_int_eq(quanta_buffer_create(be, &df, &bf), QUANTA_OK);
    quanta_tensor *pool8, *poolf;
    ck_assert_int_eq(quanta_graph_buffer(g, b8, &pool8), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_buffer(g, bf, &poolf), QUANTA_OK);
    QT_EXPECT_ERR(quanta_write_rows(g, pool8, srci, start, &y), QUANTA_ERR_INVALID_ARGUMENT, "src",
                  "quantized dst", "i32");
    QT_EXPECT_ERR(quanta_write_rows(g, poolf, k8, start, &y), QUANTA_ERR_INVALID_ARGUMENT, "src is q8 but dst is f32");
    ck_assert_int_eq(quanta_write_rows(g, pool8, src, start, &y), QUANTA_OK);
    quanta_graph_destroy(g);
    quanta_buffer_destroy(b8);
    quanta_buffer_destroy(bf);
    quanta_backend_close(be);
}
END_TEST

typedef struct qcase {
    quanta_dtype dt;
    int64_t S, Hq, Hkv, T, D, bs, MB, NB;
    double drift; /* bound on |out - f32 attention| for unit-normal q, k, v */
} qcase;

/* Decoded pool [Hkv * R][D] from its bytes (codes, then an f32 scale per row). */
static void decode_pool(quanta_dtype dt, const uint8_t *b, int64_t rows, int64_t D, double *out) {
    for (int64_t r = 0; r < rows; r++) {
        float s;
        memcpy(&s, b + rows * D + r * 4, 4);
        for (int64_t d = 0; d < D; d++) {
            const uint8_t c = b[r * D + d];
            out[r * D + d] = (dt == QUANTA_Q8 ? (double)(int8_t)c : e4m3_value(c)) * s;
        }
    }
}

/* Checks rows [0, rows) of a decoded pool against their f32 source: scale and half a step. */
static void check_rows(const qcase *c, const char *be, const uint8_t *b, int64_t rows, const float *x,
                       const int64_t *src_row, int64_t n) {
    const double maxq = c->dt == QUANTA_Q8 ? 127.0 : 448.0;
    for (int64_t i = 0; i < n; i++) {
        const int64_t r = src_row[i];
        float s;
        memcpy(&s, b + rows * c->D + r * 4, 4);
        double amax = 0;
        for (int64_t d = 0; d < c->D; d++) amax = fmax(amax, fabs(x[i * c->D + d]));
        QT_CHECK(fabs(s - amax / maxq) <= 1e-6 * amax / maxq, "%s %s row %lld: scale %g, max|x|/%g = %g", be,
                 quanta_dtype_name(c->dt), (long long)r, s, maxq, amax / maxq);
        for (int64_t d = 0; s == 0 && d < c->D; d++) /* an all-zero row: zero codes */
            QT_CHECK(b[r * c->D + d] == 0, "%s: zero row %lld has code %d", be, (long long)r, b[r * c->D + d]);
        for (int64_t d = 0; s > 0 && d < c->D; d++) {
            const uint8_t code = b[r * c->D + d];
            const double y = c->dt == QUANTA_Q8 ? (double)(int8_t)code : e4m3_value(code), want = x[i * c->D + d] / s;
            QT_CHECK(fabs(y - want) <= half_step(c->dt, want) * (1 + 1e-6) + 1e-9, "%s %s row %lld col %lld: code %g for %g",
                     be, quanta_dtype_name(c->dt), (long long)r, (long long)d, y, want);
        }
    }
}

/* softmax attention in float64 over pools given as doubles, rows through the tables */
static void oracle(const qcase *c, const float *q, const double *k, const double *v, const int32_t *table,
                   const int32_t *lens, double *out) {
    const int64_t R = c->NB * c->bs, G = c->Hq / c->Hkv;
    double *w = malloc((size_t)(c->MB * c->bs) * sizeof *w);
    ck_assert(w);
    for (int64_t s = 0; s < c->S; s++)
        for (int64_t h = 0; h < c->Hq; h++)
            for (int64_t t = 0; t < c->T; t++) {
                const int64_t L = lens[s], pos = L - c->T + t;
                const float *qr = q + ((s * c->Hq + h) * c->T + t) * c->D;
                double mx = -INFINITY, sum = 0;
                for (int64_t j = 0; j <= pos; j++) {
                    const int64_t row = (h / G) * R + (int64_t)table[s * c->MB + j / c->bs] * c->bs + j % c->bs;
                    double dot = 0;
                    for (int64_t d = 0; d < c->D; d++) dot += qr[d] * k[row * c->D + d];
                    w[j] = dot / sqrt((double)c->D);
                    mx = fmax(mx, w[j]);
                }
                double *o = out + ((s * c->Hq + h) * c->T + t) * c->D;
                for (int64_t d = 0; d < c->D; d++) o[d] = 0;
                for (int64_t j = 0; j <= pos; j++) {
                    const int64_t row = (h / G) * R + (int64_t)table[s * c->MB + j / c->bs] * c->bs + j % c->bs;
                    const double e = exp(w[j] - mx);
                    sum += e;
                    for (int64_t d = 0; d < c->D; d++) o[d] += e * v[row * c->D + d];
                }
                for (int64_t d = 0; d < c->D; d++) o[d] /= sum;
            }
    free(w);
}

/* One backend, one case: fill both pools by write_rows (all rows from position 0), overwrite T2
 * rows at a random start in a second run, attend, check. */
static void run_case(const char *backend, const qcase *c, qt_rng *r) {
    quanta_backend *be;
    if (quanta_backend_open(backend, &be) != QUANTA_OK) return; /* not built or no device */
    const int64_t R = c->NB * c->bs, rows = c->Hkv * R, np = rows * c->D, nq = c->S * c->Hq * c->T * c->D;
    quanta_tensor_desc dp = qt_desc(c->dt, 4, 1, c->Hkv, R, c->D), dsrc = qt_desc(QUANTA_F32, 4, 1, c->Hkv, R, c->D);
    quanta_tensor_desc dq = qt_desc(QUANTA_F32, 4, c->S, c->Hq, c->T, c->D), d1 = qt_desc(QUANTA_I32, 1, 1, 0, 0, 0);
    quanta_tensor_desc dt = qt_desc(QUANTA_I32, 2, c->S, c->MB, 0, 0), dl = qt_desc(QUANTA_I32, 1, c->S, 0, 0, 0);
    size_t pbytes;
    ck_assert_int_eq(quanta_tensor_bytes(&dp, &pbytes), QUANTA_OK);
    ck_assert_uint_eq(pbytes, (size_t)(np + rows * 4));
    float *k = malloc((size_t)np * 4), *v = malloc((size_t)np * 4), *q = malloc((size_t)nq * 4);
    float *out = malloc((size_t)nq * 4);
    uint8_t *kb = malloc(pbytes), *vb = malloc(pbytes), *kb0 = malloc(pbytes);
    double *kd = malloc((size_t)np * sizeof *kd), *vd = malloc((size_t)np * sizeof *vd);
    double *want = malloc((size_t)nq * sizeof *want), *wantf = malloc((size_t)nq * sizeof *wantf);
    double *kf = malloc((size_t)np * sizeof *kf), *vf = malloc((size_t)np * sizeof *vf);
    int32_t *table = malloc((size_t)(c->S * c->MB) * 4), *lens = malloc((size_t)c->S * 4), *perm = malloc((size_t)c->NB * 4);
    int64_t *rid = malloc((size_t)rows * sizeof *rid);
    ck_assert(k && v && q && out && kb && vb && kb0 && kd && vd && want && wantf && kf && vf && table && lens && perm && rid);
    qt_fill_normal(r, k, (size_t)np, 1.0f);
    qt_fill_normal(r, v, (size_t)np, 1.0f);
    qt_fill_normal(r, q, (size_t)nq, 1.0f);
    for (int64_t i = 0; i < 8 && i < rows; i++) k[i * c->D + i % c->D] *= 8.0f; /* outliers: rows of their own scale */
    for (int64_t i = 0; i < c->D; i++) v[(rows - 1) * c->D + i] = 0.0f;         /* an all-zero row: scale 0 */
    for (int64_t i = 0; i < c->NB; i++) perm[i] = (int32_t)i;
    for (int64_t i = c->NB - 1; i > 0; i--) {
        int64_t j = (int64_t)(qt_next(r) % (uint64_t)(i + 1));
        int32_t x = perm[i];
        perm[i] = perm[j], perm[j] = x;
    }
    for (int64_t s = 0; s < c->S; s++) {
        lens[s] = (int32_t)(s == 0 ? c->MB * c->bs : c->T + (int64_t)(qt_next(r) % (uint64_t)(c->MB * c->bs - c->T + 1)));
        for (int64_t j = 0; j < c->MB; j++) table[s * c->MB + j] = perm[(s * c->MB + j) % c->NB];
    }
    quanta_buffer *bk, *bv;
    ck_assert_int_eq(quanta_buffer_create(be, &dp, &bk), QUANTA_OK);
    ck_assert_int_eq(quanta_buffer_create(be, &dp, &bv), QUANTA_OK);
    /* graph 1: write every row of both pools, then attend */
    quanta_graph *g;
    quanta_plan *plan;
    quanta_tensor *tk, *tv, *tks, *tvs, *tq, *tt, *tl, *ts, *ty;
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_buffer(g, bk, &tk), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_buffer(g, bv, &tv), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "ks", &dsrc, &tks), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "vs", &dsrc, &tvs), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "q", &dq, &tq), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "t", &dt, &tt), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "l", &dl, &tl), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "start", &d1, &ts), QUANTA_OK);
    ck_assert_int_eq(quanta_write_rows(g, tk, tks, ts, &tk), QUANTA_OK);
    ck_assert_int_eq(quanta_write_rows(g, tv, tvs, ts, &tv), QUANTA_OK);
    quanta_attention_params p = {0, 1, 0};
    ck_assert_int_eq(quanta_paged_attention(g, tq, tk, tv, tt, tl, (int32_t)c->bs, &p, &ty), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(g, ty), QUANTA_OK);
    plan = qt_plan_guarded(g, be);
    const int32_t zero = 0;
    ck_assert_int_eq(quanta_plan_set_input(plan, tks, k, (size_t)np * 4), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_set_input(plan, tvs, v, (size_t)np * 4), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_set_input(plan, tq, q, (size_t)nq * 4), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_set_input(plan, tt, table, (size_t)(c->S * c->MB) * 4), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_set_input(plan, tl, lens, (size_t)c->S * 4), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_set_input(plan, ts, &zero, 4), QUANTA_OK);
    qt_poison_f32(out, (size_t)nq);
    ck_assert_msg(quanta_plan_execute(plan) == QUANTA_OK, "%s: %s", backend, quanta_last_error());
    ck_assert_int_eq(quanta_plan_get_output(plan, ty, out, (size_t)nq * 4), QUANTA_OK);
    ck_assert_int_eq(quanta_buffer_read(bk, kb, pbytes), QUANTA_OK);
    ck_assert_int_eq(quanta_buffer_read(bv, vb, pbytes), QUANTA_OK);
    for (int64_t i = 0; i < rows; i++) rid[i] = i;
    check_rows(c, backend, kb, rows, k, rid, rows);
    check_rows(c, backend, vb, rows, v, rid, rows);
    decode_pool(c->dt, kb, rows, c->D, kd);
    decode_pool(c->dt, vb, rows, c->D, vd);
    for (int64_t i = 0; i < np; i++) kf[i] = k[i], vf[i] = v[i];
    oracle(c, q, kd, vd, table, lens, want);
    oracle(c, q, kf, vf, table, lens, wantf);
    double e = 0, ef = 0;
    for (int64_t i = 0; i < nq; i++) {
        QT_CHECK(isfinite(out[i]), "%s %s: out[%lld] not finite", backend, quanta_dtype_name(c->dt), (long long)i);
        e = fmax(e, fabs(out[i] - want[i]));
        ef = fmax(ef, fabs(out[i] - wantf[i]));
    }
    printf("%s %s S=%lld Hq=%lld Hkv=%lld T=%lld D=%lld bs=%lld: vs decoded pool %.2g, vs f32 attention %.3g (bound %g)\n",
           backend, quanta_dtype_name(c->dt), (long long)c->S, (long long)c->Hq, (long long)c->Hkv, (long long)c->T,
           (long long)c->D, (long long)c->bs, e, ef, c->drift);
    ck_assert_msg(e <= 1e-4, "%s %s: %g against the decoded pool", backend, quanta_dtype_name(c->dt), e);
    ck_assert_msg(ef <= c->drift, "%s %s: %g against f32 attention", backend, quanta_dtype_name(c->dt), ef);
    quanta_plan_destroy(plan);
    quanta_graph_destroy(g);
    /* graph 2: overwrite T2 rows of K at a random start; every other byte stays */
    const int64_t T2 = 3, at = (int64_t)(qt_next(r) % (uint64_t)(R - T2 + 1));
    quanta_tensor_desc d2 = qt_desc(QUANTA_F16, 4, 1, c->Hkv, T2, c->D);
    float *x2 = malloc((size_t)(c->Hkv * T2 * c->D) * 4);
    uint16_t *h2 = malloc((size_t)(c->Hkv * T2 * c->D) * 2);
    ck_assert(x2 && h2);
    qt_fill_normal(r, x2, (size_t)(c->Hkv * T2 * c->D), 3.0f);
    for (int64_t i = 0; i < c->Hkv * T2 * c->D; i++) { /* an f16 source: the values it holds exactly */
        h2[i] = quanta_f32_to_f16(x2[i]);
        x2[i] = quanta_f16_to_f32(h2[i]);
    }
    memcpy(kb0, kb, pbytes);
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_buffer(g, bk, &tk), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "x", &d2, &tks), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "start", &d1, &ts), QUANTA_OK);
    ck_assert_int_eq(quanta_write_rows(g, tk, tks, ts, &tk), QUANTA_OK);
    plan = qt_plan_guarded(g, be);
    const int32_t at32 = (int32_t)at;
    ck_assert_int_eq(quanta_plan_set_input(plan, tks, h2, (size_t)(c->Hkv * T2 * c->D) * 2), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_set_input(plan, ts, &at32, 4), QUANTA_OK);
    ck_assert_msg(quanta_plan_execute(plan) == QUANTA_OK, "%s: %s", backend, quanta_last_error());
    ck_assert_int_eq(quanta_buffer_read(bk, kb, pbytes), QUANTA_OK);
    int64_t nw = 0;
    for (int64_t h = 0; h < c->Hkv; h++)
        for (int64_t t = 0; t < T2; t++) rid[nw++] = h * R + at + t;
    check_rows(c, backend, kb, rows, x2, rid, nw);
    for (int64_t row = 0; row < rows; row++) {
        const int64_t h = row / R, j = row % R;
        if (j >= at && j < at + T2) continue;
        (void)h;
        QT_CHECK(!memcmp(kb + row * c->D, kb0 + row * c->D, (size_t)c->D) && !memcmp(kb + rows * c->D + row * 4,
                                                                                    kb0 + rows * c->D + row * 4, 4),
                 "%s %s: row %lld outside the write changed", backend, quanta_dtype_name(c->dt), (long long)row);
    }
    /* a start past the pool fails the run (checked where the kernel runs) */
    const int32_t past = (int32_t)(R - T2 + 1);
    ck_assert_int_eq(quanta_plan_set_input(plan, ts, &past, 4), QUANTA_OK);
    QT_EXPECT_ERR(quanta_plan_execute(plan), QUANTA_ERR_INVALID_ARGUMENT, "start");
    quanta_plan_destroy(plan);
    quanta_graph_destroy(g);
    quanta_buffer_destroy(bk);
    quanta_buffer_destroy(bv);
    quanta_backend_close(be);
    free(k), free(v), free(q), free(out), free(kb), free(vb), free(kb0), free(kd), free(vd), free(want), free(wantf);
    free(kf), free(vf), free(table), free(lens), free(perm), free(rid), free(x2), free(h2);
}

START_TEST(test_kv_quant_write_and_attend) {
    qt_rng r = qt_rng_make(0x6b76);
    /* drift bounds: unit-normal q, k, v (8 k entries x8), D <= 64: worst over 10 seeds on ref and
     * PoCL q8 0.041, fp8 0.108 (|out| up to ~2); bounds about 2.5x that */
    static const qcase cases[] = {
        {QUANTA_Q8, 3, 4, 2, 1, 32, 16, 3, 11, 0.1},       /* decode, GQA 2, 11 blocks (odd) */
        {QUANTA_FP8_E4M3, 3, 4, 2, 1, 32, 16, 3, 11, 0.25},
        {QUANTA_Q8, 2, 8, 2, 4, 16, 5, 7, 13, 0.1},        /* 4 queries, block size 5, GQA 4, 13 blocks */
        {QUANTA_FP8_E4M3, 2, 8, 2, 4, 16, 5, 7, 13, 0.25},
        {QUANTA_Q8, 1, 2, 1, 3, 64, 4, 5, 7, 0.1},         /* one sequence, GQA 2, D 64 */
        {QUANTA_FP8_E4M3, 1, 2, 1, 3, 64, 4, 5, 7, 0.25},
    };
    static const char *const backends[] = {"ref", "opencl", "cuda"};
    for (int bi = 0; bi < 3; bi++)
        for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) run_case(backends[bi], &cases[ci], &r);
}
END_TEST

int main(void) {
    Suite *s = suite_create("paged_kv_quant");
    TCase *tc = tcase_create("paged_kv_quant");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_kv_quant_rejects_bad_combinations);
    tcase_add_test(tc, test_kv_quant_write_and_attend);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
