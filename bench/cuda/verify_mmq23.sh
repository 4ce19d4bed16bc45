#!/bin/bash
# verify_mmq23.sh — device checks of mmq23 (issue 14 item 1, bench/NOTES.md section 6, mmq23):
#   QUANTA_CUDA_GGML_PAIRX (off; =1): the sm_90a register-A GEMM's 128-token unsplit pick (the 7B's 512 x 4096 x K
#     rows; kernels_cuda/ggml_mmq_rsi_wg.cu, cfg V bit 512) as cluster pairs along the weight rows, each block's
#     producer copying half of every activation step by bulk copy multicast into both blocks: the slab leaves L2 once
#     a pair (q8_0 128x128 step: 24.7 -> 16.7 KB of L2 reads a block). The same copies in the same places: the same bits.
#     =2: the 256-token picks too (512x14336x4096, M = 2048).
#   QUANTA_CUDA_GGML_GROUP=4 (mmq22, built after session 22's call, unmeasured): k / v as one grid, gate / up one by one.
# Replaces verify_mmq22.sh (its round 2, GROUP=4's deciding steps, is steps 4-6 here). Steps, deciding first:
#   1. the unit test pairx_same (PAIRX=1, 2 against 0 byte for byte: 7 shapes x 2 formats, NaN-poisoned outputs) and
#      conformance with PAIRX=1 (the 128-token pick with M / N tails and the shortest K, both formats);
#   2. kernel rows, the GEMM alone on the kept prep: gemm (default) / gemmpx (PAIRX=1) / gemm2 (default again) at
#      512x4096x4096 and 512x4096x14336, both formats, maxdiff against the default; the k/v row 512x1024x4096 (gemm:
#      the issue's per-shape row, PAIRX does not apply; with mmq21's unmeasured gemmcl3 = SPLITCL=3, the pair split by
#      tokens, and gemmpl4 = PLOOP=4, PLOOP's producer on the 64-token picks too);
#   3. cuBLAS bf16 on the same shapes (and k+v concatenated, 512x2048x4096);
#   4. perplexity (7B Q4_0, 2 windows): default = PAIRX=1 = GROUP=4 (the same numbers); conformance of matmul_multi
#      with GROUP=4;
#   5. pp512 -r 5: default / PAIRX=1 / GROUP=4 on both 7B files;
#   6. when time is left: the 4096x4096 and k/v rows again; PAIRX=2's rows, conformance, pp512; conformance with
#      SPLITCL=3; one forced tile on 32 / 64 / 128 blocks (is 128 blocks' step L2-bound?); the grouped rows k+v /
#      gate+up (sep vs grp4).
# About 55 s with /tmp/qbuild; later steps skipped when late. Everything under $OUT/mmq23/ (summary.txt).
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

# 1. PAIRX=1 the same bytes as the default (the unit test, where the build has it), then conformance of the 128-token
# pick with it: M tail (600, 700), N tail (4000 rows: 32 tiles, the last partial), K = 256 (one A slot), both formats
T=$QB/tests/cuda/test_cuda_slab
if [ -x $T ]; then
  CK_RUN_CASE=pairx timeout 10 $T > $D/test_pairx.log 2>&1
  r=$?
  say "test_cuda_slab pairx rc=$r: $(grep -E '^[0-9]+%|seed' $D/test_pairx.log | tr '\n' ' ' | tail -c 300)"
  grep -E ':F:|:E:' $D/test_pairx.log | head -4 | tee -a $D/summary.txt
  [ $r -eq 0 ] || [ $r -eq 77 ] || RS=FAIL
else
  say "no $T: the unit test not run"
fi
CASES=()
for w in q4_0 q8_0; do
  CASES+=(--case "matmul:m=600,n=4096,k=1024,w=$w,x=bf16" --case "matmul:m=700,n=4000,k=2048,w=$w,x=f16"
          --case "matmul:m=512,n=4096,k=256,w=$w,x=f32")
done
CONFORM_S=12 conform pairx QUANTA_CUDA_GGML_PAIRX=1 -- "${CASES[@]}" || RS=FAIL
pack

# 2. kernel rows: the GEMM alone, default / PAIRX=1 / default again; maxdiff against the default's output (0: the same bits)
[ -n "$BENCH_PID" ] && { wait $BENCH_PID; say "bench build (meson objects): $(tail -2 $D/bench_build.log)"; }
rows() { # label M shapes [extra env]
  local label=$1 m=$2 sh=$3; shift 3
  [ -x $BENCH ] && [ $(left) -gt 10 ] || { say "kernel rows $label skipped (no bench or time)"; return 0; }
  env MMQ_BENCH_TILES=0 "$@" MMQ_BENCH_NEW=17 MMQ_BENCH_OLD=17 MMQ_BENCH_M=$m MMQ_BENCH_FORMATS=${FMTS:-q4_0,q8_0} \
    MMQ_BENCH_SHAPES=$sh MMQ_BENCH_EXTRA=${EXTRA:-gemm,gemmpx,gemm2} timeout ${ROWS_S:-12} $BENCH $D/mmq_$label.csv \
    > $D/mmq_$label.txt 2>&1
  say "kernel rows $label rc=$?"
  cat $D/mmq_$label.txt >> $D/summary.txt
  awk '$NF ~ /^(gemm|gemmpx|gemmpx2|gemm2|gemmcl3|gemmpl4)$/ && $(NF-1) != "0.00e+00" {bad=1} END {exit bad}' $D/mmq_$label.txt ||
    { say "kernel rows $label: a gemm* maxdiff not 0"; RS=FAIL; }
}
rows a 512 4096x4096,4096x14336
EXTRA=gemm,gemmcl3,gemmpl4,gemm2 ROWS_S=6 rows kv 512 1024x4096 # mmq21's unmeasured k/v forms
pack
PEERS="512x1024x4096 512x2048x4096 512x4096x4096 512x4096x14336 512x14336x4096 2048x4096x4096"
peers() { # file shapes
  [ $(left) -gt 12 ] || { say "cuBLAS $1 skipped (time)"; return 0; }
  timeout 10 python3 bench/cuda/mmq_peers.py time $2 > $D/$1.csv 2> $D/$1.err
  say "cuBLAS $1 rc=$?: $(tail -n +2 $D/$1.csv | tr '\n' ' ')"
}
peers peers_a "$PEERS"
pack

# 4. perplexity (7B Q4_0, 2 windows): default vs PAIRX=1 vs GROUP=4 (both the same bits: the same numbers)
ppl() { # label [VAR=value...]; prints the line (the time left out)
  local label=$1 f=mistral7b-q4_0; shift
  [ -f $F/$f.gguf ] && [ $(left) -gt 8 ] || { say "perplexity $label skipped"; return 0; }
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
ppl pairx QUANTA_CUDA_GGML_PAIRX=1
same default pairx
ppl group4 QUANTA_CUDA_GGML_GROUP=4
same default group4
pack

# GROUP=4: conformance of matmul_multi (k/v; q/k/v with tails; each judged on one product)
CASES=()
for w in q4_0 q8_0; do
  CASES+=(--case "matmul_multi:m=512,n=1024,n1=1024,n2=0,k=2048,w=$w,x=f32,part=1"
          --case "matmul_multi:m=300,n=640,n1=256,n2=256,k=2048,w=$w,x=bf16,part=2")
done
CONFORM_S=10 conform group4 QUANTA_CUDA_GGML_GROUP=4 -- "${CASES[@]}" || RS=FAIL
pack

# 5. pp512 -r 5, interleaved: default / PAIRX=1 / GROUP=4 on each file
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
  pp ${f}__pairx $f QUANTA_CUDA_GGML_PAIRX=1
  pp ${f}__group4 $f QUANTA_CUDA_GGML_GROUP=4
done
pack

# 6. when time is left, by value: the second passes PAIRX's and PLOOP=4's rules ask; (a) or (b) (NOTES mmq23): one
# instance (rsi128x128g2, the 128x128 two-step tile, forced, on the kept prep) on 32, 64 and 128 blocks of the same 64
# steps (N = 1024, 2048, 4096) — if the time falls with fewer blocks, L2's aggregate rate was the limit at 128, if not,
# each SM's own feed; PAIRX=2 (the 256-token picks: rows, conformance of one with an M tail, pp512); mmq21's SPLITCL=3
# conformance (its flip rule asks it); the grouped rows (sep = one launch a weight; grp4 = GROUP=4's pick)
ROWS_S=8 rows b 512 4096x4096
EXTRA=gemm,gemmcl3,gemmpl4,gemm2 ROWS_S=6 rows kv2 512 1024x4096
EXTRA=xkept ROWS_S=8 rows l2 512 1024x4096,2048x4096,4096x4096 MMQ_BENCH_TILE_KEPT=1 MMQ_BENCH_TILES=rsi128x128g2
EXTRA=gemm,gemmpx2,gemm2 ROWS_S=8 rows c 512 14336x4096
CASES=()
for w in q4_0 q8_0; do CASES+=(--case "matmul:m=300,n=14336,k=1024,w=$w,x=bf16"); done
CONFORM_S=8 conform pairx2 QUANTA_CUDA_GGML_PAIRX=2 -- "${CASES[@]}" || RS=FAIL
pack
CASES=() # SPLITCL=3: k/v, M / N tails
for w in q4_0 q8_0; do
  CASES+=(--case "matmul:m=512,n=1024,k=4096,w=$w,x=f32" --case "matmul:m=500,n=1000,k=4096,w=$w,x=f16")
done
CONFORM_S=8 conform splitcl3 QUANTA_CUDA_GGML_SPLITCL=3 -- "${CASES[@]}" || RS=FAIL
for f in mistral7b-q4_0 mistral7b-q8_0; do pp ${f}__pairx2 $f QUANTA_CUDA_GGML_PAIRX=2; done
EXTRA=gemm,gemmpx2,gemm2 ROWS_S=8 FMTS=q8_0 rows c2048 2048 4096x4096
pack
if [ -x $BENCH ] && [ $(left) -gt 8 ]; then
  MMQ_BENCH_GROUPS=1024+1024x4096,14336+14336x4096 MMQ_BENCH_GROUPS_ONLY=1 MMQ_BENCH_NEW=17 MMQ_BENCH_OLD=17 MMQ_BENCH_M=512 \
    MMQ_BENCH_FORMATS=q4_0,q8_0 timeout 8 $BENCH $D/grp_m512.csv > $D/grp_m512.txt 2>&1
  say "group rows m512 rc=$?"
  cat $D/grp_m512.txt >> $D/summary.txt
  awk '($NF ~ /^(grp|grp4|sep2|grp2)\[/) && $(NF-1) != "0.00e+00" {bad=1} END {exit bad}' $D/grp_m512.txt ||
    { say "group rows m512: grp / grp4 maxdiff not 0"; RS=FAIL; }
fi
pack

{
  echo "== mmq23 summary =="
  echo "unit test pairx, conformance (PAIRX=1, GROUP=4, PAIRX=2, SPLITCL=3), gemm* rows maxdiff 0, perplexity default = PAIRX=1 = GROUP=4: $RS"
  echo "the GEMM alone (gemm = the default, gemmpx / gemmpx2 = PAIRX=1 / 2, gemmcl3 = SPLITCL=3, gemmpl4 = PLOOP=4, gemm2 = the"
  echo "default again; l2: one forced tile on 32 / 64 / 128 blocks) against cuBLAS bf16:"
  for c in a kv b kv2 c c2048 l2 grp_m512; do
    f=$D/mmq_$c.csv; [ $c = grp_m512 ] && f=$D/$c.csv
    [ -s $f ] && python3 bench/cuda/mmq_peers.py table $f $(ls $D/peers_a.csv 2>/dev/null) 2>/dev/null
  done
  echo "| prefill (tok/s, -r 5) | mean ± sd |"; echo "|---|---|"
  for r in "${PP[@]}"; do echo "$r"; done
} | tee -a $D/summary.txt
say "done"
pack
