#!/bin/bash
# run_gpu.sh — issue #12's GPU table on the device machine: Quanta's OpenCL backend on NVIDIA's OpenCL against
# Quanta's CUDA backend, same file, same call. Targets: decode >= 0.5x and prefill >= 0.4x of CUDA; GEMV q4/q8
# >= 70% of the OpenCL copy kernel's bandwidth (`quanta bench --backend opencl` rows); conformance passes.
# run_h200.sh's build has OpenCL off, so this builds its own (/tmp/qbuild-cl, OpenCL + CUDA, no tests).
# The device may lack OpenCL headers and the ICD loader: then the copies carried in $PEER/opencl are used
# (bench/e2e/make_peer_dir.sh puts them there). NVIDIA's driver provides the platform itself
# (/etc/OpenCL/vendors/nvidia.icd); without it the script says so and stops.
#   OUT=$OUT PEER=.dev/peer bash bench/opencl/run_gpu.sh          (carry [".dev/peer"]; about 6-8 min)
# Since clgpu11: NVIDIA's compiled program and per-kernel PTX load counts (ptx_summary.py), the old paths timed
# beside the new (QUANTA_OPENCL_{Q8,Q4,F16,GEMM}_GPU=0, SPLIT_MIN=256, FUSE_GPU=0) and a profiled decode step per file.
# Results: $OUT/ocl_gpu/summary.txt (the ratio lines at its end) and the raw outputs beside it.
set -u
cd "$(dirname "$0")/../.." || exit 1
OUT=${OUT:-/tmp/e2e-out}
PEER=$(cd "${PEER:-.dev/peer}" 2>/dev/null && pwd || echo /nonexistent)
D=$OUT/ocl_gpu
mkdir -p $D
W=/tmp/ocl_gpu
mkdir -p $W
T0=$(date +%s)
say() { echo "[$(($(date +%s) - T0))s] $*" | tee -a $D/summary.txt; }
say "gpu: $(nvidia-smi --query-gpu=name --format=csv,noheader 2>&1)"
ls /etc/OpenCL/vendors/ > $D/icd.txt 2>&1
say "ICDs: $(tr '\n' ' ' < $D/icd.txt)"
if ! grep -qi nvidia $D/icd.txt; then
  # The driver's OpenCL library can be present without its ICD file (seen on the H100 machines, 2026-12-06):
  # the ICD loader then finds it through OCL_ICD_VENDORS, a folder of .icd files naming the library.
  LIB=$(ls /usr/lib/x86_64-linux-gnu/libnvidia-opencl.so.1 /usr/lib/libnvidia-opencl.so.1 \
    /usr/local/nvidia/lib64/libnvidia-opencl.so.1 /usr/local/nvidia/lib64/libnvidia-opencl.so 2>/dev/null | head -1)
  [ -n "$LIB" ] || { say "no NVIDIA OpenCL ICD or library here: nothing to measure"; exit 0; }
  rm -rf /tmp/ocl_vendors && mkdir -p /tmp/ocl_vendors && echo "$LIB" > /tmp/ocl_vendors/nvidia.icd
  export OCL_ICD_VENDORS=/tmp/ocl_vendors OCL_ICD_FILENAMES=$LIB
  # the CPU platform beside it would be device 0 (and its LLVM 16 asserted on a kernel there, 2026-12-06)
  [ -w /etc/OpenCL/vendors ] && mkdir -p /tmp/ocl_hidden && mv /etc/OpenCL/vendors/*.icd /tmp/ocl_hidden/ 2>/dev/null
  say "NVIDIA OpenCL through OCL_ICD_VENDORS=/tmp/ocl_vendors ($LIB)"
fi

if ! pkg-config --exists OpenCL 2>/dev/null; then
  [ -d "$PEER/opencl" ] || { say "no OpenCL headers/loader and none carried ($PEER/opencl)"; exit 0; }
  rm -rf /tmp/oclroot && cp -r "$PEER/opencl" /tmp/oclroot &&
    sed -i "s|^prefix=.*|prefix=/tmp/oclroot|;s|^libdir=.*|libdir=/tmp/oclroot/lib|" /tmp/oclroot/lib/pkgconfig/OpenCL.pc
  export PKG_CONFIG_PATH=/tmp/oclroot/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
  export LD_LIBRARY_PATH=/tmp/oclroot/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  say "OpenCL headers and loader: carried copy"
fi

# Files: the 1B-shaped LLaMA Q8_0 (the issue's file) and the Gemma-shaped default, both in the background.
( python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "$PEER"/gguf-*.whl &&
  export PYTHONPATH=/tmp/site &&
  { [ -f $W/llama1b-q8_0.gguf ] || timeout 240 python3 "$PEER/make_llama_gguf.py" $W/llama1b-q8_0.gguf Q8_0 1b; } &&
  { [ -f $W/gemma.gguf ] || timeout 120 python3 bench/e2e/gguf_skeleton.py build "$PEER/gemma.skel" $W/gemma.gguf; }
  echo "files rc=$?" ) > $D/files.log 2>&1 &
FILES=$!

B=/tmp/qbuild-cl
export PATH=/usr/local/cuda/bin:$PATH
export CPATH=/usr/local/cuda/include${CPATH:+:$CPATH} # nccl.h includes cuda_runtime.h
{ { [ -f $B/build.ninja ] || timeout 400 meson setup $B . --buildtype=release -Dwerror=false -Dopencl=enabled -Dclblast=disabled \
    -Dspirv=disabled -Dtests=false -Dcuda=enabled; } && timeout 420 ninja -C $B tools/quanta; } > $D/build.log 2>&1
say "build rc=$? $(tail -1 $D/build.log)"
Q=$B/tools/quanta
[ -x $Q ] || { tail -20 $D/build.log >> $D/summary.txt; exit 1; }
# A fresh program cache of our own: the first OpenCL run below compiles the program and stores NVIDIA's
# binary (PTX text) there, which ptx_summary.py reads (and the tuning table stays the class defaults).
export QUANTA_CACHE_DIR=$W/clcache
rm -rf $QUANTA_CACHE_DIR
export QUANTA_OPENCL_BUILD_LOG=$D/cl_build_log.txt # written only if the program fails to build
timeout 20 $Q info > $D/info.txt 2>&1
say "devices: $(grep -i -E 'opencl|cuda' $D/info.txt | head -4 | tr '\n' ';')"

timeout 80 $Q conform --backend opencl --failures --json $D/conform_opencl.json > $D/conform_opencl.txt 2>&1
say "conform opencl rc=$? $(tail -1 $D/conform_opencl.txt)"
# What NVIDIA's compiler made of the GEMV kernels: the program gzipped into $D, per-kernel load kinds
# (ld.global.v4.u32 = 16-byte loads, .u8 = byte loads, ld/st.local = stack) and ptxas -v registers/spills.
timeout 120 python3 bench/opencl/ptx_summary.py $QUANTA_CACHE_DIR $D 2>&1 | tee -a $D/summary.txt

# f16's GPU GEMV is off by default (its row of 2026-12-06 was lost): on here to measure it
QUANTA_OPENCL_F16_GPU=1 timeout 60 $Q bench --backend opencl --no-ref --json $D/kernels_opencl.json > $D/kernels_opencl.txt 2>&1
say "kernel bench opencl (QUANTA_OPENCL_F16_GPU=1) rc=$?"
# result rows only (the progress lines "gemv q4 4096x4096..." start the same way; they cut the 06:37 table short)
grep -E "^(copy|gemv|gemm|attention) " $D/kernels_opencl.txt | grep -v '\.\.\.$' | tr -s ' ' | tee -a $D/summary.txt
# the GPU class's format-fixed GEMVs (gemv_gpu.cl: q8, q4, f16; default) against the generic chunk walk
QUANTA_OPENCL_Q8_GPU=0 QUANTA_OPENCL_Q4_GPU=0 QUANTA_OPENCL_F16_GPU=0 QUANTA_OPENCL_GEMM_GPU=0 QUANTA_OPENCL_SPLIT_MIN=256 \
  timeout 60 $Q bench --backend opencl --no-ref \
  > $D/kernels_opencl_generic.txt 2>&1
say "kernel bench opencl, QUANTA_OPENCL_{Q8,Q4,F16,GEMM}_GPU=0 SPLIT_MIN=256 (the old paths) rc=$?:"
grep -E '^((gemv|gemm) +(q4|q8|f16)|attention) ' $D/kernels_opencl_generic.txt | grep -v '\.\.\.$' | tr -s ' ' | tee -a $D/summary.txt

wait $FILES; say "$(tail -1 $D/files.log)"
for f in llama1b-q8_0 gemma; do
  [ -f $W/$f.gguf ] || { say "no $f"; continue; }
  # both files decode and prefill through q8 on OpenCL (--quant auto): the old paths are the generic
  # GEMV walk (QUANTA_OPENCL_Q8_GPU=0), qn_gemm (QUANTA_OPENCL_GEMM_GPU=0), 256-key splits; 1B file only (time)
  [ $f = llama1b-q8_0 ] && { QUANTA_OPENCL_Q8_GPU=0 QUANTA_OPENCL_GEMM_GPU=0 QUANTA_OPENCL_SPLIT_MIN=256 timeout 120 $Q bench model -m $W/$f.gguf \
    -p 512 -n 128 -r 2 --backend opencl > $D/$f-opencl-old.txt 2>&1
    say "$f opencl QUANTA_OPENCL_Q8_GPU=0 QUANTA_OPENCL_GEMM_GPU=0 QUANTA_OPENCL_SPLIT_MIN=256 (old) rc=$? $(grep -E 'pp512|tg128' $D/$f-opencl-old.txt | tr -s ' ' | tr '\n' ' ')"; }
  [ $f = llama1b-q8_0 ] && { QUANTA_OPENCL_FUSE_GPU=0 timeout 60 $Q bench model -m $W/$f.gguf -p 0 -n 128 -r 2 \
    --backend opencl > $D/$f-opencl-nofuse.txt 2>&1
    say "$f opencl QUANTA_OPENCL_FUSE_GPU=0 rc=$? $(grep -E 'tg128' $D/$f-opencl-nofuse.txt | tr -s ' ')"; }
  # where a prompt's and a decode step's time go on this driver (the executor's per-op tables: pp512, 16 steps)
  QUANTA_PLAN_PROFILE=1 timeout 60 $Q bench model -m $W/$f.gguf -p 512 -n 16 -r 1 --backend opencl > $D/$f-opencl-profile.txt 2>&1
  say "$f opencl profile rc=$? (top rows):"
  grep -A10 "pp run's prompt" $D/$f-opencl-profile.txt | head -11 >> $D/summary.txt
  grep -A12 "decode steps" $D/$f-opencl-profile.txt | head -13 >> $D/summary.txt
  for be in cuda opencl; do
    timeout 120 $Q bench model -m $W/$f.gguf -p 512 -n 128 -r 3 --backend $be > $D/$f-$be.txt 2>&1
    say "$f $be rc=$? $(grep -E 'pp512|tg128' $D/$f-$be.txt | tr -s ' ' | tr '\n' ' ')"
  done
  python3 - $D/$f-cuda.txt $D/$f-opencl.txt <<'PY' 2>&1 | tee -a $D/summary.txt
import re, sys
def rates(p):  # the table rows "| pp512 | mean | sd |" and "| tg128 | mean | sd |"
    t = open(p).read()
    r = {k: float(v) for k, v in re.findall(r"\|\s*(pp512|tg128)\s*\|\s*([0-9.]+)", t)}
    return (r["pp512"], r["tg128"]) if len(r) == 2 else None
name = sys.argv[2].rsplit("/", 1)[-1].replace("-opencl.txt", "")
try: c, o = rates(sys.argv[1]), rates(sys.argv[2])
except OSError: c = o = None
if not c or not o: print(f"{name}: ratio unavailable (see the .txt files)")
else: print(f"{name}: OpenCL/CUDA prefill {o[0]/c[0]:.2f}x (target >= 0.4), decode {o[1]/c[1]:.2f}x (target >= 0.5)")
PY
done
say "done"
