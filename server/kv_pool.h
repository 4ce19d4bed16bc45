/*
 * kv_pool.h — the paged KV cache's block allocator: a pool of fixed-size blocks (QS_KV_BLOCK
 * positions each) and a block table per sequence, allocated on demand as a sequence grows and
 * returned when it leaves or is preempted. The scheduler admits, grows and preempts by it.
 *
 * Prefix sharing: blocks are reference counted. A full block of prompt positions, once computed,
 * may be published under the hash of its tokens and of every token before it (a chain: block j's
 * hash covers tokens [0, 16 (j + 1))). A later sequence whose prompt starts with the same tokens
 * attaches the published blocks (their count goes up) instead of computing them again. Shared
 * blocks are never written: only whole blocks that lie before a sequence's first computed
 * position are shared, and a sequence writes only at and after that position. A block whose
 * last holder leaves keeps its content and hash in an LRU list, still found by lookups, until
 * the pool needs a block and no blank one is left (then the least recently released is evicted).
 * A hash match is confirmed against the block's own tokens, so a false share needs a 64-bit
 * collision of the chain and identical tokens in the block.
 */
#ifndef QUANTA_SERVER_KV_POOL_H
#define QUANTA_SERVER_KV_POOL_H

#include <stdint.h>

#define QS_KV_BLOCK 16

typedef struct qs_kv_pool {
    int64_t total, used;    /* blocks; used: held by at least one sequence */
    int64_t held;           /* table entries that hold a block: used + the blocks saved by sharing */
    int32_t *free_list;     /* stack of blank blocks (no published content) */
    int64_t n_free;         /* blank blocks */
    int n_seq;
    int32_t **table;        /* per sequence: its block ids in position order (-1: released) */
    int64_t *n_blocks, *cap;
    /* sharing */
    int32_t *ref;           /* holders per block */
    uint64_t *hash;         /* published chain hash, 0 = none */
    int32_t *tokens;        /* [total][QS_KV_BLOCK] a published block's own tokens */
    int32_t *bucket, *hnext;/* hash table: bucket heads (mask + 1 of them) and chains, -1 ends */
    uint64_t mask;
    int32_t *lru_prev, *lru_next, lru_head, lru_tail; /* released published blocks, oldest first */
    int64_t n_lru;
    uint64_t evictions;     /* published blocks whose content was dropped for a new block */
} qs_kv_pool;

/* total blocks shared by n_seq sequences; returns 0 on success, -1 out of memory. */
int qs_kv_pool_init(qs_kv_pool *p, int64_t total, int n_seq);
void qs_kv_pool_destroy(qs_kv_pool *p);
/* Blocks that hold `positions` positions. */
int64_t qs_kv_blocks_for(int64_t positions);
/* Blocks a sequence can still be given: blank ones and released published ones. */
int64_t qs_kv_pool_free(const qs_kv_pool *p);
/* Gives sequence seq blocks for `positions` positions; 0 when the pool has too few (nothing
 * taken then), 1 on success. */
int qs_kv_pool_grow(qs_kv_pool *p, int seq, int64_t positions);
/* Returns every block of seq to the pool (shared ones stay with their other holders). */
void qs_kv_pool_free_seq(qs_kv_pool *p, int seq);
/* Returns the blocks of seq that hold only positions before `position` (a sliding window has
 * left them); their table entries become -1, later entries keep their places. */
void qs_kv_pool_release_before(qs_kv_pool *p, int seq, int64_t position);

/* The chain hash of block j from the previous block's hash (0 for block 0) and its tokens. */
uint64_t qs_kv_block_hash(uint64_t prev, const int32_t *tokens);
/* The published block with this hash and these QS_KV_BLOCK tokens, or -1. */
int32_t qs_kv_pool_lookup(const qs_kv_pool *p, uint64_t hash, const int32_t *tokens);
/* Sequence seq (holding no blocks) starts with n table entries: blocks[j] (found by lookup; its
 * holder count goes up) or -1 (a position its sliding window no longer covers). Returns 1, or 0
 * out of memory (nothing attached). */
int qs_kv_pool_attach(qs_kv_pool *p, int seq, const int32_t *blocks, int64_t n);
/* Publishes block j of seq (computed, all QS_KV_BLOCK positions from `tokens`) under hash, unless
 * it is already published or another block has that content. */
void qs_kv_pool_publish(qs_kv_pool *p, int seq, int64_t j, uint64_t hash, const int32_t *tokens);

#endif
