/*
 * matmul.cl — y[M,N] = x[M,K] · W[N,K]^T with W dense (f32/f16/bf16) or quantized.
 *
 * Weights are walked in chunks of 32 along K and dequantized in registers (never to memory);
 * a chunk never straddles a q4 group or an nf4 block (groups are 32, 64 or 128), so it needs
 * one scale (and one zero). Nibble formats decode even columns and odd columns as two float16
 * halves; qn_x_prep reorders x the same way once per call.
 *
 * GEMV (M <= 8, decode):
 *   qn_gemv_rows  CPUs: one work-item per weight row, no barriers.
 *   qn_gemv       GPUs: several work-items per row, partial sums meet in a local-memory tree
 *                 (no subgroups needed, so every OpenCL 1.2 device runs it).
 * GEMM (M > 8, prefill):
 *   qn_gemm_rows  CPUs: 4 weight rows x 4 x rows per work-item, 16 float16 accumulators.
 *   qn_gemm       GPUs: 64x64 output tiles, 16x16 work-items with 4x4 register tiles, K in
 *                 steps of 16 through local memory; the weight tile is dequantized while loaded.
 *
 * x is f32 (the host converts f16/bf16 activations first); y is stored in its dtype.
 */

#define QN_GEMV_MAXM 8

/* Per-row state for walking one weight row in 32-weight chunks: pointers and shifts worked
 * out once per row, so the chunk loop has no integer divisions (64-bit divides cost tens of
 * cycles each on CPUs and would dominate the decode). */
typedef struct qn_wrow {
    const global uchar *codes;  /* the row's codes */
    const global uchar *scales; /* q4: f16 per group; nf4: f32 absmax per block (dq = 0) */
    const global uchar *zeros;  /* q4: zero nibbles */
    float rs;                   /* q8/fp8: the row scale */
    int gsh;                    /* log2(group) - 5: chunk index >> gsh = group index */
    long blk0;                  /* nf4: first block of the row (whole-matrix index) */
    long cj;                    /* q4: group whose scale and zero are cached below */
    float cs, czs;              /* q4: its scale and zero * scale */
} qn_wrow;

inline qn_wrow qn_wrow_make(const global uchar *W, const qn_wdesc *w, long n) {
    qn_wrow r;
    r.codes = W + n * w->row_bytes;
    r.scales = W;
    r.zeros = W;
    r.rs = 1.0f;
    r.gsh = 0;
    r.blk0 = 0;
    r.cj = -1;
    r.cs = r.czs = 0.0f;
    switch (w->fmt) {
    case QN_Q4: {
        long ng = w->cols / w->group;
        r.scales = W + w->so + n * ng * 2;
        r.zeros = W + w->zo + n * w->zrb;
        r.gsh = 26 - clz(w->group); /* group 32/64/128 -> 0/1/2 */
        break;
    }
    case QN_NF4:
        r.blk0 = n * (w->cols / 64);
        r.scales = W + w->so + r.blk0 * 4;
        break;
    case QN_Q8: case QN_E4M3: case QN_E5M2:
        r.codes = W + n * w->cols;
        r.rs = qn_ldf_any(W + w->so + n * 4);
        break;
    case QN_F16: case QN_BF16: r.codes = W + n * w->cols * 2; break;
    default: r.codes = W + n * w->cols * 4; break;
    }
    return r;
}

/* out[i] = table[i-th index] for 16 lanes: a 16-entry table lookup as a 4-level select tree on
 * the index bits, 15 vector selects that every compiler vectorizes. (Variable vector subscripts,
 * which LLVM lowers to permutes, measured 3x slower under PoCL 3.1, and so did shuffle().) */
inline float16 qn_lut16_select(float16 t, uint16 c) {
    int16 m0 = as_int16(c << 31), m1 = as_int16(c << 30), m2 = as_int16(c << 29), m3 = as_int16(c << 28);
    float16 p0 = select((float16)t.s0, (float16)t.s1, m0), p1 = select((float16)t.s2, (float16)t.s3, m0);
    float16 p2 = select((float16)t.s4, (float16)t.s5, m0), p3 = select((float16)t.s6, (float16)t.s7, m0);
    float16 p4 = select((float16)t.s8, (float16)t.s9, m0), p5 = select((float16)t.sa, (float16)t.sb, m0);
    float16 p6 = select((float16)t.sc, (float16)t.sd, m0), p7 = select((float16)t.se, (float16)t.sf, m0);
    float16 q0 = select(p0, p1, m1), q1 = select(p2, p3, m1), q2 = select(p4, p5, m1), q3 = select(p6, p7, m1);
    float16 r0 = select(q0, q1, m2), r1 = select(q2, q3, m2);
    return select(r0, r1, m3);
}

/* Chunk c (weights 32c .. 32c+31) of a row as two float16 halves w0, w1. Nibble formats give
 * even columns in w0 and odd ones in w1 (the caller splits x the same way); the others give
 * columns 0-15 and 16-31. */
inline void qn_chunk32(const global uchar *W, const qn_wdesc *w, qn_wrow *r, long c, float16 *w0, float16 *w1) {
    switch (w->fmt) {
    case QN_Q4: {
        uchar16 b = vload16(c, r->codes);
        long j = c >> r->gsh;
        if (j != r->cj) { /* a new group: groups of 64/128 span 2/4 chunks */
            r->cj = j;
            r->cs = vload_half(j, (const global half *)r->scales);
            r->czs = (float)((r->zeros[j >> 1] >> ((j & 1) * 4)) & 15u) * r->cs;
        }
        /* convert and scale: cheaper than a table lookup */
        *w0 = convert_float16(b & (uchar)15) * r->cs - r->czs;
        *w1 = convert_float16(b >> (uchar)4) * r->cs - r->czs;
        break;
    }
    case QN_NF4: {
        uchar16 b = vload16(c, r->codes);
        float s = w->dq ? qn_nf4_absmax(W, w, (size_t)(r->blk0 + (c >> 1)))
                        : ((const global float *)r->scales)[c >> 1];
        const float16 book = vload16(0, qn_nf4_book);
        *w0 = qn_lut16_select(book, convert_uint16(b & (uchar)15)) * s;
        *w1 = qn_lut16_select(book, convert_uint16(b >> (uchar)4)) * s;
        break;
    }
    case QN_Q8: {
        const global char *p = (const global char *)r->codes + c * 32;
        *w0 = convert_float16(vload16(0, p)) * r->rs;
        *w1 = convert_float16(vload16(1, p)) * r->rs;
        break;
    }
    case QN_E4M3: case QN_E5M2: {
        const global uchar *p = r->codes + c * 32;
        for (int h = 0; h < 2; h++) {
            uint16 cc = convert_uint16(vload16(h, p));
            uint16 sign = (cc & 0x80u) << 24;
            float16 v;
            if (w->fmt == QN_E4M3) {
                uint16 e = (cc >> 3) & 15u, m = cc & 7u;
                v = select(as_float16(((e + 120u) << 23) | (m << 20)), convert_float16(m) * 0.001953125f,
                           convert_int16(e == 0u));
                v = select(v, (float16)(NAN), convert_int16((cc & 0x7fu) == 0x7fu));
            } else {
                uint16 e = (cc >> 2) & 31u, m = cc & 3u;
                v = select(as_float16(((e + 112u) << 23) | (m << 21)), convert_float16(m) * 1.52587890625e-5f,
                           convert_int16(e == 0u));
                v = select(v, select((float16)(NAN), (float16)(INFINITY), convert_int16(m == 0u)),
                           convert_int16(e == 31u));
            }
            v = as_float16(as_uint16(v) | sign) * r->rs;
            if (h == 0) *w0 = v; else *w1 = v;
        }
        break;
    }
    case QN_F16: {
        const global half *p = (const global half *)r->codes + c * 32;
        *w0 = vload_half16(0, p);
        *w1 = vload_half16(1, p);
        break;
    }
    case QN_BF16: {
        const global ushort *p = (const global ushort *)r->codes + c * 32;
        *w0 = as_float16(convert_uint16(vload16(0, p)) << 16);
        *w1 = as_float16(convert_uint16(vload16(1, p)) << 16);
        break;
    }
    default: {
        const global float *p = (const global float *)r->codes + c * 32;
        *w0 = vload16(0, p);
        *w1 = vload16(1, p);
        break;
    }
    }
}

/* x for the GEMV, converted to f32 and, for nibble formats (deint = 1), each 32-column chunk
 * reordered to its even columns then its odd ones, the order qn_chunk32 decodes nibbles in. */
kernel void qn_x_prep(const global uchar *x, ulong xo, int xdt, global float *y, ulong n, int deint) {
    size_t i = get_global_id(0);
    if (i >= n) return;
    size_t src = i;
    if (deint) {
        size_t p = i & 31u;
        src = (i & ~(size_t)31) + (p < 16 ? 2 * p : 2 * (p - 16) + 1);
    }
    y[i] = qn_ld(x + xo, xdt, src);
}

inline float qn_hsum16(float16 v) {
    float8 a = v.lo + v.hi;
    float4 b = a.lo + a.hi;
    float2 c = b.lo + b.hi;
    return c.x + c.y;
}

#define QN_GEMV_ACC(i)                                                                      \
    if ((i) < M) {                                                                          \
        const global float *xr = x + (size_t)(i) * (size_t)K + k0;                          \
        float16 xa = vload16(0, xr), xb = vload16(1, xr);                                  \
        acc##i += w0 * xa + w1 * xb;                                                        \
    }

/* Partial dot products of weight row n with the M rows of x (prepared by qn_x_prep) over
 * chunks c0, c0+step, ...
 * (and the scalar tail columns past the last full chunk, which dense, q8 and fp8 allow). */
inline void qn_gemv_row(const global uchar *W, const qn_wdesc *wp, const global float *x, int M, long n, long K,
                        long c0, long step, float *part) {
    const qn_wdesc w = *wp;
    float16 acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0, acc4 = 0, acc5 = 0, acc6 = 0, acc7 = 0;
    const long nchunk = K / 32;
    qn_wrow row = qn_wrow_make(W, &w, n);
    for (long c = c0; c < nchunk; c += step) {
        long k0 = c * 32;
        float16 w0, w1;
        qn_chunk32(W, &w, &row, c, &w0, &w1);
        QN_GEMV_ACC(0) QN_GEMV_ACC(1) QN_GEMV_ACC(2) QN_GEMV_ACC(3)
        QN_GEMV_ACC(4) QN_GEMV_ACC(5) QN_GEMV_ACC(6) QN_GEMV_ACC(7)
    }
    part[0] = qn_hsum16(acc0), part[1] = qn_hsum16(acc1), part[2] = qn_hsum16(acc2), part[3] = qn_hsum16(acc3);
    part[4] = qn_hsum16(acc4), part[5] = qn_hsum16(acc5), part[6] = qn_hsum16(acc6), part[7] = qn_hsum16(acc7);
    for (long k = nchunk * 32 + c0; k < K; k += step) {
        float wv = qn_w_elem(W, &w, n, k);
        for (int m = 0; m < M; m++) part[m] += wv * x[(size_t)m * (size_t)K + k];
    }
}

/* CPUs: one work-item per weight row, no local memory and no barriers (PoCL runs the items of
 * a group as a loop; barriers would split it and spill the accumulators). */
kernel void qn_gemv_rows(const global uchar *Wb, ulong wo, QN_WDESC_ARGS, const global uchar *xb_, ulong xo,
                         global uchar *y, ulong yo, int ydt, int M, long N, long K) {
    QN_WDESC_MAKE(w);
    const long n = get_global_id(0);
    if (n >= N) return;
    float part[QN_GEMV_MAXM];
    qn_gemv_row(Wb + wo, &w, (const global float *)(xb_ + xo), M, n, K, 0, 1, part);
    for (int m = 0; m < M; m++) qn_st(y + yo, ydt, (size_t)m * (size_t)N + n, part[m]);
}

/* GPUs: work-group (lsx, lsy) holds lsy weight rows, each walked by lsx work-items whose
 * partial sums meet in a local-memory tree. red holds QN_GEMV_MAXM * lsx * lsy floats. */
kernel void qn_gemv(const global uchar *Wb, ulong wo, QN_WDESC_ARGS, const global uchar *xb_, ulong xo,
                    global uchar *y, ulong yo, int ydt, int M, long N, long K, local float *red) {
    QN_WDESC_MAKE(w);
    const size_t l = get_local_id(0), ls = get_local_size(0), ly = get_local_id(1);
    const long n = get_group_id(1) * (long)get_local_size(1) + (long)ly;
    float part[QN_GEMV_MAXM] = {0, 0, 0, 0, 0, 0, 0, 0};
    if (n < N) qn_gemv_row(Wb + wo, &w, (const global float *)(xb_ + xo), M, n, K, (long)l, (long)ls, part);
    local float *r = red + ly * QN_GEMV_MAXM * ls;
    for (int m = 0; m < M; m++) r[m * ls + l] = part[m];
    barrier(CLK_LOCAL_MEM_FENCE);
    for (size_t s = ls / 2; s > 0; s >>= 1) {
        if (l < s)
            for (int m = 0; m < M; m++) r[m * ls + l] += r[m * ls + l + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (n < N)
        for (size_t m = l; m < (size_t)M; m += ls) qn_st(y + yo, ydt, m * (size_t)N + n, r[m * ls]);
}

/* CPUs, M > 8: each work-item owns 4 weight rows x 4 x rows and walks K in 32-weight chunks,
 * decoding each chunk once for the 4 x rows, with 16 float16 accumulators (AVX-512 holds them
 * in registers). No local memory and no barriers: on a CPU the caches do the tiling, and PoCL
 * runs barrier-free work-groups as plain loops. x is prepared by qn_x_prep. */
#define QN_GR_DECL(i) qn_wrow w##i = qn_wrow_make(W, &w, min(n0 + i, N - 1));
#define QN_GR_ACC(j)                                                                        \
    {                                                                                       \
        const global float *xr = x##j + k0;                                                 \
        float16 xa = vload16(0, xr), xb = vload16(1, xr);                                   \
        a0##j += u0 * xa + v0 * xb;                                                         \
        a1##j += u1 * xa + v1 * xb;                                                         \
        a2##j += u2 * xa + v2 * xb;                                                         \
        a3##j += u3 * xa + v3 * xb;                                                         \
    }
kernel void qn_gemm_rows(const global uchar *Wb, ulong wo, QN_WDESC_ARGS, const global uchar *xb_, ulong xo,
                         global uchar *y, ulong yo, int ydt, long M, long N, long K) {
    QN_WDESC_MAKE(w);
    const global uchar *W = Wb + wo;
    const global float *x = (const global float *)(xb_ + xo);
    const long n0 = get_global_id(0) * 4, m0 = get_global_id(1) * 4;
    if (n0 >= N || m0 >= M) return;
    QN_GR_DECL(0) QN_GR_DECL(1) QN_GR_DECL(2) QN_GR_DECL(3)
    const global float *x0 = x + min(m0 + 0, M - 1) * K, *x1 = x + min(m0 + 1, M - 1) * K;
    const global float *x2 = x + min(m0 + 2, M - 1) * K, *x3 = x + min(m0 + 3, M - 1) * K;
    float16 a00 = 0, a01 = 0, a02 = 0, a03 = 0, a10 = 0, a11 = 0, a12 = 0, a13 = 0;
    float16 a20 = 0, a21 = 0, a22 = 0, a23 = 0, a30 = 0, a31 = 0, a32 = 0, a33 = 0;
    const long nchunk = K / 32;
    for (long c = 0; c < nchunk; c++) {
        const long k0 = c * 32;
        float16 u0, v0, u1, v1, u2, v2, u3, v3;
        qn_chunk32(W, &w, &w0, c, &u0, &v0);
        qn_chunk32(W, &w, &w1, c, &u1, &v1);
        qn_chunk32(W, &w, &w2, c, &u2, &v2);
        qn_chunk32(W, &w, &w3, c, &u3, &v3);
        QN_GR_ACC(0) QN_GR_ACC(1) QN_GR_ACC(2) QN_GR_ACC(3)
    }
    float r[4][4] = {{qn_hsum16(a00), qn_hsum16(a01), qn_hsum16(a02), qn_hsum16(a03)},
                     {qn_hsum16(a10), qn_hsum16(a11), qn_hsum16(a12), qn_hsum16(a13)},
                     {qn_hsum16(a20), qn_hsum16(a21), qn_hsum16(a22), qn_hsum16(a23)},
                     {qn_hsum16(a30), qn_hsum16(a31), qn_hsum16(a32), qn_hsum16(a33)}};
    const global float *xs[4] = {x0, x1, x2, x3};
    for (long k = nchunk * 32; k < K; k++) /* dense, q8, fp8: columns past the last chunk */
        for (int i = 0; i < 4; i++) {
            float wv = qn_w_elem(W, &w, min(n0 + i, N - 1), k);
            for (int j = 0; j < 4; j++) r[i][j] += wv * xs[j][k];
        }
    for (int j = 0; j < 4; j++)
        for (int i = 0; i < 4; i++)
            if (m0 + j < M && n0 + i < N) qn_st(y + yo, ydt, (size_t)((m0 + j) * N + n0 + i), r[i][j]);
}

#define QN_TM 64
#define QN_TN 64
#define QN_TK 16

/* Work-group (16, 16): item (tx, ty) owns rows m0 + ty*4 .. +3 and columns n0 + tx*4 .. +3. */
kernel __attribute__((reqd_work_group_size(16, 16, 1)))
void qn_gemm(const global uchar *Wb, ulong wo, QN_WDESC_ARGS, const global uchar *xb_, ulong xo,
             global uchar *y, ulong yo, int ydt, long M, long N, long K) {
    QN_WDESC_MAKE(w);
    const global uchar *W = Wb + wo;
    const global float *x = (const global float *)(xb_ + xo);
    local float Xs[QN_TK][QN_TM];
    local float Ws[QN_TK][QN_TN];
    int tx = get_local_id(0), ty = get_local_id(1), lid = ty * 16 + tx;
    long n0 = get_group_id(0) * QN_TN, m0 = get_group_id(1) * QN_TM;
    float acc[4][4];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) acc[i][j] = 0.0f;
    for (long k0 = 0; k0 < K; k0 += QN_TK) {
        for (int e = lid; e < QN_TM * QN_TK; e += 256) {
            int r = e / QN_TK, kk = e % QN_TK;
            long m = m0 + r, k = k0 + kk, n = n0 + r;
            Xs[kk][r] = (m < M && k < K) ? x[m * K + k] : 0.0f;
            Ws[kk][r] = (n < N && k < K) ? qn_w_elem(W, &w, n, k) : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int kk = 0; kk < QN_TK; kk++) {
            float4 a = vload4(0, &Xs[kk][ty * 4]);
            float4 b = vload4(0, &Ws[kk][tx * 4]);
            acc[0][0] += a.x * b.x; acc[0][1] += a.x * b.y; acc[0][2] += a.x * b.z; acc[0][3] += a.x * b.w;
            acc[1][0] += a.y * b.x; acc[1][1] += a.y * b.y; acc[1][2] += a.y * b.z; acc[1][3] += a.y * b.w;
            acc[2][0] += a.z * b.x; acc[2][1] += a.z * b.y; acc[2][2] += a.z * b.z; acc[2][3] += a.z * b.w;
            acc[3][0] += a.w * b.x; acc[3][1] += a.w * b.y; acc[3][2] += a.w * b.z; acc[3][3] += a.w * b.w;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    for (int i = 0; i < 4; i++) {
        long m = m0 + ty * 4 + i;
        if (m >= M) break;
        for (int j = 0; j < 4; j++) {
            long n = n0 + tx * 4 + j;
            if (n < N) qn_st(y + yo, ydt, (size_t)(m * N + n), acc[i][j]);
        }
    }
}
