#!/bin/bash
# verify_fa14.sh — device checks of the wgmma prefill attention (kernels_cuda/attention_wg.cu, issue 14, fa14), run
# after bench/e2e/run_h200.sh has built Quanta (/tmp/qbuild) and bench/cuda/prebuild_fa13.sh attention_check (built
# from the call's tree). Round 2 (final call), at most ~50 s. Steps, deciding rows first:
#  1. two passes (the second with the forms in reverse order), each attention_check wgbench (alone on the GPU: hd128
#     prefill, bf16 B x 32 heads x N = 512k rows, causal and not at 1k / 4k / 16k, f16 4k causal, GQA 32/8 4k causal,
#     512 causal; per shape one setup, the forms timed in turns, 4 rounds of ~2 ms of back-to-back launches, the
#     median) then attention_peers.py (torch SDPA's cuDNN backend, timed the same way) on those shapes: forms 21
#     (the non-causal pick), 35 (the causal pick since round 1), 26 and 24 (round 1's other causal candidates), 37
#     (new: 24 walking pairs of row blocks, equal work a pair under causal masking, with 35's mask), 38 (new: 35
#     with its first tile issued right after Q's copies), 39 (new: 35 with an L2 prefetch of the Q of the block a
#     wave ahead);
#  2. correctness, side by side (nothing timed): `quanta conform --backend cuda --filter attention` with the default
#     (QUANTA_CUDA_ATTN_WG unset), with QUANTA_CUDA_ATTN_WG=2 (every call the wgmma kernel takes; auto pick), and =2
#     with TILE 35, 37, 38, 39; attention_check wg 0 (the engine's entry under QUANTA_CUDA_ATTN_WG=1), 35, 37-39
#     (float64 reference, NaN-poisoned output, seed printed; 37 also on 3 blocks); racecheck / synccheck on the small
#     cases.
set -u
cd "$(dirname "$0")/../.." # the repository root
. bench/common/verifylib.sh fa14 ${LIMIT:-50}
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
pass() { # pass N FORMS
  [ -x $BIN ] || return
  WGBENCH_ROUNDS=4 timeout 12 $BIN wgbench $D/wg$1.csv $2 > $D/bench$1.log 2>&1
  say "wgbench pass $1 ($2) rc=$?"
  [ -f $D/wg$1.csv ] || return
  ATTN_PEERS=cudnn PYTHONUNBUFFERED=1 timeout 12 python3 bench/cuda/attention_peers.py $D/wg$1.csv $D/all$1.csv \
    > $D/peers$1.log 2>&1
  say "peers pass $1 rc=$?"
  grep -E '^measured' $D/peers$1.log | sed -E "s/^measured \('prefill', '([a-z0-9]+)', 128, [0-9]+, ([0-9]+), ([0-9]+), ([0-9]+), [0-9]+, ([01]), 0\)/cudnn \1 \2\/\3 N=\4 c=\5/" \
    | tee -a $D/summary.txt
  sed -n '/^| kind | dtype | B /,$p' $D/peers$1.log | cut -d'|' -f3,5,6,7,9,10,11 | tee -a $D/summary.txt
  pack
}
pass 1 21,35,38,39,26,24,37
pass 2 37,24,26,39,38,35,21
T=$(($(left) - 3)); [ $T -gt 20 ] && T=20
if [ $T -lt 8 ]; then say "correctness skipped (time): VERDICT incomplete"; VERDICT=incomplete; say "VERDICT $VERDICT"; pack; exit 0; fi
PIDS=""
if [ -x $Q ]; then
  for t in default auto 35 37 38 39; do
    ( if [ $t = default ]; then timeout $T $Q conform --backend cuda --filter attention
      elif [ $t = auto ]; then env QUANTA_CUDA_ATTN_WG=2 timeout $T $Q conform --backend cuda --filter attention
      else env QUANTA_CUDA_ATTN_WG=2 QUANTA_CUDA_ATTN_WG_TILE=$t timeout $T $Q conform --backend cuda --filter attention; fi \
        > $D/conform_$t.log 2>&1; echo $? > $D/conform_$t.rc ) &
    PIDS="$PIDS $!"
  done
else
  say "no $Q: conformance skipped"; VERDICT=incomplete
fi
if [ -x $BIN ]; then
  ( timeout $T $BIN wg 0,35 > $D/check_a.log 2>&1; echo $? > $D/check_a.rc ) & PIDS="$PIDS $!"
  ( timeout $T $BIN wg 37 > $D/check_b.log 2>&1; echo $? > $D/check_b.rc ) & PIDS="$PIDS $!"
  ( timeout $T $BIN wg 38,39 > $D/check_c.log 2>&1; echo $? > $D/check_c.rc ) & PIDS="$PIDS $!"
  if command -v compute-sanitizer >/dev/null 2>&1; then
    for tool in racecheck synccheck; do
      ( timeout $T compute-sanitizer --tool $tool $BIN wgsmall 35,37,38,39 > $D/$tool.log 2>&1; echo $? > $D/$tool.rc ) &
      PIDS="$PIDS $!"
    done
  fi
fi
wait $PIDS
for t in default auto 35 37 38 39; do
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
  [ -f $D/$tool.rc ] || continue
  say "$tool (wgsmall 35,37,38,39) rc=$(cat $D/$tool.rc): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|hazard' $D/$tool.log | tail -2 | tr '\n' ' ')"
  [ "$(cat $D/$tool.rc)" = 0 ] || VERDICT=FAIL
done
say "VERDICT $VERDICT"
pack
