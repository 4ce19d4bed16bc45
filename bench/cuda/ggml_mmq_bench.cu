/*
 * ggml_mmq_bench.cu — kernel rows of the ggml-block matmul past the GEMV (qn_cuda_ggml_mmq) on the 7B's
 * shapes at M = 512, 256 (a prefill step), 64, 16: a "new" kernel against an "old" one in the same process
 * (MMQ_BENCH_NEW / MMQ_BENCH_OLD, the numbers of QUANTA_CUDA_GGML_MMQ: 13 the warp-specialized wgmma kernel
 * of kernels_cuda/ggml_mmq_ws_wg.cu, 16 the register-A wgmma kernel fed by TMA of kernels_cuda/ggml_mmq_rs_wg.cu
 * (Q4_0 / Q8_0, K a multiple of 256), 17 mmq15's form of it (kernels_cuda/ggml_mmq_rsi_wg.cu; its tiles rsidiag0 /
 * rsidiag1 are diagnostics whose outputs are not the product: their maxdiff is meaningless), 14 the ws kernel fed with the weight dequantized to f16 per call (the old
 * kernel must need no more scratch than the new), 7 the wgmma kernel of kernels_cuda/ggml_mmq_wg.cu, 6 the fragment
 * kernel of ggml_mmq_frag.cu, 5 ggml_mmq.cu's; default 6 against 5). Prints µs per call and TFLOP/s of each, and the largest |new - old| relative to the largest
 * |old| (6 against 5: the same f16 weights and activations and the same mma order per output, 0 expected;
 * 7 sums in wgmma's order: f32 rounding, ~1e-6).
 *
 *   nvcc ... bench/cuda/ggml_mmq_bench.cu ggml_mmq.o ggml_mmq_frag.o ggml_mmq_wg.o ... elementwise.o
 *   (bench/cuda/verify_mmq18.sh links the objects of a meson build: kernels_cuda/ggml_mmq*.cu.o, elementwise.cu.o)
 *
 * Weights: random bytes with a valid f16 scale per block; x: random f32 in [-1, 1]. 10 calls per CUDA
 * graph, median of 3 graph launches; one copy of each weight (at M = 16 part of it may sit in L2). At M = 512
 * and 256 on the 4096-and-wider shapes every tile of the new kernel is timed too (MMQ_BENCH_TILES=0: only the one picked;
 * MMQ_BENCH_TILES=rs128x256,rs128x128g2: those).
 * MMQ_BENCH_FORMATS=q4_0,q8_0 limits the formats, MMQ_BENCH_M=512 (or a list: 256,2048; 2048 is not in
 * the default list) the batch sizes, MMQ_BENCH_SHAPES=5120x5120,27648x5120 (N x K) the shapes (default the
 * 7B's four).
 * mmq16: MMQ_BENCH_XY=bf16 feeds x and takes y in bf16 (cuBLAS bf16's operands; default f32 / f32, the engine's);
 * MMQ_BENCH_EXTRA=pdl,gemm,mu4 adds rows after "auto": "pdl" / "nopdl" (the new kernel with QUANTA_CUDA_GGML_PDL the
 * other way round), "gemm" (=17's GEMM alone: qn_cuda_ggml_mmq_noprep, on the activations the auto row's last call
 * prepped), "mu4" / "mu1" (QUANTA_CUDA_GGML_PREP_MU=4, the default since mmq17, / =1).
 * mmq17: "prep1" (QUANTA_CUDA_GGML_PREP1=1: the one-pass prep), "prep" / "prep1only" (the default prep / the one-pass
 * prep alone: qn_cuda_ggml_mmq_noprep = 2; y is not written, so their maxdiff is NaN), "x256" (qn_cuda_ggml_mmq_x:
 * the prep into its own buffer in 256-token tiles every call, the GEMM reading its tiles from there), "xkept" (the
 * same with the prep x256 left there: the GEMM alone, as q/k/v's second and third GEMMs run with
 * QUANTA_CUDA_GGML_XKEEP=1).
 * mmq18: "normslab" (q4_0 / q8_0, MMQ_BENCH_NEW=17): rms_norm(x) writing the kept slab (QUANTA_CUDA_GGML_NORM_SLAB=1)
 * against the prep of its result, byte for byte, and the GEMMs on each bit for bit; one line (normslab() below).
 * mmq19: after it, "normv" lines (normv() below): the norms in blocks of 1024 / V threads (QUANTA_CUDA_NORM_V = 1, 2, 4:
 * qn_cuda_norm_v) — rms_norm (no weight, as normslab's) and add_norm (LLaMA's residual add and the next norm, with a
 * weight: the prefill's norm before q/k/v and gate/up) — each result compared byte for byte with V = 1's, each slab
 * with the prep of its result; times of the norm alone and with its slab.
 * mmq19: "gluslab" (q4_0 / q8_0, K > 4096 and a multiple of 256: the 7B's down shape 4096x14336): SwiGLU over M x K
 * (gate, up random) by qn_cuda_glu and by qn_cuda_glu_slab (QUANTA_CUDA_GGML_GLU_SLAB=1's kernel), the results byte for
 * byte, the slab against the prep of the result, the GEMM on the slab (kept) against the default GEMM of the result bit
 * for bit; times of the glu alone, the glu with its slab, the prep alone (gluslab() below); one line for each form of
 * the slab kernel (qn_cuda_glu_slab_form: 1 registers, 2 shared memory).
 * mmq20: "gemmepi0" .. "gemmepi7" (the GEMM alone, as "gemm", with QUANTA_CUDA_GGML_EPI=0 .. 7 — 0 the instances
 * before mmq20; "gemm" itself is the default, 7 by qn_rsi_go's rule since 12:37 — a sum of 1: the
 * epilogue's token scales loaded once and a split's reduce launched early, 2: every GEMM letting the next launch early,
 * 4: the first copies in the consumers' order; the same bits, so maxdiff 0 against the old kernel), "gemm2" (the
 * default GEMM alone again, after them: the drift between rows);
 * MMQ_BENCH_TILES' forced tiles run with qn_cuda_ggml_mmq_epi as QUANTA_CUDA_GGML_EPI sets it; "xkept128" (as xkept,
 * with QUANTA_CUDA_GGML_SPLIT128=1: the k/v shapes' 128-token tiles with K split).
 * mmq21: "gemmcl" / "xkeptcl" (as gemm / xkept, with QUANTA_CUDA_GGML_SPLITCL=1: the 64-token tiles split in two as
 * cluster pairs, their halves added in distributed shared memory; the same bits, maxdiff 0), "gemmcl2" (=2: the same
 * with two steps a commit group), "gemmpl" / "gemmepi7pl"
 * (the GEMM alone with QUANTA_CUDA_GGML_PLOOP=1: the EPI instances' producer loop split; the default's EPI, or 7 on
 * every shape; the same bits), "gemmpl0" .. "gemmpl3" (QUANTA_CUDA_GGML_PLOOP=0 .. 3: off, every EPI pick, the
 * diagnostic — the EPI consumers with the old instances' producer —, the 128-token picks: the default since 15:09, and
 * the 64-token ones too),
 * "gemmcl0" / "gemmcl3" (SPLITCL=0: off; 3: the pair split by tokens; 2 is the default since 15:09).
 * mmq22: MMQ_BENCH_GROUPS=1024+1024x4096,... (weights of one x as one grid: grouprows() below; MMQ_BENCH_GROUPS_ONLY=1:
 * those rows alone).
 * mmq23: "gemmpx" / "gemmpx2" / "gemmpx0" (the GEMM alone with QUANTA_CUDA_GGML_PAIRX=1 / 2 / 0: the 128-token pick,
 * and with 2 the 256-token one, as cluster pairs along the weight rows multicasting the activation steps; the same
 * bits, so maxdiff 0 against the default).
 * mmq24: "gemmtl" (the GEMM alone with QUANTA_CUDA_GGML_TLIN=1, the weight's tile-linear copy made once per shape and
 * passed: each A slot one linear bulk copy; the same bits, maxdiff 0), "gemmtl0" (the copy passed, TLIN=0).
 * mmq24: "trace" / "tracetl" / "trace128": one traced launch of the default's form (cuda_kernels.h,
 * qn_cuda_ggml_mmq_trace; with TLIN's copy; the 128-token tile unsplit on any grid), one summary line: the blocks' first
 * entry to last end, entry and end spreads, per block the wait for A slot 0, the K loop (us, clocks a step, GHz), the
 * epilogue.
 */
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "cuda_kernels.h" /* kernels_cuda/, and formats/layout.h through it */
#include "driver.h"

/* kernels_cuda/cuda_common.cuh; defined by rows.cu in libquanta, which this bench does not link (normslab's norm,
 * elementwise.cu, reads it): its kernels launched without the programmatic-dependent attribute */
extern "C" int qn_cuda_pdl_on;
int qn_cuda_pdl_on = 0;
/* kernels_cuda/ggml_mmq_ws_wg.cu: the activation prep's max pass with 1 or 4 loads in flight (QUANTA_CUDA_GGML_PREP_MU) */
extern int qn_cuda_ggml_mmq_prep_mu;

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t next32() { /* xorshift64* */
    rng ^= rng >> 12, rng ^= rng << 25, rng ^= rng >> 27;
    return (uint32_t)((rng * 0x2545F4914F6CDD1Dull) >> 32);
}

/* Offsets of the f16 scales in a block (set to 2^-7 so no value is Inf or NaN). */
static std::vector<int> scale_offsets(int dt) {
    if (dt == QN_DT_GGML_Q4_K || dt == QN_DT_GGML_Q5_K || dt == QN_DT_GGML_Q4_1 || dt == QN_DT_GGML_Q5_1) return {0, 2};
    if (dt == QN_DT_GGML_Q6_K) return {208};
    return {0};
}

/* Whether `name` is one of the comma-separated names of `list`. */
static bool in_list(const char *list, const char *name) {
    const size_t n = strlen(name);
    for (const char *c = list; c && *c;) {
        const char *e = strchr(c, ',');
        const size_t len = e ? (size_t)(e - c) : strlen(c);
        if (len == n && !strncmp(c, name, n)) return true;
        c = e ? e + 1 : nullptr;
    }
    return false;
}

/* Bytes that differ between two device buffers of n bytes. */
static size_t dev_differ(const void *a, const void *b, size_t n) {
    std::vector<uint8_t> ha(n), hb(n);
    CK(cudaMemcpy(ha.data(), a, n, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(hb.data(), b, n, cudaMemcpyDeviceToHost));
    size_t d = 0;
    for (size_t i = 0; i < n; i++) d += ha[i] != hb[i];
    return d;
}

/* The =17 GEMM's activation prep of x alone into xpb (qn_cuda_ggml_mmq_noprep = 2: y is not written): the reference a
 * producer's kept slab is compared with. */
static void prep_alone(int dt, const uint8_t *w, int64_t N, int64_t K, int xd, const void *x, int64_t M, void *y,
                       void *scr, size_t sn, void *xpb, size_t xpn, int sms, cudaStream_t st) {
    int have = 0;
    qn_cuda_ggml_mmq_kernel = 17, qn_cuda_ggml_mmq_tile = 0, qn_cuda_ggml_mmq_noprep = 2;
    CK((cudaError_t)qn_cuda_ggml_mmq_x(dt, w, N, K, xd, x, M, QN_DT_F32, y, scr, sn, xpb, xpn, &have, sms, st));
    qn_cuda_ggml_mmq_noprep = 0;
    CK(cudaStreamSynchronize(st));
}

/* A slab xs against the prep's xpb: *db code bytes that differ (of *tbytes), *ds rows whose scale differs. */
static void slab_differ(void *xs, void *xpb, int64_t M, int64_t K, size_t *db, size_t *tbytes, size_t *ds) {
    void *ta, *tb;
    float *sa, *sb;
    qn_cuda_ggml_mmq_xprep_split(xs, M, K, &ta, &sa);
    qn_cuda_ggml_mmq_xprep_split(xpb, M, K, &tb, &sb);
    *tbytes = (size_t)((uint8_t *)sa - (uint8_t *)ta);
    *db = dev_differ(ta, tb, *tbytes);
    std::vector<float> fa((size_t)M), fb((size_t)M);
    CK(cudaMemcpy(fa.data(), sa, (size_t)M * 4, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(fb.data(), sb, (size_t)M * 4, cudaMemcpyDeviceToHost));
    *ds = 0;
    for (int64_t i = 0; i < M; i++) *ds += memcmp(&fa[i], &fb[i], 4) != 0;
}

/* mmq18 ("normslab"): the norm writing the kept slab (QUANTA_CUDA_GGML_NORM_SLAB=1) against the prep. xn = rms_norm(x)
 * with the slab in xs2; the prep of xn (qn_cuda_ggml_mmq_noprep = 2: the prep alone, 256-token tiles) in xpb; the two
 * compared byte for byte (slab, the rows' scales), then the GEMM on each (xkept on xs2, the default prep of xn into
 * the scratch) compared bit for bit; times: the norm alone, the norm with its slab, the prep of xn alone. */
static void normslab(const char *name, int dt, const uint8_t *w, int64_t N, int64_t K, int xd, const void *x, int64_t M,
                     void *scr, size_t sn, void *xpb, size_t xpn, int sms, cudaStream_t st, cudaEvent_t e0,
                     cudaEvent_t e1) {
    const int perm = dt == QN_DT_GGML_Q4_0 ? 1 : 2, yd = QN_DT_F32;
    const size_t es = xd == QN_DT_F32 ? 4 : 2;
    void *xn, *xs2;
    float *ya, *yb;
    CK(cudaMalloc(&xn, (size_t)(M * K) * es));
    CK(cudaMalloc(&xs2, xpn));
    CK(cudaMalloc(&ya, (size_t)(M * N) * 4));
    CK(cudaMalloc(&yb, (size_t)(M * N) * 4));
    CK(cudaMemsetAsync(xs2, 0x5A, xpn, st)); /* garbage where the norm leaves anything unwritten */
    CK(cudaMemsetAsync(xpb, 0xA5, xpn, st));
    qn_cuda_xslab sl = {xs2, perm, 0};
    auto norm = [&](qn_cuda_xslab *s) {
        CK((cudaError_t)qn_cuda_rms_norm(xd, x, 0, nullptr, 0, nullptr, 0, nullptr, xd, xn, M, K, 1e-5f, 0, nullptr,
                                         nullptr, s, st));
    };
    norm(&sl);
    const int done = sl.done;
    prep_alone(dt, w, N, K, xd, xn, M, ya, scr, sn, xpb, xpn, sms, st);
    size_t db, tbytes, ds;
    slab_differ(xs2, xpb, M, K, &db, &tbytes, &ds);
    /* the GEMM on the norm's slab (kept: no prep) and on xn prepped the default way */
    int have = perm;
    CK((cudaError_t)qn_cuda_ggml_mmq_x(dt, w, N, K, xd, xn, M, yd, ya, scr, sn, xs2, xpn, &have, sms, st));
    CK((cudaError_t)qn_cuda_ggml_mmq(dt, w, N, K, xd, xn, M, yd, yb, scr, sn, sms, st));
    std::vector<float> ga((size_t)(M * N)), gb((size_t)(M * N));
    CK(cudaMemcpy(ga.data(), ya, ga.size() * 4, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(gb.data(), yb, gb.size() * 4, cudaMemcpyDeviceToHost));
    size_t dy = 0;
    for (size_t i = 0; i < ga.size(); i++) dy += memcmp(&ga[i], &gb[i], 4) != 0;
    auto time_us = [&](int what) { /* 0 the norm alone, 1 with its slab, 2 the prep of xn alone */
        return 1e3f * graph_calls_ms(st, e0, e1, 10, 3, [&] {
            if (what < 2) {
                qn_cuda_xslab s2 = {xs2, perm, 0};
                norm(what ? &s2 : nullptr);
            } else {
                int h = 0;
                qn_cuda_ggml_mmq_noprep = 2;
                CK((cudaError_t)qn_cuda_ggml_mmq_x(dt, w, N, K, xd, xn, M, yd, ya, scr, sn, xpb, xpn, &h, sms, st));
                qn_cuda_ggml_mmq_noprep = 0;
            }
        });
    };
    const float tn = time_us(0), ts = time_us(1), tp = time_us(2);
    printf("normslab %s M=%lld N=%lld K=%lld: done=%d slab bytes differing %zu of %zu, scales %zu of %lld, GEMM outputs "
           "%zu of %lld (%s); us: norm %.1f, norm+slab %.1f, prep %.1f (saved %.1f a GEMM x)\n",
           name, (long long)M, (long long)N, (long long)K, done, db, tbytes, ds, (long long)M, dy, (long long)(M * N),
           done && !db && !ds && !dy ? "SAME" : "DIFFERENT", tn, ts, tp, tp - (ts - tn));
    fflush(stdout);
    cudaFree(xn), cudaFree(xs2), cudaFree(ya), cudaFree(yb);
}

/* mmq19 ("normv", with "normslab"): the norms in blocks of 1024 / V threads against V = 1 (the same bits wanted: each
 * result byte for byte), each slab against the prep of its result (qn_cuda_ggml_mmq_noprep = 2 into xpb), times with and
 * without the slab. which 0: rms_norm(x) (no weight); 1: add_norm (y = x + r, y2 = rms_norm(y) * w, r and w random). */
static void normv(const char *name, int dt, const uint8_t *w, int64_t N, int64_t K, const float *x, int64_t M, void *scr,
                  size_t sn, void *xpb, size_t xpn, int sms, cudaStream_t st, cudaEvent_t e0, cudaEvent_t e1) {
    const int perm = dt == QN_DT_GGML_Q4_0 ? 1 : 2, f32 = QN_DT_F32;
    const size_t xb = (size_t)(M * K) * 4;
    float *r, *g, *y1, *y2, *ry1, *ry2; /* ry*: V = 1's results */
    void *xs;
    CK(cudaMalloc(&r, xb));
    CK(cudaMalloc(&g, (size_t)K * 4));
    CK(cudaMalloc(&y1, xb));
    CK(cudaMalloc(&y2, xb));
    CK(cudaMalloc(&ry1, xb));
    CK(cudaMalloc(&ry2, xb));
    CK(cudaMalloc(&xs, xpn));
    {
        std::vector<float> h((size_t)(M * K)), hg((size_t)K);
        for (auto &v : h) v = (float)((int32_t)next32()) * (1.0f / 2147483648.0f);
        for (auto &v : hg) v = 0.5f + (float)(next32() >> 8) * (1.0f / 16777216.0f);
        CK(cudaMemcpy(r, h.data(), xb, cudaMemcpyHostToDevice));
        CK(cudaMemcpy(g, hg.data(), (size_t)K * 4, cudaMemcpyHostToDevice));
    }
    auto run = [&](int which, qn_cuda_xslab *s, float *o1, float *o2) {
        if (which == 0)
            CK((cudaError_t)qn_cuda_rms_norm(f32, x, 0, nullptr, 0, nullptr, 0, nullptr, f32, o2, M, K, 1e-5f, 0, nullptr,
                                             nullptr, s, st));
        else
            CK((cudaError_t)qn_cuda_add_norm(f32, x, f32, r, f32, g, f32, o1, o2, M, K, 1e-5f, 0, nullptr, nullptr, s, st));
    };
    auto time_us = [&](int which, bool slab) {
        return 1e3f * graph_calls_ms(st, e0, e1, 10, 3, [&] {
            qn_cuda_xslab s2 = {xs, perm, 0};
            run(which, slab ? &s2 : nullptr, y1, y2);
        });
    };
    for (int which = 0; which < 2; which++) {
        for (int v : {1, 2, 4}) {
            qn_cuda_norm_v = v;
            CK(cudaMemsetAsync(y1, 0x7F, xb, st));
            CK(cudaMemsetAsync(y2, 0x7F, xb, st));
            CK(cudaMemsetAsync(xs, 0x5A, xpn, st));
            CK(cudaMemsetAsync(xpb, 0xA5, xpn, st));
            run(which, nullptr, v == 1 ? ry1 : y1, v == 1 ? ry2 : y2); /* V = 1: the reference results */
            size_t dy = 0;
            if (v > 1) dy = dev_differ(y2, ry2, xb) + (which ? dev_differ(y1, ry1, xb) : 0);
            qn_cuda_xslab sl = {xs, perm, 0};
            run(which, &sl, y1, y2); /* with the slab: the results again, and the slab */
            const size_t dys = dev_differ(y2, ry2, xb) + (which ? dev_differ(y1, ry1, xb) : 0);
            prep_alone(dt, w, N, K, f32, ry2, M, y1, scr, sn, xpb, xpn, sms, st); /* y is not written */
            size_t db, tbytes, ds;
            slab_differ(xs, xpb, M, K, &db, &tbytes, &ds);
            const float tn = time_us(which, false), ts = time_us(which, true);
            printf("normv %s %s M=%lld K=%lld V=%d: done=%d results differing from V=1 %zu (with slab %zu) bytes, slab "
                   "bytes differing from the prep %zu of %zu, scales %zu (%s); us: norm %.1f, norm+slab %.1f\n",
                   which ? "add_norm" : "rms_norm", name, (long long)M, (long long)K, v, sl.done, dy, dys, db, tbytes, ds,
                   sl.done && !dy && !dys && !db && !ds ? "SAME" : "DIFFERENT", tn, ts);
            fflush(stdout);
        }
    }
    qn_cuda_norm_v = -1;
    cudaFree(r), cudaFree(g), cudaFree(y1), cudaFree(y2), cudaFree(ry1), cudaFree(ry2), cudaFree(xs);
}

/* mmq19 ("gluslab"): see the header. */
static void gluslab(const char *name, int dt, const uint8_t *w, int64_t N, int64_t K, int64_t M, void *scr, size_t sn,
                    void *xpb, size_t xpn, int sms, cudaStream_t st, cudaEvent_t e0, cudaEvent_t e1) {
    const int perm = dt == QN_DT_GGML_Q4_0 ? 1 : 2, f32 = QN_DT_F32;
    const size_t xb = (size_t)(M * K) * 4, yb = (size_t)(M * N) * 4;
    float *g, *u, *h, *h0, *ya, *yb0;
    void *xs;
    CK(cudaMalloc(&g, xb));
    CK(cudaMalloc(&u, xb));
    CK(cudaMalloc(&h, xb));
    CK(cudaMalloc(&h0, xb));
    CK(cudaMalloc(&ya, yb));
    CK(cudaMalloc(&yb0, yb));
    CK(cudaMalloc(&xs, xpn));
    {
        std::vector<float> hv((size_t)(M * K));
        for (auto &v : hv) v = (float)((int32_t)next32()) * (4.0f / 2147483648.0f); /* gate in [-4, 4] */
        CK(cudaMemcpy(g, hv.data(), xb, cudaMemcpyHostToDevice));
        for (auto &v : hv) v = (float)((int32_t)next32()) * (1.0f / 2147483648.0f);
        CK(cudaMemcpy(u, hv.data(), xb, cudaMemcpyHostToDevice));
    }
    for (int form : {1, 2}) { /* qn_cuda_glu_slab_form: 1 the register form, 2 the shared-memory form */
        qn_cuda_glu_slab_form = form;
        CK(cudaMemsetAsync(h, 0x7F, xb, st));
        CK(cudaMemsetAsync(xs, 0x5A, xpn, st));
        CK(cudaMemsetAsync(xpb, 0xA5, xpn, st));
        CK((cudaError_t)qn_cuda_glu(QN_UNARY_SILU, f32, g, u, h0, M * K, st));
        qn_cuda_xslab sl = {xs, perm, 0};
        CK((cudaError_t)qn_cuda_glu_slab(QN_UNARY_SILU, f32, g, u, h, M, K, &sl, st));
        const size_t dh = dev_differ(h, h0, xb);
        prep_alone(dt, w, N, K, f32, h0, M, ya, scr, sn, xpb, xpn, sms, st);
        size_t db, tbytes, ds;
        slab_differ(xs, xpb, M, K, &db, &tbytes, &ds);
        int have = perm; /* the GEMM on the glu's slab, kept: no prep */
        CK((cudaError_t)qn_cuda_ggml_mmq_x(dt, w, N, K, f32, h, M, f32, ya, scr, sn, xs, xpn, &have, sms, st));
        CK((cudaError_t)qn_cuda_ggml_mmq(dt, w, N, K, f32, h0, M, f32, yb0, scr, sn, sms, st));
        CK(cudaStreamSynchronize(st));
        const size_t dy = dev_differ(ya, yb0, yb);
        auto time_us = [&](int what) { /* 0 the glu alone, 1 with its slab, 2 the prep of h alone */
            return 1e3f * graph_calls_ms(st, e0, e1, 10, 3, [&] {
                if (what == 0) {
                    CK((cudaError_t)qn_cuda_glu(QN_UNARY_SILU, f32, g, u, h0, M * K, st));
                } else if (what == 1) {
                    qn_cuda_xslab s2 = {xs, perm, 0};
                    CK((cudaError_t)qn_cuda_glu_slab(QN_UNARY_SILU, f32, g, u, h, M, K, &s2, st));
                } else {
                    int hv = 0;
                    qn_cuda_ggml_mmq_noprep = 2;
                    CK((cudaError_t)qn_cuda_ggml_mmq_x(dt, w, N, K, f32, h0, M, f32, ya, scr, sn, xpb, xpn, &hv, sms, st));
                    qn_cuda_ggml_mmq_noprep = 0;
                }
            });
        };
        const float tg = time_us(0), ts = time_us(1), tp = time_us(2);
        printf("gluslab %s M=%lld N=%lld K=%lld form=%d: done=%d results differing %zu bytes, slab bytes differing %zu "
               "of %zu, scales %zu of %lld, GEMM outputs %zu bytes (%s); us: glu %.1f, glu+slab %.1f, prep %.1f (saved "
               "%.1f a down GEMM)\n",
               name, (long long)M, (long long)N, (long long)K, form, sl.done, dh, db, tbytes, ds, (long long)M, dy,
               sl.done && !dh && !db && !ds && !dy ? "SAME" : "DIFFERENT", tg, ts, tp, tp - (ts - tg));
        fflush(stdout);
    }
    qn_cuda_glu_slab_form = -1;
    cudaFree(g), cudaFree(u), cudaFree(h), cudaFree(h0), cudaFree(ya), cudaFree(yb0), cudaFree(xs);
}

/* mmq22 ("groups", MMQ_BENCH_GROUPS=1024+1024x4096,4096+1024+1024x4096): the GEMMs of one x with several weights of
 * one format and K (k / v, q / k / v, gate / up) on the prep kept in xpb (the GEMMs alone), through
 * qn_cuda_ggml_mmq_multi: "sep" (mode 0: one launch a weight, the default's picks), "grp" (mode 1: the weights of one
 * N as one grid, each one's K split, the tile by the table on the grid: the same bits), "grpall" (mode 2: one grid, the
 * table's pick for all the tiles: k / v not split, other sums), "grptile" (mode 3: as grp with each one's own tile),
 * "grp4" (mode 4: as grp where one weight alone makes less than a wave of blocks, else one by one),
 * then "sep2" / "grp2" (the same again: drift). Rows as the others' with N the weights' sum and
 * "old" the first sep; maxdiff of every y against sep's. */
static void grouprows(FILE *csv, const char *fname, int dt, int64_t M, int64_t K, const std::vector<int64_t> &Ns, int sms,
                      cudaStream_t st, cudaEvent_t e0, cudaEvent_t e1) {
    const int n = (int)Ns.size();
    const int be = QN_GGML_BLOCK_ELEMS(dt), bb = QN_GGML_BLOCK_BYTES(dt);
    const size_t rb = (size_t)(K / be) * bb;
    int64_t Nt = 0;
    char members[64] = "";
    for (int i = 0; i < n; i++) {
        Nt += Ns[i];
        snprintf(members + strlen(members), sizeof members - strlen(members), "%s%lld", i ? "+" : "", (long long)Ns[i]);
    }
    std::vector<const void *> w(n);
    std::vector<void *> ys(n), yg(n);
    for (int i = 0; i < n; i++) {
        const size_t wbytes = rb * (size_t)Ns[i];
        std::vector<uint8_t> hw(wbytes);
        for (size_t b = 0; b < wbytes; b++) hw[b] = (uint8_t)next32();
        for (size_t b = 0; b < wbytes / bb; b++)
            for (int o : scale_offsets(dt)) hw[b * bb + o] = 0x00, hw[b * bb + o + 1] = 0x20;
        void *d;
        CK(cudaMalloc(&d, wbytes));
        CK(cudaMemcpy(d, hw.data(), wbytes, cudaMemcpyHostToDevice));
        w[i] = d;
        CK(cudaMalloc(&ys[i], (size_t)(M * Ns[i]) * 4));
        CK(cudaMalloc(&yg[i], (size_t)(M * Ns[i]) * 4));
    }
    std::vector<float> hx((size_t)(M * K));
    for (auto &v : hx) v = (float)((int)(next32() % 2001) - 1000) / 1000.0f;
    float *x;
    CK(cudaMalloc(&x, hx.size() * 4));
    CK(cudaMemcpy(x, hx.data(), hx.size() * 4, cudaMemcpyHostToDevice));
    const size_t sn = qn_cuda_ggml_mmq_multi_scratch(n, Ns.data(), M, K), xpn = qn_cuda_ggml_mmq_xprep_bytes(M, K);
    void *scr, *xpb;
    CK(cudaMalloc(&scr, sn));
    CK(cudaMalloc(&xpb, xpn));
    qn_cuda_ggml_mmq_kernel = 17, qn_cuda_ggml_mmq_tile = 0;
    int kept = 0; /* the first call preps into xpb; every timed call finds it there (the GEMMs alone) */
    CK((cudaError_t)qn_cuda_ggml_mmq_multi(0, dt, n, w.data(), Ns.data(), K, QN_DT_F32, x, M, QN_DT_F32, ys.data(), scr,
                                           sn, xpb, xpn, &kept, sms, st));
    auto call = [&](int mode, std::vector<void *> &y) {
        int hv = kept;
        CK((cudaError_t)qn_cuda_ggml_mmq_multi(mode, dt, n, w.data(), Ns.data(), K, QN_DT_F32, x, M, QN_DT_F32, y.data(),
                                               scr, sn, xpb, xpn, &hv, sms, st));
    };
    auto time_ms = [&](int mode, std::vector<void *> &y) {
        for (int i = 0; i < n; i++) CK(cudaMemsetAsync(y[i], 0xFF, (size_t)(M * Ns[i]) * 4, st)); /* NaN-poisoned */
        call(mode, y);
        return graph_calls_ms(st, e0, e1, 10, 3, [&] { call(mode, y); });
    };
    auto maxdiff = [&](std::vector<void *> &y) { /* max |y - ys| / max |ys| over every weight's outputs */
        double md = 0, mo = 0;
        for (int i = 0; i < n; i++) {
            std::vector<float> a((size_t)(M * Ns[i])), b(a.size());
            CK(cudaMemcpy(a.data(), y[i], a.size() * 4, cudaMemcpyDeviceToHost));
            CK(cudaMemcpy(b.data(), ys[i], b.size() * 4, cudaMemcpyDeviceToHost));
            for (size_t j = 0; j < a.size(); j++) {
                const double d = std::fabs((double)a[j] - b[j]);
                md = d > md || d != d ? d : md;
                mo = std::fabs(b[j]) > mo ? std::fabs(b[j]) : mo;
            }
        }
        return mo > 0 ? md / mo : md;
    };
    const double fl = 2.0 * M * Nt * K;
    const float sep_ms = time_ms(0, ys);
    auto row = [&](const char *label, float ms, std::vector<void *> &y) {
        char name[96];
        snprintf(name, sizeof name, "%s[%s]", label, members);
        const double md = maxdiff(y);
        printf("%-5s %4lld %6lld %6lld %10.1f %8.1f %10.1f %8.1f %8.2f %10.2e %s\n", fname, (long long)M, (long long)Nt,
               (long long)K, ms * 1e3, fl / (ms * 1e-3) / 1e12, sep_ms * 1e3, fl / (sep_ms * 1e-3) / 1e12, sep_ms / ms,
               md, name);
        if (csv)
            fprintf(csv, "%s,%lld,%lld,%lld,%.2f,%.2f,%.2f,%.2f,%.3f,%.3e,%s,17,17,f32\n", fname, (long long)M,
                    (long long)Nt, (long long)K, ms * 1e3, fl / (ms * 1e-3) / 1e12, sep_ms * 1e3,
                    fl / (sep_ms * 1e-3) / 1e12, sep_ms / ms, md, name);
        if (csv) fflush(csv);
        fflush(stdout);
    };
    row("sep", sep_ms, ys);
    row("grp", time_ms(1, yg), yg);
    row("grpall", time_ms(2, yg), yg);
    row("grptile", time_ms(3, yg), yg);
    row("grp4", time_ms(4, yg), yg); /* mode 4: as grp where one weight alone is under a wave, else as sep */
    row("sep2", time_ms(0, yg), yg);
    row("grp2", time_ms(1, yg), yg);
    for (int i = 0; i < n; i++) cudaFree((void *)w[i]), cudaFree(ys[i]), cudaFree(yg[i]);
    cudaFree(x), cudaFree(scr), cudaFree(xpb);
}

int main(int argc, char **argv) {
    FILE *csv = argc > 1 ? fopen(argv[1], "w") : nullptr;
    cudaStream_t st;
    CK(cudaStreamCreate(&st));
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    int dev = 0, sms = 0;
    CK(cudaGetDevice(&dev));
    CK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
    const int knew = getenv("MMQ_BENCH_NEW") ? atoi(getenv("MMQ_BENCH_NEW")) : 6;
    const int kold = getenv("MMQ_BENCH_OLD") ? atoi(getenv("MMQ_BENCH_OLD")) : 5;
    const bool xy16 = getenv("MMQ_BENCH_XY") && !strcmp(getenv("MMQ_BENCH_XY"), "bf16");
    const int xd = xy16 ? QN_DT_BF16 : QN_DT_F32, yd = xd;
    const char *extra = getenv("MMQ_BENCH_EXTRA");
    if (csv) fprintf(csv, "format,M,N,K,new_us,new_tflops,old_us,old_tflops,speedup,maxdiff_rel,new_tile,new,old,xy\n");
    printf("new = kernel %d, old = kernel %d\n", knew, kold);
    printf("%-5s %4s %6s %6s %10s %8s %10s %8s %8s %10s %s\n", "fmt", "M", "N", "K", "new us", "TFLOP/s", "old us",
           "TFLOP/s", "speedup", "maxdiff", "new tile");

    struct fmt { const char *name; int dt; } fmts[] = {{"q4_0", QN_DT_GGML_Q4_0}, {"q8_0", QN_DT_GGML_Q8_0},
                                                        {"q4_k", QN_DT_GGML_Q4_K}, {"q6_k", QN_DT_GGML_Q6_K}};
    std::vector<std::vector<int64_t>> shapes = {{4096, 4096}, {1024, 4096}, {14336, 4096}, {4096, 14336}}; /* N, K */
    std::vector<int64_t> Ms = {512, 256, 64, 16};
    const char *only = getenv("MMQ_BENCH_FORMATS"), *only_m = getenv("MMQ_BENCH_M"); /* "q4_0,q8_0", "512" */
    if (only_m) { /* a list of batch sizes */
        Ms.clear();
        for (const char *c = only_m; *c;) {
            Ms.push_back(atoll(c));
            while (*c && *c != ',') c++;
            if (*c == ',') c++;
        }
    }
    if (const char *sh = getenv("MMQ_BENCH_SHAPES")) { /* "NxK,NxK" */
        shapes.clear();
        for (const char *c = sh; *c;) {
            const int64_t n = atoll(c);
            while (*c && *c != 'x') c++;
            if (!*c) break;
            shapes.push_back({n, atoll(++c)});
            while (*c && *c != ',') c++;
            if (*c == ',') c++;
        }
    }
    if (const char *gs = getenv("MMQ_BENCH_GROUPS")) { /* mmq22: "N+N+NxK,..." (grouprows), before the other rows */
        for (const fmt &f : fmts) {
            if ((only && !strstr(only, f.name)) || (f.dt != QN_DT_GGML_Q4_0 && f.dt != QN_DT_GGML_Q8_0)) continue;
            for (const char *c = gs; *c;) {
                std::vector<int64_t> Ns;
                for (;;) {
                    Ns.push_back(atoll(c));
                    while (*c >= '0' && *c <= '9') c++;
                    if (*c != '+') break;
                    c++;
                }
                const int64_t K = *c == 'x' ? atoll(c + 1) : 0;
                while (*c && *c != ',') c++;
                if (*c == ',') c++;
                if (K <= 0 || Ns.size() > 3) continue;
                for (int64_t M : Ms) grouprows(csv, f.name, f.dt, M, K, Ns, sms, st, e0, e1);
            }
        }
        if (getenv("MMQ_BENCH_GROUPS_ONLY")) {
            if (csv) fclose(csv);
            return 0;
        }
    }
    for (const fmt &f : fmts) {
        if (only && !strstr(only, f.name)) continue;
        for (const auto &sh : shapes) {
            const int64_t N = sh[0], K = sh[1];
            const int be = QN_GGML_BLOCK_ELEMS(f.dt), bb = QN_GGML_BLOCK_BYTES(f.dt);
            const size_t rb = (size_t)(K / be) * bb, wbytes = rb * (size_t)N;
            std::vector<uint8_t> hw(wbytes);
            for (size_t i = 0; i < wbytes; i++) hw[i] = (uint8_t)next32();
            for (size_t b = 0; b < wbytes / bb; b++)
                for (int o : scale_offsets(f.dt)) hw[b * bb + o] = 0x00, hw[b * bb + o + 1] = 0x20;
            uint8_t *w;
            CK(cudaMalloc(&w, wbytes));
            CK(cudaMemcpy(w, hw.data(), wbytes, cudaMemcpyHostToDevice));
            void *wt = nullptr; /* mmq24: the tile-linear copy, where a gemmtl row asks for it and the format has one */
            if ((in_list(extra, "gemmtl") || in_list(extra, "gemmtl0")) && qn_cuda_ggml_tlin_bytes(f.dt, N, K)) {
                CK(cudaMalloc(&wt, qn_cuda_ggml_tlin_bytes(f.dt, N, K)));
                CK((cudaError_t)qn_cuda_ggml_tlin_pack(f.dt, w, N, K, wt, st));
                CK(cudaStreamSynchronize(st));
            }
            for (int64_t M : Ms) {
                std::vector<float> hx((size_t)(M * K));
                for (auto &v : hx) v = (float)((int)(next32() % 2001) - 1000) / 1000.0f;
                float *x, *yn, *yo;
                CK(cudaMalloc(&x, hx.size() * sizeof(float)));
                CK(cudaMalloc(&yn, (size_t)(M * N) * sizeof(float)));
                CK(cudaMalloc(&yo, (size_t)(M * N) * sizeof(float)));
                if (xy16) { /* bf16 x: the f32 values rounded to nearest even, in place */
                    std::vector<uint16_t> hb(hx.size());
                    for (size_t i = 0; i < hx.size(); i++) {
                        uint32_t u;
                        memcpy(&u, &hx[i], 4);
                        hb[i] = (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
                    }
                    CK(cudaMemcpy(x, hb.data(), hb.size() * 2, cudaMemcpyHostToDevice));
                } else {
                    CK(cudaMemcpy(x, hx.data(), hx.size() * sizeof(float), cudaMemcpyHostToDevice));
                }
                qn_cuda_ggml_mmq_kernel = knew; /* the scratch of the new kernel (=14's holds the f16 weight too) */
                const size_t sn = qn_cuda_ggml_mmq_scratch(M, N, K);
                void *scr, *xpb;
                CK(cudaMalloc(&scr, sn));
                const size_t xpn = qn_cuda_ggml_mmq_xprep_bytes(M, K);
                CK(cudaMalloc(&xpb, xpn));
                int xmode = 0, xhave = 0; /* 1: the prep into xpb every call ("x256"); 2: the one kept there ("xkept") */
                const void *wt_cur = nullptr; /* mmq24: the weight's tile-linear copy passed to the GEMM ("gemmtl") */
                auto run = [&](int kernel, int tile, float *y) {
                    qn_cuda_ggml_mmq_kernel = kernel, qn_cuda_ggml_mmq_tile = tile;
                    if (xmode) {
                        if (xmode == 1) xhave = 0;
                        CK((cudaError_t)qn_cuda_ggml_mmq_xt(f.dt, w, N, K, xd, x, M, yd, y, scr, sn, xpb, xpn, &xhave,
                                                           sms, st, wt_cur));
                    } else {
                        CK((cudaError_t)qn_cuda_ggml_mmq_xt(f.dt, w, N, K, xd, x, M, yd, y, scr, sn, nullptr, 0, nullptr,
                                                           sms, st, wt_cur));
                    }
                };
                auto time_ms = [&](int kernel, int tile, float *y) { /* per call */
                    /* NaN-poisoned first: an output the kernel leaves unwritten shows in maxdiff */
                    CK(cudaMemsetAsync(y, 0xFF, (size_t)(M * N) * sizeof(float), st));
                    run(kernel, tile, y); /* the first call outside the capture (kernel attributes) */
                    return graph_calls_ms(st, e0, e1, 10, 3, [&] { run(kernel, tile, y); });
                };
                std::vector<float> hn((size_t)(M * N)), ho((size_t)(M * N));
                auto maxdiff = [&]() { /* |yn - yo| / max |yo| */
                    CK(cudaMemcpyAsync(hn.data(), yn, hn.size() * 4, cudaMemcpyDeviceToHost, st));
                    CK(cudaMemcpyAsync(ho.data(), yo, ho.size() * 4, cudaMemcpyDeviceToHost, st));
                    CK(cudaStreamSynchronize(st));
                    if (xy16) /* bf16 outputs: the first half of each buffer, widened from the back */
                        for (size_t i = hn.size(); i-- > 0;) {
                            const uint16_t *bn = (const uint16_t *)hn.data(), *bo = (const uint16_t *)ho.data();
                            const uint32_t un = (uint32_t)bn[i] << 16, uo = (uint32_t)bo[i] << 16;
                            memcpy(&hn[i], &un, 4), memcpy(&ho[i], &uo, 4);
                        }
                    double md = 0, mo = 0;
                    for (size_t i = 0; i < hn.size(); i++) {
                        const double d = std::fabs((double)hn[i] - ho[i]);
                        md = d > md || d != d ? d : md; /* NaN propagates */
                        mo = std::fabs(ho[i]) > mo ? std::fabs(ho[i]) : mo;
                    }
                    return mo > 0 ? md / mo : md;
                };
                const double fl = 2.0 * M * N * K;
                const float old_ms = time_ms(kold, 0, yo);
                auto row = [&](const char *label, float ms) {
                    const double md = maxdiff();
                    printf("%-5s %4lld %6lld %6lld %10.1f %8.1f %10.1f %8.1f %8.2f %10.2e %s%s\n", f.name, (long long)M,
                           (long long)N, (long long)K, ms * 1e3, fl / (ms * 1e-3) / 1e12, old_ms * 1e3,
                           fl / (old_ms * 1e-3) / 1e12, old_ms / ms, md, label, xy16 ? " (bf16 x, y)" : "");
                    if (csv)
                        fprintf(csv, "%s,%lld,%lld,%lld,%.2f,%.2f,%.2f,%.2f,%.3f,%.3e,%s,%d,%d,%s\n", f.name, (long long)M,
                                (long long)N, (long long)K, ms * 1e3, fl / (ms * 1e-3) / 1e12, old_ms * 1e3,
                                fl / (old_ms * 1e-3) / 1e12, old_ms / ms, md, label, knew, kold, xy16 ? "bf16" : "f32");
                    if (csv) fflush(csv); /* a run cut short by its timeout keeps its rows */
                    fflush(stdout);
                };
                row("auto", time_ms(knew, 0, yn));
                if (in_list(extra, "prep1")) { /* the one-pass prep (QUANTA_CUDA_GGML_PREP1), auto otherwise */
                    const int was = qn_cuda_ggml_mmq_prep1;
                    qn_cuda_ggml_mmq_prep1 = 1;
                    row("prep1", time_ms(knew, 0, yn));
                    qn_cuda_ggml_mmq_prep1 = was;
                }
                for (int xm = 1; xm <= 2; xm++) { /* the prep kept for the next GEMM on the same x (256-token tiles) */
                    if (!in_list(extra, xm == 1 ? "x256" : "xkept")) continue;
                    xmode = xm;
                    row(xm == 1 ? "x256" : "xkept", time_ms(knew, 0, yn));
                    xmode = 0;
                }
                if (in_list(extra, "xkeptcl")) { /* mmq21: as xkept, with QUANTA_CUDA_GGML_SPLITCL=1 */
                    const int was = qn_cuda_ggml_mmq_splitcl;
                    qn_cuda_ggml_mmq_splitcl = 1, xmode = 2;
                    row("xkeptcl", time_ms(knew, 0, yn));
                    qn_cuda_ggml_mmq_splitcl = was, xmode = 0;
                }
                if (in_list(extra, "xkept128")) { /* mmq20: as xkept, with QUANTA_CUDA_GGML_SPLIT128=1 */
                    const int was = qn_cuda_ggml_mmq_split128;
                    qn_cuda_ggml_mmq_split128 = 1, xmode = 2;
                    row("xkept128", time_ms(knew, 0, yn));
                    qn_cuda_ggml_mmq_split128 = was, xmode = 0;
                }
                /* the norms' rows only where the register kernel (and so the slab) applies: K <= 4096 */
                if (in_list(extra, "normslab") && (f.dt == QN_DT_GGML_Q4_0 || f.dt == QN_DT_GGML_Q8_0) && knew == 17 &&
                    K <= 4096) {
                    normslab(f.name, f.dt, w, N, K, xd, x, M, scr, sn, xpb, xpn, sms, st, e0, e1);
                    if (xd == QN_DT_F32) normv(f.name, f.dt, w, N, K, (const float *)x, M, scr, sn, xpb, xpn, sms, st, e0, e1);
                }
                if (in_list(extra, "gluslab") && (f.dt == QN_DT_GGML_Q4_0 || f.dt == QN_DT_GGML_Q8_0) && knew == 17 &&
                    K > 4096 && K % 256 == 0) /* the FFN's width (down's K) */
                    gluslab(f.name, f.dt, w, N, K, M, scr, sn, xpb, xpn, sms, st, e0, e1);
                if (in_list(extra, "gemm")) { /* the prep of the auto row's calls stays in the scratch */
                    qn_cuda_ggml_mmq_noprep = 1;
                    row("gemm", time_ms(knew, 0, yn));
                    qn_cuda_ggml_mmq_noprep = 0;
                }
                for (int ev = 0; ev <= 7; ev++) { /* mmq20: the GEMM alone with QUANTA_CUDA_GGML_EPI=ev (0: the old) */
                    char name[12];
                    snprintf(name, sizeof name, "gemmepi%d", ev);
                    if (!in_list(extra, name)) continue;
                    const int was = qn_cuda_ggml_mmq_epi;
                    qn_cuda_ggml_mmq_epi = ev, qn_cuda_ggml_mmq_noprep = 1;
                    row(name, time_ms(knew, 0, yn));
                    qn_cuda_ggml_mmq_epi = was, qn_cuda_ggml_mmq_noprep = 0;
                }
                for (int cl = 0; cl <= 3; cl++) { /* mmq21: the GEMM alone with QUANTA_CUDA_GGML_SPLITCL=0 .. 3 */
                    const char *name = cl == 0 ? "gemmcl0" : cl == 1 ? "gemmcl" : cl == 2 ? "gemmcl2" : "gemmcl3";
                    if (!in_list(extra, name)) continue;
                    const int was = qn_cuda_ggml_mmq_splitcl;
                    qn_cuda_ggml_mmq_splitcl = cl, qn_cuda_ggml_mmq_noprep = 1;
                    row(name, time_ms(knew, 0, yn));
                    qn_cuda_ggml_mmq_splitcl = was, qn_cuda_ggml_mmq_noprep = 0;
                }
                for (int pv = 0; pv <= 4; pv++) { /* mmq21: the GEMM alone with QUANTA_CUDA_GGML_PLOOP=0 .. 4 */
                    char name[12];
                    snprintf(name, sizeof name, "gemmpl%d", pv);
                    if (!in_list(extra, name)) continue;
                    const int wpl = qn_cuda_ggml_mmq_ploop;
                    qn_cuda_ggml_mmq_ploop = pv, qn_cuda_ggml_mmq_noprep = 1;
                    row(name, time_ms(knew, 0, yn));
                    qn_cuda_ggml_mmq_ploop = wpl, qn_cuda_ggml_mmq_noprep = 0;
                }
                for (int ev : {-1, 7}) { /* mmq21: the GEMM alone with QUANTA_CUDA_GGML_PLOOP=1 (the default's EPI, or 7) */
                    const char *name = ev < 0 ? "gemmpl" : "gemmepi7pl";
                    if (!in_list(extra, name)) continue;
                    const int was = qn_cuda_ggml_mmq_epi, wpl = qn_cuda_ggml_mmq_ploop;
                    if (ev >= 0) qn_cuda_ggml_mmq_epi = ev;
                    qn_cuda_ggml_mmq_ploop = 1, qn_cuda_ggml_mmq_noprep = 1;
                    row(name, time_ms(knew, 0, yn));
                    qn_cuda_ggml_mmq_epi = was, qn_cuda_ggml_mmq_ploop = wpl, qn_cuda_ggml_mmq_noprep = 0;
                }
                for (int px = 0; px <= 2; px++) { /* mmq23: the GEMM alone with QUANTA_CUDA_GGML_PAIRX=0 / 1 / 2 */
                    const char *name = px == 2 ? "gemmpx2" : px ? "gemmpx" : "gemmpx0";
                    if (!in_list(extra, name)) continue;
                    const int was = qn_cuda_ggml_mmq_pairx;
                    qn_cuda_ggml_mmq_pairx = px, qn_cuda_ggml_mmq_noprep = 1;
                    row(name, time_ms(knew, 0, yn));
                    qn_cuda_ggml_mmq_pairx = was, qn_cuda_ggml_mmq_noprep = 0;
                }
                for (int tv = 0; tv <= 1; tv++) { /* mmq24: the GEMM alone with QUANTA_CUDA_GGML_TLIN=1 and the copy */
                    const char *name = tv ? "gemmtl" : "gemmtl0"; /* gemmtl0: the copy passed, TLIN=0 (the default) */
                    if (!in_list(extra, name) || !wt) continue;
                    const int was = qn_cuda_ggml_mmq_tlin;
                    qn_cuda_ggml_mmq_tlin = tv, qn_cuda_ggml_mmq_noprep = 1, wt_cur = wt;
                    row(name, time_ms(knew, 0, yn));
                    qn_cuda_ggml_mmq_tlin = was, qn_cuda_ggml_mmq_noprep = 0, wt_cur = nullptr;
                }
                /* mmq24: "trace" / "tracetl" (TLIN=1, the copy) / "trace128" (the 128-token tile unsplit whatever the
                 * table picks): one launch of the default's form (the kept prep, xkept) with the per-block trace
                 * (cuda_kernels.h, QN_CUDA_GGML_MMQ_TRACE) after 3 of the same, summarized in one line */
                for (int tv = 0; tv < 3; tv++) {
                    const char *name = tv == 0 ? "trace" : tv == 1 ? "tracetl" : "trace128";
                    if (!in_list(extra, name) || (tv == 1 && !wt)) continue;
                    const size_t nrec = (size_t)((N + 127) / 128) * (size_t)((M + 63) / 64) * 4;
                    unsigned long long *dt;
                    CK(cudaMalloc(&dt, nrec * QN_CUDA_GGML_MMQ_TRACE * 8));
                    CK(cudaMemset(dt, 0, nrec * QN_CUDA_GGML_MMQ_TRACE * 8));
                    const int wtl = qn_cuda_ggml_mmq_tlin;
                    qn_cuda_ggml_mmq_tlin = tv == 1 ? 1 : 0, wt_cur = tv == 1 ? wt : nullptr, xmode = 2;
                    qn_cuda_ggml_mmq_trace128 = tv == 2, qn_cuda_ggml_mmq_trace = dt; /* the same instance warmed up */
                    for (int r = 0; r < 3; r++) run(knew, 0, yn);
                    CK(cudaMemsetAsync(dt, 0, nrec * QN_CUDA_GGML_MMQ_TRACE * 8, st));
                    CK(cudaEventRecord(e0, st));
                    run(knew, 0, yn);
                    CK(cudaEventRecord(e1, st));
                    CK(cudaEventSynchronize(e1));
                    qn_cuda_ggml_mmq_trace = nullptr, qn_cuda_ggml_mmq_trace128 = 0;
                    qn_cuda_ggml_mmq_tlin = wtl, wt_cur = nullptr, xmode = 0;
                    float ms = 0;
                    CK(cudaEventElapsedTime(&ms, e0, e1));
                    std::vector<unsigned long long> h(nrec * QN_CUDA_GGML_MMQ_TRACE);
                    CK(cudaMemcpy(h.data(), dt, h.size() * 8, cudaMemcpyDeviceToHost));
                    cudaFree(dt);
                    unsigned long long t0 = ~0ull, t0max = 0, t3min = ~0ull, t3 = 0;
                    double first = 0, steps = 0, csteps = 0, epi = 0, nst = 0, ctot = 0;
                    std::vector<double> ks, kc; /* per block: K loop us, clocks per step */
                    int64_t rec = 0;
                    for (size_t i = 0; i < nrec; i++) {
                        const unsigned long long *r = &h[i * QN_CUDA_GGML_MMQ_TRACE];
                        if (!r[1] || !r[4]) continue; /* not a block of this grid */
                        rec++;
                        t0 = std::min(t0, r[1]), t0max = std::max(t0max, r[1]);
                        t3 = std::max(t3, r[4]), t3min = std::min(t3min, r[4]);
                        first += (double)(r[2] - r[1]), steps += (double)(r[3] - r[2]), epi += (double)(r[4] - r[3]);
                        const double bst = (double)(r[0] >> 32) > 0 ? (double)(r[0] >> 32) : 1.0; /* its steps */
                        csteps += (double)(r[7] - r[6]) / bst, nst += bst, ctot += (double)(r[7] - r[6]);
                        ks.push_back((double)(r[3] - r[2]) * 1e-3), kc.push_back((double)(r[7] - r[6]) / bst);
                    }
                    std::sort(ks.begin(), ks.end()), std::sort(kc.begin(), kc.end());
                    const double n = rec > 0 ? (double)rec : 1.0;
                    printf("%-5s %4lld %6lld %6lld %s: %lld blocks; launch %.1f us, span %.1f us; entries within %.2f us, ends "
                           "within %.2f us; per block: first %.2f us, K loop %.1f us of %.0f steps (min %.1f, median %.1f, "
                           "max %.1f; %.0f clocks a step, median %.0f, max %.0f; %.2f GHz), epi %.2f us\n",
                           f.name, (long long)M, (long long)N, (long long)K, name, (long long)rec, ms * 1e3,
                           rec ? (double)(t3 - t0) * 1e-3 : 0.0, rec ? (double)(t0max - t0) * 1e-3 : 0.0,
                           rec ? (double)(t3 - t3min) * 1e-3 : 0.0, first / n * 1e-3, steps / n * 1e-3, nst / n,
                           rec ? ks.front() : 0.0, rec ? ks[ks.size() / 2] : 0.0, rec ? ks.back() : 0.0, csteps / n,
                           rec ? kc[kc.size() / 2] : 0.0, rec ? kc.back() : 0.0,
                           steps > 0 ? ctot / steps : 0.0, epi / n * 1e-3);
                    fflush(stdout);
                }
                if (in_list(extra, "gemm2")) { /* the default GEMM alone again: drift between the rows above */
                    qn_cuda_ggml_mmq_noprep = 1;
                    row("gemm2", time_ms(knew, 0, yn));
                    qn_cuda_ggml_mmq_noprep = 0;
                }
                for (int p1 = 0; p1 < 2; p1++) { /* the prep alone ("prep" / "prep1only": y unwritten, maxdiff NaN) */
                    if (!in_list(extra, p1 ? "prep1only" : "prep")) continue;
                    const int was = qn_cuda_ggml_mmq_prep1;
                    qn_cuda_ggml_mmq_prep1 = p1 ? 1 : was, qn_cuda_ggml_mmq_noprep = 2;
                    row(p1 ? "prep1only" : "prep", time_ms(knew, 0, yn));
                    qn_cuda_ggml_mmq_prep1 = was, qn_cuda_ggml_mmq_noprep = 0;
                }
                if (in_list(extra, "pdl")) { /* PDL the other way round from the auto row (QUANTA_CUDA_GGML_PDL) */
                    const int was = qn_cuda_ggml_mmq_pdl;
                    qn_cuda_ggml_mmq_pdl = was == 1 ? 0 : 1;
                    row(was == 1 ? "nopdl" : "pdl", time_ms(knew, 0, yn));
                    qn_cuda_ggml_mmq_pdl = was;
                }
                for (int mu : {1, 4}) { /* the prep's max pass with one / four loads in flight ("mu1", "mu4") */
                    char name[8];
                    snprintf(name, sizeof name, "mu%d", mu);
                    if (!in_list(extra, name)) continue;
                    const int was = qn_cuda_ggml_mmq_prep_mu;
                    qn_cuda_ggml_mmq_prep_mu = mu;
                    row(name, time_ms(knew, 0, yn));
                    qn_cuda_ggml_mmq_prep_mu = was;
                }
                /* every tile of the new kernel on the big shapes at M = 512 and 256 (MMQ_BENCH_TILES=0: none) */
                const char *tiles = getenv("MMQ_BENCH_TILES");
                static const char *const names[] = {"128x128",   "128x64",    "64x32",    "128x128w4", "256x128",
                                                    "128x128b2", "wg128x128", "wg64x128", "wg128x64",  "wg64x64",
                                                    "wg256x128", "wg256x64",  "ws128x128", "ws128x64",
                                                    "ws128x256", "rs128x128", "rs128x64", "rs128x128c2", "rs128x64c2",
                                                    "rs128x256", "rs128x256c2", "rs128x128g2", "rssplit",
                                                    "rsi128x128", "rsi128x64", "rsi128x128g2", "rsidiag0", "rsidiag1",
                                                    "rsisplit", "rsi2c128x64", "rsi128x256", "rsi128x256g2",
                                                    "rsi128x256a2", "rsidiag256", "rsiss", "rsisplit128", "rsinocopy", "rsi256x128", "rsi256x64",
                                                    "rsic128", "rsic64", "rsic256", "rsinocopy128", "rsidiag128"};
                const int t0 = knew >= 17 ? 24 : knew >= 16 ? 16 : knew >= 13 ? 13 : knew >= 7 ? 7 : 1,
                          t1 = knew >= 17 ? 44 : knew >= 16 ? 23 : knew >= 13 ? 15 : knew >= 7 ? 12 : 6;
                const bool listed = tiles && strcmp(tiles, "0") && strcmp(tiles, "1"); /* a list: on every shape */
                /* mmq20: MMQ_BENCH_TILE_KEPT=1 times the forced tiles on the prep kept in 256-token tiles ("xkept": the
                 * GEMM alone, whatever the tile's tokens), to compare with the gemm rows */
                const bool tkept = getenv("MMQ_BENCH_TILE_KEPT") && !strcmp(getenv("MMQ_BENCH_TILE_KEPT"), "1");
                if ((listed || (M >= 256 && K * N >= 4096 * 4096)) && !(tiles && !strcmp(tiles, "0")))
                    for (int t = t0; t <= t1; t++) /* MMQ_BENCH_TILES=name,name: only those */
                        if (!tiles || !strcmp(tiles, "1") || in_list(tiles, names[t - 1])) {
                            xmode = tkept ? 2 : 0;
                            row(names[t - 1], time_ms(knew, t, yn));
                            xmode = 0;
                        }
                cudaFree(x), cudaFree(yn), cudaFree(yo), cudaFree(scr), cudaFree(xpb);
            }
            cudaFree(w);
            if (wt) cudaFree(wt);
        }
    }
    if (csv) fclose(csv);
    return 0;
}
