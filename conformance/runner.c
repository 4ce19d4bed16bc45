/* runner.c — runs a case on a backend through the public API and judges the result.
 *
 * One run: graph (inputs, constants, buffers as the case's data says), the op, plan on the
 * backend with guards on, set inputs, execute, read the output back and convert it to f32.
 * The oracle is the same run on the reference backend. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "op_entry.h"
#include "clock.h"

const char *qc_status_name(qc_status s) {
    switch (s) {
    case QC_PASS: return "PASS";
    case QC_FAIL: return "FAIL";
    case QC_SKIP: return "SKIP";
    }
    return "?";
}

const char *qc_reason_name(qc_reason r) {
    switch (r) {
    case QC_R_NONE: return "";
    case QC_R_ACCURACY: return "accuracy";
    case QC_R_NONFINITE: return "nonfinite";
    case QC_R_GUARD: return "guard";
    case QC_R_ERROR: return "error";
    case QC_R_UNSUPPORTED: return "unsupported";
    case QC_R_FALLBACK: return "fallback";
    case QC_R_NOREF: return "noref";
    }
    return "?";
}

/* Records a failed step: the step, the status and the library's message. */
static void failed(qc_output *o, quanta_status st, const char *step) {
    const char *msg = quanta_last_error();
    o->st = st;
    if (st == QUANTA_ERR_UNSUPPORTED) o->reason = QC_R_UNSUPPORTED;
    else if (qc_guard_is_violation(msg)) o->reason = QC_R_GUARD;
    else o->reason = QC_R_ERROR;
    snprintf(o->msg, sizeof o->msg, "%s: %s: %s", step, quanta_status_name(st), msg);
}

static bool same_desc(const quanta_tensor_desc *a, const quanta_tensor_desc *b) {
    if (a->dtype != b->dtype || a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->dims[i] != b->dims[i]) return false;
    return true;
}

static void desc_str(const quanta_tensor_desc *d, char *buf, size_t n) {
    const char *t = quanta_dtype_name(d->dtype);
    size_t used = (size_t)snprintf(buf, n, "%s[", t ? t : "?");
    for (int i = 0; i < d->ndim && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, i ? ",%lld" : "%lld", (long long)d->dims[i]);
    if (used < n) snprintf(buf + used, n - used, "]");
}

/* Decodes the raw output into f32 (NaN stays NaN, so the poison of unwritten elements shows). */
static void to_f32(const quanta_tensor_desc *desc, const void *raw, size_t bytes, float *v, size_t n) {
    const quanta_dtype t = desc->dtype;
    if (t != QUANTA_F32 && t != QUANTA_F16 && t != QUANTA_BF16 && t != QUANTA_I32) { /* a quantized KV buffer */
        if (quanta_dequantize(desc, raw, bytes, v, n) != QUANTA_OK)
            for (size_t i = 0; i < n; i++) v[i] = NAN;
    } else if (t == QUANTA_F32) memcpy(v, raw, n * sizeof *v);
    else if (t == QUANTA_I32) /* argmax's indices: exact in f32 below 2^24 */
        for (size_t i = 0; i < n; i++) v[i] = (float)((const int32_t *)raw)[i];
    else if (t == QUANTA_F16)
        for (size_t i = 0; i < n; i++) v[i] = quanta_f16_to_f32(((const uint16_t *)raw)[i]);
    else
        for (size_t i = 0; i < n; i++) v[i] = quanta_bf16_to_f32(((const uint16_t *)raw)[i]);
}

static bool backend_is_ref(quanta_backend *be) {
    quanta_device_info info;
    return quanta_backend_device(be, &info) == QUANTA_OK && !strcmp(info.backend, "ref");
}

/* Runs one step of run(); on failure records it and leaves run(). */
#define STEP(call, step)                     \
    do {                                     \
        if ((st = (call)) != QUANTA_OK) {    \
            failed(o, st, step);             \
            return;                          \
        }                                    \
    } while (0)

static void run(const qc_case *c, const qc_data *d, quanta_backend *be, qc_output *o, quanta_graph *g,
                quanta_buffer **bufs, quanta_plan **plan) {
    quanta_status st;
    quanta_tensor *t[QC_MAX_TENSORS] = {0}, *y = NULL;
    for (int i = 0; i < d->count; i++) {
        const qc_tensor_data *td = &d->t[i];
        if (!td->data) continue;
        switch (td->role) {
        case QC_ROLE_INPUT: st = quanta_graph_input(g, td->name, &td->desc, &t[i]); break;
        case QC_ROLE_CONST: st = quanta_graph_constant(g, td->name, &td->desc, td->data, td->bytes, &t[i]); break;
        case QC_ROLE_BUFFER:
            st = quanta_buffer_create(be, &td->desc, &bufs[i]);
            if (st == QUANTA_OK) st = quanta_buffer_write(bufs[i], td->data, td->bytes);
            if (st == QUANTA_OK) st = quanta_graph_buffer(g, bufs[i], &t[i]);
            break;
        default: st = QUANTA_ERR_INVALID_ARGUMENT; break;
        }
        if (st != QUANTA_OK) {
            char step[64];
            snprintf(step, sizeof step, "adding %s", td->name);
            failed(o, st, step);
            return;
        }
    }
    STEP(qc_op_def_of(c->op)->build(g, c, t, &y), qc_op_name(c->op));
    quanta_tensor_desc yd;
    STEP(quanta_tensor_get_desc(y, &yd), "quanta_tensor_get_desc");
    if (!same_desc(&yd, &d->out_desc)) {
        char got[96], want[96];
        desc_str(&yd, got, sizeof got);
        desc_str(&d->out_desc, want, sizeof want);
        o->st = QUANTA_ERR_INVALID_ARGUMENT;
        o->reason = QC_R_ERROR;
        snprintf(o->msg, sizeof o->msg, "%s result is %s, expected %s", qc_op_name(c->op), got, want);
        return;
    }
    STEP(quanta_graph_output(g, y), "quanta_graph_output");
    STEP(quanta_plan_create(g, be, plan), "quanta_plan_create");
    if (QC_GUARD_BYTES) STEP(qc_guard_enable(*plan, QC_GUARD_BYTES), "guard setup");

    bool is_ref = backend_is_ref(be);
    for (int i = 0; i < quanta_plan_op_count(*plan); i++) {
        const char *op_name = NULL, *be_name = NULL;
        STEP(quanta_plan_op_info(*plan, i, &op_name, &be_name), "quanta_plan_op_info");
        if (!is_ref && be_name && !strcmp(be_name, "ref")) o->fallback = true;
    }
    for (int i = 0; i < d->count; i++)
        if (d->t[i].data && d->t[i].role == QC_ROLE_INPUT)
            STEP(quanta_plan_set_input(*plan, t[i], d->t[i].data, d->t[i].bytes), d->t[i].name);
    STEP(quanta_plan_execute(*plan), "quanta_plan_execute");

    size_t bytes;
    STEP(quanta_tensor_bytes(&d->out_desc, &bytes), "quanta_tensor_bytes");
    void *raw = malloc(bytes ? bytes : 1);
    o->v = malloc((d->out_count ? d->out_count : 1) * sizeof *o->v);
    if (!raw || !o->v) {
        free(raw);
        o->st = QUANTA_ERR_OUT_OF_MEMORY;
        o->reason = QC_R_ERROR;
        snprintf(o->msg, sizeof o->msg, "out of memory reading the output (%zu bytes)", bytes);
        return;
    }
    /* A get_output that copies short leaves NaN, not stale data that might happen to pass. */
    memset(raw, 0xFF, bytes);
    st = quanta_plan_get_output(*plan, y, raw, bytes);
    if (st == QUANTA_OK) {
        to_f32(&d->out_desc, raw, bytes, o->v, d->out_count);
        o->n = d->out_count;
    }
    free(raw);
    if (st != QUANTA_OK) failed(o, st, "quanta_plan_get_output");
}

void qc_run_backend(const qc_case *c, const qc_data *d, quanta_backend *be, qc_output *o) {
    memset(o, 0, sizeof *o);
    double t0 = qn_now_s();
    quanta_graph *g = NULL;
    quanta_plan *plan = NULL;
    quanta_buffer *bufs[QC_MAX_TENSORS] = {0};
    quanta_status st = quanta_graph_create(&g);
    if (st != QUANTA_OK) failed(o, st, "quanta_graph_create");
    else run(c, d, be, o, g, bufs, &plan);
    quanta_plan_destroy(plan); /* before the buffers it references */
    quanta_graph_destroy(g);
    for (int i = 0; i < QC_MAX_TENSORS; i++) quanta_buffer_destroy(bufs[i]);
    o->ms = 1e3 * (qn_now_s() - t0);
}

void qc_output_free(qc_output *o) {
    free(o->v);
    o->v = NULL;
    o->n = 0;
}

/* Where a whole output is tiny, relative metrics blow up on rounding alone: an f16 result
 * near 1e-8 is a subnormal, and one step of it (2^-24) is all two correct backends can differ
 * by. Errors no larger than that step are never a failure. Exact ops do not get the floor. */
static double ulp_floor(const qc_case *c) {
    const qc_op_def *def = qc_op_def_of(c->op);
    quanta_dtype out = def && def->result_dtype ? def->result_dtype(c) : c->dtype;
    switch (out) {
    case QUANTA_F16: return ldexp(1.0, -24);
    case QUANTA_BF16: return ldexp(1.0, -133);
    default: return ldexp(1.0, -149);
    }
}

void qc_judge(const qc_case *c, const qc_data *d, const qc_output *ref, const qc_output *out, bool self,
              const char *backend, qc_result *r) {
    memset(r, 0, sizeof *r);
    r->op = c->op;
    qc_case_format(c, r->spec, sizeof r->spec);
    snprintf(r->backend, sizeof r->backend, "%s", backend);
    qc_threshold thr = qc_threshold_for(c);
    r->exact = thr.exact;
    r->nmse_thr = thr.exact ? 0 : thr.nmse;
    r->ms = out->ms;
    r->nmse = r->maxerr = NAN;

    if (out->st != QUANTA_OK) {
        r->status = out->reason == QC_R_UNSUPPORTED ? QC_SKIP : QC_FAIL;
        r->reason = out->reason;
        snprintf(r->msg, sizeof r->msg, "%s", out->msg);
        return;
    }
    if (!self && ref->st != QUANTA_OK) {
        r->status = QC_FAIL;
        r->reason = QC_R_NOREF;
        snprintf(r->msg, sizeof r->msg, "reference run failed: %.280s", ref->msg);
        return;
    }
    /* Every case's inputs are finite and sized so that its true result is finite: a
     * non-finite reference value is itself an unwritten or wrong element. */
    for (size_t i = 0; i < ref->n; i++)
        if (!isfinite(ref->v[i])) {
            r->status = QC_FAIL;
            r->reason = self ? QC_R_NONFINITE : QC_R_NOREF;
            snprintf(r->msg, sizeof r->msg, "%sreference element %zu of %zu is %g (unwritten or invalid)",
                     self ? "" : "no usable reference: ", i, ref->n, (double)ref->v[i]);
            return;
        }
    qc_metrics m;
    qc_compare(out->v, ref->v, out->n < ref->n ? out->n : ref->n, &m);
    /* A dot product's result that cancels to near zero keeps the error its operands' magnitudes give
     * it: measured against the energy it would have with its operands in general position wherever
     * its own is smaller (thresholds.c, "Cancellation"; never stricter than the plain measures). */
    const bool cancels = !thr.exact && d && d->cond_sum > m.ref2;
    if (cancels) m.nmse = m.err2 / d->cond_sum;
    const double scale = !thr.exact && d && sqrt(d->cond_max) > m.refmax ? sqrt(d->cond_max) : m.refmax;
    r->nmse = m.nmse;
    r->maxerr = m.maxerr;
    r->maxerr_thr = thr.exact ? 0 : thr.maxrel * scale;
    if (out->n != ref->n) {
        r->status = QC_FAIL;
        r->reason = QC_R_ERROR;
        snprintf(r->msg, sizeof r->msg, "output has %zu elements, reference %zu", out->n, ref->n);
    } else if (m.nonfinite) {
        r->status = QC_FAIL;
        r->reason = QC_R_NONFINITE;
        snprintf(r->msg, sizeof r->msg, "element %zu of %zu is %g where the reference is %g (%zu NaN: unwritten?)",
                 m.bad_index, m.count, (double)out->v[m.bad_index], (double)ref->v[m.bad_index], m.nan_count);
    } else if (thr.exact ? m.maxerr > 0
                         : (m.nmse > thr.nmse || m.maxerr > r->maxerr_thr) && m.maxerr > ulp_floor(c)) {
        r->status = QC_FAIL;
        r->reason = QC_R_ACCURACY;
        if (thr.exact)
            snprintf(r->msg, sizeof r->msg, "not exact: max-abs-error %.3g (must be 0)", m.maxerr);
        else
            snprintf(r->msg, sizeof r->msg, "nmse %.3g (limit %.3g%s), max-abs-error %.3g (limit %.3g = %.3g x %s %.3g)",
                     m.nmse, thr.nmse, cancels ? "; of the operands' energy, the result cancels" : "", m.maxerr,
                     r->maxerr_thr, thr.maxrel, scale > m.refmax ? "the operands' scale" : "max|ref|", scale);
    } else if (out->fallback) {
        r->status = QC_SKIP;
        r->reason = QC_R_FALLBACK;
        snprintf(r->msg, sizeof r->msg, "unsupported: the op ran on the reference backend (result correct)");
    } else {
        r->status = QC_PASS;
    }
}

int qc_run_case(const qc_case *c, uint64_t run_seed, quanta_backend *ref, const qc_target *targets, int ntargets,
                qc_result *results, char *err, size_t errlen) {
    qc_data d;
    if (qc_data_make(c, run_seed, &d, err, errlen)) return -1;
    qc_output oracle, out;
    qc_run_backend(c, &d, ref, &oracle);
    for (int i = 0; i < ntargets; i++) {
        if (targets[i].is_ref) {
            qc_judge(c, &d, &oracle, &oracle, true, targets[i].name, &results[i]);
            continue;
        }
        qc_run_backend(c, &d, targets[i].be, &out);
        qc_judge(c, &d, &oracle, &out, false, targets[i].name, &results[i]);
        qc_output_free(&out);
    }
    qc_output_free(&oracle);
    qc_data_free(&d);
    return 0;
}
