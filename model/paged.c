/*
 * paged.c — a paged KV cache for many sequences (quanta_kv_pool, quanta_model_eval_paged): per
 * layer one K pool and one V pool [1, Hkv, n_blocks * block_size, D] in the pool's dtype,
 * and sequences that address their positions through block tables (position j of a sequence in
 * block table[j / block_size], row offset j % block_size). Which blocks a sequence owns is the
 * caller's business (the server's allocator, server/kv_pool.c); this file runs steps.
 *
 * A step is either decode (n sequences, one token each, any positions) or a prefill piece of one
 * sequence (T tokens from a block boundary). The step graph computes q, k, v for all its rows
 * as one [n*T, E] batch, writes all their new k/v rows into the pools with one write_rows per
 * pool (row i to the pool row its table names: a scatter), and runs one paged_attention
 * over all sequences per layer, sliding-window layers with their window (the op skips keys
 * outside it).
 *
 * Plans are kept, QN_PAGED_DECODE_PLANS decode and QN_PAGED_PREFILL_PLANS prefill plans, each
 * kind's least recently used first out (a prompt's last piece has a length of its own, and the
 * stream of new lengths must not push out the decode buckets in use): a server's batch size
 * changes at almost every step (requests join and leave), and each new plan costs a graph, a
 * plan and on CUDA a fresh graph capture (the first run of a plan is not recorded). So a decode
 * step of n sequences runs the plan of a bucket nb >= n (n up to 4, then 6, 8, 12, 16, 24, 32,
 * 48, 64, ...: at most a third more rows), its nb - n extra rows masked: token 0 at position 0,
 * a table of one block, the pools' sink (one block past the caller's n_blocks, which no caller
 * table may name), so they write only there and read only what they wrote. Rows never mix in a
 * step (per-row matmuls and norms, per-sequence attention), so a real row's result is the one
 * the unpadded step computes where the backend's matmul does not choose its kernel by the row
 * count (test_model_paged.c checks bit equality on ref). Prefill pieces likewise run the plan of
 * the next multiple of 16 tokens (a prompt's last piece would otherwise plan its own length),
 * the extra rows writing into the sink and reading it past the piece's real end, which no real
 * query sees (causal). Each layer writes every new k/v row of the step with one write_rows per
 * pool (a row each, through the block tables), not an op per sequence. QUANTA_PAGED_PAD=0 turns
 * the buckets off (diagnostics).
 *
 * Sliding-window layers may have pools and block tables of their own (n_local_blocks > 0): a
 * sequence then needs local blocks only for the positions its window still covers, and the
 * caller frees the ones before it (table entries -1, which neither the writes nor the op read).
 *
 * A quantized pool (q8 = int8, fp8_e4m3) keeps one f32 scale per row of D, i.e. per head and
 * position, in the pool tensor's own scales section: write_rows quantizes each new row with its
 * own scale, so a write never rescales (or clips) what earlier steps wrote, and blocks stay
 * independent (freeing, preempting or copying one touches no other). The step then computes in
 * f32: k, v written from f32 rows, q and the attention output f32. Before the writes the keys
 * lose their calibrated per-layer mean, and int8 pools turn q, k, v by an orthogonal R (the
 * output turned back): both leave the attention's result unchanged and shrink what the codes
 * lose (paged_smooth.h).
 */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "formats.h"
#include "graph_build.h"
#include "paged_fake.h"
#include "paged_smooth.h"

/* Step plans kept: decode buckets (12 cover 1..64 rows), prefill lengths (multiples of
 * QN_PAGED_PREFILL_GRAIN: 4 cover the server's 64-token pieces). */
#define QN_PAGED_DECODE_PLANS 12
#define QN_PAGED_PREFILL_PLANS 16 /* lengths 16..64 x 1..4 pieces in a step */
#define QN_PAGED_PREFILL_GRAIN 16
#define QN_PAGED_MIXED_PLANS 24 /* steps of decode rows and pieces as rows: (rows, outputs) buckets */
#define QN_PAGED_PLANS (QN_PAGED_DECODE_PLANS + QN_PAGED_PREFILL_PLANS + QN_PAGED_MIXED_PLANS)

typedef struct paged_step {
    int32_t n, T;
    int32_t o; /* a step of rows (T = 1) whose logits are wanted for o of them (`last`); 0: every row, or prefill */
    uint64_t used; /* the pool's clock at its last use (0: empty slot) */
    quanta_graph *graph;
    quanta_plan *plan;
    quanta_tensor *ids, *pos, *table, *ltable, *lens, *logits;
    quanta_tensor *last; /* prefill: the rows [n] whose logits are wanted (each piece's last real token);
                          * a step of rows: [o] */
    quanta_tensor *greedy; /* [rows, 1] i32: argmax of each logits row, computed on the device */
    quanta_tensor *rows, *lrows; /* [n * T]: the pool row each new k/v row goes to (global, local layers) */
} paged_step;

struct quanta_kv_pool {
    quanta_model *model;
    int32_t n_blocks, n_local, bs, mb; /* n_local > 0: local layers have pools of their own */
    /* Each pool has one block more than the caller's: block n_blocks (n_local) is the sink
     * that a padded decode row writes and reads (never in a caller's table). */
    int pad;                           /* decode steps run bucketed plans (QUANTA_PAGED_PAD) */
    int32_t grain;                     /* steps of rows pad to multiples of it (rows_bucket) */
    uint64_t clock;
    quanta_dtype dtype;                /* the pools' element dtype */
    quanta_dtype adt;                  /* q, written k/v rows, attention output: dtype, or f32 if quantized */
    uint64_t bytes;                    /* every pool's bytes */
    quanta_buffer **k, **v;
    /* quantized pools: per layer -R mu_k [Hkv * D] added to the keys before the writes
     * (paged_smooth.h); NULL otherwise */
    quanta_buffer **kneg;
    /* pools with the value shift (paged_smooth.h): per layer -R v_0 [Hkv * D] added to the values
     * before the writes and v_0 per query head [Hq * D] added to the attention output; NULL otherwise */
    quanta_buffer **vneg, **vpos;
    /* int8 pools: the orthogonal R [D, D] that q, k, v are turned by before the cache and
     * rot_t = R^T that turns the attention output back (paged_smooth.h); NULL otherwise */
    quanta_buffer *rot, *rot_t;
    int fake; /* f32 pools: the QUANTA_KV_FAKE diagnostic's parts (paged_fake.h), else 0 */
    paged_step steps[QN_PAGED_PLANS];
};

static void step_free(paged_step *s) {
    quanta_plan_destroy(s->plan);
    quanta_graph_destroy(s->graph);
    memset(s, 0, sizeof *s);
}

static int is_local(const quanta_kv_pool *p, int il) {
    return p->n_local > 0 && qn_model_layer_is_local(&p->model->cfg, il);
}

/* out = -(R mu) per head of D (R NULL: -mu). */
static void neg_turned(const float *R, const float *mu, int64_t H, int64_t D, float *out) {
    for (int64_t h = 0; h < H; h++)
        for (int64_t i = 0; i < D; i++) {
            double acc = 0;
            if (!R) acc = mu[h * D + i];
            else
                for (int64_t j = 0; j < D; j++) acc += (double)R[i * D + j] * mu[h * D + j];
            out[h * D + i] = (float)-acc;
        }
}

/* Frees pool p's smoothing, shifts and turn (NULL after); the pool's plain state. */
static void smooth_release(quanta_kv_pool *p) {
    for (int il = 0; il < p->model->cfg.n_layer; il++) {
        if (p->kneg) quanta_buffer_destroy(p->kneg[il]);
        if (p->vneg) quanta_buffer_destroy(p->vneg[il]);
        if (p->vpos) quanta_buffer_destroy(p->vpos[il]);
    }
    quanta_buffer_destroy(p->rot);
    quanta_buffer_destroy(p->rot_t);
    free(p->kneg);
    free(p->vneg);
    free(p->vpos);
    p->kneg = p->vneg = p->vpos = NULL;
    p->rot = p->rot_t = NULL;
}

/* Pool p's smoothing, shifts and turn (paged_smooth.h): the key shift (calibrated means, or
 * with QN_KV_SINK_K position 0's keys) and with QN_KV_SINK_V the value shift, stored turned and
 * negated for the writes, and the turn R with its transpose. A second call replaces what the
 * first set up (a quantized pool's create already made one), so the recorded step plans, which
 * read the old buffers, go too. */
quanta_status qn_kv_pool_smooth(quanta_kv_pool *p, int turn, int sink) {
    quanta_model *m = p->model;
    const int L = m->cfg.n_layer;
    for (int i = 0; i < QN_PAGED_PLANS; i++) step_free(&p->steps[i]);
    smooth_release(p);
    const int64_t Hkv = m->cfg.n_head_kv, Hq = m->cfg.n_head, D = m->cfg.head_dim, W = Hkv * D, Wq = Hq * D;
    const char *senv = getenv("QUANTA_KV_SMOOTH"), *renv = getenv("QUANTA_KV_ROTATE"); /* diagnostics */
    const char *venv = getenv("QUANTA_KV_SINK");
    if (renv && (*renv == '0' || *renv == '1')) turn = *renv == '1';
    if (venv) sink = (strchr(venv, 'k') ? QN_KV_SINK_K : 0) | (strchr(venv, 'v') ? QN_KV_SINK_V : 0);
    const int smooth = !(senv && *senv == '0');
    const float *cal = NULL; /* the model's, calibrated by its first quantized pool */
    float *row = malloc((size_t)(Wq > W ? Wq : W) * sizeof *row), *R = NULL;
    p->kneg = calloc((size_t)L, sizeof *p->kneg);
    if (sink & QN_KV_SINK_V) p->vneg = calloc((size_t)L, sizeof *p->vneg), p->vpos = calloc((size_t)L, sizeof *p->vpos);
    quanta_status st = row && p->kneg && (!(sink & QN_KV_SINK_V) || (p->vneg && p->vpos))
                           ? QUANTA_OK
                           : qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_kv_pool_create: no memory");
    if (!st && (smooth || sink)) st = qn_kv_calibrate_cached(m, &cal);
    const size_t part = (size_t)L * (size_t)W;
    if (!st && turn) {
        const quanta_tensor_desc dr = qn_desc(QUANTA_F32, 2, D, D, 0, 0);
        R = malloc((size_t)(D * D) * sizeof *R);
        float *Rt = malloc((size_t)(D * D) * sizeof *Rt);
        st = R && Rt ? QUANTA_OK : qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_kv_pool_create: no memory");
        if (!st) qn_kv_rotation((int32_t)D, R);
        for (int64_t i = 0; !st && i < D; i++)
            for (int64_t j = 0; j < D; j++) Rt[j * D + i] = R[i * D + j];
        if (!st) st = quanta_buffer_create(m->backend, &dr, &p->rot);
        if (!st) st = quanta_buffer_write(p->rot, R, (size_t)(D * D) * sizeof *R);
        if (!st) st = quanta_buffer_create(m->backend, &dr, &p->rot_t);
        if (!st) st = quanta_buffer_write(p->rot_t, Rt, (size_t)(D * D) * sizeof *Rt);
        free(Rt);
    }
    const quanta_tensor_desc dw = qn_desc(QUANTA_F32, 1, W, 0, 0, 0), dq = qn_desc(QUANTA_F32, 1, Wq, 0, 0, 0);
    for (int il = 0; il < L && !st; il++) {
        /* the cache holds turned rows: R (k - shift) */
        if (cal && (smooth || (sink & QN_KV_SINK_K)))
            neg_turned(R, cal + ((sink & QN_KV_SINK_K) ? part : 0) + (size_t)il * W, Hkv, D, row);
        else memset(row, 0, (size_t)W * sizeof *row);
        st = quanta_buffer_create(m->backend, &dw, &p->kneg[il]);
        if (!st) st = quanta_buffer_write(p->kneg[il], row, (size_t)W * sizeof *row);
        if (st || !(sink & QN_KV_SINK_V)) continue;
        const float *v0 = cal + 2 * part + (size_t)il * W; /* R (v - v_0) stored, v_0 added back after */
        neg_turned(R, v0, Hkv, D, row);
        st = quanta_buffer_create(m->backend, &dw, &p->vneg[il]);
        if (!st) st = quanta_buffer_write(p->vneg[il], row, (size_t)W * sizeof *row);
        for (int64_t h = 0; h < Hq; h++) /* query head h reads KV head h / (Hq / Hkv) */
            memcpy(row + h * D, v0 + h / (Hq / Hkv) * D, (size_t)D * sizeof *row);
        if (!st) st = quanta_buffer_create(m->backend, &dq, &p->vpos[il]);
        if (!st) st = quanta_buffer_write(p->vpos[il], row, (size_t)Wq * sizeof *row);
    }
    free(row), free(R);
    return st;
}

/* The caller's rows of each head (the sink block after them left out). */
quanta_status qn_kv_pool_read_kv(const quanta_kv_pool *p, int il, int values, float *x, size_t count) {
    const size_t H = (size_t)p->model->cfg.n_head_kv, D = (size_t)p->model->cfg.head_dim;
    const size_t rows = (size_t)(is_local(p, il) ? p->n_local : p->n_blocks) * (size_t)p->bs, all = rows + (size_t)p->bs;
    if (count != H * rows * D)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_kv_pool_read_kv: count %zu, the pool holds %zu", count,
                            H * rows * D);
    float *w = malloc(H * all * D * sizeof *w);
    if (!w) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "qn_kv_pool_read_kv: no memory");
    quanta_status st = quanta_buffer_read(values ? p->v[il] : p->k[il], w, H * all * D * sizeof *w);
    for (size_t h = 0; !st && h < H; h++) memcpy(x + h * rows * D, w + h * all * D, rows * D * sizeof *x);
    free(w);
    return st;
}

/* plain: no smoothing and no QUANTA_KV_FAKE (the calibration's own pool, qn_kv_pool_create_plain) */
static quanta_status pool_create(quanta_model *m, quanta_dtype dtype, int32_t n_blocks, int32_t n_local_blocks,
                                 int32_t block_size, int32_t max_blocks, int plain, quanta_kv_pool **out) {
    if (!out) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_kv_pool_create: out is NULL");
    *out = NULL;
    if (!m) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_kv_pool_create: model is NULL");
    if (m->comm) return qn_error_set(QUANTA_ERR_UNSUPPORTED, "quanta_kv_pool_create: a tensor-parallel rank's model");
    if (!qn_dtype_is_float(dtype) && !qn_kv_dtype_is_quantized(dtype))
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "quanta_kv_pool_create: dtype %s is not a KV pool dtype (f32, f16, bf16, q8 or fp8_e4m3)",
                            quanta_dtype_name(dtype) ? quanta_dtype_name(dtype) : "unknown");
    if (n_blocks < 1 || block_size < 1 || max_blocks < 1 || n_local_blocks < 0 ||
        ((int64_t)n_blocks + 1) * block_size > INT32_MAX || ((int64_t)n_local_blocks + 1) * block_size > INT32_MAX ||
        (int64_t)max_blocks * block_size > INT32_MAX) /* a sequence's positions are counted in int32 */
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "quanta_kv_pool_create: n_blocks %d, n_local_blocks %d, block_size %d, max_blocks %d "
                            "(each >= 1, n_local_blocks >= 0, blocks * block_size < 2^31, also max_blocks')", n_blocks,
                            n_local_blocks, block_size, max_blocks);
    int any_local = 0;
    for (int il = 0; il < m->cfg.n_layer; il++) any_local |= qn_model_layer_is_local(&m->cfg, il);
    if (n_local_blocks > 0 && (!any_local || m->cfg.sliding_window <= 0))
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "quanta_kv_pool_create: n_local_blocks %d for a model without sliding-window layers",
                            n_local_blocks);
    quanta_kv_pool *p = calloc(1, sizeof *p);
    if (!p) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_kv_pool_create: no memory");
    p->model = m;
    p->n_blocks = n_blocks;
    p->n_local = n_local_blocks;
    p->bs = block_size;
    p->mb = max_blocks;
    p->dtype = dtype;
    const char *pad = getenv("QUANTA_PAGED_PAD");
    p->pad = !(pad && *pad == '0');
    /* A GPU's step costs about the same for a few more rows, and each new plan a graph capture:
     * coarse buckets there; a CPU pays for every row. QUANTA_PAGED_ROWS_GRAIN: diagnostics. */
    quanta_device_info di;
    const char *grain = getenv("QUANTA_PAGED_ROWS_GRAIN");
    p->grain = quanta_backend_device(m->backend, &di) == QUANTA_OK && !strcmp(di.backend, "cuda") ? 64 : 16;
    if (grain && atoi(grain) >= 1 && atoi(grain) <= 1024) p->grain = atoi(grain);
    p->adt = qn_kv_dtype_is_quantized(dtype) ? QUANTA_F32 : dtype;
    const int L = m->cfg.n_layer;
    p->k = calloc((size_t)L, sizeof *p->k);
    p->v = calloc((size_t)L, sizeof *p->v);
    quanta_status st = p->k && p->v ? QUANTA_OK : qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_kv_pool_create: no memory");
    for (int il = 0; il < L && !st; il++) {
        int64_t rows = ((int64_t)(is_local(p, il) ? n_local_blocks : n_blocks) + 1) * block_size; /* + the sink */
        quanta_tensor_desc d = qn_desc(dtype, 4, 1, m->cfg.n_head_kv, rows, m->cfg.head_dim);
        size_t bytes = 0;
        st = quanta_tensor_bytes(&d, &bytes);
        if (!st) st = quanta_buffer_create(m->backend, &d, &p->k[il]);
        if (!st) st = quanta_buffer_create(m->backend, &d, &p->v[il]);
        p->bytes += 2 * (uint64_t)bytes;
    }
    if (!st && !plain && qn_kv_dtype_is_quantized(dtype)) st = qn_kv_pool_smooth(p, dtype == QUANTA_Q8, 0);
    p->fake = dtype == QUANTA_F32 && !plain ? qn_kv_fake_parts() : 0;
    if (!st && p->fake) st = qn_kv_pool_smooth(p, 0, 0); /* rounded as an fp8 pool: smoothed keys */
    if (st) {
        quanta_kv_pool_destroy(p);
        return qn_error_set(st, "quanta_kv_pool_create: pools of %d blocks of %d positions: %s", n_blocks, block_size,
                            quanta_last_error());
    }
    *out = p;
    return QUANTA_OK;
}

quanta_status quanta_kv_pool_create(quanta_model *m, quanta_dtype dtype, int32_t n_blocks, int32_t n_local_blocks,
                                    int32_t block_size, int32_t max_blocks, quanta_kv_pool **out) {
    return pool_create(m, dtype, n_blocks, n_local_blocks, block_size, max_blocks, 0, out);
}

quanta_status qn_kv_pool_create_plain(quanta_model *m, int32_t n_blocks, int32_t block_size, quanta_kv_pool **out) {
    return pool_create(m, QUANTA_F32, n_blocks, 0, block_size, n_blocks, 1, out);
}

void quanta_kv_pool_destroy(quanta_kv_pool *p) {
    if (!p) return;
    for (int i = 0; i < QN_PAGED_PLANS; i++) step_free(&p->steps[i]);
    for (int il = 0; il < p->model->cfg.n_layer; il++) {
        if (p->k) quanta_buffer_destroy(p->k[il]);
        if (p->v) quanta_buffer_destroy(p->v[il]);
    }
    smooth_release(p);
    free(p->k);
    free(p->v);
    free(p);
}

/* [A, B, C, D] -> [A, C, B, D] (a copy). */
static quanta_tensor *permute(gb *b, quanta_tensor *x) {
    static const int32_t perm[4] = {0, 2, 1, 3};
    quanta_tensor *t = NULL;
    if (!b->st) b->st = quanta_permute(b->g, x, perm, &t);
    return t;
}

/* Rows x2 [N, H * D] as heads [1, H, N, D]. */
static quanta_tensor *rows_to_heads(gb *b, quanta_tensor *x2, int64_t N, int64_t H, int64_t D) {
    return swap12(b, reshape(b, x2, 4, 1, N, H, D), N, H, D);
}

/* Builds the step graph for n sequences of T tokens (decode: T = 1; prefill: n = 1 from a
 * block boundary). Each layer writes all n * T new k and v rows with one write_rows each, row i
 * to pool row rows[i] (the blocks the tables name), so a step's writes are two ops per layer
 * whatever n is. o > 0 (T = 1): a step of n rows of which o feed the head (`last`). */
static quanta_status step_build(quanta_kv_pool *p, int32_t n, int32_t T, int32_t o, paged_step *s) {
    quanta_model *m = p->model;
    const qn_model_config *c = &m->cfg;
    const int64_t Dh = c->head_dim, Hq = c->n_head, Hkv = c->n_head_kv, N = (int64_t)n * T;
    memset(s, 0, sizeof *s);
    s->n = n;
    s->T = T;
    s->o = o;
    gb b = {NULL, QUANTA_OK};
    b.st = quanta_graph_create(&s->graph);
    b.g = s->graph;
    s->ids = input(&b, "ids", QUANTA_I32, 1, N, 0);
    s->pos = input(&b, "pos", QUANTA_I32, 1, N, 0);
    s->table = input(&b, "block_table", QUANTA_I32, 2, n, p->mb);
    s->lens = input(&b, "kv_lens", QUANTA_I32, 1, n, 0);
    s->rows = input(&b, "kv_rows", QUANTA_I32, 1, N, 0);
    if (p->n_local > 0) {
        s->ltable = input(&b, "local_block_table", QUANTA_I32, 2, n, p->mb);
        s->lrows = input(&b, "local_kv_rows", QUANTA_I32, 1, N, 0);
    }
    quanta_tensor *x = qn_gb_embed(&b, m, s->ids);
    for (int il = 0; il < c->n_layer && !b.st; il++) {
        quanta_tensor *q, *k, *v, *a = NULL;
        qn_gb_qkv(&b, m, il, x, N, s->pos, &q, &k, &v, NULL);
        if (p->rot) { /* q·k and the values' mix are unchanged by an orthogonal turn (paged_smooth.h) */
            quanta_tensor *r = buf(&b, p->rot);
            q = matmul(&b, q, r), k = matmul(&b, k, r), v = matmul(&b, v, r);
        }
        /* the shifts (paged_smooth.h) add a row [Hkv * D] to the rows [N, Hkv * D] */
        if (p->kneg) /* smoothing: k - mu_k */
            k = rows_to_heads(&b, add(&b, reshape(&b, swap12(&b, k, Hkv, N, Dh), 2, N, Hkv * Dh, 0, 0),
                                      buf(&b, p->kneg[il])), N, Hkv, Dh);
        if (p->vneg) /* the value shift: v - v_0 */
            v = rows_to_heads(&b, add(&b, reshape(&b, swap12(&b, v, Hkv, N, Dh), 2, N, Hkv * Dh, 0, 0),
                                      buf(&b, p->vneg[il])), N, Hkv, Dh);
        quanta_tensor *kc = buf(&b, p->k[il]), *vc = buf(&b, p->v[il]);
        const int local = is_local(p, il);
        quanta_tensor *rows = local ? s->lrows : s->rows;
        if (!b.st) b.st = quanta_write_rows(b.g, kc, to_dtype(&b, k, p->adt), rows, &kc);
        if (!b.st) b.st = quanta_write_rows(b.g, vc, to_dtype(&b, v, p->adt), rows, &vc);
        /* q as [n, Hq, T, D]: decode [1, Hq, n, D] -> [n, Hq, 1, D]; prefill is already that. */
        if (T == 1) q = reshape(&b, swap12(&b, q, Hq, n, Dh), 4, n, Hq, 1, Dh);
        else if (n > 1) q = permute(&b, reshape(&b, swap12(&b, q, Hq, N, Dh), 4, n, T, Hq, Dh)); /* [n, Hq, T, D] */
        q = to_dtype(&b, q, p->adt);
        quanta_attention_params ap = qn_gb_attn_params(m, il);
        if (!b.st) b.st = quanta_paged_attention(b.g, q, kc, vc, local ? s->ltable : s->table, s->lens, p->bs, &ap, &a);
        if (p->rot) a = matmul(&b, to_dtype(&b, a, QUANTA_F32), buf(&b, p->rot_t));
        /* back to rows [n * T, Hq * D] */
        if (T == 1) a = reshape(&b, a, 2, n, Hq * Dh, 0, 0);
        else if (n > 1) a = reshape(&b, permute(&b, a), 2, N, Hq * Dh, 0, 0);
        else a = reshape(&b, swap12(&b, a, Hq, T, Dh), 2, T, Hq * Dh, 0, 0);
        if (p->vpos) a = add(&b, to_dtype(&b, a, QUANTA_F32), buf(&b, p->vpos[il])); /* softmax sums to 1: + v_0 */
        x = qn_gb_layer_out(&b, m, il, x, to_dtype(&b, a, QUANTA_F32), NULL);
    }
    x = norm(&b, c, x, buf(&b, m->output_norm));
    if (T > 1 || o > 0) { /* prefill: only the last real row feeds the head; a step of rows: o rows */
        s->last = input(&b, "last", QUANTA_I32, 1, o > 0 ? o : n, 0);
        if (!b.st) b.st = quanta_get_rows(b.g, x, s->last, &x);
    }
    s->logits = matmul(&b, x, buf(&b, m->output ? m->output : m->tok_embd));
    if (!b.st) b.st = quanta_graph_output(b.g, s->logits);
    if (!b.st) b.st = quanta_argmax(b.g, s->logits, &s->greedy);
    if (!b.st) b.st = quanta_graph_output(b.g, s->greedy);
    if (!b.st) b.st = quanta_plan_create(b.g, m->backend, &s->plan);
    if (b.st) step_free(s);
    return b.st;
}

/* Checks that the blocks a step writes for sequence s are in the pool (n_blocks of them). */
static quanta_status check_writes(const char *fn, const quanta_kv_pool *p, const int32_t *tables, int32_t s,
                                  int32_t pos, int32_t T, int32_t n_blocks, const char *what) {
    for (int32_t j = pos / p->bs; j <= (pos + T - 1) / p->bs; j++) {
        int32_t blk = tables[(size_t)s * p->mb + j];
        if (blk < 0 || blk >= n_blocks)
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                                "%s: %s[%d][%d] = %d, a block the step writes, is not in the pool (0..%d)", fn, what, s,
                                j, blk, n_blocks - 1);
    }
    return QUANTA_OK;
}

/* A block a step writes: which, and for which sequence s at table column j. */
typedef struct written_block {
    int32_t blk, s, j;
} written_block;

static int written_cmp(const void *a, const void *b) {
    const written_block *x = a, *y = b;
    return x->blk != y->blk ? (x->blk < y->blk ? -1 : 1) : x->s != y->s ? (x->s > y->s) - (x->s < y->s)
                                                                        : (x->j > y->j) - (x->j < y->j);
}

/* Checks that no block is written through two table entries (the API's "distinct"): two
 * sequences' new rows in one block would overwrite each other's keys and values, so one request
 * would read another's; one sequence's two columns in one block, its own earlier positions. The
 * blocks were checked to be in the pool. */
static quanta_status check_distinct(const char *fn, const quanta_kv_pool *p, const int32_t *tables, int32_t n,
                                    const int32_t *Ts, int32_t T, const int32_t *positions, const char *what) {
    size_t count = 0;
    for (int32_t s = 0; s < n; s++) {
        const int32_t len = Ts ? Ts[s] : T;
        count += (size_t)((positions[s] + len - 1) / p->bs - positions[s] / p->bs + 1);
    }
    if (count < 2) return QUANTA_OK;
    written_block stack[128], *w = count <= 128 ? stack : malloc(count * sizeof *w);
    if (!w) return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "%s: no memory", fn);
    size_t k = 0;
    for (int32_t s = 0; s < n; s++) {
        const int32_t len = Ts ? Ts[s] : T;
        for (int32_t j = positions[s] / p->bs; j <= (positions[s] + len - 1) / p->bs; j++)
            w[k++] = (written_block){tables[(size_t)s * p->mb + j], s, j};
    }
    qsort(w, count, sizeof *w, written_cmp);
    quanta_status e = QUANTA_OK;
    for (size_t i = 1; i < count && !e; i++)
        if (w[i].blk == w[i - 1].blk)
            e = qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                             "%s: %s[%d][%d] and %s[%d][%d] are both block %d: the blocks a step writes must be "
                             "distinct",
                             fn, what, w[i - 1].s, w[i - 1].j, what, w[i].s, w[i].j, w[i].blk);
    if (w != stack) free(w);
    return e;
}

/* The rows a decode step of n sequences is planned for (n <= 4 exactly, then 2^k and 3 * 2^(k-1)). */
static int32_t decode_bucket(int32_t n) {
    if (n <= 4) return n;
    int32_t b = 4;
    while (b < n) b = (b & (b - 1)) ? (b / 3) * 4 : b + b / 2; /* 4, 6, 8, 12, 16, 24, ... */
    return b;
}

/* The kept plan of n sequences of T tokens (o: as step_build), built (in the least recently used
 * slot of its kind) if none. */
static quanta_status step_for(quanta_kv_pool *p, int32_t n, int32_t T, int32_t o, paged_step **out) {
    /* slots: decode plans, then prefill plans, then steps of rows */
    const int lo = o > 0 ? QN_PAGED_DECODE_PLANS + QN_PAGED_PREFILL_PLANS : T == 1 ? 0 : QN_PAGED_DECODE_PLANS;
    const int hi = o > 0 ? QN_PAGED_PLANS : T == 1 ? QN_PAGED_DECODE_PLANS : QN_PAGED_DECODE_PLANS + QN_PAGED_PREFILL_PLANS;
    paged_step *lru = &p->steps[lo];
    for (int i = lo; i < hi; i++) {
        paged_step *c = &p->steps[i];
        if (c->plan && c->n == n && c->T == T && c->o == o) {
            c->used = ++p->clock;
            *out = c;
            return QUANTA_OK;
        }
        if (c->used < lru->used) lru = c; /* an empty slot (used 0) first */
    }
    step_free(lru);
    quanta_status e = step_build(p, n, T, o, lru);
    if (e) return e;
    lru->used = ++p->clock;
    *out = lru;
    return QUANTA_OK;
}

/* Sets the inputs of step st (nb >= n sequences of Tp >= T tokens) for the caller's n sequences
 * of T tokens, and runs it. Padding is masked into the pools' sink blocks (one past the caller's
 * blocks, never in a caller's table): decode rows [n, nb) are token 0 at position 0 with a table
 * of one sink block; a prefill piece's rows [T, Tp) continue its positions, write their k/v into
 * the sink and see the sink for table columns past the piece's real end, so they read nothing a
 * real row wrote and no real row reads them (causal: every real query sits before them). */
static quanta_status fill_and_run(quanta_kv_pool *p, paged_step *st, int32_t n, const int32_t *Ts, int32_t T,
                                  const int32_t *tokens, const int32_t *positions, const int32_t *tables,
                                  const int32_t *local_tables) {
    const int32_t nb = st->n, Tp = st->T;
    const size_t NT = (size_t)nb * (size_t)Tp, MBs = (size_t)p->mb;
    int32_t *ids = malloc(NT * sizeof *ids), *pos = malloc(NT * sizeof *pos), *lens = malloc((size_t)nb * sizeof *lens);
    int32_t *tab = malloc((size_t)nb * MBs * sizeof *tab), *ltab = local_tables ? malloc((size_t)nb * MBs * sizeof *ltab) : NULL;
    int32_t *rows = malloc(2 * NT * sizeof *rows), *lrows = rows ? rows + NT : NULL;
    if (!ids || !pos || !lens || !tab || (local_tables && !ltab) || !rows) {
        free(ids), free(pos), free(lens), free(tab), free(ltab), free(rows);
        return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_model_eval_paged: no memory");
    }
    memcpy(tab, tables, (size_t)n * MBs * sizeof *tab);
    if (ltab) memcpy(ltab, local_tables, (size_t)n * MBs * sizeof *ltab);
    int32_t *last = malloc((size_t)nb * sizeof *last);
    if (!last) {
        free(ids), free(pos), free(lens), free(tab), free(ltab), free(rows);
        return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "quanta_model_eval_paged: no memory");
    }
    size_t from = 0; /* sequence s's first token in tokens */
    for (int32_t s = 0; s < nb; s++) {
        const int32_t at = s < n ? positions[s] : 0, Ts_ = s < n ? (Ts ? Ts[s] : T) : 1;
        for (int32_t t = 0; t < Tp; t++) {
            pos[s * Tp + t] = at + t;
            ids[s * Tp + t] = s < n && t < Ts_ ? tokens[from + (size_t)t] : 0;
        }
        last[s] = s * Tp + Ts_ - 1;
        if (s < n) from += (size_t)Ts_;
        lens[s] = at + Tp;
        if (s >= n) {
            for (size_t j = 0; j < MBs; j++) tab[s * MBs + j] = j ? -1 : p->n_blocks;
            for (size_t j = 0; ltab && j < MBs; j++) ltab[s * MBs + j] = j ? -1 : p->n_local;
        }
        /* a padded piece's columns past its real end: the sink */
        for (int32_t j = (at + Ts_ - 1) / p->bs + 1; s < n && j <= (at + Tp - 1) / p->bs; j++) {
            tab[s * MBs + (size_t)j] = p->n_blocks;
            if (ltab) ltab[s * MBs + (size_t)j] = p->n_local;
        }
    }
    quanta_status e = quanta_plan_set_input(st->plan, st->ids, ids, NT * sizeof *ids);
    if (!e) e = quanta_plan_set_input(st->plan, st->pos, pos, NT * sizeof *pos);
    if (!e) e = quanta_plan_set_input(st->plan, st->table, tab, (size_t)nb * MBs * sizeof *tab);
    if (!e) e = quanta_plan_set_input(st->plan, st->lens, lens, (size_t)nb * sizeof *lens);
    if (!e && ltab) e = quanta_plan_set_input(st->plan, st->ltable, ltab, (size_t)nb * MBs * sizeof *ltab);
    /* the pool row of every new k/v row: row i (sequence i / Tp) at position pos[i]; a padded
     * piece's rows land in the sink block, each in a row of its own */
    for (size_t i = 0; i < NT; i++) {
        const size_t sq = i / (size_t)Tp, at = sq * MBs + (size_t)(pos[i] / p->bs);
        const int pad_row = (int32_t)(i % (size_t)Tp) > last[sq] - (int32_t)sq * Tp;
        rows[i] = (pad_row ? p->n_blocks : tab[at]) * p->bs + pos[i] % p->bs;
        if (ltab) lrows[i] = (pad_row ? p->n_local : ltab[at]) * p->bs + pos[i] % p->bs;
    }
    if (!e) e = quanta_plan_set_input(st->plan, st->rows, rows, NT * sizeof *rows);
    if (!e && ltab) e = quanta_plan_set_input(st->plan, st->lrows, lrows, NT * sizeof *lrows);
    if (!e && st->last) e = quanta_plan_set_input(st->plan, st->last, last, (size_t)nb * sizeof *last);
    free(ids), free(pos), free(lens), free(tab), free(ltab), free(rows), free(last);
    if (!e) e = quanta_plan_execute(st->plan);
    return e;
}

/* The rows a step of rows is planned for: decode_bucket's, or the next multiple of the pool's
 * grain where that is fewer (a geometric bucket alone would pad a 64-row decode batch plus 1024
 * prompt rows to 1536). */
static int32_t rows_bucket(const quanta_kv_pool *p, int32_t R) {
    const int32_t b = decode_bucket(R), g = (R + p->grain - 1) / p->grain * p->grain;
    return b < g ? b : g;
}

/* A step of n pieces of which some have one token (decode rows, at any position) and others more
 * (prompt pieces from block boundaries), run as one step of rows: every new token is a row with
 * an attention sequence of its own (one query at its position, its piece's table, kv_len = its
 * position + 1), so the matmuls read the weights once for decode rows and prompt pieces together
 * and no piece is padded to another's length. Query t of a piece sees keys [0, position + t]
 * whether it runs as one of T queries or alone, and its piece's rows are written by the layer's
 * write_rows before the attention reads them, so each row computes what the separate decode or
 * prefill step computes, where the backend's kernels do not depend on the row count. Each piece's
 * last row feeds the head. The rows are padded to rows_bucket, the outputs to decode_bucket, as a
 * decode step's (token 0 at position 0 in the sink). total: the pieces' tokens. */
static quanta_status rows_step(const char *fn, quanta_kv_pool *p, int32_t n, const int32_t *Ts, size_t total,
                               const int32_t *tokens, const int32_t *positions, const int32_t *tables,
                               const int32_t *local_tables, float *logits, size_t logits_count, int32_t *greedy) {
    const int32_t R = (int32_t)total, nb = p->pad ? rows_bucket(p, R) : R, ob = p->pad ? decode_bucket(n) : n;
    paged_step *st = NULL;
    quanta_status e = step_for(p, nb, 1, ob, &st);
    if (e) return e;
    const size_t MBs = (size_t)p->mb, NB = (size_t)nb;
    int32_t *ids = malloc(NB * sizeof *ids), *pos = malloc(NB * sizeof *pos), *lens = malloc(NB * sizeof *lens);
    int32_t *rows = malloc(2 * NB * sizeof *rows), *lrows = rows ? rows + NB : NULL;
    int32_t *tab = malloc(NB * MBs * sizeof *tab), *ltab = local_tables ? malloc(NB * MBs * sizeof *ltab) : NULL;
    int32_t *last = malloc((size_t)ob * sizeof *last);
    if (!ids || !pos || !lens || !rows || !tab || (local_tables && !ltab) || !last) {
        free(ids), free(pos), free(lens), free(rows), free(tab), free(ltab), free(last);
        return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "%s: no memory", fn);
    }
    size_t i = 0;
    for (int32_t s = 0; s < n; s++) {
        const int32_t *ts = tables + (size_t)s * MBs, *lts = local_tables ? local_tables + (size_t)s * MBs : NULL;
        for (int32_t t = 0; t < Ts[s]; t++, i++) {
            const int32_t at = positions[s] + t;
            ids[i] = tokens[i];
            pos[i] = at;
            lens[i] = at + 1;
            memcpy(tab + i * MBs, ts, MBs * sizeof *tab);
            rows[i] = ts[at / p->bs] * p->bs + at % p->bs;
            if (ltab) memcpy(ltab + i * MBs, lts, MBs * sizeof *ltab), lrows[i] = lts[at / p->bs] * p->bs + at % p->bs;
        }
        last[s] = (int32_t)i - 1;
    }
    for (; i < NB; i++) { /* padding: token 0 at position 0 in the sink blocks */
        ids[i] = pos[i] = 0;
        lens[i] = 1;
        for (size_t j = 0; j < MBs; j++) tab[i * MBs + j] = j ? -1 : p->n_blocks;
        rows[i] = p->n_blocks * p->bs;
        if (ltab) {
            for (size_t j = 0; j < MBs; j++) ltab[i * MBs + j] = j ? -1 : p->n_local;
            lrows[i] = p->n_local * p->bs;
        }
    }
    for (int32_t s = n; s < ob; s++) last[s] = 0;
    e = quanta_plan_set_input(st->plan, st->ids, ids, NB * sizeof *ids);
    if (!e) e = quanta_plan_set_input(st->plan, st->pos, pos, NB * sizeof *pos);
    if (!e) e = quanta_plan_set_input(st->plan, st->table, tab, NB * MBs * sizeof *tab);
    if (!e) e = quanta_plan_set_input(st->plan, st->lens, lens, NB * sizeof *lens);
    if (!e) e = quanta_plan_set_input(st->plan, st->rows, rows, NB * sizeof *rows);
    if (!e && ltab) e = quanta_plan_set_input(st->plan, st->ltable, ltab, NB * MBs * sizeof *ltab);
    if (!e && ltab) e = quanta_plan_set_input(st->plan, st->lrows, lrows, NB * sizeof *lrows);
    if (!e) e = quanta_plan_set_input(st->plan, st->last, last, (size_t)ob * sizeof *last);
    free(ids), free(pos), free(lens), free(rows), free(tab), free(ltab), free(last);
    if (!e) e = quanta_plan_execute(st->plan);
    if (!e && logits) e = quanta_plan_get_output_prefix(st->plan, st->logits, logits, logits_count * sizeof(float));
    if (!e && greedy) e = quanta_plan_get_output_prefix(st->plan, st->greedy, greedy, (size_t)n * sizeof *greedy);
    if (!e && p->fake) e = qn_kv_fake_round(p->k, p->v, p->model->cfg.n_layer, p->fake);
    return e;
}

/* A step of n sequences, sequence s with Ts[s] tokens (Ts NULL: T each; one token each is a
 * decode step), as quanta_model_eval_paged (fn: the caller's name for messages). */
static quanta_status eval_paged(const char *fn, quanta_kv_pool *p, int32_t n, int32_t T, const int32_t *Ts,
                                const int32_t *tokens, const int32_t *positions, const int32_t *tables,
                                const int32_t *local_tables, float *logits, size_t logits_count, int32_t *greedy) {
    if (!p || !tokens || !positions || !tables)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn,
                            !p ? "pool" : !tokens ? "tokens" : !positions ? "positions" : "tables");
    if ((p->n_local > 0) != (local_tables != NULL))
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: local_tables %s (the pool has %s)", fn,
                            local_tables ? "given" : "NULL",
                            p->n_local > 0 ? "local pools of its own" : "no local pools");
    if (n < 1 || n > 4096 || (!Ts && (T < 1 || (T > 1 && n != 1) || T > QN_MAX_STEP_TOKENS)))
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                            "%s: n = %d, T = %d (decode: T = 1, n <= 4096; prefill: n = 1, T <= %d)", fn, n, T,
                            QN_MAX_STEP_TOKENS);
    const quanta_model *m = p->model;
    const int32_t V = m->cfg.n_vocab, cap = p->mb * p->bs;
    if (logits && logits_count != (size_t)n * (size_t)V)
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: logits_count %zu, need n * n_vocab = %zu", fn,
                            logits_count, (size_t)n * (size_t)V);
    int32_t maxT = 0;
    size_t total = 0;
    for (int32_t s = 0; s < n; s++) {
        const int32_t len = Ts ? Ts[s] : T;
        if (len < 1 || len > QN_MAX_STEP_TOKENS)
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: lens[%d] = %d (1 .. %d tokens)", fn, s, len,
                                QN_MAX_STEP_TOKENS);
        maxT = len > maxT ? len : maxT;
        total += (size_t)len;
    }
    for (size_t i = 0; i < total; i++)
        if (tokens[i] < 0 || tokens[i] >= V)
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "%s: tokens[%zu] = %d outside [0, %d)", fn, i, tokens[i], V);
    const int prefill = maxT > 1;
    int rows_of_one = 0; /* pieces of one token among longer ones: decode rows (rows_step) */
    for (int32_t s = 0; s < n; s++) {
        const int32_t len = Ts ? Ts[s] : T;
        rows_of_one |= len == 1;
        if (positions[s] < 0 || positions[s] > cap - len)
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                                "%s: positions[%d] = %d: %d tokens do not fit the table's %d positions", fn, s,
                                positions[s], len, cap);
        if (len > 1 && positions[s] % p->bs)
            return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT,
                                "%s: a prefill piece starts at a block boundary (position %d, block size %d)", fn,
                                positions[s], p->bs);
        quanta_status e = check_writes(fn, p, tables, s, positions[s], len, p->n_blocks, "tables");
        if (!e && local_tables) e = check_writes(fn, p, local_tables, s, positions[s], len, p->n_local, "local_tables");
        if (e) return e;
    }
    quanta_status de = check_distinct(fn, p, tables, n, Ts, T, positions, "tables");
    if (!de && local_tables) de = check_distinct(fn, p, local_tables, n, Ts, T, positions, "local_tables");
    if (de) return de;
    if (prefill && rows_of_one)
        return rows_step(fn, p, n, Ts, total, tokens, positions, tables, local_tables, logits, logits_count, greedy);
    const int32_t nb = !prefill && p->pad ? decode_bucket(n) : n;
    /* Prefill pieces run the plan of Tp >= every piece's tokens, the next multiple of the grain
     * (where the tables have the columns), so a prompt's last piece does not plan a length of its
     * own and pieces of several lengths share a step. */
    int32_t Tp = maxT;
    if (prefill && p->pad) Tp = (maxT + QN_PAGED_PREFILL_GRAIN - 1) / QN_PAGED_PREFILL_GRAIN * QN_PAGED_PREFILL_GRAIN;
    int fits = Tp <= QN_MAX_STEP_TOKENS;
    for (int32_t s = 0; s < n && fits; s++) fits = positions[s] <= cap - Tp;
    if (!fits) Tp = maxT;
    fits = 1;
    for (int32_t s = 0; s < n; s++) fits &= positions[s] <= cap - Tp;
    if (!fits) { /* a shorter piece near its table's end cannot be padded to the longest: one by one */
        quanta_status e = QUANTA_OK;
        for (int32_t s = 0, from = 0; s < n && !e; from += Ts[s], s++)
            e = eval_paged(fn, p, 1, Ts[s], NULL, tokens + from, positions + s, tables + (size_t)s * (size_t)p->mb,
                           local_tables ? local_tables + (size_t)s * (size_t)p->mb : NULL,
                           logits ? logits + (size_t)s * (size_t)V : NULL, logits ? (size_t)V : 0,
                           greedy ? greedy + s : NULL);
        return e;
    }
    paged_step *st = NULL;
    quanta_status e = step_for(p, nb, Tp, 0, &st);
    if (e) return e;
    e = fill_and_run(p, st, n, Ts, T, tokens, positions, tables, local_tables);
    if (!e && logits) e = quanta_plan_get_output_prefix(st->plan, st->logits, logits, logits_count * sizeof(float));
    if (!e && greedy) e = quanta_plan_get_output_prefix(st->plan, st->greedy, greedy, (size_t)n * sizeof *greedy);
    if (!e && p->fake) e = qn_kv_fake_round(p->k, p->v, m->cfg.n_layer, p->fake);
    return e;
}

quanta_status quanta_model_eval_paged(quanta_kv_pool *pool, int32_t n, int32_t T, const int32_t *tokens,
                                      const int32_t *positions, const int32_t *tables, const int32_t *local_tables,
                                      float *logits, size_t logits_count) {
    return eval_paged("quanta_model_eval_paged", pool, n, T, NULL, tokens, positions, tables, local_tables, logits,
                      logits_count, NULL);
}

quanta_status quanta_model_eval_paged_greedy(quanta_kv_pool *pool, int32_t n, int32_t T, const int32_t *tokens,
                                             const int32_t *positions, const int32_t *tables,
                                             const int32_t *local_tables, int32_t *greedy) {
    if (!greedy) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_eval_paged_greedy: greedy is NULL");
    return eval_paged("quanta_model_eval_paged_greedy", pool, n, T, NULL, tokens, positions, tables, local_tables, NULL,
                      0, greedy);
}

quanta_status quanta_model_eval_paged_pieces(quanta_kv_pool *pool, int32_t n, const int32_t *lens,
                                             const int32_t *tokens, const int32_t *positions, const int32_t *tables,
                                             const int32_t *local_tables, float *logits, size_t logits_count,
                                             int32_t *greedy) {
    if (!lens) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "quanta_model_eval_paged_pieces: lens is NULL");
    return eval_paged("quanta_model_eval_paged_pieces", pool, n, 0, lens, tokens, positions, tables, local_tables,
                      logits, logits_count, greedy);
}

int32_t quanta_kv_pool_block_size(const quanta_kv_pool *pool) { return pool ? pool->bs : 0; }
quanta_dtype quanta_kv_pool_dtype(const quanta_kv_pool *pool) { return pool ? pool->dtype : QUANTA_F32; }
uint64_t quanta_kv_pool_bytes(const quanta_kv_pool *pool) { return pool ? pool->bytes : 0; }
