/*
 * attention_wg.cu — prefill attention on Hopper's warpgroup MMA (wgmma, sm_90a; issue 14, fa12), head dim 128,
 * f16/bf16. Semantics: attention.h / attention.cu (folded GQA rows: row r of a KV head's block is query r / G
 * of query head hkv * G + r % G, so every query head of a KV head reads the same K/V tiles, no copies;
 * visibility: key j < L, causal j <= p, window j > p - window, mask[q][j] != 0 with p = L - Nq + q; a row that
 * sees nothing is written as zeros).
 *
 * Why: attention.cu's prefill (mma.sync m16n8k16, B fragments by ldmatrix per warp) reached 0.51-0.58x cuDNN
 * at long sequences on the H200. mma.sync peaks near 2/3 of Hopper's dense f16 rate; wgmma m64nNk16 runs a
 * warpgroup's 64 rows from one instruction, reads B from shared memory itself and runs asynchronously.
 *
 * Block: 128 folded query rows of one (batch, KV head), 2 warpgroups of 64 rows (256 threads, 1 block per SM).
 * Per warpgroup and key tile of BN keys:
 *   S (64 x BN, f32)  = Q . K^T: 8 wgmma m64nBNk16, A = Q from registers (loaded once, the mma.sync A layout),
 *                       B = the K tile, K-major (its rows are keys, its 16-byte pieces dims: no transpose);
 *   online softmax on S in registers (log2 domain, row max / sum over the 4 lanes of a row by shuffles);
 *   P = S as f16/bf16 A fragments: the m64nN accumulator of lane (g, t) holds rows g, g + 8, columns 8j + 2t,
 *                       8j + 2t + 1 — exactly the A fragment of k16 step j / 2 (FlashAttention-3's trick);
 *   O (64 x 128) += P . V: BN / 16 wgmma m64n128k16, B = the V tile read MN-major (transpose bit): V is
 *                       [key][dim], so dims (the N of this product) are contiguous.
 * K and V tiles share one shared-memory layout, wgmma's no-swizzle core matrices (8 keys x 16 bytes of dims,
 * 128 contiguous bytes): key n, dims 8c .. 8c + 7 at byte (c * BN / 8 + n / 8) * 128 + (n % 8) * 16. For K
 * (K-major B: N = keys, K = dims) that is leading offset (K-adjacent) BN * 16, stride offset (N-adjacent) 128;
 * for V (MN-major B: K = keys, N = dims) leading offset (K-adjacent, next 8 keys) 128, stride offset
 * (N-adjacent, next 8 dims) BN * 16.
 * Pipeline (as ggml_mmq_wg.cu, one barrier a tile): S stages of K+V copied by all 256 threads with cp.async
 * (16 bytes each; a quarter warp writes one 128-byte core matrix, a warp reads 64 contiguous bytes of 8 keys);
 * per tile: wait for this thread's copies of the tile, fence them to the async proxy, barrier (all copies
 * landed, every warpgroup done with the tile before, whose stage the next copies overwrite), issue the copies
 * of tile + S - 1, compute. Causal / window: only the tiles some row of the block sees are visited, and only
 * tiles that cross a boundary (or any tile under a mask) are masked.
 * Variants (attention_wg.h): 64- or 128-key tiles, 2-4 stages; "o": FlashAttention-3's intra-warpgroup
 * overlap (tile j's Q . K^T issued with tile j - 1's P . V, the softmax of j while P . V runs); "o3": 3 consumer
 * warpgroups (192 rows, Q in shared memory as wgmma's A descriptor so that 384 threads fit 168 registers);
 * "ws": warpgroup 0 a producer (cp.async, then per-stage full/empty mbarriers) and 2 consumers, so the
 * consumers are not held in step by a block barrier each tile.
 * "wsp": the same with FlashAttention-3's ping-pong (the consumers take turns issuing their wgmma); with 128-key
 * tiles the consumers take registers from the producer (setmaxnreg).
 * "tma" (fa13): the producer form with its K/V tiles by TMA (one thread, cp.async.bulk.tensor into the swizzled
 * layout), "ws3": with 3 consumers (192 rows).
 * Not here (yet): head dims other than 128, key splits (the plan keeps the mma.sync kernel where the blocks do
 * not fill the GPU).
 */
#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <atomic>
#include <type_traits>

#include "attention_wg.h"
#include "sm90a_device.cuh"
#include "cp_async.cuh"

#ifndef QN_AWG_ALL_FORMS
#define QN_AWG_ALL_FORMS 0 /* see form_built */
#endif
#include "tma.cuh"
#include "layout.h" /* formats/: the dtype codes QN_DT_* */

#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define QN_AWG_HAVE 1
#include "wgmma.cuh"
#else
#define QN_AWG_HAVE 0
#endif

namespace qn_awg {

constexpr int kD = 128;  /* head dim */
constexpr int kRB = 128; /* folded rows per block of the 2-warpgroup forms (64 each) */

struct Params {
    const void *q, *k, *v;
    const uint8_t *mask;
    const int32_t *kv_lens;
    void *out;
    long long Hq, Hkv, Nq, Nk, G, rows_fold;
    int mask_batched, causal, window, vswap;
    float sl2; /* scale * log2(e), > 0 */
    /* the persistent forms (items < 2^31 there): row blocks a (batch, KV head), all blocks, B x Hkv (ints: three
     * more 64-bit parameters moved n128s2sw from 230 to 254 registers) */
    int nmb, items, bh;
    int ksplit; /* F_KSPL: parts a tail item (0: no split) */
    /* F_FDIV: x / d for x < 2^31 as (x * fd_m) >> (31 + fd_s) (fd_set), for d = pairs a head ((nmb + 1) / 2), Hkv, G */
    unsigned fd_m[3];
    int fd_s[3];
};
/* fa13 options, forms 25-27 only (a template parameter FL, so that the measured forms' code stays as measured):
 * F_HEADS: the persistent forms' causal order head by head too (the heaviest-first order across all heads read
 * every head's K/V from HBM: 4k causal 362 vs 514 TFLOP/s without persistence, H100 13:12); F_SKIP: O is rescaled
 * only where some lane's row max moved (bit-identical: the factor is exactly 1 otherwise) */
enum { F_HEADS = 1, F_SKIP = 2, F_CMASK = 4 }; /* F_CMASK: the boundary tiles of causal-only (or unmasked) calls
                                                 * through one compare a score (bit-identical) */
/* fa14 options (forms 28-31). F_EARLY: the producer issues the first tiles' TMA before its Q copies land (the
 * measured forms wait for Q first: a TMA latency, ~1 us, at the start of every block, 5-10% of a block at 1k);
 * the persistent form: the next item's first tile before its Q. F_CL2: clusters of 2 row blocks of one head
 * (blockIdx.x pairs); each block TMA-multicasts half of every K/V tile (rank 0 K, rank 1 V) into both, so the
 * L2 -> SM bytes a row halve (21 reads 64 KB a 128-row tile: ~5 TB/s at 630 TFLOP/s, near the L2's rate); a
 * stage is refilled once the consumer warps of both blocks released it; both walk the union of their tiles (a
 * block skips, but still receives and releases, the ones its rows do not see). */
enum { F_EARLY = 8, F_CL2 = 16, F_CL4 = 32 }; /* F_CL4: clusters of 4 (a quarter: rank r the r-th of the 4 boxes) */
/* F_QREG (persistent forms): the consumers copy their Q rows from shared memory into registers (wgmma's A from
 * registers for Q . K^T) at the start of an item and release Q's buffer at once, so the producer loads the next
 * item's Q while this one runs, not after its last Q . K^T (fa13's persistent forms: the next Q's load, ~1-2 us
 * from HBM, and then its first tile were exposed at every item; 32 more registers a consumer thread). */
enum { F_QREG = 64 };
/* F_PAIR (persistent forms): a block's work unit is a pair of row blocks of one head, the last and the first not yet
 * taken (mb = nmb - 1 - k, then k: nmb + 1 tiles a pair under causal masking, whatever k), walked as pair = block +
 * i x grid. fa13's per-row-block stride gave block i the row blocks i, i + 132, ..: under causal masking their tile
 * counts repeat with the stride mod nmb (4 at 1k-16k), so blocks drew 2x (1k: 8 + 4 vs 5 + 1 tiles) to 1.2x (4k)
 * different totals — the persistent causal forms' loss at 1k-4k. */
enum { F_PAIR = 128 };
/* fa14 round 2. F_E1: the first tile's TMA issued right after the warpgroup has issued its Q copies, not after they
 * landed (E issued 3 tiles before Q and lost 10-20%: Q queued behind 192 KB); F_QPF: one thread asks L2 for the Q
 * rows of the block about one wave ahead (linear block id + SMs), so that block's Q comes from L2, not HBM. */
enum { F_E1 = 256, F_QPF = 512 };
/* fa15. F_TQ: Q by TMA too (a 4-d map over q: dims, the G query heads of the KV head, positions, batch x KV heads;
 * a box of 64 dims x G heads x 128 / G positions lands as the block's 128 folded rows in sw_off's layout), issued
 * by the producer's one thread ahead of the first tiles, which no longer wait for Q to land; row and position
 * arithmetic in 32 bits. Why: 21 / 35 spend ~5.8 us a block outside the steady state (H100 17:13, 1k and 4k
 * non-causal: 19.8 us for 8 tiles, 61.7 us for 32: 1.75 us a tile + 5.8), and their start is a chain: Q by
 * cp.async from 128 threads, each address through a 64-bit division by G (a subroutine of ~60 instructions, 16
 * a thread), Q's HBM latency, and only then the first tile's TMA. Needs 128 % G == 0 (else the form without it).
 * F_TO: the output through shared memory (a consumer's 64 rows into its own Q rows, free after its last
 * Q . K^T) and a TMA store, instead of 32 4-byte global stores a thread at half-sector use. Needs 64 % G == 0. */
enum { F_TQ = 1024, F_TO = 2048 };
/* fa16. F_KV2 (the TQ form only): K and V of a stage on barriers of their own, as FlashAttention-3's two pipelines —
 * K freed once its Q . K^T is done, V once its P . V is, the producer issuing K one tile ahead of V — so 2 stages
 * run the overlapped loop (one barrier a stage needs 3: tile j's K and tile j - 1's V live while the next loads).
 * That leaves the shared memory for 176- or 192-key tiles (2 x 88 / 96 KB; FlashAttention-3 sizes hd128 non-causal
 * at 128 x 176): a tile's fixed costs (barrier waits, the ping-pong hand-over, row max shuffles, O's rescale) over
 * 1.4-1.5x the keys. F_DIAG (128-key tiles): on the last tile of a causal call without mask or window, a consumer
 * whose rows see none of its upper 64 keys (the lower warpgroup on the diagonal tile) runs P . V over 64 keys (P is
 * 0 past them): a quarter of that tile's products for that warpgroup. */
enum { F_KV2 = 4096, F_DIAG = 8192 };
/* fa16 round 2. F_TREE: a row's max and sum over its 2 x NS scores as pairwise trees (depth 5 for 32 values)
 * instead of chains of NS dependent FMNMX / FADD: the max gates every ex2 of the tile, and the softmax of one
 * consumer has to fit under the other's products (the max is the same bits; the sum's order changes) */
enum { F_TREE = 16384 };
/* fa17. F_LPT (non-persistent TQ forms, causal calls): the grid's blocks in longest-first order within groups of
 * k heads (block id -> group, row block heaviest first, head in the group; k from the host, p.items): the grid
 * order before ran each head's row blocks heaviest first, head after head, so the last head's heaviest blocks
 * started a few tiles before the grid's end and ran alone (4k causal, ncu: SM active 95.4% of the elapsed
 * cycles); a group of k ~ 2 x SMs / (row blocks + 1) heads spreads that over the group (a simulation of the
 * greedy block dispatch: 0.968 -> 0.99+ of the ideal at 2k-8k), while the K / V of the heads in flight stay
 * ~16 MB (the all-heads longest-first order of fa13 read them from HBM). F_RLATE: O rescaled inside the turn,
 * after Q . K^T is issued and before P . V (FlashAttention-3's order), not between P . V's wait and the next
 * turn: 64 FMUL off the consumer's own chain (bit-identical: the same products in the same order). F_TRACE:
 * block 0 stamps clock64 at each step of its consumers' loop into g_awg_trace (the bench prints the gaps). */
enum { F_LPT = 32768, F_RLATE = 65536, F_TRACE = 131072 };
/* fa17. F_SPLIT (non-persistent TQ / TO forms, non-causal calls): the grid's last partial wave split over the keys.
 * Equal blocks (4096 at every anchor: 31.03 waves of 132) leave the last wave's r = blocks mod SMs blocks running
 * alone for a whole block time (~3% of every non-causal row); so the main launch skips those r, and a second launch
 * of clusters of s blocks (s = 8 or less, s r <= SMs) gives each of them to s blocks, block c of a cluster taking
 * the c-th 1 / s of its tiles; each block leaves its partial O (f32, unnormalized), row max and sum in its own
 * stage area (idle once its tiles are consumed), and after a cluster barrier each merges a 128 / s row slice of the
 * cluster's partials through distributed shared memory and stores it. No scratch, no third kernel. */
enum { F_SPLIT = 262144 };
/* fa19. F_PVH (ping-pong TQ forms, the steady-state loop): tile it - 1's P . V issued in two halves, the first with
 * tile it's Q . K^T, the second once the row max of tile it is known (mid-softmax), and the turn handed over after
 * it. Why (form 55's trace, H100 06:40, every shape): from the turn to "products issued" takes ~830 cycles per
 * consumer — 16 wgmma of ~64 cycles each, so issue stalls until all but ~3 have started (the wgmma queue) — and
 * the softmax (1200-1600 cycles) starts only after it, S waiting for the consumer since ~512; the consumer's
 * chain (issue 830 + S 120 + softmax 1200-1600 + pack 190 + 180) is the 2900-cycle tile period, the tensor
 * pipe's share of it ~2050. Issuing 12 wgmma before the S wait lets the softmax start ~4 x 64 cycles earlier
 * (and its max before the last 4 wgmma are queued). The same wgmma on O in the same order: bit-identical. */
enum { F_PVH = 524288 };
/* fa19, with F_PVH: the split point moved (where the queue is not ~3 deep, another split may be the one that pays):
 * F_PVLO a quarter of P . V's k16 steps before the S wait (the softmax starts soonest), F_PVHI three quarters */
enum { F_PVLO = 1048576, F_PVHI = 2097152 };
/* fa19 round 2 (call 2, H100 09:30: 63 = 41 + F_PVHI +3-4% over 41 on every row, 58 (half) +-0, 62 (quarter) -5%):
 * the split point around three quarters — F_PV7: all but the last k16 step before the S wait, F_PV5: five eighths */
enum { F_PV7 = 4194304, F_PV5 = 8388608 };
/* fa20. F_B2B (the persistent K / V split form with F_PVH, 66): a consumer runs its items back to back. Why (form
 * 64's trace, H100 09:30): an item boundary cost a consumer ~2500-2950 cycles, about one steady tile period — the
 * item's last P . V issued alone and waited for, the epilogue, then the next item's first Q . K^T issued alone and
 * its softmax run under no product — so at 512 causal a tile took 4454 cycles against 3109 in the steady state
 * (25 items in 64 tiles), at 1k causal 3870. Here the next item's first Q . K^T is issued in the same turn as the
 * current item's last P . V (three quarters of it before the S wait, the rest after the row max, as 66's steady
 * state), the next item's first softmax runs under that P . V, and the current item's epilogue follows its wait,
 * from the (rows, head, row sums) kept apart from the next item's; the ping-pong opens once per chain of items, not
 * per item; O is not zeroed: an item's first P . V writes it with scale-d = 0 (A . B instead of A . B + 0: the same
 * bits but for the sign of an exactly-zero sum). Per item the same wgmma in the same order and the same softmax
 * operations as 66: bit-identical. An item that sees no key ends the chain (its rows are written as zeros). */
enum { F_B2B = 16777216 };
/* fa21. F_EPI (with F_B2B: 72): the item before's epilogue off the consumer's chain. In 70 an item's first tile runs
 * that epilogue (O / l of 64 rows into the O stage: 64 FMUL, 32 packs, 32 st.shared, a fence and two named barriers,
 * then the TMA store) between its softmax and its P pack, on the consumer's chain: trace 71 (H100 12:37) read that
 * step at ~1350 cycles against 72-88 without it, about 40% of a tile period once per item (2k non-causal: 16 tiles an
 * item, 1k non-causal 8). Here the values go to the O stage during the next turn instead: O is not written again
 * until that turn's P . V (scale-d = 0), and that turn's 8 Q . K^T wgmma are issued with the st.shared between them
 * (the warp waits at wgmma issue once ~3 are queued: fa19's trace, ~830 cycles a turn, so work placed between them
 * runs in cycles the warp spends stalled anyway); the fence, the barrier and the store's issue follow the turn's
 * products, before the S wait. The same values into the same bytes: bit-identical to 70. */
enum { F_EPI = 33554432 };
/* fa21, with F_EPI (73): O / l scaled and packed into 32 registers at the item's first tile (on the chain, as 70), and
 * only the 32 st.shared between the next turn's wgmma. Why a second form: 72's reads of O between the wgmma (O is
 * the accumulator of other wgmma of the kernel) make ptxas inject a warpgroup.arrive after each one (C7519: "to allow
 * use of registers in GMMA"); the packed copy is no wgmma's register, so 73 has none. Which costs less is measured. */
enum { F_EPIP = 67108864 };
/* fa21. F_KSPL (the back-to-back persistent forms, non-causal calls without mask or window; 74 = 70 + it, 75 = 72 + it):
 * the grid's last partial round split over the keys. Why: with equal items (non-causal) a block's share is whole items
 * (or pairs), so at 2k non-causal (4096 row blocks of 16 tiles, 132 blocks) some block runs 32 items while the mean is
 * 31.03: 512 tile-times against 496.5, 3% of the call (70's pairs: 16 pairs against 15.52, the same). Here a block
 * walks items (row blocks; a head's together) blockIdx.x + i x grid for i < R = items / grid, then the r = items mod
 * grid left over are cut into s parts of their tiles (s <= 4, s r <= grid, from the host: p.ksplit), block q taking
 * part q mod s of tail item q / s as its last item. A part's consumer warps write their unnormalized O, row max and
 * row sum (f32) to a slot of g_awg_ks_* (global; L2), and the warp that arrives last on its (item, consumer, warp)
 * counter merges the s partials of its 16 rows and stores them (the counter back to 0 for the next launch): nobody
 * waits for another block, so no deadlock whatever the residency. Not bit-identical (the merge's sums); launches of
 * this form must not run concurrently (one set of slots). 4.3 MB of device memory (the slots). */
enum { F_KSPL = 134217728 };
/* fa21, with F_EPI (76): the st.shared-interleaved issue only where an epilogue is owed (a vote, then issue_se or
 * issue_s), not in every turn with the pieces skipped by a branch: ptxas may turn the 8 short skipped blocks of 72
 * into predicated instructions issued (as no-ops) in every tile */
enum { F_EPIB = 268435456 };
/* fa22. F_CRS (the PVH forms' steady state: 63, 65, 70 -> 78, 79, 77): FlashAttention-4's conditional rescaling. The
 * running max m that P is scaled to (P = 2^(s sl2 - m)) moves only when some row of the warp would otherwise see
 * P > 2^kCrsT (its new max more than kCrsT over m, log2 domain); else m stays stale, alpha is 1 and O's rescale (64
 * FMUL a thread) and alpha's ex2 are skipped for the warp. O and l are sums over the same stale m, so O / l at the end
 * is the softmax's (P <= 256 keeps f16 / bf16 P and the f32 sums far from overflow). Not bit-identical (P's values
 * and their rounding move with m). Why: the consumer's own chain (3100-3700 cycles a tile against ~2050 of tensor
 * work, fa19-fa21) carries the rescale between P . V's wait and the next pack: with random data a row's max grows by
 * 8 (a factor 256) within the first tile or two, so the rescale all but vanishes from the steady state. The decision
 * is a vote (warp-uniform: ptxas keeps the wgmma on O unserialized only around uniform branches). fa14's F_SKIP
 * (skip only where alpha == 1 exactly, form 36) lost 2-5%: exact equality rarely holds across a whole warp. */
enum { F_CRS = 536870912 };
constexpr float kCrsT = 8.f;
/* fa22. F_PEX (with F_CRS): a quarter of the softmax's ex2 (k16 column groups j % 4 == 3) by a degree-3 polynomial on
 * the FMA pipe instead of the MUFU (FlashAttention-4's split). Why: per SM sub-partition the MUFU takes 8 cycles a
 * warp instruction (16 lanes an SM); a consumer warp's 64 ex2 a tile are >= 512 cycles of it, twice that where the two
 * consumers' softmaxes overlap, while its FMA / ALU work in the same phase is ~250-300 issue cycles: moving 16 of the
 * 64 (8 instructions each, mostly FMA pipe) balances the two. Not bit-identical (the polynomial's error, <= 9e-5
 * relative, is under bf16's and f16's rounding of P). */
enum { F_PEX = 1073741824 };
/* fa22. F_DESC (the SW forms' Q . K^T and P . V issue): a turn's wgmma descriptors as one base descriptor plus a constant
 * a product ((offset >> 4) in the 14-bit start-address field: shared addresses < 256 KB and 16-byte aligned offsets, so
 * no carry leaves the field: the same 64 bits as qn_wg_desc_sw128 of the sum). Why: the SASS of 70's steady loop
 * spends ~12 instructions between consecutive HGMMA of a turn re-deriving each descriptor (mask, shift, or, the
 * constant high half re-materialized, R2UR), ~190 of its 640 a tile are integer / uniform work, on the issuing warp's
 * chain. Bit-identical. (fa23: FL is 64-bit since F_QE; this bit no longer the sign of an int.) */
constexpr long long F_DESC = 0x80000000ll;
/* fa23. F_QE (the persistent pairs with an O stage, PO: 70 / 83 and their kin): the producer issues the next item's Q
 * as soon as its buffer is free — right after it issued K of the current item's tile 1 (the stage that K takes was
 * the item before's last K, released by the same Q . K^T that releases the item before's Q buffer) — instead of
 * after the current item's last V. Why: an item's Q rows are read once, from HBM (K / V of a head are L2 hits, shared
 * by its row blocks), and in 83's order they are issued about one tile period before the item's first turn needs
 * them; fa20's trace 71 read a ~1050-1130-cycle gap at every item boundary before that turn's K / Q waits. Here Q is
 * issued n - 1 tiles ahead (7 at 1k non-causal, 15 at 2k). Items of one tile keep the old order. The same loads into
 * the same buffers: bit-identical. A 64-bit flag (FL is long long from here: every int flag's bit unchanged). H100
 * 21:59 (87 = 83 + it, paired, two passes): 87/83 1.000-1.006 at 1k / 2k, 0.977 at 512 causal — the Q wait was not
 * the boundary's cost, and the producer's peek between K(1) and V(0) delays short items: research. */
constexpr long long F_QE = 1ll << 32;
/* fa23. F_FDIV (with F_PAIR): the persistent walk's divisions by launch constants (a pair's head and row block, a head's
 * batch and KV head, a row's position: pr / hp, h / Hkv, r0 / G) as a multiply and a shift by the host's magic numbers
 * (Params::fd_m / fd_s, Granlund-Montgomery for 31-bit dividends: exact). Why: 83's SASS recomputes each divisor's
 * reciprocal at every item (I2F, MUFU.RCP, F2I, IMAD.HI and two fix-ups: ~20 dependent instructions a division, three
 * divisions) in the consumers' item top, before the next item's first turn, and in the producer's. Round 2 (90): also
 * a row's position in the one-compare mask (r / G, twice a boundary tile: every causal item's diagonal) and the
 * output box's (thread 0, each epilogue). Bit-identical. */
constexpr long long F_FDIV = 1ll << 33;
enum { kFdHp = 0, kFdHk = 1, kFdG = 2 };
constexpr int kKsSlots = 64; /* parts in flight (s r <= kKsSlots) */
#if QN_AWG_ALL_FORMS
/* (fa22: research only — call 3 of session 21, H100 15:47: 74/70 1.002 / 0.999 at 2k non-causal, 0.975 at 1k — so a
 * default build carries neither these 4.3 MB of device slots in every CUDA process nor the one-launch-at-a-time rule) */
__device__ float4 g_awg_ks_o[kKsSlots][2][128][16]; /* [slot][consumer][thread]: O's 64 accumulators a thread */
__device__ float4 g_awg_ks_ml[kKsSlots][2][128];     /* (m, l) of the thread's two rows */
__device__ unsigned g_awg_ks_cnt[kKsSlots][2][4];    /* [tail item][consumer][warp]: parts arrived */
#endif
/* F_TRACE: [consumer][tile][stamp], tiles past kTrT not stamped; stamps: loop top, K (and V) landed, turn held,
 * products issued, S done, softmax done, P . V done, P packed */
constexpr int kTrT = 64, kTrS = 8;
__device__ long long g_awg_trace[2][kTrT][kTrS];
/* The TMA forms' K and V as 3-d tensors (128 dims, Nk keys, B * Hkv heads), boxes of 64 dims x BN keys in the
 * 128-byte swizzle: a __grid_constant__ parameter (the copies take its address in the parameter space) of the
 * TMA forms alone. (Params itself is not __grid_constant__: that moved n128s2sw from 230 to 254 registers.) */
struct Maps {
    CUtensorMap tk, tv;
};
struct NoMaps {
    int unused;
};
/* F_TQ / F_TO forms: Q's (and the output's) 4-d maps beside K's and V's (a type of their own, so that the other
 * TMA forms' parameter stays as measured) */
struct MapsQ {
    CUtensorMap tk, tv, tq, to;
};
template <bool TMA, bool TQ = false>
using MapsT = typename std::conditional<TQ, MapsQ, typename std::conditional<TMA, Maps, NoMaps>::type>::type;

template <typename T> struct Ty;
template <> struct Ty<__half> {
    static constexpr int bf = 0;
    static __device__ __forceinline__ uint32_t pack(float x, float y) {
        __half2 h = __floats2half2_rn(x, y);
        uint32_t u;
        memcpy(&u, &h, 4);
        return u;
    }
};
template <> struct Ty<__nv_bfloat16> {
    static constexpr int bf = 1;
    static __device__ __forceinline__ uint32_t pack(float x, float y) {
        __nv_bfloat162 h = __floats2bfloat162_rn(x, y);
        uint32_t u;
        memcpy(&u, &h, 4);
        return u;
    }
};

/* WGN consumer warpgroups of 64 rows; with 3, Q lives in shared memory (wgmma's A from a descriptor): 32 fewer
 * registers a thread, which 384 threads need (at most 168 each) */
/* WS: warpgroup 0 is a producer (it copies Q and the K/V tiles and hands stages over through mbarriers), the
 * others consume; then the rows are 64 per consumer warpgroup. */
template <int BN, int S, int WGN, bool WS = false, bool SW = false, bool KV2 = false, bool PO = false> struct Cfg {
    static constexpr int tile = BN * kD * 2; /* bytes of one K (or V) tile */
    static constexpr int stage = 2 * tile;
    static constexpr int rb = 64 * (WGN - (WS ? 1 : 0)), nt = 128 * WGN;
    static constexpr bool qs = WGN > 2;
    static constexpr int qbytes = qs ? rb * kD * 2 : 0;
    /* PO (the persistent K / V split form): 2 Q buffers and an O stage */
    static constexpr int qarea = PO ? 3 * qbytes : qbytes;
    /* SW: + 1 KB to align the tiles to the 1024-byte repeat of the 128-byte swizzle */
    /* WS: full / empty a stage, Q's two (KV2: V's full / empty a stage after them; PO: the second Q buffer's two) */
    static constexpr size_t smem =
        (size_t)S * stage + qarea + (WS ? ((KV2 ? 4 : 2) * S + (PO ? 4 : 2)) * 8 : 0) + (SW ? 1024 : 0);
};

#if QN_AWG_HAVE
__device__ __forceinline__ float ex2(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
    return y;
}
/* F_FDIV: x / d for 0 <= x < 2^31 from fd_set's (m, s) */
__device__ __forceinline__ unsigned fdiv31(unsigned x, unsigned m, int s) {
    return (unsigned)(((unsigned long long)x * m) >> (31 + s));
}
/* F_DESC: a descriptor's start address moved by a (16-byte units): an add on the low word only (the field cannot carry
 * out: see F_DESC), so ptxas needs no 64-bit add with carry */
__device__ __forceinline__ uint64_t desc_add(uint64_t d, uint32_t a) {
    return (d & 0xFFFFFFFF00000000ull) | (uint64_t)((uint32_t)d + a);
}
/* F_PEX: 2^x on the FMA pipe (FlashAttention-4's emulation), for x <= 127: floor(x) from one add rounded down into the
 * low mantissa bits of 1.5 x 2^23, the fraction f = x - floor(x) in [0, 1) exactly, 2^f by a degree-3 minimax
 * polynomial (relative error <= 9e-5), floor(x) added to its exponent by an integer add. x = -inf (masked keys) is
 * clamped to -127, where f = 0 and the polynomial's 1.0 (0x3f800000) plus -127 << 23 is exactly +0, as ex2 gives. */
__device__ __forceinline__ float ex2_poly(float x) {
    x = fmaxf(x, -127.f);
    const float r = __fadd_rd(x, 12582912.f);
    const float f = x - (r - 12582912.f);
    const float q = fmaf(fmaf(fmaf(0.077119089663028717041015625f, f, 0.227564394474029541015625f), f,
                              0.695146143436431884765625f),
                         f, 1.f);
    return __int_as_float(__float_as_int(q) + (__float_as_int(r) << 23));
}
template <int BF, int BN> struct MmaS;
template <int BF> struct MmaS<BF, 128> {
    static __device__ __forceinline__ void run(float (&d)[16][4], const uint32_t a[4], uint64_t desc, int acc) {
        qn_wg_mma16_n128<BF, 0>(d, a, desc, acc);
    }
    static __device__ __forceinline__ void run_ss(float (&d)[16][4], uint64_t adesc, uint64_t desc, int acc) {
        qn_wg_mma16_ss_n128<BF>(d, adesc, desc, acc);
    }
};
/* 176 / 192 keys (F_KV2 forms): Q from shared memory only */
template <int BF> struct MmaS<BF, 176> {
    static __device__ __forceinline__ void run_ss(float (&d)[22][4], uint64_t adesc, uint64_t desc, int acc) {
        qn_wg_mma16_ss_n176<BF>(d, adesc, desc, acc);
    }
};
template <int BF> struct MmaS<BF, 192> {
    static __device__ __forceinline__ void run_ss(float (&d)[24][4], uint64_t adesc, uint64_t desc, int acc) {
        qn_wg_mma16_ss_n192<BF>(d, adesc, desc, acc);
    }
};
template <int BF> struct MmaS<BF, 64> {
    static __device__ __forceinline__ void run(float (&d)[8][4], const uint32_t a[4], uint64_t desc, int acc) {
        qn_wg_mma16_n64<BF, 0>(d, a, desc, acc);
    }
    /* A (64 x 16, K-major) from shared memory too */
    static __device__ __forceinline__ void run_ss(float (&d)[8][4], uint64_t adesc, uint64_t desc, int acc) {
        qn_wg_mma16_ss_n64<BF>(d, adesc, desc, acc);
    }
};
#endif

/* The 128-byte-swizzle layout (SW) of a tile of R rows x 128 dims: 64-dim blocks R * 128 bytes apart, row r's
 * 128 bytes at r * 128, its 16-byte chunk c (dims 8c .. 8c + 7 of the block) at chunk c ^ (r % 8): wgmma's
 * canonical SW128 atom (8 rows x 128 bytes), for K-major K and Q and MN-major V alike (PTX ISA "canonical layouts":
 * K-major ((8,m),(T,2k)):((8T,SBO),(1,T)), MN-major ((T,8,m),(8,k)):((1,T,LBO),(8T,SBO))). */
__device__ __forceinline__ uint32_t sw_off(int R, int r, int c) {
    return (uint32_t)((c >> 3) * (R * 128) + r * 128 + (((c & 7) ^ (r & 7)) << 4));
}
__device__ __forceinline__ uint32_t qn_lds32(uint32_t a) {
    uint32_t v;
    asm volatile("ld.shared.b32 %0, [%1];\n" : "=r"(v) : "r"(a) : "memory");
    return v;
}
/* F_SPLIT's cluster exchange: the barrier with release / acquire (the partials are ordinary stores), f32 stores
 * into this block's shared memory and loads from a peer's (a cluster address from qn_mapa) */
__device__ __forceinline__ void qn_cluster_sync_ra() {
    asm volatile("barrier.cluster.arrive.release.aligned;\nbarrier.cluster.wait.acquire.aligned;\n" ::: "memory");
}
__device__ __forceinline__ void qn_sts_f2(uint32_t a, float x, float y) {
    asm volatile("st.shared.v2.f32 [%0], {%1, %2};\n" ::"r"(a), "f"(x), "f"(y) : "memory");
}
__device__ __forceinline__ float2 qn_ldc_f2(uint32_t a) {
    float2 v;
    asm volatile("ld.shared::cluster.v2.f32 {%0, %1}, [%2];\n" : "=f"(v.x), "=f"(v.y) : "r"(a) : "memory");
    return v;
}
__device__ __forceinline__ float4 qn_ldc_f4(uint32_t a) {
    float4 v;
    asm volatile("ld.shared::cluster.v4.f32 {%0, %1, %2, %3}, [%4];\n"
                 : "=f"(v.x), "=f"(v.y), "=f"(v.z), "=f"(v.w)
                 : "r"(a)
                 : "memory");
    return v;
}
__device__ __forceinline__ void qn_sts32(uint32_t a, uint32_t v) {
    asm volatile("st.shared.b32 [%0], %1;\n" ::"r"(a), "r"(v) : "memory");
}
/* F_TQ / F_TO: a 4-d box (tma.cuh has 2-d and 3-d) into this CTA's shared memory completing on bar, and from it to
 * global memory in this thread's bulk group */
__device__ __forceinline__ void qn_tma_load_4d(uint32_t dst, const CUtensorMap *map, uint32_t bar, int32_t c0, int32_t c1,
                                               int32_t c2, int32_t c3) {
    asm volatile("cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4, %5, %6}], [%2];\n"
                 ::"r"(dst), "l"((uint64_t)map), "r"(bar), "r"(c0), "r"(c1), "r"(c2), "r"(c3)
                 : "memory");
}
__device__ __forceinline__ void qn_tma_store_4d(const CUtensorMap *map, uint32_t src, int32_t c0, int32_t c1, int32_t c2,
                                                int32_t c3) {
    asm volatile("cp.async.bulk.tensor.4d.global.shared::cta.tile.bulk_group [%0, {%2, %3, %4, %5}], [%1];\n"
                 ::"l"((uint64_t)map), "r"(src), "r"(c0), "r"(c1), "r"(c2), "r"(c3)
                 : "memory");
}

/* TMA (fa13): the producer form's K/V tiles by cp.async.bulk.tensor from one thread (4 boxes a tile, the
 * stage's bytes counted on its full barrier) instead of 16-byte cp.async from 128 threads: the producer's issue
 * slots and registers go to the consumers (setmaxnreg 24 / 240). Needs kv_lens == NULL: the box's keys past Nk
 * read as zeros, but keys in [kv_lens[b], Nk) would be read from memory (possibly NaN, and 0 x NaN in P . V). */
/* PER (fa13): persistent blocks (one a SM, looping over the row blocks, the heaviest first under causal masking):
 * the producer loads the next block's Q once the consumers' last Q . K^T of the current one is done (barrier
 * qempty) and its K/V tiles into the stages as they free up, so one block's last tiles and epilogue run under the
 * next one's start (short sequences: a block of 512-1k causal rows has 1-8 tiles). */
template <typename T, int BN, int S, bool OV, int WGN, bool WS, bool PP, bool SW, bool TMA = false, bool PER = false,
          long long FL = 0>
__global__ void __launch_bounds__(128 * WGN, 1) attn_wg_kernel(const Params p, const __grid_constant__ MapsT<TMA, (FL & F_TQ) != 0> mp) {
#if QN_AWG_HAVE
    constexpr bool KV2 = (FL & F_KV2) != 0, DIAG = (FL & F_DIAG) != 0, PO = PER && KV2;
    constexpr bool PVH = (FL & F_PVH) != 0, B2B = (FL & F_B2B) != 0, EPI = (FL & F_EPI) != 0;
    static_assert(!EPI || B2B, "the epilogue under the next turn: the back-to-back form (70)");
    constexpr bool EPIP = (FL & F_EPIP) != 0;
    static_assert(!EPIP || EPI, "the packed epilogue: with F_EPI");
    constexpr bool CRS = (FL & F_CRS) != 0, PEX = (FL & F_PEX) != 0;
    static_assert(!CRS || (PVH && !(FL & (F_SKIP | F_TREE | F_EPI | F_KSPL))), "conditional rescaling: the PVH forms' softmax_max");
    /* (not the back-to-back form: with PEX ptxas serialized its wgmma for want of registers, C7511, at a quarter and at
     * an eighth of the columns alike: 70's consumers sit at the 240-register cap with P of the tile before live) */
    static_assert(!PEX || (CRS && !B2B), "the polynomial ex2: with F_CRS, not back to back");
    static_assert(!(FL & F_QE) || (PER && (FL & F_PAIR) && (FL & F_KV2) && (FL & F_TO)), "the next Q early: the PO producer");
    static_assert(!(FL & F_FDIV) || (PER && (FL & F_PAIR) && !(FL & F_KSPL)), "the walk's divisions: the pair walk");
    constexpr bool DESC = (FL & F_DESC) != 0;
    static_assert(!(FL & F_EPIB) || EPI, "the voted epilogue issue: with F_EPI");
    static_assert(!B2B || (PER && KV2 && (FL & F_PAIR) && (FL & F_TO) && PVH && !(FL & F_DIAG)),
                  "back to back: the persistent K / V split form with P . V split (66)");
    static_assert(!PVH || (PP && (FL & F_TQ) && !DIAG && !(FL & F_RLATE)), "PVH: the ping-pong TQ forms, no D / R");
    typedef Cfg<BN, S, WGN, WS, SW, KV2, PO> C;
    static_assert(!TMA || (WS && SW), "TMA: the producer form, swizzled tiles");
    static_assert(!PER || TMA, "persistent: the TMA producer form");
    static_assert(!WS || (OV && S >= (KV2 ? 2 : 3) && (WGN == 3 || (WGN == 4 && TMA && !PP))),
                  "the producer form: overlapped, 2 consumer warpgroups (3 with TMA, no ping-pong)");
    static_assert(!PP || WS, "ping-pong: between the producer form's two consumers");
    constexpr int CLN = (FL & F_CL4) ? 4 : (FL & F_CL2) ? 2 : 1; /* blocks a cluster */
    constexpr bool CL = CLN > 1;
    static_assert(!CL || (TMA && WGN == 3 && (!PER || (FL & F_HEADS))),
                  "clusters: the TMA form with 2 consumers (persistent: a head's row blocks in order, so the blocks of "
                  "a cluster hold adjacent row blocks of one head at every item; no form instantiates that: the "
                  "clusters lost 5-25% in their non-persistent forms, H100 17:13)");
    static_assert(!CL || (FL & F_EARLY), "clusters: the producer paths of E feed the cluster's tiles");
    constexpr bool QR = (FL & F_QREG) != 0;
    constexpr bool PAIR = (FL & F_PAIR) != 0;
    static_assert(!PAIR || (PER && !CL), "pairs of row blocks: the persistent form without clusters");
    static_assert(!QR || (PER && WGN == 3), "Q from registers: the persistent form with 2 consumers");
    constexpr bool TQ = (FL & F_TQ) != 0, TO = (FL & F_TO) != 0;
    static_assert(!TQ || (TMA && WGN == 3 && !CL && !QR && !(FL & (F_EARLY | F_E1 | F_QPF))),
                  "Q by TMA: the TMA form with 2 consumers and Q in shared memory, its own producer path");
    static_assert(!TO || (TQ && (!PER || PO)), "O by TMA: staged in Q's buffer (persistent: an O stage of its own)");
    static_assert(!KV2 || (TQ && (!PER || (PAIR && TO))), "K and V apart: the TQ producer paths (persistent: pairs, TO)");
    static_assert(BN <= 128 || (KV2 && C::qs), "176 / 192 keys: 2 stages (KV2), Q from shared memory");
    static_assert(!DIAG || BN == 128, "the diagonal half: 128-key tiles");
    static_assert(!(FL & (F_LPT | F_RLATE)) || (TQ && !PER), "fa17's options: the non-persistent TQ forms");
    static_assert(!(FL & F_TRACE) || TQ, "the trace: the TQ forms (fa19: persistent too)");
    constexpr bool SPL = (FL & F_SPLIT) != 0;
    static_assert(!SPL || (TQ && TO && !PER && !CL), "the split tail: the non-persistent TQ / TO forms");
    constexpr int NS = BN / 8, PK = BN / 16, TILE = C::tile, STAGE = C::stage, kRB = C::rb, kNT = C::nt;
    /* PVH: P . V's k16 steps issued before the S wait */
    [[maybe_unused]] constexpr int PVA = (FL & F_PVLO)  ? PK / 4
                                         : (FL & F_PVHI) ? 3 * PK / 4
                                         : (FL & F_PV7)  ? PK - 1
                                         : (FL & F_PV5)  ? 5 * PK / 8
                                                         : PK / 2;
    constexpr bool QS = C::qs;
    static_assert(!DESC || (SW && QS && !(FL & F_QREG) && PVH), "base-plus-offset descriptors: the swizzled Q-in-shared forms with PVH");
    /* 128-key tiles in the producer form: the consumers take the producer's registers (setmaxnreg: 232 each for
     * the 2 consumer warpgroups, 40 for the producer; 384 threads otherwise get 168). ptxas allocates per region:
     * code after setmaxnreg gets its count, code the regions share the entry cap (168) */
    constexpr bool REGS = WS && (BN == 128 || TMA);
    /* 128 x PREG + 128 (WGN - 1) x CREG <= 64K; 3 consumers (192 rows, 2/3 of the K/V bytes a row): 160 each */
    constexpr int PREG = TMA ? 24 : 40, CREG = WGN == 4 ? 160 : TMA ? 240 : 232;
    constexpr int BF = Ty<T>::bf;
    static_assert(BN == 64 || BN == 128 || BN == 176 || BN == 192, "S = Q.K^T is one m64nBN accumulator");
    static_assert(S >= (OV && !KV2 ? 3 : 2), "stages: the tile computed (and, overlapped, the one before) plus copies");
    extern __shared__ __align__(128) uint8_t smem[];
    const uint32_t sbase = SW ? (qn_smem_u32(smem) + 1023u) & ~1023u : qn_smem_u32(smem);
    const int tid = threadIdx.x, wg = tid >> 7, warp = (tid >> 5) & 3, lane = tid & 31, g = lane >> 2, t = lane & 3;
    const int cw = WS ? wg - 1 : wg; /* the consumer warpgroup's row group (WS: -1 for the producer) */
    constexpr int LNT = WS ? 128 : kNT; /* threads that copy */
    /* the block's rows (row block mb of KV head hkv of batch b), the keys they see (L), the tiles visited
     * (tb .. tb + n - 1); set once, or per work item by the persistent forms */
    /* The persistent forms carry these from item to item in 32 bits (qn_cuda_attn_wg_applies keeps rows and keys
     * under 2^30; a 64-bit division is a call, and 64-bit copies spilled there) and set them per item (set_block);
     * the others compute them once, here, as before (through the lambda, or in 32 bits, n128s2sw went from 230 to
     * 255 registers). */
    typedef typename std::conditional<PER, int, long long>::type I;
    /* the last rows see the most keys under causal masking: start them first */
    I mb = (I)gridDim.x - 1 - (I)blockIdx.x, hkv = blockIdx.y, b = blockIdx.z;
    I L = p.Nk;
    if (p.kv_lens) {
        const I l = p.kv_lens[b];
        L = l < 0 ? 0 : (l > p.Nk ? (I)p.Nk : l);
    }
    I r0 = mb * kRB, rend = r0 + kRB < p.rows_fold ? r0 + kRB : p.rows_fold;
    I pmin = L - p.Nq + r0 / p.G, pmax = L - p.Nq + (rend - 1) / p.G;
    I tb;
    int n;
    {
        long long lo = 0, hi = L;
        if (p.causal && hi > pmax + 1) hi = pmax + 1;
        if (p.window > 0 && lo < pmin - p.window + 1) lo = pmin - p.window + 1;
        tb = lo / BN;
        n = hi > lo ? (int)((hi + BN - 1) / BN - tb) : 0;
    }
    /* CL: the tiles of the cluster's row blocks (mb & ~(CLN - 1) ..; the host launches a multiple of CLN row
     * blocks): nu from tbu, this block's own ones from tile pre of those */
    long long tbu = 0;
    int nu = 0, pre = 0;
    auto set_union = [&]() {
        if constexpr (CL) {
            const long long r0u = (long long)(mb & ~(I)(CLN - 1)) * kRB,
                            rendu = r0u + CLN * kRB < p.rows_fold ? r0u + CLN * kRB : p.rows_fold;
            const long long pminu = L - p.Nq + r0u / p.G, pmaxu = L - p.Nq + (rendu - 1) / p.G;
            long long lo = 0, hi = L;
            if (p.causal && hi > pmaxu + 1) hi = pmaxu + 1;
            if (p.window > 0 && lo < pminu - p.window + 1) lo = pminu - p.window + 1;
            tbu = lo / BN;
            nu = hi > lo ? (int)((hi + BN - 1) / BN - tbu) : 0;
            pre = n > 0 ? (int)(tb - tbu) : nu;
        }
    };
    set_union();
    const T *Q = static_cast<const T *>(p.q);
    const T *K = static_cast<const T *>(p.k) + (b * p.Hkv + hkv) * p.Nk * kD;
    const T *V = static_cast<const T *>(p.v) + (b * p.Hkv + hkv) * p.Nk * kD;
    /* F_FDIV: x / G for 0 <= x < 2^31 by the host's multiply-shift (the other forms keep their own divisions) */
    [[maybe_unused]] auto div_g = [&](unsigned x) -> unsigned { return fdiv31(x, p.fd_m[kFdG], p.fd_s[kFdG]); };
    auto set_block = [&](I mb_, I hkv_, I b_) {
        mb = mb_, hkv = hkv_, b = b_;
        L = (I)p.Nk;
        if (p.kv_lens) {
            const I l = p.kv_lens[b];
            L = l < 0 ? 0 : (l > p.Nk ? (I)p.Nk : l);
        }
        const unsigned G = (unsigned)p.G;
        const int Nq = (int)p.Nq, rows = (int)p.rows_fold;
        r0 = mb * kRB, rend = r0 + kRB < rows ? r0 + kRB : rows;
        if constexpr ((FL & F_FDIV) != 0) {
            pmin = L - Nq + (int)div_g((unsigned)r0), pmax = L - Nq + (int)div_g((unsigned)(rend - 1));
        } else {
            pmin = L - Nq + (int)((unsigned)r0 / G), pmax = L - Nq + (int)((unsigned)(rend - 1) / G);
        }
        I lo = 0, hi = L;
        if (p.causal && hi > pmax + 1) hi = pmax + 1;
        if (p.window > 0 && lo < pmin - p.window + 1) lo = pmin - p.window + 1;
        tb = lo / BN;
        n = hi > lo ? (int)((hi + BN - 1) / BN - tb) : 0;
        K = static_cast<const T *>(p.k) + (b * p.Hkv + hkv) * p.Nk * kD;
        V = static_cast<const T *>(p.v) + (b * p.Hkv + hkv) * p.Nk * kD;
        set_union();
    };
    /* work item w of the persistent forms: causal, the last row blocks (most keys) of every head first; else a
     * head's blocks together (its K/V stay in L2) */
    auto set_work = [&](unsigned w) { /* (the host keeps items under 2^31 for these) */
        const unsigned nmb = (unsigned)p.nmb, hk = (unsigned)p.Hkv, bh = (unsigned)p.bh;
        if (p.causal && !(FL & F_HEADS)) {
            const unsigned h = w % bh;
            set_block((int)(nmb - 1 - w / bh), (int)(h % hk), (int)(h / hk));
        } else {
            const unsigned h = w / nmb;
            set_block((int)(nmb - 1 - w % nmb), (int)(h % hk), (int)(h / hk));
        }
    };
    /* PAIR: this block's item `item` (0, 1: the two row blocks of its first pair, ...): 0 past the last pair, 2 the
     * second half of an odd head's middle pair (nothing), else 1 with the row block set (KSPL with p.ksplit: the
     * split walk instead, see F_KSPL) */
    auto pair_work = [&](int item) -> int {
        if constexpr ((FL & F_KSPL) != 0)
            if (p.ksplit > 0 && (unsigned)item >= 2u * ((unsigned)p.nmb / 2u * (unsigned)p.bh / gridDim.x)) {
                /* past 70's whole rounds of pairs (items < 2 Rp run 70's walk, below): the Lp pairs left as 2 Lp items,
                 * one a block while they fill the grid, then the r left after that in s parts (s = 1: whole) */
                const unsigned nmb = (unsigned)p.nmb, hp = nmb / 2u, P = hp * (unsigned)p.bh, Gd = gridDim.x, Rp = P / Gd;
                const unsigned Li = 2u * (P - Rp * Gd), rnd = Li >= Gd ? 1u : 0u, r = Li - rnd * Gd, s = (unsigned)p.ksplit;
                const unsigned x = blockIdx.x, it = (unsigned)item - 2u * Rp;
                unsigned e;
                int c = -1;
                if (rnd && it == 0) {
                    e = x;
                } else if (it == rnd && x < r * s) {
                    e = rnd * Gd + x / s, c = (int)(x % s);
                } else {
                    return 0;
                }
                const unsigned pr = Rp * Gd + e / 2u, h = pr / hp, k = pr % hp, hk = (unsigned)p.Hkv;
                set_block((int)((e & 1u) ? k : nmb - 1u - k), (int)(h % hk), (int)(h / hk));
                if (c >= 0 && s > 1u) { /* part c of s: tiles c ch .. (the host keeps (s - 1) ch < n: none empty) */
                    const int all = n, ch = (all + (int)s - 1) / (int)s;
                    tb += (I)(c * ch);
                    n = all - c * ch < ch ? all - c * ch : ch;
                }
                return 1;
            }
        const unsigned hp = ((unsigned)p.nmb + 1u) / 2u, pairs = hp * (unsigned)p.bh;
        const unsigned pr = blockIdx.x + (unsigned)(item >> 1) * gridDim.x;
        if (pr >= pairs) return 0;
        if constexpr ((FL & F_FDIV) != 0) {
            const unsigned h = fdiv31(pr, p.fd_m[kFdHp], p.fd_s[kFdHp]), k = pr - h * hp, nmb = (unsigned)p.nmb;
            if ((item & 1) && nmb - 1u - k == k) return 2;
            const unsigned hk = (unsigned)p.Hkv, bq = fdiv31(h, p.fd_m[kFdHk], p.fd_s[kFdHk]);
            set_block((int)((item & 1) ? k : nmb - 1u - k), (int)(h - bq * hk), (int)bq);
            return 1;
        }
        const unsigned h = pr / hp, k = pr % hp, nmb = (unsigned)p.nmb;
        if ((item & 1) && nmb - 1u - k == k) return 2;
        const unsigned hk = (unsigned)p.Hkv;
        set_block((int)((item & 1) ? k : nmb - 1u - k), (int)(h % hk), (int)(h / hk));
        return 1;
    };
    /* SPL: a block of the tail launch (read from the parameter where needed) */
    [[maybe_unused]] auto tail = [&]() { return SPL && p.items < 0; };
    if constexpr (PER) {
        set_work(blockIdx.x);
    } else if constexpr (TQ) {
        if constexpr ((FL & F_LPT) != 0)
            if (p.causal && p.items > 0) { /* LPT: linear block id -> group of k heads, row block (heaviest first), head */
                const unsigned nmb = (unsigned)p.nmb, H = (unsigned)p.bh, k = (unsigned)p.items;
                const unsigned lin = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
                const unsigned gsz = k * nmb, gi = lin / gsz, q = lin - gi * gsz, h0 = gi * k;
                const unsigned kg = H - h0 < k ? H - h0 : k, h = h0 + q % kg, hk = (unsigned)p.Hkv;
                mb = (I)(nmb - 1 - q / kg), hkv = (I)(h % hk), b = (I)(h / hk);
            }
        if constexpr (SPL) {
            if (p.items < 0) { /* the tail launch, grid (s, r): block (c, i) takes part c of the i-th of the last r */
                const unsigned nmb = (unsigned)p.nmb, lin = nmb * (unsigned)p.bh - gridDim.y + blockIdx.y;
                const unsigned h = lin / nmb, hk = (unsigned)p.Hkv;
                mb = (I)(nmb - 1 - (lin - h * nmb)), hkv = (I)(h % hk), b = (I)(h / hk);
            } else if (!p.causal && p.items > 0) { /* the main launch: the last r blocks are the tail launch's */
                const unsigned lin = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
                if (lin >= (unsigned)p.items) return;
            }
        }
        set_block(mb, hkv, b); /* (32-bit divisions: the 64-bit ones above become dead code) */
        if constexpr (SPL)
            if (tail()) { /* tiles part c of s (a part past the end: none; its rows' partials are empty) */
                const int all = n, s = (int)gridDim.x, c = (int)blockIdx.x, ch = (all + s - 1) / s;
                tb += (I)c * ch;
                n = all - c * ch < ch ? all - c * ch : ch;
                if (n < 0) n = 0;
            }
    }

    /* thread tid copies pieces i = tid + NT v: key (i / 128) * 8 + i % 8, dims 8 ((i / 8) % 16) .. + 7; keys
     * at or past L are zero-filled (never stale or NaN bytes in the products: P is 0 there, but 0 * NaN is not) */
    auto load_tile = [&](long long tile, int st) {
        const long long k0 = tile * BN;
        const uint32_t kb = sbase + st * STAGE, vb = kb + TILE;
        /* the producer form unrolls twice only: a full unroll's addresses need ~60 registers, more than the
         * producer keeps after setmaxnreg (fully unrolled, the 128-key forms spilled 100-300 bytes) */
        constexpr int LU = WS ? 2 : 32;
#pragma unroll LU
        for (int v = 0; v < (BN * 16 + LNT - 1) / LNT; ++v) {
            const int i = tid + v * LNT;
            if ((BN * 16) % LNT && i >= BN * 16) break;
            /* SW: key n = i / 16, chunk c = i % 16 (a warp reads two whole rows); no swizzle: a quarter warp
             * writes one core matrix */
            const int r8 = SW ? (i >> 4) & 7 : i & 7, c = SW ? i & 15 : (i >> 3) & 15, ng = SW ? i >> 7 : i >> 7;
            const long long key = k0 + ng * 8 + r8;
            const bool ok = key < L;
            const long long off = ok ? key * kD + c * 8 : 0;
            const uint32_t so = SW ? sw_off(BN, ng * 8 + r8, c) : (uint32_t)((c * (BN / 8) + ng) * 128 + r8 * 16);
            qn_cp_async16(kb + so, K + off, ok);
            qn_cp_async16(vb + so, V + off, ok);
        }
    };
    /* Q into shared memory (the 3-warpgroup form): the same core-matrix layout as K (row m, dims 8c .. 8c + 7 at
     * (c * RB / 8 + m / 8) * 128 + (m % 8) * 16), rows past the block's end zero-filled; its own copy group, the
     * oldest, so every later wait covers it */
    const uint32_t qsbase = sbase + S * STAGE;
    /* PO: the current item's Q buffer (items alternate between two), its full / empty barriers (set below) */
    [[maybe_unused]] uint32_t qcur = qsbase;
    auto load_q = [&]() {
        constexpr int LU = WS ? 2 : 32; /* (as load_tile's) */
#pragma unroll LU
        for (int v = 0; v < kRB * 16 / LNT; ++v) {
            const int i = tid + v * LNT;
            const int r8 = SW ? (i >> 4) & 7 : i & 7, c = SW ? i & 15 : (i >> 3) & 15, mg = i >> 7;
            const long long r = r0 + mg * 8 + r8;
            const bool ok = r < rend;
            const T *src = ok ? Q + ((b * p.Hq + hkv * p.G + r % p.G) * p.Nq + r / p.G) * kD + c * 8 : Q;
            qn_cp_async16(qsbase + (SW ? sw_off(kRB, mg * 8 + r8, c) : (uint32_t)((c * (kRB / 8) + mg) * 128 + r8 * 16)),
                          src, ok);
        }
    };
    if constexpr (QS && !WS) {
        load_q();
        qn_cp_async_commit();
    }
    constexpr int AHEAD = WS ? 0 : OV ? S - 2 : S - 1; /* tiles the prologue copies */
#pragma unroll
    for (int s = 0; s < AHEAD; ++s) {
        if (s < n) load_tile(tb + s, s);
        qn_cp_async_commit();
    }

    /* Q as A fragments (rows ra = g and rb = g + 8 of the warp's 16; k 2t, 2t + 1 and 8 + 2t, 9 + 2t of each
     * k16 step), straight from global memory; rows past the block's end are zeros (never stored) */
    I ra = r0 + cw * 64 + warp * 16 + g, rb = ra + 8;
    uint32_t qf[QS && !QR ? 1 : kD / 16][4];
    if constexpr (!QS) {
        const bool va = ra < rend, vb = rb < rend;
        const uint32_t *qa = reinterpret_cast<const uint32_t *>(
            Q + (va ? ((b * p.Hq + hkv * p.G + ra % p.G) * p.Nq + ra / p.G) * kD : 0));
        const uint32_t *qb = reinterpret_cast<const uint32_t *>(
            Q + (vb ? ((b * p.Hq + hkv * p.G + rb % p.G) * p.Nq + rb / p.G) * kD : 0));
#pragma unroll
        for (int kk = 0; kk < kD / 16; ++kk) {
            qf[kk][0] = va ? qa[8 * kk + t] : 0u;
            qf[kk][1] = vb ? qb[8 * kk + t] : 0u;
            qf[kk][2] = va ? qa[8 * kk + 4 + t] : 0u;
            qf[kk][3] = vb ? qb[8 * kk + 4 + t] : 0u;
        }
    }

    float o[kD / 8][4];
#pragma unroll
    for (int j = 0; j < kD / 8; ++j) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.f;
    float m[2] = {-INFINITY, -INFINITY}, ls[2] = {0.f, 0.f};
    /* CRS: the warp's last softmax_max moved m (so O needs its rescale by alpha); uniform in the warp (a vote) */
    [[maybe_unused]] bool crs = true;
    const uint32_t vlbo = p.vswap ? BN * 16 : 128, vsbo = p.vswap ? 128 : BN * 16;

    /* S = Q . K^T of the tile at kbase, issued and committed (one wgmma group). (DIAG's n64 form of the diagonal
     * tile's product in a branch beside the n128 one: ptxas serialized every wgmma of the kernel, C7511 — its
     * accumulators in other registers than the n128's) */
    auto issue_s = [&](float (&s)[NS][4], uint32_t kbase) {
        qn_wg_fence();
        /* DESC: the turn's base descriptors, each product's a constant over them */
        [[maybe_unused]] const uint64_t kd0 = qn_wg_desc_sw128(kbase, 16, 1024);
        [[maybe_unused]] const uint64_t qd0 = qn_wg_desc_sw128((PO ? qcur : qsbase) + cw * 64 * 128, 16, 1024);
#pragma unroll
        for (int kk = 0; kk < kD / 16; ++kk) { /* dims 16 kk .. 16 kk + 15: core-matrix columns 2 kk, 2 kk + 1 */
            /* SW: 64-dim block kk / 4, 32 bytes a k16 step inside its 128-byte rows (the swizzle is applied to
             * the address bits, so the start may move inside the 1024-byte atom); 8-row groups 1024 bytes apart */
            const uint64_t kdesc =
                DESC ? desc_add(kd0, ((kk >> 2) * (BN * 128) + (kk & 3) * 32) >> 4)
                : SW ? qn_wg_desc_sw128(kbase + (kk >> 2) * (BN * 128) + (kk & 3) * 32, 16, 1024)
                     : qn_wg_desc(kbase + kk * 2 * (BN * 16), BN * 16, 128);
            if constexpr (QS && !QR) /* this warpgroup's 64 rows: 8 row groups from group 8 wg */
                MmaS<BF, BN>::run_ss(
                    s,
                    DESC ? desc_add(qd0, ((kk >> 2) * (kRB * 128) + (kk & 3) * 32) >> 4)
                    : SW ? qn_wg_desc_sw128((PO ? qcur : qsbase) + (kk >> 2) * (kRB * 128) + (kk & 3) * 32 + cw * 64 * 128,
                                            16, 1024)
                         : qn_wg_desc(qsbase + kk * 2 * (kRB * 16) + cw * 8 * 128, kRB * 16, 128),
                    kdesc, kk > 0);
            else
                MmaS<BF, BN>::run(s, qf[kk], kdesc, kk > 0);
        }
        qn_wg_commit();
    };
    /* O += P . V of the tile at vbase, issued and committed; half (DIAG): its first 64 keys (P is 0 past them).
     * The branch's condition through a vote and the fences inside it: else ptxas serialized every wgmma (C7520,
     * a compiler-inserted warpgroup arrive in a divergent path) */
    auto issue_pv = [&](const uint32_t (&pf)[PK][4], uint32_t vbase, bool half) {
        if constexpr (DIAG) {
            if (__all_sync(0xffffffffu, half)) {
                qn_wg_fence();
#pragma unroll
                for (int j = 0; j < PK / 2; ++j)
                    qn_wg_mma16_n128<BF, 1>(o, pf[j], qn_wg_desc_sw128(vbase + j * 2048, BN * 128, 1024), 1);
                qn_wg_commit();
                return;
            }
        }
        qn_wg_fence();
#pragma unroll
        for (int j = 0; j < PK; ++j) /* keys 16 j .. 16 j + 15: core-matrix rows 2 j, 2 j + 1 */
            qn_wg_mma16_n128<BF, 1>(o, pf[j],
                                    SW ? qn_wg_desc_sw128(vbase + j * 2048, BN * 128, 1024) /* MN-major, swizzled:
                                           leading = next 64 dims, stride = next 8 keys */
                                       : qn_wg_desc(vbase + j * 2 * 128, vlbo, vsbo),
                                    1);
        qn_wg_commit();
    };
    /* PVH: k16 steps [j0, j1) of issue_pv as one wgmma group ([0, PK / 2) then [PK / 2, PK): issue_pv's products in
     * its order, so O accumulates the same steps in the same sequence); j0, j1 constants at every call (a lambda
     * generic in them crashed cicc 13.0) */
    auto issue_pv_part = [&](const uint32_t (&pf)[PK][4], uint32_t vbase, const int j0, const int j1) {
        qn_wg_fence();
        [[maybe_unused]] const uint64_t vd0 = qn_wg_desc_sw128(vbase, BN * 128, 1024); /* (DESC) */
#pragma unroll
        for (int j = 0; j < PK; ++j)
            if (j >= j0 && j < j1)
                qn_wg_mma16_n128<BF, 1>(o, pf[j],
                                        DESC ? desc_add(vd0, (j * 2048) >> 4)
                                        : SW ? qn_wg_desc_sw128(vbase + j * 2048, BN * 128, 1024)
                                             : qn_wg_desc(vbase + j * 2 * 128, vlbo, vsbo),
                                        1);
        qn_wg_commit();
    };
    /* masks the scores of the tile at key k0 where it crosses a boundary, then the online softmax: s becomes P
     * (f32), m and ls move on, alpha is what O (as of the tiles before) must be scaled by */
    auto mask_tile = [&](float (&s)[NS][4], long long k0) {
        const bool edge = p.mask != nullptr || k0 + BN > L || (p.causal && k0 + BN - 1 > pmin) ||
                          (p.window > 0 && k0 <= pmax - p.window);
        if (edge && (FL & F_CMASK) && p.mask == nullptr && p.window <= 0) {
            /* no mask, no window: the visible keys of a row are those <= lim (one compare a score; the general
             * path below tests each bound and the mask pointer per score, with a branch each) */
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                int r = (int)(h ? rb : ra);
                if (r >= (int)rend) r = (int)rend - 1;
                const int pos = (int)(L - p.Nq) + ((FL & F_FDIV) ? (int)div_g((unsigned)r) : r / (int)p.G);
                const int lim = (p.causal && pos < (int)L - 1 ? pos : (int)L - 1) - ((int)k0 + 2 * t);
#pragma unroll
                for (int j = 0; j < NS; ++j)
#pragma unroll
                    for (int e = 0; e < 2; ++e)
                        if (j * 8 + e > lim) s[j][2 * h + e] = -INFINITY;
            }
        } else if (edge) {
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                long long r = h ? rb : ra;
                if (r >= rend) r = rend - 1;
                const long long qq = r / p.G;
                const int pos = (int)(L - p.Nq + qq);
                const uint8_t *mr = p.mask ? p.mask + (p.mask_batched ? b * p.Nq * p.Nk : 0) + qq * p.Nk : nullptr;
#pragma unroll
                for (int j = 0; j < NS; ++j)
#pragma unroll
                    for (int e = 0; e < 2; ++e) {
                        const int key = (int)k0 + j * 8 + 2 * t + e;
                        const bool vis = key < (int)L && (!p.causal || key <= pos) &&
                                         (p.window <= 0 || key > pos - p.window) && (mr == nullptr || mr[key] != 0);
                        if (!vis) s[j][2 * h + e] = -INFINITY;
                    }
            }
        }
    };
    auto softmax = [&](float (&s)[NS][4], long long k0, float (&alpha)[2]) {
        mask_tile(s, k0);
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            float mx = -INFINITY;
            if constexpr ((FL & F_TREE) != 0) {
                float tr[NS];
#pragma unroll
                for (int j = 0; j < NS; ++j) tr[j] = fmaxf(s[j][2 * h], s[j][2 * h + 1]);
#pragma unroll
                for (int w = 1; w < NS; w *= 2)
#pragma unroll
                    for (int j = 0; j + w < NS; j += 2 * w) tr[j] = fmaxf(tr[j], tr[j + w]);
                mx = tr[0];
            } else {
#pragma unroll
                for (int j = 0; j < NS; ++j) mx = fmaxf(mx, fmaxf(s[j][2 * h], s[j][2 * h + 1]));
            }
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
            /* raw scores, the scale folded into one FFMA (sl2 > 0) */
            const float mnew = fmaxf(m[h], mx * p.sl2);
            const float muse = mnew == -INFINITY ? 0.f : mnew;
            alpha[h] = ex2(m[h] - muse);
            m[h] = mnew;
            float sum = 0.f;
            if constexpr ((FL & F_TREE) != 0) {
                float tr[NS];
#pragma unroll
                for (int j = 0; j < NS; ++j) {
                    s[j][2 * h] = ex2(fmaf(s[j][2 * h], p.sl2, -muse));
                    s[j][2 * h + 1] = ex2(fmaf(s[j][2 * h + 1], p.sl2, -muse));
                    tr[j] = s[j][2 * h] + s[j][2 * h + 1];
                }
#pragma unroll
                for (int w = 1; w < NS; w *= 2)
#pragma unroll
                    for (int j = 0; j + w < NS; j += 2 * w) tr[j] += tr[j + w];
                sum = tr[0];
            } else {
#pragma unroll
                for (int j = 0; j < NS; ++j) {
                    s[j][2 * h] = ex2(fmaf(s[j][2 * h], p.sl2, -muse));
                    s[j][2 * h + 1] = ex2(fmaf(s[j][2 * h + 1], p.sl2, -muse));
                    sum += s[j][2 * h] + s[j][2 * h + 1];
                }
            }
            ls[h] = ls[h] * alpha[h] + sum;
        }
    };
    /* PVH: softmax's steps in two phases for both rows, the row max (-> alpha, muse) and then the ex2 and sums, so
     * that the caller can issue work between them: the same operations on each row, the same bits (the chains) */
    auto softmax_max = [&](float (&s)[NS][4], long long k0, float (&alpha)[2], float (&muse)[2]) {
        [[maybe_unused]] float mn[2];
        mask_tile(s, k0);
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            float mx = -INFINITY;
#pragma unroll
            for (int j = 0; j < NS; ++j) mx = fmaxf(mx, fmaxf(s[j][2 * h], s[j][2 * h + 1]));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
            const float mnew = fmaxf(m[h], mx * p.sl2);
            if constexpr (CRS) {
                mn[h] = mnew;
            } else {
                muse[h] = mnew == -INFINITY ? 0.f : mnew;
                alpha[h] = ex2(m[h] - muse[h]);
                m[h] = mnew;
            }
        }
        if constexpr (CRS) {
            /* m moves for the whole warp once a row's max grew by more than kCrsT (from -inf: any key seen); else P is
             * scaled to the stale m (P <= 2^kCrsT) and alpha is 1 */
            /* (mn - m, not mn > m + kCrsT: ptxas kept m + kCrsT live across the loop, 2 registers; -inf - -inf is NaN:
             * false, as a row that sees nothing should be) */
            crs = __any_sync(0xffffffffu, mn[0] - m[0] > kCrsT || mn[1] - m[1] > kCrsT);
            /* (selects, no branch: where m stays, alpha = 2^(m - m) = 1 exactly; a row with m = -inf that stays has seen
             * no key, its O and l are 0 and alpha = 0 changes nothing) */
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                const float mu = crs ? mn[h] : m[h];
                muse[h] = mu == -INFINITY ? 0.f : mu;
                alpha[h] = ex2(m[h] - muse[h]);
                m[h] = mu;
            }
        }
    };
    auto softmax_exp = [&](float (&s)[NS][4], const float (&alpha)[2], const float (&muse)[2]) {
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            float sum = 0.f;
#pragma unroll
            for (int j = 0; j < NS; ++j) {
                if (PEX && j % 4 == 3) { /* (PEX: a quarter of the columns on the FMA pipe) */
                    s[j][2 * h] = ex2_poly(fmaf(s[j][2 * h], p.sl2, -muse[h]));
                    s[j][2 * h + 1] = ex2_poly(fmaf(s[j][2 * h + 1], p.sl2, -muse[h]));
                } else {
                    s[j][2 * h] = ex2(fmaf(s[j][2 * h], p.sl2, -muse[h]));
                    s[j][2 * h + 1] = ex2(fmaf(s[j][2 * h + 1], p.sl2, -muse[h]));
                }
                sum += s[j][2 * h] + s[j][2 * h + 1];
            }
            ls[h] = ls[h] * alpha[h] + sum; /* (CRS: alpha 1 where m stayed, the same as ls + sum) */
        }
    };
    auto rescale = [&](const float (&alpha)[2]) {
        if constexpr ((FL & F_SKIP) != 0)
            if (!__any_sync(0xffffffffu, alpha[0] != 1.f || alpha[1] != 1.f)) return;
        if constexpr (CRS)
            if (!crs) return; /* (the warp's m stayed: alpha is 1) */
#pragma unroll
        for (int j = 0; j < kD / 8; ++j) {
            o[j][0] *= alpha[0];
            o[j][1] *= alpha[0];
            o[j][2] *= alpha[1];
            o[j][3] *= alpha[1];
        }
    };
    /* P as the A fragments of the second product: accumulator columns 16 j .. 16 j + 15 are k16 step j */
    auto pack = [&](const float (&s)[NS][4], uint32_t (&pf)[PK][4]) {
#pragma unroll
        for (int j = 0; j < PK; ++j) {
            pf[j][0] = Ty<T>::pack(s[2 * j][0], s[2 * j][1]);
            pf[j][1] = Ty<T>::pack(s[2 * j][2], s[2 * j][3]);
            pf[j][2] = Ty<T>::pack(s[2 * j + 1][0], s[2 * j + 1][1]);
            pf[j][3] = Ty<T>::pack(s[2 * j + 1][2], s[2 * j + 1][3]);
        }
    };
    /* this thread's copies of tile it landed (at most PEND younger groups in flight), fenced to the async proxy;
     * the barrier: everyone's, and both warpgroups are past the iteration before */
    auto arrive = [&]() {
        qn_fence_proxy_async();
        __syncthreads();
    };

    /* O / l to the output (rows past the block's end are not stored); the producer form calls it from its
     * consumer branch, so that no code after the branches is shared with the producer (ptxas allocates registers
     * per setmaxnreg region: shared code is held to the entry cap of 168) */
    /* TO: O / l of this consumer's 64 rows (first row er0 of the block, head ec3 = b * Hkv + hkv; row sums lsv) into
     * its own Q rows (its last Q . K^T is complete; no one else reads them), then one thread stores them by TMA (64
     * dims x G heads x 64 / G positions, twice; positions past Nq are not written). PO: into the O stage, once the
     * item before's store has read it (the next item's Q may already be landing in the other buffer). (fa20's F_B2B
     * passes the item before's values: the block's r0 / b / hkv are the next item's by then) */
    [[maybe_unused]] auto store_rows = [&](const float (&lsv)[2], int er0, int ec3) {
        const uint32_t ob = PO ? qsbase + 2 * C::qbytes : qsbase;
        if constexpr (PO) {
            if ((tid & 127) == 0) qn_tma_store_wait_read<0>();
            qn_named_sync(3 + cw, 128);
        }
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            float l = lsv[h];
            l += __shfl_xor_sync(0xffffffffu, l, 1);
            l += __shfl_xor_sync(0xffffffffu, l, 2);
            const float inv = l > 0.f ? 1.f / l : 0.f;
            const int lr = cw * 64 + warp * 16 + g + 8 * h;
#pragma unroll
            for (int j = 0; j < kD / 8; ++j)
                qn_sts32(ob + sw_off(kRB, lr, j) + 4 * t, Ty<T>::pack(o[j][2 * h] * inv, o[j][2 * h + 1] * inv));
        }
        qn_fence_proxy_async();
        qn_named_sync(3 + cw, 128);
        if ((tid & 127) == 0) {
            if constexpr (TQ) {
                const int p0 = (int)((FL & F_FDIV) ? div_g((unsigned)er0 + 64u * cw) : ((unsigned)er0 + 64u * cw) / (unsigned)p.G);
                qn_tma_store_4d(&mp.to, ob + cw * 64 * 128, 0, 0, p0, ec3);
                qn_tma_store_4d(&mp.to, ob + kRB * 128 + cw * 64 * 128, 64, 0, p0, ec3);
            }
            qn_tma_store_commit();
            if constexpr (!PO) /* the block's shared memory stays until the store has read it (PO: at the next
                                * item's epilogue, or the block's end) */
                qn_tma_store_wait_read<0>();
        }
    };
    /* F_EPI: store_rows in three parts — epi_begin (the store before has read the O stage; 1 / l), epi_piece (k16 step
     * kk's share: O columns 16 kk .. 16 kk + 15 of both rows, 4 st.shared), epi_end (fence, barrier, the TMA store) */
    [[maybe_unused]] auto epi_begin = [&](const float (&lsv)[2], float (&inv)[2]) {
        if ((tid & 127) == 0) qn_tma_store_wait_read<0>();
        qn_named_sync(3 + cw, 128);
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            float l = lsv[h];
            l += __shfl_xor_sync(0xffffffffu, l, 1);
            l += __shfl_xor_sync(0xffffffffu, l, 2);
            inv[h] = l > 0.f ? 1.f / l : 0.f;
        }
    };
    [[maybe_unused]] auto epi_piece = [&](const float (&inv)[2], const int kk) {
        const uint32_t ob = qsbase + 2 * C::qbytes;
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            const int lr = cw * 64 + warp * 16 + g + 8 * h;
#pragma unroll
            for (int j = 2 * kk; j < 2 * kk + 2; ++j)
                qn_sts32(ob + sw_off(kRB, lr, j) + 4 * t, Ty<T>::pack(o[j][2 * h] * inv[h], o[j][2 * h + 1] * inv[h]));
        }
    };
    /* EPIP: the same 4 st.shared from the packed copy (eo[j][h]: O columns 8 j .. 8 j + 7, row h, this thread's pair) */
    [[maybe_unused]] auto epi_piece_p = [&](const uint32_t (&eo)[kD / 8][2], const int kk) {
        const uint32_t ob = qsbase + 2 * C::qbytes;
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            const int lr = cw * 64 + warp * 16 + g + 8 * h;
#pragma unroll
            for (int j = 2 * kk; j < 2 * kk + 2; ++j) qn_sts32(ob + sw_off(kRB, lr, j) + 4 * t, eo[j][h]);
        }
    };
    [[maybe_unused]] auto epi_end = [&](int er0, int ec3) {
        const uint32_t ob = qsbase + 2 * C::qbytes;
        qn_fence_proxy_async();
        qn_named_sync(3 + cw, 128);
        if ((tid & 127) == 0) {
            if constexpr (TQ) {
                const int p0 = (int)((FL & F_FDIV) ? div_g((unsigned)er0 + 64u * cw) : ((unsigned)er0 + 64u * cw) / (unsigned)p.G);
                qn_tma_store_4d(&mp.to, ob + cw * 64 * 128, 0, 0, p0, ec3);
                qn_tma_store_4d(&mp.to, ob + kRB * 128 + cw * 64 * 128, 64, 0, p0, ec3);
            }
            qn_tma_store_commit();
        }
    };
    auto store_out = [&]() {
        if constexpr (TO) { /* (store_rows; SPL's tail blocks merge their partials first) */
            if constexpr (SPL)
                if (tail()) {
                    /* the partials into this block's stages: O [128 rows][128 dims] f32, then (m, l) a row; once
                     * both consumers' last P . V is done (the other may still read V from the stage written here) */
                    const uint32_t po = sbase, pm = sbase + kRB * kD * 4;
                    qn_named_sync(5, 256);
#pragma unroll
                    for (int h = 0; h < 2; ++h) {
                        float l = ls[h];
                        l += __shfl_xor_sync(0xffffffffu, l, 1);
                        l += __shfl_xor_sync(0xffffffffu, l, 2);
                        const int lr = cw * 64 + warp * 16 + g + 8 * h;
#pragma unroll
                        for (int j = 0; j < kD / 8; ++j)
                            qn_sts_f2(po + (lr * kD + j * 8 + 2 * t) * 4, o[j][2 * h], o[j][2 * h + 1]);
                        if (t == 0) qn_sts_f2(pm + lr * 8, m[h], l);
                    }
                    qn_cluster_sync_ra(); /* (1) every block's partials written */
                    /* this block's slice: rows c R .. c R + R - 1 (R = 128 / s), 4 dims a thread and step */
                    const int s = (int)gridDim.x, R = kRB / s, c = (int)blockIdx.x;
                    for (int it = tid - 128; it < R * 32; it += 256) {
                        const int rr = c * R + (it >> 5), d0 = (it & 31) * 4;
                        float mx = -INFINITY;
                        for (int j = 0; j < s; ++j) mx = fmaxf(mx, qn_ldc_f2(qn_mapa(pm + rr * 8, (uint32_t)j)).x);
                        float L = 0.f;
                        float4 acc = make_float4(0.f, 0.f, 0.f, 0.f);
                        for (int j = 0; j < s; ++j) {
                            const float2 ml = qn_ldc_f2(qn_mapa(pm + rr * 8, (uint32_t)j));
                            const float w = ml.x == -INFINITY ? 0.f : ex2(ml.x - mx);
                            L += w * ml.y;
                            const float4 a = qn_ldc_f4(qn_mapa(po + (rr * kD + d0) * 4, (uint32_t)j));
                            acc.x += w * a.x, acc.y += w * a.y, acc.z += w * a.z, acc.w += w * a.w;
                        }
                        const unsigned r = (unsigned)r0 + (unsigned)rr;
                        if (r < (unsigned)rend) {
                            const float inv = L > 0.f ? 1.f / L : 0.f;
                            const unsigned G = (unsigned)p.G, pos = r / G;
                            T *dst = static_cast<T *>(p.out) + ((b * p.Hq + hkv * p.G + (r - pos * G)) * p.Nq + pos) * kD + d0;
                            uint2 u;
                            u.x = Ty<T>::pack(acc.x * inv, acc.y * inv), u.y = Ty<T>::pack(acc.z * inv, acc.w * inv);
                            *reinterpret_cast<uint2 *>(dst) = u;
                        }
                    }
                    qn_cluster_sync_ra(); /* (2) no block leaves while a peer reads its partials */
                    return;
                }
            store_rows(ls, (int)r0, (int)(b * p.Hkv + hkv));
        } else {
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                float l = ls[h];
                l += __shfl_xor_sync(0xffffffffu, l, 1);
                l += __shfl_xor_sync(0xffffffffu, l, 2);
                const long long r = h ? rb : ra;
                if (r >= rend) continue;
                const float inv = l > 0.f ? 1.f / l : 0.f;
                T *dst;
                if constexpr (TQ) { /* 32-bit row arithmetic (rows < 2^30) */
                    const unsigned ru = (unsigned)r, G = (unsigned)p.G, pos = ru / G;
                    dst = static_cast<T *>(p.out) + ((b * p.Hq + hkv * p.G + (ru - pos * G)) * p.Nq + pos) * kD + 2 * t;
                } else {
                    dst = static_cast<T *>(p.out) + ((b * p.Hq + hkv * p.G + r % p.G) * p.Nq + r / p.G) * kD + 2 * t;
                }
#pragma unroll
                for (int j = 0; j < kD / 8; ++j)
                    *reinterpret_cast<uint32_t *>(dst + j * 8) = Ty<T>::pack(o[j][2 * h] * inv, o[j][2 * h + 1] * inv);
            }
        }
    };

    if constexpr (WS) {
        /* mbarriers after Q: full[s] (the producer's 128 threads arrive once its copies of the stage landed and
         * were fenced to the async proxy), empty[s] (the 256 consumer threads arrive once their P . V of the
         * stage's tile is done), qfull. The n-th use of a stage: full on parity n & 1, empty on (n & 1) ^ 1 (a
         * fresh barrier passes parity 1 at once). */
        const uint32_t bars = qsbase + C::qarea, qfull = bars + 16 * S, qempty = qfull + 8;
        /* PO: the second Q buffer's full / empty after V's */
        [[maybe_unused]] const uint32_t qfull1 = qempty + 8 + 16 * S, qempty1 = qfull1 + 8;
        auto full = [&](int st) { return bars + 8 * st; };
        auto empty = [&](int st) { return bars + 8 * (S + st); };
        /* KV2: full / empty of K are the two above, V's after qempty */
        [[maybe_unused]] auto fullv = [&](int st) { return qempty + 8 + 8 * st; };
        [[maybe_unused]] auto emptyv = [&](int st) { return qempty + 8 + 8 * (S + st); };
        if (tid == 0) {
            if constexpr (TQ) { /* the maps' descriptors fetched under the barrier init (the first box needs them) */
                qn_tma_prefetch(&mp.tq);
                qn_tma_prefetch(&mp.tk);
                qn_tma_prefetch(&mp.tv);
            }
            for (int st = 0; st < S; ++st) {
                qn_mbar_init(full(st), TMA ? 1 : 128);
                qn_mbar_init(empty(st), CL ? CLN * 4 * (WGN - 1) : 128 * (WGN - 1)); /* CL: a warp's arrival */
            }
            qn_mbar_init(qfull, TQ ? 1 : 128); /* TQ: the issuing thread's expect_tx */
            qn_mbar_init(qempty, 128 * (WGN - 1)); /* (the persistent forms: Q's last reader is done) */
            if constexpr (KV2)
                for (int st = 0; st < S; ++st) {
                    qn_mbar_init(fullv(st), 1);
                    qn_mbar_init(emptyv(st), 128 * (WGN - 1));
                }
            if constexpr (PO) {
                qn_mbar_init(qfull1, 1);
                qn_mbar_init(qempty1, 128 * (WGN - 1));
            }
            qn_mbar_init_fence();
        }
        if constexpr (CL)
            qn_cluster_sync(); /* the pair's barriers initialized before any multicast or remote arrival */
        else
            __syncthreads();
        if (wg == 0) {
            if constexpr (REGS) qn_setmaxnreg_dec<PREG>();
            /* copies one tile ahead of what it hands over: tile j's are issued, then tile j - 1 (Q at j = 0),
             * all but the newest group landed, is fenced and announced */
            /* one tile's boxes into stage st, completing on its full barrier: K and V, dims 0-63 and 64-127 (the
             * 64-dim blocks of sw_off, BN * 128 bytes apart); CL: this block's share, multicast into the cluster */
            auto boxes = [&](int st, int k0, int c2) {
                const uint32_t kb = sbase + st * STAGE;
                if constexpr (CLN == 2) { /* rank 0 K, rank 1 V */
                    const uint32_t rank = qn_cluster_rank();
                    const CUtensorMap *mm = rank ? &mp.tv : &mp.tk;
                    const uint32_t d = rank ? kb + TILE : kb;
                    qn_tma_load_3d_mc(d, mm, full(st), 0, k0, c2, (uint16_t)3);
                    qn_tma_load_3d_mc(d + BN * 128, mm, full(st), 64, k0, c2, (uint16_t)3);
                } else if constexpr (CLN == 4) { /* rank r: K (r < 2) or V, dims 64 (r & 1) .. */
                    const uint32_t rank = qn_cluster_rank();
                    qn_tma_load_3d_mc(kb + (rank >> 1) * TILE + (rank & 1) * (BN * 128), (rank >> 1) ? &mp.tv : &mp.tk,
                                      full(st), (int)(rank & 1) * 64, k0, c2, (uint16_t)15);
                } else if constexpr (TMA) {
                    qn_tma_load_3d(kb, &mp.tk, full(st), 0, k0, c2);
                    qn_tma_load_3d(kb + BN * 128, &mp.tk, full(st), 64, k0, c2);
                    qn_tma_load_3d(kb + TILE, &mp.tv, full(st), 0, k0, c2);
                    qn_tma_load_3d(kb + TILE + BN * 128, &mp.tv, full(st), 64, k0, c2);
                }
            };
            /* the persistent producer's work item `item`: 0 past the last, 2 nothing (PAIR: the second half of an odd
             * head's middle pair), 1 with the block set */
            auto take_item = [&](int item) -> int {
                if constexpr (PAIR) {
                    return pair_work(item);
                } else {
                    const unsigned w = blockIdx.x + (unsigned)item * gridDim.x;
                    if (w >= p.items) return 0;
                    if (item > 0) set_work(w);
                    return 1;
                }
            };
            /* TQ: Q's box (64 dims x G heads x 128 / G positions, twice) on qfull, by this one thread */
            auto q_boxes = [&]() {
                if constexpr (TQ) {
                    const int G = (int)p.G, c3 = (int)(b * p.Hkv + hkv), p0 = (int)((unsigned)r0 / (unsigned)G);
                    qn_mbar_arrive_expect_tx(qfull, (uint32_t)C::qbytes);
                    qn_tma_load_4d(qsbase, &mp.tq, qfull, 0, 0, p0, c3);
                    qn_tma_load_4d(qsbase + kRB * 128, &mp.tq, qfull, 64, 0, p0, c3);
                }
            };
            /* KV2: an item's n tiles, the K and V rings at count cnt: K of tile 0, then K of tile j and V of tile j - 1
             * (FlashAttention-3's order), V of the last tile, each as its stage frees up; after_k1 right after K of
             * tile 1 is issued (QE: it may move the block state on to the next item, so the item's first tile and
             * count are read here first) */
            [[maybe_unused]] auto feed_split = [&](int cnt, int c2, auto &&after_k1) {
                if constexpr (KV2) {
                    const I tb0 = tb;
                    const int n0 = n;
                    auto feed = [&](int j, bool v) {
                        const int c = cnt + j, st = c % S;
                        const uint32_t f = v ? fullv(st) : full(st), d = sbase + st * STAGE + (v ? TILE : 0);
                        const CUtensorMap *mm = v ? &mp.tv : &mp.tk;
                        qn_mbar_wait(v ? emptyv(st) : empty(st), ((c / S) & 1) ^ 1);
                        qn_mbar_arrive_expect_tx(f, TILE);
                        qn_tma_load_3d(d, mm, f, 0, (int)((tb0 + j) * BN), c2);
                        qn_tma_load_3d(d + BN * 128, mm, f, 64, (int)((tb0 + j) * BN), c2);
                    };
                    if (n0 <= 0) return;
                    feed(0, false);
                    for (int j = 1; j < n0; ++j) {
                        feed(j, false);
                        if (j == 1) after_k1();
                        feed(j - 1, true);
                    }
                    feed(n0 - 1, true);
                }
            };
            if constexpr (PO) {
                /* per work item (one thread): Q into the item's buffer once the item two before has done its last
                 * Q . K^T (long since, as a rule: the next item's Q lands under the current one), then K of tile 0,
                 * K of tile j and V of tile j - 1, V of the last tile, the K and V rings going on from the item
                 * before (cnt); nothing waits for Q to land */
                if (tid != 0) return;
                int cnt = 0, qi = 0;
                bool qnext = false; /* QE: the item's Q already issued, under the item before */
                /* the qi-th Q (the block state's rows) into buffer qi & 1, once the item two before has read it */
                auto q_issue = [&]() {
                    const int qb = qi & 1, use = qi >> 1, c2 = (int)(b * p.Hkv + hkv);
                    ++qi;
                    const uint32_t qd = qsbase + qb * C::qbytes, qf = qb ? qfull1 : qfull;
                    qn_mbar_wait(qb ? qempty1 : qempty, (use & 1) ^ 1);
                    const int p0 = (int)((unsigned)r0 / (unsigned)p.G);
                    qn_mbar_arrive_expect_tx(qf, (uint32_t)C::qbytes);
                    qn_tma_load_4d(qd, &mp.tq, qf, 0, 0, p0, c2);
                    qn_tma_load_4d(qd + kRB * 128, &mp.tq, qf, 64, 0, p0, c2);
                };
                for (int item = 0;; ++item) {
                    const int r = take_item(item);
                    if (r == 0) break;
                    if (r == 2) continue;
                    const int c2 = (int)(b * p.Hkv + hkv), n0 = n;
                    if (!qnext) q_issue();
                    qnext = false;
                    feed_split(cnt, c2, [&]() {
                        if constexpr ((FL & F_QE) != 0) {
                            /* (the next item with rows: its Q now; K of tile 1 took the stage of the item before's last
                             * K, so that item's last Q . K^T, which frees this buffer, is done or all but) */
                            int r2 = 2;
                            for (int i2 = item + 1; r2 == 2; ++i2) r2 = take_item(i2);
                            if (r2 == 1) {
                                q_issue();
                                qnext = true;
                            }
                        }
                    });
                    cnt += n0;
                }
                return;
            }
            if constexpr (PER && TQ) {
                /* per work item (one thread; FlashAttention-3's order): the item's first tile as soon as its stage is
                 * free (under the item before), Q once the consumers' last Q . K^T of the item before is done, then
                 * the item's other tiles; nothing waits for Q to land */
                if (tid != 0) return;
                int cnt = 0, qi = 0;
                for (int item = 0;; ++item) {
                    const int r = take_item(item);
                    if (r == 0) break;
                    if (r == 2) continue;
                    const int ph = PAIR ? qi++ : item, c2 = (int)(b * p.Hkv + hkv);
                    auto feed = [&](int j) {
                        const int c = cnt + j, st = c % S;
                        qn_mbar_wait(empty(st), ((c / S) & 1) ^ 1);
                        qn_mbar_arrive_expect_tx(full(st), STAGE);
                        boxes(st, (int)((tb + j) * BN), c2);
                    };
                    if (n > 0) feed(0);
                    qn_mbar_wait(qempty, (ph & 1) ^ 1);
                    q_boxes();
                    for (int j = 1; j < n; ++j) feed(j);
                    cnt += n;
                }
                return;
            }
            /* SPL: the tail's producer warpgroup takes part in the epilogue's two cluster barriers */
            auto tail_syncs = [&]() {
                if constexpr (SPL)
                    if (tail()) {
                        __syncwarp();
                        qn_cluster_sync_ra();
                        qn_cluster_sync_ra();
                    }
            };
            if constexpr (KV2 && !PER) { /* one block: Q, K of tile 0, then K of tile j and V of tile j - 1 as they free up */
                if (tid == 0 && n > 0) {
                    q_boxes();
                    feed_split(0, (int)(b * p.Hkv + hkv), [] {});
                }
                tail_syncs();
                return;
            }
            if constexpr (TQ) { /* one block: Q, then its tiles as the stages free up (Q is not waited for) */
                if (tid == 0 && n > 0) { /* (n == 0: the consumers never wait for Q, so none may be in flight) */
                    const int c2 = (int)(b * p.Hkv + hkv);
                    q_boxes();
                    for (int j = 0; j < n; ++j) {
                        const int st = j % S;
                        qn_mbar_wait(empty(st), ((j / S) & 1) ^ 1);
                        qn_mbar_arrive_expect_tx(full(st), STAGE);
                        boxes(st, (int)((tb + j) * BN), c2);
                    }
                }
                tail_syncs();
                return;
            }
            if constexpr (PER) {
                /* per work item: Q once the consumers' last Q . K^T of the item before is done, then (one thread)
                 * the item's tiles, the stage ring going on from the item before (cnt: tiles issued so far) */
                int cnt = 0, qi = 0; /* qi: items taken (PAIR skips some), the Q barriers' phase */
                for (int item = 0;; ++item) {
                    const int r = take_item(item);
                    if (r == 0) break;
                    if (r == 2) continue;
                    const int ph = PAIR ? qi++ : item;
                    int j0 = 0;
                    /* (CL: the cluster's tiles of the item, each block its share of each) */
                    const int ntl = CL ? nu : n;
                    const int tb0 = CL ? (int)tbu : (int)tb;
                    auto feed = [&](int j) {
                        const int c = cnt + j, st = c % S;
                        qn_mbar_wait(empty(st), ((c / S) & 1) ^ 1);
                        qn_mbar_arrive_expect_tx(full(st), STAGE);
                        boxes(st, (tb0 + j) * BN, (int)(b * p.Hkv + hkv));
                    };
                    /* E: the item's first tile before its Q (its stage frees two tiles before the item ahead
                     * ends, so this thread's share of Q is not held back) */
                    if constexpr ((FL & F_EARLY) != 0)
                        if (tid == 0 && ntl > 0) feed(j0++);
                    qn_mbar_wait(qempty, (ph & 1) ^ 1);
                    load_q();
                    qn_cp_async_commit();
                    qn_cp_async_wait<0>();
                    qn_fence_proxy_async();
                    qn_mbar_arrive(qfull);
                    if constexpr ((FL & F_EARLY) != 0) {
                        if (tid == 0)
                            for (int j = j0; j < ntl; ++j) feed(j);
                    } else if (tid == 0) {
                        const int c2 = (int)(b * p.Hkv + hkv);
                        for (int j = 0; j < n; ++j) {
                            const int c = cnt + j, st = c % S;
                            const uint32_t kb = sbase + st * STAGE;
                            const int k0 = (int)((tb + j) * BN);
                            qn_mbar_wait(empty(st), ((c / S) & 1) ^ 1);
                            qn_mbar_arrive_expect_tx(full(st), STAGE);
                            qn_tma_load_3d(kb, &mp.tk, full(st), 0, k0, c2);
                            qn_tma_load_3d(kb + BN * 128, &mp.tk, full(st), 64, k0, c2);
                            qn_tma_load_3d(kb + TILE, &mp.tv, full(st), 0, k0, c2);
                            qn_tma_load_3d(kb + TILE + BN * 128, &mp.tv, full(st), 64, k0, c2);
                        }
                    }
                    cnt += ntl;
                }
                /* CL: stay until the cluster is done (its copies into this block and arrivals on its barriers) */
                if constexpr (CL) qn_cluster_sync();
                return;
            }
            if constexpr (TMA && !PER && (FL & (F_E1 | F_QPF)) != 0) {
                const int c2 = (int)(b * p.Hkv + hkv);
                auto feed = [&](int j) {
                    const int st = j % S;
                    qn_mbar_wait(empty(st), ((j / S) & 1) ^ 1);
                    qn_mbar_arrive_expect_tx(full(st), STAGE);
                    boxes(st, (int)((tb + j) * BN), c2);
                };
                if constexpr ((FL & F_QPF) != 0)
                    if (tid == 0) { /* the block ~one wave ahead in launch order (x fastest) */
                        uint32_t nsm;
                        asm("mov.u32 %0, %%nsmid;\n" : "=r"(nsm));
                        const long long lin = blockIdx.x + (long long)gridDim.x * (blockIdx.y + (long long)gridDim.y * blockIdx.z) + nsm;
                        const long long nmb2 = gridDim.x, G = p.G;
                        if (lin < nmb2 * gridDim.y * gridDim.z && G <= 16) {
                            const long long x2 = lin % nmb2, y2 = (lin / nmb2) % gridDim.y, z2 = lin / nmb2 / gridDim.y;
                            const long long r02 = (nmb2 - 1 - x2) * kRB,
                                            re2 = r02 + kRB < p.rows_fold ? r02 + kRB : p.rows_fold;
                            const long long p0 = r02 / G, p1 = (re2 - 1) / G; /* positions; G heads a position */
                            for (long long gg = 0; gg < G; ++gg) {
                                const T *src = Q + ((z2 * p.Hq + y2 * G + gg) * p.Nq + p0) * kD;
                                asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;\n" ::"l"(src),
                                             "r"((uint32_t)((p1 - p0 + 1) * kD * sizeof(T)))
                                             : "memory");
                            }
                        }
                    }
                load_q();
                qn_cp_async_commit();
                int j0 = 0;
                if (tid == 0) {
                    qn_tma_prefetch(&mp.tk);
                    qn_tma_prefetch(&mp.tv);
                    if constexpr ((FL & F_E1) != 0)
                        if (n > 0) feed(j0++);
                }
                qn_cp_async_wait<0>();
                qn_fence_proxy_async();
                qn_mbar_arrive(qfull);
                if (tid == 0)
                    for (int j = j0; j < n; ++j) feed(j);
                return;
            }
            if constexpr (TMA && (FL & (F_EARLY | F_CL2)) != 0) {
                /* E: one thread issues the first S tiles (every stage is free at the start) before the
                 * warpgroup's Q copies, then the rest as stages free up. CL: the pair's tiles, this block's half
                 * of each (rank 0 K, rank 1 V: two boxes) multicast into both blocks; each block's full barrier
                 * expects the whole stage (its own half and the peer's, in either order). */
                const int ntl = CL ? nu : n;
                const long long tb0 = CL ? tbu : (long long)tb;
                const int c2 = (int)(b * p.Hkv + hkv);
                auto feed = [&](int j) {
                    const int st = j % S;
                    qn_mbar_wait(empty(st), ((j / S) & 1) ^ 1);
                    qn_mbar_arrive_expect_tx(full(st), STAGE);
                    boxes(st, (int)((tb0 + j) * BN), c2);
                };
                int j0 = 0;
                if (tid == 0) {
                    qn_tma_prefetch(&mp.tk);
                    qn_tma_prefetch(&mp.tv);
                    for (; j0 < ntl && j0 < S; ++j0) feed(j0);
                }
                load_q();
                qn_cp_async_commit();
                qn_cp_async_wait<0>();
                qn_fence_proxy_async();
                qn_mbar_arrive(qfull);
                if (tid == 0)
                    for (int j = j0; j < ntl; ++j) feed(j);
                /* CL: stay until the pair is done (its copies into this block and arrivals on its barriers) */
                if constexpr (CL) qn_cluster_sync();
                return;
            }
            load_q();
            qn_cp_async_commit();
            if constexpr (TMA) {
                /* Q by the warpgroup's cp.async, then one thread feeds the stages: per tile, once the consumers
                 * freed the stage, its bytes announced on full and 4 boxes (K and V, dims 0-63 and 64-127: the
                 * 64-dim blocks of sw_off, BN * 128 bytes apart) issued; keys past Nk arrive as zeros */
                qn_cp_async_wait<0>();
                qn_fence_proxy_async();
                qn_mbar_arrive(qfull);
                if (tid == 0) {
                    qn_tma_prefetch(&mp.tk);
                    qn_tma_prefetch(&mp.tv);
                    const int c2 = (int)(b * p.Hkv + hkv);
                    for (int j = 0; j < n; ++j) {
                        const int st = j % S;
                        const uint32_t kb = sbase + st * STAGE;
                        const int k0 = (int)((tb + j) * BN);
                        qn_mbar_wait(empty(st), ((j / S) & 1) ^ 1);
                        qn_mbar_arrive_expect_tx(full(st), STAGE);
                        qn_tma_load_3d(kb, &mp.tk, full(st), 0, k0, c2);
                        qn_tma_load_3d(kb + BN * 128, &mp.tk, full(st), 64, k0, c2);
                        qn_tma_load_3d(kb + TILE, &mp.tv, full(st), 0, k0, c2);
                        qn_tma_load_3d(kb + TILE + BN * 128, &mp.tv, full(st), 64, k0, c2);
                    }
                }
            } else {
                for (int j = 0; j < n; ++j) {
                    const int st = j % S;
                    qn_mbar_wait(empty(st), ((j / S) & 1) ^ 1);
                    load_tile(tb + j, st);
                    qn_cp_async_commit();
                    qn_cp_async_wait<1>();
                    qn_fence_proxy_async();
                    qn_mbar_arrive(j == 0 ? qfull : full((j - 1) % S));
                }
                qn_cp_async_wait<0>();
                qn_fence_proxy_async();
                qn_mbar_arrive(n > 0 ? full((n - 1) % S) : qfull);
            }
            return; /* no barrier below counts the producer */
        }
        /* PP (FlashAttention-3's ping-pong): the consumers take turns issuing their wgmma, through named barriers
         * 1 + cw (count 256: one warpgroup waits, the other arrives), so one's softmax runs while the other's
         * products do. Turns k = 0 .. n; consumer 1 opens consumer 0's first turn and does not hand over after
         * its last, so every barrier phase has exactly one wait and one arrival. */
        if constexpr (REGS) qn_setmaxnreg_inc<CREG>();
        /* O and the row state set here, in the consumers' register region (set before the branch, they were live
         * across the entry region's cap: 40 bytes of spill stores with 3 consumers) */
#pragma unroll
        for (int j = 0; j < kD / 8; ++j) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.f;
        m[0] = m[1] = -INFINITY;
        ls[0] = ls[1] = 0.f;
        auto turn_begin = [&]() {
            if constexpr (PP) qn_named_sync(1 + cw, 256);
        };
        constexpr bool RL = (FL & F_RLATE) != 0;
        /* TRACE: one thread a consumer of block 0 (uniform in the warpgroup's leader only; tiles past kTrT not) */
        [[maybe_unused]] const bool trace =
            (FL & F_TRACE) != 0 && (tid & 127) == 0 && blockIdx.x == 0 && blockIdx.y == 0 && blockIdx.z == 0;
        /* (PER, fa19's 64: tiles numbered across the block's items, trb = tiles consumed before the item; an item's
         * first tile has no "P . V done" stamp, so slot 6 left 0 marks it) */
        [[maybe_unused]] int trb = 0;
        auto stamp = [&](int it, int k) {
            if constexpr ((FL & F_TRACE) != 0)
                if (trace && trb + it < kTrT) g_awg_trace[cw][trb + it][k] = clock64();
        };
        auto turn_end = [&](bool last) {
            if constexpr (PP)
                if (cw == 0 || !last) qn_named_arrive(2 - cw, 256);
        };
        /* a stage read: CL, one arrival a warp on the stage's empty barrier in both blocks of the pair (its
         * wgmma reads are complete at the warp's wgmma.wait_group) */
        auto release = [&](int st) {
            if constexpr (CL) {
                __syncwarp();
                if (lane < CLN) qn_mbar_arrive_cluster(qn_mapa(empty(st), (uint32_t)lane));
            } else {
                qn_mbar_arrive(empty(st));
            }
        };
        /* CL: the pair's tiles this block's rows do not see, received and released in turn */
        auto skip = [&](int c0, int c1) {
            for (int c = c0; c < c1; ++c) {
                qn_mbar_wait(full(c % S), (c / S) & 1);
                release(c % S);
            }
        };
        /* QR: this thread's Q fragments (rows ra, rb of the block; k 2t.. and 8 + 2t.. of each k16 step: 16-byte
         * chunks 2 kk and 2 kk + 1 of the swizzled rows) from shared memory, then Q's buffer handed back */
        auto load_qf = [&]() {
            if constexpr (QR) {
                const int la = cw * 64 + warp * 16 + g, lb = la + 8;
#pragma unroll
                for (int kk = 0; kk < kD / 16; ++kk) {
                    qf[kk][0] = qn_lds32(qsbase + sw_off(kRB, la, 2 * kk) + 4 * t);
                    qf[kk][1] = qn_lds32(qsbase + sw_off(kRB, lb, 2 * kk) + 4 * t);
                    qf[kk][2] = qn_lds32(qsbase + sw_off(kRB, la, 2 * kk + 1) + 4 * t);
                    qf[kk][3] = qn_lds32(qsbase + sw_off(kRB, lb, 2 * kk + 1) + 4 * t);
                }
                qn_mbar_arrive(qempty); /* (release: the loads above are done before the buffer is refilled) */
            }
        };
        /* cnt: tiles consumed before this work item (where the stage ring stands); one item unless persistent */
        int cnt = 0, qi = 0;
        [[maybe_unused]] uint32_t qec = qempty; /* the current item's Q empty barrier (PO: one of two) */
        if constexpr (B2B) {
            /* (F_B2B, fa20) the chain of a consumer's items. pend: an item whose last P . V is not issued yet (its V
             * at ring count pc; pz: it is also the item's first P . V, a one-tile item), with its epilogue's first
             * row pr0, head pc3 (b * Hkv + hkv) and row sums pls, kept apart from the next item's */
            uint32_t pf[PK][4];
            bool pend = false, pz = false;
            int pc = 0, pr0 = 0, pc3 = 0;
            float pls[2] = {0.f, 0.f};
            /* EPI: an epilogue owed (eop) for the rows at er0 of head ec3, O already final in o, scaled by einv: done
             * in the next turn (issue_se), or before a chain's last P . V (flush) */
            [[maybe_unused]] bool eop = false;
            [[maybe_unused]] int er0 = 0, ec3 = 0;
            [[maybe_unused]] float einv[2] = {0.f, 0.f};
            [[maybe_unused]] uint32_t eo[EPIP ? kD / 8 : 1][2]; /* EPIP: the owed O / l, packed */
            /* KSPL: the block's last item is a part (slot blockIdx.x) when the host split the tail and this block is one
             * of the s r taking a part (derived here, not carried: 70's consumers are at the 240-register cap, and 4
             * registers of part state across the loop spilled ~240 bytes) */
            [[maybe_unused]] auto last_is_part = [&]() {
                const unsigned hp = (unsigned)p.nmb / 2u, P = hp * (unsigned)p.bh, Gd = gridDim.x, Rp = P / Gd;
                const unsigned Li = 2u * (P - Rp * Gd), r = Li >= Gd ? Li - Gd : Li;
                return p.ksplit > 1 && blockIdx.x < r * (unsigned)p.ksplit;
            };
            /* KSPL: the pending part's epilogue (the block's last item: m and the row sums are still its own). Its O
             * (unnormalized), row max and row sum into slot blockIdx.x; the warp that
             * arrives last on the counter of its 16 rows merges the s parts (weights 2^(m_c - M), M the max of the
             * m_c: the online softmax's own rescale) and stores the rows with plain stores (no TMA store: the other
             * warps of the consumer are not here) */
            [[maybe_unused]] auto ks_finish = [&]() {
#if QN_AWG_ALL_FORMS
                if constexpr ((FL & F_KSPL) != 0) {
                    const int lt = tid & 127, s = p.ksplit, pks = (int)blockIdx.x, ti = pks / s;
                    float lr[2];
#pragma unroll
                    for (int h = 0; h < 2; ++h) {
                        float l = pls[h];
                        l += __shfl_xor_sync(0xffffffffu, l, 1);
                        l += __shfl_xor_sync(0xffffffffu, l, 2);
                        lr[h] = l;
                    }
#pragma unroll
                    for (int j = 0; j < kD / 8; ++j) g_awg_ks_o[pks][cw][lt][j] = make_float4(o[j][0], o[j][1], o[j][2], o[j][3]);
                    g_awg_ks_ml[pks][cw][lt] = make_float4(m[0], lr[0], m[1], lr[1]);
                    __threadfence(); /* (release: the partial before the count) */
                    __syncwarp();
                    unsigned old = 0;
                    if (lane == 0) old = atomicAdd(&g_awg_ks_cnt[ti][cw][warp], 1u);
                    old = __shfl_sync(0xffffffffu, old, 0);
                    if (old != (unsigned)s - 1u) return;
                    __threadfence(); /* (acquire: the peers' partials after their counts) */
                    if (lane == 0) g_awg_ks_cnt[ti][cw][warp] = 0u;
                    /* O (this warp's own part, still in o) is the accumulator; each other part's 16 float4 a thread are
                     * loaded together, then added: s - 1 L2 round trips. (Call 2, H100 15:09: a merge that loaded them
                     * one jj at a time behind branches cost ~25-30 us a call: 74/70 0.997 at 2k non-causal, 0.96 at 1k.) */
                    float4 ml[4];
#pragma unroll
                    for (int c = 0; c < 4; ++c) ml[c] = __ldcg(&g_awg_ks_ml[ti * s + (c < s ? c : 0)][cw][lt]);
                    float M[2] = {m[0], m[1]};
#pragma unroll
                    for (int c = 0; c < 4; ++c)
                        if (c < s) M[0] = fmaxf(M[0], ml[c].x), M[1] = fmaxf(M[1], ml[c].z);
                    /* (every part sees keys here, so M is finite; a -inf part max weighs 0) */
                    const float ws0 = m[0] == -INFINITY ? 0.f : ex2(m[0] - M[0]), ws1 = m[1] == -INFINITY ? 0.f : ex2(m[1] - M[1]);
                    float L[2] = {lr[0] * ws0, lr[1] * ws1};
#pragma unroll
                    for (int jj = 0; jj < kD / 8; ++jj) o[jj][0] *= ws0, o[jj][1] *= ws0, o[jj][2] *= ws1, o[jj][3] *= ws1;
#pragma unroll
                    for (int c = 0; c < 4; ++c) {
                        if (c >= s || ti * s + c == pks) continue;
                        const float w0 = ml[c].x == -INFINITY ? 0.f : ex2(ml[c].x - M[0]);
                        const float w1 = ml[c].z == -INFINITY ? 0.f : ex2(ml[c].z - M[1]);
                        L[0] += w0 * ml[c].y, L[1] += w1 * ml[c].w;
                        float4 v[kD / 8];
#pragma unroll
                        for (int jj = 0; jj < kD / 8; ++jj) v[jj] = __ldcg(&g_awg_ks_o[ti * s + c][cw][lt][jj]);
#pragma unroll
                        for (int jj = 0; jj < kD / 8; ++jj)
                            o[jj][0] += w0 * v[jj].x, o[jj][1] += w0 * v[jj].y, o[jj][2] += w1 * v[jj].z, o[jj][3] += w1 * v[jj].w;
                    }
                    const unsigned G = (unsigned)p.G;
#pragma unroll
                    for (int h = 0; h < 2; ++h) {
                        const unsigned r = (unsigned)pr0 + (unsigned)(cw * 64 + warp * 16 + g + 8 * h);
                        if (r >= (unsigned)p.rows_fold) continue;
                        const float inv = L[h] > 0.f ? 1.f / L[h] : 0.f;
                        const unsigned pos = r / G;
                        T *dst = static_cast<T *>(p.out) + (((long long)pc3 * G + (r - pos * G)) * p.Nq + pos) * kD + 2 * t;
#pragma unroll
                        for (int jj = 0; jj < kD / 8; ++jj)
                            *reinterpret_cast<uint32_t *>(dst + jj * 8) = Ty<T>::pack(o[jj][2 * h] * inv, o[jj][2 * h + 1] * inv);
                    }
                }
#endif
            };
            /* issue_s with the owed epilogue's st.shared between its wgmma (EPI; the SW / Q-in-shared-memory path of
             * issue_s, the only one this form has) */
            [[maybe_unused]] auto issue_se = [&](float (&s)[NS][4], uint32_t kbase) {
                qn_wg_fence();
#pragma unroll
                for (int kk = 0; kk < kD / 16; ++kk) {
                    const uint64_t kdesc = qn_wg_desc_sw128(kbase + (kk >> 2) * (BN * 128) + (kk & 3) * 32, 16, 1024);
                    MmaS<BF, BN>::run_ss(
                        s, qn_wg_desc_sw128(qcur + (kk >> 2) * (kRB * 128) + (kk & 3) * 32 + cw * 64 * 128, 16, 1024),
                        kdesc, kk > 0);
                    if constexpr (EPIP) {
                        if (eop) epi_piece_p(eo, kk);
                    } else {
                        if (eop) epi_piece(einv, kk);
                    }
                }
                qn_wg_commit();
            };
            /* after the turn's products are issued: the owed epilogue's store (its fence and barrier under them) */
            auto epi_close = [&]() {
                if constexpr (EPI)
                    if (eop) {
                        epi_end(er0, ec3);
                        eop = false;
                    }
            };
            /* the owed epilogue at once (a chain's end: no Q . K^T to go under) */
            auto epi_now = [&]() {
                if constexpr (EPI)
                    if (eop) {
#pragma unroll
                        for (int kk = 0; kk < kD / 16; ++kk) {
                            if constexpr (EPIP)
                                epi_piece_p(eo, kk);
                            else
                                epi_piece(einv, kk);
                        }
                        epi_end(er0, ec3);
                        eop = false;
                    }
            };
            auto vbuf = [&](int c) { return sbase + (c % S) * STAGE + TILE; };
            /* k16 steps [j0, j1) of P . V as one wgmma group (issue_pv_part's products in its order); z: the item's
             * first P . V, whose step 0 writes O (scale-d = 0) instead of adding to it */
            auto pv_part = [&](uint32_t vbase, const int j0, const int j1, bool z) {
                qn_wg_fence();
                [[maybe_unused]] const uint64_t vd0 = qn_wg_desc_sw128(vbase, BN * 128, 1024); /* (DESC) */
#pragma unroll
                for (int j = 0; j < PK; ++j)
                    if (j >= j0 && j < j1)
                        qn_wg_mma16_n128<BF, 1>(o, pf[j],
                                                DESC ? desc_add(vd0, (j * 2048) >> 4)
                                                     : qn_wg_desc_sw128(vbase + j * 2048, BN * 128, 1024),
                                                j == 0 && z ? 0 : 1);
                qn_wg_commit();
            };
            /* the pending item's epilogue, once its last P . V is done (its V handed back first) */
            auto finish = [&](bool defer, bool last) {
                qn_wg_wait<0>();
                qn_wg_keep(o);
                qn_wg_keep(pf);
                qn_mbar_arrive(emptyv(pc % S));
                /* (KSPL: a part is its block's last item, finished by the chain's final flush) */
                if ((FL & F_KSPL) != 0 && last && last_is_part()) {
                    ks_finish();
                } else if (EPI && defer) { /* (EPI: O stays in o until the next turn's P . V; its store is owed) */
                    epi_begin(pls, einv);
                    if constexpr (EPIP)
#pragma unroll
                        for (int j = 0; j < kD / 8; ++j)
#pragma unroll
                            for (int h = 0; h < 2; ++h)
                                eo[j][h] = Ty<T>::pack(o[j][2 * h] * einv[h], o[j][2 * h + 1] * einv[h]);
                    er0 = pr0, ec3 = pc3, eop = true;
                } else {
                    store_rows(pls, pr0, pc3);
                }
                pend = false;
            };
            /* the chain ends (the block's last item, or an item that sees no key next): the pending P . V in a turn of
             * its own, the chain's last (consumer 1 does not hand over after it) */
            auto flush = [&](bool last) {
                epi_now();
                qn_mbar_wait(fullv(pc % S), (pc / S) & 1);
                turn_begin();
                pv_part(vbuf(pc), 0, PK, pz);
                turn_end(true);
                finish(false, last);
            };
            for (int item = 0;; ++item) {
                const int r = pair_work(item);
                if (r == 0) break;
                if (r == 2) continue;
                ra = r0 + cw * 64 + warp * 16 + g, rb = ra + 8;
                m[0] = m[1] = -INFINITY;
                ls[0] = ls[1] = 0.f;
                const int ph = qi++, c3 = (int)(b * p.Hkv + hkv);
                qcur = qsbase + (ph & 1) * C::qbytes;
                qec = (ph & 1) ? qempty1 : qempty;
                qn_mbar_wait((ph & 1) ? qfull1 : qfull, (ph >> 1) & 1);
                /* (the branches around wgmma and O on votes: ptxas serialized every wgmma of the kernel for a
                 * condition it could not prove uniform, C7518) */
                if (__all_sync(0xffffffffu, n <= 0)) { /* no key: the chain ends; the rows are zeros (66 writes 0 x 0) */
                    if (__all_sync(0xffffffffu, pend)) flush(false);
                    qn_mbar_arrive(qec);
#pragma unroll
                    for (int j = 0; j < kD / 8; ++j) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.f;
                    store_rows(ls, (int)r0, c3);
                    continue;
                }
                {
                    /* the item's first tile: its Q . K^T in the pending item's last turn (with three quarters of that
                     * item's last P . V before the S wait, the rest after the row max, as 66's steady state), or, at
                     * a chain's start, alone (66's first tile) */
                    const int st = cnt % S;
                    float s[NS][4], alpha[2], muse[2];
                    stamp(0, 0);
                    qn_mbar_wait(full(st), (cnt / S) & 1);
                    /* (each branch waits for the products it issued: ptxas does not tie two branches on one
                     * condition together, and serialized every wgmma for a path that issued and did not wait, C7515) */
                    if (__all_sync(0xffffffffu, pend)) {
                        qn_mbar_wait(fullv(pc % S), (pc / S) & 1);
                        stamp(0, 1);
                        turn_begin();
                        stamp(0, 2);
                        if constexpr (EPI && (FL & F_EPIB) != 0) {
                            if (__all_sync(0xffffffffu, eop))
                                issue_se(s, sbase + st * STAGE);
                            else
                                issue_s(s, sbase + st * STAGE);
                        } else if constexpr (EPI) {
                            issue_se(s, sbase + st * STAGE);
                        } else {
                            issue_s(s, sbase + st * STAGE);
                        }
                        pv_part(vbuf(pc), 0, PVA, pz);
                        epi_close();
                        stamp(0, 3);
                        qn_wg_wait<1>(); /* S done; the P . V may run on */
                        qn_wg_keep(s);
                        stamp(0, 4);
                        qn_mbar_arrive(empty(st)); /* K read */
                        if (n == 1) qn_mbar_arrive(qec); /* Q's last reader done */
                        softmax_max(s, tb * BN, alpha, muse);
                        pv_part(vbuf(pc), PVA, PK, false);
                        turn_end(false);
                        softmax_exp(s, alpha, muse); /* (O of this item not yet written: no rescale) */
                        stamp(0, 5);
                        finish(true, false); /* (the trace: slot 6 stays 0 on an item's first tile; the epilogue is in 5 -> 7) */
                    } else {
                        if (cw == 1) qn_named_arrive(1, 256); /* the chain's first turn is consumer 0's */
                        stamp(0, 1);
                        turn_begin();
                        stamp(0, 2);
                        issue_s(s, sbase + st * STAGE);
                        turn_end(false);
                        stamp(0, 3);
                        qn_wg_wait<0>();
                        qn_wg_keep(s);
                        stamp(0, 4);
                        qn_mbar_arrive(empty(st));
                        if (n == 1) qn_mbar_arrive(qec);
                        softmax_max(s, tb * BN, alpha, muse);
                        softmax_exp(s, alpha, muse);
                        stamp(0, 5);
                    }
                    pack(s, pf);
                    stamp(0, 7);
                }
                for (int it = 1; it < n; ++it) { /* 66's steady state */
                    const int c = cnt + it, st = c % S;
                    stamp(it, 0);
                    qn_mbar_wait(full(st), (c / S) & 1);
                    qn_mbar_wait(fullv((c - 1) % S), ((c - 1) / S) & 1);
                    const uint32_t vprev = vbuf(c - 1);
                    float s[NS][4], alpha[2], muse[2];
                    stamp(it, 1);
                    turn_begin();
                    stamp(it, 2);
                    if constexpr (EPI && (FL & F_EPIB) != 0) {
                        if (__all_sync(0xffffffffu, eop))
                            issue_se(s, sbase + st * STAGE);
                        else
                            issue_s(s, sbase + st * STAGE);
                    } else if constexpr (EPI) {
                        issue_se(s, sbase + st * STAGE);
                    } else {
                        issue_s(s, sbase + st * STAGE);
                    }
                    pv_part(vprev, 0, PVA, it == 1);
                    epi_close();
                    stamp(it, 3);
                    qn_wg_wait<1>();
                    qn_wg_keep(s);
                    stamp(it, 4);
                    qn_mbar_arrive(empty(st)); /* K of tile it read */
                    if (it == n - 1) qn_mbar_arrive(qec);
                    softmax_max(s, (tb + it) * BN, alpha, muse);
                    pv_part(vprev, PVA, PK, false);
                    turn_end(false);
                    softmax_exp(s, alpha, muse);
                    stamp(it, 5);
                    qn_wg_wait<0>();
                    qn_wg_keep(o);
                    qn_wg_keep(pf);
                    stamp(it, 6);
                    qn_mbar_arrive(emptyv((c - 1) % S)); /* V of tile it - 1 read */
                    rescale(alpha);
                    pack(s, pf);
                    stamp(it, 7);
                }
                pend = true, pz = n == 1, pc = cnt + n - 1, pr0 = (int)r0, pc3 = c3;
                pls[0] = ls[0], pls[1] = ls[1];
                cnt += n;
                if constexpr ((FL & F_TRACE) != 0) trb = cnt;
            }
            if (__all_sync(0xffffffffu, pend)) flush(true);
        }
        for (int item = 0; !B2B; ++item) { /* (B2B: its own loop above) */
            if constexpr (PER && PAIR) {
                const int r = pair_work(item);
                if (r == 0) break;
                if (r == 2) continue;
                ra = r0 + cw * 64 + warp * 16 + g, rb = ra + 8;
#pragma unroll
                for (int j = 0; j < kD / 8; ++j) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.f;
                m[0] = m[1] = -INFINITY;
                ls[0] = ls[1] = 0.f;
            } else if constexpr (PER) {
                const unsigned w = blockIdx.x + (unsigned)item * gridDim.x;
                if (w >= p.items) break;
                if (item > 0) {
                    set_work(w);
                    ra = r0 + cw * 64 + warp * 16 + g, rb = ra + 8;
#pragma unroll
                    for (int j = 0; j < kD / 8; ++j) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.f;
                    m[0] = m[1] = -INFINITY;
                    ls[0] = ls[1] = 0.f;
                }
            }
            if constexpr (PER) {
                const int ph = PAIR ? qi++ : item;
                if constexpr (PO) { /* item ph's Q buffer ph & 1, its use ph >> 1 */
                    qcur = qsbase + (ph & 1) * C::qbytes;
                    qec = (ph & 1) ? qempty1 : qempty;
                    qn_mbar_wait((ph & 1) ? qfull1 : qfull, (ph >> 1) & 1);
                } else {
                    qn_mbar_wait(qfull, ph & 1); /* every item, seen keys or not: the phases stay in step */
                }
                if constexpr (QR) load_qf();
            }
            [[maybe_unused]] const int base = cnt; /* (CL: the item's first tile of the cluster's in the ring) */
            if constexpr (CL) {
                skip(base, base + pre);
                cnt = base + pre;
            }
            if (n > 0) {
                if constexpr (PP)
                    if (cw == 1) qn_named_arrive(1, 256);
                if constexpr (!PER) qn_mbar_wait(qfull, 0);
                /* DIAG: this warpgroup's rows see none of the last tile's upper 64 keys (uniform in the warpgroup) */
                bool dh = false;
                if constexpr (DIAG)
                    if (p.causal && p.mask == nullptr && p.window <= 0) {
                        const int rl = (int)r0 + cw * 64 + 63 < (int)rend ? (int)r0 + cw * 64 + 63 : (int)rend - 1;
                        dh = (int)(L - p.Nq) + (int)((unsigned)rl / (unsigned)p.G) < (int)((tb + n - 1) * BN) + 64;
                    }
                uint32_t pf[PK][4];
                /* RLATE: the factor O is rescaled by in the next turn (tile it - 1's, applied before its P . V) */
                [[maybe_unused]] float ap[2];
                {
                    const int st = cnt % S;
                    stamp(0, 0);
                    qn_mbar_wait(full(st), (cnt / S) & 1);
                    float s[NS][4], alpha[2];
                    stamp(0, 1);
                    turn_begin();
                    stamp(0, 2);
                    issue_s(s, sbase + st * STAGE);
                    turn_end(false);
                    stamp(0, 3);
                    qn_wg_wait<0>();
                    qn_wg_keep(s);
                    stamp(0, 4);
                    if constexpr (KV2) qn_mbar_arrive(empty(st)); /* K read */
                    if constexpr (PER && !QR)
                        if (n == 1) qn_mbar_arrive(qec); /* Q's last reader done */
                    softmax(s, tb * BN, alpha);
                    stamp(0, 5);
                    if constexpr (RL) ap[0] = alpha[0], ap[1] = alpha[1]; /* (O is 0: any factor) */
                    pack(s, pf);
                    stamp(0, 7);
                }
                for (int it = 1; it < n; ++it) {
                    const int c = cnt + it, st = c % S;
                    stamp(it, 0);
                    qn_mbar_wait(full(st), (c / S) & 1);
                    if constexpr (KV2) qn_mbar_wait(fullv((c - 1) % S), ((c - 1) / S) & 1);
                    stamp(it, 1);
                    const uint32_t kbase = sbase + st * STAGE, vprev = sbase + ((c - 1) % S) * STAGE + TILE;
                    float s[NS][4], alpha[2];
                    turn_begin();
                    stamp(it, 2);
                    issue_s(s, kbase);
                    if constexpr (PVH) {
                        issue_pv_part(pf, vprev, 0, PVA);
                    } else {
                        if constexpr (RL) rescale(ap); /* under Q . K^T, before P . V reads O */
                        issue_pv(pf, vprev, false);
                        turn_end(false);
                    }
                    stamp(it, 3);
                    qn_wg_wait<1>(); /* (PVH: S done, P . V's first half may run on) */
                    qn_wg_keep(s);
                    stamp(it, 4);
                    if constexpr (KV2) qn_mbar_arrive(empty(st)); /* K of tile it read */
                    if constexpr (PER && !QR)
                        if (it == n - 1) qn_mbar_arrive(qec);
                    if constexpr (PVH) { /* the second half queued behind the first, then the other one's turn */
                        float muse[2];
                        softmax_max(s, (tb + it) * BN, alpha, muse);
                        issue_pv_part(pf, vprev, PVA, PK);
                        turn_end(false);
                        softmax_exp(s, alpha, muse);
                    } else {
                        softmax(s, (tb + it) * BN, alpha);
                    }
                    stamp(it, 5);
                    qn_wg_wait<0>();
                    qn_wg_keep(o);
                    qn_wg_keep(pf);
                    stamp(it, 6);
                    if constexpr (KV2)
                        qn_mbar_arrive(emptyv((c - 1) % S)); /* V of tile it - 1 read */
                    else
                        release((c - 1) % S); /* tile it - 1: K read at it - 1, V just now */
                    if constexpr (RL)
                        ap[0] = alpha[0], ap[1] = alpha[1];
                    else
                        rescale(alpha);
                    pack(s, pf);
                    stamp(it, 7);
                }
                if constexpr (KV2) qn_mbar_wait(fullv((cnt + n - 1) % S), ((cnt + n - 1) / S) & 1);
                turn_begin();
                if constexpr (RL) rescale(ap);
                issue_pv(pf, sbase + ((cnt + n - 1) % S) * STAGE + TILE, dh);
                turn_end(true);
                qn_wg_wait<0>();
                qn_wg_keep(o);
                qn_wg_keep(pf);
                if constexpr (KV2 && PER)
                    qn_mbar_arrive(emptyv((cnt + n - 1) % S)); /* the rings go on */
                else if constexpr (PER || CL)
                    release((cnt + n - 1) % S); /* the ring goes on */
                cnt += n;
                if constexpr ((FL & F_TRACE) != 0 && PER) trb = cnt;
            } else if constexpr (PER && !QR) {
                qn_mbar_arrive(qec);
            }
            if constexpr (CL) {
                skip(cnt, base + nu);
                cnt = base + nu;
            }
            store_out();
            if constexpr (!PER) break;
        }
        /* CL: no block leaves while another may still multicast into it or arrive on its barriers */
        if constexpr (CL) qn_cluster_sync();
        /* PO: the last item's store has read the O stage before the block's shared memory goes */
        if constexpr (PO)
            if ((tid & 127) == 0) qn_tma_store_wait_read<0>();
    } else if constexpr (!OV) {
        for (int it = 0; it < n; ++it) {
            qn_cp_async_wait<S - 2>();
            arrive(); /* ... so tile it - 1's stage is free */
            if (it + S - 1 < n) load_tile(tb + it + S - 1, (it + S - 1) % S);
            qn_cp_async_commit();
            const uint32_t kbase = sbase + (it % S) * STAGE;
            float s[NS][4], alpha[2];
            issue_s(s, kbase);
            qn_wg_wait<0>();
            qn_wg_keep(s);
            softmax(s, (tb + it) * BN, alpha);
            rescale(alpha);
            uint32_t pf[PK][4];
            pack(s, pf);
            issue_pv(pf, kbase + TILE, false);
            qn_wg_wait<0>();
            qn_wg_keep(o);
            qn_wg_keep(pf);
        }
    } else if (n > 0) {
        /* FlashAttention-3's intra-warpgroup overlap: tile it's Q . K^T and tile it - 1's P . V are issued
         * together, and the softmax of tile it runs while P . V does. Live stages: tile it - 1 (V) and tile it
         * (K), so copies run S - 2 tiles ahead (the prologue issued S - 2 tiles, not S - 1). */
        uint32_t pf[PK][4];
        {
            qn_cp_async_wait<S - 3>();
            arrive();
            if (S - 2 < n) load_tile(tb + S - 2, (S - 2) % S);
            qn_cp_async_commit();
            float s[NS][4], alpha[2];
            issue_s(s, sbase);
            qn_wg_wait<0>();
            qn_wg_keep(s);
            softmax(s, tb * BN, alpha); /* O is still 0: no rescale */
            pack(s, pf);
        }
        for (int it = 1; it < n; ++it) {
            qn_cp_async_wait<S - 3>();
            arrive(); /* ... so tile it - 2's stage is free */
            if (it + S - 2 < n) load_tile(tb + it + S - 2, (it + S - 2) % S);
            qn_cp_async_commit();
            const uint32_t kbase = sbase + (it % S) * STAGE, vprev = sbase + ((it - 1) % S) * STAGE + TILE;
            float s[NS][4], alpha[2];
            issue_s(s, kbase);
            issue_pv(pf, vprev, false);
            qn_wg_wait<1>(); /* S of tile it is done; P . V of tile it - 1 may run on */
            qn_wg_keep(s);
            softmax(s, (tb + it) * BN, alpha);
            qn_wg_wait<0>();
            qn_wg_keep(o);
            qn_wg_keep(pf);
            rescale(alpha);
            /* P packed only now, into the registers P . V just read: packing into a second set and copying it
             * over made ptxas serialize the wgmma (C7513, non-wgmma instructions defining a wgmma's inputs) */
            pack(s, pf);
        }
        issue_pv(pf, sbase + ((n - 1) % S) * STAGE + TILE, false);
        qn_wg_wait<0>();
        qn_wg_keep(o);
        qn_wg_keep(pf);
    }
    if constexpr (!WS) {
        qn_cp_async_wait<0>(); /* (empty groups only: nothing is copied past tile n - 1) */
        store_out();
    }
#else
    (void)p;
    __trap(); /* compiled for sm_90a only; the host launches it only on compute capability 9.0 */
#endif
}

/* ------------------------------------------------------------------ host side */

void set_err(char *err, size_t len, const char *what, cudaError_t e) {
    if (err && len) snprintf(err, len, "qn_cuda_attn_wg: %s: %s (%d)", what, cudaGetErrorString(e), (int)e);
}

/* The TMA forms' maps (rank 3: dims, keys, heads; boxes 64 x BN x 1, 128-byte swizzle). 0 or a driver / runtime
 * error (then the caller runs the cp.async form). */
template <int BN, typename M> int encode_kv(const qn_cuda_attention_args *a, M &m) {
    const CUtensorMapDataType dt = a->dtype == QN_DT_F16 ? CU_TENSOR_MAP_DATA_TYPE_FLOAT16 : CU_TENSOR_MAP_DATA_TYPE_BFLOAT16;
    const uint64_t dims[3] = {(uint64_t)kD, (uint64_t)a->Nk, (uint64_t)(a->B * a->Hkv)};
    const uint64_t strides[2] = {(uint64_t)kD * 2, (uint64_t)a->Nk * kD * 2};
    const uint32_t box[3] = {64, BN, 1};
    int e = qn_tma_encode(&m.tk, dt, 3, a->k, dims, strides, box, CU_TENSOR_MAP_SWIZZLE_128B);
    if (e == 0) e = qn_tma_encode(&m.tv, dt, 3, a->v, dims, strides, box, CU_TENSOR_MAP_SWIZZLE_128B);
    return e;
}

/* TQ / TO: q and out as 4-d tensors (128 dims, the G query heads of a KV head, Nq positions, B * Hkv), boxes of
 * 64 dims x G heads x 128 / G (q) or 64 / G (out) positions in the 128-byte swizzle: a box is a block's (a
 * consumer's) folded rows r = position x G + head in order, as sw_off lays them out. */
int encode_qo(const qn_cuda_attention_args *a, MapsQ &m) {
    const CUtensorMapDataType dt = a->dtype == QN_DT_F16 ? CU_TENSOR_MAP_DATA_TYPE_FLOAT16 : CU_TENSOR_MAP_DATA_TYPE_BFLOAT16;
    const long long G = a->Hq / a->Hkv;
    const uint64_t dims[4] = {(uint64_t)kD, (uint64_t)G, (uint64_t)a->Nq, (uint64_t)(a->B * a->Hkv)};
    const uint64_t strides[3] = {(uint64_t)(a->Nq * kD * 2), (uint64_t)kD * 2, (uint64_t)(G * a->Nq * kD * 2)};
    const uint32_t bq[4] = {64, (uint32_t)G, (uint32_t)(kRB / G), 1};
    int e = qn_tma_encode(&m.tq, dt, 4, a->q, dims, strides, bq, CU_TENSOR_MAP_SWIZZLE_128B);
    if (e == 0 && 64 % G == 0) {
        const uint32_t bo[4] = {64, (uint32_t)G, (uint32_t)(64 / G), 1};
        e = qn_tma_encode(&m.to, dt, 4, a->out, dims, strides, bo, CU_TENSOR_MAP_SWIZZLE_128B);
    }
    return e;
}

/* launches whose tensor maps the driver refused (they ran as the cp.async form): the bench says so, or a TMA form's
 * row would silently time another form */
std::atomic<long long> g_map_fallbacks{0};

/* the persistent forms' grid: qn_cuda_attn_wg_set_persist_grid's cap, else the SMs of the current device (read
 * once per device) */
std::atomic<int> g_persist_cap{0};
int sm_count() {
    const int cap = g_persist_cap.load(std::memory_order_relaxed);
    if (cap > 0) return cap;
    static std::atomic<int> cache[32];
    int dev = 0;
    if (cudaGetDevice(&dev) != cudaSuccess) {
        (void)cudaGetLastError();
        return 132;
    }
    int v = cache[dev & 31].load(std::memory_order_relaxed);
    if (v <= 0) {
        if (cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess || v <= 0) {
            (void)cudaGetLastError();
            v = 132;
        }
        cache[dev & 31].store(v, std::memory_order_relaxed);
    }
    return v;
}

/* F_SPLIT: whether clusters of s blocks of fn (threads, smem) can be resident (asked once a process and s: a refused
 * query, or none, runs the form without the split) */
template <typename K> bool split_fits(K fn, int s, int threads, size_t smem) {
    static std::atomic<int> fits[4] = {{-1}, {-1}, {-1}, {-1}};
    const int i = s >= 8 ? 3 : s >= 4 ? 2 : 1;
    int f = fits[i].load(std::memory_order_relaxed);
    if (f < 0) {
        cudaLaunchConfig_t cfg = {};
        cudaLaunchAttribute at[1] = {};
        at[0].id = cudaLaunchAttributeClusterDimension;
        at[0].val.clusterDim.x = (unsigned)s, at[0].val.clusterDim.y = 1, at[0].val.clusterDim.z = 1;
        cfg.gridDim = dim3((unsigned)s * 16), cfg.blockDim = dim3((unsigned)threads), cfg.dynamicSmemBytes = smem;
        cfg.attrs = at, cfg.numAttrs = 1;
        int nc = 0;
        f = cudaOccupancyMaxActiveClusters(&nc, fn, &cfg) == cudaSuccess && nc > 0 ? 1 : 0;
        (void)cudaGetLastError();
        fits[i].store(f, std::memory_order_relaxed);
    }
    return f == 1;
}

/* F_FDIV's magic numbers for a divisor 1 <= d < 2^31: s = ceil(log2 d), m = ceil(2^(31 + s) / d) (< 2^32), so that
 * (x * m) >> (31 + s) = x / d for every 0 <= x < 2^31 (Granlund-Montgomery with 31-bit dividends) */
static void fd_set(unsigned long long d, unsigned &m, int &s) {
    int l = 0;
    while ((1ull << l) < d) ++l;
    m = (unsigned)(((1ull << (31 + l)) + d - 1) / d);
    s = l;
}

template <typename T, int BN, int S, bool OV, int WGN, bool WS = false, bool PP = false, bool SW = false, bool TMA = false,
          bool PER = false, long long FL = 0>
int launch_t(const qn_cuda_attention_args *a, int vswap, char *err, size_t len) {
    /* KV2 (fa16): where the TQ / TO boxes or the TMA maps cannot take the call, the 128-key 3-stage form without it
     * (every fallback below instantiates FBN / FS, so no 2-stage or wide-tile form exists without KV2) */
    constexpr bool KV2 = (FL & F_KV2) != 0;
    /* (F_B2B, F_EPI: their fallbacks are 66's; F_CRS / F_PEX: the fallbacks as measured, no more instances) */
    constexpr int FBN = BN > 128 ? 128 : BN, FS = KV2 && S < 3 ? 3 : S;
    constexpr long long FFL =
        FL & ~(F_KV2 | F_B2B | F_EPI | F_EPIP | F_KSPL | F_EPIB | F_CRS | F_PEX | F_DESC | F_QE | F_FDIV | (PER ? F_TO : 0));
    if constexpr (KV2) {
        const long long G = a->Hq / a->Hkv;
        if (a->kv_lens != nullptr || a->B * a->Hkv >= (1LL << 31) || a->Nq >= (1LL << 31) || 128 % G != 0 ||
            ((FL & F_TO) != 0 && 64 % G != 0))
            return launch_t<T, FBN, FS, OV, WGN, WS, PP, SW, TMA, PER, FFL>(a, vswap, err, len);
    }
    /* kv_lens (keys past a batch's length read from memory) or no encoder: the cp.async form (2 consumers: with 3,
     * the cp.async producer's registers leave the consumers too few) */
    if constexpr (TMA)
        if (a->kv_lens != nullptr || a->B * a->Hkv >= (1LL << 31) || (PER && qn_cuda_attn_wg_blocks(a) >= (1LL << 31)))
            return launch_t<T, FBN, FS, OV, WGN == 4 ? 3 : WGN, WS, PP, SW, false>(a, vswap, err, len);
    typedef Cfg<BN, S, WGN, WS, SW, KV2, PER && KV2> C;
    /* TQ: a KV head's 128 folded rows are 128 / G whole positions of its G query heads (TO: 64 rows a consumer);
     * else the form without them */
    constexpr bool TQ = (FL & F_TQ) != 0;
    if constexpr (TQ) {
        const long long G = a->Hq / a->Hkv;
        if (C::rb % G != 0 || a->Nq >= (1LL << 31))
            return launch_t<T, FBN, FS, OV, WGN, WS, PP, SW, TMA, PER,
                            FFL & ~(F_TQ | F_TO | F_LPT | F_RLATE | F_TRACE | F_SPLIT | F_PVH | F_PVLO | F_PVHI | F_PV7 |
                                    F_PV5)>(
                a, vswap, err, len);
        if constexpr ((FL & F_TO) != 0 && PER && KV2) {
            if (64 % G != 0) return launch_t<T, FBN, FS, OV, WGN, WS, PP, SW, TMA, PER, FFL & ~F_TO>(a, vswap, err, len);
        } else if constexpr ((FL & F_TO) != 0) {
            if (64 % G != 0)
                return launch_t<T, BN, S, OV, WGN, WS, PP, SW, TMA, PER, FL & ~(F_TO | F_SPLIT | F_CRS | F_PEX | F_DESC)>(a, vswap, err,
                                                                                                             len);
        }
    }
    /* CL: clusters of CLN row blocks of one head, so a multiple of CLN of them (else the form without clusters) */
    constexpr int CLN = (FL & F_CL4) ? 4 : (FL & F_CL2) ? 2 : 1;
    if constexpr (CLN > 1)
        if (((a->Hq / a->Hkv) * a->Nq + C::rb - 1) / C::rb % CLN != 0)
            return launch_t<T, BN, S, OV, WGN, WS, PP, SW, TMA, PER, FL & ~(F_CL2 | F_CL4)>(a, vswap, err, len);
    /* the shared-memory opt-in once per device (bit dev % 32), so that launches inside stream capture make no
     * attribute call after the first */
    static std::atomic<unsigned> attr{0};
    auto fn = attn_wg_kernel<T, BN, S, OV, WGN, WS, PP, SW, TMA, PER, FL>;
    int dev = 0;
    cudaError_t e = cudaGetDevice(&dev);
    const unsigned bit = 1u << (dev & 31);
    if (e == cudaSuccess && !(attr.load(std::memory_order_relaxed) & bit)) {
        e = cudaFuncSetAttribute(fn, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)C::smem);
        if (e == cudaSuccess) attr.fetch_or(bit, std::memory_order_relaxed);
    }
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        set_err(err, len, "setting the shared-memory limit", e);
        return (int)e;
    }
    Params p;
    memset(&p, 0, sizeof p);
    p.q = a->q, p.k = a->k, p.v = a->v, p.mask = a->mask, p.kv_lens = a->kv_lens, p.out = a->out;
    p.Hq = a->Hq, p.Hkv = a->Hkv, p.Nq = a->Nq, p.Nk = a->Nk, p.G = a->Hq / a->Hkv, p.rows_fold = p.G * a->Nq;
    p.mask_batched = a->mask_batched, p.causal = a->causal, p.window = a->window, p.vswap = vswap;
    p.sl2 = a->scale * 1.4426950408889634f;
    MapsT<TMA, TQ> mp;
    memset(&mp, 0, sizeof mp);
    if constexpr (TQ) {
        if (encode_kv<BN>(a, mp) != 0 || encode_qo(a, mp) != 0) {
            g_map_fallbacks.fetch_add(1, std::memory_order_relaxed);
            return launch_t<T, FBN, FS, OV, WGN, WS, PP, SW, false>(a, vswap, err, len);
        }
    } else if constexpr (TMA) {
        if (encode_kv<BN>(a, mp) != 0) {
            g_map_fallbacks.fetch_add(1, std::memory_order_relaxed);
            return launch_t<T, BN, S, OV, WGN == 4 ? 3 : WGN, WS, PP, SW, false>(a, vswap, err, len);
        }
    }
    const long long nmb = (p.rows_fold + C::rb - 1) / C::rb, items = nmb * a->Hkv * a->B;
    p.nmb = (int)nmb, p.items = (int)items, p.bh = (int)(a->Hkv * a->B);
    if constexpr ((FL & F_FDIV) != 0) { /* (the persistent forms keep these under 2^31) */
        fd_set((unsigned long long)(nmb + 1) / 2, p.fd_m[kFdHp], p.fd_s[kFdHp]);
        fd_set((unsigned long long)a->Hkv, p.fd_m[kFdHk], p.fd_s[kFdHk]);
        fd_set((unsigned long long)p.G, p.fd_m[kFdG], p.fd_s[kFdG]);
    }
    if constexpr ((FL & F_LPT) != 0) {
        /* LPT: groups of k heads, k ~ 2 x SMs / (row blocks + 1) (a group's work fills two rounds of the SMs per
         * its heaviest block), at least 1; 0 (the grid order) for non-causal calls (equal blocks) or ids past 2^31 */
        const long long sm = sm_count(), k = (2 * sm + nmb) / (nmb + 1);
        p.items = a->causal && items < (1LL << 31) ? (int)(k < 1 ? 1 : k > p.bh ? p.bh : k) : 0;
    }
    const long long sms = PER ? sm_count() : 0;
    /* (F_PAIR: a block's units are pairs of row blocks) */
    const long long units = (FL & F_PAIR) ? (nmb + 1) / 2 * a->Hkv * a->B : items;
    dim3 grid = PER ? dim3((unsigned)(units < sms ? units : sms), 1, 1) : dim3((unsigned)nmb, (unsigned)a->Hkv, (unsigned)a->B);
    if constexpr ((FL & F_KSPL) != 0) {
        /* KSPL (non-causal, no mask, no window: every item has the same nt tiles; an even row-block count, so that pairs
         * are whole): past 70's Rp whole rounds of pairs, the 2 Lp items left one a block while they fill the grid, then
         * the r left in s parts: s r <= the grid and the slots, s <= 4 (the merging warp reads s - 1 partials of 8 KB),
         * no empty part ((s - 1) ch < nt); s = 1: those r whole. p.ksplit = s, 0: 70's walk. */
        p.ksplit = 0;
        const long long P = nmb / 2 * a->Hkv * a->B, gd = grid.x, nt = (a->Nk + BN - 1) / BN;
        if (!a->causal && a->mask == nullptr && a->window <= 0 && nmb % 2 == 0 && items < (1LL << 31) && P % gd != 0) {
            const long long Li = 2 * (P % gd), r = Li >= gd ? Li - gd : Li;
            long long s = 1;
            if (r > 0) {
                s = gd / r;
                if (s > 4) s = 4;
                if (s > kKsSlots / r) s = kKsSlots / r;
                if (s > nt) s = nt;
                while (s >= 2 && (s - 1) * ((nt + s - 1) / s) >= nt) --s;
                if (s < 1) s = 1;
            }
            p.ksplit = (int)s;
        }
    }
    if constexpr (CLN > 1) {
        cudaLaunchConfig_t cfg = {};
        cudaLaunchAttribute at[1] = {};
        at[0].id = cudaLaunchAttributeClusterDimension;
        at[0].val.clusterDim.x = CLN, at[0].val.clusterDim.y = 1, at[0].val.clusterDim.z = 1;
        cfg.gridDim = dim3(CLN * 64), cfg.blockDim = dim3(C::nt), cfg.dynamicSmemBytes = C::smem;
        cfg.stream = static_cast<cudaStream_t>(a->stream), cfg.attrs = at, cfg.numAttrs = 1;
        /* clusters of these blocks resident at once (asked once a process; 0: the form without clusters) */
        static std::atomic<int> fits{-1};
        int f = fits.load(std::memory_order_relaxed);
        if (f < 0) {
            int nc = 0;
            f = cudaOccupancyMaxActiveClusters(&nc, fn, &cfg) == cudaSuccess && nc > 0 ? nc : 0;
            (void)cudaGetLastError();
            fits.store(f, std::memory_order_relaxed);
        }
        if (!f) return launch_t<T, BN, S, OV, WGN, WS, PP, SW, TMA, PER, FL & ~(F_CL2 | F_CL4)>(a, vswap, err, len);
        if constexpr (PER) { /* whole clusters, all resident (a later cluster would run its items after the others) */
            long long g = grid.x < (long long)f * CLN ? (long long)grid.x : (long long)f * CLN;
            g = g / CLN * CLN;
            grid.x = (unsigned)(g < CLN ? CLN : g);
        }
        cfg.gridDim = grid;
        e = cudaLaunchKernelEx(&cfg, fn, p, mp);
        if (e == cudaSuccess) e = cudaGetLastError();
    } else {
        bool done = false;
        if constexpr ((FL & F_SPLIT) != 0) {
            /* SPL (non-causal): r = blocks mod SMs tail blocks, each over s blocks of a cluster (s r <= SMs, s <= 8) */
            const long long sm = sm_count(), r = items % sm;
            int s = 8;
            while (s > 1 && s * r > sm) s /= 2;
            if (!a->causal && r > 0 && s >= 2 && items < (1LL << 31) && split_fits(fn, s, C::nt, C::smem)) {
                const cudaStream_t stream = static_cast<cudaStream_t>(a->stream);
                p.items = (int)(items - r); /* the main launch's blocks */
                if (p.items > 0) fn<<<grid, C::nt, C::smem, stream>>>(p, mp);
                e = cudaGetLastError();
                if (e == cudaSuccess) {
                    p.items = -1; /* the tail */
                    cudaLaunchConfig_t cfg = {};
                    cudaLaunchAttribute at[1] = {};
                    at[0].id = cudaLaunchAttributeClusterDimension;
                    at[0].val.clusterDim.x = (unsigned)s, at[0].val.clusterDim.y = 1, at[0].val.clusterDim.z = 1;
                    cfg.gridDim = dim3((unsigned)s, (unsigned)r, 1), cfg.blockDim = dim3(C::nt), cfg.dynamicSmemBytes = C::smem;
                    cfg.stream = stream, cfg.attrs = at, cfg.numAttrs = 1;
                    e = cudaLaunchKernelEx(&cfg, fn, p, mp);
                    if (e == cudaSuccess) e = cudaGetLastError();
                }
                done = true;
            }
        }
        if (!done) {
            fn<<<grid, C::nt, C::smem, static_cast<cudaStream_t>(a->stream)>>>(p, mp);
            e = cudaGetLastError();
        }
    }
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        set_err(err, len, "launching the kernel", e);
    }
    return (int)e;
}

/* QN_AWG_FORMS (with QN_AWG_ALL_FORMS): a mask of form numbers, bit v for form v (a mask, not a list: nvcc splits -D
 * values at commas; e.g. bench/cuda/prebuild_fa20.sh): only these research forms are instantiated (41, 44, 47 and
 * their fallbacks always are), so that a bench build of the few forms it times compiles in a fraction of the ~5 min
 * that every form takes */
#ifdef QN_AWG_FORMS
#ifndef QN_AWG_FORMS_HI /* forms 64-127 */
#define QN_AWG_FORMS_HI 0ull
#endif
static_assert(QN_CUDA_ATTN_WG_NVARIANTS <= 128, "QN_AWG_FORMS / _HI: one bit a form");
constexpr bool want(int v) {
    return v < 64 ? ((unsigned long long)(QN_AWG_FORMS) >> v) & 1ull : ((unsigned long long)(QN_AWG_FORMS_HI) >> (v - 64)) & 1ull;
}
#else
constexpr bool want(int) { return true; }
#endif

template <typename T> int launch_v(const qn_cuda_attention_args *a, int variant, int vswap, char *err, size_t len) {
    switch (variant) {
    case QN_CUDA_ATTN_WG_N128S3WSPTMAMTO: /* ... + the output by TMA store */
        return launch_t<T, 128, 3, true, 3, true, true, true, true, false, F_CMASK | F_TQ | F_TO>(a, vswap, err, len);
    case QN_CUDA_ATTN_WG_N176S2WSPTMAMTOK: /* 41 with K / V apart, 2 stages of 176 keys */
        return launch_t<T, 176, 2, true, 3, true, true, true, true, false, F_CMASK | F_TQ | F_TO | F_KV2>(a, vswap, err,
                                                                                                        len);
    case QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOK: /* persistent pairs, K / V split, 2 Q buffers, an O stage */
        return launch_t<T, 128, 2, true, 3, true, true, true, true, true,
                        F_PAIR | F_CMASK | F_TQ | F_TO | F_KV2>(a, vswap, err, len);
    /* fa19: 41, 44, 47 with three quarters of P . V issued before the S wait, the rest after the row max
     * (QUANTA_CUDA_ATTN_WG_PVH=1: the auto pick's forms; built by default so that the switch, and the engine's
     * conformance of them, work in any build) */
    case QN_CUDA_ATTN_WG_N128S3WSPTMAMTOHH:
        return launch_t<T, 128, 3, true, 3, true, true, true, true, false,
                        F_CMASK | F_TQ | F_TO | F_PVH | F_PVHI>(a, vswap, err, len);
    case QN_CUDA_ATTN_WG_N176S2WSPTMAMTOKHH:
        return launch_t<T, 176, 2, true, 3, true, true, true, true, false,
                        F_CMASK | F_TQ | F_TO | F_KV2 | F_PVH | F_PVHI>(a, vswap, err, len);
    case QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHH:
        return launch_t<T, 128, 2, true, 3, true, true, true, true, true,
                        F_PAIR | F_CMASK | F_TQ | F_TO | F_KV2 | F_PVH | F_PVHI>(a, vswap, err, len);
    /* fa20: 66 with a consumer's items back to back (the auto pick's since fa20, QUANTA_CUDA_ATTN_WG_B2B=0: 66) */
    case QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHB:
        return launch_t<T, 128, 2, true, 3, true, true, true, true, true,
                        F_PAIR | F_CMASK | F_TQ | F_TO | F_KV2 | F_PVH | F_PVHI | F_B2B>(a, vswap, err, len);
    /* fa22 (H100 19:06, paired, two passes): 63 with conditional rescaling (78: 78/63 1.020-1.026 on all seven rows 63
     * runs) and 70 with it and base-plus-offset descriptors (83: 83/70 1.013-1.023 on all five rows 70 runs); the forms of
     * QUANTA_CUDA_ATTN_WG_CRS=1, built by default so that the switch and the engine's conformance work in any build */
    case QN_CUDA_ATTN_WG_N128S3WSPTMAMTOHHR:
        return launch_t<T, 128, 3, true, 3, true, true, true, true, false,
                        F_CMASK | F_TQ | F_TO | F_PVH | F_PVHI | F_CRS>(a, vswap, err, len);
    case QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBRD:
        return launch_t<T, 128, 2, true, 3, true, true, true, true, true,
                        F_PAIR | F_CMASK | F_TQ | F_TO | F_KV2 | F_PVH | F_PVHI | F_B2B | F_CRS | F_DESC>(a, vswap, err, len);
    /* fa23 round 2: 83 with the pair walk's divisions as multiply-shifts (F_FDIV; QUANTA_CUDA_ATTN_WG_FDIV=1, built by
     * default for the switch and the engine's conformance; H100 21:59 measured it on 87: 89/87 1.010-1.017) */
    case QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBRDF:
        return launch_t<T, 128, 2, true, 3, true, true, true, true, true,
                        F_PAIR | F_CMASK | F_TQ | F_TO | F_KV2 | F_PVH | F_PVHI | F_B2B | F_CRS | F_DESC | F_FDIV>(a, vswap, err,
                                                                                                                 len);
#if QN_AWG_ALL_FORMS
    /* fa23 research (H100 21:59, paired, two passes): 83 with the next item's Q n - 1 tiles ahead (87/83 1.000-1.006 on 1k /
     * 2k rows, 0.977 at 512 causal: the producer's peek of the next item between K(1) and V(0) delays short items), and
     * 87 with the walk's divisions as multiply-shifts (89/87 1.010-1.017 on all five rows) */
    case QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBRDQ:
        if constexpr (want(QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBRDQ))
            return launch_t<T, 128, 2, true, 3, true, true, true, true, true,
                            F_PAIR | F_CMASK | F_TQ | F_TO | F_KV2 | F_PVH | F_PVHI | F_B2B | F_CRS | F_DESC | F_QE>(
                a, vswap, err, len);
        else
            break;
    case QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBRDQF:
        if constexpr (want(QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBRDQF))
            return launch_t<T, 128, 2, true, 3, true, true, true, true, true,
                            F_PAIR | F_CMASK | F_TQ | F_TO | F_KV2 | F_PVH | F_PVHI | F_B2B | F_CRS | F_DESC | F_QE | F_FDIV>(
                a, vswap, err, len);
        else
            break;
    /* fa22 research (H100 19:06): 70 / 65 with conditional rescaling alone (77/70 1.000-1.005, 79/65 0.996-1.008) */
    case QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBR:
        if constexpr (want(QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBR))
            return launch_t<T, 128, 2, true, 3, true, true, true, true, true,
                            F_PAIR | F_CMASK | F_TQ | F_TO | F_KV2 | F_PVH | F_PVHI | F_B2B | F_CRS>(a, vswap, err, len);
        else
            break;
    case QN_CUDA_ATTN_WG_N176S2WSPTMAMTOKHHR:
        if constexpr (want(QN_CUDA_ATTN_WG_N176S2WSPTMAMTOKHHR))
            return launch_t<T, 176, 2, true, 3, true, true, true, true, false,
                            F_CMASK | F_TQ | F_TO | F_KV2 | F_PVH | F_PVHI | F_CRS>(a, vswap, err, len);
        else
            break;
    /* fa22 research: 78, 79 with a quarter of the ex2 by an FMA-pipe polynomial (80, 77's: not built, see F_PEX's
     * static_assert: its wgmma serialized, C7511) */
    case QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBRP:
        break;
    /* fa22 research: 78, 79 with base-plus-offset wgmma descriptors (F_DESC, bit-identical to them; H100 19:06: 84/78
     * 0.997-0.999, 85/79 0.985-0.994) */
    case QN_CUDA_ATTN_WG_N128S3WSPTMAMTOHHRD:
        if constexpr (want(QN_CUDA_ATTN_WG_N128S3WSPTMAMTOHHRD))
            return launch_t<T, 128, 3, true, 3, true, true, true, true, false,
                            F_CMASK | F_TQ | F_TO | F_PVH | F_PVHI | F_CRS | F_DESC>(a, vswap, err, len);
        else
            break;
    case QN_CUDA_ATTN_WG_N176S2WSPTMAMTOKHHRD:
        if constexpr (want(QN_CUDA_ATTN_WG_N176S2WSPTMAMTOKHHRD))
            return launch_t<T, 176, 2, true, 3, true, true, true, true, false,
                            F_CMASK | F_TQ | F_TO | F_KV2 | F_PVH | F_PVHI | F_CRS | F_DESC>(a, vswap, err, len);
        else
            break;
    case QN_CUDA_ATTN_WG_N128S3WSPTMAMTOHHRP:
        if constexpr (want(QN_CUDA_ATTN_WG_N128S3WSPTMAMTOHHRP))
            return launch_t<T, 128, 3, true, 3, true, true, true, true, false,
                            F_CMASK | F_TQ | F_TO | F_PVH | F_PVHI | F_CRS | F_PEX>(a, vswap, err, len);
        else
            break;
    case QN_CUDA_ATTN_WG_N176S2WSPTMAMTOKHHRP:
        if constexpr (want(QN_CUDA_ATTN_WG_N176S2WSPTMAMTOKHHRP))
            return launch_t<T, 176, 2, true, 3, true, true, true, true, false,
                            F_CMASK | F_TQ | F_TO | F_KV2 | F_PVH | F_PVHI | F_CRS | F_PEX>(a, vswap, err, len);
        else
            break;
    /* fa21 research (session 21 call 3, H100 15:47: 74/70 1.002 / 0.999 at 2k non-causal, 0.975 at 1k): 70 with the grid's
     * last round split over the keys in non-causal calls (its global slots exist in research builds only, fa22) */
    case QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBK:
        if constexpr (want(QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBK))
            return launch_t<T, 128, 2, true, 3, true, true, true, true, true,
                            F_PAIR | F_CMASK | F_TQ | F_TO | F_KV2 | F_PVH | F_PVHI | F_B2B | F_KSPL>(a, vswap, err, len);
        else
            break;
    /* fa21 research (call 2, H100 15:09: 72/70 0.86-0.95 on every row): 70 with the item before's epilogue under the next
     * turn's Q . K^T issue (72), O packed first (73), 72 + the split (75), 72's issue chosen by a vote (76) */
    case QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBE:
        if constexpr (want(QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBE))
            return launch_t<T, 128, 2, true, 3, true, true, true, true, true,
                            F_PAIR | F_CMASK | F_TQ | F_TO | F_KV2 | F_PVH | F_PVHI | F_B2B | F_EPI>(a, vswap, err, len);
        else
            break;
    case QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBEK:
        if constexpr (want(QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBEK))
            return launch_t<T, 128, 2, true, 3, true, true, true, true, true,
                            F_PAIR | F_CMASK | F_TQ | F_TO | F_KV2 | F_PVH | F_PVHI | F_B2B | F_EPI | F_KSPL>(a, vswap, err,
                                                                                                              len);
        else
            break;
    case QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBEV:
        if constexpr (want(QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBEV))
            return launch_t<T, 128, 2, true, 3, true, true, true, true, true,
                            F_PAIR | F_CMASK | F_TQ | F_TO | F_KV2 | F_PVH | F_PVHI | F_B2B | F_EPI | F_EPIB>(a, vswap, err,
                                                                                                              len);
        else
            break;
    case QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBEP:
        if constexpr (want(QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBEP))
            return launch_t<T, 128, 2, true, 3, true, true, true, true, true,
                            F_PAIR | F_CMASK | F_TQ | F_TO | F_KV2 | F_PVH | F_PVHI | F_B2B | F_EPI | F_EPIP>(a, vswap, err,
                                                                                                              len);
        else
            break;
    /* fa19 research: P . V in halves (58, 60, 61), split at 7 / 8 (67) or 5 / 8 (68) of 41, 63 stamped (69) */
    case QN_CUDA_ATTN_WG_N128S3WSPTMAMTOH:
        if constexpr (want(QN_CUDA_ATTN_WG_N128S3WSPTMAMTOH))
            return launch_t<T, 128, 3, true, 3, true, true, true, true, false, F_CMASK | F_TQ | F_TO | F_PVH>(a, vswap,
                                                                                                            err, len);
        else
            break;
    case QN_CUDA_ATTN_WG_N176S2WSPTMAMTOKH:
        if constexpr (want(QN_CUDA_ATTN_WG_N176S2WSPTMAMTOKH))
            return launch_t<T, 176, 2, true, 3, true, true, true, true, false,
                            F_CMASK | F_TQ | F_TO | F_KV2 | F_PVH>(a, vswap, err, len);
        else
            break;
    case QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKH:
        if constexpr (want(QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKH))
            return launch_t<T, 128, 2, true, 3, true, true, true, true, true,
                            F_PAIR | F_CMASK | F_TQ | F_TO | F_KV2 | F_PVH>(a, vswap, err, len);
        else
            break;
    case QN_CUDA_ATTN_WG_N128S3WSPTMAMTOH7:
        if constexpr (want(QN_CUDA_ATTN_WG_N128S3WSPTMAMTOH7))
            return launch_t<T, 128, 3, true, 3, true, true, true, true, false,
                            F_CMASK | F_TQ | F_TO | F_PVH | F_PV7>(a, vswap, err, len);
        else
            break;
    case QN_CUDA_ATTN_WG_N128S3WSPTMAMTOH5:
        if constexpr (want(QN_CUDA_ATTN_WG_N128S3WSPTMAMTOH5))
            return launch_t<T, 128, 3, true, 3, true, true, true, true, false,
                            F_CMASK | F_TQ | F_TO | F_PVH | F_PV5>(a, vswap, err, len);
        else
            break;
    case QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBX: /* fa20: 70 stamped across its items (the trace) */
        if constexpr (want(QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBX))
            return launch_t<T, 128, 2, true, 3, true, true, true, true, true,
                            F_PAIR | F_CMASK | F_TQ | F_TO | F_KV2 | F_PVH | F_PVHI | F_B2B | F_TRACE>(a, vswap, err, len);
        else
            break;
    case QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBRDX: /* fa23: 83 stamped across its items (the trace) */
        if constexpr (want(QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBRDX))
            return launch_t<T, 128, 2, true, 3, true, true, true, true, true,
                            F_PAIR | F_CMASK | F_TQ | F_TO | F_KV2 | F_PVH | F_PVHI | F_B2B | F_CRS | F_DESC | F_TRACE>(
                a, vswap, err, len);
        else
            break;
    case QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBRDQX: /* fa23: 87 stamped across its items (the trace) */
        if constexpr (want(QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBRDQX))
            return launch_t<T, 128, 2, true, 3, true, true, true, true, true,
                            F_PAIR | F_CMASK | F_TQ | F_TO | F_KV2 | F_PVH | F_PVHI | F_B2B | F_CRS | F_DESC | F_QE |
                                F_TRACE>(a, vswap, err, len);
        else
            break;
    case QN_CUDA_ATTN_WG_N128S3WSPTMAMTOHHX:
        if constexpr (want(QN_CUDA_ATTN_WG_N128S3WSPTMAMTOHHX))
            return launch_t<T, 128, 3, true, 3, true, true, true, true, false,
                            F_CMASK | F_TQ | F_TO | F_PVH | F_PVHI | F_TRACE>(a, vswap, err, len);
        else
            break;
    case QN_CUDA_ATTN_WG_N128S3: if constexpr (want(QN_CUDA_ATTN_WG_N128S3)) return launch_t<T, 128, 3, false, 2>(a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N64S3: if constexpr (want(QN_CUDA_ATTN_WG_N64S3)) return launch_t<T, 64, 3, false, 2>(a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N64S4O: if constexpr (want(QN_CUDA_ATTN_WG_N64S4O)) return launch_t<T, 64, 4, true, 2>(a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N128S3O: if constexpr (want(QN_CUDA_ATTN_WG_N128S3O)) return launch_t<T, 128, 3, true, 2>(a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N64S4O3: if constexpr (want(QN_CUDA_ATTN_WG_N64S4O3)) return launch_t<T, 64, 4, true, 3>(a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N64S4WS: if constexpr (want(QN_CUDA_ATTN_WG_N64S4WS)) return launch_t<T, 64, 4, true, 3, true>(a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N64S4WSP: if constexpr (want(QN_CUDA_ATTN_WG_N64S4WSP)) return launch_t<T, 64, 4, true, 3, true, true>(a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N128S3WS: if constexpr (want(QN_CUDA_ATTN_WG_N128S3WS)) return launch_t<T, 128, 3, true, 3, true>(a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N128S3WSP: if constexpr (want(QN_CUDA_ATTN_WG_N128S3WSP)) return launch_t<T, 128, 3, true, 3, true, true>(a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N128S2SW: if constexpr (want(QN_CUDA_ATTN_WG_N128S2SW)) return launch_t<T, 128, 2, false, 2, false, false, true>(a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N64S4O3SW: if constexpr (want(QN_CUDA_ATTN_WG_N64S4O3SW)) return launch_t<T, 64, 4, true, 3, false, false, true>(a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N64S4WSSW: if constexpr (want(QN_CUDA_ATTN_WG_N64S4WSSW)) return launch_t<T, 64, 4, true, 3, true, false, true>(a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N64S4WSPSW: if constexpr (want(QN_CUDA_ATTN_WG_N64S4WSPSW)) return launch_t<T, 64, 4, true, 3, true, true, true>(a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N128S3WSSW: if constexpr (want(QN_CUDA_ATTN_WG_N128S3WSSW)) return launch_t<T, 128, 3, true, 3, true, false, true>(a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N128S3WSPSW: if constexpr (want(QN_CUDA_ATTN_WG_N128S3WSPSW)) return launch_t<T, 128, 3, true, 3, true, true, true>(a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N128S3OSW: if constexpr (want(QN_CUDA_ATTN_WG_N128S3OSW)) return launch_t<T, 128, 3, true, 2, false, false, true>(a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N64S4WSTMA: if constexpr (want(QN_CUDA_ATTN_WG_N64S4WSTMA)) return launch_t<T, 64, 4, true, 3, true, false, true, true>(a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N64S4WSPTMA: if constexpr (want(QN_CUDA_ATTN_WG_N64S4WSPTMA)) return launch_t<T, 64, 4, true, 3, true, true, true, true>(a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N128S3WSTMA: if constexpr (want(QN_CUDA_ATTN_WG_N128S3WSTMA)) return launch_t<T, 128, 3, true, 3, true, false, true, true>(a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N128S3WSPTMA: if constexpr (want(QN_CUDA_ATTN_WG_N128S3WSPTMA)) return launch_t<T, 128, 3, true, 3, true, true, true, true>(a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N64S4WS3TMA: if constexpr (want(QN_CUDA_ATTN_WG_N64S4WS3TMA)) return launch_t<T, 64, 4, true, 4, true, false, true, true>(a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N64S4WSPTMAP: if constexpr (want(QN_CUDA_ATTN_WG_N64S4WSPTMAP)) return launch_t<T, 64, 4, true, 3, true, true, true, true, true>(a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N128S3WSPTMAP: if constexpr (want(QN_CUDA_ATTN_WG_N128S3WSPTMAP)) return launch_t<T, 128, 3, true, 3, true, true, true, true, true>(a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N128S3WSPTMAPH:
        if constexpr (want(QN_CUDA_ATTN_WG_N128S3WSPTMAPH)) return launch_t<T, 128, 3, true, 3, true, true, true, true, true, F_HEADS>(a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N128S3WSPTMAR:
        if constexpr (want(QN_CUDA_ATTN_WG_N128S3WSPTMAR)) return launch_t<T, 128, 3, true, 3, true, true, true, true, false, F_SKIP | F_CMASK>(a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N128S3WSPTMAPHR:
        if constexpr (want(QN_CUDA_ATTN_WG_N128S3WSPTMAPHR)) return launch_t<T, 128, 3, true, 3, true, true, true, true, true, F_HEADS | F_SKIP | F_CMASK>(a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N128S3WSPTMAE:
        if constexpr (want(QN_CUDA_ATTN_WG_N128S3WSPTMAE)) return launch_t<T, 128, 3, true, 3, true, true, true, true, false, F_EARLY>(a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N128S3WSPTMAC:
        if constexpr (want(QN_CUDA_ATTN_WG_N128S3WSPTMAC)) return launch_t<T, 128, 3, true, 3, true, true, true, true, false, F_EARLY | F_CL2>(a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N128S3WSPTMAPHRE:
        if constexpr (want(QN_CUDA_ATTN_WG_N128S3WSPTMAPHRE)) return launch_t<T, 128, 3, true, 3, true, true, true, true, true, F_HEADS | F_SKIP | F_CMASK | F_EARLY>(a, vswap,
                                                                                                          err, len); else break;
    case QN_CUDA_ATTN_WG_N128S3WSPTMACR:
        if constexpr (want(QN_CUDA_ATTN_WG_N128S3WSPTMACR)) return launch_t<T, 128, 3, true, 3, true, true, true, true, false, F_EARLY | F_CL2 | F_SKIP | F_CMASK>(a, vswap,
                                                                                                        err, len); else break;
    case QN_CUDA_ATTN_WG_N128S3WSPTMAC4:
        if constexpr (want(QN_CUDA_ATTN_WG_N128S3WSPTMAC4)) return launch_t<T, 128, 3, true, 3, true, true, true, true, false, F_EARLY | F_CL4>(a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N128S3WSTMAC: /* 20 (no ping-pong) + E + clusters of 2 */
        if constexpr (want(QN_CUDA_ATTN_WG_N128S3WSTMAC)) return launch_t<T, 128, 3, true, 3, true, false, true, true, false, F_EARLY | F_CL2>(a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N128S3WSPTMAM: /* 26's two shortcuts apart: the one-compare mask ... */
        if constexpr (want(QN_CUDA_ATTN_WG_N128S3WSPTMAM)) return launch_t<T, 128, 3, true, 3, true, true, true, true, false, F_CMASK>(a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N128S3WSPTMAS: /* ... and the rescale skipped where no row max moved */
        if constexpr (want(QN_CUDA_ATTN_WG_N128S3WSPTMAS)) return launch_t<T, 128, 3, true, 3, true, true, true, true, false, F_SKIP>(a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N128S3WSPTMAME1: /* 35 with its first tile issued right after Q's copies */
        if constexpr (want(QN_CUDA_ATTN_WG_N128S3WSPTMAME1)) return launch_t<T, 128, 3, true, 3, true, true, true, true, false, F_CMASK | F_E1>(a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N128S3WSPTMAMQ: /* 35 with the L2 prefetch of the Q of the block a wave ahead */
        if constexpr (want(QN_CUDA_ATTN_WG_N128S3WSPTMAMQ)) return launch_t<T, 128, 3, true, 3, true, true, true, true, false, F_CMASK | F_QPF>(a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N128S3WSPTMAPM2: /* 24 walking pairs of row blocks, with 35's mask */
        if constexpr (want(QN_CUDA_ATTN_WG_N128S3WSPTMAPM2)) return launch_t<T, 128, 3, true, 3, true, true, true, true, true, F_PAIR | F_CMASK>(a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N128S3WSPTMAMT: /* 35 + Q by TMA ahead of the tiles, 32-bit rows */
        if constexpr (want(QN_CUDA_ATTN_WG_N128S3WSPTMAMT)) return launch_t<T, 128, 3, true, 3, true, true, true, true, false, F_CMASK | F_TQ>(a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N128S3WSPTMAPM2T: /* 37 + Q by TMA, FlashAttention-3's producer order */
        if constexpr (want(QN_CUDA_ATTN_WG_N128S3WSPTMAPM2T)) return launch_t<T, 128, 3, true, 3, true, true, true, true, true, F_PAIR | F_CMASK | F_TQ>(a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N128S3WSPTMAMTOD: /* 41 + the lower consumer's diagonal half */
        if constexpr (want(QN_CUDA_ATTN_WG_N128S3WSPTMAMTOD)) return launch_t<T, 128, 3, true, 3, true, true, true, true, false, F_CMASK | F_TQ | F_TO | F_DIAG>(a, vswap, err,
                                                                                                         len); else break;
    case QN_CUDA_ATTN_WG_N192S2WSPTMAMTOK: /* ... 192 keys */
        if constexpr (want(QN_CUDA_ATTN_WG_N192S2WSPTMAMTOK)) return launch_t<T, 192, 2, true, 3, true, true, true, true, false, F_CMASK | F_TQ | F_TO | F_KV2>(a, vswap, err,
                                                                                                        len); else break;
    case QN_CUDA_ATTN_WG_N128S2WSPTMAMTOKD: /* ... 128 keys (the K / V split alone), with the diagonal half */
        if constexpr (want(QN_CUDA_ATTN_WG_N128S2WSPTMAMTOKD)) return launch_t<T, 128, 2, true, 3, true, true, true, true, false,
                        F_CMASK | F_TQ | F_TO | F_KV2 | F_DIAG>(a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKD: /* ... + the diagonal half */
        if constexpr (want(QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKD)) return launch_t<T, 128, 2, true, 3, true, true, true, true, true,
                        F_PAIR | F_CMASK | F_TQ | F_TO | F_KV2 | F_DIAG>(a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N128S3WSPTMAMTOT: /* 41, 44, 47 with the softmax's trees */
        if constexpr (want(QN_CUDA_ATTN_WG_N128S3WSPTMAMTOT)) return launch_t<T, 128, 3, true, 3, true, true, true, true, false, F_CMASK | F_TQ | F_TO | F_TREE>(a, vswap, err,
                                                                                                         len); else break;
    case QN_CUDA_ATTN_WG_N176S2WSPTMAMTOKT:
        if constexpr (want(QN_CUDA_ATTN_WG_N176S2WSPTMAMTOKT)) return launch_t<T, 176, 2, true, 3, true, true, true, true, false,
                        F_CMASK | F_TQ | F_TO | F_KV2 | F_TREE>(a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKT:
        if constexpr (want(QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKT)) return launch_t<T, 128, 2, true, 3, true, true, true, true, true,
                        F_PAIR | F_CMASK | F_TQ | F_TO | F_KV2 | F_TREE>(a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N128S3WSPTMAMTOL: /* fa17: 41, 44 with the causal grid longest first in groups of heads */
        if constexpr (want(QN_CUDA_ATTN_WG_N128S3WSPTMAMTOL)) return launch_t<T, 128, 3, true, 3, true, true, true, true, false, F_CMASK | F_TQ | F_TO | F_LPT>(a, vswap, err,
                                                                                                        len); else break;
    case QN_CUDA_ATTN_WG_N176S2WSPTMAMTOKL:
        if constexpr (want(QN_CUDA_ATTN_WG_N176S2WSPTMAMTOKL)) return launch_t<T, 176, 2, true, 3, true, true, true, true, false,
                        F_CMASK | F_TQ | F_TO | F_KV2 | F_LPT>(a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N128S3WSPTMAMTOR: /* 41 with O rescaled under Q . K^T (FlashAttention-3's order) */
        if constexpr (want(QN_CUDA_ATTN_WG_N128S3WSPTMAMTOR)) return launch_t<T, 128, 3, true, 3, true, true, true, true, false, F_CMASK | F_TQ | F_TO | F_RLATE>(a, vswap, err,
                                                                                                          len); else break;
    case QN_CUDA_ATTN_WG_N128S3WSPTMAMTOX: /* 41 with block 0's consumer loop stamped (the bench's trace) */
        if constexpr (want(QN_CUDA_ATTN_WG_N128S3WSPTMAMTOX)) return launch_t<T, 128, 3, true, 3, true, true, true, true, false, F_CMASK | F_TQ | F_TO | F_TRACE>(a, vswap, err,
                                                                                                          len); else break;
    case QN_CUDA_ATTN_WG_N128S3WSPTMAMTOLS: /* 52, 53 + the last partial wave split over the keys (non-causal) */
        if constexpr (want(QN_CUDA_ATTN_WG_N128S3WSPTMAMTOLS)) return launch_t<T, 128, 3, true, 3, true, true, true, true, false, F_CMASK | F_TQ | F_TO | F_LPT | F_SPLIT>(
            a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N176S2WSPTMAMTOKLS:
        if constexpr (want(QN_CUDA_ATTN_WG_N176S2WSPTMAMTOKLS)) return launch_t<T, 176, 2, true, 3, true, true, true, true, false,
                        F_CMASK | F_TQ | F_TO | F_KV2 | F_LPT | F_SPLIT>(a, vswap, err, len); else break;
    case QN_CUDA_ATTN_WG_N128S3WSPTMAMTOHL: /* fa19: 58 with 2 of P . V's 8 k16 steps before the S wait */
        if constexpr (want(QN_CUDA_ATTN_WG_N128S3WSPTMAMTOHL))
            return launch_t<T, 128, 3, true, 3, true, true, true, true, false,
                            F_CMASK | F_TQ | F_TO | F_PVH | F_PVLO>(a, vswap, err, len);
        else
            break;
    case QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKX: /* fa19: 47 with block 0's consumer loop stamped across its items */
        if constexpr (want(QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKX))
            return launch_t<T, 128, 2, true, 3, true, true, true, true, true,
                            F_PAIR | F_CMASK | F_TQ | F_TO | F_KV2 | F_TRACE>(a, vswap, err, len);
        else
            break;
    case QN_CUDA_ATTN_WG_N128S3WSPTMAMTOHX: /* fa19: 58 with block 0's consumer loop stamped */
        if constexpr (want(QN_CUDA_ATTN_WG_N128S3WSPTMAMTOHX))
            return launch_t<T, 128, 3, true, 3, true, true, true, true, false,
                            F_CMASK | F_TQ | F_TO | F_PVH | F_TRACE>(a, vswap, err, len);
        else
            break;
    case QN_CUDA_ATTN_WG_N128S3WSPTMAPHREQ:
        if constexpr (want(QN_CUDA_ATTN_WG_N128S3WSPTMAPHREQ)) return launch_t<T, 128, 3, true, 3, true, true, true, true, true, F_HEADS | F_SKIP | F_CMASK | F_EARLY | F_QREG>(
            a, vswap, err, len); else break;
    default: if constexpr (want(QN_CUDA_ATTN_WG_N128S2)) return launch_t<T, 128, 2, false, 2>(a, vswap, err, len); else break;
#else
    default: /* a research form (QN_AWG_ALL_FORMS builds them: meson -Dattn_wg_forms=all) */
        if (err && len) snprintf(err, len, "qn_cuda_attn_wg: form %d is not in this build (meson -Dattn_wg_forms=all)", variant);
        return (int)cudaErrorInvalidValue;
#endif
    }
    /* (QN_AWG_FORMS: a research form left out of this build) */
    if (err && len) snprintf(err, len, "qn_cuda_attn_wg: form %d is not in this build (QN_AWG_FORMS)", variant);
    return (int)cudaErrorInvalidValue;
}

} // namespace qn_awg

extern "C" void qn_cuda_attn_wg_set_persist_grid(int blocks) {
    qn_awg::g_persist_cap.store(blocks > 0 ? blocks : 0, std::memory_order_relaxed);
}

extern "C" int qn_cuda_attn_wg_trace(long long *out, int n) {
    constexpr int all = 2 * qn_awg::kTrT * qn_awg::kTrS;
    if (out == nullptr) { /* clear (the stamps of tiles a launch does not reach stay 0) */
        static const long long zero[all] = {};
        return (int)cudaMemcpyToSymbol(qn_awg::g_awg_trace, zero, sizeof zero);
    }
    if (n > all) n = all;
    return n > 0 ? (int)cudaMemcpyFromSymbol(out, qn_awg::g_awg_trace, (size_t)n * sizeof(long long)) : 0;
}

extern "C" long long qn_cuda_attn_wg_map_fallbacks(void) { return qn_awg::g_map_fallbacks.load(std::memory_order_relaxed); }

extern "C" long long qn_cuda_attn_wg_blocks(const qn_cuda_attention_args *a) {
    const long long rows = (a->Hq / a->Hkv) * a->Nq;
    return a->B * a->Hkv * ((rows + qn_awg::kRB - 1) / qn_awg::kRB); /* the default (2-warpgroup) form */
}

extern "C" int qn_cuda_attn_wg_applies(const qn_cuda_attention_args *a) {
    const uintptr_t al = (uintptr_t)a->q | (uintptr_t)a->k | (uintptr_t)a->v | (uintptr_t)a->out;
    if ((a->dtype != QN_DT_F16 && a->dtype != QN_DT_BF16) || a->D != qn_awg::kD || !(a->scale > 0.f) || (al & 15))
        return 0;
    if (a->Nq < 1 || a->Nk < 1 || a->Hkv < 1 || a->Hq % a->Hkv || a->B > 65535 || a->Hkv > 65535 ||
        a->Nq >= (1LL << 30) || a->Nk >= (1LL << 30) || (a->Hq / a->Hkv) * a->Nq >= (1LL << 30))
        return 0;
    return qn_sm90a_device_ok() ? 1 : 0;
}

/* QUANTA_CUDA_ATTN_WG_TILE=1..51 (attention_wg.h's variants: 1 n128s2, 2 n128s3, 3 n64s3, 4 n64s4o, 5 n128s3o,
 * 6 n64s4o3, 7 n64s4ws, 8 n64s4wsp, 9 n128s3ws, 10 n128s3wsp, 11 n128s2sw, 12 n64s4o3sw, 13 n64s4wssw,
 * 14 n64s4wspsw, 15 n128s3wssw, 16 n128s3wspsw, 17 n128s3osw, 18 n64s4wstma, 19 n64s4wsptma, 20 n128s3wstma,
 * 21 n128s3wsptma, 22 n64s4ws3tma, 23 n64s4wsptmap, 24 n128s3wsptmap, 25 n128s3wsptmaph, 26 n128s3wsptmar,
 * 27 n128s3wsptmaphr, 28 n128s3wsptmae, 29 n128s3wsptmac, 30 n128s3wsptmaphre, 31 n128s3wsptmacr,
 * 32 n128s3wsptmac4, 33 n128s3wsptmaphreq, 34 n128s3wstmac, 35 n128s3wsptmam, 36 n128s3wsptmas,
 * 37 n128s3wsptmapm2, 38 n128s3wsptmame1, 39 n128s3wsptmamq, 40 n128s3wsptmamt, 41 n128s3wsptmamto,
 * 42 n128s3wsptmapm2t, 43 n128s3wsptmamtod, 44 n176s2wsptmamtok, 45 n192s2wsptmamtok, 46 n128s2wsptmamtokd,
 * 47 n128s2wsptmapm2tok, 48 n128s2wsptmapm2tokd, 49 n128s3wsptmamtot, 50 n176s2wsptmamtokt, 51 n128s2wsptmapm2tokt,
 * 52 n128s3wsptmamtol, 53 n176s2wsptmamtokl, 54 n128s3wsptmamtor, 55 n128s3wsptmamtox, 56 n128s3wsptmamtols,
 * 57 n176s2wsptmamtokls, 58 n128s3wsptmamtoh, 59 n128s3wsptmamtohx, 60 n176s2wsptmamtokh, 61 n128s2wsptmapm2tokh,
 * 62 n128s3wsptmamtohl, 63 n128s3wsptmamtohh, 64 n128s2wsptmapm2tokx, 65 n176s2wsptmamtokhh, 66 n128s2wsptmapm2tokhh,
 * 67 n128s3wsptmamtoh7, 68 n128s3wsptmamtoh5, 69 n128s3wsptmamtohhx, 70 n128s2wsptmapm2tokhhb,
 * 71 n128s2wsptmapm2tokhhbx, 72 n128s2wsptmapm2tokhhbe, 73 n128s2wsptmapm2tokhhbep,
 * 74 n128s2wsptmapm2tokhhbk, 75 n128s2wsptmapm2tokhhbek, 76 n128s2wsptmapm2tokhhbev, 77 n128s2wsptmapm2tokhhbr,
 * 78 n128s3wsptmamtohhr, 79 n176s2wsptmamtokhhr, 80 n128s2wsptmapm2tokhhbrp, 81 n128s3wsptmamtohhrp,
 * 82 n176s2wsptmamtokhhrp, 83 n128s2wsptmapm2tokhhbrd, 84 n128s3wsptmamtohhrd, 85 n176s2wsptmamtokhhrd,
 * 86 n128s2wsptmapm2tokhhbrdx, 87 n128s2wsptmapm2tokhhbrdq, 88 n128s2wsptmapm2tokhhbrdqx,
 * 89 n128s2wsptmapm2tokhhbrdqf, 90 n128s2wsptmapm2tokhhbrdf)
 * picks the form, where this build has it (form_built)
 * QN_CUDA_ATTN_WG_AUTO runs, for side-by-side runs of the engine; unset or anything else: the pick by shape below.
 * Read once. */
/* The forms this build instantiates: the auto pick's three (and, through launch_t's fallbacks, the forms they fall back
 * to), or with QN_AWG_ALL_FORMS (meson -Dattn_wg_forms=all; the bench's attention_check defines it) every form the
 * notes measured. Each form is two kernels (f16, bf16) and its fallbacks more: all 57 made this CI's longest compile. */
static bool form_built(int v) {
    return (QN_AWG_ALL_FORMS && qn_awg::want(v)) || v == QN_CUDA_ATTN_WG_N128S3WSPTMAMTO || v == QN_CUDA_ATTN_WG_N176S2WSPTMAMTOK ||
           v == QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOK || v == QN_CUDA_ATTN_WG_N128S3WSPTMAMTOHH ||
           v == QN_CUDA_ATTN_WG_N176S2WSPTMAMTOKHH || v == QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHH ||
           v == QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHB || v == QN_CUDA_ATTN_WG_N128S3WSPTMAMTOHHR ||
           v == QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBRD || v == QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBRDF;
}
/* A pick switch read once into its cache: `on` unless the variable is exactly the other value ("0" for a switch
 * that is on by default, "1" for one that is off). */
static bool switch_once(std::atomic<int> &v, const char *name, bool on) {
    int x = v.load(std::memory_order_relaxed);
    if (x < 0) {
        const char *e = getenv(name);
        x = e && e[0] == (on ? '0' : '1') && e[1] == '\0' ? !on : on;
        v.store(x, std::memory_order_relaxed);
    }
    return x != 0;
}
/* The auto pick's forms 41 / 44 / 47 as 63 / 65 / 66 (fa19: three quarters of the tile before's P . V issued with
 * Q . K^T, the rest after the row max: bit-identical). On by default since H100 2026-12-07 09:50 (lead19): paired
 * rounds in one process, two passes, 63 / 41 1.002-1.043, 65 / 44 0.996-1.059, 66 / 47 1.000-1.058 on all 13 rows
 * (equal only at 512 causal, the launch-bound row); conformance 333/0 for each. QUANTA_CUDA_ATTN_WG_PVH=0: the bases.
 * Read once. */
static bool pvh_env() {
    static std::atomic<int> v{-1};
    return switch_once(v, "QUANTA_CUDA_ATTN_WG_PVH", true);
}
/* The auto pick's 66 (the persistent form with PVH) as 70, its items back to back in a consumer (fa20: bit-identical,
 * attention_check wgsame 56 of 56 outputs byte-identical). On by default since H100 2026-12-07 12:37 (call 2 of
 * session 20, paired rounds in one process, two passes): 70/66 1.021-1.034 at 512 / 1k / 2k causal, 1.006-1.013 at
 * 1k non-causal, 1.000-1.007 at 2k non-causal; conformance 333/0 with TILE=70 and the auto route, racecheck /
 * synccheck clean. QUANTA_CUDA_ATTN_WG_B2B=0: 66. Read once. */
static bool b2b_env() {
    static std::atomic<int> v{-1};
    return switch_once(v, "QUANTA_CUDA_ATTN_WG_B2B", true);
}
/* The persistent form's non-causal bound at 2048 keys instead of 1536, i.e. 70 (66) instead of 63 at 2k non-causal.
 * On by default since H100 2026-12-07 15:10 (lead21, fa20's rule: 70/63 median >= 1.01 with q1 >= 1.00 at 2k
 * non-causal in both passes of one call): 70/63 1.034 [q1 1.008] and 1.017 [q1 1.015] (fa21's call), after 1.020 /
 * 1.007 (session 20) and 1.021 / 1.001 (lead21's call 1); 4k non-causal 70/63 0.995: the bound stays below.
 * QUANTA_CUDA_ATTN_WG_NC2K=0: 63 at 2k non-causal. Read once. */
static bool nc2k_env() {
    static std::atomic<int> v{-1};
    return switch_once(v, "QUANTA_CUDA_ATTN_WG_NC2K", true);
}
/* QUANTA_CUDA_ATTN_WG_KSPL=1 (fa21; research builds only since fa22, meson -Dattn_wg_forms=all: its measured rule was
 * not met): for non-causal calls the auto pick's 70 as 74 (the grid's last round balanced: the pairs left as single
 * items, the items left after them split over the keys, F_KSPL; not bit-identical). A default build ignores it. Read
 * once. */
static bool kspl_env() {
#if QN_AWG_ALL_FORMS
    static std::atomic<int> v{-1};
    return switch_once(v, "QUANTA_CUDA_ATTN_WG_KSPL", false) && form_built(QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBK);
#else
    return false;
#endif
}
/* QUANTA_CUDA_ATTN_WG_CRS (fa22; on by default since 2026-12-07 19:50, lead22: bench/NOTES.md fa22's flip rule, which
 * the H100 call of 19:06 met; =0 restores 70 / 63): the auto
 * pick's 70 as 83 (FlashAttention-4's conditional rescaling — O rescaled only when a row max of the warp grew by more
 * than 2^8 — and base-plus-offset wgmma descriptors: 83/70 1.013-1.023 on all five of 70's rows, two passes at 1k / 2k
 * non-causal) and 63 as 78 (the rescaling alone: 78/63 1.020-1.026 on all seven of 63's rows); 65 stays (79/65 ~1.0).
 * Not bit-identical (P scaled to a stale max), within the attention bound. Read once. */
static bool crs_env() {
    static std::atomic<int> v{-1};
    return switch_once(v, "QUANTA_CUDA_ATTN_WG_CRS", true);
}
/* QUANTA_CUDA_ATTN_WG_LONG (fa23; on by default since H100 2026-12-07 21:59, bench/NOTES.md fa23's flip rule; =0 restores
 * 65): with CRS on, the rows the 176-key form 65 ran (Nk >= 8192 non-causal, >= 12288 causal) run 78 (128-key tiles
 * with conditional rescaling; CRS gave 65 nothing, its 176-key form at the register cap). Paired rounds, two passes:
 * 78/65 1.063 / 1.064 at 8k non-causal, 1.061 / 1.061 at 16k non-causal, 1.059 / 1.061 at 16k causal (q1 >= 1.043);
 * 78 x cuDNN 1.08-1.17 there. (=2 of round 1, 83 on every non-causal row past 2k, measured 0.966-0.992 against 78:
 * dropped.) Read once. */
static bool long_env() {
    static std::atomic<int> v{-1};
    return switch_once(v, "QUANTA_CUDA_ATTN_WG_LONG", true);
}
/* QUANTA_CUDA_ATTN_WG_FDIV=1 (fa23 round 2; off until a device run meets bench/NOTES.md fa23's flip rule): the auto pick's
 * 83 (the persistent route) as 90, its pair walk's divisions by launch constants as multiply-shifts (F_FDIV;
 * bit-identical). Read once. */
static bool fdiv_env() {
    static std::atomic<int> v{-1};
    return switch_once(v, "QUANTA_CUDA_ATTN_WG_FDIV", false);
}
static int tile_env() {
    static std::atomic<int> v{-1};
    int x = v.load(std::memory_order_relaxed);
    if (x < 0) {
        const char *e = getenv("QUANTA_CUDA_ATTN_WG_TILE");
        const int k = e ? atoi(e) : 0;
        x = k >= 1 && k < QN_CUDA_ATTN_WG_NVARIANTS && form_built(k) ? k : 0;
        v.store(x, std::memory_order_relaxed);
    }
    return x;
}

/* The pick by shape. fa13 (H100 13:12): n128s3wsptma (21: TMA producer, 2 ping-pong consumers, 128-key tiles) led or
 * tied everywhere but 512 causal (24, persistent). fa14 (H100 17:13, the forms timed in turns on one setup, bf16
 * hd128, B x 32 heads x N = 512k rows): 35 (21 with the boundary tiles of causal-only calls masked by one compare a
 * score, bit-identical) led every causal row: 1k / 4k / 16k 304 / 507 / 607 TFLOP/s vs 21's 265 / 481 / 596, f16
 * 4k 495 vs 466, GQA 32/8 499 vs 467, 512 182 vs 24's 164; non-causal (no boundary tiles at these shapes) 21 stays. */
/* fa15 (H100 21:03, same run, the forms in turns): 41 (35 + Q by TMA ahead of the tiles, 32-bit rows, the output by
 * TMA store) led every row, causal or not: non-causal 1k / 4k / 16k 574 / 614 / 656 TFLOP/s vs 21's 450 / 572 / 640
 * (0.97 / 0.94 / 0.97x cuDNN), causal 394 / 585 / 612 vs 35's 269 / 501 / 588 (0.88 / 1.04 / 0.94x), f16 4k causal
 * 548 vs 475, GQA 32/8 570 vs 492, 512 causal 276 vs 174; conformance 333/0, attention_check, racecheck / synccheck
 * clean. Folds it cannot take run 40 (64 % G != 0) or 35 (128 % G != 0: for non-causal calls 35 is 21 but for the
 * one-compare mask of tiles past Nk); kv_lens: the cp.async producer form, as before. */
/* fa16 (H100 00:11, same run, bf16 hd128, B x 32 heads x N = 512k rows; conformance 333/0 and attention_check for
 * every form, racecheck / synccheck clean on 44, 46, 47): 47 (persistent pairs, K / V split, 2 Q buffers, O stage)
 * led at N <= 1k: causal 1k 422 vs 41's 377 TFLOP/s (0.94 vs 0.84x cuDNN), 512 331 vs 274 (0.94 vs 0.78x),
 * non-causal 1k 557 vs 538; at 4k it tied (causal 489 / 488) or trailed (non-causal 579 / 591), at 16k it lost
 * (-4 / -6%). 44 (176-key tiles, K / V split) led at 16k: non-causal 671 vs 657 (0.98 vs 0.96x), causal 618 vs 608
 * (0.96 vs 0.94x), and trailed below (4k -1 / -3.5%, 1k -6 / -11%). 2k and 8k unmeasured: the bounds sit between. */
/* fa17 (H100 02:25, same run, 41 / 44 / 47 on 13 shapes with cuDNN): 44 led non-causal 8k (0.97 vs 41's 0.95x
 * cuDNN) as well as 16k (0.97 vs 0.95), 41 non-causal 4k (0.98 vs 0.97): 44's non-causal bound moves to 8k, the
 * measured point; causal 8k tied (0.95 / 0.95), so its causal bound stays. */
static int auto_variant(const qn_cuda_attention_args *a) {
    const int e = tile_env();
    if (e) return e;
    const bool h = pvh_env();
    const bool r = h && crs_env(); /* (CRS: the PVH forms) */
    const int f83 = fdiv_env() ? QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBRDF : QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBRD;
    if (a->Nk <= (a->causal || nc2k_env() ? 2048 : 1536)) {
        if (!h) return QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOK;
        if (!b2b_env()) return QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHH;
        if (!a->causal && kspl_env()) return QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBK;
        return r ? f83 : QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHB;
    }
    /* (fa23, LONG: with CRS, 78 on the long rows too: 78/65 1.06) */
    if (a->Nk >= (a->causal ? 12288 : 8192) && !(r && long_env()))
        return h ? QN_CUDA_ATTN_WG_N176S2WSPTMAMTOKHH : QN_CUDA_ATTN_WG_N176S2WSPTMAMTOK; /* (79/65 ~1.0: no CRS) */
    return !h ? QN_CUDA_ATTN_WG_N128S3WSPTMAMTO
           : r ? QN_CUDA_ATTN_WG_N128S3WSPTMAMTOHHR
               : QN_CUDA_ATTN_WG_N128S3WSPTMAMTOHH;
}

extern "C" int qn_cuda_attn_wg_launch(const qn_cuda_attention_args *a, int variant, char *err, size_t err_len) {
    if (err && err_len) err[0] = '\0';
    int v = variant & 0xff;
    const int vswap = (variant & QN_CUDA_ATTN_WG_VSWAP) ? 1 : 0;
    if (v == QN_CUDA_ATTN_WG_AUTO) v = auto_variant(a);
    if (a->dtype == QN_DT_F16) return qn_awg::launch_v<__half>(a, v, vswap, err, err_len);
    return qn_awg::launch_v<__nv_bfloat16>(a, v, vswap, err, err_len);
}
