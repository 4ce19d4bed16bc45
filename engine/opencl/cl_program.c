/*
 * cl_program.c — the kernel program: the .cl sources embedded at build time (kernels_cl/),
 * one program per device with one set of build options (PoCL compiles for seconds; one
 * program keeps that to once per device), and an on-disk cache of the device binary.
 *
 * Cache entry: <dir>/<fnv64(key)>.clbin with a header (magic, key hash, payload size, payload
 * checksum). The key is device name + driver version + platform version + source hash + build
 * options, so a driver update or a kernel edit misses the cache. An entry that fails any
 * check, or that the driver refuses, is rebuilt from source and rewritten, never trusted.
 * Directory: QUANTA_CACHE_DIR, else $XDG_CACHE_HOME/quanta, else $HOME/.cache/quanta; with
 * none usable the program is simply built every time.
 *
 * On a cache miss, a device that reports SPIR-V in CL_DEVICE_IL_VERSION gets the offline
 * module (kernels_cl/program.cl, compiled at build time) through clCreateProgramWithIL;
 * any failure there falls back to the source. QUANTA_OPENCL_PROGRAM=source skips the IL.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cl_internal.h"
#include "safe_write.h" /* formats/ */

/* Generated from the kernels_cl/ sources by kernels_cl/embed_cl.py. */
extern const char *const qn_cl_sources[];
extern const int qn_cl_source_count;
#ifdef QUANTA_HAVE_SPIRV
extern const unsigned char qn_cl_spirv[];
extern const size_t qn_cl_spirv_size;
#endif

static const char *const kernel_names[QK_COUNT] = {
    [QK_UNARY] = "qn_unary",         [QK_BINARY] = "qn_binary",   [QK_RMS_NORM] = "qn_rms_norm",
    [QK_SOFTMAX] = "qn_softmax",     [QK_ROPE] = "qn_rope",       [QK_GET_ROWS] = "qn_get_rows",
    [QK_PERMUTE] = "qn_permute",     [QK_WRITE_ROWS] = "qn_write_rows", [QK_COPY] = "qn_copy",
    [QK_GEMV] = "qn_gemv",           [QK_GEMV_ROWS] = "qn_gemv_rows", [QK_X_PREP] = "qn_x_prep",
    [QK_GEMM_ROWS] = "qn_gemm_rows",           [QK_GEMM] = "qn_gemm",       [QK_ATTENTION] = "qn_attention",
    [QK_ATTENTION_ROWS] = "qn_attention_rows",
    [QK_ATTN_COMBINE] = "qn_attn_combine", [QK_X_QUANT8] = "qn_x_quant8", [QK_GEMM_Q8_I8] = "qn_gemm_q8_i8",
    [QK_PERMUTE_ROWS] = "qn_permute_rows",
    [QK_PAGED_ATTENTION] = "qn_paged_attention", [QK_PAGED_KV_WRITE] = "qn_paged_kv_write",
    [QK_GLU] = "qn_glu",             [QK_GEMV_ROWS_GLU] = "qn_gemv_rows_glu",
    [QK_RMS_NORM_ROPE] = "qn_rms_norm_rope", [QK_ARGMAX] = "qn_argmax", [QK_GEMV_I8] = "qn_gemv_i8",
    [QK_GEMV_ROWS_MULTI] = "qn_gemv_rows_multi", [QK_WRITE_ROWS_PAIR] = "qn_write_rows_pair",
    [QK_GEMV_Q8_I8] = "qn_gemv_q8_i8", [QK_GEMV_Q8_GPU] = "qn_gemv_q8_gpu", [QK_GEMV_Q8_GPU_GLU] = "qn_gemv_q8_gpu_glu",
    [QK_GEMV_Q4_GPU] = "qn_gemv_q4_gpu", [QK_GEMV_F16_GPU] = "qn_gemv_f16_gpu",
    [QK_GEMM_Q8_GPU] = "qn_gemm_q8_gpu", [QK_ATTENTION_DEC] = "qn_attention_dec",
    [QK_GEMV_Q8_M1] = "qn_gemv_q8_m1", [QK_GEMV_Q8_M1_GLU] = "qn_gemv_q8_m1_glu",
    [QK_RMS_NORM_REG] = "qn_rms_norm_reg", [QK_GEMV_Q4_M1] = "qn_gemv_q4_m1",
    [QK_GEMM_Q8_I8_GPU] = "qn_gemm_q8_i8_gpu", [QK_ATTENTION_PF] = "qn_attention_pf",
    [QK_X_QUANT8_GPU] = "qn_x_quant8_gpu", [QK_GEMM_Q8_I8_GPU2] = "qn_gemm_q8_i8_gpu2",
    [QK_GEMV_Q8_M1N] = "qn_gemv_q8_m1n", [QK_GEMV_Q8_M1N_GLU] = "qn_gemv_q8_m1n_glu",
    [QK_ATTENTION_DEC1] = "qn_attention_dec1", [QK_GEMV_Q8_M1R] = "qn_gemv_q8_m1r",
    [QK_GEMV_Q8_S] = "qn_gemv_q8_s", [QK_GEMV_Q8_S_GLU] = "qn_gemv_q8_s_glu", [QK_GEMV_Q4_S] = "qn_gemv_q4_s",
    [QK_GEMV_Q8_M1N_W] = "qn_gemv_q8_m1n_w", [QK_GEMV_Q8_M1N_GLU_W] = "qn_gemv_q8_m1n_glu_w",
    [QK_GEMV_Q8_M1N_T] = "qn_gemv_q8_m1n_t", [QK_GEMV_Q8_M1N_GLU_T] = "qn_gemv_q8_m1n_glu_t",
    [QK_GEMV_Q4_I] = "qn_gemv_q4_i", [QK_GEMV_Q4_I2] = "qn_gemv_q4_i2", [QK_GEMV_Q4_IP] = "qn_gemv_q4_ip",
    [QK_GEMV_Q4_I2P] = "qn_gemv_q4_i2p", [QK_GEMV_Q8_I] = "qn_gemv_q8_i", [QK_GEMV_Q8_I2] = "qn_gemv_q8_i2",
    [QK_GEMV_Q8_I2U] = "qn_gemv_q8_i2u",
    [QK_GEMV_Q8_I2UP] = "qn_gemv_q8_i2up",
    [QK_GEMV_Q8_IP] = "qn_gemv_q8_ip",
    [QK_GEMV_Q4_IS] = "qn_gemv_q4_is", [QK_GEMV_Q4_I2S] = "qn_gemv_q4_i2s",
    [QK_GEMV_Q8_IS] = "qn_gemv_q8_is", [QK_GEMV_Q8_I2US] = "qn_gemv_q8_i2us",
    [QK_GEMV_Q4_I2S16] = "qn_gemv_q4_i2s16", [QK_GEMV_Q8_I2S16] = "qn_gemv_q8_i2s16",
    [QK_GEMV_Q4_IL] = "qn_gemv_q4_il", [QK_GEMV_Q4_I2L] = "qn_gemv_q4_i2l", [QK_GEMV_Q8_I2UL] = "qn_gemv_q8_i2ul",
    [QK_GEMV_Q8_I2L] = "qn_gemv_q8_i2l", [QK_GEMV_Q8_I2L6] = "qn_gemv_q8_i2l6",
    [QK_GEMV_Q4_ISG] = "qn_gemv_q4_isg", [QK_GEMV_Q4_I2SG] = "qn_gemv_q4_i2sg", [QK_GEMV_Q8_I2USG] = "qn_gemv_q8_i2usg",
    [QK_GEMV_Q8_IPG] = "qn_gemv_q8_ipg", [QK_I4_QUANT_XG] = "qn_i4_quant_xg", [QK_I8_QUANT_XG] = "qn_i8_quant_xg",
    [QK_GEMV_Q4_R1S] = "qn_gemv_q4_r1s", [QK_GEMV_Q4_R1SG] = "qn_gemv_q4_r1sg", [QK_GEMV_Q8_R1S] = "qn_gemv_q8_r1s",
    [QK_GEMV_Q8_R1SG] = "qn_gemv_q8_r1sg", [QK_GEMV_Q4_R1L] = "qn_gemv_q4_r1l", [QK_GEMV_Q8_R1L] = "qn_gemv_q8_r1l",
    [QK_GEMV_Q8_I2US2] = "qn_gemv_q8_i2us2", [QK_RMS_NORM_XQ] = "qn_rms_norm_xq", [QK_GLU_XQ] = "qn_glu_xq",
};

const char *qn_cl_kernel_name(qn_cl_kernel_id id) { return kernel_names[id]; }

/* One program, one option set: every build costs seconds on PoCL. QN_X86_VNNI turns on the
 * inline-assembly dot product of matmul_int8.cl (only CPUs whose cpuid reports it). */
/* OpenCL C 1.2 lets x / y be off by 2.5 ulp; where the device can, divide and sqrt are built
 * correctly rounded, as the reference computes them: NVIDIA's OpenCL otherwise put one e4m3 KV
 * code in a few thousand on the other side of a rounding boundary (x / scale; write_rows into an
 * fp8 cache failed its conformance bound, H100 2026-12-06). */
/* QUANTA_OPENCL_NV_MAXRREG=N (32..255; clgemv21, off: an experiment, NVIDIA's GPUs only, where the device lists
 * cl_nv_compiler_options): the whole program built with -cl-nv-maxrregcount=N. Why: the streaming int8 GEMVs take ~240
 * registers, one group of 8 warps an SM (bench/NOTES.md section 1, clgemv21); their 16-warp forms' required work-group
 * size did not bound the registers on NVIDIA's OpenCL (H100 15:09: CL_KERNEL_WORK_GROUP_SIZE stayed below 512, so the
 * host kept the 8-warp forms). With N = 128 both the 16-warp forms and two 8-warp groups an SM fit; every other kernel
 * of the program is bound too (decode measured with it, not assumed). The option set is part of the cache key. */
static void compose_options(qn_cl *s) {
    static const char *const opts[3][2] = {{"-cl-std=CL1.2", "-cl-std=CL1.2 -cl-fp32-correctly-rounded-divide-sqrt"},
                                           {"-cl-std=CL1.2 -DQN_X86_VNNI=1",
                                            "-cl-std=CL1.2 -DQN_X86_VNNI=1 -cl-fp32-correctly-rounded-divide-sqrt"},
                                           {"-cl-std=CL1.2 -DQN_NV_PTX=1",
                                            "-cl-std=CL1.2 -DQN_NV_PTX=1 -cl-fp32-correctly-rounded-divide-sqrt"}};
    const char *base = opts[s->vnni ? 1 : s->nv_ptx ? 2 : 0][s->dev.cr_divide != 0];
    const char *e = getenv("QUANTA_OPENCL_NV_MAXRREG");
    const int n = e ? atoi(e) : 0;
    char ext[4096] = "";
    if (n >= 32 && n <= 255 && qn_cl_nvidia_gpu(&s->dev))
        clGetDeviceInfo(s->dev.device, CL_DEVICE_EXTENSIONS, sizeof ext - 1, ext, NULL);
    if (strstr(ext, "cl_nv_compiler_options"))
        snprintf(s->build_opts, sizeof s->build_opts, "%s -cl-nv-maxrregcount=%d", base, n);
    else
        snprintf(s->build_opts, sizeof s->build_opts, "%s", base);
}
/* the set compose_options made for this load: the cache key and every build read the same text */
static const char *build_options(const qn_cl *s) { return s->build_opts; }

#define CACHE_MAGIC "QNCLBIN1"

typedef struct cache_header {
    char magic[8];
    uint64_t key_hash;
    uint64_t payload_bytes;
    uint64_t payload_hash;
} cache_header;

uint64_t qn_cl_fnv64(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t cache_key(const qn_cl *s) {
    char pver[256] = "";
    clGetPlatformInfo(s->dev.platform, CL_PLATFORM_VERSION, sizeof pver, pver, NULL);
    pver[sizeof pver - 1] = '\0';
    uint64_t h = QN_FNV_SEED;
    const char *parts[] = {s->dev.info.name, s->dev.info.driver, pver, build_options(s), QUANTA_VERSION_STRING};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) h = qn_cl_fnv64(h, parts[i], strlen(parts[i]) + 1);
    for (int i = 0; i < qn_cl_source_count; i++) h = qn_cl_fnv64(h, qn_cl_sources[i], strlen(qn_cl_sources[i]));
    return h;
}

static int mkdirs(const char *path) {
    char tmp[1024];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof tmp) return -1;
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] == '/' || tmp[i] == '\0') {
            char c = tmp[i];
            tmp[i] = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
            tmp[i] = c;
        }
    }
    return 0;
}

static int cache_dir(char *dir, size_t len) {
    const char *d = getenv("QUANTA_CACHE_DIR");
    int n;
    if (d && *d) n = snprintf(dir, len, "%s", d);
    else if ((d = getenv("XDG_CACHE_HOME")) && *d) n = snprintf(dir, len, "%s/quanta", d);
    else if ((d = getenv("HOME")) && *d) n = snprintf(dir, len, "%s/.cache/quanta", d);
    else return -1;
    return n > 0 && (size_t)n < len ? 0 : -1;
}

quanta_status qn_cl_cache_file(const char *what, uint64_t key, const char *ext, char *path, size_t len) {
    char dir[900];
    if (cache_dir(dir, sizeof dir) != 0)
        return qn_error_set(QUANTA_ERR_IO, "%s: no cache directory (set QUANTA_CACHE_DIR)", what);
    int n = snprintf(path, len, "%s/%016llx%s", dir, (unsigned long long)key, ext);
    if (n < 0 || (size_t)n >= len) return qn_error_set(QUANTA_ERR_IO, "%s: path too long", what);
    return QUANTA_OK;
}

int qn_cl_cache_store(const char *path, int (*write)(FILE *f, const void *ctx), const void *ctx) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        if (mkdirs(dir) != 0) return -1;
    }
    qn_safe_file sf;
    if (qn_safe_file_open(path, NULL, 0, &sf) != QUANTA_OK) return -1;
    if (write(sf.f, ctx) != 0) {
        qn_safe_file_abort(&sf);
        return -1;
    }
    return qn_safe_file_commit(&sf) == QUANTA_OK ? 0 : -1;
}

quanta_status qn_cl_cache_path(const qn_cl *s, char *path, size_t len) {
    return qn_cl_cache_file("opencl program cache", cache_key(s), ".clbin", path, len);
}

static unsigned char *cache_read(const char *path, uint64_t key, size_t *bytes) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    cache_header h;
    unsigned char *p = NULL;
    if (fread(&h, sizeof h, 1, f) == 1 && !memcmp(h.magic, CACHE_MAGIC, 8) && h.key_hash == key &&
        h.payload_bytes > 0 && h.payload_bytes < ((uint64_t)1 << 31)) {
        p = malloc((size_t)h.payload_bytes);
        if (p && (fread(p, 1, (size_t)h.payload_bytes, f) != h.payload_bytes || fgetc(f) != EOF ||
                  qn_cl_fnv64(QN_FNV_SEED, p, (size_t)h.payload_bytes) != h.payload_hash)) {
            free(p);
            p = NULL;
        }
    }
    fclose(f);
    if (p) *bytes = (size_t)h.payload_bytes;
    return p;
}

typedef struct cache_entry {
    uint64_t key;
    const unsigned char *p;
    size_t bytes;
} cache_entry;

static int write_entry(FILE *f, const void *ctx) {
    const cache_entry *e = ctx;
    cache_header h;
    memcpy(h.magic, CACHE_MAGIC, 8);
    h.key_hash = e->key;
    h.payload_bytes = e->bytes;
    h.payload_hash = qn_cl_fnv64(QN_FNV_SEED, e->p, e->bytes);
    return fwrite(&h, sizeof h, 1, f) == 1 && fwrite(e->p, 1, e->bytes, f) == e->bytes ? 0 : -1;
}

/* Best effort: a cache that cannot be written only costs a rebuild next time. */
static void cache_write(const char *path, uint64_t key, const unsigned char *p, size_t bytes) {
    cache_entry e = {key, p, bytes};
    (void)qn_cl_cache_store(path, write_entry, &e);
}

/* The build log in the error message from its first "error" on (a driver's warnings before it
 * would fill the message; NVIDIA's log runs to kilobytes), the whole log also written to the file
 * QUANTA_OPENCL_BUILD_LOG names, where set (bench/opencl/run_gpu.sh keeps it with its results). */
static quanta_status build_log_error(qn_cl *s, cl_program prog, cl_int err) {
    size_t n = 0;
    char *log = NULL;
    if (clGetProgramBuildInfo(prog, s->dev.device, CL_PROGRAM_BUILD_LOG, 0, NULL, &n) == CL_SUCCESS && n > 0 &&
        n < ((size_t)1 << 26) && (log = malloc(n + 1)) != NULL &&
        clGetProgramBuildInfo(prog, s->dev.device, CL_PROGRAM_BUILD_LOG, n, log, NULL) != CL_SUCCESS)
        n = 0;
    if (log) log[n] = '\0';
    const char *path = getenv("QUANTA_OPENCL_BUILD_LOG");
    if (log && path && *path) {
        FILE *f = fopen(path, "w");
        if (f) {
            fputs(log, f);
            fclose(f);
        }
    }
    const char *p = log ? strstr(log, "error") : NULL;
    if (!p) p = log ? log : "";
    while (log && p > log && p[-1] != '\n') p--; /* from the start of that line */
    quanta_status st = qn_error_set(QUANTA_ERR_BACKEND, "opencl: building the kernel program for '%s' failed (%s): %.600s",
                                    s->dev.info.name, qn_cl_errname(err), p);
    free(log);
    return st;
}

static quanta_status build_from_source(qn_cl *s, cl_program *out) {
    cl_int err;
    cl_program prog = clCreateProgramWithSource(s->ctx, (cl_uint)qn_cl_source_count, (const char **)qn_cl_sources,
                                                NULL, &err);
    if (err != CL_SUCCESS) return qn_cl_error(err, "clCreateProgramWithSource");
    err = clBuildProgram(prog, 1, &s->dev.device, build_options(s), NULL, NULL);
    if (err != CL_SUCCESS) {
        quanta_status st = build_log_error(s, prog, err);
        clReleaseProgram(prog);
        return st;
    }
    *out = prog;
    return QUANTA_OK;
}

static cl_program build_from_binary(qn_cl *s, const unsigned char *bin, size_t bytes) {
    cl_int err, bstat;
    cl_program prog = clCreateProgramWithBinary(s->ctx, 1, &s->dev.device, &bytes, &bin, &bstat, &err);
    if (err != CL_SUCCESS || bstat != CL_SUCCESS) {
        if (prog) clReleaseProgram(prog);
        return NULL;
    }
    if (clBuildProgram(prog, 1, &s->dev.device, build_options(s), NULL, NULL) != CL_SUCCESS) {
        clReleaseProgram(prog);
        return NULL;
    }
    return prog;
}

/* NULL when the device or build has no SPIR-V path, or the driver refuses the module. */
static cl_program build_from_il(qn_cl *s) {
#ifdef QUANTA_HAVE_SPIRV
    const char *e = getenv("QUANTA_OPENCL_PROGRAM");
    /* the offline module is the portable program: the VNNI variant needs the source */
    if (!s->dev.has_il || s->vnni || s->nv_ptx || (e && !strcmp(e, "source"))) return NULL;
    cl_int err;
    cl_program prog = clCreateProgramWithIL(s->ctx, qn_cl_spirv, qn_cl_spirv_size, &err);
    if (err != CL_SUCCESS || !prog) return NULL;
    if (clBuildProgram(prog, 1, &s->dev.device, build_options(s), NULL, NULL) != CL_SUCCESS) {
        clReleaseProgram(prog);
        return NULL;
    }
    return prog;
#else
    (void)s;
    return NULL;
#endif
}

static void store_binary(qn_cl *s, cl_program prog, const char *path, uint64_t key) {
    size_t bytes = 0;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof bytes, &bytes, NULL) != CL_SUCCESS || bytes == 0)
        return;
    unsigned char *bin = malloc(bytes);
    if (!bin) return;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bin, &bin, NULL) == CL_SUCCESS)
        cache_write(path, key, bin, bytes);
    free(bin);
    (void)s;
}

static quanta_status program_load(qn_cl *s);

/* With AVX-512 VNNI the program is first built with the inline-assembly dot product; a device
 * compiler that refuses it (not PoCL's LLVM, or a target without AVX-512 registers) gets the
 * portable program instead. QUANTA_OPENCL_VNNI=0 asks for the portable one. Likewise inline PTX
 * (QN_NV_PTX: gemm_i8_gpu.cl's mma.sync), by default on NVIDIA's GPUs run as the GPU class (where the
 * int8 GEMM was measured: H100 2026-12-06, 26-29 -> 58-81 TFLOP/s); QUANTA_OPENCL_GEMM_I8=0 (the f32 GEMM)
 * and =portable (the int8 GEMM without PTX) build without it. The int8 GEMM's default route
 * (cl_matmul.c) follows s->nv_ptx, so a compiler that refuses the PTX also turns the default GEMM off. */
static void release_program(qn_cl *s) {
    for (int i = 0; i < QK_COUNT; i++)
        if (s->k[i]) clReleaseKernel(s->k[i]), s->k[i] = NULL;
    if (s->program) clReleaseProgram(s->program), s->program = NULL;
}

int qn_cl_nvidia_gpu(const qn_cl_device *d) {
    return qn_cl_gpu_class(d) && strstr(d->info.vendor, "NVIDIA") != NULL;
}

quanta_status qn_cl_program_load(qn_cl *s) {
    const char *e = getenv("QUANTA_OPENCL_VNNI"), *g = getenv("QUANTA_OPENCL_GEMM_I8");
    s->vnni = s->dev.x86_vnni && !(e && !strcmp(e, "0"));
    s->nv_ptx = !s->vnni && qn_cl_nvidia_gpu(&s->dev) && !(g && (!strcmp(g, "0") || !strcmp(g, "portable")));
    if (s->vnni || s->nv_ptx) {
        if (program_load(s) == QUANTA_OK) return QUANTA_OK;
        release_program(s);
        s->vnni = s->nv_ptx = 0;
    }
    return program_load(s);
}

static quanta_status program_load(qn_cl *s) {
    compose_options(s);
    char path[1024];
    int have_path = qn_cl_cache_path(s, path, sizeof path) == QUANTA_OK;
    uint64_t key = cache_key(s);
    cl_program prog = NULL;
    if (have_path) {
        size_t bytes = 0;
        unsigned char *bin = cache_read(path, key, &bytes);
        if (bin) {
            prog = build_from_binary(s, bin, bytes);
            free(bin);
            s->program_origin = "cache";
        }
    }
    if (!prog) {
        prog = build_from_il(s);
        s->program_origin = "spir-v";
        if (!prog) {
            quanta_status st = build_from_source(s, &prog);
            if (st != QUANTA_OK) return st;
            s->program_origin = "source";
        }
        if (have_path) store_binary(s, prog, path, key);
    }
    s->program = prog;
    for (int i = 0; i < QK_COUNT; i++) {
        cl_int err;
        s->k[i] = clCreateKernel(prog, kernel_names[i], &err);
        if (err != CL_SUCCESS)
            return qn_error_set(QUANTA_ERR_BACKEND, "opencl: clCreateKernel(%s) failed: %s", kernel_names[i],
                                qn_cl_errname(err));
    }
    return QUANTA_OK;
}
