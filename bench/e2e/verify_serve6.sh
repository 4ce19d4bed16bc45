#!/bin/bash
# verify_serve6.sh — device checks of serve6's paged-step work (2026-12-05), run after
# bench/e2e/run_h200.sh has built Quanta (/tmp/qbuild) and written the model files (/tmp/e2e/files).
# At most ~90 s (every step has its own timeout).
#   1. conformance on CUDA of the ops serve6 added or changed: argmax (new: a server's greedy tokens
#      on the device), write_rows (start i32 [T]: one write per pool and layer for all sequences),
#      paged_attention (reads what those writes put in the pools);
#   2. `quanta bench paged` on the Gemma-shaped file: decode steps of 1, 16 and 64 sequences
#      (prompts of 128 tokens in pieces of 64), each step read back two ways side by side —
#      n x 262144 logits + host argmax (the old server path) against the device argmax
#      (quanta_model_eval_paged_greedy, what the server now takes for greedy requests) — and the
#      prefill pieces' cost;
#   3. the same with QUANTA_CUDA_GRAPHS=0 if time is left (how much the step's capture buys).
# Everything goes to $OUT/serve6/ (summary.txt first).
set -u
cd "$(dirname "$0")/../.." # the repository root
OUT=${OUT:-/tmp/e2e-out}
D=$OUT/serve6
mkdir -p $D
Q=/tmp/qbuild/tools/quanta
F=/tmp/e2e/files/gemma3-270m-q4_k_m.gguf
T0=$(date +%s)
say() { echo "[$(($(date +%s) - T0))s] $*" | tee -a $D/summary.txt; }
left() { echo $((88 - ($(date +%s) - T0))); }
[ -x $Q ] || { say "no $Q"; exit 1; }
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm --format=csv,noheader 2>&1)"

# 1. conformance of the changed ops
timeout 25 $Q conform --backend cuda --filter argmax,write_rows,paged_attention --failures > $D/conform.log 2>&1
say "conform argmax,write_rows,paged_attention rc=$?: $(grep -E '^total' $D/conform.log)"
grep -E '^FAIL' $D/conform.log | head -12 | tee -a $D/summary.txt

# 2. the paged steps, logits + host argmax vs device argmax, side by side in one process
[ -f $F ] || { say "no $F"; exit 0; }
timeout 40 $Q bench paged -m $F --backend cuda -n 1,16,64 -p 128 -s 16 > $D/bench_paged.txt 2>&1
say "bench paged rc=$?"
cat $D/bench_paged.txt | tee -a $D/summary.txt

# 3. without CUDA graphs (each op launched on its own), if time is left
if [ $(left) -gt 25 ]; then
  QUANTA_CUDA_GRAPHS=0 timeout $(($(left) - 3)) $Q bench paged -m $F --backend cuda -n 16,64 -p 128 -s 8 \
    > $D/bench_paged_nographs.txt 2>&1
  say "bench paged QUANTA_CUDA_GRAPHS=0 rc=$?"
  cat $D/bench_paged_nographs.txt | tee -a $D/summary.txt
else say "bench paged without graphs skipped (time)"; fi
