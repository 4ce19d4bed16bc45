#!/bin/bash
# verify_lead11.sh — device checks of the lead's decode changes of 2026-12-06 (issue 11), run after bench/e2e/run_h200.sh
# has built Quanta (/tmp/qbuild) and written the model files (/tmp/e2e/files). About 60 s.
# Measured earlier this session (bench/NOTES.md section 6, "lead11"): QUANTA_CUDA_ATTN_PDL and the decode-rows split
# count (neutral), the staged GEMV's L2 prefetch (slower, removed). Now: `quanta bench model` reads each step's
# logits through quanta_model_eval_view (checked in CUDA's page-locked read buffer, no copy into the caller's
# buffer); QUANTA_BENCH_COPY=1 restores the copy (quanta_model_eval).
# Steps: 1. the step split with the view and with the copy (Gemma, 7B Q4_0); 2. tg128 view / copy alternated (Gemma 3
# pairs, 7B Q4_0 2 pairs); the flat head GEMV on Gemma (3 pairs, greedy text); 3. test_model_fused_logits on cuda (view bytes = copy bytes); test_cuda_graphs.
set -u
cd "$(dirname "$0")/../.." # the repository root
. bench/common/verifylib.sh lead11 ${LIMIT:-90}
B=${QBUILD:-/tmp/qbuild}
Q=${QUANTA:-$B/tools/quanta}
F=${FILES:-/tmp/e2e/files}
VIEW="QUANTA_BENCH_COPY=0" COPY="QUANTA_BENCH_COPY=1"
[ -x $Q ] || { say "no $Q"; exit 1; }
M4=$F/mistral7b-q4_0.gguf G=$F/gemma3-270m-q4_k_m.gguf
# the view's unit test builds on the host while the GPU runs the timings (step 3)
timeout 80 ninja -C $B tests/model/test_model_fused_logits > $D/build_fused.log 2>&1 &
BUILD_PID=$!
for f in $G $M4; do
  [ -f $f ] || continue
  n=$(basename $f .gguf)
  for e in "$VIEW" "$COPY"; do
    env $e QUANTA_STEP_SPLIT=1 timeout 15 $Q bench model -m $f -p 0 -n 64 -r 1 --backend cuda > $D/split_${n}_${e#*=}.txt 2>&1
    say "$n step split ($e): $(grep -iE 'wall' $D/split_${n}_${e#*=}.txt | head -1)"
  done
done
pack
for i in 1 2 3; do
  [ -f $G ] && { tg gemma_view_$i "$VIEW" -m $G; tg gemma_copy_$i "$COPY" -m $G; }
done
for i in 1 2; do
  [ -f $M4 ] && { tg 7b_q4_0_view_$i "$VIEW" -m $M4; tg 7b_q4_0_copy_$i "$COPY" -m $M4; }
done
# Gemma's 262144 x 640 head on cuda7's flat GEMV (QUANTA_CUDA_GEMV_FLAT=1: 8 rows a warp as one run of 16-byte
# loads; no gain measured on 2026-12-05, when a step had ~300 us more host work around it)
for i in 1 2 3; do
  [ -f $G ] && { tg gemma_flat0_$i "QUANTA_CUDA_GEMV_FLAT=0" -m $G; tg gemma_flat1_$i "QUANTA_CUDA_GEMV_FLAT=1" -m $G; }
done
if [ -f $G ]; then
  QUANTA_CUDA_GEMV_FLAT=1 timeout 15 $Q generate -m $G --backend cuda -n 16 --quiet > $D/gen_flat1.txt 2>&1
  timeout 15 $Q generate -m $G --backend cuda -n 16 --quiet > $D/gen_flat0.txt 2>&1
  cmp -s $D/gen_flat0.txt $D/gen_flat1.txt && same=identical || same="differs (a different sum order: expected only at ties)"
  say "Gemma greedy text, flat head GEMV vs default: $same"
fi
pack
# the view's bytes against the copy's on cuda (and ref), the overflow named through it (tests/model, built here)
wait $BUILD_PID
if [ -x $B/tests/model/test_model_fused_logits ]; then
  OCL_ICD_VENDORS=/nonexistent-quanta-icd CK_FORK=no timeout 40 $B/tests/model/test_model_fused_logits > $D/fused.log 2>&1
  say "test_model_fused_logits (ref + cuda) rc=$?: $(grep -E 'Checks' $D/fused.log | tail -1)"
  grep -E 'differs|Failure|Error|:F:' $D/fused.log | head -4 | tee -a $D/summary.txt
else
  say "test_model_fused_logits not built: $(tail -2 $D/build_fused.log | tr '\n' ' ')"
fi
if [ -x $B/tests/cuda/test_cuda_graphs ]; then
  CK_FORK=no timeout 30 $B/tests/cuda/test_cuda_graphs > $D/graphs.log 2>&1
  say "test_cuda_graphs rc=$?: $(grep -E 'Checks' $D/graphs.log | tail -1)"
fi
# older 7B GEMV knobs again under today's defaults, if time is left: 4 rows a warp, the GLU leaving down's codes
[ -f $M4 ] && { tg 7b_q4_0_rpw4 "QUANTA_CUDA_GEMV_RPW=4" -m $M4; tg 7b_q4_0_glu_codes "QUANTA_CUDA_GLU_CODES=1" -m $M4;
  tg 7b_q4_0_default "X=1" -m $M4; }
say "done"
tg_table
pack
