#!/bin/bash
# verify_mmq8_tile.sh — device checks of mmq8's 256x64 tile of the ggml wgmma GEMM (QUANTA_CUDA_GGML_MMQ=8, not
# the default: the 7B's 4096-row weights at 512-token steps as 16 x 8 blocks of 16 warps, where the default's
# 256x128 tile leaves half the GPU idle and its other tiles run the fragment kernel). Run after
# bench/e2e/run_h200.sh has built Quanta (/tmp/qbuild) and written the model files (/tmp/e2e/files):
#   VERIFY="bench/cuda/verify_mmq8.sh bench/cuda/verify_mmq8_tile.sh" bash bench/e2e/run_h200.sh build files verify
# At most ~60 s: 1. conformance of the ggml matmuls past the GEMV with the tile forced and with =8's pick;
# 2. pp512 default (=7) against =8 on the 7B Q4_0 / Q8_0 files; 3. kernel rows (bench/cuda/ggml_mmq_bench.cu)
# =8 against =7 at M = 512, every wgmma tile (wg256x64 among them). Everything goes to $OUT/mmq8_tile/.
set -u
cd "$(dirname "$0")/../.." # the repository root
export PATH=$PATH:/usr/local/cuda/bin
. bench/common/verifylib.sh mmq8_tile 58
Q=${QUANTA:-/tmp/qbuild/tools/quanta}
B=${QBUILD:-/tmp/qbuild}/kernels_cuda
F=${FILES:-/tmp/e2e/files}
[ -x $Q ] || { say "no $Q"; exit 1; }
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm --format=csv,noheader 2>&1)"

rm -f /tmp/ggml_mmq_bench8
( timeout 40 nvcc -std=c++17 -O3 -gencode=arch=compute_90,code=sm_90 -Iinclude -Ibase -Iformats -Ikernels_cuda -Ibench/cuda \
    bench/cuda/ggml_mmq_bench.cu $B/ggml_mmq.cu.o $B/ggml_mmq_frag.cu.o $B/ggml_mmq_wg.cu.o -o /tmp/ggml_mmq_bench8 \
    > $D/mmq_bench_build.log 2>&1; echo $? > $D/mmq_bench_build.rc ) &
BENCH_PID=$!

# 1. conformance: verify_mmq7's ggml cases (odd shapes, K tails, wide grids), the tile forced, then =8's pick
CASES=()
for w in q4_0 q4_1 q5_0 q5_1 q8_0 q4_k q5_k q6_k; do
  case $w in q4_k|q5_k|q6_k) k1=256 k2=512;; *) k1=96 k2=288;; esac
  CASES+=(--case "matmul:m=77,n=131,k=$k1,w=$w,x=f16" --case "matmul:m=130,n=200,k=$k2,w=$w,x=bf16"
          --case "matmul:m=512,n=3100,k=$k1,w=$w,x=f32" --case "matmul:m=200,n=260,k=$((k2 * 2)),w=$w,x=f16")
done
WIDE=(--case "matmul:m=512,n=4096,k=1024,w=q4_0,x=f32" --case "matmul:m=512,n=4096,k=512,w=q8_0,x=f32"
      --case "matmul:m=300,n=1024,k=4096,w=q6_k,x=f16" --case "matmul:m=512,n=2048,k=768,w=q4_k,x=bf16")
CONFORM_S=14
conform wg256x64 QUANTA_CUDA_GGML_MMQ_TILE=wg256x64 -- "${CASES[@]}" "${WIDE[@]}"
conform mmq8 QUANTA_CUDA_GGML_MMQ=8 -- "${WIDE[@]}"

# 2. prefill side by side
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
if [ "$VERDICT" = ok ]; then
  for f in mistral7b-q4_0 mistral7b-q8_0; do
    pp ${f}__default $f QUANTA_PLAN_PROFILE=0
    pp ${f}__mmq8 $f QUANTA_CUDA_GGML_MMQ=8
  done
fi

# 3. kernel rows at M = 512: =8 against =7, every wgmma tile on the wide shapes
wait $BENCH_PID 2> /dev/null
say "kernel bench build rc=$(cat $D/mmq_bench_build.rc 2> /dev/null)"
if [ $(left) -gt 10 ] && [ -x /tmp/ggml_mmq_bench8 ]; then
  MMQ_BENCH_NEW=8 MMQ_BENCH_OLD=7 MMQ_BENCH_M=512 MMQ_BENCH_FORMATS=q4_0,q8_0 \
    timeout $(($(left) - 1)) /tmp/ggml_mmq_bench8 $D/mmq_bench.csv > $D/mmq_bench.txt 2>&1
  say "kernel bench rc=$?"; tee -a $D/summary.txt < $D/mmq_bench.txt
fi

{
  echo "== mmq8 tile summary (pp512 tok/s, mean ± sd of 3; default = QUANTA_CUDA_GGML_MMQ=7, mmq8 = =8 with 256x64)"
  echo "conformance (forced wg256x64, =8's pick): $VERDICT"
  for r in "${ROWS[@]}"; do echo "  $r"; done
  [ -f $D/mmq_bench.txt ] && grep -E '^fmt| auto$|wg256x(64|128)$' $D/mmq_bench.txt
} | tee -a $D/summary.txt
say "done"
