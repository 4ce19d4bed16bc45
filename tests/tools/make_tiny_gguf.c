/* make_tiny_gguf.c — writes one of the tests' tiny random-weight models (tests/model/tiny_model.h)
 * as a GGUF file, for the tests that run the quanta binary (tests/tools, tests/server):
 * make_tiny_gguf OUT.gguf FLAVOUR, FLAVOUR one of the table below. tiny_build checks with
 * Check's asserts, so it runs as a one-test Check suite (no fork). */
#include <check.h>
#include <stdio.h>
#include <string.h>

/* Only the model builder of tiny_model.h is used here, not its reference forward pass. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "tiny_model.h"

static const char *out_path;
static const char *flavour = "llama";

static const struct {
    const char *name;
    tiny_spec spec;
    uint64_t salt;
} flavours[] = {
    {"llama", {"llama", 32, 4, 2, 8, 48, 2, 300, 0, 10000, 0, 0}, 7},
    {"gemma3", {"gemma3", 32, 4, 2, 8, 48, 2, 300, 4, 10000, 0, 0}, 7},
    /* rows of 256 and 512 weights: whole blocks of ggml's K-quants */
    {"llama256", {"llama", 256, 4, 2, 64, 512, 1, 300, 0, 10000, 0, 0}, 7},
    /* 64 MB: a quantize run whose write takes a while */
    {"big", {"llama", 512, 8, 4, 64, 2048, 4, 300, 0, 10000, 0, 0}, 7},
    /* the server tests': GQA, six layers with sliding windows of 8 (ring caches), Gemma's chat
     * format; and a plain two-layer LLaMA */
    {"server-gemma3", {"gemma3", 64, 4, 2, 16, 128, 6, 300, 8, 10000, 0, 0}, 20261204},
    {"server-llama", {"llama", 64, 4, 2, 16, 128, 2, 300, 0, 10000, 0, 0}, 20261204},
};

START_TEST(write_model) {
    size_t k = 0;
    while (k < sizeof flavours / sizeof *flavours && strcmp(flavours[k].name, flavour)) k++;
    ck_assert_msg(k < sizeof flavours / sizeof *flavours, "unknown flavour %s", flavour);
    tiny_model tm;
    tiny_build(&tm, &flavours[k].spec, flavours[k].salt, NULL, NULL);
    FILE *f = fopen(out_path, "wb");
    int ok = f && fwrite(tm.image, 1, tm.image_size, f) == tm.image_size;
    if (f && fclose(f)) ok = 0;
    tiny_free(&tm);
    ck_assert_msg(ok, "cannot write %s", out_path);
}
END_TEST

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: make_tiny_gguf OUT.gguf [FLAVOUR]\n");
        return 2;
    }
    out_path = argv[1];
    if (argc > 2) flavour = argv[2];
    Suite *s = suite_create("make_tiny_gguf");
    TCase *tc = tcase_create("write");
    tcase_add_test(tc, write_model);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
