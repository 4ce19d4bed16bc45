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

/*
 * Per-op timing, a diagnostic for benchmarks (QUANTA_PLAN_PROFILE=1 in the environment, read
 * once): every execute then issues its ops one by one (no recording), synchronizes the backend
 * after each and adds the op's wall time (launch to finish) to a process-wide table by op code,
 * nodes run on the reference fallback (host copies included) in a row of their own. Costs a
 * synchronization per op, so totals exceed an unprofiled run's; it shows where a step's time
 * goes, not how fast it is. Not thread-safe: one thread executing plans.
 */
#define QN_PLAN_PROFILE_ROWS (2 * QN_PLAN_PROFILE_OPS) /* [op] on the backend, [QN_PLAN_PROFILE_OPS + op] fallback */
#define QN_PLAN_PROFILE_OPS 64
typedef struct qn_plan_profile {
    double seconds[QN_PLAN_PROFILE_ROWS];
    long long count[QN_PLAN_PROFILE_ROWS];
    double execute_seconds; /* whole quanta_plan_execute calls */
    long long executes;
} qn_plan_profile;
/* Whether profiling is on; the table so far (copied into *out, then zeroed when reset). */
int qn_plan_profile_on(void);
void qn_plan_profile_take(qn_plan_profile *out, int reset);
/* The name of row i of the table (an op's name, or NULL for an unused code). */
const char *qn_plan_profile_row_name(int i, int *fallback);

/* The step split (QUANTA_STEP_SPLIT=1): quanta_plan_set_input, quanta_plan_execute and the output
 * reads add their host time to base/step_split.h's table (recordings replay as usual). */
#include "step_split.h"

/*
 * quanta_plan_get_output of a whole f32 output (count values) that also says whether any value is
 * Inf or NaN (*nonfinite = 1), for a decode step's logits: where the backend lends a host view
 * (ops->read_view: CUDA's pinned staging buffer, the reference backend's memory) the copy into
 * data and the check are one pass over the values; else the read, then a scan of data. The bytes
 * in data are those quanta_plan_get_output gives either way. QUANTA_FUSED_CHECK=0 (read once) takes
 * the read-then-scan path always, to compare the two. Where the backend checks the values itself
 * (ops->read_view_f32_checked: CUDA per QUANTA_CUDA_FINITE_GPU, a kernel over them before they leave the
 * device) and finds them all finite, the copy is a plain one and no host pass tests them; where it finds an
 * Inf or NaN, the host pass runs as without it, so *nonfinite is the host's answer.
 */
quanta_status qn_plan_get_output_f32_finite(quanta_plan *plan, quanta_tensor *t, float *data, size_t count,
                                            int *nonfinite);
int qn_fused_check_on(void);
/*
 * quanta_plan_execute, then qn_plan_get_output_f32_finite of t, for a decode step, without the
 * read's own synchronize (the run's just returned: CUDA's is a round trip for the error flags). With
 * QUANTA_EXECUTE_READ=1 (read once; off by default until its device check) and a backend that lends
 * a view (the fused check on), the run is queued without its final wait: the view's copy back is
 * queued behind it and one wait covers both (CUDA: the graph, then the logits' copy into the staging
 * buffer, then the error flags' synchronize), where the plain order waits for the run, synchronizes
 * again and only then starts the copy. The run's errors are reported before anything reaches data.
 */
quanta_status qn_plan_execute_read_f32_finite(quanta_plan *plan, quanta_tensor *t, float *data, size_t count,
                                              int *nonfinite);
int qn_execute_read_on(void);
/*
 * The same run and check without the copy: *view points at t's count floats in host memory the
 * backend lends (ops->read_view: CUDA's page-locked staging buffer, the reference backend's own
 * memory), checked in place. Where the backend lends none (OpenCL, or QUANTA_FUSED_CHECK=0) the values
 * are read into `fallback` (count floats, the caller's), checked there, and *view = fallback. A lent
 * view stays valid until the next read, read_view, free or close on the plan's backend; the bytes are
 * those quanta_plan_get_output gives. On an error *view is NULL and fallback's contents are unspecified.
 * The in-place scan is skipped where the backend checked the values itself and found them finite (as above).
 */
quanta_status qn_plan_execute_view_f32_finite(quanta_plan *plan, quanta_tensor *t, size_t count, float *fallback,
                                              const float **view, int *nonfinite);

#endif
