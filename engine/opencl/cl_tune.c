/*
 * cl_tune.c — the per-device tuning table (CLBlast-style): which kernel variant and which
 * work-group shape each kernel uses per shape class, kept next to the program cache.
 *
 * File: <cache dir>/<fnv64(device name, driver, platform version, class)>.tune, text:
 *     quanta-opencl-tune 1 <key as 16 hex digits>
 *     <entry> <a> <b> <measured> <fnv32 of the line up to here, 8 hex digits>
 * An entry is trusted only when its name is known, its checksum matches and its values are
 * valid for this device (work-group sizes within its limits, CLBlast only where built in);
 * anything else is replaced by the device class's default and the file is rewritten. A file
 * whose header does not match is rebuilt whole. No file: the defaults, nothing written.
 *
 * Defaults by device class (the device type, or QUANTA_OPENCL_CLASS=cpu|gpu to run the other
 * class's kernels, which is how CI exercises the GPU variants on PoCL):
 *   CPU: GEMV one work-item per row, 16 rows per group; M > 8 the int8 kernel for q8 (AVX-512
 *        VNNI hosts), else the register-row kernel; attention one query row per work-item.
 *   GPU: GEMV 64 work-items per row, 4 rows per group; M > 8 the local-memory tiles; attention
 *        the local-memory tiles.
 * Environment overrides (tests, experiments) win over the table: QUANTA_OPENCL_GEMM=
 * int8|rows|local|blas, QUANTA_OPENCL_GEMV_LWS / _ROWS, QUANTA_OPENCL_ATTENTION=rows|local.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl_internal.h"

#define TUNE_MAGIC "quanta-opencl-tune"
#define TUNE_VERSION 1

static const char *const fam_names[QN_TF_COUNT] = {"q8", "q4", "nf4", "fp8", "dense"};
static const char *const mclass_names[QN_TM_COUNT] = {"m64", "m512", "mbig"};
static const char *const path_names[QN_GEMM_PATHS] = {"int8", "rows", "local", "blas"};

int qn_cl_tune_gemv_entry(int fam) { return fam; }
int qn_cl_tune_gemm_entry(int fam, int mc) { return QN_TF_COUNT + fam * QN_TM_COUNT + mc; }
int qn_cl_tune_attention_entry(int decode) { return QN_TF_COUNT * (1 + QN_TM_COUNT) + (decode ? 1 : 0); }

int qn_cl_tune_family(int dtype) {
    switch (dtype) {
    case QUANTA_Q8: return QN_TF_Q8;
    case QUANTA_Q4: return QN_TF_Q4;
    case QUANTA_NF4: return QN_TF_NF4;
    case QUANTA_FP8_E4M3: case QUANTA_FP8_E5M2: return QN_TF_FP8;
    /* ggml blocks: their GEMV is shaped like the family of the same bytes per weight */
    case QUANTA_GGML_Q8_0: return QN_TF_Q8;
    case QUANTA_GGML_Q4_0: case QUANTA_GGML_Q4_1: case QUANTA_GGML_Q5_0: case QUANTA_GGML_Q5_1:
    case QUANTA_GGML_Q4_K: case QUANTA_GGML_Q5_K: case QUANTA_GGML_Q6_K: return QN_TF_Q4;
    default: return QN_TF_DENSE;
    }
}

int qn_cl_gpu_class(const qn_cl_device *d) {
    const char *e = getenv("QUANTA_OPENCL_CLASS");
    if (e && !strcmp(e, "gpu")) return 1;
    if (e && !strcmp(e, "cpu")) return 0;
    return !(d->type & CL_DEVICE_TYPE_CPU);
}

void qn_cl_tune_describe(const qn_cl_device *d, char *buf, size_t len) {
    qn_cl t;
    memset(&t, 0, sizeof t);
    t.dev = *d;
    t.vnni = d->x86_vnni;
    t.gpu_class = qn_cl_gpu_class(d);
#ifdef QUANTA_HAVE_CLBLAST
    t.have_blas = 1;
#endif
    t.force_path = t.force_attention = -1;
    qn_cl_tune_load(&t);
    qn_cl_tune_summary(&t.tune, buf, len);
}

static int mclass(int64_t M) { return M <= 64 ? QN_TM_64 : M <= 512 ? QN_TM_512 : QN_TM_BIG; }

const char *qn_cl_tune_name(int i, char *buf, size_t len) {
    if (i < QN_TF_COUNT) snprintf(buf, len, "gemv.%s", fam_names[i]);
    else if (i < QN_TF_COUNT * (1 + QN_TM_COUNT))
        snprintf(buf, len, "gemm.%s.%s", fam_names[(i - QN_TF_COUNT) / QN_TM_COUNT],
                 mclass_names[(i - QN_TF_COUNT) % QN_TM_COUNT]);
    else snprintf(buf, len, "attention.%s", i == qn_cl_tune_attention_entry(1) ? "decode" : "prefill");
    return buf;
}

static qn_cl_tune_entry default_entry(const qn_cl *s, int i) {
    qn_cl_tune_entry e = {0, 0, 0};
    const int gpu = s->gpu_class;
    if (i < QN_TF_COUNT) {
        e.a = gpu ? 64 : 1; /* int8 for q8 decode measured slower on PoCL (bench/NOTES.md): tuned only */
        e.b = gpu ? 4 : 16;
        while ((size_t)(e.a * e.b) > s->dev.max_wg && e.b > 1) e.b /= 2;
        while ((size_t)(e.a * e.b) > s->dev.max_wg && e.a > 1) e.a /= 2;
    } else if (i < QN_TF_COUNT * (1 + QN_TM_COUNT)) {
        const int fam = (i - QN_TF_COUNT) / QN_TM_COUNT;
        e.a = gpu ? QN_GEMM_LOCAL : (fam == QN_TF_Q8 && s->vnni) ? QN_GEMM_INT8 : QN_GEMM_ROWS;
    } else {
        e.a = !gpu;
    }
    return e;
}

/* Whether values a, b are a configuration this device can run for entry i. */
static int valid_entry(const qn_cl *s, int i, int a, int b) {
    if (i < QN_TF_COUNT) {
        if (a == 0) return i == QN_TF_Q8 && b >= 1 && b <= 256 && (size_t)b <= s->dev.max_wg; /* int8 kernel */
        return a >= 1 && a <= 1024 && (a & (a - 1)) == 0 && b >= 1 && b <= 256 && (size_t)a * (size_t)b <= s->dev.max_wg;
    }
    if (i < QN_TF_COUNT * (1 + QN_TM_COUNT)) {
        if (b != 0 || a < 0 || a >= QN_GEMM_PATHS) return 0;
        if (a == QN_GEMM_LOCAL && s->dev.max_wg < 256) return 0; /* 16 x 16 work-items */
        if (a == QN_GEMM_BLAS && !s->have_blas) return 0;
        return 1;
    }
    return b == 0 && (a == 0 || a == 1);
}

static uint32_t fnv32(const char *p, size_t n) {
    uint32_t h = 0x811c9dc5u;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 0x01000193u;
    return h;
}

static uint64_t device_key(const qn_cl_device *d) {
    char pver[256] = "";
    clGetPlatformInfo(d->platform, CL_PLATFORM_VERSION, sizeof pver, pver, NULL);
    pver[sizeof pver - 1] = '\0';
    /* the class is part of the key: a device run as the other class (QUANTA_OPENCL_CLASS) has
     * its own table, so the CPU's measured choices never hide the GPU kernels and back */
    const char *parts[] = {d->info.name, d->info.driver, pver, qn_cl_gpu_class(d) ? "gpu" : "cpu"};
    uint64_t h = QN_FNV_SEED;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) h = qn_cl_fnv64(h, parts[i], strlen(parts[i]) + 1);
    return h;
}

quanta_status qn_cl_tune_path(const qn_cl_device *d, char *path, size_t len) {
    return qn_cl_cache_file("opencl tuning table", device_key(d), ".tune", path, len);
}

/* One entry line without its newline; returns its length. */
static int entry_line(const qn_cl_tune_entry *e, int i, char *line, size_t len) {
    char name[48];
    int n = snprintf(line, len, "%s %d %d %d", qn_cl_tune_name(i, name, sizeof name), e->a, e->b, e->measured);
    if (n < 0 || (size_t)n >= len) return -1;
    int m = snprintf(line + n, len - (size_t)n, " %08x", (unsigned)fnv32(line, (size_t)n));
    return m < 0 || (size_t)(n + m) >= len ? -1 : n + m;
}

/* Parses one line into entry index and values; -1 when it is not a trusted entry. */
static int parse_line(const qn_cl *s, char *line, qn_cl_tune_entry *out) {
    char name[48];
    int a, b, meas, used = 0;
    unsigned crc;
    if (sscanf(line, "%47s %d %d %d%n", name, &a, &b, &meas, &used) != 4) return -1;
    if (sscanf(line + used, " %8x", &crc) != 1 || crc != fnv32(line, (size_t)used)) return -1;
    char want[48];
    for (int i = 0; i < QN_TUNE_ENTRIES; i++) {
        if (strcmp(name, qn_cl_tune_name(i, want, sizeof want))) continue;
        if (!valid_entry(s, i, a, b) || (meas != 0 && meas != 1)) return -1;
        *out = (qn_cl_tune_entry){a, b, meas};
        return i;
    }
    return -1;
}

static int write_table(FILE *f, const void *ctx) {
    const qn_cl *s = ctx;
    int ok = fprintf(f, "%s %d %016llx\n", TUNE_MAGIC, TUNE_VERSION, (unsigned long long)device_key(&s->dev)) > 0;
    for (int i = 0; i < QN_TUNE_ENTRIES && ok; i++) {
        char line[128];
        ok = entry_line(&s->tune.e[i], i, line, sizeof line) > 0 && fprintf(f, "%s\n", line) > 0;
    }
    return ok ? 0 : -1;
}

int qn_cl_tune_save(const qn_cl *s) {
    char path[1024];
    if (qn_cl_tune_path(&s->dev, path, sizeof path) != QUANTA_OK) return -1;
    return qn_cl_cache_store(path, write_table, s);
}

void qn_cl_tune_load(qn_cl *s) {
    qn_cl_tune *t = &s->tune;
    memset(t, 0, sizeof *t);
    for (int i = 0; i < QN_TUNE_ENTRIES; i++) t->e[i] = default_entry(s, i);
    char path[1024];
    if (qn_cl_tune_path(&s->dev, path, sizeof path) != QUANTA_OK) return;
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[256], head[64];
    unsigned long long key = 0;
    int ver = 0, seen[QN_TUNE_ENTRIES] = {0};
    int header_ok = fgets(line, sizeof line, f) && sscanf(line, "%63s %d %llx", head, &ver, &key) == 3 &&
                    !strcmp(head, TUNE_MAGIC) && ver == TUNE_VERSION && key == device_key(&s->dev);
    if (!header_ok) {
        t->rebuilt = QN_TUNE_ENTRIES;
    } else {
        while (fgets(line, sizeof line, f)) {
            qn_cl_tune_entry e;
            int i = parse_line(s, line, &e);
            if (i < 0 || seen[i]) {
                t->rebuilt++;
                continue;
            }
            seen[i] = 1;
            t->e[i] = e;
            t->file_entries++;
        }
        /* entries the file lacks (truncated, or a newer table) are rebuilt too */
        for (int i = 0; i < QN_TUNE_ENTRIES; i++) t->rebuilt += !seen[i];
    }
    fclose(f);
    if (t->rebuilt) (void)qn_cl_tune_save(s);
}

void qn_cl_tune_gemv(const qn_cl *s, int dtype, int *lws, int *rows) {
    const qn_cl_tune_entry *e = &s->tune.e[qn_cl_tune_gemv_entry(qn_cl_tune_family(dtype))];
    int a = s->force_gemv_lws ? s->force_gemv_lws : e->a, b = s->force_gemv_rows ? s->force_gemv_rows : e->b;
    if (s->force_path == QN_GEMM_INT8 && qn_cl_tune_family(dtype) == QN_TF_Q8) a = 0; /* tests: int8 everywhere */
    while ((size_t)((a ? a : 1) * b) > s->dev.max_wg && b > 1) b /= 2;
    while ((size_t)(a * b) > s->dev.max_wg && a > 1) a /= 2;
    *lws = a;
    *rows = b;
}

qn_cl_gemm_path qn_cl_tune_gemm(const qn_cl *s, int dtype, int64_t M) {
    if (s->force_path >= 0) return (qn_cl_gemm_path)s->force_path;
    return (qn_cl_gemm_path)s->tune.e[qn_cl_tune_gemm_entry(qn_cl_tune_family(dtype), mclass(M))].a;
}

int qn_cl_tune_attention_rows(const qn_cl *s, int decode) {
    if (s->force_attention >= 0) return s->force_attention;
    return s->tune.e[qn_cl_tune_attention_entry(decode)].a;
}

void qn_cl_tune_summary(const qn_cl_tune *t, char *buf, size_t len) {
    int measured = 0;
    for (int i = 0; i < QN_TUNE_ENTRIES; i++) measured += t->e[i].measured;
    int n = snprintf(buf, len, "tuning %d/%d entries measured%s; gemv lws x rows", measured, QN_TUNE_ENTRIES,
                     t->rebuilt ? " (corrupt entries rebuilt)" : "");
    for (int f = 0; f < QN_TF_COUNT && n > 0 && (size_t)n < len; f++) {
        const qn_cl_tune_entry *e = &t->e[qn_cl_tune_gemv_entry(f)];
        if (e->a == 0) n += snprintf(buf + n, len - (size_t)n, " %s int8x%d", fam_names[f], e->b);
        else n += snprintf(buf + n, len - (size_t)n, " %s %dx%d", fam_names[f], e->a, e->b);
    }
    for (int f = 0; f < QN_TF_COUNT && n > 0 && (size_t)n < len; f++) {
        n += snprintf(buf + n, len - (size_t)n, "%s %s", f ? ";" : "; gemm m64/m512/mbig", fam_names[f]);
        for (int m = 0; m < QN_TM_COUNT && n > 0 && (size_t)n < len; m++)
            n += snprintf(buf + n, len - (size_t)n, "%s%s", m ? "/" : " ", path_names[t->e[qn_cl_tune_gemm_entry(f, m)].a]);
    }
    if (n > 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, "; attention %s/%s",
                 t->e[qn_cl_tune_attention_entry(0)].a ? "rows" : "local",
                 t->e[qn_cl_tune_attention_entry(1)].a ? "rows" : "local");
}
