/* progress.h — a progress bar on stderr, drawn only when stderr is a terminal. */
#ifndef QUANTA_TOOLS_PROGRESS_H
#define QUANTA_TOOLS_PROGRESS_H

typedef struct qn_progress {
    int enabled;   /* stderr is a terminal (and the caller wants a bar) */
    int shown;     /* a bar is on the line now */
    int last_pct;
    char stage[32];
} qn_progress;

/* enabled = want && stderr is a terminal. */
void qn_progress_init(qn_progress *p, int want);
/* A quanta_progress_fn: user is a qn_progress. Redraws when the percentage changes. */
void qn_progress_update(void *user, const char *stage, double fraction);
/* Clears the bar's line (before other output). */
void qn_progress_clear(qn_progress *p);

#endif
