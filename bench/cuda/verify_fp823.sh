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
# Round 2 (call 3, after call 2's answer: the ping-pong tile's wgmma alone run at 408 clocks per 64 of K, its copies
# alone at 267, every pair slower than the tile alone; ppt 0.51-0.65 of the peer: PP stays off). Every step has its own
# timeout, later steps skipped when late. Deciding steps first:
#   1. fp8_check trace4 again, with the cooperative SS tiles with direct stores (s128d, c128td, s256d) whole and without
#      copies: whether two warpgroups' n128 wgmma reach the floor without copies (then the 128x128 limit
#      is the copies and the wgmma together in one SM), and the 128x256 tile's two sides;
#   2. fp8_check sanitize (smoke: every form, ppt and c128t bit for bit against SS 128x128);
#   3. fp8_pair, 7 rounds, the long rows and neighbours: km = the default, kmo = QUANTA_CUDA_FP8_SKCL=2 (the last partial
#      round of 128x256 tiles as cluster groups: the tail, 5-7% of these rows), kmb = km again;
#   4. fp8_pair all 30 rows (km, kmb; 3 rounds): the target "every row >= 0.9 in one run" (call 2: met, min 0.90);
#   5. the SASS of the ping-pong, cooperative 128x128 and 128x256 SS kernels' K loops (cuobjdump on the device: HGMMA,
#      WARPGROUP.ARRIVE / DEPBAR, SYNCS), for the next session's reading of the 408 clocks;
#   6. fp8_check check; conformance with QUANTA_CUDA_FP8_PP=4; compute-sanitizer synccheck if time is left.
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
  timeout 16 $FC/fp8_check trace4 > $D/trace4.txt 2>&1
  say "fp8_check trace4 (pp / ppw / ppt and s128d / c128td / s256d: whole, no copies; km256, s128, sw128, c128t) rc=$?"
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

# 3. the long rows and neighbours, ours and the peer interleaved (deciding for SKCL=2), then every row (the target)
if [ $PAIR = 1 ]; then
  R="4096,11008,4096;4096,13824,5120;2048,11008,4096;2048,5120,5120;4096,5120,5120;4096,4096,11008;2048,13824,5120"
  FP8_PAIR_REPS=7 timeout 12 python3 bench/cuda/fp8_pair.py $FC/libqnfp8.so "$R" km,kmo,kmb > $D/pair_rows.txt 2>&1
  say "fp8_pair long rows (km = default, kmo = SKCL=2, kmb = km again; 7 rounds) rc=$?"
  tee -a $D/summary.txt < $D/pair_rows.txt
  pack
  FP8_PAIR_REPS=3 timeout 9 python3 bench/cuda/fp8_pair.py $FC/libqnfp8.so all km,kmb > $D/pair_all.txt 2>&1
  say "fp8_pair all rows (km, kmb; 3 rounds) rc=$?"; tee -a $D/summary.txt < $D/pair_all.txt
  pack
elif [ -x $FC/fp8_check ]; then
  say "no libqnfp8.so or torch: fp8_pair skipped"
fi

# 3b. the K loops' instructions as NVIDIA's compiler wrote them (for the reading of the 408 clocks)
if command -v cuobjdump > /dev/null && [ -f $FC/libqnfp8.so ] && [ $(left) -gt 12 ]; then
  for k in '_Z12qn_k_fp8_tmaILi2ELi128ELi1ELi1ELi0ELi0ELi1ELi1ELi0EEv10qn_f8_args14CUtensorMap_stS1_S1_' \
           '_Z12qn_k_fp8_tmaILi2ELi128ELi1ELi1ELi0ELi0ELi1ELi0ELi0EEv10qn_f8_args14CUtensorMap_stS1_S1_' \
           '_Z12qn_k_fp8_tmaILi2ELi256ELi1ELi1ELi0ELi0ELi1ELi0ELi1EEv10qn_f8_args14CUtensorMap_stS1_S1_'; do
    timeout 4 cuobjdump -sass -fun "$k" $FC/libqnfp8.so > $D/sass_$(echo $k | cut -c24-60).txt 2>&1
  done
  gzip -f $D/sass_*.txt 2> /dev/null
  say "cuobjdump: $(ls $D/sass_* 2> /dev/null | wc -l) kernels (pp, s128 with the TMA store, km256 OE) in sass_*.txt.gz"
  for f in $D/sass_*.txt.gz; do
    say "$(basename $f): $(zcat $f | grep -cE 'HGMMA') HGMMA, $(zcat $f | grep -cE 'WARPGROUP.DEPBAR') WARPGROUP.DEPBAR, $(zcat $f | grep -cE 'WARPGROUP.ARRIVE') WARPGROUP.ARRIVE, $(zcat $f | grep -cE 'SYNCS') SYNCS"
  done
  pack
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

# 7. sanitizers of the small cases
if [ -x $FC/fp8_check ] && command -v compute-sanitizer > /dev/null; then
  for tool in synccheck; do
    [ $(left) -gt 3 ] || { say "compute-sanitizer $tool skipped (time)"; continue; }
    timeout $(($(left) - 1 < 8 ? $(left) - 1 : 8)) compute-sanitizer --tool $tool $FC/fp8_check sanitize > $D/sanitize_$tool.txt 2>&1
    rc=$?; say "compute-sanitizer $tool rc=$rc: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $D/sanitize_$tool.txt | head -1)"
    [ $rc -eq 0 ] || [ $rc -eq 124 ] || VERDICT=FAIL # 124: cut by the time left, not a finding
  done
fi

{
  echo "== fp823 summary ($VERDICT), round 2: trace4 (+ the cooperative tiles' two sides), smoke, fp8_pair long rows (km / kmo / kmb) and all rows, SASS, check, conformance PP=4, synccheck"
  grep -E 'cases wrong' $D/fp8_check.txt 2> /dev/null
  grep -hE '   pair$' $D/pair_rows.txt 2> /dev/null
} | tee -a $D/summary.txt
pack
say "done"
