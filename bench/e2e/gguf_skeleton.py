#!/usr/bin/env python3
"""A GGUF file's skeleton: its header (metadata, tokenizer, tensor table) without the tensor data,
and the file rebuilt from it with random weights of the same types (numpy only).

  gguf_skeleton.py extract MODEL.gguf OUT.skel   # here: header bytes + a JSON tensor table
  gguf_skeleton.py build OUT.skel OUT.gguf        # on the device machine: random blocks, valid scales

The default model (253 MB) is too large to travel to the device machine; its skeleton (a few MB)
and this script give a file of the same architecture, shapes, tokenizer and tensor types, so
both engines run exactly the work they would run on the real weights (the weights are random)."""
import json, struct, sys

# ggml type: (elements per block, bytes per block, byte offsets of f16 factors, factor magnitude)
TYPES = {0: (1, 4, None, 0), 1: (1, 2, None, 0), 2: (32, 18, [0], 0.01), 3: (32, 20, [0, 2], 0.005),
         6: (32, 22, [0], 0.005), 7: (32, 24, [0, 2], 0.003), 8: (32, 34, [0], 0.0005),
         12: (256, 144, [0, 2], 0.0003), 13: (256, 176, [0, 2], 0.0002), 14: (256, 210, [208], 0.00002)}


def read_header(path):
    f = open(path, 'rb')
    u32 = lambda: struct.unpack('<I', f.read(4))[0]
    u64 = lambda: struct.unpack('<Q', f.read(8))[0]
    def s():
        return f.read(u64()).decode('utf8', 'replace')
    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
    def val(t):
        if t == 8:
            return s()
        if t == 9:
            at, n = u32(), u64()
            return [val(at) for _ in range(n)]
        return f.read(sizes[t])
    assert f.read(4) == b'GGUF'
    u32()
    nt, nkv = u64(), u64()
    align = 32
    for _ in range(nkv):
        k, t = s(), u32()
        v = val(t)
        if k == 'general.alignment':
            align = struct.unpack('<I', v)[0]
    tensors = []
    for _ in range(nt):
        name, nd = s(), u32()
        dims = [u64() for _ in range(nd)]
        t, off = u32(), u64()
        blk, bb = TYPES[t][0], TYPES[t][1]
        n = 1
        for d in dims:
            n *= d
        tensors.append({'name': name, 'type': t, 'dims': dims, 'offset': off, 'bytes': n // blk * bb})
    start = (f.tell() + align - 1) // align * align
    return start, tensors


def extract(src, dst):
    start, tensors = read_header(src)
    head = open(src, 'rb').read(start)
    size = max(t['offset'] + t['bytes'] for t in tensors)
    meta = json.dumps({'header_bytes': len(head), 'data_bytes': size, 'tensors': tensors}).encode()
    with open(dst, 'wb') as o:
        o.write(struct.pack('<Q', len(meta)))
        o.write(meta)
        o.write(head)


def build(skel, dst, seed=1):
    import numpy as np
    raw = open(skel, 'rb').read()
    n = struct.unpack('<Q', raw[:8])[0]
    meta = json.loads(raw[8:8 + n])
    head = raw[8 + n:8 + n + meta['header_bytes']]
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, size=meta['data_bytes'], dtype=np.uint8)
    for t in meta['tensors']:
        blk, bb, f16_at, mag = TYPES[t['type']]
        seg = data[t['offset']:t['offset'] + t['bytes']]
        if t['type'] == 0:  # f32: norms and the like near 1 (Gemma adds 1 to its norm weights)
            seg[:] = (rng.normal(0.0, 0.05, t['bytes'] // 4).astype(np.float32)).view(np.uint8)
        elif t['type'] == 1:
            seg[:] = (rng.normal(0.0, 0.02, t['bytes'] // 2).astype(np.float16)).view(np.uint8)
        else:
            blocks = seg.reshape(-1, bb)
            for at in f16_at:
                h = (rng.uniform(0.5, 1.5, blocks.shape[0]) * mag).astype(np.float16).view(np.uint8).reshape(-1, 2)
                blocks[:, at:at + 2] = h
    with open(dst, 'wb') as o:
        o.write(head)
        o.write(data.tobytes())


if __name__ == '__main__':
    if len(sys.argv) == 4 and sys.argv[1] == 'extract':
        extract(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == 'build':
        build(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
