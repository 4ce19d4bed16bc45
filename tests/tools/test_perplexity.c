/*
 * test_perplexity.c — the CLI's perplexity (tools/perplexity.c) on the tiny random model
 * against a perplexity computed here by llama.cpp's definition from the tests' independent
 * float64 forward pass (tests/model/tiny_model.h): windows of n_ctx tokens, each from an empty
 * cache with BOS first, NLL of the second half's next tokens, exp of the mean.
 */
#include <math.h>

#include "perplexity.h"
#include "qt_check.h"
#include "test_util.h"
#include "tiny_model.h"

static void count_windows(void *user, int window, double ppl) {
    int *seen = user;
    ck_assert_int_eq(window, *seen);
    ck_assert(isfinite(ppl) && ppl > 1);
    (*seen)++;
}

START_TEST(test_against_reference) {
    const tiny_spec spec = {"llama", 32, 4, 2, 8, 48, 2, 300, 0, 10000, 0, 0};
    tiny_model tm;
    tiny_build(&tm, &spec, 11, NULL, NULL);
    quanta_backend *be;
    ck_assert(quanta_backend_open("ref", &be) == QUANTA_OK);
    quanta_model *m = tiny_load(&tm, be, NULL); /* f32 weights: only rounding differs from the reference */
    qt_rng r = qt_rng_make(3);
    enum { N_CTX = 12, N_TOK = 3 * N_CTX + 5, V = 300 };
    int32_t toks[N_TOK];
    for (int i = 0; i < N_TOK; i++) toks[i] = 3 + (int32_t)(qt_next(&r) % (V - 3));
    const int32_t bos = 1;
    for (int maxw = 0; maxw <= 2; maxw += 2) {
        int seen = 0;
        qn_ppl got;
        ck_assert_msg(qn_perplexity(m, toks, N_TOK, N_CTX, maxw, bos, count_windows, &seen, &got) == QUANTA_OK, "%s",
                      quanta_last_error());
        int windows = maxw ? maxw : N_TOK / N_CTX; /* the 5 tokens after the last whole window are unused */
        ck_assert_int_eq(got.windows, windows);
        ck_assert_int_eq(seen, windows);
        ck_assert_uint_eq(got.count, (size_t)windows * (N_CTX - 1 - N_CTX / 2));
        double nll = 0;
        for (int w = 0; w < windows; w++) {
            tiny_ref ref;
            ref_init(&ref, &tm, N_CTX);
            double logits[V];
            for (int j = 0; j < N_CTX - 1; j++) {
                int32_t t = j == 0 ? bos : toks[w * N_CTX + j];
                ref_step(&ref, t, logits);
                if (j < N_CTX / 2) continue;
                double mx = logits[0], sum = 0;
                for (int i = 1; i < V; i++) mx = fmax(mx, logits[i]);
                for (int i = 0; i < V; i++) sum += exp(logits[i] - mx);
                nll += log(sum) + mx - logits[toks[w * N_CTX + j + 1]];
            }
            ref_free(&ref);
        }
        double want = exp(nll / (double)got.count);
        printf("windows %d: perplexity %.6f, reference %.6f\n", windows, qn_ppl_value(&got), want);
        ck_assert_msg(fabs(qn_ppl_value(&got) - want) <= 1e-4 * want, "perplexity %.8f, reference %.8f",
                      qn_ppl_value(&got), want);
        ck_assert(qn_ppl_error(&got) > 0 && qn_ppl_error(&got) < want);
    }
    /* Shorter than one window, or a window too short to score: refused. */
    qn_ppl bad;
    ck_assert(qn_perplexity(m, toks, N_CTX - 1, N_CTX, 0, bos, NULL, NULL, &bad) == QUANTA_ERR_INVALID_ARGUMENT);
    ck_assert(qn_perplexity(m, toks, N_TOK, 3, 0, bos, NULL, NULL, &bad) == QUANTA_ERR_INVALID_ARGUMENT);
    quanta_model_destroy(m);
    quanta_backend_close(be);
    tiny_free(&tm);
}
END_TEST

int main(void) {
    Suite *s = suite_create("tools_perplexity");
    TCase *tc = tcase_create("perplexity");
    tcase_add_test(tc, test_against_reference);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
