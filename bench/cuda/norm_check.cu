/*
 * norm_check.cu — the lean form of the register norm kernel (qn_k_rms_norm_regs<..., ILV>, QUANTA_CUDA_NORM_LEAN:
 * interleaved codes, dtypes folded where all f32) against its plain form, outside libquanta: this file includes
 * kernels_cuda/elementwise.cu, so it can set the switch's cache between calls of the same host entry points.
 *
 *   norm_check check [seed]   every norm entry point (rms_norm with and without weight / 1 + w / r / p,
 *                             rms_norm_add_norm, add_norm) x dtype x D (32 .. 1024, codes where D % 32 == 0) x
 *                             rows (1, 3, 9): y, y2 and the int8 codes of both planes of the lean form must equal
 *                             the plain form's byte for byte;
 *                             outputs poisoned (differently) before each run
 *   norm_check bench          one row of D = 640 (Gemma 3 270M) and of 1024: us per launch of add_norm,
 *                             rms_norm_add_norm and rms_norm with codes, plain vs lean form, 2000
 *                             back-to-back launches, PDL on (as the backend launches them on sm_90) and off (each
 *                             launch waits for the one before: close to the latency ncu's per-kernel times show)
 *
 * Exit status 0 only if every check passed. Build: bench/cuda/verify_paths.sh does (nvcc, sm_90).
 */
#include "../../kernels_cuda/elementwise.cu"

#include <cstdio>
#include <cstdlib>
#include <vector>

#include "driver.h"

extern "C" {
int qn_cuda_pdl_on = 1;
}

static uint64_t rng_state;
static double urand() { return qn_bench_urand(&rng_state); }
static float nrand(float mean, float sd) {
    double s = 0;
    for (int i = 0; i < 4; i++) s += urand() * 2 - 1;
    return mean + sd * (float)(s * 0.8660254);
}


static size_t dt_size(int dt) { return dt == QN_DT_F32 ? 4 : 2; }

/* n values ~ N(mean, sd) in dtype dt on the device. */
static void *dev_fill(int dt, size_t n, float mean, float sd) {
    std::vector<unsigned char> h(n * dt_size(dt));
    for (size_t i = 0; i < n; i++) {
        const float v = nrand(mean, sd);
        if (dt == QN_DT_F32) memcpy(&h[4 * i], &v, 4);
        else if (dt == QN_DT_F16) {
            const __half b = __float2half_rn(v);
            memcpy(&h[2 * i], &b, 2);
        } else {
            const __nv_bfloat16 b = __float2bfloat16_rn(v);
            memcpy(&h[2 * i], &b, 2);
        }
    }
    void *d;
    CK(cudaMalloc(&d, h.size()));
    CK(cudaMemcpy(d, h.data(), h.size(), cudaMemcpyHostToDevice));
    return d;
}

/* The bytes the codes of rows x D take (what qn_cuda_ggml_xq_bytes in ggml.cu, not linked here, gives room for):
 * the end of the second plane's half sums, the planes laid out from an aligned base as the kernels lay them. */
static size_t xq_bytes(int64_t rows, int64_t D) {
    char *base = (char *)(uintptr_t)4096;
    int8_t *xl;
    int *sl;
    qn_cuda_ggml_xq_lo(base, rows, D, &xl, &sl);
    return (size_t)((char *)(sl + rows * (D / 32)) - base) + 256;
}

enum op { RMS_NORM, RMS_NORM_ADD_NORM, ADD_NORM };
static const char *op_name[] = {"rms_norm", "rms_norm_add_norm", "add_norm"};

struct norm_case {
    op o;
    int dt, wmode; /* wmode 0 no weight, 1 w, 2 1 + w */
    bool r, p, codes;
    int64_t rows, D;
};

struct norm_bufs {
    void *x, *r, *p, *w, *w2, *y, *y2, *xq;
    size_t ny, nxq;
};

static int run(const norm_case &c, const norm_bufs &b, int *done) {
    const int dt = c.dt, plus1 = c.wmode == 2;
    const void *w = c.wmode ? b.w : NULL, *w2 = c.wmode ? b.w2 : NULL;
    void *xq = c.codes ? b.xq : NULL;
    switch (c.o) {
    case RMS_NORM:
        return qn_cuda_rms_norm(dt, b.x, dt, c.r ? b.r : NULL, QN_DT_F32, w, dt, c.p ? b.p : NULL, dt, b.y, c.rows, c.D,
                                1e-6f, plus1, xq, done, NULL, 0);
    case RMS_NORM_ADD_NORM:
        return qn_cuda_rms_norm_add_norm(dt, b.x, dt, b.p, QN_DT_F32, w, QN_DT_F32, w2, dt, b.y, b.y2, c.rows, c.D,
                                         1e-6f, plus1, xq, done, NULL, 0);
    default:
        return qn_cuda_add_norm(dt, b.x, dt, b.p, QN_DT_F32, w, dt, b.y, b.y2, c.rows, c.D, 1e-6f, plus1, xq, done,
                                NULL, 0);
    }
}

/* The forms compared: plain, lean (QUANTA_CUDA_NORM_LEAN=1). */
static const char *kernel_name[] = {"plain", "lean"};
static void set_kernel(int kind) { norm_lean_cache.store(kind == 1); }

/* The case's outputs after a run with kernel `kind`, outputs poisoned with byte `poison` first. */
static std::vector<unsigned char> outputs(const norm_case &c, const norm_bufs &b, int kind, int poison, int *done) {
    set_kernel(kind);
    CK(cudaMemset(b.y, poison, b.ny));
    CK(cudaMemset(b.y2, poison, b.ny));
    CK(cudaMemset(b.xq, poison, b.nxq));
    const int e = run(c, b, done);
    if (e) {
        fprintf(stderr, "launch: %s\n", cudaGetErrorString((cudaError_t)e));
        exit(2);
    }
    CK(cudaDeviceSynchronize());
    std::vector<unsigned char> h(2 * b.ny + b.nxq);
    CK(cudaMemcpy(h.data(), b.y, b.ny, cudaMemcpyDeviceToHost));
    if (c.o != RMS_NORM) CK(cudaMemcpy(h.data() + b.ny, b.y2, b.ny, cudaMemcpyDeviceToHost));
    else memset(h.data() + b.ny, 0, b.ny);
    /* the codes' parts (not the padding between them): xq, dx, sx, xl, sl */
    std::vector<unsigned char> q(b.nxq);
    CK(cudaMemcpy(q.data(), b.xq, b.nxq, cudaMemcpyDeviceToHost));
    memset(h.data() + 2 * b.ny, 0, b.nxq);
    if (c.codes && *done) {
        int8_t *xqp, *xlp;
        float *dxp;
        int *sxp, *slp;
        qn_cuda_ggml_xq_split(b.xq, c.rows, c.D, &xqp, &dxp, &sxp);
        qn_cuda_ggml_xq_lo(b.xq, c.rows, c.D, &xlp, &slp);
        const size_t n = (size_t)(c.rows * c.D), nc = n / 32;
        const struct {
            const void *p;
            size_t bytes;
        } parts[5] = {{xqp, n}, {dxp, 4 * nc}, {sxp, 4 * nc}, {xlp, n}, {slp, 4 * nc}};
        for (int i = 0; i < 5; i++) {
            const size_t off = (size_t)((const char *)parts[i].p - (const char *)b.xq);
            memcpy(h.data() + 2 * b.ny + off, q.data() + off, parts[i].bytes);
        }
    }
    return h;
}

static int check(uint64_t seed) {
    rng_state = seed;
    printf("norm_check check seed %llu\n", (unsigned long long)seed);
    const int64_t Ds[] = {32, 64, 96, 200, 256, 288, 640, 768, 1000, 1024, 2048, 4096};
    const int64_t Rs[] = {1, 3, 9};
    const int dts[] = {QN_DT_F32, QN_DT_F16, QN_DT_BF16};
    int cases = 0, fails = 0, with_codes = 0;
    for (int64_t D : Ds)
        for (int64_t rows : Rs)
            for (int dt : dts) {
                norm_bufs b;
                const size_t n = (size_t)(rows * D);
                b.x = dev_fill(dt, n, 0.2f, 1.0f), b.r = dev_fill(dt, n, 0.0f, 0.1f), b.p = dev_fill(dt, n, 0.0f, 1.0f);
                b.w = dev_fill(QN_DT_F32, (size_t)D, 0.3f, 0.5f), b.w2 = dev_fill(QN_DT_F32, (size_t)D, 1.0f, 0.3f);
                b.ny = n * dt_size(dt), b.nxq = xq_bytes(rows, D);
                CK(cudaMalloc(&b.y, b.ny));
                CK(cudaMalloc(&b.y2, b.ny));
                CK(cudaMalloc(&b.xq, b.nxq));
                for (int o = 0; o < 3; o++)
                    for (int v = 0; v < 6; v++) {
                        norm_case c;
                        c.o = (op)o, c.dt = dt, c.rows = rows, c.D = D;
                        c.wmode = v % 3, c.codes = v >= 3;
                        c.r = o == RMS_NORM && v % 2 == 1, c.p = o == RMS_NORM && v >= 2 && v != 3;
                        int d0 = 0;
                        const std::vector<unsigned char> a = outputs(c, b, 0, 0x7f, &d0);
                        cases++;
                        for (int kind = 1; kind < 2; kind++) {
                            int d1 = 0;
                            const std::vector<unsigned char> w = outputs(c, b, kind, 0xa5, &d1);
                            with_codes += d1;
                            size_t first = a.size();
                            for (size_t i = 0; i < a.size(); i++)
                                if (a[i] != w[i]) {
                                    first = i;
                                    break;
                                }
                            if (first < a.size() || d0 != d1) {
                                fails++;
                                if (fails <= 12)
                                    printf("FAIL %s vs plain: %s dt=%d D=%lld rows=%lld w=%d r=%d p=%d codes=%d: first "
                                           "differing byte %zu of %zu (y %zu, y2 %zu, codes after), done %d/%d\n",
                                           kernel_name[kind], op_name[o], dt, (long long)D, (long long)rows, c.wmode,
                                           c.r, c.p, c.codes, first, a.size(), b.ny, b.ny, d0, d1);
                            }
                        }
                    }
                void *ps[] = {b.x, b.r, b.p, b.w, b.w2, b.y, b.y2, b.xq};
                for (void *p : ps) CK(cudaFree(p));
            }
    printf("norm_check: %d cases (%d with codes), %d differ between the lean and the plain form\n", cases, with_codes,
           fails);
    return fails ? 1 : 0;
}

/* us per launch of c, `iters` back to back on one stream. */
static double time_case(const norm_case &c, const norm_bufs &b, int kind, int iters) {
    set_kernel(kind);
    int done;
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    for (int i = 0; i < 50; i++) run(c, b, &done);
    CK(cudaEventRecord(e0));
    for (int i = 0; i < iters; i++) run(c, b, &done);
    CK(cudaEventRecord(e1));
    CK(cudaEventSynchronize(e1));
    float ms;
    CK(cudaEventElapsedTime(&ms, e0, e1));
    CK(cudaGetLastError());
    return 1000.0 * ms / iters;
}

static int bench() {
    rng_state = 1;
    printf("| op (1 row, f32, codes) | D | PDL | plain form us | lean form us |\n|---|---|---|---|---|\n");
    for (int64_t D : {640, 1024}) {
        norm_bufs b;
        const int dt = QN_DT_F32;
        b.x = dev_fill(dt, D, 0.2f, 1.0f), b.r = dev_fill(dt, D, 0, 0.1f), b.p = dev_fill(dt, D, 0, 1);
        b.w = dev_fill(dt, D, 0.3f, 0.5f), b.w2 = dev_fill(dt, D, 1, 0.3f);
        b.ny = D * 4, b.nxq = xq_bytes(1, D);
        CK(cudaMalloc(&b.y, b.ny));
        CK(cudaMalloc(&b.y2, b.ny));
        CK(cudaMalloc(&b.xq, b.nxq));
        for (int pdl = 1; pdl >= 0; pdl--) /* off: each launch waits for the one before to finish, as under ncu */
            for (int o = 0; o < 3; o++) {
                qn_cuda_pdl_on = pdl;
                norm_case c;
                c.o = (op)o, c.dt = dt, c.rows = 1, c.D = D, c.wmode = 2, c.codes = true, c.r = false,
                c.p = o != RMS_NORM;
                double t[2][2];
                for (int rep = 0; rep < 2; rep++)
                    for (int kind = 0; kind < 2; kind++) t[rep][kind] = time_case(c, b, kind, 2000);
                printf("| %s | %lld | %s | %.2f, %.2f | %.2f, %.2f |\n", op_name[o], (long long)D, pdl ? "on" : "off",
                       t[0][0], t[1][0], t[0][1], t[1][1]);
            }
        qn_cuda_pdl_on = 1;
        void *ps[] = {b.x, b.r, b.p, b.w, b.w2, b.y, b.y2, b.xq};
        for (void *p : ps) CK(cudaFree(p));
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "check")) {
        const uint64_t seed = argc >= 3 ? strtoull(argv[2], NULL, 10) : (uint64_t)time(NULL);
        return check(seed);
    }
    if (argc >= 2 && !strcmp(argv[1], "bench")) return bench();
    fprintf(stderr, "usage: norm_check check [seed] | bench\n");
    return 2;
}
