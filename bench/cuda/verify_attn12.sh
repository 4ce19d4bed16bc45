#!/bin/bash
# verify_attn12.sh — the decode-rows attention kernel's short form (QUANTA_CUDA_DEC_SHORT=1, attn12), run after
# bench/e2e/run_h200.sh has built Quanta (/tmp/qbuild, tests built) and written the model files (/tmp/e2e/files).
# About 60 s.
# Why: the 7B Q4_0 decodes at 1.07x llama.cpp (same run, 09:02) and needs +2.6% for 1.1x; ncu puts
# attn_decode_rows_kernel<float, 4, 8> at 9.1 us a launch (8.8-9.6 whatever the key count: a fixed chain), 32 a step,
# and Gemma's <float, 8, 4> at 9.6 us x 18. The short form (at most 4 folded rows: both models) keeps the contract and
# the splits but shortens the chain: a 4-row instance (the 7B ran 8 rows, 4 of them dummies), the key scores summed by
# reduce-scatter + broadcast (32 shuffles a pass instead of 80 / 160), q loaded before kv_lens, and the cluster merge
# in one distributed-shared-memory round trip; launched with PDL, it prefetches its K/V rows into L2 before its wait
# and lets wo's GEMV in after it (launch_dependents). Its sums run in another order: results may differ in the last
# bits.
# Steps: 1. conformance of attention with the switch on (the decode classes: 7B and Gemma shapes, kv lengths, masks,
# causal, window; paged attention has its own kernel and is not touched); 2. tests/cuda/test_cuda_graphs with it on
# (its tiny models' head dims do not reach this kernel: run for completeness); 3. greedy text off vs on (Gemma, 7B Q4_0:
# reported, a difference is allowed in principle but worth a look), and on with graphs vs op by op (must be
# identical); 4. tg128 off / on alternated twice on the 7B Q4_0, =2 (the chain without the early part) once, off / on
# once on Gemma.
# Everything goes to $OUT/attn12/ (summary.txt) and $OUT/attn12.tgz; the table is printed at the end.
set -u
cd "$(dirname "$0")/../.." # the repository root
. bench/common/verifylib.sh attn12 ${LIMIT:-60}
B=${QBUILD:-/tmp/qbuild}
Q=${QUANTA:-$B/tools/quanta}
F=${FILES:-/tmp/e2e/files}
OFF="QUANTA_CUDA_DEC_SHORT=0"
ON="QUANTA_CUDA_DEC_SHORT=1"
[ -x $Q ] || { say "no $Q"; exit 1; }
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm,clocks.mem --format=csv,noheader 2>&1)"
say "tree: $(git log --oneline -1 2>/dev/null)"

# 1. conformance of attention, short form on
CONFORM_S=20 conform short_on $ON -- --filter attention --failures
pack

# 2. graph replay with the short form (the decode steps of its model run it)
GT=$B/tests/cuda/test_cuda_graphs
if [ -x $GT ]; then
  env $ON CK_FORK=no timeout 15 $GT > $D/test_cuda_graphs_on.log 2>&1
  rc=$?
  say "test_cuda_graphs (short on) rc=$rc: $(grep -E 'Checks' $D/test_cuda_graphs_on.log | tail -1)"
  grep -E ':F:|:E:' $D/test_cuda_graphs_on.log | head -3 | tee -a $D/summary.txt
  [ $rc -eq 0 ] || VERDICT=FAIL
else
  say "no $GT"; VERDICT=incomplete
fi
pack

# 3. greedy text, off vs on
M4=$F/mistral7b-q4_0.gguf G=$F/gemma3-270m-q4_k_m.gguf
for f in $G $M4; do
  [ -f $f ] || { say "no $f"; continue; }
  b=$(basename $f .gguf)
  env $OFF timeout 12 $Q generate -m $f --backend cuda -n 32 --quiet > $D/gen_${b}_off.txt 2> $D/gen_${b}_off.err; r1=$?
  env $ON timeout 12 $Q generate -m $f --backend cuda -n 32 --quiet > $D/gen_${b}_on.txt 2> $D/gen_${b}_on.err; r2=$?
  if cmp -s $D/gen_${b}_on.txt $D/gen_${b}_off.txt && [ -s $D/gen_${b}_on.txt ]; then same=identical; else same=differs; fi
  say "$b greedy text off rc=$r1 / on rc=$r2: $same"
  # graph replay of the short form: the same text with the steps issued op by op (test_cuda_graphs' tiny models have
  # head dims 16/32, which the decode-rows kernel does not take)
  env $ON QUANTA_CUDA_GRAPHS=0 timeout 12 $Q generate -m $f --backend cuda -n 32 --quiet > $D/gen_${b}_on_nograph.txt 2> $D/gen_${b}_on_nograph.err; r3=$?
  if cmp -s $D/gen_${b}_on.txt $D/gen_${b}_on_nograph.txt && [ -s $D/gen_${b}_on.txt ]; then same=identical; else same="DIFFERS (expected identical)"; VERDICT=FAIL; fi
  say "$b greedy text short on, graphs on vs QUANTA_CUDA_GRAPHS=0 (rc=$r3): $same"
done
pack

# 4. decode tok/s, off and on alternated
for i in 1 2; do
  [ -f $M4 ] && { tg 7b_q4_0_off$i "$OFF" -m $M4; tg 7b_q4_0_short$i "$ON" -m $M4; }
  pack
done
# the chain alone (=2: no PDL attribute, prefetch or launch_dependents), to tell the two parts apart
[ -f $M4 ] && tg 7b_q4_0_short2_chain_only "QUANTA_CUDA_DEC_SHORT=2" -m $M4
[ -f $G ] && { tg gemma_off1 "$OFF" -m $G; tg gemma_short1 "$ON" -m $G; }

say "verdict: $VERDICT (conformance and graph replay; timings are in the table)"
tg_table
pack
