#!/bin/bash
# verify_mmq24.sh — device checks of mmq24 (issue 14 item 1, bench/NOTES.md section 6, mmq24): QUANTA_CUDA_GGML_TLIN=1
# (each weight slot of =17's default forms copied from a tile-linear copy of the weight by one linear bulk copy, not a
# 2-D TMA box of 128 row pieces; the same bits) against the default and cuBLAS bf16. Steps, deciding first:
#   1. the GEMM alone, pass a: gemm (default) / gemmtl (TLIN=1, the copy passed) / gemm2 (default again) at M = 512 on
#      512x4096², k/v 512x1024x4096, 512x4096x14336, 512x14336x4096, and 2048x4096², both formats; maxdiff of each row
#      against the old kernel's output (gemmtl must be 0: the same bits);
#   2. cuBLAS bf16 on those shapes (the ratios of this call);
#   3. conformance with TLIN=1 (the engine: the copy made at prepare_weight, passed by run_matmul_ggml) on one small
#      shape of each pick that takes it (128 tokens, the k/v cluster pair with M and N tails, 256 tokens);
#   4. pass b of the unmet rows (512x4096², k/v); the per-block trace (a diagnostic: SM id, globaltimer and clock64 at
#      entry / first slot landed / last wgmma / stores done) of the default's forms in pass a (trace, tracetl) and of
#      the 128-token tile on 32 / 64 / 96 / 128 blocks (trace128): the fixed part's pieces and each SM's clock;
#   5. perplexity (7B Q4_0, 2 windows) with TLIN=1 against the default's (the same bits: the same line), then when time
#      is left pp512 -r 5 default / TLIN=1 on the 7B Q8_0 file.
# About 50 s with /tmp/qbuild and prebuild_mmq24.sh's bench; later steps skipped when late. Everything under $OUT/mmq24/
# (summary.txt). Flip rule (bench/NOTES.md, mmq24): TLIN default 1 when conformance passes, every gemmtl maxdiff is 0,
# perplexity is equal, gemmtl beats gemm and gemm2 in both passes on q8_0 512x4096² and k/v (both formats) and is not
# more than 1% slower than the faster of them on any other row, pp512 not below the default by more than its sd — and
# the copy's 1x more weight bytes settled (see NOTES).
set -u
cd "$(dirname "$0")/../.." # the repository root
export PATH=$PATH:/usr/local/cuda/bin
. bench/common/verifylib.sh mmq24 ${LIMIT:-54}
Q=${QUANTA:-/tmp/qbuild/tools/quanta}
QB=${QBUILD:-/tmp/qbuild}
KB=$QB/kernels_cuda
F=${FILES:-/tmp/e2e/files}
BENCH=${MMQ24_BENCH:-/tmp/prebuild/mmq24/ggml_mmq_bench}
[ -x $Q ] || { say "no $Q"; pack; exit 1; }
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm --format=csv,noheader 2>&1)"
say "prebuild: $(cat /tmp/prebuild/mmq24/build.txt 2>/dev/null)"
grep -q QUANTA_CUDA_GGML_TLIN $Q $(dirname $Q)/../libquanta.so* 2>/dev/null ||
  { say "$Q has no QUANTA_CUDA_GGML_TLIN: a build without mmq24, nothing to check"; pack; exit 1; }
if [ ! -x $BENCH ]; then # from the meson objects (they hold mmq24's kernels if $Q does)
  BENCH=$D/ggml_mmq_bench
  timeout 40 nvcc -std=c++17 -O3 -gencode=arch=compute_90,code=sm_90 -Iinclude -Ibase -Iformats -Ikernels_cuda -Ibench/cuda \
    bench/cuda/ggml_mmq_bench.cu $KB/ggml_mmq.cu.o $KB/ggml_mmq_frag.cu.o $KB/ggml_mmq_wg.cu.o $KB/ggml_mmq_ws_wg.cu.o \
    $KB/ggml_mmq_rs_wg.cu.o $KB/ggml_mmq_rsi_wg.cu.o $KB/elementwise.cu.o -o $BENCH > $D/bench_build.log 2>&1
  say "bench build (meson objects) rc=$?: $(tail -2 $D/bench_build.log)"
fi
RS=ok

rows() { # label M shapes [extra env]
  local label=$1 m=$2 sh=$3; shift 3
  [ -x $BENCH ] && [ $(left) -gt 6 ] || { say "kernel rows $label skipped (no bench or time)"; return 0; }
  env MMQ_BENCH_TILES=0 "$@" MMQ_BENCH_NEW=17 MMQ_BENCH_OLD=17 MMQ_BENCH_M=$m MMQ_BENCH_FORMATS=${FMTS:-q4_0,q8_0} \
    MMQ_BENCH_SHAPES=$sh MMQ_BENCH_EXTRA=${EXTRA:-gemm,gemmtl,gemm2} timeout ${ROWS_S:-12} $BENCH $D/mmq_$label.csv \
    > $D/mmq_$label.txt 2>&1
  say "kernel rows $label rc=$?"
  cat $D/mmq_$label.txt >> $D/summary.txt
  awk '$NF ~ /^(gemm|gemmtl|gemmtl0|gemm2)$/ && $(NF-1) != "0.00e+00" {bad=1} END {exit bad}' $D/mmq_$label.txt ||
    { say "kernel rows $label: a gemm* maxdiff not 0"; RS=FAIL; }
  grep -q gemmtl $D/mmq_$label.txt || say "kernel rows $label: no gemmtl row (cut, or the bench has no TLIN)"
}

# 1. pass a: every row of the rule
EXTRA=gemm,gemmtl,gemm2,trace,tracetl ROWS_S=17 rows a 512 4096x4096,1024x4096,4096x14336,14336x4096
ROWS_S=6 rows a2048 2048 4096x4096
pack

# 2. cuBLAS bf16 on the same shapes
PEERS="512x1024x4096 512x4096x4096 512x4096x14336 512x14336x4096 2048x4096x4096"
[ $(left) -gt 14 ] && { timeout 10 python3 bench/cuda/mmq_peers.py time $PEERS > $D/peers_a.csv 2> $D/peers_a.err
  say "cuBLAS rc=$?: $(tail -n +2 $D/peers_a.csv | tr '\n' ' ')"; } || say "cuBLAS skipped (time)"
pack

# 3. conformance with TLIN=1, one case a pick (the CPU reference's time: ~1.5 G multiply-adds in all): 128 tokens (400 x
# 3300 x 256: 26 x 4 tiles, N tail), the k/v pair (384 x 1000 x 2048: 8 x 6 tiles of 64 tokens, K split in two; N
# tail), 256 tokens (100 x 12700 x 256: 100 tiles, M and N tails)
CASES=(--case "matmul:m=400,n=3300,k=256,w=q8_0,x=bf16" --case "matmul:m=384,n=1000,k=2048,w=q8_0,x=f32"
       --case "matmul:m=100,n=12700,k=256,w=q4_0,x=f16")
CONFORM_S=12 conform tlin QUANTA_CUDA_GGML_TLIN=1 -- "${CASES[@]}" || RS=FAIL
pack

# 4. pass b of the unmet rows
ROWS_S=7 rows b 512 4096x4096,1024x4096
pack

# 4b. the per-block trace of the 128-token tile on 32 / 64 / 96 / 128 blocks of the same 64 steps (each block's SM clock
# over its K loop, its clocks a step, the wait for its first slot, its epilogue): which side slows with every SM busy
EXTRA=trace128 ROWS_S=6 rows blocks 512 1024x4096,2048x4096,3072x4096,4096x4096
pack

# 5. perplexity TLIN=1 = default; pp512 when time is left
ppl() { # label [VAR=value...]
  local label=$1 f=mistral7b-q4_0; shift
  [ -f $F/$f.gguf ] && [ $(left) -gt 9 ] || { say "perplexity $label skipped (no $F/$f.gguf or time)"; return 0; }
  env "$@" timeout 9 $Q perplexity -m $F/$f.gguf -f README.md -c 512 --chunks 2 --quant keep \
    --backend cuda > $D/ppl_$label.txt 2> $D/ppl_$label.err
  say "perplexity $f $label rc=$?: $(tr '\n' ' ' < $D/ppl_$label.txt | sed 's/, [0-9.]* s)/)/' | tail -c 200)"
}
ppl tlin QUANTA_CUDA_GGML_TLIN=1
ppl default QUANTA_PLAN_PROFILE=0
if [ -s $D/ppl_tlin.txt ]; then
  a1=$(sed 's/, [0-9.]* s)/)/' $D/ppl_tlin.txt)
  if [ -s $D/ppl_default.txt ]; then
    a0=$(sed 's/, [0-9.]* s)/)/' $D/ppl_default.txt)
    [ "$a0" = "$a1" ] && say "perplexity tlin = default: the same" || { say "perplexity tlin / default: DIFFERENT"; RS=FAIL; }
  else # the default's value on this file since session 20 (bench/NOTES.md, mmq20-22)
    grep -q "109405.2835" $D/ppl_tlin.txt && say "perplexity tlin = the recorded default (109405.2835)" ||
      say "perplexity tlin: not the recorded default 109405.2835 (default not run this call: compare by hand)"
  fi
fi
pack
PP=()
pp() { # label file [VAR=value...]
  local label=$1 f=$2; shift 2
  [ -f $F/$f.gguf ] || { say "no $F/$f.gguf"; return 0; }
  [ $(left) -gt 6 ] || { say "pp $label skipped (time)"; return 0; }
  env "$@" timeout 8 $Q bench model -m $F/$f.gguf -p 512 -n 0 -r 5 --backend cuda --json > $D/pp_$label.json 2> $D/pp_$label.err
  local rc=$? v
  v=$(grep -o '"pp_tps": [0-9.]*, "pp_tps_sd": [0-9.]*' $D/pp_$label.json | sed 's/"pp_tps": //; s/, "pp_tps_sd": / ± /')
  say "pp512 $label rc=$rc: ${v:-none}"
  PP+=("| pp512 $label | ${v:-none} |")
}
pp mistral7b-q8_0__default mistral7b-q8_0 QUANTA_PLAN_PROFILE=0
pp mistral7b-q8_0__tlin mistral7b-q8_0 QUANTA_CUDA_GGML_TLIN=1
pack

{
  echo "== mmq24 summary =="
  echo "conformance (TLIN=1), gemm* rows maxdiff 0, perplexity TLIN=1 = default: $RS (conform verdict: $VERDICT)"
  echo "rows a / a2048 / b: the GEMM alone, gemm (default), gemmtl (TLIN=1: the weight slot by one linear bulk copy), gemm2:"
  grep -h " trace" $D/mmq_a.txt $D/mmq_blocks.txt 2>/dev/null
  for c in a a2048 b; do
    f=$D/mmq_$c.csv
    [ -s $f ] && python3 bench/cuda/mmq_peers.py table $f $(ls $D/peers_a.csv 2>/dev/null) 2>/dev/null
  done
  echo "flip rule inputs: gemmtl < gemm and < gemm2 (a and b) on q8_0 512x4096x4096 and 512x1024x4096 (both formats);"
  echo "gemmtl <= 1.01 x min(gemm, gemm2) on the other rows; maxdiff 0; conformance; perplexity; pp512 within sd."
  for c in a a2048 b; do # per pass
    [ -s $D/mmq_$c.csv ] && awk -F, -v c=$c 'NR > 1 {k=$1" "$2"x"$3"x"$4; t[k" "$11]=$5} END {
      for (x in t) { split(x, a, " "); if (a[3] == "gemmtl") { k=a[1]" "a[2]; g=t[k" gemm"]; g2=t[k" gemm2"]; m=(g < g2 ? g : g2);
        if (m > 0) printf "  %s %s: gemmtl %.1f, gemm %.1f, gemm2 %.1f us: gemmtl / min %.3f\n", c, k, t[x], g, g2, t[x] / m } } }' \
      $D/mmq_$c.csv | sort
  done
  echo "| prefill (tok/s, -r 5) | mean ± sd |"; echo "|---|---|"
  for r in "${PP[@]}"; do echo "$r"; done
} | tee -a $D/summary.txt
say "done"
pack
