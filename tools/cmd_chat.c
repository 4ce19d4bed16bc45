/*
 * cmd_chat.c — `quanta chat` (also `quanta generate -i`): an interactive conversation in the
 * model's chat template. One line of stdin is one user turn (a line ending in '\' continues
 * on the next); the reply streams to stdout. The KV cache is kept between turns: each turn
 * evaluates only the text the template adds after what the cache already holds. Where the
 * template re-renders earlier text differently (it trims a reply, say), or the context is
 * full, the conversation is evaluated again from the start (a full context drops the oldest
 * turns). "/reset" starts over, "/exit" or end of input ends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_args.h"
#include "clock.h"
#include "commands.h"
#include "model_opts.h"
#include "quanta.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: quanta chat [-m MODEL] [--system TEXT] [--chat-template NAME] [options]\n\n"
            "An interactive conversation in the model's chat template (tokenizer.chat_template, or\n"
            "--chat-template gemma|llama2|llama3|mistral|chatml|qwen2|qwen2.5). Each line of input is a\n"
            "user turn (end a line with '\\' to continue it); /reset starts over, /exit or end of input ends.\n"
            "The KV cache is kept between turns.\n\n"
            "  -m, --model MODEL      as for quanta generate (default: the default model)\n"
            "  --system TEXT          a system message first\n"
            "  -n, --n-predict N      most tokens per reply (default: until the end of the turn)\n"
            "  -c, --ctx-size N       context positions (default or 0: the model's, at most 4096)\n"
            "  --temp, --top-k, --top-p, --repeat-penalty, -s/--seed, --backend, -ngl, --quant, --kv, -t, --tp:\n"
            "                         as for quanta generate\n"
            "  --quiet                no banner and no per-turn statistics\n\n"
            "Exit status: 0 done, 1 failure, 2 usage error.\n");
}

typedef struct history {
    quanta_chat_message *m;
    char **owned;
    size_t n, cap;
} history;

static int history_add(history *h, const char *role, const char *content) {
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 16;
        quanta_chat_message *m = realloc(h->m, cap * sizeof *m);
        if (m) h->m = m;
        char **o = m ? realloc(h->owned, cap * sizeof *o) : NULL;
        if (o) h->owned = o;
        if (!m || !o) return -1;
        h->cap = cap;
    }
    char *c = strdup(content);
    if (!c) return -1;
    h->owned[h->n] = c;
    h->m[h->n++] = (quanta_chat_message){role, c};
    return 0;
}

/* Drops the oldest user/assistant pair (keeping a leading system message). */
static int history_drop_oldest(history *h) {
    size_t first = h->n && !strcmp(h->m[0].role, "system");
    if (h->n < first + 3) return -1; /* nothing but the current turn left */
    for (size_t k = 0; k < 2; k++) free(h->owned[first + k]);
    memmove(h->m + first, h->m + first + 2, (h->n - first - 2) * sizeof *h->m);
    memmove(h->owned + first, h->owned + first + 2, (h->n - first - 2) * sizeof *h->owned);
    h->n -= 2;
    return 0;
}

static void history_clear(history *h, size_t keep) {
    for (size_t i = keep; i < h->n; i++) free(h->owned[i]);
    h->n = keep;
}

/* One line of input (with '\' continuations), or NULL at end of input. */
static char *read_turn(int tty) {
    size_t cap = 256, n = 0;
    char *buf = malloc(cap);
    if (!buf) return NULL;
    if (tty) fputs("> ", stdout), fflush(stdout);
    int c, got = 0;
    while ((c = getchar()) != EOF) {
        got = 1;
        if (c == '\n') {
            if (n && buf[n - 1] == '\\') {
                buf[n - 1] = '\n';
                if (tty) fputs(". ", stdout), fflush(stdout);
                continue;
            }
            break;
        }
        if (n + 2 > cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) break;
            buf = nb;
        }
        buf[n++] = (char)c;
    }
    if (!got) {
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    return buf;
}

typedef struct session {
    qn_model_opts *o;
    qn_loaded l;
    quanta_chat_template tmpl;
    quanta_model_context *ctx;
    quanta_model_sampler *smp;
    /* the last eval's logits where they land (quanta_model_eval_view: sampling only reads them, so no copy a
     * token); valid until the next eval or reset of ctx, NULL before the first */
    const float *logits;
    char *evaluated;      /* the text the KV cache holds (rendered prompt + replies as generated) */
    size_t evaluated_len, evaluated_cap;
} session;

static int append_evaluated(session *s, const char *p, size_t n) {
    if (s->evaluated_len + n + 1 > s->evaluated_cap) {
        size_t cap = (s->evaluated_len + n + 1) * 2;
        char *e = realloc(s->evaluated, cap);
        if (!e) return -1;
        s->evaluated = e;
        s->evaluated_cap = cap;
    }
    memcpy(s->evaluated + s->evaluated_len, p, n);
    s->evaluated_len += n;
    s->evaluated[s->evaluated_len] = 0;
    return 0;
}

static char *render(session *s, const history *h, size_t *len) {
    quanta_status st = quanta_chat_render(s->tmpl, h->m, h->n, 1, NULL, 0, len);
    char *t = st ? NULL : malloc(*len + 1);
    if (!st && !t) st = QUANTA_ERR_OUT_OF_MEMORY;
    if (!st) st = quanta_chat_render(s->tmpl, h->m, h->n, 1, t, *len + 1, len);
    if (st) {
        qn_status_fail("chat", "chat template", st);
        free(t);
        return NULL;
    }
    return t;
}

/* Evaluates text (tokenized; BOS when the cache is empty). 1: it does not fit the context. */
static int eval_text(session *s, const char *text, size_t len, size_t *n_tokens) {
    int fresh = quanta_model_context_position(s->ctx) == 0;
    size_t n = 0;
    quanta_status st = quanta_model_tokenize(s->l.model, text, len, fresh, 1, NULL, 0, &n);
    int32_t *ids = st ? NULL : malloc((n + 1) * sizeof *ids);
    if (!st && !ids) st = QUANTA_ERR_OUT_OF_MEMORY;
    if (!st) st = quanta_model_tokenize(s->l.model, text, len, fresh, 1, ids, n, &n);
    if (st) {
        free(ids);
        qn_status_fail("chat", "tokenizing", st);
        return -1;
    }
    *n_tokens = n;
    /* One position is kept free for the first reply token. */
    if ((size_t)(quanta_model_context_size(s->ctx) - quanta_model_context_position(s->ctx)) < n + 1) {
        free(ids);
        return 1;
    }
    for (size_t i = 0; i < n; i++) quanta_model_sampler_accept(s->smp, ids[i]);
    st = n ? quanta_model_eval_view(s->ctx, ids, n, &s->logits) : QUANTA_OK;
    qn_progress_clear(&s->l.progress);
    free(ids);
    if (st) {
        qn_status_fail("chat", "prompt", st);
        return -1;
    }
    if (append_evaluated(s, text, len)) {
        qn_fail("chat", "out of memory");
        return -1;
    }
    return 0;
}

/* Brings the cache up to the rendered conversation: only the new text when the cache holds a
 * prefix of it, else everything again (dropping old turns while it does not fit). */
static int prepare_turn(session *s, history *h, size_t *n_new, size_t *kept) {
    for (;;) {
        size_t len;
        char *full = render(s, h, &len);
        if (!full) return -1;
        int reuse = s->evaluated_len && len >= s->evaluated_len && !memcmp(full, s->evaluated, s->evaluated_len);
        if (!reuse) {
            quanta_model_context_reset(s->ctx);
            s->logits = NULL;
            s->evaluated_len = 0;
        }
        *kept = (size_t)quanta_model_context_position(s->ctx);
        int rc = eval_text(s, full + s->evaluated_len, len - s->evaluated_len, n_new);
        free(full);
        if (rc <= 0) return rc;
        /* Does not fit: start again without the oldest exchange. */
        if (history_drop_oldest(h)) return qn_fail("chat", "the turn (%zu tokens) does not fit the context of %d "
                                                   "positions (use -c)", *n_new, quanta_model_context_size(s->ctx));
        if (!s->o->quiet) fprintf(stderr, "[context full: dropped the oldest exchange]\n");
        quanta_model_context_reset(s->ctx);
        s->logits = NULL;
        s->evaluated_len = 0;
    }
}

/* Samples and streams the reply; returns its text (caller frees) or NULL on failure. */
static char *reply(session *s, int *n_out) {
    size_t cap = 256, n = 0;
    char *text = malloc(cap);
    int limit = s->o->n_predict >= 0 ? s->o->n_predict : -1;
    *n_out = 0;
    if (!text) return NULL;
    text[0] = 0;
    for (int i = 0; limit < 0 || i < limit; i++) {
        int32_t tok;
        quanta_status st = quanta_model_sample(s->smp, s->logits, (size_t)s->l.info.n_vocab, &tok);
        if (st) {
            qn_status_fail("chat", "sampling", st);
            free(text);
            return NULL;
        }
        if (quanta_model_token_is_eog(s->l.model, tok)) break;
        char piece[256];
        size_t pl = 0;
        if (quanta_model_token_to_piece(s->l.model, tok, 0, piece, sizeof piece, &pl)) pl = 0;
        fwrite(piece, 1, pl, stdout);
        fflush(stdout);
        if (n + pl + 1 > cap) {
            char *t = realloc(text, cap = 2 * (n + pl + 1));
            if (!t) {
                free(text);
                return NULL;
            }
            text = t;
        }
        memcpy(text + n, piece, pl);
        text[n += pl] = 0;
        quanta_model_sampler_accept(s->smp, tok);
        (*n_out)++;
        if (quanta_model_context_position(s->ctx) >= quanta_model_context_size(s->ctx)) break;
        if ((st = quanta_model_eval_view(s->ctx, &tok, 1, &s->logits))) {
            qn_status_fail("chat", "decode", st);
            free(text);
            return NULL;
        }
        if (append_evaluated(s, piece, pl)) {
            free(text);
            return NULL;
        }
    }
    fputs("\n", stdout);
    fflush(stdout);
    return text;
}

int qn_chat_session(qn_model_opts *o) {
    session s;
    memset(&s, 0, sizeof s);
    s.o = o;
    history h = {0};
    int rc = qn_model_opts_load(o, &s.l);
    if (rc) return rc;
    rc = QN_EXIT_FAIL;
    quanta_status st;
    if (qn_model_opts_template(o, s.l.model, &s.tmpl)) goto done;
    if ((st = quanta_model_context_create(s.l.model, o->n_ctx, &s.ctx))) {
        rc = qn_status_fail("chat", "creating the context", st);
        goto done;
    }
    quanta_model_context_set_progress(s.ctx, qn_progress_update, &s.l.progress);
    if ((st = quanta_model_sampler_create(&o->sp, &s.smp))) {
        rc = qn_status_fail("chat", "sampler", st);
        goto done;
    }
    if (o->system && history_add(&h, "system", o->system)) goto done;
    size_t keep = h.n;
    int tty = isatty(STDIN_FILENO);
    if (!o->quiet)
        fprintf(stderr, "chat template %s, context %d positions; /reset starts over, /exit ends\n",
                quanta_chat_template_name(s.tmpl), quanta_model_context_size(s.ctx));
    for (char *line; (line = read_turn(tty));) {
        if (!strcmp(line, "/exit") || !strcmp(line, "/quit")) {
            free(line);
            break;
        }
        if (!strcmp(line, "/reset")) {
            history_clear(&h, keep);
            quanta_model_context_reset(s.ctx);
            s.logits = NULL; /* the view ends with the reset */
            s.evaluated_len = 0;
            free(line);
            continue;
        }
        int bad = history_add(&h, "user", line);
        free(line);
        if (bad) goto done;
        size_t n_new = 0, kept = 0;
        double t0 = qn_now_s();
        if (prepare_turn(&s, &h, &n_new, &kept)) goto done;
        double t1 = qn_now_s();
        int n_gen;
        char *text = reply(&s, &n_gen);
        if (!text) goto done;
        double t2 = qn_now_s();
        bad = history_add(&h, "assistant", text);
        free(text);
        if (bad) goto done;
        if (!o->quiet)
            fprintf(stderr, "[prompt %zu new tokens (%zu kept in the cache) in %.2f s; reply %d tokens, %.2f tokens/s]\n",
                    n_new, kept, t1 - t0, n_gen, t2 > t1 ? n_gen / (t2 - t1) : 0.0);
    }
    rc = ferror(stdin) ? qn_fail("chat", "reading stdin failed") : 0;
done:
    history_clear(&h, 0);
    free(h.m);
    free(h.owned);
    free(s.evaluated);
    quanta_model_sampler_destroy(s.smp);
    quanta_model_context_destroy(s.ctx);
    qn_loaded_free(&s.l);
    return rc;
}

int qn_cmd_chat(int argc, char **argv) {
    qn_model_opts o;
    int rc = qn_model_opts_parse("chat", QN_OPTS_SAMPLING | QN_OPTS_CHAT | QN_OPTS_TP, argc, argv, &o, usage);
    if (rc) return rc < 0 ? 0 : rc;
    if (o.n_predict == -2) o.n_predict = -1;
    return qn_chat_session(&o);
}
