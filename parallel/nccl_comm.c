/* nccl_comm.c — NCCL loaded at run time; see nccl_comm.h for why. */
#include "nccl_comm.h"

#include <dlfcn.h>
#include <nccl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

_Static_assert(sizeof(ncclUniqueId) == QN_TP_ID_BYTES, "NCCL unique id size changed");

static struct {
    void *lib;
    ncclResult_t (*get_version)(int *);
    ncclResult_t (*get_unique_id)(ncclUniqueId *);
    ncclResult_t (*comm_init_rank)(ncclComm_t *, int, ncclUniqueId, int);
    ncclResult_t (*all_reduce)(const void *, void *, size_t, ncclDataType_t, ncclRedOp_t, ncclComm_t, cudaStream_t);
    ncclResult_t (*comm_destroy)(ncclComm_t);
    const char *(*error_string)(ncclResult_t);
    char why[256];
} nccl;

static pthread_once_t nccl_once = PTHREAD_ONCE_INIT;

/* dlsym returns void *; going through memcpy keeps ISO C's function/object pointer split. */
static int load_symbol(const char *name, void *fn, size_t size) {
    void *p = dlsym(nccl.lib, name);
    if (!p) return 0;
    memcpy(fn, &p, size);
    return 1;
}

static void nccl_load(void) {
    nccl.lib = dlopen("libnccl.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!nccl.lib) nccl.lib = dlopen("libnccl.so", RTLD_NOW | RTLD_LOCAL);
    if (!nccl.lib) {
        const char *e = dlerror();
        strncpy(nccl.why, e ? e : "libnccl.so.2 not found", sizeof nccl.why - 1);
        return;
    }
    int ok = load_symbol("ncclGetVersion", &nccl.get_version, sizeof nccl.get_version) &&
             load_symbol("ncclGetUniqueId", &nccl.get_unique_id, sizeof nccl.get_unique_id) &&
             load_symbol("ncclCommInitRank", &nccl.comm_init_rank, sizeof nccl.comm_init_rank) &&
             load_symbol("ncclAllReduce", &nccl.all_reduce, sizeof nccl.all_reduce) &&
             load_symbol("ncclCommDestroy", &nccl.comm_destroy, sizeof nccl.comm_destroy) &&
             load_symbol("ncclGetErrorString", &nccl.error_string, sizeof nccl.error_string);
    if (!ok) {
        strncpy(nccl.why, "libnccl lacks an expected symbol", sizeof nccl.why - 1);
        dlclose(nccl.lib);
        nccl.lib = NULL;
    }
}

static quanta_status need_nccl(const char *fn) {
    pthread_once(&nccl_once, nccl_load);
    if (!nccl.lib) return qn_error_set(QUANTA_ERR_UNSUPPORTED, "%s: NCCL is not available (%s)", fn, nccl.why);
    return QUANTA_OK;
}

static quanta_status nccl_fail(const char *fn, ncclResult_t r) {
    quanta_status st = r == ncclSystemError || r == ncclUnhandledCudaError ? QUANTA_ERR_NO_DEVICE : QUANTA_ERR_BACKEND;
    return qn_error_set(st, "%s: NCCL error %d: %s", fn, (int)r, nccl.error_string(r));
}

struct qn_tp_comm {
    ncclComm_t comm;
    int rank, world;
};

quanta_status qn_tp_available(int *version) {
    quanta_status st = need_nccl("qn_tp_available");
    if (st != QUANTA_OK) return st;
    int v = 0;
    nccl.get_version(&v);
    if (version) *version = v;
    return QUANTA_OK;
}

quanta_status qn_tp_unique_id(unsigned char id[QN_TP_ID_BYTES]) {
    if (!id) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_tp_unique_id: id is NULL");
    quanta_status st = need_nccl("qn_tp_unique_id");
    if (st != QUANTA_OK) return st;
    ncclUniqueId u;
    ncclResult_t r = nccl.get_unique_id(&u);
    if (r != ncclSuccess) return nccl_fail("qn_tp_unique_id", r);
    memcpy(id, u.internal, QN_TP_ID_BYTES);
    return QUANTA_OK;
}

quanta_status qn_tp_init(const unsigned char id[QN_TP_ID_BYTES], int rank, int world, qn_tp_comm **out) {
    if (out) *out = NULL;
    if (!id) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_tp_init: id is NULL");
    if (!out) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_tp_init: out is NULL");
    if (world < 1 || rank < 0 || rank >= world)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_tp_init: rank %d / world %d", rank, world);
    quanta_status st = need_nccl("qn_tp_init");
    if (st != QUANTA_OK) return st;
    qn_tp_comm *c = calloc(1, sizeof *c);
    if (!c) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "qn_tp_init: out of host memory");
    ncclUniqueId u;
    memcpy(u.internal, id, QN_TP_ID_BYTES);
    ncclResult_t r = nccl.comm_init_rank(&c->comm, world, u, rank);
    if (r != ncclSuccess) {
        free(c);
        return nccl_fail("qn_tp_init", r);
    }
    c->rank = rank;
    c->world = world;
    *out = c;
    return QUANTA_OK;
}

quanta_status qn_tp_all_reduce_sum(qn_tp_comm *c, void *data, size_t count, quanta_dtype dtype, void *stream) {
    if (!c) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_tp_all_reduce_sum: comm is NULL");
    if (!data) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_tp_all_reduce_sum: device_data is NULL");
    ncclDataType_t t;
    switch (dtype) {
    case QUANTA_F32: t = ncclFloat32; break;
    case QUANTA_F16: t = ncclFloat16; break;
    case QUANTA_BF16: t = ncclBfloat16; break;
    default:
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_tp_all_reduce_sum: dtype must be f32, f16 or bf16");
    }
    ncclResult_t r = nccl.all_reduce(data, data, count, t, ncclSum, c->comm, (cudaStream_t)stream);
    return r == ncclSuccess ? QUANTA_OK : nccl_fail("qn_tp_all_reduce_sum", r);
}

void qn_tp_destroy(qn_tp_comm *c) {
    if (!c) return;
    nccl.comm_destroy(c->comm);
    free(c);
}
