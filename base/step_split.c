/* step_split.c — the step split's table and switch (step_split.h). */
#include "step_split.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static qn_step_split split;

/* Read once; the cached value is atomic because threads may make their first step at once. */
int qn_step_split_on(void) {
    static atomic_int on = -1;
    int v = atomic_load_explicit(&on, memory_order_relaxed);
    if (v < 0) {
        const char *e = getenv("QUANTA_STEP_SPLIT");
        v = e && *e && *e != '0';
        atomic_store_explicit(&on, v, memory_order_relaxed);
    }
    return v;
}

void qn_split_end(qn_split_phase phase, double t0) {
    if (!qn_step_split_on() || phase < 0 || phase >= QN_SPLIT_PHASES) return;
    split.seconds[phase] += qn_now_s() - t0;
    split.count[phase]++;
}

void qn_step_split_take(qn_step_split *out, int reset) {
    if (out) *out = split;
    if (reset) memset(&split, 0, sizeof split);
}

const char *qn_split_phase_name(qn_split_phase phase) {
    static const char *const names[QN_SPLIT_PHASES] = {"inputs", "execute", "outputs", "check", "eval", "prep", "post"};
    return phase >= 0 && phase < QN_SPLIT_PHASES ? names[phase] : NULL;
}
