/* cases.c — the generated sweep: each op's entry (ops/<op>.c) adds its cases, op × dtype/format
 * × shape class × flags; here are the lists and helpers the entries share.
 *
 * Shape classes: tiny (1-3 elements per dim), odd (sizes that are a multiple of no tile),
 * large K / long rows, decode (one token: matmul m=1, attention nq=1), long sequences
 * (attention over 8192 keys). Flags are rotated through the classes instead of fully crossed so
 * that every flag meets every dtype without the sweep exploding. The quick list is the CI smoke
 * subset: every op and format once or twice, on small shapes. */
#include <stdlib.h>
#include <string.h>

#include "op_entry.h"

int qc_case_list_push(qc_case_list *list, const qc_case *c) {
    qc_case *v = qc_grow(list->v, list->n, &list->cap, sizeof *v, 64);
    if (!v) return -1;
    list->v = v;
    list->v[list->n++] = *c;
    return 0;
}

void qc_case_list_free(qc_case_list *list) {
    free(list->v);
    memset(list, 0, sizeof *list);
}

const quanta_dtype qc_acts[3] = {QUANTA_F32, QUANTA_F16, QUANTA_BF16};

const qc_wfmt qc_wfmts[] = {
    {QUANTA_F32, 0, 0},  {QUANTA_F16, 0, 0},  {QUANTA_BF16, 0, 0},      {QUANTA_Q8, 0, 0},
    {QUANTA_Q4, 32, 0},  {QUANTA_Q4, 64, 0},  {QUANTA_Q4, 128, 0},      {QUANTA_NF4, 64, 0},
    {QUANTA_NF4, 64, 1}, {QUANTA_FP8_E4M3, 0, 0}, {QUANTA_FP8_E5M2, 0, 0},
    /* ggml block formats, as GGUF files store them */
    {QUANTA_GGML_Q4_0, 0, 0}, {QUANTA_GGML_Q4_1, 0, 0}, {QUANTA_GGML_Q5_0, 0, 0}, {QUANTA_GGML_Q5_1, 0, 0},
    {QUANTA_GGML_Q8_0, 0, 0}, {QUANTA_GGML_Q4_K, 0, 0}, {QUANTA_GGML_Q5_K, 0, 0}, {QUANTA_GGML_Q6_K, 0, 0},
};
const size_t qc_nwfmts = sizeof qc_wfmts / sizeof qc_wfmts[0];

void qc_set_weight(qc_case *c, const qc_wfmt *w) {
    c->wtype = w->t;
    c->group = w->g;
    c->dq = w->dq;
}

int64_t qc_wquantum(const qc_wfmt *w) {
    if (w->t == QUANTA_Q4) return w->g;
    if (w->t == QUANTA_NF4) return 64;
    if (w->t >= QUANTA_GGML_Q4_0 && w->t <= QUANTA_GGML_Q6_K) return w->t >= QUANTA_GGML_Q4_K ? 256 : 32;
    return 1;
}
int64_t qc_legal_cols(const qc_wfmt *w, int64_t k) {
    int64_t q = qc_wquantum(w);
    k = (k + q - 1) / q * q;
    return k < q ? q : k;
}

struct qc_gen {
    qc_case_list *list;
    int failed;
};

void qc_gen_add(qc_gen *g, const qc_case *c) {
    char err[QC_ERR_MAX];
    /* Every generated case must be valid; a bad one is a bug here, reported as failure. */
    if (qc_case_validate(c, err, sizeof err) || qc_case_list_push(g->list, c)) g->failed = 1;
}

void qc_set_shape(qc_case *c, int nd, int64_t a, int64_t b, int64_t cc, int64_t d) {
    int64_t v[4] = {a, b, cc, d};
    c->ndim = nd;
    for (int i = 0; i < QUANTA_MAX_DIMS; i++) c->shape[i] = i < nd ? v[i] : 0;
}

const int64_t (*qc_row_shapes(bool quick, size_t *n))[3] {
    /* {ndim, rows, cols}: tiny, odd, decode row, long rows, many rows */
    static const int64_t full[][3] = {{2, 1, 1}, {2, 3, 1001}, {2, 1, 4096}, {3, 7, 33}, {2, 64, 4096}};
    static const int64_t small[][3] = {{2, 3, 257}};
    *n = quick ? 1 : sizeof full / sizeof full[0];
    return quick ? small : full;
}

void qc_set_row_shape(qc_case *c, const int64_t s[3]) {
    if (s[0] == 3) qc_set_shape(c, 3, 2, s[1], s[2], 0);
    else qc_set_shape(c, 2, s[1], s[2], 0, 0);
}

int qc_cases_generate(qc_case_list *list, bool quick, const bool *ops) {
    qc_gen g = {list, 0};
    qc_op all[QC_OP_MAX];
    int n = qc_op_list(all);
    for (int i = 0; i < n; i++)
        if (!ops || ops[all[i]]) qc_op_def_of(all[i])->generate(&g, quick);
    return g.failed ? -1 : 0;
}
