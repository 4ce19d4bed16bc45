#!/bin/bash
# verify_fa21.sh — device checks of fa21 (issue 14 item 3, kernels_cuda/attention_wg.cu), round 2 (the session's final
# call). Form 74 = 70 (the persistent form with a consumer's items back to back, the auto pick at Nk <= 2k causal /
# 1.5k non-causal) with the grid's last round balanced in non-causal calls (F_KSPL): 70's whole rounds of pairs, then
# the pairs left as single items one a block, then the few items left after that split over the keys (parts merged
# through global slots by the last warp to arrive; not bit-identical). QUANTA_CUDA_ATTN_WG_KSPL=1 (off) routes
# non-causal calls of the persistent pick to 74; with QUANTA_CUDA_ATTN_WG_NC2K=1 (off) that covers 2k non-causal (the
# row this session is about: 63 runs it now). Call 2 (15:09) measured the first version (a plain item walk and a slower
# merge: 74/70 0.997 at 2k non-causal, 0.96 at 1k) and fa21's epilogue forms (72/70 0.86-0.95: research now; 76, the
# voted issue, timed once here). Replaces verify_fa20.sh / prebuild_fa20.sh (prebuild_fa21.sh links
# /tmp/prebuild/fa20/libawg_fa20.so to its library for the lead's verify_harness20.sh). Run after bench/e2e/run_h200.sh
# built Quanta (/tmp/qbuild) and bench/cuda/prebuild_fa21.sh attention_check and libawg_fa21.so. < 55 s (LIMIT).
# Steps, deciding ones first:
#  1. correctness, nothing timed (in parallel): `quanta conform --backend cuda --filter attention` with TILE=74 and the
#     KSPL=1 NC2K=1 auto route; attention_check wg 74 (float64 reference, NaN-poisoned output, also on 3 blocks, where
#     several non-causal cases split) and wgsame 70,76 (76 byte for byte against 70);
#  2. attention_pair.py pass 1: 74, 70, 63 and cuDNN interleaved (21 rounds) on 2k and 1k non-causal: 74/70 (the
#     balance), 74/63 and 70/63 (the NC2K route) per round (median [quartiles, extremes]; > 1: the first faster);
#  3. racecheck / synccheck of 74 (small cases, one splitting on 3 blocks);
#  4. pass 2 (another seed) of the same; then 76/70 on 512 / 1k causal and 2k non-causal (the record of the research form).
set -u
cd "$(dirname "$0")/../.." # the repository root
. bench/common/verifylib.sh fa21 ${LIMIT:-55}
B=${QBUILD:-/tmp/qbuild}
Q=${QUANTA:-$B/tools/quanta}
P=/tmp/prebuild/fa21
BIN=$P/attention_check
LIB=$P/libawg_fa21.so
FORMS=${FA21_FORMS:-74,70,63}
SHAPES=${FA21_SHAPES:-9,0} # 2k nc, 1k nc
VS=74:70,74:63,70:63
say "$(nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv,noheader 2>/dev/null)"
if [ ! -x $BIN ] || [ ! -f $LIB ]; then # no prebuild ran (or it failed): build here (cuts into the budget)
  bash bench/cuda/prebuild_fa21.sh
  say "attention_check built here: $(cat $P/build.rc 2>/dev/null) ($(el) s)"
fi
[ -x $BIN ] || { tail -5 $P/build.log 2>/dev/null | tee -a $D/summary.txt; say "no attention_check: VERDICT incomplete"; VERDICT=incomplete; }
grep -E "C75[0-9][0-9]" $P/build.log 2>/dev/null | grep -v C7519 | head -3 | cut -c1-200 | tee -a $D/summary.txt
# 1. correctness
T=14
PIDS=""
if [ -x $Q ]; then
  for t in 74 auto; do
    ( if [ $t = auto ]; then env -u QUANTA_CUDA_ATTN_WG_TILE QUANTA_CUDA_ATTN_WG=2 QUANTA_CUDA_ATTN_WG_KSPL=1 QUANTA_CUDA_ATTN_WG_NC2K=1 timeout $T $Q conform --backend cuda --filter attention
      else QUANTA_CUDA_ATTN_WG_TILE=$t QUANTA_CUDA_ATTN_WG=2 timeout $T $Q conform --backend cuda --filter attention; fi \
        > $D/conform_$t.log 2>&1; echo $? > $D/conform_$t.rc ) &
    PIDS="$PIDS $!"
  done
else
  say "no $Q: conformance skipped"; VERDICT=incomplete
fi
if [ -x $BIN ]; then
  ( QUANTA_TEST_SEED=2140 timeout $T $BIN wg 74 > $D/check_wg.log 2>&1; echo $? > $D/check_wg.rc ) & PIDS="$PIDS $!"
  ( QUANTA_TEST_SEED=2141 timeout $T $BIN wgsame 70,76 > $D/check_same.log 2>&1; echo $? > $D/check_same.rc ) & PIDS="$PIDS $!"
fi
wait $PIDS
for t in 74 auto; do
  [ -f $D/conform_$t.rc ] || continue
  rc=$(cat $D/conform_$t.rc)
  say "conform WG=2 $([ $t = auto ] && echo 'auto, KSPL=1 NC2K=1' || echo "TILE=$t") rc=$rc: $(grep -E '^total' $D/conform_$t.log)"
  grep -E '^FAIL' $D/conform_$t.log | head -3 | cut -c1-200 | tee -a $D/summary.txt
  [ "$rc" = 0 ] || VERDICT=FAIL
done
for w in wg same; do
  [ -f $D/check_$w.rc ] || continue
  rc=$(cat $D/check_$w.rc)
  say "check $([ $w = same ] && echo 'wgsame 70,76' || echo 'wg 74') rc=$rc: $(grep -m1 '^seed' $D/check_$w.log); $(tail -n 1 $D/check_$w.log | cut -c1-200)"
  grep -E "^FAIL|^NOTE|^wgsame|^wg variants|device is in an error" $D/check_$w.log | cut -c1-240 | head -8 | tee -a $D/summary.txt
  # (76 is research: its wgsame result is recorded, not part of the verdict)
  [ "$rc" = 0 ] || [ $w = same ] || VERDICT=FAIL
done
pack
# (a hang in the check is most likely the split form's cross-block merge: time the others only)
if [ "$(cat $D/check_wg.rc 2>/dev/null)" = 124 ]; then
  FORMS=70,63 VS=70:63; say "wg check timed out: 74 left out of the timing"
fi
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
pair 1 2140 $SHAPES $(($(left) - 20))
# 3. sanitizers (the flip rule needs them)
if [ -x $BIN ] && command -v compute-sanitizer >/dev/null 2>&1 && [ $(left) -gt 8 ]; then
  for tool in racecheck synccheck; do
    timeout $(( $(left) > 24 ? 8 : 4 )) compute-sanitizer --tool $tool $BIN wgsmall 74 > $D/san_$tool.log 2>&1
    say "compute-sanitizer $tool wgsmall 74 rc=$?: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $D/san_$tool.log | head -2 | tr '\n' ' ')"
    grep -qE '(ERROR SUMMARY: [1-9]|RACECHECK SUMMARY: [1-9])' $D/san_$tool.log && VERDICT=FAIL
  done
  pack
fi
# 4. the second pass, then the research form's record
[ $(left) -gt 10 ] && pair 2 $((RANDOM + 2)) $SHAPES $(($(left) - 8)) $FORMS
[ $(left) -gt 8 ] && pair 3 $((RANDOM + 3)) 8,3,9 $(($(left) - 2)) 76,70 76:70
say "VERDICT $VERDICT"
pack
