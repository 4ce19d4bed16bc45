/*
 * gemm_i8_gpu.cl — the GPU class's prefill GEMM (M > 8) for q8 weights through integer
 * products: y[M,N] = x[M,K] · W[N,K]^T with x quantized to int8 per 32 columns (ggml's q8_0
 * activations, qn_x_quant8 of matmul_int8.cl with B = 32) and W's int8 codes as they are.
 *
 * Why: the f32 GEMM (gemm_gpu.cl) is bounded by the f32 FMA rate, ~67 TFLOP/s on an H100,
 * and measured 27 TFLOP/s there; issue 12's prefill target (0.4x CUDA) needs ~50-60 TFLOP/s
 * of GEMM. The int8 rate is well above: NVIDIA's tensor cores run mma.sync m16n8k32 on s8
 * operands (sm_80+), reachable from OpenCL C through inline PTX, which NVIDIA's OpenCL
 * compiler accepts (hashcat relies on it); without it, 4-way byte dot products.
 *
 * The maths per output (k over the 32 columns of x block b, sx_b the block's scale, sw the
 * weight row's scale): y = sw · Σ_b sx_b · D_b,  D_b = Σ_k xq·wq  (exact in int32: |D_b| <=
 * 32·127·128 < 2^22, so its float is exact too, formed as 2^23+2^22 + D_b's bits minus that
 * constant: the int-to-float conversion unit runs at a quarter of the FMA rate).
 *
 * Tiling: a work-group of 256 items (8 warps) computes a 64 (x rows) x 128 (weight rows) tile,
 * K in stages of 64 through local memory (rows 80 bytes apart: the fragment reads below hit 32
 * distinct banks). Warp w owns x rows 32·(w & 1) .. +31 and weight rows 32·(w >> 1) .. +31:
 * 2 x 4 tiles of 16 x 8 outputs, each a thread's 4 outputs in mma's C layout (lane = 4g + t:
 * rows g and g + 8, columns 2t and 2t + 1). The next stage's global loads (one uint4 of x and
 * two of W per item) are in flight during this stage's products.
 *
 * QN_NV_PTX (defined by the host only on NVIDIA's OpenCL, and only where the compiler accepted
 * it): mma.sync. Elsewhere each item forms its same 4 outputs per tile from the local tiles with
 * 4-byte dot products (cl_khr_integer_dot_product's dot where the device reports it, else
 * written out): the same int32 sums, so the two forms give the same bits, and conformance on
 * PoCL checks everything around the mma (staging, scales, edges, stores).
 */

#define QN_GI_TM 64  /* x rows per tile */
#define QN_GI_TN 128 /* weight rows per tile */
#define QN_GI_KS 64  /* K bytes per stage */
#define QN_GI_RW 20  /* words per local row: 16 + 4 padding */

#if defined(QN_NV_PTX)
#define QN_GI_DOT4(acc, a, b) __asm__("dp4a.s32.s32 %0, %1, %2, %0;" : "+r"(acc) : "r"(a), "r"(b))
#elif defined(__opencl_c_integer_dot_product_input_4x8bit_packed)
#define QN_GI_DOT4(acc, a, b) acc = dot_acc_sat_4x8packed_ss_int((a), (b), acc)
#else
#define QN_GI_DOT4(acc, a, b) acc += qn_gi_dot4((a), (b))
QN_INL int qn_gi_dot4(uint a, uint b) {
    const int4 p = convert_int4(as_char4(a)) * convert_int4(as_char4(b));
    return p.x + p.y + p.z + p.w;
}
#endif

/* D (|D| < 2^22) as a float without the conversion unit */
QN_INL float qn_gi_f(int d) { return as_float(0x4b400000 + d) - 12582912.0f; }

/* One k32 step of a 16 x 8 tile: rows r and r + 8 of As, weight row c .. c + 7 of Bs, word w0
 * of each row; d[0..3] = rows (g, g + 8) x columns (2t, 2t + 1) of the thread (lane 4g + t). */
QN_INL void qn_gi_tile(const local uint *As, const local uint *Bs, int ra, int cb, int w0, int g, int t, int d[4]) {
#if defined(QN_NV_PTX)
    const uint a0 = As[(ra + g) * QN_GI_RW + w0 + t], a1 = As[(ra + g + 8) * QN_GI_RW + w0 + t];
    const uint a2 = As[(ra + g) * QN_GI_RW + w0 + 4 + t], a3 = As[(ra + g + 8) * QN_GI_RW + w0 + 4 + t];
    const uint b0 = Bs[(cb + g) * QN_GI_RW + w0 + t], b1 = Bs[(cb + g) * QN_GI_RW + w0 + 4 + t];
    int d0, d1, d2, d3;
    __asm__("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
            "{%10, %10, %10, %10};"
            : "=r"(d0), "=r"(d1), "=r"(d2), "=r"(d3)
            : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1), "r"(0));
    d[0] = d0, d[1] = d1, d[2] = d2, d[3] = d3;
#else
    int s[4] = {0, 0, 0, 0};
    for (int w = 0; w < 8; w++) {
        const uint x0 = As[(ra + g) * QN_GI_RW + w0 + w], x1 = As[(ra + g + 8) * QN_GI_RW + w0 + w];
        const uint y0 = Bs[(cb + 2 * t) * QN_GI_RW + w0 + w], y1 = Bs[(cb + 2 * t + 1) * QN_GI_RW + w0 + w];
        QN_GI_DOT4(s[0], x0, y0);
        QN_GI_DOT4(s[1], x0, y1);
        QN_GI_DOT4(s[2], x1, y0);
        QN_GI_DOT4(s[3], x1, y1);
    }
    d[0] = s[0], d[1] = s[1], d[2] = s[2], d[3] = s[3];
#endif
}

/* Layout 2 (qn_gemm_q8_i8_gpu2): rows of 16 words, no padding; word kw of a row's 64-byte stage at chunk
 * (kw & 3) ^ ((row >> 1) & 3), slot kw >> 2. A thread's fragments for both k32 steps of a stage (words t, 4 + t,
 * 8 + t, 12 + t of its row) are then one 16-byte chunk: one 16-byte local read where layout 1 made four 4-byte
 * ones (layout 1: 6 reads of 4 bytes per mma.sync, 96 a warp and stage, against 16 mma.sync: the local reads, not
 * the tensor cores, set the pace). The chunk swizzle keeps both the 16-byte reads (8 lanes: rows g, g + 1, chunks
 * t) and the 4-byte stores (8 lanes: rows lr .. lr + 7, one slot) on distinct banks. The values each mma.sync gets
 * are layout 1's: the same bits. */
#define QN_GI_SWZ(row) (((row) >> 1) & 3)
QN_INL int qn_gi2_pos(int row, int kw) { return row * 16 + 4 * ((kw & 3) ^ QN_GI_SWZ(row)) + (kw >> 2); }
/* words t, 4 + t, 8 + t, 12 + t of row: (a0 / b0, a2 / b1) of k32 step 0, then of step 1 */
QN_INL uint4 qn_gi2_frag(const local uint4 *V, int row, int t) { return V[row * 4 + (t ^ QN_GI_SWZ(row))]; }

#if defined(QN_NV_PTX)
#define QN_GI_MMA(d, a0, a1, a2, a3, b0, b1)                                                                     \
    __asm__("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "    \
            "{%10, %10, %10, %10};"                                                                              \
            : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3])                                                     \
            : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1), "r"(0))
#endif

QN_INL uint qn_gi_u4(uint4 v, int o) { return o == 0 ? v.x : o == 1 ? v.y : o == 2 ? v.z : v.w; }

/* One k32 step (s) of a 16 x 8 tile in layout 2: rows ra + g, ra + g + 8 of A, cb + g of B (the mma.sync form takes
 * the thread's fragments fa0 / fa1 / fb, read once a stage); the other form reads the words it needs itself through
 * qn_gi2_pos, except A's words of its own fragments (kw & 3 == t), taken from fa0 / fa1: so conformance off NVIDIA
 * checks the fragment reads too (B's are the same function). */
QN_INL void qn_gi2_tile(const local uint *As, const local uint *Bs, uint4 fa0, uint4 fa1, uint4 fb, int ra, int cb,
                        int s, int g, int t, int d[4]) {
#if defined(QN_NV_PTX)
    int e[4];
    if (s == 0) QN_GI_MMA(e, fa0.x, fa1.x, fa0.y, fa1.y, fb.x, fb.y);
    else QN_GI_MMA(e, fa0.z, fa1.z, fa0.w, fa1.w, fb.z, fb.w);
    d[0] = e[0], d[1] = e[1], d[2] = e[2], d[3] = e[3];
#else
    int u[4] = {0, 0, 0, 0};
    for (int w = 0; w < 8; w++) {
        const int kw = 8 * s + w;
        const int own = (kw & 3) == t;
        const uint x0 = own ? qn_gi_u4(fa0, kw >> 2) : As[qn_gi2_pos(ra + g, kw)];
        const uint x1 = own ? qn_gi_u4(fa1, kw >> 2) : As[qn_gi2_pos(ra + g + 8, kw)];
        const uint y0 = Bs[qn_gi2_pos(cb + 2 * t, kw)], y1 = Bs[qn_gi2_pos(cb + 2 * t + 1, kw)];
        QN_GI_DOT4(u[0], x0, y0);
        QN_GI_DOT4(u[1], x0, y1);
        QN_GI_DOT4(u[2], x1, y0);
        QN_GI_DOT4(u[3], x1, y1);
    }
    d[0] = u[0], d[1] = u[1], d[2] = u[2], d[3] = u[3];
    (void)fb;
#endif
}

/* Host: K % 32 == 0; W's codes (wo) 16-byte aligned; xq from qn_x_quant8 with B = 32 (codes [M, K]
 * at offset 0, the block scales [M, K/32] at byte xso); launched as (256, 1) groups over
 * (ceil(N / 128) * 256, ceil(M / 64)); tile: this group's 128 weight rows. v2: layout 2 (qn_gemm_q8_i8_gpu2). */
QN_INL void qn_gemm_q8_i8_gpu_body(const global uchar *Wb, ulong wo, long wso, const global uchar *xq, ulong xso,
                                   global uchar *y, ulong yo, int ydt, long M, long N, long K, long tile,
                                   local uint4 *Av, local uint4 *Bv, const int v2) {
    const local uint *As = (const local uint *)Av, *Bs = (const local uint *)Bv;
    local uint *Aw = (local uint *)Av, *Bw = (local uint *)Bv;
    const int lid = (int)get_local_id(0), lane = lid & 31, wp = lid >> 5;
    const int g = lane >> 2, t = lane & 3, wm = (wp & 1) * 32, wn = (wp >> 1) * 32;
    const long n0 = tile * QN_GI_TN, m0 = (long)get_group_id(1) * QN_GI_TM;
    const long nb = K / 32;
    const global uchar *W = Wb + wo;
    const global float *xs = (const global float *)(xq + xso);
    /* this item's loads: 16-byte chunk q of x row lr and of weight rows lr, lr + 64 (rows past M
     * or N read clamped and never stored) */
    const int lr = lid >> 2, q = lid & 3;
    const global uint4 *xp = (const global uint4 *)(xq + min(m0 + lr, M - 1) * K) + q;
    const global uint4 *wp0 = (const global uint4 *)(W + min(n0 + lr, N - 1) * K) + q;
    const global uint4 *wp1 = (const global uint4 *)(W + min(n0 + lr + 64, N - 1) * K) + q;
    /* the x rows of this thread's outputs (4: m-tiles 0, 1 x rows g, g + 8), clamped for the scales */
    long xr[4];
#pragma unroll
    for (int i = 0; i < 4; i++) xr[i] = min(m0 + wm + (i >> 1) * 16 + (i & 1) * 8 + g, M - 1) * nb;
    float acc[2][4][4];
#pragma unroll
    for (int i = 0; i < 2; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j][0] = acc[i][j][1] = acc[i][j][2] = acc[i][j][3] = 0.0f;
    /* chunks past K (K % 64 == 32: the last stage's upper half) load as zeros */
    const long K16 = K / 16;
    uint4 ca = q < K16 ? xp[0] : (uint4)0, cw0 = q < K16 ? wp0[0] : (uint4)0, cw1 = q < K16 ? wp1[0] : (uint4)0;
    for (long k0 = 0; k0 < K; k0 += QN_GI_KS) {
        barrier(CLK_LOCAL_MEM_FENCE); /* the previous stage's reads are done */
        if (v2) { /* words 4q .. 4q + 3 of rows lr, lr + 64 (A: lr) */
            Aw[qn_gi2_pos(lr, 4 * q)] = ca.x, Aw[qn_gi2_pos(lr, 4 * q + 1)] = ca.y;
            Aw[qn_gi2_pos(lr, 4 * q + 2)] = ca.z, Aw[qn_gi2_pos(lr, 4 * q + 3)] = ca.w;
            Bw[qn_gi2_pos(lr, 4 * q)] = cw0.x, Bw[qn_gi2_pos(lr, 4 * q + 1)] = cw0.y;
            Bw[qn_gi2_pos(lr, 4 * q + 2)] = cw0.z, Bw[qn_gi2_pos(lr, 4 * q + 3)] = cw0.w;
            Bw[qn_gi2_pos(lr + 64, 4 * q)] = cw1.x, Bw[qn_gi2_pos(lr + 64, 4 * q + 1)] = cw1.y;
            Bw[qn_gi2_pos(lr + 64, 4 * q + 2)] = cw1.z, Bw[qn_gi2_pos(lr + 64, 4 * q + 3)] = cw1.w;
        } else {
            Av[lr * (QN_GI_RW / 4) + q] = ca;
            Bv[lr * (QN_GI_RW / 4) + q] = cw0;
            Bv[(lr + 64) * (QN_GI_RW / 4) + q] = cw1;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        {
            const long c = (k0 + QN_GI_KS) / 16 + q; /* the next stage's chunk, in flight during the math */
            const int in = k0 + QN_GI_KS < K && c < K16;
            ca = in ? xp[c - q] : (uint4)0;
            cw0 = in ? wp0[c - q] : (uint4)0;
            cw1 = in ? wp1[c - q] : (uint4)0;
        }
        uint4 fa[2][2], fb[4]; /* layout 2: the thread's fragments of this stage */
        if (v2) {
#pragma unroll
            for (int i = 0; i < 2; i++) {
                fa[i][0] = qn_gi2_frag(Av, wm + 16 * i + g, t);
                fa[i][1] = qn_gi2_frag(Av, wm + 16 * i + 8 + g, t);
            }
#pragma unroll
            for (int j = 0; j < 4; j++) fb[j] = qn_gi2_frag(Bv, wn + 8 * j + g, t);
        }
#pragma unroll
        for (int s = 0; s < 2; s++) {
            const long b = k0 / 32 + s;
            if (b >= nb) break; /* uniform: K % 64 == 32, the last stage's second half */
            const float sx0 = xs[xr[0] + b], sx1 = xs[xr[1] + b], sx2 = xs[xr[2] + b], sx3 = xs[xr[3] + b];
#pragma unroll
            for (int i = 0; i < 2; i++) {
                const float su = i ? sx2 : sx0, sd = i ? sx3 : sx1;
#pragma unroll
                for (int j = 0; j < 4; j++) {
                    int d[4];
                    if (v2) qn_gi2_tile(As, Bs, fa[i][0], fa[i][1], fb[j], wm + 16 * i, wn + 8 * j, s, g, t, d);
                    else qn_gi_tile(As, Bs, wm + 16 * i, wn + 8 * j, s * 8, g, t, d);
                    acc[i][j][0] = fma(su, qn_gi_f(d[0]), acc[i][j][0]);
                    acc[i][j][1] = fma(su, qn_gi_f(d[1]), acc[i][j][1]);
                    acc[i][j][2] = fma(sd, qn_gi_f(d[2]), acc[i][j][2]);
                    acc[i][j][3] = fma(sd, qn_gi_f(d[3]), acc[i][j][3]);
                }
            }
        }
    }
    /* unrolled: a rolled loop indexing acc would put it on the stack */
#pragma unroll
    for (int j = 0; j < 4; j++) {
        const long n = n0 + wn + 8 * j + 2 * t;
        const float s0 = n < N ? qn_ldf_any(W + wso + n * 4) : 0.0f, s1 = n + 1 < N ? qn_ldf_any(W + wso + (n + 1) * 4) : 0.0f;
#pragma unroll
        for (int i = 0; i < 2; i++) {
#pragma unroll
            for (int h = 0; h < 2; h++) {
                const long m = m0 + wm + 16 * i + 8 * h + g;
                if (m < M) {
                    if (n < N) qn_st(y + yo, ydt, (size_t)(m * N + n), acc[i][j][2 * h] * s0);
                    if (n + 1 < N) qn_st(y + yo, ydt, (size_t)(m * N + n + 1), acc[i][j][2 * h + 1] * s1);
                }
            }
        }
    }
}

/* Up to three products of the same x (q / k / v, or gate / up): product p's weights Wp (wop, scales at wsop), its
 * output yp (yop), Np rows (0: none); groups along dimension 0 take product 0's ceil(N0 / 128) tiles, then 1's, then
 * 2's, so one launch (and one quantization of x) serves them all, and small products share the grid. */
#define QN_GI_ARGS const global uchar *W0, ulong wo0, long wso0, global uchar *y0, ulong yo0, long N0,                \
    const global uchar *W1, ulong wo1, long wso1, global uchar *y1, ulong yo1, long N1, const global uchar *W2,       \
    ulong wo2, long wso2, global uchar *y2, ulong yo2, long N2, const global uchar *xq, ulong xso, int ydt, long M,    \
    long K
#define QN_GI_PICK(V2)                                                                                               \
    const long t = get_group_id(0), T0 = (N0 + QN_GI_TN - 1) / QN_GI_TN, T1 = (N1 + QN_GI_TN - 1) / QN_GI_TN;         \
    const int p = t < T0 ? 0 : t < T0 + T1 ? 1 : 2;                                                                  \
    qn_gemm_q8_i8_gpu_body(p == 0 ? W0 : p == 1 ? W1 : W2, p == 0 ? wo0 : p == 1 ? wo1 : wo2,                         \
                           p == 0 ? wso0 : p == 1 ? wso1 : wso2, xq, xso, p == 0 ? y0 : p == 1 ? y1 : y2,             \
                           p == 0 ? yo0 : p == 1 ? yo1 : yo2, ydt, M, p == 0 ? N0 : p == 1 ? N1 : N2, K,                \
                           p == 0 ? t : p == 1 ? t - T0 : t - T0 - T1, Av, Bv, V2)

kernel __attribute__((reqd_work_group_size(256, 1, 1))) void qn_gemm_q8_i8_gpu(QN_GI_ARGS) {
    local uint4 Av[QN_GI_TM * QN_GI_RW / 4], Bv[QN_GI_TN * QN_GI_RW / 4];
    QN_GI_PICK(0);
}

kernel __attribute__((reqd_work_group_size(256, 1, 1))) void qn_gemm_q8_i8_gpu2(QN_GI_ARGS) {
    local uint4 Av[QN_GI_TM * 4], Bv[QN_GI_TN * 4];
    QN_GI_PICK(1);
}

/* x [M, K] (f32, its rows 16-byte aligned) to int8 per 32 columns for qn_gemm_q8_i8_gpu: codes [M, K] at xq, the
 * block scales [M, K / 32] at byte xso, the same bits as qn_x_quant8 with B = 32 (the same operations; a max is
 * exact in any order), whose offset terms, never read by this GEMM, are left out. Why its own kernel: qn_x_quant8
 * reads each block twice through vload16, which only promises float alignment, so NVIDIA's compiler may issue 4-byte
 * loads: 9.8-15.5 us a call at a prompt step's 256 x 640-5632 on an H100 (events, 2026-12-06 14:14) for 0.6-5.8 MB.
 * Here an item's 8 float4 loads go out at once and its block stays in registers. */
kernel void qn_x_quant8_gpu(const global uchar *xb_, ulong xo, global char *xq, ulong xso, long M, long K) {
    const long b = get_global_id(0), m = get_global_id(1), nb = K / 32;
    if (b >= nb || m >= M) return;
    const global float4 *x = (const global float4 *)(xb_ + xo) + (m * K + b * 32) / 4;
    float4 v[8];
    for (int i = 0; i < 8; i++) v[i] = x[i];
    float4 a = fabs(v[0]);
    for (int i = 1; i < 8; i++) a = fmax(a, fabs(v[i]));
    const float am = fmax(fmax(a.x, a.y), fmax(a.z, a.w)), inv = am > 0.0f ? 127.0f / am : 0.0f;
    global uint *q = (global uint *)(xq + m * K + b * 32);
    for (int i = 0; i < 8; i++) q[i] = as_uint(convert_char4(convert_int4_rte(clamp(v[i] * inv, -127.0f, 127.0f))));
    ((global float *)((global uchar *)xq + xso))[m * nb + b] = am / 127.0f;
}
