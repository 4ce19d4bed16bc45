/* fuzz_safetensors.c — libFuzzer harness for the safetensors reader (and through it the strict
 * JSON parser): open the image, look every tensor up by name, read the metadata, convert each
 * tensor to f32 (size-capped). The same bytes also go to the config.json reader. */
#include <stdint.h>
#include <stdlib.h>

#include "safetensors.h"

#define MAX_ELEMS (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    qn_hf_config cfg;
    (void)qn_hf_config_parse((const char *)data, size, &cfg);
    qn_safetensors *s;
    if (qn_st_open_memory(data, size, &s) != QUANTA_OK) return 0;
    for (uint64_t i = 0; i < qn_st_metadata_count(s); i++) {
        const char *k, *v;
        if (qn_st_metadata_at(s, i, &k, &v) == QUANTA_OK && qn_st_metadata(s, k) != v) abort();
    }
    for (uint64_t i = 0; i < qn_st_tensor_count(s); i++) {
        const qn_st_tensor *t = qn_st_tensor_at(s, i);
        if (qn_st_find(s, t->name) != t) abort();
        uint64_t n = qn_st_tensor_elements(t);
        quanta_tensor_desc d;
        (void)qn_st_tensor_desc(t, &d);
        if (n > MAX_ELEMS) continue;
        float *buf = malloc(n ? (size_t)n * sizeof *buf : 1);
        if (!buf) continue;
        (void)qn_st_tensor_to_f32(t, buf, (size_t)n);
        free(buf);
    }
    qn_st_close(s);
    return 0;
}
