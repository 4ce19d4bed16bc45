/*
 * test_quantize_safe.c — quanta_quantize_model as a library call and the safety of its output:
 *   - the report callback sees every tensor once, the summary adds up, bad params are refused
 *     with the field named;
 *   - planted symlinks are never followed: one at the old predictable temporary name
 *     (OUT.partial) and one at OUT itself leave their target untouched;
 *   - `quanta quantize` interrupted by SIGINT or SIGTERM in the middle of writing (raised at the
 *     third file write, qt_fault.h) dies by that signal, leaves the previous output byte for byte
 *     and no temporary file; after SIGKILL (which nothing can catch) the previous output is
 *     still intact.
 */
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands.h"
#include "qt_fault.h"
#include "qt_file.h"
#include "tiny_model.h"

static const tiny_spec SPEC = {"llama", 64, 4, 2, 32, 128, 2, 300, 0, 10000.0f, 0, 0};
static char dir[] = "/tmp/quanta_test_qsafe_XXXXXX";
static char in_path[300], out_path[300];
static tiny_model tm;
static const char old_out[] = "the previous output";

static void setup(void) {
    tiny_build(&tm, &SPEC, 515, NULL, NULL);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(in_path, sizeof in_path, "%s/in.gguf", dir);
    snprintf(out_path, sizeof out_path, "%s/out.gguf", dir);
    qt_spit(in_path, tm.image, tm.image_size);
}

/* Removes everything in dir but in.gguf; returns how many entries that were (besides out.gguf
 * when keep_out). */
static int sweep_dir(int keep_out) {
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    int n = 0;
    char p[600];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, "in.gguf")) continue;
        if (keep_out && !strcmp(e->d_name, "out.gguf")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
        n++;
    }
    closedir(d);
    return n;
}

static void teardown(void) {
    sweep_dir(0);
    unlink(in_path);
    rmdir(dir);
    tiny_free(&tm);
}

static int file_is(const char *path, const void *want, size_t n) {
    size_t len = 0;
    unsigned char *got = qt_slurp(path, &len);
    int same = got && len == n && !memcmp(got, want, n);
    free(got);
    return same;
}

typedef struct seen {
    int n;
    char names[64][64];
} seen;

static void on_tensor(const quanta_quantize_tensor_report *r, void *user) {
    seen *s = user;
    ck_assert(r->name && r->from && r->to && r->why);
    ck_assert(r->rel_rms >= 0 && r->rel_rms < 0.2);
    ck_assert(r->werr_minmax == -1 && r->werr_calib == -1);
    if (s->n < 64) snprintf(s->names[s->n], sizeof s->names[0], "%s", r->name);
    s->n++;
}

START_TEST(test_library_call) {
    quanta_quantize_params p;
    quanta_quantize_default_params(&p);
    p.input = in_path;
    p.output = out_path;
    p.format = "q8";
    seen s = {0};
    p.on_tensor = on_tensor;
    p.user = &s;
    char tmp[400] = "x";
    p.temp_path = tmp;
    p.temp_path_cap = sizeof tmp;
    quanta_quantize_summary sum;
    ck_assert_msg(quanta_quantize_model(&p, &sum) == QUANTA_OK, "%s", quanta_last_error());
    ck_assert_str_eq(tmp, "");
    qn_gguf *g;
    ck_assert(qn_gguf_open(out_path, &g) == QUANTA_OK);
    ck_assert_int_eq(s.n, (int)qn_gguf_tensor_count(g));
    ck_assert_int_eq(sum.n_tensors, s.n);
    ck_assert_int_eq(sum.n_quantized + sum.n_dense + sum.n_copied, s.n);
    for (int i = 0; i < s.n; i++) ck_assert_msg(qn_gguf_find_tensor(g, s.names[i]), "%s not written", s.names[i]);
    size_t out_len = 0;
    free(qt_slurp(out_path, &out_len));
    ck_assert_uint_eq(sum.file_bytes_out, out_len);
    qn_gguf_close(g);
    /* bad params, each named */
    quanta_quantize_params b = p;
    b.format = "q3";
    ck_assert_int_eq(quanta_quantize_model(&b, NULL), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(quanta_last_error(), "format"));
    b = p;
    b.format = NULL;
    ck_assert_int_eq(quanta_quantize_model(&b, NULL), QUANTA_ERR_INVALID_ARGUMENT);
    b = p;
    b.output = NULL;
    ck_assert_int_eq(quanta_quantize_model(&b, NULL), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(quanta_last_error(), "output"));
    b = p;
    b.embeddings = "nf4";
    ck_assert_int_eq(quanta_quantize_model(&b, NULL), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(quanta_last_error(), "embeddings"));
    b = p;
    quanta_quantize_override ov = {"blk.*", "q5"};
    b.overrides = &ov;
    b.n_overrides = 1;
    ck_assert_int_eq(quanta_quantize_model(&b, NULL), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(quanta_last_error(), "overrides[0]"));
    b = p;
    b.clip_percentile = 101;
    ck_assert_int_eq(quanta_quantize_model(&b, NULL), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(quanta_last_error(), "clip_percentile"));
    b = p;
    b.clip_percentile = 99;
    b.calib_text = in_path;
    ck_assert_int_eq(quanta_quantize_model(&b, NULL), QUANTA_ERR_INVALID_ARGUMENT);
    b = p;
    b.temp_path_cap = 8;
    ck_assert_int_eq(quanta_quantize_model(&b, NULL), QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(quanta_quantize_model(NULL, NULL), QUANTA_ERR_INVALID_ARGUMENT);
    b = p;
    b.input = "/nonexistent/in.gguf";
    ck_assert_int_eq(quanta_quantize_model(&b, NULL), QUANTA_ERR_IO);
    ck_assert_int_eq(sweep_dir(1), 0);
}
END_TEST

START_TEST(test_planted_symlinks_not_followed) {
    char victim[400], planted[400];
    snprintf(victim, sizeof victim, "%s/victim", dir);
    snprintf(planted, sizeof planted, "%s/out.gguf.partial", dir);
    static const char precious[] = "must not be overwritten";
    quanta_quantize_params p;
    quanta_quantize_default_params(&p);
    p.input = in_path;
    p.output = out_path;
    p.format = "q4";
    /* a symlink at the old predictable temporary name */
    qt_spit(victim, precious, sizeof precious);
    ck_assert_int_eq(symlink(victim, planted), 0);
    ck_assert_msg(quanta_quantize_model(&p, NULL) == QUANTA_OK, "%s", quanta_last_error());
    ck_assert_msg(file_is(victim, precious, sizeof precious), "the planted symlink was followed");
    unlink(planted);
    /* the output itself a symlink: replaced by the new file, its target untouched */
    unlink(out_path);
    ck_assert_int_eq(symlink(victim, out_path), 0);
    ck_assert_msg(quanta_quantize_model(&p, NULL) == QUANTA_OK, "%s", quanta_last_error());
    ck_assert_msg(file_is(victim, precious, sizeof precious), "the output symlink's target was written");
    size_t len = 0;
    unsigned char *got = qt_slurp(out_path, &len);
    ck_assert(got && len > 4 && !memcmp(got, "GGUF", 4));
    free(got);
    unlink(victim);
    ck_assert_int_eq(sweep_dir(1), 0);
}
END_TEST

/* Runs `quanta quantize` in a child that gets signal sig just before its third file write. */
static int interrupted_run(int sig) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        const char *argv[] = {"quantize", "-m", in_path, "-o", out_path, "--quant", "q4", "-q"};
        if (!freopen("/dev/null", "w", stdout)) _exit(97);
        signal(SIGINT, SIG_DFL); /* not Check's handlers (they end the whole process group) */
        signal(SIGTERM, SIG_DFL);
        qt_fault_arm_signal(QT_FAULT_WRITE, 3, sig);
        int rc = qn_cmd_quantize(8, (char **)argv);
        _exit(rc == 0 ? 98 : 99); /* not reached when the signal ended it */
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return status;
}

START_TEST(test_interrupted_write) {
    const int sigs[] = {SIGINT, SIGTERM};
    for (size_t i = 0; i < 2; i++) {
        qt_spit(out_path, old_out, sizeof old_out);
        int status = interrupted_run(sigs[i]);
        ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == sigs[i], "signal %d: child status 0x%x", sigs[i],
                      status);
        ck_assert_msg(file_is(out_path, old_out, sizeof old_out), "signal %d: the previous output changed", sigs[i]);
        ck_assert_msg(sweep_dir(1) == 0, "signal %d: a temporary file was left behind", sigs[i]);
    }
    /* SIGKILL cannot be caught: the previous output is still whole (the hidden temporary file
     * with its random name may remain). */
    qt_spit(out_path, old_out, sizeof old_out);
    int status = interrupted_run(SIGKILL);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    ck_assert(file_is(out_path, old_out, sizeof old_out));
    sweep_dir(1);
}
END_TEST

int main(void) {
    Suite *s = suite_create("quantize_safe");
    TCase *tc = tcase_create("quantize_safe");
    tcase_set_timeout(tc, 300);
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_library_call);
    tcase_add_test(tc, test_planted_symlinks_not_followed);
    tcase_add_test(tc, test_interrupted_write);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
