/* ref_matmul.c — y[M,N] = x[M,K] · W[N,K]^T with W in any dtype or quantized format, matmul_glu
 * (two such products of one x through a gated activation) and matmul_multi (two or three such
 * products of one x, each its own result). */
#include <stdlib.h>

#include "ref_ops.h"

/* y[M,N] = x[M,K]·w[N,K]^T in f32 (each dot product summed in double) into yf. */
static quanta_status matmul_f32(const char *op, const qn_tensor *x, const qn_tensor *w, float *yf) {
    const size_t nx = qn_ref_count(x);
    qn_ref_rows W;
    qn_ref_rows_open(w, &W);
    const int64_t K = W.cols, N = W.rows;
    size_t M = 1;
    for (int i = 0; i < x->desc.ndim - 1; i++) M *= (size_t)x->desc.dims[i];

    float *xf = qn_ref_load(x, nx);
    float *wrow = qn_ref_calloc((size_t)K, sizeof(float));
    if (!xf || !wrow) {
        free(xf), free(wrow);
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
    free(xf), free(wrow);
    return QUANTA_OK;
}

quanta_status qn_ref_matmul(const qn_node *node) {
    const size_t ny = qn_ref_count(node->dst);
    float *yf = qn_ref_calloc(ny, sizeof(float));
    if (!yf) return qn_ref_oom("matmul");
    quanta_status st = matmul_f32("matmul", node->src[0], node->src[1], yf);
    if (st == QUANTA_OK) qn_ref_store(node->dst, yf, ny);
    free(yf);
    return st;
}

/* act(x·w_gate^T) * (x·w_up^T): both products in f32 (not rounded to the dtype), the
 * activation and the product in double, as qn_ref_glu. */
quanta_status qn_ref_matmul_glu(const qn_node *node) {
    const char *op = "matmul_glu";
    const size_t ny = qn_ref_count(node->dst);
    float *gf = qn_ref_calloc(ny, sizeof(float)), *uf = qn_ref_calloc(ny, sizeof(float));
    quanta_status st = gf && uf ? QUANTA_OK : qn_ref_oom(op);
    if (st == QUANTA_OK) st = matmul_f32(op, node->src[0], node->src[1], gf);
    if (st == QUANTA_OK) st = matmul_f32(op, node->src[0], node->src[2], uf);
    if (st == QUANTA_OK) {
        const quanta_glu_act act = (quanta_glu_act)node->params.glu_act;
        for (size_t i = 0; i < ny; i++) gf[i] = (float)(qn_ref_activation(act, gf[i]) * (double)uf[i]);
        qn_ref_store(node->dst, gf, ny);
    }
    free(gf), free(uf);
    return st;
}

/* Each product as qn_ref_matmul computes it alone, into dst, extra_dst[0] and extra_dst[1]. */
quanta_status qn_ref_matmul_multi(const qn_node *node) {
    const qn_tensor *dsts[3] = {node->dst, node->extra_dst[0], node->extra_dst[1]};
    quanta_status st = QUANTA_OK;
    for (int i = 0; i < 3 && st == QUANTA_OK && node->src[1 + i]; i++) {
        qn_node one = {.op = QN_OP_MATMUL, .nsrc = 2, .src = {node->src[0], node->src[1 + i]}, .dst = dsts[i]};
        st = qn_ref_matmul(&one);
    }
    return st;
}
