/* cases.c — the generated sweep: op × dtype/format × shape class × flags.
 *
 * Shape classes: tiny (1-3 elements per dim), odd (sizes that are a multiple of no tile),
 * large K / long rows, decode (one token: matmul m=1, attention nq=1), long sequences
 * (attention over 8192 keys). Flags are rotated through the classes instead of fully crossed so
 * that every flag meets every dtype without the sweep exploding. The quick list is the CI smoke
 * subset: every op and format once or twice, on small shapes. */
#include <stdlib.h>
#include <string.h>

#include "conform.h"

int qc_case_list_push(qc_case_list *list, const qc_case *c) {
    qc_case *v = qc_grow(list->v, list->n, &list->cap, sizeof *v, 64);
    if (!v) return -1;
    list->v = v;
    list->v[list->n++] = *c;
    return 0;
}

void qc_case_list_free(qc_case_list *list) {
    free(list->v);
    memset(list, 0, sizeof *list);
}

static const quanta_dtype acts[3] = {QUANTA_F32, QUANTA_F16, QUANTA_BF16};

/* A weight format with its group and double-quant setting. */
typedef struct wfmt {
    quanta_dtype t;
    int32_t g, dq;
} wfmt;

static const wfmt wfmts[] = {
    {QUANTA_F32, 0, 0},  {QUANTA_F16, 0, 0},  {QUANTA_BF16, 0, 0},      {QUANTA_Q8, 0, 0},
    {QUANTA_Q4, 32, 0},  {QUANTA_Q4, 64, 0},  {QUANTA_Q4, 128, 0},      {QUANTA_NF4, 64, 0},
    {QUANTA_NF4, 64, 1}, {QUANTA_FP8_E4M3, 0, 0}, {QUANTA_FP8_E5M2, 0, 0},
    /* ggml block formats, as GGUF files store them */
    {QUANTA_GGML_Q4_0, 0, 0}, {QUANTA_GGML_Q4_1, 0, 0}, {QUANTA_GGML_Q5_0, 0, 0}, {QUANTA_GGML_Q5_1, 0, 0},
    {QUANTA_GGML_Q8_0, 0, 0}, {QUANTA_GGML_Q4_K, 0, 0}, {QUANTA_GGML_Q5_K, 0, 0}, {QUANTA_GGML_Q6_K, 0, 0},
};
#define NWFMT (sizeof wfmts / sizeof wfmts[0])

static void set_weight(qc_case *c, const wfmt *w) {
    c->wtype = w->t;
    c->group = w->g;
    c->dq = w->dq;
}

/* The smallest legal K/cols for a format, and a size rounded to a legal multiple. */
static int64_t wquantum(const wfmt *w) {
    if (w->t == QUANTA_Q4) return w->g;
    if (w->t == QUANTA_NF4) return 64;
    if (w->t >= QUANTA_GGML_Q4_0 && w->t <= QUANTA_GGML_Q6_K) return w->t >= QUANTA_GGML_Q4_K ? 256 : 32;
    return 1;
}
static int64_t legal(const wfmt *w, int64_t k) {
    int64_t q = wquantum(w);
    k = (k + q - 1) / q * q;
    return k < q ? q : k;
}

typedef struct gen {
    qc_case_list *list;
    const bool *ops;
    int failed;
} gen;

static void add(gen *g, const qc_case *c) {
    if (g->ops && !g->ops[c->op]) return;
    char err[QC_ERR_MAX];
    /* Every generated case must be valid; a bad one is a bug here, reported as failure. */
    if (qc_case_validate(c, err, sizeof err) || qc_case_list_push(g->list, c)) g->failed = 1;
}

static void set_shape(qc_case *c, int nd, int64_t a, int64_t b, int64_t cc, int64_t d) {
    int64_t v[4] = {a, b, cc, d};
    c->ndim = nd;
    for (int i = 0; i < QUANTA_MAX_DIMS; i++) c->shape[i] = i < nd ? v[i] : 0;
}

/* ----------------------------------------------------------------- matmul */

static void matmul_case(gen *g, const wfmt *w, quanta_dtype x, int64_t b, int64_t m, int64_t n, int64_t k,
                        int wbuf) {
    qc_case c;
    qc_case_defaults(QC_MATMUL, &c);
    set_weight(&c, w);
    c.dtype = x;
    c.b = b;
    c.m = m;
    c.n = n;
    c.k = legal(w, k);
    c.wbuf = wbuf;
    add(g, &c);
}

static void gen_matmul(gen *g, bool quick) {
    for (size_t i = 0; i < NWFMT; i++) {
        const wfmt *w = &wfmts[i];
        if (quick) {
            /* Each format once with a rotating activation dtype, odd M/N. */
            matmul_case(g, w, acts[i % 3], 1, 3, 17, legal(w, 96), (int)(i % 4 == 3));
            continue;
        }
        for (int xi = 0; xi < 3; xi++) {
            quanta_dtype x = acts[xi];
            matmul_case(g, w, x, 1, 1, 1, wquantum(w) > 1 ? wquantum(w) : 3, 0);          /* tiny */
            matmul_case(g, w, x, 1, 7, 67, wquantum(w) > 1 ? 3 * wquantum(w) : 131,
                        xi == 1);                                                       /* odd */
            matmul_case(g, w, x, 1, 3, 64, 4096, 0);                                    /* large K */
            matmul_case(g, w, x, 1, 1, 512, 1024, xi == 2);                             /* decode */
            matmul_case(g, w, x, 2, 33, 96, 256, 0);                                    /* batch, leading dim */
        }
    }
}

/* -------------------------------------------------------------- attention */

typedef struct attn_flags {
    int32_t causal, window, mask, kvlens, gqa;
} attn_flags;

/* Rotated through the shape classes: every flag with every GQA ratio 1/4/8. */
static const attn_flags attn_variants[] = {
    {0, 0, 0, 0, 1}, {1, 0, 0, 0, 4}, {1, 16, 0, 0, 8}, {0, 0, 1, 0, 1},
    {0, 0, 2, 1, 4}, {1, 0, 1, 1, 8}, {0, 0, 0, 1, 1}, {1, 7, 2, 0, 4},
};
#define NATTN (sizeof attn_variants / sizeof attn_variants[0])

static void attn_case(gen *g, quanta_dtype t, int64_t d, int64_t b, int64_t hkv, int64_t nq, int64_t nk,
                      const attn_flags *f) {
    qc_case c;
    qc_case_defaults(QC_ATTENTION, &c);
    c.dtype = t;
    c.d = d;
    c.b = b;
    c.hkv = hkv;
    c.hq = hkv * f->gqa;
    c.nq = nq;
    c.nk = nk;
    c.causal = f->causal;
    c.window = f->window;
    c.mask = f->mask;
    c.kvlens = f->kvlens;
    add(g, &c);
}

static void gen_attention(gen *g, bool quick) {
    if (quick) {
        static const int64_t dims[] = {64, 80, 128, 13};
        for (size_t i = 0; i < NATTN; i++) {
            quanta_dtype t = acts[i % 3];
            int64_t d = dims[i % 4];
            if (i % 2 == 0) attn_case(g, t, d, 2, 1, 19, 37, &attn_variants[i]);  /* prefill, odd */
            else attn_case(g, t, d, 1, 2, 1, 77, &attn_variants[i]);              /* decode */
        }
        return;
    }
    static const int64_t dims[] = {64, 80, 96, 128, 256, 5, 13, 40};
    size_t v = 0;
    for (int ti = 0; ti < 3; ti++)
        for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
            int64_t d = dims[di];
            for (int r = 0; r < 2; r++) { /* two flag variants per class */
                attn_case(g, acts[ti], d, 2, 2, 37, 37, &attn_variants[v++ % NATTN]);  /* prefill square */
                attn_case(g, acts[ti], d, 1, 2, 19, 129, &attn_variants[v++ % NATTN]); /* prefill on a cache */
                attn_case(g, acts[ti], d, 2, 1, 1, 129, &attn_variants[v++ % NATTN]);  /* decode */
                attn_case(g, acts[ti], d, 1, 2, 3, 1, &attn_variants[v++ % NATTN]);    /* one key */
                attn_case(g, acts[ti], d, 1, 1, 1, 1, &attn_variants[v++ % NATTN]);    /* tiny */
            }
        }
    /* Long sequences: 8192 keys, decode and a short prefill chunk. */
    static const int64_t long_dims[] = {64, 128};
    for (int ti = 0; ti < 3; ti++)
        for (int di = 0; di < 2; di++) {
            attn_case(g, acts[ti], long_dims[di], 1, 2, 1, 8192, &attn_variants[v++ % NATTN]);
            attn_case(g, acts[ti], long_dims[di], 1, 1, 16, 8192, &attn_variants[v++ % NATTN]);
        }
}

/* --------------------------------------------------- row-wise and unary */

static const int64_t (*shape_classes(bool quick, size_t *n))[3] {
    /* {ndim, rows, cols}: tiny, odd, decode row, long rows, many rows */
    static const int64_t full[][3] = {{2, 1, 1}, {2, 3, 1001}, {2, 1, 4096}, {3, 7, 33}, {2, 64, 4096}};
    static const int64_t small[][3] = {{2, 3, 257}};
    *n = quick ? 1 : sizeof full / sizeof full[0];
    return quick ? small : full;
}

static void shaped(qc_case *c, const int64_t s[3]) {
    if (s[0] == 3) set_shape(c, 3, 2, s[1], s[2], 0);
    else set_shape(c, 2, s[1], s[2], 0, 0);
}

static void gen_rowwise(gen *g, bool quick) {
    size_t ns;
    const int64_t(*sh)[3] = shape_classes(quick, &ns);
    for (int ti = 0; ti < 3; ti++)
        for (size_t si = 0; si < ns; si++) {
            qc_case c;
            size_t rot = (size_t)ti + si; /* rotates flags through dtypes and shapes */

            qc_case_defaults(QC_RMS_NORM, &c);
            c.dtype = acts[ti];
            shaped(&c, sh[si]);
            c.weight = rot % 3 != 0;
            c.plus1 = rot % 3 == 2;
            add(g, &c);
            c.op = QC_ADD_RMS_NORM; /* the same flags with a residual added first */
            add(g, &c);

            static const qc_op unary[] = {QC_SILU, QC_SOFTMAX};
            for (int u = 0; u < 2; u++) {
                qc_case_defaults(unary[u], &c);
                c.dtype = acts[ti];
                shaped(&c, sh[si]);
                add(g, &c);
            }
            for (int a = 0; a < 2; a++) {
                if (quick && a != ti % 2) continue;
                qc_case_defaults(QC_GELU, &c);
                c.dtype = acts[ti];
                shaped(&c, sh[si]);
                c.approx = a;
                add(g, &c);
            }
            static const qc_op binary[] = {QC_ADD, QC_MUL};
            for (int bi = 0; bi < 2; bi++)
                for (int bc = 0; bc < 2; bc++) {
                    if (quick && bc != (ti + bi) % 2) continue;
                    qc_case_defaults(binary[bi], &c);
                    c.dtype = acts[ti];
                    shaped(&c, sh[si]);
                    c.bcast = bc;
                    add(g, &c);
                }
            static const float factors[] = {0.5f, -3.25f, 0.0078125f, 1.7f, 100.0f};
            qc_case_defaults(QC_SCALE, &c);
            c.dtype = acts[ti];
            shaped(&c, sh[si]);
            c.scale = factors[rot % 5];
            add(g, &c);

            for (int to = 0; to < 3; to++) {
                if (quick && to == ti) continue;
                qc_case_defaults(QC_CONVERT, &c);
                c.dtype = acts[ti];
                c.to = acts[to];
                shaped(&c, sh[si]);
                add(g, &c);
            }
        }
    if (!quick) { /* softmax over a vocabulary-sized row */
        for (int ti = 0; ti < 3; ti++) {
            qc_case c;
            qc_case_defaults(QC_SOFTMAX, &c);
            c.dtype = acts[ti];
            set_shape(&c, 2, 2, 32000, 0, 0);
            add(g, &c);
        }
    }
}

/* ------------------------------------------------------------------- rope */

static void gen_rope(gen *g, bool quick) {
    /* {B, H, N, D, offset}: tiny, odd, decode far into a sequence, long prefill */
    static const int64_t full[][5] = {
        {1, 1, 1, 2, 0}, {2, 3, 7, 80, 37}, {1, 8, 1, 128, 4095}, {1, 4, 512, 64, 0}, {1, 2, 33, 256, 1000}};
    static const int64_t small[][5] = {{1, 3, 7, 80, 37}, {1, 2, 1, 64, 4095}};
    size_t ns = quick ? 2 : sizeof full / sizeof full[0];
    const int64_t(*sh)[5] = quick ? small : full;
    for (int ti = 0; ti < 3; ti++)
        for (int mode = 0; mode < 2; mode++)
            for (size_t si = 0; si < ns; si++)
                for (int partial = 0; partial < 2; partial++) {
                    if (quick && ((size_t)partial != (ti + si) % 2 || (size_t)mode != si)) continue;
                    qc_case c;
                    qc_case_defaults(QC_ROPE, &c);
                    c.dtype = acts[ti];
                    c.mode = mode;
                    set_shape(&c, 4, sh[si][0], sh[si][1], sh[si][2], sh[si][3]);
                    c.offset = sh[si][4];
                    /* partial rotation: half of D rounded to even (e.g. Phi, GPT-J style) */
                    c.rot = partial ? (int32_t)(sh[si][3] / 2 / 2 * 2) : 0;
                    if (partial && c.rot == 0) continue;
                    if (si == 4) c.fscale = 0.25f; /* linear position scaling */
                    add(g, &c);
                }
}

/* ------------------------------------------------------------ data movement */

static void gen_rows(gen *g, bool quick) {
    /* get_rows over every table format: {v, d-hint, t} */
    static const int64_t full[][3] = {{1, 64, 1}, {101, 192, 17}, {5000, 512, 64}};
    for (size_t i = 0; i < NWFMT; i++)
        for (size_t s = 0; s < (quick ? 1u : 3u); s++) {
            const wfmt *w = &wfmts[i];
            qc_case c;
            qc_case_defaults(QC_GET_ROWS, &c);
            set_weight(&c, w);
            if (quick) {
                c.v = 37;
                c.d = legal(w, 96);
                c.t = 9;
            } else {
                c.v = full[s][0];
                c.d = legal(w, wquantum(w) > 1 ? full[s][1] : full[s][1] + 3);
                c.t = full[s][2];
            }
            c.wbuf = (int32_t)((i + s) % 3 == 1);
            add(g, &c);
        }

    /* permute */
    static const struct { int nd; int64_t s[4]; const char *perm; } perms[] = {
        {4, {2, 3, 5, 7}, "0213"}, {4, {1, 7, 3, 64}, "0213"}, {4, {2, 3, 5, 7}, "3210"},
        {4, {3, 1, 9, 5}, "0132"}, {3, {5, 33, 17}, "102"},   {2, {37, 129}, "10"},
        {3, {4, 6, 10}, "021"},    {1, {1000, 0, 0, 0}, "0"},
    };
    size_t np = sizeof perms / sizeof perms[0];
    for (int ti = 0; ti < 3; ti++)
        for (size_t p = 0; p < np; p++) {
            if (quick && p % 3 != (size_t)ti) continue;
            qc_case c;
            qc_case_defaults(QC_PERMUTE, &c);
            c.dtype = acts[ti];
            set_shape(&c, perms[p].nd, perms[p].s[0], perms[p].s[1], perms[p].s[2], perms[p].s[3]);
            for (int d = 0; d < QUANTA_MAX_DIMS; d++) c.perm[d] = d < perms[p].nd ? perms[p].perm[d] - '0' : -1;
            add(g, &c);
        }

    /* write_rows: {b, h, nmax, t, d, start}: first row, a middle chunk, up to the end */
    static const int64_t wr[][6] = {{1, 1, 1, 1, 1, 0}, {2, 3, 37, 7, 80, 11}, {1, 8, 256, 1, 128, 255},
                                    {1, 2, 64, 64, 64, 0}};
    for (int ti = 0; ti < 3; ti++)
        for (size_t s = 0; s < 4; s++) {
            if (quick && s != 1 + (size_t)ti % 2) continue;
            qc_case c;
            qc_case_defaults(QC_WRITE_ROWS, &c);
            c.dtype = acts[ti];
            c.b = wr[s][0];
            c.h = wr[s][1];
            c.nmax = wr[s][2];
            c.t = wr[s][3];
            c.d = wr[s][4];
            c.start = wr[s][5];
            add(g, &c);
        }
}

/* ------------------------------------------------------------ paged attention */

/* Paged attention: decode and short prefills over block tables of odd block counts and sizes,
 * GQA 1/2/4, a window that frees blocks, lengths that end mid-block. {b, hq, hkv, nq, nk, bs,
 * d, causal, window} */
static void gen_paged_attention(gen *g, bool quick) {
    static const int64_t pc[][9] = {
        {3, 4, 2, 1, 37, 16, 64, 1, 0},   /* decode, GQA 2, 3 blocks per sequence, last partial */
        {5, 8, 2, 1, 130, 16, 128, 1, 0}, /* decode, GQA 4, 9 blocks */
        {2, 4, 4, 5, 77, 7, 80, 1, 0},    /* prefill chunk of 5, odd block size 7 (11 blocks) */
        {4, 8, 1, 1, 200, 16, 64, 1, 48}, /* decode, one kv head, window 48 frees early blocks */
        {1, 2, 2, 3, 3, 1, 13, 0, 0},     /* block size 1, tiny head, not causal */
        {7, 4, 2, 1, 1, 16, 64, 1, 0},    /* one key per sequence */
        {2, 16, 8, 9, 300, 32, 128, 1, 100}, /* prefill of 9 with a window, 10 blocks of 32 */
    };
    const size_t n = sizeof pc / sizeof pc[0];
    for (int ti = 0; ti < 3; ti++)
        for (size_t i = 0; i < n; i++) {
            if (quick && i % 3 != (size_t)ti) continue;
            qc_case c;
            qc_case_defaults(QC_PAGED_ATTENTION, &c);
            c.dtype = acts[ti];
            c.b = pc[i][0], c.hq = pc[i][1], c.hkv = pc[i][2], c.nq = pc[i][3], c.nk = pc[i][4];
            c.bs = (int32_t)pc[i][5], c.d = pc[i][6], c.causal = (int32_t)pc[i][7], c.window = (int32_t)pc[i][8];
            add(g, &c);
        }
}

int qc_cases_generate(qc_case_list *list, bool quick, const bool *ops) {
    gen g = {list, ops, 0};
    gen_matmul(&g, quick);
    gen_attention(&g, quick);
    gen_paged_attention(&g, quick);
    gen_rowwise(&g, quick);
    gen_rope(&g, quick);
    gen_rows(&g, quick);
    return g.failed ? -1 : 0;
}
