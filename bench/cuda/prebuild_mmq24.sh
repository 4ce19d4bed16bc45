#!/bin/bash
# prebuild_mmq24.sh — bench/cuda/ggml_mmq_bench.cu (the gemm, gemmtl and gemm2 rows of verify_mmq24.sh) compiled with
# nvcc from the sources (no meson build needed), the objects and flags of the retired prebuild_mmq23.sh (ggml_mmq, ggml_mmq_frag,
# elementwise: sm_90; the wgmma ones: sm_90a only, as kernels_cuda/meson.build builds them), at most 4 nvcc at a time (J=),
# slowest first (ggml_mmq_rsi_wg.cu: ~160 s of one core of the 2-core host, ~3x faster on the device host's). Binary
# and logs under /tmp/prebuild/mmq24/ (P= overrides).
set -u
cd "$(dirname "$0")/../.." # the repository root
export PATH=$PATH:/usr/local/cuda/bin
P=${P:-/tmp/prebuild/mmq24}
rm -rf $P && mkdir -p $P
export P
one() { # name: kernels_cuda/name.cu (or the bench) into $P/name.o
  local f=$1 src=kernels_cuda/$1.cu arch=(-gencode=arch=compute_90,code=sm_90)
  [ $f = bench ] && src=bench/cuda/ggml_mmq_bench.cu
  case $f in *_wg) arch=(-gencode=arch=compute_90a,code=sm_90a) ;; esac
  nvcc -std=c++17 -O3 -Iinclude -Iformats -Ibase -Ikernels_cuda -Ibench/cuda "${arch[@]}" -c $src -o $P/$f.o > $P/$f.log 2>&1 ||
    { echo "$f failed" >> $P/failed.txt; return 1; }
}
export -f one
OBJS="ggml_mmq_rsi_wg ggml_mmq_frag ggml_mmq_wg ggml_mmq ggml_mmq_ws_wg ggml_mmq_rs_wg elementwise"
echo $OBJS bench | tr ' ' '\n' | xargs -P ${J:-4} -I{} bash -c 'one {}'
rc=1
[ ! -s $P/failed.txt ] && nvcc $(for f in $OBJS; do echo $P/$f.o; done) $P/bench.o -o $P/ggml_mmq_bench >> $P/bench.log 2>&1 && rc=0
echo "prebuild_mmq24 rc=$rc $(cat $P/failed.txt 2>/dev/null)" | tee -a $P/build.txt
cat $P/*.log | grep -E 'error' | head -5
exit $rc
