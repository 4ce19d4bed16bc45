/* make_tiny_gguf.c — writes the tests' tiny random-weight model (tests/model/tiny_model.h) as a
 * GGUF file for the CLI tests: make_tiny_gguf OUT.gguf [llama|gemma3|llama256|big] (llama256:
 * rows of 256 and 512 weights, whole blocks of ggml's K-quants; big: 64 MB). */
#include <check.h>
#include <stdio.h>
#include <string.h>

/* Only the model builder of tiny_model.h is used here, not its reference forward pass. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "tiny_model.h"

static const char *out_path;
static const char *flavour = "llama";

/* tiny_build reports through Check's assertions, so it runs as a (no-fork) Check test. */
START_TEST(write_model) {
    tiny_spec llama = {"llama", 32, 4, 2, 8, 48, 2, 300, 0, 10000, 0, 0};
    tiny_spec gem = {"gemma3", 32, 4, 2, 8, 48, 2, 300, 4, 10000, 0, 0};
    tiny_spec wide = {"llama", 256, 4, 2, 64, 512, 1, 300, 0, 10000, 0, 0};
    tiny_spec big = {"llama", 512, 8, 4, 64, 2048, 4, 300, 0, 10000, 0, 0}; /* 64 MB: a write that takes a while */
    tiny_model tm;
    tiny_build(&tm, !strcmp(flavour, "gemma3") ? &gem : !strcmp(flavour, "llama256") ? &wide : !strcmp(flavour, "big") ? &big : &llama, 7, NULL, NULL);
    FILE *f = fopen(out_path, "wb");
    int ok = f && fwrite(tm.image, 1, tm.image_size, f) == tm.image_size;
    if (f && fclose(f)) ok = 0;
    tiny_free(&tm);
    ck_assert_msg(ok, "cannot write %s", out_path);
}
END_TEST

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: make_tiny_gguf OUT.gguf [llama|gemma3|llama256]\n");
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
