#!/bin/bash
# verify_fa12.sh — device checks of the wgmma prefill attention kernel (kernels_cuda/attention_wg.cu, issue 14,
# fa12; QUANTA_CUDA_ATTN_WG, off by default), run after bench/e2e/run_h200.sh has built Quanta (/tmp/qbuild).
# About 90 s. Steps:
#  0. builds bench/cuda/attention_check (nvcc, sm_90a) in the background;
#  1. conformance of attention on cuda with QUANTA_CUDA_ATTN_WG=2 (every call the kernel handles goes to it: the
#     conformance shapes are too small for =1's one-wave rule) while the build runs;
#  2. attention_check wg: the kernel's thirteen tile variants against a float64 reference (NaN-poisoned output,
#     seed printed; rel = RMS error / RMS of the reference, maxabs, NaN count, rows that see nothing) on hd128
#     shapes (causal or not, 1k-16k, rows/keys not multiples of the tiles, GQA, window, masks, kv_lens), and the
#     engine entry under QUANTA_CUDA_ATTN_WG=1; a failing case is rerun with V's descriptor offsets exchanged
#     (diagnosis of the MN-major layout);
#  3. compute-sanitizer racecheck and synccheck on two small cases (if time is left);
#  4. attention_check wgbench: hd128 prefill, causal and not, 1k / 4k / 16k (B * 32 heads * N = 512k rows), f16,
#     GQA 4, 512 causal: the mma.sync kernel (default) and the wgmma variants, TFLOP/s;
#  5. attention_peers.py on those shapes: torch SDPA cudnn and flash in the same run, every variant / cudnn.
set -u
cd "$(dirname "$0")/../.." # the repository root
. bench/common/verifylib.sh fa12 ${LIMIT:-95}
B=${QBUILD:-/tmp/qbuild}
Q=${QUANTA:-$B/tools/quanta}
BIN=$D/attention_check
NVCC=${NVCC:-nvcc}
command -v "$NVCC" >/dev/null 2>&1 || NVCC=/usr/local/cuda/bin/nvcc
say "$(nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader 2>/dev/null)"
# --split-compile 0: the TU's kernels optimized on every core (one TU with all of attention.cu's instances)
timeout 60 $NVCC --split-compile 0 -std=c++17 -O2 -lineinfo -gencode arch=compute_90a,code=sm_90a -Ikernels_cuda \
  -Iinclude -Iformats -Ibase -Iengine/cuda bench/cuda/attention_check.cu -o $BIN > $D/build.log 2>&1 &
BUILD_PID=$!
say "layout model (host): $(timeout 20 python3 bench/cuda/attention_wg_layout.py 2>&1 | tail -1)"
if [ -x $Q ]; then
  CONFORM_S=25 conform wg2 QUANTA_CUDA_ATTN_WG=2 -- --filter attention
else
  say "no $Q: conformance skipped"; VERDICT=incomplete
fi
pack
wait $BUILD_PID
brc=$?
say "attention_check build rc=$brc ($(el) s)"
[ $brc -eq 0 ] && [ -x $BIN ] || { tail -5 $D/build.log | tee -a $D/summary.txt; say "VERDICT incomplete"; pack; exit 1; }
# the producer forms (7-10: mbarriers, named barriers, setmaxnreg) in their own processes: one that hangs or faults costs
# only its own run
T=$(($(left) - 50)); [ $T -gt 25 ] && T=25; [ $T -lt 10 ] && T=10
timeout $T $BIN wg 0,1,2,3,4,5,6 > $D/check.log 2>&1
crc=$?
say "check (wg 0-6) rc=$crc: $(grep -m1 '^seed' $D/check.log); $(tail -n 1 $D/check.log)"
grep -E "^FAIL" $D/check.log | cut -c1-240 | head -10 | tee -a $D/summary.txt
grep -E "^wg variants|diag|device is in an error" $D/check.log | cut -c1-240 | head -6 | tee -a $D/summary.txt
grep -E "^ok .*dispatch" $D/check.log | cut -c1-200 | tee -a $D/summary.txt
[ $crc -eq 0 ] || VERDICT=FAIL
timeout 16 $BIN wg 7,8,9,10 > $D/check_ws.log 2>&1
wrc=$?
say "check (wg 7-10: producer forms) rc=$wrc: $(tail -n 1 $D/check_ws.log)"
grep -E "^FAIL|^wg variants|device is in an error" $D/check_ws.log | cut -c1-240 | head -6 | tee -a $D/summary.txt
# the 128-byte-swizzle forms (11-13, unmeasured before this script's next run)
timeout 14 $BIN wg 11,12,13 > $D/check_sw.log 2>&1
src=$?
say "check (wg 11-13: swizzled forms) rc=$src: $(tail -n 1 $D/check_sw.log)"
grep -E "^FAIL|^wg variants|device is in an error" $D/check_sw.log | cut -c1-240 | head -6 | tee -a $D/summary.txt
pack
timeout 18 $BIN wgbench $D/wg.csv 0,1,2,3,4,5,6 > $D/bench.log 2>&1
say "wgbench (0-6) rc=$?"
timeout 10 $BIN wgbench $D/wg.csv 7,8,9,10 > $D/bench_ws.log 2>&1
say "wgbench (7-10) rc=$?"
timeout 8 $BIN wgbench $D/wg.csv 11,12,13 > $D/bench_sw.log 2>&1
say "wgbench (11-13) rc=$?"
cat $D/bench.log $D/bench_ws.log $D/bench_sw.log | grep -E "^prefill" | cut -c1-150 | tee -a $D/summary.txt
pack
if [ $(left) -gt 10 ]; then
  ATTN_PEERS=flash,cudnn PYTHONUNBUFFERED=1 timeout $(($(left) - 3)) python3 bench/cuda/attention_peers.py $D/wg.csv $D/all.csv \
    > $D/peers.log 2>&1
  say "peers rc=$?"
  sed -n '/^| kind | dtype | B /,$p' $D/peers.log | tee -a $D/summary.txt
else
  say "peers skipped (time)"
fi
pack
for tool in racecheck synccheck; do
  if [ $(left) -gt 12 ] && command -v compute-sanitizer >/dev/null 2>&1; then
    timeout $(($(left) - 5)) compute-sanitizer --tool $tool $BIN wgsmall > $D/$tool.log 2>&1
    say "$tool rc=$?: $(grep -E 'ERROR SUMMARY|hazard' $D/$tool.log | tail -1)"
  else
    say "$tool skipped (time or no compute-sanitizer)"
  fi
done
say "VERDICT $VERDICT"
pack
