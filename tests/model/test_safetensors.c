/* test_safetensors.c — the safetensors reader (valid files, every prefix, each rejection), the
 * strict JSON parser and the config.json reader. Files are built byte by byte here. */
#include "test_util.h"

#include <unistd.h>

#include "formats.h"
#include "json.h"
#include "safetensors.h"

/* A file from a header string and data bytes. */
static unsigned char *st_file(const char *header, const void *data, size_t dlen, size_t *n) {
    size_t hl = strlen(header);
    *n = 8 + hl + dlen;
    unsigned char *b = malloc(*n);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, header, hl);
    if (dlen) memcpy(b + 8 + hl, data, dlen);
    return b;
}

static void expect_reject(const char *header, size_t dlen, const char *needle) {
    unsigned char data[64] = { 0 };
    size_t n;
    unsigned char *b = st_file(header, data, dlen, &n);
    qn_safetensors *s = (qn_safetensors *)1;
    quanta_status st = qn_st_open_memory(b, n, &s);
    ck_assert_msg(st == QUANTA_ERR_CORRUPT, "header %s: %s (%s)", header, quanta_status_name(st), quanta_last_error());
    ck_assert_ptr_null(s);
    ck_assert_msg(strstr(quanta_last_error(), needle), "message '%s' lacks '%s'", quanta_last_error(), needle);
    free(b);
}

static const char *good_header =
    "{\"__metadata__\":{\"format\":\"pt\"},"
    "\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
    "\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[16,20]},"
    "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[20,24]},"
    "\"e\":{\"dtype\":\"F8_E4M3\",\"shape\":[],\"data_offsets\":[24,25]},"
    "\"z\":{\"dtype\":\"I8\",\"shape\":[0,3],\"data_offsets\":[25,25]}}";

static unsigned char *good_file(size_t *n) {
    unsigned char d[25];
    float w[4] = { 1.5f, -2, 0.25f, 8 };
    memcpy(d, w, 16); /* little-endian host assumed by this test's construction */
    d[16] = 0x00, d[17] = 0x3C; /* f16 1 */
    d[18] = 0x00, d[19] = 0xC0; /* f16 -2 */
    d[20] = 0x80, d[21] = 0x3F; /* bf16 1 */
    d[22] = 0x40, d[23] = 0xC0; /* bf16 -3 */
    d[24] = 0x38;               /* e4m3: exponent 7 - bias 7 = 0, mantissa 0 -> 1.0 */
    return st_file(good_header, d, sizeof d, n);
}

START_TEST(test_valid_file) {
    size_t n;
    unsigned char *b = good_file(&n);
    qn_safetensors *s;
    ck_assert_msg(qn_st_open_memory(b, n, &s) == QUANTA_OK, "%s", quanta_last_error());
    ck_assert_uint_eq(qn_st_tensor_count(s), 5);
    ck_assert_str_eq(qn_st_metadata(s, "format"), "pt");
    ck_assert_ptr_null(qn_st_metadata(s, "nope"));
    const qn_st_tensor *w = qn_st_find(s, "w"), *h = qn_st_find(s, "h"), *bf = qn_st_find(s, "b"), *e = qn_st_find(s, "e");
    ck_assert(w && h && bf && e);
    ck_assert_ptr_null(qn_st_find(s, "missing"));
    ck_assert_int_eq(w->ndim, 2);
    ck_assert_int_eq(e->ndim, 0);
    ck_assert_uint_eq(qn_st_tensor_elements(e), 1);
    ck_assert_uint_eq(qn_st_tensor_elements(qn_st_find(s, "z")), 0);
    float out[4];
    qt_poison_f32(out, 4);
    ck_assert_int_eq(qn_st_tensor_to_f32(w, out, 4), QUANTA_OK);
    ck_assert_float_eq(out[0], 1.5f);
    ck_assert_float_eq(out[3], 8);
    ck_assert_int_eq(qn_st_tensor_to_f32(h, out, 2), QUANTA_OK);
    ck_assert_float_eq(out[0], 1);
    ck_assert_float_eq(out[1], -2);
    ck_assert_int_eq(qn_st_tensor_to_f32(bf, out, 2), QUANTA_OK);
    ck_assert_float_eq(out[1], -3);
    ck_assert_int_eq(qn_st_tensor_to_f32(e, out, 1), QUANTA_OK);
    ck_assert_float_eq(out[0], 1);
    ck_assert_int_eq(qn_st_tensor_to_f32(w, out, 3), QUANTA_ERR_INVALID_ARGUMENT);
    quanta_tensor_desc d;
    ck_assert_int_eq(qn_st_tensor_desc(w, &d), QUANTA_OK);
    ck_assert_int_eq(d.dtype, QUANTA_F32);
    ck_assert_int_eq(d.dims[0], 2);
    ck_assert_int_eq(qn_st_tensor_desc(e, &d), QUANTA_ERR_UNSUPPORTED);
    /* offsets are in data order */
    for (uint64_t i = 1; i < qn_st_tensor_count(s); i++)
        ck_assert_uint_le(qn_st_tensor_at(s, i - 1)->offset, qn_st_tensor_at(s, i)->offset);
    qn_st_close(s);

    /* the same from a file on disk */
    char path[] = "/tmp/quanta_test_st_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, b, n), (ssize_t)n);
    close(fd);
    ck_assert_int_eq(qn_st_open(path, &s), QUANTA_OK);
    ck_assert_uint_eq(qn_st_tensor_count(s), 5);
    qn_st_close(s);
    unlink(path);
    ck_assert_int_eq(qn_st_open("/nonexistent.safetensors", &s), QUANTA_ERR_IO);
    free(b);
}
END_TEST

START_TEST(test_every_prefix_rejected) {
    size_t n;
    unsigned char *b = good_file(&n);
    for (size_t k = 0; k < n; k++) {
        unsigned char *c = malloc(k ? k : 1);
        memcpy(c, b, k);
        qn_safetensors *s;
        quanta_status st = qn_st_open_memory(c, k, &s);
        ck_assert_msg(st == QUANTA_ERR_CORRUPT, "prefix %zu/%zu: %s", k, n, quanta_status_name(st));
        free(c);
    }
    free(b);
}
END_TEST

START_TEST(test_rejections) {
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                  "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "overlaps");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                  "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}", 20, "hole");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "past");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12, "cover 8 of the 12");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "need 12");
    expect_reject("{\"a\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "unknown dtype");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "dim 0");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 8, "dim 0");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, "dims");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,4]}}", 4,
                  "overflow");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "data_offsets");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8, "data_offsets");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,18446744073709551615]}}", 8, "need");
    expect_reject("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "dtype");
    expect_reject("{\"a\":[1,2]}", 0, "not an object");
    expect_reject("{\"__metadata__\":{\"k\":1}}", 0, "__metadata__");
    expect_reject("{\"\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "empty name");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                  "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16, "duplicate key 'a'");
    expect_reject("[]", 0, "start with '{'");
    expect_reject("{\"a\":1,}", 0, "json");
    /* header length beyond the file / absurd */
    unsigned char hdr[16] = { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, '{', '}' };
    qn_safetensors *s;
    ck_assert_int_eq(qn_st_open_memory(hdr, sizeof hdr, &s), QUANTA_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(quanta_last_error(), "header length"));
    ck_assert_int_eq(qn_st_open_memory(hdr, 0, &s), QUANTA_ERR_CORRUPT);
}
END_TEST

static quanta_status jp(const char *s, qn_json **v) { return qn_json_parse(s, strlen(s), 0, v); }

START_TEST(test_json_strict) {
    static const char *bad[] = {
        "", "{", "[1,]", "{\"a\":1,}", "01", "1.", ".5", "-", "1e", "+1", "NaN", "Infinity", "tru", "nul",
        "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\u0000\"", "\"a\x01\"", "\"\xC0\xAF\"",
        "\"\xED\xA0\x80\"", "\"\xF5\x80\x80\x80\"", "{\"a\" 1}", "{1:2}", "[1 2]", "1 2", "// c\n1", "{\"a\":1,\"a\":2}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        qn_json *v = (qn_json *)1;
        ck_assert_msg(jp(bad[i], &v) == QUANTA_ERR_CORRUPT, "accepted bad JSON #%zu: %s", i, bad[i]);
        ck_assert_ptr_null(v);
    }
    /* nesting: 64 levels are fine by default, 65 are not */
    char deep[200];
    memset(deep, '[', 64);
    memset(deep + 64, ']', 64);
    deep[128] = '\0';
    qn_json *v;
    ck_assert_int_eq(jp(deep, &v), QUANTA_OK);
    qn_json_free(v);
    memset(deep, '[', 65);
    memset(deep + 65, ']', 65);
    deep[130] = '\0';
    ck_assert_int_eq(jp(deep, &v), QUANTA_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(quanta_last_error(), "deep"));
    /* values */
    ck_assert_int_eq(jp(" {\"s\":\"a\\u00e9\\ud83d\\ude00\\n\",\"n\":-12,\"big\":18446744073709551615,"
                        "\"f\":2.5e-1,\"t\":true,\"z\":null,\"arr\":[1,[2]]} ", &v), QUANTA_OK);
    const qn_json *s = qn_json_get(v, "s");
    ck_assert_str_eq(s->str, "a\xC3\xA9\xF0\x9F\x98\x80\n");
    int64_t i64;
    uint64_t u64;
    ck_assert(qn_json_as_i64(qn_json_get(v, "n"), &i64) && i64 == -12);
    ck_assert(!qn_json_as_u64(qn_json_get(v, "n"), &u64));
    ck_assert(qn_json_as_u64(qn_json_get(v, "big"), &u64) && u64 == UINT64_MAX);
    ck_assert(!qn_json_as_i64(qn_json_get(v, "big"), &i64));
    ck_assert(!qn_json_as_u64(qn_json_get(v, "f"), &u64));
    ck_assert(qn_json_get(v, "f")->number == 0.25);
    ck_assert_int_eq(qn_json_get(v, "t")->boolean, 1);
    ck_assert_int_eq(qn_json_get(v, "z")->type, QN_JSON_NULL);
    ck_assert_uint_eq(qn_json_get(v, "arr")->count, 2);
    qn_json_free(v);
}
END_TEST

START_TEST(test_hf_config) {
    const char *llama =
        "{\"architectures\":[\"LlamaForCausalLM\"],\"model_type\":\"llama\",\"hidden_size\":4096,"
        "\"intermediate_size\":14336,\"num_hidden_layers\":32,\"num_attention_heads\":32,\"num_key_value_heads\":8,"
        "\"vocab_size\":128256,\"rms_norm_eps\":1e-05,\"rope_theta\":500000.0,\"hidden_act\":\"silu\","
        "\"bos_token_id\":128000,\"eos_token_id\":[128001,128009],\"tie_word_embeddings\":false,"
        "\"rope_scaling\":{\"factor\":8.0,\"rope_type\":\"llama3\"},\"max_position_embeddings\":131072}";
    qn_hf_config c;
    ck_assert_msg(qn_hf_config_parse(llama, strlen(llama), &c) == QUANTA_OK, "%s", quanta_last_error());
    ck_assert_str_eq(c.architecture, "LlamaForCausalLM");
    ck_assert_str_eq(c.model_type, "llama");
    ck_assert_int_eq(c.hidden_size, 4096);
    ck_assert_int_eq(c.num_key_value_heads, 8);
    ck_assert_int_eq(c.head_dim, 128); /* derived */
    ck_assert_int_eq(c.eos_token_id, 128001);
    ck_assert(c.rope_theta == 500000.0);
    ck_assert(c.rope_scaling_factor == 8.0);
    ck_assert_str_eq(c.rope_scaling_type, "llama3");
    ck_assert_int_eq(c.tie_word_embeddings, 0);
    ck_assert_int_eq(c.attention_bias, -1);
    ck_assert(isnan(c.query_pre_attn_scalar));
    const char *gemma =
        "{\"model_type\":\"gemma3\",\"text_config\":{\"model_type\":\"gemma3_text\",\"hidden_size\":640,"
        "\"intermediate_size\":2048,\"num_hidden_layers\":18,\"num_attention_heads\":4,\"num_key_value_heads\":1,"
        "\"head_dim\":256,\"vocab_size\":262144,\"hidden_activation\":\"gelu_pytorch_tanh\",\"sliding_window\":512,"
        "\"rope_local_base_freq\":10000.0,\"rope_theta\":1000000.0,\"query_pre_attn_scalar\":256,\"rope_scaling\":null}}";
    ck_assert_msg(qn_hf_config_parse(gemma, strlen(gemma), &c) == QUANTA_OK, "%s", quanta_last_error());
    ck_assert_str_eq(c.model_type, "gemma3_text");
    ck_assert_int_eq(c.head_dim, 256);
    ck_assert_str_eq(c.hidden_act, "gelu_pytorch_tanh");
    ck_assert(c.rope_local_base_freq == 10000.0);
    ck_assert(c.query_pre_attn_scalar == 256);
    /* errors name the key */
    const char *missing = "{\"hidden_size\":64,\"intermediate_size\":128,\"num_hidden_layers\":2,\"num_attention_heads\":4}";
    ck_assert_int_eq(qn_hf_config_parse(missing, strlen(missing), &c), QUANTA_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(quanta_last_error(), "vocab_size"));
    const char *wrong = "{\"hidden_size\":\"64\"}";
    ck_assert_int_eq(qn_hf_config_parse(wrong, strlen(wrong), &c), QUANTA_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(quanta_last_error(), "hidden_size"));
    const char *heads = "{\"hidden_size\":64,\"intermediate_size\":128,\"num_hidden_layers\":2,\"num_attention_heads\":4,"
                        "\"num_key_value_heads\":3,\"vocab_size\":10}";
    ck_assert_int_eq(qn_hf_config_parse(heads, strlen(heads), &c), QUANTA_ERR_CORRUPT);
    ck_assert_int_eq(qn_hf_config_parse("[]", 2, &c), QUANTA_ERR_CORRUPT);
    ck_assert_int_eq(qn_hf_config_load("/nonexistent/config.json", &c), QUANTA_ERR_IO);
}
END_TEST

int main(void) {
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_valid_file);
    tcase_add_test(tc, test_every_prefix_rejected);
    tcase_add_test(tc, test_rejections);
    tcase_add_test(tc, test_json_strict);
    tcase_add_test(tc, test_hf_config);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
