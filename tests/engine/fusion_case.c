/* fusion_case.c — the plan harness of the fused-op tests (fusion_case.h). */
#include "fusion_case.h"

#include <string.h>

#include "qt_check.h"
#include "qt_plan_guard.h"
#include "qt_tensor.h"
#include "test_util.h"

void qt_fusion_begin(qt_fusion_graph *f, const char *name0, const char *name1, int64_t rows, int64_t D) {
    quanta_tensor_desc dx = qt_desc(QUANTA_F32, 2, rows, D, 0, 0);
    ck_assert_int_eq(quanta_graph_create(&f->g), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(f->g, name0, &dx, &f->in[0]), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(f->g, name1, &dx, &f->in[1]), QUANTA_OK);
}

void qt_fusion_run(qt_fusion_graph *f, quanta_backend *be, const char *name, int kind, int want_ops,
                   const char *want_first, const float *v0, const float *v1, size_t n, int nout,
                   quanta_tensor *const *outs, float *const *ys) {
    quanta_plan *plan;
    plan = qt_plan_guarded(f->g, be);
    if (want_ops >= 0) /* -1: either plan is right (a backend's claim behind a switch) */
        ck_assert_msg(quanta_plan_op_count(plan) == want_ops, "%s case %d: %d ops, expected %d", name, kind,
                      quanta_plan_op_count(plan), want_ops);
    const char *op = NULL;
    ck_assert_int_eq(quanta_plan_op_info(plan, 0, &op, NULL), QUANTA_OK);
    ck_assert_msg(!want_first || !strcmp(op, want_first), "%s case %d: first op %s, expected %s", name, kind, op,
                  want_first);
    ck_assert_int_eq(quanta_plan_set_input(plan, f->in[0], v0, n * sizeof *v0), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_set_input(plan, f->in[1], v1, n * sizeof *v1), QUANTA_OK);
    ck_assert_msg(quanta_plan_execute(plan) == QUANTA_OK, "%s", quanta_last_error());
    for (int i = 0; i < nout; i++) {
        qt_poison_f32(ys[i], n);
        ck_assert_int_eq(quanta_plan_get_output(plan, outs[i], ys[i], n * sizeof *ys[i]), QUANTA_OK);
    }
    quanta_plan_destroy(plan);
    quanta_graph_destroy(f->g);
    f->g = NULL;
}

void qt_fusion_check_broadcast_kept(qt_fusion_pair pair) {
    quanta_backend *be;
    ck_assert_int_eq(quanta_backend_open("ref", &be), QUANTA_OK);
    quanta_graph *g;
    quanta_plan *plan;
    quanta_tensor *tx, *tr, *ty;
    quanta_tensor_desc dx = qt_desc(QUANTA_F32, 2, 4, 16, 0, 0), dr = qt_desc(QUANTA_F32, 1, 16, 0, 0, 0);
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "x", &dx, &tx), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "row", &dr, &tr), QUANTA_OK);
    ck_assert_int_eq(pair(g, tx, tr, &ty), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(g, ty), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_create(g, be, &plan), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_op_count(plan), 2);
    quanta_plan_destroy(plan);
    quanta_graph_destroy(g);
    quanta_backend_close(be);
}
