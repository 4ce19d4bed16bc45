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

#include "commands.h"
#include "quanta.h"

#define MAX_OVERRIDES 32

/* The temporary output while it exists (quanta_quantize_params.temp_path), for the handler. */
static char temp_path[8192];

static void on_signal(int sig) {
    if (temp_path[0]) unlink(temp_path); /* async-signal-safe */
    signal(sig, SIG_DFL);
    raise(sig);
}

static int known_format(const char *s, int allow_dense) {
    static const char *q[] = { "q8", "q4", "q4:g64", "q4:g32", "q4:g128", "nf4", "nf4:dq", "fp8", "fp8_e4m3", "fp8_e5m2" };
    static const char *dense[] = { "f16", "bf16", "f32", "keep" };
    for (size_t i = 0; i < sizeof q / sizeof *q; i++)
        if (!strcmp(s, q[i])) return 1;
    for (size_t i = 0; allow_dense && i < sizeof dense / sizeof *dense; i++)
        if (!strcmp(s, dense[i])) return 1;
    return 0;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: quanta quantize -m IN.gguf|IN.safetensors -o OUT.gguf --quant FORMAT [options]\n\n"
            "  --quant FORMAT          q8 | q4 (= q4:g64) | q4:g32 | q4:g128 | nf4 | nf4:dq | fp8 (= fp8_e4m3) | fp8_e5m2\n"
            "  --keep-embeddings T     token embeddings and output head: f16 (default) | f32 | q8 | quant (= --quant)\n"
            "  --override GLOB=T       format for tensors whose name matches GLOB (fnmatch); T is a FORMAT,\n"
            "                          f16, bf16, f32 or keep (copy unchanged); first match wins; repeatable\n"
            "  --clip minmax|percentile:P\n"
            "                          scale choice: minmax (default) uses each row's max |w|; percentile:P first\n"
            "                          clamps each row of a quantized tensor to +-(P-th percentile of its |w|)\n"
            "  --config FILE           config.json for a safetensors input (default: next to the input)\n"
            "  --calib FILE            calibrate the scales on activations: run the model (unquantized) over the\n"
            "                          first --calib-tokens tokens of the text FILE (BOS first), measure E[x_k^2]\n"
            "                          for every input channel k of every linear layer, and for each unit with its\n"
            "                          own scale (q8/fp8: row; q4: group; nf4: 64-block) clamp it to r times its\n"
            "                          range, r = 1.00, 0.98, ..., 0.60, keeping the r with the least\n"
            "                          sum_k E[x_k^2] (w_k - w'_k)^2 (r = 1 is min-max). Weights with no measured\n"
            "                          input (embedding tables) use E[x_k^2] = 1. Not combined with --clip.\n"
            "  --calib-tokens N        tokens of the calibration text to use (default 512)\n"
            "  --calib-backend SPEC    backend that runs the model for --calib (default best; ref, opencl, cuda)\n"
            "  -q, --quiet             no per-tensor lines\n\n"
            "Defaults: 1-D tensors (norms, biases) become f32; token embeddings / output head f16; other 2-D\n"
            "weights the --quant format (f16 when their row length does not fit the format's group); tensors\n"
            "of 3-4 dims f32. Errors are relative RMS of the dequantized weights against the input's weights;\n"
            "with --calib also the activation-weighted relative error sqrt(sum E[x^2] (w - w')^2 / sum E[x^2] w^2)\n"
            "with min-max scales and with the calibrated ones.\n");
}

static void human(double b, char *buf, size_t n) {
    if (b >= 1024.0 * 1024 * 1024) snprintf(buf, n, "%.2f GiB", b / (1024.0 * 1024 * 1024));
    else if (b >= 1024.0 * 1024) snprintf(buf, n, "%.2f MiB", b / (1024.0 * 1024));
    else if (b >= 1024.0) snprintf(buf, n, "%.1f KiB", b / 1024.0);
    else snprintf(buf, n, "%.0f B", b);
}

static void on_tensor(const quanta_quantize_tensor_report *t, void *user) {
    if (*(const int *)user) return; /* --quiet */
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

static void on_note(const char *note, void *user) {
    (void)user;
    fflush(stdout);
    fprintf(stderr, "quanta quantize: %s\n", note);
}

int qn_cmd_quantize(int argc, char **argv) {
    quanta_quantize_params o;
    quanta_quantize_default_params(&o);
    quanta_quantize_override ov[MAX_OVERRIDES];
    char *globs[MAX_OVERRIDES];
    int n_ov = 0, quiet = 0;
    long calib_tokens = 0;
    double clip_pct = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            quiet = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "quanta quantize: option %s needs a value\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) o.input = v;
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) o.output = v;
        else if (!strcmp(a, "--config")) o.config = v;
        else if (!strcmp(a, "--quant")) {
            if (!known_format(v, 0)) {
                fprintf(stderr, "quanta quantize: unknown --quant '%s' (q8, q4, q4:g32, q4:g128, nf4, nf4:dq, fp8, fp8_e5m2)\n", v);
                return 2;
            }
            o.format = v;
        } else if (!strcmp(a, "--keep-embeddings")) {
            if (strcmp(v, "quant") && strcmp(v, "f16") && strcmp(v, "f32") && strcmp(v, "q8")) {
                fprintf(stderr, "quanta quantize: --keep-embeddings takes f16, f32, q8 or quant, not '%s'\n", v);
                return 2;
            }
            o.embeddings = v;
        } else if (!strcmp(a, "--override")) {
            const char *eq = strrchr(v, '=');
            if (!eq || eq == v || n_ov == MAX_OVERRIDES || !known_format(eq + 1, 1)) {
                fprintf(stderr, "quanta quantize: bad --override '%s' (GLOB=FORMAT, at most %d)\n", v, MAX_OVERRIDES);
                return 2;
            }
            char *g = malloc((size_t)(eq - v) + 1);
            if (!g) return 1;
            memcpy(g, v, (size_t)(eq - v));
            g[eq - v] = '\0';
            globs[n_ov] = g;
            ov[n_ov].glob = g;
            ov[n_ov++].format = eq + 1;
        } else if (!strcmp(a, "--clip")) {
            char *end;
            if (!strcmp(v, "minmax")) clip_pct = 0;
            else if (!strncmp(v, "percentile:", 11) && (clip_pct = strtod(v + 11, &end), *end == '\0') &&
                     clip_pct > 0 && clip_pct <= 100) {
                if (clip_pct == 100) clip_pct = 0; /* the max: min-max */
            } else {
                fprintf(stderr, "quanta quantize: --clip takes minmax or percentile:P with 0 < P <= 100, not '%s'\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--calib")) {
            o.calib_text = v;
        } else if (!strcmp(a, "--calib-tokens")) {
            char *end;
            errno = 0;
            calib_tokens = strtol(v, &end, 10);
            if (*end || end == v || errno || calib_tokens < 1 || calib_tokens > (1L << 20)) {
                fprintf(stderr, "quanta quantize: --calib-tokens takes a count from 1 to %ld, not '%s'\n", 1L << 20, v);
                return 2;
            }
        } else if (!strcmp(a, "--calib-backend")) {
            o.calib_backend = v;
        } else {
            fprintf(stderr, "quanta quantize: unknown option '%s'\n\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!o.input || !o.output || !o.format) {
        fprintf(stderr, "quanta quantize: -m, -o and --quant are required\n\n");
        usage(stderr);
        return 2;
    }
    if (o.calib_text && clip_pct > 0) {
        fprintf(stderr, "quanta quantize: --calib chooses each row's / group's clipping itself; drop --clip\n");
        return 2;
    }
    if (!o.calib_text && (calib_tokens || o.calib_backend)) {
        fprintf(stderr, "quanta quantize: --calib-tokens and --calib-backend need --calib FILE\n");
        return 2;
    }

    o.overrides = ov;
    o.n_overrides = n_ov;
    o.clip_percentile = clip_pct;
    o.calib_tokens = (int32_t)calib_tokens;
    o.on_tensor = on_tensor;
    o.on_note = on_note;
    o.user = &quiet;
    o.temp_path = temp_path;
    o.temp_path_cap = sizeof temp_path;
    char clip[32];
    if (clip_pct > 0) snprintf(clip, sizeof clip, "percentile:%g", clip_pct);
    else snprintf(clip, sizeof clip, o.calib_text ? "calib" : "minmax");
    printf("quanta quantize: %s -> %s: --quant %s, embeddings %s, clip %s\n", o.input, o.output, o.format,
           o.embeddings ? o.embeddings : "f16", clip);
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
    if (st != QUANTA_OK) {
        fflush(stdout);
        fprintf(stderr, "quanta quantize: %s\n", quanta_last_error());
        return 1;
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
    return 0;
}
