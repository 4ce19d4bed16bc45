#!/usr/bin/env python3
"""fp8_pair.py (fp816, fp817) — Quanta's FP8 x FP8 GEMM (kernels_cuda/matmul_fp8_wg.cu, loaded as a shared library) and
torch._scaled_mm (row-wise scales, use_fast_accum=True: the issue #14 peer) timed INTERLEAVED in one process, so
the peer's drift between calls (up to 25% last session) hits both alike.

  python3 bench/cuda/fp8_pair.py LIB [rows] [forms]      LIB: libqnfp8.so from bench/cuda/build_fp8_check.sh

rows: "unmet" (fp817: the eight rows under 0.9x in the 02:25 call), "fp818" (those + four that passed), "fp819" (the
six under 0.9x in the 08:30 call + two that passed, where the ping-pong pick takes them), "fp820" (the seven under
0.9x in session 19's call 3 + three that passed), "all" (30
LLaMA-7B/13B rows, the unmet first),
or M,N,K[;M,N,K...]. forms: comma list of ours to time beside the peer (default dflt,sk3): dflt = 0ts (tile picked,
no split: QUANTA_CUDA_FP8_SK=0), sk3 = fp816's split-K groups (QUANTA_CUDA_FP8_SK=3), sk4 = the groups where their
model picks them (else dflt; SK=4, the engine's default at fp817's start), sk4b = sk4 again (fp817: the same launch
timed twice, the noise floor of a ratio), sk5 = fp817's groups with the shared reduction (every piece stores a share;
SK=5), sk6 = those where its model picks them (SK=6), sk2 = fp815's stream-K, t192 / t128 = 0ts with the 128x192 /
128x128 tile forced, g192 = split-K groups on 128x192, w128 = 128x128 in clusters of 2 along the tokens multicasting
the weights (V2=2tws, the peer's 1x2 cluster), c128 = 128x128 in clusters of 2 along the weights multicasting the
tokens (V2=2ts), stm / sk4s / sk6s = dflt / sk4 / sk6 with fp817's stmatrix epilogue (QUANTA_CUDA_FP8_STM=1), sk4w /
sk6w = sk4 / sk6 with QUANTA_CUDA_FP8_TW=1 (a picked 128x128 as w128, no groups there), sk6ws = sk6 with both, quant
= our per-token quantizer alone (default form); fp818: ss = sk4's route with both wgmma operands from shared memory
(QUANTA_CUDA_FP8_SS=1's form), ss0 = dflt in that form, s128 / s256 / s192 = it with 128x128 / 128x256 / 128x192
forced, t256 = dflt (register form) with 128x256 forced, sw128 = w128 in the SS form (the peer's 128x128 1x2 cluster,
both operands from shared memory); fp819: pp = the ping-pong form forced (128x128 tiles, one per consumer warpgroup, SS;
persist 4 | 2048 | 4096), ppw = it in clusters of 2 along the tokens (the weights multicast), ppt (fp823) = it in
clusters of 2 along the weights (the tokens multicast: persist 4 | 2048 | 4096, cluster 2), c128t (fp823) = s128 in
those pairs (cooperative), ppr (fp823) = km's route with ppt where the ping-pong pick takes the row
(QUANTA_CUDA_FP8_PP=3's route: sk 4 | 8192 on K-major codes), pps = sk4's route with
the ping-pong form where its pick takes it (sk 4 | 128: QUANTA_CUDA_FP8_PP=1's route), oe = ss0 with the split
epilogue (a tile's stores under the next tile's K loop; persist 4 | 2048 | 8192), oes = ss with it (sk 4 | 64 | 256:
QUANTA_CUDA_FP8_OE=1's route); fp820: km = the engine's route on a weight with K-major codes only (QUANTA_CUDA_FP8_KM=1:
SS everywhere, OE where every block has >= 2 tiles), kmn = it without OE (sk | 512), and on that weight km0 = no split-K
(SK=0: round-robin tiles of the pick), km2 = stream-K (SK=2), km5 = the groups with the shared reduction (SK=5),
km128 / km192 = 0ts with 128x128 / 128x192 forced, kml / kml5 = km / km5 with the groups' owner piece 3 stages longer
(QUANTA_CUDA_FP8_LEAD=1, sk | 1024), sk4l = sk4 (the default, tiled codes) with that lead; fp821: sk4l8 / sk4l16 = sk4
with an owner lead of 8 / 16 stages (sk bits 16-21, capped at (stages - pieces) / 2; bench only); fp822 (KM is the
default since session 21: km is the default route): kmb = km again (the noise floor), kmc = km with the groups' pieces
one cluster, reduced in distributed shared memory (sk | 2048: QUANTA_CUDA_FP8_SKCL=1's route), km3 / kmc3 = the groups
on every row (SK=3) with the slots / in a cluster (the data to refit the groups' model for the cluster form), skc = sk4
(tiled codes) with the cluster reduction, kmo = km with QUANTA_CUDA_FP8_SKCL=2 (as kmc, and the OE rows' last partial
round of 128x256 tiles in cluster groups of up to 4 pieces: sk | 4096), km256 = 0ts on those codes with 128x256
forced (OE by its rule: the M = 4096 rows' default launch), kc2 = it in clusters of 2 along the weights, the token
box's halves multicast (the peer's 2x1 / 1x2 cluster question), kc2n / km256n = both without OE; "peer" alone:
_scaled_mm only (for ncu).
Each row also prints which routes sk4 / sk6 take there (groups or not: the host's models).
Method: per row, every candidate warmed up (3 calls), then FP8_PAIR_REPS (default 5) rounds; in each round every
candidate is timed once (CUDA events around 20 back-to-back calls, us per call), the order rotated each round. Printed:
medians, the ratio peer / ours of the medians (> 1: ours faster) and the median of the per-round ratios.
What each side covers: the peer is _scaled_mm alone, given e4m3 x and its scales (no quantizing in its time); "dflt"
etc. are our GEMM alone on codes our quantizer wrote (same work); "+q" adds our quantizer's median (the whole op).
Weights: the peer's e4m3 bytes reused as our tiled codes (values do not change the speed), row scales alike.
FP8_PAIR_PROF=1: also torch.profiler's CUDA kernels of one _scaled_mm call per row (name, us): what the peer runs.
"""
import ctypes
import os
import sys

import torch

from fp8_peers import peer_weight, peer_x  # the same operands as fp8_peers.py's (bench/cuda, the script's directory)

UNMET = [(512, 4096, 11008), (256, 5120, 5120), (512, 4096, 4096), (1024, 13824, 5120), (2048, 11008, 4096),
         (4096, 11008, 4096), (4096, 13824, 5120), (4096, 5120, 5120)]
NK = [(11008, 4096), (4096, 11008), (5120, 5120), (4096, 4096), (13824, 5120), (5120, 13824)]
MS = [512, 256, 1024, 2048, 4096]
BF16, E4M3 = 2, 2  # formats/layout.h QN_DT_BF16, cuda_kernels.h QN_CW_E4M3


class QW(ctypes.Structure):  # cuda_kernels.h qn_cuda_weight
    _fields_ = [("fmt", ctypes.c_int), ("N", ctypes.c_int64), ("K", ctypes.c_int64), ("Np", ctypes.c_int64),
                ("Kp", ctypes.c_int64), ("group", ctypes.c_int32), ("codes", ctypes.c_void_p),
                ("row_scale", ctypes.c_void_p), ("meta", ctypes.c_void_p), ("codes_k", ctypes.c_void_p)]


# fp820: the seven rows under 0.9x in session 19's call 3 (H100 09:45), then three that passed (a small-M, a one-round
# and a many-round row: the layout must not lose them)
FP820 = [(512, 4096, 11008), (256, 5120, 5120), (4096, 11008, 4096), (4096, 13824, 5120), (2048, 5120, 5120),
         (2048, 11008, 4096), (512, 13824, 5120), (256, 4096, 4096), (1024, 5120, 13824), (4096, 5120, 13824)]
# fp818: four rows at >= 0.9x in call 1 (02:25) beside the unmet ones: a new form must not lose them
PASS4 = [(256, 4096, 4096), (512, 5120, 5120), (2048, 4096, 4096), (1024, 5120, 13824)]


# fp819: the six rows under 0.9x in call 1 of session 19 (H100 08:30), then two at >= 0.9 where the ping-pong pick takes
# the shape (a new route must not lose them)
FP819 = [(512, 4096, 11008), (256, 5120, 5120), (2048, 11008, 4096), (4096, 11008, 4096), (4096, 13824, 5120),
         (2048, 5120, 5120), (2048, 4096, 4096), (4096, 5120, 13824)]


def rows_of(arg):
    if arg == "unmet":
        return UNMET
    if arg == "fp818":
        return UNMET + PASS4
    if arg == "fp820":
        return FP820
    if arg == "fp819":
        return FP819
    if arg == "all":
        rest = [(m, n, k) for n, k in NK for m in MS if (m, n, k) not in UNMET]
        return UNMET + rest
    return [tuple(int(v) for v in r.split(",")) for r in arg.split(";")]


def time20(f):
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    s.record()
    for _ in range(20):
        f()
    e.record()
    e.synchronize()
    return s.elapsed_time(e) * 1e3 / 20


def med(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def main():
    sys.stdout.reconfigure(line_buffering=True)  # a run cut by its timeout keeps the rows it printed
    lib = ctypes.CDLL(sys.argv[1])
    rows = rows_of(sys.argv[2] if len(sys.argv) > 2 else "unmet")
    forms = (sys.argv[3] if len(sys.argv) > 3 else "dflt,sk3").split(",")
    reps = int(os.environ.get("FP8_PAIR_REPS", "5"))
    prof = os.environ.get("FP8_PAIR_PROF") == "1"
    vp, i64 = ctypes.c_void_p, ctypes.c_int64
    lib.qn_cuda_fp8_x_bytes.restype = ctypes.c_size_t
    lib.qn_cuda_fp8_x_bytes.argtypes = [i64, i64]
    lib.qn_cuda_fp8_sk_bytes.restype = ctypes.c_size_t
    lib.qn_cuda_fp8_sk_bytes.argtypes = [ctypes.c_int]
    lib.qn_cuda_fp8_quantize_x_form.argtypes = [ctypes.c_int, vp, i64, i64, i64, vp, ctypes.c_int, ctypes.c_int, vp]
    lib.qn_cuda_fp8_gemm_cl.argtypes = [ctypes.POINTER(QW), vp, i64, ctypes.c_int, vp, ctypes.c_int, ctypes.c_int, vp,
                                        ctypes.c_int, ctypes.c_int, vp, ctypes.c_int, vp]
    lib.qn_cuda_fp8_gemm_sk.argtypes = [ctypes.POINTER(QW), vp, i64, ctypes.c_int, vp, ctypes.c_int, ctypes.c_int, vp,
                                        vp, vp, ctypes.c_int, vp]
    for f in ("qn_cuda_fp8_skg_taken", "qn_cuda_fp8_skr_taken"):
        getattr(lib, f).argtypes = [i64, i64, i64, ctypes.c_int]
    lib.qn_cuda_fp8_pp_taken.argtypes = [i64, i64, ctypes.c_int]
    lib.qn_cuda_fp8_km_oe_taken.argtypes = [i64, i64, i64, ctypes.c_int]
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    print(f"fp8_pair: torch {torch.__version__}, {torch.cuda.get_device_name()}, {sms} SMs; medians of {reps} "
          f"interleaved rounds (20 calls each), us; ratio = _scaled_mm / ours (> 1: ours faster)")
    skw = torch.empty(lib.qn_cuda_fp8_sk_bytes(sms) // 4, device="cuda", dtype=torch.float32)
    skf = torch.zeros(2 * sms, device="cuda", dtype=torch.int32)
    weights = {}
    bad = 0
    for M, N, K in rows:
        w8, sw = peer_weight(weights, N, K)
        # codes_k (fp818's SS form): the peer's row-major bytes are a K-major copy already (values do not change speed)
        qw = QW(E4M3, N, K, N, K, 0, w8.data_ptr(), sw.data_ptr(), None, w8.data_ptr())
        # fp820: the same bytes as the weight's only codes, K-major (codes NULL: QUANTA_CUDA_FP8_KM=1's weight)
        qwk = QW(E4M3, N, K, N, K, 0, None, sw.data_ptr(), None, w8.data_ptr())
        x, x8, sx = peer_x(M, K)
        buf = torch.empty(lib.qn_cuda_fp8_x_bytes(M, K), device="cuda", dtype=torch.uint8)
        y = torch.empty(M, N, device="cuda", dtype=torch.bfloat16)
        err = [0]

        def q():
            err[0] |= lib.qn_cuda_fp8_quantize_x_form(BF16, x.data_ptr(), M, K, K, buf.data_ptr(), 1, -1, None)

        def gemm(tile, cluster=1, persist=4, w=qw):
            return lambda: err.__setitem__(0, err[0] | lib.qn_cuda_fp8_gemm_cl(
                ctypes.byref(w), buf.data_ptr(), M, BF16, y.data_ptr(), tile, 1, None, cluster, persist, None, sms, None))

        def sk(mode, tile, w=qw):
            return lambda: err.__setitem__(0, err[0] | lib.qn_cuda_fp8_gemm_sk(
                ctypes.byref(w), buf.data_ptr(), M, BF16, y.data_ptr(), tile, mode, skw.data_ptr(), skf.data_ptr(),
                None, sms, None))

        known = {"dflt": gemm(0), "t192": gemm(5), "t128": gemm(2), "sk3": sk(3, 0), "g192": sk(3, 5), "sk4": sk(4, 0),
                 "sk4b": sk(4, 0), "sk5": sk(5, 0), "sk6": sk(6, 0), "w128": gemm(2, 2, 6), "c128": gemm(2, 2, 4),
                 "stm": gemm(0, 1, 4 | 512), "sk4s": sk(4 | 16, 0), "sk6s": sk(6 | 16, 0), "sk4w": sk(4 | 32, 0),
                 "sk6w": sk(6 | 32, 0), "sk6ws": sk(6 | 48, 0),
                 "sk2": sk(2, 0), "quant": q,
                 "ss": sk(4 | 64, 0), "ss0": gemm(0, 1, 4 | 2048), "s128": gemm(2, 1, 4 | 2048),
                 "s256": gemm(1, 1, 4 | 2048), "s192": gemm(5, 1, 4 | 2048), "t256": gemm(1),
                 "sw128": gemm(2, 2, 6 | 2048),
                 "pp": gemm(2, 1, 4 | 2048 | 4096), "ppw": gemm(2, 2, 6 | 2048 | 4096), "pps": sk(4 | 128, 0),
                 "ppt": gemm(2, 2, 4 | 2048 | 4096), "c128t": gemm(2, 2, 4 | 2048), "ppr": sk(4 | 8192, 0, qwk),
                 "oe": gemm(0, 1, 4 | 2048 | 8192), "oes": sk(4 | 64 | 256, 0),
                 "km": sk(4, 0, qwk), "kmn": sk(4 | 512, 0, qwk), "km0": sk(0, 0, qwk), "km2": sk(2, 0, qwk),
                 "km5": sk(5, 0, qwk), "km128": gemm(2, 1, 4, qwk), "km192": gemm(5, 1, 4, qwk),
                 "kml": sk(4 | 1024, 0, qwk), "kml5": sk(5 | 1024, 0, qwk), "sk4l": sk(4 | 1024, 0),
                 "sk4l8": sk(4 | (8 << 16), 0), "sk4l16": sk(4 | (16 << 16), 0),
                 "kmb": sk(4, 0, qwk), "kmc": sk(4 | 2048, 0, qwk), "km3": sk(3, 0, qwk), "kmc3": sk(3 | 2048, 0, qwk),
                 "skc": sk(4 | 2048, 0), "kmo": sk(4 | 4096, 0, qwk),
                 "km256": gemm(1, 1, 4, qwk), "kc2": gemm(1, 2, 4, qwk), "kc2n": gemm(1, 2, 4 | 16384, qwk),
                 "km256n": gemm(1, 1, 4 | 16384, qwk)}
        peer = lambda: torch._scaled_mm(x8, w8.t(), sx, sw, out_dtype=torch.bfloat16, use_fast_accum=True)
        cands = [("peer", peer)] + [(f, known[f]) for f in forms if f in known]
        if "quant" not in forms and forms != ["peer"]:  # peer: _scaled_mm alone (verify_fp816.sh's ncu of it)
            cands.append(("quant", q))
        q()
        for _, f in cands:
            for _ in range(3):
                f()
        torch.cuda.synchronize()
        t = {c: [] for c, _ in cands}
        for r in range(reps):
            order = cands[r % len(cands):] + cands[:r % len(cands)]
            for c, f in order:
                t[c].append(time20(f))
        if err[0]:
            print(f"{M} {N} {K}: our launches failed ({err[0]})")
            bad = 1
        mp = med(t["peer"])
        parts = [f"peer {mp:.1f}"]
        for c, _ in cands[1:]:
            m = med(t[c])
            if c == "quant":
                parts.append(f"quant {m:.1f}")
                continue
            pr = med([a / b for a, b in zip(t["peer"], t[c])])
            parts.append(f"{c} {m:.1f} ({mp / m:.2f}, rounds {pr:.2f}; +q {mp / (m + med(t['quant'])):.2f})" if "quant" in t
                         else f"{c} {m:.1f}")
        spread = (max(t["peer"]) - min(t["peer"])) / mp
        routes = f"sk4 {'groups' if lib.qn_cuda_fp8_skg_taken(N, M, K, sms) else '0ts'}, " \
                 f"sk6 {'groups' if lib.qn_cuda_fp8_skr_taken(N, M, K, sms) else '0ts'}, " \
                 f"pps {'pp' if lib.qn_cuda_fp8_pp_taken(N, M, sms) else 'sk4'}, " \
                 f"km OE {'yes' if lib.qn_cuda_fp8_km_oe_taken(N, M, K, sms) else 'no'}"
        print(f"{M:>5} {N:>5} {K:>5} | " + " | ".join(parts) + f" | peer spread {spread:.0%} | {routes}   pair")
        if prof:
            from torch.profiler import profile, ProfilerActivity
            with profile(activities=[ProfilerActivity.CUDA]) as p:
                peer()
                torch.cuda.synchronize()
            dt = lambda e: getattr(e, "device_time_total", None) or getattr(e, "cuda_time_total", 0.0)
            ks = [(e.key, dt(e)) for e in p.key_averages() if dt(e) > 0]
            print(f"{M:>5} {N:>5} {K:>5} | peer kernels: " +
                  "; ".join(f"{n[:110]} {us:.1f} us" for n, us in ks) + "   prof")
    return bad


if __name__ == "__main__":
    sys.exit(main())
