#!/bin/bash
# verify_fa19.sh — device checks of fa19 (issue 14 item 3, kernels_cuda/attention_wg.cu), round 2 (after call 2, H100
# 09:30: 63 = 41 with six of P . V's eight k16 steps issued with Q . K^T and the last two after the row max ran
# 1.016-1.042x 41 per round on all 13 rows; the halves (58 / 60 / 61) +-0 / -1.5% / +1.5%, a quarter (62) -5%):
# forms 63 / 65 / 66 = the auto pick's 41 / 44 / 47 with that split (F_PVH | F_PVHI; switch QUANTA_CUDA_ATTN_WG_PVH=1,
# off), 67 / 68 = 41 split at 7 / 8 and 5 / 8, and ours vs cuDNN timed interleaved in one process
# (bench/cuda/attention_pair.py). Run after bench/e2e/run_h200.sh built Quanta (/tmp/qbuild) and
# bench/cuda/prebuild_fa19.sh attention_check and libawg_fa19.so. < 55 s (LIMIT). Steps, deciding ones first:
#  1. correctness of 63 / 65 / 66, side by side, nothing timed: `quanta conform --backend cuda --filter attention`
#     with QUANTA_CUDA_ATTN_WG=2 and TILE 63, 65, 66 forced and with QUANTA_CUDA_ATTN_WG_PVH=1 (the auto pick's
#     route); attention_check wg 63,65,66,67,68 (float64 reference, NaN-poisoned output; 66 also on 3 blocks) and
#     wg 0 under PVH=1 (the engine entry's dispatch cases);
#  2. attention_pair.py: auto pick (0), 41, 44, 47, 63, 65, 66, 67, 68, 61 and cuDNN in rounds of one ~1 ms sample
#     each, order rotated / reversed per round, 21 rounds, on the 13 wgbench shapes, the farthest rows first (2k
#     non-causal, 512 causal, 8k non-causal); per row the median TFLOP/s, the x-cuDNN ratio per round (median
#     [quartiles, extremes]) and 63/41, 65/44, 66/47, 67/41, 68/41, 61/47 (and 47/41, 44/41: the auto pick's bounds)
#     per round the same way (> 1: the first faster);
#  3. the old harness on the same machine (attention_check wgbench 41,44,47 then attention_peers.py's cuDNN, two
#     processes) on 16k causal, 1k non-causal and 512 causal: call 2's pair read cuDNN 573 TFLOP/s at 16k causal
#     where earlier calls' attention_peers read ~648 — same machine, both harnesses, to tell a machine from a harness;
#  4. traces (41: 55, 63: 69, 47 across its items: 64) on 16k non-causal and 512 causal; a second attention_pair
#     pass (other seed) if time is left; racecheck / synccheck of 63 and 66 on the small cases; ncu of 41 and 63
#     on 2k non-causal last.
set -u
cd "$(dirname "$0")/../.." # the repository root
. bench/common/verifylib.sh fa19 ${LIMIT:-55}
B=${QBUILD:-/tmp/qbuild}
Q=${QUANTA:-$B/tools/quanta}
P=/tmp/prebuild/fa19
BIN=$P/attention_check
LIB=$P/libawg_fa19.so
FORMS=${FA19_FORMS:-0,41,44,47,63,65,66,67,68,61}
SHAPES=${FA19_SHAPES:-9,8,10,0,1,2,3,4,5,6,7,11,12}
say "$(nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv,noheader 2>/dev/null)"
if [ ! -x $BIN ] || [ ! -f $LIB ]; then # no prebuild ran (or it failed): build here (cuts into the budget)
  bash bench/cuda/prebuild_fa19.sh
  say "attention_check built here: $(cat $P/build.rc 2>/dev/null) ($(el) s)"
fi
[ -x $BIN ] || { tail -5 $P/build.log 2>/dev/null | tee -a $D/summary.txt; say "no attention_check: VERDICT incomplete"; VERDICT=incomplete; }
grep -E 'C75[0-9][0-9]|spill' $P/build.log 2>/dev/null | grep -v ' 0 bytes spill' | sort | uniq -c | head -6 > $D/ptxas_notes.txt
say "ptxas lines with spills or wgmma serialization (C75xx): $(wc -l < $D/ptxas_notes.txt)"
# 1. correctness
T=14
PIDS=""
if [ -x $Q ]; then
  for t in 63 65 66 pvh; do
    ( if [ $t = pvh ]; then env -u QUANTA_CUDA_ATTN_WG_TILE QUANTA_CUDA_ATTN_WG=2 QUANTA_CUDA_ATTN_WG_PVH=1 timeout $T $Q conform --backend cuda --filter attention
      else env QUANTA_CUDA_ATTN_WG=2 QUANTA_CUDA_ATTN_WG_TILE=$t timeout $T $Q conform --backend cuda --filter attention; fi \
        > $D/conform_$t.log 2>&1; echo $? > $D/conform_$t.rc ) &
    PIDS="$PIDS $!"
  done
else
  say "no $Q: conformance skipped"; VERDICT=incomplete
fi
if [ -x $BIN ]; then
  ( timeout $T $BIN wg 63,65,66,67,68 > $D/check_h.log 2>&1; echo $? > $D/check_h.rc ) & PIDS="$PIDS $!"
  ( QUANTA_CUDA_ATTN_WG_PVH=1 timeout $T $BIN wg 0 > $D/check_0.log 2>&1; echo $? > $D/check_0.rc ) & PIDS="$PIDS $!"
fi
wait $PIDS
for t in 63 65 66 pvh; do
  [ -f $D/conform_$t.rc ] || continue
  rc=$(cat $D/conform_$t.rc)
  say "conform WG=2 $([ $t = pvh ] && echo 'PVH=1 auto pick' || echo TILE=$t) rc=$rc: $(grep -E '^total' $D/conform_$t.log)"
  grep -E '^FAIL' $D/conform_$t.log | head -3 | cut -c1-200 | tee -a $D/summary.txt
  [ "$rc" = 0 ] || VERDICT=FAIL
done
for w in h 0; do
  [ -f $D/check_$w.rc ] || continue
  rc=$(cat $D/check_$w.rc)
  say "check wg $([ $w = h ] && echo 63,65,66,67,68 || echo '0 (PVH=1)') rc=$rc: $(grep -m1 '^seed' $D/check_$w.log); $(tail -n 1 $D/check_$w.log | cut -c1-200)"
  grep -E "^FAIL|^NOTE|^wg variants|device is in an error" $D/check_$w.log | cut -c1-240 | head -8 | tee -a $D/summary.txt
  [ "$rc" = 0 ] || VERDICT=FAIL
done
pack
# 2. ours and cuDNN interleaved
pair() { # pair N SEED
  [ -f $LIB ] || { say "no $LIB: pair skipped"; VERDICT=incomplete; return; }
  PAIR_VS=63:41,65:44,66:47,67:41,68:41,61:47,47:41,44:41 QUANTA_TEST_SEED=$2 PYTHONUNBUFFERED=1 timeout ${3:-30} python3 bench/cuda/attention_pair.py \
    $LIB $D/pair$1.csv $FORMS $SHAPES > $D/pair$1.log 2>&1
  local rc=$?
  say "attention_pair pass $1 rc=$rc ($(head -1 $D/pair$1.log | cut -c1-120))"
  grep -E '^(pair|vs|FAIL|outputs)' $D/pair$1.log | tee -a $D/summary.txt
  [ $rc = 0 ] || [ $rc = 124 ] || VERDICT=FAIL
  pack
}
pair 1 1919 $(($(left) - 12))
# 3. the old harness, same machine: ours by attention_check wgbench (~2 ms samples, 5 rounds), then cuDNN by
#    attention_peers.py in a second process
if [ -x $BIN ] && [ $(left) -gt 14 ]; then
  WGBENCH_SHAPES=5,0,8 WGBENCH_ROUNDS=5 timeout 8 $BIN wgbench $D/old.csv 41,44,47 > $D/old_bench.log 2>&1
  say "old harness: wgbench 41,44,47 on 16k causal, 1k non-causal, 512 causal rc=$?"
  ATTN_PEERS=cudnn PYTHONUNBUFFERED=1 timeout $(($(left) - 4)) python3 bench/cuda/attention_peers.py $D/old.csv $D/old_all.csv \
    > $D/old_peers.log 2>&1
  say "old harness: attention_peers.py (cuDNN) rc=$?"
  grep -E '^measured' $D/old_peers.log | sed -E "s/^measured \('prefill', '([a-z0-9]+)', 128, [0-9]+, ([0-9]+), ([0-9]+), ([0-9]+), [0-9]+, ([01]), 0\)/old cudnn \1 \2\/\3 N=\4 c=\5/" \
    | tee -a $D/summary.txt
  sed -n '/^| kind | dtype | B /,$p' $D/old_peers.log | cut -d'|' -f3,5,6,7,9,10,11 | tee -a $D/summary.txt
  pack
fi
# 4. traces (one timed round: the stamps come from one launch after it), a second pass, sanitizers, ncu
if [ -x $BIN ] && [ $(left) -gt 8 ]; then
  WGBENCH_SHAPES=2,8 WGBENCH_ROUNDS=1 timeout 6 $BIN wgbench $D/trace.csv 55,69,64 > $D/trace.log 2>&1
  say "traces of 41 (55), 63 (69) and 47 across its items (64) rc=$?"
  grep -E '^trace' $D/trace.log | tee -a $D/summary.txt
  pack
fi
[ $(left) -gt 22 ] && pair 2 $((RANDOM + 2)) $(($(left) - 6))
if [ -x $BIN ] && command -v compute-sanitizer >/dev/null 2>&1 && [ $(left) -gt 8 ]; then
  for tool in racecheck synccheck; do
    [ $(left) -gt 4 ] || break
    timeout $(($(left) - 2)) compute-sanitizer --tool $tool $BIN wgsmall 63,66 > $D/san_$tool.log 2>&1
    say "$tool wgsmall 63,66 rc=$?: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|hazard' $D/san_$tool.log | head -2 | tr '\n' ' ')"
  done
fi
if [ -x $BIN ] && command -v ncu >/dev/null 2>&1 && [ $(left) -gt 10 ]; then
  WGBENCH_SHAPES=9 WGBENCH_ROUNDS=0 timeout $(($(left) - 2)) ncu --clock-control none -k regex:attn_wg_kernel -c 4 \
    --section SpeedOfLight --section WarpStateStats --section ComputeWorkloadAnalysis \
    $BIN wgbench $D/ncu.csv 41,63 > $D/ncu.log 2>&1
  say "ncu (2k non-causal: 41 warm-up, timed; 63 warm-up, timed) rc=$?"
  awk '/^ +void attn_wg_kernel/ {k++}
    /^ +(Duration|Elapsed Cycles|SM Active Cycles|Compute \(SM\) Throughput|Issue Slots Busy|Warp Cycles Per Issued Instruction|Executed Ipc Active)/ {
      gsub(/ +/, " "); line[k] = line[k] " |" $0 }
    END {for (i = 1; i <= k; i++) print "ncu launch " i ":" line[i]}' $D/ncu.log | tee -a $D/summary.txt
  pack
fi
say "VERDICT $VERDICT"
pack
