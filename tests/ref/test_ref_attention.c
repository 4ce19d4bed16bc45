/*
 * test_ref_attention.c — the reference attention against an explicit float64 computation:
 * for each (b, h) the full Nq×Nk score matrix is materialised with -INF where a key is hidden,
 * softmaxed row by row (a row of all -INF gives zeros), and multiplied by V as a matrix.
 */
#include "ref_test_util.h"

typedef struct att_case {
    int64_t B, Hq, Hkv, Nq, Nk, D;
    int causal, window;
    int mask_nd;        /* 0: none, 2: [Nq,Nk], 3: [B,Nq,Nk] */
    int use_lens;       /* random kv_lens in [0, Nk], the first forced to Nk; 2: the second forced to 0 */
    float scale;        /* 0: 1/sqrt(D) */
    quanta_dtype dt;    /* q, k, v and out */
    int mask_dead_row;  /* force query row 0 of the mask to hide every key */
} att_case;

/* Which keys query i may see, written as the inequality "distance from the query's position
 * (counted from the end of the sequence) in [0, window)". */
static int allowed(const att_case *c, int64_t L, int64_t i, int64_t j, const double *maskv, int64_t b) {
    if (j >= L) return 0;
    const int64_t behind = (L - c->Nq + i) - j; /* how far key j lies before query i */
    if (c->causal && behind < 0) return 0;
    if (c->window > 0 && behind >= c->window) return 0;
    if (maskv) {
        size_t mi = (size_t)((c->mask_nd == 3 ? b * c->Nq * c->Nk : 0) + i * c->Nk + j);
        if (maskv[mi] == 0.0) return 0;
    }
    return 1;
}

static void run_case(uint64_t salt, const att_case *c) {
    qt_rng rng = qt_rng_make(salt);
    rt_tensor *q = rt_make(c->dt, 4, c->B, c->Hq, c->Nq, c->D);
    rt_tensor *k = rt_make(c->dt, 4, c->B, c->Hkv, c->Nk, c->D);
    rt_tensor *v = rt_make(c->dt, 4, c->B, c->Hkv, c->Nk, c->D);
    rt_tensor *o = rt_make(c->dt, 4, c->B, c->Hq, c->Nq, c->D);
    double *qd = rt_fill(q, &rng, 1.0), *kd = rt_fill(k, &rng, 1.0), *vd = rt_fill(v, &rng, 1.0);
    rt_poison(o);
    rt_tensor *mask = NULL, *lens = NULL;
    double *maskv = NULL;
    if (c->mask_nd) {
        mask = c->mask_nd == 2 ? rt_make(QUANTA_U8, 2, c->Nq, c->Nk, 0, 0)
                               : rt_make(QUANTA_U8, 3, c->B, c->Nq, c->Nk, 0);
        size_t n = rt_count(mask);
        maskv = malloc(n * sizeof(double));
        for (size_t i = 0; i < n; i++) {
            /* about 70% visible; visible entries use varied nonzero bytes */
            double m = qt_uniform(&rng, 0, 1) < 0.7f ? (double)(1 + (qt_next(&rng) % 255)) : 0.0;
            if (c->mask_dead_row && (i % (size_t)(c->Nq * c->Nk)) < (size_t)c->Nk) m = 0.0;
            maskv[i] = rt_set(mask, i, m);
        }
    }
    int64_t L[16];
    for (int64_t b = 0; b < c->B; b++) L[b] = c->Nk;
    if (c->use_lens) {
        lens = rt_make(QUANTA_I32, 1, c->B, 0, 0, 0);
        for (int64_t b = 0; b < c->B; b++) {
            L[b] = b == 0 ? c->Nk
                   : (c->use_lens == 2 && b == 1) ? 0
                                                  : (int64_t)(qt_next(&rng) % (uint64_t)(c->Nk + 1));
            rt_set(lens, (size_t)b, (double)L[b]);
        }
    }

    const double scale = c->scale != 0.0f ? (double)c->scale : 1.0 / sqrt((double)c->D);
    const int64_t Nq = c->Nq, Nk = c->Nk, D = c->D, grp = c->Hq / c->Hkv;
    double *S = malloc((size_t)(Nq * Nk) * sizeof(double));
    double *ref = calloc((size_t)(c->B * c->Hq * Nq * D), sizeof(double));
    ck_assert(S && ref);
    for (int64_t b = 0; b < c->B; b++)
        for (int64_t h = 0; h < c->Hq; h++) {
            const double *Q = qd + ((b * c->Hq + h) * Nq) * D;
            const double *Kh = kd + ((b * c->Hkv + h / grp) * Nk) * D;
            const double *Vh = vd + ((b * c->Hkv + h / grp) * Nk) * D;
            double *O = ref + ((b * c->Hq + h) * Nq) * D;
            /* S = scale * Q Kᵀ, hidden entries -INF */
            for (int64_t i = 0; i < Nq; i++)
                for (int64_t j = 0; j < Nk; j++) {
                    double dot = 0;
                    for (int64_t d = 0; d < D; d++) dot += Q[i * D + d] * Kh[j * D + d];
                    S[i * Nk + j] = allowed(c, L[b], i, j, maskv, b) ? scale * dot : -INFINITY;
                }
            /* P = softmax rows of S, in place */
            for (int64_t i = 0; i < Nq; i++) {
                double *row = S + i * Nk, mx = -INFINITY, sum = 0;
                for (int64_t j = 0; j < Nk; j++) mx = fmax(mx, row[j]);
                if (mx == -INFINITY) {
                    for (int64_t j = 0; j < Nk; j++) row[j] = 0;
                    continue;
                }
                for (int64_t j = 0; j < Nk; j++) sum += row[j] = exp(row[j] - mx);
                for (int64_t j = 0; j < Nk; j++) row[j] /= sum;
            }
            /* O = P V */
            for (int64_t i = 0; i < Nq; i++)
                for (int64_t j = 0; j < Nk; j++)
                    for (int64_t d = 0; d < D; d++) O[i * D + d] += S[i * Nk + j] * Vh[j * D + d];
        }

    qn_node node = rt_node(QN_OP_ATTENTION, o, q, k, v, mask, lens);
    node.params.attention.scale = c->scale;
    node.params.attention.causal = c->causal;
    node.params.attention.window = c->window;
    RT_EXPECT_OK(qn_ref_run_node(&node));
    char what[160];
    snprintf(what, sizeof what, "attention B%lld Hq%lld Hkv%lld Nq%lld Nk%lld D%lld causal%d win%d mask%d lens%d %s",
             (long long)c->B, (long long)c->Hq, (long long)c->Hkv, (long long)Nq, (long long)Nk, (long long)D,
             c->causal, c->window, c->mask_nd, c->use_lens, quanta_dtype_name(c->dt));
    ck_assert_msg(rt_compare(o, ref, c->dt == QUANTA_F32 ? 1e-12 : 1e-4, what) == 0, "%s", what);
    if (c->mask_dead_row) /* query row 0 sees nothing: exact zeros */
        for (int64_t d = 0; d < D; d++) ck_assert(rt_get(o, (size_t)d) == 0.0);
    free(S), free(ref), free(qd), free(kd), free(vd), free(maskv);
    rt_free(q), rt_free(k), rt_free(v), rt_free(o), rt_free(mask), rt_free(lens);
}

START_TEST(test_plain_and_gqa) {
    for (int g = 0; g < 3; g++) {
        const int64_t grp = g == 0 ? 1 : g == 1 ? 4 : 8;
        att_case c = { .B = 2, .Hq = 2 * grp, .Hkv = 2, .Nq = 5, .Nk = 7, .D = 16, .dt = QUANTA_F32 };
        run_case(200 + (uint64_t)g, &c);
    }
}
END_TEST

START_TEST(test_causal) {
    att_case c = { .B = 2, .Hq = 4, .Hkv = 1, .Nq = 3, .Nk = 11, .D = 13, .causal = 1, .dt = QUANTA_F32 };
    run_case(210, &c); /* Nq < Nk: bottom-right aligned */
    att_case sq = { .B = 1, .Hq = 3, .Hkv = 3, .Nq = 9, .Nk = 9, .D = 8, .causal = 1, .dt = QUANTA_F32 };
    run_case(211, &sq);
    /* Nq > L: the first queries see no key at all and give zeros. */
    att_case over = { .B = 1, .Hq = 2, .Hkv = 1, .Nq = 6, .Nk = 4, .D = 5, .causal = 1, .dt = QUANTA_F32 };
    run_case(212, &over);
}
END_TEST

START_TEST(test_decode_nq1) {
    att_case c = { .B = 3, .Hq = 8, .Hkv = 1, .Nq = 1, .Nk = 33, .D = 32, .causal = 1, .use_lens = 1,
                   .dt = QUANTA_F32 };
    run_case(220, &c);
    att_case nc = { .B = 1, .Hq = 4, .Hkv = 4, .Nq = 1, .Nk = 1, .D = 3, .dt = QUANTA_F32 };
    run_case(221, &nc);
}
END_TEST

START_TEST(test_window) {
    att_case c = { .B = 1, .Hq = 4, .Hkv = 2, .Nq = 6, .Nk = 15, .D = 8, .causal = 1, .window = 4,
                   .dt = QUANTA_F32 };
    run_case(230, &c);
    att_case nc = { .B = 2, .Hq = 2, .Hkv = 1, .Nq = 4, .Nk = 9, .D = 8, .window = 3, .use_lens = 1,
                    .dt = QUANTA_F32 }; /* window without causal */
    run_case(231, &nc);
}
END_TEST

START_TEST(test_masks) {
    att_case c2 = { .B = 2, .Hq = 4, .Hkv = 2, .Nq = 5, .Nk = 10, .D = 12, .mask_nd = 2, .dt = QUANTA_F32 };
    run_case(240, &c2);
    att_case c3 = { .B = 3, .Hq = 2, .Hkv = 1, .Nq = 4, .Nk = 6, .D = 7, .mask_nd = 3, .causal = 1,
                    .dt = QUANTA_F32 };
    run_case(241, &c3);
    att_case dead = { .B = 2, .Hq = 2, .Hkv = 2, .Nq = 3, .Nk = 5, .D = 4, .mask_nd = 3, .mask_dead_row = 1,
                      .dt = QUANTA_F32 };
    run_case(242, &dead);
    att_case all = { .B = 2, .Hq = 8, .Hkv = 1, .Nq = 3, .Nk = 8, .D = 9, .mask_nd = 2, .causal = 1,
                     .window = 5, .use_lens = 1, .scale = 0.3f, .dt = QUANTA_F32 };
    run_case(243, &all);
}
END_TEST

START_TEST(test_kv_lens) {
    att_case c = { .B = 4, .Hq = 4, .Hkv = 4, .Nq = 2, .Nk = 12, .D = 6, .use_lens = 1, .causal = 1,
                   .dt = QUANTA_F32 };
    for (uint64_t s = 0; s < 3; s++) run_case(250 + s, &c);
    c.use_lens = 2; /* an empty sequence: all its rows are zeros */
    run_case(253, &c);
}
END_TEST

START_TEST(test_half_types) {
    att_case c = { .B = 1, .Hq = 4, .Hkv = 2, .Nq = 3, .Nk = 17, .D = 24, .causal = 1, .dt = QUANTA_F16 };
    run_case(260, &c);
    c.dt = QUANTA_BF16;
    run_case(261, &c);
    att_case s = { .B = 1, .Hq = 2, .Hkv = 1, .Nq = 2, .Nk = 5, .D = 64, .scale = 0.05f, .dt = QUANTA_F16 };
    run_case(262, &s);
}
END_TEST

/* Key lengths outside [0, Nk] (data: only a run sees them) fail before anything is written.
 * Malformed shapes and dtypes never reach the reference: tests/engine/test_op_errors.c. */
START_TEST(test_bad_kv_lens) {
    rt_tensor *q = rt_make(QUANTA_F32, 4, 2, 4, 2, 8), *k = rt_make(QUANTA_F32, 4, 2, 2, 6, 8);
    rt_tensor *v = rt_make(QUANTA_F32, 4, 2, 2, 6, 8), *o = rt_make(QUANTA_F32, 4, 2, 4, 2, 8);
    rt_tensor *lens = rt_make(QUANTA_I32, 1, 2, 0, 0, 0);
    rt_poison(o);
    rt_set(lens, 0, 6);
    rt_set(lens, 1, 7); /* > Nk */
    qn_node node = rt_node(QN_OP_ATTENTION, o, q, k, v, NULL, lens);
    QT_EXPECT_ERR(qn_ref_run_node(&node), QUANTA_ERR_INVALID_ARGUMENT, "kv_lens[1] = 7");
    ck_assert(rt_all_nan(o));
    rt_set(lens, 1, -1);
    QT_EXPECT_ERR(qn_ref_run_node(&node), QUANTA_ERR_INVALID_ARGUMENT, "kv_lens[1] = -1");
    ck_assert(rt_all_nan(o));

    rt_free(q), rt_free(k), rt_free(v), rt_free(o), rt_free(lens);
}
END_TEST

int main(void) {
    Suite *s = suite_create("ref_attention");
    TCase *tc = tcase_create("attention");
    tcase_add_test(tc, test_plain_and_gqa);
    tcase_add_test(tc, test_causal);
    tcase_add_test(tc, test_decode_nq1);
    tcase_add_test(tc, test_window);
    tcase_add_test(tc, test_masks);
    tcase_add_test(tc, test_kv_lens);
    tcase_add_test(tc, test_half_types);
    tcase_add_test(tc, test_bad_kv_lens);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
