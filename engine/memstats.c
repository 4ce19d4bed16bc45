#include "backend.h"
#include "error.h"

quanta_status qn_mem_reserve(qn_mem_stats *stats, uint64_t bytes, const char *what) {
    if (!stats) return QUANTA_OK;
    if (stats->limit && (bytes > stats->limit || stats->in_use > stats->limit - bytes))
        return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY,
                            "%s: %llu bytes would exceed the backend memory limit (%llu in use of %llu)",
                            what ? what : "alloc", (unsigned long long)bytes,
                            (unsigned long long)stats->in_use, (unsigned long long)stats->limit);
    stats->in_use += bytes;
    stats->peak_undo = stats->peak;
    if (stats->in_use > stats->peak) stats->peak = stats->in_use;
    return QUANTA_OK;
}

void qn_mem_unreserve(qn_mem_stats *stats, uint64_t bytes) {
    if (!stats) return;
    qn_mem_release(stats, bytes);
    stats->peak = stats->peak_undo > stats->in_use ? stats->peak_undo : stats->in_use;
}

void qn_mem_release(qn_mem_stats *stats, uint64_t bytes) {
    if (!stats) return;
    stats->in_use = bytes > stats->in_use ? 0 : stats->in_use - bytes;
}
