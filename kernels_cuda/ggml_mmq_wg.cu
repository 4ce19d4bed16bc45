/* ggml_mmq_wg.cu — y[M,N] = x[M,K] . W[N,K]^T for ggml-block weights on Hopper's warpgroup MMA (wgmma,
 * sm_90a; mmq7). It takes (QUANTA_CUDA_GGML_MMQ=7, the default) the matmuls with M > 64 on a compute
 * capability 9.0 device whose grid of 256x128 tiles covers the GPU (the 7B's gate/up at prefill steps);
 * everything else runs ggml_mmq_frag.cu's kernel (QUANTA_CUDA_GGML_MMQ=6: always).
 *
 * Why (bench/NOTES.md, mmq7): the fragment kernel (mma.sync m16n8k16) keeps the tensor pipe ~30% busy on
 * the 7B's 4096 x 4096 q4_0 rows (ncu, H100, 2026-12-05 16:35: 173 TFLOP/s, 45% issue-active, 2 warps per
 * SM sub-partition). mma.sync on Hopper peaks near 2/3 of the dense f16 rate and each 16x8x16 needs its
 * B fragments by ldmatrix per warp; wgmma m64nNk16 runs a warpgroup's 64 rows x N tokens from one
 * instruction, reads the activations (B) from shared memory itself, and runs asynchronously while the
 * warps decode the next step's weights.
 *
 * A (weights) comes from registers: each lane decodes its rows' fragments from the staged raw GGUF bytes
 * with the fragment kernel's decoder (qn_gfrag_decode16: the wgmma A register layout per warp is the
 * mma.sync one), so the weight values are the same f16 numbers as ggml_mmq_frag.cu and ggml_mmq.cu, and so
 * are the activations (the same f16 rows with a per-row power of two). The sums are f32 in a different
 * order (wgmma's), so results equal the other kernels' to f32 rounding, not bit for bit.
 *
 * Block: WG warpgroups (128 threads each), warpgroup w the weight rows 64w .. 64w + 63 of the tile, every
 * warpgroup all NB tokens of the tile (wgmma m64nNBk16). 64 of K per step, S stages of cp.async copies
 * (raw weight words as in ggml_mmq_frag.cu; activations as 16-byte pieces into wgmma's K-major core-matrix
 * layout: slice kc (8 of K) holds token r's 16 bytes at kc * (16 NB + 16) + 16 r — the 16-byte pad per
 * slice keeps a quarter-warp's eight 16-byte stores, one token's eight slices, in distinct banks).
 *
 * Per step kt (one barrier): wait for stage kt's copies, fence them to the async proxy, barrier (every
 * warpgroup has also finished the wgmma of step kt - 2, whose stage the next copies overwrite), issue the
 * copies of step kt + S - 2, decode the warp's A fragments of the step (2 chunks x 2 k16 halves) into one
 * of two register sets, 4 wgmma, commit, wait until only this step's wgmma run. So the decode of step kt
 * overlaps the wgmma of step kt - 1, and the A registers of a step stay untouched until its wgmma are done.
 */
#include "ggml_mmq.cuh"
#include "sm90a_device.cuh"

#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define QN_WG_HAVE 1
#include "wgmma.cuh"
#else
#define QN_WG_HAVE 0
#endif

template <int DT, int WG, int NB> struct qn_wg_cfg {
    typedef qn_gmmq_raw<DT> Raw;
    static constexpr int threads = 128 * WG, BN = 64 * WG, BM = NB;
    static constexpr int kc_pitch = 16 * NB + 16; /* bytes between the 8-wide K slices of the activations */
    static constexpr int xs_bytes = 8 * kc_pitch, xpieces = NB * 8;
    static constexpr int raw_bytes = BN * Raw::words * 4;
    static constexpr int stage = (xs_bytes + raw_bytes + 127) / 128 * 128;
    /* stages: as many as fit in ~110 KB (two blocks per SM), 3 to 6 */
    static constexpr int S0 = 110 * 1024 / stage, S = S0 < 3 ? 3 : S0 > 6 ? 6 : S0;
    static constexpr int smem = S * stage;
    static_assert(xs_bytes % 16 == 0, "16-byte copies");
};

#if QN_WG_HAVE
template <int NB> __device__ __forceinline__ void qn_wg_mma(float (&d)[NB / 8][4], const uint32_t a[4], uint64_t desc);
template <> __device__ __forceinline__ void qn_wg_mma<64>(float (&d)[8][4], const uint32_t a[4], uint64_t desc) {
    qn_wg_mma_n64(d, a, desc);
}
template <> __device__ __forceinline__ void qn_wg_mma<128>(float (&d)[16][4], const uint32_t a[4], uint64_t desc) {
    qn_wg_mma_n128(d, a, desc);
}
#endif

template <int DT, int WG, int NB>
__global__ void __launch_bounds__(128 * WG, 1) qn_k_ggml_mmq_wg(qn_gmmq_args p) {
#if QN_WG_HAVE
    typedef qn_wg_cfg<DT, WG, NB> Cfg;
    typedef qn_gmmq_raw<DT> Raw;
    constexpr int BN = Cfg::BN, S = Cfg::S, T = Cfg::threads, KP = Cfg::kc_pitch;
    extern __shared__ __align__(128) uint8_t qn_wg_smem[];
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
    const int r0 = warp * 16 + g; /* the lane's first tile row: warpgroup warp / 4, its warp warp % 4 */
    const int64_t n0 = (int64_t)blockIdx.x * BN, m0 = (int64_t)blockIdx.y * NB;
    const int64_t KT = p.Kp / QN_GMMQ_BK;
    const size_t wbytes = (size_t)p.N * p.rb;

    auto xs_of = [&](int slot) { return qn_wg_smem + slot * Cfg::stage; };
    auto raw_of = [&](int slot) { return qn_wg_smem + slot * Cfg::stage + Cfg::xs_bytes; };
    qn_gmmq_rawcopy<DT, BN, T> rc(p, n0, tid);

    auto issue = [&](int slot, int64_t kt) {
        rc.issue(reinterpret_cast<uint32_t *>(raw_of(slot)), p, n0, tid, kt, wbytes);
        uint8_t *xs = xs_of(slot);
#pragma unroll
        for (int v = 0; v < (Cfg::xpieces + T - 1) / T; v++) {
            const int i = tid + v * T;
            if (Cfg::xpieces % T && i >= Cfg::xpieces) break;
            const int r = i >> 3, kc = i & 7;
            const int64_t m = m0 + r;
            const bool ok = m < p.M;
            const __half *src = p.xh + (ok ? m : 0) * p.Kp + kt * QN_GMMQ_BK + kc * 8;
            qn_cp_async16(qn_smem_u32(xs + kc * KP + r * 16), src, ok);
        }
    };

    float acc[NB / 8][4];
#pragma unroll
    for (int j = 0; j < NB / 8; j++) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.0f;

    int rshift[2];
#pragma unroll
    for (int h = 0; h < 2; h++) rshift[h] = (int)(((size_t)(n0 + r0 + 8 * h) * p.rb) & 3);

    /* The step's A fragments: chunk c (0, 1) x k16 half kk. Zero past K (x is zero there, but the weight
     * bytes of a K tail's second chunk belong to other rows and could decode to Inf). */
    auto decode = [&](int slot, int64_t kt, uint32_t (&a)[2][2][4]) {
        const uint8_t *raw = raw_of(slot);
        const int kshift = (int)(Raw::koff(kt) & 3);
#pragma unroll
        for (int c = 0; c < 2; c++) {
            const int64_t ci = kt * 2 + c;
            if (ci * 32 < p.K) {
                qn_gfrag_decode16<DT>(raw, r0, rshift, kshift, ci, c, t, a[c]);
            } else {
#pragma unroll
                for (int kk = 0; kk < 2; kk++) a[c][kk][0] = a[c][kk][1] = a[c][kk][2] = a[c][kk][3] = 0u;
            }
        }
    };
    auto step = [&](int64_t kt, uint32_t (&a)[2][2][4], uint32_t (&a_prev)[2][2][4]) {
        qn_cp_async_wait<S - 3>(); /* this thread's copies of step kt landed */
        qn_fence_proxy_async();    /* ... and are visible to wgmma's reads */
        __syncthreads();           /* everyone's; every warpgroup is done with step kt-2's stage */
        const int64_t nk = kt + S - 2;
        if (nk < KT) issue((int)(nk % S), nk);
        qn_cp_async_commit();
        const int slot = (int)(kt % S);
        decode(slot, kt, a);
        const uint32_t base = qn_smem_u32(xs_of(slot));
        qn_wg_fence();
#pragma unroll
        for (int q = 0; q < 4; q++) /* k16 q of the step: slices 2q, 2q + 1 */
            qn_wg_mma<NB>(acc, a[q >> 1][q & 1], qn_wg_desc(base + 2 * q * KP, KP, 128)); /* K slices, 8-token groups */
        qn_wg_commit();
        qn_wg_wait<1>(); /* step kt-1's wgmma are done: its A registers and its stage are free */
        qn_wg_keep(a_prev);
        qn_wg_keep(acc);
    };

#pragma unroll
    for (int s = 0; s < S - 2; s++) {
        if (s < KT) issue(s, s);
        qn_cp_async_commit();
    }
    uint32_t a0[2][2][4], a1[2][2][4];
#pragma unroll
    for (int c = 0; c < 2; c++)
#pragma unroll
        for (int kk = 0; kk < 2; kk++)
#pragma unroll
            for (int i = 0; i < 4; i++) a0[c][kk][i] = a1[c][kk][i] = 0u;
    /* Steps in pairs, the odd one after the loop: a step under a condition inside the loop makes ptxas
     * serialize the wgmma (C7515, accumulators defined between pipeline stages). */
    int64_t kt = 0;
    for (; kt + 1 < KT; kt += 2) {
        step(kt, a0, a1);
        step(kt + 1, a1, a0);
    }
    if (kt < KT) step(kt, a0, a1);
    qn_wg_wait<0>();
    qn_wg_keep(acc);
    qn_wg_keep(a0);
    qn_wg_keep(a1);
    qn_cp_async_wait<0>();

    float (&acc1)[1][NB / 8][4] = *reinterpret_cast<float (*)[1][NB / 8][4]>(&acc);
    qn_gmmq_store<1, NB / 8>(p, acc1, n0 + warp * 16, m0, g, t);
#else
    (void)p;
    __trap(); /* compiled for sm_90a only; the host launches it only on compute capability 9.0 */
#endif
}

template <int DT, int WG, int NB> static int qn_wg_launch(const qn_gmmq_args &a, cudaStream_t s) {
    typedef qn_wg_cfg<DT, WG, NB> Cfg;
    static bool attr_set = false;
    return qn_gmmq_launch_grid(qn_k_ggml_mmq_wg<DT, WG, NB>, attr_set, Cfg::BN, Cfg::BM, Cfg::threads, Cfg::smem, a, s);
}

/* Tiles (rows x tokens): 256x128 (4 warpgroups of 64 x 128) where its grid covers about 3/4 of the SMs (the
 * 7B's 14336-row gate/up weights at 256- and 512-token steps), else -1: the fragment kernel. Measured (H100,
 * 2026-12-05 18:50, q4_0/q8_0 at M = 256): 256x128 1.39-1.43x frag on 14336 x 4096; the 1- and 2-warpgroup
 * tiles, which leave 4 or 8 warps per SM, 0.58-1.14x frag (latency-bound: 20% issue-active, 6% warps active);
 * so only 16 warps per SM beat it. The others stay for QUANTA_CUDA_GGML_MMQ_TILE=wg128x128 ... wg64x64, and
 * 256x64 (wg256x64) for QUANTA_CUDA_GGML_MMQ=8. */
template <int DT> static int qn_wg_pick(const qn_gmmq_args &a, int sms, bool wide64, cudaStream_t s) {
    switch (qn_gmmq_forced_tile()) {
    case 7: return qn_wg_launch<DT, 2, 128>(a, s);
    case 8: return qn_wg_launch<DT, 1, 128>(a, s);
    case 9: return qn_wg_launch<DT, 2, 64>(a, s);
    case 10: return qn_wg_launch<DT, 1, 64>(a, s);
    case 11: return qn_wg_launch<DT, 4, 128>(a, s);
    case 12: return qn_wg_launch<DT, 4, 64>(a, s);
    default: break;
    }
    const int64_t want = (int64_t)(sms > 0 ? sms : 132) * 3 / 4;
    if (a.M > 64 && (a.N + 255) / 256 * ((a.M + 127) / 128) >= want) return qn_wg_launch<DT, 4, 128>(a, s);
    /* QUANTA_CUDA_GGML_MMQ=8 (mmq8, not measured yet): 16 warps per SM on the 4096-row weights too, as 256x64
     * tiles (the 7B's q/o/down at 512-token steps: 16 x 8 = 128 blocks where 256x128 has 64). Half the tokens
     * per decoded weight fragment of 256x128, so the decode weighs twice as much per flop; the prediction is
     * that 16 warps per SM still beat the fragment kernel's 8 (the wgmma tiles with 4-8 warps did not). */
    if (wide64 && a.M > 64 && (a.N + 255) / 256 * ((a.M + 63) / 64) >= want) return qn_wg_launch<DT, 4, 64>(a, s);
    return -1;
}

int qn_gmmq_wg_run(int w_dtype, const qn_gmmq_args &a, int sms, bool wide64, cudaStream_t s) {
    if (!qn_sm90a_device_ok()) return -1;
    QN_GGML_DISPATCH(w_dtype, return qn_wg_pick<DT>(a, sms, wide64, s))
}
