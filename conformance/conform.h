/*
 * conform.h — the conformance harness: every op on each backend against the reference.
 *
 * A case is one op with its shapes, dtypes and flags, written as a spec string
 * ("matmul:m=3,n=17,k=192,w=q4,g=64,x=f16"; README.md lists every key and default). Its
 * inputs are drawn from a seed, the same graph is run on the reference backend ("ref", the
 * oracle) and on each backend under test, and the outputs are compared with the metrics and
 * the thresholds of the op's entry (op_entry.h: one entry per op holds its keys, validation,
 * inputs, graph, cases and thresholds). Runs use only the public API plus one internal hook:
 * guard regions around every op output (guard.c).
 *
 * Harness functions return 0 on success and -1 on failure with a message in `err`; they never
 * print unless handed a FILE.
 */
#ifndef QUANTA_CONFORM_H
#define QUANTA_CONFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "quanta.h"

/* ------------------------------------------------------------------ cases */

/* An op: the engine's op id (qn_op, engine/backend.h), which keys the table of conformance
 * entries (conformance/ops.c, one entry per op in conformance/ops/). An int here because the
 * CLI, which sees only the public API, holds one. Op ids are below QC_OP_MAX, so an array of
 * QC_OP_MAX flags can select ops (--filter). */
typedef int qc_op;
#define QC_OP_MAX 32

/* The op's name (the engine's), NULL when the op has no conformance entry. */
const char *qc_op_name(qc_op op);
/* 0 and *out set when name is the name of an op with an entry, else -1. */
int qc_op_parse(const char *name, qc_op *out);
/* The ops with an entry, in engine op order: fills ops[] (room for QC_OP_MAX), returns how many. */
int qc_op_list(qc_op *ops);

/* One case. Which fields an op uses is given by its entry's keys (ops/<op>.c, README.md). */
typedef struct qc_case {
    qc_op op;
    quanta_dtype dtype;   /* activations: matmul x, attention q/k/v, other ops x; convert: source */
    quanta_dtype wtype;   /* matmul weight, get_rows table */
    quanta_dtype to;      /* convert: target */
    int32_t group;        /* q4 group / nf4 block; 0 = the format's default */
    int32_t dq;           /* nf4 double quantization */
    int32_t wbuf;         /* weight/table in a quanta_buffer instead of a graph constant */
    int64_t b, m, n, k;   /* matmul x[b][m][k] (b = 1: x is 2-D), w[n][k]; attention/write_rows batch */
    int64_t hq, hkv, nq, nk, d;
    int32_t causal, window, mask, kvlens;
    float scale;          /* attention scale (0 = 1/sqrt(d)); the scale op's factor */
    int32_t ndim;
    int64_t shape[QUANTA_MAX_DIMS];
    int32_t perm[QUANTA_MAX_DIMS];
    int32_t weight, plus1; /* rms_norm */
    float eps;
    int32_t mode, rot;     /* rope */
    int64_t offset;
    float theta, fscale;
    int32_t approx;        /* gelu */
    int32_t act;           /* glu: a quanta_glu_act */
    int32_t bcast;         /* add/mul: b is one row */
    int64_t v, t;          /* get_rows: table rows, ids; write_rows: t = rows written */
    int64_t h, nmax, start; /* write_rows */
    int32_t scatter;       /* write_rows: start holds t rows, one per written row (distinct, random) */
    int32_t special;       /* argmax: rows with a NaN, -Inf only, two +Inf, a tie */
    int32_t bs;            /* paged_attention: block size (pool rows per block) */
    int64_t nblk;          /* paged_attention: blocks in the pools */
    int64_t n1, n2;        /* matmul_multi: rows of w1 and w2 (n2 = 0: two weights); rms_norm_rope_pair: n1 heads of x1 */
    int32_t part;          /* fused pairs and groups (matmul_multi, write_rows_pair, rms_norm_add_norm,
                            * rms_norm_rope_pair): the result judged (the others are outputs too) */
    int32_t norm;          /* rope_kv: q and k rms-normed before their ropes (rms_norm_rope_pair's form) */
} qc_case;

#define QC_SPEC_MAX 320
#define QC_ERR_MAX 320

/* Defaults of every key of op. */
void qc_case_defaults(qc_op op, qc_case *out);
/* Parses "op" or "op:key=value,key=value,..." (omitted keys take their defaults), then
 * validates. Unknown keys, bad values and inconsistent cases are errors. */
int qc_case_parse(const char *spec, qc_case *out, char *err, size_t errlen);
/* Checks a case's values and their consistency (hq % hkv, k % group, start + t <= nmax...). */
int qc_case_validate(const qc_case *c, char *err, size_t errlen);
/* Canonical spec: every key of the op, in a fixed order; qc_case_parse reads it back. */
void qc_case_format(const qc_case *c, char *buf, size_t n);
/* Prints each op's keys with defaults and meaning (`quanta conform --keys`). */
void qc_print_keys(FILE *f);

typedef struct qc_case_list {
    qc_case *v;
    size_t n, cap;
} qc_case_list;

int qc_case_list_push(qc_case_list *list, const qc_case *c);
void qc_case_list_free(qc_case_list *list);
/* The generated sweep (quick: the CI smoke subset), op by op in engine op order.
 * ops: QC_OP_MAX flags indexed by op, or NULL = all. */
int qc_cases_generate(qc_case_list *list, bool quick, const bool *ops);

/* ------------------------------------------------------------- thresholds */

typedef struct qc_threshold {
    double nmse;    /* NMSE must be <= this */
    double maxrel;  /* max-abs-error must be <= maxrel * max|reference| */
    bool exact;     /* bit-exact after conversion to f32: max-abs-error 0 */
    const char *why;
} qc_threshold;

qc_threshold qc_threshold_for(const qc_case *c);
/* Prints the threshold table (`quanta conform --thresholds`). */
void qc_print_thresholds(FILE *f);

/* ---------------------------------------------------------------- metrics */

typedef struct qc_metrics {
    size_t count;
    double nmse;        /* sum (a-b)^2 / sum b^2 over elements where both are finite */
    double maxerr;      /* max |a-b| over the same elements */
    double refmax;      /* max |b| over finite b */
    size_t bad_index;   /* first element where a is not finite but b is (or Inf signs differ) */
    bool nonfinite;     /* such an element exists */
    size_t nan_count;   /* how many of them are NaN (unwritten elements show as NaN) */
    double err2, ref2;  /* sum (a-b)^2 and sum b^2: nmse's numerator and denominator */
} qc_metrics;

/* a: backend under test, b: reference. */
void qc_compare(const float *a, const float *b, size_t n, qc_metrics *m);

/* ------------------------------------------------------------ case inputs */

typedef enum qc_role {
    QC_ROLE_INPUT,   /* quanta_graph_input + quanta_plan_set_input */
    QC_ROLE_CONST,   /* quanta_graph_constant */
    QC_ROLE_BUFFER   /* quanta_buffer on the backend, quanta_graph_buffer */
} qc_role;

#define QC_MAX_TENSORS 9 /* rope_kv has 9 sources */

typedef struct qc_tensor_data {
    const char *name;
    qc_role role;
    quanta_tensor_desc desc;
    void *data;      /* interchange layout */
    size_t bytes;
} qc_tensor_data;

typedef struct qc_data {
    int count;
    qc_tensor_data t[QC_MAX_TENSORS];
    quanta_tensor_desc out_desc; /* the op's result, as the graph should report it */
    size_t out_count;
    uint64_t seed;               /* the case's own seed (run seed mixed with the spec) */
    /* Ops whose results are dot products (matmul, matmul_multi): the energy the results would have
     * with their operands in general position, E = |x row|^2 |w row|^2 / K per result, summed
     * (cond_sum) and the largest (cond_max); 0 for other ops. A result that cancels keeps the error
     * its operands' magnitudes give it, so qc_judge measures against these where the result's own
     * energy is smaller (thresholds.c, "Cancellation"). */
    double cond_sum, cond_max;
} qc_data;

/* The seed of one case: the run seed mixed with a hash of its canonical spec, so that
 * `--seed S --case SPEC` redraws the inputs of that case in any run. */
uint64_t qc_case_seed(const qc_case *c, uint64_t run_seed);
int qc_data_make(const qc_case *c, uint64_t run_seed, qc_data *d, char *err, size_t errlen);
void qc_data_free(qc_data *d);

/* ----------------------------------------------------------------- running */

typedef enum qc_status { QC_PASS = 0, QC_FAIL, QC_SKIP } qc_status;

typedef enum qc_reason {
    QC_R_NONE = 0,
    QC_R_ACCURACY,    /* NMSE or max-abs-error over the threshold (or not exact) */
    QC_R_NONFINITE,   /* NaN/Inf where the reference has none: wrong or unwritten element */
    QC_R_GUARD,       /* a guard region around an output was overwritten */
    QC_R_ERROR,       /* an API call failed */
    QC_R_UNSUPPORTED, /* the backend cannot run the case (SKIP) */
    QC_R_FALLBACK,    /* the op ran on the reference backend instead (SKIP when correct) */
    QC_R_NOREF        /* the reference run failed, nothing to compare with */
} qc_reason;

const char *qc_status_name(qc_status s);
const char *qc_reason_name(qc_reason r);

/* One backend's run of one case, its output converted to f32. */
typedef struct qc_output {
    float *v;
    size_t n;
    quanta_status st;   /* QUANTA_OK when the run completed */
    qc_reason reason;   /* why not, when st != QUANTA_OK */
    bool fallback;      /* some op of the plan ran on "ref" although the backend is not ref */
    double ms;          /* plan + execute + read back */
    char msg[QC_ERR_MAX];
} qc_output;

/* Guard bytes set on every plan the harness makes (0 turns the guards off). */
#define QC_GUARD_BYTES 256

/* Builds the case's graph, plans it on be with guards on, sets inputs, executes, reads back. */
void qc_run_backend(const qc_case *c, const qc_data *d, quanta_backend *be, qc_output *out);
void qc_output_free(qc_output *o);

typedef struct qc_result {
    qc_op op;
    char spec[QC_SPEC_MAX];
    char backend[32];
    qc_status status;
    qc_reason reason;
    double nmse, maxerr;
    double nmse_thr, maxerr_thr; /* maxerr_thr = maxrel * max|reference| (0 when exact) */
    bool exact;
    double ms;
    char msg[QC_ERR_MAX];
} qc_result;

/* Judges one backend's output against the reference run of the inputs d (NULL: no operand
 * energies, the plain measures). self: the backend is the reference itself (its run is the
 * oracle; guards, poison and finiteness are still checked). */
void qc_judge(const qc_case *c, const qc_data *d, const qc_output *ref, const qc_output *out, bool self,
              const char *backend, qc_result *r);

/* A backend under test. */
typedef struct qc_target {
    char name[32];
    quanta_backend *be;
    bool is_ref;       /* the same handle as the oracle */
} qc_target;

/* Runs one case: inputs from run_seed, the oracle on ref, then each target; fills
 * results[0..ntargets-1]. Returns -1 only when the inputs cannot be made (err). */
int qc_run_case(const qc_case *c, uint64_t run_seed, quanta_backend *ref, const qc_target *targets,
                int ntargets, qc_result *results, char *err, size_t errlen);

/* ------------------------------------------------------------------ guards */

/* Turns guard regions and NaN poisoning on for a plan (internal engine hook). */
quanta_status qc_guard_enable(quanta_plan *plan, size_t bytes);
/* Whether an error message is the executor's guard-violation report. */
bool qc_guard_is_violation(const char *msg);

/* ------------------------------------------------------------------ report */

typedef struct qc_report {
    qc_result *v;
    size_t n, cap;
    uint64_t seed;
    size_t pass, fail, skip;
} qc_report;

int qc_report_add(qc_report *r, const qc_result *res);
void qc_report_free(qc_report *r);
/* One table line (and for failures an indented reason and repro line). */
void qc_print_header(FILE *f);
void qc_print_result(FILE *f, const qc_result *r, uint64_t seed);
int qc_write_json(const char *path, const qc_report *r, char *err, size_t errlen);
int qc_write_junit(const char *path, const qc_report *r, char *err, size_t errlen);

/* Formats into err (truncated to errlen); returns -1, for `return qc_err(err, errlen, ...)`. */
int qc_err(char *err, size_t errlen, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Room for one more element in an array of n elements of `elem` bytes that holds *cap: returns
 * v itself, or v grown by doubling (to `first` when empty) with *cap updated; NULL (v untouched)
 * when out of memory. */
void *qc_grow(void *v, size_t n, size_t *cap, size_t elem, size_t first);

#endif
