#!/bin/bash
# verify_mmq20.sh — device checks of mmq20 (issue 14 item 1, bench/NOTES.md section 6, mmq20):
#   QUANTA_CUDA_GGML_EPI (off; the same bits every way; a sum of): 1 the register-A GEMM's (=17) epilogue with the
#     token scales loaded once (qn_gmmq_store_h) instead of one dependent load per stored element, and a split grid's
#     reduce launched as the GEMM's programmatic dependent, four sums a thread; 2 every GEMM lets the kernel after it
#     launch at its epilogue; 4 the producer's first copies in the order the consumers take them.
# Run after bench/e2e/run_h200.sh has built Quanta (/tmp/qbuild, of a main that has mmq20) and written the model files
# (/tmp/e2e/files); the kernel bench is /tmp/prebuild/mmq20/ggml_mmq_bench (prebuild_mmq20.sh) or is linked here from the
# meson objects. Steps, deciding first:
#   1. conformance with EPI=7 (every part; q4_0 / q8_0 matmuls at M > 64: the table's picks, the split k/v shape, M / N
#      tails, f16 / bf16 results), and with EPI=7 + QUANTA_CUDA_GGML_SPLIT128=1 on the k/v shape (judged apart);
#   2. kernel rows (ggml_mmq_bench, one process, interleaved): the GEMM alone ("gemm": the default, "gemmepi1",
#      "gemmepi7": EPI=1 / 7, "gemm2": the default again) at M = 512 on the 7B's four shapes and at M = 2048 on 4096x4096 /
#      14336x4096, q4_0 and q8_0; maxdiff must be 0 (the same bits);
#   2b. the fixed part: the GEMM alone at M = 512, N = 4096, K = 256 .. 8192 (q4_0), default vs EPI=1 / 5 / 7;
#   2c. the k/v shape with EPI=1 on the kept prep: the auto pick, QUANTA_CUDA_GGML_SPLIT128=1 (xkept128: 128-token tiles
#       with K split 4 at M = 512; off, not the same sums), forced rsisplit128, rsic64, rsi128x64;
#   3. cuBLAS bf16 on the same shapes before the rows (and after step 5 when time is left: mmq_peers.py), the tables;
#   4. perplexity (7B Q4_0, 2 windows of 512): default, EPI=7 (the same numbers), EPI=7 + SPLIT128=1 (within 0.01%);
#   5. pp512 -r 5 default vs EPI=7 on both 7B files, then EPI=7 + SPLIT128=1 on both, EPI=5 on Q4_0;
#   6. when time is left: the 13B's shapes at M = 512 (gemm, gemmepi1, cuBLAS).
# About 50 s with /tmp/qbuild; later steps skipped when late. Everything under $OUT/mmq20/ (summary.txt).
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
CONFORM_S=15 conform epi7 QUANTA_CUDA_GGML_EPI=7 -- "${CASES[@]}" || RS=FAIL # every part of the switch
# QUANTA_CUDA_GGML_SPLIT128=1 on top of EPI=7 (other sums: conformance's bound) on the shapes it changes (k/v at M =
# 512, tails); its verdict apart (S128)
S128=ok
CONFORM_S=8 conform split128 QUANTA_CUDA_GGML_EPI=7 QUANTA_CUDA_GGML_SPLIT128=1 -- --case "matmul:m=512,n=1024,k=4096,w=q4_0,x=f32" \
  --case "matmul:m=512,n=1024,k=4096,w=q8_0,x=bf16" --case "matmul:m=500,n=1000,k=4096,w=q4_0,x=f32" || S128=FAIL
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
    MMQ_BENCH_SHAPES=$sh MMQ_BENCH_EXTRA=${EXTRA:-gemm,gemmepi1,gemmepi7,gemm2} timeout 14 $BENCH $D/mmq_$label.csv \
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
# 2b. the fixed part of a GEMM call: T(K) at M = 512, N = 4096 (one wave of 128 128x128 tiles; 4096 is in m512),
# intercept = T(0), and what each part of the switch takes off it
FMTS=q4_0 EXTRA=gemm,gemmepi1,gemmepi5,gemmepi7 rows ksweep 512 4096x256,4096x1024,4096x2048,4096x8192
pack
# 2c. the k/v shape's tiles with EPI=1 on the kept prep (the GEMM alone): the auto pick (xkept: 64-token tiles, K split
# 2), xkept128 (QUANTA_CUDA_GGML_SPLIT128=1: at M = 512 128-token tiles with K split 4), 128-token tiles with K split 4
# forced (rsisplit128), the cluster split of 64-token tiles (rsic64, its own epilogue), no split (rsi128x64, no EPI)
EXTRA=xkept,xkept128 rows kv "256,512" 1024x4096 QUANTA_CUDA_GGML_EPI=1 MMQ_BENCH_TILE_KEPT=1 \
  MMQ_BENCH_TILES=rsisplit128,rsic64,rsi128x64
pack

# 4. perplexity (7B Q4_0, 2 windows): default, EPI=7 (the same bits: the same numbers), EPI=7 + SPLIT128=1 (other
# sums: within 0.01% of the default's)
ppl() { # label [VAR=value...]; prints the line (the time left out)
  local label=$1 f=mistral7b-q4_0; shift
  [ -f $F/$f.gguf ] && [ $(left) -gt 12 ] || { say "perplexity $label skipped"; return 0; }
  env "$@" timeout 12 $Q perplexity -m $F/$f.gguf -f README.md -c 512 --chunks 2 --quant keep \
    --backend cuda > $D/ppl_$label.txt 2> $D/ppl_$label.err
  local r=$?
  say "perplexity $f $label rc=$r: $(tr '\n' ' ' < $D/ppl_$label.txt | sed 's/, [0-9.]* s)/)/' | tail -c 200)"
}
ppl default QUANTA_PLAN_PROFILE=0
ppl epi7 QUANTA_CUDA_GGML_EPI=7
if [ -s $D/ppl_default.txt ] && [ -s $D/ppl_epi7.txt ]; then
  a0=$(sed 's/, [0-9.]* s)/)/' $D/ppl_default.txt); a1=$(sed 's/, [0-9.]* s)/)/' $D/ppl_epi7.txt)
  [ "$a0" = "$a1" ] && say "perplexity EPI=7: the same" || { say "perplexity EPI=7: DIFFERENT"; RS=FAIL; }
fi
ppl epi7s128 QUANTA_CUDA_GGML_EPI=7 QUANTA_CUDA_GGML_SPLIT128=1
pack

# 5. pp512 -r 5, interleaved: default / EPI=7 on both files, then EPI=7 + SPLIT128=1 on both, EPI=5 on Q4_0
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
  pp ${f}__epi7 $f QUANTA_CUDA_GGML_EPI=7
done
pack
for f in mistral7b-q4_0 mistral7b-q8_0; do pp ${f}__epi7s128 $f QUANTA_CUDA_GGML_EPI=7 QUANTA_CUDA_GGML_SPLIT128=1; done
pp mistral7b-q4_0__epi5 mistral7b-q4_0 QUANTA_CUDA_GGML_EPI=5
peers peers_b # cuBLAS again after our rows (it moved by up to 25% between calls), when time is left
# 6. (when time is left) the 13B's shapes at M = 512: 5120-row weights make 160 blocks of 128x128 (1.2 waves)
FMTS=q4_0 EXTRA=gemm,gemmepi1 rows m512_13b 512 5120x5120,13824x5120,5120x13824
SHAPES="512x5120x5120 512x13824x5120 512x5120x13824" peers peers_13b

{
  echo "== mmq20 summary =="
  echo "conformance (EPI=7), gemm* / xkept rows maxdiff 0, perplexity default = EPI=7: $RS"
  echo "perplexity default / EPI=7 / EPI=7 + SPLIT128=1: $(for l in default epi7 epi7s128; do sed 's/, [0-9.]* s)/)/' $D/ppl_$l.txt 2>/dev/null | tr '\n' ' '; echo -n ' | '; done)"
  echo "conformance with QUANTA_CUDA_GGML_EPI=7 QUANTA_CUDA_GGML_SPLIT128=1: $S128"
  echo "GEMM alone (gemm = the default, gemmepiN = QUANTA_CUDA_GGML_EPI=N, gemm2 = the default again) against cuBLAS bf16:"
  for c in m512 m2048 kv ksweep; do
    [ -s $D/mmq_$c.csv ] && python3 bench/cuda/mmq_peers.py table $D/mmq_$c.csv $(ls $D/peers_a.csv $D/peers_b.csv 2>/dev/null) 2>/dev/null
  done
  [ -s $D/mmq_m512_13b.csv ] && python3 bench/cuda/mmq_peers.py table $D/mmq_m512_13b.csv $(ls $D/peers_13b.csv 2>/dev/null) 2>/dev/null
  echo "| prefill (tok/s, -r 5) | mean ± sd |"; echo "|---|---|"
  for r in "${PP[@]}"; do echo "$r"; done
} | tee -a $D/summary.txt
say "done"
pack
