/*
 * ref_backend.c — the reference backend's vtable, op dispatch and shared tensor checks.
 *
 * Memory is plain host memory: a handle is the calloc'd base pointer, so qn_host_ptr() works
 * on every tensor this backend (or the executor's fallback path) hands to qn_ref_run_node.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h> /* sysconf: host memory size for device_info */
#endif

#include "ref_ops.h"

/* ------------------------------------------------------------ shared checks */

static size_t ref_elem_size(quanta_dtype t) {
    switch (t) {
    case QUANTA_F32: case QUANTA_I32: return 4;
    case QUANTA_F16: case QUANTA_BF16: return 2;
    case QUANTA_U8: return 1;
    default: return 0;
    }
}

static int ref_is_float(quanta_dtype t) {
    return t == QUANTA_F32 || t == QUANTA_F16 || t == QUANTA_BF16;
}

static const char *ref_dtype_name(quanta_dtype t) {
    const char *n = quanta_dtype_name(t);
    return n ? n : "unknown";
}

quanta_status qn_ref_dense(const qn_tensor *t, const char *op, const char *arg, size_t *count) {
    if (!t) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "ref %s: %s is missing", op, arg);
    size_t esize = ref_elem_size(t->desc.dtype);
    if (esize == 0)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "ref %s: %s has dtype %s (%d), expected a dense dtype",
                            op, arg, ref_dtype_name(t->desc.dtype), (int)t->desc.dtype);
    if (t->desc.ndim < 1 || t->desc.ndim > QUANTA_MAX_DIMS)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "ref %s: %s has ndim %d, expected 1..%d", op, arg,
                            (int)t->desc.ndim, QUANTA_MAX_DIMS);
    size_t n = 1;
    for (int i = 0; i < t->desc.ndim; i++) {
        int64_t d = t->desc.dims[i];
        if (d < 0)
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "ref %s: %s dims[%d] = %lld is negative", op, arg, i,
                                (long long)d);
        if ((uint64_t)d > SIZE_MAX || !qn_mul_size(n, (size_t)d, &n))
            return qn_error_set(QUANTA_ERR_OVERFLOW, "ref %s: %s element count overflows", op, arg);
    }
    size_t bytes;
    if (!qn_mul_size(n, esize, &bytes))
        return qn_error_set(QUANTA_ERR_OVERFLOW, "ref %s: %s byte size overflows", op, arg);
    if (t->bytes < bytes)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "ref %s: %s has %zu bytes, its shape needs %zu", op, arg,
                            t->bytes, bytes);
    if (bytes > 0 && !t->mem.handle)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "ref %s: %s has no memory", op, arg);
    *count = n;
    return QUANTA_OK;
}

quanta_status qn_ref_float(const qn_tensor *t, const char *op, const char *arg, size_t *count) {
    if (t && !ref_is_float(t->desc.dtype))
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "ref %s: %s has dtype %s, expected f32, f16 or bf16", op,
                            arg, ref_dtype_name(t->desc.dtype));
    return qn_ref_dense(t, op, arg, count);
}

quanta_status qn_ref_typed(const qn_tensor *t, quanta_dtype dtype, const char *op, const char *arg,
                           size_t *count) {
    if (t && t->desc.dtype != dtype)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "ref %s: %s has dtype %s, expected %s", op, arg,
                            ref_dtype_name(t->desc.dtype), ref_dtype_name(dtype));
    return qn_ref_dense(t, op, arg, count);
}

void *qn_ref_calloc(size_t n, size_t size) {
    size_t bytes;
    if (!qn_mul_size(n, size, &bytes)) return NULL;
    return calloc(bytes ? bytes : 1, 1);
}

quanta_status qn_ref_oom(const char *op) {
    return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "ref %s: out of host memory for scratch buffers", op);
}

float *qn_ref_load(const qn_tensor *t, size_t count) {
    float *f = qn_ref_calloc(count, sizeof(float));
    if (f && count) qn_to_f32(t->desc.dtype, qn_host_ptr(t), f, count);
    return f;
}

void qn_ref_store(const qn_tensor *t, const float *src, size_t count) {
    if (count) qn_from_f32(t->desc.dtype, src, qn_host_ptr(t), count);
}

quanta_status qn_ref_rows_open(const qn_tensor *t, const char *op, const char *arg, qn_ref_rows *out) {
    memset(out, 0, sizeof *out);
    if (!t) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "ref %s: %s is missing", op, arg);
    out->dtype = t->desc.dtype;
    if (ref_is_float(t->desc.dtype)) {
        size_t n = 0;
        quanta_status st = qn_ref_dense(t, op, arg, &n);
        if (st != QUANTA_OK) return st;
        out->cols = t->desc.dims[t->desc.ndim - 1];
        out->rows = out->cols ? (int64_t)(n / (size_t)out->cols) : 0;
        out->base = n ? qn_host_ptr(t) : NULL;
        return QUANTA_OK;
    }
    if (!qn_dtype_is_quantized(t->desc.dtype))
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "ref %s: %s has dtype %s, expected a float or quantized dtype",
                            op, arg, ref_dtype_name(t->desc.dtype));
    if (t->desc.ndim != 2)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "ref %s: quantized %s must be 2-D, got %d-D", op, arg,
                            (int)t->desc.ndim);
    quanta_status st = qn_quant_layout_get(&t->desc, &out->layout);
    if (st != QUANTA_OK) return st; /* message names the bad field */
    if (t->bytes < out->layout.total_bytes)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "ref %s: %s has %zu bytes, its %s layout needs %zu", op, arg,
                            t->bytes, ref_dtype_name(t->desc.dtype), out->layout.total_bytes);
    if (!t->mem.handle) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "ref %s: %s has no memory", op, arg);
    out->quantized = true;
    out->rows = out->layout.rows;
    out->cols = out->layout.cols;
    out->base = qn_host_ptr(t);
    return QUANTA_OK;
}

void qn_ref_rows_get(const qn_ref_rows *r, int64_t row, float *out) {
    if (r->quantized) {
        qn_dequant_row(&r->layout, r->dtype, r->base, row, out);
        return;
    }
    size_t esize = ref_elem_size(r->dtype);
    const char *p = (const char *)r->base + (size_t)row * (size_t)r->cols * esize;
    qn_to_f32(r->dtype, p, out, (size_t)r->cols);
}

/* ------------------------------------------------------------------ dispatch */

quanta_status qn_ref_run_node(const qn_node *node) {
    if (!node) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_ref_run_node: node is NULL");
    if (!node->dst) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_ref_run_node: node has no dst tensor");
    if (node->nsrc < 0 || node->nsrc > QN_MAX_SRC)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_ref_run_node: nsrc = %d is outside 0..%d", node->nsrc,
                            QN_MAX_SRC);
    switch (node->op) {
    case QN_OP_MATMUL: return qn_ref_matmul(node);
    case QN_OP_ATTENTION: return qn_ref_attention(node);
    case QN_OP_RMS_NORM: return qn_ref_rms_norm(node);
    case QN_OP_ROPE: return qn_ref_rope(node);
    case QN_OP_SILU: return qn_ref_silu(node);
    case QN_OP_GELU: return qn_ref_gelu(node);
    case QN_OP_ADD: return qn_ref_add(node);
    case QN_OP_MUL: return qn_ref_mul(node);
    case QN_OP_SCALE: return qn_ref_scale(node);
    case QN_OP_SOFTMAX: return qn_ref_softmax(node);
    case QN_OP_GET_ROWS: return qn_ref_get_rows(node);
    case QN_OP_PERMUTE: return qn_ref_permute(node);
    case QN_OP_CONVERT: return qn_ref_convert(node);
    case QN_OP_WRITE_ROWS: return qn_ref_write_rows(node);
    case QN_OP_ALL_REDUCE: return qn_ref_all_reduce(node);
    case QN_OP_COUNT: break;
    }
    return qn_error_set(QUANTA_ERR_UNSUPPORTED, "qn_ref_run_node: unknown op code %d", (int)node->op);
}

/* -------------------------------------------------------------------- vtable */

/* Per-open state: nothing to keep but the engine's memory account. */
typedef struct ref_state {
    qn_mem_stats *stats;
} ref_state;

static quanta_status ref_device_count(int *count) {
    if (!count) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "ref device_count: count is NULL");
    *count = 1;
    return QUANTA_OK;
}

static uint64_t ref_host_memory(void) {
#if (defined(__unix__) || defined(__APPLE__)) && defined(_SC_PHYS_PAGES) && defined(_SC_PAGESIZE)
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0) return (uint64_t)pages * (uint64_t)page;
#endif
    return 0;
}

static quanta_status ref_device_info(int index, quanta_device_info *info) {
    if (!info) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "ref device_info: info is NULL");
    if (index != 0)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "ref device_info: index %d out of range (1 device)", index);
    memset(info, 0, sizeof *info);
    snprintf(info->backend, sizeof info->backend, "ref");
    info->index = 0;
    snprintf(info->name, sizeof info->name, "reference (host CPU, float64 accumulation)");
    snprintf(info->vendor, sizeof info->vendor, "Quanta");
    snprintf(info->driver, sizeof info->driver, "quanta %s", QUANTA_VERSION_STRING);
    info->memory_bytes = ref_host_memory();
    info->compute_units = 1;
    info->has_fp16 = 0;
    info->has_subgroups = 0;
    snprintf(info->details, sizeof info->details,
             "portable C oracle; single-threaded; every op; weights f32 f16 bf16 q8 q4 nf4 fp8_e4m3 fp8_e5m2 "
             "dequantized row by row; accumulation in double");
    return QUANTA_OK;
}

static quanta_status ref_open(int index, qn_mem_stats *stats, void **self) {
    if (!self) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "ref open: self is NULL");
    if (index != 0) return qn_error_set(QUANTA_ERR_NO_DEVICE, "ref open: device %d does not exist (1 device)", index);
    ref_state *s = calloc(1, sizeof *s);
    if (!s) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "ref open: out of host memory");
    s->stats = stats;
    *self = s;
    return QUANTA_OK;
}

static void ref_close(void *self) { free(self); }

static quanta_status ref_alloc(void *self, size_t bytes, void **handle) {
    (void)self;
    if (!handle) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "ref alloc: handle is NULL");
    *handle = NULL;
    /* Pointer differences must stay representable. */
    if (bytes > (size_t)PTRDIFF_MAX)
        return qn_error_set(QUANTA_ERR_OVERFLOW, "ref alloc: %zu bytes exceeds the address space", bytes);
    void *p = calloc(bytes ? bytes : 1, 1);
    if (!p) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "ref alloc: calloc of %zu bytes failed", bytes);
    *handle = p;
    return QUANTA_OK;
}

static void ref_free(void *self, void *handle) {
    (void)self;
    free(handle);
}

static quanta_status ref_write(void *self, qn_mem dst, const void *src, size_t bytes) {
    (void)self;
    if (bytes == 0) return QUANTA_OK;
    if (!dst.handle || !src) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "ref write: NULL %s", src ? "dst" : "src");
    memcpy((char *)dst.handle + dst.offset, src, bytes);
    return QUANTA_OK;
}

static quanta_status ref_read(void *self, qn_mem src, void *dst, size_t bytes) {
    (void)self;
    if (bytes == 0) return QUANTA_OK;
    if (!src.handle || !dst) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "ref read: NULL %s", dst ? "src" : "dst");
    memcpy(dst, (const char *)src.handle + src.offset, bytes);
    return QUANTA_OK;
}

static bool ref_supports_op(void *self, const qn_node *node) {
    (void)self;
    return node && (int)node->op >= 0 && (int)node->op < (int)QN_OP_COUNT;
}

static quanta_status ref_run(void *self, const qn_node *node) {
    (void)self;
    return qn_ref_run_node(node);
}

static quanta_status ref_synchronize(void *self) {
    (void)self;
    return QUANTA_OK; /* everything ran to completion inside run */
}

const qn_backend_ops qn_ref_backend = {
    .name = "ref",
    .device_count = ref_device_count,
    .device_info = ref_device_info,
    .open = ref_open,
    .close = ref_close,
    .alloc = ref_alloc,
    .free = ref_free,
    .write = ref_write,
    .read = ref_read,
    .prepare_weight = NULL,
    .release_weight = NULL,
    .supports_op = ref_supports_op,
    .run = ref_run,
    .synchronize = ref_synchronize,
};
