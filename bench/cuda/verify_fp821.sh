#!/bin/bash
# verify_fp821.sh — device checks of fp821's decode GEMV on K-major e4m3 codes (kernels_cuda/matmul_q.cu qn_k_mmq_kmw: one
# row tile a block, its warps along K, so each row is read front to back in one run; taken only on K-major codes, i.e.
# under QUANTA_CUDA_FP8_KM=1, off; its form by QUANTA_CUDA_FP8_KMG), and of KM=1's GEMM side beside the default, < 55 s
# given the builds. Replaces verify_fp820.sh (its steps are here: smoke + check, conformance KM=1, GEMV timing, fp8_pair
# fp820 rows and all rows, Gemma fp8, sanitizers). Flip rule: bench/NOTES.md section 6, fp821.
# Run after bench/e2e/run_h200.sh has built Quanta (/tmp/qbuild) and bench/cuda/prebuild_fp8.sh has built fp8_check and
# libqnfp8.so (/tmp/prebuild/fp8):
#   VERIFY=bench/cuda/verify_fp821.sh bash bench/e2e/run_h200.sh build files verify
# Every step has its own timeout, later steps skipped when late. Deciding steps first:
#   1. fp8_check sanitize (smoke: small cases, every GEMM form and the K-major routes' bits against SS's; the decode GEMV
#      tiled and every K-major form (0 = fp820's, 1-7 = fp821's) against the float64 reference);
#   2. fp8_check gemv: the decode GEMV on 8 LLaMA-7B/13B decode shapes at M = 1, 2, 4, 8, 16, 24, 48: tiled (today's
#      default) and the K-major forms km0-km7 interleaved (km7 = the default form, 5 / 6 by M; rule step 2: km7 / tiled
#      <= 1.01 at M = 1..8 on the 7B shapes);
#   3. fp8_check check (the 12 cases; "cases wrong" must be 0);
#   4. conformance of the e4m3 matmuls through the engine with QUANTA_CUDA_FP8_KM=1 (the GEMV's default K-major form at
#      M < 64, the GEMM at M >= 64, both on the K-major codes);
#   5. fp8_pair, 7 rounds, on the fp820 rows + the four where km was > 1% slower than sk4 in call 2 (256 x 13824 x 5120,
#      256 x 5120 x 13824, 256 x 4096 x 11008, 2048 x 4096 x 11008): sk4 = the default, km = KM=1's route, sk4l / kml
#      = them with the groups' owner 3 stages longer (QUANTA_CUDA_FP8_LEAD=1, off), sk4b = the default again (the noise
#      floor), the peer interleaved;
#   6. Gemma 270M requantized to fp8: greedy text KM=0 vs KM=1, then pp512 / tg with KM=0 and KM=1 (the default
#      K-major GEMV form in decode); 6a. km with 128x192 / 128x128 forced on the four rows; 6b. all 30 rows (sk4, km,
#      3 rounds); both if time is left;
#   7. compute-sanitizer racecheck / synccheck of the small cases.
# Everything goes to $OUT/fp821/ (summary.txt: the numbers to decide with). Call 2 (15:09, scratch merge) ran the
# candidates: its outcome and the forms' numbers are in bench/NOTES.md fp821.
set -u
cd "$(dirname "$0")/../.." # the repository root
export PATH=$PATH:/usr/local/cuda/bin
. bench/common/verifylib.sh fp821 54
Q=${QUANTA:-/tmp/qbuild/tools/quanta}
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm --format=csv,noheader 2>&1)"
FC=/tmp/prebuild/fp8
cp $FC/build.log $D/prebuild.log 2> /dev/null
[ -x $FC/fp8_check ] || { say "no prebuilt fp8_check: $(tail -2 $FC/build.log 2> /dev/null | tr '\n' ' ')"; VERDICT=FAIL; }
PAIR=0
[ -f $FC/libqnfp8.so ] && python3 -c 'import torch' 2> /dev/null && PAIR=1
SMOKE=1

# 1. small cases first (a wrong layout or a hang shows in seconds)
if [ -x $FC/fp8_check ]; then
  timeout 10 $FC/fp8_check sanitize > $D/fp8_smoke.txt 2>&1
  rc=$?; SMOKE=$rc; say "fp8_check sanitize (smoke: every form; K-major routes bits vs SS; decode GEMV tiled / K-major forms 0-7) rc=$rc"
  [ $rc -eq 0 ] || VERDICT=FAIL
  grep -E 'decode GEMV|fp8_check:|launch' $D/fp8_smoke.txt | tee -a $D/summary.txt
fi

# 2. the decode GEMV: tiled vs the K-major forms, interleaved (deciding)
if [ -x $FC/fp8_check ]; then
  FP8_CHECK_REPS=3 FP8_CHECK_GEMV_M=1,2,4,8,16,24,48 timeout 12 $FC/fp8_check gemv > $D/fp8_gemv.txt 2>&1
  rc=$?; say "fp8_check gemv (decode GEMV, tiled vs K-major forms km0 = fp820, km1-km7 = fp821 (5-6 PDL, 7 = default)) rc=$rc"
  [ $rc -eq 0 ] || [ $rc -eq 124 ] || VERDICT=FAIL
  grep -E '^gemv' $D/fp8_gemv.txt | tee -a $D/summary.txt
fi

# 3. the check cases
if [ -x $FC/fp8_check ] && [ $SMOKE -eq 0 ]; then
  timeout 14 $FC/fp8_check check > $D/fp8_check.txt 2>&1
  rc=$?; say "fp8_check check (12 cases against the float64 reference; K-major routes; decode GEMV forms) rc=$rc"
  [ $rc -eq 0 ] || { [ $rc -eq 124 ] && [ $VERDICT = ok ] && VERDICT=incomplete; } || VERDICT=FAIL
  grep -E 'cases wrong|launch' $D/fp8_check.txt | tee -a $D/summary.txt
  grep -E 'decode GEMV' $D/fp8_check.txt | grep -vE 'tiled 0 / 0 / 0 / 0 / 0|form [0-9] 0 / 0 / 0 / 0 / 0' | head -8 | tee -a $D/summary.txt
  say "decode GEMV lines with a wrong output: $(grep -E 'decode GEMV' $D/fp8_check.txt | grep -cvE 'tiled 0 / 0 / 0 / 0 / 0 |form [0-9] 0 / 0 / 0 / 0 / 0 ')"
fi

# 4. conformance through the engine with the switch (the GEMV's default K-major form, QN_KMW_FORM_DEFAULT)
if [ -x $Q ]; then
  . bench/cuda/fp8_conform_cases.sh
  fp8_cases $Q
  say "conformance cases: $((${#ALL[@]} / 2)) (QUANTA_CUDA_FP8_KM=1: K-major codes only, GEMV and GEMM)"
  CONFORM_S=8 conform km1 QUANTA_CUDA_FP8_KM=1 -- "${ALL[@]}"
else
  say "no $Q: conformance skipped"; [ $VERDICT = ok ] && VERDICT=incomplete
fi

# 5. the GEMM rows where KM's flip is decided, ours and the peer interleaved
if [ $PAIR = 1 ]; then
  F=sk4,km,sk4l,kml,sk4b; [ $SMOKE -eq 0 ] || F=sk4,sk4l,sk4b
  R="512,4096,11008;256,5120,5120;4096,11008,4096;4096,13824,5120;2048,5120,5120;2048,11008,4096;512,13824,5120"
  R="$R;256,4096,4096;1024,5120,13824;4096,5120,13824;256,13824,5120;256,5120,13824;256,4096,11008;2048,4096,11008"
  FP8_PAIR_REPS=7 timeout 14 python3 bench/cuda/fp8_pair.py $FC/libqnfp8.so "$R" $F > $D/pair_fp820.txt 2>&1
  say "fp8_pair fp820 rows + 4 rows rc=$?"; tee -a $D/summary.txt < $D/pair_fp820.txt
elif [ -x $FC/fp8_check ]; then
  say "no libqnfp8.so or torch: fp8_pair skipped"
fi

# 6. a whole fp8 model: greedy text KM=0 vs KM=1 first (the new GEMV in every decode step), then pp / tg off / on
SRC=/tmp/e2e/files/gemma3-270m-q4_k_m.gguf M8=/tmp/fp821_gemma_fp8.gguf
if [ -x $Q ] && [ -f $SRC ] && [ $SMOKE -eq 0 ] && [ $(left) -gt 14 ]; then
  [ -f $M8 ] || timeout 12 $Q quantize -m $SRC -o $M8 --quant fp8 --keep-embeddings f16 -q > $D/quantize.log 2>&1
  for sw in 0 1; do
    [ -f $M8 ] && [ $(left) -gt 6 ] || break
    QUANTA_CUDA_FP8_KM=$sw timeout 6 $Q generate -m $M8 -p "The capital of France is" -n 24 --backend cuda > $D/gen_km$sw.txt 2> $D/gen_km$sw.err
    say "fp8 Gemma generate KM=$sw rc=$?: $(tr '\n' ' ' < $D/gen_km$sw.txt | head -c 160)"
  done
  [ -s $D/gen_km0.txt ] && [ -s $D/gen_km1.txt ] && say "greedy text KM=0 vs KM=1: $(cmp -s $D/gen_km0.txt $D/gen_km1.txt && echo same || echo differs)"
  for sw in 0 1; do # KM=0; KM=1 (the GEMV's default K-major form, 7)
    [ -f $M8 ] && [ $(left) -gt 8 ] || break
    QUANTA_CUDA_FP8_KM=$sw timeout 8 $Q bench model -m $M8 -p 512 -n 64 -r 2 --backend cuda --json > $D/model_km$sw.json 2> $D/model_km$sw.err
    rc=$?; say "fp8 Gemma KM=$sw rc=$rc: $(grep -oE '"(pp_tps|tg_tps|weights_bytes)": [0-9.]*' $D/model_km$sw.json | tr '\n' ' ')"
  done
fi

# 6a. the four rows km lost in call 2 (SS's 128x256 tile slower than the register form's there): KM's routes with
# 128x192 / 128x128 forced beside km, for a host pick on K-major codes (if time is left)
if [ $PAIR = 1 ] && [ $SMOKE -eq 0 ] && [ $(left) -gt 8 ]; then
  FP8_PAIR_REPS=5 timeout 5 python3 bench/cuda/fp8_pair.py $FC/libqnfp8.so \
    "256,13824,5120;256,5120,13824;256,4096,11008;2048,4096,11008" sk4,km,km192,km128 > $D/pair_kmtiles.txt 2>&1
  say "fp8_pair km's tiles on the four rows rc=$?"; tee -a $D/summary.txt < $D/pair_kmtiles.txt
fi

# 6b. every row (sk4, km), if time is left (call 2 has a 3-round pass)
if [ $PAIR = 1 ] && [ $SMOKE -eq 0 ] && [ $(left) -gt 12 ]; then
  FP8_PAIR_REPS=3 timeout 8 python3 bench/cuda/fp8_pair.py $FC/libqnfp8.so all sk4,km > $D/pair_all.txt 2>&1
  say "fp8_pair all rows rc=$?"; tee -a $D/summary.txt < $D/pair_all.txt
fi

# 7. compute-sanitizer on the small cases (every form, the K-major GEMV forms included)
if [ -x $FC/fp8_check ] && command -v compute-sanitizer > /dev/null; then
  for tool in racecheck synccheck; do
    [ $(left) -gt 3 ] || { say "compute-sanitizer $tool skipped (time)"; continue; }
    timeout $(($(left) - 1 < 8 ? $(left) - 1 : 8)) compute-sanitizer --tool $tool $FC/fp8_check sanitize > $D/sanitize_$tool.txt 2>&1
    rc=$?; say "compute-sanitizer $tool rc=$rc: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $D/sanitize_$tool.txt | head -1)"
    [ $rc -eq 0 ] || [ $rc -eq 124 ] || VERDICT=FAIL # 124: cut by the time left, not a finding
  done
fi

{
  echo "== fp821 summary ($VERDICT): smoke, gemv tiled vs K-major forms, check, conformance KM=1, fp8_pair (fp820 rows + 4, all rows; interleaved with _scaled_mm), fp8 Gemma, sanitizers"
  grep -E 'cases wrong' $D/fp8_check.txt 2> /dev/null
  grep -hE '   pair$' $D/pair_fp820.txt 2> /dev/null
} | tee -a $D/summary.txt
pack
say "done"
