/* ggml_mmq_rsi_wg.cu — y[M,N] = x[M,K] . W[N,K]^T for GGUF Q4_0 / Q8_0 weights on Hopper's warpgroup MMA with the
 * weight as the register (A) operand (mmq15; QUANTA_CUDA_GGML_MMQ=17, forced only until measured; M > 64, K a
 * multiple of 256, compute capability 9.0, sm_90a only; anything else goes on to =16's route).
 *
 * Why (bench/NOTES.md, mmq15): ggml_mmq_rs_wg.cu (=16) spends ~1300 clocks per 64-wide K step on the 128x128 tile
 * against 512 of tensor work, and ~930 on 128x64 against 256: a fixed ~550 clocks a step that does not overlap the
 * tensor work, roughly its decode. Two changes against that, the data path otherwise =16's (one producer thread: a
 * TMA box of raw GGUF rows per 256 of K, one bulk copy of the activation slab per 64 of K; mbarriers only):
 *  - a cheaper decode: the activations are prepped in a permuted K order inside each 32-element block
 *    (qn_gmmq_kperm, ggml_mmq.cuh), chosen so that a lane's codes of a block row come in one (Q4_0) or two (Q8_0)
 *    aligned 32-bit shared loads, the scale in a third that every lane of a quad shares, already paired the way the
 *    magic-number construction wants: Q4_0 per 8 values one shift, 4 LOP3 ((w & mask) | 0x6400 in one), 2 HADD2
 *    (1024 + q - 1032), 2 HFMA2 (the high nibbles as 1024 + 16 q: / 16 - 72, exact), 4 HMUL2 (x d); Q8_0 2 LOP3
 *    (^ 0x80), 4 PRMT, 4 HADD2, 4 HMUL2 — against =16's 3-5 16-bit loads and ~20 instructions. Same f16 weight values
 *    (q - 8 or q exact, times d rounded once), the same products; within each k16 they are summed in another order.
 *  - a finer schedule (U = 1): each 32-element block (two k16 wgmma) is one commit group, four register sets, and
 *    the decode of block u + 1 runs while blocks u - 2 .. u are queued on the tensor cores (wgmma.wait_group 3),
 *    the way CUTLASS's mixed-input mainloop interleaves its conversion with the wgmma of a k-tile; =16 decodes a
 *    whole step while only one group of its own is queued. U = 2 keeps =16's schedule (a step a group, two sets,
 *    wait_group 1) with the new decode: the two changes measured apart.
 * Diagnostic forms (forced tiles rsidiag0 / rsidiag1; their outputs are not the product): DIAG 1 feeds the wgmma
 * constant A registers (no shared loads, no decode) — the pipeline's own rate; DIAG 2 decodes but issues no wgmma
 * — the decode's own rate. Split K (grid z, f32 partial sums, =16's reduce) where the tiles leave the GPU short.
 *
 * Block: 384 threads, warpgroups 0-1 consumers (weight rows 64w .. 64w + 63 of the 128-row tile, all NB tokens),
 * thread 256 the producer. Shared memory as =16: A ring (3 slots of 128 rows x 8 blocks, rows 144 / 272 bytes), B
 * ring (the activation slab of a 64-wide step, NB x 128 bytes, 128-byte swizzle), barriers afull / aempty / bfull /
 * bempty (n-th use: full on parity n & 1, empty on (n & 1) ^ 1; empties take one arrival per consumer warp). */
#include "ggml_mmq.cuh"
#include "sm90a_device.cuh"
#include "tma.cuh"
#include "ggml_mmq_rs.cuh"

#include <type_traits>

#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define QN_RSI_HAVE 1
#include "wgmma.cuh"
#include "ggml_mmq_rs.cuh"
#else
#define QN_RSI_HAVE 0
#endif

#define QN_RSI_BN 128 /* weight rows per tile */
#define QN_RSI_KA 256 /* K per A slot: 8 blocks */
#define QN_RSI_GROUP 8 /* weight tiles per group of the block order */

/* CPS: blocks per SM. 1: a producer warpgroup beside the two consumer warpgroups (384 threads), up to 227 KB. 2: no
 * producer warpgroup (256 threads, 128 registers each) and half the shared memory, so two blocks share an SM and
 * their four consumer warpgroups interleave on the tensor cores without moving in step; thread 0 issues the copies
 * from inside the consumer loop (a ring slot once every warp has released it). */
/* V (mmq16): variant bits of the forced tiles; 1: an A ring of 2 slots, so the B ring gets a fourth 32 KB slot on the
 * 256-token Q8_0 tile (3 slots there otherwise: only one step of activations in flight beyond the two in use); 2: 256
 * weight rows a tile (MR = 2 row blocks of 64 per consumer warpgroup, two m64 wgmma per k16): the activation slab,
 * 2 bytes an element against the weight's 0.56 / 1.06, is read once per 256 rows instead of 128 — 31% (Q4_0) / 19%
 * (Q8_0) fewer bytes into the SM per flop at 128 tokens than the 128x256 tile, for an SM-side copy path that
 * moves ~22 B a clock on every tile so far. */
/* V bit 4 (mmq17): split K over a cluster (grid z = the cluster's size, 2..8): each block's f32 sums go to its own
 * shared memory (the rings are free after the last step), and each block adds a slice of the tile's rows from every
 * block of the cluster through distributed shared memory, in rank order, and stores it: no partial sums in global
 * memory, no reduce launch (=16's split K costs both: 8 MB of f32 partials at 512 x 1024 x 4096 split 4). */
/* V bit 16 (mmq21, QUANTA_CUDA_GGML_SPLITCL): with 8 (the EPI instances), K split in two over a cluster pair (grid z =
 * 2 = the cluster): the partial sums meet in distributed shared memory, each block's warpgroup `rank` adding its peer's
 * half of its rows and storing y — no partial sums in global memory, no reduce launch; the same additions as the
 * global split's reduce (bench/NOTES.md, mmq21). */
/* V bit 512 (mmq23, QUANTA_CUDA_GGML_PAIRX): with 8 (the EPI instances, unsplit: the 128-token pick with PLOOP's
 * producer, 32, and with PAIRX=2 the 256-token pick), blocks run as cluster pairs along the weight rows (cluster
 * (2,1,1): weight tiles 2c and 2c + 1, the same token tile) and each producer copies half of every activation step
 * (tokens NB / 2 x rank ..) by bulk copy multicast into both blocks' B slots: the slab leaves L2 once per pair, not
 * once per block (q8_0 128x128 step: 24.7 -> 16.7 KB of L2 reads a block; q4_0 20.6 -> 12.6). A B slot is refilled
 * once both blocks' consumers have released it (bempty takes 16 arrivals, lane r of each warp arriving on block r's).
 * The same copies land in the same places: the same bits. */
/* V bit 1024 (mmq24, QUANTA_CUDA_GGML_TLIN): with 8 (the EPI instances; not grouped, not PAIRX), each A slot (128 rows x
 * 256 of K: 18.4 KB Q4_0, 34.8 KB Q8_0) comes from the weight's tile-linear copy (p.wt, qn_cuda_ggml_tlin_pack) as one
 * linear bulk copy instead of the 2-D TMA box's 128 row pieces of 144 / 272 bytes at the row stride. The copy holds
 * the slot's bytes in the order the box lands them (rows densely at the box's pitch, rows past N zero): the same
 * shared memory, the same bits. */
/* V bit 4096 (mmq24, a diagnostic of the same bits: the bench's "trace" rows): with 8 (the default's 128-token pick with
 * PLOOP's producer, its 64-token cluster pair; with 1024 or not), consumer thread 0 (the pair's storing warpgroup's
 * first thread for the end) writes QN_CUDA_GGML_MMQ_TRACE words for its block into p.trace (block b = x + gx (y + gy
 * z)): SM id, then %globaltimer (ns) at entry, when A slot 0 had landed, after the last wgmma, after the stores; then
 * the same four points in the SM's clock64 — where a call's fixed part goes, and each SM's clock over its K loop. */
template <int DT, int NB, int CPS = 1, int V = 0> struct qn_rsi_cfg {
    static constexpr int bb = qn_ggml_block_bytes(DT);
    static constexpr int arow = (QN_RSI_KA / 32) * bb; /* 144 / 272 bytes: rows 4 banks apart */
    static constexpr int MR = (V & 2) ? 2 : 1, BN = QN_RSI_BN * MR;
    static constexpr int a_bytes = BN * arow, b_bytes = NB * QN_GMMQ_BK * 2;
    static constexpr int SA = (V & 1) || (MR == 2 && DT == QN_DT_GGML_Q8_0) ? 2 : CPS == 1 || DT == QN_DT_GGML_Q4_0 ? 3 : 2;
    /* 228 KB an SM, 1 KB of it reserved per block; 1024 for the alignment, the barriers */
    static constexpr int budget = (CPS == 1 ? 232448 : 233472 / 2 - 1024) - 1024 - 256;
    static constexpr int SB0 = (budget - SA * a_bytes) / b_bytes, SB = SB0 > 8 ? 8 : SB0;
    static constexpr int a_off = SB * b_bytes, bar_off = a_off + SA * a_bytes;
    static constexpr int smem = bar_off + 2 * (SA + SB) * 8;
    static constexpr int threads = CPS == 1 ? 384 : 256;
    static_assert(SB >= 3, "B ring of at least 3 steps");
    static constexpr int red_pitch = 132; /* floats a token row of the cluster epilogue's sums: conflict-free stores */
    static_assert(!(V & 4) || (NB * red_pitch * 4 <= bar_off && CPS == 1 && MR == 1), "cluster sums fit the rings");
    static_assert(!(V & 16) || (NB * 128 * 4 <= bar_off && CPS == 1 && MR == 1 && (V & 12) == 8),
                  "cluster pair: a warpgroup's sums fit the rings; EPI instances only");
    static_assert(!(V & 512) || ((V & 8) && (V & (4 | 16 | 64 | 128 | 256)) == 0 && CPS == 1 && MR == 1 && NB % 16 == 0),
                  "PAIRX: the EPI instances, unsplit, one block an SM");
    static_assert(!(V & 4096) || ((V & 8) && (V & (4 | 128 | 256 | 512)) == 0 && CPS == 1 && MR == 1),
                  "trace: the EPI instances, 128-row tiles, not grouped, paired or split by tokens");
    static_assert(!(V & 1024) || ((V & 8) && (V & (4 | 256 | 512)) == 0 && CPS == 1 && MR == 1),
                  "TLIN: the EPI instances, 128-row tiles, not grouped or paired");
    static_assert(a_bytes % 1024 == 0 && b_bytes % 1024 == 0, "slots on 1024-byte boundaries");
    static_assert(arow % 16 == 0 && arow / 2 <= 256, "a TMA box row: a multiple of 16 bytes, at most 256 elements");
};

#if QN_RSI_HAVE
__device__ __forceinline__ uint32_t qn_rsi_ld32(const uint8_t *p) { return *reinterpret_cast<const uint32_t *>(p); }
/* (a & b) | c in one LOP3 */
__device__ __forceinline__ uint32_t qn_rsi_andor(uint32_t a, uint32_t b, uint32_t c) {
    uint32_t d;
    asm("lop3.b32 %0, %1, %2, %3, 0xEA;\n" : "=r"(d) : "r"(a), "r"(b), "r"(c));
    return d;
}
/* DIAG 3 (mmq16): the ceiling of this data path with both operands from shared memory (CUTLASS's form), A taken
 * from the activation slab itself (64 of its token rows, the same K-major 128-byte-swizzled layout) */
template <int NB> __device__ __forceinline__ void qn_rsi_ss_mma(float (&d)[NB / 8][4], uint64_t ad, uint64_t bd) {
    if constexpr (NB == 64) qn_wg_mma16_ss_n64<0>(d, ad, bd, 1);
    else if constexpr (NB == 128) qn_wg_mma16_ss_n128<0>(d, ad, bd, 1);
    else qn_wg_mma16_ss_n256(d, ad, bd);
}

/* point k (0-3) of a trace record (V bit 4096): globaltimer in word 1 + k, clock64 in word 5 + k (as fp8's qn_f8_stamp) */
__device__ __forceinline__ void qn_rsi_stamp(unsigned long long *tr, int k) {
    unsigned long long g;
    asm volatile("mov.u64 %0, %%globaltimer;\n" : "=l"(g)::"memory");
    tr[1 + k] = g;
    tr[5 + k] = (unsigned long long)clock64();
}

/* The cluster barrier with release / acquire (qn_cluster_sync is relaxed): orders the sums' shared-memory stores before
 * other blocks' distributed reads, and those reads before the blocks exit. */
__device__ __forceinline__ void qn_rsi_cluster_sync() {
    asm volatile("barrier.cluster.arrive.release;\nbarrier.cluster.wait.acquire;\n" ::: "memory");
}
__device__ __forceinline__ float qn_rsi_ld_cluster(uint32_t caddr) { /* volatile: never above the cluster barrier */
    float v;
    asm volatile("ld.shared::cluster.f32 %0, [%1];\n" : "=f"(v) : "r"(caddr));
    return v;
}

__device__ __forceinline__ float4 qn_rsi_ld_cluster4(uint32_t caddr) { /* volatile: as qn_rsi_ld_cluster */
    float4 v;
    asm volatile("ld.shared::cluster.v4.f32 {%0, %1, %2, %3}, [%4];\n"
                 : "=f"(v.x), "=f"(v.y), "=f"(v.z), "=f"(v.w)
                 : "r"(caddr));
    return v;
}
/* The two halves of qn_rsi_cluster_sync, for work between this thread's arrival and its wait. */
__device__ __forceinline__ void qn_rsi_cluster_arrive() { asm volatile("barrier.cluster.arrive.release;\n" ::: "memory"); }
__device__ __forceinline__ void qn_rsi_cluster_wait() { asm volatile("barrier.cluster.wait.acquire;\n" ::: "memory"); }

/* Per lane, fixed for the kernel: where its code words sit in an even block (ODD blocks need none) and the PRMT
 * selector that builds lane 3's split word (qn_gmmq_kperm). */
struct qn_rsi_lane {
    int offA, offB;
    uint32_t sel;
};

/* One block row (blk: the block's first byte in shared memory; ODD: its index in the slot is odd) in the permuted
 * order: r[h][0] / r[h][1] are the row's A registers 0 / 2 of k16 half h. */
template <int DT, bool ODD>
__device__ __forceinline__ void qn_rsi_row(const uint8_t *blk, const qn_rsi_lane &L, int t, uint32_t (&r)[2][2]) {
    /* the scale: the low half of the block's first word (even), the high half of the word before (odd) */
    uint32_t W0 = qn_rsi_ld32(ODD ? blk - 2 : blk);
    const __half2 d = ODD ? __high2half2(qn_u2h(W0)) : __low2half2(qn_u2h(W0));
    if (DT == QN_DT_GGML_Q4_0) {
        const uint32_t w = ODD ? qn_rsi_ld32(blk + 2 + 4 * t) : __byte_perm(W0, qn_rsi_ld32(blk + L.offA), L.sel);
        const uint32_t s = w >> 8, magic = 0x64006400u;
        const __half2 c0 = __half2half2(__ushort_as_half((unsigned short)0x6408));  /* 1032 */
        const __half2 c16 = __half2half2(__ushort_as_half((unsigned short)0x2C00)); /* 1 / 16 */
        const __half2 c72 = __half2half2(__ushort_as_half((unsigned short)0xD480)); /* -72 */
        r[0][0] = qn_h2u(__hmul2(__hsub2(qn_u2h(qn_rsi_andor(w, 0x000F000Fu, magic)), c0), d));
        r[0][1] = qn_h2u(__hmul2(__hsub2(qn_u2h(qn_rsi_andor(s, 0x000F000Fu, magic)), c0), d));
        r[1][0] = qn_h2u(__hmul2(__hfma2(qn_u2h(qn_rsi_andor(w, 0x00F000F0u, magic)), c16, c72), d));
        r[1][1] = qn_h2u(__hmul2(__hfma2(qn_u2h(qn_rsi_andor(s, 0x00F000F0u, magic)), c16, c72), d));
    } else { /* Q8_0: 0x64 over (q ^ 0x80) is 1024 + 128 + q */
        const uint32_t A = ODD ? qn_rsi_ld32(blk + 2 + 4 * t) : qn_rsi_ld32(blk + L.offA);
        const uint32_t B = ODD ? qn_rsi_ld32(blk + 18 + 4 * t) : __byte_perm(W0, qn_rsi_ld32(blk + L.offB), L.sel);
        const uint32_t xa = A ^ 0x80808080u, xb = B ^ 0x80808080u, m = 0x64646464u;
        const __half2 c = __half2half2(__ushort_as_half((unsigned short)0x6480)); /* 1152 */
        r[0][0] = qn_h2u(__hmul2(__hsub2(qn_u2h(__byte_perm(xa, m, 0x4140)), c), d));
        r[0][1] = qn_h2u(__hmul2(__hsub2(qn_u2h(__byte_perm(xa, m, 0x4342)), c), d));
        r[1][0] = qn_h2u(__hmul2(__hsub2(qn_u2h(__byte_perm(xb, m, 0x4140)), c), d));
        r[1][1] = qn_h2u(__hmul2(__hsub2(qn_u2h(__byte_perm(xb, m, 0x4342)), c), d));
    }
}

/* The lane's A fragments a[h] (k16 half h) of block j of a slot, rows r (row0: its row in the slot) and r + 8. */
template <int DT, int J>
__device__ __forceinline__ void qn_rsi_block(const uint8_t *row0, const qn_rsi_lane &L, int t, uint32_t (&a)[2][4]) {
    constexpr int bb = qn_ggml_block_bytes(DT), arow = (QN_RSI_KA / 32) * bb;
    uint32_t r0[2][2], r1[2][2];
    qn_rsi_row<DT, (J & 1) != 0>(row0 + J * bb, L, t, r0);
    qn_rsi_row<DT, (J & 1) != 0>(row0 + 8 * arow + J * bb, L, t, r1);
#pragma unroll
    for (int h = 0; h < 2; h++) a[h][0] = r0[h][0], a[h][1] = r1[h][0], a[h][2] = r0[h][1], a[h][3] = r1[h][1];
}

#endif

/* U: blocks per commit group (2: a step, 4: two); DIAG: 0, or the diagnostic forms above (mmq16's: 3, SS wgmma, A
 * from the slab, no decode; 4, the full consumers but no copies past the rings' first fill: the consumers' own rate);
 * CPS: blocks per SM (cfg); V: cfg's variant bits. */
#if QN_RSI_HAVE
/* =16's block order: groups of QN_RSI_GROUP weight tiles, the token tiles walked first inside a group; nt counts the
 * grid's weight tiles (a grouped launch's over all its weights), mt its token tiles. */
__device__ __forceinline__ void qn_rsi_order(int64_t &nt, int64_t &mt) {
    const int64_t gx = gridDim.x, gy = gridDim.y, L = (int64_t)blockIdx.y * gx + blockIdx.x;
    const int64_t first = L / (QN_RSI_GROUP * gy) * QN_RSI_GROUP;
    const int64_t gsize = gx - first < QN_RSI_GROUP ? gx - first : QN_RSI_GROUP, i = L % (QN_RSI_GROUP * gy);
    nt = first + i % gsize, mt = i / gsize;
}

/* The kernel's body: amap the weight's tensor map, ntoff the grid's first weight tile of this weight (0 but in a
 * grouped launch, where it is subtracted from the block order's tile: the weight's own tile index). */
template <int DT, int NB, int U, int DIAG, int CPS, int V>
__device__ __forceinline__ void qn_rsi_body(const CUtensorMap *amap, const qn_gmmq_args &p, float *part, int64_t ntoff) {
    typedef qn_rsi_cfg<DT, NB, CPS, V> Cfg;
    constexpr int SA = Cfg::SA, SB = Cfg::SB, MR = Cfg::MR;
    constexpr bool EPI = (V & 8) != 0; /* mmq20 (QUANTA_CUDA_GGML_EPI): instances of their own, the default's code as before */
    constexpr bool CL2 = (V & 16) != 0; /* mmq21: K split over a cluster pair (cfg) */
    constexpr bool TOK = (V & 128) != 0; /* mmq21: the pair's halves split by tokens, not rows (SPLITCL=3) */
    static_assert(!TOK || (CL2 && NB % 16 == 0), "TOK: the cluster pair");
    /* mmq21 (QUANTA_CUDA_GGML_PLOOP): the producer's loop without the first-fill test in it. SASS of the EPI instances
     * (nvcc 13): their consumer loop is the old instances' within 3 instructions, but their producer loop is 123
     * instructions against 81, its counter in vector registers moved to uniform ones (R2UR) every trip, YIELD in its
     * waits — the first-fill order's test inside it. */
    constexpr bool PL = (V & 32) != 0;
    /* QUANTA_CUDA_GGML_PLOOP=2 (V bit 64, a diagnostic of the same bits): the producer thread as the old instances' —
     * no first-fill order, no trigger, its loop then exit — beside the EPI consumers and epilogue */
    constexpr bool PL0 = (V & 64) != 0;
    constexpr bool MC = (V & 512) != 0; /* mmq23 (QUANTA_CUDA_GGML_PAIRX): the activation steps multicast over a pair */
    constexpr bool TL = (V & 1024) != 0; /* mmq24 (QUANTA_CUDA_GGML_TLIN): A slots from the tile-linear copy */
    constexpr bool TR = (V & 4096) != 0; /* mmq24: the per-block trace (a diagnostic; the same bits) */
    static_assert(!(PL || PL0) || EPI, "PLOOP: EPI instances");
    static_assert(!EPI || (CPS == 1 && (V & 4) == 0 && DIAG == 0), "EPI: the table's picks only");
    static_assert(MR == 1 || (DIAG != 3 && CPS == 1), "256-row tiles: no SS diagnostic, one block an SM");
    constexpr int R = 2;       /* register sets of U blocks (8 U registers): one decoded while the other's wgmma run */
    constexpr int UPS = 8 / U; /* units (commit groups) per A slot */
    constexpr int SPU = U / 2; /* 64-wide steps per unit */
    /* 64 A registers or 128 accumulators: the producer warpgroup's registers go to the consumers (40 + 2 x 232 per 128
     * threads = 504 <= 512) */
    constexpr bool big = (U == 4 || NB == 256 || MR == 2) && CPS == 1;
    extern __shared__ __align__(128) uint8_t qn_rsi_smem_raw[];
    uint8_t *sm = qn_rsi_smem_raw + ((1024u - (qn_smem_u32(qn_rsi_smem_raw) & 1023u)) & 1023u);
    const uint32_t sbase = qn_smem_u32(sm), bars = sbase + Cfg::bar_off;
    auto afull = [&](int s) { return bars + 8u * (uint32_t)s; };
    auto aempty = [&](int s) { return bars + 8u * (uint32_t)(SA + s); };
    auto bfull = [&](int s) { return bars + 8u * (uint32_t)(2 * SA + s); };
    auto bempty = [&](int s) { return bars + 8u * (uint32_t)(2 * SA + SB + s); };
    const int tid = threadIdx.x;
    unsigned long long *trec = nullptr; /* TR: this block's record */
    if constexpr (TR) {
        if (p.trace) {
            trec = p.trace + (size_t)QN_CUDA_GGML_MMQ_TRACE *
                                 (blockIdx.x + (size_t)gridDim.x * (blockIdx.y + (size_t)gridDim.y * blockIdx.z));
            if (tid == 0) qn_rsi_stamp(trec, 0);
        }
    }
    const int64_t KT = p.Kp / QN_GMMQ_BK;
    const int64_t KA = KT / 4, ka0 = KA * blockIdx.z / gridDim.z, nka = KA * (blockIdx.z + 1) / gridDim.z - ka0;
    int64_t nt, mt;
    qn_rsi_order(nt, mt);
    nt -= ntoff;
    if (tid == 0) {
        for (int s = 0; s < SA; s++) qn_mbar_init(afull(s), 1), qn_mbar_init(aempty(s), 8);
        for (int s = 0; s < SB; s++) qn_mbar_init(bfull(s), 1), qn_mbar_init(bempty(s), MC ? 16 : 8);
        qn_mbar_init_fence();
    }
    if constexpr (MC) qn_cluster_sync(); /* both blocks' barriers initialized before a copy or arrival reaches them */
    else __syncthreads();
    /* this token tile's slabs: NB of the prep's xnb-token tiles' rows, step by step xnb * 64 halves apart */
    const int64_t xnb = p.xnb ? p.xnb : NB;
    const __half *xt = p.xh + (size_t)((mt * NB) / xnb * KT * xnb + (mt * NB) % xnb) * QN_GMMQ_BK;
    const int32_t row0 = (int32_t)(nt * Cfg::BN);
    auto load_a = [&](int slot, int64_t ka) { /* A slot: the tile rows' raw bytes of K slot ka0 + ka */
        if (DIAG == 4 && ka >= SA) { /* DIAG 4: the ring's first fill only, then the slots marked full as they are */
            qn_mbar_arrive(afull(slot));
            return;
        }
        qn_mbar_arrive_expect_tx(afull(slot), Cfg::a_bytes);
        if constexpr (TL) { /* mmq24: tile nt's K slot ka0 + ka, a_bytes in one piece */
            qn_bulk_copy(sbase + Cfg::a_off + slot * Cfg::a_bytes,
                         p.wt + ((size_t)nt * (size_t)KA + (size_t)(ka0 + ka)) * (size_t)Cfg::a_bytes, Cfg::a_bytes,
                         afull(slot));
        } else {
#pragma unroll
            for (int r = 0; r < MR; r++) /* boxes of 128 rows */
                qn_tma_load_2d(sbase + Cfg::a_off + slot * Cfg::a_bytes + r * QN_RSI_BN * Cfg::arow, amap, afull(slot),
                               (int32_t)((ka0 + ka) * (Cfg::arow / 2)), row0 + r * QN_RSI_BN);
        }
    };
    const uint32_t crank = MC ? qn_cluster_rank() : 0u; /* MC: which half of each step this block copies */
    auto load_b = [&](int slot, int64_t i) { /* B slot: the slab of step 4 ka0 + i */
        if (DIAG == 4 && i >= SB) {
            qn_mbar_arrive(bfull(slot));
            return;
        }
        qn_mbar_arrive_expect_tx(bfull(slot), Cfg::b_bytes); /* MC: both halves land on each block's barrier */
        const __half *src = xt + (size_t)(4 * ka0 + i) * (size_t)xnb * QN_GMMQ_BK;
        if constexpr (MC) { /* this block's half of the step's tokens (whole 1024-byte swizzle atoms), into both */
            constexpr uint32_t half = Cfg::b_bytes / 2;
            qn_bulk_copy_mc(sbase + slot * Cfg::b_bytes + crank * half, reinterpret_cast<const uint8_t *>(src) + crank * half,
                            half, bfull(slot), (uint16_t)3u);
        } else {
            qn_bulk_copy(sbase + slot * Cfg::b_bytes, src, Cfg::b_bytes, bfull(slot));
        }
    };
    if (CPS == 2 && tid == 0) { /* the rings' first fills; the rest from the consumer loop */
        qn_tma_prefetch(amap);
        for (int s = 0; s < SA && s < nka; s++) load_a(s, s);
        qn_pdl_wait();
        for (int s = 0; s < SB && s < 4 * nka; s++) load_b(s, s);
    }

    if (CPS == 1 && tid >= 256) { /* ------------------------------------------------------------ producer: one thread */
        if (big) qn_setmaxnreg_dec<40>();
        if (tid == 256) {
            qn_tma_prefetch(amap);
            /* the weight's first boxes; then, launched as the prep's programmatic dependent (QUANTA_CUDA_GGML_PDL), wait
             * for it (a no-op otherwise): this much overlaps the prep's last wave */
            /* mmq20 (QUANTA_CUDA_GGML_EPI bit 4): the copies in the order the consumers take them — slot 0's weight box,
             * the first two activation steps, then slot 1's box two steps before its own steps, and so on — instead
             * of the whole A ring first (Q8_0: 104 KB of weight boxes ahead of the first 16 KB of activations) */
            const bool ord = EPI && !PL0 && (p.epi & 4) != 0; /* PL0: the old instances' producer, whole ring first */
            for (int s = 0; s < (ord ? 1 : SA) && s < nka; s++) load_a(s, s);
            qn_pdl_wait();
            int64_t i0 = 0;
            if constexpr (PL) { /* mmq21: the first fills in a loop of their own, the steady state as the old instances' */
                if (ord) {
                    const int64_t i1 = 4 * (nka < SA ? nka : SA); /* the A ring's first fills: no aempty wait before */
                    for (int64_t i = 0; i < i1; i++) {
                        if ((i & 3) == 2 && (i >> 2) + 1 < SA && (i >> 2) + 1 < nka)
                            load_a((int)(i >> 2) + 1, (i >> 2) + 1);
                        const int sb = (int)(i % SB);
                        qn_mbar_wait(bempty(sb), (uint32_t)((i / SB) & 1) ^ 1u);
                        load_b(sb, i);
                    }
                    i0 = i1; /* from the block's own values, not the loop's counter (a uniform start) */
                }
            }
            for (int64_t i = i0; i < 4 * nka; i++) {
                if (!PL && ord && (i & 3) == 2 && (i >> 2) + 1 < SA && (i >> 2) + 1 < nka)
                    load_a((int)(i >> 2) + 1, (i >> 2) + 1); /* a first fill: its slot was never used */
                if ((i & 3) == 0 && (i >> 2) >= SA) {
                    const int64_t ka = i >> 2;
                    const int sa = (int)(ka % SA);
                    qn_mbar_wait(aempty(sa), (uint32_t)((ka / SA) & 1) ^ 1u);
                    load_a(sa, ka);
                }
                const int sb = (int)(i % SB);
                qn_mbar_wait(bempty(sb), (uint32_t)((i / SB) & 1) ^ 1u);
                load_b(sb, i);
            }
            if constexpr (PL0) asm volatile("exit;\n" ::: "memory"); /* the trigger: the block's other threads */
            if constexpr (PL) { /* this thread's tail and exit here: no reconvergence with the other producer threads
                                 * after its loop (that kept its counters out of the uniform registers) */
                if constexpr ((V & 20) != 0) {
                    qn_rsi_cluster_sync();
                    qn_rsi_cluster_sync();
                }
                if constexpr (MC) qn_rsi_cluster_sync(); /* the consumers' one barrier at their end */
                if (EPI && ((p.epi & 2) || (gridDim.z > 1 && !CL2))) qn_pdl_launch();
                asm volatile("exit;\n" ::: "memory");
            }
        }
        if constexpr ((V & 20) != 0) { /* the consumers' two cluster barriers: every thread of the cluster arrives */
            qn_rsi_cluster_sync();
            qn_rsi_cluster_sync();
        }
        if constexpr (MC) qn_rsi_cluster_sync(); /* the consumers' one (MC): no block leaves before its peer's arrivals */
        if (EPI && ((p.epi & 2) || (gridDim.z > 1 && !CL2))) qn_pdl_launch(); /* as the consumers' below */
        return;
    }
    /* ---------------------------------------------------------------------------------- consumers */
    if (big) qn_setmaxnreg_inc<232>();
    const int warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
    /* the warp's first row in the tile: warpgroup w has rows 64 w .. (MR 1) or 128 w .. in two blocks of 64 (MR 2) */
    const int rw = MR == 1 ? warp * 16 : 128 * (warp >> 2) + 16 * (warp & 3), r0 = rw + g;
    qn_rsi_lane L;
    if (DT == QN_DT_GGML_Q4_0) L.offA = t < 3 ? 4 + 4 * t : 16, L.offB = 0;
    else L.offA = 4 + 4 * t, L.offB = t < 3 ? 20 + 4 * t : 32;
    L.sel = t < 3 ? 0x7654u : 0x5432u;
    float acc[MR][NB / 8][4];
#pragma unroll
    for (int r = 0; r < MR; r++)
#pragma unroll
        for (int j = 0; j < NB / 8; j++) acc[r][j][0] = acc[r][j][1] = acc[r][j][2] = acc[r][j][3] = 0.0f;
    uint32_t a[R][MR * U][2][4]; /* [set][row block x U + block of the unit][k16 half][register] */
#pragma unroll
    for (int s = 0; s < R; s++)
#pragma unroll
        for (int b = 0; b < MR * U; b++)
#pragma unroll
            for (int i = 0; i < 8; i++) a[s][b][i >> 2][i & 3] = DIAG == 1 ? 0x3C003C00u : 0u;
    uint32_t sink = 0; /* DIAG 2: keeps the decode */
    /* B descriptors: the high word fixed, the low word's start address moved by slot and k16 pair (32-bit adds) */
    const uint64_t desc0 = qn_wg_desc_sw128(sbase, 16, 1024);
    const uint32_t dlo = (uint32_t)desc0, dhi = (uint32_t)(desc0 >> 32);
    const uint8_t *abase = sm + Cfg::a_off + r0 * Cfg::arow; /* the lane's first row in A slot 0 */

    /* unit j (0 .. UPS - 1) of A slot sa: its U blocks into register set S */
    auto decode = [&](auto jc, auto sc, int sa) {
        constexpr int J = decltype(jc)::value, S = decltype(sc)::value;
        constexpr int NR = DIAG == 1 || DIAG == 3 ? 0 : MR; /* those decode nothing */
#pragma unroll
        for (int r = 0; r < NR; r++) {
            const uint8_t *row = abase + sa * Cfg::a_bytes + r * 64 * Cfg::arow;
            qn_rsi_block<DT, J * U>(row, L, t, a[S][r * U]);
            qn_rsi_block<DT, J * U + 1>(row, L, t, a[S][r * U + 1]);
            if constexpr (U == 4) {
                qn_rsi_block<DT, J * U + 2>(row, L, t, a[S][r * U + 2]);
                qn_rsi_block<DT, J * U + 3>(row, L, t, a[S][r * U + 3]);
            }
        }
        if (DIAG == 2) {
#pragma unroll
            for (int b = 0; b < MR * U; b++)
#pragma unroll
                for (int i = 0; i < 8; i++) sink ^= a[S][b][i >> 2][i & 3];
        }
    };
    /* keep the sets of the units still in flight where they are (the compiler sees each wgmma as done when issued) */
    auto keep_all = [&]() {
#pragma unroll
        for (int s = 0; s < R; s++)
#pragma unroll
            for (int b = 0; b < MR * U; b++) qn_wg_keep(a[s][b]);
#pragma unroll
        for (int r = 0; r < MR; r++) qn_wg_keep(acc[r]);
    };

    /* ring positions as running counters (a 64-bit % 7 costs ~20 instructions): bs / bph the next step's B slot and
     * phase, ps the previous unit's first B slot, sa / aph the A slot */
    int bs = 0, ps = 0, sa = 0;
    uint32_t bph = 0, aph = 0;
    /* CPS 2, thread 0: the next B slot to refill (step rb_i + SB into the slot step rb_i used) and A slot likewise */
    int rbs = 0, ras = 0;
    uint32_t rbph = 0, raph = 0;
    int64_t rb_i = 0;
    auto adv = [](int &slot, int n, uint32_t *ph) {
        if (++slot == n) {
            slot = 0;
            if (ph) *ph ^= 1u;
        }
    };
    qn_mbar_wait(afull(0), 0u);
    if (TR && trec && tid == 0) { /* word 0: the SM, and the block's 64-wide steps in the high half */
        unsigned sm;
        asm volatile("mov.u32 %0, %%smid;\n" : "=r"(sm));
        trec[0] = sm | (unsigned long long)(4 * nka) << 32;
        qn_rsi_stamp(trec, 1);
    }
    decode(std::integral_constant<int, 0>(), std::integral_constant<int, 0>(), 0);
    int64_t ka = 0;
    do { /* at least once (K >= 256): a loop that may run zero times makes ptxas serialize the wgmma */
        auto unit = [&](auto jc) {
            constexpr int J = decltype(jc)::value, S = J % R;
            (void)S; /* unused by DIAG 3 */
            const int s0 = bs; /* this unit's first B slot */
#pragma unroll
            for (int i = 0; i < SPU; i++) { /* its steps' activations */
                qn_mbar_wait(bfull(bs), bph);
                if (i + 1 < SPU) adv(bs, SB, &bph);
            }
            if (DIAG != 2) {
                qn_wg_fence();
                int sb = s0;
#pragma unroll
                for (int b = 0; b < U; b++) {
                    if (b == 2) adv(sb, SB, nullptr);
                    const uint32_t lo = dlo + (uint32_t)(sb * (Cfg::b_bytes >> 4) + 4 * (b & 1)); /* k16 pair */
                    if constexpr (DIAG == 3) { /* A: slab rows 64 x (the warpgroup) .. */
                        const uint32_t alo = lo + (NB >= 128 ? (uint32_t)(warp >> 2) * 512u : 0u);
                        qn_rsi_ss_mma<NB>(acc[0], (uint64_t)dhi << 32 | alo, (uint64_t)dhi << 32 | lo);
                        qn_rsi_ss_mma<NB>(acc[0], (uint64_t)dhi << 32 | (alo + 2u), (uint64_t)dhi << 32 | (lo + 2u));
                    } else {
#pragma unroll
                        for (int h = 0; h < 2; h++)
#pragma unroll
                            for (int r = 0; r < MR; r++)
                                qn_rs_mma<NB>(acc[r], a[S][r * U + b][h], (uint64_t)dhi << 32 | (lo + 2u * h));
                    }
                }
                qn_wg_commit();
                /* unit u - 1 is done: its register set and B slots are free (with two or more groups in flight ptxas
                 * serializes the wgmma, C7513, even where the registers written belong to a finished group) */
                qn_wg_wait<1>();
            }
            adv(bs, SB, &bph);
            keep_all();
            if (ka > 0 || J > 0) { /* unit u - 1's steps */
#pragma unroll
                for (int i = 0; i < SPU; i++) {
                    if constexpr (MC) { /* lane r releases the slot on block r: both fill it */
                        if (lane < 2) qn_mbar_arrive_cluster(qn_mapa(bempty(ps), (uint32_t)lane));
                    } else if (lane == 0) {
                        qn_mbar_arrive(bempty(ps));
                    }
                    adv(ps, SB, nullptr);
                }
                if (CPS == 2 && tid == 0) { /* refill those slots once every warp is done with them */
#pragma unroll
                    for (int i = 0; i < SPU; i++) {
                        qn_mbar_wait(bempty(rbs), rbph);
                        if (rb_i + SB < 4 * nka) load_b(rbs, rb_i + SB);
                        rb_i++;
                        adv(rbs, SB, &rbph);
                    }
                }
            }
            if (CPS == 2 && J == 1 && ka > 0 && tid == 0) { /* A slot of ka - 1, released during unit 0 */
                qn_mbar_wait(aempty(ras), raph);
                if (ka - 1 + SA < nka) load_a(ras, ka - 1 + SA);
                adv(ras, SA, &raph);
            }
            /* the next unit's decode: this slot's J + 1, or the next slot's first */
            if (J + 1 < UPS) {
                decode(std::integral_constant<int, (J + 1) % UPS>(), std::integral_constant<int, (J + 1) % R>(), sa);
                if (J + 1 == UPS - 1) { /* the warp's last reads of this slot are done */
                    __syncwarp();
                    if (lane == 0) qn_mbar_arrive(aempty(sa));
                }
            } else {
                adv(sa, SA, &aph);
                if (ka + 1 < nka) qn_mbar_wait(afull(sa), aph);
                decode(std::integral_constant<int, 0>(), std::integral_constant<int, (J + 1) % R>(), sa);
            }
        };
        unit(std::integral_constant<int, 0>());
        unit(std::integral_constant<int, 1>());
        if constexpr (UPS == 4) {
            unit(std::integral_constant<int, 2>());
            unit(std::integral_constant<int, 3>());
        }
    } while (++ka < nka);
    if (DIAG != 2) qn_wg_wait<0>();
    keep_all();
    if (TR && trec && tid == 0) qn_rsi_stamp(trec, 2);
    /* MC: this thread's remote arrivals are done (release); it waits for its peer's at the end, after its stores */
    if constexpr (MC) qn_rsi_cluster_arrive();
    if (DIAG == 2) acc[0][0][0] += __uint_as_float(sink & 0x007FFFFFu); /* a subnormal: the decode stays */
    qn_pdl_wait(); /* xscale and y: after the prep (passed long ago: every B slot came after it) */
    if constexpr (CL2) { /* mmq21: this block has half of K; warpgroup `rank` stores its rows, the other gives its sums */
        constexpr int NT = NB / 8;
        const int rank = (int)qn_cluster_rank(), tw = tid & 127;
        const bool owner = (warp >> 2) == rank;
        /* each half's partial as the global split stores it (acc x xscale[m], rounded once) and their sum as its reduce
         * adds them (one f32 add, commutative): the same bits as the default's split; _rn: no FMA contraction */
        const int64_t m0 = mt * NB + 2 * t;
#pragma unroll
        for (int j = 0; j < NT; j++)
#pragma unroll
            for (int c = 0; c < 2; c++) {
                const int64_t m = m0 + 8 * j + c;
                const float xs = m < p.M ? __ldg(p.xscale + m) : 0.0f;
                acc[0][j][c] = __fmul_rn(acc[0][j][c], xs), acc[0][j][2 + c] = __fmul_rn(acc[0][j][2 + c], xs);
            }
        asm volatile("bar.sync 1, 256;\n" ::: "memory"); /* both warpgroups' wgmma are done with the B ring */
        if constexpr (TOK) { /* V bit 128 (SPLITCL=3): block `rank` stores tokens 32 rank .. of the tile, every warpgroup */
            constexpr int H = NT / 2;
            float4 *red = reinterpret_cast<float4 *>(sm) + (warp >> 2) * H * 128; /* [warpgroup][H][128] */
            /* give the peer's half of the tokens (j in [H (1 - rank), + H)): constant indices in each branch */
            if (rank == 0) {
#pragma unroll
                for (int jj = 0; jj < H; jj++)
                    red[jj * 128 + tw] = make_float4(acc[0][H + jj][0], acc[0][H + jj][1], acc[0][H + jj][2], acc[0][H + jj][3]);
            } else {
#pragma unroll
                for (int jj = 0; jj < H; jj++)
                    red[jj * 128 + tw] = make_float4(acc[0][jj][0], acc[0][jj][1], acc[0][jj][2], acc[0][jj][3]);
            }
            qn_rsi_cluster_sync();
            const uint32_t peer = qn_mapa(qn_smem_u32(red), (uint32_t)(rank ^ 1)); /* its same warpgroup: our half */
            float4 w[H];
#pragma unroll
            for (int jj = 0; jj < H; jj++) w[jj] = qn_rsi_ld_cluster4(peer + 16u * (uint32_t)(jj * 128 + tw));
            auto add_store = [&](auto oc) {
                constexpr int O = decltype(oc)::value; /* the first token group of this block's half */
#pragma unroll
                for (int jj = 0; jj < H; jj++) {
                    acc[0][O + jj][0] = __fadd_rn(acc[0][O + jj][0], w[jj].x);
                    acc[0][O + jj][1] = __fadd_rn(acc[0][O + jj][1], w[jj].y);
                    acc[0][O + jj][2] = __fadd_rn(acc[0][O + jj][2], w[jj].z);
                    acc[0][O + jj][3] = __fadd_rn(acc[0][O + jj][3], w[jj].w);
                }
                qn_rsi_cluster_arrive(); /* this thread's reads of the peer are done */
                if (p.epi & 2) qn_pdl_launch();
                float (&h1)[1][H][4] = *reinterpret_cast<float (*)[1][H][4]>(&acc[0][O]);
                qn_gmmq_store_h<1, H, true>(p, h1, nt * Cfg::BN + rw, mt * NB + 8 * O, g, t);
            };
            if (rank == 0) add_store(std::integral_constant<int, 0>());
            else add_store(std::integral_constant<int, H>());
            qn_rsi_cluster_wait();
            return;
        }
        float4 *red = reinterpret_cast<float4 *>(sm); /* [NT][128]: a warpgroup's sums, thread-major (no conflicts) */
        if (!owner)
#pragma unroll
            for (int j = 0; j < NT; j++) red[j * 128 + tw] = make_float4(acc[0][j][0], acc[0][j][1], acc[0][j][2], acc[0][j][3]);
        qn_rsi_cluster_sync(); /* the givers' sums visible to the cluster */
        if (owner) { /* the peer's giver is its warpgroup `rank` too: the same rows, the same lane layout */
            const uint32_t peer = qn_mapa(qn_smem_u32(red), (uint32_t)(rank ^ 1));
            float4 w[NT];
#pragma unroll
            for (int j = 0; j < NT; j++) w[j] = qn_rsi_ld_cluster4(peer + 16u * (uint32_t)(j * 128 + tw));
#pragma unroll
            for (int j = 0; j < NT; j++) {
                acc[0][j][0] = __fadd_rn(acc[0][j][0], w[j].x), acc[0][j][1] = __fadd_rn(acc[0][j][1], w[j].y);
                acc[0][j][2] = __fadd_rn(acc[0][j][2], w[j].z), acc[0][j][3] = __fadd_rn(acc[0][j][3], w[j].w);
            }
        }
        qn_rsi_cluster_arrive(); /* this thread's reads of the peer are done (release); its stores need no cluster */
        if (p.epi & 2) qn_pdl_launch();
        if (owner) {
            float (&acc1)[1][NT][4] = *reinterpret_cast<float (*)[1][NT][4]>(&acc[0]);
            qn_gmmq_store_h<1, NT, true>(p, acc1, nt * Cfg::BN + rw, mt * NB, g, t);
            if (TR && trec && tid == 128 * rank) qn_rsi_stamp(trec, 3);
        }
        qn_rsi_cluster_wait(); /* no block leaves while its peer may still read its sums */
        return;
    }
    if constexpr ((V & 4) != 0) { /* split K over the cluster: the sums through distributed shared memory */
        float *red = reinterpret_cast<float *>(sm);
        constexpr int P = Cfg::red_pitch;
        asm volatile("bar.sync 1, 256;\n" ::: "memory"); /* both warpgroups' wgmma are done with the B ring */
#pragma unroll
        for (int j = 0; j < NB / 8; j++)
#pragma unroll
            for (int i = 0; i < 4; i++) /* acc[j][2 hh + c]: row rw + g + 8 hh, token 8 j + 2 t + c */
                red[(8 * j + 2 * t + (i & 1)) * P + rw + g + 8 * (i >> 1)] = acc[0][j][i];
        qn_rsi_cluster_sync();
        /* block `rank` adds rows rank * rows .. + rows - 1 of every token; 4 elements a thread a trip, all of their
         * ns x 4 distributed loads issued before the first add (one round trip a trip, not ns x 4) */
        const int ns = (int)gridDim.z, rank = (int)qn_cluster_rank(), rows = QN_RSI_BN / ns; /* 64, 32, 16 */
        const uint32_t rbase = qn_smem_u32(red);
        for (int e0 = tid; e0 < NB * rows; e0 += 4 * 256) { /* NB x rows: a multiple of 1024 */
            float w[8][4];
#pragma unroll
            for (int r = 0; r < 8; r++)
#pragma unroll
                for (int u = 0; u < 4; u++) {
                    const int e = e0 + 256 * u, ml = e / rows, nl = rank * rows + e % rows;
                    w[r][u] = r < ns ? qn_rsi_ld_cluster(qn_mapa(rbase + 4u * (uint32_t)(ml * P + nl), (uint32_t)r)) : 0.0f;
                }
#pragma unroll
            for (int u = 0; u < 4; u++) {
                const int e = e0 + 256 * u, ml = e / rows, nl = rank * rows + e % rows;
                const int64_t m = mt * NB + ml, n = nt * QN_RSI_BN + nl;
                float v = w[0][u]; /* in rank order: the same sums whichever block finishes first */
#pragma unroll
                for (int r = 1; r < 8; r++)
                    if (r < ns) v += w[r][u];
                if (m < p.M && n < p.N) qn_st(p.yd, p.y, m * p.N + n, v * p.xscale[m]);
            }
        }
        qn_rsi_cluster_sync(); /* no block leaves while another reads its sums */
        return;
    }
    qn_gmmq_args q = p;
    if (gridDim.z > 1) /* this split's f32 partial sums (scaled) for the reduce */
        q.yd = QN_DT_F32, q.y = part + (size_t)blockIdx.z * (size_t)p.M * (size_t)p.N;
    /* mmq20 (QUANTA_CUDA_GGML_EPI): the kernel after this one (the split's reduce; with 2, whatever follows) may launch
     * now: its griddepcontrol.wait still waits for this grid to finish and its stores to be visible */
    if (EPI && ((p.epi & 2) || gridDim.z > 1)) qn_pdl_launch();
#pragma unroll
    for (int r = 0; r < MR; r++) {
        float (&acc1)[1][NB / 8][4] = *reinterpret_cast<float (*)[1][NB / 8][4]>(&acc[r]);
        if constexpr (EPI) qn_gmmq_store_h<1, NB / 8>(q, acc1, nt * Cfg::BN + rw + 64 * r, mt * NB, g, t);
        else qn_gmmq_store<1, NB / 8>(q, acc1, nt * Cfg::BN + rw + 64 * r, mt * NB, g, t);
    }
    if (TR && trec && tid == 0) qn_rsi_stamp(trec, 3);
    if constexpr (MC) qn_rsi_cluster_wait();
}
#endif

template <int DT, int NB, int U, int DIAG, int CPS, int V>
__global__ void __launch_bounds__(CPS == 1 ? 384 : 256, CPS)
    qn_k_ggml_mmq_rsi(const __grid_constant__ CUtensorMap amap, qn_gmmq_args p, float *part) {
#if QN_RSI_HAVE
    qn_rsi_body<DT, NB, U, DIAG, CPS, V>(&amap, p, part, 0);
#else
    (void)amap, (void)p, (void)part;
    __trap(); /* compiled for sm_90a only; the host launches it only on compute capability 9.0 */
#endif
}

/* mmq22 (QUANTA_CUDA_GGML_GROUP): the GEMMs of one x whose weights share format and K (q / k / v, gate / up) as one
 * grid: the weights stay separate tensors, each with its tensor map, its y and its N here; the grid's weight tiles
 * are theirs one after another (t1[i]: the grid's first tile past weight i). A block finds its weight from the block
 * order's tile and runs the body on that weight's map, y and N with its own tile index: each output tile the same
 * K loop, epilogue and stores as the separate launch of the same instance makes (the same bits). */
#define QN_RSI_GRP_MAX 3
struct qn_rsi_grp {
    CUtensorMap map[QN_RSI_GRP_MAX];
    void *y[QN_RSI_GRP_MAX];
    int64_t N[QN_RSI_GRP_MAX], t1[QN_RSI_GRP_MAX];
};
template <int DT, int NB, int U, int DIAG, int CPS, int V>
__global__ void __launch_bounds__(CPS == 1 ? 384 : 256, CPS)
    qn_k_ggml_mmq_rsi_grp(const __grid_constant__ qn_rsi_grp G, qn_gmmq_args p0, float *part) {
#if QN_RSI_HAVE
    int64_t nt, mt;
    qn_rsi_order(nt, mt);
    const int w = nt < G.t1[0] ? 0 : nt < G.t1[1] ? 1 : 2;
    qn_gmmq_args p = p0;
    p.y = G.y[w], p.N = G.N[w];
    qn_rsi_body<DT, NB, U, DIAG, CPS, V>(&G.map[w], p, part, w ? G.t1[w - 1] : 0);
#else
    (void)G, (void)p0, (void)part;
    __trap();
#endif
}

/* QUANTA_CUDA_GGML_PDL (mmq16; on unless =0): the GEMM launched as a programmatic dependent of the activation prep
 * (which lets it launch at its start), so the GEMM's blocks take the SMs the prep's last wave frees and set up, and the
 * producer issues the weight's first TMA boxes, before griddepcontrol.wait. The same bits. On since the H100 call of
 * 00:11: 1.02-1.09x on 10 of the 12 kernel rows at M = 512 / 2048, 1.00 on the other two, maxdiff 0, conformance of
 * the table's picks 18/0. */
int qn_cuda_ggml_mmq_pdl = -1;
static bool qn_rsi_pdl() {
    if (qn_cuda_ggml_mmq_pdl < 0) {
        const char *e = getenv("QUANTA_CUDA_GGML_PDL");
        qn_cuda_ggml_mmq_pdl = !(e && !strcmp(e, "0"));
    }
    return qn_cuda_ggml_mmq_pdl == 1;
}

/* V bit 256 (mmq22): the grouped kernel (qn_k_ggml_mmq_rsi_grp) over G's weights, gtiles weight tiles in all; no
 * split but the cluster pair's (the partial sums of a global split would need a reduce per weight). */
template <int DT, int NB, int U, int DIAG, int CPS = 1, int V = 0>
static int qn_rsi_launch(const CUtensorMap &m, const qn_gmmq_args &a, cudaStream_t s, int splits, float *part,
                         const qn_rsi_grp *G = nullptr, int64_t gtiles = 0) {
    typedef qn_rsi_cfg<DT, NB, CPS, V> Cfg;
    constexpr bool GRP = (V & 256) != 0;
    static bool attr_set = false;
    auto k = [] {
        if constexpr (GRP) return qn_k_ggml_mmq_rsi_grp<DT, NB, U, DIAG, CPS, V>;
        else return qn_k_ggml_mmq_rsi<DT, NB, U, DIAG, CPS, V>;
    }();
    if (GRP && (!G || (splits > 1 && !(V & 16)))) return (int)cudaErrorInvalidValue;
    if (!attr_set) {
        cudaError_t e = cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, Cfg::smem + 1024);
        if (e != cudaSuccess) return (int)e;
        attr_set = true;
    }
    const int64_t gx = GRP ? gtiles : (a.N + Cfg::BN - 1) / Cfg::BN, gy = (a.M + NB - 1) / NB;
    if (gx > 0x7fffffff || gy > 65535 || ((V & 512) && (gx & 1))) return (int)cudaErrorInvalidValue;
    const dim3 grid((unsigned)gx, (unsigned)gy, (unsigned)splits);
    if (qn_rsi_pdl() || (V & 532)) {
        cudaLaunchConfig_t lc = {};
        cudaLaunchAttribute at[2];
        int na = 0;
        if (qn_rsi_pdl()) {
            at[na].id = cudaLaunchAttributeProgrammaticStreamSerialization;
            at[na++].val.programmaticStreamSerializationAllowed = 1;
        }
        if (V & 20) { /* the splits of a tile: one cluster */
            at[na].id = cudaLaunchAttributeClusterDimension;
            at[na].val.clusterDim.x = 1, at[na].val.clusterDim.y = 1, at[na++].val.clusterDim.z = (unsigned)splits;
        } else if (V & 512) { /* mmq23: weight tiles 2c, 2c + 1 of a token tile (gx even: qn_rsi_order pairs them) */
            at[na].id = cudaLaunchAttributeClusterDimension;
            at[na].val.clusterDim.x = 2, at[na].val.clusterDim.y = 1, at[na++].val.clusterDim.z = 1;
        }
        lc.gridDim = grid, lc.blockDim = dim3(Cfg::threads), lc.dynamicSmemBytes = Cfg::smem + 1024, lc.stream = s;
        lc.attrs = at, lc.numAttrs = (unsigned)na;
        cudaError_t le;
        if constexpr (GRP) le = cudaLaunchKernelEx(&lc, k, *G, a, part);
        else le = cudaLaunchKernelEx(&lc, k, m, a, part);
        if (le != cudaSuccess) return (int)le;
    } else {
        if constexpr (GRP) k<<<grid, Cfg::threads, Cfg::smem + 1024, s>>>(*G, a, part);
        else k<<<grid, Cfg::threads, Cfg::smem + 1024, s>>>(m, a, part);
    }
    const int e = qn_cu_launch_status();
    if (e || splits == 1 || (V & 20)) return e; /* clusters: no reduce */
    /* the reduce as the GEMM's programmatic dependent where the GEMM lets it launch early (a.epi: its consumers trigger
     * at their epilogue; not under QUANTA_CUDA_GGML_PDL=0) */
    return qn_gmmq_rs_reduce(part, splits, a.M * a.N, a.yd, a.y, s, (V & 8) != 0 && qn_rsi_pdl());
}

/* Forced tiles (QUANTA_CUDA_GGML_MMQ_TILE): rsi128x128 / rsi128x64 (one step per commit group), rsi128x128g2 (two),
 * rsi128x256 (256 tokens: m64n256k16, 128 accumulators a consumer thread), rsi2c128x64 (128x64 tiles, two blocks per
 * SM: cfg's CPS 2), rsidiag0 / rsidiag1 (the diagnostic forms, 128 or 64 tokens), rsisplit (the auto tile, K split
 * where the tiles make fewer than ~128 blocks: =16's rule and scratch); mmq16's: rsi128x256g2 (256 tokens, two steps
 * per commit group), rsi128x256a2 (256 tokens, cfg's V 1: 2 A slots, a deeper B ring), rsidiag256 (rsidiag0's form
 * on 256 tokens), rsiss (DIAG 3 on the auto tile's tokens: SS wgmma, the data path's ceiling), rsisplit128 (128 tokens,
 * two steps per commit group, K split by =16's rule: the k/v shapes at 128 blocks of a quarter of K each), rsinocopy (DIAG 4
 * on the auto tile: decode and wgmma on the rings' first fill, no further copies: the consumers' ceiling), rsi256x128 /
 * rsi256x64 (cfg's V 2: 256 weight rows a tile); mmq17's: rsic128 / rsic64 / rsic256 (128 / 64 / 256 tokens, K split
 * over a cluster by qn_rsi_csplits, cfg's V 4; forced only: H100 2026-12-07 06:40 0.66–1.0x the auto pick on the k/v and
 * M = 256 shapes, so no route takes them). Otherwise =16's table
 * (qn_rsi_go), split K where QN_RSI_SPLIT_DEFAULT. */
#define QN_RSI_SPLIT_DEFAULT 1
/* The cluster's split count for nb-token tiles: about 128 blocks, a power of two (the epilogue's row slices) up to 8,
 * each split at least 512 of K; 1: no split. */
static int qn_rsi_csplits(int64_t M, int64_t N, int64_t K, int nb) {
    const int64_t tiles = (N + QN_RSI_BN - 1) / QN_RSI_BN * ((M + nb - 1) / nb), KA = K / QN_RSI_KA;
    int sp = 1;
    while (sp < 8 && tiles * sp * 2 <= 160 && KA / (sp * 2) >= 2) sp *= 2;
    return sp;
}
/* QUANTA_CUDA_GGML_SPLIT128 (mmq20, off): see qn_rsi_go; -1 (the start): read at the first call. */
int qn_cuda_ggml_mmq_split128 = -1;
static bool qn_rsi_split128() {
    if (qn_cuda_ggml_mmq_split128 < 0) {
        const char *e = getenv("QUANTA_CUDA_GGML_SPLIT128");
        qn_cuda_ggml_mmq_split128 = e && !strcmp(e, "1");
    }
    return qn_cuda_ggml_mmq_split128 == 1;
}
/* QUANTA_CUDA_GGML_SPLITCL (mmq21; the same bits): see qn_rsi_go; 0 off, 1 one step a commit group (the table's 64-token
 * tile), 2 two (the default), 3 as 2 with the pair's halves split by tokens (every warpgroup stores a quarter of the
 * tile, not one of each pair's half: unmeasured); -1 (the start): read at the first call. */
/* The value when QUANTA_CUDA_GGML_SPLITCL is unset (=0 turns it off): 2 since the H100 call of 15:09 (verify_mmq21.sh;
 * maxdiff 0, perplexity equal, conformance of the split picks): k/v 512 x 1024 x 4096 GEMM alone q4_0 16.3 -> 14.7 µs,
 * q8_0 17.6 -> 17.0 (=1: 14.8 / 16.9). */
#define QN_RSI_SPLITCL_DEFAULT 2
int qn_cuda_ggml_mmq_splitcl = -1;
static bool qn_rsi_splitcl() {
    if (qn_cuda_ggml_mmq_splitcl < 0) {
        const char *e = getenv("QUANTA_CUDA_GGML_SPLITCL");
        const int v = e && *e ? atoi(e) : QN_RSI_SPLITCL_DEFAULT;
        qn_cuda_ggml_mmq_splitcl = v >= 0 && v <= 3 ? v : 0;
    }
    return qn_cuda_ggml_mmq_splitcl >= 1 && qn_cuda_ggml_mmq_splitcl <= 3;
}
/* QUANTA_CUDA_GGML_PLOOP (mmq21; the same bits: the same copies in the same order): the EPI instances with the
 * producer's first fills in a loop of their own (cfg V bit 32; see the kernel). 0 off; 1 on every EPI pick; 2 the
 * diagnostic (V bit 64: the old producer thread); 3 (the default, unset) on the 128-token picks only, and those take
 * the EPI instances for one wave with K > 8192 too. H100 call of 15:09 (verify_mmq21.sh, maxdiff 0 on every row,
 * perplexity equal): 128-token picks 512 x 4096 x 4096 q4_0 27.9 -> 27.2 µs, q8_0 32.7 -> 31.8; 512 x 4096 x 14336
 * with EPI=7 86.9 / 102.0 against the old instances' 89.2 / 103.0 (the K > 8192 exception's reason gone there); but the
 * 256-token picks +0.3-1.2% (512 x 14336 x 4096, M = 2048): not there. 4: as 3, and the 64-token picks (the k/v
 * cluster split included; unmeasured there: PLOOP=1 on k/v's global split was 0.5-1% faster). -1: read at the first
 * call. */
#define QN_RSI_PLOOP_DEFAULT 3
int qn_cuda_ggml_mmq_ploop = -1;
static int qn_rsi_ploop() {
    if (qn_cuda_ggml_mmq_ploop < 0) {
        const char *e = getenv("QUANTA_CUDA_GGML_PLOOP");
        const int v = e && *e ? atoi(e) : QN_RSI_PLOOP_DEFAULT;
        qn_cuda_ggml_mmq_ploop = v >= 0 && v <= 4 ? v : QN_RSI_PLOOP_DEFAULT;
    }
    return qn_cuda_ggml_mmq_ploop;
}
/* QUANTA_CUDA_GGML_PAIRX (mmq23; off; the same bits): 1, the 128-token unsplit pick with PLOOP's producer (the
 * default's 512 x 4096 x K rows), 2, also the 256-token picks (512 x 14336 x 4096, M = 2048: 32 KB of activations a
 * step against 4.6 / 8.7 KB of weights), as cluster pairs along the weight rows that multicast the activation steps
 * (cfg V bit 512): half the slab's L2 reads. mmq22's diagnostic rows (H100 19:06) put q8_0's extra time a step with the bytes coming in
 * (rsidiag0 keeps the q8_0 - q4_0 gap, rsinocopy drops ~60% of it); at ~7.6 TB/s of L2 -> SM traffic on 128 SMs the
 * steady state sits near L2's rate. Where the weight tiles are odd in number, or no pair fits, the default's launch.
 * -1 (the start): read at the first call. */
int qn_cuda_ggml_mmq_pairx = -1;
static int qn_rsi_pairx() {
    if (qn_cuda_ggml_mmq_pairx < 0) {
        const char *e = getenv("QUANTA_CUDA_GGML_PAIRX");
        const int v = e && *e ? atoi(e) : 0;
        qn_cuda_ggml_mmq_pairx = v >= 0 && v <= 2 ? v : 0;
    }
    return qn_cuda_ggml_mmq_pairx;
}
/* QUANTA_CUDA_GGML_TLIN (mmq24; off; the same bits): 1, where the caller passes the weight's tile-linear copy (a.wt),
 * the default's 128-token pick with PLOOP's producer, its 256-token pick and its 64-token cluster pair (SPLITCL=2)
 * copy each A slot from that copy in one linear bulk copy (cfg V bit 1024); other picks as before. -1 (the start):
 * read at the first call. */
int qn_cuda_ggml_mmq_tlin = -1;
unsigned long long *qn_cuda_ggml_mmq_trace = nullptr; /* mmq24: see cuda_kernels.h */
int qn_cuda_ggml_mmq_trace128 = 0;
static bool qn_rsi_tlin() {
    if (qn_cuda_ggml_mmq_tlin < 0) {
        const char *e = getenv("QUANTA_CUDA_GGML_TLIN");
        qn_cuda_ggml_mmq_tlin = e && !strcmp(e, "1");
    }
    return qn_cuda_ggml_mmq_tlin == 1;
}
/* Two steps per commit group on the 128-token tile of the auto pick (as =16's table; rsi128x128 forces one step). */
#define QN_RSI_G2_DEFAULT 1
/* =16's shape table: 256 tokens where those tiles (rows weight tiles of 128) cover about 3/4 of the SMs, else 128, else
 * 64 (split K). */
static int qn_rsi_table_nb(int64_t M, int64_t rows, int sms) {
    const int64_t want = (int64_t)(sms > 0 ? sms : 132) * 3 / 4;
    return rows * ((M + 255) / 256) >= want ? 256 : rows * ((M + 127) / 128) >= want ? 128 : 64;
}
/* a.epi for a grid of `blocks` blocks: with bit 8 (the default, QUANTA_CUDA_GGML_EPI unset) the EPI instances but where
 * their K loop costs more than their epilogue saves — one wave of tiles with K > 8192 (H100 12:37: their steps ~5%
 * slower, 0.376 vs 0.354 µs at 512 x 4096 x K, their fixed part 4.9 vs 10.6 µs; 512 x 4096 x 14336 q8_0 104.5 vs 102.0
 * µs) — unless PLOOP's instances take the 128-token pick there (mmq21). */
static int qn_rsi_epi_rule(int epi, int64_t blocks, int64_t K, int sms, int nb, bool s128) {
    if (!(epi & 8)) return epi;
    const bool pl128 = qn_rsi_ploop() >= 3 && nb == 128 && !s128;
    return blocks <= (sms > 0 ? sms : 132) && K > 8192 && !pl128 ? 0 : epi & 7;
}
template <int DT> static int qn_rsi_go(const qn_gmmq_args &a0, int x_dtype, const void *x, int sms, float *part,
                                       size_t part_bytes, cudaStream_t s, int *xhave) {
    typedef qn_rsi_cfg<DT, 128> Cfg;
    qn_gmmq_args a = a0; /* a.epi may be settled below (the default's rule) */
    CUtensorMap m;
    if (qn_tma_encode_2d(&m, CU_TENSOR_MAP_DATA_TYPE_UINT16, a.w, (uint64_t)(a.rb / 2), (uint64_t)a.N, (uint64_t)a.rb,
                         Cfg::arow / 2, QN_RSI_BN, CU_TENSOR_MAP_SWIZZLE_NONE))
        return -1;
    const int ft = qn_gmmq_forced_tile();
    /* =16's shape table: 256 tokens where those tiles cover about 3/4 of the SMs, else 128, else 64 (split K) */
    const int64_t rows = (a.N + QN_RSI_BN - 1) / QN_RSI_BN;
    int nb = qn_rsi_table_nb(a.M, rows, sms);
    if (ft == 24 || ft == 26 || ((ft == 27 || ft == 28) && nb == 256)) nb = 128;
    if (ft == 25 || ft == 30) nb = 64;
    if (ft == 36 || ft == 38) nb = 128;
    if (ft == 39 || ft == 41) nb = 64;
    if (ft == 40) nb = 128;
    if (ft == 42) nb = 256;
    if (ft == 43 || ft == 44) nb = 128; /* mmq23's diagnostics: the 128-token tile on any grid */
    const bool tr128 = ft == 0 && qn_cuda_ggml_mmq_trace && qn_cuda_ggml_mmq_trace128 == 1; /* mmq24's trace rows */
    if (tr128) nb = 128;
    if (ft >= 31 && ft <= 34) nb = 256;
    /* mmq20 (QUANTA_CUDA_GGML_SPLIT128=1): where the table takes 64-token tiles with K split (the k/v shapes at M = 512)
     * and 128-token tiles split by the same rule still make ~128 blocks, take those (two steps a group, rsisplit128's
     * kernel): half the decode per flop, a step of 128x128 at ~0.35 µs against 0.28 for 128x64 (06:40 rows), for twice
     * the partial sums. Other sums (more splits), so a switch with conformance's bound. */
    bool s128 = false;
    if (ft == 0 && nb == 64 && QN_RSI_SPLIT_DEFAULT && qn_rsi_split128()) {
        const int sp64 = qn_gmmq_rs_splits_rule(a.M, a.N, a.K, 64), sp128 = qn_gmmq_rs_splits_rule(a.M, a.N, a.K, 128);
        const int64_t t128 = rows * ((a.M + 127) / 128);
        s128 = sp64 > 1 && sp128 > 1 && t128 * sp128 >= 120 && part &&
               part_bytes >= (size_t)sp128 * (size_t)a.M * (size_t)a.N * 4;
        if (s128) nb = 128;
    }
    const int perm = DT == QN_DT_GGML_Q4_0 ? 1 : 2;
    if (qn_cuda_ggml_mmq_noprep != 1 && !(xhave && *xhave == perm)) { /* a kept prep of this x in this order: none */
        const int e = qn_gmmq_prep_xt(x_dtype, x, a, a.xnb ? a.xnb : nb, true, s, perm);
        if (xhave) *xhave = e ? 0 : perm;
        if (e || qn_cuda_ggml_mmq_noprep == 2) return e; /* 2: a benchmark times the prep alone */
    }
    int sp = (QN_RSI_SPLIT_DEFAULT && ft == 0) || ft == 29 || ft == 36 ? qn_gmmq_rs_splits_rule(a.M, a.N, a.K, nb) : 1;
    if (sp > 1 && (nb > 128 || !part || part_bytes < (size_t)sp * (size_t)a.M * (size_t)a.N * 4)) sp = 1;
    if (tr128) sp = 1;
    a.epi = qn_rsi_epi_rule(a.epi, rows * ((a.M + nb - 1) / nb) * sp, a.K, sms, nb, s128);
    switch (ft) {
    case 24: return qn_rsi_launch<DT, 128, 2, 0>(m, a, s, 1, part);
    case 25: return qn_rsi_launch<DT, 64, 2, 0>(m, a, s, 1, part);
    case 26: return qn_rsi_launch<DT, 128, 4, 0>(m, a, s, 1, part);
    case 27: return nb == 128 ? qn_rsi_launch<DT, 128, 2, 1>(m, a, s, 1, part) : qn_rsi_launch<DT, 64, 2, 1>(m, a, s, 1, part);
    case 28: return nb == 128 ? qn_rsi_launch<DT, 128, 2, 2>(m, a, s, 1, part) : qn_rsi_launch<DT, 64, 2, 2>(m, a, s, 1, part);
    case 30: return qn_rsi_launch<DT, 64, 2, 0, 2>(m, a, s, 1, part);
    case 31: return qn_rsi_launch<DT, 256, 2, 0>(m, a, s, 1, part);
    case 32: return qn_rsi_launch<DT, 256, 4, 0>(m, a, s, 1, part);
    case 33: return qn_rsi_launch<DT, 256, 2, 0, 1, 1>(m, a, s, 1, part);
    case 34: return qn_rsi_launch<DT, 256, 2, 1>(m, a, s, 1, part);
    case 35:
        return nb == 256   ? qn_rsi_launch<DT, 256, 2, 3>(m, a, s, 1, part)
               : nb == 128 ? qn_rsi_launch<DT, 128, 4, 3>(m, a, s, 1, part)
                           : qn_rsi_launch<DT, 64, 2, 3>(m, a, s, 1, part);
    case 36:
        return a.epi & 1 ? qn_rsi_launch<DT, 128, 4, 0, 1, 8>(m, a, s, sp, part)
                         : qn_rsi_launch<DT, 128, 4, 0>(m, a, s, sp, part);
    case 38: return qn_rsi_launch<DT, 128, 2, 0, 1, 2>(m, a, s, 1, part);
    case 39: return qn_rsi_launch<DT, 64, 2, 0, 1, 2>(m, a, s, 1, part);
    case 37:
        return nb == 256   ? qn_rsi_launch<DT, 256, 2, 4>(m, a, s, 1, part)
               : nb == 128 ? qn_rsi_launch<DT, 128, 4, 4>(m, a, s, 1, part)
                           : qn_rsi_launch<DT, 64, 2, 4>(m, a, s, 1, part);
    case 40: return qn_rsi_launch<DT, 128, 4, 0, 1, 4>(m, a, s, qn_rsi_csplits(a.M, a.N, a.K, 128), part);
    case 41: return qn_rsi_launch<DT, 64, 2, 0, 1, 4>(m, a, s, qn_rsi_csplits(a.M, a.N, a.K, 64), part);
    case 42: return qn_rsi_launch<DT, 256, 2, 0, 1, 4>(m, a, s, qn_rsi_csplits(a.M, a.N, a.K, 256), part);
    /* mmq23: rsinocopy128 (decode and wgmma on the rings' first fill, no copies after it) and rsidiag128 (copies and
     * wgmma on constant A, no decode) on 128-token tiles whatever the grid: the same instances as rsinocopy / rsidiag0
     * take there, so one form on 32 / 64 / 128 blocks says which side slows when all SMs run (bench/NOTES.md, mmq23) */
    case 43: return qn_rsi_launch<DT, 128, 4, 4>(m, a, s, 1, part);
    case 44: return qn_rsi_launch<DT, 128, 2, 1>(m, a, s, 1, part);
    default: break;
    }
    if (s128 && sp > 1)
        return a.epi & 1 ? qn_rsi_launch<DT, 128, 4, 0, 1, 8>(m, a, s, sp, part)
                         : qn_rsi_launch<DT, 128, 4, 0>(m, a, s, sp, part);
    /* mmq21 (QUANTA_CUDA_GGML_SPLITCL=1): the table's 64-token tiles with K split in two (the 7B k/v shapes at M = 512)
     * as cluster pairs that add their halves in distributed shared memory (cfg V bit 16): no partial sums written and
     * read back through L2, no reduce launch. The same sums in the same order: the same bits. */
    const int plv = qn_rsi_ploop(); /* mmq21: the EPI instances with the producer loop split (cfg V bit 32) */
    const bool pl = plv == 1 || (plv >= 3 && nb == 128) || (plv == 4 && nb == 64);
    /* mmq24 (QUANTA_CUDA_GGML_TLIN=1): the default's three forms with their A slots from the tile-linear copy (not
     * with PAIRX, SPLITCL other than 2, PLOOP other than its default's form of each pick) */
    /* mmq24's trace (a diagnostic): the same two default forms, with TLIN's copy where that is on, as trace instances */
    if (qn_cuda_ggml_mmq_trace && ft == 0 && (a.epi & 1) && plv != 2 && qn_rsi_pairx() == 0) {
        a.trace = qn_cuda_ggml_mmq_trace;
        const bool tl = a.wt && qn_rsi_tlin();
        if (nb == 128 && sp == 1 && pl)
            return tl ? qn_rsi_launch<DT, 128, 4, 0, 1, 8 | 32 | 1024 | 4096>(m, a, s, 1, part)
                      : qn_rsi_launch<DT, 128, 4, 0, 1, 8 | 32 | 4096>(m, a, s, 1, part);
        if (nb == 64 && sp == 2 && !pl && qn_rsi_splitcl() && qn_cuda_ggml_mmq_splitcl == 2)
            return tl ? qn_rsi_launch<DT, 64, 4, 0, 1, 8 | 16 | 1024 | 4096>(m, a, s, 2, part)
                      : qn_rsi_launch<DT, 64, 4, 0, 1, 8 | 16 | 4096>(m, a, s, 2, part);
        a.trace = nullptr; /* any other pick: untraced */
    }
    if (a.wt && ft == 0 && (a.epi & 1) && plv != 2 && qn_rsi_pairx() == 0 && qn_rsi_tlin()) {
        if (nb == 128 && sp == 1 && pl) return qn_rsi_launch<DT, 128, 4, 0, 1, 8 | 32 | 1024>(m, a, s, 1, part);
        if (nb == 256 && !pl) return qn_rsi_launch<DT, 256, 2, 0, 1, 8 | 1024>(m, a, s, 1, part);
        if (nb == 64 && sp == 2 && !pl && qn_rsi_splitcl() && qn_cuda_ggml_mmq_splitcl == 2) {
            const int e = qn_rsi_launch<DT, 64, 4, 0, 1, 8 | 16 | 1024>(m, a, s, 2, part);
            if (e != (int)cudaErrorInvalidClusterSize && e != (int)cudaErrorLaunchOutOfResources) return e;
            (void)cudaGetLastError(); /* no pair fits: the default's fallback below */
        }
    }
    if (nb == 64 && sp == 2 && (a.epi & 1) && qn_rsi_splitcl()) {
        int e;
        if (qn_cuda_ggml_mmq_splitcl == 3) /* as 2, every warpgroup of the pair storing half the tokens */
            e = pl ? qn_rsi_launch<DT, 64, 4, 0, 1, 8 | 16 | 32 | 128>(m, a, s, 2, part)
                   : qn_rsi_launch<DT, 64, 4, 0, 1, 8 | 16 | 128>(m, a, s, 2, part);
        else if (qn_cuda_ggml_mmq_splitcl == 2) /* two steps a commit group (as the 128-token pick): the same sums */
            e = pl ? qn_rsi_launch<DT, 64, 4, 0, 1, 8 | 16 | 32>(m, a, s, 2, part)
                   : qn_rsi_launch<DT, 64, 4, 0, 1, 8 | 16>(m, a, s, 2, part);
        else
            e = pl ? qn_rsi_launch<DT, 64, 2, 0, 1, 8 | 16 | 32>(m, a, s, 2, part)
                   : qn_rsi_launch<DT, 64, 2, 0, 1, 8 | 16>(m, a, s, 2, part);
        if (e != (int)cudaErrorInvalidClusterSize && e != (int)cudaErrorLaunchOutOfResources) return e;
        (void)cudaGetLastError(); /* a launch error, not sticky: no pair fits (a partitioned GPU): the global split */
    }
    /* mmq23 (QUANTA_CUDA_GGML_PAIRX): the 128-token pick with PLOOP's producer (1, 2) and the 256-token one without it
     * (2) as pairs multicasting the slab; any other form (PLOOP=1 on 256 tokens, =0 on 128, =2) as before */
    const int px = qn_rsi_pairx();
    if (px >= 1 && ft == 0 && sp == 1 && QN_RSI_G2_DEFAULT && (a.epi & 1) && plv != 2 && (rows & 1) == 0 &&
        ((nb == 128 && pl) || (nb == 256 && !pl && px == 2))) {
        const int e = nb == 128 ? qn_rsi_launch<DT, 128, 4, 0, 1, 8 | 32 | 512>(m, a, s, 1, part)
                                : qn_rsi_launch<DT, 256, 2, 0, 1, 8 | 512>(m, a, s, 1, part);
        if (e != (int)cudaErrorInvalidClusterSize && e != (int)cudaErrorLaunchOutOfResources) return e;
        (void)cudaGetLastError(); /* no pair fits (a partitioned GPU): the default's launch */
    }
    auto epi_go = [&](auto vc) { /* mmq20: the same picks with the EPI epilogue (V bit 8) */
        constexpr int VE = decltype(vc)::value;
        if (nb == 256) return qn_rsi_launch<DT, 256, 2, 0, 1, VE>(m, a, s, 1, part);
        if (nb == 128 && sp == 1 && QN_RSI_G2_DEFAULT) return qn_rsi_launch<DT, 128, 4, 0, 1, VE>(m, a, s, 1, part);
        return nb == 128 ? qn_rsi_launch<DT, 128, 2, 0, 1, VE>(m, a, s, sp, part)
                         : qn_rsi_launch<DT, 64, 2, 0, 1, VE>(m, a, s, sp, part);
    };
    if (a.epi & 1)
        return plv == 2 ? epi_go(std::integral_constant<int, 8 | 64>())
               : pl                        ? epi_go(std::integral_constant<int, 8 | 32>())
                                           : epi_go(std::integral_constant<int, 8>());
    if (nb == 256) return qn_rsi_launch<DT, 256, 2, 0>(m, a, s, 1, part);
    if (nb == 128 && sp == 1 && QN_RSI_G2_DEFAULT) return qn_rsi_launch<DT, 128, 4, 0>(m, a, s, 1, part);
    return nb == 128 ? qn_rsi_launch<DT, 128, 2, 0>(m, a, s, sp, part) : qn_rsi_launch<DT, 64, 2, 0>(m, a, s, sp, part);
}

/* mmq22: the GEMMs of x with n (2..3) weights of one format and K (w[i]: N[i] rows, into y[i]) as one grid
 * (qn_k_ggml_mmq_rsi_grp), a0 the common arguments (M, K, the prep's place, y's type). mode 1 and 3: weights of one N
 * only (k / v, gate / up), each output the same bits as its separate launch: the K split each weight takes alone (the
 * sums depend on it: how K is cut and the halves added) — and with 1 the tile's tokens by the table's rule on the whole
 * grid with that split (k + v at M = 512, split in two: 128-token tiles, 16 x 4 x 2 = 128 blocks in one round, where
 * each alone takes 64-token tiles, 128 blocks each); 3 the tile each takes alone too (k + v: 256 blocks of 64-token
 * pairs, two rounds). A tile's token count does not change a product's bits: wgmma sums each output over k16 in K
 * order whatever the instruction's N (=16's tables, 64 / 128 / 256 tokens, were bit-equal to kernel 7's outputs on all
 * 16 rows of the H100 call of 2026-12-06 17:13; verify_mmq22.sh's grp rows check maxdiff 0 against the separate
 * launches). mode 2: the table's pick for all the weights' tiles together, its split included (k + v at M = 512: 128
 * tiles of 128x64, no split: other sums). -1 (nothing launched, no prep) where the pick is not one of the grouped
 * instances: the caller then launches them one by one. */
template <int DT> static int qn_rsi_go_grp(const qn_gmmq_args &a0, int n, const void *const *w, const int64_t *N,
                                           void *const *y, int mode, int x_dtype, const void *x, int sms, float *part,
                                           size_t part_bytes, cudaStream_t s, int *xhave) {
    typedef qn_rsi_cfg<DT, 128> Cfg;
    if (n < 2 || n > QN_RSI_GRP_MAX || mode < 1 || mode > 4 || qn_gmmq_forced_tile() != 0 || qn_rsi_split128() ||
        qn_rsi_ploop() == 2)
        return -1;
    qn_rsi_grp G;
    memset(&G, 0, sizeof G);
    int64_t tiles = 0;
    for (int i = 0; i < n; i++) {
        if (mode != 2 && N[i] != N[0]) return -1;
        if (((uintptr_t)w[i] & 15) || N[i] > 0x7fffffff || N[i] <= 0) return -1;
        if (qn_tma_encode_2d(&G.map[i], CU_TENSOR_MAP_DATA_TYPE_UINT16, w[i], (uint64_t)(a0.rb / 2), (uint64_t)N[i],
                             (uint64_t)a0.rb, Cfg::arow / 2, QN_RSI_BN, CU_TENSOR_MAP_SWIZZLE_NONE))
            return -1;
        tiles += (N[i] + QN_RSI_BN - 1) / QN_RSI_BN;
        G.y[i] = y[i], G.N[i] = N[i], G.t1[i] = tiles;
    }
    for (int i = n; i < QN_RSI_GRP_MAX; i++) G.t1[i] = tiles; /* never past the last weight */
    if (tiles > 0x7fffffff) return -1;
    qn_gmmq_args a = a0;
    a.N = mode == 2 ? tiles * QN_RSI_BN : N[0]; /* the split's N (the launch takes each weight's from G) */
    a.w = (const uint8_t *)w[0], a.y = y[0];
    int nb = qn_rsi_table_nb(a.M, (a.N + QN_RSI_BN - 1) / QN_RSI_BN, sms);
    int sp = QN_RSI_SPLIT_DEFAULT ? qn_gmmq_rs_splits_rule(a.M, a.N, a.K, nb) : 1;
    if (sp > 1 && (nb > 128 || !part || part_bytes < (size_t)sp * (size_t)a.M * (size_t)a.N * 4)) sp = 1;
    /* mode 4 (mmq22, after the H100 call of 19:06: unmeasured as such): as 1 only where one weight alone makes less than
     * a wave of blocks (k / v); where it fills the GPU (gate / up at M = 512: 224 blocks each) grouping measured 1-3%
     * slower (448 blocks, a short fourth round), so one by one */
    if (mode == 4) {
        if ((a.N + QN_RSI_BN - 1) / QN_RSI_BN * ((a.M + nb - 1) / nb) * sp >= (sms > 0 ? sms : 132)) return -1;
        mode = 1;
    }
    if (mode == 1) { /* the tile: the table's rule on the grid's blocks with that split (256 tokens only unsplit) */
        const int64_t want = (int64_t)(sms > 0 ? sms : 132) * 3 / 4, r = tiles * sp;
        nb = sp == 1 && r * ((a.M + 255) / 256) >= want ? 256 : r * ((a.M + 127) / 128) >= want ? 128 : 64;
    }
    a.epi = qn_rsi_epi_rule(a.epi, tiles * ((a.M + nb - 1) / nb) * sp, a.K, sms, nb, false);
    const int plv = qn_rsi_ploop();
    const bool pl = plv == 1 || (plv >= 3 && nb == 128) || (plv == 4 && nb == 64);
    /* a split in two as cluster pairs: the same additions as the global split's reduce (mmq21) */
    const bool cl = nb <= 128 && sp == 2 && (a.epi & 1) && qn_rsi_splitcl();
    /* the grouped instances: the default's forms (EPI; PLOOP on the 128-token tile only; pairs with two steps a group) */
    if (!(a.epi & 1) || (sp > 1 && !cl) || (cl && qn_cuda_ggml_mmq_splitcl != 2) || (pl && nb != 128)) return -1;
    const int perm = DT == QN_DT_GGML_Q4_0 ? 1 : 2;
    if (qn_cuda_ggml_mmq_noprep != 1 && !(xhave && *xhave == perm)) { /* as qn_rsi_go */
        const int e = qn_gmmq_prep_xt(x_dtype, x, a, a.xnb ? a.xnb : nb, true, s, perm);
        if (xhave) *xhave = e ? 0 : perm;
        if (e || qn_cuda_ggml_mmq_noprep == 2) return e;
    }
    const CUtensorMap &m = G.map[0];
    if (cl) {
        const int e = nb == 64 ? qn_rsi_launch<DT, 64, 4, 0, 1, 8 | 16 | 256>(m, a, s, 2, part, &G, tiles)
                      : pl     ? qn_rsi_launch<DT, 128, 4, 0, 1, 8 | 16 | 32 | 256>(m, a, s, 2, part, &G, tiles)
                               : qn_rsi_launch<DT, 128, 4, 0, 1, 8 | 16 | 256>(m, a, s, 2, part, &G, tiles);
        if (e != (int)cudaErrorInvalidClusterSize && e != (int)cudaErrorLaunchOutOfResources) return e;
        (void)cudaGetLastError(); /* no pair fits: one by one (each then takes the global split) */
        return -1;
    }
    if (nb == 256) return qn_rsi_launch<DT, 256, 2, 0, 1, 8 | 256>(m, a, s, 1, part, &G, tiles);
    if (nb == 128)
        return pl ? qn_rsi_launch<DT, 128, 4, 0, 1, 8 | 32 | 256>(m, a, s, 1, part, &G, tiles)
                  : qn_rsi_launch<DT, 128, 4, 0, 1, 8 | 256>(m, a, s, 1, part, &G, tiles);
    return qn_rsi_launch<DT, 64, 2, 0, 1, 8 | 256>(m, a, s, 1, part, &G, tiles);
}

/* QUANTA_CUDA_GGML_EPI (mmq20; the same bits every way), 1 plus any of 2, 4: 1 — the table's picks
 * (and rsisplit128) as instances of their own (cfg V bit 8; the default kernels compile as before) whose epilogue stores
 * by qn_gmmq_store_h (the token scales loaded once, not one dependent load per stored element), and whose split grids
 * let the reduce launch at their epilogue as their programmatic dependent (the reduce's launch overlaps the GEMM's tail)
 * and read four sums at a time; 2 — every grid triggers its dependents at its epilogue (whatever follows launches early
 * and waits for this grid in its griddepcontrol.wait, as every kernel launched with the attribute does:
 * qn_pdl_begin); 4 — the producer's first copies in the order the consumers take them. 2 and 4 need 1. */
/* Default since the H100 call of 12:37 (verify_mmq20.sh; same bits: every row maxdiff 0, conformance 16/0, perplexity
 * equal): 7 by the rule in qn_rsi_go (15 = 7 + "the default's rule"); GEMM alone 1.06-1.24x at M = 512 on 7B's 4096-
 * and 14336-row shapes and k/v, 1.17-1.22x at M = 2048; pp512 7B Q4_0 24175 -> 25801, Q8_0 22020 -> 23205 tok/s.
 * QUANTA_CUDA_GGML_EPI=0 restores the old instances; =1 .. 7 force those parts on every shape. */
int qn_cuda_ggml_mmq_epi = -1;
static int qn_rsi_epi() {
    if (qn_cuda_ggml_mmq_epi < 0) {
        const char *e = getenv("QUANTA_CUDA_GGML_EPI");
        const int v = e && *e ? atoi(e) : 15;
        qn_cuda_ggml_mmq_epi = v >= 0 && v <= 7 ? v : 15;
    }
    return qn_cuda_ggml_mmq_epi;
}

int qn_gmmq_rsi_run(int w_dtype, int x_dtype, const void *x, const qn_gmmq_args &a0, int sms, void *part,
                    size_t part_bytes, cudaStream_t s, int *xhave) {
    if (!qn_gmmq_rs_applies(w_dtype, a0)) return -1;
    qn_gmmq_args a = a0;
    a.epi = qn_rsi_epi();
    if ((a.epi & 1) == 0) a.epi = 0; /* 2 and 4 need 1 */
    if (!qn_rsi_pdl()) a.epi &= ~2; /* QUANTA_CUDA_GGML_PDL=0: no early launches around the GEMM */
    float *pf = (float *)part;
    return w_dtype == QN_DT_GGML_Q4_0 ? qn_rsi_go<QN_DT_GGML_Q4_0>(a, x_dtype, x, sms, pf, part_bytes, s, xhave)
                                     : qn_rsi_go<QN_DT_GGML_Q8_0>(a, x_dtype, x, sms, pf, part_bytes, s, xhave);
}

int qn_gmmq_rsi_run_grp(int w_dtype, int x_dtype, const void *x, const qn_gmmq_args &a0, int n, const void *const *w,
                        const int64_t *N, void *const *y, int mode, int sms, void *part, size_t part_bytes,
                        cudaStream_t s, int *xhave) {
    if (!qn_gmmq_rs_applies(w_dtype, a0)) return -1;
    qn_gmmq_args a = a0;
    a.epi = qn_rsi_epi();
    if ((a.epi & 1) == 0) a.epi = 0;
    if (!qn_rsi_pdl()) a.epi &= ~2;
    float *pf = (float *)part;
    return w_dtype == QN_DT_GGML_Q4_0
               ? qn_rsi_go_grp<QN_DT_GGML_Q4_0>(a, n, w, N, y, mode, x_dtype, x, sms, pf, part_bytes, s, xhave)
               : qn_rsi_go_grp<QN_DT_GGML_Q8_0>(a, n, w, N, y, mode, x_dtype, x, sms, pf, part_bytes, s, xhave);
}
