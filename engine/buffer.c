/* buffer.c — persistent device tensors (weights, KV caches) owned by the caller. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "graph_internal.h"

static void release_aux(quanta_buffer *b) {
    if (b->aux && b->backend->ops->release_weight) b->backend->ops->release_weight(b->backend->self, b->aux);
    b->aux = NULL;
}

quanta_status quanta_buffer_create(quanta_backend *backend, const quanta_tensor_desc *desc, quanta_buffer **out) {
    if (out) *out = NULL;
    if (!backend) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_buffer_create: backend is NULL");
    if (!desc) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_buffer_create: desc is NULL");
    if (!out) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_buffer_create: out is NULL");
    size_t bytes = 0;
    quanta_status st = quanta_tensor_bytes(desc, &bytes);
    if (st != QUANTA_OK) return st;
    quanta_buffer *b = calloc(1, sizeof *b);
    if (!b) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_buffer_create: out of host memory");
    b->backend = backend;
    b->desc = *desc;
    for (int i = desc->ndim; i < QUANTA_MAX_DIMS; i++) b->desc.dims[i] = 1;
    b->bytes = bytes;
    st = qn_backend_alloc(backend, bytes, &b->handle);
    if (st != QUANTA_OK) {
        free(b);
        return st;
    }
    *out = b;
    return QUANTA_OK;
}

void quanta_buffer_destroy(quanta_buffer *b) {
    if (!b) return;
    release_aux(b);
    qn_backend_free(b->backend, b->handle, b->bytes);
    free(b);
}

quanta_status quanta_buffer_write(quanta_buffer *b, const void *data, size_t bytes) {
    if (!b) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_buffer_write: buffer is NULL");
    if (!data) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_buffer_write: data is NULL");
    if (bytes != b->bytes)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_buffer_write: bytes is %zu but the buffer holds %zu",
                            bytes, b->bytes);
    qn_mem mem = {b->handle, 0};
    quanta_status st = b->backend->ops->write(b->backend->self, mem, data, bytes);
    if (st != QUANTA_OK) return st;
    /* A 2-D buffer may be a matmul weight: let the backend repack it once, here. */
    release_aux(b);
    if (b->desc.ndim == 2 && b->backend->ops->prepare_weight) {
        qn_tensor t;
        memset(&t, 0, sizeof t);
        t.desc = b->desc;
        t.mem = mem;
        t.bytes = b->bytes;
        st = b->backend->ops->prepare_weight(b->backend->self, &t, &b->aux);
        if (st != QUANTA_OK) b->aux = NULL;
    }
    return st;
}

quanta_status quanta_buffer_read(const quanta_buffer *b, void *data, size_t bytes) {
    if (!b) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_buffer_read: buffer is NULL");
    if (!data) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_buffer_read: data is NULL");
    if (bytes != b->bytes)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_buffer_read: bytes is %zu but the buffer holds %zu",
                            bytes, b->bytes);
    quanta_status st = b->backend->ops->synchronize(b->backend->self);
    if (st != QUANTA_OK) return st;
    qn_mem mem = {b->handle, 0};
    return b->backend->ops->read(b->backend->self, mem, data, bytes);
}

quanta_status quanta_buffer_desc(const quanta_buffer *b, quanta_tensor_desc *desc) {
    if (!b) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_buffer_desc: buffer is NULL");
    if (!desc) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_buffer_desc: desc is NULL");
    *desc = b->desc;
    return QUANTA_OK;
}
