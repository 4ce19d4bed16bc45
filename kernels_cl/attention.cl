/*
 * attention.cl — tiled softmax attention (the FlashAttention algorithm) and its split-KV
 * combine step.
 *
 * A work-group owns a block of BQ "rows". Rows fold the query heads that share one K/V head
 * (GQA) into the query dimension: row rho of kv head hk is query head hk*G + rho/Nq, query
 * rho%Nq. So one K/V tile in local memory serves every query head of its group and K/V are
 * never copied or expanded. The group streams BK keys at a time through local memory and keeps,
 * per row, a running max m and sum l (online softmax, base-2 exponentials with log2(e) folded
 * into the query scale), rescaling its accumulator when the max grows. Key tiles that the
 * causal limit or the sliding window hide from every row of the block are never loaded.
 * Extra memory is O(BQ*BK) per work-group; nothing of size Nq x Nk exists anywhere.
 *
 * Split-KV (flash-decoding): with nsplit > 1, dimension 2 of the grid splits the keys; each
 * split writes its normalised partial output and log2-sum-exp to scratch and qn_attn_combine
 * merges them.
 *
 * Work-group size is QN_ATT_WG; each row's accumulator is spread over WG/BQ items, so Dv is
 * at most QN_ATT_MAXD (the host checks, and falls back otherwise).
 *
 * Keys sit in local memory D + 1 floats apart: the score loop has consecutive items on
 * consecutive keys at the same d, and at a stride of D (a multiple of 32) every item of a warp
 * hit one bank (a 32-way conflict on GPUs, nothing on CPUs).
 */

#define QN_ATT_WG 64
#define QN_ATT_MAXD 256
#define QN_ATT_MAXACC (QN_ATT_MAXD * 16 / QN_ATT_WG)

kernel __attribute__((reqd_work_group_size(QN_ATT_WG, 1, 1)))
void qn_attention(const global uchar *qb, ulong qo, int qdt, const global uchar *kb, ulong ko, int kdt,
                  const global uchar *vb, ulong vo, int vdt, const global uchar *mb, ulong mo, int mask_mode,
                  const global uchar *lb, ulong lo, int has_lens, global uchar *ob, ulong oo, int odt,
                  global float *part, ulong po, int B, int Hq, int Hkv, int Nq, int Nk, int D, int Dv,
                  float scale_log2, int causal, int window, int BQ, int BK, int nsplit, int split_len,
                  global int *err, local float *Qs, local float *Ks, local float *Vs, local float *Ss, local float *rowm,
                  local float *rowl, local float *rowa) {
    const int lid = get_local_id(0);
    const int G = Hq / Hkv, rows = G * Nq;
    const int rb = get_group_id(0), bh = get_group_id(1), split = get_group_id(2);
    const int b = bh / Hkv, hk = bh % Hkv;
    const int rho0 = rb * BQ;
    const int nrow = min(BQ, rows - rho0);
    const int L = has_lens ? ((const global int *)(lb + lo))[b] : Nk;
    if (L < 0 || L > Nk) { /* the whole group (or item) leaves: nothing written, reported */
        if (lid == 0 && rb == 0 && split == 0) qn_report(err, QN_ERR_ATTENTION_KV_LENS, b, L, Nk);
        return;
    }

    /* Smallest and largest query index among the block's rows, for tile skipping. */
    int qmin = rho0 % Nq, qmax = (rho0 + nrow - 1) % Nq;
    if ((rho0 / Nq) != ((rho0 + nrow - 1) / Nq)) {
        qmin = 0;
        qmax = Nq - 1;
    }
    int kbeg = 0, kend = L;
    if (causal) kend = min(kend, L - Nq + qmax + 1);
    if (window > 0) kbeg = max(kbeg, L - Nq + qmin - window + 1);
    /* This split's share of the keys. */
    kbeg = max(kbeg, split * split_len);
    kend = min(kend, (split + 1) * split_len);
    kbeg = (kbeg / BK) * BK;

    for (int e = lid; e < BQ * D; e += QN_ATT_WG) {
        int r = e / D, d = e % D, rho = rho0 + r;
        float v = 0.0f;
        if (r < nrow) {
            int h = hk * G + rho / Nq, i = rho % Nq;
            v = qn_ld(qb + qo, qdt, ((size_t)(b * Hq + h) * Nq + i) * D + d) * scale_log2;
        }
        Qs[e] = v;
    }
    for (int r = lid; r < BQ; r += QN_ATT_WG) {
        rowm[r] = -INFINITY;
        rowl[r] = 0.0f;
    }
    const int tpr = QN_ATT_WG / BQ, myr = lid / tpr, part_i = lid % tpr;
    float acc[QN_ATT_MAXACC];
    for (int j = 0; j < QN_ATT_MAXACC; j++) acc[j] = 0.0f;
    const size_t kvbase = (size_t)(b * Hkv + hk) * Nk;

    for (int k0 = kbeg; k0 < kend; k0 += BK) {
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int e = lid; e < BK * D; e += QN_ATT_WG) {
            int c = e / D, j = k0 + c;
            Ks[c * (D + 1) + e % D] = j < kend ? qn_ld(kb + ko, kdt, (kvbase + j) * D + e % D) : 0.0f;
        }
        for (int e = lid; e < BK * Dv; e += QN_ATT_WG) {
            int c = e / Dv, j = k0 + c;
            Vs[e] = j < kend ? qn_ld(vb + vo, vdt, (kvbase + j) * Dv + e % Dv) : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int e = lid; e < BQ * BK; e += QN_ATT_WG) {
            int r = e / BK, c = e % BK, j = k0 + c, rho = rho0 + r;
            float s = -INFINITY;
            if (r < nrow && j < kend && j >= kbeg) {
                int i = rho % Nq, p = L - Nq + i;
                bool vis = true;
                if (causal && j > p) vis = false;
                if (window > 0 && j <= p - window) vis = false;
                if (mask_mode) {
                    size_t mrow = (size_t)(mask_mode == 2 ? b * Nq + i : i);
                    if (mb[mo + mrow * Nk + j] == 0) vis = false;
                }
                if (vis) {
                    float dot = 0.0f;
                    const local float *qr = Qs + r * D, *kr = Ks + c * (D + 1);
                    for (int d = 0; d < D; d++) dot = fma(qr[d], kr[d], dot);
                    s = dot;
                }
            }
            Ss[e] = s;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int r = lid; r < BQ; r += QN_ATT_WG) {
            float mold = rowm[r], mx = mold;
            for (int c = 0; c < BK; c++) mx = fmax(mx, Ss[r * BK + c]);
            float alpha = 1.0f, sum = 0.0f;
            if (mx == -INFINITY) {
                for (int c = 0; c < BK; c++) Ss[r * BK + c] = 0.0f;
            } else {
                alpha = exp2(mold - mx); /* mold = -inf gives 0 */
                for (int c = 0; c < BK; c++) {
                    float p = exp2(Ss[r * BK + c] - mx);
                    Ss[r * BK + c] = p;
                    sum += p;
                }
            }
            rowm[r] = mx;
            rowl[r] = rowl[r] * alpha + sum;
            rowa[r] = alpha;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        if (myr < BQ) {
            float alpha = rowa[myr];
            const local float *pr = Ss + myr * BK;
            int j = 0;
            for (int d = part_i; d < Dv; d += tpr, j++) {
                float a = acc[j] * alpha;
                for (int c = 0; c < BK; c++) a = fma(pr[c], Vs[c * Dv + d], a);
                acc[j] = a;
            }
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    if (myr < nrow) {
        int rho = rho0 + myr, h = hk * G + rho / Nq, i = rho % Nq;
        float l = rowl[myr];
        float inv = l > 0.0f ? 1.0f / l : 0.0f;
        size_t orow = (size_t)(b * Hq + h) * Nq + i;
        int j = 0;
        if (nsplit == 1) {
            for (int d = part_i; d < Dv; d += tpr, j++) qn_st(ob + oo, odt, orow * Dv + d, acc[j] * inv);
        } else {
            /* part: [rows_total][nsplit][Dv + 1]: normalised output, then log2-sum-exp. */
            global float *pp = (global float *)((global uchar *)part + po) + (orow * nsplit + split) * (size_t)(Dv + 1);
            for (int d = part_i; d < Dv; d += tpr, j++) pp[d] = acc[j] * inv;
            if (part_i == 0) pp[Dv] = l > 0.0f ? rowm[myr] + log2(l) : -INFINITY;
        }
    }
}

/* One work-item per output element: merges the nsplit partial results of its row. */
kernel void qn_attn_combine(const global float *part, ulong po, global uchar *ob, ulong oo, int odt, ulong nrows,
                            int Dv, int nsplit) {
    size_t gid = get_global_id(0);
    if (gid >= nrows * (size_t)Dv) return;
    size_t row = gid / Dv;
    int d = gid % Dv;
    const global float *pp = (const global float *)((const global uchar *)part + po) + row * nsplit * (size_t)(Dv + 1);
    qn_st(ob + oo, odt, gid, qn_attn_merge(pp, nsplit, Dv, d));
}

/*
 * CPUs: one work-item per query row, no local memory and no barriers (PoCL runs a group's
 * items as a loop; barriers would split it and spill the accumulators). K/V rows are read
 * straight from memory — the caches tile for us — in blocks of 16 keys: 16 scores, one
 * rescale of the accumulator, 16 weighted V rows. Same masking, GQA folding, tile skipping
 * (the key range), split-KV partials and outputs as qn_attention. Needs D and Dv multiples of
 * 16 (the host uses qn_attention otherwise).
 */
inline float16 qn_ld16(const global uchar *p, int dt, size_t i16) {
    if (dt == QN_DT_F32) return vload16(i16, (const global float *)p);
    if (dt == QN_DT_F16) return vload_half16(i16, (const global half *)p);
    return as_float16(convert_uint16(vload16(i16, (const global ushort *)p)) << 16);
}

kernel void qn_attention_rows(const global uchar *qb, ulong qo, int qdt, const global uchar *kb, ulong ko, int kdt,
                              const global uchar *vb, ulong vo, int vdt, const global uchar *mb, ulong mo,
                              int mask_mode, const global uchar *lb, ulong lo, int has_lens, global uchar *ob,
                              ulong oo, int odt, global float *part, ulong po, int B, int Hq, int Hkv, int Nq,
                              int Nk, int D, int Dv, float scale_log2, int causal, int window, int nsplit,
                              int split_len, global int *err) {
    const int G = Hq / Hkv, rows = G * Nq;
    const int rho = get_global_id(0), bh = get_global_id(1), split = get_global_id(2);
    if (rho >= rows || bh >= B * Hkv) return;
    const int b = bh / Hkv, hk = bh % Hkv, h = hk * G + rho / Nq, i = rho % Nq;
    const int L = has_lens ? ((const global int *)(lb + lo))[b] : Nk;
    if (L < 0 || L > Nk) { /* the whole group (or item) leaves: nothing written, reported */
        if (rho == 0 && split == 0) qn_report(err, QN_ERR_ATTENTION_KV_LENS, b, L, Nk);
        return;
    }
    const int p = L - Nq + i;
    int kbeg = max(0, split * split_len), kend = min(L, (split + 1) * split_len);
    if (causal) kend = min(kend, p + 1);
    if (window > 0) kbeg = max(kbeg, p - window + 1);
    const int D16 = D / 16, Dv16 = Dv / 16;
    const size_t kvbase = (size_t)(b * Hkv + hk) * Nk;
    const size_t orow = (size_t)(b * Hq + h) * Nq + i;
    float16 q16[QN_ATT_MAXD / 16], a16[QN_ATT_MAXD / 16];
    for (int t = 0; t < D16; t++) q16[t] = qn_ld16(qb + qo, qdt, orow * D16 + t) * scale_log2;
    for (int t = 0; t < Dv16; t++) a16[t] = 0.0f;
    float mrun = -INFINITY, lrun = 0.0f;
    const global uchar *mrow = mb + mo + (size_t)(mask_mode == 2 ? b * Nq + i : i) * Nk;
    for (int j0 = kbeg; j0 < kend; j0 += 16) {
        const int nb = min(16, kend - j0);
        float sc[16];
        float bmax = -INFINITY;
        for (int t = 0; t < nb; t++) {
            const int j = j0 + t;
            if (mask_mode && mrow[j] == 0) {
                sc[t] = -INFINITY;
                continue;
            }
            float16 acc = 0.0f;
            for (int d = 0; d < D16; d++) acc += q16[d] * qn_ld16(kb + ko, kdt, (kvbase + j) * D16 + d);
            float8 s8 = acc.lo + acc.hi;
            float4 s4 = s8.lo + s8.hi;
            sc[t] = s4.x + s4.y + s4.z + s4.w;
            bmax = fmax(bmax, sc[t]);
        }
        if (bmax == -INFINITY) continue;
        const float mnew = fmax(mrun, bmax);
        if (mnew > mrun) {
            const float alpha = exp2(mrun - mnew); /* mrun = -inf gives 0 */
            lrun *= alpha;
            for (int d = 0; d < Dv16; d++) a16[d] *= alpha;
            mrun = mnew;
        }
        for (int t = 0; t < nb; t++) {
            if (sc[t] == -INFINITY) continue;
            const float pe = exp2(sc[t] - mrun);
            lrun += pe;
            for (int d = 0; d < Dv16; d++) a16[d] += pe * qn_ld16(vb + vo, vdt, (kvbase + j0 + t) * Dv16 + d);
        }
    }
    const float inv = lrun > 0.0f ? 1.0f / lrun : 0.0f;
    float tmp[16];
    if (nsplit == 1) {
        for (int d = 0; d < Dv16; d++) {
            vstore16(a16[d] * inv, 0, tmp);
            for (int e = 0; e < 16; e++) qn_st(ob + oo, odt, orow * Dv + d * 16 + e, tmp[e]);
        }
    } else {
        global float *pp = (global float *)((global uchar *)part + po) + (orow * nsplit + split) * (size_t)(Dv + 1);
        for (int d = 0; d < Dv16; d++) vstore16(a16[d] * inv, 0, pp + d * 16);
        pp[Dv] = lrun > 0.0f ? mrun + log2(lrun) : -INFINITY;
    }
}
