/*
 * matmul_int8.cl — y[M,N] = x[M,K] · W[N,K]^T for q8 weights with x quantized to int8 on the
 * fly (ggml's q8 activations): integer dot products instead of f32 FMAs, for CPU prefill.
 *
 * Why: f32 FMAs give a 2-core AVX-512 CPU at most 16 multiply-adds per cycle per core, and
 * PoCL's code for the f32 register kernel (qn_gemm_rows) reaches ~3 of them. One AVX-512
 * VNNI vpdpbusd does 64 u8 x s8 multiply-adds; q8 weights are already int8, so quantizing x
 * per block of B = 64·bv columns (bv = 2 or 4) is the only extra work.
 *
 * The maths (k runs over the columns of block b, sx_b the block's x scale, sw the row scale):
 *   Σ_k x·w ≈ sw · Σ_b sx_b · Σ_k xq·wq,   with xq, wq in [-127, 127].
 * vpdpbusd multiplies unsigned by signed bytes, so the weights go in offset by 128
 * (wu = wq + 128, one XOR per 64 weights) and the offset comes out per x row:
 *   Σ_k xq·wq = Σ_k xq·wu - 128·Σ_k xq,   so   y = sw · (Σ_b sx_b·D_b - 128·C),
 *   D_b = Σ_k xq·wu (exact in int32: at most 16 products of 255·127 per lane and block),
 *   C = Σ_b sx_b·Σ_k xq (per x row, summed from qn_x_quant8's per-block terms).
 * The NMSE this adds (x rounded to 8 bits per block of 128–256) is ~1e-5, inside the 5e-4
 * matmul bound that conformance sets for int8 internal paths.
 *
 * The dot product is QN_DP4 (common.cl): vpdpbusd by inline assembly where AVX-512 VNNI runs,
 * written out (exact too) elsewhere, so conformance can check this variant anywhere.
 */

#define QN_I8_BLOCK_MAX 256

/* QN_DP4 (16 lanes): common.cl */

/* x[M,K] (f32) -> xq s8 [M,K], then at byte offsets xso / xco of the same buffer the block
 * scales xs [M, nb] and the blocks' share of the offset term, xt [M, nb] = sx_b·Σ_k xq (C above
 * is their sum). One work-item per (block, x row), 16 lanes at a time: the scalar form with one
 * item per row cost as much as the GEMM after it at the prompt's shapes. */
kernel void qn_x_quant8(const global uchar *xb_, ulong xo, global char *xq, ulong xso, ulong xco, long M, long K,
                        int B) {
    const long b = get_global_id(0), m = get_global_id(1), nb = K / B;
    if (b >= nb || m >= M) return;
    const global float *x = (const global float *)(xb_ + xo) + m * K + b * B;
    global float *xs = (global float *)((global uchar *)xq + xso), *xt = (global float *)((global uchar *)xq + xco);
    float16 amax = 0.0f;
    for (int k = 0; k < B; k += 16) amax = fmax(amax, fabs(vload16(0, x + k)));
    float8 a8 = fmax(amax.lo, amax.hi);
    float4 a4 = fmax(a8.lo, a8.hi);
    float2 a2 = fmax(a4.lo, a4.hi);
    const float am = fmax(a2.x, a2.y), inv = am > 0.0f ? 127.0f / am : 0.0f;
    int16 qs = 0;
    for (int k = 0; k < B; k += 16) {
        const int16 q = convert_int16_rte(clamp(vload16(0, x + k) * inv, -127.0f, 127.0f));
        vstore16(convert_char16(q), 0, xq + m * K + b * B + k);
        qs += q;
    }
    int8 s8 = qs.lo + qs.hi;
    int4 s4 = s8.lo + s8.hi;
    int2 s2 = s4.lo + s4.hi;
    xs[m * nb + b] = am / 127.0f;
    xt[m * nb + b] = am / 127.0f * (float)(s2.x + s2.y);
}

/* Work-item (x tile, weight tile): 4 weight rows x 3 x rows, blocks of bv 64-byte vectors; 12 int accumulators per
 * block folded into 12 float ones with the block's x scales (31 of the 32 AVX-512 registers).
 * W's codes must be 4-byte aligned (the host checks); K is a multiple of 64·bv. */
#define QN_I8_LDW(i) const int16 u##i = as_int16(as_uint16(vload16(0, w##i + kk)) ^ 0x80808080u);
#define QN_I8_LDX(j) const int16 a##j = vload16(0, x##j + kk);
#define QN_I8_DP(i, j) QN_DP4(d##i##j, u##i, a##j);
#define QN_I8_FOLD(i, j) f##i##j = fma(convert_float16(d##i##j), (float16)s##j, f##i##j);
#define QN_I8_ROW(i, M_) M_(i, 0) M_(i, 1) M_(i, 2)
#define QN_I8_ALL(M_) QN_I8_ROW(0, M_) QN_I8_ROW(1, M_) QN_I8_ROW(2, M_) QN_I8_ROW(3, M_)
#define QN_I8_DECL(i, j) float16 f##i##j = 0.0f;
#define QN_I8_ZERO(i, j) int16 d##i##j = 0;

kernel void qn_gemm_q8_i8(const global uchar *Wb, ulong wo, long wso, const global char *xq, ulong xso, ulong xco,
                          global uchar *y, ulong yo, int ydt, long M, long N, long K, int bv) {
    const global float *xs = (const global float *)((const global uchar *)xq + xso);
    const global float *xc = (const global float *)((const global uchar *)xq + xco);
    /* x tiles along dimension 0: the groups PoCL runs one after another share the weight rows
     * (2.5 KiB from L1) and walk x, which stays in L2; the other way round streamed the whole
     * weight matrix from L3 once per x tile */
    const long m0 = get_global_id(0) * 3, n0 = get_global_id(1) * 4;
    if (n0 >= N || m0 >= M) return;
    const global uchar *W = Wb + wo;
    const global int *w0 = (const global int *)(W + min(n0 + 0, N - 1) * K);
    const global int *w1 = (const global int *)(W + min(n0 + 1, N - 1) * K);
    const global int *w2 = (const global int *)(W + min(n0 + 2, N - 1) * K);
    const global int *w3 = (const global int *)(W + min(n0 + 3, N - 1) * K);
    const long r0 = min(m0 + 0, M - 1), r1 = min(m0 + 1, M - 1), r2 = min(m0 + 2, M - 1);
    const global int *x0 = (const global int *)(xq + r0 * K), *x1 = (const global int *)(xq + r1 * K);
    const global int *x2 = (const global int *)(xq + r2 * K);
    const long nb = K / (64 * bv);
    QN_I8_ALL(QN_I8_DECL)
    for (long b = 0; b < nb; b++) {
        QN_I8_ALL(QN_I8_ZERO)
        for (int v = 0; v < bv; v++) {
            const long kk = (b * bv + v) * 16; /* in ints */
            QN_I8_LDX(0) QN_I8_LDX(1) QN_I8_LDX(2)
            QN_I8_LDW(0) QN_I8_LDW(1) QN_I8_LDW(2) QN_I8_LDW(3)
            QN_I8_ALL(QN_I8_DP)
        }
        const float s0 = xs[r0 * nb + b], s1 = xs[r1 * nb + b], s2 = xs[r2 * nb + b];
        QN_I8_ALL(QN_I8_FOLD)
    }
    float c[3] = {0.0f, 0.0f, 0.0f};
    for (long b = 0; b < nb; b++) {
        c[0] += xc[r0 * nb + b];
        c[1] += xc[r1 * nb + b];
        c[2] += xc[r2 * nb + b];
    }
    for (int j = 0; j < 3; j++) c[j] *= 128.0f;
    const float r[4][3] = {{qn_hsum16(f00), qn_hsum16(f01), qn_hsum16(f02)},
                           {qn_hsum16(f10), qn_hsum16(f11), qn_hsum16(f12)},
                           {qn_hsum16(f20), qn_hsum16(f21), qn_hsum16(f22)},
                           {qn_hsum16(f30), qn_hsum16(f31), qn_hsum16(f32)}};
    for (int i = 0; i < 4; i++) {
        if (n0 + i >= N) break;
        const float sw = qn_ldf_any(W + wso + (n0 + i) * 4);
        for (int j = 0; j < 3; j++)
            if (m0 + j < M) qn_st(y + yo, ydt, (size_t)((m0 + j) * N + n0 + i), sw * (r[i][j] - c[j]));
    }
}
