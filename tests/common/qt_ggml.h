/* qt_ggml.h — the byte layouts of ggml's block formats, written here from ggml's documentation rather
 * than taken from formats/ so that the tests check the readers independently: the GGUF type id, the
 * elements and bytes of a block, and where its f16 scale and f16 minimum sit (-1: none). */
#ifndef QUANTA_QT_GGML_H
#define QUANTA_QT_GGML_H

#include <stdint.h>

typedef struct qt_ggml_block {
    uint32_t type; /* GGUF tensor type id (QN_GGML_*) */
    int block, bytes, scale_at, min_at;
} qt_ggml_block;

/* Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K */
static const qt_ggml_block qt_ggml_blocks[] = {{2, 32, 18, 0, -1},   {3, 32, 20, 0, 2},   {6, 32, 22, 0, -1},
                                               {7, 32, 24, 0, 2},    {8, 32, 34, 0, -1},  {12, 256, 144, 0, 2},
                                               {13, 256, 176, 0, 2}, {14, 256, 210, 208, -1}};
#define QT_GGML_NBLOCKS (int)(sizeof qt_ggml_blocks / sizeof qt_ggml_blocks[0])

#endif
