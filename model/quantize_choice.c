/* quantize_choice.c — which format each tensor gets in quanta_quantize_model: format names,
 * overrides, and the defaults by shape and role. */
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include "formats.h"
#include "quantize_internal.h"

int qn_qtarget_parse(const char *s, qn_qtarget *t, int allow_dense) {
    memset(t, 0, sizeof *t);
    if (!s) return 0;
    snprintf(t->spec, sizeof t->spec, "%s", s);
    if (!strcmp(s, "q8")) t->dtype = QUANTA_Q8;
    else if (!strcmp(s, "q4") || !strcmp(s, "q4:g64")) t->dtype = QUANTA_Q4, t->group = 64;
    else if (!strcmp(s, "q4:g32")) t->dtype = QUANTA_Q4, t->group = 32;
    else if (!strcmp(s, "q4:g128")) t->dtype = QUANTA_Q4, t->group = 128;
    else if (!strcmp(s, "nf4")) t->dtype = QUANTA_NF4, t->group = 64;
    else if (!strcmp(s, "nf4:dq")) t->dtype = QUANTA_NF4, t->group = 64, t->dq = 1;
    else if (!strcmp(s, "fp8") || !strcmp(s, "fp8_e4m3")) t->dtype = QUANTA_FP8_E4M3;
    else if (!strcmp(s, "fp8_e5m2")) t->dtype = QUANTA_FP8_E5M2;
    /* ggml's block types, written as such so other tools read the file (ggml_quantize.c). */
    else if (!strcmp(s, "q8_0")) t->dtype = QUANTA_Q8, t->ggml = QN_GGML_Q8_0;
    else if (!strcmp(s, "q4_0")) t->dtype = QUANTA_Q4, t->ggml = QN_GGML_Q4_0;
    else if (!strcmp(s, "q4_k")) t->dtype = QUANTA_Q4, t->ggml = QN_GGML_Q4_K;
    else if (!strcmp(s, "q6_k")) t->dtype = QUANTA_Q8, t->ggml = QN_GGML_Q6_K;
    else if (allow_dense && !strcmp(s, "f16")) t->dtype = QUANTA_F16;
    else if (allow_dense && !strcmp(s, "bf16")) t->dtype = QUANTA_BF16;
    else if (allow_dense && !strcmp(s, "f32")) t->dtype = QUANTA_F32;
    else if (allow_dense && !strcmp(s, "keep")) t->keep = 1;
    else return 0;
    return 1;
}

/* Whether name is `suffix` or ends in ".suffix". */
static int has_suffix(const char *name, const char *suffix) {
    size_t a = strlen(name), b = strlen(suffix);
    return a >= b && !strcmp(name + a - b, suffix) && (a == b || name[a - b - 1] == '.');
}

static int is_embedding(const char *name) {
    static const char *names[] = { "token_embd.weight", "output.weight", "lm_head.weight",
                                   "model.embed_tokens.weight", "embed_tokens.weight", "tok_embeddings.weight",
                                   "language_model.model.embed_tokens.weight", "language_model.lm_head.weight" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (has_suffix(name, names[i])) return 1;
    return 0;
}

int qn_quantize_is_head(const char *name) { return !strcmp(name, "output.weight") || has_suffix(name, "lm_head.weight"); }

qn_qtarget qn_qtarget_choose(const quanta_quantize_params *p, const qn_qtarget *overrides, const qn_qtarget *quant,
                             const qn_qtarget *embed, const qn_qsrc *s, const char **why) {
    for (int i = 0; i < p->n_overrides; i++)
        if (!fnmatch(p->overrides[i].glob, s->name, 0)) {
            *why = "override";
            return overrides[i];
        }
    qn_qtarget t;
    if (s->ndim != 2) {
        *why = s->ndim == 1 ? "1-D" : ">2-D";
        qn_qtarget_parse("f32", &t, 1);
    } else if (is_embedding(s->name)) {
        *why = "embedding";
        t = *embed;
    } else {
        *why = "";
        t = *quant;
    }
    return t;
}

int qn_qtarget_ggml_block(const qn_qtarget *t) {
    return !t->ggml ? 0 : t->ggml == QN_GGML_Q4_K || t->ggml == QN_GGML_Q6_K ? 256 : 32;
}

int qn_qtarget_fits(const qn_qtarget *t, int64_t cols) {
    if (t->ggml) return cols % qn_qtarget_ggml_block(t) == 0;
    if (t->dtype == QUANTA_Q4) return cols % t->group == 0;
    if (t->dtype == QUANTA_NF4) return cols % QN_NF4_BLOCK == 0;
    return 1;
}
