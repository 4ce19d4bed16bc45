/*
 * paged_attention.cl — attention over a paged KV cache (engine op paged_attention; the
 * reference is engine/ref/ref_paged_attention.c). One work-item per (query, q head, sequence):
 * an online softmax over the keys the query sees, each key's row found through the sequence's
 * block table (row = table[s][j / bs] * bs + j % bs in the [1, Hkv, R, D] pools). The host
 * checked the lengths and the visible table entries before the launch.
 */
#define QN_PAGED_MAXD 256

kernel void qn_paged_attention(const global uchar *qb, ulong qo, int qdt, const global uchar *kb, ulong ko, int kdt,
                               const global uchar *vb, ulong vo, int vdt, const global int *tb, ulong to,
                               const global int *lb, ulong lo, global uchar *ob, ulong oo, int odt, int S, int Hq,
                               int Hkv, int T, int D, int R, int bs, int MB, float scale, int causal, int window) {
    const int t = get_global_id(0), h = get_global_id(1), s = get_global_id(2);
    if (t >= T || h >= Hq || s >= S) return;
    const global int *table = (const global int *)((const global uchar *)tb + to) + (size_t)s * MB;
    const int L = ((const global int *)((const global uchar *)lb + lo))[s];
    const int hk = h / (Hq / Hkv), p = L - T + t;
    int kbeg = 0, kend = L;
    if (causal) kend = min(kend, p + 1);
    if (window > 0) kbeg = max(kbeg, p - window + 1);
    const size_t qrow = ((size_t)(s * Hq + h) * T + t) * D;
    float qv[QN_PAGED_MAXD], acc[QN_PAGED_MAXD];
    for (int d = 0; d < D; d++) {
        qv[d] = qn_ld(qb + qo, qdt, qrow + d) * scale;
        acc[d] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    for (int j = kbeg; j < kend; j++) {
        const size_t row = ((size_t)hk * R + (size_t)table[j / bs] * bs + j % bs) * D;
        float dot = 0.0f;
        for (int d = 0; d < D; d++) dot += qv[d] * qn_ld(kb + ko, kdt, row + d);
        const float mn = fmax(m, dot), alpha = exp(m - mn), w = exp(dot - mn);
        l = l * alpha + w;
        for (int d = 0; d < D; d++) acc[d] = acc[d] * alpha + w * qn_ld(vb + vo, vdt, row + d);
        m = mn;
    }
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
    for (int d = 0; d < D; d++) qn_st(ob + oo, odt, qrow + d, acc[d] * inv);
}
