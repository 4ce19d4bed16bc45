#!/bin/bash
# verify_review7.sh — device check of review7's test hardening (2026-12-05 evening), run after
# bench/e2e/run_h200.sh has built Quanta (/tmp/qbuild, CUDA, tests on). At most ~60 s, every step with
# its own timeout. Question: do the fused-op unit tests pass on CUDA? They were written without a GPU
# (ocl6/cuda6: each accepts either plan on CUDA and checks the values against float64 or the unfused
# ops) and now run with the plan's guards on (tests/common/qt_plan_guard.h: every op output NaN-poisoned on
# the device before its kernel, guard bytes around it checked after it), so a CUDA kernel that skips
# part of a result or writes past it fails here. OpenCL is hidden (OCL_ICD_VENDORS) so each test runs
# ref and cuda only. Then, from verify_review6.sh (retired: it never got device time), how far CUDA's
# batched decode is from each sequence decoded alone (tests/model/test_model_batch_same.c: printed, not
# promised). Output: $OUT/review7/ (summary.txt; one line per test, then any failure lines).
set -u
cd "$(dirname "$0")/../.." || exit 1 # the repository root
OUT=${OUT:-/tmp/e2e-out}
D=$OUT/review7
mkdir -p $D
B=${QUANTA_BUILD:-/tmp/qbuild}
T0=$(date +%s)
say() { echo "[$(($(date +%s) - T0))s] $*" | tee -a $D/summary.txt; }
left() { echo $((58 - ($(date +%s) - T0))); }
say "gpu: $(nvidia-smi --query-gpu=name --format=csv,noheader 2>&1)"
say "cuda backend: $(timeout 10 $B/tools/quanta info 2>&1 | grep -i -m1 cuda)" # the tests skip a backend without a device

TESTS="test_matmul_multi test_matmul_glu test_write_rows_pair test_rms_norm_rope test_rms_norm_rope_pair
 test_rms_norm_add_norm test_rms_norm_add test_add_rms_norm test_glu test_paged_attention test_paged_kv_quant"
targets=""
for t in $TESTS; do targets="$targets tests/engine/$t"; done
timeout 25 ninja -C $B $targets tests/model/test_model_batch_same > $D/build.log 2>&1
say "build rc=$? (the engine tests; run_h200.sh builds only tests/cuda)"

for t in $TESTS; do
  [ "$(left)" -gt 4 ] || { say "$t skipped (time)"; continue; }
  [ -x $B/tests/engine/$t ] || { say "$t: not built (build.log)"; continue; }
  OCL_ICD_VENDORS=/nonexistent-quanta-icd CK_FORK=no QUANTA_TEST_SEED=${QUANTA_TEST_SEED:-7} \
    timeout $(($(left) < 10 ? $(left) - 2 : 10)) $B/tests/engine/$t > $D/$t.log 2>&1
  say "$t rc=$?: $(grep -E 'Checks' $D/$t.log | tail -1)"
done
if [ -x $B/tests/model/test_model_batch_same ] && [ "$(left)" -gt 6 ]; then
  OCL_ICD_VENDORS=/nonexistent-quanta-icd CK_FORK=no timeout $(($(left) < 22 ? $(left) - 2 : 20)) $B/tests/model/test_model_batch_same > $D/batch_same.log 2>&1
  say "test_model_batch_same rc=$?: $(grep -E 'Checks' $D/batch_same.log | tail -1)"
  grep -E "batched vs alone|:F:|:E:" $D/batch_same.log | tee -a $D/summary.txt
else say "test_model_batch_same skipped (not built or no time)"; fi
echo "== failures (first 3 lines each)" | tee -a $D/summary.txt
for t in $TESTS; do grep -E ":F:|:E:|Assertion|not finite|guard" $D/$t.log 2>/dev/null | head -3 | sed "s/^/$t: /" | tee -a $D/summary.txt; done
say "done"
