/* mapfile.c — see mapfile.h. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if !defined(_WIN32)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

#include "error.h"
#include "mapfile.h"

quanta_status qn_map_file(const char *path, const char *who, qn_mapped_file *out) {
    memset(out, 0, sizeof *out);
    out->data = (const unsigned char *)"";
#if !defined(_WIN32)
    int fd = open(path, O_RDONLY);
    if (fd < 0) return qn_error_set(QUANTA_ERR_IO, "%s: cannot open '%s': %s", who, path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return qn_error_set(QUANTA_ERR_IO, "%s: '%s' is not a regular file", who, path);
    }
    if ((uint64_t)sb.st_size > (uint64_t)SIZE_MAX) {
        close(fd);
        return qn_error_set(QUANTA_ERR_OVERFLOW, "%s: '%s' is too large to map", who, path);
    }
    out->size = (size_t)sb.st_size;
    if (out->size) {
        void *m = mmap(NULL, out->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            int e = errno;
            close(fd);
            out->size = 0;
            return qn_error_set(QUANTA_ERR_IO, "%s: cannot map '%s': %s", who, path, strerror(e));
        }
        out->handle = m;
        out->handle_len = out->size;
        out->data = m;
    }
    close(fd);
    return QUANTA_OK;
#else
    FILE *f = fopen(path, "rb");
    if (!f) return qn_error_set(QUANTA_ERR_IO, "%s: cannot open '%s'", who, path);
    size_t cap = 0, n = 0;
    unsigned char *buf = NULL;
    for (;;) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : (1u << 20);
            unsigned char *nb = nc > cap ? realloc(buf, nc) : NULL;
            if (!nb) {
                free(buf);
                fclose(f);
                return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "%s: no memory to read '%s'", who, path);
            }
            buf = nb;
            cap = nc;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    fclose(f);
    out->handle = buf;
    out->data = buf;
    out->size = n;
    return QUANTA_OK;
#endif
}

void qn_unmap_file(qn_mapped_file *f) {
    if (!f || !f->handle) return;
#if !defined(_WIN32)
    munmap(f->handle, f->handle_len);
#else
    free(f->handle);
#endif
    f->handle = NULL;
}
