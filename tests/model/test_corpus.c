/* test_corpus.c — feeds every file of the given folders (regression cases from fuzzing in
 * tests/model/corpus/, seeds in fuzz/corpus/) to the GGUF reader, the safetensors reader and
 * the config.json reader, dequantizing what opens (size-capped). Each must either fail with a
 * status and a message, or succeed: a crash or sanitizer report fails the test. Files named
 * *.crash-expected-ok are not special: the outcome is not asserted, only that it is clean. */
#include "test_util.h"

#include <dirent.h>

#include "gguf.h"
#include "safetensors.h"
#include "qt_file.h"

static const char **dirs;
static int ndirs;

static void feed(const unsigned char *b, size_t n) {
    qn_gguf *g;
    if (qn_gguf_open_memory(b, n, &g) == QUANTA_OK) {
        for (uint64_t i = 0; i < qn_gguf_tensor_count(g); i++) {
            const qn_gguf_tensor *t = qn_gguf_tensor_at(g, i);
            uint64_t e = qn_gguf_tensor_elements(t);
            if (e > (1u << 22)) continue;
            float *buf = malloc((size_t)e * sizeof *buf);
            quanta_status st = qn_gguf_tensor_to_f32(t, buf, (size_t)e);
            ck_assert(st == QUANTA_OK || quanta_last_error()[0]);
            free(buf);
        }
        qn_gguf_close(g);
    } else {
        ck_assert_msg(quanta_last_error()[0], "gguf reader failed without a message");
    }
    qn_safetensors *s;
    if (qn_st_open_memory(b, n, &s) == QUANTA_OK) {
        for (uint64_t i = 0; i < qn_st_tensor_count(s); i++) {
            const qn_st_tensor *t = qn_st_tensor_at(s, i);
            uint64_t e = qn_st_tensor_elements(t);
            if (e > (1u << 22)) continue;
            float *buf = malloc(e ? (size_t)e * sizeof *buf : 1);
            ck_assert_int_eq(qn_st_tensor_to_f32(t, buf, (size_t)e), QUANTA_OK);
            free(buf);
        }
        qn_st_close(s);
    } else {
        ck_assert_msg(quanta_last_error()[0], "safetensors reader failed without a message");
    }
    qn_hf_config c;
    (void)qn_hf_config_parse((const char *)b, n, &c);
}

static int walk(const char *dir, int depth) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path) continue; /* too long to open */
        size_t n;
        DIR *sub = opendir(path);
        if (sub) {
            closedir(sub);
            if (depth < 3) count += walk(path, depth + 1);
            continue;
        }
        unsigned char *b = qt_slurp(path, &n);
        if (!b) continue;
        feed(b, n);
        /* and every prefix of small files, which reaches each truncation path */
        for (size_t k = 0; n <= 4096 && k < n; k += 1 + k / 64) {
            unsigned char *c = malloc(k ? k : 1);
            memcpy(c, b, k);
            feed(c, k);
            free(c);
        }
        free(b);
        count++;
    }
    closedir(d);
    return count;
}

START_TEST(test_corpus_files) {
    int total = 0;
    for (int i = 0; i < ndirs; i++) total += walk(dirs[i], 0);
    printf("fed %d corpus files\n", total);
    ck_assert_int_gt(total, 0);
}
END_TEST

int main(int argc, char **argv) {
    dirs = (const char **)(argv + 1);
    ndirs = argc - 1;
    Suite *s = suite_create("model_corpus");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_corpus_files);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
