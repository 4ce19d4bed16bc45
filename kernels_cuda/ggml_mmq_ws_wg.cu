/* ggml_mmq_ws_wg.cu — y[M,N] = x[M,K] . W[N,K]^T for ggml-block weights on Hopper's warpgroup MMA with the
 * warps split by job (mmq13; QUANTA_CUDA_GGML_MMQ=13, M > 64 on compute capability 9.0, sm_90a only).
 *
 * Why (bench/NOTES.md, mmq13): ggml_mmq_wg.cu has every warp decode its own A fragments between its wgmma,
 * one block barrier per step; its best tile reaches 233 TFLOP/s (24% of the dense f16 rate) and its 4-8-warp
 * tiles 90-130: the decode and the barrier sit in the wgmma's issue chain. Here two warpgroups only wait and
 * issue wgmma with both operands from shared memory, and two other warpgroups (the producers) fill the
 * stages: the weights decoded once per block into f16 in wgmma's layout, the activations by one bulk copy.
 *
 * Block: 512 threads. Warpgroups 0-1 (consumers): rows 64w .. 64w + 63 of the 128-row tile, all NB tokens,
 * wgmma m64nNBk16 (SS). Warpgroups 2-3 (producers, thread pt = tid - 256): the raw GGUF words of the tile's
 * rows arrive two steps ahead by 4-byte cp.async into a 3-slot ring (qn_gmmq_rawcopy, as the other kernels);
 * per 64-wide step each producer thread decodes one 32-element chunk (tile row (pt & 31) + 32 (pt >> 6),
 * chunk (pt >> 5) & 1) with ggml_mmq.cu's decoder (qn_ggml_load_chunk + qn_gmmq_chunk_f16: the same f16
 * values as every other kernel here) and stores it as four 16-byte pieces; a warp's stores cover 32
 * consecutive rows of one K slice, 512 contiguous bytes.
 *
 * Stage s (S of them): A = [8 K slices][128 rows][8 f16], B = [8 K slices][NB tokens][8 f16] (wgmma's
 * K-major core matrices without swizzle: leading offset = the slice pitch, stride offset = 128 bytes). B is
 * one contiguous piece of the activations, which qn_k_gmmq_prep_xt writes in that tiled order, so one
 * cp.async.bulk of NB * 128 bytes fills it. Barriers: full[s] (256 producer arrivals after their stores and
 * a proxy fence, + 1 arrival with the bulk copy's byte count), empty[s] (one arrival per consumer warp once
 * its wgmma of that stage are done). n-th use of a stage: full waited on parity n & 1, empty on (n & 1) ^ 1.
 *
 * Numerics: the weights and activations are the f16 values of ggml_mmq_frag.cu / ggml_mmq_wg.cu; f32 sums
 * in wgmma's order (as ggml_mmq_wg.cu): equal to the other kernels to f32 rounding.
 */
#include "ggml_mmq.cuh"
#include "sm90a_device.cuh"

#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define QN_WS_HAVE 1
#include "wgmma.cuh"
#else
#define QN_WS_HAVE 0
#endif

#define QN_WS_BN 128   /* weight rows per tile: two consumer warpgroups of 64 */

template <int DT, int NB> struct qn_ws_cfg {
    typedef qn_gmmq_raw<DT> Raw;
    /* producer threads: 256 (one chunk each per step), 128 with 256 tokens (two each: 384 threads leave 168
     * registers a thread for the consumers' 128 accumulators; at 512 threads ptxas cannot fit the n256 wgmma) */
    static constexpr int prod = NB == 256 ? 128 : 256, cpt = 2 * QN_WS_BN / prod;
    static constexpr int threads = 256 + prod;
    static constexpr int a_bytes = QN_WS_BN * QN_GMMQ_BK * 2, b_bytes = NB * QN_GMMQ_BK * 2;
    static constexpr int stage = a_bytes + b_bytes;
    static constexpr int raw_bytes = (QN_WS_BN * Raw::words * 4 + 127) / 128 * 128;
    /* stages: as many as fit in ~200 KB (224 KB for 256 tokens) beside the 3 raw slots, 2 to 6 */
    static constexpr int budget = (NB == 256 ? 224 : 200) * 1024;
    static constexpr int S0 = (budget - 3 * raw_bytes) / stage, S = S0 < 2 ? 2 : S0 > 6 ? 6 : S0;
    static constexpr int raw_off = S * stage, bar_off = raw_off + 3 * raw_bytes;
    static constexpr int smem = bar_off + 2 * S * 8;
    static_assert(cpt * prod == 2 * QN_WS_BN, "whole chunks per producer thread and step");
};

/* Activations in the tiled order the bulk copy reads: xt[tile = m / nb][kt][slice (k / 8) % 8][m % nb][k % 8],
 * f16, row m times the power of two that puts its largest |x| in [2^13, 2^14) (as qn_k_gmmq_prep_x), zero
 * past K and for rows M .. Mt - 1 (the last tile's rest). One block per row (grid-stride). */
__global__ void __launch_bounds__(256) qn_k_gmmq_prep_xt(int xd, const void *x, int64_t M, int64_t Mt, int64_t K,
                                                         int64_t Kp, int nb, int sw, int perm, __half *xt, float *xscale) {
    __shared__ float sh[32];
    const int64_t KT = Kp / QN_GMMQ_BK;
    uint4 *xt4 = reinterpret_cast<uint4 *>(xt);
    for (int64_t m = blockIdx.x; m < Mt; m += gridDim.x) {
        float f = 0.0f;
        if (m < M) { /* uniform per block: qn_block_max syncs the block */
            float m0 = 0.0f;
            for (int64_t k = threadIdx.x; k < K; k += blockDim.x) m0 = fmaxf(m0, fabsf(qn_ld(xd, x, m * K + k)));
            const int e = qn_x_pow2_exponent(qn_block_max(m0, sh));
            f = ldexpf(1.0f, e);
            if (threadIdx.x == 0) xscale[m] = ldexpf(1.0f, -e);
        }
        const int64_t tile = m / nb, r = m % nb;
        for (int64_t pc = threadIdx.x; pc < Kp / 8; pc += blockDim.x) {
            const int64_t k0 = pc * 8;
            uint32_t h[4];
#pragma unroll
            for (int e = 0; e < 4; e++) {
                /* perm: element k of the kernel's order is x's element qn_gmmq_kperm (K is then a multiple of 256) */
                const int64_t k = k0 + 2 * e, ka = perm ? qn_gmmq_kperm(perm, k) : k, kb = perm ? qn_gmmq_kperm(perm, k + 1) : k + 1;
                const float v0 = m < M && k < K ? qn_ld(xd, x, m * K + ka) * f : 0.0f;
                const float v1 = m < M && k + 1 < K ? qn_ld(xd, x, m * K + kb) * f : 0.0f;
                h[e] = qn_h2u(__floats2half2_rn(v0, v1));
            }
            const int64_t j = (k0 >> 3) & 7; /* swizzled: token r's 128 bytes, piece j at j ^ (r % 8) */
            xt4[(tile * KT + (k0 >> 6)) * 8 * nb + (sw ? r * 8 + (j ^ (r & 7)) : j * nb + r)] =
                make_uint4(h[0], h[1], h[2], h[3]);
        }
    }
}

/* The same swizzled tiled order (sw), for K a multiple of 32 with K == Kp and 16-byte aligned rows (mmq15): the row's
 * max by 16-byte loads, then one thread per 32-element block (its 32 values by 16-byte loads, the block's four
 * 16-byte pieces stored, in the permuted order of qn_gmmq_kperm when PERM): x read in wide pieces once for the max
 * and once for the values, where qn_k_gmmq_prep_xt reads it element by element. The same f16 values. */
template <int XD> __device__ __forceinline__ void qn_prep_ld16(const void *x, int64_t i16, float (&v)[8], int &n) {
    if (XD == QN_DT_F32) { /* 4 floats */
        const float4 q = reinterpret_cast<const float4 *>(x)[i16];
        v[0] = q.x, v[1] = q.y, v[2] = q.z, v[3] = q.w, n = 4;
    } else { /* 8 halves */
        const uint4 q = reinterpret_cast<const uint4 *>(x)[i16];
        const uint32_t u[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
        for (int i = 0; i < 4; i++) {
            if (XD == QN_DT_F16) {
                const float2 f2 = __half22float2(qn_u2h(u[i]));
                v[2 * i] = f2.x, v[2 * i + 1] = f2.y;
            } else {
                v[2 * i] = __uint_as_float(u[i] << 16), v[2 * i + 1] = __uint_as_float(u[i] & 0xFFFF0000u);
            }
        }
        n = 8;
    }
}
template <int PERM, bool ODD>
__device__ __forceinline__ void qn_prep_block_store(const float (&v)[32], float f, uint4 *dst, int r) {
#pragma unroll
    for (int q = 0; q < 4; q++) { /* the block's virtual slice q: elements 8q .. 8q + 7 of the kernel's order */
        uint32_t h[4];
        int wi = 0;
#pragma unroll
        for (int e = 0; e < 4; e++) { /* ggml_xslab.cuh: the pair's elements, the word's place, its f16 values */
            int k0, k1;
            wi = qn_xslab_word(PERM, ODD, 4 * q + e, r, &k0, &k1);
            h[e] = qn_xslab_pack(v[k0], v[k1], f);
        }
        dst[wi >> 2] = make_uint4(h[0], h[1], h[2], h[3]); /* the slice's piece, swizzled */
    }
}
/* MU (mmq16): 16-byte loads of the max pass in flight per thread. 1: one a loop trip, each waiting for its load (the
 * 21:03 / 00:11 calls: the prep costs 9 µs at 512 x 4096 and 30 µs at 512 x 14336 of f32 x, ~1 TB/s); 4: four
 * (QUANTA_CUDA_GGML_PREP_MU=4). The max of |x| is exact in any order: the same bits. */
template <int XD, int PERM, int MU>
__global__ void __launch_bounds__(256) qn_k_gmmq_prep_xt_v(const void *x, int64_t M, int64_t Mt, int64_t K, int nb,
                                                           __half *xt, float *xscale) {
    __shared__ float sh[32];
    /* a GEMM launched as this grid's programmatic dependent (QUANTA_CUDA_GGML_PDL, mmq16) may start setting up now:
     * it reads nothing of ours before its griddepcontrol.wait (a no-op for any other next kernel) */
    qn_pdl_launch();
    constexpr int per16 = XD == QN_DT_F32 ? 4 : 8; /* elements per 16 bytes */
    const int64_t KT = K / QN_GMMQ_BK, nblk = K / 32;
    uint4 *xt4 = reinterpret_cast<uint4 *>(xt);
    for (int64_t m = blockIdx.x; m < Mt; m += gridDim.x) {
        float f = 0.0f;
        const int64_t row16 = m * K / per16; /* the row's first 16-byte piece */
        if (m < M) { /* uniform per block: qn_block_max syncs the block */
            float m0 = 0.0f, v[8], mu[MU];
            int n;
            int64_t i = threadIdx.x;
            if constexpr (MU > 1) {
#pragma unroll
                for (int u = 0; u < MU; u++) mu[u] = 0.0f;
                for (; i + (MU - 1) * (int64_t)blockDim.x < K / per16; i += MU * (int64_t)blockDim.x) {
                    float w[MU][8];
#pragma unroll
                    for (int u = 0; u < MU; u++) qn_prep_ld16<XD>(x, row16 + i + u * (int64_t)blockDim.x, w[u], n);
#pragma unroll
                    for (int u = 0; u < MU; u++)
#pragma unroll
                        for (int e = 0; e < per16; e++) mu[u] = fmaxf(mu[u], fabsf(w[u][e]));
                }
#pragma unroll
                for (int u = 0; u < MU; u++) m0 = fmaxf(m0, mu[u]);
            }
            for (; i < K / per16; i += blockDim.x) {
                qn_prep_ld16<XD>(x, row16 + i, v, n);
#pragma unroll
                for (int e = 0; e < per16; e++) m0 = fmaxf(m0, fabsf(v[e]));
            }
            float inv;
            f = qn_xslab_factor(qn_block_max(m0, sh), &inv);
            if (threadIdx.x == 0) xscale[m] = inv;
        }
        const int r = (int)(m % nb);
        for (int64_t c = threadIdx.x; c < nblk; c += blockDim.x) {
            float v[32];
            if (m < M) {
#pragma unroll
                for (int i = 0; i < 32 / per16; i++) {
                    float w[8];
                    int n;
                    qn_prep_ld16<XD>(x, row16 + c * (32 / per16) + i, w, n);
#pragma unroll
                    for (int e = 0; e < per16; e++) v[i * per16 + e] = w[e];
                }
            } else {
#pragma unroll
                for (int i = 0; i < 32; i++) v[i] = 0.0f;
            }
            uint4 *dst = qn_xslab_row(xt4, KT, nb, m, c); /* token r's 128 bytes of step c / 2 */
            if (c & 1) qn_prep_block_store<PERM, true>(v, f, dst, r);
            else qn_prep_block_store<PERM, false>(v, f, dst, r);
        }
    }
}

/* The same output in one pass over x (mmq17, QUANTA_CUDA_GGML_PREP1=1): the max pass above issues a row's loads a few
 * at a time and then the value pass reads the row again, so each row waits on several memory round trips (the 02:25
 * call: 7 µs at 512 x 4096, 27 µs at 512 x 14336 of f32 x against 4.5 / 16 µs of bytes at ~2.8 TB/s). Here each
 * thread loads its BPT whole 32-element blocks at once (all loads in flight), keeps them in registers through the
 * block's max, and stores them scaled: one round trip a row. blockDim = the row's blocks / BPT rounded up to warps
 * (128 threads at K = 4096, 448 at 14336). The same f16 values and scales as the kernel above (the max is exact in
 * any order; each value is v * f rounded once by the same store). */
template <int XD, int PERM, int BPT>
__global__ void __launch_bounds__(512) qn_k_gmmq_prep_xt_1p(const void *x, int64_t M, int64_t Mt, int64_t K, int nb,
                                                            __half *xt, float *xscale) {
    __shared__ float sh[32];
    qn_pdl_launch(); /* as qn_k_gmmq_prep_xt_v */
    constexpr int per16 = XD == QN_DT_F32 ? 4 : 8, L = 32 / per16; /* 16-byte loads per block */
    const int64_t KT = K / QN_GMMQ_BK, nblk = K / 32;
    uint4 *xt4 = reinterpret_cast<uint4 *>(xt);
    for (int64_t m = blockIdx.x; m < Mt; m += gridDim.x) {
        float v[BPT][32], m0 = 0.0f;
        const int64_t row16 = m * K / per16;
#pragma unroll
        for (int b = 0; b < BPT; b++) {
            const int64_t c = threadIdx.x + b * (int64_t)blockDim.x;
#pragma unroll
            for (int i = 0; i < L; i++) {
                float w[8];
                int n;
                if (m < M && c < nblk) qn_prep_ld16<XD>(x, row16 + c * L + i, w, n);
                else
#pragma unroll
                    for (int e = 0; e < 8; e++) w[e] = 0.0f;
#pragma unroll
                for (int e = 0; e < per16; e++) v[b][i * per16 + e] = w[e];
            }
        }
        float f = 0.0f;
        if (m < M) { /* uniform per block: qn_block_max syncs the block */
#pragma unroll
            for (int b = 0; b < BPT; b++)
#pragma unroll
                for (int e = 0; e < 32; e++) m0 = fmaxf(m0, fabsf(v[b][e]));
            float inv;
            f = qn_xslab_factor(qn_block_max(m0, sh), &inv);
            if (threadIdx.x == 0) xscale[m] = inv;
        }
        const int r = (int)(m % nb);
#pragma unroll
        for (int b = 0; b < BPT; b++) {
            const int64_t c = threadIdx.x + b * (int64_t)blockDim.x;
            if (c >= nblk) continue;
            uint4 *dst = qn_xslab_row(xt4, KT, nb, m, c); /* token r's 128 bytes of step c / 2 */
            if (c & 1) qn_prep_block_store<PERM, true>(v[b], f, dst, r);
            else qn_prep_block_store<PERM, false>(v[b], f, dst, r);
        }
    }
}

/* QUANTA_CUDA_GGML_PREP1=1 (mmq17; qn_cuda_ggml_mmq_prep1 for benchmarks): the one-pass prep above where it applies
 * (the wide-load prep's conditions, K <= 32768); off until a device run measures it faster. */
int qn_cuda_ggml_mmq_prep1 = -1;
static bool qn_prep1_wanted() { return qn_gmmq_switch(qn_cuda_ggml_mmq_prep1, "QUANTA_CUDA_GGML_PREP1", "1"); }

/* QUANTA_CUDA_GGML_PREP_MU (mmq16; qn_cuda_ggml_mmq_prep_mu for benchmarks): the wide-load prep's max pass with four
 * loads in flight (MU above). 4 by default since mmq17 (H100 02:25: 1.01-1.07x at M = 2048, 0.99-1.03x at 512, the
 * same bits, conformance 18/0); QUANTA_CUDA_GGML_PREP_MU=1 restores one load a trip. */
int qn_cuda_ggml_mmq_prep_mu = -1;
static int qn_prep_mu() {
    if (qn_cuda_ggml_mmq_prep_mu < 0) {
        const char *e = getenv("QUANTA_CUDA_GGML_PREP_MU");
        qn_cuda_ggml_mmq_prep_mu = e && !strcmp(e, "1") ? 1 : 4;
    }
    return qn_cuda_ggml_mmq_prep_mu;
}

/* QUANTA_CUDA_GGML_PREP2=1: the wide-load prep above for =15 / =16 too (=17 always takes it); off by default until a
 * device run shows it faster (its outputs are the same bits). */
static bool qn_prep2_wanted() {
    static int on = -1;
    return qn_gmmq_switch(on, "QUANTA_CUDA_GGML_PREP2", "1");
}

#if QN_WS_HAVE
template <int NB> __device__ __forceinline__ void qn_ws_mma(float (&d)[NB / 8][4], uint64_t ad, uint64_t bd);
template <> __device__ __forceinline__ void qn_ws_mma<64>(float (&d)[8][4], uint64_t ad, uint64_t bd) {
    qn_wg_mma16_ss_n64<0>(d, ad, bd, 1);
}
template <> __device__ __forceinline__ void qn_ws_mma<128>(float (&d)[16][4], uint64_t ad, uint64_t bd) {
    qn_wg_mma16_ss_n128<0>(d, ad, bd, 1);
}
template <> __device__ __forceinline__ void qn_ws_mma<256>(float (&d)[32][4], uint64_t ad, uint64_t bd) {
    qn_wg_mma16_ss_n256(d, ad, bd);
}
#endif

/* The weight dequantized (QUANTA_CUDA_GGML_MMQ=14) into the kernel's A order, one thread per 32-element chunk
 * (mmq5's decoder, the same f16 values): wt[row tile n / 128][kt][slice][n % 128][8 f16], zero past N and K. */
template <int DT>
__global__ void __launch_bounds__(256) qn_k_gmmq_dq(const uint8_t *w, size_t rb, int64_t N, int64_t K, int sw, uint4 *wt) {
    const int r = threadIdx.x & 127, csel = threadIdx.x >> 7;
    const int64_t kt = blockIdx.x, nt = blockIdx.y, n = nt * QN_WS_BN + r, c = kt * 2 + csel;
    const bool live = n < N && c * 32 < K;
    qn_ggml_chunk ch;
    if (live) qn_ggml_load_chunk<DT>(w + (size_t)n * rb, c, ch);
    uint32_t h[16];
    qn_gmmq_chunk_f16<DT>(ch, live, h);
    uint4 *tile = wt + (nt * gridDim.x + kt) * 8 * QN_WS_BN;
#pragma unroll
    for (int v = 0; v < 4; v++) { /* slice j = 4 csel + v; swizzled: row r's 128 bytes, piece j at j ^ (r % 8) */
        const int j = 4 * csel + v;
        tile[sw ? r * 8 + (j ^ (r & 7)) : j * QN_WS_BN + r] = make_uint4(h[4 * v], h[4 * v + 1], h[4 * v + 2], h[4 * v + 3]);
    }
}

template <int DT, int NB, bool DQ, bool SW>
__global__ void __launch_bounds__(qn_ws_cfg<DT, NB>::threads, 1) qn_k_ggml_mmq_ws(qn_gmmq_args p, const __half *wt) {
#if QN_WS_HAVE
    typedef qn_ws_cfg<DT, NB> Cfg;
    typedef qn_gmmq_raw<DT> Raw;
    constexpr int BN = QN_WS_BN, S = Cfg::S;
    extern __shared__ __align__(128) uint8_t qn_ws_smem_raw[];
    /* stages on 1024-byte boundaries (the 128-byte swizzle's atoms; Cfg::smem + 1024 is allocated) */
    uint8_t *qn_ws_smem = qn_ws_smem_raw + ((1024u - (qn_smem_u32(qn_ws_smem_raw) & 1023u)) & 1023u);
    const int tid = threadIdx.x;
    const int64_t n0 = (int64_t)blockIdx.x * BN, m0 = (int64_t)blockIdx.y * NB;
    const int64_t KT = p.Kp / QN_GMMQ_BK;
    const uint32_t sbase = qn_smem_u32(qn_ws_smem), bars = sbase + Cfg::bar_off;
    auto full = [&](int s) { return bars + 8u * (uint32_t)s; };
    auto empty = [&](int s) { return bars + 8u * (uint32_t)(S + s); };
    if (tid == 0) {
        for (int s = 0; s < S; s++) {
            qn_mbar_init(full(s), DQ ? 1 : Cfg::prod + 1);
            qn_mbar_init(empty(s), 8);
        }
        qn_mbar_init_fence();
    }
    __syncthreads();

    if (DQ && tid >= 256) { /* ------------------------------- producer of the dense form: one thread, bulk copies */
        if (tid == 256) {
            const __half *xt = p.xh + (size_t)blockIdx.y * (size_t)KT * NB * QN_GMMQ_BK;
            const __half *at = wt + (size_t)blockIdx.x * (size_t)KT * BN * QN_GMMQ_BK;
            for (int64_t kt = 0; kt < KT; kt++) {
                const int s = (int)(kt % S);
                qn_mbar_wait(empty(s), (uint32_t)((kt / S) & 1) ^ 1u);
                const uint32_t A = sbase + s * Cfg::stage;
                qn_mbar_arrive_expect_tx(full(s), Cfg::a_bytes + Cfg::b_bytes);
                qn_bulk_copy(A, at + (size_t)kt * BN * QN_GMMQ_BK, Cfg::a_bytes, full(s));
                qn_bulk_copy(A + Cfg::a_bytes, xt + (size_t)kt * NB * QN_GMMQ_BK, Cfg::b_bytes, full(s));
            }
        }
    } else if (tid >= 256) { /* ---------------------------------------------------------------- producers */
        const int pt = tid - 256;
        const size_t wbytes = (size_t)p.N * p.rb;
        uint8_t *raw0 = qn_ws_smem + Cfg::raw_off;
        qn_gmmq_rawcopy<DT, BN, Cfg::prod> rc(p, n0, pt);
        rc.issue(reinterpret_cast<uint32_t *>(raw0), p, n0, pt, 0, wbytes);
        qn_cp_async_commit();
        if (KT > 1) rc.issue(reinterpret_cast<uint32_t *>(raw0 + Cfg::raw_bytes), p, n0, pt, 1, wbytes);
        qn_cp_async_commit();
        /* chunk id = pt + prod i of the step's 256: tile row (id & 31) + 32 (id >> 6), chunk (id >> 5) & 1 */
        int wrow[Cfg::cpt], wsel[Cfg::cpt], rsh[Cfg::cpt];
        bool wthread[Cfg::cpt];
#pragma unroll
        for (int i = 0; i < Cfg::cpt; i++) {
            const int id = pt + Cfg::prod * i;
            wrow[i] = (id & 31) + 32 * (id >> 6), wsel[i] = (id >> 5) & 1;
            wthread[i] = n0 + wrow[i] < p.N;
            rsh[i] = (int)(((size_t)(n0 + wrow[i]) * p.rb) & 3);
        }
        const __half *xt = p.xh + (size_t)blockIdx.y * (size_t)KT * NB * QN_GMMQ_BK;
        for (int64_t kt = 0; kt < KT; kt++) {
            const int s = (int)(kt % S);
            const uint32_t ph = (uint32_t)((kt / S) & 1);
            qn_cp_async_wait<1>();  /* this thread's raw words of step kt landed */
            qn_named_sync(1, Cfg::prod); /* everyone's; everyone has decoded step kt - 1 (its slot is reused next) */
            qn_mbar_wait(empty(s), ph ^ 1u); /* the consumers are done with the stage's previous use */
            uint8_t *A = qn_ws_smem + s * Cfg::stage;
            if (pt == 0) {
                qn_mbar_arrive_expect_tx(full(s), Cfg::b_bytes);
                qn_bulk_copy(qn_smem_u32(A + Cfg::a_bytes), xt + (size_t)kt * NB * QN_GMMQ_BK, Cfg::b_bytes, full(s));
            }
#pragma unroll
            for (int i = 0; i < Cfg::cpt; i++) {
                const int64_t c = kt * 2 + wsel[i]; /* chunk of the row */
                const bool live = wthread[i] && c * 32 < p.K;
                qn_ggml_chunk ch;
                if (live) {
                    const uint8_t *rowb = raw0 + (kt % 3) * Cfg::raw_bytes + wrow[i] * (4 * Raw::words) +
                                          ((rsh[i] + (int)(Raw::koff(kt) & 3)) & 3);
                    qn_ggml_load_chunk<DT>(rowb, Raw::super ? (c & 7) : wsel[i], ch);
                }
                uint32_t h[16];
                qn_gmmq_chunk_f16<DT>(ch, live, h);
                uint4 *dst = reinterpret_cast<uint4 *>(A + (4 * wsel[i]) * (BN * 16) + wrow[i] * 16);
#pragma unroll
                for (int v = 0; v < 4; v++) dst[v * BN] = make_uint4(h[4 * v], h[4 * v + 1], h[4 * v + 2], h[4 * v + 3]);
            }
            qn_fence_proxy_async(); /* the stores, before wgmma's reads (async proxy) */
            qn_mbar_arrive(full(s));
            /* step kt + 2's raw words into the slot step kt - 1 used, after the fence and the arrival (round 1:
             * issued before them, the fence may wait for these copies' global loads) */
            if (kt + 2 < KT)
                rc.issue(reinterpret_cast<uint32_t *>(raw0 + ((kt + 2) % 3) * Cfg::raw_bytes), p, n0, pt, kt + 2, wbytes);
            qn_cp_async_commit();
        }
        qn_cp_async_wait<0>();
    } else { /* ---------------------------------------------------------------- consumers */
        const int wg = tid >> 7, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
        float acc[NB / 8][4];
#pragma unroll
        for (int j = 0; j < NB / 8; j++) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.0f;
        for (int64_t kt = 0; kt < KT; kt++) {
            const int s = (int)(kt % S);
            qn_mbar_wait(full(s), (uint32_t)((kt / S) & 1));
            const uint32_t A = sbase + s * Cfg::stage, B = A + Cfg::a_bytes;
            qn_wg_fence();
#pragma unroll
            for (int q = 0; q < 4; q++) /* k16 q of the step: slices 2q, 2q + 1 */
                if constexpr (SW) /* rows of 128 bytes (the step's 64 of K), 8-row atoms of 1024 bytes */
                    qn_ws_mma<NB>(acc, qn_wg_desc_sw128(A + 32 * q + wg * 64 * 128, 16, 1024),
                                  qn_wg_desc_sw128(B + 32 * q, 16, 1024));
                else
                    qn_ws_mma<NB>(acc, qn_wg_desc(A + 2 * q * (BN * 16) + wg * 64 * 16, BN * 16, 128),
                                  qn_wg_desc(B + 2 * q * (NB * 16), NB * 16, 128));
            qn_wg_commit();
            qn_wg_wait<1>(); /* step kt - 1's wgmma are done: its stage is free */
            qn_wg_keep(acc);
            if (kt > 0 && lane == 0) qn_mbar_arrive(empty((int)((kt - 1) % S)));
        }
        qn_wg_wait<0>();
        qn_wg_keep(acc);
        float (&acc1)[1][NB / 8][4] = *reinterpret_cast<float (*)[1][NB / 8][4]>(&acc);
        qn_gmmq_store<1, NB / 8>(p, acc1, n0 + warp * 16, m0, g, t);
    }
#else
    (void)p;
    __trap(); /* compiled for sm_90a only; the host launches it only on compute capability 9.0 */
#endif
}

template <int DT, int NB, bool DQ, bool SW = false>
static int qn_ws_launch(const qn_gmmq_args &a, const __half *wt, cudaStream_t s) {
    typedef qn_ws_cfg<DT, NB> Cfg;
    static bool attr_set = false;
    auto k = qn_k_ggml_mmq_ws<DT, NB, DQ, SW>;
    if (!attr_set) {
        cudaError_t e = cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, Cfg::smem + 1024);
        if (e != cudaSuccess) return (int)e;
        attr_set = true;
    }
    const int64_t gx = (a.N + QN_WS_BN - 1) / QN_WS_BN, gy = (a.M + NB - 1) / NB;
    if (gx > 0x7fffffff || gy > 65535) return (int)cudaErrorInvalidValue;
    k<<<dim3((unsigned)gx, (unsigned)gy), Cfg::threads, Cfg::smem + 1024, s>>>(a, wt);
    return qn_cu_launch_status();
}

/* Tokens per tile: 128 where the grid of 128x128 tiles covers about 3/4 of the SMs, else 64;
 * QUANTA_CUDA_GGML_MMQ_TILE=ws128x128 / ws128x64 / ws128x256 force one. */
static int qn_ws_nb(const qn_gmmq_args &a, int sms) {
    const int ft = qn_gmmq_forced_tile();
    if (ft == 13) return 128;
    if (ft == 14) return 64;
    if (ft == 15) return 256;
    const int64_t want = (int64_t)(sms > 0 ? sms : 132) * 3 / 4, rows = (a.N + QN_WS_BN - 1) / QN_WS_BN;
    /* round 1 (H100, q4_0, M = 512): 128x256 1.14x kernel 7 on 14336 x 4096 where 128x128 was 0.78x; 128x128 1.10x
     * on 4096 x 4096 where 128x256 (half the grid) was 0.90x */
    if (rows * ((a.M + 255) / 256) >= want) return 256;
    return rows * ((a.M + 127) / 128) >= want ? 128 : 64;
}

template <int DT> static int qn_ws_go(int nb, const qn_gmmq_args &a, cudaStream_t s) {
    return nb == 256 ? qn_ws_launch<DT, 256, false>(a, nullptr, s)
           : nb == 128 ? qn_ws_launch<DT, 128, false>(a, nullptr, s)
                       : qn_ws_launch<DT, 64, false>(a, nullptr, s);
}
/* The dense form: one instance (its producer does not decode; DT only sizes the unused raw slots: Q4_0's) */
template <bool SW> static int qn_ws_go_dq(int nb, const qn_gmmq_args &a, const __half *wt, cudaStream_t s) {
    constexpr int D = QN_DT_GGML_Q4_0;
    return nb == 256 ? qn_ws_launch<D, 256, true, SW>(a, wt, s)
           : nb == 128 ? qn_ws_launch<D, 128, true, SW>(a, wt, s)
                       : qn_ws_launch<D, 64, true, SW>(a, wt, s);
}
template <int DT> static int qn_ws_dq(const qn_gmmq_args &a, int sw, uint4 *wt, cudaStream_t s) {
    const int64_t KT = a.Kp / QN_GMMQ_BK, NT = (a.N + QN_WS_BN - 1) / QN_WS_BN;
    if (KT > 0x7fffffff || NT > 65535) return (int)cudaErrorInvalidValue;
    qn_k_gmmq_dq<DT><<<dim3((unsigned)KT, (unsigned)NT), 256, 0, s>>>(a.w, a.rb, a.N, a.K, sw, wt);
    return qn_cu_launch_status();
}

size_t qn_gmmq_ws_dq_bytes(int64_t N, int64_t Kp) { return (size_t)(N + QN_WS_BN - 1) / QN_WS_BN * QN_WS_BN * (size_t)Kp * 2; }

int qn_gmmq_prep_xt(int x_dtype, const void *x, const qn_gmmq_args &a, int nb, bool sw, cudaStream_t s, int perm) {
    const int64_t Mt = (a.M + nb - 1) / nb * nb;
    const int64_t grid = Mt < 65535 ? Mt : 65535;
    if (sw && a.K == a.Kp && a.K % 32 == 0 && ((uintptr_t)x & 15) == 0 && (perm || qn_prep2_wanted()) &&
        (x_dtype == QN_DT_F32 || x_dtype == QN_DT_F16 || x_dtype == QN_DT_BF16)) {
        __half *xt = const_cast<__half *>(a.xh);
        float *xs = const_cast<float *>(a.xscale);
        const dim3 gr((unsigned)grid);
#define QN_PREP_VM(XD, MU)                                                                                       \
    (perm == 1   ? (qn_k_gmmq_prep_xt_v<XD, 1, MU><<<gr, 256, 0, s>>>(x, a.M, Mt, a.K, nb, xt, xs), 0)                \
     : perm == 2 ? (qn_k_gmmq_prep_xt_v<XD, 2, MU><<<gr, 256, 0, s>>>(x, a.M, Mt, a.K, nb, xt, xs), 0)                \
                 : (qn_k_gmmq_prep_xt_v<XD, 0, MU><<<gr, 256, 0, s>>>(x, a.M, Mt, a.K, nb, xt, xs), 0))
#define QN_PREP_V(XD) (qn_prep_mu() == 4 ? QN_PREP_VM(XD, 4) : QN_PREP_VM(XD, 1))
#define QN_PREP_BY_XD(PREP) \
    (x_dtype == QN_DT_F32 ? PREP(QN_DT_F32) : x_dtype == QN_DT_F16 ? PREP(QN_DT_F16) : PREP(QN_DT_BF16))
        const int64_t nblk = a.K / 32;
        if (qn_prep1_wanted() && nblk <= 1024) {
            const int bpt = nblk <= 512 ? 1 : 2;
            const dim3 bl((unsigned)((nblk + bpt - 1) / bpt + 31) / 32 * 32);
#define QN_PREP_1P(XD, B)                                                                                          \
    (perm == 1   ? (qn_k_gmmq_prep_xt_1p<XD, 1, B><<<gr, bl, 0, s>>>(x, a.M, Mt, a.K, nb, xt, xs), 0)                 \
     : perm == 2 ? (qn_k_gmmq_prep_xt_1p<XD, 2, B><<<gr, bl, 0, s>>>(x, a.M, Mt, a.K, nb, xt, xs), 0)                 \
                 : (qn_k_gmmq_prep_xt_1p<XD, 0, B><<<gr, bl, 0, s>>>(x, a.M, Mt, a.K, nb, xt, xs), 0))
#define QN_PREP_1(XD) (bpt == 1 ? QN_PREP_1P(XD, 1) : QN_PREP_1P(XD, 2))
            (void)QN_PREP_BY_XD(QN_PREP_1);
#undef QN_PREP_1
#undef QN_PREP_1P
            return qn_cu_launch_status();
        }
        (void)QN_PREP_BY_XD(QN_PREP_V);
#undef QN_PREP_BY_XD
#undef QN_PREP_V
#undef QN_PREP_VM
        return qn_cu_launch_status();
    }
    qn_k_gmmq_prep_xt<<<(unsigned)grid, 256, 0, s>>>(x_dtype, x, a.M, Mt, a.K, a.Kp, nb, sw ? 1 : 0, perm, const_cast<__half *>(a.xh),
                                                     const_cast<float *>(a.xscale));
    return qn_cu_launch_status();
}

int qn_gmmq_ws_run(int w_dtype, int x_dtype, const void *x, const qn_gmmq_args &a0, int sms, void *dq, bool sw,
                   cudaStream_t s) {
    sw = sw && dq;
    if (!qn_sm90a_device_ok()) return -1;
    const int nb = qn_ws_nb(a0, sms);
    const int e = qn_gmmq_prep_xt(x_dtype, x, a0, nb, sw, s);
    if (e) return e;
    if (dq) {
        int e2 = 0;
        QN_GGML_DISPATCH(w_dtype, e2 = qn_ws_dq<DT>(a0, sw ? 1 : 0, (uint4 *)dq, s))
        if (e2) return e2;
        return sw ? qn_ws_go_dq<true>(nb, a0, (const __half *)dq, s) : qn_ws_go_dq<false>(nb, a0, (const __half *)dq, s);
    }
    QN_GGML_DISPATCH(w_dtype, return qn_ws_go<DT>(nb, a0, s))
}
