/*
 * test_opencl_ops.c — every op of the OpenCL backend against the reference backend, through
 * the public API (the conformance harness builds the graph, draws the inputs from the printed
 * seed, poisons outputs and guards them), with the harness's thresholds. A case only passes
 * when the op really ran on OpenCL: a fallback to the reference fails here.
 * Exits 77 (SKIP) when no OpenCL device is present.
 */
#include <stdlib.h>

#include "conform.h"
#include "cl_test.h"
#include "test_util.h"

static quanta_backend *g_ref, *g_cl;

static void run_spec_on(quanta_backend *be, const char *spec, int allow_fallback) {
    qc_case c;
    char err[QC_ERR_MAX];
    ck_assert_msg(qc_case_parse(spec, &c, err, sizeof err) == 0, "bad spec %s: %s", spec, err);
    qc_target t = {.name = "opencl", .be = be, .is_ref = false};
    qc_result r;
    ck_assert_msg(qc_run_case(&c, qt_seed(), g_ref, &t, 1, &r, err, sizeof err) == 0, "%s: %s", spec, err);
    int ok = r.status == QC_PASS || (allow_fallback && r.reason == QC_R_FALLBACK);
    ck_assert_msg(ok, "%s: %s (%s) nmse %.3g maxerr %.3g: %s", spec, qc_status_name(r.status),
                  qc_reason_name(r.reason), r.nmse, r.maxerr, r.msg);
}

static void run_list(const char *const *specs, size_t n) {
    for (size_t i = 0; i < n; i++) run_spec_on(g_cl, specs[i], 0);
}
#define RUN(list) run_list(list, sizeof list / sizeof list[0])

/* Runs specs on a backend opened once per value of the environment variable var (which
 * forces a kernel choice), restoring var afterwards. */
static void run_forced(const char *var, const char *const *values, size_t nv, const char *const *specs, size_t ns) {
    const char *saved = getenv(var);
    for (size_t p = 0; p < nv; p++) {
        setenv(var, values[p], 1);
        quanta_backend *be;
        ck_assert_msg(quanta_backend_open("opencl", &be) == QUANTA_OK, "%s", quanta_last_error());
        for (size_t i = 0; i < ns; i++) run_spec_on(be, specs[i], 0);
        quanta_backend_close(be);
    }
    if (saved) setenv(var, saved, 1);
    else unsetenv(var);
}
#define RUN_FORCED(var, values, specs) \
    run_forced(var, values, sizeof values / sizeof values[0], specs, sizeof specs / sizeof specs[0])

/* Decode shapes (GEMV, M <= 8) over every format and group size, K and N off the tile sizes. */
START_TEST(test_matmul_gemv) {
    static const char *const specs[] = {
        "matmul:m=1,n=33,k=96,w=f32,x=f32",      "matmul:m=3,n=17,k=100,w=f16,x=f16",
        "matmul:m=8,n=5,k=64,w=bf16,x=bf16",     "matmul:m=1,n=70,k=200,w=q8,x=f32",
        "matmul:m=2,n=17,k=96,w=q4,g=32,x=f16",  "matmul:m=5,n=31,k=256,w=q4,g=64,x=bf16",
        "matmul:m=8,n=9,k=384,w=q4,g=128,x=f32", "matmul:m=1,n=40,k=128,w=nf4,x=f32",
        "matmul:m=4,n=17,k=320,w=nf4,dq=1,x=f16", "matmul:m=1,n=19,k=97,w=fp8_e4m3,x=f32",
        "matmul:m=7,n=23,k=64,w=fp8_e5m2,x=f16", "matmul:m=3,n=17,k=96,w=q8,x=f32,wbuf=1",
        "matmul:m=1,n=1,k=32,w=q4,g=32,x=f32",
    };
    RUN(specs);
}
END_TEST

/* Both GEMV kernels, forced: one row per work-item (CPUs; q4/nf4 rows in blocks of 16 chunks
 * plus a group-wise remainder) and 64 work-items per row (GPUs). K = 608/640/1152/576 mixes
 * blocks with a remainder for every q4 group size and nf4; nf4 dq at K = 1024 takes the
 * block path with rows crossing a 256-block dq group, at K = 768 the remainder path. */
START_TEST(test_matmul_gemv_paths) {
    static const char *const lws[] = {"1", "64"};
    static const char *const specs[] = {
        "matmul:m=1,n=37,k=608,w=q4,g=32,x=f32",    "matmul:m=6,n=19,k=608,w=q4,g=32,x=f16",
        "matmul:m=1,n=37,k=640,w=q4,g=64,x=bf16",   "matmul:m=3,n=19,k=640,w=q4,g=64,x=f32",
        "matmul:m=1,n=21,k=1152,w=q4,g=128,x=f32",  "matmul:m=8,n=9,k=1152,w=q4,g=128,x=f32",
        "matmul:m=1,n=37,k=576,w=nf4,x=f32",        "matmul:m=5,n=19,k=576,w=nf4,x=f16",
        "matmul:m=1,n=40,k=1024,w=nf4,dq=1,x=f32",  "matmul:m=2,n=40,k=768,w=nf4,dq=1,x=f32",
        "matmul:m=1,n=33,k=544,w=fp8_e4m3,x=f32",   "matmul:m=4,n=17,k=300,w=fp8_e5m2,x=f32",
        "matmul:m=1,n=33,k=544,w=f16,x=f32",        "matmul:m=1,n=33,k=544,w=q8,x=bf16",
    };
    RUN_FORCED("QUANTA_OPENCL_GEMV_LWS", lws, specs);
}
END_TEST

/* Prefill shapes (M > 8) on the paths the tuning table picks for this device. */
START_TEST(test_matmul_gemm) {
    static const char *const specs[] = {
        "matmul:m=9,n=65,k=96,w=f32,x=f32",       "matmul:m=70,n=130,k=100,w=f16,x=f16",
        "matmul:m=33,n=64,k=64,w=bf16,x=bf16",    "matmul:m=65,n=67,k=200,w=q8,x=f32",
        "matmul:m=17,n=70,k=96,w=q4,g=32,x=f16",  "matmul:m=64,n=64,k=256,w=q4,g=64,x=bf16",
        "matmul:m=100,n=9,k=384,w=q4,g=128,x=f32", "matmul:m=40,n=40,k=128,w=nf4,x=f32",
        "matmul:m=12,n=17,k=320,w=nf4,dq=1,x=f16", "matmul:m=20,n=19,k=97,w=fp8_e4m3,x=f32",
        "matmul:m=129,n=23,k=64,w=fp8_e5m2,x=f16", "matmul:m=3,n=17,k=96,w=q4,g=32,b=4,x=f32",
    };
    RUN(specs);
}
END_TEST

/* Every GEMM path, forced: local-memory tiles (GPUs), register rows (CPUs), dequantize +
 * CLBlast (when built with it; otherwise the forced choice falls back to a kernel), and int8
 * activations (q8 weights with K a multiple of 128, also for M <= 8; other products fall back):
 * K = 384 / 640 take 128-column x blocks, 256 / 512 take 256; M and N leave partial tiles. */
START_TEST(test_matmul_gemm_paths) {
    static const char *const paths[] = {"local", "rows", "blas", "int8"};
    static const char *const specs[] = {
        "matmul:m=9,n=65,k=96,w=f32,x=f32",        "matmul:m=70,n=13,k=100,w=f16,x=bf16",
        "matmul:m=65,n=67,k=200,w=q8,x=f32",       "matmul:m=17,n=70,k=96,w=q4,g=32,x=f16",
        "matmul:m=40,n=41,k=128,w=nf4,dq=1,x=f32", "matmul:m=20,n=19,k=97,w=fp8_e4m3,x=f32",
        "matmul:m=33,n=23,k=64,w=fp8_e5m2,x=f16",  "matmul:m=12,n=5,k=384,w=q4,g=128,x=f32",
        "matmul:m=31,n=66,k=384,w=q8,x=f16",       "matmul:m=10,n=7,k=512,w=q8,x=bf16",
        "matmul:m=1,n=37,k=640,w=q8,x=f32",        "matmul:m=5,n=9,k=256,w=q8,b=2,x=f32",
    };
    RUN_FORCED("QUANTA_OPENCL_GEMM", paths, specs);
}
END_TEST

START_TEST(test_attention) {
    static const char *const specs[] = {
        "attention:b=2,hq=1,hkv=1,nq=19,nk=37,d=64,dtype=f32",
        "attention:b=1,hq=8,hkv=2,nq=1,nk=77,d=80,causal=1,dtype=f16",
        "attention:b=2,hq=8,hkv=1,nq=19,nk=37,d=128,causal=1,window=16,dtype=bf16",
        "attention:b=1,hq=2,hkv=2,nq=1,nk=77,d=96,mask=1,dtype=f32",
        "attention:b=2,hq=4,hkv=1,nq=19,nk=37,d=64,mask=2,kvlens=1,dtype=f16",
        "attention:b=1,hq=16,hkv=2,nq=1,nk=77,d=80,causal=1,mask=1,kvlens=1,dtype=bf16",
        "attention:b=1,hq=2,hkv=1,nq=33,nk=33,d=256,causal=1,dtype=f32",
        "attention:b=1,hq=8,hkv=2,nq=1,nk=77,d=13,causal=1,window=7,mask=2,dtype=f16",
        "attention:b=1,hq=4,hkv=4,nq=1,nk=1,d=64,dtype=f32",
        "attention:b=1,hq=1,hkv=1,nq=17,nk=16,d=64,causal=1,dtype=f32",
        "attention:b=1,hq=1,hkv=1,nq=5,nk=300,d=128,scale=0.3,dtype=f32",
        "attention:b=1,hq=32,hkv=8,nq=3,nk=129,d=128,causal=1,dtype=f16",
    };
    RUN(specs);
}
END_TEST

/* Both attention kernels, forced: local-memory tiles (GPUs) and one row per item (CPUs). */
START_TEST(test_attention_paths) {
    static const char *const paths[] = {"local", "rows"};
    static const char *const specs[] = {
        "attention:b=2,hq=8,hkv=2,nq=19,nk=37,d=64,causal=1,window=9,dtype=f16",
        "attention:b=2,hq=4,hkv=1,nq=19,nk=37,d=96,mask=2,kvlens=1,dtype=bf16",
        "attention:b=1,hq=2,hkv=1,nq=33,nk=70,d=256,causal=1,dtype=f32",
        "attention:b=1,hq=16,hkv=2,nq=1,nk=2000,d=128,mask=1,dtype=f16",
        "attention:b=1,hq=4,hkv=4,nq=1,nk=1,d=80,dtype=f32",
    };
    RUN_FORCED("QUANTA_OPENCL_ATTENTION", paths, specs);
}
END_TEST

/* One query against a long cache: the split-KV (flash-decoding) path and its combine. */
START_TEST(test_attention_split_kv) {
    static const char *const specs[] = {
        "attention:b=1,hq=1,hkv=1,nq=1,nk=4100,d=64,dtype=f32",
        "attention:b=1,hq=4,hkv=1,nq=1,nk=2048,d=128,causal=1,window=700,dtype=f16",
        "attention:b=1,hq=8,hkv=8,nq=1,nk=8192,d=64,kvlens=1,dtype=f32",
        "attention:b=1,hq=2,hkv=1,nq=2,nk=1500,d=80,mask=1,dtype=bf16",
    };
    RUN(specs);
}
END_TEST

START_TEST(test_elementwise) {
    static const char *const specs[] = {
        "rms_norm:shape=3x257,weight=0,dtype=f32", "rms_norm:shape=2x3x64,weight=1,plus1=1,dtype=f16",
        "rms_norm:shape=4x4096,weight=1,dtype=bf16", "silu:shape=3x257,dtype=f32",
        "silu:shape=1000,dtype=bf16",              "gelu:shape=3x257,approx=0,dtype=f32",
        "gelu:shape=3x257,approx=1,dtype=f16",     "add:shape=3x257,bcast=0,dtype=f32",
        "add:shape=3x257,bcast=1,dtype=bf16",      "mul:shape=5x64,bcast=1,dtype=f32",
        "mul:shape=2x3x33,bcast=0,dtype=f16",      "scale:shape=3x257,s=-3.25,dtype=f32",
        "softmax:shape=3x257,dtype=f32",           "softmax:shape=7x1,dtype=f16",
        "softmax:shape=2x5000,dtype=bf16",         "rope:shape=1x2x7x64,mode=norm,dtype=f32",
        "rope:shape=2x3x5x128,mode=neox,rot=64,dtype=f16", "rope:shape=1x1x9x80,mode=neox,offset=4000,dtype=bf16",
        "convert:shape=3x257,dtype=f32,to=f16",    "convert:shape=3x257,dtype=f32,to=bf16",
        "convert:shape=3x257,dtype=f16,to=bf16",   "convert:shape=300,dtype=bf16,to=f32",
    };
    RUN(specs);
}
END_TEST

/* rope keeps a frequency table per (theta, rot) in a few slots (cl_internal.h); past them the
 * kernel computes the frequencies itself. Ten bases on one backend take both paths. */
START_TEST(test_rope_freq_tables) {
    static const char *const specs[] = {
        "rope:shape=1x4x1x256,mode=neox,offset=30000,theta=1000000,dtype=f32",
        "rope:shape=1x2x3x64,mode=norm,offset=4095,theta=500,dtype=f32",
        "rope:shape=1x2x3x64,mode=neox,offset=7,theta=501,dtype=f32",
        "rope:shape=1x2x3x64,mode=norm,offset=100,theta=502,dtype=f16",
        "rope:shape=1x2x3x64,mode=norm,offset=9000,theta=503,dtype=f32",
        "rope:shape=1x2x3x64,mode=neox,rot=32,offset=1,theta=504,dtype=bf16",
        "rope:shape=1x2x3x64,mode=norm,offset=20000,theta=505,dtype=f32",
        "rope:shape=1x2x3x64,mode=norm,offset=3,theta=506,dtype=f32",
        "rope:shape=1x2x3x64,mode=neox,offset=65000,theta=507,dtype=f32",
        "rope:shape=1x2x3x64,mode=norm,offset=12345,theta=508,fscale=0.5,dtype=f32",
        "rope:shape=1x4x1x256,mode=neox,offset=30001,theta=1000000,dtype=f32",
    };
    RUN(specs);
}
END_TEST

START_TEST(test_rows) {
    static const char *const specs[] = {
        "get_rows:v=37,d=96,t=9,table=f32",       "get_rows:v=37,d=96,t=9,table=f16",
        "get_rows:v=37,d=96,t=9,table=bf16",      "get_rows:v=37,d=96,t=9,table=q8",
        "get_rows:v=37,d=128,t=9,table=q4,g=32",  "get_rows:v=37,d=128,t=9,table=nf4,dq=1",
        "get_rows:v=37,d=96,t=9,table=fp8_e4m3",  "get_rows:v=37,d=96,t=9,table=fp8_e5m2,wbuf=1",
        "permute:shape=2x3x5x7,perm=0213,dtype=f32", "permute:shape=37x129,perm=10,dtype=bf16",
        "permute:shape=2x3x5x7,perm=3210,dtype=f16", "permute:shape=4x6x10,perm=021,dtype=f32",
        "write_rows:b=1,h=2,nmax=16,t=3,start=5,d=64,dtype=f32",
        "write_rows:b=2,h=1,nmax=9,t=1,start=8,d=80,dtype=f16",
    };
    RUN(specs);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("opencl_ops");
    TCase *tc = tcase_create("ops");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_elementwise);
    tcase_add_test(tc, test_rope_freq_tables);
    tcase_add_test(tc, test_rows);
    tcase_add_test(tc, test_matmul_gemv);
    tcase_add_test(tc, test_matmul_gemv_paths);
    tcase_add_test(tc, test_matmul_gemm);
    tcase_add_test(tc, test_matmul_gemm_paths);
    tcase_add_test(tc, test_attention);
    tcase_add_test(tc, test_attention_split_kv);
    tcase_add_test(tc, test_attention_paths);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    const int open_rc = qt_cl_open(&g_cl);
    if (open_rc) return open_rc;
    if (quanta_backend_open("ref", &g_ref) != QUANTA_OK) {
        printf("quanta_backend_open(ref): %s\n", quanta_last_error());
        return 1;
    }
    int rc = qt_run_suite(suite());
    quanta_backend_close(g_cl);
    quanta_backend_close(g_ref);
    return rc;
}
