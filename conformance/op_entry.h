/*
 * op_entry.h — one op's conformance entry, and the helpers entries share (internal to conformance/).
 *
 * Everything the suite knows about an op is its entry (conformance/ops/<op>.c): the engine op
 * it exercises (whose name, from the engine's op table, is the op's name in specs), its spec
 * keys with their defaults, its validation, its inputs drawn from a seed, its graph built
 * through the public constructor, its generated cases and its pass thresholds. spec.c, data.c,
 * cases.c, thresholds.c and runner.c hold no per-op code: they iterate the table (ops.c, keyed
 * by the engine op id). Adding an op's conformance = one entry file, its line in ops.c, its file
 * in meson.build (engine/README.md, "How to add an op").
 */
#ifndef QUANTA_CONFORMANCE_OP_ENTRY_H
#define QUANTA_CONFORMANCE_OP_ENTRY_H

#include <stddef.h>

#include "backend.h" /* qn_op: the engine's op ids */
#include "conform.h"

/* ------------------------------------------------------------- spec keys */

typedef enum qc_key_kind {
    QC_K_I64,   /* int64_t, range lo..hi */
    QC_K_I32,   /* int32_t, range lo..hi */
    QC_K_F32,   /* float, finite */
    QC_K_ACT,   /* quanta_dtype: f32, f16, bf16 */
    QC_K_WT,    /* quanta_dtype: a weight format (dense float or quantized) */
    QC_K_SHAPE, /* ndim + shape: "AxBxC" */
    QC_K_PERM,  /* perm digits: "0213" */
    QC_K_MODE   /* rope mode: norm | neox */
} qc_key_kind;

/* One key of a spec: its name, kind, the qc_case field it sets, its default (the single
 * source of every default), its range (integers) and what it means (`quanta conform --keys`). */
typedef struct qc_key {
    const char *name;
    qc_key_kind kind;
    size_t off;
    const char *def;
    int64_t lo, hi;
    const char *doc;
} qc_key;

#define QC_OFF(f) offsetof(qc_case, f)
#define QC_DIM_MAX (1 << 24)
#define QC_KEYS_END {NULL, QC_K_I32, 0, NULL, 0, 0, NULL}

/* ------------------------------------------------------------- the entry */

/* Case inputs are drawn from a splitmix64 stream seeded by the case's own seed. */
typedef struct qc_rng {
    uint64_t s;
} qc_rng;

/* The sweep being generated (cases.c). */
typedef struct qc_gen qc_gen;

/* A threshold row: the dtype that selects it (QC_ANY_DTYPE = any), the threshold with its reason.
 * A row with why == NULL ends a table. */
#define QC_ANY_DTYPE (-1)
typedef struct qc_thr_row {
    int dtype;
    qc_threshold thr;
} qc_thr_row;
#define QC_THR_END {0, {0, 0, false, NULL}}

typedef struct qc_op_def {
    qn_op op;           /* the engine op; its table row names it */
    const qc_key *keys; /* ended by QC_KEYS_END; the canonical spec prints them in this order */
    /* Checks a case whose keys are each in range: dtypes and consistency (hq % hkv, k % g...),
     * and that each tensor stays below 2^28 elements (qc_check_elems). Message into err. */
    int (*validate)(const qc_case *c, char *err, size_t errlen);
    /* Elements of all of a valid case's tensors, inputs and result (bounded by spec.c). */
    int64_t (*elements)(const qc_case *c);
    /* Draws the inputs into d's slots in the order of the op's sources (engine/backend.h's
     * qn_node), absent optional ones left NULL, and sets d->out_desc. */
    int (*make)(const qc_case *c, qc_data *d, qc_rng *r, char *err, size_t errlen);
    /* Adds the op to g through its public constructor; t[] are the slots' tensors. */
    quanta_status (*build)(quanta_graph *g, const qc_case *c, quanta_tensor *const *t, quanta_tensor **y);
    /* Appends the full sweep's cases (quick: the CI smoke subset) with qc_gen_add. */
    void (*generate)(qc_gen *g, bool quick);
    /* Pass thresholds (NULL: qc_elementwise_thr), the row picked by threshold_dtype (NULL: the
     * case's dtype). result_dtype (NULL: the case's dtype) is the output's dtype, whose
     * rounding step bounds errors on tiny outputs (runner.c). */
    const qc_thr_row *thresholds;
    quanta_dtype (*threshold_dtype)(const qc_case *c);
    quanta_dtype (*result_dtype)(const qc_case *c);
} qc_op_def;

/* The entry of op, NULL when op has none (all_reduce: tests/parallel/ checks it). */
const qc_op_def *qc_op_def_of(qc_op op);

/* The element-wise threshold rows (thresholds.c), for ops without rows of their own. */
extern const qc_thr_row qc_elementwise_thr[];

/* --------------------------------------------------- validation (spec.c) */

bool qc_is_act(quanta_dtype t);
bool qc_is_ggml(quanta_dtype t);
bool qc_is_weight(quanta_dtype t);
/* Each of nd dims >= 1 and their product <= 2^28 (what: the tensor, for the message). */
int qc_check_elems(const char *what, const int64_t *dims, int nd, char *err, size_t errlen);
/* A weight format's group / double-quant keys and a cols count it can hold (cols_key: its key). */
int qc_check_format(quanta_dtype w, int32_t g, int32_t dq, int64_t cols, const char *cols_key, char *err,
                    size_t errlen);
/* The checks of every op with a shape key: 1-4 dims, <= 2^28 elements, an activation dtype. */
int qc_check_shape(const qc_case *c, char *err, size_t errlen);
/* What attention and paged_attention check alike: hq a multiple of hkv, an activation dtype,
 * scale >= 0. */
int qc_check_attention(const qc_case *c, char *err, size_t errlen);
/* Elements of the shape key's tensor; of an op of x alone (x, the result, a row's parameters). */
int64_t qc_shape_elems(const qc_case *c);
int64_t qc_unary_elements(const qc_case *c);

/* --------------------------------------------------------- inputs (data.c) */

uint64_t qc_rng_next(qc_rng *r);
double qc_rng_uniform(qc_rng *r);            /* [0, 1) */
int64_t qc_rng_below(qc_rng *r, int64_t n);  /* [0, n) */

quanta_tensor_desc qc_desc(quanta_dtype t, int nd, const int64_t *dims);
/* Allocates slot i of d with desc's interchange size (data left to fill). */
int qc_slot(qc_data *d, int i, const char *name, qc_role role, const quanta_tensor_desc *desc, char *err,
            size_t errlen);
/* An i32 input slot of n elements. */
int qc_i32_slot(qc_data *d, int i, const char *name, int64_t n, char *err, size_t errlen);
/* Fills slot i with values drawn from N(mean, sd), encoded in the slot's dtype (quantized with
 * quanta_quantize; ggml blocks drawn bytewise with scales that give ~N(0, sd)). */
int qc_fill(qc_data *d, int i, qc_rng *r, float mean, float sd, char *err, size_t errlen);
/* Slot 0: "x" of the shape key and the case's dtype, drawn from N(0, sd); the result has x's desc. */
int qc_make_x(const qc_case *c, qc_data *d, qc_rng *r, float sd, char *err, size_t errlen);
/* qc_slot then qc_fill. */
int qc_slot_fill(qc_data *d, int i, const char *name, qc_role role, const quanta_tensor_desc *desc, qc_rng *r,
                 float mean, float sd, char *err, size_t errlen);

/* d->cond_sum / cond_max (conform.h) of the products x · wᵀ, x in slot xs ([..., K]: every row),
 * w in slot ws ([N, K], any dtype, decoded by quanta_dequantize). */
int qc_dot_energy(qc_data *d, int xs, int ws, char *err, size_t errlen);

/* ------------------------------------------------------- the sweep (cases.c) */

/* Appends a generated case; an invalid one marks the sweep failed (a bug in its entry). */
void qc_gen_add(qc_gen *g, const qc_case *c);

extern const quanta_dtype qc_acts[3]; /* f32, f16, bf16 */

/* A weight format with its group and double-quant setting; qc_wfmts lists every one the sweep
 * covers (qc_nwfmts of them). */
typedef struct qc_wfmt {
    quanta_dtype t;
    int32_t g, dq;
} qc_wfmt;
extern const qc_wfmt qc_wfmts[];
extern const size_t qc_nwfmts;
void qc_set_weight(qc_case *c, const qc_wfmt *w);
/* The smallest legal K/cols of a format, and k rounded up to a legal multiple. */
int64_t qc_wquantum(const qc_wfmt *w);
int64_t qc_legal_cols(const qc_wfmt *w, int64_t k);

void qc_set_shape(qc_case *c, int nd, int64_t a, int64_t b, int64_t cc, int64_t d);
/* The shape classes of row-wise and element-wise ops: {ndim, rows, cols}: tiny, odd, decode row,
 * long rows, many rows (quick: one odd class); *n of them. */
const int64_t (*qc_row_shapes(bool quick, size_t *n))[3];
void qc_set_row_shape(qc_case *c, const int64_t s[3]);

#endif
