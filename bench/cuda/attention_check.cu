/*
 * attention_check.cu — standalone driver for kernels_cuda/attention.cu on a CUDA device.
 *   attention_check check        every correctness case against a float64 CPU reference
 *   attention_check small        a few small cases (for compute-sanitizer)
 *   attention_check bench FILE   times our kernels (default dispatch and tile variants), CSV to FILE
 *   attention_check wg [VARS]    the wgmma prefill kernel (attention_wg.cu, fa12), its tile variants, against the
 *                                float64 reference (and, with 0 in VARS, the dispatch under QUANTA_CUDA_ATTN_WG=1)
 *   attention_check wgsmall [VARS]  two small cases of it (for compute-sanitizer; no VARS: n128s2, n64s4wsp)
 *   attention_check wgsame [BASE,VARS]  the wg cases' outputs of each form against BASE's, byte for byte (default
 *                                66,70: fa20's back-to-back form, which claims to be bit-identical to 66)
 *   attention_check wgbench FILE [VARS]  hd128 prefill rows: the mma.sync kernel (0, the default dispatch) and the
 *                                wgmma variants (1..39, attention_wg.h), appended to FILE if it has rows
 *   VARS: a comma list, e.g. 0,1,2 (default: all)
 * The kernel files are included so that the benchmark can force tile variants, and the launch
 * planning (engine/cuda/cuda_attention_plan.c, C that also compiles as C++) with them.
 * Build (sm_90a: the wgmma kernel is compiled for it alone and traps elsewhere):
 *        nvcc -std=c++17 -O2 -gencode arch=compute_90a,code=sm_90a -Ikernels_cuda -Iinclude -Iformats \
 *        -Iengine/cuda bench/cuda/attention_check.cu -o attention_check
 */
#define QN_AWG_ALL_FORMS 1 /* every research form, for side-by-side runs */
#include "../../kernels_cuda/attention.cu"
#include "../../kernels_cuda/attention_wg.cu"
#include "../../engine/cuda/cuda_attention_plan.c"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "driver.h"

/* kernels_cuda/cuda_common.cuh's switch, defined by rows.cu in libquanta: this driver links no libquanta, and
 * launches the attention kernels without programmatic dependent launch */
int qn_cuda_pdl_on = 0;

static const char *dtname(int dt) { return dt == kF32 ? "f32" : dt == kF16 ? "f16" : "bf16"; }

__device__ __forceinline__ float hash_unit(unsigned long long i, unsigned long long seed)
{
    unsigned long long x = i * 0x9E3779B97F4A7C15ull + seed * 0xD1B54A32D192ED03ull + 0x632BE59BD9B4E019ull;
    x ^= x >> 31;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 29;
    x *= 0x94D049BB133111EBull;
    x ^= x >> 32;
    return (float)(x & 0xFFFFFF) / 8388608.0f - 1.0f; /* [-1, 1) */
}

template <typename T> __global__ void fill_kernel(T *x, size_t n, unsigned long long seed, float amp)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        x[i] = Ty<T>::from_f(amp * hash_unit(i, seed));
}

static void fill(int dt, void *p, size_t n, unsigned long long seed, float amp)
{
    if (dt == kF32)
        fill_kernel<float><<<1024, 256>>>((float *)p, n, seed, amp);
    else if (dt == kF16)
        fill_kernel<__half><<<1024, 256>>>((__half *)p, n, seed, amp);
    else
        fill_kernel<__nv_bfloat16><<<1024, 256>>>((__nv_bfloat16 *)p, n, seed, amp);
    CK(cudaGetLastError());
}

static double host_val(int dt, const void *p, size_t i)
{
    if (dt == kF32)
        return ((const float *)p)[i];
    if (dt == kF16)
        return (double)__half2float(((const __half *)p)[i]);
    return (double)__bfloat162float(((const __nv_bfloat16 *)p)[i]);
}

struct Case {
    std::string name;
    int dt;
    long long B, Hq, Hkv, Nq, Nk, D;
    int causal, window;
    int mask;   /* 0 none, 1 [Nq,Nk], 2 [B,Nq,Nk] */
    int kvlens; /* 0 none, 1 random lengths (some 0, one Nk) */
    int sample; /* rows checked; 0 = all */
    float qamp;
    float scale_mul = 1.0f;
};

static unsigned long long g_seed = 12345;

struct DevCase {
    void *q = nullptr, *k = nullptr, *v = nullptr, *out = nullptr, *scratch = nullptr;
    uint8_t *mask = nullptr;
    int32_t *kvl = nullptr;
    std::vector<uint8_t> hmask;
    std::vector<int32_t> hkvl;
    size_t scratch_bytes = 0;
    qn_cuda_attention_args a{}; /* zeroed: the fields this tool does not set (the codes, xq) stay off */
};

static void setup(const Case &c, DevCase &d, unsigned long long seed)
{
    const size_t es = esize(c.dt);
    const size_t nq = (size_t)(c.B * c.Hq * c.Nq * c.D), nk = (size_t)(c.B * c.Hkv * c.Nk * c.D);
    CK(cudaMalloc(&d.q, std::max<size_t>(nq * es, 16)));
    CK(cudaMalloc(&d.out, std::max<size_t>(nq * es, 16)));
    CK(cudaMalloc(&d.k, std::max<size_t>(nk * es, 16)));
    CK(cudaMalloc(&d.v, std::max<size_t>(nk * es, 16)));
    fill(c.dt, d.q, nq, seed * 3 + 1, c.qamp);
    fill(c.dt, d.k, nk, seed * 3 + 2, 1.0f);
    fill(c.dt, d.v, nk, seed * 3 + 3, 1.0f);
    srand((unsigned)seed);
    if (c.mask) {
        const size_t nm = (size_t)((c.mask == 2 ? c.B : 1) * c.Nq * c.Nk);
        d.hmask.resize(nm);
        for (size_t i = 0; i < nm; ++i)
            d.hmask[i] = (rand() % 4) != 0;
        /* some rows fully hidden */
        for (long long r = 0; r < (c.mask == 2 ? c.B : 1) * c.Nq; r += 7)
            for (long long j = 0; j < c.Nk; ++j)
                d.hmask[r * c.Nk + j] = 0;
        CK(cudaMalloc(&d.mask, std::max<size_t>(nm, 16)));
        CK(cudaMemcpy(d.mask, d.hmask.data(), nm, cudaMemcpyHostToDevice));
    }
    if (c.kvlens) {
        d.hkvl.resize(c.B);
        for (long long b = 0; b < c.B; ++b)
            d.hkvl[b] = (int32_t)(rand() % (c.Nk + 1));
        d.hkvl[0] = (int32_t)c.Nk;
        if (c.B > 2)
            d.hkvl[2] = 0;
        CK(cudaMalloc(&d.kvl, c.B * 4));
        CK(cudaMemcpy(d.kvl, d.hkvl.data(), c.B * 4, cudaMemcpyHostToDevice));
    }
    memset(&d.a, 0, sizeof(d.a));
    d.a.dtype = c.dt;
    d.a.q = d.q;
    d.a.k = d.k;
    d.a.v = d.v;
    d.a.mask = d.mask;
    d.a.mask_batched = c.mask == 2;
    d.a.kv_lens = d.kvl;
    d.a.out = d.out;
    d.a.B = c.B;
    d.a.Hq = c.Hq;
    d.a.Hkv = c.Hkv;
    d.a.Nq = c.Nq;
    d.a.Nk = c.Nk;
    d.a.D = c.D;
    d.a.scale = (float)(1.0 / sqrt((double)c.D)) * c.scale_mul;
    d.a.causal = c.causal;
    d.a.window = c.window;
    d.scratch_bytes = qn_cuda_attention_scratch_bytes(&d.a);
    if (d.scratch_bytes) {
        CK(cudaMalloc(&d.scratch, d.scratch_bytes));
        d.a.scratch = d.scratch;
        d.a.scratch_bytes = d.scratch_bytes;
    }
    CK(cudaDeviceSynchronize());
}

static void teardown(DevCase &d)
{
    cudaFree(d.q);
    cudaFree(d.k);
    cudaFree(d.v);
    cudaFree(d.out);
    cudaFree(d.scratch);
    cudaFree(d.mask);
    cudaFree(d.kvl);
    d = DevCase();
}

/* float64 reference of one output row (natural index b,h,q) */
static bool ref_row(const Case &c, const DevCase &d, const std::vector<char> &hq, const std::vector<char> &hk,
                    const std::vector<char> &hv, long long b, long long h, long long qi, std::vector<double> &out)
{
    const long long G = c.Hq / c.Hkv, hkv = h / G, D = c.D;
    long long L = c.Nk;
    if (c.kvlens)
        L = std::min<long long>(std::max<long long>(d.hkvl[b], 0), c.Nk);
    const long long pos = L - c.Nq + qi;
    const double scale = (double)d.a.scale;
    const size_t qoff = (size_t)(((b * c.Hq + h) * c.Nq + qi) * D);
    const size_t kbase = (size_t)((b * c.Hkv + hkv) * c.Nk * D);
    std::vector<double> qd(D);
    for (long long x = 0; x < D; ++x)
        qd[x] = host_val(c.dt, hq.data(), qoff + x);
    std::vector<double> s;
    std::vector<long long> keys;
    for (long long j = 0; j < L; ++j) {
        if (c.causal && j > pos)
            continue;
        if (c.window > 0 && j <= pos - c.window)
            continue;
        if (c.mask && !d.hmask[(size_t)((c.mask == 2 ? b * c.Nq * c.Nk : 0) + qi * c.Nk + j)])
            continue;
        double acc = 0;
        for (long long x = 0; x < D; ++x)
            acc += qd[x] * host_val(c.dt, hk.data(), kbase + j * D + x);
        s.push_back(acc * scale);
        keys.push_back(j);
    }
    out.assign(D, 0.0);
    if (s.empty())
        return false;
    double mx = *std::max_element(s.begin(), s.end()), sum = 0;
    for (double &x : s) {
        x = exp(x - mx);
        sum += x;
    }
    for (size_t i = 0; i < s.size(); ++i)
        for (long long x = 0; x < D; ++x)
            out[x] += s[i] * host_val(c.dt, hv.data(), kbase + keys[i] * D + x);
    for (long long x = 0; x < D; ++x)
        out[x] /= sum;
    return true;
}

static double tolerance(int dt) { return dt == kF32 ? 2e-5 : dt == kF16 ? 2e-3 : 1e-2; }

static int g_fail = 0, g_cases = 0;

static void describe_plan(const qn_cuda_attention_args *a, const KernelInfo *force, char *buf, size_t n)
{
    qn_cuda_attn_plan pl;
    if (qn_cuda_attn_make_plan(a, force, 1, &pl) != cudaSuccess || pl.path != QN_CUDA_ATTN_PATH_KERNEL) {
        snprintf(buf, n, "path=%d", pl.path);
        return;
    }
    snprintf(buf, n, "rb=%d bn=%d thr=%d splits=%d %s%s", pl.kernel.rb, pl.kernel.bn, pl.kernel.threads, pl.splits,
             pl.kernel.threads == kGenWarps * 32 && pl.kernel.bn == kGenBN ? "generic" : "mma",
             pl.kernel.cluster ? " cluster" : "");
}

/* One call: the forced kernel (force), the wgmma kernel's variant wg (>= 0; -2: qn_cuda_attention's own
 * dispatch, which QUANTA_CUDA_ATTN_WG=1 may send to it), or the default plan. */
static int run_attn(const qn_cuda_attention_args *a, const KernelInfo *force, int wg, char *err, size_t n)
{
    if (wg >= 0) {
        if (!qn_cuda_attn_wg_applies(a)) {
            snprintf(err, n, "qn_cuda_attn_wg_applies says no");
            return (int)cudaErrorNotSupported;
        }
        return qn_cuda_attn_wg_launch(a, wg, err, n);
    }
    if (wg == -2)
        return qn_cuda_attention(a, err, n);
    return qn_cuda_attention_forced(a, force, err, n);
}

static const char *wg_name(int wg)
{
    switch (wg & 0xff) {
    case QN_CUDA_ATTN_WG_N128S3: return "wg_n128s3";
    case QN_CUDA_ATTN_WG_N64S3: return "wg_n64s3";
    case QN_CUDA_ATTN_WG_N64S4O: return "wg_n64s4o";
    case QN_CUDA_ATTN_WG_N128S3O: return "wg_n128s3o";
    case QN_CUDA_ATTN_WG_N64S4O3: return "wg_n64s4o3";
    case QN_CUDA_ATTN_WG_N64S4WS: return "wg_n64s4ws";
    case QN_CUDA_ATTN_WG_N64S4WSP: return "wg_n64s4wsp";
    case QN_CUDA_ATTN_WG_N128S3WS: return "wg_n128s3ws";
    case QN_CUDA_ATTN_WG_N128S3WSP: return "wg_n128s3wsp";
    case QN_CUDA_ATTN_WG_N128S2SW: return "wg_n128s2sw";
    case QN_CUDA_ATTN_WG_N64S4O3SW: return "wg_n64s4o3sw";
    case QN_CUDA_ATTN_WG_N64S4WSSW: return "wg_n64s4wssw";
    case QN_CUDA_ATTN_WG_N64S4WSPSW: return "wg_n64s4wspsw";
    case QN_CUDA_ATTN_WG_N128S3WSSW: return "wg_n128s3wssw";
    case QN_CUDA_ATTN_WG_N128S3WSPSW: return "wg_n128s3wspsw";
    case QN_CUDA_ATTN_WG_N128S3OSW: return "wg_n128s3osw";
    case QN_CUDA_ATTN_WG_N64S4WSTMA: return "wg_n64s4wstma";
    case QN_CUDA_ATTN_WG_N64S4WSPTMA: return "wg_n64s4wsptma";
    case QN_CUDA_ATTN_WG_N128S3WSTMA: return "wg_n128s3wstma";
    case QN_CUDA_ATTN_WG_N128S3WSPTMA: return "wg_n128s3wsptma";
    case QN_CUDA_ATTN_WG_N64S4WS3TMA: return "wg_n64s4ws3tma";
    case QN_CUDA_ATTN_WG_N64S4WSPTMAP: return "wg_n64s4wsptmap";
    case QN_CUDA_ATTN_WG_N128S3WSPTMAP: return "wg_n128s3wsptmap";
    case QN_CUDA_ATTN_WG_N128S3WSPTMAPH: return "wg_n128s3wsptmaph";
    case QN_CUDA_ATTN_WG_N128S3WSPTMAR: return "wg_n128s3wsptmar";
    case QN_CUDA_ATTN_WG_N128S3WSPTMAPHR: return "wg_n128s3wsptmaphr";
    case QN_CUDA_ATTN_WG_N128S3WSPTMAE: return "wg_n128s3wsptmae";
    case QN_CUDA_ATTN_WG_N128S3WSPTMAC: return "wg_n128s3wsptmac";
    case QN_CUDA_ATTN_WG_N128S3WSPTMAPHRE: return "wg_n128s3wsptmaphre";
    case QN_CUDA_ATTN_WG_N128S3WSPTMACR: return "wg_n128s3wsptmacr";
    case QN_CUDA_ATTN_WG_N128S3WSPTMAC4: return "wg_n128s3wsptmac4";
    case QN_CUDA_ATTN_WG_N128S3WSPTMAPHREQ: return "wg_n128s3wsptmaphreq";
    case QN_CUDA_ATTN_WG_N128S3WSTMAC: return "wg_n128s3wstmac";
    case QN_CUDA_ATTN_WG_N128S3WSPTMAM: return "wg_n128s3wsptmam";
    case QN_CUDA_ATTN_WG_N128S3WSPTMAS: return "wg_n128s3wsptmas";
    case QN_CUDA_ATTN_WG_N128S3WSPTMAPM2: return "wg_n128s3wsptmapm2";
    case QN_CUDA_ATTN_WG_N128S3WSPTMAME1: return "wg_n128s3wsptmame1";
    case QN_CUDA_ATTN_WG_N128S3WSPTMAMQ: return "wg_n128s3wsptmamq";
    case QN_CUDA_ATTN_WG_N128S3WSPTMAMT: return "wg_n128s3wsptmamt";
    case QN_CUDA_ATTN_WG_N128S3WSPTMAMTO: return "wg_n128s3wsptmamto";
    case QN_CUDA_ATTN_WG_N128S3WSPTMAPM2T: return "wg_n128s3wsptmapm2t";
    case QN_CUDA_ATTN_WG_N128S3WSPTMAMTOD: return "wg_n128s3wsptmamtod";
    case QN_CUDA_ATTN_WG_N176S2WSPTMAMTOK: return "wg_n176s2wsptmamtok";
    case QN_CUDA_ATTN_WG_N192S2WSPTMAMTOK: return "wg_n192s2wsptmamtok";
    case QN_CUDA_ATTN_WG_N128S2WSPTMAMTOKD: return "wg_n128s2wsptmamtokd";
    case QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOK: return "wg_n128s2wsptmapm2tok";
    case QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKD: return "wg_n128s2wsptmapm2tokd";
    case QN_CUDA_ATTN_WG_N128S3WSPTMAMTOT: return "wg_n128s3wsptmamtot";
    case QN_CUDA_ATTN_WG_N176S2WSPTMAMTOKT: return "wg_n176s2wsptmamtokt";
    case QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKT: return "wg_n128s2wsptmapm2tokt";
    case QN_CUDA_ATTN_WG_N128S3WSPTMAMTOL: return "wg_n128s3wsptmamtol";
    case QN_CUDA_ATTN_WG_N176S2WSPTMAMTOKL: return "wg_n176s2wsptmamtokl";
    case QN_CUDA_ATTN_WG_N128S3WSPTMAMTOR: return "wg_n128s3wsptmamtor";
    case QN_CUDA_ATTN_WG_N128S3WSPTMAMTOX: return "wg_n128s3wsptmamtox";
    case QN_CUDA_ATTN_WG_N128S3WSPTMAMTOLS: return "wg_n128s3wsptmamtols";
    case QN_CUDA_ATTN_WG_N176S2WSPTMAMTOKLS: return "wg_n176s2wsptmamtokls";
    case QN_CUDA_ATTN_WG_N128S3WSPTMAMTOH: return "wg_n128s3wsptmamtoh";
    case QN_CUDA_ATTN_WG_N128S3WSPTMAMTOHX: return "wg_n128s3wsptmamtohx";
    case QN_CUDA_ATTN_WG_N176S2WSPTMAMTOKH: return "wg_n176s2wsptmamtokh";
    case QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKH: return "wg_n128s2wsptmapm2tokh";
    case QN_CUDA_ATTN_WG_N128S3WSPTMAMTOHL: return "wg_n128s3wsptmamtohl";
    case QN_CUDA_ATTN_WG_N128S3WSPTMAMTOHH: return "wg_n128s3wsptmamtohh";
    case QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKX: return "wg_n128s2wsptmapm2tokx";
    case QN_CUDA_ATTN_WG_N176S2WSPTMAMTOKHH: return "wg_n176s2wsptmamtokhh";
    case QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHH: return "wg_n128s2wsptmapm2tokhh";
    case QN_CUDA_ATTN_WG_N128S3WSPTMAMTOH7: return "wg_n128s3wsptmamtoh7";
    case QN_CUDA_ATTN_WG_N128S3WSPTMAMTOH5: return "wg_n128s3wsptmamtoh5";
    case QN_CUDA_ATTN_WG_N128S3WSPTMAMTOHHX: return "wg_n128s3wsptmamtohhx";
    case QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHB: return "wg_n128s2wsptmapm2tokhhb";
    case QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBX: return "wg_n128s2wsptmapm2tokhhbx";
    case QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBE: return "wg_n128s2wsptmapm2tokhhbe";
    case QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBEP: return "wg_n128s2wsptmapm2tokhhbep";
    case QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBK: return "wg_n128s2wsptmapm2tokhhbk";
    case QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBEK: return "wg_n128s2wsptmapm2tokhhbek";
    case QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBEV: return "wg_n128s2wsptmapm2tokhhbev";
    case QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBR: return "wg_n128s2wsptmapm2tokhhbr";
    case QN_CUDA_ATTN_WG_N128S3WSPTMAMTOHHR: return "wg_n128s3wsptmamtohhr";
    case QN_CUDA_ATTN_WG_N176S2WSPTMAMTOKHHR: return "wg_n176s2wsptmamtokhhr";
    case QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBRP: return "wg_n128s2wsptmapm2tokhhbrp";
    case QN_CUDA_ATTN_WG_N128S3WSPTMAMTOHHRP: return "wg_n128s3wsptmamtohhrp";
    case QN_CUDA_ATTN_WG_N176S2WSPTMAMTOKHHRP: return "wg_n176s2wsptmamtokhhrp";
    case QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBRD: return "wg_n128s2wsptmapm2tokhhbrd";
    case QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBRDX: return "wg_n128s2wsptmapm2tokhhbrdx";
    case QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBRDQ: return "wg_n128s2wsptmapm2tokhhbrdq";
    case QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBRDQX: return "wg_n128s2wsptmapm2tokhhbrdqx";
    case QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBRDQF: return "wg_n128s2wsptmapm2tokhhbrdqf";
    case QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBRDF: return "wg_n128s2wsptmapm2tokhhbrdf";
    case QN_CUDA_ATTN_WG_N128S3WSPTMAMTOHHRD: return "wg_n128s3wsptmamtohhrd";
    case QN_CUDA_ATTN_WG_N176S2WSPTMAMTOKHHRD: return "wg_n176s2wsptmamtokhhrd";
    default: return "wg_n128s2";
    }
}

static bool run_check(const Case &c, const KernelInfo *force = nullptr, int wg = -1)
{
    DevCase d;
    const unsigned long long seed = ++g_seed;
    setup(c, d, seed);
    const size_t es = esize(c.dt);
    const size_t nq = (size_t)(c.B * c.Hq * c.Nq * c.D), nk = (size_t)(c.B * c.Hkv * c.Nk * c.D);
    CK(cudaMemset(d.out, 0xFF, std::max<size_t>(nq * es, 1))); /* NaN poison in every dtype */
    char err[256];
    int rc = run_attn(&d.a, force, wg, err, sizeof err);
    cudaError_t se = cudaDeviceSynchronize();
    char plan[160];
    if (wg >= 0)
        snprintf(plan, sizeof plan, "%s%s blocks=%lld", wg_name(wg), (wg & QN_CUDA_ATTN_WG_VSWAP) ? " vswap" : "",
                 qn_cuda_attn_wg_blocks(&d.a));
    else if (wg == -2 && qn_cuda_attn_wg_chosen(&d.a))
        snprintf(plan, sizeof plan, "dispatch: wgmma kernel");
    else
        describe_plan(&d.a, force, plan, sizeof plan);
    ++g_cases;
    if (rc != 0 || se != cudaSuccess) {
        printf("FAIL %-34s launch rc=%d sync=%s %s [%s]\n", c.name.c_str(), rc, cudaGetErrorString(se), err, plan);
        ++g_fail;
        teardown(d);
        if (se != cudaSuccess) {
            printf("the device is in an error state after that: stopping\n");
            exit(2);
        }
        return false;
    }
    std::vector<char> hq(nq * es), hk(nk * es), hv(nk * es), ho(nq * es);
    CK(cudaMemcpy(hq.data(), d.q, nq * es, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(hk.data(), d.k, nk * es, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(hv.data(), d.v, nk * es, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(ho.data(), d.out, nq * es, cudaMemcpyDeviceToHost));
    size_t nan = 0;
    for (size_t i = 0; i < nq; ++i)
        if (!std::isfinite(host_val(c.dt, ho.data(), i)))
            ++nan;
    const long long rows = c.B * c.Hq * c.Nq;
    std::vector<long long> pick;
    if (c.sample == 0 || c.sample >= rows) {
        for (long long r = 0; r < rows; ++r)
            pick.push_back(r);
    } else {
        srand((unsigned)seed);
        pick.push_back(0);
        pick.push_back(rows - 1);
        pick.push_back(c.Nq - 1);
        while ((int)pick.size() < c.sample)
            pick.push_back(((long long)rand() * 32768 + rand()) % rows);
    }
    const int nth = 16;
    std::vector<double> e2(nth, 0), r2(nth, 0), emax(nth, 0), zbad(nth, 0);
    std::vector<long long> nzero(nth, 0);
    std::vector<std::thread> th;
    for (int t = 0; t < nth; ++t)
        th.emplace_back([&, t]() {
            std::vector<double> ref;
            for (size_t i = t; i < pick.size(); i += nth) {
                const long long r = pick[i];
                const long long qi = r % c.Nq, h = (r / c.Nq) % c.Hq, b = r / (c.Nq * c.Hq);
                const bool any = ref_row(c, d, hq, hk, hv, b, h, qi, ref);
                for (long long x = 0; x < c.D; ++x) {
                    const double o = host_val(c.dt, ho.data(), (size_t)(r * c.D + x));
                    const double df = std::isfinite(o) ? fabs(o - ref[x]) : 1e30;
                    e2[t] += df * df;
                    r2[t] += ref[x] * ref[x];
                    emax[t] = std::max(emax[t], df);
                    if (!any)
                        zbad[t] = std::max(zbad[t], df);
                }
                if (!any)
                    ++nzero[t];
            }
        });
    for (auto &x : th)
        x.join();
    double E = 0, R = 0, M = 0, Z = 0;
    long long NZ = 0;
    for (int t = 0; t < nth; ++t) {
        E += e2[t];
        R += r2[t];
        M = std::max(M, emax[t]);
        Z = std::max(Z, zbad[t]);
        NZ += nzero[t];
    }
    const double rel = R > 0 ? sqrt(E / R) : sqrt(E);
    const bool ok = nan == 0 && rel <= tolerance(c.dt) && Z == 0.0 && std::isfinite(rel);
    if (!ok)
        ++g_fail;
    printf("%s %-34s %-4s B=%lld Hq=%lld Hkv=%lld Nq=%lld Nk=%lld D=%lld c=%d w=%d m=%d kvl=%d | rel=%.2e "
           "maxabs=%.2e nan=%zu emptyrows=%lld(bad %.1e) rows=%zu [%s]\n",
           ok ? "ok  " : "FAIL", c.name.c_str(), dtname(c.dt), c.B, c.Hq, c.Hkv, c.Nq, c.Nk, c.D, c.causal, c.window,
           c.mask, c.kvlens, rel, M, nan, NZ, Z, pick.size(), plan);
    fflush(stdout);
    teardown(d);
    return ok;
}

static Case mk(const char *name, int dt, long long B, long long Hq, long long Hkv, long long Nq, long long Nk,
               long long D, int causal, int window = 0, int mask = 0, int kvl = 0, int sample = 0, float qamp = 1.5f)
{
    Case c;
    c.name = name;
    c.dt = dt;
    c.B = B;
    c.Hq = Hq;
    c.Hkv = Hkv;
    c.Nq = Nq;
    c.Nk = Nk;
    c.D = D;
    c.causal = causal;
    c.window = window;
    c.mask = mask;
    c.kvlens = kvl;
    c.sample = sample;
    c.qamp = qamp;
    return c;
}

/* tile variants the benchmark compares (name, info) */
struct Variant {
    const char *name;
    KernelInfo ki;
};

template <typename T> static std::vector<Variant> variants(int D)
{
    std::vector<Variant> v;
    if (D == 128) {
        v.push_back({"w4m2n64", mma_info<T, 128, 4, 2, 64, 2, false, false>()});
        v.push_back({"w4m2n64c32", mma_info<T, 128, 4, 2, 64, 2, false, false, 32>()});
        v.push_back({"w4m2n32", mma_info<T, 128, 4, 2, 32, 2, false, false>()});
        v.push_back({"w4m2n32s3", mma_info<T, 128, 4, 2, 32, 3, false, false>()});
        v.push_back({"w4m1n64q", mma_info<T, 128, 4, 1, 64, 2, true, false>()});
        v.push_back({"w8m1n64q", mma_info<T, 128, 8, 1, 64, 2, true, false>()});
        v.push_back({"w8m2n64c32", mma_info<T, 128, 8, 2, 64, 2, false, false, 32>()});
    } else if (D == 64) {
        v.push_back({"w4m2n64q", mma_info<T, 64, 4, 2, 64, 2, true, false>()});
        v.push_back({"w4m2n128c64q", mma_info<T, 64, 4, 2, 128, 2, true, false, 64>()});
        v.push_back({"w4m1n64q", mma_info<T, 64, 4, 1, 64, 2, true, false>()});
        v.push_back({"w8m1n64q", mma_info<T, 64, 8, 1, 64, 2, true, false>()});
        v.push_back({"w8m2n64q", mma_info<T, 64, 8, 2, 64, 2, true, false>()});
        v.push_back({"w4m2n64", mma_info<T, 64, 4, 2, 64, 2, false, false>()});
    }
    return v;
}
template <typename T> static std::vector<Variant> dvariants(int D)
{
    std::vector<Variant> v;
    if (D == 128) {
        v.push_back({"dec_w4n64s3", mma_info<T, 128, 4, 1, 64, 3, true, true>()});
        v.push_back({"dec_w4n64s2", mma_info<T, 128, 4, 1, 64, 2, true, true>()});
        v.push_back({"dec_w4n128s2", mma_info<T, 128, 4, 1, 128, 2, true, true>()});
        v.push_back({"dec_w4n128s3", mma_info<T, 128, 4, 1, 128, 3, true, true>()});
        v.push_back({"dec_w8n128s2", mma_info<T, 128, 8, 1, 128, 2, true, true>()});
        v.push_back({"dec_cl_w4n128s2", mma_info<T, 128, 4, 1, 128, 2, true, true, 0, true>()});
        v.push_back({"dec_cl_w4n64s3", mma_info<T, 128, 4, 1, 64, 3, true, true, 0, true>()});
    }
    return v;
}

static std::vector<Case> check_cases()
{
    std::vector<Case> v;
    const int BF = kBF16, F16 = kF16, F32 = kF32;
    /* prefill, tensor cores, sampled rows */
    for (long long N : {1024LL, 4096LL, 16384LL})
        for (int cz : {0, 1}) {
            v.push_back(mk("prefill hd128", BF, 1, 8, 8, N, N, 128, cz, 0, 0, 0, 96));
            v.push_back(mk("prefill hd64", F16, 1, 8, 8, N, N, 64, cz, 0, 0, 0, 96));
        }
    v.push_back(mk("prefill hd128 f16 B2", F16, 2, 4, 4, 2048, 2048, 128, 1, 0, 0, 0, 96));
    v.push_back(mk("prefill gqa4", BF, 2, 32, 8, 2048, 2048, 128, 1, 0, 0, 0, 128));
    v.push_back(mk("prefill gqa8", BF, 1, 32, 4, 2048, 2048, 128, 0, 0, 0, 0, 128));
    v.push_back(mk("prefill gqa8 hd64", F16, 1, 16, 2, 3000, 3000, 64, 1, 0, 0, 0, 128));
    v.push_back(mk("prefill window causal", BF, 1, 8, 8, 4096, 4096, 128, 1, 1000, 0, 0, 128));
    v.push_back(mk("prefill window noncausal", F16, 1, 4, 2, 1000, 1000, 64, 0, 300, 0, 0, 0));
    v.push_back(mk("prefill window=1", BF, 1, 2, 2, 300, 300, 128, 1, 1, 0, 0, 0));
    v.push_back(mk("prefill hd80", BF, 1, 4, 2, 1000, 1000, 80, 1, 0, 0, 0, 0));
    v.push_back(mk("prefill hd96", F16, 2, 4, 4, 777, 777, 96, 0, 0, 0, 0, 0));
    v.push_back(mk("prefill odd N", F16, 1, 3, 3, 333, 333, 64, 1, 0, 0, 0, 0));
    v.push_back(mk("prefill Nq<Nk causal", BF, 2, 4, 2, 100, 1500, 128, 1, 0, 0, 0, 0));
    v.push_back(mk("prefill Nq>Nk causal", F16, 1, 2, 2, 100, 40, 64, 1, 0, 0, 0, 0));
    v.push_back(mk("prefill mask shared", BF, 1, 4, 4, 70, 300, 128, 0, 0, 1, 0, 0));
    v.push_back(mk("prefill mask batched+kvl", F16, 3, 4, 2, 64, 200, 64, 1, 0, 2, 1, 0));
    v.push_back(mk("prefill kv_lens", BF, 4, 4, 4, 128, 1000, 128, 1, 0, 0, 1, 0));
    v.push_back(mk("prefill small splits", BF, 1, 2, 1, 32, 20000, 128, 1, 0, 0, 0, 0));
    /* generic path */
    v.push_back(mk("generic hd256", BF, 1, 4, 2, 512, 512, 256, 1, 0, 0, 0, 0));
    v.push_back(mk("generic hd40", F16, 1, 4, 4, 300, 300, 40, 0, 0, 1, 0, 0));
    v.push_back(mk("generic hd3 f32", F32, 2, 2, 1, 50, 77, 3, 1, 0, 0, 1, 0));
    v.push_back(mk("generic hd17 f32", F32, 1, 3, 3, 65, 65, 17, 0, 5, 0, 0, 0));
    v.push_back(mk("generic f32 hd64", F32, 1, 8, 8, 512, 512, 64, 1, 0, 0, 0, 0));
    v.push_back(mk("generic f32 hd128 gqa", F32, 1, 8, 2, 300, 300, 128, 0, 0, 2, 0, 0));
    /* decode */
    for (long long L : {1024LL, 32768LL}) {
        v.push_back(mk("decode gqa4", BF, 4, 32, 8, 1, L, 128, 1, 0, 0, 1, 0));
        v.push_back(mk("decode mha", F16, 2, 32, 32, 1, L, 128, 0, 0, 0, 0, 0));
    }
    v.push_back(mk("decode B64", BF, 64, 32, 8, 1, 4096, 128, 1, 0, 0, 1, 0));
    v.push_back(mk("decode hd64", F16, 3, 8, 1, 1, 5000, 64, 1, 0, 0, 1, 0));
    v.push_back(mk("decode gqa16", BF, 1, 16, 1, 1, 9000, 128, 1, 0, 0, 0, 0));
    v.push_back(mk("decode gqa32 (prefill path)", BF, 1, 32, 1, 1, 9000, 128, 1, 0, 0, 0, 0));
    v.push_back(mk("decode Nq4 gqa4", BF, 2, 8, 2, 4, 3000, 128, 1, 0, 0, 1, 0));
    v.push_back(mk("decode Nq5 gqa4", F16, 2, 8, 2, 5, 8192, 128, 1, 0, 0, 0, 0));
    v.push_back(mk("decode Nq2 gqa8 window", BF, 1, 8, 1, 2, 5000, 128, 1, 700, 0, 0, 0));
    v.push_back(mk("decode mask", BF, 2, 8, 4, 1, 3000, 128, 0, 0, 2, 1, 0));
    v.push_back(mk("decode mha long", BF, 1, 1, 1, 1, 50000, 128, 0, 0, 0, 0, 0));
    v.push_back(mk("decode f32", F32, 2, 8, 2, 1, 4000, 128, 1, 0, 0, 1, 0));
    v.push_back(mk("decode hd80", BF, 2, 8, 2, 1, 2000, 80, 1, 0, 0, 0, 0));
    {
        Case c = mk("negative scale (generic)", BF, 1, 4, 2, 1, 3000, 128, 1, 0, 0, 0, 0);
        c.scale_mul = -1.0f;
        v.push_back(c);
    }
    /* edges */
    v.push_back(mk("edge Nq=Nk=1", BF, 1, 1, 1, 1, 1, 128, 1));
    v.push_back(mk("edge Nq=Nk=1 f32", F32, 2, 2, 1, 1, 1, 64, 0));
    v.push_back(mk("edge Nk=1 Nq=5", F16, 1, 2, 2, 5, 1, 64, 1));
    v.push_back(mk("edge Nk=0", BF, 1, 2, 2, 5, 0, 64, 0));
    v.push_back(mk("edge Nq=17 Nk=17 hd16", F16, 1, 2, 2, 17, 17, 16, 1));
    return v;
}

static std::vector<Case> small_cases()
{
    std::vector<Case> v;
    v.push_back(mk("s prefill", kBF16, 1, 4, 2, 200, 200, 128, 1, 0, 0, 0, 0));
    v.push_back(mk("s prefill hd64 mask", kF16, 2, 2, 2, 100, 150, 64, 0, 0, 2, 1, 0));
    v.push_back(mk("s decode split", kBF16, 2, 8, 2, 1, 3000, 128, 1, 0, 0, 1, 0));
    v.push_back(mk("s prefill split", kBF16, 1, 2, 1, 20, 3000, 128, 1, 0, 0, 0, 0));
    v.push_back(mk("s generic", kF32, 1, 2, 1, 40, 70, 40, 1, 9, 0, 0, 0));
    v.push_back(mk("s generic split", kF16, 1, 2, 2, 1, 5000, 256, 0, 0, 0, 0, 0));
    v.push_back(mk("s hd80", kBF16, 1, 2, 1, 100, 100, 80, 1, 0, 0, 0, 0));
    v.push_back(mk("s decode cluster", kBF16, 1, 8, 2, 1, 2000, 128, 1, 0, 0, 0, 0));
    v.push_back(mk("s decode cluster hd64", kF16, 2, 4, 1, 2, 900, 64, 1, 0, 0, 1, 0));
    return v;
}

/* The wgmma prefill kernel's cases (head dim 128): rows not a multiple of 64, keys not a multiple of the tile,
 * GQA folds, causal offsets, window, masks with hidden rows, kv_lens, rows that see nothing, large scores. */
static std::vector<Case> wg_cases(bool small)
{
    std::vector<Case> v;
    const int BF = kBF16, F16 = kF16;
    if (small) {
        v.push_back(mk("wgs causal gqa", BF, 1, 4, 2, 200, 200, 128, 1, 0, 0, 0, 0));
        v.push_back(mk("wgs mask kvl", F16, 2, 2, 2, 100, 150, 128, 0, 0, 2, 1, 0));
        /* (fa14) a window: in clusters of 2 row blocks (29, 31) the later block skips the pair's first tile */
        v.push_back(mk("wgs window", BF, 1, 2, 2, 512, 512, 128, 1, 150, 0, 0, 0));
        /* (fa21) non-causal, 4 heads of 4 row blocks (8 pairs): on 3 blocks 74 / 75 run 2 rounds of pairs, 3 of the 4
         * items left whole, the last in 2 parts over the keys */
        v.push_back(mk("wgs noncausal split", BF, 1, 4, 4, 512, 512, 128, 0, 0, 0, 0, 0));
        return v;
    }
    v.push_back(mk("wg 1k causal", BF, 1, 8, 8, 1024, 1024, 128, 1, 0, 0, 0, 96));
    v.push_back(mk("wg 1k noncausal", BF, 1, 8, 8, 1024, 1024, 128, 0, 0, 0, 0, 96));
    v.push_back(mk("wg 1k causal f16", F16, 2, 4, 4, 1024, 1024, 128, 1, 0, 0, 0, 96));
    v.push_back(mk("wg 1k noncausal f16", F16, 2, 4, 4, 1024, 1024, 128, 0, 0, 0, 0, 96));
    v.push_back(mk("wg 4k causal", BF, 1, 8, 8, 4096, 4096, 128, 1, 0, 0, 0, 64));
    v.push_back(mk("wg 16k causal", BF, 1, 2, 2, 16384, 16384, 128, 1, 0, 0, 0, 64));
    v.push_back(mk("wg 16k noncausal f16", F16, 1, 2, 2, 16384, 16384, 128, 0, 0, 0, 0, 64));
    v.push_back(mk("wg Nq=1000 causal", BF, 1, 4, 4, 1000, 1000, 128, 1, 0, 0, 0, 400));
    v.push_back(mk("wg Nq=333 noncausal f16", F16, 1, 3, 3, 333, 333, 128, 0, 0, 0, 0, 0));
    v.push_back(mk("wg Nq<Nk causal", F16, 2, 4, 2, 200, 1337, 128, 1, 0, 0, 0, 0));
    v.push_back(mk("wg Nq<Nk noncausal", BF, 1, 4, 4, 77, 1000, 128, 0, 0, 0, 0, 0));
    v.push_back(mk("wg Nq>Nk causal", BF, 1, 2, 2, 100, 40, 128, 1, 0, 0, 0, 0));
    v.push_back(mk("wg gqa4 causal", BF, 2, 32, 8, 777, 777, 128, 1, 0, 0, 0, 128));
    v.push_back(mk("wg gqa8 noncausal f16", F16, 1, 16, 2, 300, 300, 128, 0, 0, 0, 0, 400));
    v.push_back(mk("wg gqa32 Nq=3", BF, 1, 32, 1, 3, 500, 128, 1, 0, 0, 0, 0));
    v.push_back(mk("wg window causal", BF, 1, 4, 4, 4096, 4096, 128, 1, 1000, 0, 0, 64));
    v.push_back(mk("wg window=1", BF, 1, 2, 2, 300, 300, 128, 1, 1, 0, 0, 0));
    v.push_back(mk("wg mask shared", BF, 1, 4, 4, 70, 300, 128, 0, 0, 1, 0, 0));
    v.push_back(mk("wg mask batched+kvl", F16, 3, 4, 2, 64, 200, 128, 1, 0, 2, 1, 0));
    v.push_back(mk("wg kv_lens", BF, 4, 4, 4, 128, 1000, 128, 1, 0, 0, 1, 0));
    v.push_back(mk("wg kv_lens noncausal", F16, 3, 4, 4, 300, 700, 128, 0, 0, 0, 1, 400));
    v.push_back(mk("wg Nq=Nk=17", F16, 1, 2, 2, 17, 17, 128, 1));
    v.push_back(mk("wg Nk=1", BF, 1, 2, 2, 5, 1, 128, 0));
    v.push_back(mk("wg large scores", BF, 1, 4, 4, 512, 512, 128, 1, 0, 0, 0, 0, 8.0f));
    v.push_back(mk("wg large scores f16", F16, 1, 4, 4, 512, 700, 128, 0, 0, 0, 0, 0, 6.0f));
    /* (fa15) folds the Q / output boxes of 40-42 cannot take (128 % G, 64 % G): the forms without them run */
    v.push_back(mk("wg gqa3 causal", BF, 1, 6, 2, 257, 257, 128, 1, 0, 0, 0, 0));
    v.push_back(mk("wg gqa128 noncausal", BF, 1, 128, 1, 20, 300, 128, 0, 0, 0, 0, 0));
    /* (fa17) the longest-first grid of 52 / 53: 12 heads of 32 row blocks in groups of 8 (a partial last group) */
    v.push_back(mk("wg lpt groups causal", BF, 3, 4, 4, 4096, 4096, 128, 1, 0, 0, 0, 48));
    return v;
}

/* A comma list of variants ("0,1,2": 0 = the mma.sync kernel / the engine's dispatch, k = attention_wg.h's
 * variant k), so that forms run in separate processes (a form that hangs or faults costs only its own run);
 * NULL: all. */
static std::vector<int> parse_vars(const char *s)
{
    std::vector<int> v;
    if (!s) {
        for (int i = 0; i < QN_CUDA_ATTN_WG_NVARIANTS; ++i)
            if (i != QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBRP) /* (fa22: reserved, not built) */
                v.push_back(i);
        return v;
    }
    for (const char *p = s; *p;) {
        char *end = nullptr;
        const long x = strtol(p, &end, 10);
        if (end == p || x < 0 || x >= QN_CUDA_ATTN_WG_NVARIANTS) {
            fprintf(stderr, "bad variant list '%s'\n", s);
            exit(2);
        }
        v.push_back((int)x);
        p = *end == ',' ? end + 1 : end;
    }
    return v;
}
static bool has(const std::vector<int> &v, int x) { return std::find(v.begin(), v.end(), x) != v.end(); }

static void wg_check(bool small, const std::vector<int> &list)
{
    std::vector<int> vars;
    for (int v : list)
        if (v > 0 && (!small || list.size() < (size_t)QN_CUDA_ATTN_WG_NVARIANTS || v == QN_CUDA_ATTN_WG_N128S2 ||
                      v == QN_CUDA_ATTN_WG_N64S4WSP))
            vars.push_back(v); /* sanitizers: the forms listed, or (no list) the plain form and the ping-pong one */
    const int NV = (int)vars.size();
    std::vector<int> vfail(NV, 0);
    int swap_ok = 0, swap_tried = 0;
    for (const Case &c : wg_cases(small))
        for (int i = 0; i < NV; ++i) {
            Case cc = c;
            cc.name = c.name + " " + wg_name(vars[i]);
            bool ok = run_check(cc, nullptr, vars[i]);
            if (vars[i] == QN_CUDA_ATTN_WG_N64S4WSPTMAP || vars[i] == QN_CUDA_ATTN_WG_N128S3WSPTMAP ||
                vars[i] == QN_CUDA_ATTN_WG_N128S3WSPTMAPH || vars[i] == QN_CUDA_ATTN_WG_N128S3WSPTMAPHR ||
                vars[i] == QN_CUDA_ATTN_WG_N128S3WSPTMAPHRE || vars[i] == QN_CUDA_ATTN_WG_N128S3WSPTMAPHREQ ||
                vars[i] == QN_CUDA_ATTN_WG_N128S3WSPTMAPM2 || vars[i] == QN_CUDA_ATTN_WG_N128S3WSPTMAPM2T ||
                vars[i] == QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOK || vars[i] == QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKD ||
                vars[i] == QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKT || vars[i] == QN_CUDA_ATTN_WG_N128S3WSPTMAMTOLS ||
                vars[i] == QN_CUDA_ATTN_WG_N176S2WSPTMAMTOKLS || vars[i] == QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKH ||
                vars[i] == QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKX || vars[i] == QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHH ||
                vars[i] == QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHB || vars[i] == QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBX ||
                vars[i] == QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBE || vars[i] == QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBEP ||
                vars[i] == QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBK || vars[i] == QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBEK ||
                vars[i] == QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBEV || vars[i] == QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBR ||
                vars[i] == QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBRP || vars[i] == QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBRD ||
                vars[i] == QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBRDX || vars[i] == QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBRDQ ||
                vars[i] == QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBRDQX || vars[i] == QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBRDQF ||
                vars[i] == QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBRDF) {
                /* the persistent forms again on 3 blocks: each loops over several row blocks, whatever the shape;
                 * (fa17) the split tail as if on 3 SMs: another tail (blocks mod 3) in clusters of 2, and the
                 * longest-first groups of k = 2 x 3 / (row blocks + 1) heads */
                qn_cuda_attn_wg_set_persist_grid(3);
                Case c3 = cc;
                c3.name += " grid3";
                ok = run_check(c3, nullptr, vars[i]) && ok;
                qn_cuda_attn_wg_set_persist_grid(0);
            }
            if (!ok) {
                ++vfail[i];
                /* diagnosis: the same case with V's descriptor offsets exchanged (not counted) */
                if (swap_tried < 4) {
                    ++swap_tried;
                    const int before = g_fail, cases = g_cases;
                    cc.name += " (diag)";
                    swap_ok += run_check(cc, nullptr, vars[i] | QN_CUDA_ATTN_WG_VSWAP) ? 1 : 0;
                    g_fail = before, g_cases = cases;
                }
            }
        }
    if (!small && has(list, 0)) {
        /* the engine's entry under QUANTA_CUDA_ATTN_WG=1: the wgmma kernel where its blocks fill the SMs, else the
         * mma.sync kernel (the [..] column says which ran) */
        setenv("QUANTA_CUDA_ATTN_WG", "1", 1);
        run_check(mk("dispatch wg=1 2k causal", kBF16, 2, 32, 8, 2048, 2048, 128, 1, 0, 0, 0, 128), nullptr, -2);
        run_check(mk("dispatch wg=1 f16 noncausal", kF16, 4, 32, 32, 1024, 1024, 128, 0, 0, 0, 0, 128), nullptr, -2);
        run_check(mk("dispatch wg=1 small grid", kBF16, 1, 2, 1, 64, 5000, 128, 1, 0, 0, 0, 0), nullptr, -2);
        run_check(mk("dispatch wg=1 decode", kBF16, 2, 8, 2, 1, 3000, 128, 1, 0, 0, 1, 0), nullptr, -2);
    }
    if (const long long fb = qn_cuda_attn_wg_map_fallbacks())
        printf("NOTE: %lld launches ran as the cp.async form (tensor map refused)\n", fb);
    printf("wg variants failed cases:");
    for (int i = 0; i < NV; ++i)
        printf(" %s %d", wg_name(vars[i]), vfail[i]);
    printf("; V offsets exchanged passed %d of %d tried\n", swap_ok, swap_tried);
}

/* fa20: forms that claim to be bit-identical to a base (70 = 66 with its items back to back): every wg case (and the
 * persistent forms' 3-block grid, where every block chains several items) run by the base and by each form on the
 * same inputs, the outputs compared byte for byte; a case the base fails to launch is skipped. */
static void wg_same(const std::vector<int> &list)
{
    if (list.size() < 2) {
        fprintf(stderr, "wgsame: a base and at least one form\n");
        exit(2);
    }
    int same = 0, differ = 0;
    for (const Case &c : wg_cases(false))
        for (int grid : {0, 3}) {
            qn_cuda_attn_wg_set_persist_grid(grid);
            DevCase d;
            setup(c, d, ++g_seed);
            const size_t bytes = std::max<size_t>((size_t)(c.B * c.Hq * c.Nq * c.D) * esize(c.dt), 1);
            std::vector<char> ref(bytes), out(bytes);
            char err[256];
            bool ok = true;
            for (size_t i = 0; i < list.size() && ok; ++i) {
                CK(cudaMemset(d.out, 0xFF, bytes)); /* NaN poison: a row not written differs */
                const int rc = run_attn(&d.a, nullptr, list[i], err, sizeof err);
                const cudaError_t se = cudaDeviceSynchronize();
                if (se != cudaSuccess) {
                    printf("FAIL wgsame %s %s: %s\n", c.name.c_str(), wg_name(list[i]), cudaGetErrorString(se));
                    exit(2);
                }
                if (rc != 0) {
                    printf("skip wgsame %s %s: %s\n", c.name.c_str(), wg_name(list[i]), err);
                    ok = false;
                    break;
                }
                CK(cudaMemcpy(i == 0 ? ref.data() : out.data(), d.out, bytes, cudaMemcpyDeviceToHost));
                if (i == 0)
                    continue;
                size_t nd = 0, first = 0;
                for (size_t k = 0; k < bytes; ++k)
                    if (ref[k] != out[k] && nd++ == 0)
                        first = k;
                ++g_cases;
                if (nd == 0) {
                    ++same;
                } else {
                    ++differ;
                    ++g_fail;
                    printf("FAIL wgsame %-30s grid=%d %s vs %s: %zu of %zu bytes differ (first at %zu)\n", c.name.c_str(),
                           grid, wg_name(list[i]), wg_name(list[0]), nd, bytes, first);
                }
            }
            teardown(d);
        }
    qn_cuda_attn_wg_set_persist_grid(0);
    printf("wgsame: %d outputs byte-identical to %s, %d differ\n", same, wg_name(list[0]), differ);
}

/* ------------------------------------------------------------------ timing */

static double visible_pairs(const Case &c)
{
    double n = 0;
    for (long long q = 0; q < c.Nq; ++q) {
        const long long pos = c.Nk - c.Nq + q;
        long long lo = 0, hi = c.Nk;
        if (c.causal)
            hi = std::min(hi, pos + 1);
        if (c.window > 0)
            lo = std::max(lo, pos - c.window + 1);
        if (hi > lo)
            n += (double)(hi - lo);
    }
    return n;
}

/* ms per call: prefill with events around single calls; decode as a CUDA graph of back-to-back calls
 * that rotate over enough copies of K/V that every call reads HBM, not L2. */
static float time_case(const Case &c, const KernelInfo *force, bool decode, int wg = -1)
{
    const size_t es = esize(c.dt);
    const size_t kvbytes = (size_t)(2 * c.B * c.Hkv * c.Nk * c.D) * es;
    int copies = decode ? (int)std::min<size_t>(64, std::max<size_t>(1, (size_t)(512u << 20) / kvbytes + 1)) : 1;
    std::vector<DevCase> ds(copies);
    for (int i = 0; i < copies; ++i)
        setup(c, ds[i], 1000 + i);
    cudaStream_t st;
    CK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    for (auto &d : ds)
        d.a.stream = st;
    char err[256];
    for (int i = 0; i < copies; ++i)
        if (run_attn(&ds[i].a, force, wg, err, sizeof err) != 0) {
            printf("launch failed: %s\n", err);
            exit(3);
        }
    CK(cudaStreamSynchronize(st));
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    float per = 0;
    if (!decode) {
        per = median_ms(st, e0, e1, 7, [&] { run_attn(&ds[0].a, force, wg, err, sizeof err); });
    } else {
        const int calls = std::max(copies, 32);
        cudaGraph_t g;
        cudaGraphExec_t ge;
        CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeRelaxed));
        for (int i = 0; i < calls; ++i)
            run_attn(&ds[i % copies].a, force, wg, err, sizeof err);
        CK(cudaStreamEndCapture(st, &g));
        CK(cudaGraphInstantiate(&ge, g, 0));
        per = graph_median_ms(ge, st, e0, e1, 9) / calls;
        cudaGraphExecDestroy(ge);
        cudaGraphDestroy(g);
    }
    CK(cudaGetLastError());
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    cudaStreamDestroy(st);
    for (auto &d : ds)
        teardown(d);
    return per;
}

static void bench(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(1);
    }
    fprintf(f, "kind,dtype,D,B,Hq,Hkv,Nq,Nk,causal,window,variant,ms,metric\n");
    auto emit = [&](const char *kind, const Case &c, const char *var, float ms, double metric) {
        fprintf(f, "%s,%s,%lld,%lld,%lld,%lld,%lld,%lld,%d,%d,%s,%.5f,%.2f\n", kind, dtname(c.dt), c.D, c.B, c.Hq,
                c.Hkv, c.Nq, c.Nk, c.causal, c.window, var, ms, metric);
        printf("%-7s %-4s D=%lld B=%lld Hq=%lld Hkv=%lld Nq=%lld Nk=%lld c=%d w=%d %-12s %9.4f ms %8.1f %s\n", kind,
               dtname(c.dt), c.D, c.B, c.Hq, c.Hkv, c.Nq, c.Nk, c.causal, c.window, var, ms, metric,
               kind[0] == 'p' ? "TFLOP/s" : "GB/s");
        fflush(stdout);
        fflush(f);
    };
    std::vector<Case> pre;
    for (long long D : {128LL, 64LL})
        for (int cz : {0, 1})
            for (long long N : {1024LL, 2048LL, 4096LL, 8192LL, 16384LL})
                pre.push_back(mk("b", kBF16, 16384 / N, 32, 32, N, N, D, cz));
    pre.push_back(mk("b", kF16, 4, 32, 32, 4096, 4096, 128, 0));
    pre.push_back(mk("b", kF16, 4, 32, 32, 4096, 4096, 128, 1));
    pre.push_back(mk("b", kBF16, 4, 32, 8, 4096, 4096, 128, 1));
    pre.push_back(mk("b", kBF16, 2, 32, 8, 8192, 8192, 128, 1, 1024));
    for (const Case &c : pre) {
        const double fl = 4.0 * c.B * c.Hq * visible_pairs(c) * c.D;
        const float ms = time_case(c, nullptr, false);
        emit("prefill", c, "default", ms, fl / (ms * 1e-3) / 1e12);
        if (c.dt == kBF16 && c.Hq == c.Hkv && c.window == 0 && (c.Nq == 4096 || c.Nq == 16384 || c.Nq == 1024)) {
            for (const Variant &vv : variants<__nv_bfloat16>((int)c.D)) {
                const float m2 = time_case(c, &vv.ki, false);
                emit("prefill", c, vv.name, m2, fl / (m2 * 1e-3) / 1e12);
            }
        }
    }
    for (long long Hkv : {32LL, 8LL})
        for (long long B : {1LL, 16LL, 64LL})
            for (long long L : {1024LL, 4096LL, 16384LL, 32768LL}) {
                if (Hkv == 32 && B == 64 && L == 32768)
                    continue; /* 34 GB of K/V: skipped to save device time */
                Case c = mk("d", kBF16, B, 32, Hkv, 1, L, 128, 0);
                const double bytes = 2.0 * B * Hkv * L * 128 * 2;
                const float ms = time_case(c, nullptr, true);
                emit("decode", c, "default", ms, bytes / (ms * 1e-3) / 1e9);
                for (int mode : {1, 2}) {
                    qn_cuda_attn_set_cluster_mode(mode);
                    const float m2 = time_case(c, nullptr, true);
                    emit("decode", c, mode == 1 ? "global" : "cluster", m2, bytes / (m2 * 1e-3) / 1e9);
                }
                qn_cuda_attn_set_cluster_mode(0);
                if ((B == 1 && L == 32768) || (B == 16 && L == 4096) || (B == 64 && L == 16384 && Hkv == 8)) {
                    for (const Variant &vv : dvariants<__nv_bfloat16>(128)) {
                        const float m2 = time_case(c, &vv.ki, true);
                        emit("decode", c, vv.name, m2, bytes / (m2 * 1e-3) / 1e9);
                    }
                }
            }
    fclose(f);
}

/* fa19: form 64's stamps (47, block 0, tiles numbered across its items; an item's first tile has no "P . V done"
 * stamp): per consumer, the cycles a tile over the run, the median gap at an item boundary (from the last tile's P
 * packed to the next item's first loop top: the last P . V, the epilogue, the next Q / K waits), an item's first
 * tile (issue -> S, softmax, pack) and the later tiles' period */
static void trace_items_print(const Case &c, const char *who = "trace47")
{
    static long long tr[2][64][8];
    if (qn_cuda_attn_wg_trace(&tr[0][0][0], 2 * 64 * 8) != 0)
        return;
    auto med = [](std::vector<long long> v) -> long long {
        if (v.empty())
            return -1;
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
    };
    for (int w = 0; w < 2; ++w) {
        int n = 0;
        while (n < 64 && tr[w][n][0] != 0) ++n;
        if (n < 4) {
            printf("%s %s N=%lld c=%d consumer %d: %d tiles, too few\n", who, dtname(c.dt), c.Nq, c.causal, w, n);
            continue;
        }
        std::vector<long long> gap, s1, sm1, pk1, per, smx;
        int items = 0;
        for (int i = 0; i < n; ++i) {
            const bool first = tr[w][i][6] == 0;
            if (first) {
                ++items;
                if (i > 0) gap.push_back(tr[w][i][0] - tr[w][i - 1][7]);
                s1.push_back(tr[w][i][4] - tr[w][i][3]);
                sm1.push_back(tr[w][i][5] - tr[w][i][4]);
                pk1.push_back(tr[w][i][7] - tr[w][i][5]);
            } else {
                smx.push_back(tr[w][i][5] - tr[w][i][4]);
                if (i + 1 < n && tr[w][i + 1][6] != 0) per.push_back(tr[w][i + 1][0] - tr[w][i][0]);
            }
        }
        printf("%s %s N=%lld c=%d consumer %d: %d tiles in %d items, %lld cycles a tile | item boundary gap %lld"
               " | first tile: issue->S %lld smax %lld pack %lld | later tiles: smax %lld period %lld\n", who,
               dtname(c.dt), c.Nq, c.causal, w, n, items, (tr[w][n - 1][7] - tr[w][0][0]) / (n - 1), med(gap),
               med(s1), med(sm1), med(pk1), med(smx), med(per));
    }
}

/* fa17: form 55's stamps of block 0's consumer loop (one launch after the timed rounds, the GPU warm): per step the
 * median cycles over the tiles 2 .. n - 2 of each consumer (steps: K landed, turn held, products issued, S done,
 * softmax done, P . V done, P packed, the next tile's loop top), and the tile period */
template <typename F> static void trace_print(const Case &c, F launch)
{
    CK(cudaDeviceSynchronize());
    if (qn_cuda_attn_wg_trace(nullptr, 0) != 0)
        return;
    launch();
    CK(cudaDeviceSynchronize());
    static long long tr[2][64][8];
    if (qn_cuda_attn_wg_trace(&tr[0][0][0], 2 * 64 * 8) != 0)
        return;
    static const char *nm[8] = {"next", "K", "turn", "issue", "S", "smax", "PV", "pack"};
    for (int w = 0; w < 2; ++w) {
        int n = 0;
        while (n < 64 && tr[w][n][0] != 0) ++n;
        printf("trace %s N=%lld c=%d consumer %d tiles %d:", dtname(c.dt), c.Nq, c.causal, w, n);
        if (n < 5) {
            printf(" too few\n");
            continue;
        }
        for (int k = 1; k <= 8; ++k) { /* step k: stamp k - 1 -> k (8: pack -> the next tile's top) */
            std::vector<long long> d;
            for (int i = 2; i < n - 2; ++i)
                d.push_back(k < 8 ? tr[w][i][k] - tr[w][i][k - 1] : tr[w][i + 1][0] - tr[w][i][7]);
            std::sort(d.begin(), d.end());
            printf(" %s %lld", nm[k % 8], d[d.size() / 2]);
        }
        std::vector<long long> per;
        for (int i = 2; i < n - 2; ++i) per.push_back(tr[w][i + 1][3] - tr[w][i][3]);
        std::sort(per.begin(), per.end());
        printf(" | period %lld (min %lld max %lld) | tile1 issue->S %lld\n", per[per.size() / 2], per.front(),
               per.back(), tr[w][1][4] - tr[w][1][3]);
    }
    /* the two consumers against each other: consumer 1's issue after consumer 0's, tile by tile */
    std::vector<long long> lag;
    for (int i = 2; i < 60 && tr[0][i + 1][0] != 0 && tr[1][i + 1][0] != 0; ++i) lag.push_back(tr[1][i][3] - tr[0][i][3]);
    if (!lag.empty()) {
        std::sort(lag.begin(), lag.end());
        printf("trace issue lag consumer 1 - 0: median %lld\n", lag[lag.size() / 2]);
    }
}

/* hd128 prefill, the GPU full at every length (B * Hq * Nq = 32 heads x 16k rows): the mma.sync kernel (0, the
 * default dispatch: QUANTA_CUDA_ATTN_WG unset) and the wgmma variants, in one process. fa14: per shape the inputs
 * are set up once and the forms timed in turns (R rounds of every form; a sample = back-to-back launches of one
 * form filling ~2 ms), the median sample per form: the 13:12 and 16:17 runs, one form after the other with the
 * next shape's host-side setup between (the GPU idle, its clock dropping) and a sample one launch, moved the same
 * form by 5-10% from run to run — more than the differences between forms. */
static void wg_bench(const char *path, const std::vector<int> &vars)
{
    FILE *old = fopen(path, "r");
    const bool fresh = !old || fgetc(old) == EOF; /* a second run (other variants) appends its rows */
    if (old)
        fclose(old);
    FILE *f = fopen(path, fresh ? "w" : "a");
    if (!f) {
        perror(path);
        exit(1);
    }
    if (fresh)
        fprintf(f, "kind,dtype,D,B,Hq,Hkv,Nq,Nk,causal,window,variant,ms,metric\n");
    std::vector<Case> pre;
    for (int cz : {0, 1})
        for (long long N : {1024LL, 4096LL, 16384LL})
            pre.push_back(mk("b", kBF16, 16384 / N, 32, 32, N, N, 128, cz));
    pre.push_back(mk("b", kF16, 4, 32, 32, 4096, 4096, 128, 1));
    pre.push_back(mk("b", kBF16, 4, 32, 8, 4096, 4096, 128, 1));
    pre.push_back(mk("b", kBF16, 32, 32, 32, 512, 512, 128, 1));
    /* fa16: 2k and 8k (the auto pick's bounds sit between the anchors), indices 9-12 */
    for (int cz : {0, 1})
        for (long long N : {2048LL, 8192LL})
            pre.push_back(mk("b", kBF16, 16384 / N, 32, 32, N, N, 128, cz));
    /* WGBENCH_ROUNDS=0: the warm-up and one timed launch of each form only, no rows (a run under ncu) */
    const int R = getenv("WGBENCH_ROUNDS") ? std::max(0, atoi(getenv("WGBENCH_ROUNDS"))) : 5;
    /* WGBENCH_SHAPES=i,j: only those of the shapes above (0 = 1k non-causal ...; fa15: one shape under ncu) */
    if (const char *sel = getenv("WGBENCH_SHAPES")) {
        std::vector<Case> keep;
        for (const char *q = sel; *q;) {
            char *end = nullptr;
            const long i = strtol(q, &end, 10);
            if (end == q)
                break;
            if (i >= 0 && i < (long)pre.size())
                keep.push_back(pre[(size_t)i]);
            q = *end == ',' ? end + 1 : end;
        }
        pre.swap(keep);
    }
    cudaStream_t st;
    CK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    char err[256];
    for (const Case &c : pre) {
        const double fl = 4.0 * c.B * c.Hq * visible_pairs(c) * c.D;
        DevCase d;
        setup(c, d, 1000);
        d.a.stream = st;
        const int NV = (int)vars.size();
        std::vector<int> reps(NV, 1);
        std::vector<std::vector<float>> t(NV);
        auto launch = [&](int v) {
            if (run_attn(&d.a, nullptr, v > 0 ? v : -1, err, sizeof err) != 0) {
                printf("launch failed (%d): %s\n", v, err);
                exit(3);
            }
        };
        /* warm-up (and the shared-memory opt-in) of every form, then a launch count per sample from one timing */
        for (int i = 0; i < NV; ++i) {
            launch(vars[i]);
            CK(cudaStreamSynchronize(st));
            CK(cudaEventRecord(e0, st));
            launch(vars[i]);
            CK(cudaEventRecord(e1, st));
            CK(cudaEventSynchronize(e1));
            float ms;
            CK(cudaEventElapsedTime(&ms, e0, e1));
            reps[i] = std::max(1, std::min(20, (int)(2.0f / std::max(ms, 1e-3f))));
        }
        for (int r = 0; r < R; ++r)
            for (int i = 0; i < NV; ++i) {
                CK(cudaEventRecord(e0, st));
                for (int k = 0; k < reps[i]; ++k)
                    launch(vars[i]);
                CK(cudaEventRecord(e1, st));
                CK(cudaEventSynchronize(e1));
                float ms;
                CK(cudaEventElapsedTime(&ms, e0, e1));
                t[i].push_back(ms / reps[i]);
            }
        CK(cudaGetLastError());
        if (has(vars, QN_CUDA_ATTN_WG_N128S3WSPTMAMTOX))
            trace_print(c, [&] { launch(QN_CUDA_ATTN_WG_N128S3WSPTMAMTOX); });
        if (has(vars, QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKX)) { /* fa19: 47's, across its items */
            CK(cudaDeviceSynchronize());
            if (qn_cuda_attn_wg_trace(nullptr, 0) == 0) {
                launch(QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKX);
                CK(cudaDeviceSynchronize());
                trace_items_print(c);
            }
        }
        if (has(vars, QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBX)) { /* fa20: 70's (back to back), as 64's; an item's
                                                                 * "pack" includes the item before's epilogue */
            CK(cudaDeviceSynchronize());
            if (qn_cuda_attn_wg_trace(nullptr, 0) == 0) {
                launch(QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBX);
                CK(cudaDeviceSynchronize());
                trace_items_print(c, "trace70");
            }
        }
        if (has(vars, QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBRDX)) { /* fa23: 83's (the default at <= 2k), as 71's */
            CK(cudaDeviceSynchronize());
            if (qn_cuda_attn_wg_trace(nullptr, 0) == 0) {
                launch(QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBRDX);
                CK(cudaDeviceSynchronize());
                trace_items_print(c, "trace83");
            }
        }
        if (has(vars, QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBRDQX)) { /* fa23: 87's (the next item's Q early) */
            CK(cudaDeviceSynchronize());
            if (qn_cuda_attn_wg_trace(nullptr, 0) == 0) {
                launch(QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBRDQX);
                CK(cudaDeviceSynchronize());
                trace_items_print(c, "trace87");
            }
        }
        if (has(vars, QN_CUDA_ATTN_WG_N128S3WSPTMAMTOHHX)) { /* fa19 round 2: 63's */
            printf("trace of 69 (63 = 41 + 6 of P . V's 8 k16 steps before the S wait):\n");
            trace_print(c, [&] { launch(QN_CUDA_ATTN_WG_N128S3WSPTMAMTOHHX); });
        }
        if (has(vars, QN_CUDA_ATTN_WG_N128S3WSPTMAMTOHX)) { /* fa19: 58's (the "issue" stamp after Q . K^T and half of P . V) */
            printf("trace of 59 (58 = 41 + P . V in halves):\n");
            trace_print(c, [&] { launch(QN_CUDA_ATTN_WG_N128S3WSPTMAMTOHX); });
        }
        teardown(d);
        if (const long long fb = qn_cuda_attn_wg_map_fallbacks())
            printf("NOTE: %lld launches so far ran as the cp.async form (tensor map refused)\n", fb);
        if (R == 0)
            continue;
        float base = 0.f;
        for (int i = 0; i < NV; ++i) {
            std::sort(t[i].begin(), t[i].end());
            const float ms = t[i][t[i].size() / 2], lo = t[i].front(), hi = t[i].back();
            const char *var = vars[i] > 0 ? wg_name(vars[i]) : "default";
            if (vars[i] == 0)
                base = ms;
            const double tf = fl / (ms * 1e-3) / 1e12;
            fprintf(f, "prefill,%s,%lld,%lld,%lld,%lld,%lld,%lld,%d,%d,%s,%.5f,%.2f\n", dtname(c.dt), c.D, c.B, c.Hq,
                    c.Hkv, c.Nq, c.Nk, c.causal, c.window, var, ms, tf);
            printf("prefill %-4s B=%lld Hq=%lld Hkv=%lld N=%lld c=%d %-11s %9.4f ms %7.1f TFLOP/s (spread %.1f%%)",
                   dtname(c.dt), c.B, c.Hq, c.Hkv, c.Nq, c.causal, var, ms, tf, 100.0 * (hi - lo) / ms);
            if (base > 0 && vars[i] > 0)
                printf(" (%.2fx mma.sync)", base / ms);
            printf("\n");
        }
        fflush(stdout);
        fflush(f);
    }
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    cudaStreamDestroy(st);
    fclose(f);
}

int main(int argc, char **argv)
{
    const std::string mode = argc > 1 ? argv[1] : "check";
    if (const char *s = getenv("QUANTA_TEST_SEED"))
        g_seed = strtoull(s, nullptr, 10);
    printf("seed %llu\n", g_seed);
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    printf("device %s, %d SMs, L2 %d MB\n", prop.name, prop.multiProcessorCount, prop.l2CacheSize >> 20);
    if (mode == "check" || mode == "small") {
        for (const Case &c : mode == "check" ? check_cases() : small_cases())
            run_check(c);
        if (mode == "check") {
            /* every tile variant once, so that a default switch stays covered */
            for (const Variant &vv : variants<__nv_bfloat16>(128))
                run_check(mk(vv.name, kBF16, 1, 8, 2, 1000, 1000, 128, 1, 0, 0, 0, 0), &vv.ki);
            for (const Variant &vv : variants<__half>(64))
                run_check(mk(vv.name, kF16, 2, 4, 4, 700, 900, 64, 1, 0, 0, 1, 0), &vv.ki);
            for (const Variant &vv : dvariants<__nv_bfloat16>(128))
                run_check(mk(vv.name, kBF16, 3, 8, 2, 1, 5000, 128, 1, 0, 0, 1, 0), &vv.ki);
            /* both decode merges on the default kernels: global partials + combine, and clusters */
            for (int mode : {1, 2}) {
                qn_cuda_attn_set_cluster_mode(mode);
                const char *nm = mode == 1 ? "decode global merge" : "decode cluster merge";
                run_check(mk(nm, kBF16, 1, 32, 8, 1, 32768, 128, 0, 0, 0, 0, 0));
                run_check(mk(nm, kF16, 5, 8, 2, 1, 7000, 128, 1, 0, 0, 1, 0));
                run_check(mk(nm, kBF16, 2, 16, 1, 1, 3000, 64, 1, 100, 2, 1, 0));
                run_check(mk(nm, kBF16, 1, 4, 4, 3, 20000, 96, 1, 0, 0, 0, 0));
            }
            qn_cuda_attn_set_cluster_mode(0);
        }
        printf("%s: %d cases, %d failed\n", mode.c_str(), g_cases, g_fail);
        return g_fail ? 1 : 0;
    }
    if (mode == "wg" || mode == "wgsmall") {
        wg_check(mode == "wgsmall", parse_vars(argc > 2 ? argv[2] : nullptr));
        printf("%s: %d cases, %d failed\n", mode.c_str(), g_cases, g_fail);
        return g_fail ? 1 : 0;
    }
    if (mode == "wgsame") {
        wg_same(parse_vars(argc > 2 ? argv[2] : "66,70"));
        printf("%s: %d cases, %d failed\n", mode.c_str(), g_cases, g_fail);
        return g_fail ? 1 : 0;
    }
    if (mode == "bench" && argc > 2) {
        bench(argv[2]);
        return 0;
    }
    if (mode == "wgbench" && argc > 2) {
        wg_bench(argv[2], parse_vars(argc > 3 ? argv[3] : nullptr));
        return 0;
    }
    fprintf(stderr, "usage: attention_check check|small|bench FILE|wg [VARS]|wgsmall [VARS]|wgsame [BASE,VARS]|wgbench FILE [VARS]\n");
    return 1;
}
