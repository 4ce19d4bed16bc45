#!/usr/bin/env python3
"""mmq_peers.py — cuBLAS bf16 (F.linear) on the shapes and batch sizes of a ggml_mmq_bench CSV, and the ratio
issue 14 asks about: our quantized GEMM's time against cuBLAS bf16's on the same M x N x K (target: cuBLAS
time / ours >= 0.8).

  python3 bench/cuda/mmq_peers.py mmq_bench.csv

Timing as peers.py (its bench(): CUDA events around back-to-back calls, weights rotated over copies of
>= 200 MB so each call reads HBM, median of the replays). Prints one markdown table.
"""
import csv
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from peers import bench, ncopies  # noqa: E402


def main():
    rows = list(csv.DictReader(open(sys.argv[1])))
    torch.backends.cuda.matmul.allow_tf32 = False
    cache = {}
    print("| format | M | N | K | ours us (tile) | TFLOP/s | old us | cuBLAS bf16 us | TFLOP/s | cuBLAS / ours |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        M, N, K = int(r["M"]), int(r["N"]), int(r["K"])
        if (M, N, K) not in cache:
            w = torch.randn(N, K, device="cuda", dtype=torch.bfloat16) * 0.02
            ws = [w] + [w.clone() for _ in range(ncopies(N * K * 2) - 1)]
            x = torch.randn(M, K, device="cuda", dtype=torch.bfloat16)
            cache[(M, N, K)] = bench([(lambda a=a: F.linear(x, a)) for a in ws])
            del ws, w, x
            torch.cuda.empty_cache()
        cb = cache[(M, N, K)] * 1e6
        ours = float(r["new_us"])
        fl = 2.0 * M * N * K
        print(f"| {r['format']} | {M} | {N} | {K} | {ours:.1f} ({r['new_tile']}) | {fl / ours / 1e6:.0f} | "
              f"{float(r['old_us']):.1f} | {cb:.1f} | {fl / cb / 1e6:.0f} | {cb / ours:.2f} |", flush=True)


if __name__ == "__main__":
    main()
