#!/bin/bash
# verify_serve8.sh — device checks of serve8's mixed steps (2026-12-05), run after
# bench/e2e/run_h200.sh has built Quanta (/tmp/qbuild, CUDA) and written the model files
# (/tmp/e2e/files). At most ~60 s (every step has its own timeout). Question: does running a
# server step's decode rows and its first round of prompt pieces as ONE device step (one pass
# over the weights, QUANTA_SERVE_MIXED_STEP=1, the default) beat two steps (=0) on the GPU, and
# do the decode rows choose the same tokens both ways (not promised on CUDA: near ties may part)?
#   1. `quanta bench paged -x 8`: n = 16, 64 decode rows with 8 prompt pieces of 64, the mixed
#      step against the decode step + pieces step apart (ms, and same tokens of n);
#   2. the server, long-tailed mix (log-normal lengths, medians 128 words / 64 tokens) at 16 and
#      64 streams, mixed steps on and off (QUANTA_SERVE_MIXED_STEP=1/0), one server each; then
#      prompt pieces of up to 4 chunks (QUANTA_SERVE_PIECE_CHUNKS=4: a long prompt's first
#      token in a quarter of the steps; with Gemma's local pools a request gets one piece a step) and
#      length-bucketed admission (issue 16 item 3: its p99 TTFT effect has no GPU before/after);
#   3. if time is left, tests/server/test_batch.py on cuda with the default model: 32 greedy
#      requests alone vs at once (mixed steps among them), parting only at near ties.
# Everything goes to $OUT/serve8/ (summary.txt; the numbers to decide with are at its end).
set -u
cd "$(dirname "$0")/../.." # the repository root
. bench/common/verifylib.sh serve8 57
Q=${QUANTA_BIN:-/tmp/qbuild/tools/quanta}
F=${QUANTA_MODEL_FILE:-/tmp/e2e/files/gemma3-270m-q4_k_m.gguf}
BE=${QUANTA_VERIFY_BACKEND:-cuda}
[ -x $Q ] || { say "no $Q"; exit 1; }
[ -f $F ] || { say "no $F"; exit 1; }
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm --format=csv,noheader 2>&1)"

# 1. engine steps: mixed against apart
timeout 14 $Q bench paged -m $F --backend $BE -n 16,64 -p 128 -s 6 -x 8 > $D/paged_x8.txt 2>&1
say "bench paged -x 8 rc=$?"

# 2. the server: long-tailed mix at 16 and 64 streams
serve_run() { # NAME LEVELS ENV... -- EXTRA-SERVER-ARGS...
  local name=$1 levels=$2; shift 2
  local envs=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do envs+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  env "${envs[@]}" $Q serve -m $F --backend $BE --max-batch 64 --ctx 4096 --kv-blocks 8192 --port 18098 "$@" \
    > $D/serve_$name.log 2>&1 &
  local sp=$!
  for _ in $(seq 40); do curl -sf http://127.0.0.1:18098/health >/dev/null 2>&1 && break; sleep 0.25; done
  local lim=$(($(left) > 18 ? 12 : $(left) - 6))
  timeout $lim python3 bench/serve_sweep.py --url http://127.0.0.1:18098 --concurrency $levels --mix longtail \
    --requests 64 --prompt-words 128 --max-tokens 64 --timeout 30 --json $D/sweep_$name.json > $D/load_$name.txt 2>&1
  say "serve longtail $levels ($name) rc=$? mixed steps $(curl -s http://127.0.0.1:18098/metrics | \
    awk '/^quanta_scheduler_mixed_steps_total/{m=$2} /^quanta_scheduler_steps_total/{s=$2} END{print m "/" s}')"
  kill -TERM $sp 2>/dev/null
  for _ in $(seq 12); do kill -0 $sp 2>/dev/null || break; sleep 0.25; done
  kill -KILL $sp 2>/dev/null; wait $sp 2>/dev/null
}
[ $(left) -gt 10 ] && serve_run mixed_on 16,64 QUANTA_SERVE_MIXED_STEP=1 --
[ $(left) -gt 10 ] && serve_run mixed_off 16,64 QUANTA_SERVE_MIXED_STEP=0 --
# every server runs the 16-stream level before the 64-stream one: a cold 64-stream level also pays the
# CUDA graph captures of each new plan shape (the 18:50 run compared cold chunks4/bucketed rows with
# warm mixed ones: p99 194/251 against 64 ms, not a fair pair)
[ $(left) -gt 10 ] && serve_run chunks4 16,64 QUANTA_SERVE_MIXED_STEP=1 QUANTA_SERVE_PIECE_CHUNKS=4 --
[ $(left) -gt 10 ] && serve_run bucketed 16,64 QUANTA_SERVE_MIXED_STEP=1 -- --schedule bucketed

# 3. alone vs batched on the device (bounded: near ties only)
if [ $(left) -gt 20 ]; then
  QUANTA_EXE=$Q timeout $(($(left) - 3)) python3 tests/server/test_batch.py --backend $BE --model $F \
    > $D/test_batch.txt 2>&1
  say "test_batch.py on $BE rc=$? ($(grep -E 'all at once|identical|preemptions' $D/test_batch.txt | tr '\n' ' '))"
fi

echo "== bench paged: | n | logits ms | tok/s | greedy ms | tok/s | ratio | prefill ms/piece |; mixed rows:" \
  "| mixed | n | K | mixed ms | apart ms | apart/mixed | same decode tokens |" | tee -a $D/summary.txt
grep -hE '^\||^mixed' $D/paged_x8.txt | grep -v -- '---' | tee -a $D/summary.txt
for f in mixed_on mixed_off chunks4 bucketed; do
  [ -f $D/load_$f.txt ] && { echo "== longtail, $f"; grep -E 'mix|longtail|failure' $D/load_$f.txt; } | tee -a $D/summary.txt
done
say "end"
