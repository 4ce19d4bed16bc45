/*
 * cuda_attention_f16.c — prefill attention on f32 q/k/v (the library's default f32 KV cache) through
 * f16 copies and the tensor-core prefill kernel, instead of the scalar generic kernel.
 *
 * Why: the generic kernel computes in f32 on CUDA cores with two shared-memory loads per multiply-add
 * (~5-8 TFLOP/s); a 7B-shaped prefill of 512 tokens has ~70 GFLOP of attention, ~10 ms there, a
 * quarter of llama.cpp's whole pp512 time. The f16 kernel does it in well under 1 ms; the four
 * conversions (q, k, v in, the output back) move ~2 bytes per element each. Rounding q/k/v to f16
 * is what the f16 KV cache (and llama.cpp's default) does anyway; the sums, the softmax and the
 * output stay f32 / f16-with-f32-accumulation as in the f16 kernel, inside the f32 conformance
 * thresholds. Decode rows (Nq < QN_CUDA_ATTN_F16_MIN_NQ) keep the f32 kernels: there the K/V
 * conversion of the whole cache would cost more than the attention. QUANTA_CUDA_ATTN_F16=0 turns
 * the route off (for side-by-side runs).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_internal.h"
#include "cuda_attention_plan.h"
#include "unary_ops.h"

#define QN_CUDA_ATTN_F16_MIN_NQ 32

static bool route_wanted(void) {
    static atomic_int wanted = -1;
    return qn_cuda_switch_on("QUANTA_CUDA_ATTN_F16", &wanted);
}

static size_t align256(size_t b) { return (b + 255) & ~(size_t)255; }

bool qn_cuda_attention_f16_applies(const qn_cuda_attention_args *a) {
    if (a->dtype != QN_DT_F32 || a->Nq < QN_CUDA_ATTN_F16_MIN_NQ || a->Nk < 1 || !(a->scale > 0.0f)) return false;
    qn_cuda_attn_kernel k;
    if (!qn_cuda_attn_kernel_of(QN_CUDA_ATTN_PREFILL, QN_DT_F16, (int)a->D, &k)) return false; /* head dims it has */
    return route_wanted();
}

quanta_status qn_cuda_attention_f16(qn_cuda_state *s, const qn_cuda_attention_args *a32) {
    qn_cuda_attention_args a = *a32;
    const int64_t nq = a.B * a.Hq * a.Nq * a.D, nk = a.B * a.Hkv * a.Nk * a.D;
    const size_t qb = align256((size_t)nq * 2), kb = align256((size_t)nk * 2), conv = 2 * qb + 2 * kb;
    a.dtype = QN_DT_F16;
    /* The plan's scratch depends on sizes and on 16-byte alignment only; the copies will sit at
     * 256-byte aligned offsets of the scratch, so size it with stand-in aligned addresses. */
    a.q = a.k = a.v = a.out = (void *)(uintptr_t)256;
    const size_t att = qn_cuda_attention_scratch_bytes(&a);
    void *base = NULL;
    quanta_status st = qn_cuda_scratch(s, conv + att, &base);
    if (st != QUANTA_OK) return st;
    char *p = base;
    void *q16 = p, *o16 = p + qb, *k16 = p + 2 * qb, *v16 = p + 2 * qb + kb;
    int e = qn_cuda_unary(QN_UNARY_COPY, QN_DT_F32, a32->q, QN_DT_F16, q16, nq, 0.0f, s->stream);
    if (!e) e = qn_cuda_unary(QN_UNARY_COPY, QN_DT_F32, a32->k, QN_DT_F16, k16, nk, 0.0f, s->stream);
    if (!e) e = qn_cuda_unary(QN_UNARY_COPY, QN_DT_F32, a32->v, QN_DT_F16, v16, nk, 0.0f, s->stream);
    if (e) return qn_cuda_error((cudaError_t)e, "attention: converting q/k/v to f16");
    a.q = q16, a.k = k16, a.v = v16, a.out = o16;
    a.scratch = att ? p + conv : NULL;
    a.scratch_bytes = att ? s->scratch_bytes - conv : 0;
    char msg[256] = "";
    e = qn_cuda_attention(&a, msg, sizeof msg);
    if (e) {
        (void)cudaGetLastError();
        return qn_error_set(QUANTA_ERR_BACKEND, "cuda attention (f16 route): %s (%s)", msg[0] ? msg : "launch failed",
                            cudaGetErrorString((cudaError_t)e));
    }
    e = qn_cuda_unary(QN_UNARY_COPY, QN_DT_F16, o16, QN_DT_F32, a32->out, nq, 0.0f, s->stream);
    return e ? qn_cuda_error((cudaError_t)e, "attention: converting the output to f32") : QUANTA_OK;
}
