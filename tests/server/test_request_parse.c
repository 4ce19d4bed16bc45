/*
 * test_request_parse.c — the request-body parsers of `quanta serve` on their own (no server): the
 * KServe v2 infer body (server/kserve_request.c) and the OpenAI bodies (server/openai_request.c).
 *   - shapes whose element count overflows 64 bits are refused: [3, 6148914691236517207] wrapped to 5
 *     elements, so 5 ids were accepted for 3 rows of 6e18 columns and the row copy (kserve.c,
 *     row_prompt) read far outside them;
 *   - every prefix of a valid body, and bodies with random bytes changed, are either refused with a
 *     message or parsed into a request whose rows and sizes agree with each other (the sanitizer
 *     build runs this: an over-read or leak fails it).
 */
#include <string.h>

#include "kserve_request.h"
#include "openai_request.h"
#include "test_util.h"

static int infer(const char *body, size_t header_len, qs_kv2_infer *r, char *msg, size_t cap) {
    return qs_kv2_parse_infer(body, strlen(body), header_len, r, msg, cap);
}

START_TEST(shape_overflow_refused) {
    /* 3 x 6148914691236517207 = 2^64 + 5: 5 elements modulo 2^64 */
    static const char *const bodies[] = {
        ("{\"inputs\": [{\"name\": \"input_ids\", \"datatype\": \"INT32\", \"shape\": [3, 6148914691236517207],"
         " \"data\": [1, 2, 3, 4, 5]}, {\"name\": \"input_lengths\", \"datatype\": \"INT32\", \"shape\": [3, 1],"
         " \"data\": [100, 100, 100]}]}"),
        /* 2^32 x 2^32 = 2^64: no element at all */
        ("{\"inputs\": [{\"name\": \"input_ids\", \"datatype\": \"INT32\", \"shape\": [4294967296, 4294967296],"
         " \"data\": []}]}"),
        /* one dimension alone over the limit, the product within 64 bits */
        "{\"inputs\": [{\"name\": \"input_ids\", \"datatype\": \"INT32\", \"shape\": [1, 16777217], \"data\": [1]}]}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        qs_kv2_infer r;
        char msg[256] = "";
        const int rc = infer(bodies[i], 0, &r, msg, sizeof msg);
        if (rc == 0) {
            const size_t batch = r.batch, cols = r.ids_cols;
            qs_kv2_infer_free(&r);
            ck_abort_msg("body %zu accepted: batch %zu x %zu columns", i, batch, cols);
        }
        ck_assert_msg(strstr(msg, "input_ids") && strstr(msg, "shape"), "body %zu: %s", i, msg);
        printf("refused: %s\n", msg);
    }
    /* the largest shape allowed still parses */
    qs_kv2_infer r;
    char msg[256];
    ck_assert_msg(infer("{\"inputs\": [{\"name\": \"input_ids\", \"datatype\": \"INT32\", \"shape\": [2, 3],"
                        " \"data\": [[1, 2, 3], [4, 5, 6]]}]}", 0, &r, msg, sizeof msg) == 0, "%s", msg);
    ck_assert(r.batch == 2 && r.ids_cols == 3 && r.ids[5] == 6);
    qs_kv2_infer_free(&r);
}
END_TEST

/* What a parsed infer request must satisfy for kserve.c to read it: rows, columns and lengths agree. */
static void check_infer(const qs_kv2_infer *r) {
    ck_assert(r->batch >= 1 && r->batch <= QS_KV2_MAX_ELEMENTS);
    ck_assert((r->texts != NULL) != (r->ids != NULL));
    if (r->ids) ck_assert(r->ids_cols >= 1 && r->batch * r->ids_cols <= QS_KV2_MAX_ELEMENTS);
    for (size_t i = 0; r->texts && i < r->batch; i++) ck_assert_ptr_nonnull(r->texts[i]);
    for (size_t i = 0; r->lengths && i < r->batch; i++)
        ck_assert(r->lengths[i] >= 1 && (size_t)r->lengths[i] <= r->ids_cols);
    ck_assert(r->n_out >= 1 && r->n_out <= QS_KV2_N_OUT);
}

static void check_api(const qs_api_req *r) {
    ck_assert(r->chat ? r->n_messages >= 1 : (r->prompt != NULL) != (r->prompt_ids != NULL));
    ck_assert(r->gen.max_tokens == -1 || r->gen.max_tokens >= 1);
    ck_assert(r->gen.n_stop >= 0 && r->gen.n_stop <= QS_MAX_STOP);
}

/* Feeds body (n bytes, an exact-size copy: an over-read shows under ASan) to the parser `which`;
 * 1 when it parsed. */
static int feed(int which, const char *body, size_t n) {
    char *b = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(b);
    memcpy(b, body, n);
    char msg[256] = "", param[64] = "";
    int ok;
    if (which == 0) {
        qs_kv2_infer r;
        if ((ok = qs_kv2_parse_infer(b, n, 0, &r, msg, sizeof msg) == 0)) {
            check_infer(&r);
            qs_kv2_infer_free(&r);
        }
    } else if (which == 1) {
        qs_kv2_generate r;
        if ((ok = qs_kv2_parse_generate(b, n, &r, msg, sizeof msg) == 0)) {
            ck_assert_ptr_nonnull(r.text);
            qs_kv2_generate_free(&r);
        }
    } else {
        qs_api_req r;
        if ((ok = qs_api_parse(b, n, which == 3, &r, msg, sizeof msg, param, sizeof param) == 0)) {
            check_api(&r);
            qs_api_req_free(&r);
        }
    }
    ck_assert_msg(ok || msg[0], "parser %d refused a body without a message", which);
    free(b);
    return ok;
}

START_TEST(prefixes_and_mutations) {
    /* parser 0: infer, 1: generate, 2: completions, 3: chat */
    static const struct {
        int which;
        const char *body;
    } valid[] = {
        {0, "{\"id\": \"a\", \"inputs\": [{\"name\": \"input_ids\", \"datatype\": \"INT32\", \"shape\": [2, 3],"
            " \"data\": [[1, 2, 3], [4, 5, 6]]}, {\"name\": \"input_lengths\", \"datatype\": \"INT32\", \"shape\": [2, 1],"
            " \"data\": [3, 2]}], \"outputs\": [{\"name\": \"text_output\"}, {\"name\": \"output_ids\","
            " \"parameters\": {\"binary_data\": true}}], \"parameters\": {\"max_tokens\": 4, \"temperature\": 0.5}}"},
        {0, "{\"inputs\": [{\"name\": \"text_input\", \"datatype\": \"BYTES\", \"shape\": [2, 1], \"data\": [\"ab\", \"c\"]}]}"},
        {1, "{\"text_input\": \"hello\", \"max_tokens\": 3, \"parameters\": {\"temperature\": 0, \"seed\": 7, \"stream\": true}}"},
        {2, "{\"prompt\": [1, 2, 3], \"max_tokens\": 5, \"stop\": [\"a\", \"bc\"], \"logprobs\": 2, \"seed\": -3,"
            " \"stream\": true, \"stream_options\": {\"include_usage\": true}}"},
        {3, "{\"messages\": [{\"role\": \"system\", \"content\": \"s\"}, {\"role\": \"user\", \"content\": [{\"type\": \"text\","
            " \"text\": \"hi\"}, {\"type\": \"text\", \"text\": \" there\"}]}], \"logprobs\": true, \"top_logprobs\": 2,"
            " \"max_completion_tokens\": 9, \"response_format\": {\"type\": \"text\"}}"},
    };
    qt_rng rng = qt_rng_make(0x5E7A);
    /* bytes a mutation writes: JSON's structure, digits and signs, quotes, huge numbers' pieces */
    static const char alphabet[] = "{}[]\",:0123456789-+eE.tfn \\u\x01\xff";
    int parsed = 0, refused = 0;
    for (size_t v = 0; v < sizeof valid / sizeof valid[0]; v++) {
        const char *body = valid[v].body;
        const size_t n = strlen(body);
        ck_assert_msg(feed(valid[v].which, body, n), "valid body %zu refused", v);
        for (size_t k = 0; k < n; k++) feed(valid[v].which, body, k);
        char *m = malloc(n + 1);
        ck_assert_ptr_nonnull(m);
        for (int it = 0; it < 4000; it++) {
            memcpy(m, body, n + 1);
            const int edits = 1 + (int)(qt_next(&rng) % 3);
            for (int e = 0; e < edits; e++) m[qt_next(&rng) % n] = alphabet[qt_next(&rng) % (sizeof alphabet - 1)];
            if (feed(valid[v].which, m, n)) parsed++;
            else refused++;
        }
        free(m);
    }
    printf("bodies with random edits: %d parsed, %d refused; every prefix clean\n", parsed, refused);
}
END_TEST

/* A request's model name is kept whole: it was cut to 127 bytes, so a name that only began with the
 * served id (of 127 bytes) was served under it. */
START_TEST(long_model_name_whole) {
    char name[301];
    memset(name, 'm', 300);
    name[300] = 0;
    char body[512];
    snprintf(body, sizeof body, "{\"prompt\": \"a\", \"model\": \"%s\"}", name);
    qs_api_req r;
    char msg[256], param[64];
    ck_assert_msg(qs_api_parse(body, strlen(body), 0, &r, msg, sizeof msg, param, sizeof param) == 0, "%s", msg);
    ck_assert_ptr_nonnull(r.model);
    ck_assert_uint_eq(strlen(r.model), 300);
    ck_assert_str_eq(r.model, name);
    qs_api_req_free(&r);
    ck_assert(qs_api_parse("{\"prompt\": \"a\"}", 15, 0, &r, msg, sizeof msg, param, sizeof param) == 0);
    ck_assert_ptr_null(r.model); /* not given: any served id */
    qs_api_req_free(&r);
}
END_TEST

int main(void) {
    Suite *s = suite_create("server_request_parse");
    TCase *tc = tcase_create("parse");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, shape_overflow_refused);
    tcase_add_test(tc, prefixes_and_mutations);
    tcase_add_test(tc, long_model_name_whole);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
