/* kv_pool.c — block allocator of the paged KV cache, with shared published blocks (kv_pool.h). */
#include <stdlib.h>
#include <string.h>

#include "kv_pool.h"

int qs_kv_pool_init(qs_kv_pool *p, int64_t total, int n_seq) {
    memset(p, 0, sizeof *p);
    p->total = total;
    p->n_seq = n_seq;
    size_t nb = total > 0 ? (size_t)total : 1, nbuckets = 1;
    while (nbuckets < 2 * nb) nbuckets *= 2;
    p->mask = nbuckets - 1;
    p->free_list = malloc(nb * sizeof *p->free_list);
    p->table = calloc((size_t)n_seq, sizeof *p->table);
    p->n_blocks = calloc((size_t)n_seq, sizeof *p->n_blocks);
    p->cap = calloc((size_t)n_seq, sizeof *p->cap);
    p->ref = calloc(nb, sizeof *p->ref);
    p->hash = calloc(nb, sizeof *p->hash);
    p->tokens = malloc(nb * QS_KV_BLOCK * sizeof *p->tokens);
    p->bucket = malloc(nbuckets * sizeof *p->bucket);
    p->hnext = malloc(nb * sizeof *p->hnext);
    p->lru_prev = malloc(nb * sizeof *p->lru_prev);
    p->lru_next = malloc(nb * sizeof *p->lru_next);
    if (!p->free_list || !p->table || !p->n_blocks || !p->cap || !p->ref || !p->hash || !p->tokens || !p->bucket ||
        !p->hnext || !p->lru_prev || !p->lru_next)
        return -1;
    for (size_t i = 0; i < nbuckets; i++) p->bucket[i] = -1;
    /* Lowest ids on top of the stack. */
    for (int64_t i = 0; i < total; i++) p->free_list[i] = (int32_t)(total - 1 - i);
    p->n_free = total;
    p->lru_head = p->lru_tail = -1;
    return 0;
}

void qs_kv_pool_destroy(qs_kv_pool *p) {
    for (int i = 0; p->table && i < p->n_seq; i++) free(p->table[i]);
    free(p->table);
    free(p->free_list);
    free(p->n_blocks);
    free(p->cap);
    free(p->ref);
    free(p->hash);
    free(p->tokens);
    free(p->bucket);
    free(p->hnext);
    free(p->lru_prev);
    free(p->lru_next);
}

int64_t qs_kv_blocks_for(int64_t positions) { return (positions + QS_KV_BLOCK - 1) / QS_KV_BLOCK; }

int64_t qs_kv_pool_free(const qs_kv_pool *p) { return p->n_free + p->n_lru; }

/* ------------------------------------------------------------ published blocks */

uint64_t qs_kv_block_hash(uint64_t prev, const int32_t *tokens) {
    /* FNV-1a over the previous hash and the tokens' bytes, then a splitmix64 finaliser. */
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < 8; i++) h = (h ^ ((prev >> (8 * i)) & 0xff)) * 0x100000001b3ull;
    for (int t = 0; t < QS_KV_BLOCK; t++)
        for (int i = 0; i < 4; i++) h = (h ^ (((uint32_t)tokens[t] >> (8 * i)) & 0xff)) * 0x100000001b3ull;
    h ^= h >> 30, h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27, h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h ? h : 1; /* 0 means "not published" */
}

int32_t qs_kv_pool_lookup(const qs_kv_pool *p, uint64_t hash, const int32_t *tokens) {
    for (int32_t b = p->bucket[hash & p->mask]; b >= 0; b = p->hnext[b])
        if (p->hash[b] == hash && !memcmp(p->tokens + (size_t)b * QS_KV_BLOCK, tokens, QS_KV_BLOCK * sizeof *tokens))
            return b;
    return -1;
}

static void unpublish(qs_kv_pool *p, int32_t b) {
    int32_t *pp = &p->bucket[p->hash[b] & p->mask];
    while (*pp != b) pp = &p->hnext[*pp];
    *pp = p->hnext[b];
    p->hash[b] = 0;
}

static void lru_remove(qs_kv_pool *p, int32_t b) {
    if (p->lru_prev[b] >= 0) p->lru_next[p->lru_prev[b]] = p->lru_next[b];
    else p->lru_head = p->lru_next[b];
    if (p->lru_next[b] >= 0) p->lru_prev[p->lru_next[b]] = p->lru_prev[b];
    else p->lru_tail = p->lru_prev[b];
    p->n_lru--;
}

/* A block for a sequence (holder count 1): a blank one, else the least recently released
 * published one, whose content is dropped. The caller checked qs_kv_pool_free. */
static int32_t take_block(qs_kv_pool *p) {
    int32_t b;
    if (p->n_free) b = p->free_list[--p->n_free];
    else {
        b = p->lru_head;
        lru_remove(p, b);
        unpublish(p, b);
        p->evictions++;
    }
    p->ref[b] = 1;
    p->used++;
    p->held++;
    return b;
}

/* One holder lets go of b; with none left it stays findable (published) or becomes blank. */
static void put_block(qs_kv_pool *p, int32_t b) {
    p->held--;
    if (--p->ref[b] > 0) return;
    p->used--;
    if (p->hash[b]) {
        p->lru_next[b] = -1;
        p->lru_prev[b] = p->lru_tail;
        if (p->lru_tail >= 0) p->lru_next[p->lru_tail] = b;
        else p->lru_head = b;
        p->lru_tail = b;
        p->n_lru++;
    } else {
        p->free_list[p->n_free++] = b;
    }
}

static int reserve(qs_kv_pool *p, int seq, int64_t n) {
    if (n <= p->cap[seq]) return 1;
    int64_t cap = p->cap[seq] ? p->cap[seq] : 8;
    while (cap < n) cap *= 2;
    int32_t *t = realloc(p->table[seq], (size_t)cap * sizeof *t);
    if (!t) return 0;
    p->table[seq] = t;
    p->cap[seq] = cap;
    return 1;
}

int qs_kv_pool_attach(qs_kv_pool *p, int seq, const int32_t *blocks, int64_t n) {
    if (!reserve(p, seq, n)) return 0;
    for (int64_t j = 0; j < n; j++) {
        int32_t b = blocks[j];
        p->table[seq][j] = b;
        if (b < 0) continue;
        p->held++;
        if (p->ref[b]++ == 0) {
            lru_remove(p, b);
            p->used++;
        }
    }
    p->n_blocks[seq] = n;
    return 1;
}

void qs_kv_pool_publish(qs_kv_pool *p, int seq, int64_t j, uint64_t hash, const int32_t *tokens) {
    if (j >= p->n_blocks[seq]) return;
    int32_t b = p->table[seq][j];
    if (b < 0 || p->hash[b] || qs_kv_pool_lookup(p, hash, tokens) >= 0) return;
    p->hash[b] = hash;
    memcpy(p->tokens + (size_t)b * QS_KV_BLOCK, tokens, QS_KV_BLOCK * sizeof *tokens);
    p->hnext[b] = p->bucket[hash & p->mask];
    p->bucket[hash & p->mask] = b;
}

/* ------------------------------------------------------------ sequences */

int qs_kv_pool_grow(qs_kv_pool *p, int seq, int64_t positions) {
    int64_t need = qs_kv_blocks_for(positions) - p->n_blocks[seq];
    if (need <= 0) return 1;
    if (need > qs_kv_pool_free(p)) return 0;
    if (!reserve(p, seq, p->n_blocks[seq] + need)) return 0;
    for (int64_t i = 0; i < need; i++) p->table[seq][p->n_blocks[seq]++] = take_block(p);
    return 1;
}

void qs_kv_pool_free_seq(qs_kv_pool *p, int seq) {
    for (int64_t i = p->n_blocks[seq]; i > 0; i--)
        if (p->table[seq][i - 1] >= 0) put_block(p, p->table[seq][i - 1]);
    p->n_blocks[seq] = 0;
}

void qs_kv_pool_release_before(qs_kv_pool *p, int seq, int64_t position) {
    for (int64_t j = 0; j < p->n_blocks[seq] && (j + 1) * QS_KV_BLOCK <= position; j++)
        if (p->table[seq][j] >= 0) {
            put_block(p, p->table[seq][j]);
            p->table[seq][j] = -1;
        }
}
