#!/bin/bash
# verify_fa14.sh — device checks of the wgmma prefill attention (kernels_cuda/attention_wg.cu, issue 14, fa14), run
# after bench/e2e/run_h200.sh has built Quanta (/tmp/qbuild) and bench/cuda/prebuild_fa13.sh attention_check (the
# same binary serves both scripts: it is built from the tree of the call). At most ~60 s. Steps, deciding rows first:
#  1. attention_check wgbench (alone on the GPU): hd128 prefill, bf16 B x 32 heads x N = 512k rows, causal and
#     not at 1k / 4k / 16k, f16 4k causal, GQA 32/8 4k causal, 512 causal: the forms now picked (21, 24), 20 (21
#     without ping-pong: ahead at 16k at 16:17), 26 and 27 (fa13, bit-identical rescale / mask shortcuts), the new
#     ones 28 (E: first tiles before Q), 29 (E + clusters of 2 with K/V multicast), 30 (27 + E), 31 (29 + 26's
#     shortcuts), 32 (29 in clusters of 4), 33 (30 with Q copied into registers at an item's start, the next Q
#     loaded under the item), 34 (20 + E + clusters of 2), 35 / 36 (21 with 26's mask / rescale shortcut alone);
#     per shape one setup, the forms timed in turns (5 rounds, ~2 ms of back-to-back launches a sample, median);
#  2. attention_peers.py on those shapes: torch SDPA's cuDNN backend in the same call, every form / cuDNN;
#  3. correctness, all at once (processes side by side, nothing timed): `quanta conform --backend cuda --filter
#     attention` with QUANTA_CUDA_ATTN_WG=2 (every call the wgmma kernel takes) and each new form as
#     QUANTA_CUDA_ATTN_WG_TILE, and with the auto pick; attention_check wg on 28-34 (float64 reference,
#     NaN-poisoned output, seed printed; the persistent 30, 33 also on 3 blocks); compute-sanitizer racecheck and
#     synccheck on the small cases (causal GQA, mask + kv_lens, a window: in pairs the later block skips a tile).
set -u
cd "$(dirname "$0")/../.." # the repository root
. bench/common/verifylib.sh fa14 ${LIMIT:-60}
B=${QBUILD:-/tmp/qbuild}
Q=${QUANTA:-$B/tools/quanta}
P=/tmp/prebuild/fa13
BIN=$P/attention_check
NEW="28,29,30,31,32,33,34"
BENCH="20,21,24,26,27,28,29,30,31,32,33,34,35,36"
say "$(nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader 2>/dev/null)"
if [ ! -x $BIN ]; then # no prebuild ran (or it failed): build here, in the budget
  bash bench/cuda/prebuild_fa13.sh
  say "attention_check built here: $(cat $P/build.rc 2>/dev/null) ($(el) s)"
fi
[ -x $BIN ] || { tail -5 $P/build.log 2>/dev/null | tee -a $D/summary.txt; say "no attention_check: VERDICT incomplete"; VERDICT=incomplete; }
if [ -x $BIN ]; then
  timeout 20 $BIN wgbench $D/wg.csv $BENCH > $D/bench.log 2>&1
  say "wgbench rc=$? (20 s at most)"
  grep -E "^prefill" $D/bench.log | cut -c1-120 | tee -a $D/summary.txt
fi
pack
if [ -f $D/wg.csv ]; then
  ATTN_PEERS=cudnn PYTHONUNBUFFERED=1 timeout 16 python3 bench/cuda/attention_peers.py $D/wg.csv $D/all.csv \
    > $D/peers.log 2>&1
  say "peers rc=$?"
  sed -n '/^| kind | dtype | B /,$p' $D/peers.log | grep -vE '\| default \|' | tee -a $D/summary.txt
fi
pack
T=$(($(left) - 4)); [ $T -gt 26 ] && T=26
if [ $T -lt 8 ]; then say "correctness skipped (time): VERDICT incomplete"; VERDICT=incomplete; say "VERDICT $VERDICT"; pack; exit 0; fi
PIDS=""
if [ -x $Q ]; then
  for t in auto 28 29 30 31 32 33 34; do
    ( if [ $t = auto ]; then env QUANTA_CUDA_ATTN_WG=2 timeout $T $Q conform --backend cuda --filter attention
      else env QUANTA_CUDA_ATTN_WG=2 QUANTA_CUDA_ATTN_WG_TILE=$t timeout $T $Q conform --backend cuda --filter attention; fi \
        > $D/conform_$t.log 2>&1; echo $? > $D/conform_$t.rc ) &
    PIDS="$PIDS $!"
  done
else
  say "no $Q: conformance skipped"; VERDICT=incomplete
fi
if [ -x $BIN ]; then
  ( timeout $T $BIN wg 28,29,30 > $D/check_a.log 2>&1; echo $? > $D/check_a.rc ) & PIDS="$PIDS $!"
  ( timeout $T $BIN wg 31,32,33,34 > $D/check_b.log 2>&1; echo $? > $D/check_b.rc ) & PIDS="$PIDS $!"
  if command -v compute-sanitizer >/dev/null 2>&1; then
    for tool in racecheck synccheck; do
      ( timeout $T compute-sanitizer --tool $tool $BIN wgsmall $NEW > $D/$tool.log 2>&1; echo $? > $D/$tool.rc ) &
      PIDS="$PIDS $!"
    done
  fi
fi
wait $PIDS
for t in auto 28 29 30 31 32 33 34; do
  [ -f $D/conform_$t.rc ] || continue
  rc=$(cat $D/conform_$t.rc)
  say "conform WG=2 TILE=$t rc=$rc: $(grep -E '^total' $D/conform_$t.log)"
  grep -E '^FAIL' $D/conform_$t.log | head -3 | cut -c1-200 | tee -a $D/summary.txt
  [ "$rc" = 0 ] || VERDICT=FAIL
done
for c in a b; do
  [ -f $D/check_$c.rc ] || continue
  rc=$(cat $D/check_$c.rc)
  say "check $c rc=$rc: $(grep -m1 '^seed' $D/check_$c.log); $(tail -n 1 $D/check_$c.log | cut -c1-200)"
  grep -E "^FAIL|^wg variants|device is in an error" $D/check_$c.log | cut -c1-240 | head -8 | tee -a $D/summary.txt
  [ "$rc" = 0 ] || VERDICT=FAIL
done
for tool in racecheck synccheck; do
  [ -f $D/$tool.rc ] || continue
  say "$tool (wgsmall $NEW) rc=$(cat $D/$tool.rc): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|hazard' $D/$tool.log | tail -2 | tr '\n' ' ')"
  [ "$(cat $D/$tool.rc)" = 0 ] || VERDICT=FAIL
done
say "VERDICT $VERDICT"
pack
