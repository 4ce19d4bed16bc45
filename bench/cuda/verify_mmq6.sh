#!/bin/bash
# verify_mmq6.sh — device checks of mmq6's prefill GEMM (kernels_cuda/ggml_mmq_frag.cu: each lane decodes its
# mma fragments from the staged raw ggml bytes; QUANTA_CUDA_GGML_MMQ=6 picks it, =5 mmq5's kernel that decodes
# each block tile into an f16 stage), run after bench/e2e/run_h200.sh has built Quanta (/tmp/qbuild, whose
# kernels_cuda/*.cu.o step 2 links) and written the model files (/tmp/e2e/files). At most ~90 s: every step
# has its own timeout, later steps are skipped when late.
#   1. conformance of the ggml matmuls past the GEMV on the new kernel: every format, odd M/N, K tails, the
#      7B shapes, the tile picked by grid size (later, step 4: each tile forced);
#   2. kernel rows (bench/cuda/ggml_mmq_bench.cu): frag against mmq5 on the 7B shapes at M = 512/64/16, µs,
#      TFLOP/s and the largest difference of their outputs (0 expected: same f16 values, same mma order);
#   3. pp512 (-n 0) on the three files, mmq5 then frag, side by side; Gemma's head dim 256 on the tensor-core
#      prefill attention (QUANTA_CUDA_ATTN_PREFILL_256=1): its conformance cases and pp512;
#   4. conformance with each tile forced; the per-op profile of the 7B Q4_0 pp512 on frag; 5. ncu, a few metrics of both kernels on the q4_0 4096x4096 row.
# Everything goes to $OUT/mmq6/ (summary.txt: the numbers to decide with).
set -u
cd "$(dirname "$0")/../.." # the repository root
export PATH=$PATH:/usr/local/cuda/bin # nvcc, ncu
OUT=${OUT:-/tmp/e2e-out}
D=$OUT/mmq6
mkdir -p $D
Q=/tmp/qbuild/tools/quanta
B=/tmp/qbuild/kernels_cuda
F=/tmp/e2e/files
T0=$(date +%s)
say() { echo "[$(($(date +%s) - T0))s] $*" | tee -a $D/summary.txt; }
left() { echo $((88 - ($(date +%s) - T0))); }
[ -x $Q ] || { say "no $Q"; exit 1; }
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm --format=csv,noheader 2>&1)"

CASES=()
for w in q4_0 q4_1 q5_0 q5_1 q8_0 q4_k q5_k q6_k; do
  case $w in q4_k|q5_k|q6_k) k1=256 k2=512;; *) k1=96 k2=288;; esac
  CASES+=(--case "matmul:m=16,n=64,k=$k2,w=$w,x=f32" --case "matmul:m=77,n=131,k=$k1,w=$w,x=f16"
          --case "matmul:m=130,n=200,k=$k2,w=$w,x=bf16" --case "matmul:m=9,n=33,k=$k1,w=$w,x=f32"
          --case "matmul:m=512,n=3100,k=$k1,w=$w,x=f32" --case "matmul:m=200,n=260,k=$((k2 * 2)),w=$w,x=f16")
done
BIG=(--case "matmul:m=512,n=1024,k=4096,w=q4_0,x=f32" --case "matmul:m=512,n=512,k=14336,w=q8_0,x=f32"
     --case "matmul:m=64,n=4096,k=4096,w=q4_0,x=f32" --case "matmul:m=300,n=640,k=2048,w=q6_k,x=f32")
conform() { # tile, cases...
  local tile=$1; shift
  [ $(left) -gt 10 ] || { say "conform tile $tile skipped (time)"; return 0; }
  QUANTA_CUDA_GGML_MMQ=6 QUANTA_CUDA_GGML_MMQ_TILE=$tile timeout 15 $Q conform --backend cuda "$@" \
    > $D/conform_tile_$tile.log 2>&1
  say "conform ggml matmul, frag kernel, tile $tile rc=$?: $(grep -E '^total' $D/conform_tile_$tile.log)"
  grep -E '^FAIL' $D/conform_tile_$tile.log | head -6 | tee -a $D/summary.txt
}

# 1. the new kernel, tile by grid size
conform auto "${CASES[@]}" "${BIG[@]}"

# 2. kernel rows
if [ $(left) -gt 30 ] && [ -f $B/ggml_mmq_frag.cu.o ]; then
  timeout 40 nvcc -std=c++17 -O3 -gencode=arch=compute_90,code=sm_90 -Iinclude -Ibase -Iformats -Ikernels_cuda -Ibench/cuda \
    bench/cuda/ggml_mmq_bench.cu $B/ggml_mmq.cu.o $B/ggml_mmq_frag.cu.o $B/ggml_mmq_wg.cu.o -o /tmp/ggml_mmq_bench > $D/mmq_bench_build.log 2>&1
  say "kernel bench build rc=$?"
  [ -x /tmp/ggml_mmq_bench ] && MMQ_BENCH_FORMATS=q4_0,q8_0,q4_k timeout 20 /tmp/ggml_mmq_bench $D/mmq_bench.csv > $D/mmq_bench.txt 2>&1
  say "kernel bench rc=$?"; tee -a $D/summary.txt < $D/mmq_bench.txt
fi

# 3. prefill side by side
pp() { # label kernel file [VAR=value...]
  local label=$1 k=$2 f=$3; shift 3
  [ -f $F/$f.gguf ] || return 0
  [ $(left) -gt 8 ] || { say "pp $label skipped (time)"; return 0; }
  env "$@" QUANTA_CUDA_GGML_MMQ=$k timeout 20 $Q bench model -m $F/$f.gguf -p 512 -n 0 -r 3 --backend cuda --json \
    > $D/pp_$label.json 2> $D/pp_$label.err
  say "pp512 $label rc=$?: $(grep -o '"pp_tps": [0-9.]*, "pp_tps_sd": [0-9.]*' $D/pp_$label.json)"
}
for f in mistral7b-q4_0 mistral7b-q8_0 gemma3-270m-q4_k_m; do
  pp ${f}_mmq5 5 $f
  pp ${f}_frag 6 $f
done

# 3b. Gemma's head dim 256 on the tensor-core prefill attention (QUANTA_CUDA_ATTN_PREFILL_256=1, else the
# generic kernel): its attention cases, then pp512
A256=($($Q conform --backend ref --filter attention --list 2>/dev/null | grep 'd=256' | sed 's/^/--case /'))
if [ $(left) -gt 12 ] && [ ${#A256[@]} -gt 0 ]; then
  QUANTA_CUDA_ATTN_PREFILL_256=1 timeout 15 $Q conform --backend cuda "${A256[@]}" > $D/conform_attn256.log 2>&1
  say "conform attention d=256, tensor-core prefill on, rc=$?: $(grep -E '^total' $D/conform_attn256.log)"
  grep -E '^FAIL' $D/conform_attn256.log | head -6 | tee -a $D/summary.txt
fi
pp gemma3-270m-q4_k_m_frag_attn256 6 gemma3-270m-q4_k_m QUANTA_CUDA_ATTN_PREFILL_256=1

# 4. each tile forced
for tile in 128x128 128x64 64x32; do conform $tile "${CASES[@]}"; done

# 4b. where the 7B Q4_0 prefill's time goes with the frag kernel (ops synchronized one by one: ranks, not times)
if [ $(left) -gt 12 ] && [ -f $F/mistral7b-q4_0.gguf ]; then
  QUANTA_PLAN_PROFILE=1 QUANTA_CUDA_GGML_MMQ=6 timeout 20 $Q bench model -m $F/mistral7b-q4_0.gguf -p 512 -n 0 -r 1 \
    --backend cuda > $D/pp_profile.txt 2>&1
  say "pp512 profile rc=$?"; grep -A12 'per-op profile' $D/pp_profile.txt | tee -a $D/summary.txt
fi

# 5. ncu: the first launch of each kernel in the q4_0 rows at M = 512 (the 4096x4096 shape comes first)
for k in qn_k_ggml_mmq_frag qn_k_ggml_mmq; do
  [ $(left) -gt 20 ] && [ -x /tmp/ggml_mmq_bench ] && command -v ncu > /dev/null || { say "ncu $k skipped"; continue; }
  MMQ_BENCH_FORMATS=q4_0 MMQ_BENCH_M=512 MMQ_BENCH_TILES=0 timeout $(($(left) > 40 ? 30 : $(left) - 5)) \
    ncu --kernel-name $k --launch-count 1 \
    --metrics gpu__time_duration.sum,sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,sm__inst_executed.sum,smsp__issue_active.avg.pct_of_peak_sustained_active,l1tex__data_bank_conflicts_pipe_lsu_mem_shared.sum,smsp__average_warps_issue_stalled_barrier_per_issue_active.ratio,smsp__average_warps_issue_stalled_math_pipe_throttle_per_issue_active.ratio,smsp__average_warps_issue_stalled_short_scoreboard_per_issue_active.ratio,smsp__average_warps_issue_stalled_long_scoreboard_per_issue_active.ratio,launch__registers_per_thread,sm__warps_active.avg.pct_of_peak_sustained_active \
    /tmp/ggml_mmq_bench > $D/ncu_$k.txt 2>&1
  say "ncu $k rc=$?"
  grep -E 'qn_k_ggml|duration|pct|inst_executed|conflicts|ratio|registers|ERR' $D/ncu_$k.txt | sed 's/  */ /g' | head -16 | tee -a $D/summary.txt
done
say "done"
