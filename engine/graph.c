/* graph.c — graphs and their leaf tensors (inputs, constants, buffers), outputs, reshape. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "formats.h"
#include "graph_internal.h"

quanta_status quanta_graph_create(quanta_graph **out) {
    if (!out) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_graph_create: out is NULL");
    *out = calloc(1, sizeof **out);
    if (!*out) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_graph_create: out of host memory");
    return QUANTA_OK;
}

void quanta_graph_destroy(quanta_graph *g) {
    if (!g) return;
    for (int i = 0; i < g->ntensors; i++) {
        free(g->tensors[i]->name);
        free(g->tensors[i]->host_data);
        free(g->tensors[i]);
    }
    free(g->tensors);
    free(g->nodes);
    free(g);
}

int quanta_graph_node_count(const quanta_graph *g) { return g ? g->nnodes : 0; }

quanta_status qn_graph_new_tensor(quanta_graph *g, qn_tensor_kind kind, const quanta_tensor_desc *desc,
                                  const char *name, quanta_tensor **out) {
    size_t bytes = 0;
    quanta_status st = quanta_tensor_bytes(desc, &bytes);
    if (st != QUANTA_OK) return st;
    if (g->ntensors == g->tensor_cap) {
        int cap = g->tensor_cap ? g->tensor_cap * 2 : 32;
        quanta_tensor **t = realloc(g->tensors, (size_t)cap * sizeof *t);
        if (!t) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "graph: out of host memory");
        g->tensors = t;
        g->tensor_cap = cap;
    }
    quanta_tensor *t = calloc(1, sizeof *t);
    if (!t) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "graph: out of host memory");
    if (name) {
        t->name = strdup(name);
        if (!t->name) {
            free(t);
            return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "graph: out of host memory");
        }
    }
    t->graph = g;
    t->id = g->ntensors;
    t->kind = kind;
    t->desc = *desc;
    /* Unused dims are kept at 1 so element counts never see garbage. */
    for (int i = desc->ndim; i < QUANTA_MAX_DIMS; i++) t->desc.dims[i] = 1;
    t->bytes = bytes;
    t->producer = -1;
    g->tensors[g->ntensors++] = t;
    *out = t;
    return QUANTA_OK;
}

quanta_status qn_graph_add_node(quanta_graph *g, qn_op op, const qn_op_params *params, int nsrc,
                                quanta_tensor *const *src, const quanta_tensor_desc *desc,
                                quanta_tensor **out) {
    if (g->nnodes == g->node_cap) {
        int cap = g->node_cap ? g->node_cap * 2 : 32;
        qn_graph_node *n = realloc(g->nodes, (size_t)cap * sizeof *n);
        if (!n) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "graph: out of host memory");
        g->nodes = n;
        g->node_cap = cap;
    }
    quanta_tensor *t = NULL;
    quanta_status st = qn_graph_new_tensor(g, QN_KIND_NODE, desc, NULL, &t);
    if (st != QUANTA_OK) return st;
    qn_graph_node *n = &g->nodes[g->nnodes];
    memset(n, 0, sizeof *n);
    n->op = op;
    if (params) n->params = *params;
    n->nsrc = nsrc;
    for (int i = 0; i < nsrc; i++) n->src[i] = src[i];
    n->dst = t;
    t->producer = g->nnodes++;
    *out = t;
    return QUANTA_OK;
}

quanta_status quanta_graph_input(quanta_graph *g, const char *name, const quanta_tensor_desc *desc,
                                 quanta_tensor **out) {
    if (out) *out = NULL;
    if (!g) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_graph_input: graph is NULL");
    if (!desc) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_graph_input: desc is NULL");
    if (!out) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_graph_input: out is NULL");
    return qn_graph_new_tensor(g, QN_KIND_INPUT, desc, name, out);
}

quanta_status quanta_graph_constant(quanta_graph *g, const char *name, const quanta_tensor_desc *desc,
                                    const void *data, size_t bytes, quanta_tensor **out) {
    if (out) *out = NULL;
    if (!g) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_graph_constant: graph is NULL");
    if (!desc) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_graph_constant: desc is NULL");
    if (!data) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_graph_constant: data is NULL");
    if (!out) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_graph_constant: out is NULL");
    size_t need = 0;
    quanta_status st = quanta_tensor_bytes(desc, &need);
    if (st != QUANTA_OK) return st;
    if (bytes != need)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "quanta_graph_constant: bytes is %zu but the tensor '%s' needs %zu", bytes,
                            name ? name : "(unnamed)", need);
    void *copy = malloc(need ? need : 1);
    if (!copy) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_graph_constant: out of host memory");
    memcpy(copy, data, need);
    st = qn_graph_new_tensor(g, QN_KIND_CONSTANT, desc, name, out);
    if (st != QUANTA_OK) {
        free(copy);
        return st;
    }
    (*out)->host_data = copy;
    return QUANTA_OK;
}

quanta_status quanta_graph_buffer(quanta_graph *g, quanta_buffer *buffer, quanta_tensor **out) {
    if (out) *out = NULL;
    if (!g) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_graph_buffer: graph is NULL");
    if (!buffer) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_graph_buffer: buffer is NULL");
    if (!out) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_graph_buffer: out is NULL");
    quanta_status st = qn_graph_new_tensor(g, QN_KIND_BUFFER, &buffer->desc, NULL, out);
    if (st == QUANTA_OK) (*out)->buffer = buffer;
    return st;
}

quanta_status quanta_graph_output(quanta_graph *g, quanta_tensor *t) {
    if (!g) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_graph_output: graph is NULL");
    if (!t || t->graph != g)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_graph_output: t is NULL or from another graph");
    t->is_output = 1;
    return QUANTA_OK;
}

quanta_status quanta_tensor_get_desc(const quanta_tensor *t, quanta_tensor_desc *desc) {
    if (!t) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_tensor_get_desc: t is NULL");
    if (!desc) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_tensor_get_desc: desc is NULL");
    *desc = t->desc;
    return QUANTA_OK;
}

quanta_status quanta_reshape(quanta_graph *g, quanta_tensor *x, int32_t ndim, const int64_t *dims,
                             quanta_tensor **out) {
    if (out) *out = NULL;
    if (!g) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_reshape: graph is NULL");
    if (!x || x->graph != g)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_reshape: x is NULL or from another graph");
    if (!dims) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_reshape: dims is NULL");
    if (!out) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_reshape: out is NULL");
    if (qn_dtype_is_quantized(x->desc.dtype))
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_reshape: x is quantized (%s); only dense tensors reshape",
                            quanta_dtype_name(x->desc.dtype));
    if (ndim < 1 || ndim > QUANTA_MAX_DIMS)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_reshape: ndim %d not in [1, %d]", ndim,
                            QUANTA_MAX_DIMS);
    quanta_tensor_desc d = x->desc;
    d.ndim = ndim;
    for (int i = 0; i < QUANTA_MAX_DIMS; i++) d.dims[i] = i < ndim ? dims[i] : 1;
    size_t n_new = 0, n_old = 0;
    quanta_status st = qn_desc_elements(&d, &n_new);
    if (st != QUANTA_OK) return st;
    st = qn_desc_elements(&x->desc, &n_old);
    if (st != QUANTA_OK) return st;
    if (n_new != n_old)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "quanta_reshape: dims hold %zu elements but x has %zu", n_new, n_old);
    st = qn_graph_new_tensor(g, QN_KIND_VIEW, &d, NULL, out);
    if (st != QUANTA_OK) return st;
    (*out)->base = qn_storage_root(x);
    (*out)->producer = x->producer;
    return QUANTA_OK;
}
