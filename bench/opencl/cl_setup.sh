# cl_setup.sh — what every OpenCL device check shares, sourced after bench/common/verifylib.sh:
#   . bench/common/verifylib.sh NAME BUDGET; . bench/opencl/cl_setup.sh
# Sets up NVIDIA's OpenCL (its ICD, or the driver's library through OCL_ICD_VENDORS when the machine has no ICD
# file; the carried headers and loader when the machine has none), then waits, within the caller's budget, for
# bench/opencl/prebuild_cl.sh (run_h200.sh starts every bench/*/prebuild_*.sh at the top of a call; started here
# in the background if nothing started it). It defines
#   Q     the OpenCL-only quanta (/tmp/qbuild-cl)        QC  run_h200.sh's CUDA quanta (/tmp/qbuild)
#   L1    the 1B-shaped LLaMA Q8_0 file                  G   the Gemma-3-270M-shaped Q4_K_M file
#   CL_OK 1 when NVIDIA's OpenCL and $Q are there (else the caller should say so, pack and exit 0)
#   cl_files_wait   waits (within the budget) for the two files
# and the program cache the prebuild filled (QUANTA_CACHE_DIR=/tmp/ocl_gpu/cache: NVIDIA's binary, PTX text, which
# bench/opencl/ptx_summary.py reads).
. bench/opencl/cl_env.sh
mkdir -p $CL_W
CL_OK=0
# waits for FILE (a prebuild marker) while more than MIN s of the caller's budget are left
cl_wait_for() { while [ ! -f $1 ] && [ $(left) -gt ${2:-10} ]; do sleep 1; done; [ -f $1 ]; }
cl_files_wait() { cl_wait_for $CL_PRE/files.rc 10 && say "files: $(cat $CL_PRE/files.rc)"; }
if cl_env; then
  # nothing started the prebuild (a check run alone): start it here
  [ -d $CL_PRE ] || { (bash bench/opencl/prebuild_cl.sh > /tmp/prebuild_cl.log 2>&1 &); sleep 1; }
  if cl_wait_for $CL_PRE/build.rc 15 && grep -q "rc=0" $CL_PRE/build.rc && [ -x $Q ]; then
    CL_OK=1
    export QUANTA_CACHE_DIR=$CL_W/cache # compiled by prebuild_cl.sh (cold: tens of seconds a program)
    export QUANTA_OPENCL_BUILD_LOG=$D/cl_build_log.txt # written only if the program fails to build
    say "NVIDIA OpenCL ready (${OCL_ICD_FILENAMES:-ICD file}); $Q built; program cache: $(tr '\n' ' ' < $CL_PRE/warm.txt 2>/dev/null)"
  else
    say "OpenCL build not ready: $(cat $CL_PRE/build.rc 2>/dev/null || echo none); $(tail -3 $CL_PRE/build.log 2>/dev/null | tr '\n' ' ')"
  fi
else
  say "no NVIDIA OpenCL library, ICD or headers here: nothing to measure"
fi
