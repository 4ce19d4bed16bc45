/*
 * test_load_threads.c — the load-time conversion's bytes do not depend on how many threads do it
 * (QUANTA_LOAD_THREADS, model/load.c, base/par_for.c): a tiny model stored as f32 and in ggml
 * block formats (Q4_K, Q8_0, Q4_0, Q6_K: each 2-D tensor quantized from the random f32 weights),
 * loaded on the reference backend with 1 and with 3 threads and converted at load to q8, fp8,
 * f16, bf16, f32 and q4 (quantized whole, on one thread); every weight buffer is read back and
 * must equal, byte for byte, both the other load's and the plain conversion of the whole tensor
 * done here (qn_gguf_tensor_to_f32, then quanta_quantize). The embeddings span several of the
 * conversion's row ranges, the last one short.
 */
#include "formats.h"
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

static quanta_model *load_with(const void *img, size_t size, quanta_backend *be, int quantize, quanta_dtype target,
                               const char *threads) {
    ck_assert(setenv("QUANTA_LOAD_THREADS", threads, 1) == 0);
    quanta_model_params p;
    quanta_model_default_params(&p);
    p.quantize = quantize;
    p.weight_dtype = target;
    qn_gguf *g;
    ck_assert(qn_gguf_open_memory(img, size, &g) == QUANTA_OK);
    quanta_model *m = NULL;
    quanta_status st = qn_model_from_gguf(g, be, &p, &m);
    qn_gguf_close(g);
    ck_assert(unsetenv("QUANTA_LOAD_THREADS") == 0);
    ck_assert_msg(st == QUANTA_OK, "load (%s threads, %s): %s", threads, quanta_dtype_name(target), quanta_last_error());
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

/* The buffer of tensor `name` in a and b against each other and the whole-tensor conversion. */
static int check_one(const qn_gguf *g, const char *name, const quanta_buffer *a, const quanta_buffer *b,
                     const char *what) {
    if (!a && !b) return 0;
    ck_assert_msg(a && b, "%s: %s present in one load only", what, name);
    quanta_tensor_desc da, db;
    size_t na, nb;
    uint8_t *pa = read_all(a, &da, &na), *pb = read_all(b, &db, &nb);
    ck_assert_msg(da.dtype == db.dtype && na == nb, "%s: %s: %s vs %s", what, name, quanta_dtype_name(da.dtype),
                  quanta_dtype_name(db.dtype));
    const qn_gguf_tensor *t = qn_gguf_find_tensor(g, name);
    ck_assert_ptr_nonnull(t);
    const size_t n = (size_t)qn_gguf_tensor_elements(t);
    float *f = malloc(n * sizeof *f);
    uint8_t *want = malloc(na);
    ck_assert(f && want);
    ck_assert(qn_gguf_tensor_to_f32(t, f, n) == QUANTA_OK);
    if (qn_dtype_is_ggml(da.dtype)) memcpy(want, t->data, na); /* kept as the file stores it */
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
static int check_models(const void *img, size_t size, const quanta_model *a, const quanta_model *b, const char *what) {
    qn_gguf *g;
    ck_assert(qn_gguf_open_memory(img, size, &g) == QUANTA_OK);
    int n = check_one(g, "token_embd.weight", a->tok_embd, b->tok_embd, what);
    n += check_one(g, "output_norm.weight", a->output_norm, b->output_norm, what);
    n += check_one(g, "output.weight", a->output, b->output, what);
    static const char *const names[] = {"attn_norm", "attn_q",   "attn_k",    "attn_v",  "attn_output",
                                        "ffn_norm",  "ffn_gate", "ffn_up",    "ffn_down"};
    for (int l = 0; l < a->cfg.n_layer; l++) {
        const qn_layer_weights *x = &a->layers[l], *y = &b->layers[l];
        const quanta_buffer *const xa[] = {x->attn_norm, x->wq, x->wk, x->wv, x->wo, x->ffn_norm, x->w_gate, x->w_up, x->w_down};
        const quanta_buffer *const ya[] = {y->attn_norm, y->wq, y->wk, y->wv, y->wo, y->ffn_norm, y->w_gate, y->w_up, y->w_down};
        for (int i = 0; i < 9; i++) {
            char name[96];
            snprintf(name, sizeof name, "blk.%d.%s.weight", l, names[i]);
            n += check_one(g, name, xa[i], ya[i], what);
        }
    }
    qn_gguf_close(g);
    return n;
}

static const quanta_dtype TARGETS[] = {QUANTA_Q8, QUANTA_FP8_E4M3, QUANTA_F16, QUANTA_BF16, QUANTA_F32, QUANTA_Q4};
static const quanta_dtype SOURCES[] = {QUANTA_F32, QUANTA_GGML_Q4_K, QUANTA_GGML_Q8_0, QUANTA_GGML_Q4_0,
                                       QUANTA_GGML_Q6_K};

START_TEST(test_threads_same_bytes) {
    const quanta_dtype src = SOURCES[_i];
    tiny_model tm;
    tiny_build(&tm, &SPEC, 0x10AD + (uint64_t)_i, NULL, NULL);
    size_t size = tm.image_size;
    void *img = src == QUANTA_F32 ? tm.image : retyped(&tm, src, &size);
    quanta_backend *be;
    ck_assert(quanta_backend_open("ref", &be) == QUANTA_OK);
    for (int k = -1; k < (int)(sizeof TARGETS / sizeof *TARGETS); k++) {
        const int quantize = k >= 0; /* -1: as stored (ggml blocks the backend cannot run: f32) */
        const quanta_dtype target = k >= 0 ? TARGETS[k] : QUANTA_F32;
        char what[96];
        snprintf(what, sizeof what, "%s file, %s", quanta_dtype_name(src), quantize ? quanta_dtype_name(target) : "as stored");
        quanta_model *a = load_with(img, size, be, quantize, target, "1");
        quanta_model *b = load_with(img, size, be, quantize, target, "3");
        ck_assert_int_eq(check_models(img, size, a, b, what), 3 + 9 * SPEC.n_layer); /* llama: output untied */
        quanta_model_destroy(a);
        quanta_model_destroy(b);
    }
    quanta_backend_close(be);
    if (img != tm.image) free(img);
    tiny_free(&tm);
}
END_TEST

int main(void) {
    Suite *s = suite_create("model_load_threads");
    TCase *tc = tcase_create("load_threads");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_threads_same_bytes, 0, (int)(sizeof SOURCES / sizeof *SOURCES));
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
