/*
 * cl_backend.c — the OpenCL backend's vtable (qn_opencl_backend): open/close, device memory
 * (cl_mem handles, qn_mem byte offsets), op dispatch, and the hooks behind `quanta bench`.
 * Runtime errors become QUANTA_ERR_BACKEND with the OpenCL error name; allocation failures
 * (CL_MEM_OBJECT_ALLOCATION_FAILURE, CL_OUT_OF_RESOURCES, CL_OUT_OF_HOST_MEMORY) become
 * QUANTA_ERR_OUT_OF_MEMORY.
 */
#define _DEFAULT_SOURCE /* madvise's MADV_HUGEPAGE (glibc: a BSD/Linux extension) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "cl_internal.h"
#include "clock.h"

const char *qn_cl_errname(cl_int err) {
    switch (err) {
#define E(x) case x: return #x;
    E(CL_SUCCESS) E(CL_DEVICE_NOT_FOUND) E(CL_DEVICE_NOT_AVAILABLE) E(CL_COMPILER_NOT_AVAILABLE)
    E(CL_MEM_OBJECT_ALLOCATION_FAILURE) E(CL_OUT_OF_RESOURCES) E(CL_OUT_OF_HOST_MEMORY)
    E(CL_BUILD_PROGRAM_FAILURE) E(CL_INVALID_VALUE) E(CL_INVALID_DEVICE) E(CL_INVALID_CONTEXT)
    E(CL_INVALID_COMMAND_QUEUE) E(CL_INVALID_MEM_OBJECT) E(CL_INVALID_BINARY) E(CL_INVALID_BUILD_OPTIONS)
    E(CL_INVALID_PROGRAM) E(CL_INVALID_PROGRAM_EXECUTABLE) E(CL_INVALID_KERNEL_NAME) E(CL_INVALID_KERNEL)
    E(CL_INVALID_ARG_INDEX) E(CL_INVALID_ARG_VALUE) E(CL_INVALID_ARG_SIZE) E(CL_INVALID_KERNEL_ARGS)
    E(CL_INVALID_WORK_DIMENSION) E(CL_INVALID_WORK_GROUP_SIZE) E(CL_INVALID_WORK_ITEM_SIZE)
    E(CL_INVALID_GLOBAL_OFFSET) E(CL_INVALID_BUFFER_SIZE) E(CL_INVALID_GLOBAL_WORK_SIZE)
    E(CL_INVALID_OPERATION) E(CL_MISALIGNED_SUB_BUFFER_OFFSET) E(CL_INVALID_EVENT_WAIT_LIST)
#undef E
    default: return "unknown OpenCL error";
    }
}

quanta_status qn_cl_error(cl_int err, const char *what) {
    quanta_status st = QUANTA_ERR_BACKEND;
    if (err == CL_MEM_OBJECT_ALLOCATION_FAILURE || err == CL_OUT_OF_RESOURCES || err == CL_OUT_OF_HOST_MEMORY)
        st = QUANTA_ERR_OUT_OF_MEMORY;
    return qn_error_set(st, "opencl %s: %s (%d)", what, qn_cl_errname(err), (int)err);
}

size_t qn_cl_elems(const qn_tensor *t) {
    size_t n = 1;
    for (int i = 0; i < t->desc.ndim; i++) n *= (size_t)t->desc.dims[i];
    return n;
}

quanta_status qn_cl_scratch_alloc(qn_cl *s, size_t bytes, const char *what, qn_cl_scratch *out) {
    out->mem = NULL;
    out->bytes = 0;
    if (bytes == 0) bytes = 4;
    if (qn_cl_record_reuse(s, bytes, out)) return QUANTA_OK; /* capturing: an idle buffer of the recording */
    quanta_status st = qn_mem_reserve(s->stats, bytes, what);
    if (st != QUANTA_OK) return st;
    cl_int err;
    out->mem = clCreateBuffer(s->ctx, CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (err != CL_SUCCESS) {
        qn_mem_unreserve(s->stats, bytes);
        out->mem = NULL;
        return qn_cl_error(err, what);
    }
    out->bytes = bytes;
    return QUANTA_OK;
}

/* The queue is in order: releasing after enqueue is safe, the runtime keeps the buffer alive
 * until the kernels that use it finish. */
void qn_cl_scratch_free(qn_cl *s, qn_cl_scratch *sc) {
    if (!sc->mem) return;
    if (qn_cl_record_keep(s, sc)) return; /* recorded kernels use it: the recording frees it */
    clReleaseMemObject(sc->mem);
    qn_mem_release(s->stats, sc->bytes);
    sc->mem = NULL;
    sc->bytes = 0;
}

quanta_status qn_cl_set_args(qn_cl *s, qn_cl_kernel_id id, const qn_cl_arg *args, int n) {
    if (s->rec) { /* capturing: keep the values for the recorded kernel (cl_record.c) */
        if (n > QN_CL_MAX_ARGS)
            return qn_error_set(QUANTA_ERR_UNSUPPORTED, "opencl capture: %d arguments (at most %d)", n, QN_CL_MAX_ARGS);
        for (int i = 0; i < n; i++) {
            qn_cl_arg_copy *c = &s->rec_args[id][i];
            c->size = args[i].size;
            c->local = args[i].ptr == NULL;
            if (!c->local && c->size > QN_CL_ARG_BYTES)
                return qn_error_set(QUANTA_ERR_UNSUPPORTED, "opencl capture: argument %d of %zu bytes", i, c->size);
            if (!c->local) memcpy(c->v, args[i].ptr, c->size);
        }
        s->rec_nargs[id] = n;
    }
    for (int i = 0; i < n; i++) {
        cl_int err = clSetKernelArg(s->k[id], (cl_uint)i, args[i].size, args[i].ptr);
        if (err != CL_SUCCESS) {
            char what[64];
            snprintf(what, sizeof what, "clSetKernelArg(kernel %d, arg %d)", (int)id, i);
            return qn_cl_error(err, what);
        }
    }
    return QUANTA_OK;
}

quanta_status qn_cl_launch(qn_cl *s, qn_cl_kernel_id id, const char *what, cl_uint dims, const size_t *global,
                           const size_t *local) {
    size_t g[3];
    for (cl_uint i = 0; i < dims; i++) {
        g[i] = global[i];
        if (g[i] == 0) return QUANTA_OK; /* nothing to do */
        if (local) g[i] = (g[i] + local[i] - 1) / local[i] * local[i];
    }
    if (s->rec) return qn_cl_record_launch(s, id, what, dims, g, local);
    cl_int err = clEnqueueNDRangeKernel(s->queue, s->k[id], dims, NULL, g, local, 0, NULL, qn_cl_events_slot(s, what));
    if (err != CL_SUCCESS) return qn_cl_error(err, what);
    return QUANTA_OK;
}

quanta_status qn_cl_weight_layout(const qn_tensor *w, const char *op, qn_quant_layout *out) {
    memset(out, 0, sizeof *out);
    if (w->desc.ndim != 2)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "opencl %s: weight must be 2-D, got %d-D", op,
                            (int)w->desc.ndim);
    quanta_status st = qn_quant_layout_get(&w->desc, out);
    if (st != QUANTA_OK) return st;
    if (w->bytes < out->total_bytes)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "opencl %s: weight has %zu bytes, its layout needs %zu", op,
                            w->bytes, (size_t)out->total_bytes);
    return QUANTA_OK;
}

/* The kernels declare the offsets as 64-bit `long` (QN_WLAYOUT_ARGS): pass the fields as they are. */
_Static_assert(sizeof(qn_size) == sizeof(cl_long) && sizeof(qn_i64) == sizeof(cl_long) &&
                   sizeof(qn_i32) == sizeof(cl_int),
               "qn_quant_layout fields must match the kernels' argument sizes");

int qn_cl_weight_args(const qn_quant_layout *w, qn_cl_arg *a) {
    a[0] = QA(w->dtype);
    a[1] = QA(w->group);
    a[2] = QA(w->double_quant);
    a[3] = QA(w->cols);
    a[4] = QA(w->codes_row_bytes);
    a[5] = QA(w->scales_offset);
    a[6] = QA(w->q4_zeros_offset);
    a[7] = QA(w->q4_zero_row_bytes);
    a[8] = QA(w->nf4_dq_scales_offset);
    a[9] = QA(w->nf4_dq_mean_offset);
    return 10;
}

quanta_status qn_cl_to_f32(qn_cl *s, const qn_tensor *t, qn_cl_scratch *tmp, cl_mem *mem, cl_ulong *off) {
    tmp->mem = NULL;
    tmp->bytes = 0;
    if (t->desc.dtype == QUANTA_F32) {
        *mem = qn_cl_mem(t);
        *off = t->mem.offset;
        return QUANTA_OK;
    }
    size_t n = qn_cl_elems(t);
    quanta_status st = qn_cl_scratch_alloc(s, n * 4, "opencl: f32 copy of an activation", tmp);
    if (st != QUANTA_OK) return st;
    st = qn_cl_unary_raw(s, qn_cl_mem(t), t->mem.offset, t->desc.dtype, tmp->mem, 0, QUANTA_F32, n, QN_UNARY_COPY, 0.0f);
    if (st != QUANTA_OK) {
        qn_cl_scratch_free(s, tmp);
        return st;
    }
    *mem = tmp->mem;
    *off = 0;
    return QUANTA_OK;
}

/* ------------------------------------------------------------------ vtable */

static quanta_status ocl_device_count(int *count) {
    if (!count) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "opencl device_count: count is NULL");
    const qn_cl_device *list;
    return qn_cl_devices(&list, count);
}

static quanta_status ocl_device_info(int index, quanta_device_info *info) {
    if (!info) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "opencl device_info: info is NULL");
    const qn_cl_device *list;
    int n;
    qn_cl_devices(&list, &n);
    if (index < 0 || index >= n)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "opencl device_info: index %d out of range [0, %d)", index, n);
    *info = list[index].info;
    return QUANTA_OK;
}

/* Small writes without a wait: a decode step's inputs (token ids, positions, cache start and lengths) were four
 * blocking writes, each a driver round trip (tens of µs on NVIDIA's OpenCL) before the step could be enqueued.
 * Each is copied and enqueued without blocking (the in-order queue runs it before the step's kernels; the
 * caller's memory is free at once); the copies are freed when the queue is known drained: after a blocking read
 * (ocl_read, synchronize), at close, or by a wait here once STAGE_CAP bytes are pending. On for the GPU class,
 * QUANTA_OPENCL_ASYNC_WRITE=0 off, =1 on for any device. */
#define STAGE_MAX ((size_t)64 << 10) /* bytes a write may have to be taken this way */
#define STAGE_CAP ((size_t)1 << 20)  /* bytes pending before a wait */
static void stage_release(qn_cl *s) {
    for (int i = 0; i < s->nstage; i++) free(s->stage[i]);
    s->nstage = 0;
    s->stage_bytes = 0;
}

static void ocl_close(void *self) {
    qn_cl *s = self;
    if (!s) return;
    s->norm_pend = s->mm_pend = 0; /* a held norm (cl_norm_gemv.c) nobody synchronized: its results were never read */
    if (s->queue) clFinish(s->queue);
    stage_release(s); /* after the wait: no write still reads a copy */
    free(s->stage);
    if (s->queue) qn_cl_events_close(s);
    for (int i = 0; i < QK_COUNT; i++)
        if (s->k[i]) clReleaseKernel(s->k[i]);
    if (s->program) clReleaseProgram(s->program);
    if (s->err_flag) clReleaseMemObject(s->err_flag);
    qn_cl_norm_gemv_close(s);
    if (s->attn_cnt) {
        clReleaseMemObject(s->attn_cnt);
        qn_mem_release(s->stats, QN_CL_ATTN_COUNTERS * sizeof(cl_int));
    }
    if (s->arena) clReleaseMemObject(s->arena);
    for (int i = 0; i < s->n_rope_freq; i++) {
        clReleaseMemObject(s->rope_freq[i].mem);
        qn_mem_release(s->stats, s->rope_freq[i].bytes);
    }
    if (s->queue) clReleaseCommandQueue(s->queue);
    if (s->ctx) clReleaseContext(s->ctx);
    free(s);
}

/* Kernel variants: the device class (its type, or QUANTA_OPENCL_CLASS=cpu|gpu), then the
 * tuning table (cl_tune.c), then overrides for tests and experiments:
 *   QUANTA_OPENCL_GEMM=int8|rows|local|blas   the M > 8 matmul path
 *   QUANTA_OPENCL_ATTENTION=rows|local        the attention kernel
 *   QUANTA_OPENCL_GEMV_LWS=N, QUANTA_OPENCL_GEMV_ROWS=N   GEMV work-group shape */
static void choose_kernels(qn_cl *s) {
    const char *e;
    s->gpu_class = qn_cl_gpu_class(&s->dev);
    qn_cl_norm_gemv_switches(s);
    /* CPUs (PoCL) run a work-group's items as a loop: barrier-free one-row-per-item kernels
     * suit them; GPUs get local-memory tiles and wide reductions. */
    s->cpu_rows = !s->gpu_class;
    s->force_path = -1;
    s->force_attention = -1;
    e = getenv("QUANTA_OPENCL_GEMV_LWS");
    if (e && atoi(e) > 0 && (atoi(e) & (atoi(e) - 1)) == 0) s->force_gemv_lws = atoi(e);
    e = getenv("QUANTA_OPENCL_GEMV_ROWS");
    if (e && atoi(e) > 0) s->force_gemv_rows = atoi(e);
    e = getenv("QUANTA_OPENCL_GEMM");
    static const char *const paths[QN_GEMM_PATHS] = {"int8", "rows", "local", "blas"};
    for (int i = 0; e && i < QN_GEMM_PATHS; i++)
        if (!strcmp(e, paths[i])) s->force_path = i;
    e = getenv("QUANTA_OPENCL_ATTENTION");
    if (e && !strcmp(e, "rows")) s->force_attention = 1;
    if (e && !strcmp(e, "local")) s->force_attention = 0;
    e = getenv("QUANTA_OPENCL_ASYNC_WRITE");
    s->async_write = e && *e ? strcmp(e, "0") != 0 : s->gpu_class;
    qn_cl_tune_load(s);
}

static quanta_status ocl_open(int index, qn_mem_stats *stats, void **self) {
    if (!self) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "opencl open: self is NULL");
    *self = NULL;
    const qn_cl_device *list;
    int n;
    qn_cl_devices(&list, &n);
    if (n == 0) return qn_error_set(QUANTA_ERR_NO_DEVICE, "opencl open: no OpenCL platform or device found");
    if (index < 0 || index >= n)
        return qn_error_set(QUANTA_ERR_NO_DEVICE, "opencl open: device %d does not exist (%d devices)", index, n);
    qn_cl *s = calloc(1, sizeof *s);
    if (!s) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "opencl open: out of host memory");
    s->dev = list[index];
    s->stats = stats;
    cl_int err;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)s->dev.platform, 0};
    s->ctx = clCreateContext(props, 1, &s->dev.device, NULL, NULL, &err);
    quanta_status st = QUANTA_OK;
    if (err != CL_SUCCESS) st = qn_cl_error(err, "clCreateContext");
    if (st == QUANTA_OK) {
        s->events = qn_cl_events_new();
        const cl_queue_properties prof[] = {CL_QUEUE_PROPERTIES, CL_QUEUE_PROFILING_ENABLE, 0};
        s->queue = clCreateCommandQueueWithProperties(s->ctx, s->dev.device, s->events ? prof : NULL, &err);
        if (err != CL_SUCCESS) st = qn_cl_error(err, "clCreateCommandQueueWithProperties");
    }
    if (st == QUANTA_OK) st = qn_cl_program_load(s);
    if (st == QUANTA_OK) {
        const cl_int zero[4] = {0, 0, 0, 0};
        s->err_flag = clCreateBuffer(s->ctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, sizeof zero, (void *)zero, &err);
        if (err != CL_SUCCESS) st = qn_cl_error(err, "clCreateBuffer (error flag)");
    }
    if (st != QUANTA_OK) {
        ocl_close(s);
        return st;
    }
#ifdef QUANTA_HAVE_CLBLAST
    s->have_blas = 1;
#endif
    choose_kernels(s);
    *self = s;
    return QUANTA_OK;
}

#if defined(__linux__) && defined(MADV_HUGEPAGE)
#define HUGE_PAGE_BYTES ((size_t)2 << 20)
static void CL_CALLBACK free_host_memory(cl_mem m, void *p) {
    (void)m;
    free(p);
}
#endif

/* A CPU device's buffer of 2 MiB or more in host memory we give it (CL_MEM_USE_HOST_PTR: PoCL's
 * CPU drivers run on that memory itself), 2 MiB aligned and advised into transparent huge pages.
 * Why: decode streams the weights (the default model's output head alone is 169 MB a token), and
 * in this VM (nested paging) 4 KiB pages cost the stream half its speed: a two-thread read of
 * 256 MiB ran 9-10 GB/s on 4 KiB pages and 20-30 GB/s on 2 MiB ones in the same minutes, where
 * THP is "madvise" (the default of many distributions) and PoCL's own allocations are never
 * advised (bench/NOTES.md section 1 v10). NULL where it does not apply or fails (the caller then
 * takes a plain buffer); QUANTA_OPENCL_HUGEPAGES=0 turns it off (and arena_buffer with it). */
static cl_mem create_huge_page_buffer(qn_cl *s, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    const char *e = getenv("QUANTA_OPENCL_HUGEPAGES");
    if (!(s->dev.type & CL_DEVICE_TYPE_CPU) || bytes < HUGE_PAGE_BYTES || (e && !strcmp(e, "0"))) return NULL;
    const size_t len = (bytes + HUGE_PAGE_BYTES - 1) / HUGE_PAGE_BYTES * HUGE_PAGE_BYTES;
    void *p = NULL;
    if (posix_memalign(&p, HUGE_PAGE_BYTES, len) != 0) return NULL;
    (void)madvise(p, len, MADV_HUGEPAGE); /* advice: refused, the pages stay 4 KiB */
    cl_int err;
    cl_mem m = clCreateBuffer(s->ctx, CL_MEM_READ_WRITE | CL_MEM_USE_HOST_PTR, bytes, p, &err);
    if (err == CL_SUCCESS && clSetMemObjectDestructorCallback(m, free_host_memory, p) == CL_SUCCESS) return m;
    if (err == CL_SUCCESS) clReleaseMemObject(m); /* nothing was enqueued on it: released at once */
    free(p);
    return NULL;
#else
    (void)s;
    (void)bytes;
    return NULL;
#endif
}

/* Buffers of 64 KiB to 2 MiB (a model's layer weights: 0.16-1.3 MB each on Gemma 3 270M) on a CPU
 * device: sub-buffers of 32 MiB huge-page chunks (create_huge_page_buffer), each 4 KiB aligned.
 * A chunk lives while any of its sub-buffers does (OpenCL deletes a buffer only after its
 * sub-buffers) and while it is the backend's current chunk; space inside a chunk is not reused,
 * so buffers that come and go (a plan's arena) cost at most a chunk until its last one goes.
 * NULL where it does not apply or fails (the caller takes a plain buffer). */
#define ARENA_CHUNK_BYTES ((size_t)32 << 20)
static cl_mem arena_buffer(qn_cl *s, size_t bytes) {
    if (bytes < ((size_t)64 << 10) || bytes >= ((size_t)2 << 20)) return NULL;
    const size_t need = (bytes + 4095) / 4096 * 4096;
    if (!s->arena || s->arena_used + need > ARENA_CHUNK_BYTES) {
        cl_mem a = create_huge_page_buffer(s, ARENA_CHUNK_BYTES);
        if (!a) return NULL;
        if (s->arena) clReleaseMemObject(s->arena); /* its sub-buffers keep it while they live */
        s->arena = a;
        s->arena_used = 0;
    }
    cl_buffer_region r = {s->arena_used, bytes};
    cl_int err;
    cl_mem m = clCreateSubBuffer(s->arena, CL_MEM_READ_WRITE, CL_BUFFER_CREATE_TYPE_REGION, &r, &err);
    if (err != CL_SUCCESS) return NULL;
    s->arena_used += need;
    return m;
}

static quanta_status ocl_alloc(void *self, size_t bytes, void **handle) {
    qn_cl *s = self;
    if (!handle) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "opencl alloc: handle is NULL");
    *handle = NULL;
    if (bytes == 0) bytes = 4;
    if (bytes > s->dev.max_alloc)
        return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY,
                            "opencl alloc: %zu bytes exceeds the device's largest allocation (%llu bytes)", bytes,
                            (unsigned long long)s->dev.max_alloc);
    cl_int err = CL_SUCCESS;
    cl_mem m = create_huge_page_buffer(s, bytes);
    if (!m) m = arena_buffer(s, bytes);
    if (!m) m = clCreateBuffer(s->ctx, CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (err != CL_SUCCESS) return qn_cl_error(err, "alloc (clCreateBuffer)");
    /* zero, or QUANTA_OPENCL_ALLOC_FILL=n's byte (a test's poison: a result a kernel leaves unwritten reads NaN at 255) */
    const char *fe = getenv("QUANTA_OPENCL_ALLOC_FILL");
    const cl_uchar fill = fe ? (cl_uchar)atoi(fe) : 0;
    err = clEnqueueFillBuffer(s->queue, m, &fill, 1, 0, bytes, 0, NULL, NULL);
    if (err != CL_SUCCESS) {
        clReleaseMemObject(m);
        return qn_cl_error(err, "alloc (clEnqueueFillBuffer)");
    }
    *handle = m;
    return QUANTA_OK;
}

/* Safe with kernels still queued: OpenCL keeps the buffer until the commands using it finish. */
static void ocl_free(void *self, void *handle) {
    qn_cl *s = self;
    if (s && qn_cl_norm_flush(s) != QUANTA_OK) qn_error_clear(); /* a held norm may use the buffer (cl_norm_gemv.c) */
    if (s) qn_cl_xq_drop(s); /* the int8 form's row may be this buffer (cl_norm_gemv.c) */
    if (handle) clReleaseMemObject((cl_mem)handle);
}

static quanta_status ocl_write(void *self, qn_mem dst, const void *src, size_t bytes) {
    qn_cl *s = self;
    if (bytes == 0) return QUANTA_OK;
    if (!dst.handle || !src)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "opencl write: %s is NULL", src ? "dst" : "src");
    quanta_status fl = qn_cl_norm_flush(s); /* a held norm (cl_norm_gemv.c) before anything else queued */
    if (fl != QUANTA_OK) return fl;
    qn_cl_xq_drop(s); /* the write may change the int8 form's row (cl_norm_gemv.c) */
    if (s->async_write && bytes <= STAGE_MAX) {
        if (s->stage_bytes + bytes > STAGE_CAP || s->nstage == s->stage_cap) {
            if (s->stage_bytes + bytes > STAGE_CAP || s->stage_cap >= 4096) {
                const cl_int ferr = clFinish(s->queue);
                if (ferr != CL_SUCCESS) return qn_cl_error(ferr, "write (clFinish)");
                stage_release(s);
            }
            if (s->nstage == s->stage_cap) {
                const int cap = s->stage_cap ? 2 * s->stage_cap : 16;
                void **p = realloc(s->stage, (size_t)cap * sizeof *p);
                if (!p) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "opencl write: out of host memory");
                s->stage = p;
                s->stage_cap = cap;
            }
        }
        void *c = malloc(bytes);
        if (!c) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "opencl write: out of host memory");
        memcpy(c, src, bytes);
        cl_int err = clEnqueueWriteBuffer(s->queue, (cl_mem)dst.handle, CL_FALSE, dst.offset, bytes, c, 0, NULL, NULL);
        if (err != CL_SUCCESS) {
            free(c);
            return qn_cl_error(err, "write (clEnqueueWriteBuffer)");
        }
        s->stage[s->nstage++] = c;
        s->stage_bytes += bytes;
        return QUANTA_OK;
    }
    cl_int err = clEnqueueWriteBuffer(s->queue, (cl_mem)dst.handle, CL_TRUE, dst.offset, bytes, src, 0, NULL, NULL);
    return err == CL_SUCCESS ? QUANTA_OK : qn_cl_error(err, "write (clEnqueueWriteBuffer)");
}

static quanta_status ocl_read(void *self, qn_mem src, void *dst, size_t bytes) {
    qn_cl *s = self;
    if (bytes == 0) return QUANTA_OK;
    if (!src.handle || !dst)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "opencl read: %s is NULL", dst ? "src" : "dst");
    quanta_status fl = qn_cl_norm_flush(s); /* a held norm (cl_norm_gemv.c) before the read */
    if (fl != QUANTA_OK) return fl;
    cl_int err = clEnqueueReadBuffer(s->queue, (cl_mem)src.handle, CL_TRUE, src.offset, bytes, dst, 0, NULL, NULL);
    if (err != CL_SUCCESS) return qn_cl_error(err, "read (clEnqueueReadBuffer)");
    stage_release(s); /* in order: every write before the read is done */
    return QUANTA_OK;
}

extern const qn_backend_ops qn_opencl_backend;

/* The kernels (kernels_cl/): per op, the dtypes of its format source they decode (ggml's
 * blocks as GGUF stores them: kernels_cl/ggml_blocks.cl). */
static const qn_dtype_set ocl_kernels[QN_OP_COUNT] = {
    QN_KERNELS_FLOAT_ACTIVATION_OPS,
    [QN_OP_MATMUL] = QN_DT_FLOATS | QN_DT_QUANTA_FORMATS | QN_DT_GGML_FORMATS,
    [QN_OP_GET_ROWS] = QN_DT_FLOATS | QN_DT_QUANTA_FORMATS | QN_DT_GGML_FORMATS,
    [QN_OP_WRITE_ROWS] = QN_DT_FLOATS | QN_DT_KV_QUANT,
    [QN_OP_PAGED_ATTENTION] = QN_DT_FLOATS | QN_DT_KV_QUANT,
    /* the plan's fusions (engine/plan.c): CUDA lists glu and rms_norm_add, not yet matmul_glu
     * or rms_norm_rope, so its plans keep gate/up + glu and rms_norm + rope separate */
    [QN_OP_GLU] = QN_DT_FLOATS,
    [QN_OP_RMS_NORM_ADD] = QN_DT_FLOATS,
    [QN_OP_MATMUL_GLU] = QN_DT_FLOATS | QN_DT_QUANTA_FORMATS | QN_DT_GGML_FORMATS,
    [QN_OP_RMS_NORM_ROPE] = QN_DT_FLOATS,
    /* q/k/v in one GEMV launch; q4 and nf4 have per-matrix sections beyond the scales (and a
     * prepared x), so plans keep their three matmuls */
    [QN_OP_MATMUL_MULTI] = QN_DT_FLOATS | QN_DT_BIT(QUANTA_Q8) | QN_DT_BIT(QUANTA_FP8_E4M3) |
                           QN_DT_BIT(QUANTA_FP8_E5M2) | QN_DT_GGML_FORMATS,
    /* a layer's k and v cache appends in one launch (float caches; quantized pools keep two) */
    [QN_OP_WRITE_ROWS_PAIR] = QN_DT_FLOATS,
    [QN_OP_RMS_NORM_ADD_NORM] = QN_DT_FLOATS,
    [QN_OP_RMS_NORM_ROPE_PAIR] = QN_DT_FLOATS,
    /* LLaMA's residual add with the next norm, and its q and k ropes, each in one launch */
    [QN_OP_ADD_NORM] = QN_DT_FLOATS,
    [QN_OP_ROPE_PAIR] = QN_DT_FLOATS,
    /* q/k (norm +) rope with the k/v cache appends in one launch (float caches) */
    [QN_OP_ROPE_KV] = QN_DT_FLOATS,
};

/* Whether a fusion of fuse8's is claimed: on unless the variable is "0" (QUANTA_OPENCL_ADD_NORM=0,
 * QUANTA_OPENCL_ROPE_PAIR=0, QUANTA_OPENCL_ROPE_KV=0 keep the separate launches, for side-by-side timings), read
 * once. */
static bool fusion_on(const char *name, int *cache) {
    if (*cache < 0) {
        const char *e = getenv(name);
        *cache = !(e && !strcmp(e, "0"));
    }
    return *cache == 1;
}

/* The kernels' own size limits (the rest have none beyond the table). */
static bool ocl_supports_op(void *self, const qn_node *node) {
    static int add_norm = -1, rope_pair = -1, rope_kv = -1;
    qn_cl *s = self;
    if (!s) return false;
    switch (node->op) {
    case QN_OP_MATMUL: case QN_OP_MATMUL_GLU: case QN_OP_MATMUL_MULTI: return qn_cl_matmul_supports(s, node);
    case QN_OP_ATTENTION: return qn_cl_attention_supports(s, node);
    case QN_OP_PAGED_ATTENTION: return qn_cl_paged_attention_supports(s, node);
    case QN_OP_RMS_NORM_ROPE: case QN_OP_RMS_NORM_ROPE_PAIR: return qn_cl_rms_norm_rope_supports(s, node);
    case QN_OP_ADD_NORM: return fusion_on("QUANTA_OPENCL_ADD_NORM", &add_norm);
    case QN_OP_ROPE_PAIR: return fusion_on("QUANTA_OPENCL_ROPE_PAIR", &rope_pair);
    case QN_OP_ROPE_KV: return fusion_on("QUANTA_OPENCL_ROPE_KV", &rope_kv) && qn_cl_rms_norm_rope_supports(s, node);
    default: return true;
    }
}

static bool ocl_prefers_stored(void *self, const quanta_tensor_desc *stored, quanta_dtype alternative) {
    return self && qn_cl_prefers_stored(self, stored, alternative);
}

static quanta_status ocl_run(void *self, const qn_node *node) {
    qn_cl *s = self;
    if (!s) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "opencl run: self is NULL");
    quanta_status st = qn_backend_check_node(&qn_opencl_backend, s, node);
    if (st != QUANTA_OK) return st;
    int done;
    qn_cl_xq_note(s, node); /* the int8 form of a norm's row (cl_norm_gemv.c) ends unless node reads that row */
    st = qn_cl_norm_gemv_step(s, node, &done); /* a norm held for the GEMV after it (cl_norm_gemv.c) */
    if (st != QUANTA_OK || done) return st;
    switch (node->op) {
    case QN_OP_MATMUL: case QN_OP_MATMUL_GLU: case QN_OP_MATMUL_MULTI: return qn_cl_matmul_run(s, node);
    case QN_OP_ATTENTION: return qn_cl_attention_run(s, node);
    case QN_OP_PAGED_ATTENTION: return qn_cl_paged_attention_run(s, node);
    default: return qn_cl_ops_run(s, node);
    }
}

/* The message for what a kernel reported through err_flag (qn_report in kernels_cl/common.cl). */
static quanta_status device_check_error(const cl_int f[4]) {
    switch (f[0]) {
    case 1: /* QN_ERR_WRITE_ROWS_START */
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "opencl write_rows: start = %d with T = %d rows overflows dst's Nmax = %d rows (nothing "
                            "was written)",
                            (int)f[1], (int)f[2], (int)f[3]);
    case 6: /* QN_ERR_WRITE_ROWS_ROW */
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "opencl write_rows: start[%d] = %d is outside dst's Nmax = %d rows (that row was not "
                            "written)",
                            (int)f[1], (int)f[2], (int)f[3]);
    case 2: /* QN_ERR_ATTENTION_KV_LENS */
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "opencl attention: kv_lens[%d] = %d is outside [0, Nk = %d]",
                            (int)f[1], (int)f[2], (int)f[3]);
    case 3: /* QN_ERR_GET_ROWS_ID */
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "opencl get_rows: ids[%d] = %d is out of range [0, V = %d)",
                            (int)f[1], (int)f[2], (int)f[3]);
    case 4: /* QN_ERR_PAGED_KV_LENS */
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "opencl paged_attention: kv_lens[%d] = %d is below the %d queries or beyond the block "
                            "table's positions (columns * block_size)",
                            (int)f[1], (int)f[2], (int)f[3]);
    case 5: /* QN_ERR_PAGED_BLOCK */
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "opencl paged_attention: block_table[%d][%d] = %d is not a block of the pool",
                            (int)f[1], (int)f[2], (int)f[3]);
    default:
        return qn_error_set(QUANTA_ERR_BACKEND, "opencl: a kernel reported error code %d", (int)f[0]);
    }
}

/* Waits for the queue, then reports what kernels found wrong with arguments they read on
 * the device (a write_rows start outside the cache, kv_lens beyond the keys, get_rows ids
 * beyond the table, paged attention's lengths and block tables); the flag is cleared for the next run. */
static quanta_status ocl_synchronize(void *self) {
    qn_cl *s = self;
    cl_int flag[4] = {0, 0, 0, 0};
    quanta_status fl = qn_cl_norm_flush(s); /* a held norm (cl_norm_gemv.c) */
    if (fl != QUANTA_OK) return fl;
    qn_cl_xq_drop(s); /* the int8 form (cl_norm_gemv.c) ends with the step that made it */
    /* the queue is in order: the blocking read returns after every kernel before it (a clFinish
     * first was one more driver round trip per decode step) */
    cl_int err = clEnqueueReadBuffer(s->queue, s->err_flag, CL_TRUE, 0, sizeof flag, flag, 0, NULL, NULL);
    if (err != CL_SUCCESS) return qn_cl_error(err, "synchronize (reading the error flag)");
    stage_release(s);
    qn_cl_events_harvest(s);
    if (flag[0] == 0) return QUANTA_OK;
    const cl_int zero[4] = {0, 0, 0, 0};
    err = clEnqueueWriteBuffer(s->queue, s->err_flag, CL_TRUE, 0, sizeof zero, zero, 0, NULL, NULL);
    if (err != CL_SUCCESS) return qn_cl_error(err, "synchronize (clearing the error flag)");
    return device_check_error(flag);
}

static quanta_status ocl_copy_bandwidth(void *self, size_t bytes, double *bps) {
    qn_cl *s = self;
    if (!bps) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "opencl copy_bandwidth: bytes_per_second is NULL");
    bytes = bytes / 16 * 16;
    if (bytes < 16) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "opencl copy_bandwidth: bytes must be >= 16");
    qn_cl_scratch a, b;
    quanta_status st = qn_cl_scratch_alloc(s, bytes, "opencl copy_bandwidth: source", &a);
    if (st != QUANTA_OK) return st;
    st = qn_cl_scratch_alloc(s, bytes, "opencl copy_bandwidth: destination", &b);
    if (st != QUANTA_OK) {
        qn_cl_scratch_free(s, &a);
        return st;
    }
    const cl_uchar one = 1;
    clEnqueueFillBuffer(s->queue, a.mem, &one, 1, 0, bytes, 0, NULL, NULL);
    cl_ulong n4 = bytes / 16;
    qn_cl_arg args[] = {QA(a.mem), QA(b.mem), QA(n4)};
    size_t g = (size_t)n4, l = 64;
    st = qn_cl_set_args(s, QK_COPY, args, 3);
    double best = 0;
    for (int rep = 0; st == QUANTA_OK && rep < 6; rep++) {
        double t0 = qn_now_s();
        st = qn_cl_launch(s, QK_COPY, "copy_bandwidth", 1, &g, &l);
        if (st == QUANTA_OK) st = ocl_synchronize(s);
        double dt = qn_now_s() - t0;
        if (st == QUANTA_OK && rep > 0 && dt > 0) { /* the first run warms up (kernel compile) */
            double r = 2.0 * (double)bytes / dt;
            if (r > best) best = r;
        }
    }
    qn_cl_scratch_free(s, &a);
    qn_cl_scratch_free(s, &b);
    if (st == QUANTA_OK) *bps = best;
    return st;
}

static quanta_status ocl_peer_gemm(void *self, int64_t m, int64_t n, int64_t k, double *seconds, char *name,
                                   size_t name_len) {
    return qn_cl_peer_gemm(self, m, n, k, seconds, name, name_len);
}

static quanta_status ocl_kernel_time(void *self, double *seconds, uint64_t *kernels) {
    unsigned long long n = 0;
    const double ns = qn_cl_events_kernel_ns(self, &n);
    if (ns < 0)
        return qn_error_set(QUANTA_ERR_UNSUPPORTED, "opencl kernel_time: no event timestamps (set QUANTA_OPENCL_EVENTS)");
    *seconds = ns / 1e9;
    *kernels = n;
    return QUANTA_OK;
}

static quanta_status ocl_tune(void *self, quanta_backend *be, int quick, char *report, size_t len) {
    return qn_cl_tune_sweep(self, be, quick, report, len);
}

const qn_backend_ops qn_opencl_backend = {
    .name = "opencl",
    .device_count = ocl_device_count,
    .device_info = ocl_device_info,
    .open = ocl_open,
    .close = ocl_close,
    .alloc = ocl_alloc,
    .free = ocl_free,
    .write = ocl_write,
    .read = ocl_read,
    .prepare_weight = NULL,
    .release_weight = NULL,
    .prefers_stored = ocl_prefers_stored,
    .kernels = ocl_kernels,
    .supports_op = ocl_supports_op,
    .run = ocl_run,
    .synchronize = ocl_synchronize,
    .capture_begin = qn_cl_capture_begin,
    .capture_end = qn_cl_capture_end,
    .replay = qn_cl_replay,
    .release_recording = qn_cl_release_recording,
};

const qn_bench_hooks qn_opencl_bench_hooks = {&qn_opencl_backend, ocl_copy_bandwidth, ocl_peer_gemm, ocl_tune,
                                              ocl_kernel_time};
