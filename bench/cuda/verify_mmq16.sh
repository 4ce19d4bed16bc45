#!/bin/bash
# verify_mmq16.sh — device checks of mmq16's work on the sm_90a quantized GEMM (=17, kernels_cuda/ggml_mmq_rsi_wg.cu,
# the default), run after bench/e2e/run_h200.sh has built Quanta (/tmp/qbuild) and written the model files
# (/tmp/e2e/files); prebuild_mmq16.sh has built the kernel bench (/tmp/prebuild/mmq16/ggml_mmq_bench; if missing it
# is built here from the meson objects). Issue 14's target: cuBLAS bf16 time / ours >= 0.8 at M >= 256 and 2048.
# What it measures (round 1: where the time goes, and one candidate):
#   - QUANTA_CUDA_GGML_PDL=1 (the candidate: the GEMM as a programmatic dependent launch of its activation prep):
#     conformance, kernel rows ("pdl" against "auto" in the same process), pp512;
#   - "gemm" rows: the GEMM alone (the prep skipped, its last output reused): the prep's share of each row;
#   - rows with bf16 x and y (cuBLAS bf16's operands) beside the engine's f32 / f32;
#   - rsi256x128 / rsi256x64 (candidates for round 2: 256 weight rows a tile, the activation slab read once per 256
#     rows: 19-31% fewer bytes into the SM per flop than the 128x256 tile);
#   - forced forms: rsiss (the same data path with SS wgmma, A from the slab, no decode: the ceiling of this pipeline
#     against cuBLAS), rsinocopy (decode and wgmma without copies past the rings' first fill: the consumers' own
#     rate; against auto: what the copies cost), rsidiag256 (constant A on the 256-token tile), rsi128x256g2 (two steps per commit group on
#     256 tokens), rsi128x256a2 (Q8_0: a 4-slot B ring on 256 tokens), rsisplit128 (k/v: 128 tokens, K split 4);
#   - cuBLAS bf16 on the same shapes before and after our rows (mmq_peers.py), one ncu of the default kernel on
#     an unmet shape (q8_0, M = 512, 4096 x 4096) with the warps' stall reasons.
# About 55 s; later steps are skipped when late. Everything goes to $OUT/mmq16/ (summary.txt; the tables at its end).
set -u
cd "$(dirname "$0")/../.." # the repository root
export PATH=$PATH:/usr/local/cuda/bin
. bench/common/verifylib.sh mmq16 ${LIMIT:-56}
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
# 1. the candidate's conformance (every pick of the table, launched as a programmatic dependent of the prep)
CONFORM_S=9 conform pdl QUANTA_CUDA_GGML_PDL=1 -- "${CASES[@]}" "${BIG[@]}" || RS=FAIL
pack

# 2. cuBLAS bf16 on the rows' shapes, before ours (again after them: step 8)
SHAPES="512x4096x4096 512x1024x4096 512x14336x4096 512x4096x14336 2048x4096x4096 2048x14336x4096"
HAVE_TORCH=0; python3 -c 'import torch' 2> /dev/null && HAVE_TORCH=1
peers() { # file
  [ $HAVE_TORCH = 1 ] && [ $(left) -gt 8 ] || { say "cuBLAS $1 skipped"; return 0; }
  timeout 12 python3 bench/cuda/mmq_peers.py time $SHAPES > $D/$1.csv 2> $D/$1.err
  say "cuBLAS $1 rc=$?: $(tail -n +2 $D/$1.csv | tr '\n' ' ')"
}
peers peers_a

# 3. kernel rows: the default (auto), the GEMM alone (gemm), the candidate (pdl), and forced forms
[ -n "$BENCH_PID" ] && { wait $BENCH_PID; say "bench build (meson objects): $(tail -2 $D/bench_build.log)"; }
kb() { # label M SHAPES TILES SECONDS [VAR=value...] (MMQ_BENCH_EXTRA=gemm unless given)
  [ $RS != HANG ] && [ -x $BENCH ] && [ $(left) -gt 8 ] || { say "kernel rows $1 skipped"; return 0; }
  local label=$1 m=$2 sh=$3 tiles=$4 lim=$5; shift 5
  [ $lim -lt $(($(left) - 5)) ] || lim=$(($(left) - 5))
  env MMQ_BENCH_NEW=17 MMQ_BENCH_OLD=17 MMQ_BENCH_M=$m MMQ_BENCH_FORMATS=q4_0,q8_0 MMQ_BENCH_TILES=$tiles \
    MMQ_BENCH_SHAPES=$sh MMQ_BENCH_EXTRA=gemm "$@" timeout $lim $BENCH $D/mmq_$label.csv > $D/mmq_$label.txt 2>&1
  local rc=$?
  say "kernel rows $label rc=$rc"; cat $D/mmq_$label.txt >> $D/summary.txt
  if [ $rc -eq 124 ]; then # cut short: a hang only if not even its first row came
    if [ $(cat $D/mmq_$label.csv 2>/dev/null | wc -l) -lt 2 ]; then say "kernel rows $label: no row in ${lim}s, a hang? kernel steps skipped"; RS=HANG
    else say "kernel rows $label cut short at ${lim}s (rows kept)"; fi
  fi
  return 0
}
# the candidate in processes of its own (a launch it refuses ends the bench): "pdl" against "auto" of the same process
kb pdl 512,2048 4096x4096,1024x4096,14336x4096 0 6 MMQ_BENCH_EXTRA=pdl
kb m512 512 4096x4096,1024x4096,14336x4096,4096x14336 rsi256x128,rsi256x64,rsiss,rsinocopy,rsisplit128 8
kb m2048 2048 4096x4096,14336x4096 rsi256x128,rsiss,rsinocopy,rsidiag256,rsi128x256g2,rsi128x256a2 8
pack

# 4. pp512 on the two 7B files: the default and the candidate
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
pp mistral7b-q4_0__default mistral7b-q4_0 QUANTA_PLAN_PROFILE=0
pp mistral7b-q4_0__pdl mistral7b-q4_0 QUANTA_CUDA_GGML_PDL=1
pack

# 5. the same rows on cuBLAS's operands (bf16 x and y)
kb bf16 512,2048 4096x4096,14336x4096 0 6 MMQ_BENCH_XY=bf16
pack

# 6. conformance of the forced forms round 2 may pick (their outputs are the product; rsiss / rsidiag* are not)
CONFORM_S=4 conform g2 QUANTA_CUDA_GGML_MMQ_TILE=rsi128x256g2 -- "${CASES[@]}" || RS=FAIL
CONFORM_S=4 conform a2 QUANTA_CUDA_GGML_MMQ_TILE=rsi128x256a2 -- "${CASES[@]}" || RS=FAIL
CONFORM_S=4 conform split128 QUANTA_CUDA_GGML_MMQ_TILE=rsisplit128 -- "${CASES[@]}" "${BIG[@]}" || RS=FAIL
CONFORM_S=4 conform r256x128 QUANTA_CUDA_GGML_MMQ_TILE=rsi256x128 -- "${CASES[@]}" "${BIG[@]}" || RS=FAIL
CONFORM_S=4 conform r256x64 QUANTA_CUDA_GGML_MMQ_TILE=rsi256x64 -- "${CASES[@]}" || RS=FAIL
pack

# 7. ncu of the default kernel on an unmet shape (q8_0, M = 512, 4096 x 4096: 0.52 of cuBLAS at 21:03): where the
# warps' cycles go
if [ $RS != HANG ] && [ -x $BENCH ] && [ $(left) -gt 14 ] && command -v ncu > /dev/null; then
  MMQ_BENCH_NEW=17 MMQ_BENCH_OLD=17 MMQ_BENCH_M=512 MMQ_BENCH_FORMATS=q8_0 MMQ_BENCH_TILES=0 MMQ_BENCH_SHAPES=4096x4096 \
    timeout 11 ncu --section SpeedOfLight --section WarpStateStats --section ComputeWorkloadAnalysis \
    --metrics regex:smsp__average_warps_issue_stalled_.*_per_issue_active.ratio \
    -k regex:qn_k_ggml_mmq_rsi -c 1 $BENCH > $D/ncu.txt 2>&1
  say "ncu rc=$?"
  grep -E "Duration|SM Frequency|Compute \(SM\) Throughput|Memory Throughput|Executed Ipc|Issue Slots Busy|Warp Cycles Per Issued|Registers Per" $D/ncu.txt | head -10 | tee -a $D/summary.txt
  grep -E "issue_stalled" $D/ncu.txt | sort -k3 -g -r | head -8 | tee -a $D/summary.txt
fi
pack

# 8. cuBLAS again, and the table (every row against the mean of both cuBLAS timings)
peers peers_b
{
  echo "== mmq16 summary =="
  echo "conformance (PDL=1 on the table's picks; rsi128x256g2, rsi128x256a2, rsisplit128, rsi256x128, rsi256x64 forced): $RS"
  echo "| pp512 (tok/s, -r 3) | mean ± sd |"; echo "|---|---|"
  for r in "${PP[@]}"; do echo "$r"; done
  echo "kernel rows (auto = the default =17; gemm = its GEMM alone; pdl = the candidate; rsiss / rsidiag256: ceilings,"
  echo "outputs not the product) against cuBLAS bf16:"
  for c in pdl m512 m2048 bf16; do
    [ -s $D/mmq_$c.csv ] && python3 bench/cuda/mmq_peers.py table $D/mmq_$c.csv $(ls $D/peers_[ab].csv 2>/dev/null)
  done
} | tee -a $D/summary.txt
say "done"
pack
