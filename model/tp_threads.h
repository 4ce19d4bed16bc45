/* tp_threads.h — a tensor-parallel model whose ranks are threads of this process, driven
 * through rank 0's quanta_model (quanta_model_load_tp_threads). The model's context and eval
 * entry points call these hooks when model->threads is set; each posts one command that every
 * follower rank mirrors on its own shard, and returns only when all ranks have finished it. */
#ifndef QUANTA_MODEL_TP_THREADS_H
#define QUANTA_MODEL_TP_THREADS_H

#include "model_internal.h"

/* Mirrors a context rank 0 has just created (same id and size) on every follower; on failure
 * the followers' copies are gone again and the error names the rank. */
quanta_status qn_tp_threads_ctx_create(quanta_model_context *c);
void qn_tp_threads_ctx_reset(quanta_model_context *c);
void qn_tp_threads_ctx_destroy(quanta_model_context *c);
/* Rank 0's eval (qn_model_eval_rank) with every follower evaluating the same tokens. */
quanta_status qn_tp_threads_eval(quanta_model_context *c, const int32_t *tokens, size_t n, float *logits,
                                 size_t logits_count);
quanta_status qn_tp_threads_eval_batch(quanta_model_context *const *ctxs, const int32_t *tokens, size_t n, float *logits,
                                       size_t logits_count);
/* Stops and joins the followers and releases rank 0's communicator (quanta_model_destroy). */
void qn_tp_threads_stop(quanta_model *m);

/* Tests only: before each command (and before loading) a follower sleeps a random 0..jitter_us
 * microseconds; follower fail_rank (> 0) fails its fail_at-th command (1 = the load) as a
 * failing rank must, aborting the group. Zeros turn both off. */
void qn_tp_threads_test_hooks(unsigned jitter_us, int fail_rank, int fail_at);

#endif
