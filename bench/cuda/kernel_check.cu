/*
 * kernel_check.cu — standalone driver for the CUDA matmul kernels, outside libquanta (it links
 * formats/ for quantization and engine/cuda/cuda_repack.c for the tiled layout).
 *
 *   kernel_check check   correctness: every weight format x activation dtype x batch size on odd
 *                        shapes, against a float64 CPU product of the dequantized weights
 *   kernel_check bench   timing on LLaMA-13B linear shapes: copy bandwidth, then per format and
 *                        batch size M the time per call (CUDA graph of back-to-back calls,
 *                        weights rotated across copies so each call reads HBM), GB/s, TFLOP/s
 *
 * Exit status 0 only if every check passed. Prints a table; `bench` also writes CSV to argv[2].
 */
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

extern "C" {
#include "engine/cuda/cuda_internal.h"
}

#include "driver.h"

static uint64_t rng_state = 0x1234567ull;
static double urand() { return qn_bench_urand(&rng_state); }
static float nrand() {
    double s = 0;
    for (int i = 0; i < 4; i++) s += urand() * 2 - 1;
    return (float)(s * 0.8660254);
}

struct fmt_case {
    const char *name;
    quanta_dtype dt;
    int group, dq;
};

static const fmt_case kFormats[] = {
    {"f16", QUANTA_F16, 0, 0},        {"bf16", QUANTA_BF16, 0, 0},     {"q8", QUANTA_Q8, 0, 0},
    {"q4g32", QUANTA_Q4, 32, 0},      {"q4g64", QUANTA_Q4, 64, 0},     {"q4g128", QUANTA_Q4, 128, 0},
    {"nf4", QUANTA_NF4, 64, 0},       {"nf4dq", QUANTA_NF4, 64, 1},    {"e4m3", QUANTA_FP8_E4M3, 0, 0},
    {"e5m2", QUANTA_FP8_E5M2, 0, 0},
};

/* Interchange bytes of W (any dtype), quantized from w (f32). */
static std::vector<uint8_t> make_weight(const fmt_case &f, int64_t N, int64_t K, const std::vector<float> &w,
                                        quanta_tensor_desc *desc) {
    memset(desc, 0, sizeof *desc);
    desc->dtype = f.dt;
    desc->ndim = 2;
    desc->dims[0] = N, desc->dims[1] = K;
    desc->group = f.group, desc->double_quant = f.dq;
    size_t bytes = 0;
    if (quanta_tensor_bytes(desc, &bytes) != QUANTA_OK) {
        fprintf(stderr, "tensor_bytes: %s\n", quanta_last_error());
        exit(2);
    }
    std::vector<uint8_t> out(bytes);
    if (f.dt == QUANTA_F16 || f.dt == QUANTA_BF16) {
        qn_from_f32(f.dt, w.data(), out.data(), w.size());
    } else if (qn_quantize(desc, w.data(), out.data(), bytes) != QUANTA_OK) {
        fprintf(stderr, "quantize %s: %s\n", f.name, quanta_last_error());
        exit(2);
    }
    return out;
}

static qn_cuda_weight upload(const qn_cuda_packed &pk, void **dev) {
    CK(cudaMalloc(dev, pk.bytes));
    CK(cudaMemcpy(*dev, pk.buf, pk.bytes, cudaMemcpyHostToDevice));
    qn_cuda_weight w;
    w.fmt = pk.fmt;
    w.N = pk.N, w.K = pk.K, w.Np = pk.Np, w.Kp = pk.Kp, w.group = pk.group;
    w.codes = (char *)*dev + pk.codes_off;
    w.row_scale = (const float *)((char *)*dev + pk.row_scale_off);
    w.meta = (const uint32_t *)((char *)*dev + pk.meta_off);
    w.codes_k = pk.codes_k_off ? (char *)*dev + pk.codes_k_off : NULL; /* fp818: the SS form's copy, if made */
    return w;
}

static int g_sms = 132;
static unsigned *g_counters;
static bool g_use_counters = true;

static int check_one(const fmt_case &f, int64_t N, int64_t K, int64_t M, quanta_dtype xdt) {
    std::vector<float> w((size_t)(N * K)), x((size_t)(M * K));
    for (auto &v : w) v = nrand() * 0.05f;
    for (auto &v : x) v = nrand() * 3.0f;
    if (M > 1) x[(size_t)K + 1] = 3000.0f; /* an outlier row: checks the per-row activation scaling */
    quanta_tensor_desc d;
    std::vector<uint8_t> wi = make_weight(f, N, K, w, &d);
    qn_quant_layout L;
    qn_quant_layout_get(&d, &L);
    std::vector<float> wd((size_t)(N * K));
    for (int64_t n = 0; n < N; n++) qn_dequant_row(&L, f.dt, wi.data(), n, wd.data() + n * K);
    /* x as the kernel sees it: rounded to its dtype */
    std::vector<uint8_t> xb(x.size() * 4);
    qn_from_f32(xdt, x.data(), xb.data(), x.size());
    std::vector<float> xr(x.size());
    qn_to_f32(xdt, xb.data(), xr.data(), x.size());
    std::vector<double> ref((size_t)(M * N));
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            double a = 0;
            for (int64_t k = 0; k < K; k++) a += (double)xr[m * K + k] * wd[n * K + k];
            ref[m * N + n] = a;
        }
    qn_cuda_packed pk;
    if (qn_cuda_repack(&d, wi.data(), wi.size(), &pk) != QUANTA_OK) {
        fprintf(stderr, "repack %s: %s\n", f.name, quanta_last_error());
        return 1;
    }
    void *wdev;
    qn_cuda_weight cw = upload(pk, &wdev);
    free(pk.buf);
    const size_t es = qn_dtype_elem_size(xdt);
    void *xdev, *ydev, *scratch;
    const size_t sb = qn_cuda_matmul_q_scratch(&cw, M, g_sms);
    CK(cudaMalloc(&xdev, x.size() * es));
    CK(cudaMalloc(&ydev, (size_t)(M * N) * es));
    CK(cudaMalloc(&scratch, sb ? sb : 16));
    CK(cudaMemcpy(xdev, xb.data(), x.size() * es, cudaMemcpyHostToDevice));
    CK(cudaMemset(ydev, 0xFF, (size_t)(M * N) * es)); /* NaN poison */
    int e = qn_cuda_matmul_q(&cw, xdt, xdev, xdt, ydev, M, scratch, sb, g_use_counters ? g_counters : nullptr,
                             QN_CUDA_MATMUL_COUNTERS, g_sms, nullptr);
    if (e) {
        fprintf(stderr, "launch %s: %s\n", f.name, cudaGetErrorString((cudaError_t)e));
        return 1;
    }
    CK(cudaDeviceSynchronize());
    std::vector<uint8_t> yb((size_t)(M * N) * es);
    std::vector<float> y((size_t)(M * N));
    CK(cudaMemcpy(yb.data(), ydev, yb.size(), cudaMemcpyDeviceToHost));
    qn_to_f32(xdt, yb.data(), y.data(), y.size());
    double num = 0, den = 0, maxd = 0, maxr = 0;
    bool nan = false;
    for (size_t i = 0; i < y.size(); i++) {
        if (!std::isfinite(y[i])) nan = true;
        const double dlt = (double)y[i] - ref[i];
        num += dlt * dlt, den += ref[i] * ref[i];
        maxd = std::max(maxd, std::fabs(dlt)), maxr = std::max(maxr, std::fabs(ref[i]));
    }
    const double nmse = den > 0 ? num / den : num, rel = maxr > 0 ? maxd / maxr : maxd;
    const double lim_rel = xdt == QUANTA_BF16 ? 4e-2 : 2e-2;
    const bool ok = !nan && nmse <= 5e-4 && rel <= lim_rel;
    printf("%-7s N=%-4lld K=%-5lld M=%-4lld x=%-4s nmse=%.2e maxrel=%.2e %s\n", f.name, (long long)N, (long long)K,
           (long long)M, quanta_dtype_name(xdt), nmse, rel, ok ? "ok" : "FAIL");
    cudaFree(xdev), cudaFree(ydev), cudaFree(scratch), cudaFree(wdev);
    return ok ? 0 : 1;
}

static int run_check(bool quick) {
    int fails = 0;
    const int64_t Ms[] = {1, 3, 8, 13, 16, 33, 70, 130};
    const quanta_dtype xs[] = {QUANTA_F32, QUANTA_F16, QUANTA_BF16};
    for (const fmt_case &f : kFormats) {
        const int64_t K = f.group == 0 ? 100 : f.group == 32 ? 160 : f.group == 128 ? 384 : 192;
        if (quick) { /* for compute-sanitizer: every format once through each kernel path */
            fails += check_one(f, 40, K, 1, QUANTA_F32);
            fails += check_one(f, 40, K, 33, QUANTA_BF16);
            fails += check_one(f, 150, K, 140, QUANTA_F16);
            fails += check_one(f, 300, f.group == 128 ? 1280 : 1216, 5, QUANTA_F16);
            continue;
        }
        for (int64_t M : Ms)
            for (quanta_dtype xd : xs) fails += check_one(f, 40, K, M, xd);
        fails += check_one(f, 300, f.group == 128 ? 1280 : 1216, 5, QUANTA_F32); /* split-K path */
        g_use_counters = false; /* the separate reduction kernel */
        fails += check_one(f, 300, f.group == 128 ? 1280 : 1216, 2, QUANTA_BF16);
        g_use_counters = true;
        fails += check_one(f, 4100, 256, 1, QUANTA_F16);
        fails += check_one(f, 300, f.group == 128 ? 1280 : 1216, 257, QUANTA_BF16); /* prefill kernel, 3x3 blocks */
    }
    /* dense fallback */
    {
        const int64_t M = 7, N = 45, K = 70;
        std::vector<float> x((size_t)(M * K)), w((size_t)(N * K));
        for (auto &v : x) v = nrand();
        for (auto &v : w) v = nrand();
        float *xd, *wd, *yd;
        CK(cudaMalloc(&xd, x.size() * 4));
        CK(cudaMalloc(&wd, w.size() * 4));
        CK(cudaMalloc(&yd, (size_t)(M * N) * 4));
        CK(cudaMemcpy(xd, x.data(), x.size() * 4, cudaMemcpyHostToDevice));
        CK(cudaMemcpy(wd, w.data(), w.size() * 4, cudaMemcpyHostToDevice));
        int e = qn_cuda_matmul_dense(QUANTA_F32, xd, QUANTA_F32, wd, QUANTA_F32, yd, M, N, K, nullptr);
        CK((cudaError_t)e);
        std::vector<float> y((size_t)(M * N));
        CK(cudaMemcpy(y.data(), yd, y.size() * 4, cudaMemcpyDeviceToHost));
        double num = 0, den = 0;
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = 0; n < N; n++) {
                double a = 0;
                for (int64_t k = 0; k < K; k++) a += (double)x[m * K + k] * w[n * K + k];
                num += (y[m * N + n] - a) * (y[m * N + n] - a), den += a * a;
            }
        const bool ok = num / den < 1e-10;
        printf("dense f32 M=7 N=45 K=70 nmse=%.2e %s\n", num / den, ok ? "ok" : "FAIL");
        fails += !ok;
        cudaFree(xd), cudaFree(wd), cudaFree(yd);
    }
    printf("CHECK SUMMARY: %d failures\n", fails);
    return fails ? 1 : 0;
}

/* ------------------------------------------------------------------ bench */

/* Fills a packed weight with random valid codes (the timing does not depend on the values,
 * but NaN-free data keeps the tensor cores on their ordinary path). */
static qn_cuda_packed random_packed(const fmt_case &f, int64_t N, int64_t K) {
    /* Quantizing 100M+ weights on one CPU core takes too long: build a tiny real weight for the
     * layout sizes, then fill the buffer with random codes and sane metadata. */
    qn_cuda_packed pk;
    memset(&pk, 0, sizeof pk);
    pk.fmt = qn_cuda_weight_format(f.dt);
    pk.N = N, pk.K = K, pk.Np = (N + 15) / 16 * 16, pk.Kp = (K + 63) / 64 * 64;
    pk.group = pk.fmt == QN_CW_Q4 ? f.group : pk.fmt == QN_CW_NF4 ? 64 : 0;
    const int32_t mg = pk.group > 0 ? pk.group : 64;
    pk.meta_cols = (size_t)((pk.Kp + mg - 1) / mg);
    const size_t codes = qn_cuda_weight_code_bytes(pk.fmt, pk.Np, pk.Kp), rs = (size_t)pk.Np * 4;
    const size_t meta = (pk.fmt == QN_CW_Q4 || pk.fmt == QN_CW_NF4) ? (size_t)pk.Np * pk.meta_cols * 4 : 4;
    pk.row_scale_off = (codes + 255) / 256 * 256;
    pk.meta_off = pk.row_scale_off + (rs + 255) / 256 * 256;
    pk.bytes = pk.meta_off + meta;
    pk.buf = (uint8_t *)malloc(pk.bytes);
    uint64_t s = 0x9E3779B97F4A7C15ull;
    uint64_t *c64 = (uint64_t *)pk.buf;
    for (size_t i = 0; i < codes / 8; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        uint64_t v = s;
        if (pk.fmt == QN_CW_F16) v &= 0xBBFFBBFFBBFFBBFFull; /* |h| < 2: finite halves */
        if (pk.fmt == QN_CW_E4M3) v &= 0xF7F7F7F7F7F7F7F7ull; /* no 0x7F/0xFF NaN codes */
        if (pk.fmt == QN_CW_E5M2) v &= 0xBFBFBFBFBFBFBFBFull; /* exponent < 31 */
        c64[i] = v;
    }
    float *r = (float *)(pk.buf + pk.row_scale_off);
    for (int64_t n = 0; n < pk.Np; n++) r[n] = 1e-3f;
    uint32_t *m = (uint32_t *)(pk.buf + pk.meta_off);
    for (size_t i = 0; i < meta / 4; i++) m[i] = 0x3C00u | (0x6404u << 16); /* s' = 1, zero = 4 */
    return pk;
}

struct shape {
    const char *name;
    int64_t K, N;
};

/* Per-call time (us, median of 7 graph replays) of y = x . W^T for each M, weights rotated
 * across enough copies that each call reads HBM rather than L2. */
static void bench_shape(const qn_cuda_packed &pk, const int64_t *Ms, int nM, double *us_out) {
    const size_t copies_bytes = 400u << 20;
    int copies = (int)std::max<size_t>(1, std::min<size_t>(16, copies_bytes / pk.bytes + 1));
    std::vector<void *> devs(copies);
    std::vector<qn_cuda_weight> ws(copies);
    for (int i = 0; i < copies; i++) ws[i] = upload(pk, &devs[i]);
    const int64_t Mmax = Ms[nM - 1];
    std::vector<uint16_t> xh((size_t)(Mmax * pk.K));
    for (auto &v : xh) v = qn_f32_to_bf16(nrand());
    void *x, *y, *scratch;
    const size_t sb = qn_cuda_matmul_q_scratch(&ws[0], Mmax, g_sms) * 2 + (64u << 20);
    CK(cudaMalloc(&x, xh.size() * 2));
    CK(cudaMalloc(&y, (size_t)(Mmax * pk.N) * 2));
    CK(cudaMalloc(&scratch, sb));
    CK(cudaMemcpy(x, xh.data(), xh.size() * 2, cudaMemcpyHostToDevice));
    cudaStream_t st;
    CK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    for (int mi = 0; mi < nM; mi++) {
        const int64_t M = Ms[mi];
        if (qn_cuda_matmul_q_scratch(&ws[0], M, g_sms) > sb) {
            us_out[mi] = -1;
            continue;
        }
        for (int i = 0; i < 3; i++)
            CK((cudaError_t)qn_cuda_matmul_q(&ws[i % copies], QUANTA_BF16, x, QUANTA_BF16, y, M, scratch, sb, g_counters,
                                               QN_CUDA_MATMUL_COUNTERS, g_sms, st));
        CK(cudaStreamSynchronize(st));
        const int R = M >= 1024 ? 4 : M >= 128 ? 10 : 40;
        cudaGraph_t graph;
        cudaGraphExec_t exec;
        CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal));
        for (int i = 0; i < R; i++)
            qn_cuda_matmul_q(&ws[i % copies], QUANTA_BF16, x, QUANTA_BF16, y, M, scratch, sb, g_counters,
                                               QN_CUDA_MATMUL_COUNTERS, g_sms, st);
        CK(cudaStreamEndCapture(st, &graph));
        CK(cudaGraphInstantiate(&exec, graph, 0));
        us_out[mi] = graph_median_ms(exec, st, e0, e1, 7) * 1e3f / R;
        cudaGraphExecDestroy(exec), cudaGraphDestroy(graph);
    }
    cudaEventDestroy(e0), cudaEventDestroy(e1), cudaStreamDestroy(st);
    cudaFree(x), cudaFree(y), cudaFree(scratch);
    for (void *d : devs) cudaFree(d);
}

static double copy_bw() {
    const size_t bytes = 1ull << 30;
    void *a, *b;
    CK(cudaMalloc(&a, bytes));
    CK(cudaMalloc(&b, bytes));
    CK(cudaMemset(a, 1, bytes));
    for (int i = 0; i < 3; i++) CK((cudaError_t)qn_cuda_copy(b, a, bytes, nullptr));
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    const float ms = median_ms(nullptr, e0, e1, 5, [&] {
        for (int i = 0; i < 10; i++) CK((cudaError_t)qn_cuda_copy(i & 1 ? a : b, i & 1 ? b : a, bytes, nullptr));
    });
    cudaFree(a), cudaFree(b);
    return 2.0 * bytes * 10 / (ms * 1e-3);
}

static int run_bench(const char *csv_path, const char *only) {
    const shape shapes[] = {{"qkv", 5120, 15360}, {"o", 5120, 5120}, {"gate_up", 5120, 27648}, {"down", 13824, 5120}};
    const fmt_case fm[] = {{"q4g128", QUANTA_Q4, 128, 0}, {"q4g64", QUANTA_Q4, 64, 0}, {"nf4", QUANTA_NF4, 64, 0},
                           {"q8", QUANTA_Q8, 0, 0},       {"e4m3", QUANTA_FP8_E4M3, 0, 0}, {"f16", QUANTA_F16, 0, 0}};
    const int64_t Ms[] = {1, 2, 4, 8, 16, 32, 64, 256, 2048};
    const double bw = copy_bw();
    printf("copy bandwidth (qn_cuda_copy, 1 GiB, read+write): %.0f GB/s\n", bw / 1e9);
    FILE *csv = csv_path ? fopen(csv_path, "w") : nullptr;
    if (csv) fprintf(csv, "format,shape,K,N,M,us,weight_bytes,weight_GBps,pct_copy_bw,tflops\n");
    printf("%-7s %-8s %5s %8s %10s %9s %6s %8s\n", "format", "shape", "M", "us", "wbytes MB", "GB/s", "%copy", "TFLOP/s");
    for (const fmt_case &f : fm) {
        if (only && strcmp(only, f.name) != 0) continue;
        for (const shape &sh : shapes) {
            qn_cuda_packed pk = random_packed(f, sh.N, sh.K);
            const int nM = (int)(sizeof Ms / sizeof Ms[0]);
            double us_all[16];
            bench_shape(pk, Ms, nM, us_all);
            const double wb = (double)pk.bytes;
            for (int mi = 0; mi < nM; mi++) {
                const int64_t M = Ms[mi];
                const double us = us_all[mi];
                if (us <= 0) continue;
                const double gbs = wb / (us * 1e-6) / 1e9, tf = 2.0 * M * sh.N * sh.K / (us * 1e-6) / 1e12;
                printf("%-7s %-8s %5lld %8.1f %10.1f %9.0f %5.0f%% %8.1f\n", f.name, sh.name, (long long)M, us, wb / 1e6,
                       gbs, 100.0 * gbs * 1e9 / bw, tf);
                if (csv)
                    fprintf(csv, "%s,%s,%lld,%lld,%lld,%.2f,%.0f,%.1f,%.1f,%.2f\n", f.name, sh.name, (long long)sh.K,
                            (long long)sh.N, (long long)M, us, wb, gbs, 100.0 * gbs * 1e9 / bw, tf);
                fflush(stdout);
            }
            free(pk.buf);
        }
    }
    if (csv) fclose(csv);
    return 0;
}

int main(int argc, char **argv) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
        printf("no CUDA device\n");
        return 77;
    }
    CK(cudaDeviceGetAttribute(&g_sms, cudaDevAttrMultiProcessorCount, 0));
    CK(cudaMalloc(&g_counters, QN_CUDA_MATMUL_COUNTERS * sizeof(unsigned)));
    CK(cudaMemset(g_counters, 0, QN_CUDA_MATMUL_COUNTERS * sizeof(unsigned)));
    if (const char *s = getenv("QUANTA_TEST_SEED")) rng_state = strtoull(s, nullptr, 0);
    if (const char *s = getenv("QN_BIG_MIN_M")) qn_cuda_matmul_big_min_m = atoi(s);
    printf("seed %llu\n", (unsigned long long)rng_state);
    const char *mode = argc > 1 ? argv[1] : "check";
    if (!strcmp(mode, "check")) return run_check(false);
    if (!strcmp(mode, "quick")) return run_check(true);
    if (!strcmp(mode, "bench")) return run_bench(argc > 2 ? argv[2] : nullptr, argc > 3 ? argv[3] : nullptr);
    fprintf(stderr, "usage: kernel_check check | quick | bench [csv] [format]\n");
    return 2;
}
