/*
 * cl_test.h — shared by the OpenCL test programs: opening the backend under test.
 */
#ifndef QUANTA_CL_TEST_H
#define QUANTA_CL_TEST_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quanta.h"
#include "test_util.h"

/* Opens "opencl" into *be. Returns 0, or the exit status main should return: 77 (SKIP) when
 * no OpenCL device is present, 1 on any other failure (message printed). */
static inline int qt_cl_open(quanta_backend **be) {
    quanta_status st = quanta_backend_open("opencl", be);
    if (st == QUANTA_ERR_NO_DEVICE || st == QUANTA_ERR_UNSUPPORTED) {
        printf("SKIP: no OpenCL device (%s)\n", quanta_last_error());
        return 77;
    }
    if (st != QUANTA_OK) {
        printf("quanta_backend_open(opencl): %s: %s\n", quanta_status_name(st), quanta_last_error());
        return 1;
    }
    return 0;
}

/* Whether a line of the text file at path contains what (an events table: the launch a test meant was taken). */
static inline int qt_file_has(const char *path, const char *what) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[512];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) found = strstr(line, what) != NULL;
    fclose(f);
    return found;
}

/* For main() of a GPU-class test: forces the GPU kernel class (PoCL reports a CPU) and checks a device opens.
 * Returns 0, or the exit status main should return (77 SKIP without OpenCL, 1 on failure). */
static inline int qt_cl_gpu_class_probe(void) {
    setenv("QUANTA_OPENCL_CLASS", "gpu", 1);
    quanta_backend *probe;
    const int rc = qt_cl_open(&probe);
    if (rc) return rc;
    quanta_backend_close(probe);
    return 0;
}

/* main() of a GPU-class test program: the probe, then one suite and test case (named name) of the n tests, each with
 * 600 s (a cold OpenCL build takes minutes on PoCL). */
static inline int qt_cl_gpu_main(const char *name, const TTest *const *tests, int n) {
    const int rc = qt_cl_gpu_class_probe();
    if (rc) return rc;
    Suite *su = suite_create(name);
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, 600);
    for (int i = 0; i < n; i++) tcase_add_test(tc, tests[i]);
    suite_add_tcase(su, tc);
    return qt_run_suite(su);
}

#endif
