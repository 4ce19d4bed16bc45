/*
 * test_opencl_tune.c — the per-device tuning table (engine/opencl/cl_tune.c): it round-trips
 * through the cache directory, an open uses what it holds, and a corrupt or invalid entry (bad
 * checksum, values this device cannot run, a duplicate, a missing line, a foreign header) is
 * replaced by the default and rewritten, never trusted. Exits 77 (SKIP) without an OpenCL device.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "opencl/cl_internal.h"
#include "qt_file.h"
#include "registry.h"
#include "cl_test.h"
#include "test_util.h"

static char g_dir[600];

static qn_cl *open_cl(quanta_backend **be) {
    ck_assert_msg(quanta_backend_open("opencl", be) == QUANTA_OK, "%s", quanta_last_error());
    void *self;
    ck_assert_ptr_nonnull(qn_backend_vtable(*be, &self));
    return self;
}

static void table_path(char *path, size_t len) {
    quanta_backend *be;
    qn_cl *s = open_cl(&be);
    ck_assert_int_eq(qn_cl_tune_path(&s->dev, path, len), QUANTA_OK);
    quanta_backend_close(be);
}

/* FNV-1a 32 as the table's format specifies it (written here from the definition). */
static unsigned fnv1a32(const char *p, size_t n) {
    unsigned h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 16777619u;
    return h;
}

/* Replaces the line starting with `name ` by `text` (plus its correct checksum when sign). */
static void replace_line(const char *path, const char *name, const char *text, int sign) {
    size_t n;
    char *old = (char *)qt_slurp(path, &n);
    ck_assert_ptr_nonnull(old);
    char *out = calloc(n + 256, 1);
    ck_assert_ptr_nonnull(out);
    size_t nl = strlen(name);
    int found = 0;
    for (char *line = old; line < old + n;) {
        char *end = memchr(line, '\n', (size_t)(old + n - line));
        size_t len = end ? (size_t)(end - line) + 1 : (size_t)(old + n - line);
        if (!strncmp(line, name, nl) && line[nl] == ' ') {
            found = 1;
            if (sign) sprintf(out + strlen(out), "%s %08x\n", text, fnv1a32(text, strlen(text)));
            else sprintf(out + strlen(out), "%s\n", text);
        } else {
            strncat(out, line, len);
        }
        line += len;
    }
    ck_assert_msg(found, "no line %s in the table", name);
    qt_spit(path, out, strlen(out));
    free(out);
    free(old);
}

START_TEST(test_table_round_trip) {
    char path[1024];
    table_path(path, sizeof path);
    remove(path);
    quanta_backend *be;
    qn_cl *s = open_cl(&be);
    /* no file: the class defaults, nothing trusted, nothing rebuilt, nothing written */
    ck_assert_int_eq(s->tune.file_entries, 0);
    ck_assert_int_eq(s->tune.rebuilt, 0);
    ck_assert_int_ne(access(path, F_OK), 0);
    qn_cl_tune want = s->tune;
    /* values other than the defaults, each valid on any device */
    want.e[qn_cl_tune_gemv_entry(QN_TF_Q8)] = (qn_cl_tune_entry){1, 3, 1};
    want.e[qn_cl_tune_gemv_entry(QN_TF_NF4)] = (qn_cl_tune_entry){2, 1, 1};
    want.e[qn_cl_tune_gemm_entry(QN_TF_Q4, 1)] = (qn_cl_tune_entry){QN_GEMM_ROWS, 0, 1};
    want.e[qn_cl_tune_gemm_entry(QN_TF_Q8, 0)] = (qn_cl_tune_entry){QN_GEMM_INT8, 0, 1};
    want.e[qn_cl_tune_attention_entry(1)] = (qn_cl_tune_entry){0, 0, 1};
    s->tune = want;
    ck_assert_int_eq(qn_cl_tune_save(s), 0);
    quanta_backend_close(be);

    s = open_cl(&be);
    ck_assert_int_eq(s->tune.file_entries, QN_TUNE_ENTRIES);
    ck_assert_int_eq(s->tune.rebuilt, 0);
    for (int i = 0; i < QN_TUNE_ENTRIES; i++) {
        char name[48];
        ck_assert_msg(s->tune.e[i].a == want.e[i].a && s->tune.e[i].b == want.e[i].b &&
                          s->tune.e[i].measured == want.e[i].measured,
                      "entry %s did not round-trip", qn_cl_tune_name(i, name, sizeof name));
    }
    /* the lookups the launchers use read the table (no environment override is set here) */
    int lws, rows;
    qn_cl_tune_gemv(s, QUANTA_Q8, &lws, &rows);
    ck_assert_int_eq(lws, 1);
    ck_assert_int_eq(rows, 3);
    ck_assert_int_eq(qn_cl_tune_gemm(s, QUANTA_Q4, 300), QN_GEMM_ROWS);
    ck_assert_int_eq(qn_cl_tune_gemm(s, QUANTA_Q8, 20), QN_GEMM_INT8);
    ck_assert_int_eq(qn_cl_tune_attention_rows(s, 1), 0);
    /* ... and the summary `quanta info` prints says so */
    char sum[512];
    qn_cl_tune_summary(&s->tune, sum, sizeof sum);
    ck_assert_msg(strstr(sum, "q8 1x3") != NULL, "summary: %s", sum);
    quanta_backend_close(be);
}
END_TEST

/* Opens with the current file and checks what was trusted and rebuilt, then that the rewrite
 * left a clean table behind. */
static void expect_rebuilt(const char *path, int min_rebuilt, int entry, qn_cl_tune_entry want) {
    quanta_backend *be;
    qn_cl *s = open_cl(&be);
    ck_assert_int_ge(s->tune.rebuilt, min_rebuilt);
    char name[48];
    ck_assert_msg(s->tune.e[entry].a == want.a && s->tune.e[entry].b == want.b &&
                      s->tune.e[entry].measured == want.measured,
                  "entry %s is %d %d %d, expected %d %d %d", qn_cl_tune_name(entry, name, sizeof name),
                  s->tune.e[entry].a, s->tune.e[entry].b, s->tune.e[entry].measured, want.a, want.b, want.measured);
    quanta_backend_close(be);
    s = open_cl(&be);
    ck_assert_msg(s->tune.rebuilt == 0 && s->tune.file_entries == QN_TUNE_ENTRIES, "%s was not rewritten clean",
                  path);
    quanta_backend_close(be);
}

START_TEST(test_corrupt_entries_rebuilt) {
    char path[1024];
    table_path(path, sizeof path);
    remove(path);
    quanta_backend *be;
    qn_cl *s = open_cl(&be);
    const int gq8 = qn_cl_tune_gemv_entry(QN_TF_Q8), gmq4 = qn_cl_tune_gemm_entry(QN_TF_Q4, 0);
    const qn_cl_tune_entry def_gq8 = s->tune.e[gq8], def_gmq4 = s->tune.e[gmq4];
    const qn_cl_tune_entry def_att = s->tune.e[qn_cl_tune_attention_entry(0)];
    const size_t max_wg = s->dev.max_wg;
    s->tune.e[gq8] = (qn_cl_tune_entry){2, 2, 1};
    s->tune.e[gmq4] = (qn_cl_tune_entry){QN_GEMM_ROWS, 0, 1};
    ck_assert_int_eq(qn_cl_tune_save(s), 0);
    quanta_backend_close(be);

    /* a value changed under an old checksum */
    replace_line(path, "gemv.q8", "gemv.q8 4 2 1 00000000", 0);
    expect_rebuilt(path, 1, gq8, def_gq8);

    /* a correct checksum on a shape the device cannot launch, and an unknown path */
    char bad[96];
    snprintf(bad, sizeof bad, "gemv.q8 %zu 2 1", max_wg); /* lws x rows = 2 x the limit */
    replace_line(path, "gemv.q8", bad, 1);
    expect_rebuilt(path, 1, gq8, def_gq8);
    replace_line(path, "gemm.q4.m64", "gemm.q4.m64 9 0 1", 1);
    expect_rebuilt(path, 1, gmq4, def_gmq4);
    replace_line(path, "gemv.q8", "gemv.q8 3 1 1", 1); /* not a power of two */
    expect_rebuilt(path, 1, gq8, def_gq8);

    /* a line missing (truncated file) and garbage in its place */
    replace_line(path, "attention.prefill", "attention.prefill", 0);
    expect_rebuilt(path, 1, qn_cl_tune_attention_entry(0), def_att);

    /* a table for another device (its key in the header) is not read at all */
    s = open_cl(&be);
    s->tune.e[gq8] = (qn_cl_tune_entry){1, 5, 1};
    ck_assert_int_eq(qn_cl_tune_save(s), 0);
    quanta_backend_close(be);
    replace_line(path, "quanta-opencl-tune", "quanta-opencl-tune 1 0123456789abcdef", 0);
    expect_rebuilt(path, QN_TUNE_ENTRIES, gq8, def_gq8);
    remove(path);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("opencl_tune");
    TCase *tc = tcase_create("tune");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_table_round_trip);
    tcase_add_test(tc, test_corrupt_entries_rebuilt);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    quanta_backend *be;
    const char *base = getenv("QUANTA_CACHE_DIR");
    snprintf(g_dir, sizeof g_dir, "%s/tune-test-%ld", base && *base ? base : "/tmp/quanta-cl-test", (long)getpid());
    setenv("QUANTA_CACHE_DIR", g_dir, 1);
    /* the table under test must be the one the kernels choose from: no overrides */
    unsetenv("QUANTA_OPENCL_GEMM");
    unsetenv("QUANTA_OPENCL_GEMV_LWS");
    unsetenv("QUANTA_OPENCL_GEMV_ROWS");
    unsetenv("QUANTA_OPENCL_ATTENTION");
    const int open_rc = qt_cl_open(&be);
    if (open_rc) return open_rc;
    quanta_backend_close(be);
    int rc = qt_run_suite(suite());
    rmdir(g_dir);
    return rc;
}
