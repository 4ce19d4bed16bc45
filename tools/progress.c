/* progress.c — the CLI's progress bar: "\r<stage> [#####.....]  42%" on stderr. Nothing is
 * drawn when stderr is not a terminal, so logs and pipes see only the real output. */
#include "progress.h"

#include <stdio.h>
#include <string.h>

#include "cli_args.h"

#define BAR_WIDTH 30

void qn_progress_init(qn_progress *p, int want) {
    memset(p, 0, sizeof *p);
    p->enabled = want && qn_stderr_is_tty();
    p->last_pct = -1;
}

void qn_progress_update(void *user, const char *stage, double fraction) {
    qn_progress *p = user;
    if (!p || !p->enabled) return;
    if (!(fraction >= 0)) fraction = 0; /* also NaN */
    if (fraction > 1) fraction = 1;
    int pct = (int)(fraction * 100.0);
    if (pct == p->last_pct && !strncmp(p->stage, stage, sizeof p->stage - 1)) return;
    p->last_pct = pct;
    snprintf(p->stage, sizeof p->stage, "%s", stage);
    char bar[BAR_WIDTH + 1];
    int fill = (int)(fraction * BAR_WIDTH);
    for (int i = 0; i < BAR_WIDTH; i++) bar[i] = i < fill ? '#' : '.';
    bar[BAR_WIDTH] = 0;
    fprintf(stderr, "\r%-10s [%s] %3d%%", stage, bar, pct);
    fflush(stderr);
    p->shown = 1;
}

void qn_progress_clear(qn_progress *p) {
    if (!p || !p->shown) return;
    fprintf(stderr, "\r%*s\r", BAR_WIDTH + 18, "");
    fflush(stderr);
    p->shown = 0;
    p->last_pct = -1;
}
