#!/bin/bash
# verify_fa16.sh — device checks of the wgmma prefill attention (kernels_cuda/attention_wg.cu, issue 14, fa16), run
# after bench/e2e/run_h200.sh has built Quanta (/tmp/qbuild) and bench/cuda/prebuild_fa16.sh attention_check (built
# from the call's tree). At most ~60 s (LIMIT). Steps, deciding rows first:
#  1. attention_check wgbench (alone on the GPU: hd128 prefill, bf16 B x 32 heads x N = 512k rows, non-causal and
#     causal at 1k / 4k / 16k, f16 4k causal, GQA 32/8 4k causal, 512 causal; per shape one setup, the forms timed in
#     turns, 5 rounds of ~2 ms of back-to-back launches, the median), then attention_peers.py (torch SDPA's cuDNN
#     backend, timed the same way) on those shapes: form 41 (the auto pick) beside the fa16 forms 43 (41 + the
#     lower consumer's diagonal P . V over 64 keys), 44 / 45 (41 with K and V on barriers of their own, 2 stages of
#     176 / 192 keys), 46 (the same with 128-key tiles, + 43's half), 47 / 48 (persistent pairs of row blocks with
#     46's K / V split, 2 Q buffers and an O stage for the TMA store; 48 with 43's half). If that process fails (a
#     form that hangs or faults), each form again in its own process (rows appended); 49-51: 41, 44, 47 with a row's
#     max and sum as pairwise trees;
#  2. correctness, side by side (nothing timed): `quanta conform --backend cuda --filter attention` with
#     QUANTA_CUDA_ATTN_WG=2 and TILE 43-51 (and the auto pick); attention_check wg on 43-51 (float64 reference,
#     NaN-poisoned output, seed printed; folds 3 and 128 and kv_lens fall back; 47 / 48 also on 3 blocks);
#     racecheck / synccheck on the small cases of 44, 46, 47 (SAN: the K / V split, with the diagonal half, persistent);
#  3. ncu (if installed and time is left): forms 41, 44, 47 on 1k causal and 16k non-causal (speed of light, warp
#     states, compute workload; a warm-up and one timed launch each).
# FA16_FORMS overrides step 1's list, FA16_NEW step 2's.
set -u
cd "$(dirname "$0")/../.." # the repository root
. bench/common/verifylib.sh fa16 ${LIMIT:-60}
B=${QBUILD:-/tmp/qbuild}
Q=${QUANTA:-$B/tools/quanta}
P=/tmp/prebuild/fa16
BIN=$P/attention_check
FORMS=${FA16_FORMS:-41,43,44,45,46,47,48,49,50,51}
NEW=${FA16_NEW:-43 44 45 46 47 48 49 50 51}
SAN=${FA16_SAN:-44 46 47}
say "$(nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader 2>/dev/null)"
if [ ! -x $BIN ]; then # no prebuild ran (or it failed): build here, in the budget
  bash bench/cuda/prebuild_fa16.sh
  say "attention_check built here: $(cat $P/build.rc 2>/dev/null) ($(el) s)"
fi
[ -x $BIN ] || { tail -5 $P/build.log 2>/dev/null | tee -a $D/summary.txt; say "no attention_check: VERDICT incomplete"; VERDICT=incomplete; }
pass() { # pass N FORMS
  [ -x $BIN ] || return
  WGBENCH_ROUNDS=5 timeout 14 $BIN wgbench $D/wg$1.csv $2 > $D/bench$1.log 2>&1
  local rc=$?
  say "wgbench pass $1 ($2) rc=$rc"
  if [ $rc != 0 ]; then # one form hung or faulted: each alone (rows appended), so the others still count
    tail -3 $D/bench$1.log | tee -a $D/summary.txt
    for f in $(echo $2 | tr ',' ' '); do
      WGBENCH_ROUNDS=3 timeout 4 $BIN wgbench $D/wg$1.csv $f > $D/bench$1_$f.log 2>&1
      say "wgbench form $f alone rc=$?"
    done
  fi
  grep -h -m1 "^NOTE" $D/bench$1*.log | tee -a $D/summary.txt # a TMA form that ran as its cp.async form
  [ -f $D/wg$1.csv ] || return
  ATTN_PEERS=cudnn PYTHONUNBUFFERED=1 timeout 12 python3 bench/cuda/attention_peers.py $D/wg$1.csv $D/all$1.csv \
    > $D/peers$1.log 2>&1
  say "peers pass $1 rc=$?"
  grep -E '^measured' $D/peers$1.log | sed -E "s/^measured \('prefill', '([a-z0-9]+)', 128, [0-9]+, ([0-9]+), ([0-9]+), ([0-9]+), [0-9]+, ([01]), 0\)/cudnn \1 \2\/\3 N=\4 c=\5/" \
    | tee -a $D/summary.txt
  sed -n '/^| kind | dtype | B /,$p' $D/peers$1.log | cut -d'|' -f3,5,6,7,9,10,11 | tee -a $D/summary.txt
  pack
}
pass 1 $FORMS
T=$(($(left) - 14)); [ $T -gt 20 ] && T=20
if [ $T -lt 8 ]; then say "correctness skipped (time): VERDICT incomplete"; VERDICT=incomplete; say "VERDICT $VERDICT"; pack; exit 0; fi
PIDS=""
if [ -x $Q ]; then
  for t in default $NEW; do
    ( if [ $t = default ]; then env QUANTA_CUDA_ATTN_WG=2 timeout $T $Q conform --backend cuda --filter attention
      else env QUANTA_CUDA_ATTN_WG=2 QUANTA_CUDA_ATTN_WG_TILE=$t timeout $T $Q conform --backend cuda --filter attention; fi \
        > $D/conform_$t.log 2>&1; echo $? > $D/conform_$t.rc ) &
    PIDS="$PIDS $!"
  done
else
  say "no $Q: conformance skipped"; VERDICT=incomplete
fi
if [ -x $BIN ]; then
  for t in $NEW; do
    ( timeout $T $BIN wg $t > $D/check_$t.log 2>&1; echo $? > $D/check_$t.rc ) & PIDS="$PIDS $!"
  done
  if command -v compute-sanitizer >/dev/null 2>&1; then
    for tool in racecheck synccheck; do
      ( timeout $T compute-sanitizer --tool $tool $BIN wgsmall $(echo $SAN | tr ' ' ',') > $D/$tool.log 2>&1
        echo $? > $D/$tool.rc ) &
      PIDS="$PIDS $!"
    done
  fi
fi
wait $PIDS
for t in default $NEW; do
  [ -f $D/conform_$t.rc ] || continue
  rc=$(cat $D/conform_$t.rc)
  say "conform WG=2 $([ $t = default ] && echo 'auto pick' || echo "TILE=$t") rc=$rc: $(grep -E '^total' $D/conform_$t.log)"
  grep -E '^FAIL' $D/conform_$t.log | head -3 | cut -c1-200 | tee -a $D/summary.txt
  [ "$rc" = 0 ] || VERDICT=FAIL
done
for t in $NEW; do
  [ -f $D/check_$t.rc ] || continue
  rc=$(cat $D/check_$t.rc)
  say "check wg $t rc=$rc: $(grep -m1 '^seed' $D/check_$t.log); $(tail -n 1 $D/check_$t.log | cut -c1-200)"
  grep -E "^FAIL|^NOTE|^wg variants|device is in an error" $D/check_$t.log | cut -c1-240 | head -8 | tee -a $D/summary.txt
  [ "$rc" = 0 ] || VERDICT=FAIL
done
for tool in racecheck synccheck; do
  [ -f $D/$tool.rc ] || continue
  say "$tool (wgsmall $SAN) rc=$(cat $D/$tool.rc): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|hazard' $D/$tool.log | tail -2 | tr '\n' ' ')"
  [ "$(cat $D/$tool.rc)" = 0 ] || VERDICT=FAIL
done
pack
# 3. ncu: 41, 44, 47 on 1k causal (shape 3) and 16k non-causal (shape 2), a warm-up and one timed launch each
if [ -x $BIN ] && command -v ncu >/dev/null 2>&1 && [ $(left) -gt 8 ]; then
  WGBENCH_SHAPES=3,2 WGBENCH_ROUNDS=0 timeout $(($(left) - 2)) ncu --clock-control none -k regex:attn_wg_kernel -c 12 \
    --section SpeedOfLight --section WarpStateStats --section ComputeWorkloadAnalysis \
    $BIN wgbench $D/ncu.csv 41,44,47 > $D/ncu.log 2>&1
  say "ncu (1k causal, then 16k non-causal; forms 41, 44, 47: warm-up and timed launch each) rc=$?"
  awk '/attn_wg_kernel/ {k++}
    /^ +(Duration|Compute \(SM\) Throughput|Memory Throughput|Issue Slots Busy|Warp Cycles Per Issued Instruction|Executed Ipc Active)/ {
      gsub(/ +/, " "); line[k] = line[k] " |" $0 }
    END {for (i = 1; i <= k; i++) print "ncu launch " i " (1k causal: 41 warm-up, 41, 44 w, 44, 47 w, 47; 16k: the same):" line[i]}' $D/ncu.log |
    tee -a $D/summary.txt
fi
say "VERDICT $VERDICT"
pack
