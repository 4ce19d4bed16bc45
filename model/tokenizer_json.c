/*
 * tokenizer_json.c — the tokenizer from a Hugging Face tokenizer.json (model type "BPE"):
 *   - byte-level BPE (a ByteLevel pre-tokenizer or decoder: GPT-2, LLaMA 3, Qwen2): vocabulary
 *     and merges as they are; the pre-tokenizer is chosen from the Split regex;
 *   - SentencePiece-style BPE (LLaMA 2, Mistral, Gemma: "▁" for spaces, byte_fallback): run by
 *     the SPM encoder with score = -(rank of the merge that makes the token), so pairs merge in
 *     merge-rank order as transformers does; tokens no merge makes are never merged into.
 * added_tokens become control (special) or user-defined tokens.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "json.h"
#include "mapfile.h"
#include "tokenizer_internal.h"

/* Whether any object in the tree has "type": name (pre_tokenizer / decoder sequences). */
static int has_type(const qn_json *v, const char *name, int depth) {
    if (!v || depth > 8) return 0;
    if (v->type == QN_JSON_OBJECT) {
        const qn_json *t = qn_json_get(v, "type");
        if (t && t->type == QN_JSON_STRING && !strcmp(t->str, name)) return 1;
        for (size_t i = 0; i < v->count; i++)
            if (has_type(&v->items[i], name, depth + 1)) return 1;
    } else if (v->type == QN_JSON_ARRAY) {
        for (size_t i = 0; i < v->count; i++)
            if (has_type(&v->items[i], name, depth + 1)) return 1;
    }
    return 0;
}

/* First "Regex" string in the tree (the pre-tokenizer's split pattern), or NULL. */
static const char *find_regex(const qn_json *v, int depth) {
    if (!v || depth > 8) return NULL;
    if (v->type == QN_JSON_OBJECT) {
        const qn_json *r = qn_json_get(v, "Regex");
        if (r && r->type == QN_JSON_STRING) return r->str;
    }
    if (v->type == QN_JSON_OBJECT || v->type == QN_JSON_ARRAY)
        for (size_t i = 0; i < v->count; i++) {
            const char *s = find_regex(&v->items[i], depth + 1);
            if (s) return s;
        }
    return NULL;
}

/* Whether a string occurs as a value in the tree (e.g. "▁" in a Prepend normalizer). */
static int has_prepend(const qn_json *v, int depth) {
    if (!v || depth > 8) return 0;
    if (v->type == QN_JSON_OBJECT) {
        const qn_json *t = qn_json_get(v, "type");
        if (t && t->type == QN_JSON_STRING && !strcmp(t->str, "Prepend")) return 1;
        if (t && t->type == QN_JSON_STRING && !strcmp(t->str, "Metaspace")) {
            const qn_json *ps = qn_json_get(v, "prepend_scheme");
            const qn_json *as = qn_json_get(v, "add_prefix_space");
            if ((ps && ps->type == QN_JSON_STRING && strcmp(ps->str, "never")) || (as && as->type == QN_JSON_BOOL && as->boolean))
                return 1;
        }
    }
    if (v->type == QN_JSON_OBJECT || v->type == QN_JSON_ARRAY)
        for (size_t i = 0; i < v->count; i++)
            if (has_prepend(&v->items[i], depth + 1)) return 1;
    return 0;
}

static int32_t id_of(const qn_json *v) {
    uint64_t u;
    return qn_json_as_u64(v, &u) && u < (1u << 24) ? (int32_t)u : -1;
}

quanta_status qn_tokenizer_from_json(const char *path, int32_t bos, int32_t eos, qn_tokenizer **out) {
    *out = NULL;
    qn_mapped_file f;
    quanta_status st = qn_map_file(path, "quanta_model_load: tokenizer.json", &f);
    if (st) return st;
    qn_json *root = NULL;
    st = qn_json_parse((const char *)f.data, f.size, 0, &root);
    qn_unmap_file(&f);
    if (st) return qn_error_set(st, "quanta_model_load: tokenizer.json: %s", quanta_last_error());
    const char **text = NULL;
    uint32_t *len = NULL;
    float *scores = NULL;
    int32_t *types = NULL;
    char **merges = NULL;
    uint32_t *mlen = NULL;
    size_t nm = 0;
    const qn_json *model = qn_json_get(root, "model");
    const qn_json *mt = model ? qn_json_get(model, "type") : NULL;
    const qn_json *vocab = model ? qn_json_get(model, "vocab") : NULL;
    const qn_json *mj = model ? qn_json_get(model, "merges") : NULL;
    const qn_json *added = qn_json_get(root, "added_tokens");
    if (!mt || mt->type != QN_JSON_STRING || strcmp(mt->str, "BPE")) {
        st = qn_error_set(QUANTA_ERR_UNSUPPORTED, "quanta_model_load: tokenizer.json model type '%s' (only BPE)",
                          mt && mt->type == QN_JSON_STRING ? mt->str : "?");
        goto done;
    }
    if (!vocab || vocab->type != QN_JSON_OBJECT || (mj && mj->type != QN_JSON_ARRAY)) {
        st = qn_error_set(QUANTA_ERR_CORRUPT, "quanta_model_load: tokenizer.json: model.vocab / model.merges malformed");
        goto done;
    }
    int32_t n = 0;
    for (size_t i = 0; i < vocab->count; i++) {
        int32_t id = id_of(&vocab->items[i]);
        if (id < 0) {
            st = qn_error_set(QUANTA_ERR_CORRUPT, "quanta_model_load: tokenizer.json: bad id of '%s'", vocab->keys[i]);
            goto done;
        }
        if (id + 1 > n) n = id + 1;
    }
    if (added && added->type == QN_JSON_ARRAY)
        for (size_t i = 0; i < added->count; i++) {
            int32_t id = id_of(qn_json_get(&added->items[i], "id"));
            if (id + 1 > n) n = id + 1;
        }
    text = calloc((size_t)n + 1, sizeof *text);
    len = calloc((size_t)n + 1, sizeof *len);
    scores = calloc((size_t)n + 1, sizeof *scores);
    types = calloc((size_t)n + 1, sizeof *types);
    if (!text || !len || !scores || !types) {
        st = qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_model_load: no memory for the vocabulary");
        goto done;
    }
    int byte_level = has_type(qn_json_get(root, "pre_tokenizer"), "ByteLevel", 0) ||
                     has_type(qn_json_get(root, "decoder"), "ByteLevel", 0);
    for (int32_t i = 0; i < n; i++) {
        text[i] = "";
        types[i] = QN_TT_UNUSED;
        scores[i] = -1e30f; /* SPM: tokens no merge makes are never merged into */
    }
    for (size_t i = 0; i < vocab->count; i++) {
        int32_t id = id_of(&vocab->items[i]);
        text[id] = vocab->keys[i];
        len[id] = (uint32_t)strlen(vocab->keys[i]);
        types[id] = QN_TT_NORMAL;
        if (!byte_level && len[id] == 6 && !memcmp(text[id], "<0x", 3) && text[id][5] == '>') types[id] = QN_TT_BYTE;
    }
    if (added && added->type == QN_JSON_ARRAY)
        for (size_t i = 0; i < added->count; i++) {
            const qn_json *a = &added->items[i];
            int32_t id = id_of(qn_json_get(a, "id"));
            const qn_json *c = qn_json_get(a, "content"), *sp = qn_json_get(a, "special");
            if (id < 0 || !c || c->type != QN_JSON_STRING) {
                st = qn_error_set(QUANTA_ERR_CORRUPT, "quanta_model_load: tokenizer.json: added_tokens[%zu] malformed", i);
                goto done;
            }
            text[id] = c->str;
            len[id] = (uint32_t)c->str_len;
            types[id] = sp && sp->type == QN_JSON_BOOL && sp->boolean ? QN_TT_CONTROL : QN_TT_USER_DEFINED;
        }
    /* Merges as "left right" strings (newer files store [left, right] pairs). */
    nm = mj ? mj->count : 0;
    merges = calloc(nm + 1, sizeof *merges);
    mlen = calloc(nm + 1, sizeof *mlen);
    if (!merges || !mlen) {
        st = qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_model_load: no memory for merges");
        goto done;
    }
    for (size_t i = 0; i < nm; i++) {
        const qn_json *e = &mj->items[i];
        const char *a = NULL, *b = NULL;
        if (e->type == QN_JSON_STRING) {
            merges[i] = strdup(e->str);
        } else if (e->type == QN_JSON_ARRAY && e->count == 2 && e->items[0].type == QN_JSON_STRING &&
                   e->items[1].type == QN_JSON_STRING) {
            a = e->items[0].str;
            b = e->items[1].str;
            size_t l = strlen(a) + strlen(b) + 2;
            merges[i] = malloc(l);
            if (merges[i]) snprintf(merges[i], l, "%s %s", a, b);
        } else {
            st = qn_error_set(QUANTA_ERR_CORRUPT, "quanta_model_load: tokenizer.json: merges[%zu] malformed", i);
            goto done;
        }
        if (!merges[i]) {
            st = qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_model_load: no memory for merges");
            goto done;
        }
        mlen[i] = (uint32_t)strlen(merges[i]);
    }
    qn_vocab_src src;
    memset(&src, 0, sizeof src);
    src.n_vocab = n;
    src.text = text;
    src.text_len = len;
    src.types = types;
    src.bos = bos;
    src.eos = eos;
    src.unk = -1;
    src.eot = -1;
    static const char *const eot_names[] = {"<end_of_turn>", "<|eot_id|>", "<|im_end|>", "<|end|>"};
    for (size_t k = 0; k < sizeof eot_names / sizeof *eot_names && src.eot < 0; k++)
        for (int32_t i = 0; i < n && src.eot < 0; i++)
            if (!strcmp(text[i], eot_names[k])) src.eot = i;
    const qn_json *unk = qn_json_get(model, "unk_token");
    if (unk && unk->type == QN_JSON_STRING)
        for (int32_t i = 0; i < n && src.unk < 0; i++)
            if (!strcmp(text[i], unk->str)) src.unk = i;
    if (byte_level) {
        src.kind = QN_TOK_BPE;
        src.n_merges = (int32_t)nm;
        src.merges = (const char *const *)merges;
        src.merge_len = mlen;
        const char *re = find_regex(qn_json_get(root, "pre_tokenizer"), 0);
        src.pre = QN_PRE_GPT2;
        if (re && strstr(re, "\\p{N}{1,3}")) src.pre = QN_PRE_LLAMA3;
        else if (re && strstr(re, "(?i:") && strstr(re, "\\p{N}")) src.pre = QN_PRE_QWEN2;
        /* BOS only when the post-processor's template starts with it. */
        const qn_json *pp = qn_json_get(root, "post_processor");
        const qn_json *single = pp ? qn_json_get(pp, "single") : NULL;
        if (!single && pp) { /* a Sequence of processors */
            const qn_json *procs = qn_json_get(pp, "processors");
            for (size_t i = 0; procs && procs->type == QN_JSON_ARRAY && i < procs->count && !single; i++)
                single = qn_json_get(&procs->items[i], "single");
        }
        if (bos >= 0 && bos < n && single && single->type == QN_JSON_ARRAY && single->count) {
            const qn_json *stk = qn_json_get(&single->items[0], "SpecialToken");
            const qn_json *sid = stk ? qn_json_get(stk, "id") : NULL;
            src.add_bos = sid && sid->type == QN_JSON_STRING && !strcmp(sid->str, text[bos]);
        }
    } else {
        src.kind = QN_TOK_SPM;
        src.scores = scores;
        src.add_bos = bos >= 0;
        src.add_space_prefix = has_prepend(qn_json_get(root, "normalizer"), 0) ||
                               has_prepend(qn_json_get(root, "pre_tokenizer"), 0);
    }
    st = qn_tokenizer_create(&src, out);
    if (!st && src.kind == QN_TOK_SPM) {
        /* Now that text -> id is hashed, give merged tokens their rank scores. */
        qn_tokenizer *t = *out;
        for (size_t i = 0; i < nm; i++) {
            char *sp = strchr(merges[i], ' ');
            if (!sp) continue;
            size_t la = (size_t)(sp - merges[i]), lb = strlen(sp + 1);
            char tmp[1024];
            if (la + lb >= sizeof tmp) continue;
            memcpy(tmp, merges[i], la);
            memcpy(tmp + la, sp + 1, lb);
            int32_t id = qn_strtab_find(&t->vocab, tmp, la + lb);
            if (id >= 0 && t->scores[id] < -1e29f) t->scores[id] = -(float)i;
        }
    }
done:
    if (merges)
        for (size_t i = 0; i < nm; i++) free(merges[i]);
    free(merges);
    free(mlen);
    free(text);
    free(len);
    free(scores);
    free(types);
    qn_json_free(root);
    return st;
}
