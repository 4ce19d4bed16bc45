/*
 * cl_device.c — discovery: every device of every OpenCL platform, flattened into one list
 * (index N is "opencl:N"). Built once, thread-safely; no platform or no device is an empty
 * list, not an error, so a machine without OpenCL simply offers no OpenCL devices.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl_internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
/* AVX-512 F + BW + VNNI with the OS saving zmm state: what vpdpbusd on zmm needs. A CPU
 * OpenCL device is this host's CPU, so the host's cpuid answers for it. */
static int host_avx512_vnni(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return 0; /* OSXSAVE */
    unsigned lo, hi;
    __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0xe6u) != 0xe6u) return 0; /* XMM, YMM, opmask, ZMM state */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b & (1u << 16)) && (b & (1u << 30)) && (c & (1u << 11));
}
#else
static int host_avx512_vnni(void) { return 0; }
#endif

#define QN_CL_MAX_DEVICES 64

static qn_cl_device g_devices[QN_CL_MAX_DEVICES];
static int g_count;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void dev_string(cl_device_id d, cl_device_info what, char *buf, size_t len) {
    buf[0] = '\0';
    if (clGetDeviceInfo(d, what, len, buf, NULL) != CL_SUCCESS) buf[0] = '\0';
    buf[len - 1] = '\0';
}

static void describe(qn_cl_device *q) {
    cl_device_id d = q->device;
    quanta_device_info *info = &q->info;
    char ext[8192], ver[128], il[256] = "", cver[128];
    snprintf(info->backend, sizeof info->backend, "opencl");
    dev_string(d, CL_DEVICE_NAME, info->name, sizeof info->name);
    dev_string(d, CL_DEVICE_VENDOR, info->vendor, sizeof info->vendor);
    dev_string(d, CL_DRIVER_VERSION, info->driver, sizeof info->driver);
    dev_string(d, CL_DEVICE_EXTENSIONS, ext, sizeof ext);
    dev_string(d, CL_DEVICE_VERSION, ver, sizeof ver);
    dev_string(d, CL_DEVICE_OPENCL_C_VERSION, cver, sizeof cver);
#ifdef CL_DEVICE_IL_VERSION
    dev_string(d, CL_DEVICE_IL_VERSION, il, sizeof il);
#endif
    cl_ulong mem = 0;
    cl_uint cu = 0;
    clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof mem, &mem, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cu, &cu, NULL);
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof q->type, &q->type, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof q->max_wg, &q->max_wg, NULL);
    clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_SIZE, sizeof q->local_mem, &q->local_mem, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof q->max_alloc, &q->max_alloc, NULL);
    info->memory_bytes = mem;
    info->compute_units = (int32_t)cu;
    info->has_fp16 = strstr(ext, "cl_khr_fp16") != NULL;
    info->has_subgroups = strstr(ext, "cl_khr_subgroups") != NULL || strstr(ext, "cl_intel_subgroups") != NULL;
    q->has_fp64 = strstr(ext, "cl_khr_fp64") != NULL;
    q->has_il = strstr(il, "SPIR-V") != NULL;
    q->x86_vnni = (q->type & CL_DEVICE_TYPE_CPU) && host_avx512_vnni();
    cl_device_fp_config fp = 0;
    clGetDeviceInfo(d, CL_DEVICE_SINGLE_FP_CONFIG, sizeof fp, &fp, NULL);
    q->cr_divide = (fp & CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT) != 0;
    /* Truncating the free-form summary is harmless; using the result keeps gcc's
     * -Wformat-truncation (which fires at some optimisation levels only) quiet. */
    if (snprintf(info->details, sizeof info->details,
             "%s, %s; %s; max work-group %zu; local memory %llu KiB; max allocation %llu MiB; fp16 %s; fp64 %s; "
             "subgroups %s; SPIR-V %s%s",
             ver, cver,
             (q->type & CL_DEVICE_TYPE_GPU) ? "GPU" : (q->type & CL_DEVICE_TYPE_CPU) ? "CPU" : "accelerator",
             q->max_wg, (unsigned long long)(q->local_mem / 1024), (unsigned long long)(q->max_alloc >> 20),
             info->has_fp16 ? "yes" : "no", q->has_fp64 ? "yes" : "no", info->has_subgroups ? "yes" : "no",
             q->has_il ? il : "no", q->x86_vnni ? "; AVX-512 VNNI" : "") < 0)
        info->details[0] = '\0';
    /* the kernel choices an open would make (tuning table or the class's defaults) */
    size_t used = strlen(info->details);
    if (used + 3 < sizeof info->details) {
        info->details[used++] = ';';
        info->details[used++] = ' ';
        qn_cl_tune_describe(q, info->details + used, sizeof info->details - used);
    }
}

static void discover(void) {
    cl_uint np = 0;
    if (clGetPlatformIDs(0, NULL, &np) != CL_SUCCESS || np == 0) return;
    cl_platform_id *plats = calloc(np, sizeof *plats);
    if (!plats) return;
    if (clGetPlatformIDs(np, plats, NULL) != CL_SUCCESS) np = 0;
    for (cl_uint p = 0; p < np && g_count < QN_CL_MAX_DEVICES; p++) {
        cl_uint nd = 0;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd) != CL_SUCCESS || nd == 0) continue;
        cl_device_id *devs = calloc(nd, sizeof *devs);
        if (!devs) break;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, nd, devs, NULL) == CL_SUCCESS) {
            for (cl_uint i = 0; i < nd && g_count < QN_CL_MAX_DEVICES; i++) {
                qn_cl_device *q = &g_devices[g_count];
                memset(q, 0, sizeof *q);
                q->platform = plats[p];
                q->device = devs[i];
                describe(q);
                q->info.index = g_count;
                g_count++;
            }
        }
        free(devs);
    }
    free(plats);
}

quanta_status qn_cl_devices(const qn_cl_device **list, int *count) {
    pthread_once(&g_once, discover);
    *list = g_devices;
    *count = g_count;
    return QUANTA_OK;
}
