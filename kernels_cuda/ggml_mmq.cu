/* ggml_mmq.cu — y[M,N] = x[M,K] . W[N,K]^T on tensor cores for ggml-block weights (QUANTA_GGML_*)
 * read straight from the file's bytes: the prefill / batched path (M > QN_CUDA_GGML_GEMV_MAX_M,
 * and short rows the int8 GEMV leaves alone).
 *
 * Before this kernel each such matmul dequantized its whole weight into a tiled f16 copy in
 * scratch (qn_cuda_ggml_to_tiled: one thread per 32-element chunk, 32 scattered 2-byte stores
 * each) and then ran the f16 GEMM over that copy: per 7B prefill ~14 GB of f16 written and read
 * again for 3.9 GB of weights. Here the block tile's chunks are decoded once per block into
 * shared memory and go straight to the tensor cores.
 *
 * Why f16 mma (m16n8k16, f32 sums) and not int8 mma on the codes: every ggml format scales each
 * 32-element chunk (Q6_K each 16), so int8 mma needs one int->float conversion and two multiply-
 * adds per output element per 32 of K (64 per lane per k32 on a 64x32 warp tile against 16 mma):
 * mma.sync at sm_90 is then issue-bound near the f16 rate anyway, with the activations also
 * quantized to int8. Dequantizing into shared memory costs ~5 instructions per weight element per
 * block, shared by the block's 32..128 tokens, and keeps f16 activations.
 *
 * Numerics: each weight element is (float)q * d + m rounded once to f16 — bit-identical to
 * qn_cuda_ggml_to_tiled, the path it replaces (kernels_cuda/ggml_blocks.cuh, qn_ggml_chunk_value).
 * Activations: f16 with a per-row power of two that puts the row's largest |x| in [2^13, 2^14)
 * (no overflow, no subnormals), undone in the epilogue, as qn_cuda_matmul_q does.
 *
 * Block: 8 warps as 2 (weight rows) x 4 (tokens); warp tile (16 MI) x (8 NT), block tile
 * (32 MI) x (32 NT), 64 of K per step. The tile's raw block bytes arrive two steps ahead by 4-byte
 * cp.async, consecutive lanes on consecutive words of a row (a thread loading its own chunk would
 * touch 16 rows' cache lines per load instruction: at 9-17 loads per chunk that alone outweighs the
 * step's mma in L1 wavefronts); each thread then decodes one chunk from there into the f16 stage.
 * Activation rows arrive one step ahead by 16-byte cp.async. Fragments come from shared memory by
 * ldmatrix (rows padded by 16 bytes: the 8 row addresses of a matrix fall in distinct banks).
 */
#include "ggml_mmq.cuh"

#define QN_GMMQ_THREADS 256

/* ------------------------------------------------------------------ activations */

/* Block (c, m): row m's power of two from its max |x| (every block of the row finds it: the row is
 * L2-resident), then positions [c*chunk, c*chunk + chunk) of xh's row m. The host picks chunk so that
 * many rows (prefill) give one block per row — each row read twice, not once per chunk — and few rows
 * (batched decode) still give a few hundred blocks. */
__global__ void __launch_bounds__(256) qn_k_gmmq_prep_x(int xd, const void *x, int64_t M, int64_t K, int64_t Kp,
                                                        int64_t chunk, __half *xh, float *xscale) {
    __shared__ float sh[32];
    for (int64_t m = blockIdx.y; m < M; m += gridDim.y) {
        float m0 = 0.0f, m1 = 0.0f;
        int64_t k = threadIdx.x;
        for (; k + 256 < K; k += 512) {
            m0 = fmaxf(m0, fabsf(qn_ld(xd, x, m * K + k)));
            m1 = fmaxf(m1, fabsf(qn_ld(xd, x, m * K + k + 256)));
        }
        if (k < K) m0 = fmaxf(m0, fabsf(qn_ld(xd, x, m * K + k)));
        const int e = qn_x_pow2_exponent(qn_block_max(fmaxf(m0, m1), sh));
        const float f = ldexpf(1.0f, e);
        if (blockIdx.x == 0 && threadIdx.x == 0) xscale[m] = ldexpf(1.0f, -e);
        const int64_t p0 = (int64_t)blockIdx.x * chunk;
        const int64_t p1 = p0 + chunk < Kp ? p0 + chunk : Kp;
        for (int64_t p = p0 + threadIdx.x; p < p1; p += blockDim.x)
            xh[m * Kp + p] = __float2half_rn(p < K ? qn_ld(xd, x, m * K + p) * f : 0.0f);
    }
}

/* ------------------------------------------------------------------ the GEMM */

template <int DT, int MI, int NT> struct qn_gmmq_cfg {
    static constexpr int BN = 32 * MI, BM = 32 * NT;
    static constexpr int wchunks = BN * QN_GMMQ_BK / 32;   /* weight chunks per step */
    static constexpr int xpieces = BM * QN_GMMQ_BK / 8;    /* 16-byte activation pieces per step */
    static constexpr int rwords = BN * qn_gmmq_raw<DT>::words; /* raw words per step */
    static constexpr int ws_bytes = 2 * BN * QN_GMMQ_PITCH * 2, xs_bytes = 2 * BM * QN_GMMQ_PITCH * 2;
    static constexpr int smem = ws_bytes + xs_bytes + 3 * rwords * 4;
    static_assert(wchunks <= QN_GMMQ_THREADS, "one weight chunk per thread and step");
};

/*
 * Per step kt (three barriers' worth of stages: raw bytes 3 deep, f16 weights and activations 2):
 *   A  cp.async the activations of step kt+1 (group X) and the raw weight bytes of step kt+2 (group R),
 *      coalesced: consecutive lanes copy consecutive words of a row;
 *   B  the mma of step kt from ws[kt&1], xs[kt&1];
 *   C  wait for R(kt+1) and X(kt+1) (only R(kt+2) may stay in flight), barrier;
 *   D  each thread decodes its chunk of step kt+1 from the raw stage into ws[(kt+1)&1];
 *   E  barrier.
 * Every stage written in A or D was last read before a barrier the writer has passed: xs[(kt+1)&1]
 * by B(kt-1) (barrier C(kt-1)), raw[(kt+2)%3] by D(kt-2) (E(kt-2)), ws[(kt+1)&1] by B(kt-1) (C(kt-1)).
 */
template <int DT, int MI, int NT>
__global__ void __launch_bounds__(QN_GMMQ_THREADS, 2) qn_k_ggml_mmq(qn_gmmq_args p) {
    typedef qn_gmmq_cfg<DT, MI, NT> Cfg;
    typedef qn_gmmq_raw<DT> Raw;
    constexpr int BN = Cfg::BN, BM = Cfg::BM, P = QN_GMMQ_PITCH;
    extern __shared__ __align__(16) uint8_t qn_gmmq_smem[];
    __half *ws = reinterpret_cast<__half *>(qn_gmmq_smem);              /* [2][BN][P] */
    __half *xs = ws + 2 * BN * P;                                       /* [2][BM][P] */
    uint32_t *raw = reinterpret_cast<uint32_t *>(qn_gmmq_smem + Cfg::ws_bytes + Cfg::xs_bytes); /* [3][BN][words] */
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
    const int wr = warp & 1, wc = warp >> 1;
    const int64_t n0 = (int64_t)blockIdx.x * BN, m0 = (int64_t)blockIdx.y * BM;
    const int64_t KT = p.Kp / QN_GMMQ_BK;
    const size_t wbytes = (size_t)p.N * p.rb;

    auto span_at = [&](int64_t n, int64_t kt) -> size_t { return Raw::at(p.rb, n, kt); };
    auto raw_issue = [&](int slot, int64_t kt) {
        uint32_t *dst = raw + slot * Cfg::rwords;
        for (int i = tid; i < Cfg::rwords; i += QN_GMMQ_THREADS) {
            const int r = i / Raw::words, wd = i % Raw::words;
            const int64_t n = n0 + r;
            size_t a = 0;
            int nb = 0;
            if (n < p.N) {
                a = (span_at(n, kt) & ~(size_t)3) + 4 * (size_t)wd;
                nb = a >= wbytes ? 0 : wbytes - a >= 4 ? 4 : (int)(wbytes - a);
            }
            qn_gmmq_cp4(qn_smem_u32(dst + i), p.w + (nb ? a : 0), nb);
        }
    };
    /* This thread's chunk of each step: row wrow of the tile, the step's chunk wsel. */
    const int wrow = tid >> 1, wsel = tid & 1;
    const bool wthread = tid < Cfg::wchunks && n0 + wrow < p.N;
    auto decode = [&](int rslot, int slot, int64_t kt) {
        if (tid >= Cfg::wchunks) return;
        const int64_t c = kt * 2 + wsel; /* chunk of the row */
        const bool live = wthread && c * 32 < p.K;
        qn_ggml_chunk ch;
        if (live) {
            const uint8_t *rowb = reinterpret_cast<const uint8_t *>(raw + rslot * Cfg::rwords + wrow * Raw::words) +
                                  (span_at(n0 + wrow, kt) & 3);
            qn_ggml_load_chunk<DT>(rowb, Raw::super ? (c & 7) : wsel, ch);
        }
        uint32_t h[16];
        qn_gmmq_chunk_f16<DT>(ch, live, h);
        uint4 *dst = reinterpret_cast<uint4 *>(ws + (slot * BN + wrow) * P + wsel * 32);
#pragma unroll
        for (int v = 0; v < 4; v++) dst[v] = make_uint4(h[4 * v], h[4 * v + 1], h[4 * v + 2], h[4 * v + 3]);
    };
    auto xload = [&](int slot, int64_t kt) {
#pragma unroll
        for (int v = 0; v < (Cfg::xpieces + QN_GMMQ_THREADS - 1) / QN_GMMQ_THREADS; v++) {
            const int i = tid + v * QN_GMMQ_THREADS;
            if (i >= Cfg::xpieces) break;
            const int r = i >> 3, piece = i & 7;
            const int64_t m = m0 + r;
            const bool ok = m < p.M;
            const __half *src = p.xh + (ok ? m : 0) * p.Kp + kt * QN_GMMQ_BK + piece * 8;
            qn_cp_async16(qn_smem_u32(xs + (slot * BM + r) * P + piece * 8), src, ok);
        }
    };

    float acc[MI][NT][4];
#pragma unroll
    for (int i = 0; i < MI; i++)
#pragma unroll
        for (int j = 0; j < NT; j++) acc[i][j][0] = acc[i][j][1] = acc[i][j][2] = acc[i][j][3] = 0.0f;

    auto compute = [&](int slot) {
        const __half *wsb = ws + (slot * BN + wr * 16 * MI) * P;
        const __half *xsb = xs + (slot * BM + wc * 8 * NT) * P;
#pragma unroll
        for (int kk = 0; kk < QN_GMMQ_BK / 16; kk++) {
            uint32_t a[MI][4];
#pragma unroll
            for (int i = 0; i < MI; i++) /* lanes 0-15: rows 0-15 at k 0; 16-31: rows 0-15 at k 8 */
                qn_ldsm_x4(qn_smem_u32(wsb + (i * 16 + (lane & 15)) * P + kk * 16 + (lane >> 4) * 8), a[i][0],
                                a[i][1], a[i][2], a[i][3]);
            uint32_t b[NT][2];
            if (NT == 1) { /* lanes 0-7: tokens 0-7 at k 0; 8-15: at k 8 (16-31 unused, kept in range) */
                qn_ldsm_x2(qn_smem_u32(xsb + (lane & 7) * P + kk * 16 + ((lane >> 3) & 1) * 8), b[0][0], b[0][1]);
            } else {
#pragma unroll
                for (int np = 0; np < NT / 2; np++) /* matrices: (tokens 0-7, k 0), (0-7, k 8), (8-15, k 0), (8-15, k 8) */
                    qn_ldsm_x4(
                        qn_smem_u32(xsb + (np * 16 + ((lane >> 4) << 3) + (lane & 7)) * P + kk * 16 + ((lane >> 3) & 1) * 8),
                        b[2 * np][0], b[2 * np][1], b[2 * np + 1][0], b[2 * np + 1][1]);
            }
#pragma unroll
            for (int i = 0; i < MI; i++)
#pragma unroll
                for (int j = 0; j < NT; j++) qn_mma16816(acc[i][j], a[i], b[j][0], b[j][1]);
        }
    };

    raw_issue(0, 0);
    qn_cp_async_commit(); /* R(0) */
    xload(0, 0);
    qn_cp_async_commit(); /* X(0) */
    if (KT > 1) raw_issue(1, 1);
    qn_cp_async_commit(); /* R(1) */
    qn_cp_async_wait<1>();
    __syncthreads();
    decode(0, 0, 0);
    __syncthreads();
    for (int64_t kt = 0; kt < KT; kt++) {
        if (kt + 1 < KT) xload((int)((kt + 1) & 1), kt + 1);
        qn_cp_async_commit(); /* X(kt+1) */
        if (kt + 2 < KT) raw_issue((int)((kt + 2) % 3), kt + 2);
        qn_cp_async_commit(); /* R(kt+2) */
        compute((int)(kt & 1));
        if (kt + 1 < KT) {
            qn_cp_async_wait<1>(); /* R(kt+1), X(kt+1) landed */
            __syncthreads();
            decode((int)((kt + 1) % 3), (int)((kt + 1) & 1), kt + 1);
            __syncthreads();
        }
    }
    qn_cp_async_wait<0>();

    qn_gmmq_store<MI, NT>(p, acc, n0 + wr * 16 * MI, m0 + wc * 8 * NT, g, t);
}

/* ------------------------------------------------------------------ launch */

template <int DT, int MI, int NT> static int qn_gmmq_launch(const qn_gmmq_args &a, cudaStream_t s) {
    typedef qn_gmmq_cfg<DT, MI, NT> Cfg;
    static bool attr_set = false;
    return qn_gmmq_launch_grid(qn_k_ggml_mmq<DT, MI, NT>, attr_set, Cfg::BN, Cfg::BM, QN_GMMQ_THREADS, Cfg::smem, a, s);
}

/* Tile shape by grid size: the largest tile (most reuse of each decoded chunk and activation row)
 * whose grid still covers about 3/4 of the SMs; else the smallest (small M, few output rows). */
template <int DT> static int qn_gmmq_pick(const qn_gmmq_args &a, int sms, cudaStream_t s) {
    switch (qn_gmmq_forced_tile()) {
    case 1: return qn_gmmq_launch<DT, 4, 4>(a, s);
    case 2: return qn_gmmq_launch<DT, 4, 2>(a, s);
    case 3: return qn_gmmq_launch<DT, 2, 1>(a, s);
    default: break;
    }
    const int64_t want = (int64_t)(sms > 0 ? sms : 132) * 3 / 4;
    const int64_t rows128 = (a.N + 127) / 128;
    if (a.M > 64 && rows128 * ((a.M + 127) / 128) >= want) return qn_gmmq_launch<DT, 4, 4>(a, s);
    if (a.M > 32 && rows128 * ((a.M + 63) / 64) >= want) return qn_gmmq_launch<DT, 4, 2>(a, s);
    return qn_gmmq_launch<DT, 2, 1>(a, s);
}

int qn_cuda_ggml_mmq_kernel = -1, qn_cuda_ggml_mmq_tile = -1, qn_cuda_ggml_mmq_noprep = 0;

/* Which kernel: QUANTA_CUDA_GGML_MMQ=5 this file's; =6 the one that decodes into mma fragments
 * (ggml_mmq_frag.cu); anything else (unset, 7) the wgmma kernel (ggml_mmq_wg.cu) where it is faster (M > 64
 * on compute capability 9.0, grids of 256x128 tiles that cover the GPU), else 6; =8 as 7, and the wgmma
 * kernel's 256x64 tile where 256x128 leaves the GPU short (mmq8, not measured yet); =0 is read by the engine:
 * the older route without any; =13 the warp-specialized wgmma kernel (ggml_mmq_ws_wg.cu, mmq13) at M > 64 on
 * compute capability 9.0, else as 7; =14 the same kernel fed with the weight dequantized to f16 per call
 * (mmq13's dense form); =15 that with both operands in the 128-byte swizzle; =16 the register-A wgmma kernel fed by
 * TMA (ggml_mmq_rs_wg.cu, mmq14) for Q4_0 / Q8_0 with K a multiple of 256, else as 7 (unset: 16 where it applies,
 * see qn_gmmq_route); =17 mmq15's form of it (ggml_mmq_rsi_wg.cu: permuted K order, cheaper decode), else as 16. Read
 * once, unless a benchmark has set qn_cuda_ggml_mmq_kernel. */
static bool qn_gmmq_unset = false; /* QUANTA_CUDA_GGML_MMQ unset (and no benchmark's choice): the default route */
static int qn_gmmq_kernel() {
    if (qn_cuda_ggml_mmq_kernel < 0) {
        const char *e = getenv("QUANTA_CUDA_GGML_MMQ");
        qn_gmmq_unset = !e || !*e;
        /* 6 measured faster than 5 (H100, 2026-12-05 16:40); 7's 256x128 tile 1.39-1.43x 6 on the 7B's gate/up,
         * conformance passed on every tile (H100, 18:50) */
        qn_cuda_ggml_mmq_kernel = e && !strcmp(e, "5")    ? 5
                                  : e && !strcmp(e, "6")  ? 6
                                  : e && !strcmp(e, "8")  ? 8
                                  : e && !strcmp(e, "13") ? 13
                                  : e && !strcmp(e, "14") ? 14
                                  : e && !strcmp(e, "15") ? 15
                                  : e && !strcmp(e, "16") ? 16
                                  : e && !strcmp(e, "17") ? 17
                                                          : 7;
    }
    return qn_cuda_ggml_mmq_kernel;
}

/* The kernel a call runs: the switch's; by default (unset) also mmq13's dense swizzled form (=15) on the wide
 * prefill GEMMs (M >= 256, N x K >= 2^24: the 7B's and larger; Gemma's stay on 7) — see QN_GMMQ_DENSE_DEFAULT. */
#define QN_GMMQ_DENSE_DEFAULT 0
/* ... and mmq14's register-A kernel (=16) on the prefill GEMMs with M >= QN_GMMQ_RS_DEFAULT_M, which itself takes
 * only Q4_0 / Q8_0 with K a multiple of 256 on compute capability 9.0 and hands the rest back to kernel 7 (sm_80 and
 * the other formats unchanged; QUANTA_CUDA_GGML_MMQ=7 keeps kernel 7 everywhere). Measured (H100, 17:13 UTC): 1.56-2.55x
 * kernel 7 on every 7B row at M = 512 and 2048, q4_0 and q8_0, outputs equal (maxdiff 0), conformance passed
 * (auto, rs128x64, rs128x128c2); pp512 7B Q4_0 11230 -> 18678 tok/s, Q8_0 9620 -> 17022. */
#define QN_GMMQ_RS_DEFAULT_M 65
/* 1: the default takes mmq15's form (=17: permuted K order, cheaper decode, the same shape table) instead of =16. On
 * since the H100 call of 21:03: 1.01-1.13x =16's table on the 7B rows at M = 512, 0.99-1.00x at M = 2048, maxdiff
 * <= 1.1e-6, conformance passed; pp512 7B Q4_0 20.2k -> 21.5k, Q8_0 17.2k -> 19.3k tok/s (same call, noisy). */
#define QN_GMMQ_RSI_DEFAULT 1
static int qn_gmmq_route(int64_t M, int64_t N, int64_t K) {
    const int k = qn_gmmq_kernel();
    if (QN_GMMQ_RS_DEFAULT_M > 0 && k == 7 && qn_gmmq_unset && M >= QN_GMMQ_RS_DEFAULT_M)
        return QN_GMMQ_RSI_DEFAULT ? 17 : 16;
    if (QN_GMMQ_DENSE_DEFAULT && k == 7 && qn_gmmq_unset && M >= 256 && N * K >= ((int64_t)1 << 24)) return 15;
    return k;
}

static size_t qn_gmmq_align(size_t b) { return (b + 255) & ~(size_t)255; }

/* The f16 activations: M rows, or for ggml_mmq_ws_wg.cu's tiled copy M rounded up to its tiles (up to 256 tokens). */
static size_t qn_gmmq_xh_bytes(int64_t M, int64_t Kp) { return qn_gmmq_align((size_t)(M + 255) / 256 * 256 * (size_t)Kp * 2); }

extern "C" size_t qn_cuda_ggml_mmq_scratch(int64_t M, int64_t N, int64_t K) {
    const int64_t Kp = (K + QN_GMMQ_BK - 1) / QN_GMMQ_BK * QN_GMMQ_BK;
    const int kernel = qn_gmmq_route(M, N, K);
    const size_t dq = (kernel == 14 || kernel == 15) && M > 64 ? qn_gmmq_ws_dq_bytes(N, Kp) : 0;
    const size_t part = kernel == 16 || kernel == 17 ? qn_gmmq_rs_part_bytes(M, N, K) : 0; /* split-K partial sums */
    return qn_gmmq_xh_bytes(M, Kp) + qn_gmmq_align((size_t)M * 4) + qn_gmmq_align(dq) + part;
}

extern "C" size_t qn_cuda_ggml_mmq_xprep_bytes(int64_t M, int64_t K) {
    const int64_t Kp = (K + QN_GMMQ_BK - 1) / QN_GMMQ_BK * QN_GMMQ_BK;
    return qn_gmmq_xh_bytes(M, Kp) + qn_gmmq_align((size_t)M * 4);
}

static_assert(QN_XSLAB_BK == QN_GMMQ_BK, "the kept slab's step is the GEMM's");
extern "C" void qn_cuda_ggml_mmq_xprep_split(void *xp, int64_t M, int64_t K, void **xt, float **xscale) {
    const int64_t Kp = (K + QN_GMMQ_BK - 1) / QN_GMMQ_BK * QN_GMMQ_BK;
    *xt = xp;
    *xscale = (float *)((uint8_t *)xp + qn_gmmq_xh_bytes(M, Kp));
}

/* qn_cuda_ggml_mmq, with xp (not null): =17's activation prep kept there for the next call on the same x (see
 * qn_cuda_ggml_mmq_x). */
static int qn_gmmq_run(int w_dtype, const void *w, int64_t N, int64_t K, int x_dtype, const void *x, int64_t M,
                       int y_dtype, void *y, void *scratch, size_t scratch_bytes, void *xp, size_t xp_bytes, int *xhave,
                       int sms, void *stream, const void *wt) {
    int dummy = 0;
    int *have = xhave ? xhave : &dummy, had = *have;
    *have = 0; /* what xp holds after this call: nothing, unless =17 keeps its prep there below */
    if (M <= 0 || N <= 0) return 0;
    if (K == 0) /* empty sums: zeros */
        return (int)cudaMemsetAsync(y, 0, (size_t)M * (size_t)N * (y_dtype == QN_DT_F32 ? 4 : 2), (cudaStream_t)stream);
    if (K < 0 || K % qn_ggml_block_elems(w_dtype) || M > 0x7fffffff ||
        scratch_bytes < qn_cuda_ggml_mmq_scratch(M, N, K))
        return (int)cudaErrorInvalidValue;
    cudaStream_t s = (cudaStream_t)stream;
    const int64_t Kp = (K + QN_GMMQ_BK - 1) / QN_GMMQ_BK * QN_GMMQ_BK;
    __half *xh = (__half *)scratch;
    float *xscale = (float *)((uint8_t *)scratch + qn_gmmq_xh_bytes(M, Kp));
    qn_gmmq_args a;
    a.w = (const uint8_t *)w;
    a.rb = (size_t)(K / qn_ggml_block_elems(w_dtype)) * (size_t)qn_ggml_block_bytes(w_dtype);
    a.N = N, a.K = K, a.M = M, a.Kp = Kp;
    a.xh = xh, a.xscale = xscale, a.yd = y_dtype, a.y = y, a.xnb = 0, a.epi = 0; /* epi: =17 sets its own */
    a.wt = (const uint8_t *)wt, a.trace = nullptr;
    const int kernel = qn_gmmq_route(M, N, K);
    if ((kernel == 16 || kernel == 17) && M > 64) { /* own activation prep (tiled, swizzled); -1: not this shape */
        uint8_t *part = (uint8_t *)xscale + qn_gmmq_align((size_t)M * 4); /* no dq for 16 / 17 */
        const size_t used = (size_t)(part - (uint8_t *)scratch);
        if (kernel == 17) { /* mmq15's form; where it does not apply, =16's */
            int e17;
            if (xp && xp_bytes >= qn_cuda_ggml_mmq_xprep_bytes(M, K)) { /* the prep in xp, 256-token tiles */
                qn_gmmq_args ax = a;
                ax.xh = (const __half *)xp, ax.xnb = QN_XSLAB_NB;
                ax.xscale = (const float *)((const uint8_t *)xp + qn_gmmq_xh_bytes(M, Kp));
                *have = had;
                e17 = qn_gmmq_rsi_run(w_dtype, x_dtype, x, ax, sms, part, scratch_bytes - used, s, have);
                if (e17 < 0) *have = 0;
            } else {
                e17 = qn_gmmq_rsi_run(w_dtype, x_dtype, x, a, sms, part, scratch_bytes - used, s);
            }
            if (e17 >= 0) return e17;
        }
        const int e16 = qn_gmmq_rs_run(w_dtype, x_dtype, x, a, sms, part, scratch_bytes - used, s);
        if (e16 >= 0) return e16;
    }
    if (kernel >= 13 && kernel <= 15 && M > 64) { /* its own activation prep (tiled) */
        void *dq = kernel >= 14 ? (uint8_t *)xscale + qn_gmmq_align((size_t)M * 4) : nullptr;
        const int e13 = qn_gmmq_ws_run(w_dtype, x_dtype, x, a, sms, dq, kernel == 15, s);
        if (e13 >= 0) return e13;
    }
    const int64_t want = 2 * (int64_t)(sms > 0 ? sms : 132);
    int64_t parts = (want + M - 1) / M;
    if (parts > Kp / 256) parts = Kp / 256 > 0 ? Kp / 256 : 1;
    const int64_t chunk = ((Kp + parts - 1) / parts + 255) / 256 * 256;
    qn_k_gmmq_prep_x<<<dim3((unsigned)((Kp + chunk - 1) / chunk), (unsigned)(M < 65535 ? M : 65535)), 256, 0, s>>>(
        x_dtype, x, M, K, Kp, chunk, xh, xscale);
    int e = qn_cu_launch_status();
    if (e) return e;
    if ((kernel == 7 || kernel >= 13 || kernel == 8) && M > 64) {
        const int e7 = qn_gmmq_wg_run(w_dtype, a, sms, kernel == 8, s);
        if (e7 >= 0) return e7;
    }
    if (kernel >= 6) return qn_gmmq_frag_run(w_dtype, a, sms, s);
    QN_GGML_DISPATCH(w_dtype, return qn_gmmq_pick<DT>(a, sms, s))
}

extern "C" int qn_cuda_ggml_mmq(int w_dtype, const void *w, int64_t N, int64_t K, int x_dtype, const void *x,
                                int64_t M, int y_dtype, void *y, void *scratch, size_t scratch_bytes, int sms,
                                void *stream) {
    return qn_gmmq_run(w_dtype, w, N, K, x_dtype, x, M, y_dtype, y, scratch, scratch_bytes, nullptr, 0, nullptr, sms,
                       stream, nullptr);
}

extern "C" size_t qn_cuda_ggml_mmq_multi_scratch(int n, const int64_t *N, int64_t M, int64_t K) {
    size_t b = 0;
    for (int i = 0; i < n; i++) {
        const size_t bi = qn_cuda_ggml_mmq_scratch(M, N[i], K);
        b = bi > b ? bi : b;
    }
    return b;
}

/* mmq22: see cuda_kernels.h (mode 4: as 1 where one weight alone makes less than a wave of blocks: qn_rsi_go_grp). A
 * group runs only where each of its weights would take =17 with the kept prep (the same
 * route as qn_gmmq_run's); anything else, and any group qn_gmmq_rsi_run_grp declines, one call each. */
extern "C" int qn_cuda_ggml_mmq_multi_t(int mode, int w_dtype, int n, const void *const *w, const int64_t *N,
                                        int64_t K, int x_dtype, const void *x, int64_t M, int y_dtype, void *const *y,
                                        void *scratch, size_t scratch_bytes, void *xp, size_t xp_bytes, int *xhave,
                                        int sms, void *stream, const void *const *wt) {
    int dummy = 0;
    int *have = xhave ? xhave : &dummy;
    if (n < 1 || n > 3 || !w || !N || !y) return (int)cudaErrorInvalidValue;
    const int64_t Kp = (K + QN_GMMQ_BK - 1) / QN_GMMQ_BK * QN_GMMQ_BK;
    const bool can = mode > 0 && xp && M > 64 && K > 0 && K % qn_ggml_block_elems(w_dtype) == 0 &&
                     M <= 0x7fffffff && xp_bytes >= qn_cuda_ggml_mmq_xprep_bytes(M, K) &&
                     scratch_bytes >= qn_cuda_ggml_mmq_multi_scratch(n, N, M, K) && qn_gmmq_route(M, N[0], K) == 17;
    int md = mode;
    for (int i = 0; i < n;) {
        int j = i + 1; /* weights i .. j - 1 as one grid */
        if (can && md > 0) {
            if (md == 2) j = n;
            else
                while (j < n && N[j] == N[i]) j++;
        }
        if (j - i >= 2) {
            qn_gmmq_args a; /* as qn_gmmq_run's for the kept prep in xp; w, N, y per weight */
            a.w = (const uint8_t *)w[i];
            a.rb = (size_t)(K / qn_ggml_block_elems(w_dtype)) * (size_t)qn_ggml_block_bytes(w_dtype);
            a.N = N[i], a.K = K, a.M = M, a.Kp = Kp;
            a.xh = (const __half *)xp, a.xnb = QN_XSLAB_NB;
            a.xscale = (const float *)((const uint8_t *)xp + qn_gmmq_xh_bytes(M, Kp));
            a.yd = y_dtype, a.y = y[i], a.epi = 0;
            a.wt = nullptr, a.trace = nullptr; /* a grouped launch reads the weights through their tensor maps */
            uint8_t *part = (uint8_t *)scratch + qn_gmmq_xh_bytes(M, Kp) + qn_gmmq_align((size_t)M * 4);
            const size_t used = (size_t)(part - (uint8_t *)scratch);
            const int had = *have;
            const int e = qn_gmmq_rsi_run_grp(w_dtype, x_dtype, x, a, j - i, w + i, N + i, y + i, md, sms, part,
                                              scratch_bytes - used, (cudaStream_t)stream, have);
            if (e >= 0) {
                if (e) return e;
                i = j;
                continue;
            }
            *have = had;
            if (md == 2) { /* declined as one grid: the weights of one N as groups (mode 1) */
                md = 1;
                continue;
            }
            j = i + 1;
        }
        const int e = qn_gmmq_run(w_dtype, w[i], N[i], K, x_dtype, x, M, y_dtype, y[i], scratch, scratch_bytes, xp,
                                  xp_bytes, have, sms, stream, wt ? wt[i] : nullptr);
        if (e) return e;
        i = j;
    }
    return 0;
}

extern "C" int qn_cuda_ggml_mmq_multi(int mode, int w_dtype, int n, const void *const *w, const int64_t *N, int64_t K,
                                      int x_dtype, const void *x, int64_t M, int y_dtype, void *const *y, void *scratch,
                                      size_t scratch_bytes, void *xp, size_t xp_bytes, int *xhave, int sms,
                                      void *stream) {
    return qn_cuda_ggml_mmq_multi_t(mode, w_dtype, n, w, N, K, x_dtype, x, M, y_dtype, y, scratch, scratch_bytes, xp,
                                    xp_bytes, xhave, sms, stream, nullptr);
}

extern "C" int qn_cuda_ggml_mmq_x(int w_dtype, const void *w, int64_t N, int64_t K, int x_dtype, const void *x,
                                  int64_t M, int y_dtype, void *y, void *scratch, size_t scratch_bytes, void *xp,
                                  size_t xp_bytes, int *xhave, int sms, void *stream) {
    return qn_gmmq_run(w_dtype, w, N, K, x_dtype, x, M, y_dtype, y, scratch, scratch_bytes, xp, xp_bytes, xhave, sms,
                       stream, nullptr);
}

extern "C" int qn_cuda_ggml_mmq_xt(int w_dtype, const void *w, int64_t N, int64_t K, int x_dtype, const void *x,
                                   int64_t M, int y_dtype, void *y, void *scratch, size_t scratch_bytes, void *xp,
                                   size_t xp_bytes, int *xhave, int sms, void *stream, const void *wt) {
    return qn_gmmq_run(w_dtype, w, N, K, x_dtype, x, M, y_dtype, y, scratch, scratch_bytes, xp, xp_bytes, xhave, sms,
                       stream, wt);
}

/* mmq24 (QUANTA_CUDA_GGML_TLIN): the tile-linear copy of a Q4_0 / Q8_0 weight that =17's kernels copy an A slot from
 * with one linear bulk copy (kernels_cuda/ggml_mmq_rsi_wg.cu): for each tile of 128 rows and each 256 of K, the 128
 * rows' bytes of that K slice one after another (row r at r x (K slice's bytes)), rows past N zero — exactly the bytes
 * the slot's 2-D TMA box lands in shared memory (its rows densely at the box's row pitch, out-of-range rows zero). */
#define QN_TLIN_ROWS 128
#define QN_TLIN_KA 256
extern "C" size_t qn_cuda_ggml_tlin_bytes(int w_dtype, int64_t N, int64_t K) {
    if ((w_dtype != QN_DT_GGML_Q4_0 && w_dtype != QN_DT_GGML_Q8_0) || N <= 0 || K <= 0 || K % QN_TLIN_KA) return 0;
    const size_t rb = (size_t)(K / 32) * (size_t)qn_ggml_block_bytes(w_dtype);
    return (size_t)((N + QN_TLIN_ROWS - 1) / QN_TLIN_ROWS) * QN_TLIN_ROWS * rb;
}

/* one 32-bit word a thread (rows and slices are multiples of 4 bytes: 144 / 272 bytes a slice row) */
__global__ void qn_k_ggml_tlin_pack(const uint32_t *w, int64_t N, int64_t rw, int64_t sw, int64_t KA, uint32_t *wt,
                                    int64_t words) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < words; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t slot = i / (QN_TLIN_ROWS * sw), in = i % (QN_TLIN_ROWS * sw);
        const int64_t r = in / sw, c = in % sw, nt = slot / KA, ka = slot % KA, n = nt * QN_TLIN_ROWS + r;
        wt[i] = n < N ? w[n * rw + ka * sw + c] : 0u;
    }
}

extern "C" int qn_cuda_ggml_tlin_pack(int w_dtype, const void *w, int64_t N, int64_t K, void *wt, void *stream) {
    const size_t bytes = qn_cuda_ggml_tlin_bytes(w_dtype, N, K);
    if (!bytes || ((uintptr_t)w & 3) || ((uintptr_t)wt & 15)) return (int)cudaErrorInvalidValue;
    const int64_t rb = K / 32 * qn_ggml_block_bytes(w_dtype), sb = QN_TLIN_KA / 32 * qn_ggml_block_bytes(w_dtype);
    const int64_t words = (int64_t)(bytes / 4);
    const int64_t blocks = (words + 255) / 256 < 4096 ? (words + 255) / 256 : 4096;
    qn_k_ggml_tlin_pack<<<(unsigned)blocks, 256, 0, (cudaStream_t)stream>>>((const uint32_t *)w, N, rb / 4, sb / 4,
                                                                           K / QN_TLIN_KA, (uint32_t *)wt, words);
    return qn_cu_launch_status();
}
