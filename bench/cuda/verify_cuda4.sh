#!/bin/bash
# verify_cuda4.sh — device checks of cuda4's 2026-12-05 changes, run after bench/e2e/run_h200.sh has
# built Quanta (/tmp/qbuild) and written the model files (/tmp/e2e/files). About 60-100 s.
#   1. conformance of the CUDA kernels changed: glu and rms_norm_add (new, now fused by the plan on
#      CUDA), rms_norm / add_rms_norm (register-cached kernel for rows <= 4 x threads);
#   2. the staged ggml GEMV (QUANTA_CUDA_GEMV=staged, off by default): every matmul conformance case
#      plus M = 1 cases on the 7B shapes (several staging spans, a tail, each format), and the
#      tests/cuda tests (graph replay bit-identical to op-by-op) with it on;
#   3. the norms leaving their int8 codes for the next ggml GEMV (QUANTA_CUDA_NORM_QX=1, off by
#      default): greedy text identical with and without it (the codes are meant to be bit-identical),
#      and the tests/cuda tests with it on;
#   4. decode tok/s side by side in this one call: Gemma with the f32 KV cache (the default) and
#      --kv f16 (llama-bench's KV dtype, the tensor-core decode kernel) and with NORM_QX; 7B Q4_0
#      and Q8_0 with the direct GEMV (default), the staged one, and staged + NORM_QX;
#   5. kernel rows of the batch-1 GEMV on the 7B shapes against the copy bandwidth, direct and staged
#      (bench/cuda/ggml_gemv_bench.cu; the output hashes of the two runs must match), if time is left.
# Everything goes to $OUT/cuda4/ (summary.txt first).
set -u
cd "$(dirname "$0")/../.." # the repository root (bench/cuda/build_gemv_bench.sh is run from there)
OUT=${OUT:-/tmp/e2e-out}
D=$OUT/cuda4
mkdir -p $D
Q=/tmp/qbuild/tools/quanta
F=/tmp/e2e/files
T0=$(date +%s)
say() { echo "[$(($(date +%s) - T0))s] $*" | tee -a $D/summary.txt; }
[ -x $Q ] || { say "no $Q"; exit 1; }
nvidia-smi --query-gpu=name --format=csv,noheader > $D/gpu.txt 2>&1
say "gpu: $(cat $D/gpu.txt)"

timeout 40 $Q conform --backend cuda --filter glu,rms_norm,add_rms_norm,rms_norm_add --failures > $D/conform_norm_glu.log 2>&1
say "conform glu/rms_norm* rc=$?: $(grep -E '^total' $D/conform_norm_glu.log)"
grep -E '^FAIL' $D/conform_norm_glu.log | head -10 | tee -a $D/summary.txt

CASES=()
for w in q4_0 q4_1 q5_0 q5_1 q8_0 q4_k q5_k q6_k; do
  for nk in 4096:4096 300:14336 257:11008; do
    CASES+=(--case "matmul:m=1,n=${nk%%:*},k=${nk##*:},w=$w,x=f32")
  done
done
QUANTA_CUDA_GEMV=staged timeout 40 $Q conform --backend cuda --filter matmul --failures > $D/conform_matmul_staged.log 2>&1
say "conform matmul, staged GEMV rc=$?: $(grep -E '^total' $D/conform_matmul_staged.log)"
grep -E '^FAIL' $D/conform_matmul_staged.log | head -10 | tee -a $D/summary.txt
QUANTA_CUDA_GEMV=staged timeout 30 $Q conform --backend cuda "${CASES[@]}" > $D/conform_7b_shapes_staged.log 2>&1
say "conform 7B-shape M=1 cases, staged GEMV rc=$?: $(grep -E '^total' $D/conform_7b_shapes_staged.log)"
grep -E '^FAIL' $D/conform_7b_shapes_staged.log | head -10 | tee -a $D/summary.txt

for t in test_cuda_graphs test_cuda_ops; do
  [ -x /tmp/qbuild/tests/cuda/$t ] || { say "no $t"; continue; }
  QUANTA_CUDA_GEMV=staged QUANTA_CUDA_NORM_QX=1 CK_FORK=no timeout 60 /tmp/qbuild/tests/cuda/$t > $D/${t}_new.log 2>&1
  say "$t (staged GEMV, NORM_QX) rc=$?: $(grep -E 'Checks' $D/${t}_new.log | tail -1)"
done

same_text() { # file label: greedy text with the defaults, then with the opt-in paths, compared
  local m=$1 label=$2
  timeout 30 $Q generate -m $m --backend cuda -n 24 --quiet > $D/gen_${label}_default.txt 2> $D/gen_${label}_default.err
  local r1=$?
  QUANTA_CUDA_GEMV=staged QUANTA_CUDA_NORM_QX=1 timeout 30 $Q generate -m $m --backend cuda -n 24 --quiet \
    > $D/gen_${label}_new.txt 2> $D/gen_${label}_new.err
  local r2=$?
  if cmp -s $D/gen_${label}_default.txt $D/gen_${label}_new.txt; then same=identical; else same=DIFFERENT; fi
  say "greedy text $label default rc=$r1, staged+NORM_QX rc=$r2: $same ($(wc -c < $D/gen_${label}_new.txt) bytes)"
}

tg() { # label, env, args...: one decode-only bench (-p 0 -n 128 -r 3)
  local label=$1 env=$2; shift 2
  env $env timeout 60 $Q bench model -p 0 -n 128 -r 3 --backend cuda --json "$@" > $D/tg_$label.json 2> $D/tg_$label.err
  say "tg $label rc=$?: $(grep -o '"tg_tps": [0-9.]*, "tg_tps_sd": [0-9.]*' $D/tg_$label.json)"
}
G=$F/gemma3-270m-q4_k_m.gguf
[ -f $G ] && same_text $G gemma
for q in q4_0 q8_0; do [ -f $F/mistral7b-$q.gguf ] && same_text $F/mistral7b-$q.gguf 7b_$q; done
[ -f $G ] && { tg gemma_kvf32 X=1 -m $G; tg gemma_kvf16 X=1 -m $G --kv f16; tg gemma_normqx QUANTA_CUDA_NORM_QX=1 -m $G;
  tg gemma_kvf16_normqx QUANTA_CUDA_NORM_QX=1 -m $G --kv f16; tg gemma_kvf32_again X=1 -m $G; }
for q in q4_0 q8_0; do
  M=$F/mistral7b-$q.gguf
  [ -f $M ] || continue
  tg 7b_${q}_direct X=1 -m $M
  tg 7b_${q}_staged QUANTA_CUDA_GEMV=staged -m $M
  tg 7b_${q}_staged_normqx "QUANTA_CUDA_GEMV=staged QUANTA_CUDA_NORM_QX=1" -m $M
  tg 7b_${q}_direct_again X=1 -m $M
done
if [ $(($(date +%s) - T0)) -lt 75 ]; then
  timeout 40 sh bench/cuda/build_gemv_bench.sh /tmp/gemv_bench > $D/gemv_build.log 2>&1
  say "gemv bench build rc=$?"
  if [ -x /tmp/gemv_bench/ggml_gemv_bench ]; then
    timeout 20 /tmp/gemv_bench/ggml_gemv_bench $D/gemv_direct.csv > $D/gemv_direct.txt 2>&1
    say "gemv bench direct rc=$?"
    QUANTA_CUDA_GEMV=staged timeout 20 /tmp/gemv_bench/ggml_gemv_bench $D/gemv_staged.csv > $D/gemv_staged.txt 2>&1
    say "gemv bench staged rc=$?"
    paste -d' ' <(awk '{print $1,$2,$3,$4,$6,$7,$8}' $D/gemv_direct.txt) <(awk '{print $4,$6,$7,$8}' $D/gemv_staged.txt) \
      | tee -a $D/summary.txt
  fi
else
  say "gemv bench skipped (time)"
fi
say "done"
