/*
 * ref_backend.c — the reference backend's vtable and op dispatch (through the op table).
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

quanta_status qn_ref_run_node(const qn_node *node) {
    if (!node) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_ref_run_node: node is NULL");
    if (!node->dst) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_ref_run_node: node has no dst tensor");
    if (node->nsrc < 0 || node->nsrc > QN_MAX_SRC)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_ref_run_node: nsrc = %d is outside 0..%d", node->nsrc,
                            QN_MAX_SRC);
    const qn_op_def *def = qn_op_def_of(node->op);
    if (def) return def->reference(node);
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

/* The memory is host memory: the view is the tensor itself (the fused copy and check then make the
 * read's only pass). */
static quanta_status ref_read_view(void *self, qn_mem src, size_t bytes, const void **view) {
    (void)self;
    (void)bytes;
    if (!src.handle || !view) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "ref read_view: NULL %s", view ? "src" : "view");
    *view = (const char *)src.handle + src.offset;
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
    .read_view = ref_read_view,
    .prepare_weight = NULL,
    .release_weight = NULL,
    .supports_op = ref_supports_op,
    .run = ref_run,
    .synchronize = ref_synchronize,
};
