/* test_gguf.c — the GGUF reader and writer: round trips (write -> read -> identical bytes and
 * values), metadata getters, and every rejection path of the hostile-input reader, built by
 * patching bytes of small valid images made with the writer. */
#include "test_util.h"

#include <unistd.h>

#include "formats.h"
#include "gguf.h"
#include "qt_ggml.h"

/* ----------------------------------------------------------------- helpers */

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Position of the first occurrence of a string in an image (it must be there). */
static size_t find(const uint8_t *img, size_t n, const char *s) {
    size_t k = strlen(s);
    for (size_t i = 0; i + k <= n; i++)
        if (!memcmp(img + i, s, k)) return i;
    ck_abort_msg("marker '%s' not found", s);
    return 0;
}

/* Byte offsets inside a tensor info whose name is unique in the image. */
typedef struct info_pos { size_t ndim, dims, type, offset; } info_pos;
static info_pos tensor_info(const uint8_t *img, size_t n, const char *name) {
    info_pos p;
    p.ndim = find(img, n, name) + strlen(name);
    uint32_t nd = img[p.ndim];
    p.dims = p.ndim + 4;
    p.type = p.dims + 8 * nd;
    p.offset = p.type + 4;
    return p;
}

static uint8_t *image(qn_gguf_writer *w, size_t *n) {
    void *img;
    ck_assert_msg(qn_gguf_writer_write_memory(w, &img, n) == QUANTA_OK, "%s", quanta_last_error());
    qn_gguf_writer_destroy(w);
    return img;
}

/* Open must fail with `want` and a message containing `needle`. */
static void expect_reject(const uint8_t *img, size_t n, quanta_status want, const char *needle) {
    qn_gguf *g = (qn_gguf *)1;
    quanta_status st = qn_gguf_open_memory(img, n, &g);
    ck_assert_msg(st == want, "expected %s, got %s (%s)", quanta_status_name(want), quanta_status_name(st),
                  quanta_last_error());
    ck_assert_ptr_null(g);
    ck_assert_msg(strstr(quanta_last_error(), needle), "message '%s' lacks '%s'", quanta_last_error(), needle);
}

static qn_gguf *open_ok(const uint8_t *img, size_t n) {
    qn_gguf *g;
    ck_assert_msg(qn_gguf_open_memory(img, n, &g) == QUANTA_OK, "%s", quanta_last_error());
    return g;
}

/* Two f32 tensors "tensor.alpha" [4] and "tensor.beta" [2,3], a few keys. */
static uint8_t *small_file(size_t *n) {
    qn_gguf_writer *w;
    ck_assert_int_eq(qn_gguf_writer_create(&w), QUANTA_OK);
    ck_assert_int_eq(qn_gguf_writer_set_str(w, "general.architecture", "llama"), QUANTA_OK);
    ck_assert_int_eq(qn_gguf_writer_set_u32(w, "key.first", 7), QUANTA_OK);
    ck_assert_int_eq(qn_gguf_writer_set_u32(w, "key.other", 8), QUANTA_OK);
    float a[4] = { 1, 2, 3, 4 }, b[6] = { -1, -2, -3, -4, -5, -6 };
    int64_t da[1] = { 4 }, db[2] = { 3, 2 };
    ck_assert_int_eq(qn_gguf_writer_add_tensor(w, "tensor.alpha", 1, da, QN_GGML_F32, a, sizeof a), QUANTA_OK);
    ck_assert_int_eq(qn_gguf_writer_add_tensor(w, "tensor.beta", 2, db, QN_GGML_F32, b, sizeof b), QUANTA_OK);
    return image(w, n);
}

/* ------------------------------------------------------------- round trips */

START_TEST(test_metadata_round_trip) {
    qn_gguf_writer *w;
    ck_assert_int_eq(qn_gguf_writer_create(&w), QUANTA_OK);
    const char *toks[] = { "<s>", "", "hello" };
    float sc[] = { 0.5f, -1.25f, 3 };
    int32_t ty[] = { -7, 0, 2147483647 };
    ck_assert_int_eq(qn_gguf_writer_set_str(w, "general.name", "tiny"), QUANTA_OK);
    ck_assert_int_eq(qn_gguf_writer_set_u32(w, "a.u32", 4000000000u), QUANTA_OK);
    ck_assert_int_eq(qn_gguf_writer_set_i32(w, "a.i32", -12), QUANTA_OK);
    ck_assert_int_eq(qn_gguf_writer_set_u64(w, "a.u64", 1ull << 50), QUANTA_OK);
    ck_assert_int_eq(qn_gguf_writer_set_f32(w, "a.f32", 0.1f), QUANTA_OK);
    ck_assert_int_eq(qn_gguf_writer_set_bool(w, "a.bool", 1), QUANTA_OK);
    ck_assert_int_eq(qn_gguf_writer_set_arr_str(w, "a.toks", toks, 3), QUANTA_OK);
    ck_assert_int_eq(qn_gguf_writer_set_arr_f32(w, "a.scores", sc, 3), QUANTA_OK);
    ck_assert_int_eq(qn_gguf_writer_set_arr_i32(w, "a.types", ty, 3), QUANTA_OK);
    ck_assert_int_eq(qn_gguf_writer_set_u32(w, "a.replaced", 1), QUANTA_OK);
    ck_assert_int_eq(qn_gguf_writer_set_u32(w, "a.replaced", 2), QUANTA_OK); /* replaces */
    size_t n;
    uint8_t *img = image(w, &n);
    qn_gguf *g = open_ok(img, n);
    ck_assert_uint_eq(qn_gguf_version(g), 3);
    ck_assert_uint_eq(qn_gguf_kv_count(g), 10);
    uint64_t u;
    int64_t i;
    float f;
    int b;
    double d;
    qn_gguf_str s;
    qn_gguf_type et;
    ck_assert_int_eq(qn_gguf_get_u64(g, "a.u32", &u), QUANTA_OK);
    ck_assert_uint_eq(u, 4000000000u);
    ck_assert_int_eq(qn_gguf_get_i64(g, "a.i32", &i), QUANTA_OK);
    ck_assert_int_eq(i, -12);
    ck_assert_int_eq(qn_gguf_get_u64(g, "a.i32", &u), QUANTA_ERR_CORRUPT); /* negative */
    ck_assert_int_eq(qn_gguf_get_u64(g, "a.u64", &u), QUANTA_OK);
    ck_assert_uint_eq(u, 1ull << 50);
    ck_assert_int_eq(qn_gguf_get_f32(g, "a.f32", &f), QUANTA_OK);
    ck_assert_float_eq(f, 0.1f);
    ck_assert_int_eq(qn_gguf_get_f32(g, "a.u32", &f), QUANTA_OK); /* integers convert */
    ck_assert_float_eq(f, 4e9f);
    ck_assert_int_eq(qn_gguf_get_bool(g, "a.bool", &b), QUANTA_OK);
    ck_assert_int_eq(b, 1);
    ck_assert_int_eq(qn_gguf_get_bool(g, "a.u32", &b), QUANTA_ERR_CORRUPT);
    ck_assert_int_eq(qn_gguf_get_str(g, "general.name", &s), QUANTA_OK);
    ck_assert_uint_eq(s.len, 4);
    ck_assert(!memcmp(s.ptr, "tiny", 4));
    ck_assert_int_eq(qn_gguf_get_str(g, "a.u32", &s), QUANTA_ERR_CORRUPT);
    ck_assert_int_eq(qn_gguf_get_u64(g, "absent.key", &u), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(quanta_last_error(), "absent.key"));
    ck_assert(!qn_gguf_has(g, "absent.key"));
    ck_assert(qn_gguf_has(g, "a.toks"));
    ck_assert_int_eq(qn_gguf_get_arr(g, "a.toks", &et, &u), QUANTA_OK);
    ck_assert_int_eq(et, QN_GGUF_STRING);
    ck_assert_uint_eq(u, 3);
    ck_assert_int_eq(qn_gguf_get_arr_str(g, "a.toks", 2, &s), QUANTA_OK);
    ck_assert(s.len == 5 && !memcmp(s.ptr, "hello", 5));
    ck_assert_int_eq(qn_gguf_get_arr_str(g, "a.toks", 1, &s), QUANTA_OK);
    ck_assert_uint_eq(s.len, 0);
    ck_assert_int_eq(qn_gguf_get_arr_str(g, "a.toks", 3, &s), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(qn_gguf_get_arr_f64(g, "a.toks", 0, &d), QUANTA_ERR_CORRUPT);
    ck_assert_int_eq(qn_gguf_get_arr_f64(g, "a.scores", 1, &d), QUANTA_OK);
    ck_assert(d == -1.25);
    ck_assert_int_eq(qn_gguf_get_arr_f64(g, "a.types", 0, &d), QUANTA_OK);
    ck_assert(d == -7);
    ck_assert_int_eq(qn_gguf_get_arr_f64(g, "a.types", 2, &d), QUANTA_OK);
    ck_assert(d == 2147483647.0);
    ck_assert_int_eq(qn_gguf_get_arr_str(g, "a.scores", 0, &s), QUANTA_ERR_CORRUPT);
    ck_assert_int_eq(qn_gguf_get_u64(g, "a.replaced", &u), QUANTA_OK);
    ck_assert_uint_eq(u, 2);

    /* copy every key into a new writer: the image must come out byte-identical */
    qn_gguf_writer *w2;
    ck_assert_int_eq(qn_gguf_writer_create(&w2), QUANTA_OK);
    for (uint64_t k = 0; k < qn_gguf_kv_count(g); k++) ck_assert_int_eq(qn_gguf_writer_copy_kv(w2, g, k), QUANTA_OK);
    size_t n2;
    uint8_t *img2 = image(w2, &n2);
    ck_assert_uint_eq(n, n2);
    ck_assert(!memcmp(img, img2, n));
    qn_gguf_close(g);
    free(img);
    free(img2);
}
END_TEST

/* A checkpoint of every Quanta format and some ggml ones: write -> file -> read, then the data
 * bytes are identical to what was written and a rewrite gives an identical file. */
START_TEST(test_tensor_round_trip_bit_exact) {
    qt_rng r = qt_rng_make(7);
    enum { ROWS = 6, COLS = 256 };
    float *src = malloc(sizeof(float) * ROWS * COLS);
    qt_fill_normal(&r, src, ROWS * COLS, 0.05f);
    quanta_tensor_desc descs[] = {
        { QUANTA_Q8, 2, { ROWS, COLS }, 0, 0 },       { QUANTA_Q4, 2, { ROWS, COLS }, 32, 0 },
        { QUANTA_Q4, 2, { ROWS, COLS }, 64, 0 },      { QUANTA_Q4, 2, { ROWS, COLS }, 128, 0 },
        { QUANTA_NF4, 2, { ROWS, COLS }, 64, 0 },     { QUANTA_NF4, 2, { ROWS, COLS }, 64, 1 },
        { QUANTA_FP8_E4M3, 2, { ROWS, COLS }, 0, 0 }, { QUANTA_FP8_E5M2, 2, { ROWS, COLS }, 0, 0 },
        { QUANTA_F16, 2, { ROWS, COLS }, 0, 0 },      { QUANTA_BF16, 2, { ROWS, COLS }, 0, 0 },
        { QUANTA_F32, 2, { ROWS, COLS }, 0, 0 },
    };
    enum { ND = sizeof descs / sizeof descs[0] };
    void *data[ND];
    size_t bytes[ND];
    qn_gguf_writer *w;
    ck_assert_int_eq(qn_gguf_writer_create(&w), QUANTA_OK);
    ck_assert_int_eq(qn_gguf_writer_set_u32(w, "general.alignment", 64), QUANTA_OK);
    for (int k = 0; k < ND; k++) {
        ck_assert_int_eq(quanta_tensor_bytes(&descs[k], &bytes[k]), QUANTA_OK);
        data[k] = malloc(bytes[k]);
        if (descs[k].dtype == QUANTA_F32) memcpy(data[k], src, bytes[k]);
        else if (descs[k].dtype == QUANTA_F16 || descs[k].dtype == QUANTA_BF16)
            qn_from_f32(descs[k].dtype, src, data[k], ROWS * COLS);
        else
            ck_assert_msg(quanta_quantize(&descs[k], src, data[k], bytes[k]) == QUANTA_OK, "%s", quanta_last_error());
        uint32_t type;
        ck_assert_int_eq(qn_gguf_type_for_desc(&descs[k], &type), QUANTA_OK);
        int64_t dims[2] = { COLS, ROWS };
        char name[32];
        snprintf(name, sizeof name, "w%d", k);
        ck_assert_msg(qn_gguf_writer_add_tensor_ref(w, name, 2, dims, type, data[k], bytes[k]) == QUANTA_OK, "%s",
                      quanta_last_error());
    }
    char path[] = "/tmp/quanta_test_gguf_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_msg(qn_gguf_writer_write(w, path) == QUANTA_OK, "%s", quanta_last_error());
    size_t mn;
    void *mem;
    ck_assert_int_eq(qn_gguf_writer_write_memory(w, &mem, &mn), QUANTA_OK);
    qn_gguf_writer_destroy(w);

    qn_gguf *g;
    ck_assert_msg(qn_gguf_open(path, &g) == QUANTA_OK, "%s", quanta_last_error());
    ck_assert_uint_eq(qn_gguf_alignment(g), 64);
    ck_assert_uint_eq(qn_gguf_tensor_count(g), ND);
    float *out = malloc(sizeof(float) * ROWS * COLS), *want = malloc(sizeof(float) * ROWS * COLS);
    qn_gguf_writer *w2;
    ck_assert_int_eq(qn_gguf_writer_create(&w2), QUANTA_OK);
    for (uint64_t k = 0; k < qn_gguf_kv_count(g); k++) ck_assert_int_eq(qn_gguf_writer_copy_kv(w2, g, k), QUANTA_OK);
    for (int k = 0; k < ND; k++) {
        char name[32];
        snprintf(name, sizeof name, "w%d", k);
        const qn_gguf_tensor *t = qn_gguf_find_tensor(g, name);
        ck_assert_ptr_nonnull(t);
        ck_assert_uint_eq(t->bytes, bytes[k]);
        ck_assert_uint_eq(((uintptr_t)t->data - (uintptr_t)qn_gguf_tensor_at(g, 0)->data) % 64, 0);
        ck_assert_msg(!memcmp(t->data, data[k], bytes[k]), "tensor %s bytes differ after the round trip", name);
        quanta_tensor_desc d;
        ck_assert_int_eq(qn_gguf_tensor_desc(t, &d), QUANTA_OK);
        ck_assert_int_eq(d.dtype, descs[k].dtype);
        ck_assert_int_eq(d.dims[0], ROWS);
        ck_assert_int_eq(d.dims[1], COLS);
        ck_assert_int_eq(d.double_quant, descs[k].double_quant);
        /* the reader's f32 view equals the format's own dequantizer */
        qt_poison_f32(out, ROWS * COLS);
        ck_assert_msg(qn_gguf_tensor_to_f32(t, out, ROWS * COLS) == QUANTA_OK, "%s", quanta_last_error());
        ck_assert_int_eq(quanta_dequantize(&descs[k], data[k], bytes[k], want, ROWS * COLS), QUANTA_OK);
        ck_assert(!memcmp(out, want, sizeof(float) * ROWS * COLS));
        /* rows 2..3 only */
        qt_poison_f32(out, 2 * COLS);
        ck_assert_int_eq(qn_gguf_tensor_rows_to_f32(t, 2, 2, out, 2 * COLS), QUANTA_OK);
        ck_assert(!memcmp(out, want + 2 * COLS, sizeof(float) * 2 * COLS));
        ck_assert_int_eq(qn_gguf_tensor_rows_to_f32(t, 5, 2, out, 2 * COLS), QUANTA_ERR_INVALID_ARGUMENT);
        ck_assert_int_eq(qn_gguf_writer_add_tensor(w2, name, t->ndim, t->dims, t->type, t->data, t->bytes), QUANTA_OK);
    }
    size_t n2;
    uint8_t *img2 = image(w2, &n2);
    ck_assert_uint_eq(n2, mn);
    ck_assert_msg(!memcmp(img2, mem, mn), "rewriting a Quanta checkpoint changed its bytes");
    /* the file on disk is the memory image */
    FILE *f = fopen(path, "rb");
    uint8_t *disk = malloc(mn + 1);
    ck_assert_uint_eq(fread(disk, 1, mn + 1, f), mn);
    fclose(f);
    ck_assert(!memcmp(disk, mem, mn));
    qn_gguf_close(g);
    unlink(path);
    for (int k = 0; k < ND; k++) free(data[k]);
    free(disk);
    free(img2);
    free(mem);
    free(out);
    free(want);
    free(src);
}
END_TEST

START_TEST(test_writer_rejects) {
    qn_gguf_writer *w;
    ck_assert_int_eq(qn_gguf_writer_create(&w), QUANTA_OK);
    float a[32] = { 0 };
    int64_t d1[1] = { 32 }, d33[1] = { 33 }, d0[1] = { 0 };
    ck_assert_int_eq(qn_gguf_writer_add_tensor(w, "x", 1, d1, QN_GGML_F32, a, sizeof a), QUANTA_OK);
    ck_assert_int_eq(qn_gguf_writer_add_tensor(w, "x", 1, d1, QN_GGML_F32, a, sizeof a), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(quanta_last_error(), "duplicate"));
    ck_assert_int_eq(qn_gguf_writer_add_tensor(w, "y", 1, d1, QN_GGML_F32, a, 4), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(qn_gguf_writer_add_tensor(w, "y", 1, d33, QN_GGML_Q8_0, a, 34), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(qn_gguf_writer_add_tensor(w, "y", 1, d0, QN_GGML_F32, a, 0), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(qn_gguf_writer_add_tensor(w, "y", 1, d1, 77, a, 128), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(qn_gguf_writer_add_tensor(w, "", 1, d1, QN_GGML_F32, a, sizeof a), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(qn_gguf_writer_set_u32(w, "general.alignment", 48), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(qn_gguf_writer_set_i32(w, "general.alignment", 64), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(qn_gguf_writer_set_u32(w, "", 1), QUANTA_ERR_INVALID_ARGUMENT);
    quanta_tensor_desc q4g16 = { QUANTA_Q4, 2, { 2, 64 }, 16, 0 };
    uint32_t type;
    ck_assert_int_eq(qn_gguf_type_for_desc(&q4g16, &type), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(qn_gguf_writer_write(w, "/nonexistent-dir/x.gguf"), QUANTA_ERR_IO);
    qn_gguf_writer_destroy(w);
}
END_TEST

/* ---------------------------------------------------------- rejection paths */

START_TEST(test_every_prefix_rejected) {
    size_t n;
    uint8_t *img = small_file(&n);
    qn_gguf *g = open_ok(img, n);
    qn_gguf_close(g);
    for (size_t k = 0; k < n; k++) {
        uint8_t *copy = malloc(k ? k : 1); /* exact-size buffer: ASan sees any over-read */
        memcpy(copy, img, k);
        quanta_status st = qn_gguf_open_memory(copy, k, &g);
        ck_assert_msg(st == QUANTA_ERR_CORRUPT, "prefix of %zu/%zu bytes: %s", k, n, quanta_status_name(st));
        ck_assert_ptr_null(g);
        free(copy);
    }
    free(img);
}
END_TEST

/* Every ggml block type, as a [3, 512] tensor of random blocks whose first f16 scales are NaN, Inf
 * and a subnormal: it opens and dequantizes (NaN/Inf where a scale is one, finite where the scale is
 * finite), and is refused with a message for every prefix of the file, for columns that are not
 * whole blocks (a K-quant's 288 columns are whole 32-blocks, not 256-blocks), and for a third row
 * more than the data holds. A retyped tensor either opens and dequantizes or is refused. */
START_TEST(test_ggml_blocks_malformed) {
    const qt_ggml_block *T = qt_ggml_blocks;
    static const uint16_t scales[3] = {0x7E00 /* NaN */, 0x7C00 /* +Inf */, 0x0001 /* smallest subnormal */};
    qt_rng r = qt_rng_make(0x66B1);
    for (int i = 0; i < QT_GGML_NBLOCKS; i++) {
        const int64_t cols = 512, rows = 3, nb = rows * cols / T[i].block;
        const size_t bytes = (size_t)nb * (size_t)T[i].bytes;
        uint8_t *data = malloc(bytes);
        ck_assert_ptr_nonnull(data);
        for (size_t k = 0; k < bytes; k++) data[k] = (uint8_t)qt_next(&r);
        for (int b = 0; b < nb; b++) { /* finite scales and minimums of ~1e-3, then the three odd scales */
            uint8_t *blk = data + (size_t)b * (size_t)T[i].bytes, *sc = blk + T[i].scale_at;
            const uint16_t h = b < 3 ? scales[b] : (uint16_t)(0x1400 + qt_next(&r) % 0x400);
            sc[0] = (uint8_t)h, sc[1] = (uint8_t)(h >> 8);
            if (T[i].min_at >= 0) blk[T[i].min_at] = (uint8_t)qt_next(&r), blk[T[i].min_at + 1] = 0x14;
        }
        qn_gguf_writer *w;
        ck_assert_int_eq(qn_gguf_writer_create(&w), QUANTA_OK);
        int64_t dims[2] = {cols, rows};
        ck_assert_int_eq(qn_gguf_writer_add_tensor(w, "blocks", 2, dims, T[i].type, data, bytes), QUANTA_OK);
        size_t n;
        uint8_t *img = image(w, &n), *orig = malloc(n);
        ck_assert_ptr_nonnull(orig);
        memcpy(orig, img, n);
        float *f = malloc((size_t)(rows * cols) * sizeof *f);
        ck_assert_ptr_nonnull(f);
        qn_gguf *g = open_ok(img, n);
        ck_assert_int_eq(qn_gguf_tensor_to_f32(qn_gguf_tensor_at(g, 0), f, (size_t)(rows * cols)), QUANTA_OK);
        int nonfinite = 0;
        for (int64_t k = 0; k < rows * cols; k++) {
            const int64_t b = k / T[i].block;
            if (b >= 2) ck_assert_msg(isfinite(f[k]), "type %u: element %lld of block %lld is %g", T[i].type,
                                      (long long)k, (long long)b, (double)f[k]);
            nonfinite += !isfinite(f[k]);
        }
        ck_assert_msg(nonfinite > 0, "type %u: NaN and Inf scales gave only finite values", T[i].type);
        qn_gguf_close(g);
        for (size_t k = 0; k < n; k++) { /* every prefix, in an exact-size copy (ASan sees over-reads) */
            uint8_t *c = malloc(k ? k : 1);
            memcpy(c, img, k);
            g = (qn_gguf *)1;
            const quanta_status st = qn_gguf_open_memory(c, k, &g);
            ck_assert_msg(st == QUANTA_ERR_CORRUPT && !g && quanta_last_error()[0], "type %u, prefix %zu/%zu: %s",
                          T[i].type, k, n, quanta_status_name(st));
            free(c);
        }
        const info_pos at = tensor_info(img, n, "blocks");
        put64(img + at.dims, T[i].block == 32 ? 496 : 288); /* not whole blocks */
        expect_reject(img, n, QUANTA_ERR_CORRUPT, "block");
        memcpy(img, orig, n);
        put64(img + at.dims + 8, rows + 1); /* a row more than the data */
        expect_reject(img, n, QUANTA_ERR_CORRUPT, "blocks");
        for (int j = 0; j < QT_GGML_NBLOCKS; j++) { /* retyped */
            memcpy(img, orig, n);
            put32(img + at.type, T[j].type);
            if (qn_gguf_open_memory(img, n, &g) == QUANTA_OK) {
                ck_assert_int_eq(qn_gguf_tensor_to_f32(qn_gguf_tensor_at(g, 0), f, (size_t)(rows * cols)), QUANTA_OK);
                qn_gguf_close(g);
            } else {
                ck_assert(quanta_last_error()[0]);
            }
        }
        free(f);
        free(orig);
        free(img);
        free(data);
    }
}
END_TEST

START_TEST(test_bad_header) {
    size_t n;
    uint8_t *img = small_file(&n);
    img[0] = 'X';
    expect_reject(img, n, QUANTA_ERR_CORRUPT, "magic");
    img[0] = 'G';
    put32(img + 4, 1);
    expect_reject(img, n, QUANTA_ERR_CORRUPT, "version 1");
    put32(img + 4, 4);
    expect_reject(img, n, QUANTA_ERR_CORRUPT, "version 4");
    put32(img + 4, 0x03000000u);
    expect_reject(img, n, QUANTA_ERR_CORRUPT, "big-endian");
    put32(img + 4, 2); /* v2 has the same layout: accepted */
    qn_gguf_close(open_ok(img, n));
    put32(img + 4, 3);
    put64(img + 8, 1ull << 60);
    expect_reject(img, n, QUANTA_ERR_CORRUPT, "tensor count");
    put64(img + 8, 3); /* more tensors than infos: runs out of bytes */
    expect_reject(img, n, QUANTA_ERR_CORRUPT, "");
    put64(img + 8, 2);
    put64(img + 16, 1ull << 62);
    expect_reject(img, n, QUANTA_ERR_CORRUPT, "metadata count");
    free(img);
}
END_TEST

START_TEST(test_bad_alignment) {
    qn_gguf_writer *w;
    ck_assert_int_eq(qn_gguf_writer_create(&w), QUANTA_OK);
    ck_assert_int_eq(qn_gguf_writer_set_u32(w, "general.alignment", 64), QUANTA_OK);
    float a[4] = { 0 };
    int64_t d[1] = { 4 };
    ck_assert_int_eq(qn_gguf_writer_add_tensor(w, "t", 1, d, QN_GGML_F32, a, sizeof a), QUANTA_OK);
    size_t n;
    uint8_t *img = image(w, &n);
    size_t at = find(img, n, "general.alignment") + strlen("general.alignment"); /* type, then value */
    put32(img + at + 4, 48);
    expect_reject(img, n, QUANTA_ERR_CORRUPT, "power of two");
    put32(img + at + 4, 0);
    expect_reject(img, n, QUANTA_ERR_CORRUPT, "general.alignment");
    put32(img + at + 4, 64);
    put32(img + at, QN_GGUF_INT32);
    expect_reject(img, n, QUANTA_ERR_CORRUPT, "general.alignment");
    free(img);
}
END_TEST

START_TEST(test_bad_tensor_infos) {
    size_t n;
    uint8_t *img = small_file(&n), *orig = malloc(n);
    memcpy(orig, img, n);
    info_pos a = tensor_info(img, n, "tensor.alpha"), b = tensor_info(img, n, "tensor.beta");
#define RESET memcpy(img, orig, n)
    put64(img + b.offset, 1ull << 40); /* aligned, far outside */
    expect_reject(img, n, QUANTA_ERR_CORRUPT, "tensor.beta");
    RESET;
    put64(img + b.offset, UINT64_MAX - 31); /* offset + bytes would wrap */
    expect_reject(img, n, QUANTA_ERR_CORRUPT, "outside");
    RESET;
    put64(img + b.offset, 0); /* both at 0: overlap */
    expect_reject(img, n, QUANTA_ERR_CORRUPT, "overlap");
    RESET;
    put64(img + b.offset, 1); /* misaligned */
    expect_reject(img, n, QUANTA_ERR_CORRUPT, "alignment");
    RESET;
    put32(img + a.type, 99);
    expect_reject(img, n, QUANTA_ERR_CORRUPT, "unknown tensor type 99");
    RESET;
    put32(img + a.type, 1999); /* beyond the Quanta ids */
    expect_reject(img, n, QUANTA_ERR_CORRUPT, "tensor.alpha");
    RESET;
    put32(img + a.type, QN_GGML_Q8_0); /* 4 elements are not a whole Q8_0 block */
    expect_reject(img, n, QUANTA_ERR_CORRUPT, "block");
    RESET;
    put32(img + a.type, QN_GGML_F16); /* consistent shape/type, but now the data is 8 bytes: fine */
    qn_gguf_close(open_ok(img, n));
    RESET;
    put64(img + b.dims, 6); /* beta grows to 6x2 f32 = 48 bytes: runs past the file end */
    expect_reject(img, n, QUANTA_ERR_CORRUPT, "tensor.beta");
    RESET;
    put64(img + a.dims, 0);
    expect_reject(img, n, QUANTA_ERR_CORRUPT, "dimension");
    RESET;
    put64(img + b.dims, 1ull << 62);
    put64(img + b.dims + 8, 1ull << 62);
    expect_reject(img, n, QUANTA_ERR_CORRUPT, "overflow");
    RESET;
    put64(img + b.dims, 1ull << 63); /* does not fit int64 */
    expect_reject(img, n, QUANTA_ERR_CORRUPT, "dimension");
    RESET;
    put32(img + a.ndim, 5);
    expect_reject(img, n, QUANTA_ERR_CORRUPT, "dimensions");
    RESET;
    put32(img + a.ndim, 0);
    expect_reject(img, n, QUANTA_ERR_CORRUPT, "dimensions");
    RESET;
    put32(img + a.type, 1017); /* a Quanta q4 type on a 1-D tensor */
    expect_reject(img, n, QUANTA_ERR_CORRUPT, "needs 2 dims");
    RESET;
    put32(img + b.type, 1117); /* q4 group 32 on a [2][3] matrix: 3 columns do not fit the group */
    expect_reject(img, n, QUANTA_ERR_CORRUPT, "quanta_q4_g32");
    RESET;
    img[find(img, n, "tensor.beta") + 3] = 0; /* NUL inside a tensor name */
    expect_reject(img, n, QUANTA_ERR_CORRUPT, "NUL");
    RESET;
    size_t nm = find(img, n, "tensor.beta");
    memcpy(img + nm, "tensor.alph", 11); /* same length as the original name... */
    qn_gguf_close(open_ok(img, n));      /* ...distinct from "tensor.alpha": still valid */
    free(orig);
    free(img);
#undef RESET
}
END_TEST

START_TEST(test_duplicates) {
    qn_gguf_writer *w;
    ck_assert_int_eq(qn_gguf_writer_create(&w), QUANTA_OK);
    ck_assert_int_eq(qn_gguf_writer_set_u32(w, "dup.keyA", 1), QUANTA_OK);
    ck_assert_int_eq(qn_gguf_writer_set_u32(w, "dup.keyB", 2), QUANTA_OK);
    float a[4] = { 0 };
    int64_t d[1] = { 4 };
    ck_assert_int_eq(qn_gguf_writer_add_tensor(w, "dup.tenA", 1, d, QN_GGML_F32, a, sizeof a), QUANTA_OK);
    ck_assert_int_eq(qn_gguf_writer_add_tensor(w, "dup.tenB", 1, d, QN_GGML_F32, a, sizeof a), QUANTA_OK);
    size_t n;
    uint8_t *img = image(w, &n);
    qn_gguf_close(open_ok(img, n));
    size_t kb = find(img, n, "dup.keyB");
    img[kb + 7] = 'A';
    expect_reject(img, n, QUANTA_ERR_CORRUPT, "duplicate metadata key 'dup.keyA'");
    img[kb + 7] = 'B';
    size_t tb = find(img, n, "dup.tenB");
    img[tb + 7] = 'A';
    expect_reject(img, n, QUANTA_ERR_CORRUPT, "duplicate tensor name 'dup.tenA'");
    free(img);
}
END_TEST

START_TEST(test_bad_values) {
    qn_gguf_writer *w;
    ck_assert_int_eq(qn_gguf_writer_create(&w), QUANTA_OK);
    const char *toks[] = { "ab", "cd" };
    ck_assert_int_eq(qn_gguf_writer_set_bool(w, "v.bool", 1), QUANTA_OK);
    ck_assert_int_eq(qn_gguf_writer_set_arr_str(w, "v.toks", toks, 2), QUANTA_OK);
    ck_assert_int_eq(qn_gguf_writer_set_str(w, "v.str", "hello"), QUANTA_OK);
    size_t n;
    uint8_t *img = image(w, &n);
    uint8_t *orig = malloc(n);
    memcpy(orig, img, n);
    size_t pb = find(img, n, "v.bool") + 6, pt = find(img, n, "v.toks") + 6, ps = find(img, n, "v.str") + 5;
    img[pb + 4] = 2; /* bool value 2 */
    expect_reject(img, n, QUANTA_ERR_CORRUPT, "v.bool");
    memcpy(img, orig, n);
    put32(img + pb, 13); /* unknown value type */
    expect_reject(img, n, QUANTA_ERR_CORRUPT, "unknown value type 13");
    memcpy(img, orig, n);
    put32(img + pt + 4, 42); /* unknown array element type */
    expect_reject(img, n, QUANTA_ERR_CORRUPT, "element type 42");
    memcpy(img, orig, n);
    put64(img + pt + 8, 1ull << 61); /* absurd array length */
    expect_reject(img, n, QUANTA_ERR_CORRUPT, "v.toks");
    memcpy(img, orig, n);
    put64(img + ps + 4, 1ull << 62); /* absurd string length */
    expect_reject(img, n, QUANTA_ERR_CORRUPT, "v.str");
    memcpy(img, orig, n);
    put64(img + ps + 4, 5000); /* string running past the end */
    expect_reject(img, n, QUANTA_ERR_CORRUPT, "truncated");
    memcpy(img, orig, n);
    size_t k0 = find(img, n, "v.bool");
    put64(img + k0 - 8, 0); /* empty key */
    expect_reject(img, n, QUANTA_ERR_CORRUPT, "");
    memcpy(img, orig, n);
    img[k0 + 1] = 0; /* NUL inside a key */
    expect_reject(img, n, QUANTA_ERR_CORRUPT, "NUL");
    free(orig);
    free(img);
}
END_TEST

/* Arrays nested deeper than the limit, built byte by byte. */
START_TEST(test_nested_arrays) {
    uint8_t img[512] = { 'G', 'G', 'U', 'F' };
    size_t p = 4;
    put32(img + p, 3), p += 4;
    put64(img + p, 0), p += 8; /* tensors */
    put64(img + p, 1), p += 8; /* kv */
    put64(img + p, 1), p += 8;
    img[p++] = 'k';
    put32(img + p, QN_GGUF_ARRAY), p += 4;
    const int depth = QN_GGUF_MAX_ARRAY_DEPTH + 1;
    for (int i = 0; i < depth; i++) {
        put32(img + p, i == depth - 1 ? QN_GGUF_UINT8 : QN_GGUF_ARRAY), p += 4;
        put64(img + p, 1), p += 8;
    }
    img[p++] = 5;
    size_t n = (p + 31) / 32 * 32;
    expect_reject(img, n, QUANTA_ERR_CORRUPT, "nested");
    /* the same with a legal depth opens, and the nested array reports its element type */
    p = 4 + 4 + 8 + 8 + 8 + 1;
    put32(img + p, QN_GGUF_ARRAY), p += 4;
    put32(img + p, QN_GGUF_ARRAY), p += 4;
    put64(img + p, 1), p += 8;
    put32(img + p, QN_GGUF_UINT8), p += 4;
    put64(img + p, 1), p += 8;
    img[p++] = 5;
    n = (p + 31) / 32 * 32;
    memset(img + p, 0, n - p);
    qn_gguf *g = open_ok(img, n);
    qn_gguf_type et;
    uint64_t cnt;
    double d;
    ck_assert_int_eq(qn_gguf_get_arr(g, "k", &et, &cnt), QUANTA_OK);
    ck_assert_int_eq(et, QN_GGUF_ARRAY);
    ck_assert_int_eq(qn_gguf_get_arr_f64(g, "k", 0, &d), QUANTA_ERR_CORRUPT);
    qn_gguf_close(g);
}
END_TEST

START_TEST(test_open_errors) {
    qn_gguf *g;
    ck_assert_int_eq(qn_gguf_open("/nonexistent/model.gguf", &g), QUANTA_ERR_IO);
    ck_assert_ptr_nonnull(strstr(quanta_last_error(), "/nonexistent/model.gguf"));
    ck_assert_int_eq(qn_gguf_open("/tmp", &g), QUANTA_ERR_IO);
    ck_assert_int_eq(qn_gguf_open(NULL, &g), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(qn_gguf_open_memory(NULL, 0, &g), QUANTA_ERR_CORRUPT);
    ck_assert_int_eq(qn_gguf_open_memory("GGUF", 4, NULL), QUANTA_ERR_INVALID_ARGUMENT);
    /* importing a known-but-unimportable type fails cleanly at dequant time */
    qn_gguf_writer *w;
    ck_assert_int_eq(qn_gguf_writer_create(&w), QUANTA_OK);
    uint8_t iq[66] = { 0 };
    int64_t d[1] = { 256 };
    ck_assert_int_eq(qn_gguf_writer_add_tensor(w, "iq", 1, d, 16 /* IQ2_XXS */, iq, sizeof iq), QUANTA_OK);
    size_t n;
    uint8_t *img = image(w, &n);
    g = open_ok(img, n);
    float out[256];
    ck_assert_int_eq(qn_gguf_tensor_to_f32(qn_gguf_tensor_at(g, 0), out, 256), QUANTA_ERR_UNSUPPORTED);
    ck_assert_int_eq(qn_gguf_tensor_to_f32(qn_gguf_tensor_at(g, 0), out, 255), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(qn_gguf_tensor_at(g, 1));
    ck_assert_ptr_null(qn_gguf_find_tensor(g, "nope"));
    qn_gguf_close(g);
    free(img);
}
END_TEST

int main(void) {
    Suite *s = suite_create("gguf");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_metadata_round_trip);
    tcase_add_test(tc, test_tensor_round_trip_bit_exact);
    tcase_add_test(tc, test_writer_rejects);
    tcase_add_test(tc, test_every_prefix_rejected);
    tcase_add_test(tc, test_ggml_blocks_malformed);
    tcase_add_test(tc, test_bad_header);
    tcase_add_test(tc, test_bad_alignment);
    tcase_add_test(tc, test_bad_tensor_infos);
    tcase_add_test(tc, test_duplicates);
    tcase_add_test(tc, test_bad_values);
    tcase_add_test(tc, test_nested_arrays);
    tcase_add_test(tc, test_open_errors);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
