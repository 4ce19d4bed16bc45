/* ref_matmul.c — y[M,N] = x[M,K] · W[N,K]^T with W in any dtype or quantized format. */
#include <stdlib.h>

#include "ref_ops.h"

quanta_status qn_ref_matmul(const qn_node *node) {
    const char *op = "matmul";
    const qn_tensor *x = qn_ref_src(node, 0), *w = qn_ref_src(node, 1), *y = node->dst;
    size_t nx, ny;
    quanta_status st = qn_ref_float(x, op, "x", &nx);
    if (st != QUANTA_OK) return st;
    st = qn_ref_float(y, op, "out", &ny);
    if (st != QUANTA_OK) return st;
    if (w && w->desc.ndim != 2)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "ref matmul: w must be 2-D [N,K], got %d-D", (int)w->desc.ndim);
    qn_ref_rows W;
    st = qn_ref_rows_open(w, op, "w", &W);
    if (st != QUANTA_OK) return st;

    int64_t K = x->desc.dims[x->desc.ndim - 1], N = W.rows;
    size_t M = 1;
    for (int i = 0; i < x->desc.ndim - 1; i++) M *= (size_t)x->desc.dims[i]; /* <= nx, no overflow */
    if (W.cols != K)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "ref matmul: w has K = %lld columns, x has K = %lld",
                            (long long)W.cols, (long long)K);
    size_t mn;
    if (!qn_mul_size(M, (size_t)N, &mn) || y->desc.dims[y->desc.ndim - 1] != N || ny != mn)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "ref matmul: out must hold [M = %zu, N = %lld] elements with last dim N, got %zu", M,
                            (long long)N, ny);

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
