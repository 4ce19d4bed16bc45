/*
 * paged_smooth.h — what a quantized paged KV pool does to q, k and v so that 8-bit codes lose
 * less of the scores (internal to model/; bench/NOTES.md section 9 measures each part):
 *
 *  - key smoothing (SageAttention's "smooth K"), every quantized pool: the keys of a layer's KV
 *    head are stored as k - mu_k, mu_k their mean over a calibration text. Every score of a
 *    query then loses the same q·mu_k and softmax (shift-invariant) is unchanged; what shrinks
 *    is what the codes must hold: Gemma-style keys share a large common component (RoPE leaves
 *    the low-frequency channels nearly unrotated), and both an fp8 code's error (relative to
 *    the element) and an int8 code's (relative to the row's max) shrink with it. mu_k is fixed
 *    per pool, the same for every sequence, so blocks can still be shared, copied or freed alone.
 *  - the turn (QuaRot's randomized Hadamard), int8 pools: q, k and v are multiplied by an
 *    orthogonal R before the cache (q·k and the values' mix unchanged) and the attention output
 *    by R^T after it. It spreads outlier channels over their block, so a row's max (int8's step)
 *    falls towards its RMS. fp8 pools leave it out: measured worse (a relative format loses
 *    nothing to outliers, and turned scores sum errors from every channel).
 */
#ifndef QUANTA_MODEL_PAGED_SMOOTH_H
#define QUANTA_MODEL_PAGED_SMOOTH_H

#include "model_internal.h"

/* Means of the post-RoPE keys over a fixed calibration text (positions 1.., the first token's
 * attention-sink row left out), computed with an f32 pool: kmu gets n_layer * n_head_kv *
 * head_dim floats, layer-major. */
quanta_status qn_kv_smooth_means(quanta_model *m, float *kmu);

/* R [D, D] row-major, orthogonal: a Hadamard transform on blocks of the largest power of two
 * dividing D, after fixed pseudo-random sign flips of the columns. */
void qn_kv_rotation(int32_t D, float *R);

/* Sets up key smoothing, and the turn when turn != 0, on pool p before its first step:
 * quanta_kv_pool_create does (turn for int8 only); tests call it on float pools, whose logits it
 * must leave unchanged. Diagnostics: QUANTA_KV_SMOOTH=0 leaves the means out, QUANTA_KV_ROTATE=0
 * or 1 overrides turn. */
quanta_status qn_kv_pool_smooth(quanta_kv_pool *p, int turn);

/* Reads layer il's whole K pool of an f32 pool ([1, Hkv, rows, D]) into k, count floats (paged.c). */
quanta_status qn_kv_pool_read_keys(const quanta_kv_pool *p, int il, float *k, size_t count);

#endif
