/* build.c — wires a case's op into a graph through the public op constructors. */
#include "conform.h"

quanta_status qc_build_op(quanta_graph *g, const qc_case *c, quanta_tensor *const *t, quanta_tensor **y) {
    switch (c->op) {
    case QC_MATMUL: return quanta_matmul(g, t[0], t[1], y);
    case QC_ATTENTION: {
        quanta_attention_params p = {c->scale, c->causal, c->window};
        return quanta_attention(g, t[0], t[1], t[2], t[3], t[4], &p, y);
    }
    case QC_PAGED_ATTENTION: {
        quanta_attention_params p = {c->scale, c->causal, c->window};
        return quanta_paged_attention(g, t[0], t[1], t[2], t[3], t[4], c->bs, &p, y);
    }
    case QC_RMS_NORM: return quanta_rms_norm(g, t[0], t[1], c->eps, c->plus1, y);
    case QC_ADD_RMS_NORM: return quanta_add_rms_norm(g, t[0], t[1], t[2], c->eps, c->plus1, y);
    case QC_ROPE: {
        quanta_rope_params p = {(quanta_rope_mode)c->mode, c->theta, c->fscale, c->rot};
        return quanta_rope(g, t[0], t[1], &p, y);
    }
    case QC_SILU: return quanta_silu(g, t[0], y);
    case QC_GELU: return quanta_gelu(g, t[0], c->approx, y);
    case QC_ADD: return quanta_add(g, t[0], t[1], y);
    case QC_MUL: return quanta_mul(g, t[0], t[1], y);
    case QC_SCALE: return quanta_scale(g, t[0], c->scale, y);
    case QC_SOFTMAX: return quanta_softmax(g, t[0], y);
    case QC_GET_ROWS: return quanta_get_rows(g, t[0], t[1], y);
    case QC_PERMUTE: return quanta_permute(g, t[0], c->perm, y);
    case QC_CONVERT: return quanta_convert(g, t[0], c->to, y);
    case QC_WRITE_ROWS: return quanta_write_rows(g, t[0], t[1], t[2], y);
    case QC_OP_COUNT: break;
    }
    return QUANTA_ERR_INVALID_ARGUMENT;
}
