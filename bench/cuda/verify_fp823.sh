#!/bin/bash
# verify_fp823.sh — device checks of fp823's question on the FP8 GEMM's long rows (2048 / 4096 x 11008 x 4096, 4096 x
# 13824 x 5120 at 0.85-0.91 of _scaled_mm): why our 128x128 ping-pong tile (fp819) runs at ~380 clocks per 64 of K where
# cuBLASLt's 128x128 tile in 1x2 clusters runs at ~95% of the tensor rate, and whether the tile in pairs along the
# weights with the token box multicast (ppt: qn_k_fp8_tma PP with CL 2, TOK 0; QUANTA_CUDA_FP8_PP=3 / 4, off) closes
# it. < 55 s given the builds. Replaces verify_fp822.sh (its decision is made: SKCL=1 is the default since session 22).
# Flip rule and prediction: bench/NOTES.md section 6, fp823.
# Run after bench/e2e/run_h200.sh has built Quanta (/tmp/qbuild) and bench/cuda/prebuild_fp8.sh has built fp8_check and
# libqnfp8.so (/tmp/prebuild/fp8):
#   VERIFY=bench/cuda/verify_fp823.sh bash bench/e2e/run_h200.sh build files verify
# Every step has its own timeout, later steps skipped when late. Deciding steps first:
#   1. fp8_check trace4 (the diagnosis: pp / ppw / ppt whole, without copies, without wgmma; clocks per 64 of K of
#      warpgroup 0's first tile, beside the default's 128x256 and the cooperative 128x128 alone / in either pair) on
#      four long rows;
#   2. fp8_check sanitize (smoke: small cases, every form, ppt bit for bit against SS 128x128);
#   3. fp8_pair, 6 rounds, the long rows and neighbours interleaved with _scaled_mm: km = the default route, pp / ppw /
#      ppt = the ping-pong tile alone / pairs multicasting the weights / pairs multicasting the tokens, c128t = the
#      cooperative 128x128 in ppt's pairs, kmb = km again (the noise floor);
#   4. fp8_check check (12 cases; "cases wrong" must be 0 — one output of 512 x 4096 x 512 sits at the bound's edge in
#      every form since fp822);
#   5. conformance of the e4m3 matmuls through the engine with QUANTA_CUDA_FP8_PP=4 (ppt on every GEMM call);
#   6. ncu of ppt and pp at 4096 x 11008 x 4096 (pipes, L2, shared memory, issue) and all 30 rows (km, ppt) if time is left;
#   7. compute-sanitizer synccheck / racecheck of the small cases if time is left.
# Everything goes to $OUT/fp823/ (summary.txt: the numbers to decide with).
set -u
cd "$(dirname "$0")/../.." # the repository root
export PATH=$PATH:/usr/local/cuda/bin
. bench/common/verifylib.sh fp823 54
Q=${QUANTA:-/tmp/qbuild/tools/quanta}
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm --format=csv,noheader 2>&1)"
FC=/tmp/prebuild/fp8
cp $FC/build.log $D/prebuild.log 2> /dev/null
[ -x $FC/fp8_check ] || { say "no prebuilt fp8_check: $(tail -2 $FC/build.log 2> /dev/null | tr '\n' ' ')"; VERDICT=FAIL; }
PAIR=0
[ -f $FC/libqnfp8.so ] && python3 -c 'import torch' 2> /dev/null && PAIR=1
SMOKE=1

# 1. the diagnosis (deciding): which side of the 128x128 K loop is the limit, and what each pair does to it
if [ -x $FC/fp8_check ]; then
  timeout 12 $FC/fp8_check trace4 > $D/trace4.txt 2>&1
  say "fp8_check trace4 (pp / ppw / ppt: whole, no copies, no wgmma; km256) rc=$?"
  grep -E '^trace4' $D/trace4.txt | sed -E 's/^trace4 //; s/ blocks; traced tile: first stage [0-9.]+ us,/ blk;/' | tee -a $D/summary.txt
  pack
fi

# 2. small cases (a pair whose barriers hang or whose multicast lands wrong shows in seconds)
if [ -x $FC/fp8_check ]; then
  timeout 9 $FC/fp8_check sanitize > $D/fp8_smoke.txt 2>&1
  rc=$?; SMOKE=$rc; say "fp8_check sanitize (smoke: every form; ppt bit for bit against SS 128x128) rc=$rc"
  [ $rc -eq 0 ] || VERDICT=FAIL
  grep -E 'ping-pong|fp8_check:|launch' $D/fp8_smoke.txt | tee -a $D/summary.txt
  pack
fi

# 3. the long rows and neighbours, ours and the peer interleaved (deciding)
if [ $PAIR = 1 ]; then
  F=km,pp,ppw,ppt,c128t,kmb; [ $SMOKE -eq 0 ] || F=km,pp,kmb
  R="4096,11008,4096;4096,13824,5120;2048,11008,4096;2048,5120,5120;4096,5120,5120;4096,4096,11008;2048,13824,5120"
  FP8_PAIR_REPS=6 timeout 14 python3 bench/cuda/fp8_pair.py $FC/libqnfp8.so "$R" $F > $D/pair_rows.txt 2>&1
  say "fp8_pair long rows (km = default, pp / ppw / ppt = ping-pong alone / pairs along the tokens / along the weights, c128t = cooperative 128x128 in ppt's pairs, kmb = km again) rc=$?"
  tee -a $D/summary.txt < $D/pair_rows.txt
  pack
elif [ -x $FC/fp8_check ]; then
  say "no libqnfp8.so or torch: fp8_pair skipped"
fi

# 4. the check cases
if [ -x $FC/fp8_check ] && [ $SMOKE -eq 0 ] && [ $(left) -gt 6 ]; then
  timeout $(($(left) - 2 < 13 ? $(left) - 2 : 13)) $FC/fp8_check check > $D/fp8_check.txt 2>&1
  rc=$?; say "fp8_check check (12 cases against the float64 reference; ppt) rc=$rc"
  [ $rc -eq 0 ] || { [ $rc -eq 124 ] && [ $VERDICT = ok ] && VERDICT=incomplete; } || VERDICT=FAIL
  grep -E 'cases wrong|launch|ping-pong' $D/fp8_check.txt | tee -a $D/summary.txt
  pack
fi

# 5. conformance through the engine: ppt on every GEMM call
if [ -x $Q ] && [ $SMOKE -eq 0 ]; then
  . bench/cuda/fp8_conform_cases.sh
  fp8_cases $Q
  say "conformance cases: $((${#ALL[@]} / 2)) (QUANTA_CUDA_FP8_PP=4)"
  CONFORM_S=7 conform ppt QUANTA_CUDA_FP8_PP=4 -- "${ALL[@]}"
  pack
elif [ ! -x $Q ]; then
  say "no $Q: conformance skipped"; [ $VERDICT = ok ] && VERDICT=incomplete
fi

# 6. ncu of ppt and pp on a long row (fp8_check one: 4 launches, the 4th profiled; clocks not locked, as fp822's), then
# every row
NCU_GREP='\)x\(|Duration|SM Frequency|Compute \(SM\) Throughput|Memory Throughput|DRAM Throughput|L2 Cache Throughput|L2 Hit Rate|Executed Ipc A|Issue Slots Busy|highest-utilized|Registers Per|Grid Size|Cluster Size|Dynamic Shared|Shared Memory'
for v in 3 1; do
  if command -v ncu > /dev/null && [ -x $FC/fp8_check ] && [ $SMOKE -eq 0 ] && [ $(left) -gt 8 ]; then
    FP8_CHECK_PP=$v timeout 7 ncu --clock-control none --section SpeedOfLight --section MemoryWorkloadAnalysis \
      --section ComputeWorkloadAnalysis --section LaunchStats -k regex:qn_k_fp8_tma --launch-skip 3 -c 1 \
      $FC/fp8_check one 4096 11008 4096 > $D/ncu_pp$v.txt 2>&1
    say "ncu $([ $v = 3 ] && echo ppt || echo pp) 4096x11008x4096 rc=$?"
    grep -E "$NCU_GREP" $D/ncu_pp$v.txt | sed 's/  */ /g' | head -22 | tee -a $D/summary.txt
    pack
  fi
done
if [ $PAIR = 1 ] && [ $SMOKE -eq 0 ] && [ $(left) -gt 10 ]; then
  FP8_PAIR_REPS=3 timeout 8 python3 bench/cuda/fp8_pair.py $FC/libqnfp8.so all km,ppt > $D/pair_all.txt 2>&1
  say "fp8_pair all rows rc=$?"; tee -a $D/summary.txt < $D/pair_all.txt
  pack
fi

# 7. sanitizers of the small cases
if [ -x $FC/fp8_check ] && command -v compute-sanitizer > /dev/null; then
  for tool in synccheck racecheck; do
    [ $(left) -gt 3 ] || { say "compute-sanitizer $tool skipped (time)"; continue; }
    timeout $(($(left) - 1 < 8 ? $(left) - 1 : 8)) compute-sanitizer --tool $tool $FC/fp8_check sanitize > $D/sanitize_$tool.txt 2>&1
    rc=$?; say "compute-sanitizer $tool rc=$rc: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $D/sanitize_$tool.txt | head -1)"
    [ $rc -eq 0 ] || [ $rc -eq 124 ] || VERDICT=FAIL # 124: cut by the time left, not a finding
  done
fi

{
  echo "== fp823 summary ($VERDICT): trace4 (the 128x128 K loop's limit), smoke, fp8_pair long rows (+ all rows), check, conformance PP=4, ncu ppt, sanitizers"
  grep -E 'cases wrong' $D/fp8_check.txt 2> /dev/null
  grep -hE '   pair$' $D/pair_rows.txt 2> /dev/null
} | tee -a $D/summary.txt
pack
say "done"
