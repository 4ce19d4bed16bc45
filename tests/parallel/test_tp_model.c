/*
 * test_tp_model.c — tensor parallelism of the model, with ranks as threads of this process
 * (quanta_comm_create_local) on the reference backend (and OpenCL when present):
 *   - the all_reduce op sums over the ranks, bit-identical on every rank, for f32/f16/bf16;
 *   - a 1-, 2- and 4-way sharded tiny model (LLaMA with GQA, Qwen2 with q/k/v biases, Gemma 3
 *     with one KV head, replicated) gives the unsharded model's logits within 1e-5 of the
 *     largest logit for f32, q8 and q4 weights (shards are bit-exact slices; only the order of
 *     the partial sums differs), every rank's logits are bit-identical to rank 0's, and greedy
 *     tokens equal the unsharded model's through prefill and decode, batched decode too;
 *   - configurations that do not divide are rejected with a message naming the reason;
 *   - a rank whose eval fails aborts the group, so the others get an error instead of hanging.
 */
#include <pthread.h>
#include <unistd.h>

#include "model_internal.h"
#include "tiny_model.h"

/* ------------------------------------------------------------- all_reduce op */

typedef struct ar_rank {
    quanta_comm *comm;
    const char *backend;
    quanta_dtype dtype;
    int64_t n;
    const float *x;  /* this rank's input (values representable in dtype) */
    float *y;        /* result, read back as f32 */
    quanta_status st;
    char err[256];
    int fallbacks;
} ar_rank;

static void *ar_thread(void *arg) {
    ar_rank *r = arg;
    quanta_backend *be = NULL;
    quanta_graph *g = NULL;
    quanta_plan *p = NULL;
    quanta_tensor *x, *y, *y32;
    quanta_tensor_desc d = {r->dtype, 2, {2, r->n / 2, 0, 0}, 0, 0};
    size_t esz = r->dtype == QUANTA_F32 ? 4 : 2;
    void *in = malloc((size_t)r->n * esz);
    quanta_status st = in ? QUANTA_OK : QUANTA_ERR_OUT_OF_MEMORY;
    if (!st) {
        if (r->dtype == QUANTA_F32) memcpy(in, r->x, (size_t)r->n * 4);
        for (int64_t i = 0; r->dtype != QUANTA_F32 && i < r->n; i++)
            ((uint16_t *)in)[i] = r->dtype == QUANTA_F16 ? quanta_f32_to_f16(r->x[i]) : quanta_f32_to_bf16(r->x[i]);
    }
    if (!st) st = quanta_backend_open(r->backend, &be);
    if (!st) st = quanta_graph_create(&g);
    if (!st) st = quanta_graph_input(g, "x", &d, &x);
    if (!st) st = quanta_all_reduce(g, x, r->comm, &y);
    if (!st) st = quanta_convert(g, y, QUANTA_F32, &y32);
    if (!st) st = quanta_graph_output(g, y32);
    if (!st) st = quanta_plan_create(g, be, &p);
    if (!st) r->fallbacks = quanta_plan_fallback_count(p);
    /* Twice: the second run reuses the communicator's state. */
    for (int rep = 0; rep < 2 && !st; rep++) {
        qt_poison_f32(r->y, (size_t)r->n);
        st = quanta_plan_set_input(p, x, in, (size_t)r->n * esz);
        if (!st) st = quanta_plan_execute(p);
        if (!st) st = quanta_plan_get_output(p, y32, r->y, (size_t)r->n * 4);
    }
    r->st = st;
    if (st) snprintf(r->err, sizeof r->err, "%s", quanta_last_error());
    quanta_plan_destroy(p);
    quanta_graph_destroy(g);
    quanta_backend_close(be);
    free(in);
    return NULL;
}

static float round_to(quanta_dtype t, float v) {
    if (t == QUANTA_F16) return quanta_f16_to_f32(quanta_f32_to_f16(v));
    if (t == QUANTA_BF16) return quanta_bf16_to_f32(quanta_f32_to_bf16(v));
    return v;
}

static int backend_usable(const char *spec) {
    quanta_backend *be;
    if (quanta_backend_open(spec, &be) != QUANTA_OK) return 0;
    quanta_backend_close(be);
    return 1;
}

START_TEST(test_all_reduce_op) {
    qt_rng rng = qt_rng_make(601);
    enum { N = 1000, MAXW = 3 };
    const char *backends[] = {"ref", "opencl"};
    const quanta_dtype types[] = {QUANTA_F32, QUANTA_F16, QUANTA_BF16};
    float *x = malloc(sizeof(float) * N * MAXW), *y = malloc(sizeof(float) * N * MAXW);
    for (int b = 0; b < 2; b++) {
        if (!backend_usable(backends[b])) {
            printf("tp all_reduce: %s not available, skipped\n", backends[b]);
            continue;
        }
        for (int t = 0; t < 3; t++)
            for (int world = 1; world <= MAXW; world++) {
                quanta_comm *comms[MAXW];
                ck_assert_int_eq(quanta_comm_create_local(world, comms), QUANTA_OK);
                ar_rank rk[MAXW];
                pthread_t th[MAXW];
                for (int i = 0; i < N * world; i++) x[i] = round_to(types[t], qt_normal(&rng, 3.0f));
                for (int r = 0; r < world; r++) {
                    int wr = -1, ww = -1;
                    ck_assert_int_eq(quanta_comm_rank(comms[r], &wr, &ww), QUANTA_OK);
                    ck_assert_int_eq(wr, r);
                    ck_assert_int_eq(ww, world);
                    rk[r] = (ar_rank){comms[r], backends[b], types[t], N, x + (size_t)r * N, y + (size_t)r * N,
                                      QUANTA_OK, "", 0};
                    ck_assert_int_eq(pthread_create(&th[r], NULL, ar_thread, &rk[r]), 0);
                }
                for (int r = 0; r < world; r++) pthread_join(th[r], NULL);
                for (int r = 0; r < world; r++) {
                    ck_assert_msg(rk[r].st == QUANTA_OK, "%s rank %d: %s", backends[b], r, rk[r].err);
                    /* Not the reference backend: the op runs through the executor's fallback. */
                    ck_assert_int_eq(rk[r].fallbacks > 0, b == 1);
                    ck_assert_msg(memcmp(y + (size_t)r * N, y, sizeof(float) * N) == 0, "rank %d differs from rank 0", r);
                }
                for (int i = 0; i < N; i++) {
                    double s = 0;
                    for (int r = 0; r < world; r++) s += x[(size_t)r * N + i];
                    float want = round_to(types[t], (float)s);
                    ck_assert_msg(y[i] == want, "%s %s world %d [%d]: %a != %a", backends[b],
                                  quanta_dtype_name(types[t]), world, i, y[i], want);
                }
                for (int r = 0; r < world; r++) quanta_comm_destroy(comms[r]);
            }
    }
    free(x);
    free(y);
}
END_TEST

/* Ranks whose graphs sum different element counts (a caller bug: ranks must run the same graphs):
 * every rank's execute fails alike, naming both counts, and none waits for the other for ever. */
START_TEST(test_all_reduce_count_mismatch) {
    quanta_comm *comms[2];
    ck_assert_int_eq(quanta_comm_create_local(2, comms), QUANTA_OK);
    float x[32] = {0}, y0[8], y1[16];
    ar_rank rk[2] = {{comms[0], "ref", QUANTA_F32, 8, x, y0, QUANTA_OK, "", 0},
                     {comms[1], "ref", QUANTA_F32, 16, x, y1, QUANTA_OK, "", 0}};
    pthread_t th[2];
    for (int r = 0; r < 2; r++) ck_assert_int_eq(pthread_create(&th[r], NULL, ar_thread, &rk[r]), 0);
    for (int r = 0; r < 2; r++) pthread_join(th[r], NULL);
    for (int r = 0; r < 2; r++) {
        ck_assert_msg(rk[r].st == QUANTA_ERR_INVALID_ARGUMENT, "rank %d: %s (%s)", r, quanta_status_name(rk[r].st),
                      rk[r].err);
        ck_assert_msg(strstr(rk[r].err, "rank 1 sums 16 values but rank 0 sums 8"), "rank %d: %s", r, rk[r].err);
    }
    for (int r = 0; r < 2; r++) quanta_comm_destroy(comms[r]);
}
END_TEST

START_TEST(test_all_reduce_errors) {
    quanta_comm *comms[2];
    ck_assert_int_eq(quanta_comm_create_local(0, comms), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(quanta_last_error(), "world"));
    ck_assert_int_eq(quanta_comm_create_local(257, comms), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(quanta_comm_create_local(2, NULL), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(quanta_comm_rank(NULL, NULL, NULL), QUANTA_ERR_INVALID_ARGUMENT);
    quanta_comm_destroy(NULL);
    ck_assert_int_eq(quanta_comm_create_local(2, comms), QUANTA_OK);
    quanta_graph *g;
    quanta_tensor *x, *xi, *y = (quanta_tensor *)1;
    quanta_tensor_desc d = {QUANTA_F32, 1, {8, 0, 0, 0}, 0, 0}, di = {QUANTA_I32, 1, {8, 0, 0, 0}, 0, 0};
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "x", &d, &x), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "i", &di, &xi), QUANTA_OK);
    ck_assert_int_eq(quanta_all_reduce(g, x, NULL, &y), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(y);
    ck_assert_ptr_nonnull(strstr(quanta_last_error(), "comm"));
    ck_assert_int_eq(quanta_all_reduce(g, xi, comms[0], &y), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(quanta_last_error(), "f32"));
    ck_assert_int_eq(quanta_all_reduce(g, NULL, comms[0], &y), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(quanta_all_reduce(NULL, x, comms[0], &y), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(quanta_all_reduce(g, x, comms[0], NULL), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(quanta_all_reduce(g, x, comms[0], &y), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(g, y), QUANTA_OK);
    /* An aborted group: rank 0 alone does not wait for rank 1. */
    quanta_comm_abort(comms[1]);
    quanta_comm_abort(NULL);
    quanta_backend *be;
    quanta_plan *p;
    float in[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    ck_assert(quanta_backend_open("ref", &be) == QUANTA_OK);
    ck_assert_int_eq(quanta_plan_create(g, be, &p), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_set_input(p, x, in, sizeof in), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_execute(p), QUANTA_ERR_STATE);
    ck_assert_ptr_nonnull(strstr(quanta_last_error(), "aborted"));
    quanta_plan_destroy(p);
    quanta_backend_close(be);
    quanta_graph_destroy(g);
    quanta_comm_destroy(comms[1]); /* either order: the shared state goes with the last */
    quanta_comm_destroy(comms[0]);
}
END_TEST

/* ------------------------------------------------------------ sharded model */

enum { PROMPT = 6, STEPS = 4, MAXWORLD = 4 };

typedef struct run_out {
    float *prefill;  /* PROMPT * V: every prompt position's logits */
    float *decode;   /* STEPS * V */
    int32_t toks[STEPS];
    quanta_status st;
    char err[512];
} run_out;

/* Prefill (every position's logits) then STEPS greedy decode steps. No ck_assert: also runs
 * on rank threads. */
static quanta_status run_model(quanta_model *m, const int32_t *prompt, run_out *o) {
    int V = m->cfg.n_vocab;
    quanta_model_context *ctx;
    quanta_status st = quanta_model_context_create(m, PROMPT + STEPS + 1, &ctx);
    if (st) return st;
    qt_poison_f32(o->prefill, (size_t)PROMPT * V);
    qt_poison_f32(o->decode, (size_t)STEPS * V);
    st = quanta_model_eval(ctx, prompt, PROMPT, o->prefill, (size_t)PROMPT * V);
    const float *last = o->prefill + (size_t)(PROMPT - 1) * V;
    for (int i = 0; i < STEPS && !st; i++) {
        int b = 0;
        for (int j = 1; j < V; j++)
            if (last[j] > last[b]) b = j;
        o->toks[i] = b;
        st = quanta_model_eval(ctx, &o->toks[i], 1, o->decode + (size_t)i * V, (size_t)V);
        last = o->decode + (size_t)i * V;
    }
    quanta_model_context_destroy(ctx);
    return st;
}

/* Batched decode: two sequences (prompt prefixes of 3 and 5 tokens), BATCH_STEPS steps, each
 * feeding token 7 + step; out gets BATCH_STEPS * 2 * V logits. */
enum { BATCH_STEPS = 2 };
static quanta_status run_batch(quanta_model *m, const int32_t *prompt, float *out) {
    int V = m->cfg.n_vocab;
    quanta_model_context *c[2] = {NULL, NULL};
    quanta_status st = quanta_model_context_create(m, 16, &c[0]);
    if (!st) st = quanta_model_context_create(m, 16, &c[1]);
    if (!st) st = quanta_model_eval(c[0], prompt, 3, NULL, 0);
    if (!st) st = quanta_model_eval(c[1], prompt, 5, NULL, 0);
    for (int i = 0; i < BATCH_STEPS && !st; i++) {
        int32_t tok[2] = {7 + i, 11 + i};
        st = quanta_model_eval_batch(c, tok, 2, out + (size_t)i * 2 * V, (size_t)2 * V);
    }
    quanta_model_context_destroy(c[0]);
    quanta_model_context_destroy(c[1]);
    return st;
}

typedef struct tp_rank {
    const tiny_model *tm;
    const char *backend;
    const quanta_model_params *p;
    quanta_comm *comm;
    const int32_t *prompt;
    run_out out;
    uint64_t weights_bytes, kv_bytes;
    quanta_model_info info;
    float *batch; /* BATCH_STEPS * 2 * V */
} tp_rank;

static void *tp_thread(void *arg) {
    tp_rank *r = arg;
    quanta_backend *be = NULL;
    quanta_model *m = NULL;
    qn_gguf *g = NULL;
    quanta_status st = quanta_backend_open(r->backend, &be);
    if (!st) st = qn_gguf_open_memory(r->tm->image, r->tm->image_size, &g);
    if (!st) st = qn_model_from_gguf_tp(g, be, r->p, r->comm, &m);
    qn_gguf_close(g);
    if (!st) st = quanta_model_get_info(m, &r->info);
    if (!st) {
        r->weights_bytes = m->weights_bytes;
        st = run_model(m, r->prompt, &r->out);
    }
    if (!st) st = run_batch(m, r->prompt, r->batch);
    if (!st) {
        quanta_model_context *ctx;
        quanta_model_memory mem;
        st = quanta_model_context_create(m, 8, &ctx);
        if (!st) st = quanta_model_memory_report(m, ctx, &mem);
        if (!st) r->kv_bytes = mem.kv_cache_bytes;
        quanta_model_context_destroy(ctx);
    }
    r->out.st = st;
    if (st) snprintf(r->out.err, sizeof r->out.err, "%s", quanta_last_error());
    quanta_model_destroy(m);
    quanta_backend_close(be);
    return NULL;
}

static void out_alloc(run_out *o, int V) {
    memset(o, 0, sizeof *o);
    o->prefill = malloc(sizeof(float) * PROMPT * V);
    o->decode = malloc(sizeof(float) * STEPS * V);
    ck_assert(o->prefill && o->decode);
}
static void out_free(run_out *o) {
    free(o->prefill);
    free(o->decode);
}

/* max |a - b| over max |b|, every row of prefill and decode. */
static double rel_err(const run_out *a, const run_out *b, int V) {
    double mx = 0, scale = 0;
    for (int i = 0; i < PROMPT * V; i++) {
        if (a->prefill[i] != a->prefill[i]) return INFINITY;
        mx = fmax(mx, fabs((double)a->prefill[i] - b->prefill[i]));
        scale = fmax(scale, fabs((double)b->prefill[i]));
    }
    for (int i = 0; i < STEPS * V; i++) {
        if (a->decode[i] != a->decode[i]) return INFINITY;
        mx = fmax(mx, fabs((double)a->decode[i] - b->decode[i]));
        scale = fmax(scale, fabs((double)b->decode[i]));
    }
    return mx / (scale > 0 ? scale : 1);
}

/* The unsharded model on the reference backend. */
static void run_whole(const tiny_model *tm, const quanta_model_params *p, const int32_t *prompt, run_out *o,
                      uint64_t *weights_bytes, float *batch) {
    quanta_backend *be;
    ck_assert(quanta_backend_open("ref", &be) == QUANTA_OK);
    quanta_model *m = tiny_load(tm, be, p);
    *weights_bytes = m->weights_bytes;
    ck_assert_msg(run_model(m, prompt, o) == QUANTA_OK, "%s", quanta_last_error());
    ck_assert_msg(run_batch(m, prompt, batch) == QUANTA_OK, "%s", quanta_last_error());
    quanta_model_destroy(m);
    quanta_backend_close(be);
}

/* Runs `world` ranks as threads and checks them against the unsharded run `whole`. */
static void check_world(const tiny_model *tm, const quanta_model_params *p, const char *backend, int world,
                        const int32_t *prompt, const run_out *whole, uint64_t whole_bytes, const float *whole_batch,
                        double tol) {
    const tiny_spec *s = &tm->s;
    int V = s->n_vocab;
    quanta_comm *comms[MAXWORLD];
    tp_rank rk[MAXWORLD];
    pthread_t th[MAXWORLD];
    ck_assert_int_eq(quanta_comm_create_local(world, comms), QUANTA_OK);
    for (int r = 0; r < world; r++) {
        memset(&rk[r], 0, sizeof rk[r]);
        rk[r].tm = tm;
        rk[r].backend = backend;
        rk[r].p = p;
        rk[r].comm = comms[r];
        rk[r].prompt = prompt;
        out_alloc(&rk[r].out, V);
        rk[r].batch = malloc(sizeof(float) * BATCH_STEPS * 2 * V);
        ck_assert_ptr_nonnull(rk[r].batch);
        qt_poison_f32(rk[r].batch, (size_t)BATCH_STEPS * 2 * V);
        ck_assert_int_eq(pthread_create(&th[r], NULL, tp_thread, &rk[r]), 0);
    }
    for (int r = 0; r < world; r++) pthread_join(th[r], NULL);
    const char *fmt = quanta_dtype_name(p->quantize ? p->weight_dtype : QUANTA_F32);
    for (int r = 0; r < world; r++) {
        ck_assert_msg(rk[r].out.st == QUANTA_OK, "%s %s world %d rank %d on %s: %s", s->arch, fmt, world, r, backend,
                      rk[r].out.err);
        /* Every rank ends with the same residual stream, hence the same logits, bit for bit. */
        ck_assert_msg(memcmp(rk[r].out.prefill, rk[0].out.prefill, sizeof(float) * PROMPT * V) == 0 &&
                          memcmp(rk[r].out.decode, rk[0].out.decode, sizeof(float) * STEPS * V) == 0,
                      "%s %s world %d: rank %d logits differ from rank 0's", s->arch, fmt, world, r);
        ck_assert_msg(memcmp(rk[r].batch, rk[0].batch, sizeof(float) * BATCH_STEPS * 2 * V) == 0,
                      "%s %s world %d: rank %d batched logits differ from rank 0's", s->arch, fmt, world, r);
        /* The whole model's shape is reported on every rank. */
        ck_assert_int_eq(rk[r].info.n_head, s->n_head);
        ck_assert_int_eq(rk[r].info.n_head_kv, s->n_head_kv);
        ck_assert_int_eq(rk[r].info.n_ff, s->n_ff);
    }
    double e = rel_err(&rk[0].out, whole, V);
    ck_assert_msg(e <= tol, "%s %s world %d on %s: max |dlogit| / max |logit| = %g > %g", s->arch, fmt, world, backend,
                  e, tol);
    double bmax = 0, bscale = 0;
    for (int i = 0; i < BATCH_STEPS * 2 * V; i++) {
        double d = fabs((double)rk[0].batch[i] - whole_batch[i]);
        bmax = d == d ? fmax(bmax, d) : INFINITY;
        bscale = fmax(bscale, fabs((double)whole_batch[i]));
    }
    ck_assert_msg(bmax <= tol * bscale, "%s %s world %d on %s: batched decode rel err %g", s->arch, fmt, world, backend,
                  bmax / bscale);
    for (int i = 0; i < STEPS; i++)
        ck_assert_msg(rk[0].out.toks[i] == whole->toks[i], "%s %s world %d on %s: greedy token %d is %d, unsharded %d",
                      s->arch, fmt, world, backend, i, rk[0].out.toks[i], whole->toks[i]);
    /* Each rank holds a share of the layer weights and only its KV heads. */
    int kv_local = s->n_head_kv % world == 0 ? s->n_head_kv / world : 1;
    uint64_t kv_want = 2ull * (uint64_t)s->n_layer * (uint64_t)kv_local * 8 * (uint64_t)s->head_dim * 4;
    ck_assert_uint_eq(rk[0].kv_bytes, kv_want);
    if (world > 1) ck_assert_uint_lt(rk[0].weights_bytes, whole_bytes);
    printf("tp model: %s %s world %d on %s: rel err %.2g (batched %.2g), ranks bit-identical, %d greedy tokens "
           "equal, %llu of %llu weight bytes per rank\n",
           s->arch, fmt, world, backend, e, bmax / bscale, STEPS, (unsigned long long)rk[0].weights_bytes,
           (unsigned long long)whole_bytes);
    for (int r = 0; r < world; r++) {
        out_free(&rk[r].out);
        free(rk[r].batch);
        quanta_comm_destroy(comms[r]);
    }
}

/* Shapes where q4 (group 32) shards hold whole groups 4 ways: o has K = 4 * 32, down K = 256. */
static const tiny_spec TP_LLAMA = {"llama", 64, 4, 2, 32, 256, 2, 300, 0, 10000.0f, 0, 0};
static const tiny_spec TP_QWEN2 = {"qwen2", 64, 4, 4, 32, 256, 2, 300, 0, 1000000.0f, 0, 0};
/* One KV head (as Gemma 3 270M): every rank keeps it whole. 7 layers: local 0-4, global 5. */
static const tiny_spec TP_GEMMA3 = {"gemma3", 64, 4, 1, 32, 256, 7, 300, 4, 1000000.0f, 0, 0};

static void tp_case(const tiny_spec *spec, uint64_t salt, quanta_dtype fmt, const char *backend, int max_world) {
    tiny_model tm;
    tiny_build(&tm, spec, salt, NULL, NULL);
    quanta_model_params p;
    quanta_model_default_params(&p);
    p.quantize = fmt != QUANTA_F32;
    p.weight_dtype = fmt;
    p.group = 32;
    int V = spec->n_vocab;
    qt_rng rng = qt_rng_make(salt);
    int32_t prompt[PROMPT];
    for (int i = 0; i < PROMPT; i++) prompt[i] = (int32_t)(qt_next(&rng) % (uint64_t)V);
    run_out whole;
    uint64_t whole_bytes;
    out_alloc(&whole, V);
    float *whole_batch = malloc(sizeof(float) * BATCH_STEPS * 2 * V);
    ck_assert_ptr_nonnull(whole_batch);
    run_whole(&tm, &p, prompt, &whole, &whole_bytes, whole_batch);
    if (fmt == QUANTA_F32) { /* anchor the unsharded run to the independent float64 forward pass */
        tiny_ref ref;
        ref_init(&ref, &tm, PROMPT + STEPS);
        double *want = malloc(sizeof(double) * V);
        for (int i = 0; i < PROMPT + STEPS; i++) {
            ref_step(&ref, i < PROMPT ? prompt[i] : whole.toks[i - PROMPT], want);
            const float *got = i < PROMPT ? whole.prefill + (size_t)i * V : whole.decode + (size_t)(i - PROMPT) * V;
            double e = tiny_max_rel_err(got, want, V);
            ck_assert_msg(e < 2e-5, "%s unsharded position %d: rel err %g against float64", spec->arch, i, e);
        }
        free(want);
        ref_free(&ref);
    }
    /* The reference backend: only the summation order differs. Others: their own f32
     * accumulation, against the reference's unsharded run (as the model tests bound it). */
    double tol = strcmp(backend, "ref") ? 1e-4 : 1e-5;
    for (int world = 1; world <= max_world; world *= 2)
        if (spec->n_head % world == 0)
            check_world(&tm, &p, backend, world, prompt, &whole, whole_bytes, whole_batch, tol);
    out_free(&whole);
    free(whole_batch);
    tiny_free(&tm);
}

START_TEST(test_tp_llama) {
    tp_case(&TP_LLAMA, 610, QUANTA_F32, "ref", 4);
    tp_case(&TP_LLAMA, 611, QUANTA_Q8, "ref", 4);
    tp_case(&TP_LLAMA, 612, QUANTA_Q4, "ref", 4);
}
END_TEST

START_TEST(test_tp_qwen2) {
    tp_case(&TP_QWEN2, 620, QUANTA_F32, "ref", 4);
    tp_case(&TP_QWEN2, 621, QUANTA_Q4, "ref", 4);
}
END_TEST

START_TEST(test_tp_gemma3) {
    tp_case(&TP_GEMMA3, 630, QUANTA_F32, "ref", 4);
    tp_case(&TP_GEMMA3, 631, QUANTA_Q8, "ref", 4);
    tp_case(&TP_GEMMA3, 632, QUANTA_Q4, "ref", 4);
}
END_TEST

START_TEST(test_tp_opencl) {
    if (!backend_usable("opencl")) {
        printf("tp model: opencl not available, skipped\n");
        return;
    }
    tp_case(&TP_LLAMA, 640, QUANTA_Q8, "opencl", 2);
    tp_case(&TP_GEMMA3, 641, QUANTA_F32, "opencl", 2);
}
END_TEST

/* The public entry point, from a file: rank 0 of a world of 1 (no thread needed). */
START_TEST(test_tp_load_file) {
    tiny_model tm;
    tiny_build(&tm, &TP_LLAMA, 650, NULL, NULL);
    char path[] = "/tmp/quanta_tp_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert(write(fd, tm.image, tm.image_size) == (ssize_t)tm.image_size);
    close(fd);
    quanta_backend *be;
    ck_assert(quanta_backend_open("ref", &be) == QUANTA_OK);
    quanta_comm *c[1];
    ck_assert_int_eq(quanta_comm_create_local(1, c), QUANTA_OK);
    quanta_model *m = (quanta_model *)1;
    ck_assert_int_eq(quanta_model_load_tp(path, be, NULL, NULL, &m), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(m);
    ck_assert_ptr_nonnull(strstr(quanta_last_error(), "comm"));
    ck_assert_int_eq(quanta_model_load_tp(NULL, be, NULL, c[0], &m), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(quanta_model_load_tp(path, be, NULL, c[0], NULL), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_msg(quanta_model_load_tp(path, be, NULL, c[0], &m) == QUANTA_OK, "%s", quanta_last_error());
    quanta_model_info info;
    ck_assert(quanta_model_get_info(m, &info) == QUANTA_OK);
    ck_assert_int_eq(info.n_head, TP_LLAMA.n_head);
    quanta_model_destroy(m);
    quanta_comm_destroy(c[0]);
    quanta_backend_close(be);
    unlink(path);
    tiny_free(&tm);
}
END_TEST

/* Loads rank 0 of `world` and expects INVALID_ARGUMENT with `needle` in the message. Rank 0
 * alone is enough: configurations are checked while loading, before any collective. */
static void expect_reject(const tiny_spec *spec, quanta_dtype fmt, int group, int world, const char *needle) {
    tiny_model tm;
    tiny_build(&tm, spec, 660, NULL, NULL);
    quanta_model_params p;
    quanta_model_default_params(&p);
    p.quantize = fmt != QUANTA_F32;
    p.weight_dtype = fmt;
    p.group = group;
    quanta_comm *comms[8];
    ck_assert_int_eq(quanta_comm_create_local(world, comms), QUANTA_OK);
    quanta_backend *be;
    ck_assert(quanta_backend_open("ref", &be) == QUANTA_OK);
    qn_gguf *g;
    ck_assert(qn_gguf_open_memory(tm.image, tm.image_size, &g) == QUANTA_OK);
    quanta_model *m = (quanta_model *)1;
    quanta_status st = qn_model_from_gguf_tp(g, be, &p, comms[0], &m);
    ck_assert_msg(st == QUANTA_ERR_INVALID_ARGUMENT, "%s world %d: status %d", spec->arch, world, (int)st);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(quanta_last_error(), needle), "message '%s' lacks '%s'", quanta_last_error(), needle);
    printf("tp model: rejected as expected: %s\n", quanta_last_error());
    qn_gguf_close(g);
    quanta_backend_close(be);
    for (int r = 0; r < world; r++) quanta_comm_destroy(comms[r]);
    tiny_free(&tm);
}

START_TEST(test_tp_bad_configs) {
    expect_reject(&TP_LLAMA, QUANTA_F32, 0, 3, "n_head = 4 is not divisible by world = 3");
    tiny_spec s = TP_LLAMA;
    s.n_ff = 250; /* 4 heads split 2 ways, but not 250 / 4 */
    expect_reject(&s, QUANTA_F32, 0, 4, "n_ff = 250");
    s = TP_LLAMA;
    s.n_head = 12;
    s.n_head_kv = 3;
    s.head_dim = 8; /* 12 heads, 3 KV heads, 2 ranks: neither divides the other */
    expect_reject(&s, QUANTA_F32, 0, 2, "n_head_kv = 3");
    /* q4 group 128: o's K = 128 cannot give two ranks whole groups. */
    expect_reject(&TP_LLAMA, QUANTA_Q4, 128, 2, "whole");
}
END_TEST

/* A rank whose eval fails aborts the group: the other rank, waiting in an all-reduce, gets
 * QUANTA_ERR_STATE instead of hanging, and so does every later collective. */
typedef struct fail_rank {
    const tiny_model *tm;
    quanta_comm *comm;
    int bad;  /* evaluate an invalid token after the prompt */
    quanta_status prompt_st, step_st, again_st;
    char err[512];
} fail_rank;

static void *fail_thread(void *arg) {
    fail_rank *r = arg;
    quanta_backend *be = NULL;
    quanta_model *m = NULL;
    quanta_model_context *ctx = NULL;
    qn_gguf *g = NULL;
    quanta_status st = quanta_backend_open("ref", &be);
    if (!st) st = qn_gguf_open_memory(r->tm->image, r->tm->image_size, &g);
    if (!st) st = qn_model_from_gguf_tp(g, be, NULL, r->comm, &m);
    qn_gguf_close(g);
    if (!st) st = quanta_model_context_create(m, 8, &ctx);
    int32_t prompt[3] = {5, 6, 7}, tok = r->bad ? r->tm->s.n_vocab : 9;
    if (!st) st = quanta_model_eval(ctx, prompt, 3, NULL, 0);
    r->prompt_st = st;
    if (!st) {
        r->step_st = quanta_model_eval(ctx, &tok, 1, NULL, 0);
        snprintf(r->err, sizeof r->err, "%s", quanta_last_error());
        tok = 9;
        r->again_st = quanta_model_eval(ctx, &tok, 1, NULL, 0);
    }
    quanta_model_context_destroy(ctx);
    quanta_model_destroy(m);
    quanta_backend_close(be);
    return NULL;
}

START_TEST(test_tp_rank_failure_aborts) {
    tiny_model tm;
    tiny_build(&tm, &TP_LLAMA, 670, NULL, NULL);
    quanta_comm *comms[2];
    ck_assert_int_eq(quanta_comm_create_local(2, comms), QUANTA_OK);
    fail_rank rk[2];
    pthread_t th[2];
    for (int r = 0; r < 2; r++) {
        memset(&rk[r], 0, sizeof rk[r]);
        rk[r].tm = &tm;
        rk[r].comm = comms[r];
        rk[r].bad = r == 1;
        ck_assert_int_eq(pthread_create(&th[r], NULL, fail_thread, &rk[r]), 0);
    }
    for (int r = 0; r < 2; r++) pthread_join(th[r], NULL);
    ck_assert_int_eq(rk[0].prompt_st, QUANTA_OK);
    ck_assert_int_eq(rk[1].prompt_st, QUANTA_OK);
    ck_assert_int_eq(rk[1].step_st, QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_msg(rk[0].step_st == QUANTA_ERR_STATE && strstr(rk[0].err, "aborted"), "rank 0: %d %s",
                  (int)rk[0].step_st, rk[0].err);
    ck_assert_int_eq(rk[0].again_st, QUANTA_ERR_STATE);
    ck_assert_int_eq(rk[1].again_st, QUANTA_ERR_STATE);
    printf("tp model: a failing rank aborts the group: rank 0 got \"%s\"\n", rk[0].err);
    quanta_comm_destroy(comms[0]);
    quanta_comm_destroy(comms[1]);
    tiny_free(&tm);
}
END_TEST

int main(void) {
    Suite *s = suite_create("tp_model");
    TCase *tc = tcase_create("tp_model");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_all_reduce_op);
    tcase_add_test(tc, test_all_reduce_errors);
    tcase_add_test(tc, test_all_reduce_count_mismatch);
    tcase_add_test(tc, test_tp_llama);
    tcase_add_test(tc, test_tp_qwen2);
    tcase_add_test(tc, test_tp_gemma3);
    tcase_add_test(tc, test_tp_opencl);
    tcase_add_test(tc, test_tp_load_file);
    tcase_add_test(tc, test_tp_bad_configs);
    tcase_add_test(tc, test_tp_rank_failure_aborts);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
