#!/usr/bin/env python3
"""Test-only cross-check (not run in CI): every tensor of a GGUF file dequantized by Quanta's
reader (gguf_dump --f32) must equal, bit for bit, the `gguf` Python package's numpy dequantizer.
Usage: crosscheck_gguf.py GGUF_DUMP_BINARY MODEL.gguf [MAX_ELEMENTS]"""
import os, subprocess, sys, tempfile
import numpy as np
import gguf
from gguf.quants import dequantize

dump, model = sys.argv[1], sys.argv[2]
max_elems = int(sys.argv[3]) if len(sys.argv) > 3 else 1 << 62
r = gguf.GGUFReader(model)
bad = checked = 0
with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, "t.f32")
    for t in r.tensors:
        if int(t.n_elements) > max_elems:
            print(f"skip {t.name} ({t.n_elements} elements)")
            continue
        ref = dequantize(t.data, t.tensor_type).astype(np.float32).reshape(-1)
        subprocess.run([dump, model, "--f32", t.name, out], check=True)
        ours = np.fromfile(out, dtype=np.float32)
        same = ours.shape == ref.shape and np.array_equal(ours.view(np.uint32), ref.view(np.uint32))
        checked += 1
        if not same:
            bad += 1
            diff = np.max(np.abs(ours - ref)) if ours.shape == ref.shape else "shape"
            print(f"MISMATCH {t.name} {t.tensor_type.name}: max diff {diff}")
print(f"{checked} tensors checked, {bad} mismatches")
sys.exit(1 if bad else 0)
