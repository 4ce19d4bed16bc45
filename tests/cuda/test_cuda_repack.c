/*
 * test_cuda_repack.c — the host-side repacking of weights for the CUDA matmul (no GPU needed,
 * runs in CI). Every element of a repacked weight is decoded here from the documented tiled
 * layout (kernels_cuda/cuda_kernels.h: code offset, nibble shift, row factor, group metadata)
 * and compared with quanta_dequantize of the interchange bytes; padding must be zero codes;
 * bad inputs are refused with the right status.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_internal.h"
#include "qt_tensor.h"
#include "test_util.h"

static const float nf4_book[16] = {-1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
                                   -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
                                   0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f,
                                   0.33791524171829224f, 0.44070982933044434f, 0.5626170039176941f,
                                   0.7229568362236023f, 1.0f};

/* f16 -> f32 written here (not formats/). */
static float h2f(unsigned h) {
    const int s = (h >> 15) & 1, e = (h >> 10) & 31, m = h & 1023;
    float v = e == 0 ? ldexpf((float)m, -24) : e == 31 ? INFINITY : ldexpf((float)(m | 1024), e - 25);
    return s ? -v : v;
}

static float e4m3(unsigned b) {
    const int s = (b >> 7) & 1, e = (b >> 3) & 15, m = b & 7;
    float v = e == 0 ? ldexpf((float)m, -9) : ldexpf((float)(m | 8), e - 10);
    return s ? -v : v;
}

static float e5m2(unsigned b) { return h2f(b << 8); }

/* The value the kernel's tile holds for (n, k), multiplied back by the row factor. */
static double decode(const qn_cuda_packed *p, int64_t n, int64_t k) {
    int shift;
    const size_t off = p->codes_off + qn_cuda_weight_code_offset(p->fmt, p->Kp, n, k, &shift);
    const float *rs = (const float *)(const void *)(p->buf + p->row_scale_off);
    const uint32_t *meta = (const uint32_t *)(const void *)(p->buf + p->meta_off);
    const unsigned b = p->buf[off];
    switch (p->fmt) {
    case QN_CW_F16: return (double)h2f(b | ((unsigned)p->buf[off + 1] << 8)) * rs[n];
    case QN_CW_Q8: return (double)(int8_t)b * rs[n];
    case QN_CW_E4M3: return (double)e4m3(b) * rs[n];
    case QN_CW_E5M2: return (double)e5m2(b) * rs[n];
    case QN_CW_Q4: {
        const uint32_t m = meta[(size_t)n * p->meta_cols + (size_t)(k / p->group)];
        const double q = (b >> shift) & 15, z = h2f(m >> 16) - 1024.0;
        return (q - z) * h2f(m & 0xFFFF) * rs[n];
    }
    default: {
        const uint32_t m = meta[(size_t)n * p->meta_cols + (size_t)(k / 64)];
        return (double)nf4_book[(b >> shift) & 15] * h2f(m & 0xFFFF) * rs[n];
    }
    }
}

typedef struct wcase {
    quanta_dtype dt;
    int32_t group, dq;
    double tol; /* relative to the row's largest value: f32 rounding only, or f16 multipliers */
} wcase;

static const wcase kCases[] = {
    {QUANTA_Q8, 0, 0, 1e-7},       {QUANTA_FP8_E4M3, 0, 0, 1e-7}, {QUANTA_FP8_E5M2, 0, 0, 1e-7}, {QUANTA_F16, 0, 0, 1e-7},
    {QUANTA_BF16, 0, 0, 1e-7},        {QUANTA_Q4, 32, 0, 1e-3},   {QUANTA_Q4, 64, 0, 1e-3},   {QUANTA_Q4, 128, 0, 1e-3},
    {QUANTA_NF4, 64, 0, 1e-3},     {QUANTA_NF4, 64, 1, 1e-3},
};

START_TEST(layout_roundtrip) {
    const wcase *c = &kCases[_i];
    qt_rng r = qt_rng_make(40 + (uint64_t)_i);
    const int64_t N = 37, K = c->group == 128 ? 384 : c->group == 32 ? 160 : c->group ? 192 : 100;
    quanta_tensor_desc d = qt_mat(c->dt, N, K, c->group, c->dq);
    size_t bytes;
    ck_assert_int_eq(quanta_tensor_bytes(&d, &bytes), QUANTA_OK);
    float *w = malloc((size_t)(N * K) * 4), *wd = malloc((size_t)(N * K) * 4);
    uint8_t *q = malloc(bytes);
    qt_fill_normal(&r, w, (size_t)(N * K), 0.02f);
    w[5] = 300.0f; /* a large value in row 0: the row factor must keep it in f16 range */
    if (c->dt == QUANTA_F16 || c->dt == QUANTA_BF16) {
        for (size_t i = 0; i < (size_t)(N * K); i++) {
            const uint16_t h = c->dt == QUANTA_F16 ? quanta_f32_to_f16(w[i]) : quanta_f32_to_bf16(w[i]);
            memcpy(q + 2 * i, &h, 2);
        }
    } else {
        ck_assert_int_eq(quanta_quantize(&d, w, q, bytes), QUANTA_OK);
    }
    ck_assert_int_eq(quanta_dequantize(&d, q, bytes, wd, (size_t)(N * K)), QUANTA_OK);
    qn_cuda_packed p;
    ck_assert_msg(qn_cuda_repack(&d, q, bytes, &p) == QUANTA_OK, "%s", quanta_last_error());
    ck_assert_int_eq(p.Np % 16, 0);
    ck_assert_int_eq(p.Kp % 64, 0);
    ck_assert_int_ge(p.Kp, K);
    for (int64_t n = 0; n < N; n++) {
        double mx = 0;
        for (int64_t k = 0; k < K; k++) mx = fmax(mx, fabs(wd[n * K + k]));
        for (int64_t k = 0; k < K; k++) {
            const double got = decode(&p, n, k), want = wd[n * K + k];
            ck_assert_msg(fabs(got - want) <= c->tol * mx + 1e-30, "%s g=%d dq=%d: (%lld,%lld) = %g, want %g",
                          quanta_dtype_name(c->dt), (int)c->group, (int)c->dq, (long long)n, (long long)k, got, want);
        }
        for (int64_t k = K; k < p.Kp; k++) { /* padded columns hold zero codes */
            int shift;
            const size_t off = qn_cuda_weight_code_offset(p.fmt, p.Kp, n, k, &shift);
            ck_assert_uint_eq((p.buf[off] >> shift) & (qn_cuda_weight_bits(p.fmt) == 4 ? 15u : 255u), 0);
        }
    }
    /* every byte of the code section is addressed by exactly one (n, k) */
    const size_t cb = qn_cuda_weight_code_bytes(p.fmt, p.Np, p.Kp);
    unsigned char *seen = calloc(cb * 2, 1);
    for (int64_t n = 0; n < p.Np; n++)
        for (int64_t k = 0; k < p.Kp; k++) {
            int shift;
            const size_t off = qn_cuda_weight_code_offset(p.fmt, p.Kp, n, k, &shift);
            ck_assert_uint_lt(off, cb);
            const size_t slot = off * 2 + (size_t)(shift / 4);
            ck_assert_int_eq(seen[slot], 0);
            seen[slot] = 1;
            if (qn_cuda_weight_bits(p.fmt) == 16) seen[slot + 2] = 1;
        }
    free(seen), free(p.buf), free(w), free(wd), free(q);
}
END_TEST

/* An N x K e4m3 weight drawn from seed: its interchange bytes (*q, *bytes) and two repacks of them, each the tiled form. */
static void fp8_repacked(uint64_t seed, int64_t N, int64_t K, uint8_t **q, size_t *bytes, qn_cuda_packed *a,
                         qn_cuda_packed *b) {
    qt_rng r = qt_rng_make(seed);
    quanta_tensor_desc d = qt_mat(QUANTA_FP8_E4M3, N, K, 0, 0);
    ck_assert_int_eq(quanta_tensor_bytes(&d, bytes), QUANTA_OK);
    float *w = malloc((size_t)(N * K) * 4);
    *q = malloc(*bytes);
    qt_fill_normal(&r, w, (size_t)(N * K), 1.0f);
    ck_assert_int_eq(quanta_quantize(&d, w, *q, *bytes), QUANTA_OK);
    ck_assert_msg(qn_cuda_repack(&d, *q, *bytes, a) == QUANTA_OK, "%s", quanta_last_error());
    ck_assert_msg(qn_cuda_repack(&d, *q, *bytes, b) == QUANTA_OK, "%s", quanta_last_error());
    free(w);
}

/* A 4 x 64 q8 weight (zero codes) repacked: a format the K-major forms refuse. */
static qn_cuda_packed q8_repacked(void) {
    quanta_tensor_desc d8 = qt_mat(QUANTA_Q8, 4, 64, 0, 0);
    uint8_t buf[4 * 64 + 16];
    memset(buf, 0, sizeof buf);
    size_t bytes;
    ck_assert_int_eq(quanta_tensor_bytes(&d8, &bytes), QUANTA_OK);
    ck_assert_int_le(bytes, sizeof buf);
    qn_cuda_packed p;
    ck_assert_int_eq(qn_cuda_repack(&d8, buf, sizeof buf, &p), QUANTA_OK);
    return p;
}

/* fp818: the K-major copy of e4m3 codes (QUANTA_CUDA_FP8_SS) holds, at qn_cuda_fp8_km_offset(n, k), the byte the tiled
 * layout holds for (n, k), zeros at the padding; byte p of each 16 is k = qn_cuda_fp8_kperm(p) of them (the FP8
 * GEMM's token codes' order); the offsets cover [0, Np Kp) once; the tiled part and the scales are left as they were. */
START_TEST(fp8_kmajor) {
    const uint64_t seed = qt_seed() + 818; /* printed by qt_seed; the failure messages name it */
    const int64_t N = 37, K = 200;           /* Np 48, Kp 256: padding in both */
    uint8_t *q;
    size_t bytes;
    qn_cuda_packed p, t;
    fp8_repacked(seed, N, K, &q, &bytes, &p, &t);
    ck_assert_uint_eq(p.codes_k_off, 0);
    ck_assert_int_eq(qn_cuda_repack_fp8_km(&p), QUANTA_OK);
    ck_assert_uint_eq(p.codes_k_off % 256, 0);
    ck_assert_uint_ge(p.codes_k_off, t.bytes);
    ck_assert_uint_eq(p.bytes, p.codes_k_off + (size_t)(p.Np * p.Kp));
    ck_assert_int_eq(memcmp(p.buf, t.buf, t.bytes), 0); /* the tiled codes, scales, meta: untouched */
    const uint8_t *km = p.buf + p.codes_k_off;
    unsigned char *seen = calloc((size_t)(p.Np * p.Kp), 1);
    for (int64_t n = 0; n < p.Np; n++)
        for (int64_t k = 0; k < p.Kp; k++) {
            const size_t o = qn_cuda_fp8_km_offset(p.Kp, n, k);
            ck_assert_uint_lt(o, (size_t)(p.Np * p.Kp));
            ck_assert_int_eq(seen[o], 0);
            seen[o] = 1;
            ck_assert_uint_eq(o / (size_t)p.Kp, (size_t)n); /* row n's bytes, K-major */
            int shift;
            const unsigned want = n < N && k < K ? p.buf[qn_cuda_weight_code_offset(QN_CW_E4M3, p.Kp, n, k, &shift)] : 0u;
            ck_assert_msg(km[o] == want, "seed %llu: (%lld,%lld) K-major 0x%02x, tiled 0x%02x", (unsigned long long)seed,
                          (long long)n, (long long)k, km[o], want);
        }
    for (int64_t s16 = 0; s16 < p.Kp / 16; s16++)
        for (int b = 0; b < 16; b++) /* byte b of a 16-byte slice: k = 16 s + kperm(b) */
            ck_assert_uint_eq(qn_cuda_fp8_km_offset(p.Kp, 3, 16 * s16 + qn_cuda_fp8_kperm(b)),
                              (size_t)(3 * p.Kp + 16 * s16 + b));
    const float *rs = (const float *)(const void *)(p.buf + p.row_scale_off);
    for (int64_t k = 0; k < K; k++) /* row 5 decodes to the interchange row (scale x e4m3 value) */
        ck_assert_msg(fabs((double)e4m3(km[qn_cuda_fp8_km_offset(p.Kp, 5, k)]) * rs[5] - (double)e4m3(q[5 * K + k]) * rs[5]) == 0.0,
                      "seed %llu: k=%lld", (unsigned long long)seed, (long long)k);
    free(seen), free(p.buf), free(t.buf), free(q);
    /* another format: refused, nothing changed */
    p = q8_repacked();
    const size_t b0 = p.bytes;
    ck_assert_int_eq(qn_cuda_repack_fp8_km(&p), QUANTA_ERR_UNSUPPORTED);
    ck_assert_uint_eq(p.bytes, b0);
    ck_assert_uint_eq(p.codes_k_off, 0);
    free(p.buf);
}
END_TEST

/* fp820: QUANTA_CUDA_FP8_KM's K-major-only codes: the tiled codes' Np x Kp bytes rewritten in place into the layout of
 * qn_cuda_fp8_km_offset (each (n, k) the byte the tiled layout held, zeros at the padding: the bytes qn_cuda_repack_fp8_km
 * appends as a copy), the buffer's size and the scales unchanged; a second call, the copy on top, other formats
 * refused with nothing changed. */
START_TEST(fp8_kmajor_only) {
    const uint64_t seed = qt_seed() + 820; /* printed by qt_seed; the failure messages name it */
    const int64_t N = 53, K = 328;           /* Np 64, Kp 384: padding in both */
    uint8_t *q;
    size_t bytes;
    qn_cuda_packed p, c;
    fp8_repacked(seed, N, K, &q, &bytes, &p, &c);
    ck_assert_int_eq(qn_cuda_repack_fp8_km(&c), QUANTA_OK); /* fp818's copy: the reference bytes */
    const size_t b0 = p.bytes, code_bytes = (size_t)(p.Np * p.Kp);
    ck_assert_int_eq(qn_cuda_repack_fp8_km_only(&p), QUANTA_OK);
    ck_assert_int_eq(p.km_only, 1);
    ck_assert_uint_eq(p.bytes, b0); /* one copy: the device bytes of the tiled form */
    ck_assert_uint_eq(p.codes_k_off, p.codes_off);
    ck_assert_uint_ge(p.row_scale_off, p.codes_off + code_bytes);
    ck_assert_int_eq(memcmp(p.buf + p.codes_k_off, c.buf + c.codes_k_off, code_bytes), 0);
    ck_assert_int_eq(memcmp(p.buf + p.row_scale_off, c.buf + c.row_scale_off, b0 - p.row_scale_off), 0);
    const float *rs = (const float *)(const void *)(p.buf + p.row_scale_off);
    for (int64_t n = 0; n < p.Np; n++)
        for (int64_t k = 0; k < p.Kp; k++) { /* against the interchange bytes, not only the copy */
            const uint8_t b = p.buf[p.codes_k_off + qn_cuda_fp8_km_offset(p.Kp, n, k)];
            if (n >= N || k >= K) {
                ck_assert_msg(b == 0, "seed %llu: padding (%lld,%lld) 0x%02x", (unsigned long long)seed, (long long)n,
                              (long long)k, b);
                continue;
            }
            ck_assert_msg((double)e4m3(b) * rs[n] == (double)e4m3(q[n * K + k]) * rs[n], "seed %llu: (%lld,%lld)",
                          (unsigned long long)seed, (long long)n, (long long)k);
        }
    ck_assert_int_eq(qn_cuda_repack_fp8_km_only(&p), QUANTA_ERR_UNSUPPORTED); /* K-major already */
    ck_assert_int_eq(qn_cuda_repack_fp8_km(&p), QUANTA_ERR_UNSUPPORTED);      /* no tiled source for a copy */
    ck_assert_int_eq(qn_cuda_repack_fp8_km_only(&c), QUANTA_ERR_UNSUPPORTED); /* has the copy */
    ck_assert_uint_eq(p.bytes, b0);
    free(p.buf), free(c.buf), free(q);
    p = q8_repacked(); /* another format: refused, nothing changed */
    const size_t b8 = p.bytes;
    uint8_t *snap = malloc(b8);
    memcpy(snap, p.buf, b8);
    ck_assert_int_eq(qn_cuda_repack_fp8_km_only(&p), QUANTA_ERR_UNSUPPORTED);
    ck_assert_int_eq(p.km_only, 0);
    ck_assert_uint_eq(p.bytes, b8);
    ck_assert_int_eq(memcmp(p.buf, snap, b8), 0);
    free(snap), free(p.buf);
}
END_TEST

START_TEST(bad_inputs) {
    quanta_tensor_desc d = qt_mat(QUANTA_Q8, 4, 64, 0, 0);
    qn_cuda_packed p;
    uint8_t buf[4 * 64 + 16] = {0};
    /* too few bytes */
    ck_assert_int_eq(qn_cuda_repack(&d, buf, 10, &p), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(quanta_last_error(), "bytes"));
    /* f32 and i32 weights, 3-D tensors: no tiled form */
    d.dtype = QUANTA_F32;
    ck_assert_int_eq(qn_cuda_repack(&d, buf, sizeof buf, &p), QUANTA_ERR_UNSUPPORTED);
    d.dtype = QUANTA_I32;
    ck_assert_int_eq(qn_cuda_repack(&d, buf, sizeof buf, &p), QUANTA_ERR_UNSUPPORTED);
    d.dtype = QUANTA_F16, d.ndim = 3, d.dims[2] = 2;
    ck_assert_int_eq(qn_cuda_repack(&d, buf, sizeof buf, &p), QUANTA_ERR_UNSUPPORTED);
    /* a q4 descriptor whose columns are not a multiple of the group */
    d = qt_mat(QUANTA_Q4, 4, 40, 32, 0);
    ck_assert_int_ne(qn_cuda_repack(&d, buf, sizeof buf, &p), QUANTA_OK);
    /* sizes that overflow */
    d.dtype = QUANTA_F16, d.dims[0] = INT64_C(1) << 40, d.dims[1] = INT64_C(1) << 40, d.group = 0;
    ck_assert_int_ne(qn_cuda_repack(&d, buf, sizeof buf, &p), QUANTA_OK);
}
END_TEST

int main(void) {
    Suite *s = suite_create("cuda_repack");
    TCase *tc = tcase_create("repack");
    tcase_add_loop_test(tc, layout_roundtrip, 0, (int)(sizeof kCases / sizeof kCases[0]));
    tcase_add_test(tc, bad_inputs);
    tcase_add_test(tc, fp8_kmajor);
    tcase_add_test(tc, fp8_kmajor_only);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
