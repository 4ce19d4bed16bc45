#!/bin/bash
# verify_gemv12.sh — device checks of gemv12's split-K staged GEMV (issue 11), run after bench/e2e/run_h200.sh has
# built Quanta (/tmp/qbuild) and written the model files (/tmp/e2e/files). About 100 s.
# The switches (kernels_cuda/ggml_gemv_staged.cuh; all off by default, each unset = the kernel before gemv12):
#   QUANTA_CUDA_GEMV_SPLITK=1|2|4   plain / multi q4_0, q8_0 GEMVs at M = 1: S warps share a row group's rounds
#                                   (1: by shape, 4 for rows of 6+ rounds (down), 2 for 2-5 (wo, q/k/v))
#   QUANTA_CUDA_GEMV_SPLITK_GLU=2|4 the same for matmul_glu (gate + up)
#   QUANTA_CUDA_GEMV_OCC=1          the unsplit R = 2 kernel at 64 registers (8 blocks an SM)
#   QUANTA_CUDA_GEMV_CPASYNC=0|1    the R = 2 kernel (any S) stages its rounds with cp.async, 2 rounds in flight a warp
#                                   (bit-identical; since 10:00 on by default for q4_0 and q8_0 plain N <= 4096: "old" below
#                                   is =0, "default" unset)
# Steps: 1. conformance of matmul / matmul_glu / matmul_multi at M = 1 on q4_0 / q8_0 with S = 2 and S = 4 forced, by
# shape, and the cp.async form (K = 4096, 14336; partial last rounds K = 2560, 4352; K = 1024 leaves split warps
# with no round; partial row groups); 2. graph replay (tests/cuda/test_cuda_graphs) with the new forms on;
# 3. greedy text old vs new (7B Q4_0; may differ in the last bits: reported, not failed), and GLU_CODES=1 under
# SPLITK_GLU=4 and under CPASYNC=1 (must be identical to the same form without); 4. tg128 -r 3 of the 7B files, old
# and three new forms; 5. the kernel rows (bench/cuda/ggml_gemv_bench.cu linked to the build's ggml.cu.o) for the
# forms; 6. step 4 again (alternated) as time allows.
set -u
cd "$(dirname "$0")/../.." # the repository root
. bench/common/verifylib.sh gemv12 ${LIMIT:-100}
B=${QBUILD:-/tmp/qbuild}
Q=${QUANTA:-$B/tools/quanta}
F=${FILES:-/tmp/e2e/files}
[ -x $Q ] || { say "no $Q"; exit 1; }
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm,clocks.mem --format=csv,noheader 2>&1)"
M4=$F/mistral7b-q4_0.gguf M8=$F/mistral7b-q8_0.gguf
# the kernel-row driver builds on the host (one small nvcc run against the library's object) while the GPU works
( GGML_O=$B/kernels_cuda/ggml.cu.o timeout 60 sh bench/cuda/build_gemv_bench.sh $D/bench > $D/build_bench.log 2>&1 ) &
BUILD_PID=$!

# 1. conformance
C=""
for w in q4_0 q8_0; do
  for k in 4096 14336 1024; do
    C="$C --case matmul:m=1,n=100,k=$k,w=$w,x=f32 --case matmul:m=1,n=4096,k=$k,w=$w,x=bf16"
    C="$C --case matmul_glu:m=1,n=67,k=$k,w=$w,x=f32,act=0 --case matmul_glu:m=1,n=64,k=$k,w=$w,x=f32,act=1"
  done
  C="$C --case matmul:m=1,n=70,k=2560,w=$w,x=f32 --case matmul:m=1,n=9,k=4352,w=$w,x=f32 --case matmul_glu:m=1,n=5,k=4352,w=$w,x=f32,act=0"
  C="$C --case matmul_multi:m=1,n=64,n1=16,n2=16,k=4096,w=$w,x=f32 --case matmul_multi:m=1,n=36,n1=10,n2=6,k=4352,w=$w,x=f32"
  C="$C --case matmul_multi:m=1,n=4096,n1=1024,n2=1024,k=4096,w=$w,x=f32 --case matmul:m=1,n=3,k=14336,w=$w,x=f32"
done
conform s2 QUANTA_CUDA_GEMV_SPLITK=2 QUANTA_CUDA_GEMV_SPLITK_GLU=2 QUANTA_CUDA_GEMV_OCC=1 -- --failures $C
conform s4 QUANTA_CUDA_GEMV_SPLITK=4 QUANTA_CUDA_GEMV_SPLITK_GLU=4 -- --failures $C
conform cp1 QUANTA_CUDA_GEMV_CPASYNC=1 -- --failures $C
conform cp_auto QUANTA_CUDA_GEMV_CPASYNC=1 QUANTA_CUDA_GEMV_SPLITK=1 QUANTA_CUDA_GEMV_SPLITK_GLU=4 -- --failures $C
pack

# 2. graph replay bit-identical to plain decode, the new forms on
NEW="QUANTA_CUDA_GEMV_SPLITK=1 QUANTA_CUDA_GEMV_SPLITK_GLU=2 QUANTA_CUDA_GEMV_OCC=1"
if [ -x $B/tests/cuda/test_cuda_graphs ]; then
  env $NEW CK_FORK=no timeout 20 $B/tests/cuda/test_cuda_graphs > $D/graphs.log 2>&1
  r=$?; say "test_cuda_graphs ($NEW) rc=$r: $(grep -E 'Checks' $D/graphs.log | tail -1)"
  [ $r -eq 0 ] || VERDICT=FAIL
fi

# 3. greedy text
if [ -f $M4 ]; then
  QUANTA_CUDA_GEMV_CPASYNC=0 timeout 12 $Q generate -m $M4 --backend cuda -n 16 --quiet > $D/gen_old.txt 2> $D/gen_old.err; r1=$?
  env $NEW timeout 12 $Q generate -m $M4 --backend cuda -n 16 --quiet > $D/gen_new.txt 2> $D/gen_new.err; r2=$?
  cmp -s $D/gen_old.txt $D/gen_new.txt && same=identical || same="differs (another sum order: last bits)"
  say "7B q4_0 greedy text old rc=$r1 / new ($NEW) rc=$r2: $same"
  timeout 12 $Q generate -m $M4 --backend cuda -n 16 --quiet > $D/gen_default.txt 2>&1; r2=$?
  cmp -s $D/gen_old.txt $D/gen_default.txt && same=identical || { same="DIFFERENT (expected identical)"; VERDICT=FAIL; }
  say "7B q4_0 greedy text default (cp.async where chosen) rc=$r2 vs CPASYNC=0: $same"
  QUANTA_CUDA_GEMV_SPLITK_GLU=4 timeout 12 $Q generate -m $M4 --backend cuda -n 16 --quiet > $D/gen_g4.txt 2>&1; r1=$?
  QUANTA_CUDA_GEMV_SPLITK_GLU=4 QUANTA_CUDA_GLU_CODES=1 timeout 12 $Q generate -m $M4 --backend cuda -n 16 --quiet > $D/gen_g4c.txt 2>&1; r2=$?
  cmp -s $D/gen_g4.txt $D/gen_g4c.txt && same=identical || { same="DIFFERENT (expected identical)"; VERDICT=FAIL; }
  say "7B q4_0 greedy text SPLITK_GLU=4 rc=$r1, + GLU_CODES=1 rc=$r2: $same"
  CP="QUANTA_CUDA_GEMV_CPASYNC=1 QUANTA_CUDA_GEMV_SPLITK=1"
  env $CP timeout 12 $Q generate -m $M4 --backend cuda -n 16 --quiet > $D/gen_cp.txt 2>&1; r1=$?
  env $CP QUANTA_CUDA_GLU_CODES=1 timeout 12 $Q generate -m $M4 --backend cuda -n 16 --quiet > $D/gen_cpc.txt 2>&1; r2=$?
  cmp -s $D/gen_cp.txt $D/gen_cpc.txt && same=identical || { same="DIFFERENT (expected identical)"; VERDICT=FAIL; }
  cmp -s $D/gen_old.txt $D/gen_cp.txt && s2=identical || s2="differs (last bits)"
  say "7B q4_0 greedy text $CP rc=$r1 (vs old: $s2), + GLU_CODES=1 rc=$r2: $same"
fi
pack

# 4. decode tok/s: old (register form everywhere), the default, and two other forms, then (6.) again
SK="QUANTA_CUDA_GEMV_SPLITK=1" CP="QUANTA_CUDA_GEMV_CPASYNC=1 QUANTA_CUDA_GEMV_SPLITK=1" OLD="QUANTA_CUDA_GEMV_CPASYNC=0"
tgs() {
  [ -f $M4 ] && { tg 7b_q4_0_old_$1 "$OLD" -m $M4; tg 7b_q4_0_default_$1 X=1 -m $M4; tg 7b_q4_0_sk1_$1 "$SK" -m $M4; tg 7b_q4_0_cp_$1 "$CP" -m $M4; }
  [ -f $M8 ] && { tg 7b_q8_0_old_$1 "$OLD" -m $M8; tg 7b_q8_0_default_$1 X=1 -m $M8; tg 7b_q8_0_sk1_$1 "$SK" -m $M8; tg 7b_q8_0_cp_$1 "$CP" -m $M8; }
  pack
}
tgs 1

# 5. kernel rows (q4_0, q8_0: the 7B's shapes), each form
wait $BUILD_PID
if [ -x $D/bench/ggml_gemv_bench ]; then
  for e in "QUANTA_CUDA_GEMV_CPASYNC=0" "X=1" "QUANTA_CUDA_GEMV_SPLITK=2 QUANTA_CUDA_GEMV_SPLITK_GLU=2 QUANTA_CUDA_GEMV_OCC=1" \
           "QUANTA_CUDA_GEMV_SPLITK=4 QUANTA_CUDA_GEMV_SPLITK_GLU=4" "QUANTA_CUDA_GEMV_CPASYNC=1" \
           "QUANTA_CUDA_GEMV_CPASYNC=1 QUANTA_CUDA_GEMV_SPLITK=2 QUANTA_CUDA_GEMV_SPLITK_GLU=2"; do
    [ $(left) -gt 12 ] || { say "kernel rows skipped from '$e' (time)"; break; }
    env $e QN_BENCH_FMTS=q4_0,q8_0 timeout 15 $D/bench/ggml_gemv_bench $D/rows.csv.part > $D/rows.txt.part 2>&1
    say "kernel rows ($e) rc=$?"; cat $D/rows.txt.part | tee -a $D/summary.txt
    cat $D/rows.csv.part >> $D/rows.csv; rm -f $D/rows.csv.part $D/rows.txt.part
  done
else
  say "bench not built: $(tail -3 $D/build_bench.log | tr '\n' ' ')"
fi
pack

# 6. decode again, alternated
tgs 2
say "verdict: $VERDICT"
tg_table
pack
