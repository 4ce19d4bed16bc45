/* norm_pair_args.c — the argument checks of quanta_add_rms_norm and quanta_rms_norm_add
 * (norm_pair_args.h). */
#include "norm_pair_args.h"

#include <math.h>
#include <stdio.h>

#include "qt_check.h"
#include "qt_tensor.h"

void qt_check_norm_pair_args(qt_norm_pair_op op, const char *first, const char *second) {
    char first_must[32], second_must[32], second_null[32];
    snprintf(first_must, sizeof first_must, "%s must", first);
    snprintf(second_must, sizeof second_must, "%s must", second);
    snprintf(second_null, sizeof second_null, "%s is NULL", second);
    quanta_graph *g;
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    quanta_tensor *a = QT_INPUT(g, QUANTA_F32, 2, 3, 8, 0, 0), *b = QT_INPUT(g, QUANTA_F32, 2, 3, 7, 0, 0);
    quanta_tensor *h = QT_INPUT(g, QUANTA_F16, 2, 3, 8, 0, 0), *w = QT_INPUT(g, QUANTA_F32, 1, 8, 0, 0, 0);
    quanta_tensor *i = QT_INPUT(g, QUANTA_I32, 2, 3, 8, 0, 0), *y = (quanta_tensor *)1;
    QT_EXPECT_ERR(op(g, a, b, NULL, 1e-6f, 0, &y), QUANTA_ERR_INVALID_ARGUMENT, second_must, "shape");
    ck_assert_ptr_null(y);
    /* one row [8] is no operand for these ops: no broadcast */
    QT_EXPECT_ERR(op(g, a, w, NULL, 1e-6f, 0, &y), QUANTA_ERR_INVALID_ARGUMENT, second_must, "shape");
    QT_EXPECT_ERR(op(g, a, h, NULL, 1e-6f, 0, &y), QUANTA_ERR_INVALID_ARGUMENT, second_must, "dtype");
    QT_EXPECT_ERR(op(g, i, i, NULL, 1e-6f, 0, &y), QUANTA_ERR_INVALID_ARGUMENT, first_must);
    QT_EXPECT_ERR(op(g, a, a, a, 1e-6f, 0, &y), QUANTA_ERR_INVALID_ARGUMENT, "weight");
    QT_EXPECT_ERR(op(g, a, a, w, -1.0f, 0, &y), QUANTA_ERR_INVALID_ARGUMENT, "eps");
    QT_EXPECT_ERR(op(g, a, a, w, NAN, 0, &y), QUANTA_ERR_INVALID_ARGUMENT, "eps");
    QT_EXPECT_ERR(op(g, a, NULL, w, 1e-6f, 0, &y), QUANTA_ERR_INVALID_ARGUMENT, second_null);
    QT_EXPECT_ERR(op(NULL, a, a, w, 1e-6f, 0, &y), QUANTA_ERR_INVALID_ARGUMENT, "graph is NULL");
    QT_EXPECT_ERR(op(g, a, a, w, 1e-6f, 0, NULL), QUANTA_ERR_INVALID_ARGUMENT, "out is NULL");
    ck_assert_int_eq(op(g, a, a, w, 1e-6f, 0, &y), QUANTA_OK);
    ck_assert_int_eq(op(g, a, a, w, 1e-6f, 1, &y), QUANTA_OK);
    quanta_graph_destroy(g);
}
