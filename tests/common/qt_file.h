/* qt_file.h — whole files to and from memory for the tests (fixtures, cache entries, corpus
 * files). */
#ifndef QUANTA_QT_FILE_H
#define QUANTA_QT_FILE_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The bytes of the file at path, in an allocation of exactly their size (so ASan catches any
 * read past the end), or NULL if it cannot be opened or read, or memory runs out. */
static inline unsigned char *qt_slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, len = 0;
    unsigned char *b = malloc(cap);
    while (b) {
        if (len == cap) {
            unsigned char *nb = realloc(b, cap *= 2);
            if (!nb) free(b);
            b = nb;
            if (!b) break;
        }
        size_t r = fread(b + len, 1, cap - len, f);
        len += r;
        if (!r) break;
    }
    int bad = !b || ferror(f);
    fclose(f);
    unsigned char *exact = bad ? NULL : malloc(len ? len : 1);
    if (exact) memcpy(exact, b, len);
    free(b);
    *n = exact ? len : 0;
    return exact;
}

/* Writes n bytes of data as the whole file at path; a failure fails the test. */
static inline void qt_spit(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

#endif
