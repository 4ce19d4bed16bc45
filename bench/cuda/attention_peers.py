#!/usr/bin/env python3
"""Times torch SDPA backends (flash, cudnn, efficient) on the shapes in the CSV that
bench/cuda/attention_check.cu wrote in the same run, and prints a ratio table.

usage: attention_peers.py ours.csv [peers.csv]
Prefill metric: TFLOP/s = 4*B*Hq*(visible query-key pairs)*D / time; decode: GB/s of K+V read.
Decode calls are captured as a CUDA graph over enough K/V copies that each call reads HBM."""
import csv
import os
import sys
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

BACKENDS = [("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION),
            ("efficient", SDPBackend.EFFICIENT_ATTENTION)]
# ATTN_PEERS=flash,cudnn: only these backends (a shorter run, e.g. bench/cuda/verify_fa12.sh)
if os.environ.get("ATTN_PEERS"):
    _want = os.environ["ATTN_PEERS"].split(",")
    BACKENDS = [b for b in BACKENDS if b[0] in _want]
DT = {"bf16": torch.bfloat16, "f16": torch.float16, "f32": torch.float32}


def visible_pairs(nq, nk, causal, window):
    n = 0
    for q in range(nq):
        pos = nk - nq + q
        lo, hi = 0, nk
        if causal:
            hi = min(hi, pos + 1)
        if window > 0:
            lo = max(lo, pos - window + 1)
        n += max(0, hi - lo)
    return n


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def time_prefill(be, q, k, v, causal, gqa):
    def call():
        with sdpa_kernel([be]):
            return F.scaled_dot_product_attention(q, k, v, is_causal=bool(causal), enable_gqa=gqa)
    call()
    torch.cuda.synchronize()
    # a sample = back-to-back calls filling ~2 ms, as attention_check wgbench times our forms (fa14)
    e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    e0.record()
    call()
    e1.record()
    e1.synchronize()
    reps = max(1, min(20, int(2.0 / max(e0.elapsed_time(e1), 1e-3))))
    ts = []
    for _ in range(7):
        e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        e0.record()
        for _ in range(reps):
            call()
        e1.record()
        e1.synchronize()
        ts.append(e0.elapsed_time(e1) / reps)
    return median(ts)


def time_decode(be, qs, ks, vs, gqa):
    copies = len(ks)
    calls = max(copies, 32)

    def run_all():
        with sdpa_kernel([be]):
            for i in range(calls):
                F.scaled_dot_product_attention(qs[i % copies], ks[i % copies], vs[i % copies], enable_gqa=gqa)
    run_all()
    torch.cuda.synchronize()
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    g = torch.cuda.CUDAGraph()
    with torch.cuda.stream(s):
        run_all()
        torch.cuda.synchronize()
        with torch.cuda.graph(g):
            run_all()
    g.replay()
    torch.cuda.synchronize()
    ts = []
    for _ in range(9):
        e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        e0.record()
        g.replay()
        e1.record()
        e1.synchronize()
        ts.append(e0.elapsed_time(e1) / calls)
    return median(ts)


def main():
    rows = list(csv.DictReader(open(sys.argv[1])))
    shapes = OrderedDict()
    for r in rows:
        key = (r["kind"], r["dtype"], int(r["D"]), int(r["B"]), int(r["Hq"]), int(r["Hkv"]), int(r["Nq"]),
               int(r["Nk"]), int(r["causal"]), int(r["window"]))
        shapes.setdefault(key, {})[r["variant"]] = (float(r["ms"]), float(r["metric"]))
    out_rows = []
    torch.manual_seed(0)
    # device ceiling: a large device-to-device copy, bytes read + written
    a = torch.empty(1 << 30, dtype=torch.uint8, device="cuda").random_(0, 255)
    b = torch.empty_like(a)
    b.copy_(a)
    torch.cuda.synchronize()
    ts = []
    for _ in range(10):
        e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        e0.record()
        b.copy_(a)
        e1.record()
        e1.synchronize()
        ts.append(e0.elapsed_time(e1))
    copy_gbs = 2 * a.numel() / (median(ts) * 1e-3) / 1e9
    del a, b
    print(f"device copy (1 GiB, read+write): {copy_gbs:.0f} GB/s", flush=True)

    for key, ours in shapes.items():
        kind, dt, D, B, Hq, Hkv, Nq, Nk, causal, window = key
        dtype = DT[dt]
        gqa = Hq != Hkv
        peers = {}
        if kind == "prefill":
            flops = 4.0 * B * Hq * visible_pairs(Nq, Nk, causal, window) * D
            if window == 0:
                q = torch.randn(B, Hq, Nq, D, device="cuda", dtype=dtype) * 1.5
                k = torch.randn(B, Hkv, Nk, D, device="cuda", dtype=dtype)
                v = torch.randn(B, Hkv, Nk, D, device="cuda", dtype=dtype)
                for name, be in BACKENDS:
                    try:
                        ms = time_prefill(be, q, k, v, causal, gqa)
                        peers[name] = (ms, flops / (ms * 1e-3) / 1e12)
                    except Exception as e:  # noqa: BLE001 - report and go on
                        peers[name] = None
                        print(f"  {name} failed on {key}: {str(e).splitlines()[0][:120]}", flush=True)
                del q, k, v
        else:
            kvbytes = 2 * B * Hkv * Nk * D * 2
            copies = min(64, max(1, (512 << 20) // kvbytes + 1))
            qs = [torch.randn(B, Hq, Nq, D, device="cuda", dtype=dtype) for _ in range(copies)]
            ks = [torch.randn(B, Hkv, Nk, D, device="cuda", dtype=dtype) for _ in range(copies)]
            vs = [torch.randn(B, Hkv, Nk, D, device="cuda", dtype=dtype) for _ in range(copies)]
            for name, be in BACKENDS:
                try:
                    ms = time_decode(be, qs, ks, vs, gqa)
                    peers[name] = (ms, kvbytes / (ms * 1e-3) / 1e9)
                except Exception as e:  # noqa: BLE001
                    peers[name] = None
                    print(f"  {name} failed on {key}: {str(e).splitlines()[0][:120]}", flush=True)
            del qs, ks, vs
        torch.cuda.empty_cache()
        out_rows.append((key, ours, peers))
        print("measured", key, {n: (None if p is None else round(p[1], 1)) for n, p in peers.items()}, flush=True)

    if len(sys.argv) > 2:
        with open(sys.argv[2], "w") as f:
            w = csv.writer(f)
            w.writerow(["kind", "dtype", "D", "B", "Hq", "Hkv", "Nq", "Nk", "causal", "window", "backend", "ms",
                        "metric"])
            for key, ours, peers in out_rows:
                for name, p in list(ours.items()) + [(n, p) for n, p in peers.items()]:
                    if p is not None:
                        w.writerow(list(key) + [name, f"{p[0]:.5f}", f"{p[1]:.2f}"])

    def fmt(p):
        return "-" if p is None else f"{p[1]:.0f}"

    print()
    print(f"device copy ceiling {copy_gbs:.0f} GB/s")
    print("| kind | dtype | D | B | Hq/Hkv | Nq | Nk | causal | win | ours | best variant | flash | cudnn | "
          "efficient | ours/flash | ours/cudnn |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for key, ours, peers in out_rows:
        kind, dt, D, B, Hq, Hkv, Nq, Nk, causal, window = key
        d = ours.get("default")
        best = max(ours.items(), key=lambda kv: kv[1][1])
        fl, cu = peers.get("flash"), peers.get("cudnn")
        r1 = "-" if (fl is None or d is None) else f"{d[1] / fl[1]:.2f}"
        r2 = "-" if (cu is None or d is None) else f"{d[1] / cu[1]:.2f}"
        print(f"| {kind} | {dt} | {D} | {B} | {Hq}/{Hkv} | {Nq} | {Nk} | {causal} | {window} | {fmt(d)} | "
              f"{best[0]} {best[1][1]:.0f} | {fmt(fl)} | {fmt(cu)} | {fmt(peers.get('efficient'))} | {r1} | {r2} |")
    print("(prefill: TFLOP/s; decode: GB/s of K+V read)")
    # every variant of ours against the peers, one row each (variants named in the CSV: attention_check bench/wgbench)
    print()
    print("| kind | dtype | B | Hq/Hkv | Nq | causal | win | variant | ours | /cudnn | /flash |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for key, ours, peers in out_rows:
        kind, dt, D, B, Hq, Hkv, Nq, Nk, causal, window = key
        fl, cu = peers.get("flash"), peers.get("cudnn")
        for name, p in ours.items():
            r1 = "-" if fl is None else f"{p[1] / fl[1]:.2f}"
            r2 = "-" if cu is None else f"{p[1] / cu[1]:.2f}"
            print(f"| {kind} | {dt} | {B} | {Hq}/{Hkv} | {Nq} | {causal} | {window} | {name} | {p[1]:.0f} | {r2} | {r1} |")


if __name__ == "__main__":
    main()
