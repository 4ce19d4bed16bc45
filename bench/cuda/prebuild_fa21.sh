#!/bin/bash
# prebuild_fa21.sh — bench/cuda/attention_check (nvcc, sm_90a) for verify_fa21.sh, built beside Quanta's build at the
# top of a device call (bench/e2e/run_h200.sh starts every bench/*/prebuild_*.sh), with only the research forms it
# uses (QN_AWG_FORMS / _HI, a bit a form: 41, 44, 47, 63, 65, 66, 70 and fa21's 74 are always built; FA21_BUILD_FORMS,
# default "76", the research forms: 76 = fa21's epilogue under the next turn, chosen by a vote; "71" adds 70's stamped
# trace, "72 73 75" fa21's other epilogue forms). One object (-fPIC), linked twice: the executable, and
# libawg_fa21.so for bench/cuda/attention_pair.py (ours and cuDNN interleaved in one process). Replaces
# prebuild_fa20.sh: /tmp/prebuild/fa20/{attention_check,libawg_fa20.so} are made links to these, so that the lead's
# verify_harness20.sh / attention_harness.py find the library where they look.
# Writes /tmp/prebuild/fa21/{attention_check,libawg_fa21.so,build.log,build.rc}.
set -u
cd "$(dirname "$0")/../.." || exit 1
P=/tmp/prebuild/fa21
# one run per machine and source state (a machine kept warm from the round before rebuilds when the sources moved)
STAMP=$(cat kernels_cuda/attention*.cu kernels_cuda/attention*.h bench/cuda/attention_check.cu $0 | md5sum | cut -c1-32)
mkdir -p /tmp/prebuild
[ "$(cat $P/stamp 2>/dev/null)" = "$STAMP" ] && [ -x $P/attention_check ] && [ -f $P/libawg_fa21.so ] && exit 0
rm -rf $P
mkdir $P 2>/dev/null || exit 0
echo "$STAMP" > $P/stamp
NVCC=${NVCC:-nvcc}
command -v "$NVCC" >/dev/null 2>&1 || NVCC=/usr/local/cuda/bin/nvcc
M=0
H=0 # forms 64-127
for f in ${FA21_BUILD_FORMS-76}; do
  if [ $f -lt 64 ]; then M=$((M | (1 << f))); else H=$((H | (1 << (f - 64)))); fi
done
printf -v MASK '0x%xull' $M
printf -v MASKHI '0x%xull' $H
# --split-compile 0: the TU's kernels (attention.cu's and attention_wg.cu's instances) optimized on every core;
# -Xptxas -v: registers / spills of each form in build.log
timeout 280 nice $NVCC --split-compile 0 -std=c++17 -O2 -lineinfo -gencode arch=compute_90a,code=sm_90a \
  -Xcompiler -fPIC -DQN_AWG_FORMS=$MASK -DQN_AWG_FORMS_HI=$MASKHI -Xptxas -v -Ikernels_cuda -Iinclude -Iformats -Ibase -Iengine/cuda \
  -c bench/cuda/attention_check.cu -o $P/attention_check.o > $P/build.log 2>&1 &&
  $NVCC -gencode arch=compute_90a,code=sm_90a -o $P/attention_check.part $P/attention_check.o >> $P/build.log 2>&1 &&
  $NVCC -shared -gencode arch=compute_90a,code=sm_90a -o $P/libawg_fa21.so $P/attention_check.o >> $P/build.log 2>&1 &&
  mv $P/attention_check.part $P/attention_check
rc=$?
echo "rc=$rc" > $P/build.rc
# the old path (verify_harness20.sh, attention_harness.py): links, unless a real prebuild_fa20 output is there
if [ $rc = 0 ] && { [ ! -e /tmp/prebuild/fa20 ] || [ -L /tmp/prebuild/fa20/libawg_fa20.so ]; }; then
  mkdir -p /tmp/prebuild/fa20
  ln -sf $P/libawg_fa21.so /tmp/prebuild/fa20/libawg_fa20.so
  ln -sf $P/attention_check /tmp/prebuild/fa20/attention_check
fi
