/* ref_matmul.c — y[M,N] = x[M,K] · W[N,K]^T with W in any dtype or quantized format. */
#include <stdlib.h>

#include "ref_ops.h"

quanta_status qn_ref_matmul(const qn_node *node) {
    const char *op = "matmul";
    const qn_tensor *x = node->src[0], *w = node->src[1], *y = node->dst;
    const size_t nx = qn_ref_count(x), ny = qn_ref_count(y);
    qn_ref_rows W;
    qn_ref_rows_open(w, &W);
    const int64_t K = W.cols, N = W.rows;
    size_t M = 1;
    for (int i = 0; i < x->desc.ndim - 1; i++) M *= (size_t)x->desc.dims[i];

    float *xf = qn_ref_load(x, nx);
    float *wrow = qn_ref_calloc((size_t)K, sizeof(float));
    float *yf = qn_ref_calloc(ny, sizeof(float));
    if (!xf || !wrow || !yf) {
        free(xf), free(wrow), free(yf);
        return qn_ref_oom(op);
    }
    for (int64_t n = 0; n < N; n++) {
        qn_ref_rows_get(&W, n, wrow);
        for (size_t m = 0; m < M; m++) {
            const float *xr = xf + m * (size_t)K;
            double acc = 0.0;
            for (int64_t k = 0; k < K; k++) acc += (double)xr[k] * (double)wrow[k];
            yf[m * (size_t)N + (size_t)n] = (float)acc;
        }
    }
    qn_ref_store(y, yf, ny);
    free(xf), free(wrow), free(yf);
    return QUANTA_OK;
}
