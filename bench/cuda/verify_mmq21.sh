#!/bin/bash
# verify_mmq21.sh — device checks of mmq21 (issue 14 item 1, bench/NOTES.md section 6, mmq21), round 2 (after the call of
# 15:09 flipped both defaults; both the same bits as before, so every row's maxdiff must be 0 and perplexity the same):
#   QUANTA_CUDA_GGML_SPLITCL (unset: 2; =0 off): =17's 64-token tiles with K split in two (7B k/v at M = 512) as cluster
#     pairs that add their halves in distributed shared memory (two steps a commit group; =1 one): no partial sums
#     through L2, no reduce launch.
#   QUANTA_CUDA_GGML_PLOOP (unset: 3, the 128-token EPI picks, incl. one wave with K > 8192; =0 off; =1 every EPI pick;
#     =2 a diagnostic): the EPI instances with the producer's first fills in a loop of their own.
# Run after bench/e2e/run_h200.sh has built Quanta (/tmp/qbuild of a main with mmq21) and written the model files
# (/tmp/e2e/files); the kernel bench is /tmp/prebuild/mmq21/ggml_mmq_bench (prebuild_mmq21.sh) or is linked here from
# the meson objects. Steps, deciding first:
#   1. conformance of the default (the split-2 picks with M / N tails, f16 / bf16 y; the 128-token pick);
#   2. kernel rows, the k/v shape (the GEMM alone: gemm = default, gemmcl0 = SPLITCL=0, gemmcl = 1, gemm2 = default
#      again) after a cuBLAS timing; M = 512 and 2048 on the 7B's other shapes (gemm, gemmpl0 = PLOOP=0, gemmepi0, gemm2);
#   3. perplexity (7B Q4_0, 2 windows of 512) default vs SPLITCL=0 PLOOP=0: the same numbers;
#   4. pp512 -r 5 default vs SPLITCL=0 PLOOP=0 on both 7B files;
#   5. when time is left: the K sweep (512 x 4096 x K) default / PLOOP=0 / =2 / EPI=0, q8_0's diagnostics, the 13B's shapes.
# About 50 s with /tmp/qbuild; later steps skipped when late. Everything under $OUT/mmq21/ (summary.txt).
set -u
cd "$(dirname "$0")/../.." # the repository root
export PATH=$PATH:/usr/local/cuda/bin
. bench/common/verifylib.sh mmq21 ${LIMIT:-53}
Q=${QUANTA:-/tmp/qbuild/tools/quanta}
KB=${QBUILD:-/tmp/qbuild}/kernels_cuda
F=${FILES:-/tmp/e2e/files}
BENCH=${MMQ21_BENCH:-/tmp/prebuild/mmq21/ggml_mmq_bench}
[ -x $Q ] || { say "no $Q"; pack; exit 1; }
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm --format=csv,noheader 2>&1)"
say "prebuild: $(cat /tmp/prebuild/mmq21/build.txt 2>/dev/null)"
grep -q QUANTA_CUDA_GGML_SPLITCL $Q || { say "$Q has no QUANTA_CUDA_GGML_SPLITCL: a build of main before mmq21, nothing to check"; pack; exit 1; }
BENCH_PID=""
if [ ! -x $BENCH ]; then # from the meson objects, on the host's cores while the GPU steps run
  BENCH=$D/ggml_mmq_bench
  ( timeout 40 nvcc -std=c++17 -O3 -gencode=arch=compute_90,code=sm_90 -Iinclude -Ibase -Iformats -Ikernels_cuda -Ibench/cuda \
      bench/cuda/ggml_mmq_bench.cu $KB/ggml_mmq.cu.o $KB/ggml_mmq_frag.cu.o $KB/ggml_mmq_wg.cu.o $KB/ggml_mmq_ws_wg.cu.o \
      $KB/ggml_mmq_rs_wg.cu.o $KB/ggml_mmq_rsi_wg.cu.o $KB/elementwise.cu.o -o $BENCH > $D/bench_build.log 2>&1 ) &
  BENCH_PID=$!
fi

# 1. conformance of the default: split-2 picks (512x1024x4096; 500x1000x4096 and 300x640x2048 with M / N tails), the
# 128-token two-step pick (600x4096x1024); f32 / f16 / bf16 (call 2: 11 of 12 with SPLITCL=1 PLOOP=1 passed in 16 s, the
# 12th cut by the time; SPLITCL=2 4/0)
CASES=()
for w in q4_0 q8_0; do
  CASES+=(--case "matmul:m=512,n=1024,k=4096,w=$w,x=f32" --case "matmul:m=500,n=1000,k=4096,w=$w,x=f16"
          --case "matmul:m=300,n=640,k=2048,w=$w,x=bf16" --case "matmul:m=600,n=4096,k=1024,w=$w,x=bf16")
done
RS=ok
CONFORM_S=18 conform default QUANTA_PLAN_PROFILE=0 -- "${CASES[@]}" || RS=FAIL
pack

# 2. kernel rows between two cuBLAS timings
[ -n "$BENCH_PID" ] && { wait $BENCH_PID; say "bench build (meson objects): $(tail -2 $D/bench_build.log)"; }
SHAPES="512x1024x4096 256x1024x4096 512x4096x4096 512x14336x4096 512x4096x14336 2048x4096x4096 2048x14336x4096"
peers() { # file
  [ $(left) -gt 16 ] || { say "cuBLAS $1 skipped (time)"; return 0; }
  timeout 15 python3 bench/cuda/mmq_peers.py time $SHAPES > $D/$1.csv 2> $D/$1.err
  say "cuBLAS $1 rc=$?: $(tail -n +2 $D/$1.csv | tr '\n' ' ')"
}
rows() { # label M shapes [extra env]
  local label=$1 m=$2 sh=$3; shift 3
  [ -x $BENCH ] && [ $(left) -gt 10 ] || { say "kernel rows $label skipped (no bench or time)"; return 0; }
  env MMQ_BENCH_TILES=0 "$@" MMQ_BENCH_NEW=17 MMQ_BENCH_OLD=17 MMQ_BENCH_M=$m MMQ_BENCH_FORMATS=${FMTS:-q4_0,q8_0} \
    MMQ_BENCH_SHAPES=$sh MMQ_BENCH_EXTRA=${EXTRA:-gemm,gemmpl0,gemmepi0,gemm2} timeout 14 $BENCH $D/mmq_$label.csv \
    > $D/mmq_$label.txt 2>&1
  say "kernel rows $label rc=$?"
  cat $D/mmq_$label.txt >> $D/summary.txt
  # the same bits: every gemm* / xkept* row's maxdiff 0 against the default kernel
  awk '($NF ~ /^gemm/ || $NF ~ /^xkept/) && $(NF-1) != "0.00e+00" {bad=1} END {exit bad}' $D/mmq_$label.txt || { say "kernel rows $label: maxdiff not 0"; RS=FAIL; }
}
peers peers_a
EXTRA=gemm,gemmcl0,gemmcl,gemmpl4,gemm2 rows kv "512,256" 1024x4096 # gemmpl4: PLOOP=4 (the 64-token picks too)
EXTRA=gemm,gemmcl0,gemmpl4,gemm2 rows kv2 512 1024x4096 # the k/v rows again (drift)
pack
rows m512 512 4096x4096,14336x4096,4096x14336
pack
rows m2048 2048 4096x4096,14336x4096
pack

# 3. perplexity (7B Q4_0, 2 windows): default vs both off (the same bits: the same numbers)
ppl() { # label [VAR=value...]; prints the line (the time left out)
  local label=$1 f=mistral7b-q4_0; shift
  [ -f $F/$f.gguf ] && [ $(left) -gt 12 ] || { say "perplexity $label skipped"; return 0; }
  env "$@" timeout 12 $Q perplexity -m $F/$f.gguf -f README.md -c 512 --chunks 2 --quant keep \
    --backend cuda > $D/ppl_$label.txt 2> $D/ppl_$label.err
  local r=$?
  say "perplexity $f $label rc=$r: $(tr '\n' ' ' < $D/ppl_$label.txt | sed 's/, [0-9.]* s)/)/' | tail -c 200)"
}
ppl default QUANTA_PLAN_PROFILE=0
ppl off QUANTA_CUDA_GGML_SPLITCL=0 QUANTA_CUDA_GGML_PLOOP=0
if [ -s $D/ppl_default.txt ] && [ -s $D/ppl_off.txt ]; then
  a0=$(sed 's/, [0-9.]* s)/)/' $D/ppl_default.txt); a1=$(sed 's/, [0-9.]* s)/)/' $D/ppl_off.txt)
  [ "$a0" = "$a1" ] && say "perplexity default = SPLITCL=0 PLOOP=0: the same" || { say "perplexity default / SPLITCL=0 PLOOP=0: DIFFERENT"; RS=FAIL; }
fi
pack

# 4. pp512 -r 5, interleaved: default / both off on both files
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
  pp ${f}__off $f QUANTA_CUDA_GGML_SPLITCL=0 QUANTA_CUDA_GGML_PLOOP=0
done
pack
# SPLITCL=3 (built after call 2, unmeasured): the pair's halves split by tokens, every warpgroup storing
EXTRA=gemm,gemmcl3,gemm2 rows kv3 512 1024x4096
CASES=()
for w in q4_0 q8_0; do
  CASES+=(--case "matmul:m=500,n=1000,k=4096,w=$w,x=f16" --case "matmul:m=300,n=640,k=2048,w=$w,x=bf16")
done
CONFORM_S=8 conform splitcl3 QUANTA_CUDA_GGML_SPLITCL=3 -- "${CASES[@]}" || RS=FAIL
pack
peers peers_b # cuBLAS again after our rows (it moved by up to 25% between calls), when time is left
# 5. when time is left: the K sweep (one wave of 128x128 tiles; the slope per 64-wide step: mmq20's EPI ~5% above the
# old instances), the 13B's shapes at M = 512
EXTRA=gemm,gemmpl0,gemmpl2,gemmepi0 rows ksweep 512 4096x1024,4096x8192
# task 3 (q8_0 512x4096x4096: copies or decode?): the old 128x128 instance against its diagnostics on the kept prep —
# rsidiag0 (copies, no decode / A loads), rsidiag1 (decode, no wgmma), rsinocopy (decode and wgmma, no copies after the
# first fill); the q8_0 - q4_0 gap in each says which part carries the format's extra ~15% a step
EXTRA=xkept rows diag 512 4096x4096 MMQ_BENCH_TILE_KEPT=1 MMQ_BENCH_TILES=rsi128x128,rsidiag0,rsidiag1,rsinocopy
FMTS=q4_0 EXTRA=gemm,gemmpl0,gemmepi0 rows m512_13b 512 5120x5120,13824x5120,5120x13824

{
  echo "== mmq21 summary =="
  echo "conformance (the default), gemm* / xkept* rows maxdiff 0, perplexity default = both off: $RS"
  echo "GEMM alone (gemm = the default: SPLITCL=2, PLOOP=3; gemmcl0 / gemmcl = SPLITCL=0 / 1, gemmpl0 / gemmpl2 = PLOOP=0 / 2"
  echo "(2: EPI consumers, the old producer: diagnostic), gemmpl4 = PLOOP=4 (the 64-token picks too), gemmcl3 = SPLITCL=3,"
  echo "gemmepi0 = the instances before mmq20,"
  echo "gemm2 = the default again) against cuBLAS bf16:"
  for c in kv kv2 kv3 m512 m2048 ksweep; do
    [ -s $D/mmq_$c.csv ] && python3 bench/cuda/mmq_peers.py table $D/mmq_$c.csv $(ls $D/peers_a.csv $D/peers_b.csv 2>/dev/null) 2>/dev/null
  done
  echo "| prefill (tok/s, -r 5) | mean ± sd |"; echo "|---|---|"
  for r in "${PP[@]}"; do echo "$r"; done
} | tee -a $D/summary.txt
say "done"
pack
