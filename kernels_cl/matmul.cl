/*
 * matmul.cl — y[M,N] = x[M,K] · W[N,K]^T with W dense (f32/f16/bf16) or quantized.
 *
 * Weights are walked in chunks of 32 along K and dequantized in registers (never to memory);
 * a chunk never straddles a q4 group or an nf4 block (groups are 32, 64 or 128), so it needs
 * one scale (and one zero). Nibble formats decode even columns and odd columns as two float16
 * halves; qn_x_prep reorders x the same way once per call.
 *
 * GEMV (M <= 8, decode):
 *   qn_gemv_rows  CPUs: one work-item per weight row, no barriers (qn_gemv_rows_glu: the same
 *                 over a gate row and an up row, through the activation: matmul_glu;
 *                 qn_gemv_rows_multi: over the rows of two or three weights of one x: matmul_multi).
 *   qn_gemv       GPUs: several work-items per row, partial sums meet in a local-memory tree
 *                 (no subgroups needed, so every OpenCL 1.2 device runs it). q8, q4 and f16
 *                 have their own GPU kernels, the format fixed (gemv_gpu.cl); qn_gemv takes
 *                 the other formats and what those kernels' alignment checks refuse.
 *   Both walk a weight row through qn_gemv_row once per x row: one loop per format with the
 *   decode inline (PoCL does not inline a shared chunk decoder, and a call per chunk spills
 *   every accumulator), NF4 decoded by 16-entry table lookups (one vpermd each on AVX-512),
 *   scales applied once per chunk or group, and q4's zero point folded out:
 *   Σ (q - z)·s·x = s·Σ q·x - s·z·Σ x, with Σ x per group computed once per call by qn_x_prep.
 * GEMM (M > 8, prefill):
 *   qn_gemm_rows  CPUs: 4 weight rows x 4 x rows per work-item, 16 float16 accumulators.
 *   qn_gemm       GPUs: 64x64 output tiles, 16x16 work-items with 4x4 register tiles, K in
 *                 steps of 16 through local memory; the weight tile is dequantized while loaded.
 *
 * x is f32 (the host converts f16/bf16 activations first); y is stored in its dtype.
 */



/* t[c] for 16 lanes (c < 16), written as per-lane extracts, which LLVM's x86 back end turns
 * into one vpermd. (A 15-blend select tree measured about 2x slower in the inlined GEMV loop;
 * shuffle() is a slow library call in PoCL.) Subscripting a vector with a variable is a clang
 * extension, so other OpenCL C compilers get the select tree. */
QN_INL float16 qn_lut16(float16 t, uint16 c) {
#ifdef __clang__
    return (float16)(t[c.s0], t[c.s1], t[c.s2], t[c.s3], t[c.s4], t[c.s5], t[c.s6], t[c.s7],
                     t[c.s8], t[c.s9], t[c.sa], t[c.sb], t[c.sc], t[c.sd], t[c.se], t[c.sf]);
#else
    const int16 m0 = as_int16(c << 31), m1 = as_int16(c << 30), m2 = as_int16(c << 29), m3 = as_int16(c << 28);
    const float16 p0 = select((float16)t.s0, (float16)t.s1, m0), p1 = select((float16)t.s2, (float16)t.s3, m0);
    const float16 p2 = select((float16)t.s4, (float16)t.s5, m0), p3 = select((float16)t.s6, (float16)t.s7, m0);
    const float16 p4 = select((float16)t.s8, (float16)t.s9, m0), p5 = select((float16)t.sa, (float16)t.sb, m0);
    const float16 p6 = select((float16)t.sc, (float16)t.sd, m0), p7 = select((float16)t.se, (float16)t.sf, m0);
    const float16 q0 = select(p0, p1, m1), q1 = select(p2, p3, m1), q2 = select(p4, p5, m1), q3 = select(p6, p7, m1);
    return select(select(q0, q1, m2), select(q2, q3, m2), m3);
#endif
}

/* 16 FP8 codes, exact (the vector form of qn_e4m3_f32 / qn_e5m2_f32). */
QN_INL float16 qn_fp8_16(uint16 cc, int fmt) {
    float16 v;
    if (fmt == QN_DT_E4M3) {
        const uint16 e = (cc >> 3) & 15u, m = cc & 7u;
        v = select(as_float16(((e + 120u) << 23) | (m << 20)), convert_float16(m) * 0.001953125f, e == 0u);
        v = select(v, (float16)(NAN), (cc & 0x7fu) == 0x7fu);
    } else {
        const uint16 e = (cc >> 2) & 31u, m = cc & 3u;
        v = select(as_float16(((e + 112u) << 23) | (m << 21)), convert_float16(m) * 1.52587890625e-5f, e == 0u);
        v = select(v, select((float16)(NAN), (float16)(INFINITY), m == 0u), e == 31u);
    }
    return as_float16(as_uint16(v) | ((cc & 0x80u) << 24));
}

#define QN_NF4_BOOK vload16(0, qn_nf4_book)

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

inline qn_wrow qn_wrow_make(const global uchar *W, const qn_quant_layout *w, long n) {
    qn_wrow r;
    r.codes = W + n * w->codes_row_bytes;
    r.scales = W;
    r.zeros = W;
    r.rs = 1.0f;
    r.gsh = 0;
    r.blk0 = 0;
    r.cj = -1;
    r.cs = r.czs = 0.0f;
    switch (w->dtype) {
    case QN_DT_Q4: {
        long ng = w->cols / w->group;
        r.scales = W + w->scales_offset + n * ng * 2;
        r.zeros = W + w->q4_zeros_offset + n * w->q4_zero_row_bytes;
        r.gsh = 26 - clz(w->group); /* group 32/64/128 -> 0/1/2 */
        break;
    }
    case QN_DT_NF4:
        r.blk0 = n * (w->cols / 64);
        r.scales = W + w->scales_offset + r.blk0 * 4;
        break;
    case QN_DT_Q8: case QN_DT_E4M3: case QN_DT_E5M2:
        r.codes = W + n * w->cols;
        r.rs = qn_ldf_any(W + w->scales_offset + n * 4);
        break;
    case QN_DT_F16: case QN_DT_BF16: r.codes = W + n * w->cols * 2; break;
    case QN_DT_F32: r.codes = W + n * w->cols * 4; break;
    default: break; /* ggml blocks: rows of codes_row_bytes */
    }
    return r;
}

/* Chunk c (weights 32c .. 32c+31) of a row as two float16 halves w0, w1. Nibble formats give
 * even columns in w0 and odd ones in w1 (the caller splits x the same way); the others give
 * columns 0-15 and 16-31. */
inline void qn_chunk32(const global uchar *W, const qn_quant_layout *w, qn_wrow *r, long c, float16 *w0, float16 *w1) {
    switch (w->dtype) {
    case QN_DT_Q4: {
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
    case QN_DT_NF4: {
        const uint16 b = convert_uint16(vload16(c, r->codes));
        float s = w->double_quant ? qn_nf4_absmax(W, w, (size_t)(r->blk0 + (c >> 1)))
                        : ((const global float *)r->scales)[c >> 1];
        *w0 = qn_lut16(QN_NF4_BOOK, b & 15u) * s;
        *w1 = qn_lut16(QN_NF4_BOOK, b >> 4) * s;
        break;
    }
    case QN_DT_Q8: {
        const global char *p = (const global char *)r->codes + c * 32;
        *w0 = convert_float16(vload16(0, p)) * r->rs;
        *w1 = convert_float16(vload16(1, p)) * r->rs;
        break;
    }
    case QN_DT_E4M3: case QN_DT_E5M2: {
        const global uchar *p = r->codes + c * 32;
        *w0 = qn_fp8_16(convert_uint16(vload16(0, p)), w->dtype) * r->rs;
        *w1 = qn_fp8_16(convert_uint16(vload16(1, p)), w->dtype) * r->rs;
        break;
    }
    case QN_DT_F16: {
        const global ushort *p = (const global ushort *)r->codes + c * 32;
        *w0 = qn_h2f16(convert_uint16(vload16(0, p)));
        *w1 = qn_h2f16(convert_uint16(vload16(1, p)));
        break;
    }
    case QN_DT_BF16: {
        const global ushort *p = (const global ushort *)r->codes + c * 32;
        *w0 = as_float16(convert_uint16(vload16(0, p)) << 16);
        *w1 = as_float16(convert_uint16(vload16(1, p)) << 16);
        break;
    }
    case QN_DT_GGML_Q4_0: qn_ggml32(r->codes, QN_DT_GGML_Q4_0, c, w0, w1); break;
    case QN_DT_GGML_Q4_1: qn_ggml32(r->codes, QN_DT_GGML_Q4_1, c, w0, w1); break;
    case QN_DT_GGML_Q5_0: qn_ggml32(r->codes, QN_DT_GGML_Q5_0, c, w0, w1); break;
    case QN_DT_GGML_Q5_1: qn_ggml32(r->codes, QN_DT_GGML_Q5_1, c, w0, w1); break;
    case QN_DT_GGML_Q8_0: qn_ggml32(r->codes, QN_DT_GGML_Q8_0, c, w0, w1); break;
    case QN_DT_GGML_Q4_K: qn_ggml32(r->codes, QN_DT_GGML_Q4_K, c, w0, w1); break;
    case QN_DT_GGML_Q5_K: qn_ggml32(r->codes, QN_DT_GGML_Q5_K, c, w0, w1); break;
    case QN_DT_GGML_Q6_K: qn_ggml32(r->codes, QN_DT_GGML_Q6_K, c, w0, w1); break;
    default: {
        const global float *p = (const global float *)r->codes + c * 32;
        *w0 = vload16(0, p);
        *w1 = vload16(1, p);
        break;
    }
    }
}

/* x for the GEMV (and the CPU GEMM) of nibble formats: f32, each 32-column chunk reordered
 * to its even columns then its odd ones (the order nibbles decode in), and with g > 0 the sums
 * of every g columns after the n values (q4's zero term, g = its group). One work-item per
 * chunk: n is a multiple of 32 and of g, as the nibble formats' groups divide K. */
kernel void qn_x_prep(const global uchar *x, ulong xo, int xdt, global float *y, ulong n, int g) {
    const size_t c = get_global_id(0);
    if (c >= n / 32) return;
    for (int p = 0; p < 32; p++) y[c * 32 + (p >> 1) + (p & 1) * 16] = qn_ld(x + xo, xdt, c * 32 + p);
    if (g > 0 && (c * 32) % (size_t)g == 0) {
        float s = 0.0f;
        for (int p = 0; p < g; p++) s += qn_ld(x + xo, xdt, c * 32 + p);
        y[n + c * 32 / (size_t)g] = s;
    }
}

/* Nibble codes of chunk c (32 weights, 16 bytes): even columns in lo, odd ones in hi. */
#define QN_NIB(c) const uint16 nb_ = convert_uint16(vload16((c), codes)); const uint16 lo = nb_ & 15u, hi = nb_ >> 4;
/* A += w0·x[k0..k0+15] + w1·x[k0+16..k0+31] */
#define QN_DOT(A) A += fma(w0, vload16(0, x + k0), w1 * vload16(1, x + k0));
/* w0, w1 = book[lo], book[hi]: NF4's code book */
#define QN_LUT_DECODE(c) QN_NIB(c) const float16 w0 = qn_lut16(book, lo), w1 = qn_lut16(book, hi);

/* q4 group j: its chunks summed into t and u (even and odd columns: two FMA chains), then
 * acc += s·(t + u). */
#define QN_Q4_GROUP(J)                                                                      \
    {                                                                                       \
        float16 t = 0.0f, u = 0.0f;                                                         \
        for (int q = 0; q < cpg; q++) {                                                     \
            const long c = (J) * cpg + q, k0 = c * 32;                                      \
            QN_NIB(c)                                                                       \
            t = fma(convert_float16(lo), vload16(0, x + k0), t);                            \
            u = fma(convert_float16(hi), vload16(1, x + k0), u);                            \
        }                                                                                   \
        acc = fma((float16)s, t + u, acc);                                                  \
    }

/* Σ_k W[n,k]·x[k] for one x row. For nibble formats x comes from qn_x_prep: chunks split
 * into even | odd columns, then (q4) the row's group sums xg. Each format has its own loop
 * with the decode inline: an out-of-line chunk decoder costs a call per chunk that spills
 * every accumulator under PoCL. c0/step: this work-item's share of the row, in chunks (q8,
 * fp8, dense) or groups (q4, nf4); GPUs split rows. With blocks (CPUs, step 1) q4 rows go 16
 * groups and nf4 rows 16 chunks at a time, their scales (and q4 zeros) decoded as one
 * vector, so the chunk loops hold no per-group scalar work. Several x rows (M <= 8) call
 * this once each: the weight row is back from L1 after the first, and one copy of the code
 * keeps PoCL's cold compile short (8 x rows unrolled in registers cost seconds of it). */
QN_INL float qn_gemv_row(const global uchar *W, const qn_quant_layout *wp, const global float *x, const global float *xg,
                         long n, long K, long c0, long step, const int blocks) {
    const qn_quant_layout w = *wp;
    float16 acc = 0.0f, accb = 0.0f, zacc = 0.0f;
    const long nchunk = K / 32;
    const global uchar *codes = W + n * w.codes_row_bytes;
    float sa[16];
    switch (w.dtype) {
    case QN_DT_Q4: {
        /* w = (q - z)·s, so Σ w·x = s·Σ q·x - s·z·Σ x, with Σ x per group from qn_x_prep: the
         * zero point leaves the chunk loop. Blocks of 16 groups decode their f16 scales and
         * zeros as vectors (scalar decoding per group cost a third of the time). */
        const int cpg = w.group >> 5;
        const long ng = w.cols / w.group;
        const global ushort *sc = (const global ushort *)(W + w.scales_offset) + n * ng;
        const global uchar *zp = W + w.q4_zeros_offset + n * w.q4_zero_row_bytes;
        long j0 = c0;
        for (; blocks && j0 + 16 <= ng; j0 += 16) {
            const float16 s16 = qn_h2f16(convert_uint16(vload16(0, sc + j0)));
            const uchar8 zb = vload8(0, zp + (j0 >> 1)); /* even groups in the low nibbles */
            const float16 X = vload16(0, xg + j0);
            zacc += (float16)(convert_float8(zb & (uchar)15) * s16.even * X.even,
                              convert_float8(zb >> (uchar)4) * s16.odd * X.odd);
            vstore16(s16, 0, sa);
            for (int jj = 0; jj < 16; jj++) {
                const float s = sa[jj];
                QN_Q4_GROUP(j0 + jj)
            }
        }
        /* the rest (GPUs: all of it), a group at a time */
        for (long j = j0; j < ng; j += step) {
            const float s = qn_h2f(sc[j]);
            QN_Q4_GROUP(j)
            zacc.s0 = fma((float)((zp[j >> 1] >> ((j & 1) * 4)) & 15u) * s, xg[j], zacc.s0);
        }
        break;
    }
    case QN_DT_NF4: {
        const long blk0 = n * (w.cols / 64);
        const float16 book = QN_NF4_BOOK;
        /* blocks of 16 chunks = 8 absmax blocks, within one 256-block dq group */
        const long nf = blocks && !(w.double_quant && (w.cols & 511)) ? nchunk & ~15L : 0;
        for (long c = 0; c < nf; c += 16) {
            const long b = blk0 + (c >> 1);
            float8 a;
            if (w.double_quant) {
                a = convert_float8(vload8(0, (const global char *)W + w.scales_offset + b)) *
                        qn_ldf_any(W + w.nf4_dq_scales_offset + (b / QN_NF4_DQ_BLOCK) * 4) +
                    qn_ldf_any(W + w.nf4_dq_mean_offset);
                a = fmax(a, 0.0f);
            } else {
                a = vload8(0, (const global float *)(W + w.scales_offset) + b);
            }
            vstore16((float16)(a.s0011, a.s2233, a.s4455, a.s6677), 0, sa);
            /* chunk pairs into two accumulators: two FMA chains */
            for (int cc = 0; cc < 16; cc += 2) {
                float16 t = 0.0f, u = 0.0f;
                { const long k0 = (c + cc) * 32; QN_LUT_DECODE(c + cc) QN_DOT(t) }
                { const long k0 = (c + cc + 1) * 32; QN_LUT_DECODE(c + cc + 1) QN_DOT(u) }
                acc = fma((float16)sa[cc], t, acc);
                accb = fma((float16)sa[cc + 1], u, accb);
            }
        }
        for (long j = (nf >> 1) + c0; j < w.cols / 64; j += step) {
            float16 t = 0.0f;
            for (int q = 0; q < 2; q++) {
                const long c = 2 * j + q, k0 = c * 32;
                QN_LUT_DECODE(c)
                QN_DOT(t)
            }
            acc = fma((float16)qn_nf4_absmax(W, &w, (size_t)(blk0 + j)), t, acc);
        }
        break;
    }
    case QN_DT_Q8: {
        const global char *q8 = (const global char *)W + n * w.cols;
        for (long c = c0; c < nchunk; c += step) {
            const long k0 = c * 32;
            const float16 w0 = convert_float16(vload16(2 * c, q8)), w1 = convert_float16(vload16(2 * c + 1, q8));
            QN_DOT(acc)
        }
        acc *= qn_ldf_any(W + w.scales_offset + n * 4);
        break;
    }
    case QN_DT_E4M3: case QN_DT_E5M2: {
        const global uchar *f8 = W + n * w.cols;
        for (long c = c0; c < nchunk; c += step) {
            const long k0 = c * 32;
            const float16 w0 = qn_fp8_16(convert_uint16(vload16(2 * c, f8)), w.dtype);
            const float16 w1 = qn_fp8_16(convert_uint16(vload16(2 * c + 1, f8)), w.dtype);
            QN_DOT(acc)
        }
        acc *= qn_ldf_any(W + w.scales_offset + n * 4);
        break;
    }
/* a ggml row chunk by chunk, each decoded to weights (the general loop; GPUs split rows) */
#define QN_GGML_CHUNKS(DT)                                                                  \
    for (long c = c0; c < nchunk; c += step) {                                              \
        const long k0 = c * 32;                                                             \
        float16 w0, w1;                                                                     \
        qn_ggml32(codes, DT, c, &w0, &w1);                                                  \
        QN_DOT(acc)                                                                         \
    }
#define QN_GGML_GEMV(DT)                                                                    \
    case DT:                                                                                \
        QN_GGML_CHUNKS(DT)                                                                  \
        break;
/* scale-only blocks: the chunk's codes dotted with x, then one scale per chunk; chunk pairs
 * alternate two accumulators (two dependency chains) */
#define QN_GGML_CHUNK(A, C)                                                                 \
    {                                                                                       \
        const long k0 = (C) * 32;                                                           \
        float16 q0, q1;                                                                     \
        const float d = qn_ggml32_codes(codes, DT_, (C), &q0, &q1);                         \
        A = fma((float16)d, fma(q0, vload16(0, x + k0), q1 * vload16(1, x + k0)), A);       \
    }
#define QN_GGML_GEMV_SCALED(DT)                                                             \
    case DT: {                                                                              \
        const int DT_ = DT;                                                                 \
        long c = c0;                                                                        \
        for (; c + step < nchunk; c += 2 * step) {                                          \
            QN_GGML_CHUNK(acc, c)                                                           \
            QN_GGML_CHUNK(accb, c + step)                                                   \
        }                                                                                   \
        if (c < nchunk) QN_GGML_CHUNK(acc, c)                                               \
        break;                                                                              \
    }
    /* ggml blocks: one loop per format, its decode inline (a literal dtype per loop) */
    QN_GGML_GEMV_SCALED(QN_DT_GGML_Q4_0)
    QN_GGML_GEMV(QN_DT_GGML_Q4_1)
    QN_GGML_GEMV_SCALED(QN_DT_GGML_Q5_0)
    QN_GGML_GEMV(QN_DT_GGML_Q5_1)
    QN_GGML_GEMV_SCALED(QN_DT_GGML_Q8_0)
    case QN_DT_GGML_Q4_K:
        /* CPUs (step 1): a 256-block at a time, its 8 scales and mins decoded as one vector;
         * Σ (d·q - m)·x = d·Σ q·x - m·Σ x, the mins' term in its own accumulator */
        if (step == 1) {
            for (long blk = 0; blk < nchunk / 8; blk++) {
                const global uchar *b = codes + blk * 144;
                const uchar4 s0 = vload4(0, b + 4), s1 = vload4(1, b + 4), s2 = vload4(2, b + 4);
                const uchar8 sc = (uchar8)(s0 & (uchar)63, (s2 & (uchar)15) | ((s0 >> (uchar)6) << (uchar)4));
                const uchar8 mn = (uchar8)(s1 & (uchar)63, (s2 >> (uchar)4) | ((s1 >> (uchar)6) << (uchar)4));
                float ds[8], ms[8];
                vstore8(convert_float8(sc) * qn_ggml_h(b), 0, ds);
                vstore8(convert_float8(mn) * qn_ggml_h(b + 2), 0, ms);
                for (int j = 0; j < 4; j++) {
                    const global uchar *q = b + 16 + 32 * j;
                    const uint16 qa = convert_uint16(vload16(0, q)), qb = convert_uint16(vload16(1, q));
                    const long k0 = blk * 256 + 64 * j;
                    const float16 xa = vload16(0, x + k0), xb = vload16(1, x + k0);
                    const float16 xc = vload16(2, x + k0), xd = vload16(3, x + k0);
                    acc = fma((float16)ds[2 * j], fma(convert_float16(qa & 15u), xa, convert_float16(qb & 15u) * xb), acc);
                    accb = fma((float16)ds[2 * j + 1], fma(convert_float16(qa >> 4), xc, convert_float16(qb >> 4) * xd), accb);
                    zacc = fma((float16)ms[2 * j], xa + xb, fma((float16)ms[2 * j + 1], xc + xd, zacc));
                }
            }
            break;
        }
        QN_GGML_CHUNKS(QN_DT_GGML_Q4_K)
        break;
    QN_GGML_GEMV(QN_DT_GGML_Q5_K)
    case QN_DT_GGML_Q6_K:
        /* CPUs (step 1): a 256-block at a time, its 16 scales decoded as one vector; each
         * 128-weight half reads its 64 low-nibble and 32 high-bit bytes once for 4 chunks */
        if (step == 1) {
            for (long blk = 0; blk < nchunk / 8; blk++) {
                const global uchar *b = codes + blk * 210;
                float sv[16];
                vstore16(convert_float16(vload16(0, (const global char *)(b + 192))) * qn_ggml_h(b + 208), 0, sv);
                for (int h = 0; h < 2; h++) {
                    const global uchar *ql = b + 64 * h, *qh = b + 128 + 32 * h;
                    const uint16 a0 = convert_uint16(vload16(0, ql)), a1 = convert_uint16(vload16(1, ql));
                    const uint16 b0 = convert_uint16(vload16(2, ql)), b1 = convert_uint16(vload16(3, ql));
                    const uint16 h0 = convert_uint16(vload16(0, qh)), h1 = convert_uint16(vload16(1, qh));
                    const long kb = blk * 256 + 128 * h;
#define QN_Q6_CHUNK(T, LO0, LO1)                                                                             \
    {                                                                                                        \
        const long k0 = kb + 32 * (T);                                                                       \
        const float16 q0 = convert_float16(convert_int16((LO0) | (((h0 >> (2u * (T))) & 3u) << 4)) - 32);   \
        const float16 q1 = convert_float16(convert_int16((LO1) | (((h1 >> (2u * (T))) & 3u) << 4)) - 32);   \
        acc = fma((float16)sv[8 * h + 2 * (T)], q0 * vload16(0, x + k0), acc);                              \
        accb = fma((float16)sv[8 * h + 2 * (T) + 1], q1 * vload16(1, x + k0), accb);                        \
    }
                    QN_Q6_CHUNK(0, a0 & 15u, a1 & 15u)
                    QN_Q6_CHUNK(1, b0 & 15u, b1 & 15u)
                    QN_Q6_CHUNK(2, a0 >> 4, a1 >> 4)
                    QN_Q6_CHUNK(3, b0 >> 4, b1 >> 4)
#undef QN_Q6_CHUNK
                }
            }
            break;
        }
        QN_GGML_CHUNKS(QN_DT_GGML_Q6_K)
        break;
    default: {
        qn_wrow row = qn_wrow_make(W, &w, n);
        for (long c = c0; c < nchunk; c += step) {
            const long k0 = c * 32;
            float16 w0, w1;
            qn_chunk32(W, &w, &row, c, &w0, &w1);
            QN_DOT(acc)
        }
        break;
    }
    }
    float part = qn_hsum16(acc + accb - zacc);
    for (long k = nchunk * 32 + c0; k < K; k += step) part += qn_w_elem(W, &w, n, k) * x[k];
    return part;
}

/* x row m of the GEMV and (q4) its group sums, which qn_x_prep put after the M rows of x. */
#define QN_XROW(m) (x + (size_t)(m) * (size_t)K)
#define QN_XGS(m) (x + (size_t)M * (size_t)K + (size_t)(m) * (size_t)(wgroup > 0 ? K / wgroup : 0))

/* CPUs: one work-item per weight row, no local memory and no barriers (PoCL runs the items of
 * a group as a loop; barriers would split it and spill the accumulators). */
kernel void qn_gemv_rows(const global uchar *Wb, ulong wo, QN_WLAYOUT_ARGS, const global uchar *xb_, ulong xo,
                         global uchar *y, ulong yo, int ydt, int M, long N, long K) {
    QN_WLAYOUT_MAKE(w);
    const long n = get_global_id(0);
    if (n >= N) return;
    const global float *x = (const global float *)(xb_ + xo);
    for (int m = 0; m < M; m++)
        qn_st(y + yo, ydt, (size_t)m * (size_t)N + n, qn_gemv_row(Wb + wo, &w, QN_XROW(m), QN_XGS(m), n, K, 0, 1, 1));
}

/* matmul_glu on CPUs: y = act(x·Wg^T) * (x·Wu^T), the gate row and the up row of one n per
 * work-item (Wg and Wu share one layout: same format and shape), act a QN_UNARY_* code. One
 * launch instead of gate, up and glu; x (in L1) is read once per pair of rows. */
kernel void qn_gemv_rows_glu(const global uchar *Wg, ulong go, const global uchar *Wu, ulong uo, QN_WLAYOUT_ARGS,
                             const global uchar *xb_, ulong xo, global uchar *y, ulong yo, int ydt, int M, long N,
                             long K, int act) {
    QN_WLAYOUT_MAKE(w);
    const long n = get_global_id(0);
    if (n >= N) return;
    const global float *x = (const global float *)(xb_ + xo);
    if (w.dtype == QN_DT_Q8 && K % 32 == 0) {
        /* q8 (the decode's format on CPUs): both rows in one walk over K, each x chunk loaded
         * once for two FMA chains (two calls of the general walk measured ~25% slower than
         * the two GEMVs they replace) */
        const global char *qg = (const global char *)(Wg + go) + n * K, *qu = (const global char *)(Wu + uo) + n * K;
        const float sg = qn_ldf_any(Wg + go + w.scales_offset + n * 4), su = qn_ldf_any(Wu + uo + w.scales_offset + n * 4);
        for (int m = 0; m < M; m++) {
            const global float *xr = QN_XROW(m);
            float16 ag = 0.0f, au = 0.0f;
            for (long c = 0; c < K / 32; c++) {
                const float16 x0 = vload16(2 * c, xr), x1 = vload16(2 * c + 1, xr);
                ag = fma(convert_float16(vload16(2 * c, qg)), x0, ag);
                au = fma(convert_float16(vload16(2 * c, qu)), x0, au);
                ag = fma(convert_float16(vload16(2 * c + 1, qg)), x1, ag);
                au = fma(convert_float16(vload16(2 * c + 1, qu)), x1, au);
            }
            qn_st(y + yo, ydt, (size_t)m * (size_t)N + n, qn_act(qn_hsum16(ag) * sg, act, 0.0f) * (qn_hsum16(au) * su));
        }
        return;
    }
    for (int m = 0; m < M; m++) {
        const float g = qn_gemv_row(Wg + go, &w, QN_XROW(m), QN_XGS(m), n, K, 0, 1, 1);
        const float u = qn_gemv_row(Wu + uo, &w, QN_XROW(m), QN_XGS(m), n, K, 0, 1, 1);
        qn_st(y + yo, ydt, (size_t)m * (size_t)N + n, qn_act(g, act, 0.0f) * u);
    }
}

/* matmul_multi on CPUs: y_p = x·W_p^T for two or three weights of one format and K (a layer's q,
 * k and v projections) in one launch, work-item n walking row n of the weights stacked (W0's N0
 * rows, then W1's N1, then W2's N2), each row through qn_gemv_row exactly as qn_gemv_rows walks
 * it alone (the same bits). The weights share the layout w but for where their scales start
 * (ws0..ws2: each matrix's scales follow its own codes); the host claims only formats whose
 * other layout fields do not depend on the row count (not q4 or nf4). */
kernel void qn_gemv_rows_multi(const global uchar *W0, ulong wo0, long ws0, const global uchar *W1, ulong wo1, long ws1,
                               const global uchar *W2, ulong wo2, long ws2, QN_WLAYOUT_ARGS, const global uchar *xb_,
                               ulong xo, global uchar *y0, ulong yo0, global uchar *y1, ulong yo1, global uchar *y2,
                               ulong yo2, int ydt, int M, long N0, long N1, long N2, long K) {
    QN_WLAYOUT_MAKE(w);
    long n = get_global_id(0);
    if (n >= N0 + N1 + N2) return;
    const global uchar *W = W0 + wo0;
    global uchar *y = y0 + yo0;
    long N = N0;
    w.scales_offset = ws0;
    if (n >= N0 + N1) {
        n -= N0 + N1, W = W2 + wo2, y = y2 + yo2, N = N2, w.scales_offset = ws2;
    } else if (n >= N0) {
        n -= N0, W = W1 + wo1, y = y1 + yo1, N = N1, w.scales_offset = ws1;
    }
    const global float *x = (const global float *)(xb_ + xo);
    for (int m = 0; m < M; m++)
        qn_st(y, ydt, (size_t)m * (size_t)N + n, qn_gemv_row(W, &w, QN_XROW(m), QN_XROW(m), n, K, 0, 1, 1));
}

/* The GPU GEMVs' end: the lsx partial sums of each of a group's lsy rows meet in a local-memory
 * tree (red holds QN_GEMV_MAXM * lsx * lsy floats) and item m of row n stores y[m][n] times scale. */
inline void qn_gemv_reduce_store(float *part, local float *red, global uchar *y, int ydt, int M, long N, long n,
                                 float scale) {
    const size_t l = get_local_id(0), ls = get_local_size(0), ly = get_local_id(1);
    local float *r = red + ly * QN_GEMV_MAXM * ls;
    for (int m = 0; m < M; m++) r[m * ls + l] = part[m];
    barrier(CLK_LOCAL_MEM_FENCE);
    for (size_t s = ls / 2; s > 0; s >>= 1) {
        if (l < s)
            for (int m = 0; m < M; m++) r[m * ls + l] += r[m * ls + l + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (n < N)
        for (size_t m = l; m < (size_t)M; m += ls) qn_st(y, ydt, m * (size_t)N + n, r[m * ls] * scale);
}

/* GPUs: work-group (lsx, lsy) holds lsy weight rows, each walked by lsx work-items. */
/* A GPU GEMV's start: item l of ls walks row n of its group's rows, partial sums in part. */
#define QN_GEMV_GPU_BEGIN                                                                              \
    QN_WLAYOUT_MAKE(w);                                                                                \
    const size_t l = get_local_id(0), ls = get_local_size(0);                                          \
    const long n = get_group_id(1) * (long)get_local_size(1) + (long)get_local_id(1);                  \
    float part[QN_GEMV_MAXM] = {0, 0, 0, 0, 0, 0, 0, 0};                                               \
    const global float *x = (const global float *)(xb_ + xo);

kernel void qn_gemv(const global uchar *Wb, ulong wo, QN_WLAYOUT_ARGS, const global uchar *xb_, ulong xo,
                    global uchar *y, ulong yo, int ydt, int M, long N, long K, local float *red) {
    QN_GEMV_GPU_BEGIN
    if (n < N)
        for (int m = 0; m < M; m++) part[m] = qn_gemv_row(Wb + wo, &w, QN_XROW(m), QN_XGS(m), n, K, (long)l, (long)ls, 0);
    qn_gemv_reduce_store(part, red, y + yo, ydt, M, N, n, 1.0f);
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
kernel void qn_gemm_rows(const global uchar *Wb, ulong wo, QN_WLAYOUT_ARGS, const global uchar *xb_, ulong xo,
                         global uchar *y, ulong yo, int ydt, long M, long N, long K) {
    QN_WLAYOUT_MAKE(w);
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
void qn_gemm(const global uchar *Wb, ulong wo, QN_WLAYOUT_ARGS, const global uchar *xb_, ulong xo,
             global uchar *y, ulong yo, int ydt, long M, long N, long K) {
    QN_WLAYOUT_MAKE(w);
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
