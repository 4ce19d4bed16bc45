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
