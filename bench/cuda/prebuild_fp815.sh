#!/bin/bash
# prebuild_fp815.sh — fp815's device-check binary, built by bench/e2e/run_h200.sh at the top of its build stage
# (beside Quanta's build): bench/cuda/fp8_check with its own compile of kernels_cuda/matmul_fp8_wg.cu (the TMA forms
# with fp815's stream-K, kernels_cuda/tma.cuh) and matmul_q.cu, into /tmp/prebuild/fp815/ (log: build.log there).
# verify_fp815.sh uses /tmp/prebuild/fp815/fp8_check, or builds it from /tmp/qbuild's objects when absent.
set -u
cd "$(dirname "$0")/../.." # the repository root
export PATH=$PATH:/usr/local/cuda/bin
P=/tmp/prebuild/fp815
rm -rf $P && mkdir -p $P
sh bench/cuda/build_fp8_check.sh $P > $P/build.log 2>&1
rc=$?
echo "fp8_check build rc=$rc" >> $P/build.log
exit $rc
