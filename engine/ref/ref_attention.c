/*
 * ref_attention.c — scaled dot-product attention computed the naive way: for each query row
 * a full row of scores over the visible keys, max, exp and sum in double, then the weighted
 * sum of v. No tiling, no online softmax: this is what the fast kernels are checked against.
 */
#include <math.h>
#include <stdlib.h>

#include "ref_ops.h"

quanta_status qn_ref_attention(const qn_node *node) {
    const char *op = "attention";
    const qn_tensor *q = node->src[0], *k = node->src[1], *v = node->src[2];
    const qn_tensor *mask = qn_ref_src(node, 3), *kvl = qn_ref_src(node, 4), *out = node->dst;
    const size_t nq = qn_ref_count(q), nk = qn_ref_count(k), nv = qn_ref_count(v), no = qn_ref_count(out);
    const int64_t B = q->desc.dims[0], Hq = q->desc.dims[1], Nq = q->desc.dims[2], D = q->desc.dims[3];
    const int64_t Hkv = k->desc.dims[1], Nk = k->desc.dims[2], Dv = v->desc.dims[3];
    const int mask_batched = mask && mask->desc.ndim == 3; /* [B, Nq, Nk], else [Nq, Nk] */
    /* Key lengths are data: checked here, before anything is written. */
    const int32_t *lens = kvl ? qn_host_ptr(kvl) : NULL;
    for (int64_t b = 0; lens && b < B; b++)
        if (lens[b] < 0 || lens[b] > Nk)
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "ref attention: kv_lens[%lld] = %d is outside [0, Nk = %lld]",
                                (long long)b, (int)lens[b], (long long)Nk);

    const quanta_attention_params *pa = &node->params.attention;
    const double scale = pa->scale != 0.0f ? (double)pa->scale : 1.0 / sqrt((double)D);
    const int64_t group = Hq / Hkv;
    const uint8_t *mbase = mask ? (const uint8_t *)qn_host_ptr(mask) : NULL;

    float *qf = qn_ref_load(q, nq), *kf = qn_ref_load(k, nk), *vf = qn_ref_load(v, nv);
    float *of = qn_ref_calloc(no, sizeof(float));
    double *s = qn_ref_calloc((size_t)Nk, sizeof(double));
    double *acc = qn_ref_calloc((size_t)Dv, sizeof(double));
    if (!qf || !kf || !vf || !of || !s || !acc) {
        free(qf), free(kf), free(vf), free(of), free(s), free(acc);
        return qn_ref_oom(op);
    }

    for (int64_t b = 0; b < B; b++) {
        const int64_t L = lens ? lens[b] : Nk;
        for (int64_t h = 0; h < Hq; h++) {
            const int64_t hk = h / group;
            const float *kh = kf + (size_t)((b * Hkv + hk) * Nk) * (size_t)D;
            const float *vh = vf + (size_t)((b * Hkv + hk) * Nk) * (size_t)Dv;
            for (int64_t i = 0; i < Nq; i++) {
                const float *qr = qf + (size_t)(((b * Hq + h) * Nq + i) * D);
                float *orow = of + (size_t)(((b * Hq + h) * Nq + i) * Dv);
                const uint8_t *mrow = NULL;
                if (mbase) mrow = mbase + (size_t)(((mask_batched ? b * Nq : 0) + i) * Nk);
                const int64_t p = L - Nq + i; /* the query's position: queries are the last Nq keys */
                double mx = -INFINITY;
                int any = 0;
                for (int64_t j = 0; j < Nk; j++) {
                    int vis = j < L;
                    if (pa->causal && j > p) vis = 0;
                    if (pa->window > 0 && j <= p - pa->window) vis = 0;
                    if (mrow && mrow[j] == 0) vis = 0;
                    if (!vis) {
                        s[j] = -INFINITY;
                        continue;
                    }
                    const float *kr = kh + (size_t)(j * D);
                    double dot = 0.0;
                    for (int64_t d = 0; d < D; d++) dot += (double)qr[d] * (double)kr[d];
                    s[j] = dot * scale;
                    if (!any || s[j] > mx) mx = s[j];
                    any = 1;
                }
                for (int64_t d = 0; d < Dv; d++) acc[d] = 0.0;
                if (any) {
                    double sum = 0.0;
                    for (int64_t j = 0; j < Nk; j++) {
                        if (s[j] == -INFINITY) continue; /* hidden key */
                        const double e = exp(s[j] - mx);
                        sum += e;
                        const float *vr = vh + (size_t)(j * Dv);
                        for (int64_t d = 0; d < Dv; d++) acc[d] += e * (double)vr[d];
                    }
                    for (int64_t d = 0; d < Dv; d++) acc[d] /= sum;
                }
                for (int64_t d = 0; d < Dv; d++) orow[d] = (float)acc[d];
            }
        }
    }
    qn_ref_store(out, of, no);
    free(qf), free(kf), free(vf), free(of), free(s), free(acc);
    return QUANTA_OK;
}
