#!/bin/bash
# prebuild_clgemv24.sh — verify_clgemv24.sh's one extra build: tests/opencl/test_opencl_xq_norm (the XQ_NORM path
# bit-equal to the default, its kernels listed) for NVIDIA's OpenCL, in /tmp/qbuild-cl24 (OpenCL only, tests on,
# Check from the machine or the carried static copy as bench/e2e/run_h200.sh finds it), at most -j4.
# /tmp/prebuild/clgemv24/build.rc says when it is done.
set -u
cd "$(dirname "$0")/../.." || exit 1
P=/tmp/prebuild/clgemv24
mkdir -p /tmp/prebuild; mkdir $P 2>/dev/null || exit 0 # one run per machine
. bench/opencl/cl_env.sh
cl_env || { echo "rc=1 (no OpenCL here)" > $P/build.rc; exit 0; }
if ! pkg-config --exists check 2>/dev/null && [ -d "$PEER/check" ]; then
  rm -rf /tmp/checkroot24 && cp -r "$PEER/check" /tmp/checkroot24 &&
    sed -i "s|^prefix=.*|prefix=/tmp/checkroot24|" /tmp/checkroot24/lib/pkgconfig/check.pc &&
    export PKG_CONFIG_PATH=/tmp/checkroot24/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
fi
export CPATH=/usr/local/cuda/include${CPATH:+:$CPATH}
B=/tmp/qbuild-cl24
{ rm -rf $B && timeout 100 meson setup $B . --buildtype=release -Dwerror=false -Dopencl=enabled -Dclblast=disabled \
    -Dspirv=disabled -Dtests=true -Dcuda=disabled && timeout 180 nice ninja -C $B -j4 tests/opencl/test_opencl_xq_norm; } \
  > $P/build.log 2>&1
echo "rc=$?" > $P/build.rc
