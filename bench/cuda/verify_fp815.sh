#!/bin/bash
# verify_fp815.sh — device checks of fp815's FP8 x FP8 GEMM work (kernels_cuda/matmul_fp8_wg.cu), ≤ 45 s: stream-K
# for the last rounds of tiles (QUANTA_CUDA_FP8_SK: 1 = where the host's model expects it faster, 2 = always; off: the
# final call of 21:05 measured it slower) and the one-read quantizer (QUANTA_CUDA_FP8_QUANT_SM; the default since that
# call at M <= 512) against the default QUANTA_CUDA_FP8_V2 (unset = 0ts; 128x192 picked where it cuts the rounds) and
# torch._scaled_mm. Run after bench/e2e/run_h200.sh has built Quanta:
#   VERIFY=bench/cuda/verify_fp815.sh bash bench/e2e/run_h200.sh build files verify
# fp8_check comes from bench/cuda/prebuild_fp815.sh (/tmp/prebuild/fp815), else is built here from /tmp/qbuild's
# objects. Every step has its own timeout (a flag or barrier mistake hangs), later steps skipped when late. Deciding
# rows first:
#   1. fp8_check sanitize (three small cases, every form, stream-K on 132 / 3 / 5 / 7 SMs: a hang or a wrong y shows
#      here in ~2 s);
#   2. fp8_check time5: GEMM alone, the default (tile picked), stream-K always and by its model, the quantizer in its
#      loop form and the one-read form, cuBLASLt FP8 fast, LLaMA-7B/13B shapes at M = 256 .. 4096 (the M = 512 rows
#      first), then torch._scaled_mm row-wise fast on the same shapes and torch's quantize + _scaled_mm (fp8_peers.py);
#   3. conformance of the e4m3 matmuls through the engine (quantizer + GEMM): V2 unset, then QUANTA_CUDA_FP8_SK=2
#      (every call stream-K: slots in the scratch, flags in the engine's counters) with QUANTA_CUDA_FP8_QUANT_SM=1
#      (SK=1 runs the same kernels, on a subset of the calls);
#   4. fp8_check check: codes byte-exact (both quantizers), y within its bound of the float64 reference (NaN-poisoned),
#      every TMA form bit-identical to 2p, 128x192 and stream-K (tiles split in 2-6 pieces; flags left zero) within it;
#   5. compute-sanitizer racecheck / synccheck of the small cases;
#   6. fp8_check trace3 (0ts, stream-K's first segment, 128x192: per block, first tile or segment), if time is left.
# Everything goes to $OUT/fp815/ (summary.txt: the numbers to decide with).
set -u
cd "$(dirname "$0")/../.." # the repository root
export PATH=$PATH:/usr/local/cuda/bin
. bench/common/verifylib.sh fp815 45
Q=${QUANTA:-/tmp/qbuild/tools/quanta}
B=${QBUILD:-/tmp/qbuild}/kernels_cuda
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm --format=csv,noheader 2>&1)"

FC=/tmp/prebuild/fp815
if [ ! -x $FC/fp8_check ]; then
  say "no prebuilt fp8_check ($(tail -1 $FC/build.log 2> /dev/null)); building from $B"
  FC=/tmp/fp8check_fp815
  rm -rf $FC
  KOBJ=$B timeout 40 sh bench/cuda/build_fp8_check.sh $FC > $D/fp8_check_build.log 2>&1
  say "fp8_check build: $(tail -1 $D/fp8_check_build.log)"
fi
cp /tmp/prebuild/fp815/build.log $D/prebuild.log 2> /dev/null

if [ -x $FC/fp8_check ]; then
  # 1. small cases first: a deadlocked or wrong form shows in seconds, before the timings
  timeout 6 $FC/fp8_check sanitize > $D/fp8_smoke.txt 2>&1
  rc=$?; say "fp8_check sanitize (smoke: every form on 70 x 150 x 192 and 300 x 256 x 320) rc=$rc"; [ $rc -eq 0 ] || VERDICT=FAIL
  # a stream-K hang or error must not cost the timings of the rest: time5 and trace3 leave it out then
  [ $rc -eq 0 ] || { export FP8_CHECK_NO_SK=1; say "stream-K left out of time5 / trace3 (smoke rc=$rc)"; }
  grep -E '^check|launch|fp8_check:' $D/fp8_smoke.txt | sed 's/; e4m3 x costs.*against the unquantized x//' | tee -a $D/summary.txt
  # 2. the deciding timings (GEMM alone), then torch._scaled_mm on the same rows
  TL=$(($(left) - 30)); [ $TL -gt 12 ] && TL=12; [ $TL -lt 6 ] && TL=6
  FP8_CHECK_REPS=3 timeout $TL $FC/fp8_check time5 $D/fp8_time5.csv > $D/fp8_time5.txt 2>&1
  say "fp8_check time5 rc=$?"; grep -vE '^fp8_check: seed' $D/fp8_time5.txt | tee -a $D/summary.txt
fi
if [ -s $D/fp8_time5.csv ] && python3 -c 'import torch' 2> /dev/null; then
  TL=$(($(left) - 16)); [ $TL -gt 14 ] && TL=14; [ $TL -lt 6 ] && TL=6
  FP8_PEERS_REPS=3 FP8_PEERS_FAST_ONLY=1 timeout $TL python3 bench/cuda/fp8_peers.py $D/fp8_time5.csv > $D/fp8_peers.txt 2>&1
  say "fp8_peers rc=$?"; tee -a $D/summary.txt < $D/fp8_peers.txt
fi

# 3. conformance through the engine
if [ -x $Q ]; then
  LISTED=$($Q conform --backend ref --list 2> /dev/null | grep -E '^matmul:.*w=fp8_e4m3')
  EXTRA=(--case "matmul:m=520,n=390,k=2048,w=fp8_e4m3,x=bf16" --case "matmul:m=512,n=1024,k=512,w=fp8_e4m3,x=f32"
         --case "matmul:m=2048,n=128,k=512,w=fp8_e4m3,x=f16" --case "matmul:m=65,n=512,k=4096,w=fp8_e4m3,x=f32"
         --case "matmul:m=300,n=1000,k=704,w=fp8_e4m3,x=bf16")
  ALL=($(echo "$LISTED" | sed 's/^/--case /') "${EXTRA[@]}")
  say "conformance cases: $((${#ALL[@]} / 2)) (V2 unset = 0ts; then stream-K always with the one-read quantizer)"
  CONFORM_S=6 conform default QUANTA_CUDA_FP8_SK= -- "${ALL[@]}"
  if [ -z "${FP8_CHECK_NO_SK:-}" ]; then
    CONFORM_S=6 conform sk2_qsm QUANTA_CUDA_FP8_SK=2 QUANTA_CUDA_FP8_QUANT_SM=1 -- "${ALL[@]}"
  else
    CONFORM_S=6 conform qsm QUANTA_CUDA_FP8_QUANT_SM=1 -- "${ALL[@]}"
  fi
else
  say "no $Q: conformance skipped"; VERDICT=incomplete
fi

if [ -x $FC/fp8_check ] && [ $(left) -gt 9 ]; then
  # 4. against the float64 reference; the TMA forms bit-identical, 128x192 and stream-K within the bound (~6 s)
  timeout $(($(left) - 2 < 8 ? $(left) - 2 : 8)) $FC/fp8_check check > $D/fp8_check.txt 2>&1
  rc=$?; say "fp8_check check (2p against the reference; TMA forms compared; 128x192, stream-K against the reference) rc=$rc"
  # 124: cut by its time limit (the cases it printed stand), not a wrong result
  [ $rc -eq 0 ] || { [ $rc -eq 124 ] && [ $VERDICT = ok ] && VERDICT=incomplete; } || VERDICT=FAIL
  grep -E '^check|cases wrong|launch|fp8_check:' $D/fp8_check.txt | sed 's/; e4m3 x costs.*against the unquantized x//' | tee -a $D/summary.txt
fi

# 5. compute-sanitizer on the small cases (every form)
if [ -x $FC/fp8_check ] && command -v compute-sanitizer > /dev/null && [ -z "${FP8_CHECK_NO_SK:-}" ]; then
  for tool in racecheck synccheck; do
    [ $(left) -gt 5 ] || { say "compute-sanitizer $tool skipped (time)"; continue; }
    timeout $(($(left) - 1 < 7 ? $(left) - 1 : 7)) compute-sanitizer --tool $tool $FC/fp8_check sanitize > $D/sanitize_$tool.txt 2>&1
    rc=$?; say "compute-sanitizer $tool rc=$rc: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $D/sanitize_$tool.txt | head -1)"
    [ $rc -eq 0 ] || VERDICT=FAIL
  done
fi

# 6. where a block's time goes
if [ -x $FC/fp8_check ] && [ $(left) -gt 6 ]; then
  timeout $(($(left) - 1)) $FC/fp8_check trace3 > $D/fp8_trace3.txt 2>&1
  say "fp8_check trace3 rc=$?"; grep -E '^trace3|failed' $D/fp8_trace3.txt | tee -a $D/summary.txt
fi

{
  echo "== fp815 summary: smoke, time5 + _scaled_mm, fp8_check check, conformance (default, SK=2 + QUANT_SM=1), sanitizers: $VERDICT"
  grep -E 'cases wrong|stream-K' $D/fp8_check.txt 2> /dev/null
  [ -f $D/fp8_peers.txt ] && grep -E 'scaled_mm v2|   op$' $D/fp8_peers.txt
} | tee -a $D/summary.txt
pack
say "done"
