/*
 * model_opts.h — the options of the sub-commands that run a model (generate, chat,
 * perplexity), with llama.cpp's names, parsed once for all of them, and the model loading
 * they share (default model, backend from -ngl, progress bar, the "model: ..." line).
 */
#ifndef QUANTA_TOOLS_MODEL_OPTS_H
#define QUANTA_TOOLS_MODEL_OPTS_H

#include <stdio.h>

#include "progress.h"
#include "quanta.h"

/* Option groups a command takes besides the model ones (-m, --backend, -ngl, --quant, --kv,
 * -c, -t, --quiet). */
enum {
    QN_OPTS_PROMPT = 1,    /* -p, -f (text to continue) and -n */
    QN_OPTS_SAMPLING = 2,  /* --temp --top-k --top-p --repeat-penalty -s */
    QN_OPTS_CHAT = 4,      /* --chat, --chat-template, --system, -i */
    QN_OPTS_TP = 8,        /* --tp */
    QN_OPTS_TEXT_FILE = 16 /* -f FILE is required, --chunks N (perplexity) */
};

typedef struct qn_model_opts {
    const char *cmd;
    const char *model_path;   /* -m; NULL = the default model */
    const char *prompt;       /* -p TEXT ("-" = stdin) */
    const char *text_file;    /* -f FILE ("-" = stdin) */
    const char *backend;      /* --backend; -ngl 0 makes it "ref" */
    const char *chat_template; /* --chat-template NAME; NULL = the model's */
    const char *system;       /* --system TEXT */
    int n_predict, n_ctx, threads, n_gpu_layers, tp;
    int ctx_given;            /* -c was on the command line (n_ctx 0 then means -c 0, not the default) */
    int chunks;               /* --chunks: most windows (perplexity; 0 = all) */
    int chat, interactive, quiet;
    int quant_auto;     /* --quant auto or none: the file's bits on CUDA, q8 elsewhere */
    quanta_model_sampler_params sp;
    quanta_model_params mp;
} qn_model_opts;

/* Parses argv (argv[0] = the command). 0: parsed; -1: --help printed (exit 0); 2: usage error
 * printed. `usage` prints the command's help. */
int qn_model_opts_parse(const char *cmd, int groups, int argc, char **argv, qn_model_opts *o,
                        void (*usage)(FILE *));

/* The text of -p or -f (either may be "-" for stdin), or `fallback` when neither was given;
 * NULL after printing why (exit 1). Caller frees. */
char *qn_model_opts_prompt(const qn_model_opts *o, const char *fallback);

/* Opens the backend and loads the model (default model when no -m), with a progress bar on a
 * terminal, and prints the "model: ..." line unless --quiet. QN_EXIT_* status; on failure
 * everything is released and the reason printed. */
typedef struct qn_loaded {
    quanta_backend *be;
    quanta_model *model;
    quanta_model_info info;
    quanta_device_info dev;
    char *path;               /* the model's path (owned) */
    qn_progress progress;
} qn_loaded;
int qn_model_opts_load(qn_model_opts *o, qn_loaded *out);
void qn_loaded_free(qn_loaded *l);

/* The chat template: --chat-template, else the model's own; prints the reason on failure. */
int qn_model_opts_template(const qn_model_opts *o, const quanta_model *m, quanta_chat_template *out);

#endif
