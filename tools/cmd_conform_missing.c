/* Placeholder used only while tools/cmd_conform.c is being written; removed before release. */
#include <stdio.h>
#include "commands.h"
int qn_cmd_conform(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "quanta conform: not available in this build\n");
    return 1;
}
