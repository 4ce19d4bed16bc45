#!/bin/bash
# verify_fa13.sh — device checks of the wgmma prefill attention (kernels_cuda/attention_wg.cu, issue 14, fa13), run
# after bench/e2e/run_h200.sh has built Quanta (/tmp/qbuild) and bench/cuda/prebuild_fa13.sh attention_check.
# At most ~78 s (round 1, 13:12: 28 s). Round 2 keeps to what decides the defaults. Steps:
#  1. correctness, all at once (processes side by side on the GPU: none of this is timed):
#     - `quanta conform --backend cuda --filter attention` with the default (QUANTA_CUDA_ATTN_WG unset: now 1),
#       QUANTA_CUDA_ATTN_WG=2 (every call the wgmma kernel takes) with the auto pick, and =2 with each form
#       QUANTA_CUDA_ATTN_WG_TILE=16 (the TMA forms' fallback under kv_lens), 21, 24 (the auto picks), 25-27 (new);
#     - attention_check wg: those forms against a float64 reference (NaN-poisoned output, seed printed) on hd128
#       shapes (causal or not, 1k-16k, rows/keys off the tiles, GQA 1-32, window, masks, kv_lens; the persistent
#       forms also on 3 blocks), and (variant 0) the engine's entry under QUANTA_CUDA_ATTN_WG=1;
#     - compute-sanitizer racecheck and synccheck on two small cases of 21, 24, 25, 26, 27;
#  2. attention_check wgbench (alone on the GPU): hd128 prefill, causal and not, 1k / 4k / 16k (B x 32 heads x N =
#     512k rows), f16, GQA 4, 512 causal: the mma.sync kernel (0), n128s2sw (11, the round-1 anchor), 20, 21, 24-27;
#  3. attention_peers.py on those shapes: torch SDPA's cuDNN backend in the same run, every form / cuDNN.
set -u
cd "$(dirname "$0")/../.." # the repository root
. bench/common/verifylib.sh fa13 ${LIMIT:-78}
B=${QBUILD:-/tmp/qbuild}
Q=${QUANTA:-$B/tools/quanta}
P=/tmp/prebuild/fa13
BIN=$P/attention_check
say "$(nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader 2>/dev/null)"
if [ ! -x $BIN ]; then # no prebuild ran (or it failed): build here, in the budget
  bash bench/cuda/prebuild_fa13.sh
  say "attention_check built here: $(cat $P/build.rc 2>/dev/null) ($(el) s)"
fi
[ -x $BIN ] || { tail -5 $P/build.log 2>/dev/null | tee -a $D/summary.txt; say "no attention_check: VERDICT incomplete"; VERDICT=incomplete; }
FORMS="16 21 24 25 26 27"
PIDS=""
if [ -x $Q ]; then
  for t in default auto $FORMS; do
    ( if [ $t = default ]; then timeout 32 $Q conform --backend cuda --filter attention
      elif [ $t = auto ]; then env QUANTA_CUDA_ATTN_WG=2 timeout 32 $Q conform --backend cuda --filter attention
      else env QUANTA_CUDA_ATTN_WG=2 QUANTA_CUDA_ATTN_WG_TILE=$t timeout 32 $Q conform --backend cuda --filter attention; fi \
        > $D/conform_$t.log 2>&1; echo $? > $D/conform_$t.rc ) &
    PIDS="$PIDS $!"
  done
else
  say "no $Q: conformance skipped"; VERDICT=incomplete
fi
if [ -x $BIN ]; then
  ( timeout 34 $BIN wg 0,16,21 > $D/check_a.log 2>&1; echo $? > $D/check_a.rc ) & PIDS="$PIDS $!"
  ( timeout 34 $BIN wg 24,26 > $D/check_b.log 2>&1; echo $? > $D/check_b.rc ) & PIDS="$PIDS $!"
  ( timeout 34 $BIN wg 25,27 > $D/check_c.log 2>&1; echo $? > $D/check_c.rc ) & PIDS="$PIDS $!"
  if command -v compute-sanitizer >/dev/null 2>&1; then
    for tool in racecheck synccheck; do
      ( timeout 34 compute-sanitizer --tool $tool $BIN wgsmall 21,24,25,26,27 > $D/$tool.log 2>&1; echo $? > $D/$tool.rc ) &
      PIDS="$PIDS $!"
    done
  fi
fi
wait $PIDS
for t in default auto $FORMS; do
  [ -f $D/conform_$t.rc ] || continue
  rc=$(cat $D/conform_$t.rc)
  say "conform $([ $t = default ] && echo 'WG unset' || echo "WG=2 TILE=$t") rc=$rc: $(grep -E '^total' $D/conform_$t.log)"
  grep -E '^FAIL' $D/conform_$t.log | head -3 | cut -c1-200 | tee -a $D/summary.txt
  [ "$rc" = 0 ] || VERDICT=FAIL
done
for c in a b c; do
  [ -f $D/check_$c.rc ] || continue
  rc=$(cat $D/check_$c.rc)
  say "check $c rc=$rc: $(grep -m1 '^seed' $D/check_$c.log); $(tail -n 1 $D/check_$c.log | cut -c1-200)"
  grep -E "^FAIL|^wg variants|device is in an error" $D/check_$c.log | cut -c1-240 | head -8 | tee -a $D/summary.txt
  grep -E "^ok .*dispatch" $D/check_$c.log | cut -c1-200 | tee -a $D/summary.txt
  [ "$rc" = 0 ] || VERDICT=FAIL
done
for tool in racecheck synccheck; do
  [ -f $D/$tool.rc ] && say "$tool (wgsmall 21,24,25,26,27) rc=$(cat $D/$tool.rc): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|hazard' $D/$tool.log | tail -2 | tr '\n' ' ')"
done
pack
if [ -x $BIN ] && [ $(left) -gt 20 ]; then
  T=$(($(left) - 16)); [ $T -gt 30 ] && T=30
  timeout $T $BIN wgbench $D/wg.csv 0,11,20,21,24,25,26,27 > $D/bench.log 2>&1
  say "wgbench rc=$? ($T s at most)"
  grep -E "^prefill" $D/bench.log | cut -c1-150 | tee -a $D/summary.txt
else
  say "wgbench skipped (time)"
fi
pack
if [ -f $D/wg.csv ] && [ $(left) -gt 8 ]; then
  ATTN_PEERS=cudnn PYTHONUNBUFFERED=1 timeout $(($(left) - 2)) python3 bench/cuda/attention_peers.py $D/wg.csv $D/all.csv \
    > $D/peers.log 2>&1
  say "peers rc=$?"
  sed -n '/^| kind | dtype | B /,$p' $D/peers.log | tee -a $D/summary.txt
else
  say "peers skipped (time)"
fi
say "VERDICT $VERDICT"
pack
