#!/usr/bin/env python3
"""Test-only (not run in CI): writes a GGUF with random blocks of every ggml block type Quanta
imports (f16 scale fields forced finite), for crosscheck_gguf.py. Usage: make_random_blocks.py OUT.gguf"""
import sys
import numpy as np
import gguf
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType as T

rng = np.random.default_rng(1234)
w = gguf.GGUFWriter(sys.argv[1], "test")
# byte offsets of f16 scale fields inside each block
f16_fields = {T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
              T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208]}
for t, offs in f16_fields.items():
    blck, size = GGML_QUANT_SIZES[t]
    nblocks = 64
    raw = rng.integers(0, 256, size=(nblocks, size), dtype=np.uint8)
    for o in offs:
        vals = rng.uniform(-2, 2, size=nblocks).astype(np.float16).view(np.uint8).reshape(nblocks, 2)
        raw[:, o:o + 2] = vals
    rows = nblocks // 4
    w.add_tensor(f"rand.{t.name}", raw.reshape(rows, 4 * size), raw_dtype=t)
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
