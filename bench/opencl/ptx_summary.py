#!/usr/bin/env python3
"""ptx_summary.py — what NVIDIA's OpenCL compiler made of the GEMV kernels.

On NVIDIA, CL_PROGRAM_BINARIES is PTX text, and Quanta caches it (engine/opencl/cl_program.c:
<cache dir>/<key>.clbin, a 32-byte header, then the binary). This copies each cached program,
gzipped, into OUT_DIR and prints, for each GEMV/GEMM kernel's .entry, the count of each kind of
load and store (ld.global.v4.u32 = 16-byte loads, ld.global.u8 = byte loads, ld.local/st.local =
stack traffic, i.e. spills or arrays indexed at run time), conversions, FMAs and barriers, so a
run shows whether loads were vectorized. With ptxas on PATH it also prints ptxas -v's registers
and spill bytes per kernel (sm_90 unless PTXAS_ARCH says otherwise).

    python3 bench/opencl/ptx_summary.py CACHE_DIR OUT_DIR
"""
import collections
import gzip
import os
import re
import shutil
import subprocess
import sys

KERNELS = ("qn_gemv_q8_gpu", "qn_gemv_q8_gpu_glu", "qn_gemv_q4_gpu", "qn_gemv_f16_gpu", "qn_gemv", "qn_gemm_q8_gpu", "qn_gemm",
           "qn_attention", "qn_attention_dec", "qn_rms_norm_rope")
if os.environ.get("PTX_KERNELS"):  # a check's own list, comma-separated
    KERNELS = tuple(os.environ["PTX_KERNELS"].split(","))
HEADER = 32  # cache_header: magic[8], key hash, payload bytes, payload hash


def entry(ptx, name):
    """The text of `.entry name(` up to its closing brace at the start of a line."""
    m = re.search(r"\.entry\s+" + re.escape(name) + r"\s*\(", ptx)
    if not m:
        return None
    end = ptx.find("\n}", m.end())
    return ptx[m.start():end if end >= 0 else len(ptx)]


def counts(body):
    c = collections.Counter()
    for line in body.splitlines():
        t = line.strip().split()
        if not t:
            continue
        op = t[0] if not t[0].startswith("@") else (t[1] if len(t) > 1 else "")
        if re.match(r"(ld|st|cvt|fma|bar|mad|shfl|dp4a|atom)\.", op) or op.startswith("bar"):
            # keep the state space, vector width and type: ld.global.nc.v4.u32 -> ld.global.v4.u32
            key = op.replace(".nc", "").replace(".rn", "").replace(".sat", "").replace(".ftz", "")
            c[key] += 1
    return c


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    cache, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    bins = sorted(f for f in os.listdir(cache) if f.endswith(".clbin")) if os.path.isdir(cache) else []
    if not bins:
        print(f"ptx: no cached program in {cache}")
        return
    for f in bins:
        data = open(os.path.join(cache, f), "rb").read()[HEADER:]
        # NVIDIA's binary ends in a NUL after the PTX text (ptxas stopped at it: "Unexpected EOF", 2026-12-06)
        if b"\0" in data[-16:]:
            data = data[:data.index(b"\0", max(0, len(data) - 16))]
        base = os.path.join(out, f[: -len(".clbin")])
        is_ptx = b".entry" in data[:1 << 22] or b".version" in data[:4096]
        path = base + (".ptx" if is_ptx else ".bin")
        with open(path, "wb") as o:
            o.write(data)
        with open(path, "rb") as i, gzip.open(path + ".gz", "wb") as o:
            shutil.copyfileobj(i, o)
        print(f"ptx: {f}: {len(data)} bytes, {'PTX' if is_ptx else 'not PTX'} -> {os.path.basename(path)}.gz")
        if not is_ptx:
            os.remove(path)
            continue
        ptx = data.decode("utf-8", "replace")
        for k in KERNELS:
            body = entry(ptx, k)
            if body is None:
                continue
            c = counts(body)
            keys = sorted(c, key=lambda s: (not s.startswith("ld.global"), not s.startswith("ld."), s))
            print(f"ptx {k}: " + ", ".join(f"{s} {c[s]}" for s in keys))
        arch = os.environ.get("PTXAS_ARCH", "sm_90")
        if shutil.which("ptxas"):
            # only the kernels above (the whole program takes ptxas a while)
            found = [k for k in KERNELS if entry(ptx, k) is not None]
            r = subprocess.run(["ptxas", f"-arch={arch}", "-v", "--entry", ",".join(found), path, "-o", os.devnull],
                               capture_output=True, text=True, timeout=100)
            lines = (r.stdout + r.stderr).splitlines()
            open(base + ".ptxas.txt", "w").write("\n".join(lines) + "\n")
            cur = None
            for line in lines:
                m = re.search(r"Compiling entry function '(\w+)'", line)
                if m:
                    cur = m.group(1)
                elif cur in KERNELS and re.search(r"registers|spill", line):
                    print(f"ptxas {cur}: {line.split('info    :')[-1].strip()}")
            if r.returncode:
                print(f"ptxas rc={r.returncode}: {lines[-1] if lines else ''}")
        os.remove(path)


if __name__ == "__main__":
    main()
