/*
 * test_cuda_slab.c — mmq19's two switches at the kernel level, each against what it must equal bit for bit:
 *   - the norms in blocks of 1024 / V threads (qn_cuda_norm_v = 2, 4; QUANTA_CUDA_NORM_V) against V = 1: rms_norm
 *     (weight, residual added after), add_rms_norm, add_norm and rms_norm_add_norm at rows past 64 and D of 1024-thread
 *     blocks (1024, 2048, 3000, 4096): every result byte the same, and with a slab (D a multiple of 256) every slab
 *     byte and row scale the same;
 *   - the glu writing down's kept slab (qn_cuda_glu_slab, both forms: qn_cuda_glu_slab_form 1 and 2) against
 *     qn_cuda_glu: the result bytes the same, the two forms' slabs the same; on compute capability 9.0 (where the
 *     ggml GEMM keeps a 256-token prep: kernel =17) each slab, the norms' and the glu's, the same bytes as the GEMM's
 *     own prep of the result (qn_cuda_ggml_mmq_noprep = 2).
 *   - mmq22: the grouped GEMMs of one x (qn_cuda_ggml_mmq_multi, QUANTA_CUDA_GGML_GROUP's modes) against one launch a
 *     weight: modes 1, 3 and 4 bit for bit, mode 2 within the sums' rounding (group_same).
 *   - mmq23: the GEMM with QUANTA_CUDA_GGML_PAIRX=1 / 2 (the 128- / and 256-token picks as cluster pairs multicasting
 *     the activation steps) against =0 bit for bit (pairx_same; case "pairx", CK_RUN_CASE=pairx runs it alone).
 *   - mmq24: the GEMM with QUANTA_CUDA_GGML_TLIN=1 and the weight's tile-linear copy (each A slot one linear bulk copy),
 *     with QUANTA_CUDA_GGML_STS=1 (the staged epilogue), and both, against the default bit for bit, and the copy's bytes
 *     against the weight's (tlin_same; case "tlin").
 * Inputs random (printed seed), outputs poisoned before each run. Exits 77 (skip) without a CUDA device.
 */
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_kernels.h"
#include "test_util.h"

#define CU(call) ck_assert_msg((call) == cudaSuccess, "%s: %s", #call, cudaGetErrorString(cudaGetLastError()))

static int sm90; /* compute capability 9.0: the =17 route and its 256-token prep */

static void *dev_random(qt_rng *r, size_t n, float lo, float hi) {
    float *h = malloc(n * sizeof *h), *d = NULL;
    ck_assert_ptr_nonnull(h);
    for (size_t i = 0; i < n; i++) h[i] = qt_uniform(r, lo, hi);
    CU(cudaMalloc((void **)&d, n * sizeof *d));
    CU(cudaMemcpy(d, h, n * sizeof *d, cudaMemcpyHostToDevice));
    free(h);
    return d;
}

static void *dev_alloc(size_t bytes) {
    void *d = NULL;
    CU(cudaMalloc(&d, bytes ? bytes : 1));
    return d;
}

/* nblk ggml blocks of bb bytes on the device: random codes, each block's f16 scale 2^-7 (so sums stay finite) */
static void *dev_random_blocks(qt_rng *rng, size_t nblk, int bb) {
    const size_t wb = nblk * (size_t)bb;
    unsigned char *h = malloc(wb);
    ck_assert_ptr_nonnull(h);
    for (size_t b = 0; b < wb; b++) h[b] = (unsigned char)(qt_next(rng) >> 56);
    for (size_t b = 0; b < nblk; b++) h[b * bb] = 0x00, h[b * bb + 1] = 0x20; /* f16 2^-7 */
    void *d = dev_alloc(wb);
    CU(cudaMemcpy(d, h, wb, cudaMemcpyHostToDevice));
    free(h);
    return d;
}

/* The number of bytes that differ between two device buffers. */
static size_t dev_differ(const void *a, const void *b, size_t n) {
    unsigned char *ha = malloc(n ? n : 1), *hb = malloc(n ? n : 1);
    ck_assert(ha && hb);
    CU(cudaMemcpy(ha, a, n, cudaMemcpyDeviceToHost));
    CU(cudaMemcpy(hb, b, n, cudaMemcpyDeviceToHost));
    size_t d = 0;
    for (size_t i = 0; i < n; i++) d += ha[i] != hb[i];
    free(ha), free(hb);
    return d;
}

/* The NaNs among a device buffer's floats: an output poisoned with 0xFF bytes and left unwritten reads NaN. */
static size_t dev_nans(const void *d, size_t bytes) {
    float *t = malloc(bytes ? bytes : 1);
    ck_assert_ptr_nonnull(t);
    CU(cudaMemcpy(t, d, bytes, cudaMemcpyDeviceToHost));
    size_t nan = 0;
    for (size_t j = 0; j < bytes / sizeof *t; j++) nan += t[j] != t[j];
    free(t);
    return nan;
}

/* The slab's tiles and its rows' scales: bytes of each. */
static void slab_parts(void *buf, int64_t M, int64_t K, size_t *tiles, size_t *scales) {
    void *xt = NULL;
    float *xs = NULL;
    qn_cuda_ggml_mmq_xprep_split(buf, M, K, &xt, &xs);
    *tiles = (size_t)((unsigned char *)xs - (unsigned char *)xt);
    *scales = (size_t)M * 4;
}

/* The =17 GEMM's own prep of x (M x K f32) into pb, in K order perm (1: the Q4_0 weight here, 2: Q8_0); 0 where the
 * device or shape has no such prep (then nothing is compared). */
static int gemm_prep(const float *x, int64_t M, int64_t K, int perm, void *pb, size_t pbytes) {
    if (!sm90) return 0;
    const int wdt = perm == 1 ? QN_DT_GGML_Q4_0 : QN_DT_GGML_Q8_0;
    const int64_t N = 256;
    const size_t wb = (size_t)N * (size_t)(K / 32) * (perm == 1 ? 18 : 34);
    void *w = dev_alloc(wb), *y = dev_alloc((size_t)(M * N) * 4);
    CU(cudaMemset(w, 0, wb)); /* zero scales: the prep alone runs, the weight's values do not matter */
    const size_t sn = qn_cuda_ggml_mmq_scratch(M, N, K);
    void *scr = dev_alloc(sn);
    int have = 0;
    qn_cuda_ggml_mmq_noprep = 2;
    const int e = qn_cuda_ggml_mmq_x(wdt, w, N, K, QN_DT_F32, x, M, QN_DT_F32, y, scr, sn, pb, pbytes, &have, 132, NULL);
    qn_cuda_ggml_mmq_noprep = 0;
    CU(cudaDeviceSynchronize());
    cudaFree(w), cudaFree(y), cudaFree(scr);
    ck_assert_int_eq(e, 0);
    return have == perm;
}

/* rms_norm (0: weight, p added after; 1: add_rms_norm, r added before), add_norm (2), rms_norm_add_norm (3). */
static void run_norm(int which, const float *x, const float *r, const float *w, const float *w2, float *y, float *y2,
                     int64_t M, int64_t D, qn_cuda_xslab *slab) {
    const int f = QN_DT_F32;
    int e;
    if (which == 0)
        e = qn_cuda_rms_norm(f, x, 0, NULL, f, w, f, r, f, y2, M, D, 1e-5f, 0, NULL, NULL, slab, NULL);
    else if (which == 1)
        e = qn_cuda_rms_norm(f, x, f, r, f, w, 0, NULL, f, y2, M, D, 1e-5f, 0, NULL, NULL, slab, NULL);
    else if (which == 2)
        e = qn_cuda_add_norm(f, x, f, r, f, w2, f, y, y2, M, D, 1e-5f, 0, NULL, NULL, slab, NULL);
    else
        e = qn_cuda_rms_norm_add_norm(f, x, f, r, f, w, f, w2, f, y, y2, M, D, 1e-5f, 1, NULL, NULL, slab, NULL);
    ck_assert_int_eq(e, 0);
    CU(cudaDeviceSynchronize());
}

static const int64_t norm_D[] = {1024, 2048, 3000, 4096};
#define N_NORM_D ((int)(sizeof norm_D / sizeof *norm_D))

START_TEST(norm_v_same) {
    const int which = _i % 4;
    const int64_t D = norm_D[_i / 8], M = (_i / 4) % 2 ? 300 : 130;
    qt_rng rng = qt_rng_make(0x5107 + (uint64_t)_i);
    const size_t n = (size_t)(M * D), xb = n * 4, pbytes = qn_cuda_ggml_mmq_xprep_bytes(M, D);
    float *x = dev_random(&rng, n, -2.0f, 2.0f), *r = dev_random(&rng, n, -1.0f, 1.0f);
    float *w = dev_random(&rng, (size_t)D, 0.5f, 1.5f), *w2 = dev_random(&rng, (size_t)D, -0.5f, 0.5f);
    float *y = dev_alloc(xb), *y2 = dev_alloc(xb), *ry = dev_alloc(xb), *ry2 = dev_alloc(xb);
    void *sl = dev_alloc(pbytes), *rsl = dev_alloc(pbytes), *pb = dev_alloc(pbytes);
    const int slab_ok = D % 256 == 0, perm = 1 + (_i / 4) % 2;
    size_t tiles, scales;
    slab_parts(sl, M, D, &tiles, &scales);
    qn_cuda_norm_v = 1;
    CU(cudaMemset(ry, 0xFF, xb)), CU(cudaMemset(ry2, 0xFF, xb)), CU(cudaMemset(rsl, 0x5A, pbytes));
    qn_cuda_xslab s1 = {rsl, perm, 0};
    run_norm(which, x, r, w, w2, ry, ry2, M, D, &s1);
    ck_assert_int_eq(s1.done, slab_ok);
    if (slab_ok && gemm_prep(ry2, M, D, perm, pb, pbytes)) { /* V = 1's slab is the GEMM's prep (mmq18) */
        void *pt = NULL, *st = NULL;
        float *ps = NULL, *ss = NULL;
        qn_cuda_ggml_mmq_xprep_split(pb, M, D, &pt, &ps);
        qn_cuda_ggml_mmq_xprep_split(rsl, M, D, &st, &ss);
        ck_assert_uint_eq(dev_differ(pt, st, tiles), 0);
        ck_assert_uint_eq(dev_differ(ps, ss, scales), 0);
    }
    for (int v = 2; v <= 4; v += 2) {
        qn_cuda_norm_v = v;
        for (int with = 0; with < 2; with++) {
            CU(cudaMemset(y, 0xFF, xb)), CU(cudaMemset(y2, 0xFF, xb)), CU(cudaMemset(sl, 0xA5, pbytes));
            qn_cuda_xslab s = {sl, perm, 0};
            run_norm(which, x, r, w, w2, y, y2, M, D, with ? &s : NULL);
            ck_assert_msg(dev_differ(y2, ry2, xb) == 0, "norm %d D=%lld M=%lld V=%d slab=%d: results differ from V=1",
                          which, (long long)D, (long long)M, v, with);
            if (which >= 2) ck_assert_uint_eq(dev_differ(y, ry, xb), 0);
            if (with) {
                ck_assert_int_eq(s.done, slab_ok);
                if (slab_ok) {
                    void *a = NULL, *b = NULL;
                    float *as = NULL, *bs = NULL;
                    qn_cuda_ggml_mmq_xprep_split(sl, M, D, &a, &as);
                    qn_cuda_ggml_mmq_xprep_split(rsl, M, D, &b, &bs);
                    ck_assert_msg(dev_differ(a, b, tiles) == 0, "norm %d D=%lld M=%lld V=%d: slab differs from V=1",
                                  which, (long long)D, (long long)M, v);
                    ck_assert_uint_eq(dev_differ(as, bs, scales), 0);
                }
            }
        }
    }
    qn_cuda_norm_v = -1;
    cudaFree(x), cudaFree(r), cudaFree(w), cudaFree(w2), cudaFree(y), cudaFree(y2), cudaFree(ry), cudaFree(ry2);
    cudaFree(sl), cudaFree(rsl), cudaFree(pb);
}
END_TEST

static const int64_t glu_D[] = {2048, 4096, 11008, 14336};
#define N_GLU_D ((int)(sizeof glu_D / sizeof *glu_D))

START_TEST(glu_slab_same) {
    const int64_t D = glu_D[_i / 2], M = (_i & 1) ? 257 : 130;
    const int act = _i % 3 == 2 ? QN_UNARY_GELU_TANH : QN_UNARY_SILU, perm = 1 + (_i & 1);
    qt_rng rng = qt_rng_make(0x6105 + (uint64_t)_i);
    const size_t n = (size_t)(M * D), xb = n * 4, pbytes = qn_cuda_ggml_mmq_xprep_bytes(M, D);
    float *g = dev_random(&rng, n, -6.0f, 6.0f), *u = dev_random(&rng, n, -2.0f, 2.0f);
    float *h0 = dev_alloc(xb), *h = dev_alloc(xb);
    void *sl[2] = {dev_alloc(pbytes), dev_alloc(pbytes)}, *pb = dev_alloc(pbytes);
    size_t tiles, scales;
    slab_parts(sl[0], M, D, &tiles, &scales);
    CU(cudaMemset(h0, 0xFF, xb));
    ck_assert_int_eq(qn_cuda_glu(act, QN_DT_F32, g, u, h0, (int64_t)n, NULL), 0);
    for (int form = 1; form <= 2; form++) {
        qn_cuda_glu_slab_form = form;
        CU(cudaMemset(h, 0xFF, xb)), CU(cudaMemset(sl[form - 1], 0x5A + form, pbytes));
        qn_cuda_xslab s = {sl[form - 1], perm, 0};
        ck_assert_int_eq(qn_cuda_glu_slab(act, QN_DT_F32, g, u, h, M, D, &s, NULL), 0);
        CU(cudaDeviceSynchronize());
        ck_assert_int_eq(s.done, 1);
        ck_assert_msg(dev_differ(h, h0, xb) == 0, "glu D=%lld M=%lld form %d: results differ from qn_cuda_glu",
                      (long long)D, (long long)M, form);
    }
    qn_cuda_glu_slab_form = -1;
    ck_assert_msg(dev_differ(sl[0], sl[1], tiles + scales) == 0, "glu D=%lld M=%lld: the two forms' slabs differ",
                  (long long)D, (long long)M);
    if (gemm_prep(h0, M, D, perm, pb, pbytes)) {
        void *pt = NULL, *st = NULL;
        float *ps = NULL, *ss = NULL;
        qn_cuda_ggml_mmq_xprep_split(pb, M, D, &pt, &ps);
        qn_cuda_ggml_mmq_xprep_split(sl[1], M, D, &st, &ss);
        ck_assert_msg(dev_differ(pt, st, tiles) == 0, "glu D=%lld M=%lld: slab differs from the GEMM's prep",
                      (long long)D, (long long)M);
        ck_assert_uint_eq(dev_differ(ps, ss, scales), 0);
    }
    cudaFree(g), cudaFree(u), cudaFree(h0), cudaFree(h), cudaFree(sl[0]), cudaFree(sl[1]), cudaFree(pb);
}
END_TEST

/* mmq22: qn_cuda_ggml_mmq_multi (QUANTA_CUDA_GGML_GROUP) — modes 1, 3 and 4 (weights of one N as one grid, each with
 * its own K split; 4 only where one alone is under a wave) against mode 0 (one launch a weight) bit for bit, and mode 2 (all of them as one grid with the pick for their
 * tiles together: k / v not split in K) against mode 0 within f32 rounding of the sums (the same products, other
 * partial sums); on any device (where the grouped kernel does not run, both are the one-by-one launches). Weights
 * random bytes with a scale of 2^-7 a block, x uniform in [-1, 1]; outputs poisoned before each run. */
static const struct { int64_t M, K, N[3]; int n; } group_shapes[] = {
    {512, 4096, {1024, 1024, 0}, 2},   /* k / v of a 7B at M = 512: cluster pairs of 64-token tiles */
    {300, 2048, {640, 256, 256}, 3},   /* q / k / v with N and M tails */
    {257, 1024, {1408, 1408, 0}, 2},   /* gate / up-like */
    {700, 1024, {4096, 1024, 1024}, 3} /* q / k / v at 128-token tiles */
};
#define N_GROUP ((int)(sizeof group_shapes / sizeof *group_shapes))

START_TEST(group_same) {
    const int sh = _i / 2, q8 = _i & 1, n = group_shapes[sh].n;
    const int64_t M = group_shapes[sh].M, K = group_shapes[sh].K;
    const int wdt = q8 ? QN_DT_GGML_Q8_0 : QN_DT_GGML_Q4_0, bb = q8 ? 34 : 18;
    qt_rng rng = qt_rng_make(qt_seed() ^ (0x6a22 + (uint64_t)_i)); /* the run's printed seed */
    const int64_t *N = group_shapes[sh].N;
    const void *w[3] = {NULL, NULL, NULL};
    void *y[5][3] = {{NULL}}; /* [mode][weight] */
    size_t yb[3] = {0, 0, 0};
    for (int i = 0; i < n; i++) {
        w[i] = dev_random_blocks(&rng, (size_t)N[i] * (size_t)(K / 32), bb);
        yb[i] = (size_t)(M * N[i]) * 4;
        for (int m = 0; m < 5; m++) y[m][i] = dev_alloc(yb[i]);
    }
    float *x = dev_random(&rng, (size_t)(M * K), -1.0f, 1.0f);
    const size_t sn = qn_cuda_ggml_mmq_multi_scratch(n, N, M, K), xpn = qn_cuda_ggml_mmq_xprep_bytes(M, K);
    void *scr = dev_alloc(sn), *xp = dev_alloc(xpn);
    for (int mode = 0; mode < 5; mode++) {
        for (int i = 0; i < n; i++) CU(cudaMemset(y[mode][i], 0xFF, yb[i]));
        int have = 0; /* a fresh prep each mode */
        const int e = qn_cuda_ggml_mmq_multi(mode, wdt, n, w, N, K, QN_DT_F32, x, M, QN_DT_F32, y[mode], scr, sn, xp,
                                             xpn, &have, 132, NULL);
        ck_assert_int_eq(e, 0);
        CU(cudaDeviceSynchronize());
    }
    for (int i = 0; i < n; i++) {
        for (int mode = 1; mode <= 4; mode += mode == 1 ? 2 : 1) /* 1, 3, 4 */
            ck_assert_msg(dev_differ(y[mode][i], y[0][i], yb[i]) == 0, "group %d %s weight %d: mode %d differs from mode 0",
                          sh, q8 ? "q8_0" : "q4_0", i, mode);
        const size_t ne = yb[i] / 4;
        float *a = malloc(yb[i]), *b = malloc(yb[i]);
        ck_assert(a && b);
        CU(cudaMemcpy(a, y[2][i], yb[i], cudaMemcpyDeviceToHost));
        CU(cudaMemcpy(b, y[0][i], yb[i], cudaMemcpyDeviceToHost));
        double mo = 0, md = 0;
        for (size_t j = 0; j < ne; j++) {
            const double d = fabs((double)a[j] - (double)b[j]);
            md = d > md || d != d ? d : md;
            mo = fabs((double)b[j]) > mo ? fabs((double)b[j]) : mo;
        }
        /* f32 sums of K products, in two halves or one: ~K x 2^-24 of the magnitudes summed, far under 1e-4 of max */
        ck_assert_msg(mo > 0 && md <= 1e-4 * mo, "group %d %s weight %d: mode 2 off by %g of max %g", sh,
                      q8 ? "q8_0" : "q4_0", i, md, mo);
        free(a), free(b);
    }
    for (int i = 0; i < n; i++) {
        cudaFree((void *)w[i]);
        for (int m = 0; m < 5; m++) cudaFree(y[m][i]);
    }
    cudaFree(x), cudaFree(scr), cudaFree(xp);
}
END_TEST

/* mmq23: qn_cuda_ggml_mmq_x with qn_cuda_ggml_mmq_pairx = 1 and 2 against 0, every output byte: the same copies land
 * in the same places, so the same sums. Shapes of the 128-token unsplit pick (32 weight tiles: pairs), an N tail (4000
 * rows: the last tile partial), an M tail, the shortest K (one A slot), one wave with K > 8192 (the down shape's pick),
 * an odd tile count (31: the default's launch, so equal trivially), and the 256-token pick (=2) with an M tail and at
 * M = 2048 (two rounds of blocks). Weights random bytes with a scale of 2^-7 a block, x
 * uniform in [-1, 1]; outputs poisoned before each run. On any device (where =17 does not run both are the same route). */
static const struct { int64_t M, N, K; } pairx_shapes[] = {
    {512, 4096, 4096}, {700, 4000, 2048}, {600, 4096, 256}, {512, 4096, 14336}, {600, 3968, 1024},
    {300, 14336, 1024}, {2048, 4096, 1024}};
#define N_PAIRX ((int)(sizeof pairx_shapes / sizeof *pairx_shapes))

START_TEST(pairx_same) {
    const int sh = _i / 2, q8 = _i & 1;
    const int64_t M = pairx_shapes[sh].M, N = pairx_shapes[sh].N, K = pairx_shapes[sh].K;
    const int wdt = q8 ? QN_DT_GGML_Q8_0 : QN_DT_GGML_Q4_0, bb = q8 ? 34 : 18;
    qt_rng rng = qt_rng_make(qt_seed() ^ (0x6a23 + (uint64_t)_i)); /* the run's printed seed */
    const size_t yb = (size_t)(M * N) * 4;
    void *w = dev_random_blocks(&rng, (size_t)N * (size_t)(K / 32), bb);
    float *x = dev_random(&rng, (size_t)(M * K), -1.0f, 1.0f);
    const size_t sn = qn_cuda_ggml_mmq_scratch(M, N, K), xpn = qn_cuda_ggml_mmq_xprep_bytes(M, K);
    void *scr = dev_alloc(sn), *xp = dev_alloc(xpn), *y[3];
    const int was = qn_cuda_ggml_mmq_pairx;
    for (int px = 0; px < 3; px++) {
        y[px] = dev_alloc(yb);
        CU(cudaMemset(y[px], 0xFF, yb)); /* NaN: an output left unwritten shows */
        qn_cuda_ggml_mmq_pairx = px;
        int have = 0; /* a fresh prep each run */
        const int e = qn_cuda_ggml_mmq_x(wdt, w, N, K, QN_DT_F32, x, M, QN_DT_F32, y[px], scr, sn, xp, xpn, &have, 132,
                                         NULL);
        CU(cudaDeviceSynchronize());
        ck_assert_int_eq(e, 0);
    }
    qn_cuda_ggml_mmq_pairx = was;
    const size_t nan = dev_nans(y[0], yb); /* the default's outputs all written, then PAIRX's byte for byte */
    ck_assert_msg(nan == 0, "pairx %lldx%lldx%lld %s: %zu outputs of the default unwritten", (long long)M, (long long)N,
                  (long long)K, q8 ? "q8_0" : "q4_0", nan);
    for (int px = 1; px < 3; px++)
        ck_assert_msg(dev_differ(y[px], y[0], yb) == 0, "pairx %lldx%lldx%lld %s: PAIRX=%d differs from 0", (long long)M,
                      (long long)N, (long long)K, q8 ? "q8_0" : "q4_0", px);
    cudaFree(w), cudaFree(x), cudaFree(scr), cudaFree(xp), cudaFree(y[0]), cudaFree(y[1]), cudaFree(y[2]);
}
END_TEST

/* mmq24: qn_cuda_ggml_mmq_xt with qn_cuda_ggml_mmq_tlin = 1 and the weight's tile-linear copy, with qn_cuda_ggml_mmq_sts
 * = 1, and both, against the default (no copy), every output byte: the slot's bytes land in shared memory as the 2-D
 * box lands them, and the staged epilogue stores the same values, so the same outputs (N = 4000: a last tile of 32
 * rows; M tails: rows past M not stored). Shapes
 * of the default's three picks that take it — 128 tokens unsplit (512 x 4096 x 4096; an N and M tail; one A slot; one
 * wave with K > 8192), the k/v cluster pair (512 x 1024 x 4096; 520 x 1000 x 2048: M and N tails), 256 tokens (an M
 * tail; M = 2048) — and one it does not (600 x 3968 x 1024: equal trivially). The copy itself is checked on the host:
 * each slot row the weight row's bytes of that K slice, rows past N zero. */
static const struct { int64_t M, N, K; } tlin_shapes[] = {
    {512, 4096, 4096}, {700, 4000, 2048}, {600, 4096, 256},  {512, 4096, 14336}, {512, 1024, 4096},
    {520, 1000, 2048}, {300, 14336, 1024}, {2048, 4096, 1024}, {600, 3968, 1024}};
#define N_TLIN ((int)(sizeof tlin_shapes / sizeof *tlin_shapes))

START_TEST(tlin_same) {
    const int sh = _i / 2, q8 = _i & 1;
    const int64_t M = tlin_shapes[sh].M, N = tlin_shapes[sh].N, K = tlin_shapes[sh].K;
    const int wdt = q8 ? QN_DT_GGML_Q8_0 : QN_DT_GGML_Q4_0, bb = q8 ? 34 : 18;
    qt_rng rng = qt_rng_make(qt_seed() ^ (0x7124 + (uint64_t)_i)); /* the run's printed seed */
    const size_t yb = (size_t)(M * N) * 4, rb = (size_t)(K / 32) * (size_t)bb, wb = rb * (size_t)N;
    void *w = dev_random_blocks(&rng, (size_t)N * (size_t)(K / 32), bb);
    const size_t tb = qn_cuda_ggml_tlin_bytes(wdt, N, K);
    ck_assert_uint_eq(tb, (size_t)((N + 127) / 128 * 128) * rb);
    void *wt = dev_alloc(tb);
    CU(cudaMemset(wt, 0xA5, tb)); /* every byte must be written */
    ck_assert_int_eq(qn_cuda_ggml_tlin_pack(wdt, w, N, K, wt, NULL), 0);
    CU(cudaDeviceSynchronize());
    unsigned char *hw = malloc(wb), *ht = malloc(tb);
    ck_assert(hw && ht);
    CU(cudaMemcpy(hw, w, wb, cudaMemcpyDeviceToHost));
    CU(cudaMemcpy(ht, wt, tb, cudaMemcpyDeviceToHost));
    const size_t sl = (size_t)8 * (size_t)bb, KA = (size_t)(K / 256); /* a slot row: 8 blocks */
    size_t bad = 0;
    for (size_t i = 0; i < tb; i++) {
        const size_t slot = i / (128 * sl), in = i % (128 * sl), r = in / sl, c = in % sl;
        const size_t n = slot / KA * 128 + r, ka = slot % KA;
        bad += ht[i] != (n < (size_t)N ? hw[n * rb + ka * sl + c] : 0);
    }
    free(hw), free(ht);
    ck_assert_msg(bad == 0, "tlin %lldx%lld %s: %zu bytes of the copy wrong", (long long)N, (long long)K,
                  q8 ? "q8_0" : "q4_0", bad);
    float *x = dev_random(&rng, (size_t)(M * K), -1.0f, 1.0f);
    const size_t sn = qn_cuda_ggml_mmq_scratch(M, N, K), xpn = qn_cuda_ggml_mmq_xprep_bytes(M, K);
    void *scr = dev_alloc(sn), *xp = dev_alloc(xpn), *y[4];
    const int was = qn_cuda_ggml_mmq_tlin, wsts = qn_cuda_ggml_mmq_sts;
    for (int v = 0; v < 4; v++) { /* bit 0: TLIN with the copy; bit 1: STS (the staged epilogue) */
        y[v] = dev_alloc(yb);
        CU(cudaMemset(y[v], 0xFF, yb)); /* NaN: an output left unwritten shows */
        qn_cuda_ggml_mmq_tlin = v & 1, qn_cuda_ggml_mmq_sts = v >> 1;
        int have = 0; /* a fresh prep each run */
        const int e = qn_cuda_ggml_mmq_xt(wdt, w, N, K, QN_DT_F32, x, M, QN_DT_F32, y[v], scr, sn, xp, xpn, &have, 132,
                                          NULL, (v & 1) ? wt : NULL);
        CU(cudaDeviceSynchronize());
        ck_assert_int_eq(e, 0);
    }
    qn_cuda_ggml_mmq_tlin = was, qn_cuda_ggml_mmq_sts = wsts;
    const size_t nan = dev_nans(y[0], yb); /* the default's outputs all written, then TLIN's byte for byte */
    ck_assert_msg(nan == 0, "tlin %lldx%lldx%lld %s: %zu outputs of the default unwritten", (long long)M, (long long)N,
                  (long long)K, q8 ? "q8_0" : "q4_0", nan);
    for (int v = 1; v < 4; v++)
        ck_assert_msg(dev_differ(y[v], y[0], yb) == 0, "tlin %lldx%lldx%lld %s: TLIN=%d STS=%d differs from the default",
                      (long long)M, (long long)N, (long long)K, q8 ? "q8_0" : "q4_0", v & 1, v >> 1);
    cudaFree(w), cudaFree(wt), cudaFree(x), cudaFree(scr), cudaFree(xp);
    for (int v = 0; v < 4; v++) cudaFree(y[v]);
}
END_TEST

int main(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n < 1) {
        printf("no CUDA device: skipped\n");
        return 77;
    }
    int major = 0, minor = 0;
    (void)cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0);
    (void)cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, 0);
    sm90 = major == 9 && minor == 0;
    Suite *s = suite_create("cuda_slab");
    TCase *tc = tcase_create("slab");
    tcase_set_timeout(tc, 240);
    tcase_add_loop_test(tc, norm_v_same, 0, 8 * N_NORM_D);
    tcase_add_loop_test(tc, glu_slab_same, 0, 2 * N_GLU_D);
    tcase_add_loop_test(tc, group_same, 0, 2 * N_GROUP);
    suite_add_tcase(s, tc);
    TCase *tp = tcase_create("pairx");
    tcase_set_timeout(tp, 240);
    tcase_add_loop_test(tp, pairx_same, 0, 2 * N_PAIRX);
    suite_add_tcase(s, tp);
    TCase *tt = tcase_create("tlin");
    tcase_set_timeout(tt, 240);
    tcase_add_loop_test(tt, tlin_same, 0, 2 * N_TLIN);
    suite_add_tcase(s, tt);
    return qt_run_suite(s);
}
