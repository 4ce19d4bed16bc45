/*
 * cl_events.c — QUANTA_OPENCL_EVENTS=<file>: every kernel's device time from OpenCL event
 * timestamps, and the idle time between kernels, appended to <file> when the backend closes.
 *
 * Why: the executor's per-op profile (QUANTA_PLAN_PROFILE) waits for each op, so on a driver
 * where a launch and a wait cost 20-30 µs (NVIDIA's OpenCL, H100 2026-12-06) its table counts
 * launches more than it times kernels. Here nothing waits: the queue is made with profiling on,
 * each launch (plain or replayed) keeps its event, and at each synchronize the events are read:
 * per label the calls and the summed end - start, and between consecutive kernels the gap
 * start(i) - end(i-1), split by whether kernel i had been queued by then (queued(i) <= end(i-1):
 * the device's own launch gap) or not (the host had not yet enqueued it: the device starved).
 * A diagnostic: off unless the variable names a file; a file that cannot be written is skipped.
 */
#include <stdlib.h>
#include <string.h>

#include "cl_internal.h"

#define EV_LABELS 64

typedef struct ev_pending {
    cl_event e;
    const char *what;
} ev_pending;

typedef struct ev_label {
    const char *what;
    unsigned long long calls;
    double ns;
} ev_label;

/* One synchronized batch (a model step: its kernels up to the synchronize), for the first EV_BATCHES: the totals
 * mix a step run op by op (argument setup, scratch buffers made and released) with recorded replays, and only
 * the rows apart say which of them leaves the device waiting for the host. */
#define EV_BATCHES 12
typedef struct ev_batch {
    unsigned long long kernels;
    double kernel_ns, gap_device_ns, gap_starved_ns, span_ns;
} ev_batch;

struct qn_cl_events {
    char *path;
    ev_batch bat[EV_BATCHES];
    ev_pending *p;
    int n, cap;
    ev_label lab[EV_LABELS];
    int nlab;
    double kernel_ns, gap_device_ns, gap_starved_ns, span_ns;
    unsigned long long batches, kernels;
};

qn_cl_events *qn_cl_events_new(void) {
    const char *e = getenv("QUANTA_OPENCL_EVENTS");
    if (!e || !*e) return NULL;
    qn_cl_events *ev = calloc(1, sizeof *ev);
    if (ev && !(ev->path = strdup(e))) {
        free(ev);
        ev = NULL;
    }
    return ev;
}

cl_event *qn_cl_events_slot(qn_cl *s, const char *what) {
    qn_cl_events *ev = s->events;
    if (!ev) return NULL;
    if (ev->n == ev->cap) {
        if (ev->n >= 1 << 16) qn_cl_events_harvest(s); /* a long run without a synchronize */
        if (ev->n == ev->cap) {
            const int cap = ev->cap ? 2 * ev->cap : 1024;
            ev_pending *p = realloc(ev->p, (size_t)cap * sizeof *p);
            if (!p) return NULL;
            ev->p = p;
            ev->cap = cap;
        }
    }
    ev->p[ev->n].e = NULL;
    ev->p[ev->n].what = what ? what : "?";
    return &ev->p[ev->n++].e;
}

static cl_ulong ev_time(cl_event e, cl_profiling_info what) {
    cl_ulong t = 0;
    return clGetEventProfilingInfo(e, what, sizeof t, &t, NULL) == CL_SUCCESS ? t : 0;
}

void qn_cl_events_harvest(qn_cl *s) {
    qn_cl_events *ev = s->events;
    if (!ev || !ev->n) return;
    clFinish(s->queue);
    cl_ulong prev_end = 0, first = 0;
    const double k0 = ev->kernel_ns, d0 = ev->gap_device_ns, s0 = ev->gap_starved_ns;
    const unsigned long long n0 = ev->kernels;
    for (int i = 0; i < ev->n; i++) {
        cl_event e = ev->p[i].e;
        if (!e) continue; /* the enqueue failed: no event */
        const cl_ulong q = ev_time(e, CL_PROFILING_COMMAND_QUEUED), st = ev_time(e, CL_PROFILING_COMMAND_START),
                       en = ev_time(e, CL_PROFILING_COMMAND_END);
        clReleaseEvent(e);
        if (!st || en < st) continue;
        int k = 0;
        while (k < ev->nlab && strcmp(ev->lab[k].what, ev->p[i].what)) k++;
        if (k == ev->nlab && ev->nlab < EV_LABELS) ev->lab[ev->nlab++] = (ev_label){ev->p[i].what, 0, 0.0};
        if (k < ev->nlab) {
            ev->lab[k].calls++;
            ev->lab[k].ns += (double)(en - st);
        }
        ev->kernel_ns += (double)(en - st);
        ev->kernels++;
        if (!first) first = st;
        if (prev_end && st > prev_end) {
            if (q > prev_end) ev->gap_starved_ns += (double)(st - prev_end);
            else ev->gap_device_ns += (double)(st - prev_end);
        }
        if (en > prev_end) prev_end = en;
    }
    const double span = first && prev_end > first ? (double)(prev_end - first) : 0.0;
    ev->span_ns += span;
    if (ev->batches < EV_BATCHES)
        ev->bat[ev->batches] = (ev_batch){ev->kernels - n0, ev->kernel_ns - k0, ev->gap_device_ns - d0,
                                          ev->gap_starved_ns - s0, span};
    ev->batches++;
    ev->n = 0;
}

double qn_cl_events_kernel_ns(qn_cl *s, unsigned long long *kernels) {
    if (!s->events) return -1.0;
    qn_cl_events_harvest(s);
    *kernels = s->events->kernels;
    return s->events->kernel_ns;
}

void qn_cl_events_close(qn_cl *s) {
    qn_cl_events *ev = s->events;
    if (!ev) return;
    qn_cl_events_harvest(s);
    FILE *f = fopen(ev->path, "a");
    if (f) {
        fprintf(f, "# opencl events (%s): %llu kernels in %llu synchronized batches\n", s->dev.info.name, ev->kernels,
                ev->batches);
        fprintf(f, "%-36s %10s %12s %10s %7s\n", "launch", "calls", "total_us", "us_call", "share");
        for (int k = 0; k < ev->nlab; k++)
            fprintf(f, "%-36s %10llu %12.1f %10.2f %6.1f%%\n", ev->lab[k].what, ev->lab[k].calls, ev->lab[k].ns / 1e3,
                    ev->lab[k].calls ? ev->lab[k].ns / 1e3 / (double)ev->lab[k].calls : 0.0,
                    ev->span_ns > 0 ? 100.0 * ev->lab[k].ns / ev->span_ns : 0.0);
        fprintf(f, "kernels %.1f us, gaps %.1f us between queued kernels + %.1f us waiting for the host, spans %.1f us "
                   "(first start to last end per batch)\n",
                ev->kernel_ns / 1e3, ev->gap_device_ns / 1e3, ev->gap_starved_ns / 1e3, ev->span_ns / 1e3);
        for (unsigned long long b = 0; b < ev->batches && b < EV_BATCHES; b++) {
            const ev_batch *t = &ev->bat[b];
            fprintf(f, "batch %llu: %llu kernels %.1f us, gaps %.1f + %.1f us waiting for the host, span %.1f us\n", b,
                    t->kernels, t->kernel_ns / 1e3, t->gap_device_ns / 1e3, t->gap_starved_ns / 1e3, t->span_ns / 1e3);
        }
        fclose(f);
    }
    free(ev->p);
    free(ev->path);
    free(ev);
    s->events = NULL;
}
