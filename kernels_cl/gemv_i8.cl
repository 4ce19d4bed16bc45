/*
 * gemv_i8.cl — decode GEMV (M <= 8 x rows) over ggml Q5_0 blocks with integer dot products,
 * for CPUs: y[m,n] = Σ_k x[m,k]·W[n,k], and the gated pair act(x·Wgᵀ)·(x·Wuᵀ) (matmul_glu).
 *
 * Why: decode reads every weight once per token, so the weights' bytes set its floor. A q8
 * repack of a Q5_0 tensor reads 8.25 bits per weight where the file has 5.5; but the float
 * GEMV over Q5_0 blocks (matmul.cl) spends ~14 vector instructions per 32 weights decoding
 * them to floats and measured 1.6-2.3x the q8 GEMV's time on PoCL (bench/NOTES.md section 1,
 * v4 and v7): instruction-bound, not bandwidth-bound. Here x is quantized to int8 per block of
 * 32 columns (ggml's q8_0 activations: scale max|x|/127, round to nearest even) once per
 * work-group into local memory, each weight block becomes 32 unsigned bytes (its 5-bit codes,
 * 0..31) with a few integer operations, and one vpdpbusd (AVX-512 VNNI, by inline assembly
 * as in matmul_int8.cl) multiplies and adds all 32 pairs.
 *
 * The maths per weight block b (d its f16 scale, q its codes, dx and xq x's block scale and
 * codes):  Σ_k w·x ≈ d·dx·Σ_k q·xq - 16·d·(dx·Σ_k xq),  the second sum kept per x block (xs),
 * exact in int32 (32 products of at most 31·127). The NMSE x's 8-bit rounding adds (~1e-5)
 * is inside the 5e-4 bound conformance sets for matmul's int8 internal paths.
 *
 * Without QN_X86_VNNI the dot product is written out (exact too), so conformance checks this
 * kernel on any device (QUANTA_OPENCL_VNNI=0 with QUANTA_OPENCL_GEMM=int8).
 */

#if defined(QN_X86_VNNI)
/* acc[i] += Σ_j u8(u[4i+j]) · s8(s[4i+j]), 8 lanes (one 32-byte block, a ymm register) */
#define QN_DP4_8(acc, u, s) __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u), "v"(s))
/* a block's f16 scale by F16C's vcvtph2ps (every AVX-512 CPU has it): the integer decode
 * (qn_h2f) costs ~20 scalar instructions, as many as the rest of the block's work */
QN_INL float qn_i8_h(const global uchar *p) {
    const uint4 h = (uint4)((uint)p[0] | ((uint)p[1] << 8), 0u, 0u, 0u);
    float4 f;
    __asm__("vcvtph2ps %1, %0" : "=v"(f) : "v"(h));
    return f.x;
}
#else
#define qn_i8_h qn_ggml_h
QN_INL int8 qn_dp4_8(int8 acc, int8 u, int8 s) {
    const int8 u0 = as_int8(as_uint8(u) & 255u), u1 = as_int8((as_uint8(u) >> 8) & 255u);
    const int8 u2 = as_int8((as_uint8(u) >> 16) & 255u), u3 = as_int8(as_uint8(u) >> 24);
    return acc + u0 * ((s << 24) >> 24) + u1 * ((s << 16) >> 24) + u2 * ((s << 8) >> 24) + u3 * (s >> 24);
}
#define QN_DP4_8(acc, u, s) acc = qn_dp4_8(acc, u, s)
#endif

QN_INL float qn_hsum8(float8 v) {
    float4 a = v.lo + v.hi;
    float2 b = a.lo + a.hi;
    return b.x + b.y;
}

/* x rows [M, K] (f32, K % 32 == 0) as two int8 planes per block of 32 columns: xh = x/dx
 * rounded (dx = max|x|/127, ggml's q8_0 activations) and xl = the remainder in 1/256 steps,
 * so x ≈ dx·(xh + xl/256) to ~16 bits. One plane alone (8 bits) puts an error of ~0.5% of
 * a dot product's scale on it, which a single output (a 1x1 product) shows as NMSE above the
 * 5e-4 bound about one draw in six; the second plane costs one more vpdpbusd per block.
 * Also xd (dx / 256) and xs (dx·Σ x codes, the -16 offset's term) per block; block i is row
 * i / nb, columns 32·(i % nb) ...; the work-items of the group share the blocks. */
QN_INL void qn_i8_quant_x(const global float *x, long nblk, local char *xh, local char *xl, local float *xd,
                          local float *xs) {
    for (long i = get_local_id(0); i < nblk; i += get_local_size(0)) {
        const float16 a = vload16(0, x + 32 * i), c = vload16(1, x + 32 * i);
        const float16 m16 = fmax(fabs(a), fabs(c));
        const float8 m8 = fmax(m16.lo, m16.hi);
        const float4 m4 = fmax(m8.lo, m8.hi);
        const float2 m2 = fmax(m4.lo, m4.hi);
        const float am = fmax(m2.x, m2.y), inv = am > 0.0f ? 127.0f / am : 0.0f;
        const float16 sa = a * inv, sc = c * inv;
        const float16 ra = rint(sa), rc = rint(sc);
        const int16 la = convert_int16(clamp(rint((sa - ra) * 256.0f), -127.0f, 127.0f));
        const int16 lc = convert_int16(clamp(rint((sc - rc) * 256.0f), -127.0f, 127.0f));
        vstore16(convert_char16(convert_int16(ra)), 0, xh + 32 * i);
        vstore16(convert_char16(convert_int16(rc)), 1, xh + 32 * i);
        vstore16(convert_char16(la), 0, xl + 32 * i);
        vstore16(convert_char16(lc), 1, xl + 32 * i);
        const float16 t16 = (ra + rc) * 256.0f + convert_float16(la + lc);
        const float8 t8 = t16.lo + t16.hi;
        const float4 t4 = t8.lo + t8.hi;
        const float2 t2 = t4.lo + t4.hi;
        xd[i] = am / (127.0f * 256.0f);
        xs[i] = am / (127.0f * 256.0f) * (t2.x + t2.y);
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
    __asm__("kmovd %1, %%k1\n\tvpaddb %2, %0, %0%{%%k1%}" : "+v"(w) : "r"(qn_ggml_u32(blk + 2)), "v"(sixteen) : "k1");
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

/* Σ_k W[row,k]·x[k] for one Q5_0 row of nb blocks and one quantized x row; blocks in pairs
 * into two accumulators (two FMA chains). */
#define QN_I8_Q5_0_BLOCK(A, B)                                                              \
    {                                                                                       \
        const global uchar *blk = row + 22 * (B);                                           \
        const float d = qn_i8_h(blk);                                                       \
        const int8 w_ = qn_i8_q5_0_codes(blk);                                              \
        int8 dot = 0;                                                                       \
        QN_DP4_8(dot, w_, vload8((B), (const local int *)xh));                              \
        dot <<= 8;                                                                          \
        QN_DP4_8(dot, w_, vload8((B), (const local int *)xl));                              \
        A = fma(convert_float8(dot), (float8)(d * xd[B]), A);                               \
        off = fma(d, xs[B], off);                                                           \
    }
QN_INL float qn_i8_row_q5_0(const global uchar *row, const local char *xh, const local char *xl,
                            const local float *xd, const local float *xs, long nb) {
    float8 acc = 0.0f, acc2 = 0.0f;
    float off = 0.0f;
    long b = 0;
    for (; b + 1 < nb; b += 2) {
        QN_I8_Q5_0_BLOCK(acc, b)
        QN_I8_Q5_0_BLOCK(acc2, b + 1)
    }
    if (b < nb) QN_I8_Q5_0_BLOCK(acc, b)
    return qn_hsum8(acc + acc2) - 16.0f * off;
}

/* One work-item per weight row n (work-groups of rows, as qn_gemv_rows), after the group has
 * quantized the M x rows into xb: the M·K high codes, the M·K low codes, then at float offset
 * xb_f (64-byte aligned) the M·K/32 block scales and M·K/32 offset terms. act < 0: y = x·Wᵀ;
 * else matmul_glu with Wu, the activation act (QN_UNARY_*) on the gate. The barrier only ends
 * the quantization: no value lives across it but local memory, so PoCL's work-item loops keep
 * their registers. */
kernel void qn_gemv_i8(const global uchar *Wb, ulong wo, const global uchar *Wu, ulong uo, long row_bytes, int act,
                       const global uchar *xb_, ulong xo, global uchar *y, ulong yo, int ydt, int M, long N, long K,
                       local char *xb, long xb_f) {
    qn_i8_quant_x((const global float *)(xb_ + xo), M * (K / 32), xb, xb + M * K, (local float *)xb + xb_f,
                  (local float *)xb + xb_f + M * (K / 32));
    barrier(CLK_LOCAL_MEM_FENCE);
    const long n = get_global_id(0), nb = K / 32;
    if (n >= N) return;
    const local float *xd = (const local float *)xb + xb_f, *xs = xd + M * nb;
    const global uchar *wg = Wb + wo + n * row_bytes, *wu = Wu + uo + n * row_bytes;
    for (int m = 0; m < M; m++) {
        const local char *h = xb + m * K, *l = xb + (M + m) * K;
        const local float *d = xd + m * nb, *s = xs + m * nb;
        const float g = qn_i8_row_q5_0(wg, h, l, d, s, nb);
        const float v = act < 0 ? g : qn_act(g, act, 0.0f) * qn_i8_row_q5_0(wu, h, l, d, s, nb);
        qn_st(y + yo, ydt, (size_t)m * (size_t)N + (size_t)n, v);
    }
}
