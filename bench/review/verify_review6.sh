#!/bin/bash
# verify_review6.sh — device checks of review6's hardening (2026-12-05), run after
# bench/e2e/run_h200.sh has built Quanta (/tmp/qbuild, CUDA). At most ~90 s, every step with its own
# timeout. Questions:
#   1. how far CUDA's batched decode is from the same sequence decoded alone (tiny random LLaMA, 12
#      sequences in one step, f32 and q8 weights; printed, not promised: server/README.md says so and
#      the server tests accept a parting there only at a near tie), and whether NVIDIA's OpenCL (GPU
#      class) keeps the q8 invariance QUANTA_OPENCL_GEMM=int8 promises on CPUs
#      (tests/model/test_model_batch_same.c);
#   2. CUDA write_rows refusing a scatter row past the buffer (tests/cuda/test_cuda_ops.c, the new
#      third case of permute_convert_write_rows; written without a GPU).
# Everything goes to $OUT/review6/ (summary.txt: the numbers to decide with are at its end).
set -u
cd "$(dirname "$0")/../.." # the repository root
OUT=${OUT:-/tmp/e2e-out}
D=$OUT/review6
mkdir -p $D
B=${QUANTA_BUILD:-/tmp/qbuild}
T0=$(date +%s)
say() { echo "[$(($(date +%s) - T0))s] $*" | tee -a $D/summary.txt; }
say "gpu: $(nvidia-smi --query-gpu=name --format=csv,noheader 2>&1)"

if [ -x $B/tests/model/test_model_batch_same ]; then
  CK_FORK=no timeout 45 $B/tests/model/test_model_batch_same > $D/batch_same.log 2>&1
  say "test_model_batch_same rc=$?"
  grep -E "batched vs alone|Checks|:F:|:E:" $D/batch_same.log | tee -a $D/summary.txt
else say "no $B/tests/model/test_model_batch_same"; fi

if [ -x $B/tests/cuda/test_cuda_ops ]; then
  CK_FORK=no timeout 40 $B/tests/cuda/test_cuda_ops > $D/cuda_ops.log 2>&1
  say "test_cuda_ops rc=$?"
  grep -E "Checks|:F:|:E:" $D/cuda_ops.log | tee -a $D/summary.txt
else say "no $B/tests/cuda/test_cuda_ops"; fi
say "done"
