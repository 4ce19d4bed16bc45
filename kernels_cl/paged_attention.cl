/*
 * paged_attention.cl — attention over a paged KV cache (engine op paged_attention; the
 * reference is engine/ref/ref_paged_attention.c). One work-item per (query, q head, sequence):
 * an online softmax over the keys the query sees, each key's row found through the sequence's
 * block table (row = table[s][j / bs] * bs + j % bs in the [1, Hkv, R, D] pools). The kernel
 * checks what it trusts on the device, as the reference's qn_paged_check does on the host: a
 * length outside [T, MB * bs] or a visible block outside the pool's nblk is reported through err
 * (qn_report) and read nowhere, so a step needs no read-back (which would drain the queue before
 * every layer and keep the plan from being recorded).
 *
 * Quantized pools (q8, fp8_e4m3; formats/README.md): codes [Hkv * R][D], then one f32 scale per
 * row at byte Hkv * R * D + row * 4. A key's dot product is taken over its decoded codes and
 * scaled once; a value's weight carries its scale. qn_paged_kv_write quantizes rows into such a
 * pool (write_rows), one work-item per row, by the rules of formats/q8.c and formats/fp8.c.
 */
#define QN_PAGED_MAXD 256

/* Element i of a pool, its row scale left out for q8 / fp8 (1 for float pools). */
inline float qn_kv_code(const global uchar *p, int dt, size_t i) {
    if (dt == QN_DT_Q8) return (float)((const global char *)p)[i];
    if (dt == QN_DT_E4M3) return qn_e4m3_f32(p[i]);
    return qn_ld(p, dt, i);
}

/* Scale of row r of a pool with `rows` rows of D (1 for float pools). */
inline float qn_kv_scale(const global uchar *p, int dt, size_t rows, int D, size_t r) {
    if (dt != QN_DT_Q8 && dt != QN_DT_E4M3) return 1.0f;
    return qn_ldf_any(p + rows * (size_t)D + r * 4);
}

/* f32 -> OCP E4M3 "fn", round half to even on the bit pattern, saturating at +-448 (formats/fp8.c). */
inline uchar qn_kv_e4m3(float x) {
    uint u = as_uint(x);
    const uint sign = (u >> 24) & 0x80u;
    u &= 0x7fffffffu;
    if (u > 0x7f800000u) return (uchar)(sign | 0x7fu);
    if (as_float(u) >= QN_FP8_E4M3_MAX) return (uchar)(sign | 0x7eu);
    const int e = (int)(u >> 23) - 127;
    if (e >= -6) { /* normal: rebias 127 -> 7, round 20 dropped bits */
        uint r = u - (120u << 23), rem = r & 0xfffffu;
        r >>= 20;
        if (rem > 0x80000u || (rem == 0x80000u && (r & 1u))) r++;
        return (uchar)(sign | r);
    }
    if ((u >> 23) == 0u) return (uchar)sign;
    const int sh = 14 - e; /* subnormal: value / 2^-9 */
    if (sh >= 25) return (uchar)sign;
    const uint m = (u & 0x7fffffu) | 0x800000u, hv = 1u << (sh - 1);
    uint r = m >> sh;
    const uint rem = m & ((1u << sh) - 1u);
    if (rem > hv || (rem == hv && (r & 1u))) r++;
    return (uchar)(sign | r);
}

/* write_rows of src [BH, T, D] (float) into a quantized pool [BH, Nmax, D] at rows start.. (or
 * start[t] each, ns = T): each
 * row gets scale max|x| / 127 (q8, codes rint-clamped to +-127) or / 448 (e4m3); an all-zero
 * row gets scale 0 and zero codes. A start outside the pool sets the error flag (as write_rows). */
kernel void qn_paged_kv_write(const global uchar *sb, ulong so, int sdt, global uchar *db, ulong dof, int ddt,
                              ulong BH, ulong T, ulong Nmax, int D, const global uchar *startp, ulong sto, ulong ns,
                              global int *err) {
    const size_t i = get_global_id(0);
    if (i >= BH * T) return;
    const long dr = qn_write_row_dest(startp, sto, ns, i % T, T, Nmax, i == 0, err);
    if (dr < 0) return;
    const global uchar *x = sb + so;
    global uchar *d = db + dof;
    const size_t srow = i * (size_t)D, drow = (i / T) * Nmax + (size_t)dr;
    float amax = 0.0f;
    for (int c = 0; c < D; c++) amax = fmax(amax, fabs(qn_ld(x, sdt, srow + c)));
    const float scale = amax / (ddt == QN_DT_Q8 ? 127.0f : QN_FP8_E4M3_MAX);
    const uint sbits = as_uint(scale);
    global uchar *sp = d + BH * Nmax * (size_t)D + drow * 4;
    for (int k = 0; k < 4; k++) sp[k] = (uchar)(sbits >> (8 * k)); /* unaligned: byte stores */
    global uchar *q = d + drow * (size_t)D;
    for (int c = 0; c < D; c++) {
        const float v = scale > 0.0f ? qn_ld(x, sdt, srow + c) / scale : 0.0f;
        q[c] = ddt == QN_DT_Q8 ? (uchar)(char)clamp(rint(v), -127.0f, 127.0f) : qn_kv_e4m3(v);
    }
}

kernel void qn_paged_attention(const global uchar *qb, ulong qo, int qdt, const global uchar *kb, ulong ko, int kdt,
                               const global uchar *vb, ulong vo, int vdt, const global int *tb, ulong to,
                               const global int *lb, ulong lo, global uchar *ob, ulong oo, int odt, int S, int Hq,
                               int Hkv, int T, int D, int R, int bs, int MB, float scale, int causal, int window,
                               int nblk, global int *err) {
    const int t = get_global_id(0), h = get_global_id(1), s = get_global_id(2);
    if (t >= T || h >= Hq || s >= S) return;
    const global int *table = (const global int *)((const global uchar *)tb + to) + (size_t)s * MB;
    const int L = ((const global int *)((const global uchar *)lb + lo))[s];
    if (L < T || L > MB * bs) {
        if (t == 0 && h == 0) qn_report(err, QN_ERR_PAGED_KV_LENS, s, L, T);
        return;
    }
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
    if (kdt == QN_DT_F32 && vdt == QN_DT_F32 && (D & 3) == 0) {
        /* f32 pools (the server's default): four elements per load and no dtype switch per
         * element; on a CPU this loop is most of a decode step's attention. */
        const global float *K = (const global float *)(kb + ko), *V = (const global float *)(vb + vo);
        for (int j = kbeg; j < kend; j++) {
            const int blk = table[j / bs];
            if (blk < 0 || blk >= nblk) {
                qn_report(err, QN_ERR_PAGED_BLOCK, s, j / bs, blk);
                return;
            }
            const size_t row = ((size_t)hk * R + (size_t)blk * bs + j % bs) * D;
            float4 d4 = (float4)(0.0f);
            for (int d = 0; d < D; d += 4) d4 += vload4(0, qv + d) * vload4(0, K + row + d);
            const float dot = (d4.x + d4.y) + (d4.z + d4.w);
            const float mn = fmax(m, dot), alpha = exp(m - mn), w = exp(dot - mn);
            l = l * alpha + w;
            for (int d = 0; d < D; d += 4) vstore4(vload4(0, acc + d) * alpha + w * vload4(0, V + row + d), 0, acc + d);
            m = mn;
        }
        const float inv = l > 0.0f ? 1.0f / l : 0.0f;
        for (int d = 0; d < D; d++) qn_st(ob + oo, odt, qrow + d, acc[d] * inv);
        return;
    }
    const size_t rows = (size_t)Hkv * R;
    for (int j = kbeg; j < kend; j++) {
        const int blk = table[j / bs];
        if (blk < 0 || blk >= nblk) {
            qn_report(err, QN_ERR_PAGED_BLOCK, s, j / bs, blk);
            return;
        }
        const size_t r = (size_t)hk * R + (size_t)blk * bs + j % bs, row = r * D;
        float dot = 0.0f;
        for (int d = 0; d < D; d++) dot += qv[d] * qn_kv_code(kb + ko, kdt, row + d);
        dot *= qn_kv_scale(kb + ko, kdt, rows, D, r);
        const float mn = fmax(m, dot), alpha = exp(m - mn), w = exp(dot - mn);
        const float wv = w * qn_kv_scale(vb + vo, vdt, rows, D, r);
        l = l * alpha + w;
        for (int d = 0; d < D; d++) acc[d] = acc[d] * alpha + wv * qn_kv_code(vb + vo, vdt, row + d);
        m = mn;
    }
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
    for (int d = 0; d < D; d++) qn_st(ob + oo, odt, qrow + d, acc[d] * inv);
}
