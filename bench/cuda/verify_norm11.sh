#!/bin/bash
# verify_norm11.sh — device checks of norm11's one-warp norm (issue 11: Gemma decode), run after bench/e2e/run_h200.sh
# has built Quanta (/tmp/qbuild) and written the model files (/tmp/e2e/files). About 90 s (the tg rows are skipped past 95 s).
# The switches (off by default until this script's run; =1 turns each on):
#   QUANTA_CUDA_NORM_WARP=1  rows of D <= 1024 (Gemma 3 270M: 640) of rms_norm / rms_norm_add / add_rms_norm /
#                            rms_norm_add_norm / add_norm (the norms that keep a row in registers) take one warp per
#                            row (qn_k_rms_norm_warp) instead of a block of 256 threads (qn_k_rms_norm_regs): the block
#                            kernel's arithmetic replayed by one warp, meant to be bit-identical (results, int8 codes)
#   QUANTA_CUDA_NORM_F32=1   the block kernel's all-f32 form where every operand is f32 (the dtypes constant-folded:
#                            ~30% fewer instructions on its main path); the same functions, so bit-identical
#   QUANTA_CUDA_ROPE_EARLY=1 rope_kv / rms_norm_rope(_pair) (qn_k_rms_norm_rope) take their first pair's f64 pow (it
#                            depends on the arguments alone) before the PDL wait, overlapping the kernel before; the
#                            same expression on the same values, so bit-identical by construction
# Steps: 1. bench/cuda/norm_check.cu (nvcc, built here in the background): every norm entry point x dtype x D (32 ..
# 1024) x rows, the warp kernel and the block kernel's f32 form vs the block kernel byte for byte (y, y2, both planes of
# the codes), then us per launch of one row of 640 and 1024, block / block f32 / warp; 2. the engine unit tests of the norms on cuda (fused vs alone, bit for bit) with
# the switches on; 3. conformance of the norm ops, switch off and on; 4. greedy text off vs on (Gemma: the warp kernel
# runs; 7B Q4_0: D = 4096 keeps the block norm, in its f32 form, and its rope_kv takes ROPE_EARLY); 5. Gemma tg128 off / NORM_WARP
# alone / NORM_F32 alone / NORM_F32 + ROPE_EARLY / all three, alternated twice (NORM_F32 and ROPE_EARLY apply to the
# 7B too, its greedy text checks them; its tg is not timed here, for time).
# Everything goes to $OUT/norm11/ (summary.txt) and $OUT/norm11.tgz; the table is printed at the end.
set -u
cd "$(dirname "$0")/../.." # the repository root
. bench/common/verifylib.sh norm11 ${LIMIT:-100}
B=${QBUILD:-/tmp/qbuild}
Q=${QUANTA:-$B/tools/quanta}
F=${FILES:-/tmp/e2e/files}
OFF="QUANTA_CUDA_NORM_WARP=0 QUANTA_CUDA_NORM_F32=0 QUANTA_CUDA_ROPE_EARLY=0"
ON="QUANTA_CUDA_NORM_WARP=1 QUANTA_CUDA_NORM_F32=1 QUANTA_CUDA_ROPE_EARLY=1"
WARP="QUANTA_CUDA_NORM_WARP=1 QUANTA_CUDA_NORM_F32=0 QUANTA_CUDA_ROPE_EARLY=0"
F32="QUANTA_CUDA_NORM_WARP=0 QUANTA_CUDA_NORM_F32=1 QUANTA_CUDA_ROPE_EARLY=0"
F32E="QUANTA_CUDA_NORM_WARP=0 QUANTA_CUDA_NORM_F32=1 QUANTA_CUDA_ROPE_EARLY=1"
[ -x $Q ] || { say "no $Q"; exit 1; }
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm,clocks.mem --format=csv,noheader 2>&1)"
say "tree: $(git log --oneline -1 2>/dev/null)"

NVCC=${NVCC:-nvcc}
command -v "$NVCC" >/dev/null 2>&1 || NVCC=/usr/local/cuda/bin/nvcc
( timeout 60 $NVCC -std=c++17 -O3 -lineinfo -gencode=arch=compute_90,code=sm_90 -Iinclude -Iformats -Ibase -Ikernels_cuda \
    -o $D/norm_check bench/cuda/norm_check.cu > $D/norm_check_build.log 2>&1; echo $? > $D/norm_check_build.rc ) &
NVPID=$!

# 2. the engine unit tests of the norms (each compares the fused plans with the ops alone, bit for bit, guards on;
# the cuda rows run the warp kernel with the switch on)
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

# 3. conformance of the norm ops (rows of 1, 33, 1001 take the warp kernel with the switch on; 4096 the block kernel)
OPS=rms_norm,add_rms_norm,rms_norm_add,rms_norm_add_norm,add_norm,rope_kv
CONFORM_S=20 conform norms_off $OFF -- --filter $OPS --failures
CONFORM_S=20 conform norms_on $ON -- --filter $OPS --failures
pack

# 1. the warp kernel against the block kernel, byte for byte, and us per launch
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

# 4. greedy text (the warp kernel is meant to be bit-identical: the text must not change)
M4=$F/mistral7b-q4_0.gguf G=$F/gemma3-270m-q4_k_m.gguf
for f in $G $M4; do
  [ -f $f ] || { say "no $f"; continue; }
  b=$(basename $f .gguf)
  env $OFF timeout 15 $Q generate -m $f --backend cuda -n 32 --quiet > $D/gen_${b}_off.txt 2> $D/gen_${b}_off.err; r1=$?
  env $ON timeout 15 $Q generate -m $f --backend cuda -n 32 --quiet > $D/gen_${b}_on.txt 2> $D/gen_${b}_on.err; r2=$?
  if cmp -s $D/gen_${b}_on.txt $D/gen_${b}_off.txt && [ -s $D/gen_${b}_on.txt ]; then same=identical; else same="DIFFERENT (expected identical)"; VERDICT=FAIL; fi
  say "$b greedy text off rc=$r1 / on (warp, rope early) rc=$r2: $same"
  [ $f = $G ] || continue
  env $F32E timeout 15 $Q generate -m $f --backend cuda -n 32 --quiet > $D/gen_${b}_f32.txt 2> $D/gen_${b}_f32.err; r3=$?
  if cmp -s $D/gen_${b}_f32.txt $D/gen_${b}_off.txt && [ -s $D/gen_${b}_f32.txt ]; then same=identical; else same="DIFFERENT (expected identical)"; VERDICT=FAIL; fi
  say "$b greedy text off vs block f32 + rope early rc=$r3: $same"
done
pack

# 5. decode tok/s, off and on alternated
[ -f $G ] && for i in 1 2; do
  tg gemma_off$i "$OFF" -m $G; tg gemma_warp$i "$WARP" -m $G; tg gemma_f32_$i "$F32" -m $G; tg gemma_f32_rope_early$i "$F32E" -m $G
  tg gemma_all$i "$ON" -m $G
done
pack

say "verdict: $VERDICT (bit-identity and conformance; timings are in the table)"
tg_table
pack
