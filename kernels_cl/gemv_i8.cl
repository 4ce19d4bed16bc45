/*
 * gemv_i8.cl — decode GEMV (M <= 8 x rows) over ggml Q5_0 blocks with integer dot products,
 * for CPUs: y[m,n] = Σ_k x[m,k]·W[n,k], and the gated pair act(x·Wgᵀ)·(x·Wuᵀ) (matmul_glu).
 *
 * Why: decode reads every weight once per token, so the weights' bytes set its floor. A q8
 * repack of a Q5_0 tensor reads 8.25 bits per weight where the file has 5.5; but the float
 * GEMV over Q5_0 blocks (matmul.cl) spends ~14 vector instructions per 32 weights decoding
 * them to floats and measured 1.6-2.3x the q8 GEMV's time on PoCL (bench/NOTES.md section 1,
 * v4 and v7): instruction-bound, not bandwidth-bound. Here x is quantized to int8 per block of
 * 32 columns (ggml's q8_0 activations: scale max|x|/127, round to nearest even, plus a second
 * plane for the remainder) once per work-group into local memory, each weight block becomes
 * 32 unsigned bytes (its 5-bit codes, 0..31) with a few integer operations, and vpdpbusd
 * (AVX-512 VNNI, by inline assembly as in matmul_int8.cl) multiplies and adds the pairs: one
 * instruction per x plane for a block of two weight rows.
 *
 * The maths per weight block b (d its f16 scale, q its codes, dx and xq x's block scale and
 * codes):  Σ_k w·x ≈ d·dx·Σ_k (q - 16)·xq, the -16 entering each lane's integer sum as its
 * start value, exact in int32.
 *
 * Work: one work-group per compute unit (each quantizes x once), two weight rows per
 * work-item (a GEMV's rows 2n and 2n + 1, or matmul_glu's gate and up rows n), so each x
 * load, each dot-product instruction and the float conversion serve two rows
 * (bench/NOTES.md section 1 v9).
 *
 * The dot product is QN_DP4 (common.cl); without QN_X86_VNNI it is written out (exact too),
 * so conformance checks this kernel on any device (QUANTA_OPENCL_VNNI=0 with
 * QUANTA_OPENCL_GEMM=int8).
 */

/* x rows [M, K] (f32, K % 32 == 0) as two int8 planes per block of 32 columns: xh = x/dx
 * rounded (dx = max|x|/127, ggml's q8_0 activations) and xl = the remainder in 1/256 steps,
 * so x ≈ dx·(xh + xl/256) to ~16 bits. One plane alone (8 bits) puts an error of ~0.5% of
 * a dot product's scale on it, which a single output (a 1x1 product) shows as NMSE above the
 * 5e-4 bound about one draw in six.
 * Block i (x row i % M, columns 32·(i / M) ...: a block's M rows side by side) is laid out for 16-lane integer dot products
 * of two weight rows at once (row a's 32 codes in the low half of the vector, row b's in the
 * high half):
 *   X[i]: 128 bytes, xh twice then xl twice;
 *   O[i]: 32 ints, per lane the -16 offset's term of the 4 codes that lane multiplies
 *         (-16·Σ of them; the weights' codes are stored 0..31 for q - 16 + 16), the xh plane's
 *         16 lanes then the xl plane's, so a lane's dot product starts from O and ends as
 *         Σ (q - 16)·x exactly;
 *   D[i]: dx / 256 (the xh plane's dot product is shifted up by 8 bits to join the xl one's).
 * The work-items of the group share the blocks. */
QN_INL int4 qn_i8_sum4(int16 v) { return v.s048c + v.s159d + v.s26ae + v.s37bf; }
QN_INL void qn_i8_quant_x(const global float *x, long nblk, int M, long K, local char *X, local int *O, local float *D) {
    for (long i = get_local_id(0); i < nblk; i += get_local_size(0)) {
        const global float *xi_ = x + (i % M) * K + 32 * (i / M);
        const float16 a = vload16(0, xi_), c = vload16(1, xi_);
        const float16 m16 = fmax(fabs(a), fabs(c));
        const float8 m8 = fmax(m16.lo, m16.hi);
        const float4 m4 = fmax(m8.lo, m8.hi);
        const float2 m2 = fmax(m4.lo, m4.hi);
        const float am = fmax(m2.x, m2.y), inv = am > 0.0f ? 127.0f / am : 0.0f;
        const float16 sa = a * inv, sc = c * inv;
        const float16 ra = rint(sa), rc = rint(sc);
        const int16 ha = convert_int16(ra), hc = convert_int16(rc);
        const int16 la = convert_int16(clamp(rint((sa - ra) * 256.0f), -127.0f, 127.0f));
        const int16 lc = convert_int16(clamp(rint((sc - rc) * 256.0f), -127.0f, 127.0f));
        const char16 h0 = convert_char16(ha), h1 = convert_char16(hc), l0 = convert_char16(la), l1 = convert_char16(lc);
        local char *xi = X + 128 * i;
        vstore16(h0, 0, xi), vstore16(h1, 1, xi), vstore16(h0, 2, xi), vstore16(h1, 3, xi);
        vstore16(l0, 4, xi), vstore16(l1, 5, xi), vstore16(l0, 6, xi), vstore16(l1, 7, xi);
        const int8 oh = -16 * (int8)(qn_i8_sum4(ha), qn_i8_sum4(hc)), ol = -16 * (int8)(qn_i8_sum4(la), qn_i8_sum4(lc));
        vstore16((int16)(oh, oh), 0, O + 32 * i);
        vstore16((int16)(ol, ol), 1, O + 32 * i);
        D[i] = am / (127.0f * 256.0f);
    }
}

/* Weights of a Q5_0 block (22 bytes: f16 d, u32 qh, 16 bytes qs) as 32 unsigned bytes in
 * column order, 0..31: weight j < 16 is qs[j] & 15, weight j + 16 is qs[j] >> 4, each with bit
 * j (j + 16) of qh as its bit 4, i.e. +16. The 16 code bytes are loaded into both halves and
 * the upper half shifted by 4. With AVX-512 the high bits are one mask register (kmovd) and a
 * masked byte add; elsewhere each int's 4 bits are spread to bit 4 of its bytes by one
 * multiply (the shifted copies at 4, 11, 18, 25 cannot overlap, so nothing carries). */
#if defined(QN_X86_VNNI)
QN_INL int8 qn_i8_q5_0_codes(const global uchar *blk) {
    const uint4 qs = as_uint4(vload16(0, blk + 6));
    int8 w = as_int8(((uint8)(qs, qs) >> (uint8)(0, 0, 0, 0, 4, 4, 4, 4)) & 0x0F0F0F0Fu);
    const int8 sixteen = (int8)0x10101010;
    __asm__("kmovd 2(%1), %%k1\n\tvpaddb %2, %0, %0%{%%k1%}" : "+v"(w) : "r"((ulong)blk), "v"(sixteen) : "k1");
    return w;
}
#else
QN_INL int8 qn_i8_q5_0_codes(const global uchar *blk) {
    const uint4 qs = as_uint4(vload16(0, blk + 6));
    const uint8 nib = ((uint8)(qs, qs) >> (uint8)(0, 0, 0, 0, 4, 4, 4, 4)) & 0x0F0F0F0Fu;
    const uint8 sh = (uint8)(0, 4, 8, 12, 16, 20, 24, 28);
    const uint8 hi = ((((uint8)qn_ggml_u32(blk + 2) >> sh) & 15u) * 0x02040810u) & 0x10101010u;
    return as_int8(nib | hi);
}
#endif

/* The f16 scales of two blocks as float16 (a's in lanes 0-7, b's in 8-15). With VNNI (every
 * such CPU has F16C) by one vcvtph2ps: the integer decode (qn_h2f) costs ~20 scalar
 * instructions per scale, as many as the rest of a block's work (PoCL's vload_half is a
 * software routine too). */
#if defined(QN_X86_VNNI)
QN_INL float16 qn_i8_d2(const global uchar *pa, const global uchar *pb) {
    float16 f;
    uint8 t;
    uint4 u;
    __asm__("vpbroadcastw (%3), %x1\n\t"
            "vpbroadcastw (%4), %2\n\t"
            "vinserti32x4 $1, %2, %t1, %t1\n\t" /* EVEX: any of the 32 registers */
            "vcvtph2ps %t1, %0"
            : "=v"(f), "=&v"(t), "=&v"(u)
            : "r"((ulong)pa), "r"((ulong)pb));
    return f;
}
#else
QN_INL float16 qn_i8_d2(const global uchar *pa, const global uchar *pb) {
    return (float16)((float8)qn_ggml_h(pa), (float8)qn_ggml_h(pb));
}
#endif

/* Σ_k W[row,k]·x[k] for two Q5_0 rows a and b of nb blocks and one quantized x row. Per block
 * the two rows' codes fill one 64-byte vector (a low, b high); one 16-lane dot product takes
 * it against xh, one against xl, both started from the offsets O; (h << 8) + l is each lane's
 * exact sum in 1/256 steps of dx, converted once and scaled by d·dx/256 (a's d in the low
 * lanes, b's in the high). So a block pair costs about what one row's block did before. */
/* a pair accumulator's two rows: lanes 0-7 and 8-15 summed */
QN_INL float2 qn_i8_pair_sum(float16 acc) {
    const float8 u = (float8)(acc.s0123 + acc.s4567, acc.s89ab + acc.scdef);
    const float4 v = (float4)(u.s01 + u.s23, u.s45 + u.s67);
    return (float2)(v.s0 + v.s1, v.s2 + v.s3);
}
#define QN_I8_Q5_0_PAIR(A, B)                                                               \
    {                                                                                       \
        const global uchar *pa = ra + 22 * (B), *pb = rb + 22 * (B);                        \
        const int16 w = (int16)(qn_i8_q5_0_codes(pa), qn_i8_q5_0_codes(pb));                \
        int16 dh = vload16(2 * (B) * st, O), dl = vload16(2 * (B) * st + 1, O);             \
        QN_DP4(dh, w, vload16(2 * (B) * st, (const local int *)X));                         \
        QN_DP4(dl, w, vload16(2 * (B) * st + 1, (const local int *)X));                     \
        A = fma(convert_float16((dh << 8) + dl), qn_i8_d2(pa, pb) * D[(B) * st], A);        \
    }
QN_INL float2 qn_i8_rows2_q5_0(const global uchar *ra, const global uchar *rb, const local char *X, const local int *O,
                               const local float *D, long nb, long st) {
    /* one FMA chain: a block pair's dozen instructions outlast its latency, and
     * qn_i8_rows2x8_q5_0 (8 x rows) must sum in the same order */
    float16 acc = 0.0f;
    for (long b = 0; b < nb; b++) QN_I8_Q5_0_PAIR(acc, b)
    return qn_i8_pair_sum(acc);
}

/* The same sums for 8 x rows at once (M = 8: prefill's launches of 8 rows): each block pair
 * decoded once for the 8 rows, whose quantized x blocks sit side by side; each row's sums formed
 * exactly as qn_i8_rows2_q5_0 forms them (the same operations in the same order), so a row's
 * result does not depend on how many rows came with it. */
#define QN_I8_X8_ROW(J)                                                                     \
    {                                                                                       \
        int16 dh = vload16(16 * b + 2 * (J), O), dl = vload16(16 * b + 2 * (J) + 1, O);      \
        QN_DP4(dh, w, vload16(16 * b + 2 * (J), (const local int *)X));                     \
        QN_DP4(dl, w, vload16(16 * b + 2 * (J) + 1, (const local int *)X));                 \
        a##J = fma(convert_float16((dh << 8) + dl), d2 * D[8 * b + (J)], a##J);             \
    }
QN_INL void qn_i8_rows2x8_q5_0(const global uchar *ra, const global uchar *rb, const local char *X, const local int *O,
                               const local float *D, long nb, float2 *r) {
    float16 a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f, a4 = 0.0f, a5 = 0.0f, a6 = 0.0f, a7 = 0.0f;
    for (long b = 0; b < nb; b++) {
        const global uchar *pa = ra + 22 * b, *pb = rb + 22 * b;
        const int16 w = (int16)(qn_i8_q5_0_codes(pa), qn_i8_q5_0_codes(pb));
        const float16 d2 = qn_i8_d2(pa, pb);
        QN_I8_X8_ROW(0) QN_I8_X8_ROW(1) QN_I8_X8_ROW(2) QN_I8_X8_ROW(3)
        QN_I8_X8_ROW(4) QN_I8_X8_ROW(5) QN_I8_X8_ROW(6) QN_I8_X8_ROW(7)
    }
    r[0] = qn_i8_pair_sum(a0), r[1] = qn_i8_pair_sum(a1), r[2] = qn_i8_pair_sum(a2), r[3] = qn_i8_pair_sum(a3);
    r[4] = qn_i8_pair_sum(a4), r[5] = qn_i8_pair_sum(a5), r[6] = qn_i8_pair_sum(a6), r[7] = qn_i8_pair_sum(a7);
}

/* After the group has quantized the M x rows into xb (X: M·K/32 blocks of 128 bytes, then O
 * (128 bytes per block) and D (4)), work-item i takes two weight rows. act < 0: y_p = x·W_pᵀ
 * for one to three weights of the same format and K (matmul, or matmul_multi's q/k/v: N1 = N2
 * = 0 when absent), ceil(N_p/2) items per weight in order, item i of weight p its rows 2i and
 * 2i + 1. act >= 0: matmul_glu of W0 (gate) and Wu (up), item n their rows n (N0 items),
 * y0 = act(gate)·up with act a QN_UNARY_* code. The barrier only ends the quantization: no
 * value lives across it but local memory, so PoCL's work-item loops keep their registers. */
kernel void qn_gemv_i8(const global uchar *W0, ulong wo0, long N0, const global uchar *W1, ulong wo1, long N1,
                       const global uchar *W2, ulong wo2, long N2, const global uchar *Wu, ulong uo, long row_bytes,
                       int act, const global uchar *xb_, ulong xo, global uchar *y0, ulong yo0, global uchar *y1,
                       ulong yo1, global uchar *y2, ulong yo2, int ydt, int M, long K, local char *xb) {
    const long nb = K / 32, nblk = M * nb;
    local int *O = (local int *)(xb + 128 * nblk);
    local float *D = (local float *)(xb + 256 * nblk);
    qn_i8_quant_x((const global float *)(xb_ + xo), nblk, M, K, xb, O, D);
    barrier(CLK_LOCAL_MEM_FENCE);
    long i = get_global_id(0), N = N0;
    const global uchar *W = W0 + wo0;
    global uchar *y = y0 + yo0;
    if (act < 0 && i >= (N0 + 1) / 2) {
        i -= (N0 + 1) / 2, W = W1 + wo1, y = y1 + yo1, N = N1;
        if (i >= (N1 + 1) / 2) i -= (N1 + 1) / 2, W = W2 + wo2, y = y2 + yo2, N = N2;
    }
    const long n = i, h = act < 0 ? (N + 1) / 2 : 0;
    if (n >= (act < 0 ? h : N)) return;
    const int pair = act < 0 && n + h < N;
    const global uchar *ra = W + n * row_bytes;
    const global uchar *rb = act >= 0 ? Wu + uo + n * row_bytes : pair ? ra + h * row_bytes : ra;
    float2 r8[8];
    if (M == 8) qn_i8_rows2x8_q5_0(ra, rb, xb, O, D, nb, r8);
    for (int m = 0; m < M; m++) {
        const float2 r = M == 8 ? r8[m] : qn_i8_rows2_q5_0(ra, rb, xb + 128 * m, O + 32 * m, D + m, nb, M);
        const size_t at = (size_t)m * (size_t)N + (size_t)n;
        if (act >= 0) {
            qn_st(y, ydt, at, qn_act(r.x, act, 0.0f) * r.y);
        } else {
            qn_st(y, ydt, at, r.x);
            if (pair) qn_st(y, ydt, at + h, r.y);
        }
    }
}

/* ---- q8 weights (int8 codes, an f32 scale per row; formats/README.md): qn_gemv_q8_i8 ----
 *
 * Why: the default model on OpenCL CPUs is all q8 (the output head alone is 169 of the 269 MB a
 * token reads), and on PoCL the float GEMV's q8 loop (qn_gemv_row: two sign extensions, two
 * conversions, a multiply, an FMA and an add per 32 weights, then a horizontal sum per row) costs
 * about as many cycles as the bytes take to arrive, so the stream does not run at the memory's
 * speed (bench/NOTES.md section 1 v10). Here a 64-weight piece of a row costs one load with an XOR
 * and three vpdpbusd, about a third of the float loop's instructions.
 *
 * The maths. x row m, block b of B = 64·bv columns: dx = max|x| / 127 and s = x / dx in three int8
 * planes of base 254, xh = rint(s), t = (s - xh)·254, xl = rint(t), xm = rint((t - xl)·254), each
 * in ±127 without clamping (base 256 puts xl at ±128 for |s - xh| >= 0.498, and clamping it left
 * dx/256 on ~0.4% of the columns); x ≈ dx·(xh + xl/254 + xm/254²) to ~24 bits, as exact as the f32
 * GEMV (two planes, ~16 bits, left 4-7e-5 relative errors on whole rows, against the 1e-5 that
 * OpenCL's f32 products are held to in tests/engine). vpdpbusd multiplies unsigned by signed bytes,
 * so the codes q go in as u = q + 128 (one XOR) and each lane's sum starts from -128·Σ of the x
 * codes it multiplies: it ends as Σ q·x exactly. Per block the lanes' xh·254 + xl sums (exact in
 * int32: |Σ| <= bv·4·127·127·255 < 2^31 for bv <= 8) and xm sums are converted and scaled by
 * dx / 254 and dx / 254²; the row's scale multiplies the result. Each x row is summed alone in one
 * order, so a row's bits do not depend on M.
 *
 * Local memory for M x rows of K = 64·bv·nb columns: Xh, Xl, Xm [M][K] (the planes), Oh, Ol, Om
 * [M][nb][16] (each lane's start value) and D [M][nb] (dx / 254): 3K + 196·nb bytes per row. */
QN_INL void qn_q8i8_quant_x(const global float *x, int M, long K, int bv, local char *X, local int *O,
                            local float *D) {
    const long B = 64 * (long)bv, nb = K / B, P = M * K, Q = 16 * M * nb; /* plane strides */
    for (long i = get_local_id(0); i < M * nb; i += get_local_size(0)) {
        const long base = (i / nb) * K + (i % nb) * B; /* x row i / nb, block i % nb */
        float16 m16 = 0.0f;
        for (long k = 0; k < B; k += 16) m16 = fmax(m16, fabs(vload16(0, x + base + k)));
        const float8 m8 = fmax(m16.lo, m16.hi);
        const float4 m4 = fmax(m8.lo, m8.hi);
        const float2 m2 = fmax(m4.lo, m4.hi);
        const float am = fmax(m2.x, m2.y), inv = am > 0.0f ? 127.0f / am : 0.0f;
        int16 oh = 0, ol = 0, om = 0;
        for (long v = 0; v < B; v += 64) {
            int4 sh[4], sl[4], sm[4];
            for (int j = 0; j < 4; j++) { /* lane 4j + t of a piece multiplies its columns 16j + 4t .. + 3 */
                const long k = base + v + 16 * j;
                const float16 s = vload16(0, x + k) * inv, r = rint(s), t = (s - r) * 254.0f, u = rint(t);
                const int16 h = convert_int16(r), l = convert_int16(u), e = convert_int16(rint((t - u) * 254.0f));
                vstore16(convert_char16(h), 0, X + k);
                vstore16(convert_char16(l), 0, X + P + k);
                vstore16(convert_char16(e), 0, X + 2 * P + k);
                sh[j] = qn_i8_sum4(h), sl[j] = qn_i8_sum4(l), sm[j] = qn_i8_sum4(e);
            }
            oh += (int16)(sh[0], sh[1], sh[2], sh[3]);
            ol += (int16)(sl[0], sl[1], sl[2], sl[3]);
            om += (int16)(sm[0], sm[1], sm[2], sm[3]);
        }
        vstore16(-128 * oh, i, O);
        vstore16(-128 * ol, i, O + Q);
        vstore16(-128 * om, i, O + 2 * Q);
        D[i] = am / (127.0f * 254.0f);
    }
}

/* Two rows' sums against one x row: ra and rb (the same row twice where there is no second), nb
 * blocks of bv 64-byte pieces; X, O and D that x row's planes (strides P and Q between planes, in
 * ints), lane start values and scales. Each x piece is loaded once for both rows. */
QN_INL float2 qn_q8i8_rows2(const global int *ra, const global int *rb, const local int *X, const local int *O,
                            const local float *D, long nb, int bv, long P, long Q) {
    float16 fa = 0.0f, fb = 0.0f;
    for (long b = 0; b < nb; b++) {
        int16 ha = vload16(b, O), la = vload16(b, O + Q), ma = vload16(b, O + 2 * Q), hb = ha, lb = la, mb = ma;
        for (int v = 0; v < bv; v++) {
            const long c = b * bv + v;
            const int16 xh = vload16(c, X), xl = vload16(c, X + P), xm = vload16(c, X + 2 * P);
            const int16 ua = as_int16(as_uint16(vload16(c, ra)) ^ 0x80808080u);
            const int16 ub = as_int16(as_uint16(vload16(c, rb)) ^ 0x80808080u);
            QN_DP4(ha, ua, xh);
            QN_DP4(la, ua, xl);
            QN_DP4(ma, ua, xm);
            QN_DP4(hb, ub, xh);
            QN_DP4(lb, ub, xl);
            QN_DP4(mb, ub, xm);
        }
        const float16 d = (float16)D[b], dm = d * (1.0f / 254.0f);
        fa = fma(convert_float16(ha * 254 + la), d, fma(convert_float16(ma), dm, fa));
        fb = fma(convert_float16(hb * 254 + lb), d, fma(convert_float16(mb), dm, fb));
    }
    return qn_i8_pair_sum((float16)(fa.lo + fa.hi, fb.lo + fb.hi));
}

/* Work-item i takes two weight rows. act < 0: one to three weights of one x (matmul, matmul_multi),
 * ceil(N_p/2) items each, item i of weight p its rows i and i + ceil(N_p/2): two streams that each
 * run forward through memory (rows 2i and 2i + 1 side by side, 640 bytes apart, streamed ~1.3x
 * slower beyond the caches on PoCL: bench/NOTES.md section 1 v10). act >= 0: matmul_glu's gate row
 * n of W0 and up row n of Wu. ws_p: the byte offset of W_p's row scales from W_p + wo_p (after its
 * N_p·K codes). The weights' codes start 4-byte aligned (the host checks). */
kernel void qn_gemv_q8_i8(const global uchar *W0, ulong wo0, long ws0, long N0, const global uchar *W1, ulong wo1,
                          long ws1, long N1, const global uchar *W2, ulong wo2, long ws2, long N2,
                          const global uchar *Wu, ulong uo, long wsu, int act, const global uchar *xb_, ulong xo,
                          global uchar *y0, ulong yo0, global uchar *y1, ulong yo1, global uchar *y2, ulong yo2,
                          int ydt, int M, long K, int bv, local char *xb) {
    const long nb = K / (64 * (long)bv), P = M * K, Q = 16 * M * nb;
    local int *O = (local int *)(xb + 3 * P);
    local float *D = (local float *)(O + 3 * Q);
    qn_q8i8_quant_x((const global float *)(xb_ + xo), M, K, bv, xb, O, D);
    barrier(CLK_LOCAL_MEM_FENCE);
    long i = get_global_id(0), N = N0, ws = ws0;
    const global uchar *W = W0 + wo0;
    global uchar *y = y0 + yo0;
    if (act < 0 && i >= (N0 + 1) / 2) {
        i -= (N0 + 1) / 2, W = W1 + wo1, y = y1 + yo1, N = N1, ws = ws1;
        if (i >= (N1 + 1) / 2) i -= (N1 + 1) / 2, W = W2 + wo2, y = y2 + yo2, N = N2, ws = ws2;
    }
    const long n = i, h = act < 0 ? (N + 1) / 2 : 0, n2 = n + h;
    if (n >= (act < 0 ? h : N)) return;
    const int pair = act < 0 && n2 < N;
    const global uchar *ra = W + n * K, *rb = act >= 0 ? Wu + uo + n * K : pair ? W + n2 * K : ra;
    const float sa = qn_ldf_any(W + ws + n * 4);
    const float sb = act >= 0 ? qn_ldf_any(Wu + uo + wsu + n * 4) : pair ? qn_ldf_any(W + ws + n2 * 4) : sa;
    for (int m = 0; m < M; m++) {
        const float2 r = qn_q8i8_rows2((const global int *)ra, (const global int *)rb, (const local int *)(xb + m * K),
                                       O + 16 * m * nb, D + m * nb, nb, bv, P / 4, Q);
        const size_t at = (size_t)m * (size_t)N + (size_t)n;
        if (act >= 0) {
            qn_st(y, ydt, at, qn_act(r.x * sa, act, 0.0f) * (r.y * sb));
        } else {
            qn_st(y, ydt, at, r.x * sa);
            if (pair) qn_st(y, ydt, at + h, r.y * sb);
        }
    }
}
