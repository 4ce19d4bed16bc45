#!/usr/bin/env python3
"""Our wgmma prefill forms and torch SDPA's cuDNN backend timed in one process, on the same tensors, interleaved
(fa19). Why: attention_check wgbench and attention_peers.py time ours and cuDNN in two processes a few seconds apart,
each with its own ~2 ms samples; between two such passes of one call cuDNN itself moved 453 -> 412 TFLOP/s (1k
causal, H100 06:40), as much as the gap being measured. Here every round times every contender once (a sample:
back-to-back calls filling ~SAMPLE_MS), the order rotated each round and reversed every other round, and each
form's ratio to cuDNN is taken per round (the two samples ~1 ms apart), so clock and thermal drift cancel in the
ratio; the table gives the median ratio with its quartiles and the extremes over the rounds.

usage: attention_pair.py LIB OUT.csv [FORMS] [SHAPES]
  LIB     a shared library exporting qn_cuda_attn_wg_launch (bench/cuda/prebuild_fa20.sh: attention_check.cu as .so)
  FORMS   comma list of attention_wg.h variant numbers; 0 = the auto pick (default 0,41,44,47)
  SHAPES  comma list of attention_check wgbench's shape indices (default all 13: 0-2 non-causal 1k/4k/16k, 3-5
          causal 1k/4k/16k, 6 f16 4k causal, 7 GQA 32/8 4k causal, 8 512 causal, 9/10 non-causal 2k/8k, 11/12
          causal 2k/8k; bf16 hd128, B x 32 heads x N = 512k query rows)
env: PAIR_ROUNDS (default 21), PAIR_SAMPLE_MS (default 1.0), QUANTA_TEST_SEED (torch's seed; printed),
  PAIR_VS=58:41,60:44 (a candidate over its base per round: the "vs" lines and rows; > 1 = the candidate faster),
  PAIR_GROUPS="0,9:70,77;4:63,78" (fa22: shapes with forms of their own, groups split by ';'; overrides FORMS and
  SHAPES, so that each row times only the forms that run it in the auto pick and their candidates).
Also checks each form's output against cuDNN's (max |ours - cudnn| / max |cudnn|; FAIL above 2e-2)."""
import csv
import ctypes
import os
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel


class Args(ctypes.Structure):  # kernels_cuda/attention.h qn_cuda_attention_args, field for field
    _fields_ = [("dtype", ctypes.c_int), ("q", ctypes.c_void_p), ("k", ctypes.c_void_p), ("v", ctypes.c_void_p),
                ("mask", ctypes.c_void_p), ("mask_batched", ctypes.c_int), ("kv_lens", ctypes.c_void_p),
                ("out", ctypes.c_void_p), ("B", ctypes.c_int64), ("Hq", ctypes.c_int64), ("Hkv", ctypes.c_int64),
                ("Nq", ctypes.c_int64), ("Nk", ctypes.c_int64), ("D", ctypes.c_int64), ("scale", ctypes.c_float),
                ("causal", ctypes.c_int), ("window", ctypes.c_int), ("scratch", ctypes.c_void_p),
                ("scratch_bytes", ctypes.c_size_t), ("stream", ctypes.c_void_p), ("xq", ctypes.c_void_p),
                ("xl", ctypes.c_void_p), ("dx", ctypes.c_void_p), ("sx", ctypes.c_void_p), ("sl", ctypes.c_void_p),
                ("xq_done", ctypes.c_void_p)]


DT = {"bf16": (torch.bfloat16, 2), "f16": (torch.float16, 1)}  # formats/layout.h QN_DT_BF16 = 2, QN_DT_F16 = 1


def shapes():  # attention_check.cu wg_bench's list, in its order (indices shared with WGBENCH_SHAPES)
    s = []
    for cz in (0, 1):
        for n in (1024, 4096, 16384):
            s.append(("bf16", 16384 // n, 32, 32, n, cz))
    s += [("f16", 4, 32, 32, 4096, 1), ("bf16", 4, 32, 8, 4096, 1), ("bf16", 32, 32, 32, 512, 1)]
    for cz in (0, 1):
        for n in (2048, 8192):
            s.append(("bf16", 16384 // n, 32, 32, n, cz))
    return s


def self_attn_inputs(B, Hq, Hkv, N, dtype):
    """Random q (x1.5, as the wgbench rows), k, v of a self-attention row, [B, H, N, 128] on the GPU."""
    q = torch.randn(B, Hq, N, 128, device="cuda", dtype=dtype) * 1.5
    k = torch.randn(B, Hkv, N, 128, device="cuda", dtype=dtype)
    v = torch.randn(B, Hkv, N, 128, device="cuda", dtype=dtype)
    return q, k, v


def self_attn_args(code, q, k, v, out, causal, stream):
    """The launch arguments of a self-attention row (Nq = Nk, head dim 128) on [B, H, N, 128] tensors."""
    B, Hq, N, _ = q.shape
    a = Args()
    a.dtype, a.q, a.k, a.v, a.out = code, q.data_ptr(), k.data_ptr(), v.data_ptr(), out.data_ptr()
    a.B, a.Hq, a.Hkv, a.Nq, a.Nk, a.D = B, Hq, k.shape[1], N, N, 128
    a.scale, a.causal, a.window, a.stream = 128 ** -0.5, causal, 0, stream.cuda_stream
    return a


def quart(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 4], xs[n // 2], xs[(3 * n) // 4], xs[0], xs[-1]


def main():
    lib = ctypes.CDLL(sys.argv[1])
    lib.qn_cuda_attn_wg_launch.argtypes = [ctypes.POINTER(Args), ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t]
    lib.qn_cuda_attn_wg_launch.restype = ctypes.c_int
    out_path = sys.argv[2]
    forms0 = [int(x) for x in (sys.argv[3] if len(sys.argv) > 3 else "0,41,44,47").split(",") if x != ""]
    all_sh = shapes()
    sel = [int(x) for x in sys.argv[4].split(",")] if len(sys.argv) > 4 and sys.argv[4] else range(len(all_sh))
    plan = [(si, forms0) for si in sel]
    if os.environ.get("PAIR_GROUPS", ""):
        plan = []
        for grp in os.environ["PAIR_GROUPS"].split(";"):
            if ":" in grp:
                sh, fs = grp.split(":")
                plan += [(int(si), [int(x) for x in fs.split(",") if x != ""]) for si in sh.split(",") if si != ""]
    rounds = int(os.environ.get("PAIR_ROUNDS", "21"))
    sample_ms = float(os.environ.get("PAIR_SAMPLE_MS", "1.0"))
    seed = int(os.environ.get("QUANTA_TEST_SEED", "0") or 0) or int.from_bytes(os.urandom(4), "little")
    print(f"seed {seed}; rounds {rounds}, samples of ~{sample_ms} ms; device {torch.cuda.get_device_name()}",
          flush=True)
    torch.manual_seed(seed)
    err = ctypes.create_string_buffer(256)
    stream = torch.cuda.current_stream()
    fails = 0
    rows = []
    for si, forms in plan:
        dt, B, Hq, Hkv, N, causal = all_sh[si]
        tdt, code = DT[dt]
        q, k, v = self_attn_inputs(B, Hq, Hkv, N, tdt)
        outs = {f: torch.empty_like(q) for f in forms}
        pairs = N * (N + 1) // 2 if causal else N * N
        flops = 4.0 * B * Hq * pairs * 128
        argv = {}
        for f in forms:
            argv[f] = self_attn_args(code, q, k, v, outs[f], causal, stream)

        def ours(f):
            rc = lib.qn_cuda_attn_wg_launch(ctypes.byref(argv[f]), f, err, 256)
            if rc != 0:
                raise RuntimeError(f"form {f}: {err.value.decode()} ({rc})")

        def cudnn():
            with sdpa_kernel([SDPBackend.CUDNN_ATTENTION]):
                return F.scaled_dot_product_attention(q, k, v, is_causal=bool(causal), enable_gqa=Hq != Hkv)

        calls = [(str(f), (lambda f=f: ours(f))) for f in forms] + [("cudnn", cudnn)]
        # warm-up, the launch count per sample, and the outputs checked against cuDNN's
        reps = {}
        ref = None
        for name, fn in list(calls):
            try:
                r = fn()
            except RuntimeError as e:  # a form this build lacks (or a refused launch): the others still count
                print(f"SKIP shape {si} {name}: {e}", flush=True)
                calls.remove((name, fn))
                if name != "cudnn":
                    outs.pop(int(name), None)
                continue
            if name == "cudnn":
                ref = r
            fn()
            e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            torch.cuda._sleep(200000)
            e0.record()
            fn()
            e1.record()
            e1.synchronize()
            reps[name] = max(1, min(10, round(sample_ms / max(e0.elapsed_time(e1), 1e-3))))
        den = ref.float().abs().max().item()
        for f in outs:
            e = (outs[f].float() - ref.float()).abs().max().item() / den
            if not e < 2e-2:
                fails += 1
                print(f"FAIL shape {si} form {f}: max |ours - cudnn| / max |cudnn| = {e:.3g}", flush=True)
        del ref
        t = {name: [] for name, _ in calls}
        K = len(calls)
        for r in range(rounds):
            order = [calls[(r + i) % K] for i in range(K)]
            if r % 2:
                order.reverse()
            for name, fn in order:
                e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                # the GPU busy (~100 us spin) while the first call is enqueued: else a sample starts with the host's
                # launch latency on the clock (SDPA's Python path ~30-50 us, ours ~10: a few % of a 1 ms sample)
                torch.cuda._sleep(200000)
                e0.record()
                for _ in range(reps[name]):
                    fn()
                e1.record()
                e1.synchronize()
                t[name].append(e0.elapsed_time(e1) / reps[name])
        cu = t["cudnn"]
        for name, _ in calls:
            ts = t[name]
            q1, med, q3, lo, hi = quart(ts)
            rat = [c / x for c, x in zip(cu, ts)]  # > 1: faster than cuDNN in that round
            r1, rm, r3, rlo, rhi = quart(rat)
            rows.append([si, dt, B, Hq, Hkv, N, causal, name, f"{med:.5f}", f"{flops / (med * 1e-3) / 1e12:.1f}",
                         f"{100 * (hi - lo) / med:.1f}", f"{rm:.3f}", f"{r1:.3f}", f"{r3:.3f}", f"{rlo:.3f}",
                         f"{rhi:.3f}"])
            print(f"pair {si:2d} {dt} {Hq}/{Hkv} N={N} c={causal} {name:>5}: {flops / (med * 1e-3) / 1e12:6.1f} "
                  f"TFLOP/s (ms spread {100 * (hi - lo) / med:4.1f}%)  x cuDNN {rm:.3f} [q {r1:.3f}-{r3:.3f}, "
                  f"{rlo:.3f}-{rhi:.3f}]", flush=True)
        # candidates against their bases, paired per round the same way (PAIR_VS=new:base,...; > 1: new faster)
        for pr in os.environ.get("PAIR_VS", "").split(","):
            if ":" not in pr:
                continue
            a, b = pr.split(":")
            if a in t and b in t:
                r1, rm, r3, rlo, rhi = quart([y / x for x, y in zip(t[a], t[b])])
                print(f"vs {si:2d} {dt} {Hq}/{Hkv} N={N} c={causal} {a}/{b}: {rm:.3f} [q {r1:.3f}-{r3:.3f}, "
                      f"{rlo:.3f}-{rhi:.3f}]", flush=True)
                rows.append([si, dt, B, Hq, Hkv, N, causal, f"{a}/{b}", "", "", "", f"{rm:.3f}", f"{r1:.3f}",
                             f"{r3:.3f}", f"{rlo:.3f}", f"{rhi:.3f}"])
        del q, k, v, outs
        torch.cuda.empty_cache()
    with open(out_path, "w") as fo:
        w = csv.writer(fo)
        w.writerow(["shape", "dtype", "B", "Hq", "Hkv", "N", "causal", "who", "ms_median", "tflops", "spread_pct",
                    "x_cudnn_median", "x_cudnn_q1", "x_cudnn_q3", "x_cudnn_min", "x_cudnn_max"])
        w.writerows(rows)
    print(f"outputs vs cuDNN: {fails} failed")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
