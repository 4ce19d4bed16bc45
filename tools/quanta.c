/* quanta — command-line front end: dispatches to the sub-commands in tools/cmd_*.c. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "quanta.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} command;

static const command commands[] = {
    {"info", qn_cmd_info, "version, compiled backends and devices with their capabilities"},
    {"conform", qn_cmd_conform, "conformance suite: every op on each backend against the reference"},
    {"bench", qn_cmd_bench, "benchmarks: kernels against the device's copy bandwidth and peers"},
    {"generate", qn_cmd_generate, "generate text with a model (GGUF or safetensors)"},
    {"chat", qn_cmd_chat, "interactive chat in the model's chat template"},
    {"perplexity", qn_cmd_perplexity, "perplexity of a model over a text (llama.cpp's definition)"},
    {"quantize", qn_cmd_quantize, "quantize a model checkpoint to q8/q4/nf4/fp8"},
    {"tune", qn_cmd_tune, "measure kernel variants per device and store the tuning table"},
#ifdef QUANTA_HAVE_SERVER
    {"serve", qn_cmd_serve, "OpenAI-compatible HTTP server with continuous batching"},
#endif
};

static void usage(FILE *f) {
    fprintf(f, "quanta %s — portable LLM inference engine\n\nusage: quanta COMMAND [options]\n\n",
            quanta_version());
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n`quanta COMMAND --help` describes each command's options.\n"
               "Exit status of every command: 0 done, 1 failure (model, device, I/O), 2 usage error.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: quanta COMMAND [options] (try 'quanta --help')\n");
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("quanta %s\n", quanta_version());
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "quanta: unknown command '%s' (try 'quanta --help')\n", argv[1]);
    return 2;
}
