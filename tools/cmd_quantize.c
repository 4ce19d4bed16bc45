/* cmd_quantize.c — `quanta quantize`: the command line of quanta_quantize_model (the
 * library's post-training quantization, model/quantize.c): options to params, one line per
 * tensor from the report callback, the summary, and removal of the temporary output when
 * SIGINT or SIGTERM stops the run (the library installs no signal handlers). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include "cli_args.h"
#include "commands.h"
#include "progress.h"
#include "quanta.h"

#define MAX_OVERRIDES 32

/* The temporary output while it exists (quanta_quantize_params.temp_path), for the handler. */
static char temp_path[8192];

static void on_signal(int sig) {
    if (temp_path[0]) unlink(temp_path); /* async-signal-safe */
    signal(sig, SIG_DFL);
    raise(sig);
}

/* The CLI's format names: ggml's block types where one matches (other tools read them), else
 * Quanta's own formats; `lib` is the name quanta_quantize_model takes. */
typedef struct cli_format {
    const char *name, *lib;
    int ggml;          /* written as a standard ggml type */
    const char *what;
} cli_format;

static const cli_format formats[] = {
    {"q8", "q8_0", 1, "ggml Q8_0: int8, f16 scale per 32"},
    {"q8_0", "q8_0", 1, "ggml Q8_0"},
    {"q4_0", "q4_0", 1, "ggml Q4_0: 4-bit symmetric, f16 scale per 32"},
    {"q4:g32:sym", "q4_0", 1, "ggml Q4_0"},
    {"q4_k", "q4_k", 1, "ggml Q4_K: 256-blocks of 8 x 32, 6-bit scales and mins"},
    {"q6_k", "q6_k", 1, "ggml Q6_K: 256-blocks of 16 x 16, 6-bit codes, int8 scales"},
    {"q8:row", "q8", 0, "Quanta q8: int8, f32 scale per row"},
    {"q4", "q4", 0, "Quanta q4: asymmetric, f16 scale + 4-bit zero per 64"},
    {"q4:g64", "q4:g64", 0, "Quanta q4 group 64"},
    {"q4:g32", "q4:g32", 0, "Quanta q4 group 32 (asymmetric)"},
    {"q4:g128", "q4:g128", 0, "Quanta q4 group 128"},
    {"nf4", "nf4", 0, "Quanta nf4 (NormalFloat-4, absmax per 64)"},
    {"nf4:dq", "nf4:dq", 0, "Quanta nf4 with double quantization"},
    {"fp8", "fp8", 0, "Quanta fp8_e4m3, f32 scale per row"},
    {"fp8_e4m3", "fp8_e4m3", 0, "Quanta fp8_e4m3"},
    {"fp8_e5m2", "fp8_e5m2", 0, "Quanta fp8_e5m2"},
};

static const cli_format *find_format(const char *s) {
    for (size_t i = 0; i < sizeof formats / sizeof *formats; i++)
        if (!strcmp(s, formats[i].name)) return &formats[i];
    return NULL;
}

/* An override's format: a CLI format name (mapped), or f16 / bf16 / f32 / keep. */
static const char *override_format(const char *s) {
    const cli_format *f = find_format(s);
    if (f) return f->lib;
    static const char *dense[] = {"f16", "bf16", "f32", "keep"};
    for (size_t i = 0; i < sizeof dense / sizeof *dense; i++)
        if (!strcmp(s, dense[i])) return dense[i];
    return NULL;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: quanta quantize -m IN.gguf|IN.safetensors -o OUT.gguf --quant FORMAT [options]\n\n"
            "  --quant FORMAT          written as standard ggml types (read by llama.cpp and the gguf package):\n"
            "                            q8 (= q8_0) | q4_0 (= q4:g32:sym) | q4_k | q6_k\n"
            "                          Quanta's own formats (type ids in formats/README.md; Quanta reads them):\n"
            "                            q8:row | q4 (= q4:g64) | q4:g32 | q4:g128 | nf4 | nf4:dq | fp8 (= fp8_e4m3) |\n"
            "                            fp8_e5m2\n"
            "  --keep-embeddings T     token embeddings and output head: quant (default: the --quant format) |\n"
            "                          f16 | f32 | q8 (Quanta per-row q8)\n"
            "  --override GLOB=T       format for tensors whose name matches GLOB (fnmatch); T is a FORMAT,\n"
            "                          f16, bf16, f32 or keep (copy unchanged); first match wins; repeatable\n"
            "  --clip minmax|percentile:P\n"
            "                          scale choice: minmax (default) uses each row's max |w|; percentile:P first\n"
            "                          clamps each row of a quantized tensor to +-(P-th percentile of its |w|)\n"
            "  --config FILE           config.json for a safetensors input (default: next to the input)\n"
            "  --calib FILE            calibrate the scales on activations (Quanta formats only): run the model\n"
            "                          (unquantized) over the first --calib-tokens tokens of the text FILE (BOS\n"
            "                          first), measure E[x_k^2] for every input channel k of every linear layer,\n"
            "                          and for each unit with its own scale (q8:row/fp8: row; q4: group; nf4:\n"
            "                          64-block) clamp it to r times its range, r = 1.00, 0.98, ..., 0.60, keeping\n"
            "                          the r with the least sum_k E[x_k^2] (w_k - w'_k)^2 (r = 1 is min-max).\n"
            "                          Weights with no measured input (embedding tables) use E[x_k^2] = 1. Not\n"
            "                          combined with --clip.\n"
            "  --calib-tokens N        tokens of the calibration text to use (default 512)\n"
            "  --calib-backend SPEC    backend that runs the model for --calib (default best; ref, opencl, cuda)\n"
            "  --force                 write over the input file (refused otherwise)\n"
            "  -q, --quiet             no per-tensor lines\n\n"
            "Defaults: 1-D tensors (norms, biases) become f32; other 2-D weights, token embeddings and output\n"
            "head included, the --quant format (a K-quant falls back to q8_0 where rows are not a multiple of\n"
            "256; any format to f16 where its block does not divide the rows); tensors of 3-4 dims f32. The\n"
            "output is written to a temporary file beside it and renamed into place when complete. Errors are\n"
            "relative RMS of the dequantized weights against the input's weights; with --calib also the\n"
            "activation-weighted relative error with min-max scales and with the calibrated ones.\n\n"
            "Exit status: 0 written, 1 failure (input, output, I/O), 2 usage error.\n");
}

static void human(double b, char *buf, size_t n) {
    if (b >= 1024.0 * 1024 * 1024) snprintf(buf, n, "%.2f GiB", b / (1024.0 * 1024 * 1024));
    else if (b >= 1024.0 * 1024) snprintf(buf, n, "%.2f MiB", b / (1024.0 * 1024));
    else if (b >= 1024.0) snprintf(buf, n, "%.1f KiB", b / 1024.0);
    else snprintf(buf, n, "%.0f B", b);
}

typedef struct run_state {
    int quiet;
    int quantized_input;     /* a source tensor of a ggml block type */
    qn_progress progress;
} run_state;

static int is_block_type(const char *type_name) {
    /* ggml's quantized types are named q<bits>_<variant> ("q4_K", "q8_0", "iq2_xs"). */
    return type_name && (type_name[0] == 'q' || !strncmp(type_name, "iq", 2)) && strchr(type_name, '_');
}

static void on_tensor(const quanta_quantize_tensor_report *t, void *user) {
    run_state *rs = user;
    rs->quantized_input |= is_block_type(t->from);
    if (rs->quiet) return;
    char shape[64], a[32], b[32];
    int p = snprintf(shape, sizeof shape, "[");
    for (int i = 0; i < t->ndim; i++)
        p += snprintf(shape + p, sizeof shape - (size_t)p, "%lld%s", (long long)t->dims[i], i + 1 < t->ndim ? ", " : "]");
    human((double)t->bytes_in, a, sizeof a);
    human((double)t->bytes_out, b, sizeof b);
    char wbuf[96] = "";
    if (t->werr_minmax >= 0)
        snprintf(wbuf, sizeof wbuf, " werr %.3e -> %.3e%s", t->werr_minmax, t->werr_calib,
                 t->unweighted ? " (no activations: unweighted)" : "");
    printf("  %-44s %-16s %-8s -> %-9s %10s -> %-10s err %.3e%s%s%s%s\n", t->name, shape, t->from, t->to, a, b, t->rel_rms,
           wbuf, t->why[0] ? " (" : "", t->why, t->why[0] ? ")" : "");
}

static void progress_bar(void *user, const char *stage, double fraction) {
    run_state *rs = user;
    if (!rs->quiet && !strcmp(stage, "quantize")) return; /* the per-tensor lines show it */
    qn_progress_update(&rs->progress, stage, fraction);
    if (fraction >= 1) qn_progress_clear(&rs->progress);
}

static void on_note(const char *note, void *user) {
    qn_progress_clear(&((run_state *)user)->progress);
    fflush(stdout);
    fprintf(stderr, "quanta quantize: %s\n", note);
}

/* The same file (also through another name or a link)? */
static int same_file(const char *a, const char *b) {
    struct stat sa, sb;
    if (stat(a, &sa) || stat(b, &sb)) return 0;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int qn_cmd_quantize(int argc, char **argv) {
    quanta_quantize_params o;
    quanta_quantize_default_params(&o);
    quanta_quantize_override ov[MAX_OVERRIDES];
    char *globs[MAX_OVERRIDES];
    int n_ov = 0, quiet = 0, force = 0, rc = 0;
    long calib_tokens = 0;
    double clip_pct = 0;
    const cli_format *fmt = NULL;
    o.embeddings = "quant";
    enum { O_QUANT = 1000, O_EMB, O_OVERRIDE, O_CLIP, O_CONFIG, O_CALIB, O_CALIB_TOKENS, O_CALIB_BACKEND, O_FORCE };
    static const struct option longopts[] = {
        {"model", required_argument, NULL, 'm'},          {"output", required_argument, NULL, 'o'},
        {"quant", required_argument, NULL, O_QUANT},      {"keep-embeddings", required_argument, NULL, O_EMB},
        {"override", required_argument, NULL, O_OVERRIDE}, {"clip", required_argument, NULL, O_CLIP},
        {"config", required_argument, NULL, O_CONFIG},    {"calib", required_argument, NULL, O_CALIB},
        {"calib-tokens", required_argument, NULL, O_CALIB_TOKENS},
        {"calib-backend", required_argument, NULL, O_CALIB_BACKEND},
        {"force", no_argument, NULL, O_FORCE},            {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},                 {0, 0, 0, 0}};
    qn_getopt_state gs;
    qn_getopt_begin(&gs, "quantize", argc, argv, "m:o:qh", longopts, 0);
    for (int c; !rc && (c = qn_getopt(&gs)) != -1;) {
        const char *v = optarg;
        switch (c) {
        case 'h': usage(stdout); rc = -1; break;
        case 'q': quiet = 1; break;
        case 'm': o.input = v; break;
        case 'o': o.output = v; break;
        case O_CONFIG: o.config = v; break;
        case O_FORCE: force = 1; break;
        case O_QUANT:
            if (!(fmt = find_format(v)))
                rc = qn_usage_error("quantize", "--quant '%s' is not one of q8, q4_0, q4_k, q6_k, q8:row, q4, q4:g32, "
                                    "q4:g128, nf4, nf4:dq, fp8, fp8_e5m2", v);
            else o.format = fmt->lib;
            break;
        case O_EMB:
            if (strcmp(v, "quant") && strcmp(v, "f16") && strcmp(v, "f32") && strcmp(v, "q8"))
                rc = qn_usage_error("quantize", "--keep-embeddings '%s' is not one of quant, f16, f32, q8", v);
            o.embeddings = v;
            break;
        case O_OVERRIDE: {
            const char *eq = strrchr(v, '='), *f = eq ? override_format(eq + 1) : NULL;
            if (!eq || eq == v || n_ov == MAX_OVERRIDES || !f) {
                rc = qn_usage_error("quantize", "--override '%s' is not GLOB=FORMAT (at most %d)", v, MAX_OVERRIDES);
                break;
            }
            char *g = malloc((size_t)(eq - v) + 1);
            if (!g) {
                rc = qn_fail("quantize", "out of memory");
                break;
            }
            memcpy(g, v, (size_t)(eq - v));
            g[eq - v] = '\0';
            globs[n_ov] = g;
            ov[n_ov].glob = g;
            ov[n_ov++].format = f;
            break;
        }
        case O_CLIP:
            if (!strcmp(v, "minmax")) clip_pct = 0;
            else if (strncmp(v, "percentile:", 11) || qn_arg_double("quantize", "--clip percentile", v + 11, 1e-9, 100, &clip_pct))
                rc = strncmp(v, "percentile:", 11) ? qn_usage_error("quantize", "--clip '%s' is not minmax or percentile:P", v)
                                                   : QN_EXIT_USAGE;
            else if (clip_pct == 100) clip_pct = 0; /* the max: min-max */
            break;
        case O_CALIB: o.calib_text = v; break;
        case O_CALIB_TOKENS: rc = qn_arg_long("quantize", "--calib-tokens", v, 1, 1L << 20, &calib_tokens); break;
        case O_CALIB_BACKEND: o.calib_backend = v; break;
        default: rc = QN_EXIT_USAGE; break;
        }
    }
    if (!rc && (!o.input || !o.output || !o.format)) rc = qn_usage_error("quantize", "-m, -o and --quant are required");
    if (!rc && o.calib_text && clip_pct > 0)
        rc = qn_usage_error("quantize", "--calib chooses each row's / group's clipping itself; drop --clip");
    if (!rc && !o.calib_text && (calib_tokens || o.calib_backend))
        rc = qn_usage_error("quantize", "--calib-tokens and --calib-backend need --calib FILE");
    if (!rc && o.calib_text && fmt->ggml)
        rc = qn_usage_error("quantize", "--calib picks the scales of Quanta formats (q8:row, q4, nf4, fp8); %s is a "
                            "ggml type with its own", fmt->name);
    struct stat in_st;
    if (!rc && stat(o.input, &in_st)) rc = qn_fail("quantize", "-m %s: %s", o.input, strerror(errno));
    /* Nothing lost by mistake: the input is never replaced unless asked. */
    if (!rc && !force && (!strcmp(o.input, o.output) || same_file(o.input, o.output)))
        rc = qn_fail("quantize", "-o %s is the input file: refusing to write over it (--force to replace it)", o.output);
    if (rc) {
        for (int i = 0; i < n_ov; i++) free(globs[i]);
        return rc < 0 ? 0 : rc;
    }
    o.overrides = ov;
    o.n_overrides = n_ov;
    o.clip_percentile = clip_pct;
    o.calib_tokens = (int32_t)calib_tokens;
    o.on_tensor = on_tensor;
    o.on_note = on_note;
    run_state rs = {.quiet = quiet};
    /* A bar for the calibration run, and for the conversion when no per-tensor lines are shown. */
    qn_progress_init(&rs.progress, 1);
    o.progress = progress_bar;
    o.progress_user = &rs;
    o.user = &rs;
    o.temp_path = temp_path;
    o.temp_path_cap = sizeof temp_path;
    char clip[32];
    if (clip_pct > 0) snprintf(clip, sizeof clip, "percentile:%g", clip_pct);
    else snprintf(clip, sizeof clip, o.calib_text ? "calib" : "minmax");
    printf("quanta quantize: %s -> %s: --quant %s (%s), embeddings %s, clip %s\n", o.input, o.output, fmt->name,
           fmt->what, o.embeddings, clip);
    if (!fmt->ggml)
        fprintf(stderr, "quanta quantize: note: %s is a Quanta format, stored under Quanta's own GGUF type ids "
                        "(formats/README.md): Quanta reads the file, llama.cpp and the gguf package do not "
                        "(q8, q4_0, q4_k, q6_k are standard ggml types)\n", fmt->name);
    if (!quiet)
        printf("  %-44s %-16s %-8s    %-9s %10s    %-10s relative RMS error\n", "tensor", "shape", "from", "to", "bytes in",
               "bytes out");
    fflush(stdout);
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    quanta_quantize_summary sum;
    quanta_status st = quanta_quantize_model(&o, &sum);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    for (int i = 0; i < n_ov; i++) free(globs[i]);
    qn_progress_clear(&rs.progress);
    if (st != QUANTA_OK) {
        fflush(stdout);
        return qn_fail("quantize", "%s", quanta_last_error());
    }
    char a[32], b[32], fa[32], fb[32];
    human((double)sum.tensor_bytes_in, a, sizeof a);
    human((double)sum.tensor_bytes_out, b, sizeof b);
    human((double)sum.file_bytes_in, fa, sizeof fa);
    human((double)sum.file_bytes_out, fb, sizeof fb);
    printf("tensors: %d: %d quantized, %d dense, %d copied unchanged, %d fell back to f16\n", sum.n_tensors, sum.n_quantized,
           sum.n_dense, sum.n_copied, sum.n_fallback);
    printf("model error: relative RMS over all converted weights %.3e\n", sum.rel_rms);
    if (sum.n_calibrated)
        printf("calibration: %d tokens; %d of %d tensors lowered their activation-weighted error; rms over tensors %.3e -> "
               "%.3e\n",
               sum.calib_tokens, sum.n_improved, sum.n_calibrated, sum.werr_minmax_rms, sum.werr_calib_rms);
    printf("size: tensors %s -> %s (x%.3f); file %s -> %s\n", a, b,
           sum.tensor_bytes_in > 0 ? (double)sum.tensor_bytes_out / (double)sum.tensor_bytes_in : 0.0, fa, fb);
    fflush(stdout);
    if (rs.quantized_input)
        fprintf(stderr, "quanta quantize: warning: the input already holds quantized (ggml block) weights: they were "
                        "dequantized and quantized again, adding the new format's error to the old one's\n");
    if (sum.file_bytes_out > sum.file_bytes_in)
        fprintf(stderr, "quanta quantize: warning: the output (%s) is bigger than the input (%s)\n", fb, fa);
    return 0;
}
