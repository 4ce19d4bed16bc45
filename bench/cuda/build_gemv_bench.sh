#!/bin/sh
# Builds bench/cuda/ggml_gemv_bench (outside libquanta: kernels_cuda/ggml.cu and the driver) into $1
# (default build-gemv/) as the library builds kernels_cuda/ggml.cu, and ggml_gemv_bench_u1 with one chunk
# per lane and round (QN_GEMV_U=1, the kernel before 2026-12-05) for the side-by-side row. Usage: bench/cuda/build_gemv_bench.sh [outdir]
# [gencode...]; from the repository root.
# GGML_O=path/to/ggml.cu.o links the driver against an object already built (the library's, e.g.
# /tmp/qbuild/kernels_cuda/ggml.cu.o: one nvcc run of the small driver instead of two of ggml.cu, for a device
# check with little time) and builds no _u1 pair.
set -e
out=${1:-build-gemv}
shift 2>/dev/null || true
arch=${*:-"-gencode=arch=compute_90,code=sm_90"}
NVCC=${NVCC:-nvcc}
command -v "$NVCC" >/dev/null 2>&1 || NVCC=/usr/local/cuda/bin/nvcc
mkdir -p "$out"
inc="-Iinclude -Ibase -Iformats -Ikernels_cuda -Ibench/cuda"
if [ -n "${GGML_O:-}" ]; then
  $NVCC -std=c++17 -O3 -lineinfo $arch $inc -c bench/cuda/ggml_gemv_bench.cu -o "$out/ggml_gemv_bench.o"
  $NVCC $arch -o "$out/ggml_gemv_bench" "$GGML_O" "$out/ggml_gemv_bench.o"
  echo "built $out/ggml_gemv_bench (with $GGML_O)"
  exit 0
fi
$NVCC -std=c++17 -O3 -lineinfo $arch $inc -c kernels_cuda/ggml.cu -o "$out/ggml.o" &
$NVCC -std=c++17 -O3 -lineinfo $arch $inc -c bench/cuda/ggml_gemv_bench.cu -o "$out/ggml_gemv_bench.o" &
$NVCC -std=c++17 -O3 -lineinfo -DQN_GEMV_U=1 $arch $inc -c kernels_cuda/ggml.cu -o "$out/ggml_u1.o" &
$NVCC -std=c++17 -O3 -lineinfo -DQN_GEMV_U=1 $arch $inc -c bench/cuda/ggml_gemv_bench.cu -o "$out/ggml_gemv_bench_u1.o" &
wait
$NVCC $arch -o "$out/ggml_gemv_bench" "$out/ggml.o" "$out/ggml_gemv_bench.o"
$NVCC $arch -o "$out/ggml_gemv_bench_u1" "$out/ggml_u1.o" "$out/ggml_gemv_bench_u1.o"
echo "built $out/ggml_gemv_bench $out/ggml_gemv_bench_u1"
