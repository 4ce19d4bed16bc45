/* safe_write.c — temporary file + rename (safe_write.h). */
#include "safe_write.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "error.h"

static void forget(qn_safe_file *sf) {
    if (sf->publish && sf->publish_cap) sf->publish[0] = '\0';
    free(sf->tmp);
    free(sf->path);
    sf->tmp = sf->path = NULL;
    sf->f = NULL;
}

/* 64 bits that differ between calls and processes (names need not be secret, only unguessable
 * enough that a name cannot be planted in advance; O_EXCL catches the rest). */
static unsigned long long name_noise(void) {
    static unsigned long long counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned long long x = ((unsigned long long)ts.tv_sec << 30) ^ (unsigned long long)ts.tv_nsec ^
                           ((unsigned long long)getpid() << 40) ^ (++counter * 0x9E3779B97F4A7C15ull);
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

quanta_status qn_safe_file_open(const char *path, char *publish, size_t publish_cap, qn_safe_file *out) {
    if (!out) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_safe_file_open: out is NULL");
    memset(out, 0, sizeof *out);
    if (!path || !*path) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_safe_file_open: path is NULL or empty");
    if (publish && publish_cap) publish[0] = '\0';
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0;
    const char *base = slash ? slash + 1 : path;
    size_t cap = strlen(path) + 40;
    out->tmp = malloc(cap);
    out->path = strdup(path);
    if (!out->tmp || !out->path) {
        forget(out);
        return qn_error_set(QUANTA_ERR_OUT_OF_MEMORY, "qn_safe_file_open: no memory");
    }
    if (publish && publish_cap < cap) {
        forget(out);
        return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_safe_file_open: publish buffer of %zu bytes, need %zu",
                            publish_cap, cap);
    }
    out->publish = publish;
    out->publish_cap = publish ? publish_cap : 0;
    int fd = -1, err = 0;
    for (int attempt = 0; attempt < 64 && fd < 0; attempt++) {
        snprintf(out->tmp, cap, "%.*s.%s.%016llx.tmp", (int)dir_len, path, base, name_noise());
        if (publish) memcpy(publish, out->tmp, strlen(out->tmp) + 1); /* before the file exists */
        fd = open(out->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        err = errno;
        if (fd < 0 && err != EEXIST) break;
    }
    if (fd < 0) {
        quanta_status st = qn_error_set(QUANTA_ERR_IO, "cannot create a temporary file next to '%s': %s", path, strerror(err));
        forget(out);
        return st;
    }
    out->f = fdopen(fd, "wb");
    if (!out->f) {
        err = errno;
        close(fd);
        unlink(out->tmp);
        quanta_status st = qn_error_set(QUANTA_ERR_IO, "cannot write '%s': %s", out->tmp, strerror(err));
        forget(out);
        return st;
    }
    return QUANTA_OK;
}

void qn_safe_file_abort(qn_safe_file *sf) {
    if (!sf || !sf->tmp) return;
    if (sf->f) fclose(sf->f);
    unlink(sf->tmp);
    forget(sf);
}

quanta_status qn_safe_file_commit(qn_safe_file *sf) {
    if (!sf || !sf->f) return qn_error_set(QUANTA_ERR_INVALID_ARGUMENT, "qn_safe_file_commit: no open file");
    int ok = fflush(sf->f) == 0 && fsync(fileno(sf->f)) == 0;
    int err = errno;
    if (fclose(sf->f) != 0 && ok) {
        ok = 0;
        err = errno;
    }
    sf->f = NULL;
    if (ok && rename(sf->tmp, sf->path) != 0) {
        quanta_status st = qn_error_set(QUANTA_ERR_IO, "cannot rename '%s' to '%s': %s", sf->tmp, sf->path, strerror(errno));
        qn_safe_file_abort(sf);
        return st;
    }
    if (!ok) {
        quanta_status st = qn_error_set(QUANTA_ERR_IO, "writing '%s' failed: %s", sf->tmp, strerror(err));
        qn_safe_file_abort(sf);
        return st;
    }
    forget(sf);
    return QUANTA_OK;
}
