/*
 * ref_attention.c — scaled dot-product attention computed the naive way: for each query row
 * a full row of scores over the visible keys, max, exp and sum in double, then the weighted
 * sum of v. No tiling, no online softmax: this is what the fast kernels are checked against.
 */
#include <math.h>
#include <stdlib.h>

#include "ref_ops.h"

static quanta_status att_dims(const qn_tensor *t, const char *arg, size_t *count) {
    quanta_status st = qn_ref_float(t, "attention", arg, count);
    if (st != QUANTA_OK) return st;
    if (t->desc.ndim != 4)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "ref attention: %s must be 4-D [B,H,N,D], got %d-D", arg,
                            (int)t->desc.ndim);
    return QUANTA_OK;
}

quanta_status qn_ref_attention(const qn_node *node) {
    const char *op = "attention";
    const qn_tensor *q = qn_ref_src(node, 0), *k = qn_ref_src(node, 1), *v = qn_ref_src(node, 2);
    const qn_tensor *mask = qn_ref_src(node, 3), *kvl = qn_ref_src(node, 4), *out = node->dst;
    size_t nq, nk, nv, no, nm = 0, nl = 0;
    quanta_status st;
    if ((st = att_dims(q, "q", &nq)) != QUANTA_OK || (st = att_dims(k, "k", &nk)) != QUANTA_OK ||
        (st = att_dims(v, "v", &nv)) != QUANTA_OK || (st = att_dims(out, "out", &no)) != QUANTA_OK)
        return st;

    const int64_t B = q->desc.dims[0], Hq = q->desc.dims[1], Nq = q->desc.dims[2], D = q->desc.dims[3];
    const int64_t Hkv = k->desc.dims[1], Nk = k->desc.dims[2], Dv = v->desc.dims[3];
    if (k->desc.dims[0] != B || k->desc.dims[3] != D)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "ref attention: k is [%lld,%lld,%lld,%lld], expected [B = %lld, Hkv, Nk, D = %lld]",
                            (long long)k->desc.dims[0], (long long)Hkv, (long long)Nk, (long long)k->desc.dims[3],
                            (long long)B, (long long)D);
    if (v->desc.dims[0] != B || v->desc.dims[1] != Hkv || v->desc.dims[2] != Nk)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "ref attention: v is [%lld,%lld,%lld,%lld], expected [B = %lld, Hkv = %lld, Nk = %lld, D]",
                            (long long)v->desc.dims[0], (long long)v->desc.dims[1], (long long)v->desc.dims[2],
                            (long long)Dv, (long long)B, (long long)Hkv, (long long)Nk);
    if (Hkv < 1 || Hq % Hkv != 0)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "ref attention: q heads Hq = %lld must be a multiple of kv heads Hkv = %lld", (long long)Hq,
                            (long long)Hkv);
    if (out->desc.dims[0] != B || out->desc.dims[1] != Hq || out->desc.dims[2] != Nq || out->desc.dims[3] != Dv)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "ref attention: out is [%lld,%lld,%lld,%lld], expected [%lld,%lld,%lld,%lld]",
                            (long long)out->desc.dims[0], (long long)out->desc.dims[1], (long long)out->desc.dims[2],
                            (long long)out->desc.dims[3], (long long)B, (long long)Hq, (long long)Nq, (long long)Dv);

    int mask_batched = 0;
    if (mask) {
        if ((st = qn_ref_typed(mask, QUANTA_U8, op, "mask", &nm)) != QUANTA_OK) return st;
        const int64_t *md = mask->desc.dims;
        if (mask->desc.ndim == 2 && md[0] == Nq && md[1] == Nk) {
            mask_batched = 0;
        } else if (mask->desc.ndim == 3 && md[0] == B && md[1] == Nq && md[2] == Nk) {
            mask_batched = 1;
        } else {
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                                "ref attention: mask must be u8 [Nq = %lld, Nk = %lld] or [B = %lld, Nq, Nk], got a "
                                "%d-D mask with dims[0] = %lld",
                                (long long)Nq, (long long)Nk, (long long)B, (int)mask->desc.ndim, (long long)md[0]);
        }
    }
    const int32_t *lens = NULL;
    if (kvl) {
        if ((st = qn_ref_typed(kvl, QUANTA_I32, op, "kv_lens", &nl)) != QUANTA_OK) return st;
        if (kvl->desc.ndim != 1 || kvl->desc.dims[0] != B)
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "ref attention: kv_lens must be i32 [B = %lld]",
                                (long long)B);
        lens = qn_host_ptr(kvl);
        for (int64_t b = 0; b < B; b++)
            if (lens[b] < 0 || lens[b] > Nk)
                return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                                    "ref attention: kv_lens[%lld] = %d is outside [0, Nk = %lld]", (long long)b,
                                    (int)lens[b], (long long)Nk);
    }

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
