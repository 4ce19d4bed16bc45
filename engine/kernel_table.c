/* kernel_table.c — whether a backend runs a node itself: the backend's kernel table (which
 * op × dtype of the op's format source it has code for, backend.h) and its own kernel limits
 * (supports_op). The executor asks this to pick the reference fallback; a backend's run asks
 * it for the error when handed a node it lacks. */
#include "backend.h"
#include "error.h"
#include "op_table.h"

/* The node's format-source dtype in the backend's table (no table: the reference, all). */
static bool in_table(const qn_backend_ops *ops, const qn_node *node, quanta_dtype *dt) {
    const qn_op_def *d = qn_op_def_of(node->op);
    if (!d) return false;
    const qn_tensor *f = d->format_src < node->nsrc ? node->src[d->format_src] : NULL;
    *dt = f ? f->desc.dtype : QUANTA_F32;
    if (!ops->kernels) return true;
    return (unsigned)*dt < 64 && (ops->kernels[node->op] & QN_DT_BIT(*dt)) != 0;
}

bool qn_backend_runs_node(const qn_backend_ops *ops, void *self, const qn_node *node) {
    quanta_dtype dt;
    if (!node || !node->dst || !in_table(ops, node, &dt)) return false;
    return !ops->supports_op || ops->supports_op(self, node);
}

quanta_status qn_backend_check_node(const qn_backend_ops *ops, void *self, const qn_node *node) {
    if (!node || !node->dst)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s run: %s is NULL", ops->name, node ? "node->dst" : "node");
    const qn_op_def *d = qn_op_def_of(node->op);
    quanta_dtype dt = QUANTA_F32; /* in_table sets it; initialized for -O3 -Werror (maybe-uninitialized) */
    if (!in_table(ops, node, &dt)) {
        const char *dn = quanta_dtype_name(dt);
        return qn_error_set(QUANTA_ERR_UNSUPPORTED, "%s has no %s kernel for %s of dtype %s", ops->name,
                            qn_op_name(node->op), d ? d->src_names[d->format_src] : "its source", dn ? dn : "invalid");
    }
    if (ops->supports_op && !ops->supports_op(self, node))
        return qn_error_set(QUANTA_ERR_UNSUPPORTED, "%s run: op %s with these sizes is beyond its kernels' limits",
                            ops->name, qn_op_name(node->op));
    return QUANTA_OK;
}
