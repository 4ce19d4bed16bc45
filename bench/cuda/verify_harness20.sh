#!/bin/bash
# verify_harness20.sh — the lead's check of why attention_pair.py (fa19) read torch SDPA's cuDNN 13–16% below
# attention_peers.py on one machine (lead19): bench/cuda/attention_harness.py times cuDNN and our auto pick in one
# process on identical tensors, one factor at a time (sample form, the GPU spin, interleaving), with the SM clock
# and power read through NVML per block, then the old two-process harness (attention_check wgbench, then
# attention_peers.py's cuDNN) on three rows. Needs libawg_fa20.so + attention_check (bench/cuda/prebuild_fa20.sh, or
# HARNESS_LIB_DIR with both). < 100 s.
set -u
cd "$(dirname "$0")/../.." # the repository root
. bench/common/verifylib.sh harness20 ${LIMIT:-100}
P=${HARNESS_LIB_DIR:-/tmp/prebuild/fa20}
LIB=$(ls $P/libawg_fa2*.so $P/libawg_fa19.so 2>/dev/null | head -1)
if [ -z "$LIB" ]; then bash bench/cuda/prebuild_fa20.sh; P=/tmp/prebuild/fa20; LIB=$P/libawg_fa20.so; fi
say "$(nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,temperature.gpu,power.draw,power.limit --format=csv,noheader 2>/dev/null)"
say "pynvml: $(python3 -c 'import pynvml; print("yes")' 2>&1 | tail -1)"
nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw,temperature.gpu --format=csv -lms 20 > $D/smi.csv 2>&1 &
SMI=$!
HARNESS_ROUNDS=${HARNESS_ROUNDS:-21} PYTHONUNBUFFERED=1 timeout $(($(left) - 30)) python3 bench/cuda/attention_harness.py \
  $LIB $D/harness.txt ${HARNESS_SHAPES:-5,0,8,3,9,2,10,1,4} > $D/harness.log 2>&1
say "attention_harness.py rc=$?"
grep -E '^(==|A |B |B0 |C_|D |E |ours/|P )' $D/harness.log | cut -c1-200 >> $D/summary.txt
pack
WGBENCH_SHAPES=5,0,8 WGBENCH_ROUNDS=5 timeout 12 $P/attention_check wgbench $D/old.csv 63,65,66 > $D/old_bench.log 2>&1
say "old harness: wgbench 63,65,66 on 16k causal, 1k non-causal, 512 causal rc=$?"
ATTN_PEERS=cudnn PYTHONUNBUFFERED=1 timeout $(($(left) - 3)) python3 bench/cuda/attention_peers.py $D/old.csv $D/old_all.csv \
  > $D/old_peers.log 2>&1
say "old harness: attention_peers.py (cuDNN) rc=$?"
grep -E '^\|' $D/old_peers.log | head -12 >> $D/summary.txt
kill $SMI 2>/dev/null
pack
