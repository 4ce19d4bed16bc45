/*
 * ref_test_util.h — host tensors for calling qn_ref_run_node directly, without the executor.
 *
 * Every tensor sits between two guard zones (a byte pattern checked after each run, to catch
 * out-of-bounds writes) at a non-zero mem.offset (so code that ignores the offset fails).
 * Values are read back with a decoder written here, not with formats/, and expected values
 * are rounded to the output dtype with a rounding written here (rint on a scaled double).
 */
#ifndef QUANTA_REF_TEST_UTIL_H
#define QUANTA_REF_TEST_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "formats.h"
#include "test_util.h"
#include "qt_check.h"

#define RT_GUARD 64
#define RT_GUARD_BYTE 0xA5

typedef struct rt_tensor {
    qn_tensor t;
    unsigned char *block; /* guard | data | guard */
} rt_tensor;

static inline unsigned char *rt_data(const rt_tensor *r) { return r->block + RT_GUARD; }

static inline size_t rt_count(const rt_tensor *r) {
    size_t n = 1;
    for (int i = 0; i < r->t.desc.ndim; i++) n *= (size_t)r->t.desc.dims[i];
    return n;
}

/* A tensor of any dtype (quantized: 2-D with group/double_quant); contents zeroed. */
static inline rt_tensor *rt_make_q(quanta_dtype dt, int ndim, const int64_t *dims, int32_t group, int32_t dq) {
    rt_tensor *r = calloc(1, sizeof *r);
    ck_assert_ptr_nonnull(r);
    r->t.desc.dtype = dt;
    r->t.desc.ndim = ndim;
    for (int i = 0; i < ndim; i++) r->t.desc.dims[i] = dims[i];
    r->t.desc.group = group;
    r->t.desc.double_quant = dq;
    size_t bytes = 0;
    ck_assert_int_eq(quanta_tensor_bytes(&r->t.desc, &bytes), QUANTA_OK);
    r->t.bytes = bytes;
    r->block = malloc(bytes + 2 * RT_GUARD);
    ck_assert_ptr_nonnull(r->block);
    memset(r->block, RT_GUARD_BYTE, RT_GUARD);
    memset(r->block + RT_GUARD, 0, bytes);
    memset(r->block + RT_GUARD + bytes, RT_GUARD_BYTE, RT_GUARD);
    r->t.mem.handle = r->block;
    r->t.mem.offset = RT_GUARD;
    return r;
}

static inline rt_tensor *rt_make(quanta_dtype dt, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
    const int64_t dims[4] = { d0, d1, d2, d3 };
    return rt_make_q(dt, ndim, dims, 0, 0);
}

static inline int rt_guards_ok(const rt_tensor *r) {
    for (size_t i = 0; i < RT_GUARD; i++)
        if (r->block[i] != RT_GUARD_BYTE || r->block[RT_GUARD + r->t.bytes + i] != RT_GUARD_BYTE) return 0;
    return 1;
}

static inline void rt_free(rt_tensor *r) {
    if (!r) return;
    ck_assert_msg(rt_guards_ok(r), "a write ran past the ends of a tensor");
    free(r->block);
    free(r);
}

/* --- scalar codecs written independently of formats/ --- */

/* x rounded to `mant` fraction bits, exponent floor `emin` (subnormals), half to even. */
static inline double rt_round_bits(double x, int mant, int emin, double maxv) {
    if (x == 0.0 || !isfinite(x)) return x;
    int e = ilogb(x);
    if (e < emin) e = emin;
    double r = ldexp(rint(ldexp(x, mant - e)), e - mant);
    if (fabs(r) > maxv) return x > 0 ? INFINITY : -INFINITY;
    return r;
}

/* The dtype's nearest value to x (f32: round to float). */
static inline double rt_round(quanta_dtype dt, double x) {
    switch (dt) {
    case QUANTA_F16: return rt_round_bits(x, 10, -14, 65504.0);
    case QUANTA_BF16: return rt_round_bits(x, 7, -126, 3.3895313892515355e38);
    default: return (double)(float)x;
    }
}

static inline double rt_get(const rt_tensor *r, size_t i) {
    const unsigned char *p = rt_data(r);
    switch (r->t.desc.dtype) {
    case QUANTA_F32: {
        float f;
        memcpy(&f, p + 4 * i, 4);
        return f;
    }
    case QUANTA_F16: {
        unsigned h = (unsigned)p[2 * i] | ((unsigned)p[2 * i + 1] << 8);
        int e = (int)((h >> 10) & 31), m = (int)(h & 1023);
        double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
        return (h & 0x8000) ? -v : v;
    }
    case QUANTA_BF16: {
        uint32_t u = ((uint32_t)p[2 * i] | ((uint32_t)p[2 * i + 1] << 8)) << 16;
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    case QUANTA_I32: {
        int32_t v;
        memcpy(&v, p + 4 * i, 4);
        return v;
    }
    case QUANTA_U8: return p[i];
    default: ck_abort_msg("rt_get: dtype %d is not dense", (int)r->t.desc.dtype);
    }
    return 0;
}

/* Stores x rounded to the dtype (via formats' encoder; the value is then read back with the
 * decoder above and must equal our own rounding, which checks both). Returns the stored value. */
static inline double rt_set(rt_tensor *r, size_t i, double x) {
    unsigned char *p = rt_data(r);
    switch (r->t.desc.dtype) {
    case QUANTA_I32: {
        int32_t v = (int32_t)x;
        memcpy(p + 4 * i, &v, 4);
        return v;
    }
    case QUANTA_U8: p[i] = (unsigned char)x; return p[i];
    default: {
        float f = (float)x;
        size_t es = qn_dtype_elem_size(r->t.desc.dtype);
        qn_from_f32(r->t.desc.dtype, &f, p + es * i, 1);
        double want = rt_round(r->t.desc.dtype, f), got = rt_get(r, i);
        ck_assert_msg(got == want, "rt_set: stored %.9g as %.9g, expected %.9g", x, got, want);
        return got;
    }
    }
}

/* Fills with N(0, sd) values and returns them (as stored) in a fresh double array. */
static inline double *rt_fill(rt_tensor *r, qt_rng *rng, double sd) {
    size_t n = rt_count(r);
    double *v = malloc((n ? n : 1) * sizeof(double));
    ck_assert_ptr_nonnull(v);
    for (size_t i = 0; i < n; i++) v[i] = rt_set(r, i, qt_normal(rng, (float)sd));
    return v;
}

/* NaN in the tensor's dtype everywhere (f32/f16/bf16). */
static inline void rt_poison(rt_tensor *r) {
    size_t n = rt_count(r);
    for (size_t i = 0; i < n; i++) {
        unsigned char *p = rt_data(r);
        if (r->t.desc.dtype == QUANTA_F32) {
            float f = NAN;
            memcpy(p + 4 * i, &f, 4);
        } else if (r->t.desc.dtype == QUANTA_F16) {
            p[2 * i] = 0x00, p[2 * i + 1] = 0x7E;
        } else if (r->t.desc.dtype == QUANTA_BF16) {
            p[2 * i] = 0xC0, p[2 * i + 1] = 0x7F;
        }
    }
}

static inline int rt_all_nan(const rt_tensor *r) {
    size_t n = rt_count(r);
    for (size_t i = 0; i < n; i++)
        if (!isnan(rt_get(r, i))) return 0;
    return 1;
}

/* Relative tolerance of one rounding step of the dtype, with room for double rounding. */
static inline double rt_rtol(quanta_dtype dt) {
    switch (dt) {
    case QUANTA_F16: return ldexp(1.0, -10);
    case QUANTA_BF16: return ldexp(1.0, -7);
    default: return ldexp(1.0, -22);
    }
}

/*
 * Compares the tensor with expected values computed in double: each element must be within
 * atol + rtol(dtype) * |expected| (+ an extra f32 ulp budget `rtol_extra` * |expected|).
 * NaN anywhere fails. Prints the first few mismatches; returns how many there were.
 */
static inline size_t rt_compare(const rt_tensor *r, const double *expect, double atol, const char *what) {
    size_t n = rt_count(r), bad = 0;
    double rtol = rt_rtol(r->t.desc.dtype);
    /* Below the normal range a dtype's spacing stops shrinking with |e|: half its smallest subnormal
     * step is the rounding error there (f16 results near 3e-5 differed by exactly that). */
    double sub = r->t.desc.dtype == QUANTA_F16 ? ldexp(1.0, -25)
               : r->t.desc.dtype == QUANTA_BF16 ? ldexp(1.0, -134) : ldexp(1.0, -150);
    for (size_t i = 0; i < n; i++) {
        double g = rt_get(r, i), e = expect[i];
        double tol = atol + rtol * fabs(e) + sub;
        if (!(fabs(g - e) <= tol) && !(isinf(e) && g == e)) {
            if (bad < 5) printf("%s: [%zu] got %.9g expected %.9g (tol %.3g)\n", what, i, g, e, tol);
            bad++;
        }
    }
    if (bad) printf("%s: %zu of %zu elements differ\n", what, bad, n);
    return bad;
}

/* A node with up to 5 sources (NULL where absent). */
static inline qn_node rt_node(qn_op op, const rt_tensor *dst, const rt_tensor *s0, const rt_tensor *s1,
                              const rt_tensor *s2, const rt_tensor *s3, const rt_tensor *s4) {
    qn_node n;
    memset(&n, 0, sizeof n);
    n.op = op;
    const rt_tensor *s[5] = { s0, s1, s2, s3, s4 };
    for (int i = 0; i < 5; i++) {
        n.src[i] = s[i] ? &s[i]->t : NULL;
        if (s[i]) n.nsrc = i + 1;
    }
    n.dst = &dst->t;
    return n;
}

#define RT_EXPECT_OK(call)                                                                               \
    do {                                                                                                 \
        quanta_status st_ = (call);                                                                      \
        ck_assert_msg(st_ == QUANTA_OK, "run failed: %s: %s", quanta_status_name(st_), quanta_last_error()); \
    } while (0)

#endif
