#!/bin/bash
# verify_fa23.sh — device checks of fa23 (issue 14 item 3, kernels_cuda/attention_wg.cu), round 2 (the session's last
# call), against cuDNN (torch SDPA's cuDNN backend, paired rounds in one process):
#   QUANTA_CUDA_ATTN_WG_FDIV=1 (off) the persistent route's 83 as 90: its pair walk's divisions by launch constants as
#                              multiply-shifts (bit-identical; call 2 measured it on 87: 89/87 1.010-1.017) — decided here
#   QUANTA_CUDA_ATTN_WG_LONG   (on since call 2: 78/65 1.059-1.064) — the default route re-timed on the long rows
# bench/NOTES.md fa23's flip rules. Run after bench/e2e/run_h200.sh built Quanta (/tmp/qbuild) and
# bench/cuda/prebuild_fa23.sh attention_check and libawg_fa23.so. < 50 s (LIMIT).
# Steps, deciding ones first:
#  1. correctness, nothing timed (in parallel): `quanta conform --backend cuda --filter attention` with TILE=90 and on
#     the FDIV=1 auto route; attention_check wg 90 (float64 reference, NaN-poisoned output, also on 3 blocks); wgsame
#     83,90 (90 bit for bit 83);
#  2. attention_pair.py pass 1 (21 rounds, cuDNN interleaved): 83 (default) and 90 at 1k / 2k non-causal and 512 / 1k /
#     2k causal;
#  3. racecheck / synccheck of 90 (small cases);
#  4. pass 2 (another seed) of step 2; then the long rows on the default route (form 0, now 78) against 65 and cuDNN
#     (8k / 16k non-causal, 16k causal), and 4k non-causal / 8k causal on the default route.
set -u
cd "$(dirname "$0")/../.." # the repository root
. bench/common/verifylib.sh fa23 ${LIMIT:-50}
B=${QBUILD:-/tmp/qbuild}
Q=${QUANTA:-$B/tools/quanta}
P=/tmp/prebuild/fa23
BIN=$P/attention_check
LIB=$P/libawg_fa23.so
# the deciding rows: 1k / 2k non-causal, 512 / 1k / 2k causal (83 the default there, 90 the candidate)
G1=${FA23_GROUPS:-"0,9,8,3,11:83,90"}
# then the long rows on the default route (0: 78 with LONG on) against 65, and 4k non-causal / 8k causal
G2=${FA23_GROUPS2:-"10,2,5:0,65;1,12:0"}
VS=90:83,0:65
say "$(nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv,noheader 2>/dev/null)"
if [ ! -x $BIN ] || [ ! -f $LIB ]; then # no prebuild ran (or it failed): build here (cuts into the budget)
  timeout 200 bash bench/cuda/prebuild_fa23.sh
  say "attention_check built here: $(cat $P/build.rc 2>/dev/null) ($(el) s)"
fi
[ -x $BIN ] || { tail -5 $P/build.log 2>/dev/null | tee -a $D/summary.txt; say "no attention_check: VERDICT incomplete"; VERDICT=incomplete; }
grep -E "C75[0-9][0-9]" $P/build.log 2>/dev/null | grep -v C7519 | head -3 | cut -c1-200 | tee -a $D/summary.txt
# ptxas: 83 and 90 registers / spills (FL is 64-bit since fa23: mangled "Lx<FL>E"; 83 = 0xa1281c84)
grep -E "Compiling entry|spill stores" $P/build.log 2>/dev/null | paste - - | grep -E "Lx(2703760516|11293695108)E" |
  sed -E "s/.*attn_wg_kernelI//; s/EEEvNS_6Params[^ ]*//" | cut -c1-150 | head -4 > $D/ptxas.txt
# 1. correctness
T=14
PIDS=""
if [ -x $Q ]; then
  for t in 90 fdiv; do
    ( if [ $t = fdiv ]; then env -u QUANTA_CUDA_ATTN_WG_TILE QUANTA_CUDA_ATTN_WG=2 QUANTA_CUDA_ATTN_WG_FDIV=1 timeout $T $Q conform --backend cuda --filter attention
      else QUANTA_CUDA_ATTN_WG_TILE=$t QUANTA_CUDA_ATTN_WG=2 timeout $T $Q conform --backend cuda --filter attention; fi \
        > $D/conform_$t.log 2>&1; echo $? > $D/conform_$t.rc ) &
    PIDS="$PIDS $!"
  done
else
  say "no $Q: conformance skipped"; VERDICT=incomplete
fi
if [ -x $BIN ]; then
  ( QUANTA_TEST_SEED=2360 timeout 14 $BIN wg 90 > $D/check_wg.log 2>&1; echo $? > $D/check_wg.rc ) & PIDS="$PIDS $!"
  # (90 claims to be 83 bit for bit: byte for byte on every wg case, default grid and 3 blocks)
  ( QUANTA_TEST_SEED=2361 timeout 14 $BIN wgsame 83,90 > $D/check_same.log 2>&1; echo "rc=$?" >> $D/check_same.log ) & PIDS="$PIDS $!"
fi
wait $PIDS
for t in 90 fdiv; do
  [ -f $D/conform_$t.rc ] || continue
  rc=$(cat $D/conform_$t.rc)
  say "conform WG=2 $([ $t = fdiv ] && echo 'auto, FDIV=1' || echo "TILE=$t") rc=$rc: $(grep -E '^total' $D/conform_$t.log)"
  grep -E '^FAIL' $D/conform_$t.log | head -3 | cut -c1-200 | tee -a $D/summary.txt
  [ "$rc" = 0 ] || VERDICT=FAIL
done
if [ -f $D/check_wg.rc ]; then
  rc=$(cat $D/check_wg.rc)
  say "check wg 90 rc=$rc: $(grep -m1 '^seed' $D/check_wg.log); $(tail -n 1 $D/check_wg.log | cut -c1-200)"
  grep -E "^FAIL|^NOTE|^wg variants|device is in an error" $D/check_wg.log | cut -c1-240 | head -6 | tee -a $D/summary.txt
  grep -E '^(ok|FAIL)' $D/check_wg.log | sed -E 's/.*rel=([0-9.e+-]+).*/\1 &/' | sort -g | tail -2 | cut -c1-200 | tee -a $D/summary.txt
  [ "$rc" = 0 ] || VERDICT=FAIL
fi
grep -E '^seed|^wgsame:.*(identical|differ)|^rc=|^FAIL|device is in an error' $D/check_same.log 2>/dev/null | head -6 | cut -c1-200 | tee -a $D/summary.txt
grep -qE '^wgsame:.* [1-9][0-9]* differ' $D/check_same.log 2>/dev/null && VERDICT=FAIL
pack
# 2. ours and cuDNN interleaved
pair() { # pair N SEED GROUPS [TIMEOUT]
  [ -f $LIB ] || { say "no $LIB: pair skipped"; VERDICT=incomplete; return; }
  PAIR_GROUPS="$3" PAIR_VS=$VS QUANTA_TEST_SEED=$2 PYTHONUNBUFFERED=1 timeout ${4:-30} python3 bench/cuda/attention_pair.py \
    $LIB $D/pair$1.csv 0 0 > $D/pair$1.log 2>&1
  local rc=$?
  say "attention_pair pass $1 rc=$rc ($(head -1 $D/pair$1.log | cut -c1-120))"
  grep -E '^(pair|vs|FAIL|SKIP|outputs)' $D/pair$1.log | tee -a $D/summary.txt
  [ $rc = 0 ] || [ $rc = 124 ] || VERDICT=FAIL
  pack
}
pair 1 2370 "$G1" $(($(left) - 22))
# 3. sanitizers (the flip rule needs them)
if [ -x $BIN ] && command -v compute-sanitizer >/dev/null 2>&1 && [ $(left) -gt 20 ]; then
  for tool in racecheck synccheck; do
    timeout 6 compute-sanitizer --tool $tool $BIN wgsmall 90 > $D/san_$tool.log 2>&1
    say "compute-sanitizer $tool wgsmall 90 rc=$?: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $D/san_$tool.log | head -2 | tr '\n' ' ')"
    grep -qE '(ERROR SUMMARY: [1-9]|RACECHECK SUMMARY: [1-9])' $D/san_$tool.log && VERDICT=FAIL
  done
  pack
fi
# 4. the second pass, then the long rows on the default route
[ $(left) -gt 12 ] && pair 2 $((RANDOM + 2)) "$G1" $(($(left) - 9))
[ $(left) -gt 6 ] && pair 3 $((RANDOM + 3)) "$G2" $(($(left) - 1))
cat $D/ptxas.txt >> $D/summary.txt
say "VERDICT $VERDICT"
pack
