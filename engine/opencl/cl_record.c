/*
 * cl_record.c — a plan's execution recorded once and replayed (the backend's capture_begin /
 * capture_end / replay, the executor's interface for CUDA graphs).
 *
 * Why: a decode step is ~400 small kernels. Run op by op, the host works out each launch
 * again (layouts, work-group shapes, ~20 clSetKernelArg) on a CPU whose cores the kernels
 * themselves need (PoCL), and falls behind the device after every short kernel, so PoCL's
 * workers sleep and are woken per launch. A recording keeps one kernel object per launch with
 * its arguments already set; a replay is one clEnqueueNDRangeKernel per launch, nothing else.
 *
 * Capturing: qn_cl_set_args keeps a copy of each kernel's arguments (s->rec_args) and
 * qn_cl_launch hands the launch to qn_cl_record_launch instead of the queue, which creates a
 * fresh kernel object with those arguments. Scratch buffers freed during the capture are kept
 * by the recording (still booked on the memory account) until it is released. Work that is
 * not a kernel launch (CLBlast, buffer copies, host reads) cannot be recorded: those paths
 * call qn_cl_record_refuse, the node fails and the executor runs the plan op by op instead.
 */
#include <stdlib.h>
#include <string.h>

#include "cl_internal.h"

typedef struct rec_cmd {
    cl_kernel k;
    const char *what; /* the launch's label (QUANTA_OPENCL_EVENTS) */
    cl_uint dims;
    size_t g[3], l[3];
    int has_local;
} rec_cmd;

/* A scratch buffer the recording owns; busy while a capture's op holds it. Freed scratch is
 * lent again to later ops of the same capture (the queue is in order, so a later kernel may
 * reuse what an earlier one used): a recording holds what one op-by-op run holds at its
 * peak, not every op's scratch. */
typedef struct rec_keep {
    qn_cl_scratch sc;
    int busy;
} rec_keep;

struct qn_cl_rec {
    rec_cmd *cmd;
    int n, cap;
    rec_keep *keep; /* scratch the recorded kernels read or write */
    int nkeep, keep_cap;
    int broken; /* a scratch buffer could not be kept: the recording is discarded */
    qn_cl_tune_entry tune[QN_TUNE_ENTRIES]; /* the table the kernels were chosen by */
};

static void rec_free(qn_cl *s, qn_cl_rec *r) {
    if (!r) return;
    for (int i = 0; i < r->n; i++) clReleaseKernel(r->cmd[i].k);
    for (int i = 0; i < r->nkeep; i++) {
        clReleaseMemObject(r->keep[i].sc.mem);
        qn_mem_release(s->stats, r->keep[i].sc.bytes);
    }
    free(r->cmd);
    free(r->keep);
    free(r);
}

quanta_status qn_cl_capture_begin(void *self) {
    qn_cl *s = self;
    if (s->rec) return qn_error_set(QUANTA_ERR_STATE, "opencl capture_begin: a capture is already open");
    quanta_status fl = qn_cl_norm_flush(s); /* a held norm (cl_norm_gemv.c) is not the capture's */
    qn_cl_xq_drop(s); /* nor the int8 form it left */
    if (fl != QUANTA_OK) return fl;
    s->rec = calloc(1, sizeof *s->rec);
    if (!s->rec) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "opencl capture_begin: out of host memory");
    memset(s->rec_nargs, 0, sizeof s->rec_nargs);
    memcpy(s->rec->tune, s->tune.e, sizeof s->rec->tune);
    return QUANTA_OK;
}

quanta_status qn_cl_capture_end(void *self, int ok, void **recording) {
    qn_cl *s = self;
    qn_cl_rec *r = s->rec;
    /* a held norm (cl_norm_gemv.c) is the capture's last launch; a failed capture runs again op by op */
    if (r && ok && qn_cl_norm_flush(s) != QUANTA_OK) ok = 0;
    s->norm_pend = s->mm_pend = s->glu_pend = 0;
    qn_cl_xq_drop(s); /* the int8 form (cl_norm_gemv.c) is the capture's */
    s->rec = NULL; /* scratch freed from here on is released at once again */
    if (recording) *recording = NULL;
    if (!r) return qn_error_set(QUANTA_ERR_STATE, "opencl capture_end: no capture is open");
    if (!ok || !recording || r->broken) {
        rec_free(s, r);
        return QUANTA_OK;
    }
    *recording = r;
    return QUANTA_OK;
}

quanta_status qn_cl_replay(void *self, void *recording, int *valid) {
    qn_cl *s = self;
    const qn_cl_rec *r = recording;
    quanta_status fl = qn_cl_norm_flush(s); /* a held norm (cl_norm_gemv.c) runs before the replay's kernels */
    qn_cl_xq_drop(s); /* the replay rewrites the int8 form's buffer (cl_norm_gemv.c) */
    if (fl != QUANTA_OK) return fl;
    /* cl_mem handles never move, but the kernels were chosen by the tuning table: a table
     * changed since (`quanta tune` times one plan under each candidate) invalidates the
     * recording, and the plan records again */
    const int same = !memcmp(r->tune, s->tune.e, sizeof r->tune);
    if (valid) *valid = same;
    if (!same) return QUANTA_OK;
    for (int i = 0; i < r->n; i++) {
        const rec_cmd *c = &r->cmd[i];
        cl_int err = clEnqueueNDRangeKernel(s->queue, c->k, c->dims, NULL, c->g, c->has_local ? c->l : NULL, 0, NULL,
                                            qn_cl_events_slot(s, c->what));
        if (err != CL_SUCCESS) return qn_cl_error(err, "replay (clEnqueueNDRangeKernel)");
    }
    return QUANTA_OK;
}

void qn_cl_release_recording(void *self, void *recording) { rec_free(self, recording); }

quanta_status qn_cl_record_launch(qn_cl *s, qn_cl_kernel_id id, const char *what, cl_uint dims,
                                  const size_t *global, const size_t *local) {
    qn_cl_rec *r = s->rec;
    if (r->n == r->cap) {
        int cap = r->cap ? 2 * r->cap : 256;
        rec_cmd *c = realloc(r->cmd, (size_t)cap * sizeof *c);
        if (!c) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "opencl capture: out of host memory");
        r->cmd = c;
        r->cap = cap;
    }
    cl_int err;
    cl_kernel k = clCreateKernel(s->program, qn_cl_kernel_name(id), &err);
    if (err != CL_SUCCESS) return qn_cl_error(err, "capture (clCreateKernel)");
    for (int i = 0; i < s->rec_nargs[id]; i++) {
        const qn_cl_arg_copy *a = &s->rec_args[id][i];
        if (!a->size) { /* an argument never set: the plain run reports it */
            clReleaseKernel(k);
            return qn_error_set(QUANTA_ERR_BACKEND, "opencl capture: kernel %s argument %d was not set",
                                qn_cl_kernel_name(id), i);
        }
        err = clSetKernelArg(k, (cl_uint)i, a->size, a->local ? NULL : a->v);
        if (err != CL_SUCCESS) {
            clReleaseKernel(k);
            return qn_cl_error(err, "capture (clSetKernelArg)");
        }
    }
    rec_cmd *c = &r->cmd[r->n++];
    memset(c, 0, sizeof *c);
    c->k = k;
    c->what = what;
    c->dims = dims;
    c->has_local = local != NULL;
    for (cl_uint i = 0; i < dims; i++) {
        c->g[i] = global[i];
        if (local) c->l[i] = local[i];
    }
    return QUANTA_OK;
}

int qn_cl_record_keep(qn_cl *s, qn_cl_scratch *sc) {
    qn_cl_rec *r = s->rec;
    if (!r) return 0;
    for (int i = 0; i < r->nkeep; i++)
        if (r->keep[i].sc.mem == sc->mem) { /* lent by qn_cl_record_reuse: idle again */
            r->keep[i].busy = 0;
            sc->mem = NULL;
            sc->bytes = 0;
            return 1;
        }
    if (r->nkeep == r->keep_cap) {
        int cap = r->keep_cap ? 2 * r->keep_cap : 16;
        rec_keep *k = realloc(r->keep, (size_t)cap * sizeof *k);
        if (!k) {
            r->broken = 1; /* released now, so the recording must not be kept */
            return 0;
        }
        r->keep = k;
        r->keep_cap = cap;
    }
    r->keep[r->nkeep++] = (rec_keep){*sc, 0};
    sc->mem = NULL;
    sc->bytes = 0;
    return 1;
}

int qn_cl_record_reuse(qn_cl *s, size_t bytes, qn_cl_scratch *out) {
    qn_cl_rec *r = s->rec;
    int best = -1;
    for (int i = 0; r && i < r->nkeep; i++)
        if (!r->keep[i].busy && r->keep[i].sc.bytes >= bytes && (best < 0 || r->keep[i].sc.bytes < r->keep[best].sc.bytes))
            best = i;
    if (best < 0) return 0;
    r->keep[best].busy = 1;
    *out = r->keep[best].sc;
    return 1;
}

/* QUANTA_ERR_STATE, not UNSUPPORTED: the matmul paths take UNSUPPORTED as "use another kernel",
 * which would record a different path than the plain run takes. */
quanta_status qn_cl_record_refuse(const qn_cl *s, const char *what) {
    if (!s->rec) return QUANTA_OK;
    return qn_error_set(QUANTA_ERR_STATE, "opencl capture: %s is not a kernel launch and cannot be recorded",
                        what);
}
