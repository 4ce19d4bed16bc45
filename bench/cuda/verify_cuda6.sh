#!/bin/bash
# verify_cuda6.sh — device checks of cuda6's 2026-12-05 decode changes, run after bench/e2e/run_h200.sh has
# built Quanta (/tmp/qbuild) and written the model files (/tmp/e2e/files). About 80-90 s.
# The new default paths and their switches (each =0 restores the kernel or route before):
#   QUANTA_CUDA_NORM_ROPE      rms_norm_rope on CUDA: a q/k norm and its rope in one launch (Gemma: 2 fewer per layer)
#   QUANTA_CUDA_GLU_INT8       matmul_glu on the int8 GEMV with two planes of x's codes (~16 bits) instead of the
#                              f32 form of bd8bc16 (which decodes every weight value in f32)
#   QUANTA_CUDA_GEMV_PREFETCH  the GEMV's first weight loads issued before it waits for the kernel before it
#   QUANTA_CUDA_GEMV_QX        a batch-1 GEMV of a small weight (K <= 2048, N <= 4096: Gemma's wo and down) whose x
#                              has no codes quantizes x itself in each block: no quantize launch (2 fewer per layer)
#   QUANTA_CUDA_MULTI          the plan's matmul_multi (q/k/v in one GEMV launch) and write_rows_pair (k and v
#                              cache appends in one launch) claimed on CUDA (ocl6's fusions; 3 fewer per layer)
#   QUANTA_CUDA_NORM_PAIRS     the plan's rms_norm_rope_pair (q and k norm + rope in one launch) and rms_norm_add_norm
#                              (a post-norm, its residual and the next norm in one launch) claimed on CUDA (ocl6's
#                              fusions, landed 15:35; Gemma: 3 fewer per layer). Added after the mid-session call.
#   QUANTA_CUDA_GEMV_LPR=32    one warp per weight row (the kernel before); default 64/128 threads per row when a row
#                              has >= 128/256 chunks of 32 (7B: K = 4096 / 14336), batch-1 only
# Steps: 1. conformance of the changed ops (also with LPR forced to 64 and 128, and 7B-shaped M = 1 cases);
# 2. tests/cuda (graph replay bit-identical); 3. greedy text default vs all switches off (may differ: other
# sum order, glu precision; printed); 4. decode tg128 tok/s side by side, defaults vs switches off;
# 5. if time is left, GEMV kernel rows (bench/cuda/ggml_gemv_bench.cu) for LPR 32/64/128 and prefetch off.
# Everything goes to $OUT/cuda6/ (summary.txt) and $OUT/cuda6.tgz; the table is printed at the end.
set -u
cd "$(dirname "$0")/../.." # the repository root
OUT=${OUT:-/tmp/e2e-out}
D=$OUT/cuda6
mkdir -p $D
Q=${QUANTA:-/tmp/qbuild/tools/quanta}
F=${FILES:-/tmp/e2e/files}
T0=$(date +%s)
LIMIT=${LIMIT:-88}
OFF="QUANTA_CUDA_NORM_ROPE=0 QUANTA_CUDA_GLU_INT8=0 QUANTA_CUDA_GEMV_PREFETCH=0 QUANTA_CUDA_GEMV_LPR=32 QUANTA_CUDA_GEMV_QX=0 QUANTA_CUDA_MULTI=0 QUANTA_CUDA_NORM_PAIRS=0"
el() { echo $(($(date +%s) - T0)); }
say() { echo "[$(el)s] $*" | tee -a $D/summary.txt; }
pack() { tar czf $OUT/cuda6.tgz.part -C $OUT cuda6 2>/dev/null && mv $OUT/cuda6.tgz.part $OUT/cuda6.tgz; }
[ -x $Q ] || { say "no $Q"; exit 1; }
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm,clocks.mem --format=csv,noheader 2>&1)"

# 1. conformance
# matmul only at the GEMV's M (the full matmul sweep's batched cases are mmq6's and slow on the reference)
CG=""
for w in q4_0 q4_1 q5_0 q5_1 q8_0 q4_k q5_k q6_k; do
  case $w in q*_k) k=768;; *) k=640;; esac # k-quants: multiples of 256
  for x in f32 bf16; do
    CG="$CG --case matmul:m=1,n=512,k=1024,w=$w,x=$x --case matmul:m=1,n=67,k=$k,w=$w,x=$x --case matmul:m=3,n=67,k=$k,w=$w,x=$x"
  done
done
timeout 35 $Q conform --backend cuda --filter rms_norm_rope,rms_norm_rope_pair,rms_norm_add_norm,matmul_multi,write_rows_pair,write_rows,matmul_glu,rms_norm \
  --failures > $D/conform.log 2>&1
say "conform rms_norm_rope(_pair)/rms_norm_add_norm/matmul_multi/write_rows(_pair)/matmul_glu/rms_norm rc=$?: $(grep -E '^total' $D/conform.log)"
grep -E '^FAIL' $D/conform.log | head -8 | tee -a $D/summary.txt
timeout 15 $Q conform --backend cuda --failures $CG > $D/conform_gemv.log 2>&1
say "conform matmul at the GEMV's M (x quantized in the kernel at K <= 2048) rc=$?: $(grep -E '^total' $D/conform_gemv.log)"
grep -E '^FAIL' $D/conform_gemv.log | head -8 | tee -a $D/summary.txt
C7=""
for w in q4_0 q8_0 q4_k q5_0 q6_k; do
  for k in 4096 8192; do C7="$C7 --case matmul:m=1,n=96,k=$k,w=$w,x=f32 --case matmul_glu:m=1,n=64,k=$k,w=$w,x=f32,act=0"; done
  C7="$C7 --case matmul_multi:m=1,n=64,n1=16,n2=16,k=4096,w=$w,x=f32"
done
for l in 64 128; do
  QUANTA_CUDA_GEMV_QX=0 QUANTA_CUDA_GEMV_LPR=$l timeout 15 $Q conform --backend cuda --failures $C7 \
    > $D/conform_lpr$l.log 2>&1
  say "conform matmul/matmul_glu + 7B-shaped M=1, LPR=$l forced (QX off), rc=$?: $(grep -E '^total' $D/conform_lpr$l.log)"
  grep -E '^FAIL' $D/conform_lpr$l.log | head -4 | tee -a $D/summary.txt
done
pack

# 2. tests/cuda
for t in test_cuda_graphs test_cuda_ops; do
  [ -x /tmp/qbuild/tests/cuda/$t ] || { say "no $t"; continue; }
  CK_FORK=no timeout 30 /tmp/qbuild/tests/cuda/$t > $D/$t.log 2>&1
  say "$t rc=$?: $(grep -E 'Checks' $D/$t.log | tail -1)"
done

# 3. greedy text
G=$F/gemma3-270m-q4_k_m.gguf
if [ -f $G ]; then
  timeout 15 $Q generate -m $G --backend cuda -n 24 --quiet > $D/gen_default.txt 2> $D/gen_default.err
  r1=$?
  env $OFF timeout 15 $Q generate -m $G --backend cuda -n 24 --quiet > $D/gen_off.txt 2> $D/gen_off.err
  r2=$?
  cmp -s $D/gen_default.txt $D/gen_off.txt && same=identical || same=DIFFERENT
  [ $r1 = 0 ] && [ $r2 = 0 ] || same="not compared (a run failed)"
  say "gemma greedy text default rc=$r1 / switches off rc=$r2: $same"
  say "  default: $(head -c 100 $D/gen_default.txt | tr '\n' ' ')"
  [ "$same" = identical ] || say "  off:     $(head -c 100 $D/gen_off.txt | tr '\n' ' ')"
fi
pack

# 4. decode tok/s
ROWS=""
tg() { # label, env, args...: one decode-only bench (-p 0 -n 128 -r 2)
  local label=$1 env=$2; shift 2
  if [ $(el) -gt $((LIMIT - 6)) ]; then say "tg $label skipped (time)"; return; fi
  env $env timeout 20 $Q bench model -p 0 -n 128 -r 2 --backend cuda --json "$@" > $D/tg_$label.json 2> $D/tg_$label.err
  local rc=$? v=$(grep -o '"tg_tps": [0-9.]*' $D/tg_$label.json | grep -o '[0-9.]*$')
  local sd=$(grep -o '"tg_tps_sd": [0-9.]*' $D/tg_$label.json | grep -o '[0-9.]*$')
  say "tg $label rc=$rc: ${v:-?} ± ${sd:-?} tok/s"
  ROWS="$ROWS\n| $label | ${v:-?} | ${sd:-?} |"
}
M4=$F/mistral7b-q4_0.gguf M8=$F/mistral7b-q8_0.gguf
# first pass: defaults against everything off, each file; then one switch off at a time
[ -f $G ] && { tg gemma_default X=1 -m $G; tg gemma_off "$OFF" -m $G; }
[ -f $M4 ] && { tg 7b_q4_0_default X=1 -m $M4; tg 7b_q4_0_off "$OFF" -m $M4; }
[ -f $M8 ] && { tg 7b_q8_0_default X=1 -m $M8; tg 7b_q8_0_off "$OFF" -m $M8; }
pack
prof() { # label, env, model: per-op table of 16 decode steps (QUANTA_PLAN_PROFILE=1: ops synchronized one by one)
  if [ $(el) -gt $((LIMIT - 8)) ]; then say "profile $1 skipped (time)"; return; fi
  env $2 QUANTA_PLAN_PROFILE=1 timeout 15 $Q bench model -p 0 -n 16 -r 1 --backend cuda -m $3 > $D/prof_$1.txt 2>&1
  say "profile $1 rc=$?: $(grep -o 'per-op profile.*' $D/prof_$1.txt)"
  grep -E '^\| [a-z_]' $D/prof_$1.txt | head -14 | tee -a $D/summary.txt
}
[ -f $G ] && { prof gemma_default X=1 $G; prof gemma_off "$OFF" $G; }
[ -f $G ] && { tg gemma_norm_pairs_off QUANTA_CUDA_NORM_PAIRS=0 -m $G; tg gemma_multi_off QUANTA_CUDA_MULTI=0 -m $G; tg gemma_norm_rope_off QUANTA_CUDA_NORM_ROPE=0 -m $G; tg gemma_qx_off QUANTA_CUDA_GEMV_QX=0 -m $G;
  tg gemma_prefetch_off QUANTA_CUDA_GEMV_PREFETCH=0 -m $G; tg gemma_glu_f32 QUANTA_CUDA_GLU_INT8=0 -m $G;
  tg gemma_default2 X=1 -m $G; }
[ -f $M4 ] && { tg 7b_q4_0_multi_off QUANTA_CUDA_MULTI=0 -m $M4; tg 7b_q4_0_lpr32 QUANTA_CUDA_GEMV_LPR=32 -m $M4; tg 7b_q4_0_glu_f32 QUANTA_CUDA_GLU_INT8=0 -m $M4;
  tg 7b_q4_0_prefetch_off QUANTA_CUDA_GEMV_PREFETCH=0 -m $M4; }
[ -f $M8 ] && tg 7b_q8_0_lpr32 QUANTA_CUDA_GEMV_LPR=32 -m $M8
pack

# 5. GEMV kernel rows, if time is left (the build takes ~30-40 s)
if [ $(el) -lt $((LIMIT - 50)) ]; then
  timeout 40 sh bench/cuda/build_gemv_bench.sh /tmp/gemv6 > $D/gemv_build.log 2>&1
  say "gemv bench build rc=$?"
  for l in 32 64 128; do
    [ -x /tmp/gemv6/ggml_gemv_bench ] && [ $(el) -lt $((LIMIT - 5)) ] || break
    QUANTA_CUDA_GEMV_LPR=$l timeout 12 /tmp/gemv6/ggml_gemv_bench $D/gemv_lpr$l.csv > $D/gemv_lpr$l.txt 2>&1
    say "gemv bench LPR=$l rc=$?"
  done
  [ -x /tmp/gemv6/ggml_gemv_bench ] && [ $(el) -lt $((LIMIT - 5)) ] && { QUANTA_CUDA_GEMV_PREFETCH=0 timeout 12 /tmp/gemv6/ggml_gemv_bench $D/gemv_nopre.csv \
    > $D/gemv_nopre.txt 2>&1; say "gemv bench prefetch off rc=$?"; }
else
  say "gemv bench skipped (time)"
fi
say "done"
printf "\n| decode run (tg128, -r 2) | tok/s | sd |\n|---|---|---|$ROWS\n" | tee -a $D/summary.txt
for f in $D/gemv_lpr32.txt $D/gemv_lpr64.txt $D/gemv_lpr128.txt $D/gemv_nopre.txt; do
  [ -f $f ] && { echo "== $(basename $f)"; grep -vE '^mode' $f | awk '{print $1,$2,$3,$4,$6,$7}'; } | tee -a $D/summary.txt
done
pack
