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
    const long n = act < 0 ? 2 * i : i;
    if (n >= N) return;
    const int pair = act < 0 && n + 1 < N;
    const global uchar *ra = W + n * row_bytes;
    const global uchar *rb = act >= 0 ? Wu + uo + n * row_bytes : pair ? ra + row_bytes : ra;
    float2 r8[8];
    if (M == 8) qn_i8_rows2x8_q5_0(ra, rb, xb, O, D, nb, r8);
    for (int m = 0; m < M; m++) {
        const float2 r = M == 8 ? r8[m] : qn_i8_rows2_q5_0(ra, rb, xb + 128 * m, O + 32 * m, D + m, nb, M);
        const size_t at = (size_t)m * (size_t)N + (size_t)n;
        if (act >= 0) {
            qn_st(y, ydt, at, qn_act(r.x, act, 0.0f) * r.y);
        } else {
            qn_st(y, ydt, at, r.x);
            if (pair) qn_st(y, ydt, at + 1, r.y);
        }
    }
}
