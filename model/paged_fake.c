/*
 * paged_fake.c — a diagnostic for bench/NOTES.md section 9: which of K and V carries an fp8
 * cache's error. QUANTA_KV_FAKE=k, v or kv makes every f32 pool (with key smoothing, as an fp8
 * pool has) round its K and/or V rows through e4m3 with the fp8 pool's per-row scale after
 * each step, with the library's own quanta_quantize / quanta_dequantize (the fp8 format's one
 * definition). Not a cache mode: a step's own new rows are read unrounded by that step's
 * attention (the next step reads them rounded), and the whole pool crosses to the host.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "paged_fake.h"

int qn_kv_fake_parts(void) {
    const char *e = getenv("QUANTA_KV_FAKE");
    if (!e) return 0;
    const char *d = strpbrk(e, "4567");
    return (strchr(e, 'k') ? QN_KV_FAKE_K : 0) | (strchr(e, 'v') ? QN_KV_FAKE_V : 0) | (strchr(e, 's') ? QN_KV_FAKE_LS : 0) |
           (d ? (*d - '0') << QN_KV_FAKE_MBITS_SHIFT : 0);
}

/* A hypothetical float with m mantissa bits and no exponent limit (how many bits the cache
 * would need; not a Quanta format): x rounded to m + 1 significant bits, half to even. */
static float round_mbits(float x, int m) {
    if (x == 0 || !isfinite(x)) return x;
    int e;
    const double f = frexp((double)x, &e); /* |f| in [0.5, 1) */
    return (float)ldexp(nearbyint(ldexp(f, m + 1)), e - m - 1);
}

/* Rounds every row of buffer b ([1, H, rows, D] f32) to e4m3 codes times a per-row scale;
 * ls: the scale refit to the codes by least squares (x . c / c . c, the row error made
 * orthogonal to the row), a candidate the write kernels do not have. */
static quanta_status fake_round(quanta_buffer *b, int ls, int mbits) {
    quanta_tensor_desc d;
    quanta_status st = quanta_buffer_desc(b, &d);
    if (st) return st;
    const int64_t D = d.dims[3], rows = d.dims[0] * d.dims[1] * d.dims[2];
    const size_t count = (size_t)(rows * D), qbytes = (size_t)(rows * (D + 4));
    float *x = malloc(count * sizeof *x);
    unsigned char *q = malloc(qbytes);
    quanta_tensor_desc qd = d;
    qd.dtype = QUANTA_FP8_E4M3;
    qd.ndim = 2;
    qd.dims[0] = rows, qd.dims[1] = D, qd.dims[2] = qd.dims[3] = 0;
    st = x && q ? QUANTA_OK : qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "QUANTA_KV_FAKE: no memory");
    if (!st) st = quanta_buffer_read(b, x, count * sizeof *x);
    if (!st && mbits) {
        for (size_t i = 0; i < count; i++) x[i] = round_mbits(x[i], mbits);
        st = quanta_buffer_write(b, x, count * sizeof *x);
        free(x), free(q);
        return st;
    }
    if (!st) st = quanta_quantize(&qd, x, q, qbytes);
    float *y = ls && !st ? malloc(count * sizeof *y) : NULL;
    if (ls && !y && !st) st = qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "QUANTA_KV_FAKE: no memory");
    if (!st) st = quanta_dequantize(&qd, q, qbytes, y ? y : x, count);
    for (int64_t r = 0; y && !st && r < rows; r++) {
        double xy = 0, yy = 0;
        for (int64_t i = 0; i < D; i++) xy += (double)x[r * D + i] * y[r * D + i], yy += (double)y[r * D + i] * y[r * D + i];
        const double f = yy > 0 ? xy / yy : 1.0;
        for (int64_t i = 0; i < D; i++) x[r * D + i] = (float)(f * y[r * D + i]);
    }
    free(y);
    if (!st) st = quanta_buffer_write(b, x, count * sizeof *x);
    free(x), free(q);
    return st;
}

quanta_status qn_kv_fake_round(quanta_buffer *const *k, quanta_buffer *const *v, int n_layer, int parts) {
    quanta_status st = QUANTA_OK;
    for (int il = 0; il < n_layer && !st; il++) {
        const int ls = parts & QN_KV_FAKE_LS, mbits = parts >> QN_KV_FAKE_MBITS_SHIFT;
        if (parts & QN_KV_FAKE_K) st = fake_round(k[il], ls, mbits);
        if (!st && (parts & QN_KV_FAKE_V)) st = fake_round(v[il], ls, mbits);
    }
    return st;
}
