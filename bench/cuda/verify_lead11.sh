#!/bin/bash
# verify_lead11.sh — device checks of the lead's decode changes of 2026-12-06 (issue 11), run after bench/e2e/run_h200.sh
# has built Quanta (/tmp/qbuild) and written the model files (/tmp/e2e/files). About 140 s (LIMIT; run it outside
# run_h200.sh's 100-second verify slot).
# QUANTA_CUDA_ATTN_PDL=1 (off by default until this check has run; needs QUANTA_CUDA_PDL on): attention.cu's launch() adds the programmatic
# stream serialization attribute (beside the cluster dimension of the decode-rows kernel) and every kernel it
# launches waits (griddepcontrol.wait) before it reads anything, so results cannot change; the launch gap of 18
# (Gemma) / 32 (7B) attention launches a step overlaps the rope/KV-append kernel before each.
# Steps: 1. conformance of attention on cuda, on and off; 2. graph replay test; 3. greedy text on vs off (Gemma, 7B);
# 4. the step split on Gemma (tg64); 5. tg128 off / on / off / on on Gemma and the 7B Q4_0; 6. the staged GEMV's L2
# prefetch (QUANTA_CUDA_GEMV_L2PF) off / on on the 7B files, greedy text; 7. Gemma tg128 with the decode-rows kernel's
# key splits forced to 1/2/4 (QUANTA_CUDA_DEC_SPLITS); 8. the 7B's per-op decode profile; 9. an nsys timeline.
set -u
cd "$(dirname "$0")/../.." # the repository root
. bench/common/verifylib.sh lead11 ${LIMIT:-140}
B=${QBUILD:-/tmp/qbuild}
Q=${QUANTA:-$B/tools/quanta}
F=${FILES:-/tmp/e2e/files}
OFF="QUANTA_CUDA_ATTN_PDL=0" ON="QUANTA_CUDA_ATTN_PDL=1"
[ -x $Q ] || { say "no $Q"; exit 1; }
CONFORM_S=30 conform attention_on "$ON" -- --filter attention,paged_attention --failures
if [ -x $B/tests/cuda/test_cuda_graphs ]; then
  env $ON CK_FORK=no timeout 30 $B/tests/cuda/test_cuda_graphs > $D/graphs.log 2>&1
  say "test_cuda_graphs (ATTN_PDL=1) rc=$?: $(grep -E 'Checks' $D/graphs.log | tail -1)"
fi
pack
M4=$F/mistral7b-q4_0.gguf G=$F/gemma3-270m-q4_k_m.gguf
for f in $G $M4; do
  [ -f $f ] || continue
  n=$(basename $f .gguf)
  env $OFF timeout 15 $Q generate -m $f --backend cuda -n 16 --quiet > $D/gen_${n}_off.txt 2> $D/gen_${n}_off.err; r1=$?
  env $ON timeout 15 $Q generate -m $f --backend cuda -n 16 --quiet > $D/gen_${n}_on.txt 2> $D/gen_${n}_on.err; r2=$?
  cmp -s $D/gen_${n}_on.txt $D/gen_${n}_off.txt && same=identical || same="DIFFERENT (expected identical)"
  say "$n greedy text off rc=$r1 / on rc=$r2: $same"
done
pack
if [ -f $G ]; then
  QUANTA_STEP_SPLIT=1 timeout 15 $Q bench model -m $G -p 0 -n 64 -r 1 --backend cuda > $D/split_gemma.txt 2>&1
  say "Gemma step split: $(grep -iE 'step|input|execute|output|rest' $D/split_gemma.txt | tr '\n' ' ' | cut -c1-400)"
fi
pack
[ -f $G ] && { tg gemma_off "$OFF" -m $G; tg gemma_on "$ON" -m $G; tg gemma_off2 "$OFF" -m $G; tg gemma_on2 "$ON" -m $G; }
[ -f $M4 ] && { tg 7b_q4_0_off "$OFF" -m $M4; tg 7b_q4_0_on "$ON" -m $M4; }
pack
# 6. QUANTA_CUDA_GEMV_L2PF=1: the staged GEMV (7B q4_0 / q8_0) asks L2 for its rows' later rounds before its PDL wait
M8=$F/mistral7b-q8_0.gguf
if [ -f $M4 ]; then
  env QUANTA_CUDA_GEMV_L2PF=1 timeout 15 $Q generate -m $M4 --backend cuda -n 16 --quiet > $D/gen_l2pf.txt 2>&1
  cmp -s $D/gen_l2pf.txt $D/gen_$(basename $M4 .gguf)_off.txt && same=identical || same="DIFFERENT (expected identical)"
  say "7B q4_0 greedy text with L2PF=1: $same"
  tg 7b_q4_0_l2pf0 "QUANTA_CUDA_GEMV_L2PF=0" -m $M4; tg 7b_q4_0_l2pf1 "QUANTA_CUDA_GEMV_L2PF=1" -m $M4
  tg 7b_q4_0_l2pf0b "QUANTA_CUDA_GEMV_L2PF=0" -m $M4; tg 7b_q4_0_l2pf1b "QUANTA_CUDA_GEMV_L2PF=1" -m $M4
fi
[ -f $M8 ] && { tg 7b_q8_0_l2pf0 "QUANTA_CUDA_GEMV_L2PF=0" -m $M8; tg 7b_q8_0_l2pf1 "QUANTA_CUDA_GEMV_L2PF=1" -m $M8; }
pack
# 7. the decode-rows kernel's key splits on Gemma (QUANTA_CUDA_DEC_SPLITS forces them; auto picks by the KV length)
if [ -f $G ]; then
  for sp in 1 2 4; do tg gemma_splits$sp "QUANTA_CUDA_DEC_SPLITS=$sp" -m $G; done
  env QUANTA_CUDA_DEC_SPLITS=1 timeout 15 $Q generate -m $G --backend cuda -n 16 --quiet > $D/gen_gemma_s1.txt 2>&1
  cmp -s $D/gen_gemma_s1.txt $D/gen_$(basename $G .gguf)_off.txt && same="identical to auto" || same="differs from auto (split order: expected at most in ties)"
  say "Gemma greedy text, one split: $same"
fi
pack
# 8. per-op time of 7B decode steps, ops synchronized one by one (where a 7B step goes besides the GEMVs)
if [ -f $M4 ] && [ $(left) -gt 15 ]; then
  QUANTA_PLAN_PROFILE=1 timeout 15 $Q bench model -m $M4 -p 0 -n 8 -r 1 --backend cuda > $D/profile_7b.txt 2>&1
  say "7B q4_0 per-op profile: $(grep -E '^\| [a-z_]+ \|' $D/profile_7b.txt | tr -s ' ' | tr '\n' ' ' | cut -c1-600)"
fi
# 9. a timeline of decode steps (nsys, where the machine has it): kernel start/end in the CUDA graph, for the gaps
if command -v nsys > /dev/null 2>&1 && [ $(left) -gt 25 ]; then
  for f in $G $M4; do
    [ -f $f ] || continue
    n=$(basename $f .gguf)
    timeout 40 nsys profile --cuda-graph-trace=node -t cuda -o /tmp/nsys_$n -f true $Q bench model -m $f -p 0 -n 16 -r 1 \
      --backend cuda > $D/nsys_$n.log 2>&1 &&
      timeout 30 nsys stats --report cuda_gpu_trace --format csv -o $D/trace_$n /tmp/nsys_$n.nsys-rep >> $D/nsys_$n.log 2>&1 &&
      gzip -f $D/trace_$n*.csv
    say "nsys $n rc=$?: $(ls $D/trace_$n* 2>/dev/null | head -1)"
    [ $(left) -gt 25 ] || break
  done
fi
say "done"
tg_table
pack
