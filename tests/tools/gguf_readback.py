#!/usr/bin/env python3
"""Files written by `quanta quantize` in ggml's types read back with the `gguf` PyPI package
(llama.cpp's own Python reader): for --quant q8 (Q8_0), q4_0, q4_k and q6_k every tensor
loads, has the standard type, dequantizes (gguf.quants.dequantize) bit for bit like Quanta's
reader (gguf_dump --f32), and lies within the format's rounding of the source weights: for
Q8_0 each weight within half a step (max|block| / 127) plus the f16 rounding of the scale,
for the 4- and 6-bit types within a relative RMS error bound. Exit 77 (skip) without gguf.
Usage: gguf_readback.py QUANTA GGUF_DUMP MODEL.gguf"""
import os, subprocess, sys, tempfile

try:
    import numpy as np
    import gguf
    from gguf.quants import dequantize
except ImportError:
    print("the gguf package is not installed: skipped")
    sys.exit(77)

quanta, dump, model = sys.argv[1:4]
src = {t.name: dequantize(t.data, t.tensor_type).astype(np.float64).reshape(-1) for t in gguf.GGUFReader(model).tensors}
# format: (ggml type of the 2-D weights, relative RMS bound of a weight matrix)
formats = {"q8": (gguf.GGMLQuantizationType.Q8_0, 0.01), "q4_0": (gguf.GGMLQuantizationType.Q4_0, 0.15),
           "q4_k": (gguf.GGMLQuantizationType.Q4_K, 0.12), "q6_k": (gguf.GGMLQuantizationType.Q6_K, 0.035)}
bad = 0
with tempfile.TemporaryDirectory() as tmp:
    for fmt, (want_type, rms_bound) in formats.items():
        out = os.path.join(tmp, fmt + ".gguf")
        subprocess.run([quanta, "quantize", "-m", model, "-o", out, "--quant", fmt, "-q"], check=True)
        reader = gguf.GGUFReader(out)
        for t in reader.tensors:
            got = dequantize(t.data, t.tensor_type).astype(np.float32).reshape(-1)
            f32 = os.path.join(tmp, "t.f32")
            subprocess.run([dump, out, "--f32", t.name, f32], check=True)
            ours = np.fromfile(f32, dtype=np.float32)
            ref = src[t.name]
            problems = []
            if len(t.shape) == 2 and t.tensor_type != want_type:
                problems.append(f"type {t.tensor_type.name}, want {want_type.name}")
            if ours.shape != got.shape or not np.array_equal(ours.view(np.uint32), got.view(np.uint32)):
                problems.append("gguf's dequantization differs from Quanta's")
            err = got.astype(np.float64) - ref
            rel_rms = np.sqrt(np.sum(err ** 2) / max(np.sum(ref ** 2), 1e-30))
            if t.tensor_type == gguf.GGMLQuantizationType.Q8_0:
                amax = np.abs(ref.reshape(-1, 32)).max(axis=1, keepdims=True)
                bound = amax / 127 / 2 + amax * 2.0 ** -10 + 1e-12
                worst = np.max(np.abs(err.reshape(-1, 32)) - bound)
                if worst > 0:
                    problems.append(f"a weight is {worst:.3g} beyond its block's rounding bound")
            elif len(t.shape) == 2 and rel_rms > rms_bound:
                problems.append(f"relative RMS error {rel_rms:.4f} > {rms_bound}")
            elif len(t.shape) != 2 and not np.array_equal(got, ref.astype(np.float32)):
                problems.append("a 1-D tensor changed")
            bad += bool(problems)
            print(f"{'FAIL' if problems else 'ok  '} --quant {fmt:5} {t.name:28} {t.tensor_type.name:5} "
                  f"rel RMS {rel_rms:.4f} {'; '.join(problems)}")
print("gguf read-back:", "FAILED" if bad else "all tensors match")
sys.exit(1 if bad else 0)
