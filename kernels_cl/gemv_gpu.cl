/*
 * gemv_gpu.cl — the GPU class's decode GEMVs (M <= 8 x rows), one kernel per weight format.
 *
 * Why not the generic walk (qn_gemv) or the first q8 kernel: on an H100 through NVIDIA's OpenCL
 * they read 3-12% of the copy kernel's bandwidth (bench/NOTES.md section 1, clgpu11). From the
 * code, what costs: vload16 on a char or float pointer promises only element alignment, so the
 * compiler may issue 16 one-byte (or 4-byte) loads per item for what is one 16-byte load;
 * char-to-float conversions run on the quarter-rate conversion unit (16 per clock per SM, about
 * the rate q8 bytes arrive at full bandwidth); a partial-sum array indexed by a run-time M is
 * likely kept in local (stack) memory; each item had one 16-byte piece in flight per step.
 *
 * Shape here: a work-group is (32, R) items; the 32 items of a row set (one warp on NVIDIA)
 * walk QN_GPU_RPI = 4 weight rows together, item l taking the 16-byte pieces l, l + 32, l + 64
 * ... of each row (a warp's load is one 512-byte run per row). Pieces are read as uint4 through
 * a pointer the host proved 16-byte aligned (its offsets are checked in cl_matmul.c), two pieces
 * of each of the 4 rows (128 bytes) loaded before any math; the x values of a piece are loaded
 * once, as float4s, for the 4 rows (through L1 they would be 2-8x the weight bytes per row).
 * Codes become floats by exponent-field arithmetic (a code c in the low bits of 0x4b000000 is
 * the float 2^23 + c; subtracting 2^23 (+ the zero point) is exact), one logic op and one add
 * per value, no conversion unit. The M loops run to the constant QN_GEMV_MAXM so the compiler
 * unrolls them and the partial sums stay in registers. The 32 partial sums of each (row, x row)
 * meet in local memory (stride 33: the items that add them up read different banks) and one
 * item adds each up: one barrier per group.
 */

#define QN_GPU_RPI 4 /* weight rows a row set (32 items) walks together */
#define QN_GPU_LX 32 /* items per row set: the host launches (32, R) work-groups */
#define QN_GPU_RED 33

/* m over the x rows, unrolled to a constant count, and r over a set's rows, unrolled too: part[r][m]
 * indexes must all be constants, or the whole array goes to the stack (clang's NVPTX output kept it
 * there when only the store's r loop was left rolled) */
#define QN_GPU_FOR_M _Pragma("unroll") for (int m = 0; m < QN_GEMV_MAXM; m++) if (m < M)
#define QN_GPU_FOR_R _Pragma("unroll") for (int r = 0; r < QN_GPU_RPI; r++)

/* The row set's start: item l of the 32, rows n0 .. n0 + 3 (past N: clamped to N - 1 for reading,
 * never stored), part[r][m] the partial sums. */
#define QN_GPU_BEGIN                                                                                   \
    QN_WLAYOUT_MAKE(w);                                                                                \
    const int l = (int)get_local_id(0);                                                                \
    const long n0 = ((long)get_group_id(1) * (long)get_local_size(1) + (long)get_local_id(1)) * QN_GPU_RPI; \
    float part[QN_GPU_RPI][QN_GEMV_MAXM];                                                              \
    QN_GPU_FOR_R                                                               \
        QN_GPU_FOR_M part[r][m] = 0.0f;                                                                \
    const long nr0 = min(n0, N - 1), nr1 = min(n0 + 1, N - 1), nr2 = min(n0 + 2, N - 1), nr3 = min(n0 + 3, N - 1); \
    const global float *x = (const global float *)(xb_ + xo);

/* The 32 partials of one sum, in four chains (not one of 32 dependent adds). */
QN_INL float qn_gpu_sum32(const local float *p) {
    float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
    for (int i = 0; i < QN_GPU_LX; i += 4) {
        s0 += p[i];
        s1 += p[i + 1];
        s2 += p[i + 2];
        s3 += p[i + 3];
    }
    return (s0 + s1) + (s2 + s3);
}

/* Each partial sum times its row's scale into red, then item f of the group adds up sum f =
 * (row set's row) * M + m and stores it. */
QN_INL void qn_gemv_gpu_store(float part[QN_GPU_RPI][QN_GEMV_MAXM], const float4 scale, local float *red,
                              global uchar *y, int ydt, int M, long N) {
    const int l = (int)get_local_id(0), ly = (int)get_local_id(1), ry = (int)get_local_size(1);
    const float sc[QN_GPU_RPI] = {scale.x, scale.y, scale.z, scale.w};
    QN_GPU_FOR_R
        QN_GPU_FOR_M red[((ly * QN_GPU_RPI + r) * M + m) * QN_GPU_RED + l] = part[r][m] * sc[r];
    barrier(CLK_LOCAL_MEM_FENCE);
    const int f = ly * QN_GPU_LX + l;
    if (f < ry * QN_GPU_RPI * M) {
        const long n = (long)get_group_id(1) * ry * QN_GPU_RPI + f / M;
        if (n < N) qn_st(y, ydt, (size_t)(f % M) * (size_t)N + (size_t)n, qn_gpu_sum32(red + f * QN_GPU_RED));
    }
}

/* 4 bytes of u as floats c + o, c the byte (o = 2^23 + bias subtracted after the OR: exact) */
#define QN_GPU_B4(u, o)                                                                             \
    ((float4)(as_float(0x4b000000u | ((u) & 0xffu)), as_float(0x4b000000u | (((u) >> 8) & 0xffu)),   \
              as_float(0x4b000000u | (((u) >> 16) & 0xffu)), as_float(0x4b000000u | ((u) >> 24))) - (o))

/* q8 (int8 codes [N][K], one f32 scale a row). A piece is 16 codes; flipping the sign bits makes
 * the bytes c + 128, so o = 2^23 + 128 gives c. */
#define QN_Q8_DOT16_DEF(NAME, B4)                                                                   \
    QN_INL float NAME(uint4 c, float4 x0, float4 x1, float4 x2, float4 x3) {                        \
        const float o = 8388736.0f; /* 2^23 + 128 */                                                \
        c ^= (uint4)0x80808080u;                                                                    \
        return dot(B4(c.x, o), x0) + dot(B4(c.y, o), x1) + dot(B4(c.z, o), x2) + dot(B4(c.w, o), x3); \
    }
QN_Q8_DOT16_DEF(qn_q8_dot16, QN_GPU_B4)

/* piece V of the 4 rows (codes C0..C3) against each x row: its 4 float4s loaded once for the rows */
#define QN_Q8_PIECE(C0, C1, C2, C3, V)                                                              \
    QN_GPU_FOR_M {                                                                                  \
        const global float4 *xv = (const global float4 *)(x + (size_t)m * (size_t)K) + (V) * 4;     \
        const float4 X0 = xv[0], X1 = xv[1], X2 = xv[2], X3 = xv[3];                                \
        part[0][m] += qn_q8_dot16(C0, X0, X1, X2, X3);                                              \
        part[1][m] += qn_q8_dot16(C1, X0, X1, X2, X3);                                              \
        part[2][m] += qn_q8_dot16(C2, X0, X1, X2, X3);                                              \
        part[3][m] += qn_q8_dot16(C3, X0, X1, X2, X3);                                              \
    }

/* The loop over a row set's 16-byte pieces (nv a row; w0..w3 its rows' pieces): two pieces of each
 * row loaded before PIECE does the math on them, then the odd one left. */
#define QN_GPU_ROWS_LOOP(PIECE, NV)                                                                 \
    const long nv = (NV);                                                                           \
    long v = l;                                                                                     \
    for (; v + QN_GPU_LX < nv; v += 2 * QN_GPU_LX) {                                                \
        const long u = v + QN_GPU_LX;                                                               \
        const uint4 a0 = w0[v], a1 = w1[v], a2 = w2[v], a3 = w3[v];                                 \
        const uint4 b0 = w0[u], b1 = w1[u], b2 = w2[u], b3 = w3[u];                                 \
        PIECE(a0, a1, a2, a3, v)                                                                    \
        PIECE(b0, b1, b2, b3, u)                                                                    \
    }                                                                                               \
    if (v < nv) {                                                                                   \
        const uint4 a0 = w0[v], a1 = w1[v], a2 = w2[v], a3 = w3[v];                                 \
        PIECE(a0, a1, a2, a3, v)                                                                    \
    }

/* w0..w3: rows nr0..nr3 of W, rb bytes a row, as 16-byte pieces */
#define QN_GPU_ROW_PTRS(W, RB)                                                                      \
    const global uint4 *w0 = (const global uint4 *)((W) + nr0 * (RB)), *w1 = (const global uint4 *)((W) + nr1 * (RB)); \
    const global uint4 *w2 = (const global uint4 *)((W) + nr2 * (RB)), *w3 = (const global uint4 *)((W) + nr3 * (RB));

/* Row n of the stacked weights W0 (N0 rows), W1 (N1), W2 (N2): which one (0..2) and its row there. */
QN_INL int qn_stack_row(long n, long N0, long N1, long *r) {
    const int i = n >= N0 + N1 ? 2 : n >= N0 ? 1 : 0;
    *r = n - (i == 2 ? N0 + N1 : i == 1 ? N0 : 0);
    return i;
}

/* q8, one x for up to three weights of one K (matmul_multi: a layer's q, k and v; plain matmul:
 * N1 = N2 = 0): rows of W0, W1, W2 stacked, the row sets walking them as one matrix, so a set's
 * 4 rows may belong to two weights. ws_i: weight i's row scales from its start (after N_i·K
 * codes). Host: K % 16 == 0, every weight's codes and x 16-byte aligned. */
kernel void qn_gemv_q8_gpu(const global uchar *W0, ulong wo0, long ws0, const global uchar *W1, ulong wo1, long ws1,
                           const global uchar *W2, ulong wo2, long ws2, const global uchar *xb_, ulong xo,
                           global uchar *y0, ulong yo0, global uchar *y1, ulong yo1, global uchar *y2, ulong yo2,
                           int ydt, int M, long N0, long N1, long N2, long K, local float *red) {
    const int l = (int)get_local_id(0), ly = (int)get_local_id(1), ry = (int)get_local_size(1);
    const long N = N0 + N1 + N2, n0 = ((long)get_group_id(1) * ry + ly) * QN_GPU_RPI;
    float part[QN_GPU_RPI][QN_GEMV_MAXM];
    QN_GPU_FOR_R
        QN_GPU_FOR_M part[r][m] = 0.0f;
    const global float *x = (const global float *)(xb_ + xo);
    const global uchar *codes[QN_GPU_RPI];
    float sc[QN_GPU_RPI];
    QN_GPU_FOR_R {
        long rr;
        const int i = qn_stack_row(min(n0 + r, N - 1), N0, N1, &rr);
        const global uchar *base = i == 0 ? W0 + wo0 : i == 1 ? W1 + wo1 : W2 + wo2;
        codes[r] = base + rr * K;
        sc[r] = qn_ldf_any(base + (i == 0 ? ws0 : i == 1 ? ws1 : ws2) + rr * 4);
    }
    const global uint4 *w0 = (const global uint4 *)codes[0], *w1 = (const global uint4 *)codes[1];
    const global uint4 *w2 = (const global uint4 *)codes[2], *w3 = (const global uint4 *)codes[3];
    QN_GPU_ROWS_LOOP(QN_Q8_PIECE, K / 16)
    QN_GPU_FOR_R
        QN_GPU_FOR_M red[((ly * QN_GPU_RPI + r) * M + m) * QN_GPU_RED + l] = part[r][m] * sc[r];
    barrier(CLK_LOCAL_MEM_FENCE);
    const int f = ly * QN_GPU_LX + l;
    if (f < ry * QN_GPU_RPI * M) {
        const float s = qn_gpu_sum32(red + f * QN_GPU_RED);
        const long n = (long)get_group_id(1) * ry * QN_GPU_RPI + f / M;
        if (n < N) {
            long rr;
            const int i = qn_stack_row(n, N0, N1, &rr);
            global uchar *y = i == 0 ? y0 + yo0 : i == 1 ? y1 + yo1 : y2 + yo2;
            qn_st(y, ydt, (size_t)(f % M) * (size_t)(i == 0 ? N0 : i == 1 ? N1 : N2) + (size_t)rr, s);
        }
    }
}

/* q8 matmul_glu: y = act(x·Wg^T) * (x·Wu^T), Wu with Wg's layout (gs = us: the scales after N·K
 * codes). A row set walks gate rows n0, n0 + 1 and up rows n0, n0 + 1 (its 4 rows), and the
 * summing item of output (n, m) adds up both sums and applies the activation (a QN_UNARY_*
 * code). One launch for gate, up and glu. Host: as qn_gemv_q8_gpu. */
kernel void qn_gemv_q8_gpu_glu(const global uchar *Wg, ulong go, const global uchar *Wu, ulong uo, long ws,
                               const global uchar *xb_, ulong xo, global uchar *y, ulong yo, int ydt, int M, long N,
                               long K, int act, local float *red) {
    const int l = (int)get_local_id(0), ly = (int)get_local_id(1), ry = (int)get_local_size(1);
    const long n0 = ((long)get_group_id(1) * ry + ly) * 2, na = min(n0, N - 1), nb = min(n0 + 1, N - 1);
    float part[QN_GPU_RPI][QN_GEMV_MAXM];
    QN_GPU_FOR_R
        QN_GPU_FOR_M part[r][m] = 0.0f;
    const global float *x = (const global float *)(xb_ + xo);
    const global uchar *G = Wg + go, *U = Wu + uo;
    const global uint4 *w0 = (const global uint4 *)(G + na * K), *w1 = (const global uint4 *)(G + nb * K);
    const global uint4 *w2 = (const global uint4 *)(U + na * K), *w3 = (const global uint4 *)(U + nb * K);
    QN_GPU_ROWS_LOOP(QN_Q8_PIECE, K / 16)
    const float sc[QN_GPU_RPI] = {qn_ldf_any(G + ws + na * 4), qn_ldf_any(G + ws + nb * 4), qn_ldf_any(U + ws + na * 4),
                                  qn_ldf_any(U + ws + nb * 4)};
    QN_GPU_FOR_R
        QN_GPU_FOR_M red[((ly * QN_GPU_RPI + r) * M + m) * QN_GPU_RED + l] = part[r][m] * sc[r];
    barrier(CLK_LOCAL_MEM_FENCE);
    const int f = ly * QN_GPU_LX + l; /* output f = (set ly', row p of its 2) * M + m */
    if (f < ry * 2 * M) {
        const int set = f / (2 * M), p = (f / M) % 2, m = f % M;
        const float g = qn_gpu_sum32(red + ((set * QN_GPU_RPI + p) * M + m) * QN_GPU_RED);
        const float u = qn_gpu_sum32(red + ((set * QN_GPU_RPI + 2 + p) * M + m) * QN_GPU_RED);
        const long n = ((long)get_group_id(1) * ry + set) * 2 + p;
        if (n < N) qn_st(y + yo, ydt, (size_t)m * (size_t)N + (size_t)n, qn_act(g, act, 0.0f) * u);
    }
}

/* q4 (nibble codes [N][K/2], low nibble the even column; f16 scale and 4-bit zero per group of
 * 32/64/128). A piece is one 32-weight chunk, inside one group; x comes from qn_x_prep, each
 * chunk's even columns then its odd ones, so word i of a piece pairs its low nibbles with
 * x[32c + 4i ..] (e) and its high nibbles with x[32c + 16 + 4i ..] (o). Low nibbles give c,
 * high ones 16c: subtracting 2^23 + z and 2^23 + 16z gives c - z and 16(c - z) (the zero point
 * folded in exactly); the high sum is scaled by 1/16 once. Returns Σ (c - z)·x over the chunk. */
#define QN_Q4_DOT32_DEF(NAME, B4)                                                                   \
    QN_INL float NAME(uint4 c, float z, const float4 *e, const float4 *o) {                         \
        const float ol = 8388608.0f + z, oh = 8388608.0f + 16.0f * z;                               \
        const uint4 lo = c & (uint4)0x0f0f0f0fu, hi = c & (uint4)0xf0f0f0f0u;                       \
        const float sl = dot(B4(lo.x, ol), e[0]) + dot(B4(lo.y, ol), e[1]) + dot(B4(lo.z, ol), e[2]) + \
                         dot(B4(lo.w, ol), e[3]);                                                   \
        const float sh = dot(B4(hi.x, oh), o[0]) + dot(B4(hi.y, oh), o[1]) + dot(B4(hi.z, oh), o[2]) + \
                         dot(B4(hi.w, oh), o[3]);                                                   \
        return fma(sh, 0.0625f, sl);                                                                \
    }
QN_Q4_DOT32_DEF(qn_q4_dot32, QN_GPU_B4)

/* row r's group scale and zero for chunk V: f16 scales [N][K/g], zero nibbles [N][zrb] */
#define QN_Q4_SZ(r, NR, V)                                                                          \
    const long j##r = (V) >> gsh;                                                                   \
    const float s##r = vload_half((size_t)((NR) * ng + j##r), (const global half *)(W + w.scales_offset)); \
    const float z##r = (float)((W[w.q4_zeros_offset + (NR) * w.q4_zero_row_bytes + (j##r >> 1)] >> ((j##r & 1) * 4)) & 15u);

#define QN_Q4_PIECE(C0, C1, C2, C3, V)                                                              \
    {                                                                                               \
        QN_Q4_SZ(0, nr0, V) QN_Q4_SZ(1, nr1, V) QN_Q4_SZ(2, nr2, V) QN_Q4_SZ(3, nr3, V)             \
        QN_GPU_FOR_M {                                                                              \
            const global float4 *xv = (const global float4 *)(x + (size_t)m * (size_t)K) + (V) * 8; \
            const float4 e[4] = {xv[0], xv[1], xv[2], xv[3]}, o[4] = {xv[4], xv[5], xv[6], xv[7]};  \
            part[0][m] = fma(s0, qn_q4_dot32(C0, z0, e, o), part[0][m]);                            \
            part[1][m] = fma(s1, qn_q4_dot32(C1, z1, e, o), part[1][m]);                            \
            part[2][m] = fma(s2, qn_q4_dot32(C2, z2, e, o), part[2][m]);                            \
            part[3][m] = fma(s3, qn_q4_dot32(C3, z3, e, o), part[3][m]);                            \
        }                                                                                           \
    }

/* Host: x prepared by qn_x_prep (offset 0 of its scratch), codes 16-byte aligned (K % 32 == 0
 * makes every row's K/2 bytes whole pieces). */
kernel void qn_gemv_q4_gpu(const global uchar *Wb, ulong wo, QN_WLAYOUT_ARGS, const global uchar *xb_, ulong xo,
                           global uchar *y, ulong yo, int ydt, int M, long N, long K, local float *red) {
    QN_GPU_BEGIN
    const global uchar *W = Wb + wo;
    const long rb = w.codes_row_bytes, ng = K / w.group;
    const int gsh = 26 - clz(w.group); /* group 32/64/128: chunk >> gsh is its group */
    QN_GPU_ROW_PTRS(W, rb)
    QN_GPU_ROWS_LOOP(QN_Q4_PIECE, K / 32)
    qn_gemv_gpu_store(part, (float4)1.0f, red, y + yo, ydt, M, N);
}

/* f16 (halves [N][K]): a piece is 8 weights, x's 2 float4s. NVIDIA's OpenCL reports no fp16, so
 * the halves are widened by bit arithmetic (qn_h2f's, exact for subnormals, Inf and NaN). */
QN_INL float4 qn_h2f4(uint4 h) { QN_H2F(float4, uint4, convert_float4) }
QN_INL float qn_f16_dot8(uint4 c, float4 x0, float4 x1) {
    return dot(qn_h2f4((uint4)(c.x & 0xffffu, c.x >> 16, c.y & 0xffffu, c.y >> 16)), x0) +
           dot(qn_h2f4((uint4)(c.z & 0xffffu, c.z >> 16, c.w & 0xffffu, c.w >> 16)), x1);
}

#define QN_F16_PIECE(C0, C1, C2, C3, V)                                                             \
    QN_GPU_FOR_M {                                                                                  \
        const global float4 *xv = (const global float4 *)(x + (size_t)m * (size_t)K) + (V) * 2;     \
        const float4 X0 = xv[0], X1 = xv[1];                                                        \
        part[0][m] += qn_f16_dot8(C0, X0, X1);                                                      \
        part[1][m] += qn_f16_dot8(C1, X0, X1);                                                      \
        part[2][m] += qn_f16_dot8(C2, X0, X1);                                                      \
        part[3][m] += qn_f16_dot8(C3, X0, X1);                                                      \
    }

/* Host: K % 8 == 0, weights and x 16-byte aligned. */
kernel void qn_gemv_f16_gpu(const global uchar *Wb, ulong wo, QN_WLAYOUT_ARGS, const global uchar *xb_, ulong xo,
                            global uchar *y, ulong yo, int ydt, int M, long N, long K, local float *red) {
    QN_GPU_BEGIN
    (void)w;
    const global uchar *W = Wb + wo;
    QN_GPU_ROW_PTRS(W, K * 2)
    QN_GPU_ROWS_LOOP(QN_F16_PIECE, K / 8)
    qn_gemv_gpu_store(part, (float4)1.0f, red, y + yo, ydt, M, N);
}

/* ---- M = 1 (a decode step's one x row): q8 ----
 * Why apart from qn_gemv_q8_gpu: that kernel keeps QN_GEMV_MAXM = 8 partial sums for each of its
 * 4 rows and 8 x rows' float4s live across its unrolled M loop; ptxas put it at 238-255
 * registers (with spills), so an SM held 8 of its warps: too few 16-byte loads in flight to cover
 * HBM latency (22-33% of the copy kernel on the H100, bench/NOTES.md section 1 clgemv13). Here
 * M is 1: a warp (32 items) walks QN_G1_RW = 2 rows, each lane QN_G1_U = 4 pieces of both rows
 * loaded before their math (8 independent 16-byte loads in flight a lane, as before, at a
 * fraction of the registers), so an SM holds several times the warps. Each lane adds its pieces
 * l, l + 32, ... in the order qn_gemv_q8_gpu does, the partials meet the same way
 * (qn_gpu_sum32 after the row scale): the same bits as qn_gemv_q8_gpu at M = 1, so a row's
 * result stays independent of the batch it comes in. */
#define QN_G1_RW 2
#define QN_G1_U 4

/* lane l's sums over the 16-byte pieces l, l + 32, ... of rows w0 and w1 (nv pieces a row), x's piece v at
 * XV(v, j) (x's float4 j of piece v, from XT memory): global x here, local memory for qn_gemv_q8_m1n and the
 * streamed GEMVs */
#define QN_Q8_M1_ROWS_DEF(NAME, XT, XV)                                                                        \
    QN_INL float2 NAME(const global uint4 *w0, const global uint4 *w1, XT, long nv, int l) {                    \
        float s0 = 0.0f, s1 = 0.0f;                                                                            \
        for (long v0 = l; v0 < nv; v0 += QN_G1_U * QN_GPU_LX) {                                                \
            uint4 a[QN_G1_U], b[QN_G1_U];                                                                      \
            _Pragma("unroll") for (int u = 0; u < QN_G1_U; u++) { /* past the row: piece nv - 1 again, unused */ \
                const long v = min(v0 + u * QN_GPU_LX, nv - 1);                                                \
                a[u] = w0[v];                                                                                  \
                b[u] = w1[v];                                                                                  \
            }                                                                                                  \
            _Pragma("unroll") for (int u = 0; u < QN_G1_U; u++) {                                              \
                const long v = v0 + u * QN_GPU_LX;                                                             \
                if (v < nv) {                                                                                  \
                    const float4 X0 = XV(v, 0), X1 = XV(v, 1), X2 = XV(v, 2), X3 = XV(v, 3);                   \
                    s0 += qn_q8_dot16(a[u], X0, X1, X2, X3);                                                   \
                    s1 += qn_q8_dot16(b[u], X0, X1, X2, X3);                                                   \
                }                                                                                              \
            }                                                                                                  \
        }                                                                                                      \
        return (float2)(s0, s1);                                                                               \
    }
#define QN_XV_GLOBAL(v, j) x4[(v) * 4 + (j)]
QN_Q8_M1_ROWS_DEF(qn_q8_m1_rows, const global float4 *x4, QN_XV_GLOBAL)

/* Row n of the stacked weights: its codes and its scale (as qn_gemv_q8_gpu finds them) */
QN_INL const global uint4 *qn_q8_m1_row(long n, const global uchar *W0, long ws0, const global uchar *W1, long ws1,
                                       const global uchar *W2, long ws2, long N0, long N1, long K, float *sc) {
    long rr;
    const int i = qn_stack_row(n, N0, N1, &rr);
    const global uchar *base = i == 0 ? W0 : i == 1 ? W1 : W2;
    *sc = qn_ldf_any(base + (i == 0 ? ws0 : i == 1 ? ws1 : ws2) + rr * 4);
    return (const global uint4 *)(base + rr * K);
}

/* qn_gemv_q8_gpu at M = 1: matmul (one weight) and matmul_multi (two or three stacked), work-group
 * (32, S): warp ly takes rows 2·(group·S + ly) and the next. Host: as qn_gemv_q8_gpu. */
kernel void qn_gemv_q8_m1(const global uchar *W0, ulong wo0, long ws0, const global uchar *W1, ulong wo1, long ws1,
                          const global uchar *W2, ulong wo2, long ws2, const global uchar *xb_, ulong xo,
                          global uchar *y0, ulong yo0, global uchar *y1, ulong yo1, global uchar *y2, ulong yo2,
                          int ydt, long N0, long N1, long N2, long K, local float *red) {
    const int l = (int)get_local_id(0), ly = (int)get_local_id(1), ry = (int)get_local_size(1);
    const long N = N0 + N1 + N2, n0 = ((long)get_group_id(1) * ry + ly) * QN_G1_RW;
    float sa, sb;
    const global uint4 *wa = qn_q8_m1_row(min(n0, N - 1), W0 + wo0, ws0, W1 + wo1, ws1, W2 + wo2, ws2, N0, N1, K, &sa);
    const global uint4 *wb = qn_q8_m1_row(min(n0 + 1, N - 1), W0 + wo0, ws0, W1 + wo1, ws1, W2 + wo2, ws2, N0, N1, K, &sb);
    const float2 s = qn_q8_m1_rows(wa, wb, (const global float4 *)(xb_ + xo), K / 16, l);
    red[(ly * QN_G1_RW) * QN_GPU_RED + l] = s.x * sa;
    red[(ly * QN_G1_RW + 1) * QN_GPU_RED + l] = s.y * sb;
    barrier(CLK_LOCAL_MEM_FENCE);
    const int f = ly * QN_GPU_LX + l;
    if (f < ry * QN_G1_RW) {
        const float v = qn_gpu_sum32(red + f * QN_GPU_RED);
        const long n = (long)get_group_id(1) * ry * QN_G1_RW + f;
        if (n < N) {
            long rr;
            const int i = qn_stack_row(n, N0, N1, &rr);
            qn_st(i == 0 ? y0 + yo0 : i == 1 ? y1 + yo1 : y2 + yo2, ydt, (size_t)rr, v);
        }
    }
}

/* qn_gemv_q8_gpu_glu at M = 1: warp ly takes gate row n and up row n, n = group·S + ly; output n
 * is act(gate sum)·(up sum). Host: as qn_gemv_q8_gpu_glu. */
kernel void qn_gemv_q8_m1_glu(const global uchar *Wg, ulong go, const global uchar *Wu, ulong uo, long ws,
                              const global uchar *xb_, ulong xo, global uchar *y, ulong yo, int ydt, long N, long K,
                              int act, local float *red) {
    const int l = (int)get_local_id(0), ly = (int)get_local_id(1), ry = (int)get_local_size(1);
    const long n = min((long)get_group_id(1) * ry + ly, N - 1);
    const global uchar *G = Wg + go, *U = Wu + uo;
    const float2 s = qn_q8_m1_rows((const global uint4 *)(G + n * K), (const global uint4 *)(U + n * K),
                                   (const global float4 *)(xb_ + xo), K / 16, l);
    red[(ly * QN_G1_RW) * QN_GPU_RED + l] = s.x * qn_ldf_any(G + ws + n * 4);
    red[(ly * QN_G1_RW + 1) * QN_GPU_RED + l] = s.y * qn_ldf_any(U + ws + n * 4);
    barrier(CLK_LOCAL_MEM_FENCE);
    const int f = ly * QN_GPU_LX + l;
    if (f < ry) {
        const float g = qn_gpu_sum32(red + (f * QN_G1_RW) * QN_GPU_RED);
        const float u = qn_gpu_sum32(red + (f * QN_G1_RW + 1) * QN_GPU_RED);
        const long no = (long)get_group_id(1) * ry + f;
        if (no < N) qn_st(y + yo, ydt, (size_t)no, qn_act(g, act, 0.0f) * u);
    }
}

/* ---- M = 1: q4 ----
 * qn_gemv_q4_gpu at M = 1 (QUANTA_OPENCL_GEMV1=1), as qn_gemv_q8_m1 is to qn_gemv_q8_gpu: a warp per
 * 2 rows, QN_G1_U4 chunks of both rows loaded before their math, each lane's chunks added in
 * qn_gemv_q4_gpu's order (so the same bits). ptxas (clang's PTX, sm_90) put qn_gemv_q4_gpu at 255
 * registers with 3.4 KB of spills. Same arguments as qn_gemv_q4_gpu (M is 1). */
#define QN_G1_U4 2
kernel void qn_gemv_q4_m1(const global uchar *Wb, ulong wo, QN_WLAYOUT_ARGS, const global uchar *xb_, ulong xo,
                          global uchar *y, ulong yo, int ydt, int M, long N, long K, local float *red) {
    QN_WLAYOUT_MAKE(w);
    (void)M;
    const int l = (int)get_local_id(0), ly = (int)get_local_id(1), ry = (int)get_local_size(1);
    const long n0 = ((long)get_group_id(1) * ry + ly) * QN_G1_RW, nr0 = min(n0, N - 1), nr1 = min(n0 + 1, N - 1);
    const global uchar *W = Wb + wo;
    const long rb = w.codes_row_bytes, ng = K / w.group, nv = K / 32;
    const int gsh = 26 - clz(w.group); /* group 32/64/128: chunk >> gsh is its group */
    const global uint4 *w0 = (const global uint4 *)(W + nr0 * rb), *w1 = (const global uint4 *)(W + nr1 * rb);
    const global float4 *x4 = (const global float4 *)(xb_ + xo);
    float p0 = 0.0f, p1 = 0.0f;
    for (long v0 = l; v0 < nv; v0 += QN_G1_U4 * QN_GPU_LX) {
        uint4 a[QN_G1_U4], b[QN_G1_U4];
#pragma unroll
        for (int u = 0; u < QN_G1_U4; u++) { /* past the row: chunk nv - 1 again, loaded, never used */
            const long v = min(v0 + u * QN_GPU_LX, nv - 1);
            a[u] = w0[v];
            b[u] = w1[v];
        }
#pragma unroll
        for (int u = 0; u < QN_G1_U4; u++) {
            const long v = v0 + u * QN_GPU_LX;
            if (v < nv) {
                QN_Q4_SZ(0, nr0, v) QN_Q4_SZ(1, nr1, v)
                const global float4 *xv = x4 + v * 8;
                const float4 e[4] = {xv[0], xv[1], xv[2], xv[3]}, o[4] = {xv[4], xv[5], xv[6], xv[7]};
                p0 = fma(s0, qn_q4_dot32(a[u], z0, e, o), p0);
                p1 = fma(s1, qn_q4_dot32(b[u], z1, e, o), p1);
            }
        }
    }
    red[(ly * QN_G1_RW) * QN_GPU_RED + l] = p0 * 1.0f; /* as qn_gemv_gpu_store scales by 1 */
    red[(ly * QN_G1_RW + 1) * QN_GPU_RED + l] = p1 * 1.0f;
    barrier(CLK_LOCAL_MEM_FENCE);
    const int f = ly * QN_GPU_LX + l;
    if (f < ry * QN_G1_RW) {
        const long n = (long)get_group_id(1) * ry * QN_G1_RW + f;
        if (n < N) qn_st(y + yo, ydt, (size_t)n, qn_gpu_sum32(red + f * QN_GPU_RED));
    }
}

/* ---- M = 1, streamed (QUANTA_OPENCL_GEMVS=1 or 2; =2 the default up to 1536 rows: bench/NOTES.md section 1 clgemv15) ----
 * Why: qn_gemv_q8_m1 read ~1.27 TB/s of weights on the H100 (46% of the 2.77 TB/s copy kernel; the 1B's
 * glu, 23 MB, took 18.4-18.8 us of device time) and qn_gemv_q4_m1 ~1.0 TB/s. From the code: lane l reads
 * the 16-byte piece v of a row and x's 64 bytes (q4: 128) for it as 4 (8) float4 loads, lanes 64 (128)
 * bytes apart, so each of those loads touches 16 (32) cache lines and takes that many L1 cycles, where the
 * weight load, 32 consecutive pieces, takes 4: per 1 KB of q8 weights (2 rows a warp) 8 cycles of weights and
 * 64 of x, about 14 bytes a clock an SM at best: ~3.3 TB/s if L1 did nothing else, and q4 a quarter of that.
 * Here (a) a warp walks QN_S_RW = 4 rows, so x's loads serve 4 weight pieces; (b) with xl = 1 (GEMVS=2) the
 * group first copies x into local memory (coalesced), float4 j of piece v at v·P + (j ^ swizzle(v)), so
 * the 8 lanes a local 16-byte load serves at once hit 8 different bank quads (no conflicts, no padding: K up
 * to ~11k floats fit in 48 KB); (c) QN_S_U = 2 pieces of each row loaded before their math (8 independent
 * 16-byte loads a lane); (d) a group may take several row blocks one after another (`iters`: the host may
 * size the grid to a few groups a compute unit, each copying x once); the partials meet in local memory,
 * double-buffered by block parity: one barrier a block (block it's sums are read before the barrier of
 * it + 1, which every writer of it + 2 has passed); (e) bytes become floats with one PRMT each on NVIDIA
 * (QN_NV_PTX: byte k of c next to 0x4b0000, the float QN_GPU_B4 makes with a shift, a mask and an OR).
 * Lane l adds its pieces l, l + 32, ... of a row in increasing order, x's values the same wherever they are
 * read from, and the partials meet as in qn_gemv_q8_m1 (times the row scale, then qn_gpu_sum32): the same
 * bits as qn_gemv_q8_m1 / _glu and qn_gemv_q4_m1 (so as the M <= 8 kernels: batch invariance kept). */
#define QN_S_RW 4
#define QN_S_U 2
#if defined(QN_NV_PTX)
QN_INL float qn_s_b1(uint u, uint sel) {
    uint d;
    __asm__("prmt.b32 %0, %1, %2, %3;" : "=r"(d) : "r"(u), "r"(0x4b000000u), "r"(sel));
    return as_float(d);
}
#define QN_S_B4(u, o) ((float4)(qn_s_b1((u), 0x7440u), qn_s_b1((u), 0x7441u), qn_s_b1((u), 0x7442u), qn_s_b1((u), 0x7443u)) - (o))
#else
#define QN_S_B4 QN_GPU_B4
#endif
QN_Q8_DOT16_DEF(qn_q8_dot16s, QN_S_B4)
QN_Q4_DOT32_DEF(qn_q4_dot32s, QN_S_B4)

/* x in local memory: float4 j of piece v (P float4s a piece: 4 for q8, 8 for q4's prepared x) */
#define QN_S_SWZ(v, P) ((P) == 4 ? ((int)((v) >> 1) & 3) : ((int)(v) & 7))
#define QN_S_LX(v, j, P) lx[(v) * (P) + ((j) ^ QN_S_SWZ(v, P))]

/* xl, the host's flags word: bit 0 x in local memory (else read from global memory), copied there by
 * qn_s_stage_x; bit 1 (QUANTA_OPENCL_GEMVS_XB=1) the copy issues QN_S_XB loads a work-item before their stores
 * (the plain loop stores each float4 before the next load: the loop's trip count is run-time, so every trip waits
 * one L2 round trip, 4 at K = 4096 with 256 items and 11 at K = 11008, before any weight is read); bit 2 (q4,
 * QUANTA_OPENCL_Q4X=1) x is the raw f32 row and the copy splits each 32-column chunk into its even then odd
 * columns as it stores them, qn_x_prep's order, so the q4 GEMV needs no launch of qn_x_prep before it (a launch
 * costs ~6 us of device time on NVIDIA's OpenCL, and qn_x_prep's one item per chunk runs on a few SMs): the same
 * floats in the same places, so the same sums; bit 3: QN_S_F_U8. */
#define QN_S_XL_LOCAL 1
#define QN_S_XL_BATCH 2
#define QN_S_XL_SPLIT 4
#define QN_S_F_U8 8 /* q8 at 2 rows a warp (QUANTA_OPENCL_GEMVS_U=8): 8 pieces of each row in flight, the tail in one step */
#define QN_S_F_PF 16 /* with QN_S_F_U8 and x local (QUANTA_OPENCL_GEMVS_PF=1): the first step's loads issued before x is staged */
#define QN_S_F_ST 32 /* with QN_S_F_PF (QUANTA_OPENCL_GEMVS_PF=2): the int8 forms' streaming kernels (the host picks them by it) */
#define QN_S_F_X1 64 /* the streaming int8 forms (QUANTA_OPENCL_GEMVS_XB=2, clgemv21): x quantized in one trip (QN_I_X1_LOOP) */
#define QN_S_XB 4

/* float4 i of x (P float4s a piece) into lx: as is, or (QN_S_XL_SPLIT, P = 8) raw columns 4j..4j+3 of chunk v, whose
 * even columns go to the chunk's float4 j / 2 and odd ones to 4 + j / 2, at component 2·(j % 2) */
QN_INL void qn_s_put_x(local float4 *lx, long i, float4 a, int P, int xl) {
    const long v = i / P;
    const int j = (int)(i - v * P);
    if (xl & QN_S_XL_SPLIT) {
        ((local float2 *)&QN_S_LX(v, j >> 1, 8))[j & 1] = a.xz;
        ((local float2 *)&QN_S_LX(v, 4 + (j >> 1), 8))[j & 1] = a.yw;
    } else {
        QN_S_LX(v, j, P) = a;
    }
}

/* The group copies x's n4 float4s into lx (QN_S_LX order, xl's bits say how); returns after the barrier. */
QN_INL void qn_s_stage_x(local float4 *lx, const global float4 *x4, long n4, int P, int xl) {
    const int T = (int)(get_local_size(0) * get_local_size(1));
    const long t = (long)get_local_id(1) * QN_GPU_LX + get_local_id(0);
    if (xl & QN_S_XL_BATCH) {
        for (long i = t; i < n4; i += QN_S_XB * T) {
            float4 a[QN_S_XB];
            _Pragma("unroll") for (int u = 0; u < QN_S_XB; u++) a[u] = x4[min(i + u * T, n4 - 1)]; /* no branch: all issued */
            _Pragma("unroll") for (int u = 0; u < QN_S_XB; u++) if (i + u * T < n4) qn_s_put_x(lx, i + u * T, a[u], P, xl);
        }
    } else {
        for (long i = t; i < n4; i += T) qn_s_put_x(lx, i, x4[i], P, xl);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
}

/* lane l's sums over the pieces l, l + 32, ... of rows w0..w3 (nv 16-byte pieces a row), x's float4 j of piece v
 * from XV(v, j): global (x4) or local (lx). Why whole steps apart from the tail: with the math under `if (v < nv)`,
 * as in qn_q8_m1_rows, LLVM sinks each load into the branch that uses it (clang's NVPTX output for qn_gemv_q8_m1: 2
 * weight loads, then their 24 FMAs, 4 times a step) and ptxas does not hoist loads across blocks, so a lane has 2
 * loads in flight, not 8 (a select in place of the branch was turned back into one). Here the steps whose U pieces
 * all lie in the row have no branch at all (every load of the step issued before its math), and the pieces left
 * (K % (32·U) > 0) go one by one after them: the same additions in the same order. */
#define QN_Q8_WALK_BODY(R, U, XV)                                                                              \
    QN_Q8_WALK_BODY_STEPS(R, U, XV)                                                                            \
    for (; v0 < nv; v0 += QN_GPU_LX) { /* the row's tail, a piece at a time */                                 \
        const float4 X0 = XV(v0, 0), X1 = XV(v0, 1), X2 = XV(v0, 2), X3 = XV(v0, 3);                           \
        _Pragma("unroll") for (int r = 0; r < (R); r++) s[r] += qn_q8_dot16s(w[r][v0], X0, X1, X2, X3);        \
    }
#define QN_Q8_WALK_BODY_STEPS(R, U, XV)                                                                        \
    _Pragma("unroll") for (int r = 0; r < (R); r++) s[r] = 0.0f;                                               \
    long v0 = l;                                                                                               \
    QN_Q8_WALK_LOOP(R, U, XV)
/* the whole steps from v0 on */
#define QN_Q8_WALK_LOOP(R, U, XV)                                                                              \
    for (; v0 + ((U) - 1) * QN_GPU_LX < nv; v0 += (U) * QN_GPU_LX) {                                           \
        uint4 a[U][R];                                                                                         \
        float4 X[U][4];                                                                                        \
        _Pragma("unroll") for (int u = 0; u < (U); u++) {                                                      \
            const long v = v0 + u * QN_GPU_LX;                                                                 \
            _Pragma("unroll") for (int r = 0; r < (R); r++) a[u][r] = w[r][v];                                 \
            X[u][0] = XV(v, 0), X[u][1] = XV(v, 1), X[u][2] = XV(v, 2), X[u][3] = XV(v, 3);                    \
        }                                                                                                      \
        _Pragma("unroll") for (int u = 0; u < (U); u++)                                                        \
            _Pragma("unroll") for (int r = 0; r < (R); r++)                                                    \
                s[r] += qn_q8_dot16s(a[u][r], X[u][0], X[u][1], X[u][2], X[u][3]);                              \
    }
/* QN_Q8_WALK_BODY with the row's tail as one more step (QN_S_F_U8's walker): the pieces left after the whole steps
 * (fewer than U a lane) loaded at once from clamped places (piece nv - 1 again past the row: a valid load, its sum
 * dropped by a select, not a branch, so no load waits in a branch), where the piece loop above waits one round trip
 * a piece: 6 at K = 11008 with U = 8, and every piece at K = 2048 (no whole step of 8). The same additions in the
 * same order. */
#define QN_Q8_WALK_BODY_T1(R, U, XV)                                                                           \
    QN_Q8_WALK_BODY_STEPS(R, U, XV)                                                                            \
    if (v0 < nv) QN_Q8_SEL_STEP(R, U, XV, w[r][min(v0 + u * QN_GPU_LX, nv - 1)])
/* one step at v0 whose pieces may run past the row: piece u of row r is LD (an expression of u and r: a load from a
 * clamped place, or a register loaded before), x from the same clamped place, its sum kept only where v0 + 32u < nv */
#define QN_Q8_SEL_STEP(R, U, XV, LD)                                                                           \
    {                                                                                                          \
        uint4 a[U][R];                                                                                         \
        float4 X[U][4];                                                                                        \
        _Pragma("unroll") for (int u = 0; u < (U); u++) {                                                      \
            const long v = min(v0 + u * QN_GPU_LX, nv - 1);                                                    \
            _Pragma("unroll") for (int r = 0; r < (R); r++) a[u][r] = LD;                                      \
            X[u][0] = XV(v, 0), X[u][1] = XV(v, 1), X[u][2] = XV(v, 2), X[u][3] = XV(v, 3);                    \
        }                                                                                                      \
        _Pragma("unroll") for (int u = 0; u < (U); u++)                                                        \
            _Pragma("unroll") for (int r = 0; r < (R); r++) {                                                  \
                const float d = qn_q8_dot16s(a[u][r], X[u][0], X[u][1], X[u][2], X[u][3]);                     \
                s[r] = v0 + u * QN_GPU_LX < nv ? s[r] + d : s[r];                                              \
            }                                                                                                  \
    }
/* 4 rows a warp, QN_S_U pieces of each in flight a lane */
#define QN_Q8_S_ROWS_DEF(NAME, XT, XV)                                                                         \
    QN_INL float4 NAME(const global uint4 *w0, const global uint4 *w1, const global uint4 *w2,                 \
                       const global uint4 *w3, XT, long nv, int l) {                                           \
        const global uint4 *w[4] = {w0, w1, w2, w3};                                                           \
        float s[4];                                                                                            \
        QN_Q8_WALK_BODY(4, QN_S_U, XV)                                                                         \
        return (float4)(s[0], s[1], s[2], s[3]);                                                               \
    }
/* 2 rows a warp (rw = 2: twice the warps), U pieces of each in flight a lane: QN_G1_U = 4, or 8 (QN_S_F_U8) */
#define QN_Q8_S2_ROWS_DEF(NAME, U, BODY, XT, XV)                                                               \
    QN_INL float2 NAME(const global uint4 *w0, const global uint4 *w1, XT, long nv, int l) {                   \
        const global uint4 *w[2] = {w0, w1};                                                                   \
        float s[2];                                                                                            \
        BODY(2, U, XV)                                                                                         \
        return (float2)(s[0], s[1]);                                                                           \
    }
#define QN_S_XG8(v, j) x4[(v) * 4 + (j)]
#define QN_S_XL8(v, j) QN_S_LX(v, j, 4)
QN_Q8_S_ROWS_DEF(qn_q8_s_rows, const global float4 *x4, QN_S_XG8)
QN_Q8_S_ROWS_DEF(qn_q8_s_rows_l, const local float4 *lx, QN_S_XL8)
QN_Q8_S2_ROWS_DEF(qn_q8_s2_rows, QN_G1_U, QN_Q8_WALK_BODY, const global float4 *x4, QN_S_XG8)
QN_Q8_S2_ROWS_DEF(qn_q8_s2_rows_l, QN_G1_U, QN_Q8_WALK_BODY, const local float4 *lx, QN_S_XL8)
QN_Q8_S2_ROWS_DEF(qn_q8_s2u8_rows, 8, QN_Q8_WALK_BODY_T1, const global float4 *x4, QN_S_XG8)
QN_Q8_S2_ROWS_DEF(qn_q8_s2u8_rows_l, 8, QN_Q8_WALK_BODY_T1, const local float4 *lx, QN_S_XL8)
/* qn_q8_s2u8_rows_l with its first step's pieces (l + 32u, clamped to the row) loaded into pre before the call
 * (QN_S_F_PF: before x is staged); the same sums in the same order */
QN_INL float2 qn_q8_s2u8p_rows_l(const global uint4 *w0, const global uint4 *w1, const local float4 *lx, long nv, int l,
                                 const uint4 pre[8][2]) {
    const global uint4 *w[2] = {w0, w1};
    float s[2] = {0.0f, 0.0f};
    long v0 = l;
    QN_Q8_SEL_STEP(2, 8, QN_S_XL8, pre[u][r])
    v0 += 8 * QN_GPU_LX;
    QN_Q8_WALK_LOOP(2, 8, QN_S_XL8)
    if (v0 < nv) QN_Q8_SEL_STEP(2, 8, QN_S_XL8, w[r][min(v0 + u * QN_GPU_LX, nv - 1)])
    return (float2)(s[0], s[1]);
}

/* block it's first row (per rows a warp, get_local_size(1) warps a group) and its partials' buffer */
#define QN_S_BLOCK(it, per) (((long)(it) * (long)get_num_groups(1) + (long)get_group_id(1)) * (long)get_local_size(1) * (per))
#define QN_S_RED(it) (red + ((it) & 1) * (int)get_local_size(1) * QN_S_RW * QN_GPU_RED)
/* the local buffer: the partials (2 · S · 4 · 33 floats, a multiple of 4), then x where xl (float4-typed: the
 * driver aligns it to 16 bytes, which x's float4 reads need) */
#define QN_S_LOCAL_SPLIT(lm)                                                                                   \
    local float *red = (local float *)(lm);                                                                    \
    local float4 *lx = (lm) + 2 * (int)get_local_size(1) * QN_S_RW * QN_GPU_RED / 4;

/* matmul (one weight) and matmul_multi (two or three stacked), as qn_gemv_q8_m1; `iters` blocks a group;
 * xl: x from local memory (K float4s / 4 after the partials in lm). rmode (one f32 weight and result, as
 * qn_gemv_q8_m1r): 1 also stores s = y, 2 s = y + r (the add_norm after it, cl_norm_gemv.c). */
kernel void qn_gemv_q8_s(const global uchar *W0, ulong wo0, long ws0, const global uchar *W1, ulong wo1, long ws1,
                         const global uchar *W2, ulong wo2, long ws2, const global uchar *xb_, ulong xo,
                         global uchar *y0, ulong yo0, global uchar *y1, ulong yo1, global uchar *y2, ulong yo2,
                         int ydt, long N0, long N1, long N2, long K, int iters, int xl, int rw, const global uchar *rres,
                         ulong ro, global uchar *sres, ulong so, int rmode, local float4 *lm) {
    const int l = (int)get_local_id(0), ly = (int)get_local_id(1), ry = (int)get_local_size(1);
    const long N = N0 + N1 + N2;
    const global float4 *x4 = (const global float4 *)(xb_ + xo);
    QN_S_LOCAL_SPLIT(lm)
    const int xloc = xl & QN_S_XL_LOCAL, pf = xl & QN_S_F_PF;
    uint4 pre[8][2];
    if (pf) { /* the first block's first step, in flight while x is staged (host: rw 2, U = 8, x in local memory) */
        float unused;
        const long n0 = QN_S_BLOCK(0, 2) + ly * 2;
        const global uint4 *p0 = qn_q8_m1_row(min(n0, N - 1), W0 + wo0, ws0, W1 + wo1, ws1, W2 + wo2, ws2, N0, N1, K, &unused);
        const global uint4 *p1 = qn_q8_m1_row(min(n0 + 1, N - 1), W0 + wo0, ws0, W1 + wo1, ws1, W2 + wo2, ws2, N0, N1, K, &unused);
        _Pragma("unroll") for (int u = 0; u < 8; u++) {
            pre[u][0] = p0[min((long)l + u * QN_GPU_LX, K / 16 - 1)];
            pre[u][1] = p1[min((long)l + u * QN_GPU_LX, K / 16 - 1)];
        }
    }
    if (xloc) qn_s_stage_x(lx, x4, K / 4, 4, xl);
    for (int it = 0; it < iters; it++) {
        const long gb = QN_S_BLOCK(it, rw), n0 = gb + ly * rw;
        if (gb >= N) break; /* uniform over the group */
        float sc[QN_S_RW];
        const global uint4 *w[QN_S_RW];
#pragma unroll
        for (int r = 0; r < QN_S_RW; r++)
            w[r] = qn_q8_m1_row(min(n0 + r, N - 1), W0 + wo0, ws0, W1 + wo1, ws1, W2 + wo2, ws2, N0, N1, K, &sc[r]);
        float4 s;
        if (pf && it == 0)
            s.xy = qn_q8_s2u8p_rows_l(w[0], w[1], lx, K / 16, l, pre);
        else if (rw == 2 && (xl & QN_S_F_U8))
            s.xy = xloc ? qn_q8_s2u8_rows_l(w[0], w[1], lx, K / 16, l) : qn_q8_s2u8_rows(w[0], w[1], x4, K / 16, l);
        else if (rw == 2) s.xy = xloc ? qn_q8_s2_rows_l(w[0], w[1], lx, K / 16, l) : qn_q8_s2_rows(w[0], w[1], x4, K / 16, l);
        else s = xloc ? qn_q8_s_rows_l(w[0], w[1], w[2], w[3], lx, K / 16, l)
                    : qn_q8_s_rows(w[0], w[1], w[2], w[3], x4, K / 16, l);
        local float *rb = QN_S_RED(it);
        rb[(ly * QN_S_RW) * QN_GPU_RED + l] = s.x * sc[0];
        rb[(ly * QN_S_RW + 1) * QN_GPU_RED + l] = s.y * sc[1];
        if (rw == 4) {
            rb[(ly * QN_S_RW + 2) * QN_GPU_RED + l] = s.z * sc[2];
            rb[(ly * QN_S_RW + 3) * QN_GPU_RED + l] = s.w * sc[3];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        const int f = ly * QN_GPU_LX + l; /* output gb + f: warp f / rw's row f % rw */
        if (f < ry * rw) {
            const float v = qn_gpu_sum32(rb + ((f / rw) * QN_S_RW + f % rw) * QN_GPU_RED);
            const long n = gb + f;
            if (n < N && rmode) { /* f32, one weight: qn_gemv_q8_m1r's stores */
                ((global float *)(y0 + yo0))[n] = v;
                ((global float *)(sres + so))[n] = rmode == 2 ? v + ((const global float *)(rres + ro))[n] : v;
            } else if (n < N) {
                long rr;
                const int i = qn_stack_row(n, N0, N1, &rr);
                qn_st(i == 0 ? y0 + yo0 : i == 1 ? y1 + yo1 : y2 + yo2, ydt, (size_t)rr, v);
            }
        }
    }
}

/* matmul_glu as qn_gemv_q8_m1_glu: warp ly walks gate rows n, n + 1 and up rows n, n + 1 (2 outputs a warp). */
kernel void qn_gemv_q8_s_glu(const global uchar *Wg, ulong go, const global uchar *Wu, ulong uo, long ws,
                             const global uchar *xb_, ulong xo, global uchar *y, ulong yo, int ydt, long N, long K,
                             int act, int iters, int xl, int rw, local float4 *lm) {
    const int l = (int)get_local_id(0), ly = (int)get_local_id(1), ry = (int)get_local_size(1);
    const global uchar *G = Wg + go, *U = Wu + uo;
    const global float4 *x4 = (const global float4 *)(xb_ + xo);
    const int opw = rw / 2; /* outputs a warp: its gate rows, then its up rows */
    QN_S_LOCAL_SPLIT(lm)
    const int xloc = xl & QN_S_XL_LOCAL;
    if (xloc) qn_s_stage_x(lx, x4, K / 4, 4, xl);
    for (int it = 0; it < iters; it++) {
        const long gb = QN_S_BLOCK(it, opw), n0 = gb + ly * opw;
        if (gb >= N) break; /* uniform over the group */
        const long na = min(n0, N - 1), nb = min(n0 + 1, N - 1);
        const global uint4 *ga = (const global uint4 *)(G + na * K), *gbr = (const global uint4 *)(G + nb * K);
        const global uint4 *ua = (const global uint4 *)(U + na * K), *ub = (const global uint4 *)(U + nb * K);
        float4 s;
        local float *rb = QN_S_RED(it);
        if (rw == 2) {
            if (xl & QN_S_F_U8)
                s.xy = xloc ? qn_q8_s2u8_rows_l(ga, ua, lx, K / 16, l) : qn_q8_s2u8_rows(ga, ua, x4, K / 16, l);
            else
                s.xy = xloc ? qn_q8_s2_rows_l(ga, ua, lx, K / 16, l) : qn_q8_s2_rows(ga, ua, x4, K / 16, l);
            rb[(ly * QN_S_RW) * QN_GPU_RED + l] = s.x * qn_ldf_any(G + ws + na * 4);
            rb[(ly * QN_S_RW + 1) * QN_GPU_RED + l] = s.y * qn_ldf_any(U + ws + na * 4);
        } else {
            s = xloc ? qn_q8_s_rows_l(ga, gbr, ua, ub, lx, K / 16, l) : qn_q8_s_rows(ga, gbr, ua, ub, x4, K / 16, l);
            rb[(ly * QN_S_RW) * QN_GPU_RED + l] = s.x * qn_ldf_any(G + ws + na * 4);
            rb[(ly * QN_S_RW + 1) * QN_GPU_RED + l] = s.y * qn_ldf_any(G + ws + nb * 4);
            rb[(ly * QN_S_RW + 2) * QN_GPU_RED + l] = s.z * qn_ldf_any(U + ws + na * 4);
            rb[(ly * QN_S_RW + 3) * QN_GPU_RED + l] = s.w * qn_ldf_any(U + ws + nb * 4);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        const int f = ly * QN_GPU_LX + l; /* output gb + f: warp f / opw's gate row (slot f % opw) and up row (+ opw) */
        if (f < ry * opw) {
            const int o = (f / opw) * QN_S_RW + f % opw;
            const float g = qn_gpu_sum32(rb + o * QN_GPU_RED), u = qn_gpu_sum32(rb + (o + opw) * QN_GPU_RED);
            const long n = gb + f;
            if (n < N) qn_st(y + yo, ydt, (size_t)n, qn_act(g, act, 0.0f) * u);
        }
    }
}

/* q4 as qn_gemv_q4_m1 (x from qn_x_prep, 8 float4s a 32-weight chunk, or with QN_S_XL_SPLIT the raw row, split as
 * it is staged): a warp walks rw = 4 rows (QUANTA_OPENCL_GEMVS_RW=2: 2 rows, twice the warps at about half the
 * registers: clang's PTX put the 4-row form at 145, so one group of 8 warps an SM), U chunks of each loaded before
 * their math (U = QN_S_U for 4 rows, QN_G1_U for 2: 8 loads a lane either way), whole steps apart from the tail (as
 * QN_Q8_WALK_BODY), x from local memory or global as XV says (the choice made once, outside the loop). Each row's
 * chunk: p[r] = fma(s, dot, p[r]) with its group's scale s and zero z, as qn_gemv_q4_m1: the same bits for either rw. */
#define QN_Q4_S_CHUNK(XV, R, C, V)                                                                             \
    {                                                                                                          \
        const float4 e[4] = {XV(V, 0), XV(V, 1), XV(V, 2), XV(V, 3)}, o[4] = {XV(V, 4), XV(V, 5), XV(V, 6), XV(V, 7)}; \
        const long j = (V) >> gsh;                                                                             \
        _Pragma("unroll") for (int r = 0; r < (R); r++) {                                                      \
            const float sc = vload_half((size_t)(nr[r] * ng + j), (const global half *)(W + w.scales_offset)); \
            const float z = (float)((W[w.q4_zeros_offset + nr[r] * w.q4_zero_row_bytes + (j >> 1)] >> ((j & 1) * 4)) & 15u); \
            p[r] = fma(sc, qn_q4_dot32s(C[r], z, e, o), p[r]);                                                 \
        }                                                                                                      \
    }
#define QN_Q4_S_WALK(R, U, XV)                                                                                 \
    long v0 = l;                                                                                               \
    for (; v0 + ((U) - 1) * QN_GPU_LX < nv; v0 += (U) * QN_GPU_LX) {                                           \
        uint4 a[U][R];                                                                                         \
        _Pragma("unroll") for (int u = 0; u < (U); u++)                                                        \
            _Pragma("unroll") for (int r = 0; r < (R); r++) a[u][r] = wr[r][v0 + u * QN_GPU_LX];               \
        _Pragma("unroll") for (int u = 0; u < (U); u++) QN_Q4_S_CHUNK(XV, R, a[u], v0 + u * QN_GPU_LX)         \
    }                                                                                                          \
    for (; v0 < nv; v0 += QN_GPU_LX) { /* the row's tail, a chunk at a time */                                 \
        uint4 c[R];                                                                                            \
        _Pragma("unroll") for (int r = 0; r < (R); r++) c[r] = wr[r][v0];                                      \
        QN_Q4_S_CHUNK(XV, R, c, v0)                                                                            \
    }
#define QN_S_XG4(v, j) x4[(v) * 8 + (j)]
#define QN_S_XL4(v, j) QN_S_LX(v, j, 8)
kernel void qn_gemv_q4_s(const global uchar *Wb, ulong wo, QN_WLAYOUT_ARGS, const global uchar *xb_, ulong xo,
                         global uchar *y, ulong yo, int ydt, int M, long N, long K, int iters, int xl, int rw,
                         local float4 *lm) {
    QN_WLAYOUT_MAKE(w);
    (void)M;
    const int l = (int)get_local_id(0), ly = (int)get_local_id(1), ry = (int)get_local_size(1);
    const global uchar *W = Wb + wo;
    const long rb = w.codes_row_bytes, ng = K / w.group, nv = K / 32;
    const int gsh = 26 - clz(w.group); /* group 32/64/128: chunk >> gsh is its group */
    const global float4 *x4 = (const global float4 *)(xb_ + xo);
    QN_S_LOCAL_SPLIT(lm)
    const int xloc = xl & QN_S_XL_LOCAL;
    if (xloc) qn_s_stage_x(lx, x4, K / 4, 8, xl);
    for (int it = 0; it < iters; it++) {
        const long gb = QN_S_BLOCK(it, rw), n0 = gb + ly * rw;
        if (gb >= N) break; /* uniform over the group */
        long nr[QN_S_RW];
        const global uint4 *wr[QN_S_RW];
        float p[QN_S_RW];
        _Pragma("unroll") for (int r = 0; r < QN_S_RW; r++) {
            nr[r] = min(n0 + r, N - 1);
            wr[r] = (const global uint4 *)(W + nr[r] * rb);
            p[r] = 0.0f;
        }
        if (rw == 2) {
            if (xloc) {
                QN_Q4_S_WALK(2, QN_G1_U, QN_S_XL4)
            } else {
                QN_Q4_S_WALK(2, QN_G1_U, QN_S_XG4)
            }
        } else if (xloc) {
            QN_Q4_S_WALK(4, QN_S_U, QN_S_XL4)
        } else {
            QN_Q4_S_WALK(4, QN_S_U, QN_S_XG4)
        }
        local float *rd = QN_S_RED(it);
        _Pragma("unroll") for (int r = 0; r < QN_S_RW; r++)
            if (r < rw) rd[(ly * QN_S_RW + r) * QN_GPU_RED + l] = p[r] * 1.0f; /* as qn_gemv_q4_m1 */
        barrier(CLK_LOCAL_MEM_FENCE);
        const int f = ly * QN_GPU_LX + l; /* output gb + f: warp f / rw's row f % rw */
        if (f < ry * rw) {
            const long n = gb + f;
            if (n < N) qn_st(y + yo, ydt, (size_t)n, qn_gpu_sum32(rd + ((f / rw) * QN_S_RW + f % rw) * QN_GPU_RED));
        }
    }
}

/* ---- M = 1: q4 through integer dot products (QUANTA_OPENCL_Q4I=1, off by default until measured) ----
 * Why: qn_gemv_q4_s turns every nibble into a float (a mask, a PRMT, an exact subtraction of 2^23 + z, then the
 * FMA with x): ~130 instructions a 16-byte chunk a row, and its rate in GB/s stays below q8's at every shape (H100
 * 02:25: 45-61% of the copy kernel at the same bytes, q8 60-70%), so the decode work, not the bytes, limits it.
 * Here the group quantizes x once into local memory, per 32-column chunk as two int8 planes (ggml's q8_0
 * activations and the remainder in 1/256 steps, as qn_i8_quant_x does for the CPUs: x ≈ d·(256·h + q), d =
 * max|x| / (127·256); one plane alone puts ~0.5% of a dot product's scale on it, gemv_i8.cl), each plane split
 * into the chunk's even and odd columns (the order of the codes' low and high nibbles), plus the chunk's Σ (256·h +
 * q) for the zero point. A chunk of a row is then 8 masks and 16 4-byte dot products (dp4a on NVIDIA, written out
 * elsewhere: exact either way): Σ (c - z)·X = Σ c·X - z·Σ X in int32 (|.| < 2^25), times d and the group scale.
 * The high nibbles stay in place (16c): their sums are multiples of 16, shifted down exactly. Not the float
 * kernels' bits: x is rounded to ~16 bits (relative error ~1.5e-5 of a chunk's max), within the conformance bounds.
 * The walk is qn_gemv_q4_s's (rw rows a warp, U chunks of each loaded before their math) with the row's tail as
 * one step (clamped loads, the chunks past the row dropped by a select). */
#if defined(QN_NV_PTX)
QN_INL int qn_dp4a(uint a, uint b, int c) {
    int d;
    __asm__("dp4a.u32.s32 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c));
    return d;
}
#else
QN_INL int qn_dp4a(uint a, uint b, int c) { /* Σ u8(a_i)·s8(b_i) + c */
    const int s = as_int(b);
    return c + (int)(a & 255u) * ((s << 24) >> 24) + (int)((a >> 8) & 255u) * ((s << 16) >> 24) +
           (int)((a >> 16) & 255u) * ((s << 8) >> 24) + (int)(a >> 24) * (s >> 24);
}
#endif
/* the 4 words' dot products of codes C with x plane X, from acc */
#define QN_DP4A_4(C, X, acc) qn_dp4a((C).w, (X).w, qn_dp4a((C).z, (X).z, qn_dp4a((C).y, (X).y, qn_dp4a((C).x, (X).x, (acc)))))

/* The int stagers' loop over the group's pieces (nb of them, an item each, T items), LOAD(a, i) the piece's float4s
 * into a, PUT(a, i) its quantized planes into local memory. With xb (QN_S_XL_BATCH: QUANTA_OPENCL_GEMVS_XB=1,
 * clgemv19) an item loads QN_I_XB pieces (i, i + T, ..., clamped to the last: valid loads, their stores skipped)
 * before it quantizes any: the plain loop waits one L2 round trip a trip, and at K = 11008 q8's 688 pieces are 3
 * trips for 256 items (q4's 344 chunks: 2), all before the group's first weight load leaves (or beside the one
 * preloaded step). The same values quantized the same way, so the same planes. */
#define QN_I_XB 2
#define QN_I_STAGE_LOOP(NF, nb, xb, LOAD, PUT)                                                                 \
    {                                                                                                          \
        const int T = (int)(get_local_size(0) * get_local_size(1));                                            \
        const long t = (long)get_local_id(1) * QN_GPU_LX + get_local_id(0);                                    \
        if (xb) {                                                                                              \
            for (long i0 = t; i0 < (nb); i0 += QN_I_XB * T) {                                                  \
                float4 ab[QN_I_XB][NF];                                                                        \
                _Pragma("unroll") for (int u = 0; u < QN_I_XB; u++) LOAD(ab[u], min(i0 + u * T, (nb) - 1))     \
                _Pragma("unroll") for (int u = 0; u < QN_I_XB; u++) if (i0 + u * T < (nb)) PUT(ab[u], i0 + u * T) \
            }                                                                                                  \
        } else {                                                                                               \
            for (long i = t; i < (nb); i += T) {                                                               \
                float4 a1[NF];                                                                                 \
                LOAD(a1, i)                                                                                    \
                PUT(a1, i)                                                                                     \
            }                                                                                                  \
        }                                                                                                      \
        barrier(CLK_LOCAL_MEM_FENCE);                                                                          \
    }
/* QN_S_F_X1 (QUANTA_OPENCL_GEMVS_XB=2, clgemv21; the streaming forms only): an item loads all of its pieces of x, up to
 * NMAX (q8 3, q4 2: K <= 12288 / 16384 at 256 items) in a round, before it quantizes any, and nothing between those
 * loads and their stores branches. Why: the plain loop waits one L2 round trip a trip (at K = 11008 q8's 688 pieces
 * are 3 trips for 256 items, q4's 344 chunks 2), all while the group's one preloaded step is the only HBM traffic;
 * QN_I_XB's batch (XB=1) lost 5-10% on the H100 (clgemv19), likely because its stores sit under `if (i < nb)`, so
 * LLVM may sink the loads into those branches (as it did in qn_q8_m1_rows, above) and the trips stay dependent. Here
 * a piece past the end is loaded from the last one (a valid place) and stored into a spare slot (PUTTO's target
 * chosen by a select), the rounds' piece count uniform over the group. The same values quantized the same way as
 * the other stagers: the same planes, the same bits. */
#define QN_I_X1_ROUND(NF, CNT, nb, LOAD, PUTTO)                                                                \
    {                                                                                                          \
        float4 ab[CNT][NF];                                                                                    \
        _Pragma("unroll") for (int u = 0; u < (CNT); u++) LOAD(ab[u], min(b0 + t + u * T, (nb) - 1))          \
        _Pragma("unroll") for (int u = 0; u < (CNT); u++) PUTTO(ab[u], b0 + t + u * T)                         \
    }
#define QN_I_X1_LOOP(NF, NMAX, nb, LOAD, PUTTO)                                                                \
    {                                                                                                          \
        const int T = (int)(get_local_size(0) * get_local_size(1));                                            \
        const long t = (long)get_local_id(1) * QN_GPU_LX + get_local_id(0);                                    \
        for (long b0 = 0; b0 < (nb);) { /* b0: the round's first piece; n pieces an item, the same for all */ \
            const long n = min((long)(NMAX), ((nb) - b0 + T - 1) / T);                                         \
            if ((NMAX) >= 3 && n >= 3) QN_I_X1_ROUND(NF, 3, nb, LOAD, PUTTO) /* not compiled for NMAX 2 */     \
            else if (n == 2) QN_I_X1_ROUND(NF, 2, nb, LOAD, PUTTO)                                             \
            else QN_I_X1_ROUND(NF, 1, nb, LOAD, PUTTO)                                                         \
            b0 += n * T;                                                                                       \
        }                                                                                                      \
        barrier(CLK_LOCAL_MEM_FENCE);                                                                          \
    }
/* qn_i4_put / qn_i4_put_g (chunk i of x into the int8 planes): common.cl, one definition for the GEMVs' stagers,
 * qn_i4_quant_xg and qn_rms_norm_xq (elementwise.cl) */
/* x's nc chunks into xq, xd and xs (qn_i4_put), an item a chunk (xl & QN_S_XL_BATCH: QN_I_XB at once; QN_S_F_X1: all of
 * an item's at once, chunks past the end into the spare slot sp: chunk 0 of planes 1 apart, 4 uint4, a float and an
 * int, 16-byte aligned);
 * returns after the barrier */
#define QN_I4_PUT(a, i) qn_i4_put(xq, xd, xs, nc, (a), (i));
#define QN_I4_PUTTO(a, i)                                                                                      \
    {                                                                                                          \
        const int in_ = (i) < nc;                                                                              \
        qn_i4_put(in_ ? xq : sp, in_ ? xd : (local float *)(sp + 4), in_ ? xs : (local int *)(sp + 4) + 1,     \
                  in_ ? nc : 1, (a), in_ ? (i) : 0);                                                           \
    }
QN_INL void qn_i4_stage_x(local uint4 *xq, local float *xd, local int *xs, local uint4 *sp, const global float4 *x4, long nc,
                          int xl) {
    if (xl & QN_S_F_X1) QN_I_X1_LOOP(8, 2, nc, QN_I_LOAD8, QN_I4_PUTTO)
    else QN_I_STAGE_LOOP(8, nc, xl & QN_S_XL_BATCH, QN_I_LOAD8, QN_I4_PUT)
}
/* x quantized once for all work-groups (QUANTA_OPENCL_GEMVS_XG=1, clgemv23, off until measured): an item a chunk, the
 * planes, scales and sums into global memory at qb + qo in the local layout (4 · nc uint4, nc floats, nc ints), where
 * the XG streaming forms (qn_gemv_q4_isg / _i2sg) read them through L1/L2. Why: each group of the streaming forms
 * quantizes all of x before its first step's math (at K = 11008 344 chunks in 2 trips of L2 round trips, ~60
 * instructions a chunk, then a barrier), while only the one preloaded step is in flight; here that is done once, in
 * a launch before the GEMV on the same in-order queue (no host round trip). The same loads and qn_i4_put's
 * arithmetic (one definition, QN_I4_PUT_DEF): the same planes, the same bits. */
kernel void qn_i4_quant_xg(const global uchar *xb_, ulong xo, global uchar *qb, ulong qo, long nc) {
    const long i = get_global_id(0);
    if (i >= nc) return;
    const global float4 *x4 = (const global float4 *)(xb_ + xo);
    global uint4 *xq = (global uint4 *)(qb + qo);
    global float *xd = (global float *)(xq + 4 * nc);
    float4 a[8];
    QN_I_LOAD8(a, i)
    qn_i4_put_g(xq, xd, (global int *)(xd + nc), nc, a, i);
}

/* row n's scale and zero point of chunk vv (its group vv >> gsh) */
#define QN_I4_SCN(n, vv) vload_half((size_t)((n) * ng + ((vv) >> gsh)), (const global half *)(W + w.scales_offset))
#define QN_I4_ZN(n, vv) ((W[w.q4_zeros_offset + (n) * w.q4_zero_row_bytes + (((vv) >> gsh) >> 1)] >> ((((vv) >> gsh) & 1) * 4)) & 15)
#define QN_I4_SC(r, vv) QN_I4_SCN(nr[r], vv)
#define QN_I4_Z(r, vv) QN_I4_ZN(nr[r], vv)
/* the preloaded step's scales and zeros (PF == 2: csc / cz, read inside QN_IW_SEL_STEP's loop over u; pk_, the W16
 * kernel: cpk, the scale's f16 bits and the zero in one word, widened exactly as vload_half does) */
#define QN_I4_CSC(r, vv) (pk_ ? qn_h2f(cpk[u][r] & 0xffffu) : csc[u][r])
#define QN_I4_CZ(r, vv) (pk_ ? (int)(cpk[u][r] >> 16) : cz[u][r])
/* chunk V of the R rows (codes C[r]), added to p[r] where KEEP; SCF(r, vv) / ZF(r, vv) the row's scale and zero */
#define QN_I4_CHUNK_SZ(R, C, V, KEEP, SCF, ZF)                                                                 \
    {                                                                                                          \
        const long vv = (V);                                                                                   \
        const uint4 he = xq[vv], ho = xq[nv + vv], qe = xq[2 * nv + vv], qo = xq[3 * nv + vv];                 \
        const float d = xd[vv];                                                                                \
        const int sx = xs[vv];                                                                                 \
        _Pragma("unroll") for (int r = 0; r < (R); r++) {                                                      \
            const float sc = SCF(r, vv);                                                                       \
            const int z = ZF(r, vv);                                                                           \
            const uint4 cl = C[r] & (uint4)0x0f0f0f0fu, ch = C[r] & (uint4)0xf0f0f0f0u;                        \
            const int t = (QN_DP4A_4(cl, he, 0) + (QN_DP4A_4(ch, ho, 0) >> 4)) * 256 + QN_DP4A_4(cl, qe, 0) +     \
                          (QN_DP4A_4(ch, qo, 0) >> 4) - z * sx;                                                \
            const float f = fma(sc, (float)t * d, p[r]);                                                       \
            p[r] = (KEEP) ? f : p[r];                                                                          \
        }                                                                                                      \
    }
#define QN_I4_CHUNK(R, C, V, KEEP) QN_I4_CHUNK_SZ(R, C, V, KEEP, QN_I4_SC, QN_I4_Z)
#define QN_I4_CHUNK_PRE(R, C, V, KEEP) QN_I4_CHUNK_SZ(R, C, V, KEEP, QN_I4_CSC, QN_I4_CZ)
/* one step at v0 whose chunks may run past the row: chunk u of row r is LD (a load from a clamped place, or a
 * register loaded before), its sum kept only where v0 + 32u < nv; CH(R, C, V, KEEP) the chunk's math (QN_I4_CHUNK,
 * QN_I8_PIECE) */
#define QN_IW_MATH(CH, R, U, A)                                                                                \
    _Pragma("unroll") for (int u = 0; u < (U); u++) CH(R, A[u], min(v0 + u * QN_GPU_LX, nv - 1), v0 + u * QN_GPU_LX < nv)
#define QN_IW_SEL_STEP(CH, R, U, LD)                                                                           \
    {                                                                                                          \
        uint4 a[U][R];                                                                                         \
        _Pragma("unroll") for (int u = 0; u < (U); u++)                                                        \
            _Pragma("unroll") for (int r = 0; r < (R); r++) a[u][r] = LD;                                      \
        QN_IW_MATH(CH, R, U, a)                                                                                \
    }
/* the first step from registers where PRE (QN_S_F_PF: loaded before x was quantized; PLD its chunk u of row r), the
 * whole steps, the row's tail as one step */
#define QN_IW_WALK(CH, R, U, PRE, PLD)                                                                         \
    long v0 = l;                                                                                               \
    if (PRE) {                                                                                                 \
        QN_IW_SEL_STEP(CH, R, U, PLD)                                                                          \
        v0 += (U) * QN_GPU_LX;                                                                                 \
    }                                                                                                          \
    for (; v0 + ((U) - 1) * QN_GPU_LX < nv; v0 += (U) * QN_GPU_LX) {                                           \
        uint4 a[U][R];                                                                                         \
        _Pragma("unroll") for (int u = 0; u < (U); u++)                                                        \
            _Pragma("unroll") for (int r = 0; r < (R); r++) a[u][r] = wr[r][v0 + u * QN_GPU_LX];               \
        _Pragma("unroll") for (int u = 0; u < (U); u++) CH(R, a[u], v0 + u * QN_GPU_LX, 1)                     \
    }                                                                                                          \
    if (v0 < nv) QN_IW_SEL_STEP(CH, R, U, wr[r][min(v0 + u * QN_GPU_LX, nv - 1)])
/* block IT of the group, rows gb + ly·R ..: the walk (its first step from pre where PRE), the sums stored */
/* block IT's sums p[r] (rows gb + ly·R + r) through the group's partials into y: one barrier */
#define QN_I4_STORE(IT, R)                                                                                     \
    {                                                                                                          \
        local float *rd = QN_S_RED(IT);                                                                        \
        _Pragma("unroll") for (int r = 0; r < (R); r++) rd[(ly * QN_S_RW + r) * QN_GPU_RED + l] = p[r];        \
        barrier(CLK_LOCAL_MEM_FENCE);                                                                          \
        const int f = ly * QN_GPU_LX + l; /* output gb + f: warp f / R's row f % R */                          \
        if (f < ry * (R)) {                                                                                    \
            const long n = gb + f;                                                                             \
            if (n < N) qn_st(y + yo, ydt, (size_t)n, qn_gpu_sum32(rd + ((f / (R)) * QN_S_RW + f % (R)) * QN_GPU_RED)); \
        }                                                                                                      \
    }
#define QN_I4_BLOCK(IT, R, U, PRE, PLD)                                                                        \
    {                                                                                                          \
        const long n0 = gb + ly * (R);                                                                         \
        long nr[R];                                                                                            \
        const global uint4 *wr[R];                                                                             \
        float p[R];                                                                                            \
        _Pragma("unroll") for (int r = 0; r < (R); r++) {                                                      \
            nr[r] = min(n0 + r, N - 1);                                                                        \
            wr[r] = (const global uint4 *)(W + nr[r] * rb);                                                    \
            p[r] = 0.0f;                                                                                       \
        }                                                                                                      \
        QN_IW_WALK(QN_I4_CHUNK, R, U, PRE, PLD)                                                                \
        QN_I4_STORE(IT, R)                                                                                     \
    }
/* PF == 2: the step at V0 (U chunks of each of the R rows, clamped to the row and to the matrix) of the block whose
 * rows start at NB, with the chunks' scales and zeros, into sp / ssc / sz */
#define QN_I4_STEP_LD(NB, V0, R, U)                                                                            \
    {                                                                                                          \
        const long n0_ = (NB) + ly * (R);                                                                      \
        _Pragma("unroll") for (int u = 0; u < (U); u++)                                                        \
            _Pragma("unroll") for (int r = 0; r < (R); r++) {                                                  \
                const long n_ = min(n0_ + r, N - 1), v_ = min((V0) + u * QN_GPU_LX, nv - 1);                   \
                sp[u][r] = ((const global uint4 *)(W + n_ * rb))[v_];                                          \
                if (pk_) {                                                                                     \
                    spk[u][r] = (uint)((const global ushort *)(W + w.scales_offset))[n_ * ng + (v_ >> gsh)] |  \
                                (uint)QN_I4_ZN(n_, v_) << 16;                                                  \
                } else {                                                                                       \
                    ssc[u][r] = QN_I4_SCN(n_, v_);                                                             \
                    sz[u][r] = QN_I4_ZN(n_, v_);                                                               \
                }                                                                                              \
            }                                                                                                  \
    }
/* PF == 2: block IT, rows gb + ly·R ..., its first step in sp / ssc / sz: every step's math runs after the next
 * step's loads are issued (the block's next step, or where NXT the next block's first), so a warp always has one
 * step in flight; the same steps as QN_IW_WALK (U chunks, the row's tail as one select step) with a trip count the
 * same for every lane (a lane past the row loads its last chunk and drops the sums) */
#define QN_I4_PBLOCK(IT, R, U, NXT)                                                                            \
    {                                                                                                          \
        const long n0 = gb + ly * (R), S = (nv + (U) * QN_GPU_LX - 1) / ((U) * QN_GPU_LX);                     \
        float p[R];                                                                                            \
        _Pragma("unroll") for (int r = 0; r < (R); r++) p[r] = 0.0f;                                           \
        (void)n0;                                                                                              \
        for (long k = 0; k < S; k++) {                                                                         \
            const long v0 = l + k * (U) * QN_GPU_LX;                                                           \
            uint4 cur[U][R];                                                                                   \
            float csc[U][R];                                                                                   \
            int cz[U][R];                                                                                      \
            uint cpk[U][R];                                                                                    \
            _Pragma("unroll") for (int u = 0; u < (U); u++)                                                    \
                _Pragma("unroll") for (int r = 0; r < (R); r++) {                                              \
                    cur[u][r] = sp[u][r];                                                                      \
                    if (pk_) cpk[u][r] = spk[u][r];                                                            \
                    else csc[u][r] = ssc[u][r], cz[u][r] = sz[u][r];                                           \
                }                                                                                              \
            if (k + 1 < S) QN_I4_STEP_LD(gb, v0 + (U) * QN_GPU_LX, R, U)                                       \
            else if (NXT) QN_I4_STEP_LD(QN_S_BLOCK((IT) + 1, R), (long)l, R, U)                                \
            QN_IW_MATH(QN_I4_CHUNK_PRE, R, U, cur)                                                             \
        }                                                                                                      \
        QN_I4_STORE(IT, R)                                                                                     \
    }
/* qn_gemv_q4_s's arguments (x the raw f32 row; the host sized lm for the planes, 72 bytes a chunk), R rows a warp
 * (a kernel each: one kernel walking both 2 and 4 rows took 138 registers in clang's PTX for ptxas, each alone 90 /
 * 108), PF (QUANTA_OPENCL_GEMVS_PF=1): the first block's first step (U chunks of each row, clamped to the row) loaded
 * before x is quantized, so the weights' HBM round trip overlaps x's. Block 0 (always in the matrix: the host
 * launches at most one group a block) is then walked before the loop, so pre is dead after it (inside the loop,
 * under `it == 0`, it kept 231 registers live in clang's PTX; peeled without PF, 96 became 128). The later blocks
 * as in qn_gemv_q4_s: a uniform break (a barrier under `if (gb < N)` in its place wrote past y on PoCL).
 * PF == 2 (the streaming forms _is / _i2s, QUANTA_OPENCL_GEMVS_PF=2, clgemv20; QN_I4_PBLOCK): every step, with its
 * scales and zeros, is loaded during the step before (a block's first during the block before's last step, before
 * its math, reduction and barrier), and the host launches few groups (GEMVS_GPC, by default 2 a compute unit) that
 * walk many blocks each. Why: with one
 * group of 8 warps an SM (131-167 registers) a group walked its one block in 1-3 dependent HBM round trips after
 * quantizing x, so at 11008x4096 (344 groups, 2.6 waves) and 4096x11008 (x quantized in 2 trips) each warp had
 * loads in flight for only part of its life: 0.39-0.45 of the copy kernel (H100 09:43) where the same-size copy
 * reaches 0.62. Here x is quantized once a group and a warp's next HBM step is always in flight (at K = 4096 a
 * 2-row block is one step: the loads of block it + 1 run under block it's math and barrier). The same sums in the
 * same order as the other forms (the scales and zeros are the same values, loaded earlier). Registers: two steps
 * (the one in flight, the one in use) where the other forms hold one. */
/* The block walk of the int8 GEMV kernels (q4's QN_I4_KERNEL_A, q8's QN_I8_KERNEL_A): PF == 1 the first block from the
 * preloaded step, PF == 2 every block streamed (BLOCK / PBLOCK: the format's block macros, which read gb, it, pre) */
#define QN_S_WALK(BLOCK, PBLOCK, R, U, PF)                                                                     \
    if (PF == 1) {                                                                                             \
        const long gb = QN_S_BLOCK(0, R);                                                                      \
        BLOCK(0, R, U, 1, pre[u * (R) + r])                                                                    \
    }                                                                                                          \
    if (PF == 2) {                                                                                             \
        for (int it = 0; it < iters; it++) {                                                                   \
            const long gb = QN_S_BLOCK(it, R);                                                                 \
            if (gb >= N) break; /* uniform over the group */                                                   \
            const int nxt = it + 1 < iters && QN_S_BLOCK(it + 1, R) < N;                                       \
            PBLOCK(it, R, U, nxt)                                                                              \
        }                                                                                                      \
    } else {                                                                                                   \
        for (int it = (PF) ? 1 : 0; it < iters; it++) {                                                        \
            const long gb = QN_S_BLOCK(it, R);                                                                 \
            if (gb >= N) break; /* uniform over the group */                                                   \
            BLOCK(it, R, U, 0, pre[u * (R) + r])                                                               \
        }                                                                                                      \
    }

/* The q4 streaming kernels' common start (QN_I4_KERNEL_A and the lean QN_I4L_KERNEL): the weight layout, this
 * item's place, and the local x codes / scales / sums carved from lm */
#define QN_I4_PROLOGUE QN_I4_PROLOGUE_X(QN_I4_X_LOCAL)
#define QN_I4_PROLOGUE_X(XDECL)                                                                                \
        QN_WLAYOUT_MAKE(w);                                                                                    \
        (void)M, (void)rw;                                                                                     \
        const int l = (int)get_local_id(0), ly = (int)get_local_id(1), ry = (int)get_local_size(1);            \
        const global uchar *W = Wb + wo;                                                                       \
        const long rb = w.codes_row_bytes, ng = K / w.group, nv = K / 32;                                      \
        const int gsh = 26 - clz(w.group); /* group 32/64/128: chunk >> gsh is its group */                    \
        QN_S_LOCAL_SPLIT(lm)                                                                                   \
        XDECL
/* x's planes (4 · nv uint4), scales (nv floats) and sums (nv ints): in the group's local memory (staged by the kernel),
 * or (QN_I4_X_GLOBAL, QUANTA_OPENCL_GEMVS_XG=1) where qn_i4_quant_xg left them, at xb_ + xo */
#define QN_I4_X_LOCAL                                                                                          \
        local uint4 *xq = (local uint4 *)lx;                                                                   \
        local float *xd = (local float *)(xq + 4 * nv);                                                        \
        local int *xs = (local int *)(xd + nv);
#define QN_I4_X_GLOBAL                                                                                         \
        const global uint4 *xq = (const global uint4 *)(xb_ + xo);                                             \
        const global float *xd = (const global float *)(xq + 4 * nv);                                          \
        const global int *xs = (const global int *)(xd + nv);                                                  \
        (void)lx;

/* ATTR: QN_NO_ATTR, or QN_W16_ATTR (the 16-warp forms, below) */
#define QN_NO_ATTR
#define QN_I4_KERNEL(NAME, R, U, PF) QN_I4_KERNEL_A(NAME, R, U, PF, QN_NO_ATTR, 0, 0)
/* PK (PF == 2; the W16 kernel): the steps' scales and zeros packed a word each (spk / cpk): 16 registers fewer at R = 2,
 * U = 4, where the 128-register bound made clang's PTX spill (644 bytes an item unpacked, 492 packed); the same values */
/* XG (QUANTA_OPENCL_GEMVS_XG=1, clgemv23): x's planes read from global memory at xb_ + xo, where qn_i4_quant_xg put them
 * (one launch before, for all groups), not staged here: no prologue before the walk, no barrier */
#define QN_I4_KERNEL_A(NAME, R, U, PF, ATTR, PK, XG)                                                           \
    kernel ATTR void NAME(const global uchar *Wb, ulong wo, QN_WLAYOUT_ARGS, const global uchar *xb_, ulong xo,     \
                     global uchar *y, ulong yo, int ydt, int M, long N, long K, int iters, int xl, int rw,     \
                     local float4 *lm) {                                                                       \
        QN_I4_PROLOGUE_X(QN_I4_X_SRC_##XG)                                                                     \
        uint4 pre[(U) * (R)]; /* unused without PF */                                                          \
        uint4 sp[U][R];       /* PF == 2: the next step, with its scales and zeros */                          \
        float ssc[U][R];                                                                                       \
        int sz[U][R];                                                                                          \
        uint spk[U][R];                                                                                        \
        const int pk_ = (PK);                                                                                  \
        if (PF == 1) {                                                                                         \
            const long n0 = QN_S_BLOCK(0, R) + ly * (R);                                                       \
            _Pragma("unroll") for (int u = 0; u < (U); u++)                                                    \
                _Pragma("unroll") for (int r = 0; r < (R); r++)                                                \
                    pre[u * (R) + r] = ((const global uint4 *)(W + min(n0 + r, N - 1) * rb))[min((long)l + u * QN_GPU_LX, nv - 1)]; \
        }                                                                                                      \
        if (PF == 2) QN_I4_STEP_LD(QN_S_BLOCK(0, R), (long)l, R, U)                                            \
        /* the spare slot of QN_S_F_X1's stager: the partials' buffer, first written after the stager's barrier */  \
        QN_I4_STAGE_##XG(PF)                                                                                   \
        QN_S_WALK(QN_I4_BLOCK, QN_I4_PBLOCK, R, U, PF)                                                         \
    }
#define QN_I4_X_SRC_0 QN_I4_X_LOCAL
#define QN_I4_X_SRC_1 QN_I4_X_GLOBAL
#define QN_I4_STAGE_0(PF)                                                                                      \
    qn_i4_stage_x(xq, xd, xs, (local uint4 *)red, (const global float4 *)(xb_ + xo), nv,                       \
                  (PF) == 2 ? xl : xl & ~QN_S_F_X1);
#define QN_I4_STAGE_1(PF) (void)xl;
QN_I4_KERNEL(qn_gemv_q4_i, 4, QN_S_U, 0)
QN_I4_KERNEL(qn_gemv_q4_i2, 2, QN_G1_U, 0)
QN_I4_KERNEL(qn_gemv_q4_ip, 4, QN_S_U, 1)
QN_I4_KERNEL(qn_gemv_q4_i2p, 2, QN_G1_U, 1)
QN_I4_KERNEL(qn_gemv_q4_is, 4, QN_S_U, 2)
QN_I4_KERNEL(qn_gemv_q4_i2s, 2, QN_G1_U, 2)
/* the streaming forms with x quantized once for all groups (QUANTA_OPENCL_GEMVS_XG=1, clgemv23, off until measured) */
QN_I4_KERNEL_A(qn_gemv_q4_isg, 4, QN_S_U, 2, QN_NO_ATTR, 0, 1)
QN_I4_KERNEL_A(qn_gemv_q4_i2sg, 2, QN_G1_U, 2, QN_NO_ATTR, 0, 1)
/* One row a warp, the whole row a lane's one step (QUANTA_OPENCL_GEMVS_R1=1, clgemv23, off until measured; the host takes
 * it at 8192 < K <= 11264 only: 257-352 chunks, U = 11 of them a lane). Why: at K = 11008 the 2-row form's block is 3
 * steps of 4 chunks a lane (4, 4, 2.75: the third part-empty) and a group walks ~2 blocks, 6 dependent HBM round trips
 * of 32 KB an SM each; here a warp's row is one step of 11 chunks (45 KB an SM in flight), the next row's loaded during
 * this one's math, 4096 rows over 132 groups of 8 warps ~3.9 rows a warp: 4 round trips. A lane's chunks are the same
 * (l, l + 32, ...) in the same order as at U = 4, the sums through the same partials: the same bits. */
QN_I4_KERNEL(qn_gemv_q4_r1s, 1, 11, 2)
QN_I4_KERNEL_A(qn_gemv_q4_r1sg, 1, 11, 2, QN_NO_ATTR, 0, 1)
/* The streaming forms in groups of 16 warps (QUANTA_OPENCL_GEMVS_W16=1, clgemv21, off until measured: q4 _i2s16, q8
 * _i2s16, 2 rows a warp, U = 4; the host launches exactly (32, 16)). Why: the 8-warp streaming forms take ~240
 * registers (ptxas, NVIDIA's and clang's), so an H100 SM holds one group: 8 warps with one step each in flight (q4:
 * 32 KB an SM, about half of what HBM's latency asks at full rate; its rows stream at ~1.9 TB/s where q8's, at 64 KB
 * an SM, reach ~2.6). The required size of 512 items lets the compiler use at most 128 registers an item (65536 / 512 on
 * NVIDIA: ptxas reads reqd_work_group_size as .reqntid), i.e. 16 warps an SM with their steps in flight, and x is
 * quantized by 512 items (688 q8 pieces at K = 11008: 2 trips, not 3). Portable: a device whose limit is below 512
 * items never gets these kernels (the host checks CL_KERNEL_WORK_GROUP_SIZE). The same sums in the same order as the
 * other forms (QN_I4_PBLOCK / QN_I8_PBLOCK). clang's PTX under 128 registers: q8 no spill, q4 ~640 bytes spilled
 * (what NVIDIA's compiler does is in the device run's ptxas lines). */
#define QN_W16_ATTR __attribute__((reqd_work_group_size(32, 16, 1)))
QN_I4_KERNEL_A(qn_gemv_q4_i2s16, 2, QN_G1_U, 2, QN_W16_ATTR, 1, 0)
/* The register-lean streaming q4 forms (QUANTA_OPENCL_GEMVS_Q4L=1, clgemv22, off until measured: q4 _il at 4 rows a warp,
 * U = 2, and _i2l at 2 rows, U = 4, as _is / _i2s). Why: _is / _i2s hold ~243 registers (NVIDIA's ptxas and clang's),
 * one group of 8 warps an SM, 32 KB of weight steps in flight an SM where q8's 128-register _ip holds two groups and
 * 64 KB (q4 0.45-0.48 of the copy kernel at the 11008 shapes, q8 _ip 0.75). Their walk keeps two whole steps live
 * (the one in flight, sp / ssc / sz, and the one in use, cur / csc / cz: 2 x U x R x (4 + 2) registers) and loads the
 * next step in one of two branches. Here (QN_I4_LBLOCK) chunk u's next-step loads are issued just before chunk u's
 * math, into the slot that math frees (a ring: one step live plus R chunks in transit), each chunk's scale and zero
 * are one word (the f16 bits and the nibble, widened exactly as vload_half does: the PK path of _i2s16), and the next
 * step's place is chosen by selects, one load site (at the group's last step a reload of the step in use: a valid
 * place, its lines cached). The same chunks, sums and order as _is / _i2s: the same bits. Whether NVIDIA's compiler
 * keeps that order with 255 registers allowed, or hoists the loads again, is what the device run's ptxas lines say;
 * under QUANTA_OPENCL_NV_MAXRREG=128 (where _is / _i2s spilled and lost 20-40%) this walk should fit unspilled. */
#define QN_I4_LSC(r, vv) qn_h2f(ck[r] & 0xffffu)
#define QN_I4_LZ(r, vv) ((int)(ck[r] >> 16))
/* chunk V's codes and packed scale / zero of row r of the block whose rows start at NB, into sp[u][r] / spk[u][r] */
#define QN_I4_L_LD(NB, V, u, r, R)                                                                             \
    {                                                                                                          \
        const uint n_ = (uint)min((NB) + ly * (R) + (r), N - 1), v_ = (uint)min((long)(V), nv - 1);            \
        const uint g_ = v_ >> gsh;                                                                             \
        sp[u][r] = *(const global uint4 *)(W + (n_ * rb32 + v_ * 16u));                                        \
        spk[u][r] = (uint)*(const global ushort *)(W + (so32 + 2u * (n_ * ng32 + g_))) |                       \
                    (uint)((W[zo32 + n_ * zb32 + (g_ >> 1)] >> ((g_ & 1u) * 4u)) & 15u) << 16;                 \
    }
#define QN_I4_LBLOCK(IT, R, U, NXT)                                                                            \
    {                                                                                                          \
        const long S = (nv + (U) * QN_GPU_LX - 1) / ((U) * QN_GPU_LX), nb_ = QN_S_BLOCK((IT) + 1, R);          \
        float p[R];                                                                                            \
        _Pragma("unroll") for (int r = 0; r < (R); r++) p[r] = 0.0f;                                           \
        for (long k = 0; k < S; k++) {                                                                         \
            const long v0 = l + k * (U) * QN_GPU_LX;                                                           \
            const int more_ = k + 1 < S;                                                                       \
            const long gn_ = more_ || !(NXT) ? gb : nb_, vn_ = more_ ? v0 + (U) * QN_GPU_LX : (NXT) ? (long)l : v0; \
            _Pragma("unroll") for (int u = 0; u < (U); u++) {                                                  \
                uint4 cc[R];                                                                                   \
                uint ck[R];                                                                                    \
                _Pragma("unroll") for (int r = 0; r < (R); r++) {                                              \
                    cc[r] = sp[u][r], ck[r] = spk[u][r];                                                       \
                    QN_I4_L_LD(gn_, vn_ + u * QN_GPU_LX, u, r, R)                                              \
                }                                                                                              \
                QN_I4_CHUNK_SZ(R, cc, min(v0 + u * QN_GPU_LX, nv - 1), v0 + u * QN_GPU_LX < nv, QN_I4_LSC, QN_I4_LZ) \
            }                                                                                                  \
        }                                                                                                      \
        QN_I4_STORE(IT, R)                                                                                     \
    }
#define QN_NO_BLOCK(IT, R, U, PRE, PLD) (void)gb; /* the lean kernels walk by QN_S_WALK's PF == 2 branch only */
#define QN_I4L_KERNEL(NAME, R, U)                                                                              \
    kernel void NAME(const global uchar *Wb, ulong wo, QN_WLAYOUT_ARGS, const global uchar *xb_, ulong xo,      \
                     global uchar *y, ulong yo, int ydt, int M, long N, long K, int iters, int xl, int rw,     \
                     local float4 *lm) {                                                                       \
        QN_I4_PROLOGUE                                                                                         \
        /* 32-bit byte offsets into the weight (the host takes this form only below 4 GiB): half the registers \
         * of 64-bit addresses for each row's codes, scales and zeros */                                        \
        const uint rb32 = (uint)rb, ng32 = (uint)ng, so32 = (uint)w.scales_offset, zo32 = (uint)w.q4_zeros_offset, \
                   zb32 = (uint)w.q4_zero_row_bytes;                                                           \
        uint4 sp[U][R]; /* the step in flight, a chunk's slot refilled as its math begins */                   \
        uint spk[U][R];                                                                                        \
        _Pragma("unroll") for (int u = 0; u < (U); u++)                                                        \
            _Pragma("unroll") for (int r = 0; r < (R); r++) QN_I4_L_LD(QN_S_BLOCK(0, R), l + u * QN_GPU_LX, u, r, R) \
        { /* x staged the plain way, an item a chunk (XB=1 / XB=2 lost on q4: clgemv19, clgemv21; compiled out) */ \
            const long nc = nv;                                                                                \
            const global float4 *x4 = (const global float4 *)(xb_ + xo);                                       \
            QN_I_STAGE_LOOP(8, nc, 0, QN_I_LOAD8, QN_I4_PUT)                                                   \
        }                                                                                                      \
        (void)xl;                                                                                              \
        QN_S_WALK(QN_NO_BLOCK, QN_I4_LBLOCK, R, U, 2)                                                          \
    }
QN_I4L_KERNEL(qn_gemv_q4_il, 4, QN_S_U)
QN_I4L_KERNEL(qn_gemv_q4_i2l, 2, QN_G1_U)
/* and one row a warp, the whole row one step (QUANTA_OPENCL_GEMVS_R1=2, clgemv23: _r1s's geometry in the lean ring walk,
 * one step live, not two: if _r1s's 2 x 11 chunks of codes, scales and zeros spill or hold one group an SM) */
QN_I4L_KERNEL(qn_gemv_q4_r1l, 1, 11)

/* ---- M = 1: q8 through integer dot products (QUANTA_OPENCL_Q8I=1, off by default until measured) ----
 * Why: the float q8 GEMVs spend ~3-5 instructions a weight byte (a PRMT or shift/mask/OR, an exact subtraction,
 * an FMA) and reach 60-70% of the copy kernel at the same bytes at the 7B shapes (H100 02:25). Here, as
 * qn_gemv_q4_i, the group quantizes x once into local memory, per 16-column piece (one weight piece) as two int8
 * planes (x ≈ d·(256·h + q), d = max|x| / (127·256)), and a piece of a row is 8 signed 4-byte dot products: Σ c·X
 * in int32 (|.| < 2^27; its conversion to float rounds above 2^24: relative 6e-8), times d, summed as floats a
 * piece at a time, times the row scale at the end (as qn_gemv_q8_s). Not the float kernels' bits (x rounded to ~16
 * bits). matmul and matmul_multi (stacked weights), qn_gemv_q8_s's arguments (the residual ones unused). */
#if defined(QN_NV_PTX)
QN_INL int qn_dp4a_ss(uint a, uint b, int c) {
    int d;
    __asm__("dp4a.s32.s32 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c));
    return d;
}
#else
QN_INL int qn_dp4a_ss(uint a, uint b, int c) { /* Σ s8(a_i)·s8(b_i) + c */
    const int w = as_int(a), s = as_int(b);
    return c + ((w << 24) >> 24) * ((s << 24) >> 24) + ((w << 16) >> 24) * ((s << 16) >> 24) +
           ((w << 8) >> 24) * ((s << 8) >> 24) + (w >> 24) * (s >> 24);
}
#endif
#define QN_DP4A_SS_4(C, X, acc) qn_dp4a_ss((C).w, (X).w, qn_dp4a_ss((C).z, (X).z, qn_dp4a_ss((C).y, (X).y, qn_dp4a_ss((C).x, (X).x, (acc)))))

/* qn_i8_put / qn_i8_put_g (piece i of x into the int8 planes): common.cl, one definition (as qn_i4_put) */
/* x's np pieces into xq and xd (qn_i8_put), an item a piece (xl & QN_S_XL_BATCH: QN_I_XB at once; QN_S_F_X1: all of an
 * item's at once, pieces past the end into the spare slot sp: piece 0 of planes 1 apart, 2 uint4 and a float); returns
 * after the barrier */
#define QN_I8_PUT(a, i) qn_i8_put(xq, xd, np, (a), (i));
#define QN_I8_PUTTO(a, i)                                                                                      \
    {                                                                                                          \
        const int in_ = (i) < np;                                                                              \
        qn_i8_put(in_ ? xq : sp, in_ ? xd : (local float *)(sp + 2), in_ ? np : 1, (a), in_ ? (i) : 0);       \
    }
QN_INL void qn_i8_stage_x16(local uint4 *xq, local float *xd, local uint4 *sp, const global float4 *x4, long np, int xl) {
    if (xl & QN_S_F_X1) QN_I_X1_LOOP(4, 3, np, QN_I_LOAD4, QN_I8_PUTTO)
    else QN_I_STAGE_LOOP(4, np, xl & QN_S_XL_BATCH, QN_I_LOAD4, QN_I8_PUT)
}
/* q8's x quantized once for all work-groups (QUANTA_OPENCL_GEMVS_XG=1, clgemv23; qn_i4_quant_xg's reason): an item a
 * 16-column piece, 2 · np uint4 and np floats at qb + qo (the local layout), qn_i8_put's arithmetic: the same bits */
kernel void qn_i8_quant_xg(const global uchar *xb_, ulong xo, global uchar *qb, ulong qo, long np) {
    const long i = get_global_id(0);
    if (i >= np) return;
    const global float4 *x4 = (const global float4 *)(xb_ + xo);
    global uint4 *xq = (global uint4 *)(qb + qo);
    float4 a[4];
    QN_I_LOAD4(a, i)
    qn_i8_put_g(xq, (global float *)(xq + 2 * np), np, a, i);
}
/* piece V of the R rows (codes C[r]), added to p[r] where KEEP */
#define QN_I8_PIECE(R, C, V, KEEP)                                                                             \
    {                                                                                                          \
        const long vv = (V);                                                                                   \
        const uint4 hx = xq[vv], qx = xq[nv + vv];                                                             \
        const float d = xd[vv];                                                                                \
        _Pragma("unroll") for (int r = 0; r < (R); r++) {                                                      \
            const int t = QN_DP4A_SS_4(C[r], hx, 0) * 256 + QN_DP4A_SS_4(C[r], qx, 0);                         \
            const float f = fma((float)t, d, p[r]);                                                            \
            p[r] = (KEEP) ? f : p[r];                                                                          \
        }                                                                                                      \
    }
/* block IT of the group, rows gb + ly·R ..: the walk (its first step from pre where PRE), the sums times the row
 * scales stored */
/* block IT's sums p[r] times the row scales sc[r] (rows gb + ly·R + r) through the group's partials into the
 * stacked outputs: one barrier */
#define QN_I8_STORE(IT, R)                                                                                     \
    {                                                                                                          \
        local float *rd = QN_S_RED(IT);                                                                        \
        _Pragma("unroll") for (int r = 0; r < (R); r++) rd[(ly * QN_S_RW + r) * QN_GPU_RED + l] = p[r] * sc[r]; \
        barrier(CLK_LOCAL_MEM_FENCE);                                                                          \
        const int f = ly * QN_GPU_LX + l; /* output gb + f: warp f / R's row f % R */                          \
        if (f < ry * (R)) {                                                                                    \
            const long n = gb + f;                                                                             \
            if (n < N) {                                                                                       \
                long rr;                                                                                       \
                const int i = qn_stack_row(n, N0, N1, &rr);                                                    \
                qn_st(i == 0 ? y0 + yo0 : i == 1 ? y1 + yo1 : y2 + yo2, ydt, (size_t)rr,                       \
                      qn_gpu_sum32(rd + ((f / (R)) * QN_S_RW + f % (R)) * QN_GPU_RED));                        \
            }                                                                                                  \
        }                                                                                                      \
    }
#define QN_I8_BLOCK(IT, R, U, PRE, PLD)                                                                        \
    {                                                                                                          \
        const long n0 = gb + ly * (R);                                                                         \
        float sc[R], p[R];                                                                                     \
        const global uint4 *wr[R];                                                                             \
        _Pragma("unroll") for (int r = 0; r < (R); r++) {                                                      \
            wr[r] = qn_q8_m1_row(min(n0 + r, N - 1), W0 + wo0, ws0, W1 + wo1, ws1, W2 + wo2, ws2, N0, N1, K, &sc[r]); \
            p[r] = 0.0f;                                                                                       \
        }                                                                                                      \
        QN_IW_WALK(QN_I8_PIECE, R, U, PRE, PLD)                                                                \
        QN_I8_STORE(IT, R)                                                                                     \
    }
/* PF == 2: the step at V0 (U pieces of each of the R rows, clamped to the row and to the matrix) of the block whose
 * rows start at NB into sp */
#define QN_I8_STEP_LD(NB, V0, R, U) QN_I8_STEP_LDTO(sp, NB, V0, R, U)
#define QN_I8_STEP_LDTO(DST, NB, V0, R, U)                                                                     \
    {                                                                                                          \
        const long n0_ = (NB) + ly * (R);                                                                      \
        _Pragma("unroll") for (int r = 0; r < (R); r++) {                                                      \
            float unused;                                                                                      \
            const global uint4 *pr = qn_q8_m1_row(min(n0_ + r, N - 1), W0 + wo0, ws0, W1 + wo1, ws1, W2 + wo2, ws2, \
                                                  N0, N1, K, &unused);                                         \
            _Pragma("unroll") for (int u = 0; u < (U); u++) DST[u][r] = pr[min((V0) + u * QN_GPU_LX, nv - 1)]; \
        }                                                                                                      \
    }
/* a q8 streaming block's start: its first row n0, its step count S, each row's scale sc and zeroed sums p */
#define QN_I8_BLOCK_HEAD(R, U)                                                                                 \
        const long n0 = gb + ly * (R), S = (nv + (U) * QN_GPU_LX - 1) / ((U) * QN_GPU_LX);                     \
        float sc[R], p[R];                                                                                     \
        _Pragma("unroll") for (int r = 0; r < (R); r++) {                                                      \
            qn_q8_m1_row(min(n0 + r, N - 1), W0 + wo0, ws0, W1 + wo1, ws1, W2 + wo2, ws2, N0, N1, K, &sc[r]);  \
            p[r] = 0.0f;                                                                                       \
        }
/* PF == 2: block IT, its first step in sp, as QN_I4_PBLOCK (each step's math after the next step's loads) */
#define QN_I8_PBLOCK(IT, R, U, NXT)                                                                            \
    {                                                                                                          \
        QN_I8_BLOCK_HEAD(R, U)                                                                                 \
        for (long k = 0; k < S; k++) {                                                                         \
            const long v0 = l + k * (U) * QN_GPU_LX;                                                           \
            uint4 cur[U][R];                                                                                   \
            _Pragma("unroll") for (int u = 0; u < (U); u++)                                                    \
                _Pragma("unroll") for (int r = 0; r < (R); r++) cur[u][r] = sp[u][r];                          \
            if (k + 1 < S) QN_I8_STEP_LD(gb, v0 + (U) * QN_GPU_LX, R, U)                                       \
            else if (NXT) QN_I8_STEP_LD(QN_S_BLOCK((IT) + 1, R), (long)l, R, U)                                \
            QN_IW_MATH(QN_I8_PIECE, R, U, cur)                                                                 \
        }                                                                                                      \
        QN_I8_STORE(IT, R)                                                                                     \
    }
/* R rows a warp, U pieces of each in flight a lane: qn_gemv_q8_i (4, 2), _i2 (2, 4), _i2u (2, 8: QUANTA_OPENCL_GEMVS_U=8);
 * PF (_i2up: QUANTA_OPENCL_GEMVS_PF=1 with U=8, _ip: PF=1 at 4 rows; clgemv19): the first block's first step (U
 * pieces of each row, 16 or 8 uint4 a lane, clamped to the row) loaded before x is quantized, as qn_gemv_q4_i2p does. Why: at K = 11008 the
 * group quantizes 688 pieces with 256 items, 3 dependent trips of L2 loads and ~60 instructions each, before any
 * weight load is issued, and a warp's whole walk there is 3 steps (2 rows x 11008 bytes, 4 KB a row a step), so that
 * wait is a large part of each warp's time (H100 06:40: _i2u 0.61 of the copy kernel at 4096x11008, _i 0.69 at
 * 11008x4096 where K = 4096 is one trip). Block 0 is walked before the loop, so pre is dead after it (qn_gemv_q4_i's
 * reason). The same sums in the same order as _i2u / _i.
 * PF == 2 (_is: 4 rows, _i2us: 2 rows with U = 8; QUANTA_OPENCL_GEMVS_PF=2, clgemv20; QN_I8_PBLOCK): qn_gemv_q4_i's
 * streaming form, every step loaded during the step before, few groups walking many blocks (x quantized once a
 * group). The same sums in the same order. */
/* The q8 streaming kernels' signature and common start (QN_I8_KERNEL_A and the lean QN_I8L_KERNEL): up to three
 * weights and outputs, this item's place, the local x codes and scales carved from lm; the body follows the brace */
#define QN_I8_HEAD(NAME, ATTR) QN_I8_HEAD_X(NAME, ATTR, QN_I8_X_LOCAL)
/* x's planes (2 · nv uint4) and scales (nv floats): local (staged by the kernel) or, QN_I8_X_GLOBAL
 * (QUANTA_OPENCL_GEMVS_XG=1), where qn_i8_quant_xg left them at xb_ + xo */
#define QN_I8_X_LOCAL                                                                                          \
        local uint4 *xq = (local uint4 *)lx;                                                                   \
        local float *xd = (local float *)(xq + 2 * nv);
#define QN_I8_X_GLOBAL                                                                                         \
        const global uint4 *xq = (const global uint4 *)(xb_ + xo);                                             \
        const global float *xd = (const global float *)(xq + 2 * nv);                                          \
        (void)lx;
#define QN_I8_HEAD_X(NAME, ATTR, XDECL)                                                                        \
    kernel ATTR void NAME(const global uchar *W0, ulong wo0, long ws0, const global uchar *W1, ulong wo1, long ws1, \
                     const global uchar *W2, ulong wo2, long ws2, const global uchar *xb_, ulong xo,           \
                     global uchar *y0, ulong yo0, global uchar *y1, ulong yo1, global uchar *y2, ulong yo2,    \
                     int ydt, long N0, long N1, long N2, long K, int iters, int xl, int rw,                    \
                     const global uchar *rres, ulong ro, global uchar *sres, ulong so, int rmode,              \
                     local float4 *lm) {                                                                       \
        (void)rw, (void)rres, (void)ro, (void)sres, (void)so, (void)rmode;                                     \
        const int l = (int)get_local_id(0), ly = (int)get_local_id(1), ry = (int)get_local_size(1);            \
        const long N = N0 + N1 + N2, nv = K / 16;                                                              \
        QN_S_LOCAL_SPLIT(lm)                                                                                   \
        XDECL
#define QN_I8_KERNEL(NAME, R, U, PF) QN_I8_KERNEL_A(NAME, R, U, PF, QN_NO_ATTR, 0)
/* XG: as QN_I4_KERNEL_A's (x's planes from global memory, no staging, no prologue barrier) */
#define QN_I8_KERNEL_A(NAME, R, U, PF, ATTR, XG)                                                               \
    QN_I8_HEAD_X(NAME, ATTR, QN_I8_X_SRC_##XG)                                                                 \
        uint4 pre[(U) * (R)]; /* unused without PF */                                                          \
        uint4 sp[U][R];       /* PF == 2: the next step */                                                     \
        if (PF == 1) {                                                                                         \
            const long n0 = QN_S_BLOCK(0, R) + ly * (R);                                                       \
            _Pragma("unroll") for (int r = 0; r < (R); r++) {                                                  \
                float unused;                                                                                  \
                const global uint4 *pr = qn_q8_m1_row(min(n0 + r, N - 1), W0 + wo0, ws0, W1 + wo1, ws1, W2 + wo2, ws2, \
                                                      N0, N1, K, &unused);                                     \
                _Pragma("unroll") for (int u = 0; u < (U); u++) pre[u * (R) + r] = pr[min((long)l + u * QN_GPU_LX, nv - 1)]; \
            }                                                                                                  \
        }                                                                                                      \
        if (PF == 2) QN_I8_STEP_LD(QN_S_BLOCK(0, R), (long)l, R, U)                                            \
        /* the spare slot of QN_S_F_X1's stager: the partials' buffer, first written after the stager's barrier */  \
        QN_I8_STAGE_##XG(PF)                                                                                   \
        QN_S_WALK(QN_I8_BLOCK, QN_I8_PBLOCK, R, U, PF)                                                         \
    }
#define QN_I8_X_SRC_0 QN_I8_X_LOCAL
#define QN_I8_X_SRC_1 QN_I8_X_GLOBAL
#define QN_I8_STAGE_0(PF)                                                                                      \
    qn_i8_stage_x16(xq, xd, (local uint4 *)red, (const global float4 *)(xb_ + xo), nv,                         \
                    (PF) == 2 ? xl : xl & ~QN_S_F_X1);
#define QN_I8_STAGE_1(PF) (void)xl;
QN_I8_KERNEL(qn_gemv_q8_i, 4, QN_S_U, 0)
QN_I8_KERNEL(qn_gemv_q8_i2, 2, QN_G1_U, 0)
QN_I8_KERNEL(qn_gemv_q8_i2u, 2, 8, 0)
QN_I8_KERNEL(qn_gemv_q8_i2up, 2, 8, 1)
QN_I8_KERNEL(qn_gemv_q8_ip, 4, QN_S_U, 1)
QN_I8_KERNEL(qn_gemv_q8_is, 4, QN_S_U, 2)
QN_I8_KERNEL(qn_gemv_q8_i2us, 2, 8, 2)
/* with x quantized once for all groups (QUANTA_OPENCL_GEMVS_XG=1, clgemv23, off until measured): the streaming 2-row U=8
 * form (4096x11008's) and the 4-row form with the preloaded step (11008x4096's, 32000x4096's) */
QN_I8_KERNEL_A(qn_gemv_q8_i2usg, 2, 8, 2, QN_NO_ATTR, 1)
QN_I8_KERNEL_A(qn_gemv_q8_ipg, 4, QN_S_U, 1, QN_NO_ATTR, 1)
/* q8 one row a warp, the whole row one step (QUANTA_OPENCL_GEMVS_R1=1, clgemv23, off; 8192 < K <= 11264: U = 22 pieces a
 * lane): 4096x11008's _i2us walks 3 steps of 8 pieces a lane a block (8, 8, 5.5) on ~2 blocks a group, 6 round trips of
 * 64 KB an SM; here one step of 22 (90 KB an SM in flight) a row, ~3.9 rows a warp: 4 round trips. The same pieces in
 * the same order a lane as U = 8: the same bits. */
QN_I8_KERNEL(qn_gemv_q8_r1s, 1, 22, 2)
QN_I8_KERNEL_A(qn_gemv_q8_r1sg, 1, 22, 2, QN_NO_ATTR, 1)
QN_I8_KERNEL_A(qn_gemv_q8_i2s16, 2, QN_G1_U, 2, QN_W16_ATTR, 0) /* QUANTA_OPENCL_GEMVS_W16=1, see qn_gemv_q4_i2s16 */
/* The streaming q8 form with two steps in flight before x is quantized (QUANTA_OPENCL_GEMVS_P2=1, clgemv23, off until
 * measured: _i2us2, _i2us's geometry). Why: H100 22:08 (verify_clgemv23, x quantized by a launch of its own, XG): _i2us
 * without its prologue ran 22.0-23.2 us against 23.7-24.2 with it at 4096x11008, i.e. the group's x quantization costs
 * ~1 us although the first step's loads are issued before it: the second step's loads leave only after it (in
 * QN_I8_PBLOCK the next step is issued as a step's math begins), so the whole chain of round trips starts ~1 us late.
 * Here block 0's first step (p0) and its second (or block 1's first, sp) are both issued before x is quantized; block
 * 0 is walked before the loop from p0, then from sp as QN_I8_PBLOCK does. Two steps live is what the loop holds anyway
 * (cur and sp). The same steps, sums and order: the same bits. */
#define QN_I8_P2BLOCK0(R, U, NXT)                                                                              \
    {                                                                                                          \
        QN_I8_BLOCK_HEAD(R, U)                                                                                 \
        {                                                                                                      \
            const long v0 = l;                                                                                 \
            QN_IW_MATH(QN_I8_PIECE, R, U, p0)                                                                  \
        }                                                                                                      \
        for (long k = 1; k < S; k++) {                                                                         \
            const long v0 = l + k * (U) * QN_GPU_LX;                                                           \
            uint4 cur[U][R];                                                                                   \
            _Pragma("unroll") for (int u = 0; u < (U); u++)                                                    \
                _Pragma("unroll") for (int r = 0; r < (R); r++) cur[u][r] = sp[u][r];                          \
            if (k + 1 < S) QN_I8_STEP_LD(gb, v0 + (U) * QN_GPU_LX, R, U)                                       \
            else if (NXT) QN_I8_STEP_LD(QN_S_BLOCK(1, R), (long)l, R, U)                                       \
            QN_IW_MATH(QN_I8_PIECE, R, U, cur)                                                                 \
        }                                                                                                      \
        QN_I8_STORE(0, R)                                                                                      \
    }
#define QN_I8P2_KERNEL(NAME, R, U)                                                                             \
    QN_I8_HEAD(NAME, )                                                                                         \
        uint4 p0[U][R], sp[U][R]; /* block 0's first step; its second (or block 1's first) */                  \
        const long gb0_ = QN_S_BLOCK(0, R), S0_ = (nv + (U) * QN_GPU_LX - 1) / ((U) * QN_GPU_LX);              \
        const int nxt0_ = 1 < iters && QN_S_BLOCK(1, R) < N;                                                   \
        QN_I8_STEP_LDTO(p0, gb0_, (long)l, R, U)                                                               \
        if (S0_ > 1) QN_I8_STEP_LDTO(sp, gb0_, (long)l + (U) * QN_GPU_LX, R, U)                                \
        else if (nxt0_) QN_I8_STEP_LDTO(sp, QN_S_BLOCK(1, R), (long)l, R, U)                                   \
        qn_i8_stage_x16(xq, xd, (local uint4 *)red, (const global float4 *)(xb_ + xo), nv, xl);                \
        { /* block 0: always in the matrix (the host launches at most one group a block) */                   \
            const long gb = gb0_;                                                                              \
            QN_I8_P2BLOCK0(R, U, nxt0_)                                                                        \
        }                                                                                                      \
        for (int it = 1; it < iters; it++) {                                                                   \
            const long gb = QN_S_BLOCK(it, R);                                                                 \
            if (gb >= N) break; /* uniform over the group */                                                   \
            const int nxt = it + 1 < iters && QN_S_BLOCK(it + 1, R) < N;                                       \
            QN_I8_PBLOCK(it, R, U, nxt)                                                                        \
        }                                                                                                      \
    }
QN_I8P2_KERNEL(qn_gemv_q8_i2us2, 2, 8)
/* The register-lean streaming q8 form (QUANTA_OPENCL_GEMVS_Q8L=1, clgemv22, off until measured: q8 _i2ul, 2 rows a warp,
 * U = 8, as _i2us). Why: _i2us holds ~240 registers (clang's PTX through ptxas; its walk keeps two steps of 16 uint4 a
 * lane live: the one in flight and the one in use), one group of 8 warps an SM; q8 4096x11008 runs it at 0.67-0.68 of
 * the copy kernel where q8 _ip (~128 registers, 2 groups an SM) reaches 0.75 at 11008x4096. Here the walk is q4
 * _il's ring (QN_I8_LBLOCK): piece u's next-step loads issued just before piece u's math, into the slot it frees; the
 * rows' pointers of this block and the next found once a block; one load site. The same pieces, sums and order as
 * _i2us: the same bits. */
#define QN_I8_LBLOCK(IT, R, U, NXT)                                                                            \
    {                                                                                                          \
        const long n0 = gb + ly * (R), n1 = QN_S_BLOCK((IT) + 1, R) + ly * (R),                                \
                   S = (nv + (U) * QN_GPU_LX - 1) / ((U) * QN_GPU_LX);                                         \
        float sc[R], p[R];                                                                                     \
        const global uint4 *pc[R], *pn[R];                                                                     \
        _Pragma("unroll") for (int r = 0; r < (R); r++) {                                                      \
            float unused;                                                                                      \
            pc[r] = qn_q8_m1_row(min(n0 + r, N - 1), W0 + wo0, ws0, W1 + wo1, ws1, W2 + wo2, ws2, N0, N1, K, &sc[r]); \
            pn[r] = qn_q8_m1_row(min(n1 + r, N - 1), W0 + wo0, ws0, W1 + wo1, ws1, W2 + wo2, ws2, N0, N1, K, &unused); \
            p[r] = 0.0f;                                                                                       \
        }                                                                                                      \
        for (long k = 0; k < S; k++) {                                                                         \
            const long v0 = l + k * (U) * QN_GPU_LX;                                                           \
            const int more_ = k + 1 < S, here_ = more_ || !(NXT);                                              \
            const long vn_ = more_ ? v0 + (U) * QN_GPU_LX : (NXT) ? (long)l : v0;                              \
            _Pragma("unroll") for (int u = 0; u < (U); u++) {                                                  \
                uint4 cc[R];                                                                                   \
                _Pragma("unroll") for (int r = 0; r < (R); r++) {                                              \
                    cc[r] = sp[u][r];                                                                          \
                    sp[u][r] = (here_ ? pc[r] : pn[r])[min(vn_ + u * QN_GPU_LX, nv - 1)];                      \
                }                                                                                              \
                QN_I8_PIECE(R, cc, min(v0 + u * QN_GPU_LX, nv - 1), v0 + u * QN_GPU_LX < nv)                   \
            }                                                                                                  \
        }                                                                                                      \
        QN_I8_STORE(IT, R)                                                                                     \
    }
#define QN_I8L_KERNEL(NAME, R, U)                                                                              \
    QN_I8_HEAD(NAME, )                                                                                         \
        uint4 sp[U][R]; /* the step in flight, a piece's slot refilled as its math begins */                   \
        QN_I8_STEP_LD(QN_S_BLOCK(0, R), (long)l, R, U)                                                         \
        { /* x staged the plain way, an item a piece (the X1 path compiled out: its prologue was the peak) */ \
            const long np = nv;                                                                                \
            const global float4 *x4 = (const global float4 *)(xb_ + xo);                                       \
            QN_I_STAGE_LOOP(4, np, 0, QN_I_LOAD4, QN_I8_PUT)                                                   \
        }                                                                                                      \
        (void)xl;                                                                                              \
        QN_S_WALK(QN_NO_BLOCK, QN_I8_LBLOCK, R, U, 2)                                                          \
    }
QN_I8L_KERNEL(qn_gemv_q8_i2ul, 2, 8)
/* and at U = 4 (QUANTA_OPENCL_GEMVS_Q8L=4: _i2l, 8 uint4 a lane in flight): 96 registers in clang's PTX (U = 6: 132, U = 8:
 * 159), so 2 groups an SM stream the same 64 KB an SM as _i2us's one, with twice the warps to cover each wait */
QN_I8L_KERNEL(qn_gemv_q8_i2l, 2, QN_G1_U)
/* and at U = 6 (QUANTA_OPENCL_GEMVS_Q8L=6: _i2l6, 12 uint4 a lane in flight): 132 registers in clang's PTX, 4 short of 2
 * groups an SM there; what NVIDIA's compiler makes of it decides (96 KB an SM in flight if it fits) */
QN_I8L_KERNEL(qn_gemv_q8_i2l6, 2, 6)
/* and one row a warp, the whole row one step (QUANTA_OPENCL_GEMVS_R1=2, clgemv23: _r1s's geometry in the ring walk: 22
 * uint4 of step live a lane, not 44) */
QN_I8L_KERNEL(qn_gemv_q8_r1l, 1, 22)

/* ---- M = 1 with the norm before it (QUANTA_OPENCL_NORM_GEMV=1): add_norm / rms_norm_add_norm / rms_norm,
 * then the q8 GEMV(s) reading its normed row ----
 * Why: on NVIDIA's OpenCL every launch costs ~6 us of device time however small (H100 events, bench/NOTES.md
 * section 1 clgemv13), and a decode step's norms are 32 (1B) or 36 (Gemma) launches of 11-17 us for a row of
 * a few KB. Here the norm runs in the prologue of the GEMV that reads its result: every work-group norms the
 * whole row into local memory (8 KB of L2 reads a row of 2048, next to the 16 KB a row pair of weights per warp
 * it streams anyway), group 0 also stores the norm's results (the residual sum and the normed row: later ops
 * may read them), and the GEMV reads x from local memory. The work-group is (32, 8): its 256 items are exactly
 * qn_rms_norm's group on the GPU class (row_lws: the host checks), each item adds the elements l, l + 256, ...
 * in qn_rms_norm's order and the tree (qn_sum256) is qn_wg_sum's, with the same expressions, so the normed row
 * has the same bits as the two launches; the GEMV's sums are qn_gemv_q8_m1's: the same bits end to end.
 * mode: 0 rms_norm (y = a·inv·w), 1 add_norm (s = a + b, y = s·inv(s)·w2), 2 rms_norm_add_norm
 * (s = b + a·inv(a)·w, y = s·inv(s)·w2). f32 rows, weights and results (the host checks). x in local memory
 * as pieces of 16 floats 20 apart (a warp's lanes read pieces 80 bytes apart: no two of a quarter warp's
 * 16-byte reads in one bank). */
#define QN_NG_ITEMS 256
#define QN_NG_PAD(d) (((d) >> 4) * 20 + ((d) & 15))
/* One local buffer, declared float4 (so the driver aligns it to 16 bytes, as it does attention_pf_gpu's and
 * gemm_i8_gpu's typed buffers): red (16 · 33 floats, >= the tree's 256), then xs at 2112 bytes, a multiple of 16:
 * its float4 reads need that. With xs its own `local float *` argument (aligned to 4 only) NVIDIA's OpenCL failed
 * every launch with CL_OUT_OF_RESOURCES (H100 17:13; the likely cause, not confirmed). */
#define QN_NG_RED (16 * 33)

/* qn_wg_sum's tree for the 256 items of a (32, 8) group, t the linear id */
QN_INL float qn_sum256(local float *red, float v, int t) {
    red[t] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = QN_NG_ITEMS / 2; s > 0; s >>= 1) {
        if (t < s) red[t] += red[t + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float r = red[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

QN_INL void qn_ng_norm(const global float *a, const global float *b, const global float *w, int hasw,
                       const global float *w2, int hasw2, global float *so, global float *yo, int mode, int plus_one,
                       float eps, long D, int t, int writer, local float *red, local float *xs) {
    float inv = 1.0f;
    if (mode != 1) { /* the first norm's sum (qn_rms_norm's norm1) */
        float ss = 0.0f;
        for (long d = t; d < D; d += QN_NG_ITEMS) {
            float v = a[d];
            ss += v * v;
        }
        ss = qn_sum256(red, ss, t);
        inv = rsqrt(ss / (float)D + eps);
    }
    for (long d = t; d < D; d += QN_NG_ITEMS) {
        float o;
        if (mode == 1) {
            o = a[d] + b[d];
        } else {
            float g = 1.0f;
            if (hasw) {
                g = w[d];
                if (plus_one) g += 1.0f;
            }
            const float v = a[d] * inv * g;
            o = mode == 2 ? v + b[d] : v;
        }
        xs[QN_NG_PAD(d)] = o;
        if (writer) (mode == 0 ? yo : so)[d] = o;
    }
    if (mode != 0) { /* the second norm, of the stored sum (qn_rms_norm's has2; f32: the value as stored) */
        float ss = 0.0f;
        for (long d = t; d < D; d += QN_NG_ITEMS) {
            const float v = xs[QN_NG_PAD(d)];
            ss += v * v;
        }
        ss = qn_sum256(red, ss, t);
        inv = rsqrt(ss / (float)D + eps);
        for (long d = t; d < D; d += QN_NG_ITEMS) {
            float g = 1.0f;
            if (hasw2) {
                g = w2[d];
                if (plus_one) g += 1.0f;
            }
            const float y = xs[QN_NG_PAD(d)] * inv * g;
            xs[QN_NG_PAD(d)] = y;
            if (writer) yo[d] = y;
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE); /* the whole row in xs before any warp reads it */
}

/* qn_q8_m1_rows with x from xs (QN_NG_PAD layout): the same FMAs in the same order */
#define QN_XV_LOCAL(v, j) ((const local float4 *)(xs + (v) * 20))[j]
QN_Q8_M1_ROWS_DEF(qn_q8_m1_rows_lx, const local float *xs, QN_XV_LOCAL)

#define QN_NG_ARGS                                                                                                  \
    const global uchar *na, ulong nao, const global uchar *nb, ulong nbo, const global uchar *nw, ulong nwo,       \
        int hasw, const global uchar *nw2, ulong nw2o, int hasw2, global uchar *ns, ulong nso, global uchar *ny,    \
        ulong nyo, int nmode, int plus_one, float eps
#define QN_NG_PROLOGUE(t)                                                                                           \
    qn_ng_norm((const global float *)(na + nao), (const global float *)(nb + nbo), (const global float *)(nw + nwo), \
               hasw, (const global float *)(nw2 + nw2o), hasw2, (global float *)(ns + nso), (global float *)(ny + nyo), \
               nmode, plus_one, eps, K, t, get_group_id(1) == 0, red, xs)

/* qn_gemv_q8_m1 (matmul, matmul_multi) after the norm: group g takes `passes` sets of 16 rows (2 a warp), one
 * after another (fewer groups: each norms the row once). lm: red, then xs (QN_NG_RED). */
/* and qn_gemv_q8_m1_glu after the norm: `passes` sets of 8 outputs a group (gate and up row a warp). */
/* Both three times: WALK qn_q8_m1_rows_lx (QUANTA_OPENCL_NG_STEP=0) and, as qn_gemv_q8_m1n_w / _glu_w (the default since
 * the H100 call of 21:05), qn_q8_s2_rows_lx: the streamed kernels' whole-step walker (every load of a step before its math;
 * m1's walker keeps 2 weight loads in flight a lane, QN_Q8_S_ROWS_DEF says why), the same sums in the same order; and as
 * _t (QUANTA_OPENCL_NG_STEP=2) that walker with the row's tail as one step (QN_Q8_WALK_BODY_T1: Gemma's K = 640 is 40
 * pieces, no whole step of 4 · 32, so lanes 0-7 wait two round trips a row in _w, one here). */
#define QN_M1N_KERNELS(SUF, WALK) \
kernel __attribute__((reqd_work_group_size(32, 8, 1))) \
void qn_gemv_q8_m1n##SUF(const global uchar *W0, ulong wo0, long ws0, const global uchar *W1, ulong wo1, long ws1, \
                    const global uchar *W2, ulong wo2, long ws2, QN_NG_ARGS, global uchar *y0, ulong yo0, \
                    global uchar *y1, ulong yo1, global uchar *y2, ulong yo2, int ydt, long N0, long N1, long N2, \
                    long K, int passes, local float4 *lm4) { \
    const int l = (int)get_local_id(0), ly = (int)get_local_id(1); \
    local float *red = (local float *)lm4, *xs = red + QN_NG_RED; \
    QN_NG_PROLOGUE(ly * QN_GPU_LX + l); \
    const long N = N0 + N1 + N2; \
    for (int p = 0; p < passes; p++) { \
        const long gb = ((long)get_group_id(1) * passes + p) * (8 * QN_G1_RW); \
        if (gb >= N) break; /* uniform over the group */ \
        const long n0 = gb + ly * QN_G1_RW; \
        float sa, sb; \
        const global uint4 *wa = qn_q8_m1_row(min(n0, N - 1), W0 + wo0, ws0, W1 + wo1, ws1, W2 + wo2, ws2, N0, N1, K, &sa); \
        const global uint4 *wb = qn_q8_m1_row(min(n0 + 1, N - 1), W0 + wo0, ws0, W1 + wo1, ws1, W2 + wo2, ws2, N0, N1, K, &sb); \
        const float2 s = WALK(wa, wb, xs, K / 16, l); \
        red[(ly * QN_G1_RW) * QN_GPU_RED + l] = s.x * sa; \
        red[(ly * QN_G1_RW + 1) * QN_GPU_RED + l] = s.y * sb; \
        barrier(CLK_LOCAL_MEM_FENCE); \
        const int f = ly * QN_GPU_LX + l; \
        if (f < 8 * QN_G1_RW) { \
            const float v = qn_gpu_sum32(red + f * QN_GPU_RED); \
            const long n = gb + f; \
            if (n < N) { \
                long rr; \
                const int i = qn_stack_row(n, N0, N1, &rr); \
                qn_st(i == 0 ? y0 + yo0 : i == 1 ? y1 + yo1 : y2 + yo2, ydt, (size_t)rr, v); \
            } \
        } \
        barrier(CLK_LOCAL_MEM_FENCE); /* red's sums read before the next pass writes it */ \
    } \
} \
 \
kernel __attribute__((reqd_work_group_size(32, 8, 1))) \
void qn_gemv_q8_m1n_glu##SUF(const global uchar *Wg, ulong go, const global uchar *Wu, ulong uo, long ws, QN_NG_ARGS, \
                        global uchar *y, ulong yo, int ydt, long N, long K, int act, int passes, local float4 *lm4) { \
    const int l = (int)get_local_id(0), ly = (int)get_local_id(1); \
    local float *red = (local float *)lm4, *xs = red + QN_NG_RED; \
    QN_NG_PROLOGUE(ly * QN_GPU_LX + l); \
    const global uchar *G = Wg + go, *U = Wu + uo; \
    for (int p = 0; p < passes; p++) { \
        const long gb = ((long)get_group_id(1) * passes + p) * 8; \
        if (gb >= N) break; /* uniform over the group */ \
        const long n = min(gb + ly, N - 1); \
        const float2 s = WALK((const global uint4 *)(G + n * K), (const global uint4 *)(U + n * K), xs, \
                                          K / 16, l); \
        red[(ly * QN_G1_RW) * QN_GPU_RED + l] = s.x * qn_ldf_any(G + ws + n * 4); \
        red[(ly * QN_G1_RW + 1) * QN_GPU_RED + l] = s.y * qn_ldf_any(U + ws + n * 4); \
        barrier(CLK_LOCAL_MEM_FENCE); \
        const int f = ly * QN_GPU_LX + l; \
        if (f < 8) { \
            const float g = qn_gpu_sum32(red + (f * QN_G1_RW) * QN_GPU_RED); \
            const float u = qn_gpu_sum32(red + (f * QN_G1_RW + 1) * QN_GPU_RED); \
            const long no = gb + f; \
            if (no < N) qn_st(y + yo, ydt, (size_t)no, qn_act(g, act, 0.0f) * u); \
        } \
        barrier(CLK_LOCAL_MEM_FENCE); \
    } \
}

QN_Q8_S2_ROWS_DEF(qn_q8_s2_rows_lx, QN_G1_U, QN_Q8_WALK_BODY, const local float *xs, QN_XV_LOCAL)
QN_Q8_S2_ROWS_DEF(qn_q8_s2t_rows_lx, QN_G1_U, QN_Q8_WALK_BODY_T1, const local float *xs, QN_XV_LOCAL)
QN_M1N_KERNELS(, qn_q8_m1_rows_lx)
QN_M1N_KERNELS(_w, qn_q8_s2_rows_lx)
QN_M1N_KERNELS(_t, qn_q8_s2t_rows_lx)

/* qn_gemv_q8_m1 for one weight with the residual add after it (QUANTA_OPENCL_NORM_GEMV=1, cl_norm_gemv.c): y = x·W^T
 * as qn_gemv_q8_m1 stores it, and s = y + r (radd), as add_norm's first stage adds the stored y (f32) and r, or a
 * copy s = y (radd 0) in the backend's own buffer. Why: the add_norm after a layer's last GEMV then needs only the
 * norm of s, which the next GEMV's prologue takes from s (mode 0), never reading y: the plans put the next q/k/v
 * results where y was (qn_gemv_q8_m1n with mode 1 read y, so those could not fuse); Gemma 3's rms_norm_add_norm
 * needs y's own norm first, so its prologue reads the copy. f32 y, r and s (the host checks). */
kernel void qn_gemv_q8_m1r(const global uchar *W0, ulong wo0, long ws0, const global uchar *xb_, ulong xo,
                           global uchar *y0, ulong yo0, const global uchar *rres, ulong ro, global uchar *sres,
                           ulong so, int radd, long N, long K, local float *red) {
    const int l = (int)get_local_id(0), ly = (int)get_local_id(1), ry = (int)get_local_size(1);
    const long n0 = ((long)get_group_id(1) * ry + ly) * QN_G1_RW;
    float sa, sb;
    const global uchar *W = W0 + wo0;
    const global uint4 *wa = qn_q8_m1_row(min(n0, N - 1), W, ws0, W, 0, W, 0, N, 0, K, &sa);
    const global uint4 *wb = qn_q8_m1_row(min(n0 + 1, N - 1), W, ws0, W, 0, W, 0, N, 0, K, &sb);
    const float2 s = qn_q8_m1_rows(wa, wb, (const global float4 *)(xb_ + xo), K / 16, l);
    red[(ly * QN_G1_RW) * QN_GPU_RED + l] = s.x * sa;
    red[(ly * QN_G1_RW + 1) * QN_GPU_RED + l] = s.y * sb;
    barrier(CLK_LOCAL_MEM_FENCE);
    const int f = ly * QN_GPU_LX + l;
    if (f < ry * QN_G1_RW) {
        const float v = qn_gpu_sum32(red + f * QN_GPU_RED);
        const long n = (long)get_group_id(1) * ry * QN_G1_RW + f;
        if (n < N) {
            ((global float *)(y0 + yo0))[n] = v;
            ((global float *)(sres + so))[n] = radd ? v + ((const global float *)(rres + ro))[n] : v;
        }
    }
}
