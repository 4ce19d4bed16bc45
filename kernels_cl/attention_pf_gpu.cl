/*
 * attention_pf_gpu.cl — the GPU class's prefill attention (many query rows): FlashAttention's
 * online softmax with register tiles, for head dims up to 256.
 *
 * Why: qn_attention (attention.cl) gives a 64-item group 16 rows x 32 keys; each score is one
 * item's serial loop over D, each row's softmax one item's serial loop over the keys, and P·V
 * reads a V element per FMA: on an H100 through NVIDIA's OpenCL the kernel row (512 x 512
 * causal, 32 heads of 128) ran at 288k tok/s, ~2 TFLOP/s, and a 1B prompt of 512 spends
 * ~1.8 ms a layer in it (Gemma's heads of 256 got 8-row tiles there). Here a group of 128 items
 * owns BQ = 64 rows (32 where a head dim is past 64, 16 past 128) and walks the keys 32 at a time:
 *   S = Q·Kᵀ   each item 4 (or 2) rows x 4 keys, Q and K d-major in local memory: per d one
 *              float4 of rows (shared by 8 items: a broadcast) and one float4 of keys, 16 FMAs;
 *   softmax    each item's max and sum over its 4 keys, combined per row through local memory
 *              (8 partials a row), the running max and sum per row as in attention.cl;
 *   O += P·V   each item 4 rows x 4 or 8 dims (float4s of V, a row of P as one float4).
 * Rows fold the query heads of one kv head into the query dimension (row rho: query head
 * hk·G + rho / Nq, query rho % Nq), as qn_attention does; key tiles hidden from all of a block's
 * rows (causal limit, window) are never loaded. K and V share one local buffer (loaded in turn,
 * in chunks of 128 dims: a 256-wide head takes two).
 * Split-KV as qn_attention's: with nsplit > 1 dimension 2 of the grid splits the keys (split_len a multiple of
 * QN_PF_BK), each split writes its normalised partial rows and log2-sum-exp to part and qn_attn_combine merges
 * them; the host splits where the row blocks alone leave compute units idle (Gemma's one kv head: 64 groups).
 * Base-2 exponentials with log2(e) folded into the query scale, as attention.cl.
 *
 * No `#pragma unroll` here: with them PoCL 3.1 (LLVM 15) miscompiled this kernel (heap corruption
 * and wrong rows in conformance; without them 333/333). The loops are of constant length 4 and 2,
 * which compilers unroll on their own.
 */

#define QN_PF_WG 128
#define QN_PF_BK 32

/* Four consecutive elements (i % 4 == 0) of an f32 / f16 / bf16 tensor, as qn_ld reads one. */
inline float4 qn_pf_ld4(const global uchar *p, int dt, size_t i) {
    if (dt == QN_DT_F32) return vload4(0, (const global float *)p + i);
    if (dt == QN_DT_F16) return vload_half4(0, (const global half *)p + i);
    const ushort4 u = vload4(0, (const global ushort *)p + i);
    return (float4)(qn_bf16_f32(u.x), qn_bf16_f32(u.y), qn_bf16_f32(u.z), qn_bf16_f32(u.w));
}

/* Tiles into local memory, an item's whole share (at most 8 float4s) loaded before any of it is stored: the
 * element-at-a-time loops these replace waited out one global load per element and item (a d-256 tile's K and V
 * were 128 loads in a row an item, ~465 us a Gemma prefill call on an H100). */
#define QN_PF_NLD 8
/* An item's loaded float4s (element e: row e % n, dims 4·(e / n) .. +3) stored d-major ([d][S]): lane = row, so
 * the stores hit 32 banks */
inline void qn_pf_store_dmajor(local float *dst, const float4 *r, int tot, int n, int S, int lid) {
    for (int u = 0; u < QN_PF_NLD; u++) {
        const int e = lid + u * QN_PF_WG, c = e % n, dd = 4 * (e / n);
        if (e < tot) {
            dst[dd * S + c] = r[u].x;
            dst[(dd + 1) * S + c] = r[u].y;
            dst[(dd + 2) * S + c] = r[u].z;
            dst[(dd + 3) * S + c] = r[u].w;
        }
    }
}

/* K keys k0 .. k0 + 31, dims d0 .. d0 + dn - 1, d-major ([dd][KS]): lane = key, so the stores hit 32 banks */
inline void qn_pf_stage_k(local float *KVf, const global uchar *kb, int kdt, size_t kvbase, int k0, int kend, int D,
                          int d0, int dn, int KS, int lid) {
    const int tot = QN_PF_BK * (dn / 4);
    float4 r[QN_PF_NLD];
    for (int u = 0; u < QN_PF_NLD; u++) {
        const int e = lid + u * QN_PF_WG, c = e % QN_PF_BK, j = k0 + c;
        r[u] = e < tot && j < kend ? qn_pf_ld4(kb, kdt, (kvbase + j) * D + d0 + 4 * (e / QN_PF_BK)) : (float4)0.0f;
    }
    qn_pf_store_dmajor(KVf, r, tot, QN_PF_BK, KS, lid);
}

/* V keys k0 .. k0 + 31, dims v0 .. v0 + vn - 1, key-major ([c][vn]): float4s along a key's row, coalesced */
inline void qn_pf_stage_v(local float4 *KV, const global uchar *vb, int vdt, size_t kvbase, int k0, int kend, int Dv,
                          int v0, int vn, int lid) {
    const int vn4 = vn / 4, tot = QN_PF_BK * vn4;
    float4 r[QN_PF_NLD];
    for (int u = 0; u < QN_PF_NLD; u++) {
        const int e = lid + u * QN_PF_WG, j = k0 + e / vn4;
        r[u] = e < tot && j < kend ? qn_pf_ld4(vb, vdt, (kvbase + j) * Dv + v0 + 4 * (e % vn4)) : (float4)0.0f;
    }
    for (int u = 0; u < QN_PF_NLD; u++) {
        const int e = lid + u * QN_PF_WG;
        if (e < tot) KV[e] = r[u];
    }
}

kernel __attribute__((reqd_work_group_size(QN_PF_WG, 1, 1)))
void qn_attention_pf(const global uchar *qb, ulong qo, int qdt, const global uchar *kb, ulong ko, int kdt,
                     const global uchar *vb, ulong vo, int vdt, const global uchar *mb, ulong mo, int mask_mode,
                     const global uchar *lb, ulong lo, int has_lens, global uchar *ob, ulong oo, int odt,
                     global float *part, ulong po, int Hq, int Hkv, int Nq, int Nk, int D, int Dv, float scale_log2,
                     int causal, int window, int BQ, int nsplit, int split_len, global int *err, local float4 *Qt, local float4 *KV, local float4 *Pt, local float *red,
                     local float *rowm, local float *rowl, local float *rowa) {
    const int lid = get_local_id(0);
    const int G = Hq / Hkv, rows = G * Nq;
    const int rb = get_group_id(0), bh = get_group_id(1), split = get_group_id(2);
    const int b = bh / Hkv, hk = bh % Hkv;
    const int rho0 = rb * BQ, nrow = min(BQ, rows - rho0);
    const int L = has_lens ? ((const global int *)(lb + lo))[b] : Nk;
    if (L < 0 || L > Nk) { /* the whole group leaves: nothing written, reported */
        if (lid == 0 && rb == 0 && split == 0) qn_report(err, QN_ERR_ATTENTION_KV_LENS, b, L, Nk);
        return;
    }
    /* the block's smallest and largest query index, for skipping tiles */
    int qmin = rho0 % Nq, qmax = (rho0 + nrow - 1) % Nq;
    if (rho0 / Nq != (rho0 + nrow - 1) / Nq) qmin = 0, qmax = Nq - 1;
    int kbeg = 0, kend = L;
    if (causal) kend = min(kend, L - Nq + qmax + 1);
    if (window > 0) kbeg = max(kbeg, L - Nq + qmin - window + 1);
    kbeg = max(kbeg, split * split_len) / QN_PF_BK * QN_PF_BK; /* this split's share (split_len: whole tiles) */
    kend = min(kend, (split + 1) * split_len);

    /* local layouts (in floats): Qt [D][BQ + 4] (rows of one d side by side), K as [D][BK + 4], V as
     * [BK][Dv], Pt [BK][BQ + 4]; red [2][8][BQ] (max, then sum partials of the 8 key groups) */
    const int QS = BQ + 4, KS = QN_PF_BK + 4, DC = min(D, 128), VC = min(Dv, 128);
    local float *Qf = (local float *)Qt, *KVf = (local float *)KV, *Pf = (local float *)Pt;
    { /* Q as K: BQ * D / 4 <= 1024 float4s, all loads first */
        float4 r4[QN_PF_NLD];
        const int tot = BQ * (D / 4);
        for (int u = 0; u < QN_PF_NLD; u++) {
            const int e = lid + u * QN_PF_WG, r = e % BQ, rho = rho0 + r;
            const int h = hk * G + rho / Nq, i = rho % Nq;
            r4[u] = e < tot && r < nrow ? qn_pf_ld4(qb + qo, qdt, ((size_t)(b * Hq + h) * Nq + i) * D + 4 * (e / BQ)) * scale_log2
                                        : (float4)0.0f;
        }
        qn_pf_store_dmajor(Qf, r4, tot, BQ, QS, lid);
    }
    for (int r = lid; r < BQ; r += QN_PF_WG) rowm[r] = -INFINITY, rowl[r] = 0.0f;
    /* S phase: item (sr, sc): rows RPI·sr .. +RPI-1 (RPI = BQ / 16: 4, 2 or 1), keys 4·sc .. +3 */
    const int RPI = BQ / 16, sr = lid >> 3, sc = lid & 7;
    /* P·V phase: item (pr, pq): rows 4·pr .. +3, float4s of V pq, pq + IPG (IPG items a row group) */
    const int IPG = QN_PF_WG / (BQ / 4), pr = lid / IPG, pq = lid % IPG, NV4 = Dv / 4;
    float4 acc[4][2];
    for (int i = 0; i < 4; i++) acc[i][0] = acc[i][1] = 0.0f;
    const size_t kvbase = (size_t)(b * Hkv + hk) * Nk;

    for (int k0 = kbeg; k0 < kend; k0 += QN_PF_BK) {
        float s[4][4];
        for (int i = 0; i < 4; i++) s[i][0] = s[i][1] = s[i][2] = s[i][3] = 0.0f;
        for (int d0 = 0; d0 < D; d0 += DC) { /* K in chunks of DC dims (one chunk up to 128) */
            const int dn = min(DC, D - d0);
            barrier(CLK_LOCAL_MEM_FENCE); /* the previous chunk's, or tile's V and P, reads are done */
            qn_pf_stage_k(KVf, kb + ko, kdt, kvbase, k0, kend, D, d0, dn, KS, lid);
            barrier(CLK_LOCAL_MEM_FENCE);
            if (RPI == 4) {
                for (int dd = 0; dd < dn; dd++) {
                    const float4 q = Qt[(d0 + dd) * (QS / 4) + sr], k = KV[dd * (KS / 4) + sc];
                    s[0][0] = fma(q.x, k.x, s[0][0]), s[0][1] = fma(q.x, k.y, s[0][1]), s[0][2] = fma(q.x, k.z, s[0][2]), s[0][3] = fma(q.x, k.w, s[0][3]);
                    s[1][0] = fma(q.y, k.x, s[1][0]), s[1][1] = fma(q.y, k.y, s[1][1]), s[1][2] = fma(q.y, k.z, s[1][2]), s[1][3] = fma(q.y, k.w, s[1][3]);
                    s[2][0] = fma(q.z, k.x, s[2][0]), s[2][1] = fma(q.z, k.y, s[2][1]), s[2][2] = fma(q.z, k.z, s[2][2]), s[2][3] = fma(q.z, k.w, s[2][3]);
                    s[3][0] = fma(q.w, k.x, s[3][0]), s[3][1] = fma(q.w, k.y, s[3][1]), s[3][2] = fma(q.w, k.z, s[3][2]), s[3][3] = fma(q.w, k.w, s[3][3]);
                }
            } else if (RPI == 2) { /* rows 2·sr, 2·sr + 1 */
                for (int dd = 0; dd < dn; dd++) {
                    const float2 q = vload2(0, Qf + (d0 + dd) * QS + 2 * sr);
                    const float4 k = KV[dd * (KS / 4) + sc];
                    s[0][0] = fma(q.x, k.x, s[0][0]), s[0][1] = fma(q.x, k.y, s[0][1]), s[0][2] = fma(q.x, k.z, s[0][2]), s[0][3] = fma(q.x, k.w, s[0][3]);
                    s[1][0] = fma(q.y, k.x, s[1][0]), s[1][1] = fma(q.y, k.y, s[1][1]), s[1][2] = fma(q.y, k.z, s[1][2]), s[1][3] = fma(q.y, k.w, s[1][3]);
                }
            } else { /* RPI == 1: row sr */
                for (int dd = 0; dd < dn; dd++) {
                    const float q = Qf[(d0 + dd) * QS + sr];
                    const float4 k = KV[dd * (KS / 4) + sc];
                    s[0][0] = fma(q, k.x, s[0][0]), s[0][1] = fma(q, k.y, s[0][1]), s[0][2] = fma(q, k.z, s[0][2]), s[0][3] = fma(q, k.w, s[0][3]);
                }
            }
        }
        /* hide what the row may not see; the item's max per row */
        float mx[4];
        for (int i = 0; i < 4; i++) {
            mx[i] = -INFINITY;
            const int r = RPI * sr + i, rho = rho0 + r;
            const int qi = rho % Nq, p = L - Nq + qi;
            const global uchar *mrow = mb + mo + (size_t)(mask_mode == 2 ? b * Nq + qi : qi) * Nk;
            for (int c = 0; c < 4; c++) {
                const int j = k0 + 4 * sc + c;
                bool vis = i < RPI && r < nrow && j < kend && j >= kbeg;
                if (vis && causal && j > p) vis = false;
                if (vis && window > 0 && j <= p - window) vis = false;
                if (vis && mask_mode && mrow[j] == 0) vis = false;
                s[i][c] = vis ? s[i][c] : -INFINITY;
                mx[i] = fmax(mx[i], s[i][c]);
                if (i < RPI) Pf[(4 * sc + c) * QS + r] = s[i][c]; /* kept here, not in registers, over the barriers */
            }
            if (i < RPI) red[sc * BQ + r] = mx[i];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int r = lid; r < BQ; r += QN_PF_WG) { /* the row's new max and the rescale of what it had */
            float m = rowm[r];
            const float mold = m;
            for (int g = 0; g < 8; g++) m = fmax(m, red[g * BQ + r]);
            rowa[r] = m == -INFINITY ? 1.0f : exp2(mold - m); /* mold = -inf gives 0 */
            rowm[r] = m;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        /* P into local memory (key-major), the item's sums per row; V over K (all reads of K are done) */
        for (int i = 0; i < 4; i++) {
            if (i >= RPI) continue;
            const int r = RPI * sr + i;
            const float m = rowm[r];
            float sum = 0.0f;
            for (int c = 0; c < 4; c++) {
                const float sv = Pf[(4 * sc + c) * QS + r], pe = sv == -INFINITY ? 0.0f : exp2(sv - m);
                Pf[(4 * sc + c) * QS + r] = pe;
                sum += pe;
            }
            red[(8 + sc) * BQ + r] = sum;
        }
        if (4 * pr < BQ) { /* O·alpha (rowa was set before the last barrier) */
            const float4 al = vload4(0, rowa + 4 * pr);
            const float a4[4] = {al.x, al.y, al.z, al.w};
            for (int i = 0; i < 4; i++) acc[i][0] *= a4[i], acc[i][1] *= a4[i];
        }
        for (int v0 = 0; v0 < Dv; v0 += VC) { /* V in chunks of VC dims (one chunk up to 128) */
            const int vn = min(VC, Dv - v0), vn4 = vn / 4;
            if (v0 > 0) barrier(CLK_LOCAL_MEM_FENCE); /* the previous chunk's reads are done (K's: before the max) */
            qn_pf_stage_v(KV, vb + vo, vdt, kvbase, k0, kend, Dv, v0, vn, lid);
            barrier(CLK_LOCAL_MEM_FENCE);
            if (v0 == 0)
                for (int r = lid; r < BQ; r += QN_PF_WG) {
                    float sum = 0.0f;
                    for (int g = 0; g < 8; g++) sum += red[(8 + g) * BQ + r];
                    rowl[r] = rowl[r] * rowa[r] + sum;
                }
            /* O += P·V for rows 4·pr .. +3, this item's float4s of V that lie in the chunk */
            const int f0 = pq - v0 / 4, f1 = pq + IPG - v0 / 4;
            const int j0 = f0 >= 0 && f0 < vn4, j1 = f1 >= 0 && f1 < vn4;
            if (4 * pr < BQ && (j0 || j1)) {
                for (int c = 0; c < QN_PF_BK; c++) {
                    const float4 p = Pt[c * (QS / 4) + pr];
                    const float4 v0_ = j0 ? KV[c * vn4 + f0] : (float4)0.0f, v1 = j1 ? KV[c * vn4 + f1] : (float4)0.0f;
                    acc[0][0] = fma((float4)p.x, v0_, acc[0][0]), acc[0][1] = fma((float4)p.x, v1, acc[0][1]);
                    acc[1][0] = fma((float4)p.y, v0_, acc[1][0]), acc[1][1] = fma((float4)p.y, v1, acc[1][1]);
                    acc[2][0] = fma((float4)p.z, v0_, acc[2][0]), acc[2][1] = fma((float4)p.z, v1, acc[2][1]);
                    acc[3][0] = fma((float4)p.w, v0_, acc[3][0]), acc[3][1] = fma((float4)p.w, v1, acc[3][1]);
                }
            }
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    if (4 * pr < BQ && pq < NV4) {
        for (int i = 0; i < 4; i++) {
            const int r = 4 * pr + i, rho = rho0 + r;
            const int h = hk * G + rho / Nq, qi = rho % Nq;
            const float l = rowl[r], inv = l > 0.0f ? 1.0f / l : 0.0f;
            const size_t orow = (size_t)(b * Hq + h) * Nq + qi;
            /* part: [rows][nsplit][Dv + 1], the normalised row then its log2-sum-exp (qn_attn_combine) */
            global float *pp = (global float *)((global uchar *)part + po) + (orow * nsplit + split) * (size_t)(Dv + 1);
            if (nsplit > 1 && r < nrow && pq == 0) pp[Dv] = l > 0.0f ? rowm[r] + log2(l) : -INFINITY;
            for (int u = 0; u < 2; u++) {
                const int q4 = pq + u * IPG;
                const float4 o = acc[i][u] * inv;
                if (r < nrow && q4 < NV4 && nsplit > 1) {
                    vstore4(o, 0, pp + 4 * q4);
                } else if (r < nrow && q4 < NV4) {
                    qn_st(ob + oo, odt, orow * Dv + 4 * q4 + 0, o.x);
                    qn_st(ob + oo, odt, orow * Dv + 4 * q4 + 1, o.y);
                    qn_st(ob + oo, odt, orow * Dv + 4 * q4 + 2, o.z);
                    qn_st(ob + oo, odt, orow * Dv + 4 * q4 + 3, o.w);
                }
            }
        }
    }
}
