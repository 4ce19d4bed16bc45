#!/bin/bash
# verify_fp822.sh — device checks of fp822's split-K groups reduced in a thread-block cluster (kernels_cuda/
# matmul_fp8_wg.cu qn_k_fp8_tma SK 2: each 128x256 tile's sp = 2..4 pieces one cluster, the sums added through
# distributed shared memory instead of 128 KB slots through L2; QUANTA_CUDA_FP8_SKCL=1, off; sk | 2048 per call; =2 also
# the OE route's last partial round of 128x256 tiles as cluster groups under OE's whole rounds: sk | 4096), and
# the peer's kernel on the long rows (ncu: its tile, cluster, pipes), < 55 s given the builds. Replaces verify_fp821.sh
# (its GEMV decision is made: KM is the default since session 21). Flip rule: bench/NOTES.md section 6, fp822.
# Run after bench/e2e/run_h200.sh has built Quanta (/tmp/qbuild) and bench/cuda/prebuild_fp8.sh has built fp8_check and
# libqnfp8.so (/tmp/prebuild/fp8):
#   VERIFY=bench/cuda/verify_fp822.sh bash bench/e2e/run_h200.sh build files verify
# Every step has its own timeout, later steps skipped when late. Deciding steps first:
#   1. fp8_check sanitize (smoke: small cases, every form, the cluster reduction on 12 / 18 / 32 / 48 / 64 / 132 SMs
#      against the float64 reference);
#   2. fp8_pair, 7 rounds, the six rows under 0.9 in session 21's call 3 and their neighbours, interleaved with
#      _scaled_mm: km = the default route (KM on), kmc = it with SKCL=1 (the groups' rows only differ), kmo = SKCL=2
#      (also the OE rows with a partial last round: 4096 x 11008 x 4096, 4096 x 13824 x 5120, and the groups' rows with
#      >= 2 tiles a block under OE), kmb = km again (the noise floor);
#   3. fp8_check check (12 cases; "cases wrong" must be 0);
#   4. conformance of the e4m3 matmuls through the engine with QUANTA_CUDA_FP8_SK=3 + QUANTA_CUDA_FP8_SKCL=2 (the groups
#      on every shape that has a partial round, each reduced in a cluster where the plan fits);
#   5a. ncu of _scaled_mm at 4096 x 11008 x 4096 (the long rows: its kernel's name = tile and cluster, grid, registers,
#      shared memory, pipes, L2) and of ours there;
#   5b. the long rows: SS 128x256 in clusters of 2 along the weights, the token box multicast (kc2), against the tile
#      alone (km256) and the default (km);
#   6. all 30 rows (km, kmc, kmo; 3 rounds), trace3 of the split tile's end (slots vs cluster), then km3 / kmc3 (the
#      groups everywhere, slots / cluster) if time is left;
#   7. ncu of kmc at 512 x 4096 x 11008; compute-sanitizer racecheck / synccheck of the small cases if time is left.
# Everything goes to $OUT/fp822/ (summary.txt: the numbers to decide with).
set -u
cd "$(dirname "$0")/../.." # the repository root
export PATH=$PATH:/usr/local/cuda/bin
. bench/common/verifylib.sh fp822 54
Q=${QUANTA:-/tmp/qbuild/tools/quanta}
say "gpu: $(nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm --format=csv,noheader 2>&1)"
FC=/tmp/prebuild/fp8
cp $FC/build.log $D/prebuild.log 2> /dev/null
[ -x $FC/fp8_check ] || { say "no prebuilt fp8_check: $(tail -2 $FC/build.log 2> /dev/null | tr '\n' ' ')"; VERDICT=FAIL; }
PAIR=0
[ -f $FC/libqnfp8.so ] && python3 -c 'import torch' 2> /dev/null && PAIR=1
SMOKE=1

# 1. small cases first (a wrong reduction or a cluster barrier that hangs shows in seconds)
if [ -x $FC/fp8_check ]; then
  timeout 9 $FC/fp8_check sanitize > $D/fp8_smoke.txt 2>&1
  rc=$?; SMOKE=$rc; say "fp8_check sanitize (smoke: every form; fp822's cluster reduction on 12-132 SMs) rc=$rc"
  [ $rc -eq 0 ] || VERDICT=FAIL
  grep -E 'K-major codes only|fp8_check:|launch' $D/fp8_smoke.txt | tee -a $D/summary.txt
fi

# 2. the rows the switch is for and their neighbours, ours and the peer interleaved (deciding)
if [ $PAIR = 1 ]; then
  F=km,kmc,kmo,kmb; [ $SMOKE -eq 0 ] || F=km,kmb
  R="512,4096,11008;256,5120,5120;2048,5120,5120;2048,11008,4096;4096,11008,4096;4096,13824,5120"
  R="$R;1024,13824,5120;2048,5120,13824;1024,5120,13824;512,4096,4096;256,4096,11008;256,5120,13824;4096,5120,5120"
  FP8_PAIR_REPS=7 timeout 13 python3 bench/cuda/fp8_pair.py $FC/libqnfp8.so "$R" $F > $D/pair_rows.txt 2>&1
  say "fp8_pair six rows + 7 neighbours (km = default, kmc = SKCL=1, kmo = SKCL=2, kmb = km again) rc=$?"; tee -a $D/summary.txt < $D/pair_rows.txt
elif [ -x $FC/fp8_check ]; then
  say "no libqnfp8.so or torch: fp8_pair skipped"
fi

# 3. the check cases
if [ -x $FC/fp8_check ] && [ $SMOKE -eq 0 ] && [ $(left) -gt 6 ]; then
  timeout $(($(left) - 2 < 13 ? $(left) - 2 : 13)) $FC/fp8_check check > $D/fp8_check.txt 2>&1
  rc=$?; say "fp8_check check (12 cases against the float64 reference; fp822's cluster reduction) rc=$rc"
  [ $rc -eq 0 ] || { [ $rc -eq 124 ] && [ $VERDICT = ok ] && VERDICT=incomplete; } || VERDICT=FAIL
  grep -E 'cases wrong|launch|K-major codes only' $D/fp8_check.txt | tee -a $D/summary.txt
fi

# 4. conformance through the engine: the groups on every shape with a partial round, reduced in clusters
if [ -x $Q ] && [ $SMOKE -eq 0 ]; then
  . bench/cuda/fp8_conform_cases.sh
  fp8_cases $Q
  say "conformance cases: $((${#ALL[@]} / 2)) (QUANTA_CUDA_FP8_SK=3 + QUANTA_CUDA_FP8_SKCL=2)"
  CONFORM_S=7 conform skcl QUANTA_CUDA_FP8_SK=3 QUANTA_CUDA_FP8_SKCL=2 -- "${ALL[@]}"
elif [ ! -x $Q ]; then
  say "no $Q: conformance skipped"; [ $VERDICT = ok ] && VERDICT=incomplete
fi

# 5a. the long rows: what cuBLASLt runs at 4096 x 11008 x 4096 (kernel name = tile / cluster; launch, pipes, L2) and ours
# (clocks not locked: each kernel's own SM frequency, as fp816's)
NCU_GREP='\)x\(|Duration|SM Frequency|Compute \(SM\) Throughput|Memory Throughput|DRAM Throughput|L2 Cache Throughput|L2 Hit Rate|Executed Ipc A|Issue Slots Busy|highest-utilized|Registers Per|Grid Size|Block Size|Cluster Size|Dynamic Shared|Waves Per SM'
ncu_one() { # label, seconds, then the command
  local label=$1 s=$2; shift 2
  [ $(left) -gt $((s + 1)) ] || { say "ncu $label skipped (time)"; return; }
  timeout $s ncu --clock-control none --section SpeedOfLight --section MemoryWorkloadAnalysis \
    --section ComputeWorkloadAnalysis --section LaunchStats "$@" > $D/ncu_$label.txt 2>&1
  say "ncu $label rc=$?"
  grep -E "$NCU_GREP" $D/ncu_$label.txt | sed 's/  */ /g' | head -24 | tee -a $D/summary.txt
}
if command -v ncu > /dev/null && [ $PAIR = 1 ]; then
  FP8_PAIR_REPS=1 ncu_one peer_4096x11008x4096 10 -k 'regex:cutlass|gemm|nvjet|xmma|sm90' --launch-skip 3 -c 1 \
    python3 bench/cuda/fp8_pair.py $FC/libqnfp8.so "4096,11008,4096" peer
  FP8_PAIR_REPS=1 ncu_one km_4096x11008x4096 8 -k regex:qn_k_fp8_tma --launch-skip 3 -c 1 \
    python3 bench/cuda/fp8_pair.py $FC/libqnfp8.so "4096,11008,4096" km
fi

# 5b. the long rows: SS 128x256 in clusters of 2 along the weights (the token box multicast: kc2, kc2n without OE) against
# the same tile alone (km256, km256n) and the default (km)
if [ $PAIR = 1 ] && [ $SMOKE -eq 0 ] && [ $(left) -gt 9 ]; then
  FP8_PAIR_REPS=5 timeout 7 python3 bench/cuda/fp8_pair.py $FC/libqnfp8.so \
    "4096,11008,4096;4096,13824,5120;2048,11008,4096;4096,5120,5120;2048,13824,5120" km,km256,kc2,kc2n,km256n > $D/pair_cl2.txt 2>&1
  say "fp8_pair long rows, 128x256 alone / in pairs multicasting the tokens rc=$?"; tee -a $D/summary.txt < $D/pair_cl2.txt
fi

# 6. every row (km, kmc), then the groups everywhere (slots / cluster) for the model's refit
if [ $PAIR = 1 ] && [ $SMOKE -eq 0 ] && [ $(left) -gt 10 ]; then
  FP8_PAIR_REPS=3 timeout 8 python3 bench/cuda/fp8_pair.py $FC/libqnfp8.so all km,kmc,kmo > $D/pair_all.txt 2>&1
  say "fp8_pair all rows rc=$?"; tee -a $D/summary.txt < $D/pair_all.txt
fi
# 6a. trace3 (SS form: the K-major route's kernels): the groups' split tile end with the slots (sk 3: owners) and in
# a cluster (sk 3 | 2048 = 2051: every piece) — the wait the switch is for, per piece
if [ -x $FC/fp8_check ] && [ $SMOKE -eq 0 ]; then
  for m in 3 2051; do
    [ $(left) -gt 8 ] || { say "trace3 sk $m skipped (time)"; continue; }
    FP8_CHECK_SS=1 FP8_CHECK_SK=$m timeout 6 $FC/fp8_check trace3 > $D/trace3_sk$m.txt 2>&1
    say "fp8_check trace3 (SS, sk $m) rc=$?"; grep -E '^trace3|failed' $D/trace3_sk$m.txt | grep -E 'split-K|stream-K|failed|sk' | head -8 | tee -a $D/summary.txt
  done
fi
if [ $PAIR = 1 ] && [ $SMOKE -eq 0 ] && [ $(left) -gt 10 ]; then
  FP8_PAIR_REPS=3 timeout 8 python3 bench/cuda/fp8_pair.py $FC/libqnfp8.so all km3,kmc3 > $D/pair_all3.txt 2>&1
  say "fp8_pair all rows, groups everywhere rc=$?"; tee -a $D/summary.txt < $D/pair_all3.txt
fi

# 7. ncu of the cluster reduction on its row; sanitizers of the small cases
if command -v ncu > /dev/null && [ $PAIR = 1 ] && [ $SMOKE -eq 0 ]; then
  FP8_PAIR_REPS=1 ncu_one kmc_512x4096x11008 7 -k regex:qn_k_fp8_tma --launch-skip 3 -c 1 \
    python3 bench/cuda/fp8_pair.py $FC/libqnfp8.so "512,4096,11008" kmc
fi
if [ -x $FC/fp8_check ] && command -v compute-sanitizer > /dev/null; then
  for tool in synccheck racecheck; do
    [ $(left) -gt 3 ] || { say "compute-sanitizer $tool skipped (time)"; continue; }
    timeout $(($(left) - 1 < 8 ? $(left) - 1 : 8)) compute-sanitizer --tool $tool $FC/fp8_check sanitize > $D/sanitize_$tool.txt 2>&1
    rc=$?; say "compute-sanitizer $tool rc=$rc: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $D/sanitize_$tool.txt | head -1)"
    [ $rc -eq 0 ] || [ $rc -eq 124 ] || VERDICT=FAIL # 124: cut by the time left, not a finding
  done
fi

{
  echo "== fp822 summary ($VERDICT): smoke, fp8_pair (six rows + neighbours; all rows; interleaved with _scaled_mm), ncu of the peer and ours, check, conformance SK=3 + SKCL=2, trace3, sanitizers"
  grep -E 'cases wrong' $D/fp8_check.txt 2> /dev/null
  grep -hE '   pair$' $D/pair_rows.txt 2> /dev/null
} | tee -a $D/summary.txt
pack
say "done"
