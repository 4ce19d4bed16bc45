/* qt_tensor.h — tensor descriptors and byte-image reads for the tests, written here rather than
 * taken from formats/ so that the layout is checked independently. */
#ifndef QUANTA_QT_TENSOR_H
#define QUANTA_QT_TENSOR_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "quanta.h"
#include "tensor_desc.h"

/* A descriptor of `ndim` dims; every field not given is zero (dims past ndim as passed). The
 * tests' name for the library's builder: a descriptor is an input, not something checked. */
static inline quanta_tensor_desc qt_desc(quanta_dtype t, int ndim, int64_t d0, int64_t d1, int64_t d2,
                                         int64_t d3) {
    return qn_desc(t, ndim, d0, d1, d2, d3);
}

/* A 2-D [rows, cols] descriptor with the quantized formats' group and double_quant. */
static inline quanta_tensor_desc qt_mat(quanta_dtype t, int64_t rows, int64_t cols, int32_t group, int32_t dq) {
    quanta_tensor_desc d = qt_desc(t, 2, rows, cols, 0, 0);
    d.group = group;
    d.double_quant = dq;
    return d;
}

/* The little-endian f32 at p (the byte order of the interchange layout). */
static inline float qt_rd_f32(const uint8_t *p) {
    uint32_t u = p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float x;
    memcpy(&x, &u, 4);
    return x;
}

/* The IEEE binary16 value at p (little-endian) as a double, from its bit fields (the f16 scales of
 * ggml's blocks), not through the library's conversion. */
static inline double qt_rd_half(const uint8_t *p) {
    const unsigned h = (unsigned)p[0] | (unsigned)p[1] << 8, e = (h >> 10) & 31, f = h & 1023;
    const double v = e == 0 ? ldexp((double)f, -24) : ldexp((double)(f | 1024), (int)e - 25);
    return h & 0x8000 ? -v : v;
}

#endif
