#!/bin/bash
# verify_fuse8.sh — device checks of fuse8's launch cuts (issue 11), run after bench/e2e/run_h200.sh has built
# Quanta (/tmp/qbuild) and written the model files (/tmp/e2e/files). About 60 s.
# The switches (on by default since this script's H100 run of 2026-12-06 03:50; =0 turns each off):
#   QUANTA_CUDA_ADD_NORM=1   the plan's add_norm: LLaMA's residual add h = x + o and the next rms_norm of h in one
#                            launch (qn_k_rms_norm_regs<4, true> with sum_only), the norm's int8 codes left for the
#                            next GEMV as the norm leaves them: -64 launches per 7B token (add 64 + rms_norm 65 -> 64 + 1)
#   QUANTA_CUDA_ROPE_PAIR=1  the plan's rope_pair: q's and k's ropes in one launch (qn_k_rope over both): -32
#   QUANTA_CUDA_ROPE_KV=1    the plan's rope_kv: the q/k (norm +) ropes and the k/v cache appends in one launch
#                            (qn_k_rms_norm_rope writing k's rows into the cache, more blocks copying v's): -32 per
#                            7B token (with ROPE_PAIR), -18 per Gemma token (its rms_norm_rope_pair + write_rows_pair)
#   QUANTA_CUDA_ATTN_QX=1    decode attention (the decode-rows kernel) also leaves its output's int8 codes, both planes,
#                            for the wo GEMV, as the norms leave them for q/k/v: the quantize launch before wo goes
#                            (-32 per 7B token; Gemma's wo quantizes x in its own kernel already). Not a plan op: the
#                            profile rows do not show it; the greedy text must stay identical (the same codes)
# Both kernels are meant to be bit-identical to the separate launches (the same arithmetic per element), so the
# unit tests demand equality with the ops planned alone and the greedy text must not change.
# Steps: 1. the unit tests of the fused ops (ref and cuda, defaults); 2. conformance of add_norm and rope_pair
# on cuda (defaults); 3. greedy text switches off vs on (7B Q4_0); 4. the plan's ops per decode step
# (QUANTA_PLAN_PROFILE=1; the quantize launches before wo and down are not plan ops: add 64 on the 7B) off vs on;
# 5. decode tg128 off vs on, side by side, on the 7B Q4_0 and Q8_0 files and Gemma (rope_kv alone applies there).
# Everything goes to $OUT/fuse8/ (summary.txt) and $OUT/fuse8.tgz; the table is printed at the end.
set -u
cd "$(dirname "$0")/../.." # the repository root
. bench/common/verifylib.sh fuse8 ${LIMIT:-60}
B=${QBUILD:-/tmp/qbuild}
Q=${QUANTA:-$B/tools/quanta}
F=${FILES:-/tmp/e2e/files}
ON="X=1" # the defaults
OFF="QUANTA_CUDA_ADD_NORM=0 QUANTA_CUDA_ROPE_PAIR=0 QUANTA_CUDA_ROPE_KV=0 QUANTA_CUDA_ATTN_QX=0"
[ -x $Q ] || { say "no $Q"; exit 1; }
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm,clocks.mem --format=csv,noheader 2>&1)"

# 1. unit tests (each compares the fused plan with the ops planned alone, bit for bit, guards on)
for t in engine/test_add_norm engine/test_rope_pair engine/test_rope_kv; do
  [ -x $B/tests/$t ] || { say "no $t"; continue; }
  env $ON CK_FORK=no timeout 20 $B/tests/$t > $D/$(basename $t).log 2>&1
  say "$t (switches on) rc=$?: $(grep -E 'Checks' $D/$(basename $t).log | tail -1)"
  grep -E 'differs|Failure|Error' $D/$(basename $t).log | head -3 | tee -a $D/summary.txt
done
pack

# 1. the unit tests of the fused ops on ref and cuda (run_h200.sh builds only tests/cuda: built here)
timeout 25 ninja -C $B tests/engine/test_add_norm tests/engine/test_rope_pair tests/engine/test_rope_kv > $D/build.log 2>&1
say "build rc=$? (the three engine tests)"
for t in engine/test_add_norm engine/test_rope_pair engine/test_rope_kv; do
  [ -x $B/tests/$t ] || { say "no $t"; continue; }
  OCL_ICD_VENDORS=/nonexistent-quanta-icd CK_FORK=no timeout 20 $B/tests/$t > $D/$(basename $t).log 2>&1
  say "$t (defaults) rc=$?: $(grep -E 'Checks' $D/$(basename $t).log | tail -1)"
  grep -E 'differs|Failure|Error' $D/$(basename $t).log | head -3 | tee -a $D/summary.txt
done
pack

# 2. conformance of the new ops (7B decode rows of 4096, q 32x128 with k 8x128, every dtype)
timeout 20 $Q conform --backend cuda --filter add_norm,rope_pair,rope_kv --failures > $D/conform.log 2>&1
say "conform add_norm,rope_pair,rope_kv (defaults) rc=$?: $(grep -E '^total' $D/conform.log)"
grep -E '^FAIL' $D/conform.log | head -6 | tee -a $D/summary.txt
pack

# 3. greedy text (random weights: the text means nothing, but the kernels are meant to be bit-identical)
M4=$F/mistral7b-q4_0.gguf M8=$F/mistral7b-q8_0.gguf G=$F/gemma3-270m-q4_k_m.gguf
if [ -f $M4 ]; then
  env $OFF timeout 12 $Q generate -m $M4 --backend cuda -n 16 --quiet > $D/gen_off.txt 2> $D/gen_off.err; r1=$?
  env $ON timeout 12 $Q generate -m $M4 --backend cuda -n 16 --quiet > $D/gen_on.txt 2> $D/gen_on.err; r2=$?
  cmp -s $D/gen_on.txt $D/gen_off.txt && same=identical || same="DIFFERENT (expected identical)"
  say "7B q4_0 greedy text off rc=$r1 / on rc=$r2: $same"
  env ${OFF/QUANTA_CUDA_ATTN_QX=0/} timeout 12 $Q generate -m $M4 --backend cuda -n 16 --quiet > $D/gen_qx.txt 2> $D/gen_qx.err; r3=$?
  cmp -s $D/gen_qx.txt $D/gen_off.txt && same=identical || same="DIFFERENT (expected identical)"
  say "7B q4_0 greedy text ATTN_QX=1 alone rc=$r3 vs off: $same"
fi
if [ -f $G ]; then
  env $OFF timeout 12 $Q generate -m $G --backend cuda -n 16 --quiet > $D/gemma_gen_off.txt 2> $D/gemma_gen_off.err; r1=$?
  env $ON timeout 12 $Q generate -m $G --backend cuda -n 16 --quiet > $D/gemma_gen_on.txt 2> $D/gemma_gen_on.err; r2=$?
  cmp -s $D/gemma_gen_on.txt $D/gemma_gen_off.txt && same=identical || same="DIFFERENT (expected identical)"
  say "Gemma greedy text off rc=$r1 / on rc=$r2: $same"
fi
pack

# 4. plan ops per decode step (launches, less the quantize launches of wo and down on the 7B)
for f in $M4 $G; do
  [ -f $f ] || continue
  for mode in off on; do
    e=$OFF; [ $mode = on ] && e=$ON
    b=$(basename $f .gguf)_$mode
    env $e QUANTA_PLAN_PROFILE=1 timeout 12 $Q bench model -m $f -p 0 -n 8 -r 1 --backend cuda > $D/profile_$b.txt 2>&1
    n=$(grep -E '^\| [a-z_]+ \| [0-9.]+ \|' $D/profile_$b.txt | awk -F'|' '{s += $3} END {print s}')
    say "$(basename $f) plan ops per decode step, $mode: $n ($(grep -E '^\| [a-z_]+ \| [0-9.]+ \|' $D/profile_$b.txt | awk -F'|' '{gsub(/ /, "", $2); gsub(/ /, "", $3); printf "%s %s, ", $2, $3}'))"
  done
done
pack

# 5. decode tok/s, off and on back to back
[ -f $M4 ] && { tg 7b_q4_0_off "$OFF" -m $M4; tg 7b_q4_0_on "$ON" -m $M4; }
[ -f $M8 ] && { tg 7b_q8_0_off "$OFF" -m $M8; tg 7b_q8_0_on "$ON" -m $M8; }
[ -f $M4 ] && { tg 7b_q4_0_on_add_norm_only "${OFF/QUANTA_CUDA_ADD_NORM=0/}" -m $M4; tg 7b_q4_0_attn_qx_only "${OFF/QUANTA_CUDA_ATTN_QX=0/}" -m $M4; tg 7b_q4_0_off2 "$OFF" -m $M4; }
[ -f $G ] && { tg gemma_off "$OFF" -m $G; tg gemma_on "$ON" -m $G; tg gemma_off2 "$OFF" -m $G; }
pack

say "done"
tg_table
pack
