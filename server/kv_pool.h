/*
 * kv_pool.h — the paged KV cache's block allocator: a pool of fixed-size blocks (QS_KV_BLOCK
 * positions each) and a block table per sequence, allocated on demand as a sequence grows and
 * returned whole when it leaves or is preempted. The scheduler admits, grows and preempts by it.
 */
#ifndef QUANTA_SERVER_KV_POOL_H
#define QUANTA_SERVER_KV_POOL_H

#include <stdint.h>

#define QS_KV_BLOCK 16

typedef struct qs_kv_pool {
    int64_t total, used;
    int32_t *free_list;     /* stack of free block ids */
    int64_t n_free;
    int n_seq;
    int32_t **table;        /* per sequence: its block ids in position order */
    int64_t *n_blocks, *cap;
} qs_kv_pool;

/* total blocks shared by n_seq sequences; returns 0 on success, -1 out of memory. */
int qs_kv_pool_init(qs_kv_pool *p, int64_t total, int n_seq);
void qs_kv_pool_destroy(qs_kv_pool *p);
/* Blocks that hold `positions` positions. */
int64_t qs_kv_blocks_for(int64_t positions);
int64_t qs_kv_pool_free(const qs_kv_pool *p);
/* Gives sequence seq blocks for `positions` positions; 0 when the pool has too few (nothing
 * taken then), 1 on success. */
int qs_kv_pool_grow(qs_kv_pool *p, int seq, int64_t positions);
/* Returns every block of seq to the pool. */
void qs_kv_pool_free_seq(qs_kv_pool *p, int seq);
/* Returns the blocks of seq that hold only positions before `position` (a sliding window has
 * left them); their table entries become -1, later entries keep their places. */
void qs_kv_pool_release_before(qs_kv_pool *p, int seq, int64_t position);

#endif
