#!/bin/bash
# verify_mmq24.sh — device checks of mmq24 (issue 14 item 1, bench/NOTES.md section 6, mmq24), round 2 (for the next
# call; round 1 ran in session 24's call 1, 01:07: TLIN=1 the same bits, q8_0 rows -1 to -11%, q4_0 512x4096² +1-2%: its
# rule not met, off; the trace put the fixed part's epilogue at ~2.4 us a block): QUANTA_CUDA_GGML_STS=1 (the unsplit
# picks' epilogue staged through shared memory, 16-byte stores of y's rows; the same bits) and QUANTA_CUDA_GGML_TLIN=2
# (the tile-linear copy for Q8_0 weights alone: each weight slot by one linear bulk copy; the same bits) against the
# default and cuBLAS bf16. Steps, deciding first:
#   1. the GEMM alone, pass a: gemm (default) / gemmtl (the copy passed) / gemmsts (STS=1) / gemmtlsts (both) / gemm2
#      (default again) at M = 512 on 512x4096², k/v 512x1024x4096, 512x4096x14336, 512x14336x4096, and 2048x4096², both
#      formats; maxdiff of each row against the old kernel's output (0: the same bits); the trace of the 128-token pick
#      with each epilogue;
#   2. cuBLAS bf16 on those shapes (the ratios of this call);
#   3. conformance with STS=1 TLIN=2 (the engine: the Q8_0 copy made at prepare_weight, passed by run_matmul_ggml) on
#      one small shape of each pick that takes them (128 tokens, the k/v cluster pair, 256 tokens; tails);
#   4. pass b of the unmet rows (512x4096², k/v); the per-block trace (a diagnostic: SM id, globaltimer and clock64 at
#      entry / first slot landed / last wgmma / stores done) of the default's forms in pass a (trace, tracests,
#      tracetlsts): the epilogue's time with each form (round 1's trace128, one tile on 32-128 blocks: done);
#   5. perplexity (7B Q8_0 and Q4_0, 2 windows) with STS=1 TLIN=2 against the default's (the same bits: the same line),
#      then pp512 -r 5 default / STS=1 TLIN=2 on both 7B files.
# About 50 s with /tmp/qbuild and prebuild_mmq24.sh's bench; later steps skipped when late. Everything under $OUT/mmq24/
# (summary.txt). Flip rules (bench/NOTES.md, mmq24's outcome): STS default 1 when conformance passes, every gemmsts /
# gemmtlsts maxdiff is 0, perplexity is equal, gemmsts beats gemm and gemm2 on 512x4096² (both formats, both passes)
# and is within 1% of the faster on every other row, pp512 not lower by more than its sd; TLIN default 2 when gemmtl
# beats gemm and gemm2 on q8_0 512x4096² and k/v in both passes and is within 1% on the other q8_0 rows, conformance,
# perplexity (Q8_0) and pp512 (Q8_0) as above — and the Q8_0 copy's 1x more device bytes accepted.
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
grep -q QUANTA_CUDA_GGML_STS $Q $(dirname $Q)/../libquanta.so* 2>/dev/null ||
  { say "$Q has no QUANTA_CUDA_GGML_STS: a build without mmq24's round 2, nothing to check"; pack; exit 1; }
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
    MMQ_BENCH_SHAPES=$sh MMQ_BENCH_EXTRA=${EXTRA:-gemm,gemmtl,gemmsts,gemmtlsts,gemm2} timeout ${ROWS_S:-12} $BENCH $D/mmq_$label.csv \
    > $D/mmq_$label.txt 2>&1
  say "kernel rows $label rc=$?"
  cat $D/mmq_$label.txt >> $D/summary.txt
  awk '$NF ~ /^(gemm|gemmtl|gemmtl0|gemmsts|gemmtlsts|gemm2)$/ && $(NF-1) != "0.00e+00" {bad=1} END {exit bad}' $D/mmq_$label.txt ||
    { say "kernel rows $label: a gemm* maxdiff not 0"; RS=FAIL; }
  grep -q gemmtl $D/mmq_$label.txt || say "kernel rows $label: no gemmtl row (cut, or the bench has no TLIN)"
}

# 1. pass a: every row of the rule; the driver's clock event reasons sampled meanwhile (round 1's trace: the SM clock
# over a K loop 1.61-1.80 GHz while nvidia-smi's clocks.sm read 1980: does the driver report a slowdown reason?)
nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw,clocks_throttle_reasons.active --format=csv,noheader -lms 10 \
  > $D/clock_a.csv 2>&1 &
SMI=$!
EXTRA=gemm,gemmtl,gemmsts,gemmtlsts,gemm2,trace,tracests,tracetlsts ROWS_S=18 rows a 512 4096x4096,1024x4096,4096x14336,14336x4096
kill $SMI 2>/dev/null; wait $SMI 2>/dev/null
say "clock event reasons while rows a ran ($(wc -l < $D/clock_a.csv) samples; value: count): $(awk -F', ' '{n[$4]++} END {for (r in n) printf "%s: %d; ", r, n[r]}' $D/clock_a.csv)"
ROWS_S=7 rows a2048 2048 4096x4096
pack

# 2. cuBLAS bf16 on the same shapes
PEERS="512x1024x4096 512x4096x4096 512x4096x14336 512x14336x4096 2048x4096x4096"
[ $(left) -gt 14 ] && { timeout 10 python3 bench/cuda/mmq_peers.py time $PEERS > $D/peers_a.csv 2> $D/peers_a.err
  say "cuBLAS rc=$?: $(tail -n +2 $D/peers_a.csv | tr '\n' ' ')"; } || say "cuBLAS skipped (time)"
pack

# 3. conformance with STS=1 TLIN=2, one case a pick (the CPU reference's time: ~2 G multiply-adds in all; N x y's size a
# multiple of 16 where STS should take it): 128 tokens (400 x 3296 x 256: 26 x 4 tiles, N tail in a tile; q8_0 with its
# copy, q4_0 without), the k/v pair (384 x 1000 x 2048, q8_0: TLIN only), 256 tokens (100 x 12704 x 256: M and N tails)
CASES=(--case "matmul:m=400,n=3296,k=256,w=q8_0,x=bf16" --case "matmul:m=400,n=3296,k=256,w=q4_0,x=f32"
       --case "matmul:m=384,n=1000,k=2048,w=q8_0,x=f32" --case "matmul:m=100,n=12704,k=256,w=q4_0,x=f16")
CONFORM_S=12 conform sts_tlin2 QUANTA_CUDA_GGML_STS=1 QUANTA_CUDA_GGML_TLIN=2 -- "${CASES[@]}" || RS=FAIL
pack

# 4. pass b of the unmet rows
ROWS_S=8 rows b 512 4096x4096,1024x4096
pack

# 5. perplexity STS=1 TLIN=2 = default (Q8_0), STS=1 = the recorded default (Q4_0); pp512 when time is left
ppl() { # label file [VAR=value...]
  local label=$1 f=$2; shift 2
  [ -f $F/$f.gguf ] && [ $(left) -gt 9 ] || { say "perplexity $label skipped (no $F/$f.gguf or time)"; return 0; }
  env "$@" timeout 9 $Q perplexity -m $F/$f.gguf -f README.md -c 512 --chunks 2 --quant keep \
    --backend cuda > $D/ppl_$label.txt 2> $D/ppl_$label.err
  say "perplexity $f $label rc=$?: $(tr '\n' ' ' < $D/ppl_$label.txt | sed 's/, [0-9.]* s)/)/' | tail -c 200)"
}
same() { # label_a label_b: the two perplexity lines equal
  [ -s $D/ppl_$1.txt ] && [ -s $D/ppl_$2.txt ] || { say "perplexity $1 / $2: not both run"; return 0; }
  local a0 a1
  a0=$(sed 's/, [0-9.]* s)/)/' $D/ppl_$1.txt); a1=$(sed 's/, [0-9.]* s)/)/' $D/ppl_$2.txt)
  [ "$a0" = "$a1" ] && say "perplexity $1 = $2: the same" || { say "perplexity $1 / $2: DIFFERENT"; RS=FAIL; }
}
ppl q8_new mistral7b-q8_0 QUANTA_CUDA_GGML_STS=1 QUANTA_CUDA_GGML_TLIN=2
ppl q8_default mistral7b-q8_0 QUANTA_PLAN_PROFILE=0
same q8_default q8_new
ppl q4_sts mistral7b-q4_0 QUANTA_CUDA_GGML_STS=1
grep -q "109405.2835" $D/ppl_q4_sts.txt 2>/dev/null && say "perplexity q4_0 STS=1 = the recorded default (109405.2835)" ||
  say "perplexity q4_0 STS=1: not the recorded default 109405.2835 (or not run)"
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
pp mistral7b-q8_0__sts_tlin2 mistral7b-q8_0 QUANTA_CUDA_GGML_STS=1 QUANTA_CUDA_GGML_TLIN=2
pp mistral7b-q4_0__default mistral7b-q4_0 QUANTA_PLAN_PROFILE=0
pp mistral7b-q4_0__sts mistral7b-q4_0 QUANTA_CUDA_GGML_STS=1
pack

{
  echo "== mmq24 summary =="
  echo "conformance (STS=1 TLIN=2), gemm* rows maxdiff 0, perplexity equal: $RS (conform verdict: $VERDICT)"
  echo "rows a / a2048 / b: the GEMM alone, gemm (default), gemmtl (the Q8_0 / Q4_0 copy), gemmsts (STS=1), gemmtlsts, gemm2:"
  grep -h " trace" $D/mmq_a.txt $D/mmq_blocks.txt 2>/dev/null
  for c in a a2048 b; do
    f=$D/mmq_$c.csv
    [ -s $f ] && python3 bench/cuda/mmq_peers.py table $f $(ls $D/peers_a.csv 2>/dev/null) 2>/dev/null
  done
  echo "flip rule inputs: each new row / min(gemm, gemm2) per pass (STS: < 1 on 512x4096² both formats, <= 1.01 elsewhere;"
  echo "TLIN=2: gemmtl < 1 on q8_0 512x4096² and k/v, <= 1.01 on the other q8_0 rows)"
  for c in a a2048 b; do # per pass
    [ -s $D/mmq_$c.csv ] && awk -F, -v c=$c 'NR > 1 {k=$1" "$2"x"$3"x"$4; t[k" "$11]=$5} END {
      for (x in t) { split(x, a, " "); if (a[3] ~ /^(gemmtl|gemmsts|gemmtlsts)$/) { k=a[1]" "a[2]; g=t[k" gemm"]; g2=t[k" gemm2"];
        m=(g < g2 ? g : g2); if (m > 0) printf "  %s %s %s: %.1f us, gemm %.1f, gemm2 %.1f: / min %.3f\n", c, k, a[3], t[x], g, g2, t[x] / m } } }' \
      $D/mmq_$c.csv | sort
  done
  echo "| prefill (tok/s, -r 5) | mean ± sd |"; echo "|---|---|"
  for r in "${PP[@]}"; do echo "$r"; done
} | tee -a $D/summary.txt
say "done"
pack
