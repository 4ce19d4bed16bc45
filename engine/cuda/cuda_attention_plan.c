/*
 * cuda_attention_plan.c — which CUDA attention kernel runs a call and how its keys are split
 * (cuda_attention_plan.h); the kernels and their launch are in kernels_cuda/attention.cu.
 *
 * Tensor-core kernels serve f16/bf16 with a positive scale and 16-byte aligned tensors: the
 * decode form for at most 16 folded rows (the query heads of a KV head times Nq), the prefill
 * form otherwise; everything else runs the generic kernel. Keys are split only when the blocks
 * do not fill one wave of the device's resident blocks. Resident-block counts are cached per
 * (kernel, device) for the process, so that a launch inside stream capture makes no attribute
 * or occupancy calls after the first one.
 *
 * Written in the common subset of C and C++: the benchmark driver compiles it in with nvcc.
 */
#include "cuda_attention_plan.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime.h>

#include "attention_wg.h" /* kernels_cuda/: the wgmma prefill kernel (sm_90a) */
#include "layout.h"       /* formats/: the dtype codes QN_DT_* */

/* 0: clusters where the split count is small (auto), 1: never, 2: whenever splits > 1 (benchmarks) */
static int g_decode_cluster_mode = 0;

void qn_cuda_attn_set_cluster_mode(int mode) { g_decode_cluster_mode = mode; }

static size_t esize(int dtype) { return dtype == QN_DT_F32 ? 4 : 2; }

static int aligned16(const void *p) { return ((uintptr_t)p & 15u) == 0; }

int qn_cuda_attention_supported(const qn_cuda_attention_args *a) {
    if (!a) return 0;
    if (a->dtype != QN_DT_F32 && a->dtype != QN_DT_F16 && a->dtype != QN_DT_BF16) return 0;
    if (a->B < 1 || a->Hq < 1 || a->Hkv < 1 || a->Nq < 0 || a->Nk < 0 || a->D < 1 || a->D > QN_CUDA_ATTN_MAX_D)
        return 0;
    if (a->Hq % a->Hkv != 0 || a->B > 65535 || a->Hkv > 65535 || a->Nq >= (1LL << 30) || a->Nk >= (1LL << 30) ||
        (a->Hq / a->Hkv) * a->Nq >= (1LL << 30))
        return 0;
    if (a->Nq > 0 && (!a->q || !a->out)) return 0;
    if (a->Nq > 0 && a->Nk > 0 && (!a->k || !a->v)) return 0;
    if (!(a->scale == a->scale)) return 0;
    return 1;
}

/* ------------------------------------------------------------------ resident blocks (cached) */

typedef struct resident_entry {
    const void *fn;
    int dev;
    size_t smem;
    long long resident;
    int max_cluster; /* largest cluster of fn that fits (cluster kernels), else 0 */
} resident_entry;

static pthread_mutex_t g_resident_mu = PTHREAD_MUTEX_INITIALIZER;
static resident_entry g_resident[256];
static int g_resident_n = 0;

static int cached(const qn_cuda_attn_kernel *k, int dev, long long *out, int *max_cluster) {
    int hit = 0;
    pthread_mutex_lock(&g_resident_mu);
    for (int i = 0; i < g_resident_n && !hit; ++i)
        if (g_resident[i].fn == k->fn && g_resident[i].dev == dev && g_resident[i].smem == k->smem) {
            *out = g_resident[i].resident;
            if (max_cluster) *max_cluster = g_resident[i].max_cluster;
            hit = 1;
        }
    pthread_mutex_unlock(&g_resident_mu);
    return hit;
}

/* The largest cluster (16 down to 2 blocks) of a cluster kernel that fits on an sm_90 device. */
static cudaError_t largest_cluster(const qn_cuda_attn_kernel *k, int dev, int *out) {
    int major = 0;
    cudaError_t e = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
    *out = 0;
    if (e != cudaSuccess || major < 9) return e;
    if (cudaFuncSetAttribute(k->fn, cudaFuncAttributeNonPortableClusterSizeAllowed, 1) != cudaSuccess)
        (void)cudaGetLastError();
    e = cudaFuncSetAttribute(k->fn, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)k->smem_max);
    if (e != cudaSuccess) return e;
    for (int cs = 16; cs >= 2 && *out == 0; cs /= 2) {
        cudaLaunchConfig_t cfg;
        cudaLaunchAttribute at;
        memset(&cfg, 0, sizeof cfg);
        memset(&at, 0, sizeof at);
        at.id = cudaLaunchAttributeClusterDimension;
        at.val.clusterDim.x = (unsigned)cs;
        at.val.clusterDim.y = 1;
        at.val.clusterDim.z = 1;
        cfg.gridDim.x = (unsigned)cs, cfg.gridDim.y = 1, cfg.gridDim.z = 1;
        cfg.blockDim.x = (unsigned)k->threads, cfg.blockDim.y = 1, cfg.blockDim.z = 1;
        cfg.dynamicSmemBytes = k->smem;
        cfg.attrs = &at;
        cfg.numAttrs = 1;
        int ncl = 0;
        if (cudaOccupancyMaxActiveClusters(&ncl, k->fn, &cfg) == cudaSuccess && ncl > 0) *out = cs;
        else (void)cudaGetLastError();
    }
    return cudaSuccess;
}

/* Blocks of k resident at once on the current device (blocks per SM times SMs), after the
 * shared-memory opt-in; for cluster kernels also the largest cluster that fits. */
static cudaError_t resident_blocks(const qn_cuda_attn_kernel *k, long long *out, int *max_cluster) {
    int dev = 0;
    cudaError_t e = cudaGetDevice(&dev);
    if (e != cudaSuccess) return e;
    if (cached(k, dev, out, max_cluster)) return cudaSuccess;
    int maxc = 0;
    if (k->cluster && (e = largest_cluster(k, dev, &maxc)) != cudaSuccess) return e;
    e = cudaFuncSetAttribute(k->fn, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)k->smem_max);
    if (e != cudaSuccess) return e;
    int occ = 0, sms = 0;
    e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&occ, k->fn, k->threads, k->smem);
    if (e != cudaSuccess) return e;
    e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
    if (e != cudaSuccess) return e;
    const long long r = (long long)(occ < 1 ? 1 : occ) * (sms < 1 ? 1 : sms);
    pthread_mutex_lock(&g_resident_mu);
    if (g_resident_n < 256) {
        resident_entry entry = {k->fn, dev, k->smem, r, maxc};
        g_resident[g_resident_n++] = entry;
    }
    pthread_mutex_unlock(&g_resident_mu);
    *out = r;
    if (max_cluster) *max_cluster = maxc;
    return cudaSuccess;
}

/* ------------------------------------------------------------------ the plan */

/* Split the keys only when the blocks do not fill one wave of resident blocks: then pick the
 * fewest-waves count, time ~ ceil(blocks*s / resident) / s plus a cost per split for the partial
 * round trip; each split keeps at least one key tile. (Splitting a grid that already fills the
 * machine only adds partial traffic: measured 2026-11-28, prefill lost up to 2x that way.) */
static int choose_splits(long long base, long long resident, long long Nk, int bn) {
    if (resident < 1) resident = 1;
    if (base >= resident) return 1;
    long long maxs = (Nk + bn - 1) / bn;
    if (maxs > QN_CUDA_ATTN_MAX_SPLITS) maxs = QN_CUDA_ATTN_MAX_SPLITS;
    if (maxs < 1) maxs = 1;
    int best = 1;
    double best_cost = 1e300;
    for (long long s = 1; s <= maxs; ++s) {
        const double waves = (double)((base * s + resident - 1) / resident);
        const double cost = waves / (double)s + 0.002 * (double)s;
        if (cost < best_cost - 1e-12) {
            best_cost = cost;
            best = (int)s;
        }
    }
    return best;
}

/* SMs, from a kernel's resident-block count (its blocks per SM are at least one) */
static long long sm_count_hint(long long resident) {
    int dev = 0, n = 0;
    if (cudaGetDevice(&dev) == cudaSuccess && cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev) == cudaSuccess &&
        n > 0)
        return n;
    return resident;
}

/* The kernel for a call without a forced one: tensor cores where they apply, else generic. */
static void choose_kernel(const qn_cuda_attention_args *a, int fast_ok, long long rows_fold, qn_cuda_attn_kernel *k) {
    const int D = (int)a->D;
    int have = 0;
    if (fast_ok) {
        if (rows_fold <= 16) have = qn_cuda_attn_kernel_of(QN_CUDA_ATTN_DECODE, a->dtype, D, k);
        else if (D == 64 && a->causal && a->Nq <= 1024)
            have = qn_cuda_attn_kernel_of(QN_CUDA_ATTN_PREFILL_ROWS64, a->dtype, D, k);
        else have = qn_cuda_attn_kernel_of(QN_CUDA_ATTN_PREFILL, a->dtype, D, k);
    }
    if (!have) (void)qn_cuda_attn_kernel_of(QN_CUDA_ATTN_GENERIC, a->dtype, D, k);
}

/* Decode (at most the kernel's rb folded rows) where no tensor-core decode kernel applies (f32, or
 * D = 256): the decode-rows kernel, its key splits (up to 8, about 32 keys each at least, no more
 * blocks than SMs) one thread-block cluster, so one launch and no partials; one split where the
 * device has no clusters. Key buffers past QN_DECODE_ROWS_MAX_NK rows keep the split-KV generic
 * kernel (8 splits would leave each block too many keys). Returns 1 with *pl set (*err: 0 or a
 * cudaError_t value), or 0. */
#define QN_DECODE_ROWS_MAX_NK 4096

/* QUANTA_CUDA_DEC_SPLITS=1..8 forces the decode-rows kernel's key splits (at most the cluster size the device
 * allows; 1: no cluster), for side-by-side timings of the split choice; unset or anything else: chosen below.
 * Read once. */
static int g_dec_splits_forced;
static pthread_once_t g_dec_splits_once = PTHREAD_ONCE_INIT;
static void dec_splits_read(void) {
    const char *e = getenv("QUANTA_CUDA_DEC_SPLITS");
    const int v = e && e[0] >= '1' && e[0] <= '8' && !e[1] ? e[0] - '0' : 0;
    g_dec_splits_forced = v;
}
static int dec_splits_forced(void) {
    (void)pthread_once(&g_dec_splits_once, dec_splits_read);
    return g_dec_splits_forced;
}
/* QUANTA_CUDA_DEC_SHORT (on by default, =0 off): decode-rows calls with at most 4 folded rows (7B: 32 / 8 query
 * heads, Gemma 3: 4 / 1) run the kernel's short form (QN_CUDA_ATTN_DECODE_ROWS_SHORT: 4-row instance, reduce-scatter
 * score sums, q before kv_lens, one-round-trip cluster merge; launched with PDL, its keys prefetched into L2 before
 * its wait and the next kernel let in after it; same splits). H100, 2026-12-06 10:38, in the same run as llama.cpp:
 * 7B Q4_0 374.2 -> 382.7 tok/s, Q8_0 262.8 -> 269.3, Gemma 3 270M 1174.6 -> 1247.2; conformance 333/0, greedy text
 * and graph replay identical (bench/cuda/verify_attn12.sh, bench/NOTES.md section 6 attn12). =2: the same kernel
 * without the early part (no PDL attribute, prefetch or launch_dependents), to tell the two apart. Read once. */
static int g_dec_short;
static pthread_once_t g_dec_short_once = PTHREAD_ONCE_INIT;
static void dec_short_read(void) {
    const char *e = getenv("QUANTA_CUDA_DEC_SHORT");
    g_dec_short = !e ? 1 : (e[0] == '1' || e[0] == '2') && !e[1] ? e[0] - '0' : 0;
}
static int dec_short_on(void) {
    (void)pthread_once(&g_dec_short_once, dec_short_read);
    return g_dec_short;
}
static int decode_rows_plan(const qn_cuda_attention_args *a, int fast_ok, long long rows_fold, qn_cuda_attn_plan *pl,
                            cudaError_t *err) {
    qn_cuda_attn_kernel k;
    *err = cudaSuccess;
    if (fast_ok && rows_fold <= 16 && qn_cuda_attn_kernel_of(QN_CUDA_ATTN_DECODE, a->dtype, (int)a->D, &k)) return 0;
    if (a->Nk > QN_DECODE_ROWS_MAX_NK) return 0;
    const int short_form = dec_short_on() && rows_fold <= 4 &&
                           qn_cuda_attn_kernel_of(QN_CUDA_ATTN_DECODE_ROWS_SHORT, a->dtype, (int)a->D, &k) &&
                           rows_fold <= k.rb;
    if (!short_form &&
        (!qn_cuda_attn_kernel_of(QN_CUDA_ATTN_DECODE_ROWS, a->dtype, (int)a->D, &k) || rows_fold > k.rb))
        return 0;
    long long resident = 0;
    int maxc = 0;
    if ((*err = resident_blocks(&k, &resident, &maxc)) != cudaSuccess) return 1;
    long long splits = 1;
    if (maxc >= 2) {
        const long long base = a->B * a->Hkv, sms = sm_count_hint(resident);
        splits = maxc < 8 ? maxc : 8;
        if (splits > (a->Nk + 31) / 32) splits = (a->Nk + 31) / 32;
        if (splits > sms / base) splits = sms / base;
        if (splits < 1) splits = 1;
        const int forced = dec_splits_forced();
        if (forced) splits = forced < maxc ? forced : maxc;
        if (splits > 8) splits = 8; /* the kernel's cluster merge holds at most 8 ranks (kDecMaxCluster) */
        if (splits == 1) k.cluster = 0;
    } else {
        k.cluster = 0;
    }
    if (short_form && dec_short_on() == 2) k.pdl = 0;
    pl->kernel = k;
    pl->mblocks = 1;
    pl->splits = (int)splits;
    pl->scratch = 0;
    return 1;
}

int qn_cuda_attn_make_plan(const qn_cuda_attention_args *a, const qn_cuda_attn_kernel *force, int limit_scratch,
                           qn_cuda_attn_plan *pl) {
    memset(pl, 0, sizeof *pl);
    if (a->Nq == 0) {
        pl->path = QN_CUDA_ATTN_PATH_NONE;
        return cudaSuccess;
    }
    if (a->Nk == 0) {
        pl->path = QN_CUDA_ATTN_PATH_ZERO;
        return cudaSuccess;
    }
    pl->path = QN_CUDA_ATTN_PATH_KERNEL;
    const long long G = a->Hq / a->Hkv;
    const long long rows_fold = G * a->Nq;
    const int D = (int)a->D;
    const int fast_ok = (a->dtype == QN_DT_F16 || a->dtype == QN_DT_BF16) && a->scale > 0.f && aligned16(a->q) &&
                        aligned16(a->k) && aligned16(a->v) && aligned16(a->out);
    cudaError_t e;
    if (!force && decode_rows_plan(a, fast_ok, rows_fold, pl, &e)) return e;
    if (force) pl->kernel = *force;
    else choose_kernel(a, fast_ok, rows_fold, &pl->kernel);
    long long resident = 0;
    e = resident_blocks(&pl->kernel, &resident, NULL);
    if (e != cudaSuccess) return e;
    pl->mblocks = (rows_fold + pl->kernel.rb - 1) / pl->kernel.rb;
    const long long base = a->B * a->Hkv * pl->mblocks;
    int splits = choose_splits(base, resident, a->Nk, pl->kernel.bn);
    /* decode: merge small split counts inside a thread-block cluster instead of through the scratch
     * and a second kernel (sm_90); measured faster where the fixed cost dominates */
    qn_cuda_attn_kernel cki;
    memset(&cki, 0, sizeof cki);
    const int want_cluster =
        force ? force->cluster
              : (fast_ok && rows_fold <= 16 && splits > 1 && g_decode_cluster_mode != 1 &&
                 (g_decode_cluster_mode == 2 ||
                  (base * splits <= sm_count_hint(resident) && a->Nk <= (long long)splits * pl->kernel.bn)) &&
                 qn_cuda_attn_kernel_of(QN_CUDA_ATTN_DECODE_CLUSTER, a->dtype, D, &cki));
    if (want_cluster) {
        const qn_cuda_attn_kernel ck = force ? *force : cki;
        long long cres = 0;
        int maxc = 0;
        e = resident_blocks(&ck, &cres, &maxc);
        if (e != cudaSuccess) return e;
        if (maxc >= 1) {
            int cs = choose_splits(base, cres, a->Nk, ck.bn);
            if (cs > maxc) cs = maxc;
            pl->kernel = ck;
            pl->splits = cs;
            pl->scratch = 0;
            return cudaSuccess;
        }
        if (force) return cudaErrorNotSupported;
    }
    const size_t per_split = (size_t)(a->B * a->Hq * a->Nq) * (size_t)(a->D + 1) * 4;
    if (limit_scratch && splits > 1) {
        const size_t fit = a->scratch ? a->scratch_bytes / per_split : 0;
        if ((size_t)splits > fit) splits = (int)fit;
        if (splits < 2) splits = 1;
    }
    if (pl->mblocks * splits > 0x7fffffffLL) splits = 1;
    pl->splits = splits;
    pl->scratch = splits > 1 ? per_split * (size_t)splits : 0;
    return cudaSuccess;
}

size_t qn_cuda_attention_scratch_bytes(const qn_cuda_attention_args *a) {
    if (!qn_cuda_attention_supported(a)) return 0;
    qn_cuda_attn_plan pl;
    if (qn_cuda_attn_make_plan(a, NULL, 0, &pl) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    return pl.path == QN_CUDA_ATTN_PATH_KERNEL ? pl.scratch : 0;
}

static void plan_err(char *err, size_t len, const char *what, cudaError_t e) {
    if (err && len) snprintf(err, len, "qn_cuda_attention: %s: %s (%d)", what, cudaGetErrorString(e), (int)e);
}

int qn_cuda_attention_forced(const qn_cuda_attention_args *a, const qn_cuda_attn_kernel *force, char *err,
                             size_t err_len) {
    if (err && err_len) err[0] = '\0';
    if (!qn_cuda_attention_supported(a)) {
        if (err && err_len) snprintf(err, err_len, "qn_cuda_attention: unsupported or invalid arguments");
        return (int)cudaErrorInvalidValue;
    }
    qn_cuda_attn_plan pl;
    cudaError_t e = (cudaError_t)qn_cuda_attn_make_plan(a, force, 1, &pl);
    if (e != cudaSuccess) {
        plan_err(err, err_len, "planning the launch", e);
        return (int)e;
    }
    if (pl.path == QN_CUDA_ATTN_PATH_NONE) return 0;
    if (pl.path == QN_CUDA_ATTN_PATH_ZERO) {
        /* no keys at all: every row sees nothing, and zero bits are 0.0 in all three dtypes */
        e = cudaMemsetAsync(a->out, 0, (size_t)(a->B * a->Hq * a->Nq * a->D) * esize(a->dtype), (cudaStream_t)a->stream);
        if (e != cudaSuccess) plan_err(err, err_len, "zero-filling the output", e);
        return (int)e;
    }
    return qn_cuda_attn_launch(a, &pl.kernel, pl.mblocks, pl.splits, err, err_len);
}

/* QUANTA_CUDA_ATTN_WG=1: prefill calls the wgmma kernel handles (kernels_cuda/attention_wg.cu: head dim 128,
 * f16/bf16, compute capability 9.0) go to it, where its blocks fill one wave of the SMs (it has no key splits;
 * below that the mma.sync kernel splits the keys) and the rows are not decode rows. =2: every call it handles,
 * whatever the shape (conformance: small shapes through the new kernel); =0: never. Read once. */
/* The mode when QUANTA_CUDA_ATTN_WG is unset (or not 0/1/2): 1 since the H100 run of 13:12 (fa13: conformance of
 * attention 333/0 with every form, the auto pick 1.2-2.0x the mma.sync kernel on every hd128 prefill row there);
 * =0 turns the kernel off. */
#define QN_CUDA_ATTN_WG_DEFAULT 1
static int g_wg_mode;
static pthread_once_t g_wg_once = PTHREAD_ONCE_INIT;
static void wg_read(void) {
    const char *e = getenv("QUANTA_CUDA_ATTN_WG");
    g_wg_mode = e && e[0] >= '0' && e[0] <= '2' && !e[1] ? e[0] - '0' : QN_CUDA_ATTN_WG_DEFAULT;
}

int qn_cuda_attn_wg_chosen(const qn_cuda_attention_args *a) {
    (void)pthread_once(&g_wg_once, wg_read);
    if (!g_wg_mode || !qn_cuda_attn_wg_applies(a)) return 0;
    if (g_wg_mode == 2) return 1;
    if ((a->Hq / a->Hkv) * a->Nq <= 16) return 0;
    int dev = 0, sms = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    return qn_cuda_attn_wg_blocks(a) >= sms;
}

int qn_cuda_attention(const qn_cuda_attention_args *a, char *err, size_t err_len) {
    if (qn_cuda_attention_supported(a) && qn_cuda_attn_wg_chosen(a))
        return qn_cuda_attn_wg_launch(a, QN_CUDA_ATTN_WG_AUTO, err, err_len);
    return qn_cuda_attention_forced(a, NULL, err, err_len);
}
