/* Placeholder used only while tools/cmd_quantize.c is being written; removed before release. */
#include <stdio.h>
#include "commands.h"
int qn_cmd_quantize(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "quanta quantize: not available in this build\n");
    return 1;
}
