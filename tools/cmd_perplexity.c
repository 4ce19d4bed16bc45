/*
 * cmd_perplexity.c — `quanta perplexity -m MODEL -f TEXT [--ctx N]`: the model's perplexity on
 * a text by llama.cpp's definition (perplexity.h), so a quantized file can be compared with
 * its source. Prints the running value after each window, then the estimate with its error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_args.h"
#include "clock.h"
#include "commands.h"
#include "model_opts.h"
#include "perplexity.h"

#define DEFAULT_CTX 512

static void usage(FILE *f) {
    fprintf(f,
            "usage: quanta perplexity [-m MODEL] -f TEXT [-c N] [--chunks K] [options]\n\n"
            "Perplexity as llama.cpp computes it: the text's tokens in non-overlapping windows of N\n"
            "(each from an empty cache, first token BOS), exp of the mean negative log-likelihood of\n"
            "the tokens in the second half of every window.\n\n"
            "  -m, --model MODEL     as for quanta generate (default: the default model)\n"
            "  -f, --file TEXT       the text ('-' = stdin); it must hold at least one window\n"
            "  -c, --ctx-size N      window length in tokens (default %d, at least 4)\n"
            "  --chunks K            score only the first K windows\n"
            "  --backend, -ngl, --quant, --kv, -t: as for quanta generate (weights at load: --quant q8 by\n"
            "                        default; --quant keep scores the file's own precision)\n"
            "  --quiet               only the final line\n\n"
            "Exit status: 0 done, 1 failure (model, I/O, text shorter than a window), 2 usage error.\n",
            DEFAULT_CTX);
}

static void show_window(void *user, int window, double ppl) {
    qn_progress *p = user;
    qn_progress_clear(p);
    printf("[%d]%.4f%s", window + 1, ppl, (window + 1) % 8 ? "," : "\n");
    fflush(stdout);
}

int qn_cmd_perplexity(int argc, char **argv) {
    qn_model_opts o;
    int rc = qn_model_opts_parse("perplexity", QN_OPTS_TEXT_FILE, argc, argv, &o, usage);
    if (rc) return rc < 0 ? 0 : rc;
    int n_ctx = o.ctx_given ? o.n_ctx : DEFAULT_CTX; /* -c 0 is too small, not the default */
    if (n_ctx < 4) return qn_usage_error("perplexity", "-c/--ctx-size %d: a window needs at least 4 tokens", n_ctx);
    size_t len = 0;
    char *text = qn_read_text("perplexity", "-f", o.text_file, &len);
    if (!text) return QN_EXIT_FAIL;
    /* A text shorter than one window in bytes cannot hold one in tokens either (a token is
     * at least one byte, plus BOS): say so before loading. */
    if (len + 1 < (size_t)n_ctx) {
        free(text);
        return qn_fail("perplexity", "-f %s: %zu bytes cannot hold one window of %d tokens", o.text_file, len, n_ctx);
    }
    qn_loaded l;
    int32_t *ids = NULL;
    rc = qn_model_opts_load(&o, &l);
    if (rc) goto done;
    rc = QN_EXIT_FAIL;
    size_t n = 0;
    quanta_status st = quanta_model_tokenize(l.model, text, len, 1, 0, NULL, 0, &n);
    if (!st && !(ids = malloc((n + 1) * sizeof *ids))) st = QUANTA_ERR_OUT_OF_MEMORY;
    if (!st) st = quanta_model_tokenize(l.model, text, len, 1, 0, ids, n, &n);
    if (st) {
        rc = qn_status_fail("perplexity", "tokenizing", st);
        goto done;
    }
    if (n < (size_t)n_ctx) {
        rc = qn_fail("perplexity", "the text is %zu tokens, less than one window of %d (use a smaller -c)", n, n_ctx);
        goto done;
    }
    int windows = (int)(n / (size_t)n_ctx);
    if (o.chunks && o.chunks < windows) windows = o.chunks;
    if (!o.quiet)
        fprintf(stderr, "perplexity: %zu tokens, %d windows of %d, scoring %d tokens per window\n", n, windows, n_ctx,
                n_ctx - 1 - n_ctx / 2);
    qn_ppl r;
    double t0 = qn_now_s();
    st = qn_perplexity(l.model, ids, n, n_ctx, windows, l.info.add_bos ? l.info.bos : -1, o.quiet ? NULL : show_window,
                       &l.progress, &r);
    if (st) {
        rc = qn_status_fail("perplexity", "evaluating", st);
        goto done;
    }
    if (!o.quiet && r.windows % 8) printf("\n");
    printf("perplexity: %.4f +/- %.4f (%zu tokens scored in %d windows of %d, weights %s, %.1f s)\n", qn_ppl_value(&r),
           qn_ppl_error(&r), r.count, r.windows, n_ctx, quanta_dtype_name(l.info.weight_dtype), qn_now_s() - t0);
    rc = 0;
done:
    free(ids);
    free(text);
    qn_loaded_free(&l);
    return rc;
}
