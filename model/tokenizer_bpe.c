/*
 * tokenizer_bpe.c — byte-level BPE (GPT-2 style, tokenizer.ggml.model = "gpt2"): text is split
 * by a pre-tokenizer, each piece's bytes are mapped to printable characters (GPT-2's
 * bytes_to_unicode), and the adjacent pair of lowest merge rank is merged until none is left.
 *
 * The pre-tokenizers follow the GPT-2, LLaMA 3 and Qwen2 regular expressions, written out by
 * hand. Unicode classes are approximated: ASCII and common digit blocks are numbers, listed
 * space characters are spaces, punctuation/symbol blocks are "other", every other non-ASCII
 * code point counts as a letter. Text in those scripts still round-trips exactly; only the
 * split points (hence some token ids) may differ from the reference in rare cases.
 */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "tokenizer_internal.h"

void qn_bpe_byte_map(qn_tokenizer *t) {
    int n = 0;
    for (int i = 0; i < 512; i++) t->cp_to_byte[i] = -1;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        t->byte_to_cp[b] = (uint16_t)(printable ? b : 256 + n++);
        t->cp_to_byte[t->byte_to_cp[b]] = (int16_t)b;
    }
    for (int b = 0; b < 256; b++) {
        char s[3];
        unsigned cp = t->byte_to_cp[b];
        size_t l;
        if (cp < 0x80) {
            s[0] = (char)cp;
            l = 1;
        } else {
            s[0] = (char)(0xC0 | (cp >> 6));
            s[1] = (char)(0x80 | (cp & 0x3F));
            l = 2;
        }
        t->byte_tok[b] = qn_strtab_find(&t->vocab, s, l);
    }
}

/* ------------------------------------------------------------ classes */

typedef struct cpinfo {
    uint32_t cp;
    size_t off, len;
} cpinfo;

static size_t decode_utf8(const unsigned char *s, size_t n, uint32_t *cp) {
    unsigned c = s[0];
    size_t l = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (l == 0 || l > n) {
        *cp = 0xFFFD;
        return 1;
    }
    uint32_t v = l == 1 ? c : l == 2 ? (c & 0x1F) : l == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t i = 1; i < l; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = 0xFFFD;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3F);
    }
    *cp = v;
    return l;
}

static int is_space(uint32_t c) {
    return (c >= 9 && c <= 13) || c == 32 || c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
           c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}
static int is_digit(uint32_t c) {
    return (c >= '0' && c <= '9') || (c >= 0x660 && c <= 0x669) || (c >= 0x6F0 && c <= 0x6F9) ||
           (c >= 0x966 && c <= 0x96F) || (c >= 0xFF10 && c <= 0xFF19);
}
static int is_letter(uint32_t c) {
    if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (c < 0xC0) return c == 0xAA || c == 0xB5 || c == 0xBA;
    if (c == 0xD7 || c == 0xF7 || is_space(c) || is_digit(c)) return 0;
    if ((c >= 0x2000 && c <= 0x2BFF) || (c >= 0x3000 && c <= 0x303F) || (c >= 0xFE30 && c <= 0xFE4F) ||
        (c >= 0xFF00 && c <= 0xFF20) || (c >= 0xFF3B && c <= 0xFF40) || (c >= 0xFF5B && c <= 0xFF65) ||
        (c >= 0x1F000 && c <= 0x1FAFF) || c == 0xFFFD)
        return 0;
    return 1;
}
static int is_nl(uint32_t c) { return c == '\r' || c == '\n'; }
static uint32_t lower(uint32_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* Contractions 's 't 're 've 'm 'll 'd: length matched at i, 0 if none. */
static size_t contraction(const cpinfo *c, size_t n, size_t i, int icase) {
    if (c[i].cp != '\'' || i + 1 >= n) return 0;
    uint32_t a = icase ? lower(c[i + 1].cp) : c[i + 1].cp;
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if (i + 2 >= n) return 0;
    uint32_t b = icase ? lower(c[i + 2].cp) : c[i + 2].cp;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
}

/* \s+(?!\S) then \s+ : a whitespace run, leaving its last char to the next word when a
 * non-space follows. */
static size_t space_run(const cpinfo *c, size_t n, size_t i) {
    size_t j = i;
    while (j < n && is_space(c[j].cp)) j++;
    if (j < n && j - i >= 2) return j - 1 - i;
    return j - i;
}

static size_t next_word_gpt2(const cpinfo *c, size_t n, size_t i) {
    size_t l = contraction(c, n, i, 0);
    if (l) return l;
    size_t k = i + (c[i].cp == ' ' && i + 1 < n ? 1 : 0);
    uint32_t x = c[k].cp;
    size_t j = k;
    if (is_letter(x)) {
        while (j < n && is_letter(c[j].cp)) j++;
        return j - i;
    }
    if (is_digit(x)) {
        while (j < n && is_digit(c[j].cp)) j++;
        return j - i;
    }
    if (!is_space(x)) {
        while (j < n && !is_space(c[j].cp) && !is_letter(c[j].cp) && !is_digit(c[j].cp)) j++;
        return j - i;
    }
    return space_run(c, n, i);
}

static size_t next_word_llama3(const cpinfo *c, size_t n, size_t i, int max_digits) {
    size_t l = contraction(c, n, i, 1);
    if (l) return l;
    uint32_t x = c[i].cp;
    size_t j;
    /* [^\r\n\p{L}\p{N}]?\p{L}+ */
    if (is_letter(x) || (!is_nl(x) && !is_digit(x) && i + 1 < n && is_letter(c[i + 1].cp))) {
        j = i + 1;
        while (j < n && is_letter(c[j].cp)) j++;
        return j - i;
    }
    if (is_digit(x)) { /* \p{N}{1,3} (Qwen2: one digit) */
        j = i;
        while (j < n && is_digit(c[j].cp) && (int)(j - i) < max_digits) j++;
        return j - i;
    }
    /*  ?[^\s\p{L}\p{N}]+[\r\n]* */
    size_t k = i + (x == ' ' && i + 1 < n ? 1 : 0);
    uint32_t y = c[k].cp;
    if (!is_space(y) && !is_letter(y) && !is_digit(y)) {
        j = k;
        while (j < n && !is_space(c[j].cp) && !is_letter(c[j].cp) && !is_digit(c[j].cp)) j++;
        while (j < n && is_nl(c[j].cp)) j++;
        return j - i;
    }
    /* \s*[\r\n]+ : up to the last newline of the whitespace run */
    j = i;
    size_t last_nl = (size_t)-1;
    while (j < n && is_space(c[j].cp)) {
        if (is_nl(c[j].cp)) last_nl = j;
        j++;
    }
    if (last_nl != (size_t)-1) return last_nl + 1 - i;
    return space_run(c, n, i);
}

/* ------------------------------------------------------------ merging */

typedef struct sym {
    size_t start, len; /* in the mapped string */
} sym;

static quanta_status bpe_word(const qn_tokenizer *t, const unsigned char *w, size_t wn, qn_ids *out) {
    /* Map bytes to GPT-2's characters (each 1 or 2 UTF-8 bytes). */
    char *m = malloc(wn * 2 + 1);
    sym *s = malloc(wn * sizeof *s);
    char *key = malloc(wn * 2 + 2);
    if (!m || !s || !key) {
        free(m);
        free(s);
        free(key);
        return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_model_tokenize: no memory");
    }
    size_t ml = 0, ns = 0;
    for (size_t i = 0; i < wn; i++) {
        unsigned cp = t->byte_to_cp[w[i]];
        s[ns].start = ml;
        if (cp < 0x80) {
            m[ml++] = (char)cp;
        } else {
            m[ml++] = (char)(0xC0 | (cp >> 6));
            m[ml++] = (char)(0x80 | (cp & 0x3F));
        }
        s[ns].len = ml - s[ns].start;
        ns++;
    }
    while (ns > 1) {
        int32_t best = -1;
        size_t at = 0;
        for (size_t i = 0; i + 1 < ns; i++) {
            size_t kl = s[i].len + 1 + s[i + 1].len;
            memcpy(key, m + s[i].start, s[i].len);
            key[s[i].len] = ' ';
            memcpy(key + s[i].len + 1, m + s[i + 1].start, s[i + 1].len);
            int32_t r = qn_strtab_find(&t->merges, key, kl);
            if (r >= 0 && (best < 0 || r < best)) {
                best = r;
                at = i;
            }
        }
        if (best < 0) break;
        s[at].len += s[at + 1].len;
        memmove(&s[at + 1], &s[at + 2], (ns - at - 2) * sizeof *s);
        ns--;
    }
    quanta_status st = QUANTA_OK;
    for (size_t i = 0; i < ns && !st; i++) {
        int32_t id = qn_strtab_find(&t->vocab, m + s[i].start, s[i].len);
        if (id >= 0) {
            st = qn_ids_push(out, id);
            continue;
        }
        /* Not a token: its bytes one by one (each mapped char is 1-2 bytes of m). */
        for (size_t o = s[i].start; o < s[i].start + s[i].len && !st;) {
            size_t cl = ((unsigned char)m[o] & 0x80) ? 2 : 1;
            int32_t bid = qn_strtab_find(&t->vocab, m + o, cl);
            if (bid < 0) bid = t->unk;
            if (bid >= 0) st = qn_ids_push(out, bid);
            o += cl;
        }
    }
    free(m);
    free(s);
    free(key);
    return st;
}

quanta_status qn_bpe_encode(const qn_tokenizer *t, const char *text, size_t len, qn_ids *out) {
    if (len == 0) return QUANTA_OK;
    cpinfo *c = malloc(len * sizeof *c);
    if (!c) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_model_tokenize: no memory");
    size_t n = 0;
    for (size_t o = 0; o < len;) {
        size_t l = decode_utf8((const unsigned char *)text + o, len - o, &c[n].cp);
        c[n].off = o;
        c[n].len = l;
        n++;
        o += l;
    }
    quanta_status st = QUANTA_OK;
    for (size_t i = 0; i < n && !st;) {
        size_t w = t->pre == QN_PRE_GPT2 ? next_word_gpt2(c, n, i)
                                         : next_word_llama3(c, n, i, t->pre == QN_PRE_QWEN2 ? 1 : 3);
        if (w == 0) w = 1;
        size_t b0 = c[i].off, b1 = c[i + w - 1].off + c[i + w - 1].len;
        st = bpe_word(t, (const unsigned char *)text + b0, b1 - b0, out);
        i += w;
    }
    free(c);
    return st;
}

quanta_status qn_bpe_piece(const qn_tokenizer *t, const char *s, size_t n, char *buf, size_t cap, size_t *len) {
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t l = decode_utf8((const unsigned char *)s + i, n - i, &cp);
        if (cp < 512 && t->cp_to_byte[cp] >= 0) {
            if (o < cap && buf) buf[o] = (char)t->cp_to_byte[cp];
            o++;
        } else {
            for (size_t k = 0; k < l; k++, o++)
                if (o < cap && buf) buf[o] = s[i + k];
        }
        i += l;
    }
    *len = o;
    if (o > cap)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_token_to_piece: buffer of %zu bytes, need %zu", cap, o);
    return QUANTA_OK;
}
