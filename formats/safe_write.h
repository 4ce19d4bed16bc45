/* safe_write.h — writing a file so that readers only ever see the old file or the complete new
 * one: the data goes to a fresh temporary file in the target's directory (created with
 * O_CREAT|O_EXCL|O_NOFOLLOW under an unpredictable name, so a planted file or symlink is never
 * followed) and is renamed over the target only when complete; every failure removes it. */
#ifndef QUANTA_FORMATS_SAFE_WRITE_H
#define QUANTA_FORMATS_SAFE_WRITE_H

#include <stddef.h>
#include <stdio.h>

#include "quanta.h"

typedef struct qn_safe_file {
    FILE *f;          /* write the contents here */
    char *tmp;        /* the temporary file's path */
    char *path;       /* the target */
    char *publish;    /* caller's buffer holding tmp while the file exists (see below), or NULL */
    size_t publish_cap;
} qn_safe_file;

/* Creates the temporary file for `path`. publish (may be NULL) receives the temporary path,
 * NUL-terminated, before the file is created and "" once it is gone (committed or removed), so
 * a signal handler of the program can unlink(publish) when it is not empty. */
quanta_status qn_safe_file_open(const char *path, char *publish, size_t publish_cap, qn_safe_file *out);
/* Flushes, syncs and closes the file and renames it over the target; on failure it is removed. */
quanta_status qn_safe_file_commit(qn_safe_file *sf);
/* Closes and removes the temporary file (no-op after commit). */
void qn_safe_file_abort(qn_safe_file *sf);

#endif
