/* test_memory_peak.c — the backend memory account counts only allocations that succeeded: a
 * buffer whose allocation fails (made to fail at each allocation it makes, qt_fault.h) leaves
 * in_use and peak as they were; the next successful one moves them. */
#include "qt_fault.h"
#include "qt_tensor.h"
#include "test_util.h"

START_TEST(test_failed_allocation_not_in_peak) {
    quanta_backend *be;
    ck_assert_int_eq(quanta_backend_open("ref", &be), QUANTA_OK);
    quanta_tensor_desc small = qt_desc(QUANTA_F32, 1, 1000, 0, 0, 0);
    quanta_tensor_desc big = qt_desc(QUANTA_F32, 2, 4096, 4096, 0, 0); /* 64 MiB */
    quanta_buffer *a = NULL, *b = NULL;
    ck_assert_int_eq(quanta_buffer_create(be, &small, &a), QUANTA_OK);
    uint64_t in_use = 0, peak = 0;
    int failures = 0;
    for (long n = 1;; n++) {
        qt_fault_arm(QT_FAULT_ALLOC, n);
        quanta_status st = quanta_buffer_create(be, &big, &b);
        qt_fault_disarm();
        ck_assert_int_eq(quanta_backend_memory_stats(be, &in_use, &peak), QUANTA_OK);
        if (!qt_fault_fired()) {
            ck_assert_int_eq(st, QUANTA_OK);
            break;
        }
        ck_assert_int_eq(st, QUANTA_ERR_OUT_OF_MEMORY);
        ck_assert_ptr_null(b);
        ck_assert_uint_eq(in_use, 4000);
        ck_assert_msg(peak == 4000, "allocation %ld failed, yet the peak is %llu", n, (unsigned long long)peak);
        failures++;
    }
    ck_assert_int_ge(failures, 1);
    ck_assert_uint_eq(in_use, 4000 + 64ull * 1024 * 1024);
    ck_assert_uint_eq(peak, in_use);
    quanta_buffer_destroy(b);
    quanta_buffer_destroy(a);
    ck_assert_int_eq(quanta_backend_memory_stats(be, &in_use, &peak), QUANTA_OK);
    ck_assert_uint_eq(in_use, 0);
    ck_assert_uint_eq(peak, 4000 + 64ull * 1024 * 1024);
    quanta_backend_close(be);
}
END_TEST

/* The case on the OpenCL backend (when present): a 4 TiB buffer the device refuses. */
START_TEST(test_refused_buffer_not_in_peak_opencl) {
    quanta_backend *be;
    if (quanta_backend_open("opencl", &be) != QUANTA_OK) return; /* not built or no device */
    uint64_t in_use0 = 0, peak0 = 0, in_use = 0, peak = 0;
    ck_assert_int_eq(quanta_backend_memory_stats(be, &in_use0, &peak0), QUANTA_OK);
    quanta_tensor_desc huge = qt_desc(QUANTA_F32, 2, 1 << 20, 1 << 20, 0, 0); /* 4 TiB */
    quanta_buffer *b = NULL;
    ck_assert_int_ne(quanta_buffer_create(be, &huge, &b), QUANTA_OK);
    ck_assert_ptr_null(b);
    ck_assert_int_eq(quanta_backend_memory_stats(be, &in_use, &peak), QUANTA_OK);
    ck_assert_uint_eq(in_use, in_use0);
    ck_assert_msg(peak == peak0, "peak %llu after a refused 4 TiB buffer (was %llu)", (unsigned long long)peak,
                  (unsigned long long)peak0);
    quanta_backend_close(be);
}
END_TEST

int main(void) {
    Suite *s = suite_create("memory_peak");
    TCase *tc = tcase_create("memory_peak");
    tcase_add_test(tc, test_failed_allocation_not_in_peak);
    tcase_add_test(tc, test_refused_buffer_not_in_peak_opencl);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
