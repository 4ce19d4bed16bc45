/*
 * make_tiny_gguf.c — writes a tiny random-weight model (tests/model/tiny_model.h) as a GGUF
 * file for the server tests: `make_tiny_gguf OUT.gguf [gemma3|llama]`. The gemma3 flavour has
 * GQA (4 query heads over 2 KV heads), sliding-window layers with a ring cache (window 8) and
 * the Gemma chat format; the llama flavour has plain caches. tiny_build checks with Check's
 * asserts, so it runs as a one-test Check suite (no fork).
 */
#include <stdio.h>
#include <string.h>

#include "tiny_model.h"

static const char *out_path, *arch;
static int written;

START_TEST(write_model) {
    tiny_spec gemma = {"gemma3", 64, 4, 2, 16, 128, 6, 300, 8, 10000.0f, 0, 0};
    tiny_spec llama = {"llama", 64, 4, 2, 16, 128, 2, 300, 0, 10000.0f, 0, 0};
    tiny_model m;
    tiny_build(&m, !strcmp(arch, "llama") ? &llama : &gemma, 20261204, NULL, NULL);
    FILE *f = fopen(out_path, "wb");
    int ok = f && fwrite(m.image, 1, m.image_size, f) == m.image_size;
    if (f && fclose(f)) ok = 0;
    tiny_free(&m);
    ck_assert_msg(ok, "cannot write %s", out_path);
    written = 1;
}
END_TEST

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: make_tiny_gguf OUT.gguf [gemma3|llama]\n");
        return 2;
    }
    out_path = argv[1];
    arch = argc > 2 ? argv[2] : "gemma3";
    Suite *su = suite_create("make_tiny_gguf");
    TCase *tc = tcase_create("write");
    tcase_add_test(tc, write_model);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_SILENT);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed || !written;
}
