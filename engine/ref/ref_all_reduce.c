/* ref_all_reduce.c — the all_reduce op on host memory: the input in f32, summed over the
 * ranks by the node's communicator (engine/comm.h), stored in the output's dtype. Other
 * backends reach it through the executor's fallback, so the op is correct everywhere. */
#include <stdlib.h>

#include "ref_ops.h"
#include "comm.h"

quanta_status qn_ref_all_reduce(const qn_node *node) {
    static const char op[] = "all_reduce";
    const qn_tensor *x = node->src[0], *y = node->dst;
    quanta_comm *comm = node->params.comm;
    if (!comm || !comm->ops || !comm->ops->all_reduce_host)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "all_reduce: params.comm is NULL or cannot reduce host memory");
    const size_t n = qn_ref_count(x); /* y: x's shape (infer_all_reduce) */
    float *v = qn_ref_load(x, n);
    /* A rank that cannot get memory still takes part (with no data), so the others fail too
     * instead of waiting for it forever. */
    quanta_status st = comm->ops->all_reduce_host(comm, v, n);
    if (!v) return qn_ref_oom(op);
    if (st == QUANTA_OK) qn_ref_store(y, v, n);
    free(v);
    return st;
}
