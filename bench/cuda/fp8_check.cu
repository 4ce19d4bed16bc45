/*
 * fp8_check.cu — the FP8 x FP8 GEMM of kernels_cuda/matmul_fp8_wg.cu (mmq8) against a host reference of exactly
 * its arithmetic, then timed against cuBLASLt FP8 and cuBLAS bf16 on LLaMA-7B/13B linear shapes.
 *
 *   fp8_check [check|time|time2|time3|time5|trace|trace3|trace4|quant|tma|all|sanitize|one] [csv | M N K [sk [tile]]]     (FP8_SEED=<n> repeats a run; the seed is printed either
 *   way; sanitize: three small check cases, for compute-sanitizer)
 *
 * check: random e4m3 weight codes (every finite code) with per-row scales, laid out with cuda_kernels.h's
 *   qn_cuda_weight_code_offset (the tiled layout engine/cuda/cuda_repack.c writes); x random, rows at scales
 *   from 1e-3 to 1e3 and one zero row. (1) The per-token codes and scales of qn_cuda_fp8_quantize_x against
 *   formats/fp8.c's encoder on x / (max|x| / 448): must be equal, byte for byte, in the kernel's K order.
 *   (2) y (NaN-poisoned before the GEMM) against sum_k dec(wq) dec(xq) * sw * sx in double: an element is
 *   wrong past 2^-10 of sum_k |dec(wq) dec(xq)| * sw * sx (f32 sums inside the tensor cores, fast
 *   accumulation) plus y's own rounding; then the same GEMM with block clusters of 1, 2 and 4, each also in
 *   the two persistent forms (fp8pp11; QUANTA_CUDA_FP8_V2 chooses the checked one), must give y bit for bit. Every tile forced once, and the pick; K and N not multiples of
 *   the tiles, M not a multiple of the token tile. Also printed: the error the e4m3 activations add
 *   against the f32 product with the unquantized x (NMSE; what conformance's bound is about).
 * time: quantize + GEMM (bf16 x in, bf16 y out, tile picked), our GEMM with each tile forced and (M <= 512) with
 *   K split on the two wide tiles (qn_cuda_fp8_gemm_split: not taken by the engine yet), the route e4m3
 *   weights take without the switch (matmul_q.cu: x to f16, f16 tensor cores), cuBLASLt FP8 (e4m3 x e4m3 ->
 *   bf16, per-tensor scales, fast accumulation and not), cuBLAS bf16 (bf16 x bf16 -> bf16, f32 compute), same
 *   shapes, same process; CUDA events around 20 back-to-back calls, best of 5; operands stay resident (no
 *   rotation: every peer alike). Ratios > 1: ours faster. csv (optional) gets one row per shape for
 *   bench/cuda/fp8_peers.py (torch._scaled_mm row-wise in the same call).
 *
 * time2: our GEMM alone with clusters of 1 (mmq8), 2 and 4 (fp8pp11), each also in the two persistent forms
 *   (tile picked), and
 *   the non-persistent ones with each tile forced, against cuBLASLt
 *   FP8 (fast accumulation) on bench/NOTES.md's FP8 table shapes; csv for fp8_peers.py as for time.
 * tma (fp813): kernels_cuda/tma.cuh's loads (2d swizzled, 3d, multicast) and store against the host's bytes.
 * trace3 (fp813): the TMA form's per-block timestamps of its first tile (clocks per 64 of K, epilogue).
 * trace4 (fp823): the ping-pong 128x128 tile alone / in pairs multicasting the weights / the tokens, each whole, without
 * copies and without wgmma (which side of its K loop limits it), beside the default's 128x256.
 * time3 (fp813): the default (2p) against the TMA form (0t, 2t) and cuBLASLt on LLaMA-7B/13B shapes, M 256..4096.
 *   check also compares the TMA form (token-major codes, clusters 1 and 2) bit for bit with the form of the run.
 * time5 (fp815): the default (0ts) with the tile picked, fp815's stream-K (always, and where its model picks it),
 *   the two quantizers, and cuBLASLt, same shapes (fp814's time4 also timed 0t, 2ts, 0tsn and the ping-pong form, removed
 *   since: bench/NOTES.md). check also runs 128x192 and stream-K (few SMs: tiles split in several pieces; flags left
 *   zero) against the reference.
 * trace: one launch per shape and cluster size with the kernel's per-block timestamps: time to the first stage,
 *   K steps, epilogue, gaps between blocks on an SM (where the time outside the K steps goes).
 *
 * Build: bench/cuda/build_fp8_check.sh (nvcc, sm_90a; links matmul_fp8_wg.cu, matmul_q.cu, formats/fp8.c,
 * -lcublasLt -lcublas).
 */
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

extern "C" {
#include "cuda_kernels.h"
#include "formats.h" /* qn_f32_to_e4m3, qn_e4m3_to_f32: formats/fp8.c, the one definition of e4m3 */
}
#include "matmul_fp8_wg.h" /* qn_cuda_fp8_gemm_cl: the block-cluster size per call (fp8pp11) */
#include "cp_async.cuh"
#include "wgmma.cuh" /* mbarriers for the tma probe */
#include "tma.cuh"   /* fp813: the tensor-map pieces under test (tma mode) */

/* kernels_cuda/cuda_common.cuh's switch, defined by rows.cu in libquanta (which this driver does not link): on where
 * the device is sm_90 or newer (main), as the backend sets it, so the decode GEMV's PDL forms (fp821) run as in the
 * engine */
extern "C" {
int qn_cuda_pdl_on = 0;
}

#define CK(x)                                                                                       \
    do {                                                                                            \
        cudaError_t e_ = (x);                                                                       \
        if (e_ != cudaSuccess) {                                                                    \
            printf("fp8_check: %s: %s (line %d)\n", #x, cudaGetErrorString(e_), __LINE__);          \
            exit(2);                                                                                \
        }                                                                                           \
    } while (0)

static std::mt19937_64 rng;
static float urand() { return (float)((rng() >> 11) * (1.0 / 9007199254740992.0)); }
static float nrand() {
    float u = urand(), v = urand();
    return sqrtf(-2.0f * logf(u + 1e-12f)) * cosf(6.2831853f * v);
}
static uint8_t code_rand() { /* any finite e4m3 code (0x7F / 0xFF are NaN) */
    uint8_t c;
    do c = (uint8_t)(rng() & 0xFF);
    while ((c & 0x7F) == 0x7F);
    return c;
}
static float bf16_round(float v) { return __bfloat162float(__float2bfloat16_rn(v)); }
/* Timing data: values do not change the speed, so a cheap generator (tens of millions of elements). */
static uint64_t fast_state = 88172645463325252ull;
static uint32_t fast_u32() {
    fast_state ^= fast_state << 13, fast_state ^= fast_state >> 7, fast_state ^= fast_state << 17;
    return (uint32_t)fast_state;
}
static void fill_codes(uint8_t *p, size_t n) { /* finite e4m3 codes of magnitude <= 1.75 (exponent <= 7) */
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(fast_u32() & 0xBF);
}

/* A weight in the tiled layout, on the device: codes [Np/16][Kp/64][1 KB], row scales [Np] (1 past N). */
struct dweight {
    qn_cuda_weight w;
    void *codes, *sw;
    void *codes_k; /* fp818: the K-major copy (cuda_kernels.h qn_cuda_fp8_km_offset) for the SS form; check weights only */
};
static dweight upload_weight(int64_t N, int64_t K, const std::vector<uint8_t> &wq, const std::vector<float> &sw) {
    dweight d;
    d.w.fmt = QN_CW_E4M3, d.w.N = N, d.w.K = K, d.w.Np = (N + 15) / 16 * 16, d.w.Kp = (K + 63) / 64 * 64;
    d.w.group = 0, d.w.meta = NULL;
    std::vector<uint8_t> tiled((size_t)d.w.Np * d.w.Kp, 0), km((size_t)d.w.Np * d.w.Kp, 0);
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < K; k++) {
            int sh;
            tiled[qn_cuda_weight_code_offset(QN_CW_E4M3, d.w.Kp, n, k, &sh)] = wq[n * K + k];
            km[qn_cuda_fp8_km_offset(d.w.Kp, n, k)] = wq[n * K + k];
        }
    CK(cudaMalloc(&d.codes_k, km.size()));
    CK(cudaMemcpy(d.codes_k, km.data(), km.size(), cudaMemcpyHostToDevice));
    d.w.codes_k = d.codes_k;
    std::vector<float> rs(d.w.Np, 1.0f);
    std::copy(sw.begin(), sw.end(), rs.begin());
    CK(cudaMalloc(&d.codes, tiled.size()));
    CK(cudaMalloc(&d.sw, rs.size() * 4));
    CK(cudaMemcpy(d.codes, tiled.data(), tiled.size(), cudaMemcpyHostToDevice));
    CK(cudaMemcpy(d.sw, rs.data(), rs.size() * 4, cudaMemcpyHostToDevice));
    d.w.codes = d.codes, d.w.row_scale = (const float *)d.sw;
    return d;
}

/* The kernel's K order inside a 16-byte slice (cuda_kernels.h, qn_cuda_fp8_kperm: one definition). */
static int kperm(int p) { return qn_cuda_fp8_kperm(p); }

struct ccase {
    int64_t M, N, K;
    int xd, yd, tile, splits; /* splits > 1: qn_cuda_fp8_gemm_split */
};

static const char *dtn(int d) { return d == QN_DT_F32 ? "f32" : d == QN_DT_F16 ? "f16" : "bf16"; }

/* fp820: qn_cuda_matmul_q (the decode GEMV, and its streaming kernel for K-major codes at M >= 65) with the weight's
 * tiled codes and with its K-major codes only (codes NULL), y in f32, at M = 1, 5, 8, 24 and the case's M, against the
 * float64 sum of the weights times x in its dtype (the GEMV rounds x to f16 after a power-of-two scale: within 2^-11
 * of each term, so |y - ref| <= sum|terms| / 1024; the GEMM's bound was the same until fp822, / 512 since); also the two layouts' largest difference
 * relative to sum|terms| (the same products summed in another order: ~1e-7). fp821: the K-major codes through every
 * form of the K-major GEMV (qn_cuda_matmul_km_form 0 = fp820's, 1.. = qn_k_mmq_kmw's), each against the reference and
 * against the tiled form. 1 if any output is out of bound. */
static int check_gemv(const ccase &c, const dweight &dw, const std::vector<float> &x, const std::vector<uint8_t> &wq,
                      const std::vector<float> &sw, const void *dx) {
    const int64_t N = c.N, K = c.K;
    const int64_t ms[5] = {1, 5, 8, 24, c.M < 80 ? c.M : 80}; /* 80: past qn_cuda_matmul_big_min_m, the host sum kept short */
    constexpr int NV = 1 + QN_CUDA_MATMUL_KM_FORMS; /* tiled, then K-major form f = v - 1 */
    qn_cuda_weight wkm = dw.w;
    wkm.codes = NULL;
    float lut[256];
    for (int v = 0; v < 256; v++) lut[v] = qn_e4m3_to_f32((uint8_t)v);
    unsigned *cnt;
    CK(cudaMalloc(&cnt, QN_CUDA_MATMUL_COUNTERS * sizeof(unsigned)));
    CK(cudaMemset(cnt, 0, QN_CUDA_MATMUL_COUNTERS * sizeof(unsigned)));
    long long bad[NV][5] = {}, total = 0;
    double worst_pair[NV] = {};
    const int form0 = qn_cuda_matmul_km_form;
    for (int mi = 0; mi < 5; mi++) {
        const int64_t M = ms[mi] < c.M ? ms[mi] : c.M;
        std::vector<float> yh[NV];
        for (int v = 0; v < NV; v++) {
            const qn_cuda_weight *w = v ? &wkm : &dw.w;
            qn_cuda_matmul_km_form = v ? v - 1 : form0;
            const size_t sb = qn_cuda_matmul_q_scratch(w, M, 132);
            void *scr, *dy;
            CK(cudaMalloc(&scr, sb));
            CK(cudaMalloc(&dy, (size_t)(M * N) * 4));
            CK(cudaMemset(dy, 0xFF, (size_t)(M * N) * 4));
            const int e = qn_cuda_matmul_q(w, c.xd, dx, QN_DT_F32, dy, M, scr, sb, cnt, QN_CUDA_MATMUL_COUNTERS, 132, NULL);
            if (e) {
                printf("GEMV launch (%s %d, M=%lld): %d\n", v ? "K-major form" : "tiled", v - 1, (long long)M, e);
                qn_cuda_matmul_km_form = form0;
                return 1;
            }
            CK(cudaDeviceSynchronize());
            yh[v].resize((size_t)(M * N));
            CK(cudaMemcpy(yh[v].data(), dy, (size_t)(M * N) * 4, cudaMemcpyDeviceToHost));
            cudaFree(scr), cudaFree(dy);
        }
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = 0; n < N; n++) {
                double s = 0, a = 0;
                for (int64_t k = 0; k < K; k++) {
                    const double t = (double)lut[wq[n * K + k]] * (double)x[m * K + k];
                    s += t, a += fabs(t);
                }
                s *= sw[n], a *= sw[n];
                const double tol = a / 1024.0 + 1e-30;
                for (int v = 0; v < NV; v++) {
                    bad[v][mi] += !(fabs((double)yh[v][m * N + n] - s) <= tol);
                    if (a > 0)
                        worst_pair[v] =
                            std::max(worst_pair[v], fabs((double)yh[0][m * N + n] - (double)yh[v][m * N + n]) / a);
                }
                total++;
            }
    }
    qn_cuda_matmul_km_form = form0;
    cudaFree(cnt);
    long long any = 0;
    double worst = 0;
    for (int v = 0; v < NV; v++) {
        char form[32];
        snprintf(form, sizeof form, v ? "K-major form %d" : "tiled", v - 1);
        printf("check N=%lld K=%lld x=%s: decode GEMV (M = 1 / 5 / 8 / 24 / %lld) %s %lld / %lld / %lld / %lld / %lld "
               "wrong of %lld against the reference%s",
               (long long)N, (long long)K, dtn(c.xd), (long long)ms[4], form,
               bad[v][0], bad[v][1], bad[v][2], bad[v][3], bad[v][4], total, v ? "" : "\n");
        if (v) printf("; vs tiled at most %.2e of sum|terms|\n", worst_pair[v]);
        for (int mi = 0; mi < 5; mi++) any += bad[v][mi];
        worst = std::max(worst, worst_pair[v]);
    }
    return any || worst > 1e-5 ? 1 : 0;
}

static int check_case(const ccase &c) {
    const int64_t M = c.M, N = c.N, K = c.K, Kp = (K + 63) / 64 * 64;
    /* x, rounded to its dtype first (the kernel reads that dtype) */
    std::vector<float> x((size_t)(M * K));
    for (int64_t m = 0; m < M; m++) {
        const float rs = m == M / 2 ? 0.0f : powf(10.0f, -3.0f + 6.0f * urand());
        for (int64_t k = 0; k < K; k++) {
            float v = nrand() * rs;
            if (c.xd == QN_DT_F16) v = __half2float(__float2half_rn(v));
            if (c.xd == QN_DT_BF16) v = bf16_round(v);
            x[m * K + k] = v;
        }
    }
    std::vector<uint8_t> wq((size_t)(N * K));
    std::vector<float> sw(N);
    for (auto &b : wq) b = code_rand();
    for (auto &s : sw) s = (0.5f + urand()) / (448.0f * sqrtf((float)K));
    /* host codes: the format's arithmetic (formats/fp8.c) on x / (max|x| / 448) */
    std::vector<uint8_t> hq((size_t)(M * K), 0);
    std::vector<float> hs(M);
    for (int64_t m = 0; m < M; m++) {
        float amax = 0.0f;
        for (int64_t k = 0; k < K; k++) amax = fmaxf(amax, fabsf(x[m * K + k]));
        hs[m] = amax / 448.0f;
        for (int64_t k = 0; k < K; k++) hq[m * K + k] = hs[m] > 0.0f ? qn_f32_to_e4m3(x[m * K + k] / hs[m]) : 0;
    }
    /* device */
    dweight dw = upload_weight(N, K, wq, sw);
    const size_t es = c.xd == QN_DT_F32 ? 4 : 2, ys = c.yd == QN_DT_F32 ? 4 : 2;
    std::vector<uint8_t> xb((size_t)(M * K) * es);
    for (int64_t i = 0; i < M * K; i++) {
        if (c.xd == QN_DT_F32) memcpy(&xb[i * 4], &x[i], 4);
        else if (c.xd == QN_DT_F16) { __half h = __float2half_rn(x[i]); memcpy(&xb[i * 2], &h, 2); }
        else { __nv_bfloat16 h = __float2bfloat16_rn(x[i]); memcpy(&xb[i * 2], &h, 2); }
    }
    void *dx, *dy, *buf;
    const size_t bb = qn_cuda_fp8_x_bytes(M, Kp);
    CK(cudaMalloc(&dx, xb.size()));
    CK(cudaMalloc(&dy, (size_t)(M * N) * ys));
    CK(cudaMalloc(&buf, bb));
    CK(cudaMemcpy(dx, xb.data(), xb.size(), cudaMemcpyHostToDevice));
    CK(cudaMemset(buf, 0xA5, bb)); /* garbage: the quantizer must write every padded byte it owns */
    CK(cudaMemset(dy, 0xFF, (size_t)(M * N) * ys)); /* NaN */
    printf("case M=%lld N=%lld K=%lld tile=%d splits=%d ...\n", (long long)M, (long long)N, (long long)K, c.tile,
           c.splits);
    float *part = NULL;
    if (c.splits > 1) CK(cudaMalloc(&part, (size_t)c.splits * (size_t)(M * N) * 4));
    /* the slice layout and 2p explicitly (QUANTA_CUDA_FP8_V2 may choose a TMA form, which reads token-major codes) */
    int e = qn_cuda_fp8_quantize_x_tm(c.xd, dx, M, K, Kp, buf, 0, NULL);
    if (e) { printf("quantize launch: %d\n", e); return 1; }
    e = c.splits > 1 ? qn_cuda_fp8_gemm_cl(&dw.w, buf, M, c.yd, dy, c.tile, c.splits, part, 2, 0, NULL, 132, NULL)
                     : qn_cuda_fp8_gemm_cl(&dw.w, buf, M, c.yd, dy, c.tile, 1, NULL, 2, 1, NULL, 132, NULL);
    if (e) { printf("gemm launch: %d%s\n", e, e < 0 ? " (not a 9.0 device)" : ""); return 1; }
    CK(cudaDeviceSynchronize());
    std::vector<uint8_t> dq(bb);
    CK(cudaMemcpy(dq.data(), buf, bb, cudaMemcpyDeviceToHost));
    uint8_t *xqd;
    float *sxd;
    qn_cuda_fp8_x_split(dq.data(), M, Kp, &xqd, &sxd);
    const int64_t Mp = (M + 255) / 256 * 256;
    int64_t code_bad = 0, scale_bad = 0, pad_bad = 0;
    for (int64_t m = 0; m < Mp; m++) {
        if (m < M && memcmp(&sxd[m], &hs[m], 4)) scale_bad++;
        if (m >= M && sxd[m] != 0.0f) pad_bad++;
        for (int64_t s = 0; s < Kp / 16; s++)
            for (int p = 0; p < 16; p++) {
                const int64_t k = s * 16 + kperm(p);
                const uint8_t want = (m < M && k < K) ? hq[m * K + k] : 0;
                if (xqd[(s * Mp + m) * 16 + p] != want) (m < M && k < K ? code_bad : pad_bad)++;
            }
    }
    std::vector<uint8_t> yb((size_t)(M * N) * ys);
    CK(cudaMemcpy(yb.data(), dy, yb.size(), cudaMemcpyDeviceToHost));
    /* fp8pp11: the same GEMM with blocks alone and in clusters of 2 and 4 (QUANTA_CUDA_FP8_V2 chose the run
     * above): the same instructions on the same bytes, so y must match it bit for bit (y NaN-poisoned again) */
    int64_t cl_bad[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0}; /* clusters 1, 2, 4; persistent; persistent, 2 in flight */
    std::vector<uint8_t> yc(yb.size());
    for (int ci = 0; ci < 9; ci++) {
        CK(cudaMemset(dy, 0xFF, yb.size()));
        e = qn_cuda_fp8_gemm_cl(&dw.w, buf, M, c.yd, dy, c.tile, c.splits, part, 1 << (ci % 3), ci / 3, NULL, 132, NULL);
        if (e) { printf("gemm launch (cluster %d, persistent %d): %d\n", 1 << (ci % 3), ci / 3, e); return 1; }
        CK(cudaDeviceSynchronize());
        CK(cudaMemcpy(yc.data(), dy, yc.size(), cudaMemcpyDeviceToHost));
        for (size_t i = 0; i < yc.size(); i += ys) cl_bad[ci] += memcmp(&yc[i], &yb[i], ys) != 0;
    }
    /* fp813: the TMA form reads token-major codes (xq[m][Kp], the same kperm order in each 16 bytes): quantized
     * again in that layout into a fresh garbage-filled buffer (codes and scales checked as above), then clusters
     * 1 and 2 of it must give y bit for bit (y NaN-poisoned again). Not split-K (the form has none). */
    /* 0t, 2t, 0ts, 2ts (clusters along the weights), 2tw, 4tw, 2tws, 4tws (along the tokens) */
    /* fp817: 0ts and 2tws again with the stmatrix epilogue (persist | 512, QUANTA_CUDA_FP8_STM): the same bytes */
    static const int tforms[10][2] = {{1, 3}, {2, 3}, {1, 4}, {2, 4}, {2, 5}, {4, 5}, {2, 6}, {4, 6}, {1, 4 | 512}, {2, 6 | 512}};
    int64_t t_bad[10] = {}, tcode_bad = 0;
    /* yk: fp814's 128x192 tile of the TMA form (0ts, 2ts: another wgmma N, so checked against the reference, its bit
     * differences from the run's form only counted), then fp815's stream-K (0ts with SK: K split between blocks, so
     * the reference decides; bits differ only in split tiles) with the tile and the SMs of sk_runs: few SMs split
     * every tile into several pieces, and 5 SMs on 12 tiles run round-robin tiles before the stream-K ones */
    /* tile (0: 128x256), SMs, mode (2: fp815's contiguous ranges, 3: fp816's split-K groups: on 132 SMs the last
     * partial round's tiles in up to 66 pieces each, on 3 / 7 SMs whole tiles first, then one or two tiles split) */
    /* fp817: 5, the groups with the shared reduction (every piece stores a share), on the same tiles and SMs as 3, and
     * on 5 SMs (a whole round, then two-piece groups) */
    constexpr int NSK = 15; /* the last: 5 with the stmatrix epilogue (sk | 16) */
    static const int sk_runs[NSK][3] = {{0, 132, 2}, {0, 3, 2}, {0, 5, 2}, {2, 132, 2}, {5, 7, 2},
                                        {0, 132, 3}, {0, 3, 3}, {2, 132, 3}, {5, 7, 3},
                                        {0, 132, 5}, {0, 3, 5}, {2, 132, 5}, {5, 7, 5}, {0, 5, 5},
                                        {0, 5, 5 | 16}};
    /* fp818: the SS form (both operands from shared memory, the weights from the K-major copy): persist 4 | 2048 and
     * 3 | 2048 with the case's tile, each two-consumer tile forced (128x256, 128x128, 128x64, 128x192), and the split
     * forms on it (sk | 64: groups on 132 / 3 SMs, the shared reduction on 132 / 5, stream-K on 3). Checked against the
     * reference; bits against the run's form printed (the same values at the same wgmma positions: expected equal
     * where the tile and the split are the same) */
    /* fp819: + the ping-pong form (persist | 4096: 128x128, each consumer warpgroup on its own tiles, SS) on 132 SMs,
     * on 1 (every tile of the case through one block: the turns between the warpgroups run, stages of up to three
     * tiles in flight at once where K is short) and on 3, in clusters of 2 along the tokens (ppw), and the route that
     * takes it by its pick (sk 4 | 128: on these small shapes it keeps sk 4's route). Bits against the SS 128x128
     * tile (ss_runs[3]): must be equal (the same products added in the same order), a difference fails the case */
    /* fp823: + the ping-pong form in clusters of 2 along the weights (ppt: persist 4 | 4096 with cluster 2, each block
     * its own weight rows, the token box's halves multicast) on 132 SMs and on 3 (one pair: every tile of the case
     * through it, the turns and the pair's stage ring across tiles), bit for bit against SS 128x128 likewise; and SS
     * 128x128 itself (cooperative) in those pairs (c128t: persist 4 | 2048, cluster 2, tile 128x128) on 132 / 3 */
    /* fp819: + the SS form with the split epilogue (persist | 8192, OE: stores of a tile under the next one's K loop):
     * 128x256 on 132 and 3 SMs, 128x128 on 1, 128x192 on 3, the picked tile on 132, and the route sk 4 | 256 on 3
     * SMs; the first five bit for bit against SS 128x128 (must be equal) */
    constexpr int NSS0 = 12, NPP = 9, NSS = NSS0 + NPP + 6; /* [11]: 2tws 128x128 (TW's route) in SS */
    static const int ss_runs[NSS][5] = {/* tile (-1: the case's), persist or 0 (split), sk, SMs, cluster */
                                        {-1, 4, 0, 132, 1}, {-1, 3, 0, 132, 1}, {1, 4, 0, 132, 1}, {2, 4, 0, 132, 1},
                                        {3, 4, 0, 132, 1}, {5, 4, 0, 132, 1}, {0, 0, 3, 132, 1}, {0, 0, 3, 3, 1},
                                        {0, 0, 5, 132, 1}, {0, 0, 5, 5, 1}, {0, 0, 2, 3, 1}, {2, 6, 0, 132, 2},
                                        {2, 4 | 4096, 0, 132, 1}, {2, 4 | 4096, 0, 1, 1}, {2, 4 | 4096, 0, 3, 1},
                                        {2, 6 | 4096, 0, 132, 2}, {2, 4 | 4096, 0, 132, 2}, {2, 4 | 4096, 0, 3, 2},
                                        {2, 4, 0, 132, 2}, {2, 4, 0, 3, 2}, {0, 0, 4 | 128, 132, 1},
                                        {1, 4 | 8192, 0, 132, 1}, {1, 4 | 8192, 0, 3, 1}, {2, 4 | 8192, 0, 1, 1},
                                        {5, 4 | 8192, 0, 3, 1}, {0, 4 | 8192, 0, 132, 1}, {0, 0, 4 | 256, 3, 1}};
    constexpr int NK_ = 2 + NSK + NSS;
    std::vector<uint8_t> yk[NK_];
    for (auto &v : yk) v.resize(yb.size());
    int64_t k_diff[NK_] = {}, sk_flags_bad = 0;
    std::vector<uint8_t> y0t, y0ts; /* fp818: 0t's and 0ts's y, for the SS form's bit comparison */
    long long ss_same[2] = {0, 0}, pp_same = 0, oe_same = 0; /* fp819's ping-pong / OE runs' outputs differing from SS 128x128's */
    /* fp820: K-major-only runs: tile (-1: the case's, 128x128 for 64x64), persist or 0 (route), sk, SMs — the engine's
     * route (sk 4) on 132 and 3 SMs (OE's rule takes every tile on 3), without OE (sk | 512) on 3, 0ts with each
     * two-consumer tile forced on 132 (OE by the rule), 0t with the case's tile */
    /* + QUANTA_CUDA_FP8_LEAD's groups (sk | 1024: the owner piece 3 stages longer where pieces are >= 8 stages; another
     * split of K, so against the reference only): groups always on 5 / 3 SMs, the shared reduction on 5 */
    /* + fp821: the groups with a 12-stage lead (sk bits 16-21, capped where pieces are short) on 5 SMs, both reductions */
    /* + fp822: the groups with each tile's pieces one cluster, reduced in distributed shared memory (sk | 2048), on SM
     * counts that give the small cases pieces of 2, 3 and 4 (or the slots' fallback where the plan does not fit) */
    /* + fp822's SKCL=2: the OE route (forced: sk | 256) on 128x256 (forced) with the last partial round in cluster groups
     * (sk | 4096): on 3 / 12 / 14 SMs the 16 tiles of 333 x 1024 x 1088 leave pieces of 3 / 3 / 2, on 5 the plan falls
     * back to plain OE */
    /* + fp822's SS 128x256 in clusters of 2 along the weights (persist bit 32768 here: cluster 2; OE by its rule), on
     * 132 SMs and on 3 (OE's rule takes every tile there) */
    constexpr int NKM = 25, NKM_BITS = 8; /* the first 8 also bit for bit against SS */
    static const int km_runs[NKM][4] = {{0, 0, 4, 132},        {0, 0, 4, 3},         {0, 0, 4 | 512, 3}, {1, 4, 0, 132},
                                        {2, 4, 0, 132},        {3, 4, 0, 3},         {5, 4, 0, 132},     {-1, 3, 0, 132},
                                        {0, 0, 3 | 1024, 5},   {0, 0, 3 | 1024, 3},  {0, 0, 5 | 1024, 5},
                                        {0, 0, 3 | (12 << 16), 5}, {0, 0, 5 | (12 << 16), 5},
                                        {0, 0, 3 | 2048, 12},  {0, 0, 3 | 2048, 18}, {0, 0, 3 | 2048, 32},
                                        {0, 0, 3 | 2048, 48},  {0, 0, 3 | 2048, 64}, {0, 0, 4 | 2048, 132},
                                        {1, 0, 4 | 256 | 4096, 3}, {1, 0, 4 | 256 | 4096, 12}, {1, 0, 4 | 256 | 4096, 14},
                                        {1, 0, 4 | 256 | 4096, 5}, {1, 4 | 32768, 0, 132}, {1, 4 | 32768, 0, 3}};
    std::vector<uint8_t> y_km[NKM], y_kmref[NKM];
    long long km_same = 0, km_refused = 0;
    const bool t_ran = c.splits == 1;
    int64_t qsm_bad = 0;
    if (t_ran) {
        void *buf2, *buf3;
        CK(cudaMalloc(&buf2, bb));
        CK(cudaMalloc(&buf3, bb));
        CK(cudaMemset(buf2, 0xA5, bb));
        e = qn_cuda_fp8_quantize_x_tm(c.xd, dx, M, K, Kp, buf2, 1, NULL);
        if (e) { printf("quantize (token-major) launch: %d\n", e); return 1; }
        CK(cudaDeviceSynchronize());
        std::vector<uint8_t> dq2(bb);
        CK(cudaMemcpy(dq2.data(), buf2, bb, cudaMemcpyDeviceToHost));
        uint8_t *xq2;
        float *sx2;
        qn_cuda_fp8_x_split(dq2.data(), M, Kp, &xq2, &sx2);
        /* fp815's one-read quantizer: the same bytes (codes, scales, padding) as the loop form, in both layouts */
        for (int lay = 0; lay < 2; lay++) {
            CK(cudaMemset(buf3, 0x5A, bb));
            e = qn_cuda_fp8_quantize_x_form(c.xd, dx, M, K, Kp, buf3, 1 - lay, 1, NULL);
            if (e) { printf("quantize (one-read form) launch: %d\n", e); return 1; }
            CK(cudaDeviceSynchronize());
            std::vector<uint8_t> dq3(bb);
            CK(cudaMemcpy(dq3.data(), buf3, bb, cudaMemcpyDeviceToHost));
            const std::vector<uint8_t> &want = lay == 0 ? dq2 : dq;
            uint8_t *xq3, *xqw;
            float *sx3, *sxw;
            qn_cuda_fp8_x_split(dq3.data(), M, Kp, &xq3, &sx3);
            qn_cuda_fp8_x_split((void *)want.data(), M, Kp, &xqw, &sxw);
            for (int64_t i = 0; i < Mp * Kp; i++) qsm_bad += xq3[i] != xqw[i];
            for (int64_t m = 0; m < Mp; m++) qsm_bad += memcmp(&sx3[m], &sxw[m], 4) != 0;
        }
        for (int64_t m = 0; m < Mp; m++) {
            if (memcmp(&sx2[m], &sxd[m], 4)) tcode_bad++;
            for (int64_t k = 0; k < Kp; k++) {
                const int64_t kk = k / 16 * 16 + kperm((int)(k % 16));
                const uint8_t want = (m < M && kk < K) ? hq[m * K + kk] : 0;
                if (xq2[m * Kp + k] != want) tcode_bad++;
            }
        }
        for (int ci = 0; ci < 10; ci++) {
            CK(cudaMemset(dy, 0xFF, yb.size()));
            e = qn_cuda_fp8_gemm_cl(&dw.w, buf2, M, c.yd, dy, c.tile, 1, NULL, tforms[ci][0], tforms[ci][1], NULL, 132, NULL);
            if (e) { printf("gemm launch (TMA form %d, cluster %d): %d\n", tforms[ci][1], tforms[ci][0], e); return 1; }
            CK(cudaDeviceSynchronize());
            CK(cudaMemcpy(yc.data(), dy, yc.size(), cudaMemcpyDeviceToHost));
            for (size_t i = 0; i < yc.size(); i += ys) t_bad[ci] += memcmp(&yc[i], &yb[i], ys) != 0;
            if (ci == 0) y0t = yc; /* fp818: the register form the SS form replaces, tile for tile */
            if (ci == 2) y0ts = yc;
        }
        for (int ci = 0; ci < 2; ci++) {
            CK(cudaMemset(dy, 0xFF, yb.size()));
            e = qn_cuda_fp8_gemm_cl(&dw.w, buf2, M, c.yd, dy, 5, 1, NULL, ci + 1, 4, NULL, 132, NULL);
            if (e) { printf("gemm launch (TMA form, tile 128x192, cluster %d): %d\n", ci + 1, e); return 1; }
            CK(cudaDeviceSynchronize());
            CK(cudaMemcpy(yk[ci].data(), dy, yc.size(), cudaMemcpyDeviceToHost));
            for (size_t i = 0; i < yc.size(); i += ys) k_diff[ci] += memcmp(&yk[ci][i], &yb[i], ys) != 0;
        }
        float *skw;
        unsigned *skf;
        CK(cudaMalloc(&skw, qn_cuda_fp8_sk_bytes(132)));
        CK(cudaMalloc(&skf, 2 * 132 * sizeof(unsigned)));
        CK(cudaMemset(skw, 0xFF, qn_cuda_fp8_sk_bytes(132))); /* NaN: a slot read before it is written shows */
        CK(cudaMemset(skf, 0, 2 * 132 * sizeof(unsigned)));
        for (int ci = 0; ci < NSK; ci++) {
            CK(cudaMemset(dy, 0xFF, yb.size()));
            e = qn_cuda_fp8_gemm_sk(&dw.w, buf2, M, c.yd, dy, sk_runs[ci][0], sk_runs[ci][2], skw, skf, NULL, sk_runs[ci][1], NULL);
            if (e) { printf("gemm launch (stream-K %d, tile %d, %d SMs): %d\n", sk_runs[ci][2], sk_runs[ci][0], sk_runs[ci][1], e); return 1; }
            CK(cudaDeviceSynchronize());
            CK(cudaMemcpy(yk[2 + ci].data(), dy, yc.size(), cudaMemcpyDeviceToHost));
            for (size_t i = 0; i < yc.size(); i += ys) k_diff[2 + ci] += memcmp(&yk[2 + ci][i], &yb[i], ys) != 0;
            unsigned hf[2 * 132];
            CK(cudaMemcpy(hf, skf, sizeof hf, cudaMemcpyDeviceToHost));
            for (unsigned v : hf) sk_flags_bad += v != 0; /* the contract: left zero */
        }
        for (int ci = 0; ci < NSS; ci++) {
            const int *r = ss_runs[ci], tl = r[0] < 0 ? c.tile : r[0];
            std::vector<uint8_t> &yo = yk[2 + NSK + ci];
            CK(cudaMemset(dy, 0xFF, yb.size()));
            e = r[1] ? qn_cuda_fp8_gemm_cl(&dw.w, buf2, M, c.yd, dy, tl, 1, NULL, r[4], r[1] | 2048, NULL, r[3], NULL)
                     : qn_cuda_fp8_gemm_sk(&dw.w, buf2, M, c.yd, dy, tl, r[2] | 64, skw, skf, NULL, r[3], NULL);
            if (e) { printf("gemm launch (SS form, tile %d, persist %d, sk %d, %d SMs): %d\n", tl, r[1], r[2], r[3], e); return 1; }
            CK(cudaDeviceSynchronize());
            CK(cudaMemcpy(yo.data(), dy, yc.size(), cudaMemcpyDeviceToHost));
            for (size_t i = 0; i < yc.size(); i += ys) k_diff[2 + NSK + ci] += memcmp(&yo[i], &yb[i], ys) != 0;
            unsigned hf[2 * 132];
            CK(cudaMemcpy(hf, skf, sizeof hf, cudaMemcpyDeviceToHost));
            for (unsigned v : hf) sk_flags_bad += v != 0;
        }
        /* fp820: the weight with K-major codes only (codes NULL: QUANTA_CUDA_FP8_KM's form) through the routes that read
         * it, each bit for bit against the SS form of the same route / tile on the same bytes (must be equal: the same
         * kernels, OE where its rule takes it being bit-identical to SS); the forms only tiled codes serve must refuse */
        qn_cuda_weight wkm = dw.w;
        wkm.codes = NULL;
        for (int ci = 0; ci < NKM; ci++) {
            const int *r = km_runs[ci];
            const int tl = r[0] < 0 ? (c.tile == 4 ? 2 : c.tile) : r[0];
            for (int v = 0; v < 2; v++) { /* v 0: K-major only; 1: the SS form on the tiled weight + its copy */
                std::vector<uint8_t> &yo = v ? y_kmref[ci] : y_km[ci];
                yo.resize(yb.size());
                CK(cudaMemset(dy, 0xFF, yb.size()));
                const qn_cuda_weight *wv = v ? &dw.w : &wkm;
                e = r[1] ? qn_cuda_fp8_gemm_cl(wv, buf2, M, c.yd, dy, tl, 1, NULL, (r[1] & 32768) ? 2 : 1,
                                               (r[1] & ~32768) | (v ? 2048 : 0), NULL, r[3], NULL)
                         : qn_cuda_fp8_gemm_sk(wv, buf2, M, c.yd, dy, tl, r[2] | (v ? 64 : 0), skw, skf, NULL, r[3], NULL);
                if (e) { printf("gemm launch (K-major run %d, %s): %d\n", ci, v ? "SS" : "K-major only", e); return 1; }
                CK(cudaDeviceSynchronize());
                CK(cudaMemcpy(yo.data(), dy, yc.size(), cudaMemcpyDeviceToHost));
            }
            if (ci < NKM_BITS)
                for (size_t i = 0; i < yc.size(); i += ys) km_same += memcmp(&y_km[ci][i], &y_kmref[ci][i], ys) != 0;
            unsigned hf[2 * 132];
            CK(cudaMemcpy(hf, skf, sizeof hf, cudaMemcpyDeviceToHost));
            for (unsigned v : hf) sk_flags_bad += v != 0; /* the contract: left zero */
        }
        /* refused: 2p (a non-TMA form), 0ts with 64x64 forced, 2ts (clusters along the weights) */
        km_refused += qn_cuda_fp8_gemm_cl(&wkm, buf2, M, c.yd, dy, 0, 1, NULL, 2, 1, NULL, 132, NULL) == -1;
        km_refused += qn_cuda_fp8_gemm_cl(&wkm, buf2, M, c.yd, dy, 4, 1, NULL, 1, 4, NULL, 132, NULL) == -1;
        km_refused += qn_cuda_fp8_gemm_cl(&wkm, buf2, M, c.yd, dy, 0, 1, NULL, 2, 4, NULL, 132, NULL) == -1;
        CK(cudaDeviceSynchronize());
        cudaFree(skw), cudaFree(skf);
        cudaFree(buf2), cudaFree(buf3);
    }
    for (size_t i = 0; t_ran && i < yb.size(); i += ys) {
        ss_same[0] += memcmp(&yk[2 + NSK][i], &y0ts[i], ys) != 0;
        ss_same[1] += memcmp(&yk[2 + NSK + 1][i], &y0t[i], ys) != 0;
        for (int ci = NSS0; ci < NSS0 + NPP - 1; ci++) pp_same += memcmp(&yk[2 + NSK + ci][i], &yk[2 + NSK + 3][i], ys) != 0;
        for (int ci = NSS0 + NPP; ci < NSS - 1; ci++) oe_same += memcmp(&yk[2 + NSK + ci][i], &yk[2 + NSK + 3][i], ys) != 0;
    }
    long long stm_sk_diff = 0; /* fp817: SK=5 on 5 SMs with and without stmatrix, bit for bit */
    for (size_t i = 0; t_ran && i < yb.size(); i += ys) stm_sk_diff += memcmp(&yk[2 + NSK - 1][i], &yk[2 + NSK - 2][i], ys) != 0;
    float lut[256];
    for (int v = 0; v < 256; v++) lut[v] = qn_e4m3_to_f32((uint8_t)v);
    int64_t bad = 0, first = -1, k_ref_bad[NK_] = {}, km_ref_bad[NKM] = {};
    double se = 0, sr = 0, worst = 0, fe = 0, fr = 0;
    std::vector<double> xf(K);
    for (int64_t m = 0; m < M; m++) {
        for (int64_t k = 0; k < K; k++) xf[k] = lut[hq[m * K + k]];
        for (int64_t n = 0; n < N; n++) {
            double s = 0, a = 0, exact = 0;
            for (int64_t k = 0; k < K; k++) {
                const double w = lut[wq[n * K + k]];
                s += w * xf[k], a += fabs(w * xf[k]), exact += w * (double)x[m * K + k];
            }
            const double sc = (double)sw[n] * (double)hs[m];
            const double ref = s * sc, mag = a * sc;
            auto value = [&](const std::vector<uint8_t> &buf) {
                float v;
                const uint8_t *p = &buf[(size_t)(m * N + n) * ys];
                if (c.yd == QN_DT_F32) memcpy(&v, p, 4);
                else if (c.yd == QN_DT_F16) { __half h; memcpy(&h, p, 2); v = __half2float(h); }
                else { __nv_bfloat16 h; memcpy(&h, p, 2); v = __bfloat162float(h); }
                return v;
            };
            const float got = value(yb);
            const double own = c.yd == QN_DT_F32 ? 0.0 : fabs(ref) * (c.yd == QN_DT_F16 ? 1.0 / 1024 : 1.0 / 128);
            /* the GEMM's bound: sum|terms| / 512. It was / 1024 until the H100 run of 2026-12-07 19:06 (seed
             * 1796670693878892738): 512 x 4096 x 512, f32 y, one output (m 494, n 2125) at 1.00e-03 of sum|terms| in
             * every form alike — the default 0t and all the others, the same bits: the tensor cores' FP8 accumulation,
             * not a form's order — against a largest ratio of ~5e-4 on the other cases */
            const double err = fabs((double)got - ref), tol = mag / 512.0 + own + 1e-30;
            if (!(err <= tol)) { bad++; if (first < 0) first = m * N + n; }
            for (int ci = 0; ci < NK_ && t_ran; ci++) /* NaN (never written) fails too */
                k_ref_bad[ci] += !(fabs((double)value(yk[ci]) - ref) <= tol);
            for (int ci = 0; ci < NKM && t_ran; ci++) km_ref_bad[ci] += !(fabs((double)value(y_km[ci]) - ref) <= tol);
            if (mag > 0) worst = std::max(worst, err / (mag + own));
            se += err * err, sr += ref * ref;
            exact *= (double)sw[n];
            fe += ((double)got - exact) * ((double)got - exact), fr += exact * exact;
        }
    }
    printf("check M=%lld N=%lld K=%lld x=%s y=%s tile=%d splits=%d: codes %lld wrong, scales %lld wrong, padding %lld wrong; "
           "y %lld of %lld wrong (worst err / sum|terms| %.2e, NMSE vs reference %.2e); e4m3 x costs NMSE %.2e "
           "against the unquantized x",
           (long long)M, (long long)N, (long long)K, dtn(c.xd), dtn(c.yd), c.tile, c.splits, (long long)code_bad,
           (long long)scale_bad, (long long)pad_bad, (long long)bad, (long long)(M * N), worst, sr > 0 ? se / sr : 0.0,
           fr > 0 ? fe / fr : 0.0);
    if (first >= 0) printf("; first wrong at m=%lld n=%lld", (long long)(first / N), (long long)(first % N));
    printf("; clusters 1 / 2 / 4 differ from it in %lld / %lld / %lld outputs, persistent %lld / %lld / %lld, "
           "persistent with 2 in flight %lld / %lld / %lld%s\n",
           (long long)cl_bad[0], (long long)cl_bad[1], (long long)cl_bad[2], (long long)cl_bad[3], (long long)cl_bad[4],
           (long long)cl_bad[5], (long long)cl_bad[6], (long long)cl_bad[7], (long long)cl_bad[8],
           c.splits > 1 ? " (split-K: not persistent)" : "");
    if (t_ran)
        printf("check M=%lld N=%lld K=%lld y=%s tile=%d: TMA forms (V2=0t / 2t / 0ts / 2ts / 2tw / 4tw / 2tws / 4tws / 0ts stm "
               "/ 2tws stm) differ in %lld / %lld / %lld / %lld / %lld / %lld / %lld / %lld / %lld / %lld outputs; their "
               "token-major codes / scales %lld wrong; the one-read quantizer's bytes differ in %lld\n",
               (long long)M, (long long)N, (long long)K, dtn(c.yd), c.tile, (long long)t_bad[0], (long long)t_bad[1],
               (long long)t_bad[2], (long long)t_bad[3], (long long)t_bad[4], (long long)t_bad[5], (long long)t_bad[6],
               (long long)t_bad[7], (long long)t_bad[8], (long long)t_bad[9], (long long)tcode_bad, (long long)qsm_bad);
    if (t_ran)
        printf("check M=%lld N=%lld K=%lld y=%s: tile 128x192 (0ts / 2ts) %lld / %lld of %lld wrong against the reference "
               "(bits differ from the run's form in %lld / %lld)\n",
               (long long)M, (long long)N, (long long)K, dtn(c.yd), (long long)k_ref_bad[0], (long long)k_ref_bad[1],
               (long long)(M * N), (long long)k_diff[0], (long long)k_diff[1]);
    if (t_ran)
        printf("check M=%lld N=%lld K=%lld y=%s: stream-K (SK=2: 128x256 on 132 / 3 / 5 SMs, 128x128 on 132, 128x192 on 7) "
               "%lld / %lld / %lld / %lld / %lld of %lld wrong against the reference (bits differ from the run's form in "
               "%lld / %lld / %lld / %lld / %lld); flags left nonzero %lld\n",
               (long long)M, (long long)N, (long long)K, dtn(c.yd), (long long)k_ref_bad[2], (long long)k_ref_bad[3],
               (long long)k_ref_bad[4], (long long)k_ref_bad[5], (long long)k_ref_bad[6], (long long)(M * N),
               (long long)k_diff[2], (long long)k_diff[3], (long long)k_diff[4], (long long)k_diff[5], (long long)k_diff[6],
               (long long)sk_flags_bad);
    if (t_ran)
        printf("check M=%lld N=%lld K=%lld y=%s: split-K groups (SK=3: 128x256 on 132 / 3 SMs, 128x128 on 132, 128x192 on 7) "
               "%lld / %lld / %lld / %lld of %lld wrong against the reference (bits differ from the run's form in "
               "%lld / %lld / %lld / %lld)\n",
               (long long)M, (long long)N, (long long)K, dtn(c.yd), (long long)k_ref_bad[7], (long long)k_ref_bad[8],
               (long long)k_ref_bad[9], (long long)k_ref_bad[10], (long long)(M * N), (long long)k_diff[7],
               (long long)k_diff[8], (long long)k_diff[9], (long long)k_diff[10]);
    if (t_ran)
        printf("check M=%lld N=%lld K=%lld y=%s: split-K groups, shared reduction (SK=5: 128x256 on 132 / 3 SMs, 128x128 on "
               "132, 128x192 on 7, 128x256 on 5; the last again with stmatrix) %lld / %lld / %lld / %lld / %lld of %lld wrong "
               "against the reference (bits differ from the run's form in %lld / %lld / %lld / %lld / %lld; stmatrix from the "
               "same without it in %lld); flags left nonzero %lld (all modes)\n",
               (long long)M, (long long)N, (long long)K, dtn(c.yd), (long long)k_ref_bad[11], (long long)k_ref_bad[12],
               (long long)k_ref_bad[13], (long long)k_ref_bad[14], (long long)k_ref_bad[15], (long long)(M * N),
               (long long)k_diff[11], (long long)k_diff[12], (long long)k_diff[13], (long long)k_diff[14],
               (long long)k_diff[15], stm_sk_diff, (long long)sk_flags_bad);
    if (t_ran) {
        printf("check M=%lld N=%lld K=%lld y=%s tile=%d: SS form (fp818: 0ts / 0t with the case's tile; 0ts with 128x256 / "
               "128x128 / 128x64 / 128x192; groups on 132 / 3 SMs, shared reduction on 132 / 5, stream-K on 3; 2tws 128x128)",
               (long long)M, (long long)N, (long long)K, dtn(c.yd), c.tile);
        for (int ci = 0; ci < NSS0; ci++) printf("%s%lld", ci ? " / " : " ", (long long)k_ref_bad[2 + NSK + ci]);
        printf(" of %lld wrong against the reference; bits differ from the run's form in", (long long)(M * N));
        for (int ci = 0; ci < NSS0; ci++) printf("%s%lld", ci ? " / " : " ", (long long)k_diff[2 + NSK + ci]);
        printf("; from the register form with the same tile (0ts / 0t) in %lld / %lld\n", ss_same[0], ss_same[1]);
        printf("check M=%lld N=%lld K=%lld y=%s tile=%d: ping-pong (fp819: pp 128x128 SS on 132 / 1 / 3 SMs, ppw in clusters "
               "of 2 along the tokens; fp823: ppt in clusters of 2 along the weights on 132 / 3, c128t (cooperative) in them on 132 / 3; the route sk 4|128)",
               (long long)M, (long long)N, (long long)K, dtn(c.yd), c.tile);
        for (int ci = NSS0; ci < NSS0 + NPP; ci++) printf("%s%lld", ci > NSS0 ? " / " : " ", (long long)k_ref_bad[2 + NSK + ci]);
        printf(" of %lld wrong against the reference; bits differ from SS 128x128 in %lld (must be 0), from the run's form in",
               (long long)(M * N), pp_same);
        for (int ci = NSS0; ci < NSS0 + NPP; ci++) printf("%s%lld", ci > NSS0 ? " / " : " ", (long long)k_diff[2 + NSK + ci]);
        printf("\n");
        printf("check M=%lld N=%lld K=%lld y=%s tile=%d: split epilogue (fp819 OE: 128x256 on 132 / 3 SMs, 128x128 on 1, "
               "128x192 on 3, tile picked on 132; the route sk 4|256 on 3)",
               (long long)M, (long long)N, (long long)K, dtn(c.yd), c.tile);
        for (int ci = NSS0 + NPP; ci < NSS; ci++) printf("%s%lld", ci > NSS0 + NPP ? " / " : " ", (long long)k_ref_bad[2 + NSK + ci]);
        printf(" of %lld wrong against the reference; bits differ from SS 128x128 in %lld (must be 0), from the run's form in",
               (long long)(M * N), oe_same);
        for (int ci = NSS0 + NPP; ci < NSS; ci++) printf("%s%lld", ci > NSS0 + NPP ? " / " : " ", (long long)k_diff[2 + NSK + ci]);
        printf("\n");
    }
    if (t_ran) {
        printf("check M=%lld N=%lld K=%lld y=%s tile=%d: K-major codes only (fp820: the route sk 4 on 132 / 3 SMs, without OE "
               "on 3; 0ts 128x256 / 128x128 / 128x64 (3 SMs) / 128x192; 0t; the groups with the owner's lead (LEAD) on 5 / 3, "
               "shared reduction with it on 5; fp821: the groups / shared reduction with a 12-stage lead on 5; fp822: the groups "
               "reduced in a cluster (SKCL) on 12 / 18 / 32 / 48 / 64 SMs, the route sk 4 with it on 132; OE 128x256 with the last "
               "round in cluster groups (SKCL=2) on 3 / 12 / 14 / 5; SS 128x256 in clusters of 2 along the weights on 132 / 3)",
               (long long)M, (long long)N, (long long)K, dtn(c.yd), c.tile);
        for (int ci = 0; ci < NKM; ci++) printf("%s%lld", ci ? " / " : " ", (long long)km_ref_bad[ci]);
        printf(" of %lld wrong against the reference; bits differ from the SS form's in %lld (must be 0; the first 8); "
               "register-only forms refused %lld of 3\n", (long long)(M * N), km_same, km_refused);
    }
    /* fp820: the decode GEMV (matmul_q.cu) on the same weight, tiled and K-major only, against the reference */
    const int gemv_bad = check_gemv(c, dw, x, wq, sw, dx);
    cudaFree(dx), cudaFree(dy), cudaFree(buf), cudaFree(dw.codes), cudaFree(dw.codes_k), cudaFree(dw.sw), cudaFree(part);
    int64_t cl_any = 0;
    for (int64_t v : cl_bad) cl_any += v;
    return code_bad || scale_bad || pad_bad || bad || cl_any || stm_sk_diff ||
                   std::any_of(t_bad, t_bad + 10, [](int64_t v) { return v != 0; }) ||
                   tcode_bad || qsm_bad || sk_flags_bad || pp_same || oe_same || std::any_of(k_ref_bad, k_ref_bad + NK_, [](int64_t v) { return v != 0; }) ||
                   gemv_bad || (t_ran && (km_same || km_refused != 3 || std::any_of(km_ref_bad, km_ref_bad + NKM, [](int64_t v) { return v != 0; })))
               ? 1
               : 0;
}

/* ------------------------------------------------------------------ timing */

static int g_reps = 5; /* best of g_reps x 20 calls; FP8_CHECK_REPS (verify_fp815.sh: 3, its time budget; verify_fp816.sh times by fp8_pair.py) */
static int g_pp = 0; /* fp819: FP8_CHECK_PP=1: trace3 = 0ts, then the ping-pong form (first tile, clusters of 2, last
                        * tile), 0ts with STM, 0ts SS with OE; one = the ping-pong form (persist 4 | 2048 | 4096, 128x128) */
static int g_pp_cl = 1; /* fp823: FP8_CHECK_PP=3: one = the ping-pong form in clusters of 2 along the weights (ppt) */
static int g_ss = 0; /* fp818: FP8_CHECK_SS=1: time5's, trace3's and one's launches in the SS form (persist | 2048, sk | 64) */
static int g_sk_mode = 3; /* time5's and trace3's "sk" column: FP8_CHECK_SK (2: fp815's stream-K, 3: fp816's groups, 5: fp817's shared reduction) */
template <typename F> static double time_us(F f) {
    cudaEvent_t a, b;
    CK(cudaEventCreate(&a));
    CK(cudaEventCreate(&b));
    for (int i = 0; i < 3; i++) f();
    double best = 1e30;
    for (int r = 0; r < g_reps; r++) {
        CK(cudaEventRecord(a));
        for (int i = 0; i < 20; i++) f();
        CK(cudaEventRecord(b));
        CK(cudaEventSynchronize(b));
        float ms;
        CK(cudaEventElapsedTime(&ms, a, b));
        best = std::min(best, ms * 1e3 / 20);
    }
    cudaEventDestroy(a), cudaEventDestroy(b);
    return best;
}

struct lt_fp8 {
    cublasLtMatmulDesc_t op = NULL;
    cublasLtMatrixLayout_t la = NULL, lb = NULL, lc = NULL;
    cublasLtMatmulAlgo_t algo;
    bool ok = false;
};

/* y^T (N x M, column-major = y[M][N] row-major) = W (T of a K x N column-major = W[N][K]) . x^T (K x M). */
static lt_fp8 lt_setup(cublasLtHandle_t lt, int64_t M, int64_t N, int64_t K, const float *sa, const float *sb,
                       int8_t fast, size_t ws) {
    lt_fp8 s;
    cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    if (cublasLtMatmulDescCreate(&s.op, CUBLAS_COMPUTE_32F, CUDA_R_32F)) return s;
    cublasLtMatmulDescSetAttribute(s.op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta);
    cublasLtMatmulDescSetAttribute(s.op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb);
    cublasLtMatmulDescSetAttribute(s.op, CUBLASLT_MATMUL_DESC_FAST_ACCUM, &fast, sizeof fast);
    cublasLtMatmulDescSetAttribute(s.op, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &sa, sizeof sa);
    cublasLtMatmulDescSetAttribute(s.op, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &sb, sizeof sb);
    if (cublasLtMatrixLayoutCreate(&s.la, CUDA_R_8F_E4M3, K, N, K) ||
        cublasLtMatrixLayoutCreate(&s.lb, CUDA_R_8F_E4M3, K, M, K) ||
        cublasLtMatrixLayoutCreate(&s.lc, CUDA_R_16BF, N, M, N))
        return s;
    cublasLtMatmulPreference_t pref;
    cublasLtMatmulPreferenceCreate(&pref);
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws);
    cublasLtMatmulHeuristicResult_t h;
    int n = 0;
    if (!cublasLtMatmulAlgoGetHeuristic(lt, s.op, s.la, s.lb, s.lc, s.lc, pref, 1, &h, &n) && n > 0) {
        s.algo = h.algo;
        s.ok = true;
    }
    cublasLtMatmulPreferenceDestroy(pref);
    return s;
}

/* A timing weight (N x K, multiples of 16 x 64): random finite codes straight into the tiled buffer (their order
 * does not change the speed), row scales 1/448; the host codes stay in wq for peers that want them. */
static dweight timing_weight(int64_t N, int64_t K, std::vector<uint8_t> &wq) {
    wq.resize((size_t)(N * K));
    fill_codes(wq.data(), wq.size());
    dweight dw;
    dw.w.fmt = QN_CW_E4M3, dw.w.N = N, dw.w.K = K, dw.w.Np = N, dw.w.Kp = K, dw.w.group = 0, dw.w.meta = NULL;
    std::vector<float> sw(N, 1.0f / 448.0f);
    CK(cudaMalloc(&dw.codes, wq.size()));
    CK(cudaMalloc(&dw.sw, (size_t)N * 4));
    CK(cudaMemcpy(dw.codes, wq.data(), wq.size(), cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dw.sw, sw.data(), (size_t)N * 4, cudaMemcpyHostToDevice));
    dw.w.codes = dw.codes, dw.w.row_scale = (const float *)dw.sw;
    /* fp818's SS form reads the K-major copy: the same random bytes serve (values do not change the speed) */
    dw.w.codes_k = dw.codes, dw.codes_k = NULL;
    return dw;
}

/* Timing activations: x (M x K bf16 in [-2, 2)) on the device, y (M x N bf16) and the quantizer's buffer. */
struct tact {
    __nv_bfloat16 *x, *y;
    void *buf;
};
static tact timing_x(int64_t M, int64_t N, int64_t K) {
    std::vector<__nv_bfloat16> hx((size_t)(M * K));
    for (size_t i = 0; i < hx.size(); i++) hx[i] = __float2bfloat16_rn(((float)(fast_u32() & 0xFFFF) - 32768.0f) / 16384.0f);
    tact a;
    CK(cudaMalloc(&a.x, hx.size() * 2));
    CK(cudaMalloc(&a.y, (size_t)(M * N) * 2));
    CK(cudaMalloc(&a.buf, qn_cuda_fp8_x_bytes(M, (K + 63) / 64 * 64)));
    CK(cudaMemcpy(a.x, hx.data(), hx.size() * 2, cudaMemcpyHostToDevice));
    return a;
}
static void tact_free(tact &a) { cudaFree(a.x), cudaFree(a.y), cudaFree(a.buf); }
/* e4m3 codes for cuBLASLt's x (M x K) */
static uint8_t *timing_x8(int64_t M, int64_t K) {
    std::vector<uint8_t> hq((size_t)(M * K));
    fill_codes(hq.data(), hq.size());
    uint8_t *x8;
    CK(cudaMalloc(&x8, hq.size()));
    CK(cudaMemcpy(x8, hq.data(), hq.size(), cudaMemcpyHostToDevice));
    return x8;
}

/* cuBLASLt's timing state: the handle, a 32 MiB workspace, a device 1.0f for the scale pointers, the SM count. */
struct lt_env {
    cublasLtHandle_t lt;
    void *wsp;
    float *one;
    size_t ws = 32u << 20;
    int sms = 132;
};
static bool lt_env_init(lt_env &e) {
    if (cublasLtCreate(&e.lt)) return false;
    CK(cudaMalloc(&e.wsp, e.ws));
    CK(cudaMalloc(&e.one, 4));
    const float onev = 1.0f;
    CK(cudaMemcpy(e.one, &onev, 4, cudaMemcpyHostToDevice));
    cudaDeviceGetAttribute(&e.sms, cudaDevAttrMultiProcessorCount, 0);
    return true;
}
static void lt_env_free(lt_env &e) { cudaFree(e.wsp), cudaFree(e.one), cublasLtDestroy(e.lt); }
/* cuBLASLt FP8 fast (per-tensor scales 1) on W and x8 into y, us per call; NaN where it has no algorithm */
static double time_lt_fast(lt_env &le, const dweight &dw, const uint8_t *x8, void *y, int64_t M, int64_t N, int64_t K) {
    double tl = NAN;
    lt_fp8 s = lt_setup(le.lt, M, N, K, le.one, le.one, 1, le.ws);
    const float alpha = 1.0f, beta = 0.0f;
    if (s.ok)
        tl = time_us([&] {
            cublasLtMatmul(le.lt, s.op, &alpha, dw.codes, s.la, x8, s.lb, &beta, y, s.lc, y, s.lc, &s.algo, le.wsp, le.ws, 0);
        });
    if (s.la) cublasLtMatrixLayoutDestroy(s.la);
    if (s.lb) cublasLtMatrixLayoutDestroy(s.lb);
    if (s.lc) cublasLtMatrixLayoutDestroy(s.lc);
    if (s.op) cublasLtMatmulDescDestroy(s.op);
    return tl;
}

static int time_all(const char *csv) {
    static const int64_t Ms[] = {256, 512, 2048};
    static const int64_t NK[][2] = {{4096, 4096}, {11008, 4096}, {4096, 11008}, {5120, 5120}, {13824, 5120}, {5120, 13824}};
    FILE *out = csv ? fopen(csv, "w") : NULL;
    if (out)
        fprintf(out, "M,N,K,quant_us,gemm_us,ours_us,f16route_us,lt_fast_us,lt_us,bf16_us,t128x256,t128x128,t64x128,"
                     "t64x64,split128x256_us,split128x128_us\n");
    lt_env le;
    cublasHandle_t bl;
    if (!lt_env_init(le) || cublasCreate(&bl)) { printf("cublas init failed\n"); return 2; }
    cublasLtHandle_t lt = le.lt;
    const size_t ws = le.ws;
    void *wsp = le.wsp;
    float *one = le.one;
    const int sms = le.sms;
    printf("time: us per call (best of 5 x 20 back-to-back), bf16 x -> bf16 y; ratio = peer / ours (> 1: ours faster)\n");
    printf("quant + gemm = ours; f16route = qn_cuda_matmul_q, today's route for e4m3 weights; lt_fast / lt = cuBLASLt FP8\n"
           "with / without fast accumulation (ratios against our gemm alone, the same work); bf16 = cuBLAS bf16 (ratio\n"
           "against ours, quantization included)\n");
    printf("%6s %6s %6s | %7s %7s %7s %8s | %8s %8s %8s | %6s %6s %6s %6s | %s\n", "M", "N", "K", "quant", "gemm",
           "ours", "f16route", "lt_fast", "lt", "bf16", "f16/o", "ltf/g", "lt/g", "bf16/o", "TFLOP/s gemm");
    for (auto &nk : NK) {
        const int64_t N = nk[0], K = nk[1];
        if (N % 16 || K % 64) { printf("timing shapes are multiples of 16 x 64\n"); return 2; }
        std::vector<uint8_t> wq;
        dweight dw = timing_weight(N, K, wq);
        uint8_t *w8;
        __nv_bfloat16 *wb;
        CK(cudaMalloc(&w8, (size_t)(N * K)));
        CK(cudaMalloc(&wb, (size_t)(N * K) * 2));
        CK(cudaMemcpy(w8, wq.data(), wq.size(), cudaMemcpyHostToDevice));
        {
            std::vector<__nv_bfloat16> h((size_t)(N * K));
            for (size_t i = 0; i < h.size(); i++) h[i] = __float2bfloat16_rn(((float)(fast_u32() & 0xFFFF) - 32768.0f) * 1e-6f);
            CK(cudaMemcpy(wb, h.data(), h.size() * 2, cudaMemcpyHostToDevice));
        }
        for (int64_t M : Ms) {
            tact ta = timing_x(M, N, K);
            uint8_t *x8 = timing_x8(M, K);
            __nv_bfloat16 *x = ta.x, *y = ta.y;
            void *buf = ta.buf;
            int err = 0;
            const double tq = time_us([&] { err |= qn_cuda_fp8_quantize_x_tm(QN_DT_BF16, x, M, K, dw.w.Kp, buf, 0, NULL); });
            const double tg = time_us([&] {
                err |= qn_cuda_fp8_gemm_cl(&dw.w, buf, M, QN_DT_BF16, y, 0, 1, NULL, 2, 1, NULL, sms, NULL);
            });
            const double to = time_us([&] { err |= qn_cuda_matmul_fp8(&dw.w, QN_DT_BF16, x, QN_DT_BF16, y, M, buf,
                                                                      qn_cuda_fp8_x_bytes(M, dw.w.Kp), NULL, 0, sms, NULL); });
            double tt[4]; /* every tile forced: the measurements to set qn_f8_pick's table from */
            for (int tile = 1; tile <= 4; tile++)
                tt[tile - 1] = time_us([&] {
                    err |= qn_cuda_fp8_gemm_cl(&dw.w, buf, M, QN_DT_BF16, y, tile, 1, NULL, 2, 1, NULL, sms, NULL);
                });
            /* split-K candidates (M <= 512): the two wide tiles, K split until the grid covers the SMs, at least
             * 8 steps (512 of K) per split */
            double ts[2] = {NAN, NAN};
            int sp[2] = {1, 1};
            if (M <= 512) {
                for (int c = 0; c < 2; c++) {
                    const int64_t bm = 128, bn = c == 0 ? 256 : 128;
                    const int64_t blocks = (N + bm - 1) / bm * ((M + bn - 1) / bn), kt = K / 64;
                    int64_t want = (sms + blocks - 1) / blocks;
                    if (want > kt / 8) want = kt / 8;
                    sp[c] = (int)(want > 1 ? want : 1);
                    if (sp[c] < 2) continue;
                    float *part;
                    CK(cudaMalloc(&part, (size_t)sp[c] * (size_t)(M * N) * 4));
                    ts[c] = time_us([&] {
                        err |= qn_cuda_fp8_gemm_cl(&dw.w, buf, M, QN_DT_BF16, y, c + 1, sp[c], part, 2, 0, NULL, sms, NULL);
                    });
                    cudaFree(part);
                }
            }
            if (err) printf("our launches failed (%d)\n", err);
            /* the route e4m3 weights take today (f16 tensor cores, x converted to f16): the A/B of the switch */
            const size_t qs = qn_cuda_matmul_q_scratch(&dw.w, M, sms);
            void *qsp;
            unsigned *cnt;
            CK(cudaMalloc(&qsp, qs));
            CK(cudaMalloc(&cnt, QN_CUDA_MATMUL_COUNTERS * sizeof(unsigned)));
            CK(cudaMemset(cnt, 0, QN_CUDA_MATMUL_COUNTERS * sizeof(unsigned)));
            const double t16 = time_us([&] {
                err |= qn_cuda_matmul_q(&dw.w, QN_DT_BF16, x, QN_DT_BF16, y, M, qsp, qs, cnt, QN_CUDA_MATMUL_COUNTERS, sms,
                                        NULL);
            });
            cudaFree(qsp), cudaFree(cnt);
            double tl[2] = {NAN, NAN};
            for (int f = 0; f < 2; f++) {
                lt_fp8 s = lt_setup(lt, M, N, K, one, one, (int8_t)(f == 0), ws);
                const float alpha = 1.0f, beta = 0.0f;
                if (s.ok)
                    tl[f] = time_us([&] {
                        cublasLtMatmul(lt, s.op, &alpha, w8, s.la, x8, s.lb, &beta, y, s.lc, y, s.lc, &s.algo, wsp, ws, 0);
                    });
                else
                    printf("cuBLASLt FP8 (fast accumulation %d): no algorithm for M=%lld N=%lld K=%lld\n", f == 0,
                           (long long)M, (long long)N, (long long)K);
                if (s.la) cublasLtMatrixLayoutDestroy(s.la);
                if (s.lb) cublasLtMatrixLayoutDestroy(s.lb);
                if (s.lc) cublasLtMatrixLayoutDestroy(s.lc);
                if (s.op) cublasLtMatmulDescDestroy(s.op);
            }
            const float alpha = 1.0f, beta = 0.0f;
            const double tb = time_us([&] {
                cublasGemmEx(bl, CUBLAS_OP_T, CUBLAS_OP_N, (int)N, (int)M, (int)K, &alpha, wb, CUDA_R_16BF, (int)K, x,
                             CUDA_R_16BF, (int)K, &beta, y, CUDA_R_16BF, (int)N, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
            });
            CK(cudaDeviceSynchronize());
            printf("%6lld %6lld %6lld | %7.1f %7.1f %7.1f %8.1f | %8.1f %8.1f %8.1f | %6.2f %6.2f %6.2f %6.2f | %.0f\n",
                   (long long)M, (long long)N, (long long)K, tq, tg, to, t16, tl[0], tl[1], tb, t16 / to, tl[0] / tg,
                   tl[1] / tg, tb / to, 2.0 * M * N * K / (tg * 1e-6) / 1e12);
            printf("%20s tiles 128x256 %.1f, 128x128 %.1f, 64x128 %.1f, 64x64 %.1f us; split-K 128x256/%d %.1f, "
                   "128x128/%d %.1f us\n", "", tt[0], tt[1], tt[2], tt[3], sp[0], ts[0], sp[1], ts[1]);
            if (out)
                fprintf(out, "%lld,%lld,%lld,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f\n",
                        (long long)M, (long long)N, (long long)K, tq, tg, to, t16, tl[0], tl[1], tb, tt[0], tt[1], tt[2],
                        tt[3], ts[0], ts[1]);
            tact_free(ta), cudaFree(x8);
        }
        cudaFree(w8), cudaFree(wb), cudaFree(dw.codes), cudaFree(dw.sw);
    }
    if (out) fclose(out);
    lt_env_free(le);
    cublasDestroy(bl);
    return 0;
}

/* time2 (fp8pp11): the GEMM alone with blocks alone (mmq8's kernel, "v1") and in clusters of 2 and 4 ("v2"),
 * tile picked and each tile forced, beside cuBLASLt FP8 with fast accumulation, on bench/NOTES.md's FP8 table
 * shapes; the three variants interleaved per shape, same data, same process. csv: one row per shape for
 * bench/cuda/fp8_peers.py (gemm_us = v1 picked, ours_us = quantize + v1; v2c2_us / v2c4_us = the clusters). */
static int time_v2(const char *csv) {
    static const int64_t shapes[][3] = {{256, 4096, 4096}, {2048, 4096, 4096}, {2048, 11008, 4096},
                                        {2048, 4096, 11008}, {2048, 13824, 5120}};
    FILE *out = csv ? fopen(csv, "w") : NULL;
    if (out)
        fprintf(out, "M,N,K,quant_us,gemm_us,ours_us,v2c2_us,v2c4_us,v2c1p_us,v2c2p_us,v2c4p_us,v2c1pp_us,v2c2pp_us,"
                     "v2c4pp_us,lt_fast_us,best_tile_c1,best_tile_c2,best_tile_c4\n");
    lt_env le;
    if (!lt_env_init(le)) { printf("cublasLt init failed\n"); return 2; }
    cublasLtHandle_t lt = le.lt;
    const size_t ws = le.ws;
    void *wsp = le.wsp;
    float *one = le.one;
    const int sms = le.sms;
    printf("time2: us per call (best of 5 x 20 back-to-back), bf16 y; c1 = mmq8's kernel, c2 / c4 = clusters of 2 / 4\n"
           "(QUANTA_CUDA_FP8_V2=2 / 4), c1p / c2p / c4p = persistent (=0p / 2p / 4p), c1pp .. = persistent with 2\n"
           "wgmma groups in flight (=0pp / 2pp / 4pp); pick = the tile by grid size; lt_fast = cuBLASLt FP8 fast\n"
           "accumulation; c1/x = speed-up over mmq8's kernel\n");
    printf("%6s %6s %6s | %6s | %7s %7s %7s | %7s %7s %7s | %7s %7s %7s | %8s | %5s %5s %5s %5s %5s %5s %5s %5s | %s\n",
           "M", "N", "K", "quant", "c1", "c2", "c4", "c1p", "c2p", "c4p", "c1pp", "c2pp", "c4pp", "lt_fast", "c1/c2",
           "/c4", "/c1p", "/c2p", "/c4p", "/c1pp", "/c2pp", "/c4pp", "TFLOP/s best");
    int err = 0;
    for (auto &sh : shapes) {
        const int64_t M = sh[0], N = sh[1], K = sh[2];
        std::vector<uint8_t> wq;
        dweight dw = timing_weight(N, K, wq);
        tact ta = timing_x(M, N, K);
        uint8_t *x8 = timing_x8(M, K);
        __nv_bfloat16 *x = ta.x, *y = ta.y;
        void *buf = ta.buf;
        const double tq = time_us([&] { err |= qn_cuda_fp8_quantize_x_tm(QN_DT_BF16, x, M, K, K, buf, 0, NULL); });
        double tp[9], tt[3][4];
        for (int ci = 0; ci < 9; ci++)
            tp[ci] = time_us([&] {
                err |= qn_cuda_fp8_gemm_cl(&dw.w, buf, M, QN_DT_BF16, y, 0, 1, NULL, 1 << (ci % 3), ci / 3, NULL, sms, NULL);
            });
        for (int tile = 1; tile <= 4; tile++)
            for (int ci = 0; ci < 3; ci++)
                tt[ci][tile - 1] = time_us(
                    [&] { err |= qn_cuda_fp8_gemm_cl(&dw.w, buf, M, QN_DT_BF16, y, tile, 1, NULL, 1 << ci, 0, NULL, sms, NULL); });
        double tl = NAN;
        {
            lt_fp8 s = lt_setup(lt, M, N, K, one, one, 1, ws);
            const float alpha = 1.0f, beta = 0.0f;
            if (s.ok)
                tl = time_us([&] {
                    cublasLtMatmul(lt, s.op, &alpha, dw.codes, s.la, x8, s.lb, &beta, y, s.lc, y, s.lc, &s.algo, wsp, ws, 0);
                });
            if (s.la) cublasLtMatrixLayoutDestroy(s.la);
            if (s.lb) cublasLtMatrixLayoutDestroy(s.lb);
            if (s.lc) cublasLtMatrixLayoutDestroy(s.lc);
            if (s.op) cublasLtMatmulDescDestroy(s.op);
        }
        CK(cudaDeviceSynchronize());
        if (err) printf("our launches failed (%d)\n", err);
        const double fl = 2.0 * M * N * K / 1e6; /* TFLOP/s = fl / us */
        double tbest = tp[0];
        for (double v : tp) tbest = std::min(tbest, v);
        printf("%6lld %6lld %6lld | %6.1f | %7.1f %7.1f %7.1f | %7.1f %7.1f %7.1f | %7.1f %7.1f %7.1f | %8.1f | %5.2f %5.2f "
               "%5.2f %5.2f %5.2f %5.2f %5.2f %5.2f | %.0f (c1 %.0f)\n",
               (long long)M, (long long)N, (long long)K, tq, tp[0], tp[1], tp[2], tp[3], tp[4], tp[5], tp[6], tp[7], tp[8],
               tl, tp[0] / tp[1], tp[0] / tp[2], tp[0] / tp[3], tp[0] / tp[4], tp[0] / tp[5], tp[0] / tp[6],
               tp[0] / tp[7], tp[0] / tp[8], fl / tbest, fl / tp[0]);
        static const char *const tn[4] = {"128x256", "128x128", "64x128", "64x64"};
        int best[3] = {0, 0, 0};
        for (int ci = 0; ci < 3; ci++) {
            printf("%20s c%d tiles", "", 1 << ci);
            for (int t = 0; t < 4; t++) {
                printf(" %s %.1f", tn[t], tt[ci][t]);
                if (tt[ci][t] < tt[ci][best[ci]]) best[ci] = t;
            }
            printf(" us\n");
        }
        if (out)
            fprintf(out, "%lld,%lld,%lld,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%s,%s,%s\n",
                    (long long)M, (long long)N, (long long)K, tq, tp[0], tq + tp[0], tp[1], tp[2], tp[3], tp[4], tp[5],
                    tp[6], tp[7], tp[8], tl, tn[best[0]], tn[best[1]], tn[best[2]]);
        tact_free(ta), cudaFree(x8), cudaFree(dw.codes), cudaFree(dw.sw);
    }
    if (out) fclose(out);
    lt_env_free(le);
    return err ? 1 : 0;
}

/* trace (fp8pp11): where a block's life goes. One launch per shape and cluster size (1, 2, 4; tile picked) with
 * the kernel's per-block trace (matmul_fp8_wg.h): time to its first stage, its K steps, its epilogue, and the
 * gaps between consecutive blocks on one SM — the 15.75 us per wave that bench/NOTES.md's fit of mmq8's times
 * leaves unexplained. */
static int trace_all() {
    static const int64_t shapes[][3] = {{256, 4096, 4096}, {2048, 4096, 4096}, {2048, 5120, 13824}};
    int sms = 132, khz = 0;
    cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
    cudaDeviceGetAttribute(&khz, cudaDevAttrClockRate, 0);
    printf("trace: one launch each, tile picked; per block (mean): first = entry to its first stage landed, steps = its K\n"
           "steps (and per step), epi = its epilogue; gap = an SM's next block entry after the previous one's stores\n");
    int err = 0;
    for (auto &sh : shapes) {
        const int64_t M = sh[0], N = sh[1], K = sh[2];
        std::vector<uint8_t> wq;
        dweight dw = timing_weight(N, K, wq);
        tact ta = timing_x(M, N, K);
        __nv_bfloat16 *x = ta.x, *y = ta.y;
        void *buf = ta.buf;
        err |= qn_cuda_fp8_quantize_x_tm(QN_DT_BF16, x, M, K, K, buf, 0, NULL);
        for (int ci = 0; ci < 3; ci++) {
            const int cl = 1 << ci;
            int64_t g[3];
            qn_cuda_fp8_grid(N, M, 0, 1, cl, sms, g);
            const int64_t nb = g[0] * g[1] * g[2];
            unsigned long long *dt;
            CK(cudaMalloc(&dt, (size_t)nb * QN_CUDA_FP8_TRACE * 8));
            CK(cudaMemset(dt, 0, (size_t)nb * QN_CUDA_FP8_TRACE * 8));
            for (int w = 0; w < 3; w++) err |= qn_cuda_fp8_gemm_cl(&dw.w, buf, M, QN_DT_BF16, y, 0, 1, NULL, cl, 0, NULL, sms, NULL);
            cudaEvent_t a, b;
            CK(cudaEventCreate(&a));
            CK(cudaEventCreate(&b));
            CK(cudaEventRecord(a));
            err |= qn_cuda_fp8_gemm_cl(&dw.w, buf, M, QN_DT_BF16, y, 0, 1, NULL, cl, 0, dt, sms, NULL);
            CK(cudaEventRecord(b));
            CK(cudaEventSynchronize(b));
            float ms = 0;
            CK(cudaEventElapsedTime(&ms, a, b));
            cudaEventDestroy(a), cudaEventDestroy(b);
            std::vector<unsigned long long> h((size_t)nb * QN_CUDA_FP8_TRACE);
            CK(cudaMemcpy(h.data(), dt, h.size() * 8, cudaMemcpyDeviceToHost));
            cudaFree(dt);
            unsigned long long t0 = ~0ull, t3 = 0;
            double first = 0, steps = 0, epi = 0, csteps = 0;
            int64_t rec = 0;
            std::vector<std::vector<std::pair<unsigned long long, unsigned long long>>> per_sm(1024);
            for (int64_t i = 0; i < nb; i++) {
                const unsigned long long *r = &h[(size_t)i * QN_CUDA_FP8_TRACE];
                if (!r[1] || !r[4]) continue; /* not recorded */
                rec++;
                t0 = std::min(t0, r[1]), t3 = std::max(t3, r[4]);
                first += (double)(r[2] - r[1]), steps += (double)(r[3] - r[2]), epi += (double)(r[4] - r[3]);
                csteps += (double)(r[7] - r[6]);
                per_sm[r[0] & 1023].push_back({r[1], r[4]});
            }
            double gap = 0, gmax = 0, fs_max = 0, le_min = 1e30, le_max = 0;
            int64_t ng = 0, used = 0, most = 0;
            for (auto &v : per_sm) {
                if (v.empty()) continue;
                used++, most = std::max(most, (int64_t)v.size());
                std::sort(v.begin(), v.end());
                fs_max = std::max(fs_max, (double)(v[0].first - t0));
                le_min = std::min(le_min, (double)(t3 - v.back().second)), le_max = std::max(le_max, (double)(t3 - v.back().second));
                for (size_t k = 1; k < v.size(); k++) {
                    const double d = (double)v[k].first - (double)v[k - 1].second;
                    gap += d, gmax = std::max(gmax, d), ng++;
                }
            }
            const double n = rec > 0 ? (double)rec : 1.0, ksteps = (double)(K / 64);
            printf("trace M=%lld N=%lld K=%lld cluster %d: %lld blocks (%lld recorded) on %lld SMs (<= %lld each); launch "
                   "%.1f us, span %.1f us; per block: first %.2f us, steps %.1f us (%.3f us, %.0f clocks per step), "
                   "epi %.2f us; gap %.2f us mean, %.2f max; first entries within %.2f us, last ends %.2f-%.2f us before "
                   "the end; clock %d MHz (nominal)\n",
                   (long long)M, (long long)N, (long long)K, cl, (long long)nb, (long long)rec, (long long)used,
                   (long long)most, ms * 1e3, (t3 - t0) * 1e-3, first / n * 1e-3, steps / n * 1e-3,
                   steps / n * 1e-3 / ksteps, csteps / n / ksteps, epi / n * 1e-3, ng ? gap / ng * 1e-3 : 0.0,
                   gmax * 1e-3, fs_max * 1e-3, le_min > 1e29 ? 0.0 : le_min * 1e-3, le_max * 1e-3, khz / 1000);
        }
        tact_free(ta), cudaFree(dw.codes), cudaFree(dw.sw);
    }
    if (err) printf("trace: launches failed (%d)\n", err);
    return err ? 1 : 0;
}

/* ------------------------------------------------------------------ tma (fp813): kernels_cuda/tma.cuh itself
 * One block: a 2d box of bytes with the 128-byte swizzle, partly past the array (zeros), and a 3d box of u64 (the
 * tiled weights' map) partly past it, into shared memory on one mbarrier; the bytes copied out as they lie. Then
 * the 3d box back to global memory by a 2d store partly past the array (those bytes not written). A cluster of 2:
 * each block loads half the 2d box's rows and multicasts it; both blocks' shared memory copied out. */
__global__ void tma_probe(const __grid_constant__ CUtensorMap m2, const __grid_constant__ CUtensorMap m3,
                          const __grid_constant__ CUtensorMap ms, int c0, int c1, uint8_t *out) {
    __shared__ __align__(1024) uint8_t sm[2][8192];
    __shared__ __align__(8) uint64_t bar;
    const uint32_t b = qn_smem_u32(&bar);
    if (threadIdx.x == 0) {
        qn_tma_prefetch(&m2);
        qn_mbar_init(b, 1);
        qn_mbar_init_fence();
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        qn_mbar_arrive_expect_tx(b, 16384);
        qn_tma_load_2d(qn_smem_u32(sm[0]), &m2, b, c0, c1);
        qn_tma_load_3d(qn_smem_u32(sm[1]), &m3, b, 0, 1, 2);
    }
    qn_mbar_wait(b, 0);
    for (int i = threadIdx.x; i < 16384; i += blockDim.x) out[i] = sm[i >> 13][i & 8191];
    qn_tma_fence_smem();
    __syncthreads();
    if (threadIdx.x == 0) {
        qn_tma_store_2d(&ms, qn_smem_u32(sm[1]), c0, c1);
        qn_tma_store_commit();
        qn_tma_store_wait_all();
    }
}
__global__ void tma_probe_mc(const __grid_constant__ CUtensorMap mh, int c0, int c1, uint8_t *out) {
    __shared__ __align__(1024) uint8_t sm[8192];
    __shared__ __align__(8) uint64_t bar;
    const uint32_t b = qn_smem_u32(&bar), r = qn_cluster_rank();
    if (threadIdx.x == 0) {
        qn_mbar_init(b, 1);
        qn_mbar_init_fence();
    }
    qn_cluster_sync();
    if (threadIdx.x == 0) {
        qn_mbar_arrive_expect_tx(b, 8192);
        qn_tma_load_2d_mc(qn_smem_u32(sm) + r * 4096, &mh, b, c0, c1 + 32 * (int)r, 3);
    }
    qn_mbar_wait(b, 0);
    for (int i = threadIdx.x; i < 8192; i += blockDim.x) out[r * 8192 + i] = sm[i];
    qn_cluster_sync(); /* no multicast still landing in the other block when it leaves */
}

static int tma_test() {
    /* the 2d array: R rows of Cc bytes, P apart. Cc a multiple of 16: the store clips dimension 0 to 16 bytes only
     * (round 1, H100: Cc = 300 got bytes 300-303 of each row written; tma.cuh says so) */
    const int R = 200, Cc = 288, P = 304, c0 = 192, c1 = 160;
    std::vector<uint8_t> src((size_t)R * P), w3((size_t)5 * 3 * 1024);
    for (auto &v : src) v = (uint8_t)(fast_u32() | 1u); /* never 0: a zero in the copy is a fill */
    for (auto &v : w3) v = (uint8_t)(fast_u32() | 1u);
    uint8_t *dsrc, *dw3, *ddst, *dout;
    CK(cudaMalloc(&dsrc, src.size()));
    CK(cudaMalloc(&dw3, w3.size()));
    CK(cudaMalloc(&ddst, src.size()));
    CK(cudaMalloc(&dout, 16384));
    CK(cudaMemcpy(dsrc, src.data(), src.size(), cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dw3, w3.data(), w3.size(), cudaMemcpyHostToDevice));
    CK(cudaMemset(ddst, 0xEE, src.size()));
    CK(cudaMemset(dout, 0xEE, 16384));
    CUtensorMap m2, m3, ms, mh;
    const uint64_t d3[3] = {128, 3, 5}, s3[2] = {1024, 3 * 1024};
    const uint32_t b3[3] = {128, 2, 4};
    int e = qn_tma_encode_2d(&m2, CU_TENSOR_MAP_DATA_TYPE_UINT8, dsrc, Cc, R, P, 128, 64, CU_TENSOR_MAP_SWIZZLE_128B);
    e = e ? e : qn_tma_encode(&m3, CU_TENSOR_MAP_DATA_TYPE_UINT64, 3, dw3, d3, s3, b3, CU_TENSOR_MAP_SWIZZLE_NONE);
    e = e ? e : qn_tma_encode_2d(&ms, CU_TENSOR_MAP_DATA_TYPE_UINT8, ddst, Cc, R, P, 128, 64, CU_TENSOR_MAP_SWIZZLE_NONE);
    e = e ? e : qn_tma_encode_2d(&mh, CU_TENSOR_MAP_DATA_TYPE_UINT8, dsrc, Cc, R, P, 128, 32, CU_TENSOR_MAP_SWIZZLE_128B);
    if (e) { printf("tma: encode failed: %d\n", e); return 1; }
    tma_probe<<<1, 128>>>(m2, m3, ms, c0, c1, dout);
    CK(cudaGetLastError());
    CK(cudaDeviceSynchronize());
    std::vector<uint8_t> out(16384), dst(src.size());
    CK(cudaMemcpy(out.data(), dout, 16384, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(dst.data(), ddst, dst.size(), cudaMemcpyDeviceToHost));
    /* expected: 2d: byte b of 16-byte chunk ch of box row r at r * 128 + 16 (ch ^ (r & 7)) + b; 3d: row tile rt, K
     * tile j at (2 rt + j) * 1024 */
    std::vector<uint8_t> want2(8192), want3(8192);
    for (int r = 0; r < 64; r++)
        for (int x = 0; x < 128; x++) {
            const int row = c1 + r, col = c0 + x;
            want2[r * 128 + 16 * ((x >> 4) ^ (r & 7)) + (x & 15)] = row < R && col < Cc ? src[(size_t)row * P + col] : 0;
        }
    for (int rt = 0; rt < 4; rt++)
        for (int j = 0; j < 2; j++)
            for (int x = 0; x < 1024; x++)
                want3[(2 * rt + j) * 1024 + x] = 2 + rt < 5 ? w3[((size_t)(2 + rt) * 3 + 1 + j) * 1024 + x] : 0;
    int64_t bad2 = 0, bad3 = 0, bads = 0, badm = 0;
    for (int i = 0; i < 8192; i++) bad2 += out[i] != want2[i], bad3 += out[8192 + i] != want3[i];
    for (int row = 0; row < R; row++)
        for (int col = 0; col < P; col++) {
            const bool in = row >= c1 && row < c1 + 64 && col >= c0 && col < c0 + 128 && col < Cc;
            const uint8_t w = in ? want3[(row - c1) * 128 + (col - c0)] : 0xEE;
            bads += dst[(size_t)row * P + col] != w;
        }
    /* multicast: both blocks must hold the whole 2d box */
    CK(cudaMemset(dout, 0xEE, 16384));
    cudaLaunchConfig_t cfg = {};
    cudaLaunchAttribute at[1] = {};
    at[0].id = cudaLaunchAttributeClusterDimension;
    at[0].val.clusterDim.x = 2, at[0].val.clusterDim.y = 1, at[0].val.clusterDim.z = 1;
    cfg.gridDim = dim3(2), cfg.blockDim = dim3(128), cfg.attrs = at, cfg.numAttrs = 1;
    CK(cudaLaunchKernelEx(&cfg, tma_probe_mc, mh, c0, c1, dout));
    CK(cudaDeviceSynchronize());
    CK(cudaMemcpy(out.data(), dout, 16384, cudaMemcpyDeviceToHost));
    for (int i = 0; i < 16384; i++) badm += out[i] != want2[i & 8191];
    printf("tma: 2d load, 128-byte swizzle, box past the array: %lld of 8192 bytes wrong; 3d load (u64): %lld of 8192; "
           "2d store past the array: %lld of %lld bytes wrong; 2d multicast in a cluster of 2: %lld of 16384 wrong\n",
           (long long)bad2, (long long)bad3, (long long)bads, (long long)(R * P), (long long)badm);
    cudaFree(dsrc), cudaFree(dw3), cudaFree(ddst), cudaFree(dout);
    return bad2 || bad3 || bads || badm ? 1 : 0;
}

/* time3 (fp813): the GEMM alone, QUANTA_CUDA_FP8_V2=2p (the default: mmq8's pipeline in clusters of 2, persistent)
 * against the TMA form in clusters of 1 and 2 (0t, 2t; tile picked, and 2t with each tile forced), cuBLASLt FP8
 * fast, on LLaMA-7B / 13B linear shapes at M = 256 .. 4096. csv: one row per shape for fp8_peers.py (gemm_us =
 * 2p; v2c1t_us / v2c2t_us the TMA form). */
static int time_t3(const char *csv) {
    static const int64_t nk[][2] = {{4096, 4096}, {11008, 4096}, {4096, 11008}, {5120, 5120}, {13824, 5120}, {5120, 13824}};
    static const int64_t ms[] = {256, 512, 1024, 2048, 4096};
    FILE *out = csv ? fopen(csv, "w") : NULL;
    if (out)
        fprintf(out, "M,N,K,quant_us,gemm_us,ours_us,v2c2p_us,v2c1t_us,v2c2t_us,v2c2ts_us,v2c1ts_us,v2c2tw_us,lt_fast_us,"
                     "best_tile_t\n");
    lt_env le;
    if (!lt_env_init(le)) { printf("cublasLt init failed\n"); return 2; }
    printf("time3: us per call (best of 5 x 20 back-to-back), bf16 y; c2p = the default (=2p), c1t / c2t = the TMA\n"
           "form (=0t / 2t), c2ts / c1ts = with the TMA store epilogue (=2ts / 0ts), c2tw = clusters of 2 along the\n"
           "tokens (=2tw), tile picked (qn_f8t_pick); lt_fast = cuBLASLt FP8 fast accumulation; then (M <= 512) 0ts with\n"
           "each tile forced\n");
    printf("%6s %6s %6s | %6s | %7s %7s %7s %7s %7s %7s | %8s | %6s %6s %6s %6s | %s\n", "M", "N", "K", "quant", "c2p", "c1t",
           "c2t", "c2ts", "c1ts", "c2tw", "lt_fast", "c2p/c1ts", "lt/c2t", "lt/c2ts", "lt/c1ts", "TFLOP/s c2p c2t c1ts lt");
    int err = 0;
    static const char *const tn[4] = {"128x256", "128x128", "128x64", "64x64"};
    for (auto &w : nk) {
        const int64_t N = w[0], K = w[1];
        std::vector<uint8_t> wq;
        dweight dw = timing_weight(N, K, wq);
        for (int64_t M : ms) {
            tact ta = timing_x(M, N, K);
            uint8_t *x8 = timing_x8(M, K);
            void *buft;
            CK(cudaMalloc(&buft, qn_cuda_fp8_x_bytes(M, K)));
            const double tq = time_us([&] { err |= qn_cuda_fp8_quantize_x_tm(QN_DT_BF16, ta.x, M, K, K, ta.buf, 0, NULL); });
            err |= qn_cuda_fp8_quantize_x_tm(QN_DT_BF16, ta.x, M, K, K, buft, 1, NULL);
            const double t2p = time_us([&] {
                err |= qn_cuda_fp8_gemm_cl(&dw.w, ta.buf, M, QN_DT_BF16, ta.y, 0, 1, NULL, 2, 1, NULL, le.sms, NULL);
            });
            static const int tf5[5][2] = {{1, 3}, {2, 3}, {2, 4}, {1, 4}, {2, 5}}; /* 0t 2t 2ts 0ts 2tw */
            double tt[5], tf[4] = {NAN, NAN, NAN, NAN};
            for (int ci = 0; ci < 5; ci++)
                tt[ci] = time_us([&] {
                    err |= qn_cuda_fp8_gemm_cl(&dw.w, buft, M, QN_DT_BF16, ta.y, 0, 1, NULL, tf5[ci][0], tf5[ci][1], NULL,
                                               le.sms, NULL);
                });
            int best = 0;
            for (int tile = 1; tile <= 4 && M <= 512; tile++) {
                tf[tile - 1] = time_us([&] {
                    err |= qn_cuda_fp8_gemm_cl(&dw.w, buft, M, QN_DT_BF16, ta.y, tile, 1, NULL, 1, 4, NULL, le.sms, NULL);
                });
                if (tf[tile - 1] < tf[best]) best = tile - 1;
            }
            const double tl = time_lt_fast(le, dw, x8, ta.y, M, N, K);
            CK(cudaDeviceSynchronize());
            if (err) printf("our launches failed (%d)\n", err);
            const double fl = 2.0 * M * N * K / 1e6;
            printf("%6lld %6lld %6lld | %6.1f | %7.1f %7.1f %7.1f %7.1f %7.1f %7.1f | %8.1f | %6.2f %6.2f %6.2f %6.2f | %.0f %.0f "
                   "%.0f %.0f",
                   (long long)M, (long long)N, (long long)K, tq, t2p, tt[0], tt[1], tt[2], tt[3], tt[4], tl, t2p / tt[3],
                   tl / tt[1], tl / tt[2], tl / tt[3], fl / t2p, fl / tt[1], fl / tt[3], fl / tl);
            if (M <= 512) {
                printf(" | 0ts tiles");
                for (int t = 0; t < 4; t++) printf(" %s %.1f", tn[t], tf[t]);
            }
            printf("\n");
            if (out)
                fprintf(out, "%lld,%lld,%lld,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%s\n", (long long)M,
                        (long long)N, (long long)K, tq, t2p, tq + t2p, t2p, tt[0], tt[1], tt[2], tt[3], tt[4], tl,
                        M <= 512 ? tn[best] : "-");
            if (out) fflush(out); /* a run cut by its timeout keeps its rows for fp8_peers.py */
            tact_free(ta), cudaFree(x8), cudaFree(buft);
        }
        cudaFree(dw.codes), cudaFree(dw.sw);
    }
    if (out) fclose(out);
    lt_env_free(le);
    return err ? 1 : 0;
}

/* time5 (fp815; fp814's time4 with stream-K): the GEMM alone: the default (0ts: fp813's TMA form with its TMA-store
 * epilogue, fp814's scale prefetch, tile picked, 128x192 among the tiles since fp815), fp815's stream-K always
 * (128x256, SK=2) and where its model picks it (SK=1: else the default's tile), and cuBLASLt FP8 fast, on LLaMA-7B /
 * 13B linear shapes at M = 256 .. 4096, plus the quantizer (the loop form and fp815's one-read form). csv: one row
 * per shape for fp8_peers.py (gemm_us = the default, ours_us = quant + the default). */
static int time_t5(const char *csv) {
    static const int64_t nk[][2] = {{11008, 4096}, {4096, 11008}, {5120, 5120}, {4096, 4096}, {13824, 5120}, {5120, 13824}};
    static const int64_t ms[] = {512, 256, 1024, 2048, 4096}; /* the rows under 0.9x _scaled_mm first */
    FILE *out = csv ? fopen(csv, "w") : NULL;
    if (out) fprintf(out, "M,N,K,quant_us,quant_sm_us,gemm_us,ours_us,v2c1ts_us,v2c1sk_us,v2c1skm_us,lt_fast_us\n");
    lt_env le;
    if (!lt_env_init(le)) { printf("cublasLt init failed\n"); return 2; }
    float *skw;
    unsigned *skf;
    CK(cudaMalloc(&skw, qn_cuda_fp8_sk_bytes(le.sms)));
    CK(cudaMalloc(&skf, 2 * (size_t)le.sms * sizeof(unsigned)));
    CK(cudaMemset(skf, 0, 2 * (size_t)le.sms * sizeof(unsigned)));
    printf("time5: us per call (best of %d x 20 back-to-back), bf16 y, GEMM alone; dflt = 0ts (tile picked), sk = stream-K\n"
           "(128x256, always), skm = stream-K where the model picks it (* = taken; QUANTA_CUDA_FP8_SK=1); lt_fast =\n"
           "cuBLASLt FP8 fast (per-tensor scales); quant / qsm = the per-token quantizer, loop form / fp815's one-read form\n"
           "(QUANTA_CUDA_FP8_QUANT_SM=1), TB/s of x read once + codes written\n",
           g_reps);
    printf("%6s %6s %6s | %6s %6s %5s %5s | %7s %7s %8s | %8s | %7s %7s %7s | %s\n", "M", "N", "K", "quant", "qsm", "TB/s",
           "sm", "dflt", "sk", "skm", "lt_fast", "dflt/sk", "dflt/skm", "lt/dflt", "TFLOP/s dflt skm lt");
    int err = 0;
    for (auto &w : nk) {
        const int64_t N = w[0], K = w[1];
        std::vector<uint8_t> wq;
        dweight dw = timing_weight(N, K, wq);
        for (int64_t M : ms) {
            tact ta = timing_x(M, N, K);
            uint8_t *x8 = timing_x8(M, K);
            const double tq = time_us([&] { err |= qn_cuda_fp8_quantize_x_form(QN_DT_BF16, ta.x, M, K, K, ta.buf, 1, 0, NULL); });
            const double tqs = time_us([&] { err |= qn_cuda_fp8_quantize_x_form(QN_DT_BF16, ta.x, M, K, K, ta.buf, 1, 1, NULL); });
            double tt[3];
            tt[0] = time_us([&] { err |= qn_cuda_fp8_gemm_cl(&dw.w, ta.buf, M, QN_DT_BF16, ta.y, 0, 1, NULL, 1, 4 | (g_ss ? 2048 : 0), NULL, le.sms, NULL); });
            for (int ci = 1; ci < 3; ci++) /* FP8_CHECK_NO_SK=1 (verify_fp81x.sh, after a failed smoke test): not timed */
                tt[ci] = getenv("FP8_CHECK_NO_SK") ? NAN : time_us([&] {
                    err |= qn_cuda_fp8_gemm_sk(&dw.w, ta.buf, M, QN_DT_BF16, ta.y, 0, (ci == 1 ? g_sk_mode : 1) | (g_ss ? 64 : 0), skw, skf, NULL, le.sms, NULL);
                });
            /* skm took stream-K if its time is sk's rather than dflt's: printed as the model's choice, not measured */
            const bool taken = qn_cuda_fp8_sk_taken(N, M, K, le.sms);
            const double tl = time_lt_fast(le, dw, x8, ta.y, M, N, K);
            CK(cudaDeviceSynchronize());
            if (err) printf("our launches failed (%d)\n", err);
            const double fl = 2.0 * M * N * K / 1e6;
            const double qb = 3.0 * M * K / 1e6; /* bf16 x + e4m3 codes, MB */
            printf("%6lld %6lld %6lld | %6.1f %6.1f %5.2f %5.2f | %7.1f %7.1f %7.1f%s | %8.1f | %7.2f %7.2f %7.2f | %.0f %.0f %.0f\n",
                   (long long)M, (long long)N, (long long)K, tq, tqs, qb / tq, qb / tqs, tt[0], tt[1], tt[2], taken ? "*" : " ",
                   tl, tt[0] / tt[1], tt[0] / tt[2], tl / tt[0], fl / tt[0], fl / tt[2], fl / tl);
            if (out) {
                fprintf(out, "%lld,%lld,%lld,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f\n", (long long)M, (long long)N,
                        (long long)K, tq, tqs, tt[0], tq + tt[0], tt[0], tt[1], tt[2], tl);
                fflush(out); /* a run cut by its timeout keeps its rows for fp8_peers.py */
            }
            tact_free(ta), cudaFree(x8);
        }
        cudaFree(dw.codes), cudaFree(dw.sw);
    }
    if (out) fclose(out);
    cudaFree(skw), cudaFree(skf);
    lt_env_free(le);
    return err ? 1 : 0;
}

/* One traced launch of run(tr) after 3 untraced ones: the launch's time and the means over the blocks that recorded
 * (time to the first stage, the K loop in us and in SM clocks per 64 of K, the clock it implies, the epilogue).
 * fp823: one definition for trace3 and trace4. */
struct t3_stats {
    double launch_us, first_us, kloop_us, clk64, ghz, epi_us;
    int64_t rec;
};
template <typename F>
static int t3_measure(F run, int64_t N, int64_t M, int64_t K, int cl, int sms, t3_stats &st) {
    int err = 0;
    int64_t g[3];
    qn_cuda_fp8_grid(N, M, 0, 1, cl, sms, g);
    const int64_t nb = g[0] * g[1] * g[2] + 2 * sms; /* >= the persistent grid (at most one block per tile) */
    unsigned long long *dt;
    CK(cudaMalloc(&dt, (size_t)nb * QN_CUDA_FP8_TRACE * 8));
    CK(cudaMemset(dt, 0, (size_t)nb * QN_CUDA_FP8_TRACE * 8));
    for (int w = 0; w < 3; w++) err |= run(NULL);
    cudaEvent_t a, b;
    CK(cudaEventCreate(&a));
    CK(cudaEventCreate(&b));
    CK(cudaEventRecord(a));
    err |= run(dt);
    CK(cudaEventRecord(b));
    CK(cudaEventSynchronize(b));
    float ms = 0;
    CK(cudaEventElapsedTime(&ms, a, b));
    cudaEventDestroy(a), cudaEventDestroy(b);
    std::vector<unsigned long long> h((size_t)nb * QN_CUDA_FP8_TRACE);
    CK(cudaMemcpy(h.data(), dt, h.size() * 8, cudaMemcpyDeviceToHost));
    cudaFree(dt);
    double first = 0, steps = 0, csteps = 0, epi = 0;
    int64_t rec = 0;
    for (int64_t i = 0; i < nb; i++) {
        const unsigned long long *r = &h[(size_t)i * QN_CUDA_FP8_TRACE];
        if (!r[1] || !r[4]) continue;
        rec++;
        first += (double)(r[2] - r[1]), steps += (double)(r[3] - r[2]), epi += (double)(r[4] - r[3]);
        csteps += (double)(r[7] - r[6]);
    }
    const double n = rec > 0 ? (double)rec : 1.0, k64 = (double)(K / 64);
    st.launch_us = ms * 1e3, st.first_us = first / n * 1e-3, st.kloop_us = steps / n * 1e-3, st.clk64 = csteps / n / k64;
    st.ghz = steps > 0 ? csteps / steps : 0.0, st.epi_us = epi / n * 1e-3, st.rec = rec;
    return err;
}

/* trace3 (fp813): the TMA form's per-block record of its first tile (one launch per shape and cluster size): time
 * to the first stage, the K loop in SM clocks per 64 of K (fp8pp11's ~960 for 2p against the tensor cores' 512 for
 * 128x256), the epilogue (direct stores), and the launch's span. */
static int trace_t3() {
    /* fp816: three of the four rows under 0.9x _scaled_mm (H100 21:03); with the groups (FP8_CHECK_SK=3) at 512 x 4096 x
     * 11008 and 256 x 5120 x 13824 every block's first segment is its only piece, and the blocks recorded are the
     * owners: "epilogue" = waiting for the peers' slots + adding them + the stores */
    /* fp817: 256 x 5120^2 (0.83 at 02:25, groups of 3) in place of 256 x 5120 x 13824; with FP8_CHECK_SK=5 every piece
     * is recorded (each stores a share): "epilogue" = its slot written, the peers' read for its share, its stores */
    static const int64_t shapes[][3] = {{512, 4096, 11008}, {256, 5120, 5120}, {2048, 5120, 5120}, {4096, 13824, 5120}};
    int sms = 132;
    cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
    int err = 0;
    float *skw;
    unsigned *skf;
    CK(cudaMalloc(&skw, qn_cuda_fp8_sk_bytes(sms)));
    CK(cudaMalloc(&skf, 2 * (size_t)sms * sizeof(unsigned)));
    CK(cudaMemset(skf, 0, 2 * (size_t)sms * sizeof(unsigned)));
    for (auto &sh : shapes) {
        const int64_t M = sh[0], N = sh[1], K = sh[2];
        std::vector<uint8_t> wq;
        dweight dw = timing_weight(N, K, wq);
        tact ta = timing_x(M, N, K);
        err |= qn_cuda_fp8_quantize_x_tm(QN_DT_BF16, ta.x, M, K, K, ta.buf, 1, NULL);
        /* 0ts, fp815's stream-K (always; a block's first segment), 0ts with 128x192, (fp817) 0ts's last tile per block:
         * at 4096 x 13824 x 5120 (0.85, 14 rounds) the first tile's K loop at the tensor rate predicts ~400 us of ~490 */
        /* fp819 (FP8_CHECK_PP=1): + 0ts with fp817's stmatrix epilogue (ci 4): how much of the ~2.4 us a 128x256 tile's
         * epilogue takes is its instructions (STM cuts them) rather than its stores and waits */
        /* and (ci 5) 0ts in the SS form with the split epilogue (OE): its "epilogue" = scaling into registers + the last
         * tile's pending chunks; the stores of the others run under the next tile's K loop */
        for (int ci = 0; ci < (g_pp ? 6 : 4); ci++) {
            if (ci == 1 && getenv("FP8_CHECK_NO_SK") && !g_pp) continue;
            int cl = 1, form = (ci == 3 ? 4 | 1024 : 4) | (g_ss ? 2048 : 0), tile = ci == 2 ? 5 : 0;
            if (g_pp && ci > 0 && ci < 4) /* fp819: the ping-pong form's first tile, in clusters of 2 (ppw), its last tile */
                cl = ci == 2 ? 2 : 1, form = (ci == 2 ? 6 : 4) | (ci == 3 ? 1024 : 0) | 2048 | 4096, tile = 2;
            if (ci == 4) form = 4 | 512, tile = 0; /* 0ts + stmatrix */
            if (ci == 5) form = 4 | 2048 | 8192, tile = 0; /* 0ts SS + OE */
            auto run = [&](unsigned long long *tr) {
                return ci == 1 && !g_pp ? qn_cuda_fp8_gemm_sk(&dw.w, ta.buf, M, QN_DT_BF16, ta.y, 0, g_sk_mode | (g_ss ? 64 : 0), skw, skf, tr, sms, NULL)
                               : qn_cuda_fp8_gemm_cl(&dw.w, ta.buf, M, QN_DT_BF16, ta.y, tile, 1, NULL, cl, form, tr, sms, NULL);
            };
            t3_stats st;
            err |= t3_measure(run, N, M, K, cl, sms, st);
            const double ms = st.launch_us * 1e-3;
            const int64_t rec = st.rec;
            printf("trace3 M=%lld N=%lld K=%lld TMA form%s, cluster %d%s: %lld blocks recorded; launch %.1f us; %s tile per "
                   "block: first stage %.2f us, K loop %.1f us (%.0f clocks per 64 of K, %.2f GHz), epilogue %.2f us\n",
                   (long long)M, (long long)N, (long long)K,
                   ci == 0 ? " + TMA store (0ts, tile picked)"
                   : ci == 4 ? " + TMA store by stmatrix (0ts, tile picked; fp817's STM)"
                   : ci == 5 ? " + TMA store under the next tile (0ts SS, tile picked; fp819's OE)"
                   : g_pp ? (ci == 1 ? " + TMA store, ping-pong 128x128 SS (fp819; warpgroup 0's tile; tensor floor 256 clocks per 64 of K)"
                             : ci == 2 ? " + TMA store, ping-pong 128x128 SS in clusters of 2 along the tokens (fp819, ppw)"
                                       : " + TMA store, ping-pong 128x128 SS (fp819; warpgroup 0's last tile; first stage = from the block's entry)")
                   : ci == 1 ? ((g_sk_mode & 2048) ? " + TMA store, split-K groups reduced in a cluster (fp822, DSMEM; first segment; every piece)"
                                : g_sk_mode == 3 ? " + TMA store, split-K groups (first segment; owners only)"
                                              : g_sk_mode == 5 ? " + TMA store, split-K groups, shared reduction (first segment; every piece; clocks per 64 of the whole K)"
                                                               : " + TMA store, stream-K (first segment)")
                   : ci == 2 ? " + TMA store, 128x192 (tensor floor 384 clocks per 64 of K)"
                             : " + TMA store (0ts, tile picked; first stage = from the block's entry)",
                   cl, g_ss && !(g_pp && ci > 0) ? ", SS (fp818)" : "", (long long)rec, ms * 1e3, ci == 3 ? "last" : "first",
                   st.first_us, st.kloop_us, st.clk64, st.ghz, st.epi_us);
        }
        tact_free(ta), cudaFree(dw.codes), cudaFree(dw.sw);
    }
    cudaFree(skw), cudaFree(skf);
    if (err) printf("trace3: launches failed (%d)\n", err);
    return err ? 1 : 0;
}

/* trace4 (fp823): the long rows' question — why the ping-pong 128x128 tile runs at ~380 clocks per 64 of K (fp819; floor
 * 256) where cuBLASLt's 128x128 tile in 1x2 clusters runs at ~95% of the tensor rate (fp822's ncu). Per row, the
 * ping-pong form alone (pp), in pairs along the tokens (ppw: the weights multicast) and along the weights (ppt: the
 * tokens multicast), each whole and with one side of its K loop removed (persist | 32768: no copies, the wgmma on
 * whatever the stages hold = the tensor pipe and its shared-memory reads alone; | 65536: no wgmma, each stage released
 * as it lands = the copies alone, the SM's feed), warpgroup 0's first tile, and whole with its last tile (| 1024: late in
 * the launch, the clock under load; "first stage" is then from the block's entry); then the default's 128x256 (SS + OE)
 * and the cooperative 128x128 (SS) alone and in pairs multicasting either operand, whole (warpgroup 0's 64 rows).
 * y is garbage in the cut forms (timing only). */
static int trace_t4() {
    static const int64_t shapes[][3] = {{4096, 11008, 4096}, {4096, 13824, 5120}, {2048, 11008, 4096}, {2048, 5120, 5120}};
    int sms = 132;
    cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
    int err = 0;
    /* fp823 round 2 (after call 2: the ping-pong tile's wgmma alone ran at 408 clocks, its copies alone at 267): the
     * cooperative SS tiles with direct stores (persist 3: the forms that honour diag 1 outside the ping-pong) whole and
     * without copies — whether two warpgroups' n128 wgmma reach the floor without copies; the 128x256 tile likewise */
    static const struct {
        const char *name;
        int cl, persist, tile, nd; /* nd: 4 = whole / no copies / no wgmma / whole on the last tile; 2: the first two; 1 */
    } forms[] = {{"pp", 1, 4 | 2048 | 4096, 2, 4}, {"ppw", 2, 6 | 2048 | 4096, 2, 4}, {"ppt", 2, 4 | 2048 | 4096, 2, 4},
                 {"km256 (default's 128x256 SS + OE)", 1, 4 | 2048 | 8192, 1, 1},
                 {"s128 (cooperative 128x128 SS)", 1, 4 | 2048, 2, 1},
                 {"sw128 (s128, pairs multicasting the weights)", 2, 6 | 2048, 2, 1},
                 {"c128t (s128, pairs multicasting the tokens)", 2, 4 | 2048, 2, 1},
                 {"s128d (s128, direct stores)", 1, 3 | 2048, 2, 2},
                 {"c128td (c128t, direct stores)", 2, 3 | 2048, 2, 2},
                 {"s256d (128x256 SS, direct stores)", 1, 3 | 2048, 1, 2}};
    constexpr int NF = (int)(sizeof forms / sizeof forms[0]);
    static const struct {
        const char *name;
        int bits;
    } diags[] = {{"whole", 0}, {"no copies", 32768}, {"no wgmma", 65536}, {"whole, last tile", 1024}};
    for (auto &sh : shapes) {
        const int64_t M = sh[0], N = sh[1], K = sh[2];
        std::vector<uint8_t> wq;
        dweight dw = timing_weight(N, K, wq);
        tact ta = timing_x(M, N, K);
        err |= qn_cuda_fp8_quantize_x_tm(QN_DT_BF16, ta.x, M, K, K, ta.buf, 1, NULL);
        for (int fi = 0; fi < NF; fi++)
            for (int di = 0; di < forms[fi].nd; di++) {
                const int cl = forms[fi].cl, persist = forms[fi].persist | diags[di].bits, tile = forms[fi].tile;
                auto run = [&](unsigned long long *tr) {
                    return qn_cuda_fp8_gemm_cl(&dw.w, ta.buf, M, QN_DT_BF16, ta.y, tile, 1, NULL, cl, persist, tr, sms, NULL);
                };
                t3_stats st;
                const int e = t3_measure(run, N, M, K, cl, sms, st);
                err |= e;
                printf("trace4 M=%lld N=%lld K=%lld %s %s: launch %.1f us; %lld blocks; traced tile: first stage %.2f us, "
                       "K loop %.1f us (%.0f clocks per 64 of K, %.2f GHz; floor %d), epilogue %.2f us%s\n",
                       (long long)M, (long long)N, (long long)K, forms[fi].name, diags[di].name, st.launch_us,
                       (long long)st.rec, st.first_us, st.kloop_us, st.clk64, st.ghz, forms[fi].tile == 1 ? 512 : 256, st.epi_us,
                       e ? " (launch failed)" : "");
            }
        tact_free(ta), cudaFree(dw.codes), cudaFree(dw.sw);
    }
    if (err) printf("trace4: launches failed (%d)\n", err);
    return err ? 1 : 0;
}

/* quant (fp813): the quantizer alone (token-major, bf16 x) on the K of the 7B/13B weights at M = 2048 and 4096, in
 * the form QUANTA_CUDA_FP8_QUANT_SM chooses (run it with =0 and =1), and the bytes it moves per us. */
static int time_quant() {
    static const int64_t ks[] = {4096, 5120, 11008, 13824}, ms[] = {2048, 4096};
    int err = 0;
    for (int64_t K : ks)
        for (int64_t M : ms) {
            tact ta = timing_x(M, 16, K);
            const double t = time_us([&] { err |= qn_cuda_fp8_quantize_x_tm(QN_DT_BF16, ta.x, M, K, K, ta.buf, 1, NULL); });
            printf("quant M=%lld K=%lld (QUANTA_CUDA_FP8_QUANT_SM=%s): %.1f us, %.2f TB/s of x read once + codes\n",
                   (long long)M, (long long)K, getenv("QUANTA_CUDA_FP8_QUANT_SM") ? getenv("QUANTA_CUDA_FP8_QUANT_SM") : "unset",
                   t, (double)M * K * 3 / t / 1e6);
            tact_free(ta);
        }
    return err ? 1 : 0;
}

/* one M N K [sk [tile]] (fp816, for ncu): the quantizer and the GEMM (sk 0: the default 0ts; 2 / 3: stream-K / split-K
 * groups; FP8_CHECK_SS=1: in fp818's SS form), each 4 times: `ncu -k regex:qn_k_fp8_tma --launch-skip 3 -c 1` profiles a warm launch. */
static int run_one(int argc, char **argv) {
    if (argc < 5) { printf("usage: fp8_check one M N K [sk [tile]]\n"); return 2; }
    const int64_t M = atoll(argv[2]), N = atoll(argv[3]), K = atoll(argv[4]);
    const int sk = argc > 5 ? atoi(argv[5]) : 0, tile = argc > 6 ? atoi(argv[6]) : 0;
    int sms = 132;
    cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
    std::vector<uint8_t> wq;
    dweight dw = timing_weight(N, K, wq);
    tact ta = timing_x(M, N, K);
    float *skw;
    unsigned *skf;
    CK(cudaMalloc(&skw, qn_cuda_fp8_sk_bytes(sms)));
    CK(cudaMalloc(&skf, 2 * (size_t)sms * sizeof(unsigned)));
    CK(cudaMemset(skf, 0, 2 * (size_t)sms * sizeof(unsigned)));
    int err = 0;
    for (int i = 0; i < 4; i++) {
        err |= qn_cuda_fp8_quantize_x_tm(QN_DT_BF16, ta.x, M, K, K, ta.buf, 1, NULL);
        err |= sk ? qn_cuda_fp8_gemm_sk(&dw.w, ta.buf, M, QN_DT_BF16, ta.y, tile, sk | (g_ss ? 64 : 0), skw, skf, NULL, sms, NULL)
                  : qn_cuda_fp8_gemm_cl(&dw.w, ta.buf, M, QN_DT_BF16, ta.y, g_pp ? 2 : tile, 1, NULL, g_pp_cl,
                                        4 | (g_ss || g_pp ? 2048 : 0) | (g_pp ? 4096 : 0), NULL, sms, NULL);
    }
    CK(cudaDeviceSynchronize());
    printf("one M=%lld N=%lld K=%lld sk=%d tile=%d%s: %s\n", (long long)M, (long long)N, (long long)K, sk, tile,
           g_pp ? (g_pp_cl == 2 ? " ping-pong in pairs along the weights (fp823, ppt)" : " ping-pong (fp819)") : g_ss ? " SS (fp818)" : "",
           err ? "launch failed" : "ran");
    tact_free(ta), cudaFree(dw.codes), cudaFree(dw.sw), cudaFree(skw), cudaFree(skf);
    return err ? 1 : 0;
}

/* fp820: `fp8_check gemv`: the decode GEMV (qn_cuda_matmul_q: x prep + the GEMV kernel, split-K reduced in the kernel)
 * on the LLaMA-7B/13B decode shapes, the weight's codes tiled against K-major only (codes NULL: fp820's layout), timed
 * INTERLEAVED: per round each form once (CUDA events around 10 calls, us per call), the order rotated every round,
 * FP8_CHECK_REPS x 3 rounds; medians, and per K-major form the median of the per-round ratios form / tiled (> 1: slower
 * than the tiled GEMV, today's default). fp821: every K-major form (qn_cuda_matmul_km_form 0 = fp820's qn_k_mmq KM,
 * 1-7 = qn_k_mmq_kmw's, 5-6 with PDL, 7 = 5 / 6 by M: matmul_q.cu qn_kmw_forms); FP8_CHECK_GEMV_M = a comma list
 * of M (default 1,2,4,8,16,48).
 * Each call reads another copy of the weight (copies x bytes >= 128 MB > the 50 MB L2), so the codes come from HBM as
 * in a decode step; the bytes are the same random finite codes in every form (values do not change the speed). The
 * outputs are not compared here (the same bytes read as the two layouts are two different weights); `fp8_check
 * check` compares the forms on one weight. */
static int time_gemv() {
    static const int64_t nk[8][2] = {{4096, 4096}, {11008, 4096}, {4096, 11008}, {12288, 4096},
                                     {5120, 5120}, {13824, 5120}, {5120, 13824}, {32000, 4096}};
    std::vector<int64_t> ms = {1, 2, 4, 8, 16, 48}; /* the kernels' MT 1 (M <= 8), 2 and 8: decode batches */
    if (const char *e = getenv("FP8_CHECK_GEMV_M")) {
        ms.clear();
        for (const char *q = e; *q;) {
            const long v = strtol(q, (char **)&q, 10);
            if (v > 0) ms.push_back(v);
            if (*q) q++;
        }
    }
    constexpr int NV = 1 + QN_CUDA_MATMUL_KM_FORMS; /* v 0: tiled; v >= 1: K-major form v - 1 */
    const int rounds = 3 * g_reps, calls = 10, form0 = qn_cuda_matmul_km_form;
    unsigned *cnt;
    CK(cudaMalloc(&cnt, QN_CUDA_MATMUL_COUNTERS * sizeof(unsigned)));
    CK(cudaMemset(cnt, 0, QN_CUDA_MATMUL_COUNTERS * sizeof(unsigned)));
    int rc = 0;
    printf("gemv: decode GEMV (qn_cuda_matmul_q, x bf16, y bf16), tiled vs the K-major forms (km0 = fp820's, km1-km7 = "
           "fp821's warps along K, km5-km6 with PDL, km7 = km5 / km6 by M), interleaved, medians of %d rounds (%d calls "
           "each, another weight copy per call), us; rN = median per-round ratio of kmN / tiled\n",
           rounds, calls);
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    for (const auto &sh : nk) {
        const int64_t N = sh[0], K = sh[1], Np = (N + 15) / 16 * 16, Kp = (K + 63) / 64 * 64;
        const size_t wb = (size_t)Np * (size_t)Kp;
        const int copies = (int)std::max<size_t>(1, ((size_t)128 << 20) / wb + 1);
        uint8_t *codes;
        float *sw;
        CK(cudaMalloc(&codes, wb * copies));
        CK(cudaMalloc(&sw, Np * 4));
        {
            std::vector<uint8_t> h(wb);
            fill_codes(h.data(), h.size());
            for (int i = 0; i < copies; i++) CK(cudaMemcpy(codes + wb * i, h.data(), wb, cudaMemcpyHostToDevice));
            std::vector<float> hs(Np);
            for (auto &v : hs) v = (0.5f + urand()) / (448.0f * sqrtf((float)K));
            CK(cudaMemcpy(sw, hs.data(), Np * 4, cudaMemcpyHostToDevice));
        }
        for (int64_t M : ms) {
            std::vector<__nv_bfloat16> hx((size_t)(M * K));
            for (auto &v : hx) v = __float2bfloat16_rn(nrand());
            void *dx, *dy, *scr;
            CK(cudaMalloc(&dx, hx.size() * 2));
            CK(cudaMemcpy(dx, hx.data(), hx.size() * 2, cudaMemcpyHostToDevice));
            CK(cudaMalloc(&dy, (size_t)(M * N) * 2));
            qn_cuda_weight w[2];
            for (int v = 0; v < 2; v++) {
                w[v].fmt = QN_CW_E4M3, w[v].N = N, w[v].K = K, w[v].Np = Np, w[v].Kp = Kp, w[v].group = 0;
                w[v].meta = NULL, w[v].row_scale = sw;
                w[v].codes = v ? NULL : codes, w[v].codes_k = v ? codes : NULL;
            }
            size_t sb = qn_cuda_matmul_q_scratch(&w[0], M, 132);
            for (int f = 0; f < QN_CUDA_MATMUL_KM_FORMS; f++) {
                qn_cuda_matmul_km_form = f;
                sb = std::max(sb, qn_cuda_matmul_q_scratch(&w[1], M, 132));
            }
            CK(cudaMalloc(&scr, sb));
            int err = 0;
            auto call = [&](int v, int i) {
                qn_cuda_weight wi = w[v ? 1 : 0];
                qn_cuda_matmul_km_form = v ? v - 1 : form0;
                (v ? wi.codes_k : wi.codes) = codes + wb * (size_t)(i % copies);
                err |= qn_cuda_matmul_q(&wi, QN_DT_BF16, dx, QN_DT_BF16, dy, M, scr, sb, cnt, QN_CUDA_MATMUL_COUNTERS,
                                        132, NULL);
            };
            for (int v = 0; v < NV; v++)
                for (int i = 0; i < 3; i++) call(v, i);
            CK(cudaDeviceSynchronize());
            std::vector<double> t[NV], ratio[NV];
            int ci = 0;
            for (int r = 0; r < rounds; r++) {
                double us[NV];
                for (int j = 0; j < NV; j++) {
                    const int v = (r + j) % NV;
                    CK(cudaEventRecord(e0));
                    for (int i = 0; i < calls; i++) call(v, ci++);
                    CK(cudaEventRecord(e1));
                    CK(cudaEventSynchronize(e1));
                    float ms_ = 0;
                    CK(cudaEventElapsedTime(&ms_, e0, e1));
                    us[v] = ms_ * 1000.0 / calls;
                }
                for (int v = 0; v < NV; v++) t[v].push_back(us[v]), ratio[v].push_back(us[v] / us[0]);
            }
            auto med = [](std::vector<double> v) {
                std::sort(v.begin(), v.end());
                return v[v.size() / 2];
            };
            const double floor_us = (double)(wb + (size_t)(M * K) * 2) / 3.35e6;
            printf("gemv %5lld x %5lld M=%-2lld tiled %6.2f", (long long)N, (long long)K, (long long)M, med(t[0]));
            for (int v = 1; v < NV; v++) printf("  km%d %6.2f r%d %.3f", v - 1, med(t[v]), v - 1, med(ratio[v]));
            printf("  floor %.1f (3.35 TB/s), %zu weight bytes every form%s\n", floor_us, wb,
                   err ? "; launch failed" : "");
            rc |= err ? 1 : 0;
            cudaFree(dx), cudaFree(dy), cudaFree(scr);
        }
        cudaFree(codes), cudaFree(sw);
    }
    qn_cuda_matmul_km_form = form0;
    cudaEventDestroy(e0), cudaEventDestroy(e1);
    cudaFree(cnt);
    return rc;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0); /* line by line: a run killed by its timeout (a hang) keeps what it printed */
    const char *mode = argc > 1 ? argv[1] : "all";
    if (getenv("FP8_CHECK_REPS") && atoi(getenv("FP8_CHECK_REPS")) > 0) g_reps = atoi(getenv("FP8_CHECK_REPS"));
    if (getenv("FP8_CHECK_SK")) g_sk_mode = atoi(getenv("FP8_CHECK_SK"));
    if (getenv("FP8_CHECK_SS")) g_ss = atoi(getenv("FP8_CHECK_SS")) == 1;
    if (getenv("FP8_CHECK_PP")) {
        const int v = atoi(getenv("FP8_CHECK_PP"));
        g_pp = v == 1 || v == 3, g_pp_cl = v == 3 ? 2 : 1;
    }
    const char *env = getenv("FP8_SEED");
    const uint64_t seed = env ? strtoull(env, NULL, 10)
                              : (uint64_t)std::chrono::high_resolution_clock::now().time_since_epoch().count();
    rng.seed(seed);
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    qn_cuda_pdl_on = prop.major >= 9;
    printf("fp8_check: seed %llu (FP8_SEED=%llu repeats it), %s, compute capability %d.%d\n", (unsigned long long)seed,
           (unsigned long long)seed, prop.name, prop.major, prop.minor);
    int rc = 0;
    if (!strcmp(mode, "sanitize")) { /* small, for compute-sanitizer (memcheck, racecheck, synccheck) */
        /* fp814: + 2-byte y with N % 8 == 0 (the ping-pong form's TMA store), K odd in 128, 3 x 2 tiles of 128 x 128 */
        static const ccase cases[] = {{70, 150, 192, QN_DT_F32, QN_DT_BF16, 1, 1}, {70, 150, 192, QN_DT_F16, QN_DT_F32, 4, 2},
                                      {300, 256, 320, QN_DT_BF16, QN_DT_BF16, 2, 1}};
        int bad = 0;
        for (const ccase &c : cases) bad += check_case(c);
        return bad ? 1 : 0;
    }
    if (!strcmp(mode, "check") || !strcmp(mode, "all")) {
        static const ccase cases[] = {
            {66, 96, 256, QN_DT_F32, QN_DT_F32, 0, 1},      /* the conformance batch shape, the pick */
            {77, 131, 160, QN_DT_F16, QN_DT_F16, 4, 1},     /* K not a multiple of 64, odd N: 64x64 */
            {300, 200, 544, QN_DT_BF16, QN_DT_BF16, 3, 1},  /* 64x128, partial token tile */
            {257, 300, 1024, QN_DT_F32, QN_DT_BF16, 2, 1},  /* 128x128, a 1-token last tile */
            {200, 264, 704, QN_DT_F16, QN_DT_BF16, 0, 1},   /* fp813: 2-byte y, N % 8 == 0: the ts forms' TMA store */
            {520, 390, 2048, QN_DT_F32, QN_DT_F32, 1, 1},   /* 128x256, N and M past the tiles */
            {512, 4096, 512, QN_DT_BF16, QN_DT_F32, 0, 1},  /* the pick on a wide weight */
            {333, 1024, 1088, QN_DT_BF16, QN_DT_BF16, 1, 1}, /* fp813: 128x256 with the TMA store, K odd in 128 */
            {70, 150, 10000, QN_DT_BF16, QN_DT_BF16, 0, 1},  /* fp813: long K (the one-read form: a 20 KB row) */
            {90, 64, 5000, QN_DT_F32, QN_DT_F16, 0, 1},      /* fp813: K odd in 16, f32 rows of 20 KB */
            {257, 300, 1024, QN_DT_F32, QN_DT_BF16, 1, 3},  /* split-K: 128x256, 16 steps in 6 + 6 + 4 */
            {300, 200, 544, QN_DT_BF16, QN_DT_F32, 2, 2},   /* split-K: 128x128, 9 steps in 5 + 4 */
        };
        int bad = 0;
        for (const ccase &c : cases) bad += check_case(c);
        printf("fp8_check: %d of %d cases wrong\n", bad, (int)(sizeof cases / sizeof cases[0]));
        rc |= bad ? 1 : 0;
    }
    if (!strcmp(mode, "time") || !strcmp(mode, "all")) rc |= time_all(argc > 2 ? argv[2] : NULL);
    if (!strcmp(mode, "time2")) rc |= time_v2(argc > 2 ? argv[2] : NULL);
    if (!strcmp(mode, "trace")) rc |= trace_all();
    if (!strcmp(mode, "tma")) rc |= tma_test();
    if (!strcmp(mode, "quant")) rc |= time_quant();
    if (!strcmp(mode, "trace3")) rc |= trace_t3();
    if (!strcmp(mode, "trace4")) rc |= trace_t4();
    if (!strcmp(mode, "time3")) rc |= time_t3(argc > 2 ? argv[2] : NULL);
    if (!strcmp(mode, "time5")) rc |= time_t5(argc > 2 ? argv[2] : NULL);
    if (!strcmp(mode, "one")) rc |= run_one(argc, argv);
    if (!strcmp(mode, "gemv")) rc |= time_gemv();
    return rc;
}
