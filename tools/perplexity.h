/* perplexity.h — llama.cpp's perplexity: the text's tokens cut into non-overlapping windows of
 * n_ctx tokens (each starting with BOS when the model uses one), every window evaluated from an
 * empty cache, and the negative log-likelihood of each token in the second half of the window
 * (positions n_ctx/2 .. n_ctx-1, predicted from all the tokens before it in the window)
 * averaged over all windows; perplexity = exp(mean NLL). */
#ifndef QUANTA_TOOLS_PERPLEXITY_H
#define QUANTA_TOOLS_PERPLEXITY_H

#include <stddef.h>
#include <stdint.h>

#include "quanta.h"

typedef struct qn_ppl {
    double nll_sum, nll_sq_sum; /* over scored tokens, natural log */
    size_t count;               /* scored tokens */
    int windows;
} qn_ppl;

/* Called after each window with the running perplexity. */
typedef void (*qn_ppl_window_fn)(void *user, int window, double ppl);

/* Scores min(n / n_ctx, max_windows (0 = all)) windows of tokens[0..n) on model (n_ctx >= 4;
 * at least one whole window). bos < 0: no BOS substitution. */
quanta_status qn_perplexity(quanta_model *model, const int32_t *tokens, size_t n, int n_ctx, int max_windows,
                            int32_t bos, qn_ppl_window_fn on_window, void *user, qn_ppl *out);
/* exp(mean NLL), and its standard error (from the NLL's spread, as llama.cpp reports). */
double qn_ppl_value(const qn_ppl *p);
double qn_ppl_error(const qn_ppl *p);

#endif
