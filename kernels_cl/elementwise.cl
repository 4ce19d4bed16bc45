/*
 * elementwise.cl — element-wise and row ops: unary (silu, gelu, scale, convert), binary
 * (add, mul with row broadcast), rms_norm (and add_rms_norm, rms_norm_add), softmax, rope (and
 * rms_norm_rope), get_rows, permute, write_rows, dequantize, and the copy kernel behind `quanta
 * bench`'s bandwidth figure.
 * One work-item per element unless a kernel says otherwise; sizes are guarded, so the global
 * size may be rounded up to the work-group size.
 */

/* QN_UNARY_* and the GELU constants: base/unary_ops.h, carried ahead of common.cl. */

/* The activations (qn_act, shared with matmul.cl's qn_gemv_rows_glu) are in common.cl. */

kernel void qn_unary(const global uchar *x, ulong xo, int xdt, global uchar *y, ulong yo, int ydt,
                     ulong n, int op, float s) {
    size_t i = get_global_id(0);
    if (i >= n) return;
    qn_st(y + yo, ydt, i, qn_act(qn_ld(x + xo, xdt, i), op, s));
}

/* glu: y = act(gate) * up (op: QN_UNARY_SILU / _GELU / _GELU_TANH), gate, up and y of one
 * dtype dt. f32 silu and tanh GELU take one straight-line path (z chosen by select, one exp):
 * PoCL then vectorises the work-group loop; a switch around the exp kept it scalar, 15 µs
 * for Gemma's 2048 on 2 cores against 3.5. */
QN_INL void qn_glu_at(const global uchar *g, ulong go, const global uchar *u, ulong uo, global uchar *y, ulong yo,
                      int dt, int op, size_t i) {
    if (dt == QN_DT_F32 && op != QN_UNARY_GELU) {
        const float v = ((const global float *)(g + go))[i];
        const float z = op == QN_UNARY_SILU ? v : qn_gelu_tanh_z(v);
        ((global float *)(y + yo))[i] = qn_sigmoid_gate(v, z) * ((const global float *)(u + uo))[i];
        return;
    }
    qn_st(y + yo, dt, i, qn_act(qn_ld(g + go, dt, i), op, 0.0f) * qn_ld(u + uo, dt, i));
}
kernel void qn_glu(const global uchar *g, ulong go, const global uchar *u, ulong uo, global uchar *y, ulong yo,
                   int dt, ulong n, int op) {
    size_t i = get_global_id(0);
    if (i >= n) return;
    qn_glu_at(g, go, u, uo, y, yo, dt, op, i);
}
/* qn_glu that also leaves y's int8 form (QUANTA_OPENCL_XQ_NORM=1, clgemv24; f32, one row of n, n a multiple of 32 for q4
 * or 16 for q8, groups a multiple of 32 items: a chunk never straddles two groups): each group's elements as qn_glu
 * makes them (qn_glu_at, one definition), a barrier, then its first items quantize the group's chunks (q4) or pieces
 * (q8) from the stored values into qb + qo by qn_i4_put_g / qn_i8_put_g, as qn_rms_norm_xq does the norm's row: the
 * same floats and code as the GEMV's own prologue, the same bits. No cross-group dependency. */
kernel void qn_glu_xq(const global uchar *g, ulong go, const global uchar *u, ulong uo, global uchar *y, ulong yo,
                      int dt, ulong n, int op, global uchar *qb, ulong qo, int q4) {
    const size_t i = get_global_id(0);
    if (i < n) qn_glu_at(g, go, u, uo, y, yo, dt, op, i);
    barrier(CLK_GLOBAL_MEM_FENCE); /* the group's stores visible to each of its items */
    const long per = q4 ? 32 : 16, ls = (long)get_local_size(0), l = (long)get_local_id(0);
    if (l >= ls / per) return;
    const long c = (long)get_group_id(0) * (ls / per) + l;
    const global float4 *x4 = (const global float4 *)(y + yo);
    global uint4 *xq = (global uint4 *)(qb + qo);
    if (q4) {
        const long nc = (long)n / 32;
        if (c >= nc) return;
        global float *xd = (global float *)(xq + 4 * nc);
        float4 a[8];
        QN_I_LOAD8(a, c)
        qn_i4_put_g(xq, xd, (global int *)(xd + nc), nc, a, c);
    } else {
        const long np = (long)n / 16;
        if (c >= np) return;
        float4 a[4];
        QN_I_LOAD4(a, c)
        qn_i8_put_g(xq, (global float *)(xq + 2 * np), np, a, c);
    }
}

/* op 0: add, 1: mul. b has n elements or nb (one row) broadcast over a's rows. */
kernel void qn_binary(const global uchar *a, ulong ao, int adt, const global uchar *b, ulong bo, int bdt,
                      global uchar *y, ulong yo, int ydt, ulong n, ulong nb, int op) {
    size_t i = get_global_id(0);
    if (i >= n) return;
    float u = qn_ld(a + ao, adt, i), v = qn_ld(b + bo, bdt, nb == n ? i : i % nb);
    qn_st(y + yo, ydt, i, op ? u * v : u + v);
}

/* Tree reduction over the work-group (size a power of two); returns the total in every item. */
inline float qn_wg_sum(local float *red, float v) {
    size_t l = get_local_id(0), n = get_local_size(0);
    red[l] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (size_t s = n / 2; s > 0; s >>= 1) {
        if (l < s) red[l] += red[l + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float r = red[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

inline float qn_wg_max(local float *red, float v) {
    size_t l = get_local_id(0), n = get_local_size(0);
    red[l] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (size_t s = n / 2; s > 0; s >>= 1) {
        if (l < s) red[l] = fmax(red[l], red[l + s]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float r = red[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

/* One work-group per row of D elements. w: f32/f16/bf16 [D] when hasw. With hasr (add_rms_norm)
 * the row is x + r, summed in f32, both read twice rather than kept (rows exceed local memory).
 * With hasp (rms_norm_add) p is added to the normed row, in f32, before the one store. With has2
 * (rms_norm_add_norm) the stored row y is normed again, by w2 when hasw2, into y2: y read back
 * as stored (in its dtype), so y2 is what an rms_norm of y would give. Without norm1 (add_norm)
 * the first stage only stores x + r (hasr), as qn_binary adds, and has2's norm follows. */
inline float qn_norm_in(const global uchar *x, int xdt, const global uchar *r, int rdt, int hasr, size_t i) {
    float v = qn_ld(x, xdt, i);
    return hasr ? v + qn_ld(r, rdt, i) : v;
}

/* 1 / rms of an f32 row of D (with eps), 16 wide then the tail: the norms of the all-f32 paths. */
QN_INL float qn_inv_rms16(const global float *v, size_t D, float eps) {
    const size_t D16 = D / 16 * 16;
    float16 acc = 0.0f;
    for (size_t d = 0; d < D16; d += 16) {
        const float16 x = vload16(0, v + d);
        acc = fma(x, x, acc);
    }
    float s2 = qn_hsum16(acc);
    for (size_t d = D16; d < D; d++) s2 += v[d] * v[d];
    return rsqrt(s2 / (float)D + eps);
}

/* qn_rms_norm's body, one definition for it and for qn_rms_norm_xq (gemv_gpu.cl: the same row, then its int8 form) */
#define QN_RMS_NORM_PARAMS                                                                                     \
    const global uchar *x, ulong xo, int xdt, const global uchar *r, ulong ro, int rdt, int hasr,              \
        const global uchar *w, ulong wo, int wdt, int hasw, int plus_one, const global uchar *p, ulong po,     \
        int pdt, int hasp, global uchar *y, ulong yo, int ydt, ulong D, float eps, const global uchar *w2,     \
        ulong w2o, int w2dt, int hasw2, int has2, global uchar *y2, ulong y2o, int norm1, local float *red
#define QN_RMS_NORM_ARGS x, xo, xdt, r, ro, rdt, hasr, w, wo, wdt, hasw, plus_one, p, po, pdt, hasp, y, yo, ydt, D, eps, \
                         w2, w2o, w2dt, hasw2, has2, y2, y2o, norm1, red
QN_INL void qn_rms_norm_row(QN_RMS_NORM_PARAMS) {
    size_t row = get_group_id(0), l = get_local_id(0), ls = get_local_size(0);
    size_t base = row * D;
    const float one = plus_one ? 1.0f : 0.0f;
    if (ls == 1 && xdt == QN_DT_F32 && ydt == QN_DT_F32 && (!hasr || (!norm1 && rdt == QN_DT_F32)) &&
        (!hasw || wdt == QN_DT_F32) && (!hasp || pdt == QN_DT_F32) && (!hasw2 || w2dt == QN_DT_F32) &&
        (xo | ro | yo | wo | po | w2o | y2o) % 4 == 0) {
        /* CPUs' one item per row, all f32: 16-wide vectors by hand (the dtype switches of the
         * generic loops kept them scalar; decode norms of 640 are ~1 µs of PoCL's 3) */
        const global float *xf = (const global float *)(x + xo) + base, *wf = (const global float *)(w + wo);
        const global float *pf = (const global float *)(p + po) + base;
        global float *yf = (global float *)(y + yo) + base;
        const size_t D16 = D / 16 * 16;
        if (!norm1) { /* add_norm: y = x + r, as qn_binary adds (one f32 add per element) */
            const global float *rf = (const global float *)(r + ro) + base;
            for (size_t d = 0; d < D16; d += 16) vstore16(vload16(0, xf + d) + vload16(0, rf + d), 0, yf + d);
            for (size_t d = D16; d < D; d++) yf[d] = xf[d] + rf[d];
        } else {
            const float inv = qn_inv_rms16(xf, D, eps);
            for (size_t d = 0; d < D16; d += 16) {
                float16 v = vload16(0, xf + d) * inv;
                if (hasw) v *= vload16(0, wf + d) + one;
                if (hasp) v += vload16(0, pf + d);
                vstore16(v, 0, yf + d);
            }
            for (size_t d = D16; d < D; d++) {
                float v = xf[d] * inv;
                if (hasw) v *= wf[d] + one;
                yf[d] = hasp ? v + pf[d] : v;
            }
        }
        if (!has2) return;
        /* the second norm, of the row just stored (still in L1) */
        const global float *w2f = (const global float *)(w2 + w2o);
        global float *y2f = (global float *)(y2 + y2o) + base;
        const float inv2 = qn_inv_rms16(yf, D, eps);
        for (size_t d = 0; d < D16; d += 16) {
            float16 v = vload16(0, yf + d) * inv2;
            if (hasw2) v *= vload16(0, w2f + d) + one;
            vstore16(v, 0, y2f + d);
        }
        for (size_t d = D16; d < D; d++) y2f[d] = yf[d] * inv2 * (hasw2 ? w2f[d] + one : 1.0f);
        return;
    }
    float ss = 0.0f, inv = 1.0f;
    if (norm1) { /* uniform over the group: every item reaches qn_wg_sum's barriers or none */
        for (size_t d = l; d < D; d += ls) {
            float v = qn_norm_in(x + xo, xdt, r + ro, rdt, hasr, base + d);
            ss += v * v;
        }
        ss = qn_wg_sum(red, ss);
        inv = rsqrt(ss / (float)D + eps);
    }
    for (size_t d = l; d < D; d += ls) {
        if (!norm1) { /* add_norm: the sum, as qn_binary stores it */
            qn_st(y + yo, ydt, base + d, qn_norm_in(x + xo, xdt, r + ro, rdt, hasr, base + d));
            continue;
        }
        float g = 1.0f;
        if (hasw) {
            g = qn_ld(w + wo, wdt, d);
            if (plus_one) g += 1.0f;
        }
        const float v = qn_norm_in(x + xo, xdt, r + ro, rdt, hasr, base + d) * inv * g;
        qn_st(y + yo, ydt, base + d, hasp ? v + qn_ld(p + po, pdt, base + d) : v);
    }
    if (!has2) return; /* uniform over the group: every item reaches the barriers below or none */
    barrier(CLK_GLOBAL_MEM_FENCE); /* the row's stores, made by other items, visible to each */
    ss = 0.0f;
    for (size_t d = l; d < D; d += ls) {
        const float v = qn_ld(y + yo, ydt, base + d);
        ss += v * v;
    }
    ss = qn_wg_sum(red, ss);
    inv = rsqrt(ss / (float)D + eps);
    for (size_t d = l; d < D; d += ls) {
        float g = 1.0f;
        if (hasw2) {
            g = qn_ld(w2 + w2o, w2dt, d);
            if (plus_one) g += 1.0f;
        }
        qn_st(y2 + y2o, ydt, base + d, qn_ld(y + yo, ydt, base + d) * inv * g);
    }
}

kernel void qn_rms_norm(QN_RMS_NORM_PARAMS) { qn_rms_norm_row(QN_RMS_NORM_ARGS); }

/* QUANTA_OPENCL_XQ_NORM=1 (clgemv24, off until measured): a decode step's one-row norm (qn_rms_norm's body, one
 * definition) that also leaves its normed row's int8 form at qb + qo, in the layout the XG forms read: q4's 32-column
 * chunks (q4 1: qn_i4_put_g, as qn_i4_quant_xg) or q8's 16-column pieces (q4 0: qn_i8_put_g, as qn_i8_quant_xg). Why:
 * each GEMV reading the row quantized it again in its prologue (every group, before its first step's math), and a
 * launch to do it once costs ~5 us (clgemv23); here no launch is added. The row quantized is the one the GEMVs read (y2
 * with has2, else y), loaded back after the group's own stores and a barrier: the same floats the prologue would
 * load, the same arithmetic, the same planes and bits. One group: one row (M = 1). */
kernel void qn_rms_norm_xq(QN_RMS_NORM_PARAMS, global uchar *qb, ulong qo, int q4) {
    qn_rms_norm_row(QN_RMS_NORM_ARGS);
    barrier(CLK_GLOBAL_MEM_FENCE); /* the row's stores, made by other items, visible to each */
    const global float4 *x4 = (const global float4 *)(has2 ? y2 + y2o : y + yo);
    const long l = (long)get_local_id(0), ls = (long)get_local_size(0);
    global uint4 *xq = (global uint4 *)(qb + qo);
    if (q4) {
        const long nc = (long)D / 32;
        global float *xd = (global float *)(xq + 4 * nc);
        for (long i = l; i < nc; i += ls) {
            float4 a[8];
            QN_I_LOAD8(a, i)
            qn_i4_put_g(xq, xd, (global int *)(xd + nc), nc, a, i);
        }
    } else {
        const long np = (long)D / 16;
        for (long i = l; i < np; i += ls) {
            float4 a[4];
            QN_I_LOAD4(a, i)
            qn_i8_put_g(xq, (global float *)(xq + 2 * np), np, a, i);
        }
    }
}

/* The sum of v over the work-group (size ls, a power of two) in every item, in 3 barriers rather than
 * the tree's log2(ls): up to 32 items add ls/32 values each, then every item adds those (at most 32)
 * in the same order. red: ls floats. */
inline float qn_wg_sum2(local float *red, float v) {
    const int l = (int)get_local_id(0), ls = (int)get_local_size(0), nw = min(ls, 32);
    red[l] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    float s = 0.0f;
    if (l < nw)
        for (int i = l; i < ls; i += nw) s += red[i];
    barrier(CLK_LOCAL_MEM_FENCE);
    if (l < nw) red[l] = s;
    barrier(CLK_LOCAL_MEM_FENCE);
    float s0 = 0.0f, s1 = 0.0f;
    for (int i = 0; i < nw; i += 2) {
        s0 += red[i];
        if (i + 1 < nw) s1 += red[i + 1];
    }
    const float r = s0 + s1;
    barrier(CLK_LOCAL_MEM_FENCE); /* red is reused by the next sum */
    return r;
}

/* qn_rms_norm for the GPU class with the row in registers (QUANTA_OPENCL_NORM_REG=1; off until
 * measured): item l holds elements l, l + ls, ... (at most QN_NORM_REG_MAX: the host checks D), all
 * of x, r, p, w and w2 loaded before the first reduction, one pass. Why: qn_rms_norm reads its row
 * two or three times through global memory (the sum, the store, has2's second norm reading the stored
 * row back after a global barrier), each read a full global latency, and its log2(ls)-barrier trees
 * twice: 9-11 us a decode norm on the H100 (bench/NOTES.md section 1 clgpu12) for a few KB. The
 * second norm reads the stored values from registers where y is f32 (the same value), else its own
 * stores back (y's rounding, as qn_rms_norm's second norm sees it). Same arguments as qn_rms_norm. */
#define QN_NORM_REG_MAX 16
kernel void qn_rms_norm_reg(const global uchar *x, ulong xo, int xdt, const global uchar *r, ulong ro, int rdt,
                            int hasr, const global uchar *w, ulong wo, int wdt, int hasw, int plus_one,
                            const global uchar *p, ulong po, int pdt, int hasp, global uchar *y, ulong yo, int ydt,
                            ulong D, float eps, const global uchar *w2, ulong w2o, int w2dt, int hasw2, int has2,
                            global uchar *y2, ulong y2o, int norm1, local float *red) {
    const size_t row = get_group_id(0), l = get_local_id(0), ls = get_local_size(0), base = row * D;
    const float one = plus_one ? 1.0f : 0.0f;
    float v[QN_NORM_REG_MAX], g[QN_NORM_REG_MAX], pp[QN_NORM_REG_MAX], g2[QN_NORM_REG_MAX];
#pragma unroll
    for (int j = 0; j < QN_NORM_REG_MAX; j++) {
        const size_t d = l + (size_t)j * ls;
        v[j] = 0.0f, g[j] = 1.0f, pp[j] = 0.0f, g2[j] = 1.0f;
        if (d < D) {
            v[j] = qn_norm_in(x + xo, xdt, r + ro, rdt, hasr, base + d);
            if (hasw) g[j] = qn_ld(w + wo, wdt, d) + one;
            if (hasp) pp[j] = qn_ld(p + po, pdt, base + d);
            if (hasw2) g2[j] = qn_ld(w2 + w2o, w2dt, d) + one;
        }
    }
    float inv = 1.0f;
    if (norm1) { /* uniform over the group */
        float ss = 0.0f;
#pragma unroll
        for (int j = 0; j < QN_NORM_REG_MAX; j++) ss += v[j] * v[j]; /* 0 past the row */
        inv = rsqrt(qn_wg_sum2(red, ss) / (float)D + eps);
    }
    float ss2 = 0.0f;
#pragma unroll
    for (int j = 0; j < QN_NORM_REG_MAX; j++) {
        const size_t d = l + (size_t)j * ls;
        if (d < D) {
            const float o = norm1 ? (hasp ? v[j] * inv * g[j] + pp[j] : v[j] * inv * g[j]) : v[j];
            qn_st(y + yo, ydt, base + d, o);
            if (has2) {
                v[j] = ydt == QN_DT_F32 ? o : qn_ld(y + yo, ydt, base + d); /* the row as stored */
                ss2 += v[j] * v[j];
            }
        }
    }
    if (!has2) return; /* uniform over the group */
    const float inv2 = rsqrt(qn_wg_sum2(red, ss2) / (float)D + eps);
#pragma unroll
    for (int j = 0; j < QN_NORM_REG_MAX; j++) {
        const size_t d = l + (size_t)j * ls;
        if (d < D) qn_st(y2 + y2o, ydt, base + d, v[j] * inv2 * g2[j]);
    }
}

kernel void qn_softmax(const global uchar *x, ulong xo, int xdt, global uchar *y, ulong yo, int ydt, ulong D,
                       local float *red) {
    size_t row = get_group_id(0), l = get_local_id(0), ls = get_local_size(0);
    size_t base = row * D;
    float mx = -INFINITY;
    for (size_t d = l; d < D; d += ls) mx = fmax(mx, qn_ld(x + xo, xdt, base + d));
    mx = qn_wg_max(red, mx);
    float sum = 0.0f;
    for (size_t d = l; d < D; d += ls) sum += exp(qn_ld(x + xo, xdt, base + d) - mx);
    sum = qn_wg_sum(red, sum);
    float inv = 1.0f / sum;
    for (size_t d = l; d < D; d += ls) qn_st(y + yo, ydt, base + d, exp(qn_ld(x + xo, xdt, base + d) - mx) * inv);
}

/* One work-group per row of D elements: the index of the largest, the first on ties, -1 for a
 * row with a NaN or -Inf only. Each item keeps its own best over a strided part (its indices
 * rise, so a strict > keeps the first), then the group's tree keeps the larger value, the lower
 * index on ties; a NaN anywhere sets the row's flag (vi < 0 with vnan). */
kernel void qn_argmax(const global uchar *x, ulong xo, int xdt, global int *y, ulong yo, ulong D, local float *rv,
                      local int *ri) {
    const size_t row = get_group_id(0), l = get_local_id(0), ls = get_local_size(0), base = row * D;
    float best = -INFINITY;
    int bi = -1, nan = 0;
    for (size_t d = l; d < D; d += ls) {
        const float v = qn_ld(x + xo, xdt, base + d);
        if (v != v) nan = 1;
        else if (v > best) best = v, bi = (int)d;
    }
    rv[l] = best;
    ri[l] = nan ? -2 : bi; /* -2: this part holds a NaN */
    barrier(CLK_LOCAL_MEM_FENCE);
    for (size_t s = ls / 2; s > 0; s >>= 1) {
        if (l < s) {
            const int i0 = ri[l], i1 = ri[l + s];
            if (i0 == -2 || i1 == -2) ri[l] = -2;
            else if (i1 >= 0 && (i0 < 0 || rv[l + s] > rv[l] || (rv[l + s] == rv[l] && i1 < i0)))
                rv[l] = rv[l + s], ri[l] = i1;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (l == 0) ((global int *)((global uchar *)y + yo))[row] = ri[0] < 0 ? -1 : ri[0];
}

#ifdef cl_khr_fp64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#define QN_ANGLE double
#else
#define QN_ANGLE float
#endif

/* One work-item per (position n, rotated pair i) for every row at that position (all heads
 * and batches: rows j·N + n), so the angle is formed once per position, not once per head;
 * dims past rot are copied. The angle p·θ^(-2i/rot) is formed in double where the device has
 * it (positions reach tens of thousands; f32 angles lose ~1e-3 rad there), reduced to
 * [-π, π] in double, and only then handed to f32 sin/cos: double pow/sin/cos cost ~10 µs per
 * call of a 100-token prompt's rope on PoCL, more than all its matmuls. The frequencies
 * θ^(-2i/rot) come from the host's table freq (has_freq; the host made them in the angle
 * type with the reference's formula) or are computed here: a double exp2 and log2 per pair
 * were 8 of a decode rope's 15 µs on PoCL. */
/* With has2 (rope_pair: a layer's q and k) positions N..2N-1 of dimension 1 do the same for x1 (rows1
 * rows) into y1: one launch for both, each element computed as a rope of x1 alone computes it. */
kernel void qn_rope(const global uchar *x, ulong xo, int xdt, const global int *pos, ulong po,
                    global uchar *y, ulong yo, int ydt, ulong rows, ulong N, ulong D, ulong rot, int neox,
                    float theta_base, float freq_scale, const global QN_ANGLE *freq, int has_freq,
                    const global uchar *x1, ulong xo1, global uchar *y1, ulong yo1, ulong rows1, int has2) {
    size_t n = get_global_id(1);
    const size_t i = get_global_id(0), half_rot = rot / 2;
    if (has2 && n >= N) n -= N, x = x1, xo = xo1, y = y1, yo = yo1, rows = rows1;
    if (i >= half_rot || n >= N) return;
    const global int *pp = (const global int *)((const global uchar *)pos + po);
    const QN_ANGLE p = (QN_ANGLE)pp[n] * (QN_ANGLE)freq_scale;
    const QN_ANGLE two_pi = 6.283185307179586476925;
    const size_t a = neox ? i : 2 * i, b = neox ? i + half_rot : 2 * i + 1;
    if (has_freq && xdt == QN_DT_F32 && ydt == QN_DT_F32 && rot == D) {
        /* straight-line (a select for the pairing, no call under a branch): PoCL vectorises
         * the work-group loop, sincos included (Gemma's decode rope 7 -> ~3 µs) */
        const QN_ANGLE th = p * freq[i];
        float c;
        const float s = sincos((float)(th - two_pi * rint(th / two_pi)), &c);
        const global float *xf = (const global float *)(x + xo);
        global float *yf = (global float *)(y + yo);
        for (size_t r = n; r < rows; r += N) {
            const float x0 = xf[r * D + a], x1 = xf[r * D + b];
            yf[r * D + a] = x0 * c - x1 * s;
            yf[r * D + b] = x0 * s + x1 * c;
        }
        return;
    }
    const QN_ANGLE th = p * (has_freq ? freq[i] : exp2(-2.0 * (QN_ANGLE)i / (QN_ANGLE)rot * log2((QN_ANGLE)theta_base)));
    const float red = (float)(th - two_pi * rint(th / two_pi));
    float c;
    const float s = sincos(red, &c);
    /* dims past rot are copied, half_rot apart, by the pairs' items */
    for (size_t d = rot + i; d < D; d += half_rot)
        for (size_t r = n; r < rows; r += N) qn_st(y + yo, ydt, r * D + d, qn_ld(x + xo, xdt, r * D + d));
    for (size_t r = n; r < rows; r += N) {
        const size_t base = r * D;
        const float x0 = qn_ld(x + xo, xdt, base + a), x1 = qn_ld(x + xo, xdt, base + b);
        qn_st(y + yo, ydt, base + a, x0 * c - x1 * s);
        qn_st(y + yo, ydt, base + b, x0 * s + x1 * c);
    }
}

/* rms_norm_rope: rope(rms_norm(x) · (w or 1 + w)), the normed rows kept in f32. One work-group
 * per position n of all its pairs (local size rot / 2): first the inverse rms of each row at n
 * (item j takes rows j, j + ls, ...; into inv, rows / N floats of local memory), then the
 * rotation as qn_rope's, each element scaled by its row's inv and its weight as it is read.
 * One launch for what were rms_norm and rope, no intermediate in memory. With has2
 * (rms_norm_rope_pair: a layer's q and k) groups N..2N-1 do the same for x1 (rows1 rows, weight
 * w1 when hasw1) into y1: one launch for both; inv holds max(rows, rows1) / N floats. With has_kv
 * (rope_kv, has2 too) x1's rows go into the k cache y1 at the rows write_rows would put them (row j·Nmax + the
 * start's row for n; a start outside the cache writes nothing and is reported through err), and groups
 * 2N..3N-1 copy v's rows into the v cache vc the same way; without norm the rows are rotated as they are (inv 1,
 * no weights: rope_pair's form, the same values as qn_rope's). */
inline float qn_nr_ld(const global uchar *x, int xdt, const global float *w, int hasw, float one, size_t i, size_t d,
                      float inv) {
    const float v = qn_ld(x, xdt, i) * inv;
    return hasw ? v * (w[d] + one) : v;
}

kernel void qn_rms_norm_rope(const global uchar *x, ulong xo, int xdt, const global uchar *wb, ulong wo, int hasw,
                             int plus_one, float eps, const global int *pos, ulong po, global uchar *y, ulong yo,
                             int ydt, ulong rows, ulong N, ulong D, ulong rot, int neox, float theta_base,
                             float freq_scale, const global QN_ANGLE *freq, int has_freq, const global uchar *x1,
                             ulong xo1, const global uchar *wb1, ulong wo1, int hasw1, global uchar *y1, ulong yo1,
                             ulong rows1, int has2, int norm, int has_kv, ulong Nmax, const global uchar *startp,
                             ulong sto, ulong ns, const global uchar *v, ulong vo, global uchar *vc, ulong vco,
                             ulong rows_v, int one_row, global int *err, local float *inv) {
    size_t n = get_group_id(1);
    const size_t i = get_local_id(0), ls = get_local_size(0), half_rot = rot / 2, jr = get_group_id(2);
    if (has_kv && n >= 2 * N) { /* rope_kv: v's rows at position n - 2N copied into v_cache, as write_rows does */
        n -= 2 * N;
        const long dr = qn_write_row_dest(startp, sto, ns, n, N, Nmax, 0, err); /* k's groups report */
        if (dr < 0) return;
        for (size_t j = one_row ? jr : 0; j < (one_row ? min(jr + 1, rows_v / N) : rows_v / N); j++)
            for (size_t d = i; d < D; d += ls)
                qn_st(vc + vco, ydt, (j * Nmax + (size_t)dr) * D + d, qn_ld(v + vo, xdt, (j * N + n) * D + d));
        return;
    }
    /* out rows: r = j·N + n in y; rope_kv's k rows go to row j·Nmax + dr of the k cache (y1) instead */
    size_t ostride = N, orow = n;
    if (has2 && n >= N) { /* the second tensor of the pair */
        n -= N, x = x1, xo = xo1, wb = wb1, wo = wo1, hasw = hasw1, y = y1, yo = yo1, rows = rows1, orow = n;
        if (has_kv) {
            const long dr = qn_write_row_dest(startp, sto, ns, n, N, Nmax, n == 0 && i == 0, err);
            if (dr < 0) return; /* uniform over the group: no item reaches the barrier below */
            ostride = Nmax, orow = (size_t)dr;
        }
    }
    const size_t per = rows / N; /* rows at position n: r = j·N + n */
    /* one_row (the GPU class): group jr of dimension 2 takes row jr alone, its sum of squares a
     * tree over the group (else a group takes every row at n, each row's sum in one item) */
    const size_t j0 = one_row ? jr : 0, j1 = one_row ? min(jr + 1, per) : per;
    if (j0 >= j1) return; /* uniform over the group: no item reaches the barriers below */
    float iv1 = 1.0f;
    if (one_row) {
        float ss = 0.0f;
        for (size_t d = i; norm && d < D; d += ls) {
            const float v = qn_ld(x + xo, xdt, (j0 * N + n) * D + d);
            ss += v * v;
        }
        inv[i] = ss;
        barrier(CLK_LOCAL_MEM_FENCE);
        size_t w = 1;
        while (w < ls) w <<= 1;
        for (w >>= 1; w > 0; w >>= 1) {
            if (i < w && i + w < ls) inv[i] += inv[i + w];
            barrier(CLK_LOCAL_MEM_FENCE);
        }
        if (norm) iv1 = rsqrt(inv[0] / (float)D + eps);
    }
    for (size_t j = i; !one_row && j < per; j += ls) {
        const size_t base = (j * N + n) * D;
        if (!norm) { /* rope_kv of rope_pair: the rows as they are (x · 1 · 1 is x) */
            inv[j] = 1.0f;
            continue;
        }
        if (xdt == QN_DT_F32 && D % 16 == 0 && xo % 4 == 0) {
            inv[j] = qn_inv_rms16((const global float *)(x + xo) + base, D, eps);
            continue;
        }
        float ss = 0.0f;
        for (size_t d = 0; d < D; d++) {
            const float v = qn_ld(x + xo, xdt, base + d);
            ss += v * v;
        }
        inv[j] = rsqrt(ss / (float)D + eps);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    if (i >= half_rot) return;
    const global float *w = (const global float *)(wb + wo);
    const float one = plus_one ? 1.0f : 0.0f;
    const global int *pp = (const global int *)((const global uchar *)pos + po);
    const QN_ANGLE p = (QN_ANGLE)pp[n] * (QN_ANGLE)freq_scale;
    const QN_ANGLE two_pi = 6.283185307179586476925;
    const size_t a = neox ? i : 2 * i, b = neox ? i + half_rot : 2 * i + 1;
    if (has_freq && xdt == QN_DT_F32 && ydt == QN_DT_F32 && rot == D && (xo | yo | wo) % 4 == 0) {
        /* straight-line, as qn_rope's: PoCL vectorises the work-group loop, sincos included
         * (the generic loop below, its loads and stores switching on the dtype, stays scalar) */
        const QN_ANGLE th = p * freq[i];
        float c;
        const float s = sincos((float)(th - two_pi * rint(th / two_pi)), &c);
        const float ga = hasw ? w[a] + one : 1.0f, gb = hasw ? w[b] + one : 1.0f;
        const global float *xf = (const global float *)(x + xo);
        global float *yf = (global float *)(y + yo);
        for (size_t j = j0; j < j1; j++) {
            const size_t base = (j * N + n) * D, obase = (j * ostride + orow) * D;
            const float iv = one_row ? iv1 : inv[j], x0 = xf[base + a] * iv * ga, x1 = xf[base + b] * iv * gb;
            yf[obase + a] = x0 * c - x1 * s;
            yf[obase + b] = x0 * s + x1 * c;
        }
        return;
    }
    const QN_ANGLE th = p * (has_freq ? freq[i] : exp2(-2.0 * (QN_ANGLE)i / (QN_ANGLE)rot * log2((QN_ANGLE)theta_base)));
    float c;
    const float s = sincos((float)(th - two_pi * rint(th / two_pi)), &c);
    for (size_t j = j0; j < j1; j++) {
        const size_t base = (j * N + n) * D, obase = (j * ostride + orow) * D;
        const float iv = one_row ? iv1 : inv[j];
        for (size_t d = rot + i; d < D; d += half_rot) /* dims past rot: normed, not rotated */
            qn_st(y + yo, ydt, obase + d, qn_nr_ld(x + xo, xdt, w, hasw, one, base + d, d, iv));
        const float x0 = qn_nr_ld(x + xo, xdt, w, hasw, one, base + a, a, iv);
        const float x1 = qn_nr_ld(x + xo, xdt, w, hasw, one, base + b, b, iv);
        qn_st(y + yo, ydt, obase + a, x0 * c - x1 * s);
        qn_st(y + yo, ydt, obase + b, x0 * s + x1 * c);
    }
}

/* out[t, c] = W[ids[t], c] for t < T (ids == 0: row t itself, i.e. a full dequantize). An id
 * outside [0, V) writes nothing and is reported through err (qn_report). */
kernel void qn_get_rows(const global uchar *wb, ulong wo, QN_WLAYOUT_ARGS, const global uchar *ids, ulong io,
                        int has_ids, global uchar *y, ulong yo, int ydt, ulong T, long V, global int *err) {
    QN_WLAYOUT_MAKE(w);
    size_t gid = get_global_id(0);
    if (gid >= T * (size_t)wcols) return;
    size_t t = gid / (size_t)wcols, c = gid % (size_t)wcols;
    long r = has_ids ? ((const global int *)(ids + io))[t] : (long)t;
    if (r < 0 || r >= V) {
        if (c == 0) qn_report(err, QN_ERR_GET_ROWS_ID, (int)t, (int)r, (int)V);
        return;
    }
    qn_st(y + yo, ydt, gid, qn_w_elem(wb + wo, &w, r, (long)c));
}

/* out[o] = x[sum_i o_i * step_i]: out dims od (padded to 4 at the front), element size es. */
kernel void qn_permute(const global uchar *x, ulong xo, global uchar *y, ulong yo, int es, ulong n,
                       long4 od, long4 step) {
    size_t o = get_global_id(0);
    if (o >= n) return;
    long r = (long)o;
    long i3 = r % od.w; r /= od.w;
    long i2 = r % od.z; r /= od.z;
    long i1 = r % od.y; r /= od.y;
    long xi = r * step.x + i1 * step.y + i2 * step.z + i3 * step.w;
    const global uchar *s = x + xo + (size_t)xi * es;
    global uchar *d = y + yo + o * es;
    for (int k = 0; k < es; k++) d[k] = s[k];
}

/* CPUs: one work-item per output row of od.w elements (the row's source offset worked out
 * once, 64-bit divisions per row instead of three per element), elements moved as their own
 * type when both offsets allow. */
kernel void qn_permute_rows(const global uchar *x, ulong xo, global uchar *y, ulong yo, int es, ulong n,
                            long4 od, long4 step) {
    const size_t r = get_global_id(0);
    if (r >= n / (ulong)od.w) return;
    long q = (long)r;
    const long i2 = q % od.z;
    q /= od.z;
    const long i1 = q % od.y, i0 = q / od.y;
    const long x0 = i0 * step.x + i1 * step.y + i2 * step.z, w = od.w, sw = step.w;
    const size_t o0 = r * (size_t)w;
    if (es == 4 && xo % 4 == 0 && yo % 4 == 0) {
        const global uint *s = (const global uint *)(x + xo);
        global uint *d = (global uint *)(y + yo);
        for (long i = 0; i < w; i++) d[o0 + i] = s[x0 + i * sw];
    } else if (es == 2 && xo % 2 == 0 && yo % 2 == 0) {
        const global ushort *s = (const global ushort *)(x + xo);
        global ushort *d = (global ushort *)(y + yo);
        for (long i = 0; i < w; i++) d[o0 + i] = s[x0 + i * sw];
    } else {
        for (long i = 0; i < w; i++)
            for (int k = 0; k < es; k++) y[yo + (o0 + i) * es + k] = x[xo + (x0 + i * sw) * es + k];
    }
}

/* dst[bh, start + t, :] = src[bh, t, :], or dst[bh, start[t], :] with one start per row (ns = T)
 * (float dtypes converted; others copied by bytes). start is read here, on the device, so
 * enqueueing this op never waits for the queue (a KV cache write per layer and step would
 * otherwise drain it twice per layer); a start that would write outside dst writes nothing
 * (that row, with one start per row) and reports what it was through err (qn_report). */
inline void qn_write_rows_at(size_t i, const global uchar *s, ulong so, int sdt, global uchar *d, ulong dof, int ddt,
                             int es, ulong T, ulong Nmax, ulong D, const global uchar *startp, ulong sto, ulong ns,
                             global int *err) {
    size_t c = i % D, row = i / D, t = row % T, bh = row / T;
    const long dr = qn_write_row_dest(startp, sto, ns, t, T, Nmax, i == 0, err);
    if (dr < 0) return;
    size_t di = (bh * Nmax + (size_t)dr) * D + c;
    if (sdt == ddt && (sdt > QN_DT_BF16)) {
        for (int k = 0; k < es; k++) d[dof + di * es + k] = s[so + i * es + k];
    } else {
        qn_st(d + dof, ddt, di, qn_ld(s + so, sdt, i));
    }
}

kernel void qn_write_rows(const global uchar *s, ulong so, int sdt, global uchar *d, ulong dof, int ddt,
                          int es, ulong n, ulong T, ulong Nmax, ulong D, const global uchar *startp, ulong sto,
                          ulong ns, global int *err) {
    size_t i = get_global_id(0);
    if (i < n) qn_write_rows_at(i, s, so, sdt, d, dof, ddt, es, T, Nmax, D, startp, sto, ns, err);
}

/* write_rows_pair: two such writes of one shape and dtype at one start (a layer's k and v cache
 * appends) in one launch, items [0, n) the first, [n, 2n) the second. */
kernel void qn_write_rows_pair(const global uchar *s0, ulong so0, global uchar *d0, ulong do0, const global uchar *s1,
                               ulong so1, global uchar *d1, ulong do1, int sdt, int ddt, int es, ulong n, ulong T,
                               ulong Nmax, ulong D, const global uchar *startp, ulong sto, ulong ns, global int *err) {
    size_t i = get_global_id(0);
    if (i < n) qn_write_rows_at(i, s0, so0, sdt, d0, do0, ddt, es, T, Nmax, D, startp, sto, ns, err);
    else if (i < 2 * n) qn_write_rows_at(i - n, s1, so1, sdt, d1, do1, ddt, es, T, Nmax, D, startp, sto, ns, err);
}

/* Bandwidth probe: one float4 per work-item. */
kernel void qn_copy(const global float4 *src, global float4 *dst, ulong n4) {
    size_t i = get_global_id(0);
    if (i < n4) dst[i] = src[i];
}
