#!/bin/bash
# verify_norm11.sh — device checks of norm11's norm and rope changes (issue 11: Gemma decode), run after
# bench/e2e/run_h200.sh has built Quanta (/tmp/qbuild) and written the model files (/tmp/e2e/files). About 60 s.
# The switches (NORM_LEAN on by default for rows of 256-1023 since this script's run of 07:15, =0 off, =1 every row;
# ROPE_EARLY off, =1 on):
#   QUANTA_CUDA_NORM_LEAN=1  the register norm kernel (qn_k_rms_norm_regs: rms_norm / rms_norm_add / add_rms_norm /
#                            rms_norm_add_norm / add_norm of rows up to 4096) in its lean form: a warp's int8 code
#                            chunks (one per k) made at once with interleaved shuffle chains, and the dtypes
#                            constant-folded where every operand is f32 (-27% main-path instructions); the same
#                            arithmetic per element and chunk, so bit-identical
#   QUANTA_CUDA_ROPE_EARLY=1 rope_kv / rms_norm_rope(_pair) (qn_k_rms_norm_rope) take their first pair's f64 pow (it
#                            depends on the arguments alone) before the PDL wait, overlapping the kernel before; the
#                            same expression on the same values, so bit-identical by construction
# (The one-warp norm, QUANTA_CUDA_NORM_WARP, was removed after its run of 06:30: bit-identical but 3.5-10x slower.)
# Steps: 1. bench/cuda/norm_check.cu (nvcc, built here in the background): every norm entry point x dtype x D (32 ..
# 4096) x rows, the lean form vs the plain form byte for byte (y, y2, both planes of the codes), then us per launch of
# one row of 640 and 1024, plain vs lean; 2. the engine unit tests of the norms on cuda (fused vs alone, bit for bit)
# with the switches on; 3. conformance of the norm ops, switches off and on; 4. greedy text off vs on (Gemma; 7B Q4_0:
# rows of 4096, and its rope_kv); 5. Gemma tg128 off / NORM_LEAN / both, alternated twice.
# Everything goes to $OUT/norm11/ (summary.txt) and $OUT/norm11.tgz; the table is printed at the end.
set -u
cd "$(dirname "$0")/../.." # the repository root
. bench/common/verifylib.sh norm11 ${LIMIT:-100}
B=${QBUILD:-/tmp/qbuild}
Q=${QUANTA:-$B/tools/quanta}
F=${FILES:-/tmp/e2e/files}
OFF="QUANTA_CUDA_NORM_LEAN=0 QUANTA_CUDA_ROPE_EARLY=0"
ON="QUANTA_CUDA_NORM_LEAN=1 QUANTA_CUDA_ROPE_EARLY=1"
LEAN="QUANTA_CUDA_NORM_LEAN=1 QUANTA_CUDA_ROPE_EARLY=0"
[ -x $Q ] || { say "no $Q"; exit 1; }
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm,clocks.mem --format=csv,noheader 2>&1)"
say "tree: $(git log --oneline -1 2>/dev/null)"

NVCC=${NVCC:-nvcc}
command -v "$NVCC" >/dev/null 2>&1 || NVCC=/usr/local/cuda/bin/nvcc
( timeout 60 $NVCC -std=c++17 -O3 -lineinfo -gencode=arch=compute_90,code=sm_90 -Iinclude -Iformats -Ibase -Ikernels_cuda \
    -o $D/norm_check bench/cuda/norm_check.cu > $D/norm_check_build.log 2>&1; echo $? > $D/norm_check_build.rc ) &
NVPID=$!

# 2. the engine unit tests of the norms (each compares the fused plans with the ops alone, bit for bit, guards on;
# the cuda rows run the lean form and the early pow with the switches on)
TESTS="engine/test_add_norm engine/test_rms_norm_add engine/test_rms_norm_add_norm engine/test_add_rms_norm engine/test_rope_kv"
timeout 40 ninja -C $B $(for t in $TESTS; do echo tests/$t; done) > $D/build.log 2>&1
say "build rc=$? (the engine tests)"
for t in $TESTS; do
  [ -x $B/tests/$t ] || { say "no $t"; VERDICT=FAIL; continue; }
  env $ON OCL_ICD_VENDORS=/nonexistent-quanta-icd CK_FORK=no timeout 20 $B/tests/$t > $D/$(basename $t).log 2>&1
  rc=$?
  say "$t (switches on) rc=$rc: $(grep -E 'Checks' $D/$(basename $t).log | tail -1)"
  grep -E 'differs|:F:|:E:' $D/$(basename $t).log | head -3 | tee -a $D/summary.txt
  [ $rc -eq 0 ] || VERDICT=FAIL
done
pack

# 3. conformance of the norm ops (rows of 1, 33, 1001, 4096)
OPS=rms_norm,add_rms_norm,rms_norm_add,rms_norm_add_norm,add_norm,rope_kv
CONFORM_S=20 conform norms_off $OFF -- --filter $OPS --failures
CONFORM_S=20 conform norms_on $ON -- --filter $OPS --failures
pack

# 1. the lean form against the plain form, byte for byte, and us per launch
wait $NVPID
if [ "$(cat $D/norm_check_build.rc 2>/dev/null)" = 0 ]; then
  seed=$(date +%s)
  timeout 30 $D/norm_check check $seed > $D/norm_check.log 2>&1
  rc=$?
  say "norm_check check (seed $seed) rc=$rc: $(tail -1 $D/norm_check.log)"
  grep -E '^FAIL' $D/norm_check.log | head -4 | tee -a $D/summary.txt
  [ $rc -eq 0 ] || VERDICT=FAIL
  timeout 20 $D/norm_check bench > $D/norm_bench.log 2>&1
  say "norm_check bench rc=$? (us per launch, two runs each, 2000 launches back to back):"
  cat $D/norm_bench.log | tee -a $D/summary.txt
else
  say "norm_check build failed: $(tail -3 $D/norm_check_build.log)"
  VERDICT=FAIL
fi
pack

# 4. greedy text (both switches are meant to be bit-identical: the text must not change)
M4=$F/mistral7b-q4_0.gguf G=$F/gemma3-270m-q4_k_m.gguf
for f in $G $M4; do
  [ -f $f ] || { say "no $f"; continue; }
  b=$(basename $f .gguf)
  env $OFF timeout 15 $Q generate -m $f --backend cuda -n 32 --quiet > $D/gen_${b}_off.txt 2> $D/gen_${b}_off.err; r1=$?
  env $ON timeout 15 $Q generate -m $f --backend cuda -n 32 --quiet > $D/gen_${b}_on.txt 2> $D/gen_${b}_on.err; r2=$?
  if cmp -s $D/gen_${b}_on.txt $D/gen_${b}_off.txt && [ -s $D/gen_${b}_on.txt ]; then same=identical; else same="DIFFERENT (expected identical)"; VERDICT=FAIL; fi
  say "$b greedy text off rc=$r1 / on rc=$r2: $same"
done
pack

# 5. decode tok/s, off and on alternated
[ -f $G ] && for i in 1 2; do tg gemma_off$i "$OFF" -m $G; tg gemma_lean$i "$LEAN" -m $G; tg gemma_lean_rope_early$i "$ON" -m $G; done
pack

say "verdict: $VERDICT (bit-identity and conformance; timings are in the table)"
tg_table
pack
