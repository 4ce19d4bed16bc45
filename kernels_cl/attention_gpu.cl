/*
 * attention_gpu.cl — decode attention (one query per sequence and head) for the GPU class.
 *
 * Why apart from qn_attention: there a decode step's G query rows of a kv head fill G rows of a
 * 16-row tile, 64 items stage 32-key tiles of K and V through local memory one element (and
 * one dtype switch) at a time, and each tile's softmax runs serially in one item per row.
 *
 * Here a work-group of QN_DEC_WG items takes one (sequence, kv head, key split) and walks its
 * keys QN_DEC_WG at a time:
 *  - scores: item t takes key k0 + t and dots it with the G query rows (G <= QN_DEC_GMAX, kept
 *    in local memory, pre-scaled by scale·log2 e), its K row read 4 elements a load (a warp's
 *    keys are adjacent rows, so the lines it pulls are used whole from L1);
 *  - softmax: the chunk's max of each query row by one tree in local memory (all G rows at
 *    once); the running max is uniform over the group, each item keeps its own running sum
 *    (rescaled with the max, summed once at the end);
 *  - P·V: items as (key lane, 4 output dims): a lane's NL = Dv/4 items read one V row as one
 *    contiguous run, KL = QN_DEC_WG/NL lanes take every KL-th key of the chunk, and the lanes'
 *    sums meet in local memory at the end.
 * Output: the row itself (one split), or the split's normalised partial and log2-sum-exp in
 * qn_attention's layout, merged by qn_attn_combine — or, with fused, by the last group of its
 * (sequence, kv head) to finish: each group counts itself in cnt with an atomic after its partials
 * (a global fence first); the one that sees nsplit - 1 merges the rows (qn_attn_merge, volatile
 * reads) and sets the counter back to 0 for the next launch. One launch fewer per layer and step;
 * it leans on a global fence ordering stores before an atomic across work-groups, which OpenCL 1.2
 * does not promise (NVIDIA's GPUs and PoCL's CPU devices keep it; bit-identical to the separate
 * combine on PoCL; conformance on NVIDIA's OpenCL passed with it): QUANTA_OPENCL_ATTN_FUSED=1 (off by default:
 * slower on the H100, bench/NOTES.md section 1 clgpu12). Masks, kv_lens and the window as
 * qn_attention reads them at Nq = 1 (the causal limit is the last key: nothing to hide).
 * Local memory (host-sized): qs G·D, red and pv G·QN_DEC_WG, accs KL·G·Dv floats.
 */
#define QN_DEC_WG 128
#define QN_DEC_GMAX 8

inline float4 qn_ld4(const global uchar *p, int dt, size_t i4) {
    if (dt == QN_DT_F32) return vload4(i4, (const global float *)p);
    if (dt == QN_DT_F16) return vload_half4(i4, (const global half *)p);
    return as_float4(convert_uint4(vload4(i4, (const global ushort *)p)) << 16);
}

kernel __attribute__((reqd_work_group_size(QN_DEC_WG, 1, 1)))
void qn_attention_dec(const global uchar *qb, ulong qo, int qdt, const global uchar *kb, ulong ko, int kdt,
                      const global uchar *vb, ulong vo, int vdt, const global uchar *mb, ulong mo, int mask_mode,
                      const global uchar *lb, ulong lo, int has_lens, global uchar *ob, ulong oo, int odt,
                      global float *part, ulong po, int Hq, int Hkv, int Nk, int D, int Dv, float scale_log2,
                      int window, int nsplit, int split_len, global int *cnt, int fused, int ahead, global int *err,
                      local float *qs, local float *red, local float *pv, local float *accs) {
    const int t = get_local_id(0), bh = get_group_id(1), split = get_group_id(2);
    const int G = Hq / Hkv, b = bh / Hkv, hk = bh % Hkv;
    const int L = has_lens ? ((const global int *)(lb + lo))[b] : Nk;
    if (L < 0 || L > Nk) { /* the whole group leaves: nothing written, reported */
        if (t == 0 && split == 0) qn_report(err, QN_ERR_ATTENTION_KV_LENS, b, L, Nk);
        return;
    }
    int kbeg = split * split_len;
    const int kend = min(L, kbeg + split_len);
    if (window > 0) kbeg = max(kbeg, L - window);
    for (int e = t; e < G * D; e += QN_DEC_WG)
        qs[e] = qn_ld(qb + qo, qdt, (size_t)(b * Hq + hk * G + e / D) * D + e % D) * scale_log2;
    const int D4 = D / 4, NL = Dv / 4, KL = QN_DEC_WG / NL, lane = t / NL, d4 = t % NL;
    /* loads in flight an item: K pieces and V keys (ahead 0: 1 and 1; 1: 8 and 4; 2: 16 and 8, for d 256) */
    const int KA = ahead >= 2 ? 16 : ahead ? 8 : 1, VA = ahead >= 2 ? 8 : ahead ? 4 : 1;
    const size_t kvbase = (size_t)(b * Hkv + hk) * Nk;
    const global uchar *mrow = mb + mo + (mask_mode == 2 ? (size_t)b * Nk : 0);
    float m[QN_DEC_GMAX], lsum[QN_DEC_GMAX];
    float4 acc[QN_DEC_GMAX];
#pragma unroll
    for (int g = 0; g < QN_DEC_GMAX; g++) m[g] = -INFINITY, lsum[g] = 0.0f, acc[g] = 0.0f;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int k0 = kbeg; k0 < kend; k0 += QN_DEC_WG) { /* uniform over the group */
        const int j = k0 + t;
        float s[QN_DEC_GMAX];
#pragma unroll
        for (int g = 0; g < QN_DEC_GMAX; g++) s[g] = -INFINITY;
        if (j < kend && !(mask_mode && mrow[j] == 0)) {
#pragma unroll
            for (int g = 0; g < QN_DEC_GMAX; g++) s[g] = 0.0f;
            /* ahead: KA pieces of the row loaded before their FMAs (one global latency per KA, not per piece);
             * the same FMAs in the same order, so the same bits */
            for (int i0 = 0; i0 < D4; i0 += KA) {
                float4 kk[16];
#pragma unroll
                for (int u = 0; u < 16; u++)
                    if (u < KA && i0 + u < D4) kk[u] = qn_ld4(kb + ko, kdt, (kvbase + j) * (size_t)D4 + i0 + u);
#pragma unroll
                for (int u = 0; u < 16; u++)
                    if (u < KA && i0 + u < D4)
#pragma unroll
                        for (int g = 0; g < QN_DEC_GMAX; g++)
                            if (g < G) {
                                const float4 k = kk[u], q = vload4(0, qs + g * D + 4 * (i0 + u));
                                s[g] = fma(k.w, q.w, fma(k.z, q.z, fma(k.y, q.y, fma(k.x, q.x, s[g]))));
                            }
            }
        }
        /* the chunk's max of each row: one tree for all G rows */
#pragma unroll
        for (int g = 0; g < QN_DEC_GMAX; g++)
            if (g < G) red[g * QN_DEC_WG + t] = s[g];
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int w = QN_DEC_WG / 2; w > 0; w >>= 1) {
            if (t < w)
                for (int g = 0; g < G; g++) red[g * QN_DEC_WG + t] = fmax(red[g * QN_DEC_WG + t], red[g * QN_DEC_WG + t + w]);
            barrier(CLK_LOCAL_MEM_FENCE);
        }
#pragma unroll
        for (int g = 0; g < QN_DEC_GMAX; g++)
            if (g < G) {
                const float mnew = fmax(m[g], red[g * QN_DEC_WG]);
                float p = 0.0f;
                if (mnew != -INFINITY) { /* else every key so far is hidden: nothing to rescale */
                    const float alpha = exp2(m[g] - mnew); /* m = -inf gives 0 */
                    p = exp2(s[g] - mnew);                 /* s = -inf gives 0 */
                    lsum[g] = lsum[g] * alpha + p;
                    acc[g] *= alpha;
                    m[g] = mnew;
                }
                pv[g * QN_DEC_WG + t] = p;
            }
        barrier(CLK_LOCAL_MEM_FENCE);
        const int nc = min(QN_DEC_WG, kend - k0);
        if (lane < KL)
            for (int c0 = lane; c0 < nc; c0 += VA * KL) { /* ahead: VA keys' V loaded first */
                float4 vv[8];
#pragma unroll
                for (int u = 0; u < 8; u++)
                    if (u < VA && c0 + u * KL < nc)
                        vv[u] = qn_ld4(vb + vo, vdt, (kvbase + k0 + c0 + u * KL) * (size_t)NL + d4);
#pragma unroll
                for (int u = 0; u < 8; u++)
                    if (u < VA && c0 + u * KL < nc)
#pragma unroll
                        for (int g = 0; g < QN_DEC_GMAX; g++)
                            if (g < G) acc[g] = fma((float4)(pv[g * QN_DEC_WG + c0 + u * KL]), vv[u], acc[g]);
            }
        /* no barrier: the next chunk writes pv only after its tree's barriers, which every item
         * reaches after these reads, and red's last reads came before the barrier above */
    }
    /* the rows' sums (each item's share is relative to the final max, uniform over the group);
     * the max itself into qs (its last reads, the scores, came before a barrier every item passed) */
    if (t == 0)
#pragma unroll
        for (int g = 0; g < QN_DEC_GMAX; g++)
            if (g < G) qs[g] = m[g];
#pragma unroll
    for (int g = 0; g < QN_DEC_GMAX; g++)
        if (g < G) red[g * QN_DEC_WG + t] = lsum[g];
    if (lane < KL)
#pragma unroll
        for (int g = 0; g < QN_DEC_GMAX; g++)
            if (g < G) vstore4(acc[g], 0, accs + (lane * G + g) * Dv + 4 * d4);
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int w = QN_DEC_WG / 2; w > 0; w >>= 1) {
        if (t < w)
            for (int g = 0; g < G; g++) red[g * QN_DEC_WG + t] += red[g * QN_DEC_WG + t + w];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    for (int e = t; e < G * Dv; e += QN_DEC_WG) {
        const int g = e / Dv, d = e % Dv;
        float v = 0.0f;
        for (int ln = 0; ln < KL; ln++) v += accs[(ln * G + g) * Dv + d];
        const float l = red[g * QN_DEC_WG];
        const float inv = l > 0.0f ? 1.0f / l : 0.0f;
        const size_t orow = (size_t)(b * Hq + hk * G + g);
        if (nsplit == 1) {
            qn_st(ob + oo, odt, orow * Dv + d, v * inv);
        } else { /* part: [rows][nsplit][Dv + 1]: normalised output, then log2-sum-exp */
            global float *pp = (global float *)((global uchar *)part + po) + (orow * nsplit + split) * (size_t)(Dv + 1);
            pp[d] = v * inv;
            if (d == 0) pp[Dv] = l > 0.0f ? qs[g] + log2(l) : -INFINITY;
        }
    }
    if (nsplit == 1 || !fused) return;
    mem_fence(CLK_GLOBAL_MEM_FENCE); /* this item's partials before the count */
    barrier(CLK_GLOBAL_MEM_FENCE | CLK_LOCAL_MEM_FENCE);
    if (t == 0) {
        mem_fence(CLK_GLOBAL_MEM_FENCE);
        red[0] = as_float(atomic_inc(cnt + bh));
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    if (as_int(red[0]) != nsplit - 1) return; /* uniform over the group */
    if (t == 0) cnt[bh] = 0;                  /* every group of this launch has counted: ready for the next */
    mem_fence(CLK_GLOBAL_MEM_FENCE);
    for (int e = t; e < G * Dv; e += QN_DEC_WG) {
        const int g = e / Dv, d = e % Dv;
        const size_t orow = (size_t)(b * Hq + hk * G + g);
        const volatile global float *pp =
            (const volatile global float *)((global uchar *)part + po) + orow * nsplit * (size_t)(Dv + 1);
        qn_st(ob + oo, odt, orow * Dv + d, qn_attn_merge(pp, nsplit, Dv, d));
    }
}

/*
 * qn_attention_dec1 — decode attention with a work-group per (sequence, query head) and no key split
 * (QUANTA_OPENCL_ATTN_DEC1=1; the host takes it at Nk <= 1024, D % 16 == 0).
 *
 * Why: qn_attention_dec takes a (sequence, kv head) per group of 128: Gemma 3's one kv head is one work-group on
 * the whole GPU and the 1B's four are four; each item walks its key's whole row and each P·V lane up to 64 keys,
 * a chain of dependent global round trips, and a decode step's attention measured 24 us (1B) / 32 us (Gemma) a
 * layer on the H100 for < 1 MB (bench/NOTES.md section 1 clgemv13). Here Hq groups (32 / 4) of QN_D1_WG items:
 *  - scores: item t takes 16 dims (sl = t % S, S = D / 16) of key t / S, QN_D1_U keys apart by WG / S, all their
 *    loads issued before the FMAs (1B, D 64: 256 keys a step, one round trip at tg128; Gemma, D 256: 64 keys);
 *    the S partials of a key meet in local memory, summed by one item in slice order into sc[key];
 *  - the row's max and sum over sc by 32 items then every item (3 barriers each, not a log2 tree);
 *  - P·V: items as (key lane, 4 dims), QN_D1_VA keys' V loaded before their FMAs, lanes meet in local memory.
 * Masks, kv_lens and the window as qn_attention_dec reads them. Local memory (host-sized): qs D, sc Nk,
 * red QN_D1_U · QN_D1_WG, accs 4 · QN_D1_WG floats.
 */
#define QN_D1_WG 256
#define QN_D1_U 4
#define QN_D1_VA 16

/* the max (op 0) or sum (op 1) of v over the group, in every item: 32 items take WG / 32 each, then all add the 32 */
inline float qn_d1_reduce(local float *red, float v, int op) {
    const int t = (int)get_local_id(0);
    red[t] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    float r = op ? 0.0f : -INFINITY;
    if (t < 32)
        for (int i = t; i < QN_D1_WG; i += 32) r = op ? r + red[i] : fmax(r, red[i]);
    barrier(CLK_LOCAL_MEM_FENCE);
    if (t < 32) red[t] = r;
    barrier(CLK_LOCAL_MEM_FENCE);
    r = op ? 0.0f : -INFINITY;
    for (int i = 0; i < 32; i++) r = op ? r + red[i] : fmax(r, red[i]);
    barrier(CLK_LOCAL_MEM_FENCE); /* red is written again by the next use */
    return r;
}

kernel __attribute__((reqd_work_group_size(QN_D1_WG, 1, 1)))
void qn_attention_dec1(const global uchar *qb, ulong qo, int qdt, const global uchar *kb, ulong ko, int kdt,
                       const global uchar *vb, ulong vo, int vdt, const global uchar *mb, ulong mo, int mask_mode,
                       const global uchar *lb, ulong lo, int has_lens, global uchar *ob, ulong oo, int odt, int Hq,
                       int Hkv, int Nk, int D, int Dv, float scale_log2, int window, global int *err, local float *qs,
                       local float *sc, local float *red, local float *accs) {
    const int t = get_local_id(0), bq = get_group_id(0), b = bq / Hq, h = bq % Hq, hk = h / (Hq / Hkv);
    const int L = has_lens ? ((const global int *)(lb + lo))[b] : Nk;
    if (L < 0 || L > Nk) { /* the whole group leaves: nothing written, reported */
        if (t == 0 && h == 0) qn_report(err, QN_ERR_ATTENTION_KV_LENS, b, L, Nk);
        return;
    }
    const int kend = L, kbeg = window > 0 ? max(0, L - window) : 0, n = kend - kbeg;
    for (int e = t; e < D; e += QN_D1_WG) qs[e] = qn_ld(qb + qo, qdt, (size_t)(b * Hq + h) * D + e) * scale_log2;
    barrier(CLK_LOCAL_MEM_FENCE);
    const int S = D / 16, KP = QN_D1_WG / S, sl = t % S, kk = t / S;
    const size_t kvbase = (size_t)(b * Hkv + hk) * Nk;
    const global uchar *mrow = mb + mo + (mask_mode == 2 ? (size_t)b * Nk : 0);
    const size_t D4 = (size_t)D / 4;
    for (int k0 = kbeg; k0 < kend; k0 += KP * QN_D1_U) { /* uniform over the group */
        float4 kv[QN_D1_U][4];
#pragma unroll
        for (int u = 0; u < QN_D1_U; u++) {
            const int j = min(k0 + u * KP + kk, kend - 1); /* past the keys: the last again, never used */
#pragma unroll
            for (int i = 0; i < 4; i++) kv[u][i] = qn_ld4(kb + ko, kdt, (kvbase + j) * D4 + sl * 4 + i);
        }
#pragma unroll
        for (int u = 0; u < QN_D1_U; u++) {
            float s = 0.0f;
#pragma unroll
            for (int i = 0; i < 4; i++) {
                const float4 q = vload4(0, qs + sl * 16 + 4 * i), k = kv[u][i];
                s = fma(k.w, q.w, fma(k.z, q.z, fma(k.y, q.y, fma(k.x, q.x, s))));
            }
            red[u * QN_D1_WG + t] = s;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        if (t < KP * QN_D1_U) { /* key c of this step: its S slices, summed in order */
            const int u = t / KP, c = t % KP, j = k0 + u * KP + c;
            if (j < kend) {
                float s = 0.0f;
                for (int i = 0; i < S; i++) s += red[u * QN_D1_WG + c * S + i];
                sc[j - kbeg] = mask_mode && mrow[j] == 0 ? -INFINITY : s;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float m = -INFINITY;
    for (int i = t; i < n; i += QN_D1_WG) m = fmax(m, sc[i]);
    m = qn_d1_reduce(red, m, 0);
    float l = 0.0f;
    for (int i = t; i < n; i += QN_D1_WG) {
        const float p = m == -INFINITY ? 0.0f : exp2(sc[i] - m); /* every key hidden: no weights */
        sc[i] = p;
        l += p;
    }
    l = qn_d1_reduce(red, l, 1); /* its barriers also order the sc stores before the reads below */
    const int NL = Dv / 4, KL = QN_D1_WG / NL, lane = t / NL, d4 = t % NL;
    float4 acc = 0.0f;
    if (lane < KL)
        for (int c0 = lane; c0 < n; c0 += QN_D1_VA * KL) {
            float4 vv[QN_D1_VA];
#pragma unroll
            for (int u = 0; u < QN_D1_VA; u++)
                vv[u] = qn_ld4(vb + vo, vdt, (kvbase + kbeg + min(c0 + u * KL, n - 1)) * (size_t)NL + d4);
#pragma unroll
            for (int u = 0; u < QN_D1_VA; u++)
                if (c0 + u * KL < n) acc = fma((float4)(sc[c0 + u * KL]), vv[u], acc);
        }
    if (lane < KL) vstore4(acc, 0, accs + lane * Dv + 4 * d4);
    barrier(CLK_LOCAL_MEM_FENCE);
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
    for (int e = t; e < Dv; e += QN_D1_WG) {
        float v = 0.0f;
        for (int ln = 0; ln < KL; ln++) v += accs[ln * Dv + e];
        qn_st(ob + oo, odt, (size_t)(b * Hq + h) * Dv + e, v * inv);
    }
}
