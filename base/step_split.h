/*
 * step_split.h — where a step's host time goes (QUANTA_STEP_SPLIT=1 in the environment, read
 * once): a diagnostic for `quanta bench model`. The engine adds its calls (quanta_plan_set_input,
 * quanta_plan_execute, the output reads), the model its own phases around them, so a decode
 * step's wall time splits into named parts. Here in base because both layers add to one table
 * (the model reaches the engine only through the public API). Off, a phase costs one relaxed
 * atomic load; on, two clock reads. Not thread-safe: one thread evaluating.
 */
#ifndef QUANTA_BASE_STEP_SPLIT_H
#define QUANTA_BASE_STEP_SPLIT_H

#include "clock.h"

typedef enum qn_split_phase {
    QN_SPLIT_INPUT,   /* engine: quanta_plan_set_input (the copy to the backend) */
    QN_SPLIT_EXECUTE, /* engine: quanta_plan_execute (with a GPU: the launch and the wait for it) */
    QN_SPLIT_OUTPUT,  /* engine: output reads (the wait, the copy back; the logits' check where fused into it) */
    QN_SPLIT_CHECK,   /* engine: the logits' finiteness scan as a pass of its own after the read, or over the
                       * view in place (quanta_model_eval_view); not counted where the check is fused into the
                       * copy (engine/plan.h qn_plan_get_output_f32_finite) */
    QN_SPLIT_EVAL,    /* model: a whole quanta_model_eval (the phases below and the engine's lie inside) */
    QN_SPLIT_PREP,    /* model: a step's work before its execute (KV reserve, plan lookup, inputs: INPUT inside) */
    QN_SPLIT_POST,    /* model: a step's work after its logits (captures, position) */
    QN_SPLIT_PHASES
} qn_split_phase;

typedef struct qn_step_split {
    double seconds[QN_SPLIT_PHASES];
    long long count[QN_SPLIT_PHASES];
} qn_step_split;

int qn_step_split_on(void);
/* A phase's start: the clock when the split is on, else 0 (no clock read). */
static inline double qn_split_start(void) { return qn_step_split_on() ? qn_now_s() : 0.0; }
/* Ends a phase started at t0 (counted once; nothing when the split is off). */
void qn_split_end(qn_split_phase phase, double t0);
/* The table so far (copied into *out when not NULL), then zeroed when reset. */
void qn_step_split_take(qn_step_split *out, int reset);
const char *qn_split_phase_name(qn_split_phase phase);

#endif
