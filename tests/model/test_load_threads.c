/*
 * test_load_threads.c — the load-time conversion's bytes do not depend on how many threads do it
 * (QUANTA_LOAD_THREADS, model/load.c, base/par_for.c): a tiny model stored as f32 and in ggml
 * block formats (Q4_K, Q8_0, Q4_0, Q6_K: each 2-D tensor quantized from the random f32 weights),
 * and as a Hugging Face safetensors checkpoint with its matrices in F32, F16 and BF16, loaded on
 * the reference backend with 1 and with 3 threads and converted at load to q8, fp8, f16, bf16,
 * f32, q4 (groups of 64, 32 and 128) and nf4 (all by row ranges on the load threads), or kept as
 * stored; every weight buffer is read back and must equal, byte for byte, both the other load's
 * and the plain conversion of the whole tensor done here (qn_gguf_tensor_to_f32 or
 * qn_st_tensor_to_f32, then quanta_quantize). The embeddings span several of the conversion's
 * row ranges, the last one short. The weights are random (tiny_build: the seed is printed).
 */
#include "formats.h"
#include "safetensors.h"
#include "tiny_hf.h"
#include "tiny_model.h"

/* V rows of 256: 1100 rows make 5 ranges of 256 rows (65536 f32 each), the last 76 */
static const tiny_spec SPEC = {"llama", 256, 4, 2, 64, 512, 2, 1100, 0, 10000.0f, 0, 0};

/* The tiny model's file with every 2-D tensor stored as ggml type `dtype` (a QUANTA_GGML_*). */
static void *retyped(const tiny_model *tm, quanta_dtype dtype, size_t *size) {
    qn_gguf *g;
    ck_assert(qn_gguf_open_memory(tm->image, tm->image_size, &g) == QUANTA_OK);
    qn_gguf_writer *w;
    ck_assert(qn_gguf_writer_create(&w) == QUANTA_OK);
    for (uint64_t i = 0; i < qn_gguf_kv_count(g); i++) ck_assert(qn_gguf_writer_copy_kv(w, g, i) == QUANTA_OK);
    uint32_t type;
    ck_assert(qn_ggml_block_of(dtype, &type, NULL) > 0);
    for (uint64_t i = 0; i < qn_gguf_tensor_count(g); i++) {
        const qn_gguf_tensor *t = qn_gguf_tensor_at(g, i);
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        const size_t n = (size_t)qn_gguf_tensor_elements(t);
        float *f = malloc(n * sizeof *f);
        ck_assert_ptr_nonnull(f);
        ck_assert(qn_gguf_tensor_to_f32(t, f, n) == QUANTA_OK);
        if (t->ndim == 2) {
            quanta_tensor_desc d = {dtype, 2, {t->dims[1], t->dims[0], 0, 0}, 0, 0};
            size_t bytes;
            ck_assert(quanta_tensor_bytes(&d, &bytes) == QUANTA_OK);
            void *b = malloc(bytes);
            ck_assert_ptr_nonnull(b);
            ck_assert_msg(quanta_quantize(&d, f, b, bytes) == QUANTA_OK, "%s: %s", name, quanta_last_error());
            ck_assert(qn_gguf_writer_add_tensor(w, name, 2, t->dims, type, b, bytes) == QUANTA_OK);
            free(b);
        } else {
            ck_assert(qn_gguf_writer_add_tensor(w, name, t->ndim, t->dims, 0, f, n * sizeof *f) == QUANTA_OK);
        }
        free(f);
    }
    void *img;
    ck_assert(qn_gguf_writer_write_memory(w, &img, size) == QUANTA_OK);
    qn_gguf_writer_destroy(w);
    qn_gguf_close(g);
    return img;
}

/* What a load converts to: quantize off (as stored), or a weight format and its q4 group. */
typedef struct target {
    int quantize;
    quanta_dtype dtype;
    int group;
} target;

/* The model from a GGUF image (img) or a Hugging Face directory (dir), on `threads` threads;
 * with comm, the rank's shard of a GGUF model. */
static quanta_model *load_with(const void *img, size_t size, const char *dir, quanta_backend *be, const target *t,
                               const char *threads, quanta_comm *comm) {
    ck_assert(setenv("QUANTA_LOAD_THREADS", threads, 1) == 0);
    quanta_model_params p;
    quanta_model_default_params(&p);
    p.quantize = t->quantize;
    p.weight_dtype = t->dtype;
    p.group = t->group;
    quanta_model *m = NULL;
    quanta_status st;
    if (dir) {
        st = quanta_model_load(dir, be, &p, &m);
    } else {
        qn_gguf *g;
        ck_assert(qn_gguf_open_memory(img, size, &g) == QUANTA_OK);
        st = qn_model_from_gguf_tp(g, be, &p, comm, &m);
        qn_gguf_close(g);
    }
    ck_assert(unsetenv("QUANTA_LOAD_THREADS") == 0);
    ck_assert_msg(st == QUANTA_OK, "load (%s threads, %s g%d): %s", threads, quanta_dtype_name(t->dtype), t->group,
                  quanta_last_error());
    return m;
}

/* The buffer's bytes (poisoned first); *bytes its size. */
static uint8_t *read_all(const quanta_buffer *b, quanta_tensor_desc *d, size_t *bytes) {
    ck_assert(quanta_buffer_desc(b, d) == QUANTA_OK);
    ck_assert(quanta_tensor_bytes(d, bytes) == QUANTA_OK);
    uint8_t *p = malloc(*bytes);
    ck_assert_ptr_nonnull(p);
    memset(p, 0xC3, *bytes);
    ck_assert(quanta_buffer_read(b, p, *bytes) == QUANTA_OK);
    return p;
}

/* Where the expected bytes come from: the GGUF image or the checkpoint's model.safetensors. */
typedef struct source {
    const qn_gguf *g;
    const qn_safetensors *st;
} source;

/* transformers' name of a GGUF weight name of the tiny LLaMA (tiny_hf.h writes these). */
static void hf_name_of(const char *gguf, char *out, size_t cap) {
    static const char *const map[][2] = {
        {"attn_norm.weight", "input_layernorm.weight"}, {"attn_q.weight", "self_attn.q_proj.weight"},
        {"attn_k.weight", "self_attn.k_proj.weight"},   {"attn_v.weight", "self_attn.v_proj.weight"},
        {"attn_output.weight", "self_attn.o_proj.weight"}, {"ffn_norm.weight", "post_attention_layernorm.weight"},
        {"ffn_gate.weight", "mlp.gate_proj.weight"},    {"ffn_up.weight", "mlp.up_proj.weight"},
        {"ffn_down.weight", "mlp.down_proj.weight"}};
    int l, off = 0;
    if (!strcmp(gguf, "token_embd.weight")) snprintf(out, cap, "model.embed_tokens.weight");
    else if (!strcmp(gguf, "output_norm.weight")) snprintf(out, cap, "model.norm.weight");
    else if (!strcmp(gguf, "output.weight")) snprintf(out, cap, "lm_head.weight");
    else {
        ck_assert(sscanf(gguf, "blk.%d.%n", &l, &off) == 1 && off > 0);
        size_t i = 0;
        while (i < sizeof map / sizeof *map && strcmp(gguf + off, map[i][0])) i++;
        ck_assert_msg(i < sizeof map / sizeof *map, "no transformers name for %s", gguf);
        snprintf(out, cap, "model.layers.%d.%s", l, map[i][1]);
    }
}

/* The tensor's values in f32 (*n of them) and, for ggml blocks kept as stored, its bytes. */
static float *source_f32(const source *src, const char *name, size_t *n, const void **raw) {
    float *f;
    if (src->g) {
        const qn_gguf_tensor *t = qn_gguf_find_tensor(src->g, name);
        ck_assert_ptr_nonnull(t);
        *n = (size_t)qn_gguf_tensor_elements(t);
        *raw = t->data;
        f = malloc(*n * sizeof *f);
        ck_assert_ptr_nonnull(f);
        ck_assert(qn_gguf_tensor_to_f32(t, f, *n) == QUANTA_OK);
        return f;
    }
    char hf[128];
    hf_name_of(name, hf, sizeof hf);
    const qn_st_tensor *t = qn_st_find(src->st, hf);
    ck_assert_msg(t != NULL, "%s (%s) not in the checkpoint", hf, name);
    *n = (size_t)qn_st_tensor_elements(t);
    *raw = t->data;
    f = malloc(*n * sizeof *f);
    ck_assert_ptr_nonnull(f);
    ck_assert(qn_st_tensor_to_f32(t, f, *n) == QUANTA_OK);
    return f;
}

/* The buffer of tensor `name` in a and b against each other and the whole-tensor conversion. */
static int check_one(const source *src, const char *name, const quanta_buffer *a, const quanta_buffer *b,
                     const char *what) {
    if (!a && !b) return 0;
    ck_assert_msg(a && b, "%s: %s present in one load only", what, name);
    quanta_tensor_desc da, db;
    size_t na, nb;
    uint8_t *pa = read_all(a, &da, &na), *pb = read_all(b, &db, &nb);
    ck_assert_msg(da.dtype == db.dtype && da.group == db.group && na == nb, "%s: %s: %s vs %s", what, name,
                  quanta_dtype_name(da.dtype), quanta_dtype_name(db.dtype));
    size_t n;
    const void *raw;
    float *f = source_f32(src, name, &n, &raw);
    uint8_t *want = malloc(na);
    ck_assert_ptr_nonnull(want);
    if (qn_dtype_is_ggml(da.dtype)) memcpy(want, raw, na); /* kept as the file stores it */
    else ck_assert_msg(quanta_quantize(&da, f, want, na) == QUANTA_OK, "%s: %s", name, quanta_last_error());
    for (size_t i = 0; i < na; i++) { /* ck_assert per byte would log each one: compare first */
        if (pa[i] != pb[i])
            ck_abort_msg("%s: %s (%s) byte %zu: 1 thread %u, 3 threads %u", what, name, quanta_dtype_name(da.dtype), i,
                         pa[i], pb[i]);
        if (pb[i] != want[i])
            ck_abort_msg("%s: %s (%s) byte %zu: loaded %u, whole-tensor conversion %u", what, name,
                         quanta_dtype_name(da.dtype), i, pb[i], want[i]);
    }
    free(pa);
    free(pb);
    free(f);
    free(want);
    return 1;
}

/* Every weight of the two models; returns how many were compared. */
static int check_models(const source *src, const quanta_model *a, const quanta_model *b, const char *what) {
    int n = check_one(src, "token_embd.weight", a->tok_embd, b->tok_embd, what);
    n += check_one(src, "output_norm.weight", a->output_norm, b->output_norm, what);
    n += check_one(src, "output.weight", a->output, b->output, what);
    static const char *const names[] = {"attn_norm", "attn_q",   "attn_k",    "attn_v",  "attn_output",
                                        "ffn_norm",  "ffn_gate", "ffn_up",    "ffn_down"};
    for (int l = 0; l < a->cfg.n_layer; l++) {
        const qn_layer_weights *x = &a->layers[l], *y = &b->layers[l];
        const quanta_buffer *const xa[] = {x->attn_norm, x->wq, x->wk, x->wv, x->wo, x->ffn_norm, x->w_gate, x->w_up, x->w_down};
        const quanta_buffer *const ya[] = {y->attn_norm, y->wq, y->wk, y->wv, y->wo, y->ffn_norm, y->w_gate, y->w_up, y->w_down};
        for (int i = 0; i < 9; i++) {
            char name[96];
            snprintf(name, sizeof name, "blk.%d.%s.weight", l, names[i]);
            n += check_one(src, name, xa[i], ya[i], what);
        }
    }
    return n;
}

/* As stored, then each load-time format (q4: the default group 64, then 32 and 128). */
static const target TARGETS[] = {{0, QUANTA_F32, 0},        {1, QUANTA_Q8, 0},  {1, QUANTA_FP8_E4M3, 0},
                                 {1, QUANTA_F16, 0},        {1, QUANTA_BF16, 0}, {1, QUANTA_F32, 0},
                                 {1, QUANTA_Q4, 0},         {1, QUANTA_Q4, 32}, {1, QUANTA_Q4, 128},
                                 {1, QUANTA_NF4, 0}};

/* Every target, loaded on 1 and on 3 threads, against each other and src. */
static void check_targets(const void *img, size_t size, const char *dir, const source *src, const char *file) {
    quanta_backend *be;
    ck_assert(quanta_backend_open("ref", &be) == QUANTA_OK);
    for (size_t k = 0; k < sizeof TARGETS / sizeof *TARGETS; k++) {
        const target *t = &TARGETS[k];
        char what[96];
        snprintf(what, sizeof what, "%s file, %s g%d", file, t->quantize ? quanta_dtype_name(t->dtype) : "as stored",
                 t->group);
        quanta_model *a = load_with(img, size, dir, be, t, "1", NULL);
        quanta_model *b = load_with(img, size, dir, be, t, "3", NULL);
        ck_assert_int_eq(check_models(src, a, b, what), 3 + 9 * SPEC.n_layer); /* llama: output untied */
        quanta_model_destroy(a);
        quanta_model_destroy(b);
    }
    quanta_backend_close(be);
}

static const quanta_dtype SOURCES[] = {QUANTA_F32, QUANTA_GGML_Q4_K, QUANTA_GGML_Q8_0, QUANTA_GGML_Q4_0,
                                       QUANTA_GGML_Q6_K};

START_TEST(test_threads_same_bytes) {
    const quanta_dtype src = SOURCES[_i];
    tiny_model tm;
    tiny_build(&tm, &SPEC, 0x10AD + (uint64_t)_i, NULL, NULL);
    size_t size = tm.image_size;
    void *img = src == QUANTA_F32 ? tm.image : retyped(&tm, src, &size);
    qn_gguf *g;
    ck_assert(qn_gguf_open_memory(img, size, &g) == QUANTA_OK);
    source s = {g, NULL};
    check_targets(img, size, NULL, &s, quanta_dtype_name(src));
    qn_gguf_close(g);
    if (img != tm.image) free(img);
    tiny_free(&tm);
}
END_TEST

/* b (a rank's buffer) against the cut of a (the whole model's buffer) along axis, or a itself
 * (axis < 0: replicated), byte for byte. */
static void check_shard(const quanta_buffer *a, const quanta_buffer *b, int axis, int rank, int world, const char *what) {
    ck_assert_msg(a && b, "%s: missing", what);
    quanta_tensor_desc da, db, sd;
    size_t na, nb, ns;
    uint8_t *pa = read_all(a, &da, &na), *pb = read_all(b, &db, &nb), *want = pa;
    if (axis >= 0) {
        ck_assert(quanta_shard_desc(&da, (quanta_shard_axis)axis, rank, world, &sd) == QUANTA_OK);
        ck_assert(quanta_tensor_bytes(&sd, &ns) == QUANTA_OK);
        want = malloc(ns);
        ck_assert_ptr_nonnull(want);
        ck_assert(quanta_shard_weight(&da, pa, na, (quanta_shard_axis)axis, rank, world, want, ns) == QUANTA_OK);
        da = sd;
        na = ns;
    }
    ck_assert_msg(da.dtype == db.dtype && da.dims[0] == db.dims[0] && da.dims[1] == db.dims[1] && na == nb,
                  "%s: %s [%lld, %lld] vs %s [%lld, %lld]", what, quanta_dtype_name(da.dtype), (long long)da.dims[0],
                  (long long)da.dims[1], quanta_dtype_name(db.dtype), (long long)db.dims[0], (long long)db.dims[1]);
    for (size_t i = 0; i < na; i++)
        if (want[i] != pb[i]) ck_abort_msg("%s (%s) byte %zu: rank %d %u, cut of the whole %u", what, quanta_dtype_name(da.dtype), i, rank, pb[i], want[i]);
    if (want != pa) free(want);
    free(pa);
    free(pb);
}

/* Tensor parallelism, 2 ranks (loaded one after the other: the load does not communicate): a
 * row-cut matrix (q, k, v, gate, up) is converted from this rank's rows only; it must equal
 * the whole model's buffer cut by quanta_shard_weight, as must the column cuts (o, down) and
 * the replicated tensors. From an f32 file and a Q4_K file (rows_to_f32 at a row offset). */
START_TEST(test_tp_rows_same_bytes) {
    const quanta_dtype src = _i ? QUANTA_GGML_Q4_K : QUANTA_F32;
    tiny_model tm;
    tiny_build(&tm, &SPEC, 0x7B00 + (uint64_t)_i, NULL, NULL);
    size_t size = tm.image_size;
    void *img = src == QUANTA_F32 ? tm.image : retyped(&tm, src, &size);
    quanta_backend *be;
    ck_assert(quanta_backend_open("ref", &be) == QUANTA_OK);
    static const target tps[] = {{1, QUANTA_Q8, 0}, {1, QUANTA_Q4, 0}, {1, QUANTA_Q4, 128}, {1, QUANTA_NF4, 0},
                                 {1, QUANTA_F16, 0}, {1, QUANTA_F32, 0}, {0, QUANTA_F32, 0}};
    for (size_t k = 0; k < sizeof tps / sizeof *tps; k++) {
        if (src != QUANTA_F32 && !tps[k].quantize) continue; /* Q4_K kept: 256-wide blocks, K = 256 cannot split */
        quanta_model *whole = load_with(img, size, NULL, be, &tps[k], "1", NULL);
        quanta_comm *comms[2];
        ck_assert(quanta_comm_create_local(2, comms) == QUANTA_OK);
        for (int r = 0; r < 2; r++) {
            quanta_model *m = load_with(img, size, NULL, be, &tps[k], "3", comms[r]);
            char what[128];
            snprintf(what, sizeof what, "%s file, %s g%d, embeddings", quanta_dtype_name(src),
                     tps[k].quantize ? quanta_dtype_name(tps[k].dtype) : "as stored", tps[k].group);
            check_shard(whole->tok_embd, m->tok_embd, -1, r, 2, what);
            check_shard(whole->output, m->output, -1, r, 2, what);
            for (int l = 0; l < SPEC.n_layer; l++) {
                const qn_layer_weights *x = &whole->layers[l], *y = &m->layers[l];
                const quanta_buffer *const xa[] = {x->wq, x->wk, x->wv, x->w_gate, x->w_up, x->wo, x->w_down, x->attn_norm};
                const quanta_buffer *const ya[] = {y->wq, y->wk, y->wv, y->w_gate, y->w_up, y->wo, y->w_down, y->attn_norm};
                for (int i = 0; i < 8; i++) {
                    snprintf(what, sizeof what, "%s file, %s g%d, layer %d matrix %d", quanta_dtype_name(src),
                             tps[k].quantize ? quanta_dtype_name(tps[k].dtype) : "as stored", tps[k].group, l, i);
                    check_shard(xa[i], ya[i], i < 5 ? QUANTA_SHARD_ROWS : i < 7 ? QUANTA_SHARD_COLS : -1, r, 2, what);
                }
            }
            quanta_model_destroy(m);
        }
        for (int r = 0; r < 2; r++) quanta_comm_destroy(comms[r]);
        quanta_model_destroy(whole);
    }
    quanta_backend_close(be);
    if (img != tm.image) free(img);
    tiny_free(&tm);
}
END_TEST

/* The same through model/load_safetensors.c: matrices in F32, F16, BF16 (vectors F32). */
START_TEST(test_safetensors_same_bytes) {
    static const int dts[] = {TINY_ST_F32, TINY_ST_F16, TINY_ST_BF16};
    tiny_model tm;
    tiny_build(&tm, &SPEC, 0x57A0 + (uint64_t)_i, NULL, NULL);
    char tmp[64], dir[96], path[128];
    snprintf(tmp, sizeof tmp, "/tmp/quanta-load-threads-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp));
    snprintf(dir, sizeof dir, "%s/ckpt", tmp);
    write_hf_dir_as(&tm, dir, NULL, dts[_i]);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    qn_safetensors *st;
    ck_assert(qn_st_open(path, &st) == QUANTA_OK);
    ck_assert_str_eq(qn_st_dtype_name(qn_st_find(st, "model.embed_tokens.weight")->dtype), tiny_st_names[dts[_i]]);
    source s = {NULL, st};
    char file[32];
    snprintf(file, sizeof file, "safetensors %s", tiny_st_names[dts[_i]]);
    check_targets(NULL, 0, dir, &s, file);
    qn_st_close(st);
    rm_dir(dir);
    rmdir(tmp);
    tiny_free(&tm);
}
END_TEST

int main(void) {
    Suite *s = suite_create("model_load_threads");
    TCase *tc = tcase_create("load_threads");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_threads_same_bytes, 0, (int)(sizeof SOURCES / sizeof *SOURCES));
    tcase_add_loop_test(tc, test_safetensors_same_bytes, 0, 3);
    tcase_add_loop_test(tc, test_tp_rows_same_bytes, 0, 2);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
