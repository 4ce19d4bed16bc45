/* ggml_mmq_frag.cu — y[M,N] = x[M,K] . W[N,K]^T on tensor cores for ggml-block weights, each lane decoding
 * its own mma fragments from the staged raw bytes (mmq6; qn_cuda_ggml_mmq runs it by default;
 * QUANTA_CUDA_GGML_MMQ=5 runs mmq5's kernel instead).
 *
 * Why (bench/NOTES.md, mmq6): ggml_mmq.cu's kernel decodes a block tile's chunks into an f16 stage between
 * two barriers per 64-wide step, so the tensor cores idle while the block decodes, and at M = 512 the 7B's
 * 128 blocks leave one block per SM with nothing to overlap it; the f16 stage is then written once and read
 * by ldmatrix four times. Here there is no f16 weight stage and one barrier per step: a cp.async pipeline
 * of S stages holds the raw block bytes and the f16 activation rows; each warp decodes the weight rows of
 * its tile from the raw bytes straight into A fragments (qn_ggml_load_frag: 8 elements per lane, row and
 * chunk), and the compiler interleaves that integer/f16 work with the previous chunk's mma.
 *
 * Why f16 mma and not int8 mma on x quantized to q8_1 (llama.cpp's MMQ): every ggml chunk of 32 has its
 * own scale, and so does q8_1, so int8 m16n8k32 needs per output and 32 of K one int->float conversion and
 * two multiplies (C * dA * dB) next to 1/4 of an mma: ~13 issue slots per mma against its 4 clocks, where
 * f16 needs none per output (the scale is applied once per weight element while decoding, shared by the
 * warp's 64 tokens). On mma.sync both end near the same rate; f16 keeps x at 11 bits (no new error bound).
 *
 * Numerics: the same f16 weight values as ggml_mmq.cu ((float)q * d + m rounded once; Q4_0/Q5_0/Q8_0 in
 * f16 arithmetic, exact product rounded once), the same f16 activations, and every output's mma in the
 * same k order: the results equal ggml_mmq.cu's bit for bit (bench/cuda/ggml_mmq_bench.cu checks it).
 *
 * Block: WR x WC warps, warp tile (16 MI weight rows) x (8 NT tokens); lane (g = lane/4, t = lane%4) holds
 * rows g and g+8 of each 16-row tile. 64 of K per step, S steps in flight. */
#include "ggml_mmq.cuh"

template <int DT, int MI, int NT, int WR, int WC> struct qn_gfrag_cfg {
    typedef qn_gmmq_raw<DT> Raw;
    static constexpr int threads = 32 * WR * WC;
    static constexpr int BN = 16 * MI * WR, BM = 8 * NT * WC;
    static constexpr int xpieces = BM * QN_GMMQ_BK / 8;        /* 16-byte activation pieces per step */
    static constexpr int rwords = BN * Raw::words;             /* raw words per step */
    static constexpr int xs_bytes = BM * QN_GMMQ_PITCH * 2, raw_bytes = rwords * 4;
    static constexpr int stage = xs_bytes + raw_bytes;
    /* pipeline stages: 4 where they fit in 200 KB (two steps' copies in flight behind the one waited for) */
    static constexpr int S = 4 * stage <= 200 * 1024 ? 4 : 3 * stage <= 220 * 1024 ? 3 : 2;
    static constexpr int smem = S * stage;
    static_assert(NT % 2 == 0, "activation fragments come in pairs of 8-token tiles");
    static_assert(xs_bytes % 16 == 0 && stage % 16 == 0, "16-byte copies");
};

/*
 * Step kt (one barrier): wait for stage kt's copies, barrier (every warp is past step kt-1, whose stage
 * the next copies overwrite), issue the copies of step kt+S-1, then the step's two chunks: decode the
 * warp's rows of the chunk into A fragments, ldmatrix the activations, mma.
 */
template <int DT, int MI, int NT, int WR, int WC, int MINB>
__global__ void __launch_bounds__(32 * WR * WC, MINB) qn_k_ggml_mmq_frag(qn_gmmq_args p) {
    typedef qn_gfrag_cfg<DT, MI, NT, WR, WC> Cfg;
    typedef qn_gmmq_raw<DT> Raw;
    constexpr int BN = Cfg::BN, BM = Cfg::BM, P = QN_GMMQ_PITCH, S = Cfg::S, T = Cfg::threads;
    extern __shared__ __align__(16) uint8_t qn_gfrag_smem[];
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
    const int wr = warp % WR, wc = warp / WR;
    const int64_t n0 = (int64_t)blockIdx.x * BN, m0 = (int64_t)blockIdx.y * BM;
    const int64_t KT = p.Kp / QN_GMMQ_BK;
    const size_t wbytes = (size_t)p.N * p.rb;

    auto xs_of = [&](int slot) { return reinterpret_cast<__half *>(qn_gfrag_smem + slot * Cfg::stage); };
    auto raw_of = [&](int slot) { return qn_gfrag_smem + slot * Cfg::stage + Cfg::xs_bytes; };

    qn_gmmq_rawcopy<DT, BN, T> rc(p, n0, tid);

    auto issue = [&](int slot, int64_t kt) {
        rc.issue(reinterpret_cast<uint32_t *>(raw_of(slot)), p, n0, tid, kt, wbytes);
        __half *xs = xs_of(slot);
#pragma unroll
        for (int v = 0; v < (Cfg::xpieces + T - 1) / T; v++) {
            const int i = tid + v * T;
            if (i >= Cfg::xpieces) break;
            const int r = i >> 3, piece = i & 7;
            const int64_t m = m0 + r;
            const bool ok = m < p.M;
            const __half *src = p.xh + (ok ? m : 0) * p.Kp + kt * QN_GMMQ_BK + piece * 8;
            qn_cp_async16(qn_smem_u32(xs + r * P + piece * 8), src, ok);
        }
    };

    float acc[MI][NT][4];
#pragma unroll
    for (int i = 0; i < MI; i++)
#pragma unroll
        for (int j = 0; j < NT; j++) acc[i][j][0] = acc[i][j][1] = acc[i][j][2] = acc[i][j][3] = 0.0f;

    /* Where in its first staged word each of the lane's rows starts (the step adds its offset's). */
    int rshift[MI][2];
#pragma unroll
    for (int i = 0; i < MI; i++)
#pragma unroll
        for (int h = 0; h < 2; h++) rshift[i][h] = (int)(((size_t)(n0 + wr * 16 * MI + i * 16 + g + 8 * h) * p.rb) & 3);

    auto compute = [&](int slot, int64_t kt) {
        const uint8_t *raw = raw_of(slot);
        const int kshift = (int)(Raw::koff(kt) & 3);
        const __half *xsb = xs_of(slot) + (wc * 8 * NT) * P;
#pragma unroll
        for (int c = 0; c < 2; c++) {
            const int64_t ci = kt * 2 + c; /* chunk of the row */
            uint32_t a[MI][2][4];
            if (ci * 32 < p.K) { /* uniform: a K tail's second chunk holds other rows' bytes */
#pragma unroll
                for (int i = 0; i < MI; i++)
                    qn_gfrag_decode16<DT>(raw, wr * 16 * MI + i * 16 + g, rshift[i], kshift, ci, c, t, a[i]);
            } else {
#pragma unroll
                for (int i = 0; i < MI; i++)
#pragma unroll
                    for (int kk = 0; kk < 2; kk++) a[i][kk][0] = a[i][kk][1] = a[i][kk][2] = a[i][kk][3] = 0u;
            }
#pragma unroll
            for (int kk = 0; kk < 2; kk++) {
                uint32_t b[NT][2];
#pragma unroll
                for (int np = 0; np < NT / 2; np++) /* matrices: (tokens 0-7, k 0), (0-7, k 8), (8-15, k 0), (8-15, k 8) */
                    qn_ldsm_x4(qn_smem_u32(xsb + (np * 16 + ((lane >> 4) << 3) + (lane & 7)) * P + (2 * c + kk) * 16 +
                                           ((lane >> 3) & 1) * 8),
                               b[2 * np][0], b[2 * np][1], b[2 * np + 1][0], b[2 * np + 1][1]);
#pragma unroll
                for (int i = 0; i < MI; i++)
#pragma unroll
                    for (int j = 0; j < NT; j++) qn_mma16816(acc[i][j], a[i][kk], b[j][0], b[j][1]);
            }
        }
    };

#pragma unroll
    for (int s = 0; s < S - 1; s++) {
        if (s < KT) issue(s, s);
        qn_cp_async_commit();
    }
    for (int64_t kt = 0; kt < KT; kt++) {
        qn_cp_async_wait<S - 2>(); /* this thread's copies of step kt landed */
        __syncthreads();           /* everyone's; and every warp is done with step kt-1's stage */
        const int64_t nk = kt + S - 1;
        if (nk < KT) issue((int)(nk % S), nk);
        qn_cp_async_commit();
        compute((int)(kt % S), kt);
    }
    qn_cp_async_wait<0>();

    qn_gmmq_store<MI, NT>(p, acc, n0 + wr * 16 * MI, m0 + wc * 8 * NT, g, t);
}

template <int DT, int MI, int NT, int WR, int WC, int MINB = 1>
static int qn_gfrag_launch(const qn_gmmq_args &a, cudaStream_t s) {
    typedef qn_gfrag_cfg<DT, MI, NT, WR, WC> Cfg;
    static bool attr_set = false;
    return qn_gmmq_launch_grid(qn_k_ggml_mmq_frag<DT, MI, NT, WR, WC, MINB>, attr_set, Cfg::BN, Cfg::BM, Cfg::threads,
                               Cfg::smem, a, s);
}

/* Tiles (rows x tokens): 128x128 (8 warps of 32x64), 128x64 (8 of 32x32), 64x32 (4 of 16x32): the largest
 * whose grid still covers about 3/4 of the SMs, as ggml_mmq.cu picks; three more to measure when forced. */
template <int DT> static int qn_gfrag_pick(const qn_gmmq_args &a, int sms, cudaStream_t s) {
    switch (qn_gmmq_forced_tile()) {
    case 1: return qn_gfrag_launch<DT, 2, 8, 4, 2>(a, s);
    case 2: return qn_gfrag_launch<DT, 2, 4, 4, 2>(a, s);
    case 3: return qn_gfrag_launch<DT, 1, 4, 4, 1>(a, s);
    case 4: return qn_gfrag_launch<DT, 4, 8, 2, 2>(a, s);
    case 5: return qn_gfrag_launch<DT, 4, 8, 4, 2>(a, s);
    case 6: return qn_gfrag_launch<DT, 2, 8, 4, 2, 2>(a, s);
    default: break;
    }
    const int64_t want = (int64_t)(sms > 0 ? sms : 132) * 3 / 4;
    const int64_t rows128 = (a.N + 127) / 128;
    if (a.M > 64 && rows128 * ((a.M + 127) / 128) >= want) return qn_gfrag_launch<DT, 2, 8, 4, 2>(a, s);
    if (a.M > 32 && rows128 * ((a.M + 63) / 64) >= want) return qn_gfrag_launch<DT, 2, 4, 4, 2>(a, s);
    return qn_gfrag_launch<DT, 1, 4, 4, 1>(a, s);
}

int qn_gmmq_frag_run(int w_dtype, const qn_gmmq_args &a, int sms, cudaStream_t s) {
    QN_GGML_DISPATCH(w_dtype, return qn_gfrag_pick<DT>(a, sms, s))
}
