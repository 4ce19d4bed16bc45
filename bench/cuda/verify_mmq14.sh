#!/bin/bash
# verify_mmq14.sh — device checks of mmq14's register-A wgmma GEMM on GGUF Q4_0 / Q8_0 weights (kernels_cuda/ggml_mmq_rs_wg.cu,
# QUANTA_CUDA_GGML_MMQ=16, the default on compute capability 9.0 since round 1; =7 the previous default), run after
# bench/e2e/run_h200.sh has built Quanta (/tmp/qbuild) and written the model files (/tmp/e2e/files); prebuild_mmq14.sh
# has built the kernel bench (/tmp/prebuild/mmq14/ggml_mmq_bench; if missing it is built here from the meson objects).
# About 45 s; later steps are skipped when late. Deciding rows first:
#   1. pp512 on the two 7B files: the default (now =16) and =7 (the previous default);
#   2. conformance of the ggml matmuls past the GEMV with the default (every format: Q4_0 / Q8_0 with K a multiple of
#      256 on =16, the rest on kernel 7) and with the forced round-2 forms rs128x128g2 and rssplit (split K);
#   3. kernel rows against =16's auto pick (ggml_mmq_bench, NaN-poisoned outputs, maxdiff): the round-2 tiles
#      rs128x128g2 (two steps per wgmma group), rs128x256 and rs128x256c2 (256 tokens) at M = 512 and 2048 on
#      4096 x 4096 and 14336 x 4096, q4_0 and q8_0; then rssplit (K split 2-4 ways where the grid is small) on the
#      7B's k/v shape 1024 x 4096 at M = 256 and 512; a hang (no row) ends the kernel steps;
#   4. cuBLAS bf16 on the auto rows (mmq_peers.py, torch): issue 14's "quantized GEMM >= 0.8x cuBLAS bf16" ratio.
# Everything goes to $OUT/mmq14/ (summary.txt; the tables at its end).
set -u
cd "$(dirname "$0")/../.." # the repository root
export PATH=$PATH:/usr/local/cuda/bin
. bench/common/verifylib.sh mmq14 ${LIMIT:-50}
Q=${QUANTA:-/tmp/qbuild/tools/quanta}
KB=${QBUILD:-/tmp/qbuild}/kernels_cuda
F=${FILES:-/tmp/e2e/files}
BENCH=${MMQ14_BENCH:-/tmp/prebuild/mmq14/ggml_mmq_bench}
[ -x $Q ] || { say "no $Q"; pack; exit 1; }
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm --format=csv,noheader 2>&1)"
say "prebuild: $(cat /tmp/prebuild/mmq14/build.txt 2>/dev/null)"
BENCH_PID=""
if [ ! -x $BENCH ]; then # from the meson objects, on the host's cores while the GPU steps run
  BENCH=$D/ggml_mmq_bench
  ( timeout 40 nvcc -std=c++17 -O3 -gencode=arch=compute_90,code=sm_90 -Iinclude -Ibase -Iformats -Ikernels_cuda -Ibench/cuda \
      bench/cuda/ggml_mmq_bench.cu $KB/ggml_mmq.cu.o $KB/ggml_mmq_frag.cu.o $KB/ggml_mmq_wg.cu.o $KB/ggml_mmq_ws_wg.cu.o \
      $KB/ggml_mmq_rs_wg.cu.o -o $BENCH > $D/bench_build.log 2>&1 ) &
  BENCH_PID=$!
fi

# 1. pp512: the default (=16) and =7
PP=()
pp() { # label file [VAR=value...]
  local label=$1 f=$2; shift 2
  [ -f $F/$f.gguf ] || { say "no $F/$f.gguf"; return 0; }
  [ $(left) -gt 14 ] || { say "pp $label skipped (time)"; return 0; }
  env "$@" timeout 12 $Q bench model -m $F/$f.gguf -p 512 -n 0 -r 3 --backend cuda --json > $D/pp_$label.json 2> $D/pp_$label.err
  local rc=$? v
  v=$(grep -o '"pp_tps": [0-9.]*, "pp_tps_sd": [0-9.]*' $D/pp_$label.json | sed 's/"pp_tps": //; s/, "pp_tps_sd": / ± /')
  say "pp512 $label rc=$rc: ${v:-none}"
  PP+=("| $label | ${v:-none} |")
}
for f in mistral7b-q4_0 mistral7b-q8_0; do
  pp ${f}__default $f QUANTA_PLAN_PROFILE=0
  pp ${f}__mmq7 $f QUANTA_CUDA_GGML_MMQ=7
done
pack

# 2. conformance: the default route, then the round-2 tiles forced
CASES=()
for w in q4_0 q8_0; do
  CASES+=(--case "matmul:m=77,n=131,k=256,w=$w,x=f16" --case "matmul:m=130,n=200,k=512,w=$w,x=bf16"
          --case "matmul:m=512,n=3100,k=256,w=$w,x=f32" --case "matmul:m=200,n=260,k=1024,w=$w,x=f16"
          --case "matmul:m=65,n=33,k=256,w=$w,x=f32" --case "matmul:m=300,n=640,k=2048,w=$w,x=f32"
          --case "matmul:m=130,n=200,k=96,w=$w,x=f32")
done
OTHER=()
for w in q4_1 q5_0 q5_1 q4_k q5_k q6_k; do
  case $w in q4_k|q5_k|q6_k) k=512;; *) k=288;; esac
  OTHER+=(--case "matmul:m=130,n=200,k=$k,w=$w,x=bf16")
done
BIG=(--case "matmul:m=256,n=1024,k=4096,w=q4_0,x=f32" --case "matmul:m=130,n=512,k=14336,w=q8_0,x=f32"
     --case "matmul:m=1000,n=1100,k=1024,w=q4_0,x=f32")
RS=ok
CONFORM_S=10 conform default QUANTA_PLAN_PROFILE=0 -- "${CASES[@]}" "${OTHER[@]}" "${BIG[@]}" || RS=FAIL
CONFORM_S=5 conform rs128x128g2 QUANTA_CUDA_GGML_MMQ_TILE=rs128x128g2 -- "${CASES[@]}" || RS=FAIL
CONFORM_S=6 conform rssplit QUANTA_CUDA_GGML_MMQ_TILE=rssplit -- "${CASES[@]}" "${BIG[@]}" || RS=FAIL
pack

# 3. kernel rows: the round-2 tiles against =16's auto pick
[ -n "$BENCH_PID" ] && { wait $BENCH_PID; say "bench build (meson objects): $(tail -2 $D/bench_build.log)"; }
kb() { # label NEW OLD M SHAPES TILES SECONDS
  [ $RS != HANG ] && [ -x $BENCH ] && [ $(left) -gt 10 ] || { say "kernel rows $1 skipped"; return 0; }
  local lim=$7
  [ $lim -lt $(($(left) - 6)) ] || lim=$(($(left) - 6))
  MMQ_BENCH_NEW=$2 MMQ_BENCH_OLD=$3 MMQ_BENCH_M=$4 MMQ_BENCH_FORMATS=q4_0,q8_0 MMQ_BENCH_TILES=$6 MMQ_BENCH_SHAPES=$5 \
    timeout $lim $BENCH $D/mmq_$1.csv > $D/mmq_$1.txt 2>&1
  local rc=$?
  say "kernel rows $1 rc=$rc"; cat $D/mmq_$1.txt >> $D/summary.txt
  if [ $rc -eq 124 ]; then # cut short: a hang only if not even its first row came
    if [ $(cat $D/mmq_$1.csv 2>/dev/null | wc -l) -lt 2 ]; then say "kernel rows $1: no row in ${lim}s, a hang? kernel steps skipped"; RS=HANG
    else say "kernel rows $1 cut short at ${lim}s (rows kept)"; fi
  fi
  return 0
}
kb r2tiles 16 16 512,2048 4096x4096,14336x4096 rs128x128g2,rs128x256,rs128x256c2 14
kb r2split 16 16 256,512 1024x4096 rssplit 5
pack

# 4. cuBLAS bf16 on the auto rows
if [ -s $D/mmq_r2tiles.csv ] && [ $(left) -gt 8 ] && python3 -c 'import torch' 2> /dev/null; then
  grep -E '^format|,auto,' $D/mmq_r2tiles.csv > $D/mmq_auto.csv
  timeout $(($(left) - 2)) python3 bench/cuda/mmq_peers.py $D/mmq_auto.csv > $D/mmq_peers.md 2> $D/mmq_peers.err
  say "mmq_peers rc=$?"
fi

{
  echo "== mmq14 summary =="
  echo "conformance with the default (=16 where it applies) and rs128x128g2 / rssplit forced: $RS"
  echo "| pp512 (tok/s, -r 3) | mean ± sd |"; echo "|---|---|"
  for r in "${PP[@]}"; do echo "$r"; done
  [ -s $D/mmq_peers.md ] && { echo "kernel rows (ours = =16 auto, old = =16 auto) against cuBLAS bf16:"; cat $D/mmq_peers.md; }
} | tee -a $D/summary.txt
say "done"
pack
