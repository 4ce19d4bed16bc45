/* tensor_desc.h — a tensor descriptor from its dtype and dims, every other field (dims past
 * ndim as passed, group, double_quant) zero: how graph builders, loaders and tests write one. */
#ifndef QUANTA_FORMATS_TENSOR_DESC_H
#define QUANTA_FORMATS_TENSOR_DESC_H

#include <stdint.h>
#include <string.h>

#include "quanta.h"

static inline quanta_tensor_desc qn_desc(quanta_dtype t, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
    quanta_tensor_desc d;
    memset(&d, 0, sizeof d);
    d.dtype = t;
    d.ndim = ndim;
    d.dims[0] = d0;
    d.dims[1] = d1;
    d.dims[2] = d2;
    d.dims[3] = d3;
    return d;
}

#endif
