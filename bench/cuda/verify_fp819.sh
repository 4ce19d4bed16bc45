#!/bin/bash
# verify_fp819.sh — device checks of fp819's FP8 x FP8 GEMM work (kernels_cuda/matmul_fp8_wg.cu), < 55 s: the
# ping-pong consumers (qn_k_fp8_tma PP: each consumer warpgroup owns whole 128x128 tiles, both wgmma operands from
# shared memory, so one warpgroup's epilogue runs under the other's K loop; QUANTA_CUDA_FP8_PP=1 where its pick takes
# the shape, 2 on every call; off) against the default (SK unset = 4), SS 128x128 cooperative (s128: the same tile
# and bytes, both warpgroups on one tile) and torch._scaled_mm, timed INTERLEAVED in one process
# (bench/cuda/fp8_pair.py loads our GEMM as libqnfp8.so beside torch); and the cooperative SS form with its epilogue
# split (OE: a tile's outputs scaled into registers at its end, their stores issued one chunk per K stage of the next
# tile; QUANTA_CUDA_FP8_OE=1, off). Replaces verify_fp817.sh / verify_fp818.sh.
# Run after bench/e2e/run_h200.sh has built Quanta:
#   VERIFY=bench/cuda/verify_fp819.sh bash bench/e2e/run_h200.sh build files verify
# fp8_check and libqnfp8.so come from bench/cuda/prebuild_fp8.sh (/tmp/prebuild/fp8). Every step has its own
# timeout (a flag mistake hangs), later steps skipped when late. Deciding steps first:
#   1. fp8_check sanitize (small cases, every form; the ping-pong form on 132 / 1 / 3 SMs and in clusters of 2, its
#      bits against SS 128x128's: must be equal);
#   2. fp8_pair: the six rows under 0.9x in call 1 (08:30) + two passing rows (sk4 = the default, ss = sk4's route in
#      fp818's SS form, oes = the same with OE's split epilogue: QUANTA_CUDA_FP8_OE=1's route, ss0 / oe = 0ts in SS
#      without / with OE, no groups: OE on every row); the ping-pong forms (pp, ppw, pps) were timed in call 2 (09:30);
#   3. conformance of the e4m3 matmuls through the engine: PP=1 (the switch as shipped: the K-major copy made at
#      prepare time, the pick), SS=1 + PP=2 (the form on every call), OE=1;
#   4. fp8_check trace3 with FP8_CHECK_PP=1 (0ts; the ping-pong form's warpgroup 0 tile: K loop clocks per 64 of K
#      against its 256 floor, epilogue; in clusters of 2; its last tile; 0ts with STM; 0ts SS with OE);
#   5. fp8_check check: y within its bound of the float64 reference (NaN-poisoned), every form, PP bits;
#   6. fp8_pair on all 30 rows (sk4, ss, oes; the peer interleaved);
#   7. compute-sanitizer racecheck / synccheck of the small cases;
#   8. ncu (one warm launch) of the ping-pong form at 4096 x 13824 x 5120.
# Without libqnfp8.so or torch: fp8_check time5 (ours alone).
# Everything goes to $OUT/fp819/ (summary.txt: the numbers to decide with).
set -u
cd "$(dirname "$0")/../.." # the repository root
export PATH=$PATH:/usr/local/cuda/bin
. bench/common/verifylib.sh fp819 54
Q=${QUANTA:-/tmp/qbuild/tools/quanta}
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm --format=csv,noheader 2>&1)"
FC=/tmp/prebuild/fp8
cp $FC/build.log $D/prebuild.log 2> /dev/null
[ -x $FC/fp8_check ] || { say "no prebuilt fp8_check: $(tail -2 $FC/build.log 2> /dev/null | tr '\n' ' ')"; VERDICT=FAIL; }
PAIR=0
[ -f $FC/libqnfp8.so ] && python3 -c 'import torch' 2> /dev/null && PAIR=1
# call 2 (09:30) decided the ping-pong form (off: its 128x128 K loop fed at ~43 B/clock/SM); OE's round 2 is timed
FORMS=sk4,ss,oes,ss0,oe
SMOKE=0

if [ -x $FC/fp8_check ]; then
  # 1. small cases first: a deadlocked or wrong form shows in seconds, before the timings
  timeout 10 $FC/fp8_check sanitize > $D/fp8_smoke.txt 2>&1
  rc=$?; SMOKE=$rc; say "fp8_check sanitize (smoke: every form on 70 x 150 x 192 and 300 x 256 x 320, ping-pong included) rc=$rc"
  [ $rc -eq 0 ] || { VERDICT=FAIL; FORMS=sk4,ss,ss0; say "ping-pong and OE left out of the timings (smoke failed)"; }
  grep -E '^check|fp8_check:' $D/fp8_smoke.txt | sed 's/; e4m3 x costs.*against the unquantized x//' | tee -a $D/summary.txt
fi

# 2. the deciding rows, ours and the peer interleaved
if [ $PAIR = 1 ]; then
  FP8_PAIR_REPS=5 timeout 16 python3 bench/cuda/fp8_pair.py $FC/libqnfp8.so fp819 $FORMS > $D/pair_fp819.txt 2>&1
  say "fp8_pair fp819 rows rc=$?"; tee -a $D/summary.txt < $D/pair_fp819.txt
elif [ -x $FC/fp8_check ]; then
  say "no libqnfp8.so or torch: fp8_check time5 (ours alone)"
  FP8_CHECK_REPS=3 timeout 12 $FC/fp8_check time5 $D/fp8_time5.csv > $D/fp8_time5.txt 2>&1
  say "fp8_check time5 rc=$?"; grep -vE '^fp8_check: seed' $D/fp8_time5.txt | tee -a $D/summary.txt
fi

# 3. conformance through the engine (quantizer + GEMM)
if [ -x $Q ] && [ $SMOKE -eq 0 ]; then
  . bench/cuda/fp8_conform_cases.sh
  fp8_cases $Q
  say "conformance cases: $((${#ALL[@]} / 2)) (PP=1: the switch as shipped; SS=1 + PP=2: the ping-pong form on every call; OE=1)"
  CONFORM_S=6 conform pp1 QUANTA_CUDA_FP8_PP=1 -- "${ALL[@]}"
  CONFORM_S=6 conform pp2 QUANTA_CUDA_FP8_SS=1 QUANTA_CUDA_FP8_PP=2 -- "${ALL[@]}"
  CONFORM_S=6 conform oe QUANTA_CUDA_FP8_OE=1 -- "${ALL[@]}"
else
  say "no $Q or smoke failed: conformance skipped"; VERDICT=incomplete
fi

# 4. where a block's time goes: the ping-pong form's K loop alone on the tensor pipe, its epilogue under the other's
if [ -x $FC/fp8_check ] && [ $SMOKE -eq 0 ] && [ $(left) -gt 10 ]; then
  FP8_CHECK_PP=1 timeout 8 $FC/fp8_check trace3 > $D/fp8_trace3.txt 2>&1
  say "fp8_check trace3 (FP8_CHECK_PP=1) rc=$?"; grep -E '^trace3|failed' $D/fp8_trace3.txt | tee -a $D/summary.txt
fi

# 5. against the float64 reference
if [ -x $FC/fp8_check ] && [ $(left) -gt 20 ]; then
  timeout 10 $FC/fp8_check check > $D/fp8_check.txt 2>&1
  rc=$?; say "fp8_check check (against the reference; every form; ping-pong bits against SS 128x128) rc=$rc"
  [ $rc -eq 0 ] || { [ $rc -eq 124 ] && [ $VERDICT = ok ] && VERDICT=incomplete; } || VERDICT=FAIL
  grep -E 'ping-pong|cases wrong|launch|fp8_check:' $D/fp8_check.txt | sed 's/; e4m3 x costs.*against the unquantized x//' | tee -a $D/summary.txt
fi

# 6. every row, the peer interleaved (sk4 = the default; ss = SS=1's route; oes = OE=1's)
if [ $PAIR = 1 ] && [ $(left) -gt 14 ]; then
  F=sk4,ss,oes; [ $SMOKE -eq 0 ] || F=sk4
  FP8_PAIR_REPS=3 timeout $(($(left) - 8 < 10 ? $(left) - 8 : 10)) python3 bench/cuda/fp8_pair.py $FC/libqnfp8.so all $F > $D/pair_all.txt 2>&1
  say "fp8_pair all rows rc=$?"; tee -a $D/summary.txt < $D/pair_all.txt
fi

# 7. compute-sanitizer on the small cases (every form)
if [ -x $FC/fp8_check ] && command -v compute-sanitizer > /dev/null; then
  for tool in racecheck synccheck; do
    [ $(left) -gt 3 ] || { say "compute-sanitizer $tool skipped (time)"; continue; }
    timeout $(($(left) - 1 < 6 ? $(left) - 1 : 6)) compute-sanitizer --tool $tool $FC/fp8_check sanitize > $D/sanitize_$tool.txt 2>&1
    rc=$?; say "compute-sanitizer $tool rc=$rc: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $D/sanitize_$tool.txt | head -1)"
    [ $rc -eq 0 ] || [ $rc -eq 124 ] || VERDICT=FAIL # 124: cut by the time left, not a finding
  done
fi

# 8. ncu of the ping-pong form on the largest row (clocks not locked, as call 1's of the default)
NCU_GREP='Duration|SM Frequency|Compute \(SM\) Throughput|Memory Throughput|DRAM Throughput|L2 Cache Throughput|L2 Hit Rate|L1/TEX Hit|Mem Busy|Max Bandwidth|Executed Ipc A|highest-utilized|Registers Per|Grid Size|Dynamic Shared'
if command -v ncu > /dev/null && [ -x $FC/fp8_check ] && [ $SMOKE -eq 0 ] && [ $(left) -gt 6 ]; then
  FP8_CHECK_PP=1 timeout $(($(left) - 2 < 10 ? $(left) - 2 : 10)) ncu --clock-control none --section SpeedOfLight \
    --section MemoryWorkloadAnalysis --section ComputeWorkloadAnalysis --section LaunchStats -k regex:qn_k_fp8_tma \
    --launch-skip 3 -c 1 $FC/fp8_check one 4096 13824 5120 > $D/ncu_pp_4096x13824x5120.txt 2>&1
  say "ncu pp_4096x13824x5120 rc=$?"
  grep -E "$NCU_GREP" $D/ncu_pp_4096x13824x5120.txt | sed 's/  */ /g' | head -18 | tee -a $D/summary.txt
fi

{
  echo "== fp819 summary ($VERDICT): smoke, fp8_pair (fp819 rows, interleaved with _scaled_mm), conformance (PP=1, SS=1 + PP=2, OE=1), trace3, fp8_check check, fp8_pair all rows, sanitizers, ncu"
  grep -E 'cases wrong' $D/fp8_check.txt 2> /dev/null
  grep -hE '   pair$' $D/pair_fp819.txt 2> /dev/null
} | tee -a $D/summary.txt
pack
say "done"
