/*
 * finite.h — whether f32 values hold an Inf or NaN (an all-ones exponent), alone or while copying
 * them: the model's logits check (model/context.c qn_check_logits) and the engine's fused read
 * (engine/plan.c qn_plan_get_output_f32_finite) share these, so the two paths are equally strict.
 *
 * No early exit, and blocks of a fixed 64 so that -O2 vectorizes them too (its cost model takes no
 * loop that needs a scalar tail): a 262144-entry vocabulary (Gemma) took 87 us per decode step with
 * isfinite() and an exit per element, 180 us as one open loop in an -O2 build (not vectorized),
 * ~10 us this way with the logits in cache (both on a 2-core box). Fused into the copy the check
 * costs no pass of its own: the values are in registers already (a separate scan re-reads 1 MiB,
 * 40-75 us a Gemma step on that box after the copy; bench/NOTES.md section 6, host11).
 */
#ifndef QUANTA_BASE_FINITE_H
#define QUANTA_BASE_FINITE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint32_t qn_f32_bits_nonfinite(const float *x) {
    uint32_t u;
    memcpy(&u, x, sizeof u);
    return (uint32_t)((u & 0x7f800000u) == 0x7f800000u);
}

/* Whether any of the n floats is Inf or NaN. */
static inline int qn_f32_any_nonfinite(const float *x, size_t n) {
    uint32_t bad = 0;
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        uint32_t b = 0;
        for (int j = 0; j < 64; j++) b |= qn_f32_bits_nonfinite(&x[i + (size_t)j]);
        bad |= b;
    }
    for (; i < n; i++) bad |= qn_f32_bits_nonfinite(&x[i]);
    return bad != 0;
}

/* Copies n floats from src to dst (not overlapping; the bytes as they are, NaN payloads too) and
 * says whether any is Inf or NaN, in one pass over src. */
static inline int qn_f32_copy_any_nonfinite(float *restrict dst, const float *restrict src, size_t n) {
    uint32_t bad = 0;
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        uint32_t b = 0;
        for (int j = 0; j < 64; j++) {
            uint32_t u;
            memcpy(&u, &src[i + (size_t)j], sizeof u);
            memcpy(&dst[i + (size_t)j], &u, sizeof u);
            b |= (uint32_t)((u & 0x7f800000u) == 0x7f800000u);
        }
        bad |= b;
    }
    for (; i < n; i++) {
        uint32_t u;
        memcpy(&u, &src[i], sizeof u);
        memcpy(&dst[i], &u, sizeof u);
        bad |= (uint32_t)((u & 0x7f800000u) == 0x7f800000u);
    }
    return bad != 0;
}

#endif
