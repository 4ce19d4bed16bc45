/* test_paged_attention.c — attention through block tables into KV pools (quanta_paged_attention):
 * its argument checks, its run-time checks of the block table and lengths (a visible -1 or
 * out-of-pool block, a length beyond the table or below the queries), and its result on every
 * backend with a device against a float64 computation written here: each sequence's keys and
 * values gathered through its table into plain arrays, then ordinary softmax attention. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qt_check.h"
#include "qt_plan_guard.h"
#include "qt_tensor.h"
#include "quanta.h"
#include "test_util.h"

START_TEST(test_paged_attention_rejects_bad_arguments) {
    quanta_graph *g;
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    quanta_tensor_desc dq = qt_desc(QUANTA_F32, 4, 2, 4, 1, 8), dp = qt_desc(QUANTA_F32, 4, 1, 2, 32, 8);
    quanta_tensor_desc dph = qt_desc(QUANTA_F16, 4, 1, 2, 32, 8), dpb = qt_desc(QUANTA_F32, 4, 2, 2, 32, 8);
    quanta_tensor_desc dp3 = qt_desc(QUANTA_F32, 4, 1, 3, 32, 8), dpd = qt_desc(QUANTA_F32, 4, 1, 2, 32, 4);
    quanta_tensor_desc dt = qt_desc(QUANTA_I32, 2, 2, 4, 0, 0), dtf = qt_desc(QUANTA_F32, 2, 2, 4, 0, 0);
    quanta_tensor_desc dt1 = qt_desc(QUANTA_I32, 2, 3, 4, 0, 0), dl = qt_desc(QUANTA_I32, 1, 2, 0, 0, 0);
    quanta_tensor_desc dl3 = qt_desc(QUANTA_I32, 1, 3, 0, 0, 0);
    quanta_tensor *q, *k, *v, *kh, *kb, *k3, *kd, *t, *tf, *t1, *l, *l3, *y = (quanta_tensor *)1;
    ck_assert_int_eq(quanta_graph_input(g, "q", &dq, &q), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "k", &dp, &k), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "v", &dp, &v), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "kh", &dph, &kh), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "kb", &dpb, &kb), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "k3", &dp3, &k3), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "kd", &dpd, &kd), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "t", &dt, &t), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "tf", &dtf, &tf), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "t1", &dt1, &t1), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "l", &dl, &l), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "l3", &dl3, &l3), QUANTA_OK);
    quanta_attention_params p = {0, 1, 0}, bad_scale = {NAN, 1, 0}, bad_window = {0, 1, -2};
    QT_EXPECT_ERR(quanta_paged_attention(g, q, kh, v, t, l, 8, &p, &y), QUANTA_ERR_INVALID_ARGUMENT, "share a dtype");
    ck_assert_ptr_null(y);
    QT_EXPECT_ERR(quanta_paged_attention(g, q, kb, kb, t, l, 8, &p, &y), QUANTA_ERR_INVALID_ARGUMENT, "k_pool", "[1, Hkv");
    QT_EXPECT_ERR(quanta_paged_attention(g, q, kd, kd, t, l, 8, &p, &y), QUANTA_ERR_INVALID_ARGUMENT, "k_pool", "D = 8");
    QT_EXPECT_ERR(quanta_paged_attention(g, q, k, k3, t, l, 8, &p, &y), QUANTA_ERR_INVALID_ARGUMENT, "v_pool");
    QT_EXPECT_ERR(quanta_paged_attention(g, q, k3, k3, t, l, 8, &p, &y), QUANTA_ERR_INVALID_ARGUMENT, "multiple");
    QT_EXPECT_ERR(quanta_paged_attention(g, q, k, v, t, l, 0, &p, &y), QUANTA_ERR_INVALID_ARGUMENT, "block_size 0");
    QT_EXPECT_ERR(quanta_paged_attention(g, q, k, v, t, l, 5, &p, &y), QUANTA_ERR_INVALID_ARGUMENT, "block_size 5");
    QT_EXPECT_ERR(quanta_paged_attention(g, q, k, v, tf, l, 8, &p, &y), QUANTA_ERR_INVALID_ARGUMENT, "block_table");
    QT_EXPECT_ERR(quanta_paged_attention(g, q, k, v, t1, l, 8, &p, &y), QUANTA_ERR_INVALID_ARGUMENT, "block_table");
    QT_EXPECT_ERR(quanta_paged_attention(g, q, k, v, t, l3, 8, &p, &y), QUANTA_ERR_INVALID_ARGUMENT, "kv_lens");
    QT_EXPECT_ERR(quanta_paged_attention(g, q, k, v, t, l, 8, &bad_scale, &y), QUANTA_ERR_INVALID_ARGUMENT, "scale");
    QT_EXPECT_ERR(quanta_paged_attention(g, q, k, v, t, l, 8, &bad_window, &y), QUANTA_ERR_INVALID_ARGUMENT, "window");
    QT_EXPECT_ERR(quanta_paged_attention(g, t, k, v, t, l, 8, &p, &y), QUANTA_ERR_INVALID_ARGUMENT, "q must");
    QT_EXPECT_ERR(quanta_paged_attention(g, q, k, v, NULL, l, 8, &p, &y), QUANTA_ERR_INVALID_ARGUMENT, "block_table is NULL");
    QT_EXPECT_ERR(quanta_paged_attention(g, q, k, v, t, NULL, 8, &p, &y), QUANTA_ERR_INVALID_ARGUMENT, "kv_lens is NULL");
    QT_EXPECT_ERR(quanta_paged_attention(NULL, q, k, v, t, l, 8, &p, &y), QUANTA_ERR_INVALID_ARGUMENT, "graph is NULL");
    ck_assert_int_eq(quanta_paged_attention(g, q, k, v, t, l, 8, &p, &y), QUANTA_OK);
    ck_assert_int_eq(quanta_paged_attention(g, q, k, v, t, l, 8, NULL, &y), QUANTA_OK);
    quanta_graph_destroy(g);
}
END_TEST

typedef struct pcase {
    int64_t S, Hq, Hkv, T, D, bs, MB, NB;
    int causal, window;
} pcase;

/* Builds and runs one paged_attention graph on backend; returns the status of execute. */
static quanta_status run(const char *backend, const pcase *c, const float *q, const float *k, const float *v,
                         const int32_t *table, const int32_t *lens, float *out) {
    quanta_backend *be;
    quanta_graph *g;
    quanta_plan *plan;
    quanta_tensor *tq, *tk, *tv, *tt, *tl, *ty;
    const size_t nq = (size_t)(c->S * c->Hq * c->T * c->D), np = (size_t)(c->Hkv * c->NB * c->bs * c->D);
    quanta_tensor_desc dq = qt_desc(QUANTA_F32, 4, c->S, c->Hq, c->T, c->D);
    quanta_tensor_desc dp = qt_desc(QUANTA_F32, 4, 1, c->Hkv, c->NB * c->bs, c->D);
    quanta_tensor_desc dt = qt_desc(QUANTA_I32, 2, c->S, c->MB, 0, 0), dl = qt_desc(QUANTA_I32, 1, c->S, 0, 0, 0);
    ck_assert_int_eq(quanta_backend_open(backend, &be), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "q", &dq, &tq), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "k", &dp, &tk), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "v", &dp, &tv), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "table", &dt, &tt), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "lens", &dl, &tl), QUANTA_OK);
    quanta_attention_params p = {0, c->causal, c->window};
    ck_assert_int_eq(quanta_paged_attention(g, tq, tk, tv, tt, tl, (int32_t)c->bs, &p, &ty), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(g, ty), QUANTA_OK);
    plan = qt_plan_guarded(g, be);
    ck_assert_int_eq(quanta_plan_set_input(plan, tq, q, nq * 4), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_set_input(plan, tk, k, np * 4), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_set_input(plan, tv, v, np * 4), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_set_input(plan, tt, table, (size_t)(c->S * c->MB) * 4), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_set_input(plan, tl, lens, (size_t)c->S * 4), QUANTA_OK);
    quanta_status st = quanta_plan_execute(plan);
    if (st == QUANTA_OK) {
        qt_poison_f32(out, nq);
        ck_assert_int_eq(quanta_plan_get_output(plan, ty, out, nq * 4), QUANTA_OK);
    }
    quanta_plan_destroy(plan);
    quanta_graph_destroy(g);
    quanta_backend_close(be);
    return st;
}

/* The float64 oracle: gather the sequence's keys into a plain array, then softmax attention. */
static void oracle(const pcase *c, const float *q, const float *k, const float *v, const int32_t *table,
                   const int32_t *lens, double *out) {
    const int64_t R = c->NB * c->bs, G = c->Hq / c->Hkv;
    for (int64_t s = 0; s < c->S; s++) {
        const int64_t L = lens[s];
        double *K = calloc((size_t)(L * c->D) + 1, sizeof *K), *V = calloc((size_t)(L * c->D) + 1, sizeof *V);
        double *w = calloc((size_t)L + 1, sizeof *w);
        ck_assert(K && V && w);
        for (int64_t h = 0; h < c->Hq; h++) {
            const int64_t hk = h / G;
            for (int64_t j = 0; j < L; j++) {
                const int32_t b = table[s * c->MB + j / c->bs];
                for (int64_t d = 0; d < c->D; d++) { /* blocks outside every window may be -1: zeros */
                    const int64_t at = ((hk * R) + (int64_t)b * c->bs + j % c->bs) * c->D + d;
                    K[j * c->D + d] = b < 0 ? 0 : k[at];
                    V[j * c->D + d] = b < 0 ? 0 : v[at];
                }
            }
            for (int64_t t = 0; t < c->T; t++) {
                const int64_t pos = L - c->T + t;
                const float *qr = q + ((s * c->Hq + h) * c->T + t) * c->D;
                double mx = -INFINITY, sum = 0;
                for (int64_t j = 0; j < L; j++) {
                    int seen = (!c->causal || j <= pos) && (c->window == 0 || j > pos - c->window);
                    double dot = 0;
                    for (int64_t d = 0; d < c->D; d++) dot += (double)qr[d] * K[j * c->D + d];
                    w[j] = seen ? dot / sqrt((double)c->D) : -INFINITY;
                    if (w[j] > mx) mx = w[j];
                }
                for (int64_t j = 0; j < L; j++) sum += w[j] == -INFINITY ? 0 : exp(w[j] - mx);
                double *o = out + ((s * c->Hq + h) * c->T + t) * c->D;
                for (int64_t d = 0; d < c->D; d++) {
                    double a = 0;
                    for (int64_t j = 0; j < L; j++)
                        if (w[j] != -INFINITY) a += exp(w[j] - mx) * V[j * c->D + d];
                    o[d] = a / sum;
                }
            }
        }
        free(K), free(V), free(w);
    }
}

/* Random inputs for c: lengths in [T, MB * bs] (the first full), tables a shuffled pool with
 * the blocks before every query's window set to -1. */
static void make(const pcase *c, qt_rng *r, float **q, float **k, float **v, int32_t **table, int32_t **lens) {
    const size_t nq = (size_t)(c->S * c->Hq * c->T * c->D), np = (size_t)(c->Hkv * c->NB * c->bs * c->D);
    *q = malloc(nq * 4), *k = malloc(np * 4), *v = malloc(np * 4);
    *table = malloc((size_t)(c->S * c->MB) * 4), *lens = malloc((size_t)c->S * 4);
    int32_t *perm = malloc((size_t)c->NB * 4);
    ck_assert(*q && *k && *v && *table && *lens && perm);
    qt_fill_normal(r, *q, nq, 1.0f);
    qt_fill_normal(r, *k, np, 1.0f);
    qt_fill_normal(r, *v, np, 1.0f);
    for (int64_t i = 0; i < c->NB; i++) perm[i] = (int32_t)i;
    for (int64_t i = c->NB - 1; i > 0; i--) {
        int64_t j = (int64_t)(qt_next(r) % (uint64_t)(i + 1));
        int32_t x = perm[i];
        perm[i] = perm[j], perm[j] = x;
    }
    for (int64_t s = 0; s < c->S; s++) {
        const int64_t cap = c->MB * c->bs;
        (*lens)[s] = (int32_t)(s == 0 ? cap : c->T + (int64_t)(qt_next(r) % (uint64_t)(cap - c->T + 1)));
        const int64_t first = c->window > 0 ? (*lens)[s] - c->T - c->window + 1 : 0;
        for (int64_t j = 0; j < c->MB; j++)
            (*table)[s * c->MB + j] = first > 0 && (j + 1) * c->bs <= first ? -1 : perm[s * c->MB + j];
    }
    free(perm);
}

START_TEST(test_paged_attention_matches_float64) {
    qt_rng r = qt_rng_make(4242);
    static const pcase cases[] = {
        {3, 4, 2, 1, 32, 16, 3, 11, 1, 0},   /* decode, GQA 2, 3 blocks each of an 11-block pool */
        {2, 8, 2, 4, 16, 5, 7, 17, 1, 0},    /* 4 queries, block size 5, GQA 4 */
        {4, 2, 1, 1, 24, 8, 9, 40, 1, 20},   /* window 20: early blocks -1 */
        {1, 2, 2, 3, 8, 4, 2, 3, 0, 0},      /* not causal, one sequence */
    };
    static const char *const backends[] = {"ref", "opencl", "cuda"};
    for (int bi = 0; bi < 3; bi++) {
        quanta_backend *probe;
        if (quanta_backend_open(backends[bi], &probe) != QUANTA_OK) continue; /* not built or no device */
        quanta_backend_close(probe);
        for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
            const pcase *c = &cases[ci];
            float *q, *k, *v;
            int32_t *table, *lens;
            make(c, &r, &q, &k, &v, &table, &lens);
            const size_t n = (size_t)(c->S * c->Hq * c->T * c->D);
            float *out = malloc(n * 4);
            double *want = malloc(n * sizeof *want);
            ck_assert(out && want);
            ck_assert_msg(run(backends[bi], c, q, k, v, table, lens, out) == QUANTA_OK, "%s case %zu: %s", backends[bi],
                          ci, quanta_last_error());
            oracle(c, q, k, v, table, lens, want);
            double maxerr = 0;
            for (size_t i = 0; i < n; i++) {
                QT_CHECK(isfinite(out[i]), "%s case %zu: out[%zu] is not finite", backends[bi], ci, i);
                double e = fabs((double)out[i] - want[i]);
                if (e > maxerr) maxerr = e;
            }
            ck_assert_msg(maxerr < 1e-4, "%s case %zu: max error %g", backends[bi], ci, maxerr);
            free(q), free(k), free(v), free(table), free(lens), free(out), free(want);
        }
    }
}
END_TEST

START_TEST(test_paged_attention_checks_tables_at_run_time) {
    static const char *const backends[] = {"ref", "opencl", "cuda"};
    qt_rng r = qt_rng_make(77);
    const pcase c = {2, 2, 1, 1, 8, 4, 3, 8, 1, 0};
    for (int bi = 0; bi < 3; bi++) {
        quanta_backend *probe;
        if (quanta_backend_open(backends[bi], &probe) != QUANTA_OK) continue;
        quanta_backend_close(probe);
        float *q, *k, *v, out[2 * 2 * 1 * 8];
        int32_t *table, *lens;
        make(&c, &r, &q, &k, &v, &table, &lens);
        int32_t keep = table[1];
        table[1] = -1; /* a visible block freed */
        QT_EXPECT_ERR(run(backends[bi], &c, q, k, v, table, lens, out), QUANTA_ERR_INVALID_ARGUMENT, "block_table[0][1]");
        table[1] = 8; /* past the pool's 8 blocks */
        QT_EXPECT_ERR(run(backends[bi], &c, q, k, v, table, lens, out), QUANTA_ERR_INVALID_ARGUMENT, "block_table[0][1]");
        table[1] = keep;
        lens[1] = 13; /* beyond 3 blocks of 4 */
        QT_EXPECT_ERR(run(backends[bi], &c, q, k, v, table, lens, out), QUANTA_ERR_INVALID_ARGUMENT, "kv_lens[1]");
        lens[1] = 0; /* below the one query */
        QT_EXPECT_ERR(run(backends[bi], &c, q, k, v, table, lens, out), QUANTA_ERR_INVALID_ARGUMENT, "kv_lens[1]");
        free(q), free(k), free(v), free(table), free(lens);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("paged_attention");
    TCase *tc = tcase_create("paged_attention");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_paged_attention_rejects_bad_arguments);
    tcase_add_test(tc, test_paged_attention_matches_float64);
    tcase_add_test(tc, test_paged_attention_checks_tables_at_run_time);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
