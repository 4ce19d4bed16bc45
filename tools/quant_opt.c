/* quant_opt.c — the --quant and KV dtype options shared by `quanta generate`, `quanta serve` and
 * `quanta bench`. */
#include <stdio.h>
#include <string.h>

#include "cli_args.h"
#include "commands.h"

int qn_cli_quant_params(const char *quant, const char *backend, quanta_model_params *mp) {
    /* auto: the file's bits (ggml blocks included) on CUDA; elsewhere q8, but for the weights
     * whose stored format the backend decodes at least as fast (keep_preferred: on OpenCL CPUs
     * with AVX-512 VNNI, ggml Q5_0 under QUANTA_OPENCL_KEEP_Q5_0=1). OpenCL reads every ggml
     * block format (`keep`), but on PoCL its float block GEMVs measured 1.3-3x slower than the q8
     * one (bench/NOTES.md section 1). */
    mp->keep_preferred = 0;
    if (!strcmp(quant, "auto")) {
        const int cuda = backend && !strcmp(backend, "cuda");
        mp->keep_preferred = !cuda;
        quant = cuda ? "keep" : "q8";
    }
    mp->quantize = 0;
    if (!strcmp(quant, "keep")) return 0;
    mp->quantize = 1;
    if (!strcmp(quant, "fp8")) {
        mp->weight_dtype = QUANTA_FP8_E4M3;
        return 0;
    }
    return quanta_dtype_parse(quant, &mp->weight_dtype) == QUANTA_OK ? 0 : -1;
}

int qn_cli_kv_dtype(const char *cmd, const char *opt, const char *text, int quantized, quanta_dtype *out) {
    quanta_dtype t;
    /* quanta_dtype_parse reads fp8 as fp8_e4m3; int8 is the name users know q8's pool by */
    if (!quanta_dtype_parse(strcmp(text, "int8") ? text : "q8", &t) &&
        (t == QUANTA_F32 || t == QUANTA_F16 || t == QUANTA_BF16 ||
         (quantized && (t == QUANTA_Q8 || t == QUANTA_FP8_E4M3)))) {
        *out = t;
        return QN_EXIT_OK;
    }
    return qn_usage_error(cmd, "%s '%s' is not one of f32, f16, bf16%s", opt, text, quantized ? ", fp8, int8" : "");
}
