/* fuzz_gguf.c — libFuzzer harness for the GGUF reader: open the image, read every metadata
 * value through the typed getters, and dequantize every importable tensor (up to a size cap so
 * a huge-but-valid tensor does not make the fuzzer run out of memory). Any crash, hang or
 * sanitizer report is a bug; returning an error is the expected outcome for most inputs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"

#define MAX_DEQUANT_ELEMS (1u << 20)

static void touch_metadata(const qn_gguf *g) {
    for (uint64_t i = 0; i < qn_gguf_kv_count(g); i++) {
        qn_gguf_str k, s;
        qn_gguf_type t, et;
        if (qn_gguf_kv_at(g, i, &k, &t) != QUANTA_OK) continue;
        char key[256];
        if (k.len >= sizeof key) continue;
        memcpy(key, k.ptr, (size_t)k.len);
        key[k.len] = '\0';
        uint64_t u, n;
        int64_t si;
        float f;
        int b;
        double d;
        (void)qn_gguf_get_u64(g, key, &u);
        (void)qn_gguf_get_i64(g, key, &si);
        (void)qn_gguf_get_f32(g, key, &f);
        (void)qn_gguf_get_bool(g, key, &b);
        (void)qn_gguf_get_str(g, key, &s);
        if (qn_gguf_get_arr(g, key, &et, &n) == QUANTA_OK && n) {
            (void)qn_gguf_get_arr_f64(g, key, n - 1, &d);
            (void)qn_gguf_get_arr_str(g, key, n - 1, &s);
            (void)qn_gguf_get_arr_str(g, key, 0, &s);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    qn_gguf *g;
    if (qn_gguf_open_memory(data, size, &g) != QUANTA_OK) return 0;
    touch_metadata(g);
    for (uint64_t i = 0; i < qn_gguf_tensor_count(g); i++) {
        const qn_gguf_tensor *t = qn_gguf_tensor_at(g, i);
        char name[2048];
        memcpy(name, t->name.ptr, (size_t)t->name.len);
        name[t->name.len] = '\0';
        if (qn_gguf_find_tensor(g, name) != t) abort(); /* names are unique and found */
        uint64_t n = qn_gguf_tensor_elements(t);
        if (n > MAX_DEQUANT_ELEMS) continue;
        float *buf = malloc((size_t)n * sizeof *buf);
        if (!buf) continue;
        (void)qn_gguf_tensor_to_f32(t, buf, (size_t)n);
        quanta_tensor_desc desc;
        /* A tensor kept as it is (ggml blocks included) must decode through the format table
         * exactly as the reader's own f32 view. */
        if (qn_gguf_tensor_desc(t, &desc) == QUANTA_OK) {
            float *b2 = malloc((size_t)n * sizeof *b2);
            if (b2 && qn_gguf_tensor_to_f32(t, buf, (size_t)n) == QUANTA_OK &&
                quanta_dequantize(&desc, t->data, (size_t)t->bytes, b2, (size_t)n) == QUANTA_OK &&
                memcmp(buf, b2, (size_t)n * sizeof *b2) != 0)
                abort();
            free(b2);
        }
        free(buf);
    }
    qn_gguf_close(g);
    return 0;
}
