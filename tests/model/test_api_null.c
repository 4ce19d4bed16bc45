/*
 * test_api_null.c — every function of include/quanta.h that takes a pointer, called with each
 * required pointer NULL (the others valid): a fallible call returns QUANTA_ERR_INVALID_ARGUMENT
 * with a message naming the argument, a destroy/close/reset is a no-op, an accessor returns its
 * "nothing" value; and the size arguments that bound caller buffers, too small or overflowing,
 * are refused. The library must never crash, print or abort on these (the ASan run checks it
 * reads and writes nothing it should not). Optional pointers (documented as such: a graph
 * input's name, attention's mask/kv_lens/params, norm weights, a query's output buffer with
 * capacity 0) are left out. Objects: the reference backend and the tiny random-weight LLaMA.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "qt_check.h"
/* tiny_model.h's float64 reference is not needed here */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "tiny_model.h"

static const tiny_spec LLAMA = {"llama", 32, 4, 2, 8, 48, 2, 300, 0, 10000.0f, 0, 0};

/* A NULL argument: refused, the message saying "<name> is NULL". */
#define NUL(call, name) QT_EXPECT_ERR(call, QUANTA_ERR_INVALID_ARGUMENT, name " is NULL")
/* Any other bad argument (a size, a range): refused, the message naming it. */
#define BAD(call, ...) QT_EXPECT_ERR(call, QUANTA_ERR_INVALID_ARGUMENT, __VA_ARGS__)

START_TEST(test_formats_and_devices) {
    quanta_dtype dt;
    size_t bytes = 0;
    NUL(quanta_dtype_parse(NULL, &dt), "name");
    NUL(quanta_dtype_parse("q8", NULL), "out");
    quanta_tensor_desc d = {QUANTA_Q8, 2, {2, 32}, 0, 0};
    NUL(quanta_tensor_bytes(NULL, &bytes), "desc");
    NUL(quanta_tensor_bytes(&d, NULL), "bytes");
    /* sizes: overflowing dims */
    quanta_tensor_desc huge = {QUANTA_F32, 2, {INT64_MAX / 2, 4}, 0, 0};
    quanta_status st = quanta_tensor_bytes(&huge, &bytes);
    ck_assert_msg(st == QUANTA_ERR_OVERFLOW || st == QUANTA_ERR_INVALID_ARGUMENT, "%s", quanta_status_name(st));
    float src[64] = {0}, back[64];
    unsigned char q[2 * 32 + 8];
    ck_assert_int_eq(quanta_tensor_bytes(&d, &bytes), QUANTA_OK);
    ck_assert_uint_eq(bytes, sizeof q);
    NUL(quanta_quantize(NULL, src, q, sizeof q), "desc");
    NUL(quanta_quantize(&d, NULL, q, sizeof q), "src");
    NUL(quanta_quantize(&d, src, NULL, sizeof q), "dst");
    BAD(quanta_quantize(&d, src, q, sizeof q - 1), "dst_bytes");
    ck_assert_int_eq(quanta_quantize(&d, src, q, sizeof q), QUANTA_OK);
    NUL(quanta_dequantize(NULL, q, sizeof q, back, 64), "desc");
    NUL(quanta_dequantize(&d, NULL, sizeof q, back, 64), "src");
    NUL(quanta_dequantize(&d, q, sizeof q, NULL, 64), "dst");
    BAD(quanta_dequantize(&d, q, sizeof q - 1, back, 64), "src_bytes");
    BAD(quanta_dequantize(&d, q, sizeof q, back, 63), "dst_count");
    NUL(quanta_device_count(NULL), "count");
    NUL(quanta_device_get(0, NULL), "info");
}
END_TEST

START_TEST(test_backend_and_buffers) {
    quanta_backend *be = (quanta_backend *)1;
    NUL(quanta_backend_open(NULL, &be), "spec");
    NUL(quanta_backend_open("ref", NULL), "out");
    quanta_backend_close(NULL);
    ck_assert_int_eq(quanta_backend_open("ref", &be), QUANTA_OK);
    quanta_device_info info;
    uint64_t a, b;
    NUL(quanta_backend_device(NULL, &info), "backend");
    NUL(quanta_backend_device(be, NULL), "info");
    NUL(quanta_backend_set_memory_limit(NULL, 0), "backend");
    NUL(quanta_backend_memory_stats(NULL, &a, &b), "backend");
    ck_assert_int_eq(quanta_backend_memory_stats(be, NULL, NULL), QUANTA_OK); /* answers not wanted */
    quanta_backend_reset_peak(NULL);
    quanta_tensor_desc d = {QUANTA_F32, 2, {2, 4}, 0, 0};
    ck_assert_int_eq(quanta_backend_runs_weight(NULL, &d), 0);
    ck_assert_int_eq(quanta_backend_runs_weight(be, NULL), 0);
    ck_assert_int_eq(quanta_backend_prefers_weight(NULL, &d, QUANTA_Q8), 0);
    ck_assert_int_eq(quanta_backend_prefers_weight(be, NULL, QUANTA_Q8), 0);
    ck_assert_int_eq(quanta_backend_prefers_weight(be, &d, QUANTA_Q8), 0); /* ref: no preference */
    char report[64];
    NUL(quanta_backend_tune(NULL, 1, report, sizeof report), "backend");
    quanta_buffer *buf = (quanta_buffer *)1;
    NUL(quanta_buffer_create(NULL, &d, &buf), "backend");
    NUL(quanta_buffer_create(be, NULL, &buf), "desc");
    NUL(quanta_buffer_create(be, &d, NULL), "out");
    quanta_buffer_destroy(NULL);
    ck_assert_int_eq(quanta_buffer_create(be, &d, &buf), QUANTA_OK);
    float x[8] = {0};
    NUL(quanta_buffer_write(NULL, x, sizeof x), "buffer");
    NUL(quanta_buffer_write(buf, NULL, sizeof x), "data");
    BAD(quanta_buffer_write(buf, x, sizeof x + 4), "bytes");
    NUL(quanta_buffer_read(NULL, x, sizeof x), "buffer");
    NUL(quanta_buffer_read(buf, NULL, sizeof x), "data");
    BAD(quanta_buffer_read(buf, x, sizeof x + 4), "bytes");
    quanta_tensor_desc got;
    NUL(quanta_buffer_desc(NULL, &got), "buffer");
    NUL(quanta_buffer_desc(buf, NULL), "desc");
    quanta_buffer_destroy(buf);
    quanta_backend_close(be);
}
END_TEST

START_TEST(test_graph_ops_and_plans) {
    quanta_graph *g = (quanta_graph *)1;
    NUL(quanta_graph_create(NULL), "out");
    quanta_graph_destroy(NULL);
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    quanta_tensor_desc d = {QUANTA_F32, 2, {2, 4}, 0, 0}, di = {QUANTA_I32, 1, {2}, 0, 0};
    quanta_tensor *x, *w, *ids, *y = (quanta_tensor *)1;
    float data[8] = {0};
    NUL(quanta_graph_input(NULL, "x", &d, &x), "graph");
    NUL(quanta_graph_input(g, "x", NULL, &x), "desc");
    NUL(quanta_graph_input(g, "x", &d, NULL), "out");
    NUL(quanta_graph_constant(NULL, "w", &d, data, sizeof data, &w), "graph");
    NUL(quanta_graph_constant(g, "w", NULL, data, sizeof data, &w), "desc");
    NUL(quanta_graph_constant(g, "w", &d, NULL, sizeof data, &w), "data");
    NUL(quanta_graph_constant(g, "w", &d, data, sizeof data, NULL), "out");
    BAD(quanta_graph_constant(g, "w", &d, data, SIZE_MAX, &w), "bytes");
    ck_assert_int_eq(quanta_graph_input(g, NULL, &d, &x), QUANTA_OK); /* name may be NULL */
    ck_assert_int_eq(quanta_graph_constant(g, "w", &d, data, sizeof data, &w), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "ids", &di, &ids), QUANTA_OK);
    quanta_backend *be;
    ck_assert_int_eq(quanta_backend_open("ref", &be), QUANTA_OK);
    quanta_buffer *buf;
    ck_assert_int_eq(quanta_buffer_create(be, &d, &buf), QUANTA_OK);
    quanta_tensor *bt;
    NUL(quanta_graph_buffer(NULL, buf, &bt), "graph");
    NUL(quanta_graph_buffer(g, NULL, &bt), "buffer");
    NUL(quanta_graph_buffer(g, buf, NULL), "out");
    NUL(quanta_graph_output(NULL, x), "graph");
    NUL(quanta_graph_output(g, NULL), "t");
    quanta_tensor_desc got;
    NUL(quanta_tensor_get_desc(NULL, &got), "t");
    NUL(quanta_tensor_get_desc(x, NULL), "desc");
    ck_assert_int_le(quanta_graph_node_count(NULL), 0);

    /* op constructors: the graph, every required operand and out */
    NUL(quanta_matmul(NULL, x, w, &y), "graph");
    NUL(quanta_matmul(g, NULL, w, &y), "x");
    NUL(quanta_matmul(g, x, w, NULL), "out");
    NUL(quanta_attention(g, NULL, x, x, NULL, NULL, NULL, &y), "q");
    NUL(quanta_attention(g, x, NULL, x, NULL, NULL, NULL, &y), "k");
    NUL(quanta_paged_attention(g, NULL, x, x, ids, ids, 4, NULL, &y), "q");
    NUL(quanta_paged_attention(g, x, NULL, x, ids, ids, 4, NULL, &y), "k_pool");
    NUL(quanta_paged_attention(g, x, x, NULL, ids, ids, 4, NULL, &y), "v_pool");
    NUL(quanta_paged_attention(g, x, x, x, NULL, ids, 4, NULL, &y), "block_table");
    NUL(quanta_rms_norm(NULL, x, NULL, 1e-6f, 0, &y), "graph");
    NUL(quanta_rms_norm(g, NULL, NULL, 1e-6f, 0, &y), "x");
    NUL(quanta_rms_norm(g, x, NULL, 1e-6f, 0, NULL), "out");
    NUL(quanta_add_rms_norm(g, NULL, x, NULL, 1e-6f, 0, &y), "a");
    NUL(quanta_rms_norm_add(g, NULL, x, NULL, 1e-6f, 0, &y), "x");
    quanta_rope_params rp;
    memset(&rp, 0, sizeof rp);
    NUL(quanta_rope(NULL, x, ids, &rp, &y), "graph");
    NUL(quanta_rope(g, NULL, ids, &rp, &y), "x");
    NUL(quanta_rope(g, x, NULL, &rp, &y), "positions");
    NUL(quanta_rope(g, x, ids, NULL, &y), "params");
    NUL(quanta_rope(g, x, ids, &rp, NULL), "out");
    NUL(quanta_rms_norm_rope(g, NULL, NULL, 1e-6f, 0, ids, &rp, &y), "x");
    NUL(quanta_rms_norm_rope(g, x, NULL, 1e-6f, 0, NULL, &rp, &y), "positions");
    NUL(quanta_silu(NULL, x, &y), "graph");
    NUL(quanta_silu(g, NULL, &y), "x");
    NUL(quanta_silu(g, x, NULL), "out");
    NUL(quanta_gelu(g, NULL, 0, &y), "x");
    NUL(quanta_add(g, NULL, x, &y), "a");
    NUL(quanta_add(g, x, NULL, &y), "b");
    NUL(quanta_mul(g, NULL, x, &y), "a");
    NUL(quanta_glu(g, NULL, x, QUANTA_GLU_SILU, &y), "gate");
    NUL(quanta_glu(g, x, NULL, QUANTA_GLU_SILU, &y), "up");
    NUL(quanta_matmul_glu(g, NULL, w, w, QUANTA_GLU_SILU, &y), "x");
    NUL(quanta_matmul_glu(g, x, NULL, w, QUANTA_GLU_SILU, &y), "w_gate");
    NUL(quanta_matmul_glu(g, x, w, NULL, QUANTA_GLU_SILU, &y), "w_up");
    NUL(quanta_scale(g, NULL, 2.0f, &y), "x");
    NUL(quanta_softmax(g, NULL, &y), "x");
    NUL(quanta_argmax(g, NULL, &y), "x");
    NUL(quanta_get_rows(g, NULL, ids, &y), "table");
    NUL(quanta_get_rows(g, w, NULL, &y), "ids");
    const int64_t dims[2] = {4, 2}, big[2] = {INT64_MAX / 2, 4};
    NUL(quanta_reshape(g, NULL, 2, dims, &y), "x");
    NUL(quanta_reshape(g, x, 2, NULL, &y), "dims");
    const quanta_status rs = quanta_reshape(g, x, 2, big, &y); /* overflowing element count */
    ck_assert_msg(rs == QUANTA_ERR_INVALID_ARGUMENT || rs == QUANTA_ERR_OVERFLOW, "%s", quanta_status_name(rs));
    const int32_t perm[QUANTA_MAX_DIMS] = {1, 0, 0, 0};
    NUL(quanta_permute(g, NULL, perm, &y), "x");
    NUL(quanta_permute(g, x, NULL, &y), "perm");
    NUL(quanta_convert(g, x, QUANTA_F16, NULL), "out");
    NUL(quanta_write_rows(g, NULL, x, ids, &y), "dst");
    NUL(quanta_write_rows(g, x, NULL, ids, &y), "src");

    /* plans */
    ck_assert_int_eq(quanta_silu(g, x, &y), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(g, y), QUANTA_OK);
    quanta_plan *p = (quanta_plan *)1;
    NUL(quanta_plan_create(NULL, be, &p), "graph");
    NUL(quanta_plan_create(g, NULL, &p), "backend");
    NUL(quanta_plan_create(g, be, NULL), "out");
    quanta_plan_destroy(NULL);
    ck_assert_int_eq(quanta_plan_create(g, be, &p), QUANTA_OK);
    size_t peak;
    const char *on, *bn;
    NUL(quanta_plan_peak_bytes(NULL, &peak), "plan");
    NUL(quanta_plan_peak_bytes(p, NULL), "bytes");
    ck_assert_int_le(quanta_plan_op_count(NULL), 0);
    ck_assert_int_le(quanta_plan_fallback_count(NULL), 0);
    NUL(quanta_plan_op_info(NULL, 0, &on, &bn), "plan");
    BAD(quanta_plan_op_info(p, -1, &on, &bn), "i = -1");
    BAD(quanta_plan_op_info(p, quanta_plan_op_count(p), &on, &bn), "out of range");
    ck_assert_int_eq(quanta_plan_op_info(p, 0, NULL, NULL), QUANTA_OK); /* answers not wanted */
    NUL(quanta_plan_set_input(NULL, x, data, sizeof data), "plan");
    NUL(quanta_plan_set_input(p, NULL, data, sizeof data), "t");
    BAD(quanta_plan_set_input(p, x, data, SIZE_MAX), "bytes");
    NUL(quanta_plan_execute(NULL), "plan");
    ck_assert_int_eq(quanta_plan_set_input(p, x, data, sizeof data), QUANTA_OK);
    ck_assert_int_eq(quanta_plan_execute(p), QUANTA_OK);
    float out[8];
    NUL(quanta_plan_get_output(NULL, y, out, sizeof out), "plan");
    NUL(quanta_plan_get_output(p, NULL, out, sizeof out), "t");
    NUL(quanta_plan_get_output(p, y, NULL, sizeof out), "data");
    BAD(quanta_plan_get_output(p, y, out, SIZE_MAX), "bytes");
    NUL(quanta_plan_get_output_prefix(NULL, y, out, 4), "plan");
    NUL(quanta_plan_get_output_prefix(p, NULL, out, 4), "t");
    NUL(quanta_plan_get_output_prefix(p, y, NULL, 4), "data");
    BAD(quanta_plan_get_output_prefix(p, y, out, sizeof out + 4), "bytes");
    quanta_plan_destroy(p);
    quanta_graph_destroy(g);
    quanta_buffer_destroy(buf);
    quanta_backend_close(be);
}
END_TEST

START_TEST(test_sharding_and_comms) {
    quanta_tensor_desc d = {QUANTA_F32, 2, {4, 8}, 0, 0}, out;
    int64_t first;
    float w[32] = {0}, shard[16];
    NUL(quanta_shard_desc(NULL, QUANTA_SHARD_ROWS, 0, 2, &out), "desc");
    NUL(quanta_shard_desc(&d, QUANTA_SHARD_ROWS, 0, 2, NULL), "out");
    NUL(quanta_shard_offset(NULL, QUANTA_SHARD_ROWS, 0, 2, &first), "desc");
    NUL(quanta_shard_offset(&d, QUANTA_SHARD_ROWS, 0, 2, NULL), "first");
    NUL(quanta_shard_weight(NULL, w, sizeof w, QUANTA_SHARD_ROWS, 0, 2, shard, sizeof shard), "desc");
    NUL(quanta_shard_weight(&d, NULL, sizeof w, QUANTA_SHARD_ROWS, 0, 2, shard, sizeof shard), "data");
    NUL(quanta_shard_weight(&d, w, sizeof w, QUANTA_SHARD_ROWS, 0, 2, NULL, sizeof shard), "out");
    BAD(quanta_shard_weight(&d, w, sizeof w, QUANTA_SHARD_ROWS, 0, 2, shard, sizeof shard - 1), "out_bytes");
    BAD(quanta_shard_weight(&d, w, sizeof w - 1, QUANTA_SHARD_ROWS, 0, 2, shard, sizeof shard), "bytes");
    NUL(quanta_comm_create_local(2, NULL), "comms");
    quanta_comm_destroy(NULL);
    quanta_comm_abort(NULL);
    int rank, world;
    NUL(quanta_comm_rank(NULL, &rank, &world), "comm");
    quanta_comm *comms[2];
    ck_assert_int_eq(quanta_comm_create_local(2, comms), QUANTA_OK);
    ck_assert_int_eq(quanta_comm_rank(comms[1], NULL, NULL), QUANTA_OK); /* answers not wanted */
    BAD(quanta_comm_create_local(0, comms), "world");
    quanta_graph *g;
    quanta_tensor *x, *y;
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "x", &d, &x), QUANTA_OK);
    NUL(quanta_all_reduce(g, x, NULL, &y), "comm");
    NUL(quanta_all_reduce(g, NULL, NULL, &y), "x");
    quanta_graph_destroy(g);
    quanta_comm_destroy(comms[0]), quanta_comm_destroy(comms[1]);
}
END_TEST

START_TEST(test_sampler_templates_quantize) {
    quanta_model_sampler_default_params(NULL);
    quanta_quantize_default_params(NULL);
    quanta_model_sampler_params sp;
    quanta_model_sampler_default_params(&sp);
    quanta_model_sampler *s = (quanta_model_sampler *)1;
    NUL(quanta_model_sampler_create(&sp, NULL), "out");
    NUL(quanta_model_sampler_create(NULL, &s), "params");
    ck_assert_ptr_null(s);
    quanta_model_sampler_destroy(NULL);
    ck_assert_int_eq(quanta_model_sampler_create(&sp, &s), QUANTA_OK);
    float logits[4] = {0, 1, 2, 3};
    int32_t tok;
    NUL(quanta_model_sampler_accept(NULL, 1), "sampler");
    NUL(quanta_model_sample(NULL, logits, 4, &tok), "sampler");
    NUL(quanta_model_sample(s, NULL, 4, &tok), "logits");
    NUL(quanta_model_sample(s, logits, 4, NULL), "token");
    BAD(quanta_model_sample(s, logits, 0, &tok), "n_vocab");
    quanta_model_sampler_destroy(s);
    quanta_chat_template t;
    NUL(quanta_chat_template_detect(NULL, &t), "template");
    NUL(quanta_chat_template_detect("{{ x }}", NULL), "out");
    NUL(quanta_chat_template_parse(NULL, &t), "name");
    NUL(quanta_chat_template_parse("chatml", NULL), "out");
    ck_assert_int_eq(quanta_chat_template_parse("chatml", &t), QUANTA_OK);
    quanta_chat_message msg = {"user", "hello"};
    char buf[16];
    size_t len;
    NUL(quanta_chat_render(t, NULL, 1, 1, buf, sizeof buf, &len), "messages");
    NUL(quanta_chat_render(t, &msg, 1, 1, NULL, sizeof buf, &len), "buf");
    NUL(quanta_chat_render(t, &msg, 1, 1, buf, sizeof buf, NULL), "len");
    /* a buffer too small: refused, the length needed reported */
    quanta_status st = quanta_chat_render(t, &msg, 1, 1, buf, 4, &len);
    ck_assert_msg(st != QUANTA_OK, "render into 4 bytes succeeded");
    ck_assert_uint_gt(len, 4);
    quanta_quantize_summary sum;
    NUL(quanta_quantize_model(NULL, &sum), "params");
}
END_TEST

START_TEST(test_model_functions) {
    tiny_model tm;
    tiny_build(&tm, &LLAMA, 71, NULL, NULL);
    quanta_backend *be;
    ck_assert_int_eq(quanta_backend_open("ref", &be), QUANTA_OK);
    quanta_model_params mp;
    quanta_model_default_params(NULL);
    quanta_model_default_params(&mp);
    quanta_model *m = (quanta_model *)1;
    NUL(quanta_model_load(NULL, be, &mp, &m), "path");
    NUL(quanta_model_load("/nonexistent/tiny.gguf", NULL, &mp, &m), "backend");
    NUL(quanta_model_load("/nonexistent/tiny.gguf", be, &mp, NULL), "out");
    NUL(quanta_model_load_tp("/nonexistent/tiny.gguf", be, &mp, NULL, &m), "comm");
    NUL(quanta_model_load_tp_threads("/nonexistent/tiny.gguf", NULL, "ref", &mp, 2, &m), "backend");
    NUL(quanta_model_load_tp_threads("/nonexistent/tiny.gguf", be, "ref", &mp, 2, NULL), "out");
    quanta_model_destroy(NULL);
    m = tiny_load(&tm, be, &mp);
    ck_assert_ptr_nonnull(m);
    quanta_model_info info;
    NUL(quanta_model_get_info(NULL, &info), "model");
    NUL(quanta_model_get_info(m, NULL), "info");
    int32_t toks[8];
    size_t n = 0;
    char piece[8];
    NUL(quanta_model_tokenize(NULL, "ab", 2, 1, 0, toks, 8, &n), "model");
    NUL(quanta_model_tokenize(m, NULL, 2, 1, 0, toks, 8, &n), "text");
    NUL(quanta_model_tokenize(m, "ab", 2, 1, 0, NULL, 8, &n), "tokens");
    NUL(quanta_model_tokenize(m, "ab", 2, 1, 0, toks, 8, NULL), "n_tokens");
    ck_assert_int_eq(quanta_model_tokenize(m, "ab", 2, 1, 0, toks, 8, &n), QUANTA_OK);
    /* capacities short of the answer: refused, the needed size reported, nothing written past them */
    const size_t nt = n;
    ck_assert_uint_ge(nt, 2);
    int32_t guard[3] = {-7, -7, -7};
    size_t need = 0;
    BAD(quanta_model_tokenize(m, "ab", 2, 1, 0, guard, 1, &need), "capacity");
    ck_assert_uint_eq(need, nt);
    ck_assert_int_eq(guard[1], -7);
    ck_assert_int_eq(quanta_model_detokenize(m, toks, nt, 0, NULL, 0, &need), QUANTA_OK); /* the query */
    char small[4] = {'#', '#', '#', '#'};
    size_t got = 0;
    ck_assert_msg(quanta_model_detokenize(m, toks, nt, 0, small, need, &got) != QUANTA_OK,
                  "detokenize into %zu bytes (needs %zu + 1) succeeded", need, need);
    ck_assert_uint_eq(got, need);
    if (need + 1 < sizeof small) ck_assert_int_eq(small[need + 1], '#');
    NUL(quanta_model_token_to_piece(NULL, toks[1], 0, piece, sizeof piece, &n), "model");
    NUL(quanta_model_token_to_piece(m, toks[1], 0, NULL, sizeof piece, &n), "buf");
    NUL(quanta_model_token_to_piece(m, toks[1], 0, piece, sizeof piece, NULL), "len");
    NUL(quanta_model_detokenize(NULL, toks, 2, 0, piece, sizeof piece, &n), "model");
    NUL(quanta_model_detokenize(m, NULL, 2, 0, piece, sizeof piece, &n), "tokens");
    NUL(quanta_model_detokenize(m, toks, 2, 0, piece, sizeof piece, NULL), "len");
    ck_assert_int_eq(quanta_model_token_is_eog(NULL, 0), 0);
    const char *text;
    quanta_chat_template t;
    NUL(quanta_model_chat_template_text(NULL, &text), "model");
    NUL(quanta_model_chat_template_text(m, NULL), "text");
    NUL(quanta_model_chat_template(NULL, &t), "model");
    NUL(quanta_model_chat_template(m, NULL), "out");

    quanta_model_context *ctx = (quanta_model_context *)1;
    NUL(quanta_model_context_create(NULL, 16, &ctx), "model");
    NUL(quanta_model_context_create(m, 16, NULL), "out");
    BAD(quanta_model_context_create(m, -1, &ctx), "n_ctx");
    quanta_model_context_destroy(NULL);
    quanta_model_context_reset(NULL);
    NUL(quanta_model_context_set_progress(NULL, NULL, NULL), "ctx");
    ck_assert_int_le(quanta_model_context_position(NULL), 0);
    ck_assert_int_le(quanta_model_context_size(NULL), 0);
    ck_assert_int_eq(quanta_model_context_create(m, 16, &ctx), QUANTA_OK);
    float *logits = malloc((size_t)LLAMA.n_vocab * sizeof *logits);
    ck_assert_ptr_nonnull(logits);
    NUL(quanta_model_eval(NULL, toks, 1, logits, (size_t)LLAMA.n_vocab), "ctx");
    NUL(quanta_model_eval(ctx, NULL, 1, logits, (size_t)LLAMA.n_vocab), "tokens");
    BAD(quanta_model_eval(ctx, toks, 1, logits, (size_t)LLAMA.n_vocab - 1), "logits");
    NUL(quanta_model_eval_batch(NULL, toks, 1, logits, (size_t)LLAMA.n_vocab), "ctxs");
    NUL(quanta_model_eval_batch(&ctx, NULL, 1, logits, (size_t)LLAMA.n_vocab), "tokens");
    quanta_model_memory mem;
    NUL(quanta_model_memory_report(NULL, ctx, &mem), "model");
    NUL(quanta_model_memory_report(m, ctx, NULL), "out");
    { /* a context of another model (the same file loaded twice): refused, not read as this model's */
        quanta_model *m2 = tiny_load(&tm, be, &mp);
        quanta_model_context *ctx2;
        ck_assert_int_eq(quanta_model_context_create(m2, 16, &ctx2), QUANTA_OK);
        BAD(quanta_model_memory_report(m, ctx2, &mem), "ctx belongs to another model");
        quanta_model_context *mixed[2] = {ctx, ctx2};
        float *two = malloc(2 * (size_t)LLAMA.n_vocab * sizeof *two);
        ck_assert_ptr_nonnull(two);
        BAD(quanta_model_eval_batch(mixed, toks, 2, two, 2 * (size_t)LLAMA.n_vocab), "ctxs[1]", "of another model");
        free(two);
        ck_assert_int_eq(quanta_model_memory_report(m2, ctx2, &mem), QUANTA_OK);
        quanta_model_context_destroy(ctx2);
        quanta_model_destroy(m2);
    }

    quanta_kv_pool *pool = (quanta_kv_pool *)1;
    NUL(quanta_kv_pool_create(NULL, QUANTA_F32, 4, 0, 4, 4, &pool), "model");
    NUL(quanta_kv_pool_create(m, QUANTA_F32, 4, 0, 4, 4, NULL), "out");
    BAD(quanta_kv_pool_create(m, QUANTA_F32, INT32_MAX, 0, 16, 4, &pool), "n_blocks");
    /* a sequence of max_blocks * block_size positions must be countable in int32 */
    BAD(quanta_kv_pool_create(m, QUANTA_F32, 4, 0, 16, INT32_MAX / 8, &pool), "max_blocks 268435455",
        "also max_blocks'");
    ck_assert_ptr_null(pool);
    quanta_kv_pool_destroy(NULL);
    ck_assert_int_le(quanta_kv_pool_block_size(NULL), 0);
    ck_assert_uint_eq(quanta_kv_pool_bytes(NULL), 0);
    (void)quanta_kv_pool_dtype(NULL); /* any value; must not crash */
    ck_assert_int_eq(quanta_kv_pool_create(m, QUANTA_F32, 4, 0, 4, 4, &pool), QUANTA_OK);
    int32_t pos = 0, table[4] = {0, 1, 2, 3};
    NUL(quanta_model_eval_paged(NULL, 1, 1, toks, &pos, table, NULL, NULL, 0), "pool");
    NUL(quanta_model_eval_paged(pool, 1, 1, NULL, &pos, table, NULL, NULL, 0), "tokens");
    NUL(quanta_model_eval_paged(pool, 1, 1, toks, NULL, table, NULL, NULL, 0), "positions");
    NUL(quanta_model_eval_paged(pool, 1, 1, toks, &pos, NULL, NULL, NULL, 0), "tables");
    int32_t greedy[1];
    NUL(quanta_model_eval_paged_greedy(NULL, 1, 1, toks, &pos, table, NULL, greedy), "pool");
    NUL(quanta_model_eval_paged_greedy(pool, 1, 1, toks, &pos, NULL, NULL, greedy), "tables");
    NUL(quanta_model_eval_paged_greedy(pool, 1, 1, toks, &pos, table, NULL, NULL), "greedy");
    int32_t len1 = 1;
    NUL(quanta_model_eval_paged_pieces(NULL, 1, &len1, toks, &pos, table, NULL, NULL, 0, greedy), "pool");
    NUL(quanta_model_eval_paged_pieces(pool, 1, NULL, toks, &pos, table, NULL, NULL, 0, greedy), "lens");
    NUL(quanta_model_eval_paged_pieces(pool, 1, &len1, NULL, &pos, table, NULL, NULL, 0, greedy), "tokens");
    int32_t len0 = 0;
    BAD(quanta_model_eval_paged_pieces(pool, 1, &len0, toks, &pos, table, NULL, NULL, 0, greedy), "lens[0] = 0");
    /* Sizes, ranges and tables of the paged steps (pool: 4 blocks of 4, tables of 4 columns). */
    int32_t tk[8], pos2[2] = {0, 0}, tab2[8] = {0, 1, 2, 3, 1, 2, 3, 0}, lens2[2] = {2, 2}, greedy2[2];
    for (int i = 0; i < 8; i++) tk[i] = toks[0];
    BAD(quanta_model_eval_paged(pool, 0, 1, tk, &pos, table, NULL, NULL, 0), "n = 0");
    BAD(quanta_model_eval_paged(pool, 4097, 1, tk, &pos, table, NULL, NULL, 0), "n = 4097");
    BAD(quanta_model_eval_paged(pool, 1, 257, tk, &pos, table, NULL, NULL, 0), "T = 257");
    BAD(quanta_model_eval_paged_greedy(pool, 2, 2, tk, pos2, tab2, NULL, greedy2), "n = 2, T = 2");
    BAD(quanta_model_eval_paged_pieces(pool, 0, lens2, tk, pos2, tab2, NULL, NULL, 0, greedy2), "n = 0");
    int32_t neg = -1, end = 16;
    BAD(quanta_model_eval_paged(pool, 1, 1, tk, &neg, table, NULL, NULL, 0), "positions[0] = -1");
    BAD(quanta_model_eval_paged_greedy(pool, 1, 1, tk, &end, table, NULL, greedy), "positions[0] = 16", "16 positions");
    BAD(quanta_model_eval_paged(pool, 1, 1, tk, &pos, table, NULL, logits, (size_t)LLAMA.n_vocab + 1), "logits_count");
    BAD(quanta_model_eval_paged_pieces(pool, 2, lens2, tk, pos2, tab2, NULL, logits, (size_t)LLAMA.n_vocab, NULL),
        "logits_count", "n * n_vocab");
    int32_t long2[2] = {1, 257};
    BAD(quanta_model_eval_paged_pieces(pool, 2, long2, tk, pos2, tab2, NULL, NULL, 0, greedy2), "lens[1] = 257");
    tk[3] = LLAMA.n_vocab; /* the second piece's second token */
    BAD(quanta_model_eval_paged_pieces(pool, 2, lens2, tk, pos2, tab2, NULL, NULL, 0, greedy2), "tokens[3]");
    tk[3] = -2;
    BAD(quanta_model_eval_paged_pieces(pool, 2, lens2, tk, pos2, tab2, NULL, NULL, 0, greedy2), "tokens[3] = -2");
    tk[3] = toks[0];
    int32_t off[2] = {0, 1};
    BAD(quanta_model_eval_paged_pieces(pool, 2, lens2, tk, off, tab2, NULL, NULL, 0, greedy2), "position 1",
        "block boundary");
    tab2[4] = 4; /* sequence 1's first block: past the pool's 4 */
    BAD(quanta_model_eval_paged_pieces(pool, 2, lens2, tk, pos2, tab2, NULL, NULL, 0, greedy2),
        "quanta_model_eval_paged_pieces: tables[1][0] = 4", "not in the pool");
    tab2[4] = -1;
    BAD(quanta_model_eval_paged_greedy(pool, 2, 1, tk, pos2, tab2, NULL, greedy2),
        "quanta_model_eval_paged_greedy: tables[1][0] = -1");
    /* two sequences writing one block would overwrite each other's keys and values */
    tab2[4] = 0;
    BAD(quanta_model_eval_paged_pieces(pool, 2, lens2, tk, pos2, tab2, NULL, NULL, 0, greedy2),
        "tables[0][0] and tables[1][0] are both block 0", "must be distinct");
    int32_t dec_pos[2] = {5, 1}; /* decode: sequence 0 writes its column 1 (block 1), sequence 1 column 0 */
    tab2[4] = 1;
    BAD(quanta_model_eval_paged(pool, 2, 1, tk, dec_pos, tab2, NULL, NULL, 0),
        "tables[0][1] and tables[1][0] are both block 1");
    /* one sequence's two columns in one block: its own positions 0..3 and 4..7 in the same rows */
    int32_t same_twice[4] = {2, 2, 3, 0}, len8 = 8;
    BAD(quanta_model_eval_paged_pieces(pool, 1, &len8, tk, &pos, same_twice, NULL, NULL, 0, greedy),
        "tables[0][0] and tables[0][1] are both block 2");
    tab2[4] = 3; /* distinct again: the step runs */
    ck_assert_msg(quanta_model_eval_paged(pool, 2, 1, tk, dec_pos, tab2, NULL, NULL, 0) == QUANTA_OK, "%s",
                  quanta_last_error());
    free(logits);
    quanta_kv_pool_destroy(pool);
    quanta_model_context_destroy(ctx);
    quanta_model_destroy(m);
    quanta_backend_close(be);
    tiny_free(&tm);
}
END_TEST

int main(void) {
    Suite *s = suite_create("api_null");
    TCase *tc = tcase_create("api_null");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_formats_and_devices);
    tcase_add_test(tc, test_backend_and_buffers);
    tcase_add_test(tc, test_graph_ops_and_plans);
    tcase_add_test(tc, test_sharding_and_comms);
    tcase_add_test(tc, test_sampler_templates_quantize);
    tcase_add_test(tc, test_model_functions);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
