#!/bin/bash
# verify_cuda7.sh — device checks of cuda7's decode GEMV (issue 11), run after bench/e2e/run_h200.sh has built
# Quanta (/tmp/qbuild) and written the model files (/tmp/e2e/files). About 60 s.
# The switches (each =0 restores the path before):
#   QUANTA_CUDA_GEMV_STAGED   batch-1 GEMV of ggml q4_0 / q8_0 rows (K a multiple of 256, 16-byte aligned) through
#                             coalesced 16-byte loads staged in shared memory, R rows per warp sharing x's codes
#                             (kernels_cuda/ggml_gemv_staged.cuh); 0: one warp per row with 2-byte loads
#   QUANTA_CUDA_GEMV_RPW      rows per warp of that kernel, 2 or 4 (default 2 since the 18:50 run)
#   QUANTA_CUDA_GLU_CODES=1   (off by default) the staged matmul_glu also writes its result's int8 codes (the block that
#                             completes each 32 outputs makes them), so the down projection needs no quantize launch
#                             (7B: 32 fewer launches a token); the same codes, so results should be bit-identical
#   QUANTA_CUDA_GEMV_FLAT=1   (off by default since the 18:50 run: no gain) the same staging for q4_0 / q8_0 rows whose
#                             blocks are not a multiple of 8 (Gemma's 640-wide tied q8_0 head): 8 rows a warp as one run
# Steps: 1. conformance of matmul / matmul_glu / matmul_multi at M = 1 on q4_0 and q8_0 where the staged kernel
# runs (RPW 2 and 4 forced; row counts that leave a partial warp), and the other formats' GEMV cases;
# 2. tests/cuda (graph replay bit-identical); 3. greedy text staged on vs off (7B Q4_0); 4. decode tg128 on
# the three files, staged on vs off (Gemma: flat on vs off), side by side, RPW 4, QUANTA_CUDA_GLU_CODES=1 on the 7B. (The GEMV kernel rows of bench/cuda/ggml_gemv_bench.cu
# were dropped: their nvcc build does not fit the 60 s while llama.cpp compiles.)
# Everything goes to $OUT/cuda7/ (summary.txt) and $OUT/cuda7.tgz; the table is printed at the end.
set -u
cd "$(dirname "$0")/../.." # the repository root
. bench/common/verifylib.sh cuda7 ${LIMIT:-60}
Q=${QUANTA:-/tmp/qbuild/tools/quanta}
F=${FILES:-/tmp/e2e/files}
[ -x $Q ] || { say "no $Q"; exit 1; }
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm,clocks.mem --format=csv,noheader 2>&1)"

# 1. conformance
C7=""
for w in q4_0 q8_0; do
  for k in 4096 14336; do
    C7="$C7 --case matmul:m=1,n=100,k=$k,w=$w,x=f32 --case matmul:m=1,n=4096,k=$k,w=$w,x=bf16"
    C7="$C7 --case matmul_glu:m=1,n=67,k=$k,w=$w,x=f32,act=0 --case matmul_glu:m=1,n=64,k=$k,w=$w,x=f32,act=1"
  done
  # rows whose last round is partial (q4_0: 64 blocks a round, q8_0: 32): K = 2560, 4352
  C7="$C7 --case matmul:m=1,n=70,k=2560,w=$w,x=f32 --case matmul:m=1,n=9,k=4352,w=$w,x=f32 --case matmul_glu:m=1,n=5,k=4352,w=$w,x=f32,act=0"
  C7="$C7 --case matmul_multi:m=1,n=64,n1=16,n2=16,k=4096,w=$w,x=f32 --case matmul_multi:m=1,n=36,n1=10,n2=6,k=4352,w=$w,x=f32"
  C7="$C7 --case matmul:m=2,n=64,k=4096,w=$w,x=f32"
  # the flat kernel: N a multiple of 8 and too many rows for the in-kernel quantize path, or K > 2048
  C7="$C7 --case matmul:m=1,n=4104,k=640,w=$w,x=f32 --case matmul:m=1,n=8,k=2080,w=$w,x=f32 --case matmul:m=1,n=4100,k=640,w=$w,x=f32"
done
for r in 2 4; do
  # RPW=4 also with QUANTA_CUDA_GLU_CODES=1 (the glu kernel's codes epilogue runs; its result must not change)
  # and QUANTA_CUDA_GEMV_FLAT=1 (the flat kernel takes the K = 640 and 2080 cases)
  [ $r = 4 ] && export QUANTA_CUDA_GLU_CODES=1 QUANTA_CUDA_GEMV_FLAT=1
  QUANTA_CUDA_GEMV_RPW=$r timeout 12 $Q conform --backend cuda --failures $C7 > $D/conform_rpw$r.log 2>&1
  say "conform q4_0/q8_0 GEMV cases, staged, RPW=$r rc=$?: $(grep -E '^total' $D/conform_rpw$r.log)"
  grep -E '^FAIL' $D/conform_rpw$r.log | head -6 | tee -a $D/summary.txt
done
unset QUANTA_CUDA_GLU_CODES QUANTA_CUDA_GEMV_FLAT
timeout 10 $Q conform --backend cuda --filter matmul_glu,matmul_multi --failures > $D/conform_ops.log 2>&1
say "conform matmul_glu/matmul_multi (suite) rc=$?: $(grep -E '^total' $D/conform_ops.log)"
grep -E '^FAIL' $D/conform_ops.log | head -6 | tee -a $D/summary.txt
pack

# 2. tests/cuda
for t in test_cuda_graphs; do
  [ -x /tmp/qbuild/tests/cuda/$t ] || { say "no $t"; continue; }
  CK_FORK=no timeout 20 /tmp/qbuild/tests/cuda/$t > $D/$t.log 2>&1
  say "$t rc=$?: $(grep -E 'Checks' $D/$t.log | tail -1)"
done

# 3. greedy text, 7B Q4_0 (random weights: the text means nothing, but on/off should mostly agree)
M4=$F/mistral7b-q4_0.gguf M8=$F/mistral7b-q8_0.gguf G=$F/gemma3-270m-q4_k_m.gguf
if [ -f $M4 ]; then
  timeout 12 $Q generate -m $M4 --backend cuda -n 16 --quiet > $D/gen_on.txt 2> $D/gen_on.err; r1=$?
  QUANTA_CUDA_GEMV_STAGED=0 timeout 12 $Q generate -m $M4 --backend cuda -n 16 --quiet > $D/gen_off.txt 2> $D/gen_off.err; r2=$?
  cmp -s $D/gen_on.txt $D/gen_off.txt && same=identical || same=DIFFERENT
  say "7B q4_0 greedy text staged rc=$r1 / off rc=$r2: $same"
  QUANTA_CUDA_GLU_CODES=1 timeout 12 $Q generate -m $M4 --backend cuda -n 16 --quiet > $D/gen_codes.txt 2> $D/gen_codes.err; r3=$?
  cmp -s $D/gen_on.txt $D/gen_codes.txt && same=identical || same="DIFFERENT (expected identical)"
  say "7B q4_0 greedy text GLU_CODES=1 rc=$r3 vs default: $same"
fi
pack

# 4. decode tok/s
[ -f $M4 ] && { tg 7b_q4_0_default X=1 -m $M4; tg 7b_q4_0_staged_off QUANTA_CUDA_GEMV_STAGED=0 -m $M4; }
[ -f $M8 ] && { tg 7b_q8_0_default X=1 -m $M8; tg 7b_q8_0_staged_off QUANTA_CUDA_GEMV_STAGED=0 -m $M8; }
[ -f $M4 ] && tg 7b_q4_0_glu_codes QUANTA_CUDA_GLU_CODES=1 -m $M4
[ -f $M8 ] && tg 7b_q8_0_glu_codes QUANTA_CUDA_GLU_CODES=1 -m $M8
[ -f $M4 ] && tg 7b_q4_0_rpw4 QUANTA_CUDA_GEMV_RPW=4 -m $M4
[ -f $G ] && { tg gemma_default X=1 -m $G; tg gemma_flat_on QUANTA_CUDA_GEMV_FLAT=1 -m $G; }
[ -f $M4 ] && tg 7b_q4_0_default2 X=1 -m $M4
pack

say "done"
tg_table
pack
