#!/bin/bash
# One device call: correctness, compute-sanitizer, then our timings and the torch SDPA peers in the
# same run. Logs go to $OUT (or ./attn_out); the last lines printed are the summaries and the table.
# Usage (repo root): bench/cuda/run_attention_h200.sh [prebuilt attention_check]
set -u
OUT=${OUT:-./attn_out}; mkdir -p "$OUT"
BIN=${1:-}
if [ -n "$BIN" ]; then "$BIN" none >/dev/null 2>&1; [ $? -eq 1 ] || { echo "prebuilt $BIN does not run here; building"; BIN=""; }; fi
if [ -z "$BIN" ]; then
  BIN=/tmp/attention_check
  nvcc -std=c++17 -O2 -lineinfo -gencode arch=compute_90a,code=sm_90a -Ikernels_cuda -Iinclude -Iformats -Ibase -Iengine/cuda bench/cuda/attention_check.cu -o $BIN || exit 1
fi
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,temperature.gpu,power.draw,power.limit --format=csv,noheader
STAGES=${STAGES:-check,memcheck,racecheck,bench,peers}
if [[ $STAGES == *check,* || $STAGES == check ]]; then
  timeout ${T_CHECK:-170} $BIN check > $OUT/check.log 2>&1; echo "check rc=$?"
fi
if [[ $STAGES == *memcheck* ]]; then
  timeout ${T_MEM:-60} compute-sanitizer --tool memcheck --leak-check no $BIN small > $OUT/memcheck.log 2>&1; echo "memcheck rc=$?"
  tail -n 3 $OUT/memcheck.log
fi
if [[ $STAGES == *racecheck* ]]; then
  timeout ${T_RACE:-60} compute-sanitizer --tool racecheck --racecheck-report hazard $BIN small > $OUT/racecheck.log 2>&1; echo "racecheck rc=$?"
  tail -n 3 $OUT/racecheck.log
fi
if [[ $STAGES == *bench* ]]; then
  timeout ${T_BENCH:-150} $BIN bench $OUT/ours.csv > $OUT/bench.log 2>&1; echo "bench rc=$?"
fi
if [[ $STAGES == *peers* ]]; then
  PYTHONUNBUFFERED=1 timeout ${T_PEERS:-200} python3 bench/cuda/attention_peers.py $OUT/ours.csv $OUT/all.csv > $OUT/peers.log 2>&1; echo "peers rc=$?"
fi
[ -f $OUT/check.log ] && { grep -E "^FAIL" $OUT/check.log | cut -c1-230; tail -n 1 $OUT/check.log; }
[ -f $OUT/peers.log ] && sed -n '/^| kind/,$p' $OUT/peers.log
nvidia-smi --query-gpu=clocks.sm,temperature.gpu,power.draw --format=csv,noheader
