/* test_ref_backend.c — the reference backend's vtable (devices, memory, dispatch) and the
 * node checks every op shares. */
#include "ref_test_util.h"

START_TEST(test_devices) {
    const qn_backend_ops *be = &qn_ref_backend;
    ck_assert_str_eq(be->name, "ref");
    int n = -1;
    ck_assert_int_eq(be->device_count(&n), QUANTA_OK);
    ck_assert_int_eq(n, 1);
    quanta_device_info info;
    memset(&info, 0x5A, sizeof info);
    ck_assert_int_eq(be->device_info(0, &info), QUANTA_OK);
    ck_assert_str_eq(info.backend, "ref");
    ck_assert_str_eq(info.name, "reference (host CPU, float64 accumulation)");
    ck_assert_int_eq(info.index, 0);
    ck_assert(info.compute_units >= 1);
    ck_assert(memchr(info.details, '\0', sizeof info.details) != NULL);
    QT_EXPECT_ERR(be->device_info(1, &info), QUANTA_ERR_INVALID_ARGUMENT, "index 1");
    QT_EXPECT_ERR(be->device_info(0, NULL), QUANTA_ERR_INVALID_ARGUMENT, "info is NULL");
    QT_EXPECT_ERR(be->device_count(NULL), QUANTA_ERR_INVALID_ARGUMENT, "count is NULL");
    ck_assert_ptr_null(be->prepare_weight);
}
END_TEST

START_TEST(test_memory) {
    const qn_backend_ops *be = &qn_ref_backend;
    qn_mem_stats stats = { 0 };
    void *self = NULL;
    ck_assert_int_eq(be->open(0, &stats, &self), QUANTA_OK);
    QT_EXPECT_ERR(be->open(3, &stats, &self), QUANTA_ERR_NO_DEVICE, "device 3");

    void *h = NULL;
    ck_assert_int_eq(be->alloc(self, 1000, &h), QUANTA_OK);
    ck_assert_ptr_nonnull(h);
    for (int i = 0; i < 1000; i++) ck_assert_int_eq(((unsigned char *)h)[i], 0); /* zero-filled */
    unsigned char data[100], back[100];
    qt_rng rng = qt_rng_make(500);
    for (int i = 0; i < 100; i++) data[i] = (unsigned char)qt_next(&rng);
    qn_mem m = { h, 700 };
    ck_assert_int_eq(be->write(self, m, data, sizeof data), QUANTA_OK);
    ck_assert(memcmp((unsigned char *)h + 700, data, sizeof data) == 0);
    ck_assert_int_eq(((unsigned char *)h)[699], 0);
    ck_assert_int_eq(((unsigned char *)h)[800], 0);
    memset(back, 0, sizeof back);
    ck_assert_int_eq(be->read(self, m, back, sizeof back), QUANTA_OK);
    ck_assert(memcmp(back, data, sizeof data) == 0);
    qn_mem m2 = { h, 750 };
    ck_assert_int_eq(be->read(self, m2, back, 10), QUANTA_OK);
    ck_assert(memcmp(back, data + 50, 10) == 0);
    be->free(self, h);

    void *z = NULL;
    ck_assert_int_eq(be->alloc(self, 0, &z), QUANTA_OK); /* an empty tensor still gets a handle */
    ck_assert_ptr_nonnull(z);
    be->free(self, z);
    void *big = (void *)1;
    QT_EXPECT_ERR(be->alloc(self, SIZE_MAX, &big), QUANTA_ERR_OVERFLOW, "exceeds");
    ck_assert_ptr_null(big);
    qn_mem nul = { NULL, 0 };
    QT_EXPECT_ERR(be->write(self, nul, data, 4), QUANTA_ERR_INVALID_ARGUMENT, "NULL dst");
    ck_assert_int_eq(be->synchronize(self), QUANTA_OK);
    be->close(self);
}
END_TEST

START_TEST(test_dispatch) {
    const qn_backend_ops *be = &qn_ref_backend;
    qn_node probe;
    memset(&probe, 0, sizeof probe);
    for (int op = 0; op < QN_OP_COUNT; op++) {
        probe.op = (qn_op)op;
        ck_assert_msg(be->supports_op(NULL, &probe), "op %d not supported", op);
    }
    probe.op = QN_OP_COUNT;
    ck_assert(!be->supports_op(NULL, &probe));

    /* A run through the vtable computes the op. */
    qt_rng rng = qt_rng_make(510);
    rt_tensor *a = rt_make(QUANTA_F32, 2, 3, 4, 0, 0), *b = rt_make(QUANTA_F32, 2, 3, 4, 0, 0);
    rt_tensor *y = rt_make(QUANTA_F32, 2, 3, 4, 0, 0);
    double *ad = rt_fill(a, &rng, 1.0), *bd = rt_fill(b, &rng, 1.0), ref[12];
    for (int i = 0; i < 12; i++) ref[i] = ad[i] * bd[i];
    rt_poison(y);
    qn_node node = rt_node(QN_OP_MUL, y, a, b, NULL, NULL, NULL);
    ck_assert_int_eq(be->run(NULL, &node), QUANTA_OK);
    ck_assert_int_eq(rt_compare(y, ref, 0.0, "mul via vtable"), 0);

    QT_EXPECT_ERR(qn_ref_run_node(NULL), QUANTA_ERR_INVALID_ARGUMENT, "node is NULL");
    node.op = QN_OP_COUNT;
    QT_EXPECT_ERR(qn_ref_run_node(&node), QUANTA_ERR_UNSUPPORTED, "unknown op");
    node.op = QN_OP_MUL;
    node.dst = NULL;
    QT_EXPECT_ERR(qn_ref_run_node(&node), QUANTA_ERR_INVALID_ARGUMENT, "no dst");
    node.dst = &y->t;
    node.nsrc = QN_MAX_SRC + 1;
    QT_EXPECT_ERR(qn_ref_run_node(&node), QUANTA_ERR_INVALID_ARGUMENT, "is outside 0..");
    free(ad), free(bd);
    rt_free(a), rt_free(b), rt_free(y);
}
END_TEST

int main(void) {
    Suite *s = suite_create("ref_backend");
    TCase *tc = tcase_create("backend");
    tcase_add_test(tc, test_devices);
    tcase_add_test(tc, test_memory);
    tcase_add_test(tc, test_dispatch);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
