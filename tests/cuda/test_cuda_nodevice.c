/*
 * test_cuda_nodevice.c — the CUDA backend compiled in must not get in the way where there is
 * no NVIDIA driver or GPU (mixed fleets): the device list still builds, "cuda" reports
 * QUANTA_ERR_NO_DEVICE (not a crash, not another error), and the reference backend runs a
 * graph. On a machine with a GPU it checks the other side: "cuda" opens and reports a device.
 */
#include <string.h>

#include "backend.h"
#include "quanta.h"
#include "test_util.h"

extern const qn_backend_ops qn_cuda_backend;

static int cuda_devices(void) {
    int n = -1;
    ck_assert_int_eq(qn_cuda_backend.device_count(&n), QUANTA_OK);
    ck_assert_int_ge(n, 0);
    return n;
}

START_TEST(compiled_in) {
    const char *list = quanta_backends_compiled();
    ck_assert_ptr_nonnull(strstr(list, "cuda"));
}
END_TEST

START_TEST(open_without_device) {
    const int n = cuda_devices();
    quanta_backend *be = NULL;
    quanta_status st = quanta_backend_open("cuda", &be);
    if (n == 0) {
        ck_assert_int_eq(st, QUANTA_ERR_NO_DEVICE);
        ck_assert_ptr_null(be);
        ck_assert_str_ne(quanta_last_error(), "");
        st = quanta_backend_open("cuda:3", &be);
        ck_assert_int_eq(st, QUANTA_ERR_NO_DEVICE);
    } else {
        ck_assert_int_eq(st, QUANTA_OK);
        quanta_device_info info;
        ck_assert_int_eq(quanta_backend_device(be, &info), QUANTA_OK);
        ck_assert_str_eq(info.backend, "cuda");
        ck_assert_uint_gt(info.memory_bytes, 0);
        quanta_backend_close(be);
        st = quanta_backend_open("cuda:999", &be);
        ck_assert_int_eq(st, QUANTA_ERR_INVALID_ARGUMENT); /* an index past the device list */
    }
}
END_TEST

START_TEST(device_list_and_ref_still_work) {
    const int n = cuda_devices();
    int total = 0;
    ck_assert_int_eq(quanta_device_count(&total), QUANTA_OK);
    int cuda_seen = 0;
    for (int i = 0; i < total; i++) {
        quanta_device_info info;
        ck_assert_int_eq(quanta_device_get(i, &info), QUANTA_OK);
        cuda_seen += !strcmp(info.backend, "cuda");
    }
    ck_assert_int_eq(cuda_seen, n);

    /* a small graph on the reference backend, compared with a sum written here */
    quanta_backend *be = NULL;
    ck_assert_int_eq(quanta_backend_open("ref", &be), QUANTA_OK);
    quanta_graph *g = NULL;
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    quanta_tensor_desc d = {.dtype = QUANTA_F32, .ndim = 1, .dims = {5}};
    quanta_tensor *a, *b, *y;
    ck_assert_int_eq(quanta_graph_input(g, "a", &d, &a), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "b", &d, &b), QUANTA_OK);
    ck_assert_int_eq(quanta_add(g, a, b, &y), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(g, y), QUANTA_OK);
    quanta_plan *p = NULL;
    ck_assert_int_eq(quanta_plan_create(g, be, &p), QUANTA_OK);
    qt_rng r = qt_rng_make(1);
    float av[5], bv[5], yv[5];
    for (int i = 0; i < 5; i++) av[i] = qt_normal(&r, 1), bv[i] = qt_normal(&r, 1), yv[i] = NAN;
    ck_assert_int_eq(quanta_plan_set_input(p, a, av, sizeof av), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_set_input(p, b, bv, sizeof bv), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_execute(p), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_get_output(p, y, yv, sizeof yv), QUANTA_OK);
    for (int i = 0; i < 5; i++) ck_assert_float_eq(yv[i], av[i] + bv[i]);
    quanta_plan_destroy(p);
    quanta_graph_destroy(g);
    quanta_backend_close(be);
}
END_TEST

int main(void) {
    Suite *s = suite_create("cuda_nodevice");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, compiled_in);
    tcase_add_test(tc, open_without_device);
    tcase_add_test(tc, device_list_and_ref_still_work);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
