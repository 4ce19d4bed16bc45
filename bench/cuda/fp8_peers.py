#!/usr/bin/env python3
"""fp8_peers.py — torch._scaled_mm (FP8 e4m3 x e4m3, row-wise scales: the issue #14 peer) on the shapes of
bench/cuda/fp8_check's timing CSV, in the same device call, and the ratios to Quanta's FP8 GEMM.

  python3 bench/cuda/fp8_peers.py fp8_time.csv

Same method as fp8_check (CUDA events around 20 back-to-back calls, best of 5; bf16 out, operands resident):
row-wise scales (x per token, w per output channel) with use_fast_accum True (the arithmetic of our kernel)
and False (torch's default: promoted sums). Ratio = peer time / ours (> 1: ours faster), against our GEMM
alone (the same work: _scaled_mm is given e4m3 x) and against quantize + GEMM. A CSV from `fp8_check time2`
(fp8pp11) also has the clustered and persistent GEMMs' times (v2c2_us .. v2c4p_us): their ratios follow on a
second line per shape (FP8_PEERS_FAST_ONLY=1: use_fast_accum True alone); one from `fp8_check time3` (fp813) has the default 2p and the TMA form (v2c1t_us, v2c2t_us, v2c2ts_us, v2c1ts_us, v2c2tw_us); one from
`fp8_check time4` (fp814) the default 0ts (gemm_us, v2c1ts_us) and it with 128x256 / 128x192 forced (v2c1ts256_us,
v2c1ts192_us; round 1's CSV also had 0t, 2ts, 0tsn and the ping-pong form); one from `fp8_check time5` (fp815)
the default, stream-K always and by its model (v2c1sk_us, v2c1skm_us) and 128x192 forced.
"""
import csv
import os
import sys

import torch


def time_us(f):
    for _ in range(3):
        f()
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    best = float("inf")
    for _ in range(int(os.environ.get("FP8_PEERS_REPS", "5"))):  # verify_fp815.sh: 3 (its time budget)
        s.record()
        for _ in range(20):
            f()
        e.record()
        torch.cuda.synchronize()
        best = min(best, s.elapsed_time(e) * 1e3 / 20)
    return best


def peer_weight(cache, N, K):
    """The peer's operands for an N x K weight (e4m3 codes of a Gaussian, per-row scales), one shape cached at a time."""
    if (N, K) not in cache:
        cache.clear()
        torch.cuda.empty_cache()
        w = torch.randn(N, K, device="cuda")
        sw = (w.abs().amax(1, keepdim=True) / 448.0).clamp_min(1e-12)
        cache[(N, K)] = ((w / sw).to(torch.float8_e4m3fn), sw.reshape(1, N).contiguous())
    return cache[(N, K)]


def peer_x(M, K):
    """x (bf16, M x K) and the peer's per-token e4m3 codes and scales of it."""
    x = torch.randn(M, K, device="cuda", dtype=torch.bfloat16)
    sx = (x.float().abs().amax(1, keepdim=True) / 448.0).clamp_min(1e-12)
    return x, (x.float() / sx).to(torch.float8_e4m3fn), sx


def main():
    sys.stdout.reconfigure(line_buffering=True)  # a run cut by its timeout keeps the rows it printed
    rows = list(csv.DictReader(open(sys.argv[1])))
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}")
    print(f"{'M':>6} {'N':>6} {'K':>6} | {'gemm':>8} {'ours':>8} | {'sm_fast':>8} {'sm':>8} | "
          f"{'fast/gemm':>9} {'sm/gemm':>8} {'fast/ours':>9}   (scaled_mm row-wise, us)")
    weights = {}
    for r in rows:
        M, N, K = int(r["M"]), int(r["N"]), int(r["K"])
        w8, sw = peer_weight(weights, N, K)
        x, x8, sx = peer_x(M, K)
        t = {}
        t[False] = float("nan")
        for fast in (True,) if os.environ.get("FP8_PEERS_FAST_ONLY") else (True, False):
            try:
                t[fast] = time_us(lambda: torch._scaled_mm(x8, w8.t(), sx, sw, out_dtype=torch.bfloat16,
                                                           use_fast_accum=fast))
            except Exception as ex:  # an older torch without row-wise scales
                print(f"scaled_mm M={M} N={N} K={K} fast={fast}: {ex}")
                t[fast] = float("nan")
        g, o = float(r["gemm_us"]), float(r["ours_us"])
        print(f"{M:>6} {N:>6} {K:>6} | {g:>8.1f} {o:>8.1f} | {t[True]:>8.1f} {t[False]:>8.1f} | "
              f"{t[True] / g:>9.2f} {t[False] / g:>8.2f} {t[True] / o:>9.2f}   scaled_mm")
        v2 = [(c, float(r[c])) for c in ("v2c2_us", "v2c4_us", "v2c1p_us", "v2c2p_us", "v2c4p_us", "v2c1pp_us",
                                              "v2c2pp_us", "v2c4pp_us", "v2c1t_us", "v2c2t_us", "v2c2ts_us", "v2c1ts_us", "v2c2tw_us", "v2c4tw_us",
                                              "v2c1tsn_us", "v2c1tp_us", "v2c2tp_us", "v2c1ts256_us", "v2c1ts192_us", "v2c1sk_us",
                                              "v2c1skm_us") if r.get(c)]
        if v2:
            q = float(r["quant_us"])
            print(f"{M:>6} {N:>6} {K:>6} | " + ", ".join(
                f"{c[2:-3]} {v:.1f} us: fast/gemm {t[True] / v:.2f} (+quant {t[True] / (q + v):.2f})"
                for c, v in v2) + "   scaled_mm v2")
        if r.get("quant_sm_us"):  # fp815: the whole op, quantizer included, against torch's own quantize + _scaled_mm
            def tq_fn():
                s_ = x.float().abs().amax(1, keepdim=True) / 448.0
                return (x.float() / s_).to(torch.float8_e4m3fn), s_
            tq = time_us(tq_fn)
            qs, g = float(r["quant_sm_us"]), float(r["gemm_us"])
            best = min(float(r[c]) for c in ("gemm_us", "v2c1sk_us", "v2c1skm_us") if r.get(c))
            print(f"{M:>6} {N:>6} {K:>6} | torch quant {tq:.1f} us + scaled_mm {t[True]:.1f}; ours quant {q:.1f} / "
                  f"one-read {qs:.1f} us + gemm {g:.1f} (best form {best:.1f}): (torch op) / (ours, one-read + best) "
                  f"{(tq + t[True]) / (qs + best):.2f}, (torch op) / (ours, default) {(tq + t[True]) / (q + g):.2f}   op")


if __name__ == "__main__":
    main()
