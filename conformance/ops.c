/* ops.c — the table of conformance entries, keyed by the engine op id, and op names.
 * One line per op that has an entry (its file in ops/); op names are the engine's. */
#include <string.h>

#include "op_entry.h"

/* The entries (ops/<op>.c). */
extern const qc_op_def qc_matmul_def, qc_attention_def, qc_paged_attention_def, qc_rms_norm_def,
    qc_add_rms_norm_def, qc_rope_def, qc_silu_def, qc_gelu_def, qc_add_def, qc_mul_def, qc_scale_def,
    qc_softmax_def, qc_get_rows_def, qc_permute_def, qc_convert_def, qc_write_rows_def, qc_glu_def, qc_rms_norm_add_def,
    qc_matmul_glu_def, qc_rms_norm_rope_def, qc_argmax_def, qc_matmul_multi_def, qc_write_rows_pair_def, qc_rms_norm_add_norm_def,
    qc_rms_norm_rope_pair_def, qc_add_norm_def, qc_rope_pair_def, qc_rope_kv_def;

_Static_assert(QN_OP_COUNT <= QC_OP_MAX, "QC_OP_MAX (conform.h) must exceed every engine op id");

static const qc_op_def *const entries[QN_OP_COUNT] = {
    [QN_OP_MATMUL] = &qc_matmul_def,
    [QN_OP_ATTENTION] = &qc_attention_def,
    [QN_OP_RMS_NORM] = &qc_rms_norm_def,
    [QN_OP_ROPE] = &qc_rope_def,
    [QN_OP_SILU] = &qc_silu_def,
    [QN_OP_GELU] = &qc_gelu_def,
    [QN_OP_ADD] = &qc_add_def,
    [QN_OP_MUL] = &qc_mul_def,
    [QN_OP_SCALE] = &qc_scale_def,
    [QN_OP_SOFTMAX] = &qc_softmax_def,
    [QN_OP_GET_ROWS] = &qc_get_rows_def,
    [QN_OP_PERMUTE] = &qc_permute_def,
    [QN_OP_CONVERT] = &qc_convert_def,
    [QN_OP_WRITE_ROWS] = &qc_write_rows_def,
    /* QN_OP_ALL_REDUCE: needs several ranks; tests/parallel/ checks it */
    [QN_OP_ADD_RMS_NORM] = &qc_add_rms_norm_def,
    [QN_OP_PAGED_ATTENTION] = &qc_paged_attention_def,
    [QN_OP_GLU] = &qc_glu_def,
    [QN_OP_RMS_NORM_ADD] = &qc_rms_norm_add_def,
    [QN_OP_MATMUL_GLU] = &qc_matmul_glu_def,
    [QN_OP_RMS_NORM_ROPE] = &qc_rms_norm_rope_def,
    [QN_OP_ARGMAX] = &qc_argmax_def,
    [QN_OP_MATMUL_MULTI] = &qc_matmul_multi_def,
    [QN_OP_WRITE_ROWS_PAIR] = &qc_write_rows_pair_def,
    [QN_OP_RMS_NORM_ADD_NORM] = &qc_rms_norm_add_norm_def,
    [QN_OP_RMS_NORM_ROPE_PAIR] = &qc_rms_norm_rope_pair_def,
    [QN_OP_ADD_NORM] = &qc_add_norm_def,
    [QN_OP_ROPE_PAIR] = &qc_rope_pair_def,
    [QN_OP_ROPE_KV] = &qc_rope_kv_def,
};

const qc_op_def *qc_op_def_of(qc_op op) {
    return op >= 0 && op < QN_OP_COUNT ? entries[op] : NULL;
}

const char *qc_op_name(qc_op op) {
    return qc_op_def_of(op) ? qn_op_name((qn_op)op) : NULL;
}

int qc_op_parse(const char *name, qc_op *out) {
    for (int i = 0; i < QN_OP_COUNT; i++)
        if (entries[i] && !strcmp(name, qn_op_name((qn_op)i))) {
            *out = i;
            return 0;
        }
    return -1;
}

int qc_op_list(qc_op *ops) {
    int n = 0;
    for (int i = 0; i < QN_OP_COUNT; i++)
        if (entries[i]) ops[n++] = i;
    return n;
}
