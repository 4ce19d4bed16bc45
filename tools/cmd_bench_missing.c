/* Placeholder used only while tools/cmd_bench.c is being written; removed before release. */
#include <stdio.h>
#include "commands.h"
int qn_cmd_bench(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "quanta bench: not available in this build\n");
    return 1;
}
