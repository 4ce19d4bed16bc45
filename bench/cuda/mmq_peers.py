#!/usr/bin/env python3
"""mmq_peers.py — cuBLAS bf16 (F.linear) on the shapes of ggml_mmq_bench rows, and the ratio issue 14 asks about:
our quantized GEMM's time against cuBLAS bf16's on the same M x N x K (target: cuBLAS time / ours >= 0.8).

  python3 bench/cuda/mmq_peers.py time 512x4096x4096 2048x14336x4096 ... > peers_a.csv   (M x N x K; needs torch)
  python3 bench/cuda/mmq_peers.py table mmq_bench.csv peers_a.csv [peers_b.csv]          (plain python)
  python3 bench/cuda/mmq_peers.py mmq_bench.csv                                          (both in one: time + table)

Grouped rows of ggml_mmq_bench (mmq22: tile "grp[N0+N1]", N their sum) get cuBLAS both as one GEMM on the
concatenated weight (the row's N) and as the separate GEMMs (the sum of their times), when those shapes were timed.
cuBLAS moved by up to 25% between device calls, so verify_mmq16.sh times it before and after our rows (same
process state, same clocks as far as the card allows) and the table shows both and the ratio against their mean.
Timing as peers.py (its bench(): CUDA events around back-to-back calls, weights rotated over copies of >= 200 MB
so each call reads HBM, median of the replays).
"""
import csv
import os
import sys


def time_shapes(shapes):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import torch
    import torch.nn.functional as F

    from peers import bench, ncopies

    torch.backends.cuda.matmul.allow_tf32 = False
    out = {}
    for M, N, K in shapes:
        if (M, N, K) in out:
            continue
        w = torch.randn(N, K, device="cuda", dtype=torch.bfloat16) * 0.02
        ws = [w] + [w.clone() for _ in range(ncopies(N * K * 2) - 1)]
        x = torch.randn(M, K, device="cuda", dtype=torch.bfloat16)
        out[(M, N, K)] = bench([(lambda a=a: F.linear(x, a)) for a in ws]) * 1e6
        del ws, w, x
        torch.cuda.empty_cache()
    return out


def read_peers(path):
    return {(int(r["M"]), int(r["N"]), int(r["K"])): float(r["us"]) for r in csv.DictReader(open(path))}


def table(rows, peers):
    print("| format | M | N | K | x, y | row (tile) | ours us | TFLOP/s | cuBLAS bf16 us (each timing) | TFLOP/s | cuBLAS / ours |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        M, N, K = int(r["M"]), int(r["N"]), int(r["K"])
        cb = [p[(M, N, K)] for p in peers if (M, N, K) in p]
        ours, fl = float(r["new_us"]), 2.0 * M * N * K
        mean = sum(cb) / len(cb) if cb else None
        each = " / ".join(f"{c:.1f}" for c in cb) if cb else "-"
        peer = f"{fl / mean / 1e6:.0f} | {mean / ours:.2f}" if cb else "- | -"
        # mmq22's grouped rows (tile "grp[1024+1024]"): also cuBLAS as the separate GEMMs, the sum of their times
        tile = r["new_tile"]
        if "[" in tile and tile.endswith("]"):
            ns = [int(v) for v in tile[tile.index("[") + 1:-1].split("+")]
            sep = [sum(p[(M, n, K)] for n in ns) for p in peers if all((M, n, K) in p for n in ns)]
            if sep:
                sm = sum(sep) / len(sep)
                peer += f" (separate: {sm:.1f} us, {sm / ours:.2f})"
        print(f"| {r['format']} | {M} | {N} | {K} | {r.get('xy', 'f32')} | {r['new_tile']} | {ours:.1f} | "
              f"{fl / ours / 1e6:.0f} | {each} | {peer} |", flush=True)


def main():
    a = sys.argv[1:]
    if a and a[0] == "time":
        res = time_shapes([tuple(int(v) for v in s.split("x")) for s in a[1:]])
        print("M,N,K,us")
        for (M, N, K), us in res.items():
            print(f"{M},{N},{K},{us:.2f}", flush=True)
    elif a and a[0] == "table":
        table(list(csv.DictReader(open(a[1]))), [read_peers(p) for p in a[2:]])
    else:
        rows = list(csv.DictReader(open(a[0])))
        table(rows, [time_shapes([(int(r["M"]), int(r["N"]), int(r["K"])) for r in rows])])


if __name__ == "__main__":
    main()
