#!/bin/bash
# verify_host11.sh — device check of host11's cut of a decode step's host work (issue 11), run after
# bench/e2e/run_h200.sh has built Quanta (/tmp/qbuild) and written the model files (/tmp/e2e/files). About 80 s.
# What changed: the logits' finiteness check is fused into their copy out of CUDA's page-locked staging buffer
# (ops->read_view, engine/plan.c qn_plan_get_output_f32_finite): one pass over Gemma's 1 MiB of logits instead of a
# memcpy and a second scan (the scan: ~40 us a step on the 2-core CPU box), and without the read's own synchronize
# after the replay's (a second flag round trip a step). Bit-identical, on by default; QUANTA_FUSED_CHECK=0 reads,
# then scans (the dropped synchronize stays: off vs on is the fused pass alone). QUANTA_EXECUTE_READ=1 (off by
# default until this check) also queues the logits' copy behind the graph replay: one wait for both, then the error flags' synchronize
# (the plain order: wait for the replay, then start the copy and wait for it).
# QUANTA_STEP_SPLIT=1 now also splits the host work out of what was the "rest" (check / prep / post / eval other).
# Modes: off = QUANTA_FUSED_CHECK=0, on = the defaults (fused), queued = QUANTA_EXECUTE_READ=1 (fused + queued).
# Steps: 1. tests/model/test_model_fused_logits on ref and cuda in each mode (the bytes of quanta_plan_get_output,
# a non-finite logit in each position class named, a failing run reported before data is written); 2. the step
# split of Gemma (tg64, -p 0) in each mode; 3. Gemma tg128 -r 3, off/on/queued alternated, 2 rounds;
# 4. greedy text identical in every mode (Gemma; 7B Q4_0 off vs queued); 5. 7B Q4_0 tg128 -r 3 off/on/queued, then off/on.
# Everything goes to $OUT/host11/ (summary.txt) and $OUT/host11.tgz.
set -u
cd "$(dirname "$0")/../.." # the repository root
. bench/common/verifylib.sh host11 ${LIMIT:-95}
B=${QBUILD:-/tmp/qbuild}
Q=${QUANTA:-$B/tools/quanta}
F=${FILES:-/tmp/e2e/files}
G=$F/gemma3-270m-q4_k_m.gguf M4=$F/mistral7b-q4_0.gguf
OFF="QUANTA_FUSED_CHECK=0" ON="QUANTA_FUSED_CHECK=1" QUEUED="QUANTA_EXECUTE_READ=1"
[ -x $Q ] || { say "no $Q"; exit 1; }
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm,clocks.mem --format=csv,noheader 2>&1)"
say "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"

mode_env() { case $1 in on) echo "$ON" ;; off) echo "$OFF" ;; *) echo "$QUEUED" ;; esac; }

# 1. the unit test (run_h200.sh builds only tests/cuda: built here; skipped when the build had no tests)
T=$B/tests/model/test_model_fused_logits
timeout 25 ninja -C $B tests/model/test_model_fused_logits > $D/build.log 2>&1
say "build rc=$? (test_model_fused_logits)"
if [ -x $T ]; then
  for m in on off queued; do
    env $(mode_env $m) CK_FORK=no timeout 15 $T > $D/test_$m.log 2>&1
    say "test_model_fused_logits $m rc=$?: $(grep -E 'Checks' $D/test_$m.log | tail -1) ($(grep -c 'skipped' $D/test_$m.log) lines of backends skipped)"
    grep -E ':F:|:E:' $D/test_$m.log | head -3 | tee -a $D/summary.txt
  done
fi
pack

# 2. the step split (us per step; its second line is the host work in what was the rest, new)
if [ -f $G ]; then
  for m in off on queued; do
    env $(mode_env $m) QUANTA_STEP_SPLIT=1 timeout 15 $Q bench model -m $G -p 0 -n ${SPLIT_N:-64} -r 1 --backend cuda > $D/split_$m.txt 2>&1
    say "Gemma step split (tg64, -p 0 as verify_lead11), $m, rc=$?:"
    grep -A1 'host split' $D/split_$m.txt | tee -a $D/summary.txt
  done
fi
pack

# 3. decode tok/s on Gemma, the modes alternated
for i in 1 2; do [ -f $G ] && for m in off on queued; do tg gemma_$m$i "$(mode_env $m)" -m $G; done; done
pack

# 4. greedy text (the bytes of the logits are the same in every mode: the text must be)
for f in $G $M4; do
  [ -f $f ] || continue
  b=$(basename $f .gguf)
  modes="off on queued"; [ $f = $M4 ] && modes="off queued" # queued has the fused pass too; the 7B loads slowly
  for m in $modes; do
    env $(mode_env $m) timeout 12 $Q generate -m $f --backend cuda -n 16 --quiet > $D/gen_${b}_$m.txt 2> $D/gen_${b}_$m.err
    say "$b greedy text $m rc=$?"
  done
  same=identical
  for m in ${modes#off }; do cmp -s $D/gen_${b}_$m.txt $D/gen_${b}_off.txt && [ -s $D/gen_${b}_off.txt ] || same="DIFFERENT or empty (expected identical)"; done
  say "$b greedy text $modes: $same"
done
pack

# 5. decode tok/s on the 7B Q4_0
if [ -f $M4 ]; then
  for m in off on queued; do tg 7b_q4_0_${m}1 "$(mode_env $m)" -m $M4; done
  for m in off on; do tg 7b_q4_0_${m}2 "$(mode_env $m)" -m $M4; done
fi
say "done"
tg_table
pack
