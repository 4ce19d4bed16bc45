/* metrics.c — NMSE and max-abs-error of a backend's output against the reference, and the
 * non-finite check: a NaN/Inf where the reference has a finite value fails the case (an
 * element the backend never wrote keeps the executor's NaN poison). Where the reference
 * itself is not finite the backend must agree: NaN with NaN, Inf with the same-signed Inf.
 * Denormal results on either side are taken as zero (a device may flush them). */
#include <float.h>
#include <math.h>
#include <string.h>

#include "conform.h"

void qc_compare(const float *a, const float *b, size_t n, qc_metrics *m) {
    memset(m, 0, sizeof *m);
    m->count = n;
    double err2 = 0, ref2 = 0;
    for (size_t i = 0; i < n; i++) {
        float x = a[i], y = b[i];
        bool bad;
        if (isfinite(y)) bad = !isfinite(x);
        else if (isnan(y)) bad = !isnan(x);
        else bad = x != y; /* Inf: same sign */
        if (bad) {
            if (!m->nonfinite) m->bad_index = i;
            m->nonfinite = true;
            if (isnan(x)) m->nan_count++;
            continue;
        }
        if (!isfinite(y)) continue;
        /* Results below f32's normal range count as zero on both sides: OpenCL C and CUDA's fast paths may
         * flush denormals (CL_FP_DENORM is optional for float; PoCL and -ftz do), so a product that lands
         * there (glu 1x1 bf16, ref 7.4e-39, OpenCL 0: seed 4768723959210202016) is not an error. */
        if (fabsf(x) < FLT_MIN) x = 0.0f;
        if (fabsf(y) < FLT_MIN) y = 0.0f;
        double d = (double)x - (double)y;
        err2 += d * d;
        ref2 += (double)y * (double)y;
        if (fabs(d) > m->maxerr) m->maxerr = fabs(d);
        if (fabs((double)y) > m->refmax) m->refmax = fabs((double)y);
    }
    /* An all-zero reference: any error at all is infinitely large relative to it. */
    m->err2 = err2;
    m->ref2 = ref2;
    m->nmse = ref2 > 0 ? err2 / ref2 : (err2 > 0 ? INFINITY : 0.0);
}
