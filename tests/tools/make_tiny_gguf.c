/* make_tiny_gguf.c — writes the tests' tiny random-weight model (tests/model/tiny_model.h) as a
 * GGUF file for the CLI tests: make_tiny_gguf OUT.gguf [llama|gemma3]. */
#include <check.h>
#include <stdio.h>
#include <string.h>

/* Only the model builder of tiny_model.h is used here, not its reference forward pass. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "tiny_model.h"

static const char *out_path;
static int gemma;

/* tiny_build reports through Check's assertions, so it runs as a (no-fork) Check test. */
START_TEST(write_model) {
    tiny_spec llama = {"llama", 32, 4, 2, 8, 48, 2, 300, 0, 10000, 0, 0};
    tiny_spec gem = {"gemma3", 32, 4, 2, 8, 48, 2, 300, 4, 10000, 0, 0};
    tiny_model tm;
    tiny_build(&tm, gemma ? &gem : &llama, 7, NULL, NULL);
    FILE *f = fopen(out_path, "wb");
    int ok = f && fwrite(tm.image, 1, tm.image_size, f) == tm.image_size;
    if (f && fclose(f)) ok = 0;
    tiny_free(&tm);
    ck_assert_msg(ok, "cannot write %s", out_path);
}
END_TEST

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: make_tiny_gguf OUT.gguf [llama|gemma3]\n");
        return 2;
    }
    out_path = argv[1];
    gemma = argc > 2 && !strcmp(argv[2], "gemma3");
    Suite *s = suite_create("make_tiny_gguf");
    TCase *tc = tcase_create("write");
    tcase_add_test(tc, write_model);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
