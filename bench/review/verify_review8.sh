#!/bin/bash
# verify_review8.sh — device check of review8's test hardening (2026-12-05 evening), run after
# bench/e2e/run_h200.sh has built Quanta (/tmp/qbuild, CUDA, tests on). At most ~60 s, every step with
# its own timeout. Questions:
#  1. Does CUDA's dp4a GEMV round x to nearest (tests/engine/test_int8_x_rounding.c: x = j + 1 - 63.7/254
#     with dx = 1, so one plane's codes round up by 0.25 and glu's second plane to -64; the result must be
#     the rounded codes' product to f32 precision, truncating models lie 13x+ outside)? Written without a
#     GPU; passed on ref and OpenCL.
#  2. Do the fused-op tests that failed on CUDA at 19:25 pass after 109992d's test-side fix (never re-run
#     on a GPU): test_matmul_multi, test_matmul_glu (CUDA held to conformance's reduced-precision matmul
#     contract), test_rms_norm_rope (CUDA fuses rms_norm + rope)?
#  3. The rest of verify_review7.sh's list (retired into this one): the other fused-op / paged tests with
#     device-side poisoning and guards (tests/common/qt_plan_guard.h), then batched-vs-alone decode.
#  4. The conformance suite's tiny dot products on CUDA (judged against the operands' energy where the
#     result cancels, conformance/thresholds.c "Cancellation") over a few seeds.
# OpenCL is hidden (OCL_ICD_VENDORS) so each test runs ref and cuda only. Output: $OUT/review8/
# (summary.txt; one line per test, then any failure lines).
set -u
cd "$(dirname "$0")/../.." || exit 1 # the repository root
. bench/common/verifylib.sh review8 58
B=${QUANTA_BUILD:-/tmp/qbuild}
say "gpu: $(nvidia-smi --query-gpu=name --format=csv,noheader 2>&1)"
say "cuda backend: $(timeout 10 $B/tools/quanta info 2>&1 | grep -i -m1 cuda)" # the tests skip a backend without a device

FIRST="test_int8_x_rounding test_matmul_multi test_matmul_glu test_rms_norm_rope"
REST="test_write_rows_pair test_rms_norm_rope_pair test_rms_norm_add_norm test_rms_norm_add test_add_rms_norm test_glu
 test_paged_attention test_paged_kv_quant"
targets=""
for t in $FIRST $REST; do targets="$targets tests/engine/$t"; done
timeout 25 ninja -C $B $targets tests/model/test_model_batch_same > $D/build.log 2>&1
say "build rc=$? (the engine tests; run_h200.sh builds only tests/cuda)"

for t in $FIRST $REST; do
  [ "$(left)" -gt 4 ] || { say "$t skipped (time)"; continue; }
  [ -x $B/tests/engine/$t ] || { say "$t: not built (build.log)"; continue; }
  OCL_ICD_VENDORS=/nonexistent-quanta-icd CK_FORK=no QUANTA_TEST_SEED=${QUANTA_TEST_SEED:-7} \
    timeout $(($(left) < 10 ? $(left) - 2 : 10)) $B/tests/engine/$t > $D/$t.log 2>&1
  say "$t rc=$?: $(grep -E 'Checks' $D/$t.log | tail -1)"
done
grep -E "^cuda " $D/test_int8_x_rounding.log 2>/dev/null | tee -a $D/summary.txt
if [ "$(left)" -gt 8 ]; then
  # one result each: K = 32/256 takes the f32 GEMV (K < 512), K = 1024 the one-plane dp4a GEMV, whose
  # plain relative error on a single result fails about one draw in four
  cases=""
  for w in q5_0 q8_0 q4_0 q4_k q6_k; do
    for k in 256 1024; do cases="$cases --case matmul:m=1,n=1,k=$k,w=$w"; done
  done
  for s in 1 2; do
    timeout 6 $B/tools/quanta conform --backend cuda --seed $s $cases --failures > $D/conform_tiny_$s.log 2>&1
    say "conform tiny dot products seed $s rc=$?: $(grep -E '^total|cannot|FAIL' $D/conform_tiny_$s.log | head -3)"
  done
fi
if [ -x $B/tests/model/test_model_batch_same ] && [ "$(left)" -gt 6 ]; then
  OCL_ICD_VENDORS=/nonexistent-quanta-icd CK_FORK=no timeout $(($(left) < 22 ? $(left) - 2 : 20)) $B/tests/model/test_model_batch_same > $D/batch_same.log 2>&1
  say "test_model_batch_same rc=$?: $(grep -E 'Checks' $D/batch_same.log | tail -1)"
  grep -E "batched vs alone|:F:|:E:" $D/batch_same.log | tee -a $D/summary.txt
else say "test_model_batch_same skipped (not built or no time)"; fi
echo "== failures (first 3 lines each)" | tee -a $D/summary.txt
for t in $FIRST $REST; do grep -E ":F:|:E:|Assertion|not finite|guard" $D/$t.log 2>/dev/null | head -3 | sed "s/^/$t: /" | tee -a $D/summary.txt; done
say "done"
