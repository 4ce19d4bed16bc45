#!/bin/bash
# verify_fp816.sh — device checks of fp816's FP8 x FP8 GEMM work (kernels_cuda/matmul_fp8_wg.cu), <= 50 s (round 2):
# the split-K groups for the last partial round of tiles, now the default where their model takes them
# (QUANTA_CUDA_FP8_SK unset = 4; 3 = always, 0 = never, the 0ts default of before), against the 0ts GEMM and
# torch._scaled_mm, timed INTERLEAVED in one process (bench/cuda/fp8_pair.py loads our GEMM as libqnfp8.so beside
# torch), then ncu of the worst row. Run after
# bench/e2e/run_h200.sh has built Quanta:
#   VERIFY=bench/cuda/verify_fp816.sh bash bench/e2e/run_h200.sh build files verify
# fp8_check and libqnfp8.so come from bench/cuda/prebuild_fp816.sh (/tmp/prebuild/fp816). Every step has its own
# timeout (a flag mistake hangs), later steps skipped when late. Deciding rows first:
#   1. fp8_check sanitize (three small cases, every form, stream-K and split-K groups on 132 / 3 / 5 / 7 SMs);
#   2. fp8_pair: the four rows under 0.9x in the 21:03 call, ours (0ts = SK 0, sk4 = the new default, sk3 = groups
#      always, the quantizer) and _scaled_mm in alternating rounds, medians;
#   3. conformance of the e4m3 matmuls through the engine: the default (SK 4), SK=3, SK=0;
#   4. fp8_check check: y within its bound of the float64 reference (NaN-poisoned), groups and stream-K too;
#   5. fp8_pair on all 30 rows (0ts, the new default; the peer interleaved);
#   6. compute-sanitizer racecheck / synccheck of the small cases;
#   7. fp8_check trace3 (the default, the groups, 128x192 on three unmet rows: per block, the first tile or piece);
#   8. ncu (one warm launch) of the new default on 512 x 4096 x 11008 (round 1 has 0ts, the groups and _scaled_mm there).
# Without libqnfp8.so or torch: fp8_check time5 (ours alone, FP8_CHECK_SK=3 in its sk column).
# Everything goes to $OUT/fp816/ (summary.txt: the numbers to decide with).
set -u
cd "$(dirname "$0")/../.." # the repository root
export PATH=$PATH:/usr/local/cuda/bin
. bench/common/verifylib.sh fp816 50
Q=${QUANTA:-/tmp/qbuild/tools/quanta}
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm --format=csv,noheader 2>&1)"
FC=/tmp/prebuild/fp816
cp $FC/build.log $D/prebuild.log 2> /dev/null
[ -x $FC/fp8_check ] || { say "no prebuilt fp8_check: $(tail -2 $FC/build.log 2> /dev/null | tr '\n' ' ')"; VERDICT=FAIL; }
PAIR=0
[ -f $FC/libqnfp8.so ] && python3 -c 'import torch' 2> /dev/null && PAIR=1
UNMET_FORMS=dflt,sk4,sk3

if [ -x $FC/fp8_check ]; then
  # 1. small cases first: a deadlocked or wrong form shows in seconds, before the timings
  timeout 8 $FC/fp8_check sanitize > $D/fp8_smoke.txt 2>&1
  rc=$?; say "fp8_check sanitize (smoke: every form on 70 x 150 x 192 and 300 x 256 x 320) rc=$rc"
  [ $rc -eq 0 ] || { VERDICT=FAIL; export FP8_CHECK_NO_SK=1; UNMET_FORMS=dflt; say "stream-K / groups left out of the timings"; }
  grep -E '^check|fp8_check:' $D/fp8_smoke.txt | sed 's/; e4m3 x costs.*against the unquantized x//' | tee -a $D/summary.txt
fi

# 2. the deciding rows, ours and the peer interleaved
if [ $PAIR = 1 ]; then
  FP8_PAIR_REPS=7 timeout 12 python3 bench/cuda/fp8_pair.py $FC/libqnfp8.so unmet $UNMET_FORMS > $D/pair_unmet.txt 2>&1
  say "fp8_pair unmet rows rc=$?"; tee -a $D/summary.txt < $D/pair_unmet.txt
elif [ -x $FC/fp8_check ]; then
  say "no libqnfp8.so or torch: fp8_check time5 (ours alone)"
  FP8_CHECK_REPS=3 timeout 12 $FC/fp8_check time5 $D/fp8_time5.csv > $D/fp8_time5.txt 2>&1
  say "fp8_check time5 rc=$?"; grep -vE '^fp8_check: seed' $D/fp8_time5.txt | tee -a $D/summary.txt
fi

# 3. conformance through the engine (quantizer + GEMM; SK=3: slots in the scratch, flags in the engine's counters)
if [ -x $Q ]; then
  LISTED=$($Q conform --backend ref --list 2> /dev/null | grep -E '^matmul:.*w=fp8_e4m3')
  EXTRA=(--case "matmul:m=520,n=390,k=2048,w=fp8_e4m3,x=bf16" --case "matmul:m=512,n=1024,k=512,w=fp8_e4m3,x=f32"
         --case "matmul:m=2048,n=128,k=512,w=fp8_e4m3,x=f16" --case "matmul:m=65,n=512,k=4096,w=fp8_e4m3,x=f32"
         --case "matmul:m=300,n=1000,k=704,w=fp8_e4m3,x=bf16" --case "matmul:m=512,n=2048,k=1024,w=fp8_e4m3,x=bf16")
  ALL=($(echo "$LISTED" | sed 's/^/--case /') "${EXTRA[@]}")
  say "conformance cases: $((${#ALL[@]} / 2)) (the default: SK 4; then SK=3, groups always; SK=0, 0ts as before)"
  CONFORM_S=6 conform default QUANTA_CUDA_FP8_SK= -- "${ALL[@]}"
  [ -z "${FP8_CHECK_NO_SK:-}" ] && CONFORM_S=6 conform sk3 QUANTA_CUDA_FP8_SK=3 -- "${ALL[@]}"
  CONFORM_S=6 conform sk0 QUANTA_CUDA_FP8_SK=0 -- "${ALL[@]}"
else
  say "no $Q: conformance skipped"; VERDICT=incomplete
fi

# 4. against the float64 reference
if [ -x $FC/fp8_check ] && [ $(left) -gt 26 ]; then
  timeout 7 $FC/fp8_check check > $D/fp8_check.txt 2>&1
  rc=$?; say "fp8_check check (against the reference; TMA forms compared; 128x192, stream-K, split-K groups) rc=$rc"
  [ $rc -eq 0 ] || { [ $rc -eq 124 ] && [ $VERDICT = ok ] && VERDICT=incomplete; } || VERDICT=FAIL
  grep -E '^check M=[0-9]+ N=[0-9]+ K=[0-9]+ x=|cases wrong|launch|split-K groups|fp8_check:' $D/fp8_check.txt | sed 's/; e4m3 x costs.*against the unquantized x//' | tee -a $D/summary.txt
fi

# 5. every row, the peer interleaved
if [ $PAIR = 1 ] && [ $(left) -gt 18 ]; then
  F=dflt,sk4; [ -n "${FP8_CHECK_NO_SK:-}" ] && F=dflt
  FP8_PAIR_REPS=3 timeout $(($(left) - 12 < 10 ? $(left) - 12 : 10)) python3 bench/cuda/fp8_pair.py $FC/libqnfp8.so all $F > $D/pair_all.txt 2>&1
  say "fp8_pair all rows rc=$?"; tee -a $D/summary.txt < $D/pair_all.txt
fi

# 6. compute-sanitizer on the small cases (every form)
if [ -x $FC/fp8_check ] && command -v compute-sanitizer > /dev/null && [ -z "${FP8_CHECK_NO_SK:-}" ]; then
  for tool in racecheck synccheck; do
    [ $(left) -gt 9 ] || { say "compute-sanitizer $tool skipped (time)"; continue; }
    timeout 7 compute-sanitizer --tool $tool $FC/fp8_check sanitize > $D/sanitize_$tool.txt 2>&1
    rc=$?; say "compute-sanitizer $tool rc=$rc: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $D/sanitize_$tool.txt | head -1)"
    [ $rc -eq 0 ] || VERDICT=FAIL
  done
fi

# 7. where a block's time goes (first tile or piece per block: K loop clocks, the owners' wait + adds + stores)
if [ -x $FC/fp8_check ] && [ $(left) -gt 8 ]; then
  timeout 4 $FC/fp8_check trace3 > $D/fp8_trace3.txt 2>&1
  say "fp8_check trace3 rc=$?"; grep -E '^trace3|failed' $D/fp8_trace3.txt | tee -a $D/summary.txt
fi

# 8. ncu of the worst row: where the default's and the groups' time goes, and the peer's kernel beside them (clocks not
# locked: the SM frequency each kernel runs at under its own power draw is part of the answer)
NCU_GREP='Duration|SM Frequency|Compute \(SM\) Throughput|Memory Throughput|DRAM Throughput|L2 Cache Throughput|L2 Hit Rate|L1/TEX Hit|Mem Busy|Max Bandwidth|Executed Ipc A|highest-utilized|Registers Per|Grid Size|Dynamic Shared'
ncu_one() { # label, then the command
  local label=$1; shift
  [ $(left) -gt 7 ] || { say "ncu $label skipped (time)"; return; }
  timeout $(($(left) - 2 < 10 ? $(left) - 2 : 10)) ncu --clock-control none --section SpeedOfLight --section MemoryWorkloadAnalysis \
    --section ComputeWorkloadAnalysis --section LaunchStats "$@" > $D/ncu_$label.txt 2>&1
  say "ncu $label rc=$?"
  grep -E "$NCU_GREP" $D/ncu_$label.txt | sed 's/  */ /g' | head -18 | tee -a $D/summary.txt
}
if command -v ncu > /dev/null && [ -x $FC/fp8_check ]; then
  [ -z "${FP8_CHECK_NO_SK:-}" ] && ncu_one sk4_512x4096x11008 -k regex:qn_k_fp8_tma --launch-skip 3 -c 1 $FC/fp8_check one 512 4096 11008 4
fi

{
  echo "== fp816 summary ($VERDICT): smoke, fp8_pair (unmet rows, interleaved with _scaled_mm), conformance (default SK 4, SK=3, SK=0), fp8_check check, fp8_pair all rows, trace3, sanitizers, ncu"
  grep -E 'cases wrong' $D/fp8_check.txt 2> /dev/null
  grep -hE '   pair$' $D/pair_unmet.txt 2> /dev/null
} | tee -a $D/summary.txt
pack
say "done"
