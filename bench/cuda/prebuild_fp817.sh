#!/bin/bash
# prebuild_fp817.sh — fp817's device-check binaries, built by bench/e2e/run_h200.sh at the top of its build stage
# (beside Quanta's build): bench/cuda/fp8_check with its own compile of kernels_cuda/matmul_fp8_wg.cu (fp817's shared
# split-K reduction, QUANTA_CUDA_FP8_SK=5 / 6, beside fp816's groups) and matmul_q.cu, and libqnfp8.so (the same
# object, position-independent) for bench/cuda/fp8_pair.py, into /tmp/prebuild/fp817/ (log: build.log there).
# verify_fp817.sh uses them.
set -u
cd "$(dirname "$0")/../.." # the repository root
export PATH=$PATH:/usr/local/cuda/bin
P=/tmp/prebuild/fp817
rm -rf $P && mkdir -p $P
sh bench/cuda/build_fp8_check.sh $P > $P/build.log 2>&1
rc=$?
echo "fp8_check build rc=$rc" >> $P/build.log
exit $rc
