#!/bin/bash
# verify_fp820.sh — device checks of fp820's one e4m3 weight layout (QUANTA_CUDA_FP8_KM=1, off: the codes K-major only,
# read by the decode GEMV's K-major form in kernels_cuda/matmul_q.cu and by the FP8 GEMM's SS forms in
# kernels_cuda/matmul_fp8_wg.cu, with OE's split epilogue where every block has >= 2 tiles; 1x the device bytes,
# where SS / OE needed a second copy), < 55 s given the builds. Flip rule: bench/NOTES.md section 6, fp820.
# Run after bench/e2e/run_h200.sh has built Quanta (/tmp/qbuild) and bench/cuda/prebuild_fp8.sh has built fp8_check and
# libqnfp8.so (/tmp/prebuild/fp8):
#   VERIFY=bench/cuda/verify_fp820.sh bash bench/e2e/run_h200.sh build files verify
# Every step has its own timeout, later steps skipped when late. Deciding steps first:
#   1. fp8_check sanitize (smoke: small cases, every form; the K-major-only weight through the GEMM's routes, bits
#      against SS's: must be equal; the decode GEMV tiled and K-major against the reference), then fp8_check check (the
#      same on the 12 check cases; "cases wrong" must be 0);
#   2. conformance of the e4m3 matmuls through the engine with QUANTA_CUDA_FP8_KM=1 (prepare writes the K-major codes
#      only: the GEMV at M < 64 and the GEMM at M >= 64 both read them);
#   3. fp8_check gemv: the decode GEMV on 8 LLaMA-7B/13B decode shapes at M = 1, 2, 4, 8, 16, 48, tiled vs K-major codes,
#      interleaved (the rule: K-major / tiled <= 1.01 on every shape);
#   4. fp8_pair on the fp820 rows (the seven under 0.9x + three met): sk4 = the default (sk4b: again, the noise floor), km = the route on K-major-only
#      codes (KM=1's), kmn = km without OE, kml = km with the groups' owner piece 3 stages longer (QUANTA_CUDA_FP8_LEAD=1,
#      off: item 2), the peer interleaved;
#   4b. fp8_pair on the three small-grid rows: the routes on K-major codes (groups, round-robin, stream-K, shared
#      reduction, 128x128, 128x192) side by side, for item 2 (the grids);
#   5. fp8_pair on all 30 rows (sk4, km);
#   5a. conformance with KM=1 + LEAD=1 + SK=3 (the lead's pieces through the engine);
#   5b. fp8_check trace3 in the SS form (the three small-grid rows + 4096 x 13824 x 5120: where a block's time goes);
#   6. if time is left: Gemma 270M requantized to fp8: weights_bytes, pp512 and tg with KM=0 / KM=1 / SS=1 (the
#      second copy's bytes for comparison) and greedy text KM=0 vs KM=1;
#   7. compute-sanitizer racecheck / synccheck of the small cases.
# Everything goes to $OUT/fp820/ (summary.txt: the numbers to decide with).
# Session 20's final call (after call 2 decided KM off: the GEMV 3-14% slower at M <= 8): FP8_820_FULL unset runs
# only smoke, conformance KM=1, the GEMV (tiled vs K-major) and the groups rows (sk4 / sk4l = the default with the
# owner's lead / sk4b, km / kml; 7 rounds: QUANTA_CUDA_FP8_LEAD for the next session), then the sanitizers;
# FP8_820_FULL=1 runs every step as in call 2.
set -u
cd "$(dirname "$0")/../.." # the repository root
FULL=${FP8_820_FULL:-0}
export PATH=$PATH:/usr/local/cuda/bin
. bench/common/verifylib.sh fp820 54
Q=${QUANTA:-/tmp/qbuild/tools/quanta}
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm --format=csv,noheader 2>&1)"
FC=/tmp/prebuild/fp8
cp $FC/build.log $D/prebuild.log 2> /dev/null
[ -x $FC/fp8_check ] || { say "no prebuilt fp8_check: $(tail -2 $FC/build.log 2> /dev/null | tr '\n' ' ')"; VERDICT=FAIL; }
PAIR=0
[ -f $FC/libqnfp8.so ] && python3 -c 'import torch' 2> /dev/null && PAIR=1
SMOKE=1

# 1. small cases first (a wrong layout or a hang shows in seconds), then the check cases
if [ -x $FC/fp8_check ]; then
  timeout 10 $FC/fp8_check sanitize > $D/fp8_smoke.txt 2>&1
  rc=$?; SMOKE=$rc; say "fp8_check sanitize (smoke: every form; K-major-only routes bits vs SS; decode GEMV tiled / K-major) rc=$rc"
  [ $rc -eq 0 ] || VERDICT=FAIL
  grep -E 'K-major|fp8_check:|launch' $D/fp8_smoke.txt | tee -a $D/summary.txt
  if [ $FULL = 1 ]; then
    timeout 12 $FC/fp8_check check > $D/fp8_check.txt 2>&1
    rc=$?; say "fp8_check check (12 cases against the float64 reference; K-major-only routes; decode GEMV) rc=$rc"
    [ $rc -eq 0 ] || { [ $rc -eq 124 ] && [ $VERDICT = ok ] && VERDICT=incomplete; } || VERDICT=FAIL
    grep -E 'K-major|cases wrong|launch' $D/fp8_check.txt | tee -a $D/summary.txt
  fi
fi

# 2. conformance through the engine with the switch
if [ -x $Q ]; then
  . bench/cuda/fp8_conform_cases.sh
  fp8_cases $Q
  say "conformance cases: $((${#ALL[@]} / 2)) (QUANTA_CUDA_FP8_KM=1: K-major codes only, GEMV and GEMM)"
  CONFORM_S=8 conform km1 QUANTA_CUDA_FP8_KM=1 -- "${ALL[@]}"
else
  say "no $Q: conformance skipped"; [ $VERDICT = ok ] && VERDICT=incomplete
fi

# 3. the decode GEMV, tiled vs K-major, interleaved
if [ -x $FC/fp8_check ] && [ $SMOKE -eq 0 ]; then
  FP8_CHECK_REPS=2 timeout 8 $FC/fp8_check gemv > $D/fp8_gemv.txt 2>&1
  rc=$?; say "fp8_check gemv (decode GEMV, tiled vs K-major) rc=$rc"
  [ $rc -eq 0 ] || [ $rc -eq 124 ] || VERDICT=FAIL
  grep -E '^gemv' $D/fp8_gemv.txt | tee -a $D/summary.txt
fi

# 4. the deciding rows, ours and the peer interleaved
if [ $PAIR = 1 ] && [ $FULL = 0 ]; then # the rows where sk 4 takes the groups: the owner's lead (kml) against km, sk4 twice
  F=sk4,sk4l,sk4b,km,kml; [ $SMOKE -eq 0 ] || F=sk4,sk4b
  FP8_PAIR_REPS=7 timeout 16 python3 bench/cuda/fp8_pair.py $FC/libqnfp8.so \
    "512,4096,11008;256,5120,5120;2048,5120,5120;2048,11008,4096;1024,5120,13824;1024,13824,5120;256,4096,11008" $F > $D/pair_fp820.txt 2>&1
  say "fp8_pair groups rows rc=$?"; tee -a $D/summary.txt < $D/pair_fp820.txt
elif [ $PAIR = 1 ]; then
  F=sk4,km,kmn,kml,sk4b; [ $SMOKE -eq 0 ] || F=sk4,sk4b
  FP8_PAIR_REPS=5 timeout 14 python3 bench/cuda/fp8_pair.py $FC/libqnfp8.so fp820 $F > $D/pair_fp820.txt 2>&1
  say "fp8_pair fp820 rows rc=$?"; tee -a $D/summary.txt < $D/pair_fp820.txt
elif [ -x $FC/fp8_check ]; then
  say "no libqnfp8.so or torch: fp8_pair skipped"
fi

# 4b. the three rows whose grids leave SMs idle (item 2: 512 x 4096 x 11008, 256 x 5120^2, 2048 x 5120^2): the routes on
# K-major codes side by side (km = the groups where their model takes them, kml = the same with the owner's 3-stage lead
# (QUANTA_CUDA_FP8_LEAD=1), km0 = round-robin, km2 = stream-K, km5 / kml5 = groups with the shared reduction without /
# with the lead, km128 / km192 = 0ts with that tile), to choose KM's route there from
if [ $FULL = 1 ] && [ $PAIR = 1 ] && [ $SMOKE -eq 0 ] && [ $(left) -gt 16 ]; then
  FP8_PAIR_REPS=5 timeout 8 python3 bench/cuda/fp8_pair.py $FC/libqnfp8.so "512,4096,11008;256,5120,5120;2048,5120,5120" \
    km,kml,km0,km2,km5,kml5,km128,km192 > $D/pair_grids.txt 2>&1
  say "fp8_pair small-grid rows (KM routes) rc=$?"; tee -a $D/summary.txt < $D/pair_grids.txt
fi

# 5. every row (sk4 = the default; km = KM=1's route)
if [ $FULL = 1 ] && [ $PAIR = 1 ] && [ $SMOKE -eq 0 ] && [ $(left) -gt 10 ]; then
  FP8_PAIR_REPS=3 timeout $(($(left) - 6 < 10 ? $(left) - 6 : 10)) python3 bench/cuda/fp8_pair.py $FC/libqnfp8.so all sk4,km > $D/pair_all.txt 2>&1
  say "fp8_pair all rows rc=$?"; tee -a $D/summary.txt < $D/pair_all.txt
fi

# 5a. conformance of the owner's lead through the engine (SK=3: the groups wherever there is a partial round)
if [ $FULL = 1 ] && [ -x $Q ] && [ $SMOKE -eq 0 ] && [ $(left) -gt 14 ]; then
  CONFORM_S=7 conform lead QUANTA_CUDA_FP8_KM=1 QUANTA_CUDA_FP8_LEAD=1 QUANTA_CUDA_FP8_SK=3 -- "${ALL[@]}"
fi

# 5b. where the small-grid rows' time goes on the SS forms (item 2): trace3 with SS (0ts, the groups as sk 4 takes them,
# 128x192, the last tile): first stage, K loop clocks per 64 of K, epilogue per block
if [ $FULL = 1 ] && [ -x $FC/fp8_check ] && [ $SMOKE -eq 0 ] && [ $(left) -gt 12 ]; then
  FP8_CHECK_SS=1 FP8_CHECK_SK=4 timeout 6 $FC/fp8_check trace3 > $D/fp8_trace3.txt 2>&1
  say "fp8_check trace3 (SS, SK=4) rc=$?"; grep -E '^trace3|failed' $D/fp8_trace3.txt | tee -a $D/summary.txt
fi

# 6. a whole fp8 model: the weights' device bytes, pp / tg and greedy text with the switch off / on
SRC=/tmp/e2e/files/gemma3-270m-q4_k_m.gguf M8=/tmp/fp820_gemma_fp8.gguf
if [ $FULL = 1 ] && [ -x $Q ] && [ -f $SRC ] && [ $SMOKE -eq 0 ] && [ $(left) -gt 16 ]; then
  [ -f $M8 ] || timeout 12 $Q quantize -m $SRC -o $M8 --quant fp8 --keep-embeddings f16 -q > $D/quantize.log 2>&1
  for sw in "QUANTA_CUDA_FP8_KM=0" "QUANTA_CUDA_FP8_KM=1" "QUANTA_CUDA_FP8_SS=1"; do
    [ -f $M8 ] && [ $(left) -gt 8 ] || break
    env $sw timeout 8 $Q bench model -m $M8 -p 512 -n 64 -r 2 --backend cuda --json > $D/model_$sw.json 2> $D/model_$sw.err
    say "fp8 Gemma $sw rc=$?: $(grep -oE '"(pp_tps|tg_tps|weights_bytes)": [0-9.]*' $D/model_$sw.json | tr '\n' ' ')"
  done
  for sw in 0 1; do
    [ -f $M8 ] && [ $(left) -gt 6 ] || break
    QUANTA_CUDA_FP8_KM=$sw timeout 6 $Q generate -m $M8 -p "The capital of France is" -n 24 --backend cuda > $D/gen_km$sw.txt 2> $D/gen_km$sw.err
    say "fp8 Gemma generate KM=$sw rc=$?: $(tr '\n' ' ' < $D/gen_km$sw.txt | head -c 160)"
  done
  [ -s $D/gen_km0.txt ] && [ -s $D/gen_km1.txt ] && say "greedy text KM=0 vs KM=1: $(cmp -s $D/gen_km0.txt $D/gen_km1.txt && echo same || echo differs)"
fi

# 7. compute-sanitizer on the small cases (every form, the K-major ones and the GEMV included)
if [ -x $FC/fp8_check ] && command -v compute-sanitizer > /dev/null; then
  for tool in racecheck synccheck; do
    [ $(left) -gt 3 ] || { say "compute-sanitizer $tool skipped (time)"; continue; }
    timeout $(($(left) - 1 < 8 ? $(left) - 1 : 8)) compute-sanitizer --tool $tool $FC/fp8_check sanitize > $D/sanitize_$tool.txt 2>&1
    rc=$?; say "compute-sanitizer $tool rc=$rc: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $D/sanitize_$tool.txt | head -1)"
    [ $rc -eq 0 ] || [ $rc -eq 124 ] || VERDICT=FAIL # 124: cut by the time left, not a finding
  done
fi

{
  echo "== fp820 summary ($VERDICT): smoke + check (K-major routes, GEMV), conformance KM=1, gemv tiled vs K-major, fp8_pair (fp820 rows, all rows; interleaved with _scaled_mm), fp8 Gemma, sanitizers"
  grep -E 'cases wrong' $D/fp8_check.txt 2> /dev/null
  grep -hE '   pair$' $D/pair_fp820.txt 2> /dev/null
} | tee -a $D/summary.txt
pack
say "done"
