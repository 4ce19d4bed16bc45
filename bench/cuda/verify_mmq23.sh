#!/bin/bash
# verify_mmq23.sh — device checks of mmq23 (issue 14 item 1, bench/NOTES.md section 6, mmq23), round 2 (written for
# session 23's call 3, which was refused: not run yet, for the next session's first call). Round 1 (call 2, 21:59): QUANTA_CUDA_GGML_PAIRX (the 128- / 256-token picks as cluster pairs multicasting the
# activation steps) the same bits but 1-5% slower: off; yet one instance on 128 blocks ran each step 11-20% slower than
# on 32 or 64 — what is shared? GROUP=4's rows and conformance passed, its perplexity / pp512 not run (no model files).
# Steps, deciding first:
#   1. GROUP=4 (k / v as one grid, gate / up one by one): conformance of matmul_multi, perplexity (7B Q4_0, 2 windows)
#      default = GROUP=4 (and = PAIRX=1: the same bits), pp512 -r 5 default / GROUP=4 on both 7B files — its flip rule;
#   2. cuBLAS bf16 on the issue's shapes;
#   3. the shared-limit test: forced forms on 32 / 64 / 96 / 128 blocks of the same 64 steps (512 x N x 4096, N = 1024,
#      2048, 3072, 4096): rsi128x128g2 (the full 128x128 kernel), rsinocopy128 (decode + wgmma, no copies after the first
#      fill), rsidiag128 (copies + wgmma on constant A, no decode); the SM clock sampled meanwhile;
#   4. the default's rows for the issue's table (512x4096², k/v), gemmpx again (a second call's noise);
#   5. when time is left: conformance with PAIRX=1 / 2 on small shapes of their picks; the grouped k+v rows.
# About 50 s with /tmp/qbuild; later steps skipped when late. Everything under $OUT/mmq23/ (summary.txt).
set -u
cd "$(dirname "$0")/../.." # the repository root
export PATH=$PATH:/usr/local/cuda/bin
. bench/common/verifylib.sh mmq23 ${LIMIT:-54}
Q=${QUANTA:-/tmp/qbuild/tools/quanta}
QB=${QBUILD:-/tmp/qbuild}
KB=$QB/kernels_cuda
F=${FILES:-/tmp/e2e/files}
BENCH=${MMQ23_BENCH:-/tmp/prebuild/mmq23/ggml_mmq_bench}
[ -x $Q ] || { say "no $Q"; pack; exit 1; }
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm --format=csv,noheader 2>&1)"
say "prebuild: $(cat /tmp/prebuild/mmq23/build.txt 2>/dev/null)"
grep -q QUANTA_CUDA_GGML_PAIRX $Q $(dirname $Q)/../libquanta.so* 2>/dev/null ||
  { say "$Q has no QUANTA_CUDA_GGML_PAIRX: a build of main before mmq23, nothing to check"; pack; exit 1; }
BENCH_PID=""
if [ ! -x $BENCH ]; then # from the meson objects, on the host's cores while the GPU steps run
  BENCH=$D/ggml_mmq_bench
  ( timeout 40 nvcc -std=c++17 -O3 -gencode=arch=compute_90,code=sm_90 -Iinclude -Ibase -Iformats -Ikernels_cuda -Ibench/cuda \
      bench/cuda/ggml_mmq_bench.cu $KB/ggml_mmq.cu.o $KB/ggml_mmq_frag.cu.o $KB/ggml_mmq_wg.cu.o $KB/ggml_mmq_ws_wg.cu.o \
      $KB/ggml_mmq_rs_wg.cu.o $KB/ggml_mmq_rsi_wg.cu.o $KB/elementwise.cu.o -o $BENCH > $D/bench_build.log 2>&1 ) &
  BENCH_PID=$!
fi
RS=ok

# 1. GROUP=4's rule: conformance (k/v; q/k/v with tails; each judged on one product), perplexity, pp512
CASES=()
for w in q4_0 q8_0; do
  CASES+=(--case "matmul_multi:m=512,n=1024,n1=1024,n2=0,k=2048,w=$w,x=f32,part=1"
          --case "matmul_multi:m=300,n=640,n1=256,n2=256,k=2048,w=$w,x=bf16,part=2")
done
CONFORM_S=10 conform group4 QUANTA_CUDA_GGML_GROUP=4 -- "${CASES[@]}" || RS=FAIL
pack
ppl() { # label [VAR=value...]; prints the line (the time left out)
  local label=$1 f=mistral7b-q4_0; shift
  [ -f $F/$f.gguf ] && [ $(left) -gt 8 ] || { say "perplexity $label skipped (no $F/$f.gguf or time)"; return 0; }
  env "$@" timeout 8 $Q perplexity -m $F/$f.gguf -f README.md -c 512 --chunks 2 --quant keep \
    --backend cuda > $D/ppl_$label.txt 2> $D/ppl_$label.err
  local r=$?
  say "perplexity $f $label rc=$r: $(tr '\n' ' ' < $D/ppl_$label.txt | sed 's/, [0-9.]* s)/)/' | tail -c 200)"
}
same() { # label_a label_b: the two perplexity lines equal
  [ -s $D/ppl_$1.txt ] && [ -s $D/ppl_$2.txt ] || return 0
  local a0 a1
  a0=$(sed 's/, [0-9.]* s)/)/' $D/ppl_$1.txt); a1=$(sed 's/, [0-9.]* s)/)/' $D/ppl_$2.txt)
  [ "$a0" = "$a1" ] && say "perplexity $1 = $2: the same" || { say "perplexity $1 / $2: DIFFERENT"; RS=FAIL; }
}
ppl default QUANTA_PLAN_PROFILE=0
ppl group4 QUANTA_CUDA_GGML_GROUP=4
same default group4
pack
PP=()
pp() { # label file [VAR=value...]
  local label=$1 f=$2; shift 2
  [ -f $F/$f.gguf ] || { say "no $F/$f.gguf"; return 0; }
  [ $(left) -gt 5 ] || { say "pp $label skipped (time)"; return 0; }
  env "$@" timeout 8 $Q bench model -m $F/$f.gguf -p 512 -n 0 -r 5 --backend cuda --json > $D/pp_$label.json 2> $D/pp_$label.err
  local rc=$? v
  v=$(grep -o '"pp_tps": [0-9.]*, "pp_tps_sd": [0-9.]*' $D/pp_$label.json | sed 's/"pp_tps": //; s/, "pp_tps_sd": / ± /')
  say "pp512 $label rc=$rc: ${v:-none}"
  PP+=("| pp512 $label | ${v:-none} |")
}
for f in mistral7b-q4_0 mistral7b-q8_0; do
  pp ${f}__default $f QUANTA_PLAN_PROFILE=0
  pp ${f}__group4 $f QUANTA_CUDA_GGML_GROUP=4
done
pack

# 2. cuBLAS bf16 on the issue's shapes (the ratios of this call)
PEERS="512x1024x4096 512x2048x4096 512x4096x4096 512x4096x14336"
[ $(left) -gt 12 ] && { timeout 9 python3 bench/cuda/mmq_peers.py time $PEERS > $D/peers_a.csv 2> $D/peers_a.err
  say "cuBLAS rc=$?: $(tail -n +2 $D/peers_a.csv | tr '\n' ' ')"; } || say "cuBLAS skipped (time)"
pack

# 3. what slows the step when every SM runs: one form on 32 / 64 / 96 / 128 blocks (the kept prep, forced tiles), the SM
# clock and power sampled every 20 ms meanwhile (a clock that drops with more blocks would point at power, not bytes)
[ -n "$BENCH_PID" ] && { wait $BENCH_PID; say "bench build (meson objects): $(tail -2 $D/bench_build.log)"; }
rows() { # label M shapes [extra env]
  local label=$1 m=$2 sh=$3; shift 3
  [ -x $BENCH ] && [ $(left) -gt 8 ] || { say "kernel rows $label skipped (no bench or time)"; return 0; }
  env MMQ_BENCH_TILES=0 "$@" MMQ_BENCH_NEW=17 MMQ_BENCH_OLD=17 MMQ_BENCH_M=$m MMQ_BENCH_FORMATS=${FMTS:-q4_0,q8_0} \
    MMQ_BENCH_SHAPES=$sh MMQ_BENCH_EXTRA=${EXTRA:-gemm,gemmpx,gemm2} timeout ${ROWS_S:-12} $BENCH $D/mmq_$label.csv \
    > $D/mmq_$label.txt 2>&1
  say "kernel rows $label rc=$?"
  cat $D/mmq_$label.txt >> $D/summary.txt
  awk '$NF ~ /^(gemm|gemmpx|gemmpx2|gemm2)$/ && $(NF-1) != "0.00e+00" {bad=1} END {exit bad}' $D/mmq_$label.txt ||
    { say "kernel rows $label: a gemm* maxdiff not 0"; RS=FAIL; }
}
nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw --format=csv,noheader -lms 20 > $D/clock_l2.csv 2>/dev/null &
SMI=$!
EXTRA=xkept ROWS_S=12 rows l2 512 1024x4096,2048x4096,3072x4096,4096x4096 MMQ_BENCH_TILE_KEPT=1 \
  MMQ_BENCH_TILES=rsi128x128g2,rsinocopy128,rsidiag128
kill $SMI 2>/dev/null; wait $SMI 2>/dev/null
say "SM clock / power while the l2 rows ran (MHz, W: min / max of $(wc -l < $D/clock_l2.csv) samples): $(awk -F', ' \
  '{c=$2+0; p=$3+0; if (NR==1||c<c0) c0=c; if (c>c1) c1=c; if (NR==1||p<p0) p0=p; if (p>p1) p1=p} END {print c0" / "c1" MHz, "p0" / "p1" W"}' $D/clock_l2.csv)"
pack

# 4. the default's rows for the issue's table; gemmpx again
rows a 512 4096x4096
EXTRA=gemm,gemm2 ROWS_S=6 rows kv 512 1024x4096
pack

# 5. when time is left: PAIRX's conformance on small shapes of its picks (128 tokens: 400 x 3300 x 512, M and N tails;
# 256 tokens: 200 x 12800 x 256), perplexity PAIRX=1 = default, the grouped k+v rows
CASES=()
for w in q4_0 q8_0; do CASES+=(--case "matmul:m=400,n=3300,k=512,w=$w,x=bf16"); done
CONFORM_S=6 conform pairx QUANTA_CUDA_GGML_PAIRX=1 -- "${CASES[@]}" || RS=FAIL
CASES=()
for w in q4_0 q8_0; do CASES+=(--case "matmul:m=200,n=12800,k=256,w=$w,x=f16"); done
CONFORM_S=6 conform pairx2 QUANTA_CUDA_GGML_PAIRX=2 -- "${CASES[@]}" || RS=FAIL
ppl pairx QUANTA_CUDA_GGML_PAIRX=1
same default pairx
if [ -x $BENCH ] && [ $(left) -gt 6 ]; then
  MMQ_BENCH_GROUPS=1024+1024x4096 MMQ_BENCH_GROUPS_ONLY=1 MMQ_BENCH_NEW=17 MMQ_BENCH_OLD=17 MMQ_BENCH_M=512 \
    MMQ_BENCH_FORMATS=q4_0,q8_0 timeout 6 $BENCH $D/grp_m512.csv > $D/grp_m512.txt 2>&1
  say "group rows m512 rc=$?"
  cat $D/grp_m512.txt >> $D/summary.txt
  awk '($NF ~ /^(grp|grp4|sep2|grp2)\[/) && $(NF-1) != "0.00e+00" {bad=1} END {exit bad}' $D/grp_m512.txt ||
    { say "group rows m512: grp / grp4 maxdiff not 0"; RS=FAIL; }
fi
pack

{
  echo "== mmq23 summary (round 2) =="
  echo "conformance (GROUP=4, PAIRX=1 / 2), gemm* / grp* rows maxdiff 0, perplexity default = GROUP=4 = PAIRX=1: $RS"
  echo "l2: one form on 32 / 64 / 96 / 128 blocks (rsi128x128g2 the full kernel, rsinocopy128 no copies after the first"
  echo "fill, rsidiag128 no decode: those two's outputs are not the product); a / kv: the default (gemm, gemm2), PAIRX=1 (gemmpx):"
  for c in l2 a kv grp_m512; do
    f=$D/mmq_$c.csv; [ $c = grp_m512 ] && f=$D/$c.csv
    [ -s $f ] && python3 bench/cuda/mmq_peers.py table $f $(ls $D/peers_a.csv 2>/dev/null) 2>/dev/null
  done
  echo "| prefill (tok/s, -r 5) | mean ± sd |"; echo "|---|---|"
  for r in "${PP[@]}"; do echo "$r"; done
} | tee -a $D/summary.txt
say "done"
pack
