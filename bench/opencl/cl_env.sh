# cl_env.sh — the paths and the NVIDIA OpenCL set-up that bench/opencl/cl_setup.sh (the device checks) and
# bench/opencl/prebuild_cl.sh (their build) share; definitions only, nothing runs when sourced.
CL_W=/tmp/ocl_gpu
CL_PRE=/tmp/prebuild/cl
PEER=$(cd "${PEER:-.dev/peer}" 2>/dev/null && pwd || echo /nonexistent)
cl_env() {
  if [ -f /tmp/ocl_vendors/nvidia.icd ]; then
    export OCL_ICD_VENDORS=/tmp/ocl_vendors OCL_ICD_FILENAMES=$(cat /tmp/ocl_vendors/nvidia.icd)
  elif ! ls /etc/OpenCL/vendors/ 2>/dev/null | grep -qi nvidia; then
    # The driver's OpenCL library can be present without its ICD file (seen on the H100 machines, 2026-12-06):
    # the ICD loader then finds it through OCL_ICD_VENDORS, a folder of .icd files naming the library.
    local lib=$(ls /usr/lib/x86_64-linux-gnu/libnvidia-opencl.so.1 /usr/lib/libnvidia-opencl.so.1 \
      /usr/local/nvidia/lib64/libnvidia-opencl.so.1 /usr/local/nvidia/lib64/libnvidia-opencl.so 2>/dev/null | head -1)
    [ -n "$lib" ] || return 1
    mkdir -p /tmp/ocl_vendors && echo "$lib" > /tmp/ocl_vendors/nvidia.icd.part && mv /tmp/ocl_vendors/nvidia.icd.part /tmp/ocl_vendors/nvidia.icd
    export OCL_ICD_VENDORS=/tmp/ocl_vendors OCL_ICD_FILENAMES=$lib
    # the CPU platform beside it would be device 0 (and its LLVM 16 asserted on a kernel there, 2026-12-06)
    [ -w /etc/OpenCL/vendors ] && mkdir -p /tmp/ocl_hidden && mv /etc/OpenCL/vendors/*.icd /tmp/ocl_hidden/ 2>/dev/null
  fi
  if ! pkg-config --exists OpenCL 2>/dev/null; then
    [ -d "$PEER/opencl" ] || return 1
    [ -d /tmp/oclroot ] || { cp -r "$PEER/opencl" /tmp/oclroot.part &&
      sed -i "s|^prefix=.*|prefix=/tmp/oclroot|;s|^libdir=.*|libdir=/tmp/oclroot/lib|" /tmp/oclroot.part/lib/pkgconfig/OpenCL.pc &&
      mv /tmp/oclroot.part /tmp/oclroot; }
    export PKG_CONFIG_PATH=/tmp/oclroot/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
    export LD_LIBRARY_PATH=/tmp/oclroot/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  fi
  return 0
}
Q=${QCL:-/tmp/qbuild-cl/tools/quanta} # QCL: another build (a local trial on PoCL)
QC=${QCUDA:-/tmp/qbuild/tools/quanta}
L1=$CL_W/llama1b-q8_0.gguf
G=$CL_W/gemma.gguf
