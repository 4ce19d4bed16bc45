/* sm90a_device.cuh — whether the current device runs the kernels built for sm_90a alone (the wgmma / TMA files:
 * attention_wg.cu, ggml_mmq_wg.cu, ggml_mmq_ws_wg.cu, matmul_fp8_wg.cu), asked by their host-side entry points
 * before they launch anything. Host code: include it outside any device-only guard. */
#ifndef QUANTA_KERNELS_CUDA_SM90A_DEVICE_CUH
#define QUANTA_KERNELS_CUDA_SM90A_DEVICE_CUH

#include <cuda_runtime.h>

#include <atomic>

/* Compute capability 9.0 exactly (the only target those files are compiled for). Read once per including file;
 * relaxed atomics, since two threads that both read it first store the same answer. */
static inline bool qn_sm90a_device_ok() {
    static std::atomic<int> ok{-1};
    int v = ok.load(std::memory_order_relaxed);
    if (v < 0) {
        int dev = 0, major = 0, minor = 0;
        v = cudaGetDevice(&dev) == cudaSuccess &&
            cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) == cudaSuccess &&
            cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev) == cudaSuccess && major == 9 &&
            minor == 0;
        ok.store(v, std::memory_order_relaxed);
    }
    return v == 1;
}

#endif
