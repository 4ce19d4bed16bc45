#!/bin/bash
# verify_mmq17.sh — device checks of mmq17's work on the sm_90a quantized GEMM (=17, kernels_cuda/ggml_mmq_rsi_wg.cu,
# the default, with its activation prep in kernels_cuda/ggml_mmq_ws_wg.cu), run after bench/e2e/run_h200.sh has built
# Quanta (/tmp/qbuild) and written the model files (/tmp/e2e/files); prebuild_mmq17.sh has built the kernel bench
# (/tmp/prebuild/mmq17/ggml_mmq_bench; if missing it is built here from the meson objects). Issue 14's target: cuBLAS
# bf16 time / ours >= 0.8 at M >= 256 and 2048.
# Round 1 (DR1; the default now has the prep's max pass with four loads in flight, PREP_MU=4, measured 02:25): deciding
# rows first —
#   1. conformance of the default and of the candidate QUANTA_CUDA_GGML_PREP1=1 (the prep in one pass over x: each
#      thread's whole blocks loaded at once and kept in registers through the row's max; the same bits);
#   2. kernel rows (ggml_mmq_bench, same process, interleaved): auto (the default), prep1 (the candidate), x256 (the
#      prep in 256-token tiles in its own buffer, as QUANTA_CUDA_GGML_XKEEP=1 runs it; the same bits), xkept (the GEMM
#      on a prep kept there: k/v's and up's GEMMs with XKEEP), gemm (the GEMM alone), prep / prep1only (each prep
#      alone) at M = 512 and 2048 on the 7B shapes;
#   3. cuBLAS bf16 on the same shapes (mmq_peers.py) and the tables;
#   4. pp512 (7B Q4_0 / Q8_0): the default, XKEEP=1, XKEEP=1 with PREP1=1; perplexity (7B Q4_0, 2 windows of 512,
#      --quant keep) with XKEEP off and on: the kept prep is only exercised by a model (conformance runs one op a
#      case), and the same bits give the same numbers;
#   5. the cluster split K (QUANTA_CUDA_GGML_CSPLIT=1: where the table picks 64-token tiles, 128-token tiles with K
#      split over a cluster, the sums added through distributed shared memory): conformance with it on and with its
#      tile forced on every case (rsic128), then kernel rows at M = 256 / 512 on the k/v shape and 4096 x 4096: csplit,
#      the forced rsic128 / rsic64 / rsic256, =16's split on 128 tokens (rsisplit128);
#   6. one ncu of the default GEMM on the k/v shape (q4_0, 512 x 1024 x 4096: the farthest from the target) with the
#      warps' stall reasons, if time is left.
# Order for a 48 s cut (04:03): conformance default / prep1, m512 rows, csplit rows + conformance, m2048 rows,
# cuBLAS, pp512 (default, XKEEP with PREP1), perplexity, ncu. About 48 s; later steps are skipped when late. Everything goes to $OUT/mmq17/ (summary.txt; the tables at its end).
set -u
cd "$(dirname "$0")/../.." # the repository root
export PATH=$PATH:/usr/local/cuda/bin
. bench/common/verifylib.sh mmq17 ${LIMIT:-48}
Q=${QUANTA:-/tmp/qbuild/tools/quanta}
KB=${QBUILD:-/tmp/qbuild}/kernels_cuda
F=${FILES:-/tmp/e2e/files}
BENCH=${MMQ17_BENCH:-/tmp/prebuild/mmq17/ggml_mmq_bench}
[ -x $Q ] || { say "no $Q"; pack; exit 1; }
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm --format=csv,noheader 2>&1)"
say "prebuild: $(cat /tmp/prebuild/mmq17/build.txt 2>/dev/null)"
BENCH_PID=""
if [ ! -x $BENCH ]; then # from the meson objects, on the host's cores while the GPU steps run
  BENCH=$D/ggml_mmq_bench
  ( timeout 40 nvcc -std=c++17 -O3 -gencode=arch=compute_90,code=sm_90 -Iinclude -Ibase -Iformats -Ikernels_cuda -Ibench/cuda \
      bench/cuda/ggml_mmq_bench.cu $KB/ggml_mmq.cu.o $KB/ggml_mmq_frag.cu.o $KB/ggml_mmq_wg.cu.o $KB/ggml_mmq_ws_wg.cu.o \
      $KB/ggml_mmq_rs_wg.cu.o $KB/ggml_mmq_rsi_wg.cu.o $KB/elementwise.cu.o -o $BENCH > $D/bench_build.log 2>&1 ) &
  BENCH_PID=$!
fi

CASES=()
for w in q4_0 q8_0; do
  CASES+=(--case "matmul:m=77,n=131,k=256,w=$w,x=f16" --case "matmul:m=130,n=200,k=512,w=$w,x=bf16"
          --case "matmul:m=512,n=3100,k=256,w=$w,x=f32" --case "matmul:m=200,n=260,k=1024,w=$w,x=f16"
          --case "matmul:m=65,n=33,k=256,w=$w,x=f32" --case "matmul:m=300,n=640,k=2048,w=$w,x=f32"
          --case "matmul:m=130,n=200,k=96,w=$w,x=f32")
done
# the table's picks at full size (256 tokens with M and N tails, 128x128 two steps a group, split K at n=1024), and
# K = 14336 / 20480 for the one-pass prep's 448 threads and its two blocks a thread
BIG=(--case "matmul:m=256,n=1024,k=4096,w=q4_0,x=f32" --case "matmul:m=130,n=512,k=14336,w=q8_0,x=f32"
     --case "matmul:m=257,n=6300,k=256,w=q8_0,x=f16" --case "matmul:m=130,n=6300,k=512,w=q4_0,x=bf16"
     --case "matmul:m=97,n=256,k=20480,w=q4_0,x=f32")
RS=ok
# 1. conformance: the default, then the one-pass prep
CONFORM_S=9 conform default QUANTA_PLAN_PROFILE=0 -- "${CASES[@]}" "${BIG[@]}" || RS=FAIL
CONFORM_S=9 conform prep1 QUANTA_CUDA_GGML_PREP1=1 -- "${CASES[@]}" "${BIG[@]}" || RS=FAIL
pack

# 2. kernel rows, same process
[ -n "$BENCH_PID" ] && { wait $BENCH_PID; say "bench build (meson objects): $(tail -2 $D/bench_build.log)"; }
kb() { # label M SHAPES TILES EXTRA SECONDS [VAR=value...]
  [ $RS != HANG ] && [ -x $BENCH ] && [ $(left) -gt 8 ] || { say "kernel rows $1 skipped"; return 0; }
  local label=$1 m=$2 sh=$3 tiles=$4 extra=$5 lim=$6; shift 6
  [ $lim -lt $(($(left) - 5)) ] || lim=$(($(left) - 5))
  env MMQ_BENCH_NEW=17 MMQ_BENCH_OLD=17 MMQ_BENCH_M=$m MMQ_BENCH_FORMATS=q4_0,q8_0 MMQ_BENCH_TILES=$tiles \
    MMQ_BENCH_SHAPES=$sh MMQ_BENCH_EXTRA=$extra "$@" timeout $lim $BENCH $D/mmq_$label.csv > $D/mmq_$label.txt 2>&1
  local rc=$?
  say "kernel rows $label rc=$rc"; cat $D/mmq_$label.txt >> $D/summary.txt
  if [ $rc -eq 124 ]; then # cut short: a hang only if not even its first row came
    if [ $(cat $D/mmq_$label.csv 2>/dev/null | wc -l) -lt 2 ]; then say "kernel rows $label: no row in ${lim}s, a hang? kernel steps skipped"; RS=HANG
    else say "kernel rows $label cut short at ${lim}s (rows kept)"; fi
  fi
  return 0
}
S4=4096x4096,1024x4096,14336x4096,4096x14336
kb m512 512 $S4 0 prep1,x256,xkept,gemm,prep,prep1only 7
pack
# the cluster split K (a new kernel form: rows before its conformance, so a hang shows as missing rows)
kb csplit 256,512 1024x4096,4096x4096 rsic128,rsic64,rsic256,rsisplit128 csplit,gemm 5
CONFORM_S=8 conform csplit QUANTA_CUDA_GGML_CSPLIT=1 -- "${CASES[@]}" "${BIG[@]}" || RS=FAIL
CONFORM_S=8 conform rsic128 QUANTA_CUDA_GGML_MMQ_TILE=rsic128 -- "${CASES[@]}" "${BIG[@]}" || RS=FAIL
kb m2048 2048 4096x4096,14336x4096 0 prep1,x256,xkept,gemm,prep,prep1only 5
pack

# 3. cuBLAS bf16 on the rows' shapes
SHAPES="512x4096x4096 512x1024x4096 512x14336x4096 512x4096x14336 2048x4096x4096 2048x14336x4096 256x4096x4096 256x1024x4096"
peers() { # file
  python3 -c 'import torch' 2> /dev/null && [ $(left) -gt 10 ] || { say "cuBLAS $1 skipped"; return 0; }
  timeout $(($(left) - 2)) python3 bench/cuda/mmq_peers.py time $SHAPES > $D/$1.csv 2> $D/$1.err
  say "cuBLAS $1 rc=$?: $(tail -n +2 $D/$1.csv | tr '\n' ' ')"
}
peers peers_a
pack

# 4. pp512 on the two 7B files: the default, the kept prep, both candidates; perplexity with the kept prep off / on
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
  pp ${f}__xkeep_prep1 $f QUANTA_CUDA_GGML_XKEEP=1 QUANTA_CUDA_GGML_PREP1=1
done
pack
PPL=()
for xk in 0 1; do
  f=mistral7b-q4_0
  [ -f $F/$f.gguf ] && [ $(left) -gt 14 ] || { say "perplexity XKEEP=$xk skipped"; continue; }
  QUANTA_CUDA_GGML_XKEEP=$xk timeout 12 $Q perplexity -m $F/$f.gguf -f README.md -c 512 --chunks 2 --quant keep \
    --backend cuda > $D/ppl_xkeep$xk.txt 2> $D/ppl_xkeep$xk.err
  r=$?; v=$(tr '\n' ' ' < $D/ppl_xkeep$xk.txt | sed 's/, [0-9.]* s)/)/' | tail -c 200) # the time left out
  say "perplexity $f XKEEP=$xk rc=$r: $v"; PPL+=("$v")
done
[ ${#PPL[@]} -eq 2 ] && { [ "${PPL[0]}" = "${PPL[1]}" ] && [ -n "${PPL[0]}" ] && say "perplexity XKEEP: the same" || { say "perplexity XKEEP: DIFFERENT"; RS=FAIL; }; }
pack


# ncu of the default GEMM on the k/v shape, then cuBLAS again
if [ $RS != HANG ] && [ -x $BENCH ] && [ $(left) -gt 10 ] && command -v ncu > /dev/null; then
  MMQ_BENCH_NEW=17 MMQ_BENCH_OLD=17 MMQ_BENCH_M=512 MMQ_BENCH_FORMATS=q4_0 MMQ_BENCH_TILES=0 MMQ_BENCH_SHAPES=1024x4096 \
    timeout $(($(left) - 2)) ncu --section SpeedOfLight --section WarpStateStats --section LaunchStats --section Occupancy \
    --metrics regex:smsp__average_warps_issue_stalled_.*_per_issue_active.ratio \
    -k regex:qn_k_ggml_mmq_rsi -c 1 $BENCH > $D/ncu.txt 2>&1
  say "ncu rc=$?"
  grep -E "Duration|SM Frequency|Compute \(SM\) Throughput|Memory Throughput|Grid Size|Achieved Occupancy|Warp Cycles Per Issued" $D/ncu.txt | head -8 | tee -a $D/summary.txt
  grep -E "issue_stalled" $D/ncu.txt | sort -k3 -g -r | head -6 | tee -a $D/summary.txt
fi
{
  echo "== mmq17 summary (round 1) =="
  echo "conformance (default = PREP_MU 4; PREP1=1; CSPLIT=1; rsic128 forced) and perplexity XKEEP off = on: $RS"
  echo "| pp512 (tok/s, -r 3) | mean ± sd |"; echo "|---|---|"
  for r in "${PP[@]}"; do echo "$r"; done
  echo "kernel rows (auto = the default; prep1 = the one-pass prep; x256 / xkept = the prep kept in 256-token tiles,"
  echo "made every call / kept; gemm = the GEMM alone; prep / prep1only = the prep alone, no y: maxdiff NaN; csplit ="
  echo "CSPLIT=1; rsic* its forced tiles) against cuBLAS bf16:"
  for c in m512 m2048 csplit; do
    [ -s $D/mmq_$c.csv ] && python3 bench/cuda/mmq_peers.py table $D/mmq_$c.csv $(ls $D/peers_a.csv 2>/dev/null)
  done
} | tee -a $D/summary.txt
say "done"
pack
