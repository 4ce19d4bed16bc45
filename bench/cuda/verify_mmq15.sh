#!/bin/bash
# verify_mmq15.sh — device checks of mmq15's GEMM work on GGUF Q4_0 / Q8_0 weights, run after bench/e2e/run_h200.sh has
# built Quanta (/tmp/qbuild) and written the model files (/tmp/e2e/files); prebuild_mmq15.sh has built the kernel bench
# (/tmp/prebuild/mmq15/ggml_mmq_bench; if missing it is built here from the meson objects). Two things are checked:
#   - the default route's shape table (kernels_cuda/ggml_mmq_rs_wg.cu, =16, on since mmq15 from call 0's rows): 256-token
#     tiles where they cover ~3/4 of the SMs, else 128x128 with two steps per commit group, else 64-token tiles with K
#     split 2-4 ways;
#   - =17 (kernels_cuda/ggml_mmq_rsi_wg.cu, forced only): the same table, activations in a permuted K order so that the
#     decode is ~27-31% fewer instructions, the wide-load activation prep; forms rsi2c128x64 (two blocks per SM) and
#     the diagnostics rsidiag0 (constant A: the pipeline's own rate) / rsidiag1 (decode, no wgmma), whose outputs are
#     not the product (their maxdiff means nothing).
# About 45 s; later steps are skipped when late. Deciding rows first:
#   1. conformance of the default route (every Q4_0 / Q8_0 case with M / N tails, K = 256 .. 14336, f32 / f16 / bf16 x,
#      split K on 1024 x 4096) and of its 256-token tile forced (rs128x256);
#   2. pp512 on the two 7B files: the default and =17;
#   3. kernel rows =17 against the default (ggml_mmq_bench, NaN-poisoned outputs, maxdiff: =17 sums the same products
#      in another order inside each k16, ~1e-6 expected) on the pp512 shapes at M = 512 (4096 x 4096, 1024 x 4096,
#      14336 x 4096, 4096 x 14336) and at M = 2048 (4096 x 4096, 14336 x 4096);
#   4. conformance of =17 (auto: its table's 64 + split / 128 two-step / 256 picks) and of the default with the
#      wide-load prep (QUANTA_CUDA_GGML_PREP2=1); one ncu of the default's 256-token kernel (M = 512, 14336 x 4096);
#   5. kernel rows of =17's tiles and diagnostics at M = 512 on 4096 x 4096 and M = 2048 on 14336 x 4096;
#   6. cuBLAS bf16 on step 3's rows (mmq_peers.py, torch): issue 14's "quantized GEMM >= 0.8x cuBLAS bf16".
# Everything goes to $OUT/mmq15/ (summary.txt; the tables at its end).
set -u
cd "$(dirname "$0")/../.." # the repository root
export PATH=$PATH:/usr/local/cuda/bin
. bench/common/verifylib.sh mmq15 ${LIMIT:-45}
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

CASES=()
for w in q4_0 q8_0; do
  CASES+=(--case "matmul:m=77,n=131,k=256,w=$w,x=f16" --case "matmul:m=130,n=200,k=512,w=$w,x=bf16"
          --case "matmul:m=512,n=3100,k=256,w=$w,x=f32" --case "matmul:m=200,n=260,k=1024,w=$w,x=f16"
          --case "matmul:m=65,n=33,k=256,w=$w,x=f32" --case "matmul:m=300,n=640,k=2048,w=$w,x=f32"
          --case "matmul:m=130,n=200,k=96,w=$w,x=f32")
done
# the table's picks at full size: 256 tokens with M and N tails (m=257: 2 token tiles x n=6300: 50 weight tiles = 100
# blocks), 128x128 two steps a group (m=130: 1 x 50 at 256 tokens, 2 x 50 at 128), split K (n=1024 at m=256)
BIG=(--case "matmul:m=256,n=1024,k=4096,w=q4_0,x=f32" --case "matmul:m=130,n=512,k=14336,w=q8_0,x=f32"
     --case "matmul:m=257,n=6300,k=256,w=q8_0,x=f16" --case "matmul:m=130,n=6300,k=512,w=q4_0,x=bf16")
RS=ok
# 1. the default route's table
CONFORM_S=9 conform default QUANTA_PLAN_PROFILE=0 -- "${CASES[@]}" "${BIG[@]}" || RS=FAIL
CONFORM_S=4 conform rs128x256 QUANTA_CUDA_GGML_MMQ_TILE=rs128x256 -- "${CASES[@]}" || RS=FAIL
pack

# 2. pp512: the default and =17
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

# 3. kernel rows: =17 against the default, both on their tables
[ -n "$BENCH_PID" ] && { wait $BENCH_PID; say "bench build (meson objects): $(tail -2 $D/bench_build.log)"; }
kb() { # label NEW OLD M SHAPES TILES SECONDS
  [ $RS != HANG ] && [ -x $BENCH ] && [ $(left) -gt 8 ] || { say "kernel rows $1 skipped"; return 0; }
  local lim=$7
  [ $lim -lt $(($(left) - 5)) ] || lim=$(($(left) - 5))
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
kb m512 17 16 512 4096x4096,1024x4096,14336x4096,4096x14336 0 8
kb m2048 17 16 2048 4096x4096,14336x4096 0 5
# the default with the wide-load prep (QUANTA_CUDA_GGML_PREP2=1, the same bits): its times against m512's "old" column
KB_ENV=QUANTA_CUDA_GGML_PREP2=1 kb prep2 16 16 512 4096x4096,14336x4096 0 4
pack

# 4. conformance of =17 (its table's three picks: the BIG cases) and of the wide-load prep on the default route
CONFORM_S=8 conform rsi17 QUANTA_CUDA_GGML_MMQ=17 -- "${CASES[@]}" "${BIG[@]}" || RS=FAIL
CONFORM_S=4 conform prep2 QUANTA_CUDA_GGML_PREP2=1 -- "${CASES[@]}" || RS=FAIL
pack

# ncu of the default's 256-token kernel on gate/up's shape at M = 512 (cuBLAS / ours 0.67 there in call 0): where the
# warps' cycles go
if [ $RS != HANG ] && [ -x $BENCH ] && [ $(left) -gt 14 ] && command -v ncu > /dev/null; then
  MMQ_BENCH_NEW=16 MMQ_BENCH_OLD=16 MMQ_BENCH_M=512 MMQ_BENCH_FORMATS=q4_0 MMQ_BENCH_TILES=0 MMQ_BENCH_SHAPES=14336x4096 \
    timeout 10 ncu --section SpeedOfLight --section WarpStateStats --section ComputeWorkloadAnalysis \
    -k regex:qn_k_ggml_mmq_rs -c 1 $BENCH > $D/ncu.txt 2>&1
  say "ncu rc=$?"
  grep -E "Duration|SM Frequency|Compute \(SM\) Throughput|Memory Throughput|Executed Ipc|Issue Slots Busy|Warp Cycles Per Issued|stalled|Registers Per" $D/ncu.txt | head -12 | tee -a $D/summary.txt
fi
pack

# 5. =17's tiles and the diagnostics
KB_FMT=q4_0 kb tiles512 17 16 512 4096x4096 rsi128x128,rsi128x128g2,rsi2c128x64,rsidiag0,rsidiag1 4
kb tiles2048 17 16 2048 14336x4096 rsi128x256,rsi128x128,rsi2c128x64,rsidiag0,rsidiag1 5
pack

# 6. cuBLAS bf16 on step 3's rows
if [ -s $D/mmq_m512.csv ] && [ $(left) -gt 5 ] && python3 -c 'import torch' 2> /dev/null; then
  { cat $D/mmq_m512.csv; [ -s $D/mmq_m2048.csv ] && tail -n +2 $D/mmq_m2048.csv; } | grep -E '^format|,auto,' > $D/mmq_auto.csv
  timeout $(($(left) - 1)) python3 bench/cuda/mmq_peers.py $D/mmq_auto.csv > $D/mmq_peers.md 2> $D/mmq_peers.err
  say "mmq_peers rc=$?"
fi

{
  echo "== mmq15 summary =="
  echo "conformance (default table, rs128x256 forced; =17 auto; PREP2=1): $RS"
  echo "| pp512 (tok/s, -r 3) | mean ± sd |"; echo "|---|---|"
  for r in "${PP[@]}"; do echo "$r"; done
  [ -s $D/mmq_peers.md ] && { echo "kernel rows (ours = =17 auto, old = the default) against cuBLAS bf16:"; cat $D/mmq_peers.md; }
} | tee -a $D/summary.txt
say "done"
pack
