/* test_fault.c — the harness must be able to fail. A test backend "faulty" wraps the
 * reference backend and, per mode, corrupts one output element, writes one element past the
 * end of the output, or leaves one element unwritten. Each fault must make the case FAIL for
 * the right reason, the clean wrapper must PASS, and the reference row stays PASS. */
#include <math.h>
#include <string.h>

#include "backend.h"
#include "conform.h"
#include "qt_ref_wrapper.h"
#include "test_util.h"

typedef enum fault { CLEAN, WRONG, OUT_OF_BOUNDS, UNWRITTEN } fault;
static fault mode;
static int faults_done; /* how often run() injected its fault: proves the fault path ran */

static quanta_status f_device_info(int index, quanta_device_info *info) {
    quanta_status st = qn_ref_backend.device_info(index, info);
    if (st == QUANTA_OK) snprintf(info->backend, sizeof info->backend, "faulty");
    return st;
}

static size_t elem_size(quanta_dtype t) { return t == QUANTA_F32 ? 4 : 2; }

/* Element i of a dense float tensor as f32, and back. */
static float get(const qn_tensor *t, size_t i) {
    const char *p = qn_host_ptr(t);
    if (t->desc.dtype == QUANTA_F32) {
        float v;
        memcpy(&v, p + 4 * i, 4);
        return v;
    }
    uint16_t h;
    memcpy(&h, p + 2 * i, 2);
    return t->desc.dtype == QUANTA_F16 ? quanta_f16_to_f32(h) : quanta_bf16_to_f32(h);
}
static void put(const qn_tensor *t, size_t i, float v) {
    char *p = qn_host_ptr(t);
    if (t->desc.dtype == QUANTA_F32) {
        memcpy(p + 4 * i, &v, 4);
        return;
    }
    uint16_t h = t->desc.dtype == QUANTA_F16 ? quanta_f32_to_f16(v) : quanta_f32_to_bf16(v);
    memcpy(p + 2 * i, &h, 2);
}

static quanta_status f_run(void *self, const qn_node *node) {
    const qn_tensor *dst = node->dst;
    size_t es = elem_size(dst->desc.dtype), n = dst->bytes / es, k = n / 2;
    unsigned char saved[4];
    if (mode == UNWRITTEN) memcpy(saved, (char *)qn_host_ptr(dst) + k * es, es); /* the executor's poison */
    quanta_status st = qn_ref_backend.run(self, node);
    if (st != QUANTA_OK) return st;
    switch (mode) {
    case CLEAN: return QUANTA_OK;
    case WRONG: put(dst, k, get(dst, k) + 1.0f); break;
    case OUT_OF_BOUNDS: memset((char *)qn_host_ptr(dst) + dst->bytes, 0, es); break;
    case UNWRITTEN: memcpy((char *)qn_host_ptr(dst) + k * es, saved, es); break;
    }
    faults_done++;
    return QUANTA_OK;
}

static qn_backend_ops faulty_ops(void) {
    qn_backend_ops ops = qt_ref_wrapper("faulty");
    ops.device_info = f_device_info;
    ops.run = f_run;
    return ops;
}
static qn_backend_ops faulty;

/* Cases over the kinds of comparison: tolerance (f32, f16, bf16 outputs) and exact. */
static const char *const specs[] = {
    "matmul:m=3,n=17,k=192,w=q4,g=64,x=f16",
    "matmul:m=64,n=512,k=64,w=f32,x=f32",           /* 32768 outputs: one wrong one must still show */
    "attention:b=2,hq=8,hkv=2,nq=37,nk=129,d=80,causal=1,window=0,mask=0,dtype=f16",
    "softmax:shape=3x1001,dtype=bf16",
    "silu:shape=7x33,dtype=f32",
    "permute:shape=2x3x5x7,perm=0213,dtype=f32",
    "get_rows:v=50,d=64,t=8,table=q8",
    "convert:shape=4x256,dtype=f32,to=bf16",
};
#define NSPECS (sizeof specs / sizeof specs[0])

/* Runs every spec on [ref, faulty] in the given mode; expects the faulty row's status and
 * reason, and a clean reference row. */
static void run_mode(fault m, qc_status want, qc_reason want_reason) {
    quanta_backend *ref = NULL, *bad = qt_ref_wrapper_open(&faulty, faulty_ops);
    ck_assert_int_eq(quanta_backend_open("ref", &ref), QUANTA_OK);
    qc_target targets[2] = {{"ref", ref, true}, {"faulty", bad, false}};
    uint64_t seed = qt_seed();
    for (size_t i = 0; i < NSPECS; i++) {
        qc_case c;
        char err[QC_ERR_MAX];
        ck_assert_msg(qc_case_parse(specs[i], &c, err, sizeof err) == 0, "%s", err);
        qc_result r[2];
        mode = m;
        faults_done = 0;
        ck_assert_msg(qc_run_case(&c, seed, ref, targets, 2, r, err, sizeof err) == 0, "%s", err);
        mode = CLEAN;
        ck_assert_msg(r[0].status == QC_PASS, "%s: ref row %s (%s)", specs[i], qc_status_name(r[0].status), r[0].msg);
        ck_assert_msg(m == CLEAN || faults_done > 0, "%s: the fault was never injected", specs[i]);
        ck_assert_msg(r[1].status == want && r[1].reason == want_reason,
                      "%s mode %d: faulty row %s/%s, wanted %s/%s (%s)", specs[i], (int)m, qc_status_name(r[1].status),
                      qc_reason_name(r[1].reason), qc_status_name(want), qc_reason_name(want_reason), r[1].msg);
        if (m == OUT_OF_BOUNDS) ck_assert_msg(strstr(r[1].msg, "after output"), "%s: %s", specs[i], r[1].msg);
        if (m == CLEAN) ck_assert_msg(r[1].nmse == 0 && r[1].maxerr == 0, "%s: nmse %g", specs[i], r[1].nmse);
    }
    quanta_backend_close(bad);
    quanta_backend_close(ref);
}

START_TEST(clean_wrapper_passes) { run_mode(CLEAN, QC_PASS, QC_R_NONE); }
END_TEST

START_TEST(wrong_element_fails_accuracy) { run_mode(WRONG, QC_FAIL, QC_R_ACCURACY); }
END_TEST

START_TEST(write_past_end_fails_guard) { run_mode(OUT_OF_BOUNDS, QC_FAIL, QC_R_GUARD); }
END_TEST

START_TEST(unwritten_element_fails_nonfinite) { run_mode(UNWRITTEN, QC_FAIL, QC_R_NONFINITE); }
END_TEST

/* Without the reference as a target, a failing backend still fails the case: nothing is
 * compared against the backend's own earlier output. */
START_TEST(fault_seen_without_ref_row) {
    quanta_backend *ref = NULL, *bad = qt_ref_wrapper_open(&faulty, faulty_ops);
    ck_assert_int_eq(quanta_backend_open("ref", &ref), QUANTA_OK);
    qc_target t = {"faulty", bad, false};
    qc_case c;
    char err[QC_ERR_MAX];
    ck_assert_int_eq(qc_case_parse("add:shape=5x77,bcast=1,dtype=f16", &c, err, sizeof err), 0);
    qc_result r;
    mode = WRONG;
    ck_assert_int_eq(qc_run_case(&c, qt_seed(), ref, &t, 1, &r, err, sizeof err), 0);
    mode = CLEAN;
    ck_assert_int_eq(r.status, QC_FAIL);
    ck_assert_int_eq(r.reason, QC_R_ACCURACY);
    quanta_backend_close(bad);
    quanta_backend_close(ref);
}
END_TEST

int main(void) {
    Suite *s = suite_create("conformance_fault");
    TCase *tc = tcase_create("fault");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, clean_wrapper_passes);
    tcase_add_test(tc, wrong_element_fails_accuracy);
    tcase_add_test(tc, write_past_end_fails_guard);
    tcase_add_test(tc, unwritten_element_fails_nonfinite);
    tcase_add_test(tc, fault_seen_without_ref_row);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
