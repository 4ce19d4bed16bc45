#!/bin/bash
# verify_fp818.sh — device checks of fp818's FP8 x FP8 GEMM form with both wgmma operands from shared memory
# (kernels_cuda/matmul_fp8_wg.cu, QUANTA_CUDA_FP8_SS=1, off by default): the weights' K-major copy (made at prepare
# time under the switch: engine/cuda/cuda_repack.c qn_cuda_repack_fp8_km, layout cuda_kernels.h
# qn_cuda_fp8_km_offset) loaded by TMA with the 128-byte swizzle, SS wgmma in place of LDS + byte permutes + register-A
# wgmma; tile pick, split-K groups, TMA-store epilogue and scales unchanged. <= 50 s once its binaries exist:
#   - /tmp/prebuild/fp8 (bench/cuda/prebuild_fp8.sh, run by bench/e2e/run_h200.sh's build stage), or
#   - /tmp/qbuild (a release CUDA build of main with this form): fp8_check links its kernel objects (only
#     fp8_check.cu is compiled: ~4 s on a 2-core box) and libqnfp8.so its matmul_fp8_wg.cu.o, into /tmp/fp818;
#   - neither: everything built here into /tmp/fp818 (under timeout; then > 50 s).
# Steps (deciding ones first), results under $OUT/fp818/ (summary.txt):
#   1. fp8_check sanitize (small cases; the SS form with every two-consumer tile and its split forms) when built;
#   2. conformance of the e4m3 matmuls through the engine with QUANTA_CUDA_FP8_SS=1 (prepare-time copy + SS GEMM);
#   3. fp8_pair (ours and torch._scaled_mm interleaved in one process) on the 8 rows under 0.9x of call 1 and 4 that
#      passed: sk4 = the default route, ss = the same route in the SS form (its pick with QN_F8T_COST_128_SS), s128 /
#      s256 = SS with 128x128 / 128x256 forced (their one-round ratio refits QN_F8T_COST_128_SS), t128 = the register
#      form with 128x128 forced (the small-M rows' comparison), sw128 = SS 128x128 in clusters of 2 along the tokens
#      multicasting the weights (the peer's nvjet 128x128 1x2 configuration);
#   4. fp8_check check (12 cases against the float64 reference, NaN-poisoned y; SS forms' bits against the register
#      form's printed);
#   5. ncu of SS and of the default at 512 x 4096 x 11008 (fp816's row: shared pipe 55%, L2 throughput 48-52% for
#      ours, 75% / 70% for the peer);
#   6. fp8_check trace3 with FP8_CHECK_SS=1 (clocks per 64 of K of the SS K loop; the register form: 516 at 128x256).
# Flip rule and predictions: bench/NOTES.md, fp818.
set -u
cd "$(dirname "$0")/../.." # the repository root
export PATH=$PATH:/usr/local/cuda/bin
. bench/common/verifylib.sh fp818 50
QB=${QBUILD:-/tmp/qbuild} # QBUILD: another build directory (a dry run off the device)
Q=${QUANTA:-$QB/tools/quanta}
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm --format=csv,noheader 2>&1)"

# ---- binaries
FC=/tmp/prebuild/fp8
if [ ! -x $FC/fp8_check ] || [ ! -f $FC/libqnfp8.so ]; then
  FC=/tmp/fp818
  mkdir -p $FC
  KO=$QB/kernels_cuda
  if [ -f $KO/matmul_fp8_wg.cu.o ] && grep -aq QUANTA_CUDA_FP8_SS $KO/matmul_fp8_wg.cu.o && [ -f $KO/matmul_q.cu.o ]; then
    rm -f $FC/fp8_check $FC/libqnfp8.so
    KOBJ=$KO timeout 60 sh bench/cuda/build_fp8_check.sh $FC > $FC/build.log 2>&1
    rc=$?
    timeout 20 nvcc -gencode=arch=compute_90a,code=sm_90a -shared -o $FC/libqnfp8.so $KO/matmul_fp8_wg.cu.o >> $FC/build.log 2>&1
    say "fp8_check (rc=$rc) and libqnfp8.so (rc=$?) linked from $KO"
  elif [ -x $FC/fp8_check ] && [ -f $FC/libqnfp8.so ]; then
    say "binaries from an earlier run in $FC (no /tmp/qbuild with the SS form)"
  else
    say "no prebuilt binaries and no /tmp/qbuild with the SS form: building here (over the 50 s budget)"
    timeout 300 sh bench/cuda/build_fp8_check.sh $FC > $FC/build.log 2>&1
    say "build_fp8_check.sh rc=$?: $(tail -1 $FC/build.log)"
  fi
fi
cp $FC/build.log $D/build.log 2> /dev/null
[ -x $FC/fp8_check ] || { say "no fp8_check: $(tail -2 $FC/build.log 2> /dev/null | tr '\n' ' ')"; VERDICT=FAIL; }
have_check() { [ -x $FC/fp8_check ]; }
PAIR=0
[ -f $FC/libqnfp8.so ] && python3 -c 'import torch' 2> /dev/null && PAIR=1

# 1. smoke: a wrong or deadlocked SS form shows in seconds
if have_check; then
  timeout 8 $FC/fp8_check sanitize > $D/fp8_smoke.txt 2>&1
  rc=$?; say "fp8_check sanitize (every form incl. SS on 70 x 150 x 192 and 300 x 256 x 320) rc=$rc"
  [ $rc -eq 0 ] || VERDICT=FAIL
  grep -E 'SS form|fp8_check:' $D/fp8_smoke.txt | sed 's/; e4m3 x costs.*against the unquantized x//' | tee -a $D/summary.txt
fi

# 2. conformance through the engine (the K-major copy made at prepare time, the SS GEMM on it)
if [ -x $Q ]; then
  . bench/cuda/fp8_conform_cases.sh
  fp8_cases $Q
  say "conformance cases: $((${#ALL[@]} / 2)) with QUANTA_CUDA_FP8_SS=1 (and its tile forced: 128x128, 128x192; with TW=1)"
  CONFORM_S=6 conform ss QUANTA_CUDA_FP8_SS=1 -- "${ALL[@]}"
  CONFORM_S=4 conform ss128 QUANTA_CUDA_FP8_SS=1 QUANTA_CUDA_FP8_TILE=128x128 -- "${ALL[@]}"
  CONFORM_S=4 conform ss192 QUANTA_CUDA_FP8_SS=1 QUANTA_CUDA_FP8_TILE=128x192 -- "${ALL[@]}"
  CONFORM_S=4 conform sstw QUANTA_CUDA_FP8_SS=1 QUANTA_CUDA_FP8_TW=1 -- "${ALL[@]}"
else
  say "no $Q: conformance skipped"; VERDICT=incomplete
fi

# 3. the deciding rows, ours and the peer interleaved
if [ $PAIR = 1 ]; then
  FP8_PAIR_REPS=5 timeout $(($(left) - 2 < 22 ? $(left) - 2 : 22)) python3 bench/cuda/fp8_pair.py $FC/libqnfp8.so fp818 sk4,ss,s128,s256,t128,sw128 > $D/pair.txt 2>&1
  say "fp8_pair (8 unmet + 4 passing rows: sk4 = default, ss = its route in the SS form, s128, s256, t128, sw128) rc=$?"
  tee -a $D/summary.txt < $D/pair.txt
elif have_check; then
  say "no libqnfp8.so or torch: fp8_check time5, register form then SS (ours alone)"
  FP8_CHECK_SK=4 FP8_CHECK_REPS=3 timeout 8 $FC/fp8_check time5 > $D/fp8_time5.txt 2>&1
  FP8_CHECK_SS=1 FP8_CHECK_SK=4 FP8_CHECK_REPS=3 timeout 8 $FC/fp8_check time5 > $D/fp8_time5_ss.txt 2>&1
  grep -vE '^fp8_check: seed' $D/fp8_time5.txt $D/fp8_time5_ss.txt | tee -a $D/summary.txt
fi

# 4. against the float64 reference
if have_check && [ $(left) -gt 14 ]; then
  timeout 10 $FC/fp8_check check > $D/fp8_check.txt 2>&1
  rc=$?; say "fp8_check check (12 cases against the reference; SS forms included) rc=$rc"
  [ $rc -eq 0 ] || { [ $rc -eq 124 ] && [ $VERDICT = ok ] && VERDICT=incomplete; } || VERDICT=FAIL
  grep -E 'SS form|cases wrong|launch|fp8_check:' $D/fp8_check.txt | sed 's/; e4m3 x costs.*against the unquantized x//' | tee -a $D/summary.txt
fi

# 5. ncu: the SS form and the register form on fp816's row (clocks not locked, as fp816's)
NCU_GREP='Duration|SM Frequency|Compute \(SM\) Throughput|Memory Throughput|DRAM Throughput|L2 Cache Throughput|L2 Hit Rate|highest-utilized|Registers Per|Grid Size|Dynamic Shared'
if command -v ncu > /dev/null && have_check; then
  for f in ss reg; do
    [ $(left) -gt 6 ] || { say "ncu $f skipped (time)"; continue; }
    env $([ $f = ss ] && echo FP8_CHECK_SS=1 || echo FP8_CHECK_SS=0) timeout $(($(left) - 2 < 8 ? $(left) - 2 : 8)) ncu --clock-control none \
      --section SpeedOfLight --section MemoryWorkloadAnalysis --section ComputeWorkloadAnalysis --section LaunchStats \
      -k regex:qn_k_fp8_tma --launch-skip 3 -c 1 $FC/fp8_check one 512 4096 11008 > $D/ncu_${f}_512x4096x11008.txt 2>&1
    say "ncu $f 512 x 4096 x 11008 (0ts route, no split) rc=$?"
    grep -E "$NCU_GREP" $D/ncu_${f}_512x4096x11008.txt | sed 's/  */ /g' | head -14 | tee -a $D/summary.txt
  done
fi

# 6. where the SS form's time goes (first / last tile per block: K loop clocks per 64 of K, epilogue)
if have_check && [ $(left) -gt 4 ]; then
  FP8_CHECK_SS=1 FP8_CHECK_SK=5 timeout $(($(left) - 1 < 6 ? $(left) - 1 : 6)) $FC/fp8_check trace3 > $D/fp8_trace3_ss.txt 2>&1
  say "fp8_check trace3 (SS) rc=$?"; grep -E '^trace3|failed' $D/fp8_trace3_ss.txt | tee -a $D/summary.txt
fi

{
  echo "== fp818 summary ($VERDICT): smoke, conformance (SS=1; tiles 128x128, 128x192; TW=1), fp8_pair (12 rows, interleaved with _scaled_mm), fp8_check check, ncu, trace3"
  grep -hE 'cases wrong' $D/fp8_check.txt 2> /dev/null
  grep -hE '   pair$' $D/pair.txt 2> /dev/null
} | tee -a $D/summary.txt
pack
say "done"
