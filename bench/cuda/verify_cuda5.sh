#!/bin/bash
# verify_cuda5.sh — device checks of cuda5's 2026-12-05 decode changes, run after bench/e2e/run_h200.sh has
# built Quanta (/tmp/qbuild) and written the model files (/tmp/e2e/files). About 60-90 s.
#   1. conformance of what changed: matmul (the GEMV with several chunks in flight per lane, the f32 form
#      for rows shorter than 512: the q5_k k=256 case), matmul_glu (now a CUDA kernel: gate + up + glu in
#      one GEMV launch), attention (the decode-rows kernel, cluster-merged splits) and the element-wise
#      kernels now launched with programmatic dependent launch (PDL);
#   2. tests/cuda: CUDA-graph replay bit-identical to op-by-op decode (PDL edges inside captured graphs);
#   3. greedy text with PDL and the norms' int8 codes on (default) and both off: must be identical;
#   4. decode tok/s side by side in this one call (-p 0 -n 128 -r 3), default and QUANTA_CUDA_PDL=0,
#      alternated: Gemma-3-270M-shaped Q4_K_M, 7B-shaped Q4_0 and Q8_0;
#   5. if time is left: kernel rows of the batch-1 GEMV on the 7B shapes, 4 chunks per lane and round
#      against 1 (the kernel before), with and without PDL (the output hashes must all match).
# Everything goes to $OUT/cuda5/ (summary.txt first) and $OUT/cuda5.tgz.
set -u
cd "$(dirname "$0")/../.." # the repository root (bench/cuda/build_gemv_bench.sh is run from there)
OUT=${OUT:-/tmp/e2e-out}
D=$OUT/cuda5
mkdir -p $D
Q=/tmp/qbuild/tools/quanta
F=/tmp/e2e/files
T0=$(date +%s)
LIMIT=${LIMIT:-85}
say() { echo "[$(($(date +%s) - T0))s] $*" | tee -a $D/summary.txt; }
pack() { tar czf $OUT/cuda5.tgz.part -C $OUT cuda5 2>/dev/null && mv $OUT/cuda5.tgz.part $OUT/cuda5.tgz; }
[ -x $Q ] || { say "no $Q"; exit 1; }
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm,clocks.mem --format=csv,noheader 2>&1)"

timeout 40 $Q conform --backend cuda --filter matmul,matmul_glu,attention,rms_norm,add_rms_norm,rms_norm_add,glu,rope \
  --failures > $D/conform.log 2>&1
say "conform matmul/matmul_glu/attention/norms/glu/rope rc=$?: $(grep -E '^total' $D/conform.log)"
grep -E '^FAIL' $D/conform.log | head -10 | tee -a $D/summary.txt
timeout 10 $Q conform --backend cuda --case 'matmul:m=1,n=1,k=256,w=q5_k,x=f32' --case 'matmul:m=1,n=1,k=256,w=q5_k,x=f16' \
  > $D/conform_q5k.log 2>&1
say "q5_k k=256 cases rc=$?: $(grep -E '^total' $D/conform_q5k.log)"
pack

for t in test_cuda_graphs test_cuda_ops; do
  [ -x /tmp/qbuild/tests/cuda/$t ] || { say "no $t"; continue; }
  CK_FORK=no timeout 60 /tmp/qbuild/tests/cuda/$t > $D/$t.log 2>&1
  say "$t rc=$?: $(grep -E 'Checks' $D/$t.log | tail -1)"
done

same_text() { # file label: greedy text with the defaults, then with PDL and the norms' codes off
  local m=$1 label=$2
  timeout 30 $Q generate -m $m --backend cuda -n 24 --quiet > $D/gen_${label}_default.txt 2> $D/gen_${label}_default.err
  local r1=$?
  QUANTA_CUDA_PDL=0 QUANTA_CUDA_NORM_QX=0 timeout 30 $Q generate -m $m --backend cuda -n 24 --quiet \
    > $D/gen_${label}_off.txt 2> $D/gen_${label}_off.err
  local r2=$?
  if cmp -s $D/gen_${label}_default.txt $D/gen_${label}_off.txt; then same=identical; else same=DIFFERENT; fi
  say "greedy text $label default rc=$r1, PDL+NORM_QX off rc=$r2: $same ($(wc -c < $D/gen_${label}_default.txt) bytes)"
}

tg() { # label, env, args...: one decode-only bench (-p 0 -n 128 -r 3)
  local label=$1 env=$2; shift 2
  env $env timeout 60 $Q bench model -p 0 -n 128 -r 3 --backend cuda --json "$@" > $D/tg_$label.json 2> $D/tg_$label.err
  say "tg $label rc=$?: $(grep -o '"tg_tps": [0-9.]*, "tg_tps_sd": [0-9.]*' $D/tg_$label.json)"
}
G=$F/gemma3-270m-q4_k_m.gguf
[ -f $G ] && same_text $G gemma
[ -f $F/mistral7b-q4_0.gguf ] && same_text $F/mistral7b-q4_0.gguf 7b_q4_0
pack
[ -f $G ] && { tg gemma X=1 -m $G; tg gemma_nopdl QUANTA_CUDA_PDL=0 -m $G; tg gemma_again X=1 -m $G;
  tg gemma_kvf16 X=1 -m $G --kv f16; }
pack
for q in q4_0 q8_0; do
  M=$F/mistral7b-$q.gguf
  [ -f $M ] || continue
  tg 7b_$q X=1 -m $M
  tg 7b_${q}_nopdl QUANTA_CUDA_PDL=0 -m $M
  [ $(($(date +%s) - T0)) -lt $((LIMIT - 20)) ] && tg 7b_${q}_again X=1 -m $M
  pack
done
if [ $(($(date +%s) - T0)) -lt $((LIMIT - 35)) ]; then
  timeout 40 sh bench/cuda/build_gemv_bench.sh /tmp/gemv_bench > $D/gemv_build.log 2>&1
  say "gemv bench build rc=$?"
  if [ -x /tmp/gemv_bench/ggml_gemv_bench ]; then
    timeout 15 /tmp/gemv_bench/ggml_gemv_bench $D/gemv_u4.csv > $D/gemv_u4.txt 2>&1
    say "gemv bench U=4 rc=$?"
    timeout 15 /tmp/gemv_bench/ggml_gemv_bench_u1 $D/gemv_u1.csv > $D/gemv_u1.txt 2>&1
    say "gemv bench U=1 rc=$?"
    paste -d' ' <(awk '{print $1,$2,$3,$4,$6,$7,$8}' $D/gemv_u1.txt) <(awk '{print $4,$6,$7,$8}' $D/gemv_u4.txt) \
      | tee -a $D/summary.txt
  fi
else
  say "gemv bench skipped (time)"
fi
say "done"
pack
