/* registry.h — the backend registry and open backends (internal). */
#ifndef QUANTA_ENGINE_REGISTRY_H
#define QUANTA_ENGINE_REGISTRY_H

#include "backend.h"

/* An open backend: its vtable, the backend's own state and its memory account. */
struct quanta_backend {
    const qn_backend_ops *ops;
    void *self;
    int device_index;
    qn_mem_stats stats;
    quanta_device_info info;
};

/* The vtable and state behind a handle (for tools such as `quanta bench`). */
const qn_backend_ops *qn_backend_vtable(quanta_backend *backend, void **self);

/* Allocation through a backend with the memory account booked (limits, peaks). */
quanta_status qn_backend_alloc(quanta_backend *backend, size_t bytes, void **handle);
void qn_backend_free(quanta_backend *backend, void *handle, size_t bytes);

/* Tests only: adds a backend (e.g. one that injects faults) to the registry so that
 * quanta_backend_open(ops->name) finds it. At most 4; not thread-safe; call before use. */
quanta_status qn_registry_add_test_backend(const qn_backend_ops *ops);

#endif
