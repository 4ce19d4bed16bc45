#!/bin/bash
# verify_mmq14.sh — device checks of mmq14's register-A wgmma GEMM on GGUF Q4_0 / Q8_0 weights (kernels_cuda/ggml_mmq_rs_wg.cu,
# QUANTA_CUDA_GGML_MMQ=16, off by default), run after bench/e2e/run_h200.sh has built Quanta (/tmp/qbuild) and written
# the model files (/tmp/e2e/files); prebuild_mmq14.sh has built the kernel bench (/tmp/prebuild/mmq14/ggml_mmq_bench;
# if it is missing it is built here from the meson objects). About 58 s; later steps are skipped when late.
# Deciding rows first:
#   1. kernel rows (ggml_mmq_bench, NaN-poisoned outputs, maxdiff against the default route =7): =16 at M = 512 and 2048
#      on the 7B shapes, q4_0 and q8_0; a hang (timeout) ends the =16 steps;
#   2. conformance of the ggml matmuls past the GEMV with =16 (tile by grid size; rs128x64 and rs128x128c2 forced): the
#      Q4_0 / Q8_0 cases with K a multiple of 256 run the new kernel (M and N tails, M = 65 .. 1000), the others its
#      fallback. (Call 0's "hang" of =15 was conform's 18 s limit reached on the case m=1000,n=1100,k=4096, whose CPU
#      reference takes seconds; 55 of 56 cases had passed. That case is k=1024 here.)
#   3. pp512 on the two 7B files: the defaults and =16;
#   4. cuBLAS bf16 on =16's rows (mmq_peers.py, torch): issue 14's "quantized GEMM >= 0.8x cuBLAS bf16" ratio;
#   5. if time is left: =16's four tiles (128 / 64 tokens, alone / clusters of two) at M = 512 and 2048 on
#      4096 x 4096 and 14336 x 4096; then mmq13's dense swizzled form =15 (never measured) on the same rows.
# Everything goes to $OUT/mmq14/ (summary.txt; the tables at its end).
set -u
cd "$(dirname "$0")/../.." # the repository root
export PATH=$PATH:/usr/local/cuda/bin
. bench/common/verifylib.sh mmq14 ${LIMIT:-58}
Q=${QUANTA:-/tmp/qbuild/tools/quanta}
KB=${QBUILD:-/tmp/qbuild}/kernels_cuda
F=${FILES:-/tmp/e2e/files}
BENCH=/tmp/prebuild/mmq14/ggml_mmq_bench
[ -x $Q ] || { say "no $Q"; pack; exit 1; }
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm --format=csv,noheader 2>&1)"
say "prebuild: $(cat /tmp/prebuild/mmq14/build.txt 2>/dev/null)"
if [ ! -x $BENCH ]; then # from the meson objects
  BENCH=$D/ggml_mmq_bench
  timeout 40 nvcc -std=c++17 -O3 -gencode=arch=compute_90,code=sm_90 -Iinclude -Ibase -Iformats -Ikernels_cuda -Ibench/cuda \
    bench/cuda/ggml_mmq_bench.cu $KB/ggml_mmq.cu.o $KB/ggml_mmq_frag.cu.o $KB/ggml_mmq_wg.cu.o $KB/ggml_mmq_ws_wg.cu.o \
    $KB/ggml_mmq_rs_wg.cu.o -o $BENCH > $D/bench_build.log 2>&1
  say "bench build (meson objects) rc=$?: $(tail -2 $D/bench_build.log)"
fi

RS=ok
# 1. kernel rows against the default route (=7)
kb() { # label NEW M SHAPES TILES SECONDS
  [ $RS != HANG ] && [ -x $BENCH ] && [ $(left) -gt 12 ] || { say "kernel rows $1 skipped"; return 0; }
  local lim=$6
  [ $lim -lt $(($(left) - 8)) ] || lim=$(($(left) - 8))
  MMQ_BENCH_NEW=$2 MMQ_BENCH_OLD=7 MMQ_BENCH_M=$3 MMQ_BENCH_FORMATS=q4_0,q8_0 MMQ_BENCH_TILES=$5 MMQ_BENCH_SHAPES=$4 \
    timeout $lim $BENCH $D/mmq_$1.csv > $D/mmq_$1.txt 2>&1
  local rc=$?
  say "kernel rows $1 rc=$rc"; cat $D/mmq_$1.txt >> $D/summary.txt
  if [ $rc -eq 124 ]; then # cut short: a hang only if not even its first row came
    if [ $(cat $D/mmq_$1.csv 2>/dev/null | wc -l) -lt 2 ]; then say "kernel rows $1: no row in ${lim}s, a hang? the =$2 steps are skipped"; RS=HANG
    else say "kernel rows $1 cut short at ${lim}s (rows kept)"; fi
  fi
  return 0
}
S7=4096x4096,1024x4096,14336x4096,4096x14336
kb rs16 16 512,2048 $S7 0 14
pack

# 2. conformance: =16 by grid size and rs128x64 forced
CASES=()
for w in q4_0 q8_0; do
  CASES+=(--case "matmul:m=77,n=131,k=256,w=$w,x=f16" --case "matmul:m=130,n=200,k=512,w=$w,x=bf16"
          --case "matmul:m=512,n=3100,k=256,w=$w,x=f32" --case "matmul:m=200,n=260,k=1024,w=$w,x=f16"
          --case "matmul:m=65,n=33,k=256,w=$w,x=f32" --case "matmul:m=300,n=640,k=2048,w=$w,x=f32"
          --case "matmul:m=130,n=200,k=96,w=$w,x=f32")
done
BIG=(--case "matmul:m=256,n=1024,k=4096,w=q4_0,x=f32" --case "matmul:m=130,n=512,k=14336,w=q8_0,x=f32"
     --case "matmul:m=1000,n=1100,k=1024,w=q4_0,x=f32"
     --case "matmul:m=130,n=300,k=512,w=q4_k,x=f32" --case "matmul:m=200,n=260,k=576,w=q5_0,x=f16")
if [ $RS != HANG ]; then
  CONFORM_S=12 conform rs16_auto QUANTA_CUDA_GGML_MMQ=16 -- "${CASES[@]}" "${BIG[@]}"
  rc=$?; [ $rc -eq 0 ] || RS=FAIL
  if [ $rc -eq 124 ]; then say "rs16_auto timed out: a hang? the =16 steps are skipped"; RS=HANG; fi
  [ $RS = HANG ] || CONFORM_S=6 conform rs16_128x64 QUANTA_CUDA_GGML_MMQ=16 QUANTA_CUDA_GGML_MMQ_TILE=rs128x64 -- "${CASES[@]}" || RS=FAIL
  [ $RS = HANG ] || CONFORM_S=6 conform rs16_c2 QUANTA_CUDA_GGML_MMQ=16 QUANTA_CUDA_GGML_MMQ_TILE=rs128x128c2 -- "${CASES[@]}" || RS=FAIL
fi
pack

# 3. pp512: defaults, =16, =15
PP=()
pp() { # label file [VAR=value...]
  local label=$1 f=$2; shift 2
  [ -f $F/$f.gguf ] || { say "no $F/$f.gguf"; return 0; }
  [ $(left) -gt 18 ] || { say "pp $label skipped (time)"; return 0; }
  env "$@" timeout 12 $Q bench model -m $F/$f.gguf -p 512 -n 0 -r 3 --backend cuda --json > $D/pp_$label.json 2> $D/pp_$label.err
  local rc=$? v
  v=$(grep -o '"pp_tps": [0-9.]*, "pp_tps_sd": [0-9.]*' $D/pp_$label.json | sed 's/"pp_tps": //; s/, "pp_tps_sd": / ± /')
  say "pp512 $label rc=$rc: ${v:-none}"
  PP+=("| $label | ${v:-none} |")
}
for f in mistral7b-q4_0 mistral7b-q8_0; do
  pp ${f}__default $f QUANTA_PLAN_PROFILE=0
  [ $RS = HANG ] || pp ${f}__rs16 $f QUANTA_CUDA_GGML_MMQ=16
done
pack

# 4. cuBLAS bf16 on =16's rows
if [ -s $D/mmq_rs16.csv ] && [ $(left) -gt 10 ] && python3 -c 'import torch' 2> /dev/null; then
  timeout $(($(left) - 4)) python3 bench/cuda/mmq_peers.py $D/mmq_rs16.csv > $D/mmq_peers.md 2> $D/mmq_peers.err
  say "mmq_peers rc=$?"
fi
pack

# 5. =16's tiles, then =15
kb rs16tiles 16 512,2048 4096x4096,14336x4096 1 8
RS15=$RS; RS=ok # =15's own hang check (a hang there says nothing of =16)
kb sw15 15 512,2048 4096x4096,14336x4096 0 6
RS=$RS15

{
  echo "== mmq14 summary =="
  echo "conformance with QUANTA_CUDA_GGML_MMQ=16 (auto, forced rs128x64 and rs128x128c2): $RS"
  echo "| pp512 (tok/s, -r 3) | mean ± sd |"; echo "|---|---|"
  for r in "${PP[@]}"; do echo "$r"; done
  [ -s $D/mmq_peers.md ] && { echo "kernel rows (ours = =16, old = =7) against cuBLAS bf16:"; cat $D/mmq_peers.md; }
} | tee -a $D/summary.txt
say "done"
pack
