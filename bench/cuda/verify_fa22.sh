#!/bin/bash
# verify_fa22.sh — device checks of fa22 (issue 14 item 3, kernels_cuda/attention_wg.cu): FlashAttention-4's conditional
# rescaling in the auto pick's three forms (77 / 78 / 79 = 70 / 63 / 65 + F_CRS: O rescaled only when a row max of the
# warp grew by more than 2^8; QUANTA_CUDA_ATTN_WG_CRS=1, off; not bit-identical), and the same with a quarter of the ex2
# by an FMA-pipe polynomial (81 / 82 = 78 / 79 + F_PEX, research, built by prebuild_fa22.sh; 80, 77's, not built:
# ptxas serialized its wgmma for registers), and 77 / 78 / 79 with base-plus-offset wgmma descriptors (83 / 84 / 85,
# research, bit-identical: F_DESC). Replaces verify_fa21.sh /
# prebuild_fa21.sh (prebuild_fa22.sh links /tmp/prebuild/fa20/libawg_fa20.so to its library for the lead's
# verify_harness20.sh). Run after bench/e2e/run_h200.sh built Quanta (/tmp/qbuild) and bench/cuda/prebuild_fa22.sh
# attention_check and libawg_fa22.so. < 55 s (LIMIT).
# Steps, deciding ones first:
#  1. correctness, nothing timed (in parallel): `quanta conform --backend cuda --filter attention` with TILE=77, 78, 79
#     and the CRS=1 auto route; attention_check wg 77,78,79 and wg 81-85 (float64 reference, NaN-poisoned output;
#     the persistent ones also on 3 blocks); wgsame 77,83 / 78,84 / 79,85 (83-85: bit-identical to 77-79);
#  2. attention_pair.py pass 1 (each row with the form the auto pick runs there and its candidates, cuDNN interleaved,
#     21 rounds): 1k / 2k non-causal (70, 77, 83), 4k causal (63, 78, 81, 84), 16k causal (65, 79, 82, 85); the candidate
#     over its base per round (median [quartiles, extremes]; > 1: the candidate faster);
#  3. racecheck / synccheck of 77 and 78 (small cases);
#  4. pass 2 (another seed) of the same; then the other rows of the auto pick (512 / 1k / 2k / 8k causal, 4k / 8k /
#     16k non-causal, f16 and GQA 4k causal) with base / CRS / CRS + PEX / CRS + DESC.
set -u
cd "$(dirname "$0")/../.." # the repository root
. bench/common/verifylib.sh fa22 ${LIMIT:-55}
B=${QBUILD:-/tmp/qbuild}
Q=${QUANTA:-$B/tools/quanta}
P=/tmp/prebuild/fa22
BIN=$P/attention_check
LIB=$P/libawg_fa22.so
# the deciding rows: 1k / 2k non-causal (70's), 4k causal (63's), 16k causal (65's)
G1=${FA22_GROUPS:-"0,9:70,77,83;4:63,78,81,84;5:65,79,82,85"}
# the rest of the auto pick's rows: 512 / 1k / 2k causal (70), 4k non-causal, 8k causal, f16 / GQA 4k causal (63),
# 8k / 16k non-causal (65)
G2=${FA22_GROUPS2:-"8,3,11:70,77,83;1,12,6,7:63,78,81,84;10,2:65,79,82,85"}
VS=77:70,83:77,83:70,78:63,81:78,84:78,84:63,79:65,82:79,85:79,85:65
say "$(nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv,noheader 2>/dev/null)"
if [ ! -x $BIN ] || [ ! -f $LIB ]; then # no prebuild ran (or it failed): build here (cuts into the budget)
  bash bench/cuda/prebuild_fa22.sh
  say "attention_check built here: $(cat $P/build.rc 2>/dev/null) ($(el) s)"
fi
[ -x $BIN ] || { tail -5 $P/build.log 2>/dev/null | tee -a $D/summary.txt; say "no attention_check: VERDICT incomplete"; VERDICT=incomplete; }
grep -E "C75[0-9][0-9]" $P/build.log 2>/dev/null | grep -v C7519 | head -3 | cut -c1-200 | tee -a $D/summary.txt
# ptxas: the new forms' spills (65 itself spills 120 bytes; 79 is 65 + CRS)
grep -E "Compiling entry|spill stores" $P/build.log 2>/dev/null | paste - - | grep -E "Li(556276868|539495428|539499524|1630018692|1613237252|1613241348|19405956|2624516|2628612)E" |
  sed -E "s/.*attn_wg_kernelI//; s/EEEvNS_6Params[^ ]*//" | cut -c1-150 | head -18 > $D/ptxas.txt
# 1. correctness
T=14
PIDS=""
if [ -x $Q ]; then
  for t in 77 78 79 auto; do
    ( if [ $t = auto ]; then env -u QUANTA_CUDA_ATTN_WG_TILE QUANTA_CUDA_ATTN_WG=2 QUANTA_CUDA_ATTN_WG_CRS=1 timeout $T $Q conform --backend cuda --filter attention
      else QUANTA_CUDA_ATTN_WG_TILE=$t QUANTA_CUDA_ATTN_WG=2 timeout $T $Q conform --backend cuda --filter attention; fi \
        > $D/conform_$t.log 2>&1; echo $? > $D/conform_$t.rc ) &
    PIDS="$PIDS $!"
  done
else
  say "no $Q: conformance skipped"; VERDICT=incomplete
fi
if [ -x $BIN ]; then
  # (three forms a process, ~2-3x fa21's one-form run of ~4 s: 20 s each)
  ( QUANTA_TEST_SEED=2240 timeout 20 $BIN wg 77,78,79 > $D/check_wg.log 2>&1; echo $? > $D/check_wg.rc ) & PIDS="$PIDS $!"
  ( QUANTA_TEST_SEED=2241 timeout 20 $BIN wg 81,82 > $D/check_pex.log 2>&1; echo $? > $D/check_pex.rc ) & PIDS="$PIDS $!"
  ( QUANTA_TEST_SEED=2243 timeout 20 $BIN wg 83,84,85 > $D/check_desc.log 2>&1; echo $? > $D/check_desc.rc ) & PIDS="$PIDS $!"
  # (83-85 claim to be bit-identical to 77-79: byte for byte on every wg case, default grid and 3 blocks)
  ( for pr in 77,83 78,84 79,85; do QUANTA_TEST_SEED=2242 timeout 6 $BIN wgsame $pr; echo "rc=$?"; done > $D/check_same.log 2>&1 ) & PIDS="$PIDS $!"
fi
wait $PIDS
for t in 77 78 79 auto; do
  [ -f $D/conform_$t.rc ] || continue
  rc=$(cat $D/conform_$t.rc)
  say "conform WG=2 $([ $t = auto ] && echo 'auto, CRS=1' || echo "TILE=$t") rc=$rc: $(grep -E '^total' $D/conform_$t.log)"
  grep -E '^FAIL' $D/conform_$t.log | head -3 | cut -c1-200 | tee -a $D/summary.txt
  [ "$rc" = 0 ] || VERDICT=FAIL
done
for w in wg pex desc; do
  [ -f $D/check_$w.rc ] || continue
  rc=$(cat $D/check_$w.rc)
  say "check $(case $w in pex) echo 'wg 81,82 (research)' ;; desc) echo 'wg 83,84,85 (research)' ;; *) echo 'wg 77,78,79' ;; esac) rc=$rc: $(grep -m1 '^seed' $D/check_$w.log); $(tail -n 1 $D/check_$w.log | cut -c1-200)"
  grep -E "^FAIL|^NOTE|^wg variants|device is in an error" $D/check_$w.log | cut -c1-240 | head -8 | tee -a $D/summary.txt
  # the largest errors of the candidates (the bound: rel 1e-2 bf16, 2e-3 f16)
  grep -E '^(ok|FAIL)' $D/check_$w.log | sed -E 's/.*rel=([0-9.e+-]+).*/\1 &/' | sort -g | tail -2 | cut -c1-200 | tee -a $D/summary.txt
  # (81-85 are research: their result is recorded, and decides only their own rule)
  [ "$rc" = 0 ] || [ $w != wg ] || VERDICT=FAIL
done
grep -E '^wgsame:.*(identical|differ)|^rc=' $D/check_same.log 2>/dev/null | head -6 | tee -a $D/summary.txt
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
pair 1 2240 "$G1" $(($(left) - 22))
# 3. sanitizers (the flip rule needs them)
if [ -x $BIN ] && command -v compute-sanitizer >/dev/null 2>&1 && [ $(left) -gt 10 ]; then
  for tool in racecheck synccheck; do
    timeout $(( $(left) > 26 ? 8 : 4 )) compute-sanitizer --tool $tool $BIN wgsmall 77,78 > $D/san_$tool.log 2>&1
    say "compute-sanitizer $tool wgsmall 77,78 rc=$?: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $D/san_$tool.log | head -2 | tr '\n' ' ')"
    grep -qE '(ERROR SUMMARY: [1-9]|RACECHECK SUMMARY: [1-9])' $D/san_$tool.log && VERDICT=FAIL
  done
  pack
fi
# 4. the second pass, then the other rows
[ $(left) -gt 10 ] && pair 2 $((RANDOM + 2)) "$G1" $(($(left) - 10))
[ $(left) -gt 8 ] && pair 3 $((RANDOM + 3)) "$G2" $(($(left) - 2))
cat $D/ptxas.txt >> $D/summary.txt
say "VERDICT $VERDICT"
pack
