/* wgmma.cuh — Hopper warpgroup MMA (sm_90a only: include it from files compiled for that target alone) with
 * the A operand in registers and B in shared memory, f16 or e4m3 inputs, f32 sums; the fences around it; and
 * the pieces of a producer/consumer pipeline (mbarriers, bulk copies, named barriers, setmaxnreg).
 *
 * Register layouts (PTX ISA, "wgmma .m64nNk16 register fragments"): warp w of the warpgroup holds rows
 * 16w .. 16w + 15 of the 64; lane (g = lane / 4, t = lane % 4) holds A as mma.sync m16n8k16 does (a0: row g,
 * k 2t, 2t+1; a1: row g + 8; a2: row g, k 8 + 2t, ..; a3: row g + 8, k 8 + 2t, ..) and D as N / 8 m16n8 tiles
 * (d[j]: rows g, g + 8, columns 8j + 2t, 8j + 2t + 1). So a kernel that builds mma.sync A fragments and
 * stores m16n8 accumulators uses them unchanged.
 *
 * B (N x K, K-major, no swizzle) is read through a descriptor: "core matrices" of 8 rows (N) x 16 bytes
 * (8 f16 along K), each 128 contiguous bytes; the descriptor gives the byte distance between core matrices
 * adjacent along K (leading byte offset) and along N (stride byte offset). */
#ifndef QUANTA_KERNELS_CUDA_WGMMA_CUH
#define QUANTA_KERNELS_CUDA_WGMMA_CUH

#include <stdint.h>

/* The shared-memory matrix descriptor: start address, leading (K) and stride (N) byte offsets, all in units
 * of 16 bytes, no swizzle, base offset 0. */
__device__ __forceinline__ uint64_t qn_wg_desc(uint32_t saddr, uint32_t lbo, uint32_t sbo) {
    return (uint64_t)((saddr & 0x3FFFFu) >> 4) | ((uint64_t)((lbo >> 4) & 0x3FFFu) << 16) |
           ((uint64_t)((sbo >> 4) & 0x3FFFu) << 32);
}

/* The same for the 128-byte swizzle (layout type 1, bits 62-63; base offset 0: the 8-row x 128-byte atoms start
 * on 1024-byte boundaries). K-major: lbo unused (16), sbo = between 8-row groups; MN-major: lbo = between 64-element
 * blocks of the MN dimension, sbo = between 8-row groups of K (PTX ISA, "canonical layouts"). */
__device__ __forceinline__ uint64_t qn_wg_desc_sw128(uint32_t saddr, uint32_t lbo, uint32_t sbo) {
    return qn_wg_desc(saddr, lbo, sbo) | (1ull << 62);
}

/* Before the first wgmma after any other instruction wrote its A registers or accumulators. */
__device__ __forceinline__ void qn_wg_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void qn_wg_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
/* Waits until at most N committed wgmma groups of this warpgroup are still running. */
template <int N> __device__ __forceinline__ void qn_wg_wait() {
    asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
/* Orders this thread's generic-proxy writes to shared memory (cp.async, st.shared) before later async-proxy
 * reads (wgmma's B operand); a barrier after it makes every thread's writes visible. */
__device__ __forceinline__ void qn_fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }

/* Registers an in-flight wgmma still reads or writes: an empty asm that "uses and changes" them, so the
 * compiler keeps them where they are until here (it sees the wgmma asm as done when issued). */
template <int R, int C> __device__ __forceinline__ void qn_wg_keep(float (&d)[R][C]) {
#pragma unroll
    for (int i = 0; i < R; i++)
#pragma unroll
        for (int j = 0; j < C; j++) asm volatile("" : "+f"(d[i][j])::"memory");
}
template <int R, int C> __device__ __forceinline__ void qn_wg_keep(uint32_t (&a)[R][C][4]) {
#pragma unroll
    for (int i = 0; i < R; i++)
#pragma unroll
        for (int j = 0; j < C; j++)
#pragma unroll
            for (int k = 0; k < 4; k++) asm volatile("" : "+r"(a[i][j][k])::"memory");
}

template <int R> __device__ __forceinline__ void qn_wg_keep(uint32_t (&a)[R][4]) {
#pragma unroll
    for (int i = 0; i < R; i++)
#pragma unroll
        for (int k = 0; k < 4; k++) asm volatile("" : "+r"(a[i][k])::"memory");
}

/* The accumulator operands: d[j] (8 columns: 4 registers per lane) for j in 0-7 and 8-15, and their names in
 * the instruction text. */
#define QN_WG_D8(j) "+f"(d[j][0]), "+f"(d[j][1]), "+f"(d[j][2]), "+f"(d[j][3])
#define QN_WG_D_0_7 QN_WG_D8(0), QN_WG_D8(1), QN_WG_D8(2), QN_WG_D8(3), QN_WG_D8(4), QN_WG_D8(5), QN_WG_D8(6), QN_WG_D8(7)
#define QN_WG_D_8_15 \
    QN_WG_D8(8), QN_WG_D8(9), QN_WG_D8(10), QN_WG_D8(11), QN_WG_D8(12), QN_WG_D8(13), QN_WG_D8(14), QN_WG_D8(15)
#define QN_WG_R_0_31                                                                                             \
    "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, " \
    "%23, %24, %25, %26, %27, %28, %29, %30, %31"
#define QN_WG_R_32_63                                                                                            \
    "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, " \
    "%53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"

/* d (64 x N, f32) += A (64 x 16, f16, registers) . B (16 x N from the descriptor's core matrices); the last
 * operand (1) sets the predicate "add to d". */
__device__ __forceinline__ void qn_wg_mma_n64(float (&d)[8][4], const uint32_t a[4], uint64_t desc) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 {" QN_WG_R_0_31 "}, "
                 "{%32, %33, %34, %35}, %36, p, 1, 1, 0;\n}\n"
                 : QN_WG_D_0_7
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(1));
}
__device__ __forceinline__ void qn_wg_mma_n128(float (&d)[16][4], const uint32_t a[4], uint64_t desc) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 {" QN_WG_R_0_31 ", " QN_WG_R_32_63 "}, "
                 "{%64, %65, %66, %67}, %68, p, 1, 1, 0;\n}\n"
                 : QN_WG_D_0_7, QN_WG_D_8_15
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(1));
}


/* ---------------------------------------------------------------- f16 or bf16, B either major (fa12: attention_wg.cu)
 * d (64 x N, f32) (+)= A (64 x 16, registers) . B, with BF = 1 for bf16 inputs (0: f16), TB = 1 for an MN-major
 * B (its N elements contiguous: core matrices of 8 K-rows x 16 bytes of N; leading byte offset = between
 * K-adjacent core matrices, stride byte offset = between N-adjacent ones, PTX ISA "canonical layouts"
 * ((T,1,m),(8,k)):((1,T,SBO),(1T,LBO))), TB = 0 for K-major as above; acc = 0 writes d = A . B. */
#define QN_WG_D_0_15 QN_WG_D_0_7, QN_WG_D_8_15
#define QN_WG_MMA16_BODY(NSTR, OUTS, PA, PD, PS, PT, RS)                                                          \
    if constexpr (BF)                                                                                          \
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, " PS ", 0;\n"                                          \
                     "wgmma.mma_async.sync.aligned.m64" NSTR "k16.f32.bf16.bf16 {" RS "}, "                     \
                     "{" PA "}, " PD ", p, 1, 1, " PT ";\n}\n"                                                \
                     : OUTS                                                                                    \
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(acc), "n"(TB));     \
    else                                                                                                       \
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, " PS ", 0;\n"                                          \
                     "wgmma.mma_async.sync.aligned.m64" NSTR "k16.f32.f16.f16 {" RS "}, "                       \
                     "{" PA "}, " PD ", p, 1, 1, " PT ";\n}\n"                                                \
                     : OUTS                                                                                    \
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(acc), "n"(TB));
template <int BF, int TB>
__device__ __forceinline__ void qn_wg_mma16_n64(float (&d)[8][4], const uint32_t a[4], uint64_t desc, int acc) {
    QN_WG_MMA16_BODY("n64", QN_WG_D_0_7, "%32, %33, %34, %35", "%36", "%37", "%38", QN_WG_R_0_31)
}
template <int BF, int TB>
__device__ __forceinline__ void qn_wg_mma16_n128(float (&d)[16][4], const uint32_t a[4], uint64_t desc, int acc) {
    QN_WG_MMA16_BODY("n128", QN_WG_D_0_15, "%64, %65, %66, %67", "%68", "%69", "%70",
                     QN_WG_R_0_31 ", " QN_WG_R_32_63)
}
#undef QN_WG_MMA16_BODY
/* The same with A (64 x 16, K-major, no swizzle) from shared memory through its own descriptor (leading offset:
 * between K-adjacent core matrices, stride offset: between 8-row groups), B K-major. */
template <int BF>
__device__ __forceinline__ void qn_wg_mma16_ss_n128(float (&d)[16][4], uint64_t adesc, uint64_t bdesc, int acc) {
    if constexpr (BF)
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
                     "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {" QN_WG_R_0_31 ", " QN_WG_R_32_63 "}, "
                     "%64, %65, p, 1, 1, 0, 0;\n}\n"
                     : QN_WG_D_0_15
                     : "l"(adesc), "l"(bdesc), "r"(acc));
    else
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
                     "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 {" QN_WG_R_0_31 ", " QN_WG_R_32_63 "}, "
                     "%64, %65, p, 1, 1, 0, 0;\n}\n"
                     : QN_WG_D_0_15
                     : "l"(adesc), "l"(bdesc), "r"(acc));
}
template <int BF>
__device__ __forceinline__ void qn_wg_mma16_ss_n64(float (&d)[8][4], uint64_t adesc, uint64_t bdesc, int acc) {
    if constexpr (BF)
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
                     "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {" QN_WG_R_0_31 "}, "
                     "%32, %33, p, 1, 1, 0, 0;\n}\n"
                     : QN_WG_D_0_7
                     : "l"(adesc), "l"(bdesc), "r"(acc));
    else
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
                     "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 {" QN_WG_R_0_31 "}, "
                     "%32, %33, p, 1, 1, 0, 0;\n}\n"
                     : QN_WG_D_0_7
                     : "l"(adesc), "l"(bdesc), "r"(acc));
}


/* ---------------------------------------------------------------- FP8 (e4m3 x e4m3, f32 sums): matmul_fp8_wg.cu
 * wgmma .m64nNk32 with 8-bit A in registers (CUTLASS cute/atom/mma_traits_sm90_gmma.hpp, ALayout_64x32: row
 * 16w + g + 8 v1, k 4t + v0 + 16 v2 for register v1 + 2 v2, byte v0): a0 = row g, k 4t..4t+3 (one byte each,
 * low byte first); a1 = row g + 8; a2 = row g, k 16 + 4t..; a3 = row g + 8, k 16 + 4t... The accumulators are
 * laid out as in the f16 form above (d[j]: rows g, g + 8, columns 8j + 2t, 8j + 2t + 1). B: two core matrices
 * along K per instruction (16 e4m3 of K each = 16 bytes, the same byte geometry as 8 f16), read through the
 * same descriptor as the f16 form (qn_wg_desc: leading = between K-adjacent core matrices, stride = between
 * 8-token groups; verified for f16 on the H100 by bench/cuda/wgmma_check.cu). FP8 has no transpose operand:
 * the PTX form is d, a, b-desc, scale-d, imm-scale-a, imm-scale-b (PTX ISA, wgmma.mma_async, FP8 syntax). */
#define QN_WG_D8_16_31                                                                                             \
    QN_WG_D8(16), QN_WG_D8(17), QN_WG_D8(18), QN_WG_D8(19), QN_WG_D8(20), QN_WG_D8(21), QN_WG_D8(22), QN_WG_D8(23), \
        QN_WG_D8(24), QN_WG_D8(25), QN_WG_D8(26), QN_WG_D8(27), QN_WG_D8(28), QN_WG_D8(29), QN_WG_D8(30), QN_WG_D8(31)
#define QN_WG_R_64_95 \
    "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, %80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95"
#define QN_WG_R_96_127 \
    "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, %112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127"

__device__ __forceinline__ void qn_wg_mma_f8_n64(float (&d)[8][4], const uint32_t a[4], uint64_t desc) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n64k32.f32.e4m3.e4m3 {" QN_WG_R_0_31 "}, "
                 "{%32, %33, %34, %35}, %36, p, 1, 1;\n}\n"
                 : QN_WG_D_0_7
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(1));
}
__device__ __forceinline__ void qn_wg_mma_f8_n128(float (&d)[16][4], const uint32_t a[4], uint64_t desc) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3 {" QN_WG_R_0_31 ", " QN_WG_R_32_63 "}, "
                 "{%64, %65, %66, %67}, %68, p, 1, 1;\n}\n"
                 : QN_WG_D_0_7, QN_WG_D_8_15
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(1));
}
__device__ __forceinline__ void qn_wg_mma_f8_n256(float (&d)[32][4], const uint32_t a[4], uint64_t desc) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %133, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n256k32.f32.e4m3.e4m3 {" QN_WG_R_0_31 ", " QN_WG_R_32_63
                 ", " QN_WG_R_64_95 ", " QN_WG_R_96_127 "}, "
                 "{%128, %129, %130, %131}, %132, p, 1, 1;\n}\n"
                 : QN_WG_D_0_7, QN_WG_D_8_15, QN_WG_D8_16_31
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(1));
}

/* fp814: N = 192 (matmul_fp8_wg.cu's 128x192 tile: 1.5 token tiles of 128 per weight tile, for grids that 128x256
 * leaves a third of a round short) */
#define QN_WG_D8_16_23 QN_WG_D8(16), QN_WG_D8(17), QN_WG_D8(18), QN_WG_D8(19), QN_WG_D8(20), QN_WG_D8(21), QN_WG_D8(22), QN_WG_D8(23)
__device__ __forceinline__ void qn_wg_mma_f8_n192(float (&d)[24][4], const uint32_t a[4], uint64_t desc) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %101, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n192k32.f32.e4m3.e4m3 {" QN_WG_R_0_31 ", " QN_WG_R_32_63
                 ", " QN_WG_R_64_95 "}, "
                 "{%96, %97, %98, %99}, %100, p, 1, 1;\n}\n"
                 : QN_WG_D_0_7, QN_WG_D_8_15, QN_WG_D8_16_23
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(1));
}

/* fp818: the FP8 forms with A from shared memory too (both operands through descriptors: FP8 wgmma takes both
 * K-major only; matmul_fp8_wg.cu's QUANTA_CUDA_FP8_SS form, its weights K-major with the 128-byte swizzle). The PTX
 * form: d, a-desc, b-desc, scale-d, imm-scale-a, imm-scale-b (no transpose operands for FP8). Adds to d. */
__device__ __forceinline__ void qn_wg_mma_f8ss_n64(float (&d)[8][4], uint64_t adesc, uint64_t bdesc) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n64k32.f32.e4m3.e4m3 {" QN_WG_R_0_31 "}, %32, %33, p, 1, 1;\n}\n"
                 : QN_WG_D_0_7
                 : "l"(adesc), "l"(bdesc), "r"(1));
}
__device__ __forceinline__ void qn_wg_mma_f8ss_n128(float (&d)[16][4], uint64_t adesc, uint64_t bdesc) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3 {" QN_WG_R_0_31 ", " QN_WG_R_32_63 "}, "
                 "%64, %65, p, 1, 1;\n}\n"
                 : QN_WG_D_0_7, QN_WG_D_8_15
                 : "l"(adesc), "l"(bdesc), "r"(1));
}
__device__ __forceinline__ void qn_wg_mma_f8ss_n192(float (&d)[24][4], uint64_t adesc, uint64_t bdesc) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %98, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n192k32.f32.e4m3.e4m3 {" QN_WG_R_0_31 ", " QN_WG_R_32_63
                 ", " QN_WG_R_64_95 "}, %96, %97, p, 1, 1;\n}\n"
                 : QN_WG_D_0_7, QN_WG_D_8_15, QN_WG_D8_16_23
                 : "l"(adesc), "l"(bdesc), "r"(1));
}
__device__ __forceinline__ void qn_wg_mma_f8ss_n256(float (&d)[32][4], uint64_t adesc, uint64_t bdesc) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %130, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n256k32.f32.e4m3.e4m3 {" QN_WG_R_0_31 ", " QN_WG_R_32_63
                 ", " QN_WG_R_64_95 ", " QN_WG_R_96_127 "}, %128, %129, p, 1, 1;\n}\n"
                 : QN_WG_D_0_7, QN_WG_D_8_15, QN_WG_D8_16_31
                 : "l"(adesc), "l"(bdesc), "r"(1));
}

/* qn_wg_mma16_ss_n128's form with N = 256 (mmq13: ggml_mmq_ws_wg.cu's 128x256 tile), f16, adding to d. */
__device__ __forceinline__ void qn_wg_mma16_ss_n256(float (&d)[32][4], uint64_t adesc, uint64_t bdesc) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %130, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n256k16.f32.f16.f16 {" QN_WG_R_0_31 ", " QN_WG_R_32_63
                 ", " QN_WG_R_64_95 ", " QN_WG_R_96_127 "}, %128, %129, p, 1, 1, 0, 0;\n}\n"
                 : QN_WG_D_0_7, QN_WG_D_8_15, QN_WG_D8_16_31
                 : "l"(adesc), "l"(bdesc), "r"(1));
}

/* fa16: qn_wg_mma16_ss_n128's form with N = 176 and 192 (attention_wg.cu's wider key tiles; FlashAttention-3 sizes
 * hd128 non-causal at 128 x 176), f16 or bf16 (BF), A and B K-major from descriptors, acc = 0 writes d = A . B. */
#define QN_WG_R_64_87 \
    "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, %80, %81, %82, %83, %84, %85, %86, %87"
#define QN_WG_D8_16_21 QN_WG_D8(16), QN_WG_D8(17), QN_WG_D8(18), QN_WG_D8(19), QN_WG_D8(20), QN_WG_D8(21)
template <int BF>
__device__ __forceinline__ void qn_wg_mma16_ss_n176(float (&d)[22][4], uint64_t adesc, uint64_t bdesc, int acc) {
    if constexpr (BF)
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %90, 0;\n"
                     "wgmma.mma_async.sync.aligned.m64n176k16.f32.bf16.bf16 {" QN_WG_R_0_31 ", " QN_WG_R_32_63
                     ", " QN_WG_R_64_87 "}, %88, %89, p, 1, 1, 0, 0;\n}\n"
                     : QN_WG_D_0_15, QN_WG_D8_16_21
                     : "l"(adesc), "l"(bdesc), "r"(acc));
    else
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %90, 0;\n"
                     "wgmma.mma_async.sync.aligned.m64n176k16.f32.f16.f16 {" QN_WG_R_0_31 ", " QN_WG_R_32_63
                     ", " QN_WG_R_64_87 "}, %88, %89, p, 1, 1, 0, 0;\n}\n"
                     : QN_WG_D_0_15, QN_WG_D8_16_21
                     : "l"(adesc), "l"(bdesc), "r"(acc));
}
template <int BF>
__device__ __forceinline__ void qn_wg_mma16_ss_n192(float (&d)[24][4], uint64_t adesc, uint64_t bdesc, int acc) {
    if constexpr (BF)
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %98, 0;\n"
                     "wgmma.mma_async.sync.aligned.m64n192k16.f32.bf16.bf16 {" QN_WG_R_0_31 ", " QN_WG_R_32_63
                     ", " QN_WG_R_64_95 "}, %96, %97, p, 1, 1, 0, 0;\n}\n"
                     : QN_WG_D_0_15, QN_WG_D8_16_23
                     : "l"(adesc), "l"(bdesc), "r"(acc));
    else
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %98, 0;\n"
                     "wgmma.mma_async.sync.aligned.m64n192k16.f32.f16.f16 {" QN_WG_R_0_31 ", " QN_WG_R_32_63
                     ", " QN_WG_R_64_95 "}, %96, %97, p, 1, 1, 0, 0;\n}\n"
                     : QN_WG_D_0_15, QN_WG_D8_16_23
                     : "l"(adesc), "l"(bdesc), "r"(acc));
}

/* ---------------------------------------------------------------- mbarriers and bulk copies (sm_90)
 * A producer/consumer pipeline: the copy engine (cp.async.bulk) writes a stage and completes its bytes on the
 * stage's "full" barrier; consumers wait on it, and arrive on the stage's "empty" barrier when done reading.
 * Phase rule (PTX ISA, mbarrier.try_wait.parity): waiting on parity P returns once the phase of parity P has
 * completed, so a fresh barrier (phase 0 running) passes a wait on parity 1 at once: the n-th use of a stage
 * waits full on parity n & 1 and empty on (n & 1) ^ 1. */
__device__ __forceinline__ void qn_mbar_init(uint32_t bar, uint32_t count) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}
/* Makes the initialized barriers visible to the async proxy (the copy engine); a __syncthreads follows. */
__device__ __forceinline__ void qn_mbar_init_fence() { asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory"); }
__device__ __forceinline__ void qn_mbar_arrive(uint32_t bar) {
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
/* One arrival that also announces `bytes` of copies that will complete on this barrier's phase. */
__device__ __forceinline__ void qn_mbar_arrive_expect_tx(uint32_t bar, uint32_t bytes) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
__device__ __forceinline__ void qn_mbar_wait(uint32_t bar, uint32_t parity) {
    uint32_t done;
    do {
        asm volatile("{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
                     : "=r"(done)
                     : "r"(bar), "r"(parity)
                     : "memory");
    } while (!done);
}
/* bytes (a multiple of 16; both addresses 16-byte aligned) from global memory to shared memory by the copy
 * engine, completing on barrier bar. */
__device__ __forceinline__ void qn_bulk_copy(uint32_t dst, const void *src, uint32_t bytes, uint32_t bar) {
    asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];\n" ::"r"(dst),
                 "l"(src), "r"(bytes), "r"(bar)
                 : "memory");
}
/* A barrier among `count` threads (a multiple of 32) of the block, id 1..15 (0 is __syncthreads). */
__device__ __forceinline__ void qn_named_sync(uint32_t id, uint32_t count) {
    asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(count) : "memory");
}
/* Arrives on named barrier id without waiting (the other side of a qn_named_sync with the same count). */
__device__ __forceinline__ void qn_named_arrive(uint32_t id, uint32_t count) {
    asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(count) : "memory");
}
/* Hands registers between warpgroups (sm_90a; takes effect only under a register cap at entry,
 * __launch_bounds__(threads, 1)): every thread of a warpgroup runs the same one. */
template <int R> __device__ __forceinline__ void qn_setmaxnreg_inc() {
    asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(R));
}
template <int R> __device__ __forceinline__ void qn_setmaxnreg_dec() {
    asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(R));
}

/* ---------------------------------------------------------------- thread-block clusters (sm_90; fp8pp11)
 * A cluster of CTAs on one GPC shares shared memory: a bulk copy can land in every CTA's shared memory at the
 * same offset (multicast: one L2 read feeds several SMs) and complete its bytes on each destination's barrier
 * at the same offset; a thread can arrive on another CTA's mbarrier (mapa gives that barrier's cluster
 * address). Addresses passed here are this CTA's own (shared::cta) addresses. */
__device__ __forceinline__ uint32_t qn_cluster_rank() {
    uint32_t r;
    asm volatile("mov.u32 %0, %%cluster_ctarank;\n" : "=r"(r));
    return r;
}
/* Every thread of the cluster that has not exited arrives, then waits for the others. Relaxed arrival (no
 * memory fence, as CUTLASS's pipelines after their barrier init): what it orders is barrier state made visible
 * by fence.mbarrier_init, and the lifetime of the blocks, not ordinary stores. */
__device__ __forceinline__ void qn_cluster_sync() {
    asm volatile("barrier.cluster.arrive.relaxed;\nbarrier.cluster.wait;\n" ::: "memory");
}
/* The cluster address of this CTA's shared address `saddr` in CTA `rank` of the cluster. */
__device__ __forceinline__ uint32_t qn_mapa(uint32_t saddr, uint32_t rank) {
    uint32_t r;
    asm volatile("mapa.shared::cluster.u32 %0, %1, %2;\n" : "=r"(r) : "r"(saddr), "r"(rank));
    return r;
}
/* One arrival on a barrier given by its cluster address (qn_mapa). Default semantics (release at CTA scope, as
 * CUTLASS's ClusterBarrier::arrive(cta_id)): .release.cluster costs a MEMBAR.ALL.GPU per arrival, and what the
 * arrival announces (wgmma reads of a stage, complete after wgmma.wait_group) needs no fence of this thread's
 * stores. */
__device__ __forceinline__ void qn_mbar_arrive_cluster(uint32_t cbar) {
    asm volatile("mbarrier.arrive.shared::cluster.b64 _, [%0];\n" ::"r"(cbar) : "memory");
}
/* qn_bulk_copy into the CTAs of `mask` (bit r: cluster rank r), each at dst, completing on each one's bar. */
__device__ __forceinline__ void qn_bulk_copy_mc(uint32_t dst, const void *src, uint32_t bytes, uint32_t bar,
                                                uint16_t mask) {
    asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes.multicast::cluster [%0], [%1], %2, "
                 "[%3], %4;\n" ::"r"(dst),
                 "l"(src), "r"(bytes), "r"(bar), "h"(mask)
                 : "memory");
}

#endif
