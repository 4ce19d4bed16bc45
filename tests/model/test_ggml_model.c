/*
 * test_ggml_model.c — a model whose tensors are all stored in one ggml block format (each of Q4_0,
 * Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K: random blocks with finite f16 scales, the norms as 1-D
 * block tensors too) loads and evaluates on every backend present, kept as the file stores it
 * (quantize 0) and converted to q8 at load (quantize 1): the logits are finite and, kept, agree with
 * the reference backend's to the matmul contract (NMSE 5e-4, conformance/thresholds.c); and the file
 * cut short anywhere (60 places) is refused at load with QUANTA_ERR_CORRUPT and a message, never a
 * crash (the sanitizer build runs this too).
 */
#include <unistd.h>

#include "qt_backends.h"
#include "qt_file.h"
#include "qt_ggml.h"
#include "tiny_model.h"

/* rows of 256 and 512: whole blocks of every format, the K-quants' 256 included */
static const tiny_spec SPEC = {"llama", 256, 4, 2, 64, 512, 1, 300, 0, 10000.0f, 0, 0};

static const qt_ggml_block *const T = qt_ggml_blocks;

/* The tiny model's file with every tensor in format T[f] (random blocks, scales and minimums
 * about 1e-3). */
static void *retyped(const tiny_model *tm, int f, qt_rng *r, size_t *size) {
    qn_gguf *g;
    ck_assert(qn_gguf_open_memory(tm->image, tm->image_size, &g) == QUANTA_OK);
    qn_gguf_writer *w;
    ck_assert(qn_gguf_writer_create(&w) == QUANTA_OK);
    for (uint64_t i = 0; i < qn_gguf_kv_count(g); i++) ck_assert(qn_gguf_writer_copy_kv(w, g, i) == QUANTA_OK);
    for (uint64_t i = 0; i < qn_gguf_tensor_count(g); i++) {
        const qn_gguf_tensor *t = qn_gguf_tensor_at(g, i);
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        int64_t n = 1;
        for (int d = 0; d < t->ndim; d++) n *= t->dims[d];
        ck_assert_msg(t->dims[0] % T[f].block == 0, "%s: %lld columns", name, (long long)t->dims[0]);
        const size_t nb = (size_t)(n / T[f].block), bytes = nb * (size_t)T[f].bytes;
        uint8_t *b = malloc(bytes);
        ck_assert_ptr_nonnull(b);
        for (size_t k = 0; k < bytes; k++) b[k] = (uint8_t)qt_next(r);
        for (size_t k = 0; k < nb; k++) {
            uint8_t *p = b + k * (size_t)T[f].bytes;
            p[T[f].scale_at + 1] = (uint8_t)(0x14 | (p[T[f].scale_at + 1] & 3)); /* ~1e-3, positive */
            if (T[f].min_at >= 0) p[T[f].min_at + 1] = (uint8_t)(0x14 | (p[T[f].min_at + 1] & 3));
        }
        ck_assert(qn_gguf_writer_add_tensor(w, name, t->ndim, t->dims, T[f].type, b, bytes) == QUANTA_OK);
        free(b);
    }
    void *img;
    ck_assert(qn_gguf_writer_write_memory(w, &img, size) == QUANTA_OK);
    qn_gguf_writer_destroy(w);
    qn_gguf_close(g);
    return img;
}

/* Loads path on be (quantize: the load-time conversion to q8), evaluates 3 tokens into logits. */
static void eval3(const char *path, quanta_backend *be, int quantize, float *logits, const char *what) {
    quanta_model_params p;
    quanta_model_default_params(&p);
    p.quantize = quantize;
    p.weight_dtype = QUANTA_Q8;
    quanta_model *m = NULL;
    ck_assert_msg(quanta_model_load(path, be, &p, &m) == QUANTA_OK, "%s: %s", what, quanta_last_error());
    quanta_model_context *ctx;
    ck_assert(quanta_model_context_create(m, 8, &ctx) == QUANTA_OK);
    const int32_t toks[3] = {5, 17, 200};
    for (int i = 0; i < SPEC.n_vocab; i++) logits[i] = NAN;
    ck_assert_msg(quanta_model_eval(ctx, toks, 3, logits, (size_t)SPEC.n_vocab) == QUANTA_OK, "%s: %s", what,
                  quanta_last_error());
    for (int i = 0; i < SPEC.n_vocab; i++) ck_assert_msg(isfinite(logits[i]), "%s: logit %d is %g", what, i, (double)logits[i]);
    quanta_model_context_destroy(ctx);
    quanta_model_destroy(m);
}

START_TEST(test_every_block_format) {
    const int f = _i;
    qt_rng r = qt_rng_make(0x66B2 + (uint64_t)f);
    tiny_model tm;
    tiny_build(&tm, &SPEC, 7, NULL, NULL);
    size_t n;
    void *img = retyped(&tm, f, &r, &n);
    char path[] = "/tmp/quanta_test_ggml_model_XXXXXX";
    const int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    qt_spit(path, img, n);
    float *ref = malloc(sizeof(float) * (size_t)SPEC.n_vocab), *got = malloc(sizeof(float) * (size_t)SPEC.n_vocab);
    ck_assert(ref && got);
    quanta_backend *be;
    const char *name;
    for (int i = 0; qt_next_backend(&i, &be, &name);) {
        char what[96];
        for (int q = 0; q < 2; q++) {
            snprintf(what, sizeof what, "ggml type %u on %s, %s", T[f].type, name, q ? "as q8" : "kept");
            eval3(path, be, q, got, what);
            if (!strcmp(name, "ref") && !q) memcpy(ref, got, sizeof(float) * (size_t)SPEC.n_vocab);
            if (q) continue;
            double e2 = 0, r2 = 0;
            for (int v = 0; v < SPEC.n_vocab; v++)
                e2 += ((double)got[v] - ref[v]) * ((double)got[v] - ref[v]), r2 += (double)ref[v] * ref[v];
            ck_assert_msg(r2 > 0 && e2 <= 5e-4 * r2, "%s: logits' NMSE %g against ref", what, r2 > 0 ? e2 / r2 : e2);
            printf("%s: logits' NMSE against ref %.2g\n", what, r2 > 0 ? e2 / r2 : e2);
        }
        quanta_backend_close(be);
    }
    /* cut short anywhere: refused at load */
    ck_assert_int_eq(quanta_backend_open("ref", &be), QUANTA_OK);
    for (int c = 0; c < 60; c++) {
        const size_t k = (size_t)((double)n * (c + 0.5 * qt_uniform(&r, 0.0f, 1.0f)) / 60.0);
        qt_spit(path, img, k);
        quanta_model *m = NULL;
        const quanta_status st = quanta_model_load(path, be, NULL, &m);
        ck_assert_msg(st == QUANTA_ERR_CORRUPT && m == NULL && quanta_last_error()[0],
                      "type %u cut at %zu of %zu bytes: %s (%s)", T[f].type, k, n, quanta_status_name(st),
                      quanta_last_error());
    }
    quanta_backend_close(be);
    unlink(path);
    free(ref), free(got), free(img);
    tiny_free(&tm);
}
END_TEST

int main(void) {
    Suite *s = suite_create("ggml_model");
    TCase *tc = tcase_create("formats");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_every_block_format, 0, QT_GGML_NBLOCKS);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
