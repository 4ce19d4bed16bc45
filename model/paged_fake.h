/* paged_fake.h — QUANTA_KV_FAKE, a diagnostic: f32 pools rounded through fp8 e4m3, K and/or V
 * (paged_fake.c; bench/NOTES.md section 9 v3). Internal to model/. */
#ifndef QUANTA_MODEL_PAGED_FAKE_H
#define QUANTA_MODEL_PAGED_FAKE_H

#include "quanta.h"

enum { QN_KV_FAKE_K = 1, QN_KV_FAKE_V = 2, QN_KV_FAKE_LS = 4, QN_KV_FAKE_MBITS_SHIFT = 4 };

/* The parts QUANTA_KV_FAKE names (k, v, kv; s: each row's scale refit by least squares; a digit
 * m of 4..7: rounded to m mantissa bits instead of e4m3's 3, a hypothetical format that says how
 * many bits the cache would need): QN_KV_FAKE_K | QN_KV_FAKE_V | QN_KV_FAKE_LS | m <<
 * QN_KV_FAKE_MBITS_SHIFT, 0 when unset. */
int qn_kv_fake_parts(void);

/* Rounds every row of the f32 pools k[il] and/or v[il] ([1, H, rows, D]) to e4m3 times its
 * per-row scale, as an fp8 pool stores it. */
quanta_status qn_kv_fake_round(quanta_buffer *const *k, quanta_buffer *const *v, int n_layer, int parts);

#endif
