#!/bin/bash
# verify_fa17.sh — device checks of the wgmma prefill attention (kernels_cuda/attention_wg.cu, issue 14, fa17), run
# after bench/e2e/run_h200.sh has built Quanta (/tmp/qbuild) and bench/cuda/prebuild_fa17.sh attention_check (built
# from the call's tree). Round 1 (DR1), at most ~60 s (LIMIT). Steps, deciding rows first:
#  1. attention_check wgbench (again in reverse order after step 2 if time is left), each followed by attention_peers.py (torch
#     SDPA's cuDNN backend, timed the same way: ~2 ms samples, the median) on the 13 shapes (hd128, bf16 B x 32
#     heads x N = 512k rows: non-causal and causal 1k / 4k / 16k, f16 4k causal, GQA 32/8 4k causal, 512 causal,
#     non-causal and causal 2k / 8k; per shape one setup, the forms in turns): 41, 44, 47 (the auto pick's forms;
#     the pick itself moved 44's non-causal bound to 8k on call 1's rows), 56 / 57 (41 / 44 with, under causal
#     masking, the grid longest first in groups of heads (= 52 / 53), and without, the grid's last partial wave
#     split over the keys in clusters: the candidates for 41's and 44's rows), 54 (41 with O rescaled under
#     Q . K^T), 55 (41 with block 0's consumer loop stamped: the `trace` lines, cycles a step, per shape);
#  2. correctness (nothing timed, side by side): `quanta conform --backend cuda --filter attention` with
#     QUANTA_CUDA_ATTN_WG=2 and the auto pick, and with TILE 52, 53, 54, 56, 57 forced; attention_check wg
#     0,52,53,54,56,57 (float64 reference, NaN-poisoned output; 0 = the engine entry's dispatch cases; a 12-head
#     case whose longest-first groups end in a partial one; 56 / 57 also as if on 3 SMs: another split tail);
#  3. ncu (if installed and time is left): 56 on 4k non-causal (the main launch and the split tail) and 4k causal
#     (elapsed vs SM active cycles: the grid's tail; speed of light, warp states, compute workload; a warm-up and
#     one timed launch each).
# FA17_FORMS overrides step 1's list.
set -u
cd "$(dirname "$0")/../.." # the repository root
. bench/common/verifylib.sh fa17 ${LIMIT:-60}
B=${QBUILD:-/tmp/qbuild}
Q=${QUANTA:-$B/tools/quanta}
P=/tmp/prebuild/fa17
BIN=$P/attention_check
FORMS=${FA17_FORMS:-41,44,47,56,57,54,55}
say "$(nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader 2>/dev/null)"
if [ ! -x $BIN ]; then # no prebuild ran (or it failed): build here, in the budget
  bash bench/cuda/prebuild_fa17.sh
  say "attention_check built here: $(cat $P/build.rc 2>/dev/null) ($(el) s)"
fi
[ -x $BIN ] || { tail -5 $P/build.log 2>/dev/null | tee -a $D/summary.txt; say "no attention_check: VERDICT incomplete"; VERDICT=incomplete; }
pass() { # pass N FORMS
  [ -x $BIN ] || return
  WGBENCH_ROUNDS=5 timeout 16 $BIN wgbench $D/wg$1.csv $2 > $D/bench$1.log 2>&1
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
  grep -h "^trace" $D/bench$1*.log | tee -a $D/summary.txt     # 55's stamps: cycles a step of the consumer loop
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
T=$(($(left) - 8)); [ $T -gt 14 ] && T=14
if [ $T -lt 8 ]; then say "correctness skipped (time): VERDICT incomplete"; VERDICT=incomplete; say "VERDICT $VERDICT"; pack; exit 0; fi
PIDS=""
if [ -x $Q ]; then
  for t in auto 52 53 54 56 57; do
    ( if [ $t = auto ]; then env -u QUANTA_CUDA_ATTN_WG_TILE QUANTA_CUDA_ATTN_WG=2 timeout $T $Q conform --backend cuda --filter attention
      else env QUANTA_CUDA_ATTN_WG=2 QUANTA_CUDA_ATTN_WG_TILE=$t timeout $T $Q conform --backend cuda --filter attention; fi \
        > $D/conform_$t.log 2>&1; echo $? > $D/conform_$t.rc ) &
    PIDS="$PIDS $!"
  done
else
  say "no $Q: conformance skipped"; VERDICT=incomplete
fi
if [ -x $BIN ]; then
  for w in 0,52,53 54,56,57; do
    ( timeout $T $BIN wg $w > $D/check_$w.log 2>&1; echo $? > $D/check_$w.rc ) & PIDS="$PIDS $!"
  done
fi
wait $PIDS
for t in auto 52 53 54 56 57; do
  [ -f $D/conform_$t.rc ] || continue
  rc=$(cat $D/conform_$t.rc)
  say "conform WG=2 $([ $t = auto ] && echo 'auto pick' || echo TILE=$t) rc=$rc: $(grep -E '^total' $D/conform_$t.log)"
  grep -E '^FAIL' $D/conform_$t.log | head -3 | cut -c1-200 | tee -a $D/summary.txt
  [ "$rc" = 0 ] || VERDICT=FAIL
done
for w in 0,52,53 54,56,57; do
  [ -f $D/check_$w.rc ] || continue
  rc=$(cat $D/check_$w.rc)
  say "check wg $w rc=$rc: $(grep -m1 '^seed' $D/check_$w.log); $(tail -n 1 $D/check_$w.log | cut -c1-200)"
  grep -E "^FAIL|^NOTE|^wg variants|device is in an error" $D/check_$w.log | cut -c1-240 | head -8 | tee -a $D/summary.txt
  [ "$rc" = 0 ] || VERDICT=FAIL
done
pack
# the second timing pass (reverse order) once the candidates' correctness is in (a call cut short keeps that)
[ $(left) -gt 16 ] && pass 2 $(echo $FORMS | tr ',' '\n' | tac | paste -sd, -)
# 3. ncu: 56 on 4k non-causal (shape 1: the main launch and the split tail) and 4k causal (shape 4), a warm-up and
#    one timed launch each
if [ -x $BIN ] && command -v ncu >/dev/null 2>&1 && [ $(left) -gt 8 ]; then
  WGBENCH_SHAPES=1,4 WGBENCH_ROUNDS=0 timeout $(($(left) - 2)) ncu --clock-control none -k regex:attn_wg_kernel -c 6 \
    --section SpeedOfLight --section WarpStateStats --section ComputeWorkloadAnalysis \
    $BIN wgbench $D/ncu.csv 56 > $D/ncu.log 2>&1
  say "ncu (56: 4k non-causal, main + tail launch twice; 4k causal, warm-up and timed) rc=$?"
  awk '/^ +void attn_wg_kernel/ {k++}
    /^ +(Duration|Elapsed Cycles|SM Active Cycles|Compute \(SM\) Throughput|Memory Throughput|Issue Slots Busy|Warp Cycles Per Issued Instruction|Executed Ipc Active)/ {
      gsub(/ +/, " "); line[k] = line[k] " |" $0 }
    END {for (i = 1; i <= k; i++) print "ncu launch " i " (56: 4k non-causal main, tail, main, tail; 4k causal x2):" line[i]}' $D/ncu.log |
    tee -a $D/summary.txt
fi
say "VERDICT $VERDICT"
pack
