/*
 * nccl_comm.h — tensor-parallel communication over NCCL (internal).
 *
 * NCCL is loaded at run time (dlopen of libnccl.so.2), never linked: a build with tensor
 * parallelism still starts on machines without NCCL or an NVIDIA driver. Ranks meet through
 * NCCL's unique-id handshake: rank 0 makes the id, every rank (a process or a thread per GPU)
 * calls qn_tp_init with it. The caller selects each rank's CUDA device before qn_tp_init.
 */
#ifndef QUANTA_PARALLEL_NCCL_COMM_H
#define QUANTA_PARALLEL_NCCL_COMM_H

#include <stddef.h>

#include "quanta.h"

#define QN_TP_ID_BYTES 128

typedef struct qn_tp_comm qn_tp_comm;

/* Loads NCCL; QUANTA_ERR_UNSUPPORTED (message says why) when it cannot be found. */
quanta_status qn_tp_available(int *nccl_version);
quanta_status qn_tp_unique_id(unsigned char id[QN_TP_ID_BYTES]);
quanta_status qn_tp_init(const unsigned char id[QN_TP_ID_BYTES], int rank, int world, qn_tp_comm **out);
/* In-place sum of `count` elements of a device buffer across the ranks (the one collective
 * Megatron-style parallelism needs: after each row-parallel projection). stream: cudaStream_t. */
quanta_status qn_tp_all_reduce_sum(qn_tp_comm *comm, void *device_data, size_t count, quanta_dtype dtype,
                                   void *stream);
void qn_tp_destroy(qn_tp_comm *comm);

#endif
