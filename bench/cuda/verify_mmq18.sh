#!/bin/bash
# verify_mmq18.sh — device checks of mmq18: the prefill norms (rms_norm / add_rms_norm / add_norm / rms_norm_add_norm)
# also writing the ggml GEMM's kept activation slab (QUANTA_CUDA_GGML_NORM_SLAB=1, implies QUANTA_CUDA_GGML_XKEEP=1; off
# by default), so that q/k/v's and gate/up's GEMMs (=17, sm_90a) pay no prep. Run after bench/e2e/run_h200.sh has built
# Quanta (/tmp/qbuild, of a main that has mmq18) and written the model files (/tmp/e2e/files); the kernel bench is
# /tmp/prebuild/mmq18/ggml_mmq_bench (prebuild_mmq18.sh) or is linked here from the meson objects. Steps, deciding first:
#   1. conformance with NORM_SLAB=1: ggml matmuls (q4_0 / q8_0, the =17 shapes) and the four norms at rows > 64, D a
#      multiple of 256 (their f32 results must not change; the slab itself is only read by a following GEMM);
#   2. normslab rows (ggml_mmq_bench): rms_norm writing the slab vs the prep of its result, byte for byte, and the GEMM
#      on each bit for bit (SAME / DIFFERENT), at M = 130 (a partial 256-token tile), 512, 2048; times of the norm alone,
#      the norm with its slab, the prep alone;
#   3. perplexity (7B Q4_0, 2 windows of 512, --quant keep) NORM_SLAB off / on: must print the same numbers;
#   4. pp512 (7B Q4_0, Q8_0): default and NORM_SLAB=1 on both files, then XKEEP=1 on both.
# About 48 s with /tmp/qbuild; later steps skipped when late. Everything under $OUT/mmq18/ (summary.txt).
set -u
cd "$(dirname "$0")/../.." # the repository root
export PATH=$PATH:/usr/local/cuda/bin
. bench/common/verifylib.sh mmq18 ${LIMIT:-48}
Q=${QUANTA:-/tmp/qbuild/tools/quanta}
KB=${QBUILD:-/tmp/qbuild}/kernels_cuda
F=${FILES:-/tmp/e2e/files}
BENCH=${MMQ18_BENCH:-/tmp/prebuild/mmq18/ggml_mmq_bench}
[ -x $Q ] || { say "no $Q"; pack; exit 1; }
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm --format=csv,noheader 2>&1)"
say "prebuild: $(cat /tmp/prebuild/mmq18/build.txt 2>/dev/null)"
# a build without mmq18 would ignore the switch (and its elementwise.cu.o has the old norm signatures)
if ! grep -q QUANTA_CUDA_GGML_NORM_SLAB $Q; then say "$Q has no QUANTA_CUDA_GGML_NORM_SLAB: a build of main before mmq18, nothing to check"; pack; exit 1; fi
BENCH_PID=""
if [ ! -x $BENCH ]; then # from the meson objects, on the host's cores while the GPU steps run
  BENCH=$D/ggml_mmq_bench
  ( timeout 40 nvcc -std=c++17 -O3 -gencode=arch=compute_90,code=sm_90 -Iinclude -Ibase -Iformats -Ikernels_cuda -Ibench/cuda \
      bench/cuda/ggml_mmq_bench.cu $KB/ggml_mmq.cu.o $KB/ggml_mmq_frag.cu.o $KB/ggml_mmq_wg.cu.o $KB/ggml_mmq_ws_wg.cu.o \
      $KB/ggml_mmq_rs_wg.cu.o $KB/ggml_mmq_rsi_wg.cu.o $KB/elementwise.cu.o -o $BENCH > $D/bench_build.log 2>&1 ) &
  BENCH_PID=$!
fi

# 1. conformance, NORM_SLAB=1. A q4_0 / q8_0 matmul at M > 64 first in each group: the backend learns the slab's K order
# from a kept prep, so a norm after it in the same backend writes a slab (where conform keeps one backend for its cases).
CASES=()
for w in q4_0 q8_0; do
  CASES+=(--case "matmul:m=300,n=640,k=2048,w=$w,x=f32" --case "rms_norm:shape=130x4096"
          --case "add_rms_norm:shape=300x4096" --case "add_norm:shape=257x4096,part=1"
          --case "rms_norm_add_norm:shape=130x2048,part=1"
          --case "matmul:m=77,n=131,k=256,w=$w,x=f16" --case "matmul:m=130,n=200,k=512,w=$w,x=bf16"
          --case "matmul:m=512,n=3100,k=256,w=$w,x=f32" --case "matmul:m=256,n=1024,k=4096,w=$w,x=f32"
          --case "rms_norm:shape=512x4096,dtype=f16" --case "matmul:m=65,n=33,k=256,w=$w,x=f32")
done
RS=ok
CONFORM_S=9 conform normslab QUANTA_CUDA_GGML_NORM_SLAB=1 -- "${CASES[@]}" || RS=FAIL
pack

# 2. normslab rows, same process
[ -n "$BENCH_PID" ] && { wait $BENCH_PID; say "bench build (meson objects): $(tail -2 $D/bench_build.log)"; }
if [ -x $BENCH ] && [ $(left) -gt 10 ]; then
  MMQ_BENCH_NEW=17 MMQ_BENCH_OLD=17 MMQ_BENCH_M=130,512,2048 MMQ_BENCH_FORMATS=q4_0,q8_0 MMQ_BENCH_TILES=0 \
    MMQ_BENCH_SHAPES=4096x4096 MMQ_BENCH_EXTRA=normslab timeout 10 $BENCH $D/mmq_normslab.csv > $D/mmq_normslab.txt 2>&1
  say "normslab rows rc=$?"
  grep normslab $D/mmq_normslab.txt | tee -a $D/summary.txt
  grep -q 'normslab.*DIFFERENT' $D/mmq_normslab.txt && RS=FAIL
  [ $(grep -c 'normslab.*SAME' $D/mmq_normslab.txt) -eq 6 ] || { say "normslab: not 6 SAME lines"; RS=FAIL; }
else
  say "normslab rows skipped (no bench or time)"
fi
pack

# 3. perplexity NORM_SLAB off / on: the same bits, the same numbers
PPL=()
for ns in 0 1; do
  f=mistral7b-q4_0
  [ -f $F/$f.gguf ] && [ $(left) -gt 14 ] || { say "perplexity NORM_SLAB=$ns skipped"; continue; }
  QUANTA_CUDA_GGML_NORM_SLAB=$ns timeout 12 $Q perplexity -m $F/$f.gguf -f README.md -c 512 --chunks 2 --quant keep \
    --backend cuda > $D/ppl_ns$ns.txt 2> $D/ppl_ns$ns.err
  r=$?; v=$(tr '\n' ' ' < $D/ppl_ns$ns.txt | sed 's/, [0-9.]* s)/)/' | tail -c 200) # the time left out
  say "perplexity $f NORM_SLAB=$ns rc=$r: $v"; PPL+=("$v")
done
[ ${#PPL[@]} -eq 2 ] && { [ "${PPL[0]}" = "${PPL[1]}" ] && [ -n "${PPL[0]}" ] && say "perplexity NORM_SLAB: the same" || { say "perplexity NORM_SLAB: DIFFERENT"; RS=FAIL; }; }
pack

# 4. pp512: default, XKEEP, NORM_SLAB
PP=()
pp() { # label file [VAR=value...]
  local label=$1 f=$2; shift 2
  [ -f $F/$f.gguf ] || { say "no $F/$f.gguf"; return 0; }
  [ $(left) -gt 8 ] || { say "pp $label skipped (time)"; return 0; }
  env "$@" timeout 10 $Q bench model -m $F/$f.gguf -p 512 -n 0 -r 3 --backend cuda --json > $D/pp_$label.json 2> $D/pp_$label.err
  local rc=$? v
  v=$(grep -o '"pp_tps": [0-9.]*, "pp_tps_sd": [0-9.]*' $D/pp_$label.json | sed 's/"pp_tps": //; s/, "pp_tps_sd": / ± /')
  say "pp512 $label rc=$rc: ${v:-none}"
  PP+=("| $label | ${v:-none} |")
}
# the deciding pairs first (default / NORM_SLAB on both files), XKEEP alone last (cut first when late)
for f in mistral7b-q4_0 mistral7b-q8_0; do
  pp ${f}__default $f QUANTA_PLAN_PROFILE=0
  pp ${f}__normslab $f QUANTA_CUDA_GGML_NORM_SLAB=1
done
for f in mistral7b-q4_0 mistral7b-q8_0; do pp ${f}__xkeep $f QUANTA_CUDA_GGML_XKEEP=1; done
{
  echo "== mmq18 summary =="
  echo "conformance (NORM_SLAB=1), normslab rows SAME, perplexity NORM_SLAB off = on: $RS"
  echo "| pp512 (tok/s, -r 3) | mean ± sd |"; echo "|---|---|"
  for r in "${PP[@]}"; do echo "$r"; done
} | tee -a $D/summary.txt
say "done"
pack
