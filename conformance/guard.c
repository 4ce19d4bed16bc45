/* guard.c — the harness's one use of the internal engine API: guard regions and NaN
 * poisoning around every op output of a plan. The public API copies outputs out, so a write
 * past an output's end or an element left unwritten can only be seen inside the executor:
 * it surrounds each output with `bytes` of pattern 0xA5, fills outputs with 0xFF (NaN in
 * f32/f16/bf16) before each run, checks the guards after each op and fails the run with
 * "guard overwritten before/after output of op N (name)". */
#include <string.h>

#include "conform.h"
#include "plan.h"

quanta_status qc_guard_enable(quanta_plan *plan, size_t bytes) {
    return qn_plan_set_guard_bytes(plan, bytes);
}

bool qc_guard_is_violation(const char *msg) {
    return msg && strstr(msg, "guard overwritten") != NULL;
}
