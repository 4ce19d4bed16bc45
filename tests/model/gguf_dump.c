/* gguf_dump — lists a GGUF file's metadata and tensors with Quanta's reader (a debugging aid
 * for tests and for checking a model before relying on it).
 * Usage: gguf_dump FILE [--check]      --check also dequantizes every tensor (proves each imports)
 *        gguf_dump FILE --f32 NAME OUT  writes tensor NAME dequantized as raw f32 (crosscheck_gguf.py) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: gguf_dump FILE [--check]\n");
        return 2;
    }
    int check = argc > 2 && !strcmp(argv[2], "--check");
    qn_gguf *g;
    quanta_status st = qn_gguf_open(argv[1], &g);
    if (st != QUANTA_OK) {
        fprintf(stderr, "gguf_dump: %s\n", quanta_last_error());
        return 1;
    }
    if (argc == 5 && !strcmp(argv[2], "--f32")) {
        const qn_gguf_tensor *t = qn_gguf_find_tensor(g, argv[3]);
        uint64_t n = t ? qn_gguf_tensor_elements(t) : 0;
        float *buf = t ? malloc(n * sizeof *buf) : NULL;
        FILE *f = buf ? fopen(argv[4], "wb") : NULL;
        int ok = f && qn_gguf_tensor_to_f32(t, buf, n) == QUANTA_OK && fwrite(buf, sizeof *buf, n, f) == n;
        if (f && fclose(f) != 0) ok = 0;
        if (!ok) fprintf(stderr, "gguf_dump: cannot export '%s': %s\n", argv[3], quanta_last_error());
        free(buf);
        qn_gguf_close(g);
        return ok ? 0 : 1;
    }
    printf("version %u, %llu keys, %llu tensors, alignment %llu, data at %llu\n", qn_gguf_version(g),
           (unsigned long long)qn_gguf_kv_count(g), (unsigned long long)qn_gguf_tensor_count(g),
           (unsigned long long)qn_gguf_alignment(g), (unsigned long long)qn_gguf_data_offset(g));
    for (uint64_t i = 0; i < qn_gguf_kv_count(g); i++) {
        qn_gguf_str k;
        qn_gguf_type t;
        qn_gguf_kv_at(g, i, &k, &t);
        char key[512];
        snprintf(key, sizeof key, "%.*s", (int)k.len, k.ptr);
        printf("  %-48s ", key);
        uint64_t u;
        float f;
        int b;
        qn_gguf_str s;
        qn_gguf_type et;
        uint64_t n;
        if (t == QN_GGUF_STRING && qn_gguf_get_str(g, key, &s) == QUANTA_OK)
            printf("\"%.*s\"\n", (int)(s.len > 60 ? 60 : s.len), s.ptr);
        else if (t == QN_GGUF_ARRAY && qn_gguf_get_arr(g, key, &et, &n) == QUANTA_OK)
            printf("array of %llu (type %d)\n", (unsigned long long)n, (int)et);
        else if (t == QN_GGUF_BOOL && qn_gguf_get_bool(g, key, &b) == QUANTA_OK)
            printf("%s\n", b ? "true" : "false");
        else if ((t == QN_GGUF_FLOAT32 || t == QN_GGUF_FLOAT64) && qn_gguf_get_f32(g, key, &f) == QUANTA_OK)
            printf("%g\n", (double)f);
        else if (qn_gguf_get_u64(g, key, &u) == QUANTA_OK)
            printf("%llu\n", (unsigned long long)u);
        else
            printf("(type %d)\n", (int)t);
    }
    uint64_t counts[2048] = { 0 };
    for (uint64_t i = 0; i < qn_gguf_tensor_count(g); i++) {
        const qn_gguf_tensor *t = qn_gguf_tensor_at(g, i);
        if (t->type < 2048) counts[t->type]++;
        const char *tn = qn_ggml_type_name(t->type);
        printf("  %-40.*s %-14s [", (int)t->name.len, t->name.ptr, tn ? tn : "?");
        for (int d = 0; d < t->ndim; d++) printf("%s%lld", d ? ", " : "", (long long)t->dims[d]);
        printf("] %llu bytes", (unsigned long long)t->bytes);
        if (check) {
            uint64_t n = qn_gguf_tensor_elements(t);
            float *buf = malloc(n * sizeof *buf);
            if (!buf || qn_gguf_tensor_to_f32(t, buf, n) != QUANTA_OK) {
                printf(" IMPORT FAILED: %s\n", buf ? quanta_last_error() : "no memory");
                free(buf);
                qn_gguf_close(g);
                return 1;
            }
            double s = 0;
            int finite = 1;
            for (uint64_t j = 0; j < n; j++) {
                s += fabs(buf[j]);
                if (!isfinite(buf[j])) finite = 0;
            }
            printf(" mean|w| %.6g%s", s / (double)n, finite ? "" : " NON-FINITE");
            free(buf);
        }
        printf("\n");
    }
    printf("types:");
    for (uint32_t t = 0; t < 2048; t++)
        if (counts[t]) printf(" %s=%llu", qn_ggml_type_name(t), (unsigned long long)counts[t]);
    printf("\n");
    qn_gguf_close(g);
    return 0;
}
