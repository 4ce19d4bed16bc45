/*
 * basic.c — a complete Quanta program to copy from.
 *
 * It quantizes three projection weights to q4, builds a graph that projects 8 tokens to
 * queries, keys and values and runs causal attention over them, plans the graph on the best
 * backend available (CUDA, else OpenCL, else the reference), runs it, reads the result back
 * and checks it against a plain-C computation of the same thing.
 *
 * Build (installed library): cc basic.c $(pkg-config --cflags --libs quanta) -lm
 * Run: ./basic [backend]        e.g. ./basic ref, ./basic opencl
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <quanta.h>

enum { T = 8, K = 128, D = 64 }; /* tokens, model width, head dim (one head) */

/* Prints what failed, with the library's message, and jumps to cleanup. */
#define CHECK(call)                                                                          \
    do {                                                                                     \
        quanta_status st_ = (call);                                                          \
        if (st_ != QUANTA_OK) {                                                              \
            fprintf(stderr, "basic: %s failed: %s: %s\n", #call, quanta_status_name(st_),    \
                    quanta_last_error());                                                    \
            goto cleanup;                                                                    \
        }                                                                                    \
    } while (0)

/* A small deterministic generator, so every run sees the same numbers. */
static float next_value(unsigned *state) {
    *state = *state * 1664525u + 1013904223u;
    return ((float)(*state >> 8) / 16777216.0f - 0.5f) * 2.0f;
}

/* Plain C: y[T][D] = x[T][K] · w[D][K]^T. */
static void project(const float *x, const float *w, float *y) {
    for (int t = 0; t < T; t++)
        for (int d = 0; d < D; d++) {
            double s = 0;
            for (int k = 0; k < K; k++) s += (double)x[t * K + k] * w[d * K + k];
            y[t * D + d] = (float)s;
        }
}

/* Plain C causal attention: token t sees tokens 0..t. */
static void attention(const float *q, const float *k, const float *v, float *out) {
    double scale = 1.0 / sqrt((double)D), p[T];
    for (int t = 0; t < T; t++) {
        double mx = -INFINITY, sum = 0;
        for (int j = 0; j <= t; j++) {
            double s = 0;
            for (int d = 0; d < D; d++) s += (double)q[t * D + d] * k[j * D + d];
            p[j] = s * scale;
            if (p[j] > mx) mx = p[j];
        }
        for (int j = 0; j <= t; j++) sum += p[j] = exp(p[j] - mx);
        for (int d = 0; d < D; d++) {
            double o = 0;
            for (int j = 0; j <= t; j++) o += p[j] * v[j * D + d];
            out[t * D + d] = (float)(o / sum);
        }
    }
}

int main(int argc, char **argv) {
    const char *spec = argc > 1 ? argv[1] : "best";
    int rc = 1;
    quanta_backend *backend = NULL;
    quanta_graph *graph = NULL;
    quanta_plan *plan = NULL;
    const char *names[3] = {"wq", "wk", "wv"};
    float x[T * K], w[3][D * K], wdq[3][D * K], proj[3][T * D], expect[T * D], got[T * D];
    void *packed[3] = {NULL, NULL, NULL};

    /* 1. Weights: random f32, quantized to q4 with groups of 64 along K. */
    quanta_tensor_desc wdesc = {QUANTA_Q4, 2, {D, K, 0, 0}, 64, 0};
    size_t wbytes;
    CHECK(quanta_tensor_bytes(&wdesc, &wbytes));
    unsigned seed = 12345;
    for (int i = 0; i < T * K; i++) x[i] = next_value(&seed);
    for (int m = 0; m < 3; m++) {
        for (int i = 0; i < D * K; i++) w[m][i] = next_value(&seed) * 0.2f;
        packed[m] = malloc(wbytes);
        if (!packed[m]) {
            fprintf(stderr, "basic: out of memory\n");
            goto cleanup;
        }
        CHECK(quanta_quantize(&wdesc, w[m], packed[m], wbytes));
        /* The exact weights the engine will use, for the plain-C check below. */
        CHECK(quanta_dequantize(&wdesc, packed[m], wbytes, wdq[m], (size_t)D * K));
    }

    /* 2. Backend and graph: x -> q, k, v projections -> causal attention. */
    CHECK(quanta_backend_open(spec, &backend));
    quanta_device_info info;
    CHECK(quanta_backend_device(backend, &info));
    printf("backend: %s (%s)\n", info.backend, info.name);

    CHECK(quanta_graph_create(&graph));
    quanta_tensor_desc xdesc = {QUANTA_F32, 2, {T, K, 0, 0}, 0, 0};
    quanta_tensor *xt, *heads[3], *out;
    CHECK(quanta_graph_input(graph, "x", &xdesc, &xt));
    const int64_t head_shape[4] = {1, 1, T, D}; /* [batch, heads, tokens, head dim] */
    for (int m = 0; m < 3; m++) {
        quanta_tensor *wt, *y;
        CHECK(quanta_graph_constant(graph, names[m], &wdesc, packed[m], wbytes, &wt));
        CHECK(quanta_matmul(graph, xt, wt, &y));
        CHECK(quanta_reshape(graph, y, 4, head_shape, &heads[m]));
    }
    quanta_attention_params ap = {0.0f /* 1/sqrt(D) */, 1 /* causal */, 0 /* no window */};
    CHECK(quanta_attention(graph, heads[0], heads[1], heads[2], NULL, NULL, &ap, &out));
    CHECK(quanta_graph_output(graph, out));

    /* 3. Plan (orders ops, plans memory, uploads weights), run, read back. */
    CHECK(quanta_plan_create(graph, backend, &plan));
    for (int i = 0; i < quanta_plan_op_count(plan); i++) {
        const char *op, *where;
        CHECK(quanta_plan_op_info(plan, i, &op, &where));
        printf("  op %d: %-10s on %s\n", i, op, where);
    }
    CHECK(quanta_plan_set_input(plan, xt, x, sizeof x));
    CHECK(quanta_plan_execute(plan));
    CHECK(quanta_plan_get_output(plan, out, got, sizeof got));

    /* 4. The same computation in plain C, and the comparison. */
    for (int m = 0; m < 3; m++) project(x, wdq[m], proj[m]);
    attention(proj[0], proj[1], proj[2], expect);
    double sum_got = 0, sum_expect = 0, max_err = 0, max_ref = 0;
    int not_finite = 0;
    for (int i = 0; i < T * D; i++) {
        if (!isfinite(got[i])) not_finite++;
        sum_got += got[i];
        sum_expect += expect[i];
        if (fabs((double)got[i] - expect[i]) > max_err) max_err = fabs((double)got[i] - expect[i]);
        if (fabs((double)expect[i]) > max_ref) max_ref = fabs((double)expect[i]);
    }
    printf("checksum: quanta %.6f, plain C %.6f, max abs error %.3g (largest value %.3g)\n", sum_got, sum_expect,
           max_err, max_ref);
    /* f32 throughout; backends may sum in another order or use f16 inside: allow 0.1% of the range */
    if (not_finite == 0 && max_err <= 1e-3 * max_ref) {
        printf("OK\n");
        rc = 0;
    } else {
        fprintf(stderr, "basic: result differs from the plain-C computation\n");
    }

cleanup:
    quanta_plan_destroy(plan);
    quanta_graph_destroy(graph);
    quanta_backend_close(backend);
    for (int m = 0; m < 3; m++) free(packed[m]);
    return rc;
}
