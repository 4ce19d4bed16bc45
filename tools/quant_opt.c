/* quant_opt.c — the --quant option shared by `quanta generate` and `quanta bench model`. */
#include <stdio.h>
#include <string.h>

#include "commands.h"

int qn_cli_quant_params(const char *quant, const char *backend, quanta_model_params *mp) {
    /* auto: the file's bits (ggml blocks included) on CUDA; elsewhere q8. OpenCL reads ggml
     * blocks too (`keep`), but on PoCL its block-decoding GEMV measured 2-4x slower per layer
     * than the q8 one (bench/NOTES.md section 1), so q8 stays its default. */
    if (!strcmp(quant, "auto")) quant = backend && !strcmp(backend, "cuda") ? "keep" : "q8";
    mp->quantize = 0;
    if (!strcmp(quant, "keep")) return 0;
    mp->quantize = 1;
    if (!strcmp(quant, "fp8")) {
        mp->weight_dtype = QUANTA_FP8_E4M3;
        return 0;
    }
    return quanta_dtype_parse(quant, &mp->weight_dtype) == QUANTA_OK ? 0 : -1;
}
