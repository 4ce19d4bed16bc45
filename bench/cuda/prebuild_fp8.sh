#!/bin/bash
# prebuild_fp8.sh — the FP8 device checks' binaries (bench/cuda/verify_fp823.sh; before it verify_fp822.sh and older, in git history), built once by
# bench/e2e/run_h200.sh at the top of its build stage (beside Quanta's build): bench/cuda/fp8_check with its own compile
# of kernels_cuda/matmul_fp8_wg.cu (every form: SK groups, shared reduction, stmatrix epilogue, SS, ping-pong, fp820's K-major-only
# weights) and matmul_q.cu (the decode GEMV, tiled and the K-major forms, fp820's and fp821's: fp8_check gemv), and
# libqnfp8.so (the same object, position-independent) for bench/cuda/fp8_pair.py, into /tmp/prebuild/fp8/ (log:
# build.log there).
set -u
cd "$(dirname "$0")/../.." # the repository root
export PATH=$PATH:/usr/local/cuda/bin
P=/tmp/prebuild/fp8
rm -rf $P && mkdir -p $P
sh bench/cuda/build_fp8_check.sh $P > $P/build.log 2>&1
rc=$?
echo "fp8_check build rc=$rc" >> $P/build.log
exit $rc
