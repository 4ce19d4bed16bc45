#!/bin/bash
# verify_lead12.sh — the lean register norm (QUANTA_CUDA_NORM_LEAN, norm11) on the 7B files' 4096-wide rows, run after
# bench/e2e/run_h200.sh has built Quanta (/tmp/qbuild) and written the model files (/tmp/e2e/files). About 70 s.
# Why: the 7B Q4_0 decodes at 1.07x llama.cpp (same run, 09:02) and needs +2.6% for 1.1x; ncu puts its two norms a
# layer (one block of 1024 threads, rows of 4096) at 7.56 us each, 15% of kernel time. The lean form is on by default
# only for blocks of 256: on 1024-wide rows (one of a warp's four code chunks live) it was slower (5.20 against 3.99
# us), but a 4096-wide row has all four chunks live, the case the interleaving was written for (unmeasured).
# Steps: 1. conformance of the norm ops with NORM_LEAN=1 (rows up to 4096); 2. greedy text NORM_LEAN=1 vs default on
# the 7B Q4_0 (the lean form is bit-identical: the text must not change); 3. tg128 on the 7B Q4_0 and Q8_0, default /
# NORM_LEAN=1 alternated twice.
set -u
cd "$(dirname "$0")/../.." # the repository root
. bench/common/verifylib.sh lead12 ${LIMIT:-90}
B=${QBUILD:-/tmp/qbuild}
Q=${QUANTA:-$B/tools/quanta}
F=${FILES:-/tmp/e2e/files}
[ -x $Q ] || { say "no $Q"; exit 1; }
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm,clocks.mem --format=csv,noheader 2>&1)"
say "tree: $(git log --oneline -1 2>/dev/null)"
M4=$F/mistral7b-q4_0.gguf M8=$F/mistral7b-q8_0.gguf
OPS=rms_norm,add_rms_norm,rms_norm_add,rms_norm_add_norm,add_norm
CONFORM_S=15 conform lean1 QUANTA_CUDA_NORM_LEAN=1 -- --filter $OPS --failures
pack
if [ -f $M4 ]; then
  timeout 20 $Q generate -m $M4 --backend cuda -n 24 --quiet > $D/gen_default.txt 2>&1
  QUANTA_CUDA_NORM_LEAN=1 timeout 20 $Q generate -m $M4 --backend cuda -n 24 --quiet > $D/gen_lean1.txt 2>&1
  cmp -s $D/gen_default.txt $D/gen_lean1.txt && same=identical || { same=DIFFERS; VERDICT=FAIL; }
  say "7B Q4_0 greedy text, NORM_LEAN=1 vs default: $same"
fi
pack
for i in 1 2; do
  [ -f $M4 ] && { tg 7b_q4_0_default_$i "X=1" -m $M4; tg 7b_q4_0_lean1_$i "QUANTA_CUDA_NORM_LEAN=1" -m $M4; }
  [ -f $M8 ] && { tg 7b_q8_0_default_$i "X=1" -m $M8; tg 7b_q8_0_lean1_$i "QUANTA_CUDA_NORM_LEAN=1" -m $M8; }
  pack
done
say "verdict: $VERDICT"
tg_table
pack
