/*
 * comm.h — the communicator behind quanta_comm (internal).
 *
 * A quanta_comm is one rank's end of a group of `world` ranks. What a group does is a table of
 * function pointers, so the in-process group (comm_local.c: threads, host memory) and a
 * device-side one (NCCL, parallel/nccl_comm.h: device buffers on a CUDA stream) plug into the
 * same all_reduce op. It is defined here, below both, because the engine's all_reduce op runs
 * it and parallel/ implements it. The reference backend runs the op on host memory through
 * all_reduce_host; a backend that runs it on its own device (CUDA with NCCL) would use
 * all_reduce_device and claim the op in its supports_op.
 */
#ifndef QUANTA_ENGINE_COMM_H
#define QUANTA_ENGINE_COMM_H

#include <stddef.h>

#include "quanta.h"

typedef struct qn_comm_ops {
    const char *name; /* "local", "nccl" */
    /* In-place sum of count f32 values over the ranks; every rank receives identical bits. */
    quanta_status (*all_reduce_host)(quanta_comm *comm, float *data, size_t count);
    /* Optional: in-place sum of a device buffer on a device stream (NULL when unsupported). */
    quanta_status (*all_reduce_device)(quanta_comm *comm, void *device_data, size_t count, quanta_dtype dtype,
                                       void *stream);
    /* Marks the group failed: ranks waiting in an all-reduce, and every later one, return
     * QUANTA_ERR_STATE instead of waiting for a rank that will not come. */
    void (*abort)(quanta_comm *comm);
    /* Releases this rank's end (and the group's shared state with the last rank). */
    void (*destroy)(quanta_comm *comm);
} qn_comm_ops;

struct quanta_comm {
    const qn_comm_ops *ops;
    int rank, world;
    void *impl;
};

#endif
