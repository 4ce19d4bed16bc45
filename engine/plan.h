/* plan.h — internal plan controls used by the conformance harness and benchmarks. */
#ifndef QUANTA_ENGINE_PLAN_H
#define QUANTA_ENGINE_PLAN_H

#include "quanta.h"

/*
 * Guards: from the next execute on, every op output gets `bytes` (rounded up to 64) of guard
 * pattern 0xA5 before and after it in its own allocation, outputs are poisoned with 0xFF
 * bytes (NaN for floats) before each run, and the guards are checked after each op. An
 * overwritten guard fails the execute with QUANTA_ERR_BACKEND and a message naming the op.
 * Turns off buffer reuse (each output gets its own allocation). 0 asks for no guards (a no-op);
 * guards once set stay on. Must be called before the first execute; a call that fails (e.g.
 * out of memory) leaves the plan unguarded and usable, and may be retried.
 */
quanta_status qn_plan_set_guard_bytes(quanta_plan *plan, size_t bytes);

/* Whether the plan's executions now replay a recording (CUDA graph) instead of issuing its
 * ops one by one (for tests). */
int qn_plan_is_recorded(const quanta_plan *plan);

#endif
