/*
 * gemm_gpu.cl — the GPU class's prefill GEMM (M > 8) for q8 weights, the format fixed.
 *
 * Why not qn_gemm (matmul.cl): it dequantizes the weight tile one element at a time through
 * qn_w_elem (a run-time format switch and four byte loads for the row scale per weight) and
 * gives each item a 4x4 tile (2 local-memory loads per 16 FMAs); on an H100 through NVIDIA's
 * OpenCL it ran at 8-10 TFLOP/s (bench/NOTES.md section 1), ~15% of the f32 FMA peak.
 *
 * Here: a work-group of (16, 16) items computes a 64 (x rows) x 128 (weight rows) output tile,
 * K in steps of 32 through local memory. Item (tx, ty) owns x rows m0 + 4ty .. +3 and weight
 * rows n0 + 4tx .. +3 and n0 + 64 + 4tx .. +3 (32 accumulators; the two column halves 64 apart
 * make a warp's float4 reads of a weight row one contiguous run: no bank conflicts). Per K
 * step each item reads 3 float4s from local memory for 32 FMAs. The weight tile (128 rows x 32
 * codes) is one 16-byte load per item; codes go to local memory as exact floats (the row's
 * scale multiplies the result once, at the store), the x tile is two float4 loads per item;
 * both are transposed into local memory k-major, and the next step's global loads are issued
 * before this step's math (register double buffering). f32 math throughout: NVIDIA's OpenCL
 * reports no fp16 and has no tensor-core access, so the floor is the f32 FMA rate.
 */

#define QN_GG_TM 64  /* x rows per tile */
#define QN_GG_TN 128 /* weight rows per tile */
#define QN_GG_TK 32  /* K per step */

/* Host: K % 32 == 0, codes and x 16-byte aligned; launched as (16, 16) groups over
 * (ceil(N / 128) * 16, ceil(M / 64) * 16). */
kernel __attribute__((reqd_work_group_size(16, 16, 1)))
void qn_gemm_q8_gpu(const global uchar *Wb, ulong wo, QN_WLAYOUT_ARGS, const global uchar *xb_, ulong xo,
                    global uchar *y, ulong yo, int ydt, long M, long N, long K) {
    QN_WLAYOUT_MAKE(w);
    /* float4 arrays: the math's reads are 16-byte loads (a float array promises 4-byte alignment) */
    local float4 Xv[QN_GG_TK][QN_GG_TM / 4];
    local float4 Wv[QN_GG_TK][QN_GG_TN / 4];
    local float *Xs = (local float *)Xv, *Ws = (local float *)Wv;
    const int tx = (int)get_local_id(0), ty = (int)get_local_id(1), lid = ty * 16 + tx;
    const long n0 = (long)get_group_id(0) * QN_GG_TN, m0 = (long)get_group_id(1) * QN_GG_TM;
    const global uchar *W = Wb + wo;
    const global float *x = (const global float *)(xb_ + xo);
    /* this item's loads: weight row wr (half wh of its 32 codes); x rows xr, float4 xq and xq + 4
     * (rows past N or M are read clamped and never stored) */
    const int wr = lid & (QN_GG_TN - 1), wh = lid >> 7;
    const global uint4 *wp = (const global uint4 *)(W + min(n0 + wr, N - 1) * K) + wh;
    const int xr = lid & (QN_GG_TM - 1), xq = lid >> 6; /* xq 0..3: float4s xq and xq + 4 of the step */
    const global float4 *xp = (const global float4 *)(x + min(m0 + xr, M - 1) * K) + xq;
    float4 acc[4][2];
#pragma unroll
    for (int i = 0; i < 4; i++) acc[i][0] = acc[i][1] = 0.0f;
    uint4 wc = wp[0];
    float4 xa = xp[0], xb = xp[4];
    const float o = 8388736.0f; /* 2^23 + 128: int8 code c as a float, as in gemv_gpu.cl */
    for (long k0 = 0; k0 < K; k0 += QN_GG_TK) {
        barrier(CLK_LOCAL_MEM_FENCE); /* the previous step's reads are done */
        {
            const uint4 c = wc ^ (uint4)0x80808080u;
            const uint cw[4] = {c.x, c.y, c.z, c.w};
            for (int q = 0; q < 4; q++)
                for (int b = 0; b < 4; b++)
                    Ws[(wh * 16 + q * 4 + b) * QN_GG_TN + wr] = as_float(0x4b000000u | ((cw[q] >> (8 * b)) & 0xffu)) - o;
            const float xv[8] = {xa.x, xa.y, xa.z, xa.w, xb.x, xb.y, xb.z, xb.w}; /* k 4xq.. and 16 + 4xq.. */
            for (int e = 0; e < 8; e++) Xs[(xq * 4 + (e & 3) + (e >> 2) * 16) * QN_GG_TM + xr] = xv[e];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        if (k0 + QN_GG_TK < K) { /* the next step's tiles, in flight during this step's math */
            const long s = (k0 + QN_GG_TK) / 16;
            wc = wp[s];
            xa = xp[s * 4];
            xb = xp[s * 4 + 4];
        }
#pragma unroll 8
        for (int kk = 0; kk < QN_GG_TK; kk++) {
            const float4 a = Xv[kk][ty], b0 = Wv[kk][tx], b1 = Wv[kk][16 + tx];
            acc[0][0] = fma((float4)a.x, b0, acc[0][0]), acc[0][1] = fma((float4)a.x, b1, acc[0][1]);
            acc[1][0] = fma((float4)a.y, b0, acc[1][0]), acc[1][1] = fma((float4)a.y, b1, acc[1][1]);
            acc[2][0] = fma((float4)a.z, b0, acc[2][0]), acc[2][1] = fma((float4)a.z, b1, acc[2][1]);
            acc[3][0] = fma((float4)a.w, b0, acc[3][0]), acc[3][1] = fma((float4)a.w, b1, acc[3][1]);
        }
    }
    /* unrolled: a rolled loop indexing acc would put it on the stack (clang's NVPTX output did) */
#pragma unroll
    for (int h = 0; h < 2; h++) {
        const long nb = n0 + h * 64 + tx * 4;
        float sc[4];
        for (int j = 0; j < 4; j++) sc[j] = nb + j < N ? qn_ldf_any(W + w.scales_offset + (nb + j) * 4) : 0.0f;
#pragma unroll
        for (int i = 0; i < 4; i++) {
            const long m = m0 + ty * 4 + i;
            if (m >= M) break;
            const float r[4] = {acc[i][h].x, acc[i][h].y, acc[i][h].z, acc[i][h].w};
            for (int j = 0; j < 4; j++)
                if (nb + j < N) qn_st(y + yo, ydt, (size_t)(m * N + nb + j), r[j] * sc[j]);
        }
    }
}
