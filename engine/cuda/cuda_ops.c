/*
 * cuda_ops.c — which nodes the CUDA backend runs and their launch (run). The kernel table
 * (qn_cuda_kernels) lists the dtypes the kernels decode per op; supports_op adds only the
 * kernels' own limits (block-aligned ggml rows, a weight prepared at upload, head dims the
 * attention kernels hold). Dtypes, ranks and shapes were validated by the op table's infer
 * when the graph was built. Anything else falls back to the reference backend.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_internal.h"
#include "cuda_attention_plan.h" /* and kernels_cuda/attention.h */
#include "op_table.h"
#include "paged_attention.h" /* kernels_cuda/ */

static const qn_tensor *src_at(const qn_node *n, int i) { return i < n->nsrc ? n->src[i] : NULL; }

static int64_t elems(const qn_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->desc.ndim; i++) n *= t->desc.dims[i];
    return n;
}

static int64_t last_dim(const qn_tensor *t) { return t->desc.ndim > 0 ? t->desc.dims[t->desc.ndim - 1] : 1; }

/* ------------------------------------------------------------------ matmul */

static void matmul_shapes(const qn_node *node, int64_t *M, int64_t *N, int64_t *K) {
    const qn_tensor *x = src_at(node, 0), *w = src_at(node, 1);
    *K = last_dim(x);
    *N = w->desc.dims[0];
    *M = 1;
    for (int i = 0; i < x->desc.ndim - 1; i++) *M *= x->desc.dims[i];
}

/* A ggml-format table or weight the kernels read in place: whole blocks per row, and the
 * 4-byte alignment their 32-bit loads assume (device allocations are 256-byte aligned). */
static bool ggml_ok(const qn_tensor *w) {
    const uint32_t blk = qn_ggml_block_of(w->desc.dtype, NULL, NULL);
    return w->desc.dims[1] % blk == 0 && ((uintptr_t)qn_cuda_ptr(w) & 3u) == 0;
}

static bool matmul_ok(const qn_node *node) {
    const qn_tensor *w = src_at(node, 1);
    if (qn_dtype_is_ggml(w->desc.dtype)) return ggml_ok(w);
    if (w->aux) return true;
    return qn_dtype_is_float(w->desc.dtype); /* dense weights without a prepared form */
}

/* matmul_glu: ggml weights (the table admits no other) in the GEMV's range of M. */
static bool matmul_glu_ok(const qn_node *node) {
    int64_t M, N, K;
    matmul_shapes(node, &M, &N, &K);
    return M <= QN_CUDA_GGML_GEMV_MAX_M && ggml_ok(src_at(node, 1)) && ggml_ok(src_at(node, 2));
}

static int glu_act(const qn_node *node) {
    return node->params.glu_act == QUANTA_GLU_SILU        ? QN_UNARY_SILU
           : node->params.glu_act == QUANTA_GLU_GELU_TANH ? QN_UNARY_GELU_TANH
                                                           : QN_UNARY_GELU;
}

/* Whether matmul_glu takes the int8 GEMV with both planes of x's codes (about 16 bits of x: the one
 * plane's error, which the gate's activation multiplies, broke the conformance bound on q5_k at K = 768
 * and 1024 in the H200 run of 2026-12-05 13:10) rather than the f32 form, which decodes every weight
 * value in f32 (bd8bc16). QUANTA_CUDA_GLU_INT8=0 keeps the f32 form (side-by-side timings). */
QN_CUDA_SWITCH_FN(glu_int8_wanted, qn_cuda_switch_on, "QUANTA_CUDA_GLU_INT8")

/* Whether a batch-1 GEMV of a small weight (K <= QN_CUDA_GGML_GEMV_QX_MAX_K, N <= 4096: Gemma's output
 * and down projections) whose x has no codes yet quantizes x in the kernel instead of a quantize launch
 * before it (each block reads all of x: K floats, little next to a launch for such weights). The same
 * codes, so the same results. QUANTA_CUDA_GEMV_QX=0 keeps the quantize launch (side-by-side timings). */
QN_CUDA_SWITCH_FN(gemv_qx_wanted, qn_cuda_switch_on, "QUANTA_CUDA_GEMV_QX")

/* Whether a batch-1 matmul_glu on the staged kernel (q4_0 / q8_0) also writes its result's int8 codes, made
 * by the block that completes each 32 outputs, so the down projection after it needs no quantize launch
 * (the same codes as that launch makes, so the same results): QUANTA_CUDA_GLU_CODES=1. Off by default until
 * measured on a GPU. */
QN_CUDA_SWITCH_FN(glu_codes_wanted, qn_cuda_switch_opt_in, "QUANTA_CUDA_GLU_CODES")

/* Whether s->xq holds x's codes (left by the last GEMV or the norm that wrote x). */
static bool codes_cached(const qn_cuda_state *s, const void *xp, int xd, int64_t M, int64_t K) {
    return s->xq_src == xp && s->xq_M == M && s->xq_K == K && s->xq_dtype == xd;
}

/* x's int8 codes in s->xq (*xq): the cached ones, else made by a quantize launch and cached. */
static quanta_status gemv_codes(qn_cuda_state *s, const void *xp, int xd, int64_t M, int64_t K, void **xq) {
    quanta_status st = qn_cuda_xq(s, qn_cuda_ggml_xq_bytes(M, K), xq);
    if (st || codes_cached(s, xp, xd, M, K)) return st; /* a moved buffer dropped the cache */
    const int e = qn_cuda_ggml_quantize_x(xd, xp, M, K, *xq, s->stream);
    if (e) return qn_cuda_error((cudaError_t)e, "ggml GEMV: quantizing x");
    s->xq_src = xp, s->xq_M = M, s->xq_K = K, s->xq_dtype = xd;
    return QUANTA_OK;
}

/* A result y (ybytes) overlapping x (xbytes; an arena reusing x's memory) ends the reuse of x's codes (and of its
 * kept prep). */
static void gemv_result_written(qn_cuda_state *s, const void *xp, size_t xbytes, const void *yp, size_t ybytes) {
    const char *y0 = yp, *x0 = xp;
    if (y0 < x0 + xbytes && x0 < y0 + ybytes) qn_cuda_forget_x(s);
}

/* ggml weights at M <= QN_CUDA_GGML_GEMV_MAX_M (matmul, and matmul_glu with its w_up): the int8
 * GEMV for rows of at least QN_CUDA_GGML_GEMV_MIN_K (x quantized once for consecutive matmuls
 * on the same x, or left quantized by the norm that wrote x; matmul_glu reads both planes of the
 * codes), its f32 form for shorter rows (and for matmul_glu with QUANTA_CUDA_GLU_INT8=0). */
static quanta_status run_gemv_ggml(qn_cuda_state *s, const qn_node *node, int64_t M, int64_t N, int64_t K) {
    const qn_tensor *x = src_at(node, 0), *w = src_at(node, 1), *y = node->dst;
    const int glu = node->op == QN_OP_MATMUL_GLU, act = glu ? glu_act(node) : 0;
    const void *wup = glu ? qn_cuda_ptr(src_at(node, 2)) : NULL, *xp = qn_cuda_ptr(x);
    const int wd = (int)w->desc.dtype, xd = (int)x->desc.dtype, yd = (int)y->desc.dtype;
    int e;
    if (K < QN_CUDA_GGML_GEMV_MIN_K || (glu && !glu_int8_wanted())) {
        e = qn_cuda_ggml_gemv_f32(wd, qn_cuda_ptr(w), wup, act, N, K, xd, xp, M, yd, qn_cuda_ptr(y), s->stream);
        return e ? qn_cuda_error((cudaError_t)e, "matmul (ggml GEMV, f32)") : QUANTA_OK;
    }
    if (!codes_cached(s, xp, xd, M, K) && !glu && gemv_qx_wanted() && M == 1 && K <= QN_CUDA_GGML_GEMV_QX_MAX_K && N <= 4096) {
        e = qn_cuda_ggml_gemv_qx(wd, qn_cuda_ptr(w), N, K, xd, xp, yd, qn_cuda_ptr(y), s->stream);
        return e ? qn_cuda_error((cudaError_t)e, "matmul (ggml GEMV, x quantized in the kernel)") : QUANTA_OK;
    }
    void *xq = NULL;
    quanta_status st = gemv_codes(s, xp, xd, M, K, &xq);
    if (st) return st;
    if (glu && M == 1 && N / 32 <= QN_CUDA_MATMUL_COUNTERS && glu_codes_wanted()) {
        void *yq = NULL;
        if ((st = qn_cuda_xq_alt(s, qn_cuda_ggml_xq_bytes(1, N), &yq))) return st;
        e = qn_cuda_ggml_gemv_glu_codes(wd, qn_cuda_ptr(w), wup, act, N, K, xq, yd, qn_cuda_ptr(y), yq, s->counters,
                                        s->stream);
        if (e != (int)cudaErrorNotSupported) {
            if (e) return qn_cuda_error((cudaError_t)e, "matmul_glu (ggml GEMV leaving its result's codes)");
            qn_cuda_xq_take_alt(s, qn_cuda_ptr(y), 1, N, yd);
            return QUANTA_OK;
        }
    }
    e = qn_cuda_ggml_gemv(wd, qn_cuda_ptr(w), wup, act, N, K, xq, M, yd, qn_cuda_ptr(y), s->stream);
    gemv_result_written(s, xp, (size_t)M * (size_t)K * qn_dtype_elem_size(x->desc.dtype), qn_cuda_ptr(y),
                        (size_t)M * (size_t)N * qn_dtype_elem_size(y->desc.dtype));
    return e ? qn_cuda_error((cudaError_t)e, "matmul (ggml GEMV)") : QUANTA_OK;
}

/* Whether the ggml tensor-core kernel (kernels_cuda/ggml_mmq.cu) takes the matmuls the GEMV does
 * not; QUANTA_CUDA_GGML_MMQ=0 keeps the older route (the weight dequantized into a tiled f16 copy
 * per call, then qn_cuda_matmul_q), for side-by-side runs. */
QN_CUDA_SWITCH_FN(ggml_mmq_wanted, qn_cuda_switch_on, "QUANTA_CUDA_GGML_MMQ")

/* Whether the tensor-core route keeps x's activation prep for the next matmul on the same x (q/k/v read one x,
 * gate/up another: 3 of a LLaMA layer's 7 preps are then skipped; the same values, so the same results): on since
 * 2026-12-07 (mmq17; H100 08:30, verify_mmq18: pp512 +3.3% / +1.7% on the 7B Q4_0 / Q8_0 files, perplexity the same);
 * QUANTA_CUDA_GGML_XKEEP=0 turns it off, and the norms' slab with it. */
QN_CUDA_SWITCH_FN(ggml_xkeep_wanted, qn_cuda_switch_on, "QUANTA_CUDA_GGML_XKEEP")

/* Whether the prefill norms (rms_norm, add_rms_norm, add_norm, rms_norm_add_norm before q/k/v and gate/up) also write
 * their result's kept activation prep (kernels_cuda/ggml_xslab.cuh: the same bits the prep makes from the result as
 * stored), so that even the first GEMM on that x skips its prep: on since 2026-12-07 (mmq18; same call: every slab
 * byte and GEMM output the same as the prep's, perplexity the same, pp512 +4.8% / +2.2% over the default then);
 * QUANTA_CUDA_GGML_NORM_SLAB=0 turns it off (it needs XKEEP). */
QN_CUDA_SWITCH_FN(norm_slab_on, qn_cuda_switch_on, "QUANTA_CUDA_GGML_NORM_SLAB")

static bool norm_slab_wanted(void) { return ggml_xkeep_wanted() && norm_slab_on(); }

/* mmq24 (QUANTA_CUDA_GGML_TLIN=1): the ggml weight's tile-linear copy made at prepare time (cuda_backend.c), or NULL */
static const void *ggml_tlin_copy(const qn_tensor *w) {
    const qn_cuda_prepared *pw = w ? w->aux : NULL;
    return pw && pw->w.fmt == QN_CW_GGML_TLIN ? pw->dev : NULL;
}

/* ggml weights: the GEMV for M <= QN_CUDA_GGML_GEMV_MAX_M (run_gemv_ggml), else the tensor-core
 * kernel that decodes the blocks per tile (or, switched off, the weight dequantized into tiled f16
 * in scratch for qn_cuda_matmul_q). */
static quanta_status run_matmul_ggml(qn_cuda_state *s, const qn_node *node, int64_t M, int64_t N, int64_t K) {
    if (M <= QN_CUDA_GGML_GEMV_MAX_M) return run_gemv_ggml(s, node, M, N, K);
    const qn_tensor *x = src_at(node, 0), *w = src_at(node, 1), *y = node->dst;
    const int wd = (int)w->desc.dtype;
    quanta_status st;
    int e;
    if (ggml_mmq_wanted()) {
        void *scratch = NULL;
        if ((st = qn_cuda_scratch(s, qn_cuda_ggml_mmq_scratch(M, N, K), &scratch))) return st;
        const void *xp = qn_cuda_ptr(x);
        const int xd = (int)x->desc.dtype, yd = (int)y->desc.dtype;
        if (!ggml_xkeep_wanted()) {
            e = qn_cuda_ggml_mmq(wd, qn_cuda_ptr(w), N, K, xd, xp, M, yd, qn_cuda_ptr(y), scratch, s->scratch_bytes,
                                 s->sms, s->stream);
            return e ? qn_cuda_error((cudaError_t)e, "matmul (ggml, tensor cores)") : QUANTA_OK;
        }
        void *mq = NULL;
        if ((st = qn_cuda_mq(s, qn_cuda_ggml_mmq_xprep_bytes(M, K), &mq))) return st;
        int have = s->mq_src == xp && s->mq_M == M && s->mq_K == K && s->mq_dtype == xd ? s->mq_have : 0;
        e = qn_cuda_ggml_mmq_xt(wd, qn_cuda_ptr(w), N, K, xd, xp, M, yd, qn_cuda_ptr(y), scratch, s->scratch_bytes, mq,
                                s->mq_bytes, &have, s->sms, s->stream, ggml_tlin_copy(w));
        s->mq_src = have && !e ? xp : NULL, s->mq_M = M, s->mq_K = K, s->mq_dtype = xd, s->mq_have = have;
        if (have && !e) s->mq_perm = have; /* the order the next norm writes its slab in (mmq18) */
        gemv_result_written(s, xp, (size_t)M * (size_t)K * qn_dtype_elem_size(x->desc.dtype), qn_cuda_ptr(y),
                            (size_t)M * (size_t)N * qn_dtype_elem_size(y->desc.dtype));
        return e ? qn_cuda_error((cudaError_t)e, "matmul (ggml, tensor cores)") : QUANTA_OK;
    }
    const size_t tiled = qn_cuda_ggml_tiled_bytes(N, K);
    void *scratch = NULL;
    qn_cuda_weight tw;
    memset(&tw, 0, sizeof tw);
    tw.N = N, tw.K = K, tw.Np = (N + 15) / 16 * 16, tw.Kp = (K + 63) / 64 * 64, tw.fmt = QN_CW_F16;
    const size_t need = tiled + qn_cuda_matmul_q_scratch(&tw, M, s->sms);
    if ((st = qn_cuda_scratch(s, need, &scratch))) return st;
    if ((e = qn_cuda_ggml_to_tiled(wd, qn_cuda_ptr(w), N, K, scratch, &tw, s->stream)))
        return qn_cuda_error((cudaError_t)e, "matmul: dequantizing the ggml weight");
    e = qn_cuda_matmul_q(&tw, x->desc.dtype, qn_cuda_ptr(x), y->desc.dtype, qn_cuda_ptr(y), M, (char *)scratch + tiled,
                         s->scratch_bytes - tiled, s->counters, QN_CUDA_MATMUL_COUNTERS, s->sms, s->stream);
    return e ? qn_cuda_error((cudaError_t)e, "matmul (ggml, tensor cores)") : QUANTA_OK;
}

/* FP8 x FP8 on Hopper (kernels_cuda/matmul_fp8_wg.cu): e4m3 weights with x quantized per token to e4m3, wgmma
 * e4m3 with f32 sums, at M >= QN_CUDA_FP8_WG_MIN_M on compute capability 9.0. On by default since its H100 run of
 * 2026-12-06 03:55 (bench/cuda/verify_mmq8.sh: conformance 26/26 and every tile forced, compute-sanitizer clean,
 * 2.0-3.7x faster than the f16 route on LLaMA 7B/13B shapes, Gemma fp8 pp512 +40%, greedy text identical);
 * QUANTA_CUDA_FP8_WGMMA=0 keeps x in f16. *taken is false where it does not apply (the caller then runs the f16
 * tensor-core kernel). */
static quanta_status run_matmul_fp8(qn_cuda_state *s, const qn_cuda_weight *w, const qn_tensor *x, const qn_tensor *y,
                                    int64_t M, bool *taken) {
    static atomic_int on = -1;
    *taken = false;
    if (w->fmt != QN_CW_E4M3 || M < QN_CUDA_FP8_WG_MIN_M || !qn_cuda_switch_on("QUANTA_CUDA_FP8_WGMMA", &on))
        return QUANTA_OK;
    void *scratch = NULL;
    quanta_status st = qn_cuda_scratch(s, qn_cuda_fp8_scratch_bytes(M, w->Kp, s->sms), &scratch);
    if (st != QUANTA_OK) return st;
    const int e = qn_cuda_matmul_fp8(w, x->desc.dtype, qn_cuda_ptr(x), y->desc.dtype, qn_cuda_ptr(y), M, scratch,
                                     s->scratch_bytes, s->counters, QN_CUDA_MATMUL_COUNTERS, s->sms, s->stream);
    if (e < 0) return QUANTA_OK; /* not this device */
    *taken = true;
    return e ? qn_cuda_error((cudaError_t)e, "matmul (fp8 x fp8, wgmma)") : QUANTA_OK;
}

static quanta_status run_matmul(qn_cuda_state *s, const qn_node *node) {
    int64_t M, N, K;
    matmul_shapes(node, &M, &N, &K);
    const qn_tensor *x = src_at(node, 0), *w = src_at(node, 1), *y = node->dst;
    int e;
    if (qn_dtype_is_ggml(w->desc.dtype)) return run_matmul_ggml(s, node, M, N, K);
    if (w->aux) {
        const qn_cuda_prepared *pw = w->aux;
        bool fp8 = false;
        quanta_status st8 = run_matmul_fp8(s, &pw->w, x, node->dst, M, &fp8);
        if (fp8 || st8 != QUANTA_OK) return st8;
        const size_t need = qn_cuda_matmul_q_scratch(&pw->w, M, s->sms);
        void *scratch = NULL;
        quanta_status st = qn_cuda_scratch(s, need, &scratch);
        if (st != QUANTA_OK) return st;
        e = qn_cuda_matmul_q(&pw->w, x->desc.dtype, qn_cuda_ptr(x), y->desc.dtype, qn_cuda_ptr(y), M, scratch,
                             s->scratch_bytes, s->counters, QN_CUDA_MATMUL_COUNTERS, s->sms, s->stream);
    } else {
        e = qn_cuda_matmul_dense(x->desc.dtype, qn_cuda_ptr(x), w->desc.dtype, qn_cuda_ptr(w), y->desc.dtype,
                                 qn_cuda_ptr(y), M, N, K, s->stream);
    }
    return e ? qn_cuda_error((cudaError_t)e, "matmul") : QUANTA_OK;
}

/* ------------------------------------------------------------------ attention */

static void attention_args(const qn_node *node, qn_cuda_attention_args *a) {
    const qn_tensor *q = src_at(node, 0), *k = src_at(node, 1), *v = src_at(node, 2);
    const qn_tensor *mask = src_at(node, 3), *lens = src_at(node, 4), *o = node->dst;
    memset(a, 0, sizeof *a);
    a->dtype = (int)q->desc.dtype;
    a->B = q->desc.dims[0], a->Hq = q->desc.dims[1], a->Nq = q->desc.dims[2], a->D = q->desc.dims[3];
    a->Hkv = k->desc.dims[1], a->Nk = k->desc.dims[2];
    if (mask) { /* [Nq, Nk] or [B, Nq, Nk] (infer_attention) */
        a->mask_batched = mask->desc.ndim == 3;
        a->mask = qn_cuda_ptr(mask);
    }
    if (lens) a->kv_lens = qn_cuda_ptr(lens);
    a->q = qn_cuda_ptr(q), a->k = qn_cuda_ptr(k), a->v = qn_cuda_ptr(v), a->out = qn_cuda_ptr(o);
    const quanta_attention_params *p = &node->params.attention;
    a->scale = p->scale; /* infer resolved 0 to 1/sqrt(D) */
    a->causal = p->causal;
    a->window = p->window;
}

/* Whether decode attention leaves its output's int8 codes for the wo GEMV (the decode-rows kernel makes them with
 * the quantize kernel's function on the stored values: the same codes), so that GEMV needs no quantize launch: -32
 * launches per 7B token. On by default since the H100 run of 2026-12-06 (verify_fuse8.sh: the same greedy text);
 * QUANTA_CUDA_ATTN_QX=0 quantizes in its own launch. */
QN_CUDA_SWITCH_FN(attn_qx_wanted, qn_cuda_switch_on, "QUANTA_CUDA_ATTN_QX")

static quanta_status run_attention(qn_cuda_state *s, const qn_node *node) {
    qn_cuda_attention_args a;
    attention_args(node, &a);
    if (!qn_cuda_attention_supported(&a))
        return qn_error_set(QUANTA_ERR_UNSUPPORTED, "cuda attention: these arguments are not supported");
    a.stream = s->stream;
    if (qn_cuda_attention_f16_applies(&a)) return qn_cuda_attention_f16(s, &a); /* f32 prefill: tensor cores */
    const size_t need = qn_cuda_attention_scratch_bytes(&a);
    if (need) {
        quanta_status st = qn_cuda_scratch(s, need, &a.scratch);
        if (st != QUANTA_OK) return st;
        a.scratch_bytes = s->scratch_bytes;
    }
    /* decode (one query row per sequence): the decode-rows kernel may leave out's int8 codes for the wo GEMV after
     * it, as a norm leaves them for q/k/v (out [B, Hq * D] is that GEMV's x: the reshape between is a view) */
    int done = 0;
    const int64_t K = a.Hq * a.D;
    if (attn_qx_wanted() && a.Nq == 1 && a.B <= QN_CUDA_GGML_GEMV_MAX_M && K >= QN_CUDA_GGML_GEMV_MIN_K && a.D % 32 == 0) {
        void *buf = NULL;
        quanta_status st = qn_cuda_xq(s, qn_cuda_ggml_xq_bytes(a.B, K), &buf);
        if (st != QUANTA_OK) return st;
        qn_cuda_ggml_xq_split(buf, a.B, K, &a.xq, &a.dx, &a.sx);
        qn_cuda_ggml_xq_lo(buf, a.B, K, &a.xl, &a.sl);
        a.xq_done = &done;
    }
    char msg[256] = "";
    int e = qn_cuda_attention(&a, msg, sizeof msg);
    if (e) {
        (void)cudaGetLastError();
        return qn_error_set(QUANTA_ERR_BACKEND, "cuda attention: %s (%s)", msg[0] ? msg : "launch failed",
                            cudaGetErrorString((cudaError_t)e));
    }
    if (done) s->xq_src = a.out, s->xq_M = a.B, s->xq_K = K, s->xq_dtype = a.dtype;
    return QUANTA_OK;
}

/* ------------------------------------------------------------------ paged attention */

/* The kernel checks the lengths and the block-table entries it reads (the reference's rules,
 * reported through the error flag at synchronize): no copy back, so a step can be captured. */
static quanta_status run_paged_attention(qn_cuda_state *s, const qn_node *node) {
    const qn_tensor *q = node->src[0], *k = node->src[1], *v = node->src[2], *tab = node->src[3], *lens = node->src[4];
    const qn_tensor *o = node->dst;
    qn_cuda_paged_args a;
    memset(&a, 0, sizeof a);
    a.qdt = (int)q->desc.dtype, a.kdt = (int)k->desc.dtype, a.vdt = (int)v->desc.dtype, a.odt = (int)o->desc.dtype;
    a.S = q->desc.dims[0], a.Hq = q->desc.dims[1], a.T = q->desc.dims[2], a.D = q->desc.dims[3];
    a.Hkv = k->desc.dims[1], a.R = k->desc.dims[2], a.max_blocks = tab->desc.dims[1];
    a.block_size = node->params.block_size;
    if (a.S == 0 || a.Hq == 0 || a.T == 0) return QUANTA_OK;
    a.n_blocks = a.R / a.block_size;
    a.err_flag = s->err_flag;
    a.q = qn_cuda_ptr(q), a.k = qn_cuda_ptr(k), a.v = qn_cuda_ptr(v), a.out = qn_cuda_ptr(o);
    a.table = qn_cuda_ptr(tab), a.kv_lens = qn_cuda_ptr(lens);
    a.scale = node->params.attention.scale; /* infer resolved 0 to 1/sqrt(D) */
    a.causal = node->params.attention.causal, a.window = node->params.attention.window;
    a.stream = s->stream;
    static atomic_int tiled = -1; /* QUANTA_CUDA_PAGED_TILED=0: the kernel before serve7's, for side-by-side timings */
    a.tiled = qn_cuda_switch_on("QUANTA_CUDA_PAGED_TILED", &tiled);
    int ce = qn_cuda_paged_attention(&a);
    if (ce) {
        (void)cudaGetLastError();
        return qn_cuda_error((cudaError_t)ce, "paged_attention launch");
    }
    return QUANTA_OK;
}

/* ------------------------------------------------------------------ norms */

/* Whether the norms leave their result's int8 codes for the ggml GEMV that reads it next (q/k/v
 * after the attention norm, gate/up after the FFN norm): one quantize launch fewer per such norm,
 * the same codes (greedy text identical on the H100, 2026-12-05). QUANTA_CUDA_NORM_QX=0 turns it
 * off, for side-by-side timings. */
QN_CUDA_SWITCH_FN(norm_qx_wanted, qn_cuda_switch_on, "QUANTA_CUDA_NORM_QX")

/* The kept-prep slab a prefill norm of rows x D may also write (mmq18): mq, in the K order the last kept prep took, for
 * rows the tensor-core GEMM takes (past the GEMV's, and past 64: its sm_90a route =17) and D a multiple of 256; none
 * (slab->buf NULL) otherwise, or before any GEMM has kept a prep (the model's first norm: the GEMM then preps). */
static quanta_status slab_for(qn_cuda_state *s, int64_t rows, int64_t D, bool on, qn_cuda_xslab *slab) {
    slab->buf = NULL, slab->perm = 0, slab->done = 0;
    if (rows <= QN_CUDA_GGML_GEMV_MAX_M || rows <= 64 || D % 256 || !s->mq_perm || !on || !ggml_mmq_wanted())
        return QUANTA_OK;
    slab->perm = s->mq_perm;
    return qn_cuda_mq(s, qn_cuda_ggml_mmq_xprep_bytes(rows, D), &slab->buf);
}
static quanta_status norm_slab(qn_cuda_state *s, int64_t rows, int64_t D, qn_cuda_xslab *slab) {
    return slab_for(s, rows, D, norm_slab_wanted(), slab);
}

/* Whether a prefill glu (SwiGLU / GeGLU: down's x) also writes its result's kept activation prep, as the norms do for
 * q/k/v's and gate/up's x (kernels_cuda/elementwise.cu qn_cuda_glu_slab: the prep's bits from the values as stored), so
 * that down's GEMM skips its prep too: on since 2026-12-07 (mmq19; H100 09:30, verify_mmq19.sh: results, slab bytes,
 * scales and the GEMM on the slab the same as the glu + prep's; perplexity the same; the glu with its slab 41.6 us
 * against the glu's 40.7 and the prep's 25.5 at 512 x 14336, 146 against 152 + 98 at 2048; pp2048 7B Q4_0 +2.1%, pp512
 * +2–4% within its sd). QUANTA_CUDA_GGML_GLU_SLAB=0 turns it off. Needs XKEEP (the kept prep's bookkeeping). */
QN_CUDA_SWITCH_FN(glu_slab_on, qn_cuda_switch_on, "QUANTA_CUDA_GGML_GLU_SLAB")

static quanta_status run_glu(qn_cuda_state *s, const qn_node *node) {
    const qn_tensor *x = src_at(node, 0), *b = src_at(node, 1), *y = node->dst;
    const int64_t D = last_dim(x), rows = D ? elems(x) / D : 0;
    const int xd = (int)x->desc.dtype;
    qn_cuda_xslab slab;
    slab.buf = NULL, slab.perm = 0, slab.done = 0;
    if (glu_slab_on() && xd == (int)y->desc.dtype && elems(b) == elems(x) && elems(y) == elems(x)) {
        quanta_status st = slab_for(s, rows, D, ggml_xkeep_wanted(), &slab); /* the rows, widths, K order of a norm's */
        if (st != QUANTA_OK) return st;
    }
    if (!slab.buf) {
        const int e = qn_cuda_glu(glu_act(node), xd, qn_cuda_ptr(x), qn_cuda_ptr(b), qn_cuda_ptr(y), elems(x), s->stream);
        return e ? qn_cuda_error((cudaError_t)e, qn_op_name(node->op)) : QUANTA_OK;
    }
    void *yp = qn_cuda_ptr(y);
    const int e = qn_cuda_glu_slab(glu_act(node), xd, qn_cuda_ptr(x), qn_cuda_ptr(b), yp, rows, D, &slab, s->stream);
    if (e) return qn_cuda_error((cudaError_t)e, qn_op_name(node->op));
    if (slab.done) s->mq_src = yp, s->mq_M = rows, s->mq_K = D, s->mq_dtype = xd, s->mq_have = slab.perm;
    return QUANTA_OK;
}

/* After a norm: what it also wrote for the matmuls reading its result yp (rows x D, dtype yd) is kept — the GEMV's
 * int8 codes in xq (done), the GEMM's prep in mq (slab->done), as a GEMM's kept prep of yp would be (qn_cuda_run
 * dropped the old ones before the norm ran; XKEEP's rules drop these). */
static void norm_kept(qn_cuda_state *s, int done, const qn_cuda_xslab *slab, const void *yp, int64_t rows, int64_t D,
                      int yd) {
    if (done) s->xq_src = yp, s->xq_M = rows, s->xq_K = D, s->xq_dtype = yd;
    if (slab->done) s->mq_src = yp, s->mq_M = rows, s->mq_K = D, s->mq_dtype = yd, s->mq_have = slab->perm;
}

/* rms_norm (x, weight), add_rms_norm (x, r added before, weight), rms_norm_add (x, r added
 * after, weight). */
static quanta_status run_norm(qn_cuda_state *s, const qn_node *node) {
    const qn_tensor *x = src_at(node, 0), *y = node->dst;
    const int fused = node->op != QN_OP_RMS_NORM, pre = node->op == QN_OP_ADD_RMS_NORM;
    const qn_tensor *r = fused ? src_at(node, 1) : NULL, *w = src_at(node, fused ? 2 : 1);
    const int64_t D = last_dim(x), rows = D ? elems(x) / D : 0;
    const int yd = (int)y->desc.dtype, rd = r ? (int)r->desc.dtype : 0;
    const void *rp = r ? qn_cuda_ptr(r) : NULL;
    void *yp = qn_cuda_ptr(y), *xq = NULL;
    const bool gemv_rows = rows >= 1 && rows <= QN_CUDA_GGML_GEMV_MAX_M && D >= QN_CUDA_GGML_GEMV_MIN_K && D % 32 == 0;
    if (gemv_rows && norm_qx_wanted()) {
        quanta_status st = qn_cuda_xq(s, qn_cuda_ggml_xq_bytes(rows, D), &xq);
        if (st != QUANTA_OK) return st;
    }
    qn_cuda_xslab slab;
    quanta_status st = norm_slab(s, rows, D, &slab);
    if (st != QUANTA_OK) return st;
    int done = 0;
    const int e = qn_cuda_rms_norm((int)x->desc.dtype, qn_cuda_ptr(x), pre ? rd : 0, pre ? rp : NULL,
                                   w ? (int)w->desc.dtype : 0, w ? qn_cuda_ptr(w) : NULL, pre ? 0 : rd,
                                   pre ? NULL : rp, yd, yp, rows, D, node->params.eps, node->params.weight_plus_one,
                                   xq, &done, slab.buf ? &slab : NULL, s->stream);
    if (e) return qn_cuda_error((cudaError_t)e, qn_op_name(node->op));
    norm_kept(s, done, &slab, yp, rows, D, yd);
    return QUANTA_OK;
}

/* rms_norm_rope (x, weight, positions): the plan fuses a q/k norm with its rope into this node where
 * the backend claims it. QUANTA_CUDA_NORM_ROPE=0 leaves them two launches (side-by-side timings). */
QN_CUDA_SWITCH_FN(norm_rope_wanted, qn_cuda_switch_on, "QUANTA_CUDA_NORM_ROPE")

/* rms_norm_rope (x, weight, positions), and rms_norm_rope_pair (x0, weight0, positions, x1, weight1: x1's
 * result in extra_dst[0]) in the same launch. */
/* Whether CUDA claims the plan's rms_norm_rope_pair and rms_norm_add_norm (ocl6's fusions: Gemma's q and k
 * norms in one launch, a post-norm with its residual and the next norm in one). QUANTA_CUDA_NORM_PAIRS=0 keeps
 * them separate (side-by-side timings). */
QN_CUDA_SWITCH_FN(norm_pairs_wanted, qn_cuda_switch_on, "QUANTA_CUDA_NORM_PAIRS")

static quanta_status run_norm_rope(qn_cuda_state *s, const qn_node *node) {
    const qn_tensor *x = src_at(node, 0), *w = src_at(node, 1), *pos = src_at(node, 2), *y = node->dst;
    const int pair = node->op == QN_OP_RMS_NORM_ROPE_PAIR;
    const qn_tensor *x2 = pair ? src_at(node, 3) : NULL, *w2 = pair ? src_at(node, 4) : NULL;
    const quanta_rope_params *rp = &node->params.rope;
    const int nd = x->desc.ndim;
    const int64_t D = last_dim(x), N = nd >= 2 ? x->desc.dims[nd - 2] : 1, rows = D ? elems(x) / D : 0;
    const int64_t rows2 = x2 && D ? elems(x2) / D : 0;
    const int e = qn_cuda_rms_norm_rope_pair(
        (int)x->desc.dtype, qn_cuda_ptr(x), w ? (int)w->desc.dtype : 0, w ? qn_cuda_ptr(w) : NULL, qn_cuda_ptr(y),
        x2 ? qn_cuda_ptr(x2) : NULL, w2 ? (int)w2->desc.dtype : 0, w2 ? qn_cuda_ptr(w2) : NULL,
        x2 ? qn_cuda_ptr(node->extra_dst[0]) : NULL, rows2, (int)y->desc.dtype, qn_cuda_ptr(pos), rows, N, D,
        rp->rot_dims ? rp->rot_dims : D, (int)rp->mode, rp->theta_base, rp->freq_scale, node->params.eps,
        node->params.weight_plus_one, s->stream);
    return e ? qn_cuda_error((cudaError_t)e, qn_op_name(node->op)) : QUANTA_OK;
}

/* rms_norm_add_norm (x, r, weight, weight2): dst = r + rms_norm(x) * weight, extra_dst[0] = rms_norm(dst) *
 * weight2, one launch; extra_dst[0]'s int8 codes left for the GEMV as run_norm leaves them. */
static quanta_status run_norm_add_norm(qn_cuda_state *s, const qn_node *node) {
    const qn_tensor *x = src_at(node, 0), *r = src_at(node, 1), *w = src_at(node, 2), *w2 = src_at(node, 3);
    const qn_tensor *y = node->dst, *y2 = node->extra_dst[0];
    const int64_t D = last_dim(x), rows = D ? elems(x) / D : 0;
    void *xq = NULL, *y2p = qn_cuda_ptr(y2);
    const bool gemv_rows = rows >= 1 && rows <= QN_CUDA_GGML_GEMV_MAX_M && D >= QN_CUDA_GGML_GEMV_MIN_K && D % 32 == 0;
    if (gemv_rows && norm_qx_wanted()) {
        quanta_status st = qn_cuda_xq(s, qn_cuda_ggml_xq_bytes(rows, D), &xq);
        if (st != QUANTA_OK) return st;
    }
    qn_cuda_xslab slab;
    quanta_status st = norm_slab(s, rows, D, &slab);
    if (st != QUANTA_OK) return st;
    int done = 0;
    const int e = qn_cuda_rms_norm_add_norm((int)x->desc.dtype, qn_cuda_ptr(x), (int)r->desc.dtype, qn_cuda_ptr(r),
                                            w ? (int)w->desc.dtype : 0, w ? qn_cuda_ptr(w) : NULL,
                                            w2 ? (int)w2->desc.dtype : 0, w2 ? qn_cuda_ptr(w2) : NULL,
                                            (int)y->desc.dtype, qn_cuda_ptr(y), y2p, rows, D, node->params.eps,
                                            node->params.weight_plus_one, xq, &done, slab.buf ? &slab : NULL,
                                            s->stream);
    if (e) return qn_cuda_error((cudaError_t)e, "rms_norm_add_norm");
    norm_kept(s, done, &slab, y2p, rows, D, (int)y2->desc.dtype);
    return QUANTA_OK;
}

/* Whether CUDA claims the plan's add_norm (LLaMA's residual add with the next norm: -64 launches per 7B token)
 * and rope_pair (its q and k ropes in one launch: -32). On by default since the H100 run of 2026-12-06 03:50
 * (bench/cuda/verify_fuse8.sh: greedy text identical, with rope_kv and attn_qx 7B Q4_0 335 -> 366 tok/s, Q8_0
 * 248 -> 263, Gemma 835-845 -> 904); QUANTA_CUDA_ADD_NORM=0 / QUANTA_CUDA_ROPE_PAIR=0 plan them apart. */
QN_CUDA_SWITCH_FN(add_norm_wanted, qn_cuda_switch_on, "QUANTA_CUDA_ADD_NORM")

QN_CUDA_SWITCH_FN(rope_pair_wanted, qn_cuda_switch_on, "QUANTA_CUDA_ROPE_PAIR")

/* Whether CUDA claims the plan's rope_kv (a layer's q/k ropes, with or without their norms, and its k/v cache
 * appends in one launch: -32 per 7B token, -18 per Gemma token): on by default since the H100 run of 2026-12-06
 * (verify_fuse8.sh, above); QUANTA_CUDA_ROPE_KV=0 plans them apart. */
QN_CUDA_SWITCH_FN(rope_kv_wanted, qn_cuda_switch_on, "QUANTA_CUDA_ROPE_KV")

/* add_norm (a, b, weight): dst = a + b, extra_dst[0] = rms_norm(dst) * weight, one launch; extra_dst[0]'s int8
 * codes left for the GEMV (q/k/v or gate/up) as run_norm leaves them. */
static quanta_status run_add_norm(qn_cuda_state *s, const qn_node *node) {
    const qn_tensor *a = src_at(node, 0), *b = src_at(node, 1), *w = src_at(node, 2);
    const qn_tensor *y = node->dst, *y2 = node->extra_dst[0];
    const int64_t D = last_dim(a), rows = D ? elems(a) / D : 0;
    void *xq = NULL, *y2p = qn_cuda_ptr(y2);
    const bool gemv_rows = rows >= 1 && rows <= QN_CUDA_GGML_GEMV_MAX_M && D >= QN_CUDA_GGML_GEMV_MIN_K && D % 32 == 0;
    if (gemv_rows && norm_qx_wanted()) {
        quanta_status st = qn_cuda_xq(s, qn_cuda_ggml_xq_bytes(rows, D), &xq);
        if (st != QUANTA_OK) return st;
    }
    qn_cuda_xslab slab;
    quanta_status st = norm_slab(s, rows, D, &slab);
    if (st != QUANTA_OK) return st;
    int done = 0;
    const int e = qn_cuda_add_norm((int)a->desc.dtype, qn_cuda_ptr(a), (int)b->desc.dtype, qn_cuda_ptr(b),
                                   w ? (int)w->desc.dtype : 0, w ? qn_cuda_ptr(w) : NULL, (int)y->desc.dtype,
                                   qn_cuda_ptr(y), y2p, rows, D, node->params.eps, node->params.weight_plus_one, xq,
                                   &done, slab.buf ? &slab : NULL, s->stream);
    if (e) return qn_cuda_error((cudaError_t)e, "add_norm");
    norm_kept(s, done, &slab, y2p, rows, D, (int)y2->desc.dtype);
    return QUANTA_OK;
}

/* ------------------------------------------------------------------ matmul_multi, write_rows_pair */

/* Whether CUDA claims the plan's matmul_multi (q/k/v of one x in one GEMV launch) and write_rows_pair (a
 * layer's k and v appends in one launch). QUANTA_CUDA_MULTI=0 leaves them separate nodes (side-by-side
 * timings). */
QN_CUDA_SWITCH_FN(multi_wanted, qn_cuda_switch_on, "QUANTA_CUDA_MULTI")

/* mmq22: QUANTA_CUDA_GGML_GROUP (default 4 since the H100 call of 2026-12-08 01:07: k + v 1.49x / 1.48x of separate
 * launches at M = 512, perplexity equal, pp512 7B Q4_0 / Q8_0 26.1k / 23.5k against 25.9k / 22.9k; 0 leaves them apart): past the GEMV's range of M, 1 claims matmul_multi (a layer's q / k / v, and
 * gate / up where no matmul_glu took them) for the tensor-core route, which runs the weights of one N as one grid with
 * the K split each would take alone (the same bits as the separate matmuls: k and v, gate and up) and the rest one by
 * one (qn_cuda_ggml_mmq_multi's mode 1); 3 the same with each one's tile too (mode 3); 2 all of a node's weights as one
 * grid with the table's pick for their tiles together (mode 2: q, k and v in one launch; k and v's tiles then not split
 * in K: other sums); 4 as 1 where one weight alone makes less than a wave of blocks (k / v), the rest one by one (after
 * the H100 call of 19:06: gate / up grouped 1-3% slower at M = 512). -1: read at the first call; unset is 4, a value
 * other than 1 .. 4 is 0. */
static int ggml_group_mode(void) {
    static atomic_int mode = -1;
    int v = atomic_load_explicit(&mode, memory_order_relaxed);
    if (v < 0) {
        const char *e = getenv("QUANTA_CUDA_GGML_GROUP");
        v = !e ? 4 : (!strcmp(e, "1") || !strcmp(e, "2") || !strcmp(e, "3") || !strcmp(e, "4")) ? e[0] - '0' : 0;
        atomic_store_explicit(&mode, v, memory_order_relaxed);
    }
    return v;
}

/* ggml weights (the table admits no other; infer checked one format and K) the GEMV reads in place; past its range of M
 * only with QUANTA_CUDA_GGML_GROUP, for the weights the sm_90a grouped kernel takes (Q4_0 / Q8_0, K a multiple of 256;
 * on other devices qn_cuda_ggml_mmq_multi runs them one by one). */
static bool matmul_multi_ok(const qn_node *node) {
    int64_t M, N, K;
    matmul_shapes(node, &M, &N, &K);
    if (!multi_wanted()) return false;
    if (M > QN_CUDA_GGML_GEMV_MAX_M) {
        const int wd = (int)src_at(node, 1)->desc.dtype;
        if (!ggml_group_mode() || !ggml_mmq_wanted() || !ggml_xkeep_wanted() || K % 256 ||
            (wd != QN_DT_GGML_Q4_0 && wd != QN_DT_GGML_Q8_0))
            return false;
    }
    for (int i = 1; i < node->nsrc; i++)
        if (node->src[i] && !ggml_ok(node->src[i])) return false;
    return true;
}

/* A matmul_multi node's 2 or 3 weights, their outputs and row counts, in source order; returns how many. */
static int multi_weights(const qn_node *node, const void *w[3], void *y[3], int64_t N[3]) {
    int nw = 0;
    for (int i = 1; i < node->nsrc && i <= 3; i++) {
        const qn_tensor *wi = src_at(node, i), *yi = i == 1 ? node->dst : node->extra_dst[i - 2];
        if (!wi) continue;
        w[nw] = qn_cuda_ptr(wi), y[nw] = qn_cuda_ptr(yi), N[nw] = wi->desc.dims[0];
        nw++;
    }
    return nw;
}

/* matmul_multi past the GEMV's range (matmul_multi_ok: the grouped switch on): x . w_i^T for its 2 or 3 weights through
 * qn_cuda_ggml_mmq_multi, the kept prep handled as run_matmul_ggml handles it for one weight. */
static quanta_status run_matmul_multi_mmq(qn_cuda_state *s, const qn_node *node, int64_t M, int64_t K, int nw,
                                          const void *w[3], void *y[3], const int64_t N[3]) {
    const qn_tensor *x = src_at(node, 0);
    const int wd = (int)src_at(node, 1)->desc.dtype, xd = (int)x->desc.dtype, yd = (int)node->dst->desc.dtype;
    const void *xp = qn_cuda_ptr(x);
    void *scratch = NULL, *mq = NULL;
    quanta_status st = qn_cuda_scratch(s, qn_cuda_ggml_mmq_multi_scratch(nw, N, M, K), &scratch);
    if (st == QUANTA_OK) st = qn_cuda_mq(s, qn_cuda_ggml_mmq_xprep_bytes(M, K), &mq);
    if (st) return st;
    int have = s->mq_src == xp && s->mq_M == M && s->mq_K == K && s->mq_dtype == xd ? s->mq_have : 0;
    const void *wt[3] = {NULL, NULL, NULL}; /* mmq24: each weight's tile-linear copy, where made */
    for (int i = 1, j = 0; i < node->nsrc && i <= 3 && j < nw; i++) /* as multi_weights */
        if (src_at(node, i)) wt[j++] = ggml_tlin_copy(src_at(node, i));
    const int e = qn_cuda_ggml_mmq_multi_t(ggml_group_mode(), wd, nw, w, N, K, xd, xp, M, yd, y, scratch,
                                           s->scratch_bytes, mq, s->mq_bytes, &have, s->sms, s->stream, wt);
    s->mq_src = have && !e ? xp : NULL, s->mq_M = M, s->mq_K = K, s->mq_dtype = xd, s->mq_have = have;
    if (have && !e) s->mq_perm = have; /* as run_matmul_ggml */
    const size_t es = qn_dtype_elem_size(node->dst->desc.dtype);
    for (int i = 0; i < nw; i++)
        gemv_result_written(s, xp, (size_t)M * (size_t)K * qn_dtype_elem_size(x->desc.dtype), y[i],
                            (size_t)M * (size_t)N[i] * es);
    return e ? qn_cuda_error((cudaError_t)e, "matmul_multi (ggml, tensor cores)") : QUANTA_OK;
}

/* x . w_i^T for its 2 or 3 weights in one GEMV launch, the x codes as run_gemv_ggml gets them. */
static quanta_status run_matmul_multi(qn_cuda_state *s, const qn_node *node) {
    int64_t M, N0, K;
    matmul_shapes(node, &M, &N0, &K);
    const void *w[3] = {NULL, NULL, NULL};
    void *y[3] = {NULL, NULL, NULL};
    int64_t N[3] = {0, 0, 0};
    const int nw = multi_weights(node, w, y, N);
    if (M > QN_CUDA_GGML_GEMV_MAX_M) return run_matmul_multi_mmq(s, node, M, K, nw, w, y, N);
    const qn_tensor *x = src_at(node, 0);
    const int wd = (int)src_at(node, 1)->desc.dtype, xd = (int)x->desc.dtype, yd = (int)node->dst->desc.dtype;
    const void *xp = qn_cuda_ptr(x);
    const int64_t Nall = N[0] + N[1] + (nw > 2 ? N[2] : 0);
    int e;
    if (K < QN_CUDA_GGML_GEMV_MIN_K) {
        e = qn_cuda_ggml_gemv_multi(wd, nw, w, N, K, NULL, xd, xp, M, yd, y, 0, s->stream);
        return e ? qn_cuda_error((cudaError_t)e, "matmul_multi (ggml GEMV, f32)") : QUANTA_OK;
    }
    if (!codes_cached(s, xp, xd, M, K) && gemv_qx_wanted() && M == 1 && K <= QN_CUDA_GGML_GEMV_QX_MAX_K && Nall <= 4096) {
        e = qn_cuda_ggml_gemv_multi(wd, nw, w, N, K, NULL, xd, xp, M, yd, y, 1, s->stream);
        return e ? qn_cuda_error((cudaError_t)e, "matmul_multi (ggml GEMV, x quantized in the kernel)") : QUANTA_OK;
    }
    void *xq = NULL;
    quanta_status st = gemv_codes(s, xp, xd, M, K, &xq);
    if (st) return st;
    e = qn_cuda_ggml_gemv_multi(wd, nw, w, N, K, xq, xd, xp, M, yd, y, 0, s->stream);
    const size_t es = qn_dtype_elem_size(node->dst->desc.dtype);
    for (int i = 0; i < nw; i++)
        gemv_result_written(s, xp, (size_t)M * (size_t)K * qn_dtype_elem_size(x->desc.dtype), y[i],
                            (size_t)M * (size_t)N[i] * es);
    return e ? qn_cuda_error((cudaError_t)e, "matmul_multi (ggml GEMV)") : QUANTA_OK;
}

/* Out (dst after the write) gets dst's contents first where the plan gave it its own memory. */
static quanta_status write_rows_carry(qn_cuda_state *s, const qn_tensor *dst, const qn_tensor *out) {
    const size_t bytes = (size_t)elems(dst) * qn_dtype_elem_size(dst->desc.dtype);
    void *op = qn_cuda_ptr(out);
    const void *dp = qn_cuda_ptr(dst);
    if (op == dp || !bytes) return QUANTA_OK;
    cudaError_t ce = cudaMemcpyAsync(op, dp, bytes, cudaMemcpyDeviceToDevice, s->stream);
    return ce == cudaSuccess ? QUANTA_OK : qn_cuda_error(ce, "write_rows: copying dst");
}

/* dst0, src0, start, dst1, src1: both float caches of one shape (infer), one launch. */
static quanta_status run_write_rows_pair(qn_cuda_state *s, const qn_node *node) {
    const qn_tensor *d0 = src_at(node, 0), *s0 = src_at(node, 1), *start = src_at(node, 2);
    const qn_tensor *d1 = src_at(node, 3), *s1 = src_at(node, 4), *o0 = node->dst, *o1 = node->extra_dst[0];
    quanta_status st = write_rows_carry(s, d0, o0);
    if (st == QUANTA_OK) st = write_rows_carry(s, d1, o1);
    if (st != QUANTA_OK) return st;
    const int64_t *dd = d0->desc.dims;
    qn_cuda_write_desc w0 = {(int)o0->desc.dtype, (int)s0->desc.dtype, qn_cuda_ptr(o0), qn_cuda_ptr(s0),
                             dd[0] * dd[1], dd[2], dd[3]};
    qn_cuda_write_desc w1 = {(int)o1->desc.dtype, (int)s1->desc.dtype, qn_cuda_ptr(o1), qn_cuda_ptr(s1),
                             dd[0] * dd[1], dd[2], dd[3]};
    const int e = qn_cuda_write_rows_pair(&w0, &w1, qn_cuda_ptr(start), start->desc.dims[0], s0->desc.dims[2],
                                          s->err_flag, s->stream);
    return e ? qn_cuda_error((cudaError_t)e, "write_rows_pair") : QUANTA_OK;
}

/* rope_kv (x0, positions, x1, weight0, weight1, k_cache, start, v_cache, v): x0's (norm +) rope into dst, x1's
 * into the k cache at start and v into the v cache (extra_dst[0] and [1], the caches after the writes), one launch. */
static quanta_status run_rope_kv(qn_cuda_state *s, const qn_node *node) {
    const qn_tensor *x = src_at(node, 0), *pos = src_at(node, 1), *x1 = src_at(node, 2), *w = src_at(node, 3);
    const qn_tensor *w1 = src_at(node, 4), *start = src_at(node, 6), *v = src_at(node, 8), *y = node->dst;
    const qn_tensor *kc = node->extra_dst[0], *vc = node->extra_dst[1];
    quanta_status st = write_rows_carry(s, src_at(node, 5), kc);
    if (st == QUANTA_OK) st = write_rows_carry(s, src_at(node, 7), vc);
    if (st != QUANTA_OK) return st;
    const quanta_rope_params *rp = &node->params.rope;
    const int nd = x->desc.ndim, norm = node->params.rope_norm != 0;
    const int64_t D = last_dim(x), N = nd >= 2 && nd <= QUANTA_MAX_DIMS ? x->desc.dims[nd - 2] : 1;
    const int64_t rows = D ? elems(x) / D : 0, rows1 = D ? elems(x1) / D : 0;
    const int e = qn_cuda_rope_kv(
        (int)x->desc.dtype, qn_cuda_ptr(x), w ? (int)w->desc.dtype : 0, w ? qn_cuda_ptr(w) : NULL, qn_cuda_ptr(y),
        qn_cuda_ptr(x1), w1 ? (int)w1->desc.dtype : 0, w1 ? qn_cuda_ptr(w1) : NULL, qn_cuda_ptr(kc), rows1,
        (int)y->desc.dtype, qn_cuda_ptr(pos), rows, N, D, rp->rot_dims ? rp->rot_dims : D, (int)rp->mode,
        rp->theta_base, rp->freq_scale, node->params.eps, node->params.weight_plus_one, norm, qn_cuda_ptr(start),
        start->desc.dims[0], kc->desc.dims[2], qn_cuda_ptr(v), qn_cuda_ptr(vc), s->err_flag, s->stream);
    return e ? qn_cuda_error((cudaError_t)e, "rope_kv") : QUANTA_OK;
}

/* ------------------------------------------------------------------ others */

/* The kernels (kernels_cuda/): per op, the dtypes of its format source they decode. */
const qn_dtype_set qn_cuda_kernels[QN_OP_COUNT] = {
    QN_KERNELS_FLOAT_ACTIVATION_OPS,
    [QN_OP_MATMUL] = QN_DT_FLOATS | QN_DT_QUANTA_FORMATS | QN_DT_GGML_FORMATS,
    [QN_OP_GET_ROWS] = QN_DT_FLOATS | QN_DT_QUANTA_FORMATS | QN_DT_GGML_FORMATS,
    [QN_OP_WRITE_ROWS] = QN_DT_FLOATS | QN_DT_KV_QUANT,
    [QN_OP_PAGED_ATTENTION] = QN_DT_FLOATS | QN_DT_KV_QUANT,
    [QN_OP_GLU] = QN_DT_FLOATS,          /* the plan's fusions (engine/plan.c fuse_nodes) */
    [QN_OP_RMS_NORM_ADD] = QN_DT_FLOATS,
    [QN_OP_RMS_NORM_ROPE] = QN_DT_FLOATS, /* fuse_nodes: a q/k norm and its rope */
    [QN_OP_MATMUL_GLU] = QN_DT_GGML_FORMATS, /* fuse_matmul_glu: the ggml GEMV's gate + up + glu */
    [QN_OP_MATMUL_MULTI] = QN_DT_GGML_FORMATS, /* fuse_matmul_multi: q/k/v in one ggml GEMV launch */
    [QN_OP_WRITE_ROWS_PAIR] = QN_DT_FLOATS,    /* fuse_write_rows_pair: k and v appends in one launch */
    [QN_OP_RMS_NORM_ROPE_PAIR] = QN_DT_FLOATS, /* fuse_rms_norm_rope_pair: q and k norm + rope in one launch */
    [QN_OP_RMS_NORM_ADD_NORM] = QN_DT_FLOATS,  /* fuse_rms_norm_add_norm: post-norm, residual, next norm */
    [QN_OP_ADD_NORM] = QN_DT_FLOATS,           /* fuse_add_norm: residual add and the next norm (switch) */
    [QN_OP_ROPE_PAIR] = QN_DT_FLOATS,          /* fuse_rope_pair: q and k ropes in one launch (switch) */
    [QN_OP_ROPE_KV] = QN_DT_FLOATS,            /* fuse_rope_kv: the ropes and the k/v appends in one launch (switch) */
};

/* The kernels' own limits of a node in the table (the rest have none). */
bool qn_cuda_supports_op(void *self, const qn_node *node) {
    (void)self;
    switch (node->op) {
    case QN_OP_MATMUL: return matmul_ok(node);
    case QN_OP_MATMUL_GLU: return matmul_glu_ok(node);
    case QN_OP_RMS_NORM_ROPE: return norm_rope_wanted();
    case QN_OP_MATMUL_MULTI: return matmul_multi_ok(node);
    case QN_OP_WRITE_ROWS_PAIR: return multi_wanted();
    case QN_OP_RMS_NORM_ROPE_PAIR: return norm_rope_wanted() && norm_pairs_wanted();
    case QN_OP_RMS_NORM_ADD_NORM: return norm_pairs_wanted() && last_dim(node->src[0]) <= 4096;
    case QN_OP_ADD_NORM: return add_norm_wanted() && last_dim(node->src[0]) <= 4096; /* a row in registers */
    case QN_OP_ROPE_PAIR: return rope_pair_wanted();
    case QN_OP_ROPE_KV: return rope_kv_wanted() && (!node->params.rope_norm || norm_rope_wanted());
    case QN_OP_ATTENTION: {
        qn_cuda_attention_args a;
        attention_args(node, &a);
        return qn_cuda_attention_supported(&a);
    }
    case QN_OP_PAGED_ATTENTION: return node->src[0]->desc.dims[3] <= QN_CUDA_PAGED_MAXD;
    case QN_OP_GET_ROWS: return !qn_dtype_is_ggml(node->src[0]->desc.dtype) || ggml_ok(node->src[0]);
    default: return true;
    }
}

quanta_status qn_cuda_run(void *self, const qn_node *node) {
    qn_cuda_state *s = self;
    quanta_status st = qn_backend_check_node(&qn_cuda_backend, self, node);
    if (st != QUANTA_OK) return st;
    cudaError_t se = cudaSetDevice(s->device);
    if (se != cudaSuccess) return qn_cuda_error(se, "run: cudaSetDevice");
    const qn_tensor *x = src_at(node, 0), *b = src_at(node, 1), *y = node->dst;
    /* Cached activation codes stay valid only across consecutive ggml GEMVs (any other op may
     * rewrite the memory they were made from). */
    if ((node->op != QN_OP_MATMUL && node->op != QN_OP_MATMUL_GLU && node->op != QN_OP_MATMUL_MULTI) || !b ||
        !qn_dtype_is_ggml(b->desc.dtype))
        qn_cuda_forget_x(s);
    const void *xp = x ? qn_cuda_ptr(x) : NULL;
    void *yp = qn_cuda_ptr(y);
    const int xd = x ? (int)x->desc.dtype : 0, yd = (int)y->desc.dtype;
    int e = 0;
    switch (node->op) {
    case QN_OP_MATMUL: return run_matmul(s, node);
    case QN_OP_MATMUL_GLU: {
        int64_t M, N, K;
        matmul_shapes(node, &M, &N, &K);
        return run_gemv_ggml(s, node, M, N, K);
    }
    case QN_OP_ATTENTION:
        return run_attention(s, node);
    case QN_OP_PAGED_ATTENTION: return run_paged_attention(s, node);
    case QN_OP_RMS_NORM: case QN_OP_ADD_RMS_NORM: case QN_OP_RMS_NORM_ADD: return run_norm(s, node);
    case QN_OP_RMS_NORM_ROPE: case QN_OP_RMS_NORM_ROPE_PAIR: return run_norm_rope(s, node);
    case QN_OP_RMS_NORM_ADD_NORM: return run_norm_add_norm(s, node);
    case QN_OP_ADD_NORM: return run_add_norm(s, node);
    case QN_OP_ROPE_KV: return run_rope_kv(s, node);
    case QN_OP_MATMUL_MULTI: return run_matmul_multi(s, node);
    case QN_OP_WRITE_ROWS_PAIR: return run_write_rows_pair(s, node);
    case QN_OP_ROPE: case QN_OP_ROPE_PAIR: { /* rope_pair: x1 (source 2) into extra_dst[0], the same launch */
        const quanta_rope_params *rp = &node->params.rope;
        const int nd = x->desc.ndim;
        const int64_t D = last_dim(x), N = nd >= 2 && nd <= QUANTA_MAX_DIMS ? x->desc.dims[nd - 2] : 1;
        const int64_t rows = D ? elems(x) / D : 0;
        const qn_tensor *x1 = node->op == QN_OP_ROPE_PAIR ? src_at(node, 2) : NULL;
        const int64_t rows1 = x1 && D ? elems(x1) / D : 0;
        e = qn_cuda_rope_pair(xd, xp, yd, yp, x1 ? qn_cuda_ptr(x1) : NULL, x1 ? qn_cuda_ptr(node->extra_dst[0]) : NULL,
                              rows1, qn_cuda_ptr(b), rows, N, D, rp->rot_dims ? rp->rot_dims : D, (int)rp->mode,
                              rp->theta_base, rp->freq_scale, s->stream);
        break;
    }
    case QN_OP_SILU: e = qn_cuda_unary(QN_UNARY_SILU, xd, xp, yd, yp, elems(x), 0.0f, s->stream); break;
    case QN_OP_GELU:
        e = qn_cuda_unary(node->params.approximate ? QN_UNARY_GELU_TANH : QN_UNARY_GELU, xd, xp, yd, yp, elems(x), 0.0f,
                          s->stream);
        break;
    case QN_OP_GLU: return run_glu(s, node);
    case QN_OP_SCALE: e = qn_cuda_unary(QN_UNARY_SCALE, xd, xp, yd, yp, elems(x), node->params.scale, s->stream); break;
    case QN_OP_CONVERT: e = qn_cuda_unary(QN_UNARY_COPY, xd, xp, yd, yp, elems(x), 0.0f, s->stream); break;
    case QN_OP_SOFTMAX: {
        const int64_t D = last_dim(x), rows = D ? elems(x) / D : 0;
        e = qn_cuda_softmax(xd, xp, yd, yp, rows, D, s->stream);
        break;
    }
    case QN_OP_ARGMAX: {
        const int64_t D = last_dim(x), rows = D ? elems(x) / D : 0;
        e = qn_cuda_argmax(xd, xp, (int32_t *)yp, rows, D, s->stream);
        break;
    }
    case QN_OP_ADD: case QN_OP_MUL:
        e = qn_cuda_binary(node->op == QN_OP_MUL, xd, xp, (int)b->desc.dtype, qn_cuda_ptr(b), elems(b), yd, yp,
                           elems(x), last_dim(x), s->stream);
        break;
    case QN_OP_GET_ROWS: {
        if (qn_dtype_is_ggml(x->desc.dtype)) {
            e = qn_cuda_ggml_get_rows(xd, xp, x->desc.dims[0], x->desc.dims[1], qn_cuda_ptr(b), elems(b), yd, yp,
                                      s->err_flag, s->stream);
            break;
        }
        qn_quant_layout t;
        if (qn_quant_layout_get(&x->desc, &t) != QUANTA_OK) return QUANTA_ERR_INVALID_ARGUMENT; /* message set */
        e = qn_cuda_get_rows(&t, qn_cuda_ptr(x), qn_cuda_ptr(b), elems(b), yd, yp, s->err_flag, s->stream);
        break;
    }
    case QN_OP_PERMUTE: {
        int64_t xdims[4];
        int perm4[4];
        const int nd = x->desc.ndim, pad = 4 - nd;
        for (int i = 0; i < 4; i++) {
            xdims[i] = i < pad ? 1 : x->desc.dims[i - pad];
            perm4[i] = i < pad ? i : pad + node->params.perm[i - pad];
        }
        e = qn_cuda_permute(xp, yp, xdims, perm4, qn_dtype_elem_size(x->desc.dtype), s->stream);
        break;
    }
    case QN_OP_WRITE_ROWS: {
        const qn_tensor *start = src_at(node, 2);
        const int quant = qn_kv_dtype_is_quantized(x->desc.dtype); /* a q8 / fp8 KV pool: codes and scales */
        const size_t bytes = quant ? x->bytes : (size_t)elems(x) * qn_dtype_elem_size(x->desc.dtype);
        if (yp != xp && bytes) { /* out is dst after the write, also when it got its own memory */
            cudaError_t ce = cudaMemcpyAsync(yp, xp, bytes, cudaMemcpyDeviceToDevice, s->stream);
            if (ce != cudaSuccess) return qn_cuda_error(ce, "write_rows: copying dst");
        }
        const int64_t *dd = x->desc.dims;
        const int64_t ns = start->desc.dims[0]; /* 1, or one start per row */
        if (quant)
            e = qn_cuda_paged_kv_write(yd, yp, (int)b->desc.dtype, qn_cuda_ptr(b), qn_cuda_ptr(start), ns,
                                       dd[0] * dd[1], b->desc.dims[2], dd[2], dd[3], s->err_flag, s->stream);
        else
            e = qn_cuda_write_rows(yd, yp, (int)b->desc.dtype, qn_cuda_ptr(b), qn_cuda_ptr(start), ns, dd[0] * dd[1],
                                   b->desc.dims[2], dd[2], dd[3], s->err_flag, s->stream);
        break;
    }
    default: return qn_error_set(QUANTA_ERR_UNSUPPORTED, "cuda run: op %d", (int)node->op);
    }
    return e ? qn_cuda_error((cudaError_t)e, qn_op_name(node->op)) : QUANTA_OK;
}
