#!/bin/bash
# verify_mmq13.sh — device checks of mmq13's warp-specialized wgmma GEMM on ggml weights (kernels_cuda/ggml_mmq_ws_wg.cu,
# QUANTA_CUDA_GGML_MMQ=13 / 14 / 15, off by default), run after bench/e2e/run_h200.sh has built Quanta (/tmp/qbuild) and written
# the model files (/tmp/e2e/files); prebuild_mmq13.sh has built the kernel bench (/tmp/prebuild/mmq13/ggml_mmq_bench;
# if it is missing it is built here from the meson objects). About 75 s; later steps are skipped when late.
#   1. conformance of the ggml matmuls past the GEMV with =15 (the dense form, 128-byte swizzle: weight dequantized to
#      f16 per call, then the same kernel fed by bulk copies; tile by grid size, and 128x256 forced), =14 (the dense
#      form without swizzle) and =13 (round 2's producer order); a hang ends the ws steps;
#   2. pp512 on the two 7B files: the defaults, =15, =14, =13;
#   3. kernel rows (ggml_mmq_bench, NaN-poisoned outputs, maxdiff against the default route =7): =15 at M = 512 and 2048,
#      =14 and =13 at 512, on the 7B shapes, q4_0 and q8_0; =15's tiles on 14336 x 4096 at 2048;
#   4. cuBLAS bf16 on =15's rows (mmq_peers.py, torch): issue 14's "quantized GEMM >= 0.8x cuBLAS bf16" ratio.
# Everything goes to $OUT/mmq13/ (summary.txt; the tables at its end).
set -u
cd "$(dirname "$0")/../.." # the repository root
export PATH=$PATH:/usr/local/cuda/bin
. bench/common/verifylib.sh mmq13 ${LIMIT:-76}
Q=${QUANTA:-/tmp/qbuild/tools/quanta}
KB=${QBUILD:-/tmp/qbuild}/kernels_cuda
F=${FILES:-/tmp/e2e/files}
BENCH=/tmp/prebuild/mmq13/ggml_mmq_bench
[ -x $Q ] || { say "no $Q"; pack; exit 1; }
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm --format=csv,noheader 2>&1)"
say "prebuild: $(cat /tmp/prebuild/mmq13/build.txt 2>/dev/null)"
BENCH_PID=""
if [ ! -x $BENCH ]; then # from the meson objects, on the host's cores while the GPU steps run
  BENCH=$D/ggml_mmq_bench
  ( timeout 40 nvcc -std=c++17 -O3 -gencode=arch=compute_90,code=sm_90 -Iinclude -Ibase -Iformats -Ikernels_cuda -Ibench/cuda \
      bench/cuda/ggml_mmq_bench.cu $KB/ggml_mmq.cu.o $KB/ggml_mmq_frag.cu.o $KB/ggml_mmq_wg.cu.o $KB/ggml_mmq_ws_wg.cu.o \
      -o $BENCH > $D/bench_build.log 2>&1 ) &
  BENCH_PID=$!
fi

CASES=()
for w in q4_0 q4_1 q5_0 q5_1 q8_0 q4_k q5_k q6_k; do
  case $w in q4_k|q5_k|q6_k) k1=256 k2=512;; *) k1=96 k2=288;; esac
  CASES+=(--case "matmul:m=77,n=131,k=$k1,w=$w,x=f16" --case "matmul:m=130,n=200,k=$k2,w=$w,x=bf16"
          --case "matmul:m=512,n=3100,k=$k1,w=$w,x=f32" --case "matmul:m=200,n=260,k=$((k2 * 2)),w=$w,x=f16"
          --case "matmul:m=16,n=64,k=$k2,w=$w,x=f32" --case "matmul:m=65,n=33,k=$k1,w=$w,x=f32")
done
BIG=(--case "matmul:m=256,n=1024,k=4096,w=q4_0,x=f32" --case "matmul:m=130,n=512,k=14336,w=q8_0,x=f32"
     --case "matmul:m=300,n=640,k=2048,w=q6_k,x=f32" --case "matmul:m=256,n=2048,k=768,w=q4_k,x=f32"
     --case "matmul:m=130,n=12800,k=96,w=q4_0,x=f32" --case "matmul:m=200,n=12800,k=256,w=q6_k,x=f16"
     --case "matmul:m=512,n=4096,k=4096,w=q8_0,x=f32" --case "matmul:m=1000,n=1100,k=4096,w=q4_0,x=f32")

# 1. conformance: =15 (dense, swizzled) by grid size on every case and 128x256 forced, =14 (dense), =13 (round 2's
#    producer order) on the small cases
WS=ok
CONFORM_S=18 conform sw15_auto QUANTA_CUDA_GGML_MMQ=15 -- "${CASES[@]}" "${BIG[@]}"
rc=$?; [ $rc -eq 0 ] || WS=FAIL
if [ $rc -eq 124 ]; then say "sw15_auto timed out: a hang? the ws steps are skipped"; WS=HANG; fi
[ $WS = HANG ] || CONFORM_S=8 conform sw15_128x256 QUANTA_CUDA_GGML_MMQ=15 QUANTA_CUDA_GGML_MMQ_TILE=ws128x256 -- "${CASES[@]}" || WS=FAIL
[ $WS = HANG ] || CONFORM_S=8 conform dq14_auto QUANTA_CUDA_GGML_MMQ=14 -- "${CASES[@]}" || WS=FAIL
[ $WS = HANG ] || CONFORM_S=8 conform ws13_auto QUANTA_CUDA_GGML_MMQ=13 -- "${CASES[@]}" || WS=FAIL
pack

# 2. pp512: defaults, =13, =14
PP=()
pp() { # label file [VAR=value...]
  local label=$1 f=$2; shift 2
  [ -f $F/$f.gguf ] || { say "no $F/$f.gguf"; return 0; }
  [ $(left) -gt 30 ] || { say "pp $label skipped (time)"; return 0; }
  env "$@" timeout 12 $Q bench model -m $F/$f.gguf -p 512 -n 0 -r 3 --backend cuda --json > $D/pp_$label.json 2> $D/pp_$label.err
  local rc=$? v
  v=$(grep -o '"pp_tps": [0-9.]*, "pp_tps_sd": [0-9.]*' $D/pp_$label.json | sed 's/"pp_tps": //; s/, "pp_tps_sd": / ± /')
  say "pp512 $label rc=$rc: ${v:-none}"
  PP+=("| $label | ${v:-none} |")
}
for f in mistral7b-q4_0 mistral7b-q8_0; do
  pp ${f}__default $f QUANTA_PLAN_PROFILE=0
  [ $WS = HANG ] || { pp ${f}__sw15 $f QUANTA_CUDA_GGML_MMQ=15; pp ${f}__dq14 $f QUANTA_CUDA_GGML_MMQ=14;
                      pp ${f}__ws13 $f QUANTA_CUDA_GGML_MMQ=13; }
done
pack

# 3. kernel rows against the default route (=7): =14 at M = 512 and 2048, =13 at 512, the 7B shapes; =14's tiles
[ -n "$BENCH_PID" ] && { wait $BENCH_PID; say "bench build (meson objects): $(tail -2 $D/bench_build.log)"; }
kb() { # label NEW M SHAPES TILES
  [ $WS != HANG ] && [ -x $BENCH ] && [ $(left) -gt 16 ] || { say "kernel rows $1 skipped"; return 0; }
  MMQ_BENCH_NEW=$2 MMQ_BENCH_OLD=7 MMQ_BENCH_M=$3 MMQ_BENCH_FORMATS=q4_0,q8_0 MMQ_BENCH_TILES=$5 MMQ_BENCH_SHAPES=$4 \
    timeout $(($(left) - 12)) $BENCH $D/mmq_$1.csv > $D/mmq_$1.txt 2>&1
  say "kernel rows $1 rc=$?"; cat $D/mmq_$1.txt >> $D/summary.txt
}
S7=4096x4096,1024x4096,14336x4096,4096x14336
kb sw15 15 512,2048 $S7 0
kb dq14 14 512 $S7 0
kb ws13 13 512 $S7 0
kb sw15tiles 15 2048 14336x4096 1
pack

# 4. cuBLAS bf16 on =15's rows
if [ -s $D/mmq_sw15.csv ] && [ $(left) -gt 6 ] && python3 -c 'import torch' 2> /dev/null; then
  timeout $(($(left) - 2)) python3 bench/cuda/mmq_peers.py $D/mmq_sw15.csv > $D/mmq_peers.md 2> $D/mmq_peers.err
  say "mmq_peers rc=$?"
fi

{
  echo "== mmq13 summary =="
  echo "conformance with QUANTA_CUDA_GGML_MMQ=15 (auto, forced ws128x256), =14 and =13 (auto): $WS"
  echo "| pp512 (tok/s, -r 3) | mean ± sd |"; echo "|---|---|"
  for r in "${PP[@]}"; do echo "$r"; done
  [ -s $D/mmq_peers.md ] && { echo "kernel rows (ours = =15, old = =7) against cuBLAS bf16:"; cat $D/mmq_peers.md; }
} | tee -a $D/summary.txt
say "done"
pack
