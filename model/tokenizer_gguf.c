/* tokenizer_gguf.c — builds the tokenizer from a GGUF file's tokenizer.ggml.* metadata. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "tokenizer_internal.h"

static int32_t get_id(const qn_gguf *g, const char *key, int32_t def) {
    int64_t v;
    if (!qn_gguf_has(g, key) || qn_gguf_get_i64(g, key, &v) || v < 0 || v > INT32_MAX) return def;
    return (int32_t)v;
}

static int get_flag(const qn_gguf *g, const char *key, int def) {
    int v;
    if (!qn_gguf_has(g, key) || qn_gguf_get_bool(g, key, &v)) return def;
    return v != 0;
}

/* Reads a string array into pointer/length arrays pointing into the mapping. */
static quanta_status read_strs(const qn_gguf *g, const char *key, uint64_t *count, const char ***ptrs,
                               uint32_t **lens) {
    qn_gguf_type et;
    quanta_status st = qn_gguf_get_arr(g, key, &et, count);
    if (st) return qn_error_set(QUANTA_ERR_CORRUPT, "quanta_model_load: tokenizer array '%s' is missing", key);
    if (et != QN_GGUF_STRING) return qn_error_set(QUANTA_ERR_CORRUPT, "quanta_model_load: '%s' is not a string array", key);
    if (*count == 0 || *count > (1u << 24))
        return qn_error_set(QUANTA_ERR_CORRUPT, "quanta_model_load: '%s' has %llu entries", key,
                            (unsigned long long)*count);
    *ptrs = malloc(*count * sizeof **ptrs);
    *lens = malloc(*count * sizeof **lens);
    if (!*ptrs || !*lens) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_model_load: no memory for '%s'", key);
    for (uint64_t i = 0; i < *count; i++) {
        qn_gguf_str s;
        if ((st = qn_gguf_get_arr_str(g, key, i, &s))) return qn_error_set(st, "quanta_model_load: '%s'[%llu]", key, (unsigned long long)i);
        if (s.len > 4096)
            return qn_error_set(QUANTA_ERR_CORRUPT, "quanta_model_load: '%s'[%llu] is %llu bytes long", key,
                                (unsigned long long)i, (unsigned long long)s.len);
        (*ptrs)[i] = s.ptr;
        (*lens)[i] = (uint32_t)s.len;
    }
    return QUANTA_OK;
}

static quanta_status read_nums(const qn_gguf *g, const char *key, uint64_t n, double **out) {
    qn_gguf_type et;
    uint64_t count;
    quanta_status st = qn_gguf_get_arr(g, key, &et, &count);
    if (st) return qn_error_set(st, "quanta_model_load: tokenizer array '%s' is missing", key);
    if (count != n)
        return qn_error_set(QUANTA_ERR_CORRUPT, "quanta_model_load: '%s' has %llu entries for %llu tokens", key,
                            (unsigned long long)count, (unsigned long long)n);
    *out = malloc(n * sizeof **out);
    if (!*out) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_model_load: no memory for '%s'", key);
    for (uint64_t i = 0; i < n; i++)
        if ((st = qn_gguf_get_arr_f64(g, key, i, &(*out)[i])))
            return qn_error_set(st, "quanta_model_load: '%s'[%llu] is not a number", key, (unsigned long long)i);
    return QUANTA_OK;
}

static int32_t find_text(const char *const *text, const uint32_t *len, uint64_t n, const char *want) {
    size_t wl = strlen(want);
    for (uint64_t i = 0; i < n; i++)
        if (len[i] == wl && !memcmp(text[i], want, wl)) return (int32_t)i;
    return -1;
}

quanta_status qn_tokenizer_from_gguf(const qn_gguf *g, qn_tokenizer **out) {
    *out = NULL;
    qn_gguf_str model;
    if (qn_gguf_get_str(g, "tokenizer.ggml.model", &model))
        return qn_error_set(QUANTA_ERR_CORRUPT, "quanta_model_load: 'tokenizer.ggml.model' is missing");
    qn_vocab_src src;
    memset(&src, 0, sizeof src);
    if (model.len == 5 && !memcmp(model.ptr, "llama", 5)) src.kind = QN_TOK_SPM;
    else if (model.len == 4 && !memcmp(model.ptr, "gpt2", 4)) src.kind = QN_TOK_BPE;
    else
        return qn_error_set(QUANTA_ERR_UNSUPPORTED, "quanta_model_load: tokenizer '%.*s' (supported: llama, gpt2)",
                            (int)(model.len > 32 ? 32 : model.len), model.ptr);
    const char **text = NULL, **merges = NULL;
    uint32_t *text_len = NULL, *merge_len = NULL;
    double *scores = NULL, *types = NULL;
    float *fscores = NULL;
    int32_t *itypes = NULL;
    uint64_t n = 0, nm = 0;
    quanta_status st = read_strs(g, "tokenizer.ggml.tokens", &n, &text, &text_len);
    if (st) goto done;
    if (qn_gguf_has(g, "tokenizer.ggml.scores")) {
        if ((st = read_nums(g, "tokenizer.ggml.scores", n, &scores))) goto done;
    }
    if (qn_gguf_has(g, "tokenizer.ggml.token_type")) {
        if ((st = read_nums(g, "tokenizer.ggml.token_type", n, &types))) goto done;
    }
    if (src.kind == QN_TOK_BPE) {
        if ((st = read_strs(g, "tokenizer.ggml.merges", &nm, &merges, &merge_len))) goto done;
        qn_gguf_str pre;
        src.pre = QN_PRE_GPT2;
        if (!qn_gguf_get_str(g, "tokenizer.ggml.pre", &pre)) {
            if ((pre.len == 9 && !memcmp(pre.ptr, "llama-bpe", 9)) || (pre.len >= 6 && !memcmp(pre.ptr, "llama3", 6)))
                src.pre = QN_PRE_LLAMA3;
            else if (pre.len == 5 && !memcmp(pre.ptr, "qwen2", 5))
                src.pre = QN_PRE_QWEN2;
        }
    }
    fscores = malloc(n * sizeof *fscores);
    itypes = malloc(n * sizeof *itypes);
    if (!fscores || !itypes) {
        st = qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_model_load: no memory for the vocabulary");
        goto done;
    }
    for (uint64_t i = 0; i < n; i++) {
        fscores[i] = scores ? (float)scores[i] : 0.0f;
        itypes[i] = types ? (int32_t)types[i] : QN_TT_NORMAL;
    }
    src.n_vocab = (int32_t)n;
    src.text = text;
    src.text_len = text_len;
    src.scores = fscores;
    src.types = itypes;
    src.n_merges = (int32_t)nm;
    src.merges = merges;
    src.merge_len = merge_len;
    src.bos = get_id(g, "tokenizer.ggml.bos_token_id", -1);
    src.eos = get_id(g, "tokenizer.ggml.eos_token_id", -1);
    src.unk = get_id(g, "tokenizer.ggml.unknown_token_id", -1);
    src.eot = get_id(g, "tokenizer.ggml.eot_token_id", -1);
    if (src.eot < 0) {
        static const char *const eot_names[] = {"<end_of_turn>", "<|eot_id|>", "<|im_end|>", "<|end|>"};
        for (size_t k = 0; k < sizeof eot_names / sizeof *eot_names && src.eot < 0; k++)
            src.eot = find_text(text, text_len, n, eot_names[k]);
    }
    src.add_bos = get_flag(g, "tokenizer.ggml.add_bos_token", src.kind == QN_TOK_SPM);
    src.add_space_prefix = get_flag(g, "tokenizer.ggml.add_space_prefix", src.kind == QN_TOK_SPM);
    if (src.kind == QN_TOK_BPE) src.add_space_prefix = 0;
    st = qn_tokenizer_create(&src, out);
done:
    free(text);
    free(text_len);
    free(merges);
    free(merge_len);
    free(scores);
    free(types);
    free(fscores);
    free(itypes);
    return st;
}
