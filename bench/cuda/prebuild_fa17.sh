#!/bin/bash
# prebuild_fa17.sh — bench/cuda/attention_check (nvcc, sm_90a) for verify_fa17.sh (it replaced prebuild_fa16.sh), built beside
# Quanta's build at the top of a device call (bench/e2e/run_h200.sh starts every bench/*/prebuild_*.sh). Writes
# /tmp/prebuild/fa17/attention_check, build.log and build.rc.
set -u
cd "$(dirname "$0")/../.." || exit 1
P=/tmp/prebuild/fa17
# one run per machine and source state (a machine kept warm from the round before rebuilds when the sources moved)
STAMP=$(cat kernels_cuda/attention*.cu kernels_cuda/attention*.h bench/cuda/attention_check.cu | md5sum | cut -c1-32)
mkdir -p /tmp/prebuild
[ "$(cat $P/stamp 2>/dev/null)" = "$STAMP" ] && [ -x $P/attention_check ] && exit 0
rm -rf $P
mkdir $P 2>/dev/null || exit 0
echo "$STAMP" > $P/stamp
NVCC=${NVCC:-nvcc}
command -v "$NVCC" >/dev/null 2>&1 || NVCC=/usr/local/cuda/bin/nvcc
# --split-compile 0: the TU's kernels (attention.cu's and attention_wg.cu's instances) optimized on every core
timeout 400 nice $NVCC --split-compile 0 -std=c++17 -O2 -lineinfo -gencode arch=compute_90a,code=sm_90a -Ikernels_cuda \
  -Iinclude -Iformats -Ibase -Iengine/cuda bench/cuda/attention_check.cu -o $P/attention_check.part > $P/build.log 2>&1 &&
  mv $P/attention_check.part $P/attention_check
echo "rc=$?" > $P/build.rc
