/*
 * wgmma_check.cu — one wgmma.mma_async m64n64k16 (A from registers in the mma.sync fragment layout, B from
 * shared memory in the no-swizzle K-major core-matrix layout of kernels_cuda/ggml_mmq_wg.cu, 8-wide K slices
 * padded by 16 bytes) against a host product, with the descriptor's byte offsets as read from the PTX ISA
 * (leading = between K slices, stride = between 8-token groups). Small integers, so the f32 sums are exact:
 * 0 errors expected. Prints the errors and the first wrong element, so that a failure of the wgmma kernel's
 * conformance can be told apart (descriptor, A layout, D layout). H100, 2026-12-05 18:50: 0 of 4096 wrong
 * (the two offsets swapped: an illegal shared-memory address).
 * Second (mmq8): one wgmma m64n64k32 e4m3 x e4m3 the way kernels_cuda/matmul_fp8_wg.cu issues it: A's bytes in
 * the 8-bit register layout (a0 row g, k 4t..4t+3; a1 row g+8; a2/a3 the same at k + 16), B as 16-byte K
 * slices of N tokens each, slices N * 16 bytes apart (leading offset), 8-token groups 128 apart. Small
 * integers are exact in e4m3 and the sums in f32: 0 errors expected; a failure here and not in the f16 check
 * points at the 8-bit A layout or the FP8 instruction, one in fp8_check alone at the pipeline around them.
 *
 *   nvcc -std=c++17 -O2 -gencode=arch=compute_90a,code=sm_90a -Ikernels_cuda bench/cuda/wgmma_check.cu
 */
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "cp_async.cuh"
#include "wgmma.cuh"

#define N 64
#define KP (16 * N + 16) /* bytes between K slices */

__global__ void check(const __half *A /* [64][16] */, const __half *B /* [N][16] */, float *D /* [64][N] */) {
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
    qn_wg_fence();
    qn_wg_mma_n64(d, a, qn_wg_desc(qn_smem_u32(bs), KP, 128));
    qn_wg_commit();
    qn_wg_wait<0>();
    qn_wg_keep(d);
    for (int j = 0; j < N / 8; j++)
        for (int q = 0; q < 4; q++) D[(r0 + 8 * (q >> 1)) * N + 8 * j + 2 * t + (q & 1)] = d[j][q];
}

/* A [64][32] and B [N][32] as e4m3 codes; D [64][N]. */
__global__ void check_fp8(const uint8_t *A, const uint8_t *B, float *D) {
    __shared__ __align__(128) uint8_t bs[2 * N * 16];
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
    for (int i = tid; i < N * 2; i += 128) { /* token r, K slice kc: 16 bytes at kc * N * 16 + r * 16 */
        const int r = i >> 1, kc = i & 1;
        *reinterpret_cast<uint4 *>(bs + kc * N * 16 + r * 16) = *reinterpret_cast<const uint4 *>(B + r * 32 + kc * 16);
    }
    qn_fence_proxy_async();
    __syncthreads();
    const int r0 = warp * 16 + g;
    auto quad = [&](int r, int k) { return *reinterpret_cast<const uint32_t *>(A + r * 32 + k); };
    uint32_t a[4] = {quad(r0, 4 * t), quad(r0 + 8, 4 * t), quad(r0, 16 + 4 * t), quad(r0 + 8, 16 + 4 * t)};
    float d[N / 8][4];
    for (int j = 0; j < N / 8; j++) d[j][0] = d[j][1] = d[j][2] = d[j][3] = 0.0f;
    qn_wg_fence();
    qn_wg_mma_f8_n64(d, a, qn_wg_desc(qn_smem_u32(bs), N * 16, 128));
    qn_wg_commit();
    qn_wg_wait<0>();
    qn_wg_keep(d);
    for (int j = 0; j < N / 8; j++)
        for (int q = 0; q < 4; q++) D[(r0 + 8 * (q >> 1)) * N + 8 * j + 2 * t + (q & 1)] = d[j][q];
}

static int run_fp8() {
    static uint8_t hA[64 * 32], hB[N * 32];
    static float vA[64 * 32], vB[N * 32], want[64 * N], got[64 * N];
    for (int i = 0; i < 64 * 32; i++) vA[i] = (float)(rand() % 9 - 4), hA[i] = __nv_fp8_e4m3(vA[i]).__x;
    for (int i = 0; i < N * 32; i++) vB[i] = (float)(rand() % 9 - 4), hB[i] = __nv_fp8_e4m3(vB[i]).__x;
    for (int m = 0; m < 64; m++)
        for (int n = 0; n < N; n++) {
            float s = 0;
            for (int k = 0; k < 32; k++) s += vA[m * 32 + k] * vB[n * 32 + k];
            want[m * N + n] = s;
        }
    uint8_t *A, *B;
    float *D;
    if (cudaMalloc(&A, sizeof hA) || cudaMalloc(&B, sizeof hB) || cudaMalloc(&D, sizeof got)) return 2;
    cudaMemcpy(A, hA, sizeof hA, cudaMemcpyHostToDevice);
    cudaMemcpy(B, hB, sizeof hB, cudaMemcpyHostToDevice);
    cudaMemset(D, 0xFF, sizeof got);
    check_fp8<<<1, 128>>>(A, B, D);
    cudaError_t e = cudaDeviceSynchronize();
    if (e != cudaSuccess) {
        printf("wgmma_check fp8: %s\n", cudaGetErrorString(e));
        return 2;
    }
    cudaMemcpy(got, D, sizeof got, cudaMemcpyDeviceToHost);
    int bad = 0, first = -1;
    for (int i = 0; i < 64 * N; i++)
        if (!(got[i] == want[i])) bad++, first = first < 0 ? i : first;
    printf("wgmma_check fp8 m64n64k32 (8-bit A registers, LBO = N * 16, SBO = 128): %d of %d wrong", bad, 64 * N);
    if (first >= 0) printf("; first at row %d token %d: %g, want %g", first / N, first % N, got[first], want[first]);
    printf("\n");
    return bad ? 1 : 0;
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
    cudaMemset(D, 0xFF, sizeof got); /* NaN poison */
    check<<<1, 128>>>(A, B, D);
    cudaError_t e = cudaDeviceSynchronize();
    if (e != cudaSuccess) {
        printf("wgmma_check: %s\n", cudaGetErrorString(e));
        return 2;
    }
    cudaMemcpy(got, D, sizeof got, cudaMemcpyDeviceToHost);
    int bad = 0, first = -1;
    for (int i = 0; i < 64 * N; i++)
        if (!(got[i] == want[i])) bad++, first = first < 0 ? i : first;
    printf("wgmma_check (LBO = K slices, SBO = 8-token groups): %d of %d wrong", bad, 64 * N);
    if (first >= 0) printf("; first at row %d token %d: %g, want %g", first / N, first % N, got[first], want[first]);
    printf("\n");
    if (!bad) rc = 0;
    const int rc8 = run_fp8();
    return rc ? rc : rc8;
}
