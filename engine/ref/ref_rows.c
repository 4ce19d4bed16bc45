/*
 * ref_rows.c — ops that move rows rather than compute: get_rows (embedding lookup from a
 * table of any format), permute (a transposing copy) and write_rows (in-place KV append or per-row scatter, quantizing
 * the rows when the cache is q8 or fp8).
 * Indices (data, known only at run time) are checked before anything is written, so a failing
 * op leaves out untouched; shapes and dtypes were validated by the op table.
 */
#include <stdlib.h>
#include <string.h>

#include "ref_ops.h"

quanta_status qn_ref_get_rows(const qn_node *node) {
    const char *op = "get_rows";
    const qn_tensor *table = node->src[0], *ids = node->src[1], *out = node->dst;
    const size_t nid = qn_ref_count(ids), no = qn_ref_count(out);
    qn_ref_rows T;
    qn_ref_rows_open(table, &T);
    const int64_t V = T.rows, D = T.cols;
    const int32_t *id = nid ? (const int32_t *)qn_host_ptr(ids) : NULL;
    for (size_t t = 0; t < nid; t++)
        if (id[t] < 0 || id[t] >= V)
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "ref get_rows: ids[%zu] = %d is out of range [0, V = %lld)",
                                t, (int)id[t], (long long)V);
    float *of = qn_ref_calloc(no, sizeof(float));
    if (!of) return qn_ref_oom(op);
    for (size_t t = 0; t < nid; t++) qn_ref_rows_get(&T, id[t], of + t * (size_t)D);
    qn_ref_store(out, of, no);
    free(of);
    return QUANTA_OK;
}

quanta_status qn_ref_permute(const qn_node *node) {
    const char *op = "permute";
    const qn_tensor *x = node->src[0], *out = node->dst;
    const size_t nx = qn_ref_count(x);
    const int nd = x->desc.ndim;
    const int32_t *perm = node->params.perm;
    if (nx == 0) return QUANTA_OK;

    const size_t es = qn_dtype_elem_size(x->desc.dtype);
    /* Copy the source aside first: out may share memory with x. */
    char *src = qn_ref_calloc(nx, es);
    if (!src) return qn_ref_oom(op);
    memcpy(src, qn_host_ptr(x), nx * es);

    /* Pad to 4 dims at the front; xs[d] is x's element stride along x dim d. */
    int64_t xd[QUANTA_MAX_DIMS], od[QUANTA_MAX_DIMS], xs[QUANTA_MAX_DIMS], step[QUANTA_MAX_DIMS];
    const int pad = QUANTA_MAX_DIMS - nd;
    for (int i = 0; i < QUANTA_MAX_DIMS; i++) xd[i] = i < pad ? 1 : x->desc.dims[i - pad];
    xs[QUANTA_MAX_DIMS - 1] = 1;
    for (int i = QUANTA_MAX_DIMS - 2; i >= 0; i--) xs[i] = xs[i + 1] * xd[i + 1];
    for (int i = 0; i < QUANTA_MAX_DIMS; i++) {
        const int from = i < pad ? i : pad + perm[i - pad];
        od[i] = xd[from];
        step[i] = xs[from]; /* moving one along out dim i moves this far in x */
    }
    char *dst = qn_host_ptr(out);
    size_t o = 0;
    for (int64_t a = 0; a < od[0]; a++)
        for (int64_t b = 0; b < od[1]; b++)
            for (int64_t c = 0; c < od[2]; c++)
                for (int64_t d = 0; d < od[3]; d++, o++) {
                    const size_t xi = (size_t)(a * step[0] + b * step[1] + c * step[2] + d * step[3]);
                    memcpy(dst + o * es, src + xi * es, es);
                }
    free(src);
    return QUANTA_OK;
}

/* write_rows' destination rows: start i32 [1] names the first of T consecutive rows, i32 [T] one
 * row per written row (a scatter). Checks them all against Nmax before anything is written;
 * rows[t] receives row t. */
static quanta_status write_rows_dest(const qn_tensor *start, int64_t T, int64_t Nmax, int64_t **rows) {
    const int32_t *st = qn_host_ptr(start);
    const int64_t ns = (int64_t)qn_ref_count(start);
    *rows = NULL;
    if (ns == 1 && (st[0] < 0 || st[0] + T > Nmax))
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "ref write_rows: start = %lld with T = %lld rows overflows dst's Nmax = %lld rows",
                            (long long)st[0], (long long)T, (long long)Nmax);
    for (int64_t t = 0; ns > 1 && t < ns; t++)
        if (st[t] < 0 || st[t] >= Nmax)
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                                "ref write_rows: start[%lld] = %d is outside dst's Nmax = %lld rows", (long long)t,
                                (int)st[t], (long long)Nmax);
    *rows = malloc((size_t)(T > 0 ? T : 1) * sizeof **rows);
    if (!*rows) return qn_ref_oom("write_rows");
    for (int64_t t = 0; t < T; t++) (*rows)[t] = ns == 1 ? st[0] + t : st[t];
    return QUANTA_OK;
}

/* write_rows into a q8 / fp8_e4m3 pool (a quantized KV cache): each written row of D elements
 * (one head at one position) is quantized on its own by the format's quantize function (scale =
 * max|x| / 127 or / 448, round half to even) and lands with its scale in the row's places of the
 * codes and scales sections; no other row or scale changes. */
static quanta_status write_rows_quantized(const qn_node *node) {
    const char *op = "write_rows";
    const qn_tensor *dst = qn_ref_src(node, 0), *src = qn_ref_src(node, 1), *start = qn_ref_src(node, 2);
    const qn_tensor *out = node->dst;
    qn_ref_rows dr;
    qn_ref_rows_open(dst, &dr);
    const size_t ns = qn_ref_count(src);
    quanta_status st;
    const int64_t *dd = dst->desc.dims, *sd = src->desc.dims;
    const int64_t T = sd[2], Nmax = dd[2], D = dd[3], BH = dd[0] * dd[1];
    int64_t *rows;
    if ((st = write_rows_dest(start, T, Nmax, &rows))) return st;
    char *o = qn_host_ptr(out);
    const size_t total = dr.layout.total_bytes, soff = dr.layout.scales_offset;
    if (o != (const char *)qn_host_ptr(dst)) memmove(o, qn_host_ptr(dst), total);
    if (ns == 0) {
        free(rows);
        return QUANTA_OK;
    }
    /* the written rows as one [BH * T, D] matrix of the format: codes, then a scale per row */
    quanta_tensor_desc rd = {dst->desc.dtype, 2, {BH * T, D, 0, 0}, 0, 0};
    qn_quant_layout rl;
    if ((st = qn_quant_layout_get(&rd, &rl))) {
        free(rows);
        return st;
    }
    float *x = qn_ref_load(src, ns);
    uint8_t *qb = qn_ref_calloc(rl.total_bytes, 1);
    if (!x || !qb) {
        free(x), free(qb), free(rows);
        return qn_ref_oom(op);
    }
    st = qn_quantize(&rd, x, qb, rl.total_bytes);
    for (int64_t bh = 0; !st && bh < BH; bh++)
        for (int64_t t = 0; t < T; t++) {
            const size_t si = (size_t)(bh * T + t), di = (size_t)(bh * Nmax + rows[t]);
            memcpy(o + di * (size_t)D, qb + si * (size_t)D, (size_t)D);
            memcpy(o + soff + di * 4, qb + rl.scales_offset + si * 4, 4);
        }
    free(x), free(qb), free(rows);
    return st;
}

quanta_status qn_ref_write_rows(const qn_node *node) {
    const char *op = "write_rows";
    const qn_tensor *dst = node->src[0], *src = node->src[1], *start = node->src[2], *out = node->dst;
    if (qn_kv_dtype_is_quantized(dst->desc.dtype)) return write_rows_quantized(node);
    const size_t nd = qn_ref_count(dst), ns = qn_ref_count(src);
    const int64_t *dd = dst->desc.dims, *sd = src->desc.dims;
    /* the graph's write_rows has src in dst's dtype; a float src of another dtype converts */
    const int same_type = src->desc.dtype == dst->desc.dtype;
    const int64_t T = sd[2], Nmax = dd[2];
    int64_t *rows;
    quanta_status st = write_rows_dest(start, T, Nmax, &rows);
    if (st) return st;

    const size_t des = qn_dtype_elem_size(dst->desc.dtype), D = (size_t)dd[3];
    char *o = qn_host_ptr(out);
    /* out normally is dst's memory (in place); if the executor gave it separate memory, carry
     * dst's other rows over first so out is "dst after the write" either way. */
    if (nd && o != (const char *)qn_host_ptr(dst)) memmove(o, qn_host_ptr(dst), nd * des);
    float *tmp = NULL;
    if (ns && !same_type && !(tmp = qn_ref_load(src, ns))) {
        free(rows);
        return qn_ref_oom(op);
    }
    const char *s = qn_host_ptr(src);
    const size_t ses = qn_dtype_elem_size(src->desc.dtype), row = D;
    for (int64_t bh = 0; ns && bh < dd[0] * dd[1]; bh++)
        for (int64_t t = 0; t < T; t++) {
            const size_t si = (size_t)(bh * T + t) * row, di = (size_t)(bh * Nmax + rows[t]) * row;
            if (same_type)
                memmove(o + di * des, s + si * ses, row * des);
            else
                qn_from_f32(dst->desc.dtype, tmp + si, o + di * des, row);
        }
    free(tmp), free(rows);
    return QUANTA_OK;
}

/* Each write as qn_ref_write_rows makes it alone: dst0 <- src0 into dst, dst1 <- src1 into
 * extra_dst[0]. */
quanta_status qn_ref_write_rows_pair(const qn_node *node) {
    qn_node one = {.op = QN_OP_WRITE_ROWS, .nsrc = 3, .src = {node->src[0], node->src[1], node->src[2]}, .dst = node->dst};
    quanta_status st = qn_ref_write_rows(&one);
    if (st != QUANTA_OK) return st;
    one.src[0] = node->src[3], one.src[1] = node->src[4], one.dst = node->extra_dst[0];
    return qn_ref_write_rows(&one);
}
