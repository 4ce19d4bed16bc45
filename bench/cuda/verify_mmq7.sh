#!/bin/bash
# verify_mmq7.sh — device checks of mmq7's prefill work, run after bench/e2e/run_h200.sh has built Quanta
# (/tmp/qbuild, whose kernels_cuda/ggml_mmq*.cu.o step 4 links) and written the model files (/tmp/e2e/files).
# At most ~60 s: every step has its own timeout, later steps are skipped when late. Defaults since 19:15:
# QUANTA_CUDA_GGML_MMQ=7 (wgmma's 256x128 tile where its grid covers the GPU, else the fragment kernel) and
# 512-token prefill steps on CUDA (QUANTA_PREFILL_STEP unset).
#   1. conformance of the ggml matmuls past the GEMV with the defaults (two wide cases take the wgmma tile),
#      one wgmma against a host product (bench/cuda/wgmma_check.cu), every case on the forced 256x128 tile;
#   2. the fragment kernel on the q6_k matmul cases, GEMV ones included (the folded Q6_K header of
#      kernels_cuda/ggml_blocks.cuh feeds both decoders);
#   3. pp512 side by side: the defaults, the fragment kernel alone (QUANTA_CUDA_GGML_MMQ=6), 256-token steps;
#   4. kernel rows (bench/cuda/ggml_mmq_bench.cu): wgmma against frag on the 7B shapes at M = 512, every wgmma
#      tile; 5. the per-op profile of the 7B Q4_0 prefill; 6. ncu of the wgmma kernel when time is left.
# Everything goes to $OUT/mmq7/ (summary.txt: the numbers to decide with; the table at the end).
set -u
cd "$(dirname "$0")/../.." # the repository root
export PATH=$PATH:/usr/local/cuda/bin
. bench/common/verifylib.sh mmq7 58
Q=${QUANTA:-/tmp/qbuild/tools/quanta}
B=${QBUILD:-/tmp/qbuild}/kernels_cuda
F=${FILES:-/tmp/e2e/files}
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
     --case "matmul:m=300,n=640,k=2048,w=q6_k,x=f32" --case "matmul:m=256,n=2048,k=768,w=q4_k,x=f32"
     --case "matmul:m=130,n=12800,k=96,w=q4_0,x=f32" --case "matmul:m=200,n=12800,k=256,w=q6_k,x=f16")
WG=FAIL # the conformance verdict of the defaults

# 1. the defaults (wgmma on the wide cases), one wgmma against the host, the 256x128 tile on every case
conform default QUANTA_PLAN_PROFILE=0 -- "${CASES[@]}" "${BIG[@]}" && WG=ok
wait $CHECK_PID 2> /dev/null
if [ -x /tmp/wgmma_check7 ]; then timeout 10 /tmp/wgmma_check7 > $D/wgmma_check.txt 2>&1; say "wgmma_check rc=$?"
  tee -a $D/summary.txt < $D/wgmma_check.txt; else say "wgmma_check did not build: $(tail -2 $D/wgmma_check_build.log)"; fi
conform wg256x128 QUANTA_CUDA_GGML_MMQ_TILE=wg256x128 -- "${CASES[@]}" || WG=FAIL

# 2. the folded Q6_K header: default kernel and the GEMV on q6_k
Q6=($($Q conform --backend ref --list 2>/dev/null | grep -E '^(matmul|matmul_glu):.*w=q6_k' | head -40 | sed 's/^/--case /'))
[ ${#Q6[@]} -gt 0 ] && conform q6k_default QUANTA_CUDA_GGML_MMQ=6 -- "${Q6[@]}"

# 3. prefill side by side
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
  pp ${f}__default $f QUANTA_PLAN_PROFILE=0
  pp ${f}__frag $f QUANTA_CUDA_GGML_MMQ=6
  pp ${f}__step256 $f QUANTA_PREFILL_STEP=256
done

# 4. kernel rows, wgmma against frag at M = 512 (built in the background from the start)
wait $BENCH_PID 2> /dev/null
say "kernel bench build rc=$(cat $D/mmq_bench_build.rc 2> /dev/null)"
if [ $(left) -gt 12 ] && [ -x /tmp/ggml_mmq_bench7 ]; then
  MMQ_BENCH_NEW=7 MMQ_BENCH_OLD=6 MMQ_BENCH_M=512 MMQ_BENCH_FORMATS=q4_0,q8_0 \
    timeout 10 /tmp/ggml_mmq_bench7 $D/mmq_bench.csv > $D/mmq_bench.txt 2>&1
  say "kernel bench rc=$?"; tee -a $D/summary.txt < $D/mmq_bench.txt
fi

# 5. the profile of the defaults
if [ $(left) -gt 6 ] && [ -f $F/mistral7b-q4_0.gguf ]; then
  QUANTA_PLAN_PROFILE=1 timeout 8 $Q bench model -m $F/mistral7b-q4_0.gguf -p 512 -n 0 -r 1 --backend cuda > $D/pp_profile.txt 2>&1
  say "pp512 profile (defaults) rc=$?"; grep -A12 'per-op profile' $D/pp_profile.txt | tee -a $D/summary.txt
fi

# 6. ncu of the first wgmma launch of the q4_0 rows at M = 512 (the 14336 x 4096 shape on its 256x128 tile)
if [ "$WG" != FAIL ] && [ -x /tmp/ggml_mmq_bench7 ] && command -v ncu > /dev/null && [ $(left) -gt 12 ]; then
  NCU=(env MMQ_BENCH_NEW=7 MMQ_BENCH_OLD=6 MMQ_BENCH_FORMATS=q4_0 MMQ_BENCH_M=512 MMQ_BENCH_TILES=0
       timeout 10 ncu --kernel-name qn_k_ggml_mmq_wg --launch-count 1)
  "${NCU[@]}" --metrics gpu__time_duration.sum,lts__throughput.avg.pct_of_peak_sustained_elapsed,l1tex__throughput.avg.pct_of_peak_sustained_elapsed,smsp__issue_active.avg.pct_of_peak_sustained_active,sm__warps_active.avg.pct_of_peak_sustained_active,launch__registers_per_thread,launch__grid_size \
    /tmp/ggml_mmq_bench7 > $D/ncu_wg.txt 2>&1
  say "ncu wg rc=$?"; grep -E 'qn_k_ggml|duration|pct|registers|grid_size|ERR' $D/ncu_wg.txt | sed 's/  */ /g' | head -10 | tee -a $D/summary.txt
fi

{
  echo "== mmq7 summary (pp512 tok/s, mean ± sd of 3; default = wgmma where faster + 512-token steps;"
  echo "   frag = QUANTA_CUDA_GGML_MMQ=6; step256 = QUANTA_PREFILL_STEP=256) =="
  echo "conformance of the defaults and the forced 256x128 tile: $WG"
  [ -f $D/wgmma_check.txt ] && cat $D/wgmma_check.txt
  for r in "${ROWS[@]}"; do echo "  $r"; done
  [ -f $D/mmq_bench.txt ] && { echo "kernel rows at M = 512 (new = wgmma, old = frag):"; grep -E '^new|^fmt| auto$|wg256x128$' $D/mmq_bench.txt; }
} | tee -a $D/summary.txt
say "done"
