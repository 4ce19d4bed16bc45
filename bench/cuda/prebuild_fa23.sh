#!/bin/bash
# prebuild_fa23.sh — bench/cuda/attention_check (nvcc, sm_90a) for verify_fa23.sh, built beside Quanta's build at the
# top of a device call (bench/e2e/run_h200.sh starts every bench/*/prebuild_*.sh), with only the research forms it
# uses (QN_AWG_FORMS / _HI, a bit a form: the default build's forms 41, 44, 47, 63, 65, 66, 70, 78, 83 and fa23's 90
# are always built; FA23_BUILD_FORMS, default none: round 2 times only default-built forms; "86 88" adds round 1's
# stamped 83 / 87 (the item boundary's traces), "87 89" the early-Q forms). One object (-fPIC), linked
# twice: the executable, and libawg_fa23.so for bench/cuda/attention_pair.py (ours and cuDNN interleaved in one
# process). Replaces prebuild_fa22.sh: the older
# prebuild paths (/tmp/prebuild/fa20, fa21, fa22) are made links to these, so that the lead's verify_harness20.sh /
# attention_harness.py find the library where they look.
# Writes /tmp/prebuild/fa23/{attention_check,libawg_fa23.so,build.log,build.rc}.
set -u
cd "$(dirname "$0")/../.." || exit 1
P=/tmp/prebuild/fa23
# one run per machine and source state (a machine kept warm from the round before rebuilds when the sources moved)
STAMP=$(cat kernels_cuda/attention*.cu kernels_cuda/attention*.h bench/cuda/attention_check.cu $0 | md5sum | cut -c1-32)
mkdir -p /tmp/prebuild
[ "$(cat $P/stamp 2>/dev/null)" = "$STAMP" ] && [ -x $P/attention_check ] && [ -f $P/libawg_fa23.so ] && exit 0
rm -rf $P
mkdir $P 2>/dev/null || exit 0
echo "$STAMP" > $P/stamp
NVCC=${NVCC:-nvcc}
command -v "$NVCC" >/dev/null 2>&1 || NVCC=/usr/local/cuda/bin/nvcc
M=0
H=0 # forms 64-127
for f in ${FA23_BUILD_FORMS-}; do
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
  $NVCC -shared -gencode arch=compute_90a,code=sm_90a -o $P/libawg_fa23.so $P/attention_check.o >> $P/build.log 2>&1 &&
  mv $P/attention_check.part $P/attention_check
rc=$?
echo "rc=$rc" > $P/build.rc
# the old paths (verify_harness20.sh, attention_harness.py: /tmp/prebuild/fa20; anything still reading fa21's / fa22's):
# links, unless a real prebuild output of that name is there
if [ $rc = 0 ]; then
  for o in fa20 fa21 fa22; do
    if [ ! -e /tmp/prebuild/$o ] || [ -L /tmp/prebuild/$o/attention_check ]; then
      mkdir -p /tmp/prebuild/$o
      ln -sf $P/libawg_fa23.so /tmp/prebuild/$o/libawg_$o.so
      ln -sf $P/attention_check /tmp/prebuild/$o/attention_check
    fi
  done
fi
