#!/bin/bash
# verify_fp813.sh — device checks of fp813's FP8 x FP8 GEMM on TMA (kernels_cuda/matmul_fp8_wg.cu, QUANTA_CUDA_FP8_V2=0t /
# 2t: token tile by a tensor-map load with the 128-byte swizzle, multicast in clusters of 2, weights by a 3d box,
# K 128 per stage; off by default) and of kernels_cuda/tma.cuh, run after bench/e2e/run_h200.sh has built Quanta:
#   VERIFY=bench/cuda/verify_fp813.sh bash bench/e2e/run_h200.sh build files verify
# fp8_check comes from bench/cuda/prebuild_fp813.sh (/tmp/prebuild/fp813), else is built here from /tmp/qbuild's
# objects. At most ~80 s; every step has its own timeout (a barrier or TMA mistake hangs), later steps skipped when late.
#   1. fp8_check tma: tma.cuh's 2d swizzled / 3d / multicast loads and 2d store against the host's bytes;
#   2. conformance of the e4m3 matmuls with V2 unset (the default, 0t), 0ts, 2ts and 2tw (engine path: token-major quantizer + TMA GEMM; ts:
#      the epilogue through shared memory and a TMA store, where y is bf16/f16; tw: clusters along the tokens, the
#      weights multicast);
#   3. fp8_check check (2p named explicitly): codes byte-exact, y within its bound of the float64 reference (NaN-poisoned),
#      every other form bit-identical to it, and the TMA forms (0t, 2t, 0ts, 2ts, 2tw, 4tw, 2tws, 4tws; their
#      token-major codes) too;
#   3b. the same check with QUANTA_CUDA_FP8_QUANT_REG=1 (a row read once), and fp8_check quant with it 0 and 1;
#   4. fp8_check time3: GEMM alone, 2p vs 0t, 2t, 2ts, 0ts, 2tw (tile picked; M <= 512: 0ts each tile forced) vs cuBLASLt FP8 fast, LLaMA-7B
#      and 13B shapes at M = 256 .. 4096; then torch._scaled_mm row-wise on the same shapes (fp8_peers.py);
#      (fast accumulation only, for time);
#   4b. fp8_check trace3: the TMA form's first tile per block (clocks per 64 of K, epilogue);
#   5. compute-sanitizer racecheck / synccheck of fp8_check's small cases (the TMA form runs in them);
#   6. conformance with each tile forced, V2=0ts (QUANTA_CUDA_FP8_TILE=64x128 means 128x64 there), while time is left.
# Everything goes to $OUT/fp813/ (summary.txt: the numbers to decide with).
set -u
cd "$(dirname "$0")/../.." # the repository root
export PATH=$PATH:/usr/local/cuda/bin
. bench/common/verifylib.sh fp813 80
Q=${QUANTA:-/tmp/qbuild/tools/quanta}
B=${QBUILD:-/tmp/qbuild}/kernels_cuda
[ -x $Q ] || { say "no $Q"; exit 1; }
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm --format=csv,noheader 2>&1)"

FC=/tmp/prebuild/fp813
BUILD_PID=""
if [ ! -x $FC/fp8_check ]; then
  say "no prebuilt fp8_check ($(tail -1 $FC/build.log 2> /dev/null)); building from $B"
  FC=/tmp/fp8check_fp813
  rm -rf $FC
  ( KOBJ=$B timeout 50 sh bench/cuda/build_fp8_check.sh $FC > $D/fp8_check_build.log 2>&1 ) &
  BUILD_PID=$!
fi
cp /tmp/prebuild/fp813/build.log $D/prebuild.log 2> /dev/null

# 2. conformance (while fp8_check builds, if it must)
LISTED=$($Q conform --backend ref --list 2> /dev/null | grep -E '^matmul:.*w=fp8_e4m3')
EXTRA=(--case "matmul:m=520,n=390,k=2048,w=fp8_e4m3,x=bf16" --case "matmul:m=512,n=1024,k=512,w=fp8_e4m3,x=f32"
       --case "matmul:m=2048,n=128,k=512,w=fp8_e4m3,x=f16" --case "matmul:m=65,n=512,k=4096,w=fp8_e4m3,x=f32"
       --case "matmul:m=300,n=1000,k=704,w=fp8_e4m3,x=bf16")
WIDE=($(echo "$LISTED" | grep -E 'm=(33,.*b=2|64|77|300|257),' | sed 's/^/--case /') "${EXTRA[@]}")
ALL=($(echo "$LISTED" | sed 's/^/--case /') "${EXTRA[@]}")
say "conformance cases: $((${#ALL[@]} / 2)) (V2 unset = 0t, 0ts, 2ts, 2tw), $((${#WIDE[@]} / 2)) from M = 64 (each tile)"
CONFORM_S=12 conform default QUANTA_CUDA_FP8_TILE= -- "${ALL[@]}" # V2 unset: the default (0t since fp813 round 1)
for v in 0ts 2ts 2tw; do CONFORM_S=12 conform v2c$v QUANTA_CUDA_FP8_V2=$v -- "${ALL[@]}"; done

[ -n "$BUILD_PID" ] && { wait $BUILD_PID 2> /dev/null; say "fp8_check build: $(tail -1 $D/fp8_check_build.log)"; }
if [ -x $FC/fp8_check ]; then
  # 1. tma.cuh
  timeout 8 $FC/fp8_check tma > $D/fp8_tma.txt 2>&1
  rc=$?; say "fp8_check tma rc=$rc"; [ $rc -eq 0 ] || VERDICT=FAIL
  grep -E '^tma|fp8_check:' $D/fp8_tma.txt | tee -a $D/summary.txt
  # 3. against the float64 reference, every form bit-identical
  if [ $(left) -gt 10 ]; then
    timeout 20 $FC/fp8_check check > $D/fp8_check.txt 2>&1
    rc=$?; say "fp8_check check (2p against the reference; the other forms, TMA ones included, compared) rc=$rc"; [ $rc -eq 0 ] || VERDICT=FAIL
    grep -E '^check|cases wrong|launch|fp8_check:' $D/fp8_check.txt | sed 's/; e4m3 x costs.*against the unquantized x//' | tee -a $D/summary.txt
  fi
  # 3b. the quantizer that reads each row once (QUANTA_CUDA_FP8_QUANT_REG=1): codes byte-exact, then its time vs the loop
  if [ $(left) -gt 40 ]; then
    QUANTA_CUDA_FP8_QUANT_REG=1 timeout 20 $FC/fp8_check check > $D/fp8_check_qreg.txt 2>&1
    rc=$?; say "fp8_check check with QUANTA_CUDA_FP8_QUANT_REG=1 rc=$rc"; [ $rc -eq 0 ] || VERDICT=FAIL
    grep -E 'cases wrong|codes [1-9]|launch' $D/fp8_check_qreg.txt | tee -a $D/summary.txt
    for q in 0 1; do QUANTA_CUDA_FP8_QUANT_REG=$q timeout 6 $FC/fp8_check quant 2>&1 | grep -E '^quant' | tee -a $D/summary.txt; done
  fi
  # 4. timings
  if [ $(left) -gt 20 ]; then
    TL=$(($(left) - 32)); [ $TL -gt 22 ] && TL=22; [ $TL -lt 8 ] && TL=8
    timeout $TL $FC/fp8_check time3 $D/fp8_time3.csv > $D/fp8_time3.txt 2>&1
    say "fp8_check time3 rc=$?"; grep -vE '^fp8_check: seed' $D/fp8_time3.txt | tee -a $D/summary.txt
  fi
fi
if [ -s $D/fp8_time3.csv ] && [ $(left) -gt 12 ] && python3 -c 'import torch' 2> /dev/null; then
  TL=$(($(left) - 14)); [ $TL -gt 18 ] && TL=18; [ $TL -lt 8 ] && TL=8
  FP8_PEERS_FAST_ONLY=1 timeout $TL python3 bench/cuda/fp8_peers.py $D/fp8_time3.csv > $D/fp8_peers.txt 2>&1
  say "fp8_peers rc=$?"; tee -a $D/summary.txt < $D/fp8_peers.txt
fi

# 4b. where a block's time goes in the TMA form (clocks per 64 of K against fp8pp11's ~960 for 2p)
if [ -x $FC/fp8_check ] && [ $(left) -gt 16 ]; then
  timeout 6 $FC/fp8_check trace3 > $D/fp8_trace3.txt 2>&1
  say "fp8_check trace3 rc=$?"; grep -E '^trace3|failed' $D/fp8_trace3.txt | tee -a $D/summary.txt
fi

# 5. compute-sanitizer on the small cases (V2 unset: 2p against the reference, then every form, the TMA ones included)
if [ -x $FC/fp8_check ] && command -v compute-sanitizer > /dev/null; then
  for tool in racecheck synccheck; do
    [ $(left) -gt 10 ] || { say "compute-sanitizer $tool skipped (time)"; continue; }
    timeout 10 compute-sanitizer --tool $tool $FC/fp8_check sanitize > $D/sanitize_$tool.txt 2>&1
    say "compute-sanitizer $tool rc=$?: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $D/sanitize_$tool.txt | head -1)"
  done
fi

# 6. each tile forced through conformance
TILES_RUN=""
for t in 128x256 128x128 64x128 64x64; do
  [ $(left) -gt 6 ] || break
  CONFORM_S=8 conform v2c0ts_$t QUANTA_CUDA_FP8_V2=0ts QUANTA_CUDA_FP8_TILE=$t -- "${WIDE[@]}"
  TILES_RUN="$TILES_RUN $t"
done

{
  echo "== fp813 summary: tma probe, conformance (V2 unset = 0t, 0ts, 2ts, 2tw; 0ts forced tiles:${TILES_RUN:- none}), fp8_check, sanitizers: $VERDICT"
  grep -E 'cases wrong' $D/fp8_check.txt 2> /dev/null
  [ -f $D/fp8_peers.txt ] && grep -E 'scaled_mm' $D/fp8_peers.txt | tail -40
} | tee -a $D/summary.txt
pack
say "done"
