#!/bin/bash
# verify_serve7.sh — device checks of serve7's paged-step work (2026-12-05), run after
# bench/e2e/run_h200.sh has built Quanta (/tmp/qbuild, CUDA) and written the model files
# (/tmp/e2e/files). At most ~90 s (every step has its own timeout). Question: where do the ~20 ms
# of a paged decode step go on the GPU (a 1-row step costs 20.7 ms where `bench model` decodes in
# 1.4 ms; 64 rows 24.4 ms)?
#   1. CUDA conformance of paged_attention with the new tiled kernel (the default; a block per
#      sequence, kv head and query, the query heads of a GQA group together, warps over key tiles);
#   2. `quanta bench paged` (Gemma-shaped file, prompts of 128, decode steps of 1, 16 and 64 rows)
#      with the tiled kernel and with the old one (QUANTA_CUDA_PAGED_TILED=0), back to back;
#   3. the executor's per-op timing (QUANTA_PLAN_PROFILE=1: ops one by one, synchronized after
#      each) of the decode steps at 1 and 64 rows, both kernels: which ops the step's time is in,
#      and how it compares with the whole step (host work outside the ops); the same for the plain
#      decode (`bench model`) as the baseline;
#   4. the server at 64 streams: fixed mix; long-tailed mix with the defaults (1024-token step
#      budget on cuda), the old 256-token budget, and length-bucketed admission.
# Everything goes to $OUT/serve7/ (summary.txt; the numbers to decide with are at its end).
set -u
cd "$(dirname "$0")/../.." # the repository root
. bench/common/verifylib.sh serve7 86
Q=${QUANTA_BIN:-/tmp/qbuild/tools/quanta}
F=${QUANTA_MODEL_FILE:-/tmp/e2e/files/gemma3-270m-q4_k_m.gguf}
[ -x $Q ] || { say "no $Q"; exit 1; }
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm --format=csv,noheader 2>&1)"

# 1. conformance of paged_attention (tiled kernel, the default)
timeout 20 $Q conform --backend ${QUANTA_VERIFY_BACKEND:-cuda} --filter paged_attention --failures > $D/conform.log 2>&1
say "conform paged_attention (tiled) rc=$?: $(grep -E '^total' $D/conform.log)"
grep -E '^FAIL' $D/conform.log | head -8 | tee -a $D/summary.txt
[ -f $F ] || { say "no $F"; exit 0; }

# 2. engine steps, new kernel and old kernel back to back
timeout 20 $Q bench paged -m $F --backend ${QUANTA_VERIFY_BACKEND:-cuda} -n 1,16,64 -p 128 -s 8 > $D/paged_tiled.txt 2>&1
say "bench paged (tiled) rc=$?"
QUANTA_CUDA_PAGED_TILED=0 timeout 20 $Q bench paged -m $F --backend ${QUANTA_VERIFY_BACKEND:-cuda} -n 1,64 -p 128 -s 4 \
  > $D/paged_old.txt 2>&1
say "bench paged (old kernel, QUANTA_CUDA_PAGED_TILED=0) rc=$?"

# 3. per-op profile of the decode steps (and prefill steps), tiled then old
if [ $(left) -gt 12 ]; then
  QUANTA_PLAN_PROFILE=1 timeout $(($(left) > 20 ? 15 : $(left) - 3)) $Q bench paged -m $F --backend ${QUANTA_VERIFY_BACKEND:-cuda} -n 1,64 \
    -p 128 -s 4 > $D/profile_tiled.txt 2>&1
  say "profile (tiled) rc=$?"
fi
if [ $(left) -gt 12 ]; then
  QUANTA_CUDA_PAGED_TILED=0 QUANTA_PLAN_PROFILE=1 timeout $(($(left) > 20 ? 15 : $(left) - 3)) $Q bench paged -m $F \
    --backend ${QUANTA_VERIFY_BACKEND:-cuda} -n 1,64 -p 128 -s 4 > $D/profile_old.txt 2>&1
  say "profile (old kernel) rc=$?"
fi
# the plain decode step's per-op profile (bench model, the same file), the baseline of the paged one
if [ $(left) -gt 40 ]; then
  QUANTA_PLAN_PROFILE=1 timeout 10 $Q bench model -m $F --backend ${QUANTA_VERIFY_BACKEND:-cuda} -p 16 -n 32 -r 1 \
    > $D/profile_model.txt 2>&1
  say "profile (bench model) rc=$?"
fi
# 4. the server itself at 64 streams: the fixed mix as the final sweep has it (128 prompt words,
#    128 tokens, 64 x 2 requests: the first wave's TTFT is the load's worst), then the long-tailed
#    mix (log-normal lengths, medians 128 words / 64 tokens, 96 requests) with the defaults (on
#    cuda a 1024-token step budget since serve7), the old 256-token budget, and length-bucketed
#    admission
serve_run() { # NAME LOAD-COMMAND -- EXTRA-SERVER-ARGS...
  local name=$1 load=$2; shift 2
  $Q serve -m $F --backend ${QUANTA_VERIFY_BACKEND:-cuda} --max-batch 64 --ctx 4096 --kv-blocks 8192 --port 18097 "$@" \
    > $D/serve_$name.log 2>&1 &
  local sp=$!
  for _ in $(seq 40); do curl -sf http://127.0.0.1:18097/health >/dev/null 2>&1 && break; sleep 0.25; done
  local lim=$(($(left) > 20 ? 16 : $(left) - 4))
  if [ $load = fixed ]; then
    timeout $lim python3 bench/serve_load.py --url http://127.0.0.1:18097 --streams 64 --requests 2 --max-tokens 128 \
      --prompt-words 128 --timeout 30 > $D/load_$name.txt 2>&1
  else
    timeout $lim python3 bench/serve_sweep.py --url http://127.0.0.1:18097 --concurrency 64 --mix longtail \
      --requests 96 --prompt-words 128 --max-tokens 64 --timeout 30 > $D/load_$name.txt 2>&1
  fi
  say "serve 64 streams ($name) rc=$?"
  kill -TERM $sp 2>/dev/null
  for _ in $(seq 20); do kill -0 $sp 2>/dev/null || break; sleep 0.25; done
  kill -KILL $sp 2>/dev/null; wait $sp 2>/dev/null
}
[ $(left) -gt 12 ] && serve_run fixed fixed
[ $(left) -gt 12 ] && serve_run longtail longtail
[ $(left) -gt 12 ] && serve_run longtail_step256 longtail --step-tokens 256
[ $(left) -gt 12 ] && serve_run longtail_bucketed longtail --schedule bucketed
# the decode tables of the profiles: top 8 ops each
[ -f $D/profile_model.txt ] && { echo "== plain decode (bench model) per-op profile"; \
  grep -A10 'per-op profile of' $D/profile_model.txt; } | tee -a $D/summary.txt
for f in profile_tiled profile_old; do
  [ -f $D/$f.txt ] || continue
  echo "== $f (decode steps; ms per step with a sync after every op)" | tee -a $D/summary.txt
  grep -A10 'per-op profile of the decode' $D/$f.txt | grep -v '^--' | tee -a $D/summary.txt
done
echo "== bench paged, tiled kernel (default)" | tee -a $D/summary.txt
grep -E '^\|' $D/paged_tiled.txt | tee -a $D/summary.txt
echo "== bench paged, old kernel (QUANTA_CUDA_PAGED_TILED=0)" | tee -a $D/summary.txt
grep -E '^\|' $D/paged_old.txt | tee -a $D/summary.txt
for f in load_fixed load_longtail load_longtail_step256 load_longtail_bucketed; do
  [ -f $D/$f.txt ] && { echo "== $f"; cat $D/$f.txt; } | tee -a $D/summary.txt
done
say "end"
