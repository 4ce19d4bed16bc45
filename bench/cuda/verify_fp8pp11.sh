#!/bin/bash
# verify_fp8pp11.sh — device checks of fp8pp11's FP8 x FP8 GEMM with block clusters (kernels_cuda/matmul_fp8_wg.cu,
# QUANTA_CUDA_FP8_V2: 0 = mmq8's kernel (unset = 2p since 2026-12-06 09:42), 1 or 2 = clusters of 2 blocks sharing the token tile by multicast,
# 4 = clusters of 4; a trailing p = the persistent kernel of that cluster size (0p, 2p, 4p), pp = persistent with 2
# wgmma groups in flight and (both persistent forms) the epilogue's scales loaded before its stores; off by default), run
# after bench/e2e/run_h200.sh has built Quanta (/tmp/qbuild):
#   VERIFY=bench/cuda/verify_fp8pp11.sh bash bench/e2e/run_h200.sh build files verify
# At most ~95 s: every step has its own timeout (a cluster protocol mistake hangs), later steps skipped when late.
#   1. conformance of the e4m3 matmuls with V2=2pp, 2p, 4pp, 0pp, 4 (tile by grid size);
#   2. fp8_check check with V2=2pp: codes byte-exact, y within its bound of the host reference, and y of clusters
#      1 / 2 / 4, in each of the three forms, bit-identical to it (same instructions, same bytes, same order), every
#      tile and split-K;
#   3. fp8_check time2: GEMM alone, clusters 1 / 2 / 4 in the three forms (tile picked), the first three
#      with each tile forced, cuBLASLt FP8 fast, on the shapes of bench/NOTES.md's FP8 table; then
#      torch._scaled_mm row-wise (fp8_peers.py) on the same shapes;
#   3b. fp8_check trace: per-block timestamps of one launch per shape and cluster size (first stage, K steps,
#      epilogue, gaps between blocks on an SM: the ~16 us per wave outside the K steps in mmq8's times);
#   4. compute-sanitizer racecheck and synccheck of fp8_check's small cases with V2=2pp (each also runs the others);
#   5. conformance with each tile forced (QUANTA_CUDA_FP8_TILE) with V2=2pp, 2p, 4pp, 0pp while time is left.
# Everything goes to $OUT/fp8pp11/ (summary.txt: the numbers to decide with).
set -u
cd "$(dirname "$0")/../.." # the repository root
export PATH=$PATH:/usr/local/cuda/bin
. bench/common/verifylib.sh fp8pp11 95
Q=${QUANTA:-/tmp/qbuild/tools/quanta}
B=${QBUILD:-/tmp/qbuild}/kernels_cuda
[ -x $Q ] || { say "no $Q"; exit 1; }
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm --format=csv,noheader 2>&1)"

# fp8_check builds on the host's cores (the kernel object from /tmp/qbuild) while the conformance runs
FC=/tmp/fp8check_pp11
rm -rf $FC
( KOBJ=$B timeout 60 sh bench/cuda/build_fp8_check.sh $FC > $D/fp8_check_build.log 2>&1
  echo $? > $D/fp8_check_build.rc ) &
BUILD_PID=$!

# 1. conformance: every listed e4m3 matmul case (the batched ones from M = 64 take the GEMM) and wider ones
LISTED=$($Q conform --backend ref --list 2> /dev/null | grep -E '^matmul:.*w=fp8_e4m3')
WIDE=($(echo "$LISTED" | grep -E 'm=(33,.*b=2|64|77|300|257),' | sed 's/^/--case /'))
EXTRA=(--case "matmul:m=520,n=390,k=2048,w=fp8_e4m3,x=bf16" --case "matmul:m=512,n=1024,k=512,w=fp8_e4m3,x=f32"
       --case "matmul:m=2048,n=128,k=512,w=fp8_e4m3,x=f16" --case "matmul:m=65,n=512,k=4096,w=fp8_e4m3,x=f32"
       --case "matmul:m=300,n=1000,k=704,w=fp8_e4m3,x=bf16")
WIDE+=("${EXTRA[@]}")
ALL=($(echo "$LISTED" | sed 's/^/--case /') "${EXTRA[@]}")
say "conformance cases: $((${#ALL[@]} / 2)) (V2=2pp, 2p, 4pp, 0pp, 4), $((${#WIDE[@]} / 2)) from M = 64 (each tile)"
for v in 2pp 2p 4pp 0pp 4; do CONFORM_S=12 conform v2c$v QUANTA_CUDA_FP8_V2=$v -- "${ALL[@]}"; done

# 2. the kernel against its host reference, clusters bit-identical
wait $BUILD_PID 2> /dev/null
say "fp8_check build rc=$(cat $D/fp8_check_build.rc 2> /dev/null): $(tail -1 $D/fp8_check_build.log)"
if [ -x $FC/fp8_check ]; then
  if [ $(left) -gt 10 ]; then
    QUANTA_CUDA_FP8_V2=2pp timeout 20 $FC/fp8_check check > $D/fp8_check.txt 2>&1
    rc=$?; say "fp8_check check (V2=2pp; clusters 1/2/4 in the three forms compared) rc=$rc"; [ $rc -eq 0 ] || VERDICT=FAIL
    grep -E '^check|cases wrong|launch|fp8_check:' $D/fp8_check.txt | sed 's/; e4m3 x costs.*against the unquantized x//' | tee -a $D/summary.txt
  fi
  # 3. timings: ours (clusters 1, 2, 4) against cuBLASLt, then torch._scaled_mm
  if [ $(left) -gt 12 ]; then
    TL=$(($(left) - 30)); [ $TL -gt 25 ] && TL=25; [ $TL -lt 8 ] && TL=8
    timeout $TL $FC/fp8_check time2 $D/fp8_time2.csv > $D/fp8_time2.txt 2>&1
    say "fp8_check time2 rc=$?"; grep -vE '^fp8_check: seed' $D/fp8_time2.txt | tee -a $D/summary.txt
  fi
fi
if [ -s $D/fp8_time2.csv ] && [ $(left) -gt 10 ] && python3 -c 'import torch' 2> /dev/null; then
  TL=$(($(left) - 20)); [ $TL -gt 20 ] && TL=20; [ $TL -lt 8 ] && TL=8
  timeout $TL python3 bench/cuda/fp8_peers.py $D/fp8_time2.csv > $D/fp8_peers.txt 2>&1
  say "fp8_peers rc=$?"; tee -a $D/summary.txt < $D/fp8_peers.txt
fi

# 3b. per-block timestamps of one launch per shape and cluster size (where the time outside the K steps goes)
if [ -x $FC/fp8_check ] && [ $(left) -gt 15 ]; then
  timeout 10 $FC/fp8_check trace > $D/fp8_trace.txt 2>&1
  say "fp8_check trace rc=$?"; grep -E '^trace M=|failed' $D/fp8_trace.txt | tee -a $D/summary.txt
fi

# 4. compute-sanitizer on the small cases (V2=2pp runs, then every form), each tool while time is left
if [ -x $FC/fp8_check ] && command -v compute-sanitizer > /dev/null; then
  for tool in racecheck synccheck; do
    [ $(left) -gt 10 ] || { say "compute-sanitizer $tool skipped (time)"; continue; }
    QUANTA_CUDA_FP8_V2=2pp timeout 10 compute-sanitizer --tool $tool $FC/fp8_check sanitize > $D/sanitize_$tool.txt 2>&1
    say "compute-sanitizer $tool rc=$?: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $D/sanitize_$tool.txt | head -1)"
  done
fi

# 5. each tile forced through conformance
TILES_RUN=""
for v in 2pp 2p 4pp 0pp; do
  for t in 128x256 128x128 64x128 64x64; do
    [ $(left) -gt 6 ] || break 2
    CONFORM_S=8 conform v2c${v}_$t QUANTA_CUDA_FP8_V2=$v QUANTA_CUDA_FP8_TILE=$t -- "${WIDE[@]}"
    TILES_RUN="$TILES_RUN c$v:$t"
  done
done

{
  echo "== fp8pp11 summary: conformance (V2=2pp, 2p, 4pp, 0pp, 4; forced tiles:${TILES_RUN:- none}), fp8_check, sanitizers: $VERDICT"
  grep -E 'cases wrong' $D/fp8_check.txt 2> /dev/null
  [ -f $D/fp8_time2.txt ] && grep -E '^ *[0-9]+ +[0-9]+ +[0-9]+ \|' $D/fp8_time2.txt | awk -F'|' '{print "  " $1 "| gemm us c1 c2 c4:" $3 "| c1p c2p c4p:" $4 "| c1pp c2pp c4pp:" $5 "| lt_fast" $6 "| c1/(c2 c4 c1p c2p c4p c1pp c2pp c4pp)" $7 "| TFLOP/s best" $8}'
  [ -f $D/fp8_peers.txt ] && grep -E 'scaled_mm' $D/fp8_peers.txt | tail -12
} | tee -a $D/summary.txt
pack
say "done"
