/* ggml_gemv_staged.cuh — the batch-1 GEMV for ggml q4_0 and q8_0 weights with 16-byte loads
 * (QUANTA_CUDA_GEMV_STAGED), included by ggml.cu after qn_gemv_args.
 *
 * Why: the one-warp-per-row kernel reads an 18-byte (q4_0) or 34-byte (q8_0) block per lane with
 * 2-byte loads (the blocks are only 2-byte aligned): 9 or 17 load instructions per block, each
 * spanning the warp's 576 / 1088 bytes, so the L1 handles ~45 (q4_0) requests per 576 bytes of
 * weights, plus 16 for x's codes; that, not DRAM, is the likely limit of its 1.2-1.8 TB/s.
 *
 * How: a warp takes R weight rows (glu: R / 2 gate rows and their R / 2 up rows) and walks them in
 * rounds of 32 * U blocks. Each round the warp loads the rounds' bytes of its R rows with
 * coalesced 16-byte loads (lane l: 16-byte words l, l + 32, ...: a row's 32 * U blocks start
 * 16-byte aligned when the row does and a row has a multiple of 8 blocks), stores them to shared
 * memory, and each lane then decodes its blocks (c0 + lane + 32 u) of every row from there with
 * aligned 4-byte reads. The registers that carried a round are free after the store, so the next
 * round's loads are issued before this round's arithmetic (one round always in flight). x's codes
 * of a lane's blocks are loaded once per round for all R rows. Sums: per block d * (sum q * xq) in
 * one integer dp4a chain, times dx, accumulated per lane over its blocks in order, then a warp
 * reduction: not the one-warp kernel's order, so results differ from it in the last bits.
 *
 * Split K (S = 2 or 4, QUANTA_CUDA_GEMV_SPLITK, gemv12): the S warps of a group share the group's R rows and take
 * every S-th round (warp p of the group: rounds p, p + S, ...), so a row has S rounds in flight instead of one and a
 * launch has S times the warps (the 7B's down projection at S = 1: 2048 warps, ~15 an SM, each walking 7 rounds
 * one at a time). Each warp reduces its lanes as above; the S partial sums then add in shared memory in the
 * order p = 0 .. S - 1: fixed, so results are the same run to run, and differ from S = 1 in the last bits.
 * cp.async (QUANTA_CUDA_GEMV_CPASYNC, gemv12; on by default where it measured faster, gemv_staged_cpasync): the same
 * rounds copied straight to shared memory in 3 stages, two in flight a warp and none held in registers; the arithmetic
 * and its order are the register form's, so the results are too. */
#ifndef QUANTA_KERNELS_CUDA_GGML_GEMV_STAGED_CUH
#define QUANTA_KERNELS_CUDA_GGML_GEMV_STAGED_CUH

#include "cp_async.cuh"

/* Blocks per lane and round: q4_0 2 (a round of a row is 1152 bytes), q8_0 1 (1088 bytes). */
template <int DT> __host__ __device__ constexpr int qn_staged_u() { return DT == QN_DT_GGML_Q4_0 ? 2 : 1; }
static int qn_staged_u_host(int dt) { return dt == QN_DT_GGML_Q4_0 ? 2 : 1; }

/* Word k (bytes 4k .. 4k + 3) of a block's codes, the block starting `sh` bytes (0 or 2) into aligned word w[0]. */
__device__ __forceinline__ int qn_staged_codes(const uint32_t *w, int k, int sh) {
    return (int)__funnelshift_rc(w[k], w[k + 1], 16 + 8 * sh);
}

/* d * (the codes . x's codes) of the block at byte `off` of a warp's staged bytes st (16-byte aligned), read
 * with aligned 4-byte loads; with X2 plus the second plane's product / 254. */
template <int DT, bool X2>
__device__ __forceinline__ float qn_staged_block_dot(const int4 *st, int off, const int4 &x0, const int4 &x1,
                                                     const int4 &l0, const int4 &l1) {
    constexpr int NW = DT == QN_DT_GGML_Q4_0 ? 5 : 9; /* aligned words covering a block's bytes */
    const int sh = off & 3;
    const uint32_t *base = (const uint32_t *)st + (off >> 2);
    uint32_t w[NW];
#pragma unroll
    for (int k = 0; k < NW; k++) w[k] = base[k];
    const float d = __half2float(__ushort_as_half((unsigned short)(w[0] >> (8 * sh))));
    int q[8];
    if (DT == QN_DT_GGML_Q4_0) {
#pragma unroll
        for (int i = 0; i < 4; i++) {
            const uint32_t b = (uint32_t)qn_staged_codes(w, i, sh);
            q[i] = (int)__vsub4(b & 0x0F0F0F0Fu, 0x08080808u);
            q[4 + i] = (int)__vsub4((b >> 4) & 0x0F0F0F0Fu, 0x08080808u);
        }
    } else {
#pragma unroll
        for (int i = 0; i < 8; i++) q[i] = qn_staged_codes(w, i, sh);
    }
    float part = (float)(qn_ggml_dot16(q, x0) + qn_ggml_dot16(q + 4, x1));
    if (X2) part += (float)(qn_ggml_dot16(q, l0) + qn_ggml_dot16(q + 4, l1)) * (1.0f / 254.0f);
    return d * part;
}

template <int DT, bool GLU, int R, int S, int NST>
__device__ __forceinline__ void qn_ggml_gemv_staged_body(const qn_gemv_args &a) {
    constexpr int BB = DT == QN_DT_GGML_Q4_0 ? 18 : 34; /* bytes per block */
    constexpr int U = qn_staged_u<DT>();
    constexpr int CB = 32 * U;                /* blocks of a row per round */
    constexpr int SPAN = CB * BB / 16;        /* 16-byte words of a row per round */
    constexpr int NV = (SPAN + 31) / 32;      /* ...loaded per lane */
    constexpr int OUTW = GLU ? R / 2 : R;     /* outputs per warp group */
    constexpr int GW = 4 / S;                 /* warp groups per block */
    static_assert(S == 1 || S == 2 || S == 4, "split K: 1, 2 or 4 warps a row group");
    static_assert(NST == 0 || NST >= 2, "cp.async stages: 0 (registers) or 2 and more");
    constexpr int W = R * SPAN + 1;         /* + 1: a block's last aligned word may end past its row */
    __shared__ int4 stage[4][NST ? NST : 1][W];
    qn_pdl_launch();
    const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, p = wid % S;
    const int64_t o0 = ((int64_t)blockIdx.x * GW + wid / S) * OUTW;
    const int64_t nch = a.K / 32;
    const uint8_t *rowp[R];
#pragma unroll
    for (int r = 0; r < R; r++) {
        const int64_t o = o0 + (GLU ? r % OUTW : r);
        rowp[r] = o < a.N ? qn_gemv_wrow(a, o, GLU && r >= OUTW) : nullptr;
    }
    float acc[R];
#pragma unroll
    for (int r = 0; r < R; r++) acc[r] = 0.0f;
    /* This lane's blocks of the round at c0, staged in st, into acc. */
    auto dot_round = [&](const int4 *st, int64_t c0) {
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int64_t c = c0 + lane + 32 * u;
            if (c >= nch) break;
            const int4 *xp = (const int4 *)(a.xq + c * 32);
            const int4 x0 = __ldg(xp), x1 = __ldg(xp + 1);
            int4 l0 = make_int4(0, 0, 0, 0), l1 = l0;
            if (GLU) {
                const int4 *lp = (const int4 *)(a.xl + c * 32);
                l0 = __ldg(lp), l1 = __ldg(lp + 1);
            }
            const float dx = __ldg(a.dx + c);
#pragma unroll
            for (int r = 0; r < R; r++)
                acc[r] = fmaf(qn_staged_block_dot<DT, GLU>(st, r * SPAN * 16 + (lane + 32 * u) * BB, x0, x1, l0, l1), dx,
                              acc[r]);
        }
    };
    if constexpr (NST > 0) {
        /* Rounds through cp.async (QUANTA_CUDA_GEMV_CPASYNC): round k of this warp (blocks (p + k S) CB ..) goes to
         * stage k % NST, NST - 1 rounds in flight, no registers carrying them. Each lane commits one group per
         * round issued (empty past the end), so waiting for NST - 2 pending groups means round k has landed. */
        int4 *sw = stage[wid][0];
        auto issue = [&](int64_t k) {
            const int64_t c0 = ((int64_t)p + k * S) * CB;
            if (c0 < nch) {
                const int s = (int)((nch - c0 < CB ? nch - c0 : CB) * BB / 16);
                int4 *d = sw + (int)(k % NST) * W;
#pragma unroll
                for (int r = 0; r < R; r++)
#pragma unroll
                    for (int j = 0; j < NV; j++) {
                        const int v = lane + 32 * j;
                        if (rowp[r] && v < s)
                            qn_cp_async16(qn_smem_u32(d + r * SPAN + v), (const int4 *)(rowp[r] + c0 * BB) + v, true);
                    }
            }
            qn_cp_async_commit();
        };
        if (!a.pre) qn_pdl_wait();
#pragma unroll
        for (int k = 0; k < NST - 1; k++) issue(k);
        qn_pdl_wait();
        const int64_t nr = (int64_t)p * CB < nch ? (nch - (int64_t)p * CB + S * CB - 1) / (S * CB) : 0;
        for (int64_t k = 0; k < nr; k++) {
            qn_cp_async_wait<NST - 2>();
            __syncwarp();      /* every lane's copies of round k visible; every lane done with round k - 1 */
            issue(k + NST - 1); /* into stage (k - 1) % NST */
            dot_round(sw + (int)(k % NST) * W, ((int64_t)p + k * S) * CB);
        }
    } else {
        int4 buf[R][NV];
        /* The round starting at block c0 of every row into buf (words past the round's end not loaded). */
        auto load = [&](int64_t c0) {
            const int s = (int)((nch - c0 < CB ? nch - c0 : CB) * BB / 16);
#pragma unroll
            for (int r = 0; r < R; r++)
#pragma unroll
                for (int j = 0; j < NV; j++) {
                    const int v = lane + 32 * j;
                    if (rowp[r] && v < s) buf[r][j] = __ldg((const int4 *)(rowp[r] + c0 * BB) + v);
                }
        };
        if (!a.pre) qn_pdl_wait();
        if ((int64_t)p * CB < nch) load((int64_t)p * CB);
        qn_pdl_wait(); /* weights are never written by a step; x's codes are */
        int4 *st = stage[wid][0];
        for (int64_t c0 = (int64_t)p * CB; c0 < nch; c0 += S * CB) {
            const int s = (int)((nch - c0 < CB ? nch - c0 : CB) * BB / 16);
#pragma unroll
            for (int r = 0; r < R; r++)
#pragma unroll
                for (int j = 0; j < NV; j++) {
                    const int v = lane + 32 * j;
                    if (v < s) st[r * SPAN + v] = buf[r][j];
                }
            __syncwarp();
            if (c0 + S * CB < nch) load(c0 + S * CB);
            dot_round(st, c0);
            __syncwarp();
        }
    }
#pragma unroll
    for (int r = 0; r < R; r++)
        for (int o = 16; o > 0; o >>= 1) acc[r] += __shfl_xor_sync(0xffffffffu, acc[r], o);
    if constexpr (S > 1) { /* the group's S partial sums, in the order of p */
        __shared__ float part[4][R];
        if (lane == 0) {
#pragma unroll
            for (int r = 0; r < R; r++) part[wid][r] = acc[r];
        }
        __syncthreads();
#pragma unroll
        for (int r = 0; r < R; r++) {
            float v = part[wid - p][r];
#pragma unroll
            for (int k = 1; k < S; k++) v += part[wid - p + k][r];
            acc[r] = v;
        }
    }
    if (lane == 0 && p == 0) {
#pragma unroll
        for (int r = 0; r < OUTW; r++) {
            const int64_t o = o0 + r;
            if (o >= a.N) break;
            qn_gemv_store(a, 0, o, GLU ? qn_act(a.act, acc[r], 0.0f) * acc[r + OUTW] : acc[r]);
        }
    }
    if (GLU && a.ocnt) { /* y's codes: the last of the 32 / OUTB blocks of each 32 outputs makes them */
        __shared__ int last;
        constexpr int OUTB = GW * OUTW; /* outputs per block: 1 .. 8, so 32 / OUTB blocks complete a group */
        const int64_t chunk = (int64_t)blockIdx.x * OUTB / 32;
        __threadfence(); /* this block's outputs visible to the block that quantizes them */
        __syncthreads();
        if (threadIdx.x == 0) last = atomicAdd(a.ocnt + chunk, 1u) == 32 / OUTB - 1;
        __syncthreads();
        if (last && wid == 0) {
            __threadfence();
            const float v = __ldcg((const float *)a.y + chunk * 32 + lane); /* from L2: other SMs wrote them */
            qn_ggml_quantize_chunk(v, a.oq + chunk * 32, a.odx + chunk, a.osx + chunk, a.ol + chunk * 32, a.osl + chunk);
            if (lane == 0) a.ocnt[chunk] = 0; /* left zeroed for the next launch */
        }
    }
}

/* The kernel as before gemv12 (no occupancy asked: 64-80 registers at R = 2), and with 8 blocks an SM asked (64
 * registers; glu spills 20-60 bytes) for the split forms, QUANTA_CUDA_GEMV_OCC=1 and the cp.async form. */
template <int DT, bool GLU, int R, int S>
__global__ void __launch_bounds__(128) qn_k_ggml_gemv_staged(qn_gemv_args a) {
    qn_ggml_gemv_staged_body<DT, GLU, R, S, 0>(a);
}
template <int DT, bool GLU, int R, int S, int NST>
__global__ void __launch_bounds__(128, 8) qn_k_ggml_gemv_staged_occ(qn_gemv_args a) {
    qn_ggml_gemv_staged_body<DT, GLU, R, S, NST>(a);
}

/* Rows too short for the kernel above (a row's blocks not a multiple of 8: Gemma's 640-wide tied head, 262144
 * rows of q8_0), QUANTA_CUDA_GEMV_FLAT: a warp takes 8 consecutive rows of one weight as one run of
 * 8 * nch blocks (8 rows are 16-byte aligned whatever nch is), walked in rounds of 32 * U blocks staged as
 * above; a lane's block b is row b / nch's chunk b % nch, its x codes read per block (a short row's x
 * stays in L1). Each lane adds into its block's row of 8 sums, then the warp reduces the 8. */
template <int DT> __global__ void __launch_bounds__(128) qn_k_ggml_gemv_flat(qn_gemv_args a) {
    constexpr int R = 8, BB = DT == QN_DT_GGML_Q4_0 ? 18 : 34, U = qn_staged_u<DT>(), CB = 32 * U;
    constexpr int SPAN = CB * BB / 16, NV = (SPAN + 31) / 32;
    __shared__ int4 stage[4][SPAN + 1];
    qn_pdl_launch();
    const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
    const int64_t n0 = ((int64_t)blockIdx.x * 4 + wid) * R;
    const int64_t nch = a.K / 32, T = n0 < a.N ? R * nch : 0; /* N is a multiple of 8 */
    const uint8_t *w = a.w + (size_t)n0 * a.rb;
    int4 buf[NV];
    auto load = [&](int64_t b0) {
        const int s = (int)((T - b0 < CB ? T - b0 : CB) * BB / 16);
#pragma unroll
        for (int j = 0; j < NV; j++)
            if (lane + 32 * j < s) buf[j] = __ldg((const int4 *)(w + b0 * BB) + lane + 32 * j);
    };
    if (!a.pre) qn_pdl_wait();
    if (T) load(0);
    qn_pdl_wait();
    float acc[R];
#pragma unroll
    for (int r = 0; r < R; r++) acc[r] = 0.0f;
    int4 *st = stage[wid];
    const int4 zero = make_int4(0, 0, 0, 0);
    for (int64_t b0 = 0; b0 < T; b0 += CB) {
        const int s = (int)((T - b0 < CB ? T - b0 : CB) * BB / 16);
#pragma unroll
        for (int j = 0; j < NV; j++)
            if (lane + 32 * j < s) st[lane + 32 * j] = buf[j];
        __syncwarp();
        if (b0 + CB < T) load(b0 + CB);
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int64_t b = b0 + lane + 32 * u;
            if (b >= T) break;
            const int r = (int)(b / nch);
            const int64_t c = b - r * nch;
            const int4 *xp = (const int4 *)(a.xq + c * 32);
            const float v = qn_staged_block_dot<DT, false>(st, (lane + 32 * u) * BB, __ldg(xp), __ldg(xp + 1), zero, zero) *
                            __ldg(a.dx + c);
#pragma unroll
            for (int k = 0; k < R; k++)
                if (k == r) acc[k] += v;
        }
        __syncwarp();
    }
#pragma unroll
    for (int r = 0; r < R; r++)
        for (int o = 16; o > 0; o >>= 1) acc[r] += __shfl_xor_sync(0xffffffffu, acc[r], o);
    if (lane == 0 && T) {
#pragma unroll
        for (int r = 0; r < R; r++) qn_gemv_store(a, 0, n0 + r, acc[r]);
    }
}

/* Whether the flat kernel takes a plain batch-1 launch of rows whose blocks are not a multiple of 8 (never one the
 * row kernel could take, so the two switches are independent): QUANTA_CUDA_GEMV_FLAT=1. Off by default: on the
 * H100 (2026-12-05 18:50) Gemma decoded at 707 ± 1 tok/s with it and 713 ± 11 without (its head is the one
 * weight it takes), so it bought nothing measurable. */
static int gemv_flat_on(void) {
    static int on = -1;
    return gemv_switch_one("QUANTA_CUDA_GEMV_FLAT", &on);
}

static bool gemv_flat_fits(int dt, const qn_gemv_args &a) {
    if (!gemv_flat_on() || a.M != 1 || !a.xq || a.w2 || a.wm1 || a.N % 8 || a.K % 32 || (a.K / 32) % 8 == 0) return false;
    return (dt == QN_DT_GGML_Q4_0 || dt == QN_DT_GGML_Q8_0) && (uintptr_t)a.w % 16 == 0;
}

template <int DT> static int gemv_flat_launch(const qn_gemv_args &a, cudaStream_t s) {
    return qn_launch(qn_k_ggml_gemv_flat<DT>, dim3((unsigned)((a.N + 31) / 32)), 128, 0, s, a);
}

/* Whether the staged kernel takes this launch: q4_0 / q8_0, one x row, the int8 codes (both planes for
 * glu, one otherwise), rows a whole number of 16-byte words and 16-byte aligned weights (a row's blocks a
 * multiple of 8), and QUANTA_CUDA_GEMV_STAGED not 0. */
static int gemv_staged_on(void) {
    static int on = -1;
    return gemv_switch_on("QUANTA_CUDA_GEMV_STAGED", &on);
}

/* Weight rows per warp (R): QUANTA_CUDA_GEMV_RPW = 2 or 4; 2 by default. Measured (H100, 2026-12-05 18:50,
 * tg128): 7B Q4_0 326 ± 8 tok/s with 2 everywhere, 316 with 4 where N >= 8192 (glu, head) and 2 elsewhere, 312
 * with 4 everywhere; Q8_0 244 (4 where N >= 8192) against 239 (4 everywhere). */
static int gemv_staged_rows(int64_t N) {
    static int forced = -1;
    if (forced < 0) {
        const char *e = getenv("QUANTA_CUDA_GEMV_RPW");
        const int v = e ? atoi(e) : 0;
        forced = v == 2 || v == 4 ? v : 0;
    }
    (void)N;
    return forced ? forced : 2;
}

static bool gemv_staged_fits(int dt, const qn_gemv_args &a, bool x2) {
    if (!gemv_staged_on() || a.M != 1 || !a.xq || (x2 != (a.w2 != NULL)) || (x2 && !a.xl)) return false;
    if (dt != QN_DT_GGML_Q4_0 && dt != QN_DT_GGML_Q8_0) return false;
    if ((a.K / 32) % 8 || a.K % 32 || a.rb % 16) return false;
    const uint8_t *p[4] = {a.w, a.w2, a.wm1, a.wm2};
    for (int i = 0; i < 4; i++)
        if ((uintptr_t)p[i] % 16) return false;
    return true; /* matmul_multi: qn_gemv_wrow finds each row's own weight */
}

/* Warps per row group (the kernel's S) of the staged kernel at R = 2, from QUANTA_CUDA_GEMV_SPLITK (plain and multi
 * launches) and QUANTA_CUDA_GEMV_SPLITK_GLU (matmul_glu): 0 or unset 1 (the kernel before gemv12); 2 or 4 forced;
 * 1 (plain only) by the rounds a row has (nch / 32U): 4 where it has 6 or more (the 7B's down: 7 q4_0 / 14 q8_0
 * rounds), 2 where it has 2 or more (wo, q/k/v: 2 / 4), so each warp walks about two rounds or fewer. */
static int gemv_staged_split(int dt, bool glu, int64_t nch) {
    static int plain = -1, gated = -1;
    int *c = glu ? &gated : &plain;
    if (*c < 0) {
        const char *e = getenv(glu ? "QUANTA_CUDA_GEMV_SPLITK_GLU" : "QUANTA_CUDA_GEMV_SPLITK");
        const int v = e ? atoi(e) : 0;
        *c = v == 2 || v == 4 || (v == 1 && !glu) ? v : 0;
    }
    if (*c != 1) return *c ? *c : 1;
    const int64_t rounds = (nch + 32 * qn_staged_u_host(dt) - 1) / (32 * qn_staged_u_host(dt));
    return rounds >= 6 ? 4 : rounds >= 2 ? 2 : 1;
}

/* Blocks an SM must hold (the kernel's MB, so at most 65536 / (128 MB) registers a thread): QUANTA_CUDA_GEMV_OCC=1
 * asks 8 (64 registers: 32 warps an SM) of the R = 2 kernel with S = 1, which takes 80 registers for glu (6 blocks an
 * SM) and 64 otherwise; unset or 0, none (the kernel before gemv12). The split kernels always ask 8: without it they
 * take 94-125 registers (4-5 blocks an SM), which would cost the warps that splitting K is for. */
static int gemv_staged_occ(void) {
    static int on = -1;
    return gemv_switch_one("QUANTA_CUDA_GEMV_OCC", &on);
}

/* Whether the R = 2 kernel (any S) loads its rounds with cp.async into 3 stages of shared memory (2 rounds in flight a
 * warp instead of 1, none in registers; 27.8 KB a block for q4_0, so 7-8 blocks an SM) rather than through registers.
 * The same bytes, blocks and sums: results bit-identical to the register form. QUANTA_CUDA_GEMV_CPASYNC=0 never,
 * =1 always; by default every q4_0 launch (q8_0 not: in the 10:38 call, in the same run as llama.cpp, the 7B Q8_0
 * decoded at 262.8 / 264.9 tok/s with it on its wo/down launches and 268.5 with =0, while the 7B Q4_0 went 369.4 with
 * =0 -> 374.2 / 374.1 with it). The kernel rows behind the first pick (H100, 09:42 call,
 * ggml_gemv_bench, the same output hashes): q4_0 wo 4096 x 4096 6.38 -> 5.87 us, q/k/v 6144 x 4096 7.59 -> 7.24, down
 * 4096 x 14336 17.73 -> 15.53, glu 2 x 14336 x 4096 27.02 -> 26.15, head 32000 x 4096 27.10 -> 27.91 (once a step);
 * q8_0 wo 8.46 -> 7.89, down 27.02 -> 25.92, but q/k/v 10.17 -> 10.57, glu 42.72 -> 43.72, head 46.39 -> 47.81. */
static bool gemv_staged_cpasync(int dt, bool glu, int64_t N) {
    static int forced = -2;
    if (forced == -2) {
        const char *e = getenv("QUANTA_CUDA_GEMV_CPASYNC");
        forced = e && !strcmp(e, "0") ? 0 : e && !strcmp(e, "1") ? 1 : -1;
    }
    if (forced >= 0) return forced == 1;
    (void)glu, (void)N;
    return dt == QN_DT_GGML_Q4_0;
}

template <int DT, bool GLU, int S> static int gemv_staged_launch_s(const qn_gemv_args &a, cudaStream_t s) {
    const int64_t outs_per_block = 4 / S * (GLU ? 1 : 2); /* R = 2 */
    const dim3 grid((unsigned)((a.N + outs_per_block - 1) / outs_per_block));
    if (gemv_staged_cpasync(DT, GLU, a.N)) return qn_launch(qn_k_ggml_gemv_staged_occ<DT, GLU, 2, S, 3>, grid, 128, 0, s, a);
    if (S == 1 && !gemv_staged_occ()) return qn_launch(qn_k_ggml_gemv_staged<DT, GLU, 2, 1>, grid, 128, 0, s, a);
    return qn_launch(qn_k_ggml_gemv_staged_occ<DT, GLU, 2, S, 0>, grid, 128, 0, s, a);
}

template <int DT, bool GLU> static int gemv_staged_launch(const qn_gemv_args &a, cudaStream_t s) {
    const int R = gemv_staged_rows(a.N * (GLU ? 2 : 1));
    if (R == 4) { /* split K only at R = 2 */
        const dim3 grid((unsigned)((a.N + 4 * (GLU ? 2 : 4) - 1) / (4 * (GLU ? 2 : 4))));
        return qn_launch(qn_k_ggml_gemv_staged<DT, GLU, 4, 1>, grid, 128, 0, s, a);
    }
    const int S = gemv_staged_split(DT, GLU, a.K / 32);
    if (S == 4) return gemv_staged_launch_s<DT, GLU, 4>(a, s);
    if (S == 2) return gemv_staged_launch_s<DT, GLU, 2>(a, s);
    return gemv_staged_launch_s<DT, GLU, 1>(a, s);
}

#endif
