/*
 * tokenizer.c — the vocabulary (text <-> id), special-token splitting, decoding, and the
 * SentencePiece-style encoder (llama.cpp's SPM: merge the adjacent pair whose merged text is a
 * token of highest score, ties to the left; unknown characters fall back to <0xNN> byte
 * tokens). The byte-level BPE encoder is in tokenizer_bpe.c.
 */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "tokenizer_internal.h"

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static quanta_status table_build(qn_strtab *t, int32_t n, const char *const *text, const uint32_t *len,
                                 const char *what) {
    size_t total = 0;
    for (int32_t i = 0; i < n; i++) {
        if (!text[i] && len[i]) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "tokenizer: %s %d is NULL", what, i);
        if (!qn_add_size(total, len[i], &total))
            return qn_error_set(QUANTA_ERR_OVERFLOW, "tokenizer: %s texts too long", what);
    }
    t->n = n;
    t->arena = malloc(total + 1);
    t->off = malloc(((size_t)n + 1) * sizeof *t->off);
    size_t cap = 16;
    while (cap < (size_t)n * 2) cap <<= 1;
    t->slots = malloc(cap * sizeof *t->slots);
    if (!t->arena || !t->off || !t->slots)
        return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "tokenizer: no memory for %d %s", n, what);
    t->mask = cap - 1;
    for (size_t i = 0; i < cap; i++) t->slots[i] = -1;
    size_t o = 0;
    for (int32_t i = 0; i < n; i++) {
        t->off[i] = o;
        if (len[i]) memcpy(t->arena + o, text[i], len[i]);
        o += len[i];
    }
    t->off[n] = o;
    /* First occurrence wins for duplicate texts (as llama.cpp's map insertion keeps the last;
     * duplicates only occur among unused/control tokens, so the choice does not matter). */
    for (int32_t i = 0; i < n; i++) {
        size_t h = hash_bytes(t->arena + t->off[i], t->off[i + 1] - t->off[i]) & t->mask;
        int dup = 0;
        while (t->slots[h] >= 0) {
            int32_t j = t->slots[h];
            if (t->off[j + 1] - t->off[j] == t->off[i + 1] - t->off[i] &&
                !memcmp(t->arena + t->off[j], t->arena + t->off[i], t->off[i + 1] - t->off[i])) {
                dup = 1;
                break;
            }
            h = (h + 1) & t->mask;
        }
        if (!dup) t->slots[h] = i;
    }
    return QUANTA_OK;
}

int32_t qn_strtab_find(const qn_strtab *t, const char *s, size_t n) {
    if (!t->slots) return -1;
    size_t h = hash_bytes(s, n) & t->mask;
    while (t->slots[h] >= 0) {
        int32_t j = t->slots[h];
        if (t->off[j + 1] - t->off[j] == n && !memcmp(t->arena + t->off[j], s, n)) return j;
        h = (h + 1) & t->mask;
    }
    return -1;
}

static void table_free(qn_strtab *t) {
    free(t->arena);
    free(t->off);
    free(t->slots);
}

void qn_tokenizer_destroy(qn_tokenizer *t) {
    if (!t) return;
    table_free(&t->vocab);
    table_free(&t->merges);
    free(t->scores);
    free(t->types);
    free(t->special_len);
    free(t);
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

quanta_status qn_tokenizer_create(const qn_vocab_src *src, qn_tokenizer **out) {
    if (!src || !out) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_tokenizer_create: NULL argument");
    *out = NULL;
    if (src->n_vocab <= 0 || !src->text || !src->text_len)
        return qn_error_set(QUANTA_ERR_CORRUPT, "tokenizer: empty vocabulary");
    qn_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "tokenizer: no memory");
    t->kind = src->kind;
    t->bos = src->bos;
    t->eos = src->eos;
    t->eot = src->eot;
    t->unk = src->unk;
    t->add_bos = src->add_bos;
    t->add_space_prefix = src->add_space_prefix;
    t->pre = src->pre;
    int32_t n = src->n_vocab;
    quanta_status st = table_build(&t->vocab, n, src->text, src->text_len, "token");
    if (st) goto fail;
    t->scores = malloc((size_t)n * sizeof *t->scores);
    t->types = malloc((size_t)n * sizeof *t->types);
    if (!t->scores || !t->types) {
        st = qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "tokenizer: no memory");
        goto fail;
    }
    for (int32_t i = 0; i < n; i++) {
        t->scores[i] = src->scores ? src->scores[i] : 0.0f;
        t->types[i] = src->types ? src->types[i] : QN_TT_NORMAL;
    }
    int32_t *specials[] = {&t->bos, &t->eos, &t->eot, &t->unk};
    for (int k = 0; k < 4; k++)
        if (*specials[k] >= n) *specials[k] = -1;
    if (src->kind == QN_TOK_BPE) {
        if (src->n_merges < 0 || (src->n_merges && (!src->merges || !src->merge_len))) {
            st = qn_error_set(QUANTA_ERR_CORRUPT, "tokenizer: bad merge list");
            goto fail;
        }
        if (src->n_merges && (st = table_build(&t->merges, src->n_merges, src->merges, src->merge_len, "merge")))
            goto fail;
        qn_bpe_byte_map(t);
    } else {
        for (int b = 0; b < 256; b++) t->byte_tok[b] = -1;
        for (int32_t i = 0; i < n; i++) {
            const char *s = t->vocab.arena + t->vocab.off[i];
            size_t l = t->vocab.off[i + 1] - t->vocab.off[i];
            if (t->types[i] == QN_TT_BYTE && l == 6 && !memcmp(s, "<0x", 3) && s[5] == '>' && hexval(s[3]) >= 0 &&
                hexval(s[4]) >= 0)
                t->byte_tok[hexval(s[3]) * 16 + hexval(s[4])] = i;
        }
    }
    /* Lengths of the texts of tokens matched before the encoder runs (longest first). */
    size_t nl = 0;
    int32_t lens[64];
    for (int32_t i = 0; i < n; i++) {
        int ty = t->types[i];
        if (ty != QN_TT_CONTROL && ty != QN_TT_USER_DEFINED) continue;
        int32_t l = (int32_t)(t->vocab.off[i + 1] - t->vocab.off[i]);
        if (l <= 0) continue;
        size_t k = 0;
        while (k < nl && lens[k] != l) k++;
        if (k == nl && nl < 64) lens[nl++] = l;
    }
    for (size_t a = 0; a < nl; a++)
        for (size_t b = a + 1; b < nl; b++)
            if (lens[b] > lens[a]) {
                int32_t x = lens[a];
                lens[a] = lens[b];
                lens[b] = x;
            }
    t->n_special_len = (int32_t)nl;
    t->special_len = malloc((nl ? nl : 1) * sizeof *t->special_len);
    if (!t->special_len) {
        st = qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "tokenizer: no memory");
        goto fail;
    }
    memcpy(t->special_len, lens, nl * sizeof *lens);
    *out = t;
    return QUANTA_OK;
fail:
    qn_tokenizer_destroy(t);
    return st;
}

int32_t qn_tokenizer_n_vocab(const qn_tokenizer *t) { return t->vocab.n; }
int qn_tokenizer_add_bos(const qn_tokenizer *t) { return t->add_bos && t->bos >= 0; }
qn_tok_kind qn_tokenizer_kind(const qn_tokenizer *t) { return t->kind; }
int32_t qn_tokenizer_special(const qn_tokenizer *t, int which) {
    switch (which) {
    case 0: return t->bos;
    case 1: return t->eos;
    case 2: return t->eot;
    default: return t->unk;
    }
}

/* ----------------------------------------------------------- output list */

quanta_status qn_ids_push(qn_ids *v, int32_t id) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 64;
        int32_t *p = realloc(v->ids, cap * sizeof *p);
        if (!p) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_model_tokenize: no memory");
        v->ids = p;
        v->cap = cap;
    }
    v->ids[v->n++] = id;
    return QUANTA_OK;
}

/* ------------------------------------------------------------ SPM encode */

typedef struct spm_sym {
    int32_t prev, next;
    size_t start, n;
} spm_sym;

typedef struct spm_bigram {
    int32_t left, right;
    float score;
    size_t size;
} spm_bigram;

typedef struct spm_heap {
    spm_bigram *a;
    size_t n, cap;
} spm_heap;

/* a ranks before b: higher score, then leftmost (llama.cpp's comparator). */
static int bigram_before(const spm_bigram *a, const spm_bigram *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static quanta_status heap_push(spm_heap *h, spm_bigram b) {
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        spm_bigram *p = realloc(h->a, cap * sizeof *p);
        if (!p) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_model_tokenize: no memory");
        h->a = p;
        h->cap = cap;
    }
    size_t i = h->n++;
    h->a[i] = b;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!bigram_before(&h->a[i], &h->a[p])) break;
        spm_bigram x = h->a[i];
        h->a[i] = h->a[p];
        h->a[p] = x;
        i = p;
    }
    return QUANTA_OK;
}

static spm_bigram heap_pop(spm_heap *h) {
    spm_bigram top = h->a[0];
    h->a[0] = h->a[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && bigram_before(&h->a[l], &h->a[m])) m = l;
        if (r < h->n && bigram_before(&h->a[r], &h->a[m])) m = r;
        if (m == i) break;
        spm_bigram x = h->a[i];
        h->a[i] = h->a[m];
        h->a[m] = x;
        i = m;
    }
    return top;
}

static quanta_status try_bigram(const qn_tokenizer *t, const char *text, const spm_sym *sym, int32_t left,
                                int32_t right, spm_heap *h) {
    if (left < 0 || right < 0) return QUANTA_OK;
    size_t size = sym[left].n + sym[right].n;
    int32_t id = qn_strtab_find(&t->vocab, text + sym[left].start, size);
    if (id < 0 || t->scores[id] < -1e29f) return QUANTA_OK; /* -1e30: never merged into (tokenizer_json.c) */
    spm_bigram b = {left, right, t->scores[id], size};
    return heap_push(h, b);
}

static size_t utf8_len(unsigned char c) {
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0) return 2;
    if ((c & 0xF0) == 0xE0) return 3;
    if ((c & 0xF8) == 0xF0) return 4;
    return 1;
}

static quanta_status spm_encode(const qn_tokenizer *t, const char *text, size_t len, qn_ids *out) {
    if (len == 0) return QUANTA_OK;
    spm_sym *sym = malloc(len * sizeof *sym);
    if (!sym) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_model_tokenize: no memory");
    int32_t ns = 0;
    for (size_t off = 0; off < len;) {
        size_t n = utf8_len((unsigned char)text[off]);
        if (n > len - off) n = len - off;
        sym[ns].start = off;
        sym[ns].n = n;
        sym[ns].prev = ns - 1;
        off += n;
        sym[ns].next = off == len ? -1 : ns + 1;
        ns++;
    }
    spm_heap h = {0};
    quanta_status st = QUANTA_OK;
    for (int32_t i = 1; i < ns && !st; i++) st = try_bigram(t, text, sym, i - 1, i, &h);
    while (!st && h.n) {
        spm_bigram b = heap_pop(&h);
        spm_sym *l = &sym[b.left], *r = &sym[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size) continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) sym[r->next].prev = b.left;
        st = try_bigram(t, text, sym, l->prev, b.left, &h);
        if (!st) st = try_bigram(t, text, sym, b.left, l->next, &h);
    }
    for (int32_t i = 0; i != -1 && !st; i = sym[i].next) {
        int32_t id = qn_strtab_find(&t->vocab, text + sym[i].start, sym[i].n);
        if (id >= 0) {
            st = qn_ids_push(out, id);
            continue;
        }
        /* Merged symbols are always tokens, so only single characters reach here. */
        for (size_t k = 0; k < sym[i].n && !st; k++) {
            int32_t bt = t->byte_tok[(unsigned char)text[sym[i].start + k]];
            if (bt < 0) bt = t->unk;
            if (bt >= 0) st = qn_ids_push(out, bt);
        }
    }
    free(h.a);
    free(sym);
    return st;
}

/* Spaces become U+2581 '▁'; a leading one is added when the model wants it. */
static quanta_status spm_encode_fragment(const qn_tokenizer *t, const char *text, size_t len, int prefix_space,
                                         qn_ids *out) {
    size_t spaces = prefix_space ? 1 : 0;
    for (size_t i = 0; i < len; i++) spaces += text[i] == ' ';
    size_t n;
    if (!qn_mul_size(spaces, 2, &n) || !qn_add_size(n, len + 1, &n))
        return qn_error_set(QUANTA_ERR_OVERFLOW, "quanta_model_tokenize: text too long");
    char *buf = malloc(n);
    if (!buf) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_model_tokenize: no memory");
    size_t o = 0;
    if (prefix_space) {
        memcpy(buf, "\xe2\x96\x81", 3);
        o = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(buf + o, "\xe2\x96\x81", 3);
            o += 3;
        } else {
            buf[o++] = text[i];
        }
    }
    quanta_status st = spm_encode(t, buf, o, out);
    free(buf);
    return st;
}

/* --------------------------------------------------------- whole encode */

/* Longest special token starting at text[i] (leftmost-longest, as HF's added-token matcher). */
static int32_t special_at(const qn_tokenizer *t, const char *text, size_t len, size_t i, int parse_special) {
    for (int32_t k = 0; k < t->n_special_len; k++) {
        size_t l = (size_t)t->special_len[k];
        if (l > len - i) continue;
        int32_t id = qn_strtab_find(&t->vocab, text + i, l);
        if (id < 0) continue;
        int ty = t->types[id];
        if (ty == QN_TT_USER_DEFINED || (parse_special && ty == QN_TT_CONTROL)) return id;
    }
    return -1;
}

quanta_status qn_tokenizer_encode(const qn_tokenizer *t, const char *text, size_t len, int add_bos,
                                  int parse_special, int32_t **out, size_t *n_out) {
    *out = NULL;
    *n_out = 0;
    qn_ids ids = {0};
    quanta_status st = QUANTA_OK;
    if (add_bos && t->add_bos && t->bos >= 0) st = qn_ids_push(&ids, t->bos);
    int prev_special = 1;
    size_t frag = 0;
    for (size_t i = 0; i <= len && !st;) {
        int32_t sp = i < len ? special_at(t, text, len, i, parse_special) : -1;
        if (sp < 0 && i < len) {
            i++;
            continue;
        }
        if (i > frag) {
            if (t->kind == QN_TOK_SPM)
                st = spm_encode_fragment(t, text + frag, i - frag, t->add_space_prefix && prev_special, &ids);
            else
                st = qn_bpe_encode(t, text + frag, i - frag, &ids);
            prev_special = 0;
        }
        if (st || sp < 0) break;
        st = qn_ids_push(&ids, sp);
        prev_special = 1;
        i += t->vocab.off[sp + 1] - t->vocab.off[sp];
        frag = i;
    }
    if (st) {
        free(ids.ids);
        return st;
    }
    *out = ids.ids;
    *n_out = ids.n;
    return QUANTA_OK;
}

/* --------------------------------------------------------------- decode */

quanta_status qn_tokenizer_piece(const qn_tokenizer *t, int32_t id, int special, char *buf, size_t cap,
                                 size_t *len) {
    if (id < 0 || id >= t->vocab.n)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_token_to_piece: token %d outside [0, %d)", id,
                            t->vocab.n);
    const char *s = t->vocab.arena + t->vocab.off[id];
    size_t n = t->vocab.off[id + 1] - t->vocab.off[id];
    int ty = t->types[id];
    char tmp[8];
    size_t o = 0;
    const char *src = s;
    size_t srcn = n;
    if (ty == QN_TT_CONTROL || ty == QN_TT_UNUSED) {
        if (!special) srcn = 0;
    } else if (t->kind == QN_TOK_SPM && ty == QN_TT_BYTE && n == 6) {
        tmp[0] = (char)(hexval(s[3]) * 16 + hexval(s[4]));
        src = tmp;
        srcn = 1;
    } else if (t->kind == QN_TOK_BPE && ty != QN_TT_USER_DEFINED) {
        return qn_bpe_piece(t, s, n, buf, cap, len);
    } else if (t->kind == QN_TOK_SPM) {
        /* '▁' back to ' '. */
        size_t need = 0;
        for (size_t i = 0; i < n;) {
            if (i + 3 <= n && !memcmp(s + i, "\xe2\x96\x81", 3)) {
                if (need < cap && buf) buf[need] = ' ';
                i += 3;
            } else {
                if (need < cap && buf) buf[need] = s[i];
                i++;
            }
            need++;
        }
        *len = need;
        if (need > cap)
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_token_to_piece: buffer of %zu bytes, need %zu",
                                cap, need);
        return QUANTA_OK;
    }
    *len = srcn;
    if (srcn > cap)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_token_to_piece: buffer of %zu bytes, need %zu", cap,
                            srcn);
    if (srcn) memcpy(buf + o, src, srcn);
    return QUANTA_OK;
}
