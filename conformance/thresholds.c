/* thresholds.c — how a case's pass threshold is found: in its op entry's rows (ops/<op>.c, the
 * only place they are kept), or the element-wise rows below; and why the numbers are what they are.
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
 *   that NMSE would average away in a large output. Except fp8_e4m3 weights, whose x may be
 *   rounded to e4m3 (3 mantissa bits, FP8 x FP8 tensor cores): their row in ops/matmul.c.
 * - rope: an f32 backend forms the angle pos·θ^(−2i/D) in f32; at positions ~4096 that loses
 *   ~4096·6e-8 = 2.4e-4 rad, i.e. NMSE up to ~1e-7 against the double oracle, hence 1e-6.
 * - get_rows of quantized tables: dequantization is one or two f32 roundings (double-quant
 *   nf4 may fuse a multiply-add), so 1e-12, not bit-exact.
 * - exact: write_rows, permute, convert, get_rows of dense tables move or round single
 *   values (round-to-nearest-even conversions), so any difference is a bug.
 *
 * Cancellation (matmul, matmul_multi: results that are dot products; runner.c, qc_judge). The
 * error of a reduced-precision path scales with its operands, not with its result: x rounded to
 * int8 per block (ggml's q8_0 activations, one or two planes), to f16/bf16/tf32, or summed in f32
 * is x·wᵀ plus Σ_k w_k·e_k with |e_k| bounded by x's block scale (or |x_k|·2^-p), so by
 * Cauchy-Schwarz |err| <= |w|·|e| = δ·|w|·|x| for the path's δ; it does not shrink when the sum
 * cancels. A result near zero (a 1x1 product, k = 32, |y| ~ 1e-4 of |w||x|) then has an NMSE of
 * err²/y², unbounded as y -> 0: every finite precision fails some draw (OpenCL's two-plane int8
 * Q5_0 GEMV: 81 of 100000 seeds of matmul:m=1,n=1,k=32,w=q5_0; f32 sums of fp8 x bf16 at k = 3:
 * 1 in 1000). More precision (a third int8 plane) only makes the draws rarer. So the measures
 * take the energy the results would have with their operands in general position, E = |x_m|²|w_n|²/K
 * per result (E[y²] for random signs: the inputs are drawn so that E ~ y²): NMSE = Σ(a−b)² /
 * max(Σb², ΣE) and maxrel's scale max(max|b|, max √E). Where the results do not cancel (Σb² >= ΣE;
 * a large output's Σb² is within a few % of ΣE either way) the measures are the plain ones; they are
 * never stricter, and looser only by the factor the result cancelled by. A third int8 plane in
 * OpenCL's GEMV was the alternative: one more dot product, shift and add per block pair in a kernel
 * that is instruction-bound on PoCL (bench/NOTES.md section 1), for failing draws 256x rarer, not
 * none. matmul_glu's results (act(x·w_gᵀ)·(x·w_uᵀ): two products, an activation) keep the plain
 * measure: its cases have at least 33 results, whose sum of squares does not cancel.
 */
#include "op_entry.h"

const qc_thr_row qc_elementwise_thr[] = {
    {QUANTA_F32, {1e-7, 1e-4, false, "ggml default for f32 element-wise ops"}},
    {QUANTA_F16, {1e-6, 4e-3, false, "f16 output: one-ulp disagreements (2^-11 relative)"}},
    {QUANTA_BF16, {2e-5, 3e-2, false, "bf16 output: one-ulp disagreements (~4e-6 NMSE each)"}},
    QC_THR_END};

static const qc_thr_row *rows_of(const qc_op_def *def) {
    return def->thresholds ? def->thresholds : qc_elementwise_thr;
}

qc_threshold qc_threshold_for(const qc_case *c) {
    const qc_op_def *def = qc_op_def_of(c->op);
    if (def) {
        int dt = def->threshold_dtype ? (int)def->threshold_dtype(c) : (int)c->dtype;
        for (const qc_thr_row *r = rows_of(def); r->thr.why; r++)
            if (r->dtype == QC_ANY_DTYPE || r->dtype == dt) return r->thr;
    }
    /* Unreachable for valid cases (every dtype has a row); strictest possible otherwise. */
    qc_threshold strict = {0, 0, true, "no threshold row: exact"};
    return strict;
}

static void print_row(FILE *f, const char *op, const qc_thr_row *r) {
    const char *dt = r->dtype == QC_ANY_DTYPE ? "any" : quanta_dtype_name((quanta_dtype)r->dtype);
    if (r->thr.exact) fprintf(f, "%-15s %-6s %-9s %-9s %s\n", op, dt, "exact", "0", r->thr.why);
    else fprintf(f, "%-15s %-6s %-9.1e %-9.1e %s\n", op, dt, r->thr.nmse, r->thr.maxrel, r->thr.why);
}

void qc_print_thresholds(FILE *f) {
    fprintf(f, "%-15s %-6s %-9s %-9s %s\n", "op", "dtype", "nmse", "maxrel", "why");
    qc_op ops[QC_OP_MAX];
    int n = qc_op_list(ops);
    char elementwise[256] = "";
    size_t used = 0;
    for (int i = 0; i < n; i++) {
        const qc_op_def *def = qc_op_def_of(ops[i]);
        if (!def->thresholds) {
            if (used < sizeof elementwise)
                used += (size_t)snprintf(elementwise + used, sizeof elementwise - used, "%s%s", used ? ", " : "",
                                         qc_op_name(ops[i]));
            continue;
        }
        for (const qc_thr_row *r = def->thresholds; r->thr.why; r++) print_row(f, qc_op_name(ops[i]), r);
    }
    for (const qc_thr_row *r = qc_elementwise_thr; r->thr.why; r++) print_row(f, "elementwise", r);
    fprintf(f, "(elementwise: %s)\n", elementwise);
}
