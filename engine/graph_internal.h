/* graph_internal.h — what graphs, tensors and buffers hold (internal to engine/). */
#ifndef QUANTA_ENGINE_GRAPH_INTERNAL_H
#define QUANTA_ENGINE_GRAPH_INTERNAL_H

#include "backend.h"
#include "registry.h"

typedef enum qn_tensor_kind {
    QN_KIND_INPUT,    /* data given per run */
    QN_KIND_CONSTANT, /* data copied at graph build, uploaded at plan time */
    QN_KIND_BUFFER,   /* a persistent quanta_buffer */
    QN_KIND_NODE,     /* produced by an op */
    QN_KIND_VIEW      /* same storage as `base` (reshape; write_rows' result) */
} qn_tensor_kind;

struct quanta_tensor {
    quanta_graph *graph;
    int id;              /* index in graph->tensors */
    qn_tensor_kind kind;
    quanta_tensor_desc desc;
    size_t bytes;
    char *name;
    void *host_data;     /* constants: the graph's copy */
    quanta_buffer *buffer;
    int producer;        /* node index for QN_KIND_NODE and write_rows views, else -1 */
    quanta_tensor *base; /* QN_KIND_VIEW: the tensor whose storage this shares (never a view) */
    int is_output;
};

typedef struct qn_graph_node {
    qn_op op;
    qn_op_params params;
    int nsrc;
    quanta_tensor *src[QN_MAX_SRC];
    quanta_tensor *dst;
    /* matmul_multi (made only by plans, never in a graph): its second and third results, tensors
     * of the graph whose own matmul nodes the fused node replaced; NULL elsewhere */
    quanta_tensor *extra_dst[QN_MAX_EXTRA_DST];
} qn_graph_node;

struct quanta_graph {
    quanta_tensor **tensors;
    int ntensors, tensor_cap;
    qn_graph_node *nodes;
    int nnodes, node_cap;
};

struct quanta_buffer {
    quanta_backend *backend;
    quanta_tensor_desc desc;
    size_t bytes;
    void *handle;
    void *aux;           /* backend-prepared weight, or NULL */
};

/* Adds a tensor to g (takes a copy of desc; validates it); name may be NULL. */
quanta_status qn_graph_new_tensor(quanta_graph *g, qn_tensor_kind kind, const quanta_tensor_desc *desc,
                                  const char *name, quanta_tensor **out);
/* Appends a node producing a new tensor of `desc`. */
quanta_status qn_graph_add_node(quanta_graph *g, qn_op op, const qn_op_params *params, int nsrc,
                                quanta_tensor *const *src, const quanta_tensor_desc *desc,
                                quanta_tensor **out);

/* The tensor whose storage t uses (t itself unless t is a view). */
static inline quanta_tensor *qn_storage_root(quanta_tensor *t) { return t->kind == QN_KIND_VIEW ? t->base : t; }

#endif
