#!/bin/bash
# verify_fa20.sh — device checks of fa20 (issue 14 item 3, kernels_cuda/attention_wg.cu), round 2 (the session's final
# call): form 70 = the persistent form 66 with a consumer's items back to back (F_B2B; bit-identical to 66: call 2,
# 12:37, wgsame 56 of 56 byte-identical) is the auto pick's since call 2 (QUANTA_CUDA_ATTN_WG_B2B on; =0 runs 66:
# 70/66 1.021-1.034 at 512 / 1k / 2k causal, 1.000-1.013 non-causal); QUANTA_CUDA_ATTN_WG_NC2K=1 (off) moves the
# persistent form's non-causal bound 1536 -> 2048 (70 instead of 63 at 2k non-causal: 70/63 1.020 / 1.007 in call 2's
# passes). Replaces verify_fa19.sh and prebuild_fa19.sh (the lead's verify_harness20.sh uses prebuild_fa20.sh's library). Run after
# bench/e2e/run_h200.sh built Quanta (/tmp/qbuild) and bench/cuda/prebuild_fa20.sh attention_check and
# libawg_fa20.so. < 55 s (LIMIT). Steps, deciding ones first:
#  1. the flipped default, nothing timed: `quanta conform --backend cuda --filter attention` with QUANTA_CUDA_ATTN_WG=2
#     (the auto pick: 70 at Nk <= 2k causal / 1.5k non-causal) and with NC2K=1; attention_check wg 0 (the engine
#     entry's dispatch) and wgsame 66,70 (every wg case byte for byte, default grid and 3 blocks) on the merged tree;
#  2. attention_pair.py pass 1: the auto pick (0), 66, 70, 63 and cuDNN interleaved (21 rounds) on 2k non-causal (the
#     NC2K decision) first, then 512 / 1k / 2k causal and 1k non-causal: 0/66 (the flip, before / after), 70/63,
#     66/63 per round (median [quartiles, extremes]; > 1: the first faster), each against cuDNN;
#  3. pass 2 (other seed) at 2k non-causal and 1k non-causal (NC2K's rule needs both passes there);
#  4. the auto pick against cuDNN on the other 8 rows, if time is left.
set -u
cd "$(dirname "$0")/../.." # the repository root
. bench/common/verifylib.sh fa20 ${LIMIT:-55}
B=${QBUILD:-/tmp/qbuild}
Q=${QUANTA:-$B/tools/quanta}
P=/tmp/prebuild/fa20
BIN=$P/attention_check
LIB=$P/libawg_fa20.so
FORMS=${FA20_FORMS:-0,66,70,63}
SHAPES=${FA20_SHAPES:-9,8,3,0,11} # 2k nc, 512 c, 1k c, 1k nc, 2k c
VS=0:66,70:63,66:63
say "$(nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv,noheader 2>/dev/null)"
if [ ! -x $BIN ] || [ ! -f $LIB ]; then # no prebuild ran (or it failed): build here (cuts into the budget)
  bash bench/cuda/prebuild_fa20.sh
  say "attention_check built here: $(cat $P/build.rc 2>/dev/null) ($(el) s)"
fi
[ -x $BIN ] || { tail -5 $P/build.log 2>/dev/null | tee -a $D/summary.txt; say "no attention_check: VERDICT incomplete"; VERDICT=incomplete; }
# 1. correctness of the flipped default
T=14
PIDS=""
if [ -x $Q ]; then
  for t in auto nc2k; do
    ( if [ $t = nc2k ]; then env -u QUANTA_CUDA_ATTN_WG_TILE QUANTA_CUDA_ATTN_WG=2 QUANTA_CUDA_ATTN_WG_NC2K=1 timeout $T $Q conform --backend cuda --filter attention
      else env -u QUANTA_CUDA_ATTN_WG_TILE -u QUANTA_CUDA_ATTN_WG_B2B QUANTA_CUDA_ATTN_WG=2 timeout $T $Q conform --backend cuda --filter attention; fi \
        > $D/conform_$t.log 2>&1; echo $? > $D/conform_$t.rc ) &
    PIDS="$PIDS $!"
  done
else
  say "no $Q: conformance skipped"; VERDICT=incomplete
fi
if [ -x $BIN ]; then
  ( QUANTA_TEST_SEED=2030 timeout $T $BIN wg 0 > $D/check_0.log 2>&1; echo $? > $D/check_0.rc ) & PIDS="$PIDS $!"
  ( QUANTA_TEST_SEED=2031 timeout $T $BIN wgsame 66,70 > $D/check_same.log 2>&1; echo $? > $D/check_same.rc ) & PIDS="$PIDS $!"
fi
wait $PIDS
for t in auto nc2k; do
  [ -f $D/conform_$t.rc ] || continue
  rc=$(cat $D/conform_$t.rc)
  say "conform WG=2 $([ $t = nc2k ] && echo 'NC2K=1' || echo 'default (B2B on)') rc=$rc: $(grep -E '^total' $D/conform_$t.log)"
  grep -E '^FAIL' $D/conform_$t.log | head -3 | cut -c1-200 | tee -a $D/summary.txt
  [ "$rc" = 0 ] || VERDICT=FAIL
done
for w in 0 same; do
  [ -f $D/check_$w.rc ] || continue
  rc=$(cat $D/check_$w.rc)
  say "check $([ $w = same ] && echo 'wgsame 66,70' || echo 'wg 0 (default dispatch)') rc=$rc: $(grep -m1 '^seed' $D/check_$w.log); $(tail -n 1 $D/check_$w.log | cut -c1-200)"
  grep -E "^FAIL|^NOTE|^wgsame|device is in an error" $D/check_$w.log | cut -c1-240 | head -8 | tee -a $D/summary.txt
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
pair 1 2030 $SHAPES $(($(left) - 10))
# 3. NC2K's second pass
[ $(left) -gt 10 ] && pair 2 $((RANDOM + 2)) 9,0 $(($(left) - 4))
# 4. the other rows
[ $(left) -gt 12 ] && pair 3 $((RANDOM + 3)) 1,10,2,4,12,5,6,7 $(($(left) - 2)) 0 ""
say "VERDICT $VERDICT"
pack
