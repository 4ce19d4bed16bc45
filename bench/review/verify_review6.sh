#!/bin/bash
# verify_review6.sh — device checks of review6's hardening (2026-12-05), run after
# bench/e2e/run_h200.sh has built Quanta (/tmp/qbuild, CUDA, tests on). At most ~90 s, every step
# with its own timeout. Questions:
#   1. how far CUDA's batched decode is from the same sequence decoded alone (tiny random LLaMA, 12
#      sequences in one step through contexts and through a paged pool, f32 and q8 weights; printed,
#      not promised: server/README.md says so)
#      (tests/model/test_model_batch_same.c, built here: run_h200.sh builds only the CUDA tests);
#   2. CUDA write_rows refusing a scatter row past the buffer (tests/cuda/test_cuda_ops.c, the new
#      third case of permute_convert_write_rows; written without a GPU);
#   3. the server on CUDA (tests/server/test_batch.py, standard library only: 32 greedy requests
#      alone, then at once, then through a 40-block pool that preempts): where CUDA's rows part from
#      their alone runs, only at near ties (top two log-probabilities within 0.1), and how many of 32
#      stay identical. Needs `quanta serve` in the build (libmicrohttpd, jansson).
# Everything goes to $OUT/review6/ (summary.txt: the numbers to decide with are at its end).
set -u
cd "$(dirname "$0")/../.." || exit 1 # the repository root
OUT=${OUT:-/tmp/e2e-out}
D=$OUT/review6
mkdir -p $D
B=${QUANTA_BUILD:-/tmp/qbuild}
Q=$B/tools/quanta
T0=$(date +%s)
say() { echo "[$(($(date +%s) - T0))s] $*" | tee -a $D/summary.txt; }
left() { echo $((86 - ($(date +%s) - T0))); }
say "gpu: $(nvidia-smi --query-gpu=name --format=csv,noheader 2>&1)"

# the two test programs and the tiny-model writer, if the build has tests (a few seconds: libquanta is built)
timeout 30 ninja -C $B tests/model/test_model_batch_same tests/tools/make_tiny_gguf > $D/build.log 2>&1
say "build rc=$?"

if [ -x $B/tests/model/test_model_batch_same ]; then
  CK_FORK=no timeout 20 $B/tests/model/test_model_batch_same > $D/batch_same.log 2>&1
  say "test_model_batch_same rc=$?"
  grep -E "batched vs alone|Checks|:F:|:E:" $D/batch_same.log | tee -a $D/summary.txt
else say "no $B/tests/model/test_model_batch_same (see build.log)"; fi

if [ -x $B/tests/cuda/test_cuda_ops ]; then
  CK_FORK=no timeout 25 $B/tests/cuda/test_cuda_ops > $D/cuda_ops.log 2>&1
  say "test_cuda_ops rc=$?"
  grep -E "Checks|:F:|:E:" $D/cuda_ops.log | tee -a $D/summary.txt
else say "no $B/tests/cuda/test_cuda_ops"; fi

if [ -x $B/tests/tools/make_tiny_gguf ] && $Q serve --help > /dev/null 2>&1 && [ "$(left)" -gt 20 ]; then
  QUANTA_TEST_SEED=1 $B/tests/tools/make_tiny_gguf $D/tiny-gemma3.gguf server-gemma3 > /dev/null 2>&1
  QUANTA_EXE=$Q PYTHONDONTWRITEBYTECODE=1 QUANTA_TEST_SEED=7 timeout $(($(left) - 3)) \
    python3 tests/server/test_batch.py --backend ${QUANTA_VERIFY_BACKEND:-cuda} --model $D/tiny-gemma3.gguf > $D/server_batch.log 2>&1
  say "server test_batch on ${QUANTA_VERIFY_BACKEND:-cuda} rc=$? (124: out of time)"
  grep -E "all at once|promised|parted|identical|preemptions|Error|assert|^OK" $D/server_batch.log | head -40 |
    tee -a $D/summary.txt
else say "server test skipped (no make_tiny_gguf, no quanta serve, or no time left)"; fi
say "done"
