/*
 * cuda_backend.c — the CUDA backend's vtable: device discovery, per-open state, device
 * memory, weight preparation, synchronisation and the bandwidth probe. Op dispatch lives in
 * cuda_ops.c, kernels in kernels_cuda/.
 *
 * The CUDA runtime is linked statically (cudart_static loads libcuda.so at run time), so a
 * library built with CUDA starts on machines without an NVIDIA driver: cudaGetDeviceCount
 * fails there (insufficient driver / no device) and the backend reports zero devices.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_internal.h"

quanta_status qn_cuda_error(cudaError_t e, const char *what) {
    (void)cudaGetLastError(); /* clear a non-sticky error so the next call starts clean */
    const quanta_status st = e == cudaErrorMemoryAllocation ? QUANTA_ERR_OUT_OF_MEMORY : QUANTA_ERR_BACKEND;
    return qn_error_set(st, "cuda %s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
}

static quanta_status cuda_device_count(int *count) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) n = 0; /* no driver or no device: not an error */
    (void)cudaGetLastError();
    *count = n < 0 ? 0 : n;
    return QUANTA_OK;
}

static quanta_status cuda_device_info(int index, quanta_device_info *info) {
    struct cudaDeviceProp p;
    cudaError_t e = cudaGetDeviceProperties(&p, index);
    if (e != cudaSuccess) return qn_cuda_error(e, "device_info: cudaGetDeviceProperties");
    memset(info, 0, sizeof *info);
    snprintf(info->backend, sizeof info->backend, "cuda");
    info->index = index;
    snprintf(info->name, sizeof info->name, "%.127s", p.name);
    snprintf(info->vendor, sizeof info->vendor, "NVIDIA");
    int drv = 0, rt = 0;
    (void)cudaDriverGetVersion(&drv);
    (void)cudaRuntimeGetVersion(&rt);
    snprintf(info->driver, sizeof info->driver, "CUDA driver %d.%d, runtime %d.%d", drv / 1000, (drv % 1000) / 10,
             rt / 1000, (rt % 1000) / 10);
    info->memory_bytes = (uint64_t)p.totalGlobalMem;
    info->compute_units = p.multiProcessorCount;
    info->has_fp16 = 1;
    info->has_subgroups = 1;
    snprintf(info->details, sizeof info->details,
             "sm_%d%d, %d SMs, L2 %d KiB, shared memory %zu KiB per block (opt-in %zu KiB), warp %d; "
             "kernels: mma.sync f16 matmul (q8/q4/nf4/fp8/f16/bf16 weights), split-K decode",
             p.major, p.minor, p.multiProcessorCount, p.l2CacheSize / 1024, p.sharedMemPerBlock / 1024,
             p.sharedMemPerBlockOptin / 1024, p.warpSize);
    return QUANTA_OK;
}

/* Programmatic dependent launch (kernels_cuda/cuda_common.cuh): on while every device opened so far
 * is sm_90 or newer, unless QUANTA_CUDA_PDL=0 (a switch for side-by-side timings). */
static cudaError_t pdl_update(int index) {
    static int older_seen = 0;
    int major = 0;
    cudaError_t e = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, index);
    if (e != cudaSuccess) return e;
    if (major < 9) older_seen = 1;
    const char *v = getenv("QUANTA_CUDA_PDL");
    qn_cuda_set_pdl(!older_seen && !(v && !strcmp(v, "0")));
    return cudaSuccess;
}

/* The device check of the logits (QUANTA_CUDA_FINITE_GPU: 0 never, 1 at every size, else from QN_CUDA_FINITE_GPU_MIN
 * values) and its flag word in mapped page-locked memory, which the kernel writes straight into: where the device
 * cannot map host memory the check stays off (the host scans). */
static cudaError_t finite_word_open(qn_cuda_state *s) {
    const char *v = getenv("QUANTA_CUDA_FINITE_GPU");
    int can_map = 0;
    if (v && !strcmp(v, "0")) return cudaSuccess;
    cudaError_t e = cudaDeviceGetAttribute(&can_map, cudaDevAttrCanMapHostMemory, s->device);
    if (e != cudaSuccess || !can_map) return e;
    void *h = NULL, *d = NULL;
    e = cudaHostAlloc(&h, sizeof(unsigned), cudaHostAllocMapped | cudaHostAllocPortable);
    if (e == cudaSuccess) e = cudaHostGetDevicePointer(&d, h, 0);
    if (e != cudaSuccess) { /* no mapped memory to be had: the host's scan, which works */
        if (h) cudaFreeHost(h);
        (void)cudaGetLastError();
        return cudaSuccess;
    }
    memset(h, 0, sizeof(unsigned)); /* generation 0 is never passed */
    s->finite_word = h;
    s->finite_word_dev = d;
    s->finite_gpu = v && !strcmp(v, "1") ? 2 : 1;
    return cudaSuccess;
}

static quanta_status cuda_open(int index, qn_mem_stats *stats, void **self) {
    int n = 0;
    cuda_device_count(&n);
    if (index < 0 || index >= n)
        return qn_error_set(QUANTA_ERR_NO_DEVICE, "cuda open: device %d does not exist (%d CUDA devices)", index, n);
    qn_cuda_state *s = calloc(1, sizeof *s);
    if (!s) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "cuda open: no memory for the backend state");
    s->device = index;
    s->stats = stats;
    const char *g = getenv("QUANTA_CUDA_GRAPHS");
    s->graphs = !(g && !strcmp(g, "0"));
    const char *pr = getenv("QUANTA_CUDA_PINNED_READ");
    /* on by default since the H100 run of 2026-12-06 03:50 (verify_host9.sh: Gemma decode 789-857 -> 939-962 tok/s
     * alternated, 7B Q8_0 +0.7%); QUANTA_CUDA_PINNED_READ=0 reads straight into the caller's pageable memory */
    s->pinned_read = !(pr && !strcmp(pr, "0"));
    cudaError_t e = cudaSetDevice(index);
    if (e == cudaSuccess) e = cudaDeviceGetAttribute(&s->sms, cudaDevAttrMultiProcessorCount, index);
    if (e == cudaSuccess) e = pdl_update(index);
    if (e == cudaSuccess) e = cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking);
    if (e == cudaSuccess) e = cudaMalloc((void **)&s->err_flag, 4 * sizeof(int));
    if (e == cudaSuccess) e = cudaMemset(s->err_flag, 0, 4 * sizeof(int));
    if (e == cudaSuccess) e = cudaMalloc((void **)&s->counters, QN_CUDA_MATMUL_COUNTERS * sizeof(unsigned));
    if (e == cudaSuccess) e = cudaMemset(s->counters, 0, QN_CUDA_MATMUL_COUNTERS * sizeof(unsigned));
    if (e == cudaSuccess) e = cudaMallocHost((void **)&s->host_flag, 4 * sizeof(int));
    if (e == cudaSuccess) e = finite_word_open(s);
    if (e != cudaSuccess) {
        quanta_status st = qn_cuda_error(e, "open");
        if (s->host_flag) cudaFreeHost(s->host_flag);
        if (s->finite_word) cudaFreeHost((void *)s->finite_word);
        if (s->counters) cudaFree(s->counters);
        if (s->err_flag) cudaFree(s->err_flag);
        if (s->stream) cudaStreamDestroy(s->stream);
        free(s);
        return st == QUANTA_ERR_BACKEND ? QUANTA_ERR_NO_DEVICE : st;
    }
    *self = s;
    return QUANTA_OK;
}

static void cuda_close(void *self) {
    qn_cuda_state *s = self;
    if (!s) return;
    (void)cudaSetDevice(s->device);
    (void)cudaStreamSynchronize(s->stream);
    if (s->scratch) {
        cudaFree(s->scratch);
        qn_mem_release(s->stats, s->scratch_bytes);
    }
    if (s->xq) {
        cudaFree(s->xq);
        qn_mem_release(s->stats, s->xq_bytes);
    }
    if (s->xq_alt) {
        cudaFree(s->xq_alt);
        qn_mem_release(s->stats, s->xq_alt_bytes);
    }
    if (s->mq) {
        cudaFree(s->mq);
        qn_mem_release(s->stats, s->mq_bytes);
    }
    cudaFree(s->err_flag);
    cudaFree(s->counters);
    cudaFreeHost(s->host_flag);
    if (s->finite_word) cudaFreeHost((void *)s->finite_word);
    if (s->pinned) cudaFreeHost(s->pinned);
    cudaStreamDestroy(s->stream);
    (void)cudaGetLastError();
    free(s);
}

/* Grows a device buffer the backend owns (*buf of *have bytes) to at least `bytes` (at least
 * `floor`), booked in the memory account. Its address changes, so captured graphs are stale. */
static quanta_status grow_owned(qn_cuda_state *s, void **buf, size_t *have, size_t bytes, size_t floor,
                                const char *what) {
    if (bytes <= *have && *buf) return QUANTA_OK;
    size_t want = bytes < floor ? floor : bytes;
    if (*buf) { /* work queued on the stream may still read the old buffer */
        cudaError_t e = cudaStreamSynchronize(s->stream);
        if (e != cudaSuccess) return qn_cuda_error(e, "growing a buffer: cudaStreamSynchronize");
        cudaFree(*buf);
        qn_mem_release(s->stats, *have);
        *buf = NULL;
        *have = 0;
    }
    quanta_status st = qn_mem_reserve(s->stats, want, what);
    if (st != QUANTA_OK) return st;
    cudaError_t e = cudaMalloc(buf, want);
    if (e != cudaSuccess) {
        qn_mem_unreserve(s->stats, want);
        *buf = NULL;
        return qn_cuda_error(e, "growing a buffer: cudaMalloc");
    }
    *have = want;
    s->epoch++;
    return QUANTA_OK;
}

quanta_status qn_cuda_scratch(qn_cuda_state *s, size_t bytes, void **out) {
    quanta_status st = grow_owned(s, &s->scratch, &s->scratch_bytes, bytes, 1024 * 1024, "cuda scratch");
    *out = s->scratch;
    return st;
}

quanta_status qn_cuda_xq(qn_cuda_state *s, size_t bytes, void **out) {
    const void *had = s->xq;
    quanta_status st = grow_owned(s, &s->xq, &s->xq_bytes, bytes, 256 * 1024, "cuda activation codes");
    if (s->xq != had) s->xq_src = NULL; /* a new buffer holds no codes */
    *out = s->xq;
    return st;
}

quanta_status qn_cuda_mq(qn_cuda_state *s, size_t bytes, void **out) {
    const void *had = s->mq;
    quanta_status st = grow_owned(s, &s->mq, &s->mq_bytes, bytes, 1024 * 1024, "cuda kept activation prep");
    if (s->mq != had) s->mq_src = NULL; /* a new buffer holds no prep */
    *out = s->mq;
    return st;
}

quanta_status qn_cuda_xq_alt(qn_cuda_state *s, size_t bytes, void **out) {
    const size_t want = bytes > s->xq_bytes ? bytes : s->xq_bytes;
    quanta_status st = grow_owned(s, &s->xq_alt, &s->xq_alt_bytes, want, 256 * 1024, "cuda activation codes");
    *out = s->xq_alt;
    return st;
}

void qn_cuda_xq_take_alt(qn_cuda_state *s, const void *src, int64_t M, int64_t K, int dtype) {
    void *b = s->xq;
    const size_t n = s->xq_bytes;
    s->xq = s->xq_alt, s->xq_bytes = s->xq_alt_bytes;
    s->xq_alt = b, s->xq_alt_bytes = n;
    s->xq_src = src, s->xq_M = M, s->xq_K = K, s->xq_dtype = dtype;
}

static quanta_status cuda_alloc(void *self, size_t bytes, void **handle) {
    qn_cuda_state *s = self;
    void *p = NULL;
    cudaError_t e = cudaSetDevice(s->device);
    if (e == cudaSuccess) e = cudaMalloc(&p, bytes ? bytes : 1);
    if (e != cudaSuccess) return qn_cuda_error(e, "alloc: cudaMalloc");
    e = cudaMemsetAsync(p, 0, bytes, s->stream);
    if (e == cudaSuccess) e = cudaStreamSynchronize(s->stream);
    if (e != cudaSuccess) {
        cudaFree(p);
        return qn_cuda_error(e, "alloc: cudaMemset");
    }
    *handle = p;
    return QUANTA_OK;
}

static void cuda_free(void *self, void *handle) {
    qn_cuda_state *s = self;
    if (!handle) return;
    qn_cuda_forget_x(s);
    (void)cudaSetDevice(s->device);
    (void)cudaStreamSynchronize(s->stream); /* a queued kernel may still use it */
    cudaFree(handle);
    (void)cudaGetLastError();
}

static quanta_status cuda_write(void *self, qn_mem dst, const void *src, size_t bytes) {
    qn_cuda_state *s = self;
    if (!bytes) return QUANTA_OK;
    qn_cuda_forget_x(s); /* the host may be rewriting an activation whose codes are cached */
    cudaError_t e = cudaMemcpyAsync((char *)dst.handle + dst.offset, src, bytes, cudaMemcpyHostToDevice, s->stream);
    /* src may be freed on return. From pageable memory (all the library and its callers pass)
     * cudaMemcpyAsync returns once src is copied to staging memory, so small writes (a decode
     * step's token, positions, lengths and masks) skip the wait; large ones keep it. */
    if (e == cudaSuccess && bytes > 256 * 1024) e = cudaStreamSynchronize(s->stream);
    return e == cudaSuccess ? QUANTA_OK : qn_cuda_error(e, "write: cudaMemcpyAsync");
}

/* Whether the page-locked staging buffer holds `bytes`, grown to fit where it is on (QUANTA_CUDA_PINNED_READ) and
 * they are few enough; no: switched off, too large, or no page-locked memory to be had. */
static int staging_fits(qn_cuda_state *s, size_t bytes) {
    if (s->pinned_read && bytes <= QN_CUDA_PINNED_READ_MAX && bytes > s->pinned_bytes) {
        /* the stream is idle here: nothing reads the old buffer */
        if (s->pinned) cudaFreeHost(s->pinned);
        s->pinned = NULL;
        s->pinned_bytes = 0;
        if (cudaMallocHost(&s->pinned, bytes) == cudaSuccess) {
            s->pinned_bytes = bytes;
        } else { /* no page-locked memory to be had: reads stay on the pageable copy, which works */
            s->pinned = NULL;
            s->pinned_read = 0;
            (void)cudaGetLastError();
        }
    }
    return s->pinned_read && bytes <= s->pinned_bytes;
}

/* src's bytes copied into the staging buffer (which fits them), after the work queued before. */
static quanta_status stage(qn_cuda_state *s, qn_mem src, size_t bytes, const void **view) {
    cudaError_t e = cudaMemcpyAsync(s->pinned, (const char *)src.handle + src.offset, bytes, cudaMemcpyDeviceToHost,
                                    s->stream);
    if (e == cudaSuccess) e = cudaStreamSynchronize(s->stream);
    if (e != cudaSuccess) return qn_cuda_error(e, "read: cudaMemcpyAsync");
    *view = s->pinned;
    return QUANTA_OK;
}

/* The bytes of src copied into the page-locked staging buffer (grown to fit), for a caller that copies
 * them out of it itself (read, or the logits' copy fused with their check: engine/plan.c
 * qn_plan_get_output_f32_finite). *view = NULL: no staging buffer (switched off, too large, or no
 * page-locked memory to be had): the caller reads straight into its own memory. */
static quanta_status cuda_read_view(void *self, qn_mem src, size_t bytes, const void **view) {
    qn_cuda_state *s = self;
    *view = NULL;
    if (!bytes || !staging_fits(s, bytes)) return QUANTA_OK;
    return stage(s, src, bytes, view);
}

/* The same view of count f32 values checked for Inf/NaN on the device first (QUANTA_CUDA_FINITE_GPU): the kernel
 * is queued at the read, outside any captured graph, so one recording serves both settings and the check follows
 * whatever ran before it (a replay, or ops one by one); it reads the values while the head GEMV's writes are still
 * in L2, and the 1 MiB of Gemma's logits are not scanned on the host (67 us of a step on the H100 host). The flag
 * word is mapped host memory: no copy of its own, visible once the stream's wait for the values' copy returns. */
static quanta_status cuda_read_view_f32_checked(void *self, qn_mem src, size_t count, const void **view,
                                                qn_finite_state *state) {
    qn_cuda_state *s = self;
    *view = NULL;
    *state = QN_FINITE_UNCHECKED;
    if (count > SIZE_MAX / sizeof(float))
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "cuda read: %zu floats", count);
    const size_t bytes = count * sizeof(float);
    const int check = s->finite_gpu == 2 || (s->finite_gpu == 1 && count >= QN_CUDA_FINITE_GPU_MIN);
    if (!check || !bytes || !staging_fits(s, bytes)) return cuda_read_view(s, src, bytes, view);
    if (++s->finite_gen == 0) s->finite_gen = 1; /* 0 is the word's first value: never a generation */
    const int e = qn_cuda_finite_check((const float *)(const void *)((const char *)src.handle + src.offset),
                                       (int64_t)count, s->finite_gen, s->finite_word_dev, s->stream);
    if (e) return qn_cuda_error((cudaError_t)e, "read: the finiteness check");
    quanta_status st = stage(s, src, bytes, view);
    if (st == QUANTA_OK) *state = *s->finite_word == s->finite_gen ? QN_FINITE_SOME : QN_FINITE_ALL;
    return st;
}

static quanta_status cuda_read(void *self, qn_mem src, void *dst, size_t bytes) {
    qn_cuda_state *s = self;
    if (!bytes) return QUANTA_OK;
    const void *view = NULL;
    quanta_status st = cuda_read_view(s, src, bytes, &view);
    if (st != QUANTA_OK) return st;
    if (view) {
        memcpy(dst, view, bytes);
        return QUANTA_OK;
    }
    cudaError_t e = cudaMemcpyAsync(dst, (const char *)src.handle + src.offset, bytes, cudaMemcpyDeviceToHost,
                                    s->stream);
    if (e == cudaSuccess) e = cudaStreamSynchronize(s->stream);
    return e == cudaSuccess ? QUANTA_OK : qn_cuda_error(e, "read: cudaMemcpyAsync");
}

/* QUANTA_CUDA_FP8_SS=1 (fp818, off): e4m3 weights get a K-major copy of their codes at prepare time, which
 * kernels_cuda/matmul_fp8_wg.cu's GEMM then takes (both wgmma operands from shared memory; the tiled copy stays for
 * the other kernels). Off: the prepared bytes are exactly those of before. */
QN_CUDA_SWITCH_FN(fp8_ss_on, qn_cuda_switch_opt_in, "QUANTA_CUDA_FP8_SS")
/* QUANTA_CUDA_FP8_PP=1 / QUANTA_CUDA_FP8_OE=1 (fp819, off): the GEMM's ping-pong form and its split epilogue, which
 * read the same K-major copy: made under any of the three */
QN_CUDA_SWITCH_FN(fp8_pp_on, qn_cuda_switch_opt_in, "QUANTA_CUDA_FP8_PP")
QN_CUDA_SWITCH_FN(fp8_oe_on, qn_cuda_switch_opt_in, "QUANTA_CUDA_FP8_OE")
/* QUANTA_CUDA_FP8_KM=1 (fp820, off): e4m3 weights keep their codes in that K-major layout only (no tiled codes, no
 * second copy: 1x the device bytes), which the decode GEMV (matmul_q.cu's K-major form) and the FP8 GEMM's SS forms
 * read; made only where the GEMM's SS route serves every M >= QN_CUDA_FP8_WG_MIN_M (qn_cuda_fp8_km_ok: sm_90a, a TMA
 * form of QUANTA_CUDA_FP8_V2, QUANTA_CUDA_FP8_WGMMA on), since the tiled-only prefill kernel is not there for it.
 * On by default since lead21 (H100 2026-12-07 15:09, fp821's call): the decode GEMV on these codes (fp821's form 7)
 * 0.68-0.94x the tiled GEMV's time at M = 1..8, fp8 Gemma tg 577 -> 845 tok/s, the GEMM 3-4% faster on the M = 4096
 * rows; fp821's rule missed by 1.3-2.2% on four 256-token / one 2048-token rows that stay >= 0.93x `_scaled_mm`
 * (bench/NOTES.md, fp821 / lead21). QUANTA_CUDA_FP8_KM=0: the tiled codes. */
QN_CUDA_SWITCH_FN(fp8_km_on, qn_cuda_switch_on, "QUANTA_CUDA_FP8_KM")
QN_CUDA_SWITCH_FN(fp8_wgmma_on, qn_cuda_switch_on, "QUANTA_CUDA_FP8_WGMMA")

/* QUANTA_CUDA_GGML_TLIN=1 (mmq24, off): Q4_0 / Q8_0 weights (K a multiple of 256) get a second, tile-linear copy on a
 * compute capability 9.0 device (kernels_cuda/ggml_mmq.cu qn_cuda_ggml_tlin_pack: 1x more device bytes), from which
 * the sm_90a GEMM (=17) copies each weight slot in one linear bulk copy; the GGUF bytes stay where they are for every
 * other reader. aux is a qn_cuda_prepared whose dev is that copy and whose w is zero (fmt QN_CW_GGML_TLIN): the ggml
 * routes test the dtype before aux, so only run_matmul_ggml / the grouped matmul read it. Off: nothing made. */
QN_CUDA_SWITCH_FN(ggml_tlin_on, qn_cuda_switch_opt_in, "QUANTA_CUDA_GGML_TLIN")

static quanta_status prepare_ggml_tlin(qn_cuda_state *s, const qn_tensor *w, void **aux) {
    int major = 0;
    if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, s->device) != cudaSuccess || major != 9)
        return QUANTA_OK;
    const size_t bytes = qn_cuda_ggml_tlin_bytes((int)w->desc.dtype, w->desc.dims[0], w->desc.dims[1]);
    if (!bytes || ((uintptr_t)qn_cuda_ptr(w) & 3u)) return QUANTA_OK;
    qn_cuda_prepared *pw = calloc(1, sizeof *pw);
    if (!pw) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "cuda prepare_weight: no memory for the descriptor");
    quanta_status st = qn_mem_reserve(s->stats, bytes, "cuda prepare_weight (tile-linear ggml copy)");
    if (st != QUANTA_OK) {
        free(pw);
        return st;
    }
    int e = (int)cudaMalloc(&pw->dev, bytes);
    if (!e) e = qn_cuda_ggml_tlin_pack((int)w->desc.dtype, qn_cuda_ptr(w), w->desc.dims[0], w->desc.dims[1], pw->dev,
                                       s->stream);
    if (!e) e = (int)cudaStreamSynchronize(s->stream);
    if (e) {
        if (pw->dev) cudaFree(pw->dev);
        qn_mem_unreserve(s->stats, bytes);
        free(pw);
        return qn_cuda_error((cudaError_t)e, "prepare_weight: the tile-linear ggml copy");
    }
    pw->bytes = bytes;
    pw->w.fmt = QN_CW_GGML_TLIN;
    *aux = pw;
    return QUANTA_OK;
}

static quanta_status cuda_prepare_weight(void *self, const qn_tensor *w, void **aux) {
    qn_cuda_state *s = self;
    *aux = NULL;
    if (w->desc.ndim == 2 && (w->desc.dtype == QUANTA_GGML_Q4_0 || w->desc.dtype == QUANTA_GGML_Q8_0) && ggml_tlin_on())
        return prepare_ggml_tlin(s, w, aux);
    if (w->desc.ndim != 2 || qn_cuda_weight_format(w->desc.dtype) < 0) return QUANTA_OK; /* used as is */
    uint8_t *host = malloc(w->bytes ? w->bytes : 1);
    if (!host) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "cuda prepare_weight: %zu host bytes", w->bytes);
    quanta_status st = cuda_read(s, w->mem, host, w->bytes);
    qn_cuda_packed pk;
    if (st == QUANTA_OK) st = qn_cuda_repack(&w->desc, host, w->bytes, &pk);
    free(host);
    if (st != QUANTA_OK) return st;
    /* fp820: the e4m3 codes K-major only (every reader takes them); else fp818: also K-major, a second copy for the
     * FP8 GEMM's form with both operands in shared memory */
    if (pk.fmt == QN_CW_E4M3 && fp8_km_on() && fp8_wgmma_on() && qn_cuda_fp8_km_ok())
        st = qn_cuda_repack_fp8_km_only(&pk);
    else if (pk.fmt == QN_CW_E4M3 && (fp8_ss_on() || fp8_pp_on() || fp8_oe_on()))
        st = qn_cuda_repack_fp8_km(&pk);
    if (st != QUANTA_OK) {
        free(pk.buf);
        return st;
    }
    qn_cuda_prepared *pw = calloc(1, sizeof *pw);
    if (!pw) {
        free(pk.buf);
        return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "cuda prepare_weight: no memory for the descriptor");
    }
    st = qn_mem_reserve(s->stats, pk.bytes, "cuda prepare_weight");
    if (st != QUANTA_OK) {
        free(pk.buf), free(pw);
        return st;
    }
    cudaError_t e = cudaMalloc(&pw->dev, pk.bytes);
    if (e == cudaSuccess) e = cudaMemcpy(pw->dev, pk.buf, pk.bytes, cudaMemcpyHostToDevice);
    free(pk.buf);
    if (e != cudaSuccess) {
        if (pw->dev) cudaFree(pw->dev);
        qn_mem_unreserve(s->stats, pk.bytes);
        free(pw);
        return qn_cuda_error(e, "prepare_weight: upload");
    }
    pw->bytes = pk.bytes;
    pw->w.fmt = pk.fmt;
    pw->w.N = pk.N, pw->w.K = pk.K, pw->w.Np = pk.Np, pw->w.Kp = pk.Kp;
    pw->w.group = pk.group;
    pw->w.codes = pk.km_only ? NULL : (char *)pw->dev + pk.codes_off; /* fp820: NULL says "K-major only" */
    pw->w.row_scale = (const float *)(const void *)((char *)pw->dev + pk.row_scale_off);
    pw->w.meta = (const uint32_t *)(const void *)((char *)pw->dev + pk.meta_off);
    pw->w.codes_k = pk.codes_k_off || pk.km_only ? (char *)pw->dev + pk.codes_k_off : NULL;
    *aux = pw;
    return QUANTA_OK;
}

static void cuda_release_weight(void *self, void *aux) {
    qn_cuda_state *s = self;
    qn_cuda_prepared *pw = aux;
    if (!pw) return;
    (void)cudaStreamSynchronize(s->stream);
    cudaFree(pw->dev);
    qn_mem_release(s->stats, pw->bytes);
    free(pw);
}

static quanta_status cuda_synchronize(void *self) {
    qn_cuda_state *s = self;
    /* The flag's copy joins the stream's queue: one wait for both (a blocking cudaMemcpy after
     * the stream's wait cost a second round trip per synchronize, two per decode step). */
    cudaError_t e = cudaMemcpyAsync(s->host_flag, s->err_flag, 4 * sizeof(int), cudaMemcpyDeviceToHost, s->stream);
    if (e == cudaSuccess) e = cudaStreamSynchronize(s->stream);
    if (e != cudaSuccess) return qn_cuda_error(e, "synchronize");
    int f[4], flag;
    memcpy(f, s->host_flag, sizeof f);
    flag = f[0];
    if (flag) {
        (void)cudaMemset(s->err_flag, 0, sizeof f);
        if (flag == 3)
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                                "cuda paged_attention: kv_lens[%d] = %d is below the %d queries or beyond the block "
                                "table's positions (columns * block_size)", f[1], f[2], f[3]);
        if (flag == 4)
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                                "cuda paged_attention: block_table[%d][%d] = %d is not a block of the pool", f[1], f[2],
                                f[3]);
        if (flag == 1)
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "cuda get_rows: an id was out of range [0, V)");
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "cuda write_rows: start + T rows overflowed dst's Nmax rows (or start < 0; with one start "
                            "per row: a start[t] outside [0, Nmax))");
    }
    return QUANTA_OK;
}

static quanta_status cuda_copy_bandwidth(void *self, size_t bytes, double *bytes_per_second) {
    qn_cuda_state *s = self;
    bytes = bytes / 16 * 16;
    if (bytes == 0) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "cuda copy_bandwidth: bytes must be >= 16");
    quanta_status st = qn_mem_reserve(s->stats, 2 * (uint64_t)bytes, "cuda copy_bandwidth");
    if (st != QUANTA_OK) return st;
    void *a = NULL, *b = NULL;
    cudaEvent_t e0 = NULL, e1 = NULL;
    cudaError_t e = cudaMalloc(&a, bytes);
    if (e == cudaSuccess) e = cudaMalloc(&b, bytes);
    if (e == cudaSuccess) e = cudaMemsetAsync(a, 0x5a, bytes, s->stream);
    if (e == cudaSuccess) e = cudaEventCreate(&e0);
    if (e == cudaSuccess) e = cudaEventCreate(&e1);
    const int iters = 20;
    float ms = 0.0f;
    for (int i = 0; e == cudaSuccess && i < 3; i++) e = (cudaError_t)qn_cuda_copy(b, a, bytes, s->stream);
    if (e == cudaSuccess) e = cudaEventRecord(e0, s->stream);
    for (int i = 0; e == cudaSuccess && i < iters; i++)
        e = (cudaError_t)qn_cuda_copy(i & 1 ? a : b, i & 1 ? b : a, bytes, s->stream);
    if (e == cudaSuccess) e = cudaEventRecord(e1, s->stream);
    if (e == cudaSuccess) e = cudaEventSynchronize(e1);
    if (e == cudaSuccess) e = cudaEventElapsedTime(&ms, e0, e1);
    if (e0) cudaEventDestroy(e0);
    if (e1) cudaEventDestroy(e1);
    if (a) cudaFree(a);
    if (b) cudaFree(b);
    qn_mem_release(s->stats, 2 * (uint64_t)bytes);
    if (e != cudaSuccess) return qn_cuda_error(e, "copy_bandwidth");
    *bytes_per_second = ms > 0.0f ? 2.0 * (double)bytes * iters / ((double)ms * 1e-3) : 0.0;
    return QUANTA_OK;
}

/* ------------------------------------------------------------ CUDA graphs */

/* A captured plan execution and the memory epoch it was captured in. */
typedef struct qn_cuda_recording {
    cudaGraphExec_t exec;
    unsigned epoch;
} qn_cuda_recording;

static quanta_status cuda_capture_begin(void *self) {
    qn_cuda_state *s = self;
    if (!s->graphs) return qn_error_set(QUANTA_ERR_UNSUPPORTED, "cuda: CUDA graphs are off (QUANTA_CUDA_GRAPHS=0)");
    qn_cuda_forget_x(s); /* the recording must quantize its own activations */
    cudaError_t e = cudaSetDevice(s->device);
    /* Relaxed: the launchers' attribute queries and one-time cudaFuncSetAttribute calls are
     * allowed while the stream records. */
    if (e == cudaSuccess) e = cudaStreamBeginCapture(s->stream, cudaStreamCaptureModeRelaxed);
    return e == cudaSuccess ? QUANTA_OK : qn_cuda_error(e, "capture_begin");
}

static quanta_status cuda_capture_end(void *self, int ok, void **recording) {
    qn_cuda_state *s = self;
    *recording = NULL;
    const unsigned epoch = s->epoch;
    cudaGraph_t graph = NULL;
    cudaError_t e = cudaStreamEndCapture(s->stream, &graph);
    qn_cuda_forget_x(s);
    if (e != cudaSuccess || !ok || !graph) {
        if (graph) cudaGraphDestroy(graph);
        (void)cudaGetLastError();
        return e == cudaSuccess ? QUANTA_OK : qn_cuda_error(e, "capture_end");
    }
    qn_cuda_recording *r = calloc(1, sizeof *r);
    if (!r) {
        cudaGraphDestroy(graph);
        return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "cuda capture_end: no memory");
    }
    e = cudaGraphInstantiate(&r->exec, graph, 0);
    cudaGraphDestroy(graph);
    if (e != cudaSuccess) {
        free(r);
        return qn_cuda_error(e, "capture_end: cudaGraphInstantiate");
    }
    r->epoch = epoch;
    *recording = r;
    return QUANTA_OK;
}

static quanta_status cuda_replay(void *self, void *recording, int *valid) {
    qn_cuda_state *s = self;
    qn_cuda_recording *r = recording;
    *valid = r->epoch == s->epoch;
    if (!*valid) return QUANTA_OK;
    cudaError_t e = cudaGraphLaunch(r->exec, s->stream);
    qn_cuda_forget_x(s); /* whatever the recording left in xq is not tracked */
    return e == cudaSuccess ? QUANTA_OK : qn_cuda_error(e, "replay: cudaGraphLaunch");
}

static void cuda_release_recording(void *self, void *recording) {
    qn_cuda_state *s = self;
    qn_cuda_recording *r = recording;
    if (!r) return;
    (void)cudaStreamSynchronize(s->stream);
    cudaGraphExecDestroy(r->exec);
    (void)cudaGetLastError();
    free(r);
}

const qn_backend_ops qn_cuda_backend = {
    .name = "cuda",
    .device_count = cuda_device_count,
    .device_info = cuda_device_info,
    .open = cuda_open,
    .close = cuda_close,
    .alloc = cuda_alloc,
    .free = cuda_free,
    .write = cuda_write,
    .read = cuda_read,
    .read_view = cuda_read_view,
    .read_view_f32_checked = cuda_read_view_f32_checked,
    .prepare_weight = cuda_prepare_weight,
    .release_weight = cuda_release_weight,
    .kernels = qn_cuda_kernels,
    .supports_op = qn_cuda_supports_op,
    .run = qn_cuda_run,
    .synchronize = cuda_synchronize,
    .capture_begin = cuda_capture_begin,
    .capture_end = cuda_capture_end,
    .replay = cuda_replay,
    .release_recording = cuda_release_recording,
};

const qn_bench_hooks qn_cuda_bench_hooks = {&qn_cuda_backend, cuda_copy_bandwidth, NULL, NULL, NULL};
