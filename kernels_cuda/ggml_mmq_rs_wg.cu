/* ggml_mmq_rs_wg.cu — y[M,N] = x[M,K] . W[N,K]^T for GGUF Q4_0 / Q8_0 weights on Hopper's warpgroup MMA with the
 * weight as the register (A) operand, fed by the TMA (mmq14; QUANTA_CUDA_GGML_MMQ=16, M > 64, K a multiple of 256,
 * compute capability 9.0, sm_90a only; other formats and shapes take the default route).
 *
 * Why (bench/NOTES.md, mmq13 / mmq14): ggml_mmq_ws_wg.cu's producers decode each 64-wide K step into shared
 * memory for SS wgmma, ~1500 clocks of decode chain per step on the producers' critical path; ggml_mmq_wg.cu
 * (kernel 7) decodes in the consumers but stages its bytes by 4-byte cp.async from every thread, with a block
 * barrier and a proxy fence per step. This is vLLM Machete's split for Hopper: the copy engine alone moves the
 * bytes (one TMA box of raw GGUF rows per 256 of K, one bulk copy of activations per 64 of K, issued by one
 * producer thread against mbarriers), and the consumer warpgroups load their own rows' packed codes from shared
 * memory, turn them into f16 in registers (the "1024 + code" magic-number construction: byte_perm / and-or into
 * 0x64xx, one subtract, one multiply by the block's scale) and issue wgmma with A from those registers (RS) and
 * B (activations) from shared memory in the 128-byte swizzle. Nothing dequantized goes back to shared memory, no
 * block barrier in the main loop; the decode of step kt + 1 runs while step kt's wgmma run.
 *
 * Block: 384 threads. Warpgroups 0-1 (consumers): weight rows 64w .. 64w + 63 of the 128-row tile, all NB tokens
 * (wgmma m64nNBk16, NB = 128 or 64). Warpgroup 2: thread 256 is the producer, the rest exit.
 *   A ring (SA slots): 128 rows x 8 blocks (256 of K) of the raw GGUF bytes, rows of 8 * 18 = 144 bytes (Q4_0) or
 *     8 * 34 = 272 (Q8_0), one 2-d TMA box of the weight seen as [N][rb / 2] 16-bit elements (rb, the row's
 *     bytes, is a multiple of 16 when K is a multiple of 256; rows past N read as zeros and are never stored).
 *   B ring (SB slots): the activations of one 64-wide step, NB x 128 bytes, written by ggml_mmq_ws_wg.cu's
 *     prep (qn_gmmq_prep_xt, swizzled) in exactly this order, one cp.async.bulk.
 * Barriers: afull/bfull (the producer's expect_tx arrival + the bytes), aempty/bempty (one arrival per consumer
 * warp: A after the warp's last decode from the slot, B once the wgmma of that step are done). n-th use of a slot
 * waits full on parity n & 1 and empty on (n & 1) ^ 1.
 *
 * Lane (g, t) of consumer warp w holds tile rows r = 16w + g and r + 8 (wgmma's A layout is mma.sync's per warp);
 * per 32-element block it needs, of each row, the codes of elements 2t, 2t + 1, 8 + 2t, 9 + 2t (first k16 half)
 * and 16 + those (second): for Q4_0 the low and high nibbles of bytes 2t, 2t + 1 and 8 + 2t, 9 + 2t (two 16-bit
 * loads per row give both halves), for Q8_0 four 16-bit loads per row. Row pitches of 36 / 68 words put rows
 * g = 0..7 on banks 4g (+0, 1): no bank conflicts.
 *
 * Numerics: the weights are the f16 values of every other kernel here (q exact in f16, times the block's f16 scale,
 * rounded once), the activations the same f16 rows with a per-row power of two (the ws prep); f32 sums in
 * wgmma's order, as kernels 7 / 13-15: equal to them to f32 rounding.
 */
#include "ggml_mmq.cuh"
#include "sm90a_device.cuh"
#include "tma.cuh"
#include "ggml_mmq_rs.cuh"

#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define QN_RS_HAVE 1
#include "wgmma.cuh"
#include "ggml_mmq_rs.cuh"
#else
#define QN_RS_HAVE 0
#endif

#define QN_RS_BN 128 /* weight rows per tile: two consumer warpgroups of 64 */
#define QN_RS_KA 256 /* K per A slot: 8 blocks (a TMA box row of 144 / 272 bytes, a multiple of 16) */
#define QN_RS_GROUP 8 /* weight tiles per group of the block order (even: whole clusters of two) */

template <int DT, int NB, int G = 1> struct qn_rs_cfg {
    static constexpr int bb = qn_ggml_block_bytes(DT);
    static constexpr int arow = (QN_RS_KA / 32) * bb;             /* bytes per row in an A slot */
    static constexpr int a_bytes = QN_RS_BN * arow;               /* 18432 / 34816: multiples of 1024 */
    static constexpr int b_bytes = NB * QN_GMMQ_BK * 2;           /* 16384 / 8192 */
    static constexpr int SA = 3;
    /* B slots: as many as fit (at most 8) in the 227 KB an SM gives one block, less 1024 for the alignment */
    static constexpr int budget = 232448 - 1024 - 256;
    static constexpr int SB0 = (budget - SA * a_bytes) / b_bytes, SB = SB0 > 8 ? 8 : SB0;
    static constexpr int a_off = SB * b_bytes, bar_off = a_off + SA * a_bytes;
    static constexpr int smem = bar_off + 2 * (SA + SB) * 8;
    static constexpr int threads = 384;
    /* a group holds G slots while the one before it still holds its G: one more to copy ahead into */
    static_assert(SB >= 2 * G + 1, "B ring of at least 2 G + 1 steps");
    static_assert(a_bytes % 1024 == 0 && b_bytes % 1024 == 0, "slots on 1024-byte boundaries (the swizzle's atoms)");
    static_assert(arow % 16 == 0 && arow / 2 <= 256, "a TMA box row: a multiple of 16 bytes, at most 256 elements");
};

#if QN_RS_HAVE
/* f16 pair (lo nibble of byte 0, lo nibble of byte 1) of the 16-bit word u, or the high nibbles (HI), as
 * 1024 + nibble in f16 (0x6400 | nibble), minus 1032 (= 1024 + 8: q exact), times the block's scale d2. */
template <bool HI> __device__ __forceinline__ uint32_t qn_rs_q4(uint32_t u, __half2 d2) {
    uint32_t v = __byte_perm(u, 0u, 0x4140); /* 0x00 b1 0x00 b0 */
    if (HI) v >>= 4;
    const uint32_t h = (v & 0x000F000Fu) | 0x64006400u;
    const __half2 c = __half2half2(__ushort_as_half((unsigned short)0x6408)); /* 1032 */
    return qn_h2u(__hmul2(__hsub2(qn_u2h(h), c), d2));
}
/* f16 pair of the two signed bytes of u: 0x64 over (q ^ 0x80) is 1024 + 128 + q, minus 1152, times d2. */
__device__ __forceinline__ uint32_t qn_rs_q8(uint32_t u, __half2 d2) {
    const uint32_t h = __byte_perm(u ^ 0x8080u, 0x64646464u, 0x4140);
    const __half2 c = __half2half2(__ushort_as_half((unsigned short)0x6480)); /* 1152 */
    return qn_h2u(__hmul2(__hsub2(qn_u2h(h), c), d2));
}
__device__ __forceinline__ uint32_t qn_rs_ld16(const uint8_t *p) { return *(const unsigned short *)p; }

/* The lane's A fragments a[kk] (k16 halves) of one 32-element block: b0 = the block in row r, b1 in row r + 8. */
template <int DT> __device__ __forceinline__ void qn_rs_frag(const uint8_t *b0, const uint8_t *b1, int t, uint32_t (&a)[2][4]) {
    const __half2 d0 = __half2half2(__ushort_as_half((unsigned short)qn_rs_ld16(b0)));
    const __half2 d1 = __half2half2(__ushort_as_half((unsigned short)qn_rs_ld16(b1)));
    if (DT == QN_DT_GGML_Q4_0) {
        const uint32_t x0 = qn_rs_ld16(b0 + 2 + 2 * t), y0 = qn_rs_ld16(b0 + 10 + 2 * t);
        const uint32_t x1 = qn_rs_ld16(b1 + 2 + 2 * t), y1 = qn_rs_ld16(b1 + 10 + 2 * t);
        a[0][0] = qn_rs_q4<false>(x0, d0), a[0][1] = qn_rs_q4<false>(x1, d1);
        a[0][2] = qn_rs_q4<false>(y0, d0), a[0][3] = qn_rs_q4<false>(y1, d1);
        a[1][0] = qn_rs_q4<true>(x0, d0), a[1][1] = qn_rs_q4<true>(x1, d1);
        a[1][2] = qn_rs_q4<true>(y0, d0), a[1][3] = qn_rs_q4<true>(y1, d1);
    } else { /* Q8_0 */
#pragma unroll
        for (int kk = 0; kk < 2; kk++) {
            const int o = 2 + 16 * kk + 2 * t;
            a[kk][0] = qn_rs_q8(qn_rs_ld16(b0 + o), d0), a[kk][1] = qn_rs_q8(qn_rs_ld16(b1 + o), d1);
            a[kk][2] = qn_rs_q8(qn_rs_ld16(b0 + o + 8), d0), a[kk][3] = qn_rs_q8(qn_rs_ld16(b1 + o + 8), d1);
        }
    }
}

#endif

template <int DT, int NB, int CL, int G>
__global__ void __launch_bounds__(384, 1) qn_k_ggml_mmq_rs(const __grid_constant__ CUtensorMap amap, qn_gmmq_args p,
                                                           float *part) {
#if QN_RS_HAVE
    typedef qn_rs_cfg<DT, NB, G> Cfg;
    constexpr int SA = Cfg::SA, SB = Cfg::SB;
    constexpr bool big = NB == 256 || G > 1; /* more than 168 registers a consumer thread: setmaxnreg */
    extern __shared__ __align__(128) uint8_t qn_rs_smem_raw[];
    /* slots on 1024-byte boundaries (Cfg::smem + 1024 is allocated) */
    uint8_t *sm = qn_rs_smem_raw + ((1024u - (qn_smem_u32(qn_rs_smem_raw) & 1023u)) & 1023u);
    const uint32_t sbase = qn_smem_u32(sm), bars = sbase + Cfg::bar_off;
    auto afull = [&](int s) { return bars + 8u * (uint32_t)s; };
    auto aempty = [&](int s) { return bars + 8u * (uint32_t)(SA + s); };
    auto bfull = [&](int s) { return bars + 8u * (uint32_t)(2 * SA + s); };
    auto bempty = [&](int s) { return bars + 8u * (uint32_t)(2 * SA + SB + s); };
    const int tid = threadIdx.x;
    const int64_t KT = p.Kp / QN_GMMQ_BK; /* a multiple of 4 (K % 256 == 0) */
    /* split K (gridDim.z > 1): this block's A slots ka0 .. ka1 - 1 (at least one each); rings count from 0 */
    const int64_t KA = KT / 4, ka0 = KA * blockIdx.z / gridDim.z, nka = KA * (blockIdx.z + 1) / gridDim.z - ka0;
    const uint32_t rank = CL > 1 ? qn_cluster_rank() : 0u;
    /* The block's tiles in groups of QN_RS_GROUP weight tiles, the token tiles walked first inside a group: the
     * blocks running at once share a few weight tiles (read from HBM once each, then from L2) instead of sweeping
     * the whole weight per token tile (a 7B Q8_0 gate/up weight, 62 MB, does not stay in the 50 MB L2). A cluster's
     * blocks (consecutive x, gridDim.x and the group even) keep the same token tile and neighbouring weight tiles. */
    int64_t nt, mt;
    {
        const int64_t gx = gridDim.x, gy = gridDim.y, L = (int64_t)blockIdx.y * gx + blockIdx.x;
        const int64_t first = L / (QN_RS_GROUP * gy) * QN_RS_GROUP, gsize = gx - first < QN_RS_GROUP ? gx - first : QN_RS_GROUP;
        const int64_t i = L % (QN_RS_GROUP * gy);
        nt = first + i % gsize, mt = i / gsize;
    }
    if (tid == 0) {
        for (int s = 0; s < SA; s++) qn_mbar_init(afull(s), 1), qn_mbar_init(aempty(s), 8);
        /* B slots are released by the consumer warps of every block of the cluster */
        for (int s = 0; s < SB; s++) qn_mbar_init(bfull(s), 1), qn_mbar_init(bempty(s), 8 * CL);
        qn_mbar_init_fence();
    }
    if (CL > 1) qn_cluster_sync(); /* every block's barriers initialized before any copy or arrival reaches them */
    else __syncthreads();

    if (tid >= 256) { /* ------------------------------------------------------------ producer: one thread */
        if (big) qn_setmaxnreg_dec<40>(); /* the whole warpgroup, before it splits */
        if (tid == 256) {
            qn_tma_prefetch(&amap);
            const __half *xt = p.xh + (size_t)mt * (size_t)KT * NB * QN_GMMQ_BK;
            const int32_t row0 = (int32_t)(nt * QN_RS_BN);
            for (int64_t i = 0; i < 4 * nka; i++) { /* i: ring count, kt: the K step */
                const int64_t kt = 4 * ka0 + i;
                if ((i & 3) == 0) {
                    const int64_t ka = i >> 2;
                    const int sa = (int)(ka % SA);
                    qn_mbar_wait(aempty(sa), (uint32_t)((ka / SA) & 1) ^ 1u);
                    qn_mbar_arrive_expect_tx(afull(sa), Cfg::a_bytes);
                    qn_tma_load_2d(sbase + Cfg::a_off + sa * Cfg::a_bytes, &amap, afull(sa),
                                   (int32_t)((ka0 + ka) * (Cfg::arow / 2)), row0);
                }
                const int sb = (int)(i % SB);
                qn_mbar_wait(bempty(sb), (uint32_t)((i / SB) & 1) ^ 1u);
                qn_mbar_arrive_expect_tx(bfull(sb), Cfg::b_bytes);
                const __half *src = xt + (size_t)kt * NB * QN_GMMQ_BK;
                if (CL == 1) {
                    qn_bulk_copy(sbase + sb * Cfg::b_bytes, src, Cfg::b_bytes, bfull(sb));
                } else { /* this block's 1 / CL of the slab's tokens, into every block of the cluster */
                    constexpr uint32_t part = Cfg::b_bytes / CL;
                    qn_bulk_copy_mc(sbase + sb * Cfg::b_bytes + rank * part, reinterpret_cast<const uint8_t *>(src) + rank * part,
                                    part, bfull(sb), (uint16_t)((1u << CL) - 1u));
                }
            }
        }
        /* CL > 1: stay until every block of the cluster is done, so no copy this block issued is still landing in
         * another block's shared memory (and no arrival reaches a block that has left) */
        if (CL > 1) qn_cluster_sync();
        return;
    }
    /* ---------------------------------------------------------------------------------- consumers */
    /* 256 tokens (128 accumulators a thread) or two steps' A registers (64): the producer warpgroup's registers go to
     * the consumers (40 + 2 x 232 per 128 threads = 504 <= 512) */
    if (big) qn_setmaxnreg_inc<232>();
    const int warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
    const int r0 = warp * 16 + g; /* the lane's first tile row (warpgroup warp / 4) */
    float acc[NB / 8][4];
#pragma unroll
    for (int j = 0; j < NB / 8; j++) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.0f;

    /* Group of G steps kt0 .. kt0 + G - 1 = 4 ka + j0 ..: their 2 G blocks are j0's.. of A slot sa. All its wgmma in
     * one commit group: G = 2 gives the decode of the next group 512 clocks of this warpgroup's tensor work to hide
     * under instead of 256. */
    typedef uint32_t areg[2 * G][2][4];
    auto group = [&](int64_t kt0, int j0, int sa, areg &a, areg &a_prev) {
        const uint8_t *blk = sm + Cfg::a_off + sa * Cfg::a_bytes + j0 * 2 * Cfg::bb + r0 * Cfg::arow;
#pragma unroll
        for (int c = 0; c < 2 * G; c++) qn_rs_frag<DT>(blk + c * Cfg::bb, blk + c * Cfg::bb + 8 * Cfg::arow, t, a[c]);
        if (j0 + G == 4) { /* the warp's last reads of this A slot are done (values in registers) */
            __syncwarp();
            if (lane == 0) qn_mbar_arrive(aempty(sa));
        }
#pragma unroll
        for (int i = 0; i < G; i++) qn_mbar_wait(bfull((int)((kt0 + i) % SB)), (uint32_t)(((kt0 + i) / SB) & 1));
        qn_wg_fence();
#pragma unroll
        for (int i = 0; i < G; i++) {
            const uint32_t B = sbase + (int)((kt0 + i) % SB) * Cfg::b_bytes;
#pragma unroll
            for (int q = 0; q < 4; q++) /* k16 q of the step: token rows of 128 bytes, 8-row atoms of 1024 */
                qn_rs_mma<NB>(acc, a[2 * i + (q >> 1)][q & 1], qn_wg_desc_sw128(B + 32 * q, 16, 1024));
        }
        qn_wg_commit();
        qn_wg_wait<1>(); /* the previous group's wgmma are done: its A registers and B slots are free */
        qn_wg_keep(a_prev);
        qn_wg_keep(acc);
        if (kt0 > 0) { /* CL > 1: lane r arrives on block r's barrier */
#pragma unroll
            for (int i = 0; i < G; i++) {
                const int sb = (int)((kt0 - G + i) % SB);
                if (CL == 1) {
                    if (lane == 0) qn_mbar_arrive(bempty(sb));
                } else if (lane < CL) {
                    qn_mbar_arrive_cluster(qn_mapa(bempty(sb), (uint32_t)lane));
                }
            }
        }
    };

    areg a0, a1;
#pragma unroll
    for (int c = 0; c < 2 * G; c++)
#pragma unroll
        for (int kk = 0; kk < 2; kk++)
#pragma unroll
            for (int i = 0; i < 4; i++) a0[c][kk][i] = a1[c][kk][i] = 0u;
    /* four steps per A slot (KT is a multiple of 4) in 4 / G groups: the two register sets stay in place, no group or
     * wait under a condition (ptxas serializes the wgmma otherwise, C7515) */
    int64_t ka = 0;
    do { /* at least once (K >= 256): with a loop that may run zero times ptxas serializes the wgmma (C7515) */
        const int sa = (int)(ka % SA);
        qn_mbar_wait(afull(sa), (uint32_t)((ka / SA) & 1));
        if constexpr (G == 1) {
            group(4 * ka, 0, sa, a0, a1);
            group(4 * ka + 1, 1, sa, a1, a0);
            group(4 * ka + 2, 2, sa, a0, a1);
            group(4 * ka + 3, 3, sa, a1, a0);
        } else {
            group(4 * ka, 0, sa, a0, a1);
            group(4 * ka + 2, 2, sa, a1, a0);
        }
    } while (++ka < nka);
    qn_wg_wait<0>();
    qn_wg_keep(acc);
    qn_wg_keep(a0);
    qn_wg_keep(a1);
    float (&acc1)[1][NB / 8][4] = *reinterpret_cast<float (*)[1][NB / 8][4]>(&acc);
    if (gridDim.z > 1) { /* this split's f32 partial sums (scaled) for qn_k_rs_reduce */
        qn_gmmq_args q = p;
        q.yd = QN_DT_F32, q.y = part + (size_t)blockIdx.z * (size_t)p.M * (size_t)p.N;
        qn_gmmq_store<1, NB / 8>(q, acc1, nt * QN_RS_BN + warp * 16, mt * NB, g, t);
    } else {
        qn_gmmq_store<1, NB / 8>(p, acc1, nt * QN_RS_BN + warp * 16, mt * NB, g, t);
    }
    if (CL > 1) qn_cluster_sync();
#else
    (void)amap, (void)p, (void)part;
    __trap(); /* compiled for sm_90a only; the host launches it only on compute capability 9.0 */
#endif
}

/* y = the sum of the splits' partial sums, in y's type (split K). */
__global__ void __launch_bounds__(256) qn_k_rs_reduce(const float *part, int splits, int64_t n, int yd, void *y) {
    qn_pdl_wait(); /* launched as the GEMM's programmatic dependent (mmq20's pdl below): after its partial sums */
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        float v = part[i];
        for (int z = 1; z < splits; z++) v += part[(size_t)z * (size_t)n + (size_t)i];
        qn_st(yd, y, i, v);
    }
}

/* qn_k_rs_reduce four sums a thread (mmq20): 16-byte loads of each split's partial sums, each element added in the
 * same order (split 0, 1, ..), so the same bits; n4 = n / 4, y aligned to 4 elements. */
__global__ void __launch_bounds__(256) qn_k_rs_reduce4(const float4 *part, int splits, int64_t n4, int yd, void *y) {
    qn_pdl_wait();
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n4; i += (int64_t)gridDim.x * blockDim.x) {
        float4 v = part[i];
        for (int z = 1; z < splits; z++) {
            const float4 u = part[(size_t)z * (size_t)n4 + (size_t)i];
            v.x += u.x, v.y += u.y, v.z += u.z, v.w += u.w;
        }
        if (yd == QN_DT_F32) {
            reinterpret_cast<float4 *>(y)[i] = v;
        } else {
            qn_st(yd, y, 4 * i, v.x), qn_st(yd, y, 4 * i + 1, v.y);
            qn_st(yd, y, 4 * i + 2, v.z), qn_st(yd, y, 4 * i + 3, v.w);
        }
    }
}

int qn_gmmq_rs_reduce(const float *part, int splits, int64_t n, int yd, void *y, cudaStream_t s, bool pdl) {
    const int64_t blocks = (n + 255) / 256 < 4096 ? (n + 255) / 256 : 4096;
    if (pdl) { /* mmq20: its launch under the GEMM's epilogue (the GEMM lets it launch: QUANTA_CUDA_GGML_EPI) */
        const bool v4 = n % 4 == 0 && ((uintptr_t)part & 15) == 0 && ((uintptr_t)y & 15) == 0;
        const int64_t b4 = (n / 4 + 255) / 256 < 4096 ? (n / 4 + 255) / 256 : 4096;
        cudaLaunchConfig_t lc = {};
        cudaLaunchAttribute at[1];
        at[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
        at[0].val.programmaticStreamSerializationAllowed = 1;
        lc.gridDim = dim3((unsigned)(v4 ? b4 : blocks)), lc.blockDim = dim3(256), lc.dynamicSmemBytes = 0, lc.stream = s;
        lc.attrs = at, lc.numAttrs = 1;
        const cudaError_t e = v4 ? cudaLaunchKernelEx(&lc, qn_k_rs_reduce4, (const float4 *)part, splits, n / 4, yd, y)
                                 : cudaLaunchKernelEx(&lc, qn_k_rs_reduce, part, splits, n, yd, y);
        return e != cudaSuccess ? (int)e : qn_cu_launch_status();
    }
    qn_k_rs_reduce<<<(unsigned)blocks, 256, 0, s>>>(part, splits, n, yd, y);
    return qn_cu_launch_status();
}

template <int DT, int NB, int CL, int G = 1>
static int qn_rs_launch(const CUtensorMap &m, const qn_gmmq_args &a, cudaStream_t s, int splits = 1, float *part = nullptr) {
    typedef qn_rs_cfg<DT, NB, G> Cfg;
    static bool attr_set = false;
    auto k = qn_k_ggml_mmq_rs<DT, NB, CL, G>;
    if (!attr_set) {
        cudaError_t e = cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, Cfg::smem + 1024);
        if (e != cudaSuccess) return (int)e;
        attr_set = true;
    }
    /* whole clusters along the weight rows: a block past N reads zeros (the TMA box) and stores nothing */
    const int64_t gx = ((a.N + QN_RS_BN - 1) / QN_RS_BN + CL - 1) / CL * CL, gy = (a.M + NB - 1) / NB;
    if (gx > 0x7fffffff || gy > 65535) return (int)cudaErrorInvalidValue;
    if (CL == 1) {
        k<<<dim3((unsigned)gx, (unsigned)gy, (unsigned)splits), Cfg::threads, Cfg::smem + 1024, s>>>(m, a, part);
        int e = qn_cu_launch_status();
        if (e || splits == 1) return e;
        return qn_gmmq_rs_reduce(part, splits, a.M * a.N, a.yd, a.y, s);
    }
    cudaLaunchConfig_t cfg = {};
    cudaLaunchAttribute at[1];
    at[0].id = cudaLaunchAttributeClusterDimension;
    at[0].val.clusterDim.x = CL, at[0].val.clusterDim.y = 1, at[0].val.clusterDim.z = 1;
    cfg.gridDim = dim3((unsigned)gx, (unsigned)gy), cfg.blockDim = dim3(Cfg::threads), cfg.dynamicSmemBytes = Cfg::smem + 1024;
    cfg.stream = s, cfg.attrs = at, cfg.numAttrs = 1;
    const cudaError_t e = cudaLaunchKernelEx(&cfg, k, m, a, part); /* (clusters: never split) */
    return e != cudaSuccess ? (int)e : qn_cu_launch_status();
}

/* Tokens per tile: 128 where the grid of 128x128 tiles covers about 3/4 of the SMs, else 64;
 * QUANTA_CUDA_GGML_MMQ_TILE=rs128x128 / rs128x64 force one, rs128x128c2 / rs128x64c2 the same in clusters of two
 * blocks along the weight rows (the tile's tokens read from L2 once per cluster, multicast: half the activation
 * traffic; forced only until measured); rs128x256 / rs128x256c2 256 tokens (m64n256k16: B read once per 256
 * tokens of decoded weights, half the codes' shared-memory reads per flop; forced only); rs128x128g2 the 128x128
 * tile with two steps (8 wgmma) per commit group (forced only). */
/* Round-2 forms for the auto pick, each one constant (0: forced only): QN_RS_N256_DEFAULT the 256-token tile where its
 * grid still covers about 3/4 of the SMs; QN_RS_G2_DEFAULT two steps per wgmma group on the 128-token tile. Both on
 * since mmq15 (H100, call of 20:05, verify_mmq14.sh, outputs equal to the previous pick, maxdiff 0): the 256-token
 * tile 1.19-1.39x the 128x128 pick at M = 2048 (4096 and 14336 rows) and at M = 512 on 14336 rows, but 0.73-0.82x at
 * M = 512 on 4096 rows (64 blocks) — the grid rule below separates them; g2 1.06-1.11x where 128x128 stays (512 x
 * 4096). */
#define QN_RS_N256_DEFAULT 1
#define QN_RS_G2_DEFAULT 1
static int qn_rs_nb_of(int64_t M, int64_t N, int sms) {
    const int ft = qn_gmmq_forced_tile();
    if (ft == 20 || ft == 21) return 256;
    if (ft == 16 || ft == 18 || ft == 22) return 128;
    if (ft == 17 || ft == 19) return 64;
    const int64_t want = (int64_t)(sms > 0 ? sms : 132) * 3 / 4, rows = (N + QN_RS_BN - 1) / QN_RS_BN;
    if (QN_RS_N256_DEFAULT && ft != 23 && rows * ((M + 255) / 256) >= want) return 256;
    return rows * ((M + 127) / 128) >= want ? 128 : 64;
}
static int qn_rs_nb(const qn_gmmq_args &a, int sms) { return qn_rs_nb_of(a.M, a.N, sms); }

/* K splits where the tiles leave the GPU short: about 128 blocks, at most 4 splits, at least 4 A slots (1024 of K)
 * each; 1 unless forced (QUANTA_CUDA_GGML_MMQ_TILE=rssplit: the auto tile, split where this says so) or
 * QN_RS_SPLIT_DEFAULT. Fixed numbers, not the SM count, so that the scratch size (qn_gmmq_rs_part_bytes) and the run
 * agree. */
/* On since mmq15: 1.19-1.68x the unsplit pick on 1024 x 4096 at M = 256 / 512 (H100, 20:05; maxdiff 2e-6 to 5e-6, the
 * splits summed in f32 in another order). */
#define QN_RS_SPLIT_DEFAULT 1
int qn_gmmq_rs_splits_rule(int64_t M, int64_t N, int64_t K, int nb) {
    const int64_t blocks = (N + QN_RS_BN - 1) / QN_RS_BN * ((M + nb - 1) / nb), KA = K / QN_RS_KA;
    int64_t sp = blocks > 0 ? 128 / blocks : 1;
    if (sp > 4) sp = 4;
    if (sp > KA / 4) sp = KA / 4;
    return sp > 1 ? (int)sp : 1;
}
static int qn_rs_splits(int64_t M, int64_t N, int64_t K, int nb) {
    return QN_RS_SPLIT_DEFAULT || qn_gmmq_forced_tile() == 23 ? qn_gmmq_rs_splits_rule(M, N, K, nb) : 1;
}
size_t qn_gmmq_rs_part_bytes(int64_t M, int64_t N, int64_t K) {
    if (K % QN_RS_KA || M <= 64) return 0;
    /* reserved whether or not splitting is on (a few MB on the shapes it splits), for the most splits the auto tile
     * can take (128 tokens: the fewest blocks): a benchmark sizes the scratch once, then forces tiles */
    const int sp = qn_gmmq_rs_splits_rule(M, N, K, 128);
    return sp > 1 ? (size_t)sp * (size_t)M * (size_t)N * 4 : 0;
}

template <int DT> static int qn_rs_go(const qn_gmmq_args &a, int x_dtype, const void *x, int sms, float *part,
                                      size_t part_bytes, cudaStream_t s) {
    typedef qn_rs_cfg<DT, 128> Cfg;
    /* the weight as [N][rb / 2] 16-bit elements, boxes of 128 rows x 256 of K */
    CUtensorMap m;
    if (qn_tma_encode_2d(&m, CU_TENSOR_MAP_DATA_TYPE_UINT16, a.w, (uint64_t)(a.rb / 2), (uint64_t)a.N, (uint64_t)a.rb,
                         Cfg::arow / 2, QN_RS_BN, CU_TENSOR_MAP_SWIZZLE_NONE))
        return -1; /* no encoder, or a map the driver refuses: the default route */
    const int nb = qn_rs_nb(a, sms);
    const int e = qn_gmmq_prep_xt(x_dtype, x, a, nb, true, s);
    if (e) return e;
    const int ft = qn_gmmq_forced_tile();
    int sp = qn_rs_splits(a.M, a.N, a.K, nb);
    if (sp > 1 && (nb > 128 || !part || part_bytes < (size_t)sp * (size_t)a.M * (size_t)a.N * 4)) sp = 1;
    if (sp > 1) return nb == 128 ? qn_rs_launch<DT, 128, 1>(m, a, s, sp, part) : qn_rs_launch<DT, 64, 1>(m, a, s, sp, part);
    if (ft == 22 || (QN_RS_G2_DEFAULT && ft == 0 && nb == 128)) return qn_rs_launch<DT, 128, 1, 2>(m, a, s);
    if (ft == 20 || (ft == 0 && nb == 256)) return qn_rs_launch<DT, 256, 1>(m, a, s);
    if (ft == 21) return qn_rs_launch<DT, 256, 2>(m, a, s);
    if (ft == 18 || ft == 19) return nb == 128 ? qn_rs_launch<DT, 128, 2>(m, a, s) : qn_rs_launch<DT, 64, 2>(m, a, s);
    return nb == 128 ? qn_rs_launch<DT, 128, 1>(m, a, s) : qn_rs_launch<DT, 64, 1>(m, a, s);
}

int qn_gmmq_rs_run(int w_dtype, int x_dtype, const void *x, const qn_gmmq_args &a, int sms, void *part,
                   size_t part_bytes, cudaStream_t s) {
    if (!qn_gmmq_rs_applies(w_dtype, a)) return -1;
    float *pf = (float *)part;
    return w_dtype == QN_DT_GGML_Q4_0 ? qn_rs_go<QN_DT_GGML_Q4_0>(a, x_dtype, x, sms, pf, part_bytes, s)
                                     : qn_rs_go<QN_DT_GGML_Q8_0>(a, x_dtype, x, sms, pf, part_bytes, s);
}
