/*
 * calib.h — activation calibration for `quanta quantize --calib` (internal to model/, the tools
 * and tests): per-input-channel statistics of every linear layer's input gathered by running
 * the model over some tokens (calib.c), and the clipping search that uses them to choose each
 * row's / group's quantization scale (clip_search.c). model/README.md describes both.
 */
#ifndef QUANTA_MODEL_CALIB_H
#define QUANTA_MODEL_CALIB_H

#include <stddef.h>
#include <stdint.h>

#include "model_internal.h"

/* Statistics of one linear input site over the rows (tokens) seen. */
typedef struct qn_act_site {
    int64_t cols;
    uint64_t rows;
    double *sum_sq;   /* [cols]: sum of x_k^2 */
    double *sum_abs;  /* [cols]: sum of |x_k| */
} qn_act_site;

typedef struct qn_act_stats {
    int32_t n_layer;
    int32_t n_sites;  /* n_layer * QN_SITES_PER_LAYER + 1 (the head last) */
    qn_act_site *site;
    uint64_t n_tokens;
} qn_act_stats;

/*
 * Runs the model over tokens[0..n) as prefill steps and accumulates every linear layer's input
 * statistics. When n exceeds n_ctx (0 = the model's trained context, at most 4096) the sequence
 * restarts every n_ctx tokens, BOS first if the tokens start with it. The head runs on one row
 * per step only. *out is freed with qn_act_stats_free.
 */
quanta_status qn_model_collect_act_stats(quanta_model *m, const int32_t *tokens, size_t n, int32_t n_ctx,
                                         qn_act_stats **out);
/* The same, reporting progress (stage "calibration", tokens done / n) to fn when not NULL. */
quanta_status qn_model_collect_act_stats_progress(quanta_model *m, const int32_t *tokens, size_t n, int32_t n_ctx,
                                                  quanta_progress_fn fn, void *user, qn_act_stats **out);
void qn_act_stats_free(qn_act_stats *s);

/*
 * The site whose input feeds weight `name`, by GGUF name (blk.N.attn_q.weight, ...ffn_down...,
 * output.weight; token_embd.weight when tied_head, as the head) or Hugging Face name
 * (model.layers.N.self_attn.q_proj.weight, ...mlp.down_proj..., lm_head.weight). NULL when the
 * weight is not a linear layer's (embeddings, norms) or the stats have no such site.
 */
const qn_act_site *qn_act_stats_find(const qn_act_stats *s, const char *name, int tied_head);

/* Candidate clipping ratios tried per row / group / block, 1 (min-max) first. */
#define QN_CLIP_STEPS 21
double qn_clip_ratio(int i); /* 1 - 0.02 i: 1.00, 0.98, ..., 0.60 */

typedef struct qn_clip_result {
    double werr_minmax;   /* sum over elements of s_k (w - w')^2 with plain min-max scales */
    double werr;          /* the same with the chosen clipping */
    double wnorm;         /* sum of s_k w^2, so sqrt(werr / wnorm) is a relative error */
    double mean_ratio;    /* mean chosen ratio over the units */
    int64_t units, clipped; /* rows / groups / blocks, and how many chose a ratio < 1 */
} qn_clip_result;

/*
 * Quantizes W[rows][cols] (desc: 2-D, q8, q4, nf4, fp8_e4m3 or fp8_e5m2) into dst (the standard
 * interchange layout, dst_bytes >= quanta_tensor_bytes), choosing for each unit — a row for q8
 * and fp8, a group for q4, a 64-block for nf4 — the clipping ratio r from qn_clip_ratio that
 * minimises sum_k s_k (w_k - w'_k)^2 over the unit, where w' is the unit quantized after
 * clamping to [r min, r max] (q4: min <= 0 <= max of the group) or [-r max|w|, r max|w|] (the
 * others). s (per column, >= 0) is E[x_k^2] of the layer's input; NULL means 1 for every column.
 * Ties keep the larger ratio, so r = 1 (min-max) wins unless clipping lowers the error. With
 * nf4 double quantization the search runs without it (the absmax quantization couples 256
 * blocks) and the final tensor is double-quantized.
 */
quanta_status qn_quantize_weighted_clip(const quanta_tensor_desc *desc, const float *w, const double *s, void *dst,
                                        size_t dst_bytes, qn_clip_result *res);

#endif
