#!/bin/bash
# verify_lead11.sh — device checks of the lead's decode changes of 2026-12-06 (issue 11), run after bench/e2e/run_h200.sh
# has built Quanta (/tmp/qbuild) and written the model files (/tmp/e2e/files). About 100 s (LIMIT; run it outside
# run_h200.sh's 100-second verify slot).
# - QUANTA_CUDA_ATTN_PDL=1 (off by default; needs QUANTA_CUDA_PDL on): attention.cu's launch() adds the programmatic
#   stream serialization attribute (beside the decode-rows kernel's cluster dimension) and every kernel it launches
#   waits (griddepcontrol.wait) before it reads anything, so results cannot change.
# - The decode-rows kernel's key splits rounded down to a power of two (QUANTA_CUDA_DEC_SPLITS=N forces N; the
#   136-row buffer of `bench model -n 128` took 5 before, 4 now).
# Steps: 1. conformance of attention and paged attention with ATTN_PDL=1; graph replay; greedy text ATTN_PDL on vs off
# and 4 vs 5 splits; 2. tg128 pairs, alternated: ATTN_PDL on/off (Gemma, 7B Q4_0, Q8_0), splits auto/5 (Gemma, 7B Q4_0);
# 3. the step split (Gemma, 7B Q4_0).
set -u
cd "$(dirname "$0")/../.." # the repository root
. bench/common/verifylib.sh lead11 ${LIMIT:-140}
B=${QBUILD:-/tmp/qbuild}
Q=${QUANTA:-$B/tools/quanta}
F=${FILES:-/tmp/e2e/files}
OFF="QUANTA_CUDA_ATTN_PDL=0" ON="QUANTA_CUDA_ATTN_PDL=1"
[ -x $Q ] || { say "no $Q"; exit 1; }
CONFORM_S=30 conform attention_pdl "$ON" -- --filter attention,paged_attention --failures
if [ -x $B/tests/cuda/test_cuda_graphs ]; then
  env $ON CK_FORK=no timeout 30 $B/tests/cuda/test_cuda_graphs > $D/graphs.log 2>&1
  say "test_cuda_graphs (ATTN_PDL=1) rc=$?: $(grep -E 'Checks' $D/graphs.log | tail -1)"
fi
pack
M4=$F/mistral7b-q4_0.gguf M8=$F/mistral7b-q8_0.gguf G=$F/gemma3-270m-q4_k_m.gguf
for f in $G $M4; do
  [ -f $f ] || continue
  n=$(basename $f .gguf)
  for e in "$OFF" "$ON" "QUANTA_CUDA_DEC_SPLITS=5"; do
    k=$(echo $e | tr -c 'A-Za-z0-9\n' _)
    env $e timeout 15 $Q generate -m $f --backend cuda -n 16 --quiet > $D/gen_${n}_$k.txt 2> $D/gen_${n}_$k.err
  done
  a=$D/gen_${n}_$(echo $OFF | tr -c 'A-Za-z0-9\n' _).txt
  for e in "$ON" "QUANTA_CUDA_DEC_SPLITS=5"; do
    b=$D/gen_${n}_$(echo $e | tr -c 'A-Za-z0-9\n' _).txt
    cmp -s $a $b && same=identical || same="DIFFERENT"
    say "$n greedy text $e vs $OFF: $same"
  done
done
pack
for f in $G $M4; do
  [ -f $f ] || continue
  QUANTA_STEP_SPLIT=1 timeout 15 $Q bench model -m $f -p 0 -n 64 -r 1 --backend cuda > $D/split_$(basename $f .gguf).txt 2>&1
  say "$(basename $f .gguf) step split: $(grep -iE 'wall' $D/split_$(basename $f .gguf).txt | head -1)"
done
for i in 1 2 3; do
  [ -f $G ] && { tg gemma_pdl0_$i "$OFF" -m $G; tg gemma_pdl1_$i "$ON" -m $G; tg gemma_split5_$i "QUANTA_CUDA_DEC_SPLITS=5" -m $G; }
done
pack
for i in 1 2 3; do
  [ -f $M4 ] && { tg 7b_q4_0_pdl0_$i "$OFF" -m $M4; tg 7b_q4_0_pdl1_$i "$ON" -m $M4; }
done
[ -f $M4 ] && { tg 7b_q4_0_split5 "QUANTA_CUDA_DEC_SPLITS=5" -m $M4; }
pack
for i in 1 2; do
  [ -f $M8 ] && { tg 7b_q8_0_pdl0_$i "$OFF" -m $M8; tg 7b_q8_0_pdl1_$i "$ON" -m $M8; }
done
say "done"
tg_table
pack
