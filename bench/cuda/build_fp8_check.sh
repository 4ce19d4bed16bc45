#!/bin/sh
# Builds bench/cuda/fp8_check (outside libquanta) into $1 (default build-fp8check/): the FP8 x FP8 GEMM of
# kernels_cuda/matmul_fp8_wg.cu against its host reference, and its timing against cuBLASLt / cuBLAS.
# Usage: bench/cuda/build_fp8_check.sh [outdir]; run from the repository root. KOBJ=<dir> links the kernel
# objects built already (bench/e2e/run_h200.sh's /tmp/qbuild/kernels_cuda: matmul_fp8_wg.cu.o, matmul_q.cu.o)
# instead of compiling them. Without KOBJ it also links libqnfp8.so (fp816: matmul_fp8_wg.cu position-independent,
# for bench/cuda/fp8_pair.py's ctypes calls beside torch in one process).
set -e
out=${1:-build-fp8check}
NVCC=${NVCC:-nvcc}
command -v "$NVCC" >/dev/null 2>&1 || NVCC=/usr/local/cuda/bin/nvcc
arch="-gencode=arch=compute_90a,code=sm_90a" # wgmma: sm_90a only (HOPPER.md: the -gencode form)
inc="-Iinclude -Ibase -Iformats -Ikernels_cuda"
mkdir -p "$out"
cc -std=c11 -O2 $inc -c formats/fp8.c -o "$out/fp8.o" &
if [ -n "${KOBJ:-}" ]; then
  obj="$KOBJ/matmul_fp8_wg.cu.o $KOBJ/matmul_q.cu.o"
else
  obj="$out/matmul_fp8_wg.o $out/matmul_q.o"
  $NVCC -std=c++17 -O3 -lineinfo $arch -Xcompiler -fPIC $inc -c kernels_cuda/matmul_fp8_wg.cu -o "$out/matmul_fp8_wg.o" &
  $NVCC -std=c++17 -O3 -lineinfo $arch $inc -c kernels_cuda/matmul_q.cu -o "$out/matmul_q.o" &
fi
$NVCC -std=c++17 -O2 $arch $inc -c bench/cuda/fp8_check.cu -o "$out/fp8_check.o"
wait
$NVCC $arch -o "$out/fp8_check" "$out/fp8_check.o" $obj "$out/fp8.o" -lcublasLt -lcublas -lm
[ -n "${KOBJ:-}" ] || $NVCC $arch -shared -o "$out/libqnfp8.so" "$out/matmul_fp8_wg.o"
echo "built $out/fp8_check"
