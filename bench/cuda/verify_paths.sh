#!/bin/bash
# verify_paths.sh — the standing device check of the CUDA paths no session's helper owns: the decode GEMV's kernel
# rows against the copy bandwidth, the lean register norm against the plain one, and a whole model on the FP8 x FP8
# path. It replaces the per-change scripts of sessions 7-12 (verify_cuda7, gemv12, norm11, mmq8_e2e and the rest),
# whose decisions are recorded in bench/NOTES.md. Run after bench/e2e/run_h200.sh has built Quanta (/tmp/qbuild)
# and written the model files (/tmp/e2e/files):
#   VERIFY=bench/cuda/verify_paths.sh bash bench/e2e/run_h200.sh build files verify
# About 45 s; everything goes to $OUT/paths/ (summary.txt) and $OUT/paths.tgz.
# Steps: 1. decode GEMV rows (bench/cuda/ggml_gemv_bench.cu linked to the build's ggml.cu.o; the 7B's shapes,
# q4_0 and q8_0, the library's default kernels) as % of the copy bandwidth measured in the same process;
# 2. bench/cuda/norm_check.cu check with a fresh seed (every norm entry point, lean form against plain, byte for byte);
# 3. Gemma 3 270M requantized to fp8_e4m3: greedy text and pp512 with the FP8 x FP8 GEMM on (default) and off
# (QUANTA_CUDA_FP8_WGMMA=0: x in f16 on mma.sync), alternated; the text may differ (e4m3 activations flip near ties).
set -u
cd "$(dirname "$0")/../.." # the repository root
. bench/common/verifylib.sh paths ${LIMIT:-50}
B=${QBUILD:-/tmp/qbuild}
Q=${QUANTA:-$B/tools/quanta}
F=${FILES:-/tmp/e2e/files}
[ -x $Q ] || { say "no $Q"; exit 1; }
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm,clocks.mem --format=csv,noheader 2>&1)"
say "tree: $(git log --oneline -1 2>/dev/null)"

NVCC=${NVCC:-nvcc}
command -v "$NVCC" >/dev/null 2>&1 || NVCC=/usr/local/cuda/bin/nvcc
# both host builds start at once and overlap step 3's model work
( GGML_O=$B/kernels_cuda/ggml.cu.o timeout 60 sh bench/cuda/build_gemv_bench.sh $D/bench > $D/gemv_build.log 2>&1
  echo $? > $D/gemv_build.rc ) &
GEMV_PID=$!
( timeout 60 $NVCC -std=c++17 -O3 -lineinfo -gencode=arch=compute_90,code=sm_90 -Iinclude -Iformats -Ibase -Ikernels_cuda \
    -o $D/norm_check bench/cuda/norm_check.cu > $D/norm_build.log 2>&1; echo $? > $D/norm_build.rc ) &
NORM_PID=$!

# 3. a whole model on the FP8 x FP8 path (the e2e files hold no fp8 weights: Gemma is requantized, so this is a
# smoke test of the path, not a quality claim)
SRC=$F/gemma3-270m-q4_k_m.gguf M8=/tmp/paths_gemma_fp8.gguf
if [ -f $SRC ]; then
  timeout 30 $Q quantize -m $SRC -o $M8 --quant fp8 --keep-embeddings f16 -q > $D/quantize.log 2>&1
  say "quantize Gemma to fp8 rc=$?: $(grep -E '^size' $D/quantize.log)"
fi
if [ -f $M8 ]; then
  PROMPT="The three largest cities of France are"
  for sw in 1 0; do
    QUANTA_CUDA_FP8_WGMMA=$sw timeout 15 $Q generate -m $M8 -p "$PROMPT" -n 24 --backend cuda > $D/gen_fp8_$sw.txt 2> $D/gen_fp8_$sw.err
    r=$?; say "fp8 Gemma generate WGMMA=$sw rc=$r: $(tr '\n' ' ' < $D/gen_fp8_$sw.txt | head -c 200)"
    [ $r -eq 0 ] && [ -s $D/gen_fp8_$sw.txt ] || VERDICT=FAIL
  done
  for sw in 1 0 1 0; do
    [ $(left) -gt 25 ] || break
    QUANTA_CUDA_FP8_WGMMA=$sw timeout 12 $Q bench model -m $M8 -p 512 -n 0 -r 3 --backend cuda --json > $D/pp_fp8_$sw.json 2> $D/pp_fp8_$sw.err
    r=$?; v=$(grep -o '"pp_tps": [0-9.]*, "pp_tps_sd": [0-9.]*' $D/pp_fp8_$sw.json | sed 's/"pp_tps": //; s/, "pp_tps_sd": / ± /')
    say "fp8 Gemma pp512 WGMMA=$sw rc=$r: ${v:-none} tok/s"
  done
else
  say "no fp8 model: step 3 skipped"
fi
pack

# 2. lean norm against plain, byte for byte
wait $NORM_PID
if [ "$(cat $D/norm_build.rc 2>/dev/null)" = 0 ]; then
  seed=$(date +%s)
  timeout 20 $D/norm_check check $seed > $D/norm_check.log 2>&1
  r=$?; say "norm_check check (seed $seed) rc=$r: $(tail -1 $D/norm_check.log)"
  grep -E '^FAIL' $D/norm_check.log | head -4 | tee -a $D/summary.txt
  [ $r -eq 0 ] || VERDICT=FAIL
else
  say "norm_check build failed: $(tail -2 $D/norm_build.log | tr '\n' ' ')"; VERDICT=FAIL
fi
pack

# 1. decode GEMV kernel rows (timing only: the conformance suite and test_cuda_graphs check the values)
wait $GEMV_PID
if [ "$(cat $D/gemv_build.rc 2>/dev/null)" = 0 ] && [ $(left) -gt 8 ]; then
  QN_BENCH_FMTS=q4_0,q8_0 timeout $(( $(left) - 3 )) $D/bench/ggml_gemv_bench $D/gemv_rows.csv > $D/gemv_rows.txt 2>&1
  say "decode GEMV rows rc=$?:"; tee -a $D/summary.txt < $D/gemv_rows.txt
else
  say "GEMV rows skipped: build rc $(cat $D/gemv_build.rc 2>/dev/null), $(left) s left; $(tail -2 $D/gemv_build.log | tr '\n' ' ')"
fi
say "verdict: $VERDICT"
pack
