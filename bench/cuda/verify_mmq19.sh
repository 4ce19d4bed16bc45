#!/bin/bash
# verify_mmq19.sh — device checks of mmq19 (issue 14 item 1, bench/NOTES.md section 6, mmq19), round 2 (after the
# 09:30 call flipped both defaults):
#   QUANTA_CUDA_NORM_V (default: 2 where a norm writes the GEMM slab and rows >= 256, else 1; =1 / =2 / =4 force): the
#     norms' register kernel for rows of 1024-thread blocks (1024 <= D <= 4096) in blocks of 1024 / V threads, each
#     doing V threads' slots — the same sums in the same order, so the same bits;
#   QUANTA_CUDA_GGML_GLU_SLAB (default on; =0 off): the prefill glu also writes down's kept GEMM slab (mmq18's NORM_SLAB
#     for the FFN's second half), so a LLaMA layer runs one prep (o) instead of two.
# Run after bench/e2e/run_h200.sh has built Quanta (/tmp/qbuild, of a main that has mmq19) and written the model files
# (/tmp/e2e/files); the kernel bench is /tmp/prebuild/mmq19/ggml_mmq_bench (prebuild_mmq19.sh) or is linked here from the
# meson objects. Steps, deciding first:
#   1. conformance of the defaults (norms at rows > 64 of D 1024..4096, glu at rows > 64 of D 2048..14336, after a
#      q4_0 / q8_0 matmul that gives the backend its K order), then NORM_V=4 forced;
#   2. kernel rows (ggml_mmq_bench): "normv" (rms_norm / add_norm at V = 1, 2, 4: results byte-compared with V = 1, each
#      slab with the prep of its result; us of the norm alone and with its slab) and "normslab" (mmq18's line) at
#      4096x4096, M = 130 / 512 / 2048; "gluslab" (glu alone / with the slab / the prep alone, SAME or DIFFERENT; the
#      slab kernel's register form 1 and shared-memory form 2, QUANTA_CUDA_GLU_SLAB_FORM) at 4096x14336;
#   2b. tests/cuda/test_cuda_slab where /tmp/qbuild has it;
#   3. perplexity (7B Q4_0, 2 windows of 512) default vs both off (NORM_V=1 GLU_SLAB=0): must print the same numbers;
#   4. pp512 -r 5: default vs both off on both 7B files, pp2048 default vs off, then each off alone on Q4_0;
#   5. ncu of the norm kernel at 2048 x 4096 (the first two launches: the slab norm by the default rule, then V = 1).
# About 50 s with /tmp/qbuild; later steps skipped when late. Everything under $OUT/mmq19/ (summary.txt).
set -u
cd "$(dirname "$0")/../.." # the repository root
export PATH=$PATH:/usr/local/cuda/bin
. bench/common/verifylib.sh mmq19 ${LIMIT:-52}
Q=${QUANTA:-/tmp/qbuild/tools/quanta}
KB=${QBUILD:-/tmp/qbuild}/kernels_cuda
F=${FILES:-/tmp/e2e/files}
BENCH=${MMQ19_BENCH:-/tmp/prebuild/mmq19/ggml_mmq_bench}
[ -x $Q ] || { say "no $Q"; pack; exit 1; }
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm --format=csv,noheader 2>&1)"
say "prebuild: $(cat /tmp/prebuild/mmq19/build.txt 2>/dev/null)"
# a build without mmq19 would ignore both switches
for v in QUANTA_CUDA_NORM_V QUANTA_CUDA_GGML_GLU_SLAB; do
  grep -q $v $Q || { say "$Q has no $v: a build of main before mmq19, nothing to check"; pack; exit 1; }
done
BENCH_PID=""
if [ ! -x $BENCH ]; then # from the meson objects, on the host's cores while the GPU steps run
  BENCH=$D/ggml_mmq_bench
  ( timeout 40 nvcc -std=c++17 -O3 -gencode=arch=compute_90,code=sm_90 -Iinclude -Ibase -Iformats -Ikernels_cuda -Ibench/cuda \
      bench/cuda/ggml_mmq_bench.cu $KB/ggml_mmq.cu.o $KB/ggml_mmq_frag.cu.o $KB/ggml_mmq_wg.cu.o $KB/ggml_mmq_ws_wg.cu.o \
      $KB/ggml_mmq_rs_wg.cu.o $KB/ggml_mmq_rsi_wg.cu.o $KB/elementwise.cu.o -o $BENCH > $D/bench_build.log 2>&1 ) &
  BENCH_PID=$!
fi

# 1. conformance. A q4_0 / q8_0 matmul at M > 64 first in each group: the backend learns the slab's K order from a kept
# prep, so the norms and glus after it in the same backend write slabs.
CASES=()
for w in q4_0 q8_0; do
  CASES+=(--case "matmul:m=300,n=640,k=2048,w=$w,x=f32" --case "rms_norm:shape=130x4096"
          --case "add_rms_norm:shape=300x4096" --case "add_norm:shape=257x4096,part=1" --case "add_norm:shape=257x4096,part=0"
          --case "rms_norm_add_norm:shape=130x2048,part=1" --case "rms_norm:shape=200x3000" --case "rms_norm:shape=100x1024"
          --case "rms_norm:shape=512x4096,dtype=f16" --case "glu:shape=300x14336,act=0" --case "glu:shape=130x11008,act=0"
          --case "glu:shape=70x2048,act=2" --case "glu:shape=257x4096,act=1" --case "glu:shape=100x2048,act=0,dtype=bf16"
          --case "matmul:m=256,n=1024,k=4096,w=$w,x=f32")
done
RS=ok
CONFORM_S=10 conform default QUANTA_PLAN_PROFILE=0 -- "${CASES[@]}" || RS=FAIL
CONFORM_S=6 conform v4 QUANTA_CUDA_NORM_V=4 -- --case "matmul:m=300,n=640,k=2048,w=q4_0,x=f32" \
  --case "rms_norm:shape=130x4096" --case "add_norm:shape=257x4096,part=1" --case "rms_norm_add_norm:shape=130x2048,part=1" \
  --case "rms_norm:shape=200x3000" --case "add_rms_norm:shape=300x1024" || RS=FAIL
pack

# 2. kernel rows, same process
[ -n "$BENCH_PID" ] && { wait $BENCH_PID; say "bench build (meson objects): $(tail -2 $D/bench_build.log)"; }
if [ -x $BENCH ] && [ $(left) -gt 12 ]; then
  MMQ_BENCH_NEW=17 MMQ_BENCH_OLD=17 MMQ_BENCH_M=130,512,2048 MMQ_BENCH_FORMATS=q4_0,q8_0 MMQ_BENCH_TILES=0 \
    MMQ_BENCH_SHAPES=4096x4096,4096x14336 MMQ_BENCH_EXTRA=normslab,gluslab timeout 20 $BENCH $D/mmq_rows.csv \
    > $D/mmq_rows.txt 2>&1
  say "kernel rows rc=$?"
  grep -E '^(normslab|normv|gluslab)' $D/mmq_rows.txt | tee -a $D/summary.txt
  grep -qE '^(normslab|normv|gluslab).*DIFFERENT' $D/mmq_rows.txt && RS=FAIL
  n=$(grep -cE '^(normv|gluslab).*SAME' $D/mmq_rows.txt)
  [ $n -eq 48 ] || { say "kernel rows: $n SAME normv / gluslab lines, 48 expected (36 normv, 12 gluslab)"; RS=FAIL; }
else
  say "kernel rows skipped (no bench or time)"
fi
pack

# 2b. tests/cuda/test_cuda_slab (the same checks at more shapes, as Check asserts) where the build has tests
TS=${QBUILD:-/tmp/qbuild}/tests/cuda/test_cuda_slab
if [ -x $TS ] && [ $(left) -gt 30 ]; then
  CK_FORK=no timeout 8 $TS > $D/test_cuda_slab.txt 2>&1
  r=$?; say "test_cuda_slab rc=$r: $(grep -E '^[0-9]+%' $D/test_cuda_slab.txt | tail -1)"
  [ $r -eq 0 ] || { grep -E 'Failure|Error' $D/test_cuda_slab.txt | head -3 | tee -a $D/summary.txt; RS=FAIL; }
else
  say "test_cuda_slab skipped (not built or time)"
fi
pack

# 3. perplexity default / both off: the same bits, the same numbers
PPL=()
for on in 0 1; do
  f=mistral7b-q4_0
  [ -f $F/$f.gguf ] && [ $(left) -gt 14 ] || { say "perplexity switches=$on skipped"; continue; }
  if [ $on = 0 ]; then E=(QUANTA_CUDA_NORM_V=1 QUANTA_CUDA_GGML_GLU_SLAB=0); else E=(QUANTA_PLAN_PROFILE=0); fi
  env "${E[@]}" timeout 12 $Q perplexity -m $F/$f.gguf -f README.md -c 512 --chunks 2 --quant keep \
    --backend cuda > $D/ppl_$on.txt 2> $D/ppl_$on.err
  r=$?; v=$(tr '\n' ' ' < $D/ppl_$on.txt | sed 's/, [0-9.]* s)/)/' | tail -c 200) # the time left out
  say "perplexity $f switches=$on rc=$r: $v"; PPL+=("$v")
done
[ ${#PPL[@]} -eq 2 ] && { [ "${PPL[0]}" = "${PPL[1]}" ] && [ -n "${PPL[0]}" ] && say "perplexity: the same" || { say "perplexity: DIFFERENT"; RS=FAIL; }; }
pack

# 4. pp512 -r 5
PP=()
pp() { # label file [VAR=value...]; P (default 512) the prompt length
  local label=$1 f=$2 p=${P:-512}; shift 2
  [ -f $F/$f.gguf ] || { say "no $F/$f.gguf"; return 0; }
  [ $(left) -gt 6 ] || { say "pp $label skipped (time)"; return 0; }
  env "$@" timeout 10 $Q bench model -m $F/$f.gguf -p $p -n 0 -r 5 --backend cuda --json > $D/pp_$label.json 2> $D/pp_$label.err
  local rc=$? v
  v=$(grep -o '"pp_tps": [0-9.]*, "pp_tps_sd": [0-9.]*' $D/pp_$label.json | sed 's/"pp_tps": //; s/, "pp_tps_sd": / ± /')
  say "pp$p $label rc=$rc: ${v:-none}"
  PP+=("| pp$p $label | ${v:-none} |")
}
# the deciding pairs first (default / both off on both files, interleaved), each off alone last (cut first)
for f in mistral7b-q4_0 mistral7b-q8_0; do
  pp ${f}__default $f QUANTA_PLAN_PROFILE=0
  pp ${f}__off $f QUANTA_CUDA_NORM_V=1 QUANTA_CUDA_GGML_GLU_SLAB=0
done
# M = 2048 (where the slab norms cost most: 09:30, rms_norm+slab 83.4 us at V = 1, 63.0 at V = 2)
P=2048 pp mistral7b-q4_0__default mistral7b-q4_0 QUANTA_PLAN_PROFILE=0
P=2048 pp mistral7b-q4_0__off mistral7b-q4_0 QUANTA_CUDA_NORM_V=1 QUANTA_CUDA_GGML_GLU_SLAB=0
pp mistral7b-q4_0__v1 mistral7b-q4_0 QUANTA_CUDA_NORM_V=1
pp mistral7b-q4_0__noglu mistral7b-q4_0 QUANTA_CUDA_GGML_GLU_SLAB=0
# 5. (next session's evidence, cut first) ncu of the 4096-wide norm at 2048 rows: why ~1.4 TB/s whatever the rows an SM
NCU=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
if [ -x $BENCH ] && [ -x $NCU ] && [ $(left) -gt 14 ]; then
  MMQ_BENCH_NEW=17 MMQ_BENCH_OLD=17 MMQ_BENCH_M=2048 MMQ_BENCH_FORMATS=q4_0 MMQ_BENCH_TILES=0 MMQ_BENCH_SHAPES=4096x4096 \
    MMQ_BENCH_EXTRA=normslab timeout $(( $(left) - 3 )) $NCU -k regex:qn_k_rms_norm --launch-count 2 \
    --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats --section MemoryWorkloadAnalysis \
    $BENCH > $D/ncu_norm.txt 2>&1
  say "ncu norm rc=$?"
  grep -E 'qn_k_rms_norm|Duration|DRAM Throughput|Memory Throughput|Achieved Occupancy|Registers Per|Warp Cycles Per Issued|Stall|L2 Hit' \
    $D/ncu_norm.txt | head -40 | tee -a $D/summary.txt
fi
{
  echo "== mmq19 summary =="
  echo "conformance (defaults, NORM_V=4), normv / gluslab rows SAME, perplexity off = on: $RS"
  echo "| prefill (tok/s, -r 5) | mean ± sd |"; echo "|---|---|"
  for r in "${PP[@]}"; do echo "$r"; done
} | tee -a $D/summary.txt
say "done"
pack
