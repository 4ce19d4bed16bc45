#!/bin/bash
# verify_mmq20.sh — device checks of mmq20 (issue 14 item 1, bench/NOTES.md section 6, mmq20), round 2 (after the
# 12:37 call flipped QUANTA_CUDA_GGML_EPI's default to 7 by qn_rsi_go's rule; the same bits every way):
#   QUANTA_CUDA_GGML_EPI (a sum of): 1 the register-A GEMM's (=17) epilogue with the token scales loaded once
#     (qn_gmmq_store_h) instead of one dependent load per stored element, and a split grid's reduce launched as the
#     GEMM's programmatic dependent, four sums a thread; 2 every GEMM lets the kernel after it launch at its epilogue; 4
#     the producer's first copies in the order the consumers take them. Unset: 7, except one wave of tiles with K >
#     8192 (the old instances there); =0 the old instances everywhere.
#   QUANTA_CUDA_GGML_SPLIT128 (off; 12:37: q4_0 k/v 16.6 -> 16.1 µs, q8_0 18.6 = 18.6: its rule not met) — rows only.
# Run after bench/e2e/run_h200.sh has built Quanta (/tmp/qbuild, of a main that has mmq20) and written the model files
# (/tmp/e2e/files); the kernel bench is /tmp/prebuild/mmq20/ggml_mmq_bench (prebuild_mmq20.sh) or is linked here from the
# meson objects. Steps, deciding first:
#   1. conformance of the new default (q4_0 / q8_0 matmuls at M > 64: the table's picks, the split k/v shape, M / N
#      tails, f16 / bf16 results);
#   2. kernel rows (ggml_mmq_bench, one process, interleaved): the GEMM alone ("gemm": the default, "gemmepi0": the old
#      instances, "gemm2": the default again) at M = 512 on the 7B's four shapes and at M = 2048 on 4096x4096 /
#      14336x4096, q4_0 and q8_0; maxdiff must be 0 (the same bits); cuBLAS bf16 on the same shapes before them;
#   3. perplexity (7B Q4_0, 2 windows of 512) default vs EPI=0: the same numbers;
#   4. pp512 -r 5 default vs EPI=0 on both 7B files;
#   5. when time is left: the k/v rows (SPLIT128), the 13B's shapes at M = 512, cuBLAS again.
# About 45 s with /tmp/qbuild; later steps skipped when late. Everything under $OUT/mmq20/ (summary.txt).
set -u
cd "$(dirname "$0")/../.." # the repository root
export PATH=$PATH:/usr/local/cuda/bin
. bench/common/verifylib.sh mmq20 ${LIMIT:-53}
Q=${QUANTA:-/tmp/qbuild/tools/quanta}
KB=${QBUILD:-/tmp/qbuild}/kernels_cuda
F=${FILES:-/tmp/e2e/files}
BENCH=${MMQ20_BENCH:-/tmp/prebuild/mmq20/ggml_mmq_bench}
[ -x $Q ] || { say "no $Q"; pack; exit 1; }
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm --format=csv,noheader 2>&1)"
say "prebuild: $(cat /tmp/prebuild/mmq20/build.txt 2>/dev/null)"
grep -q QUANTA_CUDA_GGML_EPI $Q || { say "$Q has no QUANTA_CUDA_GGML_EPI: a build of main before mmq20, nothing to check"; pack; exit 1; }
BENCH_PID=""
if [ ! -x $BENCH ]; then # from the meson objects, on the host's cores while the GPU steps run
  BENCH=$D/ggml_mmq_bench
  ( timeout 40 nvcc -std=c++17 -O3 -gencode=arch=compute_90,code=sm_90 -Iinclude -Ibase -Iformats -Ikernels_cuda -Ibench/cuda \
      bench/cuda/ggml_mmq_bench.cu $KB/ggml_mmq.cu.o $KB/ggml_mmq_frag.cu.o $KB/ggml_mmq_wg.cu.o $KB/ggml_mmq_ws_wg.cu.o \
      $KB/ggml_mmq_rs_wg.cu.o $KB/ggml_mmq_rsi_wg.cu.o $KB/elementwise.cu.o -o $BENCH > $D/bench_build.log 2>&1 ) &
  BENCH_PID=$!
fi

# 1. conformance: the table's picks (64 tokens: 300x640, 130x4096, 1000x1100, 520x2048; split: 512 / 256 x 1024 x 4096;
# 128 tokens, two steps a group: 600x4096; 256 tokens: 700x5120), M / N tails, f16 / bf16 y
CASES=()
for w in q4_0 q8_0; do
  CASES+=(--case "matmul:m=300,n=640,k=2048,w=$w,x=f32" --case "matmul:m=512,n=1024,k=4096,w=$w,x=f32"
          --case "matmul:m=256,n=1024,k=4096,w=$w,x=bf16" --case "matmul:m=130,n=4096,k=1024,w=$w,x=f16"
          --case "matmul:m=1000,n=1100,k=512,w=$w,x=f32" --case "matmul:m=520,n=2048,k=768,w=$w,x=bf16"
          --case "matmul:m=600,n=4096,k=1024,w=$w,x=f32" --case "matmul:m=700,n=5120,k=512,w=$w,x=f16")
done
RS=ok
CONFORM_S=20 conform default QUANTA_PLAN_PROFILE=0 -- "${CASES[@]}" || RS=FAIL # EPI by the default's rule
pack

# 2-3. kernel rows between two cuBLAS timings
[ -n "$BENCH_PID" ] && { wait $BENCH_PID; say "bench build (meson objects): $(tail -2 $D/bench_build.log)"; }
SHAPES="512x4096x4096 512x1024x4096 256x1024x4096 512x14336x4096 512x4096x14336 2048x4096x4096 2048x14336x4096"
peers() { # file
  [ $(left) -gt 16 ] || { say "cuBLAS $1 skipped (time)"; return 0; }
  timeout 15 python3 bench/cuda/mmq_peers.py time $SHAPES > $D/$1.csv 2> $D/$1.err
  say "cuBLAS $1 rc=$?: $(tail -n +2 $D/$1.csv | tr '\n' ' ')"
}
rows() { # label M shapes [extra env]
  local label=$1 m=$2 sh=$3; shift 3
  [ -x $BENCH ] && [ $(left) -gt 10 ] || { say "kernel rows $label skipped (no bench or time)"; return 0; }
  env MMQ_BENCH_TILES=0 "$@" MMQ_BENCH_NEW=17 MMQ_BENCH_OLD=17 MMQ_BENCH_M=$m MMQ_BENCH_FORMATS=${FMTS:-q4_0,q8_0} \
    MMQ_BENCH_SHAPES=$sh MMQ_BENCH_EXTRA=${EXTRA:-gemm,gemmepi0,gemm2} timeout 14 $BENCH $D/mmq_$label.csv \
    > $D/mmq_$label.txt 2>&1
  say "kernel rows $label rc=$?"
  cat $D/mmq_$label.txt >> $D/summary.txt
  # the same bits: every gemm* row's maxdiff 0 against the default kernel
  awk '($NF ~ /^gemm/ || $NF == "xkept") && $(NF-1) != "0.00e+00" {bad=1} END {exit bad}' $D/mmq_$label.txt || { say "kernel rows $label: maxdiff not 0"; RS=FAIL; }
}
peers peers_a
rows m512 512 4096x4096,1024x4096,14336x4096,4096x14336
pack
rows m2048 2048 4096x4096,14336x4096
pack
# 3. perplexity (7B Q4_0, 2 windows): default vs EPI=0 (the same bits: the same numbers)
ppl() { # label [VAR=value...]; prints the line (the time left out)
  local label=$1 f=mistral7b-q4_0; shift
  [ -f $F/$f.gguf ] && [ $(left) -gt 12 ] || { say "perplexity $label skipped"; return 0; }
  env "$@" timeout 12 $Q perplexity -m $F/$f.gguf -f README.md -c 512 --chunks 2 --quant keep \
    --backend cuda > $D/ppl_$label.txt 2> $D/ppl_$label.err
  local r=$?
  say "perplexity $f $label rc=$r: $(tr '\n' ' ' < $D/ppl_$label.txt | sed 's/, [0-9.]* s)/)/' | tail -c 200)"
}
ppl default QUANTA_PLAN_PROFILE=0
ppl epi0 QUANTA_CUDA_GGML_EPI=0
if [ -s $D/ppl_default.txt ] && [ -s $D/ppl_epi0.txt ]; then
  a0=$(sed 's/, [0-9.]* s)/)/' $D/ppl_default.txt); a1=$(sed 's/, [0-9.]* s)/)/' $D/ppl_epi0.txt)
  [ "$a0" = "$a1" ] && say "perplexity default = EPI=0: the same" || { say "perplexity default / EPI=0: DIFFERENT"; RS=FAIL; }
fi
pack

# 4. pp512 -r 5, interleaved: default / EPI=0 on both files
PP=()
pp() { # label file [VAR=value...]
  local label=$1 f=$2; shift 2
  [ -f $F/$f.gguf ] || { say "no $F/$f.gguf"; return 0; }
  [ $(left) -gt 6 ] || { say "pp $label skipped (time)"; return 0; }
  env "$@" timeout 10 $Q bench model -m $F/$f.gguf -p 512 -n 0 -r 5 --backend cuda --json > $D/pp_$label.json 2> $D/pp_$label.err
  local rc=$? v
  v=$(grep -o '"pp_tps": [0-9.]*, "pp_tps_sd": [0-9.]*' $D/pp_$label.json | sed 's/"pp_tps": //; s/, "pp_tps_sd": / ± /')
  say "pp512 $label rc=$rc: ${v:-none}"
  PP+=("| pp512 $label | ${v:-none} |")
}
for f in mistral7b-q4_0 mistral7b-q8_0; do
  pp ${f}__default $f QUANTA_PLAN_PROFILE=0
  pp ${f}__epi0 $f QUANTA_CUDA_GGML_EPI=0
done
pack
# 5. when time is left (next session's evidence): the k/v shape on the kept prep with SPLIT128 (xkept128) and its forced
# tiles, the 13B's shapes at M = 512, cuBLAS again
EXTRA=xkept,xkept128 rows kv "256,512" 1024x4096 MMQ_BENCH_TILE_KEPT=1 MMQ_BENCH_TILES=rsisplit128,rsic64
pack
peers peers_b # cuBLAS again after our rows (it moved by up to 25% between calls), when time is left
# 6. (when time is left) the 13B's shapes at M = 512: 5120-row weights make 160 blocks of 128x128 (1.2 waves)
FMTS=q4_0 EXTRA=gemm,gemmepi0 rows m512_13b 512 5120x5120,13824x5120,5120x13824
SHAPES="512x5120x5120 512x13824x5120 512x5120x13824" peers peers_13b

{
  echo "== mmq20 summary =="
  echo "conformance (the default), gemm* / xkept rows maxdiff 0, perplexity default = EPI=0: $RS"
  echo "GEMM alone (gemm = the default, gemmepi0 = QUANTA_CUDA_GGML_EPI=0: before mmq20, gemm2 = the default again) against cuBLAS bf16:"
  for c in m512 m2048 kv; do
    [ -s $D/mmq_$c.csv ] && python3 bench/cuda/mmq_peers.py table $D/mmq_$c.csv $(ls $D/peers_a.csv $D/peers_b.csv 2>/dev/null) 2>/dev/null
  done
  [ -s $D/mmq_m512_13b.csv ] && python3 bench/cuda/mmq_peers.py table $D/mmq_m512_13b.csv $(ls $D/peers_13b.csv 2>/dev/null) 2>/dev/null
  echo "| prefill (tok/s, -r 5) | mean ± sd |"; echo "|---|---|"
  for r in "${PP[@]}"; do echo "$r"; done
} | tee -a $D/summary.txt
say "done"
pack
