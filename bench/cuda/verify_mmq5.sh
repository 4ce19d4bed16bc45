#!/bin/bash
# verify_mmq5.sh — device checks of mmq5's 2026-12-05 prefill work, run after bench/e2e/run_h200.sh has
# built Quanta (/tmp/qbuild, whose kernels_cuda/*.cu.o objects step 3 links) and written the model files
# (/tmp/e2e/files). At most ~95 s (every step has its own timeout; later steps are skipped when late).
#   1. conformance of the ggml matmuls past the int8 GEMV (kernels_cuda/ggml_mmq.cu, on by default;
#      QUANTA_CUDA_GGML_MMQ=0 restores the old route: the weight dequantized to a tiled f16 copy per call):
#      every format, odd M/N, K tails, the tile picked by grid size and then each tile forced
#      (QUANTA_CUDA_GGML_MMQ_TILE); run_h200.sh's conform stage runs the whole suite besides;
#   2. prefill (pp512, -n 0) side by side in this one call: new (both routes on, the defaults), old
#      (QUANTA_CUDA_GGML_MMQ=0 QUANTA_CUDA_ATTN_F16=0: the code before this work), the new matmul alone,
#      new again, on the 7B Q4_0; new / old on the Gemma-shaped and 7B Q8_0 files;
#   3. kernel rows (bench/cuda/ggml_mmq_bench.cu): the new kernel against the old route on the 7B's
#      shapes at M = 16, 64, 512, µs, TFLOP/s and the largest difference of their outputs;
#   4. 7B-shaped matmul cases and pp512 with --kv f16, if time is left.
# The attention route (f32 prefill through f16 copies and the tensor-core kernel, engine/cuda/
# cuda_attention_f16.c, QUANTA_CUDA_ATTN_F16=0 turns it off) is checked by run_h200.sh's conform stage
# (every attention case; the f32 "prefill square" classes, Nq = 37, take the route).
# Everything goes to $OUT/mmq5/ (summary.txt first).
set -u
cd "$(dirname "$0")/../.." # the repository root
OUT=${OUT:-/tmp/e2e-out}
D=$OUT/mmq5
mkdir -p $D
Q=/tmp/qbuild/tools/quanta
F=/tmp/e2e/files
T0=$(date +%s)
say() { echo "[$(($(date +%s) - T0))s] $*" | tee -a $D/summary.txt; }
left() { echo $((88 - ($(date +%s) - T0))); }
[ -x $Q ] || { say "no $Q"; exit 1; }
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm --format=csv,noheader 2>&1)"

# 1. the ggml batched cases: auto tile, then each tile forced
CASES=()
for w in q4_0 q4_1 q5_0 q5_1 q8_0 q4_k q5_k q6_k; do
  case $w in q4_k|q5_k|q6_k) k1=256 k2=512;; *) k1=96 k2=288;; esac
  CASES+=(--case "matmul:m=16,n=64,k=$k2,w=$w,x=f32" --case "matmul:m=77,n=131,k=$k1,w=$w,x=f16"
          --case "matmul:m=130,n=200,k=$k2,w=$w,x=bf16" --case "matmul:m=9,n=33,k=$k1,w=$w,x=f32"
          --case "matmul:m=3,n=40,k=$k1,w=$w,x=f16" --case "matmul:m=512,n=3100,k=$k1,w=$w,x=f32")
done
for tile in auto 128x128 128x64 64x32; do
  [ $(left) -gt 10 ] || { say "conform tile $tile skipped (time)"; continue; }
  QUANTA_CUDA_GGML_MMQ_TILE=$tile timeout 12 $Q conform --backend cuda "${CASES[@]}" > $D/conform_tile_$tile.log 2>&1
  say "conform ggml matmul, tile $tile rc=$?: $(grep -E '^total' $D/conform_tile_$tile.log)"
  grep -E '^FAIL' $D/conform_tile_$tile.log | head -6 | tee -a $D/summary.txt
done

# 2. prefill side by side
pp() { # label env file [args]: prefill only, 512 tokens, 3 repetitions
  local label=$1 env=$2 f=$3; shift 3
  [ -f $F/$f.gguf ] || return 0
  [ $(left) -gt 8 ] || { say "pp $label skipped (time)"; return 0; }
  env $env timeout 20 $Q bench model -m $F/$f.gguf -p 512 -n 0 -r 3 --backend cuda --json "$@" > $D/pp_$label.json \
    2> $D/pp_$label.err
  say "pp512 $label rc=$?: $(grep -o '"pp_tps": [0-9.]*, "pp_tps_sd": [0-9.]*' $D/pp_$label.json)"
}
OLD="QUANTA_CUDA_GGML_MMQ=0 QUANTA_CUDA_ATTN_F16=0"
pp 7b_q4_0_new X=1 mistral7b-q4_0
pp 7b_q4_0_old "$OLD" mistral7b-q4_0
pp 7b_q4_0_mmq_only QUANTA_CUDA_ATTN_F16=0 mistral7b-q4_0
pp 7b_q4_0_new_again X=1 mistral7b-q4_0

pp gemma_new X=1 gemma3-270m-q4_k_m
pp gemma_old "$OLD" gemma3-270m-q4_k_m
pp 7b_q8_0_new X=1 mistral7b-q8_0
pp 7b_q8_0_old "$OLD" mistral7b-q8_0

# 3. kernel rows, linking the meson build's kernel objects
B=/tmp/qbuild/kernels_cuda
if [ $(left) -gt 25 ] && [ -f $B/ggml_mmq.cu.o ]; then
  timeout 40 nvcc -std=c++17 -O3 -gencode=arch=compute_90,code=sm_90 -Iinclude -Ibase -Iformats -Ikernels_cuda -Ibench/cuda \
    bench/cuda/ggml_mmq_bench.cu $B/ggml_mmq.cu.o $B/ggml.cu.o $B/matmul_q.cu.o -o /tmp/ggml_mmq_bench > $D/mmq_bench_build.log 2>&1
  say "kernel bench build rc=$?"
  [ -x /tmp/ggml_mmq_bench ] && MMQ_BENCH_FORMATS=q4_0,q8_0 timeout $(( $(left) > 30 ? 25 : $(left) - 5 )) \
    /tmp/ggml_mmq_bench $D/mmq_bench.csv > $D/mmq_bench.txt 2>&1
  say "kernel bench rc=$?"; cat $D/mmq_bench.txt | tee -a $D/summary.txt
fi
pp 7b_q4_0_new_kvf16 X=1 mistral7b-q4_0 --kv f16

# 4. 7B-shaped cases
if [ $(left) -gt 12 ]; then
  timeout $(($(left) - 2)) $Q conform --backend cuda --case "matmul:m=512,n=1024,k=4096,w=q4_0,x=f32" \
    --case "matmul:m=512,n=512,k=14336,w=q8_0,x=f32" --case "matmul:m=64,n=4096,k=4096,w=q4_0,x=f32" \
    > $D/conform_7b_shapes.log 2>&1
  say "conform 7B shapes rc=$?: $(grep -E '^total' $D/conform_7b_shapes.log)"
  grep -E '^FAIL' $D/conform_7b_shapes.log | head -4 | tee -a $D/summary.txt
fi
say "done"
