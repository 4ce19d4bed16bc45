/*
 * attention_wg.h — prefill attention on Hopper's warpgroup MMA (kernels_cuda/attention_wg.cu, sm_90a; issue 14,
 * fa12): head dim 128, f16/bf16, the semantics of attention.h's qn_cuda_attention_args (folded GQA rows, causal,
 * window, mask, kv_lens). Which calls take it: engine/cuda/cuda_attention_plan.c (QUANTA_CUDA_ATTN_WG=1).
 */
#ifndef QUANTA_KERNELS_CUDA_ATTENTION_WG_H
#define QUANTA_KERNELS_CUDA_ATTENTION_WG_H

#include <stddef.h>

#include "attention.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Tile variants (keys per tile, shared-memory stages), for bench/cuda/attention_check.cu's side-by-side rows;
 * QN_CUDA_ATTN_WG_AUTO: the kernel's pick. A default build has the pick's three (41, 44, 47); the others are built
 * with QN_AWG_ALL_FORMS (meson -Dattn_wg_forms=all, or attention_check.cu), else qn_cuda_attn_wg_launch refuses them. */
enum { QN_CUDA_ATTN_WG_AUTO = 0, QN_CUDA_ATTN_WG_N128S2, QN_CUDA_ATTN_WG_N128S3, QN_CUDA_ATTN_WG_N64S3,
       QN_CUDA_ATTN_WG_N64S4O,  /* O: the softmax of a tile overlapped with the previous tile's P . V */
       QN_CUDA_ATTN_WG_N128S3O,
       QN_CUDA_ATTN_WG_N64S4O3, /* 3 warpgroups (192 rows a block, Q in shared memory): 2/3 of the K/V reads a row */
       QN_CUDA_ATTN_WG_N64S4WS, /* a producer warpgroup and 2 consumers (128 rows) decoupled by mbarriers */
       QN_CUDA_ATTN_WG_N64S4WSP, /* the same, the consumers taking turns issuing their wgmma (ping-pong) */
       QN_CUDA_ATTN_WG_N128S3WS, QN_CUDA_ATTN_WG_N128S3WSP, /* both with 128-key tiles (setmaxnreg) */
       /* n128s2, n64s4o3, n64s4ws with the tiles in wgmma's 128-byte-swizzle layout instead of no-swizzle core
        * matrices (H100 10:38: correct, 430-500 TFLOP/s at 4k-16k) */
       QN_CUDA_ATTN_WG_N128S2SW, QN_CUDA_ATTN_WG_N64S4O3SW, QN_CUDA_ATTN_WG_N64S4WSSW,
       /* fa13 (UNMEASURED): swizzled ping-pong (14), the 128-key producer forms swizzled, without the ping-pong (15)
        * and with it (16), and the overlapped 2-warpgroup form with 128-key tiles swizzled (17) */
       QN_CUDA_ATTN_WG_N64S4WSPSW, QN_CUDA_ATTN_WG_N128S3WSSW, QN_CUDA_ATTN_WG_N128S3WSPSW,
       QN_CUDA_ATTN_WG_N128S3OSW,
       /* fa13 (UNMEASURED): the producer forms 13, 14, 15, 16 with their K/V tiles by TMA (one thread issues
        * cp.async.bulk.tensor; setmaxnreg 24 / 240). With kv_lens they run as their cp.async forms. */
       QN_CUDA_ATTN_WG_N64S4WSTMA, QN_CUDA_ATTN_WG_N64S4WSPTMA, QN_CUDA_ATTN_WG_N128S3WSTMA,
       QN_CUDA_ATTN_WG_N128S3WSPTMA,
       QN_CUDA_ATTN_WG_N64S4WS3TMA, /* the TMA producer and 3 consumers (192 rows a block; setmaxnreg 24 / 160) */
       /* 19 and 21 persistent (one block a SM looping over the row blocks; the next one's Q and tiles loaded under
        * the current one's last tiles and epilogue) */
       QN_CUDA_ATTN_WG_N64S4WSPTMAP, QN_CUDA_ATTN_WG_N128S3WSPTMAP,
       /* fa13 round 2 (UNMEASURED): 24 with the causal order head by head (H); 21 with O rescaled only where a row
        * max moved and the causal-only boundary tiles masked by one compare a score (R, both bit-identical); 24
        * with H and R */
       QN_CUDA_ATTN_WG_N128S3WSPTMAPH, QN_CUDA_ATTN_WG_N128S3WSPTMAR, QN_CUDA_ATTN_WG_N128S3WSPTMAPHR,
       /* fa14 (UNMEASURED at landing): 21 with its first K/V tiles issued before Q has landed (E); 21 + E in
        * clusters of 2 row blocks of one head, each block loading half of every K/V tile by TMA multicast into
        * both (C: half the L2 -> SM bytes); 27 + E (the next item's first tile before its Q); 29 with R; 29 in
        * clusters of 4 (a quarter of the bytes); 30 with Q copied into registers at an item's start, so the next
        * item's Q loads during this one (Q); 20 (no ping-pong) with E and clusters of 2; 26's two shortcuts apart
        * (16:17: 26 led 21 at 512-1k causal, trailed it at 4k-16k), the one-compare mask (M), the rescale skip (S);
        * fa14 round 2 (UNMEASURED): 24 walking pairs of row blocks (the last and the first of a head not yet taken:
        * equal work a pair under causal masking) with 35's mask; 35 with its first tile issued right after the Q
        * copies (E1); 35 with an L2 prefetch of the Q rows of the block a wave ahead (Q) */
       QN_CUDA_ATTN_WG_N128S3WSPTMAE, QN_CUDA_ATTN_WG_N128S3WSPTMAC, QN_CUDA_ATTN_WG_N128S3WSPTMAPHRE,
       QN_CUDA_ATTN_WG_N128S3WSPTMACR, QN_CUDA_ATTN_WG_N128S3WSPTMAC4, QN_CUDA_ATTN_WG_N128S3WSPTMAPHREQ,
       QN_CUDA_ATTN_WG_N128S3WSTMAC, QN_CUDA_ATTN_WG_N128S3WSPTMAM, QN_CUDA_ATTN_WG_N128S3WSPTMAS,
       QN_CUDA_ATTN_WG_N128S3WSPTMAPM2, QN_CUDA_ATTN_WG_N128S3WSPTMAME1, QN_CUDA_ATTN_WG_N128S3WSPTMAMQ,
       /* fa15 (H100 21:03: all three correct and faster than 21 / 35 on every anchor row; 41 the fastest, the auto
        * pick since): 35 with Q by TMA issued ahead of the first tiles, which no longer wait for it, and 32-bit row
        * arithmetic (T); T with the output through shared memory and a TMA store (TO); 37 (persistent, pairs of
        * row blocks) with T and FlashAttention-3's producer order (the next item's first tile under the current
        * item, then its Q once the current item's last Q . K^T is done) */
       QN_CUDA_ATTN_WG_N128S3WSPTMAMT, QN_CUDA_ATTN_WG_N128S3WSPTMAMTO, QN_CUDA_ATTN_WG_N128S3WSPTMAPM2T,
       /* fa16 (H100 00:11: all correct; 44 the auto pick at Nk >= 12288, 47 at short Nk, see auto_variant; 43, 46,
        * 48, 45 no gain): 41 with the lower consumer's P . V of the diagonal tile over its first 64 keys only
        * (D: where its rows see none of the upper 64); 41 with K and V on barriers of their own (K: 2 stages,
        * FlashAttention-3's two pipelines) and 176- or 192-key tiles; K with 128-key tiles and D */
       QN_CUDA_ATTN_WG_N128S3WSPTMAMTOD, QN_CUDA_ATTN_WG_N176S2WSPTMAMTOK, QN_CUDA_ATTN_WG_N192S2WSPTMAMTOK,
       QN_CUDA_ATTN_WG_N128S2WSPTMAMTOKD,
       /* fa16: 46's K / V split in the persistent pairs of 42 (2 stages of 128 keys leave room
        * for 2 Q buffers and an O stage: the next item's Q lands under the current item, the output goes by 41's
        * TMA store), without and with D */
       QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOK, QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKD,
       /* fa16 (00:11: within +-2% of 41, 44, 47, mixed): 41, 44, 47 with a row's max and sum as pairwise trees (T) */
       QN_CUDA_ATTN_WG_N128S3WSPTMAMTOT, QN_CUDA_ATTN_WG_N176S2WSPTMAMTOKT, QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKT,
       /* fa17: 41 and 44 with the causal grid longest first in groups of heads (L); 41 with O rescaled under
        * Q . K^T (R); 41 with block 0's consumer loop stamped into a device array (X: the bench's trace) */
       QN_CUDA_ATTN_WG_N128S3WSPTMAMTOL, QN_CUDA_ATTN_WG_N176S2WSPTMAMTOKL, QN_CUDA_ATTN_WG_N128S3WSPTMAMTOR,
       QN_CUDA_ATTN_WG_N128S3WSPTMAMTOX,
       /* fa17: 52 / 53 with the grid's last partial wave split over the keys in clusters (non-causal calls) */
       QN_CUDA_ATTN_WG_N128S3WSPTMAMTOLS, QN_CUDA_ATTN_WG_N176S2WSPTMAMTOKLS,
       /* fa19: 41, 44, 47 with the previous tile's P . V issued in two halves, the second after the row max (H:
        * the softmax no longer waits for 16 wgmma to be issued), and 58 with block 0's loop stamped (the trace) */
       QN_CUDA_ATTN_WG_N128S3WSPTMAMTOH, QN_CUDA_ATTN_WG_N128S3WSPTMAMTOHX, QN_CUDA_ATTN_WG_N176S2WSPTMAMTOKH,
       QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKH,
       /* fa19: 58 with a quarter (L) / three quarters (H) of P . V before the S wait instead of half */
       QN_CUDA_ATTN_WG_N128S3WSPTMAMTOHL, QN_CUDA_ATTN_WG_N128S3WSPTMAMTOHH,
       /* fa19: 47 with block 0's consumer loop stamped, tiles numbered across its items (the bench's trace) */
       QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKX,
       /* fa19 round 2: 44 and 47 with 63's split (three quarters of P . V before the S wait: the switch's forms with
        * 63), 41 split at 7 / 8 and 5 / 8, 63 stamped (the trace) */
       QN_CUDA_ATTN_WG_N176S2WSPTMAMTOKHH, QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHH, QN_CUDA_ATTN_WG_N128S3WSPTMAMTOH7,
       QN_CUDA_ATTN_WG_N128S3WSPTMAMTOH5, QN_CUDA_ATTN_WG_N128S3WSPTMAMTOHHX,
       /* fa20: 66 with a consumer's items back to back (B: the next item's first Q . K^T issued with the current
        * item's last P . V, that item's epilogue after the next one's first softmax; bit-identical to 66) */
       QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHB,
       /* fa20: 70 with block 0's consumer loop stamped, tiles numbered across its items (the bench's trace, as 64) */
       QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBX,
       /* fa21: 70 with the item before's epilogue (O / l into the O stage) interleaved with the next turn's Q . K^T
        * issue, off the consumer's chain (E; bit-identical to 70) */
       QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBE,
       /* fa21: 72 with O / l packed before the turn, only the st.shared between the wgmma (no C7519 arrives) */
       QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBEP,
       /* fa21: 70 and 72 with the grid's last round split over the keys, the parts merged through global slots by the
        * last to arrive (K; non-causal calls without mask / window, else as 70 / 72; not bit-identical) */
       QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBK, QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBEK,
       /* fa21: 72 with the interleaved issue only in turns that owe an epilogue (a vote between two issue paths) */
       QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBEV,
       /* fa22: 70, 63, 65 with FlashAttention-4's conditional rescaling (R: O rescaled only when a row max of the warp
        * grew by more than 2^8; QUANTA_CUDA_ATTN_WG_CRS=1), and the same with a quarter of the ex2 by an FMA-pipe
        * polynomial (P; research; 80 reserved: not built, its wgmma serialized for registers) */
       QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBR, QN_CUDA_ATTN_WG_N128S3WSPTMAMTOHHR, QN_CUDA_ATTN_WG_N176S2WSPTMAMTOKHHR,
       QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBRP, QN_CUDA_ATTN_WG_N128S3WSPTMAMTOHHRP, QN_CUDA_ATTN_WG_N176S2WSPTMAMTOKHHRP,
       /* fa22: 77, 78, 79 with each turn's wgmma descriptors as a base plus constants (D; research, bit-identical) */
       QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBRD, QN_CUDA_ATTN_WG_N128S3WSPTMAMTOHHRD, QN_CUDA_ATTN_WG_N176S2WSPTMAMTOKHHRD,
       /* fa23: 83 with block 0's consumer loop stamped, tiles numbered across its items (the bench's trace, as 71;
        * research): where an item boundary's cycles go in the default form of 1k / 2k non-causal */
       QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBRDX,
       /* fa23 (research; H100 21:59: 87/83 0.977-1.006, 512 causal the low): 83 with the next item's Q issued right
        * after K of the current item's tile 1 (Q: n - 1 tiles ahead instead of ~1; bit-identical to 83) */
       QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBRDQ,
       /* fa23: 87 stamped as 86 (research: the trace of the boundary with the next Q early) */
       QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBRDQX,
       /* fa23 (research; H100 21:59: 89/87 1.010-1.017 on all five rows): 87 with the item walk's divisions by launch
        * constants as multiply-shifts (bit-identical to 83) */
       QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBRDQF,
       /* fa23 round 2: 83 with the walk's divisions as multiply-shifts, without the early Q (bit-identical to 83;
        * QUANTA_CUDA_ATTN_WG_FDIV=1) */
       QN_CUDA_ATTN_WG_N128S2WSPTMAPM2TOKHHBRDF,
       QN_CUDA_ATTN_WG_NVARIANTS };
/* Flag for the check: V's descriptor with its two byte offsets exchanged (a wrong reading of the MN-major
 * layout shows as a failure with one and a pass with the other). */
#define QN_CUDA_ATTN_WG_VSWAP 0x100

/* 1 when the kernel handles these arguments (dtype f16/bf16, D = 128, positive scale, 16-byte aligned
 * tensors) and the current device is compute capability 9.0; 0 otherwise. Says nothing about speed. */
int qn_cuda_attn_wg_applies(const qn_cuda_attention_args *a);
/* Launches it (variant | flags as above) on a->stream: no scratch, no key splits. Returns 0 or a cudaError_t
 * value with a message in err. Call only where qn_cuda_attn_wg_applies. */
int qn_cuda_attn_wg_launch(const qn_cuda_attention_args *a, int variant, char *err, size_t err_len);
/* The persistent forms' grid: at most `blocks` blocks (0: one a SM, the default), so that a check makes every
 * block loop over several row blocks on small shapes. */
void qn_cuda_attn_wg_set_persist_grid(int blocks);
/* Form 55's stamps (clock64; [consumer 2][tile 64][step 8] of block 0's last launch) into out: 0 or a cudaError_t. */
int qn_cuda_attn_wg_trace(long long *out, int n);
/* Launches so far whose TMA tensor maps the driver refused (those ran as the cp.async producer form). */
long long qn_cuda_attn_wg_map_fallbacks(void);
/* Blocks of the launch (for the plan's one-wave test): B * Hkv * ceil(Hq / Hkv * Nq / 128). */
long long qn_cuda_attn_wg_blocks(const qn_cuda_attention_args *a);

#ifdef __cplusplus
}
#endif
#endif
