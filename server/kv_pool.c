/* kv_pool.c — block allocator of the paged KV cache (kv_pool.h). */
#include <stdlib.h>

#include "kv_pool.h"

int qs_kv_pool_init(qs_kv_pool *p, int64_t total, int n_seq) {
    p->total = total;
    p->used = 0;
    p->n_seq = n_seq;
    p->free_list = malloc((size_t)(total > 0 ? total : 1) * sizeof *p->free_list);
    p->table = calloc((size_t)n_seq, sizeof *p->table);
    p->n_blocks = calloc((size_t)n_seq, sizeof *p->n_blocks);
    p->cap = calloc((size_t)n_seq, sizeof *p->cap);
    if (!p->free_list || !p->table || !p->n_blocks || !p->cap) return -1;
    /* Lowest ids on top of the stack. */
    for (int64_t i = 0; i < total; i++) p->free_list[i] = (int32_t)(total - 1 - i);
    p->n_free = total;
    return 0;
}

void qs_kv_pool_destroy(qs_kv_pool *p) {
    for (int i = 0; p->table && i < p->n_seq; i++) free(p->table[i]);
    free(p->table);
    free(p->free_list);
    free(p->n_blocks);
    free(p->cap);
}

int64_t qs_kv_blocks_for(int64_t positions) { return (positions + QS_KV_BLOCK - 1) / QS_KV_BLOCK; }

int64_t qs_kv_pool_free(const qs_kv_pool *p) { return p->n_free; }

int qs_kv_pool_grow(qs_kv_pool *p, int seq, int64_t positions) {
    int64_t need = qs_kv_blocks_for(positions) - p->n_blocks[seq];
    if (need <= 0) return 1;
    if (need > p->n_free) return 0;
    if (p->n_blocks[seq] + need > p->cap[seq]) {
        int64_t cap = p->cap[seq] ? p->cap[seq] : 8;
        while (cap < p->n_blocks[seq] + need) cap *= 2;
        int32_t *t = realloc(p->table[seq], (size_t)cap * sizeof *t);
        if (!t) return 0;
        p->table[seq] = t;
        p->cap[seq] = cap;
    }
    for (int64_t i = 0; i < need; i++) p->table[seq][p->n_blocks[seq]++] = p->free_list[--p->n_free];
    p->used += need;
    return 1;
}

void qs_kv_pool_free_seq(qs_kv_pool *p, int seq) {
    for (int64_t i = p->n_blocks[seq]; i > 0; i--)
        if (p->table[seq][i - 1] >= 0) {
            p->free_list[p->n_free++] = p->table[seq][i - 1];
            p->used--;
        }
    p->n_blocks[seq] = 0;
}

void qs_kv_pool_release_before(qs_kv_pool *p, int seq, int64_t position) {
    for (int64_t j = 0; j < p->n_blocks[seq] && (j + 1) * QS_KV_BLOCK <= position; j++)
        if (p->table[seq][j] >= 0) {
            p->free_list[p->n_free++] = p->table[seq][j];
            p->table[seq][j] = -1;
            p->used--;
        }
}
