/* par_for.h — one parallel loop on short-lived pthreads (internal): the load-time conversion
 * splits a tensor's rows over the cores with it. No pool: a tensor is milliseconds of work,
 * a thread start microseconds. */
#ifndef QUANTA_BASE_PAR_FOR_H
#define QUANTA_BASE_PAR_FOR_H

#include <stdint.h>

#include "quanta.h"

/* Does [begin, end) of the loop; may run on any thread, concurrently with other ranges.
 * `worker` (0 ... threads - 1) is unique among the ranges running at one time: an index into
 * per-thread scratch. */
typedef quanta_status (*qn_par_fn)(void *ctx, int worker, int64_t begin, int64_t end);

/* Runs fn over [0, n) in ranges of `grain` items (the last one shorter) on up to `threads`
 * threads, the caller's included; threads <= 1 runs the ranges in order on the caller. Which thread
 * takes which range varies, so fn's results must not depend on it. A thread that cannot be
 * started leaves its share to the others. Returns the status of the failing range with the
 * lowest begin (its message set on the calling thread), or QUANTA_OK; after a failure the
 * ranges not yet started are skipped. */
quanta_status qn_par_for(int64_t n, int64_t grain, int threads, qn_par_fn fn, void *ctx);

/* Threads for load-time work: the environment's QUANTA_LOAD_THREADS (1 ... 256) if set and
 * valid, else the online CPUs, at most 16. */
int qn_par_load_threads(void);

#endif
