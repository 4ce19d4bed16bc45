#!/bin/bash
# verify_fa16.sh — device checks of the wgmma prefill attention (kernels_cuda/attention_wg.cu, issue 14, fa16), run
# after bench/e2e/run_h200.sh has built Quanta (/tmp/qbuild) and bench/cuda/prebuild_fa16.sh attention_check (built
# from the call's tree). Round 2 (DR2), at most ~50 s (LIMIT). Steps, deciding rows first:
#  1. attention_check wgbench (alone on the GPU: hd128 prefill, bf16 B x 32 heads x N = 512k rows; non-causal and
#     causal at 1k / 4k / 16k, f16 4k causal, GQA 32/8 4k causal, 512 causal, then non-causal and causal at 2k and 8k;
#     per shape one setup, the forms timed in turns, 5 rounds of ~2 ms of back-to-back launches, the median), then
#     attention_peers.py (torch SDPA's cuDNN backend, timed the same way) on those shapes: 41 (the pick until DR1),
#     44 (176-key tiles: the new pick at Nk >= 12288) and 47 (persistent pairs: the new pick at Nk <= 2048 causal,
#     1536 non-causal) — the 2k / 8k rows place those bounds. If that process fails, each form again alone;
#  2. correctness of the new auto route (nothing timed): `quanta conform --backend cuda --filter attention` with
#     QUANTA_CUDA_ATTN_WG=2 (every call it takes) and unset (the engine's default), attention_check wg 0,44,47 (the
#     engine entry's dispatch cases, 44 and 47 (47 also on 3 blocks): float64 reference, NaN-poisoned output);
#  3. ncu (if installed and time is left): 41 on 4k causal, the row furthest from cuDNN in DR1 (speed of light, warp
#     states, compute workload; a warm-up and one timed launch).
# FA16_FORMS overrides step 1's list.
set -u
cd "$(dirname "$0")/../.." # the repository root
. bench/common/verifylib.sh fa16 ${LIMIT:-50}
B=${QBUILD:-/tmp/qbuild}
Q=${QUANTA:-$B/tools/quanta}
P=/tmp/prebuild/fa16
BIN=$P/attention_check
FORMS=${FA16_FORMS:-41,44,47}
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
  ATTN_PEERS=cudnn PYTHONUNBUFFERED=1 timeout 16 python3 bench/cuda/attention_peers.py $D/wg$1.csv $D/all$1.csv \
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
  for t in wg2 default; do
    ( if [ $t = wg2 ]; then env QUANTA_CUDA_ATTN_WG=2 timeout $T $Q conform --backend cuda --filter attention
      else env -u QUANTA_CUDA_ATTN_WG timeout $T $Q conform --backend cuda --filter attention; fi \
        > $D/conform_$t.log 2>&1; echo $? > $D/conform_$t.rc ) &
    PIDS="$PIDS $!"
  done
else
  say "no $Q: conformance skipped"; VERDICT=incomplete
fi
if [ -x $BIN ]; then
  ( timeout $T $BIN wg 0,44,47 > $D/check_auto.log 2>&1; echo $? > $D/check_auto.rc ) & PIDS="$PIDS $!"
fi
wait $PIDS
for t in wg2 default; do
  [ -f $D/conform_$t.rc ] || continue
  rc=$(cat $D/conform_$t.rc)
  say "conform $([ $t = wg2 ] && echo 'WG=2 auto pick' || echo 'engine default') rc=$rc: $(grep -E '^total' $D/conform_$t.log)"
  grep -E '^FAIL' $D/conform_$t.log | head -3 | cut -c1-200 | tee -a $D/summary.txt
  [ "$rc" = 0 ] || VERDICT=FAIL
done
if [ -f $D/check_auto.rc ]; then
  rc=$(cat $D/check_auto.rc)
  say "check wg 0,44,47 rc=$rc: $(grep -m1 '^seed' $D/check_auto.log); $(tail -n 1 $D/check_auto.log | cut -c1-200)"
  grep -E "^FAIL|^NOTE|^wg variants|dispatch|device is in an error" $D/check_auto.log | cut -c1-240 | head -8 | tee -a $D/summary.txt
  [ "$rc" = 0 ] || VERDICT=FAIL
fi
pack
# 3. ncu: 41 on 4k causal (shape 4), a warm-up and one timed launch
if [ -x $BIN ] && command -v ncu >/dev/null 2>&1 && [ $(left) -gt 8 ]; then
  WGBENCH_SHAPES=4 WGBENCH_ROUNDS=0 timeout $(($(left) - 2)) ncu --clock-control none -k regex:attn_wg_kernel -c 2 \
    --section SpeedOfLight --section WarpStateStats --section ComputeWorkloadAnalysis \
    $BIN wgbench $D/ncu.csv 41 > $D/ncu.log 2>&1
  say "ncu (4k causal; 41: warm-up and timed launch) rc=$?"
  awk '/^ +void attn_wg_kernel/ {k++}
    /^ +(Duration|Compute \(SM\) Throughput|Memory Throughput|Issue Slots Busy|Warp Cycles Per Issued Instruction|Executed Ipc Active)/ {
      gsub(/ +/, " "); line[k] = line[k] " |" $0 }
    /highest-utilized pipeline \(/ {match($0, /\([0-9.]+%\)/); line[k] = line[k] " | busiest pipe " substr($0, RSTART, RLENGTH)}
    END {for (i = 1; i <= k; i++) print "ncu launch " i " (4k causal: 41 warm-up, 41):" line[i]}' $D/ncu.log |
    tee -a $D/summary.txt
fi
say "VERDICT $VERDICT"
pack
