#!/bin/bash
# verify_mmq15.sh — device checks of mmq15's form of the register-A wgmma GEMM on GGUF Q4_0 / Q8_0 weights
# (kernels_cuda/ggml_mmq_rsi_wg.cu, QUANTA_CUDA_GGML_MMQ=17, forced only; =16 the default since mmq14), run after
# bench/e2e/run_h200.sh has built Quanta (/tmp/qbuild) and written the model files (/tmp/e2e/files); prebuild_mmq15.sh
# has built the kernel bench (/tmp/prebuild/mmq15/ggml_mmq_bench; if missing it is built here from the meson objects).
# About 55 s; later steps are skipped when late. Deciding rows first:
#   1. conformance of the ggml matmuls past the GEMV with =17 (auto tile): Q4_0 / Q8_0 with M and N tails, K = 256 ..
#      14336, f32 / f16 / bf16 activations (a wrong permutation or decode fails here);
#   2. kernel rows, =17 against =16 (ggml_mmq_bench, NaN-poisoned outputs, maxdiff: the same products summed in
#      another order within each k16, ~1e-6 expected) at M = 512 and 2048 on 4096 x 4096 and 14336 x 4096, q4_0 and
#      q8_0: the auto tile, rsi128x128g2 (two steps per commit group), rsi2c128x64 (128x64 tiles, two blocks per SM, no
#      producer warpgroup: four consumer warpgroups an SM that do not move in step), and the diagnostics rsidiag0 (constant A: no
#      decode — the pipeline's own rate) and rsidiag1 (decode, no wgmma — the decode's own rate), whose outputs are
#      not the product (their maxdiff means nothing);
#   3. pp512 on the two 7B files: the default (=16) and =17;
#   4. conformance of the forced tiles rsi128x64, rsi128x128g2, rsi2c128x64, rsisplit, and of the default route with the wide-load
#      activation prep (QUANTA_CUDA_GGML_PREP2=1; =17 always uses it; its kernel rows for =16 follow step 2's);
#   5. the N = 1024 rows (the 7B's k/v: 64 blocks at M = 512): =17's auto against rsisplit (K split 2-4 ways) at
#      M = 256, 512, 2048; and 4096 x 14336 (down) at M = 512 / 2048;
#   6. cuBLAS bf16 on the auto rows of 2 (mmq_peers.py, torch): issue 14's "quantized GEMM >= 0.8x cuBLAS bf16".
# Everything goes to $OUT/mmq15/ (summary.txt; the tables at its end).
set -u
cd "$(dirname "$0")/../.." # the repository root
export PATH=$PATH:/usr/local/cuda/bin
. bench/common/verifylib.sh mmq15 ${LIMIT:-58}
Q=${QUANTA:-/tmp/qbuild/tools/quanta}
KB=${QBUILD:-/tmp/qbuild}/kernels_cuda
F=${FILES:-/tmp/e2e/files}
BENCH=${MMQ15_BENCH:-/tmp/prebuild/mmq15/ggml_mmq_bench}
[ -x $Q ] || { say "no $Q"; pack; exit 1; }
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm --format=csv,noheader 2>&1)"
say "prebuild: $(cat /tmp/prebuild/mmq15/build.txt 2>/dev/null)"
BENCH_PID=""
if [ ! -x $BENCH ]; then # from the meson objects, on the host's cores while the GPU steps run
  BENCH=$D/ggml_mmq_bench
  ( timeout 40 nvcc -std=c++17 -O3 -gencode=arch=compute_90,code=sm_90 -Iinclude -Ibase -Iformats -Ikernels_cuda -Ibench/cuda \
      bench/cuda/ggml_mmq_bench.cu $KB/ggml_mmq.cu.o $KB/ggml_mmq_frag.cu.o $KB/ggml_mmq_wg.cu.o $KB/ggml_mmq_ws_wg.cu.o \
      $KB/ggml_mmq_rs_wg.cu.o $KB/ggml_mmq_rsi_wg.cu.o -o $BENCH > $D/bench_build.log 2>&1 ) &
  BENCH_PID=$!
fi

# 1. conformance of =17
CASES=()
for w in q4_0 q8_0; do
  CASES+=(--case "matmul:m=77,n=131,k=256,w=$w,x=f16" --case "matmul:m=130,n=200,k=512,w=$w,x=bf16"
          --case "matmul:m=512,n=3100,k=256,w=$w,x=f32" --case "matmul:m=200,n=260,k=1024,w=$w,x=f16"
          --case "matmul:m=65,n=33,k=256,w=$w,x=f32" --case "matmul:m=300,n=640,k=2048,w=$w,x=f32"
          --case "matmul:m=130,n=200,k=96,w=$w,x=f32")
done
BIG=(--case "matmul:m=256,n=1024,k=4096,w=q4_0,x=f32" --case "matmul:m=130,n=512,k=14336,w=q8_0,x=f32"
     --case "matmul:m=1000,n=1100,k=1024,w=q4_0,x=f32")
RS=ok
CONFORM_S=8 conform rsi17 QUANTA_CUDA_GGML_MMQ=17 -- "${CASES[@]}" "${BIG[@]}" || RS=FAIL
pack

# 2. kernel rows: =17 against =16
[ -n "$BENCH_PID" ] && { wait $BENCH_PID; say "bench build (meson objects): $(tail -2 $D/bench_build.log)"; }
kb() { # label NEW OLD M SHAPES TILES SECONDS
  [ $RS != HANG ] && [ -x $BENCH ] && [ $(left) -gt 10 ] || { say "kernel rows $1 skipped"; return 0; }
  local lim=$7
  [ $lim -lt $(($(left) - 6)) ] || lim=$(($(left) - 6))
  env ${KB_ENV:-KB_ENV=} MMQ_BENCH_NEW=$2 MMQ_BENCH_OLD=$3 MMQ_BENCH_M=$4 MMQ_BENCH_FORMATS=${KB_FMT:-q4_0,q8_0} \
    MMQ_BENCH_TILES=$6 MMQ_BENCH_SHAPES=$5 timeout $lim $BENCH $D/mmq_$1.csv > $D/mmq_$1.txt 2>&1
  local rc=$?
  say "kernel rows $1 rc=$rc"; cat $D/mmq_$1.txt >> $D/summary.txt
  if [ $rc -eq 124 ]; then # cut short: a hang only if not even its first row came
    if [ $(cat $D/mmq_$1.csv 2>/dev/null | wc -l) -lt 2 ]; then say "kernel rows $1: no row in ${lim}s, a hang? kernel steps skipped"; RS=HANG
    else say "kernel rows $1 cut short at ${lim}s (rows kept)"; fi
  fi
  return 0
}
kb main 17 16 512,2048 4096x4096,14336x4096 rsi128x128g2,rsi2c128x64,rsidiag0,rsidiag1 18
# =16 with the wide-load activation prep (QUANTA_CUDA_GGML_PREP2=1, the same bits): its times against main's "old" column
KB_ENV=QUANTA_CUDA_GGML_PREP2=1 KB_FMT=q4_0 kb prep2 16 16 512,2048 4096x4096,14336x4096 0 5
pack

# 3. pp512: the default (=16) and =17
PP=()
pp() { # label file [VAR=value...]
  local label=$1 f=$2; shift 2
  [ -f $F/$f.gguf ] || { say "no $F/$f.gguf"; return 0; }
  [ $(left) -gt 12 ] || { say "pp $label skipped (time)"; return 0; }
  env "$@" timeout 12 $Q bench model -m $F/$f.gguf -p 512 -n 0 -r 3 --backend cuda --json > $D/pp_$label.json 2> $D/pp_$label.err
  local rc=$? v
  v=$(grep -o '"pp_tps": [0-9.]*, "pp_tps_sd": [0-9.]*' $D/pp_$label.json | sed 's/"pp_tps": //; s/, "pp_tps_sd": / ± /')
  say "pp512 $label rc=$rc: ${v:-none}"
  PP+=("| $label | ${v:-none} |")
}
for f in mistral7b-q4_0 mistral7b-q8_0; do
  pp ${f}__default $f QUANTA_PLAN_PROFILE=0
  pp ${f}__rsi17 $f QUANTA_CUDA_GGML_MMQ=17
done
pack

# 4. conformance of the forced tiles
CONFORM_S=5 conform rsi128x64 QUANTA_CUDA_GGML_MMQ=17 QUANTA_CUDA_GGML_MMQ_TILE=rsi128x64 -- "${CASES[@]}" || RS=FAIL
CONFORM_S=5 conform rsi128x128g2 QUANTA_CUDA_GGML_MMQ=17 QUANTA_CUDA_GGML_MMQ_TILE=rsi128x128g2 -- "${CASES[@]}" || RS=FAIL
CONFORM_S=5 conform rsi2c128x64 QUANTA_CUDA_GGML_MMQ=17 QUANTA_CUDA_GGML_MMQ_TILE=rsi2c128x64 -- "${CASES[@]}" || RS=FAIL
CONFORM_S=6 conform rsisplit QUANTA_CUDA_GGML_MMQ=17 QUANTA_CUDA_GGML_MMQ_TILE=rsisplit -- "${CASES[@]}" "${BIG[@]}" || RS=FAIL
CONFORM_S=5 conform prep2 QUANTA_CUDA_GGML_PREP2=1 -- "${CASES[@]}" || RS=FAIL
pack

# 5. the partial-wave shapes: split K on 1024 x 4096; the down projection's shape
kb n1024 17 16 256,512,2048 1024x4096 rsisplit 6
kb down 17 16 512,2048 4096x14336 0 6
pack

# 6. cuBLAS bf16 on the auto rows
if [ -s $D/mmq_main.csv ] && [ $(left) -gt 6 ] && python3 -c 'import torch' 2> /dev/null; then
  cat $D/mmq_main.csv > $D/mmq_auto.csv.all
  for c in $D/mmq_n1024.csv $D/mmq_down.csv; do [ -s $c ] && tail -n +2 $c >> $D/mmq_auto.csv.all; done
  grep -E '^format|,auto,' $D/mmq_auto.csv.all > $D/mmq_auto.csv
  timeout $(($(left) - 2)) python3 bench/cuda/mmq_peers.py $D/mmq_auto.csv > $D/mmq_peers.md 2> $D/mmq_peers.err
  say "mmq_peers rc=$?"
fi

{
  echo "== mmq15 summary =="
  echo "conformance with =17 (auto; rsi128x64, rsi128x128g2, rsi2c128x64, rsisplit forced) and PREP2=1: $RS"
  echo "| pp512 (tok/s, -r 3) | mean ± sd |"; echo "|---|---|"
  for r in "${PP[@]}"; do echo "$r"; done
  [ -s $D/mmq_peers.md ] && { echo "kernel rows (ours = =17 auto, old = =16 auto) against cuBLAS bf16:"; cat $D/mmq_peers.md; }
} | tee -a $D/summary.txt
say "done"
pack
