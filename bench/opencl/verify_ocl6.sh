#!/bin/bash
# verify_ocl6.sh — device checks of ocl6's plan fusions (2026-12-05), run after bench/e2e/run_h200.sh
# has built Quanta (/tmp/qbuild). At most ~90 s, every step with its own timeout. Questions:
#   1. do the four fused ops the plans now make (matmul_multi: q/k/v in one node; write_rows_pair: the
#      k and v cache appends; rms_norm_add_norm: a post-norm, its residual and the next norm;
#      rms_norm_rope_pair: the q and k norms with their rope) pass conformance on NVIDIA's OpenCL
#      (the GPU-class kernels: write_rows_pair, rms_norm_add_norm's work-group path with its
#      barrier, rms_norm_rope_pair; matmul_multi stays unfused on GPUs) — written on PoCL only;
#   2. do the same cases pass on CUDA (cuda6 gave it kernels for all four, behind switches);
#   3. Gemma decode on the GPU through OpenCL (for issue #12's GPU table; printed, not compared).
# Everything goes to $OUT/ocl6/ (summary.txt: the numbers to decide with are at its end).
set -u
cd "$(dirname "$0")/../.." || exit 1 # the repository root
OUT=${OUT:-/tmp/e2e-out}
D=$OUT/ocl6
mkdir -p $D
B=${QUANTA_BUILD:-/tmp/qbuild}
Q=$B/tools/quanta
M=${GEMMA:-/tmp/e2e/files/gemma3-270m-q4_k_m.gguf}
T0=$(date +%s)
say() { echo "[$(($(date +%s) - T0))s] $*" | tee -a $D/summary.txt; }
OPS=matmul_multi,write_rows_pair,rms_norm_add_norm,rms_norm_rope_pair
say "gpu: $(nvidia-smi --query-gpu=name --format=csv,noheader 2>&1)"
timeout 10 $Q info > $D/info.txt 2>&1
say "opencl devices: $(grep -ci opencl $D/info.txt) lines mention OpenCL"

timeout 40 $Q conform --backend opencl --filter $OPS --failures > $D/conform_opencl.txt 2>&1
say "conform opencl (fused ops) rc=$?"
tail -4 $D/conform_opencl.txt | tee -a $D/summary.txt

timeout 25 $Q conform --backend cuda --filter $OPS --failures > $D/conform_cuda.txt 2>&1
say "conform cuda (fused ops) rc=$?"
tail -4 $D/conform_cuda.txt | tee -a $D/summary.txt

if [ -f "$M" ]; then
  timeout 20 $Q bench model -m $M -p 0 -n 32 -r 1 --backend opencl > $D/gemma_opencl.txt 2>&1
  say "gemma decode on opencl rc=$?"
  grep -E "tg" $D/gemma_opencl.txt | tee -a $D/summary.txt
else say "no $M"; fi
say "done"
