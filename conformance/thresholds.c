/* thresholds.c — THE table of pass thresholds (the only place they are kept).
 *
 * A backend's output a passes against the reference output b when
 *     NMSE = Σ(a−b)² / Σb²  <= nmse    and    max|a−b| <= maxrel · max|b|
 * or, for exact ops, when every element is equal after conversion to f32.
 *
 * Where the numbers come from:
 * - ggml's test-backend-ops: 1e-7 for f32 element-wise ops, 5e-4 for mul_mat and flash
 *   attention, 1e-6 for softmax. Our oracle accumulates in double, ggml's in f32; the f32
 *   numbers still hold because the backends' own error dominates.
 * - f16/bf16 outputs: the reference and the backend both round their result to the output
 *   type, so they disagree only where the two unrounded values straddle a rounding boundary;
 *   each such element is off by one ulp: 2^-11..2^-10 relative for f16 (NMSE contribution
 *   ~1e-7 if every element were off), 2^-8..2^-7 for bf16 (~4e-6..1.5e-5). Element-wise
 *   thresholds widen to 1e-6 (f16) and 2e-5 (bf16) for that, and maxrel to a few ulps of the
 *   largest value.
 * - matmul and attention: the 5e-4 NMSE bound already covers a backend that computes in
 *   f16/bf16 or int8 internally (tensor cores, on-the-fly activation quantization); maxrel
 *   (a wrong element of at most 2-5% of the largest value) catches a single corrupted element
 *   that NMSE would average away in a large output.
 * - rope: an f32 backend forms the angle pos·θ^(−2i/D) in f32; at positions ~4096 that loses
 *   ~4096·6e-8 = 2.4e-4 rad, i.e. NMSE up to ~1e-7 against the double oracle, hence 1e-6.
 * - get_rows of quantized tables: dequantization is one or two f32 roundings (double-quant
 *   nf4 may fuse a multiply-add), so 1e-12, not bit-exact.
 * - exact: write_rows, permute, convert, get_rows of dense tables move or round single
 *   values (round-to-nearest-even conversions), so any difference is a bug.
 */
#include "conform.h"

typedef struct thr_row {
    qc_op op;
    int dtype;   /* -1 = any */
    qc_threshold thr;
} thr_row;

#define ANY (-1)
#define F32 QUANTA_F32
#define F16 QUANTA_F16
#define BF16 QUANTA_BF16

static const thr_row rows[] = {
    /* exact ops */
    {QC_WRITE_ROWS, ANY, {0, 0, true, "moves values: must be bit-exact"}},
    {QC_PERMUTE, ANY, {0, 0, true, "moves values: must be bit-exact"}},
    {QC_CONVERT, ANY, {0, 0, true, "one round-to-nearest-even per value: must be exact"}},
    {QC_GET_ROWS, F32, {0, 0, true, "dense table rows copied/converted: exact"}},
    {QC_GET_ROWS, F16, {0, 0, true, "dense table rows copied/converted: exact"}},
    {QC_GET_ROWS, BF16, {0, 0, true, "dense table rows copied/converted: exact"}},
    {QC_GET_ROWS, ANY, {1e-12, 1e-6, false, "quantized table: one or two f32 roundings per value"}},

    {QC_MATMUL, F32, {5e-4, 2e-2, false, "ggml mul_mat; accumulation order, f16/tf32/int8 internal paths"}},
    {QC_MATMUL, F16, {5e-4, 2e-2, false, "ggml mul_mat; + f16 output rounding"}},
    {QC_MATMUL, BF16, {5e-4, 4e-2, false, "ggml mul_mat; + bf16 output rounding (2^-8 relative)"}},
    {QC_ATTENTION, F32, {5e-4, 2e-2, false, "ggml flash attention; online softmax, exp approximations"}},
    {QC_ATTENTION, F16, {5e-4, 2e-2, false, "ggml flash attention; + f16 P and output rounding"}},
    {QC_ATTENTION, BF16, {5e-4, 4e-2, false, "ggml flash attention; + bf16 P and output rounding"}},
    {QC_PAGED_ATTENTION, F32, {5e-4, 2e-2, false, "as attention: online softmax in f32"}},
    {QC_PAGED_ATTENTION, F16, {5e-4, 2e-2, false, "as attention; + f16 output rounding"}},
    {QC_PAGED_ATTENTION, BF16, {5e-4, 4e-2, false, "as attention; + bf16 output rounding"}},

    {QC_SOFTMAX, F32, {1e-6, 1e-4, false, "ggml softmax; exp in f32"}},
    {QC_SOFTMAX, F16, {1e-5, 4e-3, false, "softmax; f16 output ulps"}},
    {QC_SOFTMAX, BF16, {5e-5, 3e-2, false, "softmax; bf16 output ulps"}},

    {QC_ROPE, F32, {1e-6, 1e-3, false, "f32 angles at positions ~4096 lose ~2.4e-4 rad"}},
    {QC_ROPE, F16, {2e-6, 4e-3, false, "f32 angles + f16 output ulps"}},
    {QC_ROPE, BF16, {2e-5, 3e-2, false, "f32 angles + bf16 output ulps"}},

    /* element-wise and row-wise: silu, gelu, add, mul, scale, rms_norm */
    {QC_OP_COUNT, F32, {1e-7, 1e-4, false, "ggml default for f32 element-wise ops"}},
    {QC_OP_COUNT, F16, {1e-6, 4e-3, false, "f16 output: one-ulp disagreements (2^-11 relative)"}},
    {QC_OP_COUNT, BF16, {2e-5, 3e-2, false, "bf16 output: one-ulp disagreements (~4e-6 NMSE each)"}},
};
#define NROWS (sizeof rows / sizeof rows[0])

/* The dtype that decides a case's row: the table's format for get_rows, else the result's. */
static int key_dtype(const qc_case *c) {
    if (c->op == QC_GET_ROWS) return c->wtype;
    if (c->op == QC_CONVERT) return c->to;
    return c->dtype;
}

qc_threshold qc_threshold_for(const qc_case *c) {
    int dt = key_dtype(c);
    for (size_t i = 0; i < NROWS; i++)
        if (rows[i].op == c->op && (rows[i].dtype == ANY || rows[i].dtype == dt)) return rows[i].thr;
    for (size_t i = 0; i < NROWS; i++)
        if (rows[i].op == QC_OP_COUNT && rows[i].dtype == dt) return rows[i].thr;
    /* Unreachable for valid cases (every dtype has a row); strictest possible otherwise. */
    qc_threshold strict = {0, 0, true, "no threshold row: exact"};
    return strict;
}

void qc_print_thresholds(FILE *f) {
    fprintf(f, "%-12s %-6s %-9s %-9s %s\n", "op", "dtype", "nmse", "maxrel", "why");
    for (size_t i = 0; i < NROWS; i++) {
        const thr_row *r = &rows[i];
        const char *op = r->op == QC_OP_COUNT ? "elementwise" : qc_op_name(r->op);
        const char *dt = r->dtype == ANY ? "any" : quanta_dtype_name((quanta_dtype)r->dtype);
        if (r->thr.exact) fprintf(f, "%-12s %-6s %-9s %-9s %s\n", op, dt, "exact", "0", r->thr.why);
        else fprintf(f, "%-12s %-6s %-9.1e %-9.1e %s\n", op, dt, r->thr.nmse, r->thr.maxrel, r->thr.why);
    }
}
