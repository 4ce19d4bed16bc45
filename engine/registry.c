/* registry.c — compiled-in backends, the device list (built once), opening backends. */
#include "registry.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

#ifdef QUANTA_HAVE_CUDA
extern const qn_backend_ops qn_cuda_backend;
#endif
#ifdef QUANTA_HAVE_OPENCL
extern const qn_backend_ops qn_opencl_backend;
#endif

/* Preference order for "best": the fastest backend that has a device. */
const qn_backend_ops *const qn_backend_list[] = {
#ifdef QUANTA_HAVE_CUDA
    &qn_cuda_backend,
#endif
#ifdef QUANTA_HAVE_OPENCL
    &qn_opencl_backend,
#endif
    &qn_ref_backend,
    NULL,
};

#define QN_MAX_DEVICES 64
#define QN_MAX_TEST_BACKENDS 4

static pthread_once_t registry_once = PTHREAD_ONCE_INIT;
static quanta_device_info registry_devices[QN_MAX_DEVICES];
static int registry_device_count;
static const qn_backend_ops *test_backends[QN_MAX_TEST_BACKENDS];
static int test_backend_count;

static void registry_init(void) {
    for (int b = 0; qn_backend_list[b]; b++) {
        const qn_backend_ops *ops = qn_backend_list[b];
        int n = 0;
        /* A backend without a usable device or driver simply contributes no device. */
        if (ops->device_count(&n) != QUANTA_OK || n < 0) n = 0;
        for (int i = 0; i < n && registry_device_count < QN_MAX_DEVICES; i++) {
            quanta_device_info info;
            memset(&info, 0, sizeof info);
            if (ops->device_info(i, &info) != QUANTA_OK) continue;
            snprintf(info.backend, sizeof info.backend, "%s", ops->name);
            info.index = i;
            registry_devices[registry_device_count++] = info;
        }
    }
    qn_error_clear();
}

quanta_status quanta_device_count(int *count) {
    if (!count) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_device_count: count is NULL");
    pthread_once(&registry_once, registry_init);
    *count = registry_device_count;
    return QUANTA_OK;
}

quanta_status quanta_device_get(int i, quanta_device_info *info) {
    if (!info) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_device_get: info is NULL");
    pthread_once(&registry_once, registry_init);
    if (i < 0 || i >= registry_device_count)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_device_get: index %d out of range [0, %d)", i,
                            registry_device_count);
    *info = registry_devices[i];
    return QUANTA_OK;
}

const char *quanta_backends_compiled(void) {
    static const char names[] = "ref"
#ifdef QUANTA_HAVE_OPENCL
                                ",opencl"
#endif
#ifdef QUANTA_HAVE_CUDA
                                ",cuda"
#endif
        ;
    return names;
}

quanta_status qn_registry_add_test_backend(const qn_backend_ops *ops) {
    if (!ops || !ops->name)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_registry_add_test_backend: ops or ops->name is NULL");
    if (test_backend_count >= QN_MAX_TEST_BACKENDS)
        return qn_error_set(QUANTA_ERR_STATE, "qn_registry_add_test_backend: at most %d test backends",
                            QN_MAX_TEST_BACKENDS);
    test_backends[test_backend_count++] = ops;
    return QUANTA_OK;
}

static const qn_backend_ops *find_backend(const char *name, size_t len) {
    for (int i = 0; i < test_backend_count; i++)
        if (strlen(test_backends[i]->name) == len && !strncmp(test_backends[i]->name, name, len))
            return test_backends[i];
    for (int b = 0; qn_backend_list[b]; b++)
        if (strlen(qn_backend_list[b]->name) == len && !strncmp(qn_backend_list[b]->name, name, len))
            return qn_backend_list[b];
    return NULL;
}

static int known_backend_name(const char *name, size_t len) {
    static const char *const all[] = {"ref", "opencl", "cuda"};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strlen(all[i]) == len && !strncmp(all[i], name, len)) return 1;
    return 0;
}

static int contains_ci(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i])) i++;
        if (i == n) return 1;
    }
    return n == 0;
}

#define QN_OPENCL_DEVICE_ENV "QUANTA_OPENCL_DEVICE"

/* Resolves a device selector (index or name substring) for one backend. `spec` names where the
 * selector came from in messages: the spec, or the environment variable. */
static quanta_status pick_device(const qn_backend_ops *ops, const char *sel, const char *spec, int *index) {
    int n = 0;
    if (ops->device_count(&n) != QUANTA_OK || n <= 0)
        return qn_error_set(QUANTA_ERR_NO_DEVICE, "quanta_backend_open: backend '%s' has no usable device",
                            ops->name);
    if (!sel || !*sel) {
        *index = 0;
        return QUANTA_OK;
    }
    char *end = NULL;
    long v = strtol(sel, &end, 10);
    if (end && *end == '\0') {
        if (v < 0 || v >= n)
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                                "quanta_backend_open: device index %ld (from %s) out of range [0, %d)", v, spec, n);
        *index = (int)v;
        return QUANTA_OK;
    }
    for (int i = 0; i < n; i++) {
        quanta_device_info info;
        memset(&info, 0, sizeof info);
        if (ops->device_info(i, &info) == QUANTA_OK && contains_ci(info.name, sel)) {
            *index = i;
            return QUANTA_OK;
        }
    }
    return qn_error_set(QUANTA_ERR_NO_DEVICE, "quanta_backend_open: no %s device name contains '%s' (from %s)",
                        ops->name, sel, spec);
}

static quanta_status open_ops(const qn_backend_ops *ops, int index, quanta_backend **out) {
    quanta_backend *be = calloc(1, sizeof *be);
    if (!be) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_backend_open: out of host memory");
    be->ops = ops;
    be->device_index = index;
    quanta_status st = ops->open(index, &be->stats, &be->self);
    if (st != QUANTA_OK) {
        free(be);
        return st;
    }
    if (ops->device_info(index, &be->info) != QUANTA_OK) memset(&be->info, 0, sizeof be->info);
    snprintf(be->info.backend, sizeof be->info.backend, "%s", ops->name);
    be->info.index = index;
    *out = be;
    return QUANTA_OK;
}

quanta_status quanta_backend_open(const char *spec, quanta_backend **out) {
    if (out) *out = NULL;
    if (!spec) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_backend_open: spec is NULL");
    if (!out) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_backend_open: out is NULL");
    pthread_once(&registry_once, registry_init);

    if (!strcmp(spec, "best")) {
        for (int b = 0; qn_backend_list[b]; b++) {
            const qn_backend_ops *ops = qn_backend_list[b];
            int n = 0, index = 0;
            if (ops->device_count(&n) != QUANTA_OK || n <= 0) continue;
            /* The device the user chose for "opencl" is the one "best" means too; a choice
             * that matches no device is an error, not a silent switch to another device. */
            const char *sel = !strcmp(ops->name, "opencl") ? getenv(QN_OPENCL_DEVICE_ENV) : NULL;
            if (sel) {
                quanta_status st = pick_device(ops, sel, QN_OPENCL_DEVICE_ENV, &index);
                if (st != QUANTA_OK) return st;
            }
            if (open_ops(ops, index, out) == QUANTA_OK) return QUANTA_OK;
        }
        return qn_error_set(QUANTA_ERR_NO_DEVICE, "quanta_backend_open: no backend could be opened");
    }

    const char *colon = strchr(spec, ':');
    size_t name_len = colon ? (size_t)(colon - spec) : strlen(spec);
    const qn_backend_ops *ops = find_backend(spec, name_len);
    if (!ops) {
        if (known_backend_name(spec, name_len))
            return qn_error_set(QUANTA_ERR_UNSUPPORTED,
                                "quanta_backend_open: backend '%.*s' is not compiled into this build (compiled: %s)",
                                (int)name_len, spec, quanta_backends_compiled());
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "quanta_backend_open: unknown backend spec '%s' (use ref, opencl[:N|:NAME], cuda[:N], best)",
                            spec);
    }
    const char *sel = colon ? colon + 1 : NULL;
    const char *where = spec;
    if (!colon && !strcmp(ops->name, "opencl") && (sel = getenv(QN_OPENCL_DEVICE_ENV)) != NULL)
        where = QN_OPENCL_DEVICE_ENV;
    int index = 0;
    quanta_status st = pick_device(ops, sel, where, &index);
    if (st != QUANTA_OK) return st;
    return open_ops(ops, index, out);
}

void quanta_backend_close(quanta_backend *backend) {
    if (!backend) return;
    backend->ops->close(backend->self);
    free(backend);
}

quanta_status quanta_backend_device(const quanta_backend *backend, quanta_device_info *info) {
    if (!backend) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_backend_device: backend is NULL");
    if (!info) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_backend_device: info is NULL");
    *info = backend->info;
    return QUANTA_OK;
}

quanta_status quanta_backend_tune(quanta_backend *backend, int quick, char *report, size_t report_len) {
    if (!backend) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_backend_tune: backend is NULL");
    char scratch[1];
    if (!report || report_len == 0) {
        report = scratch;
        report_len = sizeof scratch;
    }
    report[0] = '\0';
    if (!backend->ops->tune)
        return qn_error_set(QUANTA_ERR_UNSUPPORTED, "quanta_backend_tune: the %s backend has no tuning table",
                            backend->ops->name);
    return backend->ops->tune(backend->self, backend, quick, report, report_len);
}

quanta_status quanta_backend_set_memory_limit(quanta_backend *backend, uint64_t bytes) {
    if (!backend)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_backend_set_memory_limit: backend is NULL");
    backend->stats.limit = bytes;
    return QUANTA_OK;
}

quanta_status quanta_backend_memory_stats(const quanta_backend *backend, uint64_t *in_use, uint64_t *peak) {
    if (!backend)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_backend_memory_stats: backend is NULL");
    if (in_use) *in_use = backend->stats.in_use;
    if (peak) *peak = backend->stats.peak;
    return QUANTA_OK;
}

void quanta_backend_reset_peak(quanta_backend *backend) {
    if (backend) backend->stats.peak = backend->stats.in_use;
}

const qn_backend_ops *qn_backend_vtable(quanta_backend *backend, void **self) {
    if (!backend) return NULL;
    if (self) *self = backend->self;
    return backend->ops;
}

quanta_status qn_backend_alloc(quanta_backend *backend, size_t bytes, void **handle) {
    if (bytes == 0) bytes = 1; /* zero-sized tensors still get a distinct handle */
    quanta_status st = qn_mem_reserve(&backend->stats, bytes, backend->ops->name);
    if (st != QUANTA_OK) return st;
    st = backend->ops->alloc(backend->self, bytes, handle);
    if (st != QUANTA_OK) qn_mem_unreserve(&backend->stats, bytes);
    return st;
}

void qn_backend_free(quanta_backend *backend, void *handle, size_t bytes) {
    if (!handle) return;
    if (bytes == 0) bytes = 1;
    backend->ops->free(backend->self, handle);
    qn_mem_release(&backend->stats, bytes);
}
