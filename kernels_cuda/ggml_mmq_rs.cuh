/* ggml_mmq_rs.cuh — what the register-A GEMMs on ggml weights (ggml_mmq_rs_wg.cu, =16; ggml_mmq_rsi_wg.cu, =17) share
 * beyond wgmma.cuh: the m64n256k16 wgmma with A (f16) from registers, for their 256-token tiles, and the wgmma of a
 * tile by its token count; and the host-side test of which calls they take. Include it at the top (the host part)
 * and again after wgmma.cuh inside the files' sm_90a-only guard (the device part). */
#ifndef QUANTA_KERNELS_CUDA_GGML_MMQ_RS_CUH
#define QUANTA_KERNELS_CUDA_GGML_MMQ_RS_CUH

/* Host: whether a call is theirs — Q4_0 / Q8_0, whole 256-wide K slots (so TMA box rows of a multiple of 16 bytes), a
 * 16-byte aligned weight, M past the GEMV's range, and a device that runs sm_90a code. */
static inline bool qn_gmmq_rs_applies(int w_dtype, const qn_gmmq_args &a) {
    return (w_dtype == QN_DT_GGML_Q4_0 || w_dtype == QN_DT_GGML_Q8_0) && a.K % 256 == 0 && a.K == a.Kp && a.M > 64 &&
           a.rb % 16 == 0 && ((uintptr_t)a.w & 15) == 0 && a.N <= 0x7fffffff && qn_sm90a_device_ok();
}
#endif

/* Device (sm_90a, after wgmma.cuh) */
#if defined(QUANTA_KERNELS_CUDA_WGMMA_CUH) && !defined(QUANTA_KERNELS_CUDA_GGML_MMQ_RS_DEVICE)
#define QUANTA_KERNELS_CUDA_GGML_MMQ_RS_DEVICE

/* d (64 x 256, f32) += A (64 x 16 f16, registers, wgmma's A fragment) . B (the descriptor's 256 x 16, K-major) */
__device__ __forceinline__ void qn_wg_mma_n256(float (&d)[32][4], const uint32_t a[4], uint64_t desc) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %133, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n256k16.f32.f16.f16 {" QN_WG_R_0_31 ", " QN_WG_R_32_63 ", " QN_WG_R_64_95
                 ", " QN_WG_R_96_127 "}, {%128, %129, %130, %131}, %132, p, 1, 1, 0;\n}\n"
                 : QN_WG_D_0_7, QN_WG_D_8_15, QN_WG_D8_16_31
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(1));
}

/* The tile's wgmma by its token count NB (64, 128 or 256): d (64 x NB) += A . B */
template <int NB> __device__ __forceinline__ void qn_rs_mma(float (&d)[NB / 8][4], const uint32_t a[4], uint64_t bd);
template <> __device__ __forceinline__ void qn_rs_mma<64>(float (&d)[8][4], const uint32_t a[4], uint64_t bd) {
    qn_wg_mma_n64(d, a, bd);
}
template <> __device__ __forceinline__ void qn_rs_mma<128>(float (&d)[16][4], const uint32_t a[4], uint64_t bd) {
    qn_wg_mma_n128(d, a, bd);
}
template <> __device__ __forceinline__ void qn_rs_mma<256>(float (&d)[32][4], const uint32_t a[4], uint64_t bd) {
    qn_wg_mma_n256(d, a, bd);
}

#endif
