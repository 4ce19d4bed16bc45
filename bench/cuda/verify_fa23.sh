#!/bin/bash
# verify_fa23.sh — device checks of fa23 (issue 14 item 3, kernels_cuda/attention_wg.cu), against cuDNN (torch SDPA's
# cuDNN backend, paired rounds in one process). Decides two switches (off; bench/NOTES.md fa23's flip rules):
#   QUANTA_CUDA_ATTN_WG_QE=1   the persistent route's 83 as 87: the next item's Q issued n - 1 tiles ahead (bit-identical);
#                        =2    as 89: 87 with the item walk's divisions as multiply-shifts (bit-identical)
#   QUANTA_CUDA_ATTN_WG_LONG=1 the 176-key form 65's rows (>= 8k non-causal, >= 12k causal) on 78 (128 keys, CRS);
#                          =2  as 1 and every non-causal row past 2k keys on 83 (87 with QE)
# and re-times the default at 1k / 2k non-causal (83, ~1% over cuDNN in session 22), with the traces of 86 / 88 (83 / 87
# stamped: where an item boundary's cycles go). Run after bench/e2e/run_h200.sh built Quanta (/tmp/qbuild) and
# bench/cuda/prebuild_fa23.sh attention_check and libawg_fa23.so. < 55 s (LIMIT).
# Steps, deciding ones first:
#  1. correctness, nothing timed (in parallel): `quanta conform --backend cuda --filter attention` with TILE=87, 89 and
#     on the QE=2 and LONG=2 auto routes; attention_check wg 87,89 (float64 reference, NaN-poisoned output, also on 3
#     blocks); wgsame 83,87,89,86,88 (87, 89 and the stamped forms bit for bit 83);
#  2. attention_pair.py pass 1 (21 rounds, cuDNN interleaved): 1k / 2k non-causal 83 (default), 87, 89; 4k non-causal 78
#     (default), 83; 8k / 16k non-causal 65 (default), 78, 83; 16k causal 65 (default), 78;
#  3. racecheck / synccheck of 87, 89 (small cases); the traces of 86 and 88 at 1k / 2k non-causal;
#  4. pass 2 (another seed) of step 2; then 512 / 1k / 2k causal 83 (default), 87, 89 and the other rows of the auto pick
#     (8k causal, f16 / GQA 4k causal) on the default route (form 0).
set -u
cd "$(dirname "$0")/../.." # the repository root
. bench/common/verifylib.sh fa23 ${LIMIT:-55}
B=${QBUILD:-/tmp/qbuild}
Q=${QUANTA:-$B/tools/quanta}
P=/tmp/prebuild/fa23
BIN=$P/attention_check
LIB=$P/libawg_fa23.so
# the deciding rows: 1k / 2k non-causal (83 / 87 / 89), 4k non-causal (78 / 83), 8k / 16k non-causal and 16k causal
# (65 / 78)
G1=${FA23_GROUPS:-"0,9:83,87,89;1:78,83;10,2:65,78,83;5:65,78"}
# then 512 / 1k / 2k causal (83 / 87 / 89) and the rest of the auto pick's rows on the default route
G2=${FA23_GROUPS2:-"8,3,11:83,87,89;12,6,7:0"}
VS=87:83,89:87,89:83,78:65,83:65,83:78
say "$(nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv,noheader 2>/dev/null)"
if [ ! -x $BIN ] || [ ! -f $LIB ]; then # no prebuild ran (or it failed): build here (cuts into the budget)
  timeout 200 bash bench/cuda/prebuild_fa23.sh
  say "attention_check built here: $(cat $P/build.rc 2>/dev/null) ($(el) s)"
fi
[ -x $BIN ] || { tail -5 $P/build.log 2>/dev/null | tee -a $D/summary.txt; say "no attention_check: VERDICT incomplete"; VERDICT=incomplete; }
grep -E "C75[0-9][0-9]" $P/build.log 2>/dev/null | grep -v C7519 | head -3 | cut -c1-200 | tee -a $D/summary.txt
# ptxas: 83, 86, 87, 88, 89 registers / spills (FL is 64-bit since fa23: mangled "Lx<FL>E"; 83 = 0xa1281c84)
grep -E "Compiling entry|spill stores" $P/build.log 2>/dev/null | paste - - |
  grep -E "Lx(2703760516|2703891588|6998727812|6998858884|15588662404)E" |
  sed -E "s/.*attn_wg_kernelI//; s/EEEvNS_6Params[^ ]*//" | cut -c1-150 | head -10 > $D/ptxas.txt
# 1. correctness
T=14
PIDS=""
if [ -x $Q ]; then
  for t in 87 89 qe long2; do
    ( case $t in
        qe) env -u QUANTA_CUDA_ATTN_WG_TILE QUANTA_CUDA_ATTN_WG=2 QUANTA_CUDA_ATTN_WG_QE=2 timeout $T $Q conform --backend cuda --filter attention ;;
        long2) env -u QUANTA_CUDA_ATTN_WG_TILE QUANTA_CUDA_ATTN_WG=2 QUANTA_CUDA_ATTN_WG_LONG=2 timeout $T $Q conform --backend cuda --filter attention ;;
        *) QUANTA_CUDA_ATTN_WG_TILE=$t QUANTA_CUDA_ATTN_WG=2 timeout $T $Q conform --backend cuda --filter attention ;;
      esac > $D/conform_$t.log 2>&1; echo $? > $D/conform_$t.rc ) &
    PIDS="$PIDS $!"
  done
else
  say "no $Q: conformance skipped"; VERDICT=incomplete
fi
if [ -x $BIN ]; then
  ( QUANTA_TEST_SEED=2350 timeout 18 $BIN wg 87,89 > $D/check_wg.log 2>&1; echo $? > $D/check_wg.rc ) & PIDS="$PIDS $!"
  # (87, 89, 86 and 88 claim to be 83 bit for bit: byte for byte on every wg case, default grid and 3 blocks)
  ( QUANTA_TEST_SEED=2351 timeout 18 $BIN wgsame 83,87,89,86,88 > $D/check_same.log 2>&1; echo "rc=$?" >> $D/check_same.log ) & PIDS="$PIDS $!"
fi
wait $PIDS
for t in 87 89 qe long2; do
  [ -f $D/conform_$t.rc ] || continue
  rc=$(cat $D/conform_$t.rc)
  say "conform WG=2 $(case $t in qe) echo 'auto, QE=2' ;; long2) echo 'auto, LONG=2' ;; *) echo "TILE=$t" ;; esac) rc=$rc: $(grep -E '^total' $D/conform_$t.log)"
  grep -E '^FAIL' $D/conform_$t.log | head -3 | cut -c1-200 | tee -a $D/summary.txt
  [ "$rc" = 0 ] || VERDICT=FAIL
done
if [ -f $D/check_wg.rc ]; then
  rc=$(cat $D/check_wg.rc)
  say "check wg 87,89 rc=$rc: $(grep -m1 '^seed' $D/check_wg.log); $(tail -n 1 $D/check_wg.log | cut -c1-200)"
  grep -E "^FAIL|^NOTE|^wg variants|device is in an error" $D/check_wg.log | cut -c1-240 | head -6 | tee -a $D/summary.txt
  grep -E '^(ok|FAIL)' $D/check_wg.log | sed -E 's/.*rel=([0-9.e+-]+).*/\1 &/' | sort -g | tail -2 | cut -c1-200 | tee -a $D/summary.txt
  [ "$rc" = 0 ] || VERDICT=FAIL
fi
grep -E '^seed|^wgsame:.*(identical|differ)|^rc=|^FAIL|device is in an error' $D/check_same.log 2>/dev/null | head -8 | cut -c1-200 | tee -a $D/summary.txt
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
pair 1 2340 "$G1" $(($(left) - 28))
# 3. sanitizers (the flip rule needs them), then the traces (one warm-up and one timed launch a shape, then one
# stamped launch of each)
if [ -x $BIN ] && command -v compute-sanitizer >/dev/null 2>&1 && [ $(left) -gt 24 ]; then
  for tool in racecheck synccheck; do
    timeout 7 compute-sanitizer --tool $tool $BIN wgsmall 87,89 > $D/san_$tool.log 2>&1
    say "compute-sanitizer $tool wgsmall 87,89 rc=$?: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $D/san_$tool.log | head -2 | tr '\n' ' ')"
    grep -qE '(ERROR SUMMARY: [1-9]|RACECHECK SUMMARY: [1-9])' $D/san_$tool.log && VERDICT=FAIL
  done
  pack
fi
if [ -x $BIN ] && [ $(left) -gt 20 ]; then
  WGBENCH_SHAPES=0,9 WGBENCH_ROUNDS=1 timeout 6 $BIN wgbench $D/trace.csv 86,88 > $D/trace.log 2>&1
  say "trace 86 / 88 rc=$?"
  grep -E '^trace8[37]|FAIL|error' $D/trace.log | cut -c1-240 | tee -a $D/summary.txt
  pack
fi
# 4. the second pass, then the other rows
[ $(left) -gt 12 ] && pair 2 $((RANDOM + 2)) "$G1" $(($(left) - 9))
[ $(left) -gt 7 ] && pair 3 $((RANDOM + 3)) "$G2" $(($(left) - 2))
cat $D/ptxas.txt >> $D/summary.txt
say "VERDICT $VERDICT"
pack
