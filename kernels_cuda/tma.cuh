/* tma.cuh — Hopper's tensor memory accelerator (TMA) for the whole CUDA backend (fp813; issue #14): a tensor map
 * (CUtensorMap, 128 bytes) describes a 2-5 dimensional array in global memory and the box one instruction moves;
 * cp.async.bulk.tensor then copies a whole box into shared memory (zeros where the box leaves the array, and the
 * full box's bytes still counted on the mbarrier), in the layout wgmma wants when the map asks for a swizzle:
 * with CU_TENSOR_MAP_SWIZZLE_128B and a 128-byte inner box row, 16-byte chunk c of row r lands at chunk c ^ (r & 7)
 * of its 128-byte row, i.e. wgmma's K-major "128-byte swizzle" canonical layout (8-row x 128-byte atoms, 1024 bytes
 * each; descriptor qn_wg_desc_sw128 with stride offset 1024; the destination 1024-byte aligned).
 *
 * Host side: the map is encoded by the driver's cuTensorMapEncodeTiled, reached through the runtime's
 * cudaGetDriverEntryPointByVersion so that nothing links libcuda (cudart_static loads it at run time); the map
 * travels as a `const __grid_constant__ CUtensorMap` kernel parameter (a by-value parameter in constant space
 * whose address the TMA instructions take; a copy in a local or in global memory would need a fence first).
 *
 * Device side (sm_90, compile for sm_90a with wgmma.cuh): loads of 2d / 3d boxes completing on an mbarrier
 * (wgmma.cuh: qn_mbar_arrive_expect_tx with the box's bytes, then qn_mbar_wait), the same multicast into the
 * CTAs of a cluster mask, the descriptor prefetch, and a 2d store of a shared-memory box (an epilogue) with
 * its bulk-group commit and waits. Coordinates are in elements, innermost first, signed (a box may start before
 * 0 or end past the array: those elements read as zero and are not written by a store).
 *
 * Usage (one 128 x 64 box of an M x K byte matrix, 128-byte swizzle):
 *   host:   CUtensorMap m; qn_tma_encode_2d(&m, CU_TENSOR_MAP_DATA_TYPE_UINT8, ptr, K, M, K, 128, 64,
 *                                           CU_TENSOR_MAP_SWIZZLE_128B);   -> 0 or a cudaError_t / CUresult
 *           kernel<<<...>>>(m, ...)   with   __global__ void kernel(const __grid_constant__ CUtensorMap m, ...)
 *   device: qn_mbar_arrive_expect_tx(bar, 128 * 64); qn_tma_load_2d(dst, &m, bar, k0, m0); qn_mbar_wait(bar, ph);
 */
#ifndef QUANTA_KERNELS_CUDA_TMA_CUH
#define QUANTA_KERNELS_CUDA_TMA_CUH

#include <cuda.h> /* the CUtensorMap type and its enums only: no driver-API call is linked */
#include <cuda_runtime.h>
#include <stdint.h>

/* ---------------------------------------------------------------- host: encoding a map */

/* cuTensorMapEncodeTiled's signature (cudaTypedefs.h's PFN_cuTensorMapEncodeTiled_v12000, spelled out here so
 * the header needs nothing past cuda.h). */
typedef CUresult (*qn_tma_encode_fn)(CUtensorMap *, CUtensorMapDataType, cuuint32_t, void *, const cuuint64_t *,
                                     const cuuint64_t *, const cuuint32_t *, const cuuint32_t *, CUtensorMapInterleave,
                                     CUtensorMapSwizzle, CUtensorMapL2promotion, CUtensorMapFloatOOBfill);

/* The driver's encoder, looked up once (NULL when the driver has none: older than CUDA 12.0). */
static inline qn_tma_encode_fn qn_tma_encoder(void) {
    static qn_tma_encode_fn fn = NULL;
    static int looked = 0; /* a race only repeats the same lookup */
    if (!looked) {
        void *p = NULL;
        cudaDriverEntryPointQueryResult q = cudaDriverEntryPointSymbolNotFound;
        if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &p, 12000, cudaEnableDefault, &q) != cudaSuccess ||
            q != cudaDriverEntryPointSuccess)
            p = NULL;
        fn = (qn_tma_encode_fn)p;
        looked = 1;
    }
    return fn;
}

/* A rank-r map (r = 1..5) of the array at `base` (16-byte aligned): dims[i] elements along dimension i (0 the
 * contiguous one), strides[i] bytes between consecutive indices of dimension i + 1 (multiples of 16, r - 1 of
 * them), box[i] elements a copy moves (each <= 256; box[0] * element size a multiple of 16, <= the swizzle's
 * span when swizzled), elements read past the array: zero. L2 promotion 256 B (what CUTLASS's loads use).
 * Returns 0, cudaErrorNotSupported (no encoder), or the driver's CUresult (nonzero: the map is unusable). */
static inline int qn_tma_encode(CUtensorMap *map, CUtensorMapDataType dt, uint32_t rank, const void *base,
                                const uint64_t *dims, const uint64_t *strides, const uint32_t *box,
                                CUtensorMapSwizzle swizzle) {
    const qn_tma_encode_fn fn = qn_tma_encoder();
    if (!fn) return (int)cudaErrorNotSupported;
    if (rank < 1 || rank > 5) return (int)cudaErrorInvalidValue;
    cuuint64_t d[5], s[4];
    cuuint32_t b[5], e[5];
    for (uint32_t i = 0; i < rank; i++) {
        d[i] = dims[i], b[i] = box[i], e[i] = 1;
        if (i + 1 < rank) s[i] = strides[i];
    }
    return (int)fn(map, dt, rank, (void *)base, d, s, b, e, CU_TENSOR_MAP_INTERLEAVE_NONE, swizzle,
                   CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
}

/* The common case: a row-major matrix of `rows` rows of `cols` elements, `pitch` bytes apart (a multiple of 16),
 * boxes of box_cols x box_rows. */
static inline int qn_tma_encode_2d(CUtensorMap *map, CUtensorMapDataType dt, const void *base, uint64_t cols,
                                   uint64_t rows, uint64_t pitch, uint32_t box_cols, uint32_t box_rows,
                                   CUtensorMapSwizzle swizzle) {
    const uint64_t dims[2] = {cols, rows}, strides[1] = {pitch};
    const uint32_t box[2] = {box_cols, box_rows};
    return qn_tma_encode(map, dt, 2, base, dims, strides, box, swizzle);
}

/* ---------------------------------------------------------------- device: copies (sm_90)
 * Declared in every pass (the host pass parses kernel bodies too); a kernel that calls them must be compiled
 * for sm_90 / sm_90a only, or call them under __CUDA_ARCH__ >= 900 (ptxas rejects the instructions below). */

/* Fetches the map into the TMA unit's descriptor cache ahead of the first copy (one thread, once). */
__device__ __forceinline__ void qn_tma_prefetch(const CUtensorMap *map) {
    asm volatile("prefetch.tensormap [%0];\n" ::"l"((uint64_t)map) : "memory");
}

/* The box at element coordinates (c0 innermost, c1) into this CTA's shared memory at dst (shared::cta address;
 * 128-byte aligned, 1024 with the 128-byte swizzle), completing its bytes on mbarrier bar (also this CTA's). */
__device__ __forceinline__ void qn_tma_load_2d(uint32_t dst, const CUtensorMap *map, uint32_t bar, int32_t c0, int32_t c1) {
    asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4}], [%2];\n"
                 ::"r"(dst), "l"((uint64_t)map), "r"(bar), "r"(c0), "r"(c1)
                 : "memory");
}
__device__ __forceinline__ void qn_tma_load_3d(uint32_t dst, const CUtensorMap *map, uint32_t bar, int32_t c0, int32_t c1,
                                               int32_t c2) {
    asm volatile("cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4, %5}], [%2];\n"
                 ::"r"(dst), "l"((uint64_t)map), "r"(bar), "r"(c0), "r"(c1), "r"(c2)
                 : "memory");
}

/* The same box into every CTA of the cluster in `mask` (bit r: cluster rank r), each at its own dst and
 * completing on its own bar (same offsets as this CTA's): one L2 read feeds them all. Each destination's
 * barrier must have been told the bytes (its own arrive.expect_tx). */
__device__ __forceinline__ void qn_tma_load_2d_mc(uint32_t dst, const CUtensorMap *map, uint32_t bar, int32_t c0,
                                                  int32_t c1, uint16_t mask) {
    asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes.multicast::cluster"
                 " [%0], [%1, {%4, %5}], [%2], %3;\n"
                 ::"r"(dst), "l"((uint64_t)map), "r"(bar), "h"(mask), "r"(c0), "r"(c1)
                 : "memory");
}
__device__ __forceinline__ void qn_tma_load_3d_mc(uint32_t dst, const CUtensorMap *map, uint32_t bar, int32_t c0,
                                                  int32_t c1, int32_t c2, uint16_t mask) {
    asm volatile("cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::complete_tx::bytes.multicast::cluster"
                 " [%0], [%1, {%4, %5, %6}], [%2], %3;\n"
                 ::"r"(dst), "l"((uint64_t)map), "r"(bar), "h"(mask), "r"(c0), "r"(c1), "r"(c2)
                 : "memory");
}

/* A shared-memory box (laid out as a load of the same map would leave it) to global memory at (c0, c1); parts
 * past the array are not written, but along dimension 0 only to 16-byte granularity: measured on the H100
 * (fp8_check tma, 13:12 UTC), a row of 300 bytes (pitch 304) also got bytes 300-303 written. Give a stored map's
 * dims[0] x element size a multiple of 16 (or padding that may be overwritten). The writes to src by ordinary stores must be ordered first: every writing
 * thread runs qn_tma_fence_smem (wgmma.cuh's qn_fence_proxy_async), then a barrier, then one thread stores. */
__device__ __forceinline__ void qn_tma_store_2d(const CUtensorMap *map, uint32_t src, int32_t c0, int32_t c1) {
    asm volatile("cp.async.bulk.tensor.2d.global.shared::cta.tile.bulk_group [%0, {%2, %3}], [%1];\n"
                 ::"l"((uint64_t)map), "r"(src), "r"(c0), "r"(c1)
                 : "memory");
}
__device__ __forceinline__ void qn_tma_fence_smem() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }
/* Closes the bulk group of this thread's stores so far. */
__device__ __forceinline__ void qn_tma_store_commit() { asm volatile("cp.async.bulk.commit_group;\n" ::: "memory"); }
/* Waits until at most N of this thread's committed store groups still read their shared memory (the source
 * may then be overwritten), or (qn_tma_store_wait_all) until all are complete in global memory. */
template <int N> __device__ __forceinline__ void qn_tma_store_wait_read() {
    asm volatile("cp.async.bulk.wait_group.read %0;\n" ::"n"(N) : "memory");
}
__device__ __forceinline__ void qn_tma_store_wait_all() { asm volatile("cp.async.bulk.wait_group 0;\n" ::: "memory"); }

#endif
