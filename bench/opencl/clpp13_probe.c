/*
 * clpp13_probe.c — what the first GPU device's OpenCL offers the int8 GEMM (kernels_cl/gemm_i8_gpu.cl):
 * its version and extension string (cl_khr_integer_dot_product?), and whether its compiler takes the inline
 * PTX the GEMM uses (mma.sync m16n8k32 s8, dp4a) in a ten-line program, with the PTX header it emits.
 * Run by bench/opencl/verify_clpp13.sh on the device (compiled there: cc ... $(pkg-config --libs OpenCL)).
 * Without an argument it also runs the probe kernel on one 16 x 8 x 32 tile and checks it against the
 * same sums on the host (mma's fragment layout as gemm_i8_gpu.cl reads it).
 */
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *src =
    "kernel void probe(global const uint *A, global const uint *B, global int *C) {\n"
    "  const int lane = get_local_id(0), g = lane >> 2, t = lane & 3;\n"
    "  /* A: 16 rows x 8 words (32 k), B: 8 rows (n) x 8 words; C: 16 x 8 */\n"
    "  uint a0 = A[g * 8 + t], a1 = A[(g + 8) * 8 + t], a2 = A[g * 8 + 4 + t], a3 = A[(g + 8) * 8 + 4 + t];\n"
    "  uint b0 = B[g * 8 + t], b1 = B[g * 8 + 4 + t];\n"
    "  int d0, d1, d2, d3;\n"
    "  __asm__(\"mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
    "{%10, %10, %10, %10};\"\n"
    "      : \"=r\"(d0), \"=r\"(d1), \"=r\"(d2), \"=r\"(d3) : \"r\"(a0), \"r\"(a1), \"r\"(a2), \"r\"(a3), \"r\"(b0), "
    "\"r\"(b1), \"r\"(0));\n"
    "  int e = 0;\n"
    "  __asm__(\"dp4a.s32.s32 %0, %1, %2, %0;\" : \"+r\"(e) : \"r\"(a0), \"r\"(b0));\n"
    "  C[g * 8 + 2 * t] = d0; C[g * 8 + 2 * t + 1] = d1; C[(g + 8) * 8 + 2 * t] = d2; C[(g + 8) * 8 + 2 * t + 1] = d3;\n"
    "  C[128 + lane] = e;\n"
    "}\n";

static void info(cl_device_id d, cl_device_info what, const char *name) {
    size_t n = 0;
    clGetDeviceInfo(d, what, 0, NULL, &n);
    char *s = calloc(n + 1, 1);
    if (s && clGetDeviceInfo(d, what, n, s, NULL) == CL_SUCCESS) printf("%s: %s\n", name, s);
    free(s);
}

int main(void) {
    cl_platform_id pl[8];
    cl_uint np = 0;
    if (clGetPlatformIDs(8, pl, &np) != CL_SUCCESS || np == 0) return printf("no OpenCL platform\n"), 1;
    cl_device_id dev = NULL;
    for (cl_uint i = 0; i < np && !dev; i++)
        if (clGetDeviceIDs(pl[i], CL_DEVICE_TYPE_GPU, 1, &dev, NULL) != CL_SUCCESS) dev = NULL;
    for (cl_uint i = 0; i < np && !dev; i++)
        if (clGetDeviceIDs(pl[i], CL_DEVICE_TYPE_ALL, 1, &dev, NULL) != CL_SUCCESS) dev = NULL;
    if (!dev) return printf("no OpenCL device\n"), 1;
    info(dev, CL_DEVICE_NAME, "name");
    info(dev, CL_DEVICE_VENDOR, "vendor");
    info(dev, CL_DEVICE_VERSION, "version");
    info(dev, CL_DEVICE_OPENCL_C_VERSION, "opencl_c");
    info(dev, CL_DRIVER_VERSION, "driver");
    info(dev, CL_DEVICE_EXTENSIONS, "extensions");
    cl_int err;
    cl_context ctx = clCreateContext(NULL, 1, &dev, NULL, NULL, &err);
    cl_program p = clCreateProgramWithSource(ctx, 1, &src, NULL, &err);
    err = clBuildProgram(p, 1, &dev, "-cl-std=CL1.2", NULL, NULL);
    printf("inline PTX (mma.sync m16n8k32 s8, dp4a) build: %s (%d)\n", err == CL_SUCCESS ? "ok" : "FAILED", err);
    size_t n = 0;
    clGetProgramBuildInfo(p, dev, CL_PROGRAM_BUILD_LOG, 0, NULL, &n);
    char *log = calloc(n + 1, 1);
    if (log && clGetProgramBuildInfo(p, dev, CL_PROGRAM_BUILD_LOG, n, log, NULL) == CL_SUCCESS && n > 1)
        printf("build log: %.1500s\n", log);
    free(log);
    if (err != CL_SUCCESS) return 0;
    size_t bytes = 0;
    clGetProgramInfo(p, CL_PROGRAM_BINARY_SIZES, sizeof bytes, &bytes, NULL);
    unsigned char *bin = calloc(bytes + 1, 1);
    if (bin && clGetProgramInfo(p, CL_PROGRAM_BINARIES, sizeof bin, &bin, NULL) == CL_SUCCESS) {
        for (char *l = strtok((char *)bin, "\n"); l; l = strtok(NULL, "\n"))
            if (!strncmp(l, ".version", 8) || !strncmp(l, ".target", 7) || strstr(l, "mma.sync") || strstr(l, "dp4a"))
                printf("ptx: %s\n", l);
    }
    free(bin);
    /* one tile against the host's sums (random bytes, seed printed) */
    unsigned seed = 12345u;
    unsigned A[128], B[64];
    int C[160], ref[128];
    printf("tile seed %u\n", seed);
    for (int i = 0; i < 128; i++) A[i] = (seed = seed * 1664525u + 1013904223u);
    for (int i = 0; i < 64; i++) B[i] = (seed = seed * 1664525u + 1013904223u);
    for (int r = 0; r < 16; r++)
        for (int c = 0; c < 8; c++) {
            int s = 0;
            for (int k = 0; k < 32; k++)
                s += (int)(signed char)((const unsigned char *)A)[r * 32 + k] *
                     (int)(signed char)((const unsigned char *)B)[c * 32 + k];
            ref[r * 8 + c] = s;
        }
    for (int i = 0; i < 160; i++) C[i] = 0x7f7f7f7f; /* poison */
    cl_command_queue q = clCreateCommandQueue(ctx, dev, 0, &err);
    cl_mem ma = clCreateBuffer(ctx, CL_MEM_COPY_HOST_PTR | CL_MEM_READ_ONLY, sizeof A, A, &err);
    cl_mem mb = clCreateBuffer(ctx, CL_MEM_COPY_HOST_PTR | CL_MEM_READ_ONLY, sizeof B, B, &err);
    cl_mem mc = clCreateBuffer(ctx, CL_MEM_COPY_HOST_PTR, sizeof C, C, &err);
    cl_kernel k = clCreateKernel(p, "probe", &err);
    clSetKernelArg(k, 0, sizeof ma, &ma);
    clSetKernelArg(k, 1, sizeof mb, &mb);
    clSetKernelArg(k, 2, sizeof mc, &mc);
    size_t g = 32, l = 32;
    err = clEnqueueNDRangeKernel(q, k, 1, NULL, &g, &l, 0, NULL, NULL);
    if (err == CL_SUCCESS) err = clEnqueueReadBuffer(q, mc, CL_TRUE, 0, sizeof C, C, 0, NULL, NULL);
    int bad = 0, badd = 0;
    for (int i = 0; i < 128; i++) bad += C[i] != ref[i];
    for (int lane = 0; lane < 32; lane++) {
        int g4 = lane >> 2, t = lane & 3, s = 0;
        for (int j = 0; j < 4; j++)
            s += (int)(signed char)(A[g4 * 8 + t] >> (8 * j)) * (int)(signed char)(B[g4 * 8 + t] >> (8 * j));
        badd += C[128 + lane] != s;
    }
    printf("tile run: %s; mma outputs wrong %d/128, dp4a wrong %d/32\n", err == CL_SUCCESS ? "ok" : "FAILED", bad, badd);
    return 0;
}
