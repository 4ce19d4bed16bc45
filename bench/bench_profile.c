/* bench_profile.c — the executor's per-op timing table (engine/plan.h, QUANTA_PLAN_PROFILE=1)
 * printed for a benchmark: which ops a step's time goes to, largest first. */
#include <stdlib.h>

#include "bench.h"
#include "plan.h"

typedef struct prof_row {
    int row;
    double seconds;
} prof_row;

static int by_time(const void *a, const void *b) {
    const double x = ((const prof_row *)a)->seconds, y = ((const prof_row *)b)->seconds;
    return (x < y) - (x > y);
}

int qb_profile_on(void) { return qn_plan_profile_on(); }

void qb_profile_reset(void) { qn_plan_profile_take(NULL, 1); }

void qb_profile_print(FILE *f, const char *what, int steps) {
    qn_plan_profile p;
    qn_plan_profile_take(&p, 1);
    prof_row rows[QN_PLAN_PROFILE_ROWS];
    int n = 0;
    double total = 0;
    for (int i = 0; i < QN_PLAN_PROFILE_ROWS; i++)
        if (p.count[i]) rows[n++] = (prof_row){i, p.seconds[i]}, total += p.seconds[i];
    qsort(rows, (size_t)n, sizeof *rows, by_time);
    if (steps < 1) steps = 1;
    fprintf(f, "\nper-op profile of %s (%lld executes, %.3f ms each; ops synchronized one by one: %.3f ms each)\n",
            what, p.executes, p.executes ? 1e3 * p.execute_seconds / (double)p.executes : 0.0, 1e3 * total / steps);
    fprintf(f, "| op | runs per step | ms per step | share |\n|---|---|---|---|\n");
    for (int i = 0; i < n; i++) {
        int fb = 0;
        const char *name = qn_plan_profile_row_name(rows[i].row, &fb);
        fprintf(f, "| %s%s | %.1f | %.3f | %.1f%% |\n", name ? name : "?", fb ? " (ref fallback)" : "",
                (double)p.count[rows[i].row] / steps, 1e3 * rows[i].seconds / steps,
                total > 0 ? 100.0 * rows[i].seconds / total : 0.0);
    }
}

int qb_split_on(void) { return qn_step_split_on(); }

void qb_split_reset(void) { qn_step_split_take(NULL, 1); }

/* Each phase once: the model's phases hold the engine's (prep holds the input writes; eval holds them all), so
 * the shares printed are disjoint and sum to the wall time. */
void qb_split_print(FILE *f, const char *what, int steps, double wall_seconds) {
    qn_step_split p;
    qn_step_split_take(&p, 1);
    if (steps < 1) steps = 1;
    const double *t = p.seconds;
    const long long *n = p.count;
    const double us = 1e6 / steps, prep_host = t[QN_SPLIT_PREP] - t[QN_SPLIT_INPUT],
                 eval_other = t[QN_SPLIT_EVAL] - t[QN_SPLIT_PREP] - t[QN_SPLIT_EXECUTE] - t[QN_SPLIT_OUTPUT] -
                              t[QN_SPLIT_CHECK] - t[QN_SPLIT_POST],
                 outside = wall_seconds - t[QN_SPLIT_EVAL];
    fprintf(f,
            "\nhost split of %s (us per step, %d steps): wall %.1f = inputs %.1f (%lld writes) + execute %.1f "
            "(launch + wait) + outputs %.1f (wait + read%s) + rest %.1f (host work)\n",
            what, steps, wall_seconds * us, t[QN_SPLIT_INPUT] * us, n[QN_SPLIT_INPUT], t[QN_SPLIT_EXECUTE] * us,
            t[QN_SPLIT_OUTPUT] * us, n[QN_SPLIT_CHECK] ? "" : ", the logits' check fused into it",
            (wall_seconds - t[QN_SPLIT_INPUT] - t[QN_SPLIT_EXECUTE] - t[QN_SPLIT_OUTPUT]) * us);
    fprintf(f,
            "  rest = check %.1f (%lld scans of the logits after their read or in place) + prep %.1f (before execute, less the "
            "writes) + post %.1f + eval other %.1f (argument checks, step loop) + outside eval %.1f (the caller's "
            "loop); %lld evals, %lld executes, %lld reads\n",
            t[QN_SPLIT_CHECK] * us, n[QN_SPLIT_CHECK], prep_host * us, t[QN_SPLIT_POST] * us, eval_other * us,
            outside * us, n[QN_SPLIT_EVAL], n[QN_SPLIT_EXECUTE], n[QN_SPLIT_OUTPUT]);
}
