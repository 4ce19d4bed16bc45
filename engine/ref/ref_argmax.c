/*
 * ref_argmax.c — argmax over the last dim: per row the index of the largest element, the first
 * where several tie (a +Inf beats every finite value), -1 where the row holds a NaN or only -Inf.
 */
#include <math.h>
#include <stdlib.h>

#include "ref_ops.h"

quanta_status qn_ref_argmax(const qn_node *node) {
    const qn_tensor *x = node->src[0], *out = node->dst;
    const size_t n = qn_ref_count(x), V = (size_t)x->desc.dims[x->desc.ndim - 1], rows = n / V;
    if (n == 0) return QUANTA_OK;
    float *xf = qn_ref_load(x, n);
    if (!xf) return qn_ref_oom("argmax");
    int32_t *o = qn_host_ptr(out);
    for (size_t r = 0; r < rows; r++) {
        const float *row = xf + r * V;
        int32_t best = -1;
        for (size_t i = 0; i < V; i++) {
            if (row[i] != row[i]) { /* NaN: nothing can be chosen */
                best = -1;
                break;
            }
            if (row[i] != -INFINITY && (best < 0 || row[i] > row[best])) best = (int32_t)i;
        }
        o[r] = best;
    }
    free(xf);
    return QUANTA_OK;
}
