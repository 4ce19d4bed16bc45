/* test_rope_kv.c — the plan's fusion of a layer's q/k ropes (rope_pair; with q/k norms rms_norm_rope_pair) and
 * its k/v cache appends (write_rows_pair) into one rope_kv node, which writes k's rotated rows straight into the
 * k cache: taken where the backend claims the kernel (the reference always; OpenCL unless QUANTA_OPENCL_ROPE_KV=0;
 * CUDA with QUANTA_CUDA_ROPE_KV=1, then checked), refused when k's rotated rows are also an output and when v is
 * computed after the ropes.
 * q's result and both whole caches of every plan must equal, bit for bit, those of the same graph with k's rope
 * kept as an output (so planned as the pair and the appends: the ops the fusion replaces); the caches start with
 * random rows, so rows written where they do not belong would show. Guards on q's result. */
#include <stdlib.h>
#include <string.h>

#include "qt_backends.h"
#include "qt_check.h"
#include "qt_plan_guard.h"
#include "qt_plan_run.h"
#include "qt_tensor.h"
#include "quanta.h"
#include "test_util.h"

enum kind {
    FUSED,  /* ropes (or norms + ropes) then the appends: fused */
    LATE_V, /* v is scale(input), built after the ropes: not fused (v would be read before it exists) */
};

enum { N = 2, HQ = 4, HK = 2, NMAX = 9 };

typedef struct outs {
    float *q, *kc, *vc;
    int ops;
    char first[64];
    int has_rope_kv;
} outs;

/* Plans and runs the layer's ropes and appends on be (keep_k: k's rope is an output too), the caches first set to
 * init; reads q's result and both caches into o. */
static void run_graph(quanta_backend *be, enum kind k, int keep_k, int norm, int neox, int64_t D, const float *xq,
                      const float *xk, const float *xv, const float *wq, const float *wk, const float *init_k,
                      const float *init_v, const int32_t *pos, int32_t start, outs *o) {
    const size_t nq = (size_t)(HQ * N * D), nkv = (size_t)(HK * N * D), nc = (size_t)(HK * NMAX * D);
    quanta_tensor_desc dq = qt_desc(QUANTA_F32, 4, 1, HQ, N, D), dk = qt_desc(QUANTA_F32, 4, 1, HK, N, D);
    quanta_tensor_desc dc = qt_desc(QUANTA_F32, 4, 1, HK, NMAX, D), dp = qt_desc(QUANTA_I32, 1, N, 0, 0, 0);
    quanta_tensor_desc ds = qt_desc(QUANTA_I32, 1, 1, 0, 0, 0), dw = qt_desc(QUANTA_F32, 1, D, 0, 0, 0);
    quanta_buffer *kb, *vb;
    ck_assert_int_eq(quanta_buffer_create(be, &dc, &kb), QUANTA_OK);
    ck_assert_int_eq(quanta_buffer_create(be, &dc, &vb), QUANTA_OK);
    ck_assert_int_eq(quanta_buffer_write(kb, init_k, nc * sizeof *init_k), QUANTA_OK);
    ck_assert_int_eq(quanta_buffer_write(vb, init_v, nc * sizeof *init_v), QUANTA_OK);
    quanta_graph *g;
    quanta_plan *plan;
    quanta_tensor *tq, *tk, *tv, *tp, *ts, *twq = NULL, *twk = NULL, *tkb, *tvb, *oq, *ok, *kc, *vc;
    ck_assert_int_eq(quanta_graph_create(&g), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "q", &dq, &tq), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "k", &dk, &tk), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "v", &dk, &tv), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "pos", &dp, &tp), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_input(g, "start", &ds, &ts), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_buffer(g, kb, &tkb), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_buffer(g, vb, &tvb), QUANTA_OK);
    const quanta_rope_params rp = {neox ? QUANTA_ROPE_NEOX : QUANTA_ROPE_NORM, 10000.0f, 1.0f, 0};
    if (norm) {
        ck_assert_int_eq(quanta_graph_constant(g, "wq", &dw, wq, (size_t)D * sizeof *wq, &twq), QUANTA_OK);
        ck_assert_int_eq(quanta_graph_constant(g, "wk", &dw, wk, (size_t)D * sizeof *wk, &twk), QUANTA_OK);
        ck_assert_int_eq(quanta_rms_norm_rope(g, tq, twq, 1e-6f, 1, tp, &rp, &oq), QUANTA_OK);
        ck_assert_int_eq(quanta_rms_norm_rope(g, tk, twk, 1e-6f, 1, tp, &rp, &ok), QUANTA_OK);
    } else {
        ck_assert_int_eq(quanta_rope(g, tq, tp, &rp, &oq), QUANTA_OK);
        ck_assert_int_eq(quanta_rope(g, tk, tp, &rp, &ok), QUANTA_OK);
    }
    quanta_tensor *v = tv;
    if (k == LATE_V) ck_assert_int_eq(quanta_scale(g, tv, 1.0f, &v), QUANTA_OK);
    ck_assert_int_eq(quanta_write_rows(g, tkb, ok, ts, &kc), QUANTA_OK);
    ck_assert_int_eq(quanta_write_rows(g, tvb, v, ts, &vc), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(g, oq), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(g, kc), QUANTA_OK);
    ck_assert_int_eq(quanta_graph_output(g, vc), QUANTA_OK);
    if (keep_k) ck_assert_int_eq(quanta_graph_output(g, ok), QUANTA_OK);
    plan = qt_plan_guarded(g, be);
    o->ops = quanta_plan_op_count(plan);
    o->has_rope_kv = 0;
    for (int i = 0; i < o->ops; i++) {
        const char *op = NULL;
        ck_assert_int_eq(quanta_plan_op_info(plan, i, &op, NULL), QUANTA_OK);
        if (i == 0) snprintf(o->first, sizeof o->first, "%s", op);
        o->has_rope_kv |= !strcmp(op, "rope_kv");
    }
    const qt_in in[] = {{tq, xq, nq * sizeof *xq},
                        {tk, xk, nkv * sizeof *xk},
                        {tv, xv, nkv * sizeof *xv},
                        {tp, pos, N * sizeof *pos},
                        {ts, &start, sizeof start}};
    const qt_out out[] = {{oq, o->q, nq}, {kc, o->kc, nc}, {vc, o->vc, nc}};
    qt_plan_run(plan, QT_COUNT(in), in, QT_COUNT(out), out);
    quanta_plan_destroy(plan);
    quanta_graph_destroy(g);
    quanta_buffer_destroy(kb);
    quanta_buffer_destroy(vb);
}

static void run_case(quanta_backend *be, const char *name, enum kind k, int norm, int neox, int64_t D, qt_rng *r) {
    const size_t nq = (size_t)(HQ * N * D), nkv = (size_t)(HK * N * D), nc = (size_t)(HK * NMAX * D);
    float *buf = malloc((nq + 3 * nkv + 2 * (size_t)D + 2 * nc + 2 * (nq + 2 * nc)) * sizeof *buf);
    ck_assert_ptr_nonnull(buf);
    float *xq = buf, *xk = xq + nq, *xv = xk + nkv, *wq = xv + nkv, *wk = wq + D, *ik = wk + D, *iv = ik + nc;
    qt_fill_normal(r, xq, nq, 1.0f);
    qt_fill_normal(r, xk, nkv, 1.0f);
    qt_fill_normal(r, xv, nkv, 1.0f);
    qt_fill_normal(r, wq, (size_t)D, 0.5f);
    qt_fill_normal(r, wk, (size_t)D, 0.5f);
    qt_fill_normal(r, ik, nc, 1.0f);
    qt_fill_normal(r, iv, nc, 1.0f);
    outs f = {iv + nc, iv + nc + nq, iv + nc + nq + nc, 0, "", 0};
    outs u = {f.vc + nc, f.vc + nc + nq, f.vc + nc + nq + nc, 0, "", 0};
    int32_t pos[N];
    pos[0] = (int32_t)(qt_next(r) % 4000);
    for (int i = 1; i < N; i++) pos[i] = pos[0] + i;
    const int32_t start = (int32_t)(qt_next(r) % (NMAX - N + 1));
    run_graph(be, k, 0, norm, neox, D, xq, xk, xv, wq, wk, ik, iv, pos, start, &f);
    run_graph(be, k, 1, norm, neox, D, xq, xk, xv, wq, wk, ik, iv, pos, start, &u);
    const char *off = getenv("QUANTA_OPENCL_ROPE_KV"), *kv_off = getenv("QUANTA_CUDA_ROPE_KV");
    const char *pair_off = getenv("QUANTA_CUDA_ROPE_PAIR");
    /* CUDA claims it unless QUANTA_CUDA_ROPE_KV=0 (default since the H100 run of 2026-12-06) where it has the pair
     * before it: its rms_norm_rope_pair (on by default), or rope_pair (unless QUANTA_CUDA_ROPE_PAIR=0) */
    const int cuda = !strcmp(name, "cuda") && !(kv_off && !strcmp(kv_off, "0")) &&
                     (norm || !(pair_off && !strcmp(pair_off, "0")));
    const int claims = !strcmp(name, "ref") || (!strcmp(name, "opencl") && !(off && !strcmp(off, "0"))) || cuda;
    if (k == FUSED && claims) {
        ck_assert_msg(f.ops == 1 && !strcmp(f.first, "rope_kv"), "%s norm %d: %d ops, the first %s", name, norm, f.ops,
                      f.first);
    } else if (k != FUSED) {
        ck_assert_msg(!f.has_rope_kv, "%s: v computed after the ropes, yet fused", name);
    }
    ck_assert_msg(!u.has_rope_kv, "%s: k's rope is an output, yet fused", name);
    ck_assert_msg(!memcmp(f.q, u.q, nq * sizeof *f.q), "%s case %d norm %d neox %d D %lld: q differs from the ops apart",
                  name, (int)k, norm, neox, (long long)D);
    ck_assert_msg(!memcmp(f.kc, u.kc, nc * sizeof *f.kc), "%s case %d norm %d neox %d D %lld start %d: the k cache "
                  "differs from the ops apart", name, (int)k, norm, neox, (long long)D, (int)start);
    ck_assert_msg(!memcmp(f.vc, u.vc, nc * sizeof *f.vc), "%s case %d norm %d neox %d D %lld start %d: the v cache "
                  "differs from the ops apart", name, (int)k, norm, neox, (long long)D, (int)start);
    for (size_t i = 0; i < nq; i++) QT_CHECK(f.q[i] == f.q[i], "%s: q element %zu is NaN", name, i);
    free(buf);
}

START_TEST(test_rope_kv_matches_the_ops_apart) {
    qt_rng r = qt_rng_make(0);
    quanta_backend *be;
    const char *name;
    for (int bi = 0; qt_next_backend(&bi, &be, &name);) { /* each backend built and with a device */
        for (int k = FUSED; k <= LATE_V; k++)
            for (int norm = 0; norm < 2; norm++)
                for (int neox = 0; neox < 2; neox++) {
                    run_case(be, name, (enum kind)k, norm, neox, 128, &r); /* LLaMA's head dim */
                    run_case(be, name, (enum kind)k, norm, neox, 256, &r); /* Gemma's */
                }
        quanta_backend_close(be);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("rope_kv");
    TCase *tc = tcase_create("rope_kv");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_rope_kv_matches_the_ops_apart);
    suite_add_tcase(s, tc);
    return qt_run_suite(s);
}
