#!/bin/bash
# verify_fa20.sh — device checks of fa20 (issue 14 item 3, kernels_cuda/attention_wg.cu): form 70 = the auto pick's
# persistent form 66 with a consumer's items back to back (F_B2B: the next item's first Q . K^T issued with the
# current item's last P . V, the epilogue after the next item's first softmax; bit-identical to 66; switch
# QUANTA_CUDA_ATTN_WG_B2B=1, off), 71 = 70 stamped across its items (the trace, as fa19's 64 of 47). Replaces
# verify_fa19.sh (its forms are flipped; prebuild_fa19.sh stays for the lead's verify_harness20.sh). Run after
# bench/e2e/run_h200.sh built Quanta (/tmp/qbuild) and bench/cuda/prebuild_fa20.sh attention_check and
# libawg_fa20.so. < 55 s (LIMIT). Steps, deciding ones first:
#  1. correctness of 70, side by side, nothing timed: `quanta conform --backend cuda --filter attention` with
#     QUANTA_CUDA_ATTN_WG=2 and TILE=70 forced, and with QUANTA_CUDA_ATTN_WG_B2B=1 (the auto pick's route);
#     attention_check wg 70 (float64 reference, NaN-poisoned output, also on 3 blocks: every block chains many
#     items), wgsame 66,70 (every wg case's output byte for byte against 66's, default grid and 3 blocks), wg 0
#     under B2B=1 (the engine entry's dispatch cases);
#  2. attention_pair.py: 66, 70, 63 and cuDNN in rounds of one ~1 ms sample each, order rotated / reversed per
#     round, 21 rounds, on the rows where 66 is the pick or near its bound: 512 / 1k / 2k causal, 1k / 2k
#     non-causal; per row the median TFLOP/s, the x-cuDNN ratio per round and 70/66, 70/63, 66/63 per round
#     (median [quartiles, extremes]; > 1: the first faster);
#  3. racecheck / synccheck of 70 (small cases, default grid and 3 blocks); traces of 47 (64) and 70 (71) across
#     their items on 512 and 1k causal: cycles a tile, the item boundary;
#  4. a second attention_pair pass (other seed, the rows in reverse, then 4k non-causal and causal: 70 against 63
#     past the persistent form's bounds), then the auto pick against cuDNN on the other 8 rows if time is left.
set -u
cd "$(dirname "$0")/../.." # the repository root
. bench/common/verifylib.sh fa20 ${LIMIT:-55}
B=${QBUILD:-/tmp/qbuild}
Q=${QUANTA:-$B/tools/quanta}
P=/tmp/prebuild/fa20
BIN=$P/attention_check
LIB=$P/libawg_fa20.so
FORMS=${FA20_FORMS:-66,70,63}
SHAPES=${FA20_SHAPES:-8,3,0,11,9} # 512 c, 1k c, 1k nc, 2k c, 2k nc
VS=70:66,70:63,66:63
say "$(nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv,noheader 2>/dev/null)"
if [ ! -x $BIN ] || [ ! -f $LIB ]; then # no prebuild ran (or it failed): build here (cuts into the budget)
  bash bench/cuda/prebuild_fa20.sh
  say "attention_check built here: $(cat $P/build.rc 2>/dev/null) ($(el) s)"
fi
[ -x $BIN ] || { tail -5 $P/build.log 2>/dev/null | tee -a $D/summary.txt; say "no attention_check: VERDICT incomplete"; VERDICT=incomplete; }
grep -E 'C75[0-9][0-9]|spill' $P/build.log 2>/dev/null | grep -v ' 0 bytes spill' | sort | uniq -c | head -6 > $D/ptxas_notes.txt
say "ptxas lines with spills or wgmma serialization (C75xx): $(wc -l < $D/ptxas_notes.txt) (main's fallback form 37 spills 112 bytes: 2 lines expected)"
# 1. correctness
T=14
PIDS=""
if [ -x $Q ]; then
  for t in 70 b2b; do
    ( if [ $t = b2b ]; then env -u QUANTA_CUDA_ATTN_WG_TILE QUANTA_CUDA_ATTN_WG=2 QUANTA_CUDA_ATTN_WG_B2B=1 timeout $T $Q conform --backend cuda --filter attention
      else env QUANTA_CUDA_ATTN_WG=2 QUANTA_CUDA_ATTN_WG_TILE=$t timeout $T $Q conform --backend cuda --filter attention; fi \
        > $D/conform_$t.log 2>&1; echo $? > $D/conform_$t.rc ) &
    PIDS="$PIDS $!"
  done
else
  say "no $Q: conformance skipped"; VERDICT=incomplete
fi
if [ -x $BIN ]; then
  ( QUANTA_TEST_SEED=2020 timeout $T $BIN wg 70 > $D/check_70.log 2>&1; echo $? > $D/check_70.rc ) & PIDS="$PIDS $!"
  ( QUANTA_TEST_SEED=2021 timeout $T $BIN wgsame 66,70 > $D/check_same.log 2>&1; echo $? > $D/check_same.rc ) & PIDS="$PIDS $!"
  ( QUANTA_CUDA_ATTN_WG_B2B=1 QUANTA_TEST_SEED=2022 timeout $T $BIN wg 0 > $D/check_0.log 2>&1; echo $? > $D/check_0.rc ) & PIDS="$PIDS $!"
fi
wait $PIDS
for t in 70 b2b; do
  [ -f $D/conform_$t.rc ] || continue
  rc=$(cat $D/conform_$t.rc)
  say "conform WG=2 $([ $t = b2b ] && echo 'B2B=1 auto pick' || echo TILE=$t) rc=$rc: $(grep -E '^total' $D/conform_$t.log)"
  grep -E '^FAIL' $D/conform_$t.log | head -3 | cut -c1-200 | tee -a $D/summary.txt
  [ "$rc" = 0 ] || VERDICT=FAIL
done
for w in 70 same 0; do
  [ -f $D/check_$w.rc ] || continue
  rc=$(cat $D/check_$w.rc)
  say "check $([ $w = same ] && echo 'wgsame 66,70' || { [ $w = 0 ] && echo 'wg 0 (B2B=1)' || echo "wg $w"; }) rc=$rc: $(grep -m1 '^seed' $D/check_$w.log); $(tail -n 1 $D/check_$w.log | cut -c1-200)"
  grep -E "^FAIL|^NOTE|^wg variants|^wgsame|device is in an error" $D/check_$w.log | cut -c1-240 | head -8 | tee -a $D/summary.txt
  [ "$rc" = 0 ] || VERDICT=FAIL
done
pack
# 2. ours and cuDNN interleaved
pair() { # pair N SEED SHAPES [TIMEOUT] [FORMS] [VS]
  [ -f $LIB ] || { say "no $LIB: pair skipped"; VERDICT=incomplete; return; }
  PAIR_VS=${6-$VS} QUANTA_TEST_SEED=$2 PYTHONUNBUFFERED=1 timeout ${4:-30} python3 bench/cuda/attention_pair.py \
    $LIB $D/pair$1.csv ${5:-$FORMS} $3 > $D/pair$1.log 2>&1
  local rc=$?
  say "attention_pair pass $1 rc=$rc ($(head -1 $D/pair$1.log | cut -c1-120))"
  grep -E '^(pair|vs|FAIL|outputs)' $D/pair$1.log | tee -a $D/summary.txt
  [ $rc = 0 ] || [ $rc = 124 ] || VERDICT=FAIL
  pack
}
pair 1 2020 $SHAPES $(($(left) - 14))
# 3. sanitizers (the flip rule needs them), then the traces (one timed round: the stamps come from one launch
#    after it)
if [ -x $BIN ] && command -v compute-sanitizer >/dev/null 2>&1 && [ $(left) -gt 12 ]; then
  for tool in racecheck synccheck; do
    [ $(left) -gt 8 ] || break
    timeout $(($(left) - 6)) compute-sanitizer --tool $tool $BIN wgsmall 70 > $D/san_$tool.log 2>&1
    say "$tool wgsmall 70 (and grid3) rc=$?: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|hazard' $D/san_$tool.log | head -2 | tr '\n' ' ')"
  done
fi
pack
if [ -x $BIN ] && [ $(left) -gt 8 ]; then
  WGBENCH_SHAPES=8,3 WGBENCH_ROUNDS=1 timeout 6 $BIN wgbench $D/trace.csv 64,71 > $D/trace.log 2>&1
  say "traces of 47 (64) and 70 (71) across their items, 512 and 1k causal rc=$?"
  grep -E '^trace' $D/trace.log | tee -a $D/summary.txt
  pack
fi
# 4. a second pass, the other rows
# (pass 2 adds 4k non-causal / causal: where 70 stands against 63 past the persistent form's bounds)
[ $(left) -gt 20 ] && pair 2 $((RANDOM + 2)) $(echo $SHAPES | tr ',' '\n' | tac | paste -sd,),1,4 $(($(left) - 8))
[ $(left) -gt 12 ] && pair 3 $((RANDOM + 3)) 1,10,2,4,12,5,6,7 $(($(left) - 2)) 0 ""
say "VERDICT $VERDICT"
pack
