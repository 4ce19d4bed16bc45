/* Placeholder used only while tools/cmd_info.c is being written; removed before release. */
#include <stdio.h>
#include "commands.h"
int qn_cmd_info(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "quanta info: not available in this build\n");
    return 1;
}
