#!/bin/bash
# verify_flag12.sh — device checks of flag12 (issue 11): the decode step's logits checked for Inf/NaN on the GPU
# (kernels_cuda/finite_check.cu through the CUDA backend's read_view_f32_checked, QUANTA_CUDA_FINITE_GPU=1) instead of
# the host's scan of the page-locked copy. Run after bench/e2e/run_h200.sh has built Quanta (/tmp/qbuild) and written
# the model files (/tmp/e2e/files). About 80 s.
# Steps (run in the order 3 (Gemma), 1, 2, 4, 5, 3 (7B, if time is left)): 1. tests/cuda/test_cuda_finite (the kernel
# vs base/finite.h for every Inf/NaN class at random indices, alignments; the backend op's state on/off; the plan's
# checked reads on/off: the same flags, bytes, first bad index) and
# test_model_fused_logits with the switch on (the tiny model's overflowing logit named the same way on cuda);
# 2. the same test linked against a mutant kernel that ignores NaN (nvcc here): it must FAIL (the test can fail);
# 3. the step split off / on (Gemma; 7B Q4_0): check and outputs us per step; 4. greedy text off vs on (Gemma, 7B
# Q4_0: identical); 5. tg128 off / on alternated twice (Gemma), once (7B Q4_0), then the default (7B, Gemma).
# Prediction (bench/NOTES.md section 6, flag12): Gemma step -60 us (the 67 us check -> ~5 us of launch and kernel),
# ~+6% tok/s; 7B unchanged (32000 logits: 128 KB, a ~8 us scan).
set -u
cd "$(dirname "$0")/../.." # the repository root
. bench/common/verifylib.sh flag12 ${LIMIT:-100}
B=${QBUILD:-/tmp/qbuild}
Q=${QUANTA:-$B/tools/quanta}
F=${FILES:-/tmp/e2e/files}
# off, on at every size (the 09:42 run's "on"), and the default since 10:10 (on from 98304 logits: Gemma on, 7B off)
OFF="QUANTA_CUDA_FINITE_GPU=0" ON="QUANTA_CUDA_FINITE_GPU=1" DEF="QUANTA_CUDA_FINITE_GPU=default"
[ -x $Q ] || { say "no $Q"; exit 1; }
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm,clocks.mem --format=csv,noheader 2>&1)"
say "tree: $(git log --oneline -1 2>/dev/null)"
M4=$F/mistral7b-q4_0.gguf G=$F/gemma3-270m-q4_k_m.gguf
# the tests build on the host while the GPU runs the split (step 3)
timeout 70 ninja -C $B tests/cuda/test_cuda_finite tests/model/test_model_fused_logits > $D/build.log 2>&1 &
BUILD_PID=$!

# 3. the step split (host us per step of the last tg run's 64 decode steps)
split() {
  local f=$1 n=$(basename $1 .gguf) e
  for e in "$OFF" "$ON" "$DEF"; do
    env $e QUANTA_STEP_SPLIT=1 timeout 15 $Q bench model -m $f -p 0 -n 64 -r 1 --backend cuda > $D/split_${n}_${e#*=}.txt 2>&1
    say "$n split ($e): $(grep -oE 'wall [0-9.]+|execute [0-9.]+|outputs [0-9.]+|check [0-9.]+' $D/split_${n}_${e#*=}.txt | tr '\n' ' ')"
  done
}
[ -f $G ] && split $G
pack

# 1. the unit tests
wait $BUILD_PID
say "build rc=$? ($(tail -1 $D/build.log))"
if [ -x $B/tests/cuda/test_cuda_finite ]; then
  CK_FORK=no timeout 40 $B/tests/cuda/test_cuda_finite > $D/test_cuda_finite.log 2>&1
  rc=$?
  say "test_cuda_finite rc=$rc: $(grep -E 'Checks' $D/test_cuda_finite.log | tail -1)"
  grep -E ':F:|:E:|seed' $D/test_cuda_finite.log | head -4 | tee -a $D/summary.txt
  [ $rc -eq 0 ] || VERDICT=FAIL
else
  say "no test_cuda_finite"; VERDICT=FAIL
fi
if [ -x $B/tests/model/test_model_fused_logits ]; then
  env $ON OCL_ICD_VENDORS=/nonexistent-quanta-icd CK_FORK=no timeout 40 $B/tests/model/test_model_fused_logits \
    > $D/fused_on.log 2>&1
  rc=$?
  say "test_model_fused_logits ($ON) rc=$rc: $(grep -E 'Checks' $D/fused_on.log | tail -1)"
  grep -E ':F:|:E:' $D/fused_on.log | head -4 | tee -a $D/summary.txt
  [ $rc -eq 0 ] || VERDICT=FAIL
fi
pack

# 2. the mutant: finite_check.cu with NaN ignored (an exponent of all ones counts only with a zero mantissa), linked
# into test_cuda_finite ahead of libquanta's own (the archive's member is then not pulled): the test must fail
NVCC=${NVCC:-nvcc}
command -v "$NVCC" >/dev/null 2>&1 || NVCC=/usr/local/cuda/bin/nvcc
sed 's/return (u \& 0x7f800000u) == 0x7f800000u;/return (u \& 0x7fffffffu) == 0x7f800000u;/' kernels_cuda/finite_check.cu \
  > $D/finite_check_mutant.cu
if cmp -s kernels_cuda/finite_check.cu $D/finite_check_mutant.cu; then
  say "mutant: the sed matched nothing"; VERDICT=FAIL
elif [ -f $B/tests/cuda/test_cuda_finite.p/test_cuda_finite.c.o ]; then
  timeout 40 $NVCC -std=c++17 -O3 -Xcompiler=-fPIC -gencode=arch=compute_90,code=sm_90 -Iinclude -Iformats -Ibase \
    -Ikernels_cuda -c $D/finite_check_mutant.cu -o $D/finite_check_mutant.o > $D/mutant_build.log 2>&1
  # the test's own link line, to another output, with the mutant object first
  LINK=$(ninja -C $B -t commands tests/cuda/test_cuda_finite | tail -1)
  LINK=${LINK/-o tests\/cuda\/test_cuda_finite /-o $D\/test_cuda_finite_mutant $D\/finite_check_mutant.o }
  (cd $B && eval "$LINK") >> $D/mutant_build.log 2>&1
  if [ -x $D/test_cuda_finite_mutant ]; then
    CK_FORK=no timeout 30 $D/test_cuda_finite_mutant > $D/test_mutant.log 2>&1
    rc=$?
    case $rc in
      0) v="PASSES: the test cannot see the bug"; VERDICT=FAIL ;;
      77) v="skipped (no device)" ;;
      *) v="fails, as it must" ;;
    esac
    say "test_cuda_finite against the NaN-blind mutant rc=$rc: $v; $(grep -E 'Checks' $D/test_mutant.log | tail -1)"
    grep -E ':F:' $D/test_mutant.log | head -2 | tee -a $D/summary.txt
  else
    say "mutant not linked: $(tail -2 $D/mutant_build.log | tr '\n' ' ')"
  fi
  rm -f $D/test_cuda_finite_mutant $D/finite_check_mutant.o # 80 MB: not for the pack
fi
pack

# 4. greedy text off vs on
for f in $G $M4; do
  [ -f $f ] || continue
  n=$(basename $f .gguf)
  for e in "$OFF" "$ON"; do
    env $e timeout 20 $Q generate -m $f --backend cuda -n 32 --quiet > $D/gen_${n}_${e#*=}.txt 2>&1
  done
  cmp -s $D/gen_${n}_0.txt $D/gen_${n}_1.txt && same=identical || { same=DIFFERS; VERDICT=FAIL; }
  say "$n greedy text, device check off vs on: $same ($(wc -c < $D/gen_${n}_1.txt) bytes)"
done
pack

# 5. decode speed
for i in 1 2; do
  [ -f $G ] && { tg gemma_off_$i "$OFF" -m $G; tg gemma_on_$i "$ON" -m $G; }
done
[ -f $M4 ] && { tg 7b_q4_0_off "$OFF" -m $M4; tg 7b_q4_0_on "$ON" -m $M4; tg 7b_q4_0_default "$DEF" -m $M4; }
[ -f $G ] && tg gemma_default "$DEF" -m $G
# the 7B's split last (its scan is 128 KB: the least to learn), if time is left
[ -f $M4 ] && [ $(left) -gt 20 ] && split $M4
say "verdict: $VERDICT"
tg_table
pack
