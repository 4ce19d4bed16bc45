/* tokenizer_internal.h — the tokenizer's tables, shared by tokenizer*.c (internal to model/). */
#ifndef QUANTA_MODEL_TOKENIZER_INTERNAL_H
#define QUANTA_MODEL_TOKENIZER_INTERNAL_H

#include "model_internal.h"

/* Strings in one arena with an open-addressing hash from text to index. */
typedef struct qn_strtab {
    int32_t n;
    char *arena;
    size_t *off;      /* n + 1 offsets */
    int32_t *slots;   /* -1 = empty */
    size_t mask;
} qn_strtab;

int32_t qn_strtab_find(const qn_strtab *t, const char *s, size_t n);

struct qn_tokenizer {
    qn_tok_kind kind;
    qn_strtab vocab;
    qn_strtab merges;   /* BPE: "left right", index = rank */
    float *scores;
    int32_t *types;
    int32_t byte_tok[256];      /* SPM: <0xNN> tokens; BPE: token of each byte's mapped char */
    uint16_t byte_to_cp[256];   /* BPE: GPT-2's bytes_to_unicode */
    int16_t cp_to_byte[512];
    int32_t bos, eos, eot, unk;
    int add_bos, add_space_prefix, pre;
    int32_t *special_len;       /* distinct lengths of control/user-defined texts, descending */
    int32_t n_special_len;
};

typedef struct qn_ids {
    int32_t *ids;
    size_t n, cap;
} qn_ids;

quanta_status qn_ids_push(qn_ids *v, int32_t id);

/* tokenizer_bpe.c */
void qn_bpe_byte_map(qn_tokenizer *t);
quanta_status qn_bpe_encode(const qn_tokenizer *t, const char *text, size_t len, qn_ids *out);
quanta_status qn_bpe_piece(const qn_tokenizer *t, const char *s, size_t n, char *buf, size_t cap, size_t *len);

#endif
