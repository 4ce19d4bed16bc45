#!/bin/bash
# verify_mmq22.sh — device checks of mmq22 (issue 14 item 1, bench/NOTES.md section 6, mmq22):
#   QUANTA_CUDA_GGML_GROUP (off; =1, =2): the GEMMs of one x (a layer's q / k / v, gate / up) as one grid of the sm_90a
#     register-A kernel (kernels_cuda/ggml_mmq_rsi_wg.cu qn_k_ggml_mmq_rsi_grp; the weights stay separate tensors, a
#     tensor map, y and N each in the kernel's parameters), the engine issuing them as one matmul_multi node (the plan's
#     fuse_matmul_multi, claimed by CUDA past the GEMV's M with the switch). =1: the weights of one N in one grid, each
#     with the K split it takes alone, the tile by the table on the whole grid (k + v at M = 512: cluster pairs of
#     128-token tiles, 128 blocks; gate + up: 256-token tiles) — the same bits as the separate launches; =3: the same
#     with each one's own tile too; =2: all of the node's weights in one grid with the table's pick for their tiles
#     together (k + v at M = 512: 128 tiles of 128x64, no K split; q + k + v: 192 tiles of 128x128) — other sums.
# Also, round 2 of mmq21's defaults (SPLITCL=2, PLOOP=3: gemm vs gemmcl0 / gemmpl0) and mmq21's unrun step 5 (q8_0
# 512x4096²: the old 128x128 instance against its diagnostics). Steps, deciding first:
#   1. conformance of matmul_multi with GROUP=1 (k/v, q/k/v with tails, gate/up-like; f32 / f16 / bf16 x);
#   2. kernel rows: grouped (grp, grpall) against our separate launches (sep, sep2) on k+v, q+k+v, gate+up at M = 512
#      (and 2048), the GEMMs alone on the kept prep, maxdiff against sep; then cuBLAS bf16 on the separate shapes and
#      on the concatenated ones (what a fused-QKV engine runs);
#   3. perplexity (7B Q4_0, 2 windows of 512) default vs GROUP=4 (the same numbers);
#   4. pp512 -r 5 default vs GROUP=4 vs GROUP=1 on both 7B files, then conformance and perplexity of GROUP=1;
#   5. when time is left: conformance with GROUP=2, the rows at M = 2048, mmq21's round 2 rows, q8_0's diagnostics.
# Round 2 (the final call of session 22): GROUP=4 (after the call of 19:06) decides first (step 1 is its conformance).
# About 55 s with /tmp/qbuild; later steps skipped when late. Everything under $OUT/mmq22/ (summary.txt).
set -u
cd "$(dirname "$0")/../.." # the repository root
export PATH=$PATH:/usr/local/cuda/bin
. bench/common/verifylib.sh mmq22 ${LIMIT:-54}
Q=${QUANTA:-/tmp/qbuild/tools/quanta}
KB=${QBUILD:-/tmp/qbuild}/kernels_cuda
F=${FILES:-/tmp/e2e/files}
BENCH=${MMQ22_BENCH:-/tmp/prebuild/mmq22/ggml_mmq_bench}
[ -x $Q ] || { say "no $Q"; pack; exit 1; }
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm --format=csv,noheader 2>&1)"
say "prebuild: $(cat /tmp/prebuild/mmq22/build.txt 2>/dev/null)"
grep -q QUANTA_CUDA_GGML_GROUP $Q $(dirname $Q)/../libquanta.so* 2>/dev/null ||
  { say "$Q has no QUANTA_CUDA_GGML_GROUP: a build of main before mmq22, nothing to check"; pack; exit 1; }
BENCH_PID=""
if [ ! -x $BENCH ]; then # from the meson objects, on the host's cores while the GPU steps run
  BENCH=$D/ggml_mmq_bench
  ( timeout 40 nvcc -std=c++17 -O3 -gencode=arch=compute_90,code=sm_90 -Iinclude -Ibase -Iformats -Ikernels_cuda -Ibench/cuda \
      bench/cuda/ggml_mmq_bench.cu $KB/ggml_mmq.cu.o $KB/ggml_mmq_frag.cu.o $KB/ggml_mmq_wg.cu.o $KB/ggml_mmq_ws_wg.cu.o \
      $KB/ggml_mmq_rs_wg.cu.o $KB/ggml_mmq_rsi_wg.cu.o $KB/elementwise.cu.o -o $BENCH > $D/bench_build.log 2>&1 ) &
  BENCH_PID=$!
fi

# 1. conformance of matmul_multi with GROUP=1 (plans fuse the products into one node; CUDA claims it past the GEMV's
# M with the switch): k/v (512 x 1024 + 1024 x 2048: cluster pairs, as 4096; half the CPU reference), q/k/v with N and M tails (300 x 640 + 256 + 256 x 2048),
# gate/up-like (500 x 1000 + 1000 x 1024); each judged on one product (part)
CASES=()
for w in q4_0 q8_0; do
  CASES+=(--case "matmul_multi:m=512,n=1024,n1=1024,n2=0,k=2048,w=$w,x=f32,part=1"
          --case "matmul_multi:m=300,n=640,n1=256,n2=256,k=2048,w=$w,x=bf16,part=2"
          --case "matmul_multi:m=500,n=1000,n1=1000,n2=0,k=1024,w=$w,x=f16,part=0")
done
RS=ok
# round 2 (the final call): GROUP=4 (built after the call of 19:06: =1 where one weight alone is under a wave of blocks —
# k / v —, the rest one by one) decides first: conformance, perplexity, pp512; then the rows and GROUP=1 / 2 again
CONFORM_S=14 conform group4 QUANTA_CUDA_GGML_GROUP=4 -- "${CASES[@]}" || RS=FAIL
pack

# 2. kernel rows: grouped vs separate (the GEMMs alone), then cuBLAS
[ -n "$BENCH_PID" ] && { wait $BENCH_PID; say "bench build (meson objects): $(tail -2 $D/bench_build.log)"; }
groups() { # label M groups [formats]
  local label=$1 m=$2 g=$3
  [ -x $BENCH ] && [ $(left) -gt 12 ] || { say "group rows $label skipped (no bench or time)"; return 0; }
  MMQ_BENCH_GROUPS=$g MMQ_BENCH_GROUPS_ONLY=1 MMQ_BENCH_NEW=17 MMQ_BENCH_OLD=17 MMQ_BENCH_M=$m \
    MMQ_BENCH_FORMATS=${4:-q4_0,q8_0} timeout 14 $BENCH $D/grp_$label.csv > $D/grp_$label.txt 2>&1
  say "group rows $label rc=$?"
  cat $D/grp_$label.txt >> $D/summary.txt
  # grp / grptile / sep2 / grp2 the same bits as sep (GROUP=1's and 3's promise); grpall's other sums shown, not judged
  awk '($NF ~ /^(grp|grptile|grp4|sep2|grp2)\[/) && $(NF-1) != "0.00e+00" {bad=1} END {exit bad}' $D/grp_$label.txt ||
    { say "group rows $label: grp / grptile maxdiff not 0"; RS=FAIL; }
}
groups m512 512 1024+1024x4096,4096+1024+1024x4096,14336+14336x4096
pack
PEERS="512x1024x4096 512x2048x4096 512x4096x4096 512x6144x4096 512x14336x4096 512x28672x4096"
peers() { # file shapes
  [ $(left) -gt 14 ] || { say "cuBLAS $1 skipped (time)"; return 0; }
  timeout 14 python3 bench/cuda/mmq_peers.py time $2 > $D/$1.csv 2> $D/$1.err
  say "cuBLAS $1 rc=$?: $(tail -n +2 $D/$1.csv | tr '\n' ' ')"
}
peers peers_a "$PEERS"
pack

# 3. perplexity (7B Q4_0, 2 windows): default vs GROUP=1 (the same bits: the same numbers) vs GROUP=2
ppl() { # label [VAR=value...]; prints the line (the time left out)
  local label=$1 f=mistral7b-q4_0; shift
  [ -f $F/$f.gguf ] && [ $(left) -gt 10 ] || { say "perplexity $label skipped"; return 0; }
  env "$@" timeout 10 $Q perplexity -m $F/$f.gguf -f README.md -c 512 --chunks 2 --quant keep \
    --backend cuda > $D/ppl_$label.txt 2> $D/ppl_$label.err
  local r=$?
  say "perplexity $f $label rc=$r: $(tr '\n' ' ' < $D/ppl_$label.txt | sed 's/, [0-9.]* s)/)/' | tail -c 200)"
}
same() { # label_a label_b: the two perplexity lines equal
  [ -s $D/ppl_$1.txt ] && [ -s $D/ppl_$2.txt ] || return 0
  local a0 a1
  a0=$(sed 's/, [0-9.]* s)/)/' $D/ppl_$1.txt); a1=$(sed 's/, [0-9.]* s)/)/' $D/ppl_$2.txt)
  [ "$a0" = "$a1" ] && say "perplexity $1 = $2: the same" || { say "perplexity $1 / $2: DIFFERENT"; [ "${3:-}" = judge ] && RS=FAIL; }
}
ppl default QUANTA_PLAN_PROFILE=0
ppl group4 QUANTA_CUDA_GGML_GROUP=4
same default group4 judge
pack

# 4. pp512 -r 5, interleaved: default / GROUP=1 on both files, then GROUP=2
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
  pp ${f}__group4 $f QUANTA_CUDA_GGML_GROUP=4
  pp ${f}__group1 $f QUANTA_CUDA_GGML_GROUP=1
done
pack
CONFORM_S=12 conform group1 QUANTA_CUDA_GGML_GROUP=1 -- "${CASES[@]}" || RS=FAIL
ppl group1 QUANTA_CUDA_GGML_GROUP=1
same default group1 judge
pack

# 5. when time is left: conformance with GROUP=2 (k/v's unsplit sums: conformance's bound); the rows at M = 2048;
# mmq21's round 2 (gemm = the default against gemmcl0 = SPLITCL=0 on k/v, gemmpl0 = PLOOP=0 on the 128-token row);
# q8_0 512x4096² (mmq21 step 5: is q8_0's extra ~15% a step the copies or the decode?) — the old 128x128 instance
# against rsidiag0 (copies, no decode / A loads), rsidiag1 (decode, no wgmma), rsinocopy (decode and wgmma, no copies
# after the first fill)
CASES=()
for w in q4_0 q8_0; do
  CASES+=(--case "matmul_multi:m=512,n=1024,n1=1024,n2=0,k=2048,w=$w,x=f32,part=0"
          --case "matmul_multi:m=300,n=640,n1=256,n2=256,k=2048,w=$w,x=bf16,part=1")
done
CONFORM_S=10 conform group2 QUANTA_CUDA_GGML_GROUP=2 -- "${CASES[@]}" || RS=FAIL
pack
groups m2048 2048 1024+1024x4096,14336+14336x4096 q4_0
rows() { # label M shapes [extra env]
  local label=$1 m=$2 sh=$3; shift 3
  [ -x $BENCH ] && [ $(left) -gt 10 ] || { say "kernel rows $label skipped (no bench or time)"; return 0; }
  env MMQ_BENCH_TILES=0 "$@" MMQ_BENCH_NEW=17 MMQ_BENCH_OLD=17 MMQ_BENCH_M=$m MMQ_BENCH_FORMATS=${FMTS:-q4_0,q8_0} \
    MMQ_BENCH_SHAPES=$sh MMQ_BENCH_EXTRA=${EXTRA:-gemm,gemm2} timeout 12 $BENCH $D/mmq_$label.csv \
    > $D/mmq_$label.txt 2>&1
  say "kernel rows $label rc=$?"
  cat $D/mmq_$label.txt >> $D/summary.txt
}
EXTRA=xkept rows diag 512 4096x4096 MMQ_BENCH_TILE_KEPT=1 MMQ_BENCH_TILES=rsi128x128,rsidiag0,rsidiag1,rsinocopy
EXTRA=gemm,gemmcl0,gemmpl0,gemm2 rows r2 512 1024x4096,4096x4096
pack

{
  echo "== mmq22 summary =="
  echo "conformance (GROUP=4, 1, 2), grp / grptile / grp4 / sep2 / grp2 rows maxdiff 0 against sep, perplexity default = GROUP=4 = GROUP=1: $RS"
  echo "grouped GEMMs alone (sep = one launch a weight, the default; grp = GROUP=1's grid; grpall = GROUP=2's; grptile = 3's; N = the"
  echo "weights' sum; 'old' = sep) against cuBLAS bf16 on the concatenated weight (the N of the row):"
  for c in m512 m2048; do
    [ -s $D/grp_$c.csv ] && python3 bench/cuda/mmq_peers.py table $D/grp_$c.csv $(ls $D/peers_a.csv 2>/dev/null) 2>/dev/null
  done
  for c in r2 diag; do
    [ -s $D/mmq_$c.csv ] && python3 bench/cuda/mmq_peers.py table $D/mmq_$c.csv $(ls $D/peers_a.csv 2>/dev/null) 2>/dev/null
  done
  echo "| prefill (tok/s, -r 5) | mean ± sd |"; echo "|---|---|"
  for r in "${PP[@]}"; do echo "$r"; done
} | tee -a $D/summary.txt
say "done"
pack
