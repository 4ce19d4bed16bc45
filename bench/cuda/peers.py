#!/usr/bin/env python3
"""peers.py — the PyTorch peers of Quanta's CUDA kernels, timed in the same run, and the ratio table.

  python3 bench/cuda/peers.py --ours kernel_check.csv [--quanta-json bench.json] [--out peers.json]

Peers on LLaMA-2-13B linear shapes (y = x[M,K] . W[N,K]^T), same method as shared/anchors: CUDA events
around a CUDA graph of back-to-back calls, operands rotated across copies (>= 200 MB per rotation) so
each call reads HBM; median of the replays. Peers: cuBLAS bf16 (F.linear), torch._weight_int4pack_mm
(tinygemm, group 128), torch._scaled_mm fp8 e4m3 row-wise (fp8 activations too), torch copy_ bandwidth;
SDPA backends (flash, cudnn, efficient) on the attention shapes of `quanta bench` when its JSON is given.
Prints one table of ratios (peer time / our time: > 1 means Quanta is faster) and the hardware floor.
"""
import argparse
import csv
import json
import math
import sys

import torch
import torch.nn.functional as F

DEV = "cuda"
SHAPES = [("qkv", 5120, 15360), ("o", 5120, 5120), ("gate_up", 5120, 27648), ("down", 13824, 5120)]
MS = [1, 16, 64, 256, 2048]


def ncopies(nbytes, target=200e6, cap=32):
    return int(max(1, min(cap, math.ceil(target / max(1, nbytes)))))


def bench(fns, reps=15):
    """Median seconds per call of the rotated callables, as a CUDA graph of back-to-back calls."""
    for f in fns:
        f()
    torch.cuda.synchronize()
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    s.record()
    for f in fns:
        f()
    e.record()
    torch.cuda.synchronize()
    est = max(s.elapsed_time(e) / len(fns), 1e-4)
    calls = int(min(2000, max(len(fns), math.ceil(3.0 / est))))
    calls = int(math.ceil(calls / len(fns)) * len(fns))
    try:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for f in fns:
                f()
        torch.cuda.current_stream().wait_stream(side)
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            for i in range(calls):
                fns[i % len(fns)]()
        g.replay()
        ts = []
        for _ in range(reps):
            s.record()
            g.replay()
            e.record()
            torch.cuda.synchronize()
            ts.append(s.elapsed_time(e) / calls)
        del g
    except Exception:  # eager fallback
        ts = []
        for _ in range(reps):
            s.record()
            for i in range(calls):
                fns[i % len(fns)]()
            e.record()
            torch.cuda.synchronize()
            ts.append(s.elapsed_time(e) / calls)
    ts.sort()
    return ts[len(ts) // 2] * 1e-3


def copy_bw():
    a = torch.empty(1 << 30, dtype=torch.uint8, device=DEV).random_()
    b = torch.empty_like(a)
    t = bench([lambda: b.copy_(a)], reps=7)
    return 2 * a.numel() / t


def int4_pack(w, gs=128, inner_k_tiles=8):
    N, K = w.shape
    wg = w.float().reshape(N, K // gs, gs)
    mx, mn = wg.amax(-1, keepdim=True), wg.amin(-1, keepdim=True)
    scales = ((mx - mn).clamp(min=1e-6) / 15.0)
    zeros = mn + scales * 8.0
    q = ((wg - mn) / scales).round().clamp(0, 15).to(torch.int32).reshape(N, K)
    sz = torch.cat([scales.to(torch.bfloat16), zeros.to(torch.bfloat16)], dim=2).transpose(0, 1).contiguous()
    try:
        wp = torch._convert_weight_to_int4pack(((q[:, ::2] << 4) | q[:, 1::2]).to(torch.uint8).contiguous(),
                                               inner_k_tiles)
    except Exception:
        wp = torch._convert_weight_to_int4pack(q.contiguous(), inner_k_tiles)
    return wp, sz


def gemm_peers(log):
    res = {}
    for name, K, N in SHAPES:
        w = torch.randn(N, K, device=DEV, dtype=torch.bfloat16) * 0.02
        c = ncopies(N * K * 2)
        ws = [w] + [w.clone() for _ in range(c - 1)]
        wp, sz = int4_pack(w)
        c4 = ncopies(N * K // 2)
        wps = [wp] + [wp.clone() for _ in range(c4 - 1)]
        fmax = torch.finfo(torch.float8_e4m3fn).max
        sw = (w.float().abs().amax(1, keepdim=True) / fmax).clamp_min(1e-12)
        w8 = (w.float() / sw).to(torch.float8_e4m3fn)
        c8 = ncopies(N * K)
        w8s = [w8] + [w8.clone() for _ in range(c8 - 1)]
        for M in MS:
            x = torch.randn(M, K, device=DEV, dtype=torch.bfloat16)
            row = {}
            row["cublas_bf16"] = bench([(lambda a=a: F.linear(x, a)) for a in ws])
            try:
                row["int4_tinygemm_g128"] = bench([(lambda a=a: torch._weight_int4pack_mm(x, a, 128, sz)) for a in wps])
            except Exception as ex:
                log.write(f"int4pack {name} M={M}: {ex}\n")
            try:
                Mp = max(M, 16)
                xp = torch.randn(Mp, K, device=DEV, dtype=torch.bfloat16)
                sa = (xp.float().abs().amax(1, keepdim=True) / fmax).clamp_min(1e-12)
                a8 = (xp.float() / sa).to(torch.float8_e4m3fn)
                sb = sw.float().reshape(1, N).contiguous()
                row["fp8_scaled_mm_rowwise"] = bench(
                    [(lambda b=b: torch._scaled_mm(a8, b.t(), sa, sb, out_dtype=torch.bfloat16, use_fast_accum=True))
                     for b in w8s])
            except Exception as ex:
                log.write(f"scaled_mm {name} M={M}: {ex}\n")
            res[(name, M)] = row
            log.write(f"peers {name} M={M}: " + ", ".join(f"{k} {v*1e6:.1f} us" for k, v in row.items()) + "\n")
            log.flush()
        del ws, wps, w8s
        torch.cuda.empty_cache()
    return res


def sdpa_peers(att_rows, log):
    """att_rows: (name, B, Nq, Nk, Hq, Hkv, D, causal), from quanta bench's JSON."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    out = {}
    backs = {"flash": SDPBackend.FLASH_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION,
             "efficient": SDPBackend.EFFICIENT_ATTENTION}
    for (name, B, Nq, Nk, Hq, Hkv, D, causal) in att_rows:
        q = torch.randn(B, Hq, Nq, D, device=DEV, dtype=torch.float16)
        k = torch.randn(B, Hkv, Nk, D, device=DEV, dtype=torch.float16)
        v = torch.randn_like(k)
        row = {}
        for bn, be in backs.items():
            try:
                with sdpa_kernel(be):
                    row[bn] = bench([lambda: F.scaled_dot_product_attention(
                        q, k, v, is_causal=bool(causal), enable_gqa=Hq != Hkv)])
            except Exception as ex:
                log.write(f"sdpa {bn} {name}: {str(ex).splitlines()[0][:120]}\n")
        out[name] = row
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ours", help="kernel_check bench CSV")
    ap.add_argument("--quanta-json", help="quanta bench --json output")
    ap.add_argument("--out", help="write peer results as JSON")
    ap.add_argument("--log", default="/dev/stderr")
    a = ap.parse_args()
    log = open(a.log, "w")
    torch.backends.cuda.matmul.allow_tf32 = False
    bw = copy_bw()
    print(f"torch copy_ bandwidth (1 GiB, read+write): {bw/1e9:.0f} GB/s")
    peers = gemm_peers(log)

    ours = {}
    if a.ours:
        with open(a.ours) as f:
            for r in csv.DictReader(f):
                ours[(r["format"], r["shape"], int(r["M"]))] = (float(r["us"]) * 1e-6, float(r["weight_bytes"]))

    # Ratio table: peer time / our time (> 1: ours faster).
    print("\n## Quanta matmul vs peers (time ratio peer/ours; >1 = Quanta faster), LLaMA-2-13B shapes, bf16 x")
    print("| shape | M | cuBLAS bf16 us | q4g128 us | q4 vs bf16 | q4 vs tinygemm | nf4 vs bf16 | q8 vs bf16 | "
          "e4m3 vs bf16 | e4m3 vs scaled_mm fp8 | f16 vs bf16 | q4 weight GB/s (% copy) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, K, N in SHAPES:
        for M in MS:
            p = peers.get((name, M), {})
            cb = p.get("cublas_bf16")
            tg = p.get("int4_tinygemm_g128")
            sm = p.get("fp8_scaled_mm_rowwise")

            def o(fmt):
                return ours.get((fmt, name, M), (None, None))

            def ratio(peer, fmt):
                t = o(fmt)[0]
                return f"{peer / t:.2f}" if (peer and t) else "-"
            tq, wb = o("q4g128")
            gbs = f"{wb / tq / 1e9:.0f} ({100 * wb / tq / bw:.0f}%)" if tq else "-"
            print(f"| {name} | {M} | {cb*1e6:.1f} | {tq*1e6 if tq else float('nan'):.1f} | {ratio(cb, 'q4g128')} | "
                  f"{ratio(tg, 'q4g128')} | {ratio(cb, 'nf4')} | {ratio(cb, 'q8')} | {ratio(cb, 'e4m3')} | "
                  f"{ratio(sm, 'e4m3')} | {ratio(cb, 'f16')} | {gbs} |")

    print("\n## Decode (M=1) weight bandwidth per format, % of torch copy bandwidth")
    print("| format | qkv | o | gate_up | down |")
    print("|---|---|---|---|---|")
    for fmt in ["q4g128", "q4g64", "nf4", "q8", "e4m3", "f16"]:
        cells = []
        for name, K, N in SHAPES:
            t, wb = ours.get((fmt, name, 1), (None, None))
            cells.append(f"{wb/t/1e9:.0f} GB/s ({100*wb/t/bw:.0f}%)" if t else "-")
        print(f"| {fmt} | " + " | ".join(cells) + " |")
    cells = []
    for name, K, N in SHAPES:
        t = peers.get((name, 1), {}).get("cublas_bf16")
        cells.append(f"{N*K*2/t/1e9:.0f} GB/s ({100*N*K*2/t/bw:.0f}%)" if t else "-")
    print("| cuBLAS bf16 | " + " | ".join(cells) + " |")

    sd = {}
    if a.quanta_json:
        try:
            with open(a.quanta_json) as f:
                qj = json.load(f)
            import re
            att = [r for r in qj.get("results", []) if r.get("kind") == "attention"]
            shapes = []
            for r in att:
                Hq, Nq, Nk = int(r["m"]), int(r["n"]), int(r["k"])
                mh = re.search(r"hkv=(\d+)", r.get("note", ""))
                Hkv = int(mh.group(1)) if mh else Hq
                shapes.append((r["case"], 1, Nq, Nk, Hq, Hkv, 128, 1 if Nq > 1 else 0))
            sd = sdpa_peers(shapes, log)
            print("\n## Attention (quanta bench rows) vs SDPA backends (f16, B=1, D=128, GQA as in quanta bench)")
            print("| case | Hq | Nq | Nk | quanta s/call | flash | cudnn | efficient | best peer / quanta |")
            print("|---|---|---|---|---|---|---|---|---|")
            for r in att:
                row = sd.get(r["case"], {})
                best = min(row.values()) if row else None
                qs = r.get("seconds")
                cells = [f"{row[b]*1e6:.1f} us" if b in row else "-" for b in ["flash", "cudnn", "efficient"]]
                tail = f" | {best/qs:.2f} |" if (best and qs) else " | - |"
                print(f"| {r['case']} | {r['m']} | {r['n']} | {r['k']} | {qs*1e6:.1f} us | " + " | ".join(cells) + tail)
        except Exception as ex:
            print(f"(attention peers skipped: {ex})")
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"copy_bw": bw, "gemm": {f"{k[0]}:{k[1]}": v for k, v in peers.items()},
                       "sdpa": sd}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
