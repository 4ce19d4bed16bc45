#!/bin/bash
# verify_mmq7.sh — device checks of mmq7's prefill work, run after bench/e2e/run_h200.sh has built Quanta
# (/tmp/qbuild, whose kernels_cuda/ggml_mmq*.cu.o step 4 links) and written the model files (/tmp/e2e/files).
# At most ~60 s: every step has its own timeout, later steps are skipped when late.
#   1. conformance of the ggml matmuls past the GEMV on the wgmma kernel (tile by grid size, then forced 128x128,
#      64x128, 128x64) (kernels_cuda/ggml_mmq_wg.cu,
#      QUANTA_CUDA_GGML_MMQ=7; M > 64 takes it): every format, odd M/N, K tails, 7B-like shapes; if it fails,
#      again with the descriptor's two byte offsets swapped (QUANTA_CUDA_WGMMA_DESC_SWAP=1: which reading of
#      the PTX ISA's no-swizzle layout holds);
#      and one wgmma against a host product (bench/cuda/wgmma_check.cu), the descriptor read both ways;
#   2. the default kernel (frag) on the q6_k matmul cases, GEMV ones included (the folded Q6_K header of
#      kernels_cuda/ggml_blocks.cuh feeds both decoders);
#   3. pp512 side by side: frag vs wgmma, 256- vs 512-token prefill steps (QUANTA_PREFILL_STEP=512), three files;
#   4. kernel rows (bench/cuda/ggml_mmq_bench.cu): wgmma against frag on the 7B shapes at M = 256 (a prefill
#      step), every wgmma tile; 5. each wgmma tile forced through the conformance cases; the per-op profile;
#   6. ncu of the wgmma kernel (L2, issue, tensor pipe) when time is left.
# Everything goes to $OUT/mmq7/ (summary.txt: the numbers to decide with; the table at the end).
set -u
cd "$(dirname "$0")/../.." # the repository root
export PATH=$PATH:/usr/local/cuda/bin
OUT=${OUT:-/tmp/e2e-out}
D=$OUT/mmq7
mkdir -p $D
Q=${QUANTA:-/tmp/qbuild/tools/quanta}
B=${QBUILD:-/tmp/qbuild}/kernels_cuda
F=${FILES:-/tmp/e2e/files}
T0=$(date +%s)
say() { echo "[$(($(date +%s) - T0))s] $*" | tee -a $D/summary.txt; }
left() { echo $((58 - ($(date +%s) - T0))); }
[ -x $Q ] || { say "no $Q"; exit 1; }
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm --format=csv,noheader 2>&1)"

# the kernel bench builds on the host's cores while the GPU steps run
rm -f /tmp/ggml_mmq_bench7
( timeout 40 nvcc -std=c++17 -O3 -gencode=arch=compute_90,code=sm_90 -Iinclude -Ibase -Iformats -Ikernels_cuda -Ibench/cuda \
    bench/cuda/ggml_mmq_bench.cu $B/ggml_mmq.cu.o $B/ggml_mmq_frag.cu.o $B/ggml_mmq_wg.cu.o -o /tmp/ggml_mmq_bench7 \
    > $D/mmq_bench_build.log 2>&1; echo $? > $D/mmq_bench_build.rc ) &
BENCH_PID=$!
rm -f /tmp/wgmma_check7
( timeout 30 nvcc -std=c++17 -O2 -gencode=arch=compute_90a,code=sm_90a -Ikernels_cuda bench/cuda/wgmma_check.cu \
    -o /tmp/wgmma_check7 > $D/wgmma_check_build.log 2>&1 ) &
CHECK_PID=$!

CASES=()
for w in q4_0 q4_1 q5_0 q5_1 q8_0 q4_k q5_k q6_k; do
  case $w in q4_k|q5_k|q6_k) k1=256 k2=512;; *) k1=96 k2=288;; esac
  CASES+=(--case "matmul:m=77,n=131,k=$k1,w=$w,x=f16" --case "matmul:m=130,n=200,k=$k2,w=$w,x=bf16"
          --case "matmul:m=512,n=3100,k=$k1,w=$w,x=f32" --case "matmul:m=200,n=260,k=$((k2 * 2)),w=$w,x=f16"
          --case "matmul:m=16,n=64,k=$k2,w=$w,x=f32" --case "matmul:m=65,n=33,k=$k1,w=$w,x=f32")
done
BIG=(--case "matmul:m=256,n=1024,k=4096,w=q4_0,x=f32" --case "matmul:m=130,n=512,k=14336,w=q8_0,x=f32"
     --case "matmul:m=300,n=640,k=2048,w=q6_k,x=f32" --case "matmul:m=256,n=2048,k=768,w=q4_k,x=f32")
WG=FAIL # the conformance verdict of the wgmma kernel (auto tiles)
conform() { # label, env..., -- cases...
  local label=$1; shift
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done; shift
  [ $(left) -gt 5 ] || { say "conform $label skipped (time)"; return 1; }
  env "${envs[@]}" timeout 12 $Q conform --backend cuda "$@" > $D/conform_$label.log 2>&1
  local rc=$?
  say "conform $label rc=$rc: $(grep -E '^total' $D/conform_$label.log)"
  grep -E '^FAIL' $D/conform_$label.log | head -4 | tee -a $D/summary.txt
  return $rc
}

# 1. the wgmma kernel, tile by grid size; on failure the other descriptor reading
if conform wg_auto QUANTA_CUDA_GGML_MMQ=7 -- "${CASES[@]}" "${BIG[@]}"; then WG=ok
elif conform wg_auto_swap QUANTA_CUDA_GGML_MMQ=7 QUANTA_CUDA_WGMMA_DESC_SWAP=1 -- "${CASES[@]}" "${BIG[@]}"; then
  WG="ok only with QUANTA_CUDA_WGMMA_DESC_SWAP=1"
fi

# 1b. one wgmma against a host product, the descriptor read both ways (bench/cuda/wgmma_check.cu)
wait $CHECK_PID 2> /dev/null
if [ -x /tmp/wgmma_check7 ]; then timeout 10 /tmp/wgmma_check7 > $D/wgmma_check.txt 2>&1; say "wgmma_check rc=$?"
  tee -a $D/summary.txt < $D/wgmma_check.txt; else say "wgmma_check did not build: $(tail -2 $D/wgmma_check_build.log)"; fi

# 1c. the tiles the grid-size pick rarely gives on these small cases (128x128 takes the 7B's weights at 512-token steps)
SWAP=()
[ "$WG" != ok ] && [ "$WG" != FAIL ] && SWAP=(QUANTA_CUDA_WGMMA_DESC_SWAP=1)
if [ "$WG" != FAIL ]; then
  for tile in wg128x128 wg64x128 wg128x64; do
    conform $tile QUANTA_CUDA_GGML_MMQ=7 QUANTA_CUDA_GGML_MMQ_TILE=$tile "${SWAP[@]}" -- "${CASES[@]}"
  done
fi

# 2. the folded Q6_K header: default kernel and the GEMV on q6_k
Q6=($($Q conform --backend ref --list 2>/dev/null | grep -E '^(matmul|matmul_glu):.*w=q6_k' | head -40 | sed 's/^/--case /'))
[ ${#Q6[@]} -gt 0 ] && conform q6k_default QUANTA_CUDA_GGML_MMQ=6 -- "${Q6[@]}"

# 3. prefill side by side (the wgmma rows only when its conformance passed)
ROWS=()
pp() { # label file [VAR=value...]
  local label=$1 f=$2; shift 2
  [ -f $F/$f.gguf ] || return 0
  [ $(left) -gt 4 ] || { say "pp $label skipped (time)"; return 0; }
  env "$@" timeout 10 $Q bench model -m $F/$f.gguf -p 512 -n 0 -r 3 --backend cuda --json > $D/pp_$label.json 2> $D/pp_$label.err
  local rc=$? v
  v=$(grep -o '"pp_tps": [0-9.]*, "pp_tps_sd": [0-9.]*' $D/pp_$label.json | sed 's/"pp_tps": //; s/, "pp_tps_sd": / ± /')
  say "pp512 $label rc=$rc: ${v:-none}"
  ROWS+=("$label ${v:-none}")
}
for f in mistral7b-q4_0 mistral7b-q8_0 gemma3-270m-q4_k_m; do
  pp ${f}__frag_step256 $f QUANTA_CUDA_GGML_MMQ=6
  [ "$WG" != FAIL ] && pp ${f}__wg_step256 $f QUANTA_CUDA_GGML_MMQ=7 "${SWAP[@]}"
  [ $f != gemma3-270m-q4_k_m ] && pp ${f}__frag_step512 $f QUANTA_CUDA_GGML_MMQ=6 QUANTA_PREFILL_STEP=512
  [ "$WG" != FAIL ] && pp ${f}__wg_step512 $f QUANTA_CUDA_GGML_MMQ=7 QUANTA_PREFILL_STEP=512 "${SWAP[@]}"
done

# 4. kernel rows, wgmma against frag at M = 256 (built in the background from the start)
wait $BENCH_PID 2> /dev/null
say "kernel bench build rc=$(cat $D/mmq_bench_build.rc 2> /dev/null)"
if [ $(left) -gt 12 ] && [ -x /tmp/ggml_mmq_bench7 ]; then
  MMQ_BENCH_NEW=7 MMQ_BENCH_OLD=6 MMQ_BENCH_M=256 MMQ_BENCH_FORMATS=q4_0,q8_0,q6_k \
    timeout 10 /tmp/ggml_mmq_bench7 $D/mmq_bench.csv > $D/mmq_bench.txt 2>&1
  say "kernel bench rc=$?"; tee -a $D/summary.txt < $D/mmq_bench.txt
fi

# 5. the other two wgmma tiles forced; the profile
if [ "$WG" != FAIL ]; then
  for tile in wg64x64 wg256x128; do
    conform $tile QUANTA_CUDA_GGML_MMQ=7 QUANTA_CUDA_GGML_MMQ_TILE=$tile "${SWAP[@]}" -- "${CASES[@]}"
  done
  if [ $(left) -gt 6 ] && [ -f $F/mistral7b-q4_0.gguf ]; then
    env QUANTA_PLAN_PROFILE=1 QUANTA_CUDA_GGML_MMQ=7 QUANTA_PREFILL_STEP=512 "${SWAP[@]}" timeout 8 $Q bench model \
      -m $F/mistral7b-q4_0.gguf -p 512 -n 0 -r 1 --backend cuda > $D/pp_profile.txt 2>&1
    say "pp512 profile (wgmma, 512-token step) rc=$?"; grep -A12 'per-op profile' $D/pp_profile.txt | tee -a $D/summary.txt
  fi
fi

# 6. ncu of the first wgmma launch on the q4_0 4096x4096 row at M = 256 (the metrics that say whether L2 or the
# decode limits it; the tensor-pipe metric in a second pass, in case this ncu does not know its name)
if [ "$WG" != FAIL ] && [ -x /tmp/ggml_mmq_bench7 ] && command -v ncu > /dev/null && [ $(left) -gt 12 ]; then
  NCU=(env MMQ_BENCH_NEW=7 MMQ_BENCH_OLD=6 MMQ_BENCH_FORMATS=q4_0 MMQ_BENCH_M=256 MMQ_BENCH_TILES=0 "${SWAP[@]}"
       timeout 10 ncu --kernel-name qn_k_ggml_mmq_wg --launch-count 1)
  "${NCU[@]}" --metrics gpu__time_duration.sum,lts__throughput.avg.pct_of_peak_sustained_elapsed,l1tex__throughput.avg.pct_of_peak_sustained_elapsed,smsp__issue_active.avg.pct_of_peak_sustained_active,sm__warps_active.avg.pct_of_peak_sustained_active,launch__registers_per_thread,launch__grid_size \
    /tmp/ggml_mmq_bench7 > $D/ncu_wg.txt 2>&1
  say "ncu wg rc=$?"; grep -E 'qn_k_ggml|duration|pct|registers|grid_size|ERR' $D/ncu_wg.txt | sed 's/  */ /g' | head -10 | tee -a $D/summary.txt
  if [ $(left) -gt 8 ]; then
    "${NCU[@]}" --metrics sm__pipe_tensor_op_gmma_cycles_active.avg.pct_of_peak_sustained_active /tmp/ggml_mmq_bench7 > $D/ncu_wg2.txt 2>&1
    say "ncu wg tensor pipe rc=$?"; grep -E 'gmma|ERR' $D/ncu_wg2.txt | sed 's/  */ /g' | head -3 | tee -a $D/summary.txt
  fi
fi

{
  echo "== mmq7 summary (pp512 tok/s, mean ± sd of 3; frag = QUANTA_CUDA_GGML_MMQ=6 (default), wg = 7;"
  echo "   step512 = QUANTA_PREFILL_STEP=512) =="
  echo "wgmma conformance: $WG"
  [ -f $D/wgmma_check.txt ] && cat $D/wgmma_check.txt
  for r in "${ROWS[@]}"; do echo "  $r"; done
  [ -f $D/mmq_bench.txt ] && { echo "kernel rows at M = 256 (new = wgmma, old = frag; auto tile):"; grep -E '^new|^fmt| auto$' $D/mmq_bench.txt; }
} | tee -a $D/summary.txt
say "done"
