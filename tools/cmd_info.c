/* quanta info — version, compiled backends, every device with its capabilities and, with
 * --verbose, where each op of a small demo graph runs on each device (fallbacks shown). */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_args.h"
#include "commands.h"
#include "json_write.h"
#include "quanta.h"

static int check(quanta_status st, const char *what) {
    if (st == QUANTA_OK) return 0;
    fprintf(stderr, "quanta info: %s: %s: %s\n", what, quanta_status_name(st), quanta_last_error());
    return -1;
}

static void print_device(int i, const quanta_device_info *d) {
    printf("device %d: %s:%d  %s\n", i, d->backend, d->index, d->name);
    printf("  vendor:         %s\n", d->vendor);
    printf("  driver:         %s\n", d->driver);
    if (d->memory_bytes) printf("  memory:         %.2f GiB\n", (double)d->memory_bytes / (1024.0 * 1024.0 * 1024.0));
    else printf("  memory:         unknown\n");
    printf("  compute units:  %d\n", d->compute_units);
    printf("  fp16:           %s\n", d->has_fp16 ? "yes" : "no");
    printf("  subgroups:      %s\n", d->has_subgroups ? "yes" : "no");
    if (d->details[0]) printf("  details:        %s\n", d->details);
}

/* A weight matrix with deterministic values, quantized to `dtype`, as a graph constant. */
static int weight(quanta_graph *g, const char *name, quanta_dtype dtype, int64_t rows, int64_t cols,
                  quanta_tensor **out) {
    quanta_tensor_desc d = {dtype, 2, {rows, cols, 0, 0}, 0, 0};
    size_t bytes;
    if (check(quanta_tensor_bytes(&d, &bytes), "quanta_tensor_bytes")) return -1;
    float *src = malloc((size_t)(rows * cols) * sizeof *src);
    void *dst = malloc(bytes);
    int rc = -1;
    if (!src || !dst) {
        fprintf(stderr, "quanta info: out of memory\n");
    } else {
        for (int64_t i = 0; i < rows * cols; i++) src[i] = 0.05f * sinf((float)i * 0.37f);
        if (!check(quanta_quantize(&d, src, dst, bytes), "quanta_quantize") &&
            !check(quanta_graph_constant(g, name, &d, dst, bytes, out), "quanta_graph_constant"))
            rc = 0;
    }
    free(src);
    free(dst);
    return rc;
}

/* A decoder-layer-shaped demo: embedding lookup (nf4), rms_norm, q4/fp8 projections, rope,
 * attention in f16, silu gating, residual add, and a softmax over logits. */
static int demo_graph(quanta_graph *g) {
    const int64_t T = 4, D = 128, H = 2, HD = 64, V = 64, F = 256;
    quanta_tensor_desc ids_d = {QUANTA_I32, 1, {T, 0, 0, 0}, 0, 0};
    quanta_tensor *ids, *pos, *emb, *wq, *wk, *wv, *wup, *wout, *x, *h, *q, *k, *v, *a, *y;
    if (check(quanta_graph_input(g, "ids", &ids_d, &ids), "graph input ids") ||
        check(quanta_graph_input(g, "positions", &ids_d, &pos), "graph input positions") ||
        weight(g, "embedding", QUANTA_NF4, V, D, &emb) || weight(g, "wq", QUANTA_Q4, D, D, &wq) ||
        weight(g, "wk", QUANTA_Q8, D, D, &wk) || weight(g, "wv", QUANTA_FP8_E4M3, D, D, &wv) ||
        weight(g, "w_up", QUANTA_Q4, F, D, &wup) || weight(g, "w_out", QUANTA_F16, V, F, &wout))
        return -1;
    int64_t heads[4] = {1, T, H, HD}, perm_shape[4] = {T, D, 0, 0};
    int32_t perm[4] = {0, 2, 1, 3};
    quanta_rope_params rp = {QUANTA_ROPE_NEOX, 10000.0f, 1.0f, 0};
    quanta_attention_params ap = {0.0f, 1, 0};
    if (check(quanta_get_rows(g, emb, ids, &x), "get_rows") ||
        check(quanta_rms_norm(g, x, NULL, 1e-5f, 0, &h), "rms_norm") ||
        check(quanta_matmul(g, h, wq, &q), "matmul q") || check(quanta_matmul(g, h, wk, &k), "matmul k") ||
        check(quanta_matmul(g, h, wv, &v), "matmul v") ||
        check(quanta_reshape(g, q, 4, heads, &q), "reshape q") || check(quanta_reshape(g, k, 4, heads, &k), "reshape k") ||
        check(quanta_reshape(g, v, 4, heads, &v), "reshape v") || check(quanta_permute(g, q, perm, &q), "permute q") ||
        check(quanta_permute(g, k, perm, &k), "permute k") || check(quanta_permute(g, v, perm, &v), "permute v") ||
        check(quanta_rope(g, q, pos, &rp, &q), "rope q") || check(quanta_rope(g, k, pos, &rp, &k), "rope k") ||
        check(quanta_convert(g, q, QUANTA_F16, &q), "convert q") ||
        check(quanta_convert(g, k, QUANTA_F16, &k), "convert k") ||
        check(quanta_convert(g, v, QUANTA_F16, &v), "convert v") ||
        check(quanta_attention(g, q, k, v, NULL, NULL, &ap, &a), "attention") ||
        check(quanta_convert(g, a, QUANTA_F32, &a), "convert attention") ||
        check(quanta_permute(g, a, perm, &a), "permute attention") ||
        check(quanta_reshape(g, a, 2, perm_shape, &a), "reshape attention") ||
        check(quanta_add(g, a, x, &y), "add residual") || check(quanta_matmul(g, y, wup, &h), "matmul up") ||
        check(quanta_silu(g, h, &a), "silu") || check(quanta_mul(g, a, h, &a), "mul gate") ||
        check(quanta_gelu(g, a, 1, &a), "gelu") || check(quanta_scale(g, a, 0.5f, &a), "scale") ||
        check(quanta_matmul(g, a, wout, &y), "matmul out") || check(quanta_softmax(g, y, &y), "softmax") ||
        check(quanta_graph_output(g, y), "graph output"))
        return -1;
    return 0;
}

static int placement(const quanta_device_info *d) {
    char spec[48];
    if (!strcmp(d->backend, "ref")) snprintf(spec, sizeof spec, "ref");
    else snprintf(spec, sizeof spec, "%s:%d", d->backend, d->index);
    quanta_backend *be = NULL;
    quanta_graph *g = NULL;
    quanta_plan *plan = NULL;
    int rc = -1;
    printf("  demo graph placement on %s:\n", spec);
    quanta_status st = quanta_backend_open(spec, &be);
    if (st != QUANTA_OK) {
        printf("    cannot open: %s: %s\n", quanta_status_name(st), quanta_last_error());
        return st == QUANTA_ERR_NO_DEVICE ? 0 : -1;
    }
    if (!check(quanta_graph_create(&g), "quanta_graph_create") && !demo_graph(g) &&
        !check(quanta_plan_create(g, be, &plan), "quanta_plan_create")) {
        int n = quanta_plan_op_count(plan);
        rc = 0;
        for (int i = 0; i < n && rc == 0; i++) {
            const char *op, *where;
            if (check(quanta_plan_op_info(plan, i, &op, &where), "quanta_plan_op_info")) {
                rc = -1;
                break;
            }
            bool fb = strcmp(d->backend, "ref") && !strcmp(where, "ref");
            printf("    %3d %-12s %s%s\n", i, op, where, fb ? "  (fallback)" : "");
        }
        size_t peak = 0;
        (void)quanta_plan_peak_bytes(plan, &peak);
        if (rc == 0)
            printf("    %d ops, %d fall back to ref, %zu bytes of intermediates\n", n, quanta_plan_fallback_count(plan),
                   peak);
    }
    quanta_plan_destroy(plan);
    quanta_graph_destroy(g);
    quanta_backend_close(be);
    return rc;
}

static void usage(FILE *f) {
    fprintf(f, "usage: quanta info [--verbose] [--json]\n\n"
               "Prints the version, the compiled backends (with \"devices: none\" and the reason for one\n"
               "without a usable device) and every device with its capabilities.\n"
               "  -v, --verbose   also plan a small demo graph on each device and show where each op runs\n"
               "                  (ops the backend lacks fall back to the reference backend)\n"
               "  --json          the same facts as one JSON object on stdout\n\n"
               "Exit status: 0 done, 1 failure, 2 usage error.\n");
}

/* Devices of one compiled backend; when it has none, why (the backend's own open error). */
static int backend_devices(const char *name, int count, char *why, size_t cap) {
    int n = 0;
    for (int i = 0; i < count; i++) {
        quanta_device_info d;
        if (quanta_device_get(i, &d) == QUANTA_OK && !strcmp(d.backend, name)) n++;
    }
    why[0] = 0;
    if (n == 0) {
        quanta_backend *be = NULL;
        quanta_status st = quanta_backend_open(name, &be);
        if (st) snprintf(why, cap, "%s", quanta_last_error());
        quanta_backend_close(be);
    }
    return n;
}

static void print_json(int count) {
    char compiled[256], why[512];
    snprintf(compiled, sizeof compiled, "%s", quanta_backends_compiled());
    printf("{\"version\": ");
    qn_json_write_str(stdout, quanta_version());
    printf(", \"version_number\": %d, \"backends\": [", quanta_version_number());
    int first = 1;
    for (char *save = NULL, *b = strtok_r(compiled, ",", &save); b; b = strtok_r(NULL, ",", &save)) {
        int n = backend_devices(b, count, why, sizeof why);
        printf("%s{\"name\": ", first ? "" : ", ");
        qn_json_write_str(stdout, b);
        printf(", \"devices\": %d", n);
        if (!n) {
            printf(", \"reason\": ");
            qn_json_write_str(stdout, why);
        }
        printf("}");
        first = 0;
    }
    printf("], \"devices\": [");
    for (int i = 0; i < count; i++) {
        quanta_device_info d;
        if (quanta_device_get(i, &d)) continue;
        printf("%s{\"backend\": ", i ? ", " : "");
        qn_json_write_str(stdout, d.backend);
        printf(", \"index\": %d, \"name\": ", d.index);
        qn_json_write_str(stdout, d.name);
        printf(", \"vendor\": ");
        qn_json_write_str(stdout, d.vendor);
        printf(", \"driver\": ");
        qn_json_write_str(stdout, d.driver);
        printf(", \"memory_bytes\": %llu, \"compute_units\": %d, \"fp16\": %s, \"subgroups\": %s, \"details\": ",
               (unsigned long long)d.memory_bytes, d.compute_units, d.has_fp16 ? "true" : "false",
               d.has_subgroups ? "true" : "false");
        qn_json_write_str(stdout, d.details);
        printf("}");
    }
    printf("]}\n");
}

int qn_cmd_info(int argc, char **argv) {
    bool verbose = false, json = false;
    static const struct option longopts[] = {
        {"verbose", no_argument, NULL, 'v'}, {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    qn_getopt_state gs;
    qn_getopt_begin(&gs, "info", argc, argv, "vh", longopts, 0);
    for (int c; (c = qn_getopt(&gs)) != -1;) {
        if (c == 'v') verbose = true;
        else if (c == 'j') json = true;
        else if (c == 'h') {
            usage(stdout);
            return QN_EXIT_OK;
        } else return QN_EXIT_USAGE;
    }
    if (json && verbose) return qn_usage_error("info", "--json and --verbose do not combine");
    int count = 0;
    if (check(quanta_device_count(&count), "quanta_device_count")) return QN_EXIT_FAIL;
    if (json) {
        print_json(count);
        return QN_EXIT_OK;
    }
    printf("quanta %s (version number %d)\n", quanta_version(), quanta_version_number());
    printf("compiled backends: %s\n", quanta_backends_compiled());
    /* Every weight format the library reads (quanta_dtype values from 16 on have names). */
    printf("weight formats:");
    for (int t = 16; t < 64; t++)
        if (quanta_dtype_name((quanta_dtype)t)) printf(" %s", quanta_dtype_name((quanta_dtype)t));
    printf("\n");
    char compiled[256], why[512];
    snprintf(compiled, sizeof compiled, "%s", quanta_backends_compiled());
    for (char *save = NULL, *b = strtok_r(compiled, ",", &save); b; b = strtok_r(NULL, ",", &save)) {
        int n = backend_devices(b, count, why, sizeof why);
        if (n) printf("backend %-7s devices: %d\n", b, n);
        else printf("backend %-7s devices: none (%s)\n", b, why);
    }
    printf("devices: %d\n", count);
    int rc = QN_EXIT_OK;
    for (int i = 0; i < count; i++) {
        quanta_device_info d;
        if (check(quanta_device_get(i, &d), "quanta_device_get")) {
            rc = QN_EXIT_FAIL;
            continue;
        }
        printf("\n");
        print_device(i, &d);
        if (verbose && placement(&d)) rc = QN_EXIT_FAIL;
    }
    return rc;
}
