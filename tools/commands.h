/* commands.h — the `quanta` CLI's sub-commands, one file each (tools/cmd_*.c). Each returns
 * the process exit status: 0 success, 1 failure, 2 usage error (cli_args.h: QN_EXIT_*). */
#ifndef QUANTA_TOOLS_COMMANDS_H
#define QUANTA_TOOLS_COMMANDS_H

int qn_cmd_info(int argc, char **argv);
int qn_cmd_conform(int argc, char **argv);
int qn_cmd_bench(int argc, char **argv);
int qn_cmd_generate(int argc, char **argv);
int qn_cmd_chat(int argc, char **argv);
int qn_cmd_quantize(int argc, char **argv);
int qn_cmd_tune(int argc, char **argv);
int qn_cmd_perplexity(int argc, char **argv);

/* The interactive chat of `quanta chat` and `quanta generate -i` (cmd_chat.c). */
struct qn_model_opts;
int qn_chat_session(struct qn_model_opts *o);
int qn_cmd_serve(int argc, char **argv);
int qn_cmd_bench_model(int argc, char **argv);
int qn_cmd_bench_kv(int argc, char **argv);
int qn_cmd_bench_paged(int argc, char **argv);

#include "quanta.h"
/* --quant: keep, auto (keep on CUDA, else q8), or a dtype name (fp8 = fp8_e4m3); backend is the
 * opened backend's name. -1 for an unknown name. (tools/quant_opt.c) */
int qn_cli_quant_params(const char *quant, const char *backend, quanta_model_params *mp);
/* A KV cache dtype option's value: f32, f16, bf16, and with quantized also the quantized KV
 * dtypes (int8 = q8, fp8 = fp8_e4m3) of a paged pool. QN_EXIT_OK, or QN_EXIT_USAGE after
 * printing "quanta CMD: OPT 'TEXT' is not one of ...". (tools/quant_opt.c) */
int qn_cli_kv_dtype(const char *cmd, const char *opt, const char *text, int quantized, quanta_dtype *out);

#endif
