#!/bin/sh
# Builds bench/cuda/kernel_check (outside libquanta) into $1 (default build-kcheck/).
# Usage: bench/cuda/build_check.sh [outdir] [gencode...]; run from the repository root.
set -e
out=${1:-build-kcheck}
shift 2>/dev/null || true
arch=${*:-"-gencode=arch=compute_90,code=sm_90"}
NVCC=${NVCC:-nvcc}
command -v "$NVCC" >/dev/null 2>&1 || NVCC=/usr/local/cuda/bin/nvcc
mkdir -p "$out"
inc="-I. -Iinclude -Ibase -Iengine -Iformats -Ikernels_cuda"
objs=""
for f in formats/half.c formats/fp8.c formats/quant.c formats/nf4.c formats/q4.c formats/q8.c formats/api.c \
         base/error.c engine/cuda/cuda_repack.c; do
  o="$out/$(echo "$f" | tr / _).o"
  cc -std=c11 -O2 -D_POSIX_C_SOURCE=200809L $inc -I/usr/local/cuda/include -c "$f" -o "$o" &
  objs="$objs $o"
done
for f in kernels_cuda/matmul_q.cu kernels_cuda/rows.cu kernels_cuda/elementwise.cu bench/cuda/kernel_check.cu; do
  o="$out/$(echo "$f" | tr / _).o"
  $NVCC -std=c++17 -O3 -lineinfo $arch $inc -c "$f" -o "$o" &
  objs="$objs $o"
done
wait
$NVCC $arch -o "$out/kernel_check" $objs -lm
echo "built $out/kernel_check"
