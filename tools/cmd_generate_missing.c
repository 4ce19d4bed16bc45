/* Placeholder used only while tools/cmd_generate.c is being written; removed before release. */
#include <stdio.h>
#include "commands.h"
int qn_cmd_generate(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "quanta generate: not available in this build\n");
    return 1;
}
