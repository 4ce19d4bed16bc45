#!/bin/bash
# verify_mmq8.sh — device checks of mmq8's FP8 x FP8 GEMM (kernels_cuda/matmul_fp8_wg.cu, QUANTA_CUDA_FP8_WGMMA,
# on by default since its H100 run of 2026-12-06), run after bench/e2e/run_h200.sh has built Quanta (/tmp/qbuild: its kernels_cuda objects are
# linked by step 2):
#   VERIFY=bench/cuda/verify_mmq8.sh bash bench/e2e/run_h200.sh build files verify
# At most ~60 s: every step has its own timeout, later steps are skipped when late.
#   1. conformance of the e4m3 matmuls, switch off (today's f16 route) and on (the pick by grid size); after the
#      timings, when time is left, on with each tile forced (QUANTA_CUDA_FP8_TILE);
#   2. wgmma_check (one f16 and one FP8 wgmma against a host product: the instruction and its layouts alone);
#   3. fp8_check check: the quantizer's codes byte for byte and y against a host reference of the same arithmetic,
#      every tile; fp8_check time: ours (quantize + GEMM) against today's route, cuBLASLt FP8 and cuBLAS bf16 on
#      LLaMA-7B/13B shapes at M = 256, 512, 2048;
#   4. torch._scaled_mm row-wise (the issue's peer, bench/cuda/fp8_peers.py) on the same shapes when time is left;
#   5. compute-sanitizer memcheck / synccheck / racecheck of fp8_check's two small cases, when time is left.
# Everything goes to $OUT/mmq8/ (summary.txt: the numbers to decide with).
set -u
cd "$(dirname "$0")/../.." # the repository root
export PATH=$PATH:/usr/local/cuda/bin
. bench/common/verifylib.sh mmq8 58
Q=${QUANTA:-/tmp/qbuild/tools/quanta}
B=${QBUILD:-/tmp/qbuild}/kernels_cuda
[ -x $Q ] || { say "no $Q"; exit 1; }
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm --format=csv,noheader 2>&1)"

# the two programs build on the host's cores while the conformance runs
( KOBJ=$B timeout 45 sh bench/cuda/build_fp8_check.sh /tmp/fp8check8 > $D/fp8_check_build.log 2>&1
  echo $? > $D/fp8_check_build.rc ) &
BUILD_PID=$!
rm -f /tmp/wgmma_check8
( timeout 30 nvcc -std=c++17 -O2 -gencode=arch=compute_90a,code=sm_90a -Ikernels_cuda bench/cuda/wgmma_check.cu \
    -o /tmp/wgmma_check8 > $D/wgmma_check_build.log 2>&1 ) &
CHECK_PID=$!

# 1. conformance: the listed e4m3 cases (decode sizes stay on the GEMV; the batched ones from M = 64 take the
# new kernel) and wider ones for the tiles
LISTED=$($Q conform --backend ref --list 2> /dev/null | grep -E '^matmul:.*w=fp8_e4m3')
WIDE=($(echo "$LISTED" | grep -E 'm=(33,.*b=2|64|77|300|257),' | sed 's/^/--case /'))
EXTRA=(--case "matmul:m=520,n=390,k=2048,w=fp8_e4m3,x=bf16" --case "matmul:m=512,n=1024,k=512,w=fp8_e4m3,x=f32"
       --case "matmul:m=2048,n=128,k=512,w=fp8_e4m3,x=f16" --case "matmul:m=65,n=512,k=4096,w=fp8_e4m3,x=f32")
WIDE+=("${EXTRA[@]}")
ALL=($(echo "$LISTED" | sed 's/^/--case /') "${EXTRA[@]}")
say "conformance cases: $((${#ALL[@]} / 2)) (off, on), $((${#WIDE[@]} / 2)) from M = 64 (each tile)"
conform off QUANTA_CUDA_FP8_WGMMA=0 -- "${ALL[@]}"
conform on QUANTA_CUDA_FP8_WGMMA=1 -- "${ALL[@]}"

# 2. one wgmma of each kind against the host
wait $CHECK_PID 2> /dev/null
if [ -x /tmp/wgmma_check8 ]; then timeout 10 /tmp/wgmma_check8 > $D/wgmma_check.txt 2>&1; say "wgmma_check rc=$?"
  tee -a $D/summary.txt < $D/wgmma_check.txt; else say "wgmma_check did not build: $(tail -2 $D/wgmma_check_build.log)"; fi

# 3. the kernel against its host reference, then the timings
wait $BUILD_PID 2> /dev/null
say "fp8_check build rc=$(cat $D/fp8_check_build.rc 2> /dev/null): $(tail -1 $D/fp8_check_build.log)"
if [ -x /tmp/fp8check8/fp8_check ]; then
  if [ $(left) -gt 8 ]; then
    timeout 15 /tmp/fp8check8/fp8_check check > $D/fp8_check.txt 2>&1
    say "fp8_check check rc=$?"; tee -a $D/summary.txt < $D/fp8_check.txt
  fi
  if [ $(left) -gt 10 ]; then
    TL=$(($(left) - 2)); [ $TL -gt 22 ] && TL=22
    timeout $TL /tmp/fp8check8/fp8_check time $D/fp8_time.csv > $D/fp8_time.txt 2>&1
    say "fp8_check time rc=$?"; tee -a $D/summary.txt < $D/fp8_time.txt
  fi
fi

# 4. torch._scaled_mm row-wise on the same shapes (after the kernel rows: torch's import takes seconds)
if [ -s $D/fp8_time.csv ] && [ $(left) -gt 12 ] && python3 -c 'import torch' 2> /dev/null; then
  TL=$(($(left) - 1)); [ $TL -gt 15 ] && TL=15
  timeout $TL python3 bench/cuda/fp8_peers.py $D/fp8_time.csv > $D/fp8_peers.txt 2>&1
  say "fp8_peers rc=$?"; tee -a $D/summary.txt < $D/fp8_peers.txt
fi

# 1b. each tile forced through conformance (fp8_check check ran every tile against its host reference already)
# 5. compute-sanitizer on two small cases (tiles 128x256 and 64x64), each tool while time is left
if [ -x /tmp/fp8check8/fp8_check ] && command -v compute-sanitizer > /dev/null; then
  for tool in memcheck synccheck racecheck; do
    [ $(left) -gt 10 ] || break
    timeout 8 compute-sanitizer --tool $tool /tmp/fp8check8/fp8_check sanitize > $D/sanitize_$tool.txt 2>&1
    say "compute-sanitizer $tool rc=$?: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $D/sanitize_$tool.txt | head -1)"
  done
fi

TILES_RUN=""
for t in 128x256 128x128 64x128 64x64; do
  [ $(left) -gt 6 ] || break
  conform on_$t QUANTA_CUDA_FP8_WGMMA=1 QUANTA_CUDA_FP8_TILE=$t -- "${WIDE[@]}"
  TILES_RUN="$TILES_RUN $t"
done

{
  echo "== mmq8 summary: conformance (off, on, forced tiles:${TILES_RUN:- none}): $VERDICT"
  grep -E 'wrong' $D/wgmma_check.txt $D/fp8_check.txt 2> /dev/null | sed 's/^[^:]*://' | grep -E 'cases wrong|wgmma_check'
  [ -f $D/fp8_time.txt ] && grep -E '^ *[0-9]+ ' $D/fp8_time.txt | awk '{print "  M="$1" N="$2" K="$3": ours "$7" us (gemm "$6"), f16 route "$8", lt_fast "$10", bf16 "$12"; f16route/ours "$14", lt_fast/gemm "$15", bf16/ours "$17", gemm "$19" TFLOP/s"}'
  [ -f $D/fp8_peers.txt ] && grep -E 'scaled_mm' $D/fp8_peers.txt | tail -20
} | tee -a $D/summary.txt
say "done"
