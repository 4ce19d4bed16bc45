/*
 * wgmma_check.cu — one wgmma.mma_async m64n64k16 (A from registers in the mma.sync fragment layout, B from
 * shared memory in the no-swizzle K-major core-matrix layout of kernels_cuda/ggml_mmq_wg.cu, 8-wide K slices
 * padded by 16 bytes) against a host product, with the descriptor's byte offsets as read from the PTX ISA
 * (leading = between K slices, stride = between 8-token groups) and swapped. Small integers, so the f32 sums
 * are exact: a correct reading gives 0 errors. Prints, per reading, the errors and the first wrong element,
 * so that a failure of the wgmma kernel's conformance can be told apart (descriptor, A layout, D layout).
 *
 *   nvcc -std=c++17 -O2 -gencode=arch=compute_90a,code=sm_90a -Ikernels_cuda bench/cuda/wgmma_check.cu
 */
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "cp_async.cuh"
#include "wgmma.cuh"

#define N 64
#define KP (16 * N + 16) /* bytes between K slices */

__global__ void check(const __half *A /* [64][16] */, const __half *B /* [N][16] */, float *D /* [64][N] */,
                      int swap) {
    __shared__ __align__(128) uint8_t bs[2 * KP];
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
    for (int i = tid; i < N * 2; i += 128) { /* token r, slice kc: 16 bytes */
        const int r = i >> 1, kc = i & 1;
        *reinterpret_cast<uint4 *>(bs + kc * KP + r * 16) = *reinterpret_cast<const uint4 *>(B + r * 16 + kc * 8);
    }
    qn_fence_proxy_async();
    __syncthreads();
    uint32_t a[4];
    const int r0 = warp * 16 + g;
    auto pair = [&](int r, int k) {
        __half2 h = __halves2half2(A[r * 16 + k], A[r * 16 + k + 1]);
        return *reinterpret_cast<uint32_t *>(&h);
    };
    a[0] = pair(r0, 2 * t), a[1] = pair(r0 + 8, 2 * t), a[2] = pair(r0, 8 + 2 * t), a[3] = pair(r0 + 8, 8 + 2 * t);
    float d[N / 8][4];
    for (int j = 0; j < N / 8; j++) d[j][0] = d[j][1] = d[j][2] = d[j][3] = 0.0f;
    const uint32_t lbo = swap ? 128u : (uint32_t)KP, sbo = swap ? (uint32_t)KP : 128u;
    qn_wg_fence();
    qn_wg_mma_n64(d, a, qn_wg_desc(qn_smem_u32(bs), lbo, sbo));
    qn_wg_commit();
    qn_wg_wait<0>();
    qn_wg_keep(d);
    for (int j = 0; j < N / 8; j++)
        for (int q = 0; q < 4; q++) D[(r0 + 8 * (q >> 1)) * N + 8 * j + 2 * t + (q & 1)] = d[j][q];
}

int main() {
    static __half hA[64 * 16], hB[N * 16];
    static float want[64 * N], got[64 * N];
    srand(7);
    for (int i = 0; i < 64 * 16; i++) hA[i] = __float2half((float)(rand() % 9 - 4));
    for (int i = 0; i < N * 16; i++) hB[i] = __float2half((float)(rand() % 9 - 4));
    for (int m = 0; m < 64; m++)
        for (int n = 0; n < N; n++) {
            float s = 0;
            for (int k = 0; k < 16; k++) s += __half2float(hA[m * 16 + k]) * __half2float(hB[n * 16 + k]);
            want[m * N + n] = s;
        }
    __half *A, *B;
    float *D;
    if (cudaMalloc(&A, sizeof hA) || cudaMalloc(&B, sizeof hB) || cudaMalloc(&D, sizeof got)) return 2;
    cudaMemcpy(A, hA, sizeof hA, cudaMemcpyHostToDevice);
    cudaMemcpy(B, hB, sizeof hB, cudaMemcpyHostToDevice);
    int rc = 1;
    for (int swap = 0; swap < 2; swap++) {
        cudaMemset(D, 0xFF, sizeof got); /* NaN poison */
        check<<<1, 128>>>(A, B, D, swap);
        cudaError_t e = cudaDeviceSynchronize();
        if (e != cudaSuccess) {
            printf("wgmma_check swap=%d: %s\n", swap, cudaGetErrorString(e));
            return 2;
        }
        cudaMemcpy(got, D, sizeof got, cudaMemcpyDeviceToHost);
        int bad = 0, first = -1;
        for (int i = 0; i < 64 * N; i++)
            if (!(got[i] == want[i])) bad++, first = first < 0 ? i : first;
        printf("wgmma_check descriptor offsets %s: %d of %d wrong", swap ? "swapped" : "as read (LBO=K, SBO=N)", bad,
               64 * N);
        if (first >= 0)
            printf("; first at row %d token %d: %g, want %g", first / N, first % N, got[first], want[first]);
        printf("\n");
        if (!bad && !swap) rc = 0;
    }
    return rc;
}
