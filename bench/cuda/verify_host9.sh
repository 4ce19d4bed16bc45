#!/bin/bash
# verify_host9.sh — device check of the host side of a decode step (issue 11), run after bench/e2e/run_h200.sh has
# built Quanta (/tmp/qbuild) and written the model files (/tmp/e2e/files). About 45 s.
# What changed (2026-12-06): the logits' finiteness check is a vectorized bit test (87 -> 22 us per Gemma step on the
# 2-core CI machine; its vocabulary is 262144), and cuda_synchronize copies the error flag into page-locked memory on
# the stream (one wait instead of a stream wait plus a blocking cudaMemcpy; two synchronizes per step). Both are on.
# The question: QUANTA_CUDA_PINNED_READ=1 reads outputs of at most 16 MiB (the logits, 1 MiB on Gemma) through a
# page-locked staging buffer plus a host memcpy instead of cudaMemcpyAsync into the caller's pageable memory.
# Steps: 1. tests/cuda/test_cuda_graphs (graph replay vs op by op: bit-identical logits) with the switch on; 2. Gemma and 7B Q8_0 tg128 -r 3,
# off and on alternating. Everything goes to $OUT/host9/ (summary.txt).
. "$(dirname "$0")/../common/verifylib.sh" host9 ${LIMIT:-60}
B=${QBUILD:-/tmp/qbuild}
Q=${QUANTA:-$B/tools/quanta}
F=${FILES:-/tmp/e2e/files}
[ -x $Q ] || { say "no $Q"; exit 1; }
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm,clocks.mem --format=csv,noheader 2>&1)"

for t in $B/tests/cuda/test_cuda_graphs; do
  [ -x $t ] || continue
  QUANTA_CUDA_PINNED_READ=1 CK_FORK=no timeout 20 $t > $D/$(basename $t).log 2>&1
  say "$(basename $t) (pinned read on) rc=$?: $(grep -E 'Checks' $D/$(basename $t).log | tail -1)"
done
pack

G=$F/gemma3-270m-q4_k_m.gguf M8=$F/mistral7b-q8_0.gguf
for i in 1 2 3; do
  [ -f $G ] && { tg gemma_off$i QUANTA_CUDA_PINNED_READ=0 -m $G; tg gemma_on$i QUANTA_CUDA_PINNED_READ=1 -m $G; }
  pack
done
[ -f $M8 ] && { tg 7b_q8_0_off QUANTA_CUDA_PINNED_READ=0 -m $M8; tg 7b_q8_0_on QUANTA_CUDA_PINNED_READ=1 -m $M8; }
say "done"
tg_table
pack
