/*
 * test_kv_pool.c — the server's KV block allocator with prefix sharing (server/kv_pool.h), against
 * counts recomputed from the block tables after every operation of a random sequence of grows,
 * shared attaches, publishes, window releases and frees: each block's holder count is the number
 * of table entries naming it, `used` the blocks named at all, `held` the entries, and the free
 * count the rest; a published block is found by its hash and tokens (and not by other tokens);
 * when every sequence has left nothing is held. Then LRU order: released published blocks are
 * evicted least recently released first, and only when no blank block is left.
 */
#include "kv_pool.h"
#include "test_util.h"

#define TOTAL 48
#define NSEQ 5

static void check_counts(const qs_kv_pool *p) {
    int32_t refs[TOTAL] = {0};
    int64_t held = 0, used = 0;
    for (int s = 0; s < NSEQ; s++)
        for (int64_t j = 0; j < p->n_blocks[s]; j++) {
            int32_t b = p->table[s][j];
            if (b < 0) continue;
            ck_assert_int_lt(b, TOTAL);
            refs[b]++;
            held++;
        }
    for (int b = 0; b < TOTAL; b++) {
        ck_assert_int_eq(p->ref[b], refs[b]);
        used += refs[b] > 0;
    }
    ck_assert_int_eq(p->used, used);
    ck_assert_int_eq(p->held, held);
    ck_assert_int_eq(qs_kv_pool_free(p), TOTAL - used);
}

static void block_tokens(int seq_tokens, int64_t j, int32_t *t) {
    for (int i = 0; i < QS_KV_BLOCK; i++) t[i] = seq_tokens * 1000 + (int32_t)j * QS_KV_BLOCK + i;
}

START_TEST(random_operations) {
    qt_rng rng = qt_rng_make(0x6b76);
    qs_kv_pool p;
    ck_assert_int_eq(qs_kv_pool_init(&p, TOTAL, NSEQ), 0);
    /* Sequences draw their tokens from one of 3 "prompts", so equal heads recur. */
    int prompt_of[NSEQ];
    for (int s = 0; s < NSEQ; s++) prompt_of[s] = -1;
    for (int op = 0; op < 4000; op++) {
        int s = (int)(qt_next(&rng) % NSEQ), what = (int)(qt_next(&rng) % 5);
        int32_t tok[QS_KV_BLOCK];
        if (p.n_blocks[s] == 0 && what != 4) { /* start: attach the published head of a prompt */
            int pr = (int)(qt_next(&rng) % 3);
            prompt_of[s] = pr;
            int32_t ids[8];
            int64_t k = 0;
            uint64_t h = 0, hs[8];
            for (; k < 8; k++) {
                block_tokens(pr, k, tok);
                hs[k] = h = qs_kv_block_hash(h, tok);
                if ((ids[k] = qs_kv_pool_lookup(&p, h, tok)) < 0) break;
            }
            /* A found block holds exactly the tokens looked up: a different block's tokens miss. */
            if (k > 0) {
                block_tokens(pr + 7, 0, tok);
                ck_assert_int_lt(qs_kv_pool_lookup(&p, hs[0], tok), 0);
            }
            int64_t unheld = 0;
            for (int64_t j = 0; j < k; j++) unheld += p.ref[ids[j]] == 0;
            if (unheld > qs_kv_pool_free(&p)) k = 0;
            if (k) ck_assert_int_eq(qs_kv_pool_attach(&p, s, ids, k), 1);
        } else if (what <= 1) { /* grow by up to 3 blocks */
            int64_t to = (p.n_blocks[s] + 1 + (int64_t)(qt_next(&rng) % 3)) * QS_KV_BLOCK;
            int64_t before = qs_kv_pool_free(&p), need = qs_kv_blocks_for(to) - p.n_blocks[s];
            int ok = qs_kv_pool_grow(&p, s, to);
            ck_assert_int_eq(ok, need <= before);
            if (!ok) ck_assert_int_eq(qs_kv_pool_free(&p), before); /* nothing taken */
        } else if (what == 2 && p.n_blocks[s] > 0) { /* publish a computed block */
            int64_t j = (int64_t)(qt_next(&rng) % (uint64_t)p.n_blocks[s]);
            uint64_t h = 0;
            for (int64_t i = 0; i <= j; i++) {
                block_tokens(prompt_of[s], i, tok);
                h = qs_kv_block_hash(h, tok);
            }
            qs_kv_pool_publish(&p, s, j, h, tok);
            int32_t b = p.table[s][j], found = qs_kv_pool_lookup(&p, h, tok);
            if (b >= 0) ck_assert_int_ge(found, 0); /* this block, or one published before with that content */
        } else if (what == 3) { /* a window leaves the first blocks */
            qs_kv_pool_release_before(&p, s, (int64_t)(qt_next(&rng) % 3) * QS_KV_BLOCK);
        } else {
            qs_kv_pool_free_seq(&p, s);
        }
        check_counts(&p);
    }
    for (int s = 0; s < NSEQ; s++) qs_kv_pool_free_seq(&p, s);
    check_counts(&p);
    ck_assert_int_eq(p.used, 0);
    ck_assert_int_eq(p.held, 0);
    ck_assert_int_eq(p.n_free + p.n_lru, TOTAL);
    qs_kv_pool_destroy(&p);
}
END_TEST

START_TEST(lru_eviction_order) {
    qs_kv_pool p;
    ck_assert_int_eq(qs_kv_pool_init(&p, 4, 2), 0);
    int32_t tok[3][QS_KV_BLOCK];
    uint64_t h[3];
    /* Sequence 0 computes 3 blocks and publishes them; sequence 1 takes the 4th (blank). */
    ck_assert_int_eq(qs_kv_pool_grow(&p, 0, 3 * QS_KV_BLOCK), 1);
    for (int j = 0; j < 3; j++) {
        block_tokens(1, j, tok[j]);
        h[j] = qs_kv_block_hash(j ? h[j - 1] : 0, tok[j]);
        qs_kv_pool_publish(&p, 0, j, h[j], tok[j]);
    }
    int32_t b[3] = {p.table[0][0], p.table[0][1], p.table[0][2]};
    qs_kv_pool_free_seq(&p, 0); /* released last block first: block 2 is the least recently released */
    ck_assert_int_eq(p.n_lru, 3);
    ck_assert_int_eq(qs_kv_pool_grow(&p, 1, QS_KV_BLOCK), 1); /* the blank one: nothing evicted */
    ck_assert_uint_eq(p.evictions, 0);
    for (int j = 0; j < 3; j++) ck_assert_int_eq(qs_kv_pool_lookup(&p, h[j], tok[j]), b[j]);
    ck_assert_int_eq(qs_kv_pool_grow(&p, 1, 2 * QS_KV_BLOCK), 1); /* evicts block 2 of the chain */
    ck_assert_uint_eq(p.evictions, 1);
    ck_assert_int_lt(qs_kv_pool_lookup(&p, h[2], tok[2]), 0);
    ck_assert_int_eq(qs_kv_pool_lookup(&p, h[0], tok[0]), b[0]);
    ck_assert_int_eq(p.table[1][1], b[2]);
    /* Re-holding block 0 takes it out of the LRU list; the next eviction is block 1. */
    ck_assert_int_eq(qs_kv_pool_attach(&p, 0, &b[0], 1), 1);
    ck_assert_int_eq(qs_kv_pool_grow(&p, 1, 3 * QS_KV_BLOCK), 1);
    ck_assert_int_eq(p.table[1][2], b[1]);
    ck_assert_int_eq(qs_kv_pool_lookup(&p, h[0], tok[0]), b[0]);
    ck_assert_int_eq(qs_kv_pool_free(&p), 0);
    ck_assert_int_eq(qs_kv_pool_grow(&p, 1, 4 * QS_KV_BLOCK), 0); /* full: the held block is not evicted */
    qs_kv_pool_free_seq(&p, 0);
    qs_kv_pool_free_seq(&p, 1);
    ck_assert_int_eq(p.used, 0);
    ck_assert_int_eq(p.held, 0);
    qs_kv_pool_destroy(&p);
}
END_TEST

int main(void) {
    Suite *s = suite_create("kv_pool");
    TCase *tc = tcase_create("kv_pool");
    tcase_add_test(tc, random_operations);
    tcase_add_test(tc, lru_eviction_order);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
