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
 *  - the shifts by position 0 (QN_KV_SINK_K, QN_KV_SINK_V): keys stored as k - k_0 instead of
 *    k - mu_k, and/or values as v - v_0 with v_0 added to the attention output (the softmax
 *    weights sum to 1), k_0 and v_0 the rows of the BOS token at position 0, the attention sink
 *    every prompt starts with: its rows are then stored as exact zeros. Exact in real numbers
 *    for any sequence; measured in bench/NOTES.md section 9 v3.
 * The calibration (one prefill of a fixed text) runs once per loaded model and is kept in it.
 */
#ifndef QUANTA_MODEL_PAGED_SMOOTH_H
#define QUANTA_MODEL_PAGED_SMOOTH_H

#include "model_internal.h"

/* One prefill of a fixed calibration text through an f32 pool: cal gets QN_KV_CALIB_PARTS parts
 * of n_layer * n_head_kv * head_dim floats, each layer-major: the means of the post-RoPE keys
 * over the text (positions 1.., the first token's attention-sink row left out), then the key
 * and the value rows of position 0 (the BOS token every prompt starts with). */
#define QN_KV_CALIB_PARTS 3
quanta_status qn_kv_calibrate(quanta_model *m, float *cal);

/* The same, computed once per loaded model (the first call's prefill) and kept in the model
 * for every later pool: *cal points into the model, valid until it is destroyed. */
quanta_status qn_kv_calibrate_cached(quanta_model *m, const float **cal);

/* R [D, D] row-major, orthogonal: a Hadamard transform on blocks of the largest power of two
 * dividing D, after fixed pseudo-random sign flips of the columns. */
void qn_kv_rotation(int32_t D, float *R);

/* Sets up key smoothing, the turn when turn != 0 and the shifts in sink (QN_KV_SINK_*) on pool p
 * before its first step: quanta_kv_pool_create does (turn for int8 only); tests call it on
 * float pools, whose logits it must leave unchanged. Diagnostics: QUANTA_KV_SMOOTH=0 leaves the
 * means out, QUANTA_KV_ROTATE=0 or 1 overrides turn, QUANTA_KV_SINK=k, v, kv or 0 overrides sink. */
enum { QN_KV_SINK_K = 1, QN_KV_SINK_V = 2 };
quanta_status qn_kv_pool_smooth(quanta_kv_pool *p, int turn, int sink);

/* An f32 pool of n_blocks blocks (tables of n_blocks) with nothing of the above and no
 * QUANTA_KV_FAKE diagnostic: the calibration's own (paged.c). */
quanta_status qn_kv_pool_create_plain(quanta_model *m, int32_t n_blocks, int32_t block_size, quanta_kv_pool **out);

/* Reads layer il's whole K (values = 0) or V pool of an f32 pool ([1, Hkv, rows, D]) into x,
 * count floats (paged.c). */
quanta_status qn_kv_pool_read_kv(const quanta_kv_pool *p, int il, int values, float *x, size_t count);

#endif
