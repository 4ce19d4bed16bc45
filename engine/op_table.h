/*
 * op_table.h — one entry per op (internal to engine/ and its backends).
 *
 * Everything the engine knows about an op is its row in qn_op_table (op_table.c): its name,
 * its source slots (names for messages, which may be absent), whether its result shares the
 * storage of source 0, the one function that validates the sources and parameters and infers
 * the result's descriptor, and the reference implementation (engine/ref/). The public
 * constructors (ops.c) only pack their arguments; graph building (qn_op_build), op names, the
 * executor's in-place handling and the reference dispatch read the table. Backends receive
 * nodes that passed `infer`: they check only their own kernel limits (in supports_op).
 * How to add an op: engine/README.md.
 */
#ifndef QUANTA_ENGINE_OP_TABLE_H
#define QUANTA_ENGINE_OP_TABLE_H

#include "backend.h"

typedef struct qn_op_def {
    const char *name;                  /* "matmul": quanta_<name> in messages, qn_op_name */
    int nsrc;                          /* source slots */
    const char *src_names[QN_MAX_SRC]; /* argument names, for messages */
    unsigned optional;                 /* bit i set: slot i may be NULL */
    bool dst_is_src0;                  /* the result is source 0's storage, written in place */
    /* Validates the sources (present where required and from the graph: checked before) and
     * the parameters (which it may complete, e.g. a default scale), and writes the result's
     * descriptor to *out. Errors name the argument: "quanta_<name>: <arg> ...". */
    quanta_status (*infer)(quanta_tensor *const *src, qn_op_params *p, quanta_tensor_desc *out);
    /* The reference implementation on host tensors (engine/ref/), the oracle and the fallback. */
    quanta_status (*reference)(const qn_node *node);
    /* The source whose dtype picks a backend's kernel (matmul's w, get_rows' table,
     * paged_attention's k_pool; 0, the activation, for the others): backends' kernel tables
     * (backend.h, `kernels`) list the dtypes of this source they have code for. */
    int format_src;
} qn_op_def;

/* The row of op, NULL when op is not a qn_op. */
const qn_op_def *qn_op_def_of(qn_op op);

/* Builds a node of op from its sources (nsrc of them, NULL where absent) and parameters
 * (NULL = all zero): checks graph, out and the sources, runs infer, appends the node. */
quanta_status qn_op_build(quanta_graph *g, qn_op op, quanta_tensor *const *src, const qn_op_params *params,
                          quanta_tensor **out);

/* Reference implementations (engine/ref/), one per op, named in the table. */
quanta_status qn_ref_matmul(const qn_node *node);
quanta_status qn_ref_matmul_glu(const qn_node *node);
quanta_status qn_ref_matmul_multi(const qn_node *node);
quanta_status qn_ref_write_rows_pair(const qn_node *node);
quanta_status qn_ref_rms_norm_add_norm(const qn_node *node);
quanta_status qn_ref_rms_norm_rope_pair(const qn_node *node);
quanta_status qn_ref_add_norm(const qn_node *node);
quanta_status qn_ref_rope_pair(const qn_node *node);
quanta_status qn_ref_rope_kv(const qn_node *node);
quanta_status qn_ref_attention(const qn_node *node);
quanta_status qn_ref_rms_norm(const qn_node *node);
quanta_status qn_ref_add_rms_norm(const qn_node *node);
quanta_status qn_ref_rms_norm_add(const qn_node *node);
quanta_status qn_ref_rope(const qn_node *node);
quanta_status qn_ref_rms_norm_rope(const qn_node *node);
quanta_status qn_ref_silu(const qn_node *node);
quanta_status qn_ref_gelu(const qn_node *node);
quanta_status qn_ref_glu(const qn_node *node);
quanta_status qn_ref_add(const qn_node *node);
quanta_status qn_ref_mul(const qn_node *node);
quanta_status qn_ref_scale(const qn_node *node);
quanta_status qn_ref_softmax(const qn_node *node);
quanta_status qn_ref_argmax(const qn_node *node);
quanta_status qn_ref_convert(const qn_node *node);
quanta_status qn_ref_get_rows(const qn_node *node);
quanta_status qn_ref_permute(const qn_node *node);
quanta_status qn_ref_write_rows(const qn_node *node);
quanta_status qn_ref_all_reduce(const qn_node *node); /* through the node's communicator (comm.h) */
quanta_status qn_ref_paged_attention(const qn_node *node);
/* paged_attention's run-time checks (engine/ref/ref_paged_attention.c), also run by the device
 * backends on host copies before a launch: every length in [T, MB * block_size] and every
 * block-table entry a query can see in [0, n_blocks). `who` starts the message. */
quanta_status qn_paged_check(const int32_t *table, const int32_t *lens, int64_t S, int64_t MB, int64_t T, int64_t bs,
                             int64_t n_blocks, const quanta_attention_params *pa, const char *who);

#endif
