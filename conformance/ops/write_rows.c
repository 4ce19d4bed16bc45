/* write_rows.c — conformance entries of write_rows and write_rows_pair (two write_rows at one
 * start, which plans fuse: a layer's k and v appends; built as the two writes, the one named by
 * `part` judged). write_rows: src [b,h,t,d] written into rows start ..
 * start+t-1 of a buffer [b,h,nmax,d] in place (the KV-cache append), or with scatter=1 row i
 * into a row of its own (start i32 [t]: t distinct rows drawn at random, the paged cache's
 * one-op write of many sequences' new rows); exact, or into a q8 / fp8_e4m3 buffer (a quantized
 * KV cache) quantizing each row with its own scale. */
#include <stdlib.h>

#include "op_entry.h"

#define WRITE_ROWS_KEYS \
    {"b", QC_K_I64, QC_OFF(b), "1", 1, QC_DIM_MAX, "batch"}, \
    {"h", QC_K_I64, QC_OFF(h), "2", 1, QC_DIM_MAX, "heads"}, \
    {"nmax", QC_K_I64, QC_OFF(nmax), "16", 1, QC_DIM_MAX, "rows of the destination buffer"}, \
    {"t", QC_K_I64, QC_OFF(t), "3", 1, QC_DIM_MAX, "rows written"}, \
    {"d", QC_K_I64, QC_OFF(d), "64", 1, QC_DIM_MAX, "row length"}, \
    {"start", QC_K_I64, QC_OFF(start), "5", 0, QC_DIM_MAX, "first row written (start + t <= nmax)"}, \
    {"scatter", QC_K_I32, QC_OFF(scatter), "0", 0, 1, "1: start is i32 [t], t distinct random rows (start unused)"}, \
    {"dtype", QC_K_ACT, QC_OFF(dtype), "f32", 0, 0, "source dtype"}, \
    {"kv", QC_K_WT, QC_OFF(wtype), "f32", 0, 0, "q8 / fp8_e4m3: a quantized buffer (rows quantized on write); a " \
     "float dtype: the buffer in dtype"}

static const qc_key keys[] = {WRITE_ROWS_KEYS, QC_KEYS_END};

static const qc_key pair_keys[] = {
    WRITE_ROWS_KEYS,
    {"part", QC_K_I32, QC_OFF(part), "0", 0, 1, "the write judged: 0 dst0 <- src0, 1 dst1 <- src1"},
    QC_KEYS_END};

static bool kv_quantized(const qc_case *c) { return c->wtype == QUANTA_Q8 || c->wtype == QUANTA_FP8_E4M3; }
static quanta_dtype dst_dtype(const qc_case *c) { return kv_quantized(c) ? c->wtype : c->dtype; }

static int validate(const qc_case *c, char *err, size_t errlen) {
    if (!qc_is_act(c->dtype)) return qc_err(err, errlen, "dtype must be f32, f16 or bf16");
    if (!qc_is_act(c->wtype) && !kv_quantized(c))
        return qc_err(err, errlen, "kv (%s) must be q8, fp8_e4m3 or a float dtype (the %s then in dtype)",
                      quanta_dtype_name(c->wtype), "buffer");
    if (c->scatter && c->t > c->nmax)
        return qc_err(err, errlen, "scatter: t (%lld) distinct rows must be <= nmax (%lld)", (long long)c->t,
                      (long long)c->nmax);
    if (!c->scatter && c->start + c->t > c->nmax)
        return qc_err(err, errlen, "start (%lld) + t (%lld) must be <= nmax (%lld)", (long long)c->start,
                      (long long)c->t, (long long)c->nmax);
    int64_t dst[4] = {c->b, c->h, c->nmax, c->d};
    return qc_check_elems("dst", dst, 4, err, errlen);
}

static int64_t elements(const qc_case *c) { return c->b * c->h * (c->nmax + c->t) * c->d + 1; }

/* dst: random initial rows N(0, 1), which must survive outside the written range; src N(5, 1). */
static int make(const qc_case *c, qc_data *d, qc_rng *r, char *err, size_t errlen) {
    int64_t dd[4] = {c->b, c->h, c->nmax, c->d}, sd[4] = {c->b, c->h, c->t, c->d};
    quanta_tensor_desc dst = qc_desc(dst_dtype(c), 4, dd), src = qc_desc(c->dtype, 4, sd);
    d->out_desc = dst;
    if (qc_slot_fill(d, 0, "dst", QC_ROLE_BUFFER, &dst, r, 0, 1, err, errlen) ||
        qc_slot_fill(d, 1, "src", QC_ROLE_INPUT, &src, r, 5, 1, err, errlen) ||
        qc_i32_slot(d, 2, "start", c->scatter ? c->t : 1, err, errlen))
        return -1;
    int32_t *st = d->t[2].data;
    if (!c->scatter) {
        *st = (int32_t)c->start;
        return 0;
    }
    /* t distinct rows in random order: a partial Fisher-Yates shuffle of 0..nmax-1 */
    int32_t *all = malloc((size_t)c->nmax * sizeof *all);
    if (!all) return qc_err(err, errlen, "no memory for %lld rows", (long long)c->nmax);
    for (int64_t i = 0; i < c->nmax; i++) all[i] = (int32_t)i;
    for (int64_t i = 0; i < c->t; i++) {
        const int64_t j = i + qc_rng_below(r, c->nmax - i);
        const int32_t x = all[i];
        all[i] = all[j], all[j] = x;
        st[i] = all[i];
    }
    free(all);
    return 0;
}

static quanta_status build(quanta_graph *g, const qc_case *c, quanta_tensor *const *t, quanta_tensor **y) {
    (void)c;
    return quanta_write_rows(g, t[0], t[1], t[2], y);
}

static int64_t pair_elements(const qc_case *c) { return 2 * elements(c); }

/* write_rows' dst, src and start, then a second buffer and source drawn like them. */
static int pair_make(const qc_case *c, qc_data *d, qc_rng *r, char *err, size_t errlen) {
    if (make(c, d, r, err, errlen)) return -1;
    return qc_slot_fill(d, 3, "dst1", QC_ROLE_BUFFER, &d->t[0].desc, r, 0, 1, err, errlen) ||
                   qc_slot_fill(d, 4, "src1", QC_ROLE_INPUT, &d->t[1].desc, r, -5, 1, err, errlen)
               ? -1
               : 0;
}

/* Both writes (write_rows is always planned: it writes a buffer); *y is the judged one. */
static quanta_status pair_build(quanta_graph *g, const qc_case *c, quanta_tensor *const *t, quanta_tensor **y) {
    quanta_tensor *w0 = NULL, *w1 = NULL;
    quanta_status st = quanta_write_rows(g, t[0], t[1], t[2], &w0);
    if (st == QUANTA_OK) st = quanta_write_rows(g, t[3], t[4], t[2], &w1);
    *y = c->part ? w1 : w0;
    return st;
}

/* write_rows' shapes (appends and scatters), float buffers and quantized pools (OpenCL keeps the
 * latter as two writes: still checked), the judged write alternating. Quick: two cases. */
static void pair_generate(qc_gen *g, bool quick) {
    static const int64_t wr[][7] = {{1, 1, 1, 1, 1, 0, 0},      {2, 3, 37, 7, 80, 11, 0}, {1, 1, 256, 1, 256, 255, 0},
                                    {1, 2, 64, 64, 64, 0, 0},   {1, 8, 256, 5, 128, 0, 1}, {2, 3, 37, 7, 80, 0, 1}};
    for (size_t s = 0; s < sizeof wr / sizeof wr[0]; s++)
        for (int ki = 0; ki < 4; ki++) {
            if (quick && (ki != 0 || (s != 1 && s != 4))) continue;
            qc_case c;
            qc_case_defaults(QN_OP_WRITE_ROWS_PAIR, &c);
            c.dtype = qc_acts[(s + (size_t)ki) % 3];
            c.wtype = ki == 3 ? QUANTA_Q8 : c.dtype;
            if (ki == 3 && s == 0) continue;
            c.b = wr[s][0], c.h = wr[s][1], c.nmax = wr[s][2], c.t = wr[s][3], c.d = wr[s][4];
            c.start = wr[s][5];
            c.scatter = (int32_t)wr[s][6];
            c.part = (int32_t)((s + (size_t)ki) % 2);
            qc_gen_add(g, &c);
        }
}

/* {b, h, nmax, t, d, start}: first row, a middle chunk, the last row, the whole buffer; each
 * into a buffer of the source's dtype, and the last three into q8 and fp8_e4m3 buffers. */
static void generate(qc_gen *g, bool quick) {
    static const int64_t wr[][6] = {
        {1, 1, 1, 1, 1, 0}, {2, 3, 37, 7, 80, 11}, {1, 8, 256, 1, 128, 255}, {1, 2, 64, 64, 64, 0}};
    for (int ti = 0; ti < 3; ti++)
        for (size_t s = 0; s < 4; s++) {
            if (quick && s != 1 + (size_t)ti % 2) continue;
            qc_case c;
            qc_case_defaults(QN_OP_WRITE_ROWS, &c);
            c.dtype = qc_acts[ti];
            c.b = wr[s][0];
            c.h = wr[s][1];
            c.nmax = wr[s][2];
            c.t = wr[s][3];
            c.d = wr[s][4];
            c.start = wr[s][5];
            qc_gen_add(g, &c);
            if (ti == 2 || s == 0) continue;
            c.wtype = ti == 0 ? QUANTA_Q8 : QUANTA_FP8_E4M3; /* source dtype rotating over the shapes */
            c.dtype = qc_acts[(s + (size_t)ti) % 3];
            qc_gen_add(g, &c);
        }
    /* scatter: {b, h, nmax, t, d}: a paged decode step's write (one row per sequence, GQA-sized
     * heads), a prefill-sized write, every row of the buffer; each dst kind (float in the
     * source's dtype, q8, fp8_e4m3) with the source dtype rotating */
    static const int64_t sc[][5] = {{1, 8, 256, 5, 128}, {2, 3, 37, 7, 80}, {1, 2, 64, 64, 64}};
    for (int ki = 0; ki < 3; ki++)
        for (size_t s = 0; s < 3; s++) {
            if (quick && s != (size_t)ki) continue;
            qc_case c;
            qc_case_defaults(QN_OP_WRITE_ROWS, &c);
            c.scatter = 1;
            c.start = 0;
            c.dtype = qc_acts[(s + (size_t)ki) % 3];
            c.wtype = ki == 0 ? c.dtype : ki == 1 ? QUANTA_Q8 : QUANTA_FP8_E4M3;
            c.b = sc[s][0], c.h = sc[s][1], c.nmax = sc[s][2], c.t = sc[s][3], c.d = sc[s][4];
            qc_gen_add(g, &c);
        }
}

static quanta_dtype threshold_dtype(const qc_case *c) { return dst_dtype(c); }

/* Quantized buffers are compared dequantized; a device may round a code the other way where its
 * f32 division lands on the other side of a tie than the reference's double one (PoCL does, now
 * and then): one code step, at most the row's max / 127 (q8) or 32/448 = 1/14 of it (e4m3's step
 * in its top binade), plus 1 % for the scales' own rounding; the NMSE stays at rounding level. */
static const qc_thr_row thresholds[] = {
    {QUANTA_Q8, {1e-6, 1.01 / 127, false, "quantized on write: one int8 step where a device rounds a tie the other way"}},
    {QUANTA_FP8_E4M3, {1e-6, 1.01 / 14, false, "quantized on write: one e4m3 step where a device rounds a tie the other way"}},
    {QC_ANY_DTYPE, {0, 0, true, "moves values: must be bit-exact"}},
    QC_THR_END};

const qc_op_def qc_write_rows_def = {QN_OP_WRITE_ROWS, keys, validate, elements, make, build, generate, thresholds,
                                     threshold_dtype, NULL};
const qc_op_def qc_write_rows_pair_def = {QN_OP_WRITE_ROWS_PAIR, pair_keys, validate, pair_elements, pair_make,
                                          pair_build, pair_generate, thresholds, threshold_dtype, NULL};
