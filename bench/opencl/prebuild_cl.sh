#!/bin/bash
# prebuild_cl.sh — the OpenCL device checks' build and files, started in the background at the top of a device call
# (bench/e2e/run_h200.sh starts every bench/*/prebuild_*.sh; bench/opencl/cl_setup.sh starts it when nothing did).
# Builds the OpenCL-only quanta in /tmp/qbuild-cl (about a minute) and makes the two files in /tmp/ocl_gpu (our
# own copies: run_h200.sh may be rewriting its own); /tmp/prebuild/cl/{build,files}.rc say when each is done.
set -u
cd "$(dirname "$0")/../.." || exit 1
P=/tmp/prebuild/cl
mkdir /tmp/prebuild 2>/dev/null; mkdir $P 2>/dev/null || exit 0 # one run per machine
. bench/opencl/cl_env.sh
mkdir -p $CL_W
cl_env || { echo "rc=1 (no OpenCL here)" > $P/build.rc; echo "rc=1" > $P/files.rc; exit 0; }
( python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site-cl "$PEER"/gguf-*.whl &&
  export PYTHONPATH=/tmp/site-cl &&
  { [ -f $L1 ] || { timeout 150 python3 "$PEER/make_llama_gguf.py" $L1.part Q8_0 1b && mv $L1.part $L1; }; } &&
  { [ -f $G ] || timeout 100 python3 bench/e2e/gguf_skeleton.py build "$PEER/gemma.skel" $G; }
  echo "rc=$?" > $P/files.rc ) > $P/files.log 2>&1 &
export CPATH=/usr/local/cuda/include${CPATH:+:$CPATH} # the machine's nccl.h includes cuda_runtime.h
B=/tmp/qbuild-cl
{ rm -rf $B && timeout 200 meson setup $B . --buildtype=release -Dwerror=false -Dopencl=enabled -Dclblast=disabled \
    -Dspirv=disabled -Dtests=false -Dcuda=disabled && timeout 300 nice ninja -C $B tools/quanta; } > $P/build.log 2>&1
rc=$?
# NVIDIA's OpenCL compiles the program for tens of seconds on a cold cache: compile it here, once per call and per
# option set (the default builds with inline PTX on NVIDIA's GPUs; QUANTA_OPENCL_GEMM_I8=0, or =portable, without:
# the same option set as every device but NVIDIA's), into the cache every check shares
# (cl_setup.sh points QUANTA_CACHE_DIR there), so that no check's short timeouts cut a compile off
if [ $rc = 0 ]; then
  export QUANTA_CACHE_DIR=$CL_W/cache
  # (and clgemv21's register bound, QUANTA_OPENCL_NV_MAXRREG=128: its own option set, so its own program)
  for opt in "" QUANTA_OPENCL_GEMM_I8=0 QUANTA_OPENCL_NV_MAXRREG=128; do
    ( t0=$(date +%s); env $opt timeout 240 $Q conform --backend opencl --case "matmul:m=1,n=64,k=64,w=q8,x=f32" \
        > $P/warm_${opt:-default}.log 2>&1; echo "warm ${opt:-default} rc=$? $(( $(date +%s) - t0 )) s" >> $P/warm.txt ) &
  done
  wait
fi
echo "rc=$rc" > $P/build.rc
wait
