#!/bin/bash
# verify_mmq16.sh — device checks of mmq16's work on the sm_90a quantized GEMM (=17, kernels_cuda/ggml_mmq_rsi_wg.cu,
# the default), run after bench/e2e/run_h200.sh has built Quanta (/tmp/qbuild) and written the model files
# (/tmp/e2e/files); prebuild_mmq16.sh has built the kernel bench (/tmp/prebuild/mmq16/ggml_mmq_bench; if missing it
# is built here from the meson objects). Issue 14's target: cuBLAS bf16 time / ours >= 0.8 at M >= 256 and 2048.
# Round 2 (DR2, after the 00:11 call: PDL 1.00-1.09x and correct; the prep is 9-33 us of each row; copies, the RS
# operand and the 256-row tile are not the limit): deciding rows first —
#   1. conformance of the new default (QUANTA_CUDA_GGML_PDL on) and of QUANTA_CUDA_GGML_PREP_MU=4 (the prep's max pass
#      with four loads in flight; the same bits);
#   2. kernel rows (ggml_mmq_bench, same process): auto (the default, PDL on), nopdl, mu4, gemm (the GEMM alone) at
#      M = 512 and 2048 on the 7B shapes;
#   3. pp512 (7B Q4_0 / Q8_0): the default, PDL off, mu4;
#   4. cuBLAS bf16 on the same shapes (mmq_peers.py) and the table; one ncu of the default kernel on an unmet shape
#      (q8_0, M = 512, 4096 x 4096) with the warps' stall reasons, if time is left.
# About 48 s; later steps are skipped when late. Everything goes to $OUT/mmq16/ (summary.txt; the tables at its end).
set -u
cd "$(dirname "$0")/../.." # the repository root
export PATH=$PATH:/usr/local/cuda/bin
. bench/common/verifylib.sh mmq16 ${LIMIT:-48}
Q=${QUANTA:-/tmp/qbuild/tools/quanta}
KB=${QBUILD:-/tmp/qbuild}/kernels_cuda
F=${FILES:-/tmp/e2e/files}
BENCH=${MMQ16_BENCH:-/tmp/prebuild/mmq16/ggml_mmq_bench}
[ -x $Q ] || { say "no $Q"; pack; exit 1; }
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm --format=csv,noheader 2>&1)"
say "prebuild: $(cat /tmp/prebuild/mmq16/build.txt 2>/dev/null)"
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
# the table's picks at full size: 256 tokens with M and N tails, 128x128 two steps a group, split K (n=1024 at m=256)
BIG=(--case "matmul:m=256,n=1024,k=4096,w=q4_0,x=f32" --case "matmul:m=130,n=512,k=14336,w=q8_0,x=f32"
     --case "matmul:m=257,n=6300,k=256,w=q8_0,x=f16" --case "matmul:m=130,n=6300,k=512,w=q4_0,x=bf16")
RS=ok
# 1. conformance: the default (PDL on since 00:2x) and the prep with four loads in flight
CONFORM_S=9 conform default QUANTA_PLAN_PROFILE=0 -- "${CASES[@]}" "${BIG[@]}" || RS=FAIL
CONFORM_S=9 conform mu4 QUANTA_CUDA_GGML_PREP_MU=4 -- "${CASES[@]}" "${BIG[@]}" || RS=FAIL
pack

# 2. kernel rows: auto (PDL on) / nopdl / mu4 / gemm, same process
[ -n "$BENCH_PID" ] && { wait $BENCH_PID; say "bench build (meson objects): $(tail -2 $D/bench_build.log)"; }
kb() { # label M SHAPES TILES SECONDS [VAR=value...]
  [ $RS != HANG ] && [ -x $BENCH ] && [ $(left) -gt 8 ] || { say "kernel rows $1 skipped"; return 0; }
  local label=$1 m=$2 sh=$3 tiles=$4 lim=$5; shift 5
  [ $lim -lt $(($(left) - 5)) ] || lim=$(($(left) - 5))
  env MMQ_BENCH_NEW=17 MMQ_BENCH_OLD=17 MMQ_BENCH_M=$m MMQ_BENCH_FORMATS=q4_0,q8_0 MMQ_BENCH_TILES=$tiles \
    MMQ_BENCH_SHAPES=$sh MMQ_BENCH_EXTRA=pdl,mu4,gemm "$@" timeout $lim $BENCH $D/mmq_$label.csv > $D/mmq_$label.txt 2>&1
  local rc=$?
  say "kernel rows $label rc=$rc"; cat $D/mmq_$label.txt >> $D/summary.txt
  if [ $rc -eq 124 ]; then # cut short: a hang only if not even its first row came
    if [ $(cat $D/mmq_$label.csv 2>/dev/null | wc -l) -lt 2 ]; then say "kernel rows $label: no row in ${lim}s, a hang? kernel steps skipped"; RS=HANG
    else say "kernel rows $label cut short at ${lim}s (rows kept)"; fi
  fi
  return 0
}
kb m512 512 4096x4096,1024x4096,14336x4096,4096x14336 0 7
kb m2048 2048 4096x4096,14336x4096 0 7
pack

# 3. pp512 on the two 7B files: the default (PDL on), PDL off, the prep with four loads in flight
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
  pp ${f}__nopdl $f QUANTA_CUDA_GGML_PDL=0
  pp ${f}__mu4 $f QUANTA_CUDA_GGML_PREP_MU=4
done
pack

# 4. cuBLAS bf16 on the rows' shapes, then ncu if time is left
SHAPES="512x4096x4096 512x1024x4096 512x14336x4096 512x4096x14336 2048x4096x4096 2048x14336x4096"
if python3 -c 'import torch' 2> /dev/null && [ $(left) -gt 8 ]; then
  timeout $(($(left) - 2)) python3 bench/cuda/mmq_peers.py time $SHAPES > $D/peers_a.csv 2> $D/peers_a.err
  say "cuBLAS rc=$?: $(tail -n +2 $D/peers_a.csv | tr '\n' ' ')"
fi
pack
if [ $RS != HANG ] && [ -x $BENCH ] && [ $(left) -gt 9 ] && command -v ncu > /dev/null; then
  MMQ_BENCH_NEW=17 MMQ_BENCH_OLD=17 MMQ_BENCH_M=512 MMQ_BENCH_FORMATS=q8_0 MMQ_BENCH_TILES=0 MMQ_BENCH_SHAPES=4096x4096 \
    timeout $(($(left) - 2)) ncu --section SpeedOfLight --section WarpStateStats \
    --metrics regex:smsp__average_warps_issue_stalled_.*_per_issue_active.ratio \
    -k regex:qn_k_ggml_mmq_rsi -c 1 $BENCH > $D/ncu.txt 2>&1
  say "ncu rc=$?"
  grep -E "Duration|SM Frequency|Compute \(SM\) Throughput|Memory Throughput|Issue Slots Busy|Warp Cycles Per Issued" $D/ncu.txt | head -8 | tee -a $D/summary.txt
  grep -E "issue_stalled" $D/ncu.txt | sort -k3 -g -r | head -6 | tee -a $D/summary.txt
fi
{
  echo "== mmq16 summary (round 2) =="
  echo "conformance (default with PDL; PREP_MU=4): $RS"
  echo "| pp512 (tok/s, -r 3) | mean ± sd |"; echo "|---|---|"
  for r in "${PP[@]}"; do echo "$r"; done
  echo "kernel rows (auto = the default: =17 with PDL; nopdl; mu4 = the prep's max pass 4 loads in flight; gemm = the"
  echo "GEMM alone) against cuBLAS bf16:"
  for c in m512 m2048; do
    [ -s $D/mmq_$c.csv ] && python3 bench/cuda/mmq_peers.py table $D/mmq_$c.csv $(ls $D/peers_a.csv 2>/dev/null)
  done
} | tee -a $D/summary.txt
say "done"
pack
