/*
 * test_chat_template.c — chat templates: each published template in data/chat/ is recognised
 * by its text and renders the conversations of data/chat/cases.json exactly as written there
 * by hand from the template (chat_jinja_check.py confirms those strings with jinja2);
 * templates we cannot render, roles a template refuses and bad arguments are clear errors; a
 * model reports the template stored in its file, or its architecture's.
 */
#include <stdlib.h>

#include "gguf.h"
#include "json.h"
#include "qt_check.h"
#include "qt_file.h"
#include "test_util.h"
/* Only the model builder of tiny_model.h is used here, not its reference forward pass. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "tiny_model.h"

static const char *data_dir;

static char *slurp_text(const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", data_dir, name);
    size_t n;
    unsigned char *b = qt_slurp(path, &n);
    ck_assert_msg(b, "cannot read %s", path);
    char *s = malloc(n + 1);
    ck_assert(s);
    memcpy(s, b, n);
    s[n] = 0;
    free(b);
    return s;
}

/* Renders into an exactly sized buffer (after a length query) and returns it (caller frees). */
static char *render(quanta_chat_template t, const quanta_chat_message *m, size_t n, int gen) {
    size_t len = 12345;
    ck_assert_msg(quanta_chat_render(t, m, n, gen, NULL, 0, &len) == QUANTA_OK, "%s", quanta_last_error());
    char *buf = malloc(len + 1);
    ck_assert(buf);
    memset(buf, 0x5a, len + 1); /* poisoned: the NUL must be written */
    size_t len2 = 0;
    ck_assert_msg(quanta_chat_render(t, m, n, gen, buf, len + 1, &len2) == QUANTA_OK, "%s", quanta_last_error());
    ck_assert_uint_eq(len, len2);
    ck_assert_int_eq(buf[len], 0);
    ck_assert_uint_eq(strlen(buf), len);
    return buf;
}

START_TEST(test_published_templates) {
    char *json = slurp_text("cases.json");
    qn_json *root = NULL;
    ck_assert_msg(qn_json_parse(json, strlen(json), 0, &root) == QUANTA_OK, "%s", quanta_last_error());
    const qn_json *convs = qn_json_get(root, "conversations"), *cases = qn_json_get(root, "cases");
    ck_assert(convs && cases && cases->type == QN_JSON_ARRAY && cases->count >= 10);
    for (size_t c = 0; c < cases->count; c++) {
        const qn_json *k = &cases->items[c];
        const char *file = qn_json_get(k, "template")->str, *name = qn_json_get(k, "name")->str;
        char *tmpl = slurp_text(file);
        quanta_chat_template t = (quanta_chat_template)-1, by_name;
        ck_assert_msg(quanta_chat_template_detect(tmpl, &t) == QUANTA_OK, "%s: %s", file, quanta_last_error());
        ck_assert_msg(quanta_chat_template_parse(name, &by_name) == QUANTA_OK, "%s", quanta_last_error());
        ck_assert_msg(t == by_name, "%s detected as %s, want %s", file, quanta_chat_template_name(t), name);
        ck_assert_str_eq(quanta_chat_template_name(t), name);
        const qn_json *conv = qn_json_get(convs, qn_json_get(k, "conversation")->str);
        ck_assert(conv && conv->type == QN_JSON_ARRAY);
        quanta_chat_message msgs[8];
        ck_assert(conv->count <= 8);
        for (size_t i = 0; i < conv->count; i++)
            msgs[i] = (quanta_chat_message){conv->items[i].items[0].str, conv->items[i].items[1].str};
        char *got = render(t, msgs, conv->count, qn_json_get(k, "add_generation_prompt")->boolean);
        ck_assert_msg(!strcmp(got, qn_json_get(k, "expected")->str), "%s / %s:\n got  [%s]\n want [%s]", file,
                      qn_json_get(k, "conversation")->str, got, qn_json_get(k, "expected")->str);
        free(got);
        free(tmpl);
    }
    qn_json_free(root);
    free(json);
}
END_TEST

START_TEST(test_unrecognised_templates) {
    quanta_chat_template t;
    /* A template of no family we render: the error quotes its beginning. */
    QT_EXPECT_ERR(quanta_chat_template_detect("{% for m in messages %}### {{ m.role }}: {{ m.content }}\n{% endfor %}", &t),
                  QUANTA_ERR_UNSUPPORTED, "not recognised", "### {{ m.role }}", "gemma");
    /* LLaMA 3.1's template adds a dated system header: not rendered as llama3. */
    QT_EXPECT_ERR(quanta_chat_template_detect("{{- bos_token }}{%- set date_string = \"26 Jul 2024\" %}"
                                              "{{- \"Cutting Knowledge Date: December 2023\\n\" }}"
                                              "<|start_header_id|>system<|end_header_id|><|eot_id|>", &t),
                  QUANTA_ERR_UNSUPPORTED, "LLaMA 3.1");
    QT_EXPECT_ERR(quanta_chat_template_detect("{{ bos_token }}[AVAILABLE_TOOLS] [INST] {{ m }}[/INST]", &t),
                  QUANTA_ERR_UNSUPPORTED, "Mistral v0.3");
    QT_EXPECT_ERR(quanta_chat_template_detect("", &t), QUANTA_ERR_UNSUPPORTED, "not recognised");
    QT_EXPECT_ERR(quanta_chat_template_detect(NULL, &t), QUANTA_ERR_INVALID_ARGUMENT, "template");
    QT_EXPECT_ERR(quanta_chat_template_detect("<start_of_turn>", NULL), QUANTA_ERR_INVALID_ARGUMENT, "out");
    QT_EXPECT_ERR(quanta_chat_template_parse("vicuna", &t), QUANTA_ERR_INVALID_ARGUMENT, "vicuna", "llama3");
    QT_EXPECT_ERR(quanta_chat_template_parse(NULL, &t), QUANTA_ERR_INVALID_ARGUMENT, "name");
    ck_assert_ptr_null(quanta_chat_template_name((quanta_chat_template)99));
}
END_TEST

START_TEST(test_render_errors) {
    size_t len;
    char buf[16];
    quanta_chat_message two_users[] = {{"user", "a"}, {"user", "b"}};
    QT_EXPECT_ERR(quanta_chat_render(QUANTA_CHAT_GEMMA, two_users, 2, 1, NULL, 0, &len), QUANTA_ERR_INVALID_ARGUMENT,
                  "messages[1]", "alternating", "gemma");
    quanta_chat_message starts_assistant[] = {{"assistant", "a"}};
    QT_EXPECT_ERR(quanta_chat_render(QUANTA_CHAT_LLAMA2, starts_assistant, 1, 1, NULL, 0, &len),
                  QUANTA_ERR_INVALID_ARGUMENT, "messages[0]", "llama2");
    quanta_chat_message with_system[] = {{"system", "s"}, {"user", "u"}};
    QT_EXPECT_ERR(quanta_chat_render(QUANTA_CHAT_MISTRAL, with_system, 2, 1, NULL, 0, &len),
                  QUANTA_ERR_INVALID_ARGUMENT, "messages[0]", "system", "mistral");
    /* LLaMA 3 and ChatML take any role in any order. */
    ck_assert(quanta_chat_render(QUANTA_CHAT_LLAMA3, two_users, 2, 1, NULL, 0, &len) == QUANTA_OK);
    ck_assert(quanta_chat_render(QUANTA_CHAT_CHATML, two_users, 2, 1, NULL, 0, &len) == QUANTA_OK);
    /* Too small a buffer: the needed length is reported and nothing past cap is written. */
    memset(buf, 0x5a, sizeof buf);
    QT_EXPECT_ERR(quanta_chat_render(QUANTA_CHAT_CHATML, two_users, 2, 1, buf, 8, &len), QUANTA_ERR_INVALID_ARGUMENT,
                  "cap 8");
    ck_assert_uint_eq(len, strlen("<|im_start|>user\na<|im_end|>\n<|im_start|>user\nb<|im_end|>\n<|im_start|>assistant\n"));
    for (int i = 8; i < 16; i++) ck_assert_int_eq(buf[i], 0x5a);
    quanta_chat_message null_role[] = {{NULL, "x"}}, empty_role[] = {{"", "x"}}, null_content[] = {{"user", NULL}};
    QT_EXPECT_ERR(quanta_chat_render(QUANTA_CHAT_LLAMA3, null_role, 1, 1, NULL, 0, &len), QUANTA_ERR_INVALID_ARGUMENT,
                  "messages[0].role");
    QT_EXPECT_ERR(quanta_chat_render(QUANTA_CHAT_LLAMA3, empty_role, 1, 1, NULL, 0, &len), QUANTA_ERR_INVALID_ARGUMENT,
                  "messages[0].role");
    QT_EXPECT_ERR(quanta_chat_render(QUANTA_CHAT_LLAMA3, null_content, 1, 1, NULL, 0, &len),
                  QUANTA_ERR_INVALID_ARGUMENT, "messages[0].content");
    QT_EXPECT_ERR(quanta_chat_render(QUANTA_CHAT_LLAMA3, NULL, 1, 1, NULL, 0, &len), QUANTA_ERR_INVALID_ARGUMENT,
                  "messages is NULL");
    QT_EXPECT_ERR(quanta_chat_render(QUANTA_CHAT_LLAMA3, two_users, 2, 1, NULL, 4, &len), QUANTA_ERR_INVALID_ARGUMENT,
                  "buf is NULL");
    QT_EXPECT_ERR(quanta_chat_render(QUANTA_CHAT_LLAMA3, two_users, 2, 1, buf, 16, NULL), QUANTA_ERR_INVALID_ARGUMENT,
                  "len");
    QT_EXPECT_ERR(quanta_chat_render((quanta_chat_template)42, two_users, 2, 1, buf, 16, &len),
                  QUANTA_ERR_INVALID_ARGUMENT, "template 42");
    /* No messages: only the generation prompt. */
    char *g = render(QUANTA_CHAT_GEMMA, NULL, 0, 1);
    ck_assert_str_eq(g, "<start_of_turn>model\n");
    free(g);
}
END_TEST

/* The tiny model's GGUF image again, with tokenizer.chat_template set to `tmpl`. */
static quanta_model *load_with_template(const tiny_model *tm, quanta_backend *be, const char *tmpl) {
    qn_gguf *g;
    ck_assert(qn_gguf_open_memory(tm->image, tm->image_size, &g) == QUANTA_OK);
    qn_gguf_writer *w;
    ck_assert(qn_gguf_writer_create(&w) == QUANTA_OK);
    for (uint64_t i = 0; i < qn_gguf_kv_count(g); i++) ck_assert(qn_gguf_writer_copy_kv(w, g, i) == QUANTA_OK);
    ck_assert(qn_gguf_writer_set_str(w, "tokenizer.chat_template", tmpl) == QUANTA_OK);
    for (uint64_t i = 0; i < qn_gguf_tensor_count(g); i++) {
        const qn_gguf_tensor *t = qn_gguf_tensor_at(g, i);
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        ck_assert(qn_gguf_writer_add_tensor(w, name, t->ndim, t->dims, t->type, t->data, t->bytes) == QUANTA_OK);
    }
    void *img;
    size_t size;
    ck_assert(qn_gguf_writer_write_memory(w, &img, &size) == QUANTA_OK);
    qn_gguf_writer_destroy(w);
    qn_gguf_close(g);
    tiny_model copy = *tm;
    copy.image = img;
    copy.image_size = size;
    quanta_model *m = tiny_load(&copy, be, NULL);
    free(img);
    return m;
}

START_TEST(test_model_template) {
    quanta_backend *be;
    ck_assert(quanta_backend_open("ref", &be) == QUANTA_OK);
    tiny_spec llama = {"llama", 32, 4, 2, 8, 48, 1, 300, 0, 10000, 0, 0};
    tiny_spec gemma = {"gemma3", 32, 4, 2, 8, 48, 2, 300, 4, 10000, 0, 0};
    tiny_model tm;
    quanta_chat_template t;
    const char *text;

    tiny_build(&tm, &llama, 1, NULL, NULL);
    quanta_model *m = tiny_load(&tm, be, NULL);
    ck_assert(quanta_model_chat_template_text(m, &text) == QUANTA_OK);
    ck_assert_str_eq(text, "");
    QT_EXPECT_ERR(quanta_model_chat_template(m, &t), QUANTA_ERR_UNSUPPORTED, "llama", "no tokenizer.chat_template");
    quanta_model_destroy(m);
    char *tmpl = slurp_text("llama3.jinja");
    m = load_with_template(&tm, be, tmpl);
    ck_assert(quanta_model_chat_template_text(m, &text) == QUANTA_OK);
    ck_assert_str_eq(text, tmpl);
    ck_assert(quanta_model_chat_template(m, &t) == QUANTA_OK);
    ck_assert_int_eq(t, QUANTA_CHAT_LLAMA3);
    quanta_model_destroy(m);
    m = load_with_template(&tm, be, "{{ messages }}");
    QT_EXPECT_ERR(quanta_model_chat_template(m, &t), QUANTA_ERR_UNSUPPORTED, "{{ messages }}");
    QT_EXPECT_ERR(quanta_model_chat_template(NULL, &t), QUANTA_ERR_INVALID_ARGUMENT, "model");
    QT_EXPECT_ERR(quanta_model_chat_template(m, NULL), QUANTA_ERR_INVALID_ARGUMENT, "out");
    QT_EXPECT_ERR(quanta_model_chat_template_text(m, NULL), QUANTA_ERR_INVALID_ARGUMENT, "text");
    quanta_model_destroy(m);
    free(tmpl);
    tiny_free(&tm);

    /* Gemma 3 files without a template (like the default model) use Gemma's turns. */
    tiny_build(&tm, &gemma, 2, NULL, NULL);
    m = tiny_load(&tm, be, NULL);
    ck_assert(quanta_model_chat_template(m, &t) == QUANTA_OK);
    ck_assert_int_eq(t, QUANTA_CHAT_GEMMA);
    quanta_model_destroy(m);
    tiny_free(&tm);
    quanta_backend_close(be);
}
END_TEST

int main(int argc, char **argv) {
    data_dir = argc > 1 ? argv[1] : "tests/model/data/chat";
    Suite *s = suite_create("model_chat_template");
    TCase *tc = tcase_create("chat_template");
    tcase_add_test(tc, test_published_templates);
    tcase_add_test(tc, test_unrecognised_templates);
    tcase_add_test(tc, test_render_errors);
    tcase_add_test(tc, test_model_template);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
