#!/bin/bash
# verify_fp817.sh — device checks of fp817's FP8 x FP8 GEMM work (kernels_cuda/matmul_fp8_wg.cu), <= 48 s (the lead's cut):
# fp816's split-K groups with a shared reduction (QUANTA_CUDA_FP8_SK=5 always, 6 by its model: every piece of a split
# tile adds its peers' sums for a share of the tile and stores that share, no owner reading every slot), against
# today's default (SK unset = 4: fp816's groups where their model takes them), 0ts (SK 0) and torch._scaled_mm, timed
# INTERLEAVED in one process (bench/cuda/fp8_pair.py loads our GEMM as libqnfp8.so beside torch). sk4b is sk4 timed
# twice: the noise floor of a ratio (call 1 read 3% between identical launches as a route's loss). w128: 128x128 in
# clusters of 2 along the tokens multicasting the weights (V2=2tws, existing and checked; the peer's 1x2 cluster).
# stm: QUANTA_CUDA_FP8_STM=1, the TMA-store epilogue's boxes written by stmatrix (y bit-identical, fewer instructions
# in the ~2.6 us a 128x256 tile's epilogue takes while its tensor cores idle). Run
# after bench/e2e/run_h200.sh has built Quanta:
#   VERIFY=bench/cuda/verify_fp817.sh bash bench/e2e/run_h200.sh build files verify
# fp8_check and libqnfp8.so come from bench/cuda/prebuild_fp8.sh (/tmp/prebuild/fp8). Every step has its own
# timeout (a flag mistake hangs), later steps skipped when late. Deciding rows first:
#   1. fp8_check sanitize (small cases, every form; stream-K, groups and the shared reduction on 132 / 3 / 5 / 7 SMs);
#   2. fp8_pair: the eight rows under 0.9x in the 02:25 call (sk4 = the default, sk4b, sk5, sk6, dflt = SK 0, w128,
#      stm = dflt with the stmatrix epilogue, sk4s = sk4 with it);
#   3. conformance of the e4m3 matmuls through the engine: the default (SK 4), STM=1, SK=5, SK=6 with STM=1;
#   4. fp8_check check: y within its bound of the float64 reference (NaN-poisoned), every split form, flags left zero;
#   5. fp8_pair on all 30 rows (sk4 = the default, sk5, stm; the peer interleaved): the data to fit SK 6's model;
#   6. compute-sanitizer racecheck / synccheck of the small cases;
#   7. fp8_check trace3 with FP8_CHECK_SK=5 (per block, the first tile or piece: K loop, the piece's epilogue; and
#      0ts's last tile per block, with 4096 x 13824 x 5120: the clocks late in a long launch);
#   8. ncu (one warm launch) of SK=5 on 512 x 4096 x 11008 (call 1 has the default's there).
# Without libqnfp8.so or torch: fp8_check time5 (ours alone, FP8_CHECK_SK=5 in its sk column).
# Everything goes to $OUT/fp817/ (summary.txt: the numbers to decide with).
set -u
cd "$(dirname "$0")/../.." # the repository root
export PATH=$PATH:/usr/local/cuda/bin
. bench/common/verifylib.sh fp817 48
Q=${QUANTA:-/tmp/qbuild/tools/quanta}
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm --format=csv,noheader 2>&1)"
FC=/tmp/prebuild/fp8
cp $FC/build.log $D/prebuild.log 2> /dev/null
[ -x $FC/fp8_check ] || { say "no prebuilt fp8_check: $(tail -2 $FC/build.log 2> /dev/null | tr '\n' ' ')"; VERDICT=FAIL; }
PAIR=0
[ -f $FC/libqnfp8.so ] && python3 -c 'import torch' 2> /dev/null && PAIR=1
UNMET_FORMS=sk4,sk4b,sk5,dflt,w128,stm,sk4s

if [ -x $FC/fp8_check ]; then
  # 1. small cases first: a deadlocked or wrong form shows in seconds, before the timings
  timeout 8 $FC/fp8_check sanitize > $D/fp8_smoke.txt 2>&1
  rc=$?; say "fp8_check sanitize (smoke: every form on 70 x 150 x 192 and 300 x 256 x 320) rc=$rc"
  [ $rc -eq 0 ] || { VERDICT=FAIL; export FP8_CHECK_NO_SK=1; UNMET_FORMS=sk4,sk4b,dflt,w128,stm; say "SK 5 / 6 left out of the timings"; }
  grep -E '^check|fp8_check:' $D/fp8_smoke.txt | sed 's/; e4m3 x costs.*against the unquantized x//' | tee -a $D/summary.txt
fi

# 2. the deciding rows, ours and the peer interleaved
if [ $PAIR = 1 ]; then
  FP8_PAIR_REPS=5 timeout 14 python3 bench/cuda/fp8_pair.py $FC/libqnfp8.so unmet $UNMET_FORMS > $D/pair_unmet.txt 2>&1
  say "fp8_pair unmet rows rc=$?"; tee -a $D/summary.txt < $D/pair_unmet.txt
elif [ -x $FC/fp8_check ]; then
  say "no libqnfp8.so or torch: fp8_check time5 (ours alone)"
  FP8_CHECK_SK=5 FP8_CHECK_REPS=3 timeout 12 $FC/fp8_check time5 $D/fp8_time5.csv > $D/fp8_time5.txt 2>&1
  say "fp8_check time5 rc=$?"; grep -vE '^fp8_check: seed' $D/fp8_time5.txt | tee -a $D/summary.txt
fi

# 3. conformance through the engine (quantizer + GEMM; slots in the scratch, flags in the engine's counters)
if [ -x $Q ]; then
  . bench/cuda/fp8_conform_cases.sh
  fp8_cases $Q
  say "conformance cases: $((${#ALL[@]} / 2)) (the default: SK 4; SK=5 + STM=1, the shared reduction always + the stmatrix epilogue; TW=1)"
  CONFORM_S=6 conform default QUANTA_CUDA_FP8_SK= -- "${ALL[@]}"
  [ -z "${FP8_CHECK_NO_SK:-}" ] && CONFORM_S=6 conform sk5stm QUANTA_CUDA_FP8_SK=5 QUANTA_CUDA_FP8_STM=1 -- "${ALL[@]}"
  CONFORM_S=6 conform tw QUANTA_CUDA_FP8_TW=1 -- "${ALL[@]}"
else
  say "no $Q: conformance skipped"; VERDICT=incomplete
fi

# 4. against the float64 reference
if [ -x $FC/fp8_check ] && [ $(left) -gt 24 ]; then
  timeout 8 $FC/fp8_check check > $D/fp8_check.txt 2>&1
  rc=$?; say "fp8_check check (against the reference; TMA forms compared; 128x192, stream-K, groups, shared reduction) rc=$rc"
  [ $rc -eq 0 ] || { [ $rc -eq 124 ] && [ $VERDICT = ok ] && VERDICT=incomplete; } || VERDICT=FAIL
  grep -E '^check M=[0-9]+ N=[0-9]+ K=[0-9]+ x=|cases wrong|launch|split-K groups|fp8_check:' $D/fp8_check.txt | sed 's/; e4m3 x costs.*against the unquantized x//' | tee -a $D/summary.txt
fi

# 5. every row, the peer interleaved (sk4 = the default; sk5: where the shared reduction wins, to fit SK 6's model)
if [ $PAIR = 1 ] && [ $(left) -gt 16 ]; then
  F=sk4,sk5,stm; [ -n "${FP8_CHECK_NO_SK:-}" ] && F=sk4,stm
  FP8_PAIR_REPS=3 timeout $(($(left) - 10 < 10 ? $(left) - 10 : 10)) python3 bench/cuda/fp8_pair.py $FC/libqnfp8.so all $F > $D/pair_all.txt 2>&1
  say "fp8_pair all rows rc=$?"; tee -a $D/summary.txt < $D/pair_all.txt
fi

# 7. where a block's time goes (first tile or piece per block: K loop clocks, the piece's reduction + stores)
if [ -x $FC/fp8_check ] && [ $(left) -gt 8 ] && [ -z "${FP8_CHECK_NO_SK:-}" ]; then
  FP8_CHECK_SK=5 timeout 6 $FC/fp8_check trace3 > $D/fp8_trace3.txt 2>&1
  say "fp8_check trace3 (SK=5) rc=$?"; grep -E '^trace3|failed' $D/fp8_trace3.txt | tee -a $D/summary.txt
fi

# 6. compute-sanitizer on the small cases (every form)
if [ -x $FC/fp8_check ] && command -v compute-sanitizer > /dev/null && [ -z "${FP8_CHECK_NO_SK:-}" ]; then
  for tool in racecheck synccheck; do
    [ $(left) -gt 3 ] || { say "compute-sanitizer $tool skipped (time)"; continue; }
    timeout $(($(left) - 1 < 6 ? $(left) - 1 : 6)) compute-sanitizer --tool $tool $FC/fp8_check sanitize > $D/sanitize_$tool.txt 2>&1
    rc=$?; say "compute-sanitizer $tool rc=$rc: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $D/sanitize_$tool.txt | head -1)"
    [ $rc -eq 0 ] || [ $rc -eq 124 ] || VERDICT=FAIL # 124: cut by the time left, not a finding
  done
fi

# 8. ncu of the worst row with the shared reduction (clocks not locked, as call 1's of the default)
NCU_GREP='Duration|SM Frequency|Compute \(SM\) Throughput|Memory Throughput|DRAM Throughput|L2 Cache Throughput|L2 Hit Rate|L1/TEX Hit|Mem Busy|Max Bandwidth|Executed Ipc A|highest-utilized|Registers Per|Grid Size|Dynamic Shared'
if command -v ncu > /dev/null && [ -x $FC/fp8_check ] && [ -z "${FP8_CHECK_NO_SK:-}" ] && [ $(left) -gt 6 ]; then
  timeout $(($(left) - 2 < 10 ? $(left) - 2 : 10)) ncu --clock-control none --section SpeedOfLight --section MemoryWorkloadAnalysis \
    --section ComputeWorkloadAnalysis --section LaunchStats -k regex:qn_k_fp8_tma --launch-skip 3 -c 1 \
    $FC/fp8_check one 512 4096 11008 5 > $D/ncu_sk5_512x4096x11008.txt 2>&1
  say "ncu sk5_512x4096x11008 rc=$?"
  grep -E "$NCU_GREP" $D/ncu_sk5_512x4096x11008.txt | sed 's/  */ /g' | head -18 | tee -a $D/summary.txt
fi

{
  echo "== fp817 summary ($VERDICT): smoke, fp8_pair (unmet rows, interleaved with _scaled_mm), conformance (default SK 4, SK=5 + STM, TW), fp8_check check, fp8_pair all rows, trace3, sanitizers, ncu"
  grep -E 'cases wrong' $D/fp8_check.txt 2> /dev/null
  grep -hE '   pair$' $D/pair_unmet.txt 2> /dev/null
} | tee -a $D/summary.txt
pack
say "done"
