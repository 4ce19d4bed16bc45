#!/bin/sh
# Fails if any given binary needs libcuda or libcudart at load time (the CUDA runtime must be
# linked statically so that a CUDA-enabled build starts where no NVIDIA driver is installed).
ldd=$1
shift
status=0
for f in "$@"; do
  if "$ldd" "$f" | grep -E 'libcuda\.so|libcudart\.so'; then
    echo "FAIL: $f links the CUDA driver or runtime dynamically"
    status=1
  else
    echo "ok: $f has no dynamic libcuda/libcudart"
  fi
done
exit $status
