/* test_nccl.c — the NCCL communicator loads at run time, makes unique ids, rejects bad
 * arguments, and fails cleanly (no crash, a status and a message) where no GPU is usable.
 * Where a GPU is present, a one-rank communicator must come up. */
#include <string.h>

#include "nccl_comm.h"
#include "test_util.h"

START_TEST(test_unique_ids_differ) {
    unsigned char a[QN_TP_ID_BYTES], b[QN_TP_ID_BYTES];
    ck_assert_int_eq(qn_tp_unique_id(a), QUANTA_OK);
    ck_assert_int_eq(qn_tp_unique_id(b), QUANTA_OK);
    ck_assert_int_ne(memcmp(a, b, sizeof a), 0);
    ck_assert_int_eq(qn_tp_unique_id(NULL), QUANTA_ERR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(test_init_arguments_and_no_device) {
    unsigned char id[QN_TP_ID_BYTES];
    qn_tp_comm *c = NULL;
    ck_assert_int_eq(qn_tp_unique_id(id), QUANTA_OK);
    ck_assert_int_eq(qn_tp_init(id, 2, 2, &c), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(quanta_last_error(), "rank 2 / world 2"));
    ck_assert_int_eq(qn_tp_init(NULL, 0, 1, &c), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(qn_tp_all_reduce_sum(NULL, id, 1, QUANTA_F32, NULL), QUANTA_ERR_INVALID_ARGUMENT);
    quanta_status st = qn_tp_init(id, 0, 1, &c);
    if (st == QUANTA_OK) { /* a GPU is present: the one-rank communicator works */
        qn_tp_destroy(c);
    } else {
        ck_assert_ptr_null(c);
        ck_assert_msg(st == QUANTA_ERR_NO_DEVICE || st == QUANTA_ERR_BACKEND, "%s", quanta_status_name(st));
        ck_assert_ptr_nonnull(strstr(quanta_last_error(), "NCCL error"));
    }
}
END_TEST

int main(void) {
    int version = 0;
    if (qn_tp_available(&version) != QUANTA_OK) {
        printf("SKIP: %s\n", quanta_last_error());
        return 77;
    }
    printf("NCCL version code %d\n", version);
    Suite *s = suite_create("nccl");
    TCase *tc = tcase_create("nccl");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_unique_ids_differ);
    tcase_add_test(tc, test_init_arguments_and_no_device);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
