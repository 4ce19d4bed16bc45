#!/bin/bash
# verify_fa19.sh — device checks of fa19 (issue 14 item 3, kernels_cuda/attention_wg.cu): forms 58 / 60 / 61 = the auto
# pick's 41 / 44 / 47 with the tile before's P . V issued in two halves, the second after the row max (F_PVH, switch
# QUANTA_CUDA_ATTN_WG_PVH=1, off), and ours vs cuDNN timed interleaved in one process (bench/cuda/attention_pair.py).
# Run after bench/e2e/run_h200.sh built Quanta (/tmp/qbuild) and bench/cuda/prebuild_fa19.sh attention_check and
# libawg_fa19.so. < 55 s (LIMIT). Steps, deciding ones first:
#  1. correctness of 58 / 60 / 61, side by side, nothing timed: `quanta conform --backend cuda --filter attention`
#     with QUANTA_CUDA_ATTN_WG=2 and TILE 58, 60, 61 forced and with QUANTA_CUDA_ATTN_WG_PVH=1 (the auto pick's
#     route); attention_check wg 58,60,61,62,63 (62 / 63: 58 with a quarter / three quarters of P . V before the
#     S wait; float64 reference, NaN-poisoned output; 61 also on 3 blocks) and wg 0
#     under PVH=1 (the engine entry's dispatch cases);
#  2. attention_pair.py: auto pick (0), 41, 44, 47, 58, 60, 61, 62, 63 and cuDNN in rounds of one ~1 ms sample each, order
#     rotated / reversed per round, 21 rounds, on the 13 wgbench shapes, the farthest rows first (2k non-causal,
#     512 causal, 8k non-causal); per row the median TFLOP/s, the x-cuDNN ratio per round (median [quartiles,
#     extremes]) and 58/41, 60/44, 61/47, 62/41, 63/41 (and 47/41, 44/41: the auto pick's bounds) per round the
#     same way (> 1: the first faster);
#  3. the traces of 41 (55) and 58 (59): cycles a step of block 0's consumer loop, 2k / 8k / 16k non-causal, 4k / 512
#     / 1k causal; and of 47 across its items (64: the item boundary's gap, an item's first tile, for 512-1k causal);
#  4. ncu (speed of light, warp states) of 41 and 58 on 2k non-causal; a second attention_pair pass (other seed)
#     if time is left; racecheck / synccheck of 58 and 61 on the small cases last.
set -u
cd "$(dirname "$0")/../.." # the repository root
. bench/common/verifylib.sh fa19 ${LIMIT:-55}
B=${QBUILD:-/tmp/qbuild}
Q=${QUANTA:-$B/tools/quanta}
P=/tmp/prebuild/fa19
BIN=$P/attention_check
LIB=$P/libawg_fa19.so
FORMS=${FA19_FORMS:-0,41,44,47,58,60,61,62,63}
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
  for t in 58 60 61 pvh; do
    ( if [ $t = pvh ]; then env -u QUANTA_CUDA_ATTN_WG_TILE QUANTA_CUDA_ATTN_WG=2 QUANTA_CUDA_ATTN_WG_PVH=1 timeout $T $Q conform --backend cuda --filter attention
      else env QUANTA_CUDA_ATTN_WG=2 QUANTA_CUDA_ATTN_WG_TILE=$t timeout $T $Q conform --backend cuda --filter attention; fi \
        > $D/conform_$t.log 2>&1; echo $? > $D/conform_$t.rc ) &
    PIDS="$PIDS $!"
  done
else
  say "no $Q: conformance skipped"; VERDICT=incomplete
fi
if [ -x $BIN ]; then
  ( timeout $T $BIN wg 58,60,61,62,63 > $D/check_h.log 2>&1; echo $? > $D/check_h.rc ) & PIDS="$PIDS $!"
  ( QUANTA_CUDA_ATTN_WG_PVH=1 timeout $T $BIN wg 0 > $D/check_0.log 2>&1; echo $? > $D/check_0.rc ) & PIDS="$PIDS $!"
fi
wait $PIDS
for t in 58 60 61 pvh; do
  [ -f $D/conform_$t.rc ] || continue
  rc=$(cat $D/conform_$t.rc)
  say "conform WG=2 $([ $t = pvh ] && echo 'PVH=1 auto pick' || echo TILE=$t) rc=$rc: $(grep -E '^total' $D/conform_$t.log)"
  grep -E '^FAIL' $D/conform_$t.log | head -3 | cut -c1-200 | tee -a $D/summary.txt
  [ "$rc" = 0 ] || VERDICT=FAIL
done
for w in h 0; do
  [ -f $D/check_$w.rc ] || continue
  rc=$(cat $D/check_$w.rc)
  say "check wg $([ $w = h ] && echo 58,60,61,62,63 || echo '0 (PVH=1)') rc=$rc: $(grep -m1 '^seed' $D/check_$w.log); $(tail -n 1 $D/check_$w.log | cut -c1-200)"
  grep -E "^FAIL|^NOTE|^wg variants|device is in an error" $D/check_$w.log | cut -c1-240 | head -8 | tee -a $D/summary.txt
  [ "$rc" = 0 ] || VERDICT=FAIL
done
pack
# 2. ours and cuDNN interleaved
pair() { # pair N SEED
  [ -f $LIB ] || { say "no $LIB: pair skipped"; VERDICT=incomplete; return; }
  PAIR_VS=58:41,60:44,61:47,62:41,63:41,47:41,44:41 QUANTA_TEST_SEED=$2 PYTHONUNBUFFERED=1 timeout ${3:-30} python3 bench/cuda/attention_pair.py \
    $LIB $D/pair$1.csv $FORMS $SHAPES > $D/pair$1.log 2>&1
  local rc=$?
  say "attention_pair pass $1 rc=$rc ($(head -1 $D/pair$1.log | cut -c1-120))"
  grep -E '^(pair|vs|FAIL|outputs)' $D/pair$1.log | tee -a $D/summary.txt
  [ $rc = 0 ] || [ $rc = 124 ] || VERDICT=FAIL
  pack
}
pair 1 1919 $(($(left) - 12))
# 3. traces (one timed round: the stamps come from one launch after it)
if [ -x $BIN ] && [ $(left) -gt 8 ]; then
  WGBENCH_SHAPES=9,10,2,4,8,3 WGBENCH_ROUNDS=1 timeout 8 $BIN wgbench $D/trace.csv 55,59,64 > $D/trace.log 2>&1
  say "traces of 41 (55), 58 (59) and 47 across its items (64) rc=$?"
  grep -E '^trace' $D/trace.log | tee -a $D/summary.txt
  pack
fi
# 4. ncu, a second pass, the sanitizers, as time allows
if [ -x $BIN ] && command -v ncu >/dev/null 2>&1 && [ $(left) -gt 12 ]; then
  WGBENCH_SHAPES=9 WGBENCH_ROUNDS=0 timeout $(($(left) - 6)) ncu --clock-control none -k regex:attn_wg_kernel -c 4 \
    --section SpeedOfLight --section WarpStateStats --section ComputeWorkloadAnalysis \
    $BIN wgbench $D/ncu.csv 41,58 > $D/ncu.log 2>&1
  say "ncu (2k non-causal: 41 warm-up, timed; 58 warm-up, timed) rc=$?"
  awk '/^ +void attn_wg_kernel/ {k++}
    /^ +(Duration|Elapsed Cycles|SM Active Cycles|Compute \(SM\) Throughput|Issue Slots Busy|Warp Cycles Per Issued Instruction|Executed Ipc Active)/ {
      gsub(/ +/, " "); line[k] = line[k] " |" $0 }
    END {for (i = 1; i <= k; i++) print "ncu launch " i ":" line[i]}' $D/ncu.log | tee -a $D/summary.txt
  pack
fi
[ $(left) -gt 20 ] && pair 2 $((RANDOM + 2)) $(($(left) - 4))
if [ -x $BIN ] && command -v compute-sanitizer >/dev/null 2>&1 && [ $(left) -gt 10 ]; then
  for tool in racecheck synccheck; do
    [ $(left) -gt 5 ] || break
    timeout $(($(left) - 2)) compute-sanitizer --tool $tool $BIN wgsmall 58,61 > $D/san_$tool.log 2>&1
    say "$tool wgsmall 58,61 rc=$?: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|hazard' $D/san_$tool.log | head -2 | tr '\n' ' ')"
  done
fi
say "VERDICT $VERDICT"
pack
