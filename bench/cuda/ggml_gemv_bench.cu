/*
 * ggml_gemv_bench.cu — kernel rows of the batch-1 ggml GEMV (kernels_cuda/ggml.cu) on the 7B's
 * shapes, against the copy bandwidth measured in the same process. Standalone (links ggml.cu
 * only). build_gemv_bench.sh builds it twice: with the kernel's default chunks per lane and round
 * (QN_GEMV_U) and with QN_GEMV_U=1 (the one-chunk loop before 2026-12-05), for a side-by-side row;
 * QUANTA_CUDA_PDL=0 launches without programmatic dependent launch; QUANTA_CUDA_GEMV_LPR (32, 64,
 * 128: threads per weight row), QUANTA_CUDA_GEMV_PREFETCH=0, QUANTA_CUDA_GEMV_STAGED=0 and
 * QUANTA_CUDA_GEMV_RPW (2, 4), QUANTA_CUDA_GEMV_SPLITK (0, 1 by shape, 2, 4: warps sharing a row group of the
 * staged kernel), QUANTA_CUDA_GEMV_SPLITK_GLU (0, 2, 4), QUANTA_CUDA_GEMV_OCC=1 and QUANTA_CUDA_GEMV_CPASYNC (0, 1; by
 * shape when unset) pick the kernel as in the library;
 * QN_BENCH_FMTS (e.g. "q4_0,q8_0") limits the formats. Besides the copy, a read-only kernel (16-byte loads over
 * 1 GiB, the GEMV's access pattern without the arithmetic) gives the read bandwidth the GEMV rows are also shown
 * against (%read).
 * Every row also prints an FNV-1a hash of the output bytes, which must be the same in all runs of
 * one LPR and split K (PDL, prefetch, U, OCC and CPASYNC keep the order of the sums; another LPR or SPLITK splits the
 * row another way).
 * The last two rows are the gated pair (matmul_glu) on the 7B's 14336 x 4096: the int8 kernel with
 * both planes of x's codes, and the f32 form.
 *
 *   bench/cuda/build_gemv_bench.sh OUTDIR && OUTDIR/ggml_gemv_bench [csv]
 *
 * Weights: random bytes with a valid f16 scale per block (timing does not depend on values, the
 * hash does), enough copies of each matrix to rotate through more than the L2, 50 calls per CUDA
 * graph, median of 5 graph launches. x: random f32, quantized once by qn_cuda_ggml_quantize_x.
 */
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "cuda_kernels.h" /* kernels_cuda/, and formats/layout.h through it */
#include "driver.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t next32() { /* xorshift64* */
    rng ^= rng >> 12, rng ^= rng << 25, rng ^= rng >> 27;
    return (uint32_t)((rng * 0x2545F4914F6CDD1Dull) >> 32);
}

/* Offsets of the f16 scales in a block (set to ~0.0078 so no value is Inf or NaN). */
static void scale_offsets(int dt, std::vector<int> &o) {
    o.clear();
    if (dt == QN_DT_GGML_Q4_K || dt == QN_DT_GGML_Q5_K) o = {0, 2};
    else if (dt == QN_DT_GGML_Q6_K) o = {208};
    else if (dt == QN_DT_GGML_Q4_1 || dt == QN_DT_GGML_Q5_1) o = {0, 2};
    else o = {0};
}

/* The read floor: every 16-byte word of n once, xor-folded so the loads are not removed. */
__global__ void read_only(const int4 *p, size_t n, int *out) {
    int v = 0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        const int4 w = __ldg(p + i);
        v ^= w.x ^ w.y ^ w.z ^ w.w;
    }
    if (v == 0x7fffffff) *out = v;
}

extern "C" int qn_cuda_pdl_on; /* kernels_cuda/cuda_common.cuh; defined by rows.cu in libquanta */
int qn_cuda_pdl_on = 0;

#ifndef QN_GEMV_U
#define QN_GEMV_U 0 /* the kernel's default (not passed to the build) */
#endif

int main(int argc, char **argv) {
    FILE *csv = argc > 1 ? fopen(argv[1], "w") : nullptr;
    const char *pdl = getenv("QUANTA_CUDA_PDL");
    qn_cuda_pdl_on = !(pdl && !strcmp(pdl, "0"));
    char mode[96];
    const char *lpr = getenv("QUANTA_CUDA_GEMV_LPR"), *pre = getenv("QUANTA_CUDA_GEMV_PREFETCH");
    const char *stg = getenv("QUANTA_CUDA_GEMV_STAGED"), *rpw = getenv("QUANTA_CUDA_GEMV_RPW");
    const char *spk = getenv("QUANTA_CUDA_GEMV_SPLITK"), *spg = getenv("QUANTA_CUDA_GEMV_SPLITK_GLU");
    const char *occ = getenv("QUANTA_CUDA_GEMV_OCC"), *fsel = getenv("QN_BENCH_FMTS");
    const char *cpa = getenv("QUANTA_CUDA_GEMV_CPASYNC");
    snprintf(mode, sizeof mode, "U%d-pdl%d-lpr%s-pre%s-staged%s-rpw%s-sk%s-skg%s-occ%s-cp%s", QN_GEMV_U, qn_cuda_pdl_on,
             lpr ? lpr : "auto", pre ? pre : "1", stg ? stg : "1", rpw ? rpw : "auto", spk ? spk : "0", spg ? spg : "0",
             occ ? occ : "0", cpa ? cpa : "auto");
    cudaStream_t st;
    CK(cudaStreamCreate(&st));
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));

    const size_t cb = 1ull << 30;
    void *ca, *cbuf;
    CK(cudaMalloc(&ca, cb));
    CK(cudaMalloc(&cbuf, cb));
    CK(cudaMemset(ca, 1, cb));
    const float cms = median_ms(st, e0, e1, 5, [&] {
        for (int i = 0; i < 10; i++) CK(cudaMemcpyAsync(i & 1 ? ca : cbuf, i & 1 ? cbuf : ca, cb, cudaMemcpyDeviceToDevice, st));
    });
    const double copy = 2.0 * cb * 10 / (cms * 1e-3);
    int *sink;
    CK(cudaMalloc(&sink, sizeof(int)));
    const float rms = median_ms(st, e0, e1, 5, [&] {
        for (int i = 0; i < 10; i++) read_only<<<132 * 16, 256, 0, st>>>((const int4 *)(i & 1 ? ca : cbuf), cb / 16, sink);
    });
    const double rd = (double)cb * 10 / (rms * 1e-3);
    cudaFree(ca), cudaFree(cbuf), cudaFree(sink);
    printf("mode %s; copy bandwidth (cudaMemcpy D2D, 1 GiB, read+write): %.0f GB/s; read-only kernel: %.0f GB/s\n", mode,
           copy / 1e9, rd / 1e9);
    if (csv) fprintf(csv, "mode,format,N,K,us,weight_bytes,GBps,pct_copy,pct_read,hash\n");

    struct fmt { const char *name; int dt; } fmts[] = {{"q4_0", QN_DT_GGML_Q4_0}, {"q8_0", QN_DT_GGML_Q8_0},
                                                        {"q4_k", QN_DT_GGML_Q4_K}, {"q6_k", QN_DT_GGML_Q6_K}};
    /* N, K, kind: 0 plain, 1 glu (gate + up + silu, two planes of x's codes: the library's matmul_glu),
     * 2 the same glu in the GEMV's f32 form (the route of bd8bc16); glu bytes count both weights */
    /* the 7B's: wo 4096 x 4096, q/k/v as one 6144 x 4096 (matmul_multi's rows), down 4096 x 14336, the head */
    const int64_t shapes[][3] = {{4096, 4096, 0},  {6144, 4096, 0},  {14336, 4096, 0}, {4096, 14336, 0},
                                 {32000, 4096, 0}, {14336, 4096, 1}, {14336, 4096, 2}};
    printf("%-11s %6s %6s %9s %10s %8s %6s %6s  %s\n", "format", "N", "K", "us", "wbytes MB", "GB/s", "%copy", "%read",
           "hash");
    for (const fmt &f : fmts) {
        if (fsel && !strstr(fsel, f.name)) continue;
        for (const auto &sh : shapes) {
            const int64_t N = sh[0], K = sh[1], kind = sh[2];
            const int be = QN_GGML_BLOCK_ELEMS(f.dt), bb = QN_GGML_BLOCK_BYTES(f.dt);
            const size_t rb = (size_t)(K / be) * bb, wbytes = rb * (size_t)N * (kind ? 2 : 1);
            const int copies = (int)((256ull << 20) / wbytes) + 1;
            std::vector<uint8_t> hw(wbytes);
            std::vector<int> so;
            scale_offsets(f.dt, so);
            for (size_t i = 0; i < wbytes; i++) hw[i] = (uint8_t)next32();
            for (size_t b = 0; b < wbytes / bb; b++)
                for (int o : so) hw[b * bb + o] = 0x00, hw[b * bb + o + 1] = 0x20;
            uint8_t *w;
            CK(cudaMalloc(&w, wbytes * copies));
            for (int c = 0; c < copies; c++) CK(cudaMemcpy(w + wbytes * c, hw.data(), wbytes, cudaMemcpyHostToDevice));
            std::vector<float> hx((size_t)K);
            for (auto &v : hx) v = (float)((int)(next32() % 2001) - 1000) / 1000.0f;
            float *x, *y;
            void *xq;
            CK(cudaMalloc(&x, K * sizeof(float)));
            CK(cudaMalloc(&y, N * sizeof(float)));
            CK(cudaMalloc(&xq, qn_cuda_ggml_xq_bytes(1, K)));
            CK(cudaMemcpy(x, hx.data(), K * sizeof(float), cudaMemcpyHostToDevice));
            CK((cudaError_t)qn_cuda_ggml_quantize_x(QN_DT_F32, x, 1, K, xq, st));
            cudaGraph_t g;
            cudaGraphExec_t ge;
            const int calls = 50;
            CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeGlobal));
            /* glu: gate = the first half of the copy, up = the second */
            auto call = [&](const uint8_t *wc) {
                const uint8_t *up = kind ? wc + wbytes / 2 : nullptr;
                if (kind == 2)
                    return qn_cuda_ggml_gemv_f32(f.dt, wc, up, QN_UNARY_SILU, N, K, QN_DT_F32, x, 1, QN_DT_F32, y, st);
                return qn_cuda_ggml_gemv(f.dt, wc, up, QN_UNARY_SILU, N, K, xq, 1, QN_DT_F32, y, st);
            };
            for (int i = 0; i < calls; i++) CK((cudaError_t)call(w + wbytes * (i % copies)));
            CK(cudaStreamEndCapture(st, &g));
            CK(cudaGraphInstantiate(&ge, g, 0));
            const float ms = graph_median_ms(ge, st, e0, e1, 5);
            const double us = ms * 1e3 / calls, gbps = wbytes / (us * 1e-6) / 1e9;
            CK((cudaError_t)call(w));
            std::vector<uint8_t> hy((size_t)N * 4);
            CK(cudaMemcpyAsync(hy.data(), y, hy.size(), cudaMemcpyDeviceToHost, st));
            CK(cudaStreamSynchronize(st));
            uint64_t h = 0xcbf29ce484222325ull;
            for (uint8_t b : hy) h = (h ^ b) * 0x100000001b3ull;
            static const char *kinds[] = {"", "-glu", "-gluf32"};
            char fname[32];
            snprintf(fname, sizeof fname, "%s%s", f.name, kinds[kind]);
            printf("%-11s %6lld %6lld %9.2f %10.1f %8.0f %5.1f%% %5.1f%%  %016llx\n", fname, (long long)N, (long long)K,
                   us, wbytes / 1e6, gbps, 100.0 * gbps * 1e9 / copy, 100.0 * gbps * 1e9 / rd, (unsigned long long)h);
            if (csv)
                fprintf(csv, "%s,%s,%lld,%lld,%.3f,%zu,%.1f,%.1f,%.1f,%016llx\n", mode, fname, (long long)N, (long long)K,
                        us, wbytes, gbps, 100.0 * gbps * 1e9 / copy, 100.0 * gbps * 1e9 / rd, (unsigned long long)h);
            cudaGraphExecDestroy(ge), cudaGraphDestroy(g);
            cudaFree(w), cudaFree(x), cudaFree(y), cudaFree(xq);
        }
    }
    if (csv) fclose(csv);
    return 0;
}
