/* test_metrics.c — NMSE/max-abs-error against a direct computation, non-finite rules, the
 * threshold table's contents, the judge's verdicts and the report writers. */
#include <math.h>
#include <string.h>

#include "backend.h" /* the engine op ids that key the conformance entries */
#include "conform.h"
#include "test_util.h"

START_TEST(metrics_match_direct_formula) {
    qt_rng r = qt_rng_make(1);
    enum { N = 1000 };
    static float a[N], b[N];
    for (int rep = 0; rep < 20; rep++) {
        qt_fill_normal(&r, b, N, 2.0f);
        float noise = qt_uniform(&r, 1e-6f, 1e-1f);
        for (int i = 0; i < N; i++) a[i] = b[i] + qt_normal(&r, noise);
        long double e2 = 0, b2 = 0, mx = 0, bm = 0;
        for (int i = 0; i < N; i++) {
            long double d = (long double)a[i] - (long double)b[i];
            e2 += d * d;
            b2 += (long double)b[i] * b[i];
            if (fabsl(d) > mx) mx = fabsl(d);
            if (fabsl((long double)b[i]) > bm) bm = fabsl((long double)b[i]);
        }
        qc_metrics m;
        qc_compare(a, b, N, &m);
        ck_assert(!m.nonfinite);
        ck_assert_double_eq_tol(m.nmse, (double)(e2 / b2), 1e-9 * (double)(e2 / b2));
        ck_assert_double_eq_tol(m.maxerr, (double)mx, 1e-12);
        ck_assert_double_eq_tol(m.refmax, (double)bm, 1e-12);
        ck_assert_uint_eq(m.count, N);
    }
}
END_TEST

START_TEST(nonfinite_rules) {
    qc_metrics m;
    float ref[4] = {1, 2, 3, 4};
    float out[4] = {1, 2, NAN, 4};
    qc_compare(out, ref, 4, &m);
    ck_assert(m.nonfinite && m.bad_index == 2 && m.nan_count == 1);
    float inf_out[4] = {1, INFINITY, 3, 4};
    qc_compare(inf_out, ref, 4, &m);
    ck_assert(m.nonfinite && m.bad_index == 1 && m.nan_count == 0);
    /* the reference's own NaN/Inf must be matched, Inf with the same sign */
    float r2[3] = {NAN, INFINITY, -INFINITY}, o2[3] = {NAN, INFINITY, -INFINITY};
    qc_compare(o2, r2, 3, &m);
    ck_assert(!m.nonfinite && m.nmse == 0);
    o2[2] = INFINITY;
    qc_compare(o2, r2, 3, &m);
    ck_assert(m.nonfinite && m.bad_index == 2);
    o2[2] = -INFINITY;
    o2[0] = 1;
    qc_compare(o2, r2, 3, &m);
    ck_assert(m.nonfinite && m.bad_index == 0);
    /* all-zero reference */
    float z[3] = {0, 0, 0}, zo[3] = {0, 0, 0};
    qc_compare(zo, z, 3, &m);
    ck_assert(m.nmse == 0 && m.maxerr == 0);
    zo[1] = 1e-30f;
    qc_compare(zo, z, 3, &m);
    ck_assert(isinf(m.nmse));
}
END_TEST

static qc_threshold thr_of(const char *spec) {
    qc_case c;
    char err[QC_ERR_MAX];
    ck_assert_msg(qc_case_parse(spec, &c, err, sizeof err) == 0, "%s", err);
    return qc_threshold_for(&c);
}

START_TEST(threshold_table) {
    /* ggml's values for f32 */
    ck_assert(thr_of("matmul").nmse == 5e-4 && thr_of("attention").nmse == 5e-4);
    ck_assert(thr_of("softmax").nmse == 1e-6);
    const char *ew[] = {"silu", "gelu", "add", "mul", "scale", "rms_norm"};
    for (int i = 0; i < 6; i++) {
        char s16[64], sbf[64];
        snprintf(s16, sizeof s16, "%s:dtype=f16", ew[i]);
        snprintf(sbf, sizeof sbf, "%s:dtype=bf16", ew[i]);
        qc_threshold a = thr_of(ew[i]), b = thr_of(s16), c = thr_of(sbf);
        ck_assert_msg(a.nmse == 1e-7 && !a.exact, "%s", ew[i]);
        ck_assert_msg(b.nmse > a.nmse && c.nmse > b.nmse && b.maxrel > a.maxrel && c.maxrel > b.maxrel, "%s", ew[i]);
        ck_assert(a.why && *a.why && b.why && *b.why && c.why && *c.why);
    }
    /* exact ops */
    const char *exact[] = {"write_rows", "permute:dtype=bf16", "convert:to=bf16", "convert:dtype=f16,to=f32",
                           "get_rows", "get_rows:table=f16", "get_rows:table=bf16"};
    for (int i = 0; i < 7; i++) ck_assert_msg(thr_of(exact[i]).exact, "%s", exact[i]);
    /* quantized get_rows is tolerance-based but tight */
    qc_threshold q = thr_of("get_rows:table=nf4,dq=1");
    ck_assert(!q.exact && q.nmse <= 1e-10);
    /* every generated case has a threshold row of its own */
    qc_case_list l = {0};
    ck_assert_int_eq(qc_cases_generate(&l, false, NULL), 0);
    for (size_t i = 0; i < l.n; i++) ck_assert(strcmp(qc_threshold_for(&l.v[i]).why, "no threshold row: exact"));
    qc_case_list_free(&l);
}
END_TEST

/* judge: synthetic outputs against a synthetic reference. */
static qc_output mk(float *v, size_t n) {
    qc_output o;
    memset(&o, 0, sizeof o);
    o.v = v;
    o.n = n;
    return o;
}

START_TEST(judge_verdicts) {
    enum { N = 4096 };
    static float ref[N], out[N];
    qt_rng r = qt_rng_make(2);
    qt_fill_normal(&r, ref, N, 1.0f);
    qc_case mm, perm;
    char err[QC_ERR_MAX];
    ck_assert_int_eq(qc_case_parse("matmul:m=64,n=64", &mm, err, sizeof err), 0);
    ck_assert_int_eq(qc_case_parse("permute:shape=4096,perm=0", &perm, err, sizeof err), 0);
    qc_output ro = mk(ref, N), oo = mk(out, N);
    qc_result res;

    /* small noise passes; NMSE over 5e-4 fails */
    for (int i = 0; i < N; i++) out[i] = ref[i] * (1 + 1e-4f);
    qc_judge(&mm, NULL, &ro, &oo, false, "x", &res);
    ck_assert_msg(res.status == QC_PASS, "%s", res.msg);
    ck_assert_str_eq(res.backend, "x");
    ck_assert(strstr(res.spec, "matmul:m=64,n=64"));
    for (int i = 0; i < N; i++) out[i] = ref[i] * 1.03f;
    qc_judge(&mm, NULL, &ro, &oo, false, "x", &res);
    ck_assert(res.status == QC_FAIL && res.reason == QC_R_ACCURACY && res.nmse > 5e-4);

    /* one element off by 20% of max|ref|: NMSE alone (~1e-4 here) would pass, maxerr catches it */
    memcpy(out, ref, sizeof out);
    float mx = 0;
    for (int i = 0; i < N; i++) mx = fmaxf(mx, fabsf(ref[i]));
    out[N / 3] += 0.2f * mx;
    qc_judge(&mm, NULL, &ro, &oo, false, "x", &res);
    ck_assert_msg(res.nmse < 5e-4, "nmse %g", res.nmse);
    ck_assert(res.status == QC_FAIL && res.reason == QC_R_ACCURACY);

    /* exact: one ulp is a failure */
    memcpy(out, ref, sizeof out);
    qc_judge(&perm, NULL, &ro, &oo, false, "x", &res);
    ck_assert(res.status == QC_PASS && res.exact && res.maxerr == 0);
    out[7] = nextafterf(out[7], INFINITY);
    qc_judge(&perm, NULL, &ro, &oo, false, "x", &res);
    ck_assert(res.status == QC_FAIL && res.reason == QC_R_ACCURACY && strstr(res.msg, "not exact"));

    /* unwritten element */
    memcpy(out, ref, sizeof out);
    out[100] = NAN;
    qc_judge(&mm, NULL, &ro, &oo, false, "x", &res);
    ck_assert(res.status == QC_FAIL && res.reason == QC_R_NONFINITE && strstr(res.msg, "element 100"));

    /* fallback: correct but not run by the backend -> SKIP; wrong -> FAIL */
    memcpy(out, ref, sizeof out);
    oo.fallback = true;
    qc_judge(&mm, NULL, &ro, &oo, false, "x", &res);
    ck_assert(res.status == QC_SKIP && res.reason == QC_R_FALLBACK);
    out[0] += 100;
    qc_judge(&mm, NULL, &ro, &oo, false, "x", &res);
    ck_assert(res.status == QC_FAIL);
    oo.fallback = false;

    /* run errors: unsupported is a SKIP, other errors and guards FAIL */
    qc_output e = mk(NULL, 0);
    e.st = QUANTA_ERR_UNSUPPORTED;
    e.reason = QC_R_UNSUPPORTED;
    qc_judge(&mm, NULL, &ro, &e, false, "x", &res);
    ck_assert(res.status == QC_SKIP && res.reason == QC_R_UNSUPPORTED);
    e.st = QUANTA_ERR_BACKEND;
    e.reason = QC_R_GUARD;
    qc_judge(&mm, NULL, &ro, &e, false, "x", &res);
    ck_assert(res.status == QC_FAIL && res.reason == QC_R_GUARD);

    /* a failed reference fails the target (nothing to compare with) */
    memcpy(out, ref, sizeof out);
    qc_output bad_ref = mk(NULL, 0);
    bad_ref.st = QUANTA_ERR_BACKEND;
    bad_ref.reason = QC_R_ERROR;
    qc_judge(&mm, NULL, &bad_ref, &oo, false, "x", &res);
    ck_assert(res.status == QC_FAIL && res.reason == QC_R_NOREF);

    /* the reference judged as itself: NaN in its output fails */
    ref[5] = NAN;
    qc_judge(&mm, NULL, &ro, &ro, true, "ref", &res);
    ck_assert(res.status == QC_FAIL && res.reason == QC_R_NONFINITE);
    ref[5] = 0.5f;
    qc_judge(&mm, NULL, &ro, &ro, true, "ref", &res);
    ck_assert(res.status == QC_PASS && res.nmse == 0);

    /* size mismatch */
    qc_output shorter = mk(out, N - 1);
    qc_judge(&mm, NULL, &ro, &shorter, false, "x", &res);
    ck_assert(res.status == QC_FAIL);
}
END_TEST

/* A dot product that cancels (|y| far below its operands' |x||w|/√K): judged against the operands'
 * energy, so the error an int8 or f32 path leaves on such a result passes, while an error of the
 * operands' scale fails, and results that do not cancel keep the plain measures. */
START_TEST(judge_cancelled_dot_products) {
    qc_case mm, perm;
    char err[QC_ERR_MAX];
    ck_assert_int_eq(qc_case_parse("matmul:m=1,n=1,k=32,w=q5_0", &mm, err, sizeof err), 0);
    ck_assert_int_eq(qc_case_parse("permute:shape=1,perm=0", &perm, err, sizeof err), 0);
    qc_data d;
    memset(&d, 0, sizeof d);
    d.cond_sum = d.cond_max = 1.0; /* |x|²|w|²/K of the one result */
    float ref[1] = {1.4e-4f}, out[1] = {1.4e-4f + 7e-6f}; /* seed 4768687182002737128's numbers */
    qc_output ro = mk(ref, 1), oo = mk(out, 1);
    qc_result res;
    qc_judge(&mm, NULL, &ro, &oo, false, "x", &res); /* the plain measure: err²/y² = 2.5e-3 */
    ck_assert(res.status == QC_FAIL && res.reason == QC_R_ACCURACY);
    qc_judge(&mm, &d, &ro, &oo, false, "x", &res);
    ck_assert_msg(res.status == QC_PASS, "%s", res.msg);
    ck_assert(fabs(res.nmse - 7e-6 * 7e-6) < 1e-12 && fabs(res.maxerr_thr - 2e-2) < 1e-9);
    /* an error of 3% of the operands' scale is a real one: NMSE 9e-4 */
    out[0] = ref[0] + 0.03f;
    qc_judge(&mm, &d, &ro, &oo, false, "x", &res);
    ck_assert(res.status == QC_FAIL && res.reason == QC_R_ACCURACY && strstr(res.msg, "cancels"));
    /* ...and so is 2.5% at maxrel 2% with NMSE under its limit (many results, one off) */
    enum { N = 64 };
    float r64[N], o64[N];
    for (int i = 0; i < N; i++) r64[i] = o64[i] = (i % 2 ? 1e-3f : -1e-3f);
    o64[5] += 0.025f;
    qc_output r6 = mk(r64, N), o6 = mk(o64, N);
    d.cond_sum = N, d.cond_max = 1.0;
    qc_judge(&mm, &d, &r6, &o6, false, "x", &res);
    ck_assert_msg(res.nmse < 5e-4 && res.status == QC_FAIL && strstr(res.msg, "operands' scale"), "%g %s", res.nmse,
                  res.msg);
    /* a result that does not cancel (Σy² >= ΣE): the plain measures, a 3% error fails */
    ref[0] = 2.0f, out[0] = 2.0f * 1.03f;
    d.cond_sum = d.cond_max = 1.0;
    qc_judge(&mm, &d, &ro, &oo, false, "x", &res);
    ck_assert(res.status == QC_FAIL && fabs(res.nmse - 9e-4) < 1e-6 && !strstr(res.msg, "cancels"));
    out[0] = 2.0f * 1.01f;
    qc_judge(&mm, &d, &ro, &oo, false, "x", &res);
    ck_assert_msg(res.status == QC_PASS, "%s", res.msg);
    /* exact ops never take it */
    ref[0] = 1e-4f, out[0] = nextafterf(1e-4f, 1.0f);
    qc_judge(&perm, &d, &ro, &oo, false, "x", &res);
    ck_assert(res.status == QC_FAIL && strstr(res.msg, "not exact"));
}
END_TEST

/* The energies a matmul / matmul_multi case's data carries, against a direct sum over every result
 * of |x_m|²|w_n|²/K (f32 operands: no decoding), and none for an op that is not a dot product. */
START_TEST(dot_energies_of_cases) {
    const char *specs[] = {"matmul:m=3,n=5,k=7,w=f32,x=f32", "matmul:m=2,n=4,k=9,w=f32,x=f32,b=3",
                           "matmul_multi:m=2,n=3,n1=6,n2=4,k=5,w=f32,x=f32,part=2"};
    const uint64_t seed = qt_seed();
    for (int s = 0; s < 3; s++) {
        qc_case c;
        qc_data d;
        char err[QC_ERR_MAX];
        ck_assert_int_eq(qc_case_parse(specs[s], &c, err, sizeof err), 0);
        ck_assert_msg(qc_data_make(&c, seed, &d, err, sizeof err) == 0, "%s", err);
        const float *x = d.t[0].data, *w = d.t[1 + c.part].data;
        const int64_t rows = c.b * c.m, N = c.part == 2 ? c.n2 : c.n, K = c.k;
        double sum = 0, mx = 0;
        for (int64_t m = 0; m < rows; m++)
            for (int64_t n = 0; n < N; n++) {
                double ex = 0, ew = 0;
                for (int64_t k = 0; k < K; k++) ex += (double)x[m * K + k] * x[m * K + k];
                for (int64_t k = 0; k < K; k++) ew += (double)w[n * K + k] * w[n * K + k];
                sum += ex * ew / (double)K;
                if (ex * ew / (double)K > mx) mx = ex * ew / (double)K;
            }
        ck_assert_msg(fabs(d.cond_sum - sum) <= 1e-12 * sum && fabs(d.cond_max - mx) <= 1e-12 * mx,
                      "%s: %g %g vs %g %g", specs[s], d.cond_sum, d.cond_max, sum, mx);
        qc_data_free(&d);
    }
    qc_case c;
    qc_data d;
    char err[QC_ERR_MAX];
    ck_assert_int_eq(qc_case_parse("add:shape=4x8", &c, err, sizeof err), 0);
    ck_assert_int_eq(qc_data_make(&c, seed, &d, err, sizeof err), 0);
    ck_assert(d.cond_sum == 0 && d.cond_max == 0);
    qc_data_free(&d);
}
END_TEST

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

START_TEST(reports_written) {
    qc_report rep = {0};
    rep.seed = 42;
    qc_result a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.op = QN_OP_MATMUL;
    snprintf(a.spec, sizeof a.spec, "matmul:m=1");
    snprintf(a.backend, sizeof a.backend, "opencl");
    a.status = QC_PASS;
    a.nmse = 1e-9;
    b = a;
    b.status = QC_FAIL;
    b.reason = QC_R_GUARD;
    b.nmse = NAN;
    b.maxerr = INFINITY;
    snprintf(b.msg, sizeof b.msg, "guard <overwritten> \"after\" & more");
    ck_assert_int_eq(qc_report_add(&rep, &a), 0);
    ck_assert_int_eq(qc_report_add(&rep, &b), 0);
    ck_assert(rep.pass == 1 && rep.fail == 1 && rep.skip == 0);

    char dir[] = "/tmp/qc_reportXXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char js[128], xml[128], err[QC_ERR_MAX];
    snprintf(js, sizeof js, "%s/r.json", dir);
    snprintf(xml, sizeof xml, "%s/r.xml", dir);
    ck_assert_int_eq(qc_write_json(js, &rep, err, sizeof err), 0);
    char *s = slurp(js);
    ck_assert(strstr(s, "\"seed\": 42") && strstr(s, "\"fail\": 1") && strstr(s, "\"nmse\": null"));
    ck_assert(strstr(s, "\\\"after\\\"") && strstr(s, "\"reason\": \"guard\""));
    ck_assert_int_eq(qc_write_junit(xml, &rep, err, sizeof err), 0);
    s = slurp(xml);
    ck_assert(strstr(s, "failures=\"1\"") && strstr(s, "&lt;overwritten&gt;") && strstr(s, "&amp; more"));
    ck_assert(strstr(s, "--seed 42 --backend opencl --case 'matmul:m=1'"));
    remove(js);
    remove(xml);
    remove(dir);
    ck_assert_int_eq(qc_write_json("/nonexistent-dir/x.json", &rep, err, sizeof err), -1);
    ck_assert(strstr(err, "/nonexistent-dir/x.json"));
    qc_report_free(&rep);
}
END_TEST

int main(void) {
    Suite *s = suite_create("conformance_metrics");
    TCase *tc = tcase_create("metrics");
    tcase_add_test(tc, metrics_match_direct_formula);
    tcase_add_test(tc, nonfinite_rules);
    tcase_add_test(tc, threshold_table);
    tcase_add_test(tc, judge_verdicts);
    tcase_add_test(tc, judge_cancelled_dot_products);
    tcase_add_test(tc, dot_energies_of_cases);
    tcase_add_test(tc, reports_written);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
