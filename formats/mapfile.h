/* mapfile.h — read-only memory mapping of a whole model file (mmap on POSIX, a plain read
 * elsewhere), shared by the GGUF and safetensors readers. */
#ifndef QUANTA_FORMATS_MAPFILE_H
#define QUANTA_FORMATS_MAPFILE_H

#include <stddef.h>

#include "quanta.h"

typedef struct qn_mapped_file {
    const unsigned char *data; /* never NULL after a successful map (points to "" if empty) */
    size_t size;
    void *handle;
    size_t handle_len;
} qn_mapped_file;

/* Errors: QUANTA_ERR_IO naming the path (missing, not a regular file, unreadable),
 * QUANTA_ERR_OVERFLOW (larger than the address space). `who` prefixes the message. */
quanta_status qn_map_file(const char *path, const char *who, qn_mapped_file *out);
void qn_unmap_file(qn_mapped_file *f);

#endif
